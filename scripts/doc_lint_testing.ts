// Documentation checks for the `./testing` entry point (testing.ts), like
// scripts/doc_lint.ts does for mod.ts, and stricter: every export of ours
// carries an `@example`. Problems inside MSW's own type declarations
// (reached through the re-exported `HttpHandler`) are counted, not failed.
// The examples themselves run as tests: deno test --doc testing.ts src/testing/.

const ENTRY = "testing.ts";
const run = async (args: string[]) => {
  const { stdout, stderr, code } = await new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code,
    text: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr),
    stdout: new TextDecoder().decode(stdout),
  };
};

const lint = await run(["doc", "--lint", ENTRY]);
const locations = [...lint.text.matchAll(/^\s*--> (\S+):\d+:\d+$/gm)].map((m) =>
  m[1]
);
const ours = locations.filter((path) => !path.includes("/node_modules/"));
if (ours.length > 0) {
  console.error(lint.text);
  console.error(
    `doc lint: ${ours.length} problem(s) in ${ENTRY} and its files`,
  );
  Deno.exit(1);
}

interface DocNode {
  name: string;
  declarations: {
    location: { filename: string };
    jsDoc?: { tags?: { kind: string }[] };
  }[];
}
const json = await run(["doc", "--json", ENTRY]);
if (json.code !== 0) {
  console.error(json.text);
  Deno.exit(1);
}
const nodes = JSON.parse(json.stdout).nodes as Record<
  string,
  { symbols: DocNode[] }
>;
const missing: string[] = [];
let exports = 0;
for (const { symbols } of Object.values(nodes)) {
  for (const symbol of symbols) {
    const own = symbol.declarations.filter((d) =>
      !d.location.filename.includes("/node_modules/")
    );
    if (own.length === 0) continue; // re-exported from MSW
    exports++;
    const hasExample = own.some((d) =>
      d.jsDoc?.tags?.some((t) => t.kind === "example")
    );
    if (!hasExample) missing.push(symbol.name);
  }
}
if (missing.length > 0) {
  console.error(
    `doc lint: ${ENTRY} exports without an @example: ${missing.join(", ")}`,
  );
  Deno.exit(1);
}
console.log(
  `doc lint: ${ENTRY} clean, ${exports} exports each with an @example` +
    (locations.length > 0
      ? `; ${locations.length} problem(s) in MSW's own type declarations ignored`
      : ""),
);
