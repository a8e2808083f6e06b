// The loopback region farm (tests/_region_farm.ts) and the demo
// (scripts/demo.ts) that drives a pool through a scripted outage with it.

import { assert, bounded, test } from "./_harness.ts";
import { startFarm } from "./_region_farm.ts";
import { createServer } from "node:http";
import {
  ConfigError,
  type DemoConfig,
  main,
  parseConfig,
  type PhaseSummary,
  runDemo,
} from "../scripts/demo.ts";

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

test("demo: every fault starts from a healthy primary, shows its own failovers, breaker or bench, and costs no call", async () => {
  const lines: string[] = [];
  const scale = 0.25;
  // Real time: the demo plays a wall-clock story against loopback regions
  // (scripts/demo.ts takes no clock); at timeScale 0.25 it lasts about 5.5 s.
  const summary = await bounded(
    "the demo",
    20_000,
    () => runDemo({ timeScale: scale, log: (l) => lines.push(l) }),
  );
  const text = lines.join("\n");

  // Two calls every 25 ms while a phase sends (between phases the demo
  // waits for the calls in flight): never more than the rate allows, and
  // at least half of it even on a loaded machine.
  const ticks = summary.phases.reduce(
    (n, p) => n + Math.floor((p.endMs - p.startMs) / 25) + 1,
    0,
  );
  assert.ok(
    summary.calls <= 2 * ticks && summary.calls >= ticks,
    `${summary.calls} calls in ${ticks} ticks`,
  );
  assert.equal(summary.calls % 2, 0, "every tick's two calls completed");
  assert.equal(summary.failures, 0, text);
  assert.equal(summary.successes, summary.calls);

  // Every call got its answer from the primary, or from hk after exactly
  // one failed attempt at the primary — until the last phase, when only
  // deepseek (another provider) answered; sg never did.
  const [primary, hk, sg, deepseek] = summary.regions;
  assert.equal(sg.successes, 0);
  assert.equal(
    primary.successes + hk.successes + deepseek.successes,
    summary.calls,
  );
  assert.equal(primary.requests, primary.successes + primary.failedRequests);
  assert.equal(hk.requests, hk.successes + hk.failedRequests);
  assert.equal(deepseek.requests, deepseek.successes);

  // The phases add up to the whole.
  const { phases } = summary;
  const sum = (f: (p: PhaseSummary) => number) =>
    phases.reduce((n, p) => n + f(p), 0);
  assert.equal(sum((p) => p.calls), summary.calls);
  assert.equal(sum((p) => p.failovers), summary.failovers);
  assert.equal(sum((p) => p.successes.primary), primary.successes);
  assert.equal(sum((p) => p.successes.hk), hk.successes);
  assert.equal(sum((p) => p.requests.primary), primary.requests);
  assert.equal(sum((p) => p.failedRequests.primary), primary.failedRequests);

  assert.deepEqual(phases.map((p) => p.name), [
    "all up",
    "primary down",
    "primary back up",
    "primary 500",
    "primary back up",
    "primary 429",
    "primary back up",
    "only another provider",
  ]);
  const [
    allUp,
    down,
    upAfterDown,
    fiveHundred,
    upAfter500,
    limited,
    last,
    otherProvider,
  ] = phases;
  const cooldown = 1500 * scale;
  const retryAfter = 2000 * scale;

  // Each phase starts with no call in flight, so every call lies inside
  // one phase: in each but the last, every request to the primary was
  // answered or failed and moved its call to hk, which never failed.
  for (const p of phases.slice(0, 7)) {
    assert.equal(p.failures, 0, p.name);
    assert.equal(p.calls, p.successes.primary + p.successes.hk, p.name);
    assert.equal(
      p.requests.primary,
      p.successes.primary + p.failedRequests.primary,
      p.name,
    );
    assert.equal(p.failovers, p.failedRequests.primary, p.name);
    assert.equal(p.requests.hk, p.successes.hk, p.name);
    assert.equal(p.failedRequests.hk + p.requests.sg, 0, p.name);
    assert.equal(p.requests.deepseek, 0, p.name);
  }

  // Only another provider: every region of the first refuses, each call
  // fails over through them to deepseek, whose three breakers open after
  // three failures each, so the calls after that go to deepseek at once.
  assert.equal(otherProvider.failures, 0);
  assert.ok(otherProvider.calls > 0);
  assert.equal(otherProvider.successes.deepseek, otherProvider.calls);
  assert.equal(otherProvider.requests.deepseek, otherProvider.calls);
  for (const region of ["primary", "hk", "sg"]) {
    assert.equal(
      otherProvider.requests[region],
      otherProvider.failedRequests[region],
      region,
    );
    assert.ok(
      otherProvider.breakerChanges.some((b) =>
        b.endpoint === region && b.to === "open"
      ),
      `${region}'s breaker opened`,
    );
  }
  // deepseek was sent its own model name, and its tokens are priced at
  // the tutorial's $0.42 per million, the others' at $8: to the cent's
  // millionth, from the tokens counted.
  assert.equal(deepseek.lastModel, "deepseek-v3.2");
  assert.equal(primary.lastModel, "gpt-4.1");
  const perMillion = (usage: typeof deepseek.usage, price: number) =>
    Math.round(
      (usage!.inputTokens + usage!.outputTokens) * price / 1e6 * 1e12,
    ) / 1e12;
  assert.equal(deepseek.usage?.calls, deepseek.successes);
  assert.ok(deepseek.usage!.inputTokens > 0);
  assert.equal(deepseek.usage?.costUsd, perMillion(deepseek.usage, 0.42));
  assert.equal(primary.usage?.costUsd, perMillion(primary.usage, 8));
  assert.equal(hk.usage?.costUsd, perMillion(hk.usage, 8));
  assert.match(text, /deepseek p4 as deepseek-v3\.2/);
  assert.match(
    text,
    /^ {2}deepseek +4 +\d+ +0 +\d+ +deepseek-v3\.2 +\d+ +\d+ +\$0\.\d{6}$/m,
  );

  // All up: the primary answers everything.
  assert.ok(allUp.successes.primary > 0, JSON.stringify(allUp));
  assert.equal(allUp.successes.hk + allUp.successes.sg, 0);
  assert.equal(allUp.failedRequests.primary, 0);
  assert.deepEqual(allUp.breakerChanges, []);

  // Down and 500 each start from a closed breaker and show the same story:
  // 3 failures in a row open it for the cooldown, its one probe fails and
  // it reopens for twice as long (the timeline leaves 0.7 s at scale 1
  // around each step, so every step falls in its phase).
  for (const fault of [down, fiveHundred]) {
    assert.deepEqual(fault.breakerChanges, [
      { endpoint: "primary", from: "closed", to: "open", cooldownMs: cooldown },
      { endpoint: "primary", from: "open", to: "half-open" },
      {
        endpoint: "primary",
        from: "half-open",
        to: "open",
        cooldownMs: 2 * cooldown,
      },
    ], fault.name);
    assert.deepEqual(fault.rateLimits, [], fault.name);
    // The primary answers none of them.
    assert.equal(fault.successes.primary, 0, fault.name);
    // The 3 that open the breaker and its one probe, plus calls already
    // sent when it opened: the tick's other call, and at this scale (a
    // tick every 25 ms, a 20 ms answer) up to a tick's two more; 3 more
    // allowed for timers that run late on a busy machine.
    const failed = fault.failedRequests.primary;
    assert.ok(failed >= 4 && failed <= 10, `${fault.name}: ${failed} failed`);
  }

  // Back up after each breaker fault: the next probe passes and the
  // breaker closes; nothing fails at the primary, which takes traffic back.
  for (const up of [upAfterDown, upAfter500]) {
    assert.deepEqual(up.breakerChanges, [
      { endpoint: "primary", from: "open", to: "half-open" },
      { endpoint: "primary", from: "half-open", to: "closed" },
    ]);
    assert.equal(up.failedRequests.primary, 0);
    assert.ok(up.successes.primary > 0, JSON.stringify(up));
    assert.ok(
      up.successes.hk > 0,
      `hk served the cooldown: ${JSON.stringify(up)}`,
    );
  }

  // 429: no breaker; the primary is benched twice for its Retry-After (the
  // second bench ends 0.7 s at scale 1 after the phase).
  assert.deepEqual(limited.breakerChanges, []);
  assert.deepEqual(limited.rateLimits, [
    { endpoint: "primary", delayMs: retryAfter },
    { endpoint: "primary", delayMs: retryAfter },
  ]);
  // The 429 that starts each bench, plus those of calls already sent (the
  // tick's other call, up to a tick's two more; as above).
  assert.equal(limited.successes.primary, 0);
  assert.ok(
    limited.failedRequests.primary >= 2 &&
      limited.failedRequests.primary <= 12,
    JSON.stringify(limited),
  );

  // Back up: traffic returns once the bench ends.
  assert.deepEqual(last.breakerChanges, []);
  assert.deepEqual(last.rateLimits, []);
  assert.equal(last.failedRequests.primary, 0);
  assert.ok(
    last.successes.primary > last.successes.hk,
    `traffic moved back: ${JSON.stringify(last)}`,
  );

  // The timings are stated, the notation explained, each phase announced
  // with what to watch, and no key is ever printed.
  assert.match(
    text,
    /a breaker opens after 3 failures in a row for 375 ms \[60 s\], and for 750 ms after a failed probe/,
  );
  assert.match(text, /the primary's 429s ask for 500 ms/);
  assert.match(text, /primary {3}4✗4 {9}requests sent to primary/);
  for (const symbol of ["↪ failover", "⚡ breaker", "⏳ rate-limit"]) {
    assert.match(text, new RegExp(`^  ${symbol} `, "m"), symbol);
  }
  assert.equal(text.match(/━━ phase \d\/8: .*\n +watch: /g)?.length, 8);
  assert.match(
    text,
    /breaker primary: half-open → closed \(the probe passed\)/,
  );
  assert.match(text, /rate-limit primary: HTTP 429, benched for 500 ms/);
  assert.doesNotMatch(text, /sk-demo/);
});

// ------------------------------------------------------------ --config files

const env = (vars: Record<string, string>) => (name: string) => vars[name];

function configError(json: unknown, vars: Record<string, string> = {}) {
  try {
    parseConfig(json, env(vars), "my.json");
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

const endpoint = { name: "a", url: "https://a.example/v1", apiKeyEnv: "KEY_A" };

test("demo config: every endpoint field is accepted; keys and header values come from the environment", () => {
  const config = parseConfig({
    model: "gpt-4.1-mini",
    requests: 5,
    rate: 1,
    timeout: 20_000,
    prompt: "hi",
    healthCheck: { interval: 10_000 },
    endpoints: [
      { ...endpoint, priority: 1, weight: 2 },
      {
        name: "azure",
        url:
          "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
        headers: {
          "api-key": { env: "AZURE_KEY" },
          "x-team": "demo",
        },
        model: "my-deployment",
        priority: 2,
        healthCheck: false,
      },
      {
        name: "local",
        url: "http://127.0.0.1:4000/v1",
        healthCheck: { path: "health" },
      },
    ],
  }, env({ KEY_A: "sk-a", AZURE_KEY: "azure-secret" }));
  assert.deepEqual(
    config,
    {
      model: "gpt-4.1-mini",
      models: { azure: "my-deployment" },
      requests: 5,
      rate: 1,
      timeout: 20_000,
      prompt: "hi",
      healthCheck: { interval: 10_000 },
      endpoints: [
        {
          name: "a",
          url: "https://a.example/v1",
          apiKey: "sk-a",
          priority: 1,
          weight: 2,
        },
        {
          name: "azure",
          url:
            "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
          headers: { "api-key": "azure-secret", "x-team": "demo" },
          priority: 2,
          healthCheck: false,
        },
        {
          name: "local",
          url: "http://127.0.0.1:4000/v1",
          healthCheck: { path: "health" },
        },
      ],
    } satisfies DemoConfig,
  );

  // Defaults; without a top-level model every endpoint names its own.
  const minimal = parseConfig({
    endpoints: [{ name: "x", url: "http://127.0.0.1:1/v1", model: "m" }],
  }, env({}));
  assert.deepEqual(
    [minimal.model, minimal.models, minimal.requests, minimal.rate],
    [undefined, { x: "m" }, 20, 2],
  );
  assert.deepEqual([minimal.timeout, minimal.healthCheck], [30_000, false]);
});

test("demo config: a bad field is rejected with a message naming it", () => {
  const cases: [unknown, RegExp][] = [
    [[], /^my\.json: must be an object$/],
    [
      { endpoints: [endpoint] },
      /^my\.json: endpoints\[0\]\.model: required, since the file has no top-level "model"$/,
    ],
    [
      { model: "m", endpoints: [] },
      /^my\.json: endpoints must be a non-empty array$/,
    ],
    [
      { model: "m", modle: "x", endpoints: [endpoint] },
      /^my\.json: unknown field "modle" \(allowed: model, /,
    ],
    [
      { model: "m", rate: 50, endpoints: [endpoint] },
      /^my\.json: rate must be a number from 0\.1 to 20, got 50$/,
    ],
    [
      { model: "m", requests: 2.5, endpoints: [endpoint] },
      /^my\.json: requests must be an integer from 1 to 1000, got 2\.5$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, wieght: 2 }] },
      /^my\.json: endpoints\[0\]: unknown field "wieght" \(allowed: name, url, apiKeyEnv, headers, model, priority, weight, healthCheck\)$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, url: "api.openai.com" }] },
      /^my\.json: endpoints\[0\]\.url must be an absolute http\(s\) URL, got "api\.openai\.com"$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, model: "" }] },
      /^my\.json: endpoints\[0\]\.model must be a non-empty string, got ""$/,
    ],
    // What the pool checks, re-worded to name the file's field.
    [
      { model: "m", endpoints: [{ ...endpoint, priority: 1.5 }] },
      /^my\.json: endpoints\[0\]\.priority must be an integer from 0 to 1000, got 1\.5$/,
    ],
    [
      { model: "m", endpoints: [endpoint, { ...endpoint }] },
      /^my\.json: endpoints\[1\]\.name must be unique, but "a" is used twice$/,
    ],
    [
      {
        model: "m",
        endpoints: [{ ...endpoint, healthCheck: { path: "https://x/y" } }],
      },
      /^my\.json: endpoints\[0\]\.healthCheck\.path must be a path relative to the endpoint's url/,
    ],
    [
      { model: "m", healthCheck: { interval: 0 }, endpoints: [endpoint] },
      /^my\.json: healthCheck\.interval must be a number of milliseconds/,
    ],
    [
      { model: "m", healthCheck: true, endpoints: [endpoint] },
      /^my\.json: healthCheck must be an object \(\{ path, interval, timeout, jitter \}\) or false, got true$/,
    ],
    // Environment variables.
    [
      { model: "m", endpoints: [{ ...endpoint, apiKeyEnv: "KEY_B" }] },
      /^my\.json: endpoints\[0\]\.apiKeyEnv: environment variable KEY_B is not set \(it holds the API key of endpoint "a"\)$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, apiKeyEnv: "$KEY" }] },
      /^my\.json: endpoints\[0\]\.apiKeyEnv must name an environment variable \(letters, digits, _\), got "\$KEY"$/,
    ],
    [
      {
        model: "m",
        endpoints: [{ ...endpoint, headers: { "api-key": { env: "NOPE" } } }],
      },
      /^my\.json: endpoints\[0\]\.headers\["api-key"\]\.env: environment variable NOPE is not set \(it holds the "api-key" header of endpoint "a"\)$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, headers: { "x-team": 7 } }] },
      /^my\.json: endpoints\[0\]\.headers\["x-team"\] must be a string or \{ "env": "VARIABLE" \}, got 7$/,
    ],
    [
      { model: "m", endpoints: [{ ...endpoint, headers: { "x team": "a" } }] },
      /^my\.json: endpoints\[0\]\.headers must have names that are HTTP tokens/,
    ],
  ];
  for (const [json, expected] of cases) {
    assert.match(configError(json, { KEY_A: "sk-a" }), expected);
  }
});

