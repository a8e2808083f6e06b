// Real sockets: every fault of the loopback region farm, driven through the
// public API. Timeouts run on a manual clock; the network is real.

import { assert, test } from "./_harness.ts";
import { seededRandom } from "./_manual_clock.ts";
import { startFarm } from "./_region_farm.ts";
import { farmPool } from "./_farm_pool.ts";
import {
  createFailover,
  type Failover,
  isStreamIdleTimeoutError,
} from "ky-failover";

const NAMES = ["primary", "hk", "sg"];
const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };

const poolOver = farmPool;

async function reply(api: Failover): Promise<string> {
  const body = await api.ky.post("chat/completions", { json: chat }).json() as {
    choices: { message: { content: string } }[];
  };
  return body.choices[0].message.content;
}

/** Reads an SSE body to the end; returns the data payloads. */
async function readEvents(response: Response): Promise<string[]> {
  const text = await response.text();
  return text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) =>
    e.slice(6)
  );
}

test("refused primary (port closed): the call fails over and only hk sees hk's key", async () => {
  await using farm = await startFarm(NAMES);
  const { api } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode("down");
  assert.equal(await reply(api), "hello from hk");
  assert.equal(farm.region("primary").received.length, 0);
  assert.deepEqual(farm.region("hk").received.map((r) => r.authorization), [
    "Bearer sk-hk",
  ]);
  assert.deepEqual(farm.region("hk").received[0].body, chat);
  await farm.region("primary").setMode("up");
  // Same URL answers again (the breaker is still closed after 1 failure).
  assert.equal(await reply(api), "hello from primary");
});

test("blackholed primary: abandoned after the per-attempt timeout", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode("blackhole");
  const call = reply(api);
  await farm.region("primary").waitForRequests(1);
  await clock.scheduled(2_000);
  clock.advance(2_000);
  assert.equal(await call, "hello from hk");
  assert.equal(api.status()[0].lastError, "primary timed out after 2000 ms");
});

test("HTTP 503, flaky regions and slow answers over real sockets", async () => {
  await using farm = await startFarm(NAMES, { random: seededRandom(3) });
  const { api } = poolOver(farm, { breaker: false });
  using _ = api;
  await farm.region("primary").setMode({ status: 503 });
  assert.equal(await reply(api), "hello from hk");
  await farm.region("primary").setMode({ flaky: 0.5 });
  await farm.region("hk").setMode({ flaky: 0.5 });
  const answers = [];
  for (let i = 0; i < 40; i++) answers.push(await reply(api));
  assert.ok(
    answers.includes("hello from primary") && answers.includes("hello from hk"),
  );
  const primary = farm.region("primary").received.length;
  assert.ok(primary > 40, "every call started at primary");
  assert.ok(api.status()[0].failures > 5 && api.status()[0].failures < 35);
});

test("a reset mid-body fails over; committed at headers it surfaces to the reader", async () => {
  await using farm = await startFarm(NAMES);
  await farm.region("primary").setMode("reset");
  {
    // Read whole inside the attempt (the default): the break fails over.
    const { api } = poolOver(farm);
    using _ = api;
    assert.equal(await reply(api), "hello from hk");
    assert.equal(api.status()[0].failures, 1);
    assert.equal(api.status()[0].consecutiveFailures, 1);
  }
  {
    // bufferLimit: false commits at headers: the reader sees the break.
    const { api } = poolOver(farm, { bufferLimit: false });
    using _ = api;
    const error = await reply(api).then(() => undefined, (e) => e);
    assert.ok(
      error instanceof Error,
      "committed at headers: no failover after the body broke",
    );
    assert.equal(farm.region("hk").received.length, 1, "only the first pool's");
    assert.equal(api.status()[0].failures, 1);
    assert.equal(api.status()[0].consecutiveFailures, 1);
  }
});

test("a streamed completion arrives whole, ending in [DONE] with usage", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode("down");
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...chat, stream: true }),
  });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const events = await readEvents(response);
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, "hello from hk");
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
  assert.equal(clock.pending, 0, "no timer outlives a stream read to the end");
});

