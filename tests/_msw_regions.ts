// MSW-mocked regions for the behavioural tests, on top of the public
// testing helpers (`ky-failover/testing`), so that those stay honest. Each
// region answers under https://<name>.example.ai/v1, can be switched between
// outage modes and records what it received (path, Authorization, body).
// Its normal answer echoes the request: `{ region, path, echo, … }`; a
// `stream: true` request gets the helpers' SSE chat completion instead.

import { setupServer } from "msw/node";
import type { Clock } from "ky-failover";
import {
  type MockRegion,
  mockRegions as createRegions,
  type ReceivedRequest,
  type RegionMode,
} from "ky-failover/testing";

/**
 * How a mocked region behaves: any mode of `ky-failover/testing`, and
 * `"error"`, this suite's older name for `"refused"` (a network error).
 */
export type Mode = RegionMode | "error";

/** What a region received. */
export type Received = ReceivedRequest;

export type { MockRegion };

/** A set of mocked regions, live until disposed. */
export interface Regions extends Disposable {
  get(name: string): MockRegion;
  set(name: string, mode: Mode): void;
  /** Resolves once `name` has received `count` requests in all. */
  received(name: string, count: number): Promise<void>;
  /** Requests received per region name. */
  counts(): Record<string, number>;
}

const server = setupServer();
// MSW 2 hands every mocked response's clone to its "response:mocked" event;
// under Node (undici) cancelling the body of a response whose clone was
// never read does not settle (mswjs/interceptors#712, #799), and the tests
// cancel bodies they do not read. Dropping the clone's body lets it settle.
server.events.on("response:mocked", ({ response }) => {
  response.body?.cancel().catch(() => {});
});

/**
 * Starts MSW with one region per name (URL `https://<name>.example.ai/v1`).
 * `testClock` drives `{ slow }` answers.
 */
export function mockRegions(names: string[], testClock?: Clock): Regions {
  const regions = createRegions(names, {
    clock: testClock,
    reply: (request, { region, received }) => {
      // Streamed requests get the helpers' own server-sent events.
      if (/"stream"\s*:\s*true/.test(received.body)) return undefined;
      const url = new URL(request.url);
      return Response.json({
        id: `chatcmpl-${region.received.length}`,
        object: url.pathname.endsWith("/models") ? "list" : "chat.completion",
        region: region.name,
        path: url.pathname,
        echo: received.body ? JSON.parse(received.body) : null,
      });
    },
  });
  server.resetHandlers(...regions.handlers);
  server.listen({ onUnhandledRequest: "error" });
  return {
    get: (name) => regions.region(name),
    set: (name, mode) => {
      regions.region(name).mode = mode === "error" ? "refused" : mode;
    },
    received: (name, count) => regions.region(name).waitForRequests(count),
    counts: () => regions.counts(),
    [Symbol.dispose]: () => {
      server.close();
      server.resetHandlers();
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
