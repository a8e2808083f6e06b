/**
 * The buffer step: reads a non-streamed answer whole inside its attempt,
 * so that a body that breaks (connection reset) or stalls fails over like
 * any other failure, instead of reaching the caller as a runtime error after
 * the call was committed to that endpoint.
 *
 * An answer is read whole when the call may return it (its verdict by
 * `_classify.ts` is "success" or "final": one that fails over is dropped
 * unread), has a body, is not
 * a stream (`text/event-stream`, `application/x-ndjson`), and its
 * `content-length`, if any, is within `bufferLimit` (8 MiB by default).
 * Each read waits at most `streamIdleTimeout` for data, and the whole read
 * runs under the attempt's `timeout`, which for such an answer lasts until
 * its last byte. The caller gets a `Response` over the bytes, with the
 * status, headers and `url` of the endpoint's.
 *
 * A body that grows past `bufferLimit` as it arrives is committed at that
 * point: the caller gets the bytes read so far followed by the rest of the
 * stream, watched by the stream idle timeout like any streamed answer.
 * Streams keep their commit point at the response headers.
 *
 * @module
 */

import type { Handler } from "./_chain.ts";
import type { Attempt } from "./_call.ts";
import { judgeAnswer } from "./_classify.ts";
import { ownCredentials } from "./_outcome.ts";
import type { PoolState } from "./_state.ts";
import { StreamIdleTimeoutError } from "./errors.ts";
import { concat } from "./_bytes.ts";
import { NULL_BODY, rebuilt } from "./_response.ts";
import { scrubError } from "./_redact.ts";

/** Content types that are streams, committed at their headers. */
const STREAMS = /^\s*(text\/event-stream|application\/x-ndjson)\s*(;|$)/i;

/** Whether `response` is an answer to read whole, under `limit` bytes. */
function worthBuffering(
  state: PoolState,
  ctx: Attempt,
  response: Response,
  limit: number,
): boolean {
  if (response.body === null || ctx.method === "HEAD") return false;
  const status = response.status;
  // Only an answer the call may return: one that fails over is dropped.
  const { verdict } = judgeAnswer(
    status,
    response.headers,
    ownCredentials(state, ctx.target!),
  );
  if (verdict !== "success" && verdict !== "final") return false;
  if (NULL_BODY.includes(status)) return false;
  const headers = response.headers;
  if (STREAMS.test(headers.get("content-type") ?? "")) return false;
  const length = Number(headers.get("content-length") ?? 0);
  return length <= limit;
}

/** A stream of `chunks`, then of what `reader` still has. */
function prefixed(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks.shift();
      if (chunk !== undefined) return controller.enqueue(chunk);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** The buffer step (a pass-through with `bufferLimit: false`). */
export function bufferBody(state: PoolState): Handler<Attempt> {
  const { bufferLimit, streamIdleTimeout: idle } = state.options;
  if (bufferLimit === false) return (_ctx, next) => next();
  const limit = bufferLimit;
  const deadlines = idle === false ? undefined : state.deadlines(idle);

  /** Reads `response` whole, or commits it past `limit` bytes. */
  async function read(ctx: Attempt, response: Response): Promise<void> {
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const deadline = deadlines?.set(() => {
        const error = new StreamIdleTimeoutError(
          ctx.target!.name,
          idle as number,
        );
        if (state.listening) {
          state.emit({
            type: "stream-stall",
            endpoint: ctx.target!.name,
            timeoutMs: idle as number,
          });
        }
        ctx.cancel(error);
      });
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } finally {
        if (deadline !== undefined) deadlines!.clear(deadline);
      }
      if (result.done) break;
      chunks.push(result.value);
      size += result.value.byteLength;
      if (size > limit) {
        ctx.response = rebuilt(
          response,
          prefixed(chunks, reader),
          response.url,
        );
        return;
      }
    }
    const bytes = concat(chunks, size);
    ctx.response = rebuilt(response, bytes, response.url);
    ctx.read = { response: ctx.response, bytes };
  }

  return async (ctx, next) => {
    await next();
    const response = ctx.response;
    if (
      response === undefined || !worthBuffering(state, ctx, response, limit)
    ) {
      return;
    }
    try {
      await read(ctx, response);
    } catch (error) {
      // The body broke or stalled (its stream is errored, nothing to
      // cancel): no answer after all. The attempt fails like one that got
      // no response, with the reason it was cut off.
      ctx.response = undefined;
      ctx.error = ctx.signal.aborted
        ? ctx.signal.reason
        : scrubError(error, ctx.target!.querySecrets);
    }
  };
}
