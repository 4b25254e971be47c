#!/usr/bin/env python3
"""smelt-compiled steps vs PyTorch eager on the same models, side by side.

Usage (from the repository root, after `make`; needs `pip install torch`):
    .venv/bin/python bench/vs_pytorch.py [--smelt build/smelt] [--threads 2]
                                         [--repeat 50] [--only NAME]

Rows: the MLP and LeNet training steps at batch 64 (forward, backward,
optimizer update: SGD with Nesterov momentum, Adam), the 2-layer LSTM
classifier's step at batch 32 (12 steps, hidden 32, Adam, clipping by
global norm; PyTorch runs its fused nn.LSTM), and batch-1 inference
of LeNet and ResNet-18 (bench/resnet18.smelt; batchnorm in eval mode).
smelt's side is `smelt bench MODEL [--train]` (the compiled step timed in
process, no interpreter); PyTorch's is the same step in eager mode with the
same thread count. The inference rows also run the PyTorch model exported
to ONNX through onnxruntime (intra-op threads = --threads, sequential
execution, all graph optimizations), printed on a second line. Both report the median and the minimum over --repeat
steps after 3 warm-up steps; the ratio is PyTorch time / smelt time (> 1:
smelt is faster), from the medians and from the minimums.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smelt_time(smelt, model, train, threads, repeat):
    cmd = [smelt, "bench", model, "--threads", str(threads), "--repeat", str(repeat),
           "--interp-repeat", "0"] + (["--train"] if train else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"generated:\s+([\d.]+) ms/step median, ([\d.]+) min", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"smelt bench failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), float(m.group(2))


def torch_time(step, repeat):
    for _ in range(3):
        step()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


class MLP(nn.Module):  # examples/mlp.smelt
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.dropout(F.relu(self.l1(x.flatten(1))), 0.2, self.training)
        x = F.dropout(F.relu(self.l2(x)), 0.2, self.training)
        return self.l3(x)


class LeNet(nn.Module):  # examples/lenet.smelt
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2).flatten(1)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


class LSTMClassifier(nn.Module):  # examples/lstm_classifier.smelt
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        _, (h, _) = self.lstm(self.emb(x))
        return self.fc(h[-1])


def clipped_train_step(model, opt, x, y, max_norm):
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
    return step


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (self.down(x) if self.down else x))


class ResNet18(nn.Module):  # bench/resnet18.smelt (torchvision layout)
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def train_step(model, opt, x, y):
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def infer_step(model, x):
    model.eval()

    def step():
        with torch.no_grad():
            model(x)
    return step


def ort_time(model, x, tmp, threads, repeat):
    """The eval-mode model exported to ONNX, timed through onnxruntime."""
    import onnxruntime as ort
    model.eval()
    path = os.path.join(tmp, f"m{id(model)}.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), path, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x.numpy()}
    return torch_time(lambda: sess.run(None, feed), repeat)


def batch1_lenet(tmp):
    """examples/lenet.smelt with batch 1 (inference only)."""
    src = open(os.path.join(ROOT, "examples", "lenet.smelt")).read()
    src = src.replace("input x: f32[64,1,28,28]", "input x: f32[1,1,28,28]")
    src = src.replace("input y: i64[64]", "input y: i64[1]")
    path = os.path.join(tmp, "lenet1.smelt")
    open(path, "w").write(src.replace("model lenet", "model lenet1"))
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", default=os.path.join(ROOT, "build", "smelt"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime rows")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x64, y64 = torch.rand(64, 1, 28, 28) * 2 - 1, torch.arange(64) % 2
    tmp = tempfile.mkdtemp(prefix="smelt-vs-torch-")
    mlp, lenet, lstm = MLP(), LeNet(), LSTMClassifier()
    tok, lab = torch.randint(0, 64, (32, 12)), torch.arange(32) % 4
    rows = [
        ("MLP train step, batch 64", os.path.join(ROOT, "examples", "mlp.smelt"), True,
         lambda: train_step(mlp, torch.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9,
                                                 nesterov=True), x64, y64)),
        ("LeNet train step, batch 64", os.path.join(ROOT, "examples", "lenet.smelt"), True,
         lambda: train_step(lenet, torch.optim.Adam(lenet.parameters(), lr=0.01), x64, y64)),
        ("LSTM train step, batch 32", os.path.join(ROOT, "examples", "lstm_classifier.smelt"), True,
         lambda: clipped_train_step(lstm, torch.optim.Adam(lstm.parameters(), lr=0.01), tok, lab, 5)),
        ("LeNet inference, batch 1", batch1_lenet(tmp), False,
         lambda: infer_step(LeNet(), torch.rand(1, 1, 28, 28))),
        ("ResNet-18 inference, batch 1", os.path.join(ROOT, "bench", "resnet18.smelt"), False,
         lambda: infer_step(ResNet18(), torch.rand(1, 3, 224, 224))),
    ]
    ort_models = {"LeNet inference, batch 1": (LeNet, (1, 1, 28, 28)),
                  "ResNet-18 inference, batch 1": (ResNet18, (1, 3, 224, 224))}
    print(f"torch {torch.__version__}, {a.threads} threads, {a.repeat} steps; times in ms "
          f"(median / min); ratio = PyTorch / smelt")
    print(f"{'':30} {'smelt':>17} {'PyTorch eager':>17} {'ratio':>13}")
    for name, model, train, make in rows:
        if a.only and a.only.lower() not in name.lower():
            continue
        reps = a.repeat if train or "LeNet" in name else max(5, a.repeat // 5)
        sm, smin = smelt_time(a.smelt, model, train, a.threads, reps)
        tm, tmin = torch_time(make(), reps)
        print(f"{name:30} {sm:8.3f} /{smin:7.3f} {tm:8.3f} /{tmin:7.3f} "
              f"{tm / sm:5.2f}x /{tmin / smin:5.2f}x", flush=True)
        if name in ort_models and not a.no_ort:
            cls, shape = ort_models[name]
            om, omin = ort_time(cls(), torch.rand(*shape), tmp, a.threads, reps)
            print(f"{'  vs onnxruntime':30} {'':17} {om:8.3f} /{omin:7.3f} "
                  f"{om / sm:5.2f}x /{omin / smin:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
