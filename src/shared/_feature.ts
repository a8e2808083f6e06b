// The shared-state feature over a store (see mod.ts for what it shares and
// the rules it keeps).

import type { EndpointBench, Feature, FeatureNews } from "../feature.ts";
import type { SharedFact, SharedMessage, Store } from "./_store.ts";

/** Shared-state settings after validation. */
export interface SharedSettings {
  store: Store;
  /** Longest wait for the store, in ms (a lock, the state on start). */
  timeout: number;
  /** The fleet's probe of an endpoint whose breaker cooled down. */
  probe: { path: string; timeout: number };
}

const BENCHES: readonly EndpointBench[] = [
  "rate-limited",
  "unauthorized",
  "unhealthy",
];

/** A random id for this instance (not from the pool's seedable random). */
function instanceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A remaining time a message may carry: a finite, positive number of ms. */
function isRemaining(value: unknown): value is number {
  return typeof value === "number" && value > 0 && value <= 2_147_483_647;
}

/** Whether `fact` is one this version understands (a store is untrusted input). */
function isFact(fact: unknown): fact is SharedFact {
  if (typeof fact !== "object" || fact === null) return false;
  const f = fact as Record<string, unknown>;
  switch (f.type) {
    case "failure":
    case "success":
      return true;
    case "open":
      return isRemaining(f.remainingMs);
    case "bench":
      return BENCHES.includes(f.bench as EndpointBench) &&
        isRemaining(f.remainingMs);
    case "news":
      return typeof f.feature === "string" && f.feature.length <= 64 &&
        (f.key === undefined
          ? f.remainingMs === undefined
          : typeof f.key === "string" && f.key.length <= 256 &&
            isRemaining(f.remainingMs));
    default:
      return false;
  }
}

/** Stores that joined a pool: a store serves one. */
const joined = new WeakSet<Store>();

