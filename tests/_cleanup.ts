// A scripted fetch for tests that look at what the pool leaves behind: each
// request it sends stays pending until the test (or a `reply` function)
// answers it, rejects with its signal's reason when aborted (as fetch does),
// and every answer can carry a body that records whether it was cancelled.
// No sockets, no MSW: a call runs in a few microtask turns, so a test can
// assert that something has (or has not) settled right after `turns()`.

/** One request the pool sent through the scripted fetch. */
export interface Sent {
  /** The endpoint: the first label of the host (`primary.example.ai`). */
  endpoint: string;
  /** Path after `/v1`, e.g. `/models`. */
  path: string;
  method: string;
  signal: AbortSignal;
  /** Whether it was answered or failed (by the test or by its signal). */
  settled: boolean;
  /** Answers it (a no-op once settled). */
  respond(response: Response): void;
  /** Fails it (a no-op once settled). */
  fail(error: unknown): void;
  /** Keep it pending when its signal aborts, as a fetch that ignores it. */
  ignoreAbort: boolean;
}

/** A response whose body records whether it was cancelled. */
export interface Tracked {
  response: Response;
  cancelled: boolean;
}

/**
 * A response of `status` whose body sends one chunk and then stays open, so
 * that only a cancel ends it. `text/event-stream` unless `headers` say
 * otherwise: a stream is never read whole inside the attempt.
 */
export function tracked(
  status: number,
  headers: Record<string, string> = {},
): Tracked {
  const result = { cancelled: false } as Tracked;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("data: {}\n\n"));
    },
    cancel() {
      result.cancelled = true;
    },
  });
  result.response = new Response(body, {
    status,
    headers: { "content-type": "text/event-stream", ...headers },
  });
  return result;
}

/** A small JSON answer. */
export function json(status = 200, body: unknown = {}): Response {
  return Response.json(body, { status });
}

/** What {@linkcode scriptedFetch} returns. */
export interface Script {
  fetch: typeof fetch;
  /** Every request sent, in order. */
  sent: Sent[];
  /** The requests sent to `endpoint`. */
  to(endpoint: string): Sent[];
  /** Names of the endpoints requested, in order. */
  names(): string[];
}

/**
 * A fetch whose requests wait for the test. `reply`, called at once for
 * each request, may answer it (a Response), fail it (anything else) or
 * leave it pending (`undefined`).
 */
export function scriptedFetch(
  reply: (sent: Sent) => unknown = () => undefined,
): Script {
  const sent: Sent[] = [];
  const wrapped = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const signal = init?.signal ?? new AbortController().signal;
    return new Promise<Response>((resolve, reject) => {
      const request: Sent = {
        endpoint: url.hostname.split(".")[0],
        path: url.pathname.replace(/^\/v1/, ""),
        method: init?.method ?? "GET",
        signal,
        settled: false,
        ignoreAbort: false,
        respond(response) {
          if (request.settled) return;
          request.settled = true;
          resolve(response);
        },
        fail(error) {
          if (request.settled) return;
          request.settled = true;
          reject(error);
        },
      };
      sent.push(request);
      if (signal.aborted) return request.fail(signal.reason);
      signal.addEventListener("abort", () => {
        if (!request.ignoreAbort) request.fail(signal.reason);
      }, { once: true });
      const answer = reply(request);
      if (answer instanceof Response) request.respond(answer);
      else if (answer !== undefined) request.fail(answer);
    });
  };
  return {
    fetch: wrapped as typeof fetch,
    sent,
    to: (endpoint) => sent.filter((s) => s.endpoint === endpoint),
    names: () => sent.map((s) => s.endpoint),
  };
}

/** A promise's state, readable at once. */
export interface Watched<T> {
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
  readonly promise: Promise<T>;
}

/** Follows `promise` so a test can assert whether it has settled yet. */
export function watch<T>(promise: Promise<T>): Watched<T> {
  const state = {
    settled: false,
    value: undefined as T | undefined,
    error: undefined as unknown,
    promise,
  };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

/**
 * Live `abort` listeners on `signal`, counted as the DOM keeps them: added
 * by `addEventListener`, gone after `removeEventListener` or, for `once`
 * ones, after they ran.
 */
export function countListeners(signal: AbortSignal): { readonly live: number } {
  type Listener = (this: unknown, event: unknown) => void;
  type Add = (type: string, listener: Listener, options?: unknown) => void;
  const target = signal as unknown as {
    addEventListener: Add;
    removeEventListener: Add;
  };
  const live = new Map<Listener, Listener>();
  const add = target.addEventListener.bind(signal);
  const remove = target.removeEventListener.bind(signal);
  target.addEventListener = (type, listener, options) => {
    if (type !== "abort" || live.has(listener)) {
      return add(type, listener, options);
    }
    const once = typeof options === "object" && options !== null &&
      (options as { once?: boolean }).once === true;
    const wrapper: Listener = (event) => {
      if (once) live.delete(listener);
      listener.call(signal, event);
    };
    live.set(listener, wrapper);
    add(type, wrapper, options);
  };
  target.removeEventListener = (type, listener, options) => {
    const wrapper = type === "abort" ? live.get(listener) : undefined;
    if (wrapper === undefined) return remove(type, listener, options);
    live.delete(listener);
    remove(type, wrapper, options);
  };
  return {
    get live() {
      return live.size;
    },
  };
}
