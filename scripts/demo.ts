/**
 * The ky-failover demo: a steady stream of chat completions through a
 * failover pool while its primary region fails in every way we know, and
 * not one call fails.
 *
 * ```sh
 * npm run demo                     # three local fake regions, scripted outage (~25 s)
 * deno run --allow-net --allow-env --allow-read scripts/demo.ts --time-scale 0.25   # same, ~6 s
 * deno run --allow-net --allow-env --allow-read scripts/demo.ts --config scripts/endpoints.example.json
 * ```
 *
 * Without arguments it starts three fake OpenAI-compatible regions on
 * 127.0.0.1 (`primary`, `hk`, `sg`, priorities 1–3; see
 * `tests/_region_farm.ts`), sends ~20 calls per second through
 * `api.ky.post("chat/completions")` and scripts the primary's life:
 *
 * | phase | primary |
 * |---|---|
 * | all up | answers |
 * | primary down | refuses connections |
 * | primary 500 | answers HTTP 500 |
 * | primary 429 | answers 429 with `Retry-After: 2` |
 * | primary back up | answers again: the breaker half-opens, closes, traffic returns |
 *
 * It prints each phase change, each breaker change and rate limit as it
 * happens, one line per second (calls, requests per region, failovers,
 * latency, breaker states) and a summary.
 *
 * With `--config file.json` it sends a bounded, gentle stream of calls to
 * real endpoints instead (no fault injection). The file:
 *
 * ```json
 * {
 *   "model": "gpt-4.1-mini",        // required
 *   "requests": 20,                 // calls to send, 1–1000, default 20
 *   "rate": 2,                      // calls per second, 0.1–20, default 2
 *   "timeout": 30000,               // per-attempt timeout in ms, default 30000
 *   "prompt": "…",                  // optional user message
 *   "endpoints": [
 *     { "name": "openai", "url": "https://api.openai.com/v1", "apiKeyEnv": "OPENAI_API_KEY", "priority": 1, "weight": 1 }
 *   ]
 * }
 * ```
 *
 * Each key is read from the environment variable named by `apiKeyEnv`
 * (omit it for endpoints that need no key). Keys are never printed.
 *
 * Exit code: 0 when every call succeeded, 1 when some failed, 2 for a bad
 * command line or configuration.
 *
 * @module
 */

import process from "node:process";
import { readFile } from "node:fs/promises";
import {
  createFailover,
  type EndpointOptions,
  type EndpointStatus,
  type FailoverEvent,
  type FailoverOptions,
} from "ky-failover";
import {
  type Farm,
  type RegionMode,
  startFarm,
} from "../tests/_region_farm.ts";

// ---------------------------------------------------------------- public API

/** Real endpoints to run the demo against (see {@linkcode parseConfig}). */
export interface DemoConfig {
  /** Model sent in every call. */
  model: string;
  /** Number of calls to send. */
  requests: number;
  /** Calls started per second. */
  rate: number;
  /** Per-attempt timeout, in ms. */
  timeout: number;
  /** The user message of every call. */
  prompt: string;
  /** The pool, keys resolved. */
  endpoints: EndpointOptions[];
}

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /**
   * Shrinks (or stretches) the scripted timeline and its timers: breaker
   * cooldowns, `Retry-After`, the call rate and the report interval. `0.2`
   * runs the whole story in about 5 s. Default `1` (about 24 s). Ignored
   * with `config`.
   */
  timeScale?: number;
  /** Receives every output line. Default `console.log`. */
  log?: (line: string) => void;
  /** Run against these real endpoints instead of the local fake regions. */
  config?: DemoConfig;
}

/** What happened in one phase of the timeline. */
export interface PhaseSummary {
  /** Short name, e.g. `"primary down"`. */
  name: string;
  /** What the primary does in this phase. */
  description: string;
  /** Start, in ms since the demo started. */
  startMs: number;
  /** End, in ms since the demo started. */
  endMs: number;
  /** Calls that completed during the phase. */
  calls: number;
  /** Calls that failed during the phase. */
  failures: number;
  /** Calls answered successfully by each region during the phase. */
  successes: Record<string, number>;
  /** Attempts sent to each region during the phase (failed ones included). */
  requests: Record<string, number>;
}

