// Builds the npm package into npm/ (git-ignored) from the same sources as
// the JSR package, in place of dnt (which cannot be fetched here):
//
// - every entry point of deno.json's `exports` compiled by TypeScript to
//   ESM JavaScript + `.d.ts` under npm/esm/, relative `.ts` imports rewritten
//   to `.js`;
// - npm/package.json: name `ky-failover`, `"type": "module"`, an `exports`
//   map with types, `"sideEffects": false`, `engines.node >= 22`, `ky` as a
//   dependency (not bundled), `msw`, `redis` and `@opentelemetry/api` as
//   optional peers (only `ky-failover/testing` needs msw, only
//   `ky-failover/redis` redis, only `ky-failover/otel` the OpenTelemetry
//   API — the app's own copy, whose globals its SDK registered);
// - README.md and LICENSE;
// - then `npm pack` into dist/ky-failover-<version>.tgz.
//
// Usage: deno run -A scripts/build_npm.ts [--no-pack]

import ts from "typescript";

const root = new URL("..", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;
const OUT = "npm";
const ESM = `${OUT}/esm`;

interface DenoJson {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}
const denoJson: DenoJson = JSON.parse(
  await Deno.readTextFile(path("deno.json")),
);

/** `npm:ky@^2.1.0` → `^2.1.0` (the range JSR users get is the range npm users get). */
function npmRange(specifier: string | undefined, name: string): string {
  const match = specifier?.match(/^npm:(@?[^@]+)@([^/]+)/);
  if (!match || match[1] !== name) {
    throw new Error(`deno.json imports.${name} must be npm:${name}@<range>`);
  }
  return match[2];
}

// ------------------------------------------------------------------ compile
await Deno.remove(path(OUT), { recursive: true }).catch(() => {});

const entries = Object.entries(denoJson.exports).map(([subpath, file]) => ({
  subpath,
  file: file.replace(/^\.\//, ""),
}));

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: [
    "lib.es2023.d.ts",
    "lib.dom.d.ts",
    "lib.dom.iterable.d.ts",
    "lib.esnext.disposable.d.ts",
  ],
  types: [],
  strict: true,
  declaration: true,
  declarationMap: false,
  sourceMap: false,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  skipLibCheck: true,
  removeComments: false,
  newLine: ts.NewLineKind.LineFeed,
  rootDir: path("."),
  outDir: path(ESM),
};
const program = ts.createProgram(entries.map((e) => path(e.file)), options);
const emitted = program.emit();
const diagnostics = [
  ...ts.getPreEmitDiagnostics(program),
  ...emitted.diagnostics,
];
if (diagnostics.length > 0) {
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => path("."),
    getNewLine: () => "\n",
  }));
  Deno.exit(1);
}

