/**
 * The stream watch: the stream idle timeout and `close()` for answers
 * already handed to the caller. Once an attempt's response headers reach
 * the caller the call is committed to that endpoint (before that, every
 * failure fails over). From then on, a body that stops flowing is ended with
 * a `StreamIdleTimeoutError` naming the endpoint when `streamIdleTimeout` ms
 * pass without data **while the consumer is waiting for it** — a slow
 * consumer never trips it. The stall counts against the endpoint's health
 * (and can open its breaker), and the attempt is aborted so its socket is
 * released.
 *
 * The caller gets the endpoint's own `Response` object (its `url`, `type`
 * and `redirected` intact), watched in place:
 *
 * - `response.body` is a stream that reads the network one chunk at a time
 *   as the consumer asks (`highWaterMark: 0`), with the idle timer running
 *   only while a read is pending;
 * - `json()`, `text()`, `arrayBuffer()`, `blob()`, `bytes()`, `formData()` on
 *   a body of known length up to 8 MiB use the runtime's native read, bounded
 *   as a whole by the idle timeout (such a body that makes no progress for
 *   that long is stalled); a body of unknown or larger length is read
 *   through the watched stream, so a long, steady download is never cut.
 *
 * Reading to the end, cancelling, or aborting the call clears the timer:
 * nothing outlives the body.
 *
 * @module
 */

import { abortCall, type Attempt } from "./_call.ts";
import type { DeadlineQueue } from "./_deadlines.ts";
import { concat } from "./_bytes.ts";
import { settleStream } from "./_outcome.ts";
import { scrubError } from "./_redact.ts";
import { NULL_BODY } from "./_response.ts";
import type { PoolState } from "./_state.ts";
import { StreamIdleTimeoutError } from "./errors.ts";

/** Bodies up to this length are read natively, bounded as a whole. */
const WHOLE_READ_LIMIT = 8 * 1024 * 1024;

const READS = [
  "arrayBuffer",
  "text",
  "json",
  "blob",
  "bytes",
  "formData",
] as const;

type Read = () => Promise<unknown>;
type BodyGetter = (this: Response) => ReadableStream<Uint8Array> | null;

/** The watch of one response body. */
class Watch {
  readonly #state: PoolState;
  readonly #ctx: Attempt;
  /** The run of failures the answer's headers ended (a stall resumes it). */
  readonly #runBefore: number;
  readonly #timeoutMs: number;
  readonly #deadlines: DeadlineQueue | undefined;
  readonly #response: Response;
  /** The native `body` getter of the response's realm. */
  readonly #nativeBody: BodyGetter;
  #stalled = false;
  #watched: ReadableStream<Uint8Array> | undefined;

  constructor(
    state: PoolState,
    ctx: Attempt,
    runBefore: number,
    response: Response,
    { nativeBody, timeoutMs, deadlines }: {
      nativeBody: BodyGetter;
      timeoutMs: number;
      deadlines: DeadlineQueue | undefined;
    },
  ) {
    this.#state = state;
    this.#runBefore = runBefore;
    this.#deadlines = deadlines;
    this.#ctx = ctx;
    this.#timeoutMs = timeoutMs;
    this.#response = response;
    this.#nativeBody = nativeBody;
  }

  /**
   * Whether a native whole-body read is safe to bound as a whole: asked at
   * the read, so a consumer of `response.body` never makes the runtime
   * build the headers object just for this.
   */
  small(): boolean {
    const length = Number(
      this.#response.headers.get("content-length") ?? NaN,
    );
    return length >= 0 && length <= WHOLE_READ_LIMIT;
  }

