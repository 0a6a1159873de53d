#!/bin/sh
# make bench: this module against what people would write instead, measured side by side in
# one run. Prints one table and writes it to bench/results.md.
#
#   1. per-request cost: submit+status cycles against nginx on loopback, for this module,
#      LuaSocket + cjson, io.popen of curl + cjson, Python requests and a C libcurl floor;
#   2. concurrency: 10, 100 and 1000 jobs at once against the mock server (3 s per job);
#   3. download: a 256 MiB file from nginx, this module against the curl command;
#   4. responsiveness: music.step(0) with 100 jobs in flight, and require time;
#   5. scale: 100, 1,000 and 10,000 jobs (submit, wait, download 256 KiB) in one Lua state
#      against nginx, beside Python requests with a thread per job;
#   6. hosts: the timer gap the library adds in Neovim, step(0) in LÖVE with 100 jobs;
#   7. time to music: delay from a job's completion to its file on disk, and status requests
#      per job, for the seeds' loops and the library's default schedule (bench/music_time.lua);
#   8. connections: submit+status cycles over TLS 1.3 (HTTP/1.1, HTTP/2) beside the C floor
#      with the same transport settings, and the CPU of a fresh TLS connection;
#   keep (opt-in, slow): the scale jobs with their files kept, all finishing at once, into
#      tmpfs and onto the disk, with every fsync as it is and slowed (bench/slow_fsync.c).
#
# bench/callgrind.sh counts section 1's cycle in instructions instead, for this module and the
# floor, a count the load on the machine does not change.
#
# Every peer runs in its own process, measured from outside the same way (bench/measure.c:
# wait4's rusage and a monotonic clock). The servers it starts (nginx with its own config, the
# mock) listen on loopback only and are stopped when this script ends, however it ends.
# Benchmarks report; they never fail on a number.
#
# Sizes can be changed: BENCH_N (cycles of the fast peers), BENCH_N_PY, BENCH_N_CURL,
# BENCH_ROUNDS, BENCH_POLL (status poll interval of the jobs, s), BENCH_DL_MIB, BENCH_SCALE
# (job counts of section 5), BENCH_SCALE_PY (those the Python peer runs), BENCH_MUSIC_JOBS and
# BENCH_MUSIC_SCALE (section 7), BENCH_N_TLS, BENCH_N_FRESH, BENCH_N_NOCACHE (section 8);
# BENCH_KEEP (job counts of section keep), BENCH_KEEP_FSYNC_MS (the fsync delays it tries);
# BENCH_SECTIONS picks sections (cost tls jobs dl step scale hosts music, all by default; keep
# only when named); BENCH_RAW=FILE keeps the raw measurements; BENCH_OUT=FILE writes the report
# there instead of bench/results.md.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

LUA=${LUA:-lua5.4}
LUA_PATH=${LUA_PATH:-"./lua/?.lua;./lua/?/init.lua;;"}
LUA_CPATH=${LUA_CPATH:-"./build/$LUA/?.so;;"}
export LUA LUA_PATH LUA_CPATH
# Debian's Python with Debian's python3-requests, whatever python3 comes first on PATH.
PY=/usr/bin/python3

N_FAST=${BENCH_N:-10000}
N_PY=${BENCH_N_PY:-1000}
N_CURL=${BENCH_N_CURL:-200}
ROUNDS=${BENCH_ROUNDS:-7}
POLL=${BENCH_POLL:-0.5}
DL_MIB=${BENCH_DL_MIB:-256}
JOB_SECONDS=3
SCALE_JOBS=${BENCH_SCALE:-100 1000 10000}
SCALE_PY=${BENCH_SCALE_PY:-100 1000}
MUSIC_JOBS=${BENCH_MUSIC_JOBS:-20}
MUSIC_SCALE=${BENCH_MUSIC_SCALE:-0.1}
SECTIONS=${BENCH_SECTIONS:-cost tls jobs dl step scale hosts music}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

