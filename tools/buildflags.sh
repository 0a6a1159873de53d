#!/bin/sh
# Prints the compiler flags of one dependency, for the Makefile.
# usage: tools/buildflags.sh lua-cflags LUA | curl-cflags | curl-libs
# LuaRocks-style overrides win: LUA_INCDIR, CURL_INCDIR, CURL_LIBDIR. Otherwise pkg-config,
# under the names distributions give the .pc files; otherwise the usual include directories,
# or nothing (the compiler's own search path, as for /usr/include/lua.h). tools/probe.sh then
# says what is missing, if anything is.
set -u
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
pc() { command -v "$PKG_CONFIG" >/dev/null 2>&1 && "$PKG_CONFIG" --exists "$1" 2>/dev/null; }
case "${1:-}" in
  lua-cflags)
    lua=${2:-lua5.4}
    if [ -n "${LUA_INCDIR:-}" ]; then echo "-I$LUA_INCDIR"; exit 0; fi
    case "$lua" in
      luajit) names="luajit"; dirs="/usr/include/luajit-2.1 /usr/local/include/luajit-2.1 /opt/homebrew/include/luajit-2.1" ;;
      lua5.*) v=${lua#lua}; vv=$(echo "$v" | tr -d .)
        names="lua$v lua-$v lua$vv"
        dirs="/usr/include/lua$v /usr/local/include/lua$v /usr/include/lua$vv /usr/local/include/lua-$v /opt/homebrew/include/lua$v /opt/homebrew/opt/lua@$v/include/lua$v" ;;
      *) names="$lua"; dirs="" ;;
    esac
    for n in $names; do
      if pc "$n"; then "$PKG_CONFIG" --cflags "$n"; exit 0; fi
    done
    # A plain "lua" .pc file (Fedora, Arch, Homebrew) when its version is the one asked for.
    case "$lua" in lua5.*)
      if pc lua && [ "$("$PKG_CONFIG" --modversion lua 2>/dev/null | cut -d. -f1,2)" = "${lua#lua}" ]; then
        "$PKG_CONFIG" --cflags lua; exit 0
      fi ;;
    esac
    for d in $dirs; do
      if [ -f "$d/lua.h" ]; then echo "-I$d"; exit 0; fi
    done
    echo "" ;;
  curl-cflags)
    if [ -n "${CURL_INCDIR:-}" ]; then echo "-I$CURL_INCDIR"
    elif pc libcurl; then "$PKG_CONFIG" --cflags libcurl
    else echo ""; fi ;;
  curl-libs)
    if [ -n "${CURL_LIBDIR:-}" ]; then echo "-L$CURL_LIBDIR -lcurl"
    elif pc libcurl; then "$PKG_CONFIG" --libs libcurl
    else echo "-lcurl"; fi ;;
  *) echo "usage: $0 lua-cflags LUA | curl-cflags | curl-libs" >&2; exit 2 ;;
esac
