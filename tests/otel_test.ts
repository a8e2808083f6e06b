// The otel feature with the real OpenTelemetry SDK (traces and metrics in
// memory, collected on demand — no timers): the spans of a call and of its
// attempts, their parents and the traceparent an endpoint receives over
// real HTTP, the metric points of failovers, outages and rate limits, the
// tokens and cost of usage(), every span ended exactly once (failed,
// aborted and cancelled calls, close()), an SDK that throws, and no key in
// anything exported.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import { serveRegions } from "./_loopback_regions.ts";
import { walk } from "./_walk.ts";
import {
  type Attributes,
  context,
  metrics,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider as ApiTracerProvider,
} from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  createFailover,
  type EndpointOptions,
  type Feature,
  isFailoverError,
} from "ky-failover";
import { createPool, type PoolOptions } from "ky-failover/core";
import { hedge } from "ky-failover/hedge";
import { otel, type OtelOptions } from "ky-failover/otel";
import { mockRegions } from "ky-failover/testing";

const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };
const post = (body: unknown = chat, signal?: AbortSignal): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
  signal,
});

/** A metric reader collected on demand: no timer. */
class OnDemand extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The SDK in memory, and how many times each span was ended. */
class Telemetry implements AsyncDisposable {
  readonly exporter = new InMemorySpanExporter();
  readonly sdk: TracerProvider;
  readonly reader = new OnDemand();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  /** `end()` calls per span id, for every span started. */
  readonly ends = new Map<string, number>();
  /** Wraps the SDK's provider to count each span's `end()` calls. */
  readonly tracerProvider: ApiTracerProvider;

  constructor(processors: SpanProcessor[] = [], sampler?: Sampler) {
    this.sdk = new TracerProvider({
      ...(sampler === undefined ? {} : { sampler }),
      spanProcessors: [
        ...processors,
        new SimpleSpanProcessor({ exporter: this.exporter }),
      ],
    });
    const ends = this.ends;
    const sdk = this.sdk;
    this.tracerProvider = {
      getTracer(name, version, options) {
        const tracer = sdk.getTracer(name, version, options);
        const counted: Pick<Tracer, "startSpan"> = {
          startSpan(spanName, spanOptions, parent) {
            const span: Span = tracer.startSpan(spanName, spanOptions, parent);
            const id = span.spanContext().spanId;
            ends.set(id, 0);
            const end = span.end.bind(span);
            span.end = (time) => {
              ends.set(id, ends.get(id)! + 1);
              end(time);
            };
            return span;
          },
        };
        return counted as Tracer;
      },
    };
  }

  /** The options of an `otel()` that records here. */
  options(extra: OtelOptions = {}): OtelOptions {
    return {
      tracerProvider: this.tracerProvider,
      meterProvider: this.meterProvider,
      ...extra,
    };
  }

  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The one finished span named `name`. */
  span(name: string): ReadableSpan {
    const found = this.spans().filter((s) => s.name === name);
    assert.equal(found.length, 1, `one span named ${name}`);
    return found[0];
  }

  /** Whether the span `span` was ended. */
  ended(span: ReadableSpan | string): number {
    const id = typeof span === "string" ? span : span.spanContext().spanId;
    return this.ends.get(id) ?? 0;
  }

  /** Every started span was ended exactly once. */
  assertEndedOnce(label: string): void {
    const counts = [...this.ends.values()];
    assert.ok(counts.length > 0, `${label}: spans were started`);
    assert.deepEqual(
      counts.filter((n) => n !== 1),
      [],
      `${label}: every span ended once (${counts.join(", ")})`,
    );
  }

  async collect(): Promise<ResourceMetrics> {
    const { resourceMetrics, errors } = await this.reader.collect();
    assert.deepEqual(errors, []);
    return resourceMetrics;
  }

  /** The instrument `name`'s data, or `undefined` if it has none. */
  async metric(name: string): Promise<MetricData | undefined> {
    const collected = await this.collect();
    return collected.scopeMetrics.flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === name);
  }

  /** The points of `name` whose attributes include `attributes`. */
  async points(
    name: string,
    attributes: Attributes = {},
  ): Promise<DataPoint<unknown>[]> {
    const data = await this.metric(name);
    return (data?.dataPoints as DataPoint<unknown>[] | undefined ?? [])
      .filter((p) =>
        Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)
      );
  }

  /** The sum of the counter `name`'s points with `attributes`. */
  async count(name: string, attributes: Attributes = {}): Promise<number> {
    return (await this.points(name, attributes))
      .reduce((sum, p) => sum + (p.value as number), 0);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.sdk.shutdown();
    await this.meterProvider.shutdown();
  }
}

