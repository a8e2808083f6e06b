// Tokens, cost, budgets, the cheapest strategy and failoverOn rules over
// real loopback HTTP: each region serves only its own models (a 404
// model_not_found for any other) and reports the usage it was given
// (`ky-failover/testing`'s `models` and `usage`), served on its own port
// of 127.0.0.1 (tests/_loopback_regions.ts). Calls go through the OpenAI
// SDK (plain and streamed chat, embeddings, the Responses API) and
// `api.fetch`, and every figure is checked to the exact decimal. Time
// (budget windows) moves only by a manual clock. Deno, Node and Bun
// (node:http servers).

import OpenAI from "openai";
import { assert, test } from "./_harness.ts";
import { type LoopbackRegions, serveRegions } from "./_loopback_regions.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type EndpointOptions,
  type Failover,
  type FailoverEvent,
  type FailoverOptions,
  isFailoverError,
} from "ky-failover";
import type { ReplyContext } from "ky-failover/testing";

const START = Date.UTC(2026, 10, 26, 12, 0, 0);
const messages = [{ role: "user" as const, content: "hi" }];

/** A pool over `endpoints`, its events, and the OpenAI SDK over its fetch. */
function setup(
  regions: LoopbackRegions,
  endpoints: Record<string, Partial<EndpointOptions>>,
  extra: Partial<FailoverOptions> = {},
): { api: Failover; openai: OpenAI; events: FailoverEvent[] } {
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: Object.entries(endpoints).map(([name, options], i) => ({
      name,
      url: regions.region(name).url,
      apiKey: `sk-${name}`,
      priority: i + 1,
      ...options,
    })),
    timeout: 10_000,
    onEvent: (e) => void events.push(e),
    ...extra,
  });
  const openai = new OpenAI({
    baseURL: regions.regions[0].url,
    apiKey: "unused",
    fetch: api.fetch,
    maxRetries: 0,
  });
  return { api, openai, events };
}

/** Per region: the `model` of each body it received. */
function modelsReceived(regions: LoopbackRegions): Record<string, unknown[]> {
  return Object.fromEntries(
    regions.regions.map((r) => [
      r.name,
      r.received.map((q) =>
        q.body === "" ? undefined : JSON.parse(q.body).model
      ),
    ]),
  );
}

function usageEvents(events: FailoverEvent[]) {
  return events.filter((e) => e.type === "usage");
}

function budgetEvents(events: FailoverEvent[]) {
  return events.filter((e) => e.type === "budget");
}

/** Each attempt as [endpoint, status, model sent, code]. */
function attempts(events: FailoverEvent[]) {
  return events.flatMap((e) =>
    e.type === "attempt" ? [[e.endpoint, e.status, e.model, e.code]] : []
  );
}

/** Reads an SDK chat stream to its end: its text and its usage chunk. */
async function readChatStream(
  stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>,
): Promise<{ text: string; models: string[]; usage: unknown }> {
  let text = "";
  const models = new Set<string>();
  let usage: unknown;
  for await (const chunk of stream) {
    models.add(chunk.model);
    text += chunk.choices[0]?.delta.content ?? "";
    usage ??= chunk.usage ?? undefined;
  }
  return { text, models: [...models], usage };
}

// ------------------------------------------------------- tokens and cost

