#!/usr/bin/env bash
# Builds the fuzz targets (preset fuzz: clang-14, libFuzzer, ASan + UBSan) and fuzzes each of them, then
# prints per target what it did and whether it found anything. Exits 1 if any target found something.
#
#   tools/fuzz/run.sh [options] [seconds-per-target] [target...]
#     seconds-per-target   how long each target fuzzes (default 60)
#     target...            fuzz_idx_reader, fuzz_model_file, ... (default: every target of the build)
#     --runs=N             fuzz each target for N executions instead of a time
#     --parallel=P         targets fuzzed at once (default: nproc); one process each, one core each
#     --merge              afterwards, add the inputs that found new coverage to tests/fuzz/corpus/<target>
#     --no-build           use the existing build/fuzz
#
# Each target starts from a fresh scratch copy of its committed corpus (build/fuzz/run/<target>/corpus);
# the committed corpus changes only with --merge. Findings (crash-*, leak-*, timeout-*, oom-* files) go to
# build/fuzz/findings/<target>/, the fuzzer's output to build/fuzz/run/<target>/fuzz.log. Flags (memory and
# time limits, dictionary) come from build/fuzz/tests/fuzz/<target>.flags, which CMake writes, so these runs
# and ctest's short runs use the same ones. Reproduce a finding with: build/fuzz/tests/fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

seconds=60 runs= parallel=$(nproc) merge=0 build=1 targets=()
for argument in "$@"; do
  case "$argument" in
    --runs=*) runs=${argument#--runs=} ;;
    --parallel=*) parallel=${argument#--parallel=} ;;
    --merge) merge=1 ;;
    --no-build) build=0 ;;
    --help | -h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $argument (see --help)" >&2; exit 2 ;;
    *[!0-9]*) targets+=("$argument") ;;
    *) seconds=$argument ;;
  esac
done

if [ "$build" -eq 1 ]; then
  echo "== building the fuzz targets (cmake --preset fuzz)"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)"
fi
bin_dir=$root/build/fuzz/tests/fuzz
if [ ${#targets[@]} -eq 0 ]; then
  for flags_file in "$bin_dir"/*.flags; do targets+=("$(basename "$flags_file" .flags)"); done
fi
for target in "${targets[@]}"; do
  if [ ! -x "$bin_dir/$target" ] || [ ! -f "$bin_dir/$target.flags" ]; then
    echo "run.sh: no fuzz target '$target' in $bin_dir" >&2
    exit 2
  fi
done

if [ -n "$runs" ]; then limit=(-runs="$runs"); about="$runs executions"; else limit=(-max_total_time="$seconds"); about="${seconds} s"; fi
echo "== fuzzing ${#targets[@]} targets, $about each, $parallel at a time"

fuzz_one() {  # fuzz_one <target>: one libFuzzer process on a fresh scratch corpus
  local target=$1 work=$root/build/fuzz/run/$1 findings=$root/build/fuzz/findings/$1
  rm -rf "$work"
  mkdir -p "$work/corpus" "$findings"
  cp "$root/tests/fuzz/corpus/$target"/* "$work/corpus/"
  touch "$work/started"
  # shellcheck disable=SC2046  # the flags file holds several flags
  "$bin_dir/$target" $(cat "$bin_dir/$target.flags") "${limit[@]}" -print_final_stats=1 \
    -artifact_prefix="$findings/" "$work/corpus" >"$work/fuzz.log" 2>&1 || true
}

running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
  echo "   $target"
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
status=0
printf '\n%-22s %12s %8s %7s %7s %8s  %s\n' target executions exec/s cov ft corpus findings
for target in "${targets[@]}"; do
  work=$root/build/fuzz/run/$target log=$root/build/fuzz/run/$target/fuzz.log
  executions=$(stat_of number_of_executed_units "$log")
  speed=$(stat_of average_exec_per_sec "$log")
  # The last status line: "#1000000 DONE cov: 2058 ft: 5716 corp: 360/605Kb ..."
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  mapfile -t found < <(find "$root/build/fuzz/findings/$target" -maxdepth 1 -newer "$work/started" -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if ! grep -q '^Done [0-9]* runs' "$log" && [ ${#found[@]} -eq 0 ]; then
    found=("(libFuzzer stopped early; see $log)")
  fi
  printf '%-22s %12s %8s %7s %7s %8s  %s\n' "$target" "${executions:--}" "${speed:--}" "${cov:--}" \
    "${features:--}" "${corpus:--}" "${#found[@]}"
  for finding in "${found[@]}"; do echo "    found: $finding"; done
  [ ${#found[@]} -eq 0 ] || status=1
  if [ "$merge" -eq 1 ]; then
    # Only inputs that add coverage to the committed corpus are copied into it.
    "$bin_dir/$target" $(cat "$bin_dir/$target.flags") -merge=1 "$root/tests/fuzz/corpus/$target" \
      "$work/corpus" >"$work/merge.log" 2>&1
    echo "    merged: $(sed -n 's/.*MERGE-OUTER: \([0-9]*\) new files.*/\1/p' "$work/merge.log") new inputs" \
      "into tests/fuzz/corpus/$target"
  fi
done
if [ "$status" -ne 0 ]; then
  echo "== findings above: reproduce with build/fuzz/tests/fuzz/<target> <file>, minimize with -minimize_crash=1"
else
  echo "== no findings"
fi
exit "$status"