/** One region (endpoint) over the whole run. */
export interface RegionSummary {
  name: string;
  priority: number;
  /** Attempts sent to it. */
  requests: number;
  /** Attempts that did not get a usable answer (network error, timeout, 5xx, 429). */
  failedRequests: number;
  /** Calls it answered successfully. */
  successes: number;
}

/** The result of {@linkcode runDemo}. */
export interface DemoSummary {
  /** Calls made. */
  calls: number;
  /** Calls that resolved with a completion. */
  successes: number;
  /** Calls that rejected. */
  failures: number;
  /** Times a call moved from one endpoint to another. */
  failovers: number;
  /** Wall time of the run, in ms. */
  durationMs: number;
  /** Median call latency, in ms (`undefined` without calls). */
  p50Ms: number | undefined;
  /** 99th percentile call latency, in ms. */
  p99Ms: number | undefined;
  regions: RegionSummary[];
  phases: PhaseSummary[];
}

/** A problem with the command line or the configuration (exit code 2). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

// ------------------------------------------------------------------- config

const CONFIG_KEYS = new Set([
  "model",
  "requests",
  "rate",
  "timeout",
  "prompt",
  "endpoints",
]);
const ENDPOINT_KEYS = new Set([
  "name",
  "url",
  "apiKeyEnv",
  "priority",
  "weight",
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(
  value: Record<string, unknown>,
  allowed: Set<string>,
  where: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new ConfigError(
        `${where}: unknown field "${key}" (allowed: ${
          [...allowed].join(", ")
        })`,
      );
    }
  }
}

function numberField(
  value: unknown,
  where: string,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min ||
    value > max || (integer && !Number.isInteger(value))
  ) {
    throw new ConfigError(
      `${where} must be ${
        integer ? "an integer" : "a number"
      } from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function stringField(value: unknown, where: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(
      `${where} must be a non-empty string, got ${
        JSON.stringify(value) ?? String(value)
      }`,
    );
  }
  return value;
}

/**
 * Validates a parsed config file and resolves each endpoint's key from the
 * environment variable named by its `apiKeyEnv`. Throws a
 * {@linkcode ConfigError} naming the field (or the missing variable).
 */
export function parseConfig(
  json: unknown,
  env: (name: string) => string | undefined,
  source = "config",
): DemoConfig {
  if (!isRecord(json)) throw new ConfigError(`${source}: must be an object`);
  checkKeys(json, CONFIG_KEYS, source);
  const model = stringField(json.model, `${source}: model`);
  const requests = numberField(
    json.requests,
    `${source}: requests`,
    20,
    1,
    1000,
    true,
  );
  const rate = numberField(json.rate, `${source}: rate`, 2, 0.1, 20);
  const timeout = numberField(
    json.timeout,
    `${source}: timeout`,
    30_000,
    100,
    600_000,
  );
  const prompt = json.prompt === undefined
    ? "Reply with the single word: pong"
    : stringField(json.prompt, `${source}: prompt`);
  if (!Array.isArray(json.endpoints) || json.endpoints.length === 0) {
    throw new ConfigError(`${source}: endpoints must be a non-empty array`);
  }
  const names = new Set<string>();
  const endpoints = json.endpoints.map((raw: unknown, i: number) => {
    const where = `${source}: endpoints[${i}]`;
    if (!isRecord(raw)) throw new ConfigError(`${where} must be an object`);
    checkKeys(raw, ENDPOINT_KEYS, where);
    const name = stringField(raw.name, `${where}.name`);
    if (names.has(name)) {
      throw new ConfigError(`${where}.name: "${name}" is used twice`);
    }
    names.add(name);
    const url = stringField(raw.url, `${where}.url`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`${where}.url: not a valid URL: ${url}`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new ConfigError(`${where}.url must be an http(s) URL`);
    }
    const endpoint: EndpointOptions = {
      name,
      url,
      priority: numberField(raw.priority, `${where}.priority`, 1, 0, 1e6),
      weight: numberField(raw.weight, `${where}.weight`, 1, 0, 1e6),
    };
    if (raw.apiKeyEnv !== undefined) {
      const variable = stringField(raw.apiKeyEnv, `${where}.apiKeyEnv`);
      const key = env(variable);
      if (key === undefined || key === "") {
        throw new ConfigError(
          `environment variable ${variable} is not set (it holds the API key of endpoint "${name}")`,
        );
      }
      endpoint.apiKey = key;
    }
    return endpoint;
  });
  return { model, requests, rate, timeout, prompt, endpoints };
}