/** A core pool over `regions` with otel() (and `features`), by priority. */
function pool(
  regions: ReturnType<typeof mockRegions>,
  telemetry: Telemetry,
  extra: Partial<PoolOptions> & { otel?: OtelOptions } = {},
) {
  const { otel: otelOptions, features = [], ...rest } = extra;
  return createPool({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
    })),
    fetch: regions.fetch,
    clock: new ManualClock(),
    features: [otel(telemetry.options(otelOptions)), ...features],
    ...rest,
  });
}

/** Runs `fn` with a global async context manager and W3C propagator. */
async function withGlobalContext<T>(fn: () => Promise<T>): Promise<T> {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    return await fn();
  } finally {
    context.disable();
    propagation.disable();
  }
}

const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;

test("otel: a sampled-out call records no span and builds no attempt attributes; its metrics still count", async () => {
  /** The attributes each span was started with, as the sampler saw them. */
  const started: { name: string; attributes: Attributes }[] = [];
  const dropAll: Sampler = {
    shouldSample(_context, _traceId, name, _kind, attributes) {
      started.push({ name, attributes: { ...attributes } });
      return { decision: SamplingDecision.NOT_RECORD };
    },
    toString: () => "drop-all",
  };
  await using telemetry = new Telemetry([], dropAll);
  const regions = mockRegions(["primary", "backup"]);
  regions.region("primary").mode = { status: 503 };
  using api = pool(regions, telemetry);
  const answer = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  );
  assert.equal(answer.status, 200);
  await answer.json();
  assert.deepEqual(telemetry.spans(), [], "nothing exported");
  assert.deepEqual(started, [
    {
      name: "chat gpt-4.1",
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4.1",
      },
    },
    { name: "POST", attributes: {} },
    { name: "POST", attributes: {} },
  ]);
  telemetry.assertEndedOnce("sampled out");
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      "ky_failover.endpoint": "primary",
      "ky_failover.outcome": "failover",
    }),
    1,
  );
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      "ky_failover.endpoint": "backup",
      "ky_failover.outcome": "success",
    }),
    1,
  );
});

test("otel: a failover gives a call span and two attempt spans, with their attributes and statuses", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary", "backup"]);
  regions.region("primary").mode = { status: 503 };
  using api = pool(regions, telemetry);
  const answer = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  );
  assert.equal(answer.status, 200);
  await answer.json();

  const spans = telemetry.spans();
  assert.deepEqual(spans.map((s) => s.name), ["POST", "POST", "chat gpt-4.1"]);
  const [first, second, call] = spans;
  assert.equal(call.kind, SpanKind.CLIENT);
  assert.equal(first.kind, SpanKind.CLIENT);
  assert.equal(parentId(call), undefined, "no active span: a root");
  assert.equal(parentId(first), spanId(call));
  assert.equal(parentId(second), spanId(call));
  assert.equal(first.spanContext().traceId, call.spanContext().traceId);
  assert.deepEqual(call.attributes, {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4.1",
    "gen_ai.response.model": "gpt-4.1",
    "gen_ai.provider.name": "openai",
    "ky_failover.result": "answered",
    "ky_failover.endpoint": "backup",
    "ky_failover.attempts": 2,
    "http.response.status_code": 200,
    "server.address": "backup.example.ai",
    "server.port": 443,
  });
  assert.deepEqual(call.status, { code: SpanStatusCode.UNSET });
  assert.deepEqual(
    call.events.map((e) => [e.name, e.attributes]),
    [["ky_failover.failover", {
      "ky_failover.failover.from": "primary",
      "ky_failover.failover.to": "backup",
      "ky_failover.failover.reason": "HTTP 503",
    }]],
  );
  assert.deepEqual(first.attributes, {
    "http.request.method": "POST",
    "server.address": "primary.example.ai",
    "server.port": 443,
    "url.full": "https://primary.example.ai/v1/chat/completions",
    "gen_ai.request.model": "gpt-4.1",
    "ky_failover.endpoint": "primary",
    "ky_failover.attempt": 1,
    "ky_failover.outcome": "failover",
    "http.response.status_code": 503,
    "error.type": "503",
  });
  assert.deepEqual(first.status, {
    code: SpanStatusCode.ERROR,
    message: "HTTP 503",
  });
  assert.deepEqual(second.attributes, {
    "http.request.method": "POST",
    "server.address": "backup.example.ai",
    "server.port": 443,
    "url.full": "https://backup.example.ai/v1/chat/completions",
    "gen_ai.request.model": "gpt-4.1",
    "ky_failover.endpoint": "backup",
    "ky_failover.attempt": 2,
    "ky_failover.failover.from": "primary",
    "ky_failover.failover.reason": "HTTP 503",
    "ky_failover.outcome": "success",
    "http.response.status_code": 200,
  });
  assert.deepEqual(second.status, { code: SpanStatusCode.UNSET });
  assert.deepEqual(call.instrumentationScope.name, "ky-failover");
  telemetry.assertEndedOnce("failover");
});

