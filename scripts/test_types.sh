#!/usr/bin/env bash
# Do the shipped declarations compile where users compile? The packed
# tarball (dist/ky-failover-<version>.tgz; run scripts/build_npm.ts first,
# or set TYPES_TARBALL=) is installed with npm into a copy of each fixture
# project of tests/types/ (under dist/types/), next to the shared user files
# tests/types/*.ts (user.ts: the public API as a user calls it; optional.ts:
# every optional option given `undefined`), and every project is
# type-checked by each TypeScript of the devDependencies (npm aliases: ts59
# = typescript 5.9, ts7 = typescript 7), with and without skipLibCheck.
# Every fixture has `strict` and `exactOptionalPropertyTypes`:
#
#   dom            lib es2022 + dom only, no runtime types (a browser app)
#   init           what `tsc --init` writes (nodenext, target esnext)
#   node-defaults  TypeScript's defaults (no target, lib, module) + @types/node
#   node24         @tsconfig/node24's (lib es2024, no dom) + @types/node
#   bun            `bun init`'s settings (lib ESNext, no dom) + bun-types
#
# @types/node and bun-types come from the repository's node_modules (the
# fixture copies sit below it). Prints one line per cell, the errors of a
# failed cell under it, and `types: N passed, N failed`; exits non-zero
# when a cell failed.
#
# Usage: scripts/test_types.sh [fixture ...]   (default: every fixture)
set -uo pipefail
cd "$(dirname "$0")/.."

version="$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' deno.json)"
tarball="${TYPES_TARBALL:-dist/ky-failover-${version}.tgz}"
if [ ! -f "$tarball" ]; then
  echo "missing $tarball: run deno run -A scripts/build_npm.ts first" >&2
  exit 1
fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"

compilers=(ts59 ts7)
for ts in "${compilers[@]}"; do
  if [ ! -f "node_modules/$ts/bin/tsc" ]; then
    echo "missing node_modules/$ts: run npm install (devDependency $ts)" >&2
    exit 1
  fi
done

fixtures=("$@")
if [ ${#fixtures[@]} -eq 0 ]; then
  for dir in tests/types/*/; do fixtures+=("$(basename "$dir")"); done
fi

# ------------------------------------------------------------ dist/types
out=dist/types
rm -rf "$out"
mkdir -p "$out"
pids=()
for fixture in "${fixtures[@]}"; do
  if [ ! -f "tests/types/$fixture/tsconfig.json" ]; then
    echo "no fixture tests/types/$fixture" >&2
    exit 1
  fi
  cp -R "tests/types/$fixture" "$out/$fixture"
  cp tests/types/*.ts "$out/$fixture/"
  (cd "$out/$fixture" && npm install --no-audit --no-fund --no-package-lock \
    --loglevel=error "$tarball" >install.log 2>&1) &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    cat "$out/${fixtures[$i]}/install.log" >&2
    echo "types: npm install of $tarball into $out/${fixtures[$i]} failed" >&2
    exit 1
  fi
done
echo "installed $(basename "$tarball") into ${fixtures[*]/#/$out/}"

# ------------------------------------------------------------------ cells
# Every cell is one `tsc -p` run; they run $TYPES_JOBS at a time (default:
# the number of CPUs), TypeScript 5.9's slower ones first.
declare -A versions
for ts in "${compilers[@]}"; do
  versions[$ts]="$(node "node_modules/$ts/bin/tsc" --version | cut -d' ' -f2)"
done
cells=()
for ts in "${compilers[@]}"; do
  for fixture in "${fixtures[@]}"; do
    for skip in false true; do cells+=("$ts $fixture $skip"); done
  done
done
jobs_max="${TYPES_JOBS:-$(nproc 2>/dev/null || echo 2)}"
running=0
for cell in "${cells[@]}"; do
  read -r ts fixture skip <<<"$cell"
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n
    running=$((running - 1))
  fi
  log="$out/$fixture/tsc-$ts-skipLibCheck-$skip.log"
  (
    node "node_modules/$ts/bin/tsc" -p "$out/$fixture/tsconfig.json" \
      --skipLibCheck "$skip" --pretty false >"$log" 2>&1
    echo $? >"$log.code"
  ) &
  running=$((running + 1))
done
wait

passed=0
failed=0
for cell in "${cells[@]}"; do
  read -r ts fixture skip <<<"$cell"
  log="$out/$fixture/tsc-$ts-skipLibCheck-$skip.log"
  code="$(cat "$log.code" 2>/dev/null || echo 1)"
  label="$(printf 'TypeScript %-6s %-13s skipLibCheck=%-5s' \
    "${versions[$ts]}" "$fixture" "$skip")"
  errors="$(grep -cE 'error TS[0-9]+' "$log")"
  if [ "$code" -eq 0 ] && [ "$errors" -eq 0 ]; then
    echo "types: $label ok"
    passed=$((passed + 1))
  else
    echo "types: $label FAILED ($errors errors)"
    sed -E "s#^dist/types/$fixture/##; s#^#    #" "$log" |
      cut -c1-240 | head -n 25
    failed=$((failed + 1))
  fi
done

echo "types: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