// Every relative import must now point at a .js file that exists.
let files = 0;
for await (const file of walk(path(ESM))) {
  files++;
  let text = await Deno.readTextFile(file);
  // Doc examples name the JSR package; npm users import `ky-failover`.
  let changed = text.replaceAll(`"${denoJson.name}`, '"ky-failover');
  if (file.endsWith(".d.ts")) {
    // TypeScript rewrites `.ts` specifiers in JavaScript only.
    changed = changed.replace(
      /(\bfrom\s+"|import\(")(\.{1,2}\/[^"]+)\.ts"/g,
      '$1$2.js"',
    );
  }
  if (changed !== text) await Deno.writeTextFile(file, text = changed);
  for (
    const [, specifier] of text.matchAll(
      /\bfrom\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g,
    )
  ) {
    if (specifier === undefined) continue;
    if (!specifier.endsWith(".js")) {
      throw new Error(
        `${file}: import "${specifier}" was not rewritten to .js`,
      );
    }
    const target = new URL(specifier, `file://${file}`).pathname;
    await Deno.stat(target).catch(() => {
      throw new Error(`${file}: import "${specifier}" points at nothing`);
    });
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const full = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(full);
    else yield full;
  }
}

// ------------------------------------------- declarations, without our lib
// The sources compile with esnext.disposable and dom.iterable; the shipped
// declarations must not need them, nor anything a user's lib may lack
// (Symbol.dispose from esnext, ErrorOptions from es2022 …). Check them alone
// under es2020 + dom (what TypeScript 5.9's defaults with Node's types come
// to), no runtime types, strict + exactOptionalPropertyTypes; only our files
// count. scripts/test_types.sh then checks the packed package in users'
// setups (TypeScript 5 and 7; browsers, Node, Bun).
{
  const check = ts.createProgram(
    entries.map((e) => path(`${ESM}/${e.file.replace(/\.ts$/, ".d.ts")}`)),
    {
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2020.d.ts", "lib.dom.d.ts"],
      types: [],
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
    },
  );
  const problems = check.getSourceFiles()
    .filter((file) => file.fileName.startsWith(path(ESM)))
    .flatMap((file) => [
      ...check.getSyntacticDiagnostics(file),
      ...check.getSemanticDiagnostics(file),
    ]);
  if (problems.length > 0) {
    console.error(
      "npm: the declarations need more than lib es2020 + dom:\n" +
        ts.formatDiagnostics(problems, {
          getCanonicalFileName: (f) => f,
          getCurrentDirectory: () => path("."),
          getNewLine: () => "\n",
        }),
    );
    Deno.exit(1);
  }
}

// ------------------------------------------------------------- package.json
// `ky-failover/otel` must use the app's @opentelemetry/api — the copy its
// SDK registered its providers and context manager with — so the peer
// range is every 1.x from 1.7 (histogram bucket advice), not the ~1.10
// deno.json tests with: SDK 2.x apps pin the API below 1.10.
npmRange(denoJson.imports["@opentelemetry/api"], "@opentelemetry/api");
const OTEL_API_PEER = "^1.7.0";
const exportsMap: Record<string, unknown> = {};
for (const { subpath, file } of entries) {
  const base = `./esm/${file.replace(/\.ts$/, "")}`;
  exportsMap[subpath] = { types: `${base}.d.ts`, default: `${base}.js` };
}
exportsMap["./package.json"] = "./package.json";

const npmPackage = {
  name: "ky-failover",
  version: denoJson.version,
  description:
    "Keep calls to AI APIs succeeding when a region or provider is down, slow or rate-limiting: " +
    "failover, circuit breaker and 429 handling over a pool of OpenAI-compatible endpoints, " +
    "as a ky instance or a standard fetch.",
  keywords: [
    "ky",
    "fetch",
    "failover",
    "circuit-breaker",
    "openai",
    "ai",
    "retry",
    "rate-limit",
  ],
  license: denoJson.license,
  type: "module",
  sideEffects: false,
  engines: { node: ">=22" },
  exports: exportsMap,
  main: "./esm/mod.js",
  types: "./esm/mod.d.ts",
  typesVersions: {
    "*": Object.fromEntries(
      entries.filter((e) => e.subpath !== ".").map((
        e,
      ) => [e.subpath.slice(2), [`./esm/${e.file.replace(/\.ts$/, ".d.ts")}`]]),
    ),
  },
  files: ["esm/"],
  dependencies: { ky: npmRange(denoJson.imports.ky, "ky") },
  peerDependencies: {
    msw: npmRange(denoJson.imports.msw, "msw"),
    redis: npmRange(denoJson.imports.redis, "redis"),
    "@opentelemetry/api": OTEL_API_PEER,
  },
  peerDependenciesMeta: {
    msw: { optional: true },
    redis: { optional: true },
    "@opentelemetry/api": { optional: true },
  },
};
await Deno.writeTextFile(
  path(`${OUT}/package.json`),
  JSON.stringify(npmPackage, null, 2) + "\n",
);
await Deno.copyFile(path("README.md"), path(`${OUT}/README.md`));
await Deno.copyFile(path("LICENSE"), path(`${OUT}/LICENSE`));
console.log(
  `npm: built ${npmPackage.name}@${npmPackage.version} in ${OUT}/ (${files} files)`,
);

// --------------------------------------------------------------------- pack
if (!Deno.args.includes("--no-pack")) {
  await Deno.mkdir(path("dist"), { recursive: true });
  const tarball = `dist/${npmPackage.name}-${npmPackage.version}.tgz`;
  await Deno.remove(path(tarball)).catch(() => {});
  const { code, stderr } = await new Deno.Command("npm", {
    args: ["pack", "--silent", "--pack-destination", path("dist")],
    cwd: path(OUT),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    console.error(new TextDecoder().decode(stderr));
    Deno.exit(code);
  }
  const { size } = await Deno.stat(path(tarball));
  console.log(`npm: packed ${tarball} (${(size / 1024).toFixed(1)} KiB)`);
}
