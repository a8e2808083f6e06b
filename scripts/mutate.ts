// Mutation testing: does the suite notice when src/ is wrong? Each mutant is
// one small change to one source file (an operator swapped, a condition
// negated, a constant moved by one, a call statement removed). The mutated
// file is written into a sandbox copy of the repository and the Deno test
// files that ran its code are run with --fail-fast: a failing test kills the
// mutant; a mutant every test passes with has survived — a gap in the suite.
// Run it on demand: `npm run mutate` (about half an hour for all of src/).
//
//   deno run --allow-read --allow-write --allow-run --allow-env \
//     scripts/mutate.ts [--files src/a.ts,src/b.ts] [--since REV] [--jobs 6]
//                       [--tests tests/a_test.ts,…] [--report PATH]
//
// --files   mutate only these files (comma-separated or repeated)
// --since   mutate only the src/ files changed since REV (git diff + new files)
// --tests   run only these test files (default: every tests/*_test.ts); for
//           a quick check while writing tests — the score is the full run's
// --report  where to write the report (default dist/mutation/report.md)
// --jobs    mutants tested at once, each in its own sandbox (default 6: the
//           tests wait on timers and sockets most of the time, so 2 jobs
//           left this 2-core machine's CPUs a third idle)
//
// Default: every file of src/ except src/testing/ (test tooling).
//
// Which tests run for a mutant comes from coverage: every tests/*_test.ts is
// run once with --coverage, and a test file covers a mutant when it ran a
// line of the block around it (Deno's lcov counts lines, and a line with a
// branch not taken reads 0, so the block is the safe unit). A mutant no test
// file covers is "no coverage" and is not run. A mutant whose run hangs —
// stopped by its time limit (5 s + twice the files' time without a mutant),
// or failed only by the harness's per-test limit ("did not finish … (hung)")
// — is "timed out", not killed.
//
// Output: `mutation: N killed, N survived, N timed out, N no-coverage — score
// X %` (killed ÷ all mutants) and dist/mutation/report.md listing survivors,
// timeouts and uncovered mutants by file:line. The exit code is 0 whatever
// the score (it is a report, not a test run); 1 only for a usage error.
// Stryker was tried first; the README's "Mutation testing" says why not.

import ts from "typescript";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
const REPORT = `${ROOT}/dist/mutation/report.md`;
const TEST_FLAGS = [
  "--no-check",
  "--allow-env",
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-sys=hostname",
];
/** Not copied into a sandbox (node_modules is linked). */
const SKIP = new Set([".git", "node_modules", "npm", "dist", ".bench"]);
/** The harness's own per-test limit (tests/_harness.ts): a hang, not a kill. */
const HUNG = /test ".*" did not finish within \d+ ms \(hung\)/;

type Status = "killed" | "survived" | "timed out" | "no-coverage";

interface Mutant {
  file: string; // relative to the repository, e.g. src/engine.ts
  line: number;
  start: number;
  end: number;
  original: string;
  replacement: string;
  /** First and last line of the block around the change (or the file). */
  scope: [number, number];
  tests: string[];
  status?: Status;
}

// ---------------------------------------------------------------- mutants

const SWAP: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.LessThanToken]: "<=",
  [ts.SyntaxKind.LessThanEqualsToken]: "<",
  [ts.SyntaxKind.GreaterThanToken]: ">=",
  [ts.SyntaxKind.GreaterThanEqualsToken]: ">",
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: "!==",
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: "===",
  [ts.SyntaxKind.EqualsEqualsToken]: "!=",
  [ts.SyntaxKind.ExclamationEqualsToken]: "==",
  [ts.SyntaxKind.AmpersandAmpersandToken]: "||",
  [ts.SyntaxKind.BarBarToken]: "&&",
  [ts.SyntaxKind.PlusToken]: "-",
  [ts.SyntaxKind.MinusToken]: "+",
  [ts.SyntaxKind.AsteriskToken]: "/",
  [ts.SyntaxKind.SlashToken]: "*",
  [ts.SyntaxKind.PercentToken]: "*",
  [ts.SyntaxKind.PlusEqualsToken]: "-=",
  [ts.SyntaxKind.MinusEqualsToken]: "+=",
  [ts.SyntaxKind.AsteriskEqualsToken]: "/=",
  [ts.SyntaxKind.SlashEqualsToken]: "*=",
};
const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);
/** Operators whose result is a boolean: a `return` of one gets negated. */
const BOOLEAN = new Set([
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.InstanceOfKeyword,
  ts.SyntaxKind.InKeyword,
]);

