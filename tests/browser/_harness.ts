// The browser's stand-in for tests/_harness.ts: the same `test` and `assert`
// API (the subset of node:assert/strict the suite uses), with tests kept in
// a list and run one after another by `run()`.

import { bounded } from "../_bounded.ts";
export { bounded } from "../_bounded.ts";

/** How long one test may run before it fails as hung (as in ../_harness.ts). */
export const TEST_TIMEOUT_MS = 30_000;
type TestFn = () => void | Promise<void>;

interface Entry {
  file: string;
  name: string;
  fn: TestFn;
}

/** What `run()` reports for one test. */
export interface Result {
  file: string;
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

const entries: Entry[] = [];
let currentFile = "?";

/** Names the file whose tests register next. */
export function setFile(file: string): void {
  currentFile = file;
}

/** Registers a test. */
export function test(name: string, fn: TestFn): void {
  entries.push({ file: currentFile, name, fn });
}

/** Fails a test, like node:assert's AssertionError. */
class AssertionError extends Error {
  override name = "AssertionError";
  constructor(options: { message?: string }) {
    super(options.message ?? "assertion failed");
  }
}

function show(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(
      JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v) ??
        value,
    );
  } catch {
    return String(value);
  }
}

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message: message ?? fallback });
}

/** Deep strict equality, as node:assert/strict's deepEqual sees it. */
function deepEqual(
  a: unknown,
  b: unknown,
  seen = new Map<object, object>(),
): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) {
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (
    a instanceof Error &&
    (a.message !== (b as Error).message || a.name !== (b as Error).name)
  ) {
    return false;
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) {
      if (!m.has(k) || !deepEqual(v, m.get(k), seen)) return false;
    }
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const bv = b as ArrayBufferView;
    const y = new Uint8Array(bv.buffer, bv.byteOffset, bv.byteLength);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const key of ka) {
    if (!Object.hasOwn(b, key)) return false;
    if (
      !deepEqual(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        seen,
      )
    ) {
      return false;
    }
  }
  return true;
}

function matches(
  error: unknown,
  expected:
    | RegExp
    | ((e: unknown) => boolean)
    | (new (...args: never[]) => unknown)
    | object
    | undefined,
): boolean {
  if (expected === undefined) return true;
  if (expected instanceof RegExp) return expected.test(String(error));
  if (typeof expected === "function") {
    if (
      expected.prototype !== undefined &&
      error instanceof (expected as new () => unknown)
    ) return true;
    if (
      expected === Error || Object.prototype.isPrototypeOf.call(Error, expected)
    ) return false;
    return (expected as (e: unknown) => boolean)(error) === true;
  }
  return Object.entries(expected).every(([k, v]) => {
    const actual = (error as Record<string, unknown>)[k];
    return v instanceof RegExp && typeof actual === "string"
      ? v.test(actual)
      : deepEqual(actual, v);
  });
}

type Message = string | Error;

/** The subset of node:assert/strict the suite uses. */
export const assert = Object.assign(
  (value: unknown, message?: Message) => assert.ok(value, message),
  {
    AssertionError,
    ok(value: unknown, message?: Message): asserts value {
      if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
    },
    equal(actual: unknown, expected: unknown, message?: Message): void {
      if (!Object.is(actual, expected)) {
        fail(message, `expected ${show(expected)}, got ${show(actual)}`);
      }
    },
    notEqual(actual: unknown, expected: unknown, message?: Message): void {
      if (Object.is(actual, expected)) {
        fail(message, `expected anything but ${show(expected)}`);
      }
    },
    deepEqual(actual: unknown, expected: unknown, message?: Message): void {
      if (!deepEqual(actual, expected)) {
        fail(message, `expected ${show(expected)}, got ${show(actual)}`);
      }
    },
    match(text: string, pattern: RegExp, message?: Message): void {
      if (typeof text !== "string" || !pattern.test(text)) {
        fail(message, `expected ${show(text)} to match ${pattern}`);
      }
    },
    doesNotMatch(text: string, pattern: RegExp, message?: Message): void {
      if (typeof text !== "string" || pattern.test(text)) {
        fail(message, `expected ${show(text)} not to match ${pattern}`);
      }
    },
    throws(
      fn: () => unknown,
      expected?: Parameters<typeof matches>[1],
      message?: Message,
    ): void {
      try {
        fn();
      } catch (error) {
        if (!matches(error, expected)) {
          fail(
            message,
            `the error ${show(String(error))} does not match ${
              String(expected)
            }`,
          );
        }
        return;
      }
      fail(message, "expected the function to throw");
    },
    async rejects(
      promise: Promise<unknown> | (() => Promise<unknown>),
      expected?: Parameters<typeof matches>[1],
      message?: Message,
    ): Promise<void> {
      try {
        await (typeof promise === "function" ? promise() : promise);
      } catch (error) {
        if (!matches(error, expected)) {
          fail(
            message,
            `the rejection ${show(String(error))} does not match ${
              String(expected)
            }`,
          );
        }
        return;
      }
      fail(message, "expected a rejection");
    },
    fail(message?: Message): never {
      fail(message, "failed");
    },
  },
);

/**
 * Runs every registered test in order; a test that neither resolves nor
 * rejects within `timeoutMs` counts as failed and the run goes on.
 */
export async function run(
  report: (result: Result) => void,
  afterEach: () => Promise<void> = () => Promise.resolve(),
  timeoutMs = TEST_TIMEOUT_MS,
): Promise<Result[]> {
  const results: Result[] = [];
  for (const { file, name, fn } of entries) {
    const started = performance.now();
    let result: Result;
    try {
      await bounded(`test "${name}"`, timeoutMs, fn);
      result = { file, name, ok: true, ms: performance.now() - started };
    } catch (error) {
      const text = error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
      result = {
        file,
        name,
        ok: false,
        ms: performance.now() - started,
        error: text,
      };
    }
    await afterEach();
    results.push(result);
    report(result);
  }
  return results;
}
