// Real sockets: every fault of the loopback region farm, driven through the
// public API. Timeouts run on a manual clock; the network is real.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock, seededRandom } from "./_manual_clock.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import { startPacedSse } from "./_paced_sse.ts";
import { startFarm } from "./_region_farm.ts";
import { farmPool } from "./_farm_pool.ts";
import {
  createFailover,
  type Failover,
  type FailoverEvent,
  isFailoverError,
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
  const call = later(reply(api));
  await bounded(
    "primary gets the call",
    5_000,
    () => farm.region("primary").waitForRequests(1),
  );
  assert.deepEqual(clock.delays, [2_000], "the attempt's timeout, in full");
  clock.advance(1_999);
  await turns();
  assert.equal(api.status()[1].requests, 0, "not 1 ms early");
  clock.advance(1);
  assert.equal(
    await bounded("the call", 5_000, () => call),
    "hello from hk",
  );
  assert.equal(api.status()[0].lastError, "primary timed out after 2000 ms");
});

test("HTTP 503 and flaky regions over real sockets: every failure fails over and is counted", async () => {
  await using farm = await startFarm(NAMES, { random: seededRandom(3) });
  const { api } = poolOver(farm, { breaker: false });
  using _ = api;
  await farm.region("primary").setMode({ status: 503 });
  assert.equal(await reply(api), "hello from hk");
  await farm.region("primary").setMode({ flaky: 0.5 });
  await farm.region("hk").setMode({ flaky: 0.5 });
  const answers = [];
  for (let i = 0; i < 40; i++) answers.push(await reply(api));
  // The farm draws from the seeded source once per request to a flaky
  // region, in request order; replay it to know which requests failed.
  const draw = seededRandom(3);
  const expected: string[] = [];
  let primaryFailed = 0;
  let hkFailed = 0;
  for (let i = 0; i < 40; i++) {
    if (draw() >= 0.5) expected.push("hello from primary");
    else if ((primaryFailed++, draw() >= 0.5)) expected.push("hello from hk");
    else hkFailed++, expected.push("hello from sg");
  }
  assert.deepEqual(answers, expected);
  assert.ok(primaryFailed > 10 && hkFailed > 3, "the seed exercises both");
  const [primary, hk, sg] = api.status();
  assert.equal(primary.failures, 1 + primaryFailed);
  assert.equal(hk.failures, hkFailed);
  assert.equal(sg.failures, 0);
  assert.equal(farm.region("primary").received.length, 41);
  assert.equal(farm.region("hk").received.length, 1 + primaryFailed);
  assert.equal(farm.region("sg").received.length, hkFailed);
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
    // The runtime's own network error (a TypeError on every runtime), as
    // the reader would get it without a pool: not a FailoverError, not a
    // stall, and no failover once committed.
    assert.ok(error instanceof TypeError, String(error));
    assert.ok(!isFailoverError(error) && !isStreamIdleTimeoutError(error));
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
  const pending = later(reader.read());
  await bounded("a timer of 1000 ms", 5_000, () => clock.scheduled(1_000));
  clock.advance(999);
  await turns();
  assert.equal(api.status()[0].failures, 0, "not stalled at 999 ms");
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
  let firstChunk!: () => void;
  const oneIn = new Promise<void>((resolve) => firstChunk = resolve);
  const iterate = (async () => {
    for await (const _chunk of response.body!) firstChunk();
  })().then(() => undefined, (e) => e);
  // Once the event sent before the stall is in, the read pending is the
  // stalled one (before it, the timer of the first read could be taken
  // for it, and the clock moved while no read waits).
  await bounded("the event before the stall", 5_000, () => oneIn);
  await bounded(
    "the stalled read's timer",
    5_000,
    () => clock.scheduled(1_000),
  );
  clock.advance(1_000);
  assert.ok(
    isStreamIdleTimeoutError(
      await bounded("the iterator's end", 5_000, () => iterate),
    ),
  );

  // The same stall read whole with text() (unknown length: read through the
  // watched stream), from the very first read: headers, then nothing.
  await farm.region("primary").setMode({ stallStream: 0 });
  const sse = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const whole = sse.text().then(() => undefined, (e) => e);
  await bounded(
    "the stalled read's timer",
    5_000,
    () => clock.scheduled(1_000),
  );
  clock.advance(1_000);
  assert.ok(
    isStreamIdleTimeoutError(await bounded("text()", 5_000, () => whole)),
  );

  // A JSON body of known length that stops half-way is read whole inside
  // its attempt: the stall fails over, and the caller gets hk's answer.
  // (Whichever of its reads the clock cuts, the read is the attempt's.)
  const failedOver = later(reply(api));
  await bounded("a read's timer", 5_000, () => clock.scheduled(1_000));
  clock.advance(1_000);
  assert.equal(
    await bounded("the failover", 5_000, () => failedOver),
    "hello from hk",
  );
  assert.equal(clock.pending, 0);

  // Committed at its headers (bufferLimit: false), the same body read by
  // ky ends with the stall. ky's .json() reads through the watched stream,
  // one read at a time, and shows no read: the clock moves one idle period
  // at a time, each time the watch has a read's timer pending — the read
  // that got the first half, then the stalled one — three at most.
  const committed = poolOver(farm, { bufferLimit: false });
  using _committed = committed.api;
  let settled = false;
  const json = committed.api.ky.post("chat/completions", { json: chat }).json()
    .then(() => undefined, (e) => e).finally(() => settled = true);
  for (let period = 0; period < 3 && !settled; period++) {
    await bounded(
      "a timer of 1000 ms",
      5_000,
      () => committed.clock.scheduled(1_000),
    );
    committed.clock.advance(1_000);
    await turns();
  }
  const error = await bounded("ky's .json()", 5_000, () => json);
  assert.ok(isStreamIdleTimeoutError(error), String(error));
  assert.equal(committed.clock.pending, 0);
});

