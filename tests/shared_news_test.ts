// Shared state carries what features learn, not only endpoint health: a
// model an endpoint lacks (`models()`), learnt on one instance, is known on
// every other — and on one that starts later, for a day; money spent on a
// budgeted endpoint (`usage()`) counts on every instance, so a budget is
// the fleet's, and one that ran out is known to an instance that starts
// while it is out. What a store brings is untrusted: news that does not
// parse is ignored.
//
// Pools on one manual clock and one fake network (see _shared_fleet.ts),
// over the in-memory hub and over `broadcastStore`.

import { assert, test } from "./_harness.ts";
import { turns } from "./_observe.ts";
import type { EndpointOptions, Feature, FeatureNews } from "ky-failover/core";
import { broadcastStore } from "ky-failover/broadcast";
import { models } from "ky-failover/models";
import type { Store } from "ky-failover/shared";
import { usage } from "ky-failover/usage";
import {
  advance,
  call,
  CHANNEL_TURNS,
  channelName,
  ENDPOINTS,
  Fleet,
  MemoryHub,
  statusOf,
} from "./_shared_fleet.ts";

/** OpenAI's answer for a model it does not have. */
function notFound(model: string) {
  return {
    status: 404,
    body: {
      error: {
        message:
          `The model \`${model}\` does not exist or you do not have access to it.`,
        type: "invalid_request_error",
        code: "model_not_found",
      },
    },
  };
}

/** Stores of one kind for the instances of a test (and the memory hub). */
type Stores = { kind: string; store: () => Store; hub?: MemoryHub };

function kinds(fleet: Fleet): Stores[] {
  const hub = new MemoryHub(fleet.clock);
  const name = channelName();
  return [
    { kind: "memory", store: () => hub.store(), hub },
    {
      kind: "broadcast",
      store: () => broadcastStore({ name, clock: fleet.clock }),
    },
  ];
}

// ------------------------------------------------------------------ models

for (const kind of ["memory", "broadcast"]) {
  test(`shared news (${kind}): a model r1 lacks, learnt on A, is learnt on B — B sends it to r2 only, and other models still to r1`, async () => {
    using fleet = new Fleet();
    const { store } = kinds(fleet).find((k) => k.kind === kind)!;
    const a = fleet.add("A", store(), {}, {}, [models()]);
    const b = fleet.add("B", store(), {}, {}, [models()]);
    await turns(CHANNEL_TURNS);
    fleet.net.answers.set("r1", notFound("gpt-x"));
    assert.equal(await call(a, "gpt-x"), 200, "A fails over to r2");
    assert.deepEqual(statusOf(a).models?.notFound, ["gpt-x"]);
    await turns(CHANNEL_TURNS);
    assert.deepEqual(statusOf(b).models?.notFound, ["gpt-x"]);
    fleet.net.answers.delete("r1");
    assert.equal(await call(b, "gpt-x"), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 0, "B never asks r1");
    assert.equal(fleet.net.count("r2", { pool: "B" }), 1);
    assert.equal(await call(b, "gpt-y"), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 1, "other models: r1");
    // Health is untouched: no failure is counted anywhere.
    for (const m of [a, b]) assert.equal(statusOf(m).state, "healthy");
  });
}

test("shared news (memory): a pool created after A learnt a missing model knows it, for a day", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = fleet.add("A", hub.store(), {}, {}, [models()]);
  await turns(CHANNEL_TURNS);
  fleet.net.answers.set("r1", notFound("gpt-x"));
  assert.equal(await call(a, "gpt-x"), 200);
  await turns(CHANNEL_TURNS);
  fleet.net.answers.delete("r1");
  await advance(fleet.clock, 60 * 60 * 1000);
  const c = fleet.add("C", hub.store(), {}, {}, [models()]);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(statusOf(c).models?.notFound, ["gpt-x"]);
  assert.equal(await call(c, "gpt-x"), 200);
  assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
  // A day after A learnt it the store has let it go: a new pool asks r1.
  await advance(fleet.clock, 23 * 60 * 60 * 1000);
  const d = fleet.add("D", hub.store(), {}, {}, [models()]);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(statusOf(d).models?.notFound, []);
  assert.equal(await call(d, "gpt-x"), 200);
  assert.equal(fleet.net.count("r1", { pool: "D" }), 1);
});

// ------------------------------------------------------------------ budgets

/** $1 per million tokens in and out: 250k + 250k tokens cost $0.50. */
const PRICES = { "gpt-4.1": { input: 1, output: 1 } };
const WINDOW = 60_000;
const BUDGETED: EndpointOptions[] = ENDPOINTS.map((e) =>
  e.name === "r1" ? { ...e, budget: { usd: 1, window: WINDOW } } : e
);
const HALF_A_DOLLAR = {
  status: 200,
  body: {
    model: "gpt-4.1",
    usage: { prompt_tokens: 250_000, completion_tokens: 250_000 },
  },
};

/** A member whose r1 has a $1 budget per minute, counting with `feature`. */
function budgeted(fleet: Fleet, name: string, store: Store, feature: Feature) {
  return fleet.add(name, store, { endpoints: BUDGETED }, {}, [feature]);
}

