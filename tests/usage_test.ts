// The usage feature: tokens and cost per endpoint and per model, read from
// every 2xx answer's `usage` (JSON bodies and event streams) as the caller
// reads it, priced by the endpoint's prices over the pool's and by the
// model as sent over the model as asked; and per-endpoint budgets over a
// sliding window that turn an endpoint away once it spent its limit.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import {
  type Clock,
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  isFailoverError,
  type Pool,
  type PoolOptions,
} from "ky-failover/core";
import { models } from "ky-failover/models";
import { mockRegions } from "ky-failover/testing";
import { usage, type UsageFeature, type UsageOptions } from "ky-failover/usage";

const encoder = new TextEncoder();
const START = Date.UTC(2026, 10, 26, 12, 0, 0);

/** What a fake endpoint answers a request with. */
type Reply = (endpoint: string, body: Record<string, unknown>) => Response;

/** A JSON answer. */
function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A chat completion of `model` reporting `usage` (none when `undefined`). */
function chat(model: string | undefined, usageField?: unknown): Response {
  return json({
    id: "chatcmpl-1",
    object: "chat.completion",
    ...(model === undefined ? {} : { model }),
    choices: [{ index: 0, message: { role: "assistant", content: "hi" } }],
    ...(usageField === undefined ? {} : { usage: usageField }),
  });
}

/** A body that gives `chunks` one per read. */
function chunked(chunks: readonly (string | Uint8Array)[]) {
  const queue = chunks.map((c) =>
    typeof c === "string" ? encoder.encode(c) : c
  );
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get cancelled() {
      return cancelled;
    },
  };
}

/** An answer whose body comes in `chunks`, with `type` as content type. */
function streamed(
  chunks: readonly (string | Uint8Array)[],
  type = "text/event-stream",
): Response {
  return new Response(chunked(chunks).stream, {
    headers: { "content-type": type },
  });
}

/** `text` cut into pieces of `size` bytes (a character may be cut in two). */
function pieces(text: string, size: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.slice(i, i + size));
  }
  return out;
}

/** Endpoint `name` at `https://<name>.example.ai/v1`, priorities in order. */
function endpoint(
  name: string,
  priority: number,
  extra: Partial<EndpointOptions> = {},
): EndpointOptions {
  return {
    name,
    url: `https://${name}.example.ai/v1`,
    apiKey: `sk-${name}`,
    priority,
    ...extra,
  };
}

interface Setup {
  pool: Pool;
  feature: UsageFeature;
  clock: ManualClock;
  events: FailoverEvent[];
  /** Requests sent, by endpoint name, in order. */
  sent: { endpoint: string; body: Record<string, unknown> }[];
  /** POSTs `body` to `path` and reads the whole answer as text. */
  call(body: unknown, path?: string): Promise<string>;
}

/** A pool over `endpoints` with usage(`options`) and a fake fetch. */
function setup(
  endpoints: EndpointOptions[],
  reply: Reply,
  options: UsageOptions = {},
  extra: Partial<PoolOptions> = {},
): Setup {
  const clock = new ManualClock(START);
  const events: FailoverEvent[] = [];
  const sent: Setup["sent"] = [];
  const feature = usage(options);
  const pool = createPool({
    endpoints,
    clock,
    features: [feature],
    onEvent: (e) => void events.push(e),
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const name = new URL(request.url).hostname.split(".")[0];
      const text = await request.text();
      const body = text === "" ? {} : JSON.parse(text);
      sent.push({ endpoint: name, body });
      return reply(name, body);
    },
    ...extra,
  });
  const call = async (body: unknown, path = "chat/completions") => {
    const response = await pool.fetch(path, {
      method: "POST",
      body: JSON.stringify(body),
    });
    return await response.text();
  };
  return { pool, feature, clock, events, sent, call };
}

const ZERO = {
  calls: 0,
  unmetered: 0,
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
};

function usageEvents(events: FailoverEvent[]) {
  return events.filter((e) => e.type === "usage");
}

function budgetEvents(events: FailoverEvent[]) {
  return events.filter((e) => e.type === "budget");
}

test("usage: counts a JSON chat answer's tokens and exact cost per endpoint and model", async () => {
  const { pool, feature, call } = setup(
    [endpoint("deepseek", 1)],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: 1234,
        completion_tokens: 567,
        total_tokens: 1801,
      }),
    { prices: { "deepseek-chat": 0.42 } },
  );
  using _ = pool;
  await call({ model: "deepseek-chat", messages: [] });
  const expected = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1234,
    cachedInputTokens: 0,
    outputTokens: 567,
    costUsd: 0.00075642,
  };
  const report = feature.report();
  assert.deepEqual(report.total, expected);
  assert.equal(report.total.costUsd, 0.00075642);
  assert.deepEqual(report.byEndpoint, { deepseek: expected });
  assert.deepEqual(report.byModel, { "deepseek-chat": expected });
  assert.deepEqual(pool.status()[0].usage, {
    ...expected,
    byModel: { "deepseek-chat": expected },
  });

  // Three calls: the sums are priced, not the rounded figures added up.
  await call({ model: "deepseek-chat", messages: [] });
  await call({ model: "deepseek-chat", messages: [] });
  assert.equal(feature.report().total.costUsd, 0.00226926);
  assert.equal(feature.report().total.inputTokens, 3702);
});

test("usage: a mocked region's chat answer and its stream with include_usage", async () => {
  const regions = mockRegions(["primary"]);
  const feature = usage({ prices: { "gpt-4.1": { input: 2, output: 8 } } });
  using pool = createPool({
    endpoints: [{ name: "primary", url: regions.region("primary").url }],
    clock: new ManualClock(),
    fetch: regions.fetch,
    features: [feature],
  });
  const plain = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
  });
  await plain.json();
  assert.deepEqual(feature.report().total, {
    calls: 1,
    unmetered: 0,
    inputTokens: 5,
    cachedInputTokens: 0,
    outputTokens: 3,
    costUsd: 0.000034,
  });

  const stream = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({
      model: "gpt-4.1",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  assert.match(stream.headers.get("content-type") ?? "", /event-stream/);
  const text = await stream.text();
  assert.match(text, /"usage"/);
  assert.match(text, /data: \[DONE\]/);
  assert.deepEqual(feature.report().total, {
    calls: 2,
    unmetered: 0,
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 6,
    costUsd: 0.000068,
  });
});

