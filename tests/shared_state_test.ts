// Shared state (`ky-failover/shared`): many instances of one pool, one view
// of it. What one pool learns of an endpoint — a failure, the success that
// ends a run, an open breaker, a bench — every other pool of the fleet
// applies, by the same rules and until the same time; one probe per cooldown
// for the fleet; a store that is down or slow never fails nor holds up a
// call; what a store delivers is untrusted.
//
// Every pool and store of a test runs on one manual clock, so their times
// agree exactly. Two stores: an in-test memory hub (a real lock keyed with
// a TTL, `recent()` that keeps facts while they hold, a switch to take it
// down) to check the fleet rules exactly, and `broadcastStore` for the real
// channel (its messages are macrotasks: `turns()` lets them arrive).

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import { createPool, type PoolOptions } from "ky-failover/core";
import { sharedState, type Store } from "ky-failover/shared";
import { broadcastStore } from "ky-failover/broadcast";
import { createFailover } from "ky-failover";
import {
  advance,
  BREAKER,
  call,
  CHANNEL_TURNS,
  channelName,
  ENDPOINTS,
  Fleet,
  MemoryHub,
  Net,
  openR1,
  PROBE_TIMEOUT,
  statusOf,
  storeEvents,
  TIMEOUT,
} from "./_shared_fleet.ts";

// ---------------------------------------------------------------- 1. runs

test("shared: failures on different pools add up — 2 on A and 1 on B open the breaker on A, B and C", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const [a, b, c] = ["A", "B", "C"].map((n) => fleet.add(n, hub.store()));
  await turns(CHANNEL_TURNS);
  fleet.net.answers.set("r1", { status: 503 });
  assert.equal(await call(a), 200);
  assert.equal(await call(a), 200);
  await turns(CHANNEL_TURNS);
  for (const m of [a, b, c]) {
    assert.equal(statusOf(m).state, "healthy", `${m.name}: 2 failures in all`);
    assert.equal(statusOf(m).consecutiveFailures, 2, m.name);
  }
  assert.equal(await call(b), 200);
  await turns(CHANNEL_TURNS);
  const until = fleet.clock.now() + BREAKER.cooldown;
  for (const m of [a, b, c]) {
    assert.equal(statusOf(m).state, "open", `${m.name}: 3 failures in all`);
    assert.equal(statusOf(m).availableAt, until, m.name);
  }
  assert.equal(fleet.net.count("r1"), 3);
  // None of them sends r1 another request.
  for (const m of [a, b, c, a, b, c]) assert.equal(await call(m), 200);
  assert.equal(fleet.net.count("r1"), 3);
  assert.equal(fleet.net.count("r2"), 3 + 6);
});

// ------------------------------------------------------- 2. open breakers

test("shared (broadcast): a breaker open on A keeps B's requests away until the same time", async () => {
  using fleet = new Fleet();
  const name = channelName();
  const clock = fleet.clock;
  const a = fleet.add("A", broadcastStore({ name, clock }));
  const b = fleet.add("B", broadcastStore({ name, clock }));
  await turns(CHANNEL_TURNS);
  const until = await openR1(fleet, a);
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(b).state, "open");
  assert.equal(statusOf(b).availableAt, until);
  for (let i = 0; i < 3; i++) assert.equal(await call(b), 200);
  assert.equal(fleet.net.count("r1", { pool: "B" }), 0);
  assert.equal(fleet.net.count("r2", { pool: "B" }), 3);
  clock.advance(BREAKER.cooldown - 1);
  assert.equal(statusOf(b).state, "open", "open until the same time");
});

// --------------------------------------------------------------- 3. benches

