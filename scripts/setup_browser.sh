#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/e2e/browser_origin_test.ts) when it is missing.
# Idempotent and quiet when /usr/bin/chromium exists; needs root (or sudo) only to install.
# Exit status: 0 when Chromium is available afterwards, 1 otherwise (with one line saying why).
set -euo pipefail

CHROMIUM="${CHROMIUM_BIN:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "setup_browser: $CHROMIUM is missing; run as root or install it: apt-get install -y chromium" >&2
    exit 1
  fi
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "setup_browser: $CHROMIUM is missing and apt-get is not available" >&2
  exit 1
}
echo "setup_browser: installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
# Other setup steps may hold the dpkg lock at the same time: wait for it instead of failing.
lock=(-o DPkg::Lock::Timeout=180)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
$sudo apt-get "${lock[@]}" update -qq >"$log" 2>&1 || true
if ! $sudo apt-get "${lock[@]}" install -y -qq --no-install-recommends chromium fonts-liberation >>"$log" 2>&1; then
  echo "setup_browser: apt-get install chromium failed:" >&2
  tail -n 5 "$log" >&2
  exit 1
fi
[ -x "$CHROMIUM" ] || { echo "setup_browser: chromium installed but $CHROMIUM is missing" >&2; exit 1; }
