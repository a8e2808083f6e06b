// Every optional option set to `undefined` — as a wrapper passes its own
// optional settings on, or an unset environment variable — which users write
// under `exactOptionalPropertyTypes` (TypeScript 7's `tsc --init` default).
// ky-failover treats `undefined` as "not given" everywhere, so the types must
// accept it. Copied into every fixture project of tests/types/ by
// scripts/test_types.sh, like user.ts.

import {
  createFailover,
  type EndpointOptions,
  type Failover,
} from "ky-failover";

/** Every optional endpoint property, `undefined`, then nested ones. */
export const endpoints: EndpointOptions[] = [
  {
    name: "a",
    url: "https://a.example.ai/v1",
    apiKey: undefined,
    headers: undefined,
    priority: undefined,
    weight: undefined,
    healthCheck: undefined,
  },
  {
    name: "b",
    url: "https://b.example.ai/v1",
    healthCheck: { path: undefined },
  },
];

/** Every optional pool option, `undefined`. */
export function unset(): Failover {
  return createFailover({
    endpoints,
    strategy: undefined,
    timeout: undefined,
    totalTimeout: undefined,
    streamIdleTimeout: undefined,
    bufferLimit: undefined,
    authFailure: undefined,
    maxAttempts: undefined,
    breaker: undefined,
    rateLimit: undefined,
    healthCheck: undefined,
    retryBudget: undefined,
    hedge: undefined,
    onEvent: undefined,
    middleware: undefined,
    clock: undefined,
    random: undefined,
    fetch: undefined,
    kyOptions: undefined,
  });
}

/** Every optional property of the nested options, `undefined`. */
export function nestedUnset(): Failover {
  return createFailover({
    endpoints,
    authFailure: { bench: undefined },
    breaker: {
      failureThreshold: undefined,
      cooldown: undefined,
      maxCooldown: undefined,
    },
    rateLimit: { fallbackDelay: undefined, maxDelay: undefined },
    healthCheck: {
      path: undefined,
      interval: undefined,
      timeout: undefined,
      jitter: undefined,
    },
    retryBudget: { ratio: undefined, maxTokens: undefined },
    hedge: { delay: 2_000, methods: undefined },
  });
}
