// How a pool uses timers: a pool's timeouts of one kind share one clock
// timer; between calls it is kept unref'd where the runtime allows it (so
// the next call re-uses it), and close() clears it.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import {
  createFailover,
  type FailoverEvent,
  isAttemptTimeoutError,
} from "ky-failover";
import {
  fedBody,
  linked,
  scriptedPool,
  type Sent,
  StepClock,
  watchSettle,
} from "./_streams.ts";

// --- Attempt timeouts and the deadline queue, on answers built by hand ---

/** A script: `a` hangs until its attempt is aborted; `b` answers 200. */
function hangingA(endpoint: string, { signal }: Sent): Promise<Response> {
  if (endpoint === "b") return Promise.resolve(new Response('{"from":"b"}'));
  return new Promise((_, reject) =>
    signal.addEventListener("abort", () => reject(signal.reason), {
      once: true,
    })
  );
}

test("timers: a waiting attempt times out at exactly `timeout` (a timer that fires only when due)", async () => {
  const clock = new StepClock();
  const { api, sent } = scriptedPool(hangingA, {
    clock: clock as unknown as ManualClock,
    timeout: 1_000,
  });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  clock.advance(999);
  await turns();
  assert.equal(sent[0].signal.aborted, false, "not at 999 ms");
  assert.equal(call.settled, false);
  clock.advance(1);
  assert.ok(sent[0].signal.aborted, "aborted at 1000 ms");
  assert.ok(isAttemptTimeoutError(sent[0].signal.reason));
  await turns();
  assert.ok(call.settled, "failed over at once");
  assert.deepEqual(await (await call.result).value!.json(), { from: "b" });
  assert.equal(clock.pending, 0, "the fired deadline is gone: no timer left");
  const armed = clock.armed;
  for (let i = 0; i < 3; i++) clock.advance(1);
  assert.equal(clock.armed, armed, "nothing re-arms");
});

test("timers: the caller's abort reaches the waiting attempt at once", async () => {
  const { api, sent, clock } = scriptedPool(hangingA, { timeout: 1_000 });
  using _ = api;
  const controller = new AbortController();
  const call = watchSettle(api.fetch("models", { signal: controller.signal }));
  await turns();
  const reason = new Error("user left");
  controller.abort(reason);
  assert.equal(sent[0].signal.reason, reason, "the attempt is aborted");
  await turns();
  assert.ok(call.settled);
  assert.equal((await call.result).error, reason);
  assert.equal(sent.length, 1, "no failover after the caller's abort");
  assert.equal(clock.pending, 0);
});

test("timers: a stream read for longer than `timeout` is not cut by the attempt timeout", async () => {
  const body = fedBody();
  const { api, sent, clock } = scriptedPool(
    (_, { signal }) =>
      new Response(linked(body, signal).stream, {
        headers: { "content-type": "text/event-stream" },
      }),
    { timeout: 1_000, streamIdleTimeout: 5_000 },
  );
  using _ = api;
  const response = await api.fetch("chat/completions");
  const reader = response.body!.getReader();
  let text = "";
  for (let i = 0; i < 6; i++) {
    const read = watchSettle(reader.read());
    clock.advance(500);
    body.push(`${i}`);
    await turns();
    assert.ok(read.settled, `chunk ${i} at ${500 * (i + 1)} ms`);
    text += new TextDecoder().decode((await read.result).value!.value);
  }
  assert.equal(text, "012345");
  assert.equal(sent[0].signal.aborted, false);
  body.close();
  assert.equal((await reader.read()).done, true);
});

