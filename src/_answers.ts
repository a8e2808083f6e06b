// What features see of an attempt's answer: they may rule on an answer the
// call would return as it is (a 4xx it does not fail over) before it is
// settled, and observe the body of an answer the call returns.

import type { Attempt } from "./_call.ts";
import { judgeAnswer } from "./_classify.ts";
import { ownCredentials } from "./_outcome.ts";
import { callView } from "./_route.ts";
import type { PoolState } from "./_state.ts";
import type {
  BodyObserver,
  ErrorAnswer,
  FeatureAnswer,
  FeatureCall,
  Ruling,
} from "./feature.ts";

const utf8 = new TextDecoder();

/** An attempt's answer, key-free, as features see it. */
class AnswerView implements ErrorAnswer {
  readonly #ctx: Attempt;
  #text: Promise<string | undefined> | undefined = undefined;

  constructor(ctx: Attempt) {
    this.#ctx = ctx;
  }

  get endpoint(): string {
    return this.#ctx.target!.name;
  }

  get attempt(): number {
    return this.#ctx.attempt;
  }

  get call(): FeatureCall {
    return callView(this.#ctx.call);
  }

  get model(): string | undefined {
    return this.#ctx.model;
  }

  get status(): number {
    return this.#ctx.response!.status;
  }

  get headers(): Headers {
    return this.#ctx.response!.headers;
  }

  /** The bytes the buffer step read, as text: the caller's body is untouched. */
  text(): Promise<string | undefined> {
    const bytes = this.#ctx.bytes;
    return this.#text ??= Promise.resolve(
      bytes === undefined ? undefined : utf8.decode(bytes),
    );
  }
}

/** A feature's `judge`. */
export type Judge = (
  answer: ErrorAnswer,
) => Ruling | undefined | Promise<Ruling | undefined>;

/**
 * Asks `judges`, in order, about `ctx`'s answer when the call would return
 * it as final; the first ruling is kept in `ctx.ruling`.
 */
export async function ruleOn(
  state: PoolState,
  ctx: Attempt,
  judges: readonly Judge[],
): Promise<void> {
  const response = ctx.response;
  if (response === undefined) return;
  const { verdict } = judgeAnswer(
    response.status,
    response.headers,
    ownCredentials(state, ctx.target!),
  );
  if (verdict !== "final") return;
  const answer = new AnswerView(ctx);
  for (const judge of judges) {
    const ruling = await judge(answer);
    if (ruling !== undefined) {
      ctx.ruling = ruling;
      return;
    }
  }
}

/** A feature's `observe`. */
export type Observe = (answer: FeatureAnswer) => BodyObserver | undefined;

/**
 * `observers` as one that never throws: one that throws is dropped for the
 * rest of the body — watching a body must never break the caller's read.
 */
export function guarded(observers: readonly BodyObserver[]): BodyObserver {
  const live = new Set(observers);
  const each = (act: (o: BodyObserver) => void) => {
    for (const observer of live) {
      try {
        act(observer);
      } catch {
        live.delete(observer);
      }
    }
  };
  return {
    chunk: (bytes) => each((o) => o.chunk(bytes)),
    end: () => each((o) => o.end()),
    stop: (how, error) => each((o) => o.stop?.(how, error)),
  };
}

/**
 * The observers `observes` give for `ctx`'s returned answer, guarded. A
 * body read whole is shown to them at once — when the attempt settles, not
 * when the caller reads it — and `[]` returned; a body with nothing to
 * read ends at once. Otherwise they are returned, for the stream watch to
 * show each chunk as the caller reads it.
 */
export function observersOf(
  ctx: Attempt,
  observes: readonly Observe[],
): BodyObserver[] {
  if (observes.length === 0) return [];
  const answer = new AnswerView(ctx);
  const observers = observes.map((observe) => observe(answer)).filter((o) =>
    o !== undefined
  );
  if (observers.length === 0) return [];
  const bytes = ctx.bytes;
  const empty = ctx.response!.body === null || ctx.method === "HEAD";
  const observer = guarded(observers);
  if (bytes === undefined && !empty) return [observer];
  if (bytes !== undefined && bytes.byteLength > 0) observer.chunk(bytes);
  observer.end();
  return [];
}
