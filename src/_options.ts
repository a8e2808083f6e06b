// Validation and defaults for createFailover's options, driven by tables:
// each field has a rule (what it must be, and how it resolves), a default,
// and whether `null` also means the default. Every problem is a TypeError
// whose message names the field path, says what was expected and what was
// given; secrets (apiKey, header values) and URL queries are never echoed.

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
  maxAttempts: number;
  breaker:
    | { failureThreshold: number; cooldown: number; maxCooldown: number }
    | false;
  rateLimit: { fallbackDelay: number; maxDelay: number };
  healthCheck: HealthCheckSettings | false;
  retryBudget: { ratio: number; minPerSecond: number; window: number } | false;
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
}

function fail(field: string, problem: string): never {
  throw new TypeError(`ky-failover: options${field} ${problem}`);
}

/** Fails with "`field` must be `expected`, got `value`". */
function expected(field: string, what: string, value: unknown): never {
  return fail(field, `must be ${what}, got ${show(value)}`);
}

function show(value: unknown): string {
  // A query string (`?key=…`) or the user info of a malformed URL
  // (`https//user:key@host`) may carry a key: never echo them.
  if (typeof value === "string") {
    return JSON.stringify(
      value.replace(/\?.*/s, "?…").replace(/\/\/[^/]*@/, "//…@"),
    );
  }
  if (typeof value === "function") return "a function";
  if (value && typeof value === "object") {
    return Array.isArray(value) ? "an array" : "an object";
  }
  return String(value); // numbers, booleans, null, undefined, symbols
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

/** Milliseconds for a timer: > 0 (≥ 0 with `zero`), or `false` with `orFalse`. */
function duration<T = number>(zero?: boolean, orFalse?: boolean): Rule<T> {
  return rule(
    (v) =>
      (orFalse && v === false) ||
      (isNumber(v) && (zero ? v >= 0 : v > 0) && v <= MAX_TIMER_MS),
    `a ${
      zero ? "non-negative" : "positive"
    } number of milliseconds up to ${MAX_TIMER_MS}`,
  );
}

const positiveMs = duration();
const msOrFalse = duration<number | false>(false, true);
const atLeastOne = rule<number>(
  (v) => Number.isInteger(v) && (v as number) >= 1,
  "an integer ≥ 1",
);
const finiteAtLeastZero = rule<number>(
  (v) => Number.isFinite(v) && (v as number) >= 0,
  "a finite number ≥ 0",
);
const isFunction = (value: unknown) => typeof value === "function";
const aFunction = rule<() => void>(isFunction, "a function");

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
        fail(field, `must use http: or https:, got ${show(url.protocol)}`);
      }
      if (url.username || url.password) {
        fail(field, "must not embed credentials; use apiKey or headers");
      }
      if (url.hash) fail(field, "must not have a #fragment");
      return url;
    }],
    // The key and the header values are secrets: never echoed.
    apiKey: [
      optional((v, field) =>
        typeof v === "string" && v
          ? v
          : fail(field, "must be a non-empty string when given")
      ),
    ],
    headers: [(v, field) => {
      try {
        return v === undefined ? [] : [...new Headers(v as HeadersInit)];
      } catch {
        return fail(field, "must be valid HeadersInit (name → value)");
      }
    }],
    priority: [rule(Number.isFinite, "a finite number"), 1],
    weight: [finiteAtLeastZero, 1],
  };
}

const OPTIONS: Spec<ResolvedOptions> = {
  endpoints: [(v, field) => {
    if (!Array.isArray(v) || !v.length) {
      fail(field, "must be a non-empty array of endpoints");
    }
    const spec = endpointSpec(new Set());
    return v.map((raw, i) => {
      const { name, url, apiKey, headers, priority, weight } = check(
        raw,
        spec,
        `${field}[${i}]`,
      );
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
  maxAttempts: [(v, field, out) =>
    atLeastOne(
      v ?? Math.max(2, (out.endpoints as ResolvedEndpoint[]).length),
      field,
      out,
    )],
  breaker: [
    section({
      failureThreshold: [atLeastOne, 3, 1],
      cooldown: [positiveMs, 60_000],
      maxCooldown: [(v, field, out) => {
        const cooldown = out.cooldown as number;
        if (v === undefined) return Math.max(300_000, cooldown);
        positiveMs(v, field, out);
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
      fallbackDelay: [duration(true), 1_000],
      maxDelay: [positiveMs, 60_000],
    }) as Rule<ResolvedOptions["rateLimit"]>,
    {},
    1,
  ],
  healthCheck: [
    section({
      path: [
        (v, field) =>
          typeof v === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(v)
            ? v.replace(/^\/+/, "")
            : expected(field, "a path relative to the endpoint's url", v),
        "models",
        1,
      ],
      interval: [positiveMs, 30_000],
      timeout: [positiveMs, 5_000],
      jitter: [
        rule<number>(
          (v) => isNumber(v) && v >= 0 && v < 1,
          "a number in [0, 1)",
        ),
        0.1,
        1,
      ],
    }, true),
    false,
  ],
  retryBudget: [
    section({
      ratio: [finiteAtLeastZero, 0.3, 1],
      minPerSecond: [finiteAtLeastZero, 10, 1],
      window: [positiveMs, 10_000],
    }, true),
    {},
    1,
  ],
  hedge: [
    section({
      delay: [positiveMs],
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
