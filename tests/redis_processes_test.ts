// Processes on different runtimes sharing one Redis: a Deno pool (this
// process, on the sources), and Node 24 and Bun child processes
// (tests/_redis_peer.ts, on the built npm package `npm/esm/`), each with
// its own fake fetch, all on one redis-server (tests/_redis_server.ts).
// A breaker opened in one runtime opens in the others and they then send
// the endpoint nothing; a process started later reads it from Redis; Redis
// stopped and started fails no call anywhere and each says so in `store`
// events.
//
// Deno only (it drives the other runtimes): elsewhere this file registers
// no test. It needs, besides the flags of tests/redis_test.ts,
// `--allow-run=redis-server,node,deno,node_modules/@oven/bun-linux-x64/bin/bun`:
// `node` is the one on PATH and must be Node >= 24 (npm test puts the
// npm-installed Node 24 first), Bun the npm-installed one (BUN= for
// another; it must then be in --allow-run too), and `deno` builds npm/
// (`deno run -A scripts/build_npm.ts --no-pack`, a few seconds) once per
// run when it is missing or older than the sources — npm test runs the
// Deno tests before its own npm build step.
//
// The children exit by themselves (on "exit", when stdin ends, after a
// deadline); a failing test kills them. Every wait polls with a deadline.

import { assert, bounded, TEST_TIMEOUT_MS } from "./_harness.ts";
import { type RedisServer, startRedis } from "./_redis_server.ts";
import type { Snapshot } from "./_redis_peer.ts";
import {
  createPool,
  type EndpointOptions,
  type FailoverEvent,
  type Pool,
} from "ky-failover/core";
import { sharedState, type Store } from "ky-failover/shared";
import { redisStore } from "ky-failover/redis";

interface DenoApi {
  test(name: string, fn: () => Promise<void>): void;
  env: { get(name: string): string | undefined };
  statSync(path: string): { isDirectory: boolean; mtime: Date | null };
  readDirSync(path: string): Iterable<{ name: string }>;
}
const deno = (globalThis as { Deno?: DenoApi }).Deno;

const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
const PEER = `${REPO}/tests/_redis_peer.ts`;
const NODE = "node";
const BUN = deno?.env.get("BUN") ||
  `${REPO}/node_modules/@oven/bun-linux-x64/bin/bun`;
/** How long a child may live at most (it exits by itself after). */
const PEER_MAX_MS = TEST_TIMEOUT_MS;
/** How long the npm build may take. */
const BUILD_MS = 90_000;

const ENDPOINTS: EndpointOptions[] = [
  { name: "r1", url: "https://r1.example.ai/v1", apiKey: "sk-r1", priority: 1 },
  { name: "r2", url: "https://r2.example.ai/v1", apiKey: "sk-r2", priority: 2 },
];
/** The peers' breaker too (tests/_redis_peer.ts). */
const BREAKER = { failureThreshold: 3, cooldown: 30_000, maxCooldown: 60_000 };

// ---------------------------------------------------------------- utilities

const pause = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 10 ms until it holds; fails after `ms`. */
async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await pause(10);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `procs-${Array.from(bytes, (b) => b.toString(16)).join("")}`;
}

/** Resolves once `count` stores listen on `namespace`'s channel. */
function subscribed(
  server: RedisServer,
  namespace: string,
  count: number,
): Promise<void> {
  return until(`${count} subscribers`, async () => {
    const reply = await server.command(
      "PUBSUB",
      "NUMSUB",
      `ky-failover:${namespace}:facts`,
    ) as [string, number];
    return reply[1] >= count;
  }, 5_000);
}

// ------------------------------------------------------------- npm package

/** Newest mtime (ms) under `path`. */
function newest(path: string): number {
  const stat = deno!.statSync(path);
  if (!stat.isDirectory) return stat.mtime?.getTime() ?? 0;
  let latest = 0;
  for (const entry of deno!.readDirSync(path)) {
    latest = Math.max(latest, newest(`${path}/${entry.name}`));
  }
  return latest;
}

