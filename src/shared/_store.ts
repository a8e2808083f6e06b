// What a store is to the shared-state feature: a channel between the
// instances of one pool (processes, tabs, isolates) that carries what each
// learns about an endpoint, keeps what still holds for instances that start
// later, and lends a short lock so that one instance of the fleet probes an
// endpoint whose breaker cooled down.

/**
 * What one instance tells the others about an endpoint. Durations are
 * remaining times, measured by the writer when it wrote them, so that
 * clocks that disagree between machines do not matter (a message is late
 * by its transit, a few ms at most on a store the fleet shares).
 */
export type SharedFact =
  /** An attempt failed: it adds to the endpoint's run of failures. */
  | { readonly type: "failure" }
  /** An answer counted as healthy: it ends the run (and an open breaker). */
  | { readonly type: "success" }
  /** Its breaker opened: it takes no traffic for `remainingMs`. */
  | { readonly type: "open"; readonly remainingMs: number }
  /** It was benched: rate-limited, unauthorized or unhealthy, for `remainingMs`. */
  | {
    readonly type: "bench";
    readonly bench: "rate-limited" | "unauthorized" | "unhealthy";
    readonly remainingMs: number;
  }
  /**
   * A feature's news (see `FeatureNews`): a model an endpoint lacks, money
   * it spent. With `key` and `remainingMs` it is kept, for instances that
   * start later, until a newer one of the same key replaces it.
   */
  | {
    readonly type: "news";
    /** The feature that told it, e.g. `"models"`. */
    readonly feature: string;
    /** What it says (JSON; validated by the feature that reads it). */
    readonly data: unknown;
    /** What it is kept under, per endpoint and feature. */
    readonly key?: string;
    /** How long it is kept. */
    readonly remainingMs?: number;
  };

/**
 * Under which name (per endpoint) and for how long a store keeps `fact`
 * for instances that start later: an open breaker, a bench, a feature's
 * news that says for how long it holds — or `undefined`: it is only
 * passed on. A store of your own keeps the last fact per endpoint and
 * name, for that long, and gives it back from `recent()` with the time it
 * has left.
 *
 * @example
 * ```ts
 * import { holdOf } from "@ky-failover/ky-failover/shared";
 *
 * const hold = holdOf({ type: "open", remainingMs: 30_000 });
 * console.assert(hold?.name === "open" && hold.remainingMs === 30_000);
 * console.assert(holdOf({ type: "failure" }) === undefined);
 * ```
 */
export function holdOf(
  fact: SharedFact,
): { name: string; remainingMs: number } | undefined {
  switch (fact.type) {
    case "open":
      return { name: "open", remainingMs: fact.remainingMs };
    case "bench":
      return { name: fact.bench, remainingMs: fact.remainingMs };
    case "news":
      return fact.key === undefined || fact.remainingMs === undefined
        ? undefined
        : {
          name: `news:${fact.feature}:${fact.key}`,
          remainingMs: fact.remainingMs,
        };
    default:
      return undefined;
  }
}

/** One message between the instances of a pool. */
export interface SharedMessage {
  /** The instance that wrote it (an id of its own, made at random). */
  readonly from: string;
  /** The endpoint it is about, by name. */
  readonly endpoint: string;
  /** What happened to it. */
  readonly fact: SharedFact;
}

/**
 * Where the instances of a pool share endpoint health: a Redis server
 * (`ky-failover/redis`), a `BroadcastChannel` (`ky-failover/broadcast`),
 * or your own. A store keeps to one namespace, chosen when it is made, so
 * that two pools (two apps) on one server do not mix. Its operations may
 * fail or be slow: the pool never waits on them in a call, and goes on
 * with what it knows itself.
 */
export interface Store {
  /** Names the store in events: `"redis"`, `"broadcast"` … */
  readonly kind: string;
  /**
   * Starts delivering every message another instance publishes to
   * `listener` (a store may also deliver the instance's own: they are
   * told apart by `from`). Called once, when the pool is created.
   */
  subscribe(listener: (message: SharedMessage) => void): void;
  /** Tells every other instance; rejects when the store cannot be reached. */
  publish(message: SharedMessage): Promise<void>;
  /**
   * The messages that still hold (breakers open, benches not over), with
   * their remaining time as of now — what an instance that starts later
   * reads. A store that keeps nothing resolves with `[]`.
   */
  recent(): Promise<SharedMessage[]>;
  /**
   * Takes `key` for `ttlMs` across every instance: resolves with whether
   * this one got it — or holds it already (then it holds it `ttlMs` from
   * now: the instance that probes an endpoint probes it at each cooldown's
   * end, and another takes over only when it stops). A store without locks
   * resolves with `true` (each instance then probes for itself).
   */
  lock(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Hears the store become unreachable (`false`) and reachable again
   * (`true`), when the store can tell.
   */
  onStatus?(listener: (up: boolean) => void): void;
  /** Leaves: stops the subscription and frees the connection. */
  close(): void | Promise<void>;
}
