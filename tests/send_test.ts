// How one request follows redirects, with a fake fetch that answers each
// hop: every redirect's body is cancelled before the next step, 301/302
// turn only a POST into a GET, a Location with user info or without an
// origin is not followed, a browser's opaque redirect is a RedirectError
// with status 0, and a loop stops at exactly 6 requests. tests/redirect_test.ts
// covers the same rules against real loopback servers.

import { assert, test } from "./_harness.ts";
import { onePool, rejection } from "./_redact_shapes.ts";
import { ManualClock } from "./_manual_clock.ts";
import { createFailover, isFailoverError, isRedirectError } from "ky-failover";

/** One request as the fake fetch saw it. */
interface Hop {
  method: string;
  url: string;
  body: string;
  type: string | null;
}

/**
 * A body whose cancellation is recorded in `log` as `cancel <name>`; read,
 * it ends at once (a redirect the pool took for an answer does not hang).
 */
function body(log: string[], name: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull: (controller) => controller.close(),
    cancel: () => void log.push(`cancel ${name}`),
  }, { highWaterMark: 0 });
}

/**
 * A fetch that answers the n-th request with `answers[n](log)`, records
 * each request in `hops` (and `fetch <n>` in `log`), and rejects past the
 * last answer, so that a redirect that is never given up shows as such.
 */
function script(answers: ((log: string[]) => Response)[]) {
  const hops: Hop[] = [];
  const log: string[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    hops.push({
      method: request.method,
      url: request.url,
      body: await request.text(),
      type: request.headers.get("content-type"),
    });
    log.push(`fetch ${hops.length}`);
    const answer = answers[hops.length - 1];
    if (answer === undefined) throw new Error("runaway redirects");
    return answer(log);
  };
  return { fetch: fetch as typeof globalThis.fetch, hops, log };
}

/** A redirect with `status` to `location`, its body named `name`. */
function redirect(status: number, location: string, name = `${status}`) {
  return (log: string[]) =>
    new Response(body(log, name), { status, headers: { location } });
}

const ok = () => new Response(null, { status: 200 });

const POST = {
  method: "POST",
  body: '{"q":1}',
  headers: { "content-type": "application/json" },
};

test("301 and 302 turn an https POST into a bodiless GET; each body is cancelled first", async () => {
  for (const status of [301, 302]) {
    const { fetch, hops, log } = script([
      redirect(status, "/v1/next"),
      ok,
    ]);
    using api = onePool(fetch, "https://a.test/v1");
    const response = await api.fetch("chat", POST);
    assert.equal(response.status, 200);
    assert.deepEqual(hops, [
      {
        method: "POST",
        url: "https://a.test/v1/chat",
        body: '{"q":1}',
        type: "application/json",
      },
      { method: "GET", url: "https://a.test/v1/next", body: "", type: null },
    ], `${status}`);
    assert.deepEqual(log, ["fetch 1", `cancel ${status}`, "fetch 2"]);
  }
});

test("301 and 302 keep any other method and its body", async () => {
  for (const status of [301, 302]) {
    const { fetch, hops } = script([redirect(status, "/v1/next"), ok]);
    using api = onePool(fetch, "http://a.test/v1");
    const response = await api.fetch("chat", { ...POST, method: "PUT" });
    assert.equal(response.status, 200);
    assert.deepEqual(hops.map((h) => `${h.method} ${h.body} ${h.type}`), [
      'PUT {"q":1} application/json',
      'PUT {"q":1} application/json',
    ], `${status}`);
  }
});

test("a Location with user info, or on a scheme without an origin, is not followed", async () => {
  const cases: [string, string][] = [
    ["http://user@a.test/v1/next", "http://a.test"],
    ["http://:pass@a.test/v1/next", "http://a.test"],
    ["data:text/plain,moved", "data:"],
    ["blob:http://a.test/0b6c2d1e", "http://a.test"],
    ["https://a.test/v1/next", "https://a.test"],
  ];
  for (const [location, origin] of cases) {
    const { fetch, hops, log } = script([redirect(302, location, "moved")]);
    using api = onePool(fetch, "http://a.test/v1");
    const error = await rejection(api.fetch("chat", POST));
    assert.ok(isFailoverError(error));
    const cause = error.cause;
    assert.ok(isRedirectError(cause), location);
    assert.equal(cause.status, 302);
    assert.equal(cause.location, origin, location);
    assert.equal(hops.length, 1, "nothing followed");
    assert.deepEqual(log, ["fetch 1", "cancel moved"]);
  }
});

test("a browser's opaque redirect is a RedirectError with status 0, its body cancelled", async () => {
  const { fetch, log } = script([(log) => {
    const response = new Response(body(log, "opaque"), { status: 200 });
    Object.defineProperty(response, "type", { value: "opaqueredirect" });
    return response;
  }]);
  using api = onePool(fetch, "http://a.test/v1");
  const error = await rejection(api.fetch("chat", POST));
  assert.ok(isFailoverError(error));
  const cause = error.cause;
  assert.ok(isRedirectError(cause));
  assert.equal(cause.status, 0);
  assert.equal(cause.location, undefined);
  assert.equal(
    cause.message,
    "a redirected to a location it does not disclose or that is not a URL; " +
      "not followed: the endpoint's credentials and the request body stay with its own origin",
  );
  assert.deepEqual(log, ["fetch 1", "cancel opaque"]);
});

test("a same-origin loop stops at the 6th request", async () => {
  const { fetch, hops } = script(
    Array.from({ length: 20 }, () => redirect(307, "/v1/chat")),
  );
  using api = onePool(fetch, "http://a.test/v1");
  const error = await rejection(api.fetch("chat", POST));
  assert.ok(isFailoverError(error));
  assert.equal(hops.length, 6);
  assert.equal(
    (error.cause as Error).message,
    "ky-failover: a redirected more than 5 times",
  );
});

test("a middleware that calls next() twice: a TypeError naming it, sent once", async () => {
  const { fetch, hops } = script([ok, ok]);
  let inner = 0;
  using api = createFailover({
    endpoints: [{ name: "a", url: "http://a.test/v1" }],
    maxAttempts: 1,
    clock: new ManualClock(),
    fetch,
    middleware: [
      async (_ctx, next) => {
        await next();
        await next();
      },
      (_ctx, next) => {
        inner++;
        return next();
      },
    ],
  });
  const error = await rejection(api.fetch("models"));
  assert.ok(error instanceof TypeError);
  assert.equal(
    error.message,
    "ky-failover: next() called twice by middleware[0]",
  );
  assert.equal(inner, 1);
  assert.equal(hops.length, 1);
});
