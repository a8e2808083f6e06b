/**
 * Mocked regions for tests: OpenAI-compatible fake endpoints whose behaviour
 * can be switched between outage modes at any time, served through
 * [MSW](https://mswjs.io) handlers or a plain `fetch` function.
 *
 * @module
 */

import { http, type HttpHandler } from "msw";
import {
  completionEvents,
  completionJson,
  DEFAULT_TOKENS,
  embeddingsJson,
  errorJson,
  eventStream,
  modelNotFoundJson,
  modelOf,
  modelsJson,
  parseJson,
  responseEvents,
  responseJson,
  wantsStream,
} from "./_openai.ts";

/**
 * How a mocked region behaves.
 *
 * - `"up"`: answers normally (see {@linkcode MockRegionOptions.reply}).
 * - `"refused"`: the request fails with a network error, as a refused or
 *   reset connection does (`fetch` rejects with a `TypeError`).
 * - `"hang"`: accepts the request and never sends response headers; the
 *   request ends with a network error once the client aborts it.
 * - `{ slow: ms }`: answers normally after `ms` milliseconds of the region's
 *   clock (see {@linkcode MockRegionOptions.clock}).
 * - `{ status, headers?, body? }`: answers with `status`, an OpenAI-style
 *   error body (or `body`: a string as it is, anything else as JSON) and
 *   the given headers, e.g.
 *   `{ status: 429, headers: { "retry-after": "2" } }`.
 * - `{ stallAfter: n }`: answers `200` with a server-sent event stream at
 *   once, sends its first `n` events and then nothing more: a stream that
 *   stalls mid-answer (Responses API events for `…/responses`, chat
 *   completion chunks otherwise). The body errors once the client aborts.
 *
 * @example Take the primary down, then bring it back
 * ```ts
 * import { mockRegion, type RegionMode } from "@ky-failover/ky-failover/testing";
 *
 * const primary = mockRegion({ name: "primary" });
 * const outage: RegionMode = { status: 503, headers: { "retry-after": "5" } };
 * primary.mode = outage;
 * primary.mode = "up";
 * ```
 */
export type RegionMode =
  | "up"
  | "refused"
  | "hang"
  | { slow: number }
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { stallAfter: number };

/**
 * One request as a mocked region received it.
 *
 * @example
 * ```ts
 * import { mockRegion, type ReceivedRequest } from "@ky-failover/ky-failover/testing";
 *
 * const region = mockRegion({ name: "primary" });
 * const last: ReceivedRequest | undefined = region.received.at(-1);
 * console.assert(last === undefined);
 * ```
 */
export interface ReceivedRequest {
  /** HTTP method, upper-case. */
  method: string;
  /** The full URL. */
  url: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  /** The `Authorization` header, or `null`. */
  authorization: string | null;
  /** Every request header. */
  headers: Headers;
  /** The request body as text (`""` without one). */
  body: string;
  /** The region's mode when the request arrived. */
  mode: RegionMode;
}

/**
 * What a {@linkcode MockRegionOptions.reply} function gets besides the
 * request.
 *
 * @example
 * ```ts
 * import type { ReplyContext } from "@ky-failover/ky-failover/testing";
 *
 * const reply = (_request: Request, ctx: ReplyContext) =>
 *   Response.json({ region: ctx.region.name, n: ctx.region.received.length });
 * ```
 */
export interface ReplyContext {
  /** The region that answers. */
  region: MockRegion;
  /** The request, as recorded in `region.received`. */
  received: ReceivedRequest;
}

/**
 * The tokens a mocked region's answers report; see
 * {@linkcode MockRegionOptions.usage}.
 *
 * @example A region whose prompt was mostly cached
 * ```ts
 * import { mockRegion, type MockUsage } from "@ky-failover/ky-failover/testing";
 *
 * const usage: MockUsage = { prompt_tokens: 1_000, completion_tokens: 200, cached_tokens: 800 };
 * const region = mockRegion({ name: "cached", usage });
 * console.assert(region.name === "cached");
 * ```
 */
export interface MockUsage {
  /** Input tokens (`prompt_tokens`; the Responses API's `input_tokens`). */
  prompt_tokens: number;
  /** Output tokens (`completion_tokens`; the Responses API's `output_tokens`). */
  completion_tokens: number;
  /**
   * Of the input tokens, those served from the prompt cache: reported as
   * `prompt_tokens_details.cached_tokens` (the Responses API's
   * `input_tokens_details.cached_tokens`). Absent: chat answers carry no
   * `prompt_tokens_details`.
   */
  cached_tokens?: number | undefined;
}

