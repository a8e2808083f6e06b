// Outages, end to end: health tells the truth and benches a sick endpoint,
// periodic probes bring an endpoint back as soon as it recovers (not when a
// cooldown ends), per-endpoint health checks, panic mode sheds load in a
// total outage, an async onEvent that rejects is harmless, a broken user
// middleware is nobody's outage, and a call whose every attempt timed out
// says so.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { tieredPool } from "./_pool.ts";
import { endpointsFor, mockRegions, type Mode } from "./_msw_regions.ts";
import { type FailoverEvent, isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

/** Waits for `what` (a promise that a bug could leave pending) for 5 s at most. */
function within<T>(what: string, promise: Promise<T>): Promise<T> {
  return bounded(what, 5_000, () => promise);
}

/** The region a `_msw_regions` answer came from. */
async function regionOf(response: Response): Promise<string> {
  const body = (await response.json()) as { region?: string };
  return body.region ?? `HTTP ${response.status}`;
}

const chat = { method: "POST", body: '{"model":"m"}' };

// ---------------------------------------------------------------- rule 1

for (
  const [label, mode] of [
    ["refused (network error)", "refused"],
    ["answering 503", { status: 503 }],
  ] as const satisfies readonly (readonly [string, Mode])[]
) {
  test(`checkHealth(): an endpoint ${label} is "unhealthy", skipped first, and back after a passing probe`, async () => {
    const names = ["bad", "good"];
    const { api, clock, events } = tieredPool(names, {
      // One tier, strict order: without the bench "bad" would go first.
      endpoints: endpointsFor(names),
      strategy: "priority",
    });
    using _ = api;
    using regions = mockRegions(names, clock);
    regions.set("bad", mode);

    const status = await api.checkHealth();
    assert.deepEqual(status.map((s) => [s.name, s.state]), [
      ["bad", "unhealthy"],
      ["good", "healthy"],
    ]);
    assert.deepEqual(api.status().map((s) => s.state), [
      "unhealthy",
      "healthy",
    ]);

    const response = await api.fetch("chat/completions", chat);
    assert.equal(await regionOf(response), "good");
    const attempts = events.flatMap((e) =>
      e.type === "attempt" ? [e.endpoint] : []
    );
    assert.deepEqual(attempts, ["good"], "the first attempt skipped bad");
    assert.deepEqual(
      regions.get("bad").received.map((r) => r.path),
      ["/v1/models"],
      "bad only saw the probe",
    );

    regions.set("bad", "up");
    const back = await api.checkHealth();
    assert.deepEqual(back.map((s) => s.state), ["healthy", "healthy"]);
    const again = await api.fetch("chat/completions", chat);
    assert.equal(await regionOf(again), "bad", "back first in line");
  });
}

test('without periodic checks the "unhealthy" bench lasts breaker.cooldown at most (60 s by default)', async () => {
  for (const cooldown of [undefined, 5_000]) {
    const names = ["bad", "good"];
    const { api, clock } = tieredPool(names, {
      endpoints: endpointsFor(names),
      strategy: "priority",
      ...(cooldown === undefined ? {} : { breaker: { cooldown } }),
    });
    using _ = api;
    using regions = mockRegions(names, clock);
    regions.set("bad", { status: 503 });
    const bench = cooldown ?? 60_000;
    const [bad] = await api.checkHealth();
    assert.equal(bad.state, "unhealthy");
    assert.equal(bad.availableAt, clock.now() + bench);

    regions.set("bad", "up"); // recovered, but nothing probes it
    clock.advance(bench - 1);
    assert.equal(api.status()[0].state, "unhealthy", `${bench - 1} ms`);
    assert.equal(
      await regionOf(await api.fetch("chat/completions", chat)),
      "good",
    );
    clock.advance(1);
    assert.equal(api.status()[0].state, "healthy", `${bench} ms`);
    assert.equal(
      await regionOf(await api.fetch("chat/completions", chat)),
      "bad",
    );
  }
});

// ---------------------------------------------------------------- rule 2

test("periodic checks keep probing an endpoint that is out and bring it back within two intervals of its recovery", async () => {
  const interval = 200;
  const names = ["primary", "hk"];
  const { api, clock, events, seen } = tieredPool(names, {
    healthCheck: { interval, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(names, clock);
  const checks = () => events.filter((e) => e.type === "health-check").length;
  /** Moves the clock one interval and waits for both probes and their re-arming. */
  const tick = async () => {
    const before = checks();
    clock.advance(interval);
    await within(
      "probes",
      seen((e) => e.type === "health-check", before + 2),
    );
    await within("re-armed probes", clock.scheduled(interval, 2));
  };

  clock.advance(0); // first probes (jitter 0: at once)
  await within("first probes", seen((e) => e.type === "health-check", 2));
  await within("re-armed probes", clock.scheduled(interval, 2));

  // The outage: three failed user requests open primary's breaker.
  regions.set("primary", { status: 503 });
  for (let i = 0; i < 3; i++) {
    assert.equal(await regionOf(await api.fetch("models")), "hk");
  }
  assert.equal(api.status()[0].state, "open");
  const outageStart = clock.now();
  const seenBefore = regions.get("primary").received.length;

  // 2 s of outage: a probe every interval, the endpoint stays out.
  for (let t = interval; t <= 2_000; t += interval) {
    await tick();
    assert.notEqual(api.status()[0].state, "healthy", `at +${t} ms`);
  }
  const during = regions.get("primary").received.slice(seenBefore);
  assert.equal(during.length, 2_000 / interval, "one probe per interval");
  assert.ok(during.every((r) => r.method === "GET" && r.path === "/v1/models"));

  // It recovers half-way through an interval: back at the next probe.
  clock.advance(interval / 2);
  regions.set("primary", "up");
  const recoveredAt = clock.now();
  for (let i = 0; i < 2 && api.status()[0].state !== "healthy"; i++) {
    await tick();
  }
  assert.equal(api.status()[0].state, "healthy");
  const tookMs = clock.now() - recoveredAt;
  assert.ok(tookMs <= 2 * interval, `healthy after ${tookMs} ms`);
  assert.ok(
    clock.now() - outageStart < 60_000,
    "long before the 60 s cooldown",
  );
  assert.equal(api.status()[0].consecutiveFailures, 0);
  assert.equal(await regionOf(await api.fetch("models")), "primary");
});

// ---------------------------------------------------------------- rule 3

test("per-endpoint health checks: its own path, or never probed with healthCheck: false", async () => {
  const names = ["azure", "plain", "noprobe"];
  const endpoints = endpointsFor(
    names,
    (name) =>
      name === "azure"
        ? { healthCheck: { path: "deployments/x/ping" } }
        : name === "noprobe"
        ? { healthCheck: false }
        : {},
  );
  // On demand, without periodic checks.
  {
    const { api, clock } = tieredPool(names, { endpoints });
    using _ = api;
    using regions = mockRegions(names, clock);
    await api.checkHealth();
    await api.checkHealth();
    const paths = (name: string) =>
      regions.get(name).received.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(paths("azure"), [
      "GET /v1/deployments/x/ping",
      "GET /v1/deployments/x/ping",
    ]);
    assert.deepEqual(paths("plain"), ["GET /v1/models", "GET /v1/models"]);
    assert.deepEqual(paths("noprobe"), []);
    assert.equal(api.status()[2].lastCheckAt, undefined);
  }
  // Periodic.
  {
    const { api, clock, seen } = tieredPool(names, {
      endpoints,
      healthCheck: { interval: 1_000, jitter: 0 },
    });
    using _ = api;
    using regions = mockRegions(names, clock);
    for (let round = 1; round <= 3; round++) {
      clock.advance(round === 1 ? 0 : 1_000);
      await within(
        "probes",
        seen((e) => e.type === "health-check", 2 * round),
      );
      await within("re-armed probes", clock.scheduled(1_000, 2));
    }
    assert.deepEqual(regions.counts(), { azure: 3, plain: 3, noprobe: 0 });
    assert.ok(
      regions.get("azure").received.every((r) =>
        r.path === "/v1/deployments/x/ping"
      ),
    );
    await api.checkHealth();
    assert.equal(regions.counts().noprobe, 0, "not by checkHealth() either");
  }
});

test("with periodic checks on, a healthCheck: false endpoint recovers from an open breaker through one user trial after its cooldown", async () => {
  const names = ["noprobe", "plain"];
  const { api, clock, events } = tieredPool(names, {
    endpoints: endpointsFor(
      names,
      (name) => name === "noprobe" ? { healthCheck: false } : {},
    ),
    strategy: "priority",
    // A probe timeout longer than any advance below: the 5 s advance would
    // otherwise fire plain's first probe and its timeout in one go, failing
    // a probe that simply had no turn to be answered.
    healthCheck: { interval: 1_000, jitter: 0, timeout: 60_000 },
    breaker: { failureThreshold: 1, cooldown: 5_000 },
  });
  using _ = api;
  using regions = mockRegions(names, clock);
  regions.set("noprobe", "refused");
  assert.equal(
    await regionOf(await api.fetch("chat/completions", chat)),
    "plain",
  );
  assert.equal(api.status()[0].state, "open");

  regions.set("noprobe", { slow: 100 });
  clock.advance(5_000); // cooldown over: half-open, waiting for a user trial
  assert.equal(api.status()[0].state, "half-open");
  assert.equal(regions.counts().noprobe, 1, "no probe went to it");

  const trial = api.fetch("chat/completions", chat);
  trial.catch(() => {}); // rejects once the pool closes, if a step fails
  await within("the trial", regions.received("noprobe", 2));
  // While the trial is in flight, other calls go elsewhere.
  for (let i = 0; i < 3; i++) {
    const other = api.fetch("chat/completions", chat);
    other.catch(() => {}); // rejects once the pool closes, if this hangs
    assert.equal(
      await regionOf(await within("a call during the trial", other)),
      "plain",
    );
  }
  await within("the slow answer", clock.scheduled(100));
  clock.advance(100);
  assert.equal(await regionOf(await trial), "noprobe");
  assert.equal(api.status()[0].state, "healthy");
  assert.deepEqual(
    events.flatMap((e) =>
      e.type === "breaker" && e.endpoint === "noprobe"
        ? [`${e.from}→${e.to}`]
        : []
    ),
    ["closed→open", "open→half-open", "half-open→closed"],
  );
  assert.ok(
    regions.get("noprobe").received.every((r) =>
      r.path === "/v1/chat/completions"
    ),
    "only user traffic, never a probe",
  );
});

// ---------------------------------------------------------------- rule 4

/** Makes `calls` sequential calls; returns the requests each one sent. */
async function sequentialCalls(
  api: { fetch: typeof fetch },
  regions: { counts(): Record<string, number> },
  calls: number,
): Promise<number[]> {
  const total = () =>
    Object.values(regions.counts()).reduce((a, b) => a + b, 0);
  const perCall: number[] = [];
  for (let i = 0; i < calls; i++) {
    const before = total();
    const response = await api.fetch("chat/completions", chat);
    assert.equal(response.status, 503);
    await response.body?.cancel();
    perCall.push(total() - before);
  }
  return perCall;
}

test("panic sheds load: 3 endpoints all 503, default options: 100 calls send 105 requests, one per call once every breaker is open", async () => {
  const { api, clock, events } = tieredPool(NAMES);
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) regions.set(name, { status: 503 });
  const perCall = await sequentialCalls(api, regions, 100);
  const total = perCall.reduce((a, b) => a + b, 0);
  assert.ok(total <= 130, `${total} requests for 100 calls`);
  // The budget allows 5 failed retries (10 tokens, none below 5): 3 + 3 + 2;
  // primary and hk open on call 3, sg on call 4; then one panic attempt each.
  assert.equal(total, 105);
  assert.deepEqual(perCall.slice(0, 4), [3, 3, 2, 1]);

  const lastOpened = events.findLastIndex((e) =>
    e.type === "breaker" && e.from === "closed" && e.to === "open"
  );
  const callsBefore = events.slice(0, lastOpened)
    .filter((e) => e.type === "failure").length;
  assert.equal(callsBefore, 3, "every breaker open during call 4");
  assert.ok(
    perCall.slice(4).every((n) => n === 1),
    "one attempt per call once every breaker is open",
  );
  const panics = events.filter((e) => e.type === "attempt" && e.panic);
  assert.equal(panics.length, 96, "calls 5–100: one panic attempt each");

  // A failed panic attempt re-opens its breaker with a longer cooldown.
  for (const name of NAMES) {
    const cooldowns = events.flatMap((e) =>
      e.type === "breaker" && e.endpoint === name && e.to === "open"
        ? [e.cooldownMs]
        : []
    );
    assert.ok(cooldowns.length >= 5, `${name}: ${cooldowns.length} opened`);
    assert.deepEqual(
      cooldowns,
      cooldowns.map((_, i) => Math.min(60_000 * (i + 1), 300_000)),
      `${name}: longer each time, up to maxCooldown`,
    );
  }
  const firstPanic = events.findIndex((e) => e.type === "attempt" && e.panic);
  const after = events[firstPanic + 1];
  assert.ok(after.type === "breaker", JSON.stringify(after));
  assert.deepEqual(
    [after.from, after.to, after.cooldownMs],
    ["open", "open", 120_000],
    "the first failed panic attempt re-opens for 2 × 60 s",
  );
});

test("panic sheds load with retryBudget: false too: 100 calls send at most 130 requests", async () => {
  const { api, clock } = tieredPool(NAMES, { retryBudget: false });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) regions.set(name, { status: 503 });
  const perCall = await sequentialCalls(api, regions, 100);
  const total = perCall.reduce((a, b) => a + b, 0);
  assert.ok(total <= 130, `${total} requests for 100 calls`);
  // Three full calls open every breaker (3 failures each); then panic.
  assert.equal(total, 106);
  assert.deepEqual(perCall.slice(0, 4), [3, 3, 3, 1]);
  assert.ok(perCall.slice(3).every((n) => n === 1));
});

// ---------------------------------------------------------------- rule 6

test("an async onEvent that rejects never produces an unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onWindow = (event: Event) => {
    unhandled.push((event as PromiseRejectionEvent).reason);
    event.preventDefault();
  };
  const onProcess = (reason: unknown) => void unhandled.push(reason);
  const target = globalThis as unknown as {
    addEventListener?: (type: string, fn: (e: Event) => void) => void;
    removeEventListener?: (type: string, fn: (e: Event) => void) => void;
  };
  const process = (globalThis as {
    process?: {
      on(type: string, fn: (reason: unknown) => void): unknown;
      off(type: string, fn: (reason: unknown) => void): unknown;
    };
  }).process;
  // Deno and browsers: the window event; Node and Bun: the process event.
  // Both where both exist.
  const useWindow = typeof target.addEventListener === "function";
  const useProcess = typeof process?.on === "function";
  assert.ok(useWindow || useProcess, "a way to see unhandled rejections");
  if (useWindow) target.addEventListener!("unhandledrejection", onWindow);
  if (useProcess) process!.on("unhandledRejection", onProcess);
  try {
    let rejected = 0;
    const { api, clock } = tieredPool(NAMES, {
      onEvent: async () => {
        rejected += 1;
        await Promise.resolve();
        throw new Error("x");
      },
    });
    using _ = api;
    using regions = mockRegions(NAMES, clock);
    regions.set("primary", { status: 503 });
    assert.equal(await regionOf(await api.fetch("models")), "hk");
    for (const name of NAMES) regions.set(name, "refused");
    await api.fetch("models").then(
      () => assert.fail("every endpoint refused"),
      (e) => assert.ok(isFailoverError(e)),
    );
    assert.ok(rejected >= 6, `${rejected} events, each a rejected promise`);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    // And one macrotask turn: Node and Deno report unhandled rejections
    // only after the microtask queue drains.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(unhandled, []);
  } finally {
    if (useWindow) target.removeEventListener!("unhandledrejection", onWindow);
    if (useProcess) process!.off("unhandledRejection", onProcess);
  }
});

