// Active health: periodic probes with each endpoint's own key, at most one in
// flight, failing probes take an endpoint out before users hit it, a passing
// probe brings it back; checkHealth() on demand; close() stops it all.

import { assert, test } from "./_harness.ts";
import { seededRandom } from "./_manual_clock.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";

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
  await seen((e) => e.type === "health-check" && e.ok, 2);
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
  await seen((e) => e.type === "health-check", 2);
  await clock.scheduled(10_000, 2);
  clock.advance(9_999);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });
  clock.advance(1);
  await seen((e) => e.type === "health-check", 4);
  assert.deepEqual(regions.counts(), { primary: 2, hk: 2 });
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
  await pool.seen((e) => e.type === "health-check" && e.ok, 2);
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
  await seen((e) => e.type === "breaker" && e.to === "closed");
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
  await settle(regions, "primary", 3);
  for (let i = 0; i < 5; i++) {
    const r = await api.fetch("models");
    assert.equal(((await r.json()) as { region: string }).region, "hk");
  }
  assert.deepEqual(
    regions.get("primary").received.map((r) => r.path),
    ["/v1/models", "/v1/models", "/v1/models"],
    "probe, the one failed user request, probe: no user request while half-open",
  );
  clock.advance(2_000); // probe timeout: a failed probe reopens with a longer cooldown
  await seen((e) => e.type === "breaker" && e.to === "open", 2);
  assert.equal(api.status()[0].lastError, "primary timed out after 2000 ms");
});

test("at most one probe in flight per endpoint", async () => {
  const { api, clock } = tieredPool(NAMES, {
    healthCheck: { interval: 1_000, timeout: 60_000, jitter: 0 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  clock.advance(0);
  await settle(regions, "primary", 1);
  const first = api.checkHealth();
  clock.advance(5_000);
  assert.equal(
    regions.get("primary").received.length,
    1,
    "checkHealth joined the probe in flight",
  );
  clock.advance(55_000);
  await first;
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
  const { api, clock } = tieredPool(NAMES, { healthCheck: checks });
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const probe = api.checkHealth();
  await settle(regions, "primary", 1);
  api.close();
  await probe;
  assert.equal(clock.pending, 0);
  await api.checkHealth().then(() => assert.fail("closed"), () => {});
});
