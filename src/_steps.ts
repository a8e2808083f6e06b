// Built-in middleware as synchronous steps. A Koa/Hono middleware costs an
// async frame, a `next` closure and a promise per attempt; the built-ins
// that only do synchronous work around the rest of the chain (timeout,
// stream idle, breaker, failover) are written as steps instead, and `fuse`
// runs them all inside ONE async frame — exactly as if each were its own
// middleware, nested in order.

import type { Handler } from "./_compose.ts";

/**
 * One middleware's synchronous work around the rest of the chain. Nested
 * like a middleware `async (ctx, next) => { before; try { await next() }
 * finally { always } after }`.
 */
export interface Steps<C> {
  /** Before the rest of the chain. */
  before?(ctx: C): void;
  /** After the rest of the chain, whether it resolved or threw. */
  always?(ctx: C): void;
  /** After the rest of the chain resolved (and after `always`). */
  after?(ctx: C): void;
}

/** Runs `always` of `steps[count - 1]` … `steps[0]`. */
function unwind<C>(steps: readonly Steps<C>[], count: number, ctx: C): void {
  for (let k = count - 1; k >= 0; k--) steps[k].always?.(ctx);
}

/**
 * One middleware that runs `steps` as if each were a middleware, the first
 * outermost: befores in order, then the rest of the chain, then each
 * step's `always` and `after` from the innermost out. A step that throws
 * unwinds the `always` of the steps outside it, as nesting would.
 */
export function fuse<C>(steps: readonly Steps<C>[]): Handler<C> {
  const n = steps.length;
  return async (ctx, next) => {
    let ran = 0;
    try {
      for (; ran < n; ran++) steps[ran].before?.(ctx);
      await next();
    } catch (error) {
      unwind(steps, ran, ctx);
      throw error;
    }
    for (let k = n - 1; k >= 0; k--) {
      const step = steps[k];
      step.always?.(ctx);
      try {
        step.after?.(ctx);
      } catch (error) {
        unwind(steps, k, ctx);
        throw error;
      }
    }
  };
}
