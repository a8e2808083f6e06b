// The shared state of a pool: its endpoints grouped in tiers, the resolved
// options and the event sink. Every middleware reads and writes this.

import { DeadlineQueue } from "./_deadlines.ts";
import { Endpoint } from "./_endpoint.ts";
import type { ResolvedOptions } from "./_options.ts";
import type { FailoverEvent } from "./types.ts";

/** State shared by every call of one pool. */
export interface Pool {
  readonly options: ResolvedOptions;
  readonly endpoints: readonly Endpoint[];
  /** Endpoints grouped by priority, best tier first, configuration order inside. */
  readonly tiers: readonly (readonly Endpoint[])[];
  /** Round-robin cursor per tier (index into the tier). */
  readonly cursors: number[];
  /** Emits an event; a no-op without `onEvent`. */
  readonly emit: (event: FailoverEvent) => void;
  /** Whether anyone listens, to skip building events nobody reads. */
  readonly listening: boolean;
  /**
   * Bodies streaming to callers after their call returned: `close()` ends
   * each with a `ClosedError`. Each removes itself when its body ends.
   */
  readonly streams: Set<{ close(reason: unknown): void }>;
  /** Called when a breaker opens (the health checker may probe it sooner). */
  onBreakerOpen: ((endpoint: Endpoint) => void) | undefined;
  /** A deadline queue of `ms` on the pool's clock, closed with the pool. */
  deadlines(ms: number): DeadlineQueue;
  /** Every deadline queue made by `deadlines()`. */
  readonly queues: DeadlineQueue[];
}

/** Builds the pool state from resolved options. */
export function createPool(options: ResolvedOptions): Pool {
  const endpoints = options.endpoints.map((e, i) => new Endpoint(e, i));
  const priorities = [...new Set(endpoints.map((e) => e.priority))].sort((
    a,
    b,
  ) => a - b);
  const tiers = priorities.map((p) =>
    endpoints.filter((e) => e.priority === p)
  );
  // Start each tier's rotation at a random place so that many clients do not
  // all hit the same endpoint first.
  const cursors = tiers.map((tier) =>
    Math.floor(options.random() * tier.length) % tier.length
  );
  const onEvent = options.onEvent;
  const emit = onEvent
    ? (event: FailoverEvent) => {
      // Observability must never break traffic: a throw, or a promise that
      // rejects (an async onEvent), is dropped.
      try {
        const result = onEvent(event) as unknown;
        if (typeof (result as PromiseLike<void>)?.then === "function") {
          (result as Promise<void>).then(undefined, () => {});
        }
      } catch {
        // Dropped, as above.
      }
    }
    : () => {};
  const queues: DeadlineQueue[] = [];
  return {
    options,
    endpoints,
    tiers,
    cursors,
    emit,
    listening: onEvent !== undefined,
    streams: new Set(),
    onBreakerOpen: undefined,
    deadlines(ms) {
      const queue = new DeadlineQueue(options.clock, ms);
      queues.push(queue);
      return queue;
    },
    queues,
  };
}
