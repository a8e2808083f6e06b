// Seeing what the code under test did — and did not do — at a given moment
// of the manual clock, without sleeping:
//
// - `turns()` lets every chain of promises started by a `clock.advance()`
//   run out (a timer's callback, what it resolves, the next attempt's
//   middleware up to its fetch) before a test checks that something did
//   NOT happen. An answer needs about five microtask turns to arrive, so a
//   check made synchronously after `advance()` cannot fail; after
//   `turns()` it can. Zero-delay macrotasks: no time passes on the pool's
//   clock.
// - `attemptSignals()` is a middleware that keeps each attempt's signal,
//   so a test reads at once, on the clock, when an attempt was aborted
//   (a timeout that fires 1 ms early, an abort that does not reach it).
// - `fetchSignals()` wraps a fetch and keeps the signal of every request
//   it sends: health probes too, which no middleware sees.

import type { Middleware } from "ky-failover";

/** Waits `count` macrotask turns (zero-delay timers), default 5. */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/** One attempt as a middleware saw it. */
export interface SeenAttempt {
  endpoint: string;
  attempt: number;
  signal: AbortSignal;
}

/** A middleware that records every attempt's endpoint and signal. */
export function attemptSignals(): {
  middleware: Middleware;
  attempts: SeenAttempt[];
} {
  const attempts: SeenAttempt[] = [];
  const middleware: Middleware = (ctx, next) => {
    attempts.push({
      endpoint: ctx.endpoint!.name,
      attempt: ctx.attempt,
      signal: ctx.signal,
    });
    return next();
  };
  return { middleware, attempts };
}

/** A fetch (default: the global one, looked up per call) that records signals. */
export function fetchSignals(inner?: typeof fetch): {
  fetch: typeof fetch;
  requests: { url: string; signal: AbortSignal }[];
} {
  const requests: { url: string; signal: AbortSignal }[] = [];
  const wrapped: typeof fetch = (input, init) => {
    requests.push({
      url: input instanceof Request ? input.url : String(input),
      signal: init?.signal ?? (input as Request).signal,
    });
    return (inner ?? globalThis.fetch)(input, init);
  };
  return { fetch: wrapped, requests };
}

/**
 * Marks `promise` as handled and returns it: a test that fails before it
 * awaits the promise then reports its own assertion, not an unhandled
 * rejection (the pool's `ClosedError` at disposal) that would abort every
 * other test of the file. Awaiting the returned promise still throws.
 */
export function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
