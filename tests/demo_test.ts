// The loopback region farm (tests/_region_farm.ts) and the demo
// (scripts/demo.ts) that drives a pool through a scripted outage with it.

import { assert, bounded, test } from "./_harness.ts";
import { startFarm } from "./_region_farm.ts";
import { runDemo } from "../scripts/demo.ts";

const chat = { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] };

function post(url: string, key = "sk-test"): Promise<Response> {
  return fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify(chat),
  });
}

async function rejects(promise: Promise<Response>): Promise<unknown> {
  try {
    const response = await promise;
    await response.body?.cancel();
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected the fetch to reject" });
}

test("farm: an up region answers models and chat completions and records them", async () => {
  await using farm = await startFarm(["primary", "hk"]);
  const primary = farm.region("primary");
  assert.match(primary.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  assert.notEqual(primary.port, farm.region("hk").port);

  const models = await fetch(`${primary.url}/models`);
  assert.equal(models.status, 200);
  assert.deepEqual(
    (await models.json()).data.map((m: { id: string }) => m.id),
    [
      "gpt-4.1",
    ],
  );

  const response = await post(primary.url, "sk-primary");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /application\/json/);
  const completion = await response.json();
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, "gpt-4.1");
  assert.deepEqual(completion.choices, [{
    index: 0,
    message: { role: "assistant", content: "hello from primary" },
    finish_reason: "stop",
  }]);
  assert.equal(typeof completion.usage.total_tokens, "number");

  assert.deepEqual(
    primary.received.map((r) => [r.method, r.path, r.authorization]),
    [
      ["GET", "/v1/models", null],
      ["POST", "/v1/chat/completions", "Bearer sk-primary"],
    ],
  );
  assert.deepEqual(primary.received[1].body, chat);
  assert.equal(farm.region("hk").received.length, 0);
  primary.reset();
  assert.equal(primary.received.length, 0);
});

test("farm: a down region refuses connections, and answers on the same URL once up again", async () => {
  await using farm = await startFarm(["primary"]);
  const primary = farm.region("primary");
  const { url, port } = primary;
  // A kept-alive connection must not survive the outage.
  await (await post(url)).body?.cancel();

  await primary.setMode("down");
  await rejects(post(url));
  await rejects(fetch(`${url}/models`));
  assert.equal(primary.received.length, 1);

  await primary.setMode("up");
  assert.equal(primary.url, url);
  assert.equal(primary.port, port);
  const response = await post(url);
  assert.equal(response.status, 200);
  assert.equal(
    (await response.json()).choices[0].message.content,
    "hello from primary",
  );
});

test("farm: a status mode answers that status with an OpenAI error body and the headers", async () => {
  await using farm = await startFarm(["primary"]);
  const primary = farm.region("primary");
  await primary.setMode({ status: 429, headers: { "retry-after": "2" } });
  const limited = await post(primary.url, "sk-x");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "2");
  const body = await limited.json();
  assert.equal(body.error.code, "rate_limit_exceeded");
  assert.equal(typeof body.error.message, "string");

  await primary.setMode({ status: 500 });
  const broken = await fetch(`${primary.url}/models`);
  assert.equal(broken.status, 500);
  assert.equal((await broken.json()).error.type, "server_error");
  assert.deepEqual(
    primary.received.map((r) => [r.path, r.authorization, r.mode]),
    [
      ["/v1/chat/completions", "Bearer sk-x", {
        status: 429,
        headers: { "retry-after": "2" },
      }],
      ["/v1/models", null, { status: 500 }],
    ],
  );
});

test("farm: a blackhole holds requests until the client gives up or the farm closes", async () => {
  const farm = await startFarm(["primary"]);
  const primary = farm.region("primary");
  await primary.setMode("blackhole");

  const controller = new AbortController();
  const abandoned = rejects(
    fetch(`${primary.url}/models`, { signal: controller.signal }),
  );
  await primary.waitForRequests(1);
  controller.abort();
  await abandoned;

  const held = rejects(post(primary.url));
  await primary.waitForRequests(2);
  await farm.close();
  await held;
  await farm.close(); // idempotent
});

