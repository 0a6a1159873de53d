#!/bin/sh
# LuaJIT for Windows (the toolchain's luajit.exe) under wine, as a Linux command: what
# AIMLMUSIC_TEST_LUA names in `make windows-test`, so that a spec that runs the command line as
# a process runs it as a Windows program. WIN_TOOLCHAIN is the toolchain's directory.
set -eu
: "${WIN_TOOLCHAIN:?tools/windows/luajit.sh: set WIN_TOOLCHAIN}"
# The specs bound their children themselves (timeout N) and kill them to crash them: the pid
# they hold must be wine's own, not a timeout's in front of it.
export WINE_TIMEOUT=0
exec "$(dirname "$0")/wine.sh" "$WIN_TOOLCHAIN/bin/luajit.exe" "$@"