for (const kind of ["memory", "broadcast"] as const) {
  /** Two pools A and B over a `kind` store. */
  const pair = (fleet: Fleet, extra: Partial<PoolOptions> = {}) => {
    const hub = new MemoryHub(fleet.clock);
    const name = channelName();
    const store = () =>
      kind === "memory"
        ? hub.store()
        : broadcastStore({ name, clock: fleet.clock });
    return [fleet.add("A", store(), extra), fleet.add("B", store(), extra)];
  };

  test(`shared (${kind}): a rate-limit bench (429, retry-after-ms) holds on B until the same time`, async () => {
    using fleet = new Fleet();
    const [a, b] = pair(fleet);
    await turns(CHANNEL_TURNS);
    fleet.clock.advance(1_234);
    fleet.net.answers.set("r1", {
      status: 429,
      headers: { "retry-after-ms": "5000" },
    });
    assert.equal(await call(a), 200);
    await turns(CHANNEL_TURNS);
    const until = fleet.clock.now() + 5_000;
    assert.equal(statusOf(a).state, "rate-limited");
    assert.equal(statusOf(a).availableAt, until);
    assert.equal(statusOf(b).state, "rate-limited");
    assert.equal(statusOf(b).availableAt, until);
    fleet.net.answers.delete("r1");
    assert.equal(await call(b), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 0);
    fleet.clock.advance(5_000);
    assert.equal(await call(b), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 1, "over on time");
  });

  test(`shared (${kind}): an auth bench (401 to an endpoint's own key) holds on B until the same time`, async () => {
    using fleet = new Fleet();
    const [a, b] = pair(fleet, { authFailure: { bench: 30_000 } });
    await turns(CHANNEL_TURNS);
    fleet.net.answers.set("r1", { status: 401 });
    assert.equal(await call(a), 200);
    await turns(CHANNEL_TURNS);
    const until = fleet.clock.now() + 30_000;
    assert.equal(statusOf(a).state, "unauthorized");
    assert.equal(statusOf(a).availableAt, until);
    assert.equal(statusOf(b).state, "unauthorized");
    assert.equal(statusOf(b).availableAt, until);
    assert.equal(await call(b), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 0);
  });

  test(`shared (${kind}): an unhealthy bench (a failed checkHealth() probe) holds on B until the same time`, async () => {
    using fleet = new Fleet();
    const [a, b] = pair(fleet);
    await turns(CHANNEL_TURNS);
    fleet.net.answers.set("r1", { status: 503 });
    await a.pool.checkHealth();
    await turns(CHANNEL_TURNS);
    assert.equal(fleet.net.probes("r1", "A"), 1);
    const until = fleet.clock.now() + BREAKER.cooldown;
    assert.equal(statusOf(a).state, "unhealthy");
    assert.equal(statusOf(a).availableAt, until);
    assert.equal(statusOf(b).state, "unhealthy");
    assert.equal(statusOf(b).availableAt, until);
    assert.equal(statusOf(b, "r2").state, "healthy");
    assert.equal(await call(b), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 0);
  });
}

// ------------------------------------------------------------- 4. quiet

test("shared: a healthy pool writes nothing; a success after failures is written once and ends the run everywhere", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = fleet.add("A", hub.store());
  const b = fleet.add("B", hub.store());
  await turns(CHANNEL_TURNS);
  for (let i = 0; i < 5; i++) assert.equal(await call(a), 200);
  await a.pool.checkHealth();
  await turns(CHANNEL_TURNS);
  assert.equal(
    hub.published.length,
    0,
    "successes without failures are no news",
  );
  fleet.net.answers.set("r1", { status: 503 });
  assert.equal(await call(a), 200); // r1 fails, r2 answers: r2 is no news
  assert.equal(await call(a), 200);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(
    hub.published.map((m) => [m.endpoint, m.fact.type]),
    [["r1", "failure"], ["r1", "failure"]],
  );
  assert.equal(statusOf(b).consecutiveFailures, 2);
  fleet.net.answers.delete("r1");
  for (let i = 0; i < 3; i++) assert.equal(await call(a), 200);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(
    hub.published.map((m) => [m.endpoint, m.fact.type]),
    [["r1", "failure"], ["r1", "failure"], ["r1", "success"]],
  );
  assert.equal(statusOf(b).consecutiveFailures, 0, "the run ended on B too");
  assert.equal(statusOf(b).state, "healthy");
  // B's own failures now start from zero: 2 do not open its breaker.
  fleet.net.answers.set("r1", { status: 503 });
  assert.equal(await call(b), 200);
  assert.equal(await call(b), 200);
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(b).state, "healthy");
  assert.equal(statusOf(a).consecutiveFailures, 2);
});

// ---------------------------------------------------------- 5. fleet probe

/** Three pools on a memory hub with r1 open everywhere until `until`. */
async function openFleet() {
  const fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const members = ["A", "B", "C"].map((n) => fleet.add(n, hub.store()));
  await turns(CHANNEL_TURNS);
  const until = await openR1(fleet, members[0]);
  await turns(CHANNEL_TURNS);
  for (const m of members) {
    assert.equal(statusOf(m).state, "open", m.name);
    assert.equal(statusOf(m).availableAt, until, m.name);
  }
  return { fleet, hub, members, until };
}

