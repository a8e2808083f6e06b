/**
 * The health gate: decides which endpoints the picker may choose for
 * this attempt.
 *
 * Candidates are the endpoints not yet tried in this call that its route
 * accepts (a feature's: the models an endpoint serves, its budget), whose
 * breaker lets traffic through and that are not rate-limited, from the
 * best (lowest) priority tier that has any. An endpoint the route refuses
 * is never tried, not even in panic; when the route refuses every one, the
 * call ends with the route's reason. When none is available:
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
 * Once every accepted endpoint has been tried and attempts remain
 * (`maxAttempts`), they become eligible again.
 *
 * @module
 */

import type { Attempt, Call } from "./_call.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { PoolState } from "./_state.ts";
import { sleep } from "./_sleep.ts";

function soonestFirst(now: number) {
  return (a: Endpoint, b: Endpoint) =>
    a.availableAt(now) - b.availableAt(now) || a.priority - b.priority ||
    a.index - b.index;
}

/**
 * Whether `endpoint` may take `call`'s next attempt without panic: not yet
 * tried in this call, accepted by the call's route, and available
 * (breaker, benches, probes).
 */
export function isCandidate(
  call: Call,
  endpoint: Endpoint,
  now: number,
): boolean {
  return !call.tried.has(endpoint.name) &&
    (call.route?.accepts(endpoint.name) ?? true) && endpoint.isAvailable(now);
}

/**
 * The endpoints `call`'s route accepts (all without one); when that is
 * none, `undefined` with the call's `exhaustedReason` set.
 */
function eligible(
  state: PoolState,
  call: Call,
): readonly Endpoint[] | undefined {
  const route = call.route;
  if (route === undefined) return state.endpoints;
  const accepted = state.endpoints.filter((e) => route.accepts(e.name));
  if (accepted.length > 0) return accepted;
  call.exhaustedReason = route.refusal(state.endpoints.map((e) => e.name));
  return undefined;
}

/** Why each endpoint is out, e.g. `hk: open for 5000 ms, sg: rate-limited for 800 ms`. */
function describeBenches(endpoints: readonly Endpoint[], now: number): string {
  return endpoints.map((e) => {
    const state = e.status(now).state;
    const ms = Math.round(e.availableAt(now) - now);
    return ms > 0 ? `${e.name}: ${state} for ${ms} ms` : `${e.name}: ${state}`;
  }).join(", ");
}

/** The endpoints an attempt may go to, and whether that is panic. */
export interface Selection {
  candidates: Endpoint[];
  /** Tried although unavailable, because nothing else was. */
  panic: boolean;
}

/**
 * The endpoints `ctx` may go to, or `undefined` when it may go nowhere
 * (then `ctx.verdict` says why: `"aborted"` or `"exhausted"`, with the
 * call's `exhaustedReason`). Waits for a rate limit to end when that is
 * the only way forward and fits the call's deadline.
 */
export async function gate(
  state: PoolState,
  ctx: Attempt,
): Promise<Selection | undefined> {
  const clock = state.options.clock;
  const call = ctx.call;
  for (;;) {
    if (call.abortKind !== undefined) {
      ctx.verdict = "aborted";
      return undefined;
    }
    const now = clock.now();
    for (const endpoint of state.endpoints) endpoint.breaker.refresh(now);
    const endpoints = eligible(state, call);
    if (endpoints === undefined) {
      ctx.verdict = "exhausted";
      return undefined;
    }
    if (endpoints.every((e) => call.tried.has(e.name))) call.tried.clear();

    for (const tier of state.tiers) {
      const candidates = tier.filter((e) => isCandidate(call, e, now));
      if (candidates.length > 0) return { candidates, panic: false };
    }

    const untried = endpoints.filter((e) => !call.tried.has(e.name))
      .sort(soonestFirst(now));
    const soonest = untried[0];
    const limitedUntil = soonest.benchedUntil("rate-limited");
    if (limitedUntil > now && soonest.breaker.state !== "open") {
      const wait = limitedUntil - now;
      if (now + wait <= call.deadline) {
        const controller = new AbortController();
        const stop = { cancel: (reason: unknown) => controller.abort(reason) };
        call.onAbort.add(stop);
        try {
          await sleep(clock, wait, controller.signal);
        } catch {
          ctx.verdict = "aborted";
          return undefined;
        } finally {
          call.onAbort.delete(stop);
        }
        continue;
      }
    }
    const panic = untried.find((e) => e.benchedUntil("rate-limited") <= now);
    if (panic === undefined) {
      call.exhaustedReason =
        `every endpoint is rate-limited past the remaining totalTimeout (${soonest.name} for ${
          Math.round(limitedUntil - now)
        } ms)`;
      ctx.verdict = "exhausted";
      return undefined;
    }
    if (call.attempts.length > 0) {
      call.exhaustedReason = `no other endpoint is available (${
        describeBenches(untried, now)
      })`;
      ctx.verdict = "exhausted";
      return undefined;
    }
    return { candidates: [panic], panic: true };
  }
}
