// No credential and no query-string key is reachable from anything the
// library hands out: errors (message, stack, cause, attempts, JSON), events,
// status(), health-check results, the Response the caller gets, ky's
// HTTPError, and the context a user middleware receives. Each is walked
// with tests/_walk.ts, which reads every property, getter and entry a
// caller could reach. And a relative path cannot climb out of an
// endpoint's base path to send the key elsewhere on its host.

import { createServer } from "node:net";
import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { serveRegions } from "./_loopback_regions.ts";
import { isPlatform, walk, type WalkOptions } from "./_walk.ts";
import {
  createFailover,
  type FailoverEvent,
  type FailoverOptions,
  isFailoverError,
  isOutsidePoolError,
} from "ky-failover";
import { mockRegions, type RegionMode } from "ky-failover/testing";
import { isHTTPError } from "ky";

/** A random core that survives every URL encoding unchanged. */
const core = () => crypto.randomUUID().replaceAll("-", "");

const API_CORE = core();
const HEADER_CORE = core();
const QUERY_CORE = core();
const API_KEY = `sk-SECRET-${API_CORE}`;
const HEADER_KEY = `hk-SECRET-${HEADER_CORE}`;
/** Has `/` and `+`, so its configured, re-encoded and decoded forms differ. */
const QUERY_KEY = `qk/SECRET+${QUERY_CORE}`;
/** What must never be found: each key's core, in any encoding around it. */
const CORES = [API_CORE, HEADER_CORE, QUERY_CORE];

const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };

/** An endpoint URL with an Azure-style key in its query. */
function withQueryKey(url: string): string {
  return `${url}?api-version=1&api-key=${encodeURIComponent(QUERY_KEY)}`;
}

function endpoints(urls: readonly string[]) {
  return urls.map((url, i) => ({
    name: `r${i}`,
    url: withQueryKey(url),
    apiKey: API_KEY,
    headers: { "x-api-key": HEADER_KEY },
    priority: i + 1,
  }));
}

function pool(
  urls: readonly string[],
  events: FailoverEvent[],
  extra: Partial<FailoverOptions> = {},
) {
  return createFailover({
    endpoints: endpoints(urls),
    clock: new ManualClock(),
    onEvent: (event) => void events.push(event),
    ...extra,
  });
}

/**
 * Fails naming every path at which a key is reachable from `root` (the
 * paths only: a failure message never echoes a key).
 */
function assertNoSecret(
  label: string,
  root: unknown,
  options?: WalkOptions,
): void {
  const { texts, truncated, objects } = walk(root, options);
  assert.ok(!truncated, `${label}: the walk stopped after ${objects} objects`);
  const leaks = new Set<string>();
  for (const { path, text } of texts) {
    if (CORES.some((c) => text.includes(c))) leaks.add(path);
  }
  assert.deepEqual(
    [...leaks].slice(0, 25),
    [],
    `${label}: a key is reachable at these paths`,
  );
}

