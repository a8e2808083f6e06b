// The README's TypeScript examples as a test, so that they cannot drift.
//
// Every ```ts block of README.md is written to its own module under
// dist/readme/ (named after the line of its opening fence) and type-checked
// with one `deno check`. Imports are rewritten to this repository:
// "ky-failover" and "jsr:@ky-failover/ky-failover" → mod.ts, their
// subpaths ("/core", "/health-check", "/testing" …) → the files deno.json's
// exports name; SDK imports resolve from node_modules.
//
// An HTML comment right before a block says what the block needs, in
// clauses separated by ";" — nothing is assumed silently:
//
//   <!-- readme-test: declares api, messages -->  names the surrounding text
//       defines (see CONTEXT below), supplied at the top of the module
//   <!-- readme-test: run -->       also run it (under Deno) against loopback
//       regions: "https://<name>.example.ai/v1" in the block becomes a
//       region's http://127.0.0.1:<port>/v1; `endpoints` and `api` point at
//       the regions too. The first region ("api", the primary of every
//       example) refuses every request, so each run goes through a failover;
//       KEY_A / KEY_B / KEY_C are set to the keys of api / hk / sg, and a
//       region that sees another region's key fails the block
//   <!-- readme-test: run deno, node -->  run it under Deno and Node 24 (or
//       `run node (why)`: Node only, and why). On Node the block imports the built npm
//       package (npm/, from scripts/build_npm.ts) as a user's .ts file in a
//       `"type": "module"` project would
//   <!-- readme-test: skip (reason) -->  neither checked nor run
//
// Each run is bounded (RUN_TIMEOUT_MS) and must end on its own: a pool or a
// timer that keeps the process alive fails the block. Prints one line per
// block (`readme: <line> checked|ran …|skipped (reason)`), then
// `readme: N passed, N failed`; exits non-zero when a block failed. Needs no
// network beyond loopback.
//
// Usage (scripts/test.sh runs it after the npm build):
//   deno run --allow-read --allow-write --allow-run --allow-env \
//     --allow-net=127.0.0.1 --allow-sys=hostname scripts/test_readme.ts \
//     [--verbose]   (--verbose: print what every run printed)

import { serveRegions } from "../tests/_loopback_regions.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** deno.json's exports: subpath → file. */
const EXPORTS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(`${ROOT}deno.json`),
).exports;
const OUT = `${ROOT}dist/readme/`;
const RUN_TIMEOUT_MS = 20_000; // per run of a block
const CHECK_TIMEOUT_MS = 180_000; // the one `deno check`, cold cache included
const VERBOSE = Deno.args.includes("--verbose"); // print every run's output
const REGIONS = ["api", "hk", "sg"]; // KEY_A, KEY_B, KEY_C; "api" refuses
const DENO_RUN = [
  "run",
  "--no-prompt",
  "--allow-env",
  "--allow-read",
  "--allow-net=127.0.0.1",
  "--allow-sys=hostname", // the AI SDK reads it when loaded
];

// What a block may assume from the surrounding text: `declares <name>`
// puts `const <name> = …` (typed, and real when the block runs) before it.
const CONTEXT: Record<string, string> = {
  createFailover: "const createFailover = __createFailover;",
  endpoints: "const endpoints: __EndpointOptions[] = __endpoints;",
  api: "const api: __Failover = __createFailover({ endpoints: __endpoints });",
  messages: 'const messages = [{ role: "user" as const, content: "Hello" }];',
  render: "const render = (chunk: Uint8Array): void => void chunk;",
  // a test runner's `test` (node:test, bun:test): awaited after the block
  test:
    "const test = (name: string, fn: () => unknown): void => void __tests.push(Promise.resolve().then(fn));",
};

interface Block {
  line: number; // of the opening fence
  code: string;
  skip?: string;
  runtimes: string[]; // where it runs: "deno", "node"
  why?: string; // why only there
  declares: string[];
}

