// Active health: periodic probes with each endpoint's own key, at most one in
// flight, failing probes take an endpoint out before users hit it, a passing
// probe brings it back; checkHealth() on demand; close() stops it all.

import { assert, bounded, test } from "./_harness.ts";
import { seededRandom } from "./_manual_clock.ts";
import { fetchSignals, later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import { type FailoverOptions, isClosedError } from "ky-failover";
import { json, scriptedFetch, type Sent, watch } from "./_cleanup.ts";

const NAMES = ["primary", "hk"];
const checks = { interval: 10_000, timeout: 2_000, jitter: 0.1 };

/** Resolves once `name` has received `count` requests. */
function settle(
  regions: ReturnType<typeof mockRegions>,
  name: string,
  count: number,
) {
  return regions.received(name, count);
}

// The tests first in this file run on a scripted fetch (tests/_cleanup.ts):
// each probe waits for the test, which answers it at an exact moment of the
// clock and then asserts what has (not) happened after `turns()`.

function scripted(
  reply: (sent: Sent) => unknown,
  extra: Partial<FailoverOptions> = {},
) {
  const script = scriptedFetch(reply);
  return { ...tieredPool(NAMES, { fetch: script.fetch, ...extra }), script };
}

/** How many probes (`GET /models`) `endpoint` has received. */
function probesOf(script: ReturnType<typeof scriptedFetch>, endpoint: string) {
  return script.to(endpoint).filter((s) => s.path === "/models").length;
}

test("a probe passes on 200–299 only, its event says how long it took, and a failure is no request failure", async () => {
  const status: Record<string, number> = { primary: 299, hk: 300 };
  const { api, clock, script, events } = scripted(() => undefined);
  using _ = api;
  const check = watch(api.checkHealth());
  await turns();
  clock.advance(250);
  for (const sent of script.sent) sent.respond(json(status[sent.endpoint]));
  await turns();
  assert.ok(check.settled);
  assert.deepEqual(
    events.filter((e) => e.type === "health-check"),
    [
      {
        type: "health-check",
        endpoint: "primary",
        ok: true,
        status: 299,
        durationMs: 250,
      },
      {
        type: "health-check",
        endpoint: "hk",
        ok: false,
        status: 300,
        durationMs: 250,
      },
    ],
  );
  const [primary, hk] = api.status();
  assert.equal(primary.state, "healthy");
  assert.equal(hk.lastError, "HTTP 300");
  assert.equal(hk.consecutiveFailures, 1);
  assert.equal(hk.failures, 0, "a probe is not a request that failed");
  assert.equal(hk.requests, 0);
});

test("a failed probe benches the endpoint for breaker.cooldown, or exactly 60 s without a breaker", async () => {
  for (
    const [breaker, bench] of [[false, 60_000], [
      { cooldown: 7_000 },
      7_000,
    ]] as const
  ) {
    const { api, clock } = scripted(
      (s) => json(s.endpoint === "hk" ? 503 : 200),
      { breaker },
    );
    using _ = api;
    await api.checkHealth();
    const hk = api.status()[1];
    assert.equal(hk.state, "unhealthy");
    assert.equal(hk.availableAt, clock.now() + bench);
  }
});

test("a finished probe is forgotten: close() does not abort it after the fact", async () => {
  const { api, script } = scripted(() => json());
  await api.checkHealth();
  assert.equal(script.sent.length, 2);
  api.close();
  assert.deepEqual(script.sent.map((s) => s.signal.aborted), [false, false]);
});

test("close() with probes in flight: they are aborted, report nothing, and no timer is left", async () => {
  const { api, clock, script, events } = scripted(() => undefined, {
    healthCheck: { ...checks, jitter: 0 },
  });
  clock.advance(0);
  await turns();
  assert.equal(script.sent.length, 2, "the first probes are out");
  api.close();
  assert.deepEqual(script.sent.map((s) => s.signal.aborted), [true, true]);
  await turns();
  assert.equal(events.filter((e) => e.type === "health-check").length, 0);
  assert.equal(clock.pending, 0);
  assert.equal(api.status()[0].lastCheckAt, undefined);
});

test("a breaker opened by user traffic moves the next probe to the end of its cooldown, instead of the regular one", async () => {
  let failCalls = true;
  const { api, clock, script } = scripted(
    (s) => s.path === "/models" ? json() : json(failCalls ? 500 : 200),
    {
      healthCheck: { ...checks, jitter: 0 },
      breaker: { failureThreshold: 1, cooldown: 3_000 },
    },
  );
  using _ = api;
  clock.advance(0);
  await turns();
  assert.deepEqual([probesOf(script, "primary"), probesOf(script, "hk")], [
    1,
    1,
  ]);
  clock.advance(1_000);
  const call = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  assert.equal(call.status, 500);
  failCalls = false;
  assert.deepEqual(api.status().map((s) => s.state), ["open", "open"]);
  assert.deepEqual(clock.delays, [3_000, 3_000]);
  clock.advance(3_000); // both probed as their cooldowns end, and back
  await turns();
  assert.deepEqual([probesOf(script, "primary"), probesOf(script, "hk")], [
    2,
    2,
  ]);
  assert.deepEqual(api.status().map((s) => s.state), ["healthy", "healthy"]);
  assert.deepEqual(clock.delays, [10_000, 10_000]);
  clock.advance(6_000); // the regular probes of 10 s were replaced
  await turns();
  assert.deepEqual([probesOf(script, "primary"), probesOf(script, "hk")], [
    2,
    2,
  ]);
  clock.advance(4_000);
  await turns();
  assert.deepEqual([probesOf(script, "primary"), probesOf(script, "hk")], [
    3,
    3,
  ]);
});

test("a breaker opened by a failing probe waits for the regular interval, not its cooldown", async () => {
  const { api, clock, script } = scripted(
    (s) => json(s.endpoint === "hk" ? 500 : 200),
    {
      healthCheck: { ...checks, jitter: 0 },
      breaker: { failureThreshold: 1, cooldown: 3_000 },
    },
  );
  using _ = api;
  clock.advance(0);
  await turns();
  assert.equal(api.status()[1].state, "open");
  assert.deepEqual(clock.delays, [10_000, 10_000]);
  clock.advance(3_000);
  await turns();
  assert.equal(probesOf(script, "hk"), 1, "no probe at the cooldown's end");
  clock.advance(7_000);
  await turns();
  assert.equal(probesOf(script, "hk"), 2);
});

test("probes go to GET {url}/models with each endpoint's own key, spread by jitter", async () => {
  const { api, clock, seen } = tieredPool(NAMES, {
    healthCheck: checks,
    random: seededRandom(11),
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  const [a, b] = clock.delays;
  assert.ok(
    a < b && b < 1_000,
    `first probes spread within jitter × interval: ${a}, ${b}`,
  );
  clock.advance(1_000);
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "health-check" && e.ok, 2),
  );
  for (const name of NAMES) {
    const [probe] = regions.get(name).received;
    assert.equal(probe.method, "GET");
    assert.equal(probe.path, "/v1/models");
    assert.equal(probe.authorization, `Bearer sk-${name}`);
  }
  assert.ok(api.status().every((s) => s.lastCheckAt !== undefined));
});

test("probes repeat every interval", async () => {
  const { api, clock, seen } = tieredPool(NAMES, {
    healthCheck: { ...checks, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  clock.advance(0);
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "health-check", 2),
  );
  await bounded(
    "a timer of 10000 ms",
    5_000,
    () => clock.scheduled(10_000, 2),
  );
  clock.advance(9_999);
  assert.deepEqual(clock.delays, [1, 1], "not a millisecond early");
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });
  clock.advance(1);
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "health-check", 4),
  );
  assert.deepEqual(regions.counts(), { primary: 2, hk: 2 });
});

