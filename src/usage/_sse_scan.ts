// Reading `usage` from a server-sent event stream as it arrives, line by
// line (a line may be split across chunks): a chat completion stream asked
// with `stream_options: { include_usage: true }` ends with a chunk whose
// `usage` is set, and a Responses API stream with a `response.completed`
// event whose `response.usage` is. Only the line being read and the data
// of the event being read are kept; only events that mention `"usage"` are
// parsed; the last one that reports usage wins.

import { isPlainObject } from "../_validate.ts";
import { type Reading, readingOf } from "./_tokens.ts";

/** A line break of an event stream. */
const LINE_BREAK = /\r\n|\r|\n/g;
/** The `type` of a Responses API stream's last event. */
const RESPONSE_DONE =
  /"type"\s*:\s*"response\.(?:completed|incomplete|failed)"/;
/** Longest event kept (a `response.completed` holds the whole answer). */
const EVENT_LIMIT = 16 * 1024 * 1024;

/** A scan of one event stream. */
export interface SseScan {
  /** The next text of the stream. */
  push(text: string): void;
  /** The stream ended: the last usage it reported, if any. */
  end(): Reading | undefined;
  /** It sent its last event (`data: [DONE]`): nothing more will count. */
  readonly finished: boolean;
}

/** The reading of one event's data, when it reports usage. */
function eventReading(data: string): Reading | undefined {
  if (!data.includes('"usage"')) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isPlainObject(event)) return undefined;
  const response = event.response;
  const reading = isPlainObject(response) && response.usage != null
    ? readingOf(response.usage, response.model)
    : readingOf(event.usage, event.model);
  return reading.tokens === undefined ? undefined : reading;
}

/** A scan of a `text/event-stream` body. */
export function sseScan(): SseScan {
  /** The line being read, up to the text read so far. */
  let line = "";
  /** The data lines of the event being read; `undefined`: too long. */
  let data: string[] | undefined = [];
  let size = 0;
  /** The last text ended with "\r": a "\n" starting the next is the same break. */
  let afterCr = false;
  let last: Reading | undefined;
  let finished = false;

  function dispatch(): void {
    if (data !== undefined && data.length > 0) {
      const text = data.join("\n");
      if (text === "[DONE]") finished = true;
      else {
        last = eventReading(text) ?? last;
        // A Responses API stream's last event: a client may stop there.
        if (RESPONSE_DONE.test(text)) finished = true;
      }
    }
    data = [];
    size = 0;
  }

  function onLine(text: string): void {
    if (text === "") return dispatch();
    if (data === undefined || !text.startsWith("data:")) return;
    const value = text.charCodeAt(5) === 32 ? text.slice(6) : text.slice(5);
    size += value.length;
    if (size > EVENT_LIMIT) data = undefined;
    else data.push(value);
  }

  function push(text: string): void {
    if (afterCr && text.startsWith("\n")) text = text.slice(1);
    afterCr = text.endsWith("\r");
    let from = 0;
    LINE_BREAK.lastIndex = 0;
    for (let m = LINE_BREAK.exec(text); m !== null; m = LINE_BREAK.exec(text)) {
      onLine(line + text.slice(from, m.index));
      line = "";
      from = m.index + m[0].length;
    }
    if (from < text.length) {
      line += text.slice(from);
      // A data line is its data and the "data: " before it.
      if (line.length > EVENT_LIMIT + "data: ".length) {
        line = "";
        data = undefined;
      }
    }
  }

  return {
    push,
    get finished() {
      return finished;
    },
    end() {
      if (line !== "") onLine(line);
      line = "";
      dispatch();
      return last;
    },
  };
}