test("otel: the traceparent an endpoint receives over HTTP is its attempt span's, under the call span, under the caller's span", async () => {
  await withGlobalContext(async () => {
    await using telemetry = new Telemetry();
    await using served = await serveRegions(["primary", "backup"]);
    served.region("primary").mode = { status: 500 };
    using api = createPool({
      endpoints: served.regions.map((r, i) => ({
        name: r.name,
        url: r.url,
        apiKey: `sk-${r.name}`,
        priority: i + 1,
      })),
      features: [otel(telemetry.options())],
    });
    const caller = telemetry.tracerProvider.getTracer("app").startSpan(
      "handle request",
    );
    const text = await context.with(
      trace.setSpan(context.active(), caller),
      async () => {
        const answer = await api.fetch(
          `${served.regions[0].url}/embeddings`,
          post({ model: "text-embedding-3-small", input: "hi" }),
        );
        return await answer.text();
      },
    );
    caller.end();
    assert.match(text, /embedding/);

    const call = telemetry.span("embeddings text-embedding-3-small");
    const attempts = telemetry.spans().filter((s) => s.name === "POST");
    assert.equal(attempts.length, 2);
    assert.equal(parentId(call), caller.spanContext().spanId);
    assert.equal(call.spanContext().traceId, caller.spanContext().traceId);
    const received = [
      served.region("primary").received[0],
      served.region("backup").received[0],
    ];
    for (const [i, attempt] of attempts.entries()) {
      assert.equal(parentId(attempt), spanId(call));
      const { traceId, spanId: id } = attempt.spanContext();
      assert.equal(
        received[i].headers.get("traceparent"),
        `00-${traceId}-${id}-01`,
        `attempt ${i + 1}: the traceparent received`,
      );
      assert.equal(
        received[i].authorization,
        `Bearer sk-${attempt.attributes["ky_failover.endpoint"]}`,
        "the key is still the endpoint's own",
      );
      assert.match(
        String(attempt.attributes["url.full"]),
        /^http:\/\/127\.0\.0\.1:\d+\/v1\/embeddings$/,
      );
      assert.equal(attempt.attributes["server.address"], "127.0.0.1");
    }
    telemetry.assertEndedOnce("over HTTP");
  });
});

