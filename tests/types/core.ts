// A user's module against the core and the features, as written against the
// installed npm package (subpath exports); copied into every fixture
// project like user.ts. No ky type is reachable from here.

import {
  createPool,
  type Feature,
  type FeatureHost,
  type Outcome,
  type Pool,
  type PoolOptions,
} from "ky-failover/core";
import { healthCheck, type HealthCheckOptions } from "ky-failover/health-check";
import { hedge } from "ky-failover/hedge";
import { leastLatency } from "ky-failover/least-latency";
import { retryBudget } from "ky-failover/retry-budget";
import { weighted } from "ky-failover/weighted";

/** A feature of the user's own: counts failures per endpoint. */
export function failureCounter(counts: Map<string, number>): Feature {
  return {
    name: "failure-counter",
    attach(host: FeatureHost) {
      const names: readonly string[] = host.endpoints.map((e) => e.name);
      return {
        onOutcome(outcome: Outcome) {
          if (
            outcome.health !== "failure" || !names.includes(outcome.endpoint)
          ) {
            return;
          }
          counts.set(outcome.endpoint, (counts.get(outcome.endpoint) ?? 0) + 1);
        },
      };
    },
  };
}

const probes: HealthCheckOptions = { interval: 10_000, path: "models" };

export const options: PoolOptions = {
  endpoints: [
    { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-a", weight: 2 },
    { name: "b", url: "https://b.example.ai/v1", apiKey: "sk-b" },
  ],
  features: [
    healthCheck(probes),
    hedge({ delay: 300 }),
    retryBudget({ ratio: 0.2 }),
    weighted(),
    failureCounter(new Map()),
  ],
};

export const pool: Pool = createPool(options);
export const fetchForSdks: (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response> = pool.fetch;
export const otherStrategy: Feature = leastLatency();
