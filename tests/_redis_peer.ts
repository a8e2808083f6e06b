/**
 * One instance of a pool sharing state through Redis, run by Node 24 or Bun
 * in a child process for tests/redis_processes_test.ts: the built npm
 * package (imported by absolute path from `<repo>/npm/esm/`), its own fake
 * `fetch` (r1 and r2 answer 200 until told otherwise) that counts the
 * requests reaching each endpoint, `sharedState({ store: redisStore(…) })`.
 * Not a test file: the test drives it.
 *
 * ```sh
 * node tests/_redis_peer.ts <repo> <redis-url> <namespace> <maxMs>
 * ```
 *
 * Protocol, one JSON object a line. It prints `{"ready":true,"runtime":…}`
 * once its pool exists. Then it reads commands on stdin and answers each
 * with `{"id":<its id>, …snapshot}` (see {@linkcode Snapshot}):
 *
 * - `{"id":1,"cmd":"report"}` — the snapshot;
 * - `{"id":2,"cmd":"r1","status":503}` — what r1 answers from now on;
 * - `{"id":3,"cmd":"call","n":3}` — `n` calls, one after the other;
 * - `{"id":4,"cmd":"loop","paceMs":10}` — calls every `paceMs` until `stop`;
 * - `{"id":5,"cmd":"stop"}` — ends the loop (its last call settled);
 * - `{"id":6,"cmd":"exit"}` — closes pool and store, answers, exits 0.
 *
 * It exits by itself too: when stdin ends (the test is gone) and after
 * `maxMs` (exit code 2), so that no run leaves it behind.
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { npmBuild, PEER_ENDPOINTS, runtime } from "./_npm_peer.ts";

const [repo, url, namespace, max = "25000"] = process.argv.slice(2);
const { createPool, sharedState, redisStore } = await npmBuild(repo);

/** What the peer tells the test after each command. */
export interface Snapshot {
  runtime: string;
  /** r1's state in this pool (`healthy`, `open` …). */
  r1: string | undefined;
  /** Requests this pool's fetch sent to each endpoint. */
  sent: { r1: number; r2: number };
  /** Calls made, and those that failed (non-2xx or thrown). */
  calls: number;
  failed: number;
  /** The first failed calls' messages. */
  errors: string[];
  /** `store` events, in order. */
  store: { store: string; up: boolean }[];
  /** r1's breaker transitions, in order. */
  breaker: string[];
}

const sent = { r1: 0, r2: 0 };
let r1Status = 200;
let calls = 0;
let failed = 0;
const errors: string[] = [];
const storeEvents: { store: string; up: boolean }[] = [];
const breaker: string[] = [];

const fakeFetch: typeof fetch = (input) => {
  const target = new URL(input instanceof Request ? input.url : String(input));
  const endpoint = target.hostname.split(".")[0] as "r1" | "r2";
  sent[endpoint] += 1;
  const status = endpoint === "r1" ? r1Status : 200;
  return Promise.resolve(Response.json({ ok: status < 400 }, { status }));
};

const store = redisStore({ url, namespace });
const pool = createPool({
  endpoints: PEER_ENDPOINTS,
  breaker: { failureThreshold: 3, cooldown: 30_000, maxCooldown: 60_000 },
  fetch: fakeFetch,
  onEvent: (
    event: {
      type: string;
      endpoint?: string;
      to?: string;
      store?: string;
      up?: boolean;
    },
  ) => {
    if (event.type === "store") {
      storeEvents.push({ store: String(event.store), up: event.up === true });
    }
    if (event.type === "breaker" && event.endpoint === "r1") {
      breaker.push(String(event.to));
    }
  },
  features: [sharedState({ store, timeout: 500 })],
});

function snapshot(): Snapshot {
  const r1 = pool.status().find((s: { name: string }) => s.name === "r1");
  return {
    runtime,
    r1: r1?.state,
    sent: { ...sent },
    calls,
    failed,
    errors: [...errors],
    store: [...storeEvents],
    breaker: [...breaker],
  };
}

async function call(): Promise<void> {
  calls++;
  try {
    const response = await pool.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"m","messages":[]}',
    });
    await response.text();
    if (!response.ok) throw new Error(`status ${response.status}`);
  } catch (error) {
    failed++;
    if (errors.length < 5) errors.push(String((error as Error)?.message));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let looping = false;
let loop: Promise<void> = Promise.resolve();

async function stopLoop(): Promise<void> {
  looping = false;
  await loop;
}

let closing: Promise<never> | undefined;
function shutdown(code: number): Promise<never> {
  closing ??= (async () => {
    await stopLoop();
    pool.close();
    await store.close().catch(() => {});
    process.exit(code);
  })();
  return closing;
}

function send(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

const deadline = setTimeout(() => {
  process.stderr.write(`_redis_peer (${runtime}): ${max} ms passed, exits\n`);
  void shutdown(2);
}, Number(max));

interface Command {
  id: number;
  cmd: "report" | "r1" | "call" | "loop" | "stop" | "exit";
  status?: number;
  n?: number;
  paceMs?: number;
}

// Commands run one after the other, in the order they came.
let queue: Promise<void> = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line: string) => {
  if (line.trim() === "") return;
  const command = JSON.parse(line) as Command;
  queue = queue.then(async () => {
    switch (command.cmd) {
      case "r1":
        r1Status = command.status ?? 200;
        break;
      case "call":
        for (let i = 0; i < (command.n ?? 1); i++) await call();
        break;
      case "loop":
        if (!looping) {
          looping = true;
          loop = (async () => {
            while (looping) {
              await call();
              await pause(command.paceMs ?? 10);
            }
          })();
        }
        break;
      case "stop":
        await stopLoop();
        break;
      case "exit":
        clearTimeout(deadline);
        await stopLoop();
        send({ id: command.id, ...snapshot() });
        await shutdown(0);
        return;
    }
    send({ id: command.id, ...snapshot() });
  });
});
lines.on("close", () => void shutdown(0));

send({ ready: true, runtime });
