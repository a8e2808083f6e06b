// Faults of one endpoint that used to reach the caller: a key the endpoint
// rejects (401 / 403), a non-streamed body that breaks or stalls after its
// headers, and a stream still being read when the pool closes.
//
// Keys: mocked regions (MSW). Bodies and close(): real loopback sockets,
// timeouts on a manual clock.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { tieredPool } from "./_pool.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import { startFarm } from "./_region_farm.ts";
import { farmPool } from "./_farm_pool.ts";
import { pattern, startSplitBody } from "./_body_faults.ts";
import { scriptedPool } from "./_streams.ts";
import { turns } from "./_observe.ts";
import {
  createFailover,
  type FailoverEvent,
  isClosedError,
  isFailoverError,
  isStreamIdleTimeoutError,
} from "ky-failover";
import { isHTTPError } from "ky";

const NAMES = ["primary", "hk"];
const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };
const post = { method: "POST", body: JSON.stringify(chat) };

/** Which region answered a mocked call (the regions echo their name). */
async function regionOf(response: Response): Promise<string> {
  assert.equal(response.status, 200);
  return ((await response.json()) as { region: string }).region;
}

// --- 1. A key the endpoint rejects -------------------------------------

for (const status of [401, 403]) {
  test(`a ${status} to an endpoint's own key fails over, benches it as unauthorized, and the bench ends`, async () => {
    const { api, clock, events } = tieredPool(NAMES);
    using _ = api;
    using regions = mockRegions(NAMES);
    regions.set("primary", { status });
    const started = clock.now();

    assert.equal(
      await regionOf(await api.fetch("chat/completions", post)),
      "hk",
    );
    assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });

    const until = started + 300_000;
    const auth = events.filter((e) => e.type === "auth-failure");
    assert.equal(auth.length, 1);
    const event = auth[0] as Extract<FailoverEvent, { type: "auth-failure" }>;
    assert.equal(event.endpoint, "primary");
    assert.equal(event.status, status);
    assert.equal(event.benchMs, 300_000);
    assert.equal(event.until, until);
    assert.match(event.message, /primary/);
    assert.match(event.message, /key/);
    assert.ok(!event.message.includes("sk-primary"), "no key in the message");
    const attempt = events.find((e) =>
      e.type === "attempt" && e.endpoint === "primary"
    );
    assert.ok(attempt?.type === "attempt");
    assert.equal(attempt.status, status);
    assert.equal(attempt.outcome, "unauthorized");
    const success = events.find((e) => e.type === "success");
    assert.ok(success?.type === "success");
    assert.equal(success.endpoint, "hk");

    const primary = api.status()[0];
    assert.equal(primary.state, "unauthorized");
    assert.equal(primary.availableAt, until);
    assert.equal(primary.lastError, `HTTP ${status}: credentials rejected`);
    assert.equal(primary.lastErrorAt, started);
    assert.equal(primary.failures, 0, "a rejected key is not a failure");

    // Fixed, but still benched: no traffic until the bench ends.
    regions.set("primary", "up");
    clock.advance(299_999);
    assert.equal(
      await regionOf(await api.fetch("chat/completions", post)),
      "hk",
    );
    assert.deepEqual(regions.counts(), { primary: 1, hk: 2 });
    clock.advance(1);
    assert.equal(api.status()[0].state, "healthy");
    assert.equal(api.status()[0].availableAt, undefined);
    assert.equal(
      await regionOf(await api.fetch("chat/completions", post)),
      "primary",
    );
    assert.deepEqual(regions.counts(), { primary: 2, hk: 2 });
  });
}

test("a 403 to an endpoint's own headers (no apiKey) fails over; authFailure.bench sets the bench", async () => {
  const { api, clock, events } = tieredPool(NAMES, {
    endpoints: [
      {
        name: "primary",
        url: "https://primary.example.ai/v1",
        headers: { "api-key": "azure-primary" },
        priority: 1,
      },
      { name: "hk", url: "https://hk.example.ai/v1", priority: 2 },
    ],
    authFailure: { bench: 1_000 },
  });
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 403 });
  const started = clock.now();
  assert.equal(await regionOf(await api.fetch("chat/completions", post)), "hk");
  assert.equal(
    regions.get("primary").received[0].headers.get("api-key"),
    "azure-primary",
  );
  const event = events.find((e) => e.type === "auth-failure");
  assert.ok(event?.type === "auth-failure");
  assert.equal(event.benchMs, 1_000);
  assert.equal(event.until, started + 1_000);
  assert.equal(api.status()[0].state, "unauthorized");
  assert.equal(api.status()[0].availableAt, started + 1_000);

  regions.set("primary", "up");
  clock.advance(999);
  assert.equal(await regionOf(await api.fetch("chat/completions", post)), "hk");
  clock.advance(1);
  assert.equal(
    await regionOf(await api.fetch("chat/completions", post)),
    "primary",
  );
  assert.deepEqual(regions.counts(), { primary: 2, hk: 2 });
});

