/**
 * OpenTelemetry traces and metrics for a pool, through
 * `@opentelemetry/api` only: bring your own SDK (`@opentelemetry/sdk-node`,
 * or `@opentelemetry/sdk-trace` and `@opentelemetry/sdk-metrics`) — the
 * feature bundles none, and a pool without it imports nothing of
 * OpenTelemetry.
 *
 * **Traces.** Each call gets a span, a child of the context active when
 * the call starts: named as the GenAI semantic conventions name an
 * inference — `"chat gpt-4.1"` (`{gen_ai.operation.name}
 * {gen_ai.request.model}`) for `chat/completions` and `responses`,
 * `text_completion …` for `completions`, `embeddings …` — with kind
 * `CLIENT`; any other call (`GET /models`) is an `INTERNAL` span named
 * after its method. Each attempt gets a `CLIENT` child span named after its
 * HTTP method (`"POST"`, as the HTTP client conventions name a request),
 * from its sending to its answer's headers or its error; its context goes
 * to the endpoint in the attempt's `traceparent` (and `tracestate`,
 * `baggage`) headers, by the global propagator (`propagation.inject`). A
 * call span covers every attempt, as the GenAI conventions ask of a call
 * that is retried, and the whole answer: for an answer whose body the
 * caller still reads (a stream), it ends when the body was read to its
 * end — with the tokens of `usage()` —, when it stops before its end
 * (`ky_failover.body`: `cancelled`, `failed`, `closed`), or when the pool
 * closes.
 *
 * Span attributes: `http.request.method`, `server.address`,
 * `server.port`, `url.full` (the endpoint's URL and the path, without any
 * query), `http.response.status_code`, `error.type` (the status code of an
 * error answer, or an error's class: `"AttemptTimeoutError"`,
 * `"TypeError"` …), `gen_ai.operation.name`, `gen_ai.request.model` (on
 * the call: the model asked for; on an attempt: the model that endpoint
 * was sent), `gen_ai.response.model` (the model the answering endpoint was
 * sent; the answer's own `model` is not read), `gen_ai.provider.name` (by
 * the answering endpoint's host: `openai`, `azure.ai.openai`, `deepseek`
 * …, `"openai"` for any other OpenAI-compatible host),
 * `gen_ai.usage.input_tokens` and `gen_ai.usage.output_tokens` (with
 * `usage()`), and under `ky_failover.`: `endpoint`, `attempt`, `attempts`,
 * `hedge`, `panic`, `outcome` (`success`, `final`, `failover`,
 * `rate-limited`, `unauthorized`, `aborted`), `result` (`answered`,
 * `failed`), `failover.from` and `failover.reason` (on the attempt a
 * failover sent), `code` (a ruling's error code, e.g. `model_not_found`),
 * `cost_usd`. A failed call or attempt has status `ERROR`, with a message
 * from ky-failover (`"HTTP 503"`, the `FailoverError`'s message) or the
 * error's class alone. Span events: `ky_failover.failover` and
 * `ky_failover.hedge` on the call; `ky_failover.rate_limit`,
 * `ky_failover.auth_failure` and `ky_failover.breaker` (opened, closed)
 * on the attempt that caused them.
 *
 * **Metrics**, on the meter named like the tracer:
 *
 * | instrument | kind, unit | attributes |
 * | --- | --- | --- |
 * | `ky_failover.attempts` | counter, `{attempt}` | `ky_failover.endpoint`, `ky_failover.outcome`, `http.response.status_code`, `error.type` |
 * | `ky_failover.attempt.duration` | histogram, `s` | the same, `http.request.method`, `server.address`, `server.port` |
 * | `ky_failover.call.duration` | histogram, `s` | `ky_failover.result`, `ky_failover.endpoint` (the answering one), `gen_ai.operation.name`, `gen_ai.request.model`, `error.type` |
 * | `ky_failover.failovers` | counter, `{failover}` | `ky_failover.from`, `ky_failover.to`, `error.type` (why `from` failed) |
 * | `ky_failover.rate_limits` | counter, `{rate_limit}` | `ky_failover.endpoint` |
 * | `ky_failover.breaker.state` | gauge, `{state}` | `ky_failover.endpoint`; 0 closed, 1 half-open, 2 open |
 * | `gen_ai.client.token.usage` | histogram, `{token}` | `gen_ai.token.type` (`input`, `output`), `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`, `ky_failover.endpoint` |
 * | `ky_failover.cost` | counter, `USD` | as the token usage, without `gen_ai.token.type` |
 *
 * The call duration runs to the answer's headers, as the pool's
 * `durationMs`; the token usage and cost come with `usage()` (on in
 * `createFailover`), once the answer's body was read. Attributes have
 * bounded values — endpoint names, outcomes, status codes, error classes,
 * and the models callers ask for (`captureModel: false` leaves models
 * out, if callers may name any). No key, header value, URL query or body
 * content is ever recorded.
 *
 * Tracing and metrics are only as good as the SDK behind them: a tracer
 * or exporter that throws is ignored, and never fails a call.
 *
 * @example Spans of a call that fails over, with the SDK in memory
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { otel } from "@ky-failover/ky-failover/otel";
 * import {
 *   InMemorySpanExporter,
 *   SimpleSpanProcessor,
 *   TracerProvider,
 * } from "@opentelemetry/sdk-trace";
 *
 * const exporter = new InMemorySpanExporter();
 * const tracerProvider = new TracerProvider({
 *   spanProcessors: [new SimpleSpanProcessor({ exporter })],
 * });
 * using pool = createPool({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" },
 *     { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b" },
 *   ],
 *   strategy: "priority",
 *   features: [otel({ tracerProvider })],
 *   // Stands in for the network here: the primary is down.
 *   fetch: (input) =>
 *     Promise.resolve(
 *       String(input instanceof Request ? input.url : input).includes("//api.")
 *         ? new Response("down", { status: 503 })
 *         : Response.json({ model: "gpt-4.1" }),
 *     ),
 * });
 * const answer = await pool.fetch("https://api.example.ai/v1/chat/completions", {
 *   method: "POST",
 *   body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
 * });
 * await answer.json();
 * const spans = exporter.getFinishedSpans().map((s) => s.name);
 * console.assert(spans.join() === "POST,POST,chat gpt-4.1", spans.join());
 * ```
 *
 * @module
 */