test("providers cost: the OpenAI SDK's chat (plain, streamed), embeddings and Responses calls are counted and priced exactly, per endpoint and per model as sent", async () => {
  await using regions = await serveRegions([
    {
      name: "openai",
      models: ["gpt-4.1", "o3", "text-embedding-3-small"],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 300,
        cached_tokens: 1000,
      },
    },
    {
      name: "deepseek",
      models: ["deepseek-chat"],
      usage: {
        prompt_tokens: 1234,
        completion_tokens: 567,
        cached_tokens: 1000,
      },
    },
  ]);
  const { api, openai, events } = setup(regions, {
    openai: { models: ["gpt-4.1", "o3", "text-embedding-3-small"] },
    deepseek: {
      models: { "gpt-4.1-mini": "deepseek-chat" },
      // The endpoint's own price comes before the pool's.
      prices: {
        "deepseek-chat": { input: 0.27, output: 1.1, cachedInput: 0.07 },
      },
    },
  }, {
    prices: {
      "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
      o3: { input: 10, output: 40, cachedInput: 2.5 },
      "text-embedding-3-small": 0.02,
      // Decoys: deepseek's own price for the name it is sent wins over
      // both the pool's price for that name and the asked name's.
      "deepseek-chat": 0.42,
      "gpt-4.1-mini": { input: 0.4, output: 1.6 },
    },
  });
  using _ = api;

  // 1. Plain chat on openai: 1200 input of which 1000 cached, 300 output.
  const completion = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  });
  assert.equal(completion.choices[0].message.content, "hello from openai");
  assert.deepEqual(completion.usage, {
    prompt_tokens: 1200,
    completion_tokens: 300,
    total_tokens: 1500,
    prompt_tokens_details: { cached_tokens: 1000 },
  });

  // 2. Streamed chat with include_usage, renamed for deepseek.
  const stream = await openai.chat.completions.create({
    model: "gpt-4.1-mini",
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const read = await readChatStream(stream);
  assert.equal(read.text, "hello from deepseek");
  assert.deepEqual(read.models, ["deepseek-chat"]);
  assert.deepEqual(read.usage, {
    prompt_tokens: 1234,
    completion_tokens: 567,
    total_tokens: 1801,
    prompt_tokens_details: { cached_tokens: 1000 },
  });

  // 3. Embeddings (base64 on the wire): input tokens only, none cached.
  const embeddings = await openai.embeddings.create({
    model: "text-embedding-3-small",
    input: ["one", "two"],
  });
  assert.equal(embeddings.data.length, 2);
  assert.deepEqual(embeddings.usage, {
    prompt_tokens: 1200,
    total_tokens: 1200,
  });

  // 4. Responses API, plain, on openai.
  const response = await openai.responses.create({ model: "o3", input: "hi" });
  assert.equal(response.output_text, "hello from openai");
  assert.equal(response.usage?.input_tokens_details.cached_tokens, 1000);

  // 5. Responses API, streamed, renamed for deepseek: its usage comes in
  // response.completed.
  const events5 = await openai.responses.create({
    model: "gpt-4.1-mini",
    input: "hi",
    stream: true,
  });
  let text = "";
  for await (const event of events5) {
    if (event.type === "response.output_text.delta") text += event.delta;
  }
  assert.equal(text, "hello from deepseek");

  assert.deepEqual(modelsReceived(regions), {
    openai: ["gpt-4.1", "text-embedding-3-small", "o3"],
    deepseek: ["deepseek-chat", "deepseek-chat"],
  });

  // Per call, in USD (tokens × USD per million / 1e6):
  //   gpt-4.1 chat:  (200 × 2 + 1000 × 0.5 + 300 × 8) / 1e6 = 3300 / 1e6
  //                = 0.0033
  //   embeddings:    1200 × 0.02 / 1e6 = 0.000024
  //   o3 response:   (200 × 10 + 1000 × 2.5 + 300 × 40) / 1e6 = 16500 / 1e6
  //                = 0.0165
  //   deepseek-chat, at deepseek's own price (each of the two calls):
  //                  (234 × 0.27 + 1000 × 0.07 + 567 × 1.1) / 1e6
  //                = (63.18 + 70 + 623.7) / 1e6 = 0.00075688
  //   (at the pool's 0.42 it would be 1801 × 0.42 / 1e6 = 0.00075642)
  const gpt41 = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1200,
    cachedInputTokens: 1000,
    outputTokens: 300,
    costUsd: 0.0033,
  };
  const embedding = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1200,
    cachedInputTokens: 0,
    outputTokens: 0,
    costUsd: 0.000024,
  };
  const o3 = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1200,
    cachedInputTokens: 1000,
    outputTokens: 300,
    costUsd: 0.0165,
  };
  // Two calls: (468 × 0.27 + 2000 × 0.07 + 1134 × 1.1) / 1e6
  //          = (126.36 + 140 + 1247.4) / 1e6 = 0.00151376
  const deepseekChat = {
    calls: 2,
    unmetered: 0,
    inputTokens: 2468,
    cachedInputTokens: 2000,
    outputTokens: 1134,
    costUsd: 0.00151376,
  };
  // openai: 0.0033 + 0.000024 + 0.0165 = 0.019824
  const openaiTotals = {
    calls: 3,
    unmetered: 0,
    inputTokens: 3600,
    cachedInputTokens: 2000,
    outputTokens: 600,
    costUsd: 0.019824,
  };
  const report = api.usage();
  // 0.019824 + 0.00151376 = 0.02133776
  assert.deepEqual(report.total, {
    calls: 5,
    unmetered: 0,
    inputTokens: 6068,
    cachedInputTokens: 4000,
    outputTokens: 1734,
    costUsd: 0.02133776,
  });
  assert.equal(report.total.costUsd, 0.02133776);
  assert.deepEqual(report.byEndpoint, {
    openai: openaiTotals,
    deepseek: deepseekChat,
  });
  assert.deepEqual(report.byModel, {
    "gpt-4.1": gpt41,
    "text-embedding-3-small": embedding,
    o3,
    "deepseek-chat": deepseekChat,
  });
  assert.deepEqual(api.status()[0].usage, {
    ...openaiTotals,
    byModel: { "gpt-4.1": gpt41, "text-embedding-3-small": embedding, o3 },
  });
  assert.deepEqual(api.status()[1].usage, {
    ...deepseekChat,
    byModel: { "deepseek-chat": deepseekChat },
  });
  assert.equal(api.status()[1].usage?.costUsd, 0.00151376);

  const deepseekEvent = {
    type: "usage",
    endpoint: "deepseek",
    model: "deepseek-chat",
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00075688,
  };
  assert.deepEqual(usageEvents(events), [
    {
      type: "usage",
      endpoint: "openai",
      model: "gpt-4.1",
      inputTokens: 1200,
      cachedInputTokens: 1000,
      outputTokens: 300,
      costUsd: 0.0033,
    },
    deepseekEvent,
    {
      type: "usage",
      endpoint: "openai",
      model: "text-embedding-3-small",
      inputTokens: 1200,
      cachedInputTokens: 0,
      outputTokens: 0,
      costUsd: 0.000024,
    },
    {
      type: "usage",
      endpoint: "openai",
      model: "o3",
      inputTokens: 1200,
      cachedInputTokens: 1000,
      outputTokens: 300,
      costUsd: 0.0165,
    },
    deepseekEvent,
  ]);
});

