/**
 * Model names per endpoint, for a pool across providers: each endpoint
 * says which models it serves (`models` in its options) — a list, or a map
 * from the model the caller asks for to its own name for it (an Azure
 * deployment, another vendor's model). A call goes only to endpoints that
 * serve the model in its JSON body, and each attempt's body names the
 * model as that endpoint knows it; a call for a model no endpoint serves
 * fails at once, without a request. An endpoint that answers that it does
 * not have a model (`404 model_not_found`, and the other vendors' ways of
 * saying it) fails the call over and gets no call for that model again,
 * without losing its other models' traffic.
 *
 * @example A backup from another provider
 * ```ts
 * import { createPool } from "@ky-failover/ky-failover/core";
 * import { models } from "@ky-failover/ky-failover/models";
 *
 * using pool = createPool({
 *   endpoints: [
 *     { name: "openai", url: "https://api.openai.com/v1", apiKey: "sk-a", priority: 1, models: ["gpt-4.1"] },
 *     { name: "deepseek", url: "https://api.deepseek.com/v1", apiKey: "sk-b", priority: 2, models: { "gpt-4.1": "deepseek-chat" } },
 *   ],
 *   features: [models()],
 * });
 * console.assert(pool.status()[1].models?.serves?.["gpt-4.1"] === "deepseek-chat");
 * ```
 *
 * @module
 */

import { readAiError, saysModelMissing } from "../_ai_error.ts";
import type { Feature, Ruling } from "../feature.ts";
import { modelSpan, withModel } from "./_rewrite.ts";
import { describeServes, resolveServes, type Serves } from "./_serves.ts";

/** How a learned missing model is shown in attempt records and events. */
const NOT_FOUND: Ruling = { verdict: "failover", code: "model_not_found" };

/**
 * The models feature: routes each call by the model in its JSON body (see
 * the module documentation). Reads each endpoint's `models` option; an
 * invalid one makes creating the pool throw a `TypeError` naming it.
 * Bodies that are not JSON, or name no model, go anywhere as they are.
 *
 * @example
 * ```ts
 * import { models } from "@ky-failover/ky-failover/models";
 *
 * console.assert(models().name === "models");
 * ```
 */
export function models(): Feature {
  return {
    name: "models",
    endpointOptions: ["models"],
    attach(host) {
      const serves = new Map<string, Serves>(
        host.endpoints.map((e) => [
          e.name,
          resolveServes(
            e.options.models,
            `options.endpoints[${e.index}].models`,
          ),
        ]),
      );
      /** Models (as asked for) each endpoint said it does not have. */
      const missing = new Map<string, Set<string>>(
        host.endpoints.map((e) => [e.name, new Set()]),
      );

      const declared = [...serves.values()].some((map) => map !== undefined);
      /** Whether any endpoint said it lacks a model. */
      let learnt = false;

      const serving = (endpoint: string, model: string) => {
        const map = serves.get(endpoint);
        return (map === undefined || map.has(model)) &&
          !missing.get(endpoint)!.has(model);
      };
      const sentName = (endpoint: string, model: string) =>
        serves.get(endpoint)?.get(model) ?? model;

      return {
        route(call) {
          // Nothing declared and nothing learnt: every endpoint serves every
          // model under its own name, and the body need not even be read.
          if (!declared && !learnt) return undefined;
          const model = call.model;
          if (model === undefined) return undefined;
          const text = call.text()!;
          const span = modelSpan(text);
          return {
            accepts: (endpoint) => serving(endpoint, model),
            refusal: () =>
              `no endpoint serves model ${JSON.stringify(model)} (${
                [...serves].map(([name, map]) =>
                  missing.get(name)!.has(model)
                    ? `${name}: not found there`
                    : `${name}: ${describeServes(map)}`
                ).join("; ")
              })`,
            attempt(endpoint) {
              const sent = sentName(endpoint, model);
              return {
                model: sent,
                body: sent === model || span === undefined
                  ? undefined
                  : withModel(text, span, sent),
              };
            },
          };
        },
        async judge(answer) {
          const model = answer.call.model;
          if (model === undefined) return undefined;
          const error = readAiError(await answer.text());
          if (!saysModelMissing(answer.status, error)) return undefined;
          const learned = missing.get(answer.endpoint)!;
          if (learned.has(model)) return NOT_FOUND; // two calls learnt it
          learned.add(model);
          learnt = true;
          if (host.listening) {
            host.emit({
              type: "model-not-found",
              endpoint: answer.endpoint,
              model,
              sent: answer.model ?? model,
            });
          }
          return NOT_FOUND;
        },
        status(endpoint) {
          const map = serves.get(endpoint);
          return {
            models: {
              serves: map === undefined ? undefined : Object.fromEntries(map),
              notFound: [...missing.get(endpoint)!],
            },
          };
        },
      };
    },
  };
}
