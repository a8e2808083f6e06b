/**
 * ky-failover keeps calls to AI APIs (OpenAI-compatible `chat/completions`,
 * `models`, `embeddings` …) succeeding when a region or provider is down,
 * slow or rate-limiting. Give it a pool of endpoints; every request goes to
 * a healthy one, moves to another in milliseconds when it fails, and stays
 * off sick endpoints until they recover.
 *
 * Use it as a ky instance (`api.ky`) or as a standard `fetch` (`api.fetch`)
 * for the OpenAI SDK, the Vercel AI SDK, LangChain or your own code.
 *
 * @example
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 *
 * const api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "hk", url: "https://hk.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *     { name: "sg", url: "https://sg.example.ai/v1", apiKey: "sk-c", priority: 3 },
 *   ],
 * });
 * console.assert(api.status().length === 3);
 * api.close();
 * ```
 *
 * @module
 */

export { createFailover } from "./src/failover.ts";
export type { Failover, FailoverOptions, Strategy } from "./src/failover.ts";

export type { HealthCheckOptions } from "./src/health_check/mod.ts";
export type { HedgeOptions } from "./src/hedge/mod.ts";
export type { RetryBudgetOptions } from "./src/retry_budget/mod.ts";
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
  Feature,
  FeatureAttempt,
  FeatureEndpoint,
  FeatureHooks,
  FeatureHost,
  FeatureMiddleware,
  HedgeRequest,
  ProbeOptions,
} from "./src/feature.ts";
/** ky's types, re-exported for `failover.ky` and `kyOptions`. */
export type { KyInstance, Options as KyOptions } from "ky";
