// The otel feature's options: checked, with their defaults.

import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import { check, fail, optional, rule } from "../_validate.ts";

/** Otel settings after validation. */
export interface OtelSettings {
  /** Where spans go; `undefined`: the global tracer provider. */
  tracerProvider: TracerProvider | undefined;
  /** Where metrics go; `undefined`: the global meter provider. */
  meterProvider: MeterProvider | undefined;
  /** The instrumentation scope. */
  name: string;
  /** Whether models (the request body's `model`) name spans and metrics. */
  captureModel: boolean;
}

/** A provider: an object with the method `method`. */
function provider<T>(method: string) {
  return optional(rule<T>(
    (v) =>
      typeof v === "object" && v !== null &&
      typeof (v as Record<string, unknown>)[method] === "function",
    `an object with a ${method}() method`,
  ));
}

/** Resolves otel options (`undefined`: the defaults), naming fields under `field`. */
export function resolveOtel(value: unknown, field: string): OtelSettings {
  return check<OtelSettings>(value ?? {}, {
    tracerProvider: [provider<TracerProvider>("getTracer")],
    meterProvider: [provider<MeterProvider>("getMeter")],
    name: [
      (v, f) =>
        typeof v === "string" && v.trim() !== ""
          ? v
          : fail(f, "must be a non-empty string"),
      "ky-failover",
    ],
    captureModel: [
      rule<boolean>((v) => typeof v === "boolean", "true or false"),
      true,
    ],
  }, field);
}
