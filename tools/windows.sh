#!/bin/sh
# Cross-builds build/windows/aimlmusic/core.dll with mingw-w64, for LuaJIT's lua51.dll (LÖVE,
# LuaJIT for Windows) and libcurl (WIN_CURL_DLL: libcurl-x64.dll, the name in curl's own
# Windows build at curl.se/windows; libcurl-4.dll for MSYS2's). The import libraries come from
# tools/windows/*.def through dlltool; the headers are the host's LuaJIT and libcurl ones,
# copied alone so that no other Linux header is seen (curl's headers handle __MINGW32__).
# Then checks that the DLL exports luaopen_aimlmusic_core and nothing else.
# usage: tools/windows.sh   (make windows; LUA_CFLAGS and CURL_CFLAGS name the host's headers)
set -eu
host_cc=${CC:-cc}
prefix=${WIN_PREFIX:-x86_64-w64-mingw32-}
curl_dll=${WIN_CURL_DLL:-}
[ -n "$curl_dll" ] || curl_dll=libcurl-x64.dll
out=build/windows
inc=$out/include
lib=$out/lib
dll=$out/aimlmusic/core.dll

# The directory holding header $1, as the host compiler finds it with flags $2.
header_dir() {
  # shellcheck disable=SC2086
  path=$(printf '#include <%s>\n' "$1" | "$host_cc" $2 -M -x c - 2>/dev/null | tr ' \\' '\n\n' |
    grep "/$1\$" | head -n 1)
  [ -n "$path" ] || { echo "windows: $1 not found (flags: $2)" >&2; exit 1; }
  dirname "$path"
}

rm -rf "$inc" "$lib"
mkdir -p "$inc/curl" "$lib" "$(dirname "$dll")"
lua_dir=$(header_dir lua.h "${LUA_CFLAGS:-}")
for h in lua.h luaconf.h lauxlib.h lualib.h luajit.h; do
  [ -f "$lua_dir/$h" ] && cp "$lua_dir/$h" "$inc/"
done
curl_dir=$(header_dir curl/curl.h "${CURL_CFLAGS:-}")
cp "$curl_dir"/*.h "$inc/curl/"

"${prefix}dlltool" -d tools/windows/lua51.def -D lua51.dll -l "$lib/liblua51.a"
"${prefix}dlltool" -d tools/windows/libcurl.def -D "$curl_dll" -l "$lib/libcurl.a"

# Every file is compiled: platform_posix.c is empty here, as platform_win32.c is elsewhere.
# shellcheck disable=SC2086
"${prefix}gcc" -std=c99 -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -O2 -I"$inc" -shared -static-libgcc -o "$dll" src/*.c -L"$lib" -llua51 -lcurl -lws2_32
echo "windows: built $dll (for lua51.dll and $curl_dll)"

# The export table: luaopen_aimlmusic_core alone.
exports=$("${prefix}objdump" -p "$dll" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' |
  sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p')
if [ "$exports" != "luaopen_aimlmusic_core" ]; then
  echo "windows: $dll must export luaopen_aimlmusic_core alone; it exports:" >&2
  echo "$exports" >&2
  exit 1
fi
echo "windows: exports luaopen_aimlmusic_core alone"
echo "windows: imports $("${prefix}objdump" -p "$dll" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '\n' ' ')"
