// A pool across providers over real loopback HTTP: each region serves only
// its own models (`ky-failover/testing`'s `models`), each endpoint says
// which it serves (`models` in its options, read by the preset's
// `models()`). Through the OpenAI SDK, `api.fetch` and `api.ky`: failover
// to another provider with the body's model rewritten for it (plain and
// streamed, chat, Responses API and embeddings), a model nobody serves,
// and "model not found" learned from a region's real 404 — checking what
// each server received: its own model, its own key, the rest of the body
// as sent. Deno, Node and Bun (node:http servers).

import OpenAI from "openai";
import { assert, test } from "./_harness.ts";
import { type LoopbackRegions, serveRegions } from "./_loopback_regions.ts";
import {
  createFailover,
  type Failover,
  type FailoverEvent,
  type FailoverOptions,
  isFailoverError,
} from "ky-failover";

const SDK_KEY = "sk-sdk-must-not-leave";
const messages = [{ role: "user" as const, content: "hi" }];

/** Three providers, each serving only its own models. */
function providers(): Promise<LoopbackRegions> {
  return serveRegions([
    { name: "openai", models: ["gpt-4.1", "o3", "text-embedding-3-small"] },
    {
      name: "deepseek",
      models: ["deepseek-chat", "deepseek-reasoner"],
      usage: { prompt_tokens: 40, completion_tokens: 9, cached_tokens: 32 },
    },
    { name: "mistral", models: ["mistral-large", "mistral-embed"] },
  ]);
}

/** What each endpoint says it serves (the asked name → its own). */
const SERVES: Record<string, Record<string, string> | string[]> = {
  openai: ["gpt-4.1", "o3", "text-embedding-3-small"],
  deepseek: { "gpt-4.1": "deepseek-chat", o3: "deepseek-reasoner" },
  mistral: {
    "gpt-4.1": "mistral-large",
    "text-embedding-3-small": "mistral-embed",
  },
};

function setup(
  regions: LoopbackRegions,
  serves: Record<string, Record<string, string> | string[] | undefined> =
    SERVES,
  extra: Partial<FailoverOptions> = {},
): { api: Failover; openai: OpenAI; events: FailoverEvent[] } {
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
      ...(serves[r.name] === undefined ? {} : { models: serves[r.name] }),
    })),
    timeout: 10_000,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const openai = new OpenAI({
    baseURL: regions.regions[0].url,
    apiKey: SDK_KEY,
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

/** Every region got only its own key, never the SDK's. */
function assertOwnKeys(regions: LoopbackRegions): void {
  for (const region of regions.regions) {
    for (const request of region.received) {
      assert.equal(request.authorization, `Bearer sk-${region.name}`);
    }
  }
}

test("providers: the OpenAI SDK fails over from a 503 to another provider, which is sent its own model", async () => {
  await using regions = await providers();
  regions.region("openai").mode = { status: 503 };
  const { api, openai, events } = setup(regions);
  using _ = api;
  const completion = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
    temperature: 0.2,
  });
  assert.equal(completion.model, "deepseek-chat");
  assert.equal(completion.choices[0].message.content, "hello from deepseek");
  assert.deepEqual(completion.usage, {
    prompt_tokens: 40,
    completion_tokens: 9,
    total_tokens: 49,
    prompt_tokens_details: { cached_tokens: 32 },
  });
  assert.deepEqual(modelsReceived(regions), {
    openai: ["gpt-4.1"],
    deepseek: ["deepseek-chat"],
    mistral: [],
  });
  // The SDK's body, byte for byte, but for the model.
  const sent = regions.region("openai").received[0].body;
  assert.equal(
    regions.region("deepseek").received[0].body,
    sent.replace('"model":"gpt-4.1"', '"model":"deepseek-chat"'),
  );
  assert.notEqual(sent, regions.region("deepseek").received[0].body);
  assertOwnKeys(regions);
  assert.deepEqual(
    events.flatMap((e) => e.type === "attempt" ? [[e.endpoint, e.model]] : []),
    [["openai", "gpt-4.1"], ["deepseek", "deepseek-chat"]],
  );
});

