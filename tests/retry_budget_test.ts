// The retry budget: a token bucket (maxTokens 10, starts full) that a retry
// which fails drains by one and an answered attempt refills by `ratio`;
// retries are made only while it holds more than half, but every tenth
// denied retry goes through as a trial. A call's first attempt never takes
// a token. So a fleet-wide outage costs about 1.1 requests per call, and
// retries come back as answers refill the bucket.

import { assert, test } from "./_harness.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import { type FailoverOptions, isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

/** A pool over primary → hk → sg with `breaker: false`, and its regions. */
function setup(extra: Partial<FailoverOptions> = {}) {
  const pool = tieredPool(NAMES, { breaker: false, ...extra });
  const regions = mockRegions(NAMES, pool.clock);
  const total = () =>
    Object.values(regions.counts()).reduce((a, b) => a + b, 0);
  /** One call; returns the requests it sent and its final status. */
  const call = async (): Promise<[number, number]> => {
    const before = total();
    const response = await pool.api.fetch("chat/completions", {
      method: "POST",
      body: "{}",
    });
    await response.body?.cancel();
    return [total() - before, response.status];
  };
  /** `n` calls; returns the requests each one sent. */
  const calls = async (n: number, status: number): Promise<number[]> => {
    const perCall: number[] = [];
    for (let i = 0; i < n; i++) {
      const [sent, got] = await call();
      assert.equal(got, status, `call ${i + 1}`);
      perCall.push(sent);
    }
    return perCall;
  };
  const everyRegion = (mode: Parameters<typeof regions.set>[1]) => {
    for (const name of NAMES) regions.set(name, mode);
  };
  return { ...pool, regions, total, call, calls, everyRegion };
}

const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);

for (const mode of [{ status: 503 }, "refused"] as const) {
  const what = mode === "refused" ? "refused" : "503";
  test(`every endpoint ${what}, breaker: false: 100 calls send 115 requests, not 300`, async () => {
    const { api, regions, total, everyRegion } = setup();
    using _ = api;
    using _regions = regions;
    everyRegion(mode);
    const perCall: number[] = [];
    for (let i = 0; i < 100; i++) {
      const before = total();
      await api.ky.post("chat/completions", { json: {} }).then(
        () => assert.fail("every endpoint fails"),
        (e: unknown) => assert.ok(isFailoverError(e), String(e)),
      );
      perCall.push(total() - before);
    }
    const sent = sum(perCall);
    assert.ok(sent <= 150, `${sent} requests for 100 calls`);
    // 10 tokens, retries while > 5: failed retries take 10→9→8 (call 1),
    // 8→7→6 (call 2), 6→5 (call 3, whose third attempt is denied #1);
    // then every call is denied its retry, and each tenth denial is a
    // trial that fails: one call in nine sends two requests.
    assert.equal(sent, 115);
    assert.deepEqual(perCall.slice(0, 13), [
      3,
      3,
      2,
      1,
      1,
      1,
      1,
      1,
      1,
      1,
      1,
      2,
      1,
    ]);
    const trials = perCall.slice(3).flatMap((n, i) => n === 2 ? [i + 3] : []);
    assert.deepEqual(trials.slice(0, 3), [11, 20, 29], "every ninth call");
    assert.ok(perCall.slice(3).every((n) => n === 1 || n === 2));
  });
}

test('a call denied a retry fails with "retry budget exhausted"', async () => {
  const { api, regions, calls, everyRegion } = setup();
  using _ = api;
  using _regions = regions;
  everyRegion({ status: 503 });
  await calls(3, 503); // drains the bucket to 5
  const error = await api.ky.get("models").then(
    () => assert.fail("every endpoint answers 503"),
    (e: unknown) => e,
  );
  assert.ok(isFailoverError(error), String(error));
  assert.match(error.message, /^retry budget exhausted/);
  assert.equal(error.attempts.length, 1);
  assert.equal(error.response?.status, 503);
});

test("a drained bucket still sends a trial retry: when the backups recover behind a dead primary, calls succeed again", async () => {
  const { api, regions, calls, everyRegion } = setup();
  using _ = api;
  using _regions = regions;
  everyRegion({ status: 503 });
  await calls(10, 503); // drained to 5 (call 3); denials 1..8 so far
  regions.set("hk", "up");
  regions.set("sg", "up");
  // The primary stays down. Without trials every call would stop at it
  // for good: no retry, so no answer, so no token back.
  assert.deepEqual(await calls(1, 503), [1], "denial 9: no retry");
  const [trial] = await calls(1, 200);
  assert.equal(trial, 2, "denial 10 is a trial: it reaches hk, which answers");
  // One answer (5 → 5.5) re-opens retries: the next calls succeed too.
  const after = await calls(20, 200);
  assert.ok(after.every((n) => n === 2), JSON.stringify(after));
});

test("a call's first attempt never takes a token: a dead primary before a healthy backup keeps every call succeeding", async () => {
  const { api, regions, calls } = setup();
  using _ = api;
  using _regions = regions;
  regions.set("primary", { status: 503 });
  const perCall = await calls(100, 200);
  assert.ok(perCall.every((n) => n === 2), "primary, then hk: every call");
  assert.deepEqual(regions.counts(), { primary: 100, hk: 100, sg: 0 });
});