test("providers cost: an OpenAI SDK chat stream with include_usage is counted, though the SDK stops reading at data: [DONE]", async () => {
  // openai 7's Stream breaks out of its loop at `data: [DONE]` and cancels
  // the rest of the body (nothing but its end is left): the usage chunk
  // before it was read all the same.
  await using regions = await serveRegions([{
    name: "deepseek",
    models: ["deepseek-chat"],
    usage: { prompt_tokens: 1234, completion_tokens: 567, cached_tokens: 1000 },
  }]);
  const { api, openai, events } = setup(regions, {
    deepseek: { models: { "gpt-4.1": "deepseek-chat" } },
  }, {
    prices: {
      "deepseek-chat": { input: 0.28, output: 0.42, cachedInput: 0.028 },
    },
  });
  using _ = api;
  const stream = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const read = await readChatStream(stream);
  assert.equal(read.text, "hello from deepseek");
  assert.deepEqual(read.usage, {
    prompt_tokens: 1234,
    completion_tokens: 567,
    total_tokens: 1801,
    prompt_tokens_details: { cached_tokens: 1000 },
  });
  // (234 × 0.28 + 1000 × 0.028 + 567 × 0.42) / 1e6
  //   = (65.52 + 28 + 238.14) / 1e6 = 0.00033166
  const counted = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00033166,
  };
  assert.deepEqual(api.usage().total, counted);
  assert.deepEqual(api.status()[0].usage, {
    ...counted,
    byModel: { "deepseek-chat": counted },
  });
  assert.deepEqual(usageEvents(events), [{
    type: "usage",
    endpoint: "deepseek",
    model: "deepseek-chat",
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00033166,
  }]);
});

