#!/bin/sh
# The official Node SDK proof as a ctest test: installs the SDK (npm ci, once) into a work
# folder, starts the GHL sandbox, runs sdk-proof.js against it, stops the sandbox.
# usage: run.sh <ferry-sandbox-ghl executable> <work dir>
set -eu
sandbox=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/sdk-proof.js" "$work/"
cd "$work"
if [ ! -d node_modules/@gohighlevel/api-client ]; then
  timeout 300 npm ci --no-audit --no-fund --loglevel=error
fi
out=$(mktemp)
"$sandbox" --port 0 >"$out" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
i=0
while [ ! -s "$out" ] && [ $i -lt 100 ]; do
  sleep 0.1
  i=$((i + 1))
done
line=$(head -n 1 "$out")
field() {
  printf '%s' "$line" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log($1)})"
}
GHL_SANDBOX_URL=$(field 'j.base_url')
GHL_SANDBOX_TOKEN=$(field 'j.tokens.full.token')
GHL_SANDBOX_LOCATION=$(field 'j.location_id')
export GHL_SANDBOX_URL GHL_SANDBOX_TOKEN GHL_SANDBOX_LOCATION
timeout 90 node sdk-proof.js
