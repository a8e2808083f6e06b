// `failover.ky`: a ky instance whose transport is the failover engine. ky
// keeps everything it is good at (JSON bodies, search params, hooks, typed
// responses, HTTPError); its own retry and timeout are off because the
// engine owns attempts and timeouts. A `beforeError` hook turns the
// HTTPError of a call whose every attempt failed into a FailoverError.

import ky, {
  isHTTPError,
  type KyInstance,
  type Options as KyOptions,
} from "ky";
import { endpointSecrets, mergeSecrets, scrubError } from "./_redact.ts";
import { callRequest } from "./_request.ts";
import type { Engine } from "./_pool.ts";
import { FailoverError } from "./errors.ts";

const MANAGED = [
  "retry",
  "timeout",
  "totalTimeout",
  "fetch",
  "prefix",
  "baseUrl",
] as const;

/** Throws a TypeError when `kyOptions` tries to set what the engine owns. */
export function checkKyOptions(kyOptions: KyOptions | undefined): void {
  for (const key of MANAGED) {
    if (kyOptions && key in kyOptions) {
      throw new TypeError(
        `ky-failover: options.kyOptions.${key} is managed by ky-failover ` +
          "(use timeout, totalTimeout, maxAttempts, fetch or the endpoints' url instead)",
      );
    }
  }
}

/**
 * ky prepends `prefix` even to absolute inputs; undo that so an absolute URL
 * is judged on its own (under the pool, or rejected).
 */
function unprefix(input: RequestInfo | URL, prefix: string): RequestInfo | URL {
  const url = typeof input === "string"
    ? input
    : String((input as Request).url ?? input);
  if (!url.startsWith(prefix)) return input;
  const rest = url.slice(prefix.length);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) return input;
  return input instanceof Request ? new Request(rest, input) : rest;
}

/** Builds the ky instance for `engine`. */
export function createKy(
  engine: Engine,
  kyOptions: KyOptions | undefined,
): KyInstance {
  const userHooks = kyOptions?.hooks;
  const prefix = `${engine.endpoints[0].config.base}/`;
  // Every endpoint's query secrets, for the HTTPError message.
  const secrets = mergeSecrets(
    engine.endpoints.map((e) => endpointSecrets(e.config.query)),
  );
  /**
   * The string body each ky-built Request was made from, recorded by a
   * first `beforeRequest` hook. When the same Request reaches the engine
   * (no hook replaced it), the engine replays that string instead of
   * reading the Request's body back — the common case of `json:` bodies.
   */
  const sourceBodies = new WeakMap<Request, string>();
  return ky.create({
    ...kyOptions,
    // Relative paths resolve under the first endpoint's URL; the engine maps
    // any URL under any endpoint's URL to the endpoint it picks.
    prefix,
    retry: 0,
    timeout: false,
    fetch: async (input, init) =>
      engine.run(
        await callRequest(
          engine.endpoints,
          unprefix(input, prefix),
          init,
          sourceBodies.get(input as Request),
        ),
      ),
    hooks: {
      ...userHooks,
      beforeRequest: [
        ({ request, options }) => {
          if (typeof options.body === "string") {
            sourceBodies.set(request, options.body);
          }
        },
        ...(userHooks?.beforeRequest ?? []),
      ],
      beforeError: [
        ({ error, request }) => {
          if (!isHTTPError(error)) return error;
          const response = error.response;
          // ky names the URL it built (under the first endpoint); name the
          // endpoint that actually answered.
          if (response.url && response.url !== request.url) {
            // A function, so that `$&` in a URL is not a replacement pattern.
            error.message = error.message.replace(
              request.url,
              () => response.url,
            );
          }
          // ky's message names a URL. The response's has no endpoint query
          // (the transport redacts it), but ky's own request.url is the
          // caller's input, which may be an absolute URL copied with an
          // endpoint's `?api-key=…`. Scrub the message and stack in place.
          error = scrubError(error, secrets) as typeof error;
          const failure = engine.failureOf(response);
          return failure
            ? new FailoverError(failure.attempts, {
              cause: error,
              response,
              reason: failure.reason,
            })
            : error;
        },
        ...(userHooks?.beforeError ?? []),
      ],
    },
  });
}