  /**
   * The body broke after the call was committed: count it against the
   * endpoint (a caller's abort or the pool closing is nobody's fault, and a
   * body that is not valid JSON is the reader's problem, not a broken
   * connection). Returns the error to hand the reader, without the
   * endpoint's query secrets.
   */
  #blame(raw: unknown): unknown {
    this.end();
    const ctx = this.#ctx;
    const error = scrubError(raw, ctx.target!.querySecrets);
    if (ctx.call.abortKind !== undefined) return error;
    if ((error as Error)?.name === "SyntaxError") return error;
    settleStream(this.#state, ctx.target!, {
      error,
      runBefore: this.#runBefore,
      stalledAfter: this.#stalled ? this.#timeoutMs : undefined,
    });
    return error;
  }

  /**
   * Ends the body with `reason` (`close()` of the pool): the attempt is
   * aborted, so the runtime errors the body with that reason, and the call
   * is marked closed, so nobody is blamed.
   */
  close(reason: unknown): void {
    abortCall(this.#ctx.call, "closed", reason);
    this.#ctx.cancel(reason);
    this.end();
  }

  /** The body is done (read, cancelled or broken): nothing left to close. */
  end(): void {
    this.#state.streams.delete(this);
  }

  #error(): StreamIdleTimeoutError {
    return new StreamIdleTimeoutError(this.#ctx.target!.name, this.#timeoutMs);
  }

  /** Races one pending read against the idle timer. */
  guard<T>(read: Promise<T>): Promise<T> {
    if (this.#deadlines === undefined) {
      return read.catch((error) => {
        throw this.#blame(error);
      });
    }
    const deadlines = this.#deadlines;
    return new Promise<T>((resolve, reject) => {
      if (this.#stalled) {
        read.catch(() => {});
        return reject(this.#error());
      }
      let done = false;
      const deadline = deadlines.set(() => {
        done = true;
        read.catch(() => {});
        this.#stalled = true;
        const error = this.#error();
        this.#ctx.cancel(error);
        reject(this.#blame(error));
      });
      read.then((value) => {
        if (done) return;
        done = true;
        deadlines.clear(deadline);
        resolve(value);
      }, (error) => {
        if (done) return;
        done = true;
        deadlines.clear(deadline);
        const handed = this.#blame(error);
        reject(handed);
      });
    });
  }

  /** Reads the whole body through the watch. */
  async readAll(): Promise<Uint8Array<ArrayBuffer>> {
    const body = this.body();
    if (body === null) return new Uint8Array(0);
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
    return concat(chunks, size);
  }

  /**
   * The body as a stream read one watched chunk at a time. The native body
   * stream is only touched here: on some runtimes (Deno) merely reading
   * `response.body` turns a native whole-body read into a stream read.
   */
  body(): ReadableStream<Uint8Array> | null {
    if (this.#watched !== undefined) return this.#watched;
    const original = this.#nativeBody.call(this.#response);
    if (original === null) return null;
    const reader = original.getReader();
    this.#watched = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const { done, value } = await this.guard(reader.read());
        if (done) {
          this.end();
          controller.close();
        } else controller.enqueue(value);
      },
      cancel: (reason) => {
        this.end();
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return this.#watched;
  }
}

/**
 * Where a watched response keeps its watch: an own property, not a WeakMap
 * entry — nothing to look up, and nothing for the garbage collector to
 * sweep out of a table that, under load, grows by the hundreds of thousands
 * of entries between collections and never shrinks back.
 */
const WATCH = Symbol("ky-failover.watch");

interface Watched {
  [WATCH]: Watch;
}

/** A watched prototype and the native body getter it shadows. */
interface Realm {
  proto: object;
  body: BodyGetter;
}

/** Watched prototypes, one per native Response prototype (realm). */
const realms = new WeakMap<object, Realm>();

/** The `body` getter the native prototype chain defines. */
function nativeBodyGetter(native: object): BodyGetter {
  for (
    let o: object | null = native;
    o !== null;
    o = Object.getPrototypeOf(o)
  ) {
    const getter = Object.getOwnPropertyDescriptor(o, "body")?.get;
    if (getter !== undefined) return getter as BodyGetter;
  }
  throw new TypeError("ky-failover: this Response has no body getter");
}

/**
 * A prototype that sits between a response and its native prototype and
 * routes body access through the response's watch. Swapping the prototype
 * of a response is far cheaper than defining properties on each one.
 */
function realmOf(native: object): Realm {
  let realm = realms.get(native);
  if (realm !== undefined) return realm;
  const descriptors: PropertyDescriptorMap = {
    body: {
      get(this: Response) {
        return (this as unknown as Watched)[WATCH].body();
      },
      configurable: true,
    },
  };
  for (const name of READS) {
    const read = (native as Record<string, Read | undefined>)[name];
    if (typeof read !== "function") continue;
    descriptors[name] = {
      value(this: Response) {
        const watch = (this as unknown as Watched)[WATCH];
        if (watch.small()) return watch.guard(read.call(this));
        return watch.readAll().then((bytes) => {
          // Parse the complete bytes the way the native method would; the
          // read itself went through the watch, so its error (a stall) is
          // the one the caller sees on every runtime.
          const copy = new Response(bytes, { headers: this.headers });
          return (copy as unknown as Record<string, Read>)[name]();
        });
      },
      configurable: true,
      writable: true,
    };
  }
  realm = {
    proto: Object.create(native, descriptors) as object,
    body: nativeBodyGetter(native),
  };
  realms.set(native, realm);
  return realm;
}

/**
 * The stream watch of a pool: watches the body of an answer handed to the
 * caller (`runBefore`: the run of failures its headers ended). With
 * `streamIdleTimeout: false` the watch still follows the body, without a
 * timer, so that `close()` can end a stream the caller is still reading.
 */
export function streamWatch(
  state: PoolState,
): (ctx: Attempt, runBefore: number) => void {
  const timeoutMs = state.options.streamIdleTimeout;
  const deadlines = timeoutMs === false
    ? undefined
    : state.deadlines(timeoutMs);
  return (ctx, runBefore) => {
    const response = ctx.response;
    if (
      response === undefined || ctx.buffered || ctx.method === "HEAD" ||
      (ctx.verdict !== "success" && ctx.verdict !== "final") ||
      NULL_BODY.includes(response.status)
    ) return;
    const realm = realmOf(Object.getPrototypeOf(response));
    Object.setPrototypeOf(response, realm.proto);
    const watch = new Watch(state, ctx, runBefore, response, {
      nativeBody: realm.body,
      timeoutMs: timeoutMs || 0,
      deadlines,
    });
    (response as unknown as Watched)[WATCH] = watch;
    state.streams.add(watch);
  };
}
