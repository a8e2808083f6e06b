/**
 * The least-latency strategy: power of two choices inside the best
 * available tier — draw two candidates at random (the pool's `random`) and
 * take the one with the lower `(latency EWMA + 1) × (in flight + 1)`. Fast
 * endpoints get most traffic, a busy one sheds it, and an endpoint with no
 * sample yet counts as fast, so it gets tried.
 *
 * @example
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { leastLatency } from "@ky-failover/ky-failover/least-latency";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" },
 *     { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
 *   ],
 *   features: [leastLatency()],
 * });
 * console.assert(pool.status().length === 2);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import type { PickStats } from "../types.ts";

/** Expected cost of sending one more request to an endpoint. */
function load({ latencyMs, inFlight }: PickStats): number {
  return ((latencyMs ?? 0) + 1) * (inFlight + 1);
}

/**
 * The least-latency strategy feature.
 *
 * @example
 * ```ts
 * import { leastLatency } from "@ky-failover/ky-failover/least-latency";
 *
 * console.assert(leastLatency().name === "least-latency");
 * ```
 */
export function leastLatency(): Feature {
  return {
    name: "least-latency",
    attach: () => ({
      pick(candidates, { random, stats }) {
        const n = candidates.length;
        const i = Math.floor(random() * n) % n;
        let j = Math.floor(random() * (n - 1)) % (n - 1);
        if (j >= i) j += 1;
        const a = candidates[i];
        const b = candidates[j];
        return load(stats(b.name)) < load(stats(a.name)) ? b : a;
      },
    }),
  };
}
