// How a call's arguments become the request each endpoint gets: the
// caller's headers (a header called `__proto__` included), the path under
// the longest matching base URL, a Request's fragment and `redirect`, and
// bodies that can be sent again on the next endpoint.

import { assert, test } from "./_harness.ts";
import { scriptedPool } from "./_streams.ts";
import { isFailoverError, isOutsidePoolError } from "ky-failover";

const ok = () =>
  new Response('{"ok":true}', {
    headers: { "content-type": "application/json" },
  });

/** The headers a request went out with. */
function sentHeaders(init: RequestInit): Headers {
  return new Headers(init.headers);
}

test("request: a header named __proto__ reaches the endpoint as a header, repeated ones combined", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  await (await api.fetch("models", {
    headers: [["__proto__", "one"], ["x-other", "two"], ["__proto__", "three"]],
  })).json();
  const headers = sentHeaders(sent[0].init);
  assert.equal(headers.get("__proto__"), "one, three");
  assert.equal(headers.get("x-other"), "two");
});

test("request: a Headers object and a record give the endpoint the same headers", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  const given = new Headers([["X-One", "1"], ["x-two", "2"]]);
  given.append("x-two", "3");
  await (await api.fetch("models", { headers: given })).json();
  await (await api.fetch("models", {
    headers: { "X-One": "1", "x-two": "2, 3" },
  })).json();
  for (const { init } of sent) {
    assert.deepEqual([...sentHeaders(init)], [["x-one", "1"], [
      "x-two",
      "2, 3",
    ]]);
  }
});

// Base URLs that nest: `/v1` and `/v1/deep` on one origin, and an endpoint
// on another origin whose base is exactly as long as the URL asked for.
const nested = [
  { name: "short", url: "https://x.example/v1", priority: 1 },
  { name: "deep", url: "https://x.example/v1/deep", priority: 2 },
];

for (const order of ["short first", "deep first"]) {
  test(`request: a Request's URL maps to the path under the longest base URL (${order})`, async () => {
    const endpoints = order === "short first" ? nested : [...nested].reverse();
    const { api, sent } = scriptedPool(ok, { endpoints });
    using _ = api;
    await (await api.fetch(new Request("https://x.example/v1/deep/models")))
      .json();
    // The path is "/models" (under /v1/deep), sent to the first tier.
    assert.deepEqual(sent.map((s) => s.url), ["https://x.example/v1/models"]);
    await (await api.fetch("https://x.example/v1/deep/models?a=1")).json();
    assert.equal(sent[1].url, "https://x.example/v1/models?a=1");
  });
}

test("request: a Request's URL under one base is not mapped under a longer base it does not start with", async () => {
  const endpoints = [
    { name: "x", url: "https://x.example/v1", priority: 1 },
    // As long as the URL below, and not a prefix of it.
    { name: "c", url: "https://cccccccc.example/v1", priority: 2 },
  ];
  const { api, sent } = scriptedPool(ok, { endpoints });
  using _ = api;
  const url = "https://x.example/v1/models";
  assert.equal(url.length, endpoints[1].url.length);
  await (await api.fetch(new Request(url))).json();
  await (await api.fetch(new Request(`${url}?q=1`))).json();
  assert.deepEqual(sent.map((s) => s.url), [url, `${url}?q=1`]);
});

test("request: a Request's URL that only shares a prefix with a base (/v1beta) is outside the pool", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  const error = await api.fetch(new Request("https://a.example/v1beta/models"))
    .then(() => undefined, (e) => e);
  assert.ok(isOutsidePoolError(error), String(error));
  assert.equal(error.url, "https://a.example/v1beta/models");
  assert.equal(sent.length, 0);
});

test("request: a Request's fragment is never sent", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  await (await api.fetch(new Request("https://a.example/v1/models?x=1#frag")))
    .json();
  await (await api.fetch(new Request("https://a.example/v1#frag"))).json();
  assert.deepEqual(sent.map((s) => s.url), [
    "https://a.example/v1/models?x=1",
    "https://a.example/v1",
  ]);
});

