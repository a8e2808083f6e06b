/**
 * The issue 13 ("many instances, one view of the pool") benchmark of
 * `sharedState({ store: redisStore(…) })`, with a real redis-server and
 * real loopback regions — not a test: it prints each measured figure
 * against its target, ✓ met or ✗ missed, and asserts nothing.
 *
 * ```sh
 * deno run -A bench/shared_bench.ts        # npm run bench:shared
 * deno run -A bench/shared_bench.ts --only 2,3   # some rows
 * ```
 *
 * It starts its own redis-server (tests/_redis_server.ts) and region farm
 * (tests/_region_farm.ts) and stops them at the end (about a minute).
 * Row 1 runs instance B in Node 24 and Bun child processes
 * (bench/_shared_peer.ts) on the built npm package (`npm/esm/`): the bench
 * rebuilds it (`scripts/build_npm.ts --no-pack`) when a source is newer.
 * Set BENCH_NODE / BENCH_BUN to other binaries.
 *
 * Rows:
 *
 * 1. Propagation to another process on another runtime: A (here) sees r1
 *    fail 3 times and opens its breaker at tA; B (a child process) sends a
 *    call every 2 ms, r1 blackholed from B so that B adds no outcome of
 *    its own. tB − tA, and B's requests to r1 sent after tA + 50 ms;
 *    5 runs per runtime, median and max.
 * 2. 20 instances, r1 refused: requests that reached r1 until every
 *    pool's breaker is open, with and without the store; then the probes
 *    that reached r1 per cooldown over 3 cooldowns.
 * 3. Added latency on a healthy pool: the same pool with and without the
 *    store, interleaved rounds of sequential calls.
 * 4. Redis killed mid-run: failed calls, slowest call and `store` events
 *    while it is down; after it restarts, the time until a bench one pool
 *    learnt while Redis was down is seen by another.
 *
 * @module
 */

import process from "node:process";
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  type Pool,
} from "ky-failover/core";
import { sharedState, type Store } from "ky-failover/shared";
import { redisStore } from "ky-failover/redis";
import { type RedisServer, startRedis } from "../tests/_redis_server.ts";
import { type Farm, startFarm } from "../tests/_region_farm.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const PEER = join(REPO, "bench", "_shared_peer.ts");
const NODE = process.env.BENCH_NODE || "node";
const BUN = process.env.BENCH_BUN ||
  join(REPO, "node_modules/@oven/bun-linux-x64/bin/bun");

// ------------------------------------------------------------------ figures

interface Row {
  row: string;
  value: string;
  target: string;
  met: boolean | undefined;
  method: string;
}
const rows: Row[] = [];
const mark = (met: boolean | undefined) =>
  met === undefined ? " " : met ? "✓" : "✗";

function report(row: Row): void {
  rows.push(row);
  console.log(
    `  ${mark(row.met)} ${row.row.padEnd(46)} ${
      row.value.padEnd(34)
    } target ${row.target}`,
  );
  console.log(`      method: ${row.method}`);
}

function note(text: string): void {
  console.log(`      ${text}`);
}

// ---------------------------------------------------------------- utilities

/** Wall time in ms since the epoch, sub-ms (comparable across processes). */
const wallNow = () => performance.timeOrigin + performance.now();

const pause = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

const median = (values: readonly number[]) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
};
const max = (values: readonly number[]) =>
  values.length === 0 ? NaN : Math.max(...values);
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** Polls `predicate` every 2 ms until it holds (→ true) or `within` ms pass (→ false). */
async function until(
  predicate: () => boolean | Promise<boolean>,
  within: number,
): Promise<boolean> {
  const deadline = Date.now() + within;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await pause(2);
  }
  return predicate();
}

function namespace(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `bench-${Array.from(bytes, (b) => b.toString(16)).join("")}`;
}

/** How many stores listen on `ns`'s channel. */
async function subscribers(server: RedisServer, ns: string): Promise<number> {
  const reply = await server.command(
    "PUBSUB",
    "NUMSUB",
    `ky-failover:${ns}:facts`,
  ) as [string, number];
  return Number(reply[1]);
}

const BODY = JSON.stringify({
  model: "gpt-4.1",
  messages: [{ role: "user", content: "hi" }],
});

/** One chat call, answer read; whether it was 2xx (false on a throw). */
async function call(pool: Pool): Promise<boolean> {
  try {
    const response = await pool.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY,
    });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}

function stateOf(pool: Pool, endpoint = "r1"): string | undefined {
  return pool.status().find((s) => s.name === endpoint)?.state;
}

