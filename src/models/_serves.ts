// The `models` endpoint option: checked, and resolved to a map from the
// model the caller asks for to the name the endpoint is sent.

import { expected, isPlainObject } from "../_validate.ts";

/** Asked name → sent name; `undefined`: any model, under its own name. */
export type Serves = ReadonlyMap<string, string> | undefined;

function modelName(v: unknown, field: string): string {
  return typeof v === "string" && v.trim() !== ""
    ? v
    : expected(field, "a non-empty model name", v);
}

/** Checks an endpoint's `models` (`field` names it in errors). */
export function resolveServes(v: unknown, field: string): Serves {
  if (v === undefined || v === null) return undefined;
  const map = new Map<string, string>();
  if (Array.isArray(v)) {
    v.forEach((name, i) => {
      const model = modelName(name, `${field}[${i}]`);
      map.set(model, model);
    });
  } else if (isPlainObject(v)) {
    for (const [asked, sent] of Object.entries(v)) {
      modelName(asked, `${field} key`);
      map.set(asked, modelName(sent, `${field}[${JSON.stringify(asked)}]`));
    }
  } else {
    expected(
      field,
      "an array of model names or an object mapping asked names to this endpoint's",
      v,
    );
  }
  if (map.size === 0) {
    expected(field, "at least one model (leave it out for any model)", v);
  }
  return map;
}

/** `serves` in words: `gpt-4.1, o3` or `gpt-4.1 → deepseek-chat`. */
export function describeServes(serves: Serves): string {
  if (serves === undefined) return "any model";
  return [...serves].map(([asked, sent]) =>
    asked === sent ? asked : `${asked} → ${sent}`
  ).join(", ");
}
