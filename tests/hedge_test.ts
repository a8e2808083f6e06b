// Hedging: a second attempt to another endpoint when the first is slow; the
// first good answer wins and the loser is cancelled without blame.

import { assert, bounded, test } from "./_harness.ts";
import { later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import {
  type FailoverOptions,
  HedgeCancelledError,
  isFailoverError,
} from "ky-failover";
import { json, scriptedFetch, type Sent, watch } from "./_cleanup.ts";

const NAMES = ["primary", "hk", "sg"];
const hedge = { delay: 200 };

async function region(response: Response): Promise<string> {
  return ((await response.json()) as { region: string }).region;
}

// The tests first in this file run on a scripted fetch (tests/_cleanup.ts):
// each asserts, right after `turns()`, what has started and what has
// settled, so a hedging loop that stops or hangs fails them at once.

/** A hedged pool over `names` whose requests go to a scripted fetch. */
function scripted(
  reply: (sent: Sent) => unknown,
  extra: Partial<FailoverOptions> = {},
  names: string[] = NAMES,
) {
  const script = scriptedFetch(reply);
  return {
    ...tieredPool(names, { fetch: script.fetch, hedge, ...extra }),
    script,
  };
}

const hang = () => undefined;

test("the first good answer ends the race at once; the slower attempt is cancelled as a HedgeCancelledError", async () => {
  const { api, clock, script, events } = scripted((s) =>
    s.endpoint === "hk" ? json(200, { from: "hk" }) : hang()
  );
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.deepEqual(script.names(), ["primary"]);
  clock.advance(199);
  await turns();
  assert.deepEqual(script.names(), ["primary"], "no hedge before the delay");
  clock.advance(1);
  await turns();
  assert.ok(call.settled, "the call has its answer");
  assert.deepEqual(await call.value?.json(), { from: "hk" });
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.ok(script.sent[0].signal.aborted, "the loser is cancelled at once");
  assert.ok(script.sent[0].signal.reason instanceof HedgeCancelledError);
  assert.deepEqual(
    events.filter((e) => e.type === "hedge"),
    [{ type: "hedge", endpoint: "hk", attempt: 2 }],
  );
  assert.deepEqual(
    events.filter((e) => e.type === "success"),
    [{
      type: "success",
      endpoint: "hk",
      status: 200,
      attempts: 1,
      durationMs: 200,
    }],
  );
  await turns();
  assert.equal(clock.pending, 0);
});

test("an answer before the delay ends the call with one request and no timer", async () => {
  const { api, clock, script, events } = scripted(() => json(400));
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.ok(call.settled);
  assert.equal(call.value?.status, 400, "a final answer ends the race too");
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(events.filter((e) => e.type === "hedge").length, 0);
  assert.equal(clock.pending, 0);
});

test("a failed answer with nothing else in flight starts the next attempt at once, as a failover, not a hedge", async () => {
  const { api, script, events } = scripted((s) =>
    s.endpoint === "primary" ? json(500) : json()
  );
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.ok(call.settled);
  assert.equal(call.value?.status, 200);
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.equal(events.filter((e) => e.type === "hedge").length, 0);
  assert.deepEqual(
    events.filter((e) => e.type === "failover").map((e) =>
      e.type === "failover" && [e.from, e.to, e.attempt]
    ),
    [["primary", "hk", 2]],
  );
});

test("when every hedged attempt fails at once, the call ends with the last answer after one per endpoint", async () => {
  const { api, clock, script } = scripted(() => json(502));
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.ok(call.settled, "the loop ends when nothing is left to run");
  assert.equal(call.value?.status, 502);
  assert.deepEqual(script.names(), ["primary", "hk", "sg"]);
  assert.equal(clock.pending, 0);
});

test("maxAttempts bounds hedges: never a third attempt with maxAttempts: 2, nor a hedge while two are in flight", async () => {
  const { api, clock, script } = scripted(hang, {
    maxAttempts: 2,
    timeout: 1_000,
  });
  using _ = api;
  const call = watch(api.ky.get("models"));
  await turns();
  clock.advance(200);
  await turns();
  assert.deepEqual(script.names(), ["primary", "hk"]);
  clock.advance(200);
  await turns();
  assert.deepEqual(
    script.names(),
    ["primary", "hk"],
    "two in flight: no third",
  );
  script.sent[1].respond(json(500));
  await turns();
  clock.advance(400);
  await turns();
  assert.deepEqual(script.names(), ["primary", "hk"], "maxAttempts reached");
  assert.equal(call.settled, false);
  clock.advance(200); // primary times out at 1000 ms
  await turns();
  assert.ok(call.settled);
  assert.ok(isFailoverError(call.error));
  assert.deepEqual(
    call.error.attempts.map((a) => [a.endpoint, a.status]),
    [["hk", 500], ["primary", undefined]],
  );
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.equal(clock.pending, 0);
});

test("after a hedge fails, the next hedge starts exactly `delay` after the last one started", async () => {
  for (const failAt of [200, 199]) {
    const { api, clock, script, events } = scripted(hang, { timeout: 5_000 });
    using _ = api;
    const call = watch(api.fetch("models"));
    await turns();
    clock.advance(200); // hk starts at 200 ms
    await turns();
    assert.deepEqual(script.names(), ["primary", "hk"]);
    clock.advance(failAt); // hk fails: the next hedge is due at 400 ms
    script.sent[1].respond(json(503));
    await turns();
    if (failAt === 200) {
      assert.deepEqual(script.names(), ["primary", "hk", "sg"], "due now");
    } else {
      assert.deepEqual(script.names(), ["primary", "hk"], "1 ms to go");
      clock.advance(1);
      await turns();
      assert.deepEqual(script.names(), ["primary", "hk", "sg"]);
    }
    script.sent[2].respond(json());
    await turns();
    assert.ok(call.settled);
    assert.equal(call.value?.status, 200);
    assert.deepEqual(
      events.filter((e) => e.type === "hedge" || e.type === "failover"),
      [
        { type: "hedge", endpoint: "hk", attempt: 2 },
        { type: "hedge", endpoint: "sg", attempt: 3 },
      ],
    );
  }
});

test("no hedge when the only endpoint left was benched during the delay", async () => {
  const { api, clock, script } = scripted(
    (s) =>
      s.path === "/models" ? json(s.endpoint === "hk" ? 500 : 200) : hang(),
    {},
    ["primary", "hk"],
  );
  using _ = api;
  const call = watch(api.fetch("embeddings"));
  await turns();
  clock.advance(100);
  await api.checkHealth(); // hk's probe fails: it is out
  assert.equal(api.status()[1].state, "unhealthy");
  clock.advance(100);
  await turns();
  clock.advance(1_000);
  await turns();
  assert.deepEqual(
    script.sent.map((s) => `${s.endpoint} ${s.path}`),
    ["primary /embeddings", "primary /models", "hk /models"],
    "no hedge, not even in panic",
  );
  script.sent[0].respond(json());
  await turns();
  assert.ok(call.settled);
  assert.equal(call.value?.status, 200);
});

test("a hedge whose middleware throws ends the call with that error and cancels the other attempt at once", async () => {
  const { api, clock, script } = scripted(hang, {
    middleware: [(ctx, next) => {
      if (ctx.attempt === 2) throw new Error("no hedging here");
      return next();
    }],
  });
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  clock.advance(200);
  await turns();
  assert.ok(call.settled);
  assert.equal((call.error as Error).message, "no hedging here");
  assert.deepEqual(script.names(), ["primary"]);
  assert.ok(script.sent[0].signal.aborted);
  assert.ok(script.sent[0].signal.reason instanceof HedgeCancelledError);
  await turns();
  assert.equal(clock.pending, 0);
});

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
