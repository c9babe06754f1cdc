#!/usr/bin/env bash
# The benchmark of docs/performance.md: runs the already-built qplay-bench (the engine) and
# bench_torch.py (Debian's PyTorch) one after the other on this machine, then prints one table
#   workload | threads | QPlay | PyTorch | ratio | target
# and the performance targets with whether each is met. Builds nothing.
#
#   bash tools/bench/run.sh [path/to/qplay-bench] [--repetitions=10] [--threads=1,2]
#
# The default binary is build/native-release/tools/bench/qplay-bench (cmake --preset native-release
# && cmake --build --preset native-release). About 90 seconds on two idle cores.
#
# PyTorch's dense layers run on whatever libblas.so.3 it loads. Debian's reference (netlib) BLAS
# makes it about 20x slower than with OpenBLAS, which is what a PyTorch user has, so this script points
# PyTorch at OpenBLAS when it is installed (libopenblas0-openmp preferred, else libopenblas0-pthread),
# or at $QPLAY_TORCH_BLAS_DIR (a directory holding an OpenBLAS libblas.so.3), and warns when it can
# do neither.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=$root/build/native-release/tools/bench/qplay-bench
flags=()
for arg in "$@"; do
  case $arg in
    --repetitions=* | --threads=*) flags+=("$arg") ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown flag '$arg' (allowed: --repetitions=N --threads=1,2)" >&2; exit 2 ;;
    *) bench=$arg ;;
  esac
done
if [[ ! -x $bench ]]; then
  echo "run.sh: no qplay-bench at $bench; build it first (cmake --preset native-release &&" \
       "cmake --build --preset native-release) or pass its path" >&2
  exit 2
fi

# OpenBLAS's OpenMP build shares PyTorch's OpenMP threads; its pthread build brings a second pool
# that fights PyTorch's for the cores (measured: PyTorch at 2 threads then runs at half its 1-thread speed).
blas_dir=${QPLAY_TORCH_BLAS_DIR:-}
for variant in openmp pthread; do
  candidate=/usr/lib/$(uname -m)-linux-gnu/openblas-$variant
  if [[ -z $blas_dir && -e $candidate/libblas.so.3 ]]; then blas_dir=$candidate; fi
done
torch_env=()
if [[ -n $blas_dir ]]; then torch_env=(env "LD_LIBRARY_PATH=$blas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"); fi

out=$(mktemp -d /tmp/qplay-bench.XXXXXX)
echo "qplay bench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores;" \
     "raw JSON in $out" >&2

# Both sides must have the cores to themselves: other processes (and, in a VM, the hypervisor's
# steal) are measured over the run from /proc/stat and reported under the table.
busy_and_steal() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }
read -r busy_start steal_start < <(busy_and_steal)
start_ns=$(date +%s%N)

# The engine's memory figure comes from a fresh process: qplay-bench measures it first.
"$bench" --json "${flags[@]}" > "$out/qplay.json"
if [[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  "$bench" --json --only=w1-train-memory-fashion-mnist "${flags[@]}" > "$out/qplay-fashion-mnist.json"
fi
"${torch_env[@]}" /usr/bin/python3 "$here/bench_torch.py" --json "${flags[@]}" > "$out/torch.json"

read -r busy_end steal_end < <(busy_and_steal)
wall=$(( ($(date +%s%N) - start_ns) / 1000000 ))
# CPU seconds used by this script's children (the benchmarks): the second line of `times`, which
# must run in this shell, not in a $(...) subshell that has no children.
times > "$out/times"
own=$(tail -1 "$out/times" | awk '{ for (i = 1; i <= 2; ++i) { split($i, t, "m"); s += t[1] * 60 + t[2] }
                                     print s }')

# Combine the JSON of both sides into one table.
/usr/bin/python3 - "$out" "$(nproc)" "$(getconf CLK_TCK)" "$wall" "$own" "$busy_start" "$busy_end" \
  "$steal_start" "$steal_end" <<'EOF'
import json, os, sys

out = sys.argv[1]
cores, ticks, wall_ms = (int(x) for x in sys.argv[2:5])
own_seconds = float(sys.argv[5])
busy_start, busy_end, steal_start, steal_end = (int(x) for x in sys.argv[6:10])

rows = {}  # (workload, kernels, threads) -> result row of either JSON file
for name in ("qplay.json", "qplay-fashion-mnist.json", "torch.json"):
    if os.path.exists(os.path.join(out, name)):
        for r in json.load(open(os.path.join(out, name)))["results"]:
            rows[(r["workload"], r["kernels"], r["threads"])] = r
torch_info = json.load(open(os.path.join(out, "torch.json")))
threads = sorted({t for (_, kernels, t) in rows if kernels == "xnnpack"})

UNITS = {"w1-train": "samples/s", "w1-infer": "samples/s", "w2-train": "samples/s", "w2-infer": "samples/s",
         "w3": "ms per move", "w1-train-memory": "MiB peak RSS", "w1-train-memory-fashion-mnist": "MiB peak RSS"}
TARGETS = {"w1-train": "≥1.3x at best threads", "w2-train": "≥2x at best threads", "w3": "≤25 ms",
           "w1-train-memory": "<100 MiB", "w1-train-memory-fashion-mnist": "<100 MiB"}


def value(r):  # "12,345 ±3%": the median and half the min..max range in % of it
    if r is None:
        return "-"
    text = f"{r['median']:,.0f}" if r["unit"] == "samples/s" else f"{r['median']:.1f}"
    if len(r["values"]) > 1:
        text += f" ±{50 * (r['max'] - r['min']) / r['median']:.0f}%"
    return text


def ratio(ours, theirs):  # > 1 means QPlay is better
    if ours is None or theirs is None:
        return None
    higher_is_better = ours["unit"] == "samples/s"
    return ours["median"] / theirs["median"] if higher_is_better else theirs["median"] / ours["median"]


def best(workload, kernels):  # the thread count with the best median
    candidates = [rows[(workload, kernels, t)] for t in threads if (workload, kernels, t) in rows]
    if not candidates:
        return None
    pick = max if candidates[0]["unit"] == "samples/s" else min
    return pick(candidates, key=lambda r: r["median"])


def verdict(ok):
    return "met" if ok else "NOT MET"


table = [("workload", "threads", "QPlay", "PyTorch", "ratio", "target")]
for workload, unit in UNITS.items():
    for kernels, counts in (("xnnpack", threads), ("reference", [1])):
        for t in counts:
            ours = rows.get((workload, kernels, t))
            if ours is None:
                continue
            theirs = rows.get((workload, "torch", t))
            label = f"{workload} ({unit})" + (", reference kernels" if kernels == "reference" else "")
            if workload == "w3":
                label += f", chunk {ours['details']['chunk_size']}/{theirs['details']['chunk_size'] if theirs else '-'}"
            r = ratio(ours, theirs)
            target = TARGETS.get(workload, "") if kernels == "xnnpack" else ""
            table.append((label, str(t), value(ours), value(theirs), f"{r:.2f}x" if r else "-", target))
widths = [max(len(row[c]) for row in table) for c in range(6)]
left = (0, 5)  # workload and target read left-aligned, numbers right-aligned
for i, row in enumerate(table):
    cells = [cell.ljust(w) if c in left else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths))]
    print("| " + " | ".join(cells) + " |")
    if i == 0:
        print("|" + "|".join("-" * (w + 2) if c in left else "-" * (w + 1) + ":" for c, w in enumerate(widths)) + "|")
