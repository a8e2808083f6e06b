/**
 * Shared endpoint health for many instances of one pool — processes on
 * several machines, serverless functions, browser tabs, Deno Deploy
 * isolates — through a store: Redis (`ky-failover/redis`), a
 * `BroadcastChannel` (`ky-failover/broadcast`), or your own
 * ({@linkcode Store}).
 *
 * What one instance learns, the others apply at once, by the same rules:
 *
 * - **failures and recoveries**: each failure adds to the endpoint's run
 *   everywhere, so once `breaker.failureThreshold` failures happened
 *   anywhere, every instance's breaker opens — not each after its own
 *   threshold; a healthy answer after failures ends the run everywhere.
 *   A healthy pool writes nothing: only failures, and the answer that
 *   ends them, are news;
 * - **open breakers**, **rate-limit benches** (`Retry-After`), **rejected
 *   keys** and **failed health probes**, each for the time it has left;
 * - **recovery by one probe for the fleet**: when an endpoint's breaker
 *   cools down, one instance — the one that gets the store's short lock —
 *   probes it (`GET {url}/models` with its key, or the endpoint's own
 *   `healthCheck.path`); the others hear the result. An endpoint with
 *   `healthCheck: false` recovers through each instance's own half-open
 *   trial;
 * - **what features learn** (their news, see `FeatureHost.tell`): a model an
 *   endpoint lacks (`models()`), kept a day for instances that start later;
 *   money spent on an endpoint with a `budget` (`usage()`), so that a budget
 *   is the fleet's, and a budget that ran out, kept until it comes back.
 *
 * An instance that starts later reads what still holds. The store is never
 * a single point of failure: no call waits on it (a lock or the state on
 * start waits `timeout` ms at most), nothing fails because of it; while it
 * cannot be reached the pool goes on with what it knows itself, a `store`
 * event says so (and when it is back), and what still holds is told again.
 * Times travel as the time left, measured by the writer, so clocks that
 * disagree between machines do not matter. `await pool.close()` resolves
 * once the store has let go of its connection.
 *
 * @example Two pools in one process, sharing through a BroadcastChannel
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { sharedState } from "@ky-failover/ky-failover/shared";
 * import { broadcastStore } from "@ky-failover/ky-failover/broadcast";
 *
 * const endpoints = [
 *   { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *   { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b", priority: 2 },
 * ];
 * using a = createPool({ endpoints, features: [sharedState({ store: broadcastStore({ name: "my-app" }) })] });
 * using b = createPool({ endpoints, features: [sharedState({ store: broadcastStore({ name: "my-app" }) })] });
 * console.assert(a.status()[0].state === b.status()[0].state);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import { resolveShared } from "./_options.ts";
import { sharedFeature } from "./_feature.ts";
import type { Store } from "./_store.ts";

export { holdOf } from "./_store.ts";
export type { SharedFact, SharedMessage, Store } from "./_store.ts";

/**
 * Options of {@linkcode sharedState}.
 *
 * @example
 * ```ts
 * import type { SharedStateOptions } from "@ky-failover/ky-failover/shared";
 * import { broadcastStore } from "@ky-failover/ky-failover/broadcast";
 *
 * const options: SharedStateOptions = { store: broadcastStore({ name: "my-app" }), timeout: 100 };
 * ```
 */
export interface SharedStateOptions {
  /** Where the instances share what they learn. */
  store: Store;
  /**
   * Longest wait for the store, in ms: for the fleet's probe lock and the
   * state read on start. Default `250`.
   */
  timeout?: number | undefined;
  /**
   * The fleet's probe of an endpoint whose breaker cooled down: its path
   * (an endpoint's own `healthCheck.path` comes first) and how long it may
   * take. Default `{ path: "models", timeout: 5_000 }`.
   */
  probe?:
    | { path?: string | undefined; timeout?: number | undefined }
    | undefined;
}

/**
 * The shared-state feature (see the module documentation). A store joins
 * one pool: give each pool its own. Invalid options throw a `TypeError`
 * naming the field (`sharedState.timeout` …).
 *
 * @example
 * ```ts
 * import { sharedState } from "@ky-failover/ky-failover/shared";
 * import { broadcastStore } from "@ky-failover/ky-failover/broadcast";
 *
 * const shared = sharedState({ store: broadcastStore({ name: "my-app" }) });
 * console.assert(shared.name === "shared-state");
 * ```
 */
export function sharedState(options: SharedStateOptions): Feature {
  return sharedFeature(resolveShared(options, "sharedState"));
}