/** The farm's regions as endpoints: r1 priority 1, r2 priority 2. */
function farmEndpoints(farm: Farm): EndpointOptions[] {
  return farm.regions.map((r, i) => ({
    name: r.name,
    url: r.url,
    apiKey: `sk-${r.name}`,
    priority: i + 1,
  }));
}

/** Fake endpoints for pools with their own fetch (host = endpoint name). */
const FAKE_ENDPOINTS: EndpointOptions[] = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];

/** A fetch answering r1 with `r1` and r2 with 200 JSON. */
function fakeFetch(r1: () => Response): typeof fetch {
  return (input) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    return Promise.resolve(
      url.hostname.startsWith("r1.") ? r1() : Response.json({ ok: true }),
    );
  };
}

/** One request that went to r1 through a {@linkcode Counter}'s fetch. */
interface Sent {
  pool: number;
  path: string;
  /** When it left. */
  at: number;
  /** When its answer (or error) came back; `Infinity` until then. */
  end: number;
}

/** A real fetch that records every request to r1's port, sent and settled. */
class Counter {
  readonly sent: Sent[] = [];
  constructor(readonly r1Port: number) {}
  fetchFor(pool: number): typeof fetch {
    return async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (Number(url.port) !== this.r1Port) return fetch(input, init);
      const sent: Sent = {
        pool,
        path: url.pathname,
        at: wallNow(),
        end: Infinity,
      };
      this.sent.push(sent);
      try {
        return await fetch(input, init);
      } finally {
        sent.end = wallNow();
      }
    };
  }
}

interface Member {
  pool: Pool;
  store: Store | undefined;
  events: FailoverEvent[];
}

function member(
  options: {
    endpoints: EndpointOptions[];
    fetch?: typeof fetch;
    breaker?: {
      failureThreshold: number;
      cooldown: number;
      maxCooldown?: number;
    };
    store?: Store;
    onEvent?: (event: FailoverEvent) => void;
  },
): Member {
  const events: FailoverEvent[] = [];
  const pool = createPool({
    endpoints: options.endpoints,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.breaker ? { breaker: options.breaker } : {}),
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
    features: options.store ? [sharedState({ store: options.store })] : [],
  });
  return { pool, store: options.store, events };
}

async function closeAll(members: readonly Member[]): Promise<void> {
  for (const m of members) m.pool.close();
  await Promise.all(members.map((m) => m.store?.close()));
}

/**
 * Runs `workers` call loops on `pool` until `stop()` holds, each pacing
 * its calls `paceMs` apart; resolves with every call's start and duration.
 */
function stream(
  pool: Pool,
  workers: number,
  paceMs: number,
  stop: () => boolean,
): Promise<{ at: number; ms: number; ok: boolean }[]> {
  const calls: { at: number; ms: number; ok: boolean }[] = [];
  const worker = async () => {
    while (!stop()) {
      const at = wallNow();
      const ok = await call(pool);
      calls.push({ at, ms: wallNow() - at, ok });
      await pause(paceMs);
    }
  };
  return Promise.all(Array.from({ length: workers }, worker)).then(() => calls);
}

// ------------------------------------------------------------ npm package

/** Newest mtime (ms) of the files under `dir` (recursively). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const name of readdirSync(path)) {
    latest = Math.max(latest, newest(join(path, name)));
  }
  return latest;
}

/** Rebuilds npm/ when a source (src/, core.ts, deno.json) is newer than it. */
async function ensureNpmBuild(): Promise<void> {
  const built = (() => {
    try {
      return statSync(join(REPO, "npm/esm/src/redis/mod.js")).mtimeMs;
    } catch {
      return 0;
    }
  })();
  const sources = Math.max(
    newest(join(REPO, "src")),
    newest(join(REPO, "core.ts")),
    newest(join(REPO, "deno.json")),
  );
  if (built >= sources) return;
  console.log(
    "npm/ is older than src/: deno run -A scripts/build_npm.ts --no-pack",
  );
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      process.execPath,
      ["run", "-A", "scripts/build_npm.ts", "--no-pack"],
      { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] },
    );
    child.once("exit", resolve);
    child.once("error", () => resolve(-1));
  });
  if (code !== 0) throw new Error(`scripts/build_npm.ts exited ${code}`);
}

// ----------------------------------------------------------- 1. propagation

interface PeerResult {
  runtime: string;
  openAt?: number;
  r1Sends: number[];
  calls: number;
  failed: number;
}

