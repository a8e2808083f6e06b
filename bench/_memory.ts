/**
 * The memory figure of bench/failover_bench.ts, in a process of its own so
 * that nothing but ky-failover (and ky) is loaded: N `api.fetch` calls over
 * an in-memory transport (the `fetch` option answers `{"ok":true}` at once,
 * so no socket, no server), the heap read with GC forced after a
 * 10,000-call warm-up, at 10 %, 25 % and 50 % of the calls and at the end.
 * The answer has a `content-length`, as the S1 regions' do. Then, side by
 * side in rounds, the same transport called directly (the same answer read
 * the same way), the same calls, and calls whose answer has no length (read
 * chunk by chunk by the stream watch): what ky-failover itself costs per
 * call, either way. Prints one JSON line: `{ gc, readings: [[calls,
 * heapUsed], …], callUs, directUs, ownUs, chunkedOwnUs }`.
 *
 * ```sh
 * node --expose-gc --no-flush-bytecode bench/_memory.ts 1000000
 * deno run --v8-flags=--expose-gc,--no-flush-bytecode bench/_memory.ts 1000000
 * bun bench/_memory.ts 1000000
 * ```
 *
 * `--no-flush-bytecode` (V8): otherwise V8 drops the bytecode of functions
 * unused for a while (the runtime's own start-up code) during the run, and
 * the heap shrinks by megabytes for reasons that have nothing to do with
 * ky-failover.
 *
 * @module
 */

import process from "node:process";
import { createFailover } from "ky-failover";

interface Globals {
  Bun?: { gc(full: boolean): void };
  gc?: () => void;
}
const globals = globalThis as unknown as Globals;
const calls = Number(process.argv[2]) || 1_000_000;

/**
 * Forces full collections until the heap stops shrinking, with a macrotask
 * turn after each so that finalization callbacks can run. `false` when the
 * runtime exposes no GC.
 */
async function collectGarbage(): Promise<boolean> {
  const collect = globals.Bun ? () => globals.Bun!.gc(true) : globals.gc;
  if (collect === undefined) return false;
  let last = Infinity;
  for (let i = 0; i < 50; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const used = process.memoryUsage().heapUsed;
    if (i >= 3 && used >= last - 4096) break;
    last = Math.min(last, used);
  }
  return true;
}

const body = JSON.stringify({
  model: "gpt-4.1",
  messages: [{ role: "user", content: "hi" }],
});
const answer = '{"ok":true}';
/**
 * An answer of known length, as the S1 regions (and most JSON APIs) send
 * it; `chunked` leaves the length out, as a chunked answer does, which the
 * stream watch reads chunk by chunk.
 */
function transportOf(chunked: boolean) {
  const headers: Record<string, string> = {
    "content-type": "application/json",
  };
  if (!chunked) headers["content-length"] = String(answer.length);
  return (_url: RequestInfo | URL, _init?: RequestInit) =>
    Promise.resolve(new Response(answer, { headers }));
}

function pool(chunked: boolean) {
  return createFailover({
    endpoints: ["a", "b", "c"].map((name, i) => ({
      name,
      url: `http://127.0.0.1:${9 + i}/v1`,
      apiKey: `sk-${name}`,
    })),
    fetch: transportOf(chunked),
  });
}

const transport = transportOf(false);
const api = pool(false);
const direct = async () => {
  const response = await transport("http://127.0.0.1:9/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer k" },
    body,
  });
  await response.json();
};
const callOf = (target: typeof api) => async () => {
  const response = await target.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.json();
};
const call = callOf(api);

for (let i = 0; i < 10_000; i++) await call();
const gc = await collectGarbage();
const readings: [number, number][] = [[0, process.memoryUsage().heapUsed]];
const checkpoints = [0.1, 0.25, 0.5, 1].map((f) => Math.round(f * calls));
let busy = 0;
for (let done = 0; done < calls;) {
  const next = checkpoints.find((c) => c > done) ?? calls;
  const start = performance.now();
  for (; done < next; done++) await call();
  busy += performance.now() - start;
  await collectGarbage();
  readings.push([done, process.memoryUsage().heapUsed]);
}

/** µs per call of `fn` over `n` calls. */
async function perCall(fn: () => Promise<void>, n: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - start) * 1000 / n;
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[values.length >> 1];
const chunkedApi = pool(true);
const chunkedCall = callOf(chunkedApi);
const directs: number[] = [];
const owns: number[] = [];
const chunkedOwns: number[] = [];
const roundCalls = Math.max(1000, Math.round(calls / 50));
for (let round = 0; round < 9; round++) {
  const d = await perCall(direct, roundCalls);
  directs.push(d);
  owns.push(await perCall(call, roundCalls) - d);
  chunkedOwns.push(await perCall(chunkedCall, roundCalls) - d);
}
api.close();
chunkedApi.close();
process.stdout.write(
  JSON.stringify({
    gc,
    readings,
    callUs: busy * 1000 / calls,
    directUs: median(directs),
    ownUs: median(owns),
    chunkedOwnUs: median(chunkedOwns),
  }) + "\n",
);