/**
 * Options of {@linkcode mockRegion}.
 *
 * @example
 * ```ts
 * import { mockRegion, type MockRegionOptions } from "@ky-failover/ky-failover/testing";
 *
 * const options: MockRegionOptions = {
 *   name: "hk",
 *   url: "https://hk.example.ai/v1",
 *   mode: { status: 429, headers: { "retry-after-ms": "1500" } },
 * };
 * console.assert(mockRegion(options).mode !== "up");
 * ```
 *
 * @example A provider that serves only its own models, and reports usage
 * ```ts
 * import { mockRegion } from "@ky-failover/ky-failover/testing";
 *
 * const deepseek = mockRegion({
 *   name: "deepseek",
 *   models: ["deepseek-chat"],
 *   usage: { prompt_tokens: 12, completion_tokens: 4, cached_tokens: 8 },
 * });
 * const ask = (model: string) =>
 *   deepseek.fetch(new Request(`${deepseek.url}/chat/completions`, {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
 *   }));
 *
 * const missing = await ask("gpt-4.1");
 * console.assert(missing.status === 404);
 * console.assert((await missing.json()).error.code === "model_not_found");
 *
 * const answer = await (await ask("deepseek-chat")).json();
 * console.assert(answer.model === "deepseek-chat");
 * console.assert(answer.usage.total_tokens === 16);
 * console.assert(answer.usage.prompt_tokens_details.cached_tokens === 8);
 * ```
 */
export interface MockRegionOptions {
  /** Name of the region; the default answers say `hello from <name>`. */
  name: string;
  /** Base URL the region answers under. Default `https://<name>.example.ai/v1`. */
  url?: string | URL;
  /** Initial mode. Default `"up"`. */
  mode?: RegionMode;
  /**
   * Timers for `{ slow }` answers: pass the same manual clock as the pool's
   * to drive both by hand. Default: the real timers.
   */
  clock?: {
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
  };
  /**
   * The models the region serves. `GET …/models` lists them, and in modes
   * `"up"` and `{ slow }` a `POST` whose JSON body names another `model`
   * is answered — before {@linkcode MockRegionOptions.reply} — as OpenAI
   * answers a model the key cannot use: `404` with the error code
   * `model_not_found`, type `invalid_request_error` and the message
   * ``The model `x` does not exist or you do not have access to it.``
   * Default: any model
   * (`GET …/models` lists `gpt-4.1`).
   */
  models?: readonly string[] | undefined;
  /**
   * The tokens the default answers report. Default
   * `{ prompt_tokens: 5, completion_tokens: 3 }`.
   */
  usage?: MockUsage | undefined;
  /**
   * The answer in mode `"up"` (and `{ slow }`). Default: an OpenAI-compatible
   * API, each answer naming the `model` it was sent:
   *
   * - `GET …/models` lists the region's models;
   * - `POST …/chat/completions` answers a `chat.completion` saying
   *   `hello from <name>` with its {@linkcode MockRegionOptions.usage}, or
   *   with `stream: true` the same as server-sent `chat.completion.chunk`
   *   events ending in `data: [DONE]` — with a final usage chunk when
   *   `stream_options.include_usage` is set;
   * - `POST …/embeddings` answers an embedding list, one vector per input
   *   (`dimensions` numbers, default 8; base64 with
   *   `encoding_format: "base64"`), `usage` with `prompt_tokens` and
   *   `total_tokens`;
   * - `POST …/responses` answers a Responses API `response` whose output
   *   text says `hello from <name>`, `usage` with `input_tokens` and
   *   `output_tokens`; with `stream: true` its server-sent events, from
   *   `response.created` through `response.output_text.delta` (one per
   *   word) to `response.completed`, whose `response` carries the usage;
   * - anything else is a 404 with an OpenAI-style error body.
   *
   * Return `undefined` to fall back to that default answer.
   */
  reply?: (
    request: Request,
    context: ReplyContext,
  ) => Response | undefined | Promise<Response | undefined>;
}

