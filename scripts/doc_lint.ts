// Runs `deno doc --lint` over every entry point of deno.json's exports
// (but ./testing, which scripts/doc_lint_testing.ts checks) and fails on
// any problem in this package. Problems inside ky's own type declarations
// (reached because `failover.ky` is a ky instance) are counted and
// reported, but they are ky's to fix.

const config = JSON.parse(await Deno.readTextFile("deno.json"));
const entries = Object.entries(config.exports as Record<string, string>)
  .filter(([name]) => name !== "./testing").map(([, file]) => file);
const { stdout, stderr, code } = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", ...entries],
  env: { NO_COLOR: "1" },
}).output();
const text = new TextDecoder().decode(stdout) +
  new TextDecoder().decode(stderr);
const locations = [...text.matchAll(/^\s*--> (\S+):\d+:\d+$/gm)].map((m) =>
  m[1]
);
const ours = locations.filter((path) => !path.includes("/node_modules/"));
if (ours.length > 0) {
  console.error(text);
  console.error(
    `doc lint: ${ours.length} problem(s) in ky-failover's own files`,
  );
  Deno.exit(1);
}
const theirs = locations.length;
console.log(
  code === 0
    ? `doc lint: clean (${entries.join(", ")})`
    : `doc lint: clean in ky-failover; ${theirs} problem(s) in ky's own type declarations ignored`,
);