test("timers: concurrent deadlines — clearing one keeps the timer for the other, which fires on time", async () => {
  for (const refable of [false, true]) {
    const clock = new ManualClock({ refable });
    let answerFirst!: () => void;
    const { api, sent } = scriptedPool((endpoint, sent) => {
      if (endpoint === "a" && sent.url.endsWith("/first")) {
        return new Promise<Response>((resolve) =>
          answerFirst = () => resolve(new Response("first"))
        );
      }
      return hangingA(endpoint, sent);
    }, { clock, timeout: 1_000, streamIdleTimeout: false, breaker: false });
    using _ = api;
    const first = watchSettle(api.fetch("first"));
    await turns();
    clock.advance(500);
    const second = watchSettle(api.fetch("second"));
    await turns();
    assert.equal(clock.pending, 1, "one timer for two deadlines");
    answerFirst();
    await turns();
    assert.ok(first.settled);
    assert.equal(clock.pending, 1, "the second deadline keeps its timer");
    assert.equal(clock.unrefd, 0, "and keeps it ref'd");
    clock.advance(999); // t = 1499
    await turns();
    assert.equal(sent[1].signal.aborted, false, `refable ${refable}: early`);
    clock.advance(1); // t = 1500
    assert.ok(sent[1].signal.aborted, `refable ${refable}: on time`);
    await turns();
    assert.deepEqual(await (await second.result).value!.json(), { from: "b" });
  }
});

test("timers: deadlines at fractional clock times fire exactly when due", async () => {
  const clock = new ManualClock({ start: 0 });
  const { api, sent } = scriptedPool(hangingA, {
    clock,
    timeout: 1_000,
    breaker: false,
  });
  using _ = api;
  const calls = [watchSettle(api.fetch("one"))];
  await turns();
  clock.advance(0.5);
  calls.push(watchSettle(api.fetch("two")));
  await turns();
  clock.advance(999.5); // t = 1000
  assert.ok(sent[0].signal.aborted);
  assert.equal(sent[1].signal.aborted, false);
  clock.advance(0.5); // t = 1000.5
  assert.ok(sent[1].signal.aborted, "the second at exactly 1000.5");
  await turns();
  for (const call of calls) assert.ok(call.settled);
});

for (
  const [shape, handle] of [
    ["unref() only", (id: number) => ({ id, unref() {} })],
    ["ref() only", (id: number) => ({ id, ref() {} })],
  ] as const
) {
  test(`timers: a clock whose timer handles have ${shape} gets its timers cleared when idle`, async () => {
    const clock = new StepClock(handle);
    const { api } = scriptedPool(() => new Response('{"ok":1}'), {
      clock: clock as unknown as ManualClock,
      timeout: 1_000,
      streamIdleTimeout: 1_000,
    });
    using _ = api;
    for (let i = 0; i < 3; i++) {
      const response = await api.fetch("models");
      assert.deepEqual(await response.json(), { ok: 1 });
      assert.equal(clock.pending, 0, `call ${i}: no timer kept`);
    }
    const twice = await Promise.all([api.fetch("a"), api.fetch("b")]);
    for (const response of twice) await response.body?.cancel();
    assert.equal(clock.pending, 0);
  });
}

test("timers: with timeout: false and streamIdleTimeout: false nothing times out", async () => {
  const body = fedBody();
  let hang = true;
  const { api, sent, clock } = scriptedPool(
    (endpoint, entry) =>
      hang
        ? hangingA(endpoint, entry)
        : new Response(linked(body, entry.signal).stream),
    { timeout: false, streamIdleTimeout: false, bufferLimit: false },
  );
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  assert.equal(clock.pending, 0, "no attempt timer");
  clock.advance(600_000);
  await turns();
  assert.equal(sent[0].signal.aborted, false);
  assert.equal(call.settled, false);
  hang = false;
  const response = await api.fetch("files/1");
  const read = watchSettle(response.text());
  await turns();
  assert.equal(clock.pending, 0, "no idle timer");
  clock.advance(600_000);
  await turns();
  assert.equal(read.settled, false, "a slow body is never cut");
  body.push("late");
  body.close();
  await turns();
  assert.equal((await read.result).value, "late");
});

