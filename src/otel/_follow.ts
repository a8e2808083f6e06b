// One call followed by the otel feature: its span, its attempts' spans,
// and the metrics they record as they settle and end. Classes rather than
// closures: a call allocates what it needs and nothing per hook.

import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { isKyFailoverError } from "../errors.ts";
import type {
  AttemptTrace,
  CallEnd,
  CallTrace,
  FeatureCall,
  SentAttempt,
  SettledAttempt,
} from "../feature.ts";
import type { Clock } from "../types.ts";
import type { Instruments } from "./_metrics.ts";
import {
  type EndpointNames,
  errorTypeOf,
  fullUrl,
  operationOf,
  withoutUrlSecrets,
} from "./_names.ts";

/** Runs `f`; what the SDK (a processor, an exporter) throws is dropped. */
export function safely(f: () => void): void {
  try {
    f();
  } catch {
    // Telemetry must never break a call.
  }
}

/** What every call of one pool shares. */
export interface Shared {
  readonly tracer: Tracer;
  readonly metrics: Instruments;
  readonly clock: Clock;
  readonly captureModel: boolean;
  /** How each endpoint is named, by endpoint. */
  readonly names: ReadonlyMap<string, EndpointNames>;
  /** `server.address` and `server.port` of each endpoint. */
  readonly servers: ReadonlyMap<string, Attributes>;
  /** The attempt whose settling the pool reports now (see `onEvent`). */
  settling: AttemptFollow | undefined;
  /** Called when a call span ends. */
  ended(call: CallFollow): void;
  /** Calls that ended with a body still being read. */
  readonly reading: Set<CallFollow>;
  /** The pool closed: what ends now ends at once. */
  closed: boolean;
}

/** Starts a span; one a processor refuses (it threw) is a no-op span. */
function startSpan(
  shared: Shared,
  name: string,
  kind: SpanKind,
  attributes: Attributes | undefined,
  parent: Context,
): Span {
  try {
    return shared.tracer.startSpan(
      name,
      { kind, attributes, startTime: shared.clock.now() },
      parent,
    );
  } catch {
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
}

/** One attempt being followed: its span, from its sending to its settling. */
export class AttemptFollow implements AttemptTrace {
  readonly span: Span;
  readonly endpoint: string;
  readonly attempt: number;
  readonly headers: Record<string, string> | undefined;
  readonly #call: CallFollow;

  constructor(call: CallFollow, sent: SentAttempt) {
    this.#call = call;
    const { endpoint, attempt } = sent;
    this.endpoint = endpoint;
    this.attempt = attempt;
    const shared = call.shared;
    const failover = sent.hedge ? undefined : call.failover;
    if (failover !== undefined) call.failover = undefined;
    // A call that is not recorded (sampled out, no SDK) has attempts that
    // are not either: their attributes are not built.
    let attributes: Attributes | undefined;
    if (call.recording) {
      const names = shared.names.get(endpoint);
      attributes = {
        "http.request.method": call.method,
        ...shared.servers.get(endpoint),
        "ky_failover.endpoint": endpoint,
        "ky_failover.attempt": attempt,
      };
      if (names !== undefined) {
        attributes["url.full"] = fullUrl(names, call.path);
      }
      if (sent.hedge) attributes["ky_failover.hedge"] = true;
      const model = shared.captureModel ? sent.model ?? call.model : undefined;
      if (model !== undefined) attributes["gen_ai.request.model"] = model;
      if (failover !== undefined) {
        attributes["ky_failover.failover.from"] = failover.from;
        attributes["ky_failover.failover.reason"] = failover.reason;
      }
    }
    const span = startSpan(
      shared,
      call.method,
      SpanKind.CLIENT,
      attributes,
      call.context,
    );
    this.span = span;
    // Its context goes to the endpoint; a span with none (no SDK, no
    // parent) has nothing to send.
    if (trace.isSpanContextValid(span.spanContext())) {
      const headers: Record<string, string> = {};
      safely(() =>
        propagation.inject(trace.setSpan(call.context, span), headers)
      );
      this.headers = headers;
    }
  }

  end(settled: SettledAttempt): void {
    const call = this.#call;
    const shared = call.shared;
    if (shared.settling === this) shared.settling = undefined;
    call.settled(this);
    const { status, error, outcome, code, durationMs } = settled;
    const errorType = errorTypeOf(status, error);
    call.lastError = errorType;
    const labels: Attributes = {
      "ky_failover.endpoint": this.endpoint,
      "ky_failover.outcome": outcome,
    };
    if (status !== undefined) labels["http.response.status_code"] = status;
    if (errorType !== undefined) labels["error.type"] = errorType;
    const span = this.span;
    if (call.recording) {
      safely(() => {
        span.setAttributes(labels);
        if (code !== undefined) span.setAttribute("ky_failover.code", code);
        if (errorType !== undefined && outcome !== "aborted") {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: status === undefined ? errorType : `HTTP ${status}`,
          });
        }
      });
      safely(() => span.end(shared.clock.now()));
    } else {
      safely(() => span.end());
    }
    // The metrics' hashing costs per attribute key: the duration has the
    // counter's (server.* would name the endpoint again).
    safely(() => {
      shared.metrics.attempts.add(1, labels);
      shared.metrics.attemptDuration.record(durationMs / 1000, labels);
    });
  }
}

