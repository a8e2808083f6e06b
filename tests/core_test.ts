// The core (`ky-failover/core`): createPool without ky, and the feature
// interface — what a feature hears, what it may do, what it can never reach.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock, seededRandom } from "./_manual_clock.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import { turns } from "./_observe.ts";
import { walk } from "./_walk.ts";
import {
  createPool,
  type Feature,
  type FeatureAttempt,
  type FeatureHost,
  isFailoverError,
  type Outcome,
  type PoolOptions,
} from "ky-failover/core";
import { healthCheck } from "ky-failover/health-check";
import { hedge } from "ky-failover/hedge";
import { retryBudget } from "ky-failover/retry-budget";
import { weighted } from "ky-failover/weighted";
import { leastLatency } from "ky-failover/least-latency";
import { createFailover, type FailoverOptions } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

function core(extra: Partial<PoolOptions> = {}, names = NAMES) {
  return createPool({
    endpoints: endpointsFor(names, (_, i) => ({ priority: i + 1 })),
    clock: new ManualClock(),
    random: seededRandom(3),
    ...extra,
  });
}

async function regionOf(response: Response): Promise<string> {
  return ((await response.json()) as { region: string }).region;
}

test("core: createPool fails over like createFailover, and has no ky", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 503 });
  using pool = core();
  assert.equal("ky" in pool, false);
  assert.equal(await regionOf(await pool.fetch("models")), "hk");
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });
  assert.deepEqual(
    pool.status().map((s) => [s.name, s.consecutiveFailures, s.requests]),
    [["primary", 1, 1], ["hk", 0, 1], ["sg", 0, 0]],
  );
});

test("core: no retry budget unless imported — every call of an outage tries every endpoint", async () => {
  using regions = mockRegions(NAMES);
  for (const name of NAMES) regions.set(name, { status: 503 });
  using bare = core({ breaker: false });
  for (let i = 0; i < 12; i++) {
    const response = await bare.fetch("models");
    assert.equal(response.status, 503);
    await response.body?.cancel();
  }
  assert.equal(total(regions.counts()), 36, "12 calls × 3 attempts");

  using budgeted = core({ breaker: false, features: [retryBudget()] });
  for (let i = 0; i < 12; i++) {
    const response = await budgeted.fetch("models");
    await response.body?.cancel();
  }
  // A full bucket of 10 lets retries through while it holds more than 5,
  // and each failed retry takes a token: calls 1 and 2 make 3 attempts,
  // call 3 makes 2 (its last retry finds 5 and is the first denied), calls
  // 4 to 11 one each; call 12's retry is the tenth denied: a trial.
  assert.equal(total(regions.counts()) - 36, 3 + 3 + 2 + 8 + 2);
});

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

test("core: a feature's middleware sees each attempt and may stop the call with a reason", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 503 });
  const seen: [number, string | undefined][] = [];
  const onlyOne: Feature = {
    name: "only-one",
    attach: () => ({
      async middleware(ctx: FeatureAttempt, next) {
        if (ctx.attempt > 1) {
          ctx.stop("only one attempt per call here");
          seen.push([ctx.attempt, "stopped"]);
          return;
        }
        await next();
        seen.push([ctx.attempt, ctx.verdict]);
      },
    }),
  };
  using pool = core({ features: [onlyOne] });
  const response = await pool.fetch("models");
  assert.equal(response.status, 503, "the last answer, as fetch returns it");
  await response.body?.cancel();
  assert.deepEqual(seen, [[1, "failover"], [2, "stopped"]]);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });

  regions.set("primary", "refused");
  seen.length = 0;
  const error = await pool.fetch("models").catch((e) => e);
  assert.ok(isFailoverError(error));
  assert.match(error.message, /only one attempt per call here/);
  assert.deepEqual(seen, [[1, "failover"], [2, "stopped"]]);
});

