/**
 * The ky-failover demo: a steady stream of chat completions through a
 * failover pool while its primary region fails in every way we know, and
 * not one call fails.
 *
 * ```sh
 * npm run demo                     # four local fake endpoints, scripted outages (~25 s)
 * deno run --allow-net --allow-env --allow-read scripts/demo.ts --time-scale 0.25   # same, ~6.3 s
 * deno run --allow-net --allow-env --allow-read scripts/demo.ts --config scripts/endpoints.example.json
 * npm run demo -- --web           # the same story, live in a browser: http://127.0.0.1:8787/
 * ```
 *
 * With `--web` (and `--port <n>`, default 8787 or any free port) it also
 * serves a live dashboard (`scripts/dashboard/`): the story starts when the
 * page opens and plays again while it watches, until Ctrl-C.
 *
 * Without arguments it starts four fake OpenAI-compatible endpoints on
 * 127.0.0.1 (see `tests/_region_farm.ts`): three regions of one provider
 * serving `gpt-4.1` (`primary`, `hk`, `sg`, priorities 1–3) and a backup
 * from another provider that serves only `deepseek-v3.2` (`deepseek`,
 * priority 4, `models: { "gpt-4.1": "deepseek-v3.2" }`). It sends 20 calls
 * per second through `api.ky.post("chat/completions")` for `gpt-4.1` and
 * scripts the primary's life. Each fault starts from a healthy primary (the
 * phase before it lets the primary recover), so each shows what that fault
 * alone does:
 *
 * | phase | primary | what to watch |
 * |---|---|---|
 * | all up | answers | all traffic on the primary |
 * | primary down | refuses connections | failovers to hk, the breaker opens after 3 failures, its probe is refused |
 * | primary back up | answers | the probe after the cooldown passes, the breaker closes, traffic returns |
 * | primary 500 | answers HTTP 500 | the same for 5xx |
 * | primary back up | answers | the same recovery |
 * | primary 429 | answers 429 with `Retry-After: 2` | no breaker: the primary is benched for 2 s, tried again, benched again |
 * | primary back up | answers | traffic returns once the bench ends |
 * | only another provider | primary, hk and sg refuse connections | calls reach deepseek with `model` rewritten to `deepseek-v3.2`, at its price |
 *
 * At the end it prints each endpoint's tokens and what they cost, at the
 * tutorial's prices per million tokens (gpt-4.1 $8, claude-sonnet-4.5 $15,
 * gemini-2.5-flash $2.50, deepseek-v3.2 $0.42 — an example, not a
 * default of the library).
 *
 * Its timings are shortened (printed at the start, with a legend of the
 * status line): breaker cooldown 1.5 s, then 3 s after a failed probe;
 * `Retry-After: 2`; per-attempt timeout 2 s.
 *
 * With `--config file.json` it sends a bounded, gentle stream of calls to
 * real endpoints instead (no fault injection). The file (every field but
 * `endpoints`, `name` and `url` optional; the README's "The demo's config
 * file" has the details):
 *
 * ```json
 * {
 *   "model": "gpt-4.1-mini",
 *   "requests": 20, "rate": 2, "timeout": 30000, "prompt": "…",
 *   "healthCheck": { "interval": 10000 },
 *   "endpoints": [
 *     { "name": "openai", "url": "https://api.openai.com/v1", "apiKeyEnv": "OPENAI_API_KEY", "priority": 1 },
 *     { "name": "azure", "url": "https://my.openai.azure.com/openai/v1?api-version=preview",
 *       "headers": { "api-key": { "env": "AZURE_OPENAI_API_KEY" } }, "model": "my-deployment",
 *       "priority": 2, "weight": 1, "healthCheck": false }
 *   ]
 * }
 * ```
 *
 * Keys come from the environment variables the file names (`apiKeyEnv`,
 * `{ "env": … }` header values), never from the file itself; keys are
 * never printed.
 *
 * Exit code: 0 when every call succeeded, 1 when some failed, 2 for a bad
 * command line or configuration.
 *
 * @module
 */

import process from "node:process";
import { readFile } from "node:fs/promises";
import {
  type BreakerState,
  createFailover,
  type EndpointOptions,
  type EndpointStatus,
  type EndpointUsage,
  type FailoverEvent,
  type FailoverOptions,
  type HealthCheckOptions,
  type Prices,
} from "ky-failover";
import {
  type Farm,
  type RegionMode,
  startFarm,
} from "../tests/_region_farm.ts";

// ---------------------------------------------------------------- public API

