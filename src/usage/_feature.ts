// The usage feature over resolved settings (see mod.ts for the rules).

import { costOf, priceOf, type PriceTable, resolvePrices } from "../_prices.ts";
import { check, fail } from "../_validate.ts";
import type {
  Feature,
  FeatureAnswer,
  FeatureCall,
  FeatureHooks,
  FeatureHost,
} from "../feature.ts";
import type { BudgetStatus, UsageReport } from "../provider_types.ts";
import { type BudgetWindow, budgetWindow, resolveBudget } from "./_budget.ts";
import {
  allBuckets,
  byModel,
  emptyLedger,
  type Ledger,
  record,
  totalsOf,
  UNKNOWN_MODEL,
} from "./_ledger.ts";
import { usageReader } from "./_reader.ts";
import { budgetRefusal } from "./_refusal.ts";
import type { Reading } from "./_tokens.ts";

/**
 * The usage feature: a {@linkcode Feature} that also reports what it
 * counted. It joins one pool only.
 *
 * @example
 * ```ts
 * import { usage, type UsageFeature } from "@ky-failover/ky-failover/usage";
 *
 * const tokens: UsageFeature = usage();
 * console.assert(tokens.report().total.calls === 0);
 * ```
 */
export interface UsageFeature extends Feature {
  /**
   * The counts so far across the pool: in total, by endpoint and by model
   * (as sent). Zero before the feature joins a pool.
   */
  report(): UsageReport;
}

/** Usage settings after validation. */
export interface UsageSettings {
  /** The pool's prices, by model. */
  prices: PriceTable;
}

/**
 * Resolves usage options (`{ prices? }`; `undefined` for none), naming
 * fields under `field` (`usage.prices["gpt-4.1"].input …`).
 */
export function resolveUsage(value: unknown, field: string): UsageSettings {
  if (value === undefined || value === null) return { prices: new Map() };
  return check<UsageSettings>(value, { prices: [resolvePrices] }, field);
}

/** An endpoint's own prices and budget, checked. */
function endpointSettings(
  host: FeatureHost,
  pool: PriceTable,
  changed: (endpoint: string, status: BudgetStatus) => void,
): { prices: Map<string, PriceTable>; budgets: Map<string, BudgetWindow> } {
  const prices = new Map<string, PriceTable>();
  const budgets = new Map<string, BudgetWindow>();
  const settings = host.endpoints.map((e) => {
    const field = `options.endpoints[${e.index}]`;
    const own = resolvePrices(e.options.prices, `${field}.prices`);
    const budget = resolveBudget(e.options.budget, `${field}.budget`);
    if (budget !== undefined && own.size === 0 && pool.size === 0) {
      fail(
        `${field}.budget`,
        "can never run out: no price is known (give usage() prices, or the endpoint its own)",
      );
    }
    prices.set(e.name, own);
    return { name: e.name, budget };
  });
  // Checked every endpoint first: a pool that throws leaves no budget.
  for (const { name, budget } of settings) {
    if (budget === undefined) continue;
    budgets.set(
      name,
      budgetWindow(budget, host.clock, (status) => {
        changed(name, status);
        if (!host.listening) return;
        const { spentUsd, usd, windowMs, exhausted, until } = status;
        host.emit({
          type: "budget",
          endpoint: name,
          exhausted,
          spentUsd,
          usd,
          windowMs,
          ...(exhausted ? { until } : {}),
        });
      }),
    );
  }
  return { prices, budgets };
}