// ----------------------------------------------------------------- timeline

interface Phase {
  name: string;
  description: string;
  /** Mode of the primary during the phase. */
  mode: RegionMode;
  /** Length at time scale 1, in ms. */
  ms: number;
}

/**
 * The scripted life of the primary (lengths at time scale 1). They follow
 * the breaker: it opens at ~3 s (cooldown 3 s), its probe at ~6 s is
 * refused (cooldown doubles to 6 s, the `maxCooldown`), the probe at ~12 s
 * gets a 500 (6 s again), the probe at ~18 s gets a 429 (benched 2 s, the
 * breaker stays half-open), and the probe at ~20 s finds the primary back
 * up and closes the breaker. Each probe has over 1 s of margin before its
 * phase ends.
 *
 * | phase | from | to |
 * |---|---|---|
 * | all up | 0 s | 3 s |
 * | primary down | 3 s | 8 s |
 * | primary 500 | 8 s | 13.5 s |
 * | primary 429 | 13.5 s | 19.5 s |
 * | primary back up | 19.5 s | 24.5 s |
 */
function timeline(scale: number): Phase[] {
  const retryMs = Math.round(2000 * scale);
  const retryHeaders: Record<string, string> = scale === 1
    ? { "retry-after": "2" }
    : {
      "retry-after-ms": String(retryMs),
      "retry-after": String(Math.max(1, Math.round(retryMs / 1000))),
    };
  return [
    {
      name: "all up",
      description: "all regions up; traffic goes to the primary",
      mode: "up",
      ms: 3000,
    },
    {
      name: "primary down",
      description: "primary refuses connections",
      mode: "down",
      ms: 5000,
    },
    {
      name: "primary 500",
      description: "primary answers HTTP 500",
      mode: { status: 500 },
      ms: 5500,
    },
    {
      name: "primary 429",
      description: `primary answers HTTP 429 with Retry-After: ${
        scale === 1 ? "2" : `${retryMs} ms`
      }`,
      mode: { status: 429, headers: retryHeaders },
      ms: 6000,
    },
    {
      name: "primary back up",
      description: "primary answers again",
      mode: "up",
      ms: 5000,
    },
  ];
}

const REGIONS = [
  { name: "primary", priority: 1, latencyMs: 20 },
  { name: "hk", priority: 2, latencyMs: 45 },
  { name: "sg", priority: 3, latencyMs: 70 },
] as const;

// -------------------------------------------------------------- statistics

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function ms(value: number | undefined): string {
  return value === undefined ? "   -  " : `${Math.round(value)}ms`.padStart(6);
}

function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

function counter(names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, 0]));
}

/** Counters for one report interval. */
class Window {
  calls = 0;
  failures = 0;
  failovers = 0;
  latencies: number[] = [];
  requests: Record<string, number>;
  failedRequests: Record<string, number>;

  constructor(names: readonly string[]) {
    this.requests = counter(names);
    this.failedRequests = counter(names);
  }
}

// -------------------------------------------------------------------- demo

interface ChatCompletion {
  choices?: { message?: { content?: string } }[];
}

