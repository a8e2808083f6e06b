/**
 * `createPool`: the core — a standard `fetch` over a pool of
 * OpenAI-compatible endpoints, without ky. Features are opt-in imports.
 *
 * @module
 */

import { resolveOptions } from "./_options.ts";
import { createEngine } from "./_pool.ts";
import { poolOver, warnMissingKeys } from "./_pool_api.ts";
import type { Pool, PoolOptions } from "./pool_types.ts";

/**
 * Creates a pool over OpenAI-compatible endpoints: the core, without ky.
 *
 * Every call goes to an available endpoint of the best priority tier
 * (round-robin by default); network errors, timeouts, 408, 429 and 5xx
 * move the call to another endpoint at once; other 4xx answers are
 * returned as they are. Failing endpoints are benched by a circuit
 * breaker, rate-limited ones until their `Retry-After` passes. Health
 * checks, hedging, a retry budget and other strategies are features:
 * import them and list them in `features`. Invalid options throw a
 * `TypeError` naming the field.
 *
 * @example Hand the pool's fetch to an SDK
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 * });
 * // new OpenAI({ baseURL: "https://api.example.ai/v1", apiKey: "unused", fetch: pool.fetch, maxRetries: 0 });
 * console.assert(pool.status()[0].state === "healthy");
 * ```
 */
export function createPool(options: PoolOptions): Pool {
  const engine = createEngine(resolveOptions(options));
  warnMissingKeys(options, engine);
  return poolOver(engine);
}
