// Two loopback origins for the browser redirect tests (tests/browser/
// cors.ts), started by scripts/test_browser.ts. node:http only.
//
// A (the endpoint) answers every preflight with CORS, and a POST to
// `/<status>-<cors|bare>/v1/chat/completions` with that redirect status
// and a Location on B — with CORS headers on the 3xx for `cors`, none for
// `bare`. B (the redirect target) records everything it receives,
// preflights included, and would answer a chat completion with CORS, so a
// browser that followed would succeed there and the record would show it.

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";

/** What a server saw of one request. */
export interface Seen {
  method: string;
  path: string;
  origin: string | null;
  authorization: boolean;
  bodyBytes: number;
}

/** Both servers' records so far. */
export interface RedirectLog {
  a: Seen[];
  b: Seen[];
}

/** The running servers. */
export interface RedirectServers {
  /** Endpoint base URLs on A, keyed `307-cors`, `302-cors`, `307-bare`, `302-bare`. */
  urls: Record<string, string>;
  /** B's origin. */
  target: string;
  log(): RedirectLog;
  close(): Promise<void>;
}

const CORS = { "access-control-allow-origin": "*" };
const PREFLIGHT = {
  ...CORS,
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, *",
};

function record(req: IncomingMessage, into: Seen[]): Promise<void> {
  return new Promise((resolve) => {
    let bodyBytes = 0;
    req.on("data", (chunk: Uint8Array) => bodyBytes += chunk.length);
    req.on("error", () => resolve());
    req.on("end", () => {
      into.push({
        method: req.method ?? "?",
        path: req.url ?? "/",
        origin: req.headers.origin ?? null,
        authorization: req.headers.authorization !== undefined,
        bodyBytes,
      });
      resolve();
    });
  });
}

async function listen(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  sockets: Set<Socket>,
): Promise<[Server, string]> {
  const server = createServer(handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return [server, `http://127.0.0.1:${port}`];
}

/** Starts A and B on two loopback ports. */
export async function serveRedirects(): Promise<RedirectServers> {
  const log: RedirectLog = { a: [], b: [] };
  const sockets = new Set<Socket>();
  const [b, target] = await listen(async (req, res) => {
    await record(req, log.b);
    if (req.method === "OPTIONS") {
      return void res.writeHead(204, PREFLIGHT).end();
    }
    res.writeHead(200, { ...CORS, "content-type": "application/json" }).end(
      JSON.stringify({
        object: "chat.completion",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "hello from B" },
          finish_reason: "stop",
        }],
      }),
    );
  }, sockets);
  const [a, origin] = await listen(async (req, res) => {
    await record(req, log.a);
    const route = /^\/(30[1-8])-(cors|bare)\/v1\/chat\/completions$/.exec(
      req.url ?? "",
    );
    if (req.method === "OPTIONS") {
      return void res.writeHead(204, PREFLIGHT).end();
    }
    if (req.method !== "POST" || route === null) {
      return void res.writeHead(404, CORS).end();
    }
    res.writeHead(Number(route[1]), {
      location: `${target}/v1/chat/completions`,
      ...(route[2] === "cors"
        ? { ...CORS, "access-control-expose-headers": "location" }
        : {}),
    }).end();
  }, sockets);
  const urls: Record<string, string> = {};
  for (const status of [307, 302]) {
    for (const cors of ["cors", "bare"]) {
      urls[`${status}-${cors}`] = `${origin}/${status}-${cors}/v1`;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    urls,
    target,
    log: () => structuredClone(log),
    close: () =>
      closing ??= (async () => {
        const closed = [a, b].map((server) =>
          new Promise<void>((resolve) => server.close(() => resolve()))
        );
        for (const socket of sockets) socket.destroy();
        await Promise.all(closed);
      })(),
  };
}