test("farm: a slow region answers late, and closing cancels its pending answer", async () => {
  const farm = await startFarm(["primary"]);
  const primary = farm.region("primary");
  // Real time: the farm's delays run on its own timers (node:http, no
  // clock to inject) — 40 ms here.
  await primary.setMode({ slow: 40 });
  const started = performance.now();
  const response = await post(primary.url);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.ok(performance.now() - started >= 35);

  await primary.setMode({ slow: 60_000 });
  const pending = rejects(post(primary.url));
  await primary.waitForRequests(2);
  await farm.close(); // the 60 s timer must not outlive the farm
  await pending;
});

test("demo: the scripted outage costs no call and traffic moves back to the primary", async () => {
  const lines: string[] = [];
  // Real time: the demo plays a wall-clock story against loopback regions
  // (scripts/demo.ts takes no clock); at timeScale 0.25 it lasts about 6 s.
  const summary = await bounded(
    "the demo",
    20_000,
    () => runDemo({ timeScale: 0.25, log: (l) => lines.push(l) }),
  );

  // Two calls every 25 ms: never more than the rate allows, and at least
  // half of it even on a loaded machine.
  const ticks = Math.floor(summary.durationMs / 25) + 1;
  assert.ok(
    summary.calls <= 2 * ticks && summary.calls >= ticks,
    `${summary.calls} calls in ${Math.round(summary.durationMs)} ms`,
  );
  assert.equal(summary.calls % 2, 0, "every tick's two calls completed");
  assert.equal(summary.failures, 0, lines.join("\n"));
  assert.equal(summary.successes, summary.calls);

  // Every call got its answer from the primary, or from hk after exactly
  // one failed attempt at the primary; sg was never needed.
  const [primary, hk, sg] = summary.regions;
  assert.equal(hk.failedRequests, 0);
  assert.equal(sg.requests, 0);
  assert.equal(primary.successes + hk.successes, summary.calls);
  assert.equal(primary.requests, primary.successes + primary.failedRequests);
  assert.equal(hk.requests, hk.successes);
  assert.equal(summary.failovers, primary.failedRequests);
  assert.ok(primary.failedRequests > 0, "the outage was felt");
  assert.ok(
    primary.failedRequests * 20 < summary.calls,
    `the outage cost few requests: ${primary.failedRequests} failed of ${summary.calls} calls`,
  );

  // The phases add up to the whole.
  const sum = (f: (p: typeof summary.phases[number]) => number) =>
    summary.phases.reduce((n, p) => n + f(p), 0);
  assert.equal(sum((p) => p.calls), summary.calls);
  assert.equal(sum((p) => p.successes.primary), primary.successes);
  assert.equal(sum((p) => p.successes.hk), hk.successes);
  assert.equal(sum((p) => p.requests.primary), primary.requests);

  const phase = (name: string) => {
    const found = summary.phases.find((p) => p.name === name);
    assert.ok(found, `no phase ${name}`);
    return found;
  };
  const first = phase("all up");
  const last = phase("primary back up");
  assert.ok(first.successes.primary > 0, JSON.stringify(first));
  assert.equal(first.successes.hk + first.successes.sg, 0);
  // While the primary is out, no call is answered there (but a tick's two
  // calls answered just as a phase switches are counted in the new phase).
  for (const name of ["primary down", "primary 500", "primary 429"]) {
    const out = phase(name);
    assert.ok(out.successes.primary <= 2, JSON.stringify(out));
  }
  assert.ok(
    last.successes.primary > last.successes.hk,
    `traffic moved back: ${JSON.stringify(last)}`,
  );

  // The story is told as it happens, and no key is ever printed.
  const text = lines.join("\n");
  assert.match(text, /breaker primary: closed → open/);
  assert.match(text, /breaker primary: half-open → closed/);
  assert.match(text, /rate-limit primary/);
  assert.doesNotMatch(text, /sk-demo/);
});
