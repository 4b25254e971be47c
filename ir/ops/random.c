/* Random ops: dropout_train (counter-based mask) with its gradient rule,
 * and random_normal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"
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


/* ====================================================================== */

const IrOpDef op_random_normal = {
    .name = "random_normal", .min_in = 0, .max_in = 1, .nout = 1, .attrs = random_normal_attrs,
    .flags = IR_OPF_NOGRAD, .infer = random_normal_infer, .ref = random_normal_ref,
    .c = &cgk_random_normal,
    .train_form = "random_normal", .to_train = ir_train_step_operand,
    .doc = "normal noise ([step: i64 scalar]; shape, mean=0, scale=1, seed=0, stream=0, "
           "dtype=f32): counter-based, fresh per training step, fixed (step 0) in inference"};
const IrOpDef op_dropout_train = {
    .name = "dropout_train", .min_in = 2, .max_in = 2, .nout = 2, .attrs = dropout_train_attrs,
    .infer = dropout_train_infer, .ref = dropout_train_ref, .c = &cgk_dropout_train,
    .grad = dropout_train_grad,
    .doc = "training dropout (x, step: i64 scalar; ratio=0.5, stream=0, seed) -> y, mask"};
