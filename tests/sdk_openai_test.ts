// The OpenAI SDK (`openai`) with the pool's fetch, against loopback regions:
// plain and streamed chat completions survive a dead or failing primary, and
// each endpoint gets its own key — never the SDK's. The network is real
// (loopback); every timeout runs on a manual clock.

import OpenAI from "openai";
import { assert, bounded, test } from "./_harness.ts";
import { serveRegions } from "./_loopback_regions.ts";
import { ManualClock } from "./_manual_clock.ts";
import { later, turns } from "./_observe.ts";
import {
  createFailover,
  type Failover,
  isStreamIdleTimeoutError,
} from "ky-failover";

const NAMES = ["primary", "hk", "sg"];
const SDK_KEY = "sk-sdk-must-not-leave";
const messages = [{ role: "user" as const, content: "hi" }];

function setup(
  urls: string[],
): { api: Failover; openai: OpenAI; clock: ManualClock } {
  const clock = new ManualClock();
  const api = createFailover({
    endpoints: NAMES.map((name, i) => ({
      name,
      url: urls[i],
      apiKey: `sk-${name}`,
      priority: i + 1,
    })),
    timeout: 10_000,
    streamIdleTimeout: 1_000,
    clock,
  });
  const openai = new OpenAI({
    baseURL: urls[0],
    apiKey: SDK_KEY,
    fetch: api.fetch,
    maxRetries: 0, // ky-failover retries; SDK retries would multiply attempts
  });
  return { api, openai, clock };
}

function keysSeen(
  regions: {
    regions: readonly { received: { authorization: string | null }[] }[];
  },
) {
  return regions.regions.flatMap((r) => r.received.map((q) => q.authorization));
}

for (
  const [label, mode] of [
    ["refused", "refused"],
    ["503", { status: 503 }],
    ["429 with retry-after", { status: 429, headers: { "retry-after": "30" } }],
  ] as const
) {
  test(`openai: chat.completions.create survives a ${label} primary`, async () => {
    await using regions = await serveRegions(NAMES);
    regions.region("primary").mode = mode;
    const { api, openai } = setup(regions.regions.map((r) => r.url));
    using _ = api;
    const completion = await openai.chat.completions.create({
      model: "gpt-4.1",
      messages,
    });
    assert.equal(completion.choices[0].message.content, "hello from hk");
    assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });
    assert.equal(
      regions.region("hk").received[0].authorization,
      "Bearer sk-hk",
    );
    assert.equal(
      regions.region("primary").received[0].authorization,
      "Bearer sk-primary",
    );
    assert.ok(!keysSeen(regions).some((k) => k?.includes(SDK_KEY)));
    assert.deepEqual(
      JSON.parse(regions.region("hk").received[0].body).messages,
      messages,
    );
  });
}

for (
  const [label, mode] of [
    ["refused", "refused"],
    ["500", { status: 500 }],
    ["hanging (past the per-attempt timeout)", "hang"],
  ] as const
) {
  test(`openai: stream: true survives a ${label} primary`, async () => {
    await using regions = await serveRegions(NAMES);
    regions.region("primary").mode = mode;
    const { api, openai, clock } = setup(regions.regions.map((r) => r.url));
    using _ = api;
    const created = later(openai.chat.completions.create({
      model: "gpt-4.1",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    }));
    if (mode === "hang") {
      // A hanging primary is dropped after the attempt timeout, 10 s of
      // the pool's clock.
      await bounded(
        "primary gets the call",
        5_000,
        () => regions.region("primary").waitForRequests(1),
      );
      assert.deepEqual(clock.delays, [10_000]);
      clock.advance(10_000);
    }
    const stream = await bounded("the stream's headers", 5_000, () => created);
    let text = "";
    let chunks = 0;
    let usage: unknown;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    assert.equal(text, "hello from hk");
    assert.equal(chunks, 6, "role, 3 words, stop, usage");
    assert.deepEqual(usage, {
      prompt_tokens: 5,
      completion_tokens: 3,
      total_tokens: 8,
    });
    assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });
    assert.equal(
      regions.region("hk").received[0].authorization,
      "Bearer sk-hk",
    );
    assert.ok(!keysSeen(regions).some((k) => k?.includes(SDK_KEY)));
  });
}

test("openai: a 400 is not failed over and surfaces as the SDK's BadRequestError", async () => {
  await using regions = await serveRegions(NAMES);
  regions.region("primary").mode = { status: 400 };
  const { api, openai } = setup(regions.regions.map((r) => r.url));
  using _ = api;
  const error = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
});

test("openai: every region down rejects with the SDK's APIConnectionError", async () => {
  await using regions = await serveRegions(NAMES);
  for (const name of NAMES) regions.region(name).mode = "refused";
  const { api, openai } = setup(regions.regions.map((r) => r.url));
  using _ = api;
  const error = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof OpenAI.APIConnectionError, String(error));
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 1 });
});

test("openai: models.list goes to the picked endpoint with its own key", async () => {
  await using regions = await serveRegions(NAMES);
  regions.region("primary").mode = { status: 502 };
  const { api, openai } = setup(regions.regions.map((r) => r.url));
  using _ = api;
  const models = [];
  for await (const model of openai.models.list()) models.push(model.id);
  assert.deepEqual(models, ["gpt-4.1"]);
  assert.equal(regions.region("hk").received[0].path, "/v1/models");
  assert.equal(regions.region("hk").received[0].authorization, "Bearer sk-hk");
});

test("openai: a stream that stalls mid-answer ends the SDK's iterator with StreamIdleTimeoutError", async () => {
  await using regions = await serveRegions(NAMES);
  regions.region("primary").mode = { stallAfter: 2 };
  const { api, openai, clock } = setup(regions.regions.map((r) => r.url));
  using _ = api;
  const stream = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
    stream: true,
  });
  let chunks = 0;
  let twoSeen!: () => void;
  const two = new Promise<void>((resolve) => twoSeen = resolve);
  const error = (async () => {
    for await (const _chunk of stream) if (++chunks === 2) twoSeen();
  })().then(() => undefined, (e) => e);
  await bounded("the two events sent before the stall", 5_000, () => two);
  // The SDK now waits for a third: the idle timer runs, on the pool's clock.
  await bounded("the idle timer", 5_000, () => clock.scheduled(1_000));
  await turns();
  assert.equal(chunks, 2);
  clock.advance(1_000);
  const stalled = await bounded("the iterator's end", 5_000, () => error);
  assert.ok(isStreamIdleTimeoutError(stalled), String(stalled));
  assert.equal(stalled.endpoint, "primary");
  assert.equal(chunks, 2, "the two events sent before the stall arrived");
  assert.equal(api.status()[0].failures, 1);
});
