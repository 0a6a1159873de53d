#!/bin/sh
# The CPU of a submit+status cycle counted in instructions, which the load on the machine does
# not change (bench/results.md, section 1): bench/cycle_module.lua and the C floor (bench/floor.c)
# against the answers section 1 gets from nginx on loopback, each under valgrind's callgrind
# with 200 and with 2,200 cycles; per cycle = (count at 2,200 - count at 200) / 2,000, so that
# start-up drops out. Prints one line per peer and the ratio. The module's count moves by a few
# thousand from run to run with how many socket actions libcurl takes for a cycle (an answer
# there already when the request is sent saves one): compare runs, not single counts.
#
#   bench/callgrind.sh [DIR]
#
# DIR keeps the callgrind files (module.200, module.2200, floor.200, floor.2200) for
# callgrind_annotate --inclusive=yes; without it they go with the rest of the scratch files.
# Needs valgrind, nginx and a built module (make build).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

LUA=${LUA:-lua5.4}
LUA_PATH=${LUA_PATH:-"./lua/?.lua;./lua/?/init.lua;;"}
LUA_CPATH=${LUA_CPATH:-"./build/$LUA/?.so;;"}
export LUA_PATH LUA_CPATH

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "callgrind.sh: nginx is not installed (bench/run.sh installs it)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/aimlmusic-callgrind.XXXXXX")
OUT=${1:-$T}
mkdir -p "$OUT" "$T/ng/tmp"
ng=""
trap '[ -z "$ng" ] || kill "$ng" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$("$LUA" -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); print(p); s:close()')
. bench/api_answers.sh
# The plain-HTTP answers of bench/run.sh's nginx, byte for byte.
cat >"$T/ng/nginx.conf" <<EOF
daemon off;
master_process off;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/ng/tmp/body;
  proxy_temp_path $T/ng/tmp/proxy;
  fastcgi_temp_path $T/ng/tmp/fastcgi;
  uwsgi_temp_path $T/ng/tmp/uwsgi;
  scgi_temp_path $T/ng/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$PORT;
$(api_location "$PORT")
  }
}
EOF
/usr/sbin/nginx -p "$T/ng" -e "$T/ng/error.log" -c "$T/ng/nginx.conf" &
ng=$!
BASE=http://127.0.0.1:$PORT
i=0
until curl -s -o /dev/null --fail "$BASE/v2/generate/audio?generation_id=x"; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || { echo "callgrind.sh: no answer from nginx" >&2; exit 1; }
  sleep 0.1
done

# shellcheck disable=SC2046
cc -O2 $(pkg-config --cflags libcurl) -o "$T/floor" bench/floor.c $(pkg-config --libs libcurl)
"$LUA" -e 'local j = require "aimlmusic.json"; io.write(j.encode(j.decode(io.read("*a"))))' <bench/params.json >"$T/body.json"

count() { # NAME N COMMAND...: runs it under callgrind, prints the instructions counted
  name=$1 n=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.$n" "$@" >/dev/null 2>"$T/$name.$n.log" ||
    { cat "$T/$name.$n.log" >&2; exit 1; }
  sed -n 's/.*Collected : *//p' "$T/$name.$n.log"
}
peer() { # NAME N: one run of the peer
  case $1 in
    module) count module "$2" "$LUA" bench/cycle_module.lua "$BASE" "$2" bench/params.json ;;
    floor) count floor "$2" "$T/floor" "$BASE" "$2" "$T/body.json" ;;
  esac
}
per_cycle() { # NAME: prints its line, and keeps the count per cycle in $T/NAME.per
  a=$(peer "$1" 200)
  b=$(peer "$1" 2200)
  echo $(((b - a) / 2000)) >"$T/$1.per"
  echo "$1: $a instructions with 200 cycles, $b with 2,200: $(cat "$T/$1.per") per cycle"
}
per_cycle module
per_cycle floor
echo "module / floor: $(awk 'NR == FNR { m = $1; next } { printf "%.2fx", m / $1 }' "$T/module.per" "$T/floor.per")"
