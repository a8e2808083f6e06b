// The state of one call and of one attempt inside it, as the middleware
// chain and the attempt loop share it. No ky types here.

import type { Deadline } from "./_deadlines.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { HeaderRecord } from "./_request.ts";
import type { Pool } from "./_pool.ts";
import type { AttemptContext, AttemptRecord, EndpointInfo } from "./types.ts";

/** Why the call-level signal was aborted. */
export type AbortKind = "caller" | "total" | "closed";

/** A normalised request, ready to be replayed on any endpoint. */
export interface CallRequest {
  method: string;
  /** Path and query relative to an endpoint's base URL. */
  path: string;
  /** Caller headers by lower-case name, without credentials. */
  headers: HeaderRecord;
  /** A body that can be sent again on every attempt. */
  body: BodyInit | null;
  /** Other fetch init fields to pass through (redirect, credentials …). */
  extras: RequestInit | undefined;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
}

/** One call: every attempt of it shares this. */
export interface Call {
  readonly request: CallRequest;
  /**
   * Why the call was aborted — by the caller's signal, the total timeout or
   * `close()` — once it was (see `abortCall`).
   */
  abortKind: AbortKind | undefined;
  abortReason: unknown;
  /**
   * Called once, with the reason, when the call is aborted: each running
   * attempt aborts its own signal. A plain set rather than an AbortSignal —
   * on some runtimes (Bun) an AbortController and a listener cost more than
   * the rest of a call's bookkeeping together.
   */
  readonly onAbort: Set<{ cancel(reason: unknown): void }>;
  readonly startedAt: number;
  /** Clock time by which the call must be done (Infinity without totalTimeout). */
  readonly deadline: number;
  readonly tried: Set<string>;
  readonly attempts: AttemptRecord[];
  /** Why no further attempt could be made, when that ended the call. */
  exhaustedReason: string | undefined;
}

/** How an attempt's result counts. */
export type Verdict =
  /** 2xx/3xx, or an answer that must not be failed over (other 4xx …). */
  | "success"
  | "final"
  /** Try another endpoint. */
  | "failover"
  /** The call was cancelled, timed out as a whole, or the pool closed. */
  | "aborted"
  /** The gate found nothing to try: no request was sent. */
  | "exhausted";

/** What an attempt means for the endpoint's health. */
export type Health = "success" | "failure" | "neutral";

/** Context of one attempt, passed through the middleware chain. */
export class Attempt implements AttemptContext {
  readonly call: Call;
  readonly attempt: number;
  #headers: Headers | undefined = undefined;
  endpoint: EndpointInfo | undefined = undefined;
  signal: AbortSignal;
  response: Response | undefined = undefined;
  error: unknown = undefined;

  /** Endpoints the picker may choose from (set by the health gate). */
  candidates: Endpoint[] = [];
  /** The picked endpoint (set by the picker). */
  target: Endpoint | undefined = undefined;
  /** The endpoint was tried although unavailable (panic mode). */
  panic = false;
  /** This attempt is the half-open probe of the target's breaker. */
  probe = false;
  verdict: Verdict = "exhausted";
  health: Health = "neutral";
  durationMs = 0;
  /** The endpoint's run of failures that this attempt's answer ended. */
  runBefore = 0;
  /** The endpoint rejected its own credentials (401 / 403). */
  unauthorized = false;
  /** The body was read whole inside the attempt (see the buffer step). */
  buffered = false;
  /** This attempt was started as a hedge, alongside a slower one. */
  hedge = false;
  /** Another attempt of the call won; this one was cancelled. */
  superseded = false;
  /** Aborts this attempt's signal (set by the timeout middleware). */
  controller: AbortController | undefined = undefined;
  /** This attempt's per-attempt timeout, while it runs. */
  deadline: Deadline | undefined = undefined;
  /** Clock time the transport got its answer or error. */
  finishedAt: number | undefined = undefined;

  constructor(call: Call, attempt: number) {
    this.call = call;
    this.attempt = attempt;
    this.signal = neverAborted();
  }

  /**
   * This attempt's own copy of the caller's headers, made on first use so
   * that a chain without middleware that reads them never builds one.
   */
  get headers(): Headers {
    return this.#headers ??= new Headers(this.call.request.headers);
  }

  set headers(headers: Headers) {
    this.#headers = headers;
  }

  /** The headers a middleware read or replaced, if any did. */
  get ownHeaders(): Headers | undefined {
    return this.#headers;
  }

  /** Aborts this attempt (a no-op before the timeout middleware ran). */
  cancel(reason: unknown): void {
    this.controller?.abort(reason);
  }

  get method(): string {
    return this.call.request.method;
  }

  get path(): string {
    return this.call.request.path;
  }
}

let never: AbortSignal | undefined;

/** A signal that never aborts: an attempt's until its timeout sets one. */
function neverAborted(): AbortSignal {
  return never ??= new AbortController().signal;
}

/** Aborts `call` (once): records why and tells its running attempts. */
export function abortCall(
  call: Call,
  kind: AbortKind,
  reason: unknown,
): void {
  if (call.abortKind !== undefined) return;
  call.abortKind = kind;
  call.abortReason = reason;
  for (const attempt of call.onAbort) attempt.cancel(reason);
}

/** Frees a response body nobody will read. */
export function cancelBody(response: Response): void {
  response.body?.cancel().catch(() => {});
}

/** What an attempt loop needs from the engine. */
export interface Loop {
  readonly pool: Pool;
  readonly chain: (ctx: Attempt) => Promise<void>;
  /** Ends the call with a successful (or final) attempt's response. */
  succeed(call: Call, ctx: Attempt): Response;
  /** Ends the call after its last attempt failed. */
  finish(call: Call, last: Attempt | undefined): Response;
}
