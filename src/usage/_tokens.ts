// The tokens an answer's `usage` reports, across the shapes providers use:
// OpenAI chat, completions and embeddings (`prompt_tokens`,
// `completion_tokens`, cached in `prompt_tokens_details`), the Responses
// and Images APIs (`input_tokens`, `output_tokens`, cached in
// `input_tokens_details`), DeepSeek (`prompt_cache_hit_tokens`, part of
// `prompt_tokens`) and Anthropic's own (`cache_read_input_tokens` and
// `cache_creation_input_tokens`, NOT part of `input_tokens` there).

import type { Tokens } from "../_prices.ts";
import { isPlainObject } from "../_validate.ts";

/** What an answer's body said: its tokens, and the model it named. */
export interface Reading {
  /** `undefined`: the answer reported no usage. */
  tokens: Tokens | undefined;
  /** The answer's own top-level `model`, when it had one. */
  model: string | undefined;
}

/** A count of tokens, or 0 for anything else. */
function count(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0;
}

/** Whether `v` is a number (a field the usage reports). */
function has(v: unknown): boolean {
  return typeof v === "number";
}

/** `object[key]` when `object` is an object. */
function member(object: unknown, key: string): unknown {
  return isPlainObject(object) ? object[key] : undefined;
}

/**
 * The tokens of a `usage` object, or `undefined` when it is not one (no
 * input or output count in either naming).
 */
export function tokensOf(usage: unknown): Tokens | undefined {
  if (!isPlainObject(usage)) return undefined;
  let inputTokens: number;
  let cachedInputTokens: number;
  let outputTokens: number;
  if (has(usage.prompt_tokens) || has(usage.completion_tokens)) {
    inputTokens = count(usage.prompt_tokens);
    outputTokens = count(usage.completion_tokens);
    cachedInputTokens = count(
      member(usage.prompt_tokens_details, "cached_tokens") ??
        usage.prompt_cache_hit_tokens,
    );
  } else if (has(usage.input_tokens) || has(usage.output_tokens)) {
    const cacheRead = count(usage.cache_read_input_tokens);
    inputTokens = count(usage.input_tokens) + cacheRead +
      count(usage.cache_creation_input_tokens);
    outputTokens = count(usage.output_tokens);
    cachedInputTokens = count(
      member(usage.input_tokens_details, "cached_tokens"),
    ) + cacheRead;
  } else {
    return undefined;
  }
  return {
    inputTokens,
    cachedInputTokens: Math.min(cachedInputTokens, inputTokens),
    outputTokens,
  };
}

/** The reading of a parsed answer (or event) `object`. */
export function readingOf(usage: unknown, model: unknown): Reading {
  return {
    tokens: tokensOf(usage),
    model: typeof model === "string" && model !== "" ? model : undefined,
  };
}
