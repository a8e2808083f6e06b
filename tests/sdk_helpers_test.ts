// The SDK helpers (openAIOptions, aiSdkOptions, langChainOptions) with the
// real OpenAI SDK, Vercel AI SDK and LangChain packages, against loopback
// regions: a dead primary is invisible with default-looking code; an SDK
// retrying on top of the pool multiplies requests and is warned about once;
// `apiKey: undefined` is warned about at construction; and every failure
// keeps the whole story (FailoverError and its attempts, OutsidePoolError,
// ClosedError) on the SDK error's cause chain.

import process from "node:process";
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, RetryError, streamText } from "ai";
import { ChatOpenAI } from "@langchain/openai";
import { HTTPError } from "ky";
import { assert, test } from "./_harness.ts";
import { type LoopbackRegions, serveRegions } from "./_loopback_regions.ts";
import {
  aiSdkOptions,
  createFailover,
  type Failover,
  type FailoverEvent,
  type FailoverOptions,
  isClosedError,
  isFailoverError,
  isOutsidePoolError,
  langChainOptions,
  openAIOptions,
} from "ky-failover";
import type { RegionMode } from "ky-failover/testing";

const NAMES = ["primary", "hk", "sg"];
const PLACEHOLDER = "ky-failover";
const messages = [{ role: "user" as const, content: "hi" }];
const OUTSIDE = "http://127.0.0.1:9/v1";

interface Setup extends AsyncDisposable {
  regions: LoopbackRegions;
  api: Failover;
  events: FailoverEvent[];
  warnings(): Extract<FailoverEvent, { type: "warning" }>[];
}

/** Three regions in priority order, each mode given; a pool over them. */
async function setup(
  modes: readonly RegionMode[],
  options: Partial<FailoverOptions> = {},
): Promise<Setup> {
  const regions = await serveRegions(NAMES);
  modes.forEach((mode, i) => regions.region(NAMES[i]).mode = mode);
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: regions.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i + 1,
    })),
    onEvent: (event) => {
      events.push(event);
    },
    ...options,
  });
  return {
    regions,
    api,
    events,
    warnings: () =>
      events.filter((e): e is Extract<FailoverEvent, { type: "warning" }> =>
        e.type === "warning"
      ),
    [Symbol.asyncDispose]: async () => {
      api.close();
      await regions.close();
    },
  };
}

/** Every region saw only its own key: never the SDK's placeholder. */
function assertOwnKeys(regions: LoopbackRegions): void {
  for (const region of regions.regions) {
    for (const request of region.received) {
      assert.equal(request.authorization, `Bearer sk-${region.name}`);
    }
  }
}

/**
 * The errors of `error`'s cause chain, outermost first (through an AI SDK
 * `RetryError`'s `lastError`, which it keeps instead of a cause).
 */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e != null && chain.length < 10;) {
    chain.push(e);
    const next = e as { cause?: unknown; lastError?: unknown };
    e = RetryError.isInstance(e) ? next.lastError : next.cause;
  }
  return chain;
}

/** The FailoverError on `error`'s cause chain, with every attempt listed. */
function assertFailoverCause(error: unknown, endpoints = NAMES): void {
  const failure = causes(error).find(isFailoverError);
  assert.ok(failure, `no FailoverError on the chain of ${error}`);
  assert.deepEqual(failure.attempts.map((a) => a.endpoint), endpoints);
  for (const name of endpoints) assert.match(failure.message, RegExp(name));
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(() => assert.fail("expected a rejection"), (e: unknown) => e);

// ------------------------------------------------------------ the helpers

test("helpers: a base URL inside the pool (the first endpoint's, never its query)", () => {
  using api = createFailover({
    endpoints: [
      { name: "azure", url: "https://a.example.ai/openai/v1/?api-version=x" },
      { name: "hk", url: "https://hk.example.ai/v1" },
    ],
  });
  const base = "https://a.example.ai/openai/v1";
  assert.deepEqual(openAIOptions(api), {
    baseURL: base,
    apiKey: PLACEHOLDER,
    fetch: api.fetch,
    maxRetries: 0,
  });
  assert.deepEqual(aiSdkOptions(api), {
    baseURL: base,
    apiKey: PLACEHOLDER,
    fetch: api.fetch,
  });
  assert.deepEqual(langChainOptions(api), {
    configuration: { baseURL: base, fetch: api.fetch },
    apiKey: PLACEHOLDER,
    maxRetries: 0,
  });
});

// ------------------------------------------------------------- OpenAI SDK

test("openai: new OpenAI(openAIOptions(api)) survives a refused primary", async () => {
  await using ctx = await setup(["refused"]);
  const openai = new OpenAI(openAIOptions(ctx.api));
  const completion = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
  });
  assert.equal(completion.choices[0].message.content, "hello from hk");
  const stream = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages,
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
  }
  assert.equal(text, "hello from hk");
  assert.equal(ctx.regions.counts().sg, 0);
  assertOwnKeys(ctx.regions);
  assert.deepEqual(ctx.warnings(), []);
});

