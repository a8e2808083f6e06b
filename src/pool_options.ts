/**
 * The options of `createPool`, the core (`createFailover` takes these and
 * the features' own).
 *
 * @module
 */

import type { Feature } from "./feature.ts";
import type {
  AuthFailureOptions,
  BreakerOptions,
  Clock,
  EndpointOptions,
  FailoverEvent,
  Middleware,
  PoolStrategy,
  RateLimitOptions,
} from "./types.ts";

/** Options of `createPool` (and, with more, of `createFailover`). */
export interface PoolOptions {
  /** The pool. At least one endpoint; names must be unique. */
  endpoints: readonly EndpointOptions[];
  /** How to pick inside the best tier. Default `"round-robin"`. */
  strategy?: PoolStrategy | undefined;
  /**
   * Per-attempt timeout, in ms, or `false`: to the response headers, and for
   * a non-streamed answer read whole inside the attempt (see `bufferLimit`)
   * to its last byte. Default `30_000`.
   */
  timeout?: number | false | undefined;
  /** Budget for the whole call (all attempts and waits), in ms, or `false`. Default `false`. */
  totalTimeout?: number | false | undefined;
  /**
   * Longest gap between two chunks of a response body while the consumer
   * waits for one, in ms, or `false`. A stalled body ends with a
   * `StreamIdleTimeoutError` and counts against the endpoint. Default
   * `60_000`; raise it (or turn it off) for reasoning models that stream
   * nothing while they think.
   */
  streamIdleTimeout?: number | false | undefined;
  /**
   * Non-streamed answers (any content type but `text/event-stream` and
   * `application/x-ndjson`) up to this many bytes are read whole inside the
   * attempt, so a body that breaks or stalls (`streamIdleTimeout`) fails
   * over like any other failure. A larger body (by `content-length`, or as
   * it arrives) is committed at that point and streams on as it is.
   * `false` commits every answer at its headers. Default `8_388_608` (8 MiB).
   */
  bufferLimit?: number | false | undefined;
  /**
   * Answers that reject an endpoint's own credentials (401 or 403 from an
   * endpoint with an `apiKey` or `headers`): the call fails over and the
   * endpoint is benched as `"unauthorized"` for `bench` ms, or until a
   * health-check probe passes. When every endpoint says so, the last answer
   * is returned. `false` returns the first such answer as it is.
   * Default `{ bench: 300_000 }`.
   */
  authFailure?: AuthFailureOptions | false | undefined;
  /** Attempts per call, from 1 to 100. Default: the number of endpoints, at least 2 (at most 100). */
  maxAttempts?: number | undefined;
  /** Circuit breaker, or `false` to never bench an endpoint for failures. */
  breaker?: BreakerOptions | false | undefined;
  /** How 429 answers bench an endpoint. */
  rateLimit?: RateLimitOptions | undefined;
  /**
   * Receives every {@linkcode FailoverEvent}. Exceptions it throws, and
   * promises it returns that reject, are ignored.
   */
  onEvent?: ((event: FailoverEvent) => unknown) | undefined;
  /** Extra middleware, run for each attempt just before the request is sent. */
  middleware?: readonly Middleware[] | undefined;
  /** Time source and timers. Default: the real clock. */
  clock?: Clock | undefined;
  /** Random source in [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined;
  /** The underlying fetch. Default `globalThis.fetch`. */
  fetch?: typeof fetch | undefined;
  /**
   * Opt-in features (`healthCheck()`, `hedge()`, `retryBudget()`,
   * `weighted()`, `leastLatency()`, or your own), in order: their
   * middleware runs outermost first.
   */
  features?: readonly Feature[] | undefined;
}
