// Which failures move a call to another endpoint, and which do not.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import {
  type AttemptContext,
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isAttemptTimeoutError,
  isFailoverError,
  isOutsidePoolError,
} from "ky-failover";
import { isHTTPError } from "ky";

const NAMES = ["primary", "hk", "sg"];
const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };

function pool(clock = new ManualClock(), extra = {}) {
  return createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    clock,
    ...extra,
  });
}

// Each result that fails over, and what it does to the endpoint's health:
// 408 and every 5xx count as failures (501 and 505 too, not only the
// common ones); a 429 benches the endpoint but is no failure.
for (
  const [label, mode, failure] of [
    ["network error", "error", true],
    ["500", { status: 500 }, true],
    ["501", { status: 501 }, true],
    ["502", { status: 502 }, true],
    ["503", { status: 503 }, true],
    ["504", { status: 504 }, true],
    ["505", { status: 505 }, true],
    ["408", { status: 408 }, true],
    ["429", { status: 429 }, false],
  ] as const
) {
  test(
    `a ${label} on the primary fails over to the next region${
      failure ? " and counts as a failure" : ", without counting as a failure"
    }`,
    async () => {
      using regions = mockRegions(NAMES);
      regions.set("primary", mode);
      using api = pool();
      const reply = await api.ky.post("chat/completions", { json: chat }).json<
        { region: string; echo: unknown }
      >();
      assert.equal(reply.region, "hk");
      assert.deepEqual(reply.echo, chat);
      assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });
      const primary = api.status()[0];
      assert.equal(primary.failures, failure ? 1 : 0, "failures");
      assert.equal(primary.consecutiveFailures, failure ? 1 : 0, "run");
      assert.equal(primary.state, failure ? "healthy" : "rate-limited");
    },
  );
}

// 401 and 403 from an endpoint's own key fail over: endpoint_faults_test.ts.
for (const status of [400, 404, 409, 413, 422, 451]) {
  test(`a ${status} is returned at once and counts as an answer, not a failure`, async () => {
    using regions = mockRegions(NAMES);
    using api = pool();
    // A failure first, so that the answer has a run of failures to end.
    regions.set("primary", { status: 500 });
    await (await api.fetch("models")).body?.cancel();
    assert.equal(api.status()[0].consecutiveFailures, 1);
    regions.get("primary").reset();
    regions.get("hk").reset();

    regions.set("primary", { status });
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify(chat),
    });
    assert.equal(response.status, status);
    await response.body?.cancel();
    assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
    const primary = api.status()[0];
    assert.equal(primary.failures, 1, "only the 500 was a failure");
    assert.equal(primary.consecutiveFailures, 0, "the answer ended the run");
    assert.equal(primary.state, "healthy");

    const error = await api.ky.post("chat/completions", { json: chat }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(isHTTPError(error), "ky mode throws ky's HTTPError");
    assert.equal(error.response.status, status);
    assert.match(error.message, /primary\.example\.ai\/v1\/chat\/completions/);
    assert.deepEqual(regions.counts(), { primary: 2, hk: 0, sg: 0 });
  });
}

test("a 3xx without a Location is returned as it is and counts as an answer", async () => {
  const events: FailoverEvent[] = [];
  using regions = mockRegions(NAMES);
  using api = pool(new ManualClock(), {
    onEvent: (e: FailoverEvent) => events.push(e),
  });
  regions.set("primary", { status: 500 });
  await (await api.fetch("models")).body?.cancel();
  regions.set("primary", { status: 300, body: { choices: ["a", "b"] } });
  const response = await api.fetch("models");
  assert.equal(response.status, 300);
  assert.deepEqual(await response.json(), { choices: ["a", "b"] });
  assert.deepEqual(regions.counts(), { primary: 2, hk: 1, sg: 0 });
  assert.equal(api.status()[0].consecutiveFailures, 0, "it ended the run");
  const attempt = events.findLast((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt");
  assert.deepEqual(
    [attempt.endpoint, attempt.status, attempt.outcome],
    ["primary", 300, "success"],
  );
  // Through ky: a 300 is not `ok`, so it is ky's own HTTPError for that
  // answer — not a FailoverError, and no failover.
  const error = await api.ky.get("models").then(() => undefined, (e) => e);
  assert.ok(isHTTPError(error), String(error));
  assert.equal(error.response.status, 300);
  assert.deepEqual(regions.counts(), { primary: 3, hk: 1, sg: 0 });
});

test("a hanging primary is abandoned after the per-attempt timeout, not a millisecond sooner", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const events: FailoverEvent[] = [];
  const seen = attemptSignals();
  using api = pool(clock, {
    timeout: 5_000,
    onEvent: (e: FailoverEvent) => events.push(e),
    middleware: [seen.middleware],
  });
  const call = later(api.fetch("https://primary.example.ai/v1/models"));
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 1),
  );
  const [first] = seen.attempts;
  assert.deepEqual(clock.delays, [5_000], "one timer: the attempt's timeout");
  clock.advance(4_999);
  assert.equal(first.signal.aborted, false, "not aborted 1 ms early");
  await turns();
  assert.equal(api.status()[1].requests, 0, "no failover before the timeout");
  clock.advance(1);
  assert.equal(first.signal.aborted, true, "aborted at 5000 ms exactly");
  assert.ok(isAttemptTimeoutError(first.signal.reason));
  const response = await call;
  assert.equal(((await response.json()) as { region: string }).region, "hk");
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary"
  );
  assert.ok(attempt?.type === "attempt");
  assert.ok(isAttemptTimeoutError(attempt.error));
  assert.equal(attempt.durationMs, 5_000);
  assert.equal(api.status()[0].lastError, "primary timed out after 5000 ms");
  assert.equal(clock.pending, 0, "no timer left behind");
});

