// The buffer step, on answers built by hand: which statuses are read whole
// inside the attempt (those that may be returned) and which fail over
// unread, the `bufferLimit` boundary by content-length and by bytes
// received, the idle timer of a whole read, and a body committed past the
// limit that streams on, one chunk per read.

import { assert, test } from "./_harness.ts";
import { attemptSignals, turns } from "./_observe.ts";
import {
  bytes,
  type FedBody,
  fedBody,
  linked,
  scriptedPool,
  watchSettle,
} from "./_streams.ts";
import { isStreamIdleTimeoutError } from "ky-failover";

const ok = () =>
  new Response('{"from":"b"}', {
    headers: { "content-type": "application/json" },
  });

/**
 * A pool whose endpoint `a` answers `status` with a fed body (returned in
 * `bodies`, one per request) and `b` answers 200 `{"from":"b"}`.
 */
function poolOf(
  status: number,
  headers: Record<string, string> = {},
  extra = {},
) {
  const bodies: FedBody[] = [];
  const pool = scriptedPool((endpoint, { signal }) => {
    if (endpoint === "b") return ok();
    const body = linked(fedBody(), signal);
    bodies.push(body);
    return new Response(body.stream, { status, headers });
  }, { streamIdleTimeout: 1_000, timeout: 10_000, ...extra });
  return { ...pool, bodies };
}

for (const status of [408, 429, 500, 501, 503, 599]) {
  test(`buffer: a ${status} fails over without its body being read`, async () => {
    const { api, bodies, sent, events } = poolOf(status, {
      "content-type": "application/json",
    });
    using _ = api;
    const call = watchSettle(api.fetch("models"));
    await turns();
    assert.ok(call.settled, "the call did not wait for the body");
    const { value } = await call.result;
    assert.deepEqual(await value!.json(), { from: "b" });
    assert.deepEqual(sent.map((s) => s.endpoint), ["a", "b"]);
    assert.equal(bodies[0].pulls, 0, "nobody read the failing answer");
    assert.ok(bodies[0].cancelled, "its body was let go of");
    assert.deepEqual(
      events.flatMap((e) =>
        e.type === "failover"
          ? [`failover:${e.from}→${e.to}`]
          : e.type === "hedge"
          ? [`hedge:${e.endpoint}`]
          : []
      ),
      ["failover:a→b"],
    );
  });
}

for (const status of [200, 299, 301, 400, 404, 407, 409, 428, 430, 499]) {
  test(`buffer: a ${status} is read whole inside its attempt`, async () => {
    const { api, bodies, clock } = poolOf(status, {
      "content-type": "application/json",
    });
    using _ = api;
    const call = watchSettle(api.fetch("models"));
    await turns();
    await turns();
    bodies[0].push('{"from":');
    await turns();
    assert.equal(call.settled, false, "returned before its last byte");
    bodies[0].push('"a"}');
    bodies[0].close();
    await turns();
    assert.ok(call.settled, "returned at its last byte");
    const { value } = await call.result;
    assert.equal(value!.status, status);
    assert.deepEqual(await value!.json(), { from: "a" });
    assert.equal(clock.pending, 0, "no timer left");
  });
}

test("buffer: a 200 without a body is returned at once, with an empty body", async () => {
  const { api, sent } = scriptedPool(() => new Response(null), {
    streamIdleTimeout: 1_000,
  });
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 200);
  assert.equal(response.body, null);
  assert.equal(await response.text(), "");
  assert.deepEqual(sent.map((s) => s.endpoint), ["a"]);
});

test("buffer: a HEAD answer is returned at once, its body never read", async () => {
  const { api, bodies } = poolOf(200, { "content-type": "application/json" });
  using _ = api;
  const call = watchSettle(api.fetch("models", { method: "HEAD" }));
  await turns();
  assert.ok(call.settled, "HEAD waited for a body");
  assert.equal((await call.result).value!.status, 200);
  assert.equal(bodies[0].pulls, 0);
});

for (
  const type of [
    "text/event-stream",
    "application/x-ndjson; charset=utf-8",
  ]
) {
  test(`buffer: a ${type} answer is committed at its headers`, async () => {
    const { api, bodies } = poolOf(200, { "content-type": type });
    using _ = api;
    const call = watchSettle(api.fetch("models"));
    await turns();
    assert.ok(call.settled, "a stream is committed at its headers");
    assert.equal(bodies[0].pulls, 0);
    const response = (await call.result).value!;
    const text = watchSettle(response.text());
    await turns();
    bodies[0].push("data: 1\n\n");
    bodies[0].close();
    await turns();
    assert.ok(text.settled);
    assert.equal((await text.result).value, "data: 1\n\n");
  });
}

test("buffer: a content-length of exactly bufferLimit is read whole; one byte more is committed at once", async () => {
  for (const [length, whole] of [[10, true], [11, false]] as const) {
    const { api, bodies } = poolOf(200, {
      "content-type": "application/octet-stream",
      "content-length": String(length),
    }, { bufferLimit: 10 });
    using _ = api;
    const call = watchSettle(api.fetch("models"));
    await turns();
    assert.equal(call.settled, !whole, `content-length ${length}`);
    if (whole) {
      bodies[0].push(bytes(length));
      bodies[0].close();
      await turns();
      assert.ok(call.settled);
    }
    const response = (await call.result).value!;
    if (!whole) {
      bodies[0].push(bytes(length));
      bodies[0].close();
    }
    assert.deepEqual(
      new Uint8Array(await response.arrayBuffer()),
      bytes(length),
    );
  }
});

