// The browser's stand-in for `msw/node`: `setupServer()` drives one MSW
// service worker, started once before any test runs. Mocked regions answer
// through it (their answers carry CORS headers, so the page can read
// `retry-after-ms` and friends); requests to the page's own origin and to
// 127.0.0.1 pass through to the network.
//
// Unlike msw/node, a request that reaches a handler through the service
// worker is a copy: the page aborting its fetch does not abort the copy's
// `signal`, so a `hang` or `slow` region would wait forever (and keep its
// timer on the test's manual clock). The page's fetch is therefore wrapped:
// each mocked request carries an id, and the handler gets the request again
// with the page's own signal.

import { getResponse, http, type RequestHandler } from "msw";
import { setupWorker } from "msw/browser";

const ABORT_ID = "x-msw-abort-id";
const DRAIN = "https://drain.msw.invalid/";
const signals = new Map<string, AbortSignal>();
let handlers: RequestHandler[] = [];

function passesThrough(url: string): boolean {
  const { hostname } = new URL(url);
  return hostname === "127.0.0.1" || hostname === location.hostname;
}

const pageFetch = globalThis.fetch.bind(globalThis);
let nextId = 0;
globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  const request = new Request(input, init);
  if (passesThrough(request.url) || request.url === DRAIN) {
    return pageFetch(request);
  }
  const id = String(++nextId);
  signals.set(id, request.signal);
  const headers = new Headers(request.headers);
  headers.set(ABORT_ID, id);
  const tagged = new Request(request, { headers });
  const forget = () => signals.delete(id);
  const sent = pageFetch(tagged);
  sent.then(forget, forget);
  return sent;
};

const worker = setupWorker(
  http.all(/.*/, async ({ request }) => {
    if (passesThrough(request.url)) return undefined;
    if (request.url === DRAIN) return new Response(null, { status: 204 });
    const id = request.headers.get(ABORT_ID);
    const headers = new Headers(request.headers);
    headers.delete(ABORT_ID);
    const signal = (id && signals.get(id)) || AbortSignal.abort();
    const body = request.method === "GET" || request.method === "HEAD"
      ? undefined
      : await request.arrayBuffer();
    const original = new Request(request.url, {
      method: request.method,
      headers,
      body,
      signal,
    });
    return await getResponse(handlers, original) ??
      Response.error();
  }),
);

/** Starts the worker; await it before the first test. */
export function startWorker(): Promise<unknown> {
  return worker.start({
    serviceWorker: { url: "/mockServiceWorker.js" },
    quiet: true,
    onUnhandledRequest: "bypass",
  });
}

/**
 * Resolves once every request the page sent before it has reached MSW.
 *
 * A request crosses to the service worker and back before a handler sees
 * it; one sent at the end of a test (a probe, a hedge) could arrive after
 * the next test installed its regions and be counted there. Tests end by
 * removing every handler, so a late request meets none and fails; this
 * barrier, sent after a test through the same worker, comes back after all
 * of them.
 */
export async function drainRequests(): Promise<void> {
  await pageFetch(DRAIN).then((r) => r.body?.cancel());
}

/** `setupServer` of msw/node, over the page's one worker. */
export function setupServer(...initial: RequestHandler[]) {
  handlers = initial;
  return {
    listen(_options?: unknown): void {},
    close(): void {
      handlers = [];
    },
    resetHandlers(...next: RequestHandler[]): void {
      handlers = next;
    },
    use(...next: RequestHandler[]): void {
      handlers = [...next, ...handlers];
    },
    events: worker.events,
  };
}
