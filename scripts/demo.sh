#!/usr/bin/env bash
# Installs the packages, builds ferry and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset dev >/dev/null
cmake --build --preset dev
exec ./build/dev/bin/ferry catalog list "$@"