test("usage: a stream's usage chunk is read across split lines and characters, and the bytes are untouched", async () => {
  const events = [
    `data: ${
      JSON.stringify({
        model: "gpt-4.1",
        choices: [{ delta: { content: 'héllo 🌍 "usage"' } }],
        usage: null,
      })
    }`,
    `data: ${
      JSON.stringify({
        model: "gpt-4.1",
        choices: [],
        usage: { prompt_tokens: 11, completion_tokens: 7 },
      })
    }`,
    // A later null usage does not erase the count.
    `data: ${JSON.stringify({ model: "gpt-4.1", choices: [], usage: null })}`,
    "data: [DONE]",
  ];
  const source = events.join("\r\n\r\n") + "\r\n\r\n";
  for (const size of [1, 3, 7, 64, 10_000]) {
    const { pool, feature, call } = setup(
      [endpoint("primary", 1)],
      () => streamed(pieces(source, size)),
      { prices: { "gpt-4.1": 1 } },
    );
    using _ = pool;
    const text = await call({ model: "gpt-4.1", stream: true });
    assert.equal(text, source, `chunks of ${size}`);
    assert.deepEqual(feature.report().byModel, {
      "gpt-4.1": {
        calls: 1,
        unmetered: 0,
        inputTokens: 11,
        cachedInputTokens: 0,
        outputTokens: 7,
        costUsd: 0.000018,
      },
    }, `chunks of ${size}`);
  }
});

test("usage: a stream without a usage chunk counts as an unmetered call", async () => {
  const { pool, feature, events, call } = setup(
    [endpoint("primary", 1)],
    () =>
      streamed([
        'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n',
        "data: [DONE]\n\n",
      ]),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  await call({ model: "gpt-4.1", stream: true });
  assert.deepEqual(feature.report().byModel, {
    "gpt-4.1": { ...ZERO, calls: 1, unmetered: 1 },
  });
  assert.deepEqual(usageEvents(events), []);
});

test("usage: a stream the caller cancels midway is not counted", async () => {
  const body = chunked([
    `data: ${
      JSON.stringify({
        choices: [],
        usage: { prompt_tokens: 9, completion_tokens: 4 },
      })
    }\n\n`,
    'data: {"choices":[{"delta":{"content":"more"}}]}\n\n',
    "data: [DONE]\n\n",
  ]);
  const { pool, feature, events } = setup(
    [endpoint("primary", 1)],
    () =>
      new Response(body.stream, {
        headers: { "content-type": "text/event-stream" },
      }),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  const response = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", stream: true }),
  });
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /prompt_tokens/);
  await reader.cancel();
  await turns();
  assert.equal(body.cancelled, true);
  assert.deepEqual(feature.report().total, ZERO);
  assert.deepEqual(pool.status()[0].usage?.byModel, {});
  assert.deepEqual(usageEvents(events), []);
});

for (
  const [label, last] of [
    ["data: [DONE]", "data: [DONE]\n\n"],
    [
      "a Responses API response.completed event",
      `event: response.completed\ndata: ${
        JSON.stringify({
          type: "response.completed",
          response: { usage: { input_tokens: 9, output_tokens: 4 } },
        })
      }\n\n`,
    ],
  ] as const
) {
  test(`usage: a stream the caller stops reading after ${label} (as the OpenAI SDK does) is counted once`, async () => {
    const usageChunk = `data: ${
      JSON.stringify({
        choices: [],
        usage: { prompt_tokens: 9, completion_tokens: 4 },
      })
    }\n\n`;
    const body = chunked([
      ...(last.startsWith("data: [DONE]") ? [usageChunk] : []),
      last,
      "data: never read\n\n",
    ]);
    const { pool, feature, events } = setup(
      [endpoint("primary", 1)],
      () =>
        new Response(body.stream, {
          headers: { "content-type": "text/event-stream" },
        }),
      { prices: { "gpt-4.1": 1 } },
    );
    using _ = pool;
    const response = await pool.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4.1", stream: true }),
    });
    const reader = response.body!.getReader();
    let text = "";
    while (!/\[DONE\]|response\.completed/.test(text)) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    // The report is ready before the caller cancels the rest.
    const expected = {
      calls: 1,
      unmetered: 0,
      inputTokens: 9,
      cachedInputTokens: 0,
      outputTokens: 4,
      costUsd: 0.000013,
    };
    assert.deepEqual(feature.report().total, expected);
    await reader.cancel();
    await turns();
    assert.equal(body.cancelled, true);
    assert.deepEqual(feature.report().total, expected);
    assert.equal(usageEvents(events).length, 1);
  });
}

test("usage: a Responses API stream counts its response.completed usage", async () => {
  const completed = {
    type: "response.completed",
    response: {
      id: "resp_1",
      object: "response",
      model: "gpt-4.1-2025-04-14",
      output: [{
        type: "message",
        content: [{ type: "output_text", text: "hi" }],
      }],
      usage: {
        input_tokens: 2000,
        input_tokens_details: { cached_tokens: 1500 },
        output_tokens: 300,
        output_tokens_details: { reasoning_tokens: 100 },
        total_tokens: 2300,
      },
    },
  };
  const source = [
    "event: response.created",
    `data: ${
      JSON.stringify({
        type: "response.created",
        response: { id: "resp_1", usage: null },
      })
    }`,
    "",
    "event: response.output_text.delta",
    `data: ${
      JSON.stringify({ type: "response.output_text.delta", delta: "hi" })
    }`,
    "",
    "event: response.completed",
    `data: ${JSON.stringify(completed)}`,
    "",
    "",
  ].join("\n");
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    () => streamed(pieces(source, 50)),
    { prices: { "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 } } },
  );
  using _ = pool;
  assert.equal(
    await call({ model: "gpt-4.1", stream: true }, "responses"),
    source,
  );
  // (500 × 2 + 1500 × 0.5 + 300 × 8) / 1e6
  assert.deepEqual(feature.report().byModel, {
    "gpt-4.1": {
      calls: 1,
      unmetered: 0,
      inputTokens: 2000,
      cachedInputTokens: 1500,
      outputTokens: 300,
      costUsd: 0.00415,
    },
  });
});

test("usage: a Responses API JSON answer, and embeddings (no output tokens)", async () => {
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      body.input === undefined
        ? json({
          object: "response",
          model: "gpt-4.1",
          output: [],
          usage: { input_tokens: 100, output_tokens: 20, total_tokens: 120 },
          user: null,
          metadata: {},
        })
        : json({
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: [0.1, -0.2] }],
          model: "text-embedding-3-small",
          usage: { prompt_tokens: 8, total_tokens: 8 },
        }),
    {
      prices: {
        "gpt-4.1": { input: 2, output: 8 },
        "text-embedding-3-small": 0.02,
      },
    },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" }, "responses");
  await call({ model: "text-embedding-3-small", input: ["hi"] }, "embeddings");
  assert.deepEqual(feature.report().byModel, {
    "gpt-4.1": {
      calls: 1,
      unmetered: 0,
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 20,
      costUsd: 0.00036,
    },
    "text-embedding-3-small": {
      calls: 1,
      unmetered: 0,
      inputTokens: 8,
      cachedInputTokens: 0,
      outputTokens: 0,
      costUsd: 0.00000016,
    },
  });
  assert.equal(feature.report().total.costUsd, 0.00036016);
});

