// How endpoints are picked: round-robin, weights, priority tiers, custom.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock, seededRandom } from "./_manual_clock.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import { createFailover, type FailoverOptions } from "ky-failover";

const NAMES = ["a", "b", "c"];

async function send(api: { fetch: typeof fetch }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const response = await api.fetch("models");
    await response.body?.cancel();
  }
}

function pool(extra: Partial<FailoverOptions>, names = NAMES) {
  return createFailover({
    endpoints: endpointsFor(names),
    clock: new ManualClock(),
    random: seededRandom(7),
    ...extra,
  });
}

test("round-robin spreads calls evenly over a same-priority pool", async () => {
  using regions = mockRegions(NAMES);
  using api = pool({});
  const order: string[] = [];
  for (let i = 0; i < 300; i++) {
    const response = await api.fetch("models");
    order.push(((await response.json()) as { region: string }).region);
  }
  assert.deepEqual(regions.counts(), { a: 100, b: 100, c: 100 });
  // Strict rotation, not merely even totals: every call goes to the
  // endpoint after the previous one's, in configuration order.
  for (let i = 1; i < order.length; i++) {
    const next = NAMES[(NAMES.indexOf(order[i - 1]) + 1) % NAMES.length];
    assert.equal(
      order[i],
      next,
      `call ${i}: ${order.slice(0, i + 1).join("")}`,
    );
  }
});

test("round-robin skips an endpoint that is out and stays even over the rest", async () => {
  using regions = mockRegions(NAMES);
  regions.set("b", "error");
  using api = pool({ breaker: { failureThreshold: 1, cooldown: 60_000 } });
  await send(api, 200);
  const counts = regions.counts();
  assert.equal(counts.b, 1, "b is tried once, then benched by its breaker");
  assert.ok(
    Math.abs(counts.a - counts.c) <= 1,
    `even: ${JSON.stringify(counts)}`,
  );
  assert.equal(counts.a + counts.c, 200, "every call succeeded on a or c");
});

test("the first endpoint of a rotation is seeded by random", async () => {
  const firsts: string[] = [];
  const expected: string[] = [];
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    using regions = mockRegions(NAMES);
    using api = createFailover({
      endpoints: endpointsFor(NAMES),
      random: seededRandom(seed),
    });
    await send(api, 1);
    firsts.push(Object.entries(regions.counts()).find(([, c]) => c === 1)![0]);
    // The tier's rotation starts at floor(first draw × tier size).
    expected.push(NAMES[Math.floor(seededRandom(seed)() * NAMES.length)]);
  }
  assert.deepEqual(firsts, expected);
  assert.ok(
    new Set(firsts).size > 1,
    "different seeds start at different endpoints",
  );
});

test("weighted: traffic follows the weights exactly and interleaves", async () => {
  using regions = mockRegions(NAMES);
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ weight: [5, 3, 2][i] })),
    strategy: "weighted",
  });
  const sequence: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = await api.fetch("models");
    sequence.push(((await r.json()) as { region: string }).region);
  }
  assert.deepEqual(regions.counts(), { a: 500, b: 300, c: 200 });
  // Smooth: with 5:3:2, "a" never gets three in a row, and every window of
  // 10 calls holds exactly 5 a, 3 b and 2 c.
  assert.ok(!sequence.join("").includes("aaa"), sequence.slice(0, 20).join(""));
  for (let i = 0; i + 10 <= sequence.length; i += 10) {
    const window = sequence.slice(i, i + 10).sort().join("");
    assert.equal(window, "aaaaabbbcc");
  }
});

test("weighted: weight 0 only takes traffic when nothing weighted can", async () => {
  using regions = mockRegions(NAMES);
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ weight: [1, 1, 0][i] })),
    strategy: "weighted",
    breaker: { failureThreshold: 1 },
    clock: new ManualClock(),
  });
  await send(api, 10);
  assert.deepEqual(regions.counts(), { a: 5, b: 5, c: 0 });
  regions.set("a", "error");
  regions.set("b", "error");
  await send(api, 4);
  assert.equal(regions.counts().c, 4);
});

