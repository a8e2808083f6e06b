// An endpoint's budget: what it spent within a sliding window of time, and
// whether that reached its limit. Spending is kept per clock millisecond
// and leaves the window `window` ms after it was made; once the endpoint
// is over its limit, one timer waits for the moment enough spending has
// left for it to take calls again.

import { roundUsd } from "../_prices.ts";
import {
  check,
  isNumber,
  MAX_TIMER_MS,
  rule,
  type Spec,
} from "../_validate.ts";
import type { BudgetOptions, BudgetStatus } from "../provider_types.ts";
import type { Clock } from "../types.ts";

const BUDGET: Spec<BudgetOptions> = {
  usd: [rule(
    (v) => isNumber(v) && Number.isFinite(v) && v > 0,
    "a finite number of USD above 0",
  )],
  window: [rule(
    (v) => isNumber(v) && Number.isInteger(v) && v >= 1 && v <= MAX_TIMER_MS,
    `an integer number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  )],
};

/** Checks an endpoint's `budget` (`field` names it in errors). */
export function resolveBudget(
  v: unknown,
  field: string,
): BudgetOptions | undefined {
  return v === undefined || v === null ? undefined : check(v, BUDGET, field);
}

/** One endpoint's budget, as it runs. */
export interface BudgetWindow {
  /** Whether it takes calls: it is not over its limit. */
  open(): boolean;
  /** Adds what a call cost, now. */
  spend(usd: number): void;
  /**
   * Keeps the endpoint out until `until`: another instance's budget ran
   * out before this one started counting (a shared store told it).
   */
  hold(until: number): void;
  status(): BudgetStatus;
  /** Clears its timer. */
  close(): void;
}

/**
 * The budget `usd` per `window` ms on `clock`; `changed` hears it run out
 * (with the status saying until when) and come back.
 */
export function budgetWindow(
  { usd, window }: BudgetOptions,
  clock: Clock,
  changed: (status: BudgetStatus) => void,
): BudgetWindow {
  /** Spending within the window, oldest first. */
  const spends: { at: number; usd: number }[] = [];
  let spent = 0;
  /** While over the limit: when it takes calls again. */
  let until: number | undefined;
  let timer: unknown;
  let closed = false;
  /** Held out until then by another instance's word (see `hold`). */
  let held = -Infinity;

  /** Drops spending that left the window by `now`. */
  function prune(now: number): void {
    while (spends.length > 0 && spends[0].at + window <= now) {
      spent = roundUsd(spent - spends.shift()!.usd);
    }
    if (spends.length === 0) spent = 0;
  }

  /** When enough spending has left the window to be under the limit. */
  function backAt(): number {
    let left = spent;
    for (const spend of spends) {
      left = roundUsd(left - spend.usd);
      if (left < usd) return spend.at + window;
    }
    return spends.at(-1)!.at + window;
  }

  function status(now: number): BudgetStatus {
    prune(now);
    const end = held > now ? Math.max(held, until ?? -Infinity) : until;
    return {
      usd,
      windowMs: window,
      spentUsd: spent,
      exhausted: end !== undefined,
      until: end,
    };
  }

  /** Moves to over or under the limit by what was spent by `now`. */
  function update(now: number): void {
    prune(now);
    if (spent >= usd) {
      const next = backAt();
      const was = until;
      if (next !== until || timer === undefined) {
        until = next;
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = clock.setTimeout(wake, Math.max(1, next - now));
      }
      if (was === undefined) changed(status(now));
    } else if (until !== undefined) {
      until = undefined;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      changed(status(now));
    }
  }

  function wake(): void {
    timer = undefined;
    if (!closed) update(clock.now());
  }

  return {
    open() {
      // A timer that fires late must not keep the endpoint out past `until`.
      const now = clock.now();
      if (until !== undefined && until <= now) update(now);
      return until === undefined && held <= now;
    },
    hold(end) {
      if (end > held) held = end;
    },
    spend(cost) {
      if (closed || !(cost > 0)) return;
      const now = clock.now();
      const last = spends.at(-1);
      if (last !== undefined && last.at === now) {
        last.usd = roundUsd(last.usd + cost);
      } else spends.push({ at: now, usd: cost });
      spent = roundUsd(spent + cost);
      update(now);
    },
    status: () => status(clock.now()),
    close() {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
