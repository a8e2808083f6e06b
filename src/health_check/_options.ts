// The health-check feature's options: validation and defaults.

import {
  isNumber,
  ms,
  relativePath,
  rule,
  section,
  type Spec,
} from "../_validate.ts";

/** Health-check settings after validation. */
export interface HealthCheckSettings {
  path: string;
  interval: number;
  timeout: number;
  jitter: number;
}

/** The path probed when the options set none. */
export const HEALTH_CHECK_PATH = "models";

const SPEC: Spec<HealthCheckSettings> = {
  path: [relativePath, HEALTH_CHECK_PATH, true],
  interval: [ms, 30_000],
  timeout: [ms, 5_000],
  jitter: [
    rule<number>((v) => isNumber(v) && v >= 0 && v < 1, "a number in [0, 1)"),
    0.1,
    true,
  ],
};

/** Resolves health-check options (`false`: off), naming fields under `field`. */
export const resolveHealthCheck: (
  value: unknown,
  field: string,
) => HealthCheckSettings | false = (value, field) =>
  section(SPEC, true)(value, field, {});