test("otel: metrics count attempts by endpoint and outcome, failovers and rate limits, and time attempts and calls", async () => {
  await using telemetry = new Telemetry();
  const clock = new ManualClock();
  const regions = mockRegions(["primary", "hk", "sg"], { clock });
  regions.region("primary").mode = { status: 503 };
  regions.region("hk").mode = { status: 429, headers: { "retry-after": "5" } };
  regions.region("sg").mode = { slow: 250 };
  using api = pool(regions, telemetry, { clock });
  const pending = api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  );
  await bounded(
    "sg is asked",
    5_000,
    () => regions.region("sg").waitForRequests(1),
  );
  await turns();
  clock.advance(250);
  const answer = await pending;
  await answer.json();

  const outcome = (endpoint: string, o: string) => ({
    "ky_failover.endpoint": endpoint,
    "ky_failover.outcome": o,
  });
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      ...outcome("primary", "failover"),
      "http.response.status_code": 503,
      "error.type": "503",
    }),
    1,
  );
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      ...outcome("hk", "rate-limited"),
      "http.response.status_code": 429,
      "error.type": "429",
    }),
    1,
  );
  assert.equal(
    await telemetry.count("ky_failover.attempts", outcome("sg", "success")),
    1,
  );
  assert.equal(await telemetry.count("ky_failover.attempts"), 3);
  assert.equal(
    await telemetry.count("ky_failover.failovers", {
      "ky_failover.from": "primary",
      "ky_failover.to": "hk",
      "error.type": "503",
    }),
    1,
  );
  assert.equal(
    await telemetry.count("ky_failover.failovers", {
      "ky_failover.from": "hk",
      "ky_failover.to": "sg",
      "error.type": "429",
    }),
    1,
  );
  assert.equal(
    await telemetry.count("ky_failover.rate_limits", {
      "ky_failover.endpoint": "hk",
    }),
    1,
  );
  const attempts = await telemetry.points("ky_failover.attempt.duration");
  assert.equal(attempts.length, 3);
  const sg = await telemetry.points("ky_failover.attempt.duration", {
    "ky_failover.endpoint": "sg",
    "ky_failover.outcome": "success",
    "http.response.status_code": 200,
  });
  assert.equal((sg[0].value as Histogram).count, 1);
  assert.equal((sg[0].value as Histogram).sum, 0.25);
  const calls = await telemetry.points("ky_failover.call.duration", {
    "ky_failover.result": "answered",
    "ky_failover.endpoint": "sg",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4.1",
  });
  assert.equal((calls[0].value as Histogram).count, 1);
  assert.equal((calls[0].value as Histogram).sum, 0.25);
  const data = await telemetry.metric("ky_failover.call.duration");
  assert.equal(data?.descriptor.unit, "s");
  // The rate limit happened during the attempt to hk: an event on its span.
  const hk = telemetry.spans().find((s) =>
    s.attributes["ky_failover.endpoint"] === "hk"
  )!;
  assert.deepEqual(hk.events.map((e) => [e.name, e.attributes]), [[
    "ky_failover.rate_limit",
    { "ky_failover.endpoint": "hk", "ky_failover.delay_ms": 5_000 },
  ]]);
});

test("otel: an outage opens the breaker — the gauge says open, the attempt that opened it says so", async () => {
  await using telemetry = new Telemetry();
  const clock = new ManualClock();
  const regions = mockRegions(["primary", "backup"]);
  regions.region("primary").mode = "refused";
  using api = pool(regions, telemetry, {
    clock,
    breaker: { failureThreshold: 2, cooldown: 10_000 },
  });
  const state = async (endpoint: string) =>
    (await telemetry.points("ky_failover.breaker.state", {
      "ky_failover.endpoint": endpoint,
    }))[0]?.value;
  assert.equal(await state("primary"), 0, "closed before any call");
  for (let i = 0; i < 2; i++) {
    await (await api.fetch("https://primary.example.ai/v1/models")).text();
  }
  assert.equal(await state("primary"), 2, "open");
  assert.equal(await state("backup"), 0, "closed");
  const opened = telemetry.spans().filter((s) =>
    s.events.some((e) => e.name === "ky_failover.breaker")
  );
  assert.equal(opened.length, 1);
  assert.equal(opened[0].attributes["ky_failover.attempt"], 1);
  assert.equal(opened[0].attributes["error.type"], "TypeError");
  assert.deepEqual(opened[0].events[0].attributes, {
    "ky_failover.endpoint": "primary",
    "ky_failover.breaker.from": "closed",
    "ky_failover.breaker.to": "open",
  });
  // GET /models is no GenAI operation: an INTERNAL span named after it.
  const calls = telemetry.spans().filter((s) => s.kind === SpanKind.INTERNAL);
  assert.deepEqual(calls.map((s) => s.name), ["GET", "GET"]);
  // The cooldown passes; the next call to primary closes it again.
  regions.region("primary").mode = "up";
  clock.advance(10_000);
  await (await api.fetch("https://primary.example.ai/v1/models")).text();
  assert.equal(await state("primary"), 0, "closed again");
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      "ky_failover.endpoint": "primary",
      "error.type": "TypeError",
    }),
    2,
  );
  telemetry.assertEndedOnce("outage");
});

/** A preset pool with usage accounting and otel(), over `regions`. */
function usagePool(
  regions: ReturnType<typeof mockRegions>,
  telemetry: Telemetry,
) {
  return createFailover({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
    })),
    fetch: regions.fetch,
    clock: new ManualClock(),
    prices: { "gpt-4.1": { input: 2, output: 8 } },
    features: [otel(telemetry.options())],
  });
}

