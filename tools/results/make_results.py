#!/usr/bin/python3
"""Generates docs/results.md: each paper's claim tested in the form the paper states it.

  python3 tools/results/make_results.py [--cli PATH] [--seeds 5] [--cached] [--studies a,b] [--smoke --out DIR]

Runs one `qplay-cli compare` study per claim (the CLI must be built), keeps each study's JSON in
docs/results/*.json and writes the page: the protocol, a verdict table (claim, setting, method against its
reference with the paired 95% interval, verdict), and per study the grid chosen on validation, the
ablations and what the numbers mean. --cached rewrites the page from the saved JSON without training.
--smoke runs every study on a tiny toy problem (seconds) into --out, for the tests.

Every verdict comes from `compare` itself (one rule, core/engine/report/statistics.h); nothing here is tuned
to make a claim hold: grids are declared below before anything trains and chosen on validation only.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# The shared protocol: Fashion-MNIST's 60,000 training images less a 10% validation split, the full 10,000
# test images, an MLP 784-128-10, SGD with momentum and a cosine schedule.
FASHION = ["--dataset=fashion-mnist", "--architecture=mlp:128", "--batch_size=64", "--learning_rate=0.05",
           "--validation_fraction=0.1"]
# A baseline trained 5 epochs is every seed's checkpoint; methods that may start from a trained network
# fine-tune from it for 2 epochs, and the baseline arm trains the same 2 epochs (compute-matched).
FINE_TUNE = ["--epochs=5", "--fine_tune_epochs=2"]

# Each study: name, the claim as the paper states it, the compare flags, its arms (the first is the
# reference; a|b|c is a grid chosen on validation), the headline verdicts (metric, setting), and why.
STUDIES = [
    {
        "name": "gradl1",
        "title": "Gradient-ℓ1 regularization (Alizadeh et al. 2020)",
        "claim": "Penalizing the ℓ1 norm of the loss gradient makes a network robust to post-training "
                 "quantization of weights and activations together, at any bit-width down to about 4/4.",
        "flags": FASHION + FINE_TUNE + ["--compare_weight_bits=8,6,4,3", "--compare_activation_bits=float,8,6,4,3,2",
                                        "--compare_ranges=min-max", "--select_on=quantized-accuracy",
                                        "--fgsm_epsilons=none"],
        "arms": "baseline,gradl1[gradl1_lambda_weights=1|10|100]",
        "headline": [("quantized accuracy", s) for s in
                     ("W8A8 per-tensor min-max", "W6A6 per-tensor min-max", "W4A4 per-tensor min-max",
                      "W3A3 per-tensor min-max", "W8A2 per-tensor min-max", "W4A4 per-channel min-max",
                      "W3A3 per-channel min-max")],
        "why": "The paper fine-tunes a trained network with the penalty and quantizes weights and activations "
               "after training. λ_w (per weight: the default 10 is the paper's 1e-4 on these 101,632 weights) is "
               "chosen on validation from three values; λ_a stays at its default 0.01.",
    },
    {
        "name": "symreg",
        "title": "Symmetry regularization + saturating nonlinearity (Park et al. 2022)",
        "claim": "Symmetric weight distributions (SymReg) with a saturating weight nonlinearity (SatNL) make "
                 "low-bit post-training quantization robust across quantizers.",
        "flags": FASHION + ["--epochs=5", "--compare_weight_bits=4,3,2", "--compare_activation_bits=float",
                            "--compare_ranges=min-max,percentile,mse", "--select_on=quantized-accuracy",
                            "--fgsm_epsilons=none"],
        "arms": "baseline,symreg[symreg_lambda=0.01|0.1|1],symreg[satnl=off],symreg[symreg_lambda=0],"
                "symreg[sam=asam]",
        "headline": [("quantized accuracy", f"W{b}Afloat per-tensor {r}") for r in ("min-max", "percentile", "mse")
                     for b in (3, 2)],
        "why": "Trained from scratch (SatNL reparametrizes the weights). The ablations: SymReg only (satnl=off), "
               "SatNL only (λ = 0) and both with ASAM; λ of the full method chosen on validation.",
    },
    {
        "name": "cpq",
        "title": "Cluster-promoting quantization with DropBits (Lee et al. 2021)",
        "claim": "CPQ with DropBits trains a low-bit network better than plain quantization-aware training "
                 "with the straight-through estimator at the same number of bits.",
        "flags": FASHION + FINE_TUNE + ["--compare_weight_bits=3", "--compare_activation_bits=float",
                                        "--select_on=trained-accuracy", "--fgsm_epsilons=none"],
        "arms": "qreg[qat_weight_bits=3],cpq[cpq_drop_rate=0.1|0.2|0.4],cpq[cpq_dropbits=off],"
                "cpq[cpq_dropbits_masks=per-channel]",
        "headline": [("accuracy as trained", "")],
        "why": "The reference is plain STE QAT at 3 bits (qreg), every arm fine-tuned from the same checkpoint; "
               "CPQ deploys its 3-bit grid, so the metric is the model as trained. DropBits' rate is chosen on "
               "validation; the ablations turn DropBits off and draw masks per output channel.",
    },
    {
        "name": "cpq-cnn",
        "title": "Cluster-promoting quantization with DropBits, on a CNN (Lee et al. 2021)",
        "claim": "The same claim on a small convolutional network, where DropBits' noise is larger relative to the "
                 "few weights of each convolution.",
        "flags": ["--dataset=fashion-mnist", "--architecture=cnn:8,16", "--train_limit=10000", "--batch_size=64",
                  "--learning_rate=0.05", "--validation_fraction=0.1", "--epochs=5", "--fine_tune_epochs=2",
                  "--compare_weight_bits=3", "--compare_activation_bits=float", "--select_on=trained-accuracy",
                  "--fgsm_epsilons=none"],
        "arms": "qreg[qat_weight_bits=3],cpq[cpq_drop_rate=0.1|0.2|0.4],cpq[cpq_dropbits=off],"
                "cpq[cpq_dropbits_masks=per-channel]",
        "headline": [("accuracy as trained", "")],
        "why": "The first 10,000 training images (less the validation split) so that a CNN study takes minutes; "
               "the full test set; otherwise as the MLP study above.",
    },
    {
        "name": "raq",
        "title": "Robustness-aware 2-bit quantization (Li et al. 2020)",
        "claim": "RAQ's structural loss (against a pretrained float teacher) and spectral-norm perturbation loss "
                 "make a 2-bit shift-add network more accurate and more robust to FGSM than plain 2-bit QAT.",
        "flags": FASHION + FINE_TUNE + ["--compare_weight_bits=2", "--compare_activation_bits=float",
                                        "--select_on=trained-accuracy", "--fgsm_epsilons=0.02,0.05,0.1",
                                        "--fgsm_samples=10000"],
        "arms": "raq[raq_structural_lambda=0,raq_perturbation_lambda=0,raq_spectral_lambda=0],"
                "raq[raq_perturbation_lambda=0.03|0.1|0.3],raq[raq_perturbation_lambda=0,raq_spectral_lambda=0],"
                "raq[raq_structural_lambda=0]",
        "headline": [("accuracy as trained", "")] + [("FGSM accuracy as trained", f"eps={e}") for e in ("0.02", "0.05", "0.1")],
        "why": "The reference is plain STE QAT on the same four shift-add levels (all RAQ losses off); every arm "
               "fine-tunes from the checkpoint, which is RAQ's frozen teacher. Ablations: structural loss only, "
               "perturbation (+ spectral) loss only; the perturbation weight chosen on validation.",
    },
    {
        "name": "qreg",
        "title": "Quantization-aware training as a regularizer (AskariHemmat et al. 2022)",
        "claim": "Quantization noise during training regularizes: the quantized network overfits less than the "
                 "float one.",
        "flags": ["--dataset=fashion-mnist", "--architecture=mlp:256,256", "--train_limit=2000", "--epochs=60",
                  "--batch_size=64", "--learning_rate=0.05", "--validation_fraction=0.2",
                  "--compare_weight_bits=8", "--compare_activation_bits=float", "--select_on=trained-loss",
                  "--fgsm_epsilons=none"],
        "arms": "baseline,qreg[qat_weight_bits=2|4|8],qreg[qat_weight_bits=8,qat_activation_bits=8]",
        "headline": [("test - train accuracy", ""), ("accuracy as trained", "")],
        "why": "An overfitting regime: a 2-layer MLP 784-256-256-10 on 1,600 training images (2,000 less the "
               "validation split) for 60 epochs. QAT's bit-width is chosen on validation loss.",
    },
]

SMOKE = ["--dataset=spiral", "--samples=300", "--architecture=mlp:8", "--epochs=2", "--fgsm_samples=50"]


def mean_std(values):
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def cell(values, scale=100.0, decimals=1):
    m, s = mean_std(values)
    return f"{m * scale:.{decimals}f} ± {s * scale:.{decimals}f}"


def interval(d, scale=100.0):
    return f"{d['mean'] * scale:+.1f} [{d['low'] * scale:+.1f}, {d['high'] * scale:+.1f}]"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    # A grid's values are separated by '|', which would end a Markdown cell.
    return "\n".join(lines + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows])


def runs_of(doc, arm):
    return [r for r in doc["runs"] if r["arm"] == arm]


def point_index(doc, name):
    return [p["name"] for p in doc["points"]].index(name)


def verdicts_of(doc, metric, setting):
    return [v for v in doc["verdicts"] if v["metric"] == metric and v["setting"] == setting]


def arm_value(doc, arm, metric, setting):
    """The per-seed values a verdict of `metric` at `setting` compares, for one arm."""
    runs = runs_of(doc, arm)
    if metric == "quantized accuracy":
        return [r["quantized"][point_index(doc, setting)]["accuracy"] for r in runs]
    if metric == "accuracy as trained":
        return [r["test_accuracy"] for r in runs]
    if metric == "FGSM accuracy as trained":
        i = [f"eps={e:g}" for e in doc["fgsm_epsilons"]].index(setting)
        return [r["fgsm_trained_accuracy"][i] for r in runs]
    return [r["test_accuracy"] - r["train_accuracy"] for r in runs]


def sentence(study, v):
    where = f" at {v['setting']}" if v["setting"] else ""
    what = {"better": "keeps more", "worse": "keeps less", "no difference shown": "cannot be told apart from",
            "not testable here": "is not tested by"}.get(v["verdict"], v["verdict"])
    if v["verdict"] == "not testable here":
        return (f"{v['metric']}{where}: the reference {v['reference']} does not suffer the effect here "
                f"({interval(v['reference_effect'])} points), so this setting cannot test the claim.")
    if v["verdict"] in ("better", "worse"):
        return (f"{v['metric']}{where}: {v['arm']} {what} than {v['reference']}, "
                f"{interval(v['difference'])} points.")
    return f"{v['metric']}{where}: {v['arm']} {what} {v['reference']} ({interval(v['difference'])} points)."


def study_section(study, doc, seconds):
    arms = doc["arms"]
    out = [f"## {study['title']}", "", f"**Claim.** {study['claim']}", "", study["why"], "",
           f"{doc['training_samples']:,} training, {doc['validation_samples']:,} validation and "
           f"{doc['test_samples']:,} test samples; {len(doc['seeds'])} seeds; {seconds:.0f} s on this machine.", "",
           "```sh", "qplay-cli compare " + " ".join(study["flags"]) + f" --seeds={len(doc['seeds'])} "
           f"--methods='{study['arms']}'", "```", ""]
    for selection in doc["selections"]:
        rows = [[", ".join(f"{k}={v}" for k, v in c["knobs"].items()),
                 (f"{-c['validation_score']:.4f} (loss)" if doc["select_on"] == "trained-loss"
                  else f"{100 * c['validation_score']:.2f}%"), "chosen" if c["chosen"] else ""]
                for c in selection["candidates"]]
        out += [f"Grid of `{selection['arm']}`, chosen on validation by {doc['select_on']} (first seed):", "",
                table(["knobs", "validation score", ""], rows), ""]
    headline = study["headline"]
    settings = [s for m, s in headline if m == "quantized accuracy"]
    if settings:
        rows = [[a, cell([r["float_accuracy"] for r in runs_of(doc, a)])] +
                [cell(arm_value(doc, a, "quantized accuracy", s)) for s in settings] for a in arms]
        out += ["Test accuracy (%, mean ± std over seeds), float and quantized after training:", "",
                table(["arm", "float"] + settings, rows), ""]
        rows = [[a] + [f"{100 * statistics.fmean(r['quantized'][point_index(doc, s)]['flip_rate'] for r in runs_of(doc, a)):.1f}"
                       f" / {100 * statistics.fmean(r['quantized'][point_index(doc, s)]['low_margin_flip_rate'] for r in runs_of(doc, a)):.1f}"
                       for s in settings] for a in arms]
        out += ["Prediction flips against the same model in float (% of all test samples / of the narrowest "
                "quarter):", "", table(["arm"] + settings, rows), ""]
    others = [(m, s) for m, s in headline if m != "quantized accuracy"]
    if others or study["name"].startswith(("cpq", "raq", "qreg")):
        rows = [[a, cell([r["train_accuracy"] for r in runs_of(doc, a)]), cell([r["test_accuracy"] for r in runs_of(doc, a)])] +
                [cell(arm_value(doc, a, "FGSM accuracy as trained", s)) for m, s in others if m.startswith("FGSM")]
                for a in arms]
        out += ["The model as trained (QAT-style methods at their deployed grid), %:", "",
                table(["arm", "train", "test"] + [f"FGSM {s}" for m, s in others if m.startswith("FGSM")], rows), ""]
    if study["name"] == "gradl1":
        out += first_order_section(doc)
    if study["name"] == "qreg":
        out += loss_curve_section(doc)
    if study["name"] == "symreg":
        out += ["Which ingredient does the work (SymReg only is `satnl=off`, SatNL only is `symreg_lambda=0`):", ""]
        out += [f"- {ablation_reading(doc, s)}" for s in ("W2Afloat per-tensor min-max", "W2Afloat per-tensor mse")]
        symmetry_only = [verdict_of(doc, "symreg[satnl=off]", "quantized accuracy", s)["verdict"]
                         for s in ("W2Afloat per-tensor min-max", "W2Afloat per-tensor mse")]
        out += ["", "SatNL bounds every weight to (−c, c), so a min-max grid is not stretched by a few large weights."]
        if all(v == "no difference shown" for v in symmetry_only):
            out[-1] += " SymReg alone shows no difference at either range method: the effect is SatNL's."
        out += [""]
    rows = [[v["arm"], v["metric"], v["setting"], interval(v["difference"]),
             interval(v["reference_effect"]) if "reference_effect" in v else "", v["verdict"]]
            for m, s in headline for v in verdicts_of(doc, m, s)]
    out += [f"Against `{arms[0]}`, paired by seed (percentage points, mean [95% interval]); the reference's own "
            "effect is its loss to quantization, to the attack or to overfitting:", "",
            table(["arm", "metric", "setting", "arm − reference", "reference's effect", "verdict"], rows), "",
            "In plain words:", ""]
    out += [f"- {sentence(study, v)}" for m, s in headline for v in verdicts_of(doc, m, s)]
    return out + [""]


def verdict_of(doc, arm, metric, setting):
    return next(v for v in doc["verdicts"] if v["arm"] == arm and v["metric"] == metric and v["setting"] == setting)


def first_order_reading(doc):
    """What the first-order argument measured means, at the lowest weight bit-width."""
    name = [p["name"] for p in doc["points"] if p["activation_bits"] == 0 and p["granularity"] == "per-tensor"][-1]
    i = point_index(doc, name)
    base, method = doc["arms"][0], doc["arms"][1]
    mean = lambda arm, f: statistics.fmean(f(r) for r in runs_of(doc, arm))
    bound = [mean(a, lambda r: r["quantized"][i]["first_order_bound"]) for a in (base, method)]
    increase = [mean(a, lambda r: r["quantized"][i]["loss"] - r["float_loss"]) for a in (base, method)]
    term = [mean(a, lambda r: abs(r["quantized"][i]["first_order_term"])) for a in (base, method)]
    text = (f"At {name} the penalty changed the bound from {bound[0]:.3f} to {bound[1]:.3f} "
            f"({100 * (bound[1] / bound[0] - 1):+.0f}%), and the measured loss increase from {increase[0]:.3f} to "
            f"{increase[1]:.3f}; the first-order term δ·∇L is {term[0]:.3f} and {term[1]:.3f} in magnitude.")
    if max(term) < 0.1 * min(increase):
        text += (" Rounding errors of both signs cancel in δ·∇L, so the loss increase at low bits is second order, "
                 "which the ℓ1 bound does not control.")
    if bound[1] < bound[0] and increase[1] >= 0.9 * increase[0]:
        text += " Shrinking ‖∇L‖₁ lowered the bound without lowering the loss increase."
    return text


def ablation_reading(doc, setting):
    """Which ingredient carries SymReg+SatNL's effect, at one setting."""
    parts = []
    for arm in doc["arms"][1:]:
        v = verdict_of(doc, arm, "quantized accuracy", setting)
        parts.append(f"`{arm}` {interval(v['difference'])} ({v['verdict']})")
    return f"At {setting}, against the baseline: " + "; ".join(parts) + "."


