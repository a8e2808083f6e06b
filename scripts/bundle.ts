// Browser bundle: esbuild bundles the built npm package (npm/esm/mod.js,
// run scripts/build_npm.ts first) with ky into one minified ESM file,
// dist/browser/ky-failover.min.js, as a browser app would ship it. Prints
// its size and what ky-failover adds on top of ky alone, raw and gzipped
// (gzip -9), and fails above the budget.
//
// Usage: deno run -A scripts/bundle.ts

import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";

/**
 * Budget for what ky-failover adds over ky alone, gzipped, in bytes.
 *
 * Issue 5 targets ≤ 3 KB, which the library is far from: measured with this
 * script, the core of commit f4285db (pool, pickers, breaker, 429 handling,
 * timeouts, ky and fetch adapters, errors) added 6.66 KiB gzipped; with
 * active health checks, hedging, the retry budget and the stream idle watch
 * it added 9.47 KiB (28.11 KiB raw) at e8b62c0. Table-driven option
 * validation (one rule, default and message builder per field instead of
 * bespoke checks and strings) took `_options` from 6.65 to 4.08 KiB
 * minified and the total to 9.00 KiB gzipped (9221 B; 25.48 KiB raw).
 * `_options` is still the largest module (see the per-module breakdown);
 * what is left there is mostly the precise messages.
 *
 * Raised to 11 KiB for the hot-path work of issue 5, which bought per-call
 * CPU with bytes: coalesced deadline queues (`_deadlines`), steps fused into
 * one async frame (`_steps`), header records checked without `Headers`, the
 * noise-aware breaker rule and the ky body shortcut — 10.34 KiB gzipped
 * (10592 B; 29.03 KiB raw).
 *
 * Raised to 16 KiB for issue 9 (keys stay home, health tells the truth):
 * 15.09 KiB gzipped (15450 B; 43.16 KiB raw). Scrubbing query-string keys
 * out of runtime errors and responses (`_redact`, 4.0 KiB minified), the
 * same-origin redirect follower (`_send`, 1.3), RFC 9110 `Retry-After`
 * (`_retry_after`, 1.5), per-field header-value and range validation
 * (`_options` 4.1 → 5.6), non-streamed bodies read inside the attempt
 * (`buffer_body`, 1.5), the key-free middleware view (1.0), auth benches and
 * truthful health. None of it can be left out today: every feature is wired
 * into the engine. Issue 11 (one small core, features you import) is where
 * this comes back down. Growth stays a deliberate decision (raise it here,
 * with a reason), never an accident.
 */
export const BUDGET_ADDED_GZIP = 16 * 1024;

const root = new URL("..", import.meta.url).pathname;
const outdir = `${root}dist/browser`;

const common: esbuild.BuildOptions = {
  bundle: true,
  format: "esm",
  minify: true,
  platform: "browser",
  target: "es2022",
  write: false,
  legalComments: "none",
  absWorkingDir: root,
  logLevel: "error",
};

async function build(
  name: string,
  contents: string,
): Promise<{ name: string; code: Uint8Array; meta: esbuild.Metafile }> {
  const result = await esbuild.build({
    ...common,
    stdin: {
      contents,
      resolveDir: root,
      loader: "js",
      sourcefile: `${name}.entry.js`,
    },
    metafile: true,
  });
  return {
    name,
    code: result.outputFiles![0].contents,
    meta: result.metafile!,
  };
}

const kyOnly = await build("ky", 'export { default } from "ky";');
const full = await build(
  "ky-failover",
  'export * from "./npm/esm/mod.js";',
);
await esbuild.stop();

await Deno.mkdir(outdir, { recursive: true });
await Deno.writeFile(`${outdir}/ky-failover.min.js`, full.code);
await Deno.writeFile(`${outdir}/ky.min.js`, kyOnly.code);

const gz = (code: Uint8Array) => gzipSync(code, { level: 9 }).length;
const kb = (n: number) => `${(n / 1024).toFixed(2)} KiB`.padStart(10);
const sizes = {
  kyRaw: kyOnly.code.length,
  kyGzip: gz(kyOnly.code),
  fullRaw: full.code.length,
  fullGzip: gz(full.code),
};
const addedRaw = sizes.fullRaw - sizes.kyRaw;
const addedGzip = sizes.fullGzip - sizes.kyGzip;

console.log("bundle (esbuild, minified ESM, gzip -9):");
console.log(
  `  ky alone                       ${kb(sizes.kyRaw)} raw ${
    kb(sizes.kyGzip)
  } gzip`,
);
console.log(
  `  ky-failover + ky               ${kb(sizes.fullRaw)} raw ${
    kb(sizes.fullGzip)
  } gzip`,
);
console.log(
  `  ky-failover adds               ${kb(addedRaw)} raw ${kb(addedGzip)} gzip`,
);

// Per-module breakdown, from esbuild's metafile: the minified bytes each
// source module of ky-failover contributes to the bundle (`bytesInOutput`),
// largest first, with its share of all ky-failover modules; ky's own modules
// are summed on one line. Bytes before gzip: gzip works on the whole bundle,
// so it cannot be split per module exactly.
const output = Object.values(full.meta.outputs)[0];
const inputs = Object.entries(output.inputs).map((
  [file, { bytesInOutput }],
) => ({ file: file.replace(/^npm\/esm\//, ""), bytes: bytesInOutput }));
const ours = inputs
  .filter(({ file }) =>
    !file.includes("node_modules/") && !file.endsWith(".entry.js")
  )
  .sort((a, b) => b.bytes - a.bytes || a.file.localeCompare(b.file));
const sum = (list: { bytes: number }[]) =>
  list.reduce((total, { bytes }) => total + bytes, 0);
const oursTotal = sum(ours);
const kyTotal = sum(
  inputs.filter(({ file }) => file.includes("node_modules/")),
);
const row = (label: string, bytes: number, share: string) =>
  console.log(
    `    ${label.padEnd(34)} ${kb(bytes)} ${
      String(bytes).padStart(6)
    } B${share}`,
  );
console.log("  per module (minified bytes in the bundle, before gzip):");
for (const { file, bytes } of ours.filter(({ bytes }) => bytes > 0)) {
  row(file, bytes, `  ${(100 * bytes / oursTotal).toFixed(1).padStart(5)} %`);
}
const typeOnly = ours.filter(({ bytes }) => bytes === 0).length;
row(
  `ky-failover, ${ours.length - typeOnly} modules`,
  oursTotal,
  typeOnly ? ` (+ ${typeOnly} type-only, 0 B)` : "",
);
row("ky (node_modules)", kyTotal, "");

const target = 3 * 1024;
if (addedGzip > target) {
  console.log(
    `  issue 5 target ≤ ${kb(target).trim()} gzip over ky: over by ${
      kb(addedGzip - target).trim()
    }`,
  );
}
if (addedGzip > BUDGET_ADDED_GZIP) {
  console.error(
    `bundle: over budget — ky-failover adds ${addedGzip} B gzipped, budget ${BUDGET_ADDED_GZIP} B`,
  );
  Deno.exit(1);
}
console.log(
  `bundle: within budget (${addedGzip} B ≤ ${BUDGET_ADDED_GZIP} B gzipped over ky)`,
);