/** One call being followed, from its start to the end of its answer. */
export class CallFollow implements CallTrace {
  readonly shared: Shared;
  readonly span: Span;
  /** Whether the span records (sampled, with an SDK behind it). */
  readonly recording: boolean;
  /** The call span's context: the parent of its attempts' spans. */
  readonly context: Context;
  readonly method: string;
  readonly path: string;
  /** `gen_ai.operation.name`, when the call is a GenAI operation. */
  readonly operation: string | undefined;
  /** The model asked for (when models are captured). */
  readonly model: string | undefined;
  /** The failover the next attempt makes: from where, and why. */
  failover: { from: string; reason: string } | undefined = undefined;
  /** The error type of the attempt that settled last (a failover's cause). */
  lastError: string | undefined = undefined;
  /** `end` ran. */
  callEnded = false;
  /** The span ended. */
  ended = false;
  /** A body observer is open: the answer is still being read. */
  reading = false;
  /** Attempts in flight. */
  #attempts: AttemptFollow[] = [];

  constructor(shared: Shared, call: FeatureCall, parent: Context) {
    this.shared = shared;
    const method = call.method;
    const path = call.path;
    this.method = method;
    this.path = path;
    const operation = operationOf(method, path);
    this.operation = operation;
    const model = shared.captureModel && operation !== undefined
      ? call.model
      : undefined;
    this.model = model;
    let attributes: Attributes | undefined;
    if (operation !== undefined) {
      attributes = { "gen_ai.operation.name": operation };
      if (model !== undefined) attributes["gen_ai.request.model"] = model;
    }
    const span = startSpan(
      shared,
      operation === undefined
        ? method
        : model === undefined
        ? operation
        : `${operation} ${model}`,
      operation === undefined ? SpanKind.INTERNAL : SpanKind.CLIENT,
      attributes,
      parent,
    );
    this.span = span;
    this.recording = span.isRecording();
    this.context = trace.isSpanContextValid(span.spanContext())
      ? trace.setSpan(parent, span)
      : parent;
  }

  attempt(sent: SentAttempt): AttemptTrace {
    const follow = new AttemptFollow(this, sent);
    this.#attempts.push(follow);
    return follow;
  }

  /** The attempt numbered `attempt`, while it is in flight. */
  inFlight(attempt: number): AttemptFollow | undefined {
    return this.#attempts.find((a) => a.attempt === attempt);
  }

  /** `attempt` settled. */
  settled(attempt: AttemptFollow): void {
    const attempts = this.#attempts;
    const i = attempts.indexOf(attempt);
    if (i >= 0) attempts.splice(i, 1);
  }

  end(ended: CallEnd): void {
    this.callEnded = true;
    const { result, endpoint, status, error, durationMs } = ended;
    // A failed call that returns its last answer (`fetch`) failed with its
    // status; one that throws, with the error's class.
    const errorType = result === "answered"
      ? errorTypeOf(status, undefined)
      : status !== undefined
      ? String(status)
      : errorTypeOf(undefined, error) ?? "_OTHER";
    const labels: Attributes = { "ky_failover.result": result };
    if (this.operation !== undefined) {
      labels["gen_ai.operation.name"] = this.operation;
    }
    if (this.model !== undefined) labels["gen_ai.request.model"] = this.model;
    if (endpoint !== undefined) labels["ky_failover.endpoint"] = endpoint;
    if (errorType !== undefined) labels["error.type"] = errorType;
    if (this.recording) this.#record(ended, labels, errorType);
    const shared = this.shared;
    safely(() => shared.metrics.callDuration.record(durationMs / 1000, labels));
    if (this.reading && !shared.closed) shared.reading.add(this);
    else this.finish();
  }

  /** Sets on the span what the call ended with. */
  #record(
    ended: CallEnd,
    labels: Attributes,
    errorType: string | undefined,
  ): void {
    const { endpoint, status, error, attempts } = ended;
    const { names, servers, captureModel } = this.shared;
    const span = this.span;
    safely(() => {
      span.setAttributes(labels);
      span.setAttribute("ky_failover.attempts", attempts.length);
      if (status !== undefined) {
        span.setAttribute("http.response.status_code", status);
      }
      if (endpoint !== undefined) {
        span.setAttributes(servers.get(endpoint) ?? {});
        const provider = names.get(endpoint)?.provider;
        if (provider !== undefined && this.operation !== undefined) {
          span.setAttribute("gen_ai.provider.name", provider);
        }
        const model = ended.model ?? this.model;
        if (captureModel && model !== undefined) {
          span.setAttribute("gen_ai.response.model", model);
        }
      }
      if (errorType !== undefined) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          // Our errors' messages are key-free; another's (a caller's abort
          // reason) may say anything: only its class is shown.
          message: isKyFailoverError(error)
            ? withoutUrlSecrets(error.message)
            : status !== undefined
            ? `HTTP ${status}`
            : errorType,
        });
      }
    });
  }

  /** Ends the span, once, now. */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    const shared = this.shared;
    shared.ended(this);
    const span = this.span;
    if (!this.recording) safely(() => span.end());
    else safely(() => span.end(shared.clock.now()));
  }
}
