#!/usr/bin/env bash
# Installs Debian's redis-server for the Redis store's tests (they start
# their own on a free loopback port) when it is missing. Needs root (CI runs
# as root) and apt.
set -euo pipefail
if command -v redis-server >/dev/null; then
  redis-server --version
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install redis-server yourself (Debian: apt-get install redis-server) for tests/redis_test.ts" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
redis-server --version