/** Every mutant of one file, in source order. */
export function mutantsOf(file: string, text: string): Mutant[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos: number) =>
    sf.getLineAndCharacterOfPosition(pos).line + 1;
  const mutants: Mutant[] = [];
  const scopes: [number, number][] = [[1, lineOf(text.length)]];
  const add = (node: ts.Node, replacement: string) => {
    const start = node.getStart(sf);
    mutants.push({
      file,
      line: lineOf(start),
      start,
      end: node.end,
      original: text.slice(start, node.end),
      replacement,
      scope: scopes[scopes.length - 1],
      tests: [],
    });
  };
  /** Condition `c` → `!(c)`, unless a swap or `!` removal already does it. */
  const negate = (c: ts.Expression | undefined) => {
    if (!c) return;
    if (ts.isBinaryExpression(c) && EQUALITY.has(c.operatorToken.kind)) return;
    if (ts.isPrefixUnaryExpression(c)) return;
    if (c.kind === ts.SyntaxKind.TrueKeyword) return;
    if (c.kind === ts.SyntaxKind.FalseKeyword) return;
    add(c, `!(${c.getText(sf)})`);
  };

  const visit = (node: ts.Node): void => {
    // Types, interfaces and ambient declarations do not run.
    if (
      ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) || ts.isImportDeclaration(node) ||
      ts.isExportDeclaration(node) ||
      ts.canHaveModifiers(node) &&
        ts.getModifiers(node)?.some((m) =>
          m.kind === ts.SyntaxKind.DeclareKeyword
        )
    ) return;

    if (ts.isBinaryExpression(node)) {
      const swap = SWAP[node.operatorToken.kind];
      const plus = swap === "-" || swap === "-=";
      if (swap && !(plus && (isText(node.left) || isText(node.right)))) {
        add(node.operatorToken, swap);
      }
    } else if (
      ts.isPrefixUnaryExpression(node) &&
      node.operator === ts.SyntaxKind.ExclamationToken
    ) {
      add(node, node.operand.getText(sf)); // !x → x
    } else if (
      (ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) &&
      (node.operator === ts.SyntaxKind.PlusPlusToken ||
        node.operator === ts.SyntaxKind.MinusMinusToken)
    ) {
      const text = node.getText(sf);
      add(
        node,
        text.includes("++")
          ? text.replace("++", "--")
          : text.replace("--", "++"),
      );
    } else if (node.kind === ts.SyntaxKind.TrueKeyword) {
      add(node, "false");
    } else if (node.kind === ts.SyntaxKind.FalseKeyword) {
      add(node, "true");
    } else if (ts.isNumericLiteral(node) && !isNameOf(node)) {
      const value = Number(node.text);
      if (Number.isFinite(value)) add(node, String(value + 1));
    } else if (ts.isIfStatement(node) || ts.isWhileStatement(node)) {
      negate(node.expression);
    } else if (ts.isDoStatement(node)) {
      negate(node.expression);
    } else if (ts.isForStatement(node)) {
      negate(node.condition);
    } else if (ts.isConditionalExpression(node)) {
      negate(node.condition);
    } else if (ts.isReturnStatement(node) && node.expression) {
      const e = node.expression;
      if (ts.isBinaryExpression(e) && BOOLEAN.has(e.operatorToken.kind)) {
        negate(e);
      }
    } else if (ts.isExpressionStatement(node) && isCall(node.expression)) {
      add(node, ";"); // the call statement removed
    }

    // A block (or a function's expression body) is the unit of coverage.
    const isScope = ts.isBlock(node) || ts.isCaseClause(node) ||
      ts.isDefaultClause(node) ||
      (node.parent && ts.isArrowFunction(node.parent) &&
        node.parent.body === node);
    if (isScope) scopes.push([lineOf(node.getStart(sf)), lineOf(node.end)]);
    ts.forEachChild(node, visit);
    if (isScope) scopes.pop();
  };
  visit(sf);
  return mutants;
}

