// The feature interface's hooks for observability and for features that
// talk to each other, with features written here: `trace` (each attempt as
// it is sent — with headers it adds — and as it settles, and the call's
// end), `onEvent` (every event, with the call it is about) and the news
// channel (`host.tell`, `host.hear`, `onNews`).

import { assert, test } from "./_harness.ts";
import { json, pool } from "./_feature_pool.ts";
import {
  type AttemptTrace,
  type CallEnd,
  type FailoverEvent,
  type Feature,
  type FeatureCall,
  type FeatureHost,
  type FeatureNews,
  isFailoverError,
  type SentAttempt,
  type SettledAttempt,
} from "ky-failover/core";
import { usage } from "ky-failover/usage";
import { ManualClock } from "./_manual_clock.ts";

interface Sent {
  host: string;
  headers: Headers;
}

/** A fetch that records each request and answers with `answer(host)`. */
function recorder(answer: (host: string) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const host = new URL(request.url).hostname.split(".")[0];
    sent.push({ host, headers: request.headers });
    return Promise.resolve(answer(host));
  };
  return { sent, fetch: fetch as typeof globalThis.fetch };
}

/** What a recording trace heard of one call. */
interface Heard {
  call: FeatureCall;
  sent: SentAttempt[];
  settled: SettledAttempt[];
  ended: CallEnd[];
  /** Every hook in the order it ran. */
  order: string[];
}

/** A feature that records what `trace` hears, adding `headers` to each attempt. */
function recordingTrace(
  calls: Heard[],
  headers: (sent: SentAttempt) => Record<string, string> = () => ({}),
): Feature {
  return {
    name: "recording-trace",
    attach: () => ({
      trace(call) {
        const heard: Heard = {
          call,
          sent: [],
          settled: [],
          ended: [],
          order: [],
        };
        calls.push(heard);
        return {
          attempt(sent): AttemptTrace {
            heard.sent.push(sent);
            heard.order.push(`sent ${sent.attempt} ${sent.endpoint}`);
            return {
              headers: headers(sent),
              end(settled) {
                heard.settled.push(settled);
                heard.order.push(`settled ${settled.endpoint}`);
              },
            };
          },
          end(ended) {
            heard.ended.push(ended);
            heard.order.push(`end ${ended.result}`);
          },
        };
      },
    }),
  };
}