test("otel: with usage(), a call's tokens are on its span and in the token and cost metrics", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary"], {
    usage: { prompt_tokens: 1000, completion_tokens: 100 },
  });
  using api = usagePool(regions, telemetry);
  await (await api.fetch("chat/completions", post())).json();
  const call = telemetry.span("chat gpt-4.1");
  assert.equal(call.attributes["gen_ai.usage.input_tokens"], 1000);
  assert.equal(call.attributes["gen_ai.usage.output_tokens"], 100);
  assert.equal(call.attributes["ky_failover.cost_usd"], 0.0028);
  const labels = {
    "ky_failover.endpoint": "primary",
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4.1",
    "gen_ai.response.model": "gpt-4.1",
  };
  const [input] = await telemetry.points("gen_ai.client.token.usage", {
    ...labels,
    "gen_ai.token.type": "input",
  });
  const [output] = await telemetry.points("gen_ai.client.token.usage", {
    ...labels,
    "gen_ai.token.type": "output",
  });
  assert.equal((input.value as Histogram).sum, 1000);
  assert.equal((output.value as Histogram).sum, 100);
  assert.equal(
    await telemetry.count("ky_failover.cost", {
      "ky_failover.endpoint": "primary",
      "gen_ai.request.model": "gpt-4.1",
      "gen_ai.response.model": "gpt-4.1",
    }),
    0.0028,
  );
  const cost = await telemetry.metric("ky_failover.cost");
  assert.equal(cost?.descriptor.unit, "USD");
  telemetry.assertEndedOnce("usage");
});

test("otel: a streamed answer's call span ends when its body was read, with its tokens", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary"], {
    usage: { prompt_tokens: 12, completion_tokens: 4 },
  });
  using api = usagePool(regions, telemetry);
  const answer = await api.fetch(
    "chat/completions",
    post({ ...chat, stream: true, stream_options: { include_usage: true } }),
  );
  assert.match(answer.headers.get("content-type") ?? "", /event-stream/);
  assert.deepEqual(
    telemetry.spans().map((s) => s.name),
    ["POST"],
    "the attempt ended at its headers; the call goes on while its body is read",
  );
  const text = await answer.text();
  assert.match(text, /\[DONE\]/);
  await turns(1);
  const call = telemetry.span("chat gpt-4.1");
  assert.equal(call.attributes["gen_ai.usage.input_tokens"], 12);
  assert.equal(call.attributes["gen_ai.usage.output_tokens"], 4);
  const [input] = await telemetry.points("gen_ai.client.token.usage", {
    "gen_ai.token.type": "input",
  });
  assert.equal((input.value as Histogram).sum, 12);
  assert.ok(await telemetry.count("ky_failover.cost") > 0);
  telemetry.assertEndedOnce("stream");
});

test("otel: a failed call — thrown or returned — ends its spans once, with status ERROR", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary", "backup"]);
  regions.region("primary").mode = "refused";
  regions.region("backup").mode = "refused";
  using api = pool(regions, telemetry);
  const error = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  )
    .then(() => undefined, (e) => e);
  assert.ok(isFailoverError(error));
  const call = telemetry.span("chat gpt-4.1");
  assert.equal(call.attributes["ky_failover.result"], "failed");
  assert.equal(call.attributes["error.type"], "FailoverError");
  assert.equal(call.attributes["ky_failover.attempts"], 2);
  assert.deepEqual(call.status, {
    code: SpanStatusCode.ERROR,
    message: error.message,
  });
  for (const attempt of telemetry.spans().filter((s) => s.name === "POST")) {
    assert.equal(attempt.attributes["error.type"], "TypeError");
    assert.deepEqual(attempt.status, {
      code: SpanStatusCode.ERROR,
      message: "TypeError",
    });
  }
  // fetch returns the last answer of a call whose endpoints all answered 503.
  telemetry.exporter.reset();
  regions.region("primary").mode = { status: 503 };
  regions.region("backup").mode = { status: 503 };
  const last = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  );
  assert.equal(last.status, 503);
  await last.text();
  const returned = telemetry.span("chat gpt-4.1");
  assert.equal(returned.attributes["ky_failover.result"], "failed");
  assert.equal(returned.attributes["error.type"], "503");
  assert.equal(returned.status.code, SpanStatusCode.ERROR);
  const failed = await telemetry.points("ky_failover.call.duration", {
    "ky_failover.result": "failed",
  });
  assert.deepEqual(
    failed.map((p) => p.attributes["error.type"]).sort(),
    ["503", "FailoverError"],
  );
  telemetry.assertEndedOnce("failed calls");
});

