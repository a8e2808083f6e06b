/**
 * Failover timings over real loopback sockets (the region farm of
 * tests/_region_farm.ts), measured side by side in one run — not a test.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env bench/failover_bench.ts [--calls 400]
 * ```
 *
 * 1. Added latency of a failover from a refused primary: the same call
 *    through a pool whose primary is up, and through one whose primary
 *    refuses connections (breaker off, so every call pays the failover),
 *    interleaved call by call; p50 / p90 of each and of the difference.
 * 2. A blackholed primary (per-attempt timeout 500 ms, default breaker):
 *    how long until it stops receiving traffic, how many calls reached it,
 *    and the latency of later calls — sequential and 8 calls at a time.
 * 3. A stream that stalls after 2 chunks, `streamIdleTimeout: 1000`: time
 *    from the last chunk to the error, and from the request to the error.
 *
 * @module
 */

import { startFarm } from "../tests/_region_farm.ts";
import { createFailover, isStreamIdleTimeoutError } from "ky-failover";

const args = Deno.args;
const CALLS = Number(args[args.indexOf("--calls") + 1]) || 400;
const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };
const body = JSON.stringify(chat);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const ms = (v: number) => `${v.toFixed(2)} ms`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function call(api: { fetch: typeof fetch }): Promise<void> {
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body,
  });
  await response.arrayBuffer();
}

async function refusedPrimary(): Promise<string[]> {
  await using healthy = await startFarm(["primary", "hk"]);
  await using broken = await startFarm(["primary", "hk"]);
  await broken.region("primary").setMode("down");
  const pool = (farm: typeof healthy) =>
    createFailover({
      endpoints: farm.regions.map((r, i) => ({
        name: r.name,
        url: r.url,
        apiKey: "sk-bench",
        priority: i + 1,
      })),
      breaker: false,
      retryBudget: false,
    });
  using up = pool(healthy);
  using down = pool(broken);
  for (let i = 0; i < 50; i++) { // warm-up: JIT, connection pools
    await call(up);
    await call(down);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    a.push(await timed(() => call(up)));
    b.push(await timed(() => call(down)));
  }
  const added = b.map((v, i) => v - a[i]);
  return [
    `healthy call                     p50 ${ms(quantile(a, 0.5))}   p90 ${
      ms(quantile(a, 0.9))
    }`,
    `refused primary → hk             p50 ${ms(quantile(b, 0.5))}   p90 ${
      ms(quantile(b, 0.9))
    }`,
    `added by the failover            p50 ${ms(quantile(added, 0.5))}   p90 ${
      ms(quantile(added, 0.9))
    }   (${CALLS} interleaved pairs)`,
  ];
}

async function blackholedPrimary(concurrency: number): Promise<string> {
  await using farm = await startFarm(["primary", "hk"]);
  using api = createFailover({
    endpoints: farm.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      priority: i + 1,
    })),
    timeout: 500,
  });
  for (let i = 0; i < 20; i++) await call(api);
  const before = farm.region("primary").received.length;
  await farm.region("primary").setMode("blackhole");
  const start = performance.now();
  let lastToPrimary = start;
  const latencies: number[] = [];
  let first = 0;
  const worker = async () => {
    for (let i = 0; i < 40; i++) {
      const seenBefore = farm.region("primary").received.length;
      const t = await timed(() => call(api));
      if (first === 0) first = t;
      latencies.push(t);
      if (farm.region("primary").received.length > seenBefore) {
        lastToPrimary = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const reached = farm.region("primary").received.length - before;
  const later = latencies.slice(-Math.floor(latencies.length / 2));
  return `blackhole, ${concurrency} at a time:  first call ${
    ms(first)
  }; ${reached} calls reached it; ` +
    `stopped within ${ms(lastToPrimary - start)}; later calls p50 ${
      ms(quantile(later, 0.5))
    }`;
}

async function stalledStream(): Promise<string> {
  await using farm = await startFarm(["primary", "hk"]);
  await farm.region("primary").setMode({ stallStream: 2 });
  using api = createFailover({
    endpoints: farm.regions.map((r, i) => ({
      name: r.name,
      url: r.url,
      priority: i + 1,
    })),
    streamIdleTimeout: 1_000,
  });
  const toError: number[] = [];
  const afterChunk: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const reader = response.body!.getReader();
    let lastChunk = start;
    for (;;) {
      try {
        const { done } = await reader.read();
        if (done) throw new Error("the stream ended instead of stalling");
        lastChunk = performance.now();
      } catch (error) {
        if (!isStreamIdleTimeoutError(error)) throw error;
        break;
      }
    }
    const end = performance.now();
    toError.push(end - start);
    afterChunk.push(end - lastChunk);
  }
  return `stalled stream (idle 1000 ms):    error ${
    ms(quantile(afterChunk, 0.5))
  } after the last chunk, ` +
    `${ms(quantile(toError, 0.5))} after the request (median of 3)`;
}

console.log(
  `ky-failover failover bench — Deno ${Deno.version.deno}, ${
    new Date().toISOString()
  }`,
);
for (const line of await refusedPrimary()) console.log(line);
console.log(await blackholedPrimary(1));
console.log(await blackholedPrimary(8));
console.log(await stalledStream());
