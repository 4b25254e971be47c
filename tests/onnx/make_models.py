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


def case(name, nodes, inputs, outputs, inits=(), opset=13, feeds=None, use_ref=False, out_dtype=None):
    """inputs: list of (name, array); outputs: list of names. use_ref: expected
    outputs from ONNX's reference evaluator (ops onnxruntime lacks, e.g.
    batch-first recurrent layers)."""
    vi_in = [h.make_tensor_value_info(n, nh.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in inputs]
    et = nh.helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype) if out_dtype else inputs[0][1].dtype)
    vi_out = [h.make_tensor_value_info(n, et, None) for n in outputs]
    g = h.make_graph(nodes, name, vi_in, vi_out, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    from onnx.reference import ReferenceEvaluator
    if use_ref:
        res = ReferenceEvaluator(m).run(None, {n: a for n, a in inputs})
    else:
        sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
        res = sess.run(None, {n: a for n, a in inputs})
    # where onnxruntime's result shape departs from the ONNX spec (e.g. a
    # full ReduceSum with keepdims=0 gives [1], the spec a scalar), keep its
    # values in the shape ONNX's reference implementation gives
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

# ---- recurrent layers (ONNX gate orders, reordered at import) ----
def rec_case(name, op, G, T_, N, I, H, direction="forward", layout=0, bias=True, init_h=False,
             init_c=False, outs=("Y", "Y_h"), opset=14, **attrs):
    D = 2 if direction == "bidirectional" else 1
    xs = (N, T_, I) if layout else (T_, N, I)
    inits = [init("W", f32(D, G * H, I, lo=-0.6, hi=0.6)), init("R", f32(D, G * H, H, lo=-0.6, hi=0.6))]
    ins = ["x", "W", "R"]
    ins.append("B" if bias else "")
    if bias:
        inits.append(init("B", f32(D, 2 * G * H, lo=-0.5, hi=0.5)))
    ins.append("")  # sequence_lens
    st = (N, D, H) if layout else (D, N, H)
    if init_h:
        inits.append(init("h0", f32(*st, lo=-1, hi=1)))
    ins.append("h0" if init_h else "")
    if op == "LSTM":
        if init_c:
            inits.append(init("c0", f32(*st, lo=-1, hi=1)))
        ins.append("c0" if init_c else "")
    while ins and ins[-1] == "":
        ins.pop()
    node = h.make_node(op, ins, list(outs), hidden_size=H, direction=direction,
                       **({"layout": layout} if layout else {}), **attrs)
    case(name, [node], [("x", f32(*xs))], [o for o in outs if o], inits, opset=opset, use_ref=layout == 1)


for direction in ["forward", "reverse", "bidirectional"]:
    for layout in [0, 1]:
        tag = f"{direction}_l{layout}"
        rec_case(f"lstm_{tag}", "LSTM", 4, 5, 3, 4, 6, direction, layout, init_h=True, init_c=True,
                 outs=("Y", "Y_h", "Y_c"))
        rec_case(f"gru_{tag}", "GRU", 3, 5, 3, 4, 6, direction, layout, init_h=True, linear_before_reset=1)
        rec_case(f"rnn_{tag}", "RNN", 1, 5, 3, 4, 6, direction, layout, init_h=layout == 1)
rec_case("lstm_nobias_noinit", "LSTM", 4, 3, 2, 3, 5, outs=("Y",), bias=False, opset=7)
rec_case("lstm_only_h0", "LSTM", 4, 3, 2, 3, 5, outs=("", "Y_h"), init_h=True)
rec_case("gru_final_only", "GRU", 3, 4, 2, 3, 5, outs=("", "Y_h"), linear_before_reset=1)
rec_case("gru_lbr0_forward", "GRU", 3, 5, 3, 4, 6, init_h=True)  # ONNX's default linear_before_reset=0
rec_case("gru_lbr0_bidi_l1", "GRU", 3, 4, 2, 3, 5, "bidirectional", layout=1, init_h=True, linear_before_reset=0)
rec_case("rnn_relu_bidi", "RNN", 1, 4, 2, 3, 5, "bidirectional", activations=["Relu", "Relu"])

# ---- normalization ----
for axis in [-1, 1, 0]:
    x = f32(2, 3, 4, 5)
    ns = x.shape[axis % 4:]
    case(f"layernorm_axis{axis}".replace("-", "m"),
         [h.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "istd"], axis=axis, epsilon=1e-3)],
         [("x", x)], ["y", "mean", "istd"], [init("s", f32(*ns)), init("b", f32(*ns))], opset=17)
