/**
 * The issue 5 ("Performance") benchmark of ky-failover, over real loopback
 * sockets — not a test. One file for Deno, Node 24 and Bun; `npm run bench`
 * (scripts/bench.sh) runs it on all three and prints one table.
 *
 * ```sh
 * # Deno, from the repository (ky-failover → mod.ts through deno.json):
 * deno run --allow-net=127.0.0.1 --allow-run --allow-env --allow-read \
 *   --allow-write=dist/bench --allow-sys bench/failover_bench.ts \
 *   [--quick] [--memory-calls N] [--only S1,S4,MEMORY] [--seed N] \
 *   [--out dist/bench/deno.json]
 * # Node 24 / Bun: from a directory where `ky-failover` is the installed
 * # package (scripts/bench.sh builds one in dist/bench-matrix):
 * node bench/failover_bench.ts …
 * bun bench/failover_bench.ts …
 * ```
 *
 * Scenarios (one call = `POST {base}/chat/completions` with a small JSON
 * body, the JSON answer read and parsed):
 *
 * - S1 cost per call, all regions up: ky-failover (`api.fetch`, `api.ky`)
 *   against anchors (raw `fetch`, plain ky, cockatiel, opossum, the OpenAI
 *   SDK), sequential and 64 at a time, interleaved in rounds; the regions run
 *   in a separate Node process (bench/_server.ts) so the client keeps its
 *   own core. Figures are medians over rounds, ratios are medians of the
 *   per-round ratios to raw `fetch` measured in the same round.
 * - S2 refused primary, S3 blackholed primary, S4 three flaky regions,
 *   S5 primary answering 429 with `Retry-After: 2`, S6 stalled stream,
 *   S7 healthy slow stream: the regions of tests/_region_farm.ts in this
 *   process.
 * - OTEL: what `otel()` costs per call, over the S1 loopback regions:
 *   `api.fetch` with `otel()` (the real SDK: a `BatchSpanProcessor` and a
 *   metric reader exporting every second, both to no-op exporters; the
 *   W3C propagator and the AsyncLocalStorage context manager registered,
 *   as `NodeSDK` does), with `otel()` over the API's no-op providers
 *   (ky-failover's own part: hooks, events, attributes), and with the same
 *   two spans a call gets made by hand (the SDK's floor), against the same
 *   preset without any, interleaved in rounds; each ratio to "off" is the
 *   median of per-round ratios.
 * - Memory: heap after 1,000,000 `api.fetch` calls over an in-memory
 *   transport vs after a 10,000-call warm-up, with GC forced before each,
 *   in a child process of the same runtime that loads only ky-failover
 *   (bench/_memory.ts).
 *
 * Every figure is printed with its issue 5 target and `met` / `missed`;
 * `--out` writes them as JSON (bench/_table.ts combines runtimes).
 *
 * @module
 */

import process from "node:process";
import os from "node:os";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import ky from "ky";
import OpenAI from "openai";
import {
  circuitBreaker,
  ConsecutiveBreaker,
  handleAll,
  retry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import CircuitBreaker from "opossum";
import {
  createFailover,
  type Failover,
  type FailoverOptions,
  isStreamIdleTimeoutError,
} from "ky-failover";
import { createPool } from "ky-failover/core";
import { otel } from "ky-failover/otel";
import {
  context,
  createNoopMeter,
  propagation,
  ProxyTracerProvider,
  SpanKind,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BatchSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import { type Farm, startFarm } from "../tests/_region_farm.ts";
import { seededRandom } from "../tests/_manual_clock.ts";
import type { Figure, Result } from "./_result.ts";

// ------------------------------------------------------------------ runtime

type RuntimeName = "deno" | "node" | "bun";
interface Globals {
  Deno?: { version: { deno: string; v8: string; typescript: string } };
  Bun?: { version: string; revision: string; gc(full: boolean): void };
  gc?: () => void;
}
const globals = globalThis as unknown as Globals;
const runtime: RuntimeName = globals.Deno
  ? "deno"
  : globals.Bun
  ? "bun"
  : "node";
const runtimeVersion = globals.Deno
  ? `Deno ${globals.Deno.version.deno} (V8 ${globals.Deno.version.v8})`
  : globals.Bun
  ? `Bun ${globals.Bun.version}`
  : `Node ${process.version} (V8 ${process.versions.v8})`;

// --------------------------------------------------------------------- args

const argv = process.argv.slice(2);
function argValue(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const QUICK = argv.includes("--quick");
const ONLY = argValue("--only")?.toUpperCase().split(",");
const OUT = argValue("--out");
/** Seed of the flaky regions' PRNG in S4. */
const SEED = Number(argValue("--seed")) || 20260505;
const MEMORY_CALLS = Number(argValue("--memory-calls")) ||
  (QUICK ? 100_000 : 1_000_000);

const enabled = (id: string) => ONLY === undefined || ONLY.includes(id);

/** Sizes of the runs; `--quick` is a smoke run (~20 s per runtime). */
const SIZE = QUICK
  ? {
    seqRounds: 6,
    seqCalls: 40,
    concRounds: 3,
    concCalls: 640,
    warmSeq: 100,
    warmConc: 640,
    s2Calls: 200,
    s3Later: 60,
    s4Calls: 1_000,
    s5Samples: 3,
    s6Reps: 2,
  }
  : {
    seqRounds: 30,
    seqCalls: 100,
    concRounds: 15,
    concCalls: 2_000,
    warmSeq: 400,
    warmConc: 3_200,
    s2Calls: 200,
    s3Later: 200,
    s4Calls: 5_000,
    s5Samples: 5,
    s6Reps: 3,
  };
const CONCURRENCY = 64;

// ------------------------------------------------------------------ figures

const figures: Figure[] = [];
const mark = (met: boolean) => met ? "✓" : "✗";

function report(figure: Figure): void {
  figures.push(figure);
  const verdict = figure.met === undefined
    ? ""
    : figure.met
    ? "  → met"
    : "  → MISSED";
  console.log(
    `  ${figure.row.padEnd(44)} ${
      figure.value.padEnd(30)
    } target ${figure.target}${verdict}`,
  );
}

function note(text: string): void {
  console.log(`      ${text}`);
}

// ---------------------------------------------------------------- utilities

const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };
const JSON_HEADERS = { "content-type": "application/json" };

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const median = (values: readonly number[]) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
};

const ms = (v: number) => `${v.toFixed(2)} ms`;
const us = (v: number) => `${v.toFixed(0)} µs`;
const x = (v: number) => `${v.toFixed(2)}×`;
const pct = (v: number) => `${(v * 100).toFixed(2)} %`;

const sleepUntil = (t: number) =>
  new Promise<void>((resolve) =>
    setTimeout(resolve, Math.max(0, t - performance.now()))
  );

/** Client CPU time (user + system) in µs, where the runtime reports it. */
function cpuNow(): number | undefined {
  try {
    const { user, system } = process.cpuUsage();
    return user + system;
  } catch {
    return undefined;
  }
}

/** One chat call through a pool's fetch, answer parsed; `true` when 2xx. */
async function poolCall(api: Failover): Promise<boolean> {
  try {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(chat),
    });
    await response.json();
    return response.ok;
  } catch {
    return false;
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

/** A pool over a farm: the first region priority 1, the others priority 2. */
function tiered(farm: Farm, extra: Partial<FailoverOptions> = {}): Failover {
  return createFailover({
    endpoints: farm.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      apiKey: `sk-${r.name}`,
      priority: i === 0 ? 1 : 2,
    })),
    ...extra,
  });
}

