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
  [
    "bad header name",
    {
      endpoints: [{ ...ok, headers: { "bad header": "hdr-secret" } }],
    },
    /options\.endpoints\[0\]\.headers must have names that are HTTP tokens; one is not$/,
  ],
  [
    "priority NaN",
    { endpoints: [{ ...ok, priority: NaN }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got NaN/,
  ],
  [
    "priority string",
    { endpoints: [{ ...ok, priority: "1" }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got "1"/,
  ],
  [
    "negative weight",
    { endpoints: [{ ...ok, weight: -1 }] },
    /options\.endpoints\[0\]\.weight must be a finite number from 0 to 1000000, got -1/,
  ],
  [
    "infinite weight",
    { endpoints: [{ ...ok, weight: Infinity }] },
    /options\.endpoints\[0\]\.weight must be a finite number from 0 to 1000000, got Infinity/,
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
    /options\.strategy must be "round-robin", "weighted", "priority", "least-latency", "cheapest" or a function, got "random"/,
  ],
  ["weighted with all zero weights", {
    endpoints: [{ ...ok, weight: 0 }],
    strategy: "weighted",
  }, /options\.endpoints need at least one weight > 0/],
  [
    "zero timeout",
    { endpoints: [ok], timeout: 0 },
    /options\.timeout must be a number of milliseconds from 1 to 2147483647, got 0/,
  ],
  [
    "negative timeout",
    { endpoints: [ok], timeout: -5 },
    /options\.timeout must be a number of milliseconds from 1 to 2147483647/,
  ],
  [
    "huge timeout",
    { endpoints: [ok], timeout: 2 ** 31 },
    /options\.timeout must be a number of milliseconds from 1 to 2147483647/,
  ],
  [
    "string timeout",
    { endpoints: [ok], timeout: "30s" },
    /options\.timeout must be a number of milliseconds from 1 to 2147483647.*got "30s"/,
  ],
  [
    "zero totalTimeout",
    { endpoints: [ok], totalTimeout: 0 },
    /options\.totalTimeout must be a number of milliseconds from 1 to 2147483647/,
  ],
  [
    "maxAttempts 0",
    { endpoints: [ok], maxAttempts: 0 },
    /options\.maxAttempts must be an integer from 1 to 100, got 0/,
  ],
  [
    "maxAttempts 1.5",
    { endpoints: [ok], maxAttempts: 1.5 },
    /options\.maxAttempts must be an integer from 1 to 100, got 1\.5/,
  ],
  [
    "breaker true",
    { endpoints: [ok], breaker: true },
    /options\.breaker must be an object or false, got true/,
  ],
  [
    "breaker threshold 0",
    { endpoints: [ok], breaker: { failureThreshold: 0 } },
    /options\.breaker\.failureThreshold must be an integer from 1 to 1000, got 0/,
  ],
  [
    "breaker cooldown 0",
    { endpoints: [ok], breaker: { cooldown: 0 } },
    /options\.breaker\.cooldown must be a number of milliseconds from 1 to 2147483647/,
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
  [
    "negative fallbackDelay",
    {
      endpoints: [ok],
      rateLimit: { fallbackDelay: -1 },
    },
    /options\.rateLimit\.fallbackDelay must be 0 or a number of milliseconds from 1 to 2147483647, got -1/,
  ],
  [
    "zero maxDelay",
    { endpoints: [ok], rateLimit: { maxDelay: 0 } },
    /options\.rateLimit\.maxDelay must be a number of milliseconds from 1 to 2147483647/,
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
    /options\.healthCheck\.interval must be a number of milliseconds from 1 to 2147483647/,
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
    /options\.retryBudget\.ratio must be a finite number from 0 to 100, got -0\.1/,
  ],
  [
    "retryBudget ratio above 100",
    { endpoints: [ok], retryBudget: { ratio: 100.5 } },
    /options\.retryBudget\.ratio must be a finite number from 0 to 100, got 100\.5/,
  ],
  [
    "retryBudget ratio NaN",
    { endpoints: [ok], retryBudget: { ratio: NaN } },
    /options\.retryBudget\.ratio must be a finite number from 0 to 100, got NaN/,
  ],
  [
    "retryBudget maxTokens 0",
    { endpoints: [ok], retryBudget: { maxTokens: 0 } },
    /options\.retryBudget\.maxTokens must be an integer from 1 to 10000, got 0/,
  ],
  [
    "retryBudget maxTokens 2.5",
    { endpoints: [ok], retryBudget: { maxTokens: 2.5 } },
    /options\.retryBudget\.maxTokens must be an integer from 1 to 10000, got 2\.5/,
  ],
  [
    "retryBudget maxTokens 10001",
    { endpoints: [ok], retryBudget: { maxTokens: 10_001 } },
    /options\.retryBudget\.maxTokens must be an integer from 1 to 10000, got 10001/,
  ],
  [
    "retryBudget old minPerSecond",
    { endpoints: [ok], retryBudget: { ratio: 0.3, minPerSecond: 10 } },
    /options\.retryBudget\.minPerSecond is not a known option \(known: ratio, maxTokens\)/,
  ],
  [
    "retryBudget old window",
    { endpoints: [ok], retryBudget: { window: 10_000 } },
    /options\.retryBudget\.window is not a known option \(known: ratio, maxTokens\)/,
  ],
  [
    "hedge without delay",
    { endpoints: [ok], hedge: {} },
    /options\.hedge\.delay must be a number of milliseconds from 1 to 2147483647, got undefined/,
  ],
  [
    "hedge methods not an array",
    { endpoints: [ok], hedge: { delay: 100, methods: "GET" } },
    /options\.hedge\.methods must be an array of method names/,
  ],
  [
    "streamIdleTimeout 0",
    { endpoints: [ok], streamIdleTimeout: 0 },
    /options\.streamIdleTimeout must be a number of milliseconds from 1 to 2147483647/,
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

/** Options with `value` at `path` (e.g. "breaker.cooldown") over one endpoint. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const [section, key] = path.split(".");
  if (!key) return { endpoints: [ok], [section]: value };
  // maxCooldown must be ≥ cooldown, so the bounds apply to it alone.
  const base = section === "breaker" && key === "maxCooldown"
    ? { cooldown: 1 }
    : {};
  return { endpoints: [ok], [section]: { ...base, [key]: value } };
}

/** Builds a pool (it must not throw) and closes it; no request is sent. */
function accepts(options: Record<string, unknown>): void {
  const api = createFailover({
    fetch: () => Promise.reject(new Error("no network in options tests")),
    ...options,
  } as unknown as FailoverOptions);
  api.close();
}

const DURATIONS = [
  "timeout",
  "totalTimeout",
  "streamIdleTimeout",
  "breaker.cooldown",
  "breaker.maxCooldown",
  "healthCheck.interval",
  "healthCheck.timeout",
  "rateLimit.maxDelay",
  "hedge.delay",
  "authFailure.bench",
];

for (const path of DURATIONS) {
  const field = path.replace(".", "\\.");
  for (const value of [1e-9, 0.5, 0, 2 ** 31, Infinity, NaN]) {
    test(`invalid options: ${path} ${value}`, () =>
      rejects(
        withField(path, value),
        new RegExp(
          `options\\.${field} must be a number of milliseconds from 1 to 2147483647, got ${value}$`,
        ),
      ));
  }
  test(`valid options: ${path} at 1 and 2147483647`, () => {
    accepts(withField(path, 1));
    accepts(withField(path, 2_147_483_647));
  });
}

const BOUNDS: [string, unknown, RegExp][] = [
  [
    "fallbackDelay 0.5",
    { endpoints: [ok], rateLimit: { fallbackDelay: 0.5 } },
    /options\.rateLimit\.fallbackDelay must be 0 or a number of milliseconds from 1 to 2147483647, got 0\.5/,
  ],
  [
    "fallbackDelay 2 ** 31",
    { endpoints: [ok], rateLimit: { fallbackDelay: 2 ** 31 } },
    /options\.rateLimit\.fallbackDelay must be 0 or a number of milliseconds/,
  ],
  [
    "maxAttempts 101",
    { endpoints: [ok], maxAttempts: 101 },
    /options\.maxAttempts must be an integer from 1 to 100, got 101/,
  ],
  [
    "maxAttempts 1e300",
    { endpoints: [ok], maxAttempts: 1e300 },
    /options\.maxAttempts must be an integer from 1 to 100, got 1e\+300/,
  ],
  [
    "failureThreshold 1001",
    { endpoints: [ok], breaker: { failureThreshold: 1_001 } },
    /options\.breaker\.failureThreshold must be an integer from 1 to 1000, got 1001/,
  ],
  [
    "failureThreshold Infinity",
    { endpoints: [ok], breaker: { failureThreshold: Infinity } },
    /options\.breaker\.failureThreshold must be an integer from 1 to 1000, got Infinity/,
  ],
  [
    "priority -1",
    { endpoints: [{ ...ok, priority: -1 }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got -1/,
  ],
  [
    "priority 1e300",
    { endpoints: [{ ...ok, priority: 1e300 }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got 1e\+300/,
  ],
  [
    "priority 1.5",
    { endpoints: [{ ...ok, priority: 1.5 }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got 1\.5/,
  ],
  [
    "priority 1001",
    { endpoints: [{ ...ok, priority: 1_001 }] },
    /options\.endpoints\[0\]\.priority must be an integer from 0 to 1000, got 1001/,
  ],
  [
    "weight above 1e6",
    { endpoints: [{ ...ok, weight: 1_000_000.5 }] },
    /options\.endpoints\[0\]\.weight must be a finite number from 0 to 1000000, got 1000000\.5/,
  ],
  [
    "bufferLimit 0",
    { endpoints: [ok], bufferLimit: 0 },
    /options\.bufferLimit must be an integer from 1 to 1073741824, got 0/,
  ],
  [
    "bufferLimit 1.5",
    { endpoints: [ok], bufferLimit: 1.5 },
    /options\.bufferLimit must be an integer from 1 to 1073741824, got 1\.5/,
  ],
  [
    "bufferLimit 2 ** 30 + 1",
    { endpoints: [ok], bufferLimit: 2 ** 30 + 1 },
    /options\.bufferLimit must be an integer from 1 to 1073741824, got 1073741825/,
  ],
  [
    "bufferLimit true",
    { endpoints: [ok], bufferLimit: true },
    /options\.bufferLimit must be an integer from 1 to 1073741824, got true/,
  ],
  [
    "bufferLimit string",
    { endpoints: [ok], bufferLimit: "8mb" },
    /options\.bufferLimit must be an integer from 1 to 1073741824, got "8mb"/,
  ],
  [
    "authFailure true",
    { endpoints: [ok], authFailure: true },
    /options\.authFailure must be an object or false, got true/,
  ],
  [
    "unknown authFailure key",
    { endpoints: [ok], authFailure: { cooldown: 5 } },
    /options\.authFailure\.cooldown is not a known option \(known: bench\)/,
  ],
  [
    "endpoint healthCheck true",
    { endpoints: [{ ...ok, healthCheck: true }] },
    /options\.endpoints\[0\]\.healthCheck must be an object or false, got true/,
  ],
  [
    "endpoint healthCheck null",
    { endpoints: [{ ...ok, healthCheck: null }] },
    /options\.endpoints\[0\]\.healthCheck must be an object or false, got null/,
  ],
  [
    "endpoint healthCheck interval",
    { endpoints: [{ ...ok, healthCheck: { interval: 5 } }] },
    /options\.endpoints\[0\]\.healthCheck\.interval is not a known option \(known: path\)/,
  ],
  [
    "endpoint healthCheck absolute path",
    { endpoints: [{ ...ok, healthCheck: { path: "https://x/health" } }] },
    /options\.endpoints\[0\]\.healthCheck\.path must be a path relative to the endpoint's url/,
  ],
  [
    "endpoint healthCheck numeric path",
    { endpoints: [{ ...ok, healthCheck: { path: 5 } }] },
    /options\.endpoints\[0\]\.healthCheck\.path must be a path relative to the endpoint's url, got 5/,
  ],
  [
    "unknown option lists the new ones",
    { endpoints: [ok], minPerSecond: 1 },
    /\(known: endpoints, strategy, timeout, totalTimeout, streamIdleTimeout, bufferLimit, authFailure, maxAttempts,/,
  ],
];

// What a rejected value is shown as, exactly.
BOUNDS.push(
  [
    "an array shown as an array",
    { endpoints: [ok], breaker: [] },
    /^ky-failover: options\.breaker must be an object or false, got an array$/,
  ],
  [
    "an object shown as an object",
    { endpoints: [ok], timeout: {} },
    /^ky-failover: options\.timeout must be a number of milliseconds from 1 to 2147483647, got an object$/,
  ],
  [
    'a url starting with "@" shows only what follows it',
    { endpoints: [{ name: "a", url: "@x/v1" }] },
    /^ky-failover: options\.endpoints\[0\]\.url must be an absolute http\(s\) URL, got "…@x\/v1"$/,
  ],
  [
    'a url starting with "?" before an "@" shows nothing of it',
    { endpoints: [{ name: "a", url: "?k=sk-secret@x" }] },
    /^ky-failover: options\.endpoints\[0\]\.url must be an absolute http\(s\) URL, got "…"$/,
  ],
  [
    "a url with a user name only",
    { endpoints: [{ name: "a", url: "https://sk-secret@x/v1" }] },
    /^ky-failover: options\.endpoints\[0\]\.url must not embed credentials; use apiKey or headers$/,
  ],
  [
    "a url with a password only",
    { endpoints: [{ name: "a", url: "https://:sk-secret@x/v1" }] },
    /^ky-failover: options\.endpoints\[0\]\.url must not embed credentials; use apiKey or headers$/,
  ],
);

for (const [label, options, pattern] of BOUNDS) {
  test(`invalid options: ${label}`, () => rejects(options, pattern));
}

test("valid options: numbers at their bounds and the new sections", () => {
  const cases: Record<string, unknown>[] = [
    { maxAttempts: 1 },
    { maxAttempts: 100 },
    { breaker: { failureThreshold: 1 } },
    { breaker: { failureThreshold: 1_000 } },
    { rateLimit: { fallbackDelay: 0 } },
    { rateLimit: { fallbackDelay: 1 } },
    { rateLimit: { fallbackDelay: 2_147_483_647 } },
    { bufferLimit: 1 },
    { bufferLimit: 1_073_741_824 },
    { bufferLimit: false },
    { authFailure: false },
    { authFailure: {} },
    { authFailure: null },
    { retryBudget: { ratio: 0, maxTokens: 1 } },
    { retryBudget: { ratio: 100, maxTokens: 10_000 } },
    { retryBudget: false },
  ];
  for (const options of cases) accepts({ endpoints: [ok], ...options });
  accepts({
    endpoints: [
      { ...ok, priority: 0, weight: 0 },
      { ...ok, name: "b", priority: 1_000, weight: 1_000_000 },
      { ...ok, name: "c", weight: 0.5, healthCheck: false },
      { ...ok, name: "d", healthCheck: {} },
      { ...ok, name: "e", healthCheck: { path: "/openai/deployments/x" } },
      { ...ok, name: "f", healthCheck: { path: null } },
    ],
  });
});

test("a pool of more than 100 endpoints defaults maxAttempts to 100", () => {
  const endpoints = Array.from({ length: 101 }, (_, i) => ({
    ...ok,
    name: `e${i}`,
  }));
  accepts({ endpoints });
  rejects({ endpoints, maxAttempts: 101 }, /options\.maxAttempts must be/);
});

// Header values: CR, LF, NUL, DEL, text beyond Latin-1 and surrounding
// whitespace are refused whatever the runtime's Headers would do.
const BAD_HEADER_VALUES: [string, string][] = [
  ["CRLF", "sk-secret\r\nx: 1"],
  ["LF", "sk-secret\nx"],
  ["NUL", "sk-secret\0"],
  ["DEL", "sk-secret\x7f"],
  ["ESC", "sk-secret\x1b[0m"],
  ["beyond Latin-1", "sk-secret\u20ac"],
  ["beyond Latin-1 inside", "sk-secret\u0100-x"],
  ["beyond Latin-1 first", "\u0100sk-secret"],
  ["NUL inside", "sk-secret\0-x"],
  ["emoji", "sk-secret\u{1f511}"],
  ["leading space", " sk-secret"],
  ["trailing tab", "sk-secret\t"],
];

for (const [label, value] of BAD_HEADER_VALUES) {
  test(`invalid options: apiKey with ${label}`, () =>
    rejects(
      { endpoints: [{ ...ok, apiKey: value }] },
      /^ky-failover: options\.endpoints\[0\]\.apiKey must be a non-empty string of Latin-1 text without control characters or surrounding whitespace$/,
    ));
  const hdr = value.replace("sk-secret", "hdr-secret");
  const inits: [string, unknown][] = [
    ["record", { "x-api-key": hdr }],
    ["pairs", [["x-api-key", hdr]]],
    ["Map", new Map([["x-api-key", hdr]])],
  ];
  for (const [kind, init] of inits) {
    test(`invalid options: header value with ${label} (${kind})`, () =>
      rejects(
        { endpoints: [ok, { ...ok, name: "b", headers: init }] },
        /^ky-failover: options\.endpoints\[1\]\.headers\["x-api-key"\] must be a header value: Latin-1 text without control characters or surrounding whitespace$/,
      ));
  }
}

const BAD_HEADERS: [string, unknown, RegExp][] = [
  [
    "a name with a colon",
    { "x-a:": "hdr-secret" },
    /must have names that are HTTP tokens/,
  ],
  [
    "a name beyond ASCII",
    { "x-\u00e9": "hdr-secret" },
    /must have names that are HTTP tokens/,
  ],
  [
    "an empty name",
    { "": "hdr-secret" },
    /must have names that are HTTP tokens/,
  ],
  [
    "a name holding a secret",
    [["authorization: Bearer hdr-secret", "x"]],
    /must have names that are HTTP tokens; one is not$/,
  ],
  [
    "a value that is a number",
    { "x-n": 1 },
    /headers\["x-n"\] must be a header value/,
  ],
  ["a pair of one", [["x-a"]], /headers must be valid HeadersInit/],
  [
    "a pair of three",
    [["x-a", "hdr-secret", "c"]],
    /headers must be valid HeadersInit/,
  ],
  ["a pair that is a string", ["ab"], /headers must be valid HeadersInit/],
  ["a string", "x-a: hdr-secret", /headers must be valid HeadersInit/],
  ["null", null, /headers must be valid HeadersInit/],
];

for (const [label, init, pattern] of BAD_HEADERS) {
  test(`invalid options: headers with ${label}`, () =>
    rejects({ endpoints: [{ ...ok, headers: init }] }, pattern));
}

test("valid options: header values with inner SP / HTAB and Latin-1 text", () => {
  accepts({
    endpoints: [
      { ...ok, apiKey: "sk-a b\tc\u00ff\u0080" },
      {
        ...ok,
        name: "b",
        headers: {
          "x-empty": "",
          "x-latin1": "caf\u00e9",
          "!#$%&'*+-.^_`|~09AZaz": "v",
        },
      },
      { ...ok, name: "c", headers: new Headers({ "x-api-key": "k" }) },
      { ...ok, name: "d", headers: new Map([["x-api-key", "k"]]) },
      { ...ok, name: "e", headers: [["x-a", "1"], ["X-A", "2"]] },
    ],
  });
});

test("a rejected apiKey or header value is never echoed", () => {
  const secret = "sk-SECRET\r\nx: 1";
  for (
    const endpoint of [
      { ...ok, apiKey: secret },
      { ...ok, headers: { "x-api-key": secret } },
      { ...ok, headers: [["x-api-key", secret]] },
    ]
  ) {
    assert.throws(
      () => createFailover({ endpoints: [endpoint] } as FailoverOptions),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.ok(!error.message.includes(secret), error.message);
        assert.ok(!error.message.includes("SECRET"), error.message);
        assert.ok(!error.message.includes("x: 1"), error.message);
        return true;
      },
    );
  }
});

// A password may hold "/", "?", "#" or "@"; the URL then fails to parse or
// parses oddly. No part of the user info or the query may show.
const SECRET_URLS: [string, RegExp][] = [
  [
    "https://user:SE/CRET@host/v1",
    /url must be an absolute http\(s\) URL, got "https:\/\/…@host\/v1"$/,
  ],
  [
    "https://user:SE#CRET@host/v1",
    /url must be an absolute http\(s\) URL, got "https:\/\/…@host\/v1"$/,
  ],
  [
    "https://user:SE/CR@ET@host/v1?key=CRET",
    /url must be an absolute http\(s\) URL, got "https:\/\/…@host\/v1\?…"$/,
  ],
  // The "?" may start the query, so what follows the last "@" may be query.
  [
    "https://user:SE?CRET@host/v1",
    /url must be an absolute http\(s\) URL, got "https:\/\/…"$/,
  ],
  // (An out-of-range port: a URL no runtime parses — Chromium accepts a
  // space in a host.)
  [
    "https://host:99999/v1?key=a@CRET",
    /url must be an absolute http\(s\) URL, got "https:\/\/…"$/,
  ],
  [
    "https//user:SE/CRET@host/v1?k=CRET",
    /url must be an absolute http\(s\) URL, got "https\/\/…@host\/v1\?…"$/,
  ],
  [
    "user:SECRET@host/v1",
    /url must use http: or https:$/,
  ],
  [
    "https://host:99999/v1?key=CRET",
    /url must be an absolute http\(s\) URL, got "https:\/\/host:99999\/v1\?…"$/,
  ],
  // Parses (WHATWG takes the last "@"): refused without echo.
  ["https://user:SE@CRET@host/v1", /url must not embed credentials/],
  // Parses as host "user", port 12345, path "/CRET@host/v1".
  ["https://user:12345/CRET@host/v1", /url must not have "@" in its path/],
];

for (const [url, pattern] of SECRET_URLS) {
  test(`invalid options: url ${JSON.stringify(url)} shows no user info or query`, () => {
    assert.throws(
      () => createFailover({ endpoints: [{ name: "a", url }] }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^ky-failover: options\.endpoints\[0\]\./);
        assert.match(error.message, pattern);
        for (const part of ["user", "SE", "CRET", "12345"]) {
          assert.ok(!error.message.includes(part), error.message);
        }
        return true;
      },
    );
  });
}

test('valid options: a query with "@" is kept and a %40 path is allowed', () => {
  accepts({
    endpoints: [
      { ...ok, url: "https://a.example.ai/v1?user=a@b" },
      { ...ok, name: "b", url: "https://b.example.ai/v1/models%40x" },
    ],
  });
});
