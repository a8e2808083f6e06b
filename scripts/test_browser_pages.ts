// Two (then three) Chromium pages of one origin sharing a `broadcastStore`.
//
// 1. esbuild bundles tests/browser/_pages.ts — a page script with one pool
//    (`createPool` from `ky-failover/core`, `sharedState` over
//    `broadcastStore` from `ky-failover/shared` and `ky-failover/broadcast`,
//    all from the npm build by its exports map, as scripts/test_browser.ts
//    does) and a fake `fetch` that counts requests per endpoint: r1 answers
//    503, r2 answers 200.
// 2. A loopback server serves it on one origin; playwright-core drives
//    Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) headless, with the
//    pages in one browser context: one origin, one BroadcastChannel.
// 3. The driver works each page through `globalThis.__pages` and checks:
//    page A opens r1's breaker and page B — which never calls r1 — sees it
//    open and sends r1 nothing; a page C opened later starts with r1 open
//    (the store's ask and tell); closing A's pool, then A's page, leaves B
//    and C working; no page logs an error.
//
// Prints one line per test and `chromium-pages: N passed, N failed`; exits
// non-zero on a failure. Everything is bounded by one deadline, and the
// browser and the server are closed whatever happens.
// Usage (after build_npm.ts): node scripts/test_browser_pages.ts

import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import process from "node:process";
import * as esbuild from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import type { EndpointState, PagesApi } from "../tests/browser/_pages.ts";
import {
  CHROMIUM_ARGS,
  type Routes,
  runDeadline,
  serveRoutes,
} from "./_browser_run.ts";

// Run in place or from a copy under dist/matrix: either way the repository
// is the nearest folder up with a deno.json.
let root = new URL("..", import.meta.url).pathname;
while (!existsSync(join(root, "deno.json"))) {
  const up = join(root, "..");
  if (up === root) throw new Error("no deno.json above this script");
  root = up;
}
const at = (p: string) => join(root, p);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** The whole run, browser start and teardown included. */
const RUN_TIMEOUT_MS = 90_000;
/** How long a page may take to hear what another page's pool learned. */
const HEAR_WITHIN_MS = 3_000;
/** How far two pages' `availableAt` for the same breaker may differ. */
const SAME_TIME_MS = 1_000;
const LABEL = "chromium-pages";

const { started, bounded, end: endDeadline } = runDeadline(RUN_TIMEOUT_MS);