for (const kind of ["memory", "broadcast"]) {
  test(`shared news (${kind}): a budget is the fleet's — $0.50 spent on A and $0.50 on B exhaust r1 on both`, async () => {
    using fleet = new Fleet();
    const { store, hub } = kinds(fleet).find((k) => k.kind === kind)!;
    const onA = usage({ prices: PRICES });
    const onB = usage({ prices: PRICES });
    const a = budgeted(fleet, "A", store(), onA);
    const b = budgeted(fleet, "B", store(), onB);
    // C spends nothing: its budget runs out on the others' word alone.
    const c = budgeted(fleet, "C", store(), usage({ prices: PRICES }));
    await turns(CHANNEL_TURNS);
    const t0 = fleet.clock.now();
    fleet.net.answers.set("r1", HALF_A_DOLLAR);
    assert.equal(await call(a, "gpt-4.1"), 200);
    await turns(CHANNEL_TURNS);
    assert.equal(statusOf(a).usage?.budget?.spentUsd, 0.5, "A counts once");
    assert.equal(statusOf(b).usage?.budget?.spentUsd, 0.5, "B counts A's");
    assert.equal(statusOf(b).usage?.budget?.exhausted, false);
    await advance(fleet.clock, 1_000);
    assert.equal(await call(b, "gpt-4.1"), 200);
    await turns(CHANNEL_TURNS);
    for (const m of [a, b, c]) {
      const budget = statusOf(m).usage?.budget;
      assert.equal(budget?.spentUsd, 1, m.name);
      assert.equal(budget?.exhausted, true, m.name);
      // A's $0.50 leaves the window first: then r1 is under $1 again.
      assert.equal(budget?.until, t0 + WINDOW, m.name);
    }
    // The budget that ran out is kept once: by B, whose own spending
    // crossed the limit (A and C crossed it on B's word, and say nothing).
    if (hub !== undefined) {
      const kept = hub.published.filter((m) =>
        m.fact.type === "news" && m.fact.key === "budget"
      );
      assert.equal(kept.length, 1);
      const spentBy = hub.published.filter((m) =>
        m.fact.type === "news" && m.fact.feature === "usage" &&
        m.fact.key === undefined
      ).map((m) => m.from);
      assert.equal(kept[0].from, spentBy[1], "B's own news");
    }
    // Each instance's own report counts its own calls only.
    assert.equal(onA.report().total.inputTokens, 250_000);
    assert.equal(onB.report().total.inputTokens, 250_000);
    // r1 is out on both: calls go to r2.
    fleet.net.answers.delete("r1");
    for (const m of [a, b]) assert.equal(await call(m, "gpt-4.1"), 200);
    assert.equal(fleet.net.count("r1"), 2, "only the two spending calls");
    assert.equal(fleet.net.count("r2"), 2);
    // Once A's spending leaves the window, both take r1 again.
    await advance(fleet.clock, WINDOW - 1_000);
    for (const m of [a, b]) {
      assert.equal(statusOf(m).usage?.budget?.exhausted, false, m.name);
      assert.equal(await call(m, "gpt-4.1"), 200);
    }
    assert.equal(fleet.net.count("r1"), 4);
  });
}

test("shared news (memory): a pool created while the fleet's budget is out keeps r1 out until the same time", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = budgeted(fleet, "A", hub.store(), usage({ prices: PRICES }));
  await turns(CHANNEL_TURNS);
  const t0 = fleet.clock.now();
  fleet.net.answers.set("r1", HALF_A_DOLLAR);
  assert.equal(await call(a, "gpt-4.1"), 200);
  assert.equal(await call(a, "gpt-4.1"), 200);
  await turns(CHANNEL_TURNS);
  const until = statusOf(a).usage?.budget?.until;
  assert.equal(until, t0 + WINDOW);
  // One budget message is kept, not one per spend.
  const kept = hub.published.filter((m) =>
    m.fact.type === "news" && m.fact.key !== undefined
  );
  assert.equal(kept.length, 1);
  await advance(fleet.clock, 10_000);
  const c = budgeted(fleet, "C", hub.store(), usage({ prices: PRICES }));
  await turns(CHANNEL_TURNS);
  const budget = statusOf(c).usage?.budget;
  assert.equal(budget?.exhausted, true);
  assert.equal(budget?.until, until);
  assert.equal(await call(c, "gpt-4.1"), 200);
  assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
  await advance(fleet.clock, until! - fleet.clock.now());
  assert.equal(statusOf(c).usage?.budget?.exhausted, false);
  assert.equal(await call(c, "gpt-4.1"), 200);
  assert.equal(fleet.net.count("r1", { pool: "C" }), 1);
});

test("shared news (memory): spending on an endpoint without a budget is not written", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = fleet.add("A", hub.store(), {}, {}, [usage({ prices: PRICES })]);
  await turns(CHANNEL_TURNS);
  fleet.net.answers.set("r1", HALF_A_DOLLAR);
  for (let i = 0; i < 3; i++) assert.equal(await call(a, "gpt-4.1"), 200);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(hub.published, []);
});

