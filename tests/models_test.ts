// The `models()` feature (`ky-failover/models`, on in `createFailover`)
// across mocked providers, each serving only its own models: routing by
// the body's `model`, the per-endpoint rewrite (byte for byte otherwise),
// calls without a model, a model nobody serves, learning "model not
// found" from each vendor's error body, status() and attempt records, and
// option validation — plus the providers of `ky-failover/testing` the
// tests stand on (their models, usage, embeddings and Responses API).
//
// Runs unchanged on Deno, Node, Bun and in Chromium: regions are served by
// `mockRegions(...).fetch`, handed to the pool as its `fetch`.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isFailoverError,
} from "ky-failover";
import { createPool, type Pool, type PoolOptions } from "ky-failover/core";
import { models } from "ky-failover/models";
import {
  mockRegion,
  type MockRegionOptions,
  type MockRegions,
  mockRegions,
} from "ky-failover/testing";

type Models = readonly string[] | Readonly<Record<string, string>>;

const messages = [{ role: "user", content: "hi" }];
const utf8 = new TextEncoder();

/**
 * A pool (`createPool` + `models()`) over `regions`, in tiers by order —
 * or, `flat`, all in one tier, round-robin.
 */
function poolOver(
  regions: MockRegions,
  served: Record<string, Models | undefined>,
  extra: Partial<PoolOptions> & { flat?: boolean } = {},
): { pool: Pool; events: FailoverEvent[] } {
  const events: FailoverEvent[] = [];
  const { flat = false, ...options } = extra;
  const pool = createPool({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: flat ? 1 : i + 1,
      ...(served[r.name] === undefined ? {} : { models: served[r.name] }),
    })),
    features: [models()],
    fetch: regions.fetch,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { pool, events };
}

/** The same, through the preset (`createFailover`), which adds `models()`. */
function failoverOver(
  regions: MockRegions,
  served: Record<string, Models | undefined>,
  extra: Partial<FailoverOptions> = {},
) {
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
      ...(served[r.name] === undefined ? {} : { models: served[r.name] }),
    })),
    fetch: regions.fetch,
    onEvent: (e) => events.push(e),
    retryBudget: false,
    ...extra,
  });
  return { api, events };
}

function post(body: BodyInit): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  };
}

function chat(model: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages, ...extra });
}

/** The `model` of each body `name` received, in order. */
function modelsSent(regions: MockRegions, name: string): unknown[] {
  return regions.region(name).received.map((r) =>
    r.body === "" ? undefined : JSON.parse(r.body).model
  );
}

function attempts(events: FailoverEvent[]) {
  return events.flatMap((e) =>
    e.type === "attempt"
      ? [{
        endpoint: e.endpoint,
        status: e.status,
        model: e.model,
        code: e.code,
      }]
      : []
  );
}

function notFoundEvents(events: FailoverEvent[]) {
  return events.filter((e) => e.type === "model-not-found");
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => assert.fail("expected a rejection"),
    (error) => error,
  );
}

async function content(response: Response): Promise<string> {
  assert.equal(response.status, 200);
  return (await response.json()).choices[0].message.content;
}

// ------------------------------------------------------ cross-provider rewrite

/**
 * A body JSON.parse would not give back as it is: spacing, a number it
 * would round, `1.0`, an escaped `"model"` inside a string and a nested
 * `model` member that is not the call's.
 */
const RAW = '{ "model" : "gpt-4.1",\n  "temperature": 1.0, ' +
  '"seed": 12345678901234567890,\n\t"messages":[{"role":"user",' +
  '"content":"say \\"model\\": \\"gpt-4.1\\" — é"}],  ' +
  '"metadata": {"model": "keep-me"}, "top_p":1e0 }';
const RAW_FOR_DEEPSEEK =
  '{ "model" : "deepseek-chat",\n  "temperature": 1.0, ' +
  '"seed": 12345678901234567890,\n\t"messages":[{"role":"user",' +
  '"content":"say \\"model\\": \\"gpt-4.1\\" — é"}],  ' +
  '"metadata": {"model": "keep-me"}, "top_p":1e0 }';

test("models: a 503 primary fails over to another provider, whose body names its model and is otherwise the caller's, byte for byte", async () => {
  const regions = mockRegions([
    { name: "openai", models: ["gpt-4.1"], mode: { status: 503 } },
    { name: "deepseek", models: ["deepseek-chat"] },
  ]);
  const { pool, events } = poolOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  });
  using _ = pool;
  assert.equal(JSON.parse(RAW).model, "gpt-4.1");

  // A string body.
  const response = await pool.fetch("chat/completions", post(RAW));
  const answer = await response.json();
  assert.equal(answer.model, "deepseek-chat");
  assert.equal(answer.choices[0].message.content, "hello from deepseek");
  assert.equal(regions.region("openai").received[0].body, RAW);
  assert.equal(regions.region("deepseek").received[0].body, RAW_FOR_DEEPSEEK);
  assert.equal(
    regions.region("deepseek").received[0].authorization,
    "Bearer sk-deepseek",
  );
  assert.deepEqual(attempts(events), [
    { endpoint: "openai", status: 503, model: "gpt-4.1", code: undefined },
    {
      endpoint: "deepseek",
      status: 200,
      model: "deepseek-chat",
      code: undefined,
    },
  ]);
  const success = events.find((e) => e.type === "success");
  assert.ok(success?.type === "success");
  assert.equal(success.model, "deepseek-chat");

  // Bytes (a view into a larger buffer): sent as text, the caller's bytes
  // untouched.
  const buffer = utf8.encode(`xx${RAW}yy`);
  const view = buffer.subarray(2, buffer.length - 2);
  const before = buffer.slice();
  assert.equal((await pool.fetch("chat/completions", post(view))).status, 200);
  assert.deepEqual(buffer, before);
  assert.equal(regions.region("openai").received[1].body, RAW);
  assert.equal(regions.region("deepseek").received[1].body, RAW_FOR_DEEPSEEK);

  // A Request, by its absolute URL.
  const request = new Request(
    `${regions.region("openai").url}/chat/completions`,
    post(RAW),
  );
  assert.equal((await pool.fetch(request)).status, 200);
  assert.equal(regions.region("deepseek").received[2].body, RAW_FOR_DEEPSEEK);
});

