/**
 * Retry budget middleware: keeps failovers (every attempt after a call's
 * first) under a share of recent traffic, so that a fleet-wide outage cannot
 * multiply the load on a struggling provider by `maxAttempts`.
 *
 * Over a sliding `window` (10 one-tenth buckets), a retry is allowed while
 *
 *     retries + 1 ≤ minPerSecond × window/1000 + ratio × calls
 *
 * With the defaults (`ratio: 0.3`, `minPerSecond: 10`, `window: 10_000`) a
 * quiet client may always retry (up to 100 retries per 10 s), and a busy one
 * sends at most 1.3 × its calls plus that floor — whereas 20 % of calls
 * failing at random, retried up to twice, needs only ≈ 0.24 retries per call.
 * A call denied a retry ends with what it has: the last answer (fetch) or a
 * `FailoverError` saying "retry budget exhausted".
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";

const BUCKETS = 10;

/** The retry budget middleware (a pass-through when the budget is off). */
export function retryBudget(pool: Pool): Handler<Attempt> {
  const settings = pool.options.retryBudget;
  if (settings === false) return (_ctx, next) => next();
  const { ratio, minPerSecond, window } = settings;
  const { clock } = pool.options;
  const span = window / BUCKETS;
  const calls = new Array<number>(BUCKETS).fill(0);
  const retries = new Array<number>(BUCKETS).fill(0);
  let current = Math.floor(clock.now() / span);
  let callSum = 0;
  let retrySum = 0;

  const rotate = (now: number) => {
    const bucket = Math.floor(now / span);
    const steps = Math.min(bucket - current, BUCKETS);
    for (let k = 1; k <= steps; k++) {
      const i = (current + k) % BUCKETS;
      callSum -= calls[i];
      retrySum -= retries[i];
      calls[i] = 0;
      retries[i] = 0;
    }
    if (bucket > current) current = bucket;
    return current % BUCKETS;
  };
  const floor = minPerSecond * window / 1000;

  return (ctx, next) => {
    const i = rotate(clock.now());
    if (ctx.attempt === 1) {
      calls[i] += 1;
      callSum += 1;
      return next();
    }
    if (retrySum + 1 > floor + ratio * callSum) {
      ctx.call.exhaustedReason =
        `retry budget exhausted (${retrySum} retries for ${callSum} calls in the last ${window} ms)`;
      ctx.verdict = "exhausted";
      return;
    }
    retries[i] += 1;
    retrySum += 1;
    return next();
  };
}
