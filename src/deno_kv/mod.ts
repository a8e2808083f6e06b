/**
 * A store over Deno KV, for `sharedState()`: the instances of a pool on
 * one machine (a local SQLite file) or across a Deno Deploy project's
 * isolates and regions (its distributed KV) share what they learn.
 *
 * Each message is written under its own key (kept a minute) and a `head`
 * key is bumped; every store watches `head` (`kv.watch`) and reads the
 * messages it has not seen yet, so a burst of failures is never folded
 * into one. Open breakers and benches are kept as `holds` keys that expire
 * with them, for instances that start later; the fleet's probe lock is an
 * atomic check-and-set.
 *
 * Deno KV has no "time left" of its own: a hold carries the writer's
 * wall-clock time and what was left then, so an instance whose clock is
 * off by `s` seconds sees a hold end `s` seconds early or late (Deno
 * Deploy's machines keep their clocks in sync, to milliseconds).
 * Messages between live instances carry the time left, like every store.
 *
 * The `Deno.Kv` is yours: closing the store stops its watch, and leaves
 * the `Deno.Kv` open. Needs `--unstable-kv` outside Deno Deploy.
 *
 * @example
 * ```ts ignore
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { sharedState } from "@ky-failover/ky-failover/shared";
 * import { denoKvStore } from "@ky-failover/ky-failover/deno-kv";
 *
 * const kv = await Deno.openKv();
 * using pool = createPool({
 *   endpoints: [{ name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" }],
 *   features: [sharedState({ store: denoKvStore(kv, { namespace: "my-app" }) })],
 * });
 * ```
 *
 * @module
 */

import {
  holdOf,
  type SharedFact,
  type SharedMessage,
  type Store,
} from "../shared/_store.ts";
import { check, rule } from "../_validate.ts";

/**
 * The part of `Deno.Kv` the store uses (so that it type-checks without
 * Deno's unstable types).
 */
