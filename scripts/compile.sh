#!/usr/bin/env bash
# Builds the single-binary relay: dist/edge-relay with `bun build --compile` (works offline, host platform
# only). `deno compile` also works where dl.deno.land is reachable (it downloads the `denort` runtime);
# with --deno this script tries it too and reports if the download is not possible.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-dist/edge-relay}
mkdir -p "$(dirname "$out")"
bun_bin=${BUN_BIN:-$(npx -y bun@1.4.4 -e 'console.log(process.execPath)')}
"$bun_bin" build --compile src/main.ts --outfile "$out"
echo "built $out ($(du -h "$out" | cut -f1))"
if [ "${1:-}" = "--deno" ]; then
  deno_cmd=(deno)
  command -v deno >/dev/null 2>&1 || deno_cmd=(npx -y deno@2.9.6)
  if timeout 120 "${deno_cmd[@]}" compile --allow-net --allow-read --allow-env --output "$out-deno" src/main.ts; then
    echo "built $out-deno"
  else
    echo "deno compile failed (it needs to download denort from dl.deno.land)" >&2
    exit 1
  fi
fi
