// The feature interface's call-level hooks, with features written here:
// `route` (which endpoints may take a call, why none may, the body each
// attempt sends), `judge` (a ruling on a final answer), `observe` (the
// bytes of a returned body) and `status`, and the endpoint options a
// feature reads.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { ENDPOINTS, json, pool } from "./_feature_pool.ts";
import {
  type BodyObserver,
  createPool,
  type Feature,
  type FeatureCall,
  isFailoverError,
} from "ky-failover/core";
import { createFailover } from "ky-failover";

interface Sent {
  url: string;
  body: string;
  headers: Headers;
}

/** A fetch that records each request and answers with `answer(url)`. */
function recorder(answer: (url: string, body: string) => Response) {
  const sent: Sent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const body = await request.text();
    sent.push({ url: request.url, body, headers: request.headers });
    return answer(request.url, body);
  };
  return { sent, fetch: fetch as typeof globalThis.fetch };
}

test("route: an endpoint no route accepts gets no attempt, not even when the others fail", async () => {
  const { sent, fetch } = recorder(() => json({ error: "down" }, 503));
  const onlyB: Feature = {
    name: "only-b",
    attach: () => ({ route: () => ({ accepts: (e) => e === "b" }) }),
  };
  using p = pool([onlyB], fetch, { breaker: false, maxAttempts: 5 });
  const response = await p.fetch("models");
  assert.equal(response.status, 503);
  await response.body?.cancel();
  assert.ok(sent.length > 0);
  assert.ok(sent.every((s) => s.url.startsWith("https://b.")), "never a");
});

test("route: when no endpoint is accepted the call fails with the route's refusal and sends nothing", async () => {
  const { sent, fetch } = recorder(() => json({}));
  const none: Feature = {
    name: "none",
    attach: () => ({
      route: () => ({
        accepts: () => false,
        refusal: () => "closed for lunch",
      }),
    }),
  };
  using p = pool([none], fetch);
  await assert.rejects(p.fetch("models"), (error: unknown) => {
    assert.ok(isFailoverError(error));
    assert.match(error.message, /^closed for lunch; no request was sent$/);
    assert.equal(error.attempts.length, 0);
    return true;
  });
  assert.equal(sent.length, 0);
});

test("route: the refusal is the first route's that leaves no endpoint", async () => {
  const { fetch } = recorder(() => json({}));
  const refusing = (
    name: string,
    accepts: (e: string) => boolean,
  ): Feature => ({
    name,
    attach: () => ({
      route: () => ({ accepts, refusal: () => `${name} refused` }),
    }),
  });
  using p = pool([
    refusing("not-a", (e) => e !== "a"),
    refusing("not-b", (e) => e !== "b"),
  ], fetch);
  await assert.rejects(p.fetch("models"), /^FailoverError: not-b refused/);
});

test("route: a route without accepts turns no endpoint down: the refusal is the one of the route that does", async () => {
  const { sent, fetch } = recorder(() => json({}));
  const renames: Feature = {
    name: "renames",
    attach: () => ({
      route: () => ({ attempt: () => ({ model: "x" }) }),
    }),
  };
  const none: Feature = {
    name: "none",
    attach: () => ({
      route: () => ({ accepts: () => false, refusal: () => "none refused" }),
    }),
  };
  using p = pool([renames, none], fetch);
  await assert.rejects(p.fetch("models"), /^FailoverError: none refused/);
  assert.equal(sent.length, 0);
});