/** Spawns instance B; resolves once it runs, with its final report to come. */
async function startPeer(
  command: string,
  url: string,
  ns: string,
): Promise<{ result: Promise<PeerResult> }> {
  const child = spawn(command, [PEER, REPO, url, ns, "2", "4000"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let wake = () => {};
  let buffer = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (data: string) => {
    buffer += data;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      lines.push(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
    }
    wake();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", resolve);
    child.once("error", () => resolve(-1));
  });
  const line = async (index: number): Promise<string> => {
    while (lines.length <= index) {
      const woke = new Promise<void>((resolve) => wake = resolve);
      const code = await Promise.race([woke.then(() => undefined), exited]);
      if (code !== undefined && lines.length <= index) {
        throw new Error(`${command} ${PEER} exited (${code}) early`);
      }
    }
    return lines[index];
  };
  await line(0); // {"ready":true}
  return {
    result: line(1).then((text) => JSON.parse(text) as PeerResult),
  };
}

async function propagationRun(
  server: RedisServer,
  command: string,
): Promise<{ gap: number; late: number; after: number; runtime: string }> {
  const ns = namespace();
  let tA: number | undefined;
  const a = member({
    endpoints: FAKE_ENDPOINTS,
    fetch: fakeFetch(() => Response.json({ error: "down" }, { status: 503 })),
    breaker: { failureThreshold: 3, cooldown: 60_000 },
    store: redisStore({ url: server.url, namespace: ns }),
    onEvent: (e) => {
      if (e.type === "breaker" && e.endpoint === "r1" && e.to === "open") {
        tA ??= wallNow();
      }
    },
  });
  try {
    const peer = await startPeer(command, server.url, ns);
    await until(async () => await subscribers(server, ns) >= 2, 5_000);
    await pause(20); // B's stream to r1 is running
    for (let i = 0; i < 10 && tA === undefined; i++) await call(a.pool);
    const b = await peer.result;
    if (tA === undefined || b.openAt === undefined) {
      return { gap: NaN, late: NaN, after: NaN, runtime: b.runtime };
    }
    const t = tA;
    return {
      gap: b.openAt - t,
      late: b.r1Sends.filter((s) => s > t + 50).length,
      after: b.r1Sends.filter((s) => s > t).length,
      runtime: b.runtime,
    };
  } finally {
    await closeAll([a]);
  }
}

async function row1(server: RedisServer): Promise<void> {
  console.log(
    "\n1. Propagation A (Deno, here) → B (child process, npm package), Redis on loopback, 5 runs per runtime",
  );
  await ensureNpmBuild();
  for (const [name, command] of [["Node", NODE], ["Bun", BUN]] as const) {
    const runs = [];
    try {
      for (let i = 0; i < 5; i++) {
        runs.push(await propagationRun(server, command));
      }
    } catch (error) {
      report({
        row: `1. ${name}: not measured`,
        value: (error as Error).message.slice(0, 60),
        target: "—",
        met: false,
        method: "instance B's child process failed (see its stderr above)",
      });
      continue;
    }
    const gaps = runs.map((r) => r.gap);
    const late = runs.map((r) => r.late);
    note(
      `${runs[0].runtime}: tB − tA per run ${
        gaps.map((g) => g.toFixed(1)).join(", ")
      } ms; ` +
        `B's r1 requests after tA per run ${
          runs.map((r) => r.after).join(", ")
        }`,
    );
    const ok = gaps.every(Number.isFinite);
    report({
      row: `1. ${name}: tB − tA, median / max`,
      value: ok
        ? `${ms(median(gaps))} / ${ms(max(gaps))}`
        : "B never saw r1 open",
      target: "≤ 50 ms",
      met: ok && max(gaps) <= 50,
      method:
        "A fails r1 3× (503) and opens at tA (breaker event); B calls every 2 ms, r1 blackholed from B; tB = B's breaker event; wall clocks of one machine",
    });
    report({
      row: `1. ${name}: B's r1 requests after tA + 50 ms`,
      value: `${late.reduce((s, n) => s + n, 0)} in 5 runs (max ${max(late)})`,
      target: "0",
      met: late.every((n) => n === 0),
      method: "B's fake fetch records the wall time of each request to r1",
    });
  }
}

// ------------------------------------------------------ 2. 20 instances down

const FLEET = 20;
const IN_FLIGHT = 5;
const BREAKER_2 = { failureThreshold: 3, cooldown: 1_000, maxCooldown: 1_000 };

/**
 * 20 pools calling the farm (r1 refused) until every breaker is open: the
 * requests that reached r1 by then, and how many were in flight when the
 * third failure came back. With a store, then 3 cooldowns more: r1's
 * requests per cooldown.
 */
async function fleetRun(
  server: RedisServer,
  farm: Farm,
  shared: boolean,
): Promise<{
  toOpen: number;
  inFlightAtThird: number;
  /** Requests sent after the third failure came back, ms after the first opening. */
  afterThird: number[];
  allOpenMs: number;
  perCooldown: number[];
  later: string[];
}> {
  const counter = new Counter(farm.region("r1").port);
  const ns = namespace();
  /** Each pool's first breaker-open time for r1. */
  const opened = new Map<number, number>();
  const members = Array.from({ length: FLEET }, (_, i) =>
    member({
      endpoints: farmEndpoints(farm),
      fetch: counter.fetchFor(i),
      breaker: BREAKER_2,
      store: shared
        ? redisStore({ url: server.url, namespace: ns })
        : undefined,
      onEvent: (e) => {
        if (e.type === "breaker" && e.endpoint === "r1" && e.to === "open") {
          if (!opened.has(i)) opened.set(i, wallNow());
        }
      },
    }));
  try {
    if (shared) {
      await until(async () => await subscribers(server, ns) >= FLEET, 5_000);
    }
    await farm.region("r1").setMode("down");
    let stop = false;
    const start = wallNow();
    // The 100 call loops start spread evenly over 100 ms, not all at once.
    const streams = members.map((m, i) =>
      Promise.all(
        Array.from({ length: IN_FLIGHT }, (_, j) =>
          pause((i * IN_FLIGHT + j) * 100 / (FLEET * IN_FLIGHT))
            .then(() =>
              stream(m.pool, 1, 5, () => stop)
            )),
      )
    );
    await until(() => opened.size === FLEET, 5_000);
    const allOpen = max([...opened.values()]);
    const toOpen = counter.sent.filter((s) => s.at <= allOpen).length;
    const third = [...counter.sent.map((s) => s.end)].sort((a, b) => a - b)[2];
    const inFlightAtThird = counter.sent.filter((s) =>
      s.at <= third && s.end > third
    ).length;
    const firstOpen = Math.min(...opened.values());
    const afterThird = counter.sent.filter((s) =>
      s.at > third && s.at <= allOpen
    )
      .map((s) => s.at - firstOpen);
    const perCooldown: number[] = [];
    let later: string[] = [];
    if (shared) {
      // 3 cooldowns after the first, r1 still down: a window of one
      // cooldown around each time the fleet's breaker cools down.
      const c = BREAKER_2.cooldown;
      const t0 = Math.min(...opened.values());
      await pause(Math.max(0, t0 + 4.5 * c - wallNow()));
      for (let k = 1; k <= 3; k++) {
        perCooldown.push(
          counter.sent.filter((s) =>
            s.at > Math.max(allOpen, t0 + (k - 0.5) * c) &&
            s.at <= t0 + (k + 0.5) * c
          ).length,
        );
      }
      later = counter.sent.filter((s) => s.at > allOpen).map((s) =>
        `${s.path.replace("/v1/", "")} +${(s.at - t0).toFixed(0)}`
      );
    }
    stop = true;
    await Promise.all(streams);
    return {
      toOpen,
      inFlightAtThird,
      afterThird,
      allOpenMs: allOpen - start,
      perCooldown,
      later,
    };
  } finally {
    await closeAll(members);
    await farm.region("r1").setMode("up");
  }
}

async function row2(server: RedisServer, farm: Farm): Promise<void> {
  console.log(
    `\n2. ${FLEET} instances, ${IN_FLIGHT} calls in flight each, r1 refused, breaker ${
      JSON.stringify(BREAKER_2)
    }`,
  );
  const alone = await fleetRun(server, farm, false);
  const shared = await fleetRun(server, farm, true);
  note(
    `all ${FLEET} breakers open after ${ms(shared.allOpenMs)} with the store, ${
      ms(alone.allOpenMs)
    } without`,
  );
  const bound = BREAKER_2.failureThreshold + shared.inFlightAtThird;
  report({
    row: `2. requests to r1 until all ${FLEET} open`,
    value:
      `${shared.toOpen} (in flight at 3rd failure: ${shared.inFlightAtThird})`,
    target: `≤ 3 + in flight = ${bound}`,
    met: shared.toOpen <= bound,
    method:
      "100 paced call loops starting over 100 ms; every request to r1's port counted by a wrapping fetch, until each pool's breaker event to open",
  });
  report({
    row: `2. … the same ${FLEET} pools without a store`,
    value:
      `${alone.toOpen} (in flight at 3rd failure: ${alone.inFlightAtThird})`,
    target: `${FLEET} × 3 = ${FLEET * 3} (comparison)`,
    met: undefined,
    method: "same run, no sharedState",
  });
  note(
    `with the store, sent after the 3rd failure came back (ms after the first breaker opened): ${
      shared.afterThird.map((t) => t.toFixed(1)).join(", ") || "none"
    }`,
  );
  note(
    `r1 requests after all open (ms after the first opening): ${
      shared.later.join(", ") || "none"
    }`,
  );
  report({
    row: "2. requests to r1 per cooldown, 3 cooldowns",
    value: shared.perCooldown.join(", "),
    target: "1 per cooldown (fleet)",
    met: shared.perCooldown.length === 3 &&
      shared.perCooldown.every((n) => n === 1),
    method:
      "traffic goes on, r1 still refused; requests to r1 (probes, trials) in a 1 s window around the end of cooldowns 1, 2, 3 after the first opening",
  });
}

// ---------------------------------------------------------- 3. added latency

async function row3(server: RedisServer, farm: Farm): Promise<void> {
  const ROUNDS = 40;
  const CALLS = 100;
  console.log(
    `\n3. Added latency, all regions up: ${ROUNDS} rounds × ${CALLS} sequential calls per pool, order alternating`,
  );
  const plain = member({ endpoints: farmEndpoints(farm) });
  const shared = member({
    endpoints: farmEndpoints(farm),
    store: redisStore({ url: server.url, namespace: namespace() }),
  });
  try {
    for (let i = 0; i < 100; i++) {
      await call(plain.pool);
      await call(shared.pool);
    }
    const timeRound = async (m: Member) => {
      const start = performance.now();
      for (let i = 0; i < CALLS; i++) await call(m.pool);
      return (performance.now() - start) * 1000 / CALLS;
    };
    const plainUs: number[] = [];
    const sharedUs: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let p: number, s: number;
      if (round % 2 === 0) {
        p = await timeRound(plain);
        s = await timeRound(shared);
      } else {
        s = await timeRound(shared);
        p = await timeRound(plain);
      }
      plainUs.push(p);
      sharedUs.push(s);
      ratios.push(s / p);
    }
    const ratio = median(ratios);
    report({
      row: "3. µs per call with / without the store",
      value: `${median(sharedUs).toFixed(0)} / ${
        median(plainUs).toFixed(0)
      } µs (×${ratio.toFixed(3)})`,
      target: "ratio ≤ 1.05",
      met: ratio <= 1.05,
      method:
        "medians over rounds; ratio = median of per-round ratios; farm in this process",
    });
  } finally {
    await closeAll([plain, shared]);
  }
}

