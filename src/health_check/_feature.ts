// The health-check feature over resolved settings: the schedule of probes
// (see mod.ts for the rules).

import type { Feature, FeatureEndpoint } from "../feature.ts";
import { MAX_TIMER_MS } from "../_validate.ts";
import type { HealthCheckSettings } from "./_options.ts";

/** The feature for settings already resolved (the preset's way in). */
export function healthCheckFeature(settings: HealthCheckSettings): Feature {
  return {
    name: "health-check",
    attach(host) {
      const { clock, random } = host;
      const probeOptions = { path: settings.path, timeout: settings.timeout };
      const timers = new Map<FeatureEndpoint, unknown>();
      /** When each endpoint's next probe is due. */
      const due = new Map<FeatureEndpoint, number>();
      const byName = new Map(host.endpoints.map((e) => [e.name, e]));
      let stopped = false;

      const spread = (ms: number) =>
        Math.min(
          ms * (1 - settings.jitter + 2 * settings.jitter * random()),
          MAX_TIMER_MS,
        );

      function schedule(endpoint: FeatureEndpoint, delay: number): void {
        if (stopped) return;
        const existing = timers.get(endpoint);
        if (existing !== undefined) clock.clearTimeout(existing);
        due.set(endpoint, clock.now() + Math.max(0, delay));
        const handle = clock.setTimeout(() => {
          timers.delete(endpoint);
          due.delete(endpoint);
          void host.probe(endpoint.name, probeOptions).then(() => {
            if (!timers.has(endpoint)) {
              schedule(endpoint, spread(settings.interval));
            }
          });
        }, Math.max(0, delay));
        // Background work: where the runtime allows it (Node, Deno, Bun),
        // the wait for the next probe never keeps a process alive alone.
        (handle as { unref?: () => unknown } | undefined)?.unref?.();
        timers.set(endpoint, handle);
      }

      const probed = host.endpoints.filter((e) => e.probes);
      for (const endpoint of probed) {
        host.recoverByProbes(endpoint.name);
        schedule(endpoint, settings.interval * settings.jitter * random());
      }

      return {
        /**
         * A breaker opened by user traffic: probe the endpoint when its
         * cooldown ends, if that comes before its next regular probe. (A
         * probe that opened it re-arms the regular interval when it ends.)
         */
        onBreakerOpen(name, until) {
          const endpoint = byName.get(name)!;
          if (!endpoint.probes || host.probing(name)) return;
          const next = due.get(endpoint);
          if (next === undefined || until < next) {
            schedule(endpoint, until - clock.now());
          }
        },
        async checkHealth() {
          await Promise.all(
            host.endpoints.map((e) => host.probe(e.name, probeOptions)),
          );
        },
        close() {
          stopped = true;
          for (const handle of timers.values()) clock.clearTimeout(handle);
          timers.clear();
        },
      };
    },
  };
}
