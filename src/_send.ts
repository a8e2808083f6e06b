// Sends one request to an endpoint — an attempt or a health probe — and
// follows redirects itself, so credentials and bodies stay with the
// endpoint's origin.
//
// Why not let fetch follow: a runtime's fetch follows a redirect to any
// origin and, outside browsers, sends the request's headers along —
// the endpoint's `Authorization`, `x-api-key`, `api-key` — and for 307/308
// the body too. So every request goes out with `redirect: "manual"`:
//
// - A 3xx whose Location is on the same origin as the request is followed
//   here, with the same headers, as the fetch standard follows it: 303
//   becomes a GET without a body (HEAD stays HEAD), 301/302 turn a POST into
//   a GET without a body, 307/308 keep method and body (bodies here are
//   always replayable: strings, buffers, blobs, form data — never streams).
//   At most MAX_REDIRECTS are followed; one more is a TypeError, as fetch's
//   own redirect limit is.
// - A Location on another origin, a non-http(s) one, one with user info or
//   one that does not parse is not followed: its body is cancelled and a
//   `RedirectError` naming the endpoint and the target's origin (never path
//   or query) is thrown — a failed attempt that fails over.
// - Browsers answer `redirect: "manual"` with an opaque redirect (`type`
//   "opaqueredirect", status 0, no headers): the target is hidden, so it
//   cannot be told same-origin from cross-origin, and every redirect is a
//   `RedirectError` with status 0 and no location there. Letting a browser
//   follow is no safer: a cross-origin redirect keeps the request's custom
//   headers (`x-api-key`, `api-key`) and 307/308 keep the body.
// - A caller that asked for `redirect: "error"` or `"manual"` gets exactly
//   that: "error" is passed to fetch, "manual" returns the 3xx untouched.
//
// The final response is fetch's own, so its `url` is where it ended;
// `redirected` is false, since fetch itself followed nothing.

import { RedirectError } from "./errors.ts";

/** Redirects followed within an origin before the request fails. */
export const MAX_REDIRECTS = 5;

/** The statuses fetch treats as redirects. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Headers dropped when a redirect turns the request into a bodiless GET. */
const BODY_HEADERS = [
  "content-encoding",
  "content-language",
  "content-location",
  "content-type",
  "content-length",
];

/**
 * Fetches `url` with `init` for the endpoint named `endpointName`,
 * following only redirects within the request's own origin (see above).
 * Throws a `RedirectError` for a redirect anywhere else.
 */
export async function send(
  fetchImpl: typeof fetch,
  endpointName: string,
  url: string,
  init: RequestInit,
): Promise<Response> {
  if (init.redirect === "error" || init.redirect === "manual") {
    return await fetchImpl(url, init);
  }
  let current = url;
  let request: RequestInit = { ...init, redirect: "manual" };
  for (let followed = 0;; followed++) {
    const response = await fetchImpl(current, request);
    if (response.type === "opaqueredirect") {
      await discard(response);
      throw new RedirectError(endpointName, 0, undefined);
    }
    const location = REDIRECT_STATUSES.has(response.status)
      ? response.headers.get("location")
      : null;
    // A 3xx without a Location is an answer, as fetch returns it.
    if (location === null) return response;
    await discard(response);
    const next = sameOriginTarget(location, current);
    if (typeof next !== "string") {
      throw new RedirectError(endpointName, response.status, next.origin);
    }
    if (followed === MAX_REDIRECTS) {
      throw new TypeError(
        `ky-failover: ${endpointName} redirected more than ${MAX_REDIRECTS} times`,
      );
    }
    request = redirected(request, response.status);
    current = next;
  }
}

/** Cancels a body nobody will read, so its connection is freed. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

/**
 * The absolute URL `location` points to when it may be followed from
 * `current` (same origin, http or https, no user info); otherwise what the
 * error may name: the target's origin, its scheme when it has no origin,
 * `undefined` when it does not parse.
 */
function sameOriginTarget(
  location: string,
  current: string,
): string | { origin: string | undefined } {
  let target: URL;
  try {
    target = new URL(location, current);
  } catch {
    return { origin: undefined };
  }
  const origin = target.origin === "null" ? target.protocol : target.origin;
  const web = target.protocol === "http:" || target.protocol === "https:";
  if (
    !web || origin !== new URL(current).origin ||
    target.username !== "" || target.password !== ""
  ) {
    return { origin };
  }
  return target.href;
}

/** The request to send after a redirect with `status`, per the fetch standard. */
function redirected(request: RequestInit, status: number): RequestInit {
  const method = (request.method ?? "GET").toUpperCase();
  const toGet = (status === 303 && method !== "GET" && method !== "HEAD") ||
    ((status === 301 || status === 302) && method === "POST");
  if (!toGet) {
    if (
      typeof ReadableStream !== "undefined" &&
      request.body instanceof ReadableStream
    ) {
      throw new TypeError(
        "ky-failover: cannot resend a streamed body after a redirect",
      );
    }
    return request;
  }
  const headers = new Headers(request.headers);
  for (const name of BODY_HEADERS) headers.delete(name);
  return { ...request, method: "GET", body: null, headers };
}