test("jitter spreads every probe: the first within jitter × interval, each next at interval × (1 ± jitter)", async () => {
  // The random source, set by hand: each draw returns `r`.
  let r = 0.25;
  const { api, clock, seen } = tieredPool(NAMES, {
    healthCheck: checks, // interval 10 s, jitter 0.1
    random: () => r,
  });
  using _ = api;
  using _regions = mockRegions(NAMES, clock);
  assert.deepEqual(clock.delays, [250, 250], "10 000 × 0.1 × 0.25");
  r = 0;
  clock.advance(250);
  await bounded(
    "the first probes",
    5_000,
    () => seen((e) => e.type === "health-check", 2),
  );
  await turns();
  assert.deepEqual(clock.delays, [9_000, 9_000], "10 000 × (1 − 0.1)");
  r = 0.75;
  clock.advance(9_000);
  await bounded(
    "the second probes",
    5_000,
    () => seen((e) => e.type === "health-check", 4),
  );
  await turns();
  assert.deepEqual(
    clock.delays,
    [10_500, 10_500],
    "10 000 × (1 − 0.1 + 0.2 × 0.75)",
  );
});

test("healthCheck.path — the pool's, or an endpoint's own — is the path probed; healthCheck: false is never probed", async () => {
  const names = ["azure", "hk", "sg"];
  const { api, clock, events, seen } = tieredPool(names, {
    endpoints: endpointsFor(names, (name) => ({
      healthCheck: name === "azure"
        ? { path: "openai/deployments/gpt/health" }
        : name === "sg"
        ? false
        : undefined,
    })),
    healthCheck: { path: "status", interval: 10_000, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(names, clock);
  assert.equal(clock.pending, 2, "no timer for the endpoint never probed");
  clock.advance(0);
  await bounded(
    "the periodic probes",
    5_000,
    () => seen((e) => e.type === "health-check", 2),
  );
  await api.checkHealth();
  assert.deepEqual(regions.get("azure").received.map((q) => q.path), [
    "/v1/openai/deployments/gpt/health",
    "/v1/openai/deployments/gpt/health",
  ]);
  assert.deepEqual(regions.get("hk").received.map((q) => q.path), [
    "/v1/status",
    "/v1/status",
  ]);
  assert.equal(regions.get("sg").received.length, 0);
  assert.deepEqual(
    events.flatMap((e) => e.type === "health-check" ? [e.endpoint] : [])
      .sort(),
    ["azure", "azure", "hk", "hk"],
  );
});

test("a passing probe resets the failure count", async () => {
  const { api } = tieredPool(NAMES); // failureThreshold 3, no periodic checks
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 2; i++) await (await api.fetch("models")).body?.cancel();
  assert.equal(api.status()[0].consecutiveFailures, 2);
  regions.set("primary", "up");
  await api.checkHealth();
  assert.equal(api.status()[0].consecutiveFailures, 0, "the probe reset it");
  regions.set("primary", { status: 500 });
  await (await api.fetch("models")).body?.cancel();
  assert.equal(api.status()[0].consecutiveFailures, 1);
  assert.equal(api.status()[0].state, "healthy", "1 failure, not 3");
});

test("a passing probe closes an open breaker at once, long before its cooldown ends", async () => {
  const { api, events } = tieredPool(NAMES, {
    breaker: { failureThreshold: 1, cooldown: 60_000 },
  });
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", "error");
  await (await api.fetch("models")).body?.cancel();
  assert.equal(api.status()[0].state, "open");
  regions.set("primary", "up");
  await api.checkHealth(); // the clock has not moved: 60 s of cooldown left
  assert.equal(api.status()[0].state, "healthy");
  assert.deepEqual(
    events.flatMap((e) => e.type === "breaker" ? [`${e.from}→${e.to}`] : []),
    ["closed→open", "open→closed"],
  );
  const response = await api.fetch("models");
  assert.equal(
    ((await response.json()) as { region: string }).region,
    "primary",
  );
});

test("a probe answered 429 benches the endpoint as rate-limited, and is no failure", async () => {
  const { api, clock } = tieredPool(NAMES);
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", {
    status: 429,
    headers: { "retry-after-ms": "1500" },
  });
  const start = clock.now();
  await api.checkHealth();
  const [primary] = api.status();
  assert.equal(primary.state, "rate-limited");
  assert.equal(primary.availableAt, start + 1_500);
  assert.equal(primary.consecutiveFailures, 0);
  regions.set("primary", "up");
  const region = async () =>
    ((await (await api.fetch("models")).json()) as { region: string }).region;
  assert.equal(await region(), "hk", "benched: the call goes elsewhere");
  clock.advance(1_499);
  assert.equal(await region(), "hk");
  clock.advance(1);
  assert.equal(await region(), "primary");
});

