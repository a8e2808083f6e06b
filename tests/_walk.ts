// A generic object walker for the secrets tests: from a root value it
// visits everything a caller could reach by reading properties — own
// string and symbol properties (enumerable or not, getters included),
// getters on the prototype chain called with the object as receiver, array
// items, Map and Set entries, Headers entries, an error's message, stack,
// cause and errors — and collects every string it sees, plus
// `JSON.stringify` and `String()` of every object. Functions are never
// called, except zero-argument methods the test allows by name (`call`).
// Cycle-safe (each object once) and bounded in the number of objects.

/** Any function (a method found while walking). */
export type AnyFunction = (...args: never[]) => unknown;

/** A string found, and the property path that led to it. */
export interface Found {
  path: string;
  text: string;
}

/** What a walk saw. */
export interface Walked {
  texts: Found[];
  /** The object limit was reached: some of the graph was not visited. */
  truncated: boolean;
  /** Objects visited. */
  objects: number;
}

/** Options of {@linkcode walk}. */
export interface WalkOptions {
  /**
   * Whether to call the zero-argument method `fn`, found at `owner[key]`
   * (own or inherited) where `path` leads to `owner`, with `owner` as
   * `this`, and walk what it returns (a returned promise is not awaited;
   * its rejection is ignored). Default: call nothing.
   */
  call?: (
    owner: object,
    key: PropertyKey,
    fn: AnyFunction,
    path: string,
  ) => boolean;
  /** Most objects visited. Default 50,000. */
  limit?: number;
}

/** The built-in prototypes whose members are not walked. */
const BUILT_IN_PROTOTYPES = new Set<unknown>([
  Object.prototype,
  Function.prototype,
]);

/** Error properties read even when inherited or missing from own keys. */
const ERROR_KEYS = ["message", "stack", "cause", "errors", "name"];

function keyName(key: PropertyKey): string {
  return typeof key === "symbol" ? `[${String(key)}]` : String(key);
}

function isErrorLike(value: object): boolean {
  return value instanceof Error ||
    (typeof (value as { stack?: unknown }).stack === "string" &&
      typeof (value as { message?: unknown }).message === "string");
}

/** Runs `fn`, `undefined` if it throws. */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** Walks everything reachable from `root`; see the module comment. */
export function walk(root: unknown, options: WalkOptions = {}): Walked {
  const limit = options.limit ?? 50_000;
  const seen = new Set<unknown>();
  const texts: Found[] = [];
  let truncated = false;
  const queue: [unknown, string][] = [[root, "root"]];

  const text = (path: string, value: unknown) => {
    if (typeof value === "string") texts.push({ path, text: value });
  };

  const visitObject = (value: object, path: string) => {
    if (value === globalThis) return;
    if (typeof value !== "function") {
      text(`${path}<JSON>`, attempt(() => JSON.stringify(value)));
      text(`${path}<String>`, attempt(() => String(value)));
    }
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      text(`${path}<bytes>`, new TextDecoder().decode(bytes));
      return;
    }
    if (value instanceof Promise || value instanceof WeakMap) return;
    if (value instanceof Headers) {
      value.forEach((v, k) => {
        text(`${path}<header ${k}>`, k);
        text(`${path}<header ${k}>`, v);
      });
    }
    if (value instanceof Map) {
      let i = 0;
      for (const [k, v] of Map.prototype.entries.call(value)) {
        queue.push([k, `${path}<key ${i}>`], [v, `${path}<value ${i}>`]);
        i++;
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const v of Set.prototype.values.call(value)) {
        queue.push([v, `${path}<item ${i++}>`]);
      }
    }
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined) continue;
      const at = `${path}.${keyName(key)}`;
      text(`${at}<key>`, typeof key === "string" ? key : key.description);
      if ("value" in descriptor) {
        queue.push([descriptor.value, at]);
        maybeCall(value, key, descriptor.value, path, at);
      } else if (descriptor.get) {
        queue.push([attempt(() => descriptor.get!.call(value)), at]);
      }
    }
    if (isErrorLike(value)) {
      for (const key of ERROR_KEYS) {
        queue.push([
          attempt(() => (value as Record<string, unknown>)[key]),
          `${path}.${key}`,
        ]);
      }
    }
    for (
      let proto = Object.getPrototypeOf(value);
      proto !== null && !BUILT_IN_PROTOTYPES.has(proto);
      proto = Object.getPrototypeOf(proto)
    ) {
      for (const key of Reflect.ownKeys(proto)) {
        if (key === "constructor") continue;
        const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
        const at = `${path}.${keyName(key)}`;
        if (descriptor.get) {
          queue.push([attempt(() => descriptor.get!.call(value)), at]);
        } else if ("value" in descriptor) {
          maybeCall(value, key, descriptor.value, path, at);
        }
      }
    }
  };

  const maybeCall = (
    owner: object,
    key: PropertyKey,
    fn: unknown,
    path: string,
    at: string,
  ) => {
    if (typeof fn !== "function" || fn.length !== 0) return;
    if (!options.call?.(owner, key, fn as AnyFunction, path)) return;
    const result = attempt(() => (fn as () => unknown).call(owner));
    if (result instanceof Promise) result.catch(() => {});
    queue.push([result, `${at}()`]);
  };

  for (let next = 0; next < queue.length; next++) {
    const [value, path] = queue[next];
    if (typeof value === "string") {
      text(path, value);
      continue;
    }
    if (
      (typeof value !== "object" && typeof value !== "function") ||
      value === null || seen.has(value)
    ) continue;
    if (seen.size >= limit) {
      truncated = true;
      break;
    }
    seen.add(value);
    visitObject(value, path);
  }
  return { texts, truncated, objects: seen.size };
}

/** Every function a platform class defines (methods, getters, setters). */
let platformFunctions: Set<unknown> | undefined;

/**
 * Whether `fn` belongs to the platform rather than the library: a method
 * or accessor of a global class's prototype (`Response#json`,
 * `AbortSignal#throwIfAborted`), or a native function. The secrets tests
 * call only the library's own zero-argument methods: the platform's read
 * bodies, start I/O, or (Deno's internals, under symbol keys) break the
 * objects they belong to.
 */
export function isPlatform(fn: AnyFunction): boolean {
  if (platformFunctions === undefined) {
    platformFunctions = new Set();
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      const value = attempt(() =>
        (globalThis as Record<string, unknown>)[name]
      );
      const proto = typeof value === "function"
        ? (value as { prototype?: unknown }).prototype
        : undefined;
      if (typeof proto !== "object" || proto === null) continue;
      for (const key of Reflect.ownKeys(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, key);
        for (const f of [d?.value, d?.get, d?.set]) {
          if (typeof f === "function") platformFunctions.add(f);
        }
      }
    }
  }
  return platformFunctions.has(fn) ||
    /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
}
