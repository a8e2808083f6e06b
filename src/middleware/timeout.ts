/**
 * Per-attempt timeout middleware. Each attempt gets its own AbortSignal that
 * aborts when `timeout` ms pass without response headers (reason: an
 * `AttemptTimeoutError` naming the endpoint), when the call is cancelled by
 * the caller, when `totalTimeout` runs out, or when the pool is closed.
 *
 * The timer stops at response headers: reading the body is not bounded by
 * it. A successful attempt stays linked to the call, so cancelling the
 * caller's signal still cancels the body download.
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";
import { AttemptTimeoutError } from "../errors.ts";

/** The per-attempt timeout middleware. */
export function attemptTimeout(pool: Pool): Handler<Attempt> {
  const { timeout } = pool.options;
  const deadlines = timeout === false ? undefined : pool.deadlines(timeout);
  return async (ctx, next) => {
    const call = ctx.call;
    const controller = new AbortController();
    const onCallAbort = (reason: unknown) => controller.abort(reason);
    call.onAbort.add(onCallAbort);
    const name = ctx.target!.name;
    const deadline = deadlines?.set(() =>
      controller.abort(new AttemptTimeoutError(name, timeout as number))
    );
    ctx.signal = controller.signal;
    ctx.cancel = (reason) => controller.abort(reason);
    try {
      await next();
    } finally {
      if (deadline !== undefined) deadlines!.clear(deadline);
      if (ctx.verdict !== "success" && ctx.verdict !== "final") {
        call.onAbort.delete(onCallAbort);
      }
    }
  };
}
