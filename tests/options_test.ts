// Invalid options fail at construction with a TypeError that names the field
// and never echoes a secret.

import { assert, test } from "./_harness.ts";
import { createFailover, type FailoverOptions } from "ky-failover";

const ok = { name: "a", url: "https://a.example.ai/v1", apiKey: "sk-secret-a" };

function rejects(options: unknown, pattern: RegExp): void {
  assert.throws(
    () => createFailover(options as FailoverOptions),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, `a TypeError, got ${error}`);
      assert.match(error.message, pattern);
      assert.ok(
        !error.message.includes("sk-secret"),
        "no secret in the message",
      );
      assert.ok(
        !error.message.includes("hdr-secret"),
        "no header value in the message",
      );
      return true;
    },
  );
}

const CASES: [string, unknown, RegExp][] = [
  ["no options", undefined, /^ky-failover: options must be an object/],
  ["no endpoints", {}, /options\.endpoints must be a non-empty array/],
  [
    "empty endpoints",
    { endpoints: [] },
    /options\.endpoints must be a non-empty array/,
  ],
  [
    "endpoint not an object",
    { endpoints: ["https://a"] },
    /options\.endpoints\[0\] must be an object, got "https:\/\/a"/,
  ],
  [
    "missing name",
    { endpoints: [{ url: ok.url }] },
    /options\.endpoints\[0\]\.name must be a non-empty string/,
  ],
  [
    "blank name",
    { endpoints: [{ ...ok, name: " " }] },
    /options\.endpoints\[0\]\.name must be a non-empty string/,
  ],
  [
    "duplicate names",
    { endpoints: [ok, { ...ok }] },
    /options\.endpoints\[1\]\.name must be unique, but "a" is used twice/,
  ],
  [
    "missing url",
    { endpoints: [{ name: "a" }] },
    /options\.endpoints\[0\]\.url must be an absolute http\(s\) URL, got undefined/,
  ],
  [
    "relative url",
    { endpoints: [{ name: "a", url: "/v1" }] },
    /options\.endpoints\[0\]\.url must be an absolute http\(s\) URL, got "\/v1"/,
  ],
  [
    "bad url",
    { endpoints: [{ name: "a", url: "http//x" }] },
    /options\.endpoints\[0\]\.url must be an absolute/,
  ],
  [
    "ftp url",
    { endpoints: [{ name: "a", url: "ftp://x/v1" }] },
    /options\.endpoints\[0\]\.url must use http: or https:, got "ftp:"/,
  ],
  [
    "malformed url with credentials",
    { endpoints: [{ name: "a", url: "https//u:sk-secret@x/v1?k=sk-secret" }] },
    /options\.endpoints\[0\]\.url must be an absolute http\(s\) URL, got "https\/\/…@x\/v1\?…"/,
  ],
  ["credentials in url", {
    endpoints: [{ name: "a", url: "https://u:sk-secret@x/v1" }],
  }, /options\.endpoints\[0\]\.url must not embed credentials/],
  [
    "fragment in url",
    { endpoints: [{ name: "a", url: "https://x/v1#f" }] },
    /options\.endpoints\[0\]\.url must not have a #fragment/,
  ],
  [
    "empty apiKey",
    { endpoints: [{ ...ok, apiKey: "" }] },
    /options\.endpoints\[0\]\.apiKey must be a non-empty string/,
  ],
  [
    "numeric apiKey",
    { endpoints: [{ ...ok, apiKey: 42 }] },
    /options\.endpoints\[0\]\.apiKey must be a non-empty string/,
  ],
  ["bad headers", {
    endpoints: [{ ...ok, headers: { "bad header": "hdr-secret" } }],
  }, /options\.endpoints\[0\]\.headers must be valid HeadersInit/],
  [
    "priority NaN",
    { endpoints: [{ ...ok, priority: NaN }] },
    /options\.endpoints\[0\]\.priority must be a finite number, got NaN/,
  ],
  [
    "priority string",
    { endpoints: [{ ...ok, priority: "1" }] },
    /options\.endpoints\[0\]\.priority must be a finite number, got "1"/,
  ],
  [
    "negative weight",
    { endpoints: [{ ...ok, weight: -1 }] },
    /options\.endpoints\[0\]\.weight must be a finite number ≥ 0, got -1/,
  ],
  [
    "infinite weight",
    { endpoints: [{ ...ok, weight: Infinity }] },
    /options\.endpoints\[0\]\.weight must be a finite number ≥ 0, got Infinity/,
  ],
  [
    "unknown endpoint key",
    { endpoints: [{ ...ok, key: "sk-secret-x" }] },
    /options\.endpoints\[0\]\.key is not a known option/,
  ],
  [
    "unknown option",
    { endpoints: [ok], timeOut: 5 },
    /options\.timeOut is not a known option \(known: endpoints, strategy, timeout/,
  ],
  [
    "bad strategy",
    { endpoints: [ok], strategy: "random" },
    /options\.strategy must be "round-robin", "weighted", "priority", "least-latency" or a function, got "random"/,
  ],
  ["weighted with all zero weights", {
    endpoints: [{ ...ok, weight: 0 }],
    strategy: "weighted",
  }, /options\.endpoints need at least one weight > 0/],
  [
    "zero timeout",
    { endpoints: [ok], timeout: 0 },
    /options\.timeout must be a positive number of milliseconds up to 2147483647, got 0/,
  ],
  [
    "negative timeout",
    { endpoints: [ok], timeout: -5 },
    /options\.timeout must be a positive number/,
  ],
  [
    "huge timeout",
    { endpoints: [ok], timeout: 2 ** 31 },
    /options\.timeout must be a positive number/,
  ],
  [
    "string timeout",
    { endpoints: [ok], timeout: "30s" },
    /options\.timeout must be a positive number.*got "30s"/,
  ],
  [
    "zero totalTimeout",
    { endpoints: [ok], totalTimeout: 0 },
    /options\.totalTimeout must be a positive number/,
  ],
  [
    "maxAttempts 0",
    { endpoints: [ok], maxAttempts: 0 },
    /options\.maxAttempts must be an integer ≥ 1, got 0/,
  ],
  [
    "maxAttempts 1.5",
    { endpoints: [ok], maxAttempts: 1.5 },
    /options\.maxAttempts must be an integer ≥ 1, got 1\.5/,
  ],
  [
    "breaker true",
    { endpoints: [ok], breaker: true },
    /options\.breaker must be an object or false, got true/,
  ],
  [
    "breaker threshold 0",
    { endpoints: [ok], breaker: { failureThreshold: 0 } },
    /options\.breaker\.failureThreshold must be an integer ≥ 1, got 0/,
  ],
  [
    "breaker cooldown 0",
    { endpoints: [ok], breaker: { cooldown: 0 } },
    /options\.breaker\.cooldown must be a positive number/,
  ],
  ["maxCooldown < cooldown", {
    endpoints: [ok],
    breaker: { cooldown: 10, maxCooldown: 5 },
  }, /options\.breaker\.maxCooldown must be ≥ breaker\.cooldown \(10\), got 5/],
  [
    "unknown breaker key",
    { endpoints: [ok], breaker: { threshold: 3 } },
    /options\.breaker\.threshold is not a known option/,
  ],
  ["negative fallbackDelay", {
    endpoints: [ok],
    rateLimit: { fallbackDelay: -1 },
  }, /options\.rateLimit\.fallbackDelay must be a non-negative number/],
  [
    "zero maxDelay",
    { endpoints: [ok], rateLimit: { maxDelay: 0 } },
    /options\.rateLimit\.maxDelay must be a positive number/,
  ],
  [
    "healthCheck true",
    { endpoints: [ok], healthCheck: true },
    /options\.healthCheck must be an object or false, got true/,
  ],
  [
    "healthCheck absolute path",
    { endpoints: [ok], healthCheck: { path: "https://x/models" } },
    /options\.healthCheck\.path must be a path relative to the endpoint's url/,
  ],
  [
    "healthCheck interval 0",
    { endpoints: [ok], healthCheck: { interval: 0 } },
    /options\.healthCheck\.interval must be a positive number/,
  ],
  [
    "healthCheck jitter 1",
    { endpoints: [ok], healthCheck: { jitter: 1 } },
    /options\.healthCheck\.jitter must be a number in \[0, 1\), got 1/,
  ],
  [
    "unknown healthCheck key",
    { endpoints: [ok], healthCheck: { every: 5 } },
    /options\.healthCheck\.every is not a known option/,
  ],
  [
    "retryBudget true",
    { endpoints: [ok], retryBudget: true },
    /options\.retryBudget must be an object or false, got true/,
  ],
  [
    "retryBudget negative ratio",
    { endpoints: [ok], retryBudget: { ratio: -0.1 } },
    /options\.retryBudget\.ratio must be a finite number ≥ 0, got -0\.1/,
  ],
  [
    "retryBudget window 0",
    { endpoints: [ok], retryBudget: { window: 0 } },
    /options\.retryBudget\.window must be a positive number/,
  ],
  [
    "hedge without delay",
    { endpoints: [ok], hedge: {} },
    /options\.hedge\.delay must be a positive number of milliseconds up to 2147483647, got undefined/,
  ],
  [
    "hedge methods not an array",
    { endpoints: [ok], hedge: { delay: 100, methods: "GET" } },
    /options\.hedge\.methods must be an array of method names/,
  ],
  [
    "streamIdleTimeout 0",
    { endpoints: [ok], streamIdleTimeout: 0 },
    /options\.streamIdleTimeout must be a positive number/,
  ],
  [
    "onEvent not a function",
    { endpoints: [ok], onEvent: "log" },
    /options\.onEvent must be a function, got "log"/,
  ],
  [
    "middleware not an array",
    { endpoints: [ok], middleware: () => {} },
    /options\.middleware must be an array of functions/,
  ],
  [
    "middleware item",
    { endpoints: [ok], middleware: [null] },
    /options\.middleware\[0\] must be a function, got null/,
  ],
  [
    "clock without timers",
    { endpoints: [ok], clock: { now: () => 0 } },
    /options\.clock must have now\(\), setTimeout\(\) and clearTimeout\(\)/,
  ],
  [
    "random not a function",
    { endpoints: [ok], random: 4 },
    /options\.random must be a function/,
  ],
  [
    "fetch not a function",
    { endpoints: [ok], fetch: {} },
    /options\.fetch must be a fetch function/,
  ],
  [
    "kyOptions not an object",
    { endpoints: [ok], kyOptions: 1 },
    /options\.kyOptions must be an object/,
  ],
  [
    "kyOptions.retry",
    { endpoints: [ok], kyOptions: { retry: 2 } },
    /options\.kyOptions\.retry is managed by ky-failover/,
  ],
  [
    "kyOptions.prefix",
    { endpoints: [ok], kyOptions: { prefix: "x" } },
    /options\.kyOptions\.prefix is managed by ky-failover/,
  ],
];

for (const [label, options, pattern] of CASES) {
  test(`invalid options: ${label}`, () => rejects(options, pattern));
}

test("valid options build a pool whose status starts healthy and key-free", () => {
  using api = createFailover({
    endpoints: [
      {
        ...ok,
        url: new URL("https://A.example.ai:443/v1/"),
        priority: 2,
        weight: 0,
      },
      {
        name: "b",
        url: "http://127.0.0.1:8080",
        headers: [["x-api-key", "hdr-secret"]],
      },
    ],
    strategy: "priority",
    timeout: false,
    totalTimeout: 1,
    maxAttempts: 1,
    breaker: false,
    rateLimit: { fallbackDelay: 0, maxDelay: 1 },
  });
  const status = api.status();
  assert.deepEqual(
    status.map((s) => [s.name, s.url, s.state, s.priority, s.weight]),
    [
      ["a", "https://a.example.ai/v1", "healthy", 2, 0],
      ["b", "http://127.0.0.1:8080", "healthy", 1, 1],
    ],
  );
  assert.ok(!JSON.stringify(status).includes("secret"));
});
