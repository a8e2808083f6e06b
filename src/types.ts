/**
 * Public types of the ky-failover core: the options a pool is built from,
 * the events it reports, the status it exposes, the outcomes features hear
 * and the middleware contract.
 *
 * @module
 */

import type {
  BudgetOptions,
  EndpointModels,
  EndpointUsage,
  ModelsOption,
  Prices,
} from "./provider_types.ts";

/**
 * One endpoint of the pool: a region or a provider that speaks the same API.
 *
 * @example A primary region with two ordered backups
 * ```ts
 * import type { EndpointOptions } from "@ky-failover/ky-failover";
 *
 * const endpoints: EndpointOptions[] = [
 *   { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *   { name: "hk", url: "https://hk.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   { name: "sg", url: "https://sg.example.ai/v1", apiKey: "sk-c", priority: 3 },
 * ];
 * ```
 */
export interface EndpointOptions {
  /** Unique name, used in events, errors and {@linkcode EndpointStatus}. */
  name: string;
  /**
   * Base URL of the API, e.g. `https://api.openai.com/v1`. Request paths are
   * appended to it. Query parameters on it (e.g. `?api-version=…`) are sent
   * with every request to this endpoint and treated as secret: `status()`,
   * events and errors show the URL without them.
   */
  url: string | URL;
  /**
   * Secret sent as `Authorization: Bearer <apiKey>` to this endpoint only.
   * It never appears in an error, an event or {@linkcode EndpointStatus}.
   */
  apiKey?: string | undefined;
  /**
   * Extra headers sent to this endpoint only (e.g. `x-api-key`,
   * `api-key`, an organisation header). Treated as secret like `apiKey`.
   */
  headers?: HeaderValues | undefined;
  /**
   * Tier of the endpoint; lower is preferred. Traffic stays in the best tier
   * that has an available endpoint. Default `1`.
   */
  priority?: number | undefined;
  /**
   * Relative share of traffic inside its tier for the `"weighted"` strategy.
   * `0` means "only when no other endpoint of the tier is available".
   * Default `1`.
   */
  weight?: number | undefined;
  /**
   * This endpoint's own health-check settings, over the pool's
   * {@linkcode HealthCheckOptions}: another `path` (an Azure-style
   * deployment URL has no `/models`), or `false` to never probe it — it
   * then recovers through user traffic (one half-open trial at a time).
   */
  healthCheck?: EndpointHealthCheckOptions | false | undefined;
  /**
   * The models this endpoint serves: a list, or a map from the model the
   * caller asks for to this endpoint's own name for it. Absent: any model,
   * under the name asked for. Read by the `models()` feature (on in
   * `createFailover`): a call goes only to endpoints that serve its model,
   * and the JSON body's `model` is rewritten for each.
   */
  models?: ModelsOption | undefined;
  /**
   * What tokens cost on this endpoint, by model (over the pool's
   * `prices`: a relay and the vendor charge differently). Read by the
   * `usage()` and `cheapest()` features.
   */
  prices?: Prices | undefined;
  /**
   * A spending limit: once this endpoint spent `usd` within the last
   * `window` ms it takes no call until the window moves on. Read by the
   * `usage()` feature.
   */
  budget?: BudgetOptions | undefined;
}

/**
 * Header names and values, as `new Headers()` takes them: a `Headers`, a
 * record, or `[name, value]` pairs. Written out rather than the DOM's
 * `HeadersInit`, so that projects without the DOM lib compile.
 */
export type HeaderValues =
  | Headers
  | Record<string, string>
  | readonly (readonly [string, string])[]
  | Iterable<readonly [string, string]>;

/** Per-endpoint health-check settings; see {@linkcode EndpointOptions.healthCheck}. */
export interface EndpointHealthCheckOptions {
  /** Path probed under this endpoint's url with `GET`. Default: the pool's `healthCheck.path`. */
  path?: string | undefined;
}

