/**
 * The dashboard's web server, on 127.0.0.1 only (`node:http`, so it runs
 * under Deno, Node and Bun): `GET /` serves the page (`page.html`,
 * `page.css`, `page.js` next to this file, read once at start), and
 * `GET /events` is a server-sent event stream (`text/event-stream`) that
 * every message of {@linkcode DashboardServer.send} is pushed to.
 *
 * @module
 */

import { createServer, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";

/** Options of {@linkcode startDashboardServer}. */
export interface DashboardServerOptions {
  /**
   * Port on 127.0.0.1; `0`: any free one. Default: 8787, or any free port
   * when 8787 is taken.
   */
  port?: number;
  /**
   * A page connected to `/events`: send it what it missed (the current
   * state) with `send(type, data)`, before any later message.
   */
  onConnect?: (send: (type: string, data: unknown) => void) => void;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Pages connected to `/events` right now. */
  readonly viewers: number;
  /** Pushes one message to every connected page. */
  send(type: string, data: unknown): void;
  /** Ends every stream and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** The default port, tried first when none is given. */
export const DEFAULT_PORT = 8787;

/** A stream whose page reads no more than this far behind is dropped. */
const MAX_BACKLOG = 1 << 20;

const FILES: Record<string, [file: string, type: string]> = {
  "/": ["page.html", "text/html; charset=utf-8"],
  "/page.css": ["page.css", "text/css; charset=utf-8"],
  "/page.js": ["page.js", "text/javascript; charset=utf-8"],
};

const HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** One SSE message. */
function frame(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Starts the server. Rejects when the port asked for is taken (an error
 * with `code: "EADDRINUSE"`).
 */
export async function startDashboardServer(
  options: DashboardServerOptions = {},
): Promise<DashboardServer> {
  const files = new Map<string, [body: string, type: string]>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    files.set(path, [
      await readFile(new URL(file, import.meta.url), "utf8"),
      type,
    ]);
  }
  const streams = new Set<ServerResponse>();
  let port = 0;

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    // Only this machine's names for it (no DNS rebinding).
    const host = req.headers.host ?? "";
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      res.writeHead(421, HEADERS).end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...HEADERS, allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/events" && req.method === "GET") {
      res.writeHead(200, {
        ...HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        connection: "keep-alive",
      });
      res.write("retry: 2000\n\n");
      options.onConnect?.((type, data) => res.write(frame(type, data)));
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    if (path === "/favicon.ico") {
      res.writeHead(204, HEADERS).end();
      return;
    }
    const file = files.get(path);
    if (file === undefined) {
      res.writeHead(404, { ...HEADERS, "content-type": "text/plain" })
        .end("not found\n");
      return;
    }
    res.writeHead(200, { ...HEADERS, "content-type": file[1] }).end(file[0]);
  });

  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      server.once("error", failed);
      server.listen(at, "127.0.0.1", () => {
        server.off("error", failed);
        resolve((server.address() as { port: number }).port);
      });
    });
  try {
    port = await listen(options.port ?? DEFAULT_PORT);
  } catch (error) {
    const inUse = (error as { code?: string }).code === "EADDRINUSE";
    if (!inUse || options.port !== undefined) throw error;
    port = await listen(0);
  }

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    get viewers() {
      return streams.size;
    },
    send(type, data) {
      const message = frame(type, data);
      for (const res of streams) {
        if (res.writableLength > MAX_BACKLOG) res.destroy();
        else res.write(message);
      }
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