test("providers cost: a 503 fails over to another provider under its own model name, and the call is charged at that model's price", async () => {
  await using regions = await serveRegions([
    { name: "openai", models: ["gpt-4.1"], mode: { status: 503 } },
    {
      name: "deepseek",
      models: ["deepseek-chat"],
      usage: {
        prompt_tokens: 1234,
        completion_tokens: 567,
        cached_tokens: 1000,
      },
    },
  ]);
  const { api, openai, events } = setup(regions, {
    openai: { models: ["gpt-4.1"] },
    deepseek: { models: { "gpt-4.1": "deepseek-chat" } },
  }, {
    prices: {
      "gpt-4.1": { input: 2, output: 8 },
      "deepseek-chat": { input: 0.28, output: 0.42, cachedInput: 0.028 },
    },
  });
  using _ = api;
  const completion = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  });
  assert.equal(completion.model, "deepseek-chat");
  // Streamed through ky, read to its end.
  const stream = await api.ky.post("chat/completions", {
    json: {
      model: "gpt-4.1",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    },
  }).text();
  const chunks = stream.split("\n\n").filter((f) => f.startsWith("data: {"))
    .map((f) => JSON.parse(f.slice("data: ".length)));
  assert.ok(chunks.every((c) => c.model === "deepseek-chat"));
  assert.equal(chunks.at(-1).usage.prompt_tokens_details.cached_tokens, 1000);
  assert.deepEqual(modelsReceived(regions), {
    openai: ["gpt-4.1", "gpt-4.1"],
    deepseek: ["deepseek-chat", "deepseek-chat"],
  });
  assert.deepEqual(attempts(events), [
    ["openai", 503, "gpt-4.1", undefined],
    ["deepseek", 200, "deepseek-chat", undefined],
    ["openai", 503, "gpt-4.1", undefined],
    ["deepseek", 200, "deepseek-chat", undefined],
  ]);

  // Each call at deepseek-chat's price:
  //   (234 × 0.28 + 1000 × 0.028 + 567 × 0.42) / 1e6
  //   = (65.52 + 28 + 238.14) / 1e6 = 0.00033166
  // (at the asked gpt-4.1's price it would be 0.007004).
  const event = {
    type: "usage",
    endpoint: "deepseek",
    model: "deepseek-chat",
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00033166,
  };
  assert.deepEqual(usageEvents(events), [event, event]);
  // Two calls: (468 × 0.28 + 2000 × 0.028 + 1134 × 0.42) / 1e6
  //          = (131.04 + 56 + 476.28) / 1e6 = 0.00066332
  const deepseek = {
    calls: 2,
    unmetered: 0,
    inputTokens: 2468,
    cachedInputTokens: 2000,
    outputTokens: 1134,
    costUsd: 0.00066332,
  };
  const none = {
    calls: 0,
    unmetered: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
  };
  assert.deepEqual(api.usage(), {
    total: deepseek,
    byEndpoint: { openai: none, deepseek },
    byModel: { "deepseek-chat": deepseek },
  });
  assert.deepEqual(api.status()[0].usage, { ...none, byModel: {} });
  assert.deepEqual(api.status()[1].usage, {
    ...deepseek,
    byModel: { "deepseek-chat": deepseek },
  });
});