/** Real endpoints to run the demo against (see {@linkcode parseConfig}). */
export interface DemoConfig {
  /**
   * Model sent in every call, unless the endpoint that answers has its own
   * (see `models`). `undefined` when every endpoint names its own.
   */
  model: string | undefined;
  /** Each endpoint's own model, by endpoint name (only those that set one). */
  models: Record<string, string>;
  /** Number of calls to send. */
  requests: number;
  /** Calls started per second. */
  rate: number;
  /** Per-attempt timeout, in ms. */
  timeout: number;
  /** The user message of every call. */
  prompt: string;
  /** The pool's active health checks, or `false` (the default). */
  healthCheck: HealthCheckOptions | false;
  /** The pool, keys and header values resolved from the environment. */
  endpoints: EndpointOptions[];
}

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /**
   * Shrinks (or stretches) the scripted timeline and its timers: breaker
   * cooldowns, `Retry-After`, the call rate and the report interval. `0.25`
   * runs the whole story in about 6.3 s. Default `1` (about 25 s). Ignored
   * with `config`.
   */
  timeScale?: number;
  /** Receives every output line. Default `console.log`. */
  log?: (line: string) => void;
  /** Run against these real endpoints instead of the local fake regions. */
  config?: DemoConfig;
  /** Watches the run as it happens (the live dashboard of `--web`). */
  observer?: DemoObserver;
  /**
   * Ends the run early: the sender stops, the calls in flight finish, and
   * the summary is printed as usual.
   */
  signal?: AbortSignal;
}

/** One phase of the timeline, as {@linkcode DemoObserver.start} lists it. */
export interface PhaseInfo {
  name: string;
  /** What the primary does. */
  description: string;
  /** What to watch. */
  watch: string;
  /** How long it is planned to last, in ms (time scale applied). */
  ms: number;
}

/**
 * Sees a run as it happens (see `scripts/dashboard/`). Every hook is
 * optional and called synchronously; none may throw.
 */
export interface DemoObserver {
  /** The pool was created: its endpoints' names, the phases, its `status()`. */
  start?(run: {
    endpoints: readonly string[];
    phases: readonly PhaseInfo[];
    status: () => EndpointStatus[];
  }): void;
  /** Every event of the pool. */
  event?(event: FailoverEvent): void;
  /** Phase `index` (from 0) began. */
  phase?(index: number, phase: PhaseInfo): void;
  /** A call settled: its latency in ms, and whether it got a completion. */
  call?(latencyMs: number, ok: boolean): void;
}

/** A circuit breaker's change of state, as it happened in a phase. */
export interface BreakerChange {
  endpoint: string;
  from: BreakerState;
  to: BreakerState;
  /** For `to: "open"`: how long it stays open, in ms. */
  cooldownMs?: number;
}

