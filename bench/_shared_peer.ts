/**
 * Instance B of bench/shared_bench.ts row 1, run by Node 24 or Bun in a
 * child process: a pool of the built npm package (imported by absolute
 * path from `<repo>/npm/esm/`) sharing state through Redis, that sends a
 * call every `paceMs` through its own fake `fetch` and records the wall
 * time of each request it sends to r1. r1 is blackholed from here (no
 * answer until the pool gives up, 30 s), r2 answers 200: B adds no outcome
 * of its own for r1, so r1 opens here only from what the other instances
 * tell it.
 *
 * ```sh
 * node bench/_shared_peer.ts <repo> <redis-url> <namespace> [paceMs] [maxMs]
 * ```
 *
 * Prints `{"ready":true}` once its store is up and the calls run, then, when
 * done (200 ms after r1 opened here, or after `maxMs`), one JSON line:
 * `{ runtime, openAt, r1Sends, calls, failed }` (times: ms since the epoch,
 * sub-ms, from `performance.timeOrigin + performance.now()`).
 *
 * @module
 */

import process from "node:process";
import { npmBuild, PEER_ENDPOINTS, runtime } from "../tests/_npm_peer.ts";

const [repo, url, namespace, pace = "2", max = "4000"] = process.argv.slice(2);
const paceMs = Number(pace);
const maxMs = Number(max);
const { createPool, sharedState, redisStore } = await npmBuild(repo);

const wallNow = () => performance.timeOrigin + performance.now();

const r1Sends: number[] = [];
let openAt: number | undefined;

const fakeFetch: typeof fetch = (input, init) => {
  const request = input instanceof Request ? input : undefined;
  const target = new URL(request ? request.url : String(input));
  if (target.hostname.startsWith("r1.")) {
    // Blackholed from here: no answer until the pool aborts the attempt.
    r1Sends.push(wallNow());
    const signal = init?.signal ?? request?.signal;
    return new Promise((_, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
    });
  }
  return Promise.resolve(Response.json({ ok: true }));
};

const store = redisStore({ url, namespace });
const pool = createPool({
  endpoints: PEER_ENDPOINTS,
  breaker: { failureThreshold: 3, cooldown: 60_000 },
  fetch: fakeFetch,
  onEvent: (event: { type: string; endpoint?: string; to?: string }) => {
    if (
      event.type === "breaker" && event.endpoint === "r1" &&
      event.to === "open" && openAt === undefined
    ) {
      openAt = wallNow();
    }
  },
  features: [sharedState({ store })],
});

let calls = 0;
let failed = 0;
async function call(): Promise<void> {
  calls++;
  try {
    const response = await pool.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"m","messages":[]}',
    });
    await response.text();
    if (!response.ok) failed++;
  } catch {
    failed++;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Calls paced every `paceMs` (not awaited one by one: a slow call would
// thin the stream), until 200 ms after r1 opened here, or `maxMs`.
const start = wallNow();
const inFlight = new Set<Promise<void>>();
let announced = false;
while (wallNow() - start < maxMs) {
  if (openAt !== undefined && wallNow() - openAt > 200) break;
  const p = call().finally(() => inFlight.delete(p));
  inFlight.add(p);
  if (!announced && calls >= 5) {
    announced = true;
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  }
  await pause(paceMs);
}
// Calls still waiting on the blackholed r1 end with the pool.
pool.close();
await Promise.all(inFlight);
await store.close();
process.stdout.write(
  JSON.stringify({ runtime, openAt, r1Sends, calls, failed }) + "\n",
);
process.exit(0);
