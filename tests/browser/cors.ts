// Browser only: the esbuild bundle against real loopback regions on other
// origins (other ports of 127.0.0.1), through the browser's own fetch, CORS
// preflights and CORS-filtered headers included. The runner
// (scripts/test_browser.ts) starts the regions, each in a fixed mode, and
// hands their URLs to the page as `globalThis.__REGIONS__`; the redirect
// tests' endpoints (tests/browser/_redirect_server.ts) come as
// `globalThis.__REDIRECTS__`, and `__redirectLog()` returns what each of
// their servers received; `__received(name)` what a loopback region did.

import { assert, test } from "../_harness.ts";
import { walk } from "../_walk.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isAttemptTimeoutError,
  isFailoverError,
  isRedirectError,
} from "ky-failover";
import type { RedirectLog } from "./_redirect_server.ts";

/** The loopback regions and how each behaves (see the runner). */
export type RegionName =
  | "ok"
  | "flaky"
  | "limited"
  | "hang"
  | "bad"
  | "reset"
  | "gpt-down"
  | "gpt-only"
  | "deepseek"
  | "deepseek-metered"
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

// ---------------------------------------------------------------- redirects
// Chromium answers `redirect: "manual"` with an opaque redirect when the
// 3xx carries CORS headers (a RedirectError, status 0) and fails the fetch
// when it does not (TypeError) — either way nothing may reach the target.

type RedirectKey = "307-cors" | "302-cors" | "307-bare" | "302-bare";

function redirectLog(): Promise<RedirectLog> {
  const page = globalThis as { __redirectLog?: () => Promise<RedirectLog> };
  if (!page.__redirectLog) throw new Error("no __redirectLog on the page");
  return page.__redirectLog();
}

async function redirectFailsOver(key: RedirectKey): Promise<void> {
  const redirects =
    (globalThis as { __REDIRECTS__?: Record<RedirectKey, string> })
      .__REDIRECTS__;
  if (!redirects) throw new Error("no __REDIRECTS__ on the page");
  const name = `redirect-${key}`;
  const before = await redirectLog();
  const events: FailoverEvent[] = [];
  using api = createFailover({
    endpoints: [
      { name, url: redirects[key], apiKey: "sk-redirected", priority: 1 },
      { name: "ok", url: url("ok"), apiKey: "sk-ok", priority: 2 },
    ],
    onEvent: (e) => events.push(e),
    timeout: 5_000,
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
  });
  const after = await redirectLog();
  const onA = after.a.slice(before.a.length);
  const onB = after.b.slice(before.b.length);
  assert.equal(
    JSON.stringify(onB),
    "[]",
    `the redirect target must receive nothing (preflights included); it got ${
      JSON.stringify(onB)
    }`,
  );
  assert.ok(
    onA.some((r) => r.method === "POST" && r.path.startsWith(`/${key}/`)),
    `the endpoint got the POST it redirects: ${JSON.stringify(onA)}`,
  );
  assert.equal(response.status, 200);
  const reply = await response.json();
  assert.equal(reply.choices[0].message.content, "hello from ok");
  const attempts = events.filter((e) => e.type === "attempt");
  assert.deepEqual(
    attempts.map((e) => e.type === "attempt" && e.endpoint),
    [name, "ok"],
  );
  const first = attempts[0].type === "attempt" ? attempts[0] : undefined;
  assert.equal(first?.status, undefined);
  const error = first?.error;
  if (key.endsWith("-cors")) {
    assert.ok(isRedirectError(error), `a RedirectError, got ${error}`);
    assert.equal(error.endpoint, name);
    assert.equal(error.status, 0);
    assert.equal(error.location, undefined);
    assert.ok(error.message.startsWith(`${name} redirected to `));
  } else {
    // Without CORS headers on the 3xx, Chromium fails the fetch itself.
    assert.ok(
      error instanceof TypeError && !isRedirectError(error),
      `a TypeError, got ${error}`,
    );
  }
  assert.equal(api.status()[0].failures, 1);
}

test("browser: a 307 to another origin, with CORS on the 3xx, reaches nothing there, is a RedirectError and fails over", () =>
  redirectFailsOver("307-cors"));

