#!/usr/bin/env bash
# The Debian package test (docs/deploy.md). From a built tree it:
#   1. builds ferry_<version>_<arch>.deb with cpack and checks its control data;
#   2. installs it with apt-get and checks the files, the conffiles, the `ferry` user, the state
#      directory and the systemd unit (`systemd-analyze verify` when systemd is installed);
#   3. starts the installed sandboxes (`ferry sandbox all`) and then the service the way its unit
#      would, without systemd: the unit's ExecStart as its User/Group with its Environment=,
#      EnvironmentFile=, WorkingDirectory=, UMask= and StateDirectory=, no new privileges;
#   4. checks /healthz and /readyz with the shipped config, then configures a flow against the
#      sandboxes, reloads with the unit's ExecReload (SIGHUP), and checks that an Umsatz-io call
#      webhook becomes exactly one GHL task;
#   5. takes an online backup of the SQLite store, stops the service with the unit's KillSignal;
#      with FERRY_TEST_PG (scripts/test.sh sets it) moves the store to a fresh PostgreSQL database
#      with ferry-store-to-postgres, restarts on it and checks that the next call flows through;
#   6. purges the package, leaving the machine as it was (the `ferry` user too, when this test
#      created it).
# Needs root (apt-get, runuser); talks only to 127.0.0.1; every wait is bounded.
# Usage: scripts/package-test.sh [build dir]       (default build/dev; must be built)
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="$PWD"
build="$(realpath "${1:-build/dev}")"