/** A numeric literal used as a name (`{ 0: x }`) rather than a value. */
function isNameOf(node: ts.Node): boolean {
  const p = node.parent;
  return (ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) ||
    ts.isMethodDeclaration(p) || ts.isEnumMember(p)) &&
    (p as { name?: ts.Node }).name === node;
}

/** A string: `"a" - b` would not type-check, so `+` on one is left alone. */
function isText(e: ts.Expression): boolean {
  return ts.isStringLiteral(e) || ts.isTemplateExpression(e) ||
    ts.isNoSubstitutionTemplateLiteral(e);
}

/** `f()`, `await f()`, `void f()` — but not `super()`. */
function isCall(e: ts.Expression): boolean {
  if (ts.isAwaitExpression(e) || ts.isVoidExpression(e)) e = e.expression;
  return ts.isCallExpression(e) &&
    e.expression.kind !== ts.SyntaxKind.SuperKeyword;
}

// ---------------------------------------------------------------- running

async function run(
  cmd: string,
  args: string[],
  cwd: string,
  limitMs = Infinity,
): Promise<{ code: number; out: string; ms: number; timedOut: boolean }> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = Number.isFinite(limitMs)
    ? setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limitMs)
    : undefined;
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code,
    out: decode(stdout) + decode(stderr),
    ms: performance.now() - started,
    timedOut,
  };
}

/** A copy of the repository to mutate (node_modules linked, not copied). */
async function sandbox(dir: string): Promise<string> {
  const copy = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (SKIP.has(entry.name)) continue;
      const [src, dst] = [`${from}/${entry.name}`, `${to}/${entry.name}`];
      if (entry.isDirectory) await copy(src, dst);
      else if (entry.isFile) await Deno.copyFile(src, dst);
    }
  };
  await copy(ROOT, dir);
  await Deno.symlink(`${ROOT}/node_modules`, `${dir}/node_modules`);
  return dir;
}

/** Runs `work` over `items`, one worker per sandbox. */
async function pool<T>(
  items: T[],
  boxes: string[],
  work: (item: T, box: string) => Promise<void>,
) {
  let next = 0;
  await Promise.all(boxes.map(async (box) => {
    while (next < items.length) await work(items[next++], box);
  }));
}

/** Per test file: how long it takes and the lines it runs in each src file. */
interface Coverage {
  ms: Map<string, number>;
  lines: Map<string, Map<string, Set<number>>>; // test → src file → lines
}

async function coverage(tests: string[], boxes: string[]): Promise<Coverage> {
  const result: Coverage = { ms: new Map(), lines: new Map() };
  await pool(tests, boxes, async (test, box) => {
    const dir = `${box}/.coverage/${test.replace(/\W/g, "_")}`;
    const r = await run(Deno.execPath(), [
      "test",
      `--coverage=${dir}`,
      ...TEST_FLAGS,
      test,
    ], box);
    if (r.code !== 0) {
      console.warn(`mutate: ${test} fails without a mutant; left out`);
      return;
    }
    const lcov = await run(Deno.execPath(), ["coverage", dir, "--lcov"], box);
    const files = new Map<string, Set<number>>();
    let current: Set<number> | undefined;
    for (const line of lcov.out.split("\n")) {
      if (line.startsWith("SF:")) {
        const file = line.slice(3).replace(`${box}/`, "");
        current = file.startsWith("src/") ? new Set() : undefined;
        if (current) files.set(file, current);
      } else if (current && line.startsWith("DA:")) {
        const [n, count] = line.slice(3).split(",").map(Number);
        if (count > 0) current.add(n);
      }
    }
    result.ms.set(test, r.ms);
    result.lines.set(test, files);
  });
  return result;
}