test("priority tiers: traffic stays in the best tier and spills over in order", async () => {
  const names = ["p1", "p2", "b1", "b2", "last"];
  using regions = mockRegions(names);
  using api = createFailover({
    endpoints: endpointsFor(
      names,
      (_, i) => ({ priority: [1, 1, 2, 2, 3][i] }),
    ),
    breaker: { failureThreshold: 1, cooldown: 60_000 },
    clock: new ManualClock(),
    random: seededRandom(1),
  });
  await send(api, 10);
  assert.deepEqual(regions.counts(), { p1: 5, p2: 5, b1: 0, b2: 0, last: 0 });

  regions.set("p1", { status: 503 });
  regions.set("p2", "error");
  await send(api, 10);
  const c = regions.counts();
  assert.equal(
    c.p1 + c.p2,
    12,
    "each primary failed once, then its breaker opened",
  );
  assert.equal(c.b1 + c.b2, 10, "tier 2 took all the traffic");
  assert.ok(Math.abs(c.b1 - c.b2) <= 1, "round-robin inside tier 2");
  assert.equal(c.last, 0);

  regions.set("b1", "error");
  regions.set("b2", "error");
  await send(api, 3);
  assert.equal(regions.counts().last, 3, "tier 3 once tiers 1 and 2 are out");
});

test('strategy "priority": always the first available in configuration order', async () => {
  using regions = mockRegions(NAMES);
  using api = pool({ strategy: "priority", breaker: false });
  await send(api, 5);
  assert.deepEqual(regions.counts(), { a: 5, b: 0, c: 0 });
  regions.set("a", { status: 500 });
  await send(api, 5);
  assert.deepEqual(regions.counts(), { a: 10, b: 5, c: 0 });
});

test("a custom picker chooses among the best tier's untried candidates", async () => {
  using regions = mockRegions(NAMES);
  const seen: { names: string[]; attempt: number; tried: string[] }[] = [];
  const draws: number[] = [];
  using api = pool({
    strategy: (candidates, context) => {
      seen.push({
        names: candidates.map((c) => c.name),
        attempt: context.attempt,
        tried: [...context.tried],
      });
      draws.push(context.random());
      return candidates[candidates.length - 1].name;
    },
  });
  regions.set("c", { status: 502 });
  await send(api, 1);
  assert.deepEqual(seen, [
    { names: ["a", "b", "c"], attempt: 1, tried: [] },
    { names: ["a", "b"], attempt: 2, tried: ["c"] },
  ]);
  // The pool's own random source: seed 7, after the one draw that placed
  // the tier's rotation.
  const source = seededRandom(7);
  source();
  assert.deepEqual(draws, [source(), source()]);
  assert.deepEqual(regions.counts(), { a: 0, b: 1, c: 1 });
  // Candidates carry no secrets.
  const handed: string[] = [];
  using api2 = pool({
    strategy: (candidates) => {
      handed.push(JSON.stringify(candidates));
      return candidates[0];
    },
  });
  await send(api2, 1);
  assert.equal(handed.length, 1, "the picker ran");
  assert.match(handed[0], /"name":"a"/);
  assert.ok(!handed[0].includes("sk-"), handed[0]);
});

test("a custom picker that returns a stranger fails the call with a clear error", async () => {
  using regions = mockRegions(NAMES);
  using api = pool({ strategy: () => "nope" });
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.ok(error instanceof TypeError);
  assert.match(
    error.message,
    /returned "nope", which is not one of the candidates \(a, b, c\)/,
  );
  assert.deepEqual(regions.counts(), { a: 0, b: 0, c: 0 });
});