/**
 * Runs the demo and resolves with what happened. Without `config` it starts
 * the local fake regions, plays the scripted outage and stops them again;
 * with `config` it sends `config.requests` calls to the real endpoints.
 * Never prints a key.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const config = options.config;
  const scale = config ? 1 : options.timeScale ?? 1;
  if (!(scale > 0 && scale <= 10)) {
    throw new RangeError(`timeScale must be in (0, 10], got ${scale}`);
  }

  const farm = config ? undefined : await startFarm(
    REGIONS.map(({ name, latencyMs }) => ({ name, latencyMs })),
  );
  try {
    const endpoints: EndpointOptions[] = config?.endpoints ??
      REGIONS.map(({ name, priority }) => ({
        name,
        url: farm!.region(name).url,
        apiKey: `sk-demo-${name}`,
        priority,
      }));
    const phases: Phase[] = config
      ? [{
        name: "live",
        description:
          `${config.requests} calls to ${config.model}, ${config.rate}/s`,
        mode: "up",
        ms: Math.ceil(config.requests / config.rate * 1000),
      }]
      : timeline(scale);
    return await play({
      log,
      scale,
      endpoints,
      phases,
      farm,
      model: config?.model ?? "gpt-4.1",
      prompt: config?.prompt ?? "ping",
      requests: config?.requests,
      intervalMs: config ? 1000 / config.rate : Math.max(10, 100 * scale),
      perTick: config ? 1 : 2,
      pool: config ? { timeout: config.timeout } : {
        timeout: 2000,
        breaker: {
          failureThreshold: 3,
          cooldown: 3000 * scale,
          maxCooldown: 6000 * scale,
        },
      },
    });
  } finally {
    await farm?.close();
  }
}

interface Play {
  log: (line: string) => void;
  scale: number;
  endpoints: EndpointOptions[];
  phases: Phase[];
  farm: Farm | undefined;
  model: string;
  prompt: string;
  /** Stop after this many calls (config mode). */
  requests: number | undefined;
  /** Time between two ticks of the sender, in ms. */
  intervalMs: number;
  /** Calls started at each tick (they run concurrently). */
  perTick: number;
  pool: Pick<FailoverOptions, "timeout" | "breaker">;
}

