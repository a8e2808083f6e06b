// What the pool reports (events, status, errors) — and that no key is ever
// in it — plus user middleware in the chain.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { endpointsFor, mockRegions } from "./_msw_regions.ts";
import {
  type AttemptContext,
  createFailover,
  type FailoverEvent,
  isFailoverError,
  type Middleware,
} from "ky-failover";

const NAMES = ["primary", "hk", "sg"];

function serialise(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v instanceof Error) {
      return {
        name: v.name,
        message: v.message,
        stack: v.stack,
        cause: v.cause,
      };
    }
    if (v instanceof Headers) return [...v];
    if (v instanceof Response) {
      return { status: v.status, url: v.url, headers: [...v.headers] };
    }
    return v;
  });
}

test("a failover call reports attempt, failover, breaker, rate-limit and success events in order", async () => {
  const events: FailoverEvent[] = [];
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 500 });
  regions.set("hk", { status: 429, headers: { "retry-after": "1" } });
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    breaker: { failureThreshold: 1 },
    clock: new ManualClock(),
    onEvent: (e) => events.push(e),
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  });
  await response.body?.cancel();
  assert.deepEqual(
    events.map((e) => {
      switch (e.type) {
        case "attempt":
          return `attempt ${e.attempt} ${e.endpoint} ${e.method} ${e.path} ${e.status} ${e.outcome}`;
        case "failover":
          return `failover ${e.from}→${e.to} (${e.reason})`;
        case "breaker":
          return `breaker ${e.endpoint} ${e.from}→${e.to} ${e.cooldownMs}`;
        case "rate-limit":
          return `rate-limit ${e.endpoint} ${e.status} ${e.delayMs}`;
        case "success":
          return `success ${e.endpoint} ${e.status} after ${e.attempts}`;
        case "failure":
          return "failure";
      }
    }),
    [
      "attempt 1 primary POST /chat/completions 500 failover",
      "breaker primary closed→open 60000",
      "failover primary→hk (HTTP 500)",
      "attempt 2 hk POST /chat/completions 429 rate-limited",
      "rate-limit hk 429 1000",
      "failover hk→sg (HTTP 429)",
      "attempt 3 sg POST /chat/completions 200 success",
      "success sg 200 after 3",
    ],
  );
});

test("no key or secret header ever appears in events, status or errors", async () => {
  const events: FailoverEvent[] = [];
  using regions = mockRegions(NAMES);
  regions.set("primary", "error");
  regions.set("hk", { status: 503 });
  regions.set("sg", "error");
  using api = createFailover({
    endpoints: [
      {
        name: "primary",
        url: "https://primary.example.ai/v1",
        apiKey: "sk-SECRET-1",
      },
      {
        name: "hk",
        url: "https://hk.example.ai/v1",
        apiKey: "sk-SECRET-2",
        headers: { "x-org": "org-SECRET-3" },
      },
      {
        name: "sg",
        url: "https://sg.example.ai/v1?key=SECRET-4",
        headers: { "api-key": "SECRET-5" },
      },
    ],
    onEvent: (e) => events.push(e),
    breaker: { failureThreshold: 1 },
    strategy: "priority",
    clock: new ManualClock(),
  });
  const viaKy = await api.ky.post("chat/completions", { json: {} }).then(
    () => undefined,
    (e) => e,
  );
  const viaFetch = await api.fetch("chat/completions", {
    method: "POST",
    body: "{}",
  }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(isFailoverError(viaKy));
  assert.ok(isFailoverError(viaFetch), "the last attempt (sg) got no response");
  const seen = serialise([
    events,
    api.status(),
    viaKy,
    viaFetch,
    String(viaKy),
    String(viaFetch),
  ]);
  assert.ok(
    seen.includes("primary") && seen.includes("HTTP 503"),
    "the report is there",
  );
  assert.ok(!/SECRET/.test(seen), "but no secret");
});

test("user middleware runs per attempt with the picked endpoint, before the request is sent", async () => {
  const log: string[] = [];
  const tag: Middleware = async (ctx: AttemptContext, next) => {
    ctx.headers.set("x-attempt", String(ctx.attempt));
    log.push(
      `before ${ctx.endpoint?.name} ${ctx.method} ${ctx.path} ` +
        `auth=${ctx.headers.get("authorization")} trace=${
          ctx.headers.get("x-trace")
        }`,
    );
    await next();
    log.push(
      `after ${ctx.endpoint?.name} ${ctx.response?.status ?? "no response"}`,
    );
  };
  using regions = mockRegions(NAMES);
  regions.set("primary", { status: 502 });
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    middleware: [tag],
  });
  // The caller's own credentials are dropped before any middleware runs,
  // and the endpoint's are added after the last: a middleware sees neither.
  const response = await api.fetch("models", {
    headers: { authorization: "Bearer sdk-key", "x-trace": "t1" },
  });
  await response.body?.cancel();
  assert.deepEqual(log, [
    "before primary GET /models auth=null trace=t1",
    "after primary 502",
    "before hk GET /models auth=null trace=t1",
    "after hk 200",
  ]);
  assert.equal(
    regions.get("primary").received[0].headers.get("x-attempt"),
    "1",
  );
  assert.equal(regions.get("hk").received[0].headers.get("x-attempt"), "2");
  assert.equal(regions.get("hk").received[0].authorization, "Bearer sk-hk");
});

test("user middleware may answer itself; its answer is classified like any other", async () => {
  using regions = mockRegions(NAMES);
  const cache: Middleware = (ctx, next) => {
    if (ctx.endpoint?.name === "primary") {
      ctx.response = new Response("busy", { status: 503 });
      return;
    }
    return next();
  };
  using api = createFailover({
    endpoints: endpointsFor(NAMES, (_, i) => ({ priority: i + 1 })),
    middleware: [cache],
  });
  const response = await api.fetch("models");
  assert.equal(((await response.json()) as { region: string }).region, "hk");
  assert.deepEqual(regions.counts(), { primary: 0, hk: 1, sg: 0 });
  assert.equal(api.status()[0].failures, 1);
});

test("a throwing middleware or onEvent: the first fails the call, the second is ignored", async () => {
  using regions = mockRegions(NAMES);
  using broken = createFailover({
    endpoints: endpointsFor(NAMES),
    middleware: [() => {
      throw new RangeError("bug in middleware");
    }],
  });
  const error = await broken.fetch("models").then(() => undefined, (e) => e);
  assert.ok(error instanceof RangeError);
  using noisy = createFailover({
    endpoints: endpointsFor(NAMES),
    onEvent: () => {
      throw new Error("bug in listener");
    },
  });
  const response = await noisy.fetch("models");
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(
    regions.counts().primary + regions.counts().hk + regions.counts().sg,
    1,
  );
});

test("calling next() twice is reported as a bug", async () => {
  using _regions = mockRegions(NAMES);
  using api = createFailover({
    endpoints: endpointsFor(NAMES),
    middleware: [async (_ctx, next) => {
      await next();
      await next();
    }],
  });
  const error = await api.fetch("models").then(() => undefined, (e) => e);
  assert.match(error.message, /next\(\) called twice/);
});
