/**
 * Combines the per-runtime results of bench/failover_bench.ts
 * (`<dir>/deno.json`, `node.json`, `bun.json`) and the bundle line of
 * scripts/bundle.ts (`<dir>/bundle.txt`) into one markdown table: a row per
 * figure, a column per runtime, the issue 5 target last. Prints it and
 * writes it to `<dir>/table.md`. Runs on Node, Deno or Bun.
 *
 * ```sh
 * node bench/_table.ts dist/bench
 * ```
 *
 * @module
 */

import process from "node:process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Figure, Result } from "./_result.ts";

const dir = process.argv[2] ?? "dist/bench";
const runtimes = ["deno", "node", "bun"] as const;
const results = runtimes.map((name) => {
  const file = join(dir, `${name}.json`);
  return existsSync(file)
    ? JSON.parse(readFileSync(file, "utf8")) as Result
    : undefined;
});
const present = results.filter((r): r is Result => r !== undefined);
if (present.length === 0) {
  console.error(`no results in ${dir}: run scripts/bench.sh`);
  process.exit(1);
}

/** "Deno 2.9.6 (V8 …)" → "Deno 2.9.6"; "Node v24.21.0 (…)" → "Node 24.21.0". */
const short = (version: string) =>
  version.replace(/ \(.*\)$/, "").replace(" v", " ");
const header = runtimes.map((name, i) =>
  results[i] ? short(results[i]!.version) : `${name} (not run)`
);

// Rows in the order the figures were reported, across runtimes.
const order: Figure[] = [];
for (const result of present) {
  for (const figure of result.figures) {
    if (!order.some((f) => f.id === figure.id)) order.push(figure);
  }
}

const cell = (figure: Figure | undefined) => {
  if (figure === undefined) return "—";
  const hasMark = /[✓✗]/.test(figure.value);
  const mark = figure.met === undefined || hasMark
    ? ""
    : figure.met
    ? " ✓"
    : " ✗";
  return `${figure.value}${mark}`.replaceAll("|", "\\|");
};

const rows: string[][] = order.map((figure) => [
  figure.row,
  ...results.map((r) => cell(r?.figures.find((f) => f.id === figure.id))),
  figure.target,
]);

const bundleFile = join(dir, "bundle.txt");
if (existsSync(bundleFile)) {
  // "  createPool (ky-failover/core)   41.34 KiB raw  15.40 KiB gzip" and
  // "  createFailover adds over ky      47.04 KiB raw  16.56 KiB gzip"
  const figures = [
    [/^\s*createPool/, "Bundle: createPool, no ky (min + gzip -9)", 5],
    [
      /^\s*createFailover adds over ky/,
      "Bundle: createFailover added over ky (min + gzip -9)",
      8,
    ],
  ] as const;
  for (const text of readFileSync(bundleFile, "utf8").split("\n")) {
    const match = text.match(/([\d.]+) KiB raw\s+([\d.]+) KiB gzip/);
    const figure = figures.find(([pattern]) => pattern.test(text));
    if (!match || !figure) continue;
    const [, row, targetKiB] = figure;
    rows.push([
      row,
      `${match[2]} KiB (${match[1]} raw) ${
        Number(match[2]) <= targetKiB ? "✓" : "✗"
      }`,
      "″",
      "″",
      `≤ ${targetKiB} KiB gzip`,
    ]);
  }
}

const head = ["figure", ...header, "target"];
const widths = head.map((h, i) =>
  Math.max(h.length, ...rows.map((r) => r[i].length))
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const table = [
  line(head),
  `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
  ...rows.map(line),
].join("\n");

const first = present[0];
const legend =
  `${first.cpu}, ${first.date.slice(0, 10)}${
    first.quick ? ", --quick run (small samples)" : ""
  }. ✓ met, ✗ missed. S1: one call = POST chat/completions, JSON parsed; ` +
  `server in its own Node process; µs/call and ratios are medians over rounds ` +
  `of calls interleaved with raw fetch; "c64" = 64 calls in flight. ` +
  `S2–S7 regions in-process; memory over an in-memory transport, in a process ` +
  `that loads only ky-failover; bundle: esbuild, minified ESM, one build for all.`;

const text = `${table}\n\n${legend}\n`;
console.log(text);
writeFileSync(join(dir, "table.md"), text);
