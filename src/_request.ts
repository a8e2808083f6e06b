// Turns fetch arguments into a CallRequest that can be replayed on any
// endpoint: a path relative to the pool, caller headers without
// credentials, and a body that survives being sent more than once.

import type { CallRequest } from "./_call.ts";
import type { Endpoint } from "./_endpoint.ts";
import { OutsidePoolError } from "./errors.ts";
import { headerRecord } from "./_headers.ts";

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/**
 * The path under the longest endpoint base URL that `url` starts with, for
 * a URL already normalised by the URL parser (a `Request`'s): a string
 * match, no parsing. `undefined` when none matches or it has a fragment.
 */
function underBase(
  endpoints: readonly Endpoint[],
  url: string,
): string | undefined {
  let path: string | undefined;
  let longest = -1;
  for (const e of endpoints) {
    const base = e.config.base;
    if (base.length <= longest || !url.startsWith(base)) continue;
    const next = url[base.length];
    if (next !== undefined && next !== "/" && next !== "?") continue;
    path = url.slice(base.length);
    longest = base.length;
  }
  return path?.includes("#") ? undefined : path;
}

/**
 * A segment that starts with a dot (`.`, `%2e`), after a `/` or a `\`
 * (which the URL parser takes as `/` in http URLs): only such a path can
 * hold a dot segment, so only such a path is resolved to be checked.
 */
const MAY_CLIMB = /(?:^|[/\\])(?:\.|%2e)/i;
/** Tab and newlines, which the URL parser drops wherever they are. */
const URL_IGNORED = /[\t\n\r]/g;

/**
 * Throws an OutsidePoolError when relative `path` ("/…") resolves, for
 * some endpoint, to a URL outside that endpoint's base path: `"/../admin"`,
 * `"/%2e%2e/admin"`, `"/..\\admin"` climb out of `/v1` and would be sent
 * with the endpoint's key. Checked per endpoint with the URL parser fetch
 * itself uses, so every spelling it resolves is caught; a path that goes
 * up and comes back under every base (`"/models/../models"`) passes. The
 * error names the resolved origin and path, never a query.
 */
function checkStaysUnder(endpoints: readonly Endpoint[], path: string): void {
  for (const e of endpoints) {
    let resolved: URL;
    try {
      resolved = new URL(e.config.base + path);
    } catch {
      continue; // fetch rejects it the same way: nothing is sent
    }
    const { origin, path: basePath } = e.config;
    const inside = resolved.origin === origin &&
      (resolved.pathname === basePath ||
        resolved.pathname.startsWith(`${basePath}/`));
    if (!inside) {
      throw new OutsidePoolError(resolved.origin + resolved.pathname);
    }
  }
}

/**
 * Maps a URL to a path relative to the pool. Relative input (`"models"`,
 * `"/chat/completions"`) is taken as relative to every endpoint's base URL;
 * an absolute URL must lie under some endpoint's base URL. `normalized`
 * says the URL came from the URL parser already (a `Request`'s `url`).
 */
export function poolPath(
  endpoints: readonly Endpoint[],
  url: string,
  normalized = false,
): string {
  if (!ABSOLUTE.test(url)) {
    const path = url === "" || url.startsWith("/") || url.startsWith("?")
      ? url
      : `/${url}`;
    if (MAY_CLIMB.test(path.replace(URL_IGNORED, ""))) {
      checkStaysUnder(endpoints, path);
    }
    return path;
  }
  const under = normalized ? underBase(endpoints, url) : undefined;
  if (under !== undefined) return under;
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

/**
 * Normalises `fetch(input, init)` arguments for the engine. `sourceBody` is
 * the string a `Request` input was built from, when the caller knows it
 * (the ky adapter does): it is used instead of reading the body back.
 */
export async function callRequest(
  endpoints: readonly Endpoint[],
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  sourceBody?: string,
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
  const path = poolPath(endpoints, url, source !== undefined);
  if (source !== undefined && sourceBody !== undefined) {
    body = sourceBody;
  } else if (source !== undefined && source.body !== null) {
    body = await source.arrayBuffer();
  } else if (
    typeof ReadableStream !== "undefined" && body instanceof ReadableStream
  ) {
    body = await new Response(body).arrayBuffer();
  }
  const headers = headerRecord(headersInit);
  return { method: method.toUpperCase(), path, headers, body, extras, signal };
}
