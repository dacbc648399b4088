#!/usr/bin/env bash
# The whole test suite (`deno task test`): unit and end-to-end tests on Deno, the same end-to-end suite with the
# relay running on Bun, and the unit tests under Bun's runner. Extra arguments go to every `deno test` run.
# With JUNIT_DIR set, each phase writes a JUnit report there (CI counts them).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1

deno_cmd=(deno)
command -v deno >/dev/null 2>&1 || deno_cmd=(npx -y deno@2.9.6)
BUN_BIN=${BUN_BIN:-$(npx -y bun@1.4.4 -e 'console.log(process.execPath)' 2>/dev/null)}
export BUN_BIN

junit() { [ -n "${JUNIT_DIR:-}" ] && echo "--junit-path=$JUNIT_DIR/$1.xml"; }
status=0
phase() { echo; echo "=== $1"; }

phase "Deno: unit and end-to-end tests (relay on Deno)"
"${deno_cmd[@]}" test --allow-all --parallel $(junit deno) "$@" tests/ || status=1

if [ -x "$BUN_BIN" ]; then
  phase "Deno: end-to-end tests with the relay on Bun"
  RELAY_RUNTIME=bun "${deno_cmd[@]}" test --allow-all --parallel $(junit deno-relay-on-bun) "$@" tests/e2e/ || status=1

  phase "Bun: unit tests under bun test"
  bun_junit=()
  [ -n "${JUNIT_DIR:-}" ] && bun_junit=(--reporter=junit --reporter-outfile="$JUNIT_DIR/bun.xml")
  # A timed-out test makes bun kill every process the file started (Redis too): give slow machines room.
  "$BUN_BIN" test --timeout 30000 "${bun_junit[@]}" tests/runtime tests/websocket tests/pubsub tests/http tests/relay tests/access tests/protocol tests/scripts tests/observability \
    tests/config_test.ts tests/docs_test.ts \
    || status=1
else
  echo "Bun could not be fetched (npx -y bun@1.4.4): the Bun phases did not run" >&2
  status=1
fi
exit $status