test("otel: a call the caller aborts ends its spans once; its attempt is aborted, not failed", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary"]);
  regions.region("primary").mode = "hang";
  using api = pool(regions, telemetry);
  const controller = new AbortController();
  const pending = api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(chat, controller.signal),
  ).then(() => undefined, (e) => e);
  await bounded(
    "primary is asked",
    5_000,
    () => regions.region("primary").waitForRequests(1),
  );
  controller.abort(new DOMException("the user left", "AbortError"));
  const error = await pending;
  assert.equal(error.name, "AbortError");
  await turns();
  const call = telemetry.span("chat gpt-4.1");
  assert.equal(call.attributes["error.type"], "AbortError");
  assert.deepEqual(call.status, {
    code: SpanStatusCode.ERROR,
    message: "AbortError",
  });
  const attempt = telemetry.span("POST");
  assert.equal(attempt.attributes["ky_failover.outcome"], "aborted");
  assert.equal(attempt.status.code, SpanStatusCode.UNSET);
  telemetry.assertEndedOnce("aborted call");
});

test("otel: a stream the caller cancels ends its call span at the cancel; one still read when the pool closes, at close() — each once", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary"]);
  regions.region("primary").mode = { stallAfter: 1 };
  const api = pool(regions, telemetry, { streamIdleTimeout: false });
  const stream = post({ ...chat, stream: true });
  // Cancelled by the caller after one event.
  const cancelled = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    stream,
  );
  const reader = cancelled.body!.getReader();
  await reader.read();
  await reader.cancel();
  await turns();
  const atCancel = telemetry.spans().filter((s) => s.name === "chat gpt-4.1");
  assert.equal(atCancel.length, 1, "the cancelled call's span ended");
  assert.equal(atCancel[0].attributes["ky_failover.body"], "cancelled");
  assert.notEqual(atCancel[0].status.code, SpanStatusCode.ERROR);
  // Still being read when the pool closes.
  const reading = await api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    stream,
  );
  const open = reading.body!.getReader();
  await open.read();
  const next = open.read().then(() => "read", (e) => e?.name);
  // A call in flight when the pool closes.
  regions.region("primary").mode = "hang";
  const inFlight = api.fetch(
    "https://primary.example.ai/v1/chat/completions",
    post(),
  )
    .then(() => undefined, (e) => e?.name);
  await bounded(
    "the third call is sent",
    5_000,
    () => regions.region("primary").waitForRequests(3),
  );
  await turns();
  assert.deepEqual(
    telemetry.spans().map((s) => s.name),
    ["POST", "chat gpt-4.1", "POST"],
    "the streams' attempts ended at their headers; the open stream's call not yet",
  );
  api.close();
  assert.equal(await next, "ClosedError");
  assert.equal(await inFlight, "ClosedError");
  await turns();
  const calls = telemetry.spans().filter((s) => s.name === "chat gpt-4.1");
  assert.equal(calls.length, 3);
  const bodies = calls.map((s) =>
    String(s.attributes["ky_failover.body"] ?? "-")
  );
  // The call in flight ended without a body; the body still being read
  // ends at close().
  assert.deepEqual(bodies.sort(), ["-", "cancelled", "closed"]);
  const closed = calls.find((s) =>
    s.attributes["error.type"] === "ClosedError"
  );
  assert.equal(closed?.status.code, SpanStatusCode.ERROR);
  telemetry.assertEndedOnce("cancel and close");
});