// ---------------------------------------------------------------- S1 server

interface ServerProcess {
  urls: string[];
  stop(): Promise<void>;
}

/** Spawns bench/_server.ts under Node 24 and reads its URLs. */
async function startServerProcess(): Promise<ServerProcess> {
  const node = process.env.BENCH_SERVER_NODE || "node";
  const script = fileURLToPath(new URL("./_server.ts", import.meta.url));
  const child = spawn(node, [script, "r1", "r2", "r3"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (data: string) => {
      buffer += data;
      const end = buffer.indexOf("\n");
      if (end >= 0) resolve(buffer.slice(0, end));
    });
    child.once("error", reject);
    exited.then((code) =>
      reject(
        new Error(
          `bench/_server.ts exited (${code}) before printing its URLs; ` +
            `it needs Node ≥ 22.18 (type stripping): set BENCH_SERVER_NODE or put Node 24 first on PATH (${node})`,
        ),
      )
    );
  });
  const { urls } = JSON.parse(line) as { urls: string[] };
  return {
    urls,
    async stop() {
      child.stdin!.end();
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// ----------------------------------------------------------------------- S1

type Call = () => Promise<unknown>;
interface Contender {
  id: string;
  label: string;
  call: Call;
}

interface Sample {
  wallUs: number;
  cpuUs: number | undefined;
}

/** Times `drive` making `n` calls: wall and client CPU µs per call. */
async function timeCalls(
  n: number,
  drive: () => Promise<unknown>,
): Promise<Sample> {
  const cpu0 = cpuNow();
  const start = performance.now();
  await drive();
  const wall = performance.now() - start;
  const cpu1 = cpuNow();
  return {
    wallUs: wall * 1000 / n,
    cpuUs: cpu0 === undefined || cpu1 === undefined
      ? undefined
      : (cpu1 - cpu0) / n,
  };
}

function runSequential(call: Call, n: number): Promise<Sample> {
  return timeCalls(n, async () => {
    for (let i = 0; i < n; i++) await call();
  });
}

function runConcurrent(
  call: Call,
  n: number,
  concurrency: number,
): Promise<Sample> {
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      await call();
    }
  };
  return timeCalls(
    n,
    () => Promise.all(Array.from({ length: concurrency }, worker)),
  );
}

interface ModeResult {
  /** Median µs per call over rounds, per contender. */
  wallUs: Record<string, number>;
  /** Median client CPU µs per call over rounds, per contender. */
  cpuUs: Record<string, number | undefined>;
  /** Median over rounds of (contender ÷ raw fetch) in the same round. */
  ratio: Record<string, number>;
  /** Median over rounds of (api.ky ÷ plain ky) in the same round. */
  kyRatio: number;
  /** Every round's µs per call, per contender. */
  rounds: Record<string, number[]>;
}

async function measureMode(
  contenders: readonly Contender[],
  rounds: number,
  run: (call: Call) => Promise<Sample>,
): Promise<ModeResult> {
  const walls: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  const ratios: Record<string, number[]> = {};
  const kyRatios: number[] = [];
  for (const c of contenders) {
    walls[c.id] = [];
    cpus[c.id] = [];
    ratios[c.id] = [];
  }
  for (let round = 0; round < rounds; round++) {
    const order = contenders.map((_, i) =>
      contenders[(i + round) % contenders.length]
    );
    const roundWall: Record<string, number> = {};
    for (const c of order) {
      const sample = await run(c.call);
      roundWall[c.id] = sample.wallUs;
      walls[c.id].push(sample.wallUs);
      if (sample.cpuUs !== undefined) cpus[c.id].push(sample.cpuUs);
    }
    for (const c of contenders) {
      ratios[c.id].push(roundWall[c.id] / roundWall.raw);
    }
    kyRatios.push(roundWall.apiKy / roundWall.ky);
  }
  const pick = <T>(f: (id: string) => T) =>
    Object.fromEntries(contenders.map((c) => [c.id, f(c.id)]));
  return {
    wallUs: pick((id) => median(walls[id])),
    cpuUs: pick((id) => cpus[id].length ? median(cpus[id]) : undefined),
    ratio: pick((id) => median(ratios[id])),
    kyRatio: median(kyRatios),
    rounds: walls,
  };
}