// -------------------------------------------------------------- cheapest

test("providers cost: strategy cheapest over three real servers — the cheapest takes the calls, a 503 moves one to the next-cheapest, ties alternate", async () => {
  await using regions = await serveRegions([
    { name: "openai", models: ["gpt-4.1", "o3"] },
    { name: "deepseek", models: ["deepseek-chat", "deepseek-reasoner"] },
    { name: "mistral", models: ["mistral-large", "magistral-medium"] },
  ]);
  const { api, openai, events } = setup(regions, {
    openai: { models: ["gpt-4.1", "o3"], priority: 1 },
    deepseek: {
      models: { "gpt-4.1": "deepseek-chat", o3: "deepseek-reasoner" },
      priority: 1,
    },
    mistral: {
      models: { "gpt-4.1": "mistral-large", o3: "magistral-medium" },
      priority: 1,
      // Its own price for magistral-medium ties with deepseek-reasoner.
      prices: { "magistral-medium": { input: 0.2, output: 0.5 } },
    },
  }, {
    strategy: "cheapest",
    random: () => 0,
    // Ranked by input + output, USD per million tokens:
    //   gpt-4.1 10, mistral-large 2, deepseek-chat 0.7;
    //   o3 50, deepseek-reasoner 0.7, magistral-medium 0.7 (a tie).
    prices: {
      "gpt-4.1": { input: 2, output: 8 },
      o3: { input: 10, output: 40 },
      "deepseek-chat": { input: 0.28, output: 0.42 },
      "mistral-large": { input: 0.5, output: 1.5 },
      "deepseek-reasoner": { input: 0.28, output: 0.42 },
      "magistral-medium": 8, // the pool's: mistral's own price comes first
    },
  });
  using _ = api;
  const ask = async (model: string) =>
    (await openai.chat.completions.create({ model, messages })).model;

  assert.equal(await ask("gpt-4.1"), "deepseek-chat");
  assert.equal(await ask("gpt-4.1"), "deepseek-chat");
  regions.region("deepseek").mode = { status: 503 };
  assert.equal(await ask("gpt-4.1"), "mistral-large");
  regions.region("deepseek").mode = "up";
  assert.equal(await ask("gpt-4.1"), "deepseek-chat");
  assert.deepEqual(attempts(events), [
    ["deepseek", 200, "deepseek-chat", undefined],
    ["deepseek", 200, "deepseek-chat", undefined],
    ["deepseek", 503, "deepseek-chat", undefined],
    ["mistral", 200, "mistral-large", undefined],
    ["deepseek", 200, "deepseek-chat", undefined],
  ]);

  // The tie takes turns, in configuration order from random() = 0.
  const tie: string[] = [];
  for (let i = 0; i < 4; i++) tie.push(await ask("o3"));
  assert.deepEqual(tie, [
    "deepseek-reasoner",
    "magistral-medium",
    "deepseek-reasoner",
    "magistral-medium",
  ]);
  assert.deepEqual(modelsReceived(regions), {
    openai: [],
    deepseek: [
      "deepseek-chat",
      "deepseek-chat",
      "deepseek-chat",
      "deepseek-chat",
      "deepseek-reasoner",
      "deepseek-reasoner",
    ],
    mistral: ["mistral-large", "magistral-medium", "magistral-medium"],
  });

  // Each answer reported 5 input and 3 output tokens (the regions'
  // default), priced as sent (the 503 is not counted):
  //   deepseek: 3 × deepseek-chat + 2 × deepseek-reasoner
  //     = 5 × (5 × 0.28 + 3 × 0.42) / 1e6 = 5 × 2.66 / 1e6 = 0.0000133
  //   mistral: mistral-large (5 × 0.5 + 3 × 1.5) / 1e6 = 0.000007,
  //     2 × magistral-medium at its own price 2 × (5 × 0.2 + 3 × 0.5) / 1e6
  //     = 0.000005: 0.000012
  const report = api.usage();
  assert.equal(report.byEndpoint.deepseek.calls, 5);
  assert.equal(report.byEndpoint.deepseek.costUsd, 0.0000133);
  assert.equal(report.byEndpoint.mistral.costUsd, 0.000012);
  assert.equal(report.byModel["magistral-medium"].costUsd, 0.000005);
  // 0.0000133 + 0.000012
  assert.equal(report.total.costUsd, 0.0000253);
});