test("models: the rewrite replaces the member JSON.parse keeps (the last), escaped names included", async () => {
  const regions = mockRegions([
    { name: "openai", mode: { status: 500 } },
    { name: "deepseek" },
  ]);
  const { pool } = poolOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  }, { breaker: { failureThreshold: 100 } });
  using _ = pool;
  const bodies = [
    [
      '{"model":"o3","messages":[],"model":"gpt-4.1"}',
      '{"model":"o3","messages":[],"model":"deepseek-chat"}',
    ],
    [
      '{"messages":[],"model":"gpt\\u002d4.1"}',
      '{"messages":[],"model":"deepseek-chat"}',
    ],
    ['\n {"model":"gpt-4.1"} \n', '\n {"model":"deepseek-chat"} \n'],
    [
      '{"\\u006dodel":"gpt-4.1","n":2}',
      '{"\\u006dodel":"deepseek-chat","n":2}',
    ],
    [
      '{"messages":[{"content":"}]{\\"model\\":[\\\\"}],"model":"gpt-4.1"}',
      '{"messages":[{"content":"}]{\\"model\\":[\\\\"}],"model":"deepseek-chat"}',
    ],
  ];
  for (const [sent, expected] of bodies) {
    assert.equal(JSON.parse(sent).model, "gpt-4.1");
    const response = await pool.fetch("chat/completions", post(sent));
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal(regions.region("deepseek").received.at(-1)!.body, expected);
    assert.equal(regions.region("openai").received.at(-1)!.body, sent);
  }
});

test("models: the rewrite finds the model after members of every kind — objects, arrays, numbers, literals", async () => {
  const regions = mockRegions([
    { name: "openai", mode: { status: 500 } },
    { name: "deepseek" },
  ]);
  const { pool } = poolOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  }, { breaker: { failureThreshold: 100 } });
  using _ = pool;
  const before = [
    '"stream_options":{"include_usage":true}',
    '"messages":[{"role":"user","content":"hi"}]',
    '"temperature":0.5',
    '"stream":false',
    '"user":null',
    '"n":1,"metadata":{"a":[1,{"b":"]"}]},"seed":-2e3',
  ];
  for (const member of before) {
    const sent = `{${member},"model":"gpt-4.1","max_tokens":9}`;
    const response = await pool.fetch("chat/completions", post(sent));
    assert.equal(response.status, 200, member);
    await response.body?.cancel();
    assert.equal(
      regions.region("deepseek").received.at(-1)!.body,
      `{${member},"model":"deepseek-chat","max_tokens":9}`,
    );
  }
});

test("models: ky's json body is rewritten per endpoint; the caller's object stays as it was", async () => {
  const regions = mockRegions([
    { name: "openai", mode: "refused" },
    { name: "deepseek" },
  ]);
  const { api } = failoverOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  });
  using _ = api;
  const json = { model: "gpt-4.1", messages, temperature: 0.5 };
  const frozen = structuredClone(json);
  const reply = await api.ky.post("chat/completions", { json }).json<
    { model: string; choices: { message: { content: string } }[] }
  >();
  assert.equal(reply.model, "deepseek-chat");
  assert.equal(reply.choices[0].message.content, "hello from deepseek");
  assert.deepEqual(json, frozen);
  assert.deepEqual(modelsSent(regions, "openai"), ["gpt-4.1"]);
  assert.deepEqual(JSON.parse(regions.region("deepseek").received[0].body), {
    ...frozen,
    model: "deepseek-chat",
  });
});

test("models: replays past the last endpoint (maxAttempts > endpoints) are rewritten for each endpoint again", async () => {
  const regions = mockRegions([
    { name: "openai", mode: { status: 503 } },
    { name: "deepseek", mode: { status: 502 } },
  ]);
  const { pool, events } = poolOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  }, { maxAttempts: 4 });
  using _ = pool;
  const response = await pool.fetch("chat/completions", post(RAW));
  assert.equal(response.status, 502);
  await response.body?.cancel();
  assert.deepEqual(attempts(events).map((a) => [a.endpoint, a.model]), [
    ["openai", "gpt-4.1"],
    ["deepseek", "deepseek-chat"],
    ["openai", "gpt-4.1"],
    ["deepseek", "deepseek-chat"],
  ]);
  assert.deepEqual(
    regions.region("openai").received.map((r) => r.body),
    [RAW, RAW],
  );
  assert.deepEqual(
    regions.region("deepseek").received.map((r) => r.body),
    [RAW_FOR_DEEPSEEK, RAW_FOR_DEEPSEEK],
  );
});

test("models: a hedge to another provider is sent that provider's model", async () => {
  const clock = new ManualClock();
  const regions = mockRegions([
    { name: "openai", mode: { slow: 10_000 }, clock },
    { name: "deepseek" },
  ]);
  const { api, events } = failoverOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  }, { clock, hedge: { delay: 100, methods: ["POST"] }, timeout: 60_000 });
  using _ = api;
  const call = api.fetch("chat/completions", post(RAW));
  await bounded(
    "the first attempt",
    5_000,
    () => regions.region("openai").waitForRequests(1),
  );
  await bounded("the hedge timer", 5_000, () => clock.scheduled(100));
  clock.advance(100);
  const response = await bounded("the hedged answer", 5_000, () => call);
  assert.equal(await content(response), "hello from deepseek");
  assert.deepEqual(
    events.filter((e) => e.type === "hedge").map((e) =>
      e.type === "hedge" && e.endpoint
    ),
    ["deepseek"],
  );
  assert.equal(regions.region("openai").received[0].body, RAW);
  assert.equal(regions.region("deepseek").received[0].body, RAW_FOR_DEEPSEEK);
});

