// 429: move at once, bench the limited endpoint until its retry header
// passes, wait only when nothing else is available and the wait fits.

import { assert, bounded, test } from "./_harness.ts";
import { later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions, type Mode } from "./_msw_regions.ts";
import { type FailoverOptions, isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk"];

function setup(extra: Partial<FailoverOptions> = {}, names = NAMES) {
  return tieredPool(names, extra);
}

async function region(api: { fetch: typeof fetch }): Promise<string> {
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  const body = (await response.json()) as { region?: string };
  return body.region ?? `HTTP ${response.status}`;
}

const HEADERS: [string, Record<string, string>, number][] = [
  ["retry-after-ms", { "retry-after-ms": "1500" }, 1_500],
  ["Retry-After seconds", { "retry-after": "2" }, 2_000],
  [
    "Retry-After HTTP date",
    { "retry-after": new Date(Date.UTC(2026, 10, 26, 12, 0, 7)).toUTCString() },
    7_000,
  ],
  ["no header (fallback)", {}, 1_000],
  ["a huge Retry-After (capped)", { "retry-after": "86400" }, 60_000],
];

for (const [label, headers, expected] of HEADERS) {
  test(`429 with ${label}: fail over at once, bench for ${expected} ms`, async () => {
    const { api, clock, events } = setup();
    using _ = api;
    using regions = mockRegions(NAMES, clock);
    regions.set("primary", { status: 429, headers });
    const start = clock.now();
    assert.equal(await region(api), "hk");
    assert.equal(
      clock.now(),
      start,
      "no sleep while another endpoint is available",
    );
    const limit = events.find((e) => e.type === "rate-limit");
    assert.ok(limit?.type === "rate-limit");
    assert.equal(limit.delayMs, expected);
    assert.equal(api.status()[0].state, "rate-limited");
    assert.equal(api.status()[0].availableAt, start + expected);
    assert.equal(api.status()[0].failures, 0, "a 429 is not a health failure");

    regions.set("primary", "up");
    for (let i = 0; i < 5; i++) assert.equal(await region(api), "hk");
    clock.advance(expected - 1);
    assert.equal(await region(api), "hk");
    assert.equal(
      regions.get("primary").received.length,
      1,
      "benched until the header passes",
    );
    clock.advance(1);
    assert.equal(await region(api), "primary");
    assert.equal(api.status()[0].state, "healthy");
  });
}

test("a 503 with Retry-After benches the endpoint too", async () => {
  const { api, clock } = setup();
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { status: 503, headers: { "retry-after": "5" } });
  assert.equal(await region(api), "hk");
  regions.set("primary", "up");
  clock.advance(4_999);
  assert.equal(await region(api), "hk");
  clock.advance(1);
  assert.equal(await region(api), "primary");
});

