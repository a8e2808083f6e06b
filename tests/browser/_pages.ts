// The page side of scripts/test_browser_pages.ts: one pool per page, over a
// `broadcastStore`, so that the pages (tabs) of one origin share what their
// pools learn. The driver opens several pages of this script and works each
// through `globalThis.__pages` (`page.evaluate`).
//
// The network is a fake `fetch` of this page that counts the requests each
// endpoint receives: r1 answers 503, r2 answers 200. Nothing leaves the page.

import { createPool, type FailoverEvent, type Pool } from "ky-failover/core";
import { sharedState } from "ky-failover/shared";
import { broadcastStore } from "ky-failover/broadcast";

/** r1 first (priority 1), r2 behind it. */
const ENDPOINTS = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];
/** Each endpoint's answer. */
const ANSWERS: Record<string, number> = { r1: 503, r2: 200 };
/**
 * Three failures open a breaker, which stays open for a minute: longer than
 * the whole run, so no cooldown nor fleet probe happens in it.
 */
const BREAKER = { failureThreshold: 3, cooldown: 60_000, maxCooldown: 300_000 };

/** An endpoint's state as the driver reads it. */
export interface EndpointState {
  name: string;
  state: string;
  availableAt: number | undefined;
}

/** What the driver can do with this page (`globalThis.__pages`). */
export interface PagesApi {
  /** Creates this page's pool over the channel `ky-failover:<channel>`. */
  open(channel: string): void;
  /** `n` calls, one after another; the status of each. */
  call(n: number): Promise<number[]>;
  /** The pool's `status()`: each endpoint's state and `availableAt`. */
  status(): EndpointState[];
  /** Requests each endpoint received from this page, by path. */
  counts(): Record<string, Record<string, number>>;
  /** The pool's events, by type (`store` events with `up`). */
  events(): string[];
  /** Closes the pool (and with it its store). */
  close(): void;
}

const counts: Record<string, Record<string, number>> = {};
const events: string[] = [];
let pool: Pool | undefined;

/** The fake network: counts, then answers by endpoint. */
const fakeFetch = (
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const endpoint = url.hostname.split(".")[0];
  const path = url.pathname.replace(/^\/v1/, "");
  const byPath = counts[endpoint] ??= {};
  byPath[path] = (byPath[path] ?? 0) + 1;
  const status = ANSWERS[endpoint] ?? 404;
  void init;
  return Promise.resolve(
    Response.json({ endpoint, ok: status < 400 }, { status }),
  );
};

function opened(): Pool {
  if (pool === undefined) throw new Error("no pool: call open() first");
  return pool;
}

const api: PagesApi = {
  open(channel) {
    if (pool !== undefined) throw new Error("this page's pool is open already");
    pool = createPool({
      endpoints: ENDPOINTS,
      breaker: BREAKER,
      fetch: fakeFetch as typeof fetch,
      onEvent: (e: FailoverEvent) =>
        void events.push(
          e.type === "store" ? `store ${e.up ? "up" : "down"}` : e.type,
        ),
      features: [sharedState({ store: broadcastStore({ name: channel }) })],
    });
  },
  async call(n) {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const response = await opened().fetch("chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: [] }),
      });
      await response.text();
      statuses.push(response.status);
    }
    return statuses;
  },
  status() {
    return opened().status().map((s) => ({
      name: s.name,
      state: s.state,
      availableAt: s.availableAt,
    }));
  },
  counts: () => structuredClone(counts),
  events: () => [...events],
  close() {
    opened().close();
  },
};

(globalThis as { __pages?: PagesApi }).__pages = api;
