/**
 * The feature interface: how an opt-in capability (health checks, hedging,
 * a retry budget, a strategy — or one of your own) joins a pool.
 *
 * A feature is a value made by a factory (`healthCheck({ interval })`),
 * handed to `createPool({ features: [...] })`. The pool calls its
 * `attach(host)` once; the feature keeps its state in that closure, per
 * pool, and returns the hooks it needs. It reaches the pool only through
 * the `host` — key-free views, and operations whose rules the pool keeps
 * (a probe goes through the pool's one request path, with the endpoint's
 * key, and its result is applied by the pool's rules) — so no feature
 * writes another's state, and an unused feature is not in the bundle.
 *
 * @example A feature that counts each endpoint's failures
 * ```ts
 * import type { Feature } from "@ky-failover/ky-failover/core";
 *
 * function failureLog(log: Map<string, number>): Feature {
 *   return {
 *     name: "failure-log",
 *     attach: () => ({
 *       onOutcome(outcome) {
 *         if (outcome.health !== "failure") return;
 *         log.set(outcome.endpoint, (log.get(outcome.endpoint) ?? 0) + 1);
 *       },
 *     }),
 *   };
 * }
 * console.assert(failureLog(new Map()).name === "failure-log");
 * ```
 *
 * @module
 */

import type { EndpointModels, EndpointUsage } from "./provider_types.ts";
import type {
  AttemptOutcome,
  AttemptRecord,
  Clock,
  EndpointInfo,
  FailoverEvent,
  Outcome,
  PickContext,
  Verdict,
} from "./types.ts";

/**
 * The endpoint options that belong to features rather than to the core:
 * an endpoint that sets one needs a feature that reads it.
 */
export type EndpointExtension = "models" | "prices" | "budget";

/** An opt-in capability of a pool; see the module documentation. */
export interface Feature {
  /** Names the feature in error messages. */
  readonly name: string;
  /**
   * The endpoint options this feature reads (see
   * {@linkcode FeatureEndpoint.options}). An endpoint that sets one that no
   * feature of its pool reads makes the pool throw a `TypeError`.
   */
  readonly endpointOptions?: readonly EndpointExtension[] | undefined;
  /** Joins one pool: called once, when the pool is created. */
  attach(host: FeatureHost): FeatureHooks;
}

/** What a feature asks of the pool. Every member is optional. */
export interface FeatureHooks {
  /**
   * Runs around every attempt, before its endpoint is chosen — outermost
   * first, in the order of `features`. Call `next()` once to go on, or
   * `ctx.stop(reason)` and return to end the call without this attempt.
   */
  readonly middleware?: FeatureMiddleware | undefined;
  /**
   * Chooses the endpoint among `candidates` (available, untried, of the
   * best tier, in configuration order; at least two). Return one of them,
   * or `undefined` to leave the choice to round-robin. At most one
   * feature of a pool may pick.
   */
  pick?(
    candidates: readonly EndpointInfo[],
    context: PickContext,
  ): EndpointInfo | string | undefined;
  /**
   * Hedging: how long a call's attempt may go without an answer before a
   * second one starts on another endpoint, in ms — or `undefined` for a
   * call that must not be hedged. At most one feature of a pool may hedge.
   */
  hedgeDelay?(request: HedgeRequest): number | undefined;
  /** Hears every result an endpoint gave: attempts, probes, broken streams. */
  onOutcome?(outcome: Outcome): void;
  /** Hears that an endpoint's breaker opened, and when it may half-open. */
  onBreakerOpen?(endpoint: string, until: number): void;
  /**
   * Hears that an endpoint was benched (or a bench extended): rate-limited
   * after a 429, unauthorized after a rejected key, unhealthy after a
   * failed probe — until when.
   */
  onBench?(endpoint: string, bench: EndpointBench, until: number): void;
  /**
   * What `checkHealth()` does, when this feature probes in its own way
   * (its path, its timeout). At most one feature of a pool may.
   */
  checkHealth?(): Promise<void>;
  /**
   * Once per call, before its first attempt: which endpoints may take it,
   * and what each attempt sends (see {@linkcode CallRoute}); `undefined`
   * for a call this feature leaves alone.
   */
  route?(call: FeatureCall): CallRoute | undefined;
  /**
   * Rules on an answer the pool would return as it is — a 4xx it does not
   * fail over (400, 404, 422 …) — before the call takes it: return a
   * {@linkcode Ruling} to fail over instead. The first feature to rule
   * wins.
   */
  judge?(
    answer: ErrorAnswer,
  ): Ruling | undefined | Promise<Ruling | undefined>;
  /**
   * Watches the body of an answer the call returns (2xx, or a final
   * answer): return an observer to see its bytes as the caller reads them
   * — never delayed, never buffered — or `undefined`. A body the pool read
   * whole (see `bufferLimit`) is shown at once, as the attempt settles. An
   * observer that throws is dropped; the caller's body is not affected.
   */
  observe?(answer: FeatureAnswer): BodyObserver | undefined;
  /** What this feature adds to an endpoint's `status()`. */
  status?(endpoint: string): FeatureStatus | undefined;
  /**
   * Once per call, after `route`: follows the call — each attempt as it
   * is sent (with headers to add, such as `traceparent`) and as it
   * settles, and how the call ends — or `undefined` for a call this
   * feature does not follow. For tracing; see {@linkcode CallTrace}. A
   * trace that throws is dropped; the call goes on.
   */
  trace?(call: FeatureCall): CallTrace | undefined;
  /**
   * Hears every event of the pool, as `onEvent` does — `call` names the
   * call an event is about (`attempt`, `failover`, `hedge`, `success`,
   * `failure`, `usage`), the same object `route`, `trace` and `observe`
   * see. With a feature that listens, the pool builds its events even
   * without an `onEvent`.
   */
  onEvent?(event: FailoverEvent, call: FeatureCall | undefined): void;
  /**
   * Hears what a feature told its pool through
   * {@linkcode FeatureHost.tell} — its own news included — and what
   * another instance's feature told, when a shared store brings it
   * (`news.remote`).
   */
  onNews?(news: FeatureNews): void;
  /**
   * Stops the feature's timers and work: the pool is closing. Return a
   * promise when letting go of something takes time (a store's
   * connection): `pool.close()` resolves once it settles.
   */
  close?(): void | Promise<void>;
}

