// Turns fetch arguments into a CallRequest that can be replayed on any
// endpoint: a path relative to the pool, caller headers without
// credentials, and a body that survives being sent more than once.

import type { CallRequest } from "./_context.ts";
import type { Endpoint } from "./_endpoint.ts";
import { OutsidePoolError } from "./errors.ts";

/**
 * Credential headers a caller (or an SDK) may set. The pool owns
 * credentials, so these are dropped: a key given to an SDK never leaves for
 * another provider, and each endpoint gets only its own.
 */
const CREDENTIAL_HEADERS = [
  "authorization",
  "api-key",
  "x-api-key",
  "x-goog-api-key",
];

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Maps a URL to a path relative to the pool. Relative input (`"models"`,
 * `"/chat/completions"`) is taken as relative to every endpoint's base URL;
 * an absolute URL must lie under some endpoint's base URL.
 */
export function poolPath(endpoints: readonly Endpoint[], url: string): string {
  if (!ABSOLUTE.test(url)) {
    if (url === "" || url.startsWith("/") || url.startsWith("?")) return url;
    return `/${url}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`ky-failover: invalid URL ${JSON.stringify(url)}`);
  }
  let match: Endpoint | undefined;
  for (const e of endpoints) {
    const { origin, path } = e.config;
    if (parsed.origin !== origin) continue;
    if (parsed.pathname !== path && !parsed.pathname.startsWith(`${path}/`)) {
      continue;
    }
    if (match === undefined || path.length > match.config.path.length) {
      match = e;
    }
  }
  if (match === undefined) {
    throw new OutsidePoolError(parsed.origin + parsed.pathname);
  }
  return parsed.pathname.slice(match.config.path.length) + parsed.search;
}

function isRequest(value: unknown): value is Request {
  return typeof Request !== "undefined" && value instanceof Request;
}

/** Normalises `fetch(input, init)` arguments for the engine. */
export async function callRequest(
  endpoints: readonly Endpoint[],
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Promise<CallRequest> {
  let url: string;
  let method = "GET";
  let headersInit: HeadersInit | undefined;
  let body: BodyInit | null = null;
  let signal: AbortSignal | undefined;
  let extras: RequestInit | undefined;
  let source: Request | undefined;
  if (isRequest(input)) {
    source = input;
    url = input.url;
    method = input.method;
    headersInit = input.headers;
    signal = input.signal;
    if (input.redirect !== "follow") extras = { redirect: input.redirect };
  } else {
    url = typeof input === "string" ? input : String(input);
  }
  if (init !== undefined) {
    const {
      method: m,
      headers: h,
      body: b,
      signal: s,
      window: _window,
      ...rest
    } = init;
    if (m !== undefined) method = m;
    if (h !== undefined) headersInit = h;
    if (b !== undefined) {
      body = b;
      source = undefined;
    }
    if (s !== undefined) signal = s ?? undefined;
    if (Object.keys(rest).length > 0) extras = { ...extras, ...rest };
  }
  const path = poolPath(endpoints, url);
  if (source !== undefined && source.body !== null) {
    body = await source.arrayBuffer();
  } else if (
    typeof ReadableStream !== "undefined" && body instanceof ReadableStream
  ) {
    body = await new Response(body).arrayBuffer();
  }
  const headers = new Headers(headersInit);
  for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  return { method: method.toUpperCase(), path, headers, body, extras, signal };
}
