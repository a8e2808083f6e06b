// Keeps an endpoint's query secrets (an Azure-style `?api-key=…` in its
// configured URL) out of everything the library hands out. The query is
// sent with every request, so the runtime's own fetch errors can name it:
// Deno puts the whole URL in the `cause`'s message and stack, Bun in the
// error's enumerable `path` (and so in `JSON.stringify`). And the Response
// fetch returns carries it in `url`, which ky copies into HTTPError
// messages. No credential headers here: runtimes do not print those.

import { defineHidden, rebuilt } from "./_response.ts";

/** What a secret is replaced with when it is not a whole query. */
const REDACTED = "[redacted]";

/** A query parameter value shorter than this is not a secret (`v=1`). */
const MIN_SECRET_LENGTH = 6;

/** How deep scrubError follows `cause` / `errors` chains. */
const MAX_DEPTH = 8;
/** How many objects scrubError visits at most for one error. */
const MAX_OBJECTS = 64;

/** Properties an error may inherit as accessors rather than own. */
const INHERITED_TEXT = ["message", "stack"] as const;

/** A query as `new URL(...)` normalises it (the runtime prints that form). */
function hrefQuery(query: string): string {
  try {
    return new URL(`http://h/?${query}`).search.slice(1);
  } catch {
    return query;
  }
}

/** The value of one raw `key=value` piece of a query, decoded. */
function decodedValue(rawValue: string): string {
  return new URLSearchParams(`v=${rawValue}`).get("v") ?? "";
}

/**
 * Every form in which an endpoint's `query` (without `?`) may appear in
 * a URL a runtime printed: as configured, re-encoded by `URLSearchParams`
 * (what `targetUrl` sends when the caller adds a query), normalised by
 * `new URL(...).href`; and each parameter value (or bare `?token`) of 6
 * characters or more, raw and percent-encoded, for when the query appears
 * mixed with the caller's parameters. Shorter values (`api-version=1`) are not secrets and
 * must not be scrubbed out of unrelated text. Longest first, so that a whole
 * query is replaced before the values inside it. Compute once per endpoint.
 */
export function endpointSecrets(query: string): string[] {
  if (query === "") return [];
  const forms = new Set<string>();
  const reencoded = new URLSearchParams(query).toString();
  for (
    const form of [query, reencoded, hrefQuery(query), hrefQuery(reencoded)]
  ) {
    if (form !== "") forms.add(form);
  }
  for (const piece of query.split("&")) {
    // A piece without `=` (`?sv2Token`) is a bare token: secret as a value.
    const raw = piece.slice(piece.indexOf("=") + 1);
    const value = decodedValue(raw);
    if (value.length < MIN_SECRET_LENGTH) continue;
    for (
      const form of [
        raw,
        value,
        encodeURIComponent(value),
        new URLSearchParams({ v: value }).toString().slice(2),
        hrefQuery(raw),
      ]
    ) {
      if (form.length >= MIN_SECRET_LENGTH) forms.add(form);
    }
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every occurrence of every secret removed. A secret right
 * after a `?` is a whole query (`…/models?api-key=…`): it goes with its
 * `?` (or leaves the `?` when the caller's parameters follow after `&`), so
 * a printed URL reads as `redactUrl` gives it. Anywhere else it becomes
 * `[redacted]`. `secrets` as `endpointSecrets` orders them.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  for (const secret of secrets) {
    if (!text.includes(secret)) continue;
    let out = "";
    let from = 0;
    for (
      let at = text.indexOf(secret);
      at !== -1;
      at = text.indexOf(secret, from)
    ) {
      const end = at + secret.length;
      if (at > 0 && text[at - 1] === "?") {
        out += text.slice(from, text[end] === "&" ? at : at - 1);
        from = text[end] === "&" ? end + 1 : end;
      } else {
        out += text.slice(from, at) + REDACTED;
        from = end;
      }
    }
    text = out + text.slice(from);
  }
  return text;
}

/** Whether any secret occurs in `text`. */
function holdsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => text.includes(secret));
}

/**
 * `url` without the endpoint's own query parameters (those of
 * `endpointQuery`, matched by decoded name and value), keeping the caller's
 * own parameters as they were written and any fragment. A parameter the
 * caller set to another value is the caller's and stays.
 */
