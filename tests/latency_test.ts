// The latency EWMA and the least-latency picker, exactly: latencies are
// measured on a manual clock (a fake network advances it by an answer's
// latency), the picker's two draws are scripted, and every pick is checked
// against its score `(latency EWMA + 1) × (in flight + 1)` — the lower
// wins, a tie goes to the first drawn, an endpoint without a sample scores
// as latency 0.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import { createFailover, type FailoverOptions } from "ky-failover";

/** Endpoints named `names` in one tier. */
const endpoints = (names: string[]) =>
  names.map((name) => ({ name, url: `https://${name}.example.ai/v1` }));

/**
 * A pool over `names` whose network answers after `latency` ms (set per
 * call) or holds the request until released, and whose `random` returns
 * the values pushed to `draws` (the first one places the round-robin
 * cursor when the pool is made).
 */
function latencyPool(names: string[], extra: Partial<FailoverOptions> = {}) {
  const clock = new ManualClock();
  const draws: number[] = [0];
  const picked: string[] = [];
  const held: (() => void)[] = [];
  let latency = 0;
  let hold = false;
  const api = createFailover({
    endpoints: endpoints(names),
    strategy: "least-latency",
    clock,
    maxAttempts: 1,
    random: () => {
      assert.ok(draws.length > 0, "a draw was scripted");
      return draws.shift()!;
    },
    fetch: async (input) => {
      const url = input instanceof Request ? input.url : String(input);
      picked.push(new URL(url).hostname.split(".")[0]);
      if (hold) await new Promise<void>((resolve) => held.push(resolve));
      else clock.advance(latency);
      return new Response("{}");
    },
    ...extra,
  });
  /** One call whose picker draws `first` then `second`; resolves with the endpoint's name. */
  const call = async (
    first: number | undefined,
    second: number | undefined,
    answer: { latency: number } | "hold",
  ): Promise<{ name: string; done: Promise<void> }> => {
    if (first !== undefined) draws.push(first);
    if (second !== undefined) draws.push(second);
    hold = answer === "hold";
    latency = answer === "hold" ? 0 : answer.latency;
    const before = picked.length;
    const done = api.fetch("models").then((r) => r.body?.cancel());
    await bounded("the request is sent", 5_000, async () => {
      while (picked.length === before) await turns(1);
    });
    assert.equal(draws.length, 0, "both draws used");
    if (!hold) await done;
    return { name: picked[before], done };
  };
  const status = (name: string) => api.status().find((s) => s.name === name)!;
  return { api, clock, call, held, status };
}

// With two candidates the first draw picks index floor(r × 2) and the
// second is the other one: 0.25 draws a first, 0.75 draws b first.
const A_FIRST = 0.25;
const B_FIRST = 0.75;

test("least-latency: exact picks by score, in-flight count and tie-break", async () => {
  const { api, call, held, status } = latencyPool(["a", "b"]);
  using _ = api;
  // No samples: a tie (1 × 1 each) goes to the first drawn.
  assert.equal((await call(A_FIRST, 0, { latency: 0 })).name, "a");
  assert.equal(status("a").latencyMs, 0);
  assert.equal(status("b").latencyMs, undefined);
  // b has no sample and scores as latency 0: (0 + 1) × 1 = 1, the same as
  // a's (0 + 1) × 1: the tie goes to b, drawn first.
  assert.equal((await call(B_FIRST, 0, { latency: 1 })).name, "b");
  assert.equal(status("b").latencyMs, 1);
  // a: (0 + 1) × 1 = 1 beats b: (1 + 1) × 1 = 2, whichever is drawn first.
  assert.equal((await call(B_FIRST, 0, { latency: 0 })).name, "a");
  // One call held on a: a scores (0 + 1) × (1 + 1) = 2 against b's
  // (1 + 1) × (0 + 1) = 2 — a tie, so the first drawn wins each time.
  const first = await call(A_FIRST, 0, "hold");
  assert.equal(first.name, "a");
  assert.equal(status("a").inFlight, 1);
  assert.equal((await call(B_FIRST, 0, { latency: 1 })).name, "b");
  assert.equal((await call(A_FIRST, 0, { latency: 1 })).name, "a");
  // a's EWMA is now 0.3 × 1 = 0.3: (0.3 + 1) × 2 = 2.6 loses to b's
  // (1 + 1) × 1 = 2, even drawn first.
  assert.ok(Math.abs(status("a").latencyMs! - 0.3) < 1e-9);
  assert.equal(status("a").inFlight, 1);
  assert.equal((await call(A_FIRST, 0, { latency: 1 })).name, "b");
  for (const release of held) release();
  await first.done;
  assert.equal(status("a").inFlight, 0);
  // The held call took 3 ms (three 1 ms answers while it waited):
  // a's EWMA is 0.3 + 0.3 × (3 − 0.3) = 1.11, and (1.11 + 1) × 1 = 2.11
  // loses to b's 2 even drawn first.
  assert.equal(status("a").lastLatencyMs, 3);
  assert.ok(Math.abs(status("a").latencyMs! - 1.11) < 1e-9);
  assert.equal((await call(A_FIRST, 0, { latency: 1 })).name, "b");
});

