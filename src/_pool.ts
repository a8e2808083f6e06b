/**
 * A pool's engine: validates nothing (see `_options.ts`), builds the state,
 * attaches the features, and runs calls through the one attempt loop. The
 * core's `createPool` and the `createFailover` preset both stand on it, so
 * `fetch` and `ky` have one set of semantics.
 *
 * @module
 */

import {
  abortCall,
  type Attempt,
  type Call,
  type CallRequest,
  cancelBody,
} from "./_call.ts";
import type { Endpoint } from "./_endpoint.ts";
import { attemptRunner } from "./_attempt.ts";
import { attachFeatures } from "./_features.ts";
import { type Ending, runAttempts } from "./_loop.ts";
import type { ResolvedOptions } from "./_options.ts";
import { createPicker, roundRobin } from "./_pick.ts";
import { createProber } from "./_probe.ts";
import { routeCall } from "./_route.ts";
import { traceCall } from "./_trace.ts";
import { createState } from "./_state.ts";
import {
  ClosedError,
  FailoverError,
  isAttemptTimeoutError,
  TotalTimeoutError,
} from "./errors.ts";
import type { CallEnd } from "./feature.ts";
import type { AttemptRecord, EndpointStatus } from "./types.ts";

/** The attempts and reason behind a failed call that returned a response. */
export interface Failure {
  attempts: readonly AttemptRecord[];
  reason: string | undefined;
}

/** The engine behind a pool. */
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
  /** Closes at once; resolves when features let go of what they hold. */
  close(): Promise<void>;
}

/** What `checkHealth()` probes with when no feature says otherwise. */
const DEFAULT_PROBE = { path: "models", timeout: 5_000 };

/** Builds the engine for resolved options. */
export function createEngine(options: ResolvedOptions): Engine {
  const state = createState(options);
  const { clock, maxAttempts, totalTimeout } = options;
  const prober = createProber(state);
  // The rotation draws its starting places before any feature draws.
  const rotate = roundRobin(state);
  const features = attachFeatures(state, prober);
  const picker = createPicker(state, {
    strategy: options.strategy,
    featurePick: features.pick,
    rotate,
  });
  const attempt = attemptRunner(state, {
    picker,
    around: features.around,
    judges: features.judges,
    observes: features.observers,
  });

  const totalDeadlines = totalTimeout === false
    ? undefined
    : state.deadlines(totalTimeout);
  const active = new Set<Call>();
  const failed = new WeakMap<Response, Failure>();
  let closed: Promise<void> | undefined;

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
      call.answer = last!.record;
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
      if (state.listening) {
        const error = new FailoverError(call.attempts, {
          response,
          reason: why,
        });
        state.emit({
          type: "failure",
          attempts: call.attempts,
          error,
          durationMs,
        }, call);
      }
      return response;
    }
    const error = new FailoverError(call.attempts, {
      cause: call.abortKind === "total" ? abortReason : last?.error,
      reason,
    });
    state.emit(
      { type: "failure", attempts: call.attempts, error, durationMs },
      call,
    );
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
    state.emit({
      type: "all-timed-out",
      timeoutMs: options.timeout,
      endpoints,
      message,
    });
    return message;
  }

  function succeed(call: Call, ctx: Attempt): Response {
    call.answer = ctx.record;
    if (state.listening) {
      state.emit({
        type: "success",
        endpoint: ctx.target!.name,
        status: ctx.response!.status,
        attempts: call.attempts.length,
        durationMs: clock.now() - call.startedAt,
        ...(ctx.model === undefined ? {} : { model: ctx.model }),
      }, call);
    }
    return ctx.response!;
  }

  const ending: Ending = { succeed, finish };

  /** How `call` ended for a trace, when it returns `response`. */
  function answered(call: Call, response: Response): CallEnd {
    const failure = failed.get(response);
    const answer = call.answer;
    return {
      result: failure === undefined ? "answered" : "failed",
      endpoint: answer?.endpoint,
      status: response.status,
      model: answer?.model,
      attempts: call.attempts,
      error: failure === undefined ? undefined : new FailoverError(
        call.attempts,
        { response, reason: failure.reason },
      ),
      durationMs: clock.now() - call.startedAt,
    };
  }

  /** Whether an SDK retrying on top of the pool was reported (once). */
  let sdkRetriesWarned = false;

  async function run(request: CallRequest): Promise<Response> {
    if (closed !== undefined) throw new ClosedError();
    // The OpenAI SDK (and SDKs built like it) numbers its own retries.
    if (
      !sdkRetriesWarned && state.listening &&
      Number(request.headers["x-stainless-retry-count"]) > 0
    ) {
      sdkRetriesWarned = true;
      state.emit({
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
      route: undefined,
      view: undefined,
      trace: undefined,
      answer: undefined,
    };
    call.route = routeCall(features.routes, call);
    call.trace = traceCall(features.traces, call);
    const onCallerAbort = () => abortCall(call, "caller", callerSignal!.reason);
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    const deadline = totalDeadlines?.set(() =>
      abortCall(call, "total", new TotalTimeoutError(totalTimeout as number))
    );
    active.add(call);
    let ok = false;
    try {
      const response = await runAttempts(state, call, {
        attempt,
        ending,
        hedgeDelay: features.hedgeDelay?.({
          method: request.method,
          path: request.path,
        }),
      });
      ok = true;
      call.trace?.end(answered(call, response));
      return response;
    } catch (error) {
      call.trace?.end({
        result: "failed",
        endpoint: undefined,
        status: undefined,
        model: undefined,
        attempts: call.attempts,
        error,
        durationMs: clock.now() - call.startedAt,
      });
      throw error;
    } finally {
      if (deadline !== undefined) totalDeadlines!.clear(deadline);
      active.delete(call);
      // A returned response stays linked to the caller's signal so that
      // aborting it still cancels the body download.
      if (!ok) callerSignal?.removeEventListener("abort", onCallerAbort);
    }
  }

  return {
    endpoints: state.endpoints,
    run,
    failureOf: (response) => failed.get(response),
    checkHealth() {
      if (closed !== undefined) return Promise.reject(new ClosedError());
      if (features.checkHealth !== undefined) return features.checkHealth();
      return Promise.all(
        state.endpoints.map((e) => prober.probe(e, DEFAULT_PROBE)),
      ).then(() => {});
    },
    status() {
      const now = clock.now();
      return state.endpoints.map((e) => {
        const status = e.status(now);
        for (const of of features.statuses) {
          const added = of(e.name);
          if (added?.models !== undefined) status.models = added.models;
          if (added?.usage !== undefined) status.usage = added.usage;
        }
        return status;
      });
    },
    close() {
      if (closed !== undefined) return closed;
      const letGo = features.close();
      prober.close();
      const reason = new ClosedError();
      for (const call of active) abortCall(call, "closed", reason);
      for (const stream of [...state.streams]) stream.close(reason);
      state.closeDeadlines();
      return closed = letGo;
    },
  };
}
