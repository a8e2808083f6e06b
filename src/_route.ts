// A call as features see it (its method, path, body and model, key-free),
// and the route its features give it: which endpoints may take its
// attempts, why none may, and what each attempt sends.

import type { Call, CallRequest, Route } from "./_call.ts";
import type { CallRoute, FeatureCall } from "./feature.ts";

const utf8 = new TextDecoder();
/** Text that may be a JSON object or array. */
const JSON_START = /^\s*[{[]/;

/** A call's key-free view for features; the body is read once, on first use. */
export class CallView implements FeatureCall {
  readonly #request: CallRequest;
  #text: { value: string | undefined } | undefined = undefined;
  #json: { value: unknown } | undefined = undefined;

  constructor(request: CallRequest) {
    this.#request = request;
  }

  get method(): string {
    return this.#request.method;
  }

  get path(): string {
    return this.#request.path;
  }

  text(): string | undefined {
    if (this.#text === undefined) {
      const body = this.#request.body;
      let value: string | undefined;
      if (typeof body === "string") value = body;
      else if (body instanceof ArrayBuffer) value = utf8.decode(body);
      else if (ArrayBuffer.isView(body)) value = utf8.decode(body);
      this.#text = { value };
    }
    return this.#text.value;
  }

  json(): unknown {
    if (this.#json === undefined) {
      const text = this.text();
      let value: unknown;
      if (text !== undefined && JSON_START.test(text)) {
        try {
          value = JSON.parse(text);
        } catch {
          // Not JSON after all.
        }
      }
      this.#json = { value };
    }
    return this.#json.value;
  }

  get model(): string | undefined {
    const body = this.json();
    const model = typeof body === "object" && body !== null &&
        !Array.isArray(body)
      ? (body as { model?: unknown }).model
      : undefined;
    return typeof model === "string" ? model : undefined;
  }
}

/** The view of `call`, made on first use. */
export function callView(call: Call): FeatureCall {
  return call.view ??= new CallView(call.request);
}

/** Asks each feature's `route` about `call`; `undefined` when none routes it. */
export function routeCall(
  routers: readonly ((call: FeatureCall) => CallRoute | undefined)[],
  call: Call,
): Route | undefined {
  if (routers.length === 0) return undefined;
  const view = callView(call);
  const routes = routers.map((router) => router(view)).filter((r) =>
    r !== undefined
  );
  if (routes.length === 0) return undefined;
  return {
    accepts: (endpoint) => routes.every((r) => r.accepts?.(endpoint) ?? true),
    refusal(endpoints) {
      let left = endpoints;
      for (const r of routes) {
        left = left.filter((name) => r.accepts?.(name) ?? true);
        if (left.length === 0) {
          return r.refusal?.() ?? "no endpoint may take this call";
        }
      }
      return "no endpoint may take this call";
    },
    attempt(endpoint) {
      for (const r of routes) {
        if (r.attempt !== undefined) return r.attempt(endpoint);
      }
      return undefined;
    },
  };
}
