#!/usr/bin/env bash
# The issue 5 benchmark (bench/failover_bench.ts) on Deno, Node 24 and Bun,
# then one markdown table of the three (dist/bench/table.md). Run it with
# `npm run bench` (after `npm install`), which puts the npm-installed deno,
# node (24) and esbuild first on PATH.
#
# - Deno runs the bench from the repository (`ky-failover` → mod.ts).
# - Node and Bun run it against the packed npm package, as a user gets it:
#   scripts/build_npm.ts packs dist/ky-failover-<version>.tgz, which is
#   installed into dist/bench-matrix/ with bench/, tests/_region_farm.ts (and
#   its tests/_listen.ts) and tests/_manual_clock.ts (its seeded PRNG)
#   copied next to it (ky, cockatiel, opossum and openai resolve from the
#   repository's node_modules).
# - S1's regions run in a separate Node 24 process (BENCH_SERVER_NODE).
# - The bundle figures are scripts/bundle.ts's "createPool" and
#   "createFailover adds over ky" lines.
#
# Per-runtime results: dist/bench/<runtime>.json.
#
# Usage: scripts/bench.sh [--quick] [--memory-calls N] [--only S1,S4,OTEL,MEMORY] [--seed N]
#                         [deno] [node] [bun]
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$root/node_modules/.bin:$PATH"

bench_args=()
runtimes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) bench_args+=("$1") ;;
    --memory-calls | --only | --seed)
      bench_args+=("$1" "${2:?$1 needs a value}")
      shift
      ;;
    deno | node | bun) runtimes+=("$1") ;;
    *)
      echo "usage: scripts/bench.sh [--quick] [--memory-calls N] [--only S1,S2,...] [--seed N] [deno] [node] [bun]" >&2
      exit 2
      ;;
  esac
  shift
done
[ ${#runtimes[@]} -eq 0 ] && runtimes=(deno node bun)

step() { printf '\n== %s\n' "$*"; }

node_version="$(node --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [ "$node_major" -lt 24 ]; then
  echo "node ${node_version} ($(command -v node)) is too old: run via npm run bench (Node 24 from npm install)" >&2
  exit 1
fi
bun="${BUN:-node_modules/@oven/bun-linux-x64/bin/bun}"
[ -x "$bun" ] || bun="$(command -v bun || true)"
[ -n "$bun" ] && bun="$(cd "$(dirname "$bun")" && pwd)/$(basename "$bun")"
export BENCH_SERVER_NODE="$(command -v node)"

echo "ky-failover bench — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "deno $(deno --version | head -n 1 | cut -d' ' -f2), node ${node_version#v}, bun $([ -n "$bun" ] && "$bun" --version || echo 'not installed')"
echo "$(nproc) cores: $(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"

out=dist/bench
rm -rf "$out"
mkdir -p "$out"

step "npm package (scripts/build_npm.ts) and bundle size (scripts/bundle.ts)"
deno run --allow-read --allow-write --allow-env --allow-run scripts/build_npm.ts || exit 1
# bundle.ts exits non-zero above its own budget; the figure is reported anyway.
deno run --allow-read --allow-write --allow-env --allow-run scripts/bundle.ts \
  | tee "$out/bundle.log"
grep -E '^ *(createPool \(|createFailover adds over ky)' "$out/bundle.log" \
  >"$out/bundle.txt" || true

version="$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' deno.json)"
tarball="dist/ky-failover-${version}.tgz"
matrix=dist/bench-matrix
rm -rf "$matrix"
mkdir -p "$matrix/tests"
printf '{ "private": true, "type": "module" }\n' >"$matrix/package.json"
(cd "$matrix" && npm install --no-audit --no-fund --no-package-lock \
  --loglevel=error "../$(basename "$tarball")") || exit 1
cp -R bench "$matrix/"
cp tests/_region_farm.ts tests/_listen.ts tests/_manual_clock.ts "$matrix/tests/"

status=0
run_deno() {
  deno run --allow-net=127.0.0.1 --allow-run --allow-env --allow-read \
    --allow-write="$out" --allow-sys \
    bench/failover_bench.ts "${bench_args[@]}" --out "$out/deno.json"
}
run_node() {
  (cd "$matrix" && node bench/failover_bench.ts \
    "${bench_args[@]}" --out "$root/$out/node.json")
}
run_bun() {
  if [ -z "$bun" ]; then
    echo "bun: not installed (npm install brings @oven/bun-linux-x64 on Linux x64; elsewhere set BUN=)" >&2
    return 1
  fi
  (cd "$matrix" && "$bun" bench/failover_bench.ts \
    "${bench_args[@]}" --out "$root/$out/bun.json")
}

for runtime in "${runtimes[@]}"; do
  step "$runtime"
  "run_$runtime" || status=1
done

step "table (dist/bench/table.md)"
node bench/_table.ts "$out" || status=1
exit "$status"
