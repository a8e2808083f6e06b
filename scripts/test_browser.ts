// The behavioural suite in headless Chromium against the esbuild bundle.
//
// 1. esbuild bundles every test file that does not need a Node server
//    (tests/*_test.ts; files that reach node:http & co. are listed and
//    left to the other runtimes) plus tests/browser/cors.ts into one page
//    script. `ky-failover` stays external: the page's import map points it
//    at dist/browser/ky-failover.min.js (scripts/bundle.ts), the very file
//    whose size is reported. `ky-failover/testing`, `ky-failover/core` and the
//    features come from the npm build (by its exports map),
//    `msw/node` is swapped for MSW's service worker (tests/browser/
//    _msw_node.ts) and tests/_harness.ts for tests/browser/_harness.ts.
// 2. A loopback server serves the page, the bundles and MSW's worker; real
//    loopback regions with CORS answer tests/browser/cors.ts, and two more
//    origins (tests/browser/_redirect_server.ts) serve its redirect tests:
//    an endpoint that redirects and a target that records what reaches it,
//    read by the page through `__redirectLog()`; what each loopback region
//    received, through `__received(name)`.
// 3. playwright-core drives Debian's Chromium (/usr/bin/chromium, or
//    $CHROMIUM) headless; the page reports each result back.
//
// Prints one line per test and `chromium: N passed, N failed`.
// Usage (after build_npm.ts and bundle.ts), from the copy that
// scripts/test_runtimes.sh makes: node dist/matrix/scripts/test_browser.ts

import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import process from "node:process";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";
import { serveRegions } from "../tests/_loopback_regions.ts";
import { serveRedirects } from "../tests/browser/_redirect_server.ts";
import { CHROMIUM_ARGS, type Routes, serveRoutes } from "./_browser_run.ts";

// Run from the copy in dist/matrix (where `ky-failover` is the installed npm
// package), or in place; either way the repository is the nearest folder
// up with a deno.json.
let root = new URL("..", import.meta.url).pathname;
while (!existsSync(join(root, "deno.json"))) {
  const up = join(root, "..");
  if (up === root) throw new Error("no deno.json above this script");
  root = up;
}
const at = (p: string) => join(root, p);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const RUN_TIMEOUT_MS = 5 * 60_000;

interface Result {
  file: string;
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

// ------------------------------------------------------------ bundle tests
const subpaths: Record<string, { default: string }> = JSON.parse(
  await readFile(at("npm/package.json"), "utf8"),
).exports;
const swap: esbuild.Plugin = {
  name: "browser-swaps",
  setup(build) {
    build.onResolve(
      { filter: /^ky-failover$/ },
      () => ({ path: "ky-failover", external: true }),
    );
    // Subpaths (core, features, testing) come from the npm build, by its
    // exports map.
    build.onResolve({ filter: /^ky-failover\/.+$/ }, ({ path }) => {
      const target = subpaths[`./${path.slice("ky-failover/".length)}`];
      if (target === undefined) throw new Error(`no export for ${path}`);
      return { path: at(join("npm", target.default)) };
    });
    build.onResolve(
      { filter: /^msw\/node$/ },
      () => ({ path: at("tests/browser/_msw_node.ts") }),
    );
    build.onResolve(
      { filter: /\/_harness\.ts$/ },
      () => ({ path: at("tests/browser/_harness.ts") }),
    );
  },
};
const options: esbuild.BuildOptions = {
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  absWorkingDir: root,
  plugins: [swap],
  logLevel: "error",
  write: false,
};

const candidates = [
  ...(await readdir(at("tests"))).filter((f) => f.endsWith("_test.ts")).sort()
    .map((f) => `tests/${f}`),
  "tests/browser/cors.ts",
];
// Which files reach Node built-ins (node:http, node:net …, or a package's
// bare "net", "stream": the Redis client's)? Those need Node and run on the
// other runtimes only.
const builtins = new Set(builtinModules);
const isBuiltin = (path: string) =>
  path.startsWith("node:") || builtins.has(path.split("/")[0]);
const probe = await esbuild.build({
  ...options,
  entryPoints: candidates,
  outdir: "dist/browser/probe",
  external: ["node:*", ...builtinModules],
  metafile: true,
});
const needsNode = new Set<string>();
for (const output of Object.values(probe.metafile!.outputs)) {
  if (output.entryPoint && output.imports.some((i) => isBuiltin(i.path))) {
    needsNode.add(output.entryPoint);
  }
}
const files = candidates.filter((f) => !needsNode.has(f));
const harness = JSON.stringify(at("tests/browser/_harness.ts"));
const shim = JSON.stringify(at("tests/browser/_msw_node.ts"));
const entry = [
  `import { run, setFile } from ${harness};`,
  `import { drainRequests, startWorker } from ${shim};`,
  "try {",
  "  await startWorker();",
  ...files.map((f) =>
    `  setFile(${JSON.stringify(relative("tests", f))}); ` +
    `await import(${JSON.stringify(at(f))});`
  ),
  "  const results = await run((r) => globalThis.__report(r), drainRequests);",
  "  await globalThis.__done(results);",
  "} catch (error) {",
  "  const failure = { file: '(page)', name: 'load the suite', ok: false, ms: 0, error: String(error) };",
  "  globalThis.__report(failure);",
  "  await globalThis.__done([failure]);",
  "}",
].join("\n");
const bundled = await esbuild.build({
  ...options,
  stdin: {
    contents: entry,
    resolveDir: root,
    loader: "ts",
    sourcefile: "browser_suite.ts",
  },
  outfile: "dist/browser/tests.js",
});
await esbuild.stop();
const testsJs = bundled.outputFiles![0].contents;

// ------------------------------------------------------------------ serve
const library = await readFile(at("dist/browser/ky-failover.min.js")).catch(
  () => {
    throw new Error(
      "dist/browser/ky-failover.min.js is missing: run scripts/bundle.ts first",
    );
  },
);
const worker = await readFile(at("node_modules/msw/lib/mockServiceWorker.js"));

const regions = await serveRegions([
  "ok",
  "flaky",
  "limited",
  "hang",
  "bad",
  "reset",
  // Providers that serve only their own models (tests/browser/cors.ts).
  { name: "gpt-down", models: ["gpt-4.1"], mode: { status: 503 } },
  { name: "gpt-only", models: ["gpt-4.1"] },
  { name: "deepseek", models: ["deepseek-chat", "deepseek-reasoner"] },
  // Reports chosen usage, for the cost test.
  {
    name: "deepseek-metered",
    models: ["deepseek-chat"],
    usage: { prompt_tokens: 1234, completion_tokens: 567, cached_tokens: 1000 },
  },
], {
  reply: (request, { region }) =>
    new URL(request.url).pathname.endsWith("/echo")
      ? Response.json({
        region: region.name,
        authorization: request.headers.get("authorization"),
        custom: request.headers.get("x-custom"),
      })
      : undefined,
});
regions.region("flaky").mode = { status: 503 };
regions.region("limited").mode = {
  status: 429,
  headers: { "retry-after-ms": "5000" },
};
regions.region("hang").mode = "hang";
regions.region("bad").mode = { status: 400 };
regions.region("reset").mode = "refused";
const closedPort = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});
const urls = {
  ...Object.fromEntries(regions.regions.map((r) => [r.name, r.url])),
  closed: `http://127.0.0.1:${closedPort}/v1`,
};
const redirects = await serveRedirects();

