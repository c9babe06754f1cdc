#!/usr/bin/env bash
# The benchmark of docs/performance.md: runs the already-built qplay-bench natively, the WebAssembly
# qplay-bench.js under node, and bench_torch.py (Debian's PyTorch), one after the other on this
# machine, then prints one table
#   workload | build | kernels | threads | QPlay | PyTorch | ratio | target
# then ONNX Runtime (onnxruntime-node natively, onnxruntime-web in WebAssembly under node) on PyTorch's
# inference networks exported to ONNX (bench_onnxruntime.mjs), with its own table, and the performance
# targets with whether each is met. Builds nothing.
#
#   bash tools/bench/run.sh [NATIVE_BENCH [WASM_BENCH_JS]] [--repetitions=10] [--threads=1,2]
#                           [--kernels=auto]
#
# NATIVE_BENCH defaults to build/native-release/tools/bench/qplay-bench (cmake --preset
# native-release && cmake --build --preset native-release), WASM_BENCH_JS to
# build/wasm/tools/bench/qplay-bench.js (cmake --preset wasm && cmake --build --preset wasm). The
# WebAssembly build has no threads, so it runs at 1 thread whatever --threads says; when it (or
# node) is missing the rest still runs and the output says how to build it. --kernels names the
# native kernel table (default auto: the fastest; e.g. xnnpack); WASM runs auto (simd128).
# About 3 minutes on two idle cores.
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
wasm_bench=$root/build/wasm/tools/bench/qplay-bench.js
flags=()           # for both native sides (qplay-bench and PyTorch)
wasm_flags=()      # for qplay-bench.js: no threads, no --kernels
native_only=()     # --kernels
paths=0
for arg in "$@"; do
  case $arg in
    --repetitions=*) flags+=("$arg"); wasm_flags+=("$arg") ;;
    --threads=*) flags+=("$arg") ;;
    --kernels=*) native_only+=("$arg") ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown flag '$arg' (allowed: --repetitions=N --threads=1,2 --kernels=NAME)" >&2; exit 2 ;;
    *)
      case $paths in
        0) bench=$arg ;;
        1) wasm_bench=$arg ;;
        *) echo "run.sh: at most two paths (native qplay-bench, then wasm qplay-bench.js), got '$arg'" >&2; exit 2 ;;
      esac
      paths=$((paths + 1)) ;;
  esac
done
if [[ ! -x $bench ]]; then
  echo "run.sh: no qplay-bench at $bench; build it first (cmake --preset native-release &&" \
       "cmake --build --preset native-release) or pass its path" >&2
  exit 2
fi
# Why the WebAssembly rows are missing, if they are: printed under the table too.
wasm_missing=
if [[ ! -f $wasm_bench ]]; then
  wasm_missing="no WebAssembly qplay-bench at $wasm_bench; build it with \`cmake --preset wasm && cmake --build --preset wasm\` (or pass its path as the second argument)"
elif ! command -v node > /dev/null; then
  wasm_missing="node is not installed, so the WebAssembly qplay-bench at $wasm_bench cannot run"