test("failing probes open the breaker before any user request pays for it", async () => {
  const { api, clock } = tieredPool(NAMES, {
    healthCheck: { ...checks, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { status: 503 });
  for (let i = 1; i <= 3; i++) {
    await api.checkHealth();
  }
  const [primary] = api.status();
  assert.equal(primary.state, "open");
  assert.equal(primary.lastError, "HTTP 503");
  assert.equal(primary.requests, 0, "no user request went there");
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  assert.equal(((await response.json()) as { region: string }).region, "hk");
  assert.ok(
    regions.get("primary").received.every((r) => r.path === "/v1/models"),
    "primary only ever saw probes",
  );
});

/**
 * A pool with health checks (jitter 0, a long interval) and a breaker that
 * opens on one failure, after its first probes found both regions up and a
 * user request then failed on the primary: the primary's breaker is open.
 */
async function primaryOpenedWithChecks() {
  const pool = tieredPool(NAMES, {
    healthCheck: { ...checks, jitter: 0, interval: 600_000 },
    breaker: { failureThreshold: 1, cooldown: 5_000 },
  });
  const regions = mockRegions(NAMES, pool.clock);
  pool.clock.advance(0);
  await bounded(
    "the event",
    5_000,
    () => pool.seen((e) => e.type === "health-check" && e.ok, 2),
  );
  regions.set("primary", "error");
  await (await pool.api.fetch("models")).body?.cancel();
  return { ...pool, regions };
}

test("an open breaker recovers through a probe at the end of its cooldown, never through user traffic", async () => {
  const { api, clock, events, seen, regions } = await primaryOpenedWithChecks();
  using _ = api;
  using _regions = regions;
  assert.equal(api.status()[0].state, "open");
  regions.set("primary", "up");
  clock.advance(5_000); // cooldown over: the checker probes
  await bounded(
    "the probe at the end of the cooldown",
    5_000,
    () =>
      seen(
        (e) => e.type === "health-check" && e.endpoint === "primary" && e.ok,
        2,
      ),
  );
  assert.equal(api.status()[0].state, "healthy", "the probe closed it");
  const probe = regions.get("primary").received[2];
  assert.equal(probe.path, "/v1/models");
  const transitions = events.flatMap((e) =>
    e.type === "breaker" ? [`${e.from}→${e.to}`] : []
  );
  assert.deepEqual(transitions, [
    "closed→open",
    "open→half-open",
    "half-open→closed",
  ]);
  const response = await api.fetch("models");
  assert.equal(
    ((await response.json()) as { region: string }).region,
    "primary",
  );
});

test("while half-open with health checks on, user traffic stays away until the probe passes", async () => {
  const { api, clock, seen, regions } = await primaryOpenedWithChecks();
  using _ = api;
  using _regions = regions;
  regions.set("primary", "hang");
  clock.advance(5_000); // the probe hangs: primary is half-open, probe in flight
  await bounded("the probe", 5_000, () => settle(regions, "primary", 3));
  for (let i = 0; i < 5; i++) {
    const call = later(api.fetch("models"));
    await turns();
    assert.equal(
      api.status()[0].requests,
      1,
      `call ${i + 1}: no user request to half-open primary`,
    );
    const r = await bounded(
      "a call while primary is half-open",
      5_000,
      () => call,
    );
    assert.equal(((await r.json()) as { region: string }).region, "hk");
  }
  assert.deepEqual(
    regions.get("primary").received.map((r) => r.path),
    ["/v1/models", "/v1/models", "/v1/models"],
    "probe, the one failed user request, probe: no user request while half-open",
  );
  clock.advance(2_000); // probe timeout: a failed probe reopens with a longer cooldown
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "breaker" && e.to === "open", 2),
  );
  assert.equal(api.status()[0].lastError, "primary timed out after 2000 ms");
});

