// The shared-state feature's options: checked, with defaults.

import {
  check,
  isFunction,
  ms,
  relativePath,
  type Rule,
  rule,
  section,
} from "../_validate.ts";
import type { SharedSettings } from "./_feature.ts";
import type { Store } from "./_store.ts";

/** Whether `v` has what a store needs (a class instance will do). */
function isStore(v: unknown): v is Store {
  if (typeof v !== "object" || v === null) return false;
  const store = v as Record<string, unknown>;
  return typeof store.kind === "string" &&
    ["subscribe", "publish", "recent", "lock", "close"].every((k) =>
      isFunction(store[k])
    );
}

/** Checks shared-state options, naming fields under `field`. */
export function resolveShared(value: unknown, field: string): SharedSettings {
  return check<SharedSettings>(value, {
    store: [rule(
      isStore,
      "a store (kind, subscribe(), publish(), recent(), lock(), close())",
    )],
    timeout: [ms, 250, true],
    probe: [
      section({
        path: [relativePath, "models", true],
        timeout: [ms, 5_000, true],
      }) as Rule<SharedSettings["probe"]>,
      {},
      true,
    ],
  }, field);
}
