// Cancellation and time budgets: the caller's AbortSignal, totalTimeout and
// close() stop a call and everything pending in it at once.

import { assert, bounded, test } from "./_harness.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";
import {
  type FailoverOptions,
  isClosedError,
  isFailoverError,
  isTotalTimeoutError,
} from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

function setup(extra: Partial<FailoverOptions> = {}) {
  return tieredPool(NAMES, extra);
}

test("the caller's abort cancels the pending attempt at once and rejects with its reason", async () => {
  const seen = attemptSignals();
  const { api, clock, events } = setup({ middleware: [seen.middleware] });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const controller = new AbortController();
  const call = later(api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
    signal: controller.signal,
  }));
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 1),
  );
  const reason = new Error("user navigated away");
  controller.abort(reason);
  const [pending] = seen.attempts;
  assert.equal(
    pending.signal.aborted,
    true,
    "the attempt is cancelled at once",
  );
  assert.equal(pending.signal.reason, reason);
  const error = await bounded(
    "the aborted call",
    5_000,
    () => call.then(() => undefined, (e) => e),
  );
  assert.equal(error, reason);
  assert.deepEqual(
    regions.counts(),
    { primary: 1, hk: 0, sg: 0 },
    "no failover after an abort",
  );
  assert.equal(clock.pending, 0, "the attempt timer is gone");
  const attempt = events.find((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt" && attempt.outcome === "aborted");
  assert.equal(
    api.status()[0].failures,
    0,
    "an abort is not the endpoint's fault",
  );
  assert.equal(api.status()[0].inFlight, 0);
});

test("the caller's abort also works through ky, and an aborted signal sends nothing", async () => {
  const { api, clock } = setup();
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  const aborted = AbortSignal.abort(new Error("already"));
  const viaFetch = await api.fetch("models", { signal: aborted }).then(
    () => undefined,
    (e) => e,
  );
  assert.equal(viaFetch.message, "already");
  regions.set("primary", "hang");
  const controller = new AbortController();
  const call = api.ky.get("models", { signal: controller.signal }).then(
    () => undefined,
    (e) => e,
  );
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 1),
  );
  controller.abort(new Error("stop"));
  const viaKy = await bounded("the aborted call", 5_000, () => call);
  assert.equal(viaKy.message, "stop");
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
});

test("an abort during a rate-limit wait cancels the wait", async () => {
  const { api, clock } = setup({ maxAttempts: 4 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  for (const name of NAMES) {
    regions.set(name, { status: 429, headers: { "retry-after": "5" } });
  }
  const controller = new AbortController();
  const call = api.fetch("models", { signal: controller.signal }).then(
    () => undefined,
    (e) => e,
  );
  await bounded(
    "the wait for the rate limit",
    5_000,
    () => clock.scheduled(5_000),
  );
  controller.abort(new Error("bored"));
  assert.equal(clock.pending, 0, "the wait's timer is cleared at once");
  const error = await bounded("the aborted call", 5_000, () => call);
  assert.equal(error.message, "bored");
  await turns();
  assert.deepEqual(regions.counts(), { primary: 1, hk: 1, sg: 1 });
  assert.equal(clock.pending, 0);
});

test("aborting after the answer still reaches the body download", async () => {
  // The signal given to the underlying fetch governs the body download too;
  // it must stay linked to the caller's signal after the answer arrives.
  const signals: AbortSignal[] = [];
  const { api } = setup({
    fetch: (_input, init) => {
      signals.push(init!.signal!);
      return Promise.resolve(new Response("{}"));
    },
  });
  using _ = api;
  const controller = new AbortController();
  const response = await api.fetch("models", { signal: controller.signal });
  assert.equal(response.status, 200);
  assert.equal(signals.length, 1);
  assert.equal(signals[0].aborted, false);
  controller.abort(new Error("late"));
  assert.equal(signals[0].aborted, true);
  assert.equal(signals[0].reason.message, "late");
});

test("totalTimeout bounds the whole call: attempts and waits", async () => {
  const { api, clock } = setup({ timeout: 4_000, totalTimeout: 6_000 });
  using _ = api;
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  regions.set("hk", "hang");
  const call = api.ky.get("models").then(() => undefined, (e) => e);
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  clock.advance(4_000);
  await bounded("hk gets request 1", 5_000, () => regions.received("hk", 1));
  clock.advance(2_000);
  const error = await call;
  assert.ok(isFailoverError(error));
  assert.ok(isTotalTimeoutError(error.cause));
  assert.match(
    error.message,
    /^total timeout of 6000 ms exceeded after 2 attempts: primary → primary timed out after 4000 ms \(4000 ms\); hk → total timeout/,
  );
  assert.equal(regions.get("sg").received.length, 0);
  assert.equal(
    api.status()[1].failures,
    0,
    "the attempt cut short by the budget is not hk's fault",
  );
  assert.equal(clock.pending, 0);
});

test("close() aborts pending calls, rejects new ones and leaves no timer", async () => {
  const { api, clock } = setup({ totalTimeout: 60_000 });
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  const call = api.fetch("models").then(() => undefined, (e) => e);
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  assert.equal(clock.pending, 2, "attempt timer and total timer");
  api.close();
  assert.ok(isClosedError(await call));
  assert.equal(clock.pending, 0);
  assert.ok(
    isClosedError(await api.fetch("models").then(() => undefined, (e) => e)),
  );
  assert.ok(
    isClosedError(await api.ky.get("models").then(() => undefined, (e) => e)),
  );
  api.close();
  api[Symbol.dispose]();
  assert.deepEqual(regions.counts(), { primary: 1, hk: 0, sg: 0 });
});