const page = `<!doctype html>
<meta charset="utf-8">
<title>ky-failover browser suite</title>
<script>globalThis.__REGIONS__ = ${JSON.stringify(urls)};
globalThis.__REDIRECTS__ = ${JSON.stringify(redirects.urls)};</script>
<script type="importmap">{ "imports": { "ky-failover": "/ky-failover.min.js" } }</script>
<script type="module" src="/tests.js"></script>
`;
const routes: Routes = {
  "/": ["text/html; charset=utf-8", page],
  "/tests.js": ["text/javascript", testsJs],
  "/ky-failover.min.js": ["text/javascript", library],
  "/mockServiceWorker.js": ["text/javascript", worker],
};
const site = await serveRoutes(routes);
const origin = site.origin;

// -------------------------------------------------------------------- run
const profile = await mkdtemp(join(tmpdir(), "ky-failover-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: [...CHROMIUM_ARGS, "--disable-quic"],
});
const version = context.browser()?.version() ?? "unknown";
let results: Result[] = [];
let pageErrors = 0;
try {
  const tab = context.pages()[0] ?? await context.newPage();
  tab.on("pageerror", (error) => {
    pageErrors++;
    console.log(`page error: ${error.message}`);
  });
  tab.on("console", (message) => {
    // Failed requests are what this suite is about; show anything else.
    const text = message.text();
    if (
      message.type() === "error" && !text.startsWith("Failed to load resource")
    ) {
      console.log(`console: ${text}`);
    }
  });
  const done = new Promise<Result[]>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`the browser suite did not finish in ${RUN_TIMEOUT_MS} ms`),
        ),
      RUN_TIMEOUT_MS,
    );
    void tab.exposeFunction("__done", (all: Result[]) => {
      clearTimeout(timer);
      resolve(all);
    });
  });
  await tab.exposeFunction("__redirectLog", () => redirects.log());
  // What a loopback region received so far (path, key and body of each).
  await tab.exposeFunction(
    "__received",
    (name: string) =>
      regions.region(name).received.map((r) => ({
        method: r.method,
        path: r.path,
        authorization: r.authorization,
        body: r.body,
      })),
  );
  await tab.exposeFunction("__report", (r: Result) => {
    const line = `${r.ok ? "ok" : "FAILED"} ${r.file} > ${r.name} (${
      Math.round(r.ms)
    } ms)`;
    console.log(r.ok ? line : `${line}\n    ${r.error}`);
  });
  await tab.goto(`${origin}/`);
  results = await done;
} catch (error) {
  console.log(`chromium: ${error instanceof Error ? error.message : error}`);
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
  await regions.close();
  await redirects.close();
  await site.close();
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed + (results.length === 0 ? 1 : 0) +
  pageErrors;
console.log(
  `\nchromium ${version}: ${files.length} files; not in the browser (need Node servers): ${
    [...needsNode].map((f) => relative("tests", f)).join(", ") || "none"
  }`,
);
console.log(`chromium: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
