// The circuit breaker: open after consecutive failures, half-open probe
// after the cooldown, close on success, reopen with a longer capped cooldown.
// Panic mode when every endpoint is out.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import { type FailoverOptions, isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

function setup(extra: Partial<FailoverOptions> = {}) {
  const { clock, events, api } = tieredPool(NAMES, extra);
  const breakers = () =>
    events.flatMap((e) =>
      e.type === "breaker" ? [`${e.endpoint}:${e.from}→${e.to}`] : []
    );
  return { clock, events, api, breakers };
}

async function call(api: { fetch: typeof fetch }): Promise<string> {
  const response = await api.fetch("models");
  const body = (await response.json()) as { region?: string };
  return body.region ?? `HTTP ${response.status}`;
}

test("three consecutive failures open the breaker; no traffic while open", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers, clock } = setup();
  using _ = api;
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) assert.equal(await call(api), "hk");
  assert.deepEqual(breakers(), ["primary:closed→open"]);
  const status = api.status()[0];
  assert.equal(status.state, "open");
  assert.equal(status.consecutiveFailures, 3);
  assert.equal(status.availableAt, clock.now() + 60_000);
  assert.equal(status.lastError, "HTTP 500");

  for (let i = 0; i < 20; i++) assert.equal(await call(api), "hk");
  assert.equal(
    regions.get("primary").received.length,
    3,
    "no traffic while open",
  );
  clock.advance(59_999);
  assert.equal(await call(api), "hk");
  assert.equal(regions.get("primary").received.length, 3);
});

test("a success between failures resets the count", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers } = setup();
  using _ = api;
  for (
    const mode of [{ status: 502 }, { status: 502 }, "up", { status: 502 }, {
      status: 502,
    }] as const
  ) {
    regions.set("primary", mode);
    await call(api);
  }
  assert.deepEqual(breakers(), []);
  assert.equal(api.status()[0].consecutiveFailures, 2);
  assert.equal(api.status()[0].failures, 4);
});

test("after the cooldown one probe goes through; success closes the breaker", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers, clock } = setup();
  using _ = api;
  regions.set("primary", "error");
  for (let i = 0; i < 3; i++) await call(api);
  regions.set("primary", "up");
  clock.advance(60_000);
  assert.equal(api.status()[0].state, "half-open");
  assert.equal(await call(api), "primary");
  assert.deepEqual(breakers(), [
    "primary:closed→open",
    "primary:open→half-open",
    "primary:half-open→closed",
  ]);
  assert.equal(api.status()[0].state, "healthy");
  assert.equal(api.status()[0].consecutiveFailures, 0);
});

test("half-open admits a single probe at a time; others go elsewhere", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  const { api } = setup({ clock });
  using _ = api;
  regions.set("primary", "error");
  for (let i = 0; i < 3; i++) await call(api);
  clock.advance(60_000);
  regions.set("primary", { slow: 100 });
  const probe = later(call(api));
  await bounded(
    "the probe reaches primary",
    5_000,
    () => regions.received("primary", 4),
  );
  const others = later(Promise.all([call(api), call(api), call(api)]));
  await turns();
  assert.equal(
    api.status()[0].inFlight,
    1,
    "the probe holds the permit: nothing else is sent to primary",
  );
  assert.deepEqual(
    await bounded("the other calls, answered elsewhere", 5_000, () => others),
    ["hk", "hk", "hk"],
  );
  assert.equal(
    regions.get("primary").received.length,
    4,
    "only the probe reached primary",
  );
  clock.advance(100);
  assert.equal(await probe, "primary");
  assert.equal(api.status()[0].state, "healthy");
});

test("random errors do not open the breaker; a real outage after them still does", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers } = setup();
  using _ = api;
  // One answer in five fails, as from a flaky provider: 20 % errors.
  for (let i = 0; i < 100; i++) {
    regions.set("primary", i % 5 === 0 ? { status: 500 } : "up");
    await call(api);
  }
  assert.deepEqual(breakers(), [], "never opened by noise");
  // Three in a row happens 1 run in 125 at that rate: still not an outage.
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) assert.equal(await call(api), "hk");
  assert.equal(api.status()[0].state, "healthy");
  // Six in a row (1 run in 15,625) is one.
  for (let i = 0; i < 2; i++) await call(api);
  assert.equal(api.status()[0].state, "healthy");
  await call(api);
  assert.deepEqual(breakers(), ["primary:closed→open"]);
  assert.equal(api.status()[0].consecutiveFailures, 6);
});