// ------------------------------------------------------------ bundle page
const { exports: subpaths } = JSON.parse(
  await import("node:fs/promises").then((fs) =>
    fs.readFile(at("npm/package.json"), "utf8")
  ).catch(() => {
    throw new Error("npm/package.json is missing: run scripts/build_npm.ts");
  }),
) as { exports: Record<string, { default: string }> };
const fromNpm: esbuild.Plugin = {
  name: "ky-failover-from-npm",
  setup(build) {
    build.onResolve({ filter: /^ky-failover(\/.+)?$/ }, ({ path }) => {
      const key = path === "ky-failover"
        ? "."
        : `./${path.slice("ky-failover/".length)}`;
      const target = subpaths[key];
      if (target === undefined) throw new Error(`no export for ${path}`);
      return { path: at(join("npm", target.default)) };
    });
  },
};
const bundled = await esbuild.build({
  entryPoints: [at("tests/browser/_pages.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  absWorkingDir: root,
  plugins: [fromNpm],
  logLevel: "error",
  write: false,
  outfile: "pages.js",
});
await esbuild.stop();
const pagesJs = bundled.outputFiles[0].contents;

// ------------------------------------------------------------------ serve
const html = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>ky-failover: pages sharing a broadcastStore</title>
<script type="module" src="/pages.js"></script>
`;
const routes: Routes = {
  "/": ["text/html; charset=utf-8", html],
  "/pages.js": ["text/javascript", pagesJs],
};
const site = await serveRoutes(routes);
const origin = site.origin;

// ------------------------------------------------------------------ pages
/** Calls `method` of a page's `globalThis.__pages`. */
function on<K extends keyof PagesApi>(
  page: Page,
  method: K,
  ...args: Parameters<PagesApi[K]>
): Promise<Awaited<ReturnType<PagesApi[K]>>> {
  return bounded(page.evaluate(
    ({ method, args }) =>
      (globalThis as unknown as {
        __pages: Record<string, (...args: unknown[]) => unknown>;
      }).__pages[method](...args),
    { method, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<PagesApi[K]>>>);
}

/** r1's state on `page`. */
async function r1(page: Page): Promise<EndpointState> {
  const state = (await on(page, "status")).find((s) => s.name === "r1");
  if (state === undefined) throw new Error("no endpoint r1 in status()");
  return state;
}

/** Requests `endpoint` received from `page` (every path). */
async function sent(page: Page, endpoint: string): Promise<number> {
  const byPath = (await on(page, "counts"))[endpoint] ?? {};
  return Object.values(byPath).reduce((a, b) => a + b, 0);
}

/** Polls r1 on `page` until it is open; how long that took, in ms. */
async function untilOpen(page: Page, label: string): Promise<number> {
  const from = Date.now();
  for (;;) {
    const state = await r1(page);
    if (state.state === "open") return Date.now() - from;
    if (Date.now() - from > HEAR_WITHIN_MS) {
      throw new Error(
        `${label} still sees r1 ${state.state} after ${HEAR_WITHIN_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

function equal<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

// -------------------------------------------------------------------- run
interface Result {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}
const results: Result[] = [];
async function test(name: string, fn: () => Promise<void>): Promise<void> {
  const from = performance.now();
  let error: string | undefined;
  try {
    await bounded(fn());
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const ms = Math.round(performance.now() - from);
  results.push({ name, ok: error === undefined, ms, error });
  const line = `${error === undefined ? "ok" : "FAILED"} ${name} (${ms} ms)`;
  console.log(error === undefined ? line : `${line}\n    ${error}`);
}

/** Errors each page logged (console errors, uncaught exceptions). */
const pageErrors: string[] = [];
const channel = `pages-${randomUUID()}`;
let browser: Browser | undefined;
let version = "unknown";
let fatal: string | undefined;
try {
  browser = await bounded(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  }));
  version = browser.version();
  // One context: the pages share an origin's storage partition, so one
  // BroadcastChannel.
  const context = await bounded(browser.newContext());
  const openPage = async (label: string): Promise<Page> => {
    const page = await context.newPage();
    page.on("pageerror", (error) => {
      pageErrors.push(`${label}: uncaught ${error.message}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") {
        pageErrors.push(`${label}: console.error ${message.text()}`);
      }
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => "__pages" in globalThis, undefined, {
      timeout: 10_000,
    });
    await on(page, "open", channel);
    return page;
  };

  const a = await bounded(openPage("A"));
  const b = await bounded(openPage("B"));
  let aOpenUntil = 0;

  await test("page A: calls until r1's breaker opens, each answered by r2", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10 && (await r1(a)).state !== "open"; i++) {
      statuses.push(...await on(a, "call", 1));
    }
    const state = await r1(a);
    check(
      state.state === "open",
      `r1 is ${state.state} on A after ${statuses.length} calls`,
    );
    equal(statuses, [200, 200, 200], "A's call statuses");
    equal(await sent(a, "r1"), 3, "A's requests to r1");
    equal(await sent(a, "r2"), 3, "A's requests to r2");
    aOpenUntil = state.availableAt ?? 0;
    check(aOpenUntil > Date.now(), `A's r1 availableAt ${aOpenUntil} is past`);
  });

  await test("page B: sees r1 open without calling it (polled status())", async () => {
    equal(await sent(b, "r1"), 0, "B's requests to r1 before");
    const ms = await untilOpen(b, "B");
    const state = await r1(b);
    const skew = Math.abs((state.availableAt ?? 0) - aOpenUntil);
    check(
      skew <= SAME_TIME_MS,
      `B's r1 availableAt ${state.availableAt} is ${skew} ms off A's ${aOpenUntil}`,
    );
    console.log(
      `    B saw it within ${ms} ms of polling; availableAt ${
        Math.round(skew)
      } ms off A's`,
    );
  });

  await test("page B: its next calls send 0 requests to r1", async () => {
    equal(await on(b, "call", 3), [200, 200, 200], "B's call statuses");
    equal(await sent(b, "r1"), 0, "B's requests to r1");
    equal(await sent(b, "r2"), 3, "B's requests to r2");
  });

  let c: Page | undefined;
  await test("page C, opened later: starts with r1 open (the store's ask and tell), sends r1 nothing", async () => {
    c = await openPage("C");
    const ms = await untilOpen(c, "C");
    const state = await r1(c);
    const skew = Math.abs((state.availableAt ?? 0) - aOpenUntil);
    check(
      skew <= SAME_TIME_MS,
      `C's r1 availableAt ${state.availableAt} is ${skew} ms off A's ${aOpenUntil}`,
    );
    equal(await on(c, "call", 3), [200, 200, 200], "C's call statuses");
    equal(await sent(c, "r1"), 0, "C's requests to r1");
    equal(await sent(c, "r2"), 3, "C's requests to r2");
    console.log(`    C had it ${ms} ms after its pool was created`);
  });

  await test("closing A's pool leaves B and C working (r1 still open, no request to it)", async () => {
    await on(a, "close");
    equal(await on(b, "call", 3), [200, 200, 200], "B's call statuses");
    equal((await r1(b)).state, "open", "r1 on B");
    equal(await sent(b, "r1"), 0, "B's requests to r1");
    equal(await sent(b, "r2"), 6, "B's requests to r2");
    check(c !== undefined, "no page C");
    equal(await on(c, "call", 1), [200], "C's call statuses");
    equal(await sent(c, "r1"), 0, "C's requests to r1");
  });

  await test("closing page A leaves B and C working", async () => {
    await a.close();
    equal(await on(b, "call", 2), [200, 200], "B's call statuses");
    equal(await sent(b, "r1"), 0, "B's requests to r1");
    check(c !== undefined, "no page C");
    equal(await on(c, "call", 2), [200, 200], "C's call statuses");
    equal(await sent(c, "r1"), 0, "C's requests to r1");
  });

  await test("no page logged an error, and no store went down", async () => {
    const down: string[] = [];
    for (const [label, page] of [["B", b], ["C", c]] as const) {
      if (page === undefined) continue;
      const events = await on(page, "events");
      if (events.includes("store down")) down.push(label);
    }
    check(down.length === 0, `store down on ${down.join(", ")}`);
    check(pageErrors.length === 0, pageErrors.join("\n    "));
  });
} catch (error) {
  fatal = error instanceof Error ? error.message : String(error);
  console.log(`${LABEL}: ${fatal}`);
} finally {
  // Teardown gets a few seconds of its own, deadline or not; a Chromium
  // that will not close is killed with this process.
  const teardown = setTimeout(() => {
    console.log(`${LABEL}: teardown hung; exiting`);
    process.exit(1);
  }, 15_000);
  await browser?.close().catch(() => {});
  await site.close();
  endDeadline();
  clearTimeout(teardown);
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed + (fatal === undefined ? 0 : 1);
console.log(
  `\n${LABEL} ${version}: ${
    Math.round((Date.now() - started) / 100) / 10
  } s, channel ${channel}`,
);
console.log(`${LABEL}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