say() { echo "package-test: [${SECONDS}s] $*"; }
fail() {
  echo "package-test: error: $*" >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  say "skipped: installing a package needs root (CI runs as root; FERRY_SKIP_PACKAGE=1 skips it)"
  exit 0
fi
[ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake is missing; configure and build first"
[ -x "$build/bin/ferry" ] || fail "$build/bin/ferry is missing; build first (cmake --build --preset dev)"
command -v node >/dev/null || fail "node is needed to read the sandboxes' JSON (scripts/setup.sh installs it)"

# One package test at a time on this machine: they share the package name, the user and /etc.
exec 9>/run/ferry-package-test.lock
flock -w 900 9 || fail "another package test holds /run/ferry-package-test.lock"

if dpkg-query -W -f='${Status}' ferry 2>/dev/null | grep -q "installed"; then
  fail "a ferry package is already installed; this test would replace and purge it (apt-get purge ferry first)"
fi
[ ! -e /var/lib/ferry ] || fail "/var/lib/ferry exists without the package; move it away first"
[ ! -e /etc/ferry ] || fail "/etc/ferry exists without the package; move it away first"

user_existed=0
getent passwd ferry >/dev/null && user_existed=1

tmp="$(mktemp -d /tmp/ferry-package-test.XXXXXX)"
chmod 0755 "$tmp"  # apt's _apt user reads the .deb from here
pids=()
installed=0
pg_created=""

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$tmp"/*.log; do
      [ -f "$f" ] || continue
      echo "---- $f (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
  fi
  if [ -n "$pg_created" ]; then
    psql "$FERRY_TEST_PG" -X -q -c "DROP DATABASE IF EXISTS $pg_created" >/dev/null 2>&1 || true
  fi
  if [ "$installed" = 1 ]; then
    rm -rf /etc/ferry/flows
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 ferry >/dev/null 2>&1 || true
  fi
  if [ "$user_existed" = 0 ] && getent passwd ferry >/dev/null; then
    deluser --system --quiet ferry >/dev/null 2>&1 || userdel ferry || true
    getent group ferry >/dev/null && { delgroup --system --quiet ferry >/dev/null 2>&1 || groupdel ferry || true; }
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

# Polls "$@" every 0.2 s until it succeeds or $1 seconds pass.
wait_for() {
  local seconds="$1"
  shift
  local end=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$end" ]; do
    if "$@"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

json() {  # json <file> <javascript expression on j>: prints the value
  node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]);
           const v = eval(process.argv[2]); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"
}

# ---- 1. build the package ----
say "building the package with cpack from $build"
cpack --config "$build/CPackConfig.cmake" -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1 || fail "cpack failed (see above)"
deb="$(ls "$tmp"/cpack/ferry_*.deb 2>/dev/null | head -n1)"
[ -n "$deb" ] || fail "cpack wrote no ferry_*.deb"
mv "$deb" "$tmp/"
deb="$tmp/$(basename "$deb")"
say "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
depends="$(dpkg-deb -f "$deb" Depends)"
say "Depends: $depends"
# (yaml-cpp, spdlog and fmt are linked in statically since the start-up work: not in Depends.)
for lib in libc6 libstdc++6 libpocofoundation libpocodatasqlite libpocodatapostgresql adduser procps libssl3; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" >"$tmp/contents.txt"
grep -q '^-rw------- root/root .* \./etc/ferry/ferry.env$' "$tmp/contents.txt" ||
  fail "/etc/ferry/ferry.env is not mode 0600 root:root in the package"
dpkg-deb --ctrl-tarfile "$deb" | tar -tf - >"$tmp/control.txt"
for f in conffiles postinst prerm postrm; do
  grep -q "$f" "$tmp/control.txt" || fail "the package has no $f"
done

# ---- 2. install and check ----
say "installing with apt-get"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "$deb" >"$tmp/apt-install.log" 2>&1 || fail "apt-get install failed"
installed=1
dpkg-query -W -f='${Status}' ferry | grep -q "install ok installed" || fail "ferry is not installed"

for f in /usr/bin/ferry /usr/lib/ferry/plugins/ghl.so /usr/lib/ferry/plugins/umsatzio.so \
         /usr/libexec/ferry/ferry-sandbox-ghl /usr/libexec/ferry/ferry-sandbox-umsatzio \
         /usr/include/ferry/sdk/plugin.hpp /usr/include/ferry/sdk/testing/conformance.hpp \
         /usr/lib/cmake/ferry_sdk/ferry_sdkConfig.cmake /usr/lib/cmake/ferry_sdk/FerryPlugin.cmake \
         /usr/share/ferry/flows/contact-sync.yaml /usr/share/ferry/flows/followups-to-tasks.yaml \
         /usr/share/doc/ferry/deploy.md /lib/systemd/system/ferry.service \
         /etc/ferry/ferry.yaml /etc/ferry/ferry.env; do
  [ -e "$f" ] || fail "$f was not installed"
done
conffiles="$(dpkg-query -W -f='${Conffiles}' ferry)"
for f in /etc/ferry/ferry.yaml /etc/ferry/ferry.env; do
  grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
[ "$(stat -c '%a %U' /etc/ferry/ferry.env)" = "600 root" ] || fail "/etc/ferry/ferry.env is not 0600 root"

getent passwd ferry >/dev/null || fail "postinst did not create the user ferry"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd ferry)
[ "$uid" -lt 1000 ] || fail "ferry is not a system user (uid $uid)"
[ "$home" = /var/lib/ferry ] || fail "ferry's home is $home, not /var/lib/ferry"
[ "$shell" = /usr/sbin/nologin ] || fail "ferry's shell is $shell, not /usr/sbin/nologin"
[ "$(stat -c '%a %U %G' /var/lib/ferry)" = "700 ferry ferry" ] ||
  fail "/var/lib/ferry is $(stat -c '%a %U %G' /var/lib/ferry), not 700 ferry ferry"
say "installed: files, conffiles, user ferry (uid $uid), /var/lib/ferry 0700"

# The installed binary finds its plugins with no environment at all (bundled plugin directory).
runuser -u ferry -- env -i PATH=/usr/bin:/bin HOME=/var/lib/ferry /usr/bin/ferry plugin list \
  >"$tmp/plugin-list.log" 2>&1 || fail "ferry plugin list failed as the ferry user"
for p in ghl umsatzio; do
  grep -q "$p" "$tmp/plugin-list.log" || fail "the installed ferry does not find the $p plugin"
done
grep -q "/usr/lib/ferry/plugins" "$tmp/plugin-list.log" ||
  fail "the plugins were not loaded from /usr/lib/ferry/plugins"

unit=/lib/systemd/system/ferry.service
if command -v systemd-analyze >/dev/null; then
  # Offline verification: syntax, directives, the executables named.
  systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 || fail "systemd-analyze verify $unit failed"
  if grep -i "ferry.service" "$tmp/verify.log"; then
    fail "systemd-analyze verify warned about the unit"
  fi
  say "systemd-analyze verify: ok"
else
  say "systemd-analyze is not installed: unit not verified by systemd"
fi