case("layernorm_nobias", [h.make_node("LayerNormalization", ["x", "s"], ["y"])], [("x", f32(3, 8))], ["y"],
     [init("s", f32(8))], opset=17)
case("instancenorm", [h.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-4)],
     [("x", f32(2, 3, 4, 5))], ["y"], [init("s", f32(3)), init("b", f32(3))])
case("instancenorm_1d", [h.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])],
     [("x", f32(2, 3, 7))], ["y"], [init("s", f32(3)), init("b", f32(3))], opset=6 + 1)
case("groupnorm_op21", [h.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)],
     [("x", f32(2, 6, 3, 3))], ["y"], [init("s", f32(6)), init("b", f32(6))], opset=21)

# ---- gather on run-time data, split, where, tile, erf, reduceprod, convtranspose ----
case("gather_embedding", [h.make_node("Gather", ["emb", "ids"], ["y"])],
     [("ids", rng.randint(0, 10, size=(2, 5)).astype(np.int64))], ["y"], [init("emb", f32(10, 4))],
     out_dtype=np.float32)
case("gather_axis1_scalar", [h.make_node("Gather", ["x", "i"], ["y"], axis=1)], [("x", f32(2, 5, 3))], ["y"],
     [init("i", np.int64(-1))])
case("gather_axis2_list", [h.make_node("Gather", ["x", "i"], ["y"], axis=2)], [("x", f32(2, 3, 6))], ["y"],
     [init("i", np.array([[5, 0], [-2, 1]], np.int64))])
case("gather_axis1_runtime_ids", [h.make_node("Gather", ["x", "i"], ["y"], axis=1)],
     [("x", f32(2, 5, 3)), ("i", np.array([4, 0, 2], np.int64))], ["y"])
case("split_op13", [h.make_node("Split", ["x", "sp"], ["a", "b", "c"], axis=1)], [("x", f32(2, 7, 3))],
     ["a", "b", "c"], [init("sp", np.array([2, 4, 1], np.int64))])
case("split_op11_equal", [h.make_node("Split", ["x"], ["a", "b"], axis=-1)], [("x", f32(2, 3, 6))], ["a", "b"], opset=11)
case("split_op18_uneven", [h.make_node("Split", ["x"], ["a", "b", "c"], axis=0, num_outputs=3)], [("x", f32(7, 2))],
     ["a", "b", "c"], opset=18)
cond = rng.rand(3, 4) > 0.5
case("where_const_cond", [h.make_node("Where", ["c", "x", "y"], ["z"])], [("x", f32(3, 4)), ("y", f32(1, 4))], ["z"],
     [init("c", cond)])
case("where_masked_fill", [h.make_node("Where", ["c", "m", "x"], ["z"]), h.make_node("Softmax", ["z"], ["s"])],
     [("x", f32(2, 3, 3))], ["s"], [init("c", np.triu(np.ones((3, 3), bool), 1)), init("m", np.float32(-np.inf))])
# ---- 3-D convolution and pools (as 2-D ones combined along depth) ----
case("conv3d_pads_strides", [h.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 2, 1, 0],
                                         strides=[2, 1, 2], dilations=[1, 2, 1])],
     [("x", f32(2, 3, 7, 6, 5))], ["y"], [init("w", f32(4, 3, 3, 2, 3, lo=-0.5, hi=0.5)), init("b", f32(4))])
case("conv3d_group_same", [h.make_node("Conv", ["x", "w"], ["y"], group=2, auto_pad="SAME_UPPER")],
     [("x", f32(1, 4, 5, 4, 4))], ["y"], [init("w", f32(6, 2, 3, 3, 3, lo=-0.5, hi=0.5))])
case("convtranspose3d", [h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 1, 2], pads=[1, 0, 0, 0, 1, 1],
                                      output_padding=[1, 0, 0], dilations=[1, 2, 1], group=2)],
     [("x", f32(1, 4, 3, 4, 3))], ["y"], [init("w", f32(4, 3, 3, 2, 2, lo=-0.5, hi=0.5)), init("b", f32(6))])
case("maxpool3d_pads_ceil", [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2, 3], pads=[1, 0, 1, 1, 1, 0],
                                         strides=[2, 2, 1], ceil_mode=1)], [("x", f32(2, 2, 6, 5, 4))], ["y"])
