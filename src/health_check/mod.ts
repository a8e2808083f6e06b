/**
 * Active health checks (the seed's "doctor"): the pool probes each endpoint
 * — `GET {url}/{path}` with its own key — on a schedule, so that it learns
 * an endpoint's health before a user request pays for it, and brings an
 * endpoint back with the first probe that passes.
 *
 * - Periodic, per endpoint, every `interval` ms ± `jitter` (so many clients
 *   do not probe in lockstep), whatever the endpoint's state: an endpoint
 *   that is out keeps being probed at the interval, so it comes back with
 *   the first probe that passes, not when a cooldown ends. The first probe
 *   comes within `jitter × interval` of creating the pool. An endpoint
 *   whose breaker user traffic opened is also probed when its cooldown
 *   ends, if that comes first.
 * - An endpoint with `healthCheck: false` is never probed: it recovers
 *   through user traffic (one half-open trial at a time); one with its own
 *   `healthCheck.path` is probed there.
 * - What a probe does is the pool's rule: a 2xx resets the failure count,
 *   ends any bench (a failed probe's, a rejected key's) and closes an open
 *   or half-open breaker at once; any other answer, a network error, a
 *   timeout or a redirect to another origin benches the endpoint as
 *   `"unhealthy"` (no traffic but panic) until a probe passes or a user
 *   attempt succeeds, for the breaker's `cooldown` at most, and counts
 *   toward its `failureThreshold`; a 429 only benches, as a rate limit.
 *   At most one probe is in flight per endpoint.
 * - The wait for the next probe is unref'd where the runtime allows it
 *   (Node, Deno, Bun): periodic checks never keep a process alive alone.
 *   `close()` stops every timer and aborts probes in flight.
 * - `checkHealth()` probes every endpoint now with these settings.
 *
 * @example Probe every 10 s
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { healthCheck } from "@ky-failover/ky-failover/health-check";
 *
 * using pool = createPool({
 *   endpoints: [{ name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" }],
 *   features: [healthCheck({ interval: 10_000 })],
 * });
 * console.assert(pool.status()[0].state === "healthy");
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import { healthCheckFeature } from "./_feature.ts";
import { type HealthCheckSettings, resolveHealthCheck } from "./_options.ts";

/** Active health-check settings; see {@linkcode healthCheck}. */
export interface HealthCheckOptions {
  /** Path probed under each endpoint's url with `GET`. Default `"models"`. */
  path?: string | undefined;
  /** Time between two probes of one endpoint, in ms. Default `30_000`. */
  interval?: number | undefined;
  /** Probe timeout, in ms. Default `5_000`. */
  timeout?: number | undefined;
  /** Random spread of `interval`, as a fraction in [0, 1). Default `0.1`. */
  jitter?: number | undefined;
}

/**
 * The health-check feature. Invalid options throw a `TypeError` naming the
 * field (`healthCheck.interval …`).
 *
 * @example
 * ```ts
 * import { healthCheck } from "@ky-failover/ky-failover/health-check";
 *
 * const feature = healthCheck({ interval: 15_000, path: "models" });
 * console.assert(feature.name === "health-check");
 * ```
 */
export function healthCheck(options: HealthCheckOptions = {}): Feature {
  return healthCheckFeature(
    resolveHealthCheck(options, "healthCheck") as HealthCheckSettings,
  );
}
