// The core's options: validation and defaults (see `_validate.ts` for the
// rule machinery). Secrets (apiKey, header values) are never echoed.

import type { BreakerSettings } from "./_breaker.ts";
import { systemClock } from "./clock.ts";
import type { EndpointExtension, Feature } from "./feature.ts";
import type { PoolOptions } from "./pool_types.ts";
import type {
  Clock,
  FailoverEvent,
  Middleware,
  PoolStrategy,
} from "./types.ts";
import {
  aFunction,
  check,
  expected,
  fail,
  type Field,
  isFunction,
  isPlainObject,
  ms,
  msOrFalse,
  msOrZero,
  optional,
  orFalse,
  range,
  relativePath,
  type Rule,
  rule,
  section,
  show,
  type Spec,
} from "./_validate.ts";

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  endpoints: ResolvedEndpoint[];
  strategy: PoolStrategy;
  timeout: number | false;
  totalTimeout: number | false;
  streamIdleTimeout: number | false;
  /** Bytes of a non-streamed answer read whole inside the attempt, or `false`. */
  bufferLimit: number | false;
  authFailure: { bench: number } | false;
  maxAttempts: number;
  breaker: BreakerSettings | false;
  rateLimit: { fallbackDelay: number; maxDelay: number };
  onEvent: ((event: FailoverEvent) => void) | undefined;
  middleware: readonly Middleware[];
  clock: Clock;
  random: () => number;
  fetch: typeof fetch | undefined;
  features: readonly Feature[];
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
   * This endpoint's own probe: `{ path }` (`undefined`: the probe's
   * default path), `false` to never probe it, or `undefined` when it gave
   * no `healthCheck`.
   */
  healthCheck: { path: string | undefined } | false | undefined;
  /**
   * The options it was given that features read (`models`, `prices`,
   * `budget`), as given: those features check them.
   */
  extensions: Partial<Record<EndpointExtension, unknown>>;
}

/** An endpoint after its fields are checked, before it is resolved. */
interface CheckedEndpoint {
  name: string;
  url: URL;
  apiKey: string | undefined;
  headers: [string, string][];
  priority: number;
  weight: number;
  healthCheck: { path: string | undefined } | false | undefined;
  models: unknown;
  prices: unknown;
  budget: unknown;
}

/** A feature's endpoint option: kept as given, for the feature to check. */
const asGiven: Field<unknown> = [(v) => v];

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

/** Most attempts a call may make (and the default's cap for big pools). */
const MAX_ATTEMPTS = 100;

/**
 * The `strategy` field: one of `names`, or a function; `"round-robin"` by
 * default (and for `null`).
 */
export function strategyField<T>(names: readonly string[]): Field<T> {
  return [
    (v, field) =>
      isFunction(v) || names.includes(v as string)
        ? v as T
        : expected(field, `${names.map(show).join(", ")} or a function`, v),
    "round-robin",
    true,
  ];
}

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
      optional(
        section({ path: [optional(relativePath), undefined, true] }, true),
      ),
    ],
    models: asGiven,
    prices: asGiven,
    budget: asGiven,
  };
}

/** The core's fields, in the order they are checked and resolved. */
export const POOL_OPTIONS: Spec<ResolvedOptions> = {
  endpoints: [(v, field) => {
    if (!Array.isArray(v) || !v.length) {
      fail(field, "must be a non-empty array of endpoints");
    }
    const spec = endpointSpec(new Set());
    return v.map((raw, i) => {
      const {
        name,
        url,
        apiKey,
        headers,
        priority,
        weight,
        healthCheck,
        ...given
      } = check(raw, spec, `${field}[${i}]`);
      const extensions: ResolvedEndpoint["extensions"] = {};
      for (const [key, value] of Object.entries(given)) {
        if (value != null) extensions[key as EndpointExtension] = value;
      }
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
        extensions,
      };
    });
  }],
  strategy: strategyField<PoolStrategy>(["round-robin", "priority"]),
  timeout: [msOrFalse, 30_000],
  totalTimeout: [msOrFalse, false],
  streamIdleTimeout: [msOrFalse, 60_000],
  bufferLimit: [
    orFalse(range(1, 1_073_741_824, "an integer")),
    8_388_608,
  ],
  authFailure: [section({ bench: [ms, 300_000] }, true), {}, true],
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
      failureThreshold: [range(1, 1_000, "an integer"), 3, true],
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
    true,
  ],
  rateLimit: [
    section({
      fallbackDelay: [msOrZero, 1_000],
      maxDelay: [ms, 60_000],
    }) as Rule<ResolvedOptions["rateLimit"]>,
    {},
    true,
  ],
  onEvent: [optional(aFunction)],
  middleware: [
    (v, field) => {
      if (!Array.isArray(v)) expected(field, "an array of functions", v);
      v.forEach((m, i) => aFunction(m, `${field}[${i}]`, {}));
      return v;
    },
    [],
    true,
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
    true,
  ],
  random: [rule(isFunction, "a function returning [0, 1)"), Math.random],
  fetch: [optional(rule(isFunction, "a fetch function"))],
  features: [
    (v, field) => {
      if (!Array.isArray(v)) expected(field, "an array of features", v);
      v.forEach((f, i) => {
        if (!isPlainObject(f) || typeof f.attach !== "function") {
          expected(`${field}[${i}]`, "a feature (with attach())", f);
        }
      });
      return v;
    },
    [],
    true,
  ],
};

/**
 * Validates `options` against `spec` (the core's, or a preset's over it)
 * and fills in defaults. Throws a TypeError naming the field.
 */
export function resolveOptions<T = ResolvedOptions>(
  options: PoolOptions,
  spec: Spec<T> = POOL_OPTIONS as unknown as Spec<T>,
): T {
  return check(options, spec, "options");
}