test("least-latency: of three candidates the second draw picks among the other two", async () => {
  // c fastest, a in the middle, b slowest.
  const { api, call, status } = latencyPool(["a", "b", "c"]);
  using _ = api;
  // Samples: first draw floor(r × 3), second floor(r × 2) among the rest.
  assert.equal((await call(0, 0, { latency: 5 })).name, "a"); // a vs b: tie
  assert.equal((await call(0.5, 0, { latency: 9 })).name, "b"); // b vs a: tie
  assert.equal((await call(0.9, 0, { latency: 1 })).name, "c"); // c vs a: tie
  assert.deepEqual(
    ["a", "b", "c"].map((n) => status(n).latencyMs),
    [5, 9, 1],
  );
  // a first; a second draw of 0.6 is index 1 of [b, c]: c, which wins.
  assert.equal((await call(0, 0.6, { latency: 1 })).name, "c");
  // a first; a second draw of 0.4 is index 0 of [b, c]: b, which loses.
  assert.equal((await call(0, 0.4, { latency: 5 })).name, "a");
  // b first; 0.6 → index 1 of [a, c]: c.
  assert.equal((await call(0.5, 0.6, { latency: 1 })).name, "c");
  // c first; 0.4 → a, 0.6 → b: c wins both.
  assert.equal((await call(0.9, 0.4, { latency: 1 })).name, "c");
  assert.equal((await call(0.9, 0.6, { latency: 1 })).name, "c");
  // b first; 0.4 → a: a wins.
  assert.equal((await call(0.5, 0.4, { latency: 5 })).name, "a");
});

test("least-latency: a random source that returns 1 (outside [0, 1)) still picks a candidate", async () => {
  for (const names of [["a", "b"], ["a", "b", "c"]]) {
    const { api, call } = latencyPool(names);
    using _ = api;
    // Both draws of 1 wrap to the first index, then the next one.
    assert.equal((await call(1, 1, { latency: 1 })).name, "a");
    assert.equal((await call(1, 1, { latency: 1 })).name, "b");
  }
});

test("latency EWMA: the first sample, then 30 % of each new one", async () => {
  const { api, call, status } = latencyPool(["a"]);
  using _ = api;
  const near = (actual: number | undefined, expected: number) =>
    assert.ok(
      actual !== undefined && Math.abs(actual - expected) < 1e-9,
      `${actual} ≈ ${expected}`,
    );
  // One endpoint: the picker draws nothing.
  const sample = (ms: number) => call(undefined, undefined, { latency: ms });
  await sample(10);
  assert.equal(status("a").latencyMs, 10);
  assert.equal(status("a").lastLatencyMs, 10);
  await sample(20);
  near(status("a").latencyMs, 13); // 10 + 0.3 × (20 − 10)
  assert.equal(status("a").lastLatencyMs, 20);
  await sample(3);
  near(status("a").latencyMs, 10); // 13 + 0.3 × (3 − 13)
  await sample(110);
  near(status("a").latencyMs, 40); // 10 + 0.3 × (110 − 10)
  assert.equal(status("a").lastLatencyMs, 110);
});