say() { echo "bench: $*" >&2; }

# --- the packages only the bench needs (the module's own come with `make build`)
pkg_ok() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
missing=""
[ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
for p in python3-requests lua-socket lua-cjson curl; do pkg_ok "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx-light is gone from newer Debian releases: nginx itself then.
    case "$missing" in *nginx-light*)
      apt-cache show nginx-light >/dev/null 2>&1 || missing=$(echo "$missing" | sed 's/nginx-light/nginx/') ;;
    esac
    # The bench starts its own nginx: the package must not start a system one on port 80.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 755 "$policy"
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || rm -f "$policy"
  else
    echo "Missing Debian packages for the benchmarks. Run this, then make bench again:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi
[ -x "$PY" ] || { say "$PY is missing (apt-get install -y python3-requests)"; exit 1; }

core="build/$LUA/aimlmusic/core.so"
[ -f "$core" ] || make --no-print-directory build LUA="$LUA"

# --- scratch space, servers, and their end
T=$(mktemp -d "${TMPDIR:-/tmp}/aimlmusic-bench.XXXXXX")
SHM_DL=""
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
  # shellcheck disable=SC2086
  [ -z "$SHM_DL" ] || rm -rf $SHM_DL
}
trap cleanup EXIT
# A scratch directory of its own on tmpfs (BENCH_SHM, else /dev/shm) when there is one, removed
# at the end: its path in SHM_MADE, else SHM_MADE is empty.
shm_dir() {
  SHM_MADE=""
  if [ -d "${BENCH_SHM:-/dev/shm}" ] && [ -w "${BENCH_SHM:-/dev/shm}" ]; then
    SHM_MADE=$(mktemp -d "${BENCH_SHM:-/dev/shm}/aimlmusic-$1.XXXXXX")
    SHM_DL="$SHM_DL $SHM_MADE"
  fi
}
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

RES=$T/results.txt
: >"$RES"
put() { echo "$*" >>"$RES"; }

BIN=$T/bin
mkdir -p "$BIN"
cc -O2 -o "$BIN/measure" bench/measure.c
# shellcheck disable=SC2046
cc -O2 $(pkg-config --cflags libcurl) -o "$BIN/floor" bench/floor.c $(pkg-config --libs libcurl)
MEASURE=$BIN/measure

# CPU placement. On a VM a loopback round trip between two CPUs costs an inter-processor
# interrupt through the hypervisor: it doubles the floor's cost and, left to the scheduler,
# flips from run to run. So: the servers run on the last CPU; the per-request clients share
# it (each cycle is a strict ping-pong, and every peer is measured under the same placement);
# the download, concurrency and responsiveness clients run on CPU 0, beside the server as a
# remote server would be. Without taskset (or with one CPU) nothing is pinned.
NPROC=$(nproc)
SERVER_CPU=$((NPROC - 1))
CLIENT_CPU=0
pin_server=""
if command -v taskset >/dev/null 2>&1 && [ "$NPROC" -gt 1 ]; then pin_server="taskset -c $SERVER_CPU"; fi
on_cpu() { # CPU CMD...
  c=$1
  shift
  if [ -n "$pin_server" ]; then taskset -c "$c" "$@"; else "$@"; fi
}
CPU=$CLIENT_CPU # where m runs what it measures

# m NAME CMD...: runs CMD under measure; records "m.NAME wall user sys maxrss_kib" and
# "o.NAME <last line CMD printed>". A failed command stops the bench with its output.
m() {
  name=$1
  shift
  if ! on_cpu "$CPU" "$MEASURE" "$T/rusage" "$@" >"$T/stdout" 2>"$T/stderr"; then
    say "$name failed: $*"
    cat "$T/stdout" "$T/stderr" >&2
    exit 1
  fi
  put "m.$name $(cat "$T/rusage")"
  put "o.$name $(tail -n 1 "$T/stdout")"
}

free_port() {
  "$LUA" -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); print(p); s:close()'
}

