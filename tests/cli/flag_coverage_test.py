#!/usr/bin/env python3
"""Every flag of every qplay-cli command is honoured or refused.

For each command and each flag it lists in --help (its own flags and every experiment setting), the test
runs the command twice: once as a base invocation that succeeds, once with the flag set to another valid
value. The flag passes when the second run exits 2 (refused, with a message) or changes the outcome: the
numbers the command prints and writes (accuracies, losses, weights, gradients), not the text that merely
repeats the settings. A flag accepted without changing any number fails the test.

Usage: flag_coverage_test.py <qplay-cli> [-v: every pair with its result and message]
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CLI = os.path.abspath(sys.argv[1])
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
TOY = ["--samples=400", "--architecture=mlp:8,8"]
FASHION = ["--dataset=fashion-mnist", "--train_limit=200", "--test_limit=100", "--architecture=mlp:8"]

# A command's base invocation; {root} holds the shared models.
BASE = {
    "train": ["--epochs=2", "--quiet=1", "--out=m.qmodel"] + TOY,
    "demo": ["--epochs=2", "--quiet=1", "--out_dir=d"] + TOY,
    "compare": ["--epochs=1", "--methods=baseline", "--seeds=1", "--fgsm_samples=50", "--compare_weight_bits=2,4",
                "--json=c.json"] + TOY,
    "eval": ["--model={root}/toy.qmodel"],
    "sweep": ["--model={root}/toy.qmodel", "--sweep_weight_bits=2,4", "--sweep_activation_bits=4,float",
              "--json=s.json"],
    "grad": ["--model={root}/toy.qmodel", "--batch_size=8", "--out=g.json"],
    "export": ["--model={root}/toy.qmodel", "--out=w.json"],
    "allocate": ["--model={root}/toy.qmodel", "--allocation_samples=100", "--hutchinson_samples=4", "--out=a.json"],
}

# Another valid value for every setting and command flag. A setting missing here fails the test, so a new
# setting cannot slip past it.
VARIANT = {
    "dataset": "blobs", "samples": "300", "noise": "0.3", "test_fraction": "0.5", "classes": "4",
    "train_limit": "300", "test_limit": "200", "data_dir": "/nonexistent/fashion-mnist",
    "architecture": "mlp:6", "optimizer": "adam", "learning_rate": "0.2", "momentum": "0.5",
    "weight_decay": "0.01", "schedule": "constant", "step_epochs": "1", "gamma": "0.5", "epochs": "3",
    "batch_size": "16", "seed": "7", "init_model": "{root}/toy.qmodel", "method": "gradl1",
    "qat_weight_bits": "2", "qat_activation_bits": "4", "qat_mode": "noise",
    "gradl1_lambda_weights": "0.5", "gradl1_lambda_activations": "0.5", "gradl1_warmup": "0.5",
    "gradl1_mode": "finite-difference",
    "symreg_lambda": "2", "symreg_pairing": "two-to-two", "satnl": "off", "satnl_scale": "1", "sam": "sam",
    "sam_rho": "0.5",
    "cpq_bits": "2", "cpq_dropbits": "off", "cpq_drop_rate": "0.6", "cpq_dropbits_masks": "per-channel", "cpq_learn_bits": "on",
    "cpq_bits_lambda": "1", "cpq_learning_rate": "0.1",
    "raq_levels": "power-of-two", "raq_power_of_two_scale": "on", "raq_structural_lambda": "10",
    "raq_perturbation_lambda": "2", "raq_perturbation_epsilon": "0.2", "raq_spectral_lambda": "0.1",
    "weight_bits": "2", "activation_bits": "3", "granularity": "per-tensor", "symmetry": "asymmetric",
    "range_method": "mse", "percentile": "60", "calibration_samples": "20", "kernels": "reference",
    "threads": "1",
    # command flags
    "model": "{root}/other.qmodel", "experiment": "{root}/experiment.json", "out": "elsewhere.out",
    "save_experiment": "e.json", "quiet": "0", "out_dir": "elsewhere", "int8": "1",
    "sweep_weight_bits": "3", "sweep_activation_bits": "8", "csv": "t.csv", "json": "t.json", "svg": "t.svg",
    "card": "card.svg",
    "split": "test", "offset": "5", "methods": "baseline,symreg", "seeds": "2",
    "compare_weight_bits": "3", "fgsm_epsilons": "0.3", "fgsm_samples": "20",
    "compare_activation_bits": "4", "compare_ranges": "mse", "validation_fraction": "0.3",
    "select_on": "trained-loss", "fine_tune_epochs": "1",
    "budget_bits": "2.5", "budget_kb": "0.25", "allocation": "uniform", "pareto": "1", "allocation_samples": "50",
    "hutchinson_samples": "2",
    "format": "integer-json", "layer_weight_bits": "2,8,8", "predictions": "p.json",
}

# What makes a setting mean something, tried first; a command that refuses the context runs without it.
CONTEXT = {
    "momentum": ["--optimizer=sgd"], "step_epochs": ["--schedule=step"], "gamma": ["--schedule=step", "--step_epochs=1"],
    "satnl_scale": ["--satnl=on"], "sam_rho": ["--sam=sam"], "cpq_drop_rate": ["--cpq_dropbits=on", "--cpq_bits=6"],
    "cpq_dropbits_masks": ["--cpq_dropbits=on", "--cpq_bits=6"],
    # learned bit-widths move within two epochs only with a larger step for the gates
    "cpq_learn_bits": ["--cpq_learning_rate=0.1"], "cpq_bits_lambda": ["--cpq_learn_bits=on", "--cpq_learning_rate=0.1"],
    "test_fraction": ["--split=test"], "percentile": ["--range_method=percentile"],
    "calibration_samples": ["--activation_bits=4"], "classes": ["--dataset=spiral"],
    # a grid is what --select_on chooses
    "select_on": ["--validation_fraction=0.3", "--methods=baseline[learning_rate=0.01|0.3]"],
}
# compare evaluates with its own lists of activation bits and range methods.
COMMAND_CONTEXT = {("compare", "percentile"): ["--compare_ranges=percentile"],
                   ("compare", "calibration_samples"): ["--compare_activation_bits=4"]}
FASHION_KEYS = {"train_limit", "test_limit", "data_dir"}
# eval and sweep read training images only to calibrate quantized activations (the base limits are below 512
# calibration samples); a min-max range over 200 or 300 images may well be the same, an MSE-optimal one is not.
FASHION_CONTEXT = {"train_limit": ["--activation_bits=4", "--range_method=mse"]}

# Settings that select how, not what: the numbers are the same by design (tests/engine checks the kernels
# agree); they must still be accepted or refused cleanly.
SAME_NUMBERS_BY_DESIGN = {"threads", "kernels"}


GENERAL_GROUPS = {"data", "model", "training", "method", "quantization", "compute"}


def method_context(command, key, groups):
    """A method's knob (its group is the method's name) means something only when that method trains."""
    group = groups.get(key)
    if group is None or group in GENERAL_GROUPS:
        return []
    return ["--methods=" + group] if command == "compare" else ["--method=" + group]


def parse_help(command):
    """The command's flags and the experiment settings with their groups, from --help."""
    text = subprocess.run([CLI, command, "--help"], capture_output=True, text=True, check=True).stdout
    flags, groups, group = [], {}, None
    for line in text.splitlines():
        heading = re.match(r"^  ([a-z0-9]+)( flags)?:$", line)
        if heading:
            group = None if heading.group(2) else heading.group(1)
        flag = re.match(r"^    --([a-z0-9_]+)=", line)
        if flag:
            flags.append(flag.group(1))
            if group:
                groups[flag.group(1)] = group
    return flags, groups


