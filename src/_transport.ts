// The innermost step of the chain: send the attempt to the picked endpoint.
// The endpoint's credentials are added here, after every middleware, so no
// middleware and no other endpoint ever sees them.

import type { Handler } from "./_compose.ts";
import type { Attempt } from "./_context.ts";
import type { Endpoint } from "./_endpoint.ts";
import type { Pool } from "./_pool.ts";

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
      ctx.response = await fetchImpl(targetUrl(endpoint, request.path), init);
    } catch (error) {
      ctx.error = ctx.signal.aborted ? ctx.signal.reason : error;
    }
    endpoint.inFlight -= 1;
    const finished = clock.now();
    ctx.finishedAt = finished;
    ctx.durationMs = finished - started;
    if (ctx.response !== undefined) endpoint.recordLatency(ctx.durationMs);
  };
}