test("usage: cached input — OpenAI details, DeepSeek cache hits, Anthropic cache reads", async () => {
  const usages: Record<string, unknown> = {
    "gpt-4.1": {
      prompt_tokens: 1000,
      completion_tokens: 100,
      prompt_tokens_details: { cached_tokens: 400 },
    },
    "deepseek-chat": {
      prompt_tokens: 1000,
      completion_tokens: 100,
      prompt_cache_hit_tokens: 800,
      prompt_cache_miss_tokens: 200,
    },
    // Anthropic's input_tokens leave out cache reads and writes.
    "claude-sonnet-4.5": {
      input_tokens: 100,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 200,
      output_tokens: 50,
    },
  };
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) => chat(body.model as string, usages[body.model as string]),
    {
      prices: {
        "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
        "deepseek-chat": { input: 0.56, output: 1.68, cachedInput: 0.07 },
        "claude-sonnet-4.5": { input: 3, output: 15, cachedInput: 0.3 },
      },
    },
  );
  using _ = pool;
  for (const model of Object.keys(usages)) await call({ model });
  const by = feature.report().byModel;
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(by).map((
        [m, t],
      ) => [m, [
        t.inputTokens,
        t.cachedInputTokens,
        t.outputTokens,
        t.costUsd,
      ]]),
    ),
    {
      // (600 × 2 + 400 × 0.5 + 100 × 8) / 1e6
      "gpt-4.1": [1000, 400, 100, 0.0022],
      // (200 × 0.56 + 800 × 0.07 + 100 × 1.68) / 1e6
      "deepseek-chat": [1000, 800, 100, 0.000336],
      // (300 × 3 + 1000 × 0.3 + 50 × 15) / 1e6
      "claude-sonnet-4.5": [1300, 1000, 50, 0.00195],
    },
  );
  assert.equal(feature.report().total.costUsd, 0.004486);
});

test("usage: a model with no known price — tokens counted, costUsd absent from every total that has them", async () => {
  const { pool, feature, events, call } = setup(
    [endpoint("a", 1), endpoint("b", 2)],
    (name, body) =>
      name === "a" && body.model === "mystery"
        ? chat("mystery", { prompt_tokens: 10, completion_tokens: 1 })
        : chat(body.model as string, {
          prompt_tokens: 100,
          completion_tokens: 10,
        }),
    { prices: { "gpt-4.1": 1 } },
    { strategy: "priority" },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" });
  await call({ model: "mystery" });
  const report = feature.report();
  assert.deepEqual(report.byModel["gpt-4.1"], {
    calls: 1,
    unmetered: 0,
    inputTokens: 100,
    cachedInputTokens: 0,
    outputTokens: 10,
    costUsd: 0.00011,
  });
  assert.deepEqual(report.byModel.mystery, {
    calls: 1,
    unmetered: 0,
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 1,
  });
  assert.equal("costUsd" in report.byModel.mystery, false);
  assert.equal("costUsd" in report.total, false);
  assert.equal("costUsd" in report.byEndpoint.a, false);
  // b counted nothing: every model it counted (none) has a price.
  assert.deepEqual(report.byEndpoint.b, ZERO);
  assert.equal("costUsd" in pool.status()[0].usage!, false);
  const seen = usageEvents(events);
  assert.deepEqual(seen, [
    {
      type: "usage",
      endpoint: "a",
      model: "gpt-4.1",
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 10,
      costUsd: 0.00011,
    },
    {
      type: "usage",
      endpoint: "a",
      model: "mystery",
      inputTokens: 10,
      cachedInputTokens: 0,
      outputTokens: 1,
    },
  ]);
  assert.equal("costUsd" in seen[1], false);
});

test("usage: answers without usage are unmetered calls; no model anywhere is (unknown)", async () => {
  const { pool, feature, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      body.kind === "text"
        ? new Response("plain words", {
          headers: { "content-type": "text/plain" },
        })
        : body.kind === "own-model"
        ? chat("gpt-4.1-mini", { prompt_tokens: 3, completion_tokens: 2 })
        : chat(body.model as string | undefined),
    { prices: { "gpt-4.1": 1, "gpt-4.1-mini": 0.5 } },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" });
  await call({ kind: "text" });
  // The call named no model: the answer's own names it.
  await call({ kind: "own-model" });
  const report = feature.report();
  assert.deepEqual(report.byModel, {
    "gpt-4.1": { ...ZERO, calls: 1, unmetered: 1 },
    "(unknown)": { ...ZERO, calls: 1, unmetered: 1 },
    "gpt-4.1-mini": {
      calls: 1,
      unmetered: 0,
      inputTokens: 3,
      cachedInputTokens: 0,
      outputTokens: 2,
      costUsd: 0.0000025,
    },
  });
  assert.deepEqual(report.total, {
    calls: 3,
    unmetered: 2,
    inputTokens: 3,
    cachedInputTokens: 0,
    outputTokens: 2,
    costUsd: 0.0000025,
  });
  // One event: the one call that reported usage.
  assert.deepEqual(usageEvents(events).map((e) => e.model), ["gpt-4.1-mini"]);
});

test("usage: an answer that is not 2xx is not counted", async () => {
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    () =>
      json({
        error: { message: "bad", type: "invalid_request_error" },
        usage: { prompt_tokens: 50, completion_tokens: 5 },
      }, 400),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" });
  assert.deepEqual(feature.report().total, ZERO);
});

test("usage: a JSON body read in chunks — only the top-level usage counts, and the text is untouched", async () => {
  const source = JSON.stringify(
    {
      id: "x",
      model: "gpt-4.1",
      choices: [{
        message: {
          content: 'say {"usage": {"prompt_tokens": 999}} \\ "quoted" é 🌍',
        },
        usage: { prompt_tokens: 777, completion_tokens: 777 },
      }],
      usage: { prompt_tokens: 42, completion_tokens: 8 },
      service_tier: "default",
    },
    null,
    1,
  );
  for (const size of [1, 2, 5, 13, 100_000]) {
    const { pool, feature, call } = setup(
      [endpoint("primary", 1)],
      () => streamed(pieces(source, size), "application/json"),
      { prices: { "gpt-4.1": 1 } },
      // Not read whole by the pool: the body reaches usage chunk by chunk.
      { bufferLimit: false },
    );
    using _ = pool;
    assert.equal(await call({ model: "gpt-4.1" }), source, `chunks of ${size}`);
    assert.deepEqual(feature.report().total, {
      calls: 1,
      unmetered: 0,
      inputTokens: 42,
      cachedInputTokens: 0,
      outputTokens: 8,
      costUsd: 0.00005,
    }, `chunks of ${size}`);
  }
});

test("usage: an endpoint's own prices come before the pool's", async () => {
  const { pool, feature, call } = setup(
    [
      endpoint("relay", 1, { prices: { "gpt-4.1": 10 } }),
      endpoint("openai", 2),
    ],
    (_, body) =>
      chat(body.model as string, { prompt_tokens: 1000, completion_tokens: 0 }),
    { prices: { "gpt-4.1": 8 } },
    { strategy: "priority" },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" });
  assert.equal(feature.report().byEndpoint.relay.costUsd, 0.01);
  assert.equal(feature.report().byEndpoint.openai.calls, 0);
});

test("usage: a call sent under another model name is priced and counted by the name sent", async () => {
  const clock = new ManualClock(START);
  const feature = usage({ prices: { "gpt-4.1": 8, "deepseek-chat": 0.42 } });
  const sent: string[] = [];
  using pool = createPool({
    endpoints: [
      endpoint("openai", 1, { models: ["gpt-4.1"] }),
      endpoint("deepseek", 2, { models: { "gpt-4.1": "deepseek-chat" } }),
    ],
    clock,
    features: [models(), feature],
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const body = await request.json();
      sent.push(`${new URL(request.url).hostname} ${body.model}`);
      if (request.url.includes("openai")) return json({ error: {} }, 503);
      return chat(body.model, { prompt_tokens: 1234, completion_tokens: 567 });
    },
  });
  const answer = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
  });
  await answer.text();
  assert.deepEqual(sent, [
    "openai.example.ai gpt-4.1",
    "deepseek.example.ai deepseek-chat",
  ]);
  const report = feature.report();
  assert.deepEqual(Object.keys(report.byModel), ["deepseek-chat"]);
  assert.equal(report.byModel["deepseek-chat"].costUsd, 0.00075642);
  assert.equal(report.byEndpoint.openai.calls, 0);
  assert.equal(pool.status()[1].usage?.byModel["deepseek-chat"].calls, 1);
});