test("openai: maxRetries left at 2 costs 9 requests and one sdk-retries warning; openAIOptions costs 3", async () => {
  const down = ["refused", "refused", "refused"] as const;
  // The retry budget (on by default) would cut the SDK's third round short
  // (8 requests): off, to count what the SDK's retries cost.
  const noBudget = { retryBudget: false } as const;
  {
    await using ctx = await setup(down, noBudget);
    const openai = new OpenAI(openAIOptions(ctx.api));
    const error = await rejection(
      openai.chat.completions.create({ model: "gpt-4.1", messages }),
    );
    assert.ok(error instanceof OpenAI.APIConnectionError, String(error));
    assert.deepEqual(ctx.regions.counts(), { primary: 1, hk: 1, sg: 1 });
    assert.deepEqual(ctx.warnings(), []);
  }
  {
    await using ctx = await setup(down, noBudget);
    const { maxRetries: _, ...rest } = openAIOptions(ctx.api);
    const openai = new OpenAI(rest); // the SDK's default: 2 retries
    const error = await rejection(
      openai.chat.completions.create({ model: "gpt-4.1", messages }),
    );
    assert.ok(error instanceof OpenAI.APIConnectionError, String(error));
    assert.deepEqual(ctx.regions.counts(), { primary: 3, hk: 3, sg: 3 });
    const retries = ctx.regions.regions.flatMap((r) =>
      r.received.map((q) => q.headers.get("x-stainless-retry-count"))
    ).sort();
    assert.deepEqual(retries, ["0", "0", "0", "1", "1", "1", "2", "2", "2"]);
    const warnings = ctx.warnings();
    assert.equal(warnings.length, 1, "one warning per pool, not per retry");
    assert.equal(warnings[0].code, "sdk-retries");
    assert.equal(warnings[0].endpoint, undefined);
    assert.match(warnings[0].message, /maxRetries: 0/);
    assert.match(warnings[0].message, /up to 9 requests instead of 3/);
  }
});

test("openai: the whole story is on the cause chain of APIConnectionError", async () => {
  // Every endpoint refuses: the FailoverError lists the three attempts.
  {
    await using ctx = await setup(["refused", "refused", "refused"]);
    const openai = new OpenAI(openAIOptions(ctx.api));
    const error = await rejection(
      openai.chat.completions.create({ model: "gpt-4.1", messages }),
    );
    assert.ok(error instanceof OpenAI.APIConnectionError);
    assert.equal((error as Error).message, "Connection error.");
    assertFailoverCause(error);
  }
  // Every endpoint times out: the SDK says "Request timed out." and keeps it.
  {
    await using ctx = await setup(["hang", "hang", "hang"], { timeout: 100 });
    const openai = new OpenAI(openAIOptions(ctx.api));
    const error = await rejection(
      openai.chat.completions.create({ model: "gpt-4.1", messages }),
    );
    assert.ok(error instanceof OpenAI.APIConnectionTimeoutError);
    assertFailoverCause(error);
  }
  // A base URL outside the pool, and a closed pool.
  {
    await using ctx = await setup([]);
    const outside = new OpenAI({ ...openAIOptions(ctx.api), baseURL: OUTSIDE });
    const error = await rejection(
      outside.chat.completions.create({ model: "gpt-4.1", messages }),
    );
    assert.ok(error instanceof OpenAI.APIConnectionError);
    assert.ok(isOutsidePoolError((error as Error).cause), String(error));
    ctx.api.close();
    const openai = new OpenAI(openAIOptions(ctx.api));
    const closed = await rejection(openai.models.list());
    assert.ok(closed instanceof OpenAI.APIConnectionError);
    assert.ok(isClosedError((closed as Error).cause), String(closed));
    assert.deepEqual(ctx.regions.counts(), { primary: 0, hk: 0, sg: 0 });
  }
});

// ---------------------------------------------------------- Vercel AI SDK