test("shared: one probe per cooldown for the fleet — when it passes, every pool closes and traffic returns", async () => {
  const { fleet, members, until } = await openFleet();
  using _ = fleet;
  const { clock, net } = fleet;
  net.answers.delete("r1"); // r1 is back, but nobody knows yet
  await advance(clock, until - clock.now() - 1);
  assert.equal(net.probes("r1"), 0, "not before the cooldown ends");
  await advance(clock, 1);
  assert.equal(net.probes("r1"), 1, "one probe for the fleet");
  for (const m of members) {
    assert.equal(statusOf(m).state, "healthy", m.name);
    assert.equal(statusOf(m).consecutiveFailures, 0, m.name);
  }
  const before = net.count("r1");
  for (const m of members) assert.equal(await call(m), 200);
  assert.equal(net.count("r1") - before, 3, "traffic returns to r1");
  await advance(clock, 60_000);
  assert.equal(net.probes("r1"), 1, "no probe after it closed");
});

test("shared: a failed fleet probe keeps every pool open, and the next probe comes one (doubled) cooldown later", async () => {
  const { fleet, members, until } = await openFleet();
  using _ = fleet;
  const { clock, net } = fleet;
  await advance(clock, until - clock.now());
  assert.equal(net.probes("r1"), 1, "one probe for the fleet");
  // The breaker opened a second time in a row: 2 × cooldown.
  const next = clock.now() + 2 * BREAKER.cooldown;
  for (const m of members) {
    assert.equal(statusOf(m).state, "open", m.name);
    assert.equal(statusOf(m).availableAt, next, m.name);
  }
  for (const m of members) assert.equal(await call(m), 200);
  assert.equal(net.count("r1", { path: "/chat/completions" }), 3);
  await advance(clock, next - clock.now() - 1);
  assert.equal(net.probes("r1"), 1, "no probe before the next cooldown ends");
  await advance(clock, 1);
  assert.equal(net.probes("r1"), 2, "one probe, one cooldown later");
  // A third opening: 3 × cooldown.
  for (const m of members) {
    assert.equal(statusOf(m).availableAt, clock.now() + 3 * BREAKER.cooldown);
  }
});

test("shared: when the lock holder goes without a result, another pool probes after probe.timeout + timeout", async () => {
  const { fleet, members, until } = await openFleet();
  using _ = fleet;
  const { clock, net } = fleet;
  net.answers.set("r1", "hang");
  await advance(clock, until - clock.now());
  assert.equal(net.probes("r1"), 1);
  const holder = members.find((m) => net.probes("r1", m.name) === 1)!;
  holder.pool.close(); // gone, its probe with it
  await turns(CHANNEL_TURNS);
  net.answers.delete("r1");
  await advance(clock, PROBE_TIMEOUT + TIMEOUT - 1);
  assert.equal(net.probes("r1"), 1, "the lock still holds");
  await advance(clock, 1);
  assert.equal(net.probes("r1"), 2, "exactly one other pool probes");
  for (const m of members.filter((m) => m !== holder)) {
    assert.equal(statusOf(m).state, "healthy", m.name);
  }
});

// ------------------------------------------------------ 6. late instances

test("shared (memory): a pool created after A opened the breaker starts with it open until the same time", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = fleet.add("A", hub.store());
  await turns(CHANNEL_TURNS);
  const until = await openR1(fleet, a);
  fleet.clock.advance(3_000);
  const c = fleet.add("C", hub.store());
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(c).state, "open");
  assert.equal(statusOf(c).availableAt, until);
  assert.equal(await call(c), 200);
  assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
});

test("shared (broadcast): a pool created after A opened the breaker asks, is told, and starts with it open", async () => {
  using fleet = new Fleet();
  const name = channelName();
  const clock = fleet.clock;
  const a = fleet.add("A", broadcastStore({ name, clock }));
  fleet.add("B", broadcastStore({ name, clock }));
  await turns(CHANNEL_TURNS);
  const until = await openR1(fleet, a);
  await turns(CHANNEL_TURNS);
  clock.advance(3_000);
  const c = fleet.add("C", broadcastStore({ name, clock }));
  // The question and the answers: in a browser they cross processes, and
  // take longer than a few turns of this page's event loop.
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(c).state, "healthy", "told, not yet applied");
  clock.advance(50); // the store's listen time
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(c).state, "open");
  assert.equal(statusOf(c).availableAt, until);
  assert.equal(await call(c), 200);
  assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
});