function builtAt(): number {
  try {
    return deno!.statSync(`${REPO}/npm/esm/src/redis/mod.js`).mtime
      ?.getTime() ?? 0;
  } catch {
    return 0; // not built
  }
}

/**
 * Builds npm/ when it is missing or older than a source (src/, the entry
 * points, deno.json, the build script): once per run of this file, whatever
 * test comes first. Fails saying how to build it by hand.
 */
async function buildNpm(): Promise<void> {
  const sources = Math.max(
    ...["src", "mod.ts", "core.ts", "testing.ts", "deno.json"]
      .map((p) => newest(`${REPO}/${p}`)),
    newest(`${REPO}/scripts/build_npm.ts`),
  );
  if (builtAt() >= sources) return;
  const how =
    "build it with `deno run -A scripts/build_npm.ts --no-pack` and run again";
  let output;
  try {
    output = await new Deno.Command("deno", {
      args: ["run", "-A", "scripts/build_npm.ts", "--no-pack"],
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `npm/ is missing or older than src/, and this test could not run deno ` +
        `to build it (${(error as Error).message}): ${how}, or give ` +
        "deno test --allow-run=…,deno",
    );
  }
  if (!output.success || builtAt() < sources) {
    const stderr = new TextDecoder().decode(output.stderr).slice(-2_000);
    throw new Error(
      `npm/ is missing or older than src/, and scripts/build_npm.ts --no-pack ` +
        `failed (exit ${output.code}): ${how}\n${stderr}`,
    );
  }
}

let built: Promise<void> | undefined;
const npmBuilt = () => built ??= buildNpm();

// --------------------------------------------------------------- the peers

type Command =
  | { cmd: "report" | "stop" | "exit" }
  | { cmd: "r1"; status: number }
  | { cmd: "call"; n: number }
  | { cmd: "loop"; paceMs: number };

/** A Node or Bun child process running tests/_redis_peer.ts. */
class Peer {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #replies = new Map<number, (snapshot: Snapshot) => void>();
  readonly #reading: Promise<void>;
  readonly #status: Promise<Deno.CommandStatus>;
  #ready!: (runtime: string) => void;
  readonly ready: Promise<string>;
  #stderr = "";
  #next = 1;
  #ended = false;

  readonly label: string;

  constructor(label: string, binary: string, args: string[]) {
    this.label = label;
    this.#child = new Deno.Command(binary, {
      args,
      cwd: REPO,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#status = this.#child.status;
    this.#writer = this.#child.stdin.getWriter();
    this.ready = new Promise((resolve) => this.#ready = resolve);
    this.#reading = Promise.all([this.#readStdout(), this.#readStderr()])
      .then(() => {
        this.#ended = true;
      });
  }

  async #readStdout(): Promise<void> {
    let buffer = "";
    for await (
      const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        let message: { id?: number; ready?: boolean; runtime?: string };
        try {
          message = JSON.parse(line);
        } catch {
          this.#stderr += `(stdout) ${line}\n`;
          continue;
        }
        if (message.ready) this.#ready(String(message.runtime));
        if (message.id !== undefined) {
          this.#replies.get(message.id)?.(message as unknown as Snapshot);
          this.#replies.delete(message.id);
        }
      }
    }
  }

  async #readStderr(): Promise<void> {
    for await (
      const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      this.#stderr = (this.#stderr + chunk).slice(-4_000);
    }
  }

  #failure(what: string): Error {
    return new Error(
      `${this.label}: ${what}${
        this.#stderr ? `\n--- its stderr:\n${this.#stderr}` : ""
      }`,
    );
  }

  /** Resolves with the runtime once it runs; fails if it exits first. */
  async started(ms = 10_000): Promise<string> {
    const runtime = await Promise.race([
      this.ready,
      this.#reading.then(() => {
        throw this.#failure("exited before it was ready");
      }),
      pause(ms).then(() => undefined),
    ]);
    if (runtime === undefined) throw this.#failure(`not ready within ${ms} ms`);
    return runtime;
  }

  /** Sends `command`; resolves with the peer's snapshot after it. */
  async send(command: Command, ms = 5_000): Promise<Snapshot> {
    const id = this.#next++;
    const reply = new Promise<Snapshot>((resolve) =>
      this.#replies.set(id, resolve)
    );
    await this.#writer.write(
      new TextEncoder().encode(JSON.stringify({ id, ...command }) + "\n"),
    ).catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        reply,
        this.#reading.then(() => {
          throw this.#failure(`exited before it answered ${command.cmd}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(this.#failure(`no answer to ${command.cmd} within ${ms}`)),
            ms,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#replies.delete(id);
    }
  }

  report(): Promise<Snapshot> {
    return this.send({ cmd: "report" });
  }

  /** Asks it to exit; resolves with its last snapshot once it exited 0. */
  async exit(): Promise<Snapshot> {
    const last = await this.send({ cmd: "exit" });
    const status = await bounded(
      `${this.label} exit`,
      5_000,
      () => this.#status,
    );
    if (status.code !== 0) {
      throw this.#failure(`exited with ${status.code}`);
    }
    return last;
  }

  /** Ends it whatever its state (SIGKILL unless it exited) and its streams. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    if (!this.#ended) {
      const exited = await Promise.race([
        this.#status.then(() => true),
        pause(1_000).then(() => false),
      ]);
      if (!exited) {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // it exited in between
        }
      }
    }
    await this.#status;
    await this.#reading;
  }
}

/**
 * Fails unless `node` on PATH is Node >= 24 (tests/_redis_peer.ts is
 * TypeScript: older Node cannot even load it). Once per run.
 */