fi
if [[ -n $wasm_missing ]]; then echo "run.sh: $wasm_missing; running the rest" >&2; fi

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
"$bench" --json "${native_only[@]}" "${flags[@]}" > "$out/qplay.json"
if [[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  "$bench" --json --only=w1-train-memory-fashion-mnist "${native_only[@]}" "${flags[@]}" \
    > "$out/qplay-fashion-mnist.json"
fi
node_version=-
if [[ -z $wasm_missing ]]; then
  node_version=$(node --version)
  node "$wasm_bench" --json --threads=1 "${wasm_flags[@]}" > "$out/wasm.json"
  # The WebAssembly build reads no gzip: its Fashion-MNIST row needs the uncompressed copies that the
  # wasm test build writes beside it (<build>/tests/fashion-mnist), and is left out without them.
  wasm_fashion=$(cd "$(dirname "$wasm_bench")/../.." && pwd)/tests/fashion-mnist
  if [[ -e $wasm_fashion/train-images-idx3-ubyte ]]; then
    node "$wasm_bench" --json --threads=1 --only=w1-train-memory-fashion-mnist --fashion-mnist="$wasm_fashion" \
      > "$out/wasm-fashion-mnist.json"
  fi
fi
"${torch_env[@]}" /usr/bin/python3 "$here/bench_torch.py" --json "${flags[@]}" > "$out/torch.json"
# ONNX Runtime, the stronger inference reference: PyTorch's W1 and W2 networks exported to ONNX and run by
# onnxruntime-node (native) and onnxruntime-web (WebAssembly under node), from tools/setup.sh's npm ci.
onnx_missing=
if ! command -v node > /dev/null; then
  onnx_missing="node is not installed"
elif [[ ! -d $root/node_modules/onnxruntime-node || ! -d $root/node_modules/onnxruntime-web ]]; then
  onnx_missing="onnxruntime-node/-web are not in node_modules (bash tools/setup.sh installs them)"
fi
if [[ -z $onnx_missing ]]; then
  "${torch_env[@]}" /usr/bin/python3 "$here/bench_torch.py" --export-onnx "$out/onnx" 2> /dev/null
  node "$here/bench_onnxruntime.mjs" "$out/onnx" --json "${flags[@]}" > "$out/onnxruntime.json"
else
  echo "run.sh: $onnx_missing; the ONNX Runtime rows are left out" >&2
fi

read -r busy_end steal_end < <(busy_and_steal)
wall=$(( ($(date +%s%N) - start_ns) / 1000000 ))
# CPU seconds used by this script's children (the benchmarks): the second line of `times`, which
# must run in this shell, not in a $(...) subshell that has no children.
times > "$out/times"
own=$(tail -1 "$out/times" | awk '{ for (i = 1; i <= 2; ++i) { split($i, t, "m"); s += t[1] * 60 + t[2] }
                                     print s }')

# Combine the JSON of all sides into one table.
/usr/bin/python3 - "$out" "$(nproc)" "$(getconf CLK_TCK)" "$wall" "$own" "$busy_start" "$busy_end" \
  "$steal_start" "$steal_end" "$wasm_missing" "$node_version" "$onnx_missing" <<'EOF'
import json, os, sys

out = sys.argv[1]
cores, ticks, wall_ms = (int(x) for x in sys.argv[2:5])
own_seconds = float(sys.argv[5])
busy_start, busy_end, steal_start, steal_end = (int(x) for x in sys.argv[6:10])
wasm_missing, node_version, onnx_missing = sys.argv[10], sys.argv[11], sys.argv[12]

# (build, workload, role, threads) -> result row. build: "native" | "wasm" | "torch"; role: "main"
# (the --kernels table) | "reference" (the engine's plain C++ table, for scale).
rows = {}
documents = {}
for build, names in (("native", ("qplay.json", "qplay-fashion-mnist.json")),
                     ("wasm", ("wasm.json", "wasm-fashion-mnist.json")), ("torch", ("torch.json",))):
    for name in names:
        if os.path.exists(os.path.join(out, name)):
            document = json.load(open(os.path.join(out, name)))
            documents.setdefault(build, document)
            for r in document["results"]:
                role = r.get("role", "reference" if r["kernels"] == "reference" else "main")
                rows[(build, r["workload"], role, r["threads"])] = r
onnx_version = None
if os.path.exists(os.path.join(out, "onnxruntime.json")):
    document = json.load(open(os.path.join(out, "onnxruntime.json")))
    onnx_version = document["onnxruntime_version"]
    for r in document["results"]:  # build "onnxruntime" (native) or "onnxruntime-web" (WebAssembly)
        rows[(r["kernels"], r["workload"], "main", r["threads"])] = r
torch_info = documents["torch"]
threads = sorted({t for (build, _, role, t) in rows if build == "native" and role == "main"})

UNITS = {"w1-train": "samples/s", "w1-infer": "samples/s", "w2-train": "samples/s", "w2-infer": "samples/s",
         "w3": "ms per move", "w3-w4a8": "ms per move, W4A8 through real int8 inference",
         "w3-first-readout": "ms to the first 1,000-sample read-out",
         "w1-train-qreg": "samples/s, QReg (8-bit QAT) step",
         "w1-train-gradl1": "samples/s, exact gradient-l1 step",
         "w1-train-symreg": "samples/s, SymReg + SatNL step",
         "w1-train-cpq": "samples/s, CPQ + DropBits step",
         "w1-train-raq": "samples/s, RAQ 2-bit step",
         "w4-lab-slider": "ms until 3 runs are evaluated at a new slider setting, in 8 ms frames",
         "w1-train-memory": "MiB peak RSS", "w1-train-memory-fashion-mnist": "MiB peak RSS"}
# A wasm module cannot see its RSS: qplay-bench.js reports the size of its linear memory instead.
WASM_UNITS = dict(UNITS, **{"w1-train-memory": "MiB wasm heap pages, not RSS",
                            "w1-train-memory-fashion-mnist": "MiB wasm heap pages, not RSS"})
TARGETS = {"w1-train": "≥1.5x at best threads", "w2-train": "≥2x at best threads", "w3": "≤25 ms",
           "w3-w4a8": "≤10 ms at 2 threads",
           "w3-first-readout": "≤16 ms (one frame)", "w4-lab-slider": "≤100 ms",
           "w1-train-memory": "<100 MiB", "w1-train-memory-fashion-mnist": "<100 MiB"}
WASM_TARGETS = {"w1-train": 20000, "w2-train": 5000}  # issue 16 raised W2 from 3,000  # samples/s, WASM under node, 1 thread
TFJS_NOTE = {"w1-train": "TensorFlow.js 4.22's WASM backend: about 660 samples/s (a note, not measured here)",
             "w2-train": "TensorFlow.js 4.22's WASM backend cannot train W2"}


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


def best(build, workload, role="main"):  # the thread count with the best median
    candidates = [r for (b, w, o, _), r in rows.items() if (b, w, o) == (build, workload, role)]
    if not candidates:
        return None
    pick = max if candidates[0]["unit"] == "samples/s" else min
    return pick(candidates, key=lambda r: r["median"])


def verdict(ok):
    return "met" if ok else "NOT MET"


table = [("workload", "build", "kernels", "threads", "QPlay", "PyTorch", "ratio", "target")]
for workload in UNITS:
    for build, role, counts in (("native", "main", threads), ("native", "reference", [1]),
                                ("wasm", "main", [1]), ("wasm", "reference", [1])):
        for t in counts:
            ours = rows.get((build, workload, role, t))
            if ours is None:
                continue
            unit = (WASM_UNITS if build == "wasm" else UNITS)[workload]
            # WASM heap pages and PyTorch's peak RSS are different quantities: no ratio between them.
            comparable = not (build == "wasm" and workload.startswith("w1-train-memory"))
            theirs = rows.get(("torch", workload, "main", t)) if comparable else None
            label = f"{workload} ({unit})"
            if workload == "w3":
                label += f", chunk {ours['details']['chunk_size']}/{theirs['details']['chunk_size'] if theirs else '-'}"
            r = ratio(ours, theirs)
            target = ""
            if role == "main" and build == "native":
                target = TARGETS.get(workload, "")
            elif role == "main" and workload in WASM_TARGETS:
                target = f"≥{WASM_TARGETS[workload]:,} samples/s (WASM)"
            elif role == "main" and workload == "w3-w4a8":
                target = "≤40 ms (WASM)"
            table.append((label, "wasm/node" if build == "wasm" else build, ours["kernels"], str(t), value(ours),
                          value(theirs), f"{r:.2f}x" if r else "-", target))
widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
left = (0, 1, 2, 7)  # text columns read left-aligned, numbers right-aligned
for i, row in enumerate(table):
    cells = [cell.ljust(w) if c in left else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths))]
    print("| " + " | ".join(cells) + " |")
    if i == 0:
        print("|" + "|".join("-" * (w + 2) if c in left else "-" * (w + 1) + ":" for c, w in enumerate(widths)) + "|")
