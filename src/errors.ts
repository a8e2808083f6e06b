/**
 * The error hierarchy of ky-failover. Every error it creates extends
 * {@linkcode KyFailoverError}; each class has a type guard that also works
 * across realms (iframes, workers, duplicated copies of the package), because
 * it checks a registered symbol brand rather than `instanceof`.
 *
 * @module
 */

import type { AttemptRecord } from "./types.ts";

const brand = Symbol.for("ky-failover.error");

/** Whether `value` carries the brand (and, when given, has that `name`). */
function hasBrand(value: unknown, name?: string): boolean {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[brand] === true &&
    (!name || (value as Error).name === name);
}

/**
 * Base class of every error ky-failover throws.
 *
 * @example
 * ```ts
 * import { isKyFailoverError, KyFailoverError } from "@ky-failover/ky-failover";
 *
 * const error = new KyFailoverError("boom");
 * console.assert(isKyFailoverError(error));
 * ```
 */
export class KyFailoverError extends Error {
  /**
   * Creates an error; `options.cause` keeps the underlying error. (The
   * options are typed here rather than as the lib's `ErrorOptions`, which
   * projects without the es2022 lib do not have.)
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KyFailoverError";
    Object.defineProperty(this, brand, { value: true });
  }
}

/**
 * Returns whether `value` is any ky-failover error, even from another realm.
 *
 * @example
 * ```ts
 * import { isKyFailoverError } from "@ky-failover/ky-failover";
 *
 * console.assert(!isKyFailoverError(new Error("plain")));
 * ```
 */
export function isKyFailoverError(value: unknown): value is KyFailoverError {
  return hasBrand(value);
}

/**
 * Thrown when a call could not succeed: every attempt failed, or the total
 * timeout ran out. `attempts` lists each attempt (endpoint name, status or
 * error, duration); `cause` is the last attempt's error, or the
 * {@linkcode TotalTimeoutError}; `response` is the last response, if any
 * (its body may be unread).
 *
 * @example
 * ```ts
 * import { FailoverError, isFailoverError } from "@ky-failover/ky-failover";
 *
 * const error = new FailoverError([{ endpoint: "primary", status: 503, durationMs: 12 }]);
 * console.assert(isFailoverError(error));
 * console.assert(error.message.includes("primary → HTTP 503"));
 * ```
 */
export class FailoverError extends KyFailoverError {
  /** Every attempt of the call, in order. */
  readonly attempts: readonly AttemptRecord[];
  /** The last response received, if the last attempts got one. */
  readonly response: Response | undefined;

  /** Builds the error and a message that summarises every attempt. */
  constructor(
    attempts: readonly AttemptRecord[],
    options?: {
      cause?: unknown;
      response?: Response | undefined;
      reason?: string | undefined;
    },
  ) {
    super(describeFailure(attempts, options?.reason), options);
    this.name = "FailoverError";
    this.attempts = attempts;
    this.response = options?.response;
  }
}

/**
 * Returns whether `value` is a {@linkcode FailoverError}, even from another realm.
 *
 * @example
 * ```ts
 * import { isFailoverError } from "@ky-failover/ky-failover";
 *
 * try {
 *   throw new Error("not ours");
 * } catch (error) {
 *   console.assert(!isFailoverError(error));
 * }
 * ```
 */
export function isFailoverError(value: unknown): value is FailoverError {
  return hasBrand(value, "FailoverError");
}

/**
 * The reason an attempt was aborted after the per-attempt `timeout` passed
 * without response headers.
 *
 * @example
 * ```ts
 * import { AttemptTimeoutError } from "@ky-failover/ky-failover";
 *
 * const error = new AttemptTimeoutError("hk", 30_000);
 * console.assert(error.message === "hk timed out after 30000 ms");
 * ```
 */
export class AttemptTimeoutError extends KyFailoverError {
  /** Name of the endpoint that did not answer in time. */
  readonly endpoint: string;
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;