import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import type { Feature } from "../feature.ts";

/**
 * The provider interfaces of `@opentelemetry/api` that
 * {@linkcode OtelOptions} takes — an SDK's `TracerProvider` and
 * `MeterProvider` implement them.
 *
 * @example
 * ```ts
 * import type { MeterProvider, TracerProvider } from "@ky-failover/ky-failover/otel";
 * import { trace, metrics } from "@opentelemetry/api";
 *
 * const tracerProvider: TracerProvider = trace.getTracerProvider();
 * const meterProvider: MeterProvider = metrics.getMeterProvider();
 * ```
 */
export type { MeterProvider, TracerProvider };
import { otelFeature } from "./_feature.ts";
import { resolveOtel } from "./_options.ts";

/**
 * Options of {@linkcode otel}.
 *
 * @example With the SDK's providers passed in, and models left out
 * ```ts
 * import type { OtelOptions } from "@ky-failover/ky-failover/otel";
 * import { TracerProvider } from "@opentelemetry/sdk-trace";
 * import { MeterProvider } from "@opentelemetry/sdk-metrics";
 *
 * const options: OtelOptions = {
 *   tracerProvider: new TracerProvider(),
 *   meterProvider: new MeterProvider(),
 *   name: "chat-service.ky-failover",
 *   captureModel: false,
 * };
 * ```
 */
export interface OtelOptions {
  /**
   * Where spans go. Default: the global tracer provider
   * (`trace.getTracerProvider()`: what `NodeSDK.start()` registers, even
   * after the pool was created).
   */
  tracerProvider?: TracerProvider | undefined;
  /**
   * Where metrics go. Default: the global meter provider, as it is when
   * the pool is created — start the SDK first.
   */
  meterProvider?: MeterProvider | undefined;
  /** The instrumentation scope of the tracer and the meter. Default `"ky-failover"`. */
  name?: string | undefined;
  /**
   * Whether the model a call asks for (its JSON body's `model`) names its
   * span and labels its metrics. Default `true`; `false` when callers may
   * send any model name (each would be a new metric series).
   */
  captureModel?: boolean | undefined;
}

/**
 * The OpenTelemetry feature (see the module documentation). Invalid
 * options throw a `TypeError` naming the field (`otel.name …`). One
 * `otel()` may join several pools; each gets its own instruments.
 *
 * @example Metrics of an outage, collected on demand
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { otel } from "@ky-failover/ky-failover/otel";
 * import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
 *
 * class OnDemand extends MetricReader {
 *   protected onShutdown() {
 *     return Promise.resolve();
 *   }
 *   protected onForceFlush() {
 *     return Promise.resolve();
 *   }
 * }
 * const reader = new OnDemand();
 * using pool = createPool({
 *   endpoints: [{ name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" }],
 *   breaker: { failureThreshold: 1 },
 *   features: [otel({ meterProvider: new MeterProvider({ readers: [reader] }) })],
 *   fetch: () => Promise.resolve(new Response("down", { status: 503 })),
 * });
 * await pool.fetch("https://api.example.ai/v1/models");
 * const { resourceMetrics } = await reader.collect();
 * const metrics = resourceMetrics.scopeMetrics[0].metrics;
 * const breaker = metrics.find((m) => m.descriptor.name === "ky_failover.breaker.state");
 * console.assert(breaker?.dataPoints[0].value === 2); // open
 * ```
 */
export function otel(options: OtelOptions = {}): Feature {
  return otelFeature(resolveOtel(options, "otel"));
}
