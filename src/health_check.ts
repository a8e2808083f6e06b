/**
 * Active health checks (the seed's "doctor"): `GET {url}/{path}` with each
 * endpoint's own credentials, so the pool learns an endpoint's health before
 * a user request pays for it.
 *
 * - Periodic, per endpoint, every `interval` ms ± `jitter` (so many clients
 *   do not probe in lockstep), whatever the endpoint's state: an endpoint
 *   that is out keeps being probed at the interval, so it comes back with
 *   the first probe that passes, not when a cooldown ends. The first probe
 *   comes within `jitter × interval` of creating the pool. An endpoint
 *   whose breaker user traffic opened is also probed when its cooldown
 *   ends, if that comes first.
 * - Per endpoint: its own `healthCheck.path`, or `healthCheck: false` to
 *   never probe it (an endpoint with no cheap GET). Such an endpoint
 *   recovers through user traffic: one half-open trial at a time.
 * - At most one probe in flight per endpoint; each bounded by `timeout`.
 * - A 2xx answer is a success: it resets the failure count, ends any bench
 *   (a failed probe's, a rejected key's) and closes an open or half-open
 *   breaker at once.
 * - Anything else (other status, network error, timeout, a redirect to
 *   another origin) is a failure: the endpoint is benched as `"unhealthy"`
 *   — no traffic but panic — until a probe passes or a user attempt to it
 *   succeeds, for the breaker's `cooldown` at most (60 s without a
 *   breaker); the failure also counts toward the breaker's
 *   `failureThreshold` like a failed request. A 429 only benches, as a
 *   rate limit.
 * - The wait for the next probe is unref'd where the runtime allows it
 *   (Node, Deno, Bun): periodic checks never keep a process alive alone.
 *   `close()` stops every timer and aborts probes in flight.
 *
 * @module
 */

import type { Endpoint } from "./_endpoint.ts";
import { MAX_TIMER_MS } from "./_options.ts";
import { scrubError } from "./_redact.ts";
import type { Pool } from "./_pool.ts";
import { send } from "./_send.ts";
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

  const breaker = pool.options.breaker;
  /** How long a failed probe keeps an endpoint out, at most. */
  const unhealthyBench = breaker === false ? 60_000 : breaker.cooldown;
  /** The path probed on `endpoint`, or `false` for none. */
  const pathOf = (endpoint: Endpoint): string | false => {
    const own = endpoint.config.healthCheck;
    return own === false ? false : own?.path ?? settings.path;
  };

  const spread = (ms: number) =>
    Math.min(
      ms * (1 - settings.jitter + 2 * settings.jitter * random()),
      MAX_TIMER_MS,
    );
  /** When each endpoint's next probe is due. */
  const due = new Map<Endpoint, number>();

  function schedule(endpoint: Endpoint, delay: number): void {
    if (stopped) return;
    const existing = timers.get(endpoint);
    if (existing !== undefined) clock.clearTimeout(existing);
    due.set(endpoint, clock.now() + Math.max(0, delay));
    const handle = clock.setTimeout(() => {
      timers.delete(endpoint);
      due.delete(endpoint);
      void probe(endpoint).then(() => {
        if (!timers.has(endpoint)) {
          schedule(endpoint, spread(settings.interval));
        }
      });
    }, Math.max(0, delay));
    // Background work: where the runtime allows it (Node, Deno, Bun), the
    // wait for the next probe never keeps a process alive on its own.
    (handle as { unref?: () => unknown } | undefined)?.unref?.();
    timers.set(endpoint, handle);
  }

  /**
   * A breaker opened by user traffic: probe the endpoint when its cooldown
   * ends, if that comes before its next regular probe.
   */
  function probeAtCooldownEnd(endpoint: Endpoint): void {
    // A probe that opened it re-arms the regular interval when it ends.
    if (!endpoint.probesRecovery || inFlight.has(endpoint)) return;
    const next = due.get(endpoint);
    if (next === undefined || endpoint.openUntil < next) {
      schedule(endpoint, endpoint.openUntil - clock.now());
    }
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
      response = await send(
        pool.options.fetch ?? globalThis.fetch,
        endpoint.name,
        targetUrl(endpoint, `/${pathOf(endpoint)}`),
        {
          method: "GET",
          headers: endpoint.secretHeaders(),
          signal: controller.signal,
        },
      );
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (e) {
      error = controller.signal.aborted
        ? controller.signal.reason
        : scrubError(e, endpoint.querySecrets);
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
      endpoint.clearHealthBenches();
      recordHealth(pool, endpoint, "success", now);
    } else {
      endpoint.recordFailure(
        status === undefined ? describeError(error) : `HTTP ${status}`,
        now,
        false,
      );
      endpoint.unhealthyUntil = now + unhealthyBench;
      recordHealth(pool, endpoint, "failure", now);
    }
  }

  function probe(endpoint: Endpoint): Promise<void> {
    if (stopped || pathOf(endpoint) === false) return Promise.resolve();
    let pending = inFlight.get(endpoint);
    if (pending === undefined) {
      pending = run(endpoint).finally(() => inFlight.delete(endpoint));
      inFlight.set(endpoint, pending);
    }
    return pending;
  }

  if (periodic) {
    pool.onBreakerOpen = probeAtCooldownEnd;
    for (const endpoint of pool.endpoints) {
      if (pathOf(endpoint) === false) continue;
      endpoint.probesRecovery = true;
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
