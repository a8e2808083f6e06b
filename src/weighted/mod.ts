/**
 * The weighted strategy: smooth weighted round-robin (as in nginx) inside
 * the best available tier — over any window each endpoint gets its share
 * of `weight`, interleaved rather than in bursts. Weight-0 endpoints only
 * get traffic when no weighted one can (then round-robin chooses).
 *
 * @example Send three calls in four to "big"
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { weighted } from "@ky-failover/ky-failover/weighted";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "big", url: "https://big.example.ai/v1", apiKey: "sk-a", weight: 3 },
 *     { name: "small", url: "https://small.example.ai/v1", apiKey: "sk-b", weight: 1 },
 *   ],
 *   features: [weighted()],
 * });
 * console.assert(pool.status()[0].weight === 3);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";

/**
 * The weighted strategy feature. The pool must have an endpoint of weight
 * > 0, or creating it throws a `TypeError`.
 *
 * @example
 * ```ts
 * import { weighted } from "@ky-failover/ky-failover/weighted";
 *
 * console.assert(weighted().name === "weighted");
 * ```
 */
export function weighted(): Feature {
  return {
    name: "weighted",
    attach(host) {
      if (host.endpoints.every((e) => e.weight === 0)) {
        throw new TypeError(
          "ky-failover: options.endpoints need at least one weight > 0 for the weighted strategy",
        );
      }
      /** Each endpoint's smooth weighted round-robin accumulator. */
      const current = new Map<string, number>(
        host.endpoints.map((e) => [e.name, 0]),
      );
      return {
        pick(candidates) {
          let total = 0;
          let best: string | undefined;
          for (const e of candidates) {
            if (e.weight === 0) continue;
            const value = current.get(e.name)! + e.weight;
            current.set(e.name, value);
            total += e.weight;
            if (best === undefined || value > current.get(best)!) best = e.name;
          }
          if (best === undefined) return undefined;
          current.set(best, current.get(best)! - total);
          return best;
        },
      };
    },
  };
}
