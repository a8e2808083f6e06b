// What a result does to its endpoint. Every result an endpoint gives — an
// attempt's answer or error, a health probe's, a stream that stalls after
// its call was committed — comes here, and only here does an endpoint's
// health change: its run of failures, its breaker, its benches (rate limit,
// rejected key), its statistics. Then features hear of it (`onOutcome`).

import type { Attempt } from "./_call.ts";
import {
  judgeAnswer,
  judgeError,
  type Judgement,
  judgeProbe,
} from "./_classify.ts";
import type { BenchKind, Endpoint } from "./_endpoint.ts";
import { retryDelay } from "./_retry_after.ts";
import type { PoolState } from "./_state.ts";
import { describeError } from "./errors.ts";
import type { HealthFact } from "./feature.ts";
import type { AttemptOutcome, AttemptRecord, Outcome } from "./types.ts";

/**
 * Benches `endpoint` after a 429 (always) or a 503 (when it says for how
 * long), until the server's retry delay — capped — has passed.
 */
function benchForRateLimit(
  state: PoolState,
  endpoint: Endpoint,
  response: Response,
  now: number,
): void {
  const { fallbackDelay, maxDelay } = state.options.rateLimit;
  const asked = retryDelay(response.headers, now);
  // A 503 only benches when it says for how long; a 429 always does.
  if (asked === undefined && response.status !== 429) return;
  const delayMs = Math.min(asked ?? fallbackDelay, maxDelay);
  const until = now + delayMs;
  if (!bench(state, endpoint, "rate-limited", until)) return;
  if (state.listening) {
    state.emit({
      type: "rate-limit",
      endpoint: endpoint.name,
      status: response.status,
      delayMs,
      until,
    });
  }
}

/**
 * Benches `endpoint` as `kind` until `until` (unless a longer bench of that
 * kind holds), and tells the listeners. Returns whether it was extended.
 */
export function bench(
  state: PoolState,
  endpoint: Endpoint,
  kind: BenchKind,
  until: number,
): boolean {
  if (!endpoint.bench(kind, until)) return false;
  for (const listener of state.benchListeners) listener(endpoint, kind, until);
  return true;
}

/** Benches `endpoint` after its credentials were rejected, and says so. */
function benchForAuth(
  state: PoolState,
  endpoint: Endpoint,
  status: number,
  now: number,
): void {
  const { bench: benchMs } = state.options.authFailure as { bench: number };
  const until = now + benchMs;
  bench(state, endpoint, "unauthorized", until);
  endpoint.noteError(`HTTP ${status}: credentials rejected`, now);
  if (!state.listening) return;
  state.emit({
    type: "auth-failure",
    endpoint: endpoint.name,
    status,
    benchMs,
    until,
    message: `${endpoint.name} answered HTTP ${status}: it rejected its ` +
      `credentials (apiKey / headers). It gets no traffic for ${benchMs} ms, ` +
      "or until a health-check probe passes: check that endpoint's key, " +
      "its expiry and its access to the model.",
  });
}

/**
 * A feature ruled that a final answer fails over: this endpoint cannot
 * serve this call (a model it lacks, a prompt too long for it), which
 * says nothing of its health.
 */
const RULED: Judgement = {
  verdict: "failover",
  health: "neutral",
  unauthorized: false,
};

/** Tells the features, if any listens, what an endpoint's result was. */
function tell(state: PoolState, outcome: () => Outcome): void {
  const listeners = state.outcomeListeners;
  if (listeners.length === 0) return;
  const o = outcome();
  for (const listener of listeners) listener(o);
}

/** Whether a 401 / 403 from `endpoint` would say its own key is at fault. */
export function ownCredentials(state: PoolState, endpoint: Endpoint): boolean {
  return state.options.authFailure !== false && endpoint.hasCredentials;
}

/** Records `ctx` in its call's attempts and reports it. */
function record(state: PoolState, ctx: Attempt, panic: boolean): void {
  const entry: AttemptRecord = {
    endpoint: ctx.target!.name,
    durationMs: ctx.durationMs,
  };
  if (ctx.response !== undefined) entry.status = ctx.response.status;
  else entry.error = ctx.error;
  if (ctx.model !== undefined) entry.model = ctx.model;
  if (ctx.ruling !== undefined) entry.code = ctx.ruling.code;
  ctx.call.attempts.push(entry);
  ctx.record = entry;
  if (!state.listening) return;
  state.emit({
    type: "attempt",
    endpoint: entry.endpoint,
    attempt: ctx.attempt,
    method: ctx.method,
    path: ctx.path,
    ...(entry.status === undefined
      ? { error: entry.error }
      : { status: entry.status }),
    durationMs: entry.durationMs,
    ...(entry.model === undefined ? {} : { model: entry.model }),
    ...(entry.code === undefined ? {} : { code: entry.code }),
    outcome: outcomeOf(ctx),
    panic,
  }, ctx.call);
}

/** Why a settled attempt counted as it did. */
export function outcomeOf(ctx: Attempt): AttemptOutcome {
  return ctx.verdict === "failover" && ctx.response?.status === 429
    ? "rate-limited"
    : ctx.unauthorized
    ? "unauthorized"
    : ctx.verdict as AttemptOutcome;
}

/**
 * Settles an attempt that was sent: judges it (`ctx.verdict`,
 * `ctx.health`), records it in the call, and applies it to the endpoint.
 * Returns the endpoint's run of failures that a healthy answer ended (a
 * stream that stalls later resumes it).
 */