/**
 * A mocked region. Switch {@linkcode MockRegion.mode} at any time; the
 * next request sees the new behaviour.
 *
 * @example Serve one region with MSW
 * ```ts
 * import { setupServer } from "msw/node";
 * import { mockRegion } from "@ky-failover/ky-failover/testing";
 *
 * const primary = mockRegion({ name: "primary", mode: "refused" });
 * const server = setupServer(primary.handler);
 * server.listen();
 * // … calls to https://primary.example.ai/v1 now fail with a network error
 * server.close();
 * ```
 */
export interface MockRegion {
  /** Name of the region. */
  readonly name: string;
  /** Base URL, without trailing slash or query. */
  readonly url: string;
  /** Current behaviour; assign to change it. */
  mode: RegionMode;
  /** Every request received so far, oldest first. */
  readonly received: ReceivedRequest[];
  /** An MSW handler for every method under {@linkcode MockRegion.url}. */
  readonly handler: HttpHandler;
  /**
   * Answers `request` as the region would. Rejects with a `TypeError`
   * (a network error) in mode `"refused"`, and in mode `"hang"` once the
   * request's signal aborts.
   */
  fetch(request: Request): Promise<Response>;
  /** Resolves once the region has received `count` requests in all. */
  waitForRequests(count: number): Promise<void>;
  /** Forgets the requests received so far. */
  reset(): void;
}

/**
 * A set of mocked regions, with MSW handlers and a `fetch` for all of them.
 *
 * @example
 * ```ts
 * import { mockRegions, type MockRegions } from "@ky-failover/ky-failover/testing";
 *
 * const regions: MockRegions = mockRegions(["primary", "hk"]);
 * regions.region("primary").mode = "hang";
 * console.assert(regions.handlers.length === 2);
 * ```
 */
