// A pool over the loopback region farm with priorities 1, 2, 3 … in farm
// order, each region's own key (`sk-<name>`), short timeouts (attempt 2 s,
// stream idle 1 s) on a manual clock, and an event log: the set-up the
// socket tests share.

import { ManualClock } from "./_manual_clock.ts";
import type { Farm } from "./_region_farm.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
} from "ky-failover";

/** Builds the pool; `extra` options win (a `clock` in it is used). */
export function farmPool(farm: Farm, extra: Partial<FailoverOptions> = {}) {
  const clock = (extra.clock as ManualClock | undefined) ?? new ManualClock();
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: farm.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
    })),
    timeout: 2_000,
    streamIdleTimeout: 1_000,
    onEvent: (e) => events.push(e),
    ...extra,
    clock,
  });
  return { api, clock, events };
}
