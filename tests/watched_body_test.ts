// A committed answer's body, as the caller gets it: a platform Response
// over the watched stream. Every reader, `body`, `bodyUsed` and `clone()`
// are the runtime's own; each one sees a stall as a StreamIdleTimeoutError.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import { createFailover, isStreamIdleTimeoutError } from "ky-failover";

/** An endpoint answer whose body the test writes, chunk by chunk. */
function writable(contentType = "application/json") {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
  });
  return {
    response: new Response(body, {
      headers: { "content-type": contentType, "x-region": "a" },
    }),
    write: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

function committedPool(answer: () => Response, clock = new ManualClock()) {
  const api = createFailover({
    endpoints: [{ name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" }],
    clock,
    bufferLimit: false,
    streamIdleTimeout: 1_000,
    fetch: () => Promise.resolve(answer()),
  });
  return { api, clock };
}

const READERS = [
  ["json", (r: Response) => r.json(), { ok: true }],
  ["text", (r: Response) => r.text(), '{"ok":true}'],
  [
    "arrayBuffer",
    async (r: Response) => new TextDecoder().decode(await r.arrayBuffer()),
    '{"ok":true}',
  ],
  ["blob", async (r: Response) => (await r.blob()).text(), '{"ok":true}'],
  [
    "body",
    async (r: Response) => {
      const reader = r.body!.getReader();
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    },
    '{"ok":true}',
  ],
] as const;

for (const [name, read, expected] of READERS) {
  test(`a watched body read with ${name}() gives the whole answer; bodyUsed follows`, async () => {
    const answer = writable();
    using api = committedPool(() => answer.response).api;
    const response = await api.fetch("models");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-region"), "a");
    assert.equal(response.bodyUsed, false);
    const reading = read(response);
    answer.write('{"ok":');
    answer.write("true}");
    answer.end();
    assert.deepEqual(await bounded(name, 5_000, () => reading), expected);
    assert.equal(response.bodyUsed, true);
  });

  test(`a watched body that stalls ends ${name}() with a StreamIdleTimeoutError after exactly the idle timeout`, async () => {
    const answer = writable();
    const { api, clock } = committedPool(() => answer.response);
    using _ = api;
    const response = await api.fetch("models");
    let settled = false;
    const reading = Promise.resolve(read(response)).then(
      () => undefined,
      (e) => e,
    ).finally(() => settled = true);
    answer.write('{"ok":');
    await bounded(
      "the stalled read's timer",
      5_000,
      () => clock.scheduled(1_000),
    );
    await turns();
    clock.advance(999);
    await turns();
    assert.equal(settled, false, "not a millisecond early");
    clock.advance(1);
    const error = await bounded(name, 5_000, () => reading);
    assert.ok(isStreamIdleTimeoutError(error), String(error));
    assert.equal(api.status()[0].consecutiveFailures, 1, "the stall counts");
  });
}

test("a watched body's clone() reads the same bytes as the original", async () => {
  const answer = writable("text/event-stream");
  using api = committedPool(() => answer.response).api;
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  const copy = response.clone();
  const both = Promise.all([response.text(), copy.text()]);
  answer.write("data: 1\n\n");
  answer.end();
  assert.deepEqual(await bounded("both", 5_000, () => both), [
    "data: 1\n\n",
    "data: 1\n\n",
  ]);
  assert.equal(copy.headers.get("content-type"), "text/event-stream");
});

test("a watched body keeps the endpoint's url, and cancelling it frees the timer", async () => {
  const answer = writable("text/event-stream");
  const { api, clock } = committedPool(() => {
    const r = answer.response;
    Object.defineProperty(r, "url", {
      value: "https://a.example.ai/v1/models",
    });
    return r;
  });
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.url, "https://a.example.ai/v1/models");
  const reader = response.body!.getReader();
  const pending = reader.read();
  await bounded("the read's timer", 5_000, () => clock.scheduled(1_000));
  await reader.cancel("done");
  assert.deepEqual(await pending, { done: true, value: undefined });
  await turns();
  assert.equal(clock.pending, 0, "no timer left");
  assert.equal(
    api.status()[0].consecutiveFailures,
    0,
    "a cancel blames nobody",
  );
});
