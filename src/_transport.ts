// The one request path to an endpoint, for attempts and health probes
// alike. The endpoint's credentials are added here, after every
// middleware, so no middleware and no other endpoint ever sees them;
// redirects follow `_send.ts`'s rules; what comes back (the response, or
// the runtime's error) leaves here without the endpoint's query secrets.

import type { Handler } from "./_chain.ts";
import type { Attempt } from "./_call.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { HeaderRecord } from "./_headers.ts";
import { redactResponse, redactUrl, scrubError } from "./_redact.ts";
import { send } from "./_send.ts";
import type { PoolState } from "./_state.ts";

/** Joins an endpoint's base URL and a relative path (and both queries). */
export function targetUrl(endpoint: Endpoint, path: string): string {
  const { base, query } = endpoint.config;
  if (query === "") return base + path;
  const q = path.indexOf("?");
  if (q === -1) return `${base}${path}?${query}`;
  const params = new URLSearchParams(query);
  for (const [key, value] of new URLSearchParams(path.slice(q + 1))) {
    params.set(key, value);
  }
  return `${base}${path.slice(0, q)}?${params}`;
}

/** What one request to an endpoint got. */
export interface Exchange {
  response: Response | undefined;
  error: unknown;
  durationMs: number;
  /** Clock time the answer or error came. */
  finishedAt: number;
}

/**
 * Sends one request to `endpoint`: `path` under its URL, `init` with its
 * credentials and headers over the caller's (`headers`: the caller's,
 * already without credentials). An error while `init.signal` is aborted is
 * the signal's reason. `traffic`: a user attempt, counted in the
 * endpoint's requests, in-flight count and latency (a probe is not).
 */
export async function exchange(
  state: PoolState,
  endpoint: Endpoint,
  path: string,
  init: RequestInit & { headers: HeaderRecord | Headers; signal: AbortSignal },
  traffic: boolean,
): Promise<Exchange> {
  const { clock } = state.options;
  const own = endpoint.secretHeaders();
  let headers: HeadersInit;
  if (!(init.headers instanceof Headers)) {
    const record: HeaderRecord = { ...(init.headers as HeaderRecord), ...own };
    // Node's fetch reads a record of headers into a plain object, where a
    // header named `__proto__` would set its prototype and be lost: such a
    // record goes as [name, value] pairs.
    headers = Object.hasOwn(record, "__proto__")
      ? Object.entries(record)
      : record;
  } else {
    const copy = new Headers(init.headers);
    for (const [key, value] of Object.entries(own)) copy.set(key, value);
    headers = copy;
  }
  const signal = init.signal;
  const fetchImpl = state.options.fetch ?? globalThis.fetch;
  let response: Response | undefined;
  let error: unknown;
  if (traffic) endpoint.sent();
  const started = clock.now();
  try {
    response = await send(
      fetchImpl,
      endpoint.name,
      targetUrl(endpoint, path),
      { ...init, headers },
    );
    // A key in the endpoint's query must not be reachable from the
    // Response handed on: rebuilt, with its url less that query.
    const { query } = endpoint.config;
    if (query !== "") {
      response = redactResponse(response, redactUrl(response.url, query));
    }
  } catch (e) {
    // The runtime's error may quote the URL, query and all.
    error = signal.aborted
      ? signal.reason
      : scrubError(e, endpoint.querySecrets);
  }
  const finishedAt = clock.now();
  const durationMs = finishedAt - started;
  if (traffic) {
    endpoint.settled(response === undefined ? undefined : durationMs);
  }
  return { response, error, durationMs, finishedAt };
}

/**
 * `headers` without a `content-length`, which a body rewritten for the
 * endpoint (another model name) would contradict; fetch sets the right one.
 */
function withoutLength(
  headers: HeaderRecord | Headers,
): HeaderRecord | Headers {
  if (headers instanceof Headers) {
    if (!headers.has("content-length")) return headers;
    const copy = new Headers(headers);
    copy.delete("content-length");
    return copy;
  }
  if (!Object.hasOwn(headers, "content-length")) return headers;
  const { "content-length": _, ...rest } = headers;
  return rest;
}

/** The innermost step of an attempt: the request to its endpoint. */
export function transport(state: PoolState): Handler<Attempt> {
  return async (ctx) => {
    const request = ctx.call.request;
    const headers = ctx.ownHeaders ?? request.headers;
    const result = await exchange(state, ctx.target!, request.path, {
      ...request.extras,
      method: request.method,
      headers: ctx.body === undefined ? headers : withoutLength(headers),
      body: ctx.body ?? request.body,
      signal: ctx.signal,
    }, true);
    ctx.response = result.response;
    ctx.error = result.error;
    ctx.finishedAt = result.finishedAt;
    ctx.durationMs = result.durationMs;
  };
}