test("buffer: a body of exactly bufferLimit bytes is read whole; the byte past it commits the call", async () => {
  const { api, bodies, sent } = poolOf(200, {
    "content-type": "application/octet-stream",
  }, { bufferLimit: 10 });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  const body = bodies[0];
  body.push(bytes(10));
  await turns();
  assert.equal(call.settled, false, "10 bytes: still reading whole");
  assert.equal(body.pulls, 2, "waiting for the end");
  body.push(new Uint8Array([200]));
  await turns();
  assert.ok(call.settled, "the 11th byte commits the call");
  const response = (await call.result).value!;
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  // The bytes read so far, one chunk per read, and nothing read ahead.
  assert.deepEqual((await reader.read()).value, bytes(10));
  assert.deepEqual((await reader.read()).value, new Uint8Array([200]));
  await turns();
  assert.equal(body.pulls, 2, "no read ahead of the consumer");
  const third = watchSettle(reader.read());
  await turns();
  body.push("rest");
  await turns();
  assert.ok(third.settled);
  assert.deepEqual(
    (await third.result).value!.value,
    new TextEncoder().encode("rest"),
  );
  const end = watchSettle(reader.read());
  await turns();
  assert.equal(end.settled, false, "waits for the body");
  body.close();
  await turns();
  assert.ok(end.settled, "the end reaches the reader");
  assert.deepEqual((await end.result).value, { done: true, value: undefined });
  assert.deepEqual(sent.map((s) => s.endpoint), ["a"]);
});

test("buffer: cancelling a body committed past bufferLimit cancels the endpoint's body", async () => {
  const { api, bodies } = poolOf(200, {
    "content-type": "application/octet-stream",
  }, { bufferLimit: 4 });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  bodies[0].push(bytes(5));
  const response = (await call.result).value!;
  const reason = new Error("not needed");
  await response.body!.cancel(reason);
  assert.deepEqual(bodies[0].cancelled, { reason });
});

test("buffer: a whole read that stalls fails over at exactly streamIdleTimeout, each chunk restarting it", async () => {
  const { api, bodies, clock, events, sent } = poolOf(200, {
    "content-type": "application/json",
  });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  clock.advance(600);
  bodies[0].push('{"a":');
  await turns();
  clock.advance(999); // 999 ms after the chunk
  await turns();
  assert.equal(call.settled, false, "not stalled at 999 ms");
  assert.equal(sent.length, 1);
  clock.advance(1);
  await turns();
  assert.ok(call.settled, "stalled at 1000 ms: failed over");
  const { value } = await call.result;
  assert.deepEqual(await value!.json(), { from: "b" });
  assert.deepEqual(sent.map((s) => s.endpoint), ["a", "b"]);
  assert.ok(sent[0].signal.aborted, "the stalled attempt was aborted");
  assert.ok(isStreamIdleTimeoutError(sent[0].signal.reason));
  const stall = events.filter((e) => e.type === "stream-stall");
  assert.deepEqual(stall, [{
    type: "stream-stall",
    endpoint: "a",
    timeoutMs: 1_000,
  }]);
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "a"
  );
  assert.ok(attempt?.type === "attempt");
  assert.ok(isStreamIdleTimeoutError(attempt.error), String(attempt.error));
  assert.equal(attempt.outcome, "failover");
  assert.equal(api.status()[0].failures, 1);
});

test("buffer: a body read whole leaves no idle timer: nothing stalls afterwards", async () => {
  const { api, bodies, clock, events } = poolOf(200, {
    "content-type": "application/json",
  });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  bodies[0].push('{"from":"a"}');
  bodies[0].close();
  await turns();
  const response = (await call.result).value!;
  assert.equal(clock.pending, 0, "every timer cleared");
  clock.advance(5_000);
  await turns();
  assert.deepEqual(await response.json(), { from: "a" });
  assert.ok(!events.some((e) => e.type === "stream-stall"));
  assert.equal(api.status()[0].failures, 0);
});

test("buffer: a body read whole is not a stream: close() leaves its attempt alone", async () => {
  const seen = attemptSignals();
  const { api, bodies } = poolOf(200, {
    "content-type": "application/json",
  }, { middleware: [seen.middleware] });
  const call = watchSettle(api.fetch("models"));
  await turns();
  bodies[0].push('{"from":"a"}');
  bodies[0].close();
  const response = (await call.result).value!;
  api.close();
  assert.equal(seen.attempts[0].signal.aborted, false);
  assert.deepEqual(await response.json(), { from: "a" });
});

test("buffer: a body that breaks while read whole fails over, blaming the endpoint", async () => {
  const { api, bodies, sent, events } = poolOf(200, {
    "content-type": "application/json",
  });
  using _ = api;
  const call = watchSettle(api.fetch("models"));
  await turns();
  bodies[0].push('{"a":');
  bodies[0].error(new TypeError("connection reset"));
  await turns();
  assert.ok(call.settled);
  const { value } = await call.result;
  assert.deepEqual(await value!.json(), { from: "b" });
  assert.deepEqual(sent.map((s) => s.endpoint), ["a", "b"]);
  const attempt = events.find((e) =>
    e.type === "attempt" && e.endpoint === "a"
  );
  assert.ok(attempt?.type === "attempt");
  assert.equal((attempt.error as Error).message, "connection reset");
  assert.equal(api.status()[0].failures, 1);
  assert.ok(!events.some((e) => e.type === "stream-stall"));
});
