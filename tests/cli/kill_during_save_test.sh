#!/usr/bin/env bash
# A save killed at any moment (kill -9) leaves the model file as it was or complete and new, never torn,
# and the next save removes what the killed one left behind. Up to 40 runs of qplay-cli train on a 2-million-
# parameter network (an 8 MB file) are killed after random delays around the end of a run, when it saves;
# fewer (at least 12) when a run and the check after it are slow (a sanitizer build on a busy machine), so
# the test stays in its ctest timeout.
#   bash tests/cli/kill_during_save_test.sh <qplay-cli>
set -u
cli=$(realpath "$1")
source "$(cd "$(dirname "$0")" && pwd)/../expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

train=("$cli" train --dataset=spiral --samples=200 --architecture=mlp:1400,1400 --epochs=1 --quiet=1 --out=m.qmodel)
expect "a first model is saved" 0 "saved model" -- "${train[@]}" --seed=1
start=$(date +%s%N)
"${train[@]}" --seed=2 > /dev/null 2>&1
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
start=$(date +%s%N)
"$cli" export --model=m.qmodel --out=/dev/null > /dev/null 2>&1
check_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# Each kill costs about a run plus the load that checks the file: about 120 s of them in all.
kills=$(( 120000 / (run_ms + check_ms + 1) ))
kills=$(( kills < 12 ? 12 : (kills > 40 ? 40 : kills) ))
echo "     one run takes $run_ms ms, a check $check_ms ms; $kills kills are spread over the runs"

torn=0 during_save=0
for i in $(seq 1 "$kills"); do
  "${train[@]}" --seed=$((i + 2)) > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ms="$run_ms" -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * (0.7 + r / 32768.0 * 0.5) / 1000 }')"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  ls m.qmodel.tmp-* > /dev/null 2>&1 && during_save=$((during_save + 1))
  if ! "$cli" export --model=m.qmodel --out=/dev/null > /dev/null 2>&1; then
    torn=$((torn + 1))
    echo "     after kill $i the model does not load: $("$cli" export --model=m.qmodel --out=/dev/null 2>&1 | tail -1)"
  fi
done
[ "$torn" -eq 0 ] && pass "after $kills kills -9 the model always loads (old or new, never torn)" || fail "$torn torn model files"
left=$(ls m.qmodel.tmp-* 2> /dev/null | wc -l)
echo "     $during_save of $kills kills landed during a save; $left temporary files are left"
expect "the next save completes" 0 "saved model" -- "${train[@]}" --seed=99
[ -z "$(ls m.qmodel.tmp-* 2> /dev/null)" ] && pass "no temporary file is left after the next save" \
  || fail "temporary files remain: $(ls m.qmodel.tmp-*)"
[ "$failures" -eq 0 ] && echo "all kill-during-save checks passed" || echo "$failures kill-during-save checks failed"
exit "$failures"