test("an endpoint failing half its requests opens after 2 × failureThreshold failures in a row, not later", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers } = setup();
  using _ = api;
  // Every other answer fails: an error rate of about one half, at which a
  // run of 6 happens by chance once in 64 runs — noise by the chance rule,
  // but the run may never need to be longer than 2 × 3.
  for (let i = 0; i < 40; i++) {
    regions.set("primary", i % 2 === 0 ? { status: 500 } : "up");
    await call(api);
  }
  assert.deepEqual(breakers(), []);
  regions.set("primary", { status: 500 });
  for (let i = 1; i <= 5; i++) {
    assert.equal(await call(api), "hk");
    assert.equal(api.status()[0].state, "healthy", `after ${i} in a row`);
  }
  await call(api);
  assert.deepEqual(breakers(), ["primary:closed→open"]);
  assert.equal(api.status()[0].consecutiveFailures, 6);
});

test("a 429 neither ends a run of failures nor closes a half-open breaker", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers, clock } = setup();
  using _ = api;
  const limited = { status: 429, headers: { "retry-after-ms": "100" } };
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 2; i++) await call(api);
  regions.set("primary", limited);
  assert.equal(await call(api), "hk");
  assert.equal(api.status()[0].consecutiveFailures, 2, "the 429 is neutral");
  clock.advance(100);
  regions.set("primary", { status: 500 });
  await call(api);
  assert.deepEqual(
    breakers(),
    ["primary:closed→open"],
    "2 failures, a 429, a failure: three in a row",
  );

  // Half-open: the trial gets a 429. That is no sign of health.
  clock.advance(60_000);
  regions.set("primary", limited);
  assert.equal(await call(api), "hk");
  assert.deepEqual(breakers(), [
    "primary:closed→open",
    "primary:open→half-open",
  ]);
  assert.equal(api.status()[0].state, "rate-limited");
  clock.advance(100);
  regions.set("primary", "up");
  assert.equal(await call(api), "primary", "a real answer closes it");
  assert.deepEqual(breakers().at(-1), "primary:half-open→closed");
});

test("after an outage the breaker is strict again: three failures reopen it", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers, clock } = setup();
  using _ = api;
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) await call(api);
  regions.set("primary", "up");
  clock.advance(60_000);
  assert.equal(await call(api), "primary", "the probe closes it");
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) await call(api);
  assert.deepEqual(breakers(), [
    "primary:closed→open",
    "primary:open→half-open",
    "primary:half-open→closed",
    "primary:closed→open",
  ]);
});

test("a failed probe reopens with a longer cooldown, capped at maxCooldown", async () => {
  using regions = mockRegions(NAMES);
  const { api, clock, events } = setup({
    breaker: { failureThreshold: 3, cooldown: 10_000, maxCooldown: 25_000 },
  });
  using _ = api;
  regions.set("primary", { status: 503 });
  for (let i = 0; i < 3; i++) await call(api);
  const cooldowns = () =>
    events.flatMap((e) =>
      e.type === "breaker" && e.to === "open" ? [e.cooldownMs] : []
    );
  for (const wait of [10_000, 20_000, 25_000, 25_000]) {
    clock.advance(wait - 1);
    await call(api);
    clock.advance(1);
    assert.equal(await call(api), "hk", "probe failed, hk answered");
  }
  assert.deepEqual(cooldowns(), [10_000, 20_000, 25_000, 25_000, 25_000]);
  assert.equal(
    regions.get("primary").received.length,
    3 + 4,
    "one probe per cooldown",
  );

  // Recovery resets the multiplier.
  regions.set("primary", "up");
  clock.advance(25_000);
  assert.equal(await call(api), "primary");
  regions.set("primary", { status: 503 });
  for (let i = 0; i < 3; i++) await call(api);
  assert.equal(cooldowns().at(-1), 10_000);
});