async function play(p: Play): Promise<DemoSummary> {
  const { log, scale, endpoints, phases, farm } = p;
  const names = endpoints.map((e) => e.name);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const stamp = () => `[${(elapsed() / 1000).toFixed(1).padStart(5)}s]`;

  const latencies: number[] = [];
  const regionTotals = new Map(names.map((n) => [n, {
    requests: 0,
    failedRequests: 0,
    successes: 0,
  }]));
  const phaseSummaries: PhaseSummary[] = [];
  let phase: PhaseSummary | undefined;
  let window = new Window(names);
  let calls = 0;
  let successes = 0;
  let failures = 0;
  let failovers = 0;
  let firstReply: string | undefined;
  const lastFailoverReason = new Map<string, string>();

  const onEvent = (event: FailoverEvent) => {
    switch (event.type) {
      case "attempt": {
        const failed = event.outcome !== "success" &&
          event.outcome !== "final";
        const total = regionTotals.get(event.endpoint)!;
        total.requests += 1;
        window.requests[event.endpoint] += 1;
        if (phase) phase.requests[event.endpoint] += 1;
        if (failed && event.outcome !== "aborted") {
          total.failedRequests += 1;
          window.failedRequests[event.endpoint] += 1;
        }
        break;
      }
      case "failover": {
        failovers += 1;
        window.failovers += 1;
        if (lastFailoverReason.get(event.from) !== event.reason) {
          lastFailoverReason.set(event.from, event.reason);
          log(
            `${stamp()}   ↪ failover ${event.from} → ${event.to}: ${event.reason}`,
          );
        }
        break;
      }
      case "breaker":
        log(
          `${stamp()}   ⚡ breaker ${event.endpoint}: ${event.from} → ${event.to}${
            event.cooldownMs === undefined
              ? ""
              : ` (cooldown ${seconds(event.cooldownMs)})`
          }`,
        );
        break;
      case "rate-limit":
        log(
          `${stamp()}   ⏳ rate-limit ${event.endpoint}: HTTP ${event.status}, benched for ${
            seconds(event.delayMs)
          }`,
        );
        break;
      case "success":
        if (event.status < 400) {
          regionTotals.get(event.endpoint)!.successes += 1;
          if (phase) phase.successes[event.endpoint] += 1;
        }
        break;
    }
  };

  const api = createFailover({ endpoints, onEvent, ...p.pool });
  const inFlight = new Set<Promise<void>>();
  const errorsShown = new Set<string>();

  const call = (n: number) => {
    const t0 = performance.now();
    const done = api.ky.post("chat/completions", {
      json: {
        model: p.model,
        messages: [{ role: "user", content: `${p.prompt} #${n}` }],
      },
    }).json<ChatCompletion>().then((reply) => {
      successes += 1;
      firstReply ??= reply.choices?.[0]?.message?.content ?? "";
    }, (error: unknown) => {
      failures += 1;
      window.failures += 1;
      if (phase) phase.failures += 1;
      const text = error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
      if (errorsShown.size < 5 && !errorsShown.has(text)) {
        errorsShown.add(text);
        log(`${stamp()}   ✗ call #${n} failed: ${text}`);
      }
    }).finally(() => {
      const latency = performance.now() - t0;
      calls += 1;
      latencies.push(latency);
      window.calls += 1;
      window.latencies.push(latency);
      if (phase) phase.calls += 1;
      inFlight.delete(done);
    });
    inFlight.add(done);
  };

  const report = () => {
    const w = window;
    window = new Window(names);
    const sorted = sortedCopy(w.latencies);
    const states = new Map(
      api.status().map((s: EndpointStatus) => [s.name, s.state]),
    );
    const perRegion = names.map((n) => {
      const failed = w.failedRequests[n];
      return `${n} ${String(w.requests[n]).padStart(3)}${
        (failed > 0 ? `✗${failed}` : "").padEnd(4)
      }`;
    }).join(" ");
    log(
      `${stamp()} ${
        String(w.calls).padStart(3)
      } calls ${w.failures} failed │ ${perRegion}│ ${
        String(w.failovers).padStart(3)
      } failovers │ p50 ${ms(percentile(sorted, 50))} p99 ${
        ms(percentile(sorted, 99))
      } │ ${names.map((n) => `${n} ${states.get(n)}`).join(", ")}`,
    );
  };

  const sleep = (delay: number) =>
    new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, delay)));

  let sent = 0;
  let sender: ReturnType<typeof setInterval> | undefined;
  const reporter = setInterval(report, 1000 * scale);
  try {
    log(
      `ky-failover demo: ${names.length} endpoints (${
        endpoints.map((e) => `${e.name} p${e.priority ?? 1}`).join(", ")
      }), ${
        Math.round(p.perTick * 1000 / p.intervalMs)
      } calls/s, one status line every ${seconds(1000 * scale)}`,
    );
    const tick = () => {
      for (let i = 0; i < p.perTick; i++) {
        if (p.requests !== undefined && sent >= p.requests) return;
        call(++sent);
      }
    };
    let at = 0;
    for (const [i, step] of phases.entries()) {
      if (farm && i > 0) await farm.region("primary").setMode(step.mode);
      const now = elapsed();
      if (phase) phase.endMs = now;
      phase = {
        name: step.name,
        description: step.description,
        startMs: now,
        endMs: now,
        calls: 0,
        failures: 0,
        successes: counter(names),
        requests: counter(names),
      };
      phaseSummaries.push(phase);
      log(
        `${stamp()} ━━ phase ${
          i + 1
        }/${phases.length}: ${step.name} — ${step.description}`,
      );
      if (i === 0) {
        tick();
        sender = setInterval(tick, p.intervalMs);
      }
      at += step.ms * scale;
      await sleep(at - elapsed());
    }
    clearInterval(sender);
    sender = undefined;
    if (inFlight.size > 0) {
      log(`${stamp()} waiting for ${inFlight.size} calls in flight`);
    }
    while (inFlight.size > 0) await Promise.all(inFlight);
    phase!.endMs = elapsed();
    clearInterval(reporter);
    report();
  } finally {
    clearInterval(sender);
    clearInterval(reporter);
    api.close();
    await Promise.allSettled(inFlight);
  }

  const sorted = sortedCopy(latencies);
  const summary: DemoSummary = {
    calls,
    successes,
    failures,
    failovers,
    durationMs: elapsed(),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    regions: endpoints.map((e) => ({
      name: e.name,
      priority: e.priority ?? 1,
      ...regionTotals.get(e.name)!,
    })),
    phases: phaseSummaries,
  };
  for (const line of summaryLines(summary, firstReply)) log(line);
  return summary;
}