test("route: a call's json() is its body parsed when it is a JSON object or array, else undefined", async () => {
  const { fetch } = recorder(() => json({}));
  const seen: unknown[] = [];
  const spy: Feature = {
    name: "spy",
    attach: () => ({
      route(call) {
        seen.push(call.json());
        return undefined;
      },
    }),
  };
  using p = pool([spy], fetch);
  for (const body of [' {"n":1}', "[1]", "42", '"text"', "true", "{oops"]) {
    const response = await p.fetch("chat/completions", {
      method: "POST",
      body,
    });
    await response.body?.cancel();
  }
  assert.deepEqual(seen, [
    { n: 1 },
    [1],
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

test("route: each attempt sends the route's body for its endpoint; the caller's body is not changed", async () => {
  const { sent, fetch } = recorder((url) =>
    url.startsWith("https://a.") ? json({}, 503) : json({ ok: true })
  );
  const calls: FeatureCall[] = [];
  const rename: Feature = {
    name: "rename",
    attach: () => ({
      route(call) {
        calls.push(call);
        return {
          attempt: (e) => ({ body: `{"to":"${e}"}`, model: `m-${e}` }),
        };
      },
    }),
  };
  using p = pool([rename], fetch);
  const body = JSON.stringify({ model: "m", n: 1 });
  const response = await p.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": "17" },
    body,
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(sent.map((s) => s.body), ['{"to":"a"}', '{"to":"b"}']);
  // The caller's content-length would be wrong for another body: dropped.
  assert.equal(sent[1].headers.get("content-length"), null);
  assert.equal(body, '{"model":"m","n":1}');
  assert.equal(calls.length, 1, "route is asked once per call");
  assert.equal(calls[0].model, "m");
  assert.deepEqual(calls[0].json(), { model: "m", n: 1 });
  assert.equal(p.status()[1].lastModel, "m-b");
});

test("route: attempt records, events and errors carry the model each endpoint was sent", async () => {
  const { fetch } = recorder(() => json({}, 503));
  const events: unknown[] = [];
  const rename: Feature = {
    name: "rename",
    attach: () => ({
      route: () => ({ attempt: (e) => ({ model: `m-${e}` }) }),
    }),
  };
  using p = pool([rename], fetch, { onEvent: (e) => events.push(e) });
  const response = await p.fetch("models");
  await response.body?.cancel();
  const attempts = events.filter((e) =>
    (e as { type: string }).type === "attempt"
  ) as { model?: string }[];
  assert.deepEqual(attempts.map((a) => a.model), ["m-a", "m-b"]);
  const failure = events.find((e) =>
    (e as { type: string }).type === "failure"
  ) as { error: Error; attempts: { model?: string }[] };
  assert.deepEqual(failure.attempts.map((a) => a.model), ["m-a", "m-b"]);
  assert.match(
    failure.error.message,
    /a \(m-a\) → HTTP 503.*b \(m-b\) → HTTP 503/,
  );
});

test("judge: a ruling turns a final answer into a failover, neutral for the endpoint; the body it read is intact for the caller", async () => {
  const { sent, fetch } = recorder((url) =>
    url.startsWith("https://a.")
      ? json({ error: { code: "too_long" } }, 400)
      : json({ error: { code: "other" } }, 400)
  );
  const texts: (string | undefined)[] = [];
  const rules: Feature = {
    name: "rules",
    attach: () => ({
      async judge(answer) {
        const text = await answer.text();
        texts.push(text);
        return text?.includes("too_long")
          ? { verdict: "failover", code: "too_long" }
          : undefined;
      },
    }),
  };
  using p = pool([rules], fetch);
  const response = await p.fetch("models");
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: { code: "other" } });
  assert.equal(sent.length, 2);
  assert.deepEqual(texts, [
    '{"error":{"code":"too_long"}}',
    '{"error":{"code":"other"}}',
  ]);
  const [a] = p.status();
  assert.equal(a.consecutiveFailures, 0);
  assert.equal(a.failures, 0);
  assert.equal(a.state, "healthy");
});

test("judge: only answers the call would return as final are judged (not a 2xx, not a 5xx)", async () => {
  const statuses: number[] = [];
  const { fetch } = recorder((url) =>
    url.startsWith("https://a.") ? json({}, 503) : json({}, 200)
  );
  const spy: Feature = {
    name: "spy",
    attach: () => ({
      judge(answer) {
        statuses.push(answer.status);
        return undefined;
      },
    }),
  };
  using p = pool([spy], fetch);
  const response = await p.fetch("models");
  await response.body?.cancel();
  assert.deepEqual(statuses, []);
});

test("judge: a ruled attempt's code is in the FailoverError message, once", async () => {
  const { fetch } = recorder(() => json({}, 422));
  const rules: Feature = {
    name: "rules",
    attach: () => ({
      judge: (answer) => ({
        verdict: "failover",
        code: `HTTP ${answer.status}`,
      }),
    }),
  };
  const api = createFailover({
    endpoints: ENDPOINTS,
    strategy: "priority",
    fetch,
    features: [rules],
  });
  try {
    await assert.rejects(api.ky.get("models"), (error: unknown) => {
      assert.ok(isFailoverError(error));
      assert.match(error.message, /a → HTTP 422 \(\d+ ms\); b → HTTP 422 \(/);
      return true;
    });
  } finally {
    api.close();
  }
});

test("observe: an observer sees a streamed body's bytes as the caller reads them, then its end", async () => {
  const chunks = ["data: 1\n\n", "data: 2\n\n"];
  const { fetch } = recorder(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    )
  );
  const seen: string[] = [];
  const watcher: Feature = {
    name: "watcher",
    attach: () => ({
      observe: () => ({
        chunk: (bytes) => seen.push(new TextDecoder().decode(bytes)),
        end: () => seen.push("end"),
      }),
    }),
  };
  using p = pool([watcher], fetch);
  const response = await p.fetch("chat/completions");
  assert.deepEqual(seen, [], "nothing is read ahead of the caller");
  assert.equal(await response.text(), "data: 1\n\ndata: 2\n\n");
  assert.deepEqual(seen, ["data: 1\n\n", "data: 2\n\n", "end"]);
});

/** A streamed answer that sends one event, then nothing until cancelled. */
function oneEventThenSilence() {
  return () =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
}

/** A feature that records how each observed body ended. */
function endings(seen: string[]): Feature {
  return {
    name: "endings",
    attach: () => ({
      observe: () => ({
        chunk: () => {},
        end: () => seen.push("end"),
        stop: (how, error) =>
          seen.push(
            error === undefined ? how : `${how} ${(error as Error).name}`,
          ),
      }),
    }),
  };
}

test('observe: a body the caller cancels stops its observers once ("cancelled"), never ends them', async () => {
  const seen: string[] = [];
  const { fetch } = recorder(oneEventThenSilence());
  using p = pool([endings(seen)], fetch);
  const response = await p.fetch("chat/completions");
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel("enough");
  await p.close();
  assert.deepEqual(seen, ["cancelled"]);
});

test("observe: a body that stalls stops its observers as failed, with the reader's error; the pool closing, as closed", async () => {
  const clock = new ManualClock();
  const seen: string[] = [];
  const { fetch } = recorder(oneEventThenSilence());
  using p = pool([endings(seen)], fetch, { clock, streamIdleTimeout: 100 });
  const stalled = (await p.fetch("chat/completions")).body!.getReader();
  await stalled.read();
  const failed = stalled.read().then(() => "read", (e: Error) => e.name);
  await bounded("the idle timer", 5_000, () => clock.scheduled(100));
  clock.advance(100);
  assert.equal(await failed, "StreamIdleTimeoutError");
  assert.deepEqual(seen, ["failed StreamIdleTimeoutError"]);
  const open = (await p.fetch("chat/completions")).body!.getReader();
  await open.read();
  const closing = open.read().then(() => "read", (e: Error) => e.name);
  await p.close();
  assert.equal(await closing, "ClosedError");
  assert.deepEqual(seen, ["failed StreamIdleTimeoutError", "closed"]);
});

test("observe: an observer that throws is dropped; the caller's body and the other observers go on", async () => {
  const { fetch } = recorder(() =>
    new Response("data: x\n\n", {
      headers: { "content-type": "text/event-stream" },
    })
  );
  const ends: string[] = [];
  const observer = (name: string, throws: boolean): Feature => ({
    name,
    attach: () => ({
      observe: (): BodyObserver => ({
        chunk() {
          if (throws) throw new Error("observer bug");
        },
        end: () => ends.push(name),
      }),
    }),
  });
  using p = pool([observer("bad", true), observer("good", false)], fetch);
  const response = await p.fetch("chat/completions");
  assert.equal(await response.text(), "data: x\n\n");
  assert.deepEqual(ends, ["good"]);
});

test("observe: a body the pool read whole is shown at once, when the attempt settles", async () => {
  const { fetch } = recorder(() => json({ usage: 1 }));
  const seen: string[] = [];
  const watcher: Feature = {
    name: "watcher",
    attach: () => ({
      observe: () => ({
        chunk: (bytes) => seen.push(new TextDecoder().decode(bytes)),
        end: () => seen.push("end"),
      }),
    }),
  };
  using p = pool([watcher], fetch);
  const response = await p.fetch("chat/completions");
  assert.deepEqual(seen, ['{"usage":1}', "end"]);
  assert.deepEqual(await response.json(), { usage: 1 });
});

test("observe: a body read whole is shown as one chunk, a single byte included; an empty one only ends", async () => {
  const bodies = ["x", ""];
  const { fetch } = recorder(() =>
    new Response(bodies.shift(), {
      headers: { "content-type": "text/plain" },
    })
  );
  const seen: string[] = [];
  const watcher: Feature = {
    name: "watcher",
    attach: () => ({
      observe: () => ({
        chunk: (bytes) => seen.push(`chunk ${bytes.byteLength}`),
        end: () => seen.push("end"),
      }),
    }),
  };
  using p = pool([watcher], fetch);
  assert.equal(await (await p.fetch("a")).text(), "x");
  assert.equal(await (await p.fetch("b")).text(), "");
  assert.deepEqual(seen, ["chunk 1", "end", "end"]);
});

test("observe: an answer without a body (204) ends its observers at once", async () => {
  const { fetch } = recorder(() => new Response(null, { status: 204 }));
  const seen: string[] = [];
  const watcher: Feature = {
    name: "watcher",
    attach: () => ({
      observe: () => ({
        chunk: () => seen.push("chunk"),
        end: () => seen.push("end"),
      }),
    }),
  };
  using p = pool([watcher], fetch);
  const response = await p.fetch("chat/completions", { method: "DELETE" });
  assert.equal(response.status, 204);
  assert.equal(response.body, null);
  assert.deepEqual(seen, ["end"]);
});

test("status: what features add appears in status()", () => {
  const { fetch } = recorder(() => json({}));
  const adds: Feature = {
    name: "adds",
    attach: () => ({
      status: (e) => ({
        models: { serves: undefined, notFound: [e] },
      }),
    }),
  };
  using p = pool([adds], fetch);
  assert.deepEqual(p.status().map((s) => s.models?.notFound), [["a"], ["b"]]);
  assert.equal("usage" in p.status()[0], false);
});

test("endpoint options: a feature reads the ones it names; one nobody reads is a TypeError naming it", () => {
  const { fetch } = recorder(() => json({}));
  const endpoints = [{ ...ENDPOINTS[0], budget: { usd: 1, window: 1000 } }];
  assert.throws(
    () => createPool({ endpoints, fetch }),
    /options\.endpoints\[0\]\.budget needs a feature that reads it: add usage\(\) from "ky-failover\/usage"/,
  );
  const seen: unknown[] = [];
  const reader: Feature = {
    name: "reader",
    endpointOptions: ["budget"],
    attach(host) {
      seen.push(...host.endpoints.map((e) => [e.index, e.options.budget]));
      return {};
    },
  };
  using p = createPool({ endpoints, fetch, features: [reader] });
  assert.deepEqual(seen, [[0, { usd: 1, window: 1000 }]]);
  assert.equal(p.status().length, 1);
});

test("strategy: a strategy option and a feature that picks are an error, not a silent choice", () => {
  const { fetch } = recorder(() => json({}));
  const picker: Feature = {
    name: "my-picker",
    attach: () => ({ pick: () => undefined }),
  };
  for (const strategy of ["priority", () => "a"] as const) {
    assert.throws(
      () =>
        createPool({
          endpoints: ENDPOINTS,
          fetch,
          strategy,
          features: [picker],
        }),
      /options\.strategy (is "priority"|is a function), and the my-picker feature chooses the endpoint too/,
    );
  }
});
