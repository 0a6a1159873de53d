#!/bin/sh
# Installs the Debian packages a make target needs, when they are missing.
# As root it runs apt-get itself; otherwise it prints the one line to run and fails.
# Where there is no apt (and dpkg), it does nothing: the build uses what is there and
# tools/probe.sh names what is missing, if anything is.
# usage: tools/deps.sh LUA WHAT...   (LUA: lua5.1..lua5.4 or luajit; WHAT: build test demo lint format analyze docs asan valgrind tsan rock fuzz love windows)
set -eu
lua=${1:-lua5.4}
shift || true
case "$lua" in
  luajit) runtime="luajit libluajit-5.1-dev" ;;
  lua5.1) runtime="lua5.1 liblua5.1-0-dev" ;;
  lua5.2|lua5.3|lua5.4) runtime="$lua lib$lua-dev" ;;
  *) echo "deps: unknown LUA=$lua (use lua5.1, lua5.2, lua5.3, lua5.4 or luajit)" >&2; exit 2 ;;
esac
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  exit 0
fi
# What the spec suite runs: the mock (luv), LuaSocket, TLS peers (openssl, nginx, and Python's h2 for
# the scripted HTTP/2 server), Neovim, LÖVE, script(1), strace, man(1) for the man page,
# and for the install specs zip, LuaRocks, nm, git and luacheck; lua-cjson, the reference the
# JSON specs hold the core's own codec to.
suite="lua-cjson lua-busted lua-luv lua-socket openssl nginx-light python3 python3-h2 neovim love luajit libluajit-5.1-dev bsdutils strace zip luarocks binutils git lua-check lua-cqueues lua-copas lua-lgi man-db"
build="gcc make pkg-config libc6-dev libcurl4-openssl-dev ca-certificates $runtime"
# The docs spec runs make docs: LDoc, and Discount for its Markdown.
suite="$suite lua-ldoc lua-discount"
# LuaRocks does its file operations in-process with these; without them it runs a chmod or an
# md5sum process per file it installs (seconds per make rock in the install specs).
suite="$suite lua-posix lua-md5"
pkgs=""
for what in "$@"; do
  case "$what" in
    lint) pkgs="$pkgs lua-check"; continue ;;
    format) pkgs="$pkgs clang-format ${runtime%% *}"; continue ;;
  esac
  pkgs="$pkgs $build"
  case "$what" in
    build) ;;
    test) pkgs="$pkgs $suite" ;;
    demo) pkgs="$pkgs lua-luv file" ;;
    docs) pkgs="$pkgs lua-ldoc lua-discount" ;;
    asan) pkgs="$pkgs $suite libasan8 libubsan1" ;;
    valgrind) pkgs="$pkgs $suite valgrind" ;;
    rock) pkgs="$pkgs luarocks lua-busted binutils" ;;
    love) pkgs="$pkgs luajit libluajit-5.1-dev" ;;
    fuzz) pkgs="$pkgs clang libclang-rt-14-dev lua5.4 liblua5.4-dev" ;;
    tsan) pkgs="$pkgs lua5.4 liblua5.4-dev lua-luv lua-socket libtsan2" ;;
    analyze) pkgs="$pkgs clang-tidy mingw-w64-x86-64-dev libluajit-5.1-dev" ;;
    windows) pkgs="$pkgs gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev libluajit-5.1-dev wine wine64 dpkg-dev xz-utils lua-busted lua-luv lua-socket zip unzip" ;;
    *) echo "deps: unknown target $what" >&2; exit 2 ;;
  esac
done
# One dpkg-query for all (a process per package took a second or two of every make test).
# shellcheck disable=SC2086
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null |
  awk '$2 == "install" && $3 == "ok" && $4 == "installed" { printf "%s ", $1 }')"
missing=""
for p in $pkgs; do
  case " $missing " in *" $p "*) continue ;; esac
  case "$installed" in *" $p "*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "Missing Debian packages. Run this, then make again:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