function parseReadme(text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  const attached = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: unclosed code block`);
    const block: Block = {
      line: i + 1,
      code: lines.slice(i + 1, end).join("\n"),
      runtimes: [],
      declares: [],
    };
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const directive = lines[k]?.match(/^<!-- readme-test: (.*) -->$/);
    if (directive) {
      attached.add(k);
      for (const clause of directive[1].split(";").map((c) => c.trim())) {
        const skip = clause.match(/^skip \((.+)\)$/);
        const declares = clause.match(/^declares (.+)$/);
        const run = clause.match(/^run((?: (?:deno|node),?)*)(?: \((.+)\))?$/);
        if (skip) block.skip = skip[1];
        else if (run) {
          block.runtimes = run[1].match(/deno|node/g) ?? ["deno"];
          block.why = run[2];
        } else if (declares) {
          block.declares = declares[1].split(",").map((n) => n.trim());
          const unknown = block.declares.filter((n) => !(n in CONTEXT));
          if (unknown.length > 0) {
            throw new Error(
              `README.md:${k + 1}: no context for ${unknown.join(", ")}`,
            );
          }
        } else throw new Error(`README.md:${k + 1}: unknown "${clause}"`);
      }
    }
    blocks.push(block);
    i = end;
  }
  lines.forEach((l, k) => {
    if (l.includes("readme-test:") && !attached.has(k)) {
      throw new Error(
        `README.md:${k + 1}: readme-test comment without a block`,
      );
    }
  });
  return blocks;
}

/**
 * The module for one block: one line of context (so that line n of the
 * block is line n + 1 of the module), the block, then the awaited tests.
 */
function generate(
  block: Block,
  target: string, // "deno" | "node"
  urls?: Record<string, string>,
): string {
  const entry = (subpath = "") => {
    if (target !== "deno") return `ky-failover${subpath}`;
    const file = EXPORTS[`.${subpath}`];
    if (file === undefined) {
      throw new Error(
        `README.md:${block.line}: no export ky-failover${subpath}`,
      );
    }
    return `../../${file.replace(/^\.\//, "")}`;
  };
  let code = block.code.replace(
    /(from\s+|import\s*\(\s*)"(?:jsr:@ky-failover\/ky-failover|ky-failover)(\/[a-z-]+)?"/g,
    (_, head, subpath) => `${head}"${entry(subpath)}"`,
  );
  const url = (name: string) => urls?.[name] ?? `https://${name}.example.ai/v1`;
  if (urls) {
    code = code.replace(
      /https:\/\/([a-z0-9-]+)\.example\.ai\/v1/g,
      (m, name) => {
        if (!(name in urls)) {
          throw new Error(`README.md:${block.line}: no region for ${m}`);
        }
        return urls[name];
      },
    );
  }
  const endpoints = REGIONS.map((name, i) =>
    `{ name: "${i === 0 ? "primary" : name}", url: "${
      url(name)
    }", apiKey: "sk-${name}", priority: ${i + 1} }`
  );
  const context = [
    `import { createFailover as __createFailover, type EndpointOptions as __EndpointOptions, type Failover as __Failover } from "${entry()}";`,
    `const __endpoints: __EndpointOptions[] = [${endpoints.join(", ")}];`,
    "const __tests: Promise<unknown>[] = [];",
    ...block.declares.map((name) => CONTEXT[name]),
  ];
  return `${
    context.join(" ")
  }\n${code}\nawait Promise.all(__tests);\nexport {};\n`;
}

/** Runs a command to its end, or kills it after `timeout` ms. */
async function command(
  cmd: string,
  args: string[],
  { env = {}, timeout = RUN_TIMEOUT_MS } = {},
): Promise<{ ok: boolean; output: string }> {
  const signal = AbortSignal.timeout(timeout);
  try {
    const { success, stdout, stderr } = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...env },
      stdin: "null",
      signal,
    }).output();
    const text = new TextDecoder();
    const output = text.decode(stdout) + text.decode(stderr);
    if (signal.aborted) {
      return { ok: false, output: `${output}\nkilled after ${timeout} ms` };
    }
    return { ok: success, output };
  } catch (error) {
    return { ok: false, output: `${cmd}: ${error}` };
  }
}

// `file:///…/dist/readme/[node/]L<fence>.ts:<n>:<col>` is README.md:<fence + n - 1>
const AT = /(?:file:\/\/)?\S*dist\/readme\/(?:node\/)?L(\d+)\.ts:(\d+):(\d+)/g;
const located = (output: string) =>
  output.trim().replace(
    AT,
    (_, fence, n, col) => `README.md:${Number(fence) + Number(n) - 1}:${col}`,
  ).replace(/^/gm, "    ");

