// One call and each attempt inside it: the state the attempt loop and the
// attempt procedure share. No ky types here. What a user middleware may
// see of an attempt is `_user_middleware.ts`'s key-free view.

import type { Endpoint } from "./_endpoint.ts";
import type { HeaderRecord } from "./_headers.ts";
import type {
  AttemptRequest,
  AttemptTrace,
  CallEnd,
  FeatureCall,
  Ruling,
  SettledAttempt,
} from "./feature.ts";
import type { AttemptRecord, EndpointInfo, Health, Verdict } from "./types.ts";

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

/** Something running on behalf of a call that its abort must stop. */
export interface Cancellable {
  cancel(reason: unknown): void;
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
   * Told once, with the reason, when the call is aborted: each running
   * attempt aborts its own signal, a rate-limit wait ends. A plain set
   * rather than an AbortSignal: on some runtimes (Bun) an AbortController
   * and a listener cost more than the rest of a call's bookkeeping.
   */
  readonly onAbort: Set<Cancellable>;
  readonly startedAt: number;
  /** Clock time by which the call must be done (Infinity without totalTimeout). */
  readonly deadline: number;
  /** Names of the endpoints tried in this round of the call. */
  readonly tried: Set<string>;
  readonly attempts: AttemptRecord[];
  /** Why no further attempt could be made, when that ended the call. */
  exhaustedReason: string | undefined;
  /** Where features let the call go, when a feature routes it. */
  route: Route | undefined;
  /** The call as features see it, once one asked. */
  view: FeatureCall | undefined;
  /** The features that follow the call, when one traces it. */
  trace: Tracing | undefined;
  /** The attempt whose answer the call returns, once it is known. */
  answer: AttemptRecord | undefined;
}

/** A call's traces, combined (see `_trace.ts`). */
export interface Tracing {
  /** `ctx` is about to be sent: adds the traces' headers to it. */
  sent(ctx: Attempt): void;
  /** `ctx` settled (or was cancelled). */
  settled(ctx: Attempt, settled: SettledAttempt): void;
  /** The call ended. */
  end(ended: CallEnd): void;
}

/** A call's routes, combined (see `_route.ts`). */
export interface Route {
  /** Whether every route accepts `endpoint`. */
  accepts(endpoint: string): boolean;
  /**
   * Why none of `endpoints` may take the call: the refusal of the first
   * route that accepts none of those the routes before it left.
   */
  refusal(endpoints: readonly string[]): string;
  /** What an attempt to `endpoint` sends: the first route's that says. */
  attempt(endpoint: string): AttemptRequest | undefined;
}

let never: AbortSignal | undefined;

/** A signal that never aborts: an attempt's until its timeout arms one. */
function neverAborted(): AbortSignal {
  return never ??= new AbortController().signal;
}

/** One attempt of a call. */
export class Attempt implements Cancellable {
  readonly call: Call;
  /** 1-based number of the attempt inside the call. */
  readonly attempt: number;
  /** Started as a hedge, alongside a slower attempt. */
  readonly hedge: boolean;
  #headers: Headers | undefined = undefined;
  #controller: AbortController | undefined = undefined;

  /** The picked endpoint, once the picker ran. */
  target: Endpoint | undefined = undefined;
  /** Its key-free description, as middleware sees it. */
  endpoint: EndpointInfo | undefined = undefined;
  signal: AbortSignal = neverAborted();
  response: Response | undefined = undefined;
  error: unknown = undefined;
  /** How the result counts for the call (set when the attempt settles). */
  verdict: Verdict | "exhausted" = "exhausted";
  /** How the result counts for the endpoint's health. */
  health: Health = "neutral";
  /** The endpoint rejected its own credentials (401 / 403). */
  unauthorized = false;
  /** Another attempt of the call won; this one was cancelled. */
  superseded = false;
  /** Time from sending to the answer or error, in ms. */
  durationMs = 0;
  /** Clock time the transport got its answer or error. */
  finishedAt: number | undefined = undefined;
  /** The body sent to this attempt's endpoint, when a route rewrote it. */
  body: string | undefined = undefined;
  /** The model this attempt's endpoint was sent, when a route named it. */
  model: string | undefined = undefined;
  /** A feature's ruling that turned a final answer into a failover. */
  ruling: Ruling | undefined = undefined;
  /** The traces that follow this attempt (see `_trace.ts`). */
  followers: AttemptTrace[] | undefined = undefined;
  /** What the call records of this attempt, once it settled. */
  record: AttemptRecord | undefined = undefined;
  /** A body read whole (see `_buffer.ts`): its bytes, and the Response over them. */
  read: { response: Response; bytes: Uint8Array } | undefined = undefined;

  constructor(call: Call, attempt: number, hedge = false) {
    this.call = call;
    this.attempt = attempt;
    this.hedge = hedge;
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

  get method(): string {
    return this.call.request.method;
  }

  /** The bytes of `response` when the pool read it whole (a middleware may have replaced it since). */
  get bytes(): Uint8Array | undefined {
    const read = this.read;
    return read !== undefined && read.response === this.response
      ? read.bytes
      : undefined;
  }

  get path(): string {
    return this.call.request.path;
  }

  /** Gives the attempt its own signal, aborted through `cancel()`. */
  arm(controller: AbortController): void {
    this.#controller = controller;
    this.signal = controller.signal;
  }

  /** Aborts this attempt (a no-op before it was armed). */
  cancel(reason: unknown): void {
    this.#controller?.abort(reason);
  }
}

/** Aborts `call` (once): records why and tells what runs for it. */
export function abortCall(
  call: Call,
  kind: AbortKind,
  reason: unknown,
): void {
  if (call.abortKind !== undefined) return;
  call.abortKind = kind;
  call.abortReason = reason;
  for (const running of call.onAbort) running.cancel(reason);
}

/** Frees a response body nobody will read. */
export function cancelBody(response: Response): void {
  response.body?.cancel().catch(() => {});
}
