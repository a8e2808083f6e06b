// failoverOn (`ky-failover/failover-on`): answers the pool would return as
// they are fail the call over when a rule matches their status and error
// body, neutral for the endpoint's health; answers no rule matches reach
// the caller whole.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  isFailoverError,
  type PoolOptions,
} from "ky-failover/core";
import { failoverOn, type FailoverRule } from "ky-failover/failover-on";
import { createFailover } from "ky-failover";

/** An OpenAI-style "prompt too long" answer. */
const TOO_LONG = JSON.stringify({
  error: {
    message:
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  },
});

const json = (body: string, status: number, headers: HeadersInit = {}) =>
  new Response(body, {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/**
 * A fake network: endpoint `x` lives at https://x.example.ai/v1 and
 * answers with `answers[x]` (default: 200 naming it); every request is
 * recorded.
 */
function network(answers: Record<string, () => Response>) {
  const sent: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    const request = new Request(input, init);
    const endpoint = new URL(request.url).hostname.split(".")[0];
    sent.push(endpoint);
    const answer = answers[endpoint];
    return Promise.resolve(
      answer === undefined ? Response.json({ endpoint }) : answer(),
    );
  };
  return { fetch, sent };
}

const NAMES = ["a", "b", "c"];

/** Endpoints a, b, c … of priorities 1, 2, 3 …: tried in that order. */
function endpoints(names = NAMES): EndpointOptions[] {
  return names.map((name, i) => ({
    name,
    url: `https://${name}.example.ai/v1`,
    apiKey: `sk-${name}`,
    priority: i + 1,
  }));
}

function pool(
  rules: FailoverRule[],
  answers: Record<string, () => Response>,
  extra: Partial<PoolOptions> = {},
) {
  const net = network(answers);
  const events: FailoverEvent[] = [];
  const api = createPool({
    endpoints: endpoints(),
    clock: new ManualClock(),
    random: () => 0,
    fetch: net.fetch,
    features: [failoverOn(rules)],
    onEvent: (event) => void events.push(event),
    ...extra,
  });
  const attempts = () =>
    events.flatMap((e) =>
      e.type === "attempt"
        ? [{ endpoint: e.endpoint, status: e.status, code: e.code }]
        : []
    );
  return { api, sent: net.sent, attempts };
}

const chat = (api: { fetch: typeof fetch }) =>
  api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
  });

test("failoverOn: a 400 context_length_exceeded fails over, and the call succeeds on the next endpoint", async () => {
  const { api, sent, attempts } = pool(
    [{ status: 400, code: "context_length_exceeded" }],
    { a: () => json(TOO_LONG, 400) },
  );
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { endpoint: "b" });
  assert.deepEqual(sent, ["a", "b"]);
  assert.deepEqual(attempts(), [
    { endpoint: "a", status: 400, code: "context_length_exceeded" },
    { endpoint: "b", status: 200, code: undefined },
  ]);
  // Neutral for a's health: it is not sick, it cannot serve this prompt.
  const [a] = api.status();
  assert.equal(a.consecutiveFailures, 0);
  assert.equal(a.state, "healthy");
  assert.equal(a.failures, 0);
  assert.equal(a.lastError, undefined);
  // The next call still goes to a first.
  await (await chat(api)).body?.cancel();
  assert.deepEqual(sent, ["a", "b", "a", "b"]);
});

test("failoverOn: without a matching rule the same 400 is returned as it is", async () => {
  const { api, sent } = pool(
    [{ status: 400, code: "content_policy_violation" }],
    { a: () => json(TOO_LONG, 400) },
  );
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 400);
  assert.equal(await response.text(), TOO_LONG);
  assert.deepEqual(sent, ["a"]);
});

test("failoverOn: every field a rule gives must match", async () => {
  const rules: FailoverRule[] = [
    { status: 422, code: "context_length_exceeded" },
    { code: "context_length_exceeded", type: "server_error" },
    { code: "context_length_exceeded", message: "content policy" },
  ];
  const { api, sent } = pool(rules, { a: () => json(TOO_LONG, 400) });
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 400);
  await response.body?.cancel();
  assert.deepEqual(sent, ["a"]);
});

test("failoverOn: a type rule, and a list of codes", async () => {
  for (
    const rule of [
      { type: "invalid_request_error" },
      { type: ["server_error", "invalid_request_error"] },
      { code: ["string_above_max_length", "context_length_exceeded"] },
    ] satisfies FailoverRule[]
  ) {
    const { api, sent } = pool([rule], { a: () => json(TOO_LONG, 400) });
    using _ = api;
    const response = await chat(api);
    assert.equal(response.status, 200, JSON.stringify(rule));
    await response.body?.cancel();
    assert.deepEqual(sent, ["a", "b"]);
  }
});

