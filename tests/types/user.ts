// A user's module, as written against the installed npm package: it is
// copied into every fixture project of tests/types/ and type-checked there by
// scripts/test_types.sh (`ky-failover` is then the packed tarball; under
// `deno check` it is mod.ts). It uses only what every fixture's lib has
// (down to TypeScript 5.9's default, ES5 + Node's types), so `using` and
// runtime globals live in the fixtures' own files.

import {
  AttemptTimeoutError,
  type BreakerState,
  createFailover,
  type EndpointOptions,
  type EndpointStatus,
  type Failover,
  FailoverError,
  type FailoverEvent,
  type FailoverOptions,
  type FetchFunction,
  isAttemptTimeoutError,
  isClosedError,
  isFailoverError,
  isKyFailoverError,
  isOutsidePoolError,
  isRedirectError,
  isStreamIdleTimeoutError,
  isTotalTimeoutError,
  KyFailoverError,
  type KyInstance,
  type KyOptions,
  type Middleware,
  type PickerFunction,
  systemClock,
} from "ky-failover";

/** Environment variables as every runtime types them: maybe unset. */
export type Env = { readonly [name: string]: string | undefined };

/** An SDK that takes a fetch the way the OpenAI SDK types it. */
class OpenAILikeClient {
  constructor(
    readonly options: {
      baseURL: string;
      apiKey: string;
      fetch?: (
        input: string | URL | Request,
        init?: RequestInit,
      ) => Promise<Response>;
      maxRetries?: number;
    },
  ) {}
}

/** An SDK that takes `typeof globalThis.fetch`, as the Vercel AI SDK does. */
function createAiSdkLike(settings: {
  baseURL?: string;
  fetch?: typeof globalThis.fetch;
}): unknown {
  return settings;
}

/** Builds the pool from possibly-unset keys, with options of every kind. */
export function createPool(env: Env): Failover {
  const requestId: Middleware = async (ctx, next) => {
    ctx.headers.set("x-request-id", `${ctx.attempt}-${ctx.path}`);
    await next();
    if (ctx.response?.status === 429) ctx.headers.delete("x-request-id");
  };
  const cheapest: PickerFunction = (candidates, { random }) =>
    candidates[Math.floor(random() * candidates.length)] ?? "primary";
  const kyOptions: KyOptions = { headers: { "x-app": "types" } };
  const endpoints: EndpointOptions[] = [
    {
      name: "primary",
      url: "https://api.example.ai/v1",
      apiKey: env.KEY_A, // string | undefined
      priority: 1,
    },
    {
      name: "hk",
      url: new URL("https://hk.example.ai/v1"),
      apiKey: env["KEY_B"],
      headers: { "x-org": "acme" },
      priority: 2,
      weight: 2,
      healthCheck: { path: "health" },
    },
    {
      name: "azure",
      url: "https://azure.example.ai/openai/deployments/x?api-version=1",
      headers: [["api-key", env.AZURE_KEY ?? ""]],
      healthCheck: false,
      models: { "gpt-4.1": "my-deployment" },
      budget: { usd: 5, window: 3_600_000 },
    },
  ];
  const options: FailoverOptions = {
    endpoints,
    strategy: cheapest,
    timeout: 10_000,
    totalTimeout: false,
    streamIdleTimeout: 60_000,
    bufferLimit: 1 << 20,
    authFailure: { bench: 60_000 },
    maxAttempts: 3,
    breaker: { failureThreshold: 3, cooldown: 1_000, maxCooldown: 60_000 },
    rateLimit: { fallbackDelay: 1_000, maxDelay: 30_000 },
    healthCheck: { path: "models", interval: 30_000, timeout: 5_000 },
    retryBudget: { ratio: 0.5, maxTokens: 10 },
    hedge: { delay: 2_000, methods: ["GET"] },
    onEvent: logEvent,
    middleware: [requestId],
    clock: systemClock,
    random: Math.random,
    fetch: globalThis.fetch,
    prices: { "gpt-4.1": 8, "deepseek-chat": { input: 0.28, output: 0.42 } },
    failoverOn: [{ code: ["context_length_exceeded"] }, { status: 422 }],
    usage: true,
    kyOptions,
  };
  return createFailover(options);
}

