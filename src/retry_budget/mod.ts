/**
 * The retry budget: a token bucket in the style of gRPC retry
 * throttling, so that an outage everywhere cannot multiply the load on a
 * struggling provider by `maxAttempts`, at any call rate.
 *
 * The bucket holds up to `maxTokens` (default 10) and starts full. Every
 * retry — an attempt after a call's first — that fails over (network error,
 * timeout, 408, 429, 5xx …) takes one token; every attempt that answers
 * (success or a final answer) puts `ratio` (default 0.5) back. A retry is
 * made only while the bucket holds more than half of `maxTokens`.
 *
 * A call's first attempt never takes a token: it is traffic the caller
 * sends anyway, and a failed first attempt followed by a good retry is
 * failover doing its job — a dead primary behind a healthy backup keeps
 * every call succeeding (with gRPC's rule, where every failure drains,
 * such a pool would stop retrying for good: nothing but retries could
 * refill the bucket). What drains it is retries that fail too — an outage
 * on more than one endpoint. So, at any call rate, failed retries stay near
 * `ratio` per answered attempt after a burst of about `maxTokens / 2`: in a
 * total outage with `breaker: false`, 100 sequential calls over three
 * endpoints send 115 requests instead of 300 (see below), whether
 * they come one a minute or a thousand a second. A call denied a retry
 * ends with what it has: the last answer (fetch) or a `FailoverError`
 * saying "retry budget exhausted".
 *
 * One denied retry in ten goes through anyway, as a trial. Without it a
 * drained bucket could never refill when the endpoint every call tries
 * first stays down (no breaker to take it out): its calls make no retry,
 * so nothing answers, so no token comes back — even after the backups
 * recovered. The trials cost one request per nine calls in a total outage
 * (3 + 3 + 2, then one per call and a trial every ninth: 115 for 100
 * calls with `breaker: false`) and let the first trial that reaches a
 * recovered backup refill the bucket.
 *
 * @example Keep the default budget on a core pool
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { retryBudget } from "@ky-failover/ky-failover/retry-budget";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" },
 *     { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
 *   ],
 *   features: [retryBudget()],
 * });
 * console.assert(pool.status().length === 2);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import {
  resolveRetryBudget,
  retryBudgetFeature,
  type RetryBudgetSettings,
} from "./_feature.ts";

/**
 * Retry budget settings (a token bucket in the style of gRPC retry
 * throttling); see {@linkcode retryBudget}.
 */
export interface RetryBudgetOptions {
  /**
   * Tokens an answered attempt puts back; a retry that fails takes one.
   * Failed retries stay near this many per answered attempt. Default `0.5`.
   */
  ratio?: number | undefined;
  /**
   * Size of the bucket, which starts full. Retries stop while it holds
   * half of this or less. Default `10`.
   */
  maxTokens?: number | undefined;
}

/**
 * The retry budget feature. Invalid options throw a `TypeError` naming the
 * field (`retryBudget.ratio …`).
 *
 * @example
 * ```ts
 * import { retryBudget } from "@ky-failover/ky-failover/retry-budget";
 *
 * console.assert(retryBudget({ ratio: 0.2 }).name === "retry-budget");
 * ```
 */
export function retryBudget(options: RetryBudgetOptions = {}): Feature {
  return retryBudgetFeature(
    resolveRetryBudget(options, "retryBudget") as RetryBudgetSettings,
  );
}