test("core: onOutcome hears every attempt and probe, with how it counted", async () => {
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 503 });
  regions.set("sg", { status: 429 });
  const heard: Outcome[] = [];
  const listen: Feature = {
    name: "listen",
    attach: () => ({ onOutcome: (o) => void heard.push(o) }),
  };
  const clock = new ManualClock();
  using pool = core({ clock, features: [listen] });
  await (await pool.fetch("models")).body?.cancel();
  assert.deepEqual(
    heard.map((
      o,
    ) => [o.source, o.endpoint, o.attempt, o.status, o.verdict, o.health]),
    [
      ["attempt", "primary", 1, 503, "failover", "failure"],
      ["attempt", "hk", 2, 200, "success", "success"],
    ],
  );
  assert.deepEqual(heard.map((o) => o.at), [clock.now(), clock.now()]);
  heard.length = 0;
  await pool.checkHealth();
  assert.deepEqual(
    heard.map((o) => [o.source, o.endpoint, o.status, o.verdict, o.health])
      .sort(),
    [
      ["probe", "hk", 200, "success", "success"],
      ["probe", "primary", 503, "failover", "failure"],
      ["probe", "sg", 429, "failover", "neutral"],
    ],
  );
});

test("core: two features that both pick (or hedge) are refused at construction, by name, leaving no timer", () => {
  const clock = new ManualClock();
  assert.throws(
    () =>
      core({ clock, features: [healthCheck(), weighted(), leastLatency()] }),
    /options\.features: weighted and least-latency both provide pick\(\); a pool takes one/,
  );
  assert.equal(clock.pending, 0, "the health check attached first was closed");
  assert.throws(
    () => core({ features: [hedge({ delay: 10 }), hedge({ delay: 20 })] }),
    /hedge and hedge both provide hedgeDelay\(\)/,
  );
  assert.throws(
    () => core({ features: [{ name: "x" } as unknown as Feature] }),
    /options\.features\[0\] must be a feature \(with attach\(\)\), got an object/,
  );
  assert.throws(
    () =>
      createPool({
        endpoints: endpointsFor(["a", "b"], () => ({ weight: 0 })),
        clock,
        features: [healthCheck(), weighted()],
      }),
    /need at least one weight > 0/,
  );
  assert.equal(clock.pending, 0, "nor when a feature's attach throws");
});

test("core: a feature's options are checked when it is made, naming the field", () => {
  assert.throws(
    () => healthCheck({ interval: 0 }),
    /ky-failover: healthCheck\.interval must be a number of milliseconds from 1 to 2147483647, got 0/,
  );
  assert.throws(
    () => hedge({ delay: -1 }),
    /ky-failover: hedge\.delay must be a number of milliseconds/,
  );
  assert.throws(
    () => retryBudget({ ratio: -1 }),
    /ky-failover: retryBudget\.ratio must be a finite number from 0 to 100, got -1/,
  );
});

test("core: weighted() interleaves by weight; with every weight 0 the pool is refused", async () => {
  using regions = mockRegions(["big", "small"]);
  using pool = createPool({
    endpoints: endpointsFor(["big", "small"], (name) => ({
      weight: name === "big" ? 3 : 1,
    })),
    clock: new ManualClock(),
    features: [weighted()],
  });
  const order: string[] = [];
  for (let i = 0; i < 8; i++) {
    order.push(await regionOf(await pool.fetch("models")));
  }
  assert.deepEqual(order, [
    "big",
    "big",
    "small",
    "big",
    "big",
    "big",
    "small",
    "big",
  ]);
  assert.deepEqual(regions.counts(), { big: 6, small: 2 });
  assert.throws(
    () =>
      createPool({
        endpoints: endpointsFor(["a", "b"], () => ({ weight: 0 })),
        features: [weighted()],
      }),
    /options\.endpoints need at least one weight > 0 for the weighted strategy/,
  );
});

