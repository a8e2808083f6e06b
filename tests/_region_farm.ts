/**
 * A loopback "region farm": a few fake OpenAI-compatible API servers on
 * 127.0.0.1, each on its own random free port, whose behaviour can be
 * switched at run time to simulate outages. Used by the tests and by
 * `scripts/demo.ts`.
 *
 * Built on `node:http` only, so the same file runs under Deno, Node and Bun.
 *
 * Each region serves, under `http://127.0.0.1:<port>/v1`:
 *
 * - `GET /v1/models` → `{ object: "list", data: [{ id: "gpt-4.1", object: "model", … }] }`
 *   (or the region's own `models`; a completion for a model it does not
 *   serve answers `404 model_not_found`)
 * - `POST /v1/chat/completions` → a non-streaming `chat.completion` whose
 *   message says `hello from <region>` (a `stream: true` request gets a 400:
 *   streaming is not simulated yet)
 * - anything else → 404 with an OpenAI-style error body
 *
 * and records every request it reads in `received`.
 *
 * @example
 * ```ts
 * import { startFarm } from "./_region_farm.ts";
 *
 * const farm = await startFarm(["primary", "hk"]);
 * await farm.region("primary").setMode("down"); // connections refused
 * await farm.region("primary").setMode({ status: 429, headers: { "retry-after": "2" } });
 * await farm.region("primary").setMode("up"); // same URL answers again
 * await farm.close();
 * ```
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { readBody } from "./_listen.ts";

/**
 * How a region behaves.
 *
 * - `"up"`: answers normally (after the region's `latencyMs`, if any).
 * - `"down"`: the port is closed; connections are refused. Open connections
 *   (keep-alive ones and requests in progress) are destroyed.
 * - `"blackhole"`: accepts connections and requests and never answers. Held
 *   requests are destroyed when the region goes down or the farm closes.
 * - `{ slow: ms }`: answers normally after `ms` milliseconds.
 * - `{ status, headers }`: answers every request with `status`, an
 *   OpenAI-style error JSON body and the given extra headers (e.g.
 *   `{ "retry-after": "2" }`), after the region's `latencyMs`.
 * - `"reset"`: sends the status line, headers and part of the body, then
 *   destroys the socket (a connection reset mid-body).
 * - `{ flaky: p }`: answers HTTP 500 with probability `p` (from the farm's
 *   seedable `random`), normally otherwise.
 * - `{ stallStream: n }`: sends headers and `n` SSE events for
 *   `stream: true` (for other requests: headers with a `content-length` and
 *   the start of the JSON body), then nothing more; the socket stays open
 *   until the client gives up or the farm closes.
 * - `{ streamEvery: ms }`: a healthy but slow stream: one SSE event every
 *   `ms` milliseconds.
 *
 * Every answer carries permissive CORS headers, and `OPTIONS` preflights are
 * answered, so a browser page on another loopback port can reach a region.
 */
export type RegionMode =
  | "up"
  | "down"
  | "blackhole"
  | "reset"
  | { slow: number }
  | { status: number; headers?: Record<string, string> }
  | { flaky: number }
  | { stallStream: number }
  | { streamEvery: number };

/** One request as a region read it. */
export interface ReceivedRequest {
  /** HTTP method, upper-case. */
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  /** The `Authorization` header, or `null`. */
  authorization: string | null;
  /** The parsed JSON body; `undefined` without a body, the raw text if it is not JSON. */
  body: unknown;
  /** The mode the region was in when it read the request. */
  mode: RegionMode;
}

/** A fake region of the farm. */
export interface Region {
  /** Name given to `startFarm`; it appears in the answers (`hello from <name>`). */
  readonly name: string;
  /** Base URL of the API, `http://127.0.0.1:<port>/v1`. It stays the same for the region's life. */
  readonly url: string;
  /** The port, kept across `"down"` → `"up"`. */
  readonly port: number;
  /** The current mode. */
  readonly mode: RegionMode;
  /** Every request read so far, oldest first (not those refused while down). */
  readonly received: ReceivedRequest[];
  /**
   * Switches the mode. Resolves once the change is in effect: after
   * `"down"` the port refuses connections; after leaving `"down"` it
   * accepts them again on the same port.
   */
  setMode(mode: RegionMode): Promise<void>;
  /** Resolves once `received.length >= count` (at once if it already is). */
  waitForRequests(count: number): Promise<void>;
  /** Empties `received`. */
  reset(): void;
}