test("least-latency: power of two choices sends most traffic to the fastest, and sheds load from a busy one", async () => {
  const clock = new ManualClock();
  const latency: Record<string, number> = { a: 200, b: 20, c: 100 };
  const held: (() => void)[] = [];
  let hold = false;
  let allHeld!: () => void;
  const thirtyHeld = new Promise<void>((resolve) => allHeld = resolve);
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  using api = createFailover({
    endpoints: endpointsFor(NAMES),
    strategy: "least-latency",
    clock,
    random: seededRandom(5),
    // A fake network whose answers take `latency` on the test clock.
    fetch: async (input) => {
      const name = new URL(String(input)).hostname.split(".")[0];
      counts[name]++;
      if (hold) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length === 30) allHeld();
        });
      }
      clock.advance(latency[name]);
      return new Response("{}");
    },
  });
  await send(api, 300);
  // Of the three pairs P2C can draw, b wins the two it is in, c wins (a, c):
  // b ≈ 2/3, c ≈ 1/3, a (slowest) only while it had no sample.
  assert.ok(
    counts.b > 170 && counts.c > 70 && counts.a <= 2,
    JSON.stringify(counts),
  );
  assert.equal(api.status()[1].latencyMs, 20);

  // 30 calls in flight at once: b's score grows with its queue, so the
  // others take a share instead of piling everything on b.
  for (const k of NAMES) counts[k] = 0;
  hold = true;
  const calls = Array.from({ length: 30 }, () => api.fetch("models"));
  await bounded("30 calls in flight", 5_000, () => thirtyHeld);
  assert.ok(
    counts.b < 30 && counts.b >= 10,
    `b sheds load: ${JSON.stringify(counts)}`,
  );
  assert.ok(counts.a + counts.c > 0);
  hold = false;
  for (const release of held) release();
  for (const response of await Promise.all(calls)) {
    await response.body?.cancel();
  }
});

test("weighted: equal weights rotate in configuration order, ties going to the first", async () => {
  using regions = mockRegions(NAMES);
  using api = createFailover({
    endpoints: endpointsFor(NAMES, () => ({ weight: 1 })),
    strategy: "weighted",
  });
  const sequence: string[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await api.fetch("models");
    sequence.push(((await r.json()) as { region: string }).region);
  }
  assert.equal(sequence.join(""), "abcabca");
  assert.deepEqual(regions.counts(), { a: 3, b: 2, c: 2 });
});

test("weighted: 5:3:2 gives nginx's smooth sequence exactly", async () => {
  using _regions = mockRegions(NAMES);
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ weight: [5, 3, 2][i] })),
    strategy: "weighted",
  });
  const sequence: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await api.fetch("models");
    sequence.push(((await r.json()) as { region: string }).region);
  }
  // current += weight; the largest current wins (the first on a tie) and
  // gives back the total, 10.
  assert.equal(sequence.join(""), "abcaabacba");
});

test("a custom picker is called even with a single candidate", async () => {
  using regions = mockRegions(["a"]);
  const seen: string[][] = [];
  using api = pool({
    strategy: (candidates) => {
      seen.push(candidates.map((c) => c.name));
      return candidates[0];
    },
  }, ["a"]);
  await send(api, 2);
  assert.deepEqual(seen, [["a"], ["a"]]);
  assert.deepEqual(regions.counts(), { a: 2 });
  using api2 = pool({ strategy: () => "nope" }, ["a"]);
  const error = await api2.fetch("models").then(() => undefined, (e) => e);
  assert.ok(error instanceof TypeError, String(error));
  assert.match(
    error.message,
    /returned "nope", which is not one of the candidates \(a\)/,
  );
});

test("tiers go by priority number, not by configuration order", async () => {
  const names = ["low", "high", "mid"];
  using regions = mockRegions(names);
  using api = createFailover({
    endpoints: endpointsFor(names, (_, i) => ({ priority: [3, 0, 2][i] })),
    strategy: "priority",
    breaker: false,
  });
  await send(api, 2);
  assert.deepEqual(regions.counts(), { low: 0, high: 2, mid: 0 });
  regions.set("high", { status: 503 });
  await send(api, 1);
  assert.deepEqual(regions.counts(), { low: 0, high: 3, mid: 1 });
  regions.set("mid", { status: 503 });
  await send(api, 1);
  assert.deepEqual(regions.counts(), { low: 1, high: 4, mid: 2 });
});
