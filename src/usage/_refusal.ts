// Why a call cannot go anywhere when every endpoint left is over its
// budget, in words a log reader can act on.

import type { BudgetStatus } from "../provider_types.ts";

/** Clock times past 2000-01-01 are shown as dates too. */
const EPOCH_LIKE = Date.UTC(2000, 0, 1);

/** `until` as a reader wants it: in how long, and when. */
function back(until: number | undefined, now: number): string {
  if (until === undefined) return "back now";
  const at = until >= EPOCH_LIKE && until < 8.64e15
    ? new Date(until).toISOString()
    : `clock time ${until}`;
  return `back in ${Math.max(0, until - now)} ms, at ${at}`;
}

/**
 * E.g. `every endpoint that could take it is over its budget (primary:
 * spent $1.000000 of $1 in the last 3600000 ms, back in 1800000 ms, at
 * 2026-11-26T12:30:00.000Z)`.
 */
export function budgetRefusal(
  over: readonly [name: string, status: BudgetStatus][],
  now: number,
): string {
  return `every endpoint that could take it is over its budget (${
    over.map(([name, s]) =>
      `${name}: spent $${
        s.spentUsd.toFixed(6)
      } of $${s.usd} in the last ${s.windowMs} ms, ${back(s.until, now)}`
    ).join("; ")
  })`;
}
