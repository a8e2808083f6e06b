// Redirects never carry an endpoint's key or the caller's body to another
// origin: a cross-origin 3xx is a failed attempt (RedirectError) that fails
// over, a same-origin one is followed with key and body, health probes obey
// the same rule, a caller's `redirect: "manual"` is respected and a loop
// stops. Real loopback servers: A (the endpoint), B (another port, so
// another origin, counting everything it receives) and C (a healthy
// backup). node:http only, so the file runs under Deno, Node and Bun.

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { assert, test } from "./_harness.ts";
import { listen, readBody } from "./_listen.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type Failover,
  type FailoverEvent,
  isFailoverError,
  isRedirectError,
  type RedirectError,
} from "ky-failover";

/** What a server saw of one request. */
interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

/** A loopback server that records every request it receives. */
interface Server {
  origin: string;
  seen: Seen[];
  handle: Handler;
  close(): Promise<void>;
}

const KEY = "sk-primary-secret";
const X_API_KEY = "xk-primary-secret";
const API_KEY = "ak-primary-secret";
const BODY = JSON.stringify({
  model: "m",
  messages: [{ role: "user", content: "secret prompt" }],
});

/** Answers 200 with `{ region }` as JSON. */
function answer(region: string): Handler {
  return (_, res) =>
    void res.writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ region }));
}

/** Starts a server on 127.0.0.1, port 0, answering with `handle`. */
async function startServer(handle: Handler): Promise<Server> {
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const seen: Seen = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: body.toString("utf8"),
      };
      self.seen.push(seen);
      self.handle(seen, res);
    }, () => res.destroy());
  });
  const listening = await listen(server);
  const self: Server = {
    origin: listening.origin,
    seen: [],
    handle,
    close: listening.close,
  };
  return self;
}

/** Redirects every request with `status` to `location`. */
function redirectTo(status: number, location: () => string): Handler {
  return (_, res) =>
    void res.writeHead(status, {
      location: location(),
      "content-type": "text/plain",
    }).end("moved");
}

/** Servers A, B, C and a pool of A (priority 1, with key and headers) and C. */
interface Setup extends AsyncDisposable {
  a: Server;
  b: Server;
  c: Server;
  api: Failover;
  events: FailoverEvent[];
}

async function setup(): Promise<Setup> {
  const b = await startServer(answer("B"));
  const a = await startServer(answer("A"));
  const c = await startServer(answer("backup"));
  const events: FailoverEvent[] = [];
  const api = createFailover({
    endpoints: [
      {
        name: "primary",
        url: `${a.origin}/v1`,
        apiKey: KEY,
        headers: { "x-api-key": X_API_KEY, "api-key": API_KEY },
        priority: 1,
      },
      { name: "backup", url: `${c.origin}/v1`, apiKey: "sk-b", priority: 2 },
    ],
    clock: new ManualClock(),
    onEvent: (e) => void events.push(e),
  });
  return {
    a,
    b,
    c,
    api,
    events,
    [Symbol.asyncDispose]: async () => {
      api.close();
      await Promise.all([a.close(), b.close(), c.close()]);
    },
  };
}

/** The first attempt event on `endpoint`; fails the test when there is none. */
function attemptOn(events: FailoverEvent[], endpoint: string) {
  const found = events.find((e) =>
    e.type === "attempt" && e.endpoint === endpoint
  );
  assert.ok(found?.type === "attempt", `an attempt event for ${endpoint}`);
  return found;
}

/** Asserts `error` is a RedirectError for primary → `origin` with `status`. */
function assertRedirect(error: unknown, status: number, origin: string) {
  assert.ok(isRedirectError(error), `a RedirectError, got ${String(error)}`);
  const e = error as RedirectError;
  assert.equal(e.endpoint, "primary");
  assert.equal(e.status, status);
  assert.equal(e.location, origin, "the origin only, no path or query");
  for (const secret of [KEY, X_API_KEY, API_KEY, "/steal", "x=1"]) {
    assert.ok(!e.message.includes(secret), "no secret, path or query");
  }
}

for (const status of [301, 302, 303, 307, 308]) {
  test(`a ${status} to another origin reaches nothing there and fails over`, async () => {
    await using ctx = await setup();
    const { a, b, c, api, events } = ctx;
    a.handle = redirectTo(status, () => `${b.origin}/v1/steal?x=1`);
    const response = await api.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY,
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { region: "backup" });
    assert.equal(b.seen.length, 0, "B received nothing: no key, no body");
    assert.equal(a.seen.length, 1);
    assert.equal(a.seen[0].headers["authorization"], `Bearer ${KEY}`);
    assert.equal(c.seen.length, 1);
    const attempt = attemptOn(events, "primary");
    assert.equal(attempt.outcome, "failover");
    assertRedirect(attempt.error, status, b.origin);
    const [primary] = api.status();
    assert.equal(primary.failures, 1);
    assert.equal(primary.consecutiveFailures, 1);
    assert.match(primary.lastError ?? "", /^primary redirected \(HTTP \d+\)/);
    assert.ok(primary.lastError?.includes(b.origin));
  });
}