export function redactUrl(url: string, endpointQuery: string): string {
  if (endpointQuery === "") return url;
  const q = url.indexOf("?");
  if (q === -1) return url;
  const hash = url.indexOf("#", q);
  const query = hash === -1 ? url.slice(q + 1) : url.slice(q + 1, hash);
  const fragment = hash === -1 ? "" : url.slice(hash);
  // The endpoint's pairs as a multiset: a pair repeated in the
  // configuration is removed as many times as it was configured.
  const own = new Map<string, number>();
  for (const [key, value] of new URLSearchParams(endpointQuery)) {
    const pair = JSON.stringify([key, value]);
    own.set(pair, (own.get(pair) ?? 0) + 1);
  }
  const kept: string[] = [];
  for (const piece of query.split("&")) {
    if (piece === "") continue;
    const pair = JSON.stringify([...new URLSearchParams(piece)][0]);
    const left = own.get(pair) ?? 0;
    if (left > 0) own.set(pair, left - 1);
    else kept.push(piece);
  }
  const rest = kept.join("&");
  return url.slice(0, q) + (rest === "" ? "" : `?${rest}`) + fragment;
}

/**
 * A Response for the caller whose `url` is `redactedUrl`: a new Response
 * over the same body stream, status and headers, with an own,
 * non-enumerable `url` property. A new object rather than an own property
 * on fetch's: the native `url` getter of a constructed Response returns "",
 * and its `clone()` has no URL either, so the key is not reachable from it
 * at all. Call it only for endpoints with a query. A status a constructed
 * Response cannot have (0: a browser's opaque redirect) keeps fetch's own
 * object, with the own `url` shadowing the getter — the best possible there.
 * `redirected` and `type` are kept as own properties when they differ from
 * a constructed Response's (`false`, `"default"`).
 */
export function redactResponse(
  response: Response,
  redactedUrl: string,
): Response {
  if (response.status >= 200 && response.status <= 599) {
    return rebuilt(response, response.body, redactedUrl);
  }
  defineHidden(response, "url", redactedUrl);
  return response;
}

interface ScrubState {
  readonly secrets: readonly string[];
  /** Objects visited, mapped to what replaces them (themselves if scrubbed). */
  readonly done: Map<object, object>;
}

function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) ||
    typeof value === "function";
}

/** Writes `value` to an own data property, if it can be written. */
function rewrite(
  target: object,
  key: PropertyKey,
  descriptor: PropertyDescriptor,
  value: unknown,
): boolean {
  if (!descriptor.writable && !descriptor.configurable) return false;
  try {
    Object.defineProperty(target, key, { ...descriptor, value });
  } catch {
    return false;
  }
  return Object.getOwnPropertyDescriptor(target, key)?.value === value;
}

/**
 * Replaces an own accessor's text (V8's `stack` is an own accessor with a
 * setter): through the setter first, then as a data property.
 */
function rewriteAccessor(
  target: object,
  key: PropertyKey,
  descriptor: PropertyDescriptor,
  value: string,
): boolean {
  try {
    if (descriptor.set) {
      Reflect.set(target, key, value);
      if (Reflect.get(target, key) === value) return true;
    }
    if (!descriptor.configurable) return false;
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: descriptor.enumerable,
      configurable: true,
    });
    return true;
  } catch {
    return false;
  }
}

/** Reads a property, `undefined` if its getter throws. */
function read(target: object, key: PropertyKey): unknown {
  try {
    return Reflect.get(target, key);
  } catch {
    return undefined;
  }
}

/**
 * Scrubs a nested value (a `cause`, an item of `errors`): the value to
 * put back in its place. Beyond the depth or object limit, an object is
 * replaced by a placeholder rather than kept unchecked.
 */
function scrubValue(value: unknown, state: ScrubState, depth: number): unknown {
  if (typeof value === "string") return scrubText(value, state.secrets);
  if (!isObject(value)) return value;
  const known = state.done.get(value);
  if (known !== undefined) return known;
  if (depth > MAX_DEPTH || state.done.size >= MAX_OBJECTS) {
    return new Error("[error omitted: nested too deep to check for secrets]");
  }
  return scrubObject(value, state, depth);
}

/** Whether a nested value should be scrubbed: errors and their lists. */
function isNested(key: PropertyKey, value: unknown): boolean {
  return key === "cause" || key === "errors" || value instanceof Error ||
    (Array.isArray(value) && value.some((item) => item instanceof Error));
}

function scrubArray(
  list: unknown[],
  state: ScrubState,
  depth: number,
): unknown[] {
  state.done.set(list, list);
  const scrubbed = list.map((item) => scrubValue(item, state, depth + 1));
  if (scrubbed.every((item, i) => item === list[i])) return list;
  if (!Object.isFrozen(list)) {
    try {
      scrubbed.forEach((item, i) => (list[i] = item));
      if (scrubbed.every((item, i) => item === list[i])) return list;
    } catch { /* a sealed or proxied list: replaced below */ }
  }
  state.done.set(list, scrubbed);
  return scrubbed;
}

/**
 * Scrubs `target` in place and returns it, or returns a scrubbed copy when
 * some text could not be rewritten in place (a frozen error, a read-only
 * property, a native getter such as DOMException's `message` that would
 * still return the secret however the object is shadowed).
 */
