// Reading an answer's usage off its bytes as the caller reads them: an
// event stream by its events, anything else as a JSON object (whatever its
// content type says, a body that is no JSON object is skipped at its first
// byte). Each chunk is decoded as it comes — nothing is delayed, and the
// body is never kept whole.

import { jsonScan } from "./_json_scan.ts";
import { sseScan } from "./_sse_scan.ts";
import type { Reading } from "./_tokens.ts";

/** Content types of server-sent event streams. */
const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;

/** What reads one body. */
export interface UsageReader {
  chunk(bytes: Uint8Array): void;
  /** The body ended: what it said (`undefined`: nothing readable). */
  end(): Reading | undefined;
  /** The body said it is complete (an event stream's `data: [DONE]`). */
  readonly finished: boolean;
}

/** A reader of a body with `contentType`. */
export function usageReader(contentType: string | null): UsageReader {
  const decoder = new TextDecoder();
  if (EVENT_STREAM.test(contentType ?? "")) {
    const scan = sseScan();
    return {
      chunk: (bytes) => scan.push(decoder.decode(bytes, { stream: true })),
      end() {
        scan.push(decoder.decode());
        return scan.end();
      },
      get finished() {
        return scan.finished;
      },
    };
  }
  const scan = jsonScan();
  return {
    chunk(bytes) {
      if (!scan.dead) scan.push(decoder.decode(bytes, { stream: true }));
    },
    end() {
      if (!scan.dead) scan.push(decoder.decode());
      return scan.end();
    },
    finished: false,
  };
}
