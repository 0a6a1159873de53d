#!/bin/sh
# Checks, before compiling, that the compiler finds what the core needs, and names exactly
# what is missing: a compiler, a header (lua.h, curl/curl.h) or a library (libcurl).
# usage: CC=cc LUA=lua5.4 LUA_CFLAGS=... CURL_CFLAGS=... CURL_LIBS=... tools/probe.sh
set -u
CC=${CC:-cc}
LUA=${LUA:-lua5.4}
tmp=$(mktemp -d 2>/dev/null || mktemp -d -t aimlmusic)
trap 'rm -rf "$tmp"' EXIT
fail=0
say() { echo "build: $*" >&2; }
case "$LUA" in
  luajit) hint_lua="LuaJIT's headers (Debian: libluajit-5.1-dev; Fedora: luajit-devel; Arch: luajit; Homebrew: luajit)" ;;
  *) hint_lua="the headers of Lua ${LUA#lua} (Debian: lib$LUA-dev; Fedora: lua-devel; Arch: lua; Homebrew: lua)" ;;
esac
if ! command -v "$CC" >/dev/null 2>&1; then
  say "no C compiler: '$CC' is not on PATH (install gcc or clang, or set CC=)"
  exit 1
fi
printf '#include <lua.h>\n#include <lauxlib.h>\nint main(void) { return LUA_VERSION_NUM; }\n' >"$tmp/lua.c"
# shellcheck disable=SC2086
if ! "$CC" ${LUA_CFLAGS:-} -c -o "$tmp/lua.o" "$tmp/lua.c" >"$tmp/err" 2>&1; then
  say "header lua.h (or lauxlib.h) not found for LUA=$LUA with flags '${LUA_CFLAGS:-}'"
  say "  install $hint_lua, or point LUA_INCDIR= at the directory holding lua.h"
  fail=1
elif [ "$LUA" != luajit ]; then
  want=$(echo "${LUA#lua}" | awk -F. '{ print $1 * 100 + $2 }')
  printf '#include <lua.h>\n#if LUA_VERSION_NUM != %s\n#error lua.h is not Lua %s\n#endif\n' "$want" "${LUA#lua}" >"$tmp/ver.c"
  # shellcheck disable=SC2086
  if ! "$CC" ${LUA_CFLAGS:-} -c -o "$tmp/ver.o" "$tmp/ver.c" >/dev/null 2>&1; then
    say "the lua.h found (flags '${LUA_CFLAGS:-}') is not Lua ${LUA#lua}'s: point LUA_INCDIR= at the right one"
    fail=1
  fi
fi
printf '#include <curl/curl.h>\nint main(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK; }\n' >"$tmp/curl.c"
# shellcheck disable=SC2086
if ! "$CC" ${CURL_CFLAGS:-} -c -o "$tmp/curl.o" "$tmp/curl.c" >"$tmp/err" 2>&1; then
  say "header curl/curl.h not found with flags '${CURL_CFLAGS:-}'"
  say "  install libcurl's development files (Debian: libcurl4-openssl-dev; Fedora: libcurl-devel; Arch: curl; Homebrew: curl), or set CURL_INCDIR="
  fail=1
elif ! "$CC" -o "$tmp/curl" "$tmp/curl.o" ${CURL_LIBS:--lcurl} >"$tmp/err" 2>&1; then
  say "library libcurl not found with '${CURL_LIBS:--lcurl}' (set CURL_LIBDIR= to the directory holding libcurl)"
  fail=1
fi
exit $fail
