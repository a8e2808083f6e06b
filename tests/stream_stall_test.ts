// A stream that stalls mid-answer, on every runtime: the reader gets a
// StreamIdleTimeoutError naming the endpoint, the endpoint is blamed, and no
// timer is left behind.

import { assert, test } from "./_harness.ts";
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
  await clock.scheduled(1_000);
  clock.advance(1_000);
  const error = await pending;
  assert.ok(isStreamIdleTimeoutError(error), String(error));
  assert.equal(error.endpoint, "primary");
  await seen((e) => e.type === "stream-stall" && e.endpoint === "primary");
  assert.equal(api.status()[0].failures, 1);
  assert.equal(
    regions.get("hk").received.length,
    0,
    "committed at headers: no failover",
  );
  await clock.idle();
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
  await clock.scheduled(1_000);
  clock.advance(1_000);
  assert.ok(isStreamIdleTimeoutError(await whole));
  regions.set("primary", "up");
  const next = await api.fetch("chat/completions", { method: "POST", body });
  const events = (await next.text()).split("\n\n").filter(Boolean);
  assert.equal(events.at(-1), "data: [DONE]");
  await clock.idle();
});
