// One attempt, from choosing its endpoint to settling what it got:
//
//   features' middleware (retry budget …)
//   → health gate: the candidates the call's route accepts (may wait out
//     a rate limit)
//   → picker: the endpoint; the route's body for it (a model rewritten)
//   → per-attempt timeout armed, the breaker's half-open trial taken
//   → user middleware → buffer step → transport (the request)
//   → features' rulings on a final answer (`_answers.ts`)
//   → timeout and trial released, the result settled (`_outcome.ts`),
//     a committed answer's body watched (`_stream_watch.ts`) and shown to
//     features' observers.
//
// The per-attempt timeout aborts the attempt's signal when `timeout` ms pass
// without an answer (for an answer the buffer step reads whole: its last
// byte), with an `AttemptTimeoutError` naming the endpoint; so do the
// caller's abort, `totalTimeout` and `close()`, through the call. A
// returned answer stays linked to the call, so cancelling the caller's
// signal still cancels its body download.

import { type Judge, type Observe, observersOf, ruleOn } from "./_answers.ts";
import type { Attempt } from "./_call.ts";
import { compose, type Handler } from "./_chain.ts";
import { bufferBody } from "./_buffer.ts";
import { gate } from "./_gate.ts";
import { outcomeOf, settleAttempt } from "./_outcome.ts";
import { aim, type Picker } from "./_pick.ts";
import type { PoolState } from "./_state.ts";
import { streamWatch } from "./_stream_watch.ts";
import { transport } from "./_transport.ts";
import { userMiddleware } from "./_user_middleware.ts";
import { AttemptTimeoutError } from "./errors.ts";

/** Builds the attempt procedure of a pool. */
export function attemptRunner(
  state: PoolState,
  { picker, around, judges, observes }: {
    picker: Picker;
    /** Features' middleware, outermost first, around everything. */
    around: readonly Handler<Attempt>[];
    /** Features' rulings on final answers, in order. */
    judges: readonly Judge[];
    /** Features' observers of returned bodies, in order. */
    observes: readonly Observe[];
  },
): (ctx: Attempt) => Promise<void> {
  const { timeout, middleware } = state.options;
  const deadlines = timeout === false ? undefined : state.deadlines(timeout);
  const request = compose<Attempt>([
    userMiddleware(middleware),
    bufferBody(state),
    transport(state),
  ]);
  const watch = streamWatch(state);

  async function attempt(ctx: Attempt): Promise<void> {
    const selection = await gate(state, ctx);
    if (selection === undefined) return;
    const target = picker(selection.candidates, ctx);
    aim(state, ctx, target);
    const sends = ctx.call.route?.attempt(target.name);
    ctx.body = sends?.body;
    ctx.model = sends?.model;
    if (sends?.model !== undefined) target.noteModel(sends.model);
    const call = ctx.call;
    call.trace?.sent(ctx);

    const controller = new AbortController();
    ctx.arm(controller);
    call.onAbort.add(ctx);
    const deadline = deadlines?.set(() =>
      controller.abort(new AttemptTimeoutError(target.name, timeout as number))
    );
    const trial = target.breaker.takeTrial();
    try {
      await request(ctx);
      if (judges.length > 0) await ruleOn(state, ctx, judges);
    } catch (error) {
      call.onAbort.delete(ctx);
      call.trace?.settled(ctx, {
        endpoint: target.name,
        durationMs: ctx.durationMs,
        error,
        outcome: "aborted",
      });
      throw error;
    } finally {
      if (deadline !== undefined) deadlines!.clear(deadline);
      if (trial) target.breaker.endTrial();
    }
    const runBefore = settleAttempt(state, ctx, selection.panic);
    call.trace?.settled(ctx, { ...ctx.record!, outcome: outcomeOf(ctx) });
    if (ctx.verdict === "success" || ctx.verdict === "final") {
      watch(ctx, runBefore, observersOf(ctx, observes));
    } else {
      call.onAbort.delete(ctx);
    }
  }

  return around.length === 0
    ? attempt
    : compose<Attempt>([...around, (ctx) => attempt(ctx)]);
}
