/**
 * Turns one run of the demo — the pool's events, its `status()`, the
 * phases, the calls — into the dashboard's messages: one `snapshot` per
 * tick, the failovers of that tick in one `failover` message, and a message
 * for each phase, breaker change, 429 bench and rejected key.
 *
 * Messages carry names, states and numbers only: never a URL, a header or
 * a key (a failover's reason is reduced to a short category such as
 * `"connection refused"` or `"HTTP 500"`).
 *
 * @module
 */

import type { EndpointStatus, FailoverEvent } from "ky-failover";
import type { DemoObserver, PhaseInfo } from "../demo.ts";
import { SampleWindow, TickCounter } from "./_stats.ts";

/** Sends one message to every page (see `server.ts`). */
export type Send = (type: string, data: unknown) => void;

/** An endpoint in a `snapshot` message. */
export interface LaneSnapshot {
  name: string;
  /** `healthy`, `open`, `half-open`, `rate-limited`, `unauthorized` or `unhealthy`. */
  state: string;
  /** Open or rate-limited: ms until it takes calls again. */
  availableInMs: number | null;
  /** Attempts waiting for an answer right now. */
  inFlight: number;
  /** Attempts during the tick, and how many of them failed. */
  sent: number;
  failed: number;
  /** Attempts per second over the last few ticks. */
  rps: number;
  /** Attempts per second that failed, over the same ticks. */
  failedRps: number;
  /** Time to headers of its answered attempts over the last few seconds, ms. */
  p50: number | null;
  p99: number | null;
  /** Since the run started. */
  requests: number;
  failures: number;
  answered: number;
  /** The model it was last sent. */
  model: string | null;
  tokensIn: number;
  tokensOut: number;
  /** `null` when a model it was sent has no price. */
  costUsd: number | null;
}

/** The `snapshot` message. */
export interface Snapshot {
  run: number;
  /** Ms since the run started. */
  t: number;
  /** Index of the current phase (-1 before the first). */
  phase: number;
  calls: number;
  failedCalls: number;
  failovers: number;
  /** Call latency over the last few seconds, ms. */
  p50: number | null;
  p99: number | null;
  /** What every endpoint's tokens cost, `null` if one's is unknown. */
  costUsd: number | null;
  lanes: LaneSnapshot[];
}

/**
 * A failover's reason as a short category: the status (`"HTTP 500"`), or
 * what went wrong with the connection. Never the URL the reason may name.
 */
export function shortReason(reason: string): string {
  const status = /\bHTTP (\d{3})\b/.exec(reason);
  if (status) return `HTTP ${status[1]}`;
  if (/refused/i.test(reason)) return "connection refused";
  if (/reset|socket hang up|closed/i.test(reason)) return "connection reset";
  if (/timed? ?out/i.test(reason)) return "timed out";
  if (/model.?not.?found/i.test(reason)) return "model not found";
  if (/stall/i.test(reason)) return "stream stalled";
  return "network error";
}

/** Attempts per second are counted over this many ticks (0.5 s at scale 1). */
const RATE_TICKS = 2;

interface Lane {
  sent: TickCounter;
  failed: TickCounter;
  latency: SampleWindow;
  requests: number;
  failures: number;
  answered: number;
  benchedUntil: number;
  healthy: boolean | undefined;
}

/** Options of {@linkcode RunCollector}. */
export interface CollectorOptions {
  /** Number of the run (1, 2 …), in every message. */
  run: number;
  /** Time between two snapshots, ms (the caller's timer calls `tick()`). */
  tickMs: number;
  send: Send;
  /** The demo's time scale, shown on the page. Default 1. */
  timeScale?: number;
  /** Milliseconds, monotonic. Default `performance.now()`. */
  now?: () => number;
  /** Wall-clock ms, the pool's clock. Default `Date.now()`. */
  clock?: () => number;
}

/**
 * Collects one run. Pass it to `runDemo()` as its `observer`, call
 * `tick()` every `tickMs` and `finish()` once the run resolved.
 */
