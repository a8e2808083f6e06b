/**
 * The types of `createPool`, the core: its options (`createFailover` takes
 * these and the features' own) and the pool it returns.
 *
 * @module
 */

import type { Feature } from "./feature.ts";
import type {
  AuthFailureOptions,
  BreakerOptions,
  Clock,
  EndpointOptions,
  EndpointStatus,
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

/** A standard fetch signature, as the OpenAI SDK, the AI SDK and LangChain take it. */
export type FetchFunction = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

/**
 * The pool's `fetch`: a {@linkcode FetchFunction} with the extra members the
 * runtime's own `fetch` type declares (Bun's `fetch.preconnect`), which it
 * forwards to the runtime's — so it passes wherever `typeof fetch` is asked
 * for. Elsewhere it is just a `FetchFunction`.
 */
export type PoolFetch =
  & FetchFunction
  & Pick<typeof globalThis.fetch, keyof typeof globalThis.fetch>;

/** A pool, as returned by {@linkcode createPool}. */
export interface Pool extends
  // `[Symbol.dispose]()` (same as `close()`, for `using`) where the user's
  // TypeScript lib knows `Symbol.dispose` (esnext.disposable, Node's or
  // Bun's types, Deno), and no member otherwise: the declarations need no
  // particular lib, and add nothing to the user's globals.
  Record<
    typeof globalThis extends
      { Symbol: { readonly dispose: infer Dispose extends symbol } } ? Dispose
      : never,
    () => void
  >,
  // `[Symbol.asyncDispose]()` (the same as `await close()`, for
  // `await using`), on the same terms.
  Record<
    typeof globalThis extends {
      Symbol: { readonly asyncDispose: infer AsyncDispose extends symbol };
    } ? AsyncDispose
      : never,
    () => Promise<void>
  > {
  /**
   * A standard `fetch` over the pool, to hand to SDKs. HTTP errors come back
   * as the final `Response`; it rejects only when the last attempt got no
   * response (with a `FailoverError`), when the caller aborts (with the
   * signal's reason) or when the URL is outside the pool (`OutsidePoolError`).
   */
  readonly fetch: PoolFetch;
  /** A key-free snapshot of every endpoint, in configuration order. */
  status(): EndpointStatus[];
  /**
   * Probes every endpoint now (`GET {url}/models` with its key, or the
   * health-check feature's path) and resolves with `status()` once every
   * probe has answered. Works whether or not periodic checks are on.
   */
  checkHealth(): Promise<EndpointStatus[]>;
  /**
   * Aborts pending calls (with `ClosedError`) and stops every timer, at
   * once. The promise resolves once what features hold is let go too — a
   * shared store's connection: await it before a process or a test ends.
   * It never rejects. Idempotent: each call returns the same promise.
   */
  close(): Promise<void>;
}
