// The documented defaults, exactly, on a manual clock: the per-attempt
// timeout (30 000 ms), the stream idle timeout (60 000 ms), the buffer limit
// (8 MiB), and the health checks' interval (30 000 ms), probe timeout
// (5 000 ms, also for `checkHealth()` without periodic checks) and path
// (the pool's, for an endpoint whose `healthCheck` gives none). Each is
// checked one millisecond (or one byte) before and at its value.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { attemptSignals, later, turns } from "./_observe.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isAttemptTimeoutError,
  isStreamIdleTimeoutError,
} from "ky-failover";

const A = { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" };

/** The signal a fetch was given (ky hands a Request, others an init). */
function signalOf(input: unknown, init?: RequestInit): AbortSignal {
  return init?.signal ?? (input as Request).signal;
}

/** A fetch that never answers: it rejects with the reason once aborted. */
function hanging(): {
  fetch: typeof fetch;
  requests: { url: string; signal: AbortSignal }[];
} {
  const requests: { url: string; signal: AbortSignal }[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    const signal = signalOf(input, init);
    requests.push({
      url: input instanceof Request ? input.url : String(input),
      signal,
    });
    return new Promise((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
    });
  };
  return { fetch, requests };
}

/** One endpoint, a manual clock, no retries, events recorded. */
function single(extra: Partial<FailoverOptions>) {
  const clock = new ManualClock();
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: [A],
    clock,
    maxAttempts: 1,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { clock, events, api };
}

test("default timeout: an attempt is aborted at exactly 30 000 ms, not before", async () => {
  const network = hanging();
  const seen = attemptSignals();
  const { clock, api } = single({
    fetch: network.fetch,
    middleware: [seen.middleware],
  });
  using _ = api;
  const call = later(api.fetch("models"));
  await bounded("the request is sent", 5_000, async () => {
    while (network.requests.length === 0) await turns(1);
  });
  const signal = seen.attempts[0].signal;
  clock.advance(29_999);
  await turns();
  assert.equal(signal.aborted, false, "alive at 29 999 ms");
  clock.advance(1);
  assert.equal(signal.aborted, true, "aborted at 30 000 ms");
  assert.ok(isAttemptTimeoutError(signal.reason), String(signal.reason));
  assert.equal(signal.reason.timeoutMs, 30_000);
  assert.equal(signal.reason.endpoint, "a");
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof Error, String(error));
});

test("default streamIdleTimeout: a stalled stream ends at exactly 60 000 ms without data", async () => {
  const encoder = new TextEncoder();
  const { clock, api, events } = single({
    fetch: () =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(encoder.encode("data: {}\n\n"));
              // …then nothing: the stream stalls.
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
      ),
  });
  using _ = api;
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "data: {}\n\n");
  let settled: unknown = "pending";
  const next = reader.read().then(
    () => settled = "data",
    (e: unknown) => settled = e,
  );
  await turns();
  assert.deepEqual(clock.delays, [60_000], "the idle timer");
  clock.advance(59_999);
  await turns();
  assert.equal(settled, "pending", "still waiting at 59 999 ms");
  assert.ok(!events.some((e) => e.type === "stream-stall"));
  clock.advance(1);
  await bounded("the stalled read", 5_000, () => next);
  assert.ok(isStreamIdleTimeoutError(settled), String(settled));
  assert.equal(settled.timeoutMs, 60_000);
  const stall = events.find((e) => e.type === "stream-stall");
  assert.ok(stall?.type === "stream-stall", "a stream-stall event");
  assert.equal(stall.timeoutMs, 60_000);
});

/**
 * A call whose answer says `content-length: length` and whose body stays
 * open until `end()`: whether the call returns before the body ends shows
 * whether the pool reads the answer whole first.
 */
function openBody(length: number) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(new TextEncoder().encode("{"));
    },
  });
  const { api } = single({
    timeout: false,
    streamIdleTimeout: false,
    fetch: () =>
      Promise.resolve(
        new Response(body, {
          headers: {
            "content-type": "application/json",
            "content-length": String(length),
          },
        }),
      ),
  });
  let returned: Response | undefined;
  const call = api.fetch("models").then((r) => returned = r);
  const end = () => {
    controller.enqueue(new TextEncoder().encode("}"));
    controller.close();
  };
  return { api, call, returned: () => returned, end };
}

test("default bufferLimit: an answer of 8 388 608 bytes (8 MiB) is read whole before the call returns", async () => {
  const { api, call, returned, end } = openBody(8_388_608);
  using _ = api;
  await turns(10);
  assert.equal(returned(), undefined, "still reading the body");
  end();
  const response = await bounded("the call", 5_000, () => call);
  assert.equal(await response.text(), "{}");
});

test("default bufferLimit: an answer of 8 388 609 bytes is handed on at its headers", async () => {
  const { api, call, returned, end } = openBody(8_388_609);
  using _ = api;
  await turns(10);
  const response = returned();
  assert.ok(response !== undefined, "returned while the body is open");
  end();
  assert.equal(await response.text(), "{}");
  assert.equal(await call, response);
});

