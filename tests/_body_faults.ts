// A loopback server whose answer body arrives in two parts, the second only
// when the test releases it: for bodies larger than `bufferLimit`, to see
// that the call is committed (returned to the caller) before the whole body
// has arrived, and that the caller still gets every byte. node:http only, so
// the same file runs under Deno, Node and Bun.

import { createServer, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import { listen, readBody } from "./_listen.ts";

/** Options of {@linkcode startSplitBody}. */
export interface SplitBodyOptions {
  /** Length of the whole body, in bytes. */
  size: number;
  /** Bytes sent with the headers, before the release (may be 0). */
  first: number;
  /** Whether the answer says its length (`content-length`) or is chunked. */
  contentLength: boolean;
}

/** A server that answers every request with a body sent in two parts. */
export interface SplitBody extends AsyncDisposable {
  /** Base URL, `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Resolves once a request's headers and first part have been written. */
  readonly firstSent: Promise<void>;
  /** Sends the rest of every held body (and of later ones at once). */
  release(): void;
  /** Stops the server and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** The body bytes: byte `i` is `i % 251`, so a lost or moved chunk shows. */
export function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

/** Starts a split-body server on a free port of 127.0.0.1. */
export async function startSplitBody(
  options: SplitBodyOptions,
): Promise<SplitBody> {
  const { size, first, contentLength } = options;
  const body = Buffer.from(pattern(size));
  const held = new Set<ServerResponse>();
  let released = false;
  let requests = 0;
  let onFirstSent!: () => void;
  const firstSent = new Promise<void>((resolve) => onFirstSent = resolve);

  const finish = (res: ServerResponse) => {
    held.delete(res);
    if (!res.destroyed) res.end(body.subarray(first));
  };

  const server = createServer(async (req, res) => {
    await readBody(req).catch(() => {});
    requests += 1;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      ...(contentLength ? { "content-length": String(size) } : {}),
    });
    if (first > 0) res.write(body.subarray(0, first));
    else res.flushHeaders();
    onFirstSent();
    if (released) return finish(res);
    held.add(res);
    res.on("close", () => held.delete(res));
  });
  const listening = await listen(server);
  const close = () => {
    for (const res of held) res.destroy();
    held.clear();
    return listening.close();
  };

  return {
    url: `${listening.origin}/v1`,
    get requests() {
      return requests;
    },
    firstSent,
    release() {
      released = true;
      for (const res of [...held]) finish(res);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