// ---------------------------------------------------------------- rule 7

test("a middleware that returns without next() or a response: a TypeError naming it, and no endpoint marked failed", async () => {
  const { api, clock } = tieredPool(NAMES, {
    middleware: [
      async (_ctx, next) => {
        await next();
      },
      () => {}, // the bug: neither next() nor ctx.response
    ],
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const call of [() => api.fetch("models"), () => api.ky.get("models")]) {
    const error = await call().then(
      () => assert.fail("the call must reject"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, /middleware\[1\]/);
    assert.doesNotMatch(error.message, /middleware\[0\]/);
  }
  assert.deepEqual(regions.counts(), { primary: 0, hk: 0, sg: 0 });
  for (const s of api.status()) {
    assert.deepEqual(
      [s.name, s.state, s.requests, s.failures, s.consecutiveFailures],
      [s.name, "healthy", 0, 0, 0],
    );
  }
});

// ---------------------------------------------------------------- rule 8

test('every attempt timed out: "every endpoint timed out after 500 ms", and an all-timed-out event', async () => {
  const { api, clock, events } = tieredPool(NAMES, { timeout: 500 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) regions.set(name, "hang");
  let settled = false;
  const call = api.ky.get("models").then(
    () => assert.fail("no endpoint answers"),
    (e: unknown) => e,
  ).finally(() => settled = true);
  for (let n = 1; n <= NAMES.length; n++) {
    await within(`attempt ${n}`, regions.received(NAMES[n - 1], 1));
    await within(`attempt ${n}'s timeout`, clock.scheduled(500));
    assert.equal(settled, false);
    clock.advance(500);
  }
  const error = await within("the call", call);
  assert.ok(isFailoverError(error), String(error));
  assert.match(error.message, /every endpoint timed out after 500 ms/);
  assert.match(
    error.message,
    /is `timeout` shorter than the answer takes\?/,
  );
  assert.equal(error.attempts.length, 3);
  const timedOut = events.filter((e) => e.type === "all-timed-out");
  assert.equal(timedOut.length, 1);
  const [event] = timedOut as (FailoverEvent & { type: "all-timed-out" })[];
  assert.equal(event.timeoutMs, 500);
  assert.deepEqual(event.endpoints, NAMES);
  assert.match(event.message, /every endpoint timed out after 500 ms/);
});

test("periodic checks never keep a process alive: the wait for each next probe is unref'd", async () => {
  // Node-style handles (ref / unref), as Node, Deno and Bun return them.
  const clock = new ManualClock({ refable: true });
  const { api, seen } = tieredPool(["primary", "hk"], {
    clock,
    healthCheck: { interval: 10_000, jitter: 0 },
  });
  using _ = api;
  using _regions = mockRegions(["primary", "hk"], clock);
  assert.deepEqual([clock.pending, clock.unrefd], [2, 2], "the first probes");
  clock.advance(0);
  await within("the first probes", seen((e) => e.type === "health-check", 2));
  await within("the next probes' waits", clock.scheduled(10_000, 2));
  assert.deepEqual([clock.pending, clock.unrefd], [2, 2], "the next probes");
});