wait_http() { # URL: until it answers 200, at most 10 s
  i=0
  until curl -s -o /dev/null --fail "$1"; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || { say "no answer from $1"; return 1; }
    sleep 0.1
  done
}

# --- facts about the machine
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain -- src lua 2>/dev/null)" ] || commit="$commit with uncommitted changes in src/ or lua/"
put "fact.commit commit $commit"
put "fact.date $(date -u '+%Y-%m-%d %H:%M UTC')"
put "fact.nproc $(nproc)"
put "fact.cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
put "fact.kernel $(uname -sr)"
put "fact.lua $("$LUA" -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
put "fact.libcurl $("$LUA" -e 'print((require("aimlmusic.core").curl_version))' | cut -d' ' -f1-2)"
put "fact.curl $(curl --version | head -n 1 | cut -d' ' -f1-2)"
put "fact.python $("$PY" --version 2>&1), requests $("$PY" -c 'import requests; print(requests.__version__)')"
put "fact.luasocket $("$LUA" -e 'print(require("socket")._VERSION)')"
put "fact.cjson lua-cjson $("$LUA" -e 'print(require("cjson")._VERSION)')"
put "fact.nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //; s#/# #')"
put "fact.fs $(df -PT "$T" | awk 'NR == 2 { print $2 }')"
# The machine may be shared: its load at the start and the end goes into the report.
put "fact.load_start $(cut -d' ' -f1-3 /proc/loadavg)"
put "param.n_fast $N_FAST"
put "param.n_py $N_PY"
put "param.n_curl $N_CURL"
put "param.rounds $ROUNDS"
put "param.poll $POLL"
put "param.dl_mib $DL_MIB"
put "param.job_seconds $JOB_SECONDS"
put "param.sections $SECTIONS"
put "param.music_scale $MUSIC_SCALE"
if [ -n "$pin_server" ]; then
  put "param.pinning servers on CPU $SERVER_CPU; per-request clients on CPU $SERVER_CPU too; other clients on CPU $CLIENT_CPU"
else
  put "param.pinning none"
fi

