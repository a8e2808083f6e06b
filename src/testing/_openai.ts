// OpenAI-compatible answers of a mocked region: chat completions (plain and
// server-sent events), embeddings, the Responses API (plain and events),
// the model list and error bodies.

/** The model an answer names when its request named none. */
const MODEL = "gpt-4.1";

/** Created-at time of every answer (seconds since the epoch). */
const CREATED = 1_800_000_000;

const encoder = new TextEncoder();

/** What a region's answers report as their tokens. */
export interface Tokens {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number | undefined;
}

/** Today's default: 5 prompt tokens, 3 completion tokens. */
export const DEFAULT_TOKENS: Tokens = {
  prompt_tokens: 5,
  completion_tokens: 3,
};

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

/** The body's top-level `model`, when it is a string. */
export function modelOf(body: unknown): string | undefined {
  const model = field(body, "model");
  return typeof model === "string" ? model : undefined;
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

/** OpenAI's 404 body for a model the key cannot use. */
export function modelNotFoundJson(model: string): string {
  return JSON.stringify({
    error: {
      message:
        `The model \`${model}\` does not exist or you do not have access to it.`,
      type: "invalid_request_error",
      param: null,
      code: "model_not_found",
    },
  });
}

/** The words a region answers with: `hello from <name>`. */
export function replyText(name: string): string {
  return `hello from ${name}`;
}

/** A chat completion's `usage`. */
function chatUsage(tokens: Tokens) {
  return {
    prompt_tokens: tokens.prompt_tokens,
    completion_tokens: tokens.completion_tokens,
    total_tokens: tokens.prompt_tokens + tokens.completion_tokens,
    ...(tokens.cached_tokens === undefined
      ? {}
      : { prompt_tokens_details: { cached_tokens: tokens.cached_tokens } }),
  };
}

/** A non-streamed `chat.completion`. */
export function completionJson(
  name: string,
  id: string,
  body: unknown,
  tokens: Tokens = DEFAULT_TOKENS,
) {
  return {
    id,
    object: "chat.completion",
    created: CREATED,
    model: modelOf(body) ?? MODEL,
    choices: [{
      index: 0,
      message: { role: "assistant", content: replyText(name), refusal: null },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage: chatUsage(tokens),
  };
}

/** The model list of `GET …/models`. */
export function modelsJson(name: string, models: readonly string[] = [MODEL]) {
  return {
    object: "list",
    data: models.map((id) => ({
      id,
      object: "model",
      created: 0,
      owned_by: name,
    })),
  };
}

/** Each server-sent event as a complete `data: …\n\n` frame. */
function frames(events: readonly object[]): string[] {
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`);
}

/**
 * The server-sent events of a streamed chat completion, each a complete
 * `data: …\n\n` frame, ending with `data: [DONE]`.
 */
export function completionEvents(
  name: string,
  id: string,
  body: unknown,
  tokens: Tokens = DEFAULT_TOKENS,
): string[] {
  const base = {
    id,
    object: "chat.completion.chunk",
    created: CREATED,
    model: modelOf(body) ?? MODEL,
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
    chunks.push({ ...base, choices: [], usage: chatUsage(tokens) });
  }
  return [...frames(chunks), "data: [DONE]\n\n"];
}

/** The inputs of an embeddings request: `input` as a list. */
function inputs(body: unknown): unknown[] {
  const input = field(body, "input");
  if (Array.isArray(input)) {
    // A list of token ids is one input; a list of texts (or of token
    // lists) is one input each.
    return input.length > 0 && typeof input[0] === "number" ? [input] : input;
  }
  return [input];
}

/** A vector of `dimensions` numbers, the same for the same region and index. */
function vector(name: string, index: number, dimensions: number): number[] {
  let seed = index + 1;
  for (const c of name) seed = (seed * 31 + c.charCodeAt(0)) >>> 0;
  return Array.from({ length: dimensions }, (_, i) => {
    seed = (seed * 1_103_515_245 + 12_345 + i) >>> 0;
    return Math.round((seed / 0xffffffff - 0.5) * 2 * 1e6) / 1e6;
  });
}

/** Float32 little-endian bytes in base64, as `encoding_format: "base64"` asks. */
function base64(numbers: readonly number[]): string {
  const floats = new Float32Array(numbers);
  const view = new DataView(floats.buffer);
  for (let i = 0; i < floats.length; i++) {
    view.setFloat32(i * 4, floats[i], true);
  }
  let binary = "";
  for (const byte of new Uint8Array(floats.buffer)) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

/**
 * An embeddings list (`POST …/embeddings`): one vector per input, of
 * `dimensions` numbers (default 8), as floats or — `encoding_format:
 * "base64"`, the OpenAI SDK's default — as base64 of little-endian float32.
 */
export function embeddingsJson(
  name: string,
  body: unknown,
  tokens: Tokens = DEFAULT_TOKENS,
) {
  const asked = field(body, "dimensions");
  const dimensions = typeof asked === "number" && Number.isInteger(asked) &&
      asked > 0 && asked <= 4096
    ? asked
    : 8;
  const encode = field(body, "encoding_format") === "base64";
  return {
    object: "list",
    data: inputs(body).map((_, index) => {
      const numbers = vector(name, index, dimensions);
      return {
        object: "embedding",
        index,
        embedding: encode ? base64(numbers) : numbers,
      };
    }),
    model: modelOf(body) ?? "text-embedding-3-small",
    usage: {
      prompt_tokens: tokens.prompt_tokens,
      total_tokens: tokens.prompt_tokens,
    },
  };
}

/** A Responses API `usage`. */
function responseUsage(tokens: Tokens) {
  return {
    input_tokens: tokens.prompt_tokens,
    input_tokens_details: { cached_tokens: tokens.cached_tokens ?? 0 },
    output_tokens: tokens.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: tokens.prompt_tokens + tokens.completion_tokens,
  };
}

/** The assistant message of a response, as done or as it starts. */
function outputMessage(id: string, text: string | undefined) {
  return {
    id: `msg_${id}`,
    type: "message",
    status: text === undefined ? "in_progress" : "completed",
    role: "assistant",
    content: text === undefined
      ? []
      : [{ type: "output_text", text, annotations: [] }],
  };
}

/** A Responses API object (`POST …/responses`), completed or in progress. */
export function responseJson(
  name: string,
  id: string,
  body: unknown,
  tokens: Tokens = DEFAULT_TOKENS,
  done = true,
) {
  return {
    id: `resp_${id}`,
    object: "response",
    created_at: CREATED,
    status: done ? "completed" : "in_progress",
    error: null,
    incomplete_details: null,
    instructions: field(body, "instructions") ?? null,
    model: modelOf(body) ?? MODEL,
    output: done ? [outputMessage(id, replyText(name))] : [],
    usage: done ? responseUsage(tokens) : null,
  };
}

/**
 * The server-sent events of a streamed response (`stream: true` on
 * `POST …/responses`), each an `event: <type>` / `data: …` frame:
 * `response.created`, `response.in_progress`, the message's item and
 * part, one `response.output_text.delta` per word, their `….done`
 * events, and `response.completed` with the `usage`. No `[DONE]`.
 */
export function responseEvents(
  name: string,
  id: string,
  body: unknown,
  tokens: Tokens = DEFAULT_TOKENS,
): string[] {
  const text = replyText(name);
  const item = { item_id: `msg_${id}`, output_index: 0 };
  const part = { ...item, content_index: 0 };
  const events: { type: string; [key: string]: unknown }[] = [
    {
      type: "response.created",
      response: responseJson(name, id, body, tokens, false),
    },
    {
      type: "response.in_progress",
      response: responseJson(name, id, body, tokens, false),
    },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: outputMessage(id, undefined),
    },
    {
      type: "response.content_part.added",
      ...part,
      part: { type: "output_text", text: "", annotations: [] },
    },
    ...text.split(" ").map((word, i) => ({
      type: "response.output_text.delta",
      ...part,
      delta: i === 0 ? word : ` ${word}`,
    })),
    { type: "response.output_text.done", ...part, text },
    {
      type: "response.content_part.done",
      ...part,
      part: { type: "output_text", text, annotations: [] },
    },
    {
      type: "response.output_item.done",
      output_index: 0,
      item: outputMessage(id, text),
    },
    {
      type: "response.completed",
      response: responseJson(name, id, body, tokens),
    },
  ];
  return events.map((event, sequence_number) =>
    `event: ${event.type}\ndata: ${
      JSON.stringify({ ...event, sequence_number })
    }\n\n`
  );
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
