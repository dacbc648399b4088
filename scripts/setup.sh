#!/usr/bin/env bash
# Installs what the test suite needs besides Deno and the npm dependencies: independent clients and tools
# from Debian's packages. Idempotent and quiet when everything is present; needs root (or sudo) only to install.
set -euo pipefail

need=()
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import websockets' 2>/dev/null || need+=(python3 python3-websockets)
# h11: the second independent HTTP/1.1 parser of the differential fuzzer (scripts/fuzz/)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import h11' 2>/dev/null || need+=(python3 python3-h11)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# nginx: the reverse proxy of the README's recipe, which tests/e2e/nginx_test.ts starts on loopback
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
# promtool (Debian's prometheus package): lints the /metrics exposition in tests/e2e/metrics_test.ts
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ "${SETUP_BENCH:-0}" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
  [ -f /usr/include/zlib.h ] || need+=(zlib1g-dev) # the load generator inflates permessage-deflate
fi

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null 2>&1 || true
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
