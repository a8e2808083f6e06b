// Validation and defaults for createFailover's options, driven by tables:
// each field has a rule (what it must be, and how it resolves), a default,
// and whether `null` also means the default. Every problem is a TypeError
// whose message names the field path, says what was expected and what was
// given; secrets (apiKey, header values) and anything that may be a URL's
// user info or query are never echoed.

import { systemClock } from "./clock.ts";
import type { HealthCheckSettings } from "./health_check.ts";
import type {
  Clock,
  FailoverEvent,
  FailoverOptions,
  Middleware,
  Strategy,
} from "./types.ts";
import type { Options as KyOptions } from "ky";

/** Largest delay a JavaScript timer accepts. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  endpoints: ResolvedEndpoint[];
  strategy: Strategy;
  timeout: number | false;
  totalTimeout: number | false;
  streamIdleTimeout: number | false;
  /** Bytes of a non-streamed answer read whole inside the attempt, or `false`. */
  bufferLimit: number | false;
  authFailure: { bench: number } | false;
  maxAttempts: number;
  breaker:
    | { failureThreshold: number; cooldown: number; maxCooldown: number }
    | false;
  rateLimit: { fallbackDelay: number; maxDelay: number };
  healthCheck: HealthCheckSettings | false;
  retryBudget: { ratio: number; maxTokens: number } | false;
  hedge: { delay: number; methods: string[] } | false;
  onEvent: ((event: FailoverEvent) => void) | undefined;
  middleware: readonly Middleware[];
  clock: Clock;
  random: () => number;
  fetch: typeof fetch | undefined;
  kyOptions: KyOptions | undefined;
}

/** An endpoint after validation. */
export interface ResolvedEndpoint {
  name: string;
  /** Normalised base URL without trailing slash or query. */
  base: string;
  /** Query of the configured URL, without `?`, or "". */
  query: string;
  origin: string;
  /** Path of the base URL without trailing slash ("" for the root). */
  path: string;
  priority: number;
  weight: number;
  /** Headers this endpoint adds (credentials included). Secret. */
  headers: [string, string][];
  /**
   * This endpoint's own probe: `{ path }` (its path, or the pool's
   * `healthCheck.path` when it gave none), `false` to never probe it, or
   * `undefined` when it gave no `healthCheck` (the pool's settings apply).
   */
  healthCheck: { path: string } | false | undefined;
}

/**
 * Checks one value and returns what it resolves to. `field` is its path
 * (`.breaker.cooldown`); `out` holds the fields of the same object resolved
 * before it.
 */
type Rule<T> = (
  value: unknown,
  field: string,
  out: Record<string, unknown>,
) => T;

/** A field: its rule, its default, and `1` when `null` also means the default. */
type Field<T> = [rule: Rule<T>, fallback?: unknown, nullIsDefault?: 1];

/** The fields of an object, in the order they are checked and resolved. */
type Spec<T> = { [K in keyof T]-?: Field<T[K]> };

/** An endpoint after its fields are checked, before it is resolved. */
interface CheckedEndpoint {
  name: string;
  url: URL;
  apiKey: string | undefined;
  headers: [string, string][];
  priority: number;
  weight: number;
  /** `path` is undefined until the pool's `healthCheck` resolves. */
  healthCheck: { path: string | undefined } | false | undefined;
}

function fail(field: string, problem: string): never {
  throw new TypeError(`ky-failover: options${field} ${problem}`);
}

/** Fails with "`field` must be `expected`, got `value`". */
function expected(field: string, what: string, value: unknown): never {
  return fail(field, `must be ${what}, got ${show(value)}`);
}

