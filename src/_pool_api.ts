// The pool's public face over an engine: `fetch` (with the runtime
// fetch's own members), `status()`, `checkHealth()`, `close()`; shared by
// `createPool` and the `createFailover` preset.

import type { Engine } from "./_pool.ts";
import { callRequest } from "./_request.ts";
import type {
  FetchFunction,
  Pool,
  PoolFetch,
  PoolOptions,
} from "./pool_types.ts";

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
    [Symbol.dispose]: () => void engine.close(),
    [Symbol.asyncDispose]: () => engine.close(),
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
