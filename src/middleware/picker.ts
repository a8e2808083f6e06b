/**
 * Picker middleware: chooses one endpoint among the health gate's candidates
 * (all from the best available tier) with the configured strategy.
 *
 * - `"round-robin"` — rotate through the tier in configuration order,
 *   skipping unavailable endpoints; each tier keeps its own cursor, which
 *   starts at a random place (seedable with `random`).
 * - `"weighted"` — smooth weighted round-robin (as in nginx): over any window
 *   each endpoint gets its share of `weight`, interleaved rather than in
 *   bursts. Weight-0 endpoints only get traffic when no weighted one can.
 * - `"priority"` — always the first available endpoint in configuration
 *   order: strict ordered failover, even inside a tier.
 * - `"least-latency"` — power of two choices: draw two candidates at random
 *   and take the one with the lower `(latency EWMA + 1) × (in flight + 1)`.
 *   Fast endpoints get most traffic, a busy one sheds it, and an endpoint
 *   with no sample yet counts as fast, so it gets tried.
 * - a function — called with the candidates and a `PickContext`.
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Endpoint } from "../_endpoint.ts";
import type { Pool } from "../_pool.ts";
import { describeAttempt } from "../errors.ts";
import type { PickerFunction } from "../types.ts";

type Pick = (pool: Pool, candidates: Endpoint[], ctx: Attempt) => Endpoint;

function roundRobin(pool: Pool, candidates: Endpoint[]): Endpoint {
  const tierIndex = pool.tiers.findIndex((t) => t.includes(candidates[0]));
  const tier = pool.tiers[tierIndex];
  const start = pool.cursors[tierIndex];
  for (let k = 0; k < tier.length; k++) {
    const i = (start + k) % tier.length;
    if (candidates.includes(tier[i])) {
      pool.cursors[tierIndex] = (i + 1) % tier.length;
      return tier[i];
    }
  }
  return candidates[0];
}

function weighted(pool: Pool, candidates: Endpoint[]): Endpoint {
  let total = 0;
  let best: Endpoint | undefined;
  for (const e of candidates) {
    if (e.weight === 0) continue;
    e.wrrCurrent += e.weight;
    total += e.weight;
    if (best === undefined || e.wrrCurrent > best.wrrCurrent) best = e;
  }
  if (best === undefined) return roundRobin(pool, candidates);
  best.wrrCurrent -= total;
  return best;
}

/** Expected cost of sending one more request to `e`. */
function load(e: Endpoint): number {
  return ((e.latency ?? 0) + 1) * (e.inFlight + 1);
}

function leastLatency(pool: Pool, candidates: Endpoint[]): Endpoint {
  const n = candidates.length;
  const random = pool.options.random;
  const i = Math.floor(random() * n) % n;
  let j = Math.floor(random() * (n - 1)) % (n - 1);
  if (j >= i) j += 1;
  const a = candidates[i];
  const b = candidates[j];
  return load(b) < load(a) ? b : a;
}

function first(_pool: Pool, candidates: Endpoint[]): Endpoint {
  return candidates[0];
}

function custom(fn: PickerFunction): Pick {
  return (pool, candidates, ctx) => {
    const chosen = fn(candidates.map((e) => e.info), {
      attempt: ctx.attempt,
      tried: ctx.call.tried,
      random: pool.options.random,
    });
    const name = typeof chosen === "string" ? chosen : chosen?.name;
    const endpoint = candidates.find((e) => e.name === name);
    if (endpoint === undefined) {
      throw new TypeError(
        `ky-failover: the strategy function returned ${
          JSON.stringify(name) ?? String(chosen)
        }, which is not one of the candidates (${
          candidates.map((e) => e.name).join(", ")
        })`,
      );
    }
    return endpoint;
  };
}

/** The picker middleware for the pool's strategy. */
export function picker(pool: Pool): Handler<Attempt> {
  const strategy = pool.options.strategy;
  const isCustom = typeof strategy === "function";
  const pick: Pick = typeof strategy === "function"
    ? custom(strategy)
    : strategy === "weighted"
    ? weighted
    : strategy === "priority"
    ? first
    : strategy === "least-latency"
    ? leastLatency
    : roundRobin;
  return (ctx, next) => {
    const candidates = ctx.candidates;
    const target = candidates.length === 1 && !isCustom
      ? candidates[0]
      : pick(pool, candidates, ctx);
    ctx.target = target;
    ctx.endpoint = target.info;
    ctx.call.tried.add(target.name);
    const previous = ctx.call.attempts[ctx.call.attempts.length - 1];
    if (ctx.hedge && pool.listening) {
      pool.emit({ type: "hedge", endpoint: target.name, attempt: ctx.attempt });
    } else if (previous !== undefined && pool.listening) {
      pool.emit({
        type: "failover",
        from: previous.endpoint,
        to: target.name,
        attempt: ctx.attempt,
        reason: describeAttempt(previous),
      });
    }
    return next();
  };
}
