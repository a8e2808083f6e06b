// The demo's live dashboard (scripts/demo.ts --web), in Chromium.
//
// 1. Starts the demo as a child process — `deno run … scripts/demo.ts --web
//    --port 0 --time-scale 0.25` — and reads the URL it prints.
// 2. playwright-core drives Debian's Chromium (/usr/bin/chromium, or
//    $CHROMIUM) headless to the page; the demo's story starts when the page
//    connects to its event stream.
// 3. Each check waits on the page's DOM (page.waitForFunction, polled, with
//    a timeout): the four endpoints are listed; the primary takes the
//    traffic; when it goes down its lane opens and the traffic moves to hk,
//    with failover arrows primary → hk; it comes back healthy with traffic;
//    the 429 phase benches it; the last phase sends everything to
//    deepseek; the run ends with no failed call and tokens and cost per
//    endpoint; no console error, no page error; Ctrl-C ends the demo
//    cleanly (exit code 0).
//
// With `--screenshot <file.png>` it also saves the page (1280×800) during
// the last phase's outage, for the README.
//
// Prints one line per test and `chromium-dashboard: N passed, N failed`;
// exits non-zero on a failure. Everything is bounded by one deadline; the
// browser is closed and the demo killed whatever happens.
// Usage: node scripts/test_dashboard.ts [--screenshot docs/dashboard.png]
//          [--time-scale <f>]   (default 0.25; docs/dashboard.png is taken at 1)

import { type ChildProcess, spawn } from "node:child_process";
import type { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, runDeadline } from "./_browser_run.ts";

let root = new URL("..", import.meta.url).pathname;
while (!existsSync(join(root, "deno.json"))) {
  const up = join(root, "..");
  if (up === root) throw new Error("no deno.json above this script");
  root = up;
}
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const DENO = process.env.DENO ??
  (existsSync(join(root, "node_modules/.bin/deno"))
    ? join(root, "node_modules/.bin/deno")
    : "deno");
/** The whole run, browser start and teardown included. */
const RUN_TIMEOUT_MS = 90_000;
/** One check: a run of the story takes ~7 s at this scale, and it replays. */
const CHECK_TIMEOUT_MS = 25_000;
const LABEL = "chromium-dashboard";

// What the functions run in the page use of it: the project's type checks
// have no DOM library.
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: {
  body: PageElement;
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

const argv = process.argv.slice(2);
const option = (flag: string) => {
  const at = argv.indexOf(flag);
  return at === -1 ? undefined : argv[at + 1] ?? "";
};
const screenshot = option("--screenshot");
const TIME_SCALE = option("--time-scale") ?? "0.25";
if (
  (screenshot !== undefined && !screenshot.endsWith(".png")) ||
  !(Number(TIME_SCALE) > 0 && Number(TIME_SCALE) <= 1)
) {
  console.error(
    "usage: node scripts/test_dashboard.ts [--screenshot <file.png>] [--time-scale <0 < f ≤ 1>]",
  );
  process.exit(2);
}

const { started, bounded, end: endDeadline } = runDeadline(RUN_TIMEOUT_MS);

// ------------------------------------------------------------------ demo
const output: string[] = [];
let demo: ChildProcess | undefined;
/** Resolves with the demo's exit code (or signal) once it has exited. */
let exited: Promise<number | string> = Promise.resolve("not started");

/** Starts the demo; resolves with the dashboard's URL. */
function startDemo(): Promise<string> {
  const child = spawn(DENO, [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "scripts/demo.ts",
    "--web",
    "--port",
    "0",
    "--time-scale",
    TIME_SCALE,
  ], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  demo = child;
  exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "?"));
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    const read = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line);
        if (url) resolve(url[1]);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.on("error", reject);
    child.on("exit", (code) =>
      reject(
        new Error(
          `the demo exited (${code}) before printing its URL:\n${
            output.join("\n")
          }`,
        ),
      ));
  });
}

// ------------------------------------------------------------------ page
/** Waits until `fn(arg)` is true in the page (polled every 25 ms). */
async function until<A>(
  page: Page,
  what: string,
  fn: (arg: A) => unknown,
  arg: A,
): Promise<void> {
  try {
    await bounded(
      page.waitForFunction(fn as (arg: unknown) => unknown, arg as unknown, {
        polling: 25,
        timeout: CHECK_TIMEOUT_MS,
      }),
    );
  } catch (error) {
    const state = await page.evaluate(() =>
      JSON.stringify({
        phase: document.body.dataset.phase,
        run: document.body.dataset.run,
        lanes: Array.from(document.querySelectorAll(".lane")).map((
          l,
        ) => `${l.dataset.name} ${l.dataset.state} ${l.dataset.rps}/s`),
      })
    ).catch(() => "unknown");
    throw new Error(
      `${what}: ${(error as Error).message.split("\n")[0]}; page: ${state}`,
    );
  }
}

