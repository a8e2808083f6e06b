// The cheapest strategy over a resolved pool price table (see mod.ts for
// the rule). The preset resolves its `prices` option once (for usage() as
// well) and hands the table here.

import {
  priceOf,
  type PriceTable,
  resolvePrices,
  roundUsd,
} from "../_prices.ts";
import type { Feature } from "../feature.ts";
import type { EndpointInfo } from "../types.ts";

/** Most tie groups whose rotation is remembered; more starts afresh. */
const MAX_GROUPS = 1024;

/**
 * What a call's tokens cost on an endpoint, for ranking: input plus output
 * price, in USD per million tokens (rounded, so that prices equal as
 * written tie: 0.1 + 0.2 and 0.15 + 0.15); `Infinity` when none is known.
 */
function rank(
  own: PriceTable,
  pool: PriceTable,
  model: string | undefined,
  asked: string,
): number {
  const price = priceOf(own, pool, model, asked);
  return price === undefined ? Infinity : roundUsd(price.input + price.output);
}

/** The cheapest strategy feature over `pool` prices, already resolved. */
export function cheapestFeature(pool: PriceTable): Feature {
  return {
    name: "cheapest",
    endpointOptions: ["prices"],
    attach(host) {
      const own = new Map<string, PriceTable>(
        host.endpoints.map((e) => [
          e.name,
          resolvePrices(
            e.options.prices,
            `options.endpoints[${e.index}].prices`,
          ),
        ]),
      );
      /** Each group of tied endpoints' rotation cursor, by their names. */
      const cursors = new Map<string, number>();
      const rotate = (tied: readonly EndpointInfo[]): EndpointInfo => {
        const key = tied.map((e) => e.name).join("\n");
        let cursor = cursors.get(key);
        if (cursor === undefined) {
          if (cursors.size >= MAX_GROUPS) cursors.clear();
          // A new group starts at a random place, as round-robin does, so
          // that many clients do not all go to the same endpoint first.
          cursor = Math.floor(host.random() * tied.length) % tied.length;
        }
        cursors.set(key, (cursor + 1) % tied.length);
        return tied[cursor];
      };
      return {
        pick(candidates, context) {
          const asked = context.model;
          if (asked === undefined) return undefined;
          let best = Infinity;
          let tied: EndpointInfo[] = [];
          for (const candidate of candidates) {
            const cost = rank(
              own.get(candidate.name)!,
              pool,
              context.modelFor(candidate.name),
              asked,
            );
            if (cost < best || tied.length === 0) {
              best = cost;
              tied = [candidate];
            } else if (cost === best) {
              tied.push(candidate);
            }
          }
          return tied.length === 1 ? tied[0] : rotate(tied);
        },
      };
    },
  };
}
