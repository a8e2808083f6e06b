// The counts: per endpoint, per model as sent and the price it was charged
// at, token sums; every total (an endpoint's, a model's, the pool's) is
// computed from those sums, so a cost is the exact price of the tokens
// rather than a sum of rounded figures.

import {
  costOf,
  type ResolvedPrice,
  roundUsd,
  type Tokens,
} from "../_prices.ts";
import type { UsageTotals } from "../provider_types.ts";

/** The name counts go under when neither the call nor its answer named a model. */
export const UNKNOWN_MODEL = "(unknown)";

/** Calls of one endpoint and model charged at one price. */
export interface Bucket extends Tokens {
  readonly endpoint: string;
  readonly model: string;
  /** `undefined`: no known price. */
  readonly price: ResolvedPrice | undefined;
  calls: number;
  unmetered: number;
}

/** Every bucket of a pool, by endpoint then by model and price. */
export type Ledger = Map<string, Map<string, Bucket>>;

/** A ledger with no count yet for each of `endpoints`. */
export function emptyLedger(endpoints: readonly string[]): Ledger {
  return new Map(endpoints.map((name) => [name, new Map()]));
}

/** Counts one answered call; `tokens` `undefined`: it reported no usage. */
export function record(
  ledger: Ledger,
  where: { endpoint: string; model: string; asked: string | undefined },
  price: ResolvedPrice | undefined,
  tokens: Tokens | undefined,
): void {
  const buckets = ledger.get(where.endpoint)!;
  // Two asked names sent as one model may be priced apart.
  const key = `${where.model}\u0000${where.asked ?? ""}`;
  let bucket = buckets.get(key);
  if (bucket === undefined) {
    bucket = {
      endpoint: where.endpoint,
      model: where.model,
      price,
      calls: 0,
      unmetered: 0,
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
    };
    buckets.set(key, bucket);
  }
  bucket.calls += 1;
  if (tokens === undefined) {
    bucket.unmetered += 1;
    return;
  }
  bucket.inputTokens += tokens.inputTokens;
  bucket.cachedInputTokens += tokens.cachedInputTokens;
  bucket.outputTokens += tokens.outputTokens;
}

/**
 * The totals of `buckets`. Their cost is absent when tokens were counted
 * for a model with no known price (calls without tokens cost nothing).
 */
export function totalsOf(buckets: Iterable<Bucket>): UsageTotals {
  let calls = 0;
  let unmetered = 0;
  let inputTokens = 0;
  let cachedInputTokens = 0;
  let outputTokens = 0;
  let cost: number | undefined = 0;
  for (const bucket of buckets) {
    calls += bucket.calls;
    unmetered += bucket.unmetered;
    inputTokens += bucket.inputTokens;
    cachedInputTokens += bucket.cachedInputTokens;
    outputTokens += bucket.outputTokens;
    if (bucket.inputTokens === 0 && bucket.outputTokens === 0) continue;
    if (bucket.price === undefined) cost = undefined;
    else if (cost !== undefined) cost += costOf(bucket, bucket.price);
  }
  const totals = {
    calls,
    unmetered,
    inputTokens,
    cachedInputTokens,
    outputTokens,
  };
  return cost === undefined ? totals : { ...totals, costUsd: roundUsd(cost) };
}

/** The totals of `buckets` by model. */
export function byModel(
  buckets: Iterable<Bucket>,
): Record<string, UsageTotals> {
  const groups = new Map<string, Bucket[]>();
  for (const bucket of buckets) {
    const group = groups.get(bucket.model);
    if (group === undefined) groups.set(bucket.model, [bucket]);
    else group.push(bucket);
  }
  return Object.fromEntries(
    [...groups].map(([model, group]) => [model, totalsOf(group)]),
  );
}

/** Every bucket of `ledger`. */
export function* allBuckets(ledger: Ledger): Generator<Bucket> {
  for (const buckets of ledger.values()) yield* buckets.values();
}