for (
  const [ratio, downCalls] of [
    // ratio 0.5 (default): from 5, one answer makes 5.5 > 5: a retry (which
    // fails: 4.5); the next answer only makes 5.0, which is not > 5.
    [undefined, [2, 1, 2, 1, 2, 1, 2, 1]],
    // ratio 0.25: 5.25 → a failed retry → 4.25; 4.5, 4.75, 5.0 allow none;
    // one failed retry per 1 / 0.25 = 4 answers.
    [0.25, [2, 1, 1, 1, 2, 1, 1, 1]],
  ] as const
) {
  test(`after an outage, answers bring retries back (ratio ${ratio ?? "0.5, the default"})`, async () => {
    const { api, regions, call, calls, everyRegion } = setup(
      ratio === undefined ? {} : { retryBudget: { ratio } },
    );
    using _ = api;
    using _regions = regions;
    everyRegion({ status: 503 });
    // Drained to 5 (see above); one denial so far, so no trial comes in the
    // eight rounds below (at most one denial each).
    assert.deepEqual(await calls(3, 503), [3, 3, 2]);

    // The primary answers every other call; on the others, everything fails.
    const seen: number[] = [];
    for (let i = 0; i < downCalls.length; i++) {
      regions.set("primary", "up");
      assert.deepEqual(await call(), [1, 200], "an answer at once");
      regions.set("primary", { status: 503 });
      const [sent, status] = await call();
      assert.equal(status, 503);
      seen.push(sent);
    }
    assert.deepEqual(seen, downCalls);
    assert.equal(seen.indexOf(2), 0, "the first failure after one answer");
  });
}

test("maxTokens sets the burst; retryBudget: false removes the cap", async () => {
  // 20 tokens, retries while > 10: five calls with two failed retries each,
  // then one call in nine sends a trial (as with 10 tokens: 10 more).
  for (
    const [retryBudget, total, head] of [
      [{ maxTokens: 20 }, 120, [3, 3, 3, 3, 3, 1]],
      [false, 300, [3, 3, 3, 3, 3, 3]],
    ] as const
  ) {
    const { api, regions, calls, everyRegion } = setup({ retryBudget });
    using _ = api;
    using _regions = regions;
    everyRegion({ status: 503 });
    const perCall = await calls(100, 503);
    assert.deepEqual(perCall.slice(0, 6), head, JSON.stringify(retryBudget));
    assert.equal(sum(perCall), total, JSON.stringify(retryBudget));
  }
});

test("the exhausted message gives the tokens to one decimal, the bucket and the threshold", async () => {
  const { api, regions, call, calls, everyRegion } = setup();
  using _ = api;
  using _regions = regions;
  everyRegion({ status: 503 });
  await calls(3, 503); // drains the bucket to 5
  const denied = async () => {
    const error = await api.ky.post("chat/completions", { json: {} }).then(
      () => assert.fail("every endpoint answers 503"),
      (e: unknown) => e,
    );
    assert.ok(isFailoverError(error), String(error));
    return error;
  };
  const first = await denied();
  assert.equal(first.attempts.length, 1);
  assert.ok(
    first.message.startsWith(
      "retry budget exhausted (5 of 10 tokens; retries resume above 5)",
    ),
    first.message,
  );
  // One answer: 5.5 tokens, a retry, which fails: 4.5.
  regions.set("primary", "up");
  assert.deepEqual(await call(), [1, 200]);
  regions.set("primary", { status: 503 });
  const second = await denied();
  assert.equal(second.attempts.length, 2, "one retry, then denied");
  assert.ok(
    second.message.startsWith(
      "retry budget exhausted (4.5 of 10 tokens; retries resume above 5)",
    ),
    second.message,
  );
});

test("a final answer (a 400) puts a token share back like a success", async () => {
  const { api, regions, call, calls, everyRegion } = setup();
  using _ = api;
  using _regions = regions;
  everyRegion({ status: 503 });
  await calls(3, 503); // drains the bucket to 5
  assert.deepEqual(await call(), [1, 503], "no retry at 5");
  regions.set("primary", { status: 400 });
  assert.deepEqual(await call(), [1, 400], "a final answer: 5.5");
  regions.set("primary", { status: 503 });
  assert.deepEqual(await call(), [2, 503], "a retry at 5.5, which fails: 4.5");
  assert.deepEqual(await call(), [1, 503], "none at 4.5");
});

test("maxTokens 1: one failed retry empties the bucket, which never goes below 0", async () => {
  const { api, regions, call, calls, everyRegion } = setup({
    retryBudget: { maxTokens: 1 },
  });
  using _ = api;
  using _regions = regions;
  everyRegion({ status: 503 });
  // 1 > 0.5: one retry, which fails (0); the third attempt is denied.
  assert.deepEqual(await calls(1, 503), [2]);
  // Denials 2 … 9 send one request each, the 10th is a trial that fails
  // (0 stays 0, not −1).
  assert.deepEqual(await calls(9, 503), [1, 1, 1, 1, 1, 1, 1, 1, 2]);
  // Two answers bring the bucket from 0 to 1 (ratio 0.5), above 0.5: a
  // retry comes back. From −1 it would take four.
  regions.set("primary", "up");
  assert.deepEqual(await calls(1, 200), [1]);
  regions.set("primary", { status: 503 });
  assert.deepEqual(await call(), [1, 503], "0.5: not above 0.5");
  regions.set("primary", "up");
  assert.deepEqual(await calls(1, 200), [1]);
  regions.set("primary", { status: 503 });
  assert.deepEqual(await call(), [2, 503], "1: a retry");
});
