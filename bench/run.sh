#!/usr/bin/env bash
# Builds and runs every benchmark, on 127.0.0.1 only, each bounded in time; prints one table and
# writes build/bench/results.json (plus the raw inputs beside it).
#
#   bash bench/run.sh            # full: 300 events per sender level on SQLite and PostgreSQL, a
#                                # backlog of 5,000 changes to 1,000 contacts (both stores; about
#                                # 15-20 min)
#   bash bench/run.sh --quick    # small: 150 events per level, a backlog of 1,000 changes to 200
#                                # contacts (both stores; about 5 min)
#
# PostgreSQL: a throwaway cluster on 127.0.0.1:${FERRY_BENCH_PG_PORT:-55465} (scripts/pg-cluster.sh);
# FERRY_BENCH_SKIP_PG=1 skips it. Benchmarks measure and report; nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
esac

export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
cmake --preset dev >/dev/null
cmake --build --preset dev -j2 --target ferry_benchmarks

bin=$root/build/dev/bench
out=$root/build/bench
mkdir -p "$out"
rm -f "$out"/{machine,startup,mapping,sqlite,pg,results}.json

if [ $quick -eq 1 ]; then
  events=150 contacts=200 changes=1000 runs=10 min_time=0.2 flow_timeout=500
else
  events=300 contacts=1000 changes=5000 runs=30 min_time=1 flow_timeout=1100
fi

cat > "$out/machine.json" <<JSON
{"nproc": $(nproc), "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
 "mem_mib": "$(awk '/MemTotal/ {printf "%d", $2/1024}' /proc/meminfo)",
 "load": "$(cut -d' ' -f1-3 /proc/loadavg)", "when": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "build": "RelWithDebInfo (dev preset)", "quick": $([ $quick -eq 1 ] && echo true || echo false)}
JSON

echo "== start-up and plugin load ($runs runs each)"
timeout 300 "$bin/startup_bench" --runs "$runs" --json "$out/startup.json" \
  --plugins "$root/build/dev/lib/ferry/plugins"

echo "== mapping engine (Google Benchmark)"
if [ -x "$bin/bench_mapping" ]; then
  timeout 120 "$bin/bench_mapping" --benchmark_min_time="$min_time" \
    --benchmark_out="$out/mapping.json" --benchmark_out_format=json
else
  echo "bench_mapping was not built (Google Benchmark missing)"
fi

echo "== contact-sync end to end, SQLite"
timeout "$flow_timeout" "$bin/flow_bench" --store sqlite --events "$events" --senders 1,16,64 \
  --contacts "$contacts" --changes "$changes" --backlog-timeout 480 --out "$out/sqlite.json" >/dev/null

if [ "${FERRY_BENCH_SKIP_PG:-0}" != 1 ]; then
  echo "== contact-sync end to end, PostgreSQL"
  # shellcheck source=../scripts/pg-cluster.sh
  source "$root/scripts/pg-cluster.sh"
  FERRY_TEST_PG_PORT=${FERRY_BENCH_PG_PORT:-55465} pg_cluster_start
  trap pg_cluster_stop EXIT
  timeout "$flow_timeout" "$bin/flow_bench" --store pg \
    --pg "host=127.0.0.1 port=${FERRY_BENCH_PG_PORT:-55465} user=postgres" --events "$events" \
    --senders 1,16,64 --contacts "$contacts" --changes "$changes" --backlog-timeout 480 \
    --out "$out/pg.json" >/dev/null
fi

echo
"$bin/flow_bench" --report "$out"
