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
 * without losing its other models' traffic. With a shared store
 * (`sharedState()` from `ky-failover/shared`), what one instance learns,
 * every instance knows — and one that starts within a day.
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

/**
 * How long a shared store keeps a missing model for instances that start
 * later: a day (an instance that learned it keeps it for its life).
 */
const SHARED_FOR_MS = 24 * 60 * 60 * 1000;

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
      /** Models (as sent) each endpoint said it does not have. */
      const missing = new Map<string, Set<string>>(
        host.endpoints.map((e) => [e.name, new Set()]),
      );

      /** The name `model` (as asked for) is sent under to `endpoint`. */
      const sentName = (endpoint: string, model: string) =>
        serves.get(endpoint)?.get(model) ?? model;
      /** Whether `endpoint` serves `model` (as asked for), as far as known. */
      const serving = (endpoint: string, model: string) => {
        const map = serves.get(endpoint);
        return (map === undefined || map.has(model)) &&
          !missing.get(endpoint)!.has(sentName(endpoint, model));
      };
      const refusal = (model: string) =>
        `no endpoint serves model ${JSON.stringify(model)} (${
          [...serves].map(([name, map]) =>
            missing.get(name)!.has(sentName(name, model))
              ? `${name}: not found there`
              : `${name}: ${describeServes(map)}`
          ).join("; ")
        })`;

      return {
        // Everything is read lazily: a call's body is parsed when its first
        // attempt asks which endpoints serve its model, and scanned for the
        // place of its model only when an endpoint renames it.
        route(call) {
          let span: [number, number] | undefined | null = null;
          return {
            accepts(endpoint) {
              const model = call.model;
              return model === undefined || serving(endpoint, model);
            },
            refusal: () => refusal(call.model!),
            attempt(endpoint) {
              const model = call.model;
              if (model === undefined) return undefined;
              const sent = sentName(endpoint, model);
              if (sent === model) return { model };
              const text = call.text()!;
              span ??= modelSpan(text);
              return {
                model: sent,
                body: span === undefined
                  ? undefined
                  : withModel(text, span, sent),
              };
            },
          };
        },
        async judge(answer) {
          const model = answer.call.model;
          if (model === undefined) return undefined;
          const sent = answer.model ?? model;
          const error = readAiError(await answer.text());
          if (!saysModelMissing(answer.status, error, [sent, model])) {
            return undefined;
          }
          const learned = missing.get(answer.endpoint)!;
          if (learned.has(sent)) return NOT_FOUND; // two calls learnt it
          learned.add(sent);
          host.tell({
            feature: "models",
            endpoint: answer.endpoint,
            data: { sent },
            keep: { key: sent, ms: SHARED_FOR_MS },
          });
          if (host.listening) {
            host.emit({
              type: "model-not-found",
              endpoint: answer.endpoint,
              model,
              sent,
            });
          }
          return NOT_FOUND;
        },
        onNews({ feature, endpoint, data, remote }) {
          // What another instance of the pool learned (a shared store).
          if (!remote || feature !== "models") return;
          const sent = (data as { sent?: unknown } | null)?.sent;
          if (typeof sent !== "string" || sent.length > 256) return;
          missing.get(endpoint)?.add(sent);
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