test("browser: a 302 to another origin, with CORS on the 3xx, reaches nothing there, is a RedirectError and fails over", () =>
  redirectFailsOver("302-cors"));

test("browser: a 307 to another origin, without CORS on the 3xx, reaches nothing there and fails over", () =>
  redirectFailsOver("307-bare"));

test("browser: a 302 to another origin, without CORS on the 3xx, reaches nothing there and fails over", () =>
  redirectFailsOver("302-bare"));

// ------------------------------------------------------------ query secrets

const QUERY_SECRET = "SECRET-QUERY-KEY";

/** Every text a caller could get from `value`, errors opened up. */
function texts(value: unknown): string[] {
  const open = (_key: string, v: unknown) =>
    v instanceof Error
      ? {
        ...v,
        name: v.name,
        message: v.message,
        stack: v.stack,
        cause: v.cause,
      }
      : v;
  return [
    String(value),
    JSON.stringify(value) ?? "",
    JSON.stringify(value, open) ?? "",
    ...walk(value).texts.map((t) => t.text),
  ];
}

function assertNoQuerySecret(label: string, value: unknown): void {
  const leaks = texts(value).filter((t) => t.includes(QUERY_SECRET));
  assert.equal(leaks.length, 0, `${label} holds the query key`);
}

test("browser: an endpoint's ?api-key= stays out of the Response, the events and status()", async () => {
  const events: FailoverEvent[] = [];
  using api = createFailover({
    endpoints: [{
      name: "keyed",
      url: `${url("ok")}?api-key=${QUERY_SECRET}`,
      apiKey: "sk-keyed",
    }],
    onEvent: (e) => events.push(e),
    timeout: 5_000,
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.url, `${url("ok")}/chat/completions`);
  assertNoQuerySecret("the Response", response);
  assertNoQuerySecret("response.clone()", response.clone());
  assert.equal(
    (await response.json()).choices[0].message.content,
    "hello from ok",
  );
  assert.ok(events.length > 0);
  for (const event of events) assertNoQuerySecret(`${event.type} event`, event);
  assertNoQuerySecret("status()", api.status());
});

test("browser: a refused port's FailoverError holds no ?api-key=", async () => {
  // Chromium's own "Failed to fetch" names no URL; the second fetch names
  // it in its error as Deno's does, so the library's scrubbing is what
  // keeps the key out.
  let sentTo = "";
  const namingFetch: typeof fetch = async (input, init) => {
    sentTo = String(input instanceof Request ? input.url : input);
    try {
      return await fetch(input, init);
    } catch (cause) {
      throw new TypeError(
        `error sending request for url (${sentTo}): ${cause}`,
        { cause },
      );
    }
  };
  for (
    const [label, fetchImpl] of [["Chromium's fetch", fetch], [
      "a fetch naming the URL",
      namingFetch,
    ]] as const
  ) {
    const events: FailoverEvent[] = [];
    using api = createFailover({
      endpoints: [{
        name: "keyed-closed",
        url: `${url("closed")}?api-key=${QUERY_SECRET}`,
        apiKey: "sk-keyed",
      }],
      onEvent: (e) => events.push(e),
      timeout: 5_000,
      fetch: fetchImpl,
    });
    const error = await api.fetch("chat/completions", {
      method: "POST",
      body: "{}",
    }).then(() => assert.fail(`${label}: expected a rejection`), (e) => e);
    assert.ok(
      isFailoverError(error),
      `${label}: a FailoverError, got ${error}`,
    );
    assert.ok(error.attempts.length >= 1);
    assertNoQuerySecret(`${label}: its message`, error.message);
    assertNoQuerySecret(`${label}: its cause`, error.cause);
    assertNoQuerySecret(
      `${label}: JSON of its attempts`,
      JSON.stringify(error.attempts),
    );
    assertNoQuerySecret(`${label}: the FailoverError`, error);
    for (const event of events) {
      assertNoQuerySecret(`${label}: ${event.type} event`, event);
    }
    assertNoQuerySecret(`${label}: status()`, api.status());
  }
  assert.ok(sentTo.includes(QUERY_SECRET), "the request carried the key");
});

// ------------------------------------------------------------ providers
// "gpt-down" (503), "gpt-only", "deepseek" and "deepseek-metered" serve
// only their own models: a POST naming another gets OpenAI's 404
// model_not_found. "deepseek-metered" reports 1234 prompt tokens (1000 of
// them cached) and 567 completion tokens.

interface Received {
  method: string;
  path: string;
  authorization: string | null;
  body: string;
}

function received(name: RegionName): Promise<Received[]> {
  const page = globalThis as {
    __received?: (name: string) => Promise<Received[]>;
  };
  if (!page.__received) throw new Error("no __received on the page");
  return page.__received(name);
}

function providerPool(
  served: [
    RegionName,
    readonly string[] | Record<string, string> | undefined,
  ][],
) {
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: served.map(([name, models], i) => ({
      name,
      url: url(name),
      apiKey: `sk-${name}`,
      priority: i + 1,
      ...(models === undefined ? {} : { models }),
    })),
    onEvent: (e) => events.push(e),
    timeout: 5_000,
  });
  return { api, events };
}

