// Attaching a pool's features: each gets the host (key-free views and the
// pool's operations), and what they return is gathered into what the pool
// runs — the middleware around every attempt, the one strategy, the one
// hedging rule, the one health check, the listeners, and the close.

import type { Attempt } from "./_call.ts";
import type { Handler } from "./_chain.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { FeaturePick } from "./_pick.ts";
import { settleShared } from "./_outcome.ts";
import type { Prober } from "./_probe.ts";
import type { PoolState } from "./_state.ts";
import type {
  BodyObserver,
  CallRoute,
  CallTrace,
  EndpointExtension,
  ErrorAnswer,
  FeatureAnswer,
  FeatureAttempt,
  FeatureCall,
  FeatureHooks,
  FeatureHost,
  FeatureMiddleware,
  FeatureNews,
  FeatureStatus,
  HedgeRequest,
  Ruling,
} from "./feature.ts";
import type { Verdict } from "./types.ts";

/** A feature's key-free view of an attempt. */
class FeatureAttemptView implements FeatureAttempt {
  readonly #ctx: Attempt;

  constructor(ctx: Attempt) {
    this.#ctx = ctx;
  }

  get attempt(): number {
    return this.#ctx.attempt;
  }

  get method(): string {
    return this.#ctx.method;
  }

  get path(): string {
    return this.#ctx.path;
  }

  get verdict(): Verdict | undefined {
    const ctx = this.#ctx;
    return ctx.target === undefined || ctx.verdict === "exhausted"
      ? undefined
      : ctx.verdict;
  }

  stop(reason: string): void {
    this.#ctx.call.exhaustedReason = reason;
    this.#ctx.verdict = "exhausted";
  }
}

/** A feature's middleware, over the attempt's feature view. */
function aroundAttempt(middleware: FeatureMiddleware): Handler<Attempt> {
  return (ctx, next) => middleware(new FeatureAttemptView(ctx), next);
}

/**
 * The hooks of the one feature that has `key`, or undefined; two is an
 * error (a pool has one strategy, one hedging, one health check).
 */
function single(
  attached: readonly { name: string; hooks: FeatureHooks }[],
  key: "pick" | "hedgeDelay" | "checkHealth",
): FeatureHooks | undefined {
  const having = attached.filter((a) => a.hooks[key] !== undefined);
  if (having.length > 1) {
    throw new TypeError(
      `ky-failover: options.features: ${
        having.map((a) => a.name).join(" and ")
      } both provide ${key}(); a pool takes one`,
    );
  }
  return having[0]?.hooks;
}

/** Every feature's `key` hook, bound, in order. */
function hooksOf<
  K extends "route" | "judge" | "observe" | "status" | "trace",
>(
  attached: readonly { hooks: FeatureHooks }[],
  key: K,
): NonNullable<FeatureHooks[K]>[] {
  return attached.flatMap(({ hooks }) => {
    const hook = hooks[key] as ((...args: never[]) => unknown) | undefined;
    return hook === undefined ? [] : [hook.bind(hooks)];
  }) as NonNullable<FeatureHooks[K]>[];
}

/** What a pool's features bring, gathered. */
export interface Features {
  /** Their middleware, outermost first. */
  around: Handler<Attempt>[];
  pick: FeaturePick | undefined;
  hedgeDelay: ((request: HedgeRequest) => number | undefined) | undefined;
  checkHealth: (() => Promise<void>) | undefined;
  /** Their `route` hooks, in order. */
  routes: ((call: FeatureCall) => CallRoute | undefined)[];
  /** Their `judge` hooks, in order. */
  judges: ((
    answer: ErrorAnswer,
  ) => Ruling | undefined | Promise<Ruling | undefined>)[];
  /** Their `observe` hooks, in order. */
  observers: ((answer: FeatureAnswer) => BodyObserver | undefined)[];
  /** Their `status` hooks, in order. */
  statuses: ((endpoint: string) => FeatureStatus | undefined)[];
  /** Their `trace` hooks, in order. */
  traces: ((call: FeatureCall) => CallTrace | undefined)[];
  /**
   * Closes every feature at once; resolves when each has let go of what
   * it holds (never rejects).
   */
  close(): Promise<void>;
}

/** Where to find the feature that reads each endpoint extension. */
const READERS: Record<EndpointExtension, string> = {
  models: 'models() from "ky-failover/models"',
  prices:
    'usage() from "ky-failover/usage" or cheapest() from "ky-failover/cheapest"',
  budget: 'usage() from "ky-failover/usage"',
};

/**
 * Throws when an endpoint sets an option that none of `features` reads:
 * it would be ignored without a word.
 */
