#!/usr/bin/env bash
# Installs ferry into a temporary prefix, builds the tutorial's plugin out of tree against it
# (find_package(ferry_sdk)), runs the plugin's conformance test, installs the plugin with the
# installed `ferry plugin install` and checks that the catalog shows its operation.
# Usage: install_test.sh <ferry build dir> <example source dir>
set -euo pipefail
build="$1"
example="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

step() { echo "== $*"; }
fail() { echo "install_test: error: $*" >&2; exit 1; }

step "cmake --install into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
test -x "$tmp/prefix/bin/ferry" || fail "bin/ferry was not installed"
test -f "$tmp/prefix/include/ferry/sdk/plugin.hpp" || fail "the SDK headers were not installed"
test -f "$tmp/prefix/lib/cmake/ferry_sdk/ferry_sdkConfig.cmake" || fail "the CMake package was not installed"

step "configure and build the example out of tree"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the temporary directory, so that the next run hits the cache.
  export CCACHE_BASEDIR="$tmp" CCACHE_NOHASHDIR=1
fi
cmake -S "$example" -B "$tmp/example" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${launcher[@]}" >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; fail "configuring the example failed"; }
cmake --build "$tmp/example" -j2 >"$tmp/build.log" || { cat "$tmp/build.log"; fail "building the example failed"; }
test -f "$tmp/example/hello.so" || fail "hello.so was not built"

if [ -x "$tmp/example/hello_test" ]; then
  step "the example's conformance test"
  "$tmp/example/hello_test" --gtest_brief=1 || fail "the example's conformance test failed"
fi

ferry=("env" "-u" "FERRY_PLUGIN_PATH" "-u" "XDG_DATA_HOME" "FERRY_HOME=$tmp/home" "$tmp/prefix/bin/ferry")

step "ferry plugin install"
"${ferry[@]}" plugin install "$tmp/example/hello.so" || fail "ferry plugin install refused the example"
test -f "$tmp/home/plugins/hello.so" || fail "hello.so is not in the user plugin directory"
grep -q '"id": "hello"' "$tmp/home/plugins/plugins.lock.json" || fail "the lock file does not list hello"

step "ferry catalog list shows the operation"
out="$("${ferry[@]}" catalog list)"
echo "$out"
grep -q '^hello.greeting.send  *action  *greetings.write  *Send a greeting to someone$' <<<"$out" \
  || fail "ferry catalog list does not show hello.greeting.send"

step "ferry plugin list shows where it comes from"
out="$("${ferry[@]}" plugin list)"
echo "$out"
grep -q "^hello .* user .*$tmp/home/plugins/hello.so" <<<"$out" || fail "plugin list does not show the user install"

step "the installed plugins beside the binary are found"
for so in "$tmp"/prefix/lib/ferry/plugins/*.so; do
  [ -e "$so" ] || continue
  id="$(basename "$so" .so)"
  "${ferry[@]}" plugin list | grep -q "bundled .*$so" || fail "$so is not loaded from the install"
done

step "ferry plugin remove"
"${ferry[@]}" plugin remove hello
if "${ferry[@]}" catalog list | grep -q hello.greeting.send; then fail "hello is still listed"; fi
echo "install_test: ok"
