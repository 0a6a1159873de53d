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
# luajit.exe's C runtime hands Lua its arguments and environment in the system's ANSI code page
# (1252 on a Western Windows): "Café" reached the library as invalid UTF-8, a path with "ö" was
# refused and Japanese text became "???" in what was submitted. This manifest beside the exe (it
# has none inside) makes UTF-8 its code page (Windows 10 1903 and later, and wine), so that
# arguments, the environment and Lua's own file names are UTF-8, as the library's are.
cat >"$out/luajit.exe.manifest" <<'MANIFEST'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly manifestVersion="1.0" xmlns="urn:schemas-microsoft-com:asm.v1">
  <assemblyIdentity type="win32" name="aimlmusic.luajit" version="1.0.0.0" processorArchitecture="amd64"/>
  <application xmlns="urn:schemas-microsoft-com:asm.v3">
    <windowsSettings>
      <activeCodePage xmlns="http://schemas.microsoft.com/SMI/2019/WindowsSettings">UTF-8</activeCodePage>
    </windowsSettings>
  </application>
</assembly>
MANIFEST
# Windows reads a manifest beside the exe only when the exe carries none (no resources at all here).
if x86_64-w64-mingw32-objdump -h "$out/luajit.exe" | grep -q '\.rsrc'; then
  echo "windows-dist: luajit.exe has resources (a manifest of its own?): luajit.exe.manifest would be ignored" >&2
  exit 1
fi
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
printf '%s\r\n' "aimlmusic $version for Windows x64. doc\\install.md in this folder (section Windows) and doc\\api.md say the rest." \
  "" \
  "The command line, from this folder (or with it on PATH):" \
  "  set AIMLAPI_KEY=...        (or --key-file FILE; never a flag)" \
  "  aimlmusic.cmd generate -p PROMPT -l LYRICS -o song.mp3" \
  "  aimlmusic.cmd --help" \
  "  In a batch file, write: call aimlmusic.cmd ...   (without call the batch file ends there)." \
  "  Every job goes to %LOCALAPPDATA%\\aimlmusic\\jobs.journal: aimlmusic.cmd resume finishes an interrupted one." \
  "LuaJIT:  luajit.exe script.lua, with require \"aimlmusic\" (lua\\ and the DLLs are found beside luajit.exe)" \
  "LOVE:    lua\\ into the game's folder; libcurl-x64.dll and the aimlmusic folder beside love.exe (or the fused game's .exe)" \
  "Neovim:  this folder on the runtimepath and on PATH (for libcurl-x64.dll)" \
  "" \
  "Text that is not ASCII (a prompt, lyrics, a path) is read as UTF-8 on Windows 10 version 1903 and later:" \
  "luajit.exe.manifest, which must stay beside luajit.exe, says so. The console shows the UTF-8 that" \
  "aimlmusic prints after chcp 65001." \
  "" \
  "licenses\\ holds the licence of everything bundled: LuaJIT, curl, the mingw-w64 runtime and aimlmusic." >"$out/README.txt"
(cd build/windows && rm -f "$name.zip" && zip -qr "$name.zip" "$name")
echo "windows-dist: $out and $out.zip ($(du -k "$out.zip" | cut -f1) KiB)"