test("otel: a hedged call — the hedge's span says so, the loser's is aborted, not failed", async () => {
  await using telemetry = new Telemetry();
  const clock = new ManualClock();
  const regions = mockRegions(["slow", "fast"], { clock });
  regions.region("slow").mode = { slow: 1_000 };
  using api = pool(regions, telemetry, {
    clock,
    features: [hedge({ delay: 100 })],
  });
  const pending = api.fetch("https://slow.example.ai/v1/models");
  await bounded(
    "slow is asked",
    5_000,
    () => regions.region("slow").waitForRequests(1),
  );
  await turns();
  clock.advance(100);
  const answer = await pending;
  assert.equal(answer.status, 200);
  await answer.text();
  await turns();
  const attempts = telemetry.spans().filter((s) => s.kind === SpanKind.CLIENT);
  const byEndpoint = (name: string) =>
    attempts.find((s) => s.attributes["ky_failover.endpoint"] === name)!;
  assert.equal(byEndpoint("fast").attributes["ky_failover.hedge"], true);
  assert.equal(byEndpoint("fast").attributes["ky_failover.outcome"], "success");
  assert.equal(byEndpoint("slow").attributes["ky_failover.outcome"], "aborted");
  assert.equal(byEndpoint("slow").status.code, SpanStatusCode.UNSET);
  // GET /models is no GenAI operation: an INTERNAL span named after it.
  const calls = telemetry.spans().filter((s) => s.kind === SpanKind.INTERNAL);
  assert.equal(calls.length, 1);
  const call = calls[0];
  assert.equal(call.name, "GET");
  assert.deepEqual(call.events.map((e) => [e.name, e.attributes]), [[
    "ky_failover.hedge",
    { "ky_failover.endpoint": "fast", "ky_failover.attempt": 2 },
  ]]);
  assert.equal(
    await telemetry.count("ky_failover.attempts", {
      "ky_failover.endpoint": "slow",
      "ky_failover.outcome": "aborted",
    }),
    1,
  );
  assert.equal(await telemetry.count("ky_failover.failovers"), 0);
  telemetry.assertEndedOnce("hedge");
});

test("otel: a span processor or exporter that throws breaks no call, and metrics go on", async () => {
  const throwing: SpanProcessor = {
    onStart() {
      throw new Error("onStart broke");
    },
    onEnd() {
      throw new Error("onEnd broke");
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  for (const processors of [[throwing], []]) {
    await using telemetry = new Telemetry(processors);
    if (processors.length === 0) {
      // An exporter that throws, behind the SDK's own processor.
      const failing: SpanExporter = {
        export() {
          throw new Error("export broke");
        },
        shutdown: () => Promise.resolve(),
      };
      telemetry.exporter.export = failing.export;
    }
    const regions = mockRegions(["primary", "backup"]);
    regions.region("primary").mode = { status: 500 };
    using api = pool(regions, telemetry);
    const answer = await api.fetch(
      "https://primary.example.ai/v1/chat/completions",
      post(),
    );
    assert.equal(answer.status, 200);
    assert.match(JSON.stringify(await answer.json()), /hello from backup/);
    assert.equal(await telemetry.count("ky_failover.attempts"), 2);
    assert.equal(await telemetry.count("ky_failover.failovers"), 1);
  }
});

test("otel: by default, the global tracer and meter providers", async () => {
  await using telemetry = new Telemetry();
  trace.setGlobalTracerProvider(telemetry.sdk);
  metrics.setGlobalMeterProvider(telemetry.meterProvider);
  try {
    const regions = mockRegions(["primary"]);
    using api = createPool({
      endpoints: [{ name: "primary", url: regions.regions[0].url }],
      fetch: regions.fetch,
      features: [otel()],
    });
    await (await api.fetch("chat/completions", post())).json();
    assert.equal(
      telemetry.span("chat gpt-4.1").attributes["ky_failover.attempts"],
      1,
    );
    assert.equal(await telemetry.count("ky_failover.attempts"), 1);
  } finally {
    trace.disable();
    metrics.disable();
  }
});

test("otel: captureModel: false leaves models out of span names, attributes and metrics", async () => {
  await using telemetry = new Telemetry();
  const regions = mockRegions(["primary"]);
  using api = pool(regions, telemetry, { otel: { captureModel: false } });
  await (await api.fetch(
    "https://primary.example.ai/v1/responses",
    post({
      model: "gpt-4.1",
      input: "hi",
    }),
  )).json();
  const call = telemetry.span("chat");
  const seen = JSON.stringify([
    telemetry.spans().map((s) => s.attributes),
    await telemetry.collect(),
  ]);
  assert.doesNotMatch(seen, /gpt-4\.1|_model/);
  assert.equal(call.attributes["gen_ai.operation.name"], "chat");
});

test("otel: invalid options throw a TypeError naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [
      { tracerProvider: {} },
      /otel\.tracerProvider must be an object with a getTracer\(\) method/,
    ],
    [
      { meterProvider: 1 },
      /otel\.meterProvider must be an object with a getMeter\(\) method/,
    ],
    [{ name: "" }, /otel\.name must be a non-empty string/],
    [{ captureModel: "yes" }, /otel\.captureModel must be true or false/],
    [{ tracer: 1 }, /otel\.tracer is not a known option/],
    [1, /otel must be an object/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => otel(options as OtelOptions),
      (e: unknown) => e instanceof TypeError && message.test(e.message),
    );
  }
  const feature: Feature = otel();
  assert.equal(feature.name, "otel");
});

