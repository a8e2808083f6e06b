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
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";

/** A drained bucket lets every this-many-th denied retry through. */
const TRIAL_EVERY = 10;

/** The retry budget middleware (a pass-through when the budget is off). */
export function retryBudget(pool: Pool): Handler<Attempt> {
  const settings = pool.options.retryBudget;
  if (settings === false) return (_ctx, next) => next();
  const { ratio, maxTokens } = settings;
  const threshold = maxTokens / 2;
  let tokens = maxTokens;
  /** Retries denied since the last trial. */
  let denied = 0;

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
      denied += 1;
      if (denied < TRIAL_EVERY) {
        ctx.call.exhaustedReason = `retry budget exhausted (${
          Math.round(tokens * 10) / 10
        } of ${maxTokens} tokens; retries resume above ${threshold})`;
        ctx.verdict = "exhausted";
        return;
      }
      denied = 0; // this one is a trial
    }
    return next().then(() => account(ctx));
  };
}
