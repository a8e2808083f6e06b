// A fleet of pools for the shared-state tests: pools on one manual clock
// and one fake network (each pool's own fetch records which endpoint each
// request reached), each with its own store — an in-memory hub (a real lock
// keyed with a TTL, `recent()` that keeps what a store keeps, a switch to
// take it down) or `broadcastStore` — and the helpers the tests share.

import { assert } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { turns } from "./_observe.ts";
import {
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  type Feature,
  type Pool,
  type PoolOptions,
} from "ky-failover/core";
import {
  holdOf,
  type SharedMessage,
  sharedState,
  type SharedStateOptions,
  type Store,
} from "ky-failover/shared";

/**
 * Macrotask turns that let a BroadcastChannel message and its answer
 * arrive: in Deno, Node and Bun a few; in a browser the channel goes
 * through another process (measured under 10 ms: 40 turns leave margin).
 */
export const CHANNEL_TURNS = 40;

// ------------------------------------------------------------------ network

export const ENDPOINTS: EndpointOptions[] = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];

export const BREAKER = {
  failureThreshold: 3,
  cooldown: 10_000,
  maxCooldown: 300_000,
};
/** The feature's store timeout and probe timeout in these tests. */
export const TIMEOUT = 100;
export const PROBE_TIMEOUT = 1_000;

/** One request a pool sent. */
export interface Sent {
  pool: string;
  endpoint: string;
  method: string;
  /** The path after `/v1`: `/chat/completions`, or `/models` for a probe. */
  path: string;
}

/** What an endpoint answers: a status (headers, a JSON body), or `"hang"`. */
export type Answer =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | "hang";

/** Fake fetches, one per pool, that record which endpoint each request reached. */
export class Net {
  readonly sent: Sent[] = [];
  /** Each endpoint's answer; 200 when unset. */
  readonly answers = new Map<string, Answer>();

  fetchFor(pool: string): typeof fetch {
    return (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ??
        (input instanceof Request ? input.method : "GET");
      const endpoint = url.hostname.split(".")[0];
      const path = url.pathname.replace(/^\/v1/, "");
      this.sent.push({ pool, endpoint, method, path });
      const answer = this.answers.get(endpoint) ?? { status: 200 };
      if (answer === "hang") {
        const signal = init?.signal ??
          (input instanceof Request ? input.signal : undefined);
        return new Promise((_, reject) => {
          signal?.addEventListener("abort", () => reject(signal.reason), {
            once: true,
          });
        });
      }
      return Promise.resolve(
        Response.json(answer.body ?? { ok: answer.status < 400 }, {
          status: answer.status,
          headers: answer.headers,
        }),
      );
    };
  }

  /** Requests to `endpoint` (from `pool`, on `path`). */
  count(endpoint: string, where: { pool?: string; path?: string } = {}) {
    return this.sent.filter((s) =>
      s.endpoint === endpoint &&
      (where.pool === undefined || s.pool === where.pool) &&
      (where.path === undefined || s.path === where.path)
    ).length;
  }

  /** Health probes (`GET /models`) that reached `endpoint`. */
  probes(endpoint: string, pool?: string) {
    return this.count(endpoint, { pool, path: "/models" });
  }
}

// ------------------------------------------------------------ memory store

/** How the hub answers: normally, by rejecting, or never. */
export type Mode = "up" | "down" | "hang";

/**
 * A store shared by N instances in memory: publish delivers to every
 * subscriber (the publisher too: they are told apart by `from`), `recent()`
 * keeps open breakers and benches while they hold, `lock()` is a real lock
 * with a TTL on the clock. `mode` takes it down (publish, lock and recent
 * reject) or makes it hang (they never settle).
 */
export class MemoryHub {
  readonly clock: ManualClock;
  /** Tell the instances when it goes down and up (`onStatus`). */
  readonly tells: boolean;
  #mode: Mode = "up";
  /** Every message published while up. */
  readonly published: SharedMessage[] = [];
  /** Each store's listener, by store number. */
  readonly listeners = new Map<number, (message: SharedMessage) => void>();
  readonly #statusListeners = new Set<(up: boolean) => void>();
  readonly #held = new Map<string, { message: SharedMessage; until: number }>();
  readonly #locks = new Map<string, { owner: number; until: number }>();
  /** Every lock asked for: by whom, which key, for how long, and whether granted. */
  readonly locks: { owner: number; key: string; ttl: number; got: boolean }[] =
    [];
  #stores = 0;
  closed = 0;

  constructor(clock: ManualClock, tells = false) {
    this.clock = clock;
    this.tells = tells;
  }

  get mode(): Mode {
    return this.#mode;
  }

