#!/bin/sh
# make windows-test: the busted specs under wine with LuaJIT for Windows, the cross-built
# core.dll and libcurl (Schannel), against the mock running on Linux's loopback (started here,
# its URLs handed in through AIMLMUSIC_MOCK_URLS; one mock for the whole run, as mockctl keeps
# one per run on Linux). The specs' shell commands run in the host's /bin/sh
# (tools/windows/lua/posix_shell.lua); a spec that needs a POSIX-only tool is tagged #posix and
# skipped here, listed with its reason. Then the specs tagged #windows run on Linux, driving
# wine themselves (the zip of make windows-dist in a fresh prefix). Prints the count of specs run.
# usage: tools/windows/test.sh [BUSTED_ARGS...]   (make windows-test; HOST_LUA runs the mock)
set -eu
root=$(pwd)
toolchain=$(tools/windows/toolchain.sh)
host_lua=${HOST_LUA:-lua5.4}
export WIN_TOOLCHAIN="$toolchain"
export WINEPREFIX="${WIN_TEST_PREFIX:-$toolchain/wine-prefix}"
dll=build/windows/aimlmusic/core.dll
[ -f "$dll" ] || { echo "windows-test: $dll is missing (make windows)" >&2; exit 1; }

work=$(mktemp -d)
mock_pid=""
cleanup() {
  [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The mock on Linux, on loopback, with the core built for its interpreter (its JSON is the
# core's): it stops when its stdin closes, which tail does when this script ends however it
# ends, and by itself after an hour at most.
make --no-print-directory build LUA="$host_lua" >/dev/null
tail -f /dev/null --pid=$$ | LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;;" LUA_CPATH="$root/build/$host_lua/?.so;;" "$host_lua" \
  bin/aimlmusic-mock --port 0 --port-file "$work/port" --watch-stdin --duration 0.3 \
  --max-lifetime 3600 >/dev/null 2>"$work/mock.log" &
mock_pid=$!
i=0
while [ ! -s "$work/port" ]; do
  i=$((i + 1))
  [ $i -lt 500 ] || { cat "$work/mock.log" >&2; echo "windows-test: the mock did not start" >&2; exit 1; }
  sleep 0.02
done
export AIMLMUSIC_MOCK_URLS="$(cat "$work/port")"

# Each tagged spec: its file and line, its name, and the reason on the comment line above it.
echo "windows-test: uv_spec.lua and cqueues_spec.lua are not loaded: they require luv and cqueues as they load"
echo "windows-test: skipped under wine (tagged #posix: they need a POSIX-only tool):"
awk '/-- #posix: / { why = $0; sub(/.*-- #posix: /, "", why); next }
  /#posix"/ { name = $0; sub(/^[^"]*"/, "", name); sub(/ #posix".*/, "", name);
    if (name ~ /"/) name = "the cases named in code there";
    printf "  %s:%d: %s (%s)\n", FILENAME, FNR, name, why }' spec/*_spec.lua

export LUA_PATH="./lua/?.lua;./lua/?/init.lua;./spec/?.lua;$root/tools/windows/lua/?.lua;$toolchain/test/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;"
export LUA_CPATH="$root/build/windows/?.dll;$toolchain/bin/?.dll;$toolchain/test/?.dll;;"
export AIMLMUSIC_TEST_LUA="$root/tools/windows/luajit.sh"
# mockctl gives the mock its own LUA_CPATH (the host build of the core), never this one
export AIMLMUSIC_MOCK_LUA="$host_lua"
start=$(date +%s)
status=0
tools/windows/wine.sh "$toolchain/bin/luajit.exe" tools/windows/busted.lua \
  --helper=tools/windows/lua/posix_shell.lua --exclude-tags=posix,windows \
  --exclude-pattern=uv_spec --exclude-pattern=cqueues_spec "$@" | tee "$work/out" || status=$?

# The count of specs run from busted's closing line in $1; sets passed and failed.
count() {
  summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
  [ -n "$summary" ] || { echo "windows-test: busted gave no summary (exit $status)" >&2; exit 1; }
  passed=${summary%% passed*}
  rest=${summary#*passed, }
  failed=${rest%% failed*}
}
count "$work/out"
wine_passed=$passed wine_failed=$failed
echo "windows-test: $((passed + failed)) specs run under wine in $(($(date +%s) - start)) s: $summary"

# The specs tagged #windows run on Linux and drive wine themselves: the zip of make windows-dist
# in a fresh prefix.
zip=$(ls build/windows/aimlmusic-*-windows-x64.zip 2>/dev/null | tail -n 1)
[ -n "$zip" ] || { echo "windows-test: no build/windows/aimlmusic-*-windows-x64.zip (make windows-dist)" >&2; exit 1; }
start=$(date +%s)
status=0
env -u AIMLMUSIC_MOCK_URLS -u AIMLMUSIC_MOCK_LUA LUA_PATH="./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;" \
  LUA_CPATH="./build/$host_lua/?.so;;" AIMLMUSIC_TEST_LUA="$host_lua" AIMLMUSIC_WIN_DIST="$root/$zip" \
  "$host_lua" /usr/bin/busted --tags=windows spec/windows_dist_spec.lua | tee "$work/out2" || status=$?
count "$work/out2"
echo "windows-test: $((passed + failed)) specs run on Linux driving wine in $(($(date +%s) - start)) s: $summary"
passed=$((passed + wine_passed)) failed=$((failed + wine_failed))
echo "windows-test: $((passed + failed)) specs run in all: $passed passed, $failed failed"
[ "$failed" = 0 ]
