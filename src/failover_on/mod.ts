/**
 * Failover rules of your own: answers the pool would return as they are —
 * a 4xx other than 408 and 429, such as a 400 for a prompt too long for
 * this endpoint's model — fail the call over to another endpoint when a
 * rule matches them, by status and by the `code`, `type` or `message` of
 * their error body (as Portkey's `on_status_codes` and LiteLLM's
 * `context_window_fallbacks` / `content_policy_fallbacks` do).
 *
 * A rule matches when every field it gives matches:
 * - `status`: the answer's status is one of them (400 to 499, but not 408
 *   or 429: those, like every 5xx, always fail over);
 * - `code`, `type`: the error body's `code` / `type` is one of them,
 *   exactly;
 * - `message`: the error body's message matches the RegExp, or contains
 *   the string (case-insensitively).
 *
 * Error bodies are read in the shapes AI APIs answer with: OpenAI's
 * `{"error": {"message", "type", "code"}}` (Azure, DeepSeek, OpenRouter,
 * Groq …), Anthropic's `{"type": "error", "error": {"type", "message"}}`,
 * Gemini's `[{"error": {"code", "message", "status"}}]` (`status` as the
 * `type`, the number as the `code`), vLLM's
 * `{"object": "error", "message", "type", "code"}` and Ollama's
 * `{"error": "message"}`.
 *
 * A matched answer moves the call to another endpoint, and counts for
 * neither good nor bad health of the endpoint that gave it: the endpoint
 * is not sick, it only cannot serve this request. The attempt records,
 * events and `FailoverError` messages show why, as
 * `HTTP 400 context_length_exceeded`: the body's `code` (unless it is only
 * a number), else its `type`, else `HTTP <status>`. When no endpoint is
 * left, the call ends as any failover does: `fetch` returns the last
 * answer, ky throws a `FailoverError`.
 *
 * Only the body of an answer the pool read whole can be matched: any
 * answer that is not a stream, up to `bufferLimit` bytes. A streamed error
 * (`text/event-stream`), one larger than `bufferLimit`, or any answer with
 * `bufferLimit: false` has no body to match: only rules that give nothing
 * but `status` can match it. Reading the body never costs the caller its
 * answer: an answer no rule matches is returned with its body whole.
 *
 * @example Fail over when the prompt is too long for a model
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { failoverOn } from "@ky-failover/ky-failover/failover-on";
 *
 * let calls = 0;
 * using pool = createPool({
 *   endpoints: [
 *     { name: "small", url: "https://small.example.ai/v1", apiKey: "sk-a", priority: 1 },
 *     { name: "large", url: "https://large.example.ai/v1", apiKey: "sk-b", priority: 2 },
 *   ],
 *   features: [
 *     failoverOn([
 *       { status: 400, code: "context_length_exceeded" },
 *       { message: /maximum context length|prompt is too long/i },
 *       { status: 422 },
 *     ]),
 *   ],
 *   // A stand-in for the network, for this example: "small" says the
 *   // prompt is too long.
 *   fetch: (input, init) => {
 *     calls++;
 *     const { url } = new Request(input, init);
 *     return Promise.resolve(
 *       url.startsWith("https://small.")
 *         ? Response.json(
 *           { error: { message: "This model's maximum context length is 8192 tokens.", type: "invalid_request_error", code: "context_length_exceeded" } },
 *           { status: 400 },
 *         )
 *         : Response.json({ answered: url }),
 *     );
 *   },
 * });
 * const response = await pool.fetch("chat/completions", {
 *   method: "POST",
 *   body: JSON.stringify({ model: "gpt-4.1", messages: [] }),
 * });
 * console.assert(response.status === 200 && calls === 2);
 * console.assert(pool.status()[0].consecutiveFailures === 0);
 * ```
 *
 * @module
 */

import type { Feature } from "../feature.ts";
import { failoverOnFeature, resolveFailoverOn } from "./_rules.ts";

/**
 * A failover rule: every field given must match the answer, and at least
 * one must be given. See the module documentation.
 *
 * @example LiteLLM's context window and content policy fallbacks
 * ```ts
 * import type { FailoverRule } from "@ky-failover/ky-failover/failover-on";
 *
 * const rules: FailoverRule[] = [
 *   { code: ["context_length_exceeded", "string_above_max_length"] },
 *   { status: 400, code: "content_policy_violation" },
 *   { type: "invalid_request_error", message: "prompt is too long" },
 *   { status: [409, 422] },
 * ];
 * ```
 */
export interface FailoverRule {
  /**
   * The answer's status, or one of these: 400 to 499, except 408 and 429
   * (those, and every 5xx, always fail over).
   */
  readonly status?: number | readonly number[] | undefined;
  /** The error body's `code`, or one of these (exact). */
  readonly code?: string | readonly string[] | undefined;
  /** The error body's `type` (Gemini: its `status`), or one of these (exact). */
  readonly type?: string | readonly string[] | undefined;
  /**
   * A test of the error body's message: a RegExp, or a string it contains
   * (case-insensitively).
   */
  readonly message?: RegExp | string | undefined;
}

/**
 * The failoverOn feature: answers that match one of `rules` fail the call
 * over, neutral for the health of the endpoint that gave them. Invalid
 * rules throw a `TypeError` naming the field
 * (`options.failoverOn[1].status …`).
 *
 * @example
 * ```ts
 * import { failoverOn } from "@ky-failover/ky-failover/failover-on";
 *
 * const feature = failoverOn([{ status: 400, code: "context_length_exceeded" }]);
 * console.assert(feature.name === "failover-on");
 * ```
 */
export function failoverOn(rules: readonly FailoverRule[]): Feature {
  return failoverOnFeature(resolveFailoverOn(rules, "options.failoverOn"));
}
