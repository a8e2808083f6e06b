// The Redis store (`ky-failover/redis`) against a real redis-server that
// each test starts on a free loopback port (tests/_redis_server.ts): pools
// share failures, open breakers and benches through it, a pool that starts
// later reads what holds, one probe per cooldown for the fleet (its lock),
// an outage fails no call and is told in `store` events, Redis back → the
// state is told again within a second, no password anywhere, and close()
// leaves nothing open. The pools run on the real clock (Redis' expiries
// are real); every wait polls with a deadline.

import { assert, test } from "./_harness.ts";
import { type RedisServer, startRedis } from "./_redis_server.ts";
import {
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  type Feature,
  type Pool,
} from "ky-failover/core";
import { models } from "ky-failover/models";
import { usage } from "ky-failover/usage";
import { call, Net, statusOf, storeEvents } from "./_shared_fleet.ts";
import { sharedState, type Store } from "ky-failover/shared";
import { redisStore } from "ky-failover/redis";

const ENDPOINTS: EndpointOptions[] = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];
const BREAKER = { failureThreshold: 3, cooldown: 10_000, maxCooldown: 60_000 };

interface Member {
  name: string;
  pool: Pool;
  store: Store;
  events: FailoverEvent[];
}

/** Pools on one Redis, each with its own store; `close()` ends them all. */
class Fleet {
  readonly net = new Net();
  readonly members: Member[] = [];
  readonly server: RedisServer;
  readonly namespace: string;
  constructor(server: RedisServer, namespace = randomName()) {
    this.server = server;
    this.namespace = namespace;
  }

  add(
    name: string,
    options: {
      url?: string;
      breaker?: typeof BREAKER;
      connectTimeout?: number;
      endpoints?: EndpointOptions[];
      features?: Feature[];
    } = {},
  ): Member {
    const events: FailoverEvent[] = [];
    const store = redisStore({
      url: options.url ?? this.server.url,
      namespace: this.namespace,
      connectTimeout: options.connectTimeout,
    });
    const pool = createPool({
      endpoints: options.endpoints ?? ENDPOINTS,
      breaker: options.breaker ?? BREAKER,
      fetch: this.net.fetchFor(name),
      onEvent: (e) => void events.push(e),
      features: [
        ...options.features ?? [],
        sharedState({ store, timeout: 500 }),
      ],
    });
    const member = { name, pool, store, events };
    this.members.push(member);
    return member;
  }

  /** Resolves once `count` stores of this fleet are subscribed. */
  subscribed(count = this.members.length): Promise<number> {
    return until(`${count} subscribers`, async () => {
      const reply = await this.server.command(
        "PUBSUB",
        "NUMSUB",
        `ky-failover:${this.namespace}:facts`,
      ) as [string, number];
      return reply[1] >= count;
    });
  }

  /**
   * Closes every pool, and only that: `pool.close()` resolves once its
   * store let go of its connections (Deno's sanitizers check the rest).
   */
  async close(): Promise<void> {
    await Promise.all(this.members.map(({ pool }) => pool.close()));
  }
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `test-${Array.from(bytes, (b) => b.toString(16)).join("")}`;
}

