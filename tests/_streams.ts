// Answers built by hand: a pool whose `fetch` returns Responses the test
// constructs (any status, headers and body), over bodies the test feeds one
// chunk at a time and that tell when a consumer waits for data. What a
// runtime's fetch does with an attempt's signal is modelled too: an abort
// errors the body with the signal's reason.

import { ManualClock } from "./_manual_clock.ts";
import {
  createFailover,
  type Failover,
  type FailoverEvent,
  type FailoverOptions,
} from "ky-failover";

/** A response body the test feeds by hand. */
export interface FedBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Reads that asked for data (pull calls), in all. */
  readonly pulls: number;
  /** Why the body was cancelled, once it was. */
  readonly cancelled: { reason: unknown } | undefined;
  push(chunk: Uint8Array | string): void;
  close(): void;
  error(reason: unknown): void;
  /** Resolves once `count` pulls happened (a consumer waits for data). */
  pulled(count?: number): Promise<void>;
}

/** A body fed by hand (`highWaterMark: 0`: a pull is a waiting reader). */
export function fedBody(): FedBody {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let pulls = 0;
  let cancelled: { reason: unknown } | undefined;
  let ended = false;
  const waiters = new Set<() => void>();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      pulls += 1;
      for (const check of [...waiters]) check();
    },
    cancel(reason) {
      cancelled = { reason };
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get pulls() {
      return pulls;
    },
    get cancelled() {
      return cancelled;
    },
    push(chunk) {
      if (ended) return; // an aborted body takes nothing more
      controller.enqueue(
        typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk,
      );
    },
    close() {
      if (ended) return;
      ended = true;
      controller.close();
    },
    error(reason) {
      if (ended) return;
      ended = true;
      controller.error(reason);
    },
    pulled(count = 1) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (pulls >= count) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** One request the scripted pool's fetch got. */
export interface Sent {
  endpoint: string;
  url: string;
  init: RequestInit;
  signal: AbortSignal;
}

/** What {@linkcode scriptedPool} returns. */
export interface ScriptedPool {
  api: Failover;
  clock: ManualClock;
  events: FailoverEvent[];
  sent: Sent[];
}

/** What the scripted fetch answers a request with. */
export type Script = (
  endpoint: string,
  sent: Sent,
) => Response | Promise<Response>;

/**
 * A pool of endpoints `a` (https://a.example/v1, priority 1) and `b`
 * (https://b.example/v1, priority 2) whose fetch answers with `script`.
 * `body` is an answer's body when it is a {@linkcode FedBody}: an abort of
 * the request's signal errors it, as a runtime's fetch does.
 */
export function scriptedPool(
  script: Script,
  extra: Partial<FailoverOptions> = {},
  names: string[] = ["a", "b"],
): ScriptedPool {
  const clock = (extra.clock as ManualClock | undefined) ?? new ManualClock();
  const events: FailoverEvent[] = [];
  const sent: Sent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const endpoint = new URL(url).hostname.split(".")[0];
    const signal = init?.signal ?? new AbortController().signal;
    const entry: Sent = { endpoint, url, init: init ?? {}, signal };
    sent.push(entry);
    signal.throwIfAborted();
    return await script(endpoint, entry);
  };
  const api = createFailover({
    endpoints: names.map((name, i) => ({
      name,
      url: `https://${name}.example/v1`,
      priority: i + 1,
    })),
    onEvent: (e) => void events.push(e),
    fetch: fetch as typeof globalThis.fetch,
    ...extra,
    clock,
  });
  return { api, clock, events, sent };
}

/** Errors `body` with the reason when `signal` aborts, as fetch does. */
export function linked(body: FedBody, signal: AbortSignal): FedBody {
  if (signal.aborted) body.error(signal.reason);
  else {
    signal.addEventListener("abort", () => body.error(signal.reason), {
      once: true,
    });
  }
  return body;
}

/** `n` bytes, byte `i` being `i % 251`. */
export function bytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 251;
  return out;
}

/** Settles-later probe: `settled` turns true once `promise` settles. */
export function watchSettle<T>(promise: Promise<T>): {
  readonly settled: boolean;
  readonly result: Promise<{ value?: T; error?: unknown }>;
} {
  let settled = false;
  const result = promise.then(
    (value) => {
      settled = true;
      return { value };
    },
    (error) => {
      settled = true;
      return { error };
    },
  );
  return {
    get settled() {
      return settled;
    },
    result,
  };
}

/** A pending timer of {@linkcode StepClock}. */
interface StepTimer {
  at: number;
  fn: () => void;
  handle: unknown;
}

/**
 * A clock like a real one in one respect ManualClock is not: `advance()`
 * fires only the timers that were due when it was called, so a timer armed
 * by a callback (even for 0 ms) waits for the next `advance()` — as a real
 * timer waits for the next turn. A pool that keeps re-arming at once shows
 * as `armed` growing, not as a hang. `handles` shapes what setTimeout
 * returns (numbers by default).
 */
export class StepClock {
  #now = 0;
  #timers: StepTimer[] = [];
  #next = 1;
  /** Timers ever set. */
  armed = 0;
  readonly #handle: (id: number) => unknown;

  constructor(handle: (id: number) => unknown = (id) => id) {
    this.#handle = handle;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const handle = this.#handle(this.#next++);
    this.armed += 1;
    this.#timers.push({ at: this.#now + Math.max(0, ms), fn, handle });
    return handle;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.handle !== handle);
  };

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time by `ms`; fires, in order, the timers due that were set before. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((t) => t.at <= this.#now)
      .sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((t) => !due.includes(t));
    for (const timer of due) timer.fn();
  }
}
