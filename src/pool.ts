/**
 * `createPool`: the core — a standard `fetch` over a pool of
 * OpenAI-compatible endpoints, without ky. Features are opt-in imports.
 *
 * @module
 */

import { resolveOptions } from "./_options.ts";
import { createEngine, type Engine } from "./_pool.ts";
import { callRequest } from "./_request.ts";
import type { PoolOptions } from "./pool_options.ts";
import type { EndpointStatus } from "./types.ts";

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
  /** Aborts pending calls (with `ClosedError`) and stops every timer. Idempotent. */
  close(): void;
}

/**
 * Creates a pool over OpenAI-compatible endpoints: the core, without ky.
 *
 * Every call goes to an available endpoint of the best priority tier
 * (round-robin by default); network errors, timeouts, 408, 429 and 5xx
 * move the call to another endpoint at once; other 4xx answers are
 * returned as they are. Failing endpoints are benched by a circuit
 * breaker, rate-limited ones until their `Retry-After` passes. Health
 * checks, hedging, a retry budget and other strategies are features:
 * import them and list them in `features`. Invalid options throw a
 * `TypeError` naming the field.
 *
 * @example Hand the pool's fetch to an SDK
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 * });
 * // new OpenAI({ baseURL: "https://api.example.ai/v1", apiKey: "unused", fetch: pool.fetch, maxRetries: 0 });
 * console.assert(pool.status()[0].state === "healthy");
 * ```
 */
export function createPool(options: PoolOptions): Pool {
  const engine = createEngine(resolveOptions(options));
  warnMissingKeys(options, engine);
  return poolOver(engine);
}

/** The pool's public face over `engine`. */
export function poolOver(engine: Engine): Pool {
  const fetch = withRuntimeExtras(
    async (input, init) =>
      engine.run(await callRequest(engine.endpoints, input, init)),
  );
  return {
    fetch,
    status: () => engine.status(),
    checkHealth: async () => {
      await engine.checkHealth();
      return engine.status();
    },
    close: () => engine.close(),
    [Symbol.dispose]: () => engine.close(),
  };
}

/**
 * `apiKey: undefined` written out is most likely an unset environment
 * variable: accepted (an endpoint may need no key), but said once, by
 * name — a key's value is never in an event.
 */
export function warnMissingKeys(options: PoolOptions, engine: Engine): void {
  options.endpoints.forEach((e, i) => {
    if (!("apiKey" in e) || e.apiKey !== undefined) return;
    const name = engine.endpoints[i].name;
    const message = `endpoint "${name}" was given apiKey: undefined (an ` +
      "unset environment variable?): the pool sends it no key, so it will " +
      "likely answer 401. Set the key, or leave apiKey out for an " +
      "endpoint that needs none.";
    try {
      const event = { type: "warning", code: "missing-api-key" } as const;
      Promise.resolve(options.onEvent?.({ ...event, endpoint: name, message }))
        .catch(() => {});
    } catch {
      // Observability never breaks construction.
    }
  });
}

/**
 * `fetch` with the runtime fetch's own function members (Bun's
 * `preconnect`) forwarded to it, as {@linkcode PoolFetch} promises.
 */
function withRuntimeExtras(fetch: FetchFunction): PoolFetch {
  const native = globalThis.fetch as unknown as Record<string, unknown>;
  const extras: Record<string, unknown> = {};
  for (const key of Object.keys(native)) {
    const member = native[key];
    if (typeof member === "function") {
      extras[key] = (...args: unknown[]) => member.apply(native, args);
    }
  }
  return Object.assign(fetch, extras) as PoolFetch;
}
