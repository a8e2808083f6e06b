/**
 * Sliding-window figures for the live dashboard: percentiles, and counts
 * over the last few ticks (requests per second). Pure; no clock of their
 * own — callers pass the time.
 *
 * @module
 */

/**
 * The `p`th percentile (nearest rank) of ascending `sorted` values;
 * `undefined` for none.
 *
 * @example
 * ```ts
 * percentile([10, 20, 30, 40], 50); // 20
 * ```
 */
export function percentile(
  sorted: readonly number[],
  p: number,
): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Values kept for `windowMs`: the latencies of the last few seconds, say.
 * Old values are dropped as new ones come in and when read.
 */
export class SampleWindow {
  #times: number[] = [];
  #values: number[] = [];
  readonly windowMs: number;

  /** Keeps each value for `windowMs` after it was added. */
  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Adds `value`, seen at `now` (ms). */
  add(value: number, now: number): void {
    this.#times.push(now);
    this.#values.push(value);
    this.#drop(now);
  }

  /** p50 and p99 of the values seen within the window before `now`. */
  percentiles(now: number): { p50?: number; p99?: number } {
    this.#drop(now);
    const sorted = [...this.#values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }

  #drop(now: number): void {
    let stale = 0;
    while (
      stale < this.#times.length && this.#times[stale] <= now - this.windowMs
    ) stale++;
    if (stale > 0) {
      this.#times.splice(0, stale);
      this.#values.splice(0, stale);
    }
  }
}

/**
 * Counts over the last `ticks` ticks: `add()` counts into the current
 * tick, `tick()` closes it. Its rate is per second of the ticks it holds.
 */
export class TickCounter {
  #closed: number[] = [];
  #current = 0;
  readonly ticks: number;
  readonly tickMs: number;

  /** A window of `ticks` ticks of `tickMs` ms each. */
  constructor(ticks: number, tickMs: number) {
    this.ticks = ticks;
    this.tickMs = tickMs;
  }

  /** Counts `n` (default 1) into the current tick. */
  add(n = 1): void {
    this.#current += n;
  }

  /**
   * Closes the current tick; returns what it counted.
   */
  tick(): number {
    const counted = this.#current;
    this.#closed.push(counted);
    if (this.#closed.length > this.ticks) this.#closed.shift();
    this.#current = 0;
    return counted;
  }

  /** Per second, over the closed ticks held (0 before the first). */
  perSecond(): number {
    if (this.#closed.length === 0) return 0;
    const sum = this.#closed.reduce((a, b) => a + b, 0);
    return sum * 1000 / (this.#closed.length * this.tickMs);
  }
}