/** The usage feature for resolved settings. */
export function usageFeature({ prices: pool }: UsageSettings): UsageFeature {
  let ledger: Ledger = emptyLedger([]);
  let attached = false;
  return {
    name: "usage",
    endpointOptions: ["prices", "budget"],
    report(): UsageReport {
      const buckets = [...allBuckets(ledger)];
      return {
        total: totalsOf(buckets),
        byEndpoint: Object.fromEntries(
          [...ledger].map(([name, b]) => [name, totalsOf(b.values())]),
        ),
        byModel: byModel(buckets),
      };
    },
    attach(host): FeatureHooks {
      if (attached) {
        throw new TypeError(
          "ky-failover: this usage() is already attached to a pool: make one usage() per pool",
        );
      }
      /**
       * A budget ran out: instances that start later (through a shared
       * store) keep the endpoint out too. (One that ran out on another
       * instance's spending is that instance's news: the store passes on
       * only what an instance learns itself.)
       */
      const changed = (endpoint: string, status: BudgetStatus) => {
        if (!status.exhausted) return;
        host.tell({
          feature: "usage",
          endpoint,
          data: { exhausted: true },
          keep: { key: "budget", ms: status.until! - host.clock.now() },
        });
      };
      const { prices, budgets } = endpointSettings(host, pool, changed);
      attached = true;
      ledger = emptyLedger(host.endpoints.map((e) => e.name));

      /** Counts `answer`'s call once its body was read to the end. */
      function count(
        answer: Answered,
        reading: Reading | undefined,
        call: FeatureCall,
      ): void {
        const { endpoint, asked } = answer;
        const sent = answer.sent ?? reading?.model;
        const price = priceOf(prices.get(endpoint)!, pool, sent, asked);
        const model = sent ?? UNKNOWN_MODEL;
        const tokens = reading?.tokens;
        record(ledger, { endpoint, model, asked }, price, tokens);
        if (tokens === undefined) return;
        const cost = price && costOf(tokens, price);
        if (host.listening) {
          host.emit({
            type: "usage",
            endpoint,
            model: sent,
            ...tokens,
            ...(cost === undefined ? {} : { costUsd: cost }),
          }, call);
        }
        const budget = budgets.get(endpoint);
        if (cost === undefined || budget === undefined) return;
        budget.spend(cost);
        // The other instances count it too: a budget is the fleet's.
        host.tell({ feature: "usage", endpoint, data: { usd: cost } });
      }

      const over = () => {
        const list: [string, BudgetStatus][] = [];
        for (const [name, budget] of budgets) {
          if (!budget.open()) list.push([name, budget.status()]);
        }
        return list;
      };
      const route = {
        accepts: (endpoint: string) => budgets.get(endpoint)?.open() ?? true,
        refusal: () => budgetRefusal(over(), host.clock.now()),
      };

      return {
        ...(budgets.size > 0 ? { route: () => route } : {}),
        observe(answer) {
          if (answer.status < 200 || answer.status > 299) return undefined;
          const answered = answeredOf(answer);
          const reader = usageReader(answer.headers.get("content-type"));
          // Counted at the body's end, or at `data: [DONE]`: a client may
          // stop reading there and cancel the rest (the OpenAI SDK does).
          let counted = false;
          const finish = () => {
            if (counted) return;
            counted = true;
            count(answered, reader.end(), answer.call);
          };
          return {
            chunk(bytes) {
              reader.chunk(bytes);
              if (reader.finished) finish();
            },
            end: finish,
          };
        },
        onNews({ feature, endpoint, data, keep, remote }) {
          // Another instance's spending, or its budget that ran out before
          // this one started (a shared store).
          const budget = budgets.get(endpoint);
          if (!remote || feature !== "usage" || budget === undefined) return;
          const usd = (data as { usd?: unknown } | null)?.usd;
          const exhausted = (data as { exhausted?: unknown } | null)?.exhausted;
          if (typeof usd === "number" && usd > 0 && usd < 1e9) {
            budget.spend(usd);
          } else if (exhausted === true && keep?.key === "budget") {
            budget.hold(host.clock.now() + keep.ms);
          }
        },
        status(endpoint) {
          const buckets = [...ledger.get(endpoint)?.values() ?? []];
          const budget = budgets.get(endpoint)?.status();
          return {
            usage: {
              ...totalsOf(buckets),
              byModel: byModel(buckets),
              ...(budget === undefined ? {} : { budget }),
            },
          };
        },
        close() {
          for (const budget of budgets.values()) budget.close();
        },
      };
    },
  };
}

/** What an answer's count needs, taken when it arrives. */
interface Answered {
  endpoint: string;
  /** The model it was sent (as rewritten for it, or as asked). */
  sent: string | undefined;
  /** The model the caller asked for. */
  asked: string | undefined;
}

function answeredOf(answer: FeatureAnswer): Answered {
  const asked = answer.call.model;
  return { endpoint: answer.endpoint, sent: answer.model ?? asked, asked };
}
