// How a pool uses timers: a pool's timeouts of one kind share one clock
// timer; between calls it is kept unref'd where the runtime allows it (so
// the next call re-uses it), and close() clears it.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import { createFailover, type FailoverEvent } from "ky-failover";

const NAMES = ["primary", "hk"];

function pool(clock: ManualClock, extra = {}) {
  return createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    clock,
    timeout: 5_000,
    streamIdleTimeout: 8_000,
    ...extra,
  });
}

test("timers: sequential calls re-use one unref'd timer per kind of timeout", async () => {
  const clock = new ManualClock({ refable: true });
  using _regions = mockRegions(NAMES, clock);
  const api = pool(clock);
  for (let i = 0; i < 10; i++) {
    const response = await api.fetch("models");
    await response.json();
  }
  // One for the attempt timeouts, one for the stream idle guards.
  assert.equal(clock.armed, 2, "two timers set for ten calls");
  assert.equal(clock.pending, 2);
  assert.equal(clock.unrefd, 2, "idle timers never hold a process open");
  api.close();
  assert.equal(clock.pending, 0, "close() clears them");
});

test("timers: a re-used timer still times an attempt out exactly on time", async () => {
  const clock = new ManualClock({ refable: true });
  using regions = mockRegions(NAMES, clock);
  const events: FailoverEvent[] = [];
  const seen = attemptSignals();
  using api = pool(clock, {
    onEvent: (e: FailoverEvent) => events.push(e),
    middleware: [seen.middleware],
  });
  await (await api.fetch("models")).json(); // arms the timer for t = 5000
  clock.advance(3_000);
  regions.set("primary", "hang");
  const call = later(api.fetch("models")); // deadline at t = 8000
  await bounded(
    "primary gets the call",
    5_000,
    () => regions.received("primary", 2),
  );
  const waiting = seen.attempts[1];
  assert.equal(
    clock.unrefd,
    1,
    "the waiting attempt refs its timer again; the idle guard's stays unref'd",
  );
  // Each step is checked on the clock, once the pool had every chance to
  // act on it: an attempt aborted early would show here.
  clock.advance(2_000); // t = 5000: the re-used timer fires for the old deadline
  assert.equal(waiting.signal.aborted, false, "not at t = 5000");
  await turns();
  assert.equal(api.status()[1].requests, 0, "no failover at t = 5000");
  clock.advance(2_999); // t = 7999
  assert.equal(waiting.signal.aborted, false, "not at t = 7999");
  await turns();
  assert.equal(api.status()[1].requests, 0, "no failover at t = 7999");
  clock.advance(1); // t = 8000
  assert.equal(waiting.signal.aborted, true, "aborted at t = 8000");
  await turns();
  const timedOut = events.find((e) =>
    e.type === "attempt" && e.endpoint === "primary" && e.attempt === 1 &&
    "error" in e
  );
  assert.ok(timedOut?.type === "attempt");
  assert.equal(
    timedOut.durationMs,
    5_000,
    "measured before the clock moved on",
  );
  const response = await call;
  assert.equal(((await response.json()) as { region: string }).region, "hk");
});

test("timers: concurrent calls share one timer and each times out on its own deadline", async () => {
  const clock = new ManualClock();
  using regions = mockRegions(NAMES, clock);
  regions.set("primary", "hang");
  using api = pool(clock, { breaker: false });
  const first = later(api.fetch("models"));
  await bounded(
    "primary gets request 1",
    5_000,
    () => regions.received("primary", 1),
  );
  clock.advance(1_000);
  const second = later(api.fetch("models"));
  await bounded(
    "primary gets request 2",
    5_000,
    () => regions.received("primary", 2),
  );
  assert.equal(clock.pending, 1, "two waiting attempts, one timer");
  clock.advance(4_000); // t = 5000: the first times out, the second waits
  await first;
  assert.equal(regions.get("hk").received.length, 1);
  clock.advance(999);
  await turns();
  assert.equal(api.status()[1].requests, 1, "second not early");
  clock.advance(1);
  await second;
  assert.equal(regions.get("hk").received.length, 2);
  await bounded("every timer gone", 5_000, () => clock.idle());
  assert.equal(clock.pending, 0, "browser-style timers are cleared when idle");
});