test("models: a streamed call fails over and streams the other provider's model", async () => {
  const regions = mockRegions([
    { name: "openai", mode: { status: 503 } },
    {
      name: "deepseek",
      models: ["deepseek-chat"],
      usage: { prompt_tokens: 11, completion_tokens: 7, cached_tokens: 4 },
    },
  ]);
  const { pool } = poolOver(regions, {
    openai: ["gpt-4.1"],
    deepseek: { "gpt-4.1": "deepseek-chat" },
  });
  using _ = pool;
  const body = chat("gpt-4.1", {
    stream: true,
    stream_options: { include_usage: true },
  });
  const response = await pool.fetch("chat/completions", post(body));
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const frames = (await response.text()).split("\n\n").filter(Boolean);
  assert.equal(frames.at(-1), "data: [DONE]");
  const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)));
  assert.ok(chunks.every((c) => c.model === "deepseek-chat"));
  assert.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    "hello from deepseek",
  );
  assert.deepEqual(chunks.at(-1).usage, {
    prompt_tokens: 11,
    completion_tokens: 7,
    total_tokens: 18,
    prompt_tokens_details: { cached_tokens: 4 },
  });
  assert.equal(
    regions.region("deepseek").received[0].body,
    body.replace('"gpt-4.1"', '"deepseek-chat"'),
  );
  assert.equal(regions.region("openai").received[0].body, body);
  assert.equal(pool.status()[1].lastModel, "deepseek-chat");
});

// ------------------------------------------------------------- which endpoint

test("models: a list sends the name as asked, a map renames; a model goes only to endpoints that serve it", async () => {
  const regions = mockRegions(["a", "b", "c"]);
  const { pool } = poolOver(regions, {
    a: ["gpt-4.1", "o3"],
    b: { "gpt-4.1": "gpt-4.1-2025-04-14", "o3": "o3" },
    c: ["gpt-4.1-mini"],
  }, { flat: true });
  using _ = pool;
  for (let i = 0; i < 4; i++) {
    const r = await pool.fetch("chat/completions", post(chat("gpt-4.1")));
    await r.body?.cancel();
  }
  assert.deepEqual(modelsSent(regions, "a"), ["gpt-4.1", "gpt-4.1"]);
  assert.deepEqual(modelsSent(regions, "b"), [
    "gpt-4.1-2025-04-14",
    "gpt-4.1-2025-04-14",
  ]);
  assert.deepEqual(modelsSent(regions, "c"), []);

  for (const r of regions.regions) r.reset();
  const o3 = '{"model":"o3" , "n":1.0}';
  for (let i = 0; i < 2; i++) {
    const r = await pool.fetch("chat/completions", post(o3));
    await r.body?.cancel();
  }
  // An identity entry of a map leaves the body as it is.
  assert.deepEqual(regions.region("a").received.map((r) => r.body), [o3]);
  assert.deepEqual(regions.region("b").received.map((r) => r.body), [o3]);

  for (const r of regions.regions) r.reset();
  for (let i = 0; i < 3; i++) {
    const r = await pool.fetch("chat/completions", post(chat("gpt-4.1-mini")));
    await r.body?.cancel();
  }
  assert.deepEqual(regions.counts(), { a: 0, b: 0, c: 3 });
});

test("models: an endpoint without models takes any model, under its own name", async () => {
  const regions = mockRegions(["any", "listed"]);
  const { pool } = poolOver(regions, { listed: ["gpt-4.1"] }, { flat: true });
  using _ = pool;
  for (const model of ["some-new-model", "some-new-model", "some-new-model"]) {
    const r = await pool.fetch("chat/completions", post(chat(model)));
    assert.equal((await r.json()).model, model);
  }
  assert.deepEqual(regions.counts(), { any: 3, listed: 0 });
  for (let i = 0; i < 2; i++) {
    const r = await pool.fetch("chat/completions", post(chat("gpt-4.1")));
    await r.body?.cancel();
  }
  assert.deepEqual(regions.counts(), { any: 4, listed: 1 });
  assert.deepEqual(pool.status()[0].models, {
    serves: undefined,
    notFound: [],
  });
  assert.deepEqual(pool.status()[1].models, {
    serves: { "gpt-4.1": "gpt-4.1" },
    notFound: [],
  });
});

test("models: calls that name no model (GET, text, FormData, JSON without a string model) go anywhere, untouched", async () => {
  const regions = mockRegions(["a", "b"]);
  const { pool, events } = poolOver(regions, {
    a: ["only-this"],
    b: { "gpt-4.1": "renamed" },
  });
  using _ = pool;
  const models = await pool.fetch("models");
  assert.equal(models.status, 200);
  await models.body?.cancel();

  const form = new FormData();
  form.set("model", "gpt-4.1");
  form.set("purpose", "fine-tune");
  const bodies: BodyInit[] = [
    "model=gpt-4.1&messages=hi",
    '{"model": 5, "input": "x"}',
    '[{"model": "gpt-4.1"}]',
    '{"input": "no model here"}',
    '{"model": "gpt-4.1", broken',
    form,
  ];
  for (const body of bodies) {
    const r = await pool.fetch("embeddings", { method: "POST", body });
    assert.equal(r.status, 200);
    await r.body?.cancel();
  }
  // Every call went to the first tier, which serves none of gpt-4.1: the
  // model lists are not consulted without a model to route by.
  assert.deepEqual(regions.counts(), { a: 7, b: 0 });
  const received = regions.region("a").received;
  assert.deepEqual(
    received.slice(1, 6).map((r) => r.body),
    bodies.slice(0, 5),
  );
  const multipart = received[6].body;
  assert.match(multipart, /name="model"\r\n\r\ngpt-4\.1\r\n/);
  assert.ok(!multipart.includes("renamed"));
  assert.ok(attempts(events).every((a) => a.model === undefined));
  assert.equal(pool.status()[0].lastModel, undefined);
});