let nodeChecked: Promise<void> | undefined;
const checkNode = () =>
  nodeChecked ??= (async () => {
    const run = "run `deno test` with --allow-run=…,node";
    let version;
    try {
      const output = await new Deno.Command(NODE, {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      version = new TextDecoder().decode(output.stdout).trim();
    } catch (error) {
      throw new Error(
        `cannot run node (${
          (error as Error).message
        }): ${run}, with Node 24 on PATH`,
      );
    }
    const major = Number(/^v(\d+)\./.exec(version)?.[1]);
    if (!(major >= 24)) {
      throw new Error(
        `node on PATH is ${
          version || "unknown"
        }: these tests need Node >= 24 ` +
          "(npm test puts the npm-installed Node 24 first on PATH)",
      );
    }
  })();

/** The children of one test; `close()` ends every one of them. */
class Peers {
  readonly all: Peer[] = [];
  readonly server: RedisServer;
  readonly namespace: string;
  constructor(server: RedisServer, namespace: string) {
    this.server = server;
    this.namespace = namespace;
  }

  async start(runtime: "node" | "bun", label: string = runtime): Promise<Peer> {
    if (runtime === "node") await checkNode();
    const binary = runtime === "node" ? NODE : BUN;
    let peer;
    try {
      peer = new Peer(label, binary, [
        PEER,
        REPO,
        this.server.url,
        this.namespace,
        String(PEER_MAX_MS),
      ]);
    } catch (error) {
      throw new Error(
        `cannot start ${binary} (${(error as Error).message}): ` +
          (runtime === "bun"
            ? "npm install puts Bun there on Linux x64 (@oven/bun-linux-x64); " +
              "elsewhere set BUN=/path/to/bun and add that path to --allow-run"
            : "run `deno test` with --allow-run=…,node"),
      );
    }
    this.all.push(peer);
    const name = await peer.started();
    assert.match(name, runtime === "node" ? /^Node v\d+\./ : /^Bun /);
    return peer;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((peer) => peer.close()));
  }
}

// -------------------------------------------------------- the Deno pool

interface Member {
  pool: Pool;
  store: Store;
  events: FailoverEvent[];
  sent: { r1: number; r2: number };
  /** What r1 answers. */
  r1Status: number;
}

function denoMember(server: RedisServer, namespace: string): Member {
  const events: FailoverEvent[] = [];
  const store = redisStore({ url: server.url, namespace });
  const member = {
    events,
    store,
    sent: { r1: 0, r2: 0 },
    r1Status: 200,
  } as Member;
  member.pool = createPool({
    endpoints: ENDPOINTS,
    breaker: BREAKER,
    fetch: (input) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const endpoint = url.hostname.split(".")[0] as "r1" | "r2";
      member.sent[endpoint] += 1;
      const status = endpoint === "r1" ? member.r1Status : 200;
      return Promise.resolve(Response.json({ ok: status < 400 }, { status }));
    },
    onEvent: (e) => void events.push(e),
    features: [sharedState({ store, timeout: 500 })],
  });
  return member;
}

