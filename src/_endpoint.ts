// What the pool knows and learns about one endpoint: its identity and
// credentials, its breaker, its benches and its statistics. Each part
// changes only through its own methods; `_outcome.ts` is what calls them
// when an attempt, a probe or a stream tells something.

import type { Breaker } from "./_breaker.ts";
import type { ResolvedEndpoint } from "./_options.ts";
import { endpointSecrets } from "./_redact.ts";
import { type HeaderRecord, setHeader } from "./_headers.ts";
import type { EndpointInfo, EndpointState, EndpointStatus } from "./types.ts";

/** Weight of the newest sample in the latency EWMA. */
const LATENCY_ALPHA = 0.3;
/** Weight of the newest outcome in the error-rate EWMA (~ the last 20). */
const ERROR_ALPHA = 0.05;

/** Why an endpoint is kept out of rotation for a while. */
export type BenchKind = "rate-limited" | "unauthorized" | "unhealthy";

/** Mutable state of one endpoint. */
export class Endpoint {
  /** Key-free view handed to pickers and middleware. */
  readonly info: EndpointInfo;
  /** Position in the configured list (stable tie-break). */
  readonly index: number;
  readonly name: string;
  readonly priority: number;
  readonly weight: number;
  readonly config: Omit<ResolvedEndpoint, "headers">;
  /**
   * Every form in which this endpoint's query (which may hold a key) can
   * appear in a runtime's error text: scrubbed from errors handed on.
   */
  readonly querySecrets: readonly string[];
  /**
   * Credentials and extra headers, by lower-case name: sent to this
   * endpoint only, and they replace the caller's of the same name.
   */
  readonly #headers: HeaderRecord = {};