print("ratio: QPlay/PyTorch for samples/s, PyTorch/QPlay for ms and MiB, so > 1 means QPlay is better;"
      " ± is half the min..max range over the repetitions")
if "wasm" in documents:
    print(f"wasm/node: qplay-bench.js under node {node_version}, 1 thread (the WebAssembly build has no threads);"
          " its PyTorch column is PyTorch at 1 thread, natively")
    if documents["wasm"].get("skipped"):
        print("wasm/node skipped: " + "; ".join(documents["wasm"]["skipped"]))
else:
    print(f"WASM rows missing: {wasm_missing or 'qplay-bench.js gave no results'}")

if onnx_version:
    print(f"\ninference against ONNX Runtime {onnx_version} (PyTorch's networks exported to ONNX; same batches)")
    onnx_table = [("workload", "build", "threads", "QPlay", "ONNX Runtime", "ratio")]
    for workload in ("w1-infer", "w2-infer"):
        for build, reference, counts in (("native", "onnxruntime", threads), ("wasm", "onnxruntime-web", [1])):
            for t in counts:
                ours, theirs = rows.get((build, workload, "main", t)), rows.get((reference, workload, "main", t))
                r = ratio(ours, theirs)
                onnx_table.append((workload, f"{build} vs {reference}", str(t), value(ours), value(theirs),
                                   f"{r:.2f}x" if r else "-"))
    widths = [max(len(row[c]) for row in onnx_table) for c in range(len(onnx_table[0]))]
    for i, row in enumerate(onnx_table):
        print("| " + " | ".join(cell.ljust(w) if c < 2 else cell.rjust(w)
                                for c, (cell, w) in enumerate(zip(row, widths))) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) if c < 2 else "-" * (w + 1) + ":" for c, w in enumerate(widths)) + "|")
