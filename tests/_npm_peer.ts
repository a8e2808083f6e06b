// What a peer process (Node 24 or Bun, run by tests/redis_processes_test.ts
// or bench/shared_bench.ts) shares: the built npm package, imported by
// absolute path from `<repo>/npm/esm/` as another app would, the name of
// the runtime it runs on, and the two endpoints its pool has (r1 first,
// r2 as the backup; each peer answers them with a fetch of its own).

import process from "node:process";
import { pathToFileURL } from "node:url";

/** `createPool`, `sharedState` and `redisStore` from `<repo>/npm/esm/`. */
export async function npmBuild(repo: string) {
  const from = (path: string) => pathToFileURL(`${repo}/npm/esm/${path}`).href;
  const { createPool } = await import(from("core.js"));
  const { sharedState } = await import(from("src/shared/mod.js"));
  const { redisStore } = await import(from("src/redis/mod.js"));
  return { createPool, sharedState, redisStore };
}

const globals = globalThis as { Bun?: { version: string } };

/** `Node v24…` or `Bun 1.…`. */
export const runtime: string = globals.Bun
  ? `Bun ${globals.Bun.version}`
  : `Node ${process.version}`;

/** The peers' two endpoints: r1 (priority 1) and r2 (priority 2). */
export const PEER_ENDPOINTS = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];