test("usage: a usage event per answered call that reported usage", async () => {
  const { pool, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: 30,
        completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 10 },
      }),
    { prices: { "gpt-4.1": { input: 2, output: 8, cachedInput: 1 } } },
  );
  using _ = pool;
  await call({ model: "gpt-4.1" });
  await call({ model: "gpt-4.1" });
  const expected = {
    type: "usage",
    endpoint: "primary",
    model: "gpt-4.1",
    inputTokens: 30,
    cachedInputTokens: 10,
    outputTokens: 20,
    // (20 × 2 + 10 × 1 + 20 × 8) / 1e6
    costUsd: 0.00021,
  };
  assert.deepEqual(usageEvents(events), [expected, expected]);
});

test("usage: before it joins a pool report() is zero; one usage() joins one pool only", () => {
  const feature = usage();
  assert.deepEqual(feature.report(), {
    total: ZERO,
    byEndpoint: {},
    byModel: {},
  });
  using pool = createPool({
    endpoints: [endpoint("primary", 1)],
    clock: new ManualClock(),
    features: [feature],
  });
  assert.deepEqual(feature.report(), {
    total: ZERO,
    byEndpoint: { primary: ZERO },
    byModel: {},
  });
  assert.deepEqual(pool.status()[0].usage, { ...ZERO, byModel: {} });
  assert.throws(
    () =>
      createPool({
        endpoints: [endpoint("other", 1)],
        clock: new ManualClock(),
        features: [feature],
      }),
    (e: unknown) =>
      e instanceof TypeError && /one usage\(\) per pool/.test(e.message),
  );
});

test("usage: invalid prices and budgets throw a TypeError naming the field", () => {
  const pool = (endpoints: EndpointOptions[], options?: UsageOptions) =>
    createPool({
      endpoints,
      clock: new ManualClock(),
      features: [usage(options)],
    }).close();
  const cases: [() => void, RegExp][] = [
    [
      () => usage({ prices: { "gpt-4.1": { input: -1, output: 1 } } }),
      /usage\.prices\["gpt-4\.1"\]\.input must be a price/,
    ],
    [
      () => usage({ prices: { "gpt-4.1": Number.NaN } }),
      /usage\.prices\["gpt-4\.1"\] must be a price/,
    ],
    [
      () => usage({ price: {} } as UsageOptions),
      /usage\.price is not a known option/,
    ],
    [
      () =>
        pool([
          endpoint("a", 1),
          endpoint("b", 2, {
            prices: { "gpt-4.1": { input: 1, output: "8" } } as never,
          }),
        ]),
      /options\.endpoints\[1\]\.prices\["gpt-4\.1"\]\.output must be a price/,
    ],
    [
      () =>
        pool([endpoint("a", 1, { budget: { usd: 0, window: 1000 } })], {
          prices: { x: 1 },
        }),
      /options\.endpoints\[0\]\.budget\.usd must be a finite number of USD above 0, got 0/,
    ],
    [
      () =>
        pool([endpoint("a", 1, { budget: { usd: Infinity, window: 1000 } })], {
          prices: { x: 1 },
        }),
      /options\.endpoints\[0\]\.budget\.usd/,
    ],
    [
      () =>
        pool([
          endpoint("a", 1),
          endpoint("b", 2, { budget: { usd: 1, window: 1.5 } }),
        ], { prices: { x: 1 } }),
      /options\.endpoints\[1\]\.budget\.window must be an integer number of milliseconds from 1 to 2147483647, got 1\.5/,
    ],
    [
      () =>
        pool(
          [endpoint("a", 1, { budget: { usd: 1, window: 2_147_483_648 } })],
          {
            prices: { x: 1 },
          },
        ),
      /options\.endpoints\[0\]\.budget\.window/,
    ],
    [
      () =>
        pool([endpoint("a", 1, { budget: { usd: 1 } as never })], {
          prices: { x: 1 },
        }),
      /options\.endpoints\[0\]\.budget\.window .*got undefined/,
    ],
    [
      () => pool([endpoint("a", 1, { budget: { usd: 1, window: 1000 } })]),
      /options\.endpoints\[0\]\.budget can never run out: no price is known/,
    ],
  ];
  for (const [make, message] of cases) {
    assert.throws(
      make,
      (e: unknown) => e instanceof TypeError && message.test(e.message),
      String(message),
    );
  }
});

/** primary ($0.01 a minute) before backup; each call costs $0.006. */
function budgeted(extra: Partial<PoolOptions> = {}) {
  return setup(
    [
      endpoint("primary", 1, { budget: { usd: 0.01, window: 60_000 } }),
      endpoint("backup", 2),
    ],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: 1000,
        completion_tokens: 500,
      }),
    { prices: { "gpt-4.1": { input: 2, output: 8 } } },
    { strategy: "priority", ...extra },
  );
}

const GPT = { model: "gpt-4.1", messages: [] };

test("usage: an endpoint over its budget is skipped until its spending leaves the window", async () => {
  const { pool, clock, events, sent, call } = budgeted();
  using _ = pool;
  await call(GPT);
  assert.deepEqual(budgetEvents(events), []);
  clock.advance(10_000);
  await call(GPT); // $0.012 within the minute: over
  assert.deepEqual(budgetEvents(events), [{
    type: "budget",
    endpoint: "primary",
    exhausted: true,
    spentUsd: 0.012,
    usd: 0.01,
    windowMs: 60_000,
    until: START + 60_000,
  }]);
  assert.deepEqual(pool.status()[0].usage?.budget, {
    usd: 0.01,
    windowMs: 60_000,
    spentUsd: 0.012,
    exhausted: true,
    until: START + 60_000,
  });
  assert.equal(pool.status()[1].usage?.budget, undefined);

  await call(GPT);
  clock.advance(49_999);
  await call(GPT);
  assert.deepEqual(sent.map((s) => s.endpoint), [
    "primary",
    "primary",
    "backup",
    "backup",
  ]);
  assert.equal(budgetEvents(events).length, 1);

  clock.advance(1); // the first call's $0.006 leaves the window
  assert.deepEqual(budgetEvents(events).at(-1), {
    type: "budget",
    endpoint: "primary",
    exhausted: false,
    spentUsd: 0.006,
    usd: 0.01,
    windowMs: 60_000,
  });
  assert.equal(pool.status()[0].usage?.budget?.exhausted, false);
  assert.equal(pool.status()[0].usage?.budget?.until, undefined);
  await call(GPT);
  assert.equal(sent.at(-1)?.endpoint, "primary");
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0.012);
  assert.equal(pool.status()[0].usage?.costUsd, 0.018);
});