/** Narrows events on `type`. */
export function logEvent(event: FailoverEvent): void {
  switch (event.type) {
    case "attempt": {
      const status: number | undefined = event.status;
      console.log(event.endpoint, event.outcome, status, event.panic);
      break;
    }
    case "failover":
      console.log(`${event.from} → ${event.to}: ${event.reason}`);
      break;
    case "breaker": {
      const to: BreakerState = event.to;
      console.log(event.endpoint, to, event.cooldownMs?.toFixed(0));
      break;
    }
    case "rate-limit":
      console.log(event.endpoint, event.status, event.delayMs, event.until);
      break;
    case "auth-failure":
      console.log(event.endpoint, event.benchMs, event.message);
      break;
    case "all-timed-out":
      console.log(event.timeoutMs, event.endpoints.join(", "), event.message);
      break;
    case "success":
      console.log(event.endpoint, event.status, event.attempts, event.model);
      break;
    case "usage":
      console.log(
        event.endpoint,
        event.model,
        event.inputTokens,
        event.costUsd,
      );
      break;
    case "budget":
      console.log(event.endpoint, event.exhausted, event.spentUsd, event.until);
      break;
    case "model-not-found":
      console.log(event.endpoint, event.model, event.sent);
      break;
    case "failure": {
      const error: Error = event.error;
      console.log(error.message, event.attempts[0]?.endpoint);
      break;
    }
  }
}

/** Tells the errors apart with the guards. */
export function explain(error: unknown): string {
  if (isFailoverError(error)) {
    const failover: FailoverError = error;
    const last = failover.attempts[failover.attempts.length - 1];
    return `${last?.endpoint}: ${last?.status ?? String(last?.error)} ` +
      `${failover.response?.status}`;
  }
  if (isOutsidePoolError(error)) return error.url;
  if (isAttemptTimeoutError(error)) {
    return `${error.endpoint} ${error.timeoutMs}`;
  }
  if (isStreamIdleTimeoutError(error)) return `${error.endpoint} stalled`;
  if (isTotalTimeoutError(error)) return `${error.timeoutMs} ms`;
  if (isRedirectError(error)) return `${error.status} ${error.location ?? ""}`;
  if (isClosedError(error)) return error.message;
  if (isKyFailoverError(error)) {
    const base: KyFailoverError = error;
    return base.name;
  }
  return String(error);
}

/** The ky instance, the fetch handed to SDK-like code, status and errors. */
export async function useApi(api: Failover): Promise<string> {
  const ky: KyInstance = api.ky;
  const reply = await ky.post("chat/completions", {
    json: { model: "m", messages: [{ role: "user", content: "hi" }] },
  }).json<{ choices: { message: { content: string } }[] }>();

  const fetch: FetchFunction = api.fetch;
  const response = await fetch("https://api.example.ai/v1/models", {
    headers: { "content-type": "application/json" },
  });
  new OpenAILikeClient({
    baseURL: "https://api.example.ai/v1",
    apiKey: "unused",
    fetch: api.fetch,
    maxRetries: 0,
  });
  createAiSdkLike({ baseURL: "https://api.example.ai/v1", fetch: api.fetch });

  const status: EndpointStatus[] = await api.checkHealth();
  const made = [
    new KyFailoverError("x", { cause: new Error("y") }),
    new FailoverError([{ endpoint: "primary", status: 503, durationMs: 1 }], {
      cause: new AttemptTimeoutError("primary", 1),
      response,
    }),
  ];
  api.close();
  return `${reply.choices[0]?.message.content} ${status[0]?.state} ` +
    made.map(explain).join();
}

/** What the pool's calls cost so far, and what one endpoint was last sent. */
export function spending(
  api: Failover,
): [number | undefined, string | undefined] {
  return [api.usage().total.costUsd, api.status()[0]?.lastModel];
}