test("core: healthCheck() probes on its schedule and checkHealth() uses its path", async () => {
  using regions = mockRegions(["a"]);
  const clock = new ManualClock();
  using pool = createPool({
    endpoints: endpointsFor(["a"]),
    clock,
    random: () => 0.5,
    features: [healthCheck({ path: "health", interval: 10_000, jitter: 0.2 })],
  });
  // First probe at interval × jitter × random = 1000 ms.
  clock.advance(999);
  await turns();
  assert.equal(regions.get("a").received.length, 0);
  clock.advance(1);
  await bounded("the first probe", 5_000, async () => {
    while (regions.get("a").received.length === 0) await turns(1);
  });
  assert.equal(regions.get("a").received[0].path, "/v1/health");
  // checkHealth() joins a probe still in flight: let the first one settle
  // (in a browser, its answer crosses MSW's service worker).
  await bounded("the first probe's answer", 5_000, async () => {
    while (pool.status()[0].lastCheckAt === undefined) await turns(1);
  });
  await pool.checkHealth();
  assert.deepEqual(
    regions.get("a").received.map((r) => r.path),
    ["/v1/health", "/v1/health"],
  );
});

test("core: checkHealth() without the feature probes /models, not an endpoint with healthCheck: false; after close() no probe goes out", async () => {
  using regions = mockRegions(["a", "b", "c"]);
  let host!: FeatureHost;
  const pool = createPool({
    endpoints: endpointsFor(
      ["a", "b", "c"],
      (name) => name === "c" ? { healthCheck: false } : {},
    ),
    clock: new ManualClock(),
    features: [{ name: "host", attach: (h) => (host = h, {}) }],
  });
  const states = await pool.checkHealth();
  assert.deepEqual(
    states.map((s) => s.lastCheckAt !== undefined),
    [true, true, false],
  );
  assert.deepEqual(host.endpoints.map((e) => e.probes), [true, true, false]);
  assert.equal(
    await host.probe("c", { path: "models", timeout: 100 }),
    undefined,
  );
  assert.equal(regions.get("c").received.length, 0);
  assert.deepEqual(
    [...regions.get("a").received, ...regions.get("b").received].map((r) =>
      r.path
    ),
    ["/v1/models", "/v1/models"],
  );
  pool.close();
  await assert.rejects(pool.checkHealth(), /closed/);
  assert.equal(
    await host.probe("a", { path: "models", timeout: 100 }),
    undefined,
  );
  assert.equal(host.probing("a"), false);
  assert.equal(regions.get("a").received.length, 1);
});

test("core: hedge() races a slow GET on a second endpoint; a POST is never hedged", async () => {
  using regions = mockRegions(["slow", "fast"]);
  const clock = new ManualClock();
  regions.set("slow", "hang");
  using pool = createPool({
    endpoints: endpointsFor(["slow", "fast"]),
    clock,
    strategy: "priority",
    features: [hedge({ delay: 200 })],
  });
  const get = pool.fetch("models");
  await bounded("the first attempt's timer", 5_000, () => clock.scheduled(200));
  clock.advance(200);
  assert.equal(
    await regionOf(await bounded("the hedge", 5_000, () => get)),
    "fast",
  );

  const before = regions.counts();
  const post = pool.fetch("chat/completions", { method: "POST", body: "{}" });
  let settled = false;
  void post.then(() => settled = true, () => settled = true);
  await turns();
  clock.advance(200);
  await turns();
  assert.equal(settled, false, "no hedge: still waiting on the first attempt");
  const after = regions.counts();
  assert.deepEqual(
    [after.slow - before.slow, after.fast - before.fast],
    [1, 0],
  );
  pool.close();
  await assert.rejects(post, /closed/);
});