test("usage: a call no endpoint under its budget may take fails at once, saying why, without a request", async () => {
  const { pool, clock, sent, call } = setup(
    [endpoint("primary", 1, { budget: { usd: 0.005, window: 3_600_000 } })],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: 1000,
        completion_tokens: 500,
      }),
    { prices: { "gpt-4.1": { input: 2, output: 8 } } },
  );
  using _ = pool;
  await call(GPT);
  clock.advance(1_800_000);
  const error = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify(GPT),
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.match(
    error.message,
    /every endpoint that could take it is over its budget \(primary: spent \$0\.006000 of \$0\.005 in the last 3600000 ms, back in 1800000 ms, at 2026-11-26T13:00:00\.000Z\)/,
  );
  assert.equal(sent.length, 1);
  assert.deepEqual(error.attempts, []);
});

test("usage: spending with no known price does not count toward a budget", async () => {
  const { pool, sent, call } = setup(
    [
      endpoint("primary", 1, { budget: { usd: 0.000001, window: 60_000 } }),
      endpoint("backup", 2),
    ],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: 1000,
        completion_tokens: 500,
      }),
    { prices: { "gpt-4.1": 1 } },
    { strategy: "priority" },
  );
  using _ = pool;
  await call({ model: "unpriced" });
  await call({ model: "unpriced" });
  assert.deepEqual(sent.map((s) => s.endpoint), ["primary", "primary"]);
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0);
  await call(GPT); // priced: now over
  await call(GPT);
  assert.deepEqual(sent.map((s) => s.endpoint).slice(2), ["primary", "backup"]);
});

test("usage: close() clears the budget's timer", async () => {
  const { pool, clock, events, call } = budgeted();
  await call(GPT);
  await call(GPT);
  assert.equal(budgetEvents(events).length, 1);
  assert.deepEqual(clock.delays, [60_000]);
  pool.close();
  assert.equal(clock.pending, 0);
  clock.advance(60_000);
  assert.equal(budgetEvents(events).length, 1);
});

test("usage: calls in flight when a budget runs out still count, and push its return later", async () => {
  // Bodies not read whole by the pool: each counts as the caller reads it.
  const { pool, clock, events, call } = budgeted({ bufferLimit: false });
  using _ = pool;
  // Three calls answered at once, read a second apart: the second runs
  // the budget out, the third (already answered) still counts.
  const answers = await Promise.all(
    [0, 1, 2].map(() =>
      pool.fetch("chat/completions", {
        method: "POST",
        body: JSON.stringify(GPT),
      })
    ),
  );
  await answers[0].text();
  clock.advance(1000);
  await answers[1].text();
  clock.advance(1000);
  await answers[2].text();
  assert.deepEqual(pool.status()[0].usage?.budget, {
    usd: 0.01,
    windowMs: 60_000,
    spentUsd: 0.018,
    exhausted: true,
    // Under the limit once the first two left the window.
    until: START + 61_000,
  });
  assert.deepEqual(budgetEvents(events).map((e) => e.exhausted), [true]);
  assert.deepEqual(clock.delays, [59_000]);
  clock.advance(59_000);
  assert.deepEqual(budgetEvents(events).map((e) => e.exhausted), [true, false]);
  await call(GPT);
  assert.equal(pool.status()[0].usage?.calls, 4);
});

// ------------------------------------------------ reading usage off bodies

/** The usage events' token counts, as [input, cached, output]. */
function counted(events: FailoverEvent[]): number[][] {
  return usageEvents(events).map((e) => [
    e.inputTokens,
    e.cachedInputTokens,
    e.outputTokens,
  ]);
}

const encoded = (c: string | Uint8Array) =>
  typeof c === "string" ? encoder.encode(c) : c;

/** Longest event an event stream's usage is read from: 16 MiB of data. */
const EVENT_LIMIT = 16 * 1024 * 1024;

/** `total` bytes: `head`, then "x" up to `tail`, then `tail` (ASCII). */
function padded(head: string, tail: string, total: number): Uint8Array {
  const bytes = new Uint8Array(total).fill(0x78);
  bytes.set(encoder.encode(head));
  bytes.set(encoder.encode(tail), total - tail.length);
  return bytes;
}

test("usage: an event stream's event of up to 16 MiB of data, and a line of up to 16 MiB, are read; an event with more is skipped", async () => {
  const usageOf = (input: number, output: number) =>
    `"usage":{"prompt_tokens":${input},"completion_tokens":${output}}`;
  const chunks = [
    // An event of exactly 16 MiB of data, in two data lines; the first,
    // of exactly 16 MiB with its "data: ", comes without its line break.
    padded(`data: {"choices":[],${usageOf(11, 7)},"pad":"`, '"', EVENT_LIMIT),
    "\ndata:      }\n\n",
    // One byte of data too many: skipped, the count stays 11 + 7.
    padded(
      `data: {"choices":[],${usageOf(900, 900)},"pad":"`,
      '"}\n\n',
      6 + EVENT_LIMIT + 1 + 2,
    ),
    // The last event of a Responses stream, of exactly 16 MiB of data:
    // it ends the count.
    padded(
      'data: {"type":"response.completed","response":{"usage":null},"pad":"',
      '"}\n\n',
      6 + EVENT_LIMIT + 2,
    ),
    `data: {"choices":[],${usageOf(500, 500)}}\n\n`,
    "data: [DONE]\n\n",
  ];
  const { pool, events } = setup(
    [endpoint("primary", 1)],
    () => streamed(chunks),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  const response = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", stream: true }),
  });
  let bytes = 0;
  const reader = response.body!.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    bytes += read.value.byteLength;
  }
  assert.equal(
    bytes,
    chunks.reduce((n, c) => n + encoded(c).byteLength, 0),
  );
  assert.deepEqual(counted(events), [[11, 0, 7]]);
});

