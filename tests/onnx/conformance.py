"""Runs ONNX's backend node tests (the cases defined in the pip `onnx`
package, onnx/backend/test/case/node) through smelt and prints pass / fail /
unsupported counts per op.

usage: conformance.py --smelt BIN --ops Op1,Op2,... --xfail FILE --work DIR
                      [--compile] [--only NAME_SUBSTRING] [-v]

The installed onnx wheel ships the case definitions but not the generated
data directory, so each case's model and inputs are written here (the
expected outputs are the ones the case computes with numpy). A case counts
when every node of its model is an op smelt maps (--ops), except ops smelt
folds only at import (Range, ConstantOfShape, Floor, Ceil: their node tests
feed run-time tensors). Each case runs on the reference interpreter (`smelt run`), or with
--compile as a compiled program. Exit status 1 when a case fails that FILE
does not list (`case_name  reason`), or a listed case passes.
"""
import argparse
import collections
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

# import-time constant folders: their node tests use run-time inputs
FOLD_ONLY = {"Range", "ConstantOfShape", "Floor", "Ceil"}
RTOL, ATOL = 1e-3, 1e-5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", required=True)
    ap.add_argument("--ops", required=True)
    ap.add_argument("--xfail", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    claimed = {o for o in a.ops.split(",") if o} - FOLD_ONLY
    xfail = {}
    with open(a.xfail) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                xfail[name] = reason.strip()
    os.makedirs(a.work, exist_ok=True)
    counts = collections.defaultdict(lambda: collections.Counter())
    unexpected, xpass = [], []
    for case in collect_testcases():
        if case.kind != "node" or a.only not in case.name:
            continue
        ops = [n.op_type for n in case.model.graph.node]
        if not ops or any(o not in claimed or n.domain not in ("", "ai.onnx")
                          for o, n in zip(ops, case.model.graph.node)):
            continue
        key = ops[0] if len(ops) == 1 else "(expanded) " + case.name.split("_expanded")[0][5:]
        status, why = run(case, a)
        counts[key][status] += 1
        listed = case.name in xfail
        if status == "pass" and listed:
            xpass.append(case.name)
        elif status != "pass" and not listed:
            unexpected.append((case.name, status, why))
        if a.v:
            print(f"{status:12s} {case.name} {why}")
    print(f"{'op':34s} {'pass':>5s} {'fail':>5s} {'unsup':>5s}")
    tot = collections.Counter()
    for op in sorted(counts):
        c = counts[op]
        tot.update(c)
        print(f"{op:34s} {c['pass']:5d} {c['fail']:5d} {c['unsupported']:5d}")
    print(f"{'total':34s} {tot['pass']:5d} {tot['fail']:5d} {tot['unsupported']:5d}")
    for name, status, why in unexpected:
        print(f"UNEXPECTED {status}: {name}: {why}")
    for name in xpass:
        print(f"UNEXPECTED pass (remove from {a.xfail}): {name}")
    return 1 if unexpected or xpass else 0


def as_array(x):
    """Case data are numpy arrays, or TensorProtos (the Cast cases)."""
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    return np.asarray(x)


def run(case, a):
    d = os.path.join(a.work, case.name)
    os.makedirs(d, exist_ok=True)
    mpath = os.path.join(d, "model.onnx")
    with open(mpath, "wb") as f:
        f.write(case.model.SerializeToString())
    inputs, outputs = case.data_sets[0]
    g = case.model.graph
    args = []
    for vi, x in zip(g.input, inputs):
        p = os.path.join(d, f"in_{vi.name}.npy")
        np.save(p, as_array(x))
        args += ["--input", f"{vi.name}={p}"]
    outs = []
    for vi in g.output:
        p = os.path.join(d, f"out_{vi.name}.npy")
        if os.path.exists(p):
            os.unlink(p)
        outs.append(p)
    if a.compile:
        exe = os.path.join(d, "prog")
        r = subprocess.run([a.smelt, "compile", mpath, "-o", exe, "--opt", "-O1"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            r = subprocess.run([exe] + args + sum([["--output", f"{vi.name}={p}"] for vi, p in zip(g.output, outs)], []),
                               capture_output=True, text=True)
    else:
        r = subprocess.run([a.smelt, "run", mpath] + args +
                           sum([["--output", f"{vi.name}={p}"] for vi, p in zip(g.output, outs)], []),
                           capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or ["?"])
        msg = next((m for m in msg if "error" in m), msg[0])
        return ("unsupported" if r.returncode == 2 else "fail"), msg[:200]
    for p, want in zip(outs, outputs):
        want = as_array(want)
        if not os.path.exists(p):
            return "fail", f"no output {os.path.basename(p)}"
        got = np.load(p)
        if got.shape != want.shape:
            return "fail", f"shape {got.shape} != expected {want.shape}"
        if want.dtype.kind in "fc":
            ok = np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            ok = np.array_equal(got, want)
        if not ok:
            diff = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
            return "fail", f"max |diff| {diff:.3g}"
    return "pass", ""


if __name__ == "__main__":
    sys.exit(main())
