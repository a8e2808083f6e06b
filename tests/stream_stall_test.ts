// A stream that stalls mid-answer, on every runtime: the reader gets a
// StreamIdleTimeoutError naming the endpoint, the endpoint is blamed, and no
// timer is left behind.

import { assert, bounded, test } from "./_harness.ts";
import { turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import { isStreamIdleTimeoutError } from "ky-failover";

const NAMES = ["primary", "hk"];
const body = JSON.stringify({
  model: "gpt-4.1",
  messages: [{ role: "user", content: "hi" }],
  stream: true,
});

test("a stream stalled after 2 events ends with StreamIdleTimeoutError for its reader", async () => {
  const { api, clock, seen } = tieredPool(NAMES, { streamIdleTimeout: 1_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { stallAfter: 2 });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body,
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while ((text.match(/\n\n/g) ?? []).length < 2) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended instead of stalling");
    text += decoder.decode(value, { stream: true });
  }
  const pending = reader.read().then(() => undefined, (e) => e);
  await bounded("a timer of 1000 ms", 5_000, () => clock.scheduled(1_000));
  clock.advance(1_000);
  const error = await pending;
  assert.ok(isStreamIdleTimeoutError(error), String(error));
  assert.equal(error.endpoint, "primary");
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "stream-stall" && e.endpoint === "primary"),
  );
  assert.equal(api.status()[0].failures, 1);
  assert.equal(
    regions.get("hk").received.length,
    0,
    "committed at headers: no failover",
  );
  await bounded("every timer gone", 5_000, () => clock.idle());
});

test("a stalled stream read whole (text()) fails the same way; the next call still works", async () => {
  const { api, clock } = tieredPool(NAMES, { streamIdleTimeout: 1_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { stallAfter: 1 });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body,
  });
  const whole = response.text().then(() => undefined, (e) => e);
  await bounded("a timer of 1000 ms", 5_000, () => clock.scheduled(1_000));
  await turns(); // the event before the stall is read: the stalled read waits
  clock.advance(1_000);
  assert.ok(
    isStreamIdleTimeoutError(await bounded("text()", 5_000, () => whole)),
  );
  regions.set("primary", "up");
  const next = await api.fetch("chat/completions", { method: "POST", body });
  const events = (await next.text()).split("\n\n").filter(Boolean);
  assert.equal(events.at(-1), "data: [DONE]");
  await bounded("every timer gone", 5_000, () => clock.idle());
});

test("stalls count toward the breaker: two streams stalling at once open it with failureThreshold 2", async () => {
  // Streams stalling together, as when an endpoint hangs mid-answer.
  const { api, clock, events } = tieredPool(NAMES, {
    streamIdleTimeout: 1_000,
    breaker: { failureThreshold: 2, cooldown: 60_000 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { stallAfter: 1 });
  const responses = await Promise.all(
    [1, 2].map(() => api.fetch("chat/completions", { method: "POST", body })),
  );
  const reads = responses.map((r) => r.text().then(() => undefined, (e) => e));
  await bounded(
    "both stalled reads' idle timer",
    5_000,
    () => clock.scheduled(1_000),
  );
  await turns();
  clock.advance(1_000);
  for (const error of await Promise.all(reads)) {
    assert.ok(isStreamIdleTimeoutError(error), String(error));
  }
  assert.equal(api.status()[0].consecutiveFailures, 2);
  assert.equal(api.status()[0].state, "open");
  assert.deepEqual(
    events.flatMap((e) =>
      e.type === "breaker" ? [`${e.endpoint}:${e.from}→${e.to}`] : []
    ),
    ["primary:closed→open"],
  );
  regions.set("primary", "up");
  const next = await api.fetch("chat/completions", { method: "POST", body });
  assert.match(await next.text(), /"content":" hk"/, "primary is out");
});

test("streams stalling one after another open the breaker too: a stream's 200 does not end the run its stall continues", async () => {
  const { api, clock, events } = tieredPool(NAMES, {
    streamIdleTimeout: 1_000,
    breaker: { failureThreshold: 2, cooldown: 60_000 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { stallAfter: 1 });
  for (let i = 1; i <= 2; i++) {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body,
    });
    const read = response.text().then(() => undefined, (e) => e);
    await bounded(
      `stream ${i}'s idle timer`,
      5_000,
      () => clock.scheduled(1_000),
    );
    await turns();
    clock.advance(1_000);
    const error = await read;
    assert.ok(isStreamIdleTimeoutError(error), String(error));
    assert.equal(api.status()[0].consecutiveFailures, i, `after stall ${i}`);
  }
  assert.equal(api.status()[0].state, "open");
  assert.deepEqual(
    events.flatMap((e) =>
      e.type === "breaker" ? [`${e.endpoint}:${e.from}→${e.to}`] : []
    ),
    ["primary:closed→open"],
  );
});

test("a slow consumer never trips the idle timer: it runs only while a read waits", async () => {
  const { api, clock, events } = tieredPool(NAMES, {
    streamIdleTimeout: 1_000,
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body,
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await bounded("a read", 5_000, () => reader.read());
    if (done) break;
    text += decoder.decode(value, { stream: true });
    // The consumer takes 5 s over each chunk, while no read is pending.
    for (let step = 0; step < 5; step++) {
      assert.equal(clock.pending, 0, "no idle timer while nobody reads");
      clock.advance(1_000);
      await turns(1);
    }
  }
  assert.match(text, /data: \[DONE\]\n\n$/);
  assert.ok(!events.some((e) => e.type === "stream-stall"));
  assert.equal(api.status()[0].failures, 0);
  assert.equal(regions.get("hk").received.length, 0);
});
