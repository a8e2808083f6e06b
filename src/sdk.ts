/**
 * Client options for SDKs: one call that configures the OpenAI SDK, the
 * Vercel AI SDK or LangChain to send everything through a pool — the pool's
 * `fetch`, a base URL inside the pool, a key placeholder (each endpoint
 * sends its own key) and the SDK's own retries off.
 *
 * They are functions, not methods of the pool: the pool stays free of SDK
 * knowledge, a bundle without SDKs carries none of this, and they take any
 * object with the pool's `fetch` and `status()`. The types are structural:
 * nothing here imports an SDK.
 *
 * @module
 */

import type { PoolFetch } from "./pool_types.ts";
import type { EndpointStatus } from "./types.ts";

/**
 * What the SDK helpers read from a pool: its `fetch` and its endpoints'
 * URLs. A pool made by `createFailover` is one.
 */
export interface SdkPool {
  /** The pool's fetch, handed to the SDK. */
  readonly fetch: PoolFetch;
  /** The endpoints, in configuration order; the first one's `url` is the base URL. */
  status(): readonly Pick<EndpointStatus, "url">[];
}

/**
 * The key the helpers give an SDK, which requires one. The pool drops it
 * (with every other credential header a caller sets) and sends each
 * endpoint its own `apiKey` instead: it never leaves the process.
 */
const PLACEHOLDER_KEY = "ky-failover";

/** Options for `new OpenAI(...)`; see {@linkcode openAIOptions}. */
export interface OpenAIOptions {
  /** The first endpoint's `url`, without its query: inside the pool. */
  baseURL: string;
  /** `"ky-failover"`, a placeholder: the pool drops it and sends each endpoint its own key. */
  apiKey: string;
  /** The pool's fetch. */
  fetch: PoolFetch;
  /** `0`: the pool already retries on other endpoints. */
  maxRetries: 0;
}

/** Options for the Vercel AI SDK's `createOpenAI(...)`; see {@linkcode aiSdkOptions}. */
export interface AiSdkOptions {
  /** The first endpoint's `url`, without its query: inside the pool. */
  baseURL: string;
  /** `"ky-failover"`, a placeholder: the pool drops it and sends each endpoint its own key. */
  apiKey: string;
  /** The pool's fetch. */
  fetch: PoolFetch;
}

/** Options for LangChain's `new ChatOpenAI(...)`; see {@linkcode langChainOptions}. */
export interface LangChainOptions {
  /** Handed to the OpenAI client LangChain builds. */
  configuration: {
    /** The first endpoint's `url`, without its query: inside the pool. */
    baseURL: string;
    /** The pool's fetch. */
    fetch: PoolFetch;
  };
  /** `"ky-failover"`, a placeholder (without a key LangChain fails at call time); the pool drops it. */
  apiKey: string;
  /** `0`: LangChain's own retries (6 by default) would repeat whole failover rounds. */
  maxRetries: 0;
}

function baseURL(pool: SdkPool): string {
  const first = pool.status()[0];
  if (first === undefined) {
    throw new TypeError("ky-failover: the pool has no endpoint");
  }
  return first.url; // normalised: no trailing slash, never the query
}

/**
 * Options for the OpenAI SDK's client: `new OpenAI(openAIOptions(api))`.
 * Spread them to add your own (`{ ...openAIOptions(api), timeout: 60_000 }`).
 *
 * @example
 * ```ts
 * import { createFailover, openAIOptions } from "@ky-failover/ky-failover";
 *
 * using api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: "https://api.example.ai/v1?tenant=a", apiKey: "sk-a" },
 *     { name: "hk", url: "https://hk.example.ai/v1", apiKey: "sk-b" },
 *   ],
 * });
 * const options = openAIOptions(api);
 * // const openai = new OpenAI(options);
 * console.assert(options.baseURL === "https://api.example.ai/v1");
 * console.assert(options.fetch === api.fetch && options.maxRetries === 0);
 * ```
 */
export function openAIOptions(pool: SdkPool): OpenAIOptions {
  return {
    baseURL: baseURL(pool),
    apiKey: PLACEHOLDER_KEY,
    fetch: pool.fetch,
    maxRetries: 0,
  };
}

/**
 * Options for the Vercel AI SDK's OpenAI provider:
 * `createOpenAI(aiSdkOptions(api))` (also fits `createOpenAICompatible`
 * with a `name`). The provider has no retry setting: pass `maxRetries: 0`
 * to each `generateText` / `streamText` call, whose default is 2.
 *
 * @example
 * ```ts
 * import { aiSdkOptions, createFailover } from "@ky-failover/ky-failover";
 *
 * using api = createFailover({
 *   endpoints: [{ name: "primary", url: "https://api.example.ai/v1/", apiKey: "sk-a" }],
 * });
 * const options = aiSdkOptions(api);
 * // const model = createOpenAI(options).chat("gpt-4.1");
 * // await generateText({ model, prompt: "Hello", maxRetries: 0 });
 * console.assert(options.baseURL === "https://api.example.ai/v1");
 * console.assert(!("maxRetries" in options));
 * ```
 */
export function aiSdkOptions(pool: SdkPool): AiSdkOptions {
  return {
    baseURL: baseURL(pool),
    apiKey: PLACEHOLDER_KEY,
    fetch: pool.fetch,
  };
}

/**
 * Options for LangChain's `ChatOpenAI` (and `OpenAIEmbeddings`):
 * `new ChatOpenAI({ model: "gpt-4.1", ...langChainOptions(api) })`.
 *
 * @example
 * ```ts
 * import { createFailover, langChainOptions } from "@ky-failover/ky-failover";
 *
 * using api = createFailover({
 *   endpoints: [{ name: "primary", url: "https://api.example.ai/v1", apiKey: "sk-a" }],
 * });
 * const options = langChainOptions(api);
 * // const chat = new ChatOpenAI({ model: "gpt-4.1", ...options });
 * console.assert(options.configuration.baseURL === "https://api.example.ai/v1");
 * console.assert(options.apiKey === "ky-failover" && options.maxRetries === 0);
 * ```
 */
export function langChainOptions(pool: SdkPool): LangChainOptions {
  return {
    configuration: { baseURL: baseURL(pool), fetch: pool.fetch },
    apiKey: PLACEHOLDER_KEY,
    maxRetries: 0,
  };
}
