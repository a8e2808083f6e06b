/**
 * The failover engine: the attempt loop that drives the middleware chain,
 * independent of any transport wrapper. `createFailover` runs it under both
 * `failover.fetch` and `failover.ky`, so both have one set of semantics.
 *
 * The chain, composed here and nowhere else, runs once per attempt:
 *
 * ```
 * retry budget → health gate → picker → timeout → stream idle → breaker →
 * failover (429 / retry) → your middleware → buffer → fetch
 * ```
 *
 * @module
 */

import { compose } from "./_compose.ts";
import {
  abortCall,
  Attempt,
  type Call,
  type CallRequest,
  cancelBody,
  type Loop,
} from "./_context.ts";
import { createPool } from "./_pool.ts";
import { fuse } from "./_steps.ts";
import type { ResolvedOptions } from "./_options.ts";
import { transport } from "./_transport.ts";
import { userMiddleware } from "./_user_middleware.ts";
import { type HealthCheckSettings, startHealthChecks } from "./health_check.ts";
import {
  ClosedError,
  FailoverError,
  isAttemptTimeoutError,
  TotalTimeoutError,
} from "./errors.ts";
import { hedged } from "./hedge.ts";
import { breaker } from "./middleware/breaker.ts";
import { bufferBody } from "./middleware/buffer_body.ts";
import { failover } from "./middleware/failover.ts";
import { healthGate } from "./middleware/health_gate.ts";
import { picker } from "./middleware/picker.ts";
import { retryBudget } from "./middleware/retry_budget.ts";
import { streamIdle } from "./middleware/stream_idle.ts";
import { attemptTimeout } from "./middleware/timeout.ts";
import type { AttemptRecord, EndpointStatus } from "./types.ts";
import type { Endpoint } from "./_endpoint.ts";

/** The attempts and reason behind a failed call that returned a response. */
export interface Failure {
  attempts: readonly AttemptRecord[];
  reason: string | undefined;
}

/** The engine behind a failover pool. */
export interface Engine {
  /** Endpoints in configuration order. */
  readonly endpoints: readonly Endpoint[];
  /** Runs one call: attempts until success, a final answer or exhaustion. */
  run(request: CallRequest): Promise<Response>;
  /** Why a response returned by `run` is a failure, when it is one. */
  failureOf(response: Response): Failure | undefined;
  status(): EndpointStatus[];
  /** Probes every endpoint now; resolves when every probe has answered. */
  checkHealth(): Promise<void>;
  close(): void;
}

/** What `checkHealth()` uses when periodic health checks are off. */
const DEFAULT_CHECK: HealthCheckSettings = {
  path: "models",
  interval: 30_000,
  timeout: 5_000,
  jitter: 0.1,
};

