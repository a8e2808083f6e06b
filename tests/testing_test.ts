// The public testing helpers (`ky-failover/testing`) on their own: each
// outage mode, the default OpenAI-compatible answers, routing and records.

import { assert, bounded, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { later, turns } from "./_observe.ts";
import { mockRegion, mockRegions } from "ky-failover/testing";
import { createFailover } from "ky-failover";

const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };
const post = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-x" },
  body: JSON.stringify(body),
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => assert.fail("expected a rejection"),
    (error) => error,
  );
}

test("testing: an up region answers models and chat completions like OpenAI", async () => {
  const regions = mockRegions(["primary"]);
  const base = regions.region("primary").url;
  assert.equal(base, "https://primary.example.ai/v1");

  const models = await regions.fetch(`${base}/models`);
  assert.equal(models.status, 200);
  assert.equal(models.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(
    (await models.json()).data.map((m: { id: string }) => m.id),
    ["gpt-4.1"],
  );

  const completion =
    await (await regions.fetch(`${base}/chat/completions`, post(chat))).json();
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices[0].message.content, "hello from primary");

  const missing = await regions.fetch(`${base}/nowhere`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, "invalid_request_error");

  const seen = regions.region("primary").received;
  assert.deepEqual(seen.map((r) => [r.method, r.path, r.authorization]), [
    ["GET", "/v1/models", null],
    ["POST", "/v1/chat/completions", "Bearer sk-x"],
    ["GET", "/v1/nowhere", null],
  ]);
  assert.deepEqual(JSON.parse(seen[1].body), chat);
  assert.deepEqual(regions.counts(), { primary: 3 });
  regions.region("primary").reset();
  assert.deepEqual(regions.counts(), { primary: 0 });
});

test("testing: stream: true is answered with SSE chunks ending in [DONE]", async () => {
  const region = mockRegion({ name: "hk" });
  const response = await region.fetch(
    new Request(`${region.url}/chat/completions`, {
      ...post({
        ...chat,
        stream: true,
        stream_options: { include_usage: true },
      }),
    }),
  );
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const text = await response.text();
  const frames = text.split("\n\n").filter(Boolean);
  assert.ok(frames.every((f) => f.startsWith("data: ")));
  assert.equal(frames.at(-1), "data: [DONE]");
  const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)));
  assert.equal(
    chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    "hello from hk",
  );
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  assert.deepEqual(chunks.at(-1).usage, {
    prompt_tokens: 5,
    completion_tokens: 3,
    total_tokens: 8,
  });
});

test("testing: refused rejects like a network error; status answers with its headers", async () => {
  const regions = mockRegions(["a", "b"]);
  regions.region("a").mode = "refused";
  const error = await rejection(
    regions.fetch("https://a.example.ai/v1/models"),
  );
  assert.ok(error instanceof TypeError);

  regions.region("b").mode = {
    status: 429,
    headers: { "retry-after-ms": "1500" },
  };
  const limited = await regions.fetch(
    "https://b.example.ai/v1/chat/completions",
    post(chat),
  );
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after-ms"), "1500");
  assert.equal(limited.headers.get("access-control-expose-headers"), "*");
  assert.equal((await limited.json()).error.code, "rate_limit_exceeded");

  regions.region("b").mode = { status: 503, body: { custom: true } };
  const custom = await regions.fetch("https://b.example.ai/v1/models");
  assert.deepEqual(await custom.json(), { custom: true });
  assert.deepEqual(regions.counts(), { a: 1, b: 2 });
  assert.deepEqual(regions.region("b").received.map((r) => r.mode), [
    { status: 429, headers: { "retry-after-ms": "1500" } },
    { status: 503, body: { custom: true } },
  ]);
});

test("testing: a URL outside every region is rejected; names must be unique", async () => {
  const regions = mockRegions(["a"]);
  const error = await rejection(
    regions.fetch("https://elsewhere.example.ai/v1/models"),
  );
  assert.ok(error instanceof TypeError);
  assert.match(String(error), /no mocked region answers https:\/\/elsewhere/);
  await rejection(regions.fetch("https://a.example.ai/v10/models"));
  assert.throws(() => mockRegions(["a", "a"]), /duplicate region name a/);
  assert.throws(() => regions.region("zz"), /no mocked region named zz/);
});

test("testing: hang holds the request until the client aborts", async () => {
  const region = mockRegion({ name: "p", mode: "hang" });
  const controller = new AbortController();
  let settled = false;
  // Kept referenced to the end: on Node (undici) a Request's signal
  // follows the caller's only while the Request lives, and region.fetch
  // does not keep it, so a collected Request's hang would never end (a bug
  // of the helper on Node, reported with issue 15).
  const request = new Request(`${region.url}/models`, {
    signal: controller.signal,
  });
  const pending = later(region.fetch(request).finally(() => settled = true));
  await bounded("the request", 5_000, () => region.waitForRequests(1));
  await turns();
  assert.equal(settled, false, "no answer and no error before the abort");
  controller.abort();
  const error = await bounded(
    "the aborted request",
    5_000,
    () => rejection(pending),
  );
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(request.signal.aborted, true);
});

test("testing: slow answers after its delay on the region's clock", async () => {
  const clock = new ManualClock();
  const region = mockRegion({ name: "p", mode: { slow: 2_000 }, clock });
  let answered = false;
  const pending = later(
    region.fetch(new Request(`${region.url}/models`)).then(
      (r) => {
        answered = true;
        return r;
      },
    ),
  );
  await bounded("the request", 5_000, () => region.waitForRequests(1));
  assert.deepEqual(clock.delays, [2_000], "the answer's timer, in full");
  clock.advance(1_999);
  await turns();
  assert.equal(answered, false, "not 1 ms early");
  clock.advance(1);
  assert.equal((await pending).status, 200);
  assert.equal(clock.pending, 0);
});

test("testing: stallAfter streams that many events, then nothing until the client aborts", async () => {
  const region = mockRegion({ name: "p", mode: { stallAfter: 2 } });
  const controller = new AbortController();
  // Kept referenced to the end (see "hang" above).
  const request = new Request(`${region.url}/chat/completions`, {
    ...post({ ...chat, stream: true }),
    signal: controller.signal,
  });
  const response = await region.fetch(request);
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const first = decoder.decode((await reader.read()).value);
  const second = decoder.decode((await reader.read()).value);
  assert.ok(first.startsWith("data: ") && second.startsWith("data: "));
  let settled = false;
  const third = later(reader.read().finally(() => settled = true));
  await turns();
  assert.equal(settled, false, "nothing after the second event");
  controller.abort(new Error("stalled"));
  const error = await bounded(
    "the aborted read",
    5_000,
    () => rejection(third),
  );
  assert.equal((error as Error).message, "stalled");
  assert.equal(request.signal.aborted, true);
});

test("testing: a custom reply replaces the default answer; the pool fails over through regions.fetch", async () => {
  const regions = mockRegions(["a", "b"], {
    reply: (request, { region }) =>
      Response.json({ from: region.name, path: new URL(request.url).pathname }),
  });
  regions.region("a").mode = { status: 500 };
  using api = createFailover({
    endpoints: regions.regions.map((r) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
    })),
    strategy: "priority",
    fetch: regions.fetch,
  });
  const reply = await api.ky.get("models").json();
  assert.deepEqual(reply, { from: "b", path: "/v1/models" });
  assert.equal(regions.region("a").received[0].authorization, "Bearer sk-a");
  assert.equal(regions.region("b").received[0].authorization, "Bearer sk-b");
});