test("request: an absolute URL that climbs out of the base is rejected, naming origin and path", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  for (
    const input of [
      "https://a.example/v1/../admin?key=1",
      new Request("https://a.example/v1/../admin?key=1"),
    ]
  ) {
    const error = await api.fetch(input).then(() => undefined, (e) => e);
    assert.ok(isOutsidePoolError(error), String(error));
    assert.equal(error.url, "https://a.example/admin");
    assert.match(error.message, /^https:\/\/a\.example\/admin is not under/);
  }
  const relative = await api.fetch("/../admin").then(() => undefined, (e) => e);
  assert.ok(isOutsidePoolError(relative), String(relative));
  assert.equal(relative.url, "https://a.example/admin");
  assert.equal(sent.length, 0);
  // A dot segment that stays under the base is resolved, not rejected.
  await (await api.fetch("https://a.example/v1/./models")).json();
  assert.equal(sent[0].url, "https://a.example/v1/models");
});

for (const redirect of ["manual", "error"] as const) {
  test(`request: a Request's redirect: "${redirect}" reaches fetch as it is`, async () => {
    const { api, sent } = scriptedPool(() =>
      new Response(null, {
        status: 302,
        headers: { location: "https://a.example/v1/elsewhere" },
      })
    );
    using _ = api;
    const response = await api.fetch(
      new Request("https://a.example/v1/models", { redirect }),
    );
    assert.equal(response.status, 302);
    assert.deepEqual(
      sent.map((s) => [s.url, s.init.redirect]),
      [["https://a.example/v1/models", redirect]],
    );
  });
}

test("request: a Request's default redirect is followed by the pool within the origin", async () => {
  const { api, sent } = scriptedPool((_, { url }) =>
    url.endsWith("/models")
      ? new Response(null, {
        status: 302,
        headers: { location: "https://a.example/v1/elsewhere" },
      })
      : ok()
  );
  using _ = api;
  const response = await api.fetch(new Request("https://a.example/v1/models"));
  assert.equal(response.status, 200);
  assert.deepEqual(sent.map((s) => [s.url, s.init.redirect]), [
    ["https://a.example/v1/models", "manual"],
    ["https://a.example/v1/elsewhere", "manual"],
  ]);
});

test("request: ky's json body is sent as the string it was built from", async () => {
  const { api, sent } = scriptedPool(ok);
  using _ = api;
  await api.ky.post("chat/completions", { json: { a: 1 } }).json();
  assert.equal(sent[0].init.body, '{"a":1}');
});

test("request: a ReadableStream body is read once and sent again to the next endpoint", async () => {
  const bodies: string[] = [];
  const { api, sent } = scriptedPool(async (endpoint, { init }) => {
    bodies.push(await new Response(init.body).text());
    return endpoint === "a" ? new Response("down", { status: 500 }) : ok();
  });
  using _ = api;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("hel"));
      controller.enqueue(new TextEncoder().encode("lo"));
      controller.close();
    },
  });
  const response = await api.fetch("chat/completions", {
    method: "POST",
    body: stream,
    // @ts-ignore: Node's fetch asks for duplex with a stream body
    duplex: "half",
  });
  assert.equal(response.status, 200);
  assert.deepEqual(sent.map((s) => s.endpoint), ["a", "b"]);
  assert.deepEqual(bodies, ["hello", "hello"]);
  for (const { init } of sent) {
    assert.ok(!(init.body instanceof ReadableStream), "a replayable body");
  }
});

test("request: a call that fails everywhere still names each attempt's status", async () => {
  const { api } = scriptedPool(() => new Response("down", { status: 503 }));
  using _ = api;
  const response = await api.fetch("models");
  assert.equal(response.status, 503);
  const error = await api.ky.get("models").then(() => undefined, (e) => e);
  assert.ok(isFailoverError(error), String(error));
  assert.deepEqual(error.attempts.map((a) => a.status), [503, 503]);
});
