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
#    not know: ...", NAME its file name.
# usage: CC=cc CFLAGS='...' tools/layers.sh [objdir]   (make layers passes the build's flags)
set -eu

# Bottom to top: a file may use only files listed before it. Headers alone (compat.h) need no
# place. A new src/*.c must be put here, above what it calls.
LAYERS="
class platform_posix platform_win32 error json url redact datauri field schema validate output host journal
part handles pool spool pollset engine drive transfer response commit trace session work
core
"

CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
NM=${NM:-nm}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/layers}
mkdir -p "$out"
rm -f "$out"/*.o # none left from a file that is gone

rank() { # rank NAME: its position in LAYERS, or nothing
  echo "$LAYERS" | tr -s ' \n' '\n\n' | grep -v '^$' | grep -n -x -F "$1" | cut -d: -f1
}

status=0
for c in "$root"/src/*.c; do
  name=$(basename "$c" .c)
  if [ -z "$(rank "$name")" ]; then
    echo "layers: src/$name.c has no place in LAYERS (tools/layers.sh): list it above what it calls" >&2
    status=1
  fi
  # shellcheck disable=SC2086
  $CC $CFLAGS -c -o "$out/$name.o" "$c"
done
[ "$status" -eq 0 ] || exit 1

# "symbol file" for every global symbol an object defines.
: >"$out/defined"
for o in "$out"/*.o; do
  name=$(basename "$o" .o)
  $NM -g --defined-only "$o" | awk -v f="$name" 'NF >= 3 { print $3, f }' >>"$out/defined"
done
dup=$(awk '{ print $1 }' "$out/defined" | sort | uniq -d)
if [ -n "$dup" ]; then
  echo "layers: defined in more than one file: $dup" >&2
  exit 1
fi

for o in "$out"/*.o; do
  name=$(basename "$o" .o)
  r=$(rank "$name")
  for sym in $($NM -u "$o" | awk '{ print $NF }'); do
    def=$(awk -v s="$sym" '$1 == s { print $2; exit }' "$out/defined")
    [ -n "$def" ] || continue # libcurl, Lua, libc
    d=$(rank "$def")
    if [ "$d" -ge "$r" ]; then
      echo "layers: src/$name.c uses $sym from src/$def.c, which is not below it" >&2
      status=1
    fi
  done
done
# The rank of header NAME.h: its .c's, or nothing for a contract with no code.
hrank() {
  case "$1" in
    platform) rank platform_posix ;;
    *) if [ -f "$root/src/$1.c" ]; then rank "$1"; fi ;;
  esac
}
for f in "$root"/src/*.c "$root"/src/*.h; do
  base=$(basename "$f")
  name=${base%.*}
  case "$base" in
    *.c) r=$(rank "$name") ;;
    *) r=$(hrank "$name") ;;
  esac
  for inc in $(sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
    [ "$inc" = "$name" ] && continue
    d=$(hrank "$inc")
    [ -n "$d" ] || continue # a contract: fine anywhere
    if [ -z "$r" ]; then
      echo "layers: src/$base (no .c: a contract any layer includes) includes src/$inc.h, which has a layer" >&2
      status=1
    elif [ "$d" -gt "$r" ]; then
      echo "layers: src/$base includes src/$inc.h, which is not below it" >&2
      status=1
    fi
  done
done

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

[ "$status" -eq 0 ] && echo "layers: $(ls "$root"/src/*.c | wc -l) files, every dependency and include points down"
exit "$status"
