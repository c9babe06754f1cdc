#!/usr/bin/python3
"""Golden numbers from PyTorch (Debian's python3-torch) for QPlay's gradient-l1 regularizer.

For a small ReLU MLP and a small ReLU CNN (with max-pooling) it computes, in float64 by double
backpropagation (torch.autograd.grad with create_graph=True, the paper's method):
  P = lambda_w * sum_l |dL/dW_l|_1 + lambda_a * sum_l |dL/dy_l|_1
with L the mean cross-entropy of one batch and y_l the input of every weighted layer but the first,
and the gradient of P w.r.t. every parameter. tests/engine/methods_gradient_l1_test.cpp compares
QPlay's R-operator Hessian-vector product against it. Run:
  /usr/bin/python3 tools/golden/make_gradl1_golden.py
Writes tests/golden/gradl1_{mlp,cnn}.json (small, committed). Model building and the NHWC layout
conversions are shared with make_torch_golden.py.
"""
import json
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_golden import build, dump, random_batch, write_cases  # noqa: E402

torch.set_default_dtype(torch.float64)

LAMBDA_WEIGHTS = 0.05
LAMBDA_ACTIVATIONS = 0.02


def run_case(case, seed):
    torch.manual_seed(seed)
    model = build(case)
    x, x_nhwc, y = random_batch(case)

    # Forward module by module, keeping the input of every weighted layer but the first.
    weighted = [i for i, m in enumerate(model) if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    quantized_inputs = []
    h = x
    for i, module in enumerate(model):
        if i in weighted[1:]:
            quantized_inputs.append(h)
        h = module(h)
    loss = torch.nn.functional.cross_entropy(h, y)

    params = list(model.parameters())
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    grads = torch.autograd.grad(loss, weights + quantized_inputs, create_graph=True)
    weight_grads, activation_grads = grads[: len(weights)], grads[len(weights):]
    penalty = LAMBDA_WEIGHTS * sum(g.abs().sum() for g in weight_grads) + LAMBDA_ACTIVATIONS * sum(
        g.abs().sum() for g in activation_grads)
    penalty_grads = torch.autograd.grad(penalty, params, allow_unused=True)
    by_param = {id(p): (g if g is not None else torch.zeros_like(p)) for p, g in zip(params, penalty_grads)}

    return {
        "generator": "tools/golden/make_gradl1_golden.py (PyTorch %s, float64, double backprop)" % torch.__version__,
        "architecture": case["spec"],
        "input_shape": case["input_shape"] if case["kind"] == "cnn" else [1, 1, case["inputs"]],
        "classes": case["classes"],
        "inputs": x_nhwc.flatten().tolist(),
        "labels": y.tolist(),
        "lambda_weights": LAMBDA_WEIGHTS,
        "lambda_activations": LAMBDA_ACTIVATIONS,
        "initial_parameters": dump(model, lambda p: p.detach()),
        "loss": loss.item(),
        "penalty": penalty.item(),
        "penalty_gradients": dump(model, lambda p: by_param[id(p)]),
    }


def main():
    write_cases({
        "gradl1_mlp.json": {"kind": "mlp", "spec": "mlp:8,6", "inputs": 3, "hidden": [8, 6], "classes": 4,
                            "batch": 5},
        "gradl1_cnn.json": {"kind": "cnn", "spec": "cnn:2,3", "input_shape": [8, 8, 1], "channels": [2, 3],
                            "classes": 3, "batch": 3},
    }, run_case, first_seed=11)


if __name__ == "__main__":
    main()
