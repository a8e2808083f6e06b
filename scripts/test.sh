#!/usr/bin/env bash
# The whole test suite: formatting, lint, type checks, documentation lint,
# JSR readiness, then every behavioural test under Deno with its sanitizers.
# Run it with `npm test` (after `npm install`), which puts the npm-installed
# deno on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "deno fmt --check"
deno fmt --check
step "deno lint"
deno lint
step "deno check"
deno check mod.ts scripts/ tests/
step "deno doc --lint mod.ts"
deno run --allow-run --allow-env scripts/doc_lint.ts
step "deno publish --dry-run (JSR, no slow types)"
deno publish --dry-run --allow-dirty 2>&1 | tail -n 1

step "deno test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
NO_COLOR=1 deno test --allow-env --allow-net=127.0.0.1 --allow-read tests/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary="$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)"
passed="$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")"
echo
echo "deno: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
