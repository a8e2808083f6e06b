/**
 * Per-attempt timeout middleware. Each attempt gets its own AbortSignal that
 * aborts when `timeout` ms pass without response headers (reason: an
 * `AttemptTimeoutError` naming the endpoint), when the call is cancelled by
 * the caller, when `totalTimeout` runs out, or when the pool is closed.
 *
 * The timer runs until the attempt's chain returns: at the response headers
 * for a stream, at the last byte for an answer the buffer step reads whole.
 * A committed stream's body is not bounded by it (the stream idle timeout
 * watches it). A successful attempt stays linked to the call, so cancelling
 * the caller's signal still cancels the body download.
 *
 * @module
 */

import type { Attempt } from "../_context.ts";
import type { Steps } from "../_steps.ts";
import type { Pool } from "../_pool.ts";
import { AttemptTimeoutError } from "../errors.ts";

/** The per-attempt timeout middleware, as steps. */
export function attemptTimeout(pool: Pool): Steps<Attempt> {
  const { timeout } = pool.options;
  const deadlines = timeout === false ? undefined : pool.deadlines(timeout);
  return {
    before(ctx) {
      const controller = new AbortController();
      ctx.controller = controller;
      ctx.signal = controller.signal;
      // The call's abort reaches this attempt through ctx.cancel().
      ctx.call.onAbort.add(ctx);
      if (deadlines !== undefined) {
        const name = ctx.target!.name;
        ctx.deadline = deadlines.set(() =>
          controller.abort(new AttemptTimeoutError(name, timeout as number))
        );
      }
    },
    always(ctx) {
      if (ctx.deadline !== undefined) deadlines!.clear(ctx.deadline);
      if (ctx.verdict !== "success" && ctx.verdict !== "final") {
        ctx.call.onAbort.delete(ctx);
      }
    },
  };
}
