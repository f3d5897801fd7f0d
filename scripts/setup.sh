#!/usr/bin/env bash
# Installs every Debian package ferry needs to build, test and run its demo (clang and its
# compiler-rt for the libFuzzer targets, openssl for the TLS tests' certificates).
# Idempotent: packages already present are left as they are.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libpoco-dev libboost-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  nlohmann-json3-dev libssl-dev libsqlite3-dev libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql postgresql-client sqlite3 curl procps adduser
  prometheus
  clang libclang-rt-14-dev openssl
)
# prometheus brings promtool, which checks docs/prometheus/ferry-rules.yml and the live /metrics
# in tests. The package also ships the Prometheus server: it is kept from starting (below).
# Node.js runs the official GHL SDK in a contract test. Some images ship a Node.js that
# bundles npm and conflicts with Debian's npm package: only ask apt for what is missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed."
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -o DPkg::Lock::Timeout=300 -qq
# No service may start during the install (the Prometheus server above): a policy-rc.d that
# refuses every start, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
status=0
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "${missing[@]}" || status=$?
if [ "$own_policy" -eq 1 ]; then $sudo rm -f "$policy"; fi
# Under systemd the unit would still be enabled for the next boot: ferry only needs promtool.
if [ -d /run/systemd/system ] && systemctl list-unit-files prometheus.service >/dev/null 2>&1; then
  $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
exit "$status"
