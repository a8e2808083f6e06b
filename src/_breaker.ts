/**
 * The circuit breaker of one endpoint ("automatic fuse"):
 *
 * - **closed** → **open** when its rule says the run of failures is an
 *   outage (see `noiseTolerant`). An open endpoint gets no traffic
 *   (except in panic mode, when nothing else is available).
 * - **open** → **half-open** once `cooldown` has passed. One request at a
 *   time is let through as a trial.
 * - **half-open** → **closed** when the trial succeeds; → **open** again
 *   when it fails, with a cooldown of `cooldown × times opened in a row`,
 *   capped at `maxCooldown`. A panic attempt that fails while the breaker
 *   is open re-opens it the same way.
 *
 * Answers that are not failures (2xx–4xx except 408/429) close it; 429 is
 * neutral (the rate-limit bench handles it).
 *
 * @module
 */

import type { BreakerState, Health } from "./types.ts";

/** Breaker settings after validation. */
export interface BreakerSettings {
  failureThreshold: number;
  cooldown: number;
  maxCooldown: number;
}

/** When a run of failures is an outage rather than bad luck. */
export interface BreakerRule {
  /**
   * Whether `run` failures in a row, at an error rate of `baseRate` before
   * the run began, should open the breaker.
   */
  shouldOpen(run: number, baseRate: number): boolean;
}

/** A run of failures opens only when chance explains it less often than this. */
const CHANCE = 1e-4;

/**
 * The default rule: at least `threshold` failures in a row, and a run long
 * enough that the endpoint's error rate before it would produce it by
 * chance less than once in 10,000 runs — but never more than
 * `2 × threshold`. A healthy endpoint that goes down opens after
 * `threshold` failures; one that drops 20 % of requests at random (3 in a
 * row: 1 run in 125) needs 6, so noise does not bench it; one that fails a
 * third of its requests or more opens after `2 × threshold`.
 */
export function noiseTolerant(threshold: number): BreakerRule {
  return {
    shouldOpen: (run, baseRate) =>
      run >= threshold &&
      (run >= 2 * threshold || baseRate <= 0 || baseRate ** run <= CHANCE),
  };
}

/** Reports a transition: to `"open"` with its cooldown and its end. */
export type OnTransition = (
  from: BreakerState,
  to: BreakerState,
  open?: { cooldownMs: number; until: number },
) => void;

/** The breaker of one endpoint. Only its own methods change its state. */
export class Breaker {
  readonly #settings: BreakerSettings | false;
  readonly #rule: BreakerRule | undefined;
  readonly #onTransition: OnTransition;
  #state: BreakerState = "closed";
  #openUntil = 0;
  /** Times opened in a row without recovering (the cooldown multiplier). */
  #timesOpened = 0;
  #trialInFlight = false;

  constructor(settings: BreakerSettings | false, onTransition: OnTransition) {
    this.#settings = settings;
    this.#rule = settings
      ? noiseTolerant(settings.failureThreshold)
      : undefined;
    this.#onTransition = onTransition;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** When an open breaker lets a trial through. */
  get openUntil(): number {
    return this.#openUntil;
  }

  get trialInFlight(): boolean {
    return this.#trialInFlight;
  }

  /** Moves an open breaker whose cooldown has passed to half-open. */
  refresh(now: number): void {
    if (this.#state === "open" && now >= this.#openUntil) {
      this.#move("half-open");
    }
  }

  /** Takes the half-open trial permit, if it is free. */
  takeTrial(): boolean {
    if (this.#state !== "half-open" || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** Gives the trial permit back. */
  endTrial(): void {
    this.#trialInFlight = false;
  }

  /**
   * Applies a result's health: a success closes the breaker; a failure
   * re-opens a half-open one (or an open one, for a `panic` attempt sent
   * there because nothing else was available: a total outage spreads its
   * few attempts ever more thinly), or opens a closed one when the rule
   * says the run (`run` failures, from an error rate of `baseRate`) is an
   * outage. Any other failure that lands while open (an attempt sent
   * before it opened, a probe, a stall) leaves the cooldown as it is.
   */
  record(
    health: Health,
    now: number,
    { panic = false, run, baseRate }: {
      panic?: boolean;
      run: number;
      baseRate: number;
    },
  ): void {
    const settings = this.#settings;
    if (settings === false || health === "neutral") return;
    if (health === "success") {
      this.#timesOpened = 0;
      if (this.#state !== "closed") this.#move("closed");
      return;
    }
    const reopen = this.#state === "half-open" ||
      (this.#state === "open" && panic);
    const trip = this.#state === "closed" &&
      this.#rule!.shouldOpen(run, baseRate);
    if (!reopen && !trip) return;
    this.#timesOpened += 1;
    const cooldownMs = Math.min(
      settings.cooldown * this.#timesOpened,
      settings.maxCooldown,
    );
    this.#openUntil = now + cooldownMs;
    this.#move("open", { cooldownMs, until: this.#openUntil });
  }

  /**
   * Keeps the breaker open until `until` (another instance of the pool
   * opened it): a closed or half-open breaker opens, an open one whose
   * cooldown ends sooner waits longer. Counts as an opening, so a failed
   * trial after it cools down longer.
   */
  holdOpen(until: number, now: number): void {
    if (this.#settings === false || until <= now) return;
    if (this.#state === "open") {
      if (until > this.#openUntil) this.#openUntil = until;
      return;
    }
    this.#timesOpened += 1;
    this.#openUntil = until;
    this.#move("open", { cooldownMs: until - now, until });
  }

  #move(to: BreakerState, open?: { cooldownMs: number; until: number }) {
    const from = this.#state;
    this.#state = to;
    this.#onTransition(from, to, open);
  }
}
