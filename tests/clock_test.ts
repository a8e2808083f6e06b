// The default clock is monotonic: a wall clock stepped backwards in the
// middle of a call (NTP, a user, a VM resume) must not keep its deadlines
// from firing. These tests use the real clock, so their timers are real and
// short; they assert what fires, never how long it took (the per-test bound
// of the harness turns a deadline that never fires into a failure).

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type FailoverOptions,
  isAttemptTimeoutError,
  isFailoverError,
  isTotalTimeoutError,
  systemClock,
} from "ky-failover";

const HOUR = 3_600_000;

/** Replaces `Date.now` with one an hour behind until the result is disposed. */
function stepWallClockBack(): Disposable {
  const real = Date.now;
  Date.now = () => real() - HOUR;
  return { [Symbol.dispose]: () => void (Date.now = real) };
}

/**
 * A pool of one endpoint whose fetch never answers: it settles only when
 * its signal aborts. `sent` resolves once the request went out.
 */
function silentPool(options: Partial<FailoverOptions>) {
  let started!: () => void;
  const sent = new Promise<void>((resolve) => (started = resolve));
  const fetch: typeof globalThis.fetch = (input, init) => {
    const signal = init?.signal ??
      (input instanceof Request ? input.signal : undefined);
    started();
    return new Promise((_, reject) => {
      if (!signal) return reject(new Error("the attempt has no signal"));
      signal.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
    });
  };
  const api = createFailover({
    endpoints: [
      { name: "solo", url: "https://solo.example.ai/v1", apiKey: "sk-solo" },
    ],
    fetch,
    breaker: false,
    ...options,
  });
  return { api, sent };
}

test("systemClock.now() is epoch-like and ignores a wall clock stepped back", () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(
    Math.abs(now - before) < 60_000,
    `epoch ms: ${now} vs Date.now() ${before}`,
  );
  using _ = stepWallClockBack();
  const after = systemClock.now();
  assert.ok(after >= now, "never goes back");
  assert.ok(after - now < 60_000, "does not follow Date.now an hour back");
});

test("timeout fires although the wall clock steps back an hour mid-call", async () => {
  const { api, sent } = silentPool({ timeout: 50 });
  using _ = api;
  const call = api.fetch("models").then(() => undefined, (e) => e);
  await sent; // the attempt's deadline is set
  let error: unknown;
  {
    using _wall = stepWallClockBack();
    error = await call;
  }
  assert.ok(isFailoverError(error), String(error));
  assert.ok(isAttemptTimeoutError(error.cause), String(error.cause));
});

test("totalTimeout fires although the wall clock steps back an hour mid-call", async () => {
  const { api, sent } = silentPool({ timeout: false, totalTimeout: 50 });
  using _ = api;
  const call = api.fetch("models").then(() => undefined, (e) => e);
  await sent; // the call's deadline is set
  let error: unknown;
  {
    using _wall = stepWallClockBack();
    error = await call;
  }
  assert.ok(isFailoverError(error), String(error));
  assert.ok(isTotalTimeoutError(error.cause), String(error.cause));
});

test("an injected clock that starts at 0: nothing counts as benched at t = 0, and a passing probe ends a bench at once", async () => {
  const clock = new ManualClock(0);
  const answers: Record<string, number> = { a: 200, b: 200 };
  const attempts: { endpoint: string; panic: boolean }[] = [];
  using api = createFailover({
    endpoints: [
      { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" },
      { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
    ],
    strategy: "priority",
    clock,
    fetch: (input) => {
      const url = input instanceof Request ? input.url : String(input);
      const name = new URL(url).hostname.split(".")[0];
      return Promise.resolve(new Response("{}", { status: answers[name] }));
    },
    onEvent: (e) => {
      if (e.type === "attempt") {
        attempts.push({ endpoint: e.endpoint, panic: e.panic });
      }
    },
  });
  const states = () => api.status().map((s) => [s.state, s.availableAt]);
  assert.deepEqual(states(), [["healthy", undefined], ["healthy", undefined]]);
  await (await api.fetch("models")).body?.cancel();
  assert.deepEqual(attempts, [{ endpoint: "a", panic: false }]);

  // A failed probe benches a for 60 s; a passing one, still at t = 0,
  // ends the bench.
  answers.a = 500;
  await api.checkHealth();
  assert.deepEqual(states()[0], ["unhealthy", 60_000]);
  answers.a = 200;
  await api.checkHealth();
  assert.deepEqual(states(), [["healthy", undefined], ["healthy", undefined]]);

  // A rejected key benches a as unauthorized; a passing probe ends that too.
  answers.a = 401;
  const response = await api.fetch("models");
  await response.body?.cancel();
  assert.equal(response.status, 200, "b answered");
  assert.deepEqual(states()[0], ["unauthorized", 300_000]);
  answers.a = 200;
  await api.checkHealth();
  assert.deepEqual(states(), [["healthy", undefined], ["healthy", undefined]]);
  assert.equal(clock.now(), 0);
});

test("systemClock.now() is performance.timeOrigin + performance.now()", () => {
  const before = performance.timeOrigin + performance.now();
  const now = systemClock.now();
  const after = performance.timeOrigin + performance.now();
  assert.ok(before <= now && now <= after, `${before} ≤ ${now} ≤ ${after}`);
});
