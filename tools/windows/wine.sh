#!/bin/sh
# Runs a Windows program under wine, quiet and headless, in the prefix WINEPREFIX (made here
# with `wineboot -i` the first time, bounded in time). Every wine call is bounded: WINE_TIMEOUT
# seconds (default 1800; 0: unbounded).
# usage: tools/windows/wine.sh PROGRAM.exe ARGS...   (WINEPREFIX must be set)
set -eu
: "${WINEPREFIX:?tools/windows/wine.sh: set WINEPREFIX}"
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
unset DISPLAY WAYLAND_DISPLAY
wine=$(command -v wine || command -v wine64 || true)
[ -n "$wine" ] || { echo "wine: not found (apt-get install wine wine64)" >&2; exit 1; }
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$WINEPREFIX"
  start=$(date +%s)
  timeout 300 "$wine" wineboot -i >/dev/null 2>&1 || { echo "wine: wineboot -i in $WINEPREFIX failed or took over 300 s" >&2; exit 1; }
  timeout 120 wineserver -w 2>/dev/null || true
  echo "wine: made the prefix $WINEPREFIX in $(($(date +%s) - start)) s" >&2
fi
# WINE_TIMEOUT=0: wine itself in this process, unbounded, so that a signal sent to this pid
# (a spec killing a child to crash it) reaches the Windows program.
[ "${WINE_TIMEOUT:-1800}" != 0 ] || exec "$wine" "$@"
exec timeout -k 10 "${WINE_TIMEOUT:-1800}" "$wine" "$@"
