#!/bin/sh
# make windows-dist: Windows without a compiler. Writes build/windows/aimlmusic-<version>-windows-x64/
# and its .zip: luajit.exe, lua51.dll, libcurl-x64.dll and aimlmusic/core.dll beside
# each other (LuaJIT for Windows finds C modules beside its executable, Lua modules in lua\),
# the Lua modules in lua\ (with lua\aimlmusic\core.dll again, where Neovim's runtimepath loader
# looks), plugin\ and doc\ (the folder is a Neovim plugin), bin\aimlmusic (the command line),
# aimlmusic.cmd that runs it, and licenses\ with the notice of everything bundled.
# usage: tools/windows/dist.sh   (after make windows)
set -eu
toolchain=$(tools/windows/toolchain.sh)
version=$(sed -n 's/^ *_VERSION = "aimlmusic \([^"]*\)".*/\1/p' lua/aimlmusic.lua)
[ -n "$version" ] || { echo "windows-dist: no _VERSION in lua/aimlmusic.lua" >&2; exit 1; }
name=aimlmusic-$version-windows-x64
out=build/windows/$name
dll=build/windows/aimlmusic/core.dll
[ -f "$dll" ] || { echo "windows-dist: $dll is missing (make windows)" >&2; exit 1; }

rm -rf "$out" "$out.zip"
mkdir -p "$out/aimlmusic" "$out/lua" "$out/bin" "$out/licenses"
cp "$toolchain/bin/luajit.exe" "$toolchain/bin/lua51.dll" "$toolchain/bin/libcurl-x64.dll" "$out/"
cp "$dll" "$out/aimlmusic/core.dll"
(cd lua && find . -name '*.lua' -exec cp --parents {} "../$out/lua/" \;)
cp "$dll" "$out/lua/aimlmusic/core.dll"
cp -r plugin doc "$out/"
cp bin/aimlmusic "$out/bin/aimlmusic"
cp "$toolchain/bin/licenses/LuaJIT.txt" "$toolchain/bin/licenses/curl.txt" "$out/licenses/"
cp LICENSE "$out/licenses/aimlmusic.txt"
# The mingw-w64 runtime start-up code is linked into every DLL and the executable.
[ ! -f /usr/share/doc/mingw-w64-common/copyright ] || cp /usr/share/doc/mingw-w64-common/copyright "$out/licenses/mingw-w64.txt"
# CRLF line ends: cmd.exe reads a batch file with LF ends too, but not every editor shows it.
printf '%s\r\n' '@echo off' \
  'rem aimlmusic: the command line (aimlmusic --help). Runs with the LuaJIT beside this file.' \
  'setlocal' \
  'set "AIMLMUSIC_HOME=%~dp0"' \
  'set "LUA_PATH=%AIMLMUSIC_HOME%lua\?.lua;%AIMLMUSIC_HOME%lua\?\init.lua"' \
  'set "LUA_CPATH=%AIMLMUSIC_HOME%?.dll"' \
  '"%AIMLMUSIC_HOME%luajit.exe" "%AIMLMUSIC_HOME%bin\aimlmusic" %*' \
  'exit /b %ERRORLEVEL%' >"$out/aimlmusic.cmd"
printf '%s\r\n' "aimlmusic $version for Windows x64: see doc/install.md of the project, section Windows." \
  "" \
  "The command line:  aimlmusic.cmd generate -p PROMPT -l LYRICS -o song.mp3   (AIMLAPI_KEY set)" \
  "LuaJIT:            luajit.exe script.lua, with require \"aimlmusic\" (lua\\ and the DLLs are found beside luajit.exe)" \
  "LOVE:              lua\\ into the game's folder; libcurl-x64.dll and the aimlmusic folder beside love.exe" \
  "Neovim:            this folder on the runtimepath and on PATH (for libcurl-x64.dll)" \
  "" \
  "licenses\\ holds the licence of everything bundled: LuaJIT, curl and aimlmusic." >"$out/README.txt"
(cd build/windows && rm -f "$name.zip" && zip -qr "$name.zip" "$name")
echo "windows-dist: $out and $out.zip ($(du -k "$out.zip" | cut -f1) KiB)"
