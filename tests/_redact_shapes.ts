// Errors and responses shaped as the runtimes' own, for the redaction
// tests: a pool of one endpoint whose URL carries a query key, and a fake
// fetch that rejects with (or resolves to) whatever the test hands it, so
// that what the pool hands out can be compared with what fetch produced.

import { assert } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type Failover,
  type FailoverError,
  isFailoverError,
} from "ky-failover";

/** The key as written in the endpoint's URL: `/` and `+` raw. */
export const KEY = "qk/SEC+core42";
/** The endpoint's URL: a short, non-secret version and the key. */
export const ENDPOINT = `http://a.test/v1?api-version=1&api-key=${KEY}`;
/** The URL the pool sends `models` to: the endpoint's query as configured. */
export const LEAK = `http://a.test/v1/models?api-version=1&api-key=${KEY}`;
/** That URL as it must be handed out. */
export const CLEAN = "http://a.test/v1/models";
/** The message of a placeholder for what was nested too deep. */
export const OMITTED = "[error omitted: nested too deep to check for secrets]";

/** A pool of one endpoint `a` at `url`, one attempt per call. */
export function onePool(
  fetch: typeof globalThis.fetch,
  url = ENDPOINT,
): Failover {
  return createFailover({
    endpoints: [{ name: "a", url }],
    maxAttempts: 1,
    clock: new ManualClock(),
    fetch,
  });
}

/** The rejection of `promise` (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    (value) => assert.fail(`expected a rejection, got ${typeof value}`),
    (error) => error,
  );
}

/**
 * The FailoverError of one call to `path` (default `models`) on a fresh
 * pool of `url`, whose fetch rejects with what `make` returns for the URL
 * it was given; checked to hold one attempt whose error is also its cause.
 */
export async function failure(
  make: (sent: string) => unknown,
  { url = ENDPOINT, path = "models" }: { url?: string; path?: string } = {},
): Promise<FailoverError> {
  const fetch = (input: RequestInfo | URL) =>
    Promise.reject(make(input instanceof Request ? input.url : String(input)));
  using api = onePool(fetch as typeof globalThis.fetch, url);
  const error = await rejection(api.fetch(path));
  assert.ok(isFailoverError(error), "the call fails with a FailoverError");
  assert.equal(error.attempts.length, 1);
  assert.equal(error.cause, error.attempts[0].error, "cause: the attempt's");
  return error;
}

/** Any value, its properties read without narrowing. */
// deno-lint-ignore no-explicit-any
export type Loose = any;

/** What the pool hands out for a fetch that rejects with `thrown`. */
export async function handedOut(
  thrown: unknown,
  url = ENDPOINT,
): Promise<Loose> {
  return (await failure(() => thrown, { url })).attempts[0].error;
}

/** An own property's descriptor, failing if there is none. */
export function own(target: object, key: PropertyKey): PropertyDescriptor {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  assert.ok(descriptor, `an own ${String(key)}`);
  return descriptor;
}

/** A data property's descriptor as `Object.getOwnPropertyDescriptor` gives it. */
export function data(
  value: unknown,
  writable: boolean,
  enumerable: boolean,
  configurable: boolean,
): PropertyDescriptor {
  return { value, writable, enumerable, configurable };
}
