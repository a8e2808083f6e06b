// A loopback server of streamed answers that the test paces by hand: each
// request gets `200 text/event-stream` headers at once, then exactly the
// bytes the test writes, when it writes them, and nothing more until the
// test ends it. It also tells when the client went away (closed the
// connection before the end): a stalled stream must free its socket.
// node:http only, so the same file runs under Deno, Node and Bun.

import { createServer, type ServerResponse } from "node:http";
import { listen, readBody } from "./_listen.ts";

/** One streamed answer, as the test drives it. */
export interface PacedResponse {
  /** Writes `text` to the body; resolves once the socket took it. */
  write(text: string): Promise<void>;
  /** Ends the body. */
  end(): void;
  /** Resolves once the client closed the connection before the end. */
  readonly gone: Promise<void>;
}

/** The server; one {@linkcode PacedResponse} per request, in order. */
export interface PacedServer extends AsyncDisposable {
  /** Base URL, `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** The `n`-th response (1-based), once its headers have been sent. */
  response(n: number): Promise<PacedResponse>;
  /** Stops the server and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** Starts a paced SSE server on a free port of 127.0.0.1. */
export async function startPacedSse(): Promise<PacedServer> {
  const responses: PacedResponse[] = [];
  const open = new Set<ServerResponse>();
  const waiters: { n: number; resolve: (r: PacedResponse) => void }[] = [];
  const server = createServer(async (req, res) => {
    await readBody(req).catch(() => {});
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    });
    res.flushHeaders();
    open.add(res);
    let onGone!: () => void;
    const gone = new Promise<void>((resolve) => onGone = resolve);
    res.on("close", () => {
      open.delete(res);
      if (!res.writableFinished) onGone();
    });
    responses.push({
      write: (text) =>
        new Promise<void>((resolve, reject) =>
          res.write(text, (error) => error ? reject(error) : resolve())
        ),
      end: () => void res.end(),
      gone,
    });
    for (const waiter of [...waiters]) {
      if (responses.length >= waiter.n) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(responses[waiter.n - 1]);
      }
    }
  });
  const listening = await listen(server);
  const close = () => {
    for (const res of open) res.destroy();
    open.clear();
    return listening.close();
  };
  return {
    url: `${listening.origin}/v1`,
    response: (n) =>
      responses.length >= n
        ? Promise.resolve(responses[n - 1])
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close,
    [Symbol.asyncDispose]: close,
  };
}
