#!/usr/bin/env bash
# The behavioural suite on Node, Bun and Chromium, against the built
# artifacts — run scripts/build_npm.ts and scripts/bundle.ts first.
#
# The packed tarball (dist/ky-failover-<version>.tgz) is installed as a user
# would, with npm, into dist/matrix/; the test files are copied next to it,
# so that `ky-failover` and `ky-failover/testing` resolve to the installed
# package (everything else — msw, openai, ai … — to the repository's
# node_modules). Each runtime prints its own `<runtime>: N passed, N failed`
# line; the exit status is non-zero if any runtime failed.
#
# Usage: scripts/test_runtimes.sh [node] [bun] [chromium]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."

runtimes=("$@")
[ ${#runtimes[@]} -eq 0 ] && runtimes=(node bun chromium)

version="$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' deno.json)"
tarball="dist/ky-failover-${version}.tgz"
if [ ! -f "$tarball" ]; then
  echo "missing $tarball: run deno run -A scripts/build_npm.ts first" >&2
  exit 1
fi

# ------------------------------------------------------------- dist/matrix
matrix=dist/matrix
rm -rf "$matrix"
mkdir -p "$matrix/scripts"
printf '{ "private": true, "type": "module" }\n' >"$matrix/package.json"
(cd "$matrix" && npm install --no-audit --no-fund --no-package-lock \
  --loglevel=error "../$(basename "$tarball")") || exit 1
cp -R tests "$matrix/"
cp scripts/demo.ts scripts/test_browser.ts scripts/_browser_run.ts "$matrix/scripts/"
cp -R scripts/dashboard "$matrix/scripts/"
installed="$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' "$matrix/node_modules/ky-failover/package.json")"
echo "installed ky-failover@${installed} from ${tarball} into ${matrix}/node_modules"

status=0
summary=()
files=()
for f in "$matrix"/tests/*_test.ts; do files+=("tests/$(basename "$f")"); done

run_node() {
  local node_version major log
  node_version="$(node --version)"
  major="${node_version#v}"
  major="${major%%.*}"
  echo "node ${node_version} ($(command -v node))"
  if [ "$major" -lt 22 ]; then
    echo "node: Node ${node_version} is too old (ky 2 needs >= 22): run via npm test, which puts the npm-installed Node 24 first on PATH" >&2
    summary+=("node: 0 passed, 1 failed")
    return 1
  fi
  log="$(mktemp)"
  (cd "$matrix" && node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log" \
    "${files[@]}")
  local code=$?
  grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$log"
  local passed failed
  passed="$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  failed="$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  cancelled="$(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  failed=$((${failed:-0} + ${cancelled:-0}))
  [ "$code" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  rm -f "$log"
  echo "node: ${passed:-0} passed, ${failed} failed"
  summary+=("node ${node_version}: ${passed:-0} passed, ${failed} failed")
  return "$code"
}

run_bun() {
  local bun log code passed failed
  bun="${BUN:-node_modules/@oven/bun-linux-x64/bin/bun}"
  [ -x "$bun" ] || bun="$(command -v bun || true)"
  if [ -z "$bun" ]; then
    echo "bun: not installed (npm ci installs @oven/bun-linux-x64 on Linux x64; elsewhere set BUN=)" >&2
    summary+=("bun: 0 passed, 1 failed")
    return 1
  fi
  bun="$(cd "$(dirname "$bun")" && pwd)/$(basename "$bun")"
  echo "bun $("$bun" --version) ($bun)"
  log="$(mktemp)"
  # Bun's default 5 s per-test limit is shorter than the demo test.
  (cd "$matrix" && "$bun" test --timeout 120000 "${files[@]/#/./}") 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  passed="$(sed -nE 's/^ *([0-9]+) pass$/\1/p' "$log" | tail -n 1)"
  failed="$(sed -nE 's/^ *([0-9]+) fail$/\1/p' "$log" | tail -n 1)"
  failed=${failed:-0}
  [ "$code" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  rm -f "$log"
  echo "bun: ${passed:-0} passed, ${failed} failed"
  summary+=("bun $("$bun" --version): ${passed:-0} passed, ${failed} failed")
  return "$code"
}

run_chromium() {
  local chromium="${CHROMIUM:-/usr/bin/chromium}" log code line pages dashboard
  if [ ! -x "$chromium" ]; then
    echo "chromium: $chromium not found — apt-get install -y chromium (scripts/install_chromium.sh), or set CHROMIUM=" >&2
    summary+=("chromium: 0 passed, 1 failed")
    return 1
  fi
  log="$(mktemp)"
  CHROMIUM="$chromium" node "$matrix/scripts/test_browser.ts" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  line="$(grep -E '^chromium: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
  [ -z "$line" ] && line="chromium: 0 passed, 1 failed"
  rm -f "$log"
  summary+=("chromium $("$chromium" --version 2>/dev/null | grep -oE '[0-9.]+' | head -n 1)${line#chromium}")
  # Two pages of one origin sharing a broadcastStore.
  log="$(mktemp)"
  CHROMIUM="$chromium" node scripts/test_browser_pages.ts 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || code=1
  pages="$(grep -E '^chromium-pages: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
  rm -f "$log"
  summary+=("${pages:-chromium-pages: 0 passed, 1 failed}")
  # The demo's live dashboard (scripts/demo.ts --web, run from the sources
  # by Deno) in a page.
  log="$(mktemp)"
  CHROMIUM="$chromium" node scripts/test_dashboard.ts 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || code=1
  dashboard="$(grep -E '^chromium-dashboard: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
  rm -f "$log"
  summary+=("${dashboard:-chromium-dashboard: 0 passed, 1 failed}")
  return "$code"
}

for runtime in "${runtimes[@]}"; do
  printf '\n== %s\n' "$runtime"
  "run_$runtime" || status=1
done

printf '\n== runtimes\n'
printf '%s\n' "${summary[@]}"
exit "$status"
