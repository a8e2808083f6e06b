/**
 * Retry-on-429 / failover middleware: decides what an attempt's result means.
 *
 * | result | call | endpoint health |
 * |---|---|---|
 * | 2xx, 3xx | return it | success |
 * | 400, 404, 409, 413, 422 … (other 4xx) | return it at once | success (it answered) |
 * | 401, 403 from an endpoint with its own credentials | fail over; bench the endpoint as `"unauthorized"` (`authFailure`) | neutral |
 * | 401, 403 otherwise, or with `authFailure: false` | return it at once | success |
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

import type { Attempt } from "../_context.ts";
import type { Steps } from "../_steps.ts";
import type { Endpoint } from "../_endpoint.ts";
import type { Pool } from "../_pool.ts";
import { retryDelay } from "../_retry_after.ts";
import { describeError } from "../errors.ts";
import type { AttemptOutcome, AttemptRecord } from "../types.ts";

/**
 * Benches `endpoint` after a 429 (always) or a 503 (when it says for how
 * long), until the server's retry delay — capped — has passed.
 */
export function benchForRateLimit(
  pool: Pool,
  endpoint: Endpoint,
  response: Response,
  now: number,
): void {
  const { fallbackDelay, maxDelay } = pool.options.rateLimit;
  const asked = retryDelay(response.headers, now);
  // A 503 only benches when it says for how long; a 429 always does.
  if (asked === undefined && response.status !== 429) return;
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

/**
 * Whether `status` from `endpoint` says that the endpoint's own credentials
 * were rejected: a 401 or 403 from an endpoint that sends an `apiKey` or
 * `headers` of its own (callers' credential headers never reach an
 * endpoint, so the key at fault is the endpoint's).
 */
function rejectsCredentials(
  pool: Pool,
  endpoint: Endpoint,
  status: number,
): boolean {
  return (status === 401 || status === 403) &&
    pool.options.authFailure !== false && endpoint.hasCredentials;
}

/** Benches `endpoint` after its credentials were rejected, and says so. */
function benchForAuth(
  pool: Pool,
  endpoint: Endpoint,
  status: number,
  now: number,
): void {
  const { bench } = pool.options.authFailure as { bench: number };
  endpoint.unauthorizedUntil = now + bench;
  endpoint.lastError = `HTTP ${status}: credentials rejected`;
  endpoint.lastErrorAt = now;
  if (!pool.listening) return;
  pool.emit({
    type: "auth-failure",
    endpoint: endpoint.name,
    status,
    benchMs: bench,
    until: now + bench,
    message: `${endpoint.name} answered HTTP ${status}: it rejected its ` +
      `credentials (apiKey / headers). It gets no traffic for ${bench} ms, ` +
      "or until a health-check probe passes: check that endpoint's key, " +
      "its expiry and its access to the model.",
  });
}

function classify(pool: Pool, ctx: Attempt): void {
  const response = ctx.response;
  if (response === undefined) {
    const aborted = ctx.call.abortKind !== undefined || ctx.superseded;
    ctx.verdict = aborted ? "aborted" : "failover";
    ctx.health = aborted ? "neutral" : "failure";
    return;
  }
  const status = response.status;
  if (status === 429) {
    ctx.verdict = "failover";
    ctx.health = "neutral";
  } else if (status === 408 || status >= 500) {
    ctx.verdict = "failover";
    ctx.health = "failure";
  } else if (rejectsCredentials(pool, ctx.target!, status)) {
    ctx.verdict = "failover";
    ctx.health = "neutral";
    ctx.unauthorized = true;
  } else {
    ctx.verdict = status >= 400 ? "final" : "success";
    ctx.health = "success";
  }
  // The hint only changes 4xx/5xx verdicts; a 2xx is never failed over, so
  // its headers are not even looked at.
  if (status < 400) return;
  const hint = response.headers.get("x-should-retry");
  if (hint === "true" && ctx.verdict === "final") ctx.verdict = "failover";
  if (hint === "false" && ctx.verdict === "failover") ctx.verdict = "final";
}

function record(pool: Pool, ctx: Attempt): void {
  const entry: AttemptRecord = {
    endpoint: ctx.target!.name,
    durationMs: ctx.durationMs,
  };
  if (ctx.response !== undefined) entry.status = ctx.response.status;
  else entry.error = ctx.error;
  ctx.call.attempts.push(entry);
  if (!pool.listening) return;
  pool.emit({
    type: "attempt",
    endpoint: entry.endpoint,
    attempt: ctx.attempt,
    method: ctx.method,
    path: ctx.path,
    ...(entry.status === undefined
      ? { error: entry.error }
      : { status: entry.status }),
    durationMs: entry.durationMs,
    outcome: ctx.verdict === "failover" && entry.status === 429
      ? "rate-limited"
      : ctx.unauthorized
      ? "unauthorized"
      : ctx.verdict as AttemptOutcome,
    panic: ctx.panic,
  });
}

/**
 * Classifies the attempt, records it (and reports it), then updates the
 * endpoint's counters and its rate-limit bench.
 */
export function failover(pool: Pool): Steps<Attempt> {
  return { after: (ctx) => settle(pool, ctx) };
}

function settle(pool: Pool, ctx: Attempt): void {
  classify(pool, ctx);
  record(pool, ctx);
  const endpoint = ctx.target!;
  const now = ctx.finishedAt ?? pool.options.clock.now();
  const response = ctx.response;
  const status = response?.status;
  if (ctx.health === "failure") {
    const description = status === undefined
      ? describeError(ctx.error)
      : `HTTP ${status}`;
    endpoint.recordFailure(description, now, true);
  } else if (ctx.health === "success") {
    ctx.runBefore = endpoint.consecutiveFailures;
    endpoint.recordSuccess();
    endpoint.clearHealthBenches();
  }
  if (ctx.unauthorized) benchForAuth(pool, endpoint, status!, now);
  if (status === 429) {
    // Not a failure, but worth showing in status().
    endpoint.lastError = "HTTP 429";
    endpoint.lastErrorAt = now;
  }
  if (status === 429 || status === 503) {
    benchForRateLimit(pool, endpoint, response!, now);
  }
}
