/**
 * The real clock, used unless the `clock` option is given.
 *
 * @module
 */

import type { Clock } from "./types.ts";

/**
 * The real clock: `Date.now`, `setTimeout` and `clearTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from "@ky-failover/ky-failover";
 *
 * const handle = systemClock.setTimeout(() => {}, 10);
 * systemClock.clearTimeout(handle);
 * console.assert(systemClock.now() > 0);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
};