# --- nginx on loopback, with its own config: the API answers are static, as is the big file
NG=$T/nginx
mkdir -p "$NG/www/files" "$NG/tmp"
say "writing a ${DL_MIB} MiB file to serve"
head -c "$((DL_MIB * 1024 * 1024))" /dev/urandom >"$NG/www/files/big.bin"
# The audio every completed status names (section 5 downloads it): 256 KiB.
mkdir -p "$NG/www/audio"
head -c 262144 /dev/urandom >"$NG/www/audio/aOC5WDH9oqBkaF5qHORbD5QW.mp3"
PORT=$(free_port)
. bench/api_answers.sh
# Section 8 speaks TLS 1.3 to the same answers: a CA made for this run signs 127.0.0.1's
# certificate; clients verify against Debian's CA bundle with that CA added (the cost of
# parsing Debian's store is what a fresh connection pays when the parsed store is not kept).
TLS=$T/tls
mkdir -p "$TLS"
ossl() { env -u LD_PRELOAD openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$TLS/ca.key" -out "$TLS/ca.pem"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -keyout "$TLS/key.pem" \
  -out "$TLS/cert.csr"
echo "subjectAltName=IP:127.0.0.1" >"$TLS/ext.cnf"
ossl x509 -req -in "$TLS/cert.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 1 \
  -extfile "$TLS/ext.cnf" -out "$TLS/cert.pem"
cat /etc/ssl/certs/ca-certificates.crt "$TLS/ca.pem" >"$TLS/bundle.pem"
TLS_H1=$(free_port)
TLS_H2=$(free_port)
TLS_FRESH=$(free_port)
cat >"$NG/nginx.conf" <<EOF
daemon off;
master_process off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  sendfile on;
  server {
    listen 127.0.0.1:$PORT;
    listen 127.0.0.2:$PORT;
    root $NG/www;
$(api_location "$PORT")
  }
EOF
# The TLS servers: HTTP/1.1 only, HTTP/2 offered (ALPN), and a connection per request.
for tls in "$TLS_H1:60s" "$TLS_H2 http2:60s" "$TLS_FRESH:0"; do
  cat >>"$NG/nginx.conf" <<EOF
  server {
    listen 127.0.0.1:${tls%%:*} ssl;
    ssl_certificate $TLS/cert.pem;
    ssl_certificate_key $TLS/key.pem;
    ssl_protocols TLSv1.3;
    keepalive_timeout ${tls##*:};
    location = /v2/generate/audio {
      default_type application/json;
      if (\$request_method = POST) {
        return 200 '{"id":"$ID","status":"queued"}';
      }
      return 200 '{"id":"$ID","status":"completed","audio_file":{"url":"https://127.0.0.1:$TLS_H1/a.mp3"}}';
    }
  }
EOF
done
echo "}" >>"$NG/nginx.conf"
# (not through a function: $! must be nginx itself, which taskset execs)
$pin_server /usr/sbin/nginx -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" &
pids="$pids $!"
BASE=http://127.0.0.1:$PORT
wait_http "$BASE/v2/generate/audio?generation_id=x"
say "nginx on $BASE"

# The JSON body the floor sends: what the module sends, encoded by its own JSON.
"$LUA" -e 'local j = require "aimlmusic.json"; io.write(j.encode(j.decode(io.read("*a"))))' <bench/params.json >"$T/body.json"

# --- 1. per-request cost
CPU=$SERVER_CPU
if want cost; then
cycle() { # PEER N ROUND
  case $1 in
    floor) m "c.$1.$2.$3" "$BIN/floor" "$BASE" "$2" "$T/body.json" ;;
    module) m "c.$1.$2.$3" "$LUA" bench/cycle_module.lua "$BASE" "$2" bench/params.json ;;
    luasocket) m "c.$1.$2.$3" "$LUA" bench/cycle_luasocket.lua "$BASE" "$2" bench/params.json ;;
    popen_curl) m "c.$1.$2.$3" "$LUA" bench/cycle_popen_curl.lua "$BASE" "$2" bench/params.json ;;
    requests) m "c.$1.$2.$3" "$PY" bench/cycle_requests.py "$BASE" "$2" bench/params.json ;;
  esac
}
n_of() {
  case $1 in
    requests) echo "$N_PY" ;;
    popen_curl) echo "$N_CURL" ;;
    *) echo "$N_FAST" ;;
  esac
}
PEERS="floor module luasocket popen_curl requests"
say "1. per-request cost: warming up"
for p in $PEERS; do cycle "$p" 20 warm; done
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for p in $PEERS; do
    say "1. per-request cost: round $r/$ROUNDS, $p"
    cycle "$p" 0 "$r"
    cycle "$p" "$(n_of "$p")" "$r"
  done
  r=$((r + 1))
done
fi