test("when every endpoint is rate-limited, wait for the soonest if the wait fits", async () => {
  const { api, clock } = setup({ totalTimeout: 10_000, maxAttempts: 3 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { status: 429, headers: { "retry-after": "3" } });
  regions.set("hk", { status: 429, headers: { "retry-after": "2" } });
  const before = clock.now();
  const call = later(region(api));
  await bounded("the wait for hk", 5_000, () => clock.scheduled(2_000));
  regions.set("hk", "up");
  regions.set("primary", "up");
  clock.advance(1_999);
  await turns();
  assert.equal(api.status()[1].requests, 1, "still waiting for hk's 2 s");
  clock.advance(1);
  assert.equal(
    await bounded("the call after the wait", 2_000, () => call),
    "hk",
    "hk recovers first, so the third attempt goes there",
  );
  assert.equal(clock.now() - before, 2_000);
  assert.deepEqual(regions.counts(), { primary: 1, hk: 2 });
});

test("with the default maxAttempts (one per endpoint) nothing waits", async () => {
  const { api, clock } = setup({ totalTimeout: 10_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { status: 429, headers: { "retry-after": "3" } });
  regions.set("hk", { status: 429, headers: { "retry-after": "2" } });
  const response = await api.fetch("models");
  assert.equal(response.status, 429, "fetch returns the last answer");
  await response.body?.cancel();
  assert.equal(clock.pending, 0);
});

test("a rate limit past the remaining totalTimeout fails fast without sending", async () => {
  const { api, clock } = setup({ totalTimeout: 5_000, maxAttempts: 3 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { status: 429, headers: { "retry-after": "30" } });
  regions.set("hk", { status: 429, headers: { "retry-after": "20" } });
  const call = api.ky.get("models").then(() => undefined, (e) => e);
  const error = await bounded("the call", 5_000, () =>
    Promise.race([
      call,
      clock.scheduled(20_000).then(() => "a wait for hk's 20 s"),
    ]));
  assert.ok(isFailoverError(error), String(error));
  assert.match(
    error.message,
    /^every endpoint is rate-limited past the remaining totalTimeout \(hk for 20000 ms\): primary → HTTP 429/,
  );
  assert.deepEqual(error.attempts.map((a) => a.status), [429, 429]);
  assert.equal(clock.pending, 0, "no wait was scheduled");

  // The next call sends nothing at all, in either mode.
  for (const name of NAMES) regions.set(name, "up");
  const viaKy = await api.ky.get("models").then(() => undefined, (e) => e);
  const viaFetch = await api.fetch("models").then(() => undefined, (e) => e);
  for (const next of [viaKy, viaFetch]) {
    assert.ok(isFailoverError(next));
    assert.equal(next.attempts.length, 0);
    assert.match(next.message, /\(hk for 20000 ms\); no request was sent/);
  }
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1 });
});

test("a later, shorter 429 never shortens a bench", async () => {
  const { api, clock, events } = setup();
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  const start = clock.now();
  regions.set("primary", { status: 429, headers: { "retry-after": "10" } });
  assert.equal(await region(api), "hk");
  // A probe meets a 429 that asks for 1 s only.
  regions.set("primary", { status: 429, headers: { "retry-after": "1" } });
  await api.checkHealth();
  assert.equal(regions.get("primary").received.length, 2);
  assert.equal(api.status()[0].availableAt, start + 10_000);
  assert.deepEqual(
    events.flatMap((e) => e.type === "rate-limit" ? [e.delayMs] : []),
    [10_000],
    "the shorter 429 does not move the bench",
  );
  regions.set("primary", "up");
  clock.advance(1_000);
  assert.equal(await region(api), "hk", "still benched after 1 s");
  clock.advance(8_999);
  assert.equal(await region(api), "hk");
  clock.advance(1);
  assert.equal(await region(api), "primary");
});

test("a streamed request fails over on a 429 like any other: not committed before its headers", async () => {
  const { api } = setup();
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 429, headers: { "retry-after": "3" } });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4.1", messages: [], stream: true }),
  });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const text = await response.text();
  assert.match(text, /"content":" hk"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  assert.equal(api.status()[0].state, "rate-limited");
});

test("a single endpoint answering 429 is waited for and retried once", async () => {
  const { api, clock } = setup({}, ["solo"]);
  using _ = api;
  using regions = mockRegions(["solo"], clock);
  regions.set("solo", { status: 429, headers: { "retry-after-ms": "800" } });
  const call = later(region(api));
  await bounded("a timer of 800 ms", 5_000, () => clock.scheduled(800));
  regions.set("solo", "up");
  clock.advance(800);
  assert.equal(
    await bounded("the call after the wait", 2_000, () => call),
    "solo",
  );
  assert.equal(regions.get("solo").received.length, 2);
});

test("x-should-retry: false on a 429 returns it, but still benches the endpoint", async () => {
  const { api } = setup();
  using _ = api;
  using regions = mockRegions(NAMES);
  regions.set("primary", {
    status: 429,
    headers: { "retry-after": "10", "x-should-retry": "false" },
  } as Mode);
  assert.equal(await region(api), "HTTP 429");
  regions.set("primary", "up");
  assert.equal(await region(api), "hk");
  assert.equal(api.status()[0].state, "rate-limited");
});