/** Health checks with jitter 0 over one endpoint whose answers the test sets. */
function probed(extra: Partial<FailoverOptions>) {
  const answers: ((response: Response) => void)[] = [];
  const requests: { url: string; signal: AbortSignal }[] = [];
  const { clock, events, api } = single({
    fetch: (input, init) => {
      const signal = signalOf(input, init);
      requests.push({
        url: input instanceof Request ? input.url : String(input),
        signal,
      });
      return new Promise<Response>((resolve, reject) => {
        answers.push(resolve);
        signal.addEventListener("abort", () => reject(signal.reason), {
          once: true,
        });
      });
    },
    ...extra,
  });
  const sent = (count: number) =>
    bounded(`probe ${count}`, 5_000, async () => {
      while (requests.length < count) await turns(1);
    });
  return { clock, events, api, answers, requests, sent };
}

test("default healthCheck interval and timeout: the next probe 30 000 ms after one passes, each aborted at 5 000 ms", async () => {
  const { clock, events, api, answers, requests, sent } = probed({
    healthCheck: { jitter: 0 },
  });
  using _ = api;
  clock.advance(0); // jitter 0: the first probe is due at once
  await sent(1);
  assert.equal(requests[0].url, "https://a.example.ai/v1/models");
  answers[0](new Response("{}"));
  await turns();
  assert.deepEqual(clock.delays, [30_000], "the next probe's timer");
  clock.advance(29_999);
  await turns();
  assert.equal(requests.length, 1, "no probe at 29 999 ms");
  clock.advance(1);
  await sent(2);
  // The second probe never answers: aborted by the probe timeout.
  const signal = requests[1].signal;
  clock.advance(4_999);
  await turns();
  assert.equal(signal.aborted, false, "alive at 4 999 ms");
  clock.advance(1);
  assert.equal(signal.aborted, true, "aborted at 5 000 ms");
  assert.ok(isAttemptTimeoutError(signal.reason), String(signal.reason));
  assert.equal(signal.reason.timeoutMs, 5_000);
  await bounded(
    "the failed probe's event",
    5_000,
    async () => {
      while (events.filter((e) => e.type === "health-check").length < 2) {
        await turns(1);
      }
    },
  );
  const checks = events.filter((e) => e.type === "health-check");
  assert.deepEqual(
    checks.map((e) => e.type === "health-check" && [e.ok, e.durationMs]),
    [[true, 0], [false, 5_000]],
  );
});

test("checkHealth() without periodic checks: GET models, aborted at exactly 5 000 ms", async () => {
  const { clock, api, requests, sent } = probed({});
  using _ = api;
  let done = false;
  const checked = later(api.checkHealth()).then((s) => {
    done = true;
    return s;
  });
  await sent(1);
  assert.equal(requests[0].url, "https://a.example.ai/v1/models");
  const signal = requests[0].signal;
  clock.advance(4_999);
  await turns();
  assert.equal(signal.aborted, false, "alive at 4 999 ms");
  assert.equal(done, false);
  clock.advance(1);
  assert.equal(signal.aborted, true, "aborted at 5 000 ms");
  assert.ok(isAttemptTimeoutError(signal.reason), String(signal.reason));
  assert.equal(signal.reason.timeoutMs, 5_000);
  const status = await bounded("checkHealth()", 5_000, () => checked);
  assert.equal(status[0].state, "unhealthy");
  assert.equal(status[0].lastCheckAt, clock.now());
});

test("an endpoint's healthCheck without a path probes the pool's path", async () => {
  const seen: string[] = [];
  using api = createFailover({
    endpoints: [
      { ...A, healthCheck: {} },
      {
        name: "b",
        url: "https://b.example.ai/v1",
        healthCheck: { path: null },
      },
      { name: "c", url: "https://c.example.ai/v1" },
      {
        name: "d",
        url: "https://d.example.ai/v1",
        healthCheck: { path: "ping" },
      },
      { name: "e", url: "https://e.example.ai/v1", healthCheck: false },
    ] as FailoverOptions["endpoints"],
    clock: new ManualClock(),
    healthCheck: { path: "/health", interval: 60_000 },
    fetch: (input) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return Promise.resolve(new Response("{}"));
    },
  });
  await api.checkHealth();
  assert.deepEqual(seen.sort(), [
    "https://a.example.ai/v1/health",
    "https://b.example.ai/v1/health",
    "https://c.example.ai/v1/health",
    "https://d.example.ai/v1/ping",
  ]);
});

test("checkHealth() without periodic checks probes an endpoint's healthCheck {} at models", async () => {
  const seen: string[] = [];
  using api = createFailover({
    endpoints: [{ ...A, healthCheck: {} }],
    clock: new ManualClock(),
    fetch: (input) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return Promise.resolve(new Response("{}"));
    },
  });
  await api.checkHealth();
  assert.deepEqual(seen, ["https://a.example.ai/v1/models"]);
});
