#!/usr/bin/env bash
# Installs Debian's Chromium for the browser run (scripts/test_browser.ts)
# when /usr/bin/chromium is missing. Needs root (CI runs as root) and apt.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install Chromium yourself (Debian: apt-get install chromium), or set CHROMIUM=/path/to/chrome" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
