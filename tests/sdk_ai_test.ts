// The Vercel AI SDK (`ai` + `@ai-sdk/openai`) with the pool's fetch, against
// loopback regions: generateText and streamText survive a dead or failing
// primary, and each endpoint gets its own key — never the provider's.

import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import { assert, test } from "./_harness.ts";
import { type LoopbackRegions, serveRegions } from "./_loopback_regions.ts";
import { createFailover } from "ky-failover";
import type { RegionMode } from "ky-failover/testing";

const NAMES = ["primary", "hk", "sg"];
const SDK_KEY = "sk-provider-must-not-leave";

async function setup(primary: RegionMode) {
  const regions = await serveRegions(NAMES);
  regions.region("primary").mode = primary;
  const urls = regions.regions.map((r) => r.url);
  const api = createFailover({
    endpoints: NAMES.map((name, i) => ({
      name,
      url: urls[i],
      apiKey: `sk-${name}`,
      priority: i + 1,
    })),
    timeout: 10_000,
  });
  const openai = createOpenAI({
    baseURL: urls[0],
    apiKey: SDK_KEY,
    fetch: api.fetch,
  });
  return {
    regions,
    model: openai.chat("gpt-4.1"),
    [Symbol.asyncDispose]: async () => {
      api.close();
      await regions.close();
    },
  };
}

function assertKeys(regions: LoopbackRegions) {
  for (const region of regions.regions) {
    for (const request of region.received) {
      assert.equal(request.authorization, `Bearer sk-${region.name}`);
    }
  }
}

for (
  const [label, mode] of [
    ["refused", "refused"],
    ["503", { status: 503 }],
    ["429", { status: 429, headers: { "retry-after-ms": "5000" } }],
  ] as const
) {
  test(`ai: generateText survives a ${label} primary`, async () => {
    await using ctx = await setup(mode);
    const result = await generateText({
      model: ctx.model,
      prompt: "hi",
      maxRetries: 0, // ky-failover retries; SDK retries would multiply attempts
    });
    assert.equal(result.text, "hello from hk");
    assert.deepEqual(ctx.regions.counts(), { primary: 1, hk: 1, sg: 0 });
    assertKeys(ctx.regions);
  });

  test(`ai: streamText survives a ${label} primary`, async () => {
    await using ctx = await setup(mode);
    const errors: unknown[] = [];
    const result = streamText({
      model: ctx.model,
      prompt: "hi",
      maxRetries: 0,
      onError: ({ error }) => {
        errors.push(error);
      },
    });
    const parts: string[] = [];
    for await (const part of result.textStream) parts.push(part);
    assert.deepEqual(errors, []);
    assert.equal(parts.join(""), "hello from hk");
    assert.ok(parts.length >= 2, `streamed in parts, got ${parts.length}`);
    assert.equal(await result.finishReason, "stop");
    assert.deepEqual(ctx.regions.counts(), { primary: 1, hk: 1, sg: 0 });
    const sent = JSON.parse(ctx.regions.region("hk").received[0].body);
    assert.equal(sent.stream, true);
    assertKeys(ctx.regions);
  });
}
