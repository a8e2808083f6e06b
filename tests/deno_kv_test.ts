// denoKvStore: pools sharing endpoint health through one Deno KV (a
// temporary SQLite file, as on one machine). Deno only — elsewhere there is
// no Deno KV, and this file registers no test. Deliveries go through KV's
// real I/O (`kv.watch`): waits poll a condition with a deadline.

import { assert, test } from "./_harness.ts";
import { createPool, type Pool } from "ky-failover/core";
import { sharedState } from "ky-failover/shared";
import { denoKvStore, type KvLike } from "ky-failover/deno-kv";
import { models } from "ky-failover/models";

interface DenoKvApi {
  openKv(path?: string): Promise<KvLike & { close(): void }>;
  makeTempFile(): Promise<string>;
  remove(path: string): Promise<void>;
}

const deno = (globalThis as { Deno?: DenoKvApi }).Deno;
const hasKv = typeof deno?.openKv === "function";

const ENDPOINTS = [
  { name: "r1", url: "https://r1.example.ai/v1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", priority: 2 },
];

/** A fetch where r1 answers 503 and r2 answers; counts what reached each. */
function region() {
  const counts: Record<string, number> = { r1: 0, r2: 0 };
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const host = new URL(new Request(input, init).url).hostname.split(".")[0];
    counts[host] += 1;
    return Promise.resolve(
      host === "r1"
        ? new Response("down", { status: 503 })
        : Response.json({ ok: true }),
    );
  };
  return { counts, fetch: fetch as typeof globalThis.fetch };
}

