#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/seed-*) and the dictionaries of the
JSON and URL-hash targets (tests/fuzz/<target>.dict).

Seeds are small valid inputs and near-valid ones (one field wrong, truncated, a flipped byte), so the
fuzzer starts next to every refusal path. Model files and experiment files come from a real qplay-cli
(`train --kernels=reference`, so the bytes do not depend on the CPU); the dictionaries list the setting
keys and choices that `qplay-cli train --help` prints from the state table, so they follow the table.
Files named finding-* are past findings kept as regression inputs: this script never touches them.

  tools/fuzz/make_seed_corpus.py [path to qplay-cli]   (default: build/native-release/native/cli/qplay-cli)
"""
import gzip
import json
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz"
# The panels a lab can hide besides single settings: lab_panel_names() in core/engine/lab/lab_state.cpp.
LAB_PANELS = ["setup", "run", "slider", "curves", "training", "boundary", "weights", "sensitivity",
              "neurons", "learned", "images", "files"]


def write_seeds(target, seeds):
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (folder / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())
    print(f"{target}: {len(seeds)} seeds")


def gz(data):
    return gzip.compress(data, mtime=0)


def idx(dims, payload, type_byte=0x08):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_seeds():
    images = idx([2, 4, 4], bytes(range(0, 256, 8)))
    labels = idx([5], bytes([0, 1, 2, 9, 3]))
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as real:
        real_labels = real.read()[8:108]  # the first 100 real labels
    return {
        "images-2x4x4.idx": images,
        "labels-5.idx": labels,
        "images-2x4x4.idx.gz": gz(images),
        "labels-5.idx.gz": gz(labels),
        "fashion-labels-100.idx.gz": gz(idx([100], real_labels)),
        "stored-block.idx.gz": gzip.compress(images, compresslevel=0, mtime=0),
        "two-members.idx.gz": gz(images[:20]) + gz(images[20:]),
        "four-dims.idx": idx([1, 2, 2, 2], bytes(8)),
        "zero-dim.idx": idx([0, 7], b""),
        "truncated.idx": images[:-1],
        "trailing-byte.idx": labels + b"\x00",
        "int32-type.idx": idx([2], bytes(8), type_byte=0x0C),
        "five-dims.idx": idx([1, 1, 1, 1, 1], b"\x00"),
        "truncated-header.idx": images[:9],
        "truncated.idx.gz": gz(images)[:-9],
        "bad-crc.idx.gz": gz(labels)[:-8] + b"\xde\xad\xbe\xef" + gz(labels)[-4:],
        "huge-dims.idx": idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""),
    }


def with_checksum(body):
    return body + struct.pack("<I", zlib.crc32(body))


def model_seeds(cli, work):
    models = {
        "mlp-8-spiral": ["--architecture=mlp:8", "--samples=60"],
        "linear-moons": ["--architecture=linear", "--dataset=moons", "--samples=40"],
        "mlp-4-4-tanh-blobs": ["--architecture=mlp:4,4:tanh", "--dataset=blobs", "--classes=4", "--samples=60"],
        "cnn-1-2-softplus-fashion": ["--architecture=cnn:1,2:softplus", "--dataset=fashion-mnist",
                                     "--train_limit=100", "--test_limit=100"],
    }
    seeds, experiments = {}, {}
    for name, flags in models.items():
        model, experiment = work / f"{name}.qmodel", work / f"{name}.json"
        subprocess.run([cli, "train", *flags, "--epochs=1", "--kernels=reference", "--threads=1", "--quiet=1",
                        f"--out={model}", f"--save_experiment={experiment}"], check=True, capture_output=True)
        seeds[f"{name}.model"] = model.read_bytes()
        experiments[name] = experiment.read_text()
    mlp = seeds["mlp-8-spiral.model"]
    header_length = struct.unpack("<I", mlp[12:16])[0]
    fields, payload = read_header(mlp)
    assert write_model(fields, payload) == mlp, "make_seed_corpus.py's model writer disagrees with qplay-cli"
    seeds.update({
        "flipped-byte.model": mlp[:40] + bytes([mlp[40] ^ 0x20]) + mlp[41:],
        "truncated.model": mlp[: len(mlp) // 2],
        "trailing-byte.model": mlp + b"\x00",
        "version-2.model": with_checksum(mlp[:8] + struct.pack("<I", 2) + mlp[12:-4]),
        "magic-only.model": mlp[:8],
        # Valid checksums around a wrong body: these get past the CRC to the deeper checks.
        "short-header-length.model": with_checksum(mlp[:12] + struct.pack("<I", header_length - 4) + mlp[16:-4]),
        "nan-weight.model": with_checksum(mlp[: 16 + header_length] + struct.pack("<f", float("nan")) +
                                          mlp[20 + header_length: -4]),
        "no-metadata.model": write_model({**fields, "metadata": b""}, payload),
        "cnn-on-points.model": write_model({**fields, "architecture": b"cnn:2"}, payload),
        "one-class.model": write_model({**fields, "num_classes": 1}, payload),
        "rank-9-input.model": write_model({**fields, "input_shape": [1] * 9}, payload),
    })
    return seeds, experiments


def read_header(model):
    """The header fields of a model file (layout in core/engine/io/model_file.h) and its payload."""
    header_length = struct.unpack("<I", model[12:16])[0]
    header, position = model[16: 16 + header_length], 0
    def u32():
        nonlocal position
        position += 4
        return struct.unpack("<I", header[position - 4: position])[0]
    def string():
        nonlocal position
        length = u32()
        position += length
        return header[position - length: position]
    def shape():
        return [u32() for _ in range(u32())]
    fields = {"architecture": string(), "input_shape": shape(), "num_classes": u32(), "metadata": string()}
    fields["tensors"] = [(string(), shape()) for _ in range(u32())]
    return fields, model[16 + header_length: -4]


def write_model(fields, payload):
    def u32(value):
        return struct.pack("<I", value)
    def string(text):
        return u32(len(text)) + text
    def shape(dims):
        return u32(len(dims)) + b"".join(u32(d) for d in dims)
    header = (string(fields["architecture"]) + shape(fields["input_shape"]) + u32(fields["num_classes"]) +
              string(fields["metadata"]) + u32(len(fields["tensors"])) +
              b"".join(string(name) + shape(dims) for name, dims in fields["tensors"]))
    header += b"\x00" * ((4 - len(header) % 4) % 4)
    return with_checksum(b"QPLAYMDL" + u32(1) + u32(len(header)) + header + payload)


def experiment_seeds(experiments):
    base = json.loads(experiments["mlp-8-spiral"])
    def variant(**changes):
        document = json.loads(json.dumps(base))
        for key, value in changes.items():
            document["settings"][key] = value
        return json.dumps(document, separators=(",", ":"))
    seeds = {f"{name}.json": text for name, text in experiments.items()}
    seeds.update({
        "minimal.json": '{"format":"qplay-experiment","version":1,"settings":{}}',
        "compact.json": json.dumps(base, separators=(",", ":")),
        "bom.json": "\ufeff" + '{"format":"qplay-experiment","version":1,"settings":{"seed":7}}',
        "symreg-asam.json": variant(method="symreg", sam="asam", sam_rho=0.5, satnl_scale=3.25),
        "cpq-learned-bits.json": variant(method="cpq", cpq_learn_bits="on", cpq_bits=4),
        "raq-power-of-two.json": variant(method="raq", raq_levels="power-of-two", raq_power_of_two_scale="on"),
        "percentile-asymmetric.json": variant(range_method="percentile", percentile=99.5, symmetry="asymmetric"),
        "number-as-string.json": variant(epochs="3"),
        "out-of-range.json": variant(learning_rate=100),
        "unknown-setting.json": variant(learning_rat=0.1),
        "version-2.json": '{"format":"qplay-experiment","version":2,"settings":{}}',
        "unicode-escapes.json": '{"format":"qplay-experiment","version":1,"settings":{"data_dir":"/d\\u00e9j\\u00e0/\\ud83d\\ude00"}}',
        "big-numbers.json": '{"format":"qplay-experiment","version":1,"settings":{"seed":4294967295,"samples":1e6,"noise":2e0}}',
    })
    return seeds


def hash_seeds():
    return {
        "moons-gradl1.txt": "#dataset=moons&weight_bits=3&methods=baseline,gradl1",
        "default.txt": "seed=1",
        "empty.txt": "",
        "fashion-cnn.txt": "dataset=fashion-mnist&architecture=cnn%3A8,16&train_limit=1000&test_limit=500",
        "layer-bits.txt": "architecture=mlp:16,16,16&layer_weight_bits=8,-,4,2",
        "layer-activation-bits.txt": "activation_bits=4&layer_activation_bits=-,0,2,8&layer_weight_bits=1",
        "hidden.txt": "setup_hide=1&weight_bits_hide=1&curves_hide=1&methods_hide=0",
        "every-method.txt": "methods=baseline,qreg,gradl1,symreg,cpq,raq&qat_mode=noise&cpq_learn_bits=on",
        "numbers.txt": "learning_rate=1e-3&noise=0.25&percentile=99.5&range_method=percentile&seed=4294967295",
        "bad-values.txt": "weight_bits=9&dataset=cifar&methods=baseline,baseline&method=qreg&frobnicate=1",
        "escapes.txt": "data_dir=%2Ftmp%2Fd%C3%A9j%C3%A0&architecture=mlp%3A8%2C8%3Atanh&x=%zz&%41=1",
        "no-equals.txt": "dataset&&=&weight_bits==3",
    }


def lab_state_seeds(experiments):
    def lab(name, methods, layer_bits=(), hidden=()):
        document = json.loads(experiments[name])
        document["format"] = "qplay-lab"
        document.update(methods=list(methods), layer_weight_bits=list(layer_bits), hidden=list(hidden))
        return json.dumps(document, indent=2)
    seeds = {
        "spiral-three-methods.json": lab("mlp-8-spiral", ["baseline", "gradl1", "symreg"]),
        "moons-layer-bits.json": lab("linear-moons", ["baseline", "qreg"], [4]),
        "blobs-hidden.json": lab("mlp-4-4-tanh-blobs", ["cpq", "raq"], [-1, 8, 2], ["setup", "weight_bits"]),
        "fashion-cnn.json": lab("cnn-1-2-softplus-fashion", ["baseline"], [], ["boundary"]),
        "experiment-file.json": experiments["mlp-4-4-tanh-blobs"],
        "minimal.json": '{"format":"qplay-lab","version":1,"settings":{},"methods":["baseline"]}',
        "unknown-key.json": '{"format":"qplay-lab","version":1,"settings":{},"methods":["baseline"],"extra":1}',
        "bad-layer-bits.json": '{"format":"qplay-lab","version":1,"settings":{},"methods":["qreg"],"layer_weight_bits":[9,0.5]}',
        "layer-activation-bits.json": '{"format":"qplay-lab","version":1,"settings":{"activation_bits":4},'
                                      '"methods":["baseline"],"layer_activation_bits":[-1,0,2,8]}',
        "repeated-method.json": '{"format":"qplay-lab","version":1,"settings":{},"methods":["gradl1","gradl1"]}',
        "unknown-hidden.json": '{"format":"qplay-lab","version":1,"settings":{},"methods":["raq"],"hidden":["nothing"]}',
    }
    return seeds


def settings_from_help(cli):
    """(key, [choices]) for every experiment setting, from `qplay-cli train --help` (the state table)."""
    text = subprocess.run([cli, "train", "--help"], check=True, capture_output=True, text=True).stdout
    text = text[text.index("experiment settings"):]
    settings = []
    for key, allowed in re.findall(r"^\s+--(\w+)=<([^>]*)>", text, re.MULTILINE):
        choices = allowed[len("one of "):].split(", ") if allowed.startswith("one of ") else []
        settings.append((key, choices))
    return settings


def write_dict(target, entries, about):
    path = FUZZ / f"{target}.dict"
    lines = [f"# Generated by tools/fuzz/make_seed_corpus.py: {about}"]
    seen = set()
    for entry in entries:
        if entry not in seen:
            seen.add(entry)
            lines.append(json.dumps(entry))  # libFuzzer's dictionary syntax: a C-like quoted string
    path.write_text("\n".join(lines) + "\n")
    print(f"{target}.dict: {len(seen)} entries")


def main():
    cli = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build/native-release/native/cli/qplay-cli")
    with tempfile.TemporaryDirectory() as work:
        models, experiments = model_seeds(cli, Path(work))
    write_seeds("fuzz_idx_reader", idx_seeds())
    write_seeds("fuzz_model_file", models)
    write_seeds("fuzz_experiment_json", experiment_seeds(experiments))
    write_seeds("fuzz_url_hash", hash_seeds())
    write_seeds("fuzz_lab_state_json", lab_state_seeds(experiments))

    settings = settings_from_help(cli)
    keys = [key for key, _ in settings] + ["methods", "layer_weight_bits", "layer_activation_bits"]
    choices = [choice for _, values in settings for choice in values]
    structure = ["format", "version", "settings", "qplay-experiment", "qplay-lab", "methods", "layer_weight_bits",
                 "layer_activation_bits", "hidden"]
    json_tokens = ["{", "}", "[", "]", ":", ",", "true", "false", "null", "\\u", "-0", "1e308", "4294967296"]
    write_dict("fuzz_experiment_json", [f'"{word}"' for word in structure + keys[:-3] + choices] + json_tokens,
               "the experiment file's structure and the state table's keys and choices, quoted")
    write_dict("fuzz_lab_state_json", [f'"{word}"' for word in structure + keys + choices + LAB_PANELS] +
               json_tokens, "the lab file's structure, the state table's keys and choices, the panels, quoted")
    write_dict("fuzz_url_hash", [f"{key}=" for key in keys] + [f"&{key}=" for key in keys[:8]] + choices +
               [f"{name}_hide=1" for name in keys + LAB_PANELS] + ["#", "&", "=", "%", "%3A", "%2C", ",", "-", "_hide=0"],
               "the hash's keys and the state table's choices, as they appear in a link")


if __name__ == "__main__":
    main()