test("failoverOn: a message rule, by substring (any case) or RegExp", async () => {
  for (
    const message of [
      "MAXIMUM CONTEXT LENGTH",
      /context length is \d+ tokens/,
      /maximum CONTEXT/gi, // a `g` RegExp matches every time, not every other
    ]
  ) {
    const { api, sent } = pool([{ message }], {
      a: () => json(TOO_LONG, 400),
    });
    using _ = api;
    for (let i = 0; i < 3; i++) {
      const response = await chat(api);
      assert.equal(response.status, 200, String(message));
      await response.body?.cancel();
    }
    assert.deepEqual(sent, ["a", "b", "a", "b", "a", "b"]);
  }
  const { api, sent } = pool([{ message: "content policy" }], {
    a: () => json(TOO_LONG, 400),
  });
  using _ = api;
  await (await chat(api)).body?.cancel();
  assert.deepEqual(sent, ["a"]);
});

test("failoverOn: a status-only rule fails over any body; its code is the body's, else HTTP <status>", async () => {
  const { api, sent, attempts } = pool([{ status: [409, 422] }], {
    a: () => new Response("unprocessable", { status: 422 }),
    b: () => json(TOO_LONG, 409),
  });
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(sent, ["a", "b", "c"]);
  assert.deepEqual(attempts().map((a) => a.code), [
    "HTTP 422",
    "context_length_exceeded",
    undefined,
  ]);
  // A 400 is not a 422.
  const other = pool([{ status: 422 }], { a: () => json(TOO_LONG, 400) });
  using __ = other.api;
  const final = await chat(other.api);
  assert.equal(final.status, 400);
  await final.body?.cancel();
  assert.deepEqual(other.sent, ["a"]);
});

test("failoverOn: an answer no rule matches reaches the caller whole, after the rules read it", async () => {
  const body = '{"error": {"message": "Invalid \\u0027tools\\u0027",' +
    ' "type": "invalid_request_error", "code": "invalid_value"}}\n';
  const { api, sent } = pool([
    { code: "context_length_exceeded" },
    { message: /maximum context/ },
  ], { a: () => json(body, 400, { "x-request-id": "req-1" }) });
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("x-request-id"), "req-1");
  assert.deepEqual(await response.json(), {
    error: {
      message: "Invalid 'tools'",
      type: "invalid_request_error",
      code: "invalid_value",
    },
  });
  assert.deepEqual(sent, ["a"]);
  // The very bytes, too.
  const again = await chat(api);
  assert.equal(await again.text(), body);
});

