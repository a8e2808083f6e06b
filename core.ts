/**
 * The ky-failover core: `createPool`, a standard `fetch` over a pool of
 * OpenAI-compatible endpoints — tiers, round-robin, per-attempt and total
 * timeouts, the circuit breaker, 429 / Retry-After benching, the failover
 * rules, the stream idle timeout, key isolation and errors — without ky.
 * Everything else is a feature you import: `health-check`, `hedge`,
 * `retry-budget`, `weighted`, `least-latency`, or your own
 * ({@linkcode Feature}).
 *
 * @example A pool for the OpenAI SDK, with health checks
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { healthCheck } from "@ky-failover/ky-failover/health-check";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 *   features: [healthCheck({ interval: 30_000 })],
 * });
 * // new OpenAI({ baseURL: "https://api.example.ai/v1", apiKey: "unused", fetch: pool.fetch, maxRetries: 0 });
 * console.assert(pool.status().length === 2);
 * ```
 *
 * @module
 */

export { createPool } from "./src/pool.ts";

export { aiSdkOptions, langChainOptions, openAIOptions } from "./src/sdk.ts";
export type {
  AiSdkOptions,
  LangChainOptions,
  OpenAIOptions,
  SdkPool,
} from "./src/sdk.ts";
export { systemClock } from "./src/clock.ts";
export {
  AttemptTimeoutError,
  ClosedError,
  FailoverError,
  HedgeCancelledError,
  isAttemptTimeoutError,
  isClosedError,
  isFailoverError,
  isKyFailoverError,
  isOutsidePoolError,
  isRedirectError,
  isStreamIdleTimeoutError,
  isTotalTimeoutError,
  KyFailoverError,
  OutsidePoolError,
  RedirectError,
  StreamIdleTimeoutError,
  TotalTimeoutError,
} from "./src/errors.ts";
export type {
  AttemptContext,
  AttemptOutcome,
  AttemptRecord,
  AuthFailureOptions,
  BreakerOptions,
  BreakerState,
  Clock,
  EndpointHealthCheckOptions,
  EndpointInfo,
  EndpointOptions,
  EndpointState,
  EndpointStatus,
  FailoverEvent,
  HeaderValues,
  Health,
  Middleware,
  Outcome,
  PickContext,
  PickerFunction,
  PickStats,
  PoolStrategy,
  RateLimitOptions,
  Verdict,
} from "./src/types.ts";
export type {
  FetchFunction,
  Pool,
  PoolFetch,
  PoolOptions,
} from "./src/pool_types.ts";
export type {
  AttemptRequest,
  AttemptTrace,
  BodyObserver,
  CallEnd,
  CallRoute,
  CallTrace,
  EndpointBench,
  EndpointExtension,
  ErrorAnswer,
  Feature,
  FeatureAnswer,
  FeatureAttempt,
  FeatureCall,
  FeatureEndpoint,
  FeatureHooks,
  FeatureHost,
  FeatureMiddleware,
  FeatureNews,
  FeatureStatus,
  HealthFact,
  HedgeRequest,
  ProbeOptions,
  Ruling,
  SentAttempt,
  SettledAttempt,
} from "./src/feature.ts";
export type {
  BudgetOptions,
  BudgetStatus,
  EndpointModels,
  EndpointUsage,
  ModelsOption,
  Price,
  Prices,
  UsageReport,
  UsageTotals,
} from "./src/provider_types.ts";
