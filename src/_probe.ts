// Health probes: `GET {url}/{path}` with the endpoint's own credentials,
// through the pool's one request path (`exchange`: credentials, redirect
// rules, redaction), applied by the pool's rules (`settleProbe`).
//
// - At most one probe in flight per endpoint: a second asks joins it.
// - Each is bounded by its `timeout` (an `AttemptTimeoutError`).
// - A failed probe benches the endpoint as `"unhealthy"` — no traffic but
//   panic — until a probe passes or a user attempt to it succeeds, for the
//   breaker's `cooldown` at most (60 s without a breaker).
// - An endpoint configured with `healthCheck: false` takes no probes; one
//   with its own `healthCheck.path` is probed there.
// - `close()` aborts probes in flight; their results are dropped.

import type { Endpoint } from "./_endpoint.ts";
import { bench, settleProbe } from "./_outcome.ts";
import type { PoolState } from "./_state.ts";
import { exchange } from "./_transport.ts";
import { AttemptTimeoutError } from "./errors.ts";
import type { ProbeOptions } from "./feature.ts";
import type { Outcome } from "./types.ts";

/** How long a failed probe keeps an endpoint out without a breaker. */
const UNHEALTHY_WITHOUT_BREAKER = 60_000;

/** The probes of one pool. */
export interface Prober {
  /** Probes `endpoint` (or joins its probe in flight). */
  probe(
    endpoint: Endpoint,
    options: ProbeOptions,
  ): Promise<Outcome | undefined>;
  /** Whether a probe to `endpoint` is in flight. */
  probing(endpoint: Endpoint): boolean;
  /** Aborts probes in flight; later probes resolve undefined at once. */
  close(): void;
}

/** The prober of a pool. */
export function createProber(state: PoolState): Prober {
  const { clock, breaker } = state.options;
  const unhealthyFor = breaker === false
    ? UNHEALTHY_WITHOUT_BREAKER
    : breaker.cooldown;
  const inFlight = new Map<Endpoint, Promise<Outcome | undefined>>();
  const controllers = new Set<AbortController>();
  let closed = false;

  async function run(
    endpoint: Endpoint,
    path: string,
    timeout: number,
  ): Promise<Outcome | undefined> {
    const controller = new AbortController();
    controllers.add(controller);
    const timer = clock.setTimeout(
      () => controller.abort(new AttemptTimeoutError(endpoint.name, timeout)),
      timeout,
    );
    let result;
    try {
      result = await exchange(state, endpoint, `/${path}`, {
        method: "GET",
        headers: {},
        signal: controller.signal,
      }, false);
      await result.response?.body?.cancel().catch(() => {});
    } finally {
      clock.clearTimeout(timer);
      controllers.delete(controller);
    }
    if (closed) return undefined;
    const outcome = settleProbe(state, endpoint, result);
    if (outcome.health === "failure") {
      bench(state, endpoint, "unhealthy", outcome.at + unhealthyFor);
    }
    return outcome;
  }

  return {
    probe(endpoint, { path, timeout }) {
      const own = endpoint.config.healthCheck;
      if (closed || own === false) return Promise.resolve(undefined);
      let pending = inFlight.get(endpoint);
      if (pending === undefined) {
        pending = run(endpoint, own?.path ?? path, timeout).finally(() =>
          inFlight.delete(endpoint)
        );
        inFlight.set(endpoint, pending);
      }
      return pending;
    },
    probing: (endpoint) => inFlight.has(endpoint),
    close() {
      closed = true;
      for (const controller of controllers) controller.abort();
    },
  };
}