test("ai: createOpenAI(aiSdkOptions(api)) survives a 503 primary", async () => {
  await using ctx = await setup([{ status: 503 }]);
  const model = createOpenAI(aiSdkOptions(ctx.api)).chat("gpt-4.1");
  const { text } = await generateText({ model, prompt: "hi", maxRetries: 0 });
  assert.equal(text, "hello from hk");
  const result = streamText({ model, prompt: "hi", maxRetries: 0 });
  let streamed = "";
  for await (const part of result.textStream) streamed += part;
  assert.equal(streamed, "hello from hk");
  assert.deepEqual(ctx.regions.counts(), { primary: 2, hk: 2, sg: 0 });
  assertOwnKeys(ctx.regions);
});

test("ai: maxRetries: 0 on generateText costs 3 requests, its default 9 (unmarked: no warning)", async () => {
  // 503s whose retry-after-ms the AI SDK honours, so its retries come fast.
  const busy = { status: 503, headers: { "retry-after-ms": "1" } };
  const down = [busy, busy, busy];
  const noBudget = { retryBudget: false } as const; // as for the OpenAI SDK
  {
    await using ctx = await setup(down, noBudget);
    const model = createOpenAI(aiSdkOptions(ctx.api)).chat("gpt-4.1");
    const error = await rejection(
      generateText({ model, prompt: "hi", maxRetries: 0 }),
    );
    assert.equal((error as Error).name, "AI_APICallError", String(error));
    assert.deepEqual(ctx.regions.counts(), { primary: 1, hk: 1, sg: 1 });
  }
  {
    await using ctx = await setup(down, noBudget);
    const model = createOpenAI(aiSdkOptions(ctx.api)).chat("gpt-4.1");
    const error = await rejection(generateText({ model, prompt: "hi" }));
    assert.ok(RetryError.isInstance(error), String(error));
    assert.deepEqual(ctx.regions.counts(), { primary: 3, hk: 3, sg: 3 });
    // The AI SDK does not number its retries: nothing to detect them by.
    assert.deepEqual(ctx.warnings(), []);
  }
});

test("ai: the pool's own error reaches the caller (FailoverError, OutsidePoolError, ClosedError)", async () => {
  {
    // On Node the AI SDK wraps it in an APICallError ("Cannot connect to
    // API: …", retryable) whose cause it is; on Deno it arrives as it is.
    await using ctx = await setup(["refused", "refused", "refused"]);
    const model = createOpenAI(aiSdkOptions(ctx.api)).chat("gpt-4.1");
    const error = await rejection(
      generateText({ model, prompt: "hi", maxRetries: 0 }),
    );
    assertFailoverCause(error);
    let streamError: unknown;
    const result = streamText({
      model,
      prompt: "hi",
      maxRetries: 0,
      onError: ({ error }) => {
        streamError = error;
      },
    });
    for await (const _ of result.textStream) { /* nothing arrives */ }
    assertFailoverCause(streamError);
  }
  {
    await using ctx = await setup([]);
    const outside = createOpenAI({ ...aiSdkOptions(ctx.api), baseURL: OUTSIDE })
      .chat("gpt-4.1");
    const error = await rejection(
      generateText({ model: outside, prompt: "hi", maxRetries: 0 }),
    );
    assert.ok(isOutsidePoolError(error), String(error));
    ctx.api.close();
    const model = createOpenAI(aiSdkOptions(ctx.api)).chat("gpt-4.1");
    const closed = await rejection(
      generateText({ model, prompt: "hi", maxRetries: 0 }),
    );
    assert.ok(isClosedError(closed), String(closed));
  }
});

// -------------------------------------------------------------- LangChain

test("langchain: new ChatOpenAI({ model, ...langChainOptions(api) }) survives a refused primary", async () => {
  await using ctx = await setup(["refused"]);
  const chat = new ChatOpenAI({
    model: "gpt-4.1",
    ...langChainOptions(ctx.api),
  });
  const reply = await chat.invoke("hi");
  assert.equal(reply.content, "hello from hk");
  let streamed = "";
  for await (const chunk of await chat.stream("hi")) streamed += chunk.content;
  assert.equal(streamed, "hello from hk");
  assertOwnKeys(ctx.regions);
  assert.equal(ctx.regions.counts().sg, 0);
});

