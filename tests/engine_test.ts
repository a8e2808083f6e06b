// The attempt loop, black-box: how a call starts, moves on, ends and leaves
// nothing behind — timers, listeners on the caller's signal, calls that
// close() would still reach. Every request goes through a scripted fetch
// (tests/_cleanup.ts), so each assertion is made at an exact moment of the
// manual clock, right after `turns()`, and a call that should have settled
// but has not fails the test at once instead of hanging it.

import { assert, test } from "./_harness.ts";
import { attemptSignals, turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import {
  countListeners,
  json,
  scriptedFetch,
  type Sent,
  watch,
  type Watched,
} from "./_cleanup.ts";
import {
  AttemptTimeoutError,
  type FailoverError,
  type FailoverEvent,
  type FailoverOptions,
  isClosedError,
  isFailoverError,
} from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

/** A tiered pool over `names` whose requests go to a scripted fetch. */
function scripted(
  reply?: (sent: Sent) => unknown,
  extra: Partial<FailoverOptions> = {},
  names: string[] = NAMES,
) {
  const script = scriptedFetch(reply);
  return { ...tieredPool(names, { fetch: script.fetch, ...extra }), script };
}

/** The settled outcome of `w`, failing the test if it has not settled. */
function outcome<T>(w: Watched<T>, what: string): T | undefined {
  assert.ok(w.settled, `${what} has settled`);
  return w.value;
}

/**
 * `promise` once it has settled, a few turns at most: a call that should be
 * over but hangs fails the test at once instead of stalling the file.
 */
async function settle<T>(promise: Promise<T>, what = "the call"): Promise<T> {
  const watched = watch(promise);
  await turns(10);
  assert.ok(watched.settled, `${what} has settled`);
  return await watched.promise;
}

function failure(events: FailoverEvent[]) {
  const found = events.filter((e) => e.type === "failure");
  assert.equal(found.length, 1, "one failure event");
  return found[0] as Extract<FailoverEvent, { type: "failure" }>;
}

test("a call answered at once resolves within a few turns, through the whole chain", async () => {
  const { api, script, clock } = scripted(() => json(200, { ok: true }));
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  const response = outcome(call, "the call");
  assert.equal(response?.status, 200);
  assert.deepEqual(await response?.json(), { ok: true });
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(script.sent[0].signal.aborted, false);
  assert.equal(clock.pending, 0, "the attempt's timer is gone");
});

test("maxAttempts bounds a call exactly: two attempts, then the last answer", async () => {
  const { api, script } = scripted(() => json(500), { maxAttempts: 2 });
  using _ = api;
  const response = await settle(api.fetch("models"));
  assert.equal(response.status, 500);
  assert.deepEqual(script.names(), ["primary", "hk"]);
});

test("a hung attempt is aborted at its timeout exactly and the call moves on", async () => {
  const { api, script, clock } = scripted(
    (s) => s.endpoint === "hk" ? json() : undefined,
    { timeout: 1_000 },
  );
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.deepEqual(script.names(), ["primary"]);
  clock.advance(999);
  await turns();
  assert.equal(script.sent[0].signal.aborted, false, "not a ms early");
  assert.deepEqual(script.names(), ["primary"]);
  clock.advance(1);
  await turns();
  const reason = script.sent[0].signal.reason;
  assert.ok(reason instanceof AttemptTimeoutError);
  assert.equal(reason.message, "primary timed out after 1000 ms");
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.equal(outcome(call, "the call")?.status, 200);
  assert.equal(clock.pending, 0);
});

test("close() aborts a pending call at once with ClosedError; later calls send nothing", async () => {
  const { api, script, clock } = scripted(undefined, { totalTimeout: 60_000 });
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(clock.pending, 2, "the attempt timer and the total timer");
  api.close();
  assert.ok(script.sent[0].signal.aborted, "the attempt is aborted at once");
  assert.ok(isClosedError(script.sent[0].signal.reason));
  await turns();
  assert.ok(call.settled, "the call has settled");
  assert.ok(isClosedError(call.error));
  assert.equal(clock.pending, 0);

  const late = watch(api.fetch("models"));
  const health = watch(api.checkHealth());
  await turns();
  assert.ok(late.settled && isClosedError(late.error));
  assert.ok(health.settled && isClosedError(health.error));
  assert.deepEqual(script.names(), ["primary"], "nothing sent after close()");
  api.close();
});

test("close() leaves a call that already finished alone", async () => {
  const seen = attemptSignals();
  const { api } = scripted(() => json(), { middleware: [seen.middleware] });
  const response = await settle(api.fetch("models"));
  assert.deepEqual(await response.json(), {});
  assert.equal(seen.attempts.length, 1);
  api.close();
  assert.equal(
    seen.attempts[0].signal.aborted,
    false,
    "a finished call is no longer active",
  );
});

test("the caller's signal: no listener left after a failed call; after a success, one until it aborts", async () => {
  let status = 0;
  const { api } = scripted(
    () => status === 0 ? new TypeError("refused") : json(status),
    { maxAttempts: 2, breaker: false, retryBudget: false },
  );
  using _ = api;
  const failing = new AbortController();
  const failingListeners = countListeners(failing.signal);
  const failed = await settle(
    api.fetch("models", { signal: failing.signal }).then(
      () => undefined,
      (e) => e,
    ),
  );
  assert.ok(isFailoverError(failed));
  assert.equal(failingListeners.live, 0, "nothing left on a failed call");

  const thrown = new AbortController();
  const thrownListeners = countListeners(thrown.signal);
  const error = await settle(
    api.ky.get("models", { signal: thrown.signal }).then(
      () => undefined,
      (e) => e,
    ),
  );
  assert.ok(isFailoverError(error));
  assert.equal(thrownListeners.live, 0, "nothing left when ky throws");

  // A failed answer is returned (fetch semantics): it stays linked too.
  status = 500;
  const answered = new AbortController();
  const answeredListeners = countListeners(answered.signal);
  const failedAnswer = await settle(
    api.fetch("models", { signal: answered.signal }),
  );
  assert.equal(failedAnswer.status, 500);
  assert.equal(answeredListeners.live, 1);

  status = 200;
  const ok = new AbortController();
  const okListeners = countListeners(ok.signal);
  const response = await settle(api.fetch("models", { signal: ok.signal }));
  assert.equal(response.status, 200);
  assert.equal(
    okListeners.live,
    1,
    "a returned answer stays linked to the caller's signal",
  );
  ok.abort(new Error("done"));
  assert.equal(okListeners.live, 0, "the listener runs once and is gone");
});

test("success and failure events carry the call's exact duration", async () => {
  const { api, script, clock, events } = scripted(undefined, {
    maxAttempts: 2,
  });
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  clock.advance(300);
  script.sent[0].respond(json(500));
  await turns();
  assert.deepEqual(script.names(), ["primary", "hk"]);
  clock.advance(200);
  script.sent[1].respond(json());
  await turns();
  assert.equal(outcome(call, "the call")?.status, 200);
  const success = events.find((e) => e.type === "success");
  assert.deepEqual(success, {
    type: "success",
    endpoint: "hk",
    status: 200,
    attempts: 2,
    durationMs: 500,
  });

  const failed = watch(api.fetch("models"));
  await turns();
  clock.advance(700);
  script.sent[2].respond(json(502));
  await turns();
  clock.advance(50);
  script.sent[3].respond(json(503));
  await turns();
  assert.equal(outcome(failed, "the failed call")?.status, 503);
  assert.equal(failure(events).durationMs, 750);
});

test("every endpoint rejecting its own key: that 401 / 403 is the answer (ky: HTTPError), not a failover", async () => {
  const status: Record<string, number> = { primary: 403, hk: 403, sg: 401 };
  const { api, events } = scripted((s) => json(status[s.endpoint]));
  using _ = api;
  const error = await settle(
    api.ky.get("models").then(() => undefined, (e) => e),
  );
  assert.equal(error?.name, "HTTPError");
  assert.equal(error.response.status, 401);
  const event = failure(events);
  assert.deepEqual(event.attempts.map((a) => a.status), [403, 403, 401]);
  assert.match(
    event.error.message,
    /^every endpoint tried rejected its credentials: primary → /,
  );

  // One 500 among them: a failover like any other, not the key's fault.
  const other = scripted((s) => json(s.endpoint === "hk" ? 500 : 403));
  using _other = other.api;
  const mixed = await settle(
    other.api.ky.get("models").then(
      () => undefined,
      (e) => e,
    ),
  );
  assert.ok(isFailoverError(mixed));
  assert.equal(mixed.message.startsWith("all 3 attempts failed:"), true);
  assert.equal(failure(other.events).error.message, mixed.message);
});

test("every endpoint answering 403 alone is still the credentials' answer", async () => {
  const { api } = scripted(() => json(403), {}, ["primary", "hk"]);
  using _ = api;
  const response = await settle(api.fetch("models"));
  assert.equal(response.status, 403);
  const error = await settle(
    api.ky.get("models").then(() => undefined, (e) => e),
  );
  assert.equal(error?.name, "HTTPError");
  assert.equal(error.response.status, 403);
});

test("a single attempt that timed out says so: every endpoint timed out, and an all-timed-out event", async () => {
  const { api, clock, events } = scripted(undefined, {
    timeout: 1_000,
    maxAttempts: 1,
  });
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  clock.advance(1_000);
  await turns();
  assert.ok(call.settled);
  const error = call.error as FailoverError;
  assert.ok(isFailoverError(error));
  assert.equal(
    error.message,
    "every endpoint timed out after 1000 ms (primary); is `timeout` shorter " +
      "than the answer takes?: primary → primary timed out after 1000 ms (1000 ms)",
  );
  const timedOut = events.filter((e) => e.type === "all-timed-out");
  assert.deepEqual(timedOut, [{
    type: "all-timed-out",
    timeoutMs: 1_000,
    endpoints: ["primary"],
    message:
      "every endpoint timed out after 1000 ms (primary); is `timeout` shorter than the answer takes?",
  }]);
});

test("timeout: false never reports every endpoint as timed out, even when a middleware times attempts out itself", async () => {
  const { api, events } = scripted(() => json(200), {
    timeout: false,
    middleware: [(ctx) => {
      ctx.error = new AttemptTimeoutError(ctx.endpoint!.name, 50);
    }],
  }, ["primary", "hk"]);
  using _ = api;
  const error = await settle(
    api.fetch("models").then(() => undefined, (e) => e),
  );
  assert.ok(isFailoverError(error));
  assert.equal(error.attempts.length, 2);
  assert.equal(error.message.startsWith("all 2 attempts failed: "), true);
  assert.equal(events.filter((e) => e.type === "all-timed-out").length, 0);
});

test("an SDK's first retry (x-stainless-retry-count: 1) is reported, once; its first try is not", async () => {
  const { api, events } = scripted(() => json());
  using _ = api;
  const warnings = () => events.filter((e) => e.type === "warning");
  await settle(
    api.fetch("models", { headers: { "x-stainless-retry-count": "0" } }),
  );
  assert.equal(warnings().length, 0);
  await settle(
    api.fetch("models", { headers: { "x-stainless-retry-count": "1" } }),
  );
  assert.equal(warnings().length, 1);
  const [warning] = warnings();
  assert.ok(warning.type === "warning" && warning.code === "sdk-retries");
  await settle(
    api.fetch("models", { headers: { "x-stainless-retry-count": "2" } }),
  );
  assert.equal(warnings().length, 1, "said once per pool");
});

test("a middleware that throws fails the call and leaves no attempt timer behind", async () => {
  let throwBefore = false;
  const { api, clock, script } = scripted(() => json(), {
    timeout: 5_000,
    middleware: [async (_ctx, next) => {
      if (throwBefore) throw new Error("before");
      await next();
      throw new Error("after");
    }],
  });
  using _ = api;
  const after = watch(api.fetch("models"));
  await turns();
  assert.ok(after.settled);
  assert.equal((after.error as Error).message, "after");
  assert.equal(clock.pending, 0, "the attempt's timeout was cleared");
  assert.deepEqual(script.names(), ["primary"]);
  throwBefore = true;
  const before = watch(api.fetch("models"));
  await turns();
  assert.ok(before.settled);
  assert.equal((before.error as Error).message, "before");
  assert.equal(clock.pending, 0);
  assert.deepEqual(script.names(), ["primary"], "nothing sent");
});

test("a throwing middleware releases a half-open breaker's trial for the next call", async () => {
  let fail = true;
  const { api, clock, script, events } = scripted(
    () => json(503),
    {
      breaker: { failureThreshold: 1, cooldown: 1_000 },
      retryBudget: false,
      maxAttempts: 1,
      middleware: [async (_ctx, next) => {
        await next();
        if (fail) throw new Error("boom");
      }],
    },
    ["primary"],
  );
  using _ = api;
  fail = false;
  await settle(api.fetch("models"));
  assert.equal(api.status()[0].state, "open");
  clock.advance(1_000);
  fail = true;
  const trial = watch(api.fetch("models"));
  await turns();
  assert.ok(trial.settled);
  assert.equal((trial.error as Error).message, "boom");
  fail = false;
  const next = watch(api.fetch("models"));
  await turns();
  assert.ok(next.settled);
  assert.equal(
    script.to("primary").length,
    3,
    "the next call gets the trial: the first's permit was given back",
  );
  assert.equal(next.value?.status, 503);
  const attempt = events.filter((e) => e.type === "attempt").at(-1);
  assert.ok(
    attempt?.type === "attempt" && !attempt.panic,
    "a regular half-open trial, not panic",
  );
});

test("a rate-limit wait ends on the clock and the call goes on", async () => {
  let limited = true;
  const { api, clock, script } = scripted(
    () =>
      limited
        ? new Response(null, { status: 429, headers: { "retry-after": "2" } })
        : json(),
    { maxAttempts: 3 },
    ["primary", "hk"],
  );
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.deepEqual(clock.delays, [2_000]);
  limited = false;
  clock.advance(1_999);
  await turns();
  assert.equal(call.settled, false);
  clock.advance(1);
  await turns();
  assert.equal(outcome(call, "the call")?.status, 200);
  assert.deepEqual(script.names(), ["primary", "hk", "primary"]);
  assert.equal(clock.pending, 0);
});

test("a rate limit that ends exactly at the total deadline is waited for", async () => {
  const { api, clock, script } = scripted(
    () =>
      new Response(null, {
        status: 429,
        headers: { "retry-after-ms": "1000" },
      }),
    { totalTimeout: 1_000 },
    ["primary"],
  );
  using _ = api;
  const call = watch(api.ky.get("models"));
  await turns();
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(call.settled, false, "it waits: the wait fits the budget");
  assert.deepEqual(clock.delays, [1_000, 1_000]);
  clock.advance(1_000);
  await turns();
  assert.ok(call.settled);
  const error = call.error as FailoverError;
  assert.ok(isFailoverError(error));
  assert.match(error.message, /^total timeout of 1000 ms exceeded after 1/);
});

test("an endpoint whose rate limit ends now is tried at once, in panic if it is benched otherwise", async () => {
  const { api, clock, script, events } = scripted(
    (s) =>
      s.path === "/models" && s.method === "GET" && script.sent.length === 1
        ? new Response(null, { status: 429, headers: { "retry-after": "1" } })
        : json(500),
    { breaker: false, maxAttempts: 1 },
    ["primary"],
  );
  using _ = api;
  await settle(api.fetch("models")); // 429: rate-limited for 1 s
  assert.equal(api.status()[0].state, "rate-limited");
  await settle(api.checkHealth()); // 500: unhealthy for 60 s
  clock.advance(1_000);
  assert.equal(api.status()[0].state, "unhealthy");
  const call = watch(api.fetch("models"));
  await turns();
  assert.equal(script.sent.length, 3, "sent at once, without waiting");
  assert.ok(call.settled);
  const attempt = events.filter((e) => e.type === "attempt").at(-1);
  assert.ok(attempt?.type === "attempt" && attempt.panic);
});

test("panic goes to the endpoint that recovers soonest, whatever its priority", async () => {
  const status: Record<string, number> = { primary: 401, hk: 500, sg: 500 };
  const { api, clock, script } = scripted((s) => json(status[s.endpoint]), {
    breaker: { failureThreshold: 1, cooldown: 10_000 },
    retryBudget: false,
    maxAttempts: 2,
  });
  using _ = api;
  await settle(api.fetch("models")); // primary: its key is rejected (out 300 s); hk opens
  clock.advance(1_000);
  await settle(api.fetch("models")); // sg opens, 1 s after hk
  assert.deepEqual(script.names(), ["primary", "hk", "sg"]);
  assert.deepEqual(
    api.status().map((s) => [s.state, s.availableAt! - clock.now()]),
    [["unauthorized", 299_000], ["open", 9_000], ["open", 10_000]],
  );
  status.hk = 200;
  const response = await settle(api.fetch("models"));
  assert.equal(response.status, 200);
  assert.equal(script.names().at(-1), "hk", "the soonest back, in panic");
});

test("when nothing else is available the reason names each endpoint's bench and what is left of it", async () => {
  const { api, clock, script } = scripted(
    (s) =>
      s.endpoint === "hk" && s.path === "/chat/completions"
        ? undefined
        : json(500),
    { breaker: { failureThreshold: 1, cooldown: 1_000 }, retryBudget: false },
  );
  using _ = api;
  await settle(api.checkHealth()); // every probe fails: every breaker opens for 1 s
  clock.advance(1_000);
  // primary's trial fails (open for 2 s now); hk's trial hangs.
  const first = watch(
    api.fetch("chat/completions", { method: "POST", body: "{}" }),
  );
  await turns();
  assert.deepEqual(script.names().slice(3), ["primary", "hk"]);
  clock.advance(1_999);
  const second = watch(api.ky.post("chat/completions", { body: "{}" }));
  await turns();
  assert.deepEqual(script.names().slice(5), ["sg"]);
  assert.ok(second.settled);
  const error = second.error as FailoverError;
  assert.ok(isFailoverError(error));
  assert.match(
    error.message,
    /^no other endpoint is available \(hk: half-open, primary: open for 1 ms\): sg → HTTP 500/,
  );
  api.close();
  await turns();
  assert.ok(first.settled && isClosedError(first.error));
});

test("endpoints that recover at the same moment: panic goes to the best priority, whatever the configuration order", async () => {
  const script = scriptedFetch(() => json(500));
  const { api, clock } = tieredPool([], {
    fetch: script.fetch,
    endpoints: ["c", "b", "a"].map((name, i) => ({
      name,
      url: `https://${name}.example.ai/v1`,
      apiKey: `sk-${name}`,
      priority: 3 - i,
    })),
    breaker: { failureThreshold: 1, cooldown: 10_000 },
    retryBudget: false,
  });
  using _ = api;
  await settle(api.fetch("models")); // a, b, c fail at once: all open for 10 s
  assert.deepEqual(script.names(), ["a", "b", "c"]);
  assert.deepEqual(
    api.status().map((s) => s.availableAt! - clock.now()),
    [10_000, 10_000, 10_000],
  );
  await settle(api.fetch("models"));
  assert.deepEqual(script.names().slice(3), ["a"], "one panic attempt, to a");
});

test("checkHealth() probes GET {url}/models by default, or the healthCheck.path given", async () => {
  const { api, script } = scripted(() => json());
  using _ = api;
  await settle(api.checkHealth());
  assert.deepEqual(
    script.sent.map((s) => `${s.method} ${s.endpoint}${s.path}`),
    ["GET primary/models", "GET hk/models", "GET sg/models"],
  );
  const custom = scripted(() => json(), {
    healthCheck: { path: "health", interval: 60_000, jitter: 0 },
  });
  using _custom = custom.api;
  await settle(custom.api.checkHealth());
  assert.deepEqual(
    custom.script.sent.map((s) => `${s.endpoint}${s.path}`),
    ["primary/health", "hk/health", "sg/health"],
  );
});
