// The demo's live dashboard (scripts/dashboard/): its figures, its
// messages, and `demo.ts --web` end to end over HTTP — the page's files,
// the server-sent event stream a run pushes, and a clean stop (under Deno
// the sanitizers check that no timer, socket or server is left behind).
// The page itself, in Chromium: scripts/test_dashboard.ts.

import { request } from "node:http";
import { assert, test } from "./_harness.ts";
import {
  percentile,
  SampleWindow,
  TickCounter,
} from "../scripts/dashboard/_stats.ts";
import { RunCollector, shortReason } from "../scripts/dashboard/_collect.ts";
import { runWeb } from "../scripts/dashboard/web.ts";
import { runDemo } from "../scripts/demo.ts";

test("dashboard stats: percentiles, a sliding window of samples, counts per second over ticks", () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(percentile([10, 20, 30, 40], 50), 20);
  assert.equal(percentile([10, 20, 30, 40], 99), 40);
  assert.equal(percentile([7], 1), 7);

  const window = new SampleWindow(1000);
  window.add(30, 0);
  window.add(10, 500);
  window.add(20, 900);
  assert.deepEqual(window.percentiles(900), { p50: 20, p99: 30 });
  // The first sample is 1 s old at t = 1000: dropped.
  assert.deepEqual(window.percentiles(1000), { p50: 10, p99: 20 });
  assert.deepEqual(window.percentiles(5000), {
    p50: undefined,
    p99: undefined,
  });

  const counter = new TickCounter(2, 250);
  assert.equal(counter.perSecond(), 0);
  counter.add(5);
  assert.equal(counter.tick(), 5);
  assert.equal(counter.perSecond(), 20);
  counter.add();
  counter.tick();
  assert.equal(counter.perSecond(), 12); // 6 in 0.5 s
  counter.tick();
  assert.equal(counter.perSecond(), 2); // the first tick left the window
});

test("dashboard: a failover's reason becomes a short category, never the URL it names", () => {
  const refused =
    "TypeError: fetch failed (error sending request for url (http://127.0.0.1:44049/v1/chat/completions): client error (Connect): tcp connect error: Connection refused (os error 111))";
  assert.equal(shortReason(refused), "connection refused");
  assert.equal(
    shortReason("connect ECONNREFUSED 127.0.0.1:4000"),
    "connection refused",
  );
  assert.equal(shortReason("HTTP 500"), "HTTP 500");
  assert.equal(shortReason("HTTP 429 (retry-after 2 s)"), "HTTP 429");
  assert.equal(shortReason("timed out after 2000 ms"), "timed out");
  assert.equal(shortReason("socket hang up"), "connection reset");
  assert.equal(shortReason("https://user:sk-x@h.example/"), "network error");
});

