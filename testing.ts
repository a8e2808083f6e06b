/**
 * Testing helpers for code that uses ky-failover: mocked OpenAI-compatible
 * regions that simulate outages — refused connections, requests that hang,
 * error statuses with retry headers (429, 503 …), slow answers and streams
 * that stall mid-answer — as [MSW](https://mswjs.io) handlers
 * (`setupServer` in Node, Deno and Bun, `setupWorker` in browsers) or as a
 * plain `fetch` function. Each region answers chat completions (plain and
 * streamed), embeddings, the Responses API and the model list; give it
 * `models` to make it a provider that serves only those (any other is a
 * `404 model_not_found`), and `usage` for the tokens its answers report.
 *
 * MSW is a peer dependency of this entry point only: install `msw` (2.x)
 * to use it.
 *
 * @example Fail over from a dead primary in a test
 * ```ts
 * import { setupServer } from "msw/node";
 * import { createFailover } from "@ky-failover/ky-failover";
 * import { mockRegions } from "@ky-failover/ky-failover/testing";
 *
 * const regions = mockRegions(["primary", "backup"]);
 * const server = setupServer(...regions.handlers);
 * server.listen({ onUnhandledRequest: "error" });
 *
 * regions.region("primary").mode = "refused";
 * using api = createFailover({
 *   endpoints: [
 *     { name: "primary", url: regions.region("primary").url, apiKey: "sk-a", priority: 1 },
 *     { name: "backup", url: regions.region("backup").url, apiKey: "sk-b", priority: 2 },
 *   ],
 * });
 * const reply = await api.ky.post("chat/completions", {
 *   json: { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] },
 * }).json<{ choices: { message: { content: string } }[] }>();
 * console.assert(reply.choices[0].message.content === "hello from backup");
 * console.assert(regions.region("backup").received[0].authorization === "Bearer sk-b");
 * server.close();
 * ```
 *
 * @module
 */

export { mockRegion, mockRegions } from "./src/testing/regions.ts";
export type {
  MockRegion,
  MockRegionOptions,
  MockRegions,
  MockUsage,
  ReceivedRequest,
  RegionMode,
  ReplyContext,
} from "./src/testing/regions.ts";
/** MSW's request handler type, re-exported for {@linkcode MockRegion.handler}. */
export type { HttpHandler } from "msw";