// ------------------------------------------------------------- 7. store down

for (const tells of [false, true]) {
  const how = tells ? "its onStatus says so" : "the next publish succeeds";
  test(`shared: a store that is down fails nothing and holds up no call; back up (${how}), what still holds is told again`, async () => {
    using fleet = new Fleet();
    const hub = new MemoryHub(fleet.clock, tells);
    const a = fleet.add("A", hub.store());
    const b = fleet.add("B", hub.store());
    await turns(CHANNEL_TURNS);
    hub.mode = "down";
    // No time passes: no call waits on the store.
    const until = await openR1(fleet, a);
    await turns(CHANNEL_TURNS);
    assert.deepEqual(storeEvents(a), [{ store: "memory", up: false }]);
    assert.equal(statusOf(b).state, "healthy", "B heard nothing");
    assert.equal(hub.published.length, 0);
    fleet.clock.advance(4_000);
    hub.mode = "up";
    await turns(CHANNEL_TURNS);
    if (!tells) {
      assert.deepEqual(storeEvents(a), [{ store: "memory", up: false }]);
      fleet.net.answers.set("r2", { status: 503 });
      assert.equal(await call(a), 503); // r2 fails: news, and it gets through
      await turns(CHANNEL_TURNS);
    }
    assert.deepEqual(storeEvents(a), [
      { store: "memory", up: false },
      { store: "memory", up: true },
    ]);
    const open = hub.published.find((m) =>
      m.endpoint === "r1" && m.fact.type === "open"
    );
    assert.deepEqual(open?.fact, { type: "open", remainingMs: 6_000 });
    assert.equal(statusOf(b).state, "open");
    assert.equal(statusOf(b).availableAt, until);
  });
}

test("shared: a store that hangs holds up no call", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  hub.mode = "hang";
  const a = fleet.add("A", hub.store());
  await turns(CHANNEL_TURNS);
  await openR1(fleet, a); // three calls, no time passing
  assert.equal(statusOf(a).state, "open");
  assert.deepEqual(storeEvents(a), []);
});

for (const mode of ["hang", "down"] as const) {
  const after = mode === "hang" ? TIMEOUT : 0;
  test(`shared: a lock that ${mode === "hang" ? "is slow" : "is unreachable"} — each pool probes for itself after ${after} ms`, async () => {
    const { fleet, hub, members, until } = await openFleet();
    using _ = fleet;
    const { clock, net } = fleet;
    hub.mode = mode;
    net.answers.delete("r1");
    await advance(clock, until - clock.now());
    if (after > 0) {
      assert.equal(net.probes("r1"), 0, "each waits for the lock");
      await advance(clock, after - 1);
      assert.equal(net.probes("r1"), 0, "each waits for the lock");
      await advance(clock, 1);
    }
    for (const m of members) assert.equal(net.probes("r1", m.name), 1, m.name);
    for (const m of members) assert.equal(statusOf(m).state, "healthy");
  });
}

// ------------------------------------------------------ 8. untrusted input

const JUNK: unknown[] = [
  null,
  undefined,
  42,
  "open",
  [],
  {},
  { from: "x" },
  { from: "x", endpoint: "r1" },
  { from: "x", endpoint: "r1", fact: null },
  { from: "x", endpoint: "r1", fact: "failure" },
  { from: "x", endpoint: "r1", fact: { type: "explode" } },
  { from: "x", endpoint: "nope", fact: { type: "failure" } },
  { from: "x", endpoint: "nope", fact: { type: "open", remainingMs: 5_000 } },
  { from: "x", endpoint: "__proto__", fact: { type: "failure" } },
  { from: "x", endpoint: ["r1"], fact: { type: "failure" } },
  { from: "x", endpoint: "r1", fact: { type: "open" } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: -5_000 } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: 0 } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: NaN } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: Infinity } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: 1e12 } },
  { from: "x", endpoint: "r1", fact: { type: "open", remainingMs: "5000" } },
  {
    from: "x",
    endpoint: "r1",
    fact: { type: "bench", bench: "sleepy", remainingMs: 5_000 },
  },
  {
    from: "x",
    endpoint: "r1",
    fact: { type: "bench", bench: "rate-limited", remainingMs: -1 },
  },
  {
    from: "x",
    endpoint: "r1",
    fact: { type: "bench", bench: "unhealthy", remainingMs: 2 ** 40 },
  },
];