/** Polls `predicate` every 10 ms until it holds; fails after `ms`. */
async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<number> {
  const start = Date.now();
  const deadline = start + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Runs `fn` with a fresh redis-server and fleet; stops both after. */
async function withRedis(
  fn: (fleet: Fleet, server: RedisServer) => Promise<void>,
  options: { password?: string } = {},
): Promise<void> {
  const server = await startRedis(options);
  const fleet = new Fleet(server);
  try {
    await fn(fleet, server);
  } finally {
    await fleet.close();
    await server.stop();
  }
}

/** Three failed calls through `member` (r1 503, r2 answers): r1 opens there. */
async function openR1(fleet: Fleet, member: Member): Promise<void> {
  fleet.net.answers.set("r1", { status: 503 });
  for (let i = 0; i < 3; i++) assert.equal(await call(member), 200);
  assert.equal(statusOf(member).state, "open");
}

// ------------------------------------------------------------------ tests

test("redis: A's failures open B's breaker; B sends r1 nothing", async () => {
  await withRedis(async (fleet) => {
    const a = fleet.add("A");
    const b = fleet.add("B");
    await fleet.subscribed();
    await openR1(fleet, a);
    await until("B's r1 open", () => statusOf(b).state === "open");
    const gap = Math.abs(statusOf(b).availableAt! - statusOf(a).availableAt!);
    assert.ok(gap < 500, `B's breaker ends ${gap} ms away from A's`);
    for (let i = 0; i < 3; i++) assert.equal(await call(b), 200);
    assert.equal(fleet.net.count("r1", { pool: "B" }), 0);
    // Redis was there all along: no store event (none at start either).
    assert.deepEqual([...storeEvents(a), ...storeEvents(b)], []);
    assert.equal(fleet.net.count("r2", { pool: "B" }), 3);
  });
});

test("redis: a bench is shared with its remaining time, kept in Redis with that TTL", async () => {
  await withRedis(async (fleet, server) => {
    const a = fleet.add("A");
    const b = fleet.add("B");
    await fleet.subscribed();
    fleet.net.answers.set("r1", {
      status: 429,
      headers: { "retry-after": "30" },
    });
    assert.equal(await call(a), 200);
    assert.equal(statusOf(a).state, "rate-limited");
    await until(
      "B's r1 rate-limited",
      () => statusOf(b).state === "rate-limited",
    );
    const gap = Math.abs(statusOf(b).availableAt! - statusOf(a).availableAt!);
    assert.ok(gap < 500, `B's bench ends ${gap} ms away from A's`);
    const ttl = await server.command(
      "PTTL",
      `ky-failover:${fleet.namespace}:holds:r1:rate-limited`,
    ) as number;
    assert.ok(ttl > 28_000 && ttl <= 30_000, `PTTL ${ttl}`);
    // A shorter bench does not shorten what is kept.
    await b.store.publish({
      from: "x",
      endpoint: "r1",
      fact: { type: "bench", bench: "rate-limited", remainingMs: 1_000 },
    });
    const after = await server.command(
      "PTTL",
      `ky-failover:${fleet.namespace}:holds:r1:rate-limited`,
    ) as number;
    assert.ok(after > 28_000, `PTTL ${after} after a shorter bench`);
  });
});

test("redis: a pool started later reads what holds, with Redis' remaining time", async () => {
  await withRedis(async (fleet) => {
    const a = fleet.add("A");
    await fleet.subscribed();
    await openR1(fleet, a);
    const store = redisStore({
      url: fleet.server.url,
      namespace: fleet.namespace,
    });
    try {
      await until(
        "the open breaker kept",
        async () => (await store.recent()).some((m) => m.fact.type === "open"),
      );
      const [held] = (await store.recent()).filter((m) =>
        m.fact.type === "open"
      );
      assert.equal(held.endpoint, "r1");
      const left = (held.fact as { remainingMs: number }).remainingMs;
      assert.ok(left > 8_000 && left <= 10_000, `remainingMs ${left}`);
    } finally {
      await store.close();
    }
    const c = fleet.add("C");
    await until("C's r1 open", () => statusOf(c).state === "open");
    const gap = Math.abs(statusOf(c).availableAt! - statusOf(a).availableAt!);
    assert.ok(gap < 500, `C's breaker ends ${gap} ms away from A's`);
    assert.equal(await call(c), 200);
    assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
  });
});

test("redis: a missing model and a budget's spending are shared; a pool started later knows the model and the budget that ran out", async () => {
  const budgeted = ENDPOINTS.map((e) =>
    e.name === "r1" ? { ...e, budget: { usd: 1, window: 60_000 } } : e
  );
  const features = () => [
    models(),
    usage({ prices: { "gpt-4.1": { input: 1, output: 1 } } }),
  ];
  await withRedis(async (fleet) => {
    const a = fleet.add("A", { endpoints: budgeted, features: features() });
    const b = fleet.add("B", { endpoints: budgeted, features: features() });
    await fleet.subscribed();
    fleet.net.answers.set("r1", {
      status: 404,
      body: {
        error: {
          message: "The model `gpt-x` does not exist",
          code: "model_not_found",
        },
      },
    });
    assert.equal(await call(a, "gpt-x"), 200);
    await until(
      "B learns gpt-x",
      () => statusOf(b).models?.notFound?.includes("gpt-x") === true,
    );
    // $0.50 a call: one on A, one on B exhaust the fleet's $1 on r1.
    fleet.net.answers.set("r1", {
      status: 200,
      body: {
        model: "gpt-4.1",
        usage: { prompt_tokens: 250_000, completion_tokens: 250_000 },
      },
    });
    assert.equal(await call(a, "gpt-4.1"), 200);
    await until(
      "B counts A's spending",
      () => statusOf(b).usage?.budget?.spentUsd === 0.5,
    );
    assert.equal(await call(b, "gpt-4.1"), 200);
    await until(
      "A's budget out",
      () => statusOf(a).usage?.budget?.exhausted === true,
    );
    const c = fleet.add("C", { endpoints: budgeted, features: features() });
    await until(
      "C knows both",
      () =>
        statusOf(c).usage?.budget?.exhausted === true &&
        statusOf(c).models?.notFound?.includes("gpt-x") === true,
    );
    const gap = Math.abs(
      statusOf(c).usage!.budget!.until! - statusOf(b).usage!.budget!.until!,
    );
    assert.ok(gap < 500, `C's budget ends ${gap} ms away from B's`);
    fleet.net.answers.delete("r1");
    assert.equal(await call(c, "gpt-4.1"), 200);
    assert.equal(await call(c, "gpt-x"), 200);
    assert.equal(fleet.net.count("r1", { pool: "C" }), 0);
  });
});

test("redis: one probe for a fleet of 3 when r1's breaker cools down (the lock)", async () => {
  await withRedis(async (fleet) => {
    const breaker = { ...BREAKER, cooldown: 300 };
    const members = ["A", "B", "C"].map((n) => fleet.add(n, { breaker }));
    await fleet.subscribed();
    await openR1(fleet, members[0]);
    await until(
      "r1 open everywhere",
      () => members.every((m) => statusOf(m).state === "open"),
    );
    fleet.net.answers.set("r1", { status: 200 });
    await until(
      "r1 healthy everywhere",
      () => members.every((m) => statusOf(m).state === "healthy"),
      5_000,
    );
    assert.equal(fleet.net.count("r1", { path: "/models" }), 1);
  });
});

test("redis: Redis down mid-run fails no call and holds none up, says so; back → up and re-synced", async () => {
  await withRedis(async (fleet, server) => {
    // A connect timeout far longer than any call may take: a call that
    // waited on Redis would show it (the 1 s target is bench/shared_bench.ts').
    const a = fleet.add("A", { connectTimeout: 10_000 });
    const b = fleet.add("B", { connectTimeout: 10_000 });
    await fleet.subscribed();
    for (let i = 0; i < 3; i++) assert.equal(await call(a), 200);
    await server.stop();
    await until("A's store down", () => storeEvents(a).some((e) => !e.up));
    assert.deepEqual(storeEvents(a), [{ store: "redis", up: false }]);
    // Calls neither fail nor wait on Redis; r1's failures open A's breaker.
    fleet.net.answers.set("r1", { status: 503 });
    for (let i = 0; i < 5; i++) {
      const start = Date.now();
      assert.equal(await call(a), 200);
      assert.equal(await call(b), 200);
      assert.ok(Date.now() - start < 5_000, "a call waited on Redis");
    }
    assert.equal(statusOf(a).state, "open");
    await server.start();
    await until(
      "A's and B's stores up",
      () => [a, b].every((m) => storeEvents(m).at(-1)?.up === true),
    );
    await until("the open breaker told again", async () =>
      await server.command(
        "EXISTS",
        `ky-failover:${fleet.namespace}:holds:r1:open`,
      ) === 1);
    // B had its own failures of r1 too; it is open either way, until A's end.
    await until("B's r1 open", () => statusOf(b).state === "open");
    assert.deepEqual(storeEvents(a), [
      { store: "redis", up: false },
      { store: "redis", up: true },
    ]);
  });
});

test("redis: a URL's password appears in no error and no event", async () => {
  const password = "s3cr3t-Pa55word";
  await withRedis(async (fleet, server) => {
    assert.ok(server.url.includes(password));
    const a = fleet.add("A");
    const b = fleet.add("B");
    const wrong = fleet.add("W", {
      url: server.url.replace(password, "wr0ng-Pa55word"),
    });
    await fleet.subscribed(2);
    await openR1(fleet, a);
    await until("B's r1 open", () => statusOf(b).state === "open");
    const errors: unknown[] = [];
    for (const store of [wrong.store]) {
      await store.lock("probe:r1", 100).catch((e) => errors.push(e));
      await store.recent().catch((e) => errors.push(e));
    }
    assert.ok(errors.length >= 1);
    await server.stop();
    for (let i = 0; i < 3; i++) await call(wrong);
    await until("A's store down", () => storeEvents(a).some((e) => !e.up));
    await a.store.publish({
      from: "x",
      endpoint: "r1",
      fact: { type: "failure" },
    })
      .catch((e) => errors.push(e));
    for (
      const bad of ["http://u:" + password + "@x", "redis://u:" + password]
    ) {
      try {
        redisStore({ url: bad + "@" });
      } catch (e) {
        errors.push(e);
      }
    }
    const seen = JSON.stringify([
      ...fleet.members.flatMap((m) => m.events),
      ...errors.map((e) => [String(e), (e as Error).stack]),
    ]);
    for (const secret of [password, "wr0ng-Pa55word"]) {
      assert.ok(!seen.includes(secret), `${secret} in ${seen}`);
    }
  }, { password });
});

test("redis: close() quits its connections, even with Redis down; never the user's client", async () => {
  const { createClient } = await import("redis");
  await withRedis(async (fleet, server) => {
    const clients = async () =>
      String(await server.command("CLIENT", "LIST")).trim().split("\n").length;
    const baseline = await clients(); // the command's own connection
    const a = fleet.add("A");
    await fleet.subscribed();
    assert.equal(await clients(), baseline + 2);
    const user = createClient({ url: server.url });
    user.on("error", () => {});
    await user.connect();
    const store = redisStore({ client: user, namespace: fleet.namespace });
    const other = redisStore({ client: user, namespace: fleet.namespace });
    try {
      assert.equal(await store.lock("k", 1_000), true);
      // The holder holds it again (the fleet's prober probes each
      // cooldown); another store does not get it.
      assert.equal(await store.lock("k", 1_000), true);
      assert.equal(await other.lock("k", 1_000), false);
      await other.close();
      await until(
        "4 clients",
        async () => await clients() === baseline + 4,
        10_000,
      );
      await store.close();
      await fleet.close();
      await until(
        "the user's client only",
        async () => await clients() === baseline + 1,
        10_000,
      );
      assert.equal(await user.sendCommand(["PING"]), "PONG");
    } finally {
      // Whatever failed above, nothing may keep the process alive.
      await Promise.allSettled([other.close(), store.close()]);
      if (user.isOpen) await user.close();
    }
    // Redis down: close() does not wait for it — far less than the
    // store's connect timeout (a close that waited would take that long).
    const b = fleet.add("B", { connectTimeout: 10_000 });
    await fleet.subscribed(1);
    await server.stop();
    await until("B's store down", () => storeEvents(b).some((e) => !e.up));
    const start = Date.now();
    await b.pool.close();
    assert.ok(
      Date.now() - start < 5_000,
      `close took ${Date.now() - start} ms`,
    );
    void a;
  });
});

test("redis: options are checked, naming the field", () => {
  const problems: [unknown, RegExp][] = [
    [{}, /redisStore needs either a url or a client/],
    [{ url: "http://x" }, /redisStore\.url must be a redis:\/\//],
    [{ url: "redis://x", client: {} }, /redisStore\.client must be/],
    [{ url: "redis://x", namespace: "" }, /redisStore\.namespace/],
    [{ url: "redis://x", connectTimeout: 0 }, /redisStore\.connectTimeout/],
    [{ url: "redis://x", nope: 1 }, /redisStore\.nope is not a known option/],
  ];
  for (const [options, message] of problems) {
    assert.throws(
      () => redisStore(options as Parameters<typeof redisStore>[0]),
      message,
    );
  }
});

test("redis: without redis-server the tests say to install it", async () => {
  // Under `deno test --allow-run=redis-server`, another path is not allowed.
  const deno = (globalThis as {
    Deno?: {
      permissions: {
        querySync(p: { name: "run"; command: string }): { state: string };
      };
    };
  }).Deno;
  if (
    deno?.permissions.querySync({
        name: "run",
        command: "/nonexistent/redis-server",
      }).state !== undefined &&
    deno.permissions.querySync({
        name: "run",
        command: "/nonexistent/redis-server",
      }).state !== "granted"
  ) return;
  await assert.rejects(
    startRedis({ binary: "/nonexistent/redis-server" }),
    /not found: .*install it \(Debian\/Ubuntu: apt-get install redis-server/,
  );
});