test("models: a call for a model nobody serves fails at once, naming the model and each endpoint's models, without a request", async () => {
  const regions = mockRegions(["a", "b", "c"]);
  const { pool, events } = poolOver(regions, {
    a: ["gpt-4.1", "o3"],
    b: { "gpt-4.1": "deepseek-chat" },
    c: ["gemini-2.5-flash"],
  });
  using _ = pool;
  const error = await rejection(
    pool.fetch("chat/completions", post(chat("claude-sonnet-4.5"))),
  );
  assert.ok(isFailoverError(error), String(error));
  assert.match(error.message, /no endpoint serves model "claude-sonnet-4\.5"/);
  assert.ok(error.message.includes("a: gpt-4.1, o3"), error.message);
  assert.ok(
    error.message.includes("b: gpt-4.1 → deepseek-chat"),
    error.message,
  );
  assert.ok(error.message.includes("c: gemini-2.5-flash"), error.message);
  assert.deepEqual(error.attempts, []);
  assert.deepEqual(regions.counts(), { a: 0, b: 0, c: 0 });
  assert.equal(attempts(events).length, 0);
  assert.ok(pool.status().every((s) => s.requests === 0));
});

test("models: through ky, a model nobody serves throws the FailoverError without a request", async () => {
  const regions = mockRegions(["a"]);
  const { api } = failoverOver(regions, { a: ["gpt-4.1"] });
  using _ = api;
  const error = await rejection(
    api.ky.post("chat/completions", { json: { model: "o3", messages } }),
  );
  assert.ok(isFailoverError(error), String(error));
  assert.match(error.message, /no endpoint serves model "o3" \(a: gpt-4\.1\)/);
  assert.deepEqual(regions.counts(), { a: 0 });
});

test("models: an endpoint that does not serve the model is not tried even as a last resort", async () => {
  const regions = mockRegions([
    { name: "serves", mode: { status: 503 } },
    { name: "other" },
  ]);
  const { pool } = poolOver(regions, {
    serves: ["gpt-4.1"],
    other: ["o3"],
  }, { breaker: { failureThreshold: 1 } });
  using _ = pool;
  for (let i = 0; i < 2; i++) {
    const r = await pool.fetch("chat/completions", post(chat("gpt-4.1")));
    assert.equal(r.status, 503);
    await r.body?.cancel();
  }
  // The second call found "serves" open, and tried it anyway (panic):
  // "other" is healthy but does not serve gpt-4.1.
  assert.deepEqual(regions.counts(), { serves: 2, other: 0 });
  assert.equal(pool.status()[0].state, "open");
});

// ---------------------------------------------------------- model not found

test("models: a 404 model_not_found fails over and is learned — that model only, the endpoint stays healthy, one event", async () => {
  const regions = mockRegions([
    { name: "primary", models: ["gpt-4.1"] },
    { name: "backup" },
  ]);
  // The primary says nothing of its models (any model); the backup
  // lists its own.
  const { pool, events } = poolOver(regions, { backup: ["gpt-4.1", "o3"] });
  using _ = pool;

  assert.equal(
    await content(
      await pool.fetch("chat/completions", post(chat("o3"))),
    ),
    "hello from backup",
  );
  assert.deepEqual(attempts(events), [
    {
      endpoint: "primary",
      status: 404,
      model: "o3",
      code: "model_not_found",
    },
    { endpoint: "backup", status: 200, model: "o3", code: undefined },
  ]);
  const failover = events.find((e) => e.type === "failover");
  assert.ok(failover?.type === "failover");
  assert.equal(failover.reason, "HTTP 404 model_not_found");
  assert.deepEqual(notFoundEvents(events), [
    { type: "model-not-found", endpoint: "primary", model: "o3", sent: "o3" },
  ]);

  // Learned: o3 never reaches the primary again …
  for (let i = 0; i < 3; i++) {
    assert.equal(
      await content(await pool.fetch("chat/completions", post(chat("o3")))),
      "hello from backup",
    );
  }
  assert.deepEqual(regions.counts(), { primary: 1, backup: 4 });
  // … while its other models keep their traffic.
  assert.equal(
    await content(
      await pool.fetch("chat/completions", post(chat("gpt-4.1"))),
    ),
    "hello from primary",
  );
  assert.deepEqual(regions.counts(), { primary: 2, backup: 4 });

  const [primary, backup] = pool.status();
  assert.equal(primary.state, "healthy");
  assert.equal(primary.failures, 0);
  assert.equal(primary.consecutiveFailures, 0);
  assert.equal(primary.lastError, undefined);
  assert.deepEqual(primary.models, { serves: undefined, notFound: ["o3"] });
  assert.equal(primary.lastModel, "gpt-4.1");
  assert.deepEqual(backup.models, {
    serves: { "gpt-4.1": "gpt-4.1", o3: "o3" },
    notFound: [],
  });
  assert.equal(notFoundEvents(events).length, 1);
});

test("models: two calls in flight that both learn a missing model emit one event", async () => {
  const clock = new ManualClock();
  const regions = mockRegions([
    { name: "primary", models: ["gpt-4.1"], mode: { slow: 1_000 }, clock },
    { name: "backup" },
  ]);
  const { pool, events } = poolOver(regions, {}, { clock, timeout: 60_000 });
  using _ = pool;
  const calls = [1, 2].map(() =>
    pool.fetch("chat/completions", post(chat("o3")))
  );
  await bounded(
    "both calls at the primary",
    5_000,
    () => regions.region("primary").waitForRequests(2),
  );
  await bounded("both slow answers", 5_000, () => clock.scheduled(1_000, 2));
  clock.advance(1_000);
  for (const call of calls) {
    assert.equal(
      await content(await bounded("a call", 5_000, () => call)),
      "hello from backup",
    );
  }
  assert.equal(notFoundEvents(events).length, 1);
  assert.deepEqual(
    attempts(events).filter((a) => a.endpoint === "primary").map((a) => a.code),
    ["model_not_found", "model_not_found"],
  );
  assert.deepEqual(pool.status()[0].models?.notFound, ["o3"]);
});