function attemptsOf(events: FailoverEvent[]) {
  return events.flatMap((e) =>
    e.type === "attempt" ? [[e.endpoint, e.status, e.model, e.code]] : []
  );
}

test("browser: a 503 provider fails over across origins to another, which gets its own model and the caller's bytes", async () => {
  const { api, events } = providerPool([
    ["gpt-down", ["gpt-4.1"]],
    ["deepseek", { "gpt-4.1": "deepseek-chat" }],
  ]);
  using _ = api;
  const down = (await received("gpt-down")).length;
  const deepseek = (await received("deepseek")).length;
  const raw = '{ "model" : "gpt-4.1", "temperature": 1.0, ' +
    '"seed": 12345678901234567890, "messages": [{"role": "user", ' +
    '"content": "\\"model\\": \\"gpt-4.1\\" é"}] }';
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
  });
  assert.equal(response.status, 200);
  const answer = await response.json();
  assert.equal(answer.model, "deepseek-chat");
  assert.equal(answer.choices[0].message.content, "hello from deepseek");
  assert.deepEqual(attemptsOf(events), [
    ["gpt-down", 503, "gpt-4.1", undefined],
    ["deepseek", 200, "deepseek-chat", undefined],
  ]);
  const [toDown] = (await received("gpt-down")).slice(down);
  const [toDeepseek] = (await received("deepseek")).slice(deepseek);
  assert.equal(toDown.body, raw);
  assert.equal(toDown.authorization, "Bearer sk-gpt-down");
  assert.equal(
    toDeepseek.body,
    raw.replace('"model" : "gpt-4.1"', '"model" : "deepseek-chat"'),
  );
  assert.equal(toDeepseek.authorization, "Bearer sk-deepseek");

  // Streamed, through ky.
  const streamed = await api.ky.post("chat/completions", {
    json: { model: "gpt-4.1", messages: [], stream: true },
  });
  const text = await streamed.text();
  const chunks = text.split("\n\n").filter((f) => f.startsWith("data: {"))
    .map((f) => JSON.parse(f.slice("data: ".length)));
  assert.ok(chunks.length > 0);
  assert.ok(chunks.every((c) => c.model === "deepseek-chat"));
  assert.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    "hello from deepseek",
  );
  assert.equal(api.status()[1].lastModel, "deepseek-chat");
});