test("at most one probe in flight per endpoint: checkHealth() joins it, the interval waits for it", async () => {
  const { api, clock, seen } = tieredPool(NAMES, {
    healthCheck: { interval: 1_000, timeout: 60_000, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  clock.advance(0);
  await bounded("the first probes", 5_000, () =>
    Promise.all([
      settle(regions, "primary", 1),
      seen((e) => e.type === "health-check" && e.endpoint === "hk"),
    ]));
  const first = later(api.checkHealth());
  // hk has no probe in flight, so checkHealth() sends it one: once it has
  // arrived, a second probe to primary would have too.
  // Its answer, not only its arrival: in a browser the answer comes back
  // through MSW's service worker well after the region got the request,
  // and until then hk's probe is still in flight (a timer due now would
  // join it instead of sending one).
  const hkChecked = (count: number) =>
    seen((e) => e.type === "health-check" && e.endpoint === "hk", count);
  await bounded("checkHealth's probe of hk", 5_000, () => hkChecked(2));
  await turns();
  assert.equal(
    regions.get("primary").received.length,
    1,
    "checkHealth joined the probe in flight",
  );
  for (let second = 1; second <= 5; second++) {
    clock.advance(1_000); // hk's next probe is due; primary's is still out
    await bounded(
      `hk's probe at ${second} s`,
      5_000,
      () => hkChecked(2 + second),
    );
    assert.equal(regions.get("hk").received.length, 2 + second);
    await turns();
    assert.equal(
      regions.get("primary").received.length,
      1,
      `no second probe to primary at ${second} s`,
    );
  }
  clock.advance(55_000);
  await bounded(
    "checkHealth, once the probe it joined times out",
    5_000,
    () => first,
  );
  assert.equal(api.status()[0].lastError, "primary timed out after 60000 ms");
});

test("checkHealth() works without periodic checks and returns the status", async () => {
  const { api, clock } = tieredPool(NAMES);
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  assert.equal(clock.pending, 0, "no periodic timers when healthCheck is off");
  regions.set("hk", { status: 401 });
  const status = await api.checkHealth();
  assert.deepEqual(
    status.map((s) => [s.name, s.consecutiveFailures, s.lastError]),
    [
      ["primary", 0, undefined],
      ["hk", 1, "HTTP 401"],
    ],
  );
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });
  assert.equal(clock.pending, 0);
});

test("close() stops periodic checks and aborts probes in flight", async () => {
  const probes = fetchSignals();
  const { api, clock } = tieredPool(NAMES, {
    healthCheck: checks,
    fetch: probes.fetch,
  });
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const probe = later(api.checkHealth());
  await bounded("the probe", 5_000, () => settle(regions, "primary", 1));
  const primary = probes.requests.filter((q) => q.url.includes("primary."));
  assert.equal(primary.length, 1);
  assert.equal(primary[0].signal.aborted, false);
  api.close();
  assert.equal(primary[0].signal.aborted, true, "close() aborted the probe");
  await bounded("checkHealth, once its probe is aborted", 5_000, () => probe);
  assert.equal(clock.pending, 0);
  const error = await api.checkHealth().then(() => undefined, (e) => e);
  assert.ok(isClosedError(error), String(error));
});
