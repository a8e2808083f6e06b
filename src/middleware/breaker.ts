/**
 * Circuit breaker middleware ("automatic fuse"). Per endpoint:
 *
 * - **closed** → **open** after `failureThreshold` consecutive failures
 *   (network error, per-attempt timeout, 408, 5xx) — more, up to twice
 *   that, when the endpoint's recent error rate makes such a run likely by
 *   chance (see `Endpoint.failedEnough`), so random errors do not bench an
 *   endpoint that mostly works. An open endpoint gets no traffic (except in
 *   panic mode, when nothing else is available).
 * - **open** → **half-open** once `cooldown` has passed. One request at a
 *   time is let through as a probe.
 * - **half-open** → **closed** when the probe succeeds; → **open** again
 *   when it fails, with a cooldown of `cooldown × times opened in a row`,
 *   capped at `maxCooldown`. A panic attempt that fails while the breaker
 *   is open re-opens it the same way.
 *
 * Answers that are not failures (2xx–4xx except 408/429) reset the count.
 * 429 is neutral: the rate-limit table benches the endpoint instead.
 *
 * @module
 */

import type { Attempt } from "../_context.ts";
import type { Steps } from "../_steps.ts";
import type { Endpoint } from "../_endpoint.ts";
import type { Pool } from "../_pool.ts";
import type { BreakerState } from "../types.ts";

function transition(
  pool: Pool,
  endpoint: Endpoint,
  to: BreakerState,
  cooldownMs?: number,
): void {
  const from = endpoint.breaker;
  endpoint.breaker = to;
  if (to !== "half-open") endpoint.forgetErrors();
  if (pool.listening) {
    pool.emit({
      type: "breaker",
      endpoint: endpoint.name,
      from,
      to,
      ...(cooldownMs === undefined ? {} : { cooldownMs }),
    });
  }
}

/** Moves an open breaker whose cooldown has passed to half-open. */
export function refreshBreaker(
  pool: Pool,
  endpoint: Endpoint,
  now: number,
): void {
  if (endpoint.breaker === "open" && now >= endpoint.openUntil) {
    transition(pool, endpoint, "half-open");
  }
}

/**
 * Applies an attempt's health verdict to the endpoint's breaker. A failed
 * `panic` attempt — sent to an open endpoint because nothing else was
 * available — re-opens it with the next, longer cooldown, so that a total
 * outage spreads its few attempts ever more thinly. Any other failure that
 * lands while the breaker is open (an attempt sent before it opened, a
 * probe, a stall) leaves the cooldown as it is.
 */
export function recordHealth(
  pool: Pool,
  endpoint: Endpoint,
  health: "success" | "failure" | "neutral",
  now: number,
  panic = false,
): void {
  const settings = pool.options.breaker;
  if (settings === false || health === "neutral") return;
  if (health === "success") {
    endpoint.timesOpened = 0;
    if (endpoint.breaker !== "closed") transition(pool, endpoint, "closed");
    return;
  }
  const reopen = endpoint.breaker === "half-open" ||
    (endpoint.breaker === "open" && panic);
  const trip = endpoint.breaker === "closed" &&
    endpoint.failedEnough(settings.failureThreshold);
  if (!reopen && !trip) return;
  endpoint.timesOpened += 1;
  const cooldown = Math.min(
    settings.cooldown * endpoint.timesOpened,
    settings.maxCooldown,
  );
  endpoint.openUntil = now + cooldown;
  transition(pool, endpoint, "open", cooldown);
  pool.onBreakerOpen?.(endpoint);
}

/**
 * The breaker middleware: takes the half-open probe permit before the
 * attempt and feeds the attempt's health verdict to the breaker after it.
 */
export function breaker(pool: Pool): Steps<Attempt> {
  return {
    before(ctx) {
      const endpoint = ctx.target!;
      if (endpoint.breaker === "half-open" && !endpoint.probeInFlight) {
        endpoint.probeInFlight = true;
        ctx.probe = true;
      }
    },
    always(ctx) {
      if (ctx.probe) ctx.target!.probeInFlight = false;
    },
    after(ctx) {
      const now = ctx.finishedAt ?? pool.options.clock.now();
      recordHealth(pool, ctx.target!, ctx.health, now, ctx.panic);
    },
  };
}
