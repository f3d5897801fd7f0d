#!/usr/bin/env bash
# Fails when the committed catalog/ differs from a fresh `ferry catalog export` made with only
# the plugins bundled beside the binary (no FERRY_PLUGIN_PATH, an empty user plugin directory).
# Usage: catalog_is_fresh.sh <ferry binary> <committed catalog dir>
set -euo pipefail
ferry="$1"
committed="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"
env -u FERRY_PLUGIN_PATH -u XDG_DATA_HOME FERRY_HOME="$tmp/home" \
  "$ferry" catalog export "$tmp/catalog" >/dev/null
if ! diff -ru "$committed" "$tmp/catalog"; then
  cat >&2 <<MSG

catalog/: error[stale_catalog]: the committed catalog differs from the plugins' declarations
hint: regenerate it from the repository root after a full build, then commit it:
  rm -rf catalog && env -u FERRY_PLUGIN_PATH FERRY_HOME="\$(mktemp -d)" build/dev/bin/ferry catalog export catalog
MSG
  exit 1
fi
echo "catalog/ is fresh."
