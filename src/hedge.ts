/**
 * Hedging: the attempt loop for calls whose method may be hedged. When the
 * attempt in flight has no response headers after `delay` ms and an untried
 * endpoint is available, a second attempt starts there; the first good
 * answer (success, or a final answer such as a 400) wins and every other
 * attempt is cancelled with a `HedgeCancelledError`, which counts against
 * nobody. An attempt that fails does not end the call: the next one starts
 * at once if none is in flight, or as the next hedge. `maxAttempts`, the
 * retry budget and the health gate apply to hedges like to any attempt.
 *
 * @module
 */

import { Attempt, type Call, cancelBody, type Loop } from "./_context.ts";
import { HedgeCancelledError } from "./errors.ts";
import { isCandidate } from "./middleware/health_gate.ts";

/** Whether an untried endpoint could take a hedge right now. */
function canHedge(loop: Loop, call: Call): boolean {
  const { pool } = loop;
  const now = pool.options.clock.now();
  return pool.endpoints.some((e) => isCandidate(call, e, now));
}

/** Runs `call` with hedging after `delay` ms. */
export async function hedged(
  loop: Loop,
  call: Call,
  delay: number,
): Promise<Response> {
  const { clock, maxAttempts } = loop.pool.options;
  type Settled = { ctx: Attempt; thrown?: { error: unknown } };
  const running = new Map<Attempt, Promise<Settled>>();
  let last: Attempt | undefined;
  let started = 0;
  let lastStart = 0;
  const start = (hedge: boolean) => {
    started += 1;
    lastStart = clock.now();
    const ctx = new Attempt(call, started);
    ctx.hedge = hedge;
    running.set(
      ctx,
      loop.chain(ctx).then(
        () => ({ ctx }),
        (error) => ({ ctx, thrown: { error } }),
      ),
    );
  };
  const dropOthers = () => {
    for (const [other, settled] of running) {
      other.superseded = true;
      other.cancel(new HedgeCancelledError());
      void settled.then(({ ctx }) => {
        if (ctx.response) cancelBody(ctx.response);
      });
    }
    running.clear();
  };
  start(false);
  while (running.size > 0) {
    let timer: unknown;
    const waits: Promise<Settled | "hedge">[] = [...running.values()];
    if (running.size === 1 && started < maxAttempts && canHedge(loop, call)) {
      const wait = lastStart + delay - clock.now();
      if (wait <= 0) {
        start(true);
        continue;
      }
      waits.push(
        new Promise((resolve) => {
          timer = clock.setTimeout(() => resolve("hedge"), wait);
        }),
      );
    }
    const first = await Promise.race(waits);
    if (timer !== undefined) clock.clearTimeout(timer);
    if (first === "hedge") {
      if (started < maxAttempts && canHedge(loop, call)) start(true);
      continue;
    }
    const { ctx, thrown } = first;
    running.delete(ctx);
    if (thrown) {
      dropOthers();
      throw thrown.error;
    }
    if (ctx.target === undefined) continue;
    if (last?.response) cancelBody(last.response);
    last = ctx;
    if (ctx.verdict === "success" || ctx.verdict === "final") {
      dropOthers();
      return loop.succeed(call, ctx);
    }
    if (ctx.verdict === "aborted") continue;
    if (running.size === 0 && started < maxAttempts) start(false);
  }
  return loop.finish(call, last);
}