for cip in [0, 1]:
    case(f"avgpool3d_pads_cip{cip}", [h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3, 2],
                                                  pads=[1, 1, 0, 1, 0, 1], strides=[2, 1, 2], count_include_pad=cip)],
         [("x", f32(1, 3, 5, 4, 6))], ["y"])

# ---- comparisons, logic, Where, Cast and ArgMax on run-time tensors ----
ints = lambda *s: rng.randint(-2, 3, size=s).astype(np.int64)
bools = lambda *s: rng.rand(*s) > 0.5
case("logic_runtime_mask", [h.make_node("Less", ["x", "y"], ["l"]), h.make_node("And", ["l", "m"], ["a"]),
                            h.make_node("Not", ["a"], ["n"]), h.make_node("Xor", ["n", "k"], ["q"]),
                            h.make_node("Or", ["q", "l"], ["z"])],
     [("x", f32(3, 4)), ("y", f32(1, 4)), ("m", bools(3, 4)), ("k", bools(4))], ["z"], out_dtype=bool)
case("logic_runtime_where", [h.make_node("Greater", ["x", "t"], ["g"]), h.make_node("Where", ["g", "x", "y"], ["w"]),
                             h.make_node("Where", ["m", "w", "half"], ["z"])],
     [("x", f32(2, 3, 4)), ("y", f32(4)), ("m", bools(3, 1))], ["z"],
     [init("t", np.float32(0.25)), init("half", np.float32(0.5))])
for op in ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]:
    case(f"compare_{op.lower()}_int64", [h.make_node(op, ["a", "b"], ["y"])], [("a", ints(3, 1, 5)), ("b", ints(4, 1))],
         ["y"], out_dtype=bool, opset=16)
case("cast_chain", [h.make_node("Cast", ["x"], ["i"], to=T.INT32), h.make_node("Cast", ["i"], ["d"], to=T.DOUBLE),
                    h.make_node("Cast", ["x"], ["b"], to=T.BOOL), h.make_node("Cast", ["b"], ["bd"], to=T.DOUBLE),
                    h.make_node("Add", ["d", "bd"], ["s"]), h.make_node("CastLike", ["s", "x"], ["y"])],
     [("x", f32(3, 5, lo=-4, hi=4))], ["y"], opset=15)
case("argmax_argmin", [h.make_node("ArgMax", ["x"], ["a"], axis=2, keepdims=0),
                       h.make_node("ArgMin", ["x"], ["b"], axis=-1, select_last_index=1),
                       h.make_node("Reshape", ["b", "shp"], ["br"]), h.make_node("Add", ["a", "br"], ["y"])],
     [("x", np.round(f32(2, 4, 3))), ], ["y"], [init("shp", np.array([2, 4], np.int64))], out_dtype=np.int64)
case("pow_runtime_int_exponent", [h.make_node("Pow", ["x", "e"], ["y"])], [("x", f32(3, 4, lo=0.5, hi=2)),
                                                                          ("e", ints(4))], ["y"])
case("tile", [h.make_node("Tile", ["x", "r"], ["y"])], [("x", f32(2, 3, 4))], ["y"],
     [init("r", np.array([2, 1, 3], np.int64))])
case("erf", [h.make_node("Erf", ["x"], ["y"])], [("x", f32(4, 50, lo=-4, hi=4))], ["y"])
case("gelu_erf_pattern", [h.make_node("Div", ["x", "s2"], ["d"]), h.make_node("Erf", ["d"], ["e"]),
                          h.make_node("Add", ["e", "one"], ["a"]), h.make_node("Mul", ["x", "a"], ["m"]),
                          h.make_node("Mul", ["m", "half"], ["y"])],
     [("x", f32(3, 40, lo=-5, hi=5))], ["y"],
     [init("s2", np.float32(1.4142135)), init("one", np.float32(1)), init("half", np.float32(0.5))])
case("reduceprod_op13", [h.make_node("ReduceProd", ["x"], ["y"], axes=[1, 2], keepdims=0)],
     [("x", f32(2, 3, 4, 2, lo=-1.5, hi=1.5))], ["y"])