test("trace: a failover is heard attempt by attempt, then the end, with the answering endpoint and the model each was sent", async () => {
  const { sent, fetch } = recorder((host) =>
    host === "a" ? json({ error: "down" }, 503) : json({ ok: true })
  );
  const calls: Heard[] = [];
  using p = pool([recordingTrace(calls)], fetch);
  const response = await p.fetch("chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "m-1", messages: [] }),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(sent.length, 2);
  assert.equal(calls.length, 1);
  const [heard] = calls;
  assert.equal(heard.call.model, "m-1");
  assert.deepEqual(heard.order, [
    "sent 1 a",
    "settled a",
    "sent 2 b",
    "settled b",
    "end answered",
  ]);
  assert.deepEqual(heard.sent, [
    { endpoint: "a", attempt: 1, hedge: false, model: "m-1" },
    { endpoint: "b", attempt: 2, hedge: false, model: "m-1" },
  ]);
  assert.deepEqual(
    heard.settled.map(({ endpoint, status, outcome }) => ({
      endpoint,
      status,
      outcome,
    })),
    [
      { endpoint: "a", status: 503, outcome: "failover" },
      { endpoint: "b", status: 200, outcome: "success" },
    ],
  );
  const [end] = heard.ended;
  assert.equal(end.result, "answered");
  assert.equal(end.endpoint, "b");
  assert.equal(end.status, 200);
  // Without models() the model sent is the one asked for.
  assert.equal(end.model, "m-1");
  assert.equal(end.error, undefined);
  assert.deepEqual(end.attempts.map((a) => a.endpoint), ["a", "b"]);
  assert.ok(end.durationMs >= 0);
});

test("trace: an attempt's headers reach its request, each attempt its own; they never replace the endpoint's credentials", async () => {
  const { sent, fetch } = recorder((host) =>
    host === "a" ? json({}, 500) : json({})
  );
  const calls: Heard[] = [];
  const headers = (s: SentAttempt) => ({
    traceparent: `00-${"1".repeat(32)}-${String(s.attempt).repeat(16)}-01`,
    authorization: "Bearer stolen",
  });
  using p = pool([recordingTrace(calls, headers)], fetch);
  const response = await p.fetch("models");
  await response.body?.cancel();
  assert.deepEqual(sent.map((s) => s.headers.get("traceparent")), [
    `00-${"1".repeat(32)}-${"1".repeat(16)}-01`,
    `00-${"1".repeat(32)}-${"2".repeat(16)}-01`,
  ]);
  assert.deepEqual(sent.map((s) => s.headers.get("authorization")), [
    "Bearer sk-a",
    "Bearer sk-b",
  ]);
});

test("trace: a call whose every attempt fails ends as failed with a FailoverError (fetch still returns the last answer)", async () => {
  const { fetch } = recorder(() => json({ error: "down" }, 503));
  const calls: Heard[] = [];
  using p = pool([recordingTrace(calls)], fetch, { breaker: false });
  const response = await p.fetch("models");
  assert.equal(response.status, 503);
  await response.body?.cancel();
  const [end] = calls[0].ended;
  assert.equal(end.result, "failed");
  assert.equal(end.endpoint, "b");
  assert.equal(end.status, 503);
  assert.ok(isFailoverError(end.error));
  assert.equal(end.attempts.length, 2);
  assert.deepEqual(calls[0].settled.map((s) => s.outcome), [
    "failover",
    "failover",
  ]);
});

test("trace: a call that throws (network errors) ends as failed with the error it throws", async () => {
  const fetch =
    (() =>
      Promise.reject(new TypeError("fetch failed"))) as typeof globalThis.fetch;
  const calls: Heard[] = [];
  using p = pool([recordingTrace(calls)], fetch, { breaker: false });
  const thrown = await p.fetch("models").then(
    () => assert.fail("resolved"),
    (error: unknown) => error,
  );
  const [end] = calls[0].ended;
  assert.equal(end.result, "failed");
  assert.equal(end.error, thrown);
  assert.equal(end.endpoint, undefined);
  assert.equal(end.status, undefined);
  assert.deepEqual(calls[0].settled.map((s) => s.endpoint), ["a", "b"]);
  assert.ok(calls[0].settled.every((s) => s.error !== undefined));
});

test("trace: the caller's abort ends the attempt as aborted and the call as failed with the abort reason", async () => {
  const controller = new AbortController();
  const fetch =
    ((_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise((_, reject) => {
        init?.signal?.addEventListener(
          "abort",
          () => reject(init.signal!.reason),
        );
        controller.abort(new Error("caller gave up"));
      })) as typeof globalThis.fetch;
  const calls: Heard[] = [];
  using p = pool([recordingTrace(calls)], fetch);
  const thrown = await p.fetch("models", { signal: controller.signal }).then(
    () => assert.fail("resolved"),
    (error: unknown) => error,
  );
  assert.equal((thrown as Error).message, "caller gave up");
  assert.deepEqual(calls[0].settled.map((s) => s.outcome), ["aborted"]);
  assert.equal(calls[0].ended.length, 1);
  assert.equal(calls[0].ended[0].result, "failed");
  assert.equal(calls[0].ended[0].error, thrown);
});

test("trace: a trace that throws is dropped for the call, and the call and the other traces go on", async () => {
  const { sent, fetch } = recorder(() => json({}));
  const calls: Heard[] = [];
  let brokenEnded = 0;
  const broken: Feature = {
    name: "broken",
    attach: () => ({
      trace: () => ({
        attempt() {
          throw new Error("tracer bug");
        },
        end() {
          brokenEnded += 1;
        },
      }),
    }),
  };
  const throwsAtStart: Feature = {
    name: "throws-at-start",
    attach: () => ({
      trace() {
        throw new Error("tracer bug");
      },
    }),
  };
  using p = pool([broken, throwsAtStart, recordingTrace(calls)], fetch);
  const response = await p.fetch("models");
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(sent.length, 1);
  assert.deepEqual(calls[0].order, ["sent 1 a", "settled a", "end answered"]);
  assert.equal(brokenEnded, 0, "a trace that threw hears no more of the call");
});

test("trace: a hedge is sent as a hedge, and the attempt it beat settles as aborted", async () => {
  const clock = new ManualClock();
  const firstSent = Promise.withResolvers<void>();
  const beatenSettled = Promise.withResolvers<void>();
  let first = true;
  const fetch = ((_input: RequestInfo | URL, init?: RequestInit) => {
    if (!first) return Promise.resolve(json({ fast: true }));
    first = false;
    firstSent.resolve();
    return new Promise((_, reject) => {
      init?.signal?.addEventListener(
        "abort",
        () => reject(init.signal!.reason),
      );
    });
  }) as typeof globalThis.fetch;
  const hedging: Feature = {
    name: "hedge-after-5-ms",
    attach: () => ({ hedgeDelay: () => 5 }),
  };
  const calls: Heard[] = [];
  const tracing = recordingTrace(calls);
  const watching: Feature = {
    name: "watching",
    attach: (host) => {
      const hooks = tracing.attach(host);
      return {
        trace(call) {
          const trace = hooks.trace!(call)!;
          return {
            attempt(sent) {
              const follower = trace.attempt(sent)!;
              return {
                end(settled) {
                  follower.end(settled);
                  if (settled.outcome === "aborted") beatenSettled.resolve();
                },
              };
            },
            end: (ended) => trace.end(ended),
          };
        },
      };
    },
  };
  using p = pool([hedging, watching], fetch, { clock });
  const answer = p.fetch("models");
  await firstSent.promise;
  clock.advance(5);
  const response = await answer;
  assert.deepEqual(await response.json(), { fast: true });
  await beatenSettled.promise;
  const heard = calls[0];
  assert.deepEqual(heard.sent.map((s) => [s.endpoint, s.hedge]), [
    ["a", false],
    ["b", true],
  ]);
  assert.equal(heard.ended[0].endpoint, "b");
  assert.deepEqual(
    heard.settled.map((s) => [s.endpoint, s.outcome]),
    [["b", "success"], ["a", "aborted"]],
  );
});

test("onEvent: a feature hears every event without a user onEvent, with the call each is about — the same object trace sees", async () => {
  const { fetch } = recorder((host) =>
    host === "a"
      ? json({}, 503)
      : json({ usage: { prompt_tokens: 3, completion_tokens: 4 } })
  );
  const heard: { event: FailoverEvent; call: FeatureCall | undefined }[] = [];
  const calls: Heard[] = [];
  const listener: Feature = {
    name: "listener",
    attach: () => ({
      onEvent: (event, call) => void heard.push({ event, call }),
    }),
  };
  using p = pool([usage(), listener, recordingTrace(calls)], fetch);
  const response = await p.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m-1", messages: [] }),
  });
  await response.json();
  const call = calls[0].call;
  const about = (type: string) =>
    heard.filter((h) => h.event.type === type).map((h) => h.call);
  // The same object, not an equal one (deepEqual would not see a copy).
  const same = (type: string) => about(type).map((c) => c === call);
  assert.deepEqual(same("attempt"), [true, true]);
  assert.deepEqual(same("failover"), [true]);
  assert.deepEqual(same("success"), [true]);
  assert.deepEqual(same("usage"), [true]);
  const used = heard.find((h) => h.event.type === "usage")!.event;
  assert.equal(used.type === "usage" && used.inputTokens, 3);
});

