/**
 * A store over a `BroadcastChannel`, for `sharedState()`: the tabs and
 * workers of one browser origin, the workers of one process (Deno, Node,
 * Bun), or the isolates of one Deno Deploy project share what their pools
 * learn — no server, no dependency.
 *
 * A channel keeps nothing itself: each store remembers what it heard and
 * told that still holds (open breakers, benches), and answers an instance
 * that starts later with it. It has no lock, so each instance probes a
 * cooled-down endpoint for itself.
 *
 * @example Every tab of the app shares one view of the pool
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { sharedState } from "@ky-failover/ky-failover/shared";
 * import { broadcastStore } from "@ky-failover/ky-failover/broadcast";
 *
 * using pool = createPool({
 *   endpoints: [{ name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" }],
 *   features: [sharedState({ store: broadcastStore({ name: "my-app" }) })],
 * });
 * console.assert(pool.status()[0].state === "healthy");
 * ```
 *
 * @module
 */

import { holdOf, type SharedMessage, type Store } from "../shared/_store.ts";
import { check, optional, rule } from "../_validate.ts";
import { systemClock } from "../clock.ts";
import type { Clock } from "../types.ts";

/**
 * Options of {@linkcode broadcastStore}.
 *
 * @example
 * ```ts
 * import type { BroadcastStoreOptions } from "@ky-failover/ky-failover/broadcast";
 *
 * const options: BroadcastStoreOptions = { name: "my-app", listen: 100 };
 * ```
 */
export interface BroadcastStoreOptions {
  /**
   * The namespace: stores of one name share, others do not. Default
   * `"default"`; the channel is named `ky-failover:<name>`.
   */
  name?: string | undefined;
  /**
   * How long a new store waits for the others to tell it what still
   * holds, in ms. Default `50`.
   */
  listen?: number | undefined;
  /** Time source for what it remembers; pass the pool's. Default: the real clock. */
  clock?: Clock | undefined;
}

/** A random id (crypto.randomUUID is not in every browser context). */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What goes over the channel. */
type Envelope =
  | { readonly kind: "message"; readonly message: SharedMessage }
  | { readonly kind: "ask"; readonly asker: string }
  | {
    readonly kind: "tell";
    readonly asker: string;
    readonly messages: readonly SharedMessage[];
  };

/**
 * A store over the `BroadcastChannel` named `ky-failover:<name>`. Throws a
 * `TypeError` where the runtime has no `BroadcastChannel`, or for invalid
 * options (naming the field).
 *
 * @example
 * ```ts
 * import { broadcastStore } from "@ky-failover/ky-failover/broadcast";
 *
 * const store = broadcastStore({ name: "my-app" });
 * console.assert(store.kind === "broadcast");
 * store.close();
 * ```
 */
export function broadcastStore(options: BroadcastStoreOptions = {}): Store {
  const { name, listen, clock } = check<{
    name: string;
    listen: number;
    clock: Clock | undefined;
  }>(options, {
    name: [
      rule(
        (v) => typeof v === "string" && v !== "",
        "a non-empty string",
      ),
      "default",
      true,
    ],
    listen: [
      rule(
        (v) => typeof v === "number" && v >= 1 && v <= 60_000,
        "a number of milliseconds from 1 to 60000",
      ),
      50,
      true,
    ],
    clock: [
      optional(rule(
        (v) => typeof v === "object" && v !== null,
        "a clock",
      )),
      undefined,
      true,
    ],
  }, "broadcastStore");
  if (typeof BroadcastChannel !== "function") {
    throw new TypeError(
      "ky-failover: broadcastStore needs BroadcastChannel, which this runtime does not have",
    );
  }
  const time = clock ?? systemClock;
  const channel = new BroadcastChannel(`ky-failover:${name}`);
  /** What still holds, by endpoint and fact: the message, and until when. */
  const holding = new Map<string, { message: SharedMessage; until: number }>();
  /**
   * Answers to this store's own question while it listens for them, each
   * with when it was heard (its time left counts down from then).
   */
  let collecting:
    | { id: string; messages: { message: SharedMessage; heard: number }[] }
    | undefined;
  let listener: ((message: SharedMessage) => void) | undefined;
  let closed = false;
  /** The wait of `recent()`, ended by `close()`. */
  let waiting: { timer: unknown; end: () => void } | undefined;

  /**
   * Remembers `message` while it holds (open breakers and benches); a
   * success forgets what a good answer ends (the open breaker, the health
   * benches), as the pools do.
   */
  function remember(message: SharedMessage): void {
    const fact = message?.fact;
    if (fact?.type === "success") {
      for (const kind of ["open", "unhealthy", "unauthorized"]) {
        holding.delete(`${message.endpoint}\n${kind}`);
      }
      return;
    }
    const hold = typeof fact === "object" && fact !== null
      ? holdOf(fact)
      : undefined;
    if (hold === undefined) return;
    const key = `${message.endpoint}\n${hold.name}`;
    const until = time.now() + hold.remainingMs;
    if ((holding.get(key)?.until ?? -Infinity) < until) {
      holding.set(key, { message, until });
    }
  }

  /** What still holds, with the time left as of now. */
  function holds(): SharedMessage[] {
    const now = time.now();
    const out: SharedMessage[] = [];
    for (const [key, { message, until }] of holding) {
      if (until <= now) {
        holding.delete(key);
        continue;
      }
      out.push({
        ...message,
        fact: { ...message.fact, remainingMs: until - now } as SharedMessage[
          "fact"
        ],
      });
    }
    return out;
  }

  channel.onmessage = (event: MessageEvent<Envelope>) => {
    const data = event.data;
    if (closed || typeof data !== "object" || data === null) return;
    if (data.kind === "message") {
      remember(data.message);
      listener?.(data.message);
    } else if (data.kind === "ask") {
      const messages = holds();
      if (messages.length > 0) {
        channel.postMessage({ kind: "tell", asker: data.asker, messages });
      }
    } else if (
      data.kind === "tell" && collecting !== undefined &&
      data.asker === collecting.id && Array.isArray(data.messages)
    ) {
      const heard = time.now();
      for (const message of data.messages) {
        collecting.messages.push({ message, heard });
      }
    }
  };

  return {
    kind: "broadcast",
    subscribe(next) {
      listener = next;
    },
    publish(message) {
      if (closed) return Promise.reject(new Error("the store is closed"));
      remember(message);
      channel.postMessage({ kind: "message", message });
      return Promise.resolve();
    },
    recent() {
      if (closed || waiting !== undefined) return Promise.resolve([]);
      const id = randomId();
      collecting = { id, messages: [] };
      channel.postMessage({ kind: "ask", asker: id });
      return new Promise((resolve) => {
        const end = () => {
          time.clearTimeout(waiting?.timer);
          waiting = undefined;
          const heard = collecting?.id === id ? collecting.messages : [];
          collecting = undefined;
          const now = time.now();
          resolve(heard.flatMap(({ message, heard }) => {
            const fact = message?.fact as { remainingMs?: unknown } | undefined;
            if (typeof fact?.remainingMs !== "number") return [message];
            const left = fact.remainingMs - (now - heard);
            return left > 0
              ? [
                {
                  ...message,
                  fact: { ...message.fact, remainingMs: left },
                } as SharedMessage,
              ]
              : [];
          }));
        };
        waiting = { timer: time.setTimeout(end, listen), end };
      });
    },
    lock: () => Promise.resolve(true),
    close() {
      if (closed) return;
      closed = true;
      waiting?.end();
      channel.close();
    },
  };
}
