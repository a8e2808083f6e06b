/**
 * Stream idle timeout middleware. Once an attempt's response headers reach
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

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";
import { describeError, StreamIdleTimeoutError } from "../errors.ts";
import { recordHealth } from "./breaker.ts";

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

function watch(
  pool: Pool,
  ctx: Attempt,
  response: Response,
  timeoutMs: number,
): void {
  const { clock } = pool.options;
  const endpoint = ctx.target!;
  const original = response.body!;
  let stalled = false;

  // The body broke after the call was committed: count it against the
  // endpoint (a caller's abort or the pool closing is nobody's fault).
  const blame = (error: unknown) => {
    if (ctx.call.abortKind !== undefined) return;
    const now = clock.now();
    endpoint.failures += 1;
    endpoint.consecutiveFailures += 1;
    endpoint.lastError = stalled
      ? (error as Error).message
      : describeError(error);
    endpoint.lastErrorAt = now;
    if (stalled && pool.listening) {
      pool.emit({ type: "stream-stall", endpoint: endpoint.name, timeoutMs });
    }
    recordHealth(pool, endpoint, "failure", now);
  };
  const stall = (): StreamIdleTimeoutError => {
    stalled = true;
    const error = new StreamIdleTimeoutError(endpoint.name, timeoutMs);
    ctx.cancel(error);
    blame(error);
    return error;
  };

  /** Races one pending read against the idle timer. */
  const guard = <T>(read: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (stalled) {
        read.catch(() => {});
        return reject(new StreamIdleTimeoutError(endpoint.name, timeoutMs));
      }
      let done = false;
      const timer = clock.setTimeout(() => {
        done = true;
        read.catch(() => {});
        reject(stall());
      }, timeoutMs);
      read.then((value) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        resolve(value);
      }, (error) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        // A body that is not valid JSON is the reader's problem, not a
        // broken connection.
        if ((error as Error)?.name !== "SyntaxError") blame(error);
        reject(error);
      });
    });

  let watched: ReadableStream<Uint8Array> | undefined;
  const body = () => {
    if (watched !== undefined) return watched;
    const reader = original.getReader();
    watched = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await guard(reader.read());
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return watched;
  };
  Object.defineProperty(response, "body", { get: body, configurable: true });

  const length = Number(response.headers.get("content-length") ?? NaN);
  const small = length >= 0 && length <= WHOLE_READ_LIMIT;
  for (const name of READS) {
    const native = (response as unknown as Record<string, Read | undefined>)[
      name
    ];
    if (typeof native !== "function") continue;
    const read: Read = small
      ? () => guard(native.call(response))
      : () =>
        (new Response(body(), {
          headers: response.headers,
        }) as unknown as Record<string, Read>)[name]();
    Object.defineProperty(response, name, {
      value: read,
      configurable: true,
      writable: true,
    });
  }
}

/** The stream idle timeout middleware. */
export function streamIdle(pool: Pool): Handler<Attempt> {
  const timeoutMs = pool.options.streamIdleTimeout;
  return async (ctx, next) => {
    await next();
    if (timeoutMs === false) return;
    const response = ctx.response;
    if (
      response?.body && (ctx.verdict === "success" || ctx.verdict === "final")
    ) {
      watch(pool, ctx, response, timeoutMs);
    }
  };
}