/** A farm of fake regions. */
export interface Farm {
  /** The regions, in the order given to `startFarm`. */
  readonly regions: readonly Region[];
  /** The region called `name`; throws if there is none. */
  region(name: string): Region;
  /**
   * Stops every region: closes listeners, destroys every connection and
   * held request, clears every timer. Idempotent.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A region to start: a name, or a name with a simulated network latency. */
export type RegionSpec = string | {
  name: string;
  /**
   * Delay before every answer, in ms (a region far away), in `"up"` and
   * `{ status }` modes; `{ slow }` replaces it. Default `0`.
   */
  latencyMs?: number;
  /**
   * The models it serves (listed by `GET /v1/models`); a completion for any
   * other answers `404 model_not_found`, as OpenAI does. Default: any model
   * (`gpt-4.1` listed).
   */
  models?: readonly string[];
};

const MODEL = "gpt-4.1";

const ERROR_TYPES: Record<number, [type: string, code: string | null]> = {
  400: ["invalid_request_error", null],
  401: ["invalid_request_error", "invalid_api_key"],
  403: ["invalid_request_error", "unsupported_country_region_territory"],
  404: ["invalid_request_error", "not_found"],
  408: ["timeout", null],
  429: ["requests", "rate_limit_exceeded"],
  500: ["server_error", null],
  502: ["server_error", null],
  503: ["server_error", "service_unavailable"],
  504: ["server_error", null],
};

function errorBody(status: number, message: string): string {
  const [type, code] = ERROR_TYPES[status] ??
    [status >= 500 ? "server_error" : "invalid_request_error", null];
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/** OpenAI's answer for a model it does not have. */
function modelNotFound(model: string): string {
  return JSON.stringify({
    error: {
      message:
        `The model \`${model}\` does not exist or you do not have access to it.`,
      type: "invalid_request_error",
      param: null,
      code: "model_not_found",
    },
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, {
    ...CORS,
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-expose-headers": "*",
};

/** Words of every streamed completion, one SSE chunk each. */
function streamWords(region: string): string[] {
  return ["hello", " from", ` ${region}`];
}

function sseChunk(
  id: string,
  model: string,
  delta: Record<string, unknown>,
  finish: string | null,
): string {
  return `data: ${
    JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })
  }\n\n`;
}

function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

class FakeRegion implements Region {
  readonly name: string;
  readonly received: ReceivedRequest[] = [];
  readonly #latencyMs: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Requests held in blackhole mode. */
  readonly #held = new Set<ServerResponse>();
  /** Pending delayed answers (latency and slow mode). */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  #mode: RegionMode = "up";
  #port = 0;
  #listening = false;
  #closed = false;
  /** Serialises mode changes. */
  #queue: Promise<void> = Promise.resolve();
  #counter = 0;

  readonly #random: () => number;

  readonly #models: readonly string[] | undefined;

  constructor(
    name: string,
    latencyMs: number,
    random: () => number,
    models?: readonly string[],
  ) {
    this.#models = models;
    this.name = name;
    this.#latencyMs = latencyMs;
    this.#random = random;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  get mode(): RegionMode {
    return this.#mode;
  }

  /** Listens on `#port` (0 the first time: any free port). */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once("error", onError);
      this.#server.listen(this.#port, "127.0.0.1", () => {
        this.#server.off("error", onError);
        resolve();
      });
    });
    this.#listening = true;
    const address = this.#server.address();
    if (address === null || typeof address === "string") {
      throw new Error(`region ${this.name}: unexpected address ${address}`);
    }
    this.#port = address.port;
  }

  /** Stops listening and destroys every connection and held request. */
  async #shutDown(): Promise<void> {
    for (const res of this.#held) res.destroy();
    this.#held.clear();
    const closed = this.#listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    this.#listening = false;
    this.#server.closeAllConnections?.();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }

  setMode(mode: RegionMode): Promise<void> {
    const change = this.#queue.then(async () => {
      if (this.#closed) throw new Error(`region ${this.name} is closed`);
      const previous = this.#mode;
      this.#mode = mode;
      if (mode === "down" && previous !== "down") await this.#shutDown();
      else if (mode !== "down" && previous === "down") await this.listen();
    });
    this.#queue = change.catch(() => {});
    return change;
  }

