// A pool over mocked regions with priorities 1, 2, 3 … in the given order,
// a manual clock and an event log: the set-up most behavioural tests share.

import { ManualClock } from "./_manual_clock.ts";
import { endpointsFor } from "./_msw_regions.ts";
import {
  createFailover,
  type Failover,
  type FailoverEvent,
  type FailoverOptions,
} from "ky-failover";

/** What {@linkcode tieredPool} returns. */
export interface TieredPool {
  clock: ManualClock;
  events: FailoverEvent[];
  api: Failover;
  /** Resolves once `count` events (in all) satisfy `predicate`. */
  seen(predicate: (e: FailoverEvent) => boolean, count?: number): Promise<void>;
}

/** Builds a pool over `names` with priorities 1, 2, 3 … and a manual clock. */
export function tieredPool(
  names: string[],
  extra: Partial<FailoverOptions> = {},
): TieredPool {
  const clock = (extra.clock as ManualClock | undefined) ?? new ManualClock();
  const events: FailoverEvent[] = [];
  const waiters = new Set<() => void>();
  const api = createFailover({
    endpoints: endpointsFor(names, (_, i) => ({ priority: i + 1 })),
    onEvent: (e) => {
      events.push(e);
      for (const check of [...waiters]) check();
    },
    ...extra,
    clock,
  });
  const seen = (predicate: (e: FailoverEvent) => boolean, count = 1) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (events.filter(predicate).length >= count) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  return { clock, events, api, seen };
}