# --- 8. connections: the same cycles over TLS 1.3, with HTTP/1.1 and with HTTP/2 (ALPN), and
# requests that each open a fresh TLS connection (nginx closes it after the answer), every peer
# verifying against Debian's CA bundle (with the bench's CA added) and keeping no CA directory;
# and, for reference, the module with libcurl's default CA directory named (ca_path), which
# makes libcurl parse the bundle for every connection. Per cycle = (run with N cycles - run
# with 1) / (N - 1): the first connection, and the one parse of the bundle a process makes,
# are left out for every peer alike.
if want tls; then
N_TLS=${BENCH_N_TLS:-2000}
N_FRESH=${BENCH_N_FRESH:-100}
N_NOCACHE=${BENCH_N_NOCACHE:-10}
put "param.n_tls $N_TLS"
put "param.n_fresh $N_FRESH"
put "param.n_nocache $N_NOCACHE"
tcycle() { # PEER WHERE N ROUND
  case $2 in
    h1) url=https://127.0.0.1:$TLS_H1 ;;
    h2) url=https://127.0.0.1:$TLS_H2 ;;
    *) url=https://127.0.0.1:$TLS_FRESH ;;
  esac
  case $1 in
    floor) m "t.$1.$2.$3.$4" "$BIN/floor" "$url" "$3" "$T/body.json" "$TLS/bundle.pem" ;;
    module)
      if [ "$2" = nocache ]; then
        m "t.$1.$2.$3.$4" "$LUA" bench/cycle_module.lua "$url" "$3" bench/params.json "$TLS/bundle.pem" /etc/ssl/certs
      else
        m "t.$1.$2.$3.$4" "$LUA" bench/cycle_module.lua "$url" "$3" bench/params.json "$TLS/bundle.pem"
      fi
      ;;
  esac
}
tls_n() {
  case $1 in h1 | h2) echo "$N_TLS" ;; fresh) echo "$N_FRESH" ;; *) echo "$N_NOCACHE" ;; esac
}
CPU=$SERVER_CPU
say "8. connections: warming up"
for where in h1 h2 fresh; do for p in floor module; do tcycle "$p" "$where" 5 warm; done; done
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for where in h1 h2 fresh nocache; do
    for p in floor module; do
      [ "$where:$p" != nocache:floor ] || continue
      say "8. connections: round $r/$ROUNDS, $where, $p"
      tcycle "$p" "$where" 1 "$r"
      tcycle "$p" "$where" "$(tls_n "$where")" "$r"
    done
  done
  r=$((r + 1))
done
fi

# --- the mock server, fresh for each scenario
mock_pid=""
start_mock() {
  rm -f "$T/mock.port"
  $pin_server "$LUA" bin/aimlmusic-mock --port 0 --port-file "$T/mock.port" --duration "$JOB_SECONDS" --max-lifetime 600 \
    >"$T/mock.log" 2>&1 &
  mock_pid=$!
  pids="$pids $mock_pid"
  i=0
  until [ -s "$T/mock.port" ]; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || { say "the mock server did not start"; cat "$T/mock.log" >&2; exit 1; }
    sleep 0.1
  done
  read -r API CDN <"$T/mock.port"
  : "$CDN"
}
stop_mock() {
  kill "$mock_pid" 2>/dev/null || true
  wait "$mock_pid" 2>/dev/null || true
}

# --- 2. concurrency
CPU=$CLIENT_CPU
if want jobs; then
for j in 10 100 1000; do
  say "2. concurrency: $j jobs of ${JOB_SECONDS} s"
  start_mock
  m "jobs.$j" "$LUA" bench/jobs_module.lua "$API" "$j" "$POLL" bench/params.json
  stop_mock
done
fi

# --- 3. download
if want dl; then
DL=$T/dl
mkdir -p "$DL"
URL=$BASE/files/big.bin
m dl.idle "$LUA" bench/download_module.lua idle "$DL/none"
# Into the scratch directory (a disk, as a user's file), and into tmpfs when there is room:
# there fsync costs nothing, which separates the transfer from the file system.
SHM=${BENCH_SHM:-/dev/shm}
targets="disk"
if [ -d "$SHM" ] && [ -w "$SHM" ] &&
  [ "$(df -Pk "$SHM" | awk 'NR == 2 { print $4 }')" -gt $((DL_MIB * 1024 * 2 + 65536)) ]; then
  SHM_DL=$(mktemp -d "$SHM/aimlmusic-bench.XXXXXX")
  targets="disk tmpfs"