function scrubObject(target: object, state: ScrubState, depth: number): object {
  if (Array.isArray(target)) return scrubArray(target, state, depth);
  state.done.set(target, target);
  let inPlace = true;
  for (const key of Reflect.ownKeys(target)) {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    if (descriptor === undefined) continue;
    if (!("value" in descriptor)) {
      const value = read(target, key);
      if (typeof value === "string" && holdsSecret(value, state.secrets)) {
        inPlace = rewriteAccessor(
          target,
          key,
          descriptor,
          scrubText(value, state.secrets),
        ) && inPlace;
      } else if (isObject(value) && isNested(key, value)) {
        const scrubbed = scrubValue(value, state, depth + 1);
        if (scrubbed !== value) inPlace = false;
      }
      continue;
    }
    const value = descriptor.value;
    let scrubbed = value;
    if (typeof value === "string") {
      if (holdsSecret(value, state.secrets)) {
        scrubbed = scrubText(value, state.secrets);
      }
    } else if (isObject(value) && isNested(key, value)) {
      scrubbed = scrubValue(value, state, depth + 1);
    }
    if (scrubbed !== value) {
      inPlace = rewrite(target, key, descriptor, scrubbed) && inPlace;
    }
  }
  // Text an error inherits through a getter (DOMException's `message`,
  // Bun's prototype `stack`): shadowing it would leave the native getter
  // returning the secret to anyone who calls it, so such an error is copied.
  for (const key of INHERITED_TEXT) {
    if (Object.hasOwn(target, key)) continue;
    const value = read(target, key);
    if (typeof value === "string" && holdsSecret(value, state.secrets)) {
      inPlace = false;
    }
  }
  // An inherited cause: a secret in it, text or object, cannot be scrubbed
  // in place without shadowing the getter that still returns it.
  const cause = Object.hasOwn(target, "cause")
    ? undefined
    : read(target, "cause");
  if (
    typeof cause === "string"
      ? holdsSecret(cause, state.secrets)
      : isObject(cause) && scrubValue(cause, state, depth + 1) !== cause
  ) {
    inPlace = false;
  }
  if (inPlace) return target;
  const copy = scrubbedCopy(target, state, depth);
  state.done.set(target, copy);
  return copy;
}

/**
 * A copy of `target` with the same prototype (so `instanceof` and `name`
 * still answer as before) whose own properties are the scrubbed values,
 * with `name`, `message`, `stack` and `cause` as own data properties.
 * It holds no reference to `target`.
 */
function scrubbedCopy(
  target: object,
  state: ScrubState,
  depth: number,
): object {
  const copy = Object.create(Object.getPrototypeOf(target)) as object;
  const keys = new Set<PropertyKey>(Reflect.ownKeys(target));
  for (const key of ["name", ...INHERITED_TEXT, "cause"]) keys.add(key);
  for (const key of keys) {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    const value = read(target, key);
    if (value === undefined && descriptor === undefined) continue;
    const scrubbed = typeof value === "string"
      ? scrubText(value, state.secrets)
      : isObject(value) && isNested(key, value)
      ? scrubValue(value, state, depth + 1)
      : value;
    Object.defineProperty(copy, key, {
      value: scrubbed,
      writable: true,
      enumerable: descriptor?.enumerable ?? false,
      configurable: true,
    });
  }
  return copy;
}

/**
 * Removes every secret from a runtime error, in place where it can: its
 * `message` and `stack`, every own string property (Bun's `path`, keyed by
 * string or symbol — Deno's DOMException keeps its message under a symbol),
 * recursively through `cause` and an AggregateError's `errors`; cycle-safe
 * and bounded (a chain nested deeper than 8 errors, or over 64 objects,
 * has its remainder replaced by a placeholder error).
 *
 * Returns the value to use from now on: the same error when it could be
 * scrubbed in place — so identity and `instanceof` hold for the caller's
 * own error types — or, when some text could not be rewritten (a frozen
 * error, a read-only property, a secret returned by a native getter), a
 * copy with the same prototype holding only scrubbed values and no
 * reference to the original. A thrown string comes back scrubbed.
 */
export function scrubError(
  error: unknown,
  secrets: readonly string[],
): unknown {
  if (secrets.length === 0) return error;
  if (typeof error === "string") return scrubText(error, secrets);
  if (!isObject(error)) return error;
  return scrubObject(error, { secrets, done: new Map() }, 0);
}

/**
 * The secrets of several endpoints as one list, without repeats and
 * longest first (as `scrubText` wants them).
 */
export function mergeSecrets(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())].sort((a, b) => b.length - a.length);
}
