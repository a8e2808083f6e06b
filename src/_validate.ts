// Validation of options, driven by tables: each field has a rule (what it
// must be, and how it resolves), a default, and whether `null` also means
// the default. Every problem is a TypeError whose message names the field
// path (`options.breaker.cooldown`, `healthCheck.interval`), says what was
// expected and what was given; anything that may be a URL's user info or
// query is never echoed.

/** Largest delay a JavaScript timer accepts. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Checks one value and returns what it resolves to. `field` is its path
 * (`.breaker.cooldown`); `out` holds the fields of the same object resolved
 * before it.
 */
export type Rule<T> = (
  value: unknown,
  field: string,
  out: Record<string, unknown>,
) => T;

/** A field: its rule, its default, and `true` when `null` also means the default. */
export type Field<T> = [
  rule: Rule<T>,
  fallback?: unknown,
  nullIsDefault?: true,
];

/** The fields of an object, in the order they are checked and resolved. */
export type Spec<T> = { [K in keyof T]-?: Field<T[K]> };

export function fail(field: string, problem: string): never {
  throw new TypeError(`ky-failover: ${field} ${problem}`);
}

/** Fails with "`field` must be `expected`, got `value`". */
export function expected(field: string, what: string, value: unknown): never {
  return fail(field, `must be ${what}, got ${show(value)}`);
}

export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(hideUrlSecrets(value));
  if (typeof value === "function") return "a function";
  if (value && typeof value === "object") {
    return Array.isArray(value) ? "an array" : "an object";
  }
  return String(value); // numbers, booleans, null, undefined, symbols
}

/**
 * Masks what may be a URL's user info or query in any shown string. A
 * password may hold "/", "?", "#" or "@" (`https://u:SE/CRET@host` does not
 * even parse), so everything after the scheme up to the *last* "@" goes,
 * and everything from the first "?". When a "?" comes before that "@", the
 * text after the "@" may be query too: only the scheme stays.
 */
export function hideUrlSecrets(text: string): string {
  const at = text.lastIndexOf("@");
  let head = "";
  let rest = text;
  if (at >= 0) {
    head = (/^[a-z][a-z0-9+.-]*:?\/\//i.exec(text)?.[0] ?? "") + "…";
    if (text.slice(0, at).includes("?")) return head;
    rest = text.slice(at);
  }
  return head + rest.replace(/\?.*/s, "?…");
}

export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A rule that keeps values passing `test` and rejects the rest as not `what`. */
export function rule<T>(
  test: (value: unknown) => boolean,
  what: string,
): Rule<T> {
  return (value, field) =>
    test(value) ? value as T : expected(field, what, value);
}

/** Lets `undefined` through `inner`. */
export function optional<T>(inner: Rule<T>): Rule<T | undefined> {
  return (value, field, out) =>
    value === undefined ? undefined : inner(value, field, out);
}

export const isNumber = (value: unknown): value is number =>
  typeof value === "number";

/** A number from `min` to `max`, an integer when `what` says so. */
export function range(
  min: number,
  max: number,
  what: "an integer" | "a finite number" | "a number of milliseconds",
): Rule<number> {
  return rule(
    (v) =>
      isNumber(v) && v >= min && v <= max &&
      (what !== "an integer" || Number.isInteger(v)),
    `${what} from ${min} to ${max}`,
  );
}

/** Lets `false` (off) through `inner`. */
export function orFalse<T>(inner: Rule<T>): Rule<T | false> {
  return (value, field, out) =>
    value === false ? false : inner(value, field, out);
}

/**
 * Milliseconds for a timer: at least 1 (a shorter timer fires after 1 ms
 * anyway, so a smaller value is a unit mistake, e.g. seconds × 0.001) and
 * at most what a timer accepts.
 */
export const ms = range(1, MAX_TIMER_MS, "a number of milliseconds");
export const msOrFalse = orFalse(ms);
/** `ms`, or 0 for "no wait". */
export const msOrZero = rule<number>(
  (v) => v === 0 || (isNumber(v) && v >= 1 && v <= MAX_TIMER_MS),
  `0 or a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
);
export const isFunction = (value: unknown) => typeof value === "function";
export const aFunction = rule<() => void>(isFunction, "a function");

/** A path under the endpoint's url (not an absolute URL); leading "/" dropped. */
export function relativePath(v: unknown, field: string): string {
  return typeof v === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(v)
    ? v.replace(/^\/+/, "")
    : expected(field, "a path relative to the endpoint's url", v);
}

/**
 * Checks that `raw` is an object of `spec`'s fields only (`or false` in the
 * message with `orFalse`) and resolves each field in order.
 */
export function check<T>(
  raw: unknown,
  spec: Spec<T>,
  path: string,
  orFalse?: boolean,
): T {
  if (!isPlainObject(raw)) {
    expected(path, `an object${orFalse ? " or false" : ""}`, raw);
  }
  const known = Object.keys(spec);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      fail(
        `${path}.${key}`,
        `is not a known option (known: ${known.join(", ")})`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const [resolve, fallback, nullIsDefault] = spec[key as keyof T];
    let value = raw[key];
    if (value === undefined || (nullIsDefault && value === null)) {
      value = fallback;
    }
    out[key] = resolve(value, `${path}.${key}`, out);
  }
  return out as T;
}

/** A nested options object, or `false` (when `orFalse`) to turn it off. */
export function section<T>(spec: Spec<T>, orFalse?: boolean): Rule<T | false> {
  return (value, field) =>
    orFalse && value === false ? false : check(value, spec, field, orFalse);
}