export function settleAttempt(
  state: PoolState,
  ctx: Attempt,
  panic: boolean,
): number {
  const endpoint = ctx.target!;
  const response = ctx.response;
  const judgement = response === undefined
    ? judgeError(ctx.call.abortKind !== undefined || ctx.superseded)
    : ctx.ruling !== undefined
    ? RULED
    : judgeAnswer(
      response.status,
      response.headers,
      ownCredentials(state, endpoint),
    );
  ctx.verdict = judgement.verdict;
  ctx.health = judgement.health;
  ctx.unauthorized = judgement.unauthorized;
  record(state, ctx, panic);
  const now = ctx.finishedAt ?? state.options.clock.now();
  const status = response?.status;
  let runBefore = 0;
  if (ctx.health === "failure") {
    const description = status === undefined
      ? describeError(ctx.error)
      : `HTTP ${status}`;
    endpoint.recordFailure(description, now, true);
  } else if (ctx.health === "success") {
    runBefore = endpoint.run;
    endpoint.recordSuccess();
    endpoint.clearHealthBenches();
  }
  if (ctx.unauthorized) benchForAuth(state, endpoint, status!, now);
  // Not a failure, but worth showing in status().
  if (status === 429) endpoint.noteError("HTTP 429", now);
  if (status === 429 || status === 503) {
    benchForRateLimit(state, endpoint, response!, now);
  }
  endpoint.breaker.record(ctx.health, now, {
    panic,
    run: endpoint.run,
    baseRate: endpoint.runBaseRate,
  });
  tell(state, () => ({
    endpoint: endpoint.name,
    source: "attempt",
    attempt: ctx.attempt,
    status,
    error: ctx.error,
    verdict: ctx.verdict as Outcome["verdict"],
    health: ctx.health,
    durationMs: ctx.durationMs,
    at: now,
  }));
  return runBefore;
}

/**
 * Applies what another instance of the pool saw of `endpoint` (through a
 * shared store): a failure adds to its run — so that failures anywhere
 * open every instance's breaker at the threshold — and a success ends it;
 * a breaker held open and a bench hold here too, until the same time. No
 * feature hears of it as an outcome: it was not this pool's.
 */
export function settleShared(
  state: PoolState,
  endpoint: Endpoint,
  fact: HealthFact,
): void {
  const now = state.options.clock.now();
  switch (fact.type) {
    case "failure":
    case "success": {
      if (fact.type === "failure") {
        endpoint.recordFailure("failed on another instance", now, false);
      } else {
        endpoint.recordSuccess();
        endpoint.clearHealthBenches();
      }
      endpoint.breaker.record(fact.type, now, {
        run: endpoint.run,
        baseRate: endpoint.runBaseRate,
      });
      return;
    }
    case "open":
      endpoint.breaker.holdOpen(fact.until, now);
      return;
    case "bench":
      bench(state, endpoint, fact.bench, fact.until);
  }
}

/** What a health probe got: an answer's status (and the answer), or an error. */
export interface ProbeResult {
  response: Response | undefined;
  error: unknown;
  durationMs: number;
}

/**
 * Settles a health probe: a 2xx is a success (it ends the run of failures,
 * the benches a good answer disproves, and an open or half-open breaker); a
 * 429 only benches, as a rate limit; anything else is a failure that counts
 * toward the breaker (not in `failures`, which counts user attempts).
 */
export function settleProbe(
  state: PoolState,
  endpoint: Endpoint,
  result: ProbeResult,
): Outcome {
  const now = state.options.clock.now();
  const status = result.response?.status;
  const health = judgeProbe(status);
  endpoint.noteCheck(now);
  if (state.listening) {
    state.emit({
      type: "health-check",
      endpoint: endpoint.name,
      ok: health === "success",
      ...(status === undefined ? { error: result.error } : { status }),
      durationMs: result.durationMs,
    });
  }
  if (status === 429) {
    benchForRateLimit(state, endpoint, result.response!, now);
  } else {
    endpoint.breaker.refresh(now);
    if (health === "success") {
      endpoint.recordSuccess();
      endpoint.clearHealthBenches();
    } else {
      endpoint.recordFailure(
        status === undefined ? describeError(result.error) : `HTTP ${status}`,
        now,
        false,
      );
    }
    endpoint.breaker.record(health, now, {
      run: endpoint.run,
      baseRate: endpoint.runBaseRate,
    });
  }
  const outcome: Outcome = {
    endpoint: endpoint.name,
    source: "probe",
    attempt: undefined,
    status,
    error: result.error,
    verdict: health === "success" ? "success" : "failover",
    health,
    durationMs: result.durationMs,
    at: now,
  };
  tell(state, () => outcome);
  return outcome;
}

/**
 * Settles a committed stream whose body broke or stalled: the answer's
 * headers had ended a run of `runBefore` failures; the break proves them
 * wrong, so that run goes on and this failure adds to it — streams that
 * stall one after another open the breaker like any other run.
 */
export function settleStream(
  state: PoolState,
  endpoint: Endpoint,
  { error, runBefore, stalledAfter }: {
    error: unknown;
    runBefore: number;
    /** The idle timeout that ended it, when it stalled. */
    stalledAfter: number | undefined;
  },
): void {
  const now = state.options.clock.now();
  endpoint.resumeRun(runBefore);
  endpoint.recordFailure(describeError(error), now, true);
  if (stalledAfter !== undefined && state.listening) {
    state.emit({
      type: "stream-stall",
      endpoint: endpoint.name,
      timeoutMs: stalledAfter,
    });
  }
  endpoint.breaker.record("failure", now, {
    run: endpoint.run,
    baseRate: endpoint.runBaseRate,
  });
  tell(state, () => ({
    endpoint: endpoint.name,
    source: "stream",
    attempt: undefined,
    status: undefined,
    error,
    verdict: "failover",
    health: "failure",
    durationMs: 0,
    at: now,
  }));
}