print("ratio: QPlay/PyTorch for samples/s, PyTorch/QPlay for ms and MiB, so > 1 means QPlay is better;"
      " ± is half the min..max range over the repetitions")

print("\ntargets")
for workload, goal in (("w1-train", 1.3), ("w2-train", 2.0)):
    ours, theirs = best(workload, "xnnpack"), best(workload, "torch")
    if ours and theirs:
        r = ratio(ours, theirs)
        print(f"  {workload}: QPlay {ours['median']:,.0f} ({ours['threads']}t) vs PyTorch {theirs['median']:,.0f}"
              f" ({theirs['threads']}t) = {r:.2f}x, target ≥{goal}x: {verdict(r >= goal)}")
ours = best("w3", "xnnpack")
if ours:
    print(f"  w3: {ours['median']:.1f} ms ({ours['threads']}t, chunk {ours['details']['chunk_size']}),"
          f" target ≤25 ms: {verdict(ours['median'] <= 25)}")
for workload in ("w1-train-memory", "w1-train-memory-fashion-mnist"):
    ours = best(workload, "xnnpack")
    if ours:
        print(f"  {workload}: {ours['median']:.1f} MiB, target <100 MiB: {verdict(ours['median'] < 100)}")
if len(threads) > 1:
    lo, hi = min(threads), max(threads)
    for workload in ("w1-train", "w1-infer", "w2-train", "w2-infer", "w3"):
        one, many = rows.get((workload, "xnnpack", lo)), rows.get((workload, "xnnpack", hi))
        if one and many:
            speedup = ratio(many, one)
            print(f"  {workload}: {hi} threads / {lo} thread = {speedup:.2f}x, target ≥1 (never slower):"
                  f" {verdict(speedup >= 1.0)}")

print("\nearlier PyTorch 1.13 figures on this machine class (1 thread): w1-train ~67,000 samples/s,"
      " w2-train ~7,800 samples/s, w3 ~58 ms")
blas = [path for path in torch_info["blas"] if "lapack" not in path]
print(f"PyTorch {torch_info['torch_version']}, BLAS: {', '.join(blas) or 'none found'}")
if not any("openblas" in path for path in torch_info["blas"]):
    print("WARNING: PyTorch ran on the reference (netlib) BLAS, about 20x slower than with OpenBLAS: the ratios"
          " flatter QPlay. Install libopenblas0-openmp or set QPLAY_TORCH_BLAS_DIR.")
elif any("openblas-pthread" in path for path in torch_info["blas"]) and len(threads) > 1:
    print("WARNING: PyTorch ran on OpenBLAS's pthread build, whose thread pool fights PyTorch's OpenMP one:"
          " its 2-thread numbers are too low. Install libopenblas0-openmp.")
capacity = cores * wall_ms / 1000
others = max(0.0, (busy_end - busy_start) / ticks - own_seconds) / capacity
steal = (steal_end - steal_start) / ticks / capacity
print(f"run: {wall_ms / 1000:.0f} s; other processes used {100 * others:.0f}% of the {cores} cores meanwhile,"
      f" hypervisor steal {100 * steal:.0f}%")
if others + steal > 0.05:
    print("WARNING: the cores were not ours alone during the run: the numbers are low and noisy, the"
          " 2-thread ones most of all (a descheduled pool worker stalls every parallel call).")
EOF
