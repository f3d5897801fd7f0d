#!/usr/bin/env bash
# Builds ferry and runs the whole test suite: installs the Debian packages, starts a throwaway
# PostgreSQL cluster on 127.0.0.1 for the store tests, configures, builds, runs ctest, and stops
# the cluster again. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# setup.sh installed promtool: the promtool checks (tests/alerts) must run, not skip.
export FERRY_REQUIRE_PROMTOOL=1

# A throwaway PostgreSQL cluster, only if the tests have not been given one.
if [ -z "${FERRY_TEST_PG:-}" ]; then
  source scripts/pg-cluster.sh
  pg_cluster_start
  trap pg_cluster_stop EXIT
fi

cmake --preset dev
cmake --build --preset dev
ctest --preset dev "$@"

# The Debian package: built with cpack, installed, run the way its systemd unit runs it, purged
# (scripts/package-test.sh, docs/deploy.md). Needs root; FERRY_SKIP_PACKAGE=1 skips it.
if [ "${FERRY_SKIP_PACKAGE:-0}" != 1 ]; then
  bash scripts/package-test.sh build/dev
fi

# Then every fuzz target for a bounded time (scripts/fuzz.sh, FERRY_FUZZ_SECONDS each, 20 s by
# default here; FERRY_SKIP_FUZZ=1 skips it), and the whole suite again under AddressSanitizer +
# UBSan (the asan preset, build/asan; FERRY_SKIP_ASAN=1 skips it). Each step prints its time.
if [ "${FERRY_SKIP_FUZZ:-0}" != 1 ]; then
  start=$SECONDS
  FERRY_FUZZ_SECONDS="${FERRY_FUZZ_SECONDS:-20}" bash scripts/fuzz.sh
  echo "test.sh: fuzz build and runs took $((SECONDS - start)) s"
fi
if [ "${FERRY_SKIP_ASAN:-0}" != 1 ]; then
  start=$SECONDS
  cmake --preset asan
  cmake --build --preset asan -j2
  echo "test.sh: asan build took $((SECONDS - start)) s"
  start=$SECONDS
  ctest --preset asan "$@"
  echo "test.sh: asan suite took $((SECONDS - start)) s"
fi