/** Circuit breaker settings; see {@linkcode PoolOptions.breaker}. */
export interface BreakerOptions {
  /**
   * Consecutive failures that open the breaker. Default `3`. An endpoint
   * that already fails now and then needs a longer run — one its recent
   * error rate would produce by chance less than once in 10,000 runs, at
   * most twice this — so random errors do not bench it.
   */
  failureThreshold?: number | undefined;
  /** How long an opened breaker keeps the endpoint out, in ms. Default `60_000`. */
  cooldown?: number | undefined;
  /**
   * Upper bound for the cooldown, which grows as `cooldown × times opened in a
   * row` each time a half-open probe fails. Default `300_000` (5 min).
   */
  maxCooldown?: number | undefined;
}

/** Settings for answers that reject an endpoint's credentials; see {@linkcode PoolOptions.authFailure}. */
export interface AuthFailureOptions {
  /**
   * How long an endpoint whose credentials were rejected (401 / 403) stays
   * out, in ms, unless a health-check probe passes first. Default `300_000`.
   */
  bench?: number | undefined;
}

/** Rate-limit (429) settings; see {@linkcode PoolOptions.rateLimit}. */
export interface RateLimitOptions {
  /**
   * How long to keep an endpoint out of rotation after a 429 that carries no
   * `retry-after-ms` / `Retry-After` header, in ms. Default `1_000`.
   */
  fallbackDelay?: number | undefined;
  /** Cap on any server-provided retry delay, in ms. Default `60_000`. */
  maxDelay?: number | undefined;
}

/**
 * A time source and timer facility. Inject one to drive time in tests; the
 * default (`systemClock`) reads a monotonic clock —
 * `performance.timeOrigin + performance.now()`, epoch-like milliseconds
 * that a wall-clock step never moves — and uses `setTimeout` and
 * `clearTimeout`. Every deadline is measured on `now()`: an injected clock
 * should be monotonic too.
 *
 * @example A clock that delegates to the real one
 * ```ts
 * import type { Clock } from "@ky-failover/ky-failover";
 *
 * const clock: Clock = {
 *   now: () => performance.timeOrigin + performance.now(),
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (id) => clearTimeout(id as number),
 * };
 * ```
 */