/** The lane's state and attempts per second, as the page shows them. */
const laneIs = (
  { name, states, minRps, phase }: {
    name: string;
    states: string[];
    minRps?: number;
    phase?: string;
  },
) => {
  const lane = document.querySelector(
    `.lane[data-name="${name}"]`,
  );
  return lane !== null && states.includes(lane.dataset.state ?? "") &&
    Number(lane.dataset.rps) >= (minRps ?? 0) &&
    (phase === undefined || document.body.dataset.phase === phase);
};

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

// -------------------------------------------------------------------- run
interface Result {
  name: string;
  ok: boolean;
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
  results.push({ name, ok: error === undefined });
  const line = `${error === undefined ? "ok" : "FAILED"} ${name} (${ms} ms)`;
  console.log(error === undefined ? line : `${line}\n    ${error}`);
}

const pageErrors: string[] = [];
let browser: Browser | undefined;
let version = "unknown";
let fatal: string | undefined;
try {
  const url = await bounded(startDemo());
  browser = await bounded(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  }));
  version = browser.version();
  const page = await bounded(browser.newPage({
    viewport: { width: 1280, height: 800 },
  }));
  page.on("pageerror", (error) => {
    pageErrors.push(`uncaught ${error.message}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") {
      pageErrors.push(`console.error ${message.text()}`);
    }
  });

  await test("the page loads, connects and lists the four endpoints", async () => {
    const response = await page.goto(url);
    check(response?.ok(), `GET / answered ${response?.status()}`);
    await until(
      page,
      "four lanes and a live stream",
      () =>
        Array.from(document.querySelectorAll(".lane")).map((l) =>
            l.dataset.name
          ).join() === "primary,hk,sg,deepseek" &&
        document.getElementById("conn")?.dataset.conn === "live",
      undefined,
    );
    const phases = await page.$$eval("#steps li", (li) => li.length);
    check(phases === 8, `${phases} phases listed, expected 8`);
  });

  await test("all up: the primary is healthy and takes the traffic", async () => {
    await until(page, "primary healthy with traffic", laneIs, {
      name: "primary",
      states: ["healthy"],
      minRps: 1,
      phase: "all up",
    });
  });

  await test("primary down: its lane opens and the traffic moves to hk", async () => {
    await until(page, "primary open", laneIs, {
      name: "primary",
      states: ["open"],
      phase: "primary down",
    });
    await until(page, "hk carrying the traffic", laneIs, {
      name: "hk",
      states: ["healthy"],
      minRps: 1,
      phase: "primary down",
    });
  });

  await test("failovers appear: an arrow primary → hk, the count, the log", async () => {
    await until(
      page,
      "a failover arrow primary → hk",
      () => {
        const arrow = document.querySelector(
          '.arrow[data-from="primary"][data-to="hk"]',
        );
        return arrow !== null && Number(arrow.dataset.total) > 0 &&
          Number(document.getElementById("failovers")?.textContent) > 0 &&
          Array.from(document.querySelectorAll("#log li")).some((li) =>
            /failover.*primary → hk/.test(li.textContent ?? "")
          );
      },
      undefined,
    );
  });

  await test("primary back up: healthy again, and the traffic returns to it", async () => {
    await until(page, "primary healthy with traffic again", laneIs, {
      name: "primary",
      states: ["healthy"],
      minRps: 1,
      phase: "primary back up",
    });
  });

  await test("primary 500: opens again; primary 429: benched (rate-limited)", async () => {
    await until(page, "primary open on 500s", laneIs, {
      name: "primary",
      states: ["open"],
      phase: "primary 500",
    });
    await until(page, "primary rate-limited", laneIs, {
      name: "primary",
      states: ["rate-limited"],
      phase: "primary 429",
    });
  });

  await test("only another provider: every call reaches deepseek, at its model and price", async () => {
    await until(
      page,
      "primary, hk and sg out, deepseek carrying the traffic",
      (minRps) =>
        document.body.dataset.phase === "only another provider" &&
        ["primary", "hk", "sg"].every((name) =>
          ["open", "half-open"].includes(
            document.querySelector(`.lane[data-name="${name}"]`)?.dataset
              .state ?? "",
          )
        ) &&
        Number(
            document.querySelector('.lane[data-name="deepseek"]')?.dataset.rps,
          ) >= minRps &&
        document.querySelector('.arrow[data-from="sg"][data-to="deepseek"]') !==
          null,
      // Half the demo's 20 calls a second (time-scaled): a busy machine's
      // timers run late.
      10 / Number(TIME_SCALE),
    );
    if (screenshot !== undefined) {
      // A better picture once deepseek has served half of the phase's 60
      // calls (as many at any time scale); taken anyway if a slow machine
      // never gets there.
      await page.waitForFunction(
        () =>
          Number(
              document.querySelector('.lane[data-name="deepseek"] .req')
                ?.textContent?.split(" / ")[0],
            ) >= 30 &&
          document.querySelector('.lane[data-name="primary"]')?.dataset
              .state === "open",
        undefined,
        { polling: 25, timeout: 3000 * Number(TIME_SCALE) },
      ).catch(() => {});
      const file = resolve(root, screenshot);
      await mkdir(dirname(file), { recursive: true });
      // CSS animations (the log's fade-in, the arrows' flow) finished or
      // at rest, for a still picture.
      await page.screenshot({ path: file, animations: "disabled" });
      console.log(`    screenshot: ${screenshot}`);
    }
    const model = await page.$eval(
      '.lane[data-name="deepseek"] .model',
      (el) => el.textContent,
    );
    check(/deepseek-v3\.2/.test(model ?? ""), `deepseek's model: ${model}`);
  });

  await test("the run ends: no failed call, tokens and cost per endpoint", async () => {
    await until(
      page,
      "the run finished",
      () => document.body.dataset.runState === "finished",
      undefined,
    );
    const figures = await page.evaluate(() => ({
      calls: document.getElementById("calls")?.textContent,
      failed: document.getElementById("failed")?.textContent,
      cost: document.getElementById("cost")?.textContent,
      lanes: Object.fromEntries(
        Array.from(document.querySelectorAll(".lane")).map((l) => [
          l.dataset.name,
          {
            tokens: l.querySelector(".tok")?.textContent,
            cost: l.querySelector(".usd")?.textContent,
          },
        ]),
      ),
    }));
    check(
      Number(figures.calls?.replace(/,/g, "")) > 100,
      `calls: ${figures.calls}`,
    );
    check(figures.failed === "0", `failed calls: ${figures.failed}`);
    check(/^\$0\.\d+$/.test(figures.cost ?? ""), `cost: ${figures.cost}`);
    for (const name of ["primary", "hk", "deepseek"]) {
      const lane = figures.lanes[name];
      check(
        /^[1-9][\d,]* \/ [1-9]/.test(lane?.tokens ?? "") &&
          /^\$0\.\d*[1-9]/.test(lane?.cost ?? ""),
        `${name}: tokens ${lane?.tokens}, cost ${lane?.cost}`,
      );
    }
    const page$ = await page.content();
    check(!/sk-demo/.test(page$), "a key reached the page");
  });

  await test("no console error and no page error", () => {
    check(pageErrors.length === 0, pageErrors.join("\n    "));
    return Promise.resolve();
  });

  await page.close();
  await test("Ctrl-C ends the demo cleanly (exit code 0, server closed)", async () => {
    demo?.kill("SIGINT");
    const code = await Promise.race([
      exited,
      new Promise<string>((done) =>
        setTimeout(() => done("still running 15 s after Ctrl-C"), 15_000)
      ),
    ]);
    check(code === 0, `exit: ${code}\n${output.slice(-5).join("\n")}`);
    check(
      output.includes("dashboard closed"),
      `no "dashboard closed":\n${output.slice(-5).join("\n")}`,
    );
  });
} catch (error) {
  fatal = error instanceof Error ? error.message : String(error);
  console.log(`${LABEL}: ${fatal}`);
} finally {
  const teardown = setTimeout(() => {
    console.log(`${LABEL}: teardown hung; exiting`);
    demo?.kill("SIGKILL");
    process.exit(1);
  }, 15_000);
  await browser?.close().catch(() => {});
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    demo.kill("SIGKILL");
    await exited;
  }
  endDeadline();
  clearTimeout(teardown);
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed + (fatal === undefined ? 0 : 1);
console.log(
  `\n${LABEL} ${version}: ${
    Math.round((Date.now() - started) / 100) / 10
  } s, time scale ${TIME_SCALE}`,
);
console.log(`${LABEL}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