test("models: the only endpoint's 404 model_not_found is returned to fetch with its body; the next call fails at once", async () => {
  const regions = mockRegions([{ name: "only", models: ["gpt-4.1"] }]);
  const { pool, events } = poolOver(regions, {});
  using _ = pool;
  const response = await pool.fetch("chat/completions", post(chat("o3")));
  assert.equal(response.status, 404);
  assert.deepEqual(await response.json(), {
    error: {
      message: "The model `o3` does not exist or you do not have access to it.",
      type: "invalid_request_error",
      param: null,
      code: "model_not_found",
    },
  });
  assert.deepEqual(pool.status()[0].models?.notFound, ["o3"]);
  assert.equal(notFoundEvents(events).length, 1);

  const error = await rejection(
    pool.fetch("chat/completions", post(chat("o3"))),
  );
  assert.ok(isFailoverError(error), String(error));
  assert.match(error.message, /no endpoint serves model "o3"/);
  assert.match(error.message, /only: not found there/);
  assert.deepEqual(regions.counts(), { only: 1 });
});

for (const declared of [false, true]) {
  test(
    `models: a call that learnt a missing model does not send it there again on a replay (${
      declared ? "models declared" : "no endpoint declares models"
    })`,
    async () => {
      const regions = mockRegions([
        { name: "primary", models: ["gpt-4.1"] },
        { name: "backup", mode: { status: 503 } },
      ]);
      const { pool, events } = poolOver(
        regions,
        declared ? { backup: ["gpt-4.1", "o3"] } : {},
        { maxAttempts: 3 },
      );
      using _ = pool;
      const response = await pool.fetch("chat/completions", post(chat("o3")));
      assert.equal(response.status, 503);
      await response.body?.cancel();
      // primary (404 model_not_found, learnt), backup (503), then backup
      // again — never the primary, which said it has no o3.
      assert.deepEqual(
        attempts(events).map((a) => [a.endpoint, a.status]),
        [["primary", 404], ["backup", 503], ["backup", 503]],
      );
      assert.deepEqual(regions.counts(), { primary: 1, backup: 2 });
    },
  );
}

test("models: attempt records carry the model sent and code model_not_found", async () => {
  const regions = mockRegions([
    { name: "azure", models: ["gpt-4.1"] },
    { name: "deepseek", mode: { status: 503 } },
  ]);
  const { api, events } = failoverOver(regions, {
    azure: { o3: "my-o3-deployment" },
    deepseek: { o3: "deepseek-reasoner" },
  });
  using _ = api;
  const error = await rejection(
    api.ky.post("chat/completions", { json: { model: "o3", messages } }),
  );
  assert.ok(isFailoverError(error), String(error));
  assert.deepEqual(
    error.attempts.map((a) => [a.endpoint, a.status, a.model, a.code]),
    [
      ["azure", 404, "my-o3-deployment", "model_not_found"],
      ["deepseek", 503, "deepseek-reasoner", undefined],
    ],
  );
  assert.match(error.message, /HTTP 404 model_not_found/);
  assert.deepEqual(notFoundEvents(events), [{
    type: "model-not-found",
    endpoint: "azure",
    model: "o3",
    sent: "my-o3-deployment",
  }]);
  const failure = events.find((e) => e.type === "failure");
  assert.ok(failure?.type === "failure");
  assert.deepEqual(
    failure.attempts.map((a) => a.code),
    ["model_not_found", undefined],
  );
  assert.deepEqual(api.status()[0].models, {
    serves: { o3: "my-o3-deployment" },
    notFound: ["my-o3-deployment"],
  });
});

const VENDOR_ERRORS: [label: string, status: number, body: unknown][] = [
  ["Azure DeploymentNotFound", 404, {
    error: {
      code: "DeploymentNotFound",
      message:
        "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
    },
  }],
  ["vLLM", 404, {
    object: "error",
    message: "The model `o3` does not exist.",
    type: "NotFoundError",
    param: null,
    code: 404,
  }],
  ["Ollama", 404, { error: 'model "o3" not found, try pulling it first' }],
  ["Gemini (an array)", 404, [{
    error: {
      code: 404,
      message:
        "models/o3 is not found for API version v1main, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.",
      status: "NOT_FOUND",
    },
  }]],
  ["Anthropic not_found_error", 404, {
    type: "error",
    error: { type: "not_found_error", message: "model: o3" },
  }],
  ["OpenRouter 400", 400, {
    error: { message: "o3 is not a valid model ID", code: 400 },
  }],
  ["DeepSeek 400", 400, {
    error: {
      message: "Model Not Exist",
      type: "invalid_request_error",
      param: null,
      code: "invalid_request_error",
    },
  }],
];

for (const [label, status, body] of VENDOR_ERRORS) {
  test(`models: ${label} (HTTP ${status}) is read as model not found, failed over and learned`, async () => {
    const regions = mockRegions([
      { name: "vendor", mode: { status, body } },
      { name: "backup" },
    ]);
    const { pool, events } = poolOver(regions, {
      vendor: { o3: "vendor-o3", "gpt-4.1": "vendor-gpt" },
    });
    using _ = pool;
    assert.equal(
      await content(await pool.fetch("chat/completions", post(chat("o3")))),
      "hello from backup",
    );
    assert.deepEqual(attempts(events)[0], {
      endpoint: "vendor",
      status,
      model: "vendor-o3",
      code: "model_not_found",
    });
    assert.deepEqual(notFoundEvents(events), [{
      type: "model-not-found",
      endpoint: "vendor",
      model: "o3",
      sent: "vendor-o3",
    }]);
    const r = await pool.fetch("chat/completions", post(chat("o3")));
    await r.body?.cancel();
    assert.deepEqual(regions.counts(), { vendor: 1, backup: 2 });
    const vendor = pool.status()[0];
    assert.equal(vendor.state, "healthy");
    assert.equal(vendor.failures, 0);
    assert.deepEqual(vendor.models?.notFound, ["vendor-o3"]);
    // Its other model still goes there.
    regions.region("vendor").mode = "up";
    assert.equal(
      await content(
        await pool.fetch("chat/completions", post(chat("gpt-4.1"))),
      ),
      "hello from vendor",
    );
    assert.deepEqual(modelsSent(regions, "vendor"), [
      "vendor-o3",
      "vendor-gpt",
    ]);
  });
}

