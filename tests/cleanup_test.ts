// Nothing outlives a call: the body of every answer the caller will not get
// is cancelled (so its connection is freed), whichever way the call ends —
// a later attempt's answer, a middleware that throws, the caller's abort,
// a hedge that wins — and so is the body of every health probe.

import { assert, test } from "./_harness.ts";
import { turns } from "./_observe.ts";
import { tieredPool } from "./_pool.ts";
import { json, scriptedFetch, type Sent, tracked, watch } from "./_cleanup.ts";
import { type FailoverOptions, isClosedError } from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

function scripted(
  reply: (sent: Sent) => unknown,
  extra: Partial<FailoverOptions> = {},
) {
  const script = scriptedFetch(reply);
  return { ...tieredPool(NAMES, { fetch: script.fetch, ...extra }), script };
}

test("the body of a failed answer is cancelled once the next attempt has its own", async () => {
  const failed = tracked(500);
  const { api } = scripted((s) =>
    s.endpoint === "primary" ? failed.response : json()
  );
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 200);
  assert.equal(failed.cancelled, true);
});

test("the body of the last failed answer is not cancelled: it is the caller's", async () => {
  const bodies = new Map<string, ReturnType<typeof tracked>>();
  const { api } = scripted((s) => {
    const body = tracked(502);
    bodies.set(s.endpoint, body);
    return body.response;
  }, { maxAttempts: 2 });
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 502);
  assert.equal(bodies.get("primary")?.cancelled, true);
  assert.equal(bodies.get("hk")?.cancelled, false);
  await response.body?.cancel();
  assert.equal(bodies.get("hk")?.cancelled, true);
});

test("a middleware that throws on the next attempt: the earlier answer's body is cancelled", async () => {
  const failed = tracked(500);
  const { api } = scripted(() => failed.response, {
    middleware: [(ctx, next) => {
      if (ctx.attempt === 2) throw new Error("no second try");
      return next();
    }],
  });
  using _ = api;
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.equal(error?.message, "no second try");
  assert.equal(failed.cancelled, true);
});

test("a middleware that throws after the answer: that answer's body is cancelled", async () => {
  const answer = tracked(200);
  const { api } = scripted(() => answer.response, {
    middleware: [async (_ctx, next) => {
      await next();
      throw new Error("rejected after the fact");
    }],
  });
  using _ = api;
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.equal(error?.message, "rejected after the fact");
  assert.equal(answer.cancelled, true);
});

test("the caller aborting right after a failed answer: the call rejects with its reason and that body is cancelled", async () => {
  const failed = tracked(503);
  const controller = new AbortController();
  const reason = new Error("gave up");
  const { api, script } = scripted(() => failed.response, {
    middleware: [async (_ctx, next) => {
      await next();
      controller.abort(reason);
    }],
  });
  using _ = api;
  const error = await api.fetch("models", { signal: controller.signal }).then(
    () => undefined,
    (e) => e,
  );
  assert.equal(error, reason);
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(failed.cancelled, true);
});

test("close() right after a failed answer: ClosedError, and that body is cancelled", async () => {
  const failed = tracked(503);
  let close = () => {};
  const { api, script } = scripted(() => failed.response, {
    middleware: [async (_ctx, next) => {
      await next();
      close();
    }],
  });
  close = () => api.close();
  const call = watch(api.fetch("models"));
  await turns();
  assert.ok(call.settled && isClosedError(call.error));
  assert.deepEqual(script.names(), ["primary"]);
  assert.equal(failed.cancelled, true);
});

test("a health probe's body is cancelled once its status is read", async () => {
  const probes: ReturnType<typeof tracked>[] = [];
  const { api } = scripted(() => {
    const probe = tracked(200, { "content-type": "application/json" });
    probes.push(probe);
    return probe.response;
  });
  using _ = api;
  await api.checkHealth();
  assert.equal(probes.length, 3);
  assert.deepEqual(probes.map((p) => p.cancelled), [true, true, true]);
});

test("a hedge that wins: the loser's late answer has its body cancelled", async () => {
  const late = tracked(200);
  const { api, clock, script } = scripted(
    (s) => s.endpoint === "hk" ? json() : undefined,
    { hedge: { delay: 100 } },
  );
  using _ = api;
  const call = watch(api.fetch("models"));
  await turns();
  script.sent[0].ignoreAbort = true;
  clock.advance(100);
  await turns();
  assert.ok(call.settled);
  assert.equal(call.value?.status, 200);
  assert.deepEqual(script.names(), ["primary", "hk"]);
  assert.ok(script.sent[0].signal.aborted, "the loser is cancelled");
  script.sent[0].respond(late.response);
  await turns();
  assert.equal(late.cancelled, true);
});

test("hedged calls too: the body of a failed answer is cancelled once the next attempt has its own", async () => {
  const failed = tracked(500);
  const { api } = scripted(
    (s) => s.endpoint === "primary" ? failed.response : json(),
    { hedge: { delay: 100 } },
  );
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 200);
  assert.equal(failed.cancelled, true);
});
