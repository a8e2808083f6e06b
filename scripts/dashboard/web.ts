/**
 * `demo.ts --web`: the demo with a live dashboard. Serves the page (see
 * `server.ts`), waits for it to connect, then plays the demo's story while
 * pushing it to the page (see `_collect.ts`), and plays it again after a
 * short pause, for as long as a page watches. Ctrl-C (or `signal`) stops
 * it: the current run stops sending, its calls in flight finish, its
 * summary is printed, the server closes, and nothing is left running.
 *
 * @module
 */

import process from "node:process";
import type { DemoOptions, DemoSummary } from "../demo.ts";
import { RunCollector } from "./_collect.ts";
import {
  type DashboardServer,
  DEFAULT_PORT,
  startDashboardServer,
} from "./server.ts";

/** Options of {@linkcode runWeb}: those of `runDemo()` and more. */
export interface WebOptions extends DemoOptions {
  /** Plays the demo once: `runDemo` of `demo.ts`. */
  run: (options: DemoOptions) => Promise<DemoSummary>;
  /** See `startDashboardServer()`: default 8787, or any free port. */
  port?: number;
  /** Handle Ctrl-C (SIGINT). Default `true`. */
  sigint?: boolean;
}

/** Messages a page that connects late is sent first: the latest of each. */
const KEPT = new Set(["hello", "run", "phase", "snapshot"]);

/**
 * Runs the demo with its dashboard until Ctrl-C or `options.signal`;
 * resolves with the exit code: 0 when no call failed, 1 when one did, 2
 * when the port asked for is taken.
 */
export async function runWeb(options: WebOptions): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const scale = options.config ? 1 : options.timeScale ?? 1;
  const stop = new AbortController();
  const signal = stop.signal;
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort);
  if (options.signal?.aborted) stop.abort();
  const onSigint = () => {
    if (signal.aborted) {
      log("second Ctrl-C: exiting now");
      process.exit(130);
    }
    log("Ctrl-C: stopping (the calls in flight finish first)");
    stop.abort();
  };
  if (options.sigint !== false) process.on("SIGINT", onSigint);

  /** The latest `hello`, `run`, `phase`, `snapshot`, for pages that connect late. */
  const kept = new Map<string, unknown>();
  let wake = () => {};
  let server: DashboardServer | undefined;
  let failures = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    try {
      server = await startDashboardServer({
        port: options.port,
        onConnect: (send) => {
          for (const [type, data] of kept) send(type, data);
          // Deferred: the server counts the stream as a viewer right after.
          queueMicrotask(() => wake());
        },
      });
    } catch (error) {
      if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
      console.error(
        `demo: port ${options.port} is taken; pick another with --port <n> (0: any free port)`,
      );
      return 2;
    }
    const dashboard = server;
    const send = (type: string, data: unknown) => {
      if (type === "hello") kept.clear();
      if (KEPT.has(type)) kept.set(type, data);
      dashboard.send(type, data);
    };
    /** Resolves once a page is connected, or when stopped. */
    const viewer = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        wake = done;
        signal.addEventListener("abort", done);
        if (dashboard.viewers > 0 || signal.aborted) done();
      });
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timeout);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timeout = setTimeout(done, ms);
        signal.addEventListener("abort", done);
      });

    log(`dashboard: ${dashboard.url}  (open it in a browser; Ctrl-C stops)`);
    if (
      options.port === undefined && !dashboard.url.endsWith(`:${DEFAULT_PORT}/`)
    ) {
      log(
        `  (port ${DEFAULT_PORT} is taken, so any free one; --port <n> picks one)`,
      );
    }
    const tickMs = Math.max(100, Math.round(250 * scale));
    const betweenMs = Math.max(1500, Math.round(5000 * scale));
    /** The last run's figures, for the final `run` message. */
    let last: Record<string, unknown> = { run: 1 };
    for (let run = 1; !signal.aborted; run++) {
      last = { run };
      if (dashboard.viewers === 0) {
        send("run", { run, state: "waiting" });
        log(
          run === 1
            ? "waiting for the page: the story starts when it opens"
            : `no page open: run ${run} starts when one opens`,
        );
        await viewer();
        if (signal.aborted) break;
      }
      if (run > 1) log(`\n━━━━ run ${run}`);
      send("run", { run, state: "running" });
      const collector = new RunCollector({
        run,
        tickMs,
        send,
        timeScale: scale,
      });
      timer = setInterval(() => collector.tick(), tickMs);
      let summary: DemoSummary;
      try {
        summary = await options.run({
          timeScale: options.timeScale,
          config: options.config,
          // The timings and the legend once; later runs from phase 1 on.
          log: run === 1 ? log : fromFirstPhase(log),
          observer: collector,
          signal,
        });
      } finally {
        clearInterval(timer);
        timer = undefined;
      }
      collector.finish();
      failures += summary.failures;
      last = {
        run,
        calls: summary.calls,
        failedCalls: summary.failures,
        failovers: summary.failovers,
        durationMs: Math.round(summary.durationMs),
        // Played to its end (not cut short by Ctrl-C).
        complete: !signal.aborted,
      };
      if (signal.aborted) break;
      if (options.config) {
        // Real endpoints cost money: one run, then the page stays.
        send("run", { ...last, state: "finished", nextInMs: null });
        log("the dashboard stays up until Ctrl-C");
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        break;
      }
      send("run", { ...last, state: "finished", nextInMs: betweenMs });
      log(
        `\nrun ${run} done; the story plays again in ${
          betweenMs / 1000
        } s while a page watches (Ctrl-C stops)`,
      );
      await pause(betweenMs);
    }
    // The pages stop listening: no reconnecting to a closed port.
    send("run", { ...last, state: "stopped" });
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener("abort", onAbort);
    if (options.sigint !== false) process.off("SIGINT", onSigint);
    await server?.close();
  }
  log("dashboard closed");
  return failures === 0 ? 0 : 1;
}

/** `log`, from the run's first phase line on (no timings, no legend). */
function fromFirstPhase(log: (line: string) => void): (line: string) => void {
  let on = false;
  return (line) => {
    on ||= line.includes("━━ phase 1/");
    if (on) log(line);
  };
}
