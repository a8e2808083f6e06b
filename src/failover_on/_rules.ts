// Failover rules: their check (shared by failoverOn() and the preset's
// `failoverOn` option, so both name fields `options.failoverOn[i]…`), and
// the feature over checked rules (see mod.ts for what a rule matches).

import { type AiError, readAiError } from "../_ai_error.ts";
import { expected, fail, isPlainObject } from "../_validate.ts";
import type { ErrorAnswer, Feature, Ruling } from "../feature.ts";

/** A rule, checked: each field given is a test of the answer. */
export interface ResolvedRule {
  readonly status: ReadonlySet<number> | undefined;
  readonly code: ReadonlySet<string> | undefined;
  readonly type: ReadonlySet<string> | undefined;
  readonly message: ((message: string) => boolean) | undefined;
}

const KEYS = ["status", "code", "type", "message"] as const;

const RULE = "a rule { status?, code?, type?, message? }";

/** A status a rule may name: a 4xx the pool does not already fail over. */
function status(v: unknown, field: string): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 400 &&
      v <= 499 && v !== 408 && v !== 429
    ? v
    : expected(
      field,
      "an HTTP status from 400 to 499 other than 408 and 429 (those, and " +
        "every 5xx, always fail over)",
      v,
    );
}

function text(v: unknown, field: string): string {
  return typeof v === "string" && v !== ""
    ? v
    : expected(field, "a non-empty string", v);
}

/** One value or a non-empty list of them, as a set. */
function oneOrMany<T>(
  v: unknown,
  field: string,
  item: (v: unknown, field: string) => T,
  what: string,
): ReadonlySet<T> {
  if (!Array.isArray(v)) return new Set([item(v, field)]);
  if (v.length === 0) expected(field, `${what} or a non-empty list of them`, v);
  return new Set(v.map((x, i) => item(x, `${field}[${i}]`)));
}

/** A message test: a RegExp, or a substring matched case-insensitively. */
function messageTest(
  v: unknown,
  field: string,
): (message: string) => boolean {
  if (v instanceof RegExp) {
    // Without `g` / `y`, test() keeps no state between answers.
    const pattern = new RegExp(v.source, v.flags.replace(/[gy]/g, ""));
    return (message) => pattern.test(message);
  }
  if (typeof v === "string" && v !== "") {
    const needle = v.toLowerCase();
    return (message) => message.toLowerCase().includes(needle);
  }
  return expected(
    field,
    "a RegExp or a non-empty string (matched case-insensitively)",
    v,
  );
}

function resolveRule(v: unknown, field: string): ResolvedRule {
  if (!isPlainObject(v)) expected(field, RULE, v);
  for (const key of Object.keys(v)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      fail(
        `${field}.${key}`,
        `is not a known option (known: ${KEYS.join(", ")})`,
      );
    }
  }
  if (KEYS.every((key) => v[key] === undefined)) {
    fail(field, `needs at least one of ${KEYS.join(", ")}`);
  }
  const given = <T>(
    key: (typeof KEYS)[number],
    resolve: (v: unknown, field: string) => T,
  ): T | undefined =>
    v[key] === undefined ? undefined : resolve(v[key], `${field}.${key}`);
  return {
    status: given(
      "status",
      (x, f) => oneOrMany(x, f, status, "an HTTP status"),
    ),
    code: given("code", (x, f) => oneOrMany(x, f, text, "a non-empty string")),
    type: given("type", (x, f) => oneOrMany(x, f, text, "a non-empty string")),
    message: given("message", messageTest),
  };
}

/**
 * Checks a list of failover rules, naming fields under `field`
 * (`options.failoverOn[1].status …`); a `TypeError` for the first
 * problem.
 */
export function resolveFailoverOn(
  value: unknown,
  field: string,
): ResolvedRule[] {
  if (!Array.isArray(value)) {
    expected(
      field,
      `an array of rules { status?, code?, type?, message? }`,
      value,
    );
  }
  return value.map((rule, i) => resolveRule(rule, `${field}[${i}]`));
}

/** Whether `rule` needs the error body (it tests more than the status). */
const readsBody = (rule: ResolvedRule) =>
  rule.code !== undefined || rule.type !== undefined ||
  rule.message !== undefined;

/** Whether `rule` matches an answer of `status` with `error` (its body). */
function matches(
  rule: ResolvedRule,
  status: number,
  error: AiError | undefined,
): boolean {
  if (rule.status !== undefined && !rule.status.has(status)) return false;
  if (!readsBody(rule)) return true;
  if (error === undefined) return false;
  const { code, type, message } = error;
  return (rule.code === undefined ||
    (code !== undefined && rule.code.has(code))) &&
    (rule.type === undefined ||
      (type !== undefined && rule.type.has(type))) &&
    (rule.message === undefined ||
      (message !== undefined && rule.message(message)));
}

/**
 * How a ruling names its cause: the body's `code` (unless it is only a
 * number, as Gemini's and vLLM's repeat the status), else its `type`, else
 * `HTTP <status>`.
 */
function codeOf(status: number, error: AiError | undefined): string {
  const code = error?.code;
  if (code !== undefined && code !== "" && !/^\d+$/.test(code)) return code;
  const type = error?.type;
  if (type !== undefined && type !== "") return type;
  return `HTTP ${status}`;
}

/** The failoverOn feature over checked rules. */
export function failoverOnFeature(rules: readonly ResolvedRule[]): Feature {
  return {
    name: "failover-on",
    attach: () => (rules.length === 0 ? {} : {
      async judge(answer: ErrorAnswer): Promise<Ruling | undefined> {
        const status = answer.status;
        /** The error body, read once, on first use (`null`: not yet). */
        let error: AiError | undefined | null = null;
        const body = async () =>
          error === null ? error = readAiError(await answer.text()) : error;
        for (const rule of rules) {
          if (rule.status !== undefined && !rule.status.has(status)) continue;
          if (
            !matches(rule, status, readsBody(rule) ? await body() : undefined)
          ) {
            continue;
          }
          return { verdict: "failover", code: codeOf(status, await body()) };
        }
        return undefined;
      },
    }),
  };
}