test("failoverOn: when every endpoint matches, fetch returns the last answer and ky throws a FailoverError", async () => {
  const answers = {
    a: () => json(TOO_LONG, 400),
    b: () => json(TOO_LONG, 400),
    c: () => json(TOO_LONG.replace("8192", "4096"), 400),
  };
  const { api, sent } = pool([{ code: "context_length_exceeded" }], answers);
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 400);
  assert.match(await response.text(), /maximum context length is 4096/);
  assert.deepEqual(sent, ["a", "b", "c"]);

  const net = network(answers);
  using failover = createFailover({
    endpoints: endpoints(),
    clock: new ManualClock(),
    random: () => 0,
    fetch: net.fetch,
    features: [failoverOn([{ code: "context_length_exceeded" }])],
  });
  const error = await failover.ky.post("chat/completions", {
    json: { model: "gpt-4.1", messages: [] },
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.deepEqual(net.sent, ["a", "b", "c"]);
  assert.deepEqual(error.attempts.map((a) => [a.endpoint, a.code]), [
    ["a", "context_length_exceeded"],
    ["b", "context_length_exceeded"],
    ["c", "context_length_exceeded"],
  ]);
  assert.match(
    error.message,
    /^all 3 attempts failed: a → HTTP 400 context_length_exceeded /,
  );
});

test("failoverOn: error bodies of Anthropic, Gemini, vLLM and Ollama are matched too", async () => {
  const cases: {
    who: string;
    status: number;
    body: unknown;
    rule: FailoverRule;
    code: string;
  }[] = [
    {
      who: "Anthropic",
      status: 400,
      body: {
        type: "error",
        error: {
          type: "invalid_request_error",
          message: "prompt is too long: 201234 tokens > 200000 maximum",
        },
      },
      rule: { type: "invalid_request_error", message: "prompt is too long" },
      code: "invalid_request_error",
    },
    {
      who: "Gemini",
      status: 400,
      body: [{
        error: {
          code: 400,
          message:
            "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).",
          status: "INVALID_ARGUMENT",
        },
      }],
      rule: {
        code: "400",
        type: "INVALID_ARGUMENT",
        message: /exceeds the maximum number of tokens/,
      },
      code: "INVALID_ARGUMENT",
    },
    {
      who: "vLLM",
      status: 400,
      body: {
        object: "error",
        message:
          "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
        type: "BadRequestError",
        param: null,
        code: 400,
      },
      rule: { type: "BadRequestError", message: "maximum context length" },
      code: "BadRequestError",
    },
    {
      who: "Ollama",
      status: 400,
      body: { error: "prompt is too long for the context window" },
      rule: { status: 400, message: "too long" },
      code: "HTTP 400",
    },
  ];
  for (const { who, status, body, rule, code } of cases) {
    const { api, sent, attempts } = pool([rule], {
      a: () => json(JSON.stringify(body), status),
    });
    using _ = api;
    const response = await chat(api);
    assert.equal(response.status, 200, who);
    await response.body?.cancel();
    assert.deepEqual(sent, ["a", "b"], who);
    assert.equal(attempts()[0].code, code, who);
  }
});

test("failoverOn: a body the pool did not read whole can only match a status rule", async () => {
  const stream = () =>
    new Response(`data: ${TOO_LONG}\n\n`, {
      status: 400,
      headers: { "content-type": "text/event-stream" },
    });
  const cases: [string, () => Response, Partial<PoolOptions>][] = [
    ["a streamed error", stream, {}],
    ["bufferLimit: false", () => json(TOO_LONG, 400), { bufferLimit: false }],
  ];
  for (const [what, answer, extra] of cases) {
    {
      const { api, sent } = pool([{ code: "context_length_exceeded" }], {
        a: answer,
      }, extra);
      using _ = api;
      const response = await chat(api);
      assert.equal(response.status, 400, what);
      assert.match(await response.text(), /context_length_exceeded/, what);
      assert.deepEqual(sent, ["a"], what);
    }
    {
      const { api, sent, attempts } = pool([{ status: 400 }], { a: answer }, {
        ...extra,
      });
      using _ = api;
      const response = await chat(api);
      assert.equal(response.status, 200, what);
      await response.body?.cancel();
      assert.deepEqual(sent, ["a", "b"], what);
      assert.equal(attempts()[0].code, "HTTP 400", what);
    }
  }
});

test("failoverOn: invalid rules throw a TypeError naming the field", () => {
  const bad: [unknown, RegExp][] = [
    [
      { status: 400 },
      /^ky-failover: options\.failoverOn must be an array of rules \{ status\?, code\?, type\?, message\? \}, got an object$/,
    ],
    [
      [null],
      /^ky-failover: options\.failoverOn\[0\] must be a rule \{ status\?, code\?, type\?, message\? \}, got null$/,
    ],
    [
      [{ status: 400 }, {}],
      /^ky-failover: options\.failoverOn\[1\] needs at least one of status, code, type, message$/,
    ],
    [
      [{ code: "x" }, { status: 503 }],
      /^ky-failover: options\.failoverOn\[1\]\.status must be an HTTP status from 400 to 499 other than 408 and 429 \(those, and every 5xx, always fail over\), got 503$/,
    ],
    [[{ status: 429 }], /options\.failoverOn\[0\]\.status must be .*got 429$/],
    [[{ status: 408 }], /options\.failoverOn\[0\]\.status must be .*got 408$/],
    [
      [{ status: 400.5 }],
      /options\.failoverOn\[0\]\.status must be .*got 400\.5$/,
    ],
    [
      [{ status: [400, 200] }],
      /options\.failoverOn\[0\]\.status\[1\] must be .*got 200$/,
    ],
    [
      [{ status: [] }],
      /options\.failoverOn\[0\]\.status must be an HTTP status or a non-empty list of them, got an array$/,
    ],
    [
      [{ code: "" }],
      /^ky-failover: options\.failoverOn\[0\]\.code must be a non-empty string, got ""$/,
    ],
    [
      [{ type: ["invalid_request_error", 7] }],
      /^ky-failover: options\.failoverOn\[0\]\.type\[1\] must be a non-empty string, got 7$/,
    ],
    [
      [{ message: 5 }],
      /^ky-failover: options\.failoverOn\[0\]\.message must be a RegExp or a non-empty string \(matched case-insensitively\), got 5$/,
    ],
    [[{ message: "" }], /options\.failoverOn\[0\]\.message must be a RegExp/],
    [
      [{ status: 400, codes: "x" }],
      /^ky-failover: options\.failoverOn\[0\]\.codes is not a known option \(known: status, code, type, message\)$/,
    ],
  ];
  for (const [rules, message] of bad) {
    assert.throws(
      () => failoverOn(rules as FailoverRule[]),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
  // Fields left undefined are absent; an empty list is allowed.
  failoverOn([{ status: 400, code: undefined }]);
  failoverOn([]);
});

test("failoverOn: a status rule names a 4xx from 400 to 499 (500 and up always fail over)", async () => {
  const { api, sent } = pool([{ status: [400, 499] }], {
    a: () => json("{}", 499),
  });
  using _ = api;
  const response = await chat(api);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(sent, ["a", "b"]);
  for (const status of [500, 399]) {
    assert.throws(
      () => failoverOn([{ status }]),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^ky-failover: options\\.failoverOn\\[0\\]\\.status must be an HTTP status from 400 to 499 .*, got ${status}$`,
          ),
        );
        return true;
      },
    );
  }
});
