// Hedging over resolved settings (see mod.ts for the rules).

import type { Feature } from "../feature.ts";
import { expected, ms, section } from "../_validate.ts";

/** Hedging settings after validation. */
export interface HedgeSettings {
  delay: number;
  methods: string[];
}

/** Resolves hedging options (`false`: off), naming fields under `field`. */
export function resolveHedge(
  value: unknown,
  field: string,
): HedgeSettings | false {
  return section<HedgeSettings>({
    delay: [ms],
    methods: [
      (v, f) =>
        Array.isArray(v) && v.every((m) => typeof m === "string")
          ? v.map((m: string) => m.toUpperCase())
          : expected(f, "an array of method names", v),
      ["GET", "HEAD", "OPTIONS"],
      true,
    ],
  }, true)(value, field, {});
}

/** The hedging feature for resolved settings. */
export function hedgeFeature({ delay, methods }: HedgeSettings): Feature {
  return {
    name: "hedge",
    attach: () => ({
      hedgeDelay: (request) =>
        methods.includes(request.method) ? delay : undefined,
    }),
  };
}
