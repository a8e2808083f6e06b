/**
 * Retry budget middleware: a token bucket in the style of gRPC retry
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
 * endpoints send 105 requests (3 + 3 + 2 + 97) instead of 300, whether
 * they come one a minute or a thousand a second. A call denied a retry
 * ends with what it has: the last answer (fetch) or a `FailoverError`
 * saying "retry budget exhausted".
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";

/** The retry budget middleware (a pass-through when the budget is off). */
export function retryBudget(pool: Pool): Handler<Attempt> {
  const settings = pool.options.retryBudget;
  if (settings === false) return (_ctx, next) => next();
  const { ratio, maxTokens } = settings;
  const threshold = maxTokens / 2;
  let tokens = maxTokens;

  /** Takes a token for a failed retry; puts `ratio` back for an answer. */
  const account = (ctx: Attempt) => {
    if (ctx.target === undefined) return; // nothing was sent
    if (ctx.verdict === "failover") {
      if (ctx.attempt > 1) tokens = Math.max(0, tokens - 1);
    } else if (ctx.verdict === "success" || ctx.verdict === "final") {
      tokens = Math.min(maxTokens, tokens + ratio);
    }
  };

  return (ctx, next) => {
    if (ctx.attempt > 1 && tokens <= threshold) {
      ctx.call.exhaustedReason = `retry budget exhausted (${
        Math.round(tokens * 10) / 10
      } of ${maxTokens} tokens; retries resume above ${threshold})`;
      ctx.verdict = "exhausted";
      return;
    }
    return next().then(() => account(ctx));
  };
}
