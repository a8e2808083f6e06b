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

// Across providers: models, error rules, usage and cost, the cheapest
// strategy, and a feature of the user's own that routes, rules and observes.
import { models } from "ky-failover/models";
import { failoverOn, type FailoverRule } from "ky-failover/failover-on";
import { usage, type UsageFeature } from "ky-failover/usage";
import { cheapest } from "ky-failover/cheapest";
import type {
  BodyObserver,
  CallRoute,
  EndpointStatus,
  EndpointUsage,
  FeatureCall,
  Prices,
  Ruling,
  UsageReport,
} from "ky-failover/core";

const prices: Prices = { "gpt-4.1": { input: 2, output: 8 }, "x": 0.42 };
const rules: FailoverRule[] = [{
  status: 400,
  code: "context_length_exceeded",
}];
export const meter: UsageFeature = usage({ prices });

/** Sends every call's body to endpoint "a" only, and counts bytes returned. */
export const ownRouting: Feature = {
  name: "own-routing",
  endpointOptions: ["models"],
  attach: () => ({
    route: (call: FeatureCall): CallRoute => ({
      accepts: (endpoint) => endpoint === "a" || call.model === undefined,
      refusal: () => "only a",
    }),
    judge: (): Ruling | undefined => undefined,
    observe: (): BodyObserver => ({ chunk: () => {}, end: () => {} }),
  }),
};

export const providers: Pool = createPool({
  endpoints: [
    { name: "a", url: "https://a.example.ai/v1", models: ["gpt-4.1"], prices },
    {
      name: "b",
      url: "https://b.example.ai/v1",
      models: { "gpt-4.1": "x" },
      budget: { usd: 5, window: 3_600_000 },
    },
  ],
  features: [models(), failoverOn(rules), meter, cheapest({ prices })],
});
export const spent: UsageReport = meter.report();
const first: EndpointStatus | undefined = providers.status()[0];
export const firstUsage: EndpointUsage | undefined = first?.usage;
export const lastModel: string | undefined = first?.lastModel;