test("demo config: a key written in the file itself is rejected, and never echoed", () => {
  const secret = "sk-proj-0123456789abcdef";
  const cases: [unknown, RegExp][] = [
    [
      {
        model: "m",
        endpoints: [{ name: "a", url: "https://a.example/v1", apiKey: secret }],
      },
      /^my\.json: endpoints\[0\]\.apiKey: keys never go in the file: put the key in an environment variable and name that variable with "apiKeyEnv"$/,
    ],
    [
      { model: "m", apiKey: secret, endpoints: [endpoint] },
      /^my\.json\.apiKey: keys never go in the file/,
    ],
    [
      {
        model: "m",
        endpoints: [{ ...endpoint, headers: { "api-key": secret } }],
      },
      /^my\.json: endpoints\[0\]\.headers\["api-key"\]: a credential header; keys never go in the file: .* as \{ "env": "VARIABLE" \}$/,
    ],
    [
      {
        model: "m",
        endpoints: [{
          ...endpoint,
          headers: { Authorization: `Bearer ${secret}` },
        }],
      },
      /^my\.json: endpoints\[0\]\.headers\["Authorization"\]: a credential header/,
    ],
    [{
      model: "m",
      endpoints: [{ ...endpoint, headers: { "x-custom": secret } }],
    }, /^my\.json: endpoints\[0\]\.headers\["x-custom"\]: a credential header/],
    [
      {
        model: "m",
        endpoints: [{ ...endpoint, url: `https://a.example/v1?key=${secret}` }],
      },
      /^my\.json: endpoints\[0\]\.url: query parameter "key" looks like a credential/,
    ],
    [
      {
        model: "m",
        endpoints: [{
          ...endpoint,
          url: `https://user:${secret}@a.example/v1`,
        }],
      },
      /^my\.json: endpoints\[0\]\.url: keys never go in the file: .*\(the URL has user info\)$/,
    ],
  ];
  for (const [json, expected] of cases) {
    const message = configError(json, { KEY_A: "sk-a" });
    assert.match(message, expected);
    assert.ok(!message.includes(secret), message);
  }
});