test("a slow answer within the timeout is waited for", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { slow: 2_000 });
  using api = pool(clock, { timeout: 5_000 });
  const call = later(api.fetch("models"));
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  clock.advance(2_000);
  const response = await call;
  assert.equal(
    ((await response.json()) as { region: string }).region,
    "primary",
  );
  assert.equal(api.status()[0].latencyMs, 2_000);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
});

test("x-should-retry: true fails over a 409, x-should-retry: false stops a 500", async () => {
  using regions = mockRegions(NAMES);
  using api = pool();
  regions.set("primary", {
    status: 409,
    headers: { "x-should-retry": "true" },
  });
  const moved = await api.fetch("models");
  assert.equal(moved.status, 200);
  await moved.body?.cancel();
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });

  regions.set("primary", {
    status: 500,
    headers: { "x-should-retry": "false" },
  });
  const kept = await api.fetch("models");
  assert.equal(kept.status, 500);
  await kept.body?.cancel();
  assert.deepEqual(regions.counts(), { primary: 2, hk: 1, sg: 0 });
});

test("every region down: ky rejects with a FailoverError listing each attempt", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", "error");
  regions.set("hk", { status: 503 });
  regions.set("sg", { status: 502 });
  using api = pool();
  const error = await api.ky.post("chat/completions", { json: chat }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(isFailoverError(error));
  assert.deepEqual(error.attempts.map((a) => [a.endpoint, a.status]), [
    ["primary", undefined],
    ["hk", 503],
    ["sg", 502],
  ]);
  assert.ok(error.attempts[0].error instanceof TypeError);
  assert.deepEqual(
    error.attempts.map((a) => a.durationMs),
    [0, 0, 0],
    "measured on the pool's clock, which did not move",
  );
  assert.equal(error.response?.status, 502);
  assert.ok(
    isHTTPError(error.cause),
    "the cause is ky's HTTPError of the last answer",
  );
  assert.match(
    error.message,
    /all 3 attempts failed: primary → TypeError.*; hk → HTTP 503 .*; sg → HTTP 502/,
  );
});

test("every region down: fetch returns the last HTTP answer, rejects when there is none", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", "error");
  regions.set("hk", { status: 503 });
  regions.set("sg", { status: 502 });
  using api = pool(new ManualClock(), { breaker: false, retryBudget: false });
  const response = await api.fetch("models");
  assert.equal(response.status, 502);
  assert.match(
    ((await response.json()) as { error: { message: string } }).error.message,
    /^sg\b.*502/,
    "the body of sg's answer, intact",
  );

  regions.set("sg", "error");
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.ok(isFailoverError(error));
  assert.equal(error.attempts.length, 3);
  assert.equal(error.response, undefined);
  assert.ok(error.cause instanceof TypeError);
});

