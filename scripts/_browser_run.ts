// What the browser test drivers (scripts/test_browser*.ts,
// scripts/test_dashboard.ts) share: one deadline for a whole run — every
// step awaits through `bounded`, so a run that would hang fails with a
// clear error instead —, the flags Chromium runs with, and a loopback
// server for a page's files.

import { createServer } from "node:http";

/** Headless Chromium's flags here: no sandbox (root), no GPU, no chatter. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A page's files by path: content type and body. */
export type Routes = Record<string, [type: string, body: string | Uint8Array]>;

/**
 * Serves `routes` on 127.0.0.1 (a free port; a query is ignored, anything
 * else is a 404, nothing is cached); `close()` ends it and its connections.
 */
export async function serveRoutes(
  routes: Routes,
): Promise<{ origin: string; close(): Promise<void> }> {
  const site = createServer((req, res) => {
    const route = routes[(req.url ?? "/").split("?")[0]];
    if (!route) return void res.writeHead(404).end();
    res.writeHead(200, {
      "content-type": route[0],
      "cache-control": "no-store",
    }).end(route[1]);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  const { port } = site.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    close() {
      site.closeAllConnections();
      return new Promise((resolve) => site.close(() => resolve()));
    },
  };
}

/** A run's deadline: `bounded(promise)` races it; `end()` clears it. */
export interface RunDeadline {
  /** When the run started (`Date.now()`). */
  readonly started: number;
  /** `promise`, or the run's deadline if that comes first. */
  bounded<T>(promise: Promise<T>): Promise<T>;
  /** The run is over: clears the deadline's timer. */
  end(): void;
}

/** Starts a deadline of `ms` for the run. */
export function runDeadline(ms: number): RunDeadline {
  let expire: (error: Error) => void = () => {};
  const deadline = new Promise<never>((_, reject) => {
    expire = reject;
  });
  deadline.catch(() => {});
  const timer = setTimeout(
    () => expire(new Error(`the run did not finish in ${ms} ms`)),
    ms,
  );
  return {
    started: Date.now(),
    bounded: (promise) => Promise.race([promise, deadline]),
    end: () => clearTimeout(timer),
  };
}
