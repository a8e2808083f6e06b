// The retry budget keeps failovers under a share of recent calls, so that an
// outage everywhere cannot multiply traffic by maxAttempts.

import { assert, test } from "./_harness.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import { isFailoverError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

test("with every region failing, retries stay within ratio × calls", async () => {
  const { api, clock } = tieredPool(NAMES, {
    breaker: false,
    retryBudget: { ratio: 0.5, minPerSecond: 0, window: 10_000 },
  });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) regions.set(name, { status: 500 });
  const attempts: number[] = [];
  for (let i = 0; i < 10; i++) {
    const error = await api.ky.get("models").then(() => undefined, (e) => e);
    assert.ok(isFailoverError(error));
    attempts.push(error.attempts.length);
  }
  // Call k may retry while retries + 1 ≤ 0.5 × k: 1, 2, 1, 2 … attempts.
  assert.deepEqual(attempts, [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
  const total = Object.values(regions.counts()).reduce((a, b) => a + b);
  assert.equal(total, 15, "15 requests for 10 calls instead of 30");

  const denied = await api.ky.get("models").then(() => undefined, (e) => e);
  assert.match(
    denied.message,
    /^retry budget exhausted \(5 retries for 11 calls in the last 10000 ms\)/,
  );

  // The window slides: after 10 s the old calls and retries are forgotten.
  clock.advance(10_000);
  regions.set("hk", "up");
  const response = await api.fetch("models");
  assert.equal(
    response.status,
    500,
    "a lone call in a fresh window has no budget to retry",
  );
  await response.body?.cancel();
  const second = await api.fetch("models");
  assert.equal(second.status, 200, "the next one may fail over");
  await second.body?.cancel();
});

test("the floor lets a quiet client always retry; retryBudget: false removes the cap", async () => {
  using regions = mockRegions(NAMES);
  for (const name of NAMES) regions.set(name, "error");
  for (
    const retryBudget of [
      { ratio: 0, minPerSecond: 1, window: 10_000 },
      false,
    ] as const
  ) {
    const { api } = tieredPool(NAMES, { breaker: false, retryBudget });
    using _ = api;
    const attempts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const error = await api.fetch("models").then(() => undefined, (e) => e);
      attempts.push(error.attempts.length);
    }
    assert.deepEqual(
      attempts,
      retryBudget ? [3, 3, 3, 3, 3, 1, 1, 1] : [3, 3, 3, 3, 3, 3, 3, 3],
      "a floor of 1/s over 10 s: 10 retries",
    );
  }
});
