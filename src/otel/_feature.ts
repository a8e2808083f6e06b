// The otel feature over resolved settings (see mod.ts for what it records).
//
// Per call: a span, started in the caller's active context when the call
// starts, and a child span per attempt, from its sending to its settling,
// whose context goes to the endpoint in the attempt's headers
// (`_follow.ts`). The call's span ends when the call ends — or, for an
// answer whose body is still to be read, when the body was read to its end
// (the usage event, tokens and cost, comes then), when it stops before its
// end (cancelled, broken: `ky_failover.body` says which), or when the pool
// closes — a body nobody reads nor cancels is the pool's until then. Each
// span ends once,
// whatever throws: the SDK's processors and exporters are called inside
// `safely`.
//
// Metrics come from the same hooks (attempts and durations as they
// settle) and from the pool's events (failovers, rate limits, breakers,
// usage).

import {
  type Attributes,
  context,
  metrics,
  type ObservableResult,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type {
  BodyObserver,
  Feature,
  FeatureCall,
  FeatureHooks,
  FeatureHost,
} from "../feature.ts";
import type { BreakerState, FailoverEvent } from "../types.ts";
import { CallFollow, safely, type Shared } from "./_follow.ts";
import { instruments } from "./_metrics.ts";
import { endpointNames, operationOf, withoutUrlSecrets } from "./_names.ts";
import type { OtelSettings } from "./_options.ts";

/** The breaker states as `ky_failover.breaker.state` values. */
const BREAKER: Record<BreakerState, number> = {
  closed: 0,
  "half-open": 1,
  open: 2,
};

/** The otel feature for resolved settings. */
export function otelFeature(settings: OtelSettings): Feature {
  return {
    name: "otel",
    attach: (host) => attach(settings, host),
  };
}

/** Joins one pool. */
function attach(settings: OtelSettings, host: FeatureHost): FeatureHooks {
  const { captureModel, name } = settings;
  const clock = host.clock;
  const tracer = settings.tracerProvider === undefined
    ? trace.getTracer(name)
    : settings.tracerProvider.getTracer(name);
  const m = instruments(
    (settings.meterProvider ?? metrics.getMeterProvider()).getMeter(name),
  );
  const names = new Map(
    host.endpoints.map((e) => [e.name, endpointNames(e.url)]),
  );
  const breakers = new Map(host.endpoints.map((e) => [e.name, 0]));
  const observeBreakers = (result: ObservableResult) => {
    for (const [endpoint, value] of breakers) {
      result.observe(value, { "ky_failover.endpoint": endpoint });
    }
  };
  m.breaker.addCallback(observeBreakers);

  const calls = new WeakMap<FeatureCall, CallFollow>();
  const shared: Shared = {
    tracer,
    metrics: m,
    clock,
    captureModel,
    names,
    servers: new Map(
      [...names].map(([endpoint, n]) => [
        endpoint,
        { "server.address": n.address, "server.port": n.port },
      ]),
    ),
    settling: undefined,
    reading: new Set(),
    closed: false,
    ended(call) {
      shared.reading.delete(call);
    },
  };

  /** Adds an event to the attempt settling now, if it is `endpoint`'s. */
  const note = (endpoint: string, event: string, attributes: Attributes) => {
    const settling = shared.settling;
    if (settling?.endpoint !== endpoint) return;
    safely(() => settling.span.addEvent(event, attributes, clock.now()));
  };

  function onEvent(event: FailoverEvent, call: FeatureCall | undefined): void {
    const follow = call === undefined ? undefined : calls.get(call);
    switch (event.type) {
      case "attempt": {
        // Rate limits, auth failures and breakers the pool reports next,
        // before the attempt's own end, are this attempt's doing.
        const attempt = follow?.inFlight(event.attempt);
        shared.settling = attempt;
        if (attempt !== undefined && event.panic && follow!.recording) {
          safely(() => attempt.span.setAttribute("ky_failover.panic", true));
        }
        return;
      }
      case "failover": {
        const { from, to, reason } = event;
        safely(() =>
          m.failovers.add(1, {
            "ky_failover.from": from,
            "ky_failover.to": to,
            "error.type": follow?.lastError ?? "_OTHER",
          })
        );
        if (follow === undefined) return;
        // Said by the pool, key-free; a runtime's words may quote a query.
        const said = withoutUrlSecrets(reason);
        follow.failover = { from, reason: said };
        if (!follow.recording) return;
        safely(() =>
          follow.span.addEvent("ky_failover.failover", {
            "ky_failover.failover.from": from,
            "ky_failover.failover.to": to,
            "ky_failover.failover.reason": said,
          }, clock.now())
        );
        return;
      }
      case "hedge":
        if (follow === undefined || !follow.recording) return;
        safely(() =>
          follow.span.addEvent("ky_failover.hedge", {
            "ky_failover.endpoint": event.endpoint,
            "ky_failover.attempt": event.attempt,
          }, clock.now())
        );
        return;
      case "rate-limit": {
        const endpoint = event.endpoint;
        safely(() => m.rateLimits.add(1, { "ky_failover.endpoint": endpoint }));
        note(endpoint, "ky_failover.rate_limit", {
          "ky_failover.endpoint": endpoint,
          "ky_failover.delay_ms": event.delayMs,
        });
        return;
      }
      case "auth-failure":
        note(event.endpoint, "ky_failover.auth_failure", {
          "ky_failover.endpoint": event.endpoint,
          "http.response.status_code": event.status,
        });
        return;
      case "breaker": {
        const endpoint = event.endpoint;
        if (breakers.has(endpoint)) breakers.set(endpoint, BREAKER[event.to]);
        note(endpoint, "ky_failover.breaker", {
          "ky_failover.endpoint": endpoint,
          "ky_failover.breaker.from": event.from,
          "ky_failover.breaker.to": event.to,
        });
        return;
      }
      case "usage":
        usage(event, call, follow);
        return;
    }
  }

  /** Tokens and cost of an answered call. */
  function usage(
    event: Extract<FailoverEvent, { type: "usage" }>,
    call: FeatureCall | undefined,
    follow: CallFollow | undefined,
  ): void {
    const { endpoint, inputTokens, outputTokens, costUsd } = event;
    // The cost is labelled by endpoint and models; the token usage by what
    // the GenAI conventions ask too. (The SDK hashes every label of every
    // point, and keeps the object of a new series: each is its own.)
    const labels: Attributes = { "ky_failover.endpoint": endpoint };
    if (captureModel) {
      const asked = follow?.model ?? call?.model;
      if (asked !== undefined) labels["gen_ai.request.model"] = asked;
      const sent = event.model ?? asked;
      if (sent !== undefined) labels["gen_ai.response.model"] = sent;
    }
    const operation = follow?.operation ??
      (call === undefined ? undefined : operationOf(call.method, call.path));
    safely(() => {
      if (costUsd !== undefined) m.cost.add(costUsd, labels);
      const tokens: Attributes = { ...labels };
      if (operation !== undefined) tokens["gen_ai.operation.name"] = operation;
      const provider = names.get(endpoint)?.provider;
      if (provider !== undefined) tokens["gen_ai.provider.name"] = provider;
      m.tokens.record(inputTokens, {
        ...tokens,
        "gen_ai.token.type": "input",
      });
      m.tokens.record(outputTokens, {
        ...tokens,
        "gen_ai.token.type": "output",
      });
    });
    if (follow === undefined || follow.ended || !follow.recording) return;
    const span = follow.span;
    safely(() => {
      span.setAttribute("gen_ai.usage.input_tokens", inputTokens);
      span.setAttribute("gen_ai.usage.output_tokens", outputTokens);
      if (event.cachedInputTokens > 0) {
        span.setAttribute(
          "gen_ai.usage.cache_read.input_tokens",
          event.cachedInputTokens,
        );
      }
      if (costUsd !== undefined) {
        span.setAttribute("ky_failover.cost_usd", costUsd);
      }
    });
  }

  return {
    trace(call) {
      if (shared.closed) return undefined;
      const follow = new CallFollow(shared, call, context.active());
      calls.set(call, follow);
      return follow;
    },
    onEvent,
    observe(answer): BodyObserver | undefined {
      const follow = calls.get(answer.call);
      // A span not recorded has nothing to wait for.
      if (follow === undefined || follow.ended || !follow.recording) {
        return undefined;
      }
      follow.reading = true;
      return {
        chunk() {},
        end() {
          follow.reading = false;
          // After the observers after this one: `usage()` reports the
          // call's tokens as its observer ends.
          if (follow.callEnded) queueMicrotask(() => follow.finish());
        },
        stop(how, error) {
          follow.reading = false;
          // Ended already when the pool closed it (features close first).
          if (follow.ended) return;
          const span = follow.span;
          safely(() => {
            span.setAttribute("ky_failover.body", how);
            if (how !== "failed") return;
            const type = error instanceof Error ? error.name : "Error";
            span.setAttribute("error.type", type);
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: `the body broke: ${type}`,
            });
          });
          if (follow.callEnded) follow.finish();
        },
      };
    },
    close() {
      shared.closed = true;
      for (const follow of [...shared.reading]) {
        safely(() => follow.span.setAttribute("ky_failover.body", "closed"));
        follow.finish();
      }
      safely(() => m.breaker.removeCallback(observeBreakers));
    },
  };
}
