/**
 * A Redis store for `sharedState()`: the instances of a pool on many
 * machines — processes, containers, serverless functions — share what they
 * learn through one Redis server, with the
 * [`redis`](https://www.npmjs.com/package/redis) client (node-redis 6, an
 * optional peer dependency: `npm install redis`).
 *
 * Each fact is published on the channel `ky-failover:<namespace>:facts`;
 * what still holds (open breakers, benches) is also kept in
 * `ky-failover:<namespace>:holds:<endpoint>:<kind>` keys that expire when
 * it ends, so that an instance that starts later reads it, each with the
 * time it has left by Redis' own clock. The fleet's probe of a cooled-down
 * endpoint takes `ky-failover:<namespace>:lock:probe:<endpoint>` (`SET NX
 * PX`).
 *
 * Redis is never in a call's way: commands are not queued while it cannot
 * be reached (they fail at once and the pool goes on with what it knows
 * itself), the client reconnects by itself, and the store tells the pool
 * when Redis is gone and when it is back. No error or event carries the
 * URL's user or password.
 *
 * @example One view of the pool across every process of the app
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { sharedState } from "@ky-failover/ky-failover/shared";
 * import { redisStore } from "@ky-failover/ky-failover/redis";
 *
 * // Not run here: it connects to Redis.
 * function poolForThisProcess() {
 *   return createPool({
 *     endpoints: [
 *       { name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" },
 *       { name: "backup", url: "https://eu.example.ai/v1", apiKey: "sk-b" },
 *     ],
 *     features: [sharedState({ store: redisStore({ url: "redis://cache.internal:6379", namespace: "my-app" }) })],
 *   });
 * }
 * console.assert(typeof poolForThisProcess === "function");
 * ```
 *
 * @module
 */

import { createClient } from "redis";
import { holdOf, type SharedMessage, type Store } from "../shared/_store.ts";
import { check, fail, optional, range, rule } from "../_validate.ts";

/**
 * The part of a node-redis client (`createClient()` from `redis`, version
 * 5 or 6) that the store uses.
 *
 * @example
 * ```ts
 * import type { RedisClientLike } from "@ky-failover/ky-failover/redis";
 *
 * const isClient = (v: Partial<RedisClientLike>) => typeof v.sendCommand === "function";
 * console.assert(!isClient({}));
 * ```
 */
export interface RedisClientLike {
  /** Whether it is connected and ready for commands. */
  readonly isReady: boolean;
  /** A new client with the same options (for the subscription). */
  duplicate(overrides?: { disableOfflineQueue?: boolean }): RedisClientLike;
  /** Connects. */
  connect(): Promise<unknown>;
  /** Sends one command. */
  sendCommand(args: string[]): Promise<unknown>;
  /** Subscribes to `channel`. */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  /** Listens to `error`, `ready`, `end`. */
  on(event: string, listener: () => void): unknown;
  /** Stops listening. */
  off(event: string, listener: () => void): unknown;
  /** Quits once pending commands have their replies. */
  close(): Promise<unknown>;
  /** Closes the connection at once. */
  destroy(): void;
}

/**
 * Options of {@linkcode redisStore}: a `url` or a `client`.
 *
 * @example
 * ```ts
 * import type { RedisStoreOptions } from "@ky-failover/ky-failover/redis";
 *
 * const options: RedisStoreOptions = { url: "redis://cache.internal:6379", namespace: "my-app" };
 * ```
 */
export interface RedisStoreOptions {
  /**
   * Where Redis is: `redis://[user:password@]host[:port][/db]` or
   * `rediss://…` (TLS). The store makes its own client and quits it on
   * `close()`.
   */
  url?: string | undefined;
  /**
   * A node-redis client you already have (connected, or connecting). The
   * store sends its commands through it and subscribes on a duplicate of
   * it; `close()` quits the duplicate only, never your client.
   */
  client?: RedisClientLike | undefined;
  /**
   * Keeps pools apart on one server: keys and channel under
   * `ky-failover:<namespace>:`. Default `"default"`.
   */
  namespace?: string | undefined;
  /**
   * Longest wait for Redis, in ms: to connect (and reconnect), and for an
   * answer. Default `1_000`.
   */
  connectTimeout?: number | undefined;
}

/** Keeps what holds, if longer than what is kept; then publishes. */
const HOLD = `local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return redis.call('PUBLISH', ARGV[3], ARGV[1])`;

/** Ends what a healthy answer ends (open breaker, health benches); publishes. */
const HEAL = `redis.call('DEL', unpack(KEYS))
return redis.call('PUBLISH', ARGV[2], ARGV[1])`;