test("models: a 404 or 400 about something else is returned as it is, and not learned", async () => {
  const regions = mockRegions(["a", "b"]);
  const { pool, events } = poolOver(regions, {});
  using _ = pool;
  // The region's own 404 for an unknown path: "no route for …".
  const missing = await pool.fetch("assistants", post(chat("gpt-4.1")));
  assert.equal(missing.status, 404);
  const body = await missing.json();
  assert.equal(body.error.message, "no route for POST /v1/assistants");
  assert.equal(body.error.code, "not_found");

  regions.region("a").mode = {
    status: 400,
    body: {
      error: {
        message: "'messages' must contain at least one message",
        type: "invalid_request_error",
        param: "messages",
        code: null,
      },
    },
  };
  const bad = await pool.fetch("chat/completions", post(chat("gpt-4.1")));
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, "messages");

  assert.deepEqual(regions.counts(), { a: 2, b: 0 });
  assert.deepEqual(attempts(events).map((a) => [a.status, a.code]), [
    [404, undefined],
    [400, undefined],
  ]);
  assert.equal(notFoundEvents(events).length, 0);
  assert.deepEqual(pool.status()[0].models?.notFound, []);

  // Still a's: nothing was learned.
  regions.region("a").mode = "up";
  assert.equal(
    await content(
      await pool.fetch("chat/completions", post(chat("gpt-4.1"))),
    ),
    "hello from a",
  );
});

test("models: only a 404 or a 400 can say a model is missing: a 422 model_not_found is returned as it is, not learned", async () => {
  const regions = mockRegions([
    {
      name: "a",
      mode: {
        status: 422,
        body: {
          error: {
            message: "The model `o3` does not exist",
            code: "model_not_found",
          },
        },
      },
    },
    "b",
  ]);
  const { pool, events } = poolOver(regions, { a: ["o3"] });
  using _ = pool;
  const response = await pool.fetch("chat/completions", post(chat("o3")));
  assert.equal(response.status, 422);
  assert.equal((await response.json()).error.code, "model_not_found");
  assert.deepEqual(regions.counts(), { a: 1, b: 0 });
  assert.deepEqual(pool.status()[0].models?.notFound, []);
  assert.equal(notFoundEvents(events).length, 0);
});

test("models: a 5xx that says model_not_found fails over as a server error, not learned", async () => {
  const regions = mockRegions([
    {
      name: "a",
      mode: {
        status: 503,
        body: {
          error: { message: "model not found", code: "model_not_found" },
        },
      },
    },
    "b",
  ]);
  const { pool, events } = poolOver(regions, { a: ["o3"] });
  using _ = pool;
  assert.equal(
    await content(await pool.fetch("chat/completions", post(chat("o3")))),
    "hello from b",
  );
  assert.deepEqual(attempts(events)[0], {
    endpoint: "a",
    status: 503,
    model: "o3",
    code: undefined,
  });
  assert.equal(pool.status()[0].failures, 1);
  assert.deepEqual(pool.status()[0].models?.notFound, []);
  assert.equal(notFoundEvents(events).length, 0);
});

// ---------------------------------------------------------------- status()

test("models: status() shows what each endpoint serves and the model it was last sent", async () => {
  const regions = mockRegions(["openai", "deepseek", "any"]);
  const { pool } = poolOver(regions, {
    openai: ["gpt-4.1", "o3"],
    deepseek: { "gpt-4.1": "deepseek-chat", o3: "deepseek-reasoner" },
  });
  using _ = pool;
  assert.deepEqual(pool.status().map((s) => [s.models, s.lastModel]), [
    [{ serves: { "gpt-4.1": "gpt-4.1", o3: "o3" }, notFound: [] }, undefined],
    [{
      serves: { "gpt-4.1": "deepseek-chat", o3: "deepseek-reasoner" },
      notFound: [],
    }, undefined],
    [{ serves: undefined, notFound: [] }, undefined],
  ]);
  regions.region("openai").mode = { status: 500 };
  const r = await pool.fetch("chat/completions", post(chat("o3")));
  await r.body?.cancel();
  assert.deepEqual(pool.status().map((s) => s.lastModel), [
    "o3",
    "deepseek-reasoner",
    undefined,
  ]);
});

// -------------------------------------------------------------- validation

test("models: an invalid models option throws a TypeError naming options.endpoints[1].models", () => {
  const cases: [unknown, RegExp][] = [
    [[], /options\.endpoints\[1\]\.models must be at least one model/],
    [{}, /options\.endpoints\[1\]\.models must be at least one model/],
    [
      [5],
      /options\.endpoints\[1\]\.models\[0\] must be a non-empty model name, got 5/,
    ],
    [
      ["gpt-4.1", ""],
      /options\.endpoints\[1\]\.models\[1\] must be a non-empty model name/,
    ],
    [
      ["  "],
      /options\.endpoints\[1\]\.models\[0\] must be a non-empty model name/,
    ],
    [
      { "gpt-4.1": "" },
      /options\.endpoints\[1\]\.models\["gpt-4\.1"\] must be a non-empty model name/,
    ],
    [{ "gpt-4.1": 5 }, /options\.endpoints\[1\]\.models\["gpt-4\.1"\]/],
    [
      { "": "deepseek-chat" },
      /options\.endpoints\[1\]\.models key must be a non-empty model name, got ""/,
    ],
    [
      { " ": "deepseek-chat" },
      /options\.endpoints\[1\]\.models key must be a non-empty model name, got " "/,
    ],
    [
      "gpt-4.1",
      /options\.endpoints\[1\]\.models must be an array of model names or an object/,
    ],
    [
      42,
      /options\.endpoints\[1\]\.models must be an array of model names or an object/,
    ],
  ];
  for (const [value, message] of cases) {
    for (
      const create of [
        (endpoints: PoolOptions["endpoints"]) =>
          createPool({ endpoints, features: [models()] }),
        (endpoints: PoolOptions["endpoints"]) => createFailover({ endpoints }),
      ]
    ) {
      assert.throws(
        () =>
          create([
            { name: "a", url: "https://a.example.ai/v1", models: ["gpt-4.1"] },
            {
              name: "b",
              url: "https://b.example.ai/v1",
              models: value as string[],
            },
          ]),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, message);
          return true;
        },
        JSON.stringify(value),
      );
    }
  }
});

