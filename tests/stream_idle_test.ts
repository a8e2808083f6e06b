// The stream idle timeout on bodies fed by hand: when exactly the timer
// fires (only while the consumer waits), what a stall does to the attempt
// and the endpoint, every body reader (the 8 MiB whole-read boundary
// included), and that a body read to the end, cancelled or broken is done —
// `close()` leaves its attempt alone — while one still being read is ended.

import { assert, test } from "./_harness.ts";
import { turns } from "./_observe.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  bytes,
  type FedBody,
  fedBody,
  linked,
  scriptedPool,
  watchSettle,
} from "./_streams.ts";
import {
  isClosedError,
  isStreamIdleTimeoutError,
  type StreamIdleTimeoutError,
} from "ky-failover";

const SSE = { "content-type": "text/event-stream" };

/**
 * A pool (streamIdleTimeout 1000 ms, timeout 10 s) whose endpoint `a`
 * answers `status` with a fed body (in `bodies`) and `b` answers 200.
 */
function streamPool(
  status = 200,
  headers: Record<string, string> = SSE,
  extra = {},
) {
  const bodies: FedBody[] = [];
  const pool = scriptedPool((endpoint, { signal }) => {
    if (endpoint === "b") return new Response('{"from":"b"}');
    const body = linked(fedBody(), signal);
    bodies.push(body);
    return new Response(body.stream, { status, headers });
  }, { streamIdleTimeout: 1_000, timeout: 10_000, ...extra });
  return { ...pool, bodies };
}

test("stream idle: a read waiting for data fails at exactly streamIdleTimeout, once, against the endpoint", async () => {
  const { api, clock, events, sent } = streamPool();
  using _ = api;
  const response = await api.fetch("chat/completions");
  const reader = response.body!.getReader();
  const first = watchSettle(reader.read());
  await turns();
  clock.advance(999);
  await turns();
  assert.equal(first.settled, false, "not at 999 ms");
  assert.equal(sent[0].signal.aborted, false);
  clock.advance(1);
  await turns();
  assert.ok(first.settled, "stalled at 1000 ms");
  const error = (await first.result).error as StreamIdleTimeoutError;
  assert.ok(isStreamIdleTimeoutError(error), String(error));
  assert.equal(error.endpoint, "a");
  assert.equal(error.timeoutMs, 1_000);
  assert.ok(sent[0].signal.aborted, "the attempt is aborted: socket freed");
  assert.equal(sent[0].signal.reason, error);
  assert.deepEqual(
    events.filter((e) => e.type === "stream-stall"),
    [{ type: "stream-stall", endpoint: "a", timeoutMs: 1_000 }],
  );
  const [a] = api.status();
  assert.equal(a.failures, 1, "blamed once");
  assert.equal(a.consecutiveFailures, 1);
  assert.match(a.lastError ?? "", /StreamIdleTimeoutError|idle|stalled/i);
  assert.equal(clock.pending, 0, "no timer left");
  // A stalled body stays stalled.
  const again = await reader.read().then(() => undefined, (e) => e);
  assert.ok(isStreamIdleTimeoutError(again), String(again));
  assert.equal(api.status()[0].failures, 1);
  assert.equal(sent.length, 1, "committed at headers: no failover");
});

test("stream idle: each chunk restarts the timer; it runs only while a read waits", async () => {
  const { api, bodies, clock, events } = streamPool();
  using _ = api;
  const response = await api.fetch("chat/completions");
  const reader = response.body!.getReader();
  clock.advance(5_000);
  await turns();
  assert.equal(bodies[0].pulls, 0, "nobody asked: nothing read");
  assert.equal(clock.pending, 0, "no timer before the first read");
  const first = watchSettle(reader.read());
  await turns();
  clock.advance(600);
  bodies[0].push("data: 1\n\n");
  await turns();
  assert.ok(first.settled);
  assert.equal(
    new TextDecoder().decode((await first.result).value!.value),
    "data: 1\n\n",
  );
  // The consumer takes 10 s over the chunk: no read waits, no timer runs.
  for (let i = 0; i < 10; i++) {
    assert.equal(clock.pending, 0, "no idle timer while nobody reads");
    clock.advance(1_000);
    await turns(1);
  }
  assert.equal(bodies[0].pulls, 1, "no read ahead of the consumer");
  const second = watchSettle(reader.read());
  await turns();
  clock.advance(999);
  await turns();
  assert.equal(second.settled, false, "999 ms after the second read began");
  clock.advance(1);
  await turns();
  assert.ok(isStreamIdleTimeoutError((await second.result).error));
  assert.equal(events.filter((e) => e.type === "stream-stall").length, 1);
});