/** Each key's value and remaining time. */
const READ = `local out = {}
for i, key in ipairs(KEYS) do out[i] = { redis.call('GET', key) or '', redis.call('PTTL', key) } end
return out`;

/** Longest reconnect delay: Redis back → the store up within it. */
const MAX_RECONNECT_MS = 500;

/** Takes a lock that is free, or holds one this store has for longer. */
const LOCK = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) " +
  "then return 1 end " +
  "if redis.call('GET', KEYS[1]) == ARGV[1] then " +
  "redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0";

/** A random id (for the lock's value). */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `text` with the characters of a SCAN MATCH pattern escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function isUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return (url.protocol === "redis:" || url.protocol === "rediss:") &&
      url.hostname !== "";
  } catch {
    return false;
  }
}

function isClient(value: unknown): value is RedisClientLike {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return ["duplicate", "connect", "sendCommand", "on", "off", "destroy"]
    .every((k) => typeof c[k] === "function");
}

/** The error every failed operation rejects with: never Redis' own text. */
function unreachable(why: string): Error {
  return new Error(`ky-failover: the redis store ${why}`);
}

/**
 * A store on Redis, for `sharedState()` (see the module documentation).
 * Give it a `url` or a `client`; it connects in the background and never
 * throws into the pool. Invalid options throw a `TypeError` naming the
 * field (`redisStore.url` …), with no password in it.
 *
 * @example Options are checked at once (nothing connects here)
 * ```ts
 * import { redisStore } from "@ky-failover/ky-failover/redis";
 *
 * let message = "";
 * try {
 *   redisStore({ url: "http://user:secret@cache.internal" });
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.includes("redisStore.url"));
 * console.assert(!message.includes("secret"));
 * ```
 *
 * @example With a client the app already has (not run here: it connects)
 * ```ts
 * import { createClient } from "redis";
 * import { redisStore } from "@ky-failover/ky-failover/redis";
 *
 * async function storeOnAppClient() {
 *   const client = await createClient({ url: "redis://cache.internal:6379" }).connect();
 *   return redisStore({ client, namespace: "my-app" });
 * }
 * console.assert(typeof storeOnAppClient === "function");
 * ```
 */