function table(rows: (string | number)[][]): string[] {
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((r) => String(r[c]).length))
  );
  return rows.map((r) =>
    "  " +
    r.map((cell, c) =>
      c === 0
        ? String(cell).padEnd(widths[c])
        : String(cell).padStart(widths[c])
    ).join("  ")
  );
}

function summaryLines(s: DemoSummary, firstReply: string | undefined) {
  const names = s.regions.map((r) => r.name);
  const lines = [
    "",
    `Summary (${seconds(s.durationMs)})`,
    ...table([
      ["calls", s.calls],
      ["successes", s.successes],
      ["failures", s.failures],
      ["failovers", s.failovers],
      ["latency p50", ms(s.p50Ms).trim()],
      ["latency p99", ms(s.p99Ms).trim()],
    ]),
    "",
    ...table([
      ["endpoint", "priority", "requests", "failed", "answered"],
      ...s.regions.map((r) => [
        r.name,
        r.priority,
        r.requests,
        r.failedRequests,
        r.successes,
      ]),
    ]),
  ];
  if (s.phases.length > 1) {
    lines.push(
      "",
      "  calls answered per phase:",
      ...table([
        ["phase", ...names, "failed"],
        ...s.phases.map((ph) => [
          ph.name,
          ...names.map((n) => ph.successes[n]),
          ph.failures,
        ]),
      ]),
    );
  }
  if (firstReply !== undefined) {
    const text = firstReply.replace(/\s+/g, " ").trim();
    lines.push(
      "",
      `  first reply: ${
        JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text)
      }`,
    );
  }
  lines.push(
    "",
    s.failures === 0
      ? `✔ ${s.calls} calls, none failed.`
      : `✘ ${s.failures} of ${s.calls} calls failed.`,
  );
  return lines;
}

// --------------------------------------------------------------------- main

const USAGE =
  `usage: demo.ts [--time-scale <factor>] | --config <endpoints.json>

  (no arguments)        three local fake regions and a scripted outage (~25 s)
  --time-scale <f>      run the scripted timeline f times as long (0.2 → ~5 s)
  --config <file>       steady traffic to real endpoints, no fault injection
                        (see scripts/endpoints.example.json)`;

/** Runs the command line; resolves with the exit code. */
export async function main(
  args: readonly string[],
  env: (name: string) => string | undefined = (name) => process.env[name],
): Promise<number> {
  try {
    const options: DemoOptions = {};
    let configPath: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
        ? [
          args[i].slice(0, args[i].indexOf("=")),
          args[i].slice(args[i].indexOf("=") + 1),
        ]
        : [args[i], undefined];
      const value = () => {
        const v = inline ?? args[++i];
        if (v === undefined) throw new ConfigError(`${flag} needs a value`);
        return v;
      };
      if (flag === "--help" || flag === "-h") {
        console.log(USAGE);
        return 0;
      } else if (flag === "--config") {
        configPath = value();
      } else if (flag === "--time-scale") {
        const v = value();
        const scale = Number(v);
        if (!(scale > 0 && scale <= 10)) {
          throw new ConfigError(
            `--time-scale must be a number in (0, 10], got ${v}`,
          );
        }
        options.timeScale = scale;
      } else {
        throw new ConfigError(`unknown argument ${args[i]}`);
      }
    }
    if (configPath !== undefined) {
      let text: string;
      try {
        text = await readFile(configPath, "utf8");
      } catch (error) {
        throw new ConfigError(
          `cannot read ${configPath}: ${(error as Error).message}`,
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new ConfigError(
          `${configPath} is not valid JSON: ${(error as Error).message}`,
        );
      }
      options.config = parseConfig(json, env, configPath);
      // Let the library validate the pool too (URL shape, priorities …).
      try {
        createFailover({ endpoints: options.config.endpoints }).close();
      } catch (error) {
        throw new ConfigError(`${configPath}: ${(error as Error).message}`);
      }
    }
    const summary = await runDemo(options);
    return summary.failures === 0 ? 0 : 1;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`demo: ${error.message}`);
      if (error.message.startsWith("unknown argument")) console.error(USAGE);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
