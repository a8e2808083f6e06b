// A manual clock for deterministic tests: time only moves when a test calls
// advance(), which fires due timers in order.

import type { Clock } from "ky-failover";

interface Timer {
  id: number;
  at: number;
  fn: () => void;
  /** What setTimeout returned: the id, or a Node-style handle. */
  handle: unknown;
  /** Unref'd: it would not hold a process open. */
  unrefd: boolean;
}

/** Options of {@linkcode ManualClock}. */
export interface ManualClockOptions {
  /** Start time (ms since the epoch). */
  start?: number;
  /**
   * Return Node-style handles with `ref()` / `unref()` from setTimeout (as
   * Node, Deno and Bun do) instead of numbers (as browsers do).
   */
  refable?: boolean;
}

/** A Clock whose time is moved by hand. */
export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;
  #watchers = new Set<() => void>();
  readonly #refable: boolean;
  /** How many timers were ever set. */
  armed = 0;

  constructor(
    start: number | ManualClockOptions = Date.UTC(2026, 10, 26, 12, 0, 0),
  ) {
    const options = typeof start === "number" ? { start } : start;
    this.#now = options.start ?? Date.UTC(2026, 10, 26, 12, 0, 0);
    this.#refable = options.refable ?? false;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#nextId++;
    const timer: Timer = {
      id,
      at: this.#now + Math.max(0, ms),
      fn,
      handle: id,
      unrefd: false,
    };
    if (this.#refable) {
      timer.handle = {
        ref: () => void (timer.unrefd = false),
        unref: () => void (timer.unrefd = true),
      };
    }
    this.armed += 1;
    this.#timers.push(timer);
    for (const check of [...this.#watchers]) check();
    return timer.handle;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.handle !== handle);
    for (const check of [...this.#watchers]) check();
  };

  /** Resolves once no timer is pending (every timer fired or was cleared). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.#timers.length === 0) {
          this.#watchers.delete(check);
          resolve();
        }
      };
      this.#watchers.add(check);
      check();
    });
  }

  /** Time left on each pending timer, soonest first. */
  get delays(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Number of timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Number of pending timers that are unref'd. */
  get unrefd(): number {
    return this.#timers.filter((t) => t.unrefd).length;
  }

  /**
   * Resolves once `count` timers of exactly `ms` are pending: lets a test
   * wait until the code under test has started waiting, without sleeping.
   */
  scheduled(ms: number, count = 1): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        const due = this.#timers.filter((t) => t.at - this.#now === ms);
        if (due.length >= count) {
          this.#watchers.delete(check);
          resolve();
        }
      };
      this.#watchers.add(check);
      check();
    });
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = target;
  }
}

/** A seedable PRNG (mulberry32) returning numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