test("dashboard: a run's messages carry names, states and numbers, and the failovers of a tick in one message", () => {
  const sent: [string, unknown][] = [];
  let now = 0;
  const collector = new RunCollector({
    run: 3,
    tickMs: 250,
    timeScale: 0.5,
    send: (type, data) => sent.push([type, data]),
    now: () => now,
    clock: () => 1_000_000 + now,
  });
  const status = [
    {
      name: "a",
      url: "http://127.0.0.1:1/v1",
      priority: 1,
      weight: 1,
      state: "open" as const,
      consecutiveFailures: 3,
      requests: 3,
      failures: 3,
      inFlight: 0,
      latencyMs: undefined,
      lastLatencyMs: undefined,
      lastError: "HTTP 500",
      lastErrorAt: 1_000_000,
      lastCheckAt: undefined,
      availableAt: 1_001_500,
      lastModel: "m",
    },
    {
      name: "b",
      url: "http://127.0.0.1:2/v1",
      priority: 2,
      weight: 1,
      state: "healthy" as const,
      consecutiveFailures: 0,
      requests: 3,
      failures: 0,
      inFlight: 1,
      latencyMs: 40,
      lastLatencyMs: 40,
      lastError: undefined,
      lastErrorAt: undefined,
      lastCheckAt: undefined,
      availableAt: undefined,
      lastModel: "m",
      usage: {
        calls: 3,
        unmetered: 0,
        inputTokens: 30,
        cachedInputTokens: 0,
        outputTokens: 9,
        costUsd: 0.000312,
        byModel: {},
      },
    },
  ];
  collector.tick(); // before the pool: nothing
  collector.start({
    endpoints: ["a", "b"],
    phases: [{ name: "p", description: "d", watch: "w", ms: 1000.4 }],
    status: () => status,
  });
  collector.phase(0, { name: "p", description: "d", watch: "w", ms: 1000 });
  for (let i = 0; i < 3; i++) {
    collector.event({
      type: "attempt",
      endpoint: "a",
      attempt: 1,
      method: "POST",
      path: "/chat/completions",
      status: 500,
      durationMs: 20,
      outcome: "failover",
      panic: false,
    });
    collector.event({
      type: "failover",
      from: "a",
      to: "b",
      attempt: 1,
      reason: "HTTP 500",
    });
    collector.event({
      type: "attempt",
      endpoint: "b",
      attempt: 2,
      method: "POST",
      path: "/chat/completions",
      status: 200,
      durationMs: 40 + i,
      outcome: "success",
      panic: false,
    });
    collector.event({
      type: "success",
      endpoint: "b",
      status: 200,
      attempts: 2,
      durationMs: 61,
    });
    collector.call(61, true);
  }
  collector.event({
    type: "breaker",
    endpoint: "a",
    from: "closed",
    to: "open",
    cooldownMs: 1500,
  });
  now = 250;
  collector.tick();

  assert.deepEqual(sent.map(([type]) => type), [
    "hello",
    "phase",
    "breaker",
    "failover",
    "snapshot",
  ]);
  assert.deepEqual(sent[0][1], {
    run: 3,
    tickMs: 250,
    timeScale: 0.5,
    endpoints: [{ name: "a", priority: 1 }, { name: "b", priority: 2 }],
    phases: [{ name: "p", description: "d", watch: "w", ms: 1000 }],
  });
  assert.deepEqual(sent[3][1], {
    run: 3,
    t: 250,
    phase: 0,
    links: [{ from: "a", to: "b", reason: "HTTP 500", count: 3 }],
  });
  const snapshot = sent[4][1] as {
    calls: number;
    failovers: number;
    costUsd: number;
    lanes: Record<string, unknown>[];
  };
  assert.equal(snapshot.calls, 3);
  assert.equal(snapshot.failovers, 3);
  assert.equal(snapshot.costUsd, 0.000312);
  assert.deepEqual(snapshot.lanes[0], {
    name: "a",
    state: "open",
    availableInMs: 1250,
    inFlight: 0,
    sent: 3,
    failed: 3,
    rps: 12,
    failedRps: 12,
    p50: null,
    p99: null,
    requests: 3,
    failures: 3,
    answered: 0,
    model: "m",
    tokensIn: 0,
    tokensOut: 0,
    costUsd: 0,
  });
  assert.deepEqual(
    [snapshot.lanes[1].p50, snapshot.lanes[1].p99, snapshot.lanes[1].answered],
    [41, 42, 3],
  );
  assert.doesNotMatch(JSON.stringify(sent), /127\.0\.0\.1|http/);
});

/** GET `path` with a `host` header of one's choosing (fetch cannot set it). */
function get(url: string, path: string, host?: string) {
  return new Promise<{ status: number; type: string; body: string }>(
    (resolve, reject) => {
      const { hostname, port } = new URL(url);
      const req = request({
        hostname,
        port,
        path,
        headers: host === undefined ? {} : { host },
      }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => body += chunk);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body,
          }));
      });
      req.on("error", reject);
      req.end();
    },
  );
}

