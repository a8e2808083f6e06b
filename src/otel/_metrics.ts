// The otel feature's instruments, made once per pool it joins.

import type {
  Counter,
  Histogram,
  Meter,
  ObservableGauge,
} from "@opentelemetry/api";

/** Bucket boundaries of `http.client.request.duration`, in s. */
const HTTP_SECONDS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
];

/** Bucket boundaries of `gen_ai.client.operation.duration`, in s. */
const GENAI_SECONDS = [
  0.01,
  0.02,
  0.04,
  0.08,
  0.16,
  0.32,
  0.64,
  1.28,
  2.56,
  5.12,
  10.24,
  20.48,
  40.96,
  81.92,
];

/** Bucket boundaries of `gen_ai.client.token.usage`: powers of 4. */
const TOKENS = Array.from({ length: 14 }, (_, i) => 4 ** i);

/** The instruments of one pool. */
export interface Instruments {
  /** `ky_failover.attempts`: attempts, by endpoint and outcome. */
  readonly attempts: Counter;
  /** `ky_failover.attempt.duration`: send to answer (or error), in s. */
  readonly attemptDuration: Histogram;
  /** `ky_failover.call.duration`: call start to its answer, in s. */
  readonly callDuration: Histogram;
  /** `ky_failover.failovers`: moves from one endpoint to the next. */
  readonly failovers: Counter;
  /** `ky_failover.rate_limits`: 429s (and 503s with a retry header). */
  readonly rateLimits: Counter;
  /** `gen_ai.client.token.usage`: tokens per call, input and output. */
  readonly tokens: Histogram;
  /** `ky_failover.cost`: what calls cost, in USD. */
  readonly cost: Counter;
  /** `ky_failover.breaker.state`: 0 closed, 1 half-open, 2 open. */
  readonly breaker: ObservableGauge;
}

/** Makes the instruments on `meter`. */
export function instruments(meter: Meter): Instruments {
  return {
    attempts: meter.createCounter("ky_failover.attempts", {
      description: "Attempts sent to an endpoint, by how each counted " +
        "(success, final, failover, rate-limited, unauthorized, aborted).",
      unit: "{attempt}",
    }),
    attemptDuration: meter.createHistogram("ky_failover.attempt.duration", {
      description: "Time from sending an attempt to its response headers " +
        "(or its error).",
      unit: "s",
      advice: { explicitBucketBoundaries: HTTP_SECONDS },
    }),
    callDuration: meter.createHistogram("ky_failover.call.duration", {
      description: "Time from a call's start to the answer it returns " +
        "(response headers, after every failover), or to its failure.",
      unit: "s",
      advice: { explicitBucketBoundaries: GENAI_SECONDS },
    }),
    failovers: meter.createCounter("ky_failover.failovers", {
      description: "Calls moving from a failed endpoint to another one.",
      unit: "{failover}",
    }),
    rateLimits: meter.createCounter("ky_failover.rate_limits", {
      description: "Rate-limit answers that benched an endpoint.",
      unit: "{rate_limit}",
    }),
    tokens: meter.createHistogram("gen_ai.client.token.usage", {
      description: "Number of input and output tokens used, per call.",
      unit: "{token}",
      advice: { explicitBucketBoundaries: TOKENS },
    }),
    cost: meter.createCounter("ky_failover.cost", {
      description: "What answered calls cost, from the usage() prices.",
      unit: "USD",
    }),
    breaker: meter.createObservableGauge("ky_failover.breaker.state", {
      description: "Circuit breaker of an endpoint: 0 closed, 1 half-open, " +
        "2 open.",
      unit: "{state}",
    }),
  };
}
