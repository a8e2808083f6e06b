/**
 * Token and cost accounting, and spending budgets per endpoint.
 *
 * The `usage()` feature reads the `usage` that OpenAI-compatible APIs put
 * in their answers and counts it per endpoint and per model (as the model
 * was sent to that endpoint): calls, input tokens (cached ones included),
 * cached input tokens and output tokens — and what they cost, from prices
 * in USD per million tokens (the endpoint's own `prices` over the pool's;
 * the name the endpoint was sent over the name the caller asked for).
 * `status()` shows each endpoint's figures, `report()` the pool's, and an
 * `onEvent` hears a `"usage"` event per answered call that reported usage.
 *
 * It reads every 2xx answer as the caller reads it, without delaying or
 * keeping it: a JSON body's `usage` (chat completions, completions and
 * embeddings: `prompt_tokens` / `completion_tokens`; the Responses and
 * Images APIs: `input_tokens` / `output_tokens`; cached input from
 * `prompt_tokens_details` / `input_tokens_details`, DeepSeek's
 * `prompt_cache_hit_tokens` and Anthropic's `cache_read_input_tokens`),
 * and a server-sent event stream's last usage (a chat stream asked with
 * `stream_options: { include_usage: true }`, a Responses API stream's
 * `response.completed`). A call counts once its body was read to the end,
 * or a stream to its last event (`data: [DONE]`, `response.completed`),
 * where a client may stop and cancel the rest (the OpenAI SDK does); a
 * body the caller cancels before that, or that breaks, is not counted. A
 * body the pool read whole (any non-stream answer up to `bufferLimit`)
 * counts as the attempt settles. An answer that reports no usage counts
 * as a call, and as `unmetered`.
 *
 * An endpoint's `budget: { usd, window }` caps what it spends within a
 * sliding window of `window` ms: once it spent `usd`, it takes no call —
 * they go to the other endpoints — until enough of that spending is older
 * than `window`; a call that no endpoint under its budget may take fails
 * at once, without a request, with a `FailoverError` saying which budgets
 * ran out and when each comes back. Only spending whose price is known
 * counts toward a budget, and a call already under way when a budget runs
 * out still counts, so an endpoint may overshoot its budget by what its
 * calls in flight cost. `"budget"` events say when an endpoint runs out
 * and when it takes calls again. With a shared store (`sharedState()`), a
 * budget is the fleet's: every instance counts what each spends, and one
 * that starts while a budget is out keeps that endpoint out until the same
 * time; `report()` stays this instance's own.
 *
 * @example Count tokens and cost
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { usage } from "@ky-failover/ky-failover/usage";
 *
 * const tokens = usage({ prices: { "gpt-4.1": { input: 2, output: 8 } } });
 * using pool = createPool({
 *   endpoints: [{ name: "openai", url: "https://api.openai.com/v1", apiKey: "sk-a" }],
 *   features: [tokens],
 *   // Stands in for the network here.
 *   fetch: () =>
 *     Promise.resolve(Response.json({
 *       model: "gpt-4.1",
 *       usage: { prompt_tokens: 1000, completion_tokens: 100 },
 *     })),
 * });
 * const answer = await pool.fetch("https://api.openai.com/v1/chat/completions", {
 *   method: "POST",
 *   body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
 * });
 * await answer.json();
 * console.assert(tokens.report().total.costUsd === 0.0028);
 * console.assert(pool.status()[0].usage?.outputTokens === 100);
 * ```
 *
 * @example A budget of $5 an hour on the primary
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { usage } from "@ky-failover/ky-failover/usage";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "primary", url: "https://api.openai.com/v1", apiKey: "sk-a", priority: 1, budget: { usd: 5, window: 3_600_000 } },
 *     { name: "backup", url: "https://api.deepseek.com/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 *   features: [usage({ prices: { "gpt-4.1": 8, "deepseek-chat": 0.42 } })],
 * });
 * console.assert(pool.status()[0].usage?.budget?.exhausted === false);
 * ```
 *
 * @module
 */

import type { Prices } from "../provider_types.ts";
import { resolveUsage, type UsageFeature, usageFeature } from "./_feature.ts";

export type { UsageFeature } from "./_feature.ts";

/**
 * Options of {@linkcode usage}.
 *
 * @example
 * ```ts
 * import type { UsageOptions } from "@ky-failover/ky-failover/usage";
 *
 * const options: UsageOptions = {
 *   prices: { "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 }, "deepseek-chat": 0.42 },
 * };
 * ```
 */
export interface UsageOptions {
  /**
   * The pool's prices in USD per million tokens, by model; an endpoint's
   * own `prices` come first. A model with no known price is counted in
   * tokens, and the totals that include its tokens have no `costUsd`.
   */
  prices?: Prices | undefined;
}

/**
 * The usage feature (see the module documentation). Reads each
 * endpoint's `prices` and `budget` options. Invalid options throw a
 * `TypeError` naming the field: `usage.prices["gpt-4.1"].input …` here,
 * `options.endpoints[0].budget.usd …` when the pool is created. A
 * `usage()` joins one pool: make one per pool.
 *
 * @example
 * ```ts
 * import { usage } from "@ky-failover/ky-failover/usage";
 *
 * const tokens = usage({ prices: { "deepseek-chat": 0.42 } });
 * console.assert(tokens.name === "usage");
 * ```
 */
export function usage(options: UsageOptions = {}): UsageFeature {
  return usageFeature(resolveUsage(options, "usage"));
}