NUMBER = re.compile(r"-?\d+\.\d+%|-?\d+\.\d{4,}(?:e[-+]?\d+)?")
SETTING_KEYS = {"experiment", "metadata", "settings", "method_settings"}
# Wall-clock times differ from run to run whatever the flags.
TIMING_KEYS = {"milliseconds"}


def json_numbers(value):
    if isinstance(value, dict):
        return [n for k, v in sorted(value.items()) if k not in SETTING_KEYS | TIMING_KEYS for n in json_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in json_numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def file_numbers(path):
    if path.endswith(".qmodel"):
        exported = subprocess.run([CLI, "export", "--model=" + path], capture_output=True, text=True)
        return json_numbers(json.loads(exported.stdout)) if exported.returncode == 0 else ["unreadable"]
    with open(path, errors="replace") as f:
        text = f.read()
    try:
        return json_numbers(json.loads(text))
    except ValueError:
        return NUMBER.findall(text)


def outcome(args, root):
    """Exit code, the numbers printed (not the run description line), and each written file's numbers."""
    work = tempfile.mkdtemp(dir=root)
    try:
        done = subprocess.run([CLI] + args, cwd=work, capture_output=True, text=True, timeout=600)
        printed = [n for line in done.stdout.splitlines() if "| kernels" not in line for n in NUMBER.findall(line)]
        files = {}
        for folder, _, names in os.walk(work):
            for name in names:
                path = os.path.join(folder, name)
                files[os.path.relpath(path, work)] = file_numbers(path)
        return done.returncode, printed, files, (done.stderr.strip().splitlines() or [""])[-1]
    finally:
        shutil.rmtree(work)


def with_flag(args, key, value):
    return [a for a in args if not a.startswith("--" + key + "=")] + ["--" + key + "=" + value]


def check_flag(command, key, groups, root):
    """('honoured' | 'refused' | 'same by design' | a failure description, the last line of stderr)."""
    base = [command] + [a.format(root=root) for a in BASE[command]]
    if key in FASHION_KEYS:
        base = [a for a in base if a not in TOY]
        fashion = ["--model=" + root + "/fashion.qmodel"] if "--model={root}/toy.qmodel" in BASE[command] else FASHION
        for a in fashion:
            base = with_flag(base, a[2:].split("=")[0], a.split("=", 1)[1])
    method = method_context(command, key, groups)
    context = COMMAND_CONTEXT.get((command, key), CONTEXT.get(key, []))
    contexts = [context + FASHION_CONTEXT.get(key, []) + method, method, []]
    for context in contexts:
        args = base
        for a in context:
            args = with_flag(args, a[2:].split("=")[0], a.split("=", 1)[1])
        before = outcome(args, root)
        if before[0] == 0:
            break
    else:
        return "base invocation failed: %s -> exit %d" % (" ".join(args), before[0]), before[3]
    after = outcome(with_flag(args, key, VARIANT[key].format(root=root)), root)
    if after[0] == 2:
        return "refused", after[3]
    if after[0] != 0:
        return "exit %d" % after[0], after[3]
    if after[1:3] != before[1:3]:
        return "honoured", ""
    if key in SAME_NUMBERS_BY_DESIGN:
        return "same by design", ""
    return "accepted and changed nothing: %s" % " ".join(with_flag(args, key, VARIANT[key].format(root=root))), ""


def main():
    if not os.path.isdir(FASHION_MNIST):
        print("flag coverage needs Fashion-MNIST in %s (tools/setup.sh installs it)" % FASHION_MNIST)
        return 1
    root = tempfile.mkdtemp()
    try:
        setup = [
            ["train", "--epochs=2", "--quiet=1", "--out=toy.qmodel", "--activation_bits=0"] + TOY,
            ["train", "--epochs=1", "--quiet=1", "--out=other.qmodel", "--seed=3"] + TOY,
            ["train", "--epochs=1", "--quiet=1", "--out=fashion.qmodel"] + FASHION,
            ["train", "--epochs=1", "--quiet=1", "--out=scratch.qmodel", "--save_experiment=experiment.json",
             "--weight_bits=2", "--samples=300", "--architecture=mlp:8,8", "--seed=5"],
        ]
        for args in setup:
            subprocess.run([CLI] + args, cwd=root, check=True, capture_output=True)
        cases = []
        for command in BASE:
            flags, groups = parse_help(command)
            missing = [f for f in flags if f not in VARIANT]
            if missing:
                print("FAIL %s: no variant value for %s (add them to VARIANT)" % (command, ", ".join(missing)))
                return 1
            cases += [(command, flag, groups) for flag in flags]
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda case: check_flag(case[0], case[1], case[2], root), cases))
        counts, failures = {}, 0
        verbose = "-v" in sys.argv
        for (command, flag, _), (result, message) in zip(cases, results):
            ok = result in ("honoured", "refused", "same by design")
            if verbose:
                print("%-8s --%-26s %-15s %s" % (command, flag, result, message))
            counts[result if ok else "failed"] = counts.get(result if ok else "failed", 0) + 1
            if not ok:
                failures += 1
                print("FAIL %s --%s: %s %s" % (command, flag, result, message))
        print("flag coverage: %d command x flag pairs: %s" %
              (len(cases), ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items()))))
        return 1 if failures else 0
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