case("reduceprod_op18_all", [h.make_node("ReduceProd", ["x"], ["y"])], [("x", f32(2, 3, lo=-1.5, hi=1.5))], ["y"], opset=18)
for nm_, xs, ws, attrs in [
        ("convtranspose_s2", (1, 3, 4, 5), (3, 2, 3, 3), dict(strides=[2, 2], pads=[1, 0, 0, 1])),
        ("convtranspose_op_pad", (2, 2, 3, 3), (2, 3, 3, 2), dict(strides=[3, 2], output_padding=[1, 1], dilations=[1, 2])),
        ("convtranspose_group", (1, 4, 3, 3), (4, 1, 2, 2), dict(group=2, strides=[2, 2])),
        ("convtranspose_1d", (2, 3, 6), (3, 2, 4), dict(strides=[2], pads=[1, 1])),
        ("convtranspose_outshape", (1, 2, 3, 3), (2, 2, 3, 3), dict(strides=[2, 2], output_shape=[8, 8])),
        ("convtranspose_same", (1, 2, 3, 4), (2, 2, 3, 3), dict(strides=[2, 2], auto_pad="SAME_UPPER"))]:
    case(nm_, [h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)], [("x", f32(*xs))], ["y"],
         [init("w", f32(*ws)), init("b", f32(ws[1] * attrs.get("group", 1)))])