test("demo --web: serves the page, pushes a whole run as server-sent events, and stops cleanly", async () => {
  const lines: string[] = [];
  let ready: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => ready = resolve);
  const stop = new AbortController();
  // Real time: the demo's story against loopback regions, ~6.5 s at 0.25.
  const done = runWeb({
    run: runDemo,
    port: 0,
    timeScale: 0.25,
    sigint: false,
    signal: stop.signal,
    log: (line) => {
      lines.push(line);
      const url = /^dashboard: (http:\S+)/.exec(line);
      if (url) ready(url[1]);
    },
  });
  const url = await Promise.race([
    listening,
    done.then(() => {
      throw new Error(`runWeb ended: ${lines.join("\n")}`);
    }),
  ]);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const page = await get(url, "/");
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<script src="\/page\.js" defer><\/script>/);
  assert.equal((await get(url, "/page.js")).status, 200);
  assert.match((await get(url, "/page.css")).type, /^text\/css/);
  assert.equal((await get(url, "/nope")).status, 404);
  // Another name for this machine (DNS rebinding): refused.
  assert.equal((await get(url, "/", "evil.example:80")).status, 421);
  // Nothing runs until a page watches.
  assert.deepEqual(lines.slice(1), [
    "waiting for the page: the story starts when it opens",
  ]);

  const response = await fetch(`${url}events`);
  assert.equal(response.status, 200);
  assert.match(
    response.headers.get("content-type") ?? "",
    /^text\/event-stream/,
  );
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  const messages: { type: string; data: Record<string, unknown> }[] = [];
  while (
    !messages.some((m) => m.type === "run" && m.data.state === "finished")
  ) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended:\n${text}`);
    text += value;
    const frames = text.split("\n\n");
    text = frames.pop() ?? "";
    for (const frame of frames) {
      const type = /^event: (.+)$/m.exec(frame)?.[1];
      const data = /^data: (.+)$/m.exec(frame)?.[1];
      if (type && data) messages.push({ type, data: JSON.parse(data) });
    }
  }
  stop.abort();
  // The server ends the stream as it closes.
  while (!(await reader.read()).done);
  assert.equal(await done, 0);
  assert.equal(lines.at(-1), "dashboard closed");

  const of = (type: string) =>
    messages.filter((m) => m.type === type).map((m) => m.data);
  assert.deepEqual(of("run").map((r) => r.state), [
    "waiting",
    "running",
    "finished",
  ]);
  assert.deepEqual(
    (of("hello")[0].endpoints as { name: string }[]).map((e) => e.name),
    ["primary", "hk", "sg", "deepseek"],
  );
  assert.deepEqual(of("phase").map((p) => p.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  type Lane = { name: string; state: string; rps: number; costUsd: number };
  const snapshots = of("snapshot") as {
    phase: number;
    failedCalls: number;
    lanes: Lane[];
  }[];
  const lane = (s: { lanes: Lane[] }, name: string) =>
    s.lanes.find((l) => l.name === name)!;
  // The primary leaves (open, hk takes the traffic) and comes back.
  assert.ok(
    snapshots.some((s) =>
      s.phase === 1 && lane(s, "primary").state === "open" &&
      lane(s, "hk").rps > 0
    ),
  );
  assert.ok(
    snapshots.some((s) =>
      s.phase === 2 && lane(s, "primary").state === "healthy" &&
      lane(s, "primary").rps > 0
    ),
  );
  assert.ok(
    snapshots.some((s) => lane(s, "primary").state === "rate-limited"),
  );
  assert.ok(
    of("failover").some((f) =>
      (f.links as { from: string; to: string }[]).some((l) =>
        l.from === "primary" && l.to === "hk"
      )
    ),
  );
  assert.ok(of("breaker").length >= 6);
  assert.equal(of("rate-limit").length, 2);
  const last = snapshots.at(-1)!;
  assert.equal(last.failedCalls, 0);
  assert.ok(lane(last, "deepseek").costUsd > 0);
  // Names, states and numbers: no key, no URL.
  const raw = JSON.stringify(messages);
  assert.doesNotMatch(raw, /sk-demo|127\.0\.0\.1|http:|authorization/i);
});