test("when every endpoint redirects away, the failure lists RedirectErrors", async () => {
  await using ctx = await setup();
  const { a, b, c, api } = ctx;
  a.handle = redirectTo(307, () => `${b.origin}/v1/chat/completions`);
  c.handle = redirectTo(308, () => `${b.origin}/v1/chat/completions`);
  const error = await api.fetch("chat/completions", {
    method: "POST",
    body: BODY,
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(isFailoverError(error), `a FailoverError, got ${String(error)}`);
  assert.deepEqual(
    error.attempts.map((r) => [r.endpoint, isRedirectError(r.error)]),
    [["primary", true], ["backup", true]],
  );
  assertRedirect(error.attempts[0].error, 307, b.origin);
  assert.equal(b.seen.length, 0);
});

test("a same-origin 307 is followed with the key, the headers and the body", async () => {
  await using ctx = await setup();
  const { a, b, c, api } = ctx;
  a.handle = (req, res) => {
    if (req.path === "/v1/chat/completions") {
      redirectTo(307, () => "/v2/chat/completions?moved=1")(req, res);
    } else answer(`A${req.path}`)(req, res);
  };
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
  });
  assert.deepEqual(await response.json(), {
    region: "A/v2/chat/completions?moved=1",
  });
  assert.equal(response.url, `${a.origin}/v2/chat/completions?moved=1`);
  assert.equal(a.seen.length, 2);
  const [first, second] = a.seen;
  assert.equal(first.path, "/v1/chat/completions");
  assert.equal(second.path, "/v2/chat/completions?moved=1");
  for (const seen of a.seen) {
    assert.equal(seen.method, "POST");
    assert.equal(seen.body, BODY);
    assert.equal(seen.headers["authorization"], `Bearer ${KEY}`);
    assert.equal(seen.headers["x-api-key"], X_API_KEY);
    assert.equal(seen.headers["api-key"], API_KEY);
    assert.equal(seen.headers["content-type"], "application/json");
  }
  assert.equal(b.seen.length + c.seen.length, 0);
  assert.equal(api.status()[0].failures, 0);
});

test("a same-origin 303 turns the POST into a GET without body, key kept", async () => {
  await using ctx = await setup();
  const { a, api } = ctx;
  a.handle = (req, res) => {
    if (req.method === "POST") redirectTo(303, () => "/v1/result")(req, res);
    else answer("A")(req, res);
  };
  const response = await api.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
  });
  assert.deepEqual(await response.json(), { region: "A" });
  const second = a.seen[1];
  assert.equal(second.method, "GET");
  assert.equal(second.path, "/v1/result");
  assert.equal(second.body, "");
  assert.equal(second.headers["content-type"], undefined);
  assert.equal(second.headers["authorization"], `Bearer ${KEY}`);
});

test("a redirect loop on the endpoint stops after 5 hops and fails over", async () => {
  await using ctx = await setup();
  const { a, api, events } = ctx;
  // A redirects 10 times, then answers: a loop that is never given up
  // ends at A instead of hanging the test.
  const loop = redirectTo(307, () => "/v1/chat/completions");
  a.handle = (req, res) =>
    a.seen.length <= 10 ? loop(req, res) : answer("A")(req, res);
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: BODY,
  });
  assert.deepEqual(await response.json(), { region: "backup" });
  assert.equal(a.seen.length, 6, "the request and 5 followed redirects");
  const error = attemptOn(events, "primary").error;
  assert.ok(error instanceof TypeError, `a TypeError, got ${String(error)}`);
  assert.match(error.message, /primary redirected more than 5 times/);
  assert.equal(api.status()[0].failures, 1);
});

test("a health probe redirected to another origin reaches nothing there and fails", async () => {
  await using ctx = await setup();
  const { a, b, api, events } = ctx;
  a.handle = redirectTo(302, () => `${b.origin}/v1/models`);
  const [primary, backup] = await api.checkHealth();
  assert.equal(b.seen.length, 0, "B received nothing");
  assert.equal(a.seen.length, 1);
  assert.equal(a.seen[0].path, "/v1/models");
  assert.equal(a.seen[0].headers["x-api-key"], X_API_KEY);
  assert.equal(primary.consecutiveFailures, 1);
  assert.equal(backup.state, "healthy");
  const check = events.find((e) =>
    e.type === "health-check" && e.endpoint === "primary"
  );
  assert.ok(check?.type === "health-check");
  assert.equal(check.ok, false);
  assertRedirect(check.error, 302, b.origin);
  assert.notEqual(primary.state, "healthy");
});

test("api.ky: a cross-origin redirect fails over and reaches nothing there", async () => {
  await using ctx = await setup();
  const { a, b, api, events } = ctx;
  a.handle = redirectTo(308, () => `${b.origin}/v1/chat/completions`);
  const reply = await api.ky.post("chat/completions", {
    json: JSON.parse(BODY),
  }).json();
  assert.deepEqual(reply, { region: "backup" });
  assert.equal(b.seen.length, 0);
  assertRedirect(attemptOn(events, "primary").error, 308, b.origin);
});

test('a caller\'s redirect: "manual" gets the 3xx back and nothing is followed', async () => {
  await using ctx = await setup();
  const { a, b, c, api } = ctx;
  a.handle = redirectTo(307, () => `${b.origin}/v1/chat/completions`);
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: BODY,
    redirect: "manual",
  });
  assert.equal(response.status, 307);
  assert.equal(
    response.headers.get("location"),
    `${b.origin}/v1/chat/completions`,
  );
  assert.equal(await response.text(), "moved");
  assert.equal(b.seen.length + c.seen.length, 0);
  assert.equal(a.seen.length, 1);
});
