#!/usr/bin/python3
"""Golden numbers from PyTorch (Debian's python3-torch) for QPlay's training-step test.

For a small MLP and a small CNN it records the initial parameters (QPlay's layout), one batch,
the mean softmax cross-entropy, every gradient, and the parameters after two SGD-momentum steps
and after two Adam steps (both with weight decay). tests/engine/torch_golden_test.cpp replays the
same steps in QPlay and compares. Run:  /usr/bin/python3 tools/golden/make_torch_golden.py
Writes tests/golden/train_step_{mlp,cnn}.json (small, committed).

Layout conversions (QPlay is NHWC, PyTorch is NCHW):
  conv weight  QPlay [O, ky, kx, C]  <->  torch [O, C, ky, kx]
  flatten      QPlay flattens (h, w, c); the torch model permutes to NHWC before flattening,
               so dense weights after a flatten are identical in both.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)  # the reference is computed in double precision


class NhwcFlatten(torch.nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


def build(case):
    if case["kind"] == "mlp":
        sizes = [case["inputs"]] + case["hidden"] + [case["classes"]]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)
    h, w, c = case["input_shape"]
    layers = []
    channels = c
    for out in case["channels"]:
        layers += [torch.nn.Conv2d(channels, out, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)]
        channels = out
        h, w = h // 2, w // 2
    layers += [NhwcFlatten(), torch.nn.Linear(h * w * channels, case["classes"])]
    return torch.nn.Sequential(*layers)


def qplay_name_and_tensor(name, tensor):
    """torch state_dict entry -> QPlay's name and row-major values."""
    if tensor.dim() == 4:  # conv weight [O, C, ky, kx] -> [O, ky, kx, C]
        tensor = tensor.permute(0, 2, 3, 1)
    if tensor.dim() >= 2:
        tensor = tensor.reshape(tensor.shape[0], -1)
    return name, tensor


def dump(model, values_of):
    out = []
    for name, p in model.named_parameters():
        name, t = qplay_name_and_tensor(name, values_of(p))
        out.append({"name": name, "shape": list(t.shape), "values": t.flatten().tolist()})
    return out


def random_batch(case):
    """One batch for the case from torch's current seed: the model's input (NCHW for images), the same
    values in QPlay's NHWC layout, and the labels."""
    batch = case["batch"]
    if case["kind"] == "mlp":
        x = torch.randn(batch, case["inputs"])
        x_nhwc = x
    else:
        h, w, c = case["input_shape"]
        x_nhwc = torch.rand(batch, h, w, c)
        x = x_nhwc.permute(0, 3, 1, 2).contiguous()
    return x, x_nhwc, torch.randint(0, case["classes"], (batch,))


def write_cases(cases, run_case, first_seed):
    """Runs each case (sorted by file name, seeds first_seed, first_seed + 1, ...) and writes its JSON
    into tests/golden/."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden")
    for seed, (file_name, case) in enumerate(sorted(cases.items()), start=first_seed):
        path = os.path.join(root, file_name)
        with open(path, "w") as f:
            json.dump(run_case(case, seed), f, indent=None, separators=(",", ":"))
            f.write("\n")
        print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


def run_case(case, seed):
    torch.manual_seed(seed)
    model = build(case)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, x_nhwc, y = random_batch(case)
    loss_fn = torch.nn.CrossEntropyLoss()  # mean over the batch, as in QPlay

    result = {
        "generator": "tools/golden/make_torch_golden.py (PyTorch %s, float64)" % torch.__version__,
        "architecture": case["spec"],
        "input_shape": case["input_shape"] if case["kind"] == "cnn" else [1, 1, case["inputs"]],
        "classes": case["classes"],
        "inputs": x_nhwc.flatten().tolist(),
        "labels": y.tolist(),
        "initial_parameters": dump(model, lambda p: p.detach()),
    }
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    result["loss"] = loss.item()
    result["gradients"] = dump(model, lambda p: p.grad)

    for optimizer_name, make in [
        ("sgd", lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("adam", lambda params: torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    ]:
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.copy_(initial[n])
        optimizer = make(model.parameters())
        for _ in range(2):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        result["after_two_%s_steps" % optimizer_name] = dump(model, lambda p: p.detach())
    result["optimizers"] = {
        "sgd": {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01},
        "adam": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01},
    }
    return result


def main():
    write_cases({
        "train_step_mlp.json": {"kind": "mlp", "spec": "mlp:8,6", "inputs": 3, "hidden": [8, 6], "classes": 4,
                                "batch": 5},
        "train_step_cnn.json": {"kind": "cnn", "spec": "cnn:2,3", "input_shape": [8, 8, 1], "channels": [2, 3],
                                "classes": 3, "batch": 3},
    }, run_case, first_seed=1)


if __name__ == "__main__":
    main()