test("core: what a feature is handed — its host, attempt view and outcomes — leads to no key", async () => {
  using regions = mockRegions(["a", "b"]);
  regions.set("a", { status: 503 });
  const reached: unknown[] = [];
  const hold: Feature = {
    name: "hold",
    attach(host: FeatureHost) {
      reached.push(host);
      return {
        middleware: async (ctx, next) => {
          reached.push(ctx);
          await next();
        },
        onOutcome: (o) => void reached.push(o),
      };
    },
  };
  using pool = createPool({
    endpoints: [
      {
        name: "a",
        url: "https://a.example.ai/v1?api-key=sk-query-secret-a",
        apiKey: "sk-secret-a",
      },
      {
        name: "b",
        url: "https://b.example.ai/v1",
        headers: { "x-api-key": "sk-secret-b" },
      },
    ],
    clock: new ManualClock(),
    strategy: "priority",
    features: [hold],
  });
  await (await pool.fetch("models")).body?.cancel();
  const outcome = await (reached[0] as FeatureHost).probe("a", {
    path: "models",
    timeout: 1_000,
  });
  reached.push(outcome);
  assert.ok(reached.length >= 5);
  const { texts, truncated } = walk(reached, {
    call: (_owner, key) => key === "toString" || key === "toJSON",
  });
  assert.equal(truncated, false);
  for (const secret of ["sk-secret-a", "sk-secret-b", "sk-query-secret-a"]) {
    const leak = texts.find((t) => t.text.includes(secret));
    assert.equal(leak, undefined, leak && `${secret} at ${leak.path}`);
  }
});

test("core: a clock that reads before the epoch (or 0) benches nothing at the start", async () => {
  using regions = mockRegions(["a", "b"]);
  for (const start of [Date.UTC(1900, 0, 1), 0]) {
    const clock = new ManualClock(start);
    using pool = createPool({
      endpoints: endpointsFor(["a", "b"]),
      clock,
      strategy: "priority",
    });
    assert.deepEqual(pool.status().map((s) => s.state), ["healthy", "healthy"]);
    const response = await bounded(
      "a call at once",
      2_000,
      () => pool.fetch("models"),
    );
    assert.equal(await regionOf(response), "a");
  }
  assert.deepEqual(regions.counts(), { a: 2, b: 0 });
});

test("core: null means the default for every option that says so, in the core, the preset and each feature", async () => {
  using regions = mockRegions(["a", "b"]);
  using pool = createPool({
    endpoints: endpointsFor(
      ["a", "b"],
      () => ({ healthCheck: { path: null } }),
    ),
    strategy: null,
    authFailure: null,
    breaker: null,
    rateLimit: null,
    middleware: null,
    clock: null,
    features: null,
  } as unknown as PoolOptions);
  assert.equal((await pool.fetch("models")).status, 200);
  using api = createFailover({
    endpoints: endpointsFor(["a", "b"]),
    clock: new ManualClock(),
    strategy: null,
    breaker: { failureThreshold: null },
    retryBudget: { ratio: null, maxTokens: null },
    healthCheck: { path: null, jitter: null, interval: 60_000 },
    hedge: { delay: 100, methods: null },
  } as unknown as FailoverOptions);
  assert.equal((await api.fetch("models")).status, 200);
  const features = [
    healthCheck({ path: null, jitter: null } as never),
    retryBudget({ ratio: null, maxTokens: null } as never),
    hedge({ delay: 100, methods: null } as never),
  ];
  assert.deepEqual(features.map((f) => f.name), [
    "health-check",
    "retry-budget",
    "hedge",
  ]);
  assert.equal(regions.counts().a + regions.counts().b, 2);
});

test("core: options.features must be an array of features", () => {
  assert.throws(
    () => core({ features: {} as never }),
    /options\.features must be an array of features, got an object/,
  );
});

