/**
 * Hedging, for idempotent requests: when an attempt has no answer after
 * `delay` ms and an untried endpoint is available, a second attempt starts
 * there; the first good answer (success, or a final answer such as a 400)
 * wins and every other attempt is cancelled with a `HedgeCancelledError`,
 * which counts against nobody. An attempt that fails does not end the
 * call: the next one starts at once if none is in flight, or as the next
 * hedge. `maxAttempts`, the retry budget and the health gate apply to
 * hedges like to any attempt. Only `methods` are hedged (by default GET,
 * HEAD and OPTIONS): a POST such as a chat completion would be billed
 * twice.
 *
 * @example Hedge model listings after 300 ms
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { hedge } from "@ky-failover/ky-failover/hedge";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" },
 *     { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
 *   ],
 *   features: [hedge({ delay: 300 })],
 * });
 * console.assert(pool.status().length === 2);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import { hedgeFeature, type HedgeSettings, resolveHedge } from "./_feature.ts";

/** Hedging settings; see {@linkcode hedge}. */
export interface HedgeOptions {
  /** How long the first attempt may go without response headers before a second one starts, in ms. */
  delay: number;
  /** Methods that may be hedged (idempotent ones). Default `["GET", "HEAD", "OPTIONS"]`. */
  methods?: readonly string[] | undefined;
}

/**
 * The hedging feature. Invalid options throw a `TypeError` naming the field
 * (`hedge.delay …`).
 *
 * @example
 * ```ts
 * import { hedge } from "@ky-failover/ky-failover/hedge";
 *
 * console.assert(hedge({ delay: 500, methods: ["GET"] }).name === "hedge");
 * ```
 */
export function hedge(options: HedgeOptions): Feature {
  return hedgeFeature(resolveHedge(options, "hedge") as HedgeSettings);
}
