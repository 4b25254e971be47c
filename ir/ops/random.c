/* Random ops: dropout_train (counter-based mask) with its gradient rule,
 * and random_normal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_emit.h"
#include "nn.h"
#include "rt.h"

/* ======================================================================
 * dropout_train(x, step; ratio, stream, seed) -> (y, mask)
 *
 * Element i of step `step` is kept iff rt_uniform(seed, stream,
 * step * numel + i) >= ratio: a pure function, so the reference and the
 * generated code draw the same mask, independent of thread count. Kept
 * elements are scaled by 1/(1 - ratio); mask holds that factor or 0.
 * ====================================================================== */

static const IrAttrSpec dropout_train_attrs[] = {
    {"ratio", IR_ATTR_FLOAT, false},
    {"stream", IR_ATTR_INT, false},
    {"seed", IR_ATTR_INT, true},
    {NULL, 0, false}};

static bool dropout_train_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *st = &n->in[1]->type;
  char s[IR_TYPE_STRLEN];
  if (!op_want_float(n, 0, d)) return false;
  if (st->dtype != IR_I64 || ir_numel(st) != 1)
    return op_err(n, d, "step '%s' must be an i64 scalar, got %s", n->in[1]->name,
                  OP_TSTR(st, s));
  double r = ir_attr_float(n, "ratio", 0.5);
  if (!(r >= 0 && r < 1)) return op_err(n, d, "ratio must be in [0, 1), got %g", r);
  if (ir_attr_int(n, "stream", 0) < 0)
    return op_err(n, d, "stream must be non-negative, got %lld",
                  (long long)ir_attr_int(n, "stream", 0));
  out[0] = out[1] = n->in[0]->type;
  return true;
}

static void dropout_train_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0);
  uint64_t stream = (uint64_t)ir_attr_int(n, "stream", 0);
  uint64_t base = (uint64_t)(int64_t)in[1].d[0] * (uint64_t)in[0].numel;
  for (int64_t i = 0; i < in[0].numel; i++) {
    bool keep = rt_uniform(seed, stream, base + (uint64_t)i) >= ratio;
    out[1].d[i] = keep ? 1 / (1 - ratio) : 0;
    out[0].d[i] = in[0].d[i] * out[1].d[i];
  }
}

/* Statements applying rt_mix64 to the uint64_t variable v in place. */
static void emit_mix64(SmBuf *b, int ind, const char *v) {
  sm_buf_printf(b, "%*s%s += 0x9e3779b97f4a7c15ull;\n", ind, "", v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 30)) * 0xbf58476d1ce4e5b9ull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 27)) * 0x94d049bb133111ebull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s ^= %s >> 31;\n", ind, "", v, v);
}

/* The draw inlined: the (seed, stream) prefix of the hash is a constant,
 * and u >= ratio for u = k * 2^-53 is k >= ceil(ratio * 2^53) on the
 * integer k (exact: scaling by a power of two), so the loop vectorizes and
 * keeps exactly the reference's mask. */
static void dropout_train_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t numel = ir_numel(&n->in[0]->type);
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t pre = rt_hash_prefix((uint64_t)ir_attr_int(n, "seed", 0),
                                (uint64_t)ir_attr_int(n, "stream", 0));
  uint64_t thr = (uint64_t)ceil(ratio * 0x1.0p53);
  sm_buf_printf(b, "  const uint64_t base = (uint64_t)in1[0] * %lluu;\n",
                (unsigned long long)numel);
  emit_omp_for(b, numel * 4, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)numel);
  sm_buf_printf(b, "    uint64_t z = base + (uint64_t)i + %lluull;\n", (unsigned long long)RT_HASH_I);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    z ^= %lluull;\n", (unsigned long long)pre);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    const %s m = (z >> 11) >= %lluull ? ", T, (unsigned long long)thr);
  emit_value(b, n->out[0]->type.dtype, 1 / (1 - ratio));
  sm_buf_puts(b, " : 0;\n");
  sm_buf_puts(b, "    out1[i] = m;\n    out0[i] = in0[i] * m;\n  }\n");
}

static bool dropout_train_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                               IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[2] = {dout[0], n->out[1]};
  din[0] = ir_grad_op(cx, "mul", in, 2);
  return true;
}

/* ======================================================================
 * random_normal([step]; shape, mean=0, scale=1, seed=0, stream=0)
 *
 * Element i is mean + scale * rt_normal(seed, stream, step * numel + i):
 * a pure function of its counter, so the reference and generated code
 * agree bit for bit on any thread count. Without a step input the step is
 * 0 (fixed noise, e.g. a GAN's sample grid); the training pass gives the
 * node the step input so that every update draws fresh noise. Distinct
 * noise sources need distinct streams (equal attributes mean equal values).
 * ====================================================================== */