test("shared news (memory): spending without a known price is not written", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const a = budgeted(fleet, "A", hub.store(), usage({ prices: PRICES }));
  await turns(CHANNEL_TURNS);
  fleet.net.answers.set("r1", {
    status: 200,
    body: {
      model: "other-model",
      usage: { prompt_tokens: 250_000, completion_tokens: 250_000 },
    },
  });
  assert.equal(await call(a, "other-model"), 200);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(hub.published, []);
  assert.equal(statusOf(a).usage?.budget?.spentUsd, 0);
});

// --------------------------------------------------------- store down, up

test("shared news (memory): news kept while the store was down is told again when it is back", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock, true);
  const a = fleet.add("A", hub.store(), {}, {}, [models()]);
  const b = fleet.add("B", hub.store(), {}, {}, [models()]);
  await turns(CHANNEL_TURNS);
  hub.mode = "down";
  fleet.net.answers.set("r1", notFound("gpt-x"));
  assert.equal(await call(a, "gpt-x"), 200);
  await turns(CHANNEL_TURNS);
  assert.deepEqual(statusOf(b).models?.notFound, [], "not while down");
  hub.mode = "up";
  await turns(CHANNEL_TURNS);
  assert.deepEqual(statusOf(b).models?.notFound, ["gpt-x"]);
  const told = hub.published.filter((m) => m.fact.type === "news");
  assert.equal(told.length, 1);
  assert.equal(
    (told[0].fact as { remainingMs?: number }).remainingMs,
    24 * 60 * 60 * 1000,
    "with the time it has left",
  );
});

// ---------------------------------------------------------- untrusted input

test("shared news (memory): news that does not parse is ignored, and nothing throws", async () => {
  using fleet = new Fleet();
  const hub = new MemoryHub(fleet.clock);
  const heard: FeatureNews[] = [];
  const recorder: Feature = {
    name: "news-recorder",
    attach: () => ({
      onNews: (news) => void (news.remote && heard.push(news)),
    }),
  };
  const a = fleet.add("A", hub.store(), { endpoints: BUDGETED }, {}, [
    models(),
    usage({ prices: PRICES }),
    recorder,
  ]);
  await turns(CHANNEL_TURNS);
  const news = (fact: Record<string, unknown>) =>
    hub.inject({
      from: "other",
      endpoint: "r1",
      fact: { type: "news", ...fact },
    });
  const junk: Record<string, unknown>[] = [
    { feature: "models", data: { sent: 5 } },
    { feature: "models", data: null },
    { feature: "models", data: { sent: "x".repeat(300) } },
    { feature: "usage", data: { usd: -1 } },
    { feature: "usage", data: { usd: "0.9" } },
    { feature: "usage", data: { usd: 1e12 } },
    { feature: "usage", data: { usd: 1e9 } },
    { feature: "usage", data: { usd: Number.NaN } },
    { feature: "usage", data: {}, key: "budget" }, // a key without a time
    { feature: "usage", data: {}, remainingMs: 5_000 }, // a time without a key
    { feature: "usage", data: {}, key: "budget", remainingMs: -5 },
    { feature: "usage", data: {}, key: "other", remainingMs: 5_000 },
    { feature: "usage", data: {}, key: "budget", remainingMs: 5_000 },
    { feature: "x".repeat(65), data: {} },
    { feature: 7, data: {} },
  ];
  for (const fact of junk) news(fact);
  hub.inject({
    from: "other",
    endpoint: "nowhere",
    fact: { type: "news", feature: "models", data: { sent: "gpt-4.1" } },
  });
  await turns(CHANNEL_TURNS);
  // What the store let through to the features: well-formed facts only.
  // (5 facts are refused: a key or a time alone, a negative time, a
  // feature name too long or not a string.)
  assert.deepEqual(heard.map((n) => n.feature), [
    ...Array(3).fill("models"),
    ...Array(7).fill("usage"),
  ]);
  assert.equal(heard.length, junk.length - 5);
  assert.deepEqual(statusOf(a).models?.notFound, []);
  const budget = statusOf(a).usage?.budget;
  assert.equal(budget?.spentUsd, 0);
  assert.equal(budget?.exhausted, false);
  // …while well-formed news counts.
  heard.length = 0;
  news({ feature: "usage", data: { usd: 0.25 } });
  news({ feature: "models", data: { sent: "gpt-z" } });
  news({ feature: "models", data: { sent: "y".repeat(256) } });
  news({ feature: "f".repeat(64), data: {} });
  news({ feature: "f", data: {}, key: "k".repeat(256), remainingMs: 1 });
  news({ feature: "f", data: {}, key: "k".repeat(257), remainingMs: 1 });
  await turns(CHANNEL_TURNS);
  assert.equal(statusOf(a).usage?.budget?.spentUsd, 0.25);
  assert.deepEqual(statusOf(a).models?.notFound, ["gpt-z", "y".repeat(256)]);
  assert.deepEqual(heard.map((n) => n.feature.length), [5, 6, 6, 64, 1]);
});
