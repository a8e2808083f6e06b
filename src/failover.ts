/**
 * `createFailover`: the batteries-included entry — the core pool with the
 * features today's options name (health checks, hedging, the retry budget,
 * the weighted and least-latency strategies) wired in from plain options,
 * and a ky instance over it.
 *
 * @module
 */

import type { KyInstance, Options as KyOptions } from "ky";
import { checkKyOptions, createKy } from "./_ky.ts";
import {
  POOL_OPTIONS,
  type ResolvedOptions,
  resolveOptions,
  strategyField,
} from "./_options.ts";
import { createEngine } from "./_pool.ts";
import { isPlainObject, optional, rule, type Spec } from "./_validate.ts";
import type { Feature } from "./feature.ts";
import { healthCheckFeature } from "./health_check/_feature.ts";
import {
  type HealthCheckSettings,
  resolveHealthCheck,
} from "./health_check/_options.ts";
import type { HealthCheckOptions } from "./health_check/mod.ts";
import {
  hedgeFeature,
  type HedgeSettings,
  resolveHedge,
} from "./hedge/_feature.ts";
import type { HedgeOptions } from "./hedge/mod.ts";
import { leastLatency } from "./least_latency/mod.ts";
import { models } from "./models/mod.ts";
import { cheapestFeature } from "./cheapest/_feature.ts";
import {
  failoverOnFeature,
  type ResolvedRule,
  resolveFailoverOn,
} from "./failover_on/_rules.ts";
import type { FailoverRule } from "./failover_on/mod.ts";
import { type PriceTable, resolvePrices } from "./_prices.ts";
import type { Prices, UsageReport } from "./provider_types.ts";
import { usageFeature } from "./usage/_feature.ts";
import { sharedFeature, type SharedSettings } from "./shared/_feature.ts";
import { resolveShared } from "./shared/_options.ts";
import type { Store } from "./shared/_store.ts";
import type { UsageFeature } from "./usage/mod.ts";
import { poolOver, warnMissingKeys } from "./_pool_api.ts";
import {
  resolveRetryBudget,
  retryBudgetFeature,
  type RetryBudgetSettings,
} from "./retry_budget/_feature.ts";
import type { RetryBudgetOptions } from "./retry_budget/mod.ts";
import type { Pool, PoolOptions } from "./pool_types.ts";
import type { PickerFunction } from "./types.ts";
import { weighted } from "./weighted/mod.ts";

/** How an endpoint is chosen inside the best available tier. */
export type Strategy =
  | "round-robin"
  | "weighted"
  | "priority"
  | "least-latency"
  | "cheapest"
  | PickerFunction;

/** Options of {@linkcode createFailover}: the core's, and the features'. */
export interface FailoverOptions extends Omit<PoolOptions, "strategy"> {
  /** How to pick inside the best tier. Default `"round-robin"`. */
  strategy?: Strategy | undefined;
  /**
   * Active health checks: periodic `GET {url}/models` probes with each
   * endpoint's key, or `false` (default). `checkHealth()` works either way.
   */
  healthCheck?: HealthCheckOptions | false | undefined;
  /**
   * A token bucket that keeps failed retries near `ratio` per answered
   * attempt, so an outage everywhere cannot multiply traffic, at any call
   * rate: each retry that fails takes a token, each answer puts `ratio`
   * back, and retries stop while the bucket is half empty. A call's first
   * attempt never takes one, so a dead endpoint before a healthy one costs
   * nothing. `false` turns it off. Default `{ ratio: 0.5, maxTokens: 10 }`.
   */
  retryBudget?: RetryBudgetOptions | false | undefined;
  /**
   * Opt-in hedging for idempotent requests: when an attempt has no answer
   * after `delay` ms, a second one goes to another endpoint; the first good
   * answer wins and the other is cancelled. Default `false`.
   */
  hedge?: HedgeOptions | false | undefined;
  /**
   * USD per million tokens, by model (the name an endpoint is sent, or the
   * name asked for): one number, or `{ input, output, cachedInput? }`. An
   * endpoint's own `prices` come first. For usage accounting's `costUsd`,
   * budgets and `strategy: "cheapest"`.
   */
  prices?: Prices | undefined;
  /**
   * More answers that fail over: 4xx answers matched by status and by the
   * `code`, `type` or `message` of their error body (e.g.
   * `{ code: "context_length_exceeded" }`). Default none.
   */
  failoverOn?: readonly FailoverRule[] | undefined;
  /**
   * Token and cost accounting from each answer's `usage` (see
   * `api.usage()`, `status()[i].usage`, the `usage` event), and endpoint
   * budgets. `false` turns it off. Default `true`.
   */
  usage?: boolean | undefined;
  /**
   * Where the pool's instances (processes, tabs, isolates) share endpoint
   * health: `redisStore(…)` from `ky-failover/redis`, `broadcastStore(…)`
   * from `ky-failover/broadcast`, or your own. Default: none — each
   * instance learns on its own. See `sharedState()` in `ky-failover/shared`.
   */
  store?: Store | undefined;
  /** Extra ky defaults for `failover.ky` (hooks, headers, `throwHttpErrors` …). */
  kyOptions?: KyOptions | undefined;
}