  /** Creates the error for `endpoint` after `timeoutMs`. */
  constructor(endpoint: string, timeoutMs: number) {
    super(`${endpoint} timed out after ${timeoutMs} ms`);
    this.name = "AttemptTimeoutError";
    this.endpoint = endpoint;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Returns whether `value` is an {@linkcode AttemptTimeoutError}.
 *
 * @example
 * ```ts
 * import { AttemptTimeoutError, isAttemptTimeoutError } from "@ky-failover/ky-failover";
 *
 * console.assert(isAttemptTimeoutError(new AttemptTimeoutError("a", 1)));
 * ```
 */
export function isAttemptTimeoutError(
  value: unknown,
): value is AttemptTimeoutError {
  return hasBrand(value, "AttemptTimeoutError");
}

/**
 * Ends a response body that stopped flowing: `streamIdleTimeout` ms passed
 * without a chunk while the consumer was waiting for one. Readers of the
 * body (`for await`, `response.body`, an SDK's stream iterator, ky's
 * `.json()`) see it as the read error.
 *
 * @example
 * ```ts
 * import { StreamIdleTimeoutError } from "@ky-failover/ky-failover";
 *
 * const error = new StreamIdleTimeoutError("hk", 1_000);
 * console.assert(error.message === "hk stream stalled: no data for 1000 ms");
 * ```
 */
export class StreamIdleTimeoutError extends KyFailoverError {
  /** Name of the endpoint whose stream stalled. */
  readonly endpoint: string;
  /** The idle timeout that passed, in ms. */
  readonly timeoutMs: number;

  /** Creates the error for `endpoint` after `timeoutMs` without data. */
  constructor(endpoint: string, timeoutMs: number) {
    super(`${endpoint} stream stalled: no data for ${timeoutMs} ms`);
    this.name = "StreamIdleTimeoutError";
    this.endpoint = endpoint;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Returns whether `value` is a {@linkcode StreamIdleTimeoutError}.
 *
 * @example
 * ```ts
 * import { isStreamIdleTimeoutError, StreamIdleTimeoutError } from "@ky-failover/ky-failover";
 *
 * console.assert(isStreamIdleTimeoutError(new StreamIdleTimeoutError("a", 1)));
 * ```
 */
export function isStreamIdleTimeoutError(
  value: unknown,
): value is StreamIdleTimeoutError {
  return hasBrand(value, "StreamIdleTimeoutError");
}

/**
 * The reason a call stopped when `totalTimeout` ran out; it is the `cause`
 * of the resulting {@linkcode FailoverError}.
 *
 * @example
 * ```ts
 * import { TotalTimeoutError } from "@ky-failover/ky-failover";
 *
 * console.assert(new TotalTimeoutError(5000).message.includes("5000 ms"));
 * ```
 */
export class TotalTimeoutError extends KyFailoverError {
  /** The budget that ran out, in ms. */
  readonly timeoutMs: number;

  /** Creates the error for a budget of `timeoutMs`. */
  constructor(timeoutMs: number) {
    super(`total timeout of ${timeoutMs} ms exceeded`);
    this.name = "TotalTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Returns whether `value` is a {@linkcode TotalTimeoutError}.
 *
 * @example
 * ```ts
 * import { isTotalTimeoutError, TotalTimeoutError } from "@ky-failover/ky-failover";
 *
 * console.assert(isTotalTimeoutError(new TotalTimeoutError(1)));
 * ```
 */
export function isTotalTimeoutError(
  value: unknown,
): value is TotalTimeoutError {
  return hasBrand(value, "TotalTimeoutError");
}

/**
 * Rejects a request whose absolute URL is not under any endpoint of the pool.
 * Such a request is never sent: it would otherwise leave with a pool key.
 *
 * @example
 * ```ts
 * import { OutsidePoolError } from "@ky-failover/ky-failover";
 *
 * const error = new OutsidePoolError("https://elsewhere.example/x");
 * console.assert(error.url === "https://elsewhere.example/x");
 * ```
 */
export class OutsidePoolError extends KyFailoverError {
  /** The rejected URL (origin and path only, no query). */
  readonly url: string;

  /** Creates the error for `url`. */
  constructor(url: string) {
    super(
      `${url} is not under the url of any endpoint in the pool; ` +
        "ky-failover only sends requests to its own endpoints (use a relative path or an endpoint's url)",
    );
    this.name = "OutsidePoolError";
    this.url = url;
  }
}

/**
 * Returns whether `value` is an {@linkcode OutsidePoolError}.
 *
 * @example
 * ```ts
 * import { isOutsidePoolError, OutsidePoolError } from "@ky-failover/ky-failover";
 *
 * console.assert(isOutsidePoolError(new OutsidePoolError("https://x.example/")));
 * ```
 */
export function isOutsidePoolError(value: unknown): value is OutsidePoolError {
  return hasBrand(value, "OutsidePoolError");
}

/**
 * Ends an attempt whose endpoint redirected it to another origin. The
 * redirect is not followed: the endpoint's credentials and the caller's
 * body would go with it. It counts as a failure of that endpoint, and the
 * call fails over. Redirects within the endpoint's own origin are followed.
 *
 * @example
 * ```ts
 * import { isRedirectError, RedirectError } from "@ky-failover/ky-failover";
 *
 * const error = new RedirectError("hk", 302, "https://elsewhere.example");
 * console.assert(isRedirectError(error));
 * console.assert(error.message.startsWith("hk redirected (HTTP 302) to https://elsewhere.example"));
 * ```
 */
export class RedirectError extends KyFailoverError {
  /** Name of the endpoint that redirected. */
  readonly endpoint: string;
  /** The redirect status (301, 302, 303, 307, 308), or `0` when a browser hid it. */
  readonly status: number;
  /**
   * Origin the redirect pointed to, or `undefined` when it is unknown (a
   * browser hides the target of a redirect it does not follow) or the
   * `Location` is not a URL.
   */
  readonly location: string | undefined;

  /** Creates the error for `endpoint`'s redirect to `location` (an origin). */
  constructor(endpoint: string, status: number, location: string | undefined) {
    super(
      `${endpoint} redirected${status ? ` (HTTP ${status})` : ""} to ${
        location ?? "a location it does not disclose or that is not a URL"
      }; not followed: the endpoint's credentials and the request body stay with its own origin`,
    );
    this.name = "RedirectError";
    this.endpoint = endpoint;
    this.status = status;
    this.location = location;
  }
}

/**
 * Returns whether `value` is a {@linkcode RedirectError}.
 *
 * @example
 * ```ts
 * import { isRedirectError, RedirectError } from "@ky-failover/ky-failover";
 *
 * console.assert(isRedirectError(new RedirectError("a", 307, undefined)));
 * ```
 */
export function isRedirectError(value: unknown): value is RedirectError {
  return hasBrand(value, "RedirectError");
}

/**
 * The reason pending calls are aborted, and new ones rejected, once the pool
 * is closed.
 *
 * @example
 * ```ts
 * import { ClosedError } from "@ky-failover/ky-failover";
 *
 * console.assert(new ClosedError().name === "ClosedError");
 * ```
 */
export class ClosedError extends KyFailoverError {
  /** Creates the error. */
  constructor() {
    super("the failover pool is closed");
    this.name = "ClosedError";
  }
}

/**
 * Returns whether `value` is a {@linkcode ClosedError}.
 *
 * @example
 * ```ts
 * import { ClosedError, isClosedError } from "@ky-failover/ky-failover";
 *
 * console.assert(isClosedError(new ClosedError()));
 * ```
 */
export function isClosedError(value: unknown): value is ClosedError {
  return hasBrand(value, "ClosedError");
}

/**
 * The reason a hedged attempt is cancelled once another attempt of the same
 * call has won. It never reaches the caller and counts against nobody.
 *
 * @example
 * ```ts
 * import { HedgeCancelledError } from "@ky-failover/ky-failover";
 *
 * console.assert(new HedgeCancelledError().name === "HedgeCancelledError");
 * ```
 */
export class HedgeCancelledError extends KyFailoverError {
  /** Creates the error. */
  constructor() {
    super("another attempt of this call answered first");
    this.name = "HedgeCancelledError";
  }
}

/** Short, key-free description of an attempt's result, e.g. `HTTP 503`. */
export function describeAttempt(
  attempt: Pick<AttemptRecord, "status" | "error" | "code">,
): string {
  if (attempt.status === undefined) return describeError(attempt.error);
  const http = `HTTP ${attempt.status}`;
  const code = attempt.code;
  return code === undefined || code === http ? http : `${http} ${code}`;
}

/** Short description of an error without its stack. */
export function describeError(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { name, message } = error as Error;
  if (isKyFailoverError(error)) return String(message);
  const cause = (error as Error).cause;
  const causeText = cause instanceof Error && cause.message
    ? ` (${cause.message})`
    : "";
  return `${name ?? "Error"}: ${message}${causeText}`;
}

function describeFailure(
  attempts: readonly AttemptRecord[],
  reason: string | undefined,
): string {
  const head = reason ??
    (attempts.length === 1
      ? "the only attempt failed"
      : `all ${attempts.length} attempts failed`);
  if (attempts.length === 0) return `${head}; no request was sent`;
  // The model each endpoint was sent, when they were not all sent the same.
  const renamed = new Set(attempts.map((a) => a.model)).size > 1;
  const list = attempts.map((a) =>
    `${a.endpoint}${renamed && a.model ? ` (${a.model})` : ""} → ${
      describeAttempt(a)
    } (${Math.round(a.durationMs)} ms)`
  );
  return `${head}: ${list.join("; ")}`;
}
