// The innermost step of the chain: send the attempt to the picked endpoint.
// The endpoint's credentials are added here, after every middleware, so no
// middleware and no other endpoint ever sees them; what comes back (the
// response, or the runtime's error) leaves here without the endpoint's
// query secrets.

import type { Handler } from "./_compose.ts";
import type { Attempt } from "./_context.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { Pool } from "./_pool.ts";
import { redactResponse, redactUrl, scrubError } from "./_redact.ts";
import { send } from "./_send.ts";

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

/** The transport: one fetch to the picked endpoint. */
export function transport(pool: Pool): Handler<Attempt> {
  const { clock } = pool.options;
  return async (ctx) => {
    const endpoint = ctx.target!;
    const request = ctx.call.request;
    const own = ctx.ownHeaders;
    let headers: HeadersInit;
    if (own === undefined) {
      headers = endpoint.withCredentials(request.headers);
    } else {
      const copy = new Headers(own);
      for (const [key, value] of Object.entries(endpoint.secretHeaders())) {
        copy.set(key, value);
      }
      headers = copy;
    }
    const init: RequestInit = {
      ...request.extras,
      method: request.method,
      headers,
      body: request.body,
      signal: ctx.signal,
    };
    const fetchImpl = pool.options.fetch ?? globalThis.fetch;
    endpoint.requests += 1;
    endpoint.inFlight += 1;
    const started = clock.now();
    try {
      const response = await send(
        fetchImpl,
        endpoint.name,
        targetUrl(endpoint, request.path),
        init,
      );
      // A key in the endpoint's query must not be reachable from the
      // Response handed on: rebuilt, with its url less that query.
      const { query } = endpoint.config;
      ctx.response = query === ""
        ? response
        : redactResponse(response, redactUrl(response.url, query));
    } catch (error) {
      // The runtime's error may quote the URL, query and all.
      ctx.error = ctx.signal.aborted
        ? ctx.signal.reason
        : scrubError(error, endpoint.querySecrets);
    }
    endpoint.inFlight -= 1;
    const finished = clock.now();
    ctx.finishedAt = finished;
    ctx.durationMs = finished - started;
    if (ctx.response !== undefined) endpoint.recordLatency(ctx.durationMs);
  };
}
