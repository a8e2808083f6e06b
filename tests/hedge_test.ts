// Hedging: a second attempt to another endpoint when the first is slow; the
// first good answer wins and the loser is cancelled without blame.

import { assert, bounded, test } from "./_harness.ts";
import { later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import { isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];
const hedge = { delay: 200 };

async function region(response: Response): Promise<string> {
  return ((await response.json()) as { region: string }).region;
}

test("a slow first attempt is hedged after the delay; the faster answer wins", async () => {
  const { api, clock, events, seen } = tieredPool(NAMES, { hedge });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { slow: 5_000 });
  const call = later(api.fetch("models"));
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  await bounded("the hedge timer", 5_000, () => clock.scheduled(200));
  clock.advance(199);
  await turns();
  assert.equal(api.status()[1].requests, 0, "no hedge before the delay");
  clock.advance(1);
  assert.equal(await region(await call), "hk");
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "attempt" && e.endpoint === "primary"),
  );
  const primary = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary"
  );
  assert.ok(primary?.type === "attempt" && primary.outcome === "aborted");
  assert.ok(
    events.some((e) =>
      e.type === "hedge" && e.endpoint === "hk" && e.attempt === 2
    ),
  );
  assert.equal(
    api.status()[0].failures,
    0,
    "the cancelled loser is not blamed",
  );
  await bounded("every timer gone", 5_000, () => clock.idle()); // the loser's timers go once its abort has unwound
});

test("an answer before the delay means no hedge", async () => {
  const { api, clock } = tieredPool(NAMES, { hedge });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", { slow: 150 });
  const call = later(api.fetch("models"));
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  await bounded("a timer of 150 ms", 5_000, () => clock.scheduled(150));
  clock.advance(150);
  assert.equal(await region(await call), "primary");
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
  assert.equal(clock.pending, 0);
});

test("POST is not hedged unless its method is listed", async () => {
  const { api, clock, events } = tieredPool(NAMES, { hedge, timeout: 1_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const call = later(
    api.fetch("chat/completions", { method: "POST", body: "{}" }),
  );
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 1),
  );
  // Past the hedge delay, with time for a hedge to start: none does.
  clock.advance(200);
  await turns();
  clock.advance(799);
  await turns();
  assert.equal(api.status()[1].requests, 0, "no second request: not hedged");
  assert.ok(!events.some((e) => e.type === "hedge"));
  clock.advance(1);
  assert.equal(
    await region(await call),
    "hk",
    "a plain failover after the timeout",
  );
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 0 });

  const { api: api2, clock: clock2 } = tieredPool(NAMES, {
    hedge: { delay: 200, methods: ["post"] },
  });
  using _2 = api2;
  regions.set("primary", "hang");
  const call2 = later(
    api2.fetch("chat/completions", { method: "POST", body: "{}" }),
  );
  await bounded(
    "primary gets request 2",
    5_000,
    () => regions.received("primary", 2),
  );
  await bounded("the hedge timer", 5_000, () => clock2.scheduled(200));
  clock2.advance(200);
  assert.equal(await region(await call2), "hk");
  assert.equal(
    regions.get("hk").received.at(-1)?.body,
    "{}",
    "the hedge carries the body",
  );
});

test("a failed hedge does not end the call: the next hedge goes on", async () => {
  const { api, clock, seen } = tieredPool(NAMES, { hedge, timeout: 10_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  regions.set("hk", { status: 502 });
  const call = api.fetch("models");
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  await bounded("a timer of 200 ms", 5_000, () => clock.scheduled(200));
  clock.advance(200);
  await bounded(
    "the event",
    5_000,
    () => seen((e) => e.type === "attempt" && e.endpoint === "hk"),
  );
  await bounded("a timer of 200 ms", 5_000, () => clock.scheduled(200));
  clock.advance(200);
  assert.equal(await region(await call), "sg");
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 1 });
});

test("when every hedged attempt fails, the call fails with all of them", async () => {
  const { api, clock } = tieredPool(NAMES, { hedge, timeout: 1_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) regions.set(name, "hang");
  const call = api.ky.get("models").then(() => undefined, (e) => e);
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  await bounded("a timer of 200 ms", 5_000, () => clock.scheduled(200));
  clock.advance(200); // hedge to hk; two in flight, so no third yet
  await bounded("hk gets request 1", 5_000, () => regions.received("hk", 1));
  clock.advance(800); // primary times out: sg starts at once (hk is past the delay)
  await bounded("sg gets request 1", 5_000, () => regions.received("sg", 1));
  clock.advance(1_000); // hk and sg time out
  const error = await call;
  assert.ok(isFailoverError(error));
  assert.deepEqual(error.attempts.map((a) => a.endpoint), [
    "primary",
    "hk",
    "sg",
  ]);
  assert.equal(clock.pending, 0);
});