else:
    print(f"\nONNX Runtime rows missing: {onnx_missing or 'bench_onnxruntime.mjs gave no results'}")

print("\ntargets")
for workload, goal in (("w1-train", 1.5), ("w2-train", 2.0)):
    ours, theirs = best("native", workload), best("torch", workload)
    if ours and theirs:
        r = ratio(ours, theirs)
        print(f"  {workload}: QPlay {ours['median']:,.0f} ({ours['threads']}t, {ours['kernels']}) vs PyTorch"
              f" {theirs['median']:,.0f} ({theirs['threads']}t) = {r:.2f}x, target ≥{goal}x: {verdict(r >= goal)}")
for workload in ("w1-infer", "w2-infer"):
    ours, theirs = best("native", workload), best("onnxruntime", workload)
    if ours and theirs:
        r = ratio(ours, theirs)
        print(f"  {workload}: QPlay {ours['median']:,.0f} ({ours['threads']}t, {ours['kernels']}) vs ONNX Runtime"
              f" {theirs['median']:,.0f} ({theirs['threads']}t) = {r:.2f}x, target ≥1x: {verdict(r >= 1.0)}")
ours = best("native", "w3")
if ours:
    print(f"  w3: {ours['median']:.1f} ms ({ours['threads']}t, chunk {ours['details']['chunk_size']}),"
          f" target ≤25 ms: {verdict(ours['median'] <= 25)}")
for build, t, goal in (("native", 2, 10), ("wasm", 1, 40)):  # the int8 slider, beside the float w3 of the same run
    ours, float_move = rows.get((build, "w3-w4a8", "main", t)), rows.get((build, "w3", "main", t))
    if ours:
        d = ours["details"]
        against = f", {float_move['median'] / ours['median']:.2f}x faster than float w3 ({float_move['median']:.1f} ms)" if float_move else ""
        print(f"  w3-w4a8 ({build}, {d['int8_gemm']}): {ours['median']:.1f} ms ({t}t: calibrate {d['calibrate_ms']:.1f},"
              f" evaluate {d['evaluate_int8_ms']:.1f}){against}, target ≤{goal} ms: {verdict(ours['median'] <= goal)}")
ours = best("native", "w3-first-readout")
if ours:
    print(f"  w3 first read-out ({ours['details']['samples']:.0f} samples): {ours['median']:.1f} ms ({ours['threads']}t),"
          f" target ≤16 ms: {verdict(ours['median'] <= 16)}")
for build in ("native", "wasm"):
    ours = best(build, "w4-lab-slider")
    if ours:
        d = ours["details"]
        print(f"  w4 lab slider ({build}): {ours['median']:.1f} ms over {d['frames']:.0f} frames of {d['frame_budget_ms']:.0f} ms"
              f" ({ours['threads']}t); direct evaluation of the same {d['runs']:.0f} runs {d['direct_ms']:.1f} ms"
              f" = {ours['median'] / d['direct_ms']:.2f}x; target ≤100 ms: {verdict(ours['median'] <= 100)}")