test("a passing health-check probe ends an auth bench at once", async () => {
  const { api } = tieredPool(NAMES);
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 401 });
  assert.equal(await regionOf(await api.fetch("chat/completions", post)), "hk");
  assert.equal(api.status()[0].state, "unauthorized");

  regions.set("primary", "up"); // the key was fixed
  await api.checkHealth();
  const probe = regions.get("primary").received.at(-1)!;
  assert.equal(probe.method, "GET");
  assert.equal(probe.authorization, "Bearer sk-primary");
  assert.equal(api.status()[0].state, "healthy");
  assert.equal(api.status()[0].availableAt, undefined);
  assert.equal(
    await regionOf(await api.fetch("chat/completions", post)),
    "primary",
  );
});

test("every endpoint rejects its key: fetch returns the 401, ky throws HTTPError 401 (not a FailoverError)", async () => {
  const { api, clock } = tieredPool(NAMES);
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 401 });
  regions.set("hk", { status: 401 });

  const response = await api.fetch("chat/completions", post);
  assert.equal(response.status, 401);
  const body = (await response.json()) as { error: { message: string } };
  assert.match(
    body.error.message,
    /^hk: simulated HTTP 401/,
    "the last answer",
  );
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });

  clock.advance(300_000); // both benches over: both are tried again
  const error = await api.ky.post("chat/completions", { json: chat }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(!isFailoverError(error), String(error));
  assert.ok(isHTTPError(error), String(error));
  assert.equal(error.response.status, 401);
  assert.deepEqual(regions.counts(), { primary: 2, hk: 2 });
});

test("authFailure: false returns a 401 at once, as any other 4xx", async () => {
  const { api, events } = tieredPool(NAMES, { authFailure: false });
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 401 });
  const response = await api.fetch("chat/completions", post);
  assert.equal(response.status, 401);
  await response.body?.cancel();
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0 });
  assert.ok(!events.some((e) => e.type === "auth-failure"));
  const attempt = events.find((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.outcome, "final");
  assert.equal(api.status()[0].state, "healthy");
});

test("an endpoint without credentials of its own returns its 401 at once", async () => {
  const { api, events } = tieredPool(NAMES, {
    endpoints: endpointsFor(NAMES, (_, i) => ({
      apiKey: undefined,
      priority: i + 1,
    })),
  });
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 401 });
  const response = await api.fetch("chat/completions", post);
  assert.equal(response.status, 401);
  await response.body?.cancel();
  assert.equal(regions.get("primary").received[0].authorization, null);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0 });
  assert.ok(!events.some((e) => e.type === "auth-failure"));
  assert.equal(api.status()[0].state, "healthy");
});

// --- 2. Non-streamed bodies are read whole inside the attempt ------------

const poolOver = farmPool;

async function content(response: Response): Promise<string> {
  const body = (await response.json()) as {
    choices: { message: { content: string } }[];
  };
  return body.choices[0].message.content;
}

test("a JSON answer whose connection resets mid-body fails over; the call gets hk's body", async () => {
  await using farm = await startFarm(NAMES);
  const { api, events } = poolOver(farm);
  using _ = api;
  await farm.region("primary").setMode("reset");
  const response = await api.fetch("chat/completions", post);
  assert.equal(await content(response), "hello from hk");
  assert.deepEqual(
    [farm.region("primary").received.length, farm.region("hk").received.length],
    [1, 1],
  );
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary"
  );
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.status, undefined, "no answer after all");
  assert.ok(attempt.error instanceof Error, String(attempt.error));
  assert.equal(attempt.outcome, "failover");
  const success = events.find((e) => e.type === "success");
  assert.ok(success?.type === "success");
  assert.equal(success.endpoint, "hk");
  assert.equal(success.attempts, 2);
  assert.equal(api.status()[0].failures, 1, "the broken body counts");

  // ky's .json() sees the same: hk's reply.
  const reply = await api.ky.post("chat/completions", { json: chat }).json<
    { choices: { message: { content: string } }[] }
  >();
  assert.equal(reply.choices[0].message.content, "hello from hk");
});