export class RunCollector implements DemoObserver {
  readonly run: number;
  readonly tickMs: number;
  readonly timeScale: number;
  #send: Send;
  #now: () => number;
  #clock: () => number;
  #started = 0;
  #status: (() => EndpointStatus[]) | undefined;
  #names: readonly string[] = [];
  #lanes = new Map<string, Lane>();
  #phase = -1;
  #calls = 0;
  #failedCalls = 0;
  #failovers = 0;
  #callLatency: SampleWindow;
  /** Failovers since the last tick, by from → to → reason. */
  #links = new Map<
    string,
    { from: string; to: string; reason: string; count: number }
  >();

  /** A collector for run `options.run`. */
  constructor(options: CollectorOptions) {
    this.run = options.run;
    this.tickMs = options.tickMs;
    this.timeScale = options.timeScale ?? 1;
    this.#send = options.send;
    this.#now = options.now ?? (() => performance.now());
    this.#clock = options.clock ?? (() => Date.now());
    this.#callLatency = new SampleWindow(20 * options.tickMs);
  }

  /** Ms since the run started. */
  #t(): number {
    return Math.round(this.#now() - this.#started);
  }

  /** The pool exists: sends `hello` (the endpoints and the phases). */
  start(run: {
    endpoints: readonly string[];
    phases: readonly PhaseInfo[];
    status: () => EndpointStatus[];
  }): void {
    this.#started = this.#now();
    this.#status = run.status;
    this.#names = [...run.endpoints];
    for (const name of this.#names) {
      this.#lanes.set(name, {
        sent: new TickCounter(RATE_TICKS, this.tickMs),
        failed: new TickCounter(RATE_TICKS, this.tickMs),
        latency: new SampleWindow(20 * this.tickMs),
        requests: 0,
        failures: 0,
        answered: 0,
        benchedUntil: 0,
        healthy: undefined,
      });
    }
    const priority = new Map(run.status().map((s) => [s.name, s.priority]));
    this.#send("hello", {
      run: this.run,
      tickMs: this.tickMs,
      timeScale: this.timeScale,
      endpoints: this.#names.map((name) => ({
        name,
        priority: priority.get(name) ?? 1,
      })),
      phases: run.phases.map(({ name, description, watch, ms }) => ({
        name,
        description,
        watch,
        ms: Math.round(ms),
      })),
    });
  }

  /** Phase `index` began: sends `phase`. */
  phase(index: number, phase: PhaseInfo): void {
    this.#flushLinks(); // the previous phase's
    this.#phase = index;
    this.#send("phase", {
      run: this.run,
      t: this.#t(),
      index,
      name: phase.name,
      description: phase.description,
      watch: phase.watch,
    });
  }

  /** A call settled. */
  call(latencyMs: number, ok: boolean): void {
    this.#calls += 1;
    if (!ok) this.#failedCalls += 1;
    this.#callLatency.add(latencyMs, this.#now());
  }

  /** An event of the pool: counted, and sent when it is a change of state. */
  event(event: FailoverEvent): void {
    const t = this.#t();
    switch (event.type) {
      case "attempt": {
        const lane = this.#lanes.get(event.endpoint);
        if (!lane || event.outcome === "aborted") return;
        const failed = event.outcome !== "success" && event.outcome !== "final";
        lane.sent.add();
        lane.requests += 1;
        if (failed) {
          lane.failed.add();
          lane.failures += 1;
        } else {
          lane.latency.add(event.durationMs, this.#now());
        }
        return;
      }
      case "success":
        if (event.status < 400) {
          const lane = this.#lanes.get(event.endpoint);
          if (lane) lane.answered += 1;
        }
        return;
      case "failover": {
        this.#failovers += 1;
        const reason = shortReason(event.reason);
        const key = `${event.from}\n${event.to}\n${reason}`;
        const link = this.#links.get(key);
        if (link) link.count += 1;
        else {
          this.#links.set(key, {
            from: event.from,
            to: event.to,
            reason,
            count: 1,
          });
        }
        return;
      }
      case "breaker":
        this.#send("breaker", {
          run: this.run,
          t,
          endpoint: event.endpoint,
          from: event.from,
          to: event.to,
          cooldownMs: event.cooldownMs ?? null,
        });
        return;
      case "rate-limit": {
        const lane = this.#lanes.get(event.endpoint);
        if (!lane) return;
        const since = event.until - event.delayMs;
        const previous = lane.benchedUntil;
        lane.benchedUntil = Math.max(previous, event.until);
        // A 429 to a call sent before the bench began: the same bench.
        if (since < previous) return;
        this.#send("rate-limit", {
          run: this.run,
          t,
          endpoint: event.endpoint,
          status: event.status,
          delayMs: event.delayMs,
        });
        return;
      }
      case "auth-failure":
        this.#send("auth-failure", {
          run: this.run,
          t,
          endpoint: event.endpoint,
          status: event.status,
          benchMs: event.benchMs,
        });
        return;
      case "health-check": {
        const lane = this.#lanes.get(event.endpoint);
        if (!lane || lane.healthy === event.ok) return;
        lane.healthy = event.ok;
        this.#send("health-check", {
          run: this.run,
          t,
          endpoint: event.endpoint,
          ok: event.ok,
          status: event.status ?? null,
        });
        return;
      }
    }
  }

  /** Sends the tick's failovers (if any) and a `snapshot`. */
  tick(): void {
    if (this.#status === undefined) return;
    this.#flushLinks();
    this.#send("snapshot", this.snapshot());
  }

  /** The run resolved: a last `snapshot`, from the closed pool. */
  finish(): void {
    this.tick();
  }

  /** Where the run stands; closes the tick's counters. */
  snapshot(): Snapshot {
    const now = this.#now();
    const clock = this.#clock();
    const statuses = new Map(
      (this.#status?.() ?? []).map((s) => [s.name, s]),
    );
    let costUsd: number | null = 0;
    const lanes = this.#names.map((name): LaneSnapshot => {
      const lane = this.#lanes.get(name)!;
      const status = statuses.get(name);
      const sent = lane.sent.tick();
      const failed = lane.failed.tick();
      const { p50, p99 } = lane.latency.percentiles(now);
      const usage = status?.usage;
      const cost = usage?.costUsd ?? (usage && usage.calls > 0 ? null : 0);
      costUsd = costUsd === null || cost === null ? null : costUsd + cost;
      const availableAt = status?.availableAt;
      return {
        name,
        state: status?.state ?? "healthy",
        availableInMs: availableAt !== undefined && availableAt > clock &&
            (status?.state === "open" || status?.state === "rate-limited" ||
              status?.state === "unauthorized")
          ? Math.round(availableAt - clock)
          : null,
        inFlight: status?.inFlight ?? 0,
        sent,
        failed,
        rps: round1(lane.sent.perSecond()),
        failedRps: round1(lane.failed.perSecond()),
        p50: roundOrNull(p50),
        p99: roundOrNull(p99),
        requests: lane.requests,
        failures: lane.failures,
        answered: lane.answered,
        model: status?.lastModel ?? null,
        tokensIn: usage?.inputTokens ?? 0,
        tokensOut: usage?.outputTokens ?? 0,
        costUsd: cost === null ? null : Math.round(cost * 1e9) / 1e9,
      };
    });
    const calls = this.#callLatency.percentiles(now);
    return {
      run: this.run,
      t: this.#t(),
      phase: this.#phase,
      calls: this.#calls,
      failedCalls: this.#failedCalls,
      failovers: this.#failovers,
      p50: roundOrNull(calls.p50),
      p99: roundOrNull(calls.p99),
      costUsd: costUsd === null ? null : Math.round(costUsd * 1e9) / 1e9,
      lanes,
    };
  }

  #flushLinks(): void {
    if (this.#links.size === 0) return;
    this.#send("failover", {
      run: this.run,
      t: this.#t(),
      phase: this.#phase,
      links: [...this.#links.values()],
    });
    this.#links.clear();
  }
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function roundOrNull(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value);
}
