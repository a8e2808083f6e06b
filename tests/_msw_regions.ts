// MSW-mocked regions for the behavioural tests. Each region answers under
// https://<name>.example.ai/v1 and can be switched between outage modes;
// it records what it received (path, Authorization, body).

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import type { Clock } from "ky-failover";

/** How a mocked region behaves. */
export type Mode =
  | "up"
  /** Network error (connection refused / reset). */
  | "error"
  /** Never answers until the request is aborted. */
  | "hang"
  /** Answers after `ms` on the test clock. */
  | { slow: number }
  /** Answers with this status (OpenAI-style error body) and headers. */
  | { status: number; headers?: Record<string, string> };

/** What a region received. */
export interface Received {
  method: string;
  path: string;
  authorization: string | null;
  headers: Headers;
  body: string;
}

/** A mocked region. */
export interface MockRegion {
  name: string;
  url: string;
  mode: Mode;
  received: Received[];
}

const regions = new Map<string, MockRegion>();
const waiters: { name: string; count: number; resolve: () => void }[] = [];
let clock: Clock | undefined;

function notify(): void {
  for (const w of [...waiters]) {
    const region = regions.get(w.name);
    if (region && region.received.length >= w.count) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

const server = setupServer(
  http.all(/^https:\/\/([a-z0-9-]+)\.example\.ai\/.*/, async ({ request }) => {
    const url = new URL(request.url);
    const name = url.hostname.split(".")[0];
    const region = regions.get(name);
    if (region === undefined) return HttpResponse.error();
    const body = request.method === "GET" || request.method === "HEAD"
      ? ""
      : await request.text();
    region.received.push({
      method: request.method,
      path: url.pathname + url.search,
      authorization: request.headers.get("authorization"),
      headers: request.headers,
      body,
    });
    notify();
    const mode = region.mode;
    if (mode === "error") return HttpResponse.error();
    if (mode === "hang") {
      await untilAborted(request.signal);
      return HttpResponse.error();
    }
    if (typeof mode === "object" && "slow" in mode) {
      await new Promise<void>((resolve) => {
        const handle = clock!.setTimeout(resolve, mode.slow);
        request.signal.addEventListener("abort", () => {
          clock!.clearTimeout(handle);
          resolve();
        }, { once: true });
      });
    }
    if (typeof mode === "object" && "status" in mode) {
      return HttpResponse.json(
        { error: { message: `${name} says ${mode.status}`, type: "test" } },
        { status: mode.status, headers: mode.headers },
      );
    }
    return HttpResponse.json({
      id: `chatcmpl-${region.received.length}`,
      object: url.pathname.endsWith("/models") ? "list" : "chat.completion",
      region: name,
      path: url.pathname,
      echo: body ? JSON.parse(body) : null,
    });
  }),
);

/** A set of mocked regions, live until disposed. */
export interface Regions extends Disposable {
  get(name: string): MockRegion;
  set(name: string, mode: Mode): void;
  /** Resolves once `name` has received `count` requests in all. */
  received(name: string, count: number): Promise<void>;
  /** Requests received per region name. */
  counts(): Record<string, number>;
}

/**
 * Starts MSW with one region per name (URL `https://<name>.example.ai/v1`).
 * `testClock` drives `{ slow }` answers.
 */
export function mockRegions(names: string[], testClock?: Clock): Regions {
  regions.clear();
  waiters.length = 0;
  clock = testClock;
  for (const name of names) {
    regions.set(name, {
      name,
      url: `https://${name}.example.ai/v1`,
      mode: "up",
      received: [],
    });
  }
  server.listen({ onUnhandledRequest: "error" });
  return {
    get: (name) => regions.get(name)!,
    set: (name, mode) => {
      regions.get(name)!.mode = mode;
    },
    received: (name, count) =>
      new Promise((resolve) => {
        waiters.push({ name, count, resolve });
        notify();
      }),
    counts: () =>
      Object.fromEntries(
        [...regions.values()].map((r) => [r.name, r.received.length]),
      ),
    [Symbol.dispose]: () => {
      server.close();
      regions.clear();
    },
  };
}

/** Endpoint options for `names`, each with its own key `sk-<name>`. */
export function endpointsFor(
  names: string[],
  extra: (name: string, i: number) => Record<string, unknown> = () => ({}),
) {
  return names.map((name, i) => ({
    name,
    url: `https://${name}.example.ai/v1`,
    apiKey: `sk-${name}`,
    ...extra(name, i),
  }));
}