/**
 * What a feature learned about an endpoint that other features — and,
 * through a shared store, the same feature on other instances — may use:
 * a model it lacks, money it spent. Key-free and JSON-safe.
 */
export interface FeatureNews {
  /** The feature that tells it, e.g. `"models"`. */
  readonly feature: string;
  /** The endpoint it is about. */
  readonly endpoint: string;
  /**
   * What it says, in a shape the telling feature defines: JSON-safe, as it
   * may travel between instances. Validate it: from another instance it is
   * untrusted input.
   */
  readonly data: unknown;
  /**
   * How long it stays true, for instances that start later: a shared
   * store keeps it under `key` (per endpoint and feature; a newer one
   * replaces it) for `ms` ms. Without it, news is only passed on. Heard
   * from a store, `ms` is the time it has left.
   */
  readonly keep?: { readonly key: string; readonly ms: number } | undefined;
  /** Heard from another instance, through a shared store. */
  readonly remote: boolean;
}

/**
 * A feature's view of one call as it runs (see
 * {@linkcode FeatureHooks.trace}): hears each attempt and the end.
 */
export interface CallTrace {
  /**
   * An attempt goes to `sent.endpoint` now: its endpoint is chosen, the
   * request not yet made. Returns how to follow it, or `undefined`.
   */
  attempt(sent: SentAttempt): AttemptTrace | undefined;
  /**
   * The call ended; called once. Every attempt has settled by then but a
   * hedge the answer beat: it settles (`"aborted"`) once its request
   * stops.
   */
  end(ended: CallEnd): void;
}

/** An attempt about to be sent, as a trace sees it. */
export interface SentAttempt {
  /** The endpoint it goes to. */
  readonly endpoint: string;
  /** 1-based number of the attempt inside the call. */
  readonly attempt: number;
  /** Whether it runs alongside a slower attempt (hedging). */
  readonly hedge: boolean;
  /** The model it sends, when the body names one (as rewritten for it). */
  readonly model: string | undefined;
}

/** How a trace follows one attempt. */
export interface AttemptTrace {
  /**
   * Headers to add to the attempt's request — W3C `traceparent` and
   * `tracestate`, `baggage` — as the caller's own are added: the user's
   * middleware sees them, and the endpoint's credentials are set after
   * them, so they can never replace a key.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The attempt settled (or was cancelled): what the call records of it. */
  end(settled: SettledAttempt): void;
}

/** An attempt as it settled. */
export interface SettledAttempt extends Readonly<AttemptRecord> {
  /** How it counted for the call. */
  readonly outcome: AttemptOutcome;
}

