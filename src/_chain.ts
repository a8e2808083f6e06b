// A tiny Koa/Hono-style compose: each middleware gets `next()` to run the
// rest of the chain, and may run code before and after it.

/** A middleware over a context of type `C`. */
export type Handler<C> = (
  ctx: C,
  next: () => Promise<void>,
) => Promise<void> | void;

/**
 * Composes `handlers` into one function that runs them in order. Calling
 * `next()` twice in one handler is a bug and rejects with an Error.
 */
export function compose<C>(
  handlers: readonly Handler<C>[],
): (ctx: C) => Promise<void> {
  return (ctx) => {
    let last = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= last) {
        return Promise.reject(new Error("ky-failover: next() called twice"));
      }
      last = i;
      const handler = handlers[i];
      if (handler === undefined) return Promise.resolve();
      try {
        return Promise.resolve(handler(ctx, () => dispatch(i + 1)));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    return dispatch(0);
  };
}
