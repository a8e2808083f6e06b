/**
 * The real clock, used unless the `clock` option is given.
 *
 * @module
 */

import type { Clock } from "./types.ts";

/** Whether the runtime has `performance.now()` and `performance.timeOrigin`. */
const perf = (globalThis as {
  performance?: { timeOrigin?: unknown; now?: unknown };
}).performance;
const monotonic = typeof perf?.timeOrigin === "number" &&
  typeof perf.now === "function";

/**
 * The real clock: `performance.timeOrigin + performance.now()`,
 * `setTimeout` and `clearTimeout`.
 *
 * `now()` is monotonic but epoch-like. Timeouts (`timeout`,
 * `totalTimeout`, `streamIdleTimeout`), benches and cooldowns are deadlines
 * compared against `now()`, and `Date.now` follows the wall clock, which
 * NTP, a user or a VM resume can step backwards (a deadline would then fire
 * late or never) or forwards (early). `performance.now()` never goes back;
 * adding `performance.timeOrigin` (the wall-clock time the runtime started,
 * fixed from then on) keeps the values milliseconds since the epoch (with a
 * fractional part), so times in `status()` and events (`availableAt`,
 * `lastErrorAt`, `until` …) still read as dates: epoch-like ms on a
 * monotonic clock. They agree with `Date.now()` when the process starts and
 * drift from it only as the wall clock is adjusted (or, on some platforms,
 * while the machine sleeps). Deno, Node, Bun, browsers and workers all have
 * `performance.timeOrigin`; a runtime without it falls back to `Date.now`.
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
  now: monotonic
    ? () => performance.timeOrigin + performance.now()
    : () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
};
