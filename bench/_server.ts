/**
 * The loopback regions of bench scenario S1, in a process of their own so
 * that the client being measured keeps its own core: starts the region farm
 * of tests/_region_farm.ts (node:http) and prints its URLs as one JSON line
 * on stdout, `{"urls":["http://127.0.0.1:…/v1", …]}`. Runs until killed or
 * until stdin closes (the bench that spawned it went away).
 *
 * ```sh
 * node bench/_server.ts r1 r2 r3   # Node ≥ 22.18 strips the types
 * ```
 *
 * The farm records every request it reads; the record is emptied every
 * second so that a long run does not grow the server's heap.
 *
 * @module
 */

import process from "node:process";
import { startFarm } from "../tests/_region_farm.ts";

const names = process.argv.slice(2);
const farm = await startFarm(names.length > 0 ? names : ["r1", "r2", "r3"]);
const trim = setInterval(() => {
  for (const region of farm.regions) region.reset();
}, 1_000);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(trim);
  await farm.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.on("close", () => void stop());
process.stdin.resume();

process.stdout.write(
  JSON.stringify({ urls: farm.regions.map((r) => r.url) }) + "\n",
);