const blocks = parseReadme(await Deno.readTextFile(`${ROOT}README.md`));
if (blocks.length === 0) throw new Error("README.md: no ```ts block found");
await Deno.remove(OUT, { recursive: true }).catch(() => {});
await Deno.mkdir(`${OUT}node/node_modules`, { recursive: true });
const result = new Map<Block, string>();
const failed = new Set<Block>();

// Type-check every block that is not skipped, all in one `deno check`.
const checked = blocks.filter((b) => b.skip === undefined);
for (const block of checked) {
  await Deno.writeTextFile(`${OUT}L${block.line}.ts`, generate(block, "deno"));
}
const check = await command(
  Deno.execPath(),
  ["check", ...checked.map((b) => `${OUT}L${b.line}.ts`)],
  { timeout: CHECK_TIMEOUT_MS },
);
if (!check.ok) {
  for (const [, fence] of check.output.matchAll(AT)) {
    failed.add(checked.find((b) => b.line === Number(fence))!);
  }
  if (failed.size === 0) failed.add(checked[0]); // an error we cannot place
  console.log(located(check.output.replace(/^Check .*\n/gm, "")));
}

// Run the runnable ones, one at a time, against loopback regions.
const npmBuilt = await Deno.stat(`${ROOT}npm/esm/mod.js`).then(
  () => true,
  () => false,
);
if (npmBuilt) {
  await Deno.writeTextFile(`${OUT}node/package.json`, '{ "type": "module" }\n');
  await Deno.symlink(`${ROOT}npm`, `${OUT}node/node_modules/ky-failover`);
}
const regions = await serveRegions(REGIONS);
regions.region("api").mode = "refused";
const urls = Object.fromEntries(regions.regions.map((r) => [r.name, r.url]));
const env = { KEY_A: "sk-api", KEY_B: "sk-hk", KEY_C: "sk-sg" };
for (const block of checked) {
  if (block.runtimes.length === 0 || failed.has(block)) continue;
  const seen = regions.regions.map((r) => r.received.length);
  const file = `L${block.line}.ts`;
  const ran: string[] = [];
  for (const runtime of block.runtimes) {
    if (runtime === "node" && !npmBuilt) continue;
    const path = `${OUT}${runtime === "node" ? "node/" : ""}${file}`;
    await Deno.writeTextFile(path, generate(block, runtime, urls));
    const run = runtime === "deno"
      ? await command(Deno.execPath(), [...DENO_RUN, path], { env })
      : await command("node", [path], { env });
    ran.push(runtime);
    if (!run.ok) failed.add(block);
    if (!run.ok || VERBOSE) {
      console.log(
        `readme: ${block.line} on ${runtime}:\n${located(run.output)}`,
      );
    }
  }
  const requests = regions.regions.map((r, i) => r.received.slice(seen[i]));
  regions.regions.forEach((region, i) => {
    const key = `Bearer sk-${region.name}`;
    const foreign = requests[i].find((r) => r.authorization !== key);
    if (foreign) {
      failed.add(block);
      console.log(
        `readme: ${block.line}: ${region.name} got ${foreign.authorization}`,
      );
    }
  });
  const counts = requests.map((r, i) => `${REGIONS[i]} ${r.length}`);
  const note = (block.why ? `; ${block.why}` : "") +
    (ran.length < block.runtimes.length ? "; not on node: npm/ not built" : "");
  result.set(
    block,
    `ran on ${ran.join(", ")} (requests: ${counts.join(", ")}${note})`,
  );
}
await regions.close();

for (const block of blocks) {
  const status = block.skip !== undefined
    ? `skipped (${block.skip})`
    : failed.has(block)
    ? "FAILED"
    : result.get(block) ?? "checked";
  console.log(`readme: ${block.line} ${status}`);
}
console.log(
  `readme: ${checked.length - failed.size} passed, ${failed.size} failed`,
);
// Exit explicitly: loading msw (the regions are ky-failover/testing's) keeps
// `deno run` alive — msw 2 opens a BroadcastChannel when it is imported.
Deno.exit(failed.size > 0 ? 1 : 0);