/** What happened in one phase of the timeline. */
export interface PhaseSummary {
  /** Short name, e.g. `"primary down"`. */
  name: string;
  /** What the primary does in this phase. */
  description: string;
  /** Start, in ms since the demo started. */
  startMs: number;
  /**
   * When it stopped sending calls, in ms since the demo started (its calls
   * still in flight then are counted in it).
   */
  endMs: number;
  /** Calls that completed during the phase. */
  calls: number;
  /** Calls that failed during the phase. */
  failures: number;
  /** Times a call moved from one endpoint to another during the phase. */
  failovers: number;
  /** Calls answered successfully by each region during the phase. */
  successes: Record<string, number>;
  /** Attempts sent to each region during the phase (failed ones included). */
  requests: Record<string, number>;
  /** Attempts to each region that got no usable answer (network error, timeout, 5xx, 429). */
  failedRequests: Record<string, number>;
  /** Every breaker change of state during the phase, in order. */
  breakerChanges: BreakerChange[];
  /**
   * Every time a region was benched after a 429 during the phase: region and
   * how long, in ms. A 429 that arrives while its region is already benched
   * (a call sent before the first 429 came back) only extends that bench and
   * is not counted again.
   */
  rateLimits: { endpoint: string; delayMs: number }[];
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
  /** The model it was last sent (after the pool renamed it for it). */
  lastModel: string | undefined;
  /** Its tokens and what they cost (at the tutorial's prices). */
  usage: EndpointUsage | undefined;
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

const CONFIG_KEYS = [
  "model",
  "requests",
  "rate",
  "timeout",
  "prompt",
  "healthCheck",
  "endpoints",
];
const ENDPOINT_KEYS = [
  "name",
  "url",
  "apiKeyEnv",
  "headers",
  "model",
  "priority",
  "weight",
  "healthCheck",
];

/** Fields that would hold a key in the file itself. */
const KEY_FIELDS = new Set(["apiKey", "api_key", "key", "token", "secret"]);

/** Header names whose values are credentials. */
const CREDENTIAL_HEADER =
  /auth|key|token|secret|passw|cookie|signature|credential/i;

/** Query parameter names that carry credentials (`?key=`, `?sig=` …). */
const CREDENTIAL_PARAM = /key|token|secret|passw|sig|auth|credential/i;

/** Values that look like a key whatever field they are in. */
const LOOKS_LIKE_KEY = /^\s*(sk-|sk_|bearer\s|basic\s|eyJ)/i;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const NO_KEYS_IN_FILE =
  "keys never go in the file: put the key in an environment variable and name that variable";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function checkKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  keyHint: string,
): void {
  for (const key of Object.keys(value)) {
    if (KEY_FIELDS.has(key)) {
      throw new ConfigError(
        `${where}.${key}: ${NO_KEYS_IN_FILE} ${keyHint}`,
      );
    }
    if (!allowed.includes(key)) {
      throw new ConfigError(
        `${where}: unknown field "${key}" (allowed: ${allowed.join(", ")})`,
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
      } from ${min} to ${max}, got ${show(value)}`,
    );
  }
  return value;
}

function stringField(value: unknown, where: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(
      `${where} must be a non-empty string, got ${show(value)}`,
    );
  }
  return value;
}

/** Reads the environment variable named at `where`; never echoes its value. */
function fromEnv(
  variable: unknown,
  where: string,
  what: string,
  env: (name: string) => string | undefined,
): string {
  if (typeof variable !== "string" || !ENV_NAME.test(variable)) {
    throw new ConfigError(
      `${where} must name an environment variable (letters, digits, _), got ${
        show(variable)
      }`,
    );
  }
  const value = env(variable);
  if (value === undefined || value === "") {
    throw new ConfigError(
      `${where}: environment variable ${variable} is not set (it holds ${what})`,
    );
  }
  return value;
}

/**
 * Validates a parsed config file and resolves each endpoint's key (from the
 * environment variable named by `apiKeyEnv`) and `{ "env": … }` header
 * values. Throws a {@linkcode ConfigError} naming the field — for a key
 * written in the file itself (an `apiKey` field, a credential header or
 * query parameter with a literal value) too, without echoing it. What the
 * pool checks itself (priority, weight, URL, header syntax, health-check
 * settings) is checked by building the pool once, its message re-worded to
 * name the file's field.
 */
export function parseConfig(
  json: unknown,
  env: (name: string) => string | undefined,
  source = "config",
): DemoConfig {
  if (!isRecord(json)) throw new ConfigError(`${source}: must be an object`);
  checkKeys(json, CONFIG_KEYS, source, 'with "apiKeyEnv" on its endpoint');
  const model = json.model === undefined
    ? undefined
    : stringField(json.model, `${source}: model`);
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
  if (
    json.healthCheck !== undefined && json.healthCheck !== false &&
    !isRecord(json.healthCheck)
  ) {
    throw new ConfigError(
      `${source}: healthCheck must be an object ({ path, interval, timeout, jitter }) or false, got ${
        show(json.healthCheck)
      }`,
    );
  }
  const healthCheck = (json.healthCheck ?? false) as HealthCheckOptions | false;
  if (!Array.isArray(json.endpoints) || json.endpoints.length === 0) {
    throw new ConfigError(`${source}: endpoints must be a non-empty array`);
  }
  const models: Record<string, string> = {};
  const endpoints = json.endpoints.map((raw: unknown, i: number) => {
    const where = `${source}: endpoints[${i}]`;
    if (!isRecord(raw)) throw new ConfigError(`${where} must be an object`);
    checkKeys(raw, ENDPOINT_KEYS, where, 'with "apiKeyEnv"');
    const name = stringField(raw.name, `${where}.name`);
    const url = stringField(raw.url, `${where}.url`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      // Echoed only when it cannot hold a key (no user info, no query).
      throw new ConfigError(
        `${where}.url must be an absolute http(s) URL${
          /[@?]/.test(url) ? "" : `, got ${show(url)}`
        }`,
      );
    }
    if (parsed.username || parsed.password) {
      throw new ConfigError(
        `${where}.url: ${NO_KEYS_IN_FILE} with "apiKeyEnv" (the URL has user info)`,
      );
    }
    for (const [param, value] of parsed.searchParams) {
      if (CREDENTIAL_PARAM.test(param) || LOOKS_LIKE_KEY.test(value)) {
        throw new ConfigError(
          `${where}.url: query parameter "${param}" looks like a credential; ${NO_KEYS_IN_FILE} with "apiKeyEnv" or a header { "env": … }`,
        );
      }
    }
    const endpoint: EndpointOptions = { name, url };
    if (raw.apiKeyEnv !== undefined) {
      endpoint.apiKey = fromEnv(
        raw.apiKeyEnv,
        `${where}.apiKeyEnv`,
        `the API key of endpoint "${name}"`,
        env,
      );
    }
    if (raw.headers !== undefined) {
      if (!isRecord(raw.headers)) {
        throw new ConfigError(
          `${where}.headers must be an object of header name → "value" or { "env": "VARIABLE" }`,
        );
      }
      const headers: Record<string, string> = {};
      for (const [header, value] of Object.entries(raw.headers)) {
        const at = `${where}.headers[${show(header)}]`;
        if (isRecord(value)) {
          checkKeys(value, ["env"], at, 'in "env"');
          headers[header] = fromEnv(
            value.env,
            `${at}.env`,
            `the "${header}" header of endpoint "${name}"`,
            env,
          );
        } else if (typeof value === "string") {
          if (CREDENTIAL_HEADER.test(header) || LOOKS_LIKE_KEY.test(value)) {
            throw new ConfigError(
              `${at}: a credential header; ${NO_KEYS_IN_FILE} as { "env": "VARIABLE" }`,
            );
          }
          headers[header] = value;
        } else {
          throw new ConfigError(
            `${at} must be a string or { "env": "VARIABLE" }, got ${
              show(value)
            }`,
          );
        }
      }
      endpoint.headers = headers;
    }
    if (raw.model !== undefined) {
      models[name] = stringField(raw.model, `${where}.model`);
    } else if (model === undefined) {
      throw new ConfigError(
        `${where}.model: required, since the file has no top-level "model"`,
      );
    }
    // Checked by the pool below.
    if (raw.priority !== undefined) {
      endpoint.priority = raw.priority as number;
    }
    if (raw.weight !== undefined) endpoint.weight = raw.weight as number;
    if (raw.healthCheck !== undefined) {
      endpoint.healthCheck = raw.healthCheck as EndpointOptions["healthCheck"];
    }
    return endpoint;
  });
  // Let the pool validate the rest (unique names, URL shape, priority and
  // weight ranges, header syntax, health-check settings); its messages name
  // the option (`options.endpoints[1].priority …`) and never a key.
  try {
    createFailover({ endpoints, healthCheck, timeout }).close();
  } catch (error) {
    const message = (error as Error).message
      .replace(/^ky-failover: options\./, "");
    throw new ConfigError(`${source}: ${message}`);
  }
  return {
    model,
    models,
    requests,
    rate,
    timeout,
    prompt,
    healthCheck,
    endpoints,
  };
}

// ----------------------------------------------------------------- timeline

interface Phase {
  name: string;
  /** What the primary does. */
  description: string;
  /** What to watch in the output. */
  watch: string;
  /** Mode of the primary during the phase. */
  mode: RegionMode;
  /** Mode of the primary's backups of the same provider (hk, sg). Default `"up"`. */
  others?: RegionMode;
  /** Length at time scale 1, in ms. */
  ms: number;
}

/**
 * The demo's timings at time scale 1, shortened from the library's defaults
 * so that a breaker opens and recovers within seconds.
 */
const TIMINGS = {
  /** Per-attempt timeout (not scaled: the regions' latencies are not). */
  timeout: 2000,
  failureThreshold: 3,
  /** First cooldown of an opened breaker. */
  cooldown: 1500,
  /** Cooldown after a failed probe (`cooldown × 2`, the cap). */
  maxCooldown: 3000,
  /** The primary's `Retry-After` in the 429 phase. */
  retryAfter: 2000,
  /**
   * The retry budget's size. When a whole provider goes down, each call in
   * flight fails twice (hk, sg) before it reaches deepseek, until their
   * breakers open: the default 10 tokens would stop the retries of the
   * fourth call in flight, and the demo is about no call failing.
   */
  retryTokens: 20,
  /** One status line per this. */
  report: 1000,
  /** Two calls start every this. */
  tick: 100,
};

/**
 * The scripted life of the primary (lengths at time scale 1). Each fault
 * starts from a healthy primary: the phase before it lets the breaker close
 * again (a breaker closing forgets the failures before it). Between two
 * phases the sender pauses until the calls in flight have finished (a
 * call's latency), so each call lies inside one phase. The lengths follow
 * the breaker, with at least 0.7 s of margin around each step:
 *
 * - primary down (2–5.5 s): three refused requests open the breaker at
 *   ~2.1 s (1.5 s), its probe at ~3.7 s is refused (3 s, the cap);
 * - primary back up (5.5–8 s): the probe at ~6.8 s passes and closes it;
 * - primary 500 (8–11 s), primary back up (11–14 s): the same with HTTP 500
 *   (probes at ~9.7 s and ~12.8 s);
 * - primary 429 (14–17.5 s): no breaker (a 429 is neutral); the primary is
 *   benched 2 s at ~14 s and again at ~16.1 s;
 * - primary back up (17.5–21.5 s): the bench ends at ~18.2 s and traffic
 *   returns;
 * - only another provider (21.5–24.5 s): the primary, hk and sg refuse;
 *   three failures each open their breakers, and from then on calls go
 *   straight to deepseek, their model rewritten.
 */
function timeline(scale: number): Phase[] {
  const t = (value: number) => seconds(value * scale);
  const retryMs = Math.round(TIMINGS.retryAfter * scale);
  const retryHeaders: Record<string, string> = scale === 1
    ? { "retry-after": "2" }
    : {
      "retry-after-ms": String(retryMs),
      "retry-after": String(Math.max(1, Math.round(retryMs / 1000))),
    };
  const opens =
    `each call that tries it fails over to hk; ${TIMINGS.failureThreshold} failures in a row open its breaker for ${
      t(TIMINGS.cooldown)
    }; then one probe is let through, fails, and the breaker reopens for ${
      t(TIMINGS.maxCooldown)
    }`;
  const backUp = (watch: string, ms: number): Phase => ({
    name: "primary back up",
    description: "the primary answers again",
    watch,
    mode: "up",
    ms,
  });
  return [
    {
      name: "all up",
      description: "every region answers",
      watch: "all traffic goes to the primary (priority 1)",
      mode: "up",
      ms: 2000,
    },
    {
      name: "primary down",
      description: "the primary refuses connections",
      watch: opens,
      mode: "down",
      ms: 3500,
    },
    backUp(
      "hk keeps the traffic until the breaker's cooldown ends; then its probe passes, the breaker closes and traffic returns to the primary",
      2500,
    ),
    {
      name: "primary 500",
      description: "the primary answers HTTP 500",
      watch: opens,
      mode: { status: 500 },
      ms: 3000,
    },
    backUp("the same recovery", 3000),
    {
      name: "primary 429",
      description: `the primary answers HTTP 429 with ${
        scale === 1 ? "Retry-After: 2" : `retry-after-ms: ${retryMs}`
      }`,
      watch: `a 429 opens no breaker: the primary is benched for the ${
        t(TIMINGS.retryAfter)
      } it asked for, its calls fail over to hk, then it is tried again and benched again`,
      mode: { status: 429, headers: retryHeaders },
      ms: 3500,
    },
    backUp(
      "traffic returns to the primary as soon as its bench ends",
      4000,
    ),
    {
      name: "only another provider",
      description:
        "the primary, hk and sg — every region of the first provider — refuse connections",
      watch:
        "calls fail over to deepseek, another provider that serves only deepseek-v3.2: each attempt's body has its model rewritten gpt-4.1 → deepseek-v3.2, and its tokens cost $0.42 per million instead of $8",
      mode: "down",
      others: "down",
      ms: 3000,
    },
  ];
}

const REGIONS = [
  { name: "primary", priority: 1, latencyMs: 20, models: ["gpt-4.1"] },
  { name: "hk", priority: 2, latencyMs: 45, models: ["gpt-4.1"] },
  { name: "sg", priority: 3, latencyMs: 70, models: ["gpt-4.1"] },
  { name: "deepseek", priority: 4, latencyMs: 60, models: ["deepseek-v3.2"] },
] as const;

/** Each fake endpoint's `models` option: what it is sent for `gpt-4.1`. */
const FARM_MODELS: Record<string, EndpointOptions["models"]> = {
  primary: ["gpt-4.1"],
  hk: ["gpt-4.1"],
  sg: ["gpt-4.1"],
  deepseek: { "gpt-4.1": "deepseek-v3.2" },
};

/**
 * The tutorial's prices, USD per million tokens: an example for the
 * demo's cost lines, not a default of the library.
 */
export const TUTORIAL_PRICES: Prices = {
  "gpt-4.1": 8,
  "claude-sonnet-4.5": 15,
  "gemini-2.5-flash": 2.5,
  "deepseek-v3.2": 0.42,
};

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

/** A duration: `1.5 s`, `3 s`, `300 s`, `375 ms`. */
function seconds(valueMs: number): string {
  if (valueMs < 1000) return `${Math.round(valueMs)} ms`;
  const s = valueMs / 1000;
  return `${s >= 10 ? String(Math.round(s)) : s.toFixed(1)} s`.replace(
    /\.0 s$/,
    " s",
  );
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

// ------------------------------------------------------------- explanations

function timingLines(p: {
  scale: number;
  config: DemoConfig | undefined;
}): string[] {
  if (p.config) {
    return [
      `timings: per-attempt timeout ${
        seconds(p.config.timeout)
      }; breaker and rate limits as the library's defaults (a breaker opens after 3 failures in a row for 60 s)${
        p.config.healthCheck === false ? "" : "; active health checks on"
      }`,
    ];
  }
  const s = (value: number) => seconds(value * p.scale);
  return [
    `timings, shortened for the demo (library defaults in brackets): a breaker opens after ${TIMINGS.failureThreshold} failures in a row for ${
      s(TIMINGS.cooldown)
    } [60 s], and for ${
      s(TIMINGS.maxCooldown)
    } after a failed probe [up to 300 s];`,
    `  per-attempt timeout ${
      seconds(TIMINGS.timeout)
    } [30 s]; the primary's 429s ask for ${
      s(TIMINGS.retryAfter)
    }; a retry budget of ${TIMINGS.retryTokens} tokens [10]; 2 calls every ${
      s(TIMINGS.tick)
    }, a status line every ${s(TIMINGS.report)}${
      p.scale === 1 ? "" : ` (time scale ${p.scale})`
    }`,
  ];
}

function legendLines(interval: string, config: boolean): string[] {
  return [
    "legend of the status lines:",
    `  [  4.0s]              time since the start`,
    `  20 calls 0 failed     calls that finished since the previous status line (one every ${interval}, and one`,
    `                        at each phase change), and how many of them failed`,
    `  primary   4✗4         requests sent to primary over the same time; ✗4: 4 of them got no usable answer`,
    `                        (refused, timed out, 5xx or 429) and their calls moved on to the next endpoint`,
    `  4 failovers           calls that moved from one endpoint to another`,
    `  p50 / p99             median / 99th-percentile call latency, failovers included`,
    `  primary open 1.2 s    each endpoint's state: healthy; open (breaker open: no traffic, 1.2 s to its probe);`,
    `                        half-open (cooldown over: the next request is its probe); rate-limited (benched after a 429, time left)`,
    `  ↪ failover a → b      the first failover of each kind in a phase, and its reason`,
    `  ⚡ breaker             a circuit breaker changes state, with the cooldown when it opens`,
    `  ⏳ rate-limit          an endpoint answered 429 and is benched for the delay it asked for`,
    ...(config
      ? [
        `  🔑 auth-failure        an endpoint rejected its key (401 / 403) and is benched`,
        `  ♥ health check        an active health check's verdict changed`,
      ]
      : []),
  ];
}