// --------------------------------------------------------------- budgets

test("providers cost: budgets over real HTTP — an endpoint over its budget gets nothing until the window moves on; with every budget spent a call fails without a request", async () => {
  await using regions = await serveRegions([
    {
      name: "primary",
      models: ["gpt-4.1"],
      usage: { prompt_tokens: 1000, completion_tokens: 100 },
    },
    {
      name: "backup",
      models: ["deepseek-chat"],
      usage: { prompt_tokens: 1000, completion_tokens: 1000 },
    },
  ]);
  const clock = new ManualClock(START);
  const { api, events } = setup(regions, {
    primary: { models: ["gpt-4.1"], budget: { usd: 0.007, window: 60_000 } },
    backup: {
      models: { "gpt-4.1": "deepseek-chat" },
      budget: { usd: 0.001, window: 60_000 },
    },
  }, {
    clock,
    // Per call: primary (1000 × 2 + 100 × 8) / 1e6 = 0.0028;
    // backup (1000 × 0.28 + 1000 × 0.42) / 1e6 = 0.0007.
    prices: {
      "gpt-4.1": { input: 2, output: 8 },
      "deepseek-chat": { input: 0.28, output: 0.42 },
    },
  });
  using _ = api;
  const call = async () => {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4.1", messages }),
    });
    assert.equal(response.status, 200);
    return (await response.json()).model as string;
  };

  assert.equal(await call(), "gpt-4.1"); // START: $0.0028
  clock.advance(10_000);
  assert.equal(await call(), "gpt-4.1"); // $0.0056
  assert.deepEqual(budgetEvents(events), []);
  assert.equal(await call(), "gpt-4.1"); // $0.0084 ≥ $0.007: out
  // Back once the first call's $0.0028 leaves the window: $0.0056 < $0.007.
  const primaryOut = {
    type: "budget",
    endpoint: "primary",
    exhausted: true,
    spentUsd: 0.0084,
    usd: 0.007,
    windowMs: 60_000,
    until: START + 60_000,
  };
  assert.deepEqual(budgetEvents(events), [primaryOut]);
  assert.deepEqual(api.status()[0].usage?.budget, {
    usd: 0.007,
    windowMs: 60_000,
    spentUsd: 0.0084,
    exhausted: true,
    until: START + 60_000,
  });

  assert.equal(await call(), "deepseek-chat"); // backup: $0.0007
  clock.advance(20_000); // START + 30 s
  assert.equal(await call(), "deepseek-chat"); // backup: $0.0014: out
  assert.deepEqual(regions.counts(), { primary: 3, backup: 2 });
  // Back once its first $0.0007 (START + 10 s) leaves the window.
  const backupOut = {
    type: "budget",
    endpoint: "backup",
    exhausted: true,
    spentUsd: 0.0014,
    usd: 0.001,
    windowMs: 60_000,
    until: START + 70_000,
  };
  assert.deepEqual(budgetEvents(events), [primaryOut, backupOut]);

  // Every budget spent: the call fails at once, and no server hears of it.
  const error = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages }),
  }).then(() => assert.fail("expected a rejection"), (e: unknown) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.equal(
    error.message.match(/every endpoint .*\)/)?.[0],
    "every endpoint that could take it is over its budget (" +
      "primary: spent $0.008400 of $0.007 in the last 60000 ms, " +
      "back in 30000 ms, at 2026-11-26T12:01:00.000Z; " +
      "backup: spent $0.001400 of $0.001 in the last 60000 ms, " +
      "back in 40000 ms, at 2026-11-26T12:01:10.000Z)",
  );
  assert.deepEqual(error.attempts, []);
  assert.deepEqual(regions.counts(), { primary: 3, backup: 2 });

  // A minute after the first call, that call's spending has left the
  // primary's window: it takes calls again.
  clock.advance(29_999);
  assert.equal(budgetEvents(events).length, 2);
  clock.advance(1); // START + 60 s: one window after the first call
  const primaryBack = {
    type: "budget",
    endpoint: "primary",
    exhausted: false,
    spentUsd: 0.0056,
    usd: 0.007,
    windowMs: 60_000,
  };
  assert.deepEqual(budgetEvents(events), [primaryOut, backupOut, primaryBack]);
  assert.equal(await call(), "gpt-4.1"); // $0.0084 again: out
  // Back once the $0.0056 of START + 10 s leaves: START + 70 s.
  assert.deepEqual(budgetEvents(events).at(-1), {
    ...primaryOut,
    until: START + 70_000,
  });
  assert.deepEqual(regions.counts(), { primary: 4, backup: 2 });

  clock.advance(10_000); // START + 70 s: both are back
  assert.deepEqual(budgetEvents(events).slice(4), [
    {
      type: "budget",
      endpoint: "backup",
      exhausted: false,
      spentUsd: 0.0007,
      usd: 0.001,
      windowMs: 60_000,
    },
    { ...primaryBack, spentUsd: 0.0028 },
  ]);
  assert.equal(await call(), "gpt-4.1");
  assert.deepEqual(regions.counts(), { primary: 5, backup: 2 });

  // 5 × $0.0028 + 2 × $0.0007 = $0.0154
  assert.equal(api.usage().byEndpoint.primary.costUsd, 0.014);
  assert.equal(api.usage().byEndpoint.backup.costUsd, 0.0014);
  assert.equal(api.usage().total.costUsd, 0.0154);
  assert.deepEqual(api.status()[1].usage?.budget, {
    usd: 0.001,
    windowMs: 60_000,
    spentUsd: 0.0007,
    exhausted: false,
    until: undefined,
  });
});