test("usage: an event stream's data lines are read with or without a space after data:, and its last event needs no blank line after it", async () => {
  const event = (input: number) =>
    JSON.stringify({
      choices: [],
      usage: { prompt_tokens: input, completion_tokens: 1 },
    });
  const bodies: Record<string, (string | Uint8Array)[]> = {
    // No space after "data:": the value starts right after the colon.
    "no-space": [`data:${event(1)}\n\n`],
    // The body ends inside the event's only line…
    "no-line-break": [`data: ${event(2)}`],
    // …or right after its line, with no blank line to end the event.
    "one-line-break": [`data: ${event(3)}\n`],
    // A "\n" that starts a chunk after one that did not end with "\r"
    // is a line break of its own.
    "split-break": [`data: ${event(4)}`, "\n", "\ndata: [DONE]\n\n"],
  };
  const { pool, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) => streamed(bodies[body.kind as string]),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  for (const kind of Object.keys(bodies)) {
    await call({ model: "gpt-4.1", stream: true, kind });
  }
  const expected = [[1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 0, 1]];
  assert.deepEqual(counted(events), expected);
});

test("usage: the model an answer names is read across characters cut between chunks, JSON or event stream", async () => {
  const model = "modèle-🌍";
  const json = JSON.stringify({
    model,
    usage: { prompt_tokens: 5, completion_tokens: 2 },
  });
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      body.stream
        ? streamed(pieces(`data: ${json}\n\ndata: [DONE]\n\n`, 1))
        : streamed(pieces(json, 1), "application/json"),
    { prices: { [model]: 1 } },
    { bufferLimit: false },
  );
  using _ = pool;
  // The calls name no model: the answers' own names them.
  await call({ messages: [] });
  await call({ messages: [], stream: true });
  assert.deepEqual(Object.keys(feature.report().byModel), [model]);
  assert.equal(feature.report().byModel[model].calls, 2);
  assert.equal(feature.report().byModel[model].inputTokens, 10);
});

test("usage: a body cut inside its last character ends with a replacement character, as the caller reads it", async () => {
  const usageJson = JSON.stringify({
    model: "gpt-4.1",
    usage: { prompt_tokens: 5, completion_tokens: 2 },
  });
  // The first byte of "é" (0xC3 0xA9) and no more.
  const half = new Uint8Array([0xc3]);
  const { pool, feature, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      body.stream
        ? streamed([`data: ${usageJson}`, half])
        : streamed([usageJson, half], "application/json"),
    { prices: { "gpt-4.1": 1 } },
    { bufferLimit: false },
  );
  using _ = pool;
  // Text after the object: no JSON object, nothing read.
  assert.equal(await call({ model: "gpt-4.1" }), `${usageJson}\ufffd`);
  // An event whose data ends with it: no JSON, nothing read.
  assert.equal(
    await call({ model: "gpt-4.1", stream: true }),
    `data: ${usageJson}\ufffd`,
  );
  assert.deepEqual(usageEvents(events), []);
  assert.deepEqual(feature.report().total, { ...ZERO, calls: 2, unmetered: 2 });
});

test("usage: a JSON answer's usage and model are read wherever they stand, first member included", async () => {
  const bodies: Record<string, string> = {
    "usage-first": JSON.stringify({
      usage: { prompt_tokens: 3, completion_tokens: 1 },
      model: "gpt-4.1",
    }),
    "model-first": JSON.stringify({
      model: "gpt-4.1-mini",
      usage: { prompt_tokens: 4, completion_tokens: 1 },
    }),
  };
  const { pool, feature, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) => streamed([bodies[body.kind as string]], "application/json"),
    { prices: { "gpt-4.1": 1, "gpt-4.1-mini": 1 } },
  );
  using _ = pool;
  // The calls name no model: the answers' own names them.
  await call({ kind: "usage-first" });
  await call({ kind: "model-first" });
  assert.deepEqual(counted(events), [[3, 0, 1], [4, 0, 1]]);
  assert.deepEqual(Object.keys(feature.report().byModel), [
    "gpt-4.1",
    "gpt-4.1-mini",
  ]);
});

test("usage: keys and escapes in a JSON answer's strings never hide its usage, wherever the chunks are cut", async () => {
  const usageField = { prompt_tokens: 42, completion_tokens: 8 };
  const sources = [
    JSON.stringify({
      '"quoted" key': 1,
      path: "C:\\",
      note: 'one\ntwo\t"three"',
      usage: usageField,
      tail: "\\",
    }),
    // An empty key first.
    JSON.stringify({ "": 0, usage: usageField }),
  ];
  const { pool, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) => {
      const source = sources[body.source as number];
      const cut = body.cut as number;
      return streamed(
        [source.slice(0, cut), source.slice(cut)].filter((c) => c !== ""),
        "application/json",
      );
    },
    { prices: { "gpt-4.1": 1 } },
    { bufferLimit: false },
  );
  using _ = pool;
  let calls = 0;
  for (const [i, source] of sources.entries()) {
    for (let cut = 0; cut < source.length; cut++) {
      assert.equal(await call({ model: "gpt-4.1", source: i, cut }), source);
      calls += 1;
      assert.equal(usageEvents(events).length, calls, `${i}: cut at ${cut}`);
      assert.deepEqual(counted(events).at(-1), [42, 0, 8]);
    }
  }
});

test("usage: a JSON answer's usage member of up to 64 KiB is read, a longer one is not", async () => {
  const usageText = '{"prompt_tokens":6,"completion_tokens":2}';
  /** A body whose usage member, from its colon, is `size` characters. */
  const body = (size: number) => [
    `{"id":"x","usage":${" ".repeat(size - 1 - usageText.length)}${usageText}`,
    ',"model":"gpt-4.1"}',
  ];
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, b) => streamed(body(b.size as number), "application/json"),
    { prices: { "gpt-4.1": 1 } },
    { bufferLimit: false },
  );
  using _ = pool;
  await call({ model: "gpt-4.1", size: 65_536 });
  assert.equal(feature.report().total.inputTokens, 6);
  await call({ model: "gpt-4.1", size: 65_537 });
  assert.deepEqual(feature.report().total, {
    calls: 2,
    unmetered: 1,
    inputTokens: 6,
    cachedInputTokens: 0,
    outputTokens: 2,
    costUsd: 0.000008,
  });
});