test("stream idle: a body read to the end is done — no timer, no stall later, close() leaves its attempt alone", async () => {
  const { api, bodies, clock, events, sent } = streamPool();
  const response = await api.fetch("chat/completions");
  assert.equal(response.body, response.body, "one body stream");
  const text = watchSettle(response.text());
  await turns();
  bodies[0].push("data: 1\n\n");
  await turns();
  bodies[0].push("data: 2\n\n");
  bodies[0].close();
  await turns();
  assert.ok(text.settled, "the end reaches the reader");
  assert.equal((await text.result).value, "data: 1\n\ndata: 2\n\n");
  assert.equal(response.bodyUsed, true);
  assert.equal(clock.pending, 0);
  clock.advance(5_000);
  await turns();
  assert.ok(!events.some((e) => e.type === "stream-stall"));
  api.close();
  assert.equal(sent[0].signal.aborted, false);
  assert.equal(api.status()[0].failures, 0);
});

test("stream idle: every chunk reaches the reader, and the end too", async () => {
  const { api, bodies } = streamPool();
  using _ = api;
  const response = await api.fetch("chat/completions");
  const reader = response.body!.getReader();
  const seen: string[] = [];
  for (const chunk of ["a", "bc", "def"]) {
    const read = watchSettle(reader.read());
    await turns();
    bodies[0].push(chunk);
    await turns();
    assert.ok(read.settled, `chunk ${chunk}`);
    seen.push(new TextDecoder().decode((await read.result).value!.value));
  }
  assert.deepEqual(seen, ["a", "bc", "def"]);
  const end = watchSettle(reader.read());
  await turns();
  bodies[0].close();
  await turns();
  assert.ok(end.settled, "done reaches the reader");
  assert.deepEqual((await end.result).value, { done: true, value: undefined });
});

test("stream idle: cancelling the body cancels the endpoint's; close() then leaves the attempt alone", async () => {
  const { api, bodies, clock, sent } = streamPool();
  const response = await api.fetch("chat/completions");
  const reason = new Error("enough");
  await response.body!.cancel(reason);
  assert.deepEqual(bodies[0].cancelled, { reason });
  assert.equal(clock.pending, 0);
  api.close();
  assert.equal(sent[0].signal.aborted, false);
  assert.equal(api.status()[0].failures, 0, "a cancel is nobody's fault");
});

test("stream idle: a body that breaks hands its error to the reader and blames the endpoint once, without a stall", async () => {
  for (const idle of [1_000, false] as const) {
    const { api, bodies, events, sent, clock } = streamPool(200, SSE, {
      streamIdleTimeout: idle,
    });
    const response = await api.fetch("chat/completions");
    const reader = response.body!.getReader();
    const read = watchSettle(reader.read());
    await turns();
    clock.advance(idle === false ? 600_000 : 999);
    await turns();
    assert.equal(read.settled, false, `idle ${idle}: no stall yet`);
    bodies[0].error(new TypeError("connection reset"));
    await turns();
    assert.ok(read.settled);
    const error = (await read.result).error as Error;
    assert.equal(error.message, "connection reset", `idle ${idle}`);
    const [a] = api.status();
    assert.equal(a.failures, 1);
    assert.equal(a.lastError, "TypeError: connection reset");
    assert.ok(!events.some((e) => e.type === "stream-stall"));
    api.close();
    assert.equal(sent[0].signal.aborted, false, "the broken body is done");
  }
});

test("stream idle: close() ends a body still being read with ClosedError, blaming nobody", async () => {
  for (const idle of [1_000, false] as const) {
    const { api, sent, clock } = streamPool(200, SSE, {
      streamIdleTimeout: idle,
      clock: new ManualClock({ refable: true }),
    });
    const response = await api.fetch("chat/completions");
    const reader = response.body!.getReader();
    const read = watchSettle(reader.read());
    await turns();
    api.close();
    await turns();
    assert.ok(read.settled, `idle ${idle}`);
    assert.ok(isClosedError((await read.result).error));
    assert.ok(isClosedError(sent[0].signal.reason));
    assert.equal(api.status()[0].failures, 0);
    assert.equal(clock.pending, 0, "a closed pool keeps no timer");
  }
});

