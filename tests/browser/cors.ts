// Browser only: the esbuild bundle against real loopback regions on other
// origins (other ports of 127.0.0.1), through the browser's own fetch, CORS
// preflights and CORS-filtered headers included. The runner
// (scripts/test_browser.ts) starts the regions, each in a fixed mode, and
// hands their URLs to the page as `globalThis.__REGIONS__`.

import { assert, test } from "../_harness.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isAttemptTimeoutError,
} from "ky-failover";

/** The loopback regions and how each behaves (see the runner). */
export type RegionName =
  | "ok"
  | "flaky"
  | "limited"
  | "hang"
  | "bad"
  | "reset"
  | "closed";

function url(name: RegionName): string {
  const regions =
    (globalThis as { __REGIONS__?: Record<RegionName, string> }).__REGIONS__;
  if (!regions) throw new Error("no __REGIONS__ on the page");
  return regions[name];
}

function pool(names: RegionName[], extra: Partial<FailoverOptions> = {}) {
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: names.map((name, i) => ({
      name,
      url: url(name),
      apiKey: `sk-${name}`,
      priority: i + 1,
    })),
    onEvent: (e) => events.push(e),
    timeout: 5_000,
    ...extra,
  });
  return { api, events };
}

test("browser: a closed port fails over; each region gets only its own key, through a CORS preflight", async () => {
  const { api } = pool(["closed", "ok"]);
  using _ = api;
  const echo = await api.ky.get("echo", {
    headers: { authorization: "Bearer sk-caller", "x-custom": "kept" },
  }).json<{ region: string; authorization: string; custom: string }>();
  assert.deepEqual(echo, {
    region: "ok",
    authorization: "Bearer sk-ok",
    custom: "kept",
  });
  assert.equal(api.status()[0].failures, 1);
});

test("browser: a reset connection and a 503 fail over to the next region", async () => {
  const { api, events } = pool(["reset", "flaky", "ok"]);
  using _ = api;
  const reply = await api.ky.post("chat/completions", {
    json: { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] },
  }).json<{ choices: { message: { content: string } }[] }>();
  assert.equal(reply.choices[0].message.content, "hello from ok");
  assert.deepEqual(
    events.filter((e) => e.type === "attempt").map((e) =>
      e.type === "attempt" && [e.endpoint, e.status]
    ),
    [["reset", undefined], ["flaky", 503], ["ok", 200]],
  );
});

test("browser: a 429's retry-after-ms is readable cross-origin and benches the region for it", async () => {
  const { api } = pool(["limited", "ok"]);
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const limited = api.status()[0];
  assert.equal(limited.state, "rate-limited");
  const benchedFor = limited.availableAt! - Date.now();
  // 5000 ms from the header; 1000 ms (the fallback) would mean it was hidden.
  assert.ok(
    benchedFor > 3_000 && benchedFor <= 5_000,
    `benched for ${benchedFor} ms`,
  );
});

test("browser: a hanging region is dropped after the per-attempt timeout", async () => {
  const { api, events } = pool(["hang", "ok"], { timeout: 300 });
  using _ = api;
  const models = await api.ky.get("models").json<{ data: { id: string }[] }>();
  assert.equal(models.data[0].id, "gpt-4.1");
  const first = events.find((e) => e.type === "attempt");
  assert.ok(first?.type === "attempt" && isAttemptTimeoutError(first.error));
});

test("browser: a 400 comes back at once, without failover", async () => {
  const { api, events } = pool(["bad", "ok"]);
  using _ = api;
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.type, "invalid_request_error");
  assert.equal(events.filter((e) => e.type === "attempt").length, 1);
});

test("browser: a streamed completion arrives as server-sent events after a failover", async () => {
  const { api } = pool(["flaky", "ok"]);
  using _ = api;
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [], stream: true }),
  });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    reads++;
    text += value;
  }
  const frames = text.split("\n\n").filter(Boolean);
  assert.equal(frames.at(-1), "data: [DONE]");
  const content = frames.slice(0, -1)
    .map((f) =>
      JSON.parse(f.slice("data: ".length)).choices[0]?.delta.content ?? ""
    )
    .join("");
  assert.equal(content, "hello from ok");
  assert.ok(reads >= 1);
});

test("browser: the caller's abort stops a hanging call at once", async () => {
  let sent!: () => void;
  const sending = new Promise<void>((resolve) => sent = resolve);
  const { api } = pool(["hang"], {
    timeout: false,
    maxAttempts: 1,
    middleware: [async (_ctx, next) => {
      sent();
      await next();
    }],
  });
  using _ = api;
  const controller = new AbortController();
  const call = api.fetch("models", { signal: controller.signal }).then(
    () => undefined,
    (e) => e,
  );
  await sending;
  const reason = new Error("user navigated away");
  controller.abort(reason);
  assert.equal(await call, reason);
  assert.equal(api.status()[0].inFlight, 0);
});