test("usage: a token count that is not a positive finite number counts as 0", async () => {
  // Written raw: JSON.stringify cannot write -0, nor 1e999 (Infinity).
  const bodies = [
    '{"usage":{"prompt_tokens":-5,"completion_tokens":3}}',
    '{"usage":{"prompt_tokens":1e999,"completion_tokens":"4"}}',
    '{"usage":{"prompt_tokens":-0,"completion_tokens":2,' +
    '"prompt_tokens_details":{"cached_tokens":-0}}}',
  ];
  const { pool, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      new Response(bodies[body.n as number], {
        headers: { "content-type": "application/json" },
      }),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  for (const n of [0, 1, 2]) await call({ model: "gpt-4.1", n });
  const seen = counted(events);
  assert.deepEqual(seen, [[0, 0, 3], [0, 0, 0], [0, 0, 2]]);
  // Plain zeros, not -0.
  assert.ok(seen.flat().every((n) => Object.is(n, Math.abs(n))));
});

test("usage: a usage naming only input_tokens (or only prompt_tokens) is counted", async () => {
  const usages = [{ input_tokens: 12 }, { prompt_tokens: 8 }];
  const { pool, events, call } = setup(
    [endpoint("primary", 1)],
    (_, body) => chat("gpt-4.1", usages[body.n as number]),
    { prices: { "gpt-4.1": 1 } },
  );
  using _ = pool;
  await call({ model: "gpt-4.1", n: 0 });
  await call({ model: "gpt-4.1", n: 1 });
  assert.deepEqual(counted(events), [[12, 0, 0], [8, 0, 0]]);
});

test("usage: an answer's model counts only when it is a non-empty string", async () => {
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      json({
        model: body.answerModel,
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
  );
  using _ = pool;
  // The calls name no model; their answers name "", 42 and null.
  for (const answerModel of ["", 42, null]) await call({ answerModel });
  assert.deepEqual(Object.keys(feature.report().byModel), ["(unknown)"]);
  assert.equal(feature.report().byModel["(unknown)"].calls, 3);
});

test("usage: a 2xx answer is counted, 299 included, and no other", async () => {
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      new Response(
        JSON.stringify({ usage: { prompt_tokens: 1, completion_tokens: 0 } }),
        {
          status: body.status as number,
          headers: { "content-type": "application/json" },
        },
      ),
  );
  using _ = pool;
  for (const status of [200, 299, 300]) {
    await call({ model: "m", status });
  }
  assert.equal(feature.report().total.calls, 2);
  assert.equal(feature.report().total.inputTokens, 2);
});

test("usage: usage(null) is usage() — no prices", async () => {
  const feature = usage(null as unknown as UsageOptions);
  using pool = createPool({
    endpoints: [endpoint("primary", 1)],
    clock: new ManualClock(),
    features: [feature],
    fetch: () => Promise.resolve(chat("m", { prompt_tokens: 2 })),
  });
  await (await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "m" }),
  })).text();
  assert.deepEqual(feature.report().total, {
    calls: 1,
    unmetered: 0,
    inputTokens: 2,
    cachedInputTokens: 0,
    outputTokens: 0,
  });
});

test("usage: a price is from 0 to 1,000,000 USD per million tokens, and costs of whole dollars come out exact", async () => {
  const { pool, feature, call } = setup(
    [endpoint("primary", 1)],
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: body.tokens,
        completion_tokens: 0,
      }),
    { prices: { free: 0, dear: 1_000_000 } },
  );
  using _ = pool;
  await call({ model: "free", tokens: 1_000_000 });
  await call({ model: "dear", tokens: 1 });
  await call({ model: "dear", tokens: 1 });
  const by = feature.report().byModel;
  assert.equal(by.free.costUsd, 0);
  assert.equal(by.dear.costUsd, 2);
  assert.equal(feature.report().total.costUsd, 2);
  assert.equal(pool.status()[0].usage?.costUsd, 2);
});

test("usage: a price is a number or { input, output, cachedInput? } — anything else throws naming it", () => {
  const cases: [unknown, RegExp][] = [
    [
      5,
      /^ky-failover: usage\.prices must be an object of prices by model name, got 5$/,
    ],
    [
      { "gpt-4.1": 1_000_001 },
      /^ky-failover: usage\.prices\["gpt-4\.1"\] must be a price in USD per million tokens \(0 to 1000000\), got 1000001$/,
    ],
    [
      { "gpt-4.1": { input: 1, output: -0.5 } },
      /^ky-failover: usage\.prices\["gpt-4\.1"\]\.output must be a price/,
    ],
    [
      { "gpt-4.1": "2" },
      /^ky-failover: usage\.prices\["gpt-4\.1"\] must be a number or \{ input, output, cachedInput\? \}, got "2"$/,
    ],
    [
      { "gpt-4.1": null },
      /^ky-failover: usage\.prices\["gpt-4\.1"\] must be a number or \{ input, output, cachedInput\? \}, got null$/,
    ],
    [
      { "gpt-4.1": { input: 1, output: 2, cached: 0.5 } },
      /^ky-failover: usage\.prices\["gpt-4\.1"\]\.cached must be absent \(known: input, output, cachedInput\), got 0\.5$/,
    ],
  ];
  for (const [prices, message] of cases) {
    assert.throws(
      () => usage({ prices } as UsageOptions),
      (e: unknown) => e instanceof TypeError && message.test(e.message),
      String(message),
    );
  }
});

test("usage: one model sent under two asked names is one model in the report, each call at its asked name's price", async () => {
  const feature = usage({ prices: { fast: 2, cheap: 1 } });
  using pool = createPool({
    endpoints: [
      endpoint("relay", 1, { models: { fast: "shared", cheap: "shared" } }),
    ],
    clock: new ManualClock(START),
    features: [models(), feature],
    fetch: async (input, init) => {
      const body = await new Request(input, init).json();
      return chat(body.model, { prompt_tokens: 1_000, completion_tokens: 0 });
    },
  });
  for (const model of ["fast", "cheap", "fast"]) {
    await (await pool.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify({ model }),
    })).text();
  }
  const expected = {
    calls: 3,
    unmetered: 0,
    inputTokens: 3_000,
    cachedInputTokens: 0,
    outputTokens: 0,
    // 2 × 1000 × $2 + 1000 × $1, per million
    costUsd: 0.005,
  };
  assert.deepEqual(feature.report().byModel, { shared: expected });
  assert.deepEqual(pool.status()[0].usage?.byModel, { shared: expected });
});

// ------------------------------------------------------------- budgets

/** A pool over `endpoints` where a call with `tokens` costs tokens ÷ 1e6 USD. */
function metered(
  endpoints: EndpointOptions[],
  extra: Partial<PoolOptions> = {},
) {
  const s = setup(
    endpoints,
    (_, body) =>
      chat(body.model as string, {
        prompt_tokens: body.tokens,
        completion_tokens: 0,
      }),
    { prices: { "gpt-4.1": 1 } },
    { strategy: "priority", ...extra },
  );
  /** A call costing `usd`. */
  const spend = (usd: number) =>
    s.call({ model: "gpt-4.1", tokens: Math.round(usd * 1e6) });
  return { ...s, spend };
}

/** The error a call fails with (none: `undefined`). */
function failure(pool: Pool): Promise<unknown> {
  return pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", tokens: 1 }),
  }).then(async (r) => void await r.text(), (e: unknown) => e);
}

test("usage: a budget's window is 1 to 2147483647 ms; spending exactly the limit runs it out, and a 1 ms window takes calls again 1 ms later", async () => {
  using _long = createPool({
    endpoints: [
      endpoint("a", 1, { budget: { usd: 1, window: 2_147_483_647 } }),
    ],
    clock: new ManualClock(),
    features: [usage({ prices: { m: 1 } })],
  });
  const { pool, clock, events, sent, spend } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 1 } }),
    endpoint("backup", 2),
  ]);
  using _ = pool;
  await spend(0.01);
  assert.deepEqual(budgetEvents(events), [{
    type: "budget",
    endpoint: "primary",
    exhausted: true,
    spentUsd: 0.01,
    usd: 0.01,
    windowMs: 1,
    until: START + 1,
  }]);
  assert.deepEqual(clock.delays, [1]);
  await spend(0.01);
  clock.advance(1);
  assert.equal(budgetEvents(events).at(-1)?.exhausted, false);
  await spend(0.01);
  assert.deepEqual(sent.map((s) => s.endpoint), [
    "primary",
    "backup",
    "primary",
  ]);
});