test("a stalled stream ends with StreamIdleTimeoutError naming the endpoint, and counts against it", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock, events } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode({ stallStream: 2 });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  while ((seen.match(/\n\n/g) ?? []).length < 2) {
    const { value } = await reader.read();
    seen += decoder.decode(value);
  }
  const pending = reader.read();
  await clock.scheduled(1_000);
  clock.advance(999);
  clock.advance(1);
  const error = await pending.then(() => undefined, (e) => e);
  assert.ok(isStreamIdleTimeoutError(error));
  assert.equal(error.endpoint, "primary");
  assert.equal(error.message, "primary stream stalled: no data for 1000 ms");
  assert.ok(
    events.some((e) => e.type === "stream-stall" && e.endpoint === "primary"),
  );
  assert.equal(api.status()[0].failures, 1);
  assert.equal(
    api.status()[0].lastError,
    "primary stream stalled: no data for 1000 ms",
  );
  assert.equal(clock.pending, 0);
});

test("a stall is seen by for-await readers and by ky's .json() alike", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode({ stallStream: 1 });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const iterate = (async () => {
    let chunks = 0;
    for await (const _chunk of response.body!) chunks++;
    return chunks;
  })().then(() => undefined, (e) => e);
  await clock.scheduled(1_000);
  clock.advance(1_000);
  assert.ok(isStreamIdleTimeoutError(await iterate));

  // The same stall read whole with text() (unknown length: read through the
  // watched stream).
  const sse = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const whole = sse.text().then(() => undefined, (e) => e);
  await clock.scheduled(1_000);
  clock.advance(1_000);
  assert.ok(isStreamIdleTimeoutError(await whole));

  // A JSON body of known length that stops half-way is read whole inside
  // its attempt: the stall fails over, and the caller gets hk's answer.
  const failedOver = reply(api);
  await clock.scheduled(1_000);
  clock.advance(1_000);
  assert.equal(await failedOver, "hello from hk");
  assert.equal(clock.pending, 0);

  // Committed at its headers (bufferLimit: false), the same body read by
  // ky (native read, bounded as a whole) ends with the stall.
  const committed = poolOver(farm, { bufferLimit: false });
  using _committed = committed.api;
  const json = committed.api.ky.post("chat/completions", { json: chat }).json()
    .then(() => undefined, (e) => e);
  await committed.clock.scheduled(1_000);
  committed.clock.advance(1_000);
  const error = await json;
  assert.ok(isStreamIdleTimeoutError(error), String(error));
  assert.equal(committed.clock.pending, 0);
});

test("a healthy slow stream (a chunk every 100 ms) is not cut by a 1 s idle timeout", async () => {
  await using farm = await startFarm(NAMES);
  await farm.region("primary").setMode({ streamEvery: 100 });
  // Real clock: the region's pace and the idle timer run on the same time.
  using api = createFailover({
    endpoints: farm.regions.map((r) => ({ name: r.name, url: r.url })),
    strategy: "priority",
    streamIdleTimeout: 1_000,
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const events = await readEvents(response);
  assert.equal(events.at(-1), "[DONE]");
  assert.equal(api.status()[0].failures, 0);
});

test("cancelling a stream, or aborting the call mid-stream, leaves no timer", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode({ stallStream: 1 });
  const body = JSON.stringify({ ...chat, stream: true });
  const first = await api.fetch("chat/completions", { method: "POST", body });
  const reader = first.body!.getReader();
  await reader.read();
  const pending = reader.read();
  await clock.scheduled(1_000);
  await reader.cancel("done with it");
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(clock.pending, 0);

  const controller = new AbortController();
  const second = await api.fetch("chat/completions", {
    method: "POST",
    body,
    signal: controller.signal,
  });
  const reader2 = second.body!.getReader();
  await reader2.read();
  const pending2 = reader2.read().then(() => undefined, (e) => e);
  await clock.scheduled(1_000);
  controller.abort(new Error("user left"));
  assert.equal((await pending2).message, "user left");
  assert.equal(clock.pending, 0);
  assert.equal(api.status()[0].failures, 0, "neither is the endpoint's fault");
});

test("a slow region within the timeout answers; a 429 with Retry-After benches it over sockets", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode({ slow: 30 });
  assert.equal(await reply(api), "hello from primary");
  assert.ok((api.status()[0].latencyMs ?? -1) >= 0);
  await farm.region("primary").setMode({
    status: 429,
    headers: { "retry-after": "3" },
  });
  assert.equal(await reply(api), "hello from hk");
  assert.equal(api.status()[0].state, "rate-limited");
  await farm.region("primary").setMode("up");
  assert.equal(
    await reply(api),
    "hello from hk",
    "benched while Retry-After runs",
  );
  clock.advance(3_000);
  assert.equal(await reply(api), "hello from primary");
  assert.deepEqual(farm.region("primary").received.map((r) => r.mode), [
    { slow: 30 },
    { status: 429, headers: { "retry-after": "3" } },
    "up",
  ]);
});
