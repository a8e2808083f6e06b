#!/usr/bin/env bash
# The whole test suite: formatting, lint, type checks, documentation lint,
# JSR readiness, every behavioural test under Deno with its sanitizers, then
# the npm package (build, pack, publint, attw), the browser bundle and its
# size budget, and the same behavioural tests on Node, Bun and Chromium
# against those artifacts. Run it with `npm test` (after `npm install`),
# which puts the npm-installed deno, node (24) and esbuild on PATH.
# Chromium comes from Debian: scripts/install_chromium.sh, run here when it
# is missing (as root with apt, as on a fresh machine of this project).
#
# Static checks stop at the first failure; after them every runtime runs
# even if another one failed, and each prints its own
# `<runtime>: N passed, N failed` line; the last line sums them up.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "deno fmt --check"
deno fmt --check
step "deno lint"
deno lint
step "no import cycle in src/ (type imports included)"
deno run --allow-read=src scripts/check_cycles.ts
step "deno check"
deno check mod.ts testing.ts scripts/ tests/ bench/
step "deno doc --lint (every entry point)"
deno run --allow-run --allow-env --allow-read=deno.json scripts/doc_lint.ts
step "deno doc --lint testing.ts (every export with an example)"
deno run --allow-run --allow-env scripts/doc_lint_testing.ts
step "deno publish --dry-run (JSR, no slow types)"
deno publish --dry-run --allow-dirty 2>&1 | tail -n 1

status=0
summary=()
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# Runs a Deno test command; prints and records `<label>: N passed, N failed`.
deno_tests() {
  local label="$1" log="$logs/$1.log" code summary_line passed failed
  shift
  set +e
  NO_COLOR=1 deno test "$@" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  set -e
  summary_line="$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)"
  passed="$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary_line")"
  failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary_line")"
  passed=${passed:-0}
  failed=${failed:-0}
  [ "$code" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  echo
  echo "${label}: ${passed} passed, ${failed} failed"
  summary+=("${label} $(deno --version | head -n 1 | cut -d' ' -f2): ${passed} passed, ${failed} failed")
  [ "$code" -eq 0 ] || status=1
}

step "redis-server (Debian's, installed when missing)"
bash scripts/install_redis.sh

# Built first: the cross-runtime Redis test runs Node and Bun on it.
step "npm package: build and pack (scripts/build_npm.ts)"
deno run --allow-read --allow-write --allow-env --allow-run scripts/build_npm.ts
tarball="dist/ky-failover-$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' deno.json).tgz"
step "deno test"
# --allow-sys=hostname: the AI SDK (@vercel/oidc) reads it when loaded.
# --unstable-kv, --allow-write to the temp dir: the Deno KV store's tests
# share a temporary KV file; --allow-run: the Redis store's tests start
# their own redis-server, and Node and Bun instances beside this one.
deno_tests deno --allow-env --allow-net=127.0.0.1 --allow-read \
  --allow-sys=hostname --unstable-kv --allow-write="${TMPDIR:-/tmp}" \
  --allow-run=redis-server,node,node_modules/@oven/bun-linux-x64/bin/bun \
  tests/
step "deno test --doc (every documented example runs)"
deno_tests deno-doc --doc --allow-env --allow-net=127.0.0.1 --allow-read \
  mod.ts core.ts testing.ts src/

step "publint $tarball"
publint run --strict "$tarball"
step "attw $tarball (ESM-only by design: CommonJS require of ESM ignored)"
attw "$tarball" --ignore-rules cjs-resolves-to-esm --no-color
step "types: $tarball under TypeScript 5.9 and 7 in fresh projects (scripts/test_types.sh)"
bash scripts/test_types.sh
step "readme: every TypeScript block of README.md type-checked, the runnable ones run on loopback (scripts/test_readme.ts)"
set +e
deno run --allow-read --allow-write --allow-run --allow-env \
  --allow-net=127.0.0.1 --allow-sys=hostname scripts/test_readme.ts |
  tee "$logs/readme.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
readme_line="$(grep -E '^readme: [0-9]+ passed, [0-9]+ failed$' "$logs/readme.log" | tail -n 1 || true)"
summary+=("${readme_line:-readme: 0 passed, 1 failed}")
step "browser bundle (scripts/bundle.ts)"
deno run --allow-read --allow-write --allow-env --allow-run scripts/bundle.ts

step "chromium (Debian's, installed when missing)"
bash scripts/install_chromium.sh

step "node, bun, chromium against the packed package and the bundle"
set +e
bash scripts/test_runtimes.sh | tee "$logs/runtimes.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
while IFS= read -r line; do summary+=("$line"); done < <(
  sed -n '/^== runtimes$/,$p' "$logs/runtimes.log" | tail -n +2
)

total_passed=0
total_failed=0
step "summary"
for line in "${summary[@]}"; do
  echo "$line"
  counts="${line##*: }"
  total_passed=$((total_passed + ${counts%% passed*}))
  failed_part="${counts#*passed, }"
  total_failed=$((total_failed + ${failed_part%% failed*}))
done
[ "$total_failed" -eq 0 ] || status=1
echo "total: ${total_passed} passed, ${total_failed} failed"
exit "$status"