export interface KvLike {
  /** Reads one key. */
  get(key: unknown[]): Promise<{ value: unknown; versionstamp: string | null }>;
  /** Writes one key, to expire after `expireIn` ms. */
  set(
    key: unknown[],
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<unknown>;
  /** The keys under `prefix` (from `start`), in order. */
  list(
    selector: { prefix: unknown[]; start?: unknown[] },
  ): AsyncIterable<{ key: unknown[]; value: unknown }>;
  /** Writes that happen together, or not at all. */
  atomic(): {
    check(
      ...checks: { key: unknown[]; versionstamp: string | null }[]
    ): ReturnType<KvLike["atomic"]>;
    set(
      key: unknown[],
      value: unknown,
      options?: { expireIn?: number },
    ): ReturnType<KvLike["atomic"]>;
    commit(): Promise<{ ok: boolean }>;
  };
  /** Hears every change of `keys`. */
  watch(keys: unknown[][]): ReadableStream<unknown[]>;
}

/**
 * Options of {@linkcode denoKvStore}.
 *
 * @example
 * ```ts
 * import type { DenoKvStoreOptions } from "@ky-failover/ky-failover/deno-kv";
 *
 * const options: DenoKvStoreOptions = { namespace: "my-app" };
 * ```
 */
export interface DenoKvStoreOptions {
  /**
   * Keeps pools of different apps in one KV apart: keys start with
   * `["ky-failover", namespace]`. Default `"default"`.
   */
  namespace?: string | undefined;
}

/** How long a message stays readable for a store that is behind, in ms. */
const MESSAGE_KEPT = 60_000;
/** Message ids read, remembered to skip them when read again. */
const SEEN_MAX = 4096;

/** A hold as kept in KV: the message, when and how long it was left. */
interface Hold {
  message: SharedMessage;
  writtenAt: number;
  remainingMs: number;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An id that sorts by writing time (then at random), for the log keys. */
function logId(): string {
  return `${Date.now().toString(36).padStart(10, "0")}-${randomId()}`;
}

/**
 * A store over `kv` (a `Deno.Kv`). Invalid options throw a `TypeError`
 * naming the field.
 *
 * @example
 * ```ts ignore
 * import { denoKvStore } from "@ky-failover/ky-failover/deno-kv";
 *
 * const store = denoKvStore(await Deno.openKv(":memory:"));
 * console.assert(store.kind === "deno-kv");
 * ```
 */
export function denoKvStore(
  kv: KvLike,
  options: DenoKvStoreOptions = {},
): Store {
  if (typeof kv !== "object" || kv === null || typeof kv.watch !== "function") {
    throw new TypeError("ky-failover: denoKvStore needs a Deno.Kv");
  }
  const { namespace } = check<{ namespace: string }>(options, {
    namespace: [
      rule(
        (v) => typeof v === "string" && v !== "",
        "a non-empty string",
      ),
      "default",
      true,
    ],
  }, "denoKvStore");
  const root = ["ky-failover", namespace];
  const head = [...root, "head"];
  const log = [...root, "log"];
  const holds = [...root, "holds"];
  let closed = false;
  /** This store, as the holder of a lock. */
  const holder = randomId();
  let reader: ReadableStreamDefaultReader<unknown[]> | undefined;
  /** Ids read lately, oldest first (the log is read from a little before). */
  const seen = new Set<string>();
  /** The newest id read: reading starts a minute of ids before it. */
  let last = logId();

  async function readNew(listener: (m: SharedMessage) => void) {
    // Writers' clocks may disagree: read from a while back, skip what was seen.
    const from = (parseInt(last.slice(0, 10), 36) - MESSAGE_KEPT)
      .toString(36).padStart(10, "0");
    for await (const entry of kv.list({ prefix: log, start: [...log, from] })) {
      const id = entry.key[entry.key.length - 1] as string;
      if (seen.has(id)) continue;
      seen.add(id);
      if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
      if (id > last) last = id;
      if (!closed) listener(entry.value as SharedMessage);
    }
  }

  return {
    kind: "deno-kv",
    subscribe(listener) {
      const stream = kv.watch([head]);
      reader = stream.getReader();
      const loop = async () => {
        // What was written before this store joined is not news: only marked.
        await readNew(() => {});
        for (;;) {
          const { done } = await reader!.read();
          if (done || closed) return;
          await readNew(listener);
        }
      };
      loop().catch(() => {});
    },
    async publish(message) {
      if (closed) throw new Error("the store is closed");
      const id = logId();
      seen.add(id);
      const fact: SharedFact = message.fact;
      const writes = kv.atomic()
        .set([...log, id], message, { expireIn: MESSAGE_KEPT })
        .set(head, id);
      const kept = holdOf(fact);
      if (kept !== undefined) {
        const hold: Hold = {
          message,
          writtenAt: Date.now(),
          remainingMs: kept.remainingMs,
        };
        writes.set([...holds, message.endpoint, kept.name], hold, {
          expireIn: kept.remainingMs,
        });
      }
      await writes.commit();
    },
    async recent() {
      const out: SharedMessage[] = [];
      const now = Date.now();
      for await (const entry of kv.list({ prefix: holds })) {
        const hold = entry.value as Hold;
        const left = hold.remainingMs - (now - hold.writtenAt);
        if (!(left > 0) || typeof hold.message !== "object") continue;
        out.push({
          ...hold.message,
          fact: { ...hold.message.fact, remainingMs: left } as SharedFact,
        });
      }
      return out;
    },
    async lock(key, ttlMs) {
      const lockKey = [...root, "lock", key];
      const now = Date.now();
      const current = await kv.get(lockKey);
      const lock = current.value as { holder?: string; until?: number } | null;
      // `expireIn` is a hint: a lock past its time is free, whatever KV kept;
      // the store that holds it may hold it longer.
      if (
        typeof lock?.until === "number" && lock.until > now &&
        lock.holder !== holder
      ) {
        return false;
      }
      const result = await kv.atomic()
        .check({ key: lockKey, versionstamp: current.versionstamp })
        .set(lockKey, { holder, until: now + ttlMs }, { expireIn: ttlMs })
        .commit();
      return result.ok;
    },
    close() {
      if (closed) return;
      closed = true;
      reader?.cancel().catch(() => {});
    },
  };
}