// ------------------------------------------------------------------ secrets

const core = () => crypto.randomUUID().replaceAll("-", "");
const API_CORE = core();
const HEADER_CORE = core();
const QUERY_CORE = core();
const CALLER_QUERY_CORE = core();
const CORES = [API_CORE, HEADER_CORE, QUERY_CORE, CALLER_QUERY_CORE];

test("otel: no key, header value or URL query value in any span or metric point, over HTTP", async () => {
  await using telemetry = new Telemetry();
  const clock = new ManualClock();
  // Real sockets: a runtime's own error messages (which may quote the URL)
  // reach the failover reasons and the FailoverError.
  await using regions = await serveRegions(["r0", "r1", "r2"], {
    usage: { prompt_tokens: 3, completion_tokens: 2 },
  });
  const endpoints: EndpointOptions[] = regions.regions.map((r, i) => ({
    name: r.name,
    url: `${r.url}?api-version=2024&key=${
      encodeURIComponent(`qk/SECRET+${QUERY_CORE}`)
    }`,
    apiKey: `sk-SECRET-${API_CORE}`,
    headers: { "api-key": `hk-SECRET-${HEADER_CORE}` },
    priority: i + 1,
  }));
  using api = createFailover({
    endpoints,
    clock,
    prices: { "gpt-4.1": 8 },
    breaker: { failureThreshold: 1 },
    features: [otel(telemetry.options())],
  });
  const path = `chat/completions?user=${CALLER_QUERY_CORE}`;
  // A failover (503, then a refused connection), a rate limit, an answer.
  regions.region("r0").mode = { status: 503 };
  regions.region("r1").mode = { status: 429 };
  await (await api.fetch(path, post())).json();
  regions.region("r2").mode = "refused";
  clock.advance(120_000);
  await api.fetch(path, post()).then((r) => r.text(), () => undefined);
  // A stream read to its end, one cancelled, and one aborted in flight.
  for (const name of ["r0", "r1", "r2"]) regions.region(name).mode = "up";
  clock.advance(120_000);
  const streamed = post({
    ...chat,
    stream: true,
    stream_options: { include_usage: true },
  });
  await (await api.fetch(path, streamed)).text();
  await (await api.fetch(path, streamed)).body?.cancel();
  regions.region("r0").mode = "hang";
  const controller = new AbortController();
  const aborted = api.fetch(path, post(chat, controller.signal))
    .catch(() => undefined);
  await bounded(
    "r0 is asked",
    5_000,
    () => regions.region("r0").waitForRequests(5),
  );
  controller.abort();
  await aborted;
  await turns();

  const spans = telemetry.spans();
  assert.ok(spans.length >= 10, `${spans.length} spans`);
  assert.ok(
    spans.some((s) => s.events.length > 0) &&
      spans.some((s) => s.status.code === SpanStatusCode.ERROR),
    "events and errors were recorded",
  );
  const exported = spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    attributes: s.attributes,
    events: s.events,
    status: s.status,
    links: s.links,
    resource: s.resource.attributes,
    scope: s.instrumentationScope,
    context: s.spanContext(),
    parent: s.parentSpanContext,
  }));
  const points = await telemetry.collect();
  for (const [label, root] of [["spans", exported], ["metrics", points]]) {
    const { texts, truncated } = walk(root);
    assert.ok(!truncated, `${label}: walked whole`);
    const leaks = texts.filter(({ text }) =>
      CORES.some((c) => text.includes(c))
    ).map((t) => t.path);
    assert.deepEqual(
      leaks.slice(0, 20),
      [],
      `${label}: a secret at these paths`,
    );
  }
  // The query went, the path stayed.
  assert.ok(
    spans.some((s) =>
      s.attributes["url.full"] === `${regions.regions[0].url}/chat/completions`
    ),
  );
});
