// Features that trace a call (`FeatureHooks.trace`), combined: each is
// asked once per call, hears each attempt as it is sent and as it settles,
// and the call's end. A trace is observability: one that throws is
// dropped for the rest of the call, and the call goes on.

import type { Call, Tracing } from "./_call.ts";
import { callView } from "./_route.ts";
import type { AttemptTrace, CallTrace, FeatureCall } from "./feature.ts";

/** Calls `f`, and reports whether it threw. */
function threw(f: () => void): boolean {
  try {
    f();
    return false;
  } catch {
    return true;
  }
}

/** Asks each tracing feature about `call`; `undefined` when none follows it. */
export function traceCall(
  tracers: readonly ((call: FeatureCall) => CallTrace | undefined)[],
  call: Call,
): Tracing | undefined {
  if (tracers.length === 0) return undefined;
  const view = callView(call);
  const traces = new Set<CallTrace>();
  for (const tracer of tracers) {
    let trace: CallTrace | undefined;
    if (!threw(() => trace = tracer(view)) && trace !== undefined) {
      traces.add(trace);
    }
  }
  if (traces.size === 0) return undefined;
  return {
    sent(ctx) {
      const sent = {
        endpoint: ctx.target!.name,
        attempt: ctx.attempt,
        hedge: ctx.hedge,
        // Without a route that names it, the model sent is the one asked.
        model: ctx.model ?? view.model,
      };
      const followers: AttemptTrace[] = [];
      for (const trace of traces) {
        let follower: AttemptTrace | undefined;
        if (threw(() => follower = trace.attempt(sent))) {
          traces.delete(trace);
        } else if (follower !== undefined) {
          followers.push(follower);
          const headers = follower.headers;
          if (headers === undefined) continue;
          // An invalid name or value is the trace's fault: dropped.
          for (const [name, value] of Object.entries(headers)) {
            threw(() => ctx.headers.set(name, value));
          }
        }
      }
      ctx.followers = followers;
    },
    settled(ctx, settled) {
      for (const follower of ctx.followers ?? []) {
        threw(() => follower.end(settled));
      }
    },
    end(ended) {
      // As for an attempt: without a route that names it, the answering
      // endpoint was sent the model asked for.
      const full = ended.model !== undefined || ended.endpoint === undefined
        ? ended
        : { ...ended, model: view.model };
      for (const trace of traces) threw(() => trace.end(full));
    },
  };
}