test("stream idle: the caller's abort ends the body with its reason, blaming nobody", async () => {
  // a answers 500 (failed over), b streams.
  const stream = fedBody();
  const pool = scriptedPool((endpoint, { signal }) => {
    if (endpoint === "a") {
      return new Response(linked(fedBody(), signal).stream, { status: 500 });
    }
    return new Response(linked(stream, signal).stream, { headers: SSE });
  }, { streamIdleTimeout: 1_000 });
  using _ = pool.api;
  const controller = new AbortController();
  const response = await pool.api.fetch("chat/completions", {
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const read = watchSettle(reader.read());
  await turns();
  const reason = new Error("user left");
  controller.abort(reason);
  await turns();
  assert.ok(read.settled, "the abort reaches the body");
  assert.equal((await read.result).error, reason);
  assert.equal(pool.sent[1].signal.reason, reason);
  assert.equal(
    pool.sent[0].signal.aborted,
    false,
    "the failed attempt was let go of",
  );
  assert.deepEqual(pool.api.status().map((s) => s.failures), [1, 0]);
});

test("stream idle: a body that is not valid JSON is the reader's problem, not the endpoint's", async () => {
  for (
    const headers of [{ "content-length": "7" }, {}] as Record<string, string>[]
  ) {
    const { api, bodies } = streamPool(200, headers, { bufferLimit: false });
    using _ = api;
    const response = await api.fetch("chat/completions");
    const json = watchSettle(response.json());
    await turns();
    bodies[0].push("{broken");
    bodies[0].close();
    await turns();
    assert.ok(json.settled);
    const error = (await json.result).error as Error;
    assert.equal(error.name, "SyntaxError", JSON.stringify(headers));
    assert.equal(api.status()[0].failures, 0);
  }
});

// A whole-body read is watched chunk by chunk, whatever the body's length:
// a body that keeps flowing is never cut, however long the read takes.
for (const length of ["8388608", "0", "8388609", undefined]) {
  test(
    `stream idle: text() of a body with content-length ${length} is watched chunk by chunk`,
    async () => {
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
      };
      if (length !== undefined) headers["content-length"] = length;
      const { api, bodies, clock } = streamPool(200, headers, {
        bufferLimit: false,
      });
      using _ = api;
      const response = await api.fetch("files/1");
      const text = watchSettle(response.text());
      await turns();
      // Progress every 600 ms: never idle for 1000 ms between chunks.
      clock.advance(600);
      bodies[0].push("a");
      await turns();
      clock.advance(400); // 1000 ms after the read began
      await turns();
      assert.equal(text.settled, false, "not cut at 1000 ms: it flows");
      clock.advance(200);
      bodies[0].push("b");
      await turns();
      clock.advance(600);
      bodies[0].close();
      await turns();
      assert.ok(text.settled);
      const { value } = await text.result;
      assert.equal(value, "ab");
      assert.equal(api.status()[0].failures, 0);
    },
  );
}

test("stream idle: after a stall, a whole-body read fails with the stall too", async () => {
  const { api, clock } = streamPool(200, {
    "content-type": "application/octet-stream",
    "content-length": "100",
  }, { bufferLimit: false });
  using _ = api;
  const response = await api.fetch("files/1");
  const read = watchSettle(response.body!.getReader().read());
  await turns();
  clock.advance(1_000);
  await turns();
  assert.ok(isStreamIdleTimeoutError((await read.result).error));
  for (const name of ["text", "arrayBuffer", "json"] as const) {
    const error = await response[name]().then(() => undefined, (e) => e);
    assert.ok(isStreamIdleTimeoutError(error), `${name}: ${error}`);
  }
  await turns();
  assert.equal(api.status()[0].failures, 1);
});

const READERS = ["arrayBuffer", "text", "json", "blob", "bytes"] as const;

for (const sized of [true, false]) {
  test(
    `stream idle: every body reader returns the whole body (${
      sized ? "known" : "unknown"
    } length)`,
    async () => {
      const content = '{"n":12345}';
      for (const name of READERS) {
        const headers: Record<string, string> = {
          "content-type": "application/json",
        };
        if (sized) headers["content-length"] = String(content.length);
        const { api, bodies } = streamPool(200, headers, {
          bufferLimit: false,
        });
        using _ = api;
        const response = await api.fetch("files/1");
        const reading = watchSettle(
          (response as unknown as Record<string, () => Promise<unknown>>)
            [name](),
        );
        await turns();
        bodies[0].push(content.slice(0, 4));
        await turns();
        bodies[0].push(content.slice(4));
        bodies[0].close();
        await turns();
        assert.ok(reading.settled, name);
        const { value, error } = await reading.result;
        assert.equal(error, undefined, `${name}: ${error}`);
        const text = name === "json"
          ? JSON.stringify(value)
          : name === "text"
          ? value as string
          : name === "blob"
          ? await (value as Blob).text()
          : new TextDecoder().decode(value as ArrayBuffer);
        assert.equal(text, content, name);
        assert.equal(response.bodyUsed, true);
      }
    },
  );
}

test("stream idle: formData() reads a form body", async () => {
  const { api, bodies } = streamPool(200, {
    "content-type": "application/x-www-form-urlencoded",
  }, { bufferLimit: false });
  using _ = api;
  const response = await api.fetch("form");
  const form = watchSettle(response.formData());
  await turns();
  bodies[0].push("a=1&b=two");
  bodies[0].close();
  await turns();
  const { value } = await form.result;
  assert.deepEqual([...(value as FormData)], [["a", "1"], ["b", "two"]]);
});

test("stream idle: a 200 without a body reads as empty from every reader", async () => {
  const { api } = scriptedPool(() => new Response(null), {
    streamIdleTimeout: 1_000,
    bufferLimit: false,
  });
  using _ = api;
  for (const name of ["text", "arrayBuffer", "bytes"] as const) {
    const response = await api.fetch("models");
    assert.equal(response.body, null);
    const value = await response[name]();
    const size = typeof value === "string"
      ? value.length
      : (value as ArrayBuffer).byteLength;
    assert.equal(size, 0, name);
  }
});

test("stream idle: a final answer (404) is watched too; a failed one returned last (500) is not", async () => {
  const final = streamPool(404, SSE);
  using _ = final.api;
  const response = await final.api.fetch("chat/completions");
  assert.equal(response.status, 404);
  const read = watchSettle(response.text());
  await turns();
  final.clock.advance(1_000);
  await turns();
  assert.ok(isStreamIdleTimeoutError((await read.result).error));

  const bodies: FedBody[] = [];
  const failed = scriptedPool((_, { signal }) => {
    const body = linked(fedBody(), signal);
    bodies.push(body);
    return new Response(body.stream, { status: 500, headers: SSE });
  }, { streamIdleTimeout: 1_000, breaker: false, retryBudget: false });
  const last = await failed.api.fetch("chat/completions");
  assert.equal(last.status, 500);
  const text = watchSettle(last.text());
  await turns();
  failed.clock.advance(5_000);
  await turns();
  assert.equal(text.settled, false, "a failed answer is not watched");
  bodies[1].push("down");
  bodies[1].close();
  assert.equal((await text.result).value, "down");
  failed.api.close();
  assert.equal(failed.sent[1].signal.aborted, false);
});

for (const status of [204, 205, 304]) {
  test(`stream idle: a ${status} has no body to watch: close() leaves its attempt alone`, async () => {
    const { api, sent } = scriptedPool(
      () => new Response(null, { status }),
      { streamIdleTimeout: 1_000 },
    );
    const response = await api.fetch("models");
    assert.equal(response.status, status);
    api.close();
    assert.equal(sent[0].signal.aborted, false);
  });
}

test("stream idle: a HEAD answer has no body to watch: close() leaves its attempt alone", async () => {
  const { api, sent } = scriptedPool(
    () => new Response(null, { headers: { "content-length": "12" } }),
    { streamIdleTimeout: 1_000 },
  );
  const response = await api.fetch("models", { method: "HEAD" });
  assert.equal(response.status, 200);
  api.close();
  assert.equal(sent[0].signal.aborted, false);
});

test("stream idle: a watched response's methods can be replaced on it, as on any Response", async () => {
  const { api } = scriptedPool(() => new Response("{}"), {
    streamIdleTimeout: 1_000,
    bufferLimit: false,
  });
  using _ = api;
  const response = await api.fetch("models");
  const patched = response as unknown as Record<string, unknown>;
  for (const name of READERS) {
    const replacement = () => Promise.resolve(name);
    patched[name] = replacement;
    assert.equal(patched[name], replacement, name);
  }
  assert.equal(await response.text(), "text");
});

test("stream idle: the attempt event of a stream says it was no panic", async () => {
  const { api, bodies, events } = streamPool();
  using _ = api;
  const response = await api.fetch("chat/completions");
  const attempt = events.find((e) => e.type === "attempt");
  assert.ok(attempt?.type === "attempt");
  assert.equal(attempt.panic, false);
  assert.equal(attempt.outcome, "success");
  await response.body!.cancel();
  assert.ok(bodies[0].cancelled);
});

test("stream idle: a big body is never read ahead, whatever its length", async () => {
  const { api, bodies } = streamPool(200, {
    "content-type": "application/octet-stream",
    "content-length": String(16 * 1024 * 1024),
  }, { bufferLimit: false });
  using _ = api;
  const response = await api.fetch("files/1");
  const reader = response.body!.getReader();
  const read = watchSettle(reader.read());
  await turns();
  bodies[0].push(bytes(3));
  await turns();
  assert.deepEqual((await read.result).value!.value, bytes(3));
  assert.equal(bodies[0].pulls, 1);
  await reader.cancel();
});
