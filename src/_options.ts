// Validation and defaults for createFailover's options. Every problem is a
// TypeError whose message names the field; secrets are never echoed.

import { systemClock } from "./clock.ts";
import type { HealthCheckSettings } from "./health_check.ts";
import type {
  Clock,
  EndpointOptions,
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

const TOP_LEVEL_KEYS = new Set([
  "endpoints",
  "strategy",
  "timeout",
  "totalTimeout",
  "streamIdleTimeout",
  "maxAttempts",
  "breaker",
  "rateLimit",
  "healthCheck",
  "retryBudget",
  "hedge",
  "onEvent",
  "middleware",
  "clock",
  "random",
  "fetch",
  "kyOptions",
]);
const ENDPOINT_KEYS = new Set([
  "name",
  "url",
  "apiKey",
  "headers",
  "priority",
  "weight",
]);
const STRATEGIES = new Set([
  "round-robin",
  "weighted",
  "priority",
  "least-latency",
]);

function fail(field: string, problem: string): never {
  throw new TypeError(`ky-failover: options.${field} ${problem}`);
}

function show(value: unknown): string {
  // A query string may carry a key (`?key=…`): never echo it.
  if (typeof value === "string") {
    return JSON.stringify(value.replace(/\?.*/s, "?…"));
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

function checkKeys(
  value: Record<string, unknown>,
  allowed: Set<string>,
  field: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      const known = [...allowed].join(", ");
      fail(
        field ? `${field}.${key}` : key,
        `is not a known option (known: ${known})`,
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function duration(
  value: unknown,
  field: string,
  fallback: number,
  { allowZero = false } = {},
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isFinite(value) ||
    (allowZero ? value < 0 : value <= 0) || value > MAX_TIMER_MS
  ) {
    fail(
      field,
      `must be a ${
        allowZero ? "non-negative" : "positive"
      } number of milliseconds up to ${MAX_TIMER_MS}, got ${show(value)}`,
    );
  }
  return value;
}

function durationOrFalse(
  value: unknown,
  field: string,
  fallback: number | false,
): number | false {
  if (value === false) return false;
  return duration(value, field, fallback as number);
}

function resolveEndpoint(
  raw: unknown,
  index: number,
  names: Set<string>,
): ResolvedEndpoint {
  const field = `endpoints[${index}]`;
  if (!isPlainObject(raw)) fail(field, `must be an object, got ${show(raw)}`);
  checkKeys(raw, ENDPOINT_KEYS, field);
  const { name, url, apiKey, headers, priority = 1, weight = 1 } =
    raw as unknown as EndpointOptions;
  if (typeof name !== "string" || name.trim() === "") {
    fail(`${field}.name`, `must be a non-empty string, got ${show(name)}`);
  }
  if (names.has(name)) {
    fail(`${field}.name`, `must be unique, but ${show(name)} is used twice`);
  }
  names.add(name);

  let parsed: URL;
  try {
    if (typeof url !== "string" && !(url instanceof URL)) throw 0;
    parsed = new URL(url);
  } catch {
    fail(`${field}.url`, `must be an absolute http(s) URL, got ${show(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    fail(
      `${field}.url`,
      `must use http: or https:, got ${show(parsed.protocol)}`,
    );
  }
  if (parsed.username || parsed.password) {
    fail(`${field}.url`, "must not embed credentials; use apiKey or headers");
  }
  if (parsed.hash) fail(`${field}.url`, "must not have a #fragment");

  if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey === "")) {
    fail(`${field}.apiKey`, "must be a non-empty string when given");
  }
  let extra: [string, string][] = [];
  if (headers !== undefined) {
    try {
      extra = [...new Headers(headers)];
    } catch {
      // The header values may be secrets: do not echo them.
      fail(`${field}.headers`, "must be valid HeadersInit (name → value)");
    }
  }
  if (typeof priority !== "number" || !Number.isFinite(priority)) {
    fail(`${field}.priority`, `must be a finite number, got ${show(priority)}`);
  }
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
    fail(`${field}.weight`, `must be a finite number ≥ 0, got ${show(weight)}`);
  }
  if (apiKey !== undefined) {
    extra = extra.filter(([key]) => key !== "authorization");
    extra.push(["authorization", `Bearer ${apiKey}`]);
  }

  const path = parsed.pathname.replace(/\/+$/, "");
  const query = parsed.search.slice(1);
  const base = parsed.origin + path;
  return {
    name,
    base,
    query,
    origin: parsed.origin,
    path,
    priority,
    weight,
    headers: extra,
  };
}

/** Validates `options` and fills in defaults. Throws a TypeError naming the field. */
export function resolveOptions(options: FailoverOptions): ResolvedOptions {
  if (!isPlainObject(options)) {
    throw new TypeError(
      `ky-failover: options must be an object, got ${show(options)}`,
    );
  }
  checkKeys(options, TOP_LEVEL_KEYS, "");
  const raw = options.endpoints;
  if (!Array.isArray(raw) || raw.length === 0) {
    fail("endpoints", "must be a non-empty array of endpoints");
  }
  const names = new Set<string>();
  const endpoints = raw.map((e, i) => resolveEndpoint(e, i, names));

  const strategy = options.strategy ?? "round-robin";
  if (typeof strategy !== "function" && !STRATEGIES.has(strategy)) {
    fail(
      "strategy",
      `must be "round-robin", "weighted", "priority", "least-latency" or a function, got ${
        show(strategy)
      }`,
    );
  }
  if (
    strategy === "weighted" && endpoints.every((e) => e.weight === 0)
  ) {
    fail("endpoints", "need at least one weight > 0 for the weighted strategy");
  }

  const timeout = durationOrFalse(options.timeout, "timeout", 30_000);
  const totalTimeout = durationOrFalse(
    options.totalTimeout,
    "totalTimeout",
    false,
  );

  const streamIdleTimeout = durationOrFalse(
    options.streamIdleTimeout,
    "streamIdleTimeout",
    60_000,
  );

  const maxAttempts = options.maxAttempts ?? Math.max(2, endpoints.length);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    fail("maxAttempts", `must be an integer ≥ 1, got ${show(maxAttempts)}`);
  }

  let breaker: ResolvedOptions["breaker"] = false;
  if (options.breaker !== false) {
    const b = options.breaker ?? {};
    if (!isPlainObject(b)) {
      fail("breaker", `must be an object or false, got ${show(b)}`);
    }
    checkKeys(
      b,
      new Set(["failureThreshold", "cooldown", "maxCooldown"]),
      "breaker",
    );
    const failureThreshold = b.failureThreshold ?? 3;
    if (
      !Number.isInteger(failureThreshold) || (failureThreshold as number) < 1
    ) {
      fail(
        "breaker.failureThreshold",
        `must be an integer ≥ 1, got ${show(failureThreshold)}`,
      );
    }
    const cooldown = duration(b.cooldown, "breaker.cooldown", 60_000);
    const maxCooldown = duration(
      b.maxCooldown,
      "breaker.maxCooldown",
      Math.max(300_000, cooldown),
    );
    if (maxCooldown < cooldown) {
      fail(
        "breaker.maxCooldown",
        `must be ≥ breaker.cooldown (${cooldown}), got ${maxCooldown}`,
      );
    }
    breaker = {
      failureThreshold: failureThreshold as number,
      cooldown,
      maxCooldown,
    };
  }

  const r = options.rateLimit ?? {};
  if (!isPlainObject(r)) fail("rateLimit", `must be an object, got ${show(r)}`);
  checkKeys(r, new Set(["fallbackDelay", "maxDelay"]), "rateLimit");
  const rateLimit = {
    fallbackDelay: duration(r.fallbackDelay, "rateLimit.fallbackDelay", 1_000, {
      allowZero: true,
    }),
    maxDelay: duration(r.maxDelay, "rateLimit.maxDelay", 60_000),
  };

  let healthCheck: HealthCheckSettings | false = false;
  if (options.healthCheck !== undefined && options.healthCheck !== false) {
    const h = options.healthCheck;
    if (!isPlainObject(h)) {
      fail("healthCheck", `must be an object or false, got ${show(h)}`);
    }
    checkKeys(
      h,
      new Set(["path", "interval", "timeout", "jitter"]),
      "healthCheck",
    );
    const path = h.path ?? "models";
    if (typeof path !== "string" || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
      fail(
        "healthCheck.path",
        `must be a path relative to the endpoint's url, got ${show(path)}`,
      );
    }
    const jitter = h.jitter ?? 0.1;
    if (typeof jitter !== "number" || !(jitter >= 0 && jitter < 1)) {
      fail(
        "healthCheck.jitter",
        `must be a number in [0, 1), got ${show(jitter)}`,
      );
    }
    healthCheck = {
      path: path.replace(/^\/+/, ""),
      interval: duration(h.interval, "healthCheck.interval", 30_000),
      timeout: duration(h.timeout, "healthCheck.timeout", 5_000),
      jitter,
    };
  }

  let retryBudget: ResolvedOptions["retryBudget"] = false;
  if (options.retryBudget !== false) {
    const rb = options.retryBudget ?? {};
    if (!isPlainObject(rb)) {
      fail("retryBudget", `must be an object or false, got ${show(rb)}`);
    }
    checkKeys(rb, new Set(["ratio", "minPerSecond", "window"]), "retryBudget");
    const ratio = rb.ratio ?? 0.3;
    if (typeof ratio !== "number" || !Number.isFinite(ratio) || ratio < 0) {
      fail(
        "retryBudget.ratio",
        `must be a finite number ≥ 0, got ${show(ratio)}`,
      );
    }
    const minPerSecond = rb.minPerSecond ?? 10;
    if (
      typeof minPerSecond !== "number" || !Number.isFinite(minPerSecond) ||
      minPerSecond < 0
    ) {
      fail(
        "retryBudget.minPerSecond",
        `must be a finite number ≥ 0, got ${show(minPerSecond)}`,
      );
    }
    retryBudget = {
      ratio,
      minPerSecond,
      window: duration(rb.window, "retryBudget.window", 10_000),
    };
  }

  let hedge: ResolvedOptions["hedge"] = false;
  if (options.hedge !== undefined && options.hedge !== false) {
    const h = options.hedge;
    if (!isPlainObject(h)) {
      fail("hedge", `must be an object or false, got ${show(h)}`);
    }
    checkKeys(h, new Set(["delay", "methods"]), "hedge");
    if (h.delay === undefined) {
      fail("hedge.delay", "is required (ms before the second attempt)");
    }
    const methods = h.methods ?? ["GET", "HEAD", "OPTIONS"];
    if (!Array.isArray(methods) || methods.some((m) => typeof m !== "string")) {
      fail(
        "hedge.methods",
        `must be an array of method names, got ${show(methods)}`,
      );
    }
    hedge = {
      delay: duration(h.delay, "hedge.delay", 0),
      methods: methods.map((m) => m.toUpperCase()),
    };
  }

  if (options.onEvent !== undefined && typeof options.onEvent !== "function") {
    fail("onEvent", `must be a function, got ${show(options.onEvent)}`);
  }
  const middleware = options.middleware ?? [];
  if (!Array.isArray(middleware)) {
    fail(
      "middleware",
      `must be an array of functions, got ${show(middleware)}`,
    );
  }
  middleware.forEach((m, i) => {
    if (typeof m !== "function") {
      fail(`middleware[${i}]`, `must be a function, got ${show(m)}`);
    }
  });
  const clock = options.clock ?? systemClock;
  if (
    !isPlainObject(clock) || typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    fail("clock", "must have now(), setTimeout() and clearTimeout() functions");
  }
  if (options.random !== undefined && typeof options.random !== "function") {
    fail(
      "random",
      `must be a function returning [0, 1), got ${show(options.random)}`,
    );
  }
  if (options.fetch !== undefined && typeof options.fetch !== "function") {
    fail("fetch", `must be a fetch function, got ${show(options.fetch)}`);
  }
  if (options.kyOptions !== undefined && !isPlainObject(options.kyOptions)) {
    fail("kyOptions", `must be an object, got ${show(options.kyOptions)}`);
  }

  return {
    endpoints,
    strategy,
    timeout,
    totalTimeout,
    streamIdleTimeout,
    maxAttempts,
    breaker,
    rateLimit,
    healthCheck,
    retryBudget,
    hedge,
    onEvent: options.onEvent,
    middleware,
    clock,
    random: options.random ?? Math.random,
    fetch: options.fetch,
    kyOptions: options.kyOptions,
  };
}