function checkExtensionsRead(
  state: PoolState,
  attached: readonly { endpointOptions?: readonly string[] | undefined }[],
): void {
  const read = new Set(attached.flatMap((f) => f.endpointOptions ?? []));
  for (const endpoint of state.endpoints) {
    for (const key of Object.keys(endpoint.config.extensions)) {
      if (read.has(key)) continue;
      throw new TypeError(
        `ky-failover: options.endpoints[${endpoint.index}].${key} needs a ` +
          `feature that reads it: add ${
            READERS[key as EndpointExtension]
          } to options.features`,
      );
    }
  }
}

/** Hands `news` to every feature that listens; one that throws is skipped. */
function spread(state: PoolState, news: FeatureNews): void {
  Object.freeze(news);
  for (const listener of state.newsListeners) {
    try {
      listener(news);
    } catch {
      // One feature's fault must not keep the news from the others.
    }
  }
}

/** The host a pool hands its features. */
function featureHost(state: PoolState, prober: Prober): FeatureHost {
  const byName = new Map(state.endpoints.map((e) => [e.name, e]));
  const named = (name: string): Endpoint => {
    const endpoint = byName.get(name);
    if (endpoint === undefined) {
      throw new TypeError(
        `ky-failover: no endpoint is named ${JSON.stringify(name)}`,
      );
    }
    return endpoint;
  };
  return {
    endpoints: state.endpoints.map((e) =>
      Object.freeze({
        ...e.info,
        probes: e.config.healthCheck !== false,
        index: e.index,
        options: Object.freeze({ ...e.config.extensions }),
      })
    ),
    clock: state.options.clock,
    random: state.options.random,
    probe: (name, settings) => prober.probe(named(name), settings),
    probing: (name) => prober.probing(named(name)),
    recoverByProbes: (name) => named(name).recoverByProbes(),
    apply: (name, fact) => settleShared(state, named(name), fact),
    emit: (event, call) => state.emit(event, call),
    get listening() {
      return state.listening;
    },
    tell: (news) => spread(state, { ...news, remote: false }),
    hear: (news) => spread(state, { ...news, remote: true }),
  };
}

/**
 * Attaches `state.options.features` in order. If one fails to attach (or
 * two claim what a pool has one of), those attached are closed before the
 * error is thrown: a pool that is never returned leaves no timer behind.
 */
export function attachFeatures(state: PoolState, prober: Prober): Features {
  const host = featureHost(state, prober);
  const attached: { name: string; hooks: FeatureHooks }[] = [];
  const close = () => {
    const letting: unknown[] = [];
    for (const { hooks } of attached) {
      try {
        letting.push(hooks.close?.());
      } catch {
        // One feature's fault must not keep the others open.
      }
    }
    return Promise.allSettled(letting).then(() => {});
  };
  try {
    for (const feature of state.options.features) {
      attached.push({ name: feature.name, hooks: feature.attach(host) });
    }
    checkExtensionsRead(state, state.options.features);
    const picking = single(attached, "pick");
    const strategy = state.options.strategy;
    if (picking !== undefined && strategy !== "round-robin") {
      const name = attached.find((a) => a.hooks === picking)!.name;
      throw new TypeError(
        `ky-failover: options.strategy ${
          typeof strategy === "function" ? "is a function" : `is "${strategy}"`
        }, and the ${name} feature chooses the endpoint too; a pool takes one strategy: leave options.strategy out`,
      );
    }
    const hedging = single(attached, "hedgeDelay");
    const checking = single(attached, "checkHealth");
    for (const { hooks } of attached) {
      if (hooks.onOutcome) {
        state.outcomeListeners.push((outcome) => hooks.onOutcome!(outcome));
      }
      if (hooks.onBench) {
        state.benchListeners.push((endpoint, kind, until) =>
          hooks.onBench!(endpoint.name, kind, until)
        );
      }
      if (hooks.onEvent) {
        state.eventListeners.push((event, call) => hooks.onEvent!(event, call));
      }
      if (hooks.onNews) {
        state.newsListeners.push((news) => hooks.onNews!(news));
      }
      if (hooks.onBreakerOpen) {
        state.openListeners.push((endpoint, until) =>
          hooks.onBreakerOpen!(endpoint.name, until)
        );
      }
    }
    return {
      around: attached.flatMap(({ hooks }) =>
        hooks.middleware ? [aroundAttempt(hooks.middleware)] : []
      ),
      pick: picking && ((candidates, ctx) => picking.pick!(candidates, ctx)),
      hedgeDelay: hedging && ((request) => hedging.hedgeDelay!(request)),
      checkHealth: checking && (() => checking.checkHealth!()),
      routes: hooksOf(attached, "route"),
      judges: hooksOf(attached, "judge"),
      observers: hooksOf(attached, "observe"),
      statuses: hooksOf(attached, "status"),
      traces: hooksOf(attached, "trace"),
      close,
    };
  } catch (error) {
    void close();
    throw error;
  }
}