test("models: models on an endpoint of a pool without models() throws, naming the option and the feature", () => {
  assert.throws(
    () =>
      createPool({
        endpoints: [{
          name: "a",
          url: "https://a.example.ai/v1",
          models: ["gpt-4.1"],
        }],
      }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.ok(
        error.message.includes("options.endpoints[0].models"),
        error.message,
      );
      assert.ok(error.message.includes("models()"), error.message);
      return true;
    },
  );
  // The preset reads it.
  using api = createFailover({
    endpoints: [{
      name: "a",
      url: "https://a.example.ai/v1",
      models: ["gpt-4.1"],
    }],
  });
  assert.deepEqual(api.status()[0].models?.serves, { "gpt-4.1": "gpt-4.1" });
});

// -------------------------------------------- the providers of ky-failover/testing

const AS_JSON = { "content-type": "application/json" };

async function ask(
  region: ReturnType<typeof mockRegion>,
  path: string,
  body: unknown,
): Promise<Response> {
  return await region.fetch(
    new Request(`${region.url}/${path}`, {
      method: "POST",
      headers: AS_JSON,
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

test("testing: a region with models lists them and answers any other model with OpenAI's 404 model_not_found", async () => {
  const options: MockRegionOptions = {
    name: "deepseek",
    models: ["deepseek-chat", "deepseek-reasoner"],
  };
  const region = mockRegion(options);
  const list = await (await region.fetch(new Request(`${region.url}/models`)))
    .json();
  assert.deepEqual(list, {
    object: "list",
    data: [
      {
        id: "deepseek-chat",
        object: "model",
        created: 0,
        owned_by: "deepseek",
      },
      {
        id: "deepseek-reasoner",
        object: "model",
        created: 0,
        owned_by: "deepseek",
      },
    ],
  });
  for (const path of ["chat/completions", "embeddings", "responses"]) {
    const missing = await ask(region, path, { model: "gpt-4.1", input: "x" });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("access-control-allow-origin"), "*");
    assert.equal(
      await missing.text(),
      '{"error":{"message":"The model `gpt-4.1` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}',
    );
  }
  const served = await ask(region, "chat/completions", {
    model: "deepseek-reasoner",
    messages,
  });
  assert.equal((await served.json()).model, "deepseek-reasoner");
  // No model, or no JSON: answered as usual.
  assert.equal(
    (await ask(region, "chat/completions", { messages })).status,
    200,
  );
  assert.equal((await ask(region, "chat/completions", "not json")).status, 200);
  // A fault mode wins over the model check.
  region.mode = { status: 503 };
  assert.equal(
    (await ask(region, "chat/completions", { model: "x" })).status,
    503,
  );

  // Without models: any model, and the list names gpt-4.1.
  const any = mockRegion({ name: "any" });
  assert.equal(
    (await (await ask(any, "chat/completions", { model: "whatever" })).json())
      .model,
    "whatever",
  );
  assert.deepEqual(
    (await (await any.fetch(new Request(`${any.url}/models`))).json()).data
      .map((m: { id: string }) => m.id),
    ["gpt-4.1"],
  );
});

test("testing: usage sets the tokens of chat answers, plain and streamed; the default stays 5 + 3", async () => {
  const region = mockRegion({
    name: "p",
    usage: { prompt_tokens: 120, completion_tokens: 30, cached_tokens: 100 },
  });
  const plain = await (await ask(region, "chat/completions", {
    model: "gpt-4.1",
    messages,
  })).json();
  assert.deepEqual(plain.usage, {
    prompt_tokens: 120,
    completion_tokens: 30,
    total_tokens: 150,
    prompt_tokens_details: { cached_tokens: 100 },
  });
  const streamed = await (await ask(region, "chat/completions", {
    model: "gpt-4.1",
    messages,
    stream: true,
    stream_options: { include_usage: true },
  })).text();
  const chunks = streamed.split("\n\n").filter(Boolean).slice(0, -1).map((f) =>
    JSON.parse(f.slice(6))
  );
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.deepEqual(chunks.at(-1).usage, plain.usage);
  // Without include_usage, no usage chunk.
  const bare = await (await ask(region, "chat/completions", {
    model: "gpt-4.1",
    messages,
    stream: true,
  })).text();
  assert.ok(!bare.includes('"usage"'));

  const plainDefault =
    await (await ask(mockRegion({ name: "d" }), "chat/completions", {
      model: "gpt-4.1",
      messages,
    })).json();
  assert.deepEqual(plainDefault.usage, {
    prompt_tokens: 5,
    completion_tokens: 3,
    total_tokens: 8,
  });
});

test("testing: POST embeddings answers an OpenAI embedding list, floats or base64", async () => {
  const region = mockRegion({
    name: "emb",
    usage: { prompt_tokens: 9, completion_tokens: 0 },
  });
  const floats = await (await ask(region, "embeddings", {
    model: "text-embedding-3-large",
    input: ["one", "two"],
    dimensions: 4,
  })).json();
  assert.equal(floats.object, "list");
  assert.equal(floats.model, "text-embedding-3-large");
  assert.deepEqual(floats.usage, { prompt_tokens: 9, total_tokens: 9 });
  assert.deepEqual(floats.data.map((d: { index: number }) => d.index), [0, 1]);
  for (const d of floats.data) {
    assert.equal(d.object, "embedding");
    assert.equal(d.embedding.length, 4);
    assert.ok(d.embedding.every((n: unknown) => typeof n === "number"));
  }
  assert.ok(
    JSON.stringify(floats.data[0].embedding) !==
      JSON.stringify(floats.data[1].embedding),
    "each input its own vector",
  );

  const single = await (await ask(region, "embeddings", {
    model: "text-embedding-3-small",
    input: "one",
  })).json();
  assert.equal(single.data.length, 1);
  assert.equal(single.data[0].embedding.length, 8);

  const encoded = await (await ask(region, "embeddings", {
    model: "text-embedding-3-large",
    input: ["one", "two"],
    dimensions: 4,
    encoding_format: "base64",
  })).json();
  const decoded = encoded.data.map((d: { embedding: string }) => {
    const bytes = Uint8Array.from(atob(d.embedding), (c) => c.charCodeAt(0));
    return [...new Float32Array(bytes.buffer)];
  });
  assert.deepEqual(
    decoded,
    floats.data.map((d: { embedding: number[] }) =>
      d.embedding.map((n) => Math.fround(n))
    ),
  );
});

test("testing: POST responses answers a Responses API object; stream: true its events ending in response.completed", async () => {
  const region = mockRegion({
    name: "r",
    usage: { prompt_tokens: 20, completion_tokens: 6, cached_tokens: 16 },
  });
  const usage = {
    input_tokens: 20,
    input_tokens_details: { cached_tokens: 16 },
    output_tokens: 6,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 26,
  };
  const plain = await (await ask(region, "responses", {
    model: "gpt-4.1-mini",
    input: "hi",
  })).json();
  assert.equal(plain.object, "response");
  assert.equal(plain.status, "completed");
  assert.equal(plain.model, "gpt-4.1-mini");
  assert.equal(plain.output[0].type, "message");
  assert.equal(plain.output[0].role, "assistant");
  assert.deepEqual(plain.output[0].content, [
    { type: "output_text", text: "hello from r", annotations: [] },
  ]);
  assert.deepEqual(plain.usage, usage);

  const response = await ask(region, "responses", {
    model: "gpt-4.1-mini",
    input: "hi",
    stream: true,
  });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const frames = (await response.text()).split("\n\n").filter(Boolean);
  const events = frames.map((frame) => {
    const [event, data] = frame.split("\n");
    assert.ok(event.startsWith("event: ") && data.startsWith("data: "));
    const parsed = JSON.parse(data.slice(6));
    assert.equal(parsed.type, event.slice(7));
    return parsed;
  });
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
  assert.equal(events[0].type, "response.created");
  assert.equal(events[0].response.status, "in_progress");
  assert.equal(events[0].response.model, "gpt-4.1-mini");
  assert.equal(
    events.filter((e) => e.type === "response.output_text.delta").map((e) =>
      e.delta
    ).join(""),
    "hello from r",
  );
  const last = events.at(-1);
  assert.equal(last.type, "response.completed");
  assert.equal(last.response.status, "completed");
  assert.deepEqual(last.response.usage, usage);
  assert.deepEqual(last.response.output[0].content, plain.output[0].content);
  assert.equal(last.response.output[0].status, "completed");
  assert.ok(!frames.some((f) => f.includes("[DONE]")));
});

test("testing: a pool fails over embeddings and responses between providers with their own models", async () => {
  const regions = mockRegions([
    { name: "openai", models: ["text-embedding-3-small", "gpt-4.1"] },
    { name: "other", models: ["embed-v4", "other-chat"] },
  ]);
  regions.region("openai").mode = { status: 500 };
  const { pool } = poolOver(regions, {
    openai: ["text-embedding-3-small", "gpt-4.1"],
    other: { "text-embedding-3-small": "embed-v4", "gpt-4.1": "other-chat" },
  });
  using _ = pool;
  const embedded = await (await pool.fetch(
    "embeddings",
    post(JSON.stringify({ model: "text-embedding-3-small", input: "x" })),
  )).json();
  assert.equal(embedded.model, "embed-v4");
  const answered = await (await pool.fetch(
    "responses",
    post(JSON.stringify({ model: "gpt-4.1", input: "x" })),
  )).json();
  assert.equal(answered.model, "other-chat");
  assert.equal(answered.output[0].content[0].text, "hello from other");
  assert.deepEqual(modelsSent(regions, "other"), ["embed-v4", "other-chat"]);
});

test("models: a missing model is learnt by the name it was sent: another asked name sent under it is not sent there again", async () => {
  const regions = mockRegions([
    { name: "vendor", models: ["other"] },
    { name: "backup" },
  ]);
  const { pool, events } = poolOver(regions, {
    vendor: { "gpt-4.1": "shared-x", "gpt-4o": "shared-x" },
  });
  using _ = pool;
  assert.equal(
    await content(await pool.fetch("chat/completions", post(chat("gpt-4.1")))),
    "hello from backup",
  );
  // gpt-4o would be sent to vendor as shared-x too: it goes to backup at once.
  assert.equal(
    await content(await pool.fetch("chat/completions", post(chat("gpt-4o")))),
    "hello from backup",
  );
  assert.deepEqual(regions.counts(), { vendor: 1, backup: 2 });
  assert.deepEqual(pool.status()[0].models?.notFound, ["shared-x"]);
  assert.deepEqual(notFoundEvents(events), [{
    type: "model-not-found",
    endpoint: "vendor",
    model: "gpt-4.1",
    sent: "shared-x",
  }]);
});

for (
  const message of [
    "Streaming with tools for this model is not supported.",
    "'logprobs' is not supported with this model.",
  ]
) {
  test(`models: a 400 about a parameter is not a missing model: ${message}`, async () => {
    const body = {
      error: { message, type: "invalid_request_error", code: null },
    };
    const regions = mockRegions([
      { name: "vendor", mode: { status: 400, body } },
      { name: "backup" },
    ]);
    const { pool, events } = poolOver(regions, {});
    using _ = pool;
    const response = await pool.fetch("chat/completions", post(chat("o3")));
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), body);
    assert.deepEqual(regions.counts(), { vendor: 1, backup: 0 });
    assert.deepEqual(pool.status()[0].models?.notFound, []);
    assert.equal(notFoundEvents(events).length, 0);
  });
}
