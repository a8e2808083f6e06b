// The node:http plumbing the loopback test servers share: listen on a free
// port of 127.0.0.1 and close with every connection, read a request body.
// node:http only, so it runs under Deno, Node and Bun.

import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";

/** A server listening on loopback. */
export interface Listening {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Stops listening and destroys every open connection (once). */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1; `close()` also ends open sockets. */
export async function listen(server: Server): Promise<Listening> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error(`unexpected address ${address}`);
  }
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      }),
  };
}

/** Reads a request's whole body. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