test("a stalled stream frees its socket: the region sees the client go away", async () => {
  await using server = await startPacedSse();
  const clock = new ManualClock();
  using api = createFailover({
    endpoints: [{ name: "paced", url: server.url, apiKey: "sk-paced" }],
    clock,
    streamIdleTimeout: 1_000,
  });
  const call = later(api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  }));
  const stream = await bounded("the request", 5_000, () => server.response(1));
  let gone = false;
  void stream.gone.then(() => gone = true);
  await stream.write("data: 1\n\n");
  const response = await bounded("the headers", 5_000, () => call);
  const reader = response.body!.getReader();
  const first = await bounded("the first event", 5_000, () => reader.read());
  assert.equal(new TextDecoder().decode(first.value), "data: 1\n\n");
  const pending = reader.read().then(() => undefined, (e) => e);
  await bounded("the idle timer", 5_000, () => clock.scheduled(1_000));
  await turns();
  assert.equal(
    gone,
    false,
    "the connection stays open while the stream is young",
  );
  clock.advance(1_000);
  assert.ok(isStreamIdleTimeoutError(await pending));
  await bounded(
    "the region seeing the client go away",
    5_000,
    () => stream.gone,
  );
  assert.equal(api.status()[0].failures, 1);
});

test("a healthy slow stream (a chunk every 999 ms of the pool's clock) is never cut by a 1 s idle timeout", async () => {
  await using server = await startPacedSse();
  const clock = new ManualClock();
  const events: FailoverEvent[] = [];
  using api = createFailover({
    endpoints: [{ name: "paced", url: server.url }],
    clock,
    streamIdleTimeout: 1_000,
    onEvent: (e) => events.push(e),
  });
  const call = later(api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  }));
  const stream = await bounded("the request", 5_000, () => server.response(1));
  const response = await bounded("the headers", 5_000, () => call);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const start = clock.now();
  let text = "";
  for (let i = 1; i <= 7; i++) {
    const read = later(reader.read());
    // The consumer waits; the region sends the next event 999 ms later.
    await bounded("the idle timer", 5_000, () => clock.scheduled(1_000));
    clock.advance(999);
    await stream.write(`data: ${i}\n\n`);
    const { value, done } = await bounded(`event ${i}`, 5_000, () => read);
    assert.equal(done, false);
    text += decoder.decode(value, { stream: true });
  }
  stream.end();
  assert.deepEqual(
    await bounded("the end", 5_000, () => reader.read()),
    { done: true, value: undefined },
  );
  assert.equal(
    text,
    [1, 2, 3, 4, 5, 6, 7].map((i) => `data: ${i}\n\n`).join(""),
  );
  assert.equal(clock.now() - start, 6_993, "far longer than the idle timeout");
  assert.ok(!events.some((e) => e.type === "stream-stall"));
  assert.equal(api.status()[0].failures, 0);
  assert.equal(clock.pending, 0);
});

test("cancelling a stream, or aborting the call mid-stream, leaves no timer", async () => {
  await using farm = await startFarm(NAMES);
  const seen = attemptSignals();
  const { api, clock } = poolOver(farm, { middleware: [seen.middleware] });
  using _ = api;
  await farm.region("primary").setMode({ stallStream: 1 });
  const body = JSON.stringify({ ...chat, stream: true });
  const first = await api.fetch("chat/completions", { method: "POST", body });
  const reader = first.body!.getReader();
  await reader.read();
  const pending = later(reader.read());
  await bounded("a timer of 1000 ms", 5_000, () => clock.scheduled(1_000));
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
  await bounded("the idle timer", 5_000, () => clock.scheduled(1_000));
  controller.abort(new Error("user left"));
  assert.equal(
    seen.attempts.at(-1)!.signal.aborted,
    true,
    "the caller's abort reaches the committed attempt",
  );
  assert.equal(
    (await bounded("the aborted read", 5_000, () => pending2)).message,
    "user left",
  );
  assert.equal(clock.pending, 0);
  assert.equal(api.status()[0].failures, 0, "neither is the endpoint's fault");
});

test("a slow region within the timeout answers; a 429 with Retry-After benches it over sockets", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  // Real time: the farm's `slow` runs on its own timers (30 ms). The
  // pool's clock moves 1.5 s while the answer is on its way — within the
  // 2 s attempt timeout, so it is waited for, and its latency is 1.5 s.
  await farm.region("primary").setMode({ slow: 30 });
  const slow = later(reply(api));
  await bounded(
    "primary gets the call",
    5_000,
    () => farm.region("primary").waitForRequests(1),
  );
  clock.advance(1_500);
  assert.equal(
    await bounded("the slow answer", 5_000, () => slow),
    "hello from primary",
  );
  assert.equal(api.status()[0].latencyMs, 1_500);
  assert.equal(api.status()[0].failures, 0);
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
  clock.advance(2_999);
  assert.equal(await reply(api), "hello from hk", "benched for 3 s");
  clock.advance(1);
  assert.equal(await reply(api), "hello from primary");
  assert.equal(
    farm.region("primary").received.length,
    3,
    "the slow answer, the 429, the one after the bench: nothing while benched",
  );
  assert.equal(farm.region("hk").received.length, 3);
});
