/**
 * The attempt loop: runs a call's attempts until one succeeds (or gets a
 * final answer), the attempts run out, or the call is stopped.
 *
 * An attempt that fails over starts the next at once. With hedging (a
 * `hedgeDelay` for the call), an attempt still without an answer after that
 * delay gets company: a second attempt starts on an untried available
 * endpoint; the first good answer wins and every other attempt is
 * cancelled with a `HedgeCancelledError`, which counts against nobody. An
 * attempt that fails does not end the call: the next one starts at once if
 * none is in flight, or as the next hedge. `maxAttempts`, the retry budget
 * and the health gate apply to hedges like to any attempt.
 *
 * @module
 */

import { Attempt, type Call, cancelBody } from "./_call.ts";
import { isCandidate } from "./_gate.ts";
import type { PoolState } from "./_state.ts";
import { HedgeCancelledError } from "./errors.ts";

/** How a call ends, as the pool decides. */
export interface Ending {
  /** A successful (or final) attempt's answer. */
  succeed(call: Call, ctx: Attempt): Response;
  /** After the last attempt failed, or none could be made. */
  finish(call: Call, last: Attempt | undefined): Response;
}

/** How an attempt of the loop settled. */
interface Settled {
  ctx: Attempt;
  thrown?: { error: unknown };
}

/** Whether an untried endpoint could take a hedge right now. */
function canHedge(state: PoolState, call: Call): boolean {
  const now = state.options.clock.now();
  return state.endpoints.some((e) => isCandidate(call, e, now));
}

/**
 * Runs `call`'s attempts with `attempt`, hedging after `hedgeDelay` ms
 * when it is a number.
 */
export async function runAttempts(
  state: PoolState,
  call: Call,
  { attempt, ending, hedgeDelay }: {
    attempt: (ctx: Attempt) => Promise<void>;
    ending: Ending;
    hedgeDelay: number | undefined;
  },
): Promise<Response> {
  const { clock, maxAttempts } = state.options;
  const running = new Map<Attempt, Promise<Settled>>();
  let last: Attempt | undefined;
  let started = 0;
  let lastStart = 0;
  const start = (hedge: boolean) => {
    started += 1;
    lastStart = clock.now();
    const ctx = new Attempt(call, started, hedge);
    running.set(
      ctx,
      attempt(ctx).then(
        () => ({ ctx }),
        (error) => ({ ctx, thrown: { error } }),
      ),
    );
  };
  /** Cancels every attempt still running: another one won. */
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
  const mayHedge = () =>
    hedgeDelay !== undefined && started < maxAttempts && canHedge(state, call);

  start(false);
  while (running.size > 0) {
    let timer: unknown;
    const waits: Promise<Settled | "hedge">[] = [...running.values()];
    if (running.size === 1 && mayHedge()) {
      const wait = lastStart + hedgeDelay! - clock.now();
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
    const first = await (waits.length === 1 ? waits[0] : Promise.race(waits));
    if (timer !== undefined) clock.clearTimeout(timer);
    if (first === "hedge") {
      if (mayHedge()) start(true);
      continue;
    }
    const { ctx, thrown } = first;
    running.delete(ctx);
    if (thrown) {
      dropOthers();
      if (last?.response) cancelBody(last.response);
      if (ctx.response) cancelBody(ctx.response);
      throw thrown.error;
    }
    if (ctx.target === undefined) continue;
    if (last?.response) cancelBody(last.response);
    last = ctx;
    if (ctx.verdict === "success" || ctx.verdict === "final") {
      dropOthers();
      return ending.succeed(call, ctx);
    }
    if (ctx.verdict === "aborted") continue;
    if (running.size === 0 && started < maxAttempts) start(false);
  }
  return ending.finish(call, last);
}