export interface MockRegions {
  /** The regions, in the order given. */
  readonly regions: readonly MockRegion[];
  /** One MSW handler per region, for `setupServer(...)` / `setupWorker(...)` / `server.use(...)`. */
  readonly handlers: HttpHandler[];
  /** The region called `name`; throws if there is none. */
  region(name: string): MockRegion;
  /** Requests received so far, per region name. */
  counts(): Record<string, number>;
  /**
   * A standard `fetch` that routes each request to the region whose URL it
   * is under — pass it as the pool's `fetch` option to test without MSW.
   * A URL outside every region rejects with a `TypeError`.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "*",
};

function withCors(response: Response): Response {
  if (response.type === "error") return response;
  try {
    for (const [name, value] of Object.entries(CORS_HEADERS)) {
      if (!response.headers.has(name)) response.headers.set(name, value);
    }
    return response;
  } catch {
    // Immutable headers (e.g. a response from fetch): copy it.
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(CORS_HEADERS)) {
      if (!headers.has(name)) headers.set(name, value);
    }
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }
}

function json(body: unknown, status = 200, headers?: Record<string, string>) {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/json" },
  });
}

function networkError(region: string, what: string): TypeError {
  return new TypeError(`mocked region ${region}: ${what}`);
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function baseUrl(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
}

function isUnder(url: string, base: string): boolean {
  const clean = url.split(/[?#]/)[0];
  return clean === base || clean.startsWith(`${base}/`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

const realTimers: NonNullable<MockRegionOptions["clock"]> = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/**
 * Creates one mocked region. Serve it with MSW (`region.handler`) or call
 * `region.fetch` directly; switch `region.mode` to simulate an outage.
 * Every answer carries permissive CORS headers
 * (`access-control-allow-origin: *`, `access-control-expose-headers: *`), so
 * that a browser page sees headers such as `retry-after-ms`.
 *
 * @example A primary that is rate-limited, then recovers
 * ```ts
 * import { setupServer } from "msw/node";
 * import { createFailover } from "@ky-failover/ky-failover";
 * import { mockRegion } from "@ky-failover/ky-failover/testing";
 *
 * const primary = mockRegion({
 *   name: "primary",
 *   mode: { status: 429, headers: { "retry-after": "2" } },
 * });
 * const backup = mockRegion({ name: "backup" });
 * const server = setupServer(primary.handler, backup.handler);
 * server.listen({ onUnhandledRequest: "error" });
 *
 * using api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: primary.url, apiKey: "sk-a", priority: 1 },
 *     { name: "backup", url: backup.url, apiKey: "sk-b", priority: 2 },
 *   ],
 * });
 * const response = await api.fetch("models");
 * console.assert(response.ok && backup.received.length === 1);
 * await response.body?.cancel();
 * server.close();
 * ```
 */
export function mockRegion(options: MockRegionOptions): MockRegion {
  const name = options.name;
  const url = baseUrl(options.url ?? `https://${name}.example.ai/v1`);
  const clock = options.clock ?? realTimers;
  const received: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let counter = 0;

  const notify = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (received.length >= waiters[i].count) {
        waiters.splice(i, 1)[0].resolve();
      }
    }
  };

  const served = options.models === undefined
    ? undefined
    : new Set(options.models);
  const tokens = options.usage ?? DEFAULT_TOKENS;
  const events = (body: string[], signal: AbortSignal, stallAt?: number) =>
    new Response(eventStream(body, signal, stallAt), {
      headers: { "content-type": "text/event-stream" },
    });

  const defaultReply = (request: Request, context: ReplyContext) => {
    const path = new URL(request.url).pathname.replace(/\/+$/, "");
    const body = parseJson(context.received.body);
    if (request.method === "GET" && path.endsWith("/models")) {
      return json(modelsJson(name, options.models));
    }
    if (request.method === "POST" && path.endsWith("/chat/completions")) {
      const id = `chatcmpl-${name}-${++counter}`;
      return wantsStream(body)
        ? events(completionEvents(name, id, body, tokens), request.signal)
        : json(completionJson(name, id, body, tokens));
    }
    if (request.method === "POST" && path.endsWith("/embeddings")) {
      return json(embeddingsJson(name, body, tokens));
    }
    if (request.method === "POST" && path.endsWith("/responses")) {
      const id = `${name}-${++counter}`;
      return wantsStream(body)
        ? events(responseEvents(name, id, body, tokens), request.signal)
        : json(responseJson(name, id, body, tokens));
    }
    return json(
      errorJson(404, `no route for ${request.method} ${path}`),
      404,
    );
  };
  const reply = async (request: Request, context: ReplyContext) => {
    if (served !== undefined && request.method === "POST") {
      const model = modelOf(parseJson(context.received.body));
      if (model !== undefined && !served.has(model)) {
        return json(modelNotFoundJson(model), 404);
      }
    }
    return (await options.reply?.(request, context)) ??
      defaultReply(request, context);
  };

  /**
   * Requests whose client has not gone away, held strongly: on Node a
   * `Request`'s signal follows the caller's only while the `Request` lives,
   * so a hanging or stalled answer whose `Request` was collected would
   * never learn that its client aborted.
   */
  const live = new Set<Request>();

  const answer = async (request: Request): Promise<Response> => {
    if (!request.signal.aborted) {
      live.add(request);
      request.signal.addEventListener("abort", () => live.delete(request), {
        once: true,
      });
    }
    try {
      const response = await answerLive(request);
      // A stream keeps listening to its client until it ends or is aborted.
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream")) live.delete(request);
      return response;
    } catch (error) {
      live.delete(request);
      throw error;
    }
  };

  const answerLive = async (request: Request): Promise<Response> => {
    const mode = region.mode;
    const text = request.method === "GET" || request.method === "HEAD"
      ? ""
      : await request.text();
    const target = new URL(request.url);
    const record: ReceivedRequest = {
      method: request.method,
      url: request.url,
      path: target.pathname + target.search,
      authorization: request.headers.get("authorization"),
      headers: request.headers,
      body: text,
      mode,
    };
    received.push(record);
    notify();
    if (mode === "refused") throw networkError(name, "connection refused");
    if (mode === "hang") {
      await untilAborted(request.signal);
      throw networkError(name, "the client gave up on a hanging request");
    }
    if (mode === "up") {
      return await reply(request, { region, received: record });
    }
    if ("status" in mode) {
      return json(
        mode.body ??
          errorJson(mode.status, `${name}: simulated HTTP ${mode.status}`),
        mode.status,
        mode.headers,
      );
    }
    if ("stallAfter" in mode) {
      const body = parseJson(text);
      const list = target.pathname.replace(/\/+$/, "").endsWith("/responses")
        ? responseEvents(name, `${name}-${++counter}`, body, tokens)
        : completionEvents(name, `chatcmpl-${name}-${++counter}`, body, tokens);
      return events(list, request.signal, mode.stallAfter);
    }
    if ("slow" in mode) {
      await new Promise<void>((resolve) => {
        if (request.signal.aborted) return resolve();
        const onAbort = () => {
          clock.clearTimeout(handle);
          resolve();
        };
        const handle = clock.setTimeout(() => {
          request.signal.removeEventListener("abort", onAbort);
          resolve();
        }, mode.slow);
        request.signal.addEventListener("abort", onAbort, { once: true });
      });
      if (request.signal.aborted) {
        throw networkError(name, "the client gave up on a slow request");
      }
    }
    return await reply(request, { region, received: record });
  };

  const region: MockRegion = {
    name,
    url,
    mode: options.mode ?? "up",
    received,
    handler: http.all(
      new RegExp(`^${escapeRegExp(url)}(/.*)?$`),
      async ({ request }) => {
        try {
          return withCors(await answer(request));
        } catch (error) {
          if (error instanceof TypeError) return Response.error();
          throw error;
        }
      },
    ),
    fetch: async (request) => withCors(await answer(request)),
    waitForRequests: (count) =>
      new Promise((resolve) => {
        waiters.push({ count, resolve });
        notify();
      }),
    reset: () => {
      received.length = 0;
      live.clear();
    },
  };
  return region;
}