for workload in ("w1-train-memory", "w1-train-memory-fashion-mnist"):
    ours = best("native", workload)
    if ours:
        print(f"  {workload}: {ours['median']:.1f} MiB, target <100 MiB: {verdict(ours['median'] < 100)}")
# Each method's step against plain W1 steps timed back to back with it (qplay-bench's details.step_cost:
# the median of the per-repetition ratios, so both saw the same load). Targets of issue 16; None: reported.
METHOD_STEP_TARGETS = {"w1-train-gradl1": 2.35, "w1-train-symreg": 2.0, "w1-train-raq": 3.0,
                       "w1-train-cpq": None, "w1-train-qreg": None}
for workload, goal in METHOD_STEP_TARGETS.items():
    for t in threads:
        ours = rows.get(("native", workload, "main", t))
        if ours is None:
            continue
        d = ours["details"]
        cost = d["step_cost"]
        line = (f"  {workload[len('w1-train-'):]} step cost ({t}t): {cost:.2f}x a plain W1 step"
                f" (range {d['step_cost_min']:.2f}-{d['step_cost_max']:.2f}, {d['settings']})")
        line += f", target ≤{goal}x: {verdict(cost <= goal)}" if goal else ", no target"
        if workload == "w1-train-gradl1":
            torch_plain, torch_regularized = rows.get(("torch", "w1-train", "main", t)), rows.get(("torch", workload, "main", t))
            if torch_plain and torch_regularized:
                line += f"; PyTorch double backprop {ratio(torch_plain, torch_regularized):.2f}x"
        print(line)
if len(threads) > 1:
    lo, hi = min(threads), max(threads)
    for workload in ("w1-train", "w1-infer", "w2-train", "w2-infer", "w3"):
        one, many = rows.get(("native", workload, "main", lo)), rows.get(("native", workload, "main", hi))
        if one and many:
            speedup = ratio(many, one)
            print(f"  {workload}: {hi} threads / {lo} thread = {speedup:.2f}x, target ≥1 (never slower):"
                  f" {verdict(speedup >= 1.0)}")
for workload, goal in WASM_TARGETS.items():
    ours = rows.get(("wasm", workload, "main", 1))
    if ours is None:
        print(f"  wasm {workload}: not measured, target ≥{goal:,} samples/s; {TFJS_NOTE[workload]}")
        continue
    native = rows.get(("native", workload, "main", 1))
    versus_native = f", {ratio(ours, native):.2f}x native {native['kernels']} at 1 thread" if native else ""
    print(f"  wasm {workload}: {ours['median']:,.0f} samples/s ({ours['kernels']} under node{versus_native}),"
          f" target ≥{goal:,}: {verdict(ours['median'] >= goal)}; {TFJS_NOTE[workload]}")
# The linear memory never shrinks, so its size after the run is the run's peak (an upper bound of it: it
# grows in steps). The target is W1 training's; the Fashion-MNIST epoch also holds the data set.
for workload, goal in (("w1-train-memory", 100), ("w1-train-memory-fashion-mnist", None)):
    ours = rows.get(("wasm", workload, "main", 1))
    if ours:
        target = f"target <{goal} MiB: {verdict(ours['median'] < goal)}" if goal else "no target, for information"
        print(f"  wasm {workload}: {ours['median']:.1f} MiB of wasm linear memory after the run (heap pages, not"
              f" RSS; {target})")

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

# The browser app in Debian's chromium with software WebGL (bench_browser.mjs): the first view's training
# against the same lab under node, measured in that run, and the sliders' latency. Needs the wasm build,
# chromium and playwright-core (tools/setup.sh).
web_dir=$(cd "$(dirname "$wasm_bench")/../.." && pwd)/web
if [[ -z $wasm_missing && -x /usr/bin/chromium && -d $root/node_modules/playwright-core && -f $web_dir/app/qplay-app.wasm ]]; then
  echo
  node "$here/bench_browser.mjs" "$web_dir"
else
  echo
  echo "browser rows left out: they need the wasm build (with the app), /usr/bin/chromium and playwright-core (tools/setup.sh)"
fi