// ------------------------------------------------------------ failoverOn

/** A 400 no rule matches, as the server sends it, byte for byte. */
const INVALID_VALUE = '{\n  "error": {\n    "message": "Invalid value for ' +
  "'temperature': 5 is above the maximum of 2 — «réessayez».\",\n" +
  '    "type": "invalid_request_error",\n    "param": "temperature",\n' +
  '    "code": "invalid_value"\n  }\n}\n';

/** The longest prompt (in characters) "small" takes. */
const SMALL_CONTEXT = 64;

function error400(body: string): Response {
  return new Response(body, {
    status: 400,
    headers: { "content-type": "application/json" },
  });
}

/**
 * Regions of one provider with their limits: "small" refuses a prompt
 * longer than SMALL_CONTEXT characters (context_length_exceeded), "azure"
 * anything that says "forbidden" (content_filter), and every region a
 * temperature above 2 (invalid_value). "large" takes anything else.
 */
function limited(_request: Request, { region, received }: ReplyContext) {
  const body = JSON.parse(received.body);
  const prompt = body.messages
    .map((m: { content: string }) => m.content).join("");
  if (region.name === "small" && prompt.length > SMALL_CONTEXT) {
    return error400(JSON.stringify({
      error: {
        message:
          `This model's maximum context length is 16 tokens. However, your messages resulted in ${prompt.length} tokens.`,
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    }));
  }
  if (region.name === "azure" && prompt.includes("forbidden")) {
    return error400(JSON.stringify({
      error: {
        message:
          "The response was filtered due to the prompt triggering content management policy.",
        type: null,
        param: "prompt",
        code: "content_filter",
        status: 400,
      },
    }));
  }
  if (body.temperature > 2) return error400(INVALID_VALUE);
  return undefined;
}

const RULES = [
  { status: 400, code: "context_length_exceeded" },
  { code: "content_filter" },
];

function ruledRegions(): Promise<LoopbackRegions> {
  return serveRegions(
    ["small", "azure", "large"].map((name) => ({
      name,
      models: ["gpt-4.1"],
    })),
    { reply: limited },
  );
}

test("providers cost: failoverOn — a real 400 context_length_exceeded fails over to a longer context, a content filter by its code, neither counting against the endpoint", async () => {
  await using regions = await ruledRegions();
  const { api, openai, events } = setup(regions, {
    small: {},
    azure: {},
    large: {},
  }, { failoverOn: RULES });
  using _ = api;
  const ask = async (content: string) =>
    (await openai.chat.completions.create({
      model: "gpt-4.1",
      messages: [{ role: "user", content }],
    })).choices[0].message.content;

  assert.equal(await ask("short"), "hello from small");
  const long = "a prompt far too long for the small model's context window, " +
    "by a few words";
  assert.ok(long.length > SMALL_CONTEXT);
  assert.equal(await ask(long), "hello from azure");
  assert.equal(await ask(`${long}, forbidden`), "hello from large");
  assert.deepEqual(attempts(events), [
    ["small", 200, "gpt-4.1", undefined],
    ["small", 400, "gpt-4.1", "context_length_exceeded"],
    ["azure", 200, "gpt-4.1", undefined],
    ["small", 400, "gpt-4.1", "context_length_exceeded"],
    ["azure", 400, "gpt-4.1", "content_filter"],
    ["large", 200, "gpt-4.1", undefined],
  ]);
  assert.deepEqual(regions.counts(), { small: 3, azure: 2, large: 1 });
  // The endpoints are not sick: they only could not serve those prompts.
  for (const status of api.status()) {
    assert.equal(status.state, "healthy", status.name);
    assert.equal(status.consecutiveFailures, 0, status.name);
  }
  assert.equal(events.filter((e) => e.type === "failure").length, 0);
  // Only the answers are counted, at the regions' default 5 + 3 tokens.
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(api.usage().byEndpoint).map(([name, u]) => [
        name,
        u.calls,
      ]),
    ),
    { small: 1, azure: 1, large: 1 },
  );
});