export function redisStore(options: RedisStoreOptions): Store {
  const { url, client, namespace, connectTimeout } = check<{
    url: string | undefined;
    client: RedisClientLike | undefined;
    namespace: string;
    connectTimeout: number;
  }>(options, {
    url: [
      optional(rule(isUrl, "a redis:// or rediss:// URL")),
      undefined,
      true,
    ],
    client: [
      optional(rule(isClient, "a node-redis client (createClient())")),
      undefined,
      true,
    ],
    namespace: [
      rule((v) => typeof v === "string" && v !== "", "a non-empty string"),
      "default",
      true,
    ],
    connectTimeout: [
      range(1, 60_000, "a number of milliseconds"),
      1_000,
      true,
    ],
  }, "redisStore");
  if ((url === undefined) === (client === undefined)) {
    fail("redisStore", "needs either a url or a client (one of them)");
  }

  const prefix = `ky-failover:${namespace}:`;
  const channel = `${prefix}facts`;
  const holds = `${prefix}holds:`;
  const lockId = randomId();

  let cmd: RedisClientLike;
  if (url !== undefined) {
    try {
      cmd = createClient({
        url,
        disableOfflineQueue: true,
        socket: {
          connectTimeout,
          reconnectStrategy: (retries: number) =>
            Math.min(50 * 2 ** retries, MAX_RECONNECT_MS),
        },
      }) as unknown as RedisClientLike;
    } catch {
      fail("redisStore.url", "is not a URL the redis client accepts");
    }
  } else {
    cmd = client!;
  }
  const owned = url !== undefined;
  const sub = cmd.duplicate({ disableOfflineQueue: false });

  let closed = false;
  let closing: Promise<void> | undefined;
  let up = true;
  let everReady = cmd.isReady;
  /** Whether both connections were ready once. */
  let everUp = false;
  let listener: ((message: SharedMessage) => void) | undefined;
  const statusListeners: ((up: boolean) => void)[] = [];
  /** Waits for the first connection: each told when it comes, or on `close()`. */
  const waits = new Set<(ok: boolean) => void>();

  function update(): void {
    if (closed) return;
    if (cmd.isReady) {
      everReady = true;
      for (const done of [...waits]) done(true);
    }
    const now = cmd.isReady && sub.isReady;
    if (now) everUp = true;
    if (now === up) return;
    // Not "down" before both connections came: they are still coming.
    if (!now && !everUp) return;
    up = now;
    for (const l of statusListeners) {
      try {
        l(now);
      } catch { /* a listener's problem is not the store's */ }
    }
  }
  const onError = () => update();
  const onReady = () => update();
  for (const c of [cmd, sub]) {
    c.on("error", onError);
    c.on("ready", onReady);
    c.on("end", onError);
  }

  function receive(text: string): void {
    if (closed || listener === undefined) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message === "object" && message !== null) {
      listener(message as SharedMessage);
    }
  }

  if (owned) cmd.connect().catch(() => {});
  sub.connect()
    .then(() => sub.subscribe(channel, receive))
    .catch(() => {});

  /** Resolves with whether `cmd` got ready within `connectTimeout`. */
  function firstReady(): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        if (!waits.delete(done)) return;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), connectTimeout);
      waits.add(done);
    });
  }

  /** Sends a command; rejects at once when Redis is not there. */
  async function run(args: string[]): Promise<unknown> {
    if (closed) throw unreachable("is closed");
    if (!cmd.isReady && (everReady || !(await firstReady()))) {
      throw unreachable("cannot be reached");
    }
    if (closed) throw unreachable("is closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = () => clearTimeout(timer);
    try {
      return await Promise.race([
        cmd.sendCommand(args),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(unreachable("did not answer in time")),
            connectTimeout,
          );
        }),
      ]);
    } catch (error) {
      throw error instanceof Error && error.message.startsWith("ky-failover:")
        ? error
        : unreachable("cannot be reached");
    } finally {
      end();
    }
  }

  async function publish(message: SharedMessage): Promise<void> {
    const text = JSON.stringify(message);
    const { endpoint, fact } = message;
    const hold = holdOf(fact);
    if (hold !== undefined) {
      const ttl = Math.ceil(hold.remainingMs);
      if (ttl >= 1) {
        await run([
          "EVAL",
          HOLD,
          "1",
          `${holds}${endpoint}:${hold.name}`,
          text,
          String(ttl),
          channel,
        ]);
        return;
      }
    } else if (fact.type === "success") {
      const keys = ["open", "unhealthy", "unauthorized"].map((kind) =>
        `${holds}${endpoint}:${kind}`
      );
      await run(["EVAL", HEAL, String(keys.length), ...keys, text, channel]);
      return;
    }
    await run(["PUBLISH", channel, text]);
  }

  async function recent(): Promise<SharedMessage[]> {
    const out: SharedMessage[] = [];
    const pattern = `${escapeGlob(holds)}*`;
    let cursor = "0";
    // Bounded: a namespace holds a few keys per endpoint.
    for (let page = 0; page < 100; page++) {
      const [next, keys] = await run([
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "200",
      ]) as [unknown, unknown[]];
      if (Array.isArray(keys) && keys.length > 0) {
        const rows = await run([
          "EVAL",
          READ,
          String(keys.length),
          ...keys.map(String),
        ]) as [unknown, unknown][];
        for (const [value, ttl] of rows) {
          const remainingMs = Number(ttl);
          if (!(remainingMs > 0)) continue;
          try {
            const message = JSON.parse(String(value)) as SharedMessage;
            const fact = message?.fact;
            if (typeof fact !== "object" || holdOf(fact) === undefined) {
              continue;
            }
            out.push({
              ...message,
              fact: { ...message.fact, remainingMs } as SharedMessage["fact"],
            });
          } catch { /* not ours */ }
        }
      }
      cursor = String(next);
      if (cursor === "0") break;
    }
    return out;
  }

  /** Quits `c` (bounded), or drops its connection. */
  async function shut(c: RedisClientLike): Promise<void> {
    if (c.isReady) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          c.close(),
          new Promise((resolve) => timer = setTimeout(resolve, connectTimeout)),
        ]);
      } catch {
        /* dropped below */
      } finally {
        clearTimeout(timer);
      }
    }
    try {
      c.destroy();
    } catch { /* already closed */ }
  }

  return {
    kind: "redis",
    subscribe(next) {
      listener = next;
    },
    publish,
    recent,
    async lock(key, ttlMs) {
      const reply = await run([
        "EVAL",
        LOCK,
        "1",
        `${prefix}lock:${key}`,
        lockId,
        String(Math.max(1, Math.ceil(ttlMs))),
      ]);
      return reply === 1;
    },
    onStatus(next) {
      statusListeners.push(next);
    },
    close() {
      if (closing) return closing;
      closed = true;
      for (const done of [...waits]) done(false);
      if (!owned) {
        cmd.off("error", onError);
        cmd.off("ready", onReady);
        cmd.off("end", onError);
      }
      closing = Promise.all([shut(sub), owned ? shut(cmd) : undefined])
        .then(() => {});
      return closing;
    },
  };
}