test("langchain: every endpoint down costs 3 requests; the story is on the cause chain", async () => {
  {
    await using ctx = await setup(["refused", "refused", "refused"]);
    const chat = new ChatOpenAI({
      model: "gpt-4.1",
      ...langChainOptions(ctx.api),
    });
    const error = await rejection(chat.invoke("hi"));
    assert.equal((error as Error).message, "Connection error.");
    assertFailoverCause(error);
    assert.deepEqual(ctx.regions.counts(), { primary: 1, hk: 1, sg: 1 });
  }
  {
    // Every endpoint times out: LangChain's bundled OpenAI client drops the
    // cause of a timeout and LangChain rewraps it; the failure event keeps it.
    await using ctx = await setup(["hang", "hang", "hang"], { timeout: 100 });
    const chat = new ChatOpenAI({
      model: "gpt-4.1",
      ...langChainOptions(ctx.api),
    });
    const error = await rejection(chat.invoke("hi"));
    assert.equal((error as Error).name, "TimeoutError", String(error));
    const failure = ctx.events.find((e) => e.type === "failure");
    assert.ok(failure?.type === "failure");
    assertFailoverCause(failure.error);
  }
  {
    await using ctx = await setup([]);
    const { configuration, ...rest } = langChainOptions(ctx.api);
    const outside = new ChatOpenAI({
      model: "gpt-4.1",
      ...rest,
      configuration: { ...configuration, baseURL: OUTSIDE },
    });
    const error = await rejection(outside.invoke("hi"));
    assert.ok(isOutsidePoolError((error as Error).cause), String(error));
    ctx.api.close();
    const chat = new ChatOpenAI({
      model: "gpt-4.1",
      ...langChainOptions(ctx.api),
    });
    const closed = await rejection(chat.invoke("hi"));
    assert.ok(isClosedError((closed as Error).cause), String(closed));
  }
});

// ---------------------------------------------------------------- warnings

test("warning: apiKey: undefined (an unset env var) is named at construction, never a value", async () => {
  await using regions = await serveRegions(NAMES);
  const urls = regions.regions.map((r) => r.url);
  const events: FailoverEvent[] = [];
  using api = createFailover({
    endpoints: [
      {
        name: "primary",
        url: urls[0],
        apiKey: process.env.KY_FAILOVER_TEST_UNSET_KEY,
        priority: 1,
      },
      { name: "hk", url: urls[1], apiKey: "sk-hk", priority: 2 },
      { name: "sg", url: urls[2], priority: 3 }, // no key at all: no warning
    ],
    onEvent: (event) => {
      events.push(event);
    },
  });
  assert.equal(events.length, 1);
  const [warning] = events;
  assert.ok(warning.type === "warning");
  assert.equal(warning.code, "missing-api-key");
  assert.equal(warning.endpoint, "primary");
  assert.match(warning.message, /"primary".*apiKey: undefined/);
  assert.ok(!warning.message.includes("sk-"));
  // What it warns of: the endpoint gets no key, and its 401 is the answer
  // (an endpoint without credentials of its own is not benched for one).
  regions.region("primary").mode = { status: 401 };
  const openai = new OpenAI(openAIOptions(api));
  const error = await rejection(
    openai.chat.completions.create({ model: "gpt-4.1", messages }),
  );
  assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
  assert.equal(regions.region("primary").received[0].authorization, null);
});

test("warning: a throwing or rejecting onEvent does not break construction", () => {
  const endpoints = [{
    name: "a",
    url: "https://a.example.ai/v1",
    apiKey: undefined,
  }];
  using thrower = createFailover({
    endpoints,
    onEvent: () => {
      throw new Error("listener bug");
    },
  });
  using rejecter = createFailover({
    endpoints,
    onEvent: () => Promise.reject(new Error("listener bug")),
  });
  assert.equal(thrower.status().length, 1);
  assert.equal(rejecter.status().length, 1);
});

// --------------------------------------------------------------- ky users

test("ky: a 400's provider message is in error.data (the body is already read)", async () => {
  await using ctx = await setup([{ status: 400 }]);
  const error = await rejection(
    ctx.api.ky.post("chat/completions", { json: { model: "x", messages } }),
  );
  assert.ok(error instanceof HTTPError, String(error));
  const data = error.data as { error: { message: string } };
  assert.equal(data.error.message, "primary: simulated HTTP 400");
  await assert.rejects(error.response.text(), /unusable|used|read/i);
});

test("api.fetch carries the runtime fetch's own members (Bun's fetch.preconnect) and forwards them", () => {
  const native = globalThis.fetch;
  const hints: unknown[] = [];
  const runtime = Object.assign(
    (...args: Parameters<typeof fetch>) => native(...args),
    { preconnect: (url: unknown) => void hints.push(url) },
  );
  globalThis.fetch = runtime as unknown as typeof fetch;
  let api;
  try {
    api = createFailover({
      endpoints: [{ name: "a", url: "https://a.example.ai/v1" }],
    });
  } finally {
    globalThis.fetch = native;
  }
  using _ = api;
  const members = api.fetch as unknown as {
    preconnect?: (url: string) => void;
  };
  assert.equal(typeof members.preconnect, "function");
  members.preconnect!("https://a.example.ai");
  assert.deepEqual(hints, ["https://a.example.ai"]);
});