/** How a call ended, as a trace hears it. */
export interface CallEnd {
  /**
   * `"answered"`: the call returns an answer (a 2xx, or a final answer
   * such as a 400); `"failed"`: it returns the last failed answer (`fetch`)
   * or throws `error`.
   */
  readonly result: "answered" | "failed";
  /** The endpoint whose answer the call returns, if any. */
  readonly endpoint: string | undefined;
  /** The status of the answer the call returns, if any. */
  readonly status: number | undefined;
  /** The model the answering endpoint was sent, when the body named one. */
  readonly model: string | undefined;
  /** Every attempt, in the order they settled. */
  readonly attempts: readonly AttemptRecord[];
  /**
   * What the call throws or stands for: a `FailoverError` (key-free, with
   * every attempt), a `ClosedError`, or the caller's abort reason;
   * `undefined` for an answered call.
   */
  readonly error: unknown;
  /** From the call's start to its end (the answer's headers), in ms. */
  readonly durationMs: number;
}

/** A call as features see it, before its first attempt: key-free. */
export interface FeatureCall {
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoints' base URL. */
  readonly path: string;
  /**
   * The body as text — when it is text or bytes (a JSON body from ky, the
   * OpenAI SDK or `JSON.stringify`) — or `undefined` (no body, a stream,
   * form data …). Read once, on first use.
   */
  text(): string | undefined;
  /**
   * The body parsed as JSON, or `undefined` when it is not a JSON object
   * or array (a request body always is one).
   */
  json(): unknown;
  /** The model the caller asked for: the JSON body's top-level `model`. */
  readonly model: string | undefined;
}

/** Where a call may go, and what each attempt of it sends. */
export interface CallRoute {
  /**
   * Whether `endpoint` may take the call's next attempt; asked before
   * each. An endpoint no route accepts gets no attempt of the call — not
   * even as a last resort.
   */
  accepts?(endpoint: string): boolean;
  /**
   * Why the call cannot go anywhere, when `accepts` turned every endpoint
   * left down: the call fails with it (before any request, when it is the
   * first attempt).
   */
  refusal?(): string;
  /**
   * What an attempt to `endpoint` sends: a `body` in place of the
   * caller's (which is never changed), and the `model` it names (shown in
   * attempt records and events). The first route that has it decides.
   */
  attempt?(endpoint: string): AttemptRequest | undefined;
}

/** What one attempt sends in place of the call's; see {@linkcode CallRoute.attempt}. */
export interface AttemptRequest {
  /** The body sent to this endpoint; `undefined`: the caller's. */
  readonly body?: string | undefined;
  /** The model this endpoint is sent. */
  readonly model?: string | undefined;
}

/** An answer as features see it: key-free. */
export interface FeatureAnswer {
  /** The endpoint that answered. */
  readonly endpoint: string;
  /** 1-based number of the attempt inside its call. */
  readonly attempt: number;
  /** The call. */
  readonly call: FeatureCall;
  /** The model the endpoint was sent, when the body named one. */
  readonly model: string | undefined;
  /** HTTP status. */
  readonly status: number;
  /** Response headers. */
  readonly headers: Headers;
}

/** An answer a feature may rule on; see {@linkcode FeatureHooks.judge}. */
export interface ErrorAnswer extends FeatureAnswer {
  /**
   * The body as text, from a copy — the caller's answer keeps its body —
   * when the pool read it whole (any non-stream answer up to
   * `bufferLimit`); otherwise `undefined`.
   */
  text(): Promise<string | undefined>;
}

/** A feature's ruling on an answer: fail over, neutral for its endpoint's health. */
export interface Ruling {
  /** Try another endpoint. */
  readonly verdict: "failover";
  /**
   * Why, as attempt records, events and errors show it (e.g.
   * `"model_not_found"`).
   */
  readonly code: string;
}

/** Sees an answer's body as it is read; see {@linkcode FeatureHooks.observe}. */
export interface BodyObserver {
  /** The next bytes, as they reach the caller. */
  chunk(bytes: Uint8Array): void;
  /** The whole body was read. */
  end(): void;
  /**
   * The body stopped before its end, instead of `end()`: the caller
   * cancelled it (or aborted the call) — `"cancelled"`; it broke or
   * stalled — `"failed"`, with the error its reader gets (key-free); the
   * pool closed — `"closed"`. (A body nobody reads or cancels hears
   * nothing until the pool closes.)
   */
  stop?(how: "cancelled" | "failed" | "closed", error?: unknown): void;
}

/** What features add to an endpoint's `status()`. */
export interface FeatureStatus {
  /** See {@linkcode EndpointModels}. */
  readonly models?: EndpointModels;
  /** See {@linkcode EndpointUsage}. */
  readonly usage?: EndpointUsage;
}

/** Why an endpoint is kept out for a while, besides its breaker. */
export type EndpointBench = "rate-limited" | "unauthorized" | "unhealthy";