def first_order_section(doc):
    """Gradient-l1's first-order argument: the loss increase against the bound, per arm (float activations)."""
    names = [p["name"] for p in doc["points"] if p["activation_bits"] == 0 and p["granularity"] == "per-tensor"]
    rows = []
    for a in doc["arms"]:
        runs = runs_of(doc, a)
        row = [a]
        for name in names:
            i = point_index(doc, name)
            increase = statistics.fmean(r["quantized"][i]["loss"] - r["float_loss"] for r in runs)
            term = statistics.fmean(r["quantized"][i]["first_order_term"] for r in runs)
            bound = statistics.fmean(r["quantized"][i]["first_order_bound"] for r in runs)
            row.append(f"{increase:.3f} / {term:.3f} / {bound:.3f}")
        rows.append(row)
    return ["The paper's first-order argument, weights only (activations float, per tensor): measured loss "
            "increase / first-order term δ·∇L / bound Σ max|δ|·‖∇L‖₁, means over seeds. The penalty shrinks "
            "‖∇L‖₁ and so the bound; whether the loss increase follows is the question:", "",
            table(["arm"] + names, rows), "", first_order_reading(doc), ""]


def loss_curve_section(doc):
    rows = []
    for a in doc["arms"]:
        runs = runs_of(doc, a)
        epochs = len(runs[0]["test_loss_curve"])
        marks = sorted({1, epochs // 4, epochs // 2, 3 * epochs // 4, epochs} - {0})
        rows.append([a] + [f"{statistics.fmean(r['train_loss_curve'][e - 1] for r in runs):.3f} / "
                           f"{statistics.fmean(r['test_loss_curve'][e - 1] for r in runs):.3f}" for e in marks])
    return ["Loss curves (train / test cross-entropy of the model as trained, means over seeds) at epochs " +
            ", ".join(str(m) for m in marks) + ":", "", table(["arm"] + [f"epoch {m}" for m in marks], rows), ""]


def verdict_table(docs):
    rows = []
    for study in STUDIES:
        doc = docs[study["name"]]
        for m, s in study["headline"]:
            for v in verdicts_of(doc, m, s):
                rows.append([study["title"].split(" (")[0], m + (f", {s}" if s else ""), v["arm"],
                             cell(arm_value(doc, v["arm"], m, s)), v["reference"], cell(arm_value(doc, v["reference"], m, s)),
                             interval(v["difference"]), f"**{v['verdict']}**"])
    return table(["claim", "setting", "method", "method (%)", "reference", "reference (%)", "difference, 95% CI",
                  "verdict"], rows)


def run_study(cli, study, seeds, path, smoke):
    flags = SMOKE + [f for f in study["flags"] if f.split("=")[0] in (
        "--compare_weight_bits", "--compare_activation_bits", "--compare_ranges", "--select_on", "--fgsm_epsilons",
        "--validation_fraction", "--fine_tune_epochs")] if smoke else study["flags"]
    start = time.monotonic()
    subprocess.run([cli, "compare", *flags, f"--seeds={seeds}", f"--methods={study['arms']}", f"--json={path}"],
                   check=True, stdout=subprocess.DEVNULL if smoke else None)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "native-release", "native", "cli", "qplay-cli"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cached", action="store_true", help="rewrite the page from the saved JSON without training")
    parser.add_argument("--smoke", action="store_true", help="tiny toy studies (seconds), for the tests")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where results.md and results/ go")
    parser.add_argument("--studies", default="", help="comma-separated study names to run again (the others are "
                        "read from their saved JSON); default: all")
    args = parser.parse_args()
    if not args.cached and not os.access(args.cli, os.X_OK):
        sys.exit(f"make_results.py: no qplay-cli at {args.cli}; build it with cmake --preset native-release && "
                 "cmake --build --preset native-release")
    data_dir = os.path.join(args.out, "results")
    os.makedirs(data_dir, exist_ok=True)
    timings_path = os.path.join(data_dir, "timings.json")
    rerun = set(args.studies.split(",")) if args.studies else {s["name"] for s in STUDIES}
    unknown = rerun - {s["name"] for s in STUDIES}
    if unknown:
        sys.exit(f"make_results.py: unknown studies {sorted(unknown)}; the studies are "
                 f"{', '.join(s['name'] for s in STUDIES)}")
    reuse = (args.cached or args.studies) and os.path.exists(timings_path)
    timings = json.load(open(timings_path)) if reuse else {}
    docs = {}
    for study in STUDIES:
        path = os.path.join(data_dir, f"{study['name']}.json")
        if not args.cached and study["name"] in rerun:
            print(f"== {study['title']}", flush=True)
            timings[study["name"]] = run_study(args.cli, study, args.seeds, path, args.smoke)
        with open(path) as f:
            docs[study["name"]] = json.load(f)
    if not args.cached:
        with open(timings_path, "w") as f:
            json.dump(timings, f, indent=1)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    total = sum(timings.values())
    page = ["# Results: each paper's claim, tested in the form it is stated", "",
            f"Generated by `python3 tools/results/make_results.py --seeds={len(docs['gradl1']['seeds'])}` "
            f"({total / 60:.0f} minutes on this 2-core machine; `--cached` rewrites this page from "
            f"`docs/results/*.json` in a second) on {datetime.date.today().isoformat()} at commit "
            f"{commit or 'unknown'}; do not edit by hand. What each method does: `docs/methods.md`.", "",
            "## Protocol", "",
            "- **Data**: Fashion-MNIST. A validation split (10%, 20% in the QReg study) is carved from the training "
            "set by a seeded permutation; each method's knob grid (three values, declared in this script before "
            "anything trains) is chosen on validation only (first seed); the full 10,000-image test set reports (a single model's accuracy "
            "there carries about ±0.7 points of sampling error; paired differences over seeds are what the "
            "verdicts use).",
            "- **Checkpoint, then fine-tuning** where the paper allows it (gradient-ℓ1, CPQ, RAQ): per seed a "
            "baseline trains 5 epochs; every arm, the baseline included, trains 2 more epochs from it "
            "(compute-matched). SymReg+SatNL and QReg train from scratch.",
            "- **Seeds**: each seed draws the split, the initial weights and the batch order; every arm trains from "
            "every seed, and each arm is read against the study's reference seed by seed.",
            "- **One verdict rule** (`core/engine/report/statistics.h`): the mean paired difference and its 95% "
            "Student-t interval; **better** or **worse** when the interval excludes 0, **no difference shown** "
            "when it holds 0, and **not testable here** when the reference itself does not suffer the effect the "
            "claim is about (it loses less than 1 point to quantization, to the attack or to overfitting, or its "
            "interval holds 0).",
            "- **As trained**: QAT-style methods (QReg, CPQ, RAQ) deploy quantized weights; their float weights are "
            "latent and marked so. Their claims are read on the model as trained; FGSM attacks that forward.", "",
            "## Verdicts", "", verdict_table(docs), ""]
    for study in STUDIES:
        page += study_section(study, docs[study["name"]], timings.get(study["name"], 0))
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(page))
    print(f"wrote {os.path.join(args.out, 'results.md')}")


if __name__ == "__main__":
    main()
