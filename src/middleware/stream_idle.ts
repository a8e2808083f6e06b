/**
 * Stream idle timeout middleware. Once an attempt's response headers reach
 * the caller the call is committed to that endpoint (before that, every
 * failure fails over). From then on, a body that stops flowing is ended with
 * a `StreamIdleTimeoutError` naming the endpoint when `streamIdleTimeout` ms
 * pass without a chunk **while the consumer is waiting for one** — a slow
 * consumer never trips it. The stall counts against the endpoint's health
 * (and can open its breaker), and the attempt is aborted so its socket is
 * released.
 *
 * The watch adds no buffering (`highWaterMark: 0`): a chunk is read from the
 * network only when the consumer asks for one. Reading to the end,
 * cancelling, or aborting the call clears the timer: nothing outlives the
 * stream.
 *
 * @module
 */

import type { Handler } from "../_compose.ts";
import type { Attempt } from "../_context.ts";
import type { Pool } from "../_pool.ts";
import { describeError, StreamIdleTimeoutError } from "../errors.ts";
import { recordHealth } from "./breaker.ts";

function watch(
  pool: Pool,
  ctx: Attempt,
  response: Response,
  timeoutMs: number,
): Response {
  const { clock } = pool.options;
  const endpoint = ctx.target!;
  const reader = response.body!.getReader();
  let timer: unknown;
  let finished = false;
  const stop = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };
  // The body broke after the call was committed: count it against the
  // endpoint (a caller's abort or the pool closing is nobody's fault).
  const blame = (error: Error, stalled: boolean) => {
    if (ctx.call.abortKind !== undefined) return;
    const now = clock.now();
    endpoint.failures += 1;
    endpoint.consecutiveFailures += 1;
    endpoint.lastError = stalled ? error.message : describeError(error);
    endpoint.lastErrorAt = now;
    if (stalled && pool.listening) {
      pool.emit({ type: "stream-stall", endpoint: endpoint.name, timeoutMs });
    }
    recordHealth(pool, endpoint, "failure", now);
  };
  const stall = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    timer = undefined;
    finished = true;
    const error = new StreamIdleTimeoutError(endpoint.name, timeoutMs);
    controller.error(error);
    ctx.cancel(error);
    reader.cancel(error).catch(() => {});
    blame(error, true);
  };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve) => {
        timer = clock.setTimeout(() => {
          stall(controller);
          resolve();
        }, timeoutMs);
        reader.read().then(({ done, value }) => {
          if (finished) return;
          stop();
          if (done) {
            finished = true;
            controller.close();
          } else {
            controller.enqueue(value);
          }
          resolve();
        }, (error) => {
          if (finished) return;
          stop();
          finished = true;
          controller.error(error);
          blame(error, false);
          resolve();
        });
      });
    },
    cancel(reason) {
      stop();
      finished = true;
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  const watched = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // Keep what a plain Response would tell about where it came from.
  Object.defineProperty(watched, "url", { value: response.url });
  Object.defineProperty(watched, "redirected", { value: response.redirected });
  return watched;
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
      ctx.response = watch(pool, ctx, response, timeoutMs);
    }
  };
}
