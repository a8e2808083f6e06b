/**
 * `createFailover`: one client over a pool of OpenAI-compatible endpoints.
 *
 * @module
 */

import type { KyInstance } from "ky";
import { checkKyOptions, createKy } from "./_ky.ts";
import { resolveOptions } from "./_options.ts";
import { callRequest } from "./_request.ts";
import { createEngine } from "./engine.ts";
import type { EndpointStatus, FailoverOptions } from "./types.ts";

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

/** A failover pool, as returned by {@linkcode createFailover}. */
export interface Failover extends
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
   * A ky instance over the pool. Relative paths (`"chat/completions"`) go to
   * the picked endpoint; so do absolute URLs under any endpoint's `url`.
   * Throws `FailoverError` when every attempt failed, and ky's `HTTPError`
   * for answers that are not failed over (400, 401, 404 …).
   */
  readonly ky: KyInstance;
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
   * configured `healthCheck.path`) and resolves with `status()` once every
   * probe has answered. Works whether or not periodic checks are on.
   */
  checkHealth(): Promise<EndpointStatus[]>;
  /** Aborts pending calls (with `ClosedError`) and stops every timer. Idempotent. */
  close(): void;
}

/**
 * Creates a failover pool over OpenAI-compatible endpoints.
 *
 * Every call goes to an available endpoint of the best priority tier, picked
 * by the strategy; network errors, timeouts, 408, 429 and 5xx move the call
 * to another endpoint at once; other 4xx answers are returned as they are.
 * Failing endpoints are benched by a circuit breaker, rate-limited ones
 * until their `Retry-After` passes. Invalid options throw a `TypeError`
 * naming the field.
 *
 * @example Chat completions with ordered backups
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 *
 * const api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "hk", url: "https://hk.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 *   timeout: 10_000,
 * });
 * console.assert(api.status()[0].state === "healthy");
 * // const reply = await api.ky.post("chat/completions", { json: { model, messages } }).json();
 * api.close();
 * ```
 *
 * @example Hand the pool's fetch to an SDK
 * ```ts
 * import { createFailover } from "@ky-failover/ky-failover";
 *
 * using api = createFailover({
 *   endpoints: [{ name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" }],
 * });
 * // new OpenAI({ baseURL: "https://a.example.ai/v1", apiKey: "unused", fetch: api.fetch, maxRetries: 0 });
 * console.assert(typeof api.fetch === "function");
 * ```
 */
export function createFailover(options: FailoverOptions): Failover {
  const resolved = resolveOptions(options);
  checkKyOptions(resolved.kyOptions);
  const engine = createEngine(resolved);
  const fetch = withRuntimeExtras(
    async (input, init) =>
      engine.run(await callRequest(engine.endpoints, input, init)),
  );
  const ky = createKy(engine, resolved.kyOptions);
  // `apiKey: undefined` written out is most likely an unset environment
  // variable: accepted (an endpoint may need no key), but said once, by
  // name — a key's value is never in an event.
  options.endpoints.forEach((e, i) => {
    if (!("apiKey" in e) || e.apiKey !== undefined) return;
    const name = resolved.endpoints[i].name;
    const message = `endpoint "${name}" was given apiKey: undefined (an ` +
      "unset environment variable?): the pool sends it no key, so it will " +
      "likely answer 401. Set the key, or leave apiKey out for an " +
      "endpoint that needs none.";
    try {
      const event = { type: "warning", code: "missing-api-key" } as const;
      Promise.resolve(resolved.onEvent?.({ ...event, endpoint: name, message }))
        .catch(() => {});
    } catch {
      // Observability never breaks construction.
    }
  });
  return {
    ky,
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