# ---- PyTorch-style architectures (as torch.onnx.export writes them), batch 1 and 4 ----
class Net:
    """Builds a graph node by node: x = n.op("Conv", [x, n.w(...)], ...)."""

    def __init__(self, name):
        self.name, self.nodes, self.inits, self.k = name, [], [], 0

    def fresh(self, tag):
        self.k += 1
        return f"/{tag}_{self.k}/out"  # torch-like value names

    def w(self, tag, arr):
        nm = f"{tag}.{self.k}"
        self.k += 1
        self.inits.append(init(nm, arr))
        return nm

    def op(self, t, ins, **attrs):
        out = self.fresh(t.lower())
        self.nodes.append(h.make_node(t, ins, [out], name=f"/{t}_{self.k}", **attrs))
        return out

    def ops(self, t, ins, nout, **attrs):
        outs = [self.fresh(t.lower()) + str(i) for i in range(nout)]
        self.nodes.append(h.make_node(t, ins, outs, **attrs))
        return outs

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=False):
        fan = cin // group * k * k
        ins = [x, self.w("conv.weight", f32(cout, cin // group, k, k, lo=-1 / np.sqrt(fan), hi=1 / np.sqrt(fan)))]
        if bias:
            ins.append(self.w("conv.bias", f32(cout, lo=-0.1, hi=0.1)))
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x, c):
        return self.op("BatchNormalization", [x, self.w("bn.weight", f32(c, lo=0.5, hi=1.5)),
                                              self.w("bn.bias", f32(c, lo=-0.2, hi=0.2)),
                                              self.w("bn.running_mean", f32(c, lo=-0.2, hi=0.2)),
                                              self.w("bn.running_var", f32(c, lo=0.5, hi=1.5))], epsilon=1e-5)

    def linear(self, x, cin, cout):
        b = 1 / np.sqrt(cin)
        return self.op("Gemm", [x, self.w("fc.weight", f32(cout, cin, lo=-b, hi=b)),
                                self.w("fc.bias", f32(cout, lo=-b, hi=b))], transB=1)

    def matmul_bias(self, x, cin, cout):  # torch's Linear on 3-D input: MatMul + Add
        b = 1 / np.sqrt(cin)
        y = self.op("MatMul", [x, self.w("linear.weight_t", f32(cin, cout, lo=-b, hi=b))])
        return self.op("Add", [self.w("linear.bias", f32(cout, lo=-b, hi=b)), y])

    def const(self, arr):
        return self.w("const", np.asarray(arr))

    def torch_flatten(self, x):  # Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        s = self.op("Shape", [x])
        n0 = self.op("Gather", [s, self.const(np.int64(0))], axis=0)
        u = self.op("Unsqueeze", [n0, self.const(np.array([0], np.int64))])
        shp = self.op("Concat", [u, self.const(np.array([-1], np.int64))], axis=0)
        return self.op("Reshape", [x, shp])

    def save(self, x_name, x, out, opset=13, use_ref=False, out_dtype=None):
        g_in = [(x_name, x)]
        self.nodes.append(h.make_node("Identity", [out], ["logits"]))
        case(self.name, self.nodes, g_in, ["logits"], self.inits, opset=opset, use_ref=use_ref,
             out_dtype=out_dtype)


def resnet(N):
    n = Net(f"arch_resnet_b{N}")
    x = n.op("Relu", [n.bn(n.conv("input", 3, 8, 3, pad=1), 8)])
    x = n.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for cin, cout, st in [(8, 8, 1), (8, 16, 2)]:
        y = n.op("Relu", [n.bn(n.conv(x, cin, cout, 3, st, 1), cout)])
        y = n.bn(n.conv(y, cout, cout, 3, 1, 1), cout)
        sc = x if st == 1 and cin == cout else n.bn(n.conv(x, cin, cout, 1, st), cout)
        x = n.op("Relu", [n.op("Add", [y, sc])])
    x = n.op("Flatten", [n.op("GlobalAveragePool", [x])], axis=1)
    n.save("input", f32(N, 3, 16, 16), n.linear(x, 16, 10))


def mobilenet(N):
    n = Net(f"arch_mobilenet_b{N}")
    lo, hi = n.const(np.float32(0)), n.const(np.float32(6))
    relu6 = lambda t: n.op("Clip", [t, lo, hi])
    x = relu6(n.bn(n.conv("input", 3, 8, 3, 2, 1), 8))
    for cin, cout, st, exp in [(8, 8, 1, 2), (8, 16, 2, 2), (16, 16, 1, 3)]:
        c = cin * exp
        y = relu6(n.bn(n.conv(x, cin, c, 1), c))             # expand 1x1
        y = relu6(n.bn(n.conv(y, c, c, 3, st, 1, group=c), c))  # depthwise 3x3
        y = n.bn(n.conv(y, c, cout, 1), cout)                # project 1x1 (linear)
        x = n.op("Add", [x, y]) if st == 1 and cin == cout else y
    x = n.op("Flatten", [n.op("GlobalAveragePool", [x])])
    n.save("input", f32(N, 3, 16, 16), n.linear(x, 16, 10))


def squeezenet(N):
    n = Net(f"arch_squeezenet_b{N}")
    x = n.op("Relu", [n.conv("input", 3, 16, 3, 2, bias=True)])
    x = n.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    for cin, sq, ex in [(16, 4, 8), (16, 4, 8), (16, 8, 16)]:
        s_ = n.op("Relu", [n.conv(x, cin, sq, 1, bias=True)])
        e1 = n.op("Relu", [n.conv(s_, sq, ex, 1, bias=True)])
        e3 = n.op("Relu", [n.conv(s_, sq, ex, 3, pad=1, bias=True)])
        x = n.op("Concat", [e1, e3], axis=1)
    x = n.op("Dropout", [x, n.const(np.float32(0.5))])
    x = n.op("Relu", [n.conv(x, 32, 10, 1, bias=True)])
    x = n.op("Flatten", [n.op("GlobalAveragePool", [x])])
    n.save("input", f32(N, 3, 17, 17), x)


def vgg(N):
    n = Net(f"arch_vgg_b{N}")
    x, c = "input", 3
    for cout in [8, 16]:
        for _ in range(2):
            x, c = n.op("Relu", [n.conv(x, c, cout, 3, pad=1, bias=True)]), cout
        x = n.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.torch_flatten(x)
    x = n.op("Dropout", [n.op("Relu", [n.linear(x, 16 * 4 * 4, 32)])])
    n.save("input", f32(N, 3, 16, 16), n.linear(x, 32, 10))


def rnn_weights(n, op, G, I, H, D):
    b = 1 / np.sqrt(H)
    return [n.w(f"{op}.W", f32(D, G * H, I, lo=-b, hi=b)), n.w(f"{op}.R", f32(D, G * H, H, lo=-b, hi=b)),
            n.w(f"{op}.B", f32(D, 2 * G * H, lo=-b, hi=b))]


def lstm_classifier(N, T_=6, V=20, E=8, H=12):
    """nn.Embedding -> 2-layer nn.LSTM(batch_first) -> last step -> nn.Linear."""
    n = Net(f"arch_lstm_classifier_b{N}")
    x = n.op("Gather", [n.w("embedding.weight", f32(V, E)), "ids"], axis=0)  # [N, T, E]
    x = n.op("Transpose", [x], perm=[1, 0, 2])                              # [T, N, E]
    zeros = n.op("ConstantOfShape", [n.const(np.array([1, N, H], np.int64))],
                 value=h.make_tensor("v", T.FLOAT, [1], [0.0]))
    for layer, I in enumerate([E, H]):
        W, R, B = rnn_weights(n, f"lstm.l{layer}", 4, I, H, 1)
        y, _, _ = n.ops("LSTM", [x, W, R, B, "", zeros, zeros], 3, hidden_size=H)
        x = n.op("Squeeze", [y, n.const(np.array([1], np.int64))])          # [T, N, H]
    x = n.op("Transpose", [x], perm=[1, 0, 2])                              # [N, T, H]
    last = n.op("Gather", [x, n.const(np.int64(-1))], axis=1)               # x[:, -1]
    n.save("ids", rng.randint(0, V, size=(N, T_)).astype(np.int64), n.linear(last, H, 5),
           out_dtype=np.float32)


def gru_classifier(N, T_=7, I=5, H=10):
    """bidirectional nn.GRU(batch_first) -> h_n of both directions -> nn.Linear."""
    n = Net(f"arch_gru_classifier_b{N}")
    x = n.op("Transpose", ["input"], perm=[1, 0, 2])
    W, R, B = rnn_weights(n, "gru", 3, I, H, 2)
    y, hn = n.ops("GRU", [x, W, R, B], 2, hidden_size=H, direction="bidirectional", linear_before_reset=1)
    hn = n.op("Transpose", [hn], perm=[1, 0, 2])                             # [N, 2, H]
    hn = n.op("Reshape", [hn, n.const(np.array([N, 2 * H], np.int64))])
    n.save("input", f32(N, T_, I), n.linear(hn, 2 * H, 4))


def transformer(N, T_=6, E=16, heads=2, F=32):
    """nn.TransformerEncoderLayer(batch_first, post-norm, activation=gelu) + mean pool + Linear."""
    n = Net(f"arch_transformer_b{N}")
    d = E // heads
    x = "input"
    qkv = n.matmul_bias(x, E, 3 * E)                                         # [N, T, 3E]
    q, k, v = n.ops("Split", [qkv, n.const(np.array([E, E, E], np.int64))], 3, axis=-1)
    shp = n.const(np.array([N, T_, heads, d], np.int64))
    hd = [n.op("Transpose", [n.op("Reshape", [t, shp])], perm=[0, 2, 1, 3]) for t in (q, k, v)]
    kt = n.op("Transpose", [hd[1]], perm=[0, 1, 3, 2])
    sc = n.op("Div", [n.op("MatMul", [hd[0], kt]), n.const(np.float32(np.sqrt(d)))])
    p = n.op("Softmax", [sc], axis=-1)
    a = n.op("Transpose", [n.op("MatMul", [p, hd[2]])], perm=[0, 2, 1, 3])
    a = n.op("Reshape", [a, n.const(np.array([N, T_, E], np.int64))])
    a = n.matmul_bias(a, E, E)
    ln = lambda t: n.op("LayerNormalization", [t, n.w("norm.weight", f32(E, lo=0.8, hi=1.2)),
                                               n.w("norm.bias", f32(E, lo=-0.1, hi=0.1))], axis=-1, epsilon=1e-5)
    x1 = ln(n.op("Add", [x, a]))
    f = n.matmul_bias(x1, E, F)
    e = n.op("Erf", [n.op("Div", [f, n.const(np.float32(1.4142135381698608))])])
    g = n.op("Mul", [n.op("Mul", [f, n.op("Add", [e, n.const(np.float32(1))])]), n.const(np.float32(0.5))])
    x2 = ln(n.op("Add", [x1, n.matmul_bias(g, F, E)]))
    pooled = n.op("ReduceMean", [x2], axes=[1], keepdims=0)
    n.save("input", f32(N, T_, E), n.linear(pooled, E, 3), opset=17)


for N in [1, 4]:
    resnet(N)
    mobilenet(N)
    squeezenet(N)
    vgg(N)
    lstm_classifier(N)
    gru_classifier(N)
    transformer(N)

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
save_bad("and_float.onnx", simple([h.make_node("And", ["x", "x"], ["y"], name="and1")], [vx], [vy]),
         "and: expects bool operands, operand 0 ('x') is f32[2,3]")
v5 = h.make_tensor_value_info("x", T.FLOAT, [1, 1, 300, 2, 2])
save_bad("pool3d_deep.onnx", simple([h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[200, 1, 1])], [v5], [vy]),
         "kernel depth 200: at most 128 is supported")
save_bad("conv3d_too_deep.onnx", simple([h.make_node("Conv", ["x", "w"], ["y"])], [v5], [vy],
                                        [init("w", np.zeros((1, 1, 301, 1, 1), np.float32))]),
         "kernel depth 301: at most 128")
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
