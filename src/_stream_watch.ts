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
 * The caller gets a `Response` like the endpoint's — status, headers, `url`,
 * `redirected`, `type` — over a watched body: a stream that reads the
 * network one chunk at a time as the consumer asks (`highWaterMark: 0`),
 * with the idle timer running only while a read is pending. Every body
 * reader (`json()`, `text()`, `arrayBuffer()`, `blob()`, `bytes()`,
 * `formData()`), `body`, `bodyUsed` and `clone()` are the runtime's own,
 * over that stream; a reader that fails because the body stalled or broke
 * rejects with that error (a `StreamIdleTimeoutError` naming the endpoint),
 * which some runtimes (Chromium) would otherwise turn into a bare
 * `TypeError: Failed to fetch`.
 *
 * Reading to the end, cancelling, or aborting the call clears the timer:
 * nothing outlives the body.
 *
 * @module
 */

import { abortCall, type Attempt } from "./_call.ts";
import type { DeadlineQueue } from "./_deadlines.ts";
import { settleStream } from "./_outcome.ts";
import { scrubError } from "./_redact.ts";
import { NULL_BODY, rebuilt } from "./_response.ts";
import type { PoolState } from "./_state.ts";
import { StreamIdleTimeoutError } from "./errors.ts";
import type { BodyObserver } from "./feature.ts";

/** The watch of one response body. */
class Watch {
  readonly #state: PoolState;
  readonly #ctx: Attempt;
  /** The run of failures the answer's headers ended (a stall resumes it). */
  readonly #runBefore: number;
  readonly #timeoutMs: number;
  readonly #deadlines: DeadlineQueue | undefined;
  /** Features that see each chunk as the caller reads it. */
  readonly #observers: readonly BodyObserver[];
  #stalled = false;
  /** Whether the observers heard how the body ended. */
  #told = false;
  /** Ends the caller's stream at once, and the body under it (`close()`). */
  #stop: ((reason: unknown) => void) | undefined = undefined;
  /** Why the body failed, once it did: what its readers reject with. */
  failure: { error: unknown } | undefined = undefined;

  constructor(
    state: PoolState,
    ctx: Attempt,
    runBefore: number,
    { timeoutMs, deadlines, observers }: {
      timeoutMs: number;
      deadlines: DeadlineQueue | undefined;
      observers: readonly BodyObserver[];
    },
  ) {
    this.#observers = observers;
    this.#state = state;
    this.#ctx = ctx;
    this.#runBefore = runBefore;
    this.#timeoutMs = timeoutMs;
    this.#deadlines = deadlines;
  }

  /** Tells the observers, once, how the body ended: read whole, or not. */
  #tell(how: "end" | "cancelled" | "failed" | "closed", error?: unknown): void {
    if (this.#told) return;
    this.#told = true;
    for (const observer of this.#observers) {
      if (how === "end") observer.end();
      else observer.stop?.(how, error);
    }
  }

  /**
   * The body broke after the call was committed: count it against the
   * endpoint (a caller's abort or the pool closing is nobody's fault).
   * Returns the error to hand the reader, without the endpoint's query
   * secrets.
   */
  #blame(raw: unknown): unknown {
    this.end();
    const ctx = this.#ctx;
    const error = scrubError(raw, ctx.target!.querySecrets);
    this.failure ??= { error };
    const aborted = ctx.call.abortKind;
    if (aborted === "closed") this.#tell("closed");
    else if (aborted !== undefined) this.#tell("cancelled");
    else this.#tell("failed", error);
    if (aborted !== undefined) return error;
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
    this.failure ??= { error: reason };
    this.#ctx.cancel(reason);
    this.end();
    this.#tell("closed");
    // A body that does not hear the abort (a fetch of one's own) ends too.
    this.#stop?.(reason);
  }

  /** The body is done (read, cancelled or broken): nothing left to close. */
  end(): void {
    this.#state.streams.delete(this);
  }

  /** Races one pending read against the idle timer. */
  guard<T>(read: Promise<T>): Promise<T> {
    const deadlines = this.#deadlines;
    if (deadlines === undefined) {
      return read.catch((error) => {
        throw this.#blame(error);
      });
    }
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const deadline = deadlines.set(() => {
        done = true;
        read.catch(() => {});
        this.#stalled = true;
        const error = new StreamIdleTimeoutError(
          this.#ctx.target!.name,
          this.#timeoutMs,
        );
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
        reject(this.#blame(error));
      });
    });
  }

  /** `body`, read one watched chunk at a time. */
  watched(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#stop = (reason) => {
          controller.error(reason);
          (reader ?? body).cancel(reason).catch(() => {});
        };
      },
      pull: async (controller) => {
        reader ??= body.getReader();
        const { done, value } = await this.guard(reader.read());
        if (done) {
          this.end();
          this.#tell("end");
          controller.close();
        } else {
          for (const observer of this.#observers) observer.chunk(value);
          controller.enqueue(value);
        }
      },
      cancel: (reason) => {
        this.end();
        this.#tell("cancelled");
        return reader ? reader.cancel(reason) : body.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }
}

/** The body readers a runtime's Response has (`bytes()` is recent). */
const READERS = (
  ["arrayBuffer", "blob", "bytes", "formData", "json", "text"] as const
).filter((name) => typeof Response.prototype[name] === "function");

/**
 * A Response over a watched body whose readers, when the body failed,
 * reject with the watch's error rather than the runtime's rewording of it.
 */
class WatchedResponse extends Response {
  readonly #watch: Watch;

  constructor(
    body: ReadableStream<Uint8Array>,
    init: ResponseInit,
    watch: Watch,
  ) {
    super(body, init);
    this.#watch = watch;
  }

  /** `reading`, rejecting with the watch's error if the body failed. */
  static report<T>(response: WatchedResponse, reading: Promise<T>): Promise<T> {
    return reading.catch((error) => {
      throw response.#watch.failure?.error ?? error;
    });
  }
}

for (const name of READERS) {
  const read = Response.prototype[name] as (this: Response) => Promise<unknown>;
  Object.defineProperty(WatchedResponse.prototype, name, {
    value(this: WatchedResponse) {
      return WatchedResponse.report(this, read.call(this));
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The stream watch of a pool: gives a committed answer (`runBefore`: the
 * run of failures its headers ended; `observers`: features that see its
 * chunks) a watched body. With
 * `streamIdleTimeout: false` the watch still follows the body, without a
 * timer, so that `close()` can end a stream the caller is still reading.
 */
export function streamWatch(
  state: PoolState,
): (
  ctx: Attempt,
  runBefore: number,
  observers: readonly BodyObserver[],
) => void {
  const timeoutMs = state.options.streamIdleTimeout;
  const deadlines = timeoutMs === false
    ? undefined
    : state.deadlines(timeoutMs);
  return (ctx, runBefore, observers) => {
    const response = ctx.response;
    if (
      response === undefined || response.body === null ||
      ctx.bytes !== undefined ||
      ctx.method === "HEAD" || NULL_BODY.includes(response.status) ||
      (ctx.verdict !== "success" && ctx.verdict !== "final")
    ) return;
    const watch = new Watch(state, ctx, runBefore, {
      timeoutMs: timeoutMs || 0,
      deadlines,
      observers,
    });
    ctx.response = rebuilt(
      response,
      (init) => new WatchedResponse(watch.watched(response.body!), init, watch),
      response.url,
    );
    state.streams.add(watch);
  };
}
