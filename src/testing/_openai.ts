// OpenAI-compatible answers of a mocked region: chat completions (plain and
// server-sent events), the model list and error bodies.

const MODEL = "gpt-4.1";

const encoder = new TextEncoder();

/** The parsed JSON body of a request, or `undefined`. */
export function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function field(body: unknown, name: string): unknown {
  return typeof body === "object" && body !== null
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

/** Whether the request body asks for a streamed answer (`stream: true`). */
export function wantsStream(body: unknown): boolean {
  return field(body, "stream") === true;
}

const ERROR_TYPES: Record<number, [type: string, code: string | null]> = {
  400: ["invalid_request_error", null],
  401: ["invalid_request_error", "invalid_api_key"],
  403: ["invalid_request_error", "unsupported_country_region_territory"],
  404: ["invalid_request_error", "not_found"],
  408: ["timeout", null],
  429: ["requests", "rate_limit_exceeded"],
  500: ["server_error", null],
  502: ["server_error", null],
  503: ["server_error", "service_unavailable"],
  504: ["server_error", null],
};

/** An OpenAI-style error body. */
export function errorJson(status: number, message: string): string {
  const [type, code] = ERROR_TYPES[status] ??
    [status >= 500 ? "server_error" : "invalid_request_error", null];
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/** The words a region answers with: `hello from <name>`. */
export function replyText(name: string): string {
  return `hello from ${name}`;
}

/** A non-streamed `chat.completion`. */
export function completionJson(name: string, id: string, body: unknown) {
  const content = replyText(name);
  const model = field(body, "model");
  return {
    id,
    object: "chat.completion",
    created: 1_800_000_000,
    model: typeof model === "string" ? model : MODEL,
    choices: [{
      index: 0,
      message: { role: "assistant", content, refusal: null },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
  };
}

/** The model list of `GET …/models`. */
export function modelsJson(name: string) {
  return {
    object: "list",
    data: [{ id: MODEL, object: "model", created: 0, owned_by: name }],
  };
}

/**
 * The server-sent events of a streamed chat completion, each a complete
 * `data: …\n\n` frame, ending with `data: [DONE]`.
 */
export function completionEvents(
  name: string,
  id: string,
  body: unknown,
): string[] {
  const model = field(body, "model");
  const base = {
    id,
    object: "chat.completion.chunk",
    created: 1_800_000_000,
    model: typeof model === "string" ? model : MODEL,
  };
  const chunk = (delta: object, finish: string | null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const words = replyText(name).split(" ");
  const chunks: object[] = [
    chunk({ role: "assistant", content: "" }, null),
    ...words.map((word, i) =>
      chunk({ content: i === 0 ? word : ` ${word}` }, null)
    ),
    chunk({}, "stop"),
  ];
  const options = field(body, "stream_options");
  if (field(options, "include_usage") === true) {
    chunks.push({
      ...base,
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });
  }
  return [
    ...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`),
    "data: [DONE]\n\n",
  ];
}

/**
 * A body that sends `events`, then — when `stallAt` is a number — stops
 * after that many and sends nothing more until `signal` aborts.
 */
export function eventStream(
  events: readonly string[],
  signal: AbortSignal,
  stallAt?: number,
): ReadableStream<Uint8Array> {
  let next = 0;
  let onAbort: (() => void) | undefined;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stallAt !== undefined && next >= stallAt) {
        // Stalled: never enqueue again. Error the body once the client
        // gives up, so that nothing stays pending.
        return new Promise<void>((resolve) => {
          const stop = () => {
            try {
              controller.error(signal.reason);
            } catch {
              // already closed or errored
            }
            resolve();
          };
          if (signal.aborted) return stop();
          onAbort = stop;
          signal.addEventListener("abort", stop, { once: true });
        });
      }
      if (next >= events.length) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(events[next++]));
    },
    cancel() {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    },
  });
}
