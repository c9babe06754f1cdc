#!/usr/bin/python3
"""PyTorch reference for qplay-bench: the same workloads, shapes and repetition scheme as
tools/bench/bench_engine.cpp, so tools/bench/run.sh can print the two side by side.

  w1-train   784-256-256-10 MLP, ReLU, batch 128: forward + cross-entropy + backward + SGD momentum
  w1-infer   the same network, forward only (torch.inference_mode), batch 128
  w2-train   conv3x3(16, pad 1)-ReLU-maxpool2-conv3x3(32, pad 1)-ReLU-maxpool2-dense(10), batch 64
  w2-infer   the same network, forward only, batch 64
  w3         one slider move: every weight of a W1 model quantized per output channel to 4 bits
             (symmetric, min-max, codes -7..7; biases float), then loss and accuracy on 10,000 test
             samples; every chunk size of CHUNK_SIZES is tried and the fastest reported
  w1-train-memory  peak RSS of this process after W1 training (run first; includes `import torch`)

With --export-onnx DIR it writes the W1 and W2 networks as ONNX files for bench_onnxruntime.mjs (ONNX
Runtime, the stronger inference reference) and measures nothing.

Data are uniform random pixels and labels from a fixed seed. Images are NCHW here (PyTorch's native
layout) and NHWC in the engine. Run with Debian's python3-torch: /usr/bin/python3 bench_torch.py.
Not a test and not a profiler: numbers only.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10
TEST_SAMPLES = 10000
SEED = 20240611
CHUNK_SIZES = [256, 500, 1000, 2000, 5000, 10000]
# name, input shape (no batch), batch, pool batches, train steps and forward passes per repetition:
# the same as kW1 / kW2 in bench_engine.cpp.
W1 = dict(name="w1", shape=(784,), batch=128, pool_batches=64, train_steps=40, infer_steps=100)
W2 = dict(name="w2", shape=(1, 28, 28), batch=64, pool_batches=64, train_steps=20, infer_steps=40)


def loaded_blas_libraries():
    """Paths of the BLAS libraries this process has mapped: Debian's torch takes whichever libblas.so.3
    the alternatives system (or LD_LIBRARY_PATH) gives it, and the reference (netlib) one is about 20x
    slower than OpenBLAS on these shapes."""
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})


# OpenBLAS's pthread build keeps its own thread pool, which torch.set_num_threads does not reach
# (its OpenMP build follows omp_set_num_threads anyway; setting it twice is harmless).
OPENBLAS = next((ctypes.CDLL(path) for path in loaded_blas_libraries() if "libopenblas" in path), None)


def set_threads(threads):
    torch.set_num_threads(threads)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(threads)


def make_model(spec):
    torch.manual_seed(SEED)
    if spec["name"] == "w1":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, CLASSES))


def random_samples(count, shape, seed):
    generator = torch.Generator().manual_seed(seed)
    features = torch.rand((count, *shape), generator=generator)
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    return features, labels


def measure(name, repetitions, fn):
    """Seconds per unit of work for each timed call of fn, after one untimed warm-up call. fn does one
    repetition's work and returns how many units (samples, slider moves) that was."""
    print(f"  {name:<40}", end="", file=sys.stderr, flush=True)
    seconds_per_unit, seconds_per_repetition = [], []
    for r in range(-1, repetitions):
        start = time.perf_counter()
        units = fn()
        seconds = time.perf_counter() - start
        if r >= 0:  # r = -1 is the warm-up
            seconds_per_unit.append(seconds / units)
            seconds_per_repetition.append(seconds)
    print(f" {1e3 * statistics.median(seconds_per_repetition):8.1f} ms per repetition (median)", file=sys.stderr)
    return seconds_per_unit


def row(workload, threads, unit, values, **details):
    return dict(workload=workload, kernels="torch", threads=threads, unit=unit, median=statistics.median(values),
                min=min(values), max=max(values), values=values, details=details)