// ------------------------------------------------------- 4. Redis killed

async function row4(server: RedisServer, farm: Farm): Promise<void> {
  const POOLS = 5;
  const DOWN_MS = 2_000;
  console.log(
    `\n4. Redis killed mid-run: ${POOLS} pools, 2 calls in flight each (paced 5 ms), r1 up; Redis down ${DOWN_MS} ms`,
  );
  const ns = namespace();
  const members = Array.from({ length: POOLS }, () =>
    member({
      endpoints: farmEndpoints(farm),
      store: redisStore({ url: server.url, namespace: ns }),
    }));
  // The pool that learns a bench while Redis is down: its r1 answers 429.
  const teller = member({
    endpoints: FAKE_ENDPOINTS,
    fetch: fakeFetch(() =>
      Response.json({ error: "slow down" }, {
        status: 429,
        headers: { "retry-after-ms": "30000" },
      })
    ),
    store: redisStore({ url: server.url, namespace: ns }),
  });
  const all = [...members, teller];
  try {
    await until(async () => await subscribers(server, ns) >= all.length, 5_000);
    let stop = false;
    const streams = members.map((m) => stream(m.pool, 2, 5, () => stop));
    await pause(500);
    const downAt = wallNow();
    await server.stop();
    await pause(DOWN_MS / 2);
    await call(teller.pool); // r1 benched in the teller, 30 s
    const benched = stateOf(teller.pool) === "rate-limited";
    await pause(DOWN_MS / 2);
    const upAt = wallNow();
    await server.start();
    const answering = wallNow();
    const seen = await until(
      () => members.some((m) => stateOf(m.pool) === "rate-limited"),
      3_000,
    );
    const seenAt = wallNow();
    const storesUp = await until(
      () =>
        all.every((m) =>
          m.events.filter((e) => e.type === "store").at(-1)?.up === true
        ),
      3_000,
    );
    const kept = await server.command(
      "EXISTS",
      `ky-failover:${ns}:holds:r1:rate-limited`,
    );
    const listening = await subscribers(server, ns);
    await pause(300);
    stop = true;
    const calls = (await Promise.all(streams)).flat();
    const failed = calls.filter((c) => !c.ok).length;
    const during = calls.filter((c) => c.at >= downAt && c.at < upAt);
    const slowest = max(during.map((c) => c.ms));
    const normal = median(calls.filter((c) => c.at < downAt).map((c) => c.ms));
    const events = all.map((m) =>
      m.events.filter((e) => e.type === "store").map((e) =>
        (e as { up: boolean }).up ? "up" : "down"
      ).join("→") || "none"
    );
    note(
      `Redis answered PING ${
        ms(answering - upAt)
      } after start(); teller benched r1 locally: ${benched}; all stores told up: ${storesUp}; ` +
        `then: bench kept in Redis ${
          kept === 1 ? "yes" : "no"
        }, ${listening} of ${all.length} stores subscribed, ` +
        `${
          members.filter((m) => stateOf(m.pool) === "rate-limited").length
        } of ${POOLS} see r1 rate-limited`,
    );
    report({
      row: "4. failed calls (whole run)",
      value: `${failed} of ${calls.length}`,
      target: "0",
      met: failed === 0,
      method:
        "5 pools × 2 paced streams to the farm; Redis SIGKILLed, 2 s, started again",
    });
    report({
      row: "4. slowest call while Redis was down",
      value: `${ms(slowest)} (median before: ${
        ms(normal)
      }; ${during.length} calls)`,
      target: "no call waits on the store",
      met: slowest < 250,
      method:
        "calls started between stop() and start(); ✓ if < 250 ms (the store timeout)",
    });
    report({
      row: "4. store events per pool",
      value: [...new Set(events)].map((e) =>
        `${e} ×${events.filter((x) => x === e).length}`
      ).join(", "),
      target: "down→up, once each",
      met: events.every((e) => e === "down→up"),
      method: "`store` events of the 6 pools (5 streaming + the teller)",
    });
    report({
      row: "4. re-sync: teller's bench seen by another",
      value: seen
        ? `${ms(seenAt - answering)} after Redis answered`
        : "not within 3 s",
      target: "≤ 1000 ms",
      met: seen && seenAt - answering <= 1_000,
      method:
        "teller's r1 answered 429 retry-after-ms 30000 while Redis was down; polled status() of the 5 others every 2 ms",
    });
  } finally {
    await closeAll(all);
  }
}