test("a JSON answer whose body stalls fails over after streamIdleTimeout (StreamIdleTimeoutError naming the endpoint)", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock, events } = poolOver(farm);
  using _ = api;
  // Non-streamed request: headers, a content-length of 4096, the start of
  // the JSON, then nothing.
  await farm.region("primary").setMode({ stallStream: 0 });
  const call = api.fetch("chat/completions", post);
  // The body is read inside the attempt: its idle deadline is armed before
  // the call returns.
  const first = await Promise.race([
    call.then(() => "returned"),
    clock.scheduled(1_000).then(() => "reading"),
  ]);
  assert.equal(first, "reading", "returned before its body was read");
  assert.equal(farm.region("hk").received.length, 0, "not before the stall");
  clock.advance(1_000); // the per-attempt timeout (2 s) has not run out
  const response = await call;
  assert.equal(await content(response), "hello from hk");
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary"
  );
  assert.ok(attempt?.type === "attempt");
  assert.ok(isStreamIdleTimeoutError(attempt.error), String(attempt.error));
  assert.equal(attempt.error.endpoint, "primary");
  assert.equal(attempt.outcome, "failover");
  assert.ok(
    events.some((e) => e.type === "stream-stall" && e.endpoint === "primary"),
  );
  const success = events.find((e) => e.type === "success");
  assert.ok(success?.type === "success");
  assert.equal(success.endpoint, "hk");
  assert.equal(api.status()[0].failures, 1);
  assert.equal(clock.pending, 0, "no timer outlives the call");
});

test("a text/event-stream answer is not buffered: committed at its headers", async () => {
  await using farm = await startFarm(NAMES);
  const { api, clock } = poolOver(farm);
  using _ = api;
  // One event, then the stream holds: a buffered read would wait for more.
  await farm.region("primary").setMode({ stallStream: 1 });
  const call = api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...chat, stream: true }),
  });
  // A body read before the return would arm a 1 s idle deadline first.
  const first = await Promise.race([
    call,
    clock.scheduled(1_000).then(() => undefined),
  ]);
  assert.ok(first !== undefined, "the stream was read before it was returned");
  const response = first;
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    assert.ok(!done);
    text += decoder.decode(value, { stream: true });
  }
  assert.match(text, /^data: \{.*"chat\.completion\.chunk"/);
  await reader.cancel();
  assert.equal(farm.region("hk").received.length, 0);
  assert.equal(clock.pending, 0);
});

for (const contentLength of [true, false]) {
  test(
    `a body larger than bufferLimit (${
      contentLength ? "content-length" : "chunked"
    }) is committed before its end and arrives intact`,
    async () => {
      await using server = await startSplitBody({
        size: 4096,
        // With a content-length over the limit, nothing is read before the
        // return; chunked, more than the limit arrives first.
        first: contentLength ? 0 : 2048,
        contentLength,
      });
      const clock = new ManualClock();
      using api = createFailover({
        endpoints: [{ name: "big", url: server.url, apiKey: "sk-big" }],
        bufferLimit: 1024,
        streamIdleTimeout: 1_000,
        clock,
      });
      const response = await bounded(
        "the call before the rest of the body is sent",
        5_000,
        () => api.fetch("blob", post),
      );
      assert.equal(response.status, 200);
      assert.equal(server.requests, 1);
      server.release();
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(bytes.byteLength, 4096);
      assert.deepEqual(bytes, pattern(4096));
      assert.equal(clock.pending, 0);
    },
  );
}

test("bufferLimit: false commits at headers: a mid-body reset surfaces to the reader", async () => {
  await using farm = await startFarm(NAMES);
  const { api } = poolOver(farm, { bufferLimit: false });
  using _ = api;
  await farm.region("primary").setMode("reset");
  const response = await api.fetch("chat/completions", post);
  assert.equal(response.status, 200);
  const error = await response.json().then(() => undefined, (e) => e);
  assert.ok(error instanceof Error, "the body broke in the reader's hands");
  assert.equal(farm.region("hk").received.length, 0, "no failover");
});

// --- 3. close() ends a stream already returned ----------------------------

