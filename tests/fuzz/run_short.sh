#!/bin/sh
# A short fuzz run for ctest (tests/fuzz/CMakeLists.txt): creates the scratch corpus and the findings
# folder, then fuzzes from the scratch corpus and the committed seeds. libFuzzer writes new inputs into
# the first corpus folder only, so the seeds are never changed; a finding lands in the findings folder
# and makes libFuzzer, and so the test, fail.
#   run_short.sh <fuzz binary> <scratch corpus dir> <findings dir> <seed corpus dir> [libFuzzer flags...]
set -eu
binary=$1 scratch=$2 findings=$3 seeds=$4
shift 4
mkdir -p "$scratch" "$findings"
exec "$binary" "$@" -artifact_prefix="$findings/" "$scratch" "$seeds"
