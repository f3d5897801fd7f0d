#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs each for a
# bounded time on its corpus (fuzz/corpus/<target>/, read only: new inputs go to a scratch
# directory). Fails when a target crashes, leaks or trips a sanitizer; the crashing input is left
# in build/fuzz/crashes/<target>/ — add it to the corpus and a regression test in tests/.
#
#   scripts/fuzz.sh                 the default targets, FERRY_FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh expr_fuzz ...   only those targets
#   FERRY_FUZZ_MERGE=1 ...          afterwards, merge the new coverage into fuzz/corpus/
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FERRY_FUZZ_SECONDS:-30}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(flow_fuzz expr_fuzz ghl_webhook_fuzz umsatzio_webhook_fuzz ghl_rest_fuzz
           umsatzio_graphql_fuzz http_server_fuzz)
fi
declare -A dicts=([flow_fuzz]=flow [expr_fuzz]=expr [ghl_webhook_fuzz]=json
                  [umsatzio_webhook_fuzz]=json [ghl_rest_fuzz]=json [umsatzio_graphql_fuzz]=json [http_server_fuzz]=http)

export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"${FERRY_FUZZ_JOBS:-2}" --target "${targets[@]}"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
failed=()
for target in "${targets[@]}"; do
  bin="build/fuzz/fuzz/bin/$target"
  corpus="fuzz/corpus/$target"
  scratch="build/fuzz/scratch/$target"
  crashes="build/fuzz/crashes/$target"
  mkdir -p "$corpus" "$scratch" "$crashes"
  dict=()
  if [ -n "${dicts[$target]:-}" ]; then dict=(-dict="fuzz/dict/${dicts[$target]}.dict"); fi
  echo "fuzz: $target for ${seconds}s"
  log="build/fuzz/$target.log"
  if "$bin" "$scratch" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$crashes/" \
       >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ +DONE" "$log" | tr '\n' ' '
    echo
  else
    echo "fuzz: $target FAILED; the input is in $crashes/, the report in $log:"
    grep -A30 -E "ERROR: |runtime error|deadly signal|uncaught exception" "$log" | head -60
    failed+=("$target")
  fi
  if [ "${FERRY_FUZZ_MERGE:-0}" = 1 ]; then
    "$bin" -merge=1 "$corpus" "$scratch" "${dict[@]}" -max_len=8192 >/dev/null 2>&1 || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing targets: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a finding."
