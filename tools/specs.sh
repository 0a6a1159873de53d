#!/bin/sh
# make test: every spec file in a busted process of its own, JOBS at a time (default: one per
# CPU), the longest first (as long as each took in the last run, build/spec-times); then each
# file's output in the order of the names and the total, "N passed, N failed, N skipped",
# after the names of the failed cases (a log's tail then says what failed, not only how many).
# Spec files share nothing but the built core: each starts its own mock server on a free port
# and works in directories of its own.
# usage: tools/specs.sh LUA BUSTED [BUSTED_OPTION...]   (with make test's LUA_PATH, LUA_CPATH,
# AIMLMUSIC_TEST_LUA); the options (--exclude-tags=windows, say) go to every busted.
set -u
lua=$1
busted=$2
shift 2
opts="$*"
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
times=build/spec-times
logs=build/spec-logs
rm -rf "$logs"
mkdir -p "$logs"
[ -f "$times" ] || : >"$times"
start=$(date +%s.%N)

# The files by their last time, longest first; a file with no time yet comes first of all.
ls spec/*_spec.lua | awk -v times="$times" '
  BEGIN { while ((getline line < times) > 0) { split(line, f, " "); t[f[2]] = f[1] } }
  { print ($0 in t ? t[$0] : 1e9), $0 }' | sort -k1,1gr -k2,2 | cut -d' ' -f2 |
  LUA="$lua" BUSTED="$busted" OPTS="$opts" LOGS="$logs" xargs -P "$jobs" -I{} sh -c '
    f={}; n=$(basename "$f" .lua); s=$(date +%s.%N)
    "$LUA" "$BUSTED" $OPTS "$f" >"$LOGS/$n.log" 2>&1; echo $? >"$LOGS/$n.rc"
    awk -v s="$s" -v e="$(date +%s.%N)" -v f="$f" "BEGIN { printf \"%.2f %s\\n\", e - s, f }" >"$LOGS/$n.time"'

passed=0 failed=0 skipped=0 status=0 failures=""
for f in spec/*_spec.lua; do
  n=$(basename "$f" .lua)
  echo "== $f"
  cat "$logs/$n.log"
  # the closing line of spec/support/summary.lua; a file that did not get there failed
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$logs/$n.log" | tail -1)
  if [ -z "$line" ]; then line="0 passed, 1 failed, 0 skipped"; fi
  set -- $line
  passed=$((passed + $1)) failed=$((failed + $3)) skipped=$((skipped + $5))
  [ "$(cat "$logs/$n.rc" 2>/dev/null)" = 0 ] || status=1
  # busted's "Failure → file @ line" and "Error → ..." lines, with the case's name after each
  case_lines=$(awk '/^(Failure|Error) → / { print "  " $0; getline; print "    " $0 }' "$logs/$n.log")
  if [ -n "$case_lines" ]; then failures="$failures$case_lines
"
  elif [ "$3" -gt 0 ] || [ "$(cat "$logs/$n.rc" 2>/dev/null)" != 0 ]; then failures="$failures  $f (no summary: see its output above)
"
  fi
done
cat "$logs"/*.time | sort -k1,1gr >"$times"
awk -v s="$start" -v e="$(date +%s.%N)" -v j="$jobs" \
  'BEGIN { printf "== all spec files, %d at a time, in %.0f s; the longest:\n", j, e - s }'
head -5 "$times"
[ "$failed" -eq 0 ] || status=1
[ -z "$failures" ] || printf "== failed:\n%s" "$failures"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
