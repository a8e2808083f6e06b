/**
 * Types of a pool across providers: the models an endpoint serves, what
 * tokens cost on it, its spending budget, and what `status()` and events
 * report of them. The `models()` and `usage()` features (and the
 * `createFailover` preset) read and fill them; the core only carries them.
 *
 * @module
 */

/**
 * The models an endpoint serves: a list (same names as the caller asks
 * for), or a map from the model the caller asks for to this endpoint's own
 * name for it (an Azure deployment, a provider's model id).
 *
 * @example A backup from another provider
 * ```ts
 * import type { ModelsOption } from "@ky-failover/ky-failover";
 *
 * const deepseek: ModelsOption = { "gpt-4.1": "deepseek-chat" };
 * const openai: ModelsOption = ["gpt-4.1", "gpt-4.1-mini"];
 * ```
 */
export type ModelsOption =
  | readonly string[]
  | Readonly<Record<string, string>>;

/**
 * A price in USD per million tokens: one number for input and output
 * alike, or each on its own (`cachedInput`: input tokens served from the
 * provider's prompt cache; default the `input` price).
 *
 * @example
 * ```ts
 * import type { Price } from "@ky-failover/ky-failover";
 *
 * const gpt41: Price = { input: 2, output: 8, cachedInput: 0.5 };
 * const flat: Price = 0.42;
 * ```
 */
export type Price =
  | number
  | {
    readonly input: number;
    readonly output: number;
    readonly cachedInput?: number | undefined;
  };

/**
 * Prices by model name (the name an endpoint is sent, or the name the
 * caller asked for).
 *
 * @example The tutorial's table (USD per million tokens)
 * ```ts
 * import type { Prices } from "@ky-failover/ky-failover";
 *
 * const prices: Prices = {
 *   "gpt-4.1": 8,
 *   "claude-sonnet-4.5": 15,
 *   "gemini-2.5-flash": 2.5,
 *   "deepseek-v3.2": 0.42,
 * };
 * ```
 */
export type Prices = Readonly<Record<string, Price>>;

/**
 * A spending limit of one endpoint: once it spent `usd` within the last
 * `window` ms, it takes no call until enough of that spending is older
 * than `window`.
 *
 * @example $5 an hour
 * ```ts
 * import type { BudgetOptions } from "@ky-failover/ky-failover";
 *
 * const budget: BudgetOptions = { usd: 5, window: 3_600_000 };
 * ```
 */
export interface BudgetOptions {
  /** Most USD the endpoint may spend within `window`. */
  readonly usd: number;
  /** The sliding window, in ms. */
  readonly window: number;
}

/** What `status()` says of an endpoint's models (the `models()` feature). */
export interface EndpointModels {
  /**
   * The models it serves, by the name the caller asks for, each mapped to
   * the name it is sent under; `undefined`: any model, under its own name.
   */
  readonly serves: Readonly<Record<string, string>> | undefined;
  /**
   * Models it answered "model not found" for, by the name it was sent
   * (learned): it gets no call that would send it one of them.
   */
  readonly notFound: readonly string[];
}

/** Tokens and cost counted for one model, or in total. */
export interface UsageTotals {
  /** Answered calls (2xx) counted. */
  readonly calls: number;
  /** Of those, calls whose answer reported no `usage`. */
  readonly unmetered: number;
  /** Input (prompt) tokens, cached ones included. */
  readonly inputTokens: number;
  /** Input tokens the provider served from its prompt cache. */
  readonly cachedInputTokens: number;
  /** Output (completion) tokens, reasoning included. */
  readonly outputTokens: number;
  /**
   * What those tokens cost, in USD; absent when a model used has no
   * known price.
   */
  readonly costUsd?: number;
}

/** What `status()` says of an endpoint's usage (the `usage()` feature). */
export interface EndpointUsage extends UsageTotals {
  /** The same figures by model, as each was sent to this endpoint. */
  readonly byModel: Readonly<Record<string, UsageTotals>>;
  /** Its budget, when it has one. */
  readonly budget?: BudgetStatus;
}

/** An endpoint's budget as `status()` shows it. */
export interface BudgetStatus {
  /** The limit, in USD. */
  readonly usd: number;
  /** The sliding window, in ms. */
  readonly windowMs: number;
  /** What it spent within the window, in USD. */
  readonly spentUsd: number;
  /** Whether it is out until the window moves on. */
  readonly exhausted: boolean;
  /** Clock time it takes calls again, while exhausted. */
  readonly until: number | undefined;
}

/** Usage across a pool: the totals, and by endpoint and by model. */
export interface UsageReport {
  /** Every endpoint and model together. */
  readonly total: UsageTotals;
  /** By endpoint name. */
  readonly byEndpoint: Readonly<Record<string, UsageTotals>>;
  /** By model, as each was sent. */
  readonly byModel: Readonly<Record<string, UsageTotals>>;
}
