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
 * it adds 9.42 KiB. Option validation (`_options`, with its error messages)
 * is the largest part. The budget is that size plus ~15 % headroom, so that
 * growth is a deliberate decision (raise it here, with a reason), never an
 * accident.
 */
export const BUDGET_ADDED_GZIP = 11 * 1024;

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

// What dominates: the minified bytes each of our source files contributes.
const output = Object.values(full.meta.outputs)[0];
const ours = Object.entries(output.inputs)
  .filter(([file]) => !file.includes("node_modules/"))
  .map(([file, { bytesInOutput }]) =>
    [file.replace(/^npm\/esm\//, ""), bytesInOutput] as const
  )
  .sort((a, b) => b[1] - a[1]);
console.log("  largest parts of ky-failover (minified, before gzip):");
for (const [file, bytes] of ours.slice(0, 8)) {
  console.log(`    ${file.padEnd(34)} ${kb(bytes)}`);
}

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