test("providers: a streamed SDK call fails over from a refused connection and streams the other provider's model", async () => {
  await using regions = await providers();
  regions.region("openai").mode = "refused";
  regions.region("deepseek").mode = { status: 500 };
  const { api, openai } = setup(regions);
  using _ = api;
  const stream = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  const models = new Set<string>();
  let usage: unknown;
  for await (const chunk of stream) {
    models.add(chunk.model);
    text += chunk.choices[0]?.delta.content ?? "";
    usage ??= chunk.usage ?? undefined;
  }
  assert.equal(text, "hello from mistral");
  assert.deepEqual([...models], ["mistral-large"]);
  assert.deepEqual(usage, {
    prompt_tokens: 5,
    completion_tokens: 3,
    total_tokens: 8,
  });
  assert.deepEqual(modelsReceived(regions), {
    openai: ["gpt-4.1"],
    deepseek: ["deepseek-chat"],
    mistral: ["mistral-large"],
  });
  const body = JSON.parse(regions.region("mistral").received[0].body);
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  assertOwnKeys(regions);
});

test("providers: the SDK's Responses API, plain and streamed, fails over with the model rewritten", async () => {
  await using regions = await providers();
  regions.region("openai").mode = { status: 502 };
  const { api, openai } = setup(regions);
  using _ = api;
  const response = await openai.responses.create({
    model: "o3",
    input: "hi",
  });
  assert.equal(response.model, "deepseek-reasoner");
  assert.equal(response.output_text, "hello from deepseek");
  assert.equal(response.usage?.input_tokens, 40);
  assert.equal(response.usage?.output_tokens, 9);
  assert.equal(response.usage?.input_tokens_details.cached_tokens, 32);

  const stream = await openai.responses.create({
    model: "o3",
    input: "hi",
    stream: true,
  });
  let text = "";
  let completed: OpenAI.Responses.Response | undefined;
  const types: string[] = [];
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  assert.equal(text, "hello from deepseek");
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  assert.equal(completed?.model, "deepseek-reasoner");
  assert.equal(completed?.usage?.total_tokens, 49);
  assert.deepEqual(modelsReceived(regions), {
    openai: ["o3", "o3"],
    deepseek: ["deepseek-reasoner", "deepseek-reasoner"],
    mistral: [],
  });
  assertOwnKeys(regions);
});

test("providers: SDK embeddings (base64 on the wire) fail over to another provider's embedding model", async () => {
  await using regions = await providers();
  regions.region("openai").mode = { status: 503 };
  const { api, openai } = setup(regions);
  using _ = api;
  const embeddings = await openai.embeddings.create({
    model: "text-embedding-3-small",
    input: ["one", "two"],
  });
  assert.equal(embeddings.model, "mistral-embed");
  assert.equal(embeddings.data.length, 2);
  for (const item of embeddings.data) {
    assert.equal(item.embedding.length, 8);
    assert.ok(item.embedding.every((n) => typeof n === "number"));
  }
  assert.deepEqual(embeddings.usage, { prompt_tokens: 5, total_tokens: 5 });
  // deepseek serves no embedding model: never asked.
  assert.deepEqual(modelsReceived(regions), {
    openai: ["text-embedding-3-small"],
    deepseek: [],
    mistral: ["mistral-embed"],
  });
  const body = JSON.parse(regions.region("mistral").received[0].body);
  assert.equal(body.encoding_format, "base64");
  assertOwnKeys(regions);
});

test("providers: an SDK call for a model nobody serves fails without a request", async () => {
  await using regions = await providers();
  const { api, openai } = setup(regions);
  using _ = api;
  const error = await openai.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages,
  }).then(() => assert.fail("expected a rejection"), (e) => e);
  assert.ok(error instanceof OpenAI.APIConnectionError, String(error));
  const cause = (error as { cause?: unknown }).cause;
  assert.ok(isFailoverError(cause), String(cause));
  assert.match(cause.message, /no endpoint serves model "claude-sonnet-4\.5"/);
  assert.deepEqual(regions.counts(), { openai: 0, deepseek: 0, mistral: 0 });
});

test("providers: a real 404 model_not_found is learned — that provider gets no more calls for that model, and keeps the others", async () => {
  await using regions = await providers();
  // The openai endpoint is configured for any model; its server has no
  // "o1-pro".
  const { api, openai, events } = setup(regions, {
    openai: undefined,
    deepseek: { "gpt-4.1": "deepseek-chat", "o1-pro": "deepseek-reasoner" },
    mistral: ["mistral-large"],
  });
  using _ = api;
  for (let i = 0; i < 3; i++) {
    const completion = await openai.chat.completions.create({
      model: "o1-pro",
      messages,
    });
    assert.equal(completion.model, "deepseek-reasoner");
  }
  const gpt = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  });
  assert.equal(gpt.choices[0].message.content, "hello from openai");
  assert.deepEqual(modelsReceived(regions), {
    openai: ["o1-pro", "gpt-4.1"],
    deepseek: ["deepseek-reasoner", "deepseek-reasoner", "deepseek-reasoner"],
    mistral: [],
  });
  assert.deepEqual(
    events.filter((e) => e.type === "model-not-found"),
    [{
      type: "model-not-found",
      endpoint: "openai",
      model: "o1-pro",
      sent: "o1-pro",
    }],
  );
  const status = api.status()[0];
  assert.equal(status.state, "healthy");
  assert.equal(status.failures, 0);
  assert.deepEqual(status.models, { serves: undefined, notFound: ["o1-pro"] });
  assert.equal(status.lastModel, "gpt-4.1");
  assertOwnKeys(regions);
});