// -------------------------------------------------------------------- demo

interface ChatCompletion {
  choices?: { message?: { content?: string } }[];
}

/**
 * Runs the demo and resolves with what happened. Without `config` it starts
 * the local fake regions, plays the scripted outages and stops them again;
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
    REGIONS.map(({ name, latencyMs, models }) => ({ name, latencyMs, models })),
  );
  try {
    const model = config?.model ?? Object.values(config?.models ?? {})[0] ??
      "gpt-4.1";
    const endpoints: EndpointOptions[] = config
      ? config.endpoints.map((e) => {
        // An endpoint's own model: the call's model, renamed for it.
        const own = config.models[e.name];
        return own === undefined ? e : { ...e, models: { [model]: own } };
      })
      : REGIONS.map(({ name, priority }) => ({
        name,
        url: farm!.region(name).url,
        apiKey: `sk-demo-${name}`,
        priority,
        models: FARM_MODELS[name],
      }));
    const phases: Phase[] = config
      ? [{
        name: "live",
        description: `${config.requests} calls, ${config.rate}/s`,
        watch: "",
        mode: "up",
        ms: Math.ceil(config.requests / config.rate * 1000),
      }]
      : timeline(scale);
    return await play({
      log,
      scale,
      config,
      endpoints,
      phases,
      farm,
      observer: options.observer,
      signal: options.signal,
      model,
      prompt: config?.prompt ?? "ping",
      requests: config?.requests,
      intervalMs: config
        ? 1000 / config.rate
        : Math.max(10, TIMINGS.tick * scale),
      perTick: config ? 1 : 2,
      reportMs: config ? 1000 : TIMINGS.report * scale,
      pool: config
        ? {
          timeout: config.timeout,
          healthCheck: config.healthCheck,
          prices: TUTORIAL_PRICES,
        }
        : {
          prices: TUTORIAL_PRICES,
          timeout: TIMINGS.timeout,
          breaker: {
            failureThreshold: TIMINGS.failureThreshold,
            cooldown: TIMINGS.cooldown * scale,
            maxCooldown: TIMINGS.maxCooldown * scale,
          },
          retryBudget: { maxTokens: TIMINGS.retryTokens },
        },
    });
  } finally {
    await farm?.close();
  }
}

interface Play {
  log: (line: string) => void;
  scale: number;
  config: DemoConfig | undefined;
  endpoints: EndpointOptions[];
  phases: Phase[];
  farm: Farm | undefined;
  observer: DemoObserver | undefined;
  signal: AbortSignal | undefined;
  /** Model in every call's body (an endpoint's own replaces it). */
  model: string;
  prompt: string;
  /** Stop after this many calls (config mode). */
  requests: number | undefined;
  /** Time between two ticks of the sender, in ms. */
  intervalMs: number;
  /** Calls started at each tick (they run concurrently). */
  perTick: number;
  /** Time between two status lines, in ms. */
  reportMs: number;
  pool: Pick<
    FailoverOptions,
    "timeout" | "breaker" | "healthCheck" | "prices" | "retryBudget"
  >;
}