/**
 * Creates mocked regions, one per name (or per options object), each under
 * `https://<name>.example.ai/v1` unless given a `url`. `shared` options
 * (e.g. `clock`, `reply`) apply to every region.
 *
 * @example Vitest / node:test / Deno.test with MSW
 * ```ts
 * import { setupServer } from "msw/node";
 * import { createFailover } from "@ky-failover/ky-failover";
 * import { mockRegions } from "@ky-failover/ky-failover/testing";
 *
 * const regions = mockRegions(["primary", "hk", "sg"]);
 * const server = setupServer(...regions.handlers);
 * server.listen({ onUnhandledRequest: "error" });
 *
 * regions.region("primary").mode = "hang"; // no answer until aborted
 * regions.region("hk").mode = { status: 503 }; // a server error
 * using api = createFailover({
 *   endpoints: regions.regions.map((r, i) => ({ name: r.name, url: r.url, priority: i + 1 })),
 *   timeout: 50,
 * });
 * const reply = await api.ky.post("chat/completions", {
 *   json: { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] },
 * }).json<{ choices: { message: { content: string } }[] }>();
 * console.assert(reply.choices[0].message.content === "hello from sg");
 * server.close();
 * ```
 *
 * @example Without MSW: the regions' own fetch
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 * import { mockRegions } from "@ky-failover/ky-failover/testing";
 *
 * const regions = mockRegions(["a", "b"]);
 * regions.region("a").mode = "refused";
 * using api = createFailover({
 *   endpoints: regions.regions.map((r) => ({ name: r.name, url: r.url })),
 *   strategy: "priority",
 *   fetch: regions.fetch,
 * });
 * const response = await api.fetch("models");
 * console.assert(response.ok);
 * console.assert(JSON.stringify(regions.counts()) === '{"a":1,"b":1}');
 * ```
 */
export function mockRegions(
  regions: readonly (string | MockRegionOptions)[],
  shared: Omit<MockRegionOptions, "name" | "url" | "mode"> = {},
): MockRegions {
  const list = regions.map((spec) =>
    mockRegion(
      typeof spec === "string"
        ? { ...shared, name: spec }
        : { ...shared, ...spec },
    )
  );
  const names = new Set<string>();
  for (const region of list) {
    if (names.has(region.name)) {
      throw new TypeError(`mockRegions: duplicate region name ${region.name}`);
    }
    names.add(region.name);
  }
  return {
    regions: list,
    handlers: list.map((r) => r.handler),
    region(name) {
      const found = list.find((r) => r.name === name);
      if (found === undefined) {
        throw new Error(`no mocked region named ${name}`);
      }
      return found;
    },
    counts: () =>
      Object.fromEntries(list.map((r) => [r.name, r.received.length])),
    fetch(input, init) {
      const request = new Request(input, init);
      const region = list.find((r) => isUnder(request.url, r.url));
      if (region === undefined) {
        return Promise.reject(
          new TypeError(
            `no mocked region answers ${request.url.split("?")[0]}`,
          ),
        );
      }
      return region.fetch(request);
    },
  };
}
