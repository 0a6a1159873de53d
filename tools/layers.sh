#!/bin/sh
# Dependencies in src/ point one way: down. Fails when
#  - a file is not placed in LAYERS;
#  - a file calls a function or reads data defined in a file above it (each src/*.c compiled
#    to an object alone; nm says what each defines and what it leaves undefined);
#  - a file (.c or .h) includes the header of a file above it: X.h ranks as X.c (platform.h
#    as platform_posix.c); a header with no .c of its own (list.h, compat.h ...) is a contract
#    any layer may include, and may itself include only such headers. Structs are defined in
#    headers, so this also keeps a file from reading or writing the fields of a layer above;
#  - a src/*.c does not open with its header comment: "/* NAME: what it is. Owns: ... Must
#    not know: ...", NAME its file name;
#  - engine.c or transfer.c has 450 lines or more.
# usage: CC=cc CFLAGS='...' tools/layers.sh [objdir]   (make layers passes the build's flags)
set -eu

# Bottom to top: a file may use only files listed before it. Headers alone (compat.h) need no
# place. A new src/*.c must be put here, above what it calls.
LAYERS="
class utf8 platform_posix platform_win32 error json url redact datauri output host journal
part handles pool spool pollset engine drive transfer response commit session work
core
"

CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
NM=${NM:-nm}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/layers}
mkdir -p "$out"
rm -f "$out"/*.o # none left from a file that is gone

# The layers one name a line, bottom first: a name's rank is its line number.
order="$out/order"
echo "$LAYERS" | tr -s ' \n' '\n\n' | grep -v '^$' >"$order"

# The objects compiled one per CPU at a time.
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
status=0
pids=""
running=0
for c in "$root"/src/*.c; do
  name=$(basename "$c" .c)
  if ! grep -q -x -F "$name" "$order"; then
    echo "layers: src/$name.c has no place in LAYERS (tools/layers.sh): list it above what it calls" >&2
    status=1
  fi
  # shellcheck disable=SC2086
  $CC $CFLAGS -c -o "$out/$name.o" "$c" &
  pids="$pids $!"
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    for p in $pids; do wait "$p" || status=1; done
    pids=""
    running=0
  fi
done
for p in $pids; do wait "$p" || status=1; done
[ "$status" -eq 0 ] || exit 1

# "symbol file" for every global symbol an object defines, and for every symbol it uses: one nm
# for all the objects (nm -A names the object on each line; an nm a file took seconds).
(cd "$out" && $NM -A -g --defined-only ./*.o) |
  awk 'NF >= 3 { f = $1; sub(/:[0-9a-fA-F]*$/, "", f); sub(/^\.\//, "", f); sub(/\.o$/, "", f); print $3, f }' >"$out/defined"
(cd "$out" && $NM -A -u ./*.o) |
  awk 'NF >= 2 { f = $1; sub(/:[0-9a-fA-F]*$/, "", f); sub(/^\.\//, "", f); sub(/\.o$/, "", f); print $NF, f }' >"$out/used"
dup=$(awk '{ print $1 }' "$out/defined" | sort | uniq -d)
if [ -n "$dup" ]; then
  echo "layers: defined in more than one file: $dup" >&2
  exit 1
fi

# One awk over the three lists (a process per symbol took seconds): a used symbol defined in
# src/ (not libcurl, Lua or libc) must be defined in a file below the user.
awk -v order="$order" -v defined="$out/defined" '
  BEGIN {
    while ((getline line < order) > 0) rank[line] = ++n
    while ((getline line < defined) > 0) { split(line, f, " "); def[f[1]] = f[2] }
  }
  ($1 in def) && rank[def[$1]] >= rank[$2] {
    printf "layers: src/%s.c uses %s from src/%s.c, which is not below it\n", $2, $1, def[$1] | "cat >&2"
    bad = 1
  }
  END { exit bad }' "$out/used" || status=1

# Includes, in one awk: X.h ranks as X.c (platform.h as platform_posix.c); a header with no .c
# of its own is a contract any layer may include, and includes only contracts itself.
(cd "$root/src" && ls ./*.c | sed 's|^\./||; s|\.c$||') >"$out/has_c"
(cd "$root/src" && grep -H '^#include "[a-z_0-9]*\.h"' ./*.c ./*.h || true) |
  awk -v order="$order" -v has_c="$out/has_c" '
  BEGIN {
    while ((getline line < order) > 0) rank[line] = ++n
    while ((getline line < has_c) > 0) code[line] = 1
  }
  function hrank(h) {
    if (h == "platform") return rank["platform_posix"]
    return (h in code) ? rank[h] : ""
  }
  {
    file = $0; sub(/:.*/, "", file); sub(/^\.\//, "", file)
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/\.h".*/, "", inc)
    name = file; sub(/\.[ch]$/, "", name)
    if (inc == name) next
    r = file ~ /\.c$/ ? rank[name] : hrank(name)
    d = hrank(inc)
    if (d == "") next
    if (r == "") {
      printf "layers: src/%s (no .c: a contract any layer includes) includes src/%s.h, which has a layer\n", file, inc | "cat >&2"
      bad = 1
    } else if (d + 0 > r + 0) {
      printf "layers: src/%s includes src/%s.h, which is not below it\n", file, inc | "cat >&2"
      bad = 1
    }
  }
  END { exit bad }' || status=1

# Every src/*.c opens with its header comment: "/* NAME: ... Owns: ... Must not know: ...".
for c in "$root"/src/*.c; do
  name=$(basename "$c" .c)
  head=$(awk '{ print } /\*\// { exit }' "$c" | sed 's/^ \*//' | tr '\n' ' ' | tr -s ' ')
  case "$head" in
    "/* $name: "*Owns:*"Must not know:"*) ;;
    *)
      echo "layers: src/$name.c does not open with \"/* $name: ... Owns: ... Must not know: ...\"" >&2
      status=1
      ;;
  esac
done

# The engine and a transfer stay small enough to read in one sitting.
for c in engine transfer; do
  n=$(wc -l <"$root/src/$c.c")
  [ "$n" -lt 450 ] || { echo "layers: src/$c.c has $n lines, 450 or more" >&2; status=1; }
done

[ "$status" -eq 0 ] && echo "layers: $(ls "$root"/src/*.c | wc -l) files, every dependency and include points down"
exit "$status"