test("browser: a cross-origin 404 model_not_found is learned: no more calls there for that model, its others still go", async () => {
  const { api, events } = providerPool([
    ["gpt-only", undefined],
    ["deepseek", { o3: "deepseek-reasoner", "gpt-4.1": "deepseek-chat" }],
  ]);
  using _ = api;
  const before = (await received("gpt-only")).length;
  const ask = async (model: string) =>
    await api.ky.post("chat/completions", {
      json: { model, messages: [{ role: "user", content: "hi" }] },
    }).json<{ model: string; choices: { message: { content: string } }[] }>();

  assert.equal((await ask("o3")).model, "deepseek-reasoner");
  assert.deepEqual(attemptsOf(events), [
    ["gpt-only", 404, "o3", "model_not_found"],
    ["deepseek", 200, "deepseek-reasoner", undefined],
  ]);
  assert.equal((await ask("o3")).model, "deepseek-reasoner");
  const answer = await ask("gpt-4.1");
  assert.equal(answer.choices[0].message.content, "hello from gpt-only");

  const toGptOnly = (await received("gpt-only")).slice(before);
  assert.deepEqual(
    toGptOnly.map((r) => JSON.parse(r.body).model),
    ["o3", "gpt-4.1"],
  );
  assert.deepEqual(
    events.filter((e) => e.type === "model-not-found"),
    [{
      type: "model-not-found",
      endpoint: "gpt-only",
      model: "o3",
      sent: "o3",
    }],
  );
  const status = api.status()[0];
  assert.equal(status.state, "healthy");
  assert.equal(status.failures, 0);
  assert.deepEqual(status.models, { serves: undefined, notFound: ["o3"] });
});

test("browser: a streamed chat with include_usage, failed over across origins to a renamed model, is counted and priced exactly", async () => {
  const events: FailoverEvent[] = [];
  using api = createFailover({
    endpoints: [
      {
        name: "gpt-down",
        url: url("gpt-down"),
        apiKey: "sk-gpt-down",
        priority: 1,
        models: ["gpt-4.1"],
      },
      {
        name: "deepseek-metered",
        url: url("deepseek-metered"),
        apiKey: "sk-deepseek-metered",
        priority: 2,
        models: { "gpt-4.1": "deepseek-chat" },
      },
    ],
    prices: {
      "gpt-4.1": { input: 2, output: 8 },
      "deepseek-chat": { input: 0.28, output: 0.42, cachedInput: 0.028 },
    },
    onEvent: (e) => events.push(e),
    timeout: 5_000,
  });
  const before = (await received("deepseek-metered")).length;
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "gpt-4.1",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  // Nothing is counted before the stream was read to its end.
  assert.equal(api.usage().total.calls, 0);
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  const frames = text.split("\n\n").filter(Boolean);
  assert.equal(frames.at(-1), "data: [DONE]");
  const chunks = frames.slice(0, -1).map((f) =>
    JSON.parse(f.slice("data: ".length))
  );
  assert.ok(chunks.every((c) => c.model === "deepseek-chat"));
  assert.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    "hello from deepseek-metered",
  );
  assert.deepEqual(chunks.at(-1).usage, {
    prompt_tokens: 1234,
    completion_tokens: 567,
    total_tokens: 1801,
    prompt_tokens_details: { cached_tokens: 1000 },
  });
  assert.deepEqual(attemptsOf(events), [
    ["gpt-down", 503, "gpt-4.1", undefined],
    ["deepseek-metered", 200, "deepseek-chat", undefined],
  ]);
  const [sent] = (await received("deepseek-metered")).slice(before);
  assert.equal(JSON.parse(sent.body).model, "deepseek-chat");
  assert.deepEqual(JSON.parse(sent.body).stream_options, {
    include_usage: true,
  });

  // At deepseek-chat's price, not the asked gpt-4.1's (0.007004):
  //   (234 × 0.28 + 1000 × 0.028 + 567 × 0.42) / 1e6
  //   = (65.52 + 28 + 238.14) / 1e6 = 0.00033166
  const counted = {
    calls: 1,
    unmetered: 0,
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00033166,
  };
  assert.deepEqual(api.usage(), {
    total: counted,
    byEndpoint: {
      "gpt-down": {
        calls: 0,
        unmetered: 0,
        inputTokens: 0,
        cachedInputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
      },
      "deepseek-metered": counted,
    },
    byModel: { "deepseek-chat": counted },
  });
  assert.deepEqual(api.status()[1].usage, {
    ...counted,
    byModel: { "deepseek-chat": counted },
  });
  assert.deepEqual(events.filter((e) => e.type === "usage"), [{
    type: "usage",
    endpoint: "deepseek-metered",
    model: "deepseek-chat",
    inputTokens: 1234,
    cachedInputTokens: 1000,
    outputTokens: 567,
    costUsd: 0.00033166,
  }]);
});
