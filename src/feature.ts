/**
 * The feature interface: how an opt-in capability (health checks, hedging,
 * a retry budget, a strategy — or one of your own) joins a pool.
 *
 * A feature is a value made by a factory (`healthCheck({ interval })`),
 * handed to `createPool({ features: [...] })`. The pool calls its
 * `attach(host)` once; the feature keeps its state in that closure, per
 * pool, and returns the hooks it needs. It reaches the pool only through
 * the `host` — key-free views, and operations whose rules the pool keeps
 * (a probe goes through the pool's one request path, with the endpoint's
 * key, and its result is applied by the pool's rules) — so no feature
 * writes another's state, and an unused feature is not in the bundle.
 *
 * @example A feature that counts each endpoint's failures
 * ```ts
 * import type { Feature } from "@ky-failover/ky-failover/core";
 *
 * function failureLog(log: Map<string, number>): Feature {
 *   return {
 *     name: "failure-log",
 *     attach: () => ({
 *       onOutcome(outcome) {
 *         if (outcome.health !== "failure") return;
 *         log.set(outcome.endpoint, (log.get(outcome.endpoint) ?? 0) + 1);
 *       },
 *     }),
 *   };
 * }
 * console.assert(failureLog(new Map()).name === "failure-log");
 * ```
 *
 * @module
 */

import type {
  Clock,
  EndpointInfo,
  Outcome,
  PickContext,
  Verdict,
} from "./types.ts";

/** An opt-in capability of a pool; see the module documentation. */
export interface Feature {
  /** Names the feature in error messages. */
  readonly name: string;
  /** Joins one pool: called once, when the pool is created. */
  attach(host: FeatureHost): FeatureHooks;
}

/** What a feature asks of the pool. Every member is optional. */
export interface FeatureHooks {
  /**
   * Runs around every attempt, before its endpoint is chosen — outermost
   * first, in the order of `features`. Call `next()` once to go on, or
   * `ctx.stop(reason)` and return to end the call without this attempt.
   */
  readonly middleware?: FeatureMiddleware | undefined;
  /**
   * Chooses the endpoint among `candidates` (available, untried, of the
   * best tier, in configuration order; at least two). Return one of them,
   * or `undefined` to leave the choice to round-robin. At most one
   * feature of a pool may pick.
   */
  pick?(
    candidates: readonly EndpointInfo[],
    context: PickContext,
  ): EndpointInfo | string | undefined;
  /**
   * Hedging: how long a call's attempt may go without an answer before a
   * second one starts on another endpoint, in ms — or `undefined` for a
   * call that must not be hedged. At most one feature of a pool may hedge.
   */
  hedgeDelay?(request: HedgeRequest): number | undefined;
  /** Hears every result an endpoint gave: attempts, probes, broken streams. */
  onOutcome?(outcome: Outcome): void;
  /** Hears that an endpoint's breaker opened, and when it may half-open. */
  onBreakerOpen?(endpoint: string, until: number): void;
  /**
   * What `checkHealth()` does, when this feature probes in its own way
   * (its path, its timeout). At most one feature of a pool may.
   */
  checkHealth?(): Promise<void>;
  /** Stops the feature's timers and work: the pool is closing. */
  close?(): void;
}

/** The request a hedging feature decides on. */
export interface HedgeRequest {
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoints' base URL. */
  readonly path: string;
}

/** A feature's view of one attempt. */
export interface FeatureAttempt {
  /** 1-based number of the attempt inside its call. */
  readonly attempt: number;
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoints' base URL. */
  readonly path: string;
  /**
   * After `next()`: how the attempt counted for the call; `undefined` when
   * no request was sent (nothing was available, or the call was stopped).
   */
  readonly verdict: Verdict | undefined;
  /**
   * Ends the call without this attempt; `reason` says why in the call's
   * `FailoverError` (or the last answer is returned, for `fetch`). Return
   * without calling `next()` after it.
   */
  stop(reason: string): void;
}

/** A feature's middleware; see {@linkcode FeatureHooks.middleware}. */
export type FeatureMiddleware = (
  ctx: FeatureAttempt,
  next: () => Promise<void>,
) => Promise<void> | void;

/** An endpoint as a feature sees it: key-free. */
export interface FeatureEndpoint extends EndpointInfo {
  /** Whether health probes may go to it (its `healthCheck` is not `false`). */
  readonly probes: boolean;
}

/** Settings of one health probe. */
export interface ProbeOptions {
  /** Path probed with `GET`, unless the endpoint configured its own. */
  readonly path: string;
  /** How long the probe may take, in ms. */
  readonly timeout: number;
}

/** The pool, as a feature reaches it. */
export interface FeatureHost {
  /** The pool's endpoints, in configuration order. */
  readonly endpoints: readonly FeatureEndpoint[];
  /** The pool's clock. */
  readonly clock: Clock;
  /** The pool's random source in [0, 1). */
  readonly random: () => number;
  /**
   * Probes `endpoint` now: `GET` on its health-check path with its key,
   * through the pool's request path. The pool applies the result by its
   * rules (a 2xx restores the endpoint, a failure benches it as
   * `"unhealthy"`, a 429 as rate-limited) and resolves with it — or with
   * `undefined` when the endpoint takes no probes or the pool closed. A
   * probe already in flight to that endpoint is joined.
   */
  probe(endpoint: string, options: ProbeOptions): Promise<Outcome | undefined>;
  /** Whether a probe to `endpoint` is in flight. */
  probing(endpoint: string): boolean;
  /**
   * From now on, `endpoint` comes back from an open breaker through
   * probes that pass, not through half-open trials of user traffic.
   */
  recoverByProbes(endpoint: string): void;
}
