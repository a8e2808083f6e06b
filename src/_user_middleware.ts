// The user's middleware, run inside the chain on a key-free view of the
// attempt. The attempt object itself holds the picked endpoint (whose
// credentials the transport adds), the candidates and the call's internal
// state; a user middleware gets none of that — only an `AttemptContext`
// whose fields read and write through to the attempt, over a private field
// that nothing outside this module can reach.

import type { Handler } from "./_chain.ts";
import type { Attempt } from "./_call.ts";
import type { AttemptContext, EndpointInfo, Middleware } from "./types.ts";

/** What a user middleware sees of an attempt: no endpoint internals, no keys. */
class AttemptView implements AttemptContext {
  readonly #attempt: Attempt;

  constructor(attempt: Attempt) {
    this.#attempt = attempt;
  }

  get attempt(): number {
    return this.#attempt.attempt;
  }

  get method(): string {
    return this.#attempt.method;
  }

  get path(): string {
    return this.#attempt.path;
  }

  get headers(): Headers {
    return this.#attempt.headers;
  }

  set headers(headers: Headers) {
    this.#attempt.headers = headers;
  }

  /** The picked endpoint's frozen, key-free description. */
  get endpoint(): EndpointInfo | undefined {
    return this.#attempt.endpoint;
  }

  set endpoint(_: EndpointInfo | undefined) {
    throw new TypeError(
      "ky-failover: ctx.endpoint is chosen by the picker; use the strategy option to choose",
    );
  }

  get signal(): AbortSignal {
    return this.#attempt.signal;
  }

  get response(): Response | undefined {
    return this.#attempt.response;
  }

  set response(response: Response | undefined) {
    this.#attempt.response = response;
  }

  get error(): unknown {
    return this.#attempt.error;
  }

  set error(error: unknown) {
    this.#attempt.error = error;
  }
}

/**
 * Runs `middleware` in order around the rest of the chain, each on the
 * attempt's view. A middleware that returns without calling `next()` and
 * without setting `ctx.response` (or `ctx.error`) would leave the attempt with neither an
 * answer nor an error: that is the middleware's bug, not the endpoint's, so
 * the call rejects with a TypeError naming it, and no endpoint's health
 * changes.
 */
export function userMiddleware(
  middleware: readonly Middleware[],
): Handler<Attempt> {
  if (middleware.length === 0) return (_ctx, next) => next();
  return async (ctx, next) => {
    const view = new AttemptView(ctx);
    let depth = 0;
    let sent = false;
    const dispatch = async (i: number): Promise<void> => {
      if (i === middleware.length) {
        sent = true;
        return next();
      }
      depth = i;
      let called = false;
      await middleware[i](view, () => {
        if (called) {
          return Promise.reject(
            new TypeError(
              `ky-failover: next() called twice by middleware[${i}]`,
            ),
          );
        }
        called = true;
        return dispatch(i + 1);
      });
    };
    await dispatch(0);
    if (!sent && ctx.response === undefined && ctx.error === undefined) {
      throw new TypeError(
        `ky-failover: middleware[${depth}] returned without calling next() ` +
          "or setting ctx.response or ctx.error",
      );
    }
  };
}