/** Resolves once `condition()` holds; fails after `ms` of real time. */
async function until(condition: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Opens the same temporary KV `n` times; `close()` closes them and removes it. */
async function kvs(n: number) {
  const path = await deno!.makeTempFile();
  const opened = await Promise.all(
    Array.from({ length: n }, () => deno!.openKv(path)),
  );
  return {
    kvs: opened,
    async close(pools: Pool[]) {
      for (const pool of pools) pool.close();
      for (const kv of opened) kv.close();
      await deno!.remove(path).catch(() => {});
    },
  };
}

function kvTest(name: string, fn: () => Promise<void>) {
  if (hasKv) test(name, fn);
}

kvTest(
  "deno-kv: failures on one pool open the other's breaker; it then sends nothing there",
  async () => {
    const shared = await kvs(2);
    const { counts, fetch } = region();
    const [a, b] = shared.kvs.map((kv) =>
      createPool({
        endpoints: ENDPOINTS,
        fetch,
        features: [sharedState({ store: denoKvStore(kv) })],
      })
    );
    try {
      // A burst of three: none may be folded into another by the watch.
      await Promise.all(
        [1, 2, 3].map(async () => await (await a.fetch("models")).text()),
      );
      await until(
        () =>
          b.status()[0].state === "open" &&
          b.status()[0].consecutiveFailures === 3,
        "b's r1 open, with the three failures of the burst",
      );
      const before = counts.r1;
      assert.equal(await (await b.fetch("models")).text(), '{"ok":true}');
      assert.equal(counts.r1, before, "b sent nothing to r1");
    } finally {
      await shared.close([a, b]);
    }
  },
);

kvTest(
  "deno-kv: a pool that starts later reads the open breaker and the benches that still hold",
  async () => {
    const shared = await kvs(2);
    const { fetch } = region();
    const a = createPool({
      endpoints: ENDPOINTS,
      fetch,
      features: [sharedState({ store: denoKvStore(shared.kvs[0]) })],
    });
    let c: Pool | undefined;
    try {
      for (let i = 0; i < 3; i++) await (await a.fetch("models")).text();
      assert.equal(a.status()[0].state, "open");
      c = createPool({
        endpoints: ENDPOINTS,
        fetch,
        features: [sharedState({ store: denoKvStore(shared.kvs[1]) })],
      });
      await until(() => c!.status()[0].state === "open", "c's r1 open");
      const left = c.status()[0].availableAt! - performance.timeOrigin -
        performance.now();
      assert.ok(left > 55_000 && left <= 60_000, `${left} ms left`);
    } finally {
      await shared.close(c ? [a, c] : [a]);
    }
  },
);

kvTest(
  "deno-kv: the probe lock goes to one store at a time, and is free again after its time",
  async () => {
    const shared = await kvs(2);
    const [one, two] = shared.kvs.map((kv) => denoKvStore(kv));
    try {
      assert.equal(await one.lock("probe:r1", 100), true);
      assert.equal(await two.lock("probe:r1", 100), false);
      assert.equal(
        await one.lock("probe:r2", 100),
        true,
        "another key is free",
      );
      // 100 ms later (real time: KV's own), r1's lock is free for the other.
      let free = false;
      const deadline = Date.now() + 2_000;
      while (!free && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        free = await two.lock("probe:r1", 100);
      }
      assert.equal(free, true);
    } finally {
      one.close();
      two.close();
      await shared.close([]);
    }
  },
);

kvTest(
  "deno-kv: messages written before a store joined are not news to it",
  async () => {
    const shared = await kvs(2);
    const { fetch } = region();
    const a = createPool({
      endpoints: ENDPOINTS,
      fetch,
      features: [sharedState({ store: denoKvStore(shared.kvs[0]) })],
    });
    let b: Pool | undefined;
    try {
      // Two failures: a run, not an open breaker (nothing holds).
      for (let i = 0; i < 2; i++) await (await a.fetch("models")).text();
      // Their writes land in KV before b joins (a call does not wait on them).
      const deadline = Date.now() + 3_000;
      for (let written = 0; written < 2 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        written = 0;
        const log = ["ky-failover", "default", "log"];
        for await (const _ of shared.kvs[1].list({ prefix: log })) written += 1;
      }
      b = createPool({
        endpoints: ENDPOINTS,
        fetch,
        features: [sharedState({ store: denoKvStore(shared.kvs[1]) })],
      });
      // One more failure on a: b hears it, and only it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await (await a.fetch("models")).text();
      await until(
        () =>
          b!.status()[0].consecutiveFailures >= 1 ||
          b!.status()[0].state === "open",
        "b hears the new failure",
      );
      // a's breaker opened at its third failure: b learns that too — and of
      // the run, only the failure after it joined (3 would mean the two
      // written before it were news).
      await until(
        () =>
          b!.status()[0].state === "open" &&
          b!.status()[0].consecutiveFailures === 1,
        "b's r1 open, with one failure of the run",
      );
      assert.equal(b.status()[0].lastError, "failed on another instance");
    } finally {
      await shared.close(b ? [a, b] : [a]);
    }
  },
);

kvTest(
  "deno-kv: a store needs a Deno.Kv, and invalid options name the field",
  () => {
    assert.throws(
      () => denoKvStore({} as KvLike),
      /denoKvStore needs a Deno\.Kv/,
    );
    // Checked before anything is read or watched: a stub with `watch` will do.
    const kv = { watch() {} } as unknown as KvLike;
    assert.throws(
      () => denoKvStore(kv, { namespace: "" }),
      /denoKvStore\.namespace must be a non-empty string/,
    );
    assert.throws(
      () => denoKvStore(kv, { nope: 1 } as never),
      /denoKvStore\.nope is not a known option/,
    );
    return Promise.resolve();
  },
);

kvTest(
  "deno-kv: a missing model learnt on one pool reaches the other, and a pool that starts later",
  async () => {
    const shared = await kvs(3);
    let missing = true;
    let toR1 = 0;
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const host = new URL(new Request(input, init).url).hostname;
      if (!host.startsWith("r1.")) return Promise.resolve(Response.json({}));
      toR1 += 1;
      return Promise.resolve(
        missing
          ? Response.json({
            error: {
              message: "The model `gpt-x` does not exist",
              code: "model_not_found",
            },
          }, { status: 404 })
          : Response.json({}),
      );
    }) as typeof globalThis.fetch;
    const pool = (i: number) =>
      createPool({
        endpoints: ENDPOINTS,
        fetch,
        features: [
          models(),
          sharedState({ store: denoKvStore(shared.kvs[i]) }),
        ],
      });
    const pools = [pool(0), pool(1)];
    const ask = async (p: Pool) =>
      await (await p.fetch("chat/completions", {
        method: "POST",
        body: JSON.stringify({ model: "gpt-x", messages: [] }),
      })).text();
    try {
      await ask(pools[0]);
      const knows = (p: Pool) =>
        p.status()[0].models?.notFound?.includes("gpt-x") === true;
      await until(() => knows(pools[1]), "the other pool learns gpt-x");
      pools.push(pool(2));
      await until(() => knows(pools[2]), "a later pool learns gpt-x");
      missing = false;
      const before = toR1;
      await ask(pools[1]);
      await ask(pools[2]);
      assert.equal(toR1, before, "gpt-x goes to r1 from no pool");
    } finally {
      await shared.close(pools);
    }
  },
);
