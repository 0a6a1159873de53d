#!/bin/sh
# Static analysis of src/*.c with clang-tidy: the checks .clang-tidy names (the clang static
# analyser's, bugprone, concurrency, cert, misc), any finding an error. Twice: with the build's
# flags on this system's headers, then for Windows (mingw-w64's headers, LuaJIT's and libcurl's
# copied alone as tools/windows.sh does), where platform_win32.c is the half that is not empty.
# scan-build is not run: it is the same analyser as the clang-analyzer-* checks, and finds nothing
# they do not.
# usage: CFLAGS='the build flags' WIN_LUA_CFLAGS='-I...luajit' CURL_CFLAGS='...' tools/analyze.sh
set -eu
tidy=${CLANG_TIDY:-clang-tidy}
host_cc=${CC:-cc}
win_sysroot=${WIN_SYSROOT:-/usr/x86_64-w64-mingw32}
inc=build/analyze/windows/include
command -v "$tidy" >/dev/null 2>&1 || { echo "analyze: $tidy is not on PATH (Debian: apt-get install clang-tidy)" >&2; exit 1; }

echo "analyze: $("$tidy" --version | sed -n 's/.*LLVM version \([0-9.]*\).*/clang-tidy \1/p'), src/*.c with the build's flags"
log=build/analyze/clang-tidy.log
mkdir -p build/analyze
status=0
# clang-tidy's findings, without clang's count of the warnings it hid in system headers.
show() { grep -v '^[0-9]* warnings\{0,1\} generated\.$' "$log" || :; }
# shellcheck disable=SC2086
"$tidy" --quiet src/*.c -- ${CFLAGS:-} -Wthread-safety >"$log" 2>&1 || status=1
show

if [ ! -f "$win_sysroot/include/windows.h" ]; then
  echo "analyze: no mingw-w64 headers in $win_sysroot/include: the Windows half is not analysed" >&2
  exit 1
fi
# The directory holding header $1, as the host compiler finds it with flags $2.
header_dir() {
  # shellcheck disable=SC2086
  path=$(printf '#include <%s>\n' "$1" | "$host_cc" $2 -M -x c - 2>/dev/null | tr ' \\' '\n\n' |
    grep "/$1\$" | head -n 1)
  [ -n "$path" ] || { echo "analyze: $1 not found (flags: $2)" >&2; exit 1; }
  dirname "$path"
}
rm -rf "$inc"
mkdir -p "$inc/curl"
lua_dir=$(header_dir lua.h "${WIN_LUA_CFLAGS:-}")
for h in lua.h luaconf.h lauxlib.h lualib.h luajit.h; do
  [ -f "$lua_dir/$h" ] && cp "$lua_dir/$h" "$inc/"
done
curl_dir=$(header_dir curl/curl.h "${CURL_CFLAGS:-}")
cp "$curl_dir"/*.h "$inc/curl/"
echo "analyze: src/*.c for Windows (x86_64-w64-mingw32)"
# misc-redundant-expression is left to the first pass: here the flags POSIX has and Windows
# lacks are 0 (platform.h), so O_RDWR | O_NOFOLLOW | O_NONBLOCK reads as "x | 0 | 0".
"$tidy" --quiet --checks=-misc-redundant-expression src/*.c -- --target=x86_64-w64-mingw32 -nostdlibinc \
  -isystem "$win_sysroot/include" -std=c99 -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
  -Wmissing-prototypes -Wthread-safety -O2 -I"$inc" >"$log" 2>&1 || status=1
show
[ "$status" -eq 0 ] && echo "analyze: no finding"
exit "$status"