test("providers: api.fetch sends the caller's bytes, model aside, over the network", async () => {
  await using regions = await providers();
  regions.region("openai").mode = { status: 500 };
  const { api } = setup(regions);
  using _ = api;
  const raw = '{"model" :"gpt-4.1", "temperature": 1.0,\n' +
    '"seed": 12345678901234567890, "messages": [{"role": "user", ' +
    '"content": "\\"model\\": \\"gpt-4.1\\" ✓"}]}';
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
  });
  assert.equal((await response.json()).model, "deepseek-chat");
  assert.equal(regions.region("openai").received[0].body, raw);
  assert.equal(
    regions.region("deepseek").received[0].body,
    raw.replace('"gpt-4.1",', '"deepseek-chat",'),
  );
  assert.equal(
    regions.region("deepseek").received[0].headers.get("content-length"),
    String(
      new TextEncoder().encode(
        raw.replace('"gpt-4.1",', '"deepseek-chat",'),
      ).length,
    ),
  );
  assertOwnKeys(regions);
});

test("providers: api.ky fails over with the model rewritten, plain and streamed; the caller's json stays as it was", async () => {
  await using regions = await providers();
  regions.region("openai").mode = { status: 503 };
  const { api } = setup(regions);
  using _ = api;
  const json = { model: "gpt-4.1", messages };
  const reply = await api.ky.post("chat/completions", { json }).json<
    { model: string; choices: { message: { content: string } }[] }
  >();
  assert.equal(reply.model, "deepseek-chat");
  assert.equal(reply.choices[0].message.content, "hello from deepseek");
  assert.equal(json.model, "gpt-4.1");

  const response = await api.ky.post("chat/completions", {
    json: { ...json, stream: true },
  });
  const text = await response.text();
  const chunks = text.split("\n\n").filter((f) => f.startsWith("data: {"))
    .map((f) => JSON.parse(f.slice(6)));
  assert.ok(chunks.every((c) => c.model === "deepseek-chat"));
  assert.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    "hello from deepseek",
  );
  assert.deepEqual(modelsReceived(regions), {
    openai: ["gpt-4.1", "gpt-4.1"],
    deepseek: ["deepseek-chat", "deepseek-chat"],
    mistral: [],
  });
  assertOwnKeys(regions);
});

test("providers: through ky, a real 404 model_not_found from a provider is learned over the network", async () => {
  await using regions = await serveRegions([
    { name: "azure", models: ["my-gpt41"] },
    { name: "openai", models: ["gpt-4.1"] },
  ]);
  // The Azure endpoint maps gpt-4.1 to a deployment its server lacks.
  const { api, events } = setup(regions, {
    azure: { "gpt-4.1": "my-gpt41-old" },
    openai: ["gpt-4.1"],
  });
  using _ = api;
  for (let i = 0; i < 2; i++) {
    const reply = await api.ky.post("chat/completions", {
      json: { model: "gpt-4.1", messages },
    }).json<{ model: string }>();
    assert.equal(reply.model, "gpt-4.1");
  }
  assert.deepEqual(modelsReceived(regions), {
    azure: ["my-gpt41-old"],
    openai: ["gpt-4.1", "gpt-4.1"],
  });
  const attempt = events.find((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.status, 404);
  assert.equal(attempt.code, "model_not_found");
  assert.equal(attempt.model, "my-gpt41-old");
  assert.deepEqual(api.status()[0].models, {
    serves: { "gpt-4.1": "my-gpt41-old" },
    notFound: ["my-gpt41-old"],
  });
  // Nothing left to serve gpt-4.1 but openai: take it down, and the call
  // fails without asking azure again.
  regions.region("openai").mode = { status: 503 };
  const error = await api.ky.post("chat/completions", {
    json: { model: "gpt-4.1", messages },
  }).then(() => assert.fail("expected a rejection"), (e) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.equal(regions.region("azure").received.length, 1);
  assertOwnKeys(regions);
});