# ---- 3. the unit, read like systemd reads it ----
unit_value() { sed -n "s/^$1=//p" "$unit"; }
u_user="$(unit_value User)"
u_group="$(unit_value Group)"
u_workdir="$(unit_value WorkingDirectory)"
u_umask="$(unit_value UMask)"
u_state="$(unit_value StateDirectory)"
u_state_mode="$(unit_value StateDirectoryMode)"
u_envfile="$(unit_value EnvironmentFile)"
u_start="$(unit_value ExecStart)"
u_reload="$(unit_value ExecReload)"
u_kill="$(unit_value KillSignal)"
[ "$u_user" = ferry ] && [ "$u_group" = ferry ] || fail "the unit does not run as ferry:ferry"
grep -q '^NoNewPrivileges=yes$' "$unit" || fail "the unit lacks NoNewPrivileges=yes"
grep -q '^ProtectSystem=strict$' "$unit" || fail "the unit lacks ProtectSystem=strict"
grep -q '^PrivateTmp=yes$' "$unit" || fail "the unit lacks PrivateTmp=yes"
[ -n "$u_start" ] && [ -n "$u_reload" ] && [ -n "$u_state" ] || fail "the unit lacks ExecStart, ExecReload or StateDirectory"

# The config the service reads, and its environment file, edited like an admin would.
config=/etc/ferry/ferry.yaml
envfile="${u_envfile#-}"
grep -q '^  bind: 127.0.0.1$' "$config" || fail "the shipped config does not bind to 127.0.0.1"
# Port 0: the kernel picks a free one and ferry prints it (no clash with anything on 8088).
sed -i 's/^  port: 8088$/  port: 0/' "$config"

say "starting the installed sandboxes with ferry sandbox all"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- env -i PATH=/usr/bin:/bin /usr/bin/ferry sandbox all --port 0 \
  >"$tmp/sandbox.log" 2>"$tmp/sandbox-stderr.log" &
pids+=($!)
wait_for 30 grep -q '^{' "$tmp/sandbox.log" || fail "ferry sandbox all did not describe the sandboxes"
ghl_url="$(json "$tmp/sandbox.log" 'j.ghl.base_url')"
ghl_token="$(json "$tmp/sandbox.log" 'j.ghl.tokens.full.token')"
ghl_location="$(json "$tmp/sandbox.log" 'j.ghl.location_id')"
umz_url="$(json "$tmp/sandbox.log" 'j.umsatzio.base_url')"
umz_admin="$(json "$tmp/sandbox.log" 'j.umsatzio.admin_url')"
umz_key="$(json "$tmp/sandbox.log" 'j.umsatzio.api_key')"
for u in "$ghl_url" "$umz_url"; do
  case "$u" in http://127.0.0.1:*) ;; *) fail "a sandbox is not on loopback: $u" ;; esac
done
say "sandboxes: GHL $ghl_url, Umsatz-io $umz_url"

# Secrets go to the EnvironmentFile (systemd reads it at start), never into ferry.yaml.
cat >>"$envfile" <<EOF
GHL_TOKEN=$ghl_token
UMSATZIO_API_KEY=$umz_key
EOF

# The environment systemd would give: Environment= and EnvironmentFile= assignments only.
service_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
while IFS= read -r assignment; do
  service_env+=("$assignment")
done < <(unit_value Environment)
while IFS= read -r line; do
  case "$line" in '' | '#'* | ';'*) continue ;; esac
  service_env+=("$line")
done <"$envfile"

start_service() {
  # StateDirectory=: created and owned by the service user.
  install -d -m "${u_state_mode:-0755}" -o "$u_user" -g "$u_group" "/var/lib/$u_state"
  chown "$u_user:$u_group" "/var/lib/$u_state"
  read -r -a argv <<<"$u_start"
  (
    cd "$u_workdir"
    umask "$u_umask"
    exec setpriv --reuid="$u_user" --regid="$u_group" --init-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all -- env -i "${service_env[@]}" "${argv[@]}"
  ) >"$tmp/service-stdout.log" 2>"$tmp/service.log" </dev/null &
  service_pid=$!
  pids+=("$service_pid")
}

# Waits for the n-th "listening" line; sets $port.
wait_listening() {
  local n="$1"
  wait_for 60 bash -c "[ \"\$(grep -c 'ferry: listening on 127.0.0.1:' '$tmp/service.log')\" -ge $n ] || ! kill -0 $service_pid" ||
    fail "ferry did not start listening"
  kill -0 "$service_pid" 2>/dev/null || fail "ferry run exited"
  port="$(grep -o 'ferry: listening on 127.0.0.1:[0-9]*' "$tmp/service.log" | sed -n "${n}p" | sed 's/.*://')"
  [ -n "$port" ] || fail "no port in ferry's output"
}

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }

