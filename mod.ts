/**
 * ky-failover keeps calls to AI APIs (OpenAI-compatible `chat/completions`,
 * `models`, `embeddings` …) succeeding when a region or provider is down,
 * slow or rate-limiting. Give it a pool of endpoints; every request goes to
 * a healthy one, moves to another in milliseconds when it fails, and stays
 * off sick endpoints until they recover.
 *
 * Use it as a ky instance (`api.ky`) or as a standard `fetch` (`api.fetch`)
 * for the OpenAI SDK, the Vercel AI SDK, LangChain or your own code. This
 * entry is `createFailover`, the batteries-included preset, and everything
 * of `./core` (`createPool`, errors, types); `./core` alone has no ky, and
 * each feature is its own entry (`./health-check`, `./hedge`, …).
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

export * from "./core.ts";
export { createFailover } from "./src/failover.ts";
export type { Failover, FailoverOptions, Strategy } from "./src/failover.ts";
export type { HealthCheckOptions } from "./src/health_check/mod.ts";
export type { HedgeOptions } from "./src/hedge/mod.ts";
export type { RetryBudgetOptions } from "./src/retry_budget/mod.ts";
export type { FailoverRule } from "./src/failover_on/mod.ts";
/** ky's types, re-exported for `failover.ky` and `kyOptions`. */
export type { KyInstance, Options as KyOptions } from "ky";