/** The shared-state feature for resolved settings. */
export function sharedFeature(settings: SharedSettings): Feature {
  const { store, timeout, probe } = settings;
  let attached = false;
  return {
    name: "shared-state",
    attach(host) {
      if (attached) {
        throw new TypeError(
          "ky-failover: this sharedState() is already attached to a pool: give each pool its own store",
        );
      }
      if (joined.has(store)) {
        throw new TypeError(
          "ky-failover: this store already serves a pool: make one store per pool (one per instance)",
        );
      }
      attached = true;
      joined.add(store);
      const id = instanceId();
      const names = new Set(host.endpoints.map((e) => e.name));
      const probed = new Set(
        host.endpoints.filter((e) => e.probes).map((e) => e.name),
      );
      const clock = host.clock;
      let closed = false;
      /** Applying another instance's message: what it causes is not news. */
      let applying = false;
      let up = true;
      /** Failures known since each endpoint's last healthy answer. */
      const runs = new Map<string, number>();
      /** What still holds here, to tell the store again after it was down. */
      const opens = new Map<string, number>();
      const benches = new Map<
        string,
        { bench: EndpointBench; until: number }
      >();
      /** Features' news that holds, by endpoint, feature and key. */
      const kept = new Map<string, { news: FeatureNews; until: number }>();
      /** Whole ms left until `until` (stores keep integer TTLs), at least 1. */
      const left = (until: number) =>
        Math.max(1, Math.ceil(until - clock.now()));
      /** Each endpoint's fleet-probe timer. */
      const timers = new Map<string, unknown>();
      /** Waits on the store, each ended by `close()`. */
      const waits = new Set<() => void>();

      /**
       * `promise`, or `undefined` once `timeout` ms passed without it, if it
       * rejects, or when the pool closes: no call waits on the store longer.
       */
      function within<T>(promise: Promise<T>): Promise<T | undefined> {
        return new Promise((resolve) => {
          const done = (value: T | undefined) => {
            if (!waits.delete(end)) return;
            clock.clearTimeout(timer);
            resolve(value);
          };
          const end = () => done(undefined);
          const timer = clock.setTimeout(end, timeout);
          waits.add(end);
          promise.then(done, end);
        });
      }

      function status(nowUp: boolean, message: string): void {
        if (nowUp === up) return;
        up = nowUp;
        if (host.listening) {
          host.emit({ type: "store", store: store.kind, up, message });
        }
        if (up) {
          resync();
          // What the others said while this instance could not hear them.
          void within(store.recent()).then((messages) => {
            for (const message of messages ?? []) receive(message);
          });
        }
      }

      function publish(endpoint: string, fact: SharedFact): void {
        if (closed || applying) return;
        let sent: Promise<void>;
        try {
          sent = store.publish({ from: id, endpoint, fact });
        } catch (error) {
          sent = Promise.reject(error); // a store that throws is down too
        }
        sent.then(
          () => status(true, `${store.kind} store reachable again`),
          (error) =>
            status(
              false,
              `${store.kind} store unreachable (${
                error instanceof Error ? error.name : "error"
              }): the pool goes on with what it knows itself`,
            ),
        );
      }

      /** Passes a feature's news on to the other instances. */
      function tellNews(news: FeatureNews, until?: number): void {
        const { endpoint, feature, data, keep } = news;
        publish(endpoint, {
          type: "news",
          feature,
          data,
          ...(keep === undefined || until === undefined
            ? {}
            : { key: keep.key, remainingMs: left(until) }),
        });
      }

      /** Tells the store again what still holds here (it was down). */
      function resync(): void {
        const now = clock.now();
        for (const [key, { news, until }] of kept) {
          if (until > now) tellNews(news, until);
          else kept.delete(key);
        }
        for (const [endpoint, until] of opens) {
          if (until > now) {
            publish(endpoint, { type: "open", remainingMs: left(until) });
          }
        }
        for (const [key, { bench, until }] of benches) {
          if (until > now) {
            const endpoint = key.slice(0, key.lastIndexOf("\n"));
            publish(endpoint, {
              type: "bench",
              bench,
              remainingMs: left(until),
            });
          }
        }
      }

      function receive(message: SharedMessage): void {
        if (closed || typeof message !== "object" || message === null) return;
        const { from, endpoint, fact } = message;
        if (from === id || !names.has(endpoint) || !isFact(fact)) return;
        const now = clock.now();
        applying = true;
        try {
          switch (fact.type) {
            case "failure":
            case "success":
              noteRun(endpoint, fact.type);
              host.apply(endpoint, fact);
              return;
            case "open": {
              const until = now + fact.remainingMs;
              host.apply(endpoint, { type: "open", until });
              // Held open longer than known (a fleet probe failed there):
              // the next probe waits for the new end.
              const known = opens.get(endpoint);
              if (known !== undefined && until > known) {
                opens.set(endpoint, until);
                scheduleProbe(endpoint, until);
              }
              return;
            }
            case "bench":
              host.apply(endpoint, {
                type: "bench",
                bench: fact.bench,
                until: now + fact.remainingMs,
              });
              return;
            case "news":
              host.hear({
                feature: fact.feature,
                endpoint,
                data: fact.data,
                ...(fact.key === undefined ? {} : {
                  keep: { key: fact.key, ms: fact.remainingMs! },
                }),
              });
          }
        } finally {
          applying = false;
        }
      }

      /**
       * Keeps the known run of `endpoint`. A success ends it, its open
       * breaker and its health benches; returns whether that was news to
       * the other instances (a healthy pool writes nothing).
       */
      function noteRun(
        endpoint: string,
        health: "failure" | "success",
      ): boolean {
        const run = runs.get(endpoint) ?? 0;
        if (health === "failure") {
          runs.set(endpoint, run + 1);
          return true;
        }
        const now = clock.now();
        let news = run > 0 || opens.has(endpoint);
        runs.set(endpoint, 0);
        opens.delete(endpoint);
        for (const bench of ["unauthorized", "unhealthy"] as const) {
          const key = `${endpoint}\n${bench}`;
          if ((benches.get(key)?.until ?? -Infinity) > now) news = true;
          benches.delete(key);
        }
        const timer = timers.get(endpoint);
        if (timer !== undefined) clock.clearTimeout(timer);
        timers.delete(endpoint);
        return news;
      }

      /**
       * At the end of `endpoint`'s cooldown, one instance of the fleet
       * probes it — the one that gets the lock; the others hear its result.
       * If the lock holder says nothing within the probe's time, another
       * tries. A store that cannot be reached leaves each instance to probe
       * for itself.
       */
      function scheduleProbe(endpoint: string, at: number): void {
        if (!probed.has(endpoint) || closed) return;
        const previous = timers.get(endpoint);
        if (previous !== undefined) clock.clearTimeout(previous);
        timers.set(
          endpoint,
          clock.setTimeout(async () => {
            timers.delete(endpoint);
            const until = opens.get(endpoint);
            if (closed || until === undefined) return;
            if (until > clock.now()) return scheduleProbe(endpoint, until);
            const ttl = probe.timeout + timeout;
            const mine = await within(store.lock(`probe:${endpoint}`, ttl));
            if (closed || !opens.has(endpoint)) return;
            // Whatever happens, look again once a probe should be done.
            scheduleProbe(endpoint, clock.now() + ttl);
            if (mine !== false) void host.probe(endpoint, probe);
          }, Math.max(0, at - clock.now())),
        );
      }

      // Recovery through one fleet probe, not a half-open trial per instance.
      for (const endpoint of probed) host.recoverByProbes(endpoint);
      store.onStatus?.((nowUp) =>
        status(
          nowUp,
          `${store.kind} store ${nowUp ? "reachable again" : "unreachable"}`,
        )
      );
      store.subscribe(receive);
      void within(store.recent()).then((messages) => {
        for (const message of messages ?? []) receive(message);
      });

      return {
        onOutcome(outcome) {
          if (outcome.health === "neutral") return;
          const health = outcome.health;
          if (noteRun(outcome.endpoint, health)) {
            publish(outcome.endpoint, { type: health });
          }
        },
        onBreakerOpen(endpoint, until) {
          opens.set(endpoint, until);
          scheduleProbe(endpoint, until);
          publish(endpoint, {
            type: "open",
            remainingMs: left(until),
          });
        },
        onBench(endpoint, bench, until) {
          benches.set(`${endpoint}\n${bench}`, { bench, until });
          publish(endpoint, {
            type: "bench",
            bench,
            remainingMs: left(until),
          });
        },
        onNews(news) {
          if (news.remote) return;
          const keep = news.keep;
          if (keep === undefined) return tellNews(news);
          if (!(keep.ms > 0)) return;
          const until = clock.now() + keep.ms;
          kept.set(`${news.endpoint}\n${news.feature}\n${keep.key}`, {
            news,
            until,
          });
          tellNews(news, until);
        },
        close() {
          closed = true;
          for (const timer of timers.values()) clock.clearTimeout(timer);
          timers.clear();
          for (const end of [...waits]) end();
          return Promise.resolve().then(() => store.close()).catch(() => {});
        },
      };
    },
  };
}