for (const streamIdleTimeout of [1_000, false] as const) {
  test(`close() ends a stream the caller is reading (streamIdleTimeout: ${streamIdleTimeout})`, async () => {
    await using farm = await startFarm(NAMES);
    const { api } = poolOver(farm, { streamIdleTimeout });
    using _ = api;
    await farm.region("primary").setMode({ stallStream: 1 });
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("\n\n")) {
      const { value, done } = await reader.read();
      assert.ok(!done);
      text += decoder.decode(value, { stream: true });
    }
    api.close();
    const error = await bounded(
      "the read after close()",
      5_000,
      () => reader.read().then(() => undefined, (e) => e),
    );
    assert.ok(isClosedError(error), String(error));
    assert.equal(api.status()[0].failures, 0, "closing is nobody's fault");
  });
}

// --- 4. How each status class counts, on answers built by hand ---------

for (
  const [status, outcome] of [
    [399, "success"],
    [400, "final"],
    [499, "final"],
  ] as const
) {
  test(`a ${status} is returned as it is, its attempt "${outcome}"`, async () => {
    const { api, events, sent } = scriptedPool(() =>
      new Response("x", { status })
    );
    using _ = api;
    const response = await api.fetch("models");
    assert.equal(response.status, status);
    assert.equal(sent.length, 1);
    const attempt = events.find((e) => e.type === "attempt");
    assert.ok(attempt?.type === "attempt");
    assert.equal(attempt.outcome, outcome);
    assert.equal(api.status()[0].failures, 0);
  });
}

for (const status of [400, 404, 499]) {
  test(`a ${status} with x-should-retry: true fails over`, async () => {
    const { api, sent } = scriptedPool((endpoint) =>
      endpoint === "a"
        ? new Response("x", {
          status,
          headers: { "x-should-retry": "true" },
        })
        : new Response('{"from":"b"}')
    );
    using _ = api;
    const response = await api.fetch("models");
    assert.deepEqual(await response.json(), { from: "b" });
    assert.deepEqual(sent.map((s) => s.endpoint), ["a", "b"]);
  });
}

test("a 429 shows in status() as the endpoint's last error, at its time", async () => {
  const { api, clock, events } = scriptedPool((endpoint) =>
    endpoint === "a"
      ? new Response("slow down", { status: 429 })
      : new Response('{"from":"b"}')
  );
  using _ = api;
  clock.advance(1_234);
  await (await api.fetch("models")).json();
  const [a] = api.status();
  assert.equal(a.lastError, "HTTP 429");
  assert.equal(a.lastErrorAt, clock.now());
  assert.equal(a.failures, 0, "a 429 is not a failure");
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "a"
  );
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.outcome, "rate-limited");
});

test("two 429s asking for the same bench set it (and say so) once", async () => {
  const waiting: (() => void)[] = [];
  const { api, events } = scriptedPool((endpoint) =>
    endpoint === "a"
      ? new Promise<Response>((resolve) =>
        waiting.push(() =>
          resolve(
            new Response("slow down", {
              status: 429,
              headers: { "retry-after-ms": "5000" },
            }),
          )
        )
      )
      : new Response('{"from":"b"}')
  );
  using _ = api;
  const calls = [api.fetch("one"), api.fetch("two")];
  await turns();
  assert.equal(waiting.length, 2);
  for (const answer of waiting) answer();
  for (const response of await Promise.all(calls)) {
    assert.deepEqual(await response.json(), { from: "b" });
  }
  const benches = events.filter((e) => e.type === "rate-limit");
  assert.equal(benches.length, 1);
  assert.equal(api.status()[0].state, "rate-limited");
});

test("an endpoint benched for its key that answers (tried in panic) is no longer benched", async () => {
  let keysRejected = true;
  const { api } = scriptedPool(
    (endpoint) =>
      keysRejected
        ? new Response("bad key", { status: 401 })
        : new Response(JSON.stringify({ from: endpoint })),
    {
      endpoints: ["a", "b"].map((name, i) => ({
        name,
        url: `https://${name}.example/v1`,
        apiKey: `sk-${name}-0123456789`,
        priority: i + 1,
      })),
    },
  );
  using _ = api;
  assert.equal((await api.fetch("models")).status, 401);
  assert.deepEqual(api.status().map((s) => s.state), [
    "unauthorized",
    "unauthorized",
  ]);
  keysRejected = false;
  const response = await api.fetch("models");
  const { from } = (await response.json()) as { from: string };
  const served = api.status().find((s) => s.name === from)!;
  assert.equal(served.state, "healthy", "the bench ended with the answer");
  assert.equal(served.availableAt, undefined);
});
