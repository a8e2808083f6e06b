// What the otel feature calls things: the GenAI operation of a path, the
// provider behind a host, the class of an error, an endpoint's server
// attributes and a key-free URL. Every value here has bounded cardinality
// (fit for a metric attribute) or comes from the pool's configuration.

/** An endpoint as spans and metrics name it. */
export interface EndpointNames {
  /** Its base URL, without query (key-free: the pool strips it). */
  readonly url: string;
  /** `server.address`: its host, without IPv6 brackets. */
  readonly address: string;
  /** `server.port`: its port, or the scheme's default. */
  readonly port: number;
  /** `gen_ai.provider.name`, by its host. */
  readonly provider: string;
}

/**
 * The `gen_ai.provider.name` of well-known hosts (the semantic
 * conventions' values); any other host speaks the OpenAI API, so its
 * telemetry has the `"openai"` flavour.
 */
const PROVIDERS: readonly (readonly [RegExp, string])[] = [
  [/\.openai\.azure\.com$/, "azure.ai.openai"],
  [/\.(services|inference)\.ai\.azure\.com$/, "azure.ai.inference"],
  [/(^|\.)anthropic\.com$/, "anthropic"],
  [/(^|\.)deepseek\.com$/, "deepseek"],
  [/(^|\.)groq\.com$/, "groq"],
  [/(^|\.)mistral\.ai$/, "mistral_ai"],
  [/(^|\.)x\.ai$/, "x_ai"],
  [/(^|\.)perplexity\.ai$/, "perplexity"],
  [/^generativelanguage\.googleapis\.com$/, "gcp.gemini"],
  [/aiplatform\.googleapis\.com$/, "gcp.vertex_ai"],
  [/^bedrock[a-z-]*\.[a-z0-9-]+\.amazonaws\.com$/, "aws.bedrock"],
  [/(^|\.)cohere\.(com|ai)$/, "cohere"],
  [/\.ml\.cloud\.ibm\.com$/, "ibm.watsonx.ai"],
];

/** How spans and metrics name the endpoint at `url` (a base URL). */
export function endpointNames(url: string): EndpointNames {
  const parsed = new URL(url);
  const address = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = parsed.port !== ""
    ? Number(parsed.port)
    : parsed.protocol === "http:"
    ? 80
    : 443;
  const provider = PROVIDERS.find(([host]) => host.test(address))?.[1] ??
    "openai";
  return { url, address, port, provider };
}

/**
 * The GenAI operation (`gen_ai.operation.name`) a call makes, from its
 * method and path — also under a deployment path such as Azure's
 * `deployments/x/chat/completions` — or `undefined` for a call that is
 * not one (`GET /models`).
 */
export function operationOf(method: string, path: string): string | undefined {
  if (method !== "POST") return undefined;
  const route = withoutQuery(path).replace(/\/+$/, "");
  if (/(^|\/)chat\/completions$/.test(route)) return "chat";
  if (/(^|\/)responses$/.test(route)) return "chat";
  if (/(^|\/)completions$/.test(route)) return "text_completion";
  if (/(^|\/)embeddings$/.test(route)) return "embeddings";
  return undefined;
}

/** `path` without its query or fragment: what may hold a secret goes. */
export function withoutQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** `url.full` of a request to `path` under `endpoint`, without any query. */
export function fullUrl(endpoint: EndpointNames, path: string): string {
  const route = withoutQuery(path);
  return endpoint.url + (route.startsWith("/") ? "" : "/") + route;
}

/**
 * `text` (an error's description, as the pool words it) with every URL's
 * user info and query masked. The pool strips the endpoint's own query
 * secrets; a runtime's message may also quote the caller's query.
 */
export function withoutUrlSecrets(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1")
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)\?[^\s#]*/gi, "$1?…");
}

/** A class name: what an error's `name` may be to become `error.type`. */
const CLASS_NAME = /^[A-Za-z_$][\w$.]{0,99}$/;

/**
 * `error.type`: the status code of an answer that is an error (400 and
 * up), or the class name of an error (`"AttemptTimeoutError"`,
 * `"TypeError"`, `"AbortError"`) — `"_OTHER"` for an error without a
 * usable name — or `undefined` when there is no error.
 */
export function errorTypeOf(
  status: number | undefined,
  error: unknown,
): string | undefined {
  if (status !== undefined) return status >= 400 ? String(status) : undefined;
  if (error === undefined) return undefined;
  const name = typeof error === "object" && error !== null
    ? (error as { name?: unknown }).name
    : undefined;
  return typeof name === "string" && CLASS_NAME.test(name) ? name : "_OTHER";
}
