#!/bin/sh
# make demo: generates a track with examples/generate.lua and leaves it in demo-output/.
# Without AIMLAPI_KEY it runs against the mock server on loopback; with it, against the service.
set -eu
LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/$LUA}
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
export LUA_CPATH="./$BUILD/?.so;;"
mkdir -p demo-output
out=demo-output/track.mp3
if [ -n "${AIMLAPI_KEY:-}" ]; then
  echo "AIMLAPI_KEY is set: generating with the real service (this is billed)."
  "$LUA" examples/generate.lua --output "$out" --overwrite
else
  portfile=$(mktemp)
  rm -f "$portfile"
  # The mock also exits by itself when this script ends (it watches its parent) or after 5 minutes.
  "$LUA" bin/aimlmusic-mock --port 0 --port-file "$portfile" --duration 4 --max-lifetime 300 \
    </dev/null >/dev/null &
  mock=$!
  trap 'kill $mock 2>/dev/null || true; rm -f "$portfile"' EXIT
  n=0
  while [ ! -s "$portfile" ]; do
    n=$((n + 1))
    [ $n -le 100 ] || { echo "the mock server did not start" >&2; exit 1; }
    sleep 0.1
  done
  api=$(cut -d' ' -f1 "$portfile")
  echo "No AIMLAPI_KEY: using the mock server at $api"
  AIMLAPI_BASE_URL=$api AIMLAPI_KEY=test-key "$LUA" examples/generate.lua --output "$out" \
    --overwrite --interval 1
fi
file "$out"