/** One call; resolves with its status (throws if the call fails). */
async function call(member: Member): Promise<number> {
  const response = await member.pool.fetch("chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [] }),
  });
  await response.text();
  return response.status;
}

const r1State = (member: Member) =>
  member.pool.status().find((s) => s.name === "r1")?.state;

const storeEvents = (member: Member) =>
  member.events.flatMap((e) =>
    e.type === "store" ? [{ store: e.store, up: e.up }] : []
  );

/**
 * Runs `fn` with a fresh redis-server, a namespace, the Deno pool and the
 * peers it starts; ends all of them after, the children killed if need be.
 */
async function withProcesses(
  fn: (
    ctx: { server: RedisServer; peers: Peers; deno: Member },
  ) => Promise<void>,
): Promise<void> {
  const server = await startRedis();
  const namespace = randomName();
  const peers = new Peers(server, namespace);
  const member = denoMember(server, namespace);
  try {
    await fn({ server, peers, deno: member });
  } finally {
    await peers.close();
    member.pool.close();
    await member.store.close();
    await server.stop();
  }
}

/** Registers `fn` under Deno only, after the npm build, each bounded. */
function processTest(name: string, fn: () => Promise<void>): void {
  if (!deno) return;
  deno.test(name, async () => {
    await bounded("npm/ build (scripts/build_npm.ts)", BUILD_MS, npmBuilt);
    await bounded(`test "${name}"`, TEST_TIMEOUT_MS, fn);
  });
}

// ------------------------------------------------------------------ tests

processTest(
  "redis processes: r1 fails 3× on Deno → open in Node and Bun, which then send it nothing",
  () =>
    withProcesses(async ({ server, peers, deno: a }) => {
      const [node, bun] = await Promise.all([
        peers.start("node"),
        peers.start("bun"),
      ]);
      await subscribed(server, peers.namespace, 3);
      a.r1Status = 503;
      for (let i = 0; i < 3; i++) assert.equal(await call(a), 200);
      assert.equal(r1State(a), "open");
      for (const peer of [node, bun]) {
        await until(
          `${peer.label}: r1 open`,
          async () => (await peer.report()).r1 === "open",
        );
      }
      for (const peer of [node, bun]) {
        const after = await peer.send({ cmd: "call", n: 5 });
        assert.equal(after.failed, 0, `${peer.label}: ${after.errors}`);
        assert.deepEqual(after.sent, { r1: 0, r2: 5 }, peer.label);
        assert.deepEqual(after.breaker, ["open"], peer.label);
        assert.equal(after.r1, "open", peer.label);
      }
      for (const peer of [node, bun]) {
        const last = await peer.exit();
        assert.deepEqual(last.store, [], `${peer.label}: Redis was up`);
      }
    }),
);

