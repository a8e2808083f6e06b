// The retry budget over resolved settings (see mod.ts for the rules).

import type { Feature } from "../feature.ts";
import { range, section } from "../_validate.ts";

/** Retry budget settings after validation. */
export interface RetryBudgetSettings {
  ratio: number;
  maxTokens: number;
}

/** Resolves retry budget options (`false`: off), naming fields under `field`. */
export function resolveRetryBudget(
  value: unknown,
  field: string,
): RetryBudgetSettings | false {
  return section<RetryBudgetSettings>({
    ratio: [range(0, 100, "a finite number"), 0.5, true],
    maxTokens: [range(1, 10_000, "an integer"), 10, true],
  }, true)(value, field, {});
}

/** A drained bucket lets every this-many-th denied retry through. */
const TRIAL_EVERY = 10;

/** The retry budget feature for resolved settings. */
export function retryBudgetFeature(
  { ratio, maxTokens }: RetryBudgetSettings,
): Feature {
  return {
    name: "retry-budget",
    attach() {
      const threshold = maxTokens / 2;
      let tokens = maxTokens;
      /** Retries denied since the last trial. */
      let denied = 0;
      return {
        async middleware(ctx, next) {
          if (ctx.attempt > 1 && tokens <= threshold) {
            denied += 1;
            if (denied < TRIAL_EVERY) {
              ctx.stop(
                `retry budget exhausted (${
                  Math.round(tokens * 10) / 10
                } of ${maxTokens} tokens; retries resume above ${threshold})`,
              );
              return;
            }
            denied = 0; // this one is a trial
          }
          await next();
          // A failed retry takes a token; an answer puts `ratio` back.
          const verdict = ctx.verdict;
          if (verdict === "failover") {
            if (ctx.attempt > 1) tokens = Math.max(0, tokens - 1);
          } else if (verdict === "success" || verdict === "final") {
            tokens = Math.min(maxTokens, tokens + ratio);
          }
        },
      };
    },
  };
}
