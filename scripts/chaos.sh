#!/usr/bin/env bash
# The crash and fault tests (tests/chaos) at full size: 5,000 generated Umsatz-io changes through
# three `ferry run` workers on PostgreSQL (a random one SIGKILLed every 2-4 s), the same through
# one SQLite process killed repeatedly, PostgreSQL restarted three times under load, and the
# SQLite disk filled up. Every run is bounded (FERRY_CHAOS_TIMEOUT_S to settle, a capped number
# of kills); the figures of each run are printed as `chaos-figures:` JSON lines and summarised.
#
#   scripts/chaos.sh [changes]        # default 5000; needs a built tree (cmake --build --preset dev)
#
# Environment: FERRY_CHAOS_PG_PORT (the test's own PostgreSQL cluster; default: a free port),
# FERRY_CHAOS_RATE (changes generated per second, default 60), BUILD (default build/dev).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/dev}
CHANGES=${1:-5000}
bin=$BUILD/tests/bin/chaos_test
[ -x "$bin" ] || { echo "chaos: $bin is missing; build first: cmake --build --preset dev" >&2; exit 2; }
log=$(mktemp /tmp/ferry-chaos-run.XXXXXX.log)
export FERRY_CHAOS_CHANGES=$CHANGES
export FERRY_CHAOS_RATE=${FERRY_CHAOS_RATE:-60}
export FERRY_CHAOS_TIMEOUT_S=${FERRY_CHAOS_TIMEOUT_S:-900}
export FERRY_CHAOS_KILL_TAIL_S=${FERRY_CHAOS_KILL_TAIL_S:-60}
export FERRY_CHAOS_DB_RESTARTS=${FERRY_CHAOS_DB_RESTARTS:-3}
export FERRY_HOME=${FERRY_HOME:-$BUILD/tests/home}
echo "chaos: $CHANGES changes per run, log in $log"
status=0
timeout 3600 "$bin" 2>&1 | tee "$log" || status=$?
echo
echo "chaos: summary"
grep '^chaos-figures: ' "$log" | sed 's/^chaos-figures: //' | python3 <(cat <<'PY'
import json, sys
for line in sys.stdin:
    f = json.loads(line)
    inj = f.get("faults_injected", {})
    d = f.get("webhook_deliveries", {})
    extra = ""
    if "db_outages" in f:
        extra += "  db-outages %d" % f["db_outages"]
    if "deliveries_refused_then_accepted" in f:
        extra += "  refused-then-accepted %d" % f["deliveries_refused_then_accepted"]
    print("  %-34s changes %5d  records %5d  workers %d  kills %3d  faults 5xx %d 429 %d"
          "  deliveries %d ok %d failed  dlq-replayed %d  lost %d  duplicated %d  stale %d  %d s%s"
          % (f["test"], f["changes_generated"], f["expected_records"], f["workers"], f["kills"],
             inj.get("5xx", 0), inj.get("429", 0), d.get("ok", 0), d.get("failed", 0),
             f["dead_letters_replayed"], f["lost"], f["duplicated"], f["stale_contacts"],
             f["seconds"], extra))
PY
)
exit $status
