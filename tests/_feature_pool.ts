// A pool for testing features written in a test: two endpoints "a" and
// "b" on one tier, tried in order ("priority", no randomness), over the
// test's fetch; and a JSON answer.

import { createPool, type Feature, type PoolOptions } from "ky-failover/core";

/** The two endpoints: a, then b. */
export const ENDPOINTS = [
  { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a" },
  { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
];

/** A pool over `fetch` with `features`, a tried before b. */
export function pool(
  features: Feature[],
  fetch: typeof globalThis.fetch,
  extra: Partial<PoolOptions> = {},
) {
  return createPool({
    endpoints: ENDPOINTS,
    strategy: "priority",
    random: () => 0,
    fetch,
    features,
    ...extra,
  });
}

/** A JSON answer. */
export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
