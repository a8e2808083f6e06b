// The shared state of a pool: its endpoints grouped in tiers, the resolved
// options, the event sink and what features listen to. Created once per
// pool; the attempt procedure, the loop and the features read it.

import { Breaker } from "./_breaker.ts";
import { DeadlineQueue } from "./_deadlines.ts";
import { type BenchKind, Endpoint } from "./_endpoint.ts";
import type { Call } from "./_call.ts";
import type { ResolvedOptions } from "./_options.ts";
import { callView } from "./_route.ts";
import type { FeatureCall, FeatureNews } from "./feature.ts";
import type { FailoverEvent, Outcome } from "./types.ts";

/** State shared by every call of one pool. */
export interface PoolState {
  readonly options: ResolvedOptions;
  readonly endpoints: readonly Endpoint[];
  /** Endpoints grouped by priority, best tier first, configuration order inside. */
  readonly tiers: readonly (readonly Endpoint[])[];
  /**
   * Emits an event to `onEvent` and to features' `onEvent` (with the call
   * it is about, if any); a no-op when nobody listens.
   */
  readonly emit: (event: FailoverEvent, call?: Call | FeatureCall) => void;
  /** Whether anyone listens, to skip building events nobody reads. */
  readonly listening: boolean;
  /** Features' `onEvent`, in order. */
  readonly eventListeners: ((
    event: FailoverEvent,
    call: FeatureCall | undefined,
  ) => void)[];
  /** Features' `onNews`, in order. */
  readonly newsListeners: ((news: FeatureNews) => void)[];
  /**
   * Bodies streaming to callers after their call returned: `close()` ends
   * each with a `ClosedError`. Each removes itself when its body ends.
   */
  readonly streams: Set<{ close(reason: unknown): void }>;
  /** Told of every outcome (features' `onOutcome`). */
  readonly outcomeListeners: ((outcome: Outcome) => void)[];
  /** Told when a breaker opens, with when it may half-open. */
  readonly openListeners: ((endpoint: Endpoint, until: number) => void)[];
  /** Told when an endpoint is benched (or a bench extended), until when. */
  readonly benchListeners: ((
    endpoint: Endpoint,
    kind: BenchKind,
    until: number,
  ) => void)[];
  /** A deadline queue of `ms` on the pool's clock, closed with the pool. */
  deadlines(ms: number): DeadlineQueue;
  /** Closes every deadline queue made by `deadlines()`. */
  closeDeadlines(): void;
}

/** Builds the pool state from resolved options. */
export function createState(options: ResolvedOptions): PoolState {
  const onEvent = options.onEvent;
  const eventListeners: PoolState["eventListeners"] = [];
  const emit = (event: FailoverEvent, call?: Call | FeatureCall) => {
    if (onEvent !== undefined) safely(onEvent, event);
    if (eventListeners.length === 0) return;
    const view = call === undefined || !("request" in call)
      ? call
      : callView(call);
    for (const listener of eventListeners) safely(listener, event, view);
  };
  const openListeners: PoolState["openListeners"] = [];
  const endpoints = options.endpoints.map((e, i) =>
    new Endpoint(
      e,
      i,
      (endpoint) =>
        new Breaker(options.breaker, (from, to, open) => {
          // Failures that opened the breaker were an outage, not noise:
          // tolerance is learnt afresh after one.
          if (to !== "half-open") endpoint.forgetErrors();
          if (state.listening) {
            emit({
              type: "breaker",
              endpoint: endpoint.name,
              from,
              to,
              ...(open === undefined ? {} : { cooldownMs: open.cooldownMs }),
            });
          }
          if (open !== undefined) {
            for (const listener of openListeners) {
              listener(endpoint, open.until);
            }
          }
        }),
    )
  );
  const priorities = [...new Set(endpoints.map((e) => e.priority))]
    .sort((a, b) => a - b);
  const tiers = priorities.map((p) =>
    endpoints.filter((e) => e.priority === p)
  );
  const queues: DeadlineQueue[] = [];
  const state: PoolState = {
    options,
    endpoints,
    tiers,
    emit,
    get listening() {
      return onEvent !== undefined || eventListeners.length > 0;
    },
    eventListeners,
    newsListeners: [],
    streams: new Set(),
    outcomeListeners: [],
    openListeners,
    benchListeners: [],
    deadlines(ms) {
      const queue = new DeadlineQueue(options.clock, ms);
      queues.push(queue);
      return queue;
    },
    closeDeadlines() {
      for (const queue of queues) queue.close();
    },
  };
  return state;
}

/**
 * Calls a listener: observability must never break traffic, so a throw,
 * or a promise that rejects (an async `onEvent`), is dropped.
 */
function safely<A extends unknown[]>(
  listener: (...args: A) => unknown,
  ...args: A
): void {
  try {
    const result = listener(...args);
    if (typeof (result as PromiseLike<void>)?.then === "function") {
      (result as Promise<void>).then(undefined, () => {});
    }
  } catch {
    // Dropped, as above.
  }
}