test("providers cost: failoverOn — a final 400 no rule matches comes back whole through api.fetch, and as the SDK's BadRequestError", async () => {
  await using regions = await ruledRegions();
  const { api, openai, events } = setup(regions, {
    small: {},
    large: {},
  }, { failoverOn: RULES });
  using _ = api;
  // Too long for small (a rule: fails over), too hot for large (no rule).
  const body = JSON.stringify({
    model: "gpt-4.1",
    temperature: 5,
    messages: [{ role: "user", content: "x".repeat(SMALL_CONTEXT + 1) }],
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(await response.text(), INVALID_VALUE);
  assert.deepEqual(attempts(events), [
    ["small", 400, "gpt-4.1", "context_length_exceeded"],
    ["large", 400, "gpt-4.1", undefined],
  ]);

  const error = await openai.chat.completions.create({
    model: "gpt-4.1",
    temperature: 5,
    messages: [{ role: "user", content: "x".repeat(SMALL_CONTEXT + 1) }],
  }).then(() => assert.fail("expected a rejection"), (e: unknown) => e);
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  assert.equal(error.code, "invalid_value");
  assert.equal(error.param, "temperature");
  assert.deepEqual(error.error, JSON.parse(INVALID_VALUE).error);
  assert.deepEqual(regions.counts(), { small: 2, azure: 0, large: 2 });

  // A 400 no rule matches from the first endpoint: no failover at all.
  const first = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", temperature: 5, messages }),
  });
  assert.equal(first.status, 400);
  assert.equal(await first.text(), INVALID_VALUE);
  assert.deepEqual(regions.counts(), { small: 3, azure: 0, large: 2 });
  assert.equal(api.usage().total.calls, 0);
});