test("panic mode: with every breaker open, the soonest to recover is still tried", async () => {
  using regions = mockRegions(NAMES);
  const { api, clock, events } = setup({
    breaker: { failureThreshold: 1, cooldown: 30_000 },
  });
  using _ = api;
  for (const name of NAMES) regions.set(name, "error");
  // Open them one at a time so they recover in a known order.
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.deepEqual(
    error.attempts.map((a) => [a.endpoint, a.error instanceof TypeError]),
    [["primary", true], ["hk", true], ["sg", true]],
  );
  assert.deepEqual(api.status().map((s) => s.state), ["open", "open", "open"]);
  clock.advance(10_000);
  regions.set("primary", "up");
  regions.set("hk", "up");
  regions.set("sg", "up");
  // All are open; primary opened first, so it recovers soonest.
  assert.equal(await call(api), "primary");
  const attempt = events.findLast((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt" && attempt.panic);
  assert.equal(
    api.status()[0].state,
    "healthy",
    "a panic success closes the breaker",
  );
  assert.equal(regions.get("hk").received.length, 1);
});

test("breaker: false never benches an endpoint", async () => {
  using regions = mockRegions(NAMES);
  const { api } = setup({ breaker: false, retryBudget: false });
  using _ = api;
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 10; i++) assert.equal(await call(api), "hk");
  assert.equal(regions.get("primary").received.length, 10);
  assert.equal(api.status()[0].state, "healthy");
  assert.equal(api.status()[0].consecutiveFailures, 10);
});

test("4xx answers keep the breaker closed (the endpoint is alive)", async () => {
  using regions = mockRegions(NAMES);
  const { api, breakers } = setup({ breaker: { failureThreshold: 2 } });
  using _ = api;
  for (let i = 0; i < 5; i++) {
    regions.set("primary", { status: 500 });
    await call(api);
    regions.set("primary", { status: 404 });
    assert.equal(await call(api), "HTTP 404");
  }
  assert.deepEqual(breakers(), []);
});

test("attempts sent before the breaker opened and failing after it do not re-open it: only a failed panic attempt lengthens a cooldown", async () => {
  const { api, clock, events } = tieredPool(NAMES, {
    timeout: 1_000,
    breaker: { failureThreshold: 2, cooldown: 60_000 },
    strategy: "priority",
    maxAttempts: 1,
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  // Three calls in flight to primary while its breaker is still closed.
  const calls = [1, 2, 3].map(() =>
    later(api.fetch("models").then(() => undefined, (e) => e))
  );
  await bounded(
    "three hanging attempts",
    5_000,
    () => regions.received("primary", 3),
  );
  await bounded("their timeouts", 5_000, () => clock.scheduled(1_000));
  clock.advance(1_000); // all three time out together
  for (const error of await Promise.all(calls)) {
    assert.ok(isFailoverError(error), String(error));
  }
  const opened = events.flatMap((e) =>
    e.type === "breaker" ? [`${e.from}→${e.to} ${e.cooldownMs ?? ""}`] : []
  );
  assert.deepEqual(opened, ["closed→open 60000"], "opened once, 60 s");
  assert.equal(api.status()[0].availableAt, clock.now() + 60_000);
});

/** A pool with periodic probes every 10 s (no jitter) over mocked regions. */
function probedSetup() {
  const clock = new ManualClock();
  const regions = mockRegions(NAMES, clock);
  const { api, breakers, events } = setup({
    clock,
    healthCheck: { interval: 10_000, jitter: 0 },
  });
  const checks = (name: string) =>
    events.filter((e) => e.type === "health-check" && e.endpoint === name);
  /** Advances to the next probe of every endpoint and waits for them. */
  const probeRound = async (ms: number) => {
    const before = checks("primary").length;
    clock.advance(ms);
    await bounded("the probe of primary", 5_000, async () => {
      while (checks("primary").length === before) await turns(1);
    });
  };
  return { clock, regions, api, breakers, events, checks, probeRound };
}

const post = (api: { fetch: typeof fetch }) =>
  api.fetch("chat/completions", { method: "POST", body: "{}" }).then(
    async (r) => {
      const body = (await r.json()) as { region?: string };
      return body.region ?? `HTTP ${r.status}`;
    },
  );

test("a probe that closes an open breaker directly also forgets the errors: three failures reopen it", async () => {
  const { regions, api, breakers, probeRound } = probedSetup();
  using _ = api;
  using _regions = regions;
  await probeRound(0); // the first probes pass
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) assert.equal(await post(api), "hk");
  assert.deepEqual(breakers(), ["primary:closed→open"]);
  regions.set("primary", "up");
  await probeRound(10_000); // long before the cooldown ends
  assert.deepEqual(breakers(), ["primary:closed→open", "primary:open→closed"]);
  assert.equal(api.status()[0].state, "healthy");
  // The failures before the outage are forgotten: the endpoint counts as
  // healthy, so three failures in a row are an outage again.
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 2; i++) assert.equal(await post(api), "hk");
  assert.equal(breakers().length, 2, "still closed after two");
  assert.equal(await post(api), "hk");
  assert.deepEqual(breakers(), [
    "primary:closed→open",
    "primary:open→closed",
    "primary:closed→open",
  ]);
});

test("a failed probe of an open endpoint leaves its cooldown as it is", async () => {
  const { clock, regions, api, breakers, events, probeRound } = probedSetup();
  using _ = api;
  using _regions = regions;
  await probeRound(0);
  regions.set("primary", { status: 500 });
  for (let i = 0; i < 3; i++) assert.equal(await post(api), "hk");
  const openedAt = clock.now();
  assert.equal(api.status()[0].availableAt, openedAt + 60_000);
  await probeRound(10_000); // fails: primary still answers 500
  assert.deepEqual(breakers(), ["primary:closed→open"], "not re-opened");
  const opens = events.flatMap((e) =>
    e.type === "breaker" && e.to === "open" ? [e.cooldownMs] : []
  );
  assert.deepEqual(opens, [60_000]);
  const primary = api.status()[0];
  assert.equal(primary.state, "open");
  // The failed probe benches it for a cooldown from now (70 s), which
  // outlasts the breaker's 60 s; a re-open would have said 120 s more.
  assert.equal(primary.availableAt, clock.now() + 60_000);
  assert.equal(primary.availableAt, openedAt + 70_000);
});

test("an attempt sent while the breaker was closed does not hold the half-open permit", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  const { api, breakers } = setup({
    clock,
    breaker: { failureThreshold: 1, cooldown: 1_000 },
  });
  using _ = api;
  // A slow answer in flight to primary while its breaker is closed.
  regions.set("primary", { slow: 5_000 });
  const slow = later(post(api));
  await bounded("the slow call", 5_000, () => regions.received("primary", 1));
  // A failure opens the breaker (threshold 1) while it is in flight.
  regions.set("primary", "refused");
  assert.equal(await post(api), "hk");
  assert.deepEqual(breakers(), ["primary:closed→open"]);
  // After the cooldown the next call is primary's half-open trial, even
  // with the older attempt still in flight.
  regions.set("primary", "up");
  clock.advance(1_000);
  assert.equal(api.status()[0].state, "half-open");
  assert.equal(api.status()[0].inFlight, 1);
  assert.equal(await post(api), "primary");
  assert.deepEqual(breakers(), [
    "primary:closed→open",
    "primary:open→half-open",
    "primary:half-open→closed",
  ]);
  clock.advance(4_000);
  assert.equal(await slow, "primary");
});

