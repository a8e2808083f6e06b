/**
 * The picker: chooses one endpoint among the health gate's candidates (all
 * from the best available tier), then names it in the attempt.
 *
 * Built in:
 * - `"round-robin"` — rotate through the tier in configuration order,
 *   skipping unavailable endpoints; each tier keeps its own cursor, which
 *   starts at a random place (seedable with `random`).
 * - `"priority"` — always the first available endpoint in configuration
 *   order: strict ordered failover, even inside a tier.
 * - a function — called with the candidates and a `PickContext`; it must
 *   return one of them.
 *
 * A feature may bring its own (`weighted()`, `leastLatency()`): its `pick`
 * returns a candidate, or `undefined` to leave the choice to round-robin.
 * With one candidate, only a function is asked.
 *
 * @module
 */

import type { Attempt } from "./_call.ts";
import type { Endpoint } from "./_endpoint.ts";
import { callView } from "./_route.ts";
import type { PoolState } from "./_state.ts";
import { describeAttempt } from "./errors.ts";
import type {
  EndpointInfo,
  PickContext,
  PickerFunction,
  PickStats,
} from "./types.ts";

/** Chooses among `candidates` (never empty) for `ctx`. */
export type Picker = (candidates: Endpoint[], ctx: Attempt) => Endpoint;

/** A feature's choice: a candidate, its name, or none (round-robin). */
export type FeaturePick = (
  candidates: readonly EndpointInfo[],
  context: PickContext,
) => EndpointInfo | string | undefined;

/**
 * Round-robin over each tier. Draws each tier's starting place from the
 * pool's random source at once.
 */
export function roundRobin(state: PoolState): Picker {
  // Start each tier's rotation at a random place so that many clients do
  // not all hit the same endpoint first.
  const random = state.options.random;
  const cursors = state.tiers.map((tier) =>
    Math.floor(random() * tier.length) % tier.length
  );
  return (candidates) => {
    const t = state.tiers.findIndex((tier) => tier.includes(candidates[0]));
    const tier = state.tiers[t];
    for (let k = 0; k < tier.length; k++) {
      const i = (cursors[t] + k) % tier.length;
      if (candidates.includes(tier[i])) {
        cursors[t] = (i + 1) % tier.length;
        return tier[i];
      }
    }
    return candidates[0];
  };
}

/** Load statistics of the pool's endpoints, by name. */
function statsOf(state: PoolState): (name: string) => PickStats {
  const byName = new Map(state.endpoints.map((e) => [e.name, e]));
  return (name) => {
    const e = byName.get(name);
    return { latencyMs: e?.latency, inFlight: e?.inFlight ?? 0 };
  };
}

/** A `FeaturePick` or the user's function, over the pool's endpoints. */
function asking(
  state: PoolState,
  choose: FeaturePick,
  { strict }: { strict: boolean },
  fallback: Picker,
): Picker {
  const stats = statsOf(state);
  return (candidates, ctx) => {
    const call = ctx.call;
    const chosen = choose(candidates.map((e) => e.info), {
      attempt: ctx.attempt,
      tried: call.tried,
      random: state.options.random,
      stats,
      get model() {
        return callView(call).model;
      },
      modelFor: (endpoint) =>
        call.route?.attempt(endpoint)?.model ?? callView(call).model,
    });
    if (chosen === undefined && !strict) return fallback(candidates, ctx);
    const name = typeof chosen === "string" ? chosen : chosen?.name;
    const endpoint = candidates.find((e) => e.name === name);
    if (endpoint === undefined) {
      throw new TypeError(
        `ky-failover: the strategy ${
          strict ? "function" : "feature"
        } returned ${
          JSON.stringify(name) ?? String(chosen)
        }, which is not one of the candidates (${
          candidates.map((e) => e.name).join(", ")
        })`,
      );
    }
    return endpoint;
  };
}

/**
 * The picker for `strategy` (`"round-robin"`, `"priority"` or a
 * function), or for a feature's `pick` when one is given; `rotate` is the
 * pool's round-robin.
 */
export function createPicker(
  state: PoolState,
  { strategy, featurePick, rotate }: {
    strategy: "round-robin" | "priority" | PickerFunction;
    featurePick: FeaturePick | undefined;
    rotate: Picker;
  },
): Picker {
  if (typeof strategy === "function") {
    return asking(state, strategy, { strict: true }, rotate);
  }
  const builtIn: Picker = strategy === "priority"
    ? (candidates) => candidates[0]
    : rotate;
  const pick = featurePick === undefined
    ? builtIn
    : asking(state, featurePick, { strict: false }, rotate);
  return (candidates, ctx) =>
    candidates.length === 1 ? candidates[0] : pick(candidates, ctx);
}

/**
 * Sends `ctx` to `target`: names it in the attempt and the call, and
 * reports the move from the previous attempt's endpoint (or the hedge).
 */
export function aim(state: PoolState, ctx: Attempt, target: Endpoint): void {
  ctx.target = target;
  ctx.endpoint = target.info;
  const call = ctx.call;
  call.tried.add(target.name);
  if (!state.listening) return;
  const previous = call.attempts[call.attempts.length - 1];
  if (ctx.hedge) {
    state.emit(
      { type: "hedge", endpoint: target.name, attempt: ctx.attempt },
      call,
    );
  } else if (previous !== undefined) {
    state.emit({
      type: "failover",
      from: previous.endpoint,
      to: target.name,
      attempt: ctx.attempt,
      reason: describeAttempt(previous),
    }, call);
  }
}