function show(value: unknown): string {
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
function hideUrlSecrets(text: string): string {
  const at = text.lastIndexOf("@");
  const query = text.indexOf("?");
  let head = "";
  let rest = text;
  if (at >= 0) {
    head = (/^[a-z][a-z0-9+.-]*:?\/\//i.exec(text)?.[0] ?? "") + "…";
    if (query >= 0 && query < at) return head;
    rest = text.slice(at);
  }
  return head + rest.replace(/\?.*/s, "?…");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A rule that keeps values passing `test` and rejects the rest as not `what`. */
function rule<T>(test: (value: unknown) => boolean, what: string): Rule<T> {
  return (value, field) =>
    test(value) ? value as T : expected(field, what, value);
}

/** Lets `undefined` through `inner`. */
function optional<T>(inner: Rule<T>): Rule<T | undefined> {
  return (value, field, out) =>
    value === undefined ? undefined : inner(value, field, out);
}

const isNumber = (value: unknown): value is number => typeof value === "number";

/** A number from `min` to `max`, an integer when `what` says so. */
function range(
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
function orFalse<T>(inner: Rule<T>): Rule<T | false> {
  return (value, field, out) =>
    value === false ? false : inner(value, field, out);
}

/**
 * Milliseconds for a timer: at least 1 (a shorter timer fires after 1 ms
 * anyway, so a smaller value is a unit mistake, e.g. seconds × 0.001) and
 * at most what a timer accepts.
 */
const ms = range(1, MAX_TIMER_MS, "a number of milliseconds");
const msOrFalse = orFalse(ms);
/** `ms`, or 0 for "no wait". */
const msOrZero = rule<number>(
  (v) => v === 0 || (isNumber(v) && v >= 1 && v <= MAX_TIMER_MS),
  `0 or a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
);
const isFunction = (value: unknown) => typeof value === "function";
const aFunction = rule<() => void>(isFunction, "a function");

/** An HTTP token (RFC 9110 §5.6.2), what a header name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A header value (RFC 9110 §5.5): field-vchars (visible ASCII and
 * 0x80–0xFF) with SP / HTAB only between them. Checked here because
 * runtimes differ: some `Headers` accept CR, LF, NUL or non-Latin-1 text.
 */
const HEADER_VALUE =
  /^(?:[\x21-\x7E\x80-\xFF](?:[\t\x20-\x7E\x80-\xFF]*[\x21-\x7E\x80-\xFF])?)?$/;

const HEADER_TEXT =
  "Latin-1 text without control characters or surrounding whitespace";

const HEADERS_INIT =
  "must be valid HeadersInit (a record, an array of [name, value] pairs or Headers)";

/** The key: a non-empty header value. Never echoed. */
function apiKey(v: unknown, field: string): string {
  return typeof v === "string" && v && HEADER_VALUE.test(v)
    ? v
    : fail(field, `must be a non-empty string of ${HEADER_TEXT}`);
}

/**
 * Reads any HeadersInit as WebIDL does (an iterable is a sequence of pairs,
 * another object a record), checks every name and value, then lets
 * `Headers` lower-case names and join repeated ones. Values are never
 * echoed; names are, once they are known to be tokens.
 */
function headers(v: unknown, field: string): [string, string][] {
  if (v === undefined) return [];
  if (typeof v !== "object" || v === null) fail(field, HEADERS_INIT);
  const iterable = typeof (v as Iterable<unknown>)[Symbol.iterator] ===
    "function";
  const pairs = iterable
    ? Array.from(v as Iterable<unknown>, (pair) => headerPair(pair, field))
    : Object.entries(v);
  for (const [name, value] of pairs) {
    if (typeof name !== "string" || !TOKEN.test(name)) {
      fail(field, "must have names that are HTTP tokens; one is not");
    }
    if (typeof value !== "string" || !HEADER_VALUE.test(value)) {
      fail(
        `${field}[${JSON.stringify(name)}]`,
        `must be a header value: ${HEADER_TEXT}`,
      );
    }
  }
  return [...new Headers(pairs as [string, string][])];
}

/** One item of a sequence HeadersInit: an iterable of exactly two items. */
function headerPair(pair: unknown, field: string): unknown[] {
  const items = typeof pair === "object" && pair !== null &&
      typeof (pair as Iterable<unknown>)[Symbol.iterator] === "function"
    ? [...pair as Iterable<unknown>]
    : [];
  return items.length === 2 ? items : fail(field, HEADERS_INIT);
}

/** A path under the endpoint's url (not an absolute URL); leading "/" dropped. */
function relativePath(v: unknown, field: string): string {
  return typeof v === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(v)
    ? v.replace(/^\/+/, "")
    : expected(field, "a path relative to the endpoint's url", v);
}

/** The pool's health-check path when it sets none. */
const HEALTH_CHECK_PATH = "models";

/**
 * Checks that `raw` is an object of `spec`'s fields only (`or false` in the
 * message with `orFalse`) and resolves each field in order.
 */
function check<T>(
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
function section<T>(spec: Spec<T>, orFalse?: boolean): Rule<T | false> {
  return (value, field) =>
    orFalse && value === false ? false : check(value, spec, field, orFalse);
}

/** Most attempts a call may make (and the default's cap for big pools). */
const MAX_ATTEMPTS = 100;

const HEALTH_CHECK = section<HealthCheckSettings>({
  path: [relativePath, HEALTH_CHECK_PATH, 1],
  interval: [ms, 30_000],
  timeout: [ms, 5_000],
  jitter: [
    rule<number>((v) => isNumber(v) && v >= 0 && v < 1, "a number in [0, 1)"),
    0.1,
    1,
  ],
}, true);

/**
 * Gives each endpoint `healthCheck` object without a `path` the pool's
 * path (`checkHealth()` probes that one even with periodic checks off).
 */
function defaultEndpointPaths(
  endpoints: ResolvedEndpoint[],
  path: string,
): void {
  for (const endpoint of endpoints) {
    if (endpoint.healthCheck && endpoint.healthCheck.path === undefined) {
      endpoint.healthCheck = { path };
    }
  }
}

const STRATEGIES = ["round-robin", "weighted", "priority", "least-latency"];

function endpointSpec(names: Set<unknown>): Spec<CheckedEndpoint> {
  return {
    name: [(v, field) => {
      if (typeof v !== "string" || !v.trim()) {
        expected(field, "a non-empty string", v);
      }
      if (names.has(v)) {
        fail(field, `must be unique, but ${show(v)} is used twice`);
      }
      names.add(v);
      return v;
    }],
    url: [(v, field) => {
      let url: URL | undefined;
      try {
        if (typeof v === "string" || v instanceof URL) url = new URL(v);
      } catch {
        // Not a URL: rejected below.
      }
      if (!url) expected(field, "an absolute http(s) URL", v);
      if (!/^https?:$/.test(url.protocol)) {
        // In `user:key@host` the "scheme" is the user name: not shown.
        fail(
          field,
          String(v).includes("@")
            ? "must use http: or https:"
            : `must use http: or https:, got ${show(url.protocol)}`,
        );
      }
      if (url.username || url.password) {
        fail(field, "must not embed credentials; use apiKey or headers");
      }
      if (url.hash) fail(field, "must not have a #fragment");
      // `https://user:12345/x@host` parses as host "user", port 12345 and
      // path "/x@host": the password would show in status().
      if (url.pathname.includes("@")) {
        fail(
          field,
          'must not have "@" in its path (it looks like credentials; use apiKey or headers, or write %40)',
        );
      }
      return url;
    }],
    // The key and the header values are secrets: never echoed.
    apiKey: [optional(apiKey)],
    headers: [headers],
    priority: [range(0, 1_000, "an integer"), 1],
    weight: [range(0, 1_000_000, "a finite number"), 1],
    // The path defaults to the pool's once `healthCheck` resolves.
    healthCheck: [
      optional(section({ path: [optional(relativePath), undefined, 1] }, true)),
    ],
  };
}

const OPTIONS: Spec<ResolvedOptions> = {
  endpoints: [(v, field) => {
    if (!Array.isArray(v) || !v.length) {
      fail(field, "must be a non-empty array of endpoints");
    }
    const spec = endpointSpec(new Set());
    return v.map((raw, i) => {
      const { name, url, apiKey, headers, priority, weight, healthCheck } =
        check(raw, spec, `${field}[${i}]`);
      const path = url.pathname.replace(/\/+$/, "");
      return {
        name,
        base: url.origin + path,
        query: url.search.slice(1),
        origin: url.origin,
        path,
        priority,
        weight,
        headers: apiKey
          ? [
            ...headers.filter(([key]) => key !== "authorization"),
            ["authorization", `Bearer ${apiKey}`],
          ]
          : headers,
        healthCheck: healthCheck as ResolvedEndpoint["healthCheck"],
      };
    });
  }],
  strategy: [
    (v, field, out) => {
      if (!isFunction(v) && !STRATEGIES.includes(v as string)) {
        expected(field, `${STRATEGIES.map(show).join(", ")} or a function`, v);
      }
      if (
        v === "weighted" &&
        (out.endpoints as ResolvedEndpoint[]).every((e) => e.weight === 0)
      ) {
        fail(
          ".endpoints",
          "need at least one weight > 0 for the weighted strategy",
        );
      }
      return v as Strategy;
    },
    "round-robin",
    1,
  ],
  timeout: [msOrFalse, 30_000],
  totalTimeout: [msOrFalse, false],
  streamIdleTimeout: [msOrFalse, 60_000],
  bufferLimit: [
    orFalse(range(1, 1_073_741_824, "an integer")),
    8_388_608,
  ],
  authFailure: [section({ bench: [ms, 300_000] }, true), {}, 1],
  maxAttempts: [(v, field, out) =>
    range(1, MAX_ATTEMPTS, "an integer")(
      v ?? Math.min(
        MAX_ATTEMPTS,
        Math.max(2, (out.endpoints as ResolvedEndpoint[]).length),
      ),
      field,
      out,
    )],
  breaker: [
    section({
      failureThreshold: [range(1, 1_000, "an integer"), 3, 1],
      cooldown: [ms, 60_000],
      maxCooldown: [(v, field, out) => {
        const cooldown = out.cooldown as number;
        if (v === undefined) return Math.max(300_000, cooldown);
        ms(v, field, out);
        return (v as number) < cooldown
          ? expected(field, `≥ breaker.cooldown (${cooldown})`, v)
          : v as number;
      }],
    }, true),
    {},
    1,
  ],
  rateLimit: [
    section({
      fallbackDelay: [msOrZero, 1_000],
      maxDelay: [ms, 60_000],
    }) as Rule<ResolvedOptions["rateLimit"]>,
    {},
    1,
  ],
  healthCheck: [
    (v, field, out) => {
      const settings = HEALTH_CHECK(v, field, out);
      defaultEndpointPaths(
        out.endpoints as ResolvedEndpoint[],
        settings ? settings.path : HEALTH_CHECK_PATH,
      );
      return settings;
    },
    false,
  ],
  retryBudget: [
    section({
      ratio: [range(0, 100, "a finite number"), 0.5, 1],
      maxTokens: [range(1, 10_000, "an integer"), 10, 1],
    }, true),
    {},
    1,
  ],
  hedge: [
    section({
      delay: [ms],
      methods: [
        (v, field) =>
          Array.isArray(v) && v.every((m) => typeof m === "string")
            ? v.map((m: string) => m.toUpperCase())
            : expected(field, "an array of method names", v),
        ["GET", "HEAD", "OPTIONS"],
        1,
      ],
    }, true),
    false,
  ],
  onEvent: [optional(aFunction)],
  middleware: [
    (v, field) => {
      if (!Array.isArray(v)) expected(field, "an array of functions", v);
      v.forEach((m, i) => aFunction(m, `${field}[${i}]`, {}));
      return v;
    },
    [],
    1,
  ],
  clock: [
    (v, field) =>
      isPlainObject(v) &&
        ["now", "setTimeout", "clearTimeout"].every((k) => isFunction(v[k]))
        ? v as unknown as Clock
        : fail(
          field,
          "must have now(), setTimeout() and clearTimeout() functions",
        ),
    systemClock,
    1,
  ],
  random: [rule(isFunction, "a function returning [0, 1)"), Math.random],
  fetch: [optional(rule(isFunction, "a fetch function"))],
  kyOptions: [optional(rule(isPlainObject, "an object"))],
};

/** Validates `options` and fills in defaults. Throws a TypeError naming the field. */
export function resolveOptions(options: FailoverOptions): ResolvedOptions {
  return check(options, OPTIONS, "");
}
