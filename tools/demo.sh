#!/bin/sh
# make demo: generates a track with the aimlmusic command and leaves it in demo-output/.
# Without AIMLAPI_KEY it runs against the mock server on loopback; with it, against the service.
set -eu
LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/$LUA}
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
export LUA_CPATH="./$BUILD/?.so;;"
mkdir -p demo-output
out=demo-output/track.mp3
prompt="Warm lo-fi hip hop with soft piano, vinyl crackle and a slow, steady beat."
lyrics='[Verse]
Streetlights flicker, the night breeze sighs
Shadows stretch as I walk alone
[Chorus]
Pushing the wooden door, the aroma spreads
In this small cafe, I find my way'
if [ -n "${AIMLAPI_KEY:-}" ]; then
  echo "AIMLAPI_KEY is set: generating with the real service (this is billed)."
  printf '%s\n' "$lyrics" | "$LUA" bin/aimlmusic generate -p "$prompt" --lyrics-file - -o "$out" --overwrite
else
  portfile=$(mktemp)
  rm -f "$portfile"
  # The mock also exits by itself when this script ends (it watches its parent) or after 5 minutes.
  "$LUA" bin/aimlmusic mock --port 0 --port-file "$portfile" --duration 4 --max-lifetime 300 \
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
  # The demo's job goes to a journal of its own, not the user's.
  printf '%s\n' "$lyrics" | AIMLAPI_BASE_URL=$api AIMLAPI_KEY=test-key "$LUA" bin/aimlmusic generate \
    -p "$prompt" --lyrics-file - -o "$out" --overwrite --interval 1 --journal demo-output/jobs.journal
fi
file "$out"