test("core: a strategy's pick — a feature's undefined leaves it to round-robin; a name not among the candidates is an error naming who said it", async () => {
  using regions = mockRegions(["a", "b", "c"]);
  const choosing = (answer: string | undefined): Feature => ({
    name: "choosing",
    attach: () => ({ pick: () => answer }),
  });
  using rotating = createPool({
    endpoints: endpointsFor(["a", "b", "c"]),
    clock: new ManualClock(),
    random: () => 0,
    features: [choosing(undefined)],
  });
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    order.push(await regionOf(await rotating.fetch("models")));
  }
  assert.deepEqual(order, ["a", "b", "c", "a"]);
  using wrong = createPool({
    endpoints: endpointsFor(["a", "b", "c"]),
    clock: new ManualClock(),
    features: [choosing("z")],
  });
  await assert.rejects(
    wrong.fetch("models"),
    /the strategy feature returned "z", which is not one of the candidates \(a, b, c\)/,
  );
  using strict = createPool({
    endpoints: endpointsFor(["a", "b", "c"]),
    clock: new ManualClock(),
    strategy: () => undefined as unknown as string,
  });
  await assert.rejects(
    strict.fetch("models"),
    /the strategy function returned undefined, which is not one of the candidates/,
  );
  assert.equal(regions.counts().a, 2);
});

test("core: the host names an unknown endpoint in its TypeError", () => {
  let host!: FeatureHost;
  using _ = core({
    features: [{ name: "host", attach: (h) => (host = h, {}) }],
  });
  assert.throws(
    () => host.probe("nowhere", { path: "models", timeout: 100 }),
    /ky-failover: no endpoint is named "nowhere"/,
  );
  assert.throws(() => host.recoverByProbes("nowhere"), /"nowhere"/);
});

test("core: onOutcome hears a committed stream that stalls, as the stream's failure", async () => {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const heard: Outcome[] = [];
  const clock = new ManualClock();
  using pool = createPool({
    endpoints: [{ name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" }],
    clock,
    streamIdleTimeout: 1_000,
    fetch: () =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            start: (c) => void (controller = c),
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
      ),
    features: [{
      name: "listen",
      attach: () => ({ onOutcome: (o) => void heard.push(o) }),
    }],
  });
  const response = await pool.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  const reading = response.text().catch((e) => e);
  controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
  await bounded("the read's timer", 5_000, () => clock.scheduled(1_000));
  await turns();
  clock.advance(1_000);
  await bounded("the stall", 5_000, () => reading);
  assert.deepEqual(
    heard.map((o) => [o.source, o.endpoint, o.verdict, o.health, o.at]),
    [
      ["attempt", "a", "success", "success", clock.now() - 1_000],
      ["stream", "a", "failover", "failure", clock.now()],
    ],
  );
});

test("core: a feature sees no verdict for an attempt that sent nothing — the caller aborted while it waited out a rate limit", async () => {
  using regions = mockRegions(["a"]);
  regions.set("a", { status: 429, headers: { "retry-after-ms": "5000" } });
  const verdicts: (string | undefined)[] = [];
  const clock = new ManualClock();
  using pool = createPool({
    endpoints: endpointsFor(["a"]),
    clock,
    totalTimeout: 60_000,
    maxAttempts: 3,
    features: [{
      name: "verdicts",
      attach: () => ({
        async middleware(ctx, next) {
          await next();
          verdicts.push(ctx.verdict);
        },
      }),
    }],
  });
  const caller = new AbortController();
  const call = pool.fetch("models", { signal: caller.signal }).catch((e) => e);
  await bounded("the rate-limit wait", 5_000, () => clock.scheduled(5_000));
  caller.abort(new Error("caller gave up"));
  const error = await bounded("the call", 5_000, () => call);
  assert.equal(error.message, "caller gave up");
  assert.deepEqual(verdicts, ["failover", undefined]);
  assert.deepEqual(regions.counts(), { a: 1 });
  using preset = createFailover({
    endpoints: endpointsFor(["a"]),
    clock: new ManualClock(),
    retryBudget: null,
  } as unknown as FailoverOptions);
  assert.equal(preset.status().length, 1, "retryBudget: null is the default");
});