test("shared: malformed messages, unknown endpoints, bad times and a pool's own messages are ignored, and nothing throws", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = fleet.add("A", hub.store());
  const b = fleet.add("B", hub.store());
  await turns(CHANNEL_TURNS);
  for (const junk of JUNK) hub.inject(junk);
  await turns(CHANNEL_TURNS);
  for (const m of [a, b]) {
    for (const s of m.pool.status()) {
      assert.equal(s.state, "healthy", `${m.name} ${s.name}`);
      assert.equal(s.consecutiveFailures, 0, `${m.name} ${s.name}`);
    }
  }
  // A's own messages, delivered back to it (stores may), change nothing.
  fleet.net.answers.set("r1", { status: 503 });
  assert.equal(await call(a), 200);
  await turns(CHANNEL_TURNS);
  const own = hub.published[0].from;
  for (let i = 0; i < 5; i++) {
    hub.inject({ from: own, endpoint: "r1", fact: { type: "failure" } }, 0);
  }
  hub.inject({
    from: own,
    endpoint: "r1",
    fact: { type: "open", remainingMs: 5_000 },
  }, 0);
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(a).consecutiveFailures, 1, "its own failure, once");
  assert.equal(statusOf(a).state, "healthy");
  // …while the same from another instance would count.
  hub.inject({ from: "other", endpoint: "r1", fact: { type: "failure" } }, 0);
  assert.equal(statusOf(a).consecutiveFailures, 2);
  fleet.net.answers.delete("r1");
  assert.equal(await call(a), 200);
  assert.equal(fleet.net.count("r1", { pool: "A" }), 2);
});

test("shared (broadcast): junk on the channel is ignored, and nothing throws", async () => {
  using fleet = new Fleet();
  const name = channelName();
  const clock = fleet.clock;
  const errors: unknown[] = [];
  const onError = (event: { preventDefault(): void; error?: unknown }) => {
    event.preventDefault();
    errors.push(event.error);
  };
  // Deno and browsers report a throwing listener as an error event; Node
  // and Bun fail the running test.
  const target = globalThis as unknown as EventTarget;
  const canListen = typeof target.addEventListener === "function" &&
    typeof (globalThis as { ErrorEvent?: unknown }).ErrorEvent === "function";
  if (canListen) target.addEventListener("error", onError as never);
  const channel = new BroadcastChannel(`ky-failover:${name}`);
  /** A well-formed failure of r2: once it is heard, all sent before it were. */
  let sentinels = 0;
  const sentinel = async () => {
    channel.postMessage({
      kind: "message",
      message: { from: "other", endpoint: "r2", fact: { type: "failure" } },
    });
    sentinels += 1;
    for (let i = 0; statusOf(a, "r2").consecutiveFailures < sentinels; i++) {
      assert.ok(i < 200, "the channel delivers");
      await turns(1);
    }
  };
  // Whoever asks what still holds is told junk.
  channel.onmessage = (event: MessageEvent) => {
    const asker = (event.data as { kind?: string; asker?: string }).asker;
    if ((event.data as { kind?: string }).kind !== "ask") return;
    channel.postMessage({ kind: "tell", asker, messages: 42 });
    channel.postMessage({ kind: "tell", asker, messages: JUNK });
    channel.postMessage({ kind: "tell", asker, messages: [null] });
    void sentinel();
  };
  const a = fleet.add("A", broadcastStore({ name, clock }));
  try {
    for (let i = 0; sentinels === 0; i++) {
      assert.ok(i < 200, "A asks what still holds");
      await turns(1);
    }
    await sentinel(); // the junk A was told has arrived…
    clock.advance(50); // …before its question is over
    await turns(CHANNEL_TURNS);
    for (const junk of JUNK) {
      channel.postMessage(junk ?? null);
      channel.postMessage({ kind: "message", message: junk ?? null });
      channel.postMessage({ kind: "tell", asker: "x", messages: [junk] });
    }
    channel.postMessage({ kind: "ask" });
    channel.postMessage({ kind: "tell" });
    channel.postMessage({ kind: "tell", messages: 42 });
    channel.postMessage({ kind: "tell", asker: null, messages: null });
    await sentinel();
  } finally {
    channel.close();
    if (canListen) target.removeEventListener("error", onError as never);
  }
  assert.deepEqual(errors.map(String), []);
  assert.equal(statusOf(a, "r1").state, "healthy");
  assert.equal(statusOf(a, "r1").consecutiveFailures, 0);
  assert.equal(statusOf(a, "r2").consecutiveFailures, 3, "the sentinels");
  assert.equal(await call(a), 200);
  assert.equal(fleet.net.count("r1"), 1);
});

