// One test API for every runtime: Deno.test (with its resource, op and
// exit sanitizers on) under Deno, node:test under Node and Bun.

export { default as assert } from "node:assert/strict";

type TestFn = () => void | Promise<void>;

const deno = (globalThis as { Deno?: { test(name: string, fn: TestFn): void } })
  .Deno;

/** Registers a test with the runtime's own test runner. */
export const test: (name: string, fn: TestFn) => void = deno
  ? (name, fn) => deno.test(name, fn)
  : (await import("node:test")).test as (name: string, fn: TestFn) => void;