fi
put "param.dl_targets $targets"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for where in $targets; do
    say "3. download: round $r/$ROUNDS, to $where"
    dir=$DL
    [ "$where" = disk ] || dir=$SHM_DL
    sync # each download starts with no dirty pages left by the one before
    m "dl.$where.module.$r" "$LUA" bench/download_module.lua "$URL" "$dir/module.bin"
    put "size.dl.$where.module.$r $(wc -c <"$dir/module.bin")"
    rm -f "$dir/module.bin"
    sync
    m "dl.$where.curl.$r" curl -sS --fail -o "$dir/curl.bin" "$URL"
    put "size.dl.$where.curl.$r $(wc -c <"$dir/curl.bin")"
    rm -f "$dir/curl.bin"
  done
  r=$((r + 1))
done
fi

# --- 4. responsiveness
if want step; then
say "4. responsiveness: step(0) with 100 jobs in flight"
mkdir -p "$T/step"
sync # the downloads' dirty pages must not slow the fsyncs measured here
start_mock
m step "$LUA" bench/step_module.lua "$API" 100 "$POLL" bench/params.json "$T/step"
stop_mock
say "4. responsiveness: the same without the downloads"
start_mock
m step_nodl "$LUA" bench/step_module.lua "$API" 100 "$POLL" bench/params.json -
stop_mock
say "4. require time"
i=1
while [ "$i" -le 21 ]; do
  put "require.$i $(on_cpu "$CLIENT_CPU" "$LUA" bench/require_time.lua)"
  i=$((i + 1))
done
fi

# --- 5. scale: jobs in one Lua state against nginx (the status answers "completed" at once and
# names the 256 KiB audio file); the files go to tmpfs when there is room, and are removed as
# they arrive.
if want scale; then
shm_dir scale
SCALE_DIR=${SHM_MADE:-$T/scale}
mkdir -p "$SCALE_DIR"
ulimit -n 65536 2>/dev/null || true
put "param.scale_jobs $SCALE_JOBS"
put "param.scale_py $SCALE_PY"
m scale.idle "$LUA" bench/download_module.lua idle "$SCALE_DIR/none"
for j in $SCALE_JOBS; do
  say "5. scale: $j jobs (submit, wait, download 256 KiB)"
  m "scale.module.$j" "$LUA" bench/scale_module.lua "$BASE" "$j" bench/params.json "$SCALE_DIR"
done
m scale.py_idle "$PY" -c "import requests, json, threading"
for j in $SCALE_PY; do
  say "5. scale: $j jobs, Python requests with a thread per job"
  m "scale.py.$j" "$PY" bench/scale_requests.py "$BASE" "$j" bench/params.json "$SCALE_DIR"
done
fi

# --- keep: the scale jobs with their files kept (each fsynced and linked into place, as a user's
# would be), all downloads finishing at once, into tmpfs and into the scratch directory (a disk),
# with every fsync as it is and slowed by BENCH_KEEP_FSYNC_MS (bench/slow_fsync.c, preloaded):
# peak RSS while the commits wait for the disk. The files are removed between runs.
if want keep; then
KEEP_JOBS=${BENCH_KEEP:-1000 10000}
KEEP_MS=${BENCH_KEEP_FSYNC_MS:-0 20}
cc -O2 -shared -fPIC -o "$BIN/slow_fsync.so" bench/slow_fsync.c -ldl
KEEP_DISK=$T/keep
shm_dir keep
KEEP_SHM=$SHM_MADE
mkdir -p "$KEEP_DISK"
ulimit -n 65536 2>/dev/null || true
put "param.keep_jobs $KEEP_JOBS"
put "param.keep_fsync_ms $KEEP_MS"
put "param.keep_fs $(df -PT "$KEEP_DISK" | awk 'NR == 2 { print $2 }')"
m keep.idle "$LUA" bench/download_module.lua idle "$KEEP_DISK/none"
for j in $KEEP_JOBS; do
  for where in tmpfs disk; do
    dir=$KEEP_DISK
    [ "$where" = disk ] || dir=$KEEP_SHM
    [ -n "$dir" ] || continue
    for ms in $KEEP_MS; do
      say "keep: $j jobs, files kept on $where, every fsync +$ms ms"
      sync
      put "load.keep.$where.$ms.$j $(cut -d' ' -f1 /proc/loadavg)"
      m "keep.$where.$ms.$j" env LD_PRELOAD="$BIN/slow_fsync.so" SLOW_FSYNC_MS="$ms" \
        "$LUA" bench/scale_module.lua "$BASE" "$j" bench/params.json "$dir" keep
      put "files.keep.$where.$ms.$j $(find "$dir" -name '*.mp3' | wc -l)"
      find "$dir" -mindepth 1 -delete
    done
  done