// ------------------------------------------------------------- 9. options

test("shared: invalid stores throw TypeErrors naming the field", () => {
  assert.throws(() => sharedState({ store: {} as unknown as Store }), {
    name: "TypeError",
    message: /sharedState\.store/,
  });
  assert.throws(
    () => sharedState({ store: undefined as unknown as Store }),
    { name: "TypeError", message: /sharedState\.store/ },
  );
  assert.throws(
    () =>
      createFailover({
        endpoints: ENDPOINTS,
        store: 1 as unknown as Store,
      }),
    { name: "TypeError", message: /options\.store/ },
  );
  assert.throws(() => broadcastStore({ name: "" }), {
    name: "TypeError",
    message: /broadcastStore\.name/,
  });
  const hub = new MemoryHub(new ManualClock());
  assert.throws(() => sharedState({ store: hub.store(), timeout: -1 }), {
    name: "TypeError",
    message: /sharedState\.timeout/,
  });
});

test("shared: one sharedState() in two pools throws", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const feature = sharedState({ store: hub.store() });
  const options = {
    endpoints: ENDPOINTS,
    clock: fleet.clock,
    fetch: fleet.net.fetchFor("A"),
    features: [feature],
  };
  using _a = createPool(options);
  assert.throws(() => createPool(options), {
    name: "TypeError",
    message: /already attached/,
  });
  await turns(CHANNEL_TURNS);
});

test("shared: one store in two pools throws", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const store = hub.store();
  fleet.add("A", store);
  assert.throws(() => fleet.add("B", store), { name: "TypeError" });
  await turns(CHANNEL_TURNS);
});

// -------------------------------------------------------------- 10. preset

test("shared: createFailover({ store }) shares like sharedState()", async () => {
  const clock = new ManualClock();
  const net = new Net();
  const hub = new MemoryHub(clock);
  const make = (name: string) =>
    createFailover({
      endpoints: ENDPOINTS,
      breaker: BREAKER,
      clock,
      fetch: net.fetchFor(name),
      store: hub.store(),
    });
  using a = make("A");
  using b = make("B");
  await turns(CHANNEL_TURNS);
  net.answers.set("r1", { status: 503 });
  for (let i = 0; i < 3; i++) {
    const response = await a.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [] }),
    });
    assert.equal(response.status, 200);
    await response.text();
  }
  await turns(CHANNEL_TURNS);
  const until = clock.now() + BREAKER.cooldown;
  assert.equal(a.status()[0].state, "open");
  assert.equal(b.status()[0].state, "open");
  assert.equal(b.status()[0].availableAt, until);
  assert.ok(hub.published.some((m) => m.fact.type === "open"));
  const response = await b.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [] }),
  });
  await response.text();
  assert.equal(net.count("r1", { pool: "B" }), 0);
  a.close();
  b.close();
  await turns(CHANNEL_TURNS);
  assert.equal(hub.closed, 2, "closing the pool closes its store");
});

test("shared: pool.close() resolves once the store has let go of its connection, and never rejects", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const letGo = Promise.withResolvers<void>();
  const store: Store = { ...hub.store(), close: () => letGo.promise };
  const a = fleet.add("A", store);
  let closed = false;
  const closing = a.pool.close().then(() => void (closed = true));
  assert.equal(a.pool.close(), a.pool.close(), "one promise, however often");
  await turns(CHANNEL_TURNS);
  assert.equal(closed, false, "the store is still letting go");
  letGo.resolve();
  await closing;
  assert.equal(closed, true);
  // A store whose close rejects or throws: close() still resolves.
  const rejects = fleet.add("B", {
    ...hub.store(),
    close: () => Promise.reject(new Error("connection reset")),
  });
  await rejects.pool.close();
  const throws = fleet.add("C", {
    ...hub.store(),
    close: () => {
      throw new Error("already closed");
    },
  });
  await throws.pool.close();
});