static const IrAttrSpec random_normal_attrs[] = {
    {"shape", IR_ATTR_INTS, true},  {"mean", IR_ATTR_FLOAT, false},
    {"scale", IR_ATTR_FLOAT, false}, {"seed", IR_ATTR_INT, false},
    {"stream", IR_ATTR_INT, false},  {"dtype", IR_ATTR_STR, false},
    {NULL, 0, false}};

static bool random_normal_infer(const IrNode *n, IrType *out, SmDiag *d) {
  char s[IR_TYPE_STRLEN];
  if (n->nin == 1) {
    const IrType *st = &n->in[0]->type;
    if (st->dtype != IR_I64 || ir_numel(st) != 1)
      return op_err(n, d, "step '%s' must be an i64 scalar, got %s", n->in[0]->name,
                    OP_TSTR(st, s));
  }
  const char *dt = ir_attr_str(n, "dtype", "f32");
  if (strcmp(dt, "f32") && strcmp(dt, "f64"))
    return op_err(n, d, "dtype must be f32 or f64, got \"%s\"", dt);
  int64_t shape[IR_MAX_RANK + 1];
  int rank = ir_attr_ints(n, "shape", shape, IR_MAX_RANK + 1);
  if (rank < 0 || rank > IR_MAX_RANK)
    return op_err(n, d, "shape must have 0 to %d dims", IR_MAX_RANK);
  for (int i = 0; i < rank; i++)
    if (shape[i] < 0) return op_err(n, d, "shape has a negative dim %lld", (long long)shape[i]);
  if (ir_attr_int(n, "stream", 0) < 0 || ir_attr_int(n, "seed", 0) < 0)
    return op_err(n, d, "seed and stream must be non-negative");
  out[0] = ir_type_make(strcmp(dt, "f64") ? IR_F32 : IR_F64, rank, shape);
  if (ir_type_numel(&out[0]) < 0) return op_err(n, d, "shape has too many elements");
  return true;
}

static void random_normal_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0);
  uint64_t stream = (uint64_t)ir_attr_int(n, "stream", 0);
  double mean = ir_attr_float(n, "mean", 0), scale = ir_attr_float(n, "scale", 1);
  uint64_t base = n->nin ? (uint64_t)(int64_t)in[0].d[0] * (uint64_t)out[0].numel : 0;
  for (int64_t i = 0; i < out[0].numel; i++)
    out[0].d[i] = mean + scale * rt_normal(seed, stream, base + (uint64_t)i);
}

static void random_normal_emit(SmBuf *b, const IrNode *n) {
  int64_t numel = ir_numel(&n->out[0]->type);
  if (numel == 0) return;
  if (n->nin) sm_buf_printf(b, "  const uint64_t base = (uint64_t)in0[0] * %lluu;\n",
                            (unsigned long long)numel);
  else sm_buf_puts(b, "  const uint64_t base = 0;\n");
  emit_omp_for(b, numel * 32, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n    out0[i] = (%s)(", (long long)numel,
                ctype(n));
  emit_value(b, IR_F64, ir_attr_float(n, "mean", 0));
  sm_buf_puts(b, " + ");
  emit_value(b, IR_F64, ir_attr_float(n, "scale", 1));
  sm_buf_printf(b, " * rt_normal(%lluu, %lluu, base + (uint64_t)i));\n",
                (unsigned long long)ir_attr_int(n, "seed", 0),
                (unsigned long long)ir_attr_int(n, "stream", 0));
}


/* ====================================================================== */

const IrOpDef op_random_normal = {
    .name = "random_normal", .min_in = 0, .max_in = 1, .nout = 1, .attrs = random_normal_attrs,
    .flags = IR_OPF_NOGRAD, .infer = random_normal_infer, .ref = random_normal_ref,
    .emit = random_normal_emit,
    .train_form = "random_normal", .to_train = ir_train_step_operand,
    .doc = "normal noise ([step: i64 scalar]; shape, mean=0, scale=1, seed=0, stream=0, "
           "dtype=f32): counter-based, fresh per training step, fixed (step 0) in inference"};
const IrOpDef op_dropout_train = {
    .name = "dropout_train", .min_in = 2, .max_in = 2, .nout = 2, .attrs = dropout_train_attrs,
    .infer = dropout_train_infer, .ref = dropout_train_ref, .emit = dropout_train_emit,
    .grad = dropout_train_grad,
    .doc = "training dropout (x, step: i64 scalar; ratio=0.5, stream=0, seed) -> y, mask"};