def training_loop(spec, model, pool):
    features, labels = pool
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch, step = spec["batch"], 0
    state = {"loss": 0.0}

    def run(steps):
        nonlocal step
        for _ in range(steps):
            first = (step % spec["pool_batches"]) * batch
            loss = F.cross_entropy(model(features[first:first + batch]), labels[first:first + batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        state["loss"] = loss.item()
        return steps * batch

    return run, state


def bench_training(spec, threads, repetitions):
    set_threads(threads)
    pool = random_samples(spec["batch"] * spec["pool_batches"], spec["shape"], SEED)
    run, state = training_loop(spec, make_model(spec), pool)
    timings = measure(f"{spec['name']}-train torch {threads}t", repetitions, lambda: run(spec["train_steps"]))
    return row(f"{spec['name']}-train", threads, "samples/s", [1 / s for s in timings], batch=spec["batch"],
               final_loss=state["loss"])


def bench_gradient_l1_training(threads, repetitions, lam=0.01):
    """W1 training with the gradient-l1 penalty by double backprop (the paper's way): weight and
    activation terms as QPlay computes them (the inputs of the 2nd and 3rd linear layers)."""
    set_threads(threads)
    spec = W1
    features, labels = random_samples(spec["batch"] * spec["pool_batches"], spec["shape"], SEED)
    model = make_model(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    weighted = [i for i, m in enumerate(model) if isinstance(m, torch.nn.Linear)]
    batch, step, steps = spec["batch"], 0, max(1, spec["train_steps"] // 2)
    state = {"loss": 0.0}

    def run():
        nonlocal step
        for _ in range(steps):
            first = (step % spec["pool_batches"]) * batch
            h, activations = features[first:first + batch], []
            for i, module in enumerate(model):
                if i in weighted[1:]:
                    activations.append(h)
                h = module(h)
            loss = F.cross_entropy(h, labels[first:first + batch])
            grads = torch.autograd.grad(loss, weights + activations, create_graph=True)
            penalty = lam * sum(g.abs().sum() for g in grads)
            optimizer.zero_grad(set_to_none=True)
            (loss + penalty).backward()
            optimizer.step()
            step += 1
        state["loss"] = loss.item()
        return steps * batch

    timings = measure(f"w1-train-gradl1 torch {threads}t", repetitions, run)
    return row("w1-train-gradl1", threads, "samples/s", [1 / s for s in timings], batch=batch,
               final_loss=state["loss"])


def bench_inference(spec, threads, repetitions):
    set_threads(threads)
    features, _ = random_samples(spec["batch"] * spec["pool_batches"], spec["shape"], SEED)
    model, batch, step = make_model(spec), spec["batch"], 0

    def run():
        nonlocal step
        with torch.inference_mode():
            for _ in range(spec["infer_steps"]):
                first = (step % spec["pool_batches"]) * batch
                model(features[first:first + batch])
                step += 1
        return spec["infer_steps"] * batch

    timings = measure(f"{spec['name']}-infer torch {threads}t", repetitions, run)
    return row(f"{spec['name']}-infer", threads, "samples/s", [1 / s for s in timings], batch=batch)


def quantize_per_channel_symmetric(weight, bits):
    """Fake quantization on the restricted symmetric grid: s = max|w| / (2^(b-1) - 1) per output channel."""
    q_max = 2 ** (bits - 1) - 1
    rows = weight.reshape(weight.shape[0], -1)
    scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny) / q_max
    return (torch.round(rows / scale).clamp_(-q_max, q_max) * scale).reshape(weight.shape)


def bench_slider_move(threads, repetitions, bits=4):
    set_threads(threads)
    test_features, test_labels = random_samples(TEST_SAMPLES, W1["shape"], SEED + 1)
    master, view = make_model(W1), make_model(W1)
    best, by_chunk = None, {}
    for chunk in CHUNK_SIZES:
        accuracy = 0.0

        def move():
            nonlocal accuracy
            with torch.inference_mode():
                for (name, source), target in zip(master.named_parameters(), view.parameters()):
                    is_weight = name.endswith("weight")
                    target.copy_(quantize_per_channel_symmetric(source, bits) if is_weight else source)
                loss_sum, correct = 0.0, 0
                for first in range(0, TEST_SAMPLES, chunk):
                    logits = view(test_features[first:first + chunk])
                    labels = test_labels[first:first + chunk]
                    loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
                    correct += (logits.argmax(dim=1) == labels).sum().item()
            accuracy = correct / TEST_SAMPLES
            return 1

        timings = [1e3 * s for s in measure(f"w3 chunk {chunk} torch {threads}t", repetitions, move)]
        by_chunk[str(chunk)] = statistics.median(timings)
        if best is None or by_chunk[str(chunk)] < best["median"]:
            best = row("w3", threads, "ms", timings, chunk_size=chunk, accuracy=accuracy, weight_bits=bits)
    best["details"]["median_ms_by_chunk_size"] = by_chunk
    return best


def bench_training_memory(threads):
    set_threads(threads)
    pool = random_samples(W1["batch"] * W1["pool_batches"], W1["shape"], SEED)
    run, _ = training_loop(W1, make_model(W1), pool)
    print(f"  {'w1-train-memory torch ' + str(threads) + 't':<40}", end="", file=sys.stderr)
    run(2 * W1["pool_batches"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f" {peak:10.1f} MiB", file=sys.stderr)
    return row("w1-train-memory", threads, "MiB", [peak])


def export_onnx(directory):
    """The same networks as bench_inference (same seed, so the same weights), as ONNX files with a fixed
    batch, and the shapes and step counts of each inference workload."""
    os.makedirs(directory, exist_ok=True)
    workloads = []
    for spec in (W1, W2):
        model = make_model(spec).eval()
        example = torch.zeros((spec["batch"], *spec["shape"]))
        path = os.path.join(directory, f"{spec['name']}.onnx")
        torch.onnx.export(model, example, path, input_names=["input"], output_names=["logits"], opset_version=13)
        workloads.append(dict(workload=f"{spec['name']}-infer", model=path, shape=list(spec["shape"]),
                              batch=spec["batch"], pool_batches=spec["pool_batches"],
                              infer_steps=spec["infer_steps"]))
    with open(os.path.join(directory, "workloads.json"), "w") as file:
        json.dump(dict(seed=SEED, workloads=workloads), file, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated torch.set_num_threads values")
    parser.add_argument("--only", default="", help="one workload, e.g. w1-train")
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="machine-readable output for run.sh")
    parser.add_argument("--export-onnx", metavar="DIR",
                        help="write the inference workloads' networks (w1.onnx, w2.onnx) and their shapes "
                             "(workloads.json) for bench_onnxruntime.mjs, and measure nothing")
    args = parser.parse_args()
    if args.export_onnx:
        export_onnx(args.export_onnx)
        return
    thread_counts = [int(t) for t in args.threads.split(",")]

    def wanted(workload):
        return args.only in ("", workload)

    torch.set_num_interop_threads(1)

    rows = []
    if wanted("w1-train-memory"):  # first, while the process is fresh
        rows.append(bench_training_memory(max(thread_counts)))
    for spec in (W1, W2):
        for kind, bench in (("train", bench_training), ("infer", bench_inference)):
            if wanted(f"{spec['name']}-{kind}"):
                rows += [bench(spec, threads, args.repetitions) for threads in thread_counts]
    if wanted("w1-train-gradl1"):
        rows += [bench_gradient_l1_training(threads, args.repetitions) for threads in thread_counts]
    if wanted("w3"):
        rows += [bench_slider_move(threads, args.repetitions) for threads in thread_counts]

    if args.json:
        print(json.dumps(dict(tool="bench_torch.py", torch_version=torch.__version__, blas=loaded_blas_libraries(),
                              repetitions=args.repetitions, results=rows), indent=2))
        return
    print("BLAS:", ", ".join(loaded_blas_libraries()))
    print(f"{'workload':<30} {'threads':>7} {'median':>14} {'unit':>12}  range")
    for r in rows:
        print(f"{r['workload']:<30} {r['threads']:>7} {r['median']:>14.1f} {r['unit']:>12}  "
              f"{r['min']:.1f}..{r['max']:.1f}")


if __name__ == "__main__":
    main()