done
fi

# --- 6. hosts: Neovim (the gap a 10 ms timer sees, with the jobs minus without, same run) and
# LÖVE (step(0) per frame with 100 jobs, on curl_multi_perform and on the pollable descriptor).
# Both embed LuaJIT: the module built for it is used.
if want hosts; then
make --no-print-directory build LUA=luajit >/dev/null
HOSTS_DIR=$T/hosts
mkdir -p "$HOSTS_DIR"
if command -v nvim >/dev/null 2>&1; then
  say "6. hosts: Neovim, a 10 ms timer with and without 10 jobs"
  start_mock
  on_cpu "$CLIENT_CPU" env LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;;" LUA_CPATH="$root/build/luajit/?.so;;" \
    AIMLMUSIC_API="$API" AIMLMUSIC_NJOBS=10 AIMLMUSIC_OUT="$T/nvim.out" AIMLMUSIC_DIR="$HOSTS_DIR" \
    timeout -k 5 300 nvim --headless --clean -c "luafile bench/nvim_gap.lua" </dev/null >/dev/null 2>&1 || true
  put "host.nvim $(cat "$T/nvim.out" 2>/dev/null || echo error no result)"
  stop_mock
fi
say "6. hosts: the luv adapter two ways, 100 jobs"
start_mock
for r in 1 2 3; do
  for way in uv pollfd; do
    m "uv.$way.$r" "$LUA" bench/uv_both.lua "$API" 100 "$HOSTS_DIR" "$way"
  done
done
stop_mock
if command -v love >/dev/null 2>&1; then
  # five rounds, the two ways taking turns: one run's longest step is one event
  for r in 1 2 3 4 5; do
    for mode in 0 1; do
      say "6. hosts: LÖVE, step(0) per frame with 100 jobs (pollfd $mode, round $r)"
      start_mock
      rm -f "$T/love.out"
      on_cpu "$CLIENT_CPU" env -u DISPLAY -u WAYLAND_DISPLAY SDL_AUDIODRIVER=dummy ALSOFT_DRIVERS=null \
        XDG_RUNTIME_DIR="$HOSTS_DIR" XDG_DATA_HOME="$HOSTS_DIR" \
        LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;;" LUA_CPATH="$root/build/luajit/?.so;;" \
        AIMLMUSIC_API="$API" AIMLMUSIC_NJOBS=100 AIMLMUSIC_OUT="$T/love.out" AIMLMUSIC_DIR="$HOSTS_DIR" \
        AIMLMUSIC_POLLFD=$mode timeout -k 5 120 love bench/love </dev/null >/dev/null 2>&1 || true
      put "host.love.$mode.$r $(cat "$T/love.out" 2>/dev/null || echo error no result)"
      stop_mock
    done
  done
fi
fi

# --- 7. time to music
if want music; then
say "7. time to music: ${MUSIC_JOBS} jobs per strategy and wave, time-scaled by $MUSIC_SCALE"
start_mock
mkdir -p "$T/music"
on_cpu "$CLIENT_CPU" "$LUA" bench/music_time.lua "$API" "$MUSIC_JOBS" "$MUSIC_SCALE" "$T/music" >"$T/music.out"
cat "$T/music.out" >>"$RES"
stop_mock
fi

put "fact.load_end $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${BENCH_RAW:-}" ] || cp "$RES" "$BENCH_RAW"
"$LUA" bench/report.lua "$RES" "${BENCH_OUT:-bench/results.md}"
