"""Builds the ONNX models test_onnx imports, with onnx.helper, and their
expected outputs from onnxruntime.

usage: make_models.py OUTDIR

Writes OUTDIR/cases.txt (one case name a line) and for each case
OUTDIR/NAME/model.onnx, in_K.npy (inputs in graph order) and out_K.npy
(onnxruntime's outputs), plus OUTDIR/bad/*.onnx: malformed models listed in
OUTDIR/bad.txt as `FILE<TAB>expected message fragment`.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OUT = sys.argv[1]
rng = np.random.RandomState(7)
cases = []


def f32(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def init(name, arr):
    return nh.from_array(np.asarray(arr), name)


def case(name, nodes, inputs, outputs, inits=(), opset=13, feeds=None):
    """inputs: list of (name, array); outputs: list of names."""
    vi_in = [h.make_tensor_value_info(n, nh.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in inputs]
    et = nh.helper.np_dtype_to_tensor_dtype(inputs[0][1].dtype)
    vi_out = [h.make_tensor_value_info(n, et, None) for n in outputs]
    g = h.make_graph(nodes, name, vi_in, vi_out, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
    res = sess.run(None, {n: a for n, a in inputs})
    # where onnxruntime's result shape departs from the ONNX spec (e.g. a
    # full ReduceSum with keepdims=0 gives [1], the spec a scalar), keep its
    # values in the shape ONNX's reference implementation gives
    from onnx.reference import ReferenceEvaluator
    try:
        spec = ReferenceEvaluator(m).run(None, {n: a for n, a in inputs})
        res = [r.reshape(s.shape) if r.shape != s.shape and r.size == s.size else r
               for r, s in zip(res, spec)]
    except Exception:  # the reference lacks some old opset versions
        pass
    for k, (_, a) in enumerate(inputs):
        np.save(os.path.join(d, f"in_{k}.npy"), a)
    for k, r in enumerate(res):
        np.save(os.path.join(d, f"out_{k}.npy"), np.array(r, order="C"))
    cases.append(name)


def unary(op, x, opset=13, **attrs):
    return case(f"{op.lower()}_{'x'.join(map(str, x.shape))}_op{opset}",
                [h.make_node(op, ["x"], ["y"], **attrs)], [("x", x)], ["y"], opset=opset)


# ---- elementwise ----
for shape in [(3, 5), (2, 1, 4, 3)]:
    x = f32(*shape)
    for op in ["Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Softplus", "Softsign",
               "Selu", "Elu"]:
        unary(op, x)
    unary("HardSwish", x, opset=14)
    unary("LeakyRelu", x, alpha=0.2)
    unary("HardSigmoid", x, alpha=0.3, beta=0.4)
    xp = f32(*shape, lo=0.1, hi=3)
    for op in ["Sqrt", "Log", "Reciprocal"]:
        unary(op, xp)
    unary("Gelu", x, opset=20)
    unary("Gelu", x, opset=20, approximate="tanh")
x = f32(2, 3, 4)
unary("Clip", x, opset=7, min=-0.5, max=0.7)
case("clip_inputs_op13", [h.make_node("Clip", ["x", "lo", "hi"], ["y"])], [("x", x)], ["y"],
     [init("lo", np.float32(-1)), init("hi", np.float32(0.25))])
case("clip_max_only_op13", [h.make_node("Clip", ["x", "", "hi"], ["y"])], [("x", x)], ["y"],
     [init("hi", np.float32(0.25))])
case("prelu_op13", [h.make_node("PRelu", ["x", "s"], ["y"])], [("x", f32(2, 3, 4, 4))], ["y"],
     [init("s", f32(3, 1, 1))])
for op in ["Add", "Sub", "Mul", "Div", "Min", "Max"]:
    case(f"{op.lower()}_bcast", [h.make_node(op, ["a", "b"], ["y"])],
         [("a", f32(2, 3, 4)), ("b", f32(3, 1, lo=0.5, hi=2))], ["y"])
case("pow_op13", [h.make_node("Pow", ["a", "b"], ["y"])],
     [("a", f32(3, 4, lo=0.5, hi=2)), ("b", f32(3, 4))], ["y"])
case("pow_int_exponent", [h.make_node("Pow", ["a", "e"], ["y"])], [("a", f32(3, 4))], ["y"],
     [init("e", np.int64(2))])
for op in ["Sum", "Mean", "Min", "Max"]:
    case(f"{op.lower()}_variadic", [h.make_node(op, ["a", "b", "c"], ["y"])],
         [("a", f32(2, 3)), ("b", f32(3)), ("c", f32(2, 1))], ["y"])
case("add_f64", [h.make_node("Add", ["a", "b"], ["y"])],
     [("a", rng.randn(3, 2)), ("b", rng.randn(3, 2))], ["y"])
case("add_i64", [h.make_node("Add", ["a", "b"], ["y"])],
     [("a", rng.randint(-9, 9, size=(4,)).astype(np.int64)), ("b", rng.randint(-9, 9, size=(4,)).astype(np.int64))], ["y"])

# ---- nn ----
for opset in [7, 11, 13]:
    case(f"conv_op{opset}", [h.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 2], strides=[2, 1])],
         [("x", f32(2, 3, 7, 6))], ["y"], [init("w", f32(4, 3, 3, 3)), init("b", f32(4))], opset=opset)
case("conv_group_dil", [h.make_node("Conv", ["x", "w"], ["y"], group=2, dilations=[2, 2])],
     [("x", f32(1, 4, 8, 8))], ["y"], [init("w", f32(6, 2, 3, 3))])
case("conv_same_upper", [h.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
     [("x", f32(1, 2, 7, 8))], ["y"], [init("w", f32(3, 2, 4, 3))])
case("conv1d", [h.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1])],
     [("x", f32(2, 3, 9))], ["y"], [init("w", f32(5, 3, 3)), init("b", f32(5))])
case("maxpool_op8", [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
     [("x", f32(2, 3, 9, 8))], ["y"], opset=8)
case("maxpool_ceil_op12", [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)],
     [("x", f32(1, 2, 7, 7))], ["y"], opset=12)
case("maxpool1d", [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2])],
     [("x", f32(2, 3, 11))], ["y"])
case("avgpool_pad", [h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
     [("x", f32(1, 2, 6, 5))], ["y"])
case("avgpool_incl_pad", [h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 1],
                                      pads=[1, 0, 1, 1], count_include_pad=1)],
     [("x", f32(1, 2, 6, 5))], ["y"])
case("globalavgpool", [h.make_node("GlobalAveragePool", ["x"], ["y"])], [("x", f32(2, 3, 5, 4))], ["y"])
case("globalmaxpool", [h.make_node("GlobalMaxPool", ["x"], ["y"])], [("x", f32(2, 3, 5, 4))], ["y"])
for opset in [7, 9, 15]:
    case(f"batchnorm_op{opset}", [h.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
         [("x", f32(2, 3, 4, 5))], ["y"],
         [init("s", f32(3)), init("b", f32(3)), init("m", f32(3)), init("v", f32(3, lo=0.5, hi=2))], opset=opset)
case("gemm_trans", [h.make_node("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)],
     [("a", f32(4, 3))], ["y"], [init("b", f32(5, 4)), init("c", f32(5))])
case("gemm_noc_op13", [h.make_node("Gemm", ["a", "b"], ["y"])], [("a", f32(2, 3)), ("b", f32(3, 4))], ["y"])
case("matmul_batch", [h.make_node("MatMul", ["a", "b"], ["y"])], [("a", f32(2, 3, 4)), ("b", f32(4, 5))], ["y"])
case("matmul_vec", [h.make_node("MatMul", ["a", "b"], ["y"])], [("a", f32(4)), ("b", f32(2, 4, 3))], ["y"])
for op in ["Softmax", "LogSoftmax"]:
    for opset, axis in [(11, 1), (11, -1), (13, 1), (13, -1)]:
        case(f"{op.lower()}_op{opset}_axis{axis}".replace("-", "m"), [h.make_node(op, ["x"], ["y"], axis=axis)],
             [("x", f32(2, 3, 4))], ["y"], opset=opset)
case("dropout_op7", [h.make_node("Dropout", ["x"], ["y"], ratio=0.3)], [("x", f32(3, 4))], ["y"], opset=7)
case("dropout_op13", [h.make_node("Dropout", ["x", "r"], ["y"])], [("x", f32(3, 4))], ["y"],
     [init("r", np.float32(0.2))])
case("identity", [h.make_node("Identity", ["x"], ["t"]), h.make_node("Relu", ["t"], ["y"])], [("x", f32(3, 4))], ["y"])

# ---- shape ops ----
case("flatten_axis2", [h.make_node("Flatten", ["x"], ["y"], axis=2)], [("x", f32(2, 3, 4, 5))], ["y"])
case("flatten_axism1", [h.make_node("Flatten", ["x"], ["y"], axis=-1)], [("x", f32(2, 3, 4))], ["y"])
case("reshape_zero_minus1", [h.make_node("Reshape", ["x", "s"], ["y"])], [("x", f32(2, 3, 4))], ["y"],
     [init("s", np.array([0, -1], np.int64))])
case("transpose_perm", [h.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 1])], [("x", f32(2, 3, 4))], ["y"])
case("transpose_default", [h.make_node("Transpose", ["x"], ["y"])], [("x", f32(2, 3, 4))], ["y"])
case("concat_axis1", [h.make_node("Concat", ["a", "b", "c"], ["y"], axis=1)],
     [("a", f32(2, 1, 3)), ("b", f32(2, 4, 3)), ("c", f32(2, 2, 3))], ["y"])
case("slice_op13", [h.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], [("x", f32(5, 6, 4))], ["y"],
     [init("st", np.array([1, -1], np.int64)), init("en", np.array([5, -100], np.int64)),
      init("ax", np.array([0, 1], np.int64)), init("sp", np.array([2, -2], np.int64))])
case("slice_op9", [h.make_node("Slice", ["x"], ["y"], starts=[0, 1], ends=[2, 1000], axes=[0, 2])],
     [("x", f32(3, 4, 5))], ["y"], opset=9)
case("pad_op13", [h.make_node("Pad", ["x", "p", "v"], ["y"])], [("x", f32(2, 3, 4))], ["y"],
     [init("p", np.array([0, 1, 2, 1, 0, 3], np.int64)), init("v", np.float32(1.5))])
case("pad_op7", [h.make_node("Pad", ["x"], ["y"], pads=[1, 0, 0, 2], value=-1.0)], [("x", f32(2, 3))], ["y"], opset=7)
case("squeeze_op11", [h.make_node("Squeeze", ["x"], ["y"], axes=[1, 3])], [("x", f32(2, 1, 3, 1))], ["y"], opset=11)
case("squeeze_op13_all", [h.make_node("Squeeze", ["x"], ["y"])], [("x", f32(2, 1, 3, 1))], ["y"])
case("unsqueeze_op11", [h.make_node("Unsqueeze", ["x"], ["y"], axes=[0, 3])], [("x", f32(2, 3))], ["y"], opset=11)
case("unsqueeze_op13", [h.make_node("Unsqueeze", ["x", "a"], ["y"])], [("x", f32(2, 3))], ["y"],
     [init("a", np.array([-1, 1], np.int64))])
case("expand_op13", [h.make_node("Expand", ["x", "s"], ["y"])], [("x", f32(3, 1))], ["y"],
     [init("s", np.array([2, 1, 4], np.int64))])
for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceSumSquare"]:
    case(f"{op.lower()}_attr_op11", [h.make_node(op, ["x"], ["y"], axes=[1], keepdims=0)],
         [("x", f32(2, 3, 4))], ["y"], opset=11)
    case(f"{op.lower()}_input_op18", [h.make_node(op, ["x", "a"], ["y"])], [("x", f32(2, 3, 4))], ["y"],
         [init("a", np.array([0, -1], np.int64))], opset=18)
case("reducesum_input_op13_all", [h.make_node("ReduceSum", ["x"], ["y"], keepdims=0)], [("x", f32(2, 3, 4))], ["y"])

# ---- shape computations folded at import (torch.onnx style flatten) ----
case("shape_chain", [
    h.make_node("Shape", ["x"], ["s"]),
    h.make_node("Gather", ["s", "i0"], ["n"], axis=0),
    h.make_node("Unsqueeze", ["n", "ax0"], ["nu"]),
    h.make_node("Constant", [], ["m1"], value=init("m1v", np.array([-1], np.int64))),
    h.make_node("Concat", ["nu", "m1"], ["shp"], axis=0),
    h.make_node("Cast", ["shp"], ["shp2"], to=T.INT64),
    h.make_node("Reshape", ["x", "shp2"], ["r"]),
    h.make_node("Range", ["r0", "r4", "r1"], ["rg"]),
    h.make_node("Cast", ["rg"], ["rgf"], to=T.FLOAT),
    h.make_node("ConstantOfShape", ["shp_b"], ["ones"], value=init("one", np.array([2.0], np.float32))),
    h.make_node("Mul", ["r", "ones"], ["r2"]),
    h.make_node("Slice", ["rgf", "st", "en"], ["rs"]),
    h.make_node("Add", ["r2", "rs"], ["y"])],
    [("x", f32(2, 3, 4))], ["y"],
    [init("i0", np.int64(0)), init("ax0", np.array([0], np.int64)), init("r0", np.int64(0)),
     init("r4", np.int64(12)), init("r1", np.int64(1)), init("shp_b", np.array([1, 12], np.int64)),
     init("st", np.array([0], np.int64)), init("en", np.array([12], np.int64))])

# ---- a small CNN with typed-field initializers (float_data, not raw_data) ----
w = f32(4, 1, 3, 3)
wt = h.make_tensor("w", T.FLOAT, w.shape, w.flatten().tolist())
case("tiny_cnn", [
    h.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
    h.make_node("Relu", ["c"], ["r"]),
    h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
    h.make_node("Flatten", ["p"], ["f"]),
    h.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1),
    h.make_node("Softmax", ["g"], ["y"], axis=1)],
    [("x", f32(3, 1, 6, 6))], ["y"],
    [wt, init("fw", f32(5, 36)), init("fb", f32(5))], opset=11)

with open(os.path.join(OUT, "cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")

# ---- malformed models ----
bd = os.path.join(OUT, "bad")
os.makedirs(bd, exist_ok=True)
bad = []


def save_bad(name, m, msg, raw=None):
    p = os.path.join(bd, name)
    with open(p, "wb") as f:
        f.write(raw if raw is not None else m.SerializeToString())
    bad.append((name, msg))


def simple(nodes, inputs, outputs, inits=(), opset=13, ir=8):
    g = h.make_graph(nodes, "bad", inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = ir
    return m


vx = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
vy = h.make_tensor_value_info("y", T.FLOAT, [2, 3])
good = simple([h.make_node("Relu", ["x"], ["y"])], [vx], [vy])
raw = good.SerializeToString()
save_bad("truncated.onnx", None, "truncated or corrupt", raw[: len(raw) - 5])
save_bad("garbage.onnx", None, "truncated or corrupt", b"\xff\xff\xff\xff garbage" * 3)
save_bad("empty_graph.onnx", None, "has no graph", b"\x08\x07")
save_bad("ir_version.onnx", simple([h.make_node("Relu", ["x"], ["y"])], [vx], [vy], ir=99), "unknown ONNX IR version 99")
save_bad("opset.onnx", simple([h.make_node("Relu", ["x"], ["y"])], [vx], [vy], opset=3), "opset 3 is not supported")
save_bad("unsupported.onnx", simple([h.make_node("LSTMX", ["x"], ["t"], name="l1"),
                                      h.make_node("Relu", ["t"], ["u"]),
                                      h.make_node("Foo", ["u"], ["y"], name="f2", domain="com.acme")],
                                     [vx], [vy]), "2 nodes use operators smelt does not support")
save_bad("missing_init.onnx", simple([h.make_node("Add", ["x", "w"], ["y"], name="add1")], [vx], [vy]),
         "input 'w' is not an initializer, a graph input or any node's output")
save_bad("dangling_output.onnx", simple([h.make_node("Relu", ["x"], ["t"])], [vx], [vy]),
         "graph output 'y' is not produced by anything")
save_bad("cycle.onnx", simple([h.make_node("Add", ["x", "b"], ["a"], name="n0"),
                                h.make_node("Relu", ["a"], ["b"], name="n1"),
                                h.make_node("Relu", ["a"], ["y"], name="n2")], [vx], [vy]),
         "the graph has a cycle")
big = onnx.TensorProto(name="w", data_type=T.FLOAT, dims=[1 << 40, 1 << 30])
save_bad("overflow.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [big]),
         "have more than 2^40 elements")
short = onnx.TensorProto(name="w", data_type=T.FLOAT, dims=[2, 3], float_data=[1.0, 2.0])
save_bad("short_init.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [short]),
         "holds 2 values, but its dims need 6")
rawshort = onnx.TensorProto(name="w", data_type=T.FLOAT, dims=[2, 3], raw_data=b"\0" * 10)
save_bad("short_raw.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [rawshort]),
         "raw_data has 10 bytes")
f16 = h.make_tensor("w", T.FLOAT16, [2, 3], np.zeros(6, np.float16).view(np.uint16).tolist())
save_bad("dtype.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [f16]),
         "has element type float16")
sym = h.make_tensor_value_info("x", T.FLOAT, ["batch", 3])
save_bad("symbolic.onnx", simple([h.make_node("Relu", ["x"], ["y"])], [sym], [vy]),
         "dim 0 is the symbol 'batch' and is not bound")
ext = onnx.TensorProto(name="w", data_type=T.FLOAT, dims=[2, 3],
                       data_location=onnx.TensorProto.EXTERNAL)
for k, v in [("location", "missing_weights.bin"), ("offset", "0"), ("length", "24")]:
    e = ext.external_data.add()
    e.key, e.value = k, v
save_bad("ext_missing.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [ext]),
         "cannot open external data file")
ext2 = onnx.TensorProto()
ext2.CopyFrom(ext)
ext2.external_data[0].value = "short_weights.bin"
with open(os.path.join(bd, "short_weights.bin"), "wb") as f:
    f.write(b"\0" * 12)
save_bad("ext_short.onnx", simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [ext2]),
         "is too short")
# external data that is fine: the test checks the values arrive
ext3 = onnx.TensorProto()
ext3.CopyFrom(ext)
ext3.external_data[0].value = "good_weights.bin"
with open(os.path.join(bd, "good_weights.bin"), "wb") as f:
    f.write(np.arange(6, dtype=np.float32).tobytes())
onnx.save(simple([h.make_node("Add", ["x", "w"], ["y"])], [vx], [vy], [ext3]), os.path.join(bd, "ext_good.onnx"))

with open(os.path.join(OUT, "bad.txt"), "w") as f:
    for n, m in bad:
        f.write(f"{n}\t{m}\n")
