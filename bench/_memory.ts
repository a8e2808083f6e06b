/**
 * The memory figure of bench/failover_bench.ts, in a process of its own so
 * that nothing but ky-failover (and ky) is loaded: N `api.fetch` calls over
 * an in-memory transport (the `fetch` option answers `{"ok":true}` at once,
 * so no socket, no server), the heap read with GC forced after a
 * 10,000-call warm-up, at 10 %, 25 % and 50 % of the calls and at the end.
 * Prints one JSON line: `{ gc, readings: [[calls, heapUsed], …], callUs }`.
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
const api = createFailover({
  endpoints: ["a", "b", "c"].map((name, i) => ({
    name,
    url: `http://127.0.0.1:${9 + i}/v1`,
    apiKey: `sk-${name}`,
  })),
  fetch: () =>
    Promise.resolve(
      new Response(answer, { headers: { "content-type": "application/json" } }),
    ),
});
const call = async () => {
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await response.json();
};

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
api.close();
process.stdout.write(
  JSON.stringify({ gc, readings, callUs: busy * 1000 / calls }) + "\n",
);
