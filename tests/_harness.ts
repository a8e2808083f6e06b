// One test API for every runtime: Deno.test (with its resource, op and
// exit sanitizers on) under Deno, node:test under Node and Bun. Every test
// is bounded: one that has not settled after TEST_TIMEOUT_MS fails with a
// timeout error instead of stalling the run.

import { bounded } from "./_bounded.ts";
export { bounded } from "./_bounded.ts";
export { default as assert } from "node:assert/strict";

type TestFn = () => void | Promise<void>;

/** How long one test may run before it fails as hung. */
export const TEST_TIMEOUT_MS = 30_000;

const deno = (globalThis as { Deno?: { test(name: string, fn: TestFn): void } })
  .Deno;

const register: (name: string, fn: TestFn) => void = deno
  ? (name, fn) => deno.test(name, fn)
  : (await import("node:test")).test as (name: string, fn: TestFn) => void;

/** Registers a test with the runtime's own test runner, bounded in time. */
export function test(name: string, fn: TestFn): void {
  register(name, () => bounded(`test "${name}"`, TEST_TIMEOUT_MS, fn));
}