test("onEvent: a feature that throws or rejects breaks neither the call nor the user's onEvent", async () => {
  const { fetch } = recorder(() => json({}));
  const userEvents: string[] = [];
  const bad: Feature = {
    name: "bad",
    attach: () => ({
      onEvent() {
        throw new Error("listener bug");
      },
    }),
  };
  const rejects: Feature = {
    name: "rejects",
    attach: () => ({
      // deno-lint-ignore require-await
      onEvent: (async () => {
        throw new Error("async listener bug");
      }) as unknown as () => void,
    }),
  };
  using p = pool([bad, rejects], fetch, {
    onEvent: (e) => void userEvents.push(e.type),
  });
  const response = await p.fetch("models");
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(userEvents, ["attempt", "success"]);
});

test("news: host.tell reaches every feature's onNews (the teller's too) as local; host.hear as remote; a listener that throws keeps it from no other", () => {
  const { fetch } = recorder(() => json({}));
  let teller: FeatureHost | undefined;
  const heardBy: Record<string, FeatureNews[]> = { a: [], b: [] };
  const listening = (name: "a" | "b", throws = false): Feature => ({
    name,
    attach(host) {
      if (name === "a") teller = host;
      return {
        onNews(news) {
          heardBy[name].push(news);
          if (throws) throw new Error("listener bug");
        },
      };
    },
  });
  using _p = pool([listening("a", true), listening("b")], fetch);
  teller!.tell({ feature: "a", endpoint: "b", data: { n: 1 } });
  teller!.hear({
    feature: "a",
    endpoint: "b",
    data: { n: 2 },
    keep: { key: "k", ms: 5 },
  });
  for (const name of ["a", "b"] as const) {
    assert.deepEqual(heardBy[name], [
      { feature: "a", endpoint: "b", data: { n: 1 }, remote: false },
      {
        feature: "a",
        endpoint: "b",
        data: { n: 2 },
        keep: { key: "k", ms: 5 },
        remote: true,
      },
    ]);
  }
  assert.ok(Object.isFrozen(heardBy.b[0]), "news is frozen");
});
