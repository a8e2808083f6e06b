// Prices: their check, and which price a call's tokens are charged at — the
// endpoint's own table before the pool's, the model's name as the endpoint
// was sent it before the name the caller asked for. Shared by the usage()
// and cheapest() features.

import type { Price, Prices } from "./provider_types.ts";
import { expected, isPlainObject } from "./_validate.ts";

/** A price, resolved: USD per million tokens of each kind. */
export interface ResolvedPrice {
  input: number;
  output: number;
  cachedInput: number;
}

/** Prices by model, resolved. */
export type PriceTable = ReadonlyMap<string, ResolvedPrice>;

/** Largest price accepted, in USD per million tokens. */
const MAX_PRICE = 1_000_000;

function usd(v: unknown, field: string): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 &&
      v <= MAX_PRICE
    ? v
    : expected(
      field,
      `a price in USD per million tokens (0 to ${MAX_PRICE})`,
      v,
    );
}

/** Checks one price (`field` names it in errors). */
function resolvePrice(v: unknown, field: string): ResolvedPrice {
  if (typeof v === "number") {
    const each = usd(v, field);
    return { input: each, output: each, cachedInput: each };
  }
  if (!isPlainObject(v)) {
    expected(field, "a number or { input, output, cachedInput? }", v);
  }
  for (const key of Object.keys(v)) {
    if (key !== "input" && key !== "output" && key !== "cachedInput") {
      expected(
        `${field}.${key}`,
        "absent (known: input, output, cachedInput)",
        v[key],
      );
    }
  }
  const input = usd(v.input, `${field}.input`);
  const output = usd(v.output, `${field}.output`);
  const cachedInput = v.cachedInput === undefined
    ? input
    : usd(v.cachedInput, `${field}.cachedInput`);
  return { input, output, cachedInput };
}

/** Checks a table of prices by model; `undefined` gives an empty one. */
export function resolvePrices(v: unknown, field: string): PriceTable {
  const table = new Map<string, ResolvedPrice>();
  if (v === undefined || v === null) return table;
  if (!isPlainObject(v)) {
    expected(field, "an object of prices by model name", v);
  }
  for (const [model, price] of Object.entries(v as Prices)) {
    table.set(
      model,
      resolvePrice(price as Price, `${field}[${JSON.stringify(model)}]`),
    );
  }
  return table;
}

/**
 * The price of `model` (as sent; `asked`: as the caller named it) on an
 * endpoint with `own` prices, in a pool with `pool` prices; `undefined`
 * when none is known.
 */
export function priceOf(
  own: PriceTable,
  pool: PriceTable,
  model: string | undefined,
  asked: string | undefined,
): ResolvedPrice | undefined {
  for (const table of [own, pool]) {
    for (const name of [model, asked]) {
      if (name === undefined) continue;
      const price = table.get(name);
      if (price !== undefined) return price;
    }
  }
  return undefined;
}

/** Tokens of one answer, as its `usage` reported them. */
export interface Tokens {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

/**
 * What `tokens` cost at `price`, in USD, rounded to 1e-12 so that sums of
 * prices with few decimals come out as written.
 */
export function costOf(tokens: Tokens, price: ResolvedPrice): number {
  const { inputTokens, cachedInputTokens, outputTokens } = tokens;
  const micro = (inputTokens - cachedInputTokens) * price.input +
    cachedInputTokens * price.cachedInput + outputTokens * price.output;
  return roundUsd(micro / 1_000_000);
}

/** Rounds USD to 1e-12 (far below a token's price), against float drift. */
export function roundUsd(value: number): number {
  return Math.round(value * 1e12) / 1e12;
}
