/**
 * Active health checks (the seed's "doctor"): `GET {url}/{path}` with each
 * endpoint's own credentials, so the pool learns an endpoint's health before
 * a user request pays for it.
 *
 * - Periodic, per endpoint, every `interval` ms ± `jitter` (so many clients
 *   do not probe in lockstep); the first probe comes within
 *   `jitter × interval` of creating the pool.
 * - At most one probe in flight per endpoint; each bounded by `timeout`.
 * - A 2xx answer is a success: it resets the failure count and closes an
 *   open or half-open breaker at once. Anything else (other status, network
 *   error, timeout) is a failure and counts toward the breaker's
 *   `failureThreshold` like a failed request. A 429 only benches.
 * - With health checks on, an open breaker recovers through a probe sent
 *   when its cooldown ends — never through user traffic — so a recovering
 *   endpoint is not hit by a burst.
 * - `close()` stops every timer and aborts probes in flight.
 *
 * @module
 */

import type { Endpoint } from "./_endpoint.ts";
import type { Pool } from "./_pool.ts";
import { targetUrl } from "./_transport.ts";
import { AttemptTimeoutError, describeError } from "./errors.ts";
import { recordHealth, refreshBreaker } from "./middleware/breaker.ts";
import { benchForRateLimit } from "./middleware/failover.ts";

/** Health-check settings after validation. */
export interface HealthCheckSettings {
  path: string;
  interval: number;
  timeout: number;
  jitter: number;
}

/** Runs probes for one pool. */
export interface HealthChecker {
  /** Probes every endpoint now (joining probes already in flight). */
  checkAll(): Promise<void>;
  /** Stops every timer and aborts probes in flight. */
  stop(): void;
}

/** Starts the checker; periodic probes only when `periodic` is true. */
export function startHealthChecks(
  pool: Pool,
  settings: HealthCheckSettings,
  periodic: boolean,
): HealthChecker {
  const { clock, random } = pool.options;
  const timers = new Map<Endpoint, unknown>();
  const inFlight = new Map<Endpoint, Promise<void>>();
  const controllers = new Set<AbortController>();
  let stopped = false;

  const spread = (ms: number) =>
    ms * (1 - settings.jitter + 2 * settings.jitter * random());

  function schedule(endpoint: Endpoint, delay: number): void {
    if (stopped) return;
    const existing = timers.get(endpoint);
    if (existing !== undefined) clock.clearTimeout(existing);
    timers.set(
      endpoint,
      clock.setTimeout(() => {
        timers.delete(endpoint);
        void probe(endpoint).then(() => {
          if (periodic && !timers.has(endpoint)) {
            schedule(endpoint, spread(settings.interval));
          }
        });
      }, Math.max(0, delay)),
    );
  }

  async function run(endpoint: Endpoint): Promise<void> {
    const controller = new AbortController();
    controllers.add(controller);
    const timer = clock.setTimeout(
      () =>
        controller.abort(
          new AttemptTimeoutError(endpoint.name, settings.timeout),
        ),
      settings.timeout,
    );
    const started = clock.now();
    let status: number | undefined;
    let error: unknown;
    let response: Response | undefined;
    try {
      response = await (pool.options.fetch ?? globalThis.fetch)(
        targetUrl(endpoint, `/${settings.path}`),
        {
          method: "GET",
          headers: endpoint.secretHeaders(),
          signal: controller.signal,
        },
      );
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (e) {
      error = controller.signal.aborted ? controller.signal.reason : e;
    } finally {
      clock.clearTimeout(timer);
      controllers.delete(controller);
    }
    if (stopped) return;
    const now = clock.now();
    const ok = status !== undefined && status >= 200 && status < 300;
    endpoint.lastCheckAt = now;
    if (pool.listening) {
      pool.emit({
        type: "health-check",
        endpoint: endpoint.name,
        ok,
        ...(status === undefined ? { error } : { status }),
        durationMs: now - started,
      });
    }
    if (status === 429) {
      benchForRateLimit(pool, endpoint, response!, now);
      return;
    }
    refreshBreaker(pool, endpoint, now);
    if (ok) {
      endpoint.recordSuccess();
      recordHealth(pool, endpoint, "success", now);
    } else {
      endpoint.recordFailure(
        status === undefined ? describeError(error) : `HTTP ${status}`,
        now,
        false,
      );
      recordHealth(pool, endpoint, "failure", now);
    }
  }

  function probe(endpoint: Endpoint): Promise<void> {
    if (stopped) return Promise.resolve();
    let pending = inFlight.get(endpoint);
    if (pending === undefined) {
      pending = run(endpoint).finally(() => inFlight.delete(endpoint));
      inFlight.set(endpoint, pending);
    }
    return pending;
  }

  if (periodic) {
    pool.probesRecovery = true;
    pool.onBreakerOpen = (endpoint) =>
      schedule(endpoint, endpoint.openUntil - clock.now());
    for (const endpoint of pool.endpoints) {
      schedule(endpoint, settings.interval * settings.jitter * random());
    }
  }

  return {
    checkAll: async () => {
      await Promise.all(pool.endpoints.map(probe));
    },
    stop() {
      stopped = true;
      for (const handle of timers.values()) clock.clearTimeout(handle);
      timers.clear();
      for (const controller of controllers) controller.abort();
    },
  };
}