say "starting the service as the unit would: $u_start (as $u_user)"
start_service
wait_listening 1
[ "$(ps -o user= -p "$service_pid")" = "$u_user" ] || fail "ferry does not run as $u_user"
[ "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$service_pid/status")" = 1 ] || fail "ferry may gain privileges"
[ "$(http_status "http://127.0.0.1:$port/healthz")" = 200 ] || fail "/healthz did not answer 200"
wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:$port/readyz)\" = 200 ]" ||
  fail "/readyz did not answer 200 with the shipped config"
db=/var/lib/ferry/ferry.db
[ -f "$db" ] || fail "the store $db was not created"
[ "$(stat -c '%a %U' "$db")" = "600 ferry" ] || fail "$db is $(stat -c '%a %U' "$db"), not 600 ferry (UMask)"
say "shipped config: listening on 127.0.0.1:$port, /healthz and /readyz 200, store $db 0600 ferry"

# ---- 4. a flow, a reload, a webhook ----
install -d -m 0755 /etc/ferry/flows
cp /usr/share/ferry/flows/followups-to-tasks.yaml /etc/ferry/flows/
sed -i 's/^flows: \[\]$/flows:\n  - flows\/followups-to-tasks.yaml/; /^connections: {}$/d' "$config"
cat >>"$config" <<EOF
connections:
  ghl:
    plugin: ghl
    auth: private_token
    base_url: $ghl_url
    settings: {location_id: $ghl_location}
    secrets: {token: env:GHL_TOKEN}
  umsatzio:
    plugin: umsatzio
    auth: api_key
    base_url: $umz_url
    secrets: {api_key: env:UMSATZIO_API_KEY}
EOF
runuser -u ferry -- env -i "${service_env[@]}" /usr/bin/ferry flow validate --config "$config" \
  /etc/ferry/flows/followups-to-tasks.yaml >"$tmp/validate.log" 2>&1 || fail "the flow does not validate"

reload="${u_reload//\$MAINPID/$service_pid}"
say "reloading with the unit's ExecReload: $reload"
read -r -a reload_argv <<<"$reload"
"${reload_argv[@]}"
# A reload swaps the flows under the running server (same process, same port): wait for its line.
wait_for 60 bash -c "grep -q 'ferry: reloaded 1 flow(s)' '$tmp/service.log' || grep -q 'reload refused' '$tmp/service.log' || ! kill -0 $service_pid" ||
  fail "ferry did not answer the reload"
kill -0 "$service_pid" 2>/dev/null || fail "ferry run exited on the reload"
grep -q "ferry: reloaded 1 flow(s)" "$tmp/service.log" || fail "the reload did not load the flow"
wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:$port/readyz)\" = 200 ]" ||
  fail "/readyz did not answer 200 after the reload"
# The flow subscribed its webhook with Umsatz-io at start.
wait_for 30 bash -c "curl -s --max-time 5 '$umz_admin/state' | grep -q '127.0.0.1:$port/hooks/followups-to-tasks'" ||
  fail "the flow did not register its webhook with the Umsatz-io sandbox"

say "a rep logs a call with a follow-up in Umsatz-io"
contact="$(curl -sf --max-time 5 -H 'Content-Type: application/json' -X POST "$umz_admin/contact" \
  -d '{"data":{"global_contact_email":"paket.test@example.org","global_contact_first_name":"Paket","global_contact_last_name":"Test"}}')" ||
  fail "the Umsatz-io sandbox refused the contact"
contact_id="$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).id)' "$contact")"
curl -sf --max-time 5 -H 'Content-Type: application/json' -X POST "$umz_admin/call" \
  -d "{\"contactId\":\"$contact_id\",\"phoneCallResult\":\"follow_up\",\"followUpAt\":\"2026-12-01T10:00:00.000Z\",\"description\":\"Paket pruefen\"}" \
  >"$tmp/call.json" || fail "the Umsatz-io sandbox refused the call"