/** Builds the engine for resolved options. */
export function createEngine(options: ResolvedOptions): Engine {
  const pool = createPool(options);
  const { clock, maxAttempts, totalTimeout } = options;
  const chain = compose<Attempt>([
    retryBudget(pool),
    healthGate(pool),
    picker(pool),
    // Synchronous work around the request, run in one async frame.
    fuse<Attempt>([
      attemptTimeout(pool),
      streamIdle(pool),
      breaker(pool),
      failover(pool),
    ]),
    userMiddleware(options.middleware),
    bufferBody(pool),
    transport(pool),
  ]);
  const checker = startHealthChecks(
    pool,
    options.healthCheck || DEFAULT_CHECK,
    options.healthCheck !== false,
  );
  const totalDeadlines = totalTimeout === false
    ? undefined
    : pool.deadlines(totalTimeout);
  const active = new Set<Call>();
  const failed = new WeakMap<Response, Failure>();
  let closed = false;

  async function attempts(call: Call): Promise<Response> {
    let last: Attempt | undefined;
    for (let n = 1; n <= maxAttempts; n++) {
      const ctx = new Attempt(call, n);
      try {
        await chain(ctx);
      } catch (error) {
        if (last?.response) cancelBody(last.response);
        if (ctx.response) cancelBody(ctx.response);
        throw error;
      }
      if (ctx.target === undefined) break;
      if (last?.response) cancelBody(last.response);
      last = ctx;
      if (ctx.verdict === "success" || ctx.verdict === "final") {
        return succeed(call, ctx);
      }
      if (ctx.verdict === "aborted") break;
    }
    return finish(call, last);
  }

  function finish(call: Call, last: Attempt | undefined): Response {
    const abortReason = call.abortReason;
    if (call.abortKind === "caller" || call.abortKind === "closed") {
      if (last?.response) cancelBody(last.response);
      throw call.abortKind === "caller" ? abortReason : new ClosedError();
    }
    const durationMs = clock.now() - call.startedAt;
    const n = call.attempts.length;
    const reason = call.abortKind === "total"
      ? `${(abortReason as TotalTimeoutError).message} after ${n} attempt${
        n === 1 ? "" : "s"
      }`
      : call.exhaustedReason ?? timedOutReason(call);
    const response = last?.response;
    if (response !== undefined) {
      // fetch semantics: the last answer is the result. ky turns it into a
      // FailoverError through failureOf() — unless every endpoint rejected
      // its own key: then that 401 / 403 is the answer, as it is without a
      // pool (ky: an HTTPError), not a failover.
      const unauthorized = everyAttemptUnauthorized(call);
      const why = unauthorized
        ? "every endpoint tried rejected its credentials"
        : reason;
      if (!unauthorized) {
        failed.set(response, { attempts: call.attempts, reason });
      }
      if (pool.listening) {
        const error = new FailoverError(call.attempts, {
          response,
          reason: why,
        });
        pool.emit({
          type: "failure",
          attempts: call.attempts,
          error,
          durationMs,
        });
      }
      return response;
    }
    const error = new FailoverError(call.attempts, {
      cause: call.abortKind === "total" ? abortReason : last?.error,
      reason,
    });
    pool.emit({ type: "failure", attempts: call.attempts, error, durationMs });
    throw error;
  }

  /** Whether every attempt of `call` was an endpoint rejecting its key. */
  function everyAttemptUnauthorized(call: Call): boolean {
    return call.attempts.every((a) => a.status === 401 || a.status === 403);
  }

  /**
   * When every attempt of `call` timed out, a reason that says so — the
   * per-attempt `timeout` may be shorter than the answer takes — and an
   * `all-timed-out` event; otherwise `undefined`.
   */
  function timedOutReason(call: Call): string | undefined {
    const attempts = call.attempts;
    if (
      attempts.length === 0 || options.timeout === false ||
      !attempts.every((a) => isAttemptTimeoutError(a.error))
    ) return undefined;
    const endpoints = attempts.map((a) => a.endpoint);
    const message = `every endpoint timed out after ${options.timeout} ms (${
      [...new Set(endpoints)].join(", ")
    }); is \`timeout\` shorter than the answer takes?`;
    pool.emit({
      type: "all-timed-out",
      timeoutMs: options.timeout,
      endpoints,
      message,
    });
    return message;
  }

  function succeed(call: Call, ctx: Attempt): Response {
    if (pool.listening) {
      pool.emit({
        type: "success",
        endpoint: ctx.target!.name,
        status: ctx.response!.status,
        attempts: call.attempts.length,
        durationMs: clock.now() - call.startedAt,
      });
    }
    return ctx.response!;
  }

  const loop: Loop = { pool, chain, succeed, finish };

  /** Whether an SDK retrying on top of the pool was reported (once). */
  let sdkRetriesWarned = false;

  async function run(request: CallRequest): Promise<Response> {
    if (closed) throw new ClosedError();
    // The OpenAI SDK (and SDKs built like it) numbers its own retries.
    if (
      !sdkRetriesWarned && pool.listening &&
      Number(request.headers["x-stainless-retry-count"]) > 0
    ) {
      sdkRetriesWarned = true;
      pool.emit({
        type: "warning",
        code: "sdk-retries",
        message: "an SDK is retrying on top of the pool " +
          "(x-stainless-retry-count > 0): each retry repeats a whole " +
          `failover round of up to ${maxAttempts} attempts — with the ` +
          `default maxRetries: 2, a call that fails everywhere costs up to ` +
          `${3 * maxAttempts} requests instead of ${maxAttempts}, plus the ` +
          "SDK's backoff, which totalTimeout does not bound. Set " +
          "maxRetries: 0 on the client (openAIOptions(api) does).",
      });
    }
    const callerSignal = request.signal;
    if (callerSignal?.aborted) throw callerSignal.reason;
    const now = clock.now();
    const call: Call = {
      request,
      abortKind: undefined,
      abortReason: undefined,
      onAbort: new Set(),
      startedAt: now,
      deadline: totalTimeout === false ? Infinity : now + totalTimeout,
      tried: new Set(),
      attempts: [],
      exhaustedReason: undefined,
    };
    const onCallerAbort = () => abortCall(call, "caller", callerSignal!.reason);
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    const deadline = totalDeadlines?.set(() =>
      abortCall(call, "total", new TotalTimeoutError(totalTimeout as number))
    );
    active.add(call);
    let ok = false;
    try {
      const hedge = options.hedge;
      const response = hedge !== false && hedge.methods.includes(request.method)
        ? await hedged(loop, call, hedge.delay)
        : await attempts(call);
      ok = true;
      return response;
    } finally {
      if (deadline !== undefined) totalDeadlines!.clear(deadline);
      active.delete(call);
      // A returned response stays linked to the caller's signal so that
      // aborting it still cancels the body download.
      if (!ok) callerSignal?.removeEventListener("abort", onCallerAbort);
    }
  }

  return {
    endpoints: pool.endpoints,
    run,
    failureOf: (response) => failed.get(response),
    checkHealth: () =>
      closed ? Promise.reject(new ClosedError()) : checker.checkAll(),
    status() {
      const now = clock.now();
      return pool.endpoints.map((e) => e.status(now));
    },
    close() {
      if (closed) return;
      closed = true;
      checker.stop();
      const reason = new ClosedError();
      for (const call of active) abortCall(call, "closed", reason);
      for (const stream of [...pool.streams]) stream.close(reason);
      for (const queue of pool.queues) queue.close();
    },
  };
}