  set mode(mode: Mode) {
    const was = this.#mode;
    this.#mode = mode;
    if (this.tells && (was === "up") !== (mode === "up")) {
      for (const listener of this.#statusListeners) listener(mode === "up");
    }
  }

  /** Delivers `message` (anything at all) to store `to`, or to every store. */
  inject(message: unknown, to?: number): void {
    for (const [n, listener] of this.listeners) {
      if (to === undefined || n === to) listener(message as SharedMessage);
    }
  }

  #gate<T>(value: () => T): Promise<T> {
    if (this.#mode === "down") {
      return Promise.reject(new Error("memory store unreachable"));
    }
    if (this.#mode === "hang") return new Promise<T>(() => {});
    return Promise.resolve().then(value);
  }

  #remember(message: SharedMessage): void {
    const { endpoint, fact } = message;
    const now = this.clock.now();
    if (fact.type === "success") {
      for (const kind of ["open", "unauthorized", "unhealthy"]) {
        this.#held.delete(`${endpoint}\n${kind}`);
      }
      return;
    }
    const hold = holdOf(fact);
    if (hold === undefined) return;
    const key = `${endpoint}\n${hold.name}`;
    const until = now + hold.remainingMs;
    if ((this.#held.get(key)?.until ?? -Infinity) < until) {
      this.#held.set(key, { message, until });
    }
  }

  /** A store for one more instance. */
  store(): Store {
    const n = this.#stores++;
    let closed = false;
    return {
      kind: "memory",
      subscribe: (listener) => void this.listeners.set(n, listener),
      publish: (message) =>
        this.#gate(() => {
          this.published.push(message);
          this.#remember(message);
          for (const listener of [...this.listeners.values()]) {
            queueMicrotask(() => listener(message));
          }
        }),
      recent: () =>
        this.#gate(() => {
          const now = this.clock.now();
          const out: SharedMessage[] = [];
          for (const { message, until } of this.#held.values()) {
            if (until <= now) continue;
            out.push({
              ...message,
              fact: {
                ...message.fact,
                remainingMs: until - now,
              } as SharedMessage["fact"],
            });
          }
          return out;
        }),
      lock: (key, ttl) =>
        this.#gate(() => {
          const now = this.clock.now();
          const held = this.#locks.get(key);
          const got = held === undefined || held.until <= now;
          if (got) this.#locks.set(key, { owner: n, until: now + ttl });
          this.locks.push({ owner: n, key, ttl, got });
          return got;
        }),
      onStatus: (listener) => void this.#statusListeners.add(listener),
      close: () => {
        if (closed) return;
        closed = true;
        this.closed += 1;
        this.listeners.delete(n);
      },
    };
  }
}

// ------------------------------------------------------------------- fleet

/** One instance of the pool. */
export interface Member {
  name: string;
  pool: Pool;
  events: FailoverEvent[];
}

/** Pools on one clock and one network, each with its own store. */
export class Fleet {
  readonly clock = new ManualClock();
  readonly net = new Net();
  readonly members: Member[] = [];

  add(
    name: string,
    store: Store,
    extra: Partial<PoolOptions> = {},
    shared: Partial<SharedStateOptions> = {},
    features: Feature[] = [],
  ): Member {
    const events: FailoverEvent[] = [];
    const pool = createPool({
      endpoints: ENDPOINTS,
      breaker: BREAKER,
      clock: this.clock,
      fetch: this.net.fetchFor(name),
      onEvent: (e) => void events.push(e),
      features: [
        ...features,
        sharedState({
          store,
          timeout: TIMEOUT,
          probe: { timeout: PROBE_TIMEOUT },
          ...shared,
        }),
      ],
      ...extra,
    });
    const member = { name, pool, events };
    this.members.push(member);
    return member;
  }

  [Symbol.dispose](): void {
    for (const { pool } of this.members) pool.close();
  }
}

/** A channel name of its own for each test. */
export function channelName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `test-${Array.from(bytes, (b) => b.toString(16)).join("")}`;
}

/** One call for `model` through `member`; resolves with the status it got. */
export async function call(
  member: { pool: Pool },
  model = "m",
): Promise<number> {
  const response = await member.pool.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [] }),
  });
  await response.text();
  return response.status;
}

/**
 * Moves `clock` forward by `ms` timer by timer, letting the promises each
 * timer starts run out before the next fires (as on a real clock, where
 * each timer is a macrotask of its own).
 */
export async function advance(clock: ManualClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  for (;;) {
    const next = clock.delays[0];
    if (next === undefined || clock.now() + next > target) break;
    clock.advance(next);
    await turns(CHANNEL_TURNS);
  }
  clock.advance(target - clock.now());
  await turns(CHANNEL_TURNS);
}

/** `endpoint`'s status in `member`. */
export function statusOf(member: { pool: Pool }, endpoint = "r1") {
  const status = member.pool.status().find((s) => s.name === endpoint);
  assert.ok(status, `no endpoint ${endpoint}`);
  return status;
}

/** The `store` events `member` saw. */
export function storeEvents(member: { events: FailoverEvent[] }) {
  return member.events
    .filter((e) => e.type === "store")
    .map((e) => ({ store: e.store, up: e.up }));
}

/** Makes `member` open r1's breaker by itself: 3 failed calls (r1 503). */
export async function openR1(fleet: Fleet, member: Member): Promise<number> {
  fleet.net.answers.set("r1", { status: 503 });
  for (let i = 0; i < 3; i++) assert.equal(await call(member), 200);
  const status = statusOf(member);
  assert.equal(status.state, "open");
  assert.equal(status.availableAt, fleet.clock.now() + BREAKER.cooldown);
  return status.availableAt!;
}