test("usage: spending leaves a budget's window on its own, with no timer running", async () => {
  const { pool, clock, spend } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 60_000 } }),
  ]);
  using _ = pool;
  await spend(0.004);
  assert.equal(clock.pending, 0);
  clock.advance(59_999);
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0.004);
  clock.advance(1);
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0);
  assert.equal(pool.status()[0].usage?.costUsd, 0.004);
  // Two calls in one millisecond leave together, before a later one.
  await spend(0.003);
  await spend(0.002);
  clock.advance(1_000);
  await spend(0.001);
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0.006);
  clock.advance(59_000);
  assert.equal(pool.status()[0].usage?.budget?.spentUsd, 0.001);
});

test("usage: an endpoint over its budget is back only once its spending is under the limit, not at it", async () => {
  const { pool, clock, events, spend } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 60_000 } }),
    endpoint("backup", 2),
  ]);
  using _ = pool;
  await spend(0.004);
  clock.advance(1_000);
  await spend(0.01); // $0.014: over; without the first $0.004, at the limit
  assert.equal(budgetEvents(events)[0].until, START + 61_000);
  clock.advance(59_000);
  assert.equal(pool.status()[0].usage?.budget?.exhausted, true);
  clock.advance(1_000);
  assert.equal(pool.status()[0].usage?.budget?.exhausted, false);
});

/**
 * A clock whose timers run off time, as real ones may under load: a timer
 * set for `earlyFor` ms fires 1 ms early; while `holding`, a timer that
 * falls due waits for release() — late — unless it is cleared first.
 */
class OffTimeClock implements Clock {
  readonly manual = new ManualClock(START);
  earlyFor: number | undefined;
  holding = false;
  readonly #timers = new Map<object, unknown>();
  readonly #held = new Map<object, () => void>();

  now = (): number => this.manual.now();

  setTimeout = (fn: () => void, ms: number): unknown => {
    const handle = {};
    const due = () => {
      this.#timers.delete(handle);
      if (this.holding) this.#held.set(handle, fn);
      else fn();
    };
    const early = ms === this.earlyFor ? 1 : 0;
    this.#timers.set(handle, this.manual.setTimeout(due, ms - early));
    return handle;
  };

  clearTimeout = (handle: unknown): void => {
    const timer = this.#timers.get(handle as object);
    if (timer !== undefined) this.manual.clearTimeout(timer);
    this.#timers.delete(handle as object);
    this.#held.delete(handle as object);
  };

  /** Timers set and not yet run or cleared, held ones included. */
  get pending(): number {
    return this.#timers.size + this.#held.size;
  }

  /** Runs the timers held since they fell due. */
  release(): void {
    const due = [...this.#held.values()];
    this.#held.clear();
    for (const fn of due) fn();
  }
}

test("usage: a budget timer that fires early waits out the rest, and the endpoint is back exactly when it said", async () => {
  const clock = new OffTimeClock();
  clock.earlyFor = 45_000;
  const { pool, events, spend } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 45_000 } }),
  ], { clock });
  using _ = pool;
  await spend(0.012);
  assert.equal(budgetEvents(events)[0].until, START + 45_000);
  clock.manual.advance(44_999); // the timer fires: 1 ms to go
  assert.equal(pool.status()[0].usage?.budget?.exhausted, true);
  assert.deepEqual(clock.manual.delays, [1]);
  clock.manual.advance(1);
  assert.deepEqual(budgetEvents(events).map((e) => e.exhausted), [
    true,
    false,
  ]);
  assert.equal(clock.pending, 0);
});

test("usage: a budget timer that fires late does not keep the endpoint out past its until", async () => {
  const clock = new OffTimeClock();
  const { pool, events } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 45_000 } }),
  ], { clock, bufferLimit: false });
  using _ = pool;
  // Four calls answered at once; their bodies count as they are read.
  const answers = await Promise.all(
    [0, 1, 2, 3].map(() =>
      pool.fetch("chat/completions", {
        method: "POST",
        body: JSON.stringify({ model: "gpt-4.1", tokens: 6_000 }),
      })
    ),
  );
  await answers[0].text();
  await answers[1].text(); // $0.012: over until START + 45 s
  const refused = await failure(pool);
  assert.ok(isFailoverError(refused), String(refused));
  clock.holding = true;
  clock.manual.advance(45_000); // its timer is due, and late
  // At its until the endpoint takes calls again, whatever the timer does.
  const late = await pool.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", tokens: 1 }),
  });
  assert.equal(late.status, 200);
  await late.body?.cancel();
  for (const answer of answers.slice(2)) await answer.body?.cancel();
  assert.deepEqual(budgetEvents(events).map((e) => e.exhausted), [
    true,
    false,
  ]);
  clock.release(); // the late timer finds nothing to do
  assert.deepEqual(budgetEvents(events).map((e) => e.exhausted), [
    true,
    false,
  ]);
  pool.close();
  assert.equal(clock.pending, 0);
});

test("usage: bodies not yet read when the pool closes end with it: nothing counted, no budget timer", async () => {
  const { pool, clock, feature } = metered([
    endpoint("primary", 1, { budget: { usd: 0.01, window: 60_000 } }),
  ], { bufferLimit: false });
  using _ = pool;
  const answers = await Promise.all(
    [0, 1].map(() =>
      pool.fetch("chat/completions", {
        method: "POST",
        body: JSON.stringify({ model: "gpt-4.1", tokens: 6_000 }),
      })
    ),
  );
  await pool.close();
  for (const answer of answers) {
    await assert.rejects(answer.text(), { name: "ClosedError" });
  }
  assert.equal(feature.report().total.inputTokens, 0);
  assert.equal(clock.pending, 0);
});

test("usage: a refusal shows when an endpoint is back as a date from 2000-01-01 on, else as a clock time", async () => {
  const at = async (until: number) => {
    const { pool, spend } = metered([
      endpoint("primary", 1, { budget: { usd: 0.01, window: 60_000 } }),
    ], { clock: new ManualClock(until - 60_000) });
    using _ = pool;
    await spend(0.01);
    const error = await failure(pool);
    assert.ok(isFailoverError(error), String(error));
    return /, back in 60000 ms, at (.*?)\)/.exec(error.message)?.[1];
  };
  assert.equal(await at(Date.UTC(2000, 0, 1)), "2000-01-01T00:00:00.000Z");
  assert.equal(await at(Date.UTC(2000, 0, 1) - 1), "clock time 946684799999");
  assert.equal(await at(60_000), "clock time 60000");
  // Past the last time a Date can show (8.64e15 ms).
  assert.equal(await at(8.64e15 - 1), "+275760-09-12T23:59:59.999Z");
  assert.equal(await at(8.64e15), "clock time 8640000000000000");
});