  waitForRequests(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  reset(): void {
    this.received.length = 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#shutDown();
  }

  #later(ms: number, fn: () => void, res: ServerResponse): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    // The client gave up (aborted, timed out): no need to answer.
    res.on("close", () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    });
  }

  #record(req: IncomingMessage, body: unknown): void {
    this.received.push({
      method: req.method ?? "GET",
      path: req.url ?? "/",
      authorization: req.headers.authorization ?? null,
      body,
      mode: this.#mode,
    });
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.received.length >= this.#waiters[i].count) {
        this.#waiters.splice(i, 1)[0].resolve();
      }
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text: string;
    try {
      text = (await readBody(req)).toString("utf8");
    } catch {
      return; // the connection went away
    }
    if (this.#closed || res.destroyed) return;
    if (req.method === "OPTIONS") {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    const mode = this.#mode;
    this.#record(req, parseBody(text));
    if (mode === "blackhole") {
      this.#held.add(res);
      res.on("close", () => this.#held.delete(res));
      return;
    }
    if (mode === "down") {
      // Read just before going down; a real server would have reset it.
      res.destroy();
      return;
    }
    const body = parseBody(text);
    if (mode === "reset") {
      res.writeHead(200, {
        ...CORS,
        "content-type": "application/json",
        "content-length": "1000",
      });
      res.write('{"id":"partial","choices":[');
      // Let the bytes leave before the reset.
      this.#later(5, () => res.destroy(), res);
      return;
    }
    if (
      typeof mode === "object" && "flaky" in mode && this.#random() < mode.flaky
    ) {
      send(res, 500, errorBody(500, `${this.name}: simulated flaky HTTP 500`));
      return;
    }
    const answer = typeof mode === "object" && "status" in mode
      ? () =>
        send(
          res,
          mode.status,
          errorBody(
            mode.status,
            `${this.name}: simulated HTTP ${mode.status} (fake region)`,
          ),
          mode.headers,
        )
      : () => this.#answer(req, res, body);
    const delay = typeof mode === "object" && "slow" in mode
      ? mode.slow
      : this.#latencyMs;
    if (delay > 0) this.#later(delay, answer, res);
    else answer();
  }

  #answer(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const path = (req.url ?? "/").split("?")[0].replace(/\/+$/, "");
    const method = req.method ?? "GET";
    if (path === "/v1/models" && method === "GET") {
      send(
        res,
        200,
        JSON.stringify({
          object: "list",
          data: (this.#models ?? [MODEL]).map((id) => ({
            id,
            object: "model",
            created: 0,
            owned_by: "farm",
          })),
        }),
      );
      return;
    }
    if (path === "/v1/chat/completions" && method === "POST") {
      const request =
        (typeof body === "object" && body !== null ? body : {}) as {
          model?: unknown;
          stream?: unknown;
          messages?: unknown;
        };
      const model = typeof request.model === "string" ? request.model : MODEL;
      if (this.#models !== undefined && !this.#models.includes(model)) {
        send(res, 404, modelNotFound(model));
        return;
      }
      const mode = this.#mode;
      if (request.stream === true) {
        this.#stream(res, model, request.messages);
        return;
      }
      if (typeof mode === "object" && "stallStream" in mode) {
        // Headers (with the length of the whole body), the start of the
        // body, then nothing more.
        res.writeHead(200, {
          ...CORS,
          "content-type": "application/json",
          "content-length": "4096",
        });
        res.write('{"id":"stalled","choices":[');
        this.#held.add(res);
        res.on("close", () => this.#held.delete(res));
        return;
      }
      const content = `hello from ${this.name}`;
      const promptTokens = Math.ceil(
        JSON.stringify(request.messages ?? []).length / 4,
      );
      const completionTokens = content.split(" ").length;
      send(
        res,
        200,
        JSON.stringify({
          id: `chatcmpl-${this.name}-${++this.#counter}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: typeof request.model === "string" ? request.model : MODEL,
          choices: [{
            index: 0,
            message: { role: "assistant", content },
            finish_reason: "stop",
          }],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          },
        }),
      );
      return;
    }
    send(res, 404, errorBody(404, `no route for ${method} ${path}`));
  }

  /** Answers a `stream: true` completion as server-sent events. */
  #stream(res: ServerResponse, model: string, messages: unknown): void {
    const mode = this.#mode;
    const id = `chatcmpl-${this.name}-${++this.#counter}`;
    const words = streamWords(this.name);
    const promptTokens = Math.ceil(JSON.stringify(messages ?? []).length / 4);
    const events = [
      sseChunk(id, model, { role: "assistant", content: "" }, null),
      ...words.map((w) => sseChunk(id, model, { content: w }, null)),
      sseChunk(id, model, {}, "stop"),
      `data: ${
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: words.length,
            total_tokens: promptTokens + words.length,
          },
        })
      }\n\n`,
      "data: [DONE]\n\n",
    ];
    res.writeHead(200, {
      ...CORS,
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    });
    res.flushHeaders();
    const stallAfter = typeof mode === "object" && "stallStream" in mode
      ? mode.stallStream
      : Infinity;
    const every = typeof mode === "object" && "streamEvery" in mode
      ? mode.streamEvery
      : 0;
    let i = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (i >= stallAfter) {
        // Stall: nothing more, socket left open until the client gives up.
        this.#held.add(res);
        res.on("close", () => this.#held.delete(res));
        return;
      }
      if (i >= events.length) {
        res.end();
        return;
      }
      res.write(events[i++]);
      if (every > 0) this.#later(every, next, res);
      else next();
    };
    next();
  }
}

/**
 * Starts one fake region per spec, each on a free port of 127.0.0.1, all in
 * mode `"up"`. Names must be unique.
 */
export async function startFarm(
  specs: readonly RegionSpec[],
  options: { random?: () => number } = {},
): Promise<Farm> {
  const random = options.random ?? Math.random;
  const regions: FakeRegion[] = [];
  for (const spec of specs) {
    const { name, latencyMs = 0, models } = typeof spec === "string"
      ? { name: spec, models: undefined }
      : spec;
    if (regions.some((r) => r.name === name)) {
      throw new TypeError(`startFarm: duplicate region name ${name}`);
    }
    regions.push(new FakeRegion(name, latencyMs, random, models));
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= Promise.all(regions.map((r) => r.close())).then(() => {});
  try {
    for (const region of regions) await region.listen();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    regions,
    region(name) {
      const region = regions.find((r) => r.name === name);
      if (region === undefined) {
        throw new Error(`no region named ${name} in the farm`);
      }
      return region;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