async function play(p: Play): Promise<DemoSummary> {
  const { log, endpoints, phases, farm } = p;
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
  /** Failover reasons already shown in this phase, per endpoint. */
  let failoverReasons = new Set<string>();
  const healthy = new Map<string, boolean>();
  /** When each endpoint's current 429 bench ends (pool clock). */
  const benchedUntil = new Map<string, number>();

  const onEvent = (event: FailoverEvent) => {
    p.observer?.event?.(event);
    switch (event.type) {
      case "attempt": {
        const failed = event.outcome !== "success" &&
          event.outcome !== "final" && event.outcome !== "aborted";
        const total = regionTotals.get(event.endpoint)!;
        total.requests += 1;
        window.requests[event.endpoint] += 1;
        if (phase) phase.requests[event.endpoint] += 1;
        if (failed) {
          total.failedRequests += 1;
          window.failedRequests[event.endpoint] += 1;
          if (phase) phase.failedRequests[event.endpoint] += 1;
        }
        break;
      }
      case "failover": {
        failovers += 1;
        window.failovers += 1;
        if (phase) phase.failovers += 1;
        const key = `${event.from}\n${event.reason}`;
        if (!failoverReasons.has(key)) {
          failoverReasons.add(key);
          log(
            `${stamp()}   ↪ failover ${event.from} → ${event.to}: ${event.reason}`,
          );
        }
        break;
      }
      case "breaker":
        phase?.breakerChanges.push({
          endpoint: event.endpoint,
          from: event.from,
          to: event.to,
          ...(event.cooldownMs === undefined
            ? {}
            : { cooldownMs: event.cooldownMs }),
        });
        log(
          `${stamp()}   ⚡ breaker ${event.endpoint}: ${event.from} → ${event.to}${
            event.cooldownMs === undefined
              ? ""
              : ` for ${seconds(event.cooldownMs)}`
          }${
            event.to === "half-open"
              ? " (cooldown over: the next request is a probe)"
              : event.from === "half-open"
              ? event.to === "closed"
                ? " (the probe passed)"
                : " (the probe failed)"
              : ""
          }`,
        );
        break;
      case "rate-limit": {
        const since = event.until - event.delayMs;
        const previous = benchedUntil.get(event.endpoint);
        benchedUntil.set(event.endpoint, Math.max(previous ?? 0, event.until));
        // A call sent before the bench began got its 429 too: same bench.
        if (previous !== undefined && since < previous) break;
        phase?.rateLimits.push({
          endpoint: event.endpoint,
          delayMs: event.delayMs,
        });
        log(
          `${stamp()}   ⏳ rate-limit ${event.endpoint}: HTTP ${event.status}, benched for ${
            seconds(event.delayMs)
          }`,
        );
        break;
      }
      case "auth-failure":
        log(
          `${stamp()}   🔑 auth-failure ${event.endpoint}: HTTP ${event.status}, benched for ${
            seconds(event.benchMs)
          } — ${event.message}`,
        );
        break;
      case "health-check":
        if (healthy.get(event.endpoint) !== event.ok) {
          healthy.set(event.endpoint, event.ok);
          log(
            `${stamp()}   ♥ health check ${event.endpoint}: ${
              event.ok
                ? "passes"
                : `fails (${
                  event.status === undefined
                    ? String(event.error)
                    : `HTTP ${event.status}`
                })`
            }`,
          );
        }
        break;
      case "all-timed-out":
      case "warning":
        log(`${stamp()}   ! ${event.message}`);
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
  p.observer?.start?.({
    endpoints: names,
    phases: phases.map(({ name, description, watch, ms }) => ({
      name,
      description,
      watch,
      ms: ms * p.scale,
    })),
    status: () => api.status(),
  });
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
      p.observer?.call?.(performance.now() - t0, true);
      successes += 1;
      firstReply ??= reply.choices?.[0]?.message?.content ?? "";
    }, (error: unknown) => {
      p.observer?.call?.(performance.now() - t0, false);
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
    const now = performance.timeOrigin + performance.now();
    const states = new Map(
      api.status().map((s: EndpointStatus) => [
        s.name,
        (s.state === "open" || s.state === "rate-limited") &&
          s.availableAt !== undefined && s.availableAt > now
          ? `${s.state} ${seconds(s.availableAt - now)}`
          : s.state,
      ]),
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

  /** Resolves after `delay` ms, or at once when `p.signal` aborts. */
  const sleep = (delay: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        p.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, delay));
      p.signal?.addEventListener("abort", done);
      if (p.signal?.aborted) done();
    });
  /** Resolves when `p.signal` aborts (never without one). */
  const aborted = new Promise<void>((resolve) => {
    p.signal?.addEventListener("abort", () => resolve(), { once: true });
    if (p.signal?.aborted) resolve();
  });

  let sent = 0;
  let allSent = () => {};
  /** Config mode: resolves once `p.requests` calls were sent. */
  const sentAll = new Promise<void>((resolve) => allSent = resolve);
  let sender: ReturnType<typeof setInterval> | undefined;
  let reporter: ReturnType<typeof setInterval> | undefined;
  try {
    log(
      `ky-failover demo: ${names.length} endpoints (${
        endpoints.map((e) => {
          const own = (e.models as Record<string, string> | undefined)?.[
            p.model
          ];
          return `${e.name} p${e.priority ?? 1}${
            own !== undefined && own !== p.model ? ` as ${own}` : ""
          }`;
        }).join(", ")
      }), model ${p.model}, ${
        Math.round(p.perTick * 1000 / p.intervalMs * 10) / 10
      } calls/s`,
    );
    for (const line of timingLines(p)) log(line);
    for (const line of legendLines(seconds(p.reportMs), !!p.config)) log(line);
    let paused = false;
    const tick = () => {
      if (paused) return;
      for (let i = 0; i < p.perTick; i++) {
        if (p.requests !== undefined && sent >= p.requests) return;
        call(++sent);
        if (sent === p.requests) allSent();
      }
    };
    const clock = performance.now();
    const since = () => performance.now() - clock;
    let at = 0;
    for (const [i, step] of phases.entries()) {
      if (i > 0) {
        // Each phase starts with no call in flight (a pause of one call's
        // latency), so that every call and request belongs to the phase
        // whose mode answered it, and no status line straddles two phases.
        paused = true;
        phase!.endMs = elapsed();
        while (inFlight.size > 0) await Promise.all(inFlight);
        clearInterval(reporter);
        report();
      }
      const now = elapsed();
      phase = {
        name: step.name,
        description: step.description,
        startMs: now,
        endMs: now,
        calls: 0,
        failures: 0,
        failovers: 0,
        successes: counter(names),
        requests: counter(names),
        failedRequests: counter(names),
        breakerChanges: [],
        rateLimits: [],
      };
      failoverReasons = new Set();
      phaseSummaries.push(phase);
      log(
        `${stamp()} ━━ phase ${
          i + 1
        }/${phases.length}: ${step.name} — ${step.description}`,
      );
      if (step.watch) {
        log(`${" ".repeat(stamp().length)}    watch: ${step.watch}`);
      }
      p.observer?.phase?.(i, { ...step, ms: step.ms * p.scale });
      // The phase counts from here: what the switch itself causes (a
      // connection cut by "down") belongs to it.
      if (farm && i > 0) {
        await farm.region("primary").setMode(step.mode);
        for (const name of ["hk", "sg"]) {
          await farm.region(name).setMode(step.others ?? "up");
        }
      }
      paused = false;
      reporter = setInterval(report, p.reportMs);
      if (i === 0) {
        tick();
        sender = setInterval(tick, p.intervalMs);
      }
      at += step.ms * p.scale;
      // Config mode sends every call, however late a busy machine's timers.
      await (p.requests === undefined
        ? sleep(at - since())
        : Promise.race([sentAll, aborted]));
      if (p.signal?.aborted) break;
    }
    clearInterval(sender);
    sender = undefined;
    phase!.endMs = elapsed();
    clearInterval(reporter);
    if (inFlight.size > 0) {
      log(
        `${stamp()} waiting for ${inFlight.size} call${
          inFlight.size === 1 ? "" : "s"
        } in flight`,
      );
    }
    while (inFlight.size > 0) await Promise.all(inFlight);
    report();
  } finally {
    clearInterval(sender);
    clearInterval(reporter);
    api.close();
    await Promise.allSettled(inFlight);
  }
  const usage = new Map(api.status().map((s) => [s.name, s]));

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
      lastModel: usage.get(e.name)?.lastModel,
      usage: usage.get(e.name)?.usage,
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

/** USD with enough decimals for fractions of a cent; "-" when unknown. */
function usd(value: number | undefined): string {
  return value === undefined ? "-" : `$${value.toFixed(6)}`;
}

/** What every endpoint's tokens cost; `undefined` if one's is unknown. */
function totalCost(s: DemoSummary): number | undefined {
  let total = 0;
  for (const r of s.regions) {
    const cost = r.usage?.costUsd;
    if (cost === undefined && (r.usage?.calls ?? 0) > 0) return undefined;
    total += cost ?? 0;
  }
  return Math.round(total * 1e9) / 1e9;
}

function summaryLines(s: DemoSummary, firstReply: string | undefined) {
  const names = s.regions.map((r) => r.name);
  const first = names[0];
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
      [
        "endpoint",
        "priority",
        "requests",
        "failed",
        "answered",
        "model sent",
        "tokens in",
        "tokens out",
        "cost",
      ],
      ...s.regions.map((r) => [
        r.name,
        r.priority,
        r.requests,
        r.failedRequests,
        r.successes,
        r.lastModel ?? "-",
        r.usage?.inputTokens ?? 0,
        r.usage?.outputTokens ?? 0,
        usd(r.usage?.costUsd),
      ]),
    ]),
    `  cost at the tutorial's prices per million tokens (${
      Object.entries(TUTORIAL_PRICES).map(([model, price]) =>
        `${model} $${price}`
      ).join(", ")
    }): ${usd(totalCost(s))} in all`,
  ];
  if (s.phases.length > 1) {
    lines.push(
      "",
      `  per phase: calls; requests to ${first} (✗ failed); failovers; breaker openings; 429 benches; calls answered by each endpoint; failed calls`,
      ...table([
        [
          "phase",
          "calls",
          `→${first}`,
          "failovers",
          "opened",
          "429",
          ...names,
          "failed",
        ],
        ...s.phases.map((ph, i) => [
          `${i + 1} ${ph.name}`,
          ph.calls,
          `${ph.requests[first]}${
            ph.failedRequests[first] > 0 ? `✗${ph.failedRequests[first]}` : ""
          }`,
          ph.failovers,
          ph.breakerChanges.filter((b) => b.to === "open").length,
          ph.rateLimits.length,
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
  `usage: demo.ts [--time-scale <factor>] | --config <endpoints.json>  [--web [--port <n>]]

  (no arguments)        four local fake endpoints and scripted outages (~25 s)
  --time-scale <f>      run the scripted timeline f times as long (0.25 → ~6.3 s)
  --config <file>       steady traffic to real endpoints, no fault injection
                        (format: README, "The demo's config file";
                        example: scripts/endpoints.example.json)
  --web                 also serve a live dashboard on 127.0.0.1 and replay the
                        story for as long as a page watches (Ctrl-C ends it)
  --port <n>            the dashboard's port (default 8787, or any free port if
                        that one is taken; 0: any free port)`;

/** Runs the command line; resolves with the exit code. */
export async function main(
  args: readonly string[],
  env: (name: string) => string | undefined = (name) => process.env[name],
): Promise<number> {
  try {
    const options: DemoOptions = {};
    let configPath: string | undefined;
    let web = false;
    let port: number | undefined;
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
      } else if (flag === "--web" && inline === undefined) {
        web = true;
      } else if (flag === "--port") {
        const v = value();
        port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535) {
          throw new ConfigError(
            `--port must be an integer from 0 to 65535, got ${v}`,
          );
        }
      } else {
        throw new ConfigError(`unknown argument ${args[i]}`);
      }
    }
    if (port !== undefined && !web) {
      throw new ConfigError("--port needs --web (the dashboard's port)");
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
    }
    if (web) {
      // Loaded only with --web: without it the demo is what it always was.
      const { runWeb } = await import("./dashboard/web.ts");
      return await runWeb({ ...options, run: runDemo, port });
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