/** The test files that ran a line of the block around the mutant. */
function testsFor(m: Mutant, cov: Coverage): string[] {
  const [first, last] = m.scope;
  const covers = (lines: Set<number> | undefined) => {
    if (!lines) return false;
    if (lines.has(m.line)) return true;
    // A block's first line (`if (c) {`) also counts for the code around it.
    for (let n = first === last ? first : first + 1; n <= last; n++) {
      if (lines.has(n)) return true;
    }
    return false;
  };
  return [...cov.lines.entries()]
    .filter(([, files]) => covers(files.get(m.file)))
    .map(([test]) => test);
}

/** Per source file: how many mutants each test file has killed so far. */
const kills = new Map<string, Map<string, number>>();

/**
 * The order to try a mutant's test files in: those that killed most of its
 * file's mutants so far first (at the start, the one named after the file:
 * src/x.ts → tests/x_test.ts), then the fastest.
 */
function order(m: Mutant, cov: Coverage): string[] {
  const tally = kills.get(m.file) ?? new Map<string, number>();
  const namesake = `tests/${m.file.replace(/^.*\/_?|\.ts$/g, "")}_test.ts`;
  const score = (t: string) => (tally.get(t) ?? 0) + (t === namesake ? 0.5 : 0);
  return [...m.tests].sort((a, b) =>
    score(b) - score(a) || cov.ms.get(a)! - cov.ms.get(b)!
  );
}