  readonly breaker: Breaker;
  /** Failures since the last answer that counted as healthy. */
  #run = 0;
  /** Share of recent attempts that failed (EWMA over success / failure). */
  #errorRate = 0;
  /** `#errorRate` when the current run of failures began. */
  #runBaseRate = 0;
  /**
   * Until when each bench keeps the endpoint out (clock time; -Infinity:
   * not benched, whatever time the clock starts at).
   */
  readonly #benches: Record<BenchKind, number> = {
    "rate-limited": -Infinity,
    unauthorized: -Infinity,
    unhealthy: -Infinity,
  };
  /**
   * Periodic health-check probes bring this endpoint back from an open
   * breaker, rather than a half-open trial of user traffic.
   */
  #recoversByProbes = false;

  #requests = 0;
  #failures = 0;
  #inFlight = 0;
  #latency: number | undefined = undefined;
  #lastLatency: number | undefined = undefined;
  #lastError: string | undefined = undefined;
  #lastErrorAt: number | undefined = undefined;
  #lastCheckAt: number | undefined = undefined;
  #lastModel: string | undefined = undefined;

  constructor(
    resolved: ResolvedEndpoint,
    index: number,
    breaker: (endpoint: Endpoint) => Breaker,
  ) {
    const { headers, ...config } = resolved;
    for (const [name, value] of headers) {
      setHeader(this.#headers, name.toLowerCase(), value);
    }
    this.config = config;
    this.querySecrets = endpointSecrets(resolved.query);
    this.index = index;
    this.name = resolved.name;
    this.priority = resolved.priority;
    this.weight = resolved.weight;
    this.info = Object.freeze({
      name: resolved.name,
      url: resolved.base,
      priority: resolved.priority,
      weight: resolved.weight,
    });
    this.breaker = breaker(this);
  }

  /** Credentials and extra headers for this endpoint only. */
  secretHeaders(): Readonly<HeaderRecord> {
    return this.#headers;
  }

  /** Whether this endpoint sends credentials or headers of its own. */
  get hasCredentials(): boolean {
    return Object.keys(this.#headers).length > 0;
  }

  /**
   * The caller's headers (by lower-case name) with this endpoint's
   * credentials and extra headers added; the endpoint's win over the
   * caller's of the same name.
   */
  withCredentials(callerHeaders: HeaderRecord): HeaderRecord {
    return { ...callerHeaders, ...this.#headers };
  }

  /** Until when `kind` keeps this endpoint out (≤ now: it does not). */
  benchedUntil(kind: BenchKind): number {
    return this.#benches[kind];
  }

  /**
   * Keeps this endpoint out as `kind` until `until`, unless that bench
   * already lasts longer. Returns whether the bench was extended.
   */
  bench(kind: BenchKind, until: number): boolean {
    if (until <= this.#benches[kind]) return false;
    this.#benches[kind] = until;
    return true;
  }

  /** When the latest bench (rate limit, rejected key, failed probe) ends. */
  #benchEnd(): number {
    const b = this.#benches;
    return Math.max(b["rate-limited"], b.unauthorized, b.unhealthy);
  }

  /** From now on, health-check probes bring this endpoint back. */
  recoverByProbes(): void {
    this.#recoversByProbes = true;
  }

  /**
   * Whether a request may go here now without panic: on no bench, and its
   * breaker closed — or half-open with no trial in flight, unless health
   * checks probe it back instead.
   */
  isAvailable(now: number): boolean {
    if (this.#benchEnd() > now) return false;
    const breaker = this.breaker.state;
    if (breaker === "closed") return true;
    if (breaker === "open" || this.#recoversByProbes) return false;
    return !this.breaker.trialInFlight;
  }

  /** When this endpoint becomes available again (≤ now if it is). */
  availableAt(now: number): number {
    const open = this.breaker.state === "open" ? this.breaker.openUntil : now;
    return Math.max(open, this.#benchEnd(), now);
  }

  /** Ends the benches that a passing probe or a good answer disproves. */
  clearHealthBenches(): void {
    this.#benches.unauthorized = -Infinity;
    this.#benches.unhealthy = -Infinity;
  }

  /**
   * Records a failure: remembers why and when, and adds to the count the
   * breaker reads. `traffic` failures (user attempts, not probes) also count
   * in `failures`.
   */
  recordFailure(description: string, now: number, traffic: boolean): void {
    if (traffic) this.#failures += 1;
    if (this.#run === 0) this.#runBaseRate = this.#errorRate;
    this.#run += 1;
    this.#errorRate += ERROR_ALPHA * (1 - this.#errorRate);
    this.noteError(description, now);
  }

  /** Shows `description` as the last error in `status()`, without counting it. */
  noteError(description: string, now: number): void {
    this.#lastError = description;
    this.#lastErrorAt = now;
  }

  /** A health-check probe of this endpoint answered (or failed) at `now`. */
  noteCheck(now: number): void {
    this.#lastCheckAt = now;
  }

  /** An attempt to this endpoint names `model` in its body. */
  noteModel(model: string): void {
    this.#lastModel = model;
  }

  /** A request to this endpoint leaves. */
  sent(): void {
    this.#requests += 1;
    this.#inFlight += 1;
  }

  /**
   * The request that left got its answer after `ms` (a latency sample),
   * or failed (`undefined`).
   */
  settled(ms: number | undefined): void {
    this.#inFlight -= 1;
    if (ms === undefined) return;
    this.#lastLatency = ms;
    this.#latency = this.#latency === undefined
      ? ms
      : this.#latency + LATENCY_ALPHA * (ms - this.#latency);
  }

  /** Mean time to response headers (EWMA), in ms; undefined before any. */
  get latency(): number | undefined {
    return this.#latency;
  }

  /** Requests waiting for their response headers now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Forgets the error rate: failures that opened the breaker were an
   * outage, not noise, so tolerance is learnt afresh after one.
   */
  forgetErrors(): void {
    this.#errorRate = 0;
  }

  /**
   * A committed stream's headers counted as an answer and ended a run of
   * `run` failures; its stall proves otherwise: that run goes on, so that
   * streams stalling one after another open the breaker like any other
   * run of failures.
   */
  resumeRun(run: number): void {
    if (run > this.#run) this.#run = run;
  }

  /** Records an answer that counts as healthy: ends a run of failures. */
  recordSuccess(): void {
    this.#run = 0;
    this.#errorRate -= ERROR_ALPHA * this.#errorRate;
  }

  /** Failures since the last healthy answer. */
  get run(): number {
    return this.#run;
  }

  /** The error rate before the current run of failures began. */
  get runBaseRate(): number {
    return this.#runBaseRate;
  }

  status(now: number): EndpointStatus {
    // A pure read: an open breaker whose cooldown has passed shows as
    // half-open even before traffic moves it there; a rate limit shows
    // unless the breaker is open.
    const breaker = this.breaker;
    const benches = this.#benches;
    let state: EndpointState = breaker.state === "closed"
      ? "healthy"
      : breaker.state === "open" && now < breaker.openUntil
      ? "open"
      : "half-open";
    if (state === "healthy") {
      if (benches.unauthorized > now) state = "unauthorized";
      else if (benches["rate-limited"] > now) state = "rate-limited";
      else if (benches.unhealthy > now) state = "unhealthy";
    } else if (state === "half-open" && benches["rate-limited"] > now) {
      state = "rate-limited";
    }
    const availableAt = this.availableAt(now);
    return {
      name: this.name,
      url: this.info.url,
      priority: this.priority,
      weight: this.weight,
      state,
      consecutiveFailures: this.#run,
      requests: this.#requests,
      failures: this.#failures,
      inFlight: this.#inFlight,
      latencyMs: this.#latency,
      lastLatencyMs: this.#lastLatency,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      lastCheckAt: this.#lastCheckAt,
      availableAt: availableAt > now ? availableAt : undefined,
      lastModel: this.#lastModel,
    };
  }
}