async function s1(): Promise<void> {
  console.log(
    `\nS1 cost per call, 3 regions up (server: separate Node process), ` +
      `per contender ${SIZE.seqRounds} rounds × ${SIZE.seqCalls} sequential calls, then ${SIZE.concRounds} rounds × ${SIZE.concCalls} calls ${CONCURRENCY} at a time; contenders interleaved, order rotating each round`,
  );
  const server = await startServerProcess();
  const api = createFailover({
    endpoints: server.urls.map((url, i) => ({
      name: `r${i + 1}`,
      url,
      apiKey: "sk-bench",
    })),
  });
  // The same preset without usage accounting, and with a model renamed for
  // every endpoint (models() then reads each body and rewrites it): what
  // counting tokens and routing by model cost per call.
  const apiNoUsage = createFailover({
    endpoints: server.urls.map((url, i) => ({
      name: `r${i + 1}`,
      url,
      apiKey: "sk-bench",
    })),
    usage: false,
  });
  const apiRenamed = createFailover({
    endpoints: server.urls.map((url, i) => ({
      name: `r${i + 1}`,
      url,
      apiKey: "sk-bench",
      models: { [chat.model]: `${chat.model}-r${i + 1}` },
    })),
    prices: { [chat.model]: 8 },
  });
  // The core alone, with createFailover's default feature (the retry budget
  // lives in createFailover only) left out: what an SDK user of
  // `ky-failover/core` runs.
  const pool = createPool({
    endpoints: server.urls.map((url, i) => ({
      name: `r${i + 1}`,
      url,
      apiKey: "sk-bench",
    })),
  });
  /** One chat call through a pool's `fetch`, the answer parsed. */
  const chatThrough = async (poolFetch: typeof api.fetch) => {
    const response = await poolFetch("chat/completions", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(chat),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  };
  const url = `${server.urls[0]}/chat/completions`;
  const auth = { authorization: "Bearer sk-bench" };
  const rawHeaders = { ...JSON_HEADERS, ...auth };
  const rawCall = async (signal?: AbortSignal) => {
    const response = await fetch(url, {
      method: "POST",
      headers: rawHeaders,
      body: JSON.stringify(chat),
      signal,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  };
  const policy = wrap(
    retry(handleAll, { maxAttempts: 2 }),
    circuitBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new ConsecutiveBreaker(3),
    }),
    cockatielTimeout(30_000, TimeoutStrategy.Cooperative),
  );
  const breaker = new CircuitBreaker(() => rawCall(), { timeout: 30_000 });
  const openai = new OpenAI({
    baseURL: server.urls[0],
    apiKey: "sk-bench",
    maxRetries: 0,
  });
  const contenders: Contender[] = [
    { id: "raw", label: "raw fetch (anchor 1.00×)", call: () => rawCall() },
    {
      id: "apiFetch",
      label: "ky-failover api.fetch",
      call: () => chatThrough(api.fetch),
    },
    {
      id: "apiNoUsage",
      label: "  … usage: false",
      call: () => chatThrough(apiNoUsage.fetch),
    },
    {
      id: "apiRenamed",
      label: "  … models renamed, prices",
      call: () => chatThrough(apiRenamed.fetch),
    },
    {
      id: "poolFetch",
      label: "ky-failover/core pool.fetch",
      call: () => chatThrough(pool.fetch),
    },
    {
      id: "ky",
      label: "plain ky (ky's defaults)",
      call: () => ky.post(url, { json: chat, headers: auth }).json(),
    },
    {
      id: "apiKy",
      label: "ky-failover api.ky",
      call: () => api.ky.post("chat/completions", { json: chat }).json(),
    },
    {
      id: "cockatiel",
      label: "cockatiel retry+breaker+timeout",
      call: () => policy.execute(({ signal }) => rawCall(signal)),
    },
    {
      id: "opossum",
      label: "opossum breaker (timeout 30 s)",
      call: () => breaker.fire(),
    },
    {
      id: "openai",
      label: "OpenAI SDK (maxRetries 0)",
      call: () =>
        openai.chat.completions.create({
          model: chat.model,
          messages: [{ role: "user", content: "hi" }],
        }),
    },
  ];
  try {
    // Warm-up: JIT, keep-alive pools, every contender both ways.
    for (const c of contenders) {
      await runSequential(c.call, SIZE.warmSeq);
      await runConcurrent(c.call, SIZE.warmConc, CONCURRENCY);
    }
    const seq = await measureMode(
      contenders,
      SIZE.seqRounds,
      (call) => runSequential(call, SIZE.seqCalls),
    );
    const conc = await measureMode(
      contenders,
      SIZE.concRounds,
      (call) => runConcurrent(call, SIZE.concCalls, CONCURRENCY),
    );
    console.log(
      `  ${"contender".padEnd(34)} ${"seq µs/call".padStart(12)} ${
        "×raw".padStart(7)
      } ${"cpu µs".padStart(8)} │ ${"c64 µs/call".padStart(12)} ${
        "×raw".padStart(7)
      } ${"cpu µs".padStart(8)}`,
    );
    for (const c of contenders) {
      const cpu = (v: number | undefined) =>
        (v === undefined ? "–" : v.toFixed(0)).padStart(8);
      console.log(
        `  ${c.label.padEnd(34)} ${seq.wallUs[c.id].toFixed(1).padStart(12)} ${
          x(seq.ratio[c.id]).padStart(7)
        } ${cpu(seq.cpuUs[c.id])} │ ${
          conc.wallUs[c.id].toFixed(1).padStart(12)
        } ${x(conc.ratio[c.id]).padStart(7)} ${cpu(conc.cpuUs[c.id])}`,
      );
    }
    note(
      "ratios: median over rounds of (contender ÷ raw fetch in the same round); cpu: client CPU (user+system) per call",
    );
    note(
      "plain ky: ky.post(url, { json, headers }).json() with ky's defaults (retry limit 2 — POST is not retried; timeout 10 s)",
    );
    const data = (id: string) => ({
      seqUs: seq.wallUs[id],
      c64Us: conc.wallUs[id],
      seqRatio: seq.ratio[id],
      c64Ratio: conc.ratio[id],
      seqCpuUs: seq.cpuUs[id],
      c64CpuUs: conc.cpuUs[id],
      seqRounds: seq.rounds[id],
      c64Rounds: conc.rounds[id],
    });
    const pair = (a: number, b: number, limit?: number) => {
      if (limit === undefined) return `${x(a)} · ${x(b)}`;
      const [ma, mb] = [a <= limit, b <= limit];
      return ma && mb
        ? `${x(a)} · ${x(b)} ✓`
        : `${x(a)} ${mark(ma)} · ${x(b)} ${mark(mb)}`;
    };
    report({
      id: "s1.raw",
      row: "S1 raw fetch, µs/call (seq · c64)",
      value: `${seq.wallUs.raw.toFixed(0)} · ${conc.wallUs.raw.toFixed(0)}`,
      target: "anchor (1.00×)",
      data: data("raw"),
    });
    const apiFetchMet = seq.ratio.apiFetch <= 1.25 &&
      conc.ratio.apiFetch <= 1.25;
    report({
      id: "s1.apiFetch",
      row: "S1 api.fetch ÷ raw fetch (seq · c64)",
      value: pair(seq.ratio.apiFetch, conc.ratio.apiFetch, 1.25),
      target: "≤ 1.25×",
      met: apiFetchMet,
      data: data("apiFetch"),
    });
    report({
      id: "s1.apiNoUsage",
      row: "S1 api.fetch, usage: false ÷ raw fetch (seq · c64)",
      value: pair(seq.ratio.apiNoUsage, conc.ratio.apiNoUsage),
      target: "(what usage accounting costs: compare with api.fetch)",
      data: data("apiNoUsage"),
    });
    report({
      id: "s1.apiRenamed",
      row: "S1 api.fetch, models renamed + prices ÷ raw fetch (seq · c64)",
      value: pair(seq.ratio.apiRenamed, conc.ratio.apiRenamed),
      target: "(routing by model and rewriting each body)",
      data: data("apiRenamed"),
    });
    report({
      id: "s1.poolFetch",
      row: "S1 core pool.fetch ÷ raw fetch (seq · c64)",
      value: pair(seq.ratio.poolFetch, conc.ratio.poolFetch, 1.25),
      target: "≤ 1.25×",
      met: seq.ratio.poolFetch <= 1.25 && conc.ratio.poolFetch <= 1.25,
      data: data("poolFetch"),
    });
    const kyMet = seq.kyRatio <= 1.10 && conc.kyRatio <= 1.10;
    report({
      id: "s1.apiKyVsKy",
      row: "S1 api.ky ÷ plain ky (seq · c64)",
      value: pair(seq.kyRatio, conc.kyRatio, 1.10),
      target: "≤ 1.10×",
      met: kyMet,
      data: { seq: seq.kyRatio, c64: conc.kyRatio },
    });
    const anchors: [string, string][] = [
      ["apiKy", "S1 api.ky ÷ raw fetch (seq · c64)"],
      ["ky", "S1 plain ky ÷ raw fetch (seq · c64)"],
      ["cockatiel", "S1 cockatiel ÷ raw fetch (seq · c64)"],
      ["opossum", "S1 opossum ÷ raw fetch (seq · c64)"],
      ["openai", "S1 OpenAI SDK ÷ raw fetch (seq · c64)"],
    ];
    for (const [id, row] of anchors) {
      report({
        id: `s1.${id}`,
        row,
        value: pair(seq.ratio[id], conc.ratio[id]),
        target: id === "apiKy" ? "—" : "anchor",
        data: data(id),
      });
    }
  } finally {
    api.close();
    pool.close();
    apiNoUsage.close();
    apiRenamed.close();
    breaker.shutdown();
    await server.stop();
  }
}

// ----------------------------------------------------------------------- S2

async function s2(): Promise<void> {
  console.log(
    `\nS2 refused primary (priority 1 down, 2 backups up, default breaker), ${SIZE.s2Calls} sequential calls interleaved with a healthy pool`,
  );
  await using farm = await startFarm(["primary", "hk", "sg"]);
  await using healthyFarm = await startFarm(["primary", "hk", "sg"]);
  await farm.region("primary").setMode("down");
  let touchedPrimary = false;
  using down = tiered(farm, {
    onEvent: (e) => {
      if (e.type === "attempt" && e.endpoint === "primary") {
        touchedPrimary = true;
      }
    },
  });
  using healthy = tiered(healthyFarm);
  // Breaker off: every call pays the refused connection (the failover path,
  // for the JIT, and the raw cost of one failover).
  using everyCall = tiered(farm, { breaker: false, retryBudget: false });
  for (let i = 0; i < 100; i++) {
    await poolCall(healthy);
    await poolCall(everyCall);
  }
  const downMs: number[] = [];
  const healthyMs: number[] = [];
  const viaPrimaryMs: number[] = [];
  let ok = 0;
  let reached = 0;
  for (let i = 0; i < SIZE.s2Calls; i++) {
    const measureDown = async () => {
      touchedPrimary = false;
      const [success, t] = await timed(() => poolCall(down));
      if (success) ok++;
      downMs.push(t);
      if (touchedPrimary) {
        reached++;
        viaPrimaryMs.push(t);
      }
    };
    const measureHealthy = async () => {
      const [, t] = await timed(() => poolCall(healthy));
      healthyMs.push(t);
    };
    if (i % 2 === 0) {
      await measureDown();
      await measureHealthy();
    } else {
      await measureHealthy();
      await measureDown();
    }
  }
  // The cost of one failover, breaker off (information).
  const failoverMs: number[] = [];
  const pairedHealthy: number[] = [];
  for (let i = 0; i < SIZE.s2Calls; i++) {
    failoverMs.push((await timed(() => poolCall(everyCall)))[1]);
    pairedHealthy.push((await timed(() => poolCall(healthy)))[1]);
  }
  const p50Down = quantile(downMs, 0.5);
  const p50Healthy = quantile(healthyMs, 0.5);
  const requests = down.status()[0].requests;
  report({
    id: "s2.success",
    row: "S2 success rate",
    value: `${ok}/${SIZE.s2Calls}`,
    target: "100 %",
    met: ok === SIZE.s2Calls,
  });
  const added = p50Down - p50Healthy;
  report({
    id: "s2.p50",
    row: "S2 p50 over a healthy call",
    value: `${added >= 0 ? "+" : ""}${ms(added)} (${p50Down.toFixed(2)} vs ${
      p50Healthy.toFixed(2)
    })`,
    target: "≤ +1 ms",
    met: added <= 1,
    data: { p50Down, p50Healthy, p90Down: quantile(downMs, 0.9) },
  });
  report({
    id: "s2.primary",
    row: "S2 calls that reached the primary",
    value: `${reached}`,
    target: "≤ 3",
    met: reached <= 3,
    data: { reached, primaryRequests: requests },
  });
  note(
    `primary's status().requests ${requests}; the ${reached} calls that tried it: p50 ${
      ms(quantile(viaPrimaryMs, 0.5))
    }`,
  );
  const addedByFailover = quantile(failoverMs, 0.5) -
    quantile(pairedHealthy, 0.5);
  note(
    `breaker off (every call tries the refused primary first): p50 ${
      ms(quantile(failoverMs, 0.5))
    } vs healthy ${ms(quantile(pairedHealthy, 0.5))} → one failover adds ${
      ms(addedByFailover)
    }`,
  );
  figures.push({
    id: "s2.failoverCost",
    row: "S2 one failover, breaker off (p50 added)",
    value: `+${ms(addedByFailover)}`,
    target: "information",
    data: {
      p50: quantile(failoverMs, 0.5),
      p50Healthy: quantile(pairedHealthy, 0.5),
    },
  });
}

// ----------------------------------------------------------------------- S3

async function s3(): Promise<void> {
  console.log(
    `\nS3 blackholed primary (accepts, never answers), timeout: 500, default breaker; sequential calls`,
  );
  await using farm = await startFarm(["primary", "hk", "sg"]);
  await using healthyFarm = await startFarm(["primary", "hk", "sg"]);
  let touchedPrimary = false;
  using api = tiered(farm, {
    timeout: 500,
    onEvent: (e) => {
      if (e.type === "attempt" && e.endpoint === "primary") {
        touchedPrimary = true;
      }
    },
  });
  using healthy = tiered(healthyFarm, { timeout: 500 });
  for (let i = 0; i < 50; i++) { // warm-up, primary up: JIT, keep-alive
    await poolCall(api);
    await poolCall(healthy);
  }
  const primary = farm.region("primary");
  const before = primary.received.length;
  const requestsBefore = api.status()[0].requests;
  await primary.setMode("blackhole");
  const start = performance.now();
  const [firstOk, first] = await timed(() => poolCall(api));
  let ok = firstOk ? 1 : 0;
  let calls = 1;
  let lastToPrimary = touchedPrimary ? performance.now() - start : 0;
  // Calls until the breaker keeps the primary out (bounded), then the later
  // calls, each paired with a healthy-pool call.
  for (let i = 0; i < 20; i++) {
    touchedPrimary = false;
    const [success] = await timed(() => poolCall(api));
    calls++;
    if (success) ok++;
    if (touchedPrimary) lastToPrimary = performance.now() - start;
  }
  const later: number[] = [];
  const healthyMs: number[] = [];
  let laterToPrimary = 0;
  for (let i = 0; i < SIZE.s3Later; i++) {
    touchedPrimary = false;
    const [success, t] = await timed(() => poolCall(api));
    calls++;
    if (success) ok++;
    if (touchedPrimary) laterToPrimary++;
    later.push(t);
    healthyMs.push((await timed(() => poolCall(healthy)))[1]);
  }
  const reached = primary.received.length - before;
  const requests = api.status()[0].requests - requestsBefore;
  report({
    id: "s3.first",
    row: "S3 first call",
    value: `${first.toFixed(0)} ms`,
    target: "≤ 525 ms",
    met: first <= 525 && firstOk,
    data: { first, firstOk },
  });
  report({
    id: "s3.primary",
    row: "S3 calls that reached the primary",
    value: `${reached}`,
    target: "≤ 3",
    met: reached <= 3,
    data: { received: reached, requests, laterToPrimary },
  });
  const p50Later = quantile(later, 0.5);
  const p50Healthy = quantile(healthyMs, 0.5);
  const ratio = p50Later / p50Healthy;
  report({
    id: "s3.later",
    row: "S3 later calls, p50 vs healthy",
    value: `${x(ratio)} (${p50Later.toFixed(2)} vs ${
      p50Healthy.toFixed(2)
    } ms)`,
    target: "healthy speed (≤ 1.25×)",
    met: ratio <= 1.25 && laterToPrimary === 0,
    data: { p50Later, p50Healthy, ratio, laterCalls: later.length },
  });
  note(
    `${ok}/${calls} calls succeeded; primary status().requests +${requests}; last call to reach it ended ${
      ms(lastToPrimary)
    } after the blackhole began; later calls = the ${later.length} after the first 21`,
  );
}

// ----------------------------------------------------------------------- S4

async function s4(): Promise<void> {
  const seed = SEED;
  console.log(
    `\nS4 three regions flaky 20 % (HTTP 500, farm PRNG mulberry32 seed ${seed}), maxAttempts: 3, defaults otherwise; ${SIZE.s4Calls} sequential calls`,
  );
  await using farm = await startFarm(["r1", "r2", "r3"], {
    random: seededRandom(seed),
  });
  let breakerOpens = 0;
  let failures = 0;
  const exhausted: string[] = [];
  using api = createFailover({
    endpoints: farm.regions.map((r) => ({
      name: r.name,
      url: r.url,
      apiKey: "sk-bench",
    })),
    maxAttempts: 3,
    random: seededRandom(seed + 1),
    onEvent: (e) => {
      if (e.type === "breaker" && e.to === "open") breakerOpens++;
      if (e.type === "failure") {
        failures++;
        if (/budget/i.test(e.error.message)) exhausted.push(e.error.message);
      }
    },
  });
  for (const region of farm.regions) await region.setMode({ flaky: 0.2 });
  let ok = 0;
  for (let i = 0; i < SIZE.s4Calls; i++) {
    if (await poolCall(api)) ok++;
  }
  const attempts = api.status().reduce((sum, s) => sum + s.requests, 0);
  const received = farm.regions.reduce((s, r) => s + r.received.length, 0);
  const rate = ok / SIZE.s4Calls;
  const perCall = attempts / SIZE.s4Calls;
  report({
    id: "s4.success",
    row: "S4 success rate",
    value: `${pct(rate)} (${ok}/${SIZE.s4Calls})`,
    target: "≥ 99.2 %",
    met: rate >= 0.992,
    data: { ok, calls: SIZE.s4Calls, seed },
  });
  report({
    id: "s4.attempts",
    row: "S4 attempts per call",
    value: perCall.toFixed(3),
    target: "≤ 1.25",
    met: perCall <= 1.25,
    data: { attempts, received, breakerOpens, failures },
  });
  note(
    `${attempts} attempts (regions received ${received}); breaker opened ${breakerOpens}×; ` +
      `${
        SIZE.s4Calls - ok
      } calls failed (${failures} failure events, ${exhausted.length} for the retry budget); ` +
      `independent attempts would give ${pct(1 - 0.2 ** 3)} ± ${
        pct(Math.sqrt(0.008 * 0.992 / SIZE.s4Calls))
      } (1 σ at ${SIZE.s4Calls} calls) and ${
        (1 + 0.2 + 0.04).toFixed(2)
      } attempts/call`,
  );
}

// ----------------------------------------------------------------------- S5

async function s5(): Promise<void> {
  console.log(
    `\nS5 primary answers 429 with Retry-After: 2, 2 backups up; first call ×${SIZE.s5Samples} fresh pools, then a call every 20 ms`,
  );
  await using farm = await startFarm(["primary", "hk", "sg"]);
  const primary = farm.region("primary");
  const firsts: number[] = [];
  let allOk = true;
  let lastStart = 0;
  let api: Failover | undefined;
  try {
    for (let k = 0; k < SIZE.s5Samples; k++) {
      api?.close();
      await primary.setMode("up");
      api = tiered(farm);
      for (let i = 0; i < 50; i++) await poolCall(api); // warm, primary up
      await primary.setMode({ status: 429, headers: { "retry-after": "2" } });
      lastStart = performance.now();
      const [ok, t] = await timed(() => poolCall(api!));
      if (!ok) allOk = false;
      firsts.push(t);
    }
    // The last pool: traffic every 20 ms for the rest of the 2 s.
    const start = lastStart;
    const seen = primary.received.length;
    let calls = 0;
    let ok = 0;
    for (let t = start + 20; t + 20 <= start + 2_000; t += 20) {
      await sleepUntil(t);
      calls++;
      if (await poolCall(api!)) ok++;
    }
    const during = primary.received.length - seen;
    // Information: when the primary gets traffic again (it still answers 429).
    let backAfter: number | undefined;
    for (let t = start + 2_000; t <= start + 3_500; t += 20) {
      await sleepUntil(t);
      const before = primary.received.length;
      await poolCall(api!);
      if (primary.received.length > before) {
        backAfter = t - start;
        break;
      }
    }
    const firstMax = Math.max(...firsts);
    report({
      id: "s5.first",
      row: "S5 first call (429 → backup)",
      value: `${median(firsts).toFixed(2)} ms, max ${firstMax.toFixed(2)}`,
      target: "≤ 5 ms",
      met: firstMax <= 5 && allOk,
      data: { firsts },
    });
    report({
      id: "s5.primary",
      row: "S5 calls to the primary within 2 s",
      value: `${during} of ${calls}`,
      target: "0",
      met: during === 0,
      data: { during, calls, ok, backAfterMs: backAfter },
    });
    note(
      `${ok}/${calls} paced calls succeeded; first call to reach the primary again: ${
        backAfter === undefined
          ? "none by 3.5 s"
          : `${backAfter.toFixed(0)} ms after the first call started`
      }`,
    );
  } finally {
    api?.close();
  }
}

// ------------------------------------------------------------------- S6, S7

async function s6(): Promise<Figure> {
  await using farm = await startFarm(["primary", "hk"]);
  await farm.region("primary").setMode({ stallStream: 2 });
  using api = tiered(farm, { streamIdleTimeout: 1_000 });
  const afterChunk: number[] = [];
  const toError: number[] = [];
  const wrong: string[] = [];
  for (let i = 0; i < SIZE.s6Reps; i++) {
    const start = performance.now();
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const reader = response.body!.getReader();
    let lastChunk = start;
    for (;;) {
      try {
        const { done } = await reader.read();
        if (done) {
          wrong.push("the stream ended instead of stalling");
          break;
        }
        lastChunk = performance.now();
      } catch (error) {
        if (!isStreamIdleTimeoutError(error)) {
          wrong.push(`${(error as Error)?.name}: ${(error as Error)?.message}`);
        }
        break;
      }
    }
    const end = performance.now();
    toError.push(end - start);
    afterChunk.push(end - lastChunk);
  }
  const worst = Math.max(...afterChunk);
  return {
    id: "s6.stall",
    row: "S6 stalled stream: error after last chunk",
    value: `${worst.toFixed(0)} ms${
      SIZE.s6Reps > 1 ? ` (max of ${SIZE.s6Reps})` : ""
    }`,
    target: "≤ 1600 ms (idle 1000)",
    met: worst <= 1_600 && wrong.length === 0,
    data: { afterChunk, toError, wrong },
  };
}

async function s7(): Promise<Figure> {
  await using farm = await startFarm(["slow"]);
  await farm.region("slow").setMode({ streamEvery: 600 });
  using api = createFailover({
    endpoints: [{ name: "slow", url: farm.regions[0].url, apiKey: "sk" }],
    streamIdleTimeout: 1_000,
  });
  const start = performance.now();
  let error: string | undefined;
  let events = 0;
  let done = false;
  try {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += chunk.value;
    }
    events = text.split("\n\n").filter((e) => e.startsWith("data: ")).length;
    done = text.includes("data: [DONE]");
  } catch (e) {
    error = `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  const total = performance.now() - start;
  return {
    id: "s7.slow",
    row: "S7 slow healthy stream (event every 600 ms)",
    value: error === undefined && done
      ? `completes, ${events} events, ${(total / 1000).toFixed(2)} s`
      : `failed: ${error ?? "no [DONE]"}`,
    target: "completes (idle 1000)",
    met: error === undefined && done,
    data: { totalMs: total, events, error },
  };
}

async function streams(): Promise<void> {
  console.log(
    `\nS6 stream stalls after 2 events / S7 healthy stream, one event every 600 ms; streamIdleTimeout: 1000 (run side by side)`,
  );
  const [stall, slow] = await Promise.all([
    enabled("S6") ? s6() : undefined,
    enabled("S7") ? s7() : undefined,
  ]);
  if (stall) {
    report(stall);
    const d = stall.data as { toError: number[]; wrong: string[] };
    note(
      `request → error: ${d.toError.map((v) => v.toFixed(0)).join(", ")} ms${
        d.wrong.length ? `; wrong outcome: ${d.wrong.join("; ")}` : ""
      }`,
    );
  }
  if (slow) report(slow);
}

// --------------------------------------------------------------------- OTEL

/** A span exporter that drops what it is given. */
const dropSpans: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

/** A metric exporter that drops what it is given. */
const dropMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

async function otelOverhead(): Promise<void> {
  console.log(
    `\nOTEL what otel() costs per call: api.fetch with otel() (real SDK: BatchSpanProcessor + metric reader every 1 s, no-op exporters; ` +
      `W3C propagator and AsyncLocalStorage context manager registered) vs the same preset without it, ` +
      `${SIZE.seqRounds} rounds × ${SIZE.seqCalls} sequential calls, then ${SIZE.concRounds} rounds × ${SIZE.concCalls} calls ${CONCURRENCY} at a time, interleaved; ` +
      `server: separate Node process`,
  );
  const server = await startServerProcess();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: dropSpans })],
  });
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: dropMetrics,
        exportIntervalMillis: 1_000,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const endpoints = server.urls.map((url, i) => ({
    name: `r${i + 1}`,
    url,
    apiKey: "sk-bench",
  }));
  const off = createFailover({ endpoints });
  const on = createFailover({
    endpoints,
    features: [otel({ tracerProvider, meterProvider })],
  });
  // No SDK behind the API: what ky-failover's own part of otel() costs.
  const bare = createFailover({
    endpoints,
    features: [otel({
      tracerProvider: new ProxyTracerProvider(),
      meterProvider: { getMeter: () => createNoopMeter() },
    })],
  });
  // The SDK's floor: the same two spans a call gets from otel() — one
  // around the call, one per attempt whose context is sent — made by hand,
  // without attributes or metrics.
  const handTracer = tracerProvider.getTracer("bench");
  const handMade = createFailover({
    endpoints,
    middleware: [async (ctx, next) => {
      const span = handTracer.startSpan("POST", { kind: SpanKind.CLIENT });
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(context.active(), span), carrier);
      for (const [k, v] of Object.entries(carrier)) ctx.headers.set(k, v);
      try {
        await next();
      } finally {
        span.end();
      }
    }],
  });
  const handCall = async () => {
    const span = handTracer.startSpan("chat gpt-4.1");
    try {
      return await context.with(
        trace.setSpan(context.active(), span),
        callThrough(handMade),
      );
    } finally {
      span.end();
    }
  };
  const callThrough = (api: Failover) => async () => {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(chat),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  };
  const contenders: Contender[] = [
    { id: "off", label: "api.fetch", call: callThrough(off) },
    { id: "on", label: "api.fetch + otel()", call: callThrough(on) },
    {
      id: "bare",
      label: "api.fetch + otel(), no SDK",
      call: callThrough(bare),
    },
    { id: "hand", label: "api.fetch + 2 spans by hand", call: handCall },
  ];
  const ids = contenders.map((c) => c.id);
  /** Median per-round µs, and each ÷ off, in `rounds` interleaved rounds. */
  const measure = async (
    rounds: number,
    run: (call: Call) => Promise<Sample>,
  ) => {
    const walls: Record<string, number[]> = {};
    const cpus: Record<string, number[]> = {};
    const ratios: Record<string, number[]> = {};
    for (const id of ids) [walls[id], cpus[id], ratios[id]] = [[], [], []];
    for (let round = 0; round < rounds; round++) {
      const order = contenders.map((_, i) =>
        contenders[(i + round) % contenders.length]
      );
      const wall: Record<string, number> = {};
      for (const c of order) {
        const sample = await run(c.call);
        wall[c.id] = sample.wallUs;
        walls[c.id].push(sample.wallUs);
        if (sample.cpuUs !== undefined) cpus[c.id].push(sample.cpuUs);
      }
      for (const id of ids) ratios[id].push(wall[id] / wall.off);
    }
    const of = <T>(f: (id: string) => T) =>
      Object.fromEntries(ids.map((id) => [id, f(id)]));
    return {
      wallUs: of((id) => median(walls[id])),
      cpuUs: of((id) => cpus[id].length ? median(cpus[id]) : undefined),
      ratio: of((id) => median(ratios[id])),
      rounds: ratios,
    };
  };
  try {
    for (const c of contenders) {
      await runSequential(c.call, SIZE.warmSeq);
      await runConcurrent(c.call, SIZE.warmConc, CONCURRENCY);
    }
    const seq = await measure(
      SIZE.seqRounds,
      (call) => runSequential(call, SIZE.seqCalls),
    );
    const conc = await measure(
      SIZE.concRounds,
      (call) => runConcurrent(call, SIZE.concCalls, CONCURRENCY),
    );
    const cpu = (v: number | undefined) => v === undefined ? "–" : v.toFixed(0);
    for (const c of contenders) {
      note(
        `${c.label.padEnd(28)} seq ${seq.wallUs[c.id].toFixed(1)} µs/call (${
          x(seq.ratio[c.id])
        }, cpu ${cpu(seq.cpuUs[c.id])} µs) · c64 ${
          conc.wallUs[c.id].toFixed(1)
        } µs/call (${x(conc.ratio[c.id])}, cpu ${cpu(conc.cpuUs[c.id])} µs)`,
      );
    }
    const within = (v: number) => v <= 1.05;
    report({
      id: "otel.ratio",
      row: "OTEL api.fetch with otel() ÷ without (seq · c64)",
      value: `${x(seq.ratio.on)} ${mark(within(seq.ratio.on))} · ${
        x(conc.ratio.on)
      } ${mark(within(conc.ratio.on))}`,
      target: "≤ 1.05×",
      met: within(seq.ratio.on) && within(conc.ratio.on),
      data: { seq, conc },
    });
    report({
      id: "otel.bare",
      row: "OTEL … otel() without an SDK ÷ without (seq · c64)",
      value: `${x(seq.ratio.bare)} ${mark(within(seq.ratio.bare))} · ${
        x(conc.ratio.bare)
      } ${mark(within(conc.ratio.bare))}`,
      target: "≤ 1.05× (ky-failover's own part)",
      met: within(seq.ratio.bare) && within(conc.ratio.bare),
    });
    report({
      id: "otel.hand",
      row: "OTEL … 2 SDK spans by hand, no otel() ÷ without (seq · c64)",
      value: `${x(seq.ratio.hand)} · ${x(conc.ratio.hand)}`,
      target: "(the SDK's floor for a call's two spans)",
    });
  } finally {
    off.close();
    on.close();
    bare.close();
    handMade.close();
    context.disable();
    propagation.disable();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    await server.stop();
  }
}

// ------------------------------------------------------------------- memory

/** Runs bench/_memory.ts in a child process of this runtime. */
async function runMemoryChild(): Promise<{
  gc: boolean;
  readings: [number, number][];
  callUs: number;
  directUs: number;
  ownUs: number;
  chunkedOwnUs: number;
  command: string;
}> {
  const script = fileURLToPath(new URL("./_memory.ts", import.meta.url));
  const v8 = ["--expose-gc", "--no-flush-bytecode"];
  const args = runtime === "deno"
    ? ["run", `--v8-flags=${v8.join(",")}`, script, String(MEMORY_CALLS)]
    : runtime === "node"
    ? [...v8, script, String(MEMORY_CALLS)]
    : [script, String(MEMORY_CALLS)];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (data: string) => out += data);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`bench/_memory.ts exited with ${code}`);
  const command = `${runtime} ${
    args.map((a) => a === script ? "bench/_memory.ts" : a).join(" ")
  }`;
  return { ...JSON.parse(out.trim().split("\n").pop()!), command };
}

async function memory(): Promise<void> {
  console.log(
    `\nMemory: heap after ${
      MEMORY_CALLS.toLocaleString("en")
    } api.fetch calls vs after a 10,000-call warm-up, GC forced before each reading; ` +
      `in-memory transport (fetch option answering {"ok":true}) in a process that loads only ky-failover, so only its own retention is measured`,
  );
  const { gc, readings, callUs, directUs, ownUs, chunkedOwnUs, command } =
    await runMemoryChild();
  const heap0 = readings[0][1];
  const heap1 = readings[readings.length - 1][1];
  const delta = heap1 - heap0;
  const MB = 1024 * 1024;
  const kib = (bytes: number) =>
    `${bytes >= 0 ? "+" : "−"}${(Math.abs(bytes) / 1024).toFixed(0)} KiB`;
  const short = (n: number) =>
    n >= 1_000_000 ? `${n / 1_000_000}M` : `${Math.round(n / 1000)}k`;
  report({
    id: "memory",
    row: `Memory: heap growth after ${short(MEMORY_CALLS)} calls`,
    value: `${kib(delta)}${gc ? "" : " (no forced GC)"} (${
      short(readings[1][0])
    }→${short(MEMORY_CALLS)}: ${kib(heap1 - readings[1][1])})`,
    target: "≤ +1 MB (1 MiB)",
    met: gc && delta <= MB,
    data: { heap0, heap1, delta, calls: MEMORY_CALLS, gc, readings, command },
  });
  note(
    `the second figure is the growth after the first 10 % of the calls: a leak keeps growing, ` +
      `a one-time step (a table sized for a peak) does not`,
  );
  note(
    `heap used (GC forced) after N calls: ${
      readings.map(([n, h]) =>
        `${n.toLocaleString("en")} → ${(h / MB).toFixed(2)} MiB`
      ).join(", ")
    }`,
  );
  note(
    `${us(callUs)} per in-memory api.fetch call, ${
      us(directUs)
    } for the same transport called directly, ${us(ownUs)} ky-failover's own, ${
      us(chunkedOwnUs)
    } when the answer has no length (median of 9 interleaved rounds); ${command}${
      gc ? "" : "; GC not exposed"
    }`,
  );
  figures.push({
    id: "memory.callUs",
    row:
      "In-memory call, µs: api.fetch · transport alone · own · own, no length",
    value: `${callUs.toFixed(1)} · ${directUs.toFixed(1)} · ${
      ownUs.toFixed(1)
    } · ${chunkedOwnUs.toFixed(1)}`,
    target: "information",
  });
}

// --------------------------------------------------------------------- main

const date = new Date().toISOString();
const cpus = os.cpus();
console.log(
  `ky-failover bench (issue 5) — ${runtimeVersion}, ${date}, ${
    QUICK ? "--quick" : "full run"
  }`,
);
console.log(
  `${cpus.length} × ${
    cpus[0]?.model ?? "unknown CPU"
  }, ${os.platform()} ${os.release()}`,
);

const started = performance.now();
if (enabled("S1")) await s1();
if (enabled("S2")) await s2();
if (enabled("S3")) await s3();
if (enabled("S4")) await s4();
if (enabled("S5")) await s5();
if (enabled("S6") || enabled("S7")) await streams();
if (enabled("OTEL")) await otelOverhead();
if (enabled("MEMORY")) await memory();

const missed = figures.filter((f) => f.met === false);
console.log(
  `\n${runtime}: ${
    figures.filter((f) => f.met === true).length
  } targets met, ${missed.length} missed${
    missed.length ? ` (${missed.map((f) => f.id).join(", ")})` : ""
  }; ${((performance.now() - started) / 1000).toFixed(0)} s`,
);

if (OUT !== undefined) {
  mkdirSync(dirname(OUT), { recursive: true });
  const result: Result = {
    runtime,
    version: runtimeVersion,
    date,
    quick: QUICK,
    cpu: `${cpus.length} × ${cpus[0]?.model ?? "unknown"}`,
    memoryCalls: MEMORY_CALLS,
    figures,
  };
  writeFileSync(
    OUT,
    JSON.stringify(result, null, 2) + "\n",
  );
  console.log(`wrote ${OUT}`);
}