async function test(m: Mutant, box: string, cov: Coverage): Promise<Status> {
  const path = `${box}/${m.file}`;
  const original = await Deno.readTextFile(path);
  await Deno.writeTextFile(
    path,
    original.slice(0, m.start) + m.replacement + original.slice(m.end),
  );
  try {
    // One process per test file, in order, until one fails. (Loading every
    // test module in one process saves a little on survivors but costs more
    // on the mutants the second or third file kills.)
    for (const file of order(m, cov)) {
      const r = await run(
        Deno.execPath(),
        ["test", "--fail-fast", ...TEST_FLAGS, file],
        box,
        5_000 + 2 * cov.ms.get(file)!,
      );
      if (r.timedOut || (r.code !== 0 && HUNG.test(r.out))) return "timed out";
      if (r.code !== 0) {
        const tally = kills.get(m.file) ?? new Map<string, number>();
        kills.set(m.file, tally.set(file, (tally.get(file) ?? 0) + 1));
        return "killed";
      }
    }
    return "survived";
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

// ---------------------------------------------------------------- main

function parseArgs(args: string[]) {
  const opts = {
    files: [] as string[],
    since: "",
    jobs: 6,
    tests: [] as string[],
    report: REPORT,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i] ?? "";
    if (flag === "--files") opts.files.push(...value().split(","));
    else if (flag === "--since") opts.since = value();
    else if (flag === "--jobs") opts.jobs = Math.max(1, Number(value()) || 1);
    else if (flag === "--tests") opts.tests.push(...value().split(","));
    else if (flag === "--report") opts.report = value();
    else throw new Error(`unknown argument ${args[i]}`);
  }
  return opts;
}

async function sourceFiles(dir = "src"): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && path !== "src/testing") {
      files.push(...await sourceFiles(path));
    } else if (entry.isFile && path.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

async function changedSince(rev: string): Promise<string[]> {
  const git = (...args: string[]) => run("git", args, ROOT);
  const diff = await git("diff", "--name-only", rev, "--", "src");
  if (diff.code !== 0) throw new Error(`git diff ${rev}: ${diff.out.trim()}`);
  const added = await git("ls-files", "--others", "--exclude-standard", "src");
  return [...diff.out.split("\n"), ...added.out.split("\n")].filter(Boolean);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(Deno.args);
  } catch (error) {
    console.error(`mutate: ${(error as Error).message}`);
    Deno.exit(1);
  }
  const all = await sourceFiles();
  const wanted = opts.files.length
    ? opts.files
    : opts.since
    ? await changedSince(opts.since)
    : all;
  const files = wanted.map((f) => f.replace(/^\.\//, ""))
    .filter((f) => all.includes(f));
  const started = performance.now();
  const rev = (await run("git", ["rev-parse", "--short", "HEAD"], ROOT)).out;
  const elapsed = () => `${Math.round((performance.now() - started) / 1000)} s`;

  const mutants: Mutant[] = [];
  for (const file of files) {
    mutants.push(
      ...mutantsOf(file, await Deno.readTextFile(`${ROOT}/${file}`)),
    );
  }
  console.log(`mutate: ${mutants.length} mutants in ${files.length} files`);

  const tmp = await Deno.makeTempDir({ prefix: "ky-failover-mutation-" });
  Deno.addSignalListener("SIGINT", () => {
    Deno.removeSync(tmp, { recursive: true });
    Deno.exit(130);
  });
  try {
    const boxes = await Promise.all(
      Array.from({ length: opts.jobs }, (_, i) => sandbox(`${tmp}/${i}`)),
    );
    const tests = opts.tests.map((t) => t.replace(/^\.\//, ""));
    if (!tests.length) {
      for await (const e of Deno.readDir(`${ROOT}/tests`)) {
        if (e.name.endsWith("_test.ts")) tests.push(`tests/${e.name}`);
      }
    }
    const cov = mutants.length
      ? await coverage(tests.sort(), boxes)
      : undefined;
    console.log(
      `mutate: coverage of ${tests.length} test files (${elapsed()})`,
    );

    const toRun: Mutant[] = [];
    for (const m of mutants) {
      m.tests = testsFor(m, cov!);
      if (m.tests.length) toRun.push(m);
      else m.status = "no-coverage";
    }
    let done = 0;
    await pool(toRun, boxes, async (m, box) => {
      m.status = await test(m, box, cov!);
      if (++done % 50 === 0 || done === toRun.length) {
        const survived = toRun.filter((x) => x.status === "survived").length;
        console.log(
          `mutate: ${done}/${toRun.length} run, ${survived} survived (${elapsed()})`,
        );
      }
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }

  const count = (s: Status) => mutants.filter((m) => m.status === s).length;
  const killed = count("killed");
  const score = mutants.length
    ? (100 * killed / mutants.length).toFixed(1)
    : "-";
  const summary =
    `mutation: ${killed} killed, ${count("survived")} survived, ` +
    `${count("timed out")} timed out, ${count("no-coverage")} no-coverage — ` +
    `score ${score} %`;
  await writeReport(opts.report, mutants, files, summary, {
    took: `${rev.trim()}, in ${elapsed()}`,
  });
  console.log(`mutate: report in ${opts.report.replace(`${ROOT}/`, "")}`);
  console.log(summary);
}

async function writeReport(
  path: string,
  mutants: Mutant[],
  files: string[],
  summary: string,
  { took }: { took: string },
) {
  const oneLine = (s: string) => s.replace(/\s+/g, " ").slice(0, 100);
  const list = (status: Status) =>
    mutants.filter((m) => m.status === status).map((m) =>
      `- ${m.file}:${m.line} \`${oneLine(m.original)}\` → \`${
        oneLine(m.replacement)
      }\``
    );
  const section = (title: string, status: Status) => {
    const items = list(status);
    return items.length
      ? [`## ${title} (${items.length})`, "", ...items, ""]
      : [];
  };
  await Deno.mkdir(path.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(
    path,
    [
      "# Mutation testing report",
      "",
      `${summary}`,
      "",
      `${mutants.length} mutants in ${files.length} files, at ${took}` +
      ` (with the work tree's uncommitted changes). Made by scripts/mutate.ts.`,
      "",
      ...section("Survived: no test failed", "survived"),
      ...section("Timed out", "timed out"),
      ...section("No coverage: no test runs this code", "no-coverage"),
    ].join("\n"),
  );
}

if (import.meta.main) await main();
