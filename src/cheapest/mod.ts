/**
 * The cheapest strategy: each call goes to the endpoint where its model
 * costs least, inside the best available tier. Prices come from each
 * endpoint's `prices` option, then from the table given to
 * {@linkcode cheapest} (the pool's); for each endpoint the model is looked
 * up under the name that endpoint is sent (after a `models()` rename), then
 * under the name the caller asked for.
 *
 * The rule:
 * - A price is ranked by **input + output**, in USD per million tokens: a
 *   call of as many input tokens as output tokens. One number is needed to
 *   rank endpoints, and the real mix of a call is not known before it is
 *   answered; the sum ranks as the mean of the two prices would, and a
 *   price given as one number counts twice (`0.42` ranks as `0.84`). The
 *   `cachedInput` price is not used.
 * - Endpoints without a known price for the call's model come after every
 *   priced one.
 * - Endpoints of equal price (or all unpriced) take turns, round-robin in
 *   configuration order (the first turn of each group drawn from the pool's
 *   `random`), so ties share the load evenly.
 * - A call that names no model (no JSON body, or none with a `model`) is
 *   left to round-robin.
 * - Tiers (`priority`) still come first: the cheapest endpoint of the best
 *   available tier is chosen. An endpoint that fails is not tried again in
 *   the same call, so a call falls over to the next cheapest.
 *
 * @example Send each call where it costs least
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { models } from "@ky-failover/ky-failover/models";
 * import { cheapest } from "@ky-failover/ky-failover/cheapest";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "openai", url: "https://api.openai.com/v1", apiKey: "sk-a", models: ["gpt-4.1"] },
 *     { name: "deepseek", url: "https://api.deepseek.com/v1", apiKey: "sk-b", models: { "gpt-4.1": "deepseek-v3.2" } },
 *   ],
 *   features: [
 *     models(),
 *     // USD per million tokens; gpt-4.1 ranks as 2 + 8 = 10, deepseek-v3.2 as 0.84.
 *     cheapest({ prices: { "gpt-4.1": { input: 2, output: 8 }, "deepseek-v3.2": 0.42 } }),
 *   ],
 *   // A stand-in for the network, for this example: says who answered.
 *   fetch: (input, init) => Promise.resolve(Response.json({ url: new Request(input, init).url })),
 * });
 * const response = await pool.fetch("chat/completions", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
 * });
 * const { url } = await response.json();
 * console.assert(url === "https://api.deepseek.com/v1/chat/completions");
 * ```
 *
 * @module
 */

import { resolvePrices } from "../_prices.ts";
import { expected, fail, isPlainObject } from "../_validate.ts";
import type { Feature } from "../feature.ts";
import type { Prices } from "../provider_types.ts";
import { cheapestFeature } from "./_feature.ts";

/** Options of {@linkcode cheapest}. */
export interface CheapestOptions {
  /**
   * Prices by model name, in USD per million tokens, for every endpoint
   * (an endpoint's own `prices` come first). Checked when the pool is
   * created; an invalid one throws a `TypeError` naming
   * `options.prices…`.
   */
  prices?: Prices | undefined;
}

/**
 * The cheapest strategy feature: reads each endpoint's `prices` option
 * (an invalid one makes creating the pool throw a `TypeError` naming it)
 * and sends each call to the endpoint of the best tier where its model
 * costs least; see the module documentation for the rule. A pool takes
 * one strategy feature.
 *
 * @example
 * ```ts
 * import { cheapest } from "@ky-failover/ky-failover/cheapest";
 *
 * console.assert(cheapest({ prices: { "gpt-4.1-mini": { input: 0.4, output: 1.6 } } }).name === "cheapest");
 * ```
 */
export function cheapest(options: CheapestOptions = {}): Feature {
  if (!isPlainObject(options)) {
    expected("cheapest() options", "an object { prices? }", options);
  }
  for (const key of Object.keys(options)) {
    if (key !== "prices") {
      fail(
        `cheapest() options.${key}`,
        "is not a known option (known: prices)",
      );
    }
  }
  return cheapestFeature(resolvePrices(options.prices, "options.prices"));
}
