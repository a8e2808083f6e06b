// Coalesced timeouts. Every per-attempt timeout, stream idle guard and total
// timeout of a pool has the same duration as the others of its kind, so
// their deadlines arrive in the order they were set. A queue per duration
// keeps them in a Set (insertion order = deadline order) under ONE clock
// timer, armed for the oldest deadline: setting and clearing a deadline is
// a Set insert and delete, not a timer each. With 64 calls in flight that is
// one timer instead of 64-128; on runtimes where a timer costs microseconds
// (Deno's Node-compatible timers) this is the largest fixed cost of a call.
//
// When the oldest deadline is cleared the timer stays armed for it, and when
// it fires early it re-arms for the new oldest one. When the queue empties,
// a timer that can be unref'd (Node, Deno, Bun) is kept but unref'd — it
// never holds a process open, and the next call re-uses it instead of
// arming a new one; any other timer (browsers, injected clocks) is cleared,
// so an idle pool holds no timer at all. `close()` clears them all.

import type { Clock } from "./types.ts";

/** One pending deadline; pass it back to `clear`. */
export interface Deadline {
  readonly at: number;
  readonly fire: () => void;
}

interface Refable {
  ref(): unknown;
  unref(): unknown;
}

function isRefable(handle: unknown): handle is Refable {
  return typeof (handle as Refable | undefined)?.unref === "function" &&
    typeof (handle as Refable).ref === "function";
}

/** A queue of deadlines of one duration under a single clock timer. */
export class DeadlineQueue {
  readonly #clock: Clock;
  readonly #ms: number;
  readonly #entries = new Set<Deadline>();
  #timer: unknown = undefined;
  /** The timer is kept, unref'd, with nothing to wait for. */
  #idle = false;
  #closed = false;

  constructor(clock: Clock, ms: number) {
    this.#clock = clock;
    this.#ms = ms;
  }

  /** Calls `fire` once `ms` have passed, unless cleared first. */
  set(fire: () => void): Deadline {
    const deadline = { at: this.#clock.now() + this.#ms, fire };
    this.#entries.add(deadline);
    if (this.#timer === undefined) this.#arm(this.#ms);
    else if (this.#idle) {
      this.#idle = false;
      (this.#timer as Refable).ref();
    }
    return deadline;
  }

  /** Cancels `deadline` (a no-op once it fired or was cleared). */
  clear(deadline: Deadline): void {
    if (!this.#entries.delete(deadline) || this.#entries.size > 0) return;
    const timer = this.#timer;
    if (timer === undefined) return;
    if (!this.#closed && isRefable(timer)) {
      this.#idle = true;
      timer.unref();
    } else this.#stop();
  }

  /**
   * Stops the timer once nothing waits on it any more (at once if nothing
   * does): deadlines still pending — a body still being read — keep theirs.
   */
  close(): void {
    this.#closed = true;
    if (this.#entries.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#idle = false;
  }

  #arm(delay: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#expire(), delay);
  }

  #expire(): void {
    this.#timer = undefined;
    this.#idle = false;
    const now = this.#clock.now();
    for (const deadline of this.#entries) {
      if (deadline.at > now) break;
      this.#entries.delete(deadline);
      deadline.fire();
    }
    // fire() may have set a deadline, which armed the timer already.
    if (this.#timer !== undefined) return;
    const next = this.#entries.values().next();
    if (!next.done) this.#arm(Math.max(0, next.value.at - now));
  }
}