// The error rate is an EWMA over outcomes: a failure adds 5 % of what is
// left to 1, a success takes 5 % off. A run of failures opens the breaker
// once it is `failureThreshold` (3) long and the rate before the run, r,
// makes it unlikely by chance (r ** run ≤ 1e-4), or at 2 × 3 = 6.
for (
  const [history, opensAt, why] of [
    ["", 3, "r = 0"],
    ["FS", 4, "r = 0.0475: 0.0475³ > 1e-4 ≥ 0.0475⁴"],
    ["FSS", 3, "r = 0.045125: 0.045125³ ≤ 1e-4"],
    ["FFSFFSSS", 5, "r ≈ 0.1553: r⁴ ≈ 5.8e-4, r⁵ ≈ 9.0e-5"],
  ] as const
) {
  test(`after ${history || "no history"}, a run of ${opensAt} failures opens the breaker (${why})`, async () => {
    const names = ["primary", "hk"];
    using regions = mockRegions(names);
    const { api, events } = tieredPool(names);
    using _ = api;
    const opened = () =>
      events.some((e) => e.type === "breaker" && e.to === "open");
    for (const outcome of history) {
      regions.set("primary", outcome === "F" ? { status: 500 } : "up");
      await call(api);
    }
    assert.ok(!opened());
    regions.set("primary", { status: 500 });
    let run = 0;
    while (!opened() && run < 10) {
      assert.equal(await call(api), "hk");
      run++;
    }
    assert.equal(run, opensAt);
  });
}

test("status(): a half-open endpoint shows rate-limited until its bench ends, to the millisecond", async () => {
  const clock = new ManualClock();
  let answerHeld!: (response: Response) => void;
  const primary: (() => Promise<Response>)[] = [
    () => new Promise<Response>((resolve) => answerHeld = resolve),
    () => Promise.resolve(new Response("{}", { status: 500 })),
  ];
  let sentToPrimary = 0;
  const { api, events } = tieredPool(["primary", "hk"], {
    clock,
    breaker: { failureThreshold: 1, cooldown: 10_000 },
    fetch: (input) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith("https://primary.")) {
        return primary[sentToPrimary++]();
      }
      return Promise.resolve(Response.json({ region: "hk" }));
    },
  });
  using _ = api;
  const held = later(post(api));
  await bounded("the held attempt", 5_000, async () => {
    while (sentToPrimary === 0) await turns(1);
  });
  assert.equal(await post(api), "hk", "a 500 opens primary's breaker");
  assert.equal(api.status()[0].state, "open");
  // The attempt sent before it opened gets a 429 asking for 20 s.
  answerHeld(
    new Response("{}", { status: 429, headers: { "retry-after": "20" } }),
  );
  assert.equal(await held, "hk");
  assert.ok(
    events.some((e) => e.type === "rate-limit" && e.delayMs === 20_000),
  );
  const state = () => {
    const s = api.status()[0];
    return [s.state, s.availableAt];
  };
  const t0 = clock.now();
  assert.deepEqual(state(), ["open", t0 + 20_000]);
  clock.advance(10_000); // the cooldown ends: half-open, but still benched
  assert.deepEqual(state(), ["rate-limited", t0 + 20_000]);
  clock.advance(9_999);
  assert.deepEqual(state(), ["rate-limited", t0 + 20_000]);
  clock.advance(1);
  assert.deepEqual(state(), ["half-open", undefined]);
});