test("POST bodies are replayed intact on every attempt, from any body type", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 500 });
  regions.set("hk", { status: 502 });
  using api = pool(new ManualClock(), { breaker: false, retryBudget: false });
  const text = JSON.stringify(chat);
  const bodies: [string, () => BodyInit][] = [
    ["string", () => text],
    ["Uint8Array", () => new TextEncoder().encode(text)],
    ["Blob", () => new Blob([text])],
    ["ReadableStream", () => new Response(text).body!],
  ];
  for (const [label, body] of bodies) {
    for (const r of NAMES) regions.get(r).received.length = 0;
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(),
    });
    assert.equal(response.status, 200, label);
    await response.body?.cancel();
    for (const r of NAMES) {
      assert.deepEqual(
        regions.get(r).received.map((x) => x.body),
        [text],
        `${label} at ${r}`,
      );
    }
  }
  // A Request with a body is replayed too.
  const response = await api.fetch(
    new Request("https://primary.example.ai/v1/chat/completions", {
      method: "POST",
      body: text,
    }),
  );
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(regions.get("sg").received.at(-1)?.body, text);
});

test("ky bodies are replayed on every attempt, also when a hook replaces the request", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 500 });
  regions.set("hk", { status: 502 });
  using api = pool(new ManualClock(), { breaker: false, retryBudget: false });
  const bodies = () => NAMES.map((r) => regions.get(r).received.at(-1)?.body);
  await api.ky.post("chat/completions", { json: chat }).json();
  const text = JSON.stringify(chat);
  assert.deepEqual(bodies(), [text, text, text]);
  const other = JSON.stringify({ model: "gpt-4.1", messages: [] });
  await api.ky.post("chat/completions", {
    json: chat,
    hooks: {
      beforeRequest: [
        ({ request }) => new Request(request, { body: other }),
      ],
    },
  }).json();
  assert.deepEqual(bodies(), [other, other, other], "the hook's body is sent");
});

test("caller headers arrive as Headers would send them: repeated names combined, bad ones rejected", async () => {
  using regions = mockRegions(NAMES);
  using api = pool();
  const response = await api.fetch("models", {
    headers: [["X-Trace", "a"], ["x-trace", " b "], ["Accept", "text/plain"]],
  });
  await response.body?.cancel();
  const seen = regions.get("primary").received[0].headers;
  assert.equal(seen.get("x-trace"), "a, b");
  assert.equal(seen.get("accept"), "text/plain");
  await assert.rejects(
    api.fetch("models", { headers: { "x-bad": "line\nbreak" } }),
    (e: unknown) => e instanceof TypeError && /x-bad/.test(String(e)),
  );
  await assert.rejects(
    api.fetch("models", { headers: { "bad name": "x" } }),
    TypeError,
  );
  assert.equal(regions.get("primary").received.length, 1, "nothing sent");
});

/** Three endpoints, each with credentials of its own kind (and `x-org`). */
function credentialPool(extra: Partial<FailoverOptions> = {}) {
  return createFailover({
    endpoints: [
      {
        name: "primary",
        url: "https://primary.example.ai/v1",
        apiKey: "sk-primary",
        priority: 1,
      },
      {
        name: "hk",
        url: "https://hk.example.ai/v1",
        apiKey: "sk-hk",
        headers: { "X-Org": "org-hk" },
        priority: 2,
      },
      {
        name: "sg",
        url: "https://sg.example.ai/v1",
        headers: { "x-api-key": "sg-secret" },
        priority: 3,
      },
    ],
    ...extra,
  });
}

/** Every credential header an SDK may set, in mixed case. */
const CALLER_CREDENTIALS = {
  Authorization: "Bearer sdk-key",
  "api-key": "sdk-azure",
  "X-Api-Key": "sdk-x",
  "x-goog-api-key": "sdk-goog",
};