processTest(
  "redis processes: r1 fails 3× on Node → open in Bun and Deno; a Bun started later reads it from Redis",
  () =>
    withProcesses(async ({ server, peers, deno: a }) => {
      const [node, bun] = await Promise.all([
        peers.start("node"),
        peers.start("bun"),
      ]);
      await subscribed(server, peers.namespace, 3);
      await node.send({ cmd: "r1", status: 503 });
      const opened = await node.send({ cmd: "call", n: 3 });
      assert.equal(opened.failed, 0, `node: ${opened.errors}`);
      assert.deepEqual(opened.sent, { r1: 3, r2: 3 });
      assert.equal(opened.r1, "open");
      await until(
        "bun: r1 open",
        async () => (await bun.report()).r1 === "open",
      );
      await until("deno: r1 open", () => r1State(a) === "open");
      for (let i = 0; i < 3; i++) assert.equal(await call(a), 200);
      assert.deepEqual(a.sent, { r1: 0, r2: 3 });
      const fromBun = await bun.send({ cmd: "call", n: 3 });
      assert.deepEqual(fromBun.sent, { r1: 0, r2: 3 });
      // The open breaker is kept in Redis for a process that starts later.
      assert.equal(
        await server.command(
          "EXISTS",
          `ky-failover:${peers.namespace}:holds:r1:open`,
        ),
        1,
      );
      const later = await peers.start("bun", "bun (started later)");
      await until(
        "bun started later: r1 open",
        async () => (await later.report()).r1 === "open",
      );
      const fromLater = await later.send({ cmd: "call", n: 3 });
      assert.equal(fromLater.failed, 0, `later: ${fromLater.errors}`);
      assert.deepEqual(fromLater.sent, { r1: 0, r2: 3 });
      for (const peer of [node, bun, later]) await peer.exit();
    }),
);

processTest(
  "redis processes: Redis stopped and started under Deno, Node and Bun calls: none fails, each says down then up",
  () =>
    withProcesses(async ({ server, peers, deno: a }) => {
      const children = await Promise.all([
        peers.start("node"),
        peers.start("bun"),
      ]);
      await subscribed(server, peers.namespace, 3);
      // Every process calls every 10 ms until told to stop.
      let looping = true;
      let denoCalls = 0;
      const denoErrors: string[] = [];
      const denoLoop = (async () => {
        while (looping) {
          denoCalls++;
          try {
            const status = await call(a);
            if (status !== 200) denoErrors.push(`status ${status}`);
          } catch (error) {
            denoErrors.push((error as Error).message);
          }
          await pause(10);
        }
      })();
      try {
        for (const peer of children) {
          await peer.send({ cmd: "loop", paceMs: 10 });
        }
        /** Waits until each process made `n` more calls than now. */
        const moreCalls = async (n: number, what: string) => {
          const before = await Promise.all(children.map((p) => p.report()));
          const denoBefore = denoCalls;
          await until(`${n} more calls ${what}`, async () => {
            const now = await Promise.all(children.map((p) => p.report()));
            return denoCalls >= denoBefore + n &&
              now.every((s, i) => s.calls >= before[i].calls + n);
          });
        };
        await moreCalls(5, "before the outage");

        await server.stop();
        await until(
          "deno: store down",
          () => storeEvents(a).some((e) => !e.up),
        );
        for (const peer of children) {
          await until(
            `${peer.label}: store down`,
            async () => (await peer.report()).store.some((e) => !e.up),
          );
        }
        await moreCalls(10, "while Redis is down");

        await server.start();
        await until("deno: store up", () => storeEvents(a).at(-1)?.up === true);
        for (const peer of children) {
          await until(
            `${peer.label}: store up`,
            async () => (await peer.report()).store.at(-1)?.up === true,
            5_000,
          );
        }
        await moreCalls(5, "after Redis is back");
      } finally {
        looping = false;
        await denoLoop;
      }

      const downUp = [
        { store: "redis", up: false },
        { store: "redis", up: true },
      ];
      assert.deepEqual(denoErrors, [], "deno: failed calls");
      assert.deepEqual(storeEvents(a), downUp, "deno: store events");
      for (const peer of children) {
        const last = await peer.send({ cmd: "stop" });
        assert.equal(
          last.failed,
          0,
          `${peer.label}: ${last.failed} of ${last.calls} calls failed: ${last.errors}`,
        );
        assert.deepEqual(last.store, downUp, `${peer.label}: store events`);
        await peer.exit();
      }
    }),
);