/**
 * What another instance of the pool saw of an endpoint, to apply here (see
 * {@linkcode FeatureHost.apply}); times are on this pool's clock.
 */
export type HealthFact =
  /** An attempt failed there: it adds to the endpoint's run of failures. */
  | { readonly type: "failure" }
  /** An answer counted as healthy there: it ends the run. */
  | { readonly type: "success" }
  /** Its breaker opened there: it stays open here until `until`. */
  | { readonly type: "open"; readonly until: number }
  /** It was benched there: here too, until `until`. */
  | {
    readonly type: "bench";
    readonly bench: EndpointBench;
    readonly until: number;
  };

/** The request a hedging feature decides on. */
export interface HedgeRequest {
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoints' base URL. */
  readonly path: string;
}

/** A feature's view of one attempt. */
export interface FeatureAttempt {
  /** 1-based number of the attempt inside its call. */
  readonly attempt: number;
  /** HTTP method, upper-case. */
  readonly method: string;
  /** Path and query relative to the endpoints' base URL. */
  readonly path: string;
  /**
   * After `next()`: how the attempt counted for the call; `undefined` when
   * no request was sent (nothing was available, or the call was stopped).
   */
  readonly verdict: Verdict | undefined;
  /**
   * Ends the call without this attempt; `reason` says why in the call's
   * `FailoverError` (or the last answer is returned, for `fetch`). Return
   * without calling `next()` after it.
   */
  stop(reason: string): void;
}

/** A feature's middleware; see {@linkcode FeatureHooks.middleware}. */
export type FeatureMiddleware = (
  ctx: FeatureAttempt,
  next: () => Promise<void>,
) => Promise<void> | void;

/** An endpoint as a feature sees it: key-free. */
export interface FeatureEndpoint extends EndpointInfo {
  /** Whether health probes may go to it (its `healthCheck` is not `false`). */
  readonly probes: boolean;
  /** Its position in `options.endpoints`, for error messages. */
  readonly index: number;
  /**
   * The feature options it was given (see {@linkcode EndpointExtension}),
   * as given: the feature that reads one checks it.
   */
  readonly options: Readonly<Partial<Record<EndpointExtension, unknown>>>;
}

/** Settings of one health probe. */
export interface ProbeOptions {
  /** Path probed with `GET`, unless the endpoint configured its own. */
  readonly path: string;
  /** How long the probe may take, in ms. */
  readonly timeout: number;
}

/** The pool, as a feature reaches it. */
export interface FeatureHost {
  /** The pool's endpoints, in configuration order. */
  readonly endpoints: readonly FeatureEndpoint[];
  /** The pool's clock. */
  readonly clock: Clock;
  /** The pool's random source in [0, 1). */
  readonly random: () => number;
  /**
   * Probes `endpoint` now: `GET` on its health-check path with its key,
   * through the pool's request path. The pool applies the result by its
   * rules (a 2xx restores the endpoint, a failure benches it as
   * `"unhealthy"`, a 429 as rate-limited) and resolves with it — or with
   * `undefined` when the endpoint takes no probes or the pool closed. A
   * probe already in flight to that endpoint is joined.
   */
  probe(endpoint: string, options: ProbeOptions): Promise<Outcome | undefined>;
  /** Whether a probe to `endpoint` is in flight. */
  probing(endpoint: string): boolean;
  /**
   * From now on, `endpoint` comes back from an open breaker through
   * probes that pass, not through half-open trials of user traffic.
   */
  recoverByProbes(endpoint: string): void;
  /**
   * Applies what another instance of this pool saw of `endpoint` — its
   * failures and successes, its breaker opening, its benches — by the
   * pool's rules, as a shared store hears it. Features do not hear it back
   * as an outcome; `onBreakerOpen` and `onBench` do fire.
   */
  apply(endpoint: string, fact: HealthFact): void;
  /**
   * Reports an event through the pool's `onEvent` and to features'
   * `onEvent` (a no-op without them); `call`: the call it is about.
   */
  emit(event: FailoverEvent, call?: FeatureCall): void;
  /**
   * Whether anyone hears events (`onEvent`, a feature's `onEvent`), to
   * skip building events nobody reads.
   */
  readonly listening: boolean;
  /**
   * Tells every feature of the pool (its `onNews`, the teller's own
   * included) what this feature learned; a shared store passes it on to
   * the other instances.
   */
  tell(news: Omit<FeatureNews, "remote">): void;
  /**
   * Hands every feature news another instance told (`remote: true`): what
   * a shared store does with the news it brings.
   */
  hear(news: Omit<FeatureNews, "remote">): void;
}