export interface Clock {
  /** Current time in milliseconds (epoch-like; must never go backwards). */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer created by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** Public, key-free view of an endpoint, handed to pickers and middleware. */
export interface EndpointInfo {
  /** Unique name of the endpoint. */
  readonly name: string;
  /** Base URL of the endpoint, without trailing slash or query. */
  readonly url: string;
  /** Tier; lower is preferred. */
  readonly priority: number;
  /** Share of traffic inside the tier for the weighted strategy. */
  readonly weight: number;
}

/** What a custom picker gets besides the candidates. */
export interface PickContext {
  /** 1-based number of the attempt inside the current call. */
  readonly attempt: number;
  /** Names of the endpoints already tried in this call. */
  readonly tried: ReadonlySet<string>;
  /** The pool's random source (seedable through {@linkcode PoolOptions.random}). */
  readonly random: () => number;
  /** An endpoint's load: its mean latency and its requests in flight. */
  readonly stats: (endpoint: string) => PickStats;
  /** The model the caller asked for: the JSON body's top-level `model`. */
  readonly model: string | undefined;
  /**
   * The model `endpoint` would be sent — the asked one, as a feature's
   * route renames it for that endpoint (`models()`).
   */
  readonly modelFor: (endpoint: string) => string | undefined;
}

/** What {@linkcode PickContext.stats} tells of an endpoint. */
export interface PickStats {
  /** Mean time to response headers (EWMA), in ms; `undefined` before any. */
  readonly latencyMs: number | undefined;
  /** Requests waiting for their response headers now. */
  readonly inFlight: number;
}

/**
 * A custom strategy: choose one of `candidates` (all available, untried and
 * of the best tier, in configuration order, never empty). Return the chosen
 * endpoint or its name.
 */
export type PickerFunction = (
  candidates: readonly EndpointInfo[],
  context: PickContext,
) => EndpointInfo | string;

/**
 * How the core chooses an endpoint inside the best available tier; the
 * `weighted()` and `leastLatency()` features bring more.
 */
export type PoolStrategy = "round-robin" | "priority" | PickerFunction;

/** State of an endpoint as reported by {@linkcode EndpointStatus}. */
export type EndpointState =
  | "healthy"
  | "open"
  | "half-open"
  | "rate-limited"
  | "unauthorized"
  | "unhealthy";

/** State of a circuit breaker. */
export type BreakerState = "closed" | "open" | "half-open";

/** A snapshot of one endpoint, as returned by `status()`. Never holds a key. */
export interface EndpointStatus {
  /** Name of the endpoint. */
  name: string;
  /** Base URL of the endpoint, without trailing slash or query. */
  url: string;
  /** Tier of the endpoint. */
  priority: number;
  /** Weight of the endpoint. */
  weight: number;
  /**
   * Current state. `"open"` / `"half-open"`: its circuit breaker; otherwise
   * a bench, if any: `"unauthorized"` (its credentials were rejected),
   * `"rate-limited"` (a 429), `"unhealthy"` (its last health-check probe
   * failed); else `"healthy"`.
   */
  state: EndpointState;
  /** Failures since the last success (what the breaker counts). */
  consecutiveFailures: number;
  /** Attempts sent to this endpoint. */
  requests: number;
  /** Attempts that failed (network error, timeout, 408, 5xx). */
  failures: number;
  /** Attempts in flight right now (waiting for response headers). */
  inFlight: number;
  /** Exponentially weighted mean time to response headers, in ms; `undefined` before the first answer. */
  latencyMs: number | undefined;
  /** Time to headers of the last answer, in ms. */
  lastLatencyMs: number | undefined;
  /** Short description of the last failure, e.g. `"HTTP 503"` or `"timed out after 30000 ms"`. */
  lastError: string | undefined;
  /** Clock time of the last failure. */
  lastErrorAt: number | undefined;
  /** Clock time of the last health-check probe's answer. */
  lastCheckAt: number | undefined;
  /** Clock time when an open or rate-limited endpoint becomes available again. */
  availableAt: number | undefined;
  /**
   * The model it was last sent (the JSON body's `model`, as a feature
   * rewrote it for this endpoint), when a feature read the body.
   */
  lastModel: string | undefined;
  /** Its models, with the `models()` feature. */
  models?: EndpointModels;
  /** Its tokens, cost and budget, with the `usage()` feature. */
  usage?: EndpointUsage;
}

/** One attempt of a call, as kept in {@linkcode FailoverError.attempts} and events. */
export interface AttemptRecord {
  /** Name of the endpoint the attempt went to. */
  endpoint: string;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** Why the attempt got no response (network error, timeout …). */
  error?: unknown;
  /** Time from sending to response headers (or failure), in ms. */
  durationMs: number;
  /** The model the endpoint was sent (the body's `model`, as rewritten for it). */
  model?: string;
  /**
   * The error code that made an answer fail over when its status alone
   * would not have, e.g. `"model_not_found"`.
   */
  code?: string;
}

/**
 * How an attempt's result counts for its call: `"success"` (2xx, 3xx) and
 * `"final"` (an answer that must not be failed over, such as a 400) end
 * it; `"failover"` moves it on; `"aborted"`: the caller cancelled, the
 * total timeout passed, the pool closed, or another hedge won.
 */
export type Verdict = "success" | "final" | "failover" | "aborted";

/**
 * How a result counts for its endpoint's health: a `"failure"` adds to its
 * run of failures (and may open its breaker), a `"success"` ends it,
 * `"neutral"` (a 429, a cancelled attempt) does neither.
 */
export type Health = "success" | "failure" | "neutral";

/**
 * What one result told about an endpoint, as features hear it
 * (a feature's `onOutcome`): an attempt's answer or error, a
 * health probe's, or a committed stream that broke or stalled.
 */
export interface Outcome {
  /** Name of the endpoint. */
  readonly endpoint: string;
  /** What gave the result. */
  readonly source: "attempt" | "probe" | "stream";
  /** For an attempt: its 1-based number inside the call. */
  readonly attempt: number | undefined;
  /** HTTP status, when an answer came. */
  readonly status: number | undefined;
  /** Why no answer came (or why a stream broke), without secrets. */
  readonly error: unknown;
  /** How it counts for the call (a probe: `"success"` or `"failover"`). */
  readonly verdict: Verdict;
  /** How it counts for the endpoint's health. */
  readonly health: Health;
  /** Time from sending to the answer or error, in ms (0 for a stream). */
  readonly durationMs: number;
  /** Clock time of the result. */
  readonly at: number;
}

/** Why an attempt was counted as it was. */
export type AttemptOutcome =
  | "success"
  | "final"
  | "failover"
  | "rate-limited"
  | "unauthorized"
  | "aborted";

/**
 * Everything ky-failover reports through {@linkcode PoolOptions.onEvent}.
 * Events name endpoints; they never carry keys or headers.
 */
export type FailoverEvent =
  | {
    /** An attempt finished (with a response or an error). */
    type: "attempt";
    endpoint: string;
    attempt: number;
    method: string;
    path: string;
    status?: number;
    error?: unknown;
    durationMs: number;
    outcome: AttemptOutcome;
    /** The endpoint was tried although unavailable, because nothing else was. */
    panic: boolean;
    /** The model it was sent, when the body named one. */
    model?: string;
    /** The error code that made it fail over (see {@linkcode AttemptRecord.code}). */
    code?: string;
  }
  | {
    /** A call moves from a failed endpoint to another one. */
    type: "failover";
    from: string;
    to: string;
    attempt: number;
    reason: string;
  }
  | {
    /** A hedge attempt started because the first had no answer yet. */
    type: "hedge";
    endpoint: string;
    attempt: number;
  }
  | {
    /** A circuit breaker changed state. */
    type: "breaker";
    endpoint: string;
    from: BreakerState;
    to: BreakerState;
    /** For `to: "open"`: how long it stays open, in ms. */
    cooldownMs?: number;
  }
  | {
    /** An endpoint answered 429 (or 503 with a retry header) and is benched. */
    type: "rate-limit";
    endpoint: string;
    status: number;
    delayMs: number;
    until: number;
  }
  | {
    /**
     * An endpoint that sends its own credentials answered 401 or 403: its
     * key is wrong, expired or lacks access. The call moves on and the
     * endpoint is benched (see {@linkcode PoolOptions.authFailure}).
     */
    type: "auth-failure";
    endpoint: string;
    status: number;
    /** How long it stays out, in ms. */
    benchMs: number;
    until: number;
    /** What to do about it, in words. */
    message: string;
  }
  | {
    /**
     * Every attempt of a call timed out: the per-attempt `timeout` may be
     * shorter than the answer takes.
     */
    type: "all-timed-out";
    /** The per-attempt timeout, in ms. */
    timeoutMs: number;
    /** Endpoints that timed out, in attempt order. */
    endpoints: readonly string[];
    /** What to do about it, in words. */
    message: string;
  }
  | {
    /** A health-check probe answered (or failed). */
    type: "health-check";
    endpoint: string;
    ok: boolean;
    status?: number;
    error?: unknown;
    durationMs: number;
  }
  | {
    /** A response body stalled past `streamIdleTimeout` and was ended. */
    type: "stream-stall";
    endpoint: string;
    timeoutMs: number;
  }
  | {
    /** A call succeeded (or got a final, non-failover answer). */
    type: "success";
    endpoint: string;
    status: number;
    attempts: number;
    durationMs: number;
    /** The model it was sent, when the body named one. */
    model?: string;
  }
  | {
    /**
     * An endpoint answered that it does not have a model (the `models()`
     * feature): it gets no call for that model from now on.
     */
    type: "model-not-found";
    endpoint: string;
    /** The model the caller asked for. */
    model: string;
    /** The name it was sent under. */
    sent: string;
  }
  | {
    /** An answered call's tokens and cost (the `usage()` feature). */
    type: "usage";
    endpoint: string;
    /** The model as it was sent (`undefined`: the body named none). */
    model: string | undefined;
    inputTokens: number;
    cachedInputTokens: number;
    outputTokens: number;
    /** USD; absent when the model has no known price. */
    costUsd?: number;
  }
  | {
    /**
     * An endpoint's budget ran out (`exhausted: true`: it takes no call
     * until `until`) or the window moved on and it takes calls again.
     */
    type: "budget";
    endpoint: string;
    exhausted: boolean;
    /** What it spent within the window, in USD. */
    spentUsd: number;
    usd: number;
    windowMs: number;
    /** While exhausted: clock time it takes calls again. */
    until?: number;
  }
  | {
    /** A call failed: every attempt failed, or time ran out. */
    type: "failure";
    attempts: readonly AttemptRecord[];
    error: Error;
    durationMs: number;
  }
  | {
    /**
     * The store the pool shares endpoint health through (`sharedState()`)
     * became unreachable (`up: false`: the pool goes on with what it knows
     * itself) or reachable again (`up: true`: it shares again).
     */
    type: "store";
    /** The kind of store, e.g. `"redis"`, `"broadcast"`. */
    store: string;
    up: boolean;
    /** What happened, in words. Never holds a key or a password. */
    message: string;
  }
  | {
    /**
     * The pool is used in a way that costs requests or fails calls, said
     * once: `"sdk-retries"` — an SDK retries on top of the pool (each retry
     * repeats a whole failover round; set its `maxRetries: 0`), once per
     * pool; `"missing-api-key"` — an endpoint was given `apiKey: undefined`
     * (an unset environment variable?), at construction, once per endpoint.
     */
    type: "warning";
    code: "sdk-retries" | "missing-api-key";
    /** The endpoint concerned, for `"missing-api-key"`. */
    endpoint?: string;
    /** What is wrong and what to do, in words. Never holds a key. */
    message: string;
  };

/**
 * The per-attempt context that flows through the middleware chain. User
 * middleware sees the picked endpoint and may change `headers`, set
 * `response` itself (short-circuit) or observe the result after `next()`.
 */
export interface AttemptContext {
  /** 1-based attempt number inside the call. */
  readonly attempt: number;
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoint's base URL, e.g. `/chat/completions`. */
  readonly path: string;
  /** Caller headers for this attempt (endpoint credentials are added after the chain). */
  headers: Headers;
  /** The picked endpoint (set by the picker; `undefined` before it runs). */
  endpoint: EndpointInfo | undefined;
  /** Aborts when this attempt times out, the call is cancelled or the pool closes. */
  signal: AbortSignal;
  /** Response of the attempt, once there is one. */
  response: Response | undefined;
  /** Error of the attempt, when there is no response. */
  error: unknown;
}

/**
 * A middleware: run code around each attempt. Call `next()` once to continue
 * down the chain; code after it sees `ctx.response` / `ctx.error`.
 *
 * @example Add a request id to every attempt
 * ```ts
 * import type { Middleware } from "@ky-failover/ky-failover";
 *
 * const requestId: Middleware = async (ctx, next) => {
 *   ctx.headers.set("x-request-id", crypto.randomUUID());
 *   await next();
 * };
 * ```
 */
export type Middleware = (
  ctx: AttemptContext,
  next: () => Promise<void>,
) => Promise<void> | void;