// --------------------------------------------------------------------- main

const started = Date.now();
console.log(
  `ky-failover issue 13 bench — shared state over Redis (Deno ${
    (globalThis as { Deno?: { version: { deno: string } } }).Deno?.version
      .deno ?? process.version
  }, redis-server on loopback)`,
);
const only = process.argv.indexOf("--only");
const enabled = (n: number) =>
  only < 0 || (process.argv[only + 1] ?? "").split(",").includes(String(n));
const server = await startRedis();
const farm = await startFarm(["r1", "r2"]);
try {
  if (enabled(1)) await row1(server);
  if (enabled(2)) await row2(server, farm);
  if (enabled(3)) await row3(server, farm);
  if (enabled(4)) await row4(server, farm);
} finally {
  await farm.close();
  await server.stop();
}

const widths = [
  Math.max(...rows.map((r) => r.row.length)),
  Math.max(...rows.map((r) => r.value.length)),
  Math.max(...rows.map((r) => r.target.length)),
];
console.log(
  `\n| ${"row".padEnd(widths[0])} | ${"measured".padEnd(widths[1])} | ${
    "target".padEnd(widths[2])
  } |   |`,
);
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|---|`);
for (const r of rows) {
  console.log(
    `| ${r.row.padEnd(widths[0])} | ${r.value.padEnd(widths[1])} | ${
      r.target.padEnd(widths[2])
    } | ${mark(r.met)} |`,
  );
}
console.log(
  `\n${rows.filter((r) => r.met === true).length} met, ${
    rows.filter((r) => r.met === false).length
  } missed; ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
process.exit(0);