test("demo config: a run sends each endpoint its own model and key, and prints no key", async () => {
  await using farm = await startFarm(["a", "b"]);
  await farm.region("a").setMode({ status: 500 });
  const config = parseConfig({
    model: "model-default",
    requests: 4,
    rate: 20,
    endpoints: [
      { name: "a", url: farm.region("a").url, apiKeyEnv: "KEY_A", priority: 1 },
      {
        name: "b",
        url: farm.region("b").url,
        apiKeyEnv: "KEY_B",
        model: "model-b",
        priority: 2,
      },
    ],
  }, env({ KEY_A: "sk-secret-a", KEY_B: "sk-secret-b" }));
  const lines: string[] = [];
  // Real time: 4 calls at 20/s against loopback regions, about 0.2 s.
  const summary = await bounded(
    "the demo on a config",
    10_000,
    () => runDemo({ config, log: (l) => lines.push(l) }),
  );
  assert.equal(summary.calls, 4);
  assert.equal(summary.failures, 0, lines.join("\n"));
  const a = farm.region("a").received;
  const b = farm.region("b").received;
  // a answers 500 to every call (each fails over to b) until 3 in a row
  // open its breaker; a call sent before that may still reach it.
  assert.equal(b.length, 4);
  assert.equal(summary.failovers, a.length);
  assert.ok(a.length >= 3 && a.length <= 4, `${a.length} reached a`);
  assert.deepEqual(
    [
      ...new Set(
        a.map((r) =>
          `${r.authorization} ${(r.body as { model: string }).model}`
        ),
      ),
    ],
    ["Bearer sk-secret-a model-default"],
  );
  assert.deepEqual(
    [
      ...new Set(
        b.map((r) =>
          `${r.authorization} ${(r.body as { model: string }).model}`
        ),
      ),
    ],
    ["Bearer sk-secret-b model-b"],
  );
  const text = lines.join("\n");
  assert.match(
    text,
    /2 endpoints \(a p1, b p2 as model-b\), model model-default, 20 calls\/s/,
  );
  assert.doesNotMatch(text, /sk-secret/);
});