ghl_state() {
  curl -sf --max-time 5 "$ghl_url/_sandbox/state" >"$tmp/ghl-state.json.new" &&
    mv "$tmp/ghl-state.json.new" "$tmp/ghl-state.json"
}
task_arrived() {
  ghl_state &&
    [ "$(json "$tmp/ghl-state.json" "(j.locations['$ghl_location'] || {tasks: []}).tasks.length")" -ge 1 ]
}
wait_for 60 task_arrived || fail "no GHL task arrived; GHL state: $(cat "$tmp/ghl-state.json" 2>/dev/null | head -c 2000)"
# Let ferry drain, then check there is exactly one task and one contact, as the flow says.
wait_for 30 bash -c "curl -s --max-time 5 http://127.0.0.1:$port/metrics | grep -q '^ferry_queue_depth 0'" ||
  fail "ferry's queue did not drain"
ghl_state
tasks="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].tasks.length")"
contacts="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].contacts.length")"
title="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].tasks[0].title")"
due="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].tasks[0].dueDate")"
[ "$tasks" = 1 ] || fail "expected 1 GHL task, found $tasks"
[ "$contacts" = 1 ] || fail "expected 1 GHL contact, found $contacts"
[ "$title" = "Rückruf: Paket Test" ] || fail "unexpected task title '$title'"
[ "$due" = "2026-12-01T10:00:00Z" ] || fail "unexpected due date '$due'"
runuser -u ferry -- env -i "${service_env[@]}" /usr/bin/ferry runs list --config "$config" \
  >"$tmp/runs.log" 2>&1 || fail "ferry runs list failed as the ferry user"
grep -q "followups-to-tasks" "$tmp/runs.log" || fail "ferry runs list does not show the run"
say "webhook -> ferry -> GHL: 1 contact, 1 task '$title' due $due; the run is in the store"

# The online backup deploy.md describes, taken while the service runs (WAL mode).
sqlite3 "$db" ".backup '$tmp/backup.db'" || fail "the online backup of $db failed"
[ "$(sqlite3 "$tmp/backup.db" 'PRAGMA integrity_check')" = ok ] || fail "the backup is not intact"
backup_runs="$(sqlite3 "$tmp/backup.db" 'SELECT COUNT(*) FROM runs')"
[ "$backup_runs" -ge 1 ] || fail "the backup has no runs"
say "online backup: intact, $backup_runs run(s)"

stop_service() {
  say "stopping the service with $u_kill"
  kill "-${u_kill#SIG}" "$service_pid"
  stopped() { ! kill -0 "$service_pid" 2>/dev/null; }
  wait_for 60 stopped || fail "ferry did not stop within 60 s of $u_kill"
  local status=0
  wait "$service_pid" || status=$?
  [ "$status" = 0 ] || fail "ferry exited with status $status on $u_kill"
  cat "$tmp/service-stdout.log" "$tmp/service.log" | grep -q "Stopping: draining work." ||
    fail "ferry did not log its drain on $u_kill"
}
stop_service