test("timers: an answer a middleware gives without sending took no time", async () => {
  const { api, events, sent } = scriptedPool(() => new Response("sent"), {
    middleware: [(ctx) => {
      ctx.response = new Response("from middleware");
    }],
  });
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(await response.text(), "from middleware");
  assert.equal(sent.length, 0);
  const attempt = events.find((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.durationMs, 0);
  assert.equal(attempt.panic, false);
});

const NAMES = ["primary", "hk"];

function pool(clock: ManualClock, extra = {}) {
  return createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    clock,
    timeout: 5_000,
    streamIdleTimeout: 8_000,
    ...extra,
  });
}

test("timers: sequential calls re-use one unref'd timer per kind of timeout", async () => {
  const clock = new ManualClock({ refable: true });
  using _regions = mockRegions(NAMES, clock);
  const api = pool(clock);
  for (let i = 0; i < 10; i++) {
    const response = await api.fetch("models");
    await response.json();
  }
  // One for the attempt timeouts, one for the stream idle guards.
  assert.equal(clock.armed, 2, "two timers set for ten calls");
  assert.equal(clock.pending, 2);
  assert.equal(clock.unrefd, 2, "idle timers never hold a process open");
  api.close();
  assert.equal(clock.pending, 0, "close() clears them");
});

test("timers: a re-used timer still times an attempt out exactly on time", async () => {
  const clock = new ManualClock({ refable: true });
  using regions = mockRegions(NAMES, clock);
  const events: FailoverEvent[] = [];
  const seen = attemptSignals();
  using api = pool(clock, {
    onEvent: (e: FailoverEvent) => events.push(e),
    middleware: [seen.middleware],
  });
  await (await api.fetch("models")).json(); // arms the timer for t = 5000
  clock.advance(3_000);
  regions.set("primary", "hang");
  const call = later(api.fetch("models")); // deadline at t = 8000
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 2),
  );
  const waiting = seen.attempts[1];
  assert.equal(
    clock.unrefd,
    1,
    "the waiting attempt refs its timer again; the idle guard's stays unref'd",
  );
  // Each step is checked on the clock, once the pool had every chance to
  // act on it: an attempt aborted early would show here.
  clock.advance(2_000); // t = 5000: the re-used timer fires for the old deadline
  assert.equal(waiting.signal.aborted, false, "not at t = 5000");
  await turns();
  assert.equal(api.status()[1].requests, 0, "no failover at t = 5000");
  clock.advance(2_999); // t = 7999
  assert.equal(waiting.signal.aborted, false, "not at t = 7999");
  await turns();
  assert.equal(api.status()[1].requests, 0, "no failover at t = 7999");
  clock.advance(1); // t = 8000
  assert.equal(waiting.signal.aborted, true, "aborted at t = 8000");
  await turns();
  const timedOut = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary" && e.attempt === 1 &&
    "error" in e
  );
  assert.ok(timedOut?.type === "attempt");
  assert.equal(
    timedOut.durationMs,
    5_000,
    "measured before the clock moved on",
  );
  const response = await call;
  assert.equal(((await response.json()) as { region: string }).region, "hk");
});

test("timers: concurrent calls share one timer and each times out on its own deadline", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  using api = pool(clock, { breaker: false });
  const first = later(api.fetch("models"));
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  clock.advance(1_000);
  const second = later(api.fetch("models"));
  await bounded(
    "primary gets request 2",
    5_000,
    () => regions.received("primary", 2),
  );
  assert.equal(clock.pending, 1, "two waiting attempts, one timer");
  clock.advance(4_000); // t = 5000: the first times out, the second waits
  await first;
  assert.equal(regions.get("hk").received.length, 1);
  clock.advance(999);
  await turns();
  assert.equal(api.status()[1].requests, 1, "second not early");
  clock.advance(1);
  await second;
  assert.equal(regions.get("hk").received.length, 2);
  await bounded("every timer gone", 5_000, () => clock.idle());
  assert.equal(clock.pending, 0, "browser-style timers are cleared when idle");
});
