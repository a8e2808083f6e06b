// What the pool knows and learns about one endpoint. Plain state, no
// transport types: the breaker, the rate-limit table and the picker all
// read and write it.

import type { ResolvedEndpoint } from "./_options.ts";
import { endpointSecrets } from "./_redact.ts";
import { type HeaderRecord, setHeader } from "./_request.ts";
import type {
  BreakerState,
  EndpointInfo,
  EndpointState,
  EndpointStatus,
} from "./types.ts";

/** Weight of the newest sample in the latency EWMA. */
const LATENCY_ALPHA = 0.3;
/** Weight of the newest outcome in the error-rate EWMA (~ the last 20). */
const ERROR_ALPHA = 0.05;
/**
 * A run of failures opens the breaker only when chance would explain it
 * less often than this, at the endpoint's error rate before the run.
 */
const CHANCE = 1e-4;

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

  breaker: BreakerState = "closed";
  consecutiveFailures = 0;
  /** Share of recent attempts that failed (EWMA over success / failure). */
  #errorRate = 0;
  /** `#errorRate` when the current run of failures began. */
  #runBaseRate = 0;
  /** When an open breaker lets a probe through. */
  openUntil = 0;
  /** Times opened in a row without recovering (cooldown multiplier). */
  timesOpened = 0;
  probeInFlight = false;
  /** When a rate-limited endpoint may be used again. */
  limitedUntil = 0;
  /** When an endpoint whose credentials were rejected may be used again. */
  unauthorizedUntil = 0;
  /** When an endpoint whose last health-check probe failed may be used again. */
  unhealthyUntil = 0;
  /**
   * Whether periodic health-check probes bring this endpoint back from an
   * open breaker, rather than a half-open trial of user traffic.
   */
  probesRecovery = false;

  requests = 0;
  failures = 0;
  inFlight = 0;
  latency: number | undefined = undefined;
  lastLatency: number | undefined = undefined;
  lastError: string | undefined = undefined;
  lastErrorAt: number | undefined = undefined;
  lastCheckAt: number | undefined = undefined;
  /** Smooth weighted round-robin accumulator. */
  wrrCurrent = 0;

  constructor(resolved: ResolvedEndpoint, index: number) {
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

  /** When the latest bench (rate limit, rejected key, failed probe) ends. */
  benchedUntil(): number {
    return Math.max(
      this.limitedUntil,
      this.unauthorizedUntil,
      this.unhealthyUntil,
    );
  }

  /**
   * Whether a request may go here now without panic: on no bench, and its
   * breaker closed — or half-open with no trial in flight, unless health
   * checks probe it back instead.
   */
  isAvailable(now: number): boolean {
    if (this.benchedUntil() > now) return false;
    if (this.breaker === "closed") return true;
    if (this.breaker === "open" || this.probesRecovery) return false;
    return !this.probeInFlight;
  }

  /** When this endpoint becomes available again (≤ now if it is). */
  availableAt(now: number): number {
    const open = this.breaker === "open" ? this.openUntil : now;
    return Math.max(open, this.benchedUntil(), now);
  }

  /** Ends the benches that a passing probe or a good answer disproves. */
  clearHealthBenches(): void {
    this.unauthorizedUntil = 0;
    this.unhealthyUntil = 0;
  }

  /**
   * Records a failure: remembers why and when, and adds to the count the
   * breaker reads. `traffic` failures (user attempts, not probes) also count
   * in `failures`.
   */
  recordFailure(description: string, now: number, traffic: boolean): void {
    if (traffic) this.failures += 1;
    if (this.consecutiveFailures === 0) this.#runBaseRate = this.#errorRate;
    this.consecutiveFailures += 1;
    this.#errorRate += ERROR_ALPHA * (1 - this.#errorRate);
    this.lastError = description;
    this.lastErrorAt = now;
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
    if (run > this.consecutiveFailures) this.consecutiveFailures = run;
  }

  /** Records an answer that counts as healthy: ends a run of failures. */
  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.#errorRate -= ERROR_ALPHA * this.#errorRate;
  }

  /**
   * Whether the current run of failures should open the breaker: at least
   * `threshold` long, and long enough that the endpoint's error rate before
   * the run would produce it by chance less than once in 10,000 runs — but
   * never more than `2 × threshold`. A healthy endpoint that goes down opens
   * after `threshold` failures; one that drops 20 % of requests at random
   * (3 in a row: 1 run in 125) needs 6, so noise does not bench it; one that
   * fails a third of its requests or more opens after `2 × threshold`.
   */
  failedEnough(threshold: number): boolean {
    const run = this.consecutiveFailures;
    if (run < threshold) return false;
    const rate = this.#runBaseRate;
    return run >= 2 * threshold || rate <= 0 || rate ** run <= CHANCE;
  }

  recordLatency(ms: number): void {
    this.lastLatency = ms;
    this.latency = this.latency === undefined
      ? ms
      : this.latency + LATENCY_ALPHA * (ms - this.latency);
  }

  status(now: number): EndpointStatus {
    // A pure read: an open breaker whose cooldown has passed shows as
    // half-open even before traffic moves it there; a rate limit shows
    // unless the breaker is open.
    let state: EndpointState = this.breaker === "closed"
      ? "healthy"
      : this.breaker === "open" && now < this.openUntil
      ? "open"
      : "half-open";
    if (state === "healthy") {
      if (this.unauthorizedUntil > now) state = "unauthorized";
      else if (this.limitedUntil > now) state = "rate-limited";
      else if (this.unhealthyUntil > now) state = "unhealthy";
    } else if (state === "half-open" && this.limitedUntil > now) {
      state = "rate-limited";
    }
    const availableAt = this.availableAt(now);
    return {
      name: this.name,
      url: this.info.url,
      priority: this.priority,
      weight: this.weight,
      state,
      consecutiveFailures: this.consecutiveFailures,
      requests: this.requests,
      failures: this.failures,
      inFlight: this.inFlight,
      latencyMs: this.latency,
      lastLatencyMs: this.lastLatency,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastCheckAt: this.lastCheckAt,
      availableAt: availableAt > now ? availableAt : undefined,
    };
  }
}