# An upgrade (the same package again): postinst runs with the old version, the admin's edits of
# the conffiles and the state in /var/lib/ferry stay.
say "upgrading (reinstalling) the package"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >"$tmp/upgrade.log" 2>&1 || fail "dpkg -i over the installed package failed"
grep -q "flows/followups-to-tasks.yaml" "$config" || fail "the upgrade replaced the edited $config"
grep -q "^GHL_TOKEN=" "$envfile" || fail "the upgrade replaced the edited $envfile"
[ "$(stat -c '%a %U' "$envfile")" = "600 root" ] || fail "$envfile is not 0600 root after the upgrade"
[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM runs')" = 1 ] || fail "the store lost its run in the upgrade"

# ---- 5. moving the store to PostgreSQL (deploy.md), when a server is at hand ----
if [ -n "${FERRY_TEST_PG:-}" ] && command -v psql >/dev/null; then
  pg_db="ferry_package_test_$$"
  psql "$FERRY_TEST_PG" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null ||
    fail "cannot create the database $pg_db"
  pg_created="$pg_db"
  if grep -q 'dbname=' <<<"$FERRY_TEST_PG"; then
    pg_conninfo="$(sed "s/dbname=[^ ]*/dbname=$pg_db/" <<<"$FERRY_TEST_PG")"
  else
    pg_conninfo="$FERRY_TEST_PG dbname=$pg_db"
  fi
  say "moving the store to PostgreSQL ($pg_db)"
  runuser -u ferry -- env -i "${service_env[@]}" /usr/bin/ferry runs list --store "postgres:$pg_conninfo" \
    >"$tmp/pg-create.log" 2>&1 || fail "ferry could not create the PostgreSQL store"
  /usr/libexec/ferry/ferry-store-to-postgres "$db" "$pg_conninfo" >"$tmp/store-copy.log" 2>&1 ||
    fail "ferry-store-to-postgres failed"
  # Every table arrived whole; the correlations (contact and task) are what prevents duplicates.
  while IFS=': ' read -r table rows _; do
    [ "$rows" = "$(sqlite3 "$db" "SELECT COUNT(*) FROM \"$table\"")" ] ||
      fail "table $table: $rows rows in PostgreSQL, not as many as in SQLite"
  done < <(grep ' rows$' "$tmp/store-copy.log")
  grep -q "^correlations: 2 rows$" "$tmp/store-copy.log" || fail "the 2 correlations were not copied"
  sed -i "s|^state_dir: /var/lib/ferry$|&\nstore: \"postgres:$pg_conninfo\"|" "$config"
  grep -q '^store: "postgres:' "$config" || fail "could not point ferry.yaml at PostgreSQL"
  start_service
  wait_listening 1
  wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:$port/readyz)\" = 200 ]" ||
    fail "/readyz did not answer 200 on PostgreSQL"
  runuser -u ferry -- env -i "${service_env[@]}" /usr/bin/ferry runs list --config "$config" \
    >"$tmp/pg-runs.log" 2>&1 || fail "ferry runs list failed on PostgreSQL"
  grep -q "followups-to-tasks" "$tmp/pg-runs.log" || fail "the copied run is not in PostgreSQL"
  wait_for 30 bash -c "curl -s --max-time 5 '$umz_admin/state' | grep -q '127.0.0.1:$port/hooks/followups-to-tasks'" ||
    fail "the flow did not register its webhook on the new port"
  curl -sf --max-time 5 -H 'Content-Type: application/json' -X POST "$umz_admin/call" \
    -d "{\"contactId\":\"$contact_id\",\"phoneCallResult\":\"follow_up\",\"followUpAt\":\"2026-12-02T09:00:00.000Z\",\"description\":\"Zweiter Anruf\"}" \
    >/dev/null || fail "the Umsatz-io sandbox refused the second call"
  two_tasks() {
    ghl_state && [ "$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].tasks.length")" -ge 2 ]
  }
  wait_for 60 two_tasks || fail "the second call did not become a GHL task on PostgreSQL"
  wait_for 30 bash -c "curl -s --max-time 5 http://127.0.0.1:$port/metrics | grep -q '^ferry_queue_depth 0'" ||
    fail "ferry's queue did not drain on PostgreSQL"
  ghl_state
  tasks="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].tasks.length")"
  contacts="$(json "$tmp/ghl-state.json" "j.locations['$ghl_location'].contacts.length")"
  [ "$tasks" = 2 ] || fail "expected 2 GHL tasks after the move, found $tasks"
  [ "$contacts" = 1 ] || fail "expected 1 GHL contact after the move, found $contacts"
  # The copied correlation answered "which GHL contact": the upsert step was skipped, and the
  # id sequences continued after the copied rows.
  last_run="$(psql "$pg_conninfo" -X -Atc 'SELECT MAX(id) FROM runs')"
  [ "$last_run" = 2 ] || fail "the second run has id $last_run, not 2 (id sequence not continued)"
  contact_step="$(psql "$pg_conninfo" -X -Atc "SELECT status FROM run_steps WHERE run_id = 2 AND step_id = 'contact'")"
  [ "$contact_step" = skipped ] || fail "the contact step was '$contact_step', not skipped: the correlation was not used"
  say "PostgreSQL: the copied store serves; a second call became the second task, still 1 contact"
  stop_service
else
  say "FERRY_TEST_PG is not set (or psql missing): the PostgreSQL move is not tested"
fi

# ---- 6. purge ----

rm -rf /etc/ferry/flows
say "purging the package"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 ferry \
  >"$tmp/apt-purge.log" 2>&1 || fail "apt-get purge failed"
installed=0
for f in /usr/bin/ferry /usr/lib/ferry /usr/libexec/ferry /usr/include/ferry /lib/systemd/system/ferry.service \
         /etc/ferry /var/lib/ferry; do
  [ ! -e "$f" ] || fail "$f is still there after the purge"
done
say "ok: package built, installed, served, reloaded, stopped and purged"