for (
  const [label, middleware] of [
    ["", []],
    // A middleware that touches the headers: the transport then adds the
    // endpoint's credentials to the middleware's copy, a second code path.
    [" (middleware that reads the headers)", [
      (ctx: AttemptContext, next: () => Promise<void>) => {
        ctx.headers.set("x-seen", ctx.headers.get("x-org") ?? "none");
        return next();
      },
    ]],
  ] as const
) {
  test(`each endpoint receives only its own key; caller credentials never leave${label}`, async () => {
    using regions = mockRegions(NAMES);
    regions.set("primary", { status: 500 });
    regions.set("hk", "error");
    using api = credentialPool({ middleware });
    const response = await api.fetch("https://primary.example.ai/v1/models", {
      headers: { ...CALLER_CREDENTIALS, "x-org": "org-caller", "x-trace": "1" },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const seen = (name: string) => regions.get(name).received[0].headers;
    assert.equal(seen("primary").get("authorization"), "Bearer sk-primary");
    assert.equal(seen("hk").get("authorization"), "Bearer sk-hk");
    assert.equal(seen("sg").get("authorization"), null);
    assert.equal(seen("sg").get("x-api-key"), "sg-secret");
    for (const name of NAMES) {
      assert.equal(seen(name).get("x-trace"), "1", name);
      assert.equal(seen(name).get("api-key"), null, `api-key at ${name}`);
      assert.equal(
        seen(name).get("x-goog-api-key"),
        null,
        `x-goog-api-key at ${name}`,
      );
      if (name !== "sg") assert.equal(seen(name).get("x-api-key"), null);
    }
    // An endpoint's own header wins over the caller's of the same name;
    // elsewhere the caller's goes through.
    assert.equal(seen("hk").get("x-org"), "org-hk");
    assert.equal(seen("primary").get("x-org"), "org-caller");
    assert.equal(seen("sg").get("x-org"), "org-caller");
    if (middleware.length > 0) {
      for (const name of NAMES) {
        assert.equal(seen(name).get("x-seen"), "org-caller", "key-free view");
      }
    }
    const all = NAMES.flatMap((name) => regions.get(name).received);
    const text = JSON.stringify(all.map((r) => [...r.headers]));
    assert.ok(!/sdk-/.test(text), "no caller credential reached a region");
    assert.ok(
      !regions.get("primary").received.concat(regions.get("hk").received)
        .some((r) => JSON.stringify([...r.headers]).includes("sg-secret")),
    );
  });
}

test("a URL outside the pool is rejected and never sent", async () => {
  using regions = mockRegions([...NAMES, "elsewhere"]);
  using api = pool();
  const error = await api.fetch("https://elsewhere.example.ai/v1/models").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(isOutsidePoolError(error));
  assert.match(
    error.message,
    /elsewhere\.example\.ai\/v1\/models is not under/,
  );
  const sibling = await api.fetch("https://primary.example.ai/v10/models").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(
    isOutsidePoolError(sibling),
    "a path that only shares a prefix is outside",
  );
  const viaKy = await api.ky.get("https://elsewhere.example.ai/v1/models").then(
    () => undefined,
    (e) => e,
  );
  assert.ok(isOutsidePoolError(viaKy));
  assert.deepEqual(regions.counts(), {
    primary: 0,
    hk: 0,
    sg: 0,
    elsewhere: 0,
  });
});

test("any endpoint's URL, a relative path or a leading slash all reach the picked endpoint", async () => {
  using regions = mockRegions(NAMES);
  using api = pool();
  for (
    const input of [
      "models?x=1",
      "/models?x=1",
      "https://sg.example.ai/v1/models?x=1",
      new URL("https://hk.example.ai/v1/models?x=1"),
    ]
  ) {
    const response = await api.fetch(input);
    assert.equal(
      ((await response.json()) as { path: string }).path,
      "/v1/models",
    );
  }
  assert.deepEqual(
    regions.get("primary").received.map((r) => r.path),
    Array(4).fill("/v1/models?x=1"),
  );
});

test("query parameters of an endpoint's url are sent with every request", async () => {
  using regions = mockRegions(["azure"]);
  using api = createFailover({
    endpoints: [{
      name: "azure",
      url: "https://azure.example.ai/v1?api-version=2024-10",
      apiKey: "k",
    }],
  });
  await (await api.fetch("chat/completions?stream=false", {
    method: "POST",
    body: "{}",
  })).body?.cancel();
  await (await api.fetch("models")).body?.cancel();
  assert.deepEqual(regions.get("azure").received.map((r) => r.path), [
    "/v1/chat/completions?api-version=2024-10&stream=false",
    "/v1/models?api-version=2024-10",
  ]);
  assert.equal(
    api.status()[0].url,
    "https://azure.example.ai/v1",
    "the query may hold a key: status() does not show it",
  );
});

test("maxAttempts bounds the attempts; a single endpoint is retried once by default", async () => {
  using regions = mockRegions(NAMES);
  for (const name of NAMES) regions.set(name, { status: 500 });
  using two = pool(new ManualClock(), { maxAttempts: 2, breaker: false });
  const response = await two.fetch("models");
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });

  using one = createFailover({
    endpoints: endpointsFor(["sg"]),
    breaker: false,
  });
  await (await one.fetch("models")).body?.cancel();
  assert.equal(regions.get("sg").received.length, 2);
});

test("ky's HTTPError names the endpoint that answered, not the first one", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 503 });
  regions.set("hk", { status: 404 });
  using api = pool();
  const error = await api.ky.post("chat/completions", { json: chat }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(isHTTPError(error));
  assert.equal(error.response.status, 404);
  assert.match(
    error.message,
    /404.*https:\/\/hk\.example\.ai\/v1\/chat\/completions/,
  );
  assert.ok(!error.message.includes("primary.example.ai"));
});
