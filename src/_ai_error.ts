// Error bodies of AI APIs, read into one shape: the OpenAI style and the
// ones OpenAI-compatible servers of other vendors answer with.
//
// | who | body |
// |---|---|
// | OpenAI, Azure, DeepSeek, OpenRouter, Groq … | `{"error": {"message", "type", "code", "param"}}` |
// | Anthropic | `{"type": "error", "error": {"type", "message"}}` |
// | Gemini (OpenAI-compatible) | `[{"error": {"code": 404, "message", "status"}}]` |
// | vLLM | `{"object": "error", "message", "type", "code"}` |
// | Ollama | `{"error": "model \"x\" not found, try pulling it first"}` |

/** An error body's parts; each may be missing. */
export interface AiError {
  /** `error.code` (a number becomes text), e.g. `"model_not_found"`. */
  code: string | undefined;
  /** `error.type` (or Gemini's `error.status`), e.g. `"invalid_request_error"`. */
  type: string | undefined;
  message: string | undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads an error body (text); `undefined` when it is not one. */
export function readAiError(body: string | undefined): AiError | undefined {
  if (body === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (!isObject(parsed)) return undefined;
  const inner = parsed.error;
  if (typeof inner === "string") {
    return { code: undefined, type: undefined, message: inner };
  }
  const source = isObject(inner)
    ? inner
    : parsed.object === "error"
    ? parsed
    : undefined;
  if (source === undefined) return undefined;
  return {
    code: text(source.code),
    type: text(source.type) ?? text(source.status),
    message: text(source.message),
  };
}

/** Codes that say a model (or an Azure deployment) is not there. */
const MISSING_CODES = new Set([
  "model_not_found",
  "DeploymentNotFound",
]);

/**
 * Messages that say a model is not there: OpenAI's "The model `x` does
 * not exist", vLLM's, Ollama's `model "x" not found`, Gemini's
 * "models/x is not found", OpenRouter's "x is not a valid model ID",
 * "unknown model", "no such model" — believed only when they also name
 * the model (a message about a parameter "not supported by this model"
 * says nothing of the model's presence).
 */
const MISSING_MESSAGE =
  /\bmodels?\b[^.]*?\b(?:does not exist|not exist|not found|is not a valid model)|\b(?:unknown|invalid|no such) model\b|\bnot a valid model id\b/i;

/** DeepSeek's, which names no model. */
const BARE_MISSING = /^\s*model not exist\s*$/i;

/**
 * Whether an answer of `status` with `error` says the model it was sent
 * (under one of `names`) is not served there: a 404 or a 400 with a
 * missing-model code, or a message that says so and names the model
 * (Anthropic: a `not_found_error` that names it).
 */
export function saysModelMissing(
  status: number,
  error: AiError | undefined,
  names: readonly string[],
): boolean {
  if ((status !== 404 && status !== 400) || error === undefined) return false;
  if (error.code !== undefined && MISSING_CODES.has(error.code)) return true;
  const message = error.message ?? "";
  if (BARE_MISSING.test(message)) return true;
  const named = names.some((name) => message.includes(name));
  if (!named) return false;
  return MISSING_MESSAGE.test(message) || error.type === "not_found_error";
}
