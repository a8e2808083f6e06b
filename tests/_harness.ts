// One test API for every runtime: Deno.test (with its resource, op and
// exit sanitizers on) under Deno, node:test under Node and Bun. Every test
// is bounded: one that has not settled after TEST_TIMEOUT_MS fails with a
// timeout error instead of stalling the run.

export { default as assert } from "node:assert/strict";

type TestFn = () => void | Promise<void>;

/** How long one test may run before it fails as hung. */
export const TEST_TIMEOUT_MS = 30_000;

const deno = (globalThis as { Deno?: { test(name: string, fn: TestFn): void } })
  .Deno;

const register: (name: string, fn: TestFn) => void = deno
  ? (name, fn) => deno.test(name, fn)
  : (await import("node:test")).test as (name: string, fn: TestFn) => void;

/** Runs `fn`, failing if it has not settled within `ms`; clears its timer. */
export async function bounded<T>(
  what: string,
  ms: number,
  fn: () => T | Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms} ms (hung)`)),
      ms,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers a test with the runtime's own test runner, bounded in time. */
export function test(name: string, fn: TestFn): void {
  register(name, () => bounded(`test "${name}"`, TEST_TIMEOUT_MS, fn));
}