// ------------------------------------------------------- --web and --port

test("demo command line: a bad --web or --port exits with code 2 and says why", async () => {
  // A port that is taken: --port names it, so no other one is chosen.
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  const port = (busy.address() as { port: number }).port;
  const cases: [string[], RegExp][] = [
    [["--port", "8787"], /^demo: --port needs --web \(the dashboard's port\)$/],
    [
      ["--web", "--port", "abc"],
      /^demo: --port must be an integer from 0 to 65535, got abc$/,
    ],
    [
      ["--web", "--port", "70000"],
      /^demo: --port must be an integer from 0 to 65535, got 70000$/,
    ],
    [
      ["--web", "--port=-1"],
      /^demo: --port must be an integer from 0 to 65535, got -1$/,
    ],
    [["--web", "--port"], /^demo: --port needs a value$/],
    [["--web=yes"], /^demo: unknown argument --web=yes$/],
    [
      ["--web", "--port", String(port)],
      new RegExp(
        `^demo: port ${port} is taken; pick another with --port <n> \\(0: any free port\\)$`,
      ),
    ],
  ];
  const printed: string[] = [];
  const error = console.error;
  console.error = (line: unknown) => void printed.push(String(line));
  try {
    for (const [args, expected] of cases) {
      printed.length = 0;
      assert.equal(await main(args), 2, args.join(" "));
      assert.match(printed[0] ?? "", expected, args.join(" "));
    }
  } finally {
    console.error = error;
    await new Promise((resolve) => busy.close(resolve));
  }
});
