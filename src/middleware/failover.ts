/**
 * Retry-on-429 / failover middleware: decides what an attempt's result means.
 *
 * | result | call | endpoint health |
 * |---|---|---|
 * | 2xx, 3xx | return it | success |
 * | 400, 401, 403, 404, 409, 413, 422 … (other 4xx) | return it at once | success (it answered) |
 * | 429 | fail over at once; bench the endpoint until `retry-after-ms` / `Retry-After` (capped) | neutral |
 * | 408, 5xx | fail over | failure |
 * | 503 with a retry header | fail over and bench it like a 429 | failure |
 * | network error, per-attempt timeout | fail over | failure |
 * | caller abort, total timeout, pool closed | stop | neutral |
 *
 * `x-should-retry: true` turns a "return it" into a failover;
 * `x-should-retry: false` turns a failover into "return it".
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Endpoint } from "../_endpoint.ts";
import type { Pool } from "../_pool.ts";
import { retryDelay } from "../_retry_after.ts";
import { describeError } from "../errors.ts";

function benchForRateLimit(
  pool: Pool,
  endpoint: Endpoint,
  response: Response,
  now: number,
  requireHeader: boolean,
): void {
  const { fallbackDelay, maxDelay } = pool.options.rateLimit;
  const asked = retryDelay(response.headers, now);
  if (asked === undefined && requireHeader) return;
  const delayMs = Math.min(asked ?? fallbackDelay, maxDelay);
  const until = now + delayMs;
  if (until <= endpoint.limitedUntil) return;
  endpoint.limitedUntil = until;
  if (pool.listening) {
    pool.emit({
      type: "rate-limit",
      endpoint: endpoint.name,
      status: response.status,
      delayMs,
      until,
    });
  }
}

function classifyResponse(
  pool: Pool,
  ctx: Attempt,
  response: Response,
  now: number,
): void {
  const endpoint = ctx.target!;
  const status = response.status;
  if (status === 429) {
    ctx.verdict = "failover";
    ctx.health = "neutral";
    benchForRateLimit(pool, endpoint, response, now, false);
  } else if (status === 408 || status >= 500) {
    ctx.verdict = "failover";
    ctx.health = "failure";
    if (status === 503) benchForRateLimit(pool, endpoint, response, now, true);
  } else {
    ctx.verdict = status >= 400 ? "final" : "success";
    ctx.health = "success";
  }
  const hint = response.headers.get("x-should-retry");
  if (hint === "true" && ctx.verdict === "final") ctx.verdict = "failover";
  if (hint === "false" && ctx.verdict === "failover") ctx.verdict = "final";
}

/** Classifies the attempt; updates the endpoint's counters and rate-limit bench. */
export function failover(pool: Pool): Handler<Attempt> {
  const clock = pool.options.clock;
  return async (ctx, next) => {
    await next();
    const endpoint = ctx.target!;
    const now = clock.now();
    const response = ctx.response;
    if (response !== undefined) {
      classifyResponse(pool, ctx, response, now);
    } else if (ctx.call.abortKind !== undefined) {
      ctx.verdict = "aborted";
      ctx.health = "neutral";
    } else {
      ctx.verdict = "failover";
      ctx.health = "failure";
    }
    if (ctx.health === "failure") {
      endpoint.failures += 1;
      endpoint.consecutiveFailures += 1;
    } else if (ctx.health === "success") {
      endpoint.consecutiveFailures = 0;
    }
    if (ctx.health === "failure" || response?.status === 429) {
      endpoint.lastError = response
        ? `HTTP ${response.status}`
        : describeError(ctx.error);
      endpoint.lastErrorAt = now;
    }
  };
}
