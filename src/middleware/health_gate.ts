/**
 * Health gate middleware: decides which endpoints the picker may choose for
 * this attempt.
 *
 * Candidates are the endpoints not yet tried in this call whose breaker lets
 * traffic through and that are not rate-limited, from the best (lowest)
 * priority tier that has any. When none is available:
 *
 * - if the endpoint that recovers soonest is rate-limited and its wait fits
 *   in what is left of `totalTimeout`, wait for it (the only time a call
 *   sleeps);
 * - otherwise, for a call's first attempt only, try the soonest-recovering
 *   endpoint that is not rate-limited anyway (**panic mode**): a guess of
 *   ours should not fail a call without a request — but in a total outage a
 *   call makes that one attempt and no more, and a failed panic attempt
 *   re-opens its breaker with a longer cooldown (see the breaker), so an
 *   outage costs about one request per call;
 * - a call that already made an attempt, or whose every endpoint is
 *   rate-limited past its budget, ends with what it has (the last answer,
 *   or a `FailoverError` that says why).
 *
 * Once every endpoint has been tried and attempts remain (`maxAttempts`),
 * the endpoints become eligible again.
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt, Call } from "../_context.ts";
import type { Endpoint } from "../_endpoint.ts";
import type { Pool } from "../_pool.ts";
import { sleep } from "../_sleep.ts";
import { refreshBreaker } from "./breaker.ts";

function soonestFirst(now: number) {
  return (a: Endpoint, b: Endpoint) =>
    a.availableAt(now) - b.availableAt(now) || a.priority - b.priority ||
    a.index - b.index;
}

/**
 * Whether `endpoint` may take `call`'s next attempt without panic: not yet
 * tried in this call, and available (breaker, rate limit, probes).
 */
export function isCandidate(
  call: Call,
  endpoint: Endpoint,
  now: number,
): boolean {
  return !call.tried.has(endpoint.name) && endpoint.isAvailable(now);
}

/** Why each endpoint is out, e.g. `hk: open for 5000 ms, sg: rate-limited for 800 ms`. */
function describeBenches(endpoints: readonly Endpoint[], now: number): string {
  return endpoints.map((e) => {
    const state = e.status(now).state;
    const ms = Math.round(e.availableAt(now) - now);
    return ms > 0 ? `${e.name}: ${state} for ${ms} ms` : `${e.name}: ${state}`;
  }).join(", ");
}

/** The health gate middleware. */
export function healthGate(pool: Pool): Handler<Attempt> {
  const clock = pool.options.clock;
  // Synchronous unless it has to wait: `next()`'s promise is handed back as
  // it is, without another async frame around it on every attempt.
  const gate = (
    ctx: Attempt,
    next: () => Promise<void>,
  ): Promise<void> | void => {
    const call = ctx.call;
    if (call.abortKind !== undefined) {
      ctx.verdict = "aborted";
      return;
    }
    const now = clock.now();
    for (const endpoint of pool.endpoints) {
      refreshBreaker(pool, endpoint, now);
    }
    if (call.tried.size >= pool.endpoints.length) call.tried.clear();

    for (const tier of pool.tiers) {
      const candidates = tier.filter((e) => isCandidate(call, e, now));
      if (candidates.length > 0) {
        ctx.candidates = candidates;
        return next();
      }
    }

    const untried = pool.endpoints.filter((e) => !call.tried.has(e.name))
      .sort(soonestFirst(now));
    const soonest = untried[0];
    if (soonest.limitedUntil > now && soonest.breaker !== "open") {
      const wait = soonest.limitedUntil - now;
      if (now + wait <= call.deadline) {
        const controller = new AbortController();
        const stop = { cancel: (reason: unknown) => controller.abort(reason) };
        call.onAbort.add(stop);
        return sleep(clock, wait, controller.signal).then(
          () => {
            call.onAbort.delete(stop);
            return gate(ctx, next);
          },
          () => void (ctx.verdict = "aborted"),
        );
      }
    }
    const panic = untried.find((e) => e.limitedUntil <= now);
    if (panic === undefined) {
      call.exhaustedReason =
        `every endpoint is rate-limited past the remaining totalTimeout (${soonest.name} for ${
          Math.round(soonest.limitedUntil - now)
        } ms)`;
      ctx.verdict = "exhausted";
      return;
    }
    if (call.attempts.length > 0) {
      call.exhaustedReason = `no other endpoint is available (${
        describeBenches(untried, now)
      })`;
      ctx.verdict = "exhausted";
      return;
    }
    ctx.candidates = [panic];
    ctx.panic = true;
    return next();
  };
  return gate;
}