/** A 127.0.0.1 port nothing listens on (a connection is refused). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The rejection of `promise` (fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    (value) => assert.fail(`expected a rejection, got ${typeof value}`),
    (error) => error,
  );
}

/** Both ways in, one call each, every result and error walked. */
async function walkBothWaysIn(
  label: string,
  api: ReturnType<typeof createFailover>,
  expect: "throws" | number,
): Promise<void> {
  const request = { method: "POST", body: JSON.stringify(chat) };
  if (expect === "throws") {
    const error = await rejection(api.fetch("chat/completions", request));
    assert.ok(isFailoverError(error), `${label}: fetch throws FailoverError`);
    assertNoSecret(`${label}: fetch's FailoverError`, error);
    assertNoSecret(`${label}: its attempts`, error.attempts);
    const viaKy = await rejection(
      api.ky.post("chat/completions", { json: chat }),
    );
    assert.ok(isFailoverError(viaKy), `${label}: ky throws FailoverError`);
    assertNoSecret(`${label}: ky's FailoverError`, viaKy);
    return;
  }
  const response = await api.fetch("chat/completions", request);
  assert.equal(response.status, expect);
  assert.ok(response.url.startsWith("http://127.0.0.1:"), "url names the host");
  assertNoSecret(`${label}: the Response fetch returns`, response);
  const clone = response.clone();
  assertNoSecret(`${label}: its clone`, clone);
  // A tee's branch finishes cancelling once both branches are cancelled.
  await Promise.all([clone.body?.cancel(), response.body?.cancel()]);
  if (expect < 400) {
    const reply = await api.ky.post("chat/completions", { json: chat });
    assertNoSecret(`${label}: the Response ky returns`, reply);
    await reply.body?.cancel();
    return;
  }
  const error = await rejection(
    api.ky.post("chat/completions", { json: chat }),
  );
  if (expect >= 500) {
    assert.ok(isFailoverError(error), `${label}: ky throws FailoverError`);
    assert.ok(isHTTPError(error.cause), "caused by ky's HTTPError");
    assert.doesNotMatch(error.cause.message, /\?/, "message names no query");
  } else {
    assert.ok(isHTTPError(error), `${label}: ky throws its HTTPError`);
    assert.match(error.message, /127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    assert.doesNotMatch(error.message, /\?/, "message names no query");
  }
  assertNoSecret(`${label}: ky's error`, error);
}

/** Probes every endpoint, then walks status() and the health-check events. */
async function walkHealth(
  label: string,
  api: ReturnType<typeof createFailover>,
  events: FailoverEvent[],
): Promise<void> {
  const result = await api.checkHealth();
  assertNoSecret(`${label}: checkHealth()`, result);
  assert.ok(events.some((e) => e.type === "health-check"), "probes reported");
  assertNoSecret(`${label}: status()`, api.status());
  for (const event of events) {
    assertNoSecret(`${label}: ${event.type} event`, event);
  }
}

test("the walker reaches what a caller could (and the keys, when handed out)", () => {
  const hidden = Symbol("hidden");
  class Holder {
    #key = API_KEY;
    get key(): string {
      return this.#key;
    }
    secret(): string {
      return HEADER_KEY;
    }
  }
  const cases: [string, unknown, WalkOptions?][] = [
    ["a getter on the prototype", new Holder()],
    [
      "a non-enumerable symbol property",
      Object.defineProperty({}, hidden, { value: API_KEY }),
    ],
    ["a Map value", new Map([["k", { deep: [QUERY_KEY] }]])],
    ["a Set item", new Set([API_KEY])],
    ["a Headers entry", new Headers({ "x-api-key": HEADER_KEY })],
    ["an error's cause", new Error("x", { cause: new Error(API_KEY) })],
    ["an AggregateError's errors", new AggregateError([new Error(API_KEY)])],
    [
      "an enumerable property in JSON",
      Object.assign(new Error("x"), { path: QUERY_KEY }),
    ],
    ["an allowed zero-argument method", { h: new Holder() }, {
      call: (_, key) => key === "secret",
    }],
    [
      "a request URL",
      new Request(`http://h/?k=${encodeURIComponent(QUERY_KEY)}`),
    ],
  ];
  for (const [label, root, options] of cases) {
    assert.throws(
      () => assertNoSecret(label, root, options),
      /a key is reachable/,
      `the walker finds ${label}`,
    );
  }
  let called = false;
  assertNoSecret("methods not allowed", {
    m: () => {
      called = true;
      return API_KEY;
    },
  });
  assert.equal(called, false, "functions are not called unless allowed");
  const cycle: Record<string, unknown> = { name: "x" };
  cycle.self = cycle;
  assertNoSecret("a cycle", cycle);
});

test("a refused port: errors, events, status and health checks hold no key", async () => {
  const events: FailoverEvent[] = [];
  const ports = [await refusedPort(), await refusedPort()];
  using api = pool(ports.map((p) => `http://127.0.0.1:${p}/v1`), events);
  await walkBothWaysIn("refused", api, "throws");
  assert.ok(
    api.status().every((s) => s.lastError !== undefined),
    "the runtime's error was recorded",
  );
  await walkHealth("refused", api, events);
});

for (
  const [label, mode, expect] of [
    ["a reset connection", "refused", "throws"],
    ["a 503 from every endpoint", { status: 503 }, 503],
    ["a 400", { status: 400 }, 400],
    ["a 200", "up", 200],
  ] as [string, RegionMode, "throws" | number][]
) {
  test(`${label}: errors, events, responses and status hold no key`, async () => {
    await using regions = await serveRegions(["a", "b"]);
    for (const region of regions.regions) region.mode = mode;
    const events: FailoverEvent[] = [];
    using api = pool(regions.regions.map((r) => r.url), events);
    await walkBothWaysIn(label, api, expect);
    const seen = regions.regions.flatMap((r) => r.received);
    assert.ok(seen.length > 0, "requests reached the servers");
    assert.ok(
      seen.every((r) => r.url.includes("api-key=")),
      "the query key is sent",
    );
    await walkHealth(label, api, events);
  });
}

test("a user middleware's context holds no key", async () => {
  // Fails until the middleware gets a key-free view of the attempt: the
  // attempt object itself reaches the endpoint's secretHeaders().
  await using regions = await serveRegions(["a", "b"]);
  regions.region("a").mode = { status: 503 };
  const walks: [string, unknown, WalkOptions][] = [];
  // Call every zero-argument method the library defines on what the
  // context reaches — not the platform's, nor anything under a symbol key
  // (a runtime's internals): those read bodies, start I/O or break state.
  const libraryMethods: WalkOptions = {
    call: (_, key, fn, path) =>
      typeof key === "string" && !path.includes("[Symbol(") && !isPlatform(fn),
  };
  using api = pool(regions.regions.map((r) => r.url), [], {
    middleware: [async (ctx, next) => {
      walks.push(["before next()", ctx, libraryMethods]);
      walks.push(["ctx.endpoint", ctx.endpoint, libraryMethods]);
      await next();
      assertNoSecret("ctx after next()", ctx, libraryMethods);
      assertNoSecret("ctx.endpoint after next()", ctx.endpoint, libraryMethods);
    }],
  });
  let failure: unknown;
  try {
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body: JSON.stringify(chat),
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } catch (error) {
    failure = error;
  }
  // An assertion inside the middleware fails the attempt: make it the
  // test's failure, not a failover.
  const inner = (failure as { cause?: unknown } | undefined)?.cause ?? failure;
  if (inner !== undefined) throw inner;
  assert.equal(walks.length, 4, "the middleware ran for both attempts");
  for (const [label, root, options] of walks) {
    assertNoSecret(label, root, options);
  }
});

/** Errors shaped as each runtime's fetch makes them, naming the URL. */
const RUNTIME_ERRORS: [string, (url: string) => unknown][] = [
  [
    "Deno's (URL in the cause's message and stack)",
    (url) =>
      new TypeError("fetch failed", {
        cause: new Error(
          `error sending request for url (${url}): client error (Connect)`,
        ),
      }),
  ],
  [
    "Bun's (URL in an enumerable path)",
    (url) =>
      Object.assign(new TypeError("ECONNREFUSED: Unable to connect."), {
        code: "ECONNREFUSED",
        path: url,
      }),
  ],
  ["a frozen one", (url) => Object.freeze(new TypeError(`failed: ${url}`))],
  [
    "a read-only property",
    (url) =>
      Object.defineProperty(new TypeError("failed"), "url", {
        value: url,
        enumerable: true,
      }),
  ],
  [
    "a DOMException",
    (url) => new DOMException(`failed: ${url}`, "NetworkError"),
  ],
  [
    "an AggregateError",
    (url) =>
      new AggregateError([new Error(`v4 ${url}`), new Error(`v6 ${url}`)], "x"),
  ],
  ["a thrown string", (url) => `failed: ${url}`],
  ["the URL re-encoded", (url) => {
    const parsed = new URL(url);
    parsed.search = String(new URLSearchParams(parsed.search));
    return new TypeError(`failed: ${parsed.href}`);
  }],
];

for (const [label, make] of RUNTIME_ERRORS) {
  test(`a fetch error shaped as ${label} is handed out without the key`, async () => {
    const events: FailoverEvent[] = [];
    const sent: string[] = [];
    const fetch = (input: RequestInfo | URL) => {
      const url = String(input instanceof Request ? input.url : input);
      sent.push(url);
      return Promise.reject(make(url));
    };
    using api = pool(["http://a.test/v1", "http://b.test/v1"], events, {
      fetch: fetch as typeof globalThis.fetch,
    });
    await walkBothWaysIn(label, api, "throws");
    assert.ok(sent.length > 0 && sent.every((u) => u.includes(QUERY_CORE)));
    await walkHealth(label, api, events);
  });
}

test("a relative path cannot climb out of the endpoint's base path", async () => {
  const regions = mockRegions(["primary", "hk"]);
  const sent: string[] = [];
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    sent.push(String(input instanceof Request ? input.url : input));
    return regions.fetch(input, init);
  };
  using api = createFailover({
    endpoints: endpoints(regions.regions.map((r) => r.url)),
    clock: new ManualClock(),
    fetch: fetch as typeof globalThis.fetch,
  });
  const escapes = [
    "../../../admin/keys",
    "/../admin/keys",
    "models/../../admin/keys",
    "%2e%2e/admin/keys",
    "%2E%2E/%2e%2E/admin/keys",
    ".%2e/admin/keys",
    "..\\admin\\keys",
    "models\\..\\..\\admin",
    ".\t./admin/keys",
    "../v10/models",
    "../admin/keys?x=1",
  ];
  for (const path of escapes) {
    for (
      const [way, call] of [
        ["fetch", () => api.fetch(path)],
        ["ky", () => api.ky.get(path)],
      ] as const
    ) {
      const error = await rejection(call());
      assert.ok(
        isOutsidePoolError(error),
        `${way}(${JSON.stringify(path)}) is rejected as outside the pool`,
      );
      assert.doesNotMatch(error.message, /\?/, "the message names no query");
      assertNoSecret(`${way}(${JSON.stringify(path)})`, error);
    }
  }
  const absolute = [
    "https://primary.example.ai/v1/../admin/keys",
    "https://primary.example.ai/v1/%2e%2e/admin/keys",
    "https://primary.example.ai/v1/..\\admin",
  ];
  for (const url of absolute) {
    for (const input of [url, new URL(url), new Request(url)]) {
      const error = await rejection(api.fetch(input));
      assert.ok(isOutsidePoolError(error), `${url} is outside the pool`);
    }
    assert.ok(isOutsidePoolError(await rejection(api.ky.get(url))));
  }
  assert.deepEqual(sent, [], "nothing was sent");
  // Dots that stay under the base path are fine.
  for (
    const path of [
      "models/../models",
      "./models",
      "models/gpt-4.1/../../models",
    ]
  ) {
    const response = await api.fetch(path);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
  assert.ok(
    sent.every((url) => new URL(url).pathname === "/v1/models"),
    "each went to the endpoint's /v1/models",
  );
});
