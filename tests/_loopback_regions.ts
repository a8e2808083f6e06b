// Mocked regions of `ky-failover/testing` served over real loopback HTTP,
// each on its own port of 127.0.0.1, with CORS (preflights answered) — for
// the SDK tests and the browser run. node:http only, so the same file runs
// under Deno, Node and Bun.
//
// Over a socket the modes mean: "refused" resets the connection once the
// request is read; "hang" sends nothing until the client goes away;
// `{ stallAfter }` streams that many SSE events and then nothing.

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import type { Buffer } from "node:buffer";
import { readBody } from "./_listen.ts";
import {
  type MockRegion,
  type MockRegionOptions,
  mockRegions,
} from "ky-failover/testing";

/** Regions served on loopback. */
export interface LoopbackRegions extends AsyncDisposable {
  readonly regions: readonly MockRegion[];
  region(name: string): MockRegion;
  counts(): Record<string, number>;
  close(): Promise<void>;
}

const PREFLIGHT_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  "access-control-allow-headers": "authorization, *",
  "access-control-max-age": "600",
};

async function serve(
  region: () => MockRegion,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch {
    return;
  }
  if (req.method === "OPTIONS") {
    res.writeHead(204, PREFLIGHT_HEADERS).end();
    return;
  }
  const gone = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) gone.abort(new Error("client went away"));
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) {
      for (const v of value) headers.append(name, v);
    }
  }
  const { origin } = new URL(region().url);
  const request = new Request(`${origin}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD"
      ? undefined
      : new Uint8Array(body),
    signal: gone.signal,
  });
  let response: Response;
  try {
    response = await region().fetch(request);
  } catch {
    res.destroy(); // a network error: reset the connection
    return;
  }
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  res.writeHead(response.status, out);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const stop = () => reader.cancel().catch(() => {});
  res.on("close", stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off("close", stop);
  }
}

/** A region to serve: its name, or its options (all but its `url`). */
export type LoopbackRegion = string | Omit<MockRegionOptions, "url">;

/**
 * Serves one mocked region per name (or per options object: `models`,
 * `usage`, `mode` …) on its own loopback port, under
 * `http://127.0.0.1:<port>/v1`. `shared` options (e.g. `reply`) apply to all.
 */
export async function serveRegions(
  specs: readonly LoopbackRegion[],
  shared: Omit<MockRegionOptions, "name" | "url" | "mode"> = {},
): Promise<LoopbackRegions> {
  const options = specs.map((spec) =>
    typeof spec === "string" ? { name: spec } : spec
  );
  const names = options.map((o) => o.name);
  const sockets = new Set<Socket>();
  const servers = names.map((name) => {
    const server = createServer((req, res) =>
      void serve(() => set.region(name), req, res)
    );
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    return server;
  });
  const ports: number[] = [];
  for (const server of servers) {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new Error("no port");
    }
    ports.push(address.port);
  }
  const set = mockRegions(
    options.map((o, i) => ({ ...o, url: `http://127.0.0.1:${ports[i]}/v1` })),
    shared,
  );
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      const closed = servers.map((server) =>
        new Promise<void>((resolve) => server.close(() => resolve()))
      );
      for (const server of servers) server.closeAllConnections?.();
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
    })();
  return {
    regions: set.regions,
    region: (name) => set.region(name),
    counts: () => set.counts(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
