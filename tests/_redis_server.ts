// A real redis-server for tests, on a free loopback port: no persistence
// (`--save "" --appendonly no`), started and stopped by the test (stop and
// start again on the same port to play an outage). node:child_process and
// node:net only, so that it runs under Deno, Node and Bun. Set
// REDIS_SERVER=/path/to/redis-server to use another binary.

import { type ChildProcess, spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import process from "node:process";

/** A redis-server the test started. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (with the password, when it has one). */
  readonly url: string;
  /** Stops it (SIGKILL: an outage, not a shutdown); resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
  /** Sends one command on a connection of its own; resolves with the reply. */
  command(...args: string[]): Promise<unknown>;
  /** Stops it if it runs. */
  [Symbol.asyncDispose](): Promise<void>;
}

const BINARY = process.env.REDIS_SERVER ?? "redis-server";

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port"))
      );
    });
  });
}

/** Whether something on `port` answers an inline PING (any reply will do). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(200, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", () => done(true));
  });
}

/** Resolves after `ms` (the harness' own polling, not a test's sync). */
const pause = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Starts a redis-server on a free loopback port (with `requirepass` when
 * `password` is given) and waits until it answers. Fails with a clear
 * message when redis-server is not installed.
 */
export async function startRedis(
  options: { password?: string; binary?: string } = {},
): Promise<RedisServer> {
  const binary = options.binary ?? BINARY;
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    if (child) return;
    const args = [
      "--save",
      "",
      "--appendonly",
      "no",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--loglevel",
      "warning",
    ];
    if (options.password) args.push("--requirepass", options.password);
    const proc = spawn(binary, args, { stdio: "ignore" });
    child = proc;
    let failure: Error | undefined;
    exited = new Promise<void>((resolve) => {
      proc.on("error", (error: Error & { code?: string }) => {
        failure = error.code === "ENOENT"
          ? new Error(
            `${binary} not found: the Redis tests need a redis-server on PATH — ` +
              "install it (Debian/Ubuntu: apt-get install redis-server; macOS: " +
              "brew install redis), or set REDIS_SERVER=/path/to/redis-server. " +
              "CI (.ci/run) installs it.",
          )
          : error;
        if (child === proc) child = undefined;
        resolve();
      });
      proc.on("exit", (code, signal) => {
        failure ??= new Error(
          `redis-server on port ${port} exited (${signal ?? code})`,
        );
        if (child === proc) child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (failure) throw failure;
      if (await answers(port)) return;
      await pause(20);
    }
    await stop();
    throw new Error(`redis-server on port ${port} did not answer within 5 s`);
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc) return exited;
    child = undefined;
    proc.kill("SIGKILL");
    await exited;
  }

  await start();
  const auth = options.password
    ? `:${encodeURIComponent(options.password)}@`
    : "";
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    start,
    stop,
    command: (...args) => command(port, options.password, args),
    [Symbol.asyncDispose]: stop,
  };
}

/** One RESP reply parsed from `text` at `at`: [value, next index], or undefined if incomplete. */
function parse(text: string, at: number): [unknown, number] | undefined {
  const end = text.indexOf("\r\n", at);
  if (end < 0) return undefined;
  const head = text[at];
  const line = text.slice(at + 1, end);
  const next = end + 2;
  switch (head) {
    case "+":
      return [line, next];
    case "-":
      return [new Error(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (text.length < next + n + 2) return undefined;
      return [text.slice(next, next + n), next + n + 2];
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out: unknown[] = [];
      let i = next;
      for (let k = 0; k < n; k++) {
        const item = parse(text, i);
        if (!item) return undefined;
        out.push(item[0]);
        i = item[1];
      }
      return [out, i];
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(text)}`);
  }
}

/** Sends `args` (after AUTH when there is a password); the last reply. */
function command(
  port: number,
  password: string | undefined,
  args: string[],
): Promise<unknown> {
  const commands = password ? [["AUTH", password], args] : [args];
  const wire = commands.map((c) =>
    `*${c.length}\r\n` +
    c.map((a) => `$${new TextEncoder().encode(a).length}\r\n${a}\r\n`)
      .join("")
  ).join("");
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let text = "";
    socket.setEncoding("utf8");
    socket.setTimeout(2_000, () => {
      socket.destroy();
      reject(new Error("redis: no reply within 2 s"));
    });
    socket.on("error", reject);
    socket.on("connect", () => socket.write(wire));
    socket.on("data", (chunk: string) => {
      text += chunk;
      let at = 0;
      const replies: unknown[] = [];
      while (replies.length < commands.length) {
        const reply = parse(text, at);
        if (!reply) return;
        replies.push(reply[0]);
        at = reply[1];
      }
      socket.destroy();
      resolve(replies[replies.length - 1]);
    });
  });
}