/** A failover pool, as returned by {@linkcode createFailover}. */
export interface Failover extends Pool {
  /**
   * A ky instance over the pool. Relative paths (`"chat/completions"`) go to
   * the picked endpoint; so do absolute URLs under any endpoint's `url`.
   * Throws `FailoverError` when every attempt failed, and ky's `HTTPError`
   * for answers that are not failed over (400, 401, 404 …).
   */
  readonly ky: KyInstance;
  /**
   * Tokens and cost counted so far: in total, by endpoint and by model (as
   * sent). Throws a `TypeError` when `usage: false` turned accounting off.
   */
  usage(): UsageReport;
}

/** The preset's options after validation. */
interface PresetOptions extends Omit<ResolvedOptions, "strategy"> {
  strategy: Strategy;
  healthCheck: HealthCheckSettings | false;
  retryBudget: RetryBudgetSettings | false;
  hedge: HedgeSettings | false;
  prices: PriceTable;
  failoverOn: ResolvedRule[];
  usage: boolean;
  store: SharedSettings | undefined;
  kyOptions: KyOptions | undefined;
}

/** The core's fields, then the preset's. */
const PRESET_OPTIONS: Spec<PresetOptions> = {
  ...POOL_OPTIONS,
  // weighted() itself refuses a pool without a weight > 0, when it attaches.
  strategy: strategyField<Strategy>([
    "round-robin",
    "weighted",
    "priority",
    "least-latency",
    "cheapest",
  ]),
  healthCheck: [resolveHealthCheck, false],
  retryBudget: [resolveRetryBudget, {}, true],
  hedge: [resolveHedge, false],
  prices: [resolvePrices],
  failoverOn: [resolveFailoverOn, [], true],
  usage: [rule((v) => typeof v === "boolean", "true or false"), true, true],
  // Named `options.store` in errors, as `sharedState()` names `sharedState.store`.
  store: [
    optional((v, field) =>
      resolveShared({ store: v }, field.slice(0, -".store".length))
    ),
  ],
  kyOptions: [optional(rule(isPlainObject, "an object"))],
};

/** The features the preset's options name, before the user's own. */
function presetFeatures(
  options: PresetOptions,
  meter: UsageFeature | undefined,
): Feature[] {
  const features: Feature[] = [];
  if (options.retryBudget) {
    features.push(retryBudgetFeature(options.retryBudget));
  }
  if (options.strategy === "weighted") features.push(weighted());
  if (options.strategy === "least-latency") features.push(leastLatency());
  if (options.strategy === "cheapest") {
    features.push(cheapestFeature(options.prices));
  }
  if (options.healthCheck) {
    features.push(healthCheckFeature(options.healthCheck));
  }
  if (options.hedge) features.push(hedgeFeature(options.hedge));
  // models() rules first: a missing model is learnt, whatever the rules say.
  features.push(models());
  if (options.failoverOn.length > 0) {
    features.push(failoverOnFeature(options.failoverOn));
  }
  if (meter !== undefined) features.push(meter);
  if (options.store !== undefined) {
    features.push(sharedFeature(options.store));
  }
  return [...features, ...options.features];
}

/**
 * Creates a failover pool over OpenAI-compatible endpoints, with a ky
 * instance (`ky`) and a standard `fetch` over it.
 *
 * Every call goes to an available endpoint of the best priority tier, picked
 * by the strategy; network errors, timeouts, 408, 429 and 5xx move the call
 * to another endpoint at once; other 4xx answers are returned as they are.
 * Failing endpoints are benched by a circuit breaker, rate-limited ones
 * until their `Retry-After` passes. Invalid options throw a `TypeError`
 * naming the field. For a smaller bundle without ky, see `createPool` in
 * `ky-failover/core`.
 *
 * @example Chat completions with ordered backups
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 *
 * const api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "hk", url: "https://hk.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 *   timeout: 10_000,
 * });
 * console.assert(api.status()[0].state === "healthy");
 * // const reply = await api.ky.post("chat/completions", { json: { model, messages } }).json();
 * api.close();
 * ```
 *
 * @example Hand the pool's fetch to an SDK
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 *
 * using api = createFailover({
 *   endpoints: [{ name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" }],
 * });
 * // new OpenAI({ baseURL: "https://a.example.ai/v1", apiKey: "unused", fetch: api.fetch, maxRetries: 0 });
 * console.assert(typeof api.fetch === "function");
 * ```
 */
export function createFailover(options: FailoverOptions): Failover {
  const resolved = resolveOptions<PresetOptions>(
    options as PoolOptions,
    PRESET_OPTIONS,
  );
  checkKyOptions(resolved.kyOptions);
  const { strategy } = resolved;
  const meter = resolved.usage
    ? usageFeature({ prices: resolved.prices })
    : undefined;
  const engine = createEngine({
    ...resolved,
    strategy: strategy === "weighted" || strategy === "least-latency" ||
        strategy === "cheapest"
      ? "round-robin"
      : strategy,
    features: presetFeatures(resolved, meter),
  });
  const ky = createKy(engine, resolved.kyOptions);
  warnMissingKeys(options as PoolOptions, engine);
  const report = () => {
    if (meter === undefined) {
      throw new TypeError(
        "ky-failover: usage accounting is off (options.usage: false)",
      );
    }
    return meter.report();
  };
  return { ...poolOver(engine), ky, usage: report };
}
