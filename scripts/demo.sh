#!/usr/bin/env bash
# Installs the packages, builds ferry and runs the demo: both sandboxes with faults on, the three
# seed flows, generated Umsatz-io traffic, and a summary checked against the GHL sandbox.
# Options go to `ferry demo` (e.g. --contacts 500 --json); see `ferry demo --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset dev >/dev/null
cmake --build --preset dev
exec ./build/dev/bin/ferry demo "$@"
