// The createFailover preset's provider options, wired: `prices` (for the
// cheapest strategy and for usage accounting), `failoverOn` rules and
// `usage` — their defaults (`null` is the default too) and what each turns
// on. Fake fetch, manual clock.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type EndpointOptions,
  type FailoverOptions,
} from "ky-failover";

/**
 * Endpoints a, b, c at https://<name>.example.ai/v1, priorities 1, 2, 3; a
 * fake fetch answers with `answers[name]` (default: a chat completion
 * naming the endpoint, reporting 1000 input tokens) and records the order.
 */
function preset(
  options: Partial<FailoverOptions>,
  answers: Record<string, () => Response> = {},
  endpoints: Partial<EndpointOptions>[] = [{}, {}, {}],
) {
  const sent: string[] = [];
  const api = createFailover({
    endpoints: endpoints.map((extra, i) => {
      const name = "abc"[i];
      return {
        name,
        url: `https://${name}.example.ai/v1`,
        apiKey: `sk-${name}`,
        priority: i + 1,
        ...extra,
      };
    }),
    clock: new ManualClock(),
    random: () => 0,
    fetch: (input, init) => {
      const name = new URL(new Request(input, init).url).hostname.split(".")[0];
      sent.push(name);
      return Promise.resolve(
        answers[name]?.() ??
          Response.json({
            endpoint: name,
            usage: { prompt_tokens: 1_000, completion_tokens: 0 },
          }),
      );
    },
    ...options,
  });
  const chat = async (model = "gpt-4.1") => {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [] }),
    });
    return { status: response.status, body: await response.text() };
  };
  return { api, sent, chat };
}

const TOO_LONG = () =>
  Response.json({
    error: {
      message: "maximum context length exceeded",
      type: "invalid_request_error",
      code: "context_length_exceeded",
    },
  }, { status: 400 });

test("preset: failoverOn and usage left null take their defaults — no rules, accounting on", async () => {
  const { api, sent, chat } = preset(
    { failoverOn: null, usage: null } as unknown as Partial<FailoverOptions>,
    { a: TOO_LONG },
  );
  using _ = api;
  assert.equal((await chat()).status, 400);
  assert.deepEqual(sent, ["a"]);
  // Accounting is on (a 400 is no call to count).
  assert.deepEqual(Object.keys(api.usage().byEndpoint), ["a", "b", "c"]);
  assert.equal(api.usage().total.calls, 0);
});

test("preset: one failoverOn rule is enough to fail a matching answer over", async () => {
  const { api, sent, chat } = preset(
    { failoverOn: [{ code: "context_length_exceeded" }] },
    { a: TOO_LONG },
  );
  using _ = api;
  assert.equal((await chat()).status, 200);
  assert.deepEqual(sent, ["a", "b"]);
});

test("preset: strategy cheapest ranks by the preset's prices, which usage() charges by too", async () => {
  const { api, sent, chat } = preset(
    { strategy: "cheapest", prices: { "gpt-4.1": 8 } },
    {},
    [
      { priority: 1 },
      { priority: 1, prices: { "gpt-4.1": 2 } },
      { priority: 1 },
    ],
  );
  using _ = api;
  await chat();
  await chat();
  assert.deepEqual(sent, ["b", "b"]);
  // 2 × 1000 tokens at b's own $2 per million
  assert.equal(api.usage().total.costUsd, 0.004);
});

test("preset: usage: false turns accounting off, and api.usage() says so", async () => {
  const { api, chat } = preset({ usage: false });
  using _ = api;
  await chat();
  assert.equal(api.status()[0].usage, undefined);
  assert.throws(
    () => api.usage(),
    (error: unknown) =>
      error instanceof TypeError &&
      /usage accounting is off \(options\.usage: false\)/.test(error.message),
  );
});
