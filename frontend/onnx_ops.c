/* ONNX import: the op table (one entry per ONNX operator: its lowering, the
 * IR op it maps to one-to-one if any, and the arity the lowering handles),
 * IR-building shorthands, and the lowerings of elementwise ops, matmul,
 * softmax, reductions and normalizations. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx_internal.h"
#include "rt.h"

/* v converted to dtype t (v itself when it has it) */
IrValue *ox_cast_value(Im *im, IrValue *v, IrDType t) {
  if (!v || v->type.dtype == t) return v;
  IrNode *m = ox_mk(im, "cast", &v, 1);
  ir_set_str(im->g, m, "to", ir_dtype_name(t));
  return ox_fin(im, m);
}

IrValue *ox_op1(Im *im, const char *op, IrValue *a) {
  if (!a) return NULL;
  return ox_fin(im, ox_mk(im, op, &a, 1));
}

IrValue *ox_op2(Im *im, const char *op, IrValue *a, IrValue *b) {
  if (!a || !b) return NULL;
  IrValue *in[2] = {a, b};
  return ox_fin(im, ox_mk(im, op, in, 2));
}

IrValue *ox_scalar(Im *im, IrDType t, double v) {
  double x = ox_round_to(t, v);
  IrNode *n = ir_add_node(im->g, ox_opdef("constant"), NULL, 0, NULL, 1, im->loc);
  ir_set_ints(im->g, n, "shape", NULL, 0);
  ir_set_floats(im->g, n, "value", &x, 1);
  ir_set_str(im->g, n, "dtype", ir_dtype_name(t));
  return ox_fin(im, n);
}

IrValue *ox_reshape_to(Im *im, IrValue *x, int rank, const int64_t *dims) {
  if (!x) return NULL;
  if (x->type.rank == rank && !memcmp(x->type.dims, dims, sizeof(int64_t) * (size_t)rank)) return x;
  IrNode *n = ox_mk(im, "reshape", &x, 1);
  ir_set_ints(im->g, n, "shape", dims, rank);
  return ox_fin(im, n);
}

/* ---- small builders over IR values ---- */
IrValue *ox_slice_axis(Im *im, IrValue *x, int axis, int64_t start, int64_t end, int64_t step) {
  if (!x) return NULL;
  IrNode *m = ox_mk(im, "slice", &x, 1);
  int64_t ax = axis;
  ir_set_ints(im->g, m, "starts", &start, 1);
  ir_set_ints(im->g, m, "ends", &end, 1);
  ir_set_ints(im->g, m, "axes", &ax, 1);
  if (step != 1) ir_set_ints(im->g, m, "steps", &step, 1);
  return ox_fin(im, m);
}

/* x reversed along axis */
IrValue *ox_flip_axis(Im *im, IrValue *x, int axis) {
  if (!x) return NULL;
  return ox_slice_axis(im, x, axis, -1, INT64_MIN / 2, -1);
}

IrValue *ox_transpose_to(Im *im, IrValue *x, const int64_t *perm) {
  if (!x) return NULL;
  bool id = true;
  for (int i = 0; i < x->type.rank; i++) id &= perm[i] == i;
  if (id) return x;
  IrNode *m = ox_mk(im, "transpose", &x, 1);
  ir_set_ints(im->g, m, "perm", perm, x->type.rank);
  return ox_fin(im, m);
}

/* concat of any number of values along axis (the op takes 16: a tree) */
IrValue *ox_concat_n(Im *im, IrValue *const *vs, int cnt, int axis) {
  for (int i = 0; i < cnt; i++)
    if (!vs[i]) return NULL;
  if (cnt == 1) return vs[0];
  if (cnt > 16) {
    int groups = (cnt + 15) / 16;
    IrValue **part = sm_xcalloc((size_t)groups, sizeof *part);
    for (int gi = 0; gi < groups; gi++) {
      int lo = gi * 16, hi = lo + 16 < cnt ? lo + 16 : cnt;
      part[gi] = ox_concat_n(im, vs + lo, hi - lo, axis);
    }
    IrValue *r = ox_concat_n(im, part, groups, axis);
    free(part);
    return r;
  }
  IrNode *m = ir_add_node(im->g, ox_opdef("concat"), (IrValue **)vs, cnt, NULL, 1, im->loc);
  ir_set_int(im->g, m, "axis", axis);
  return ox_fin(im, m);
}

/* A constant tensor as an IR value (a `constant` node). */
IrValue *ox_const_value(Im *im, IrTensor *c, const char *tag) {
  Ent tmp = {.name = sm_arena_printf(&im->g->arena, "%s", tag), .c = c};
  return ox_val(im, &tmp);
}

IrValue *ox_filled(Im *im, IrDType dt, int rank, const int64_t *dims, double v) {
  IrTensor *c = ox_new_const(im, ir_type_make(dt, rank, dims));
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = v;
  return ox_const_value(im, c, "fill");
}

/* one IR op: the table entry's `ir` */
static bool lower_unary(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  ox_set_out(a, 0, ox_op1(im, im->op->ir, ox_in_val(im, a, 0)));
  return true;
}

static bool lower_alpha(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool leaky = !strcmp(n->op_type, "LeakyRelu");
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = ox_mk(im, leaky ? "leaky_relu" : "elu", &x, 1);
  ir_set_float(im->g, m, "alpha", ox_afloat(n, "alpha", leaky ? 0.01 : 1.0));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

static bool lower_selu(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = ox_mk(im, "elu", &x, 1);
  ir_set_float(im->g, m, "alpha", ox_afloat(n, "alpha", 1.67326319217681884765625));
  IrValue *e = ox_fin(im, m);
  ox_set_out(a, 0, ox_op2(im, "mul", e, ox_scalar(im, x->type.dtype, ox_afloat(n, "gamma", 1.05070102214813232421875))));
  return true;
}

static IrValue *hard_sigmoid(Im *im, IrValue *x, double alpha, double beta) {
  if (!x) return NULL;
  IrValue *t = ox_op2(im, "add", ox_op2(im, "mul", x, ox_scalar(im, x->type.dtype, alpha)),
                   ox_scalar(im, x->type.dtype, beta));
  if (!t) return NULL;
  IrNode *m = ox_mk(im, "clip", &t, 1);
  ir_set_float(im->g, m, "min", 0);
  ir_set_float(im->g, m, "max", 1);
  return ox_fin(im, m);
}

static bool lower_hard(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!strcmp(n->op_type, "HardSigmoid"))
    ox_set_out(a, 0, hard_sigmoid(im, x, ox_afloat(n, "alpha", 0.2), ox_afloat(n, "beta", 0.5)));
  else
    ox_set_out(a, 0, ox_op2(im, "mul", x, hard_sigmoid(im, x, 1.0 / 6, 0.5)));
  return true;
}

static bool lower_softsign(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  ox_set_out(a, 0, ox_op2(im, "div", x, ox_op2(im, "add", ox_op1(im, "abs", x), ox_scalar(im, x->type.dtype, 1))));
  return true;
}

static bool lower_prelu(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = ox_in_val(im, a, 0), *s = ox_in_val(im, a, 1);
  if (!x || !s) return false;
  IrValue *neg = ox_op2(im, "mul", s, ox_op2(im, "min", x, ox_scalar(im, x->type.dtype, 0)));
  ox_set_out(a, 0, ox_op2(im, "add", ox_op1(im, "relu", x), neg));
  return true;
}

static bool lower_gelu(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = ox_mk(im, "gelu", &x, 1);
  ir_set_str(im->g, m, "approximate", ox_astr(im, n, "approximate", "none"));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

static bool lower_clip(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  double lo = -INFINITY, hi = INFINITY;
  if (im->opset < 11) {
    lo = ox_afloat(n, "min", lo);
    hi = ox_afloat(n, "max", hi);
  } else {
    if (ox_has_in(a, 1)) {
      IrTensor *c = ox_in_const(im, a, 1, "min");
      if (!c) return false;
      lo = c->d[0];
    }
    if (ox_has_in(a, 2)) {
      IrTensor *c = ox_in_const(im, a, 2, "max");
      if (!c) return false;
      hi = c->d[0];
    }
  }
  if (lo > hi) lo = hi; /* ONNX: every element becomes max */
  IrNode *m = ox_mk(im, "clip", &x, 1);
  if (isfinite(lo)) ir_set_float(im->g, m, "min", lo);
  if (isfinite(hi)) ir_set_float(im->g, m, "max", hi);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

static bool lower_binary(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  const char *op = im->op->ir;
  im->fold_params = true; /* exporters compute shapes with these, too */
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  IrValue *y;
  /* Pow computes in float: an integer base goes through f64 and back (exact
   * while results stay below 2^53); an exponent of another dtype is
   * converted (a constant one at import) */
  bool pow = !strcmp(op, "pow"), int_base = pow && !ir_dtype_is_float(x->type.dtype);
  IrDType xt = x->type.dtype, ct = int_base ? IR_F64 : xt;
  if (int_base) x = ox_cast_value(im, x, ct);
  IrTensor *yc = ox_has_in(a, 1) ? ox_ent_const(im, a->in[1]) : NULL;
  const IrType *yt = ox_has_in(a, 1) ? ox_ent_type(im, a->in[1]) : NULL;
  if (pow && yt && yt->dtype != ct && yc) {
    IrTensor *c = ox_new_const(im, ir_type_make(ct, yc->type.rank, yc->type.dims));
    for (int64_t i = 0; i < c->numel; i++) c->d[i] = ox_round_to(ct, yc->d[i]);
    Ent tmp = {.name = sm_arena_printf(&im->g->arena, "%s_as_%s", a->in[1]->name,
                                       ir_dtype_name(ct)), .c = c};
    y = ox_val(im, &tmp);
  } else {
    y = ox_in_val(im, a, 1);
    if (pow) y = ox_cast_value(im, y, ct);
  }
  IrValue *r = ox_op2(im, op, x, y);
  if (int_base) r = ox_cast_value(im, r, xt);
  ox_set_out(a, 0, ox_keep_float_params(im, r));
  return true;
}

static bool lower_variadic(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type, *op = im->op->ir;
  IrValue *acc = ox_in_val(im, a, 0);
  for (int i = 1; i < a->nin && acc; i++) acc = ox_op2(im, op, acc, ox_in_val(im, a, i));
  if (acc && !strcmp(t, "Mean") && a->nin > 1)
    acc = ox_op2(im, "div", acc, ox_scalar(im, acc->type.dtype, a->nin));
  ox_set_out(a, 0, acc);
  return true;
}

static bool lower_identity(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  Ent *x = a->nin ? a->in[0] : NULL;
  if (!x) return ox_fail(im, "missing input");
  if (x->v) ox_set_out(a, 0, x->v);
  else {
    IrTensor *c = ox_ent_const(im, x);
    if (!c) return false;
    if (x->param && ir_dtype_is_float(c->type.dtype)) /* a weight: the same parameter, same name */
      ox_set_out(a, 0, ox_val(im, x));
    else
      ox_set_const(a, 0, c, x->param);
  }
  return true;
}

static bool lower_dropout(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool training = false;
  if (im->opset >= 12 && ox_has_in(a, 2)) {
    IrTensor *c = ox_in_const(im, a, 2, "training_mode");
    if (!c) return false;
    training = c->d[0] != 0;
  }
  if (training) return ox_fail(im, "Dropout with training_mode=true is not supported at import");
  if (ox_has_out(a, 1)) { /* at inference nothing is dropped: all true */
    const IrType *t = a->nin && a->in[0] ? ox_ent_type(im, a->in[0]) : NULL;
    if (!t) return im->failed ? false : ox_fail(im, "missing input");
    IrType mt = ir_type_make(IR_BOOL, t->rank, t->dims);
    if (!ox_fold_size_ok(im, &mt)) return false;
    IrTensor *c = ox_new_const(im, mt);
    for (int64_t i = 0; i < c->numel; i++) c->d[i] = 1;
    ox_set_const(a, 1, c, false);
  }
  return lower_identity(im, n, a);
}

static bool lower_gemm(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *in[3] = {ox_in_val(im, a, 0), ox_in_val(im, a, 1), ox_has_in(a, 2) ? ox_in_val(im, a, 2) : NULL};
  if (!in[0] || !in[1] || (ox_has_in(a, 2) && !in[2])) return false;
  IrNode *m = ir_add_node(im->g, ox_opdef("gemm"), in, in[2] ? 3 : 2, NULL, 1, im->loc);
  ir_set_int(im->g, m, "transA", ox_aint(n, "transA", 0));
  ir_set_int(im->g, m, "transB", ox_aint(n, "transB", 0));
  ir_set_float(im->g, m, "alpha", ox_afloat(n, "alpha", 1));
  ir_set_float(im->g, m, "beta", ox_afloat(n, "beta", 1));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

static bool lower_matmul(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  ox_set_out(a, 0, ox_op2(im, "matmul", ox_in_val(im, a, 0), ox_in_val(im, a, 1)));
  return true;
}

static bool lower_softmax(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *op = !strcmp(n->op_type, "Softmax") ? "softmax" : "log_softmax";
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axis = ox_aint(n, "axis", im->opset < 13 ? 1 : -1);
  if (axis < -r || axis >= (r ? r : 1)) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  if (im->opset >= 13 || r == 0) {
    IrNode *m = ox_mk(im, op, &x, 1);
    ir_set_int(im->g, m, "axis", axis);
    ox_set_out(a, 0, ox_fin(im, m));
    return true;
  }
  /* opset < 13: over the flattened trailing block [prod(:axis), prod(axis:)] */
  int64_t rows = 1, cols = 1;
  for (int i = 0; i < r; i++) {
    if (i < axis) rows *= x->type.dims[i];
    else cols *= x->type.dims[i];
  }
  int64_t d2[2] = {rows, cols};
  IrValue *f = ox_reshape_to(im, x, 2, d2);
  if (!f) return false;
  IrNode *m = ox_mk(im, op, &f, 1);
  ir_set_int(im->g, m, "axis", 1);
  ox_set_out(a, 0, ox_reshape_to(im, ox_fin(im, m), r, x->type.dims));
  return true;
}

static bool lower_reduce(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!ox_axes_arg(im, n, a, !strcmp(t, "ReduceSum") ? 13 : 18, 1, axes, &cnt)) return false;
  bool noop = ox_aint(n, "noop_with_empty_axes", 0) != 0;
  if (cnt <= 0 && noop) {
    ox_set_out(a, 0, x);
    return true;
  }
  const char *op = "reduce_sum";
  IrValue *src = x;
  bool negate = false, root = false, logr = false;
  if (!strcmp(t, "ReduceMean")) op = "reduce_mean";
  else if (!strcmp(t, "ReduceMax")) op = "reduce_max";
  else if (!strcmp(t, "ReduceMin")) op = "reduce_max", negate = true, src = ox_op1(im, "neg", x);
  else if (!strcmp(t, "ReduceSumSquare")) src = ox_op2(im, "mul", x, x);
  else if (!strcmp(t, "ReduceL2")) src = ox_op2(im, "mul", x, x), root = true;
  else if (!strcmp(t, "ReduceL1")) src = ox_op1(im, "abs", x);
  else if (!strcmp(t, "ReduceLogSum")) logr = true;
  else if (!strcmp(t, "ReduceLogSumExp")) src = ox_op1(im, "exp", x), logr = true;
  if (!src) return false;
  IrNode *m = ox_mk(im, op, &src, 1);
  if (cnt > 0) ir_set_ints(im->g, m, "axes", axes, cnt);
  ir_set_int(im->g, m, "keepdims", ox_aint(n, "keepdims", 1));
  IrValue *y = ox_fin(im, m);
  if (negate) y = ox_op1(im, "neg", y);
  if (root) y = ox_op1(im, "sqrt", y);
  if (logr) y = ox_op1(im, "log", y);
  ox_set_out(a, 0, y);
  return true;
}

/* ---- normalization layers onto the seq ops ---- */
static bool lower_layernorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0), *sc = ox_in_val(im, a, 1);
  if (!x || !sc) return im->failed ? false : ox_fail(im, "LayerNormalization needs X and Scale");
  int r = x->type.rank;
  int64_t axis = ox_aint(n, "axis", -1);
  if (axis < -r || axis >= r) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  double eps = ox_afloat(n, "epsilon", 1e-5);
  IrType nt = ir_type_make(x->type.dtype, r - (int)axis, x->type.dims + axis);
  IrValue *b = ox_has_in(a, 2) ? ox_in_val(im, a, 2) : ox_filled(im, x->type.dtype, nt.rank, nt.dims, 0);
  if (!b) return false;
  IrValue *sb[2] = {sc, b};
  for (int k = 0; k < 2; k++)
    if (!ir_type_eq(&sb[k]->type, &nt)) { /* broadcastable to the normalized shape */
      IrNode *e = ox_mk(im, "expand", &sb[k], 1);
      ir_set_ints(im->g, e, "shape", nt.dims, nt.rank);
      if (!(sb[k] = ox_fin(im, e))) return false;
      if (!ir_type_eq(&sb[k]->type, &nt))
        return ox_fail(im, "%s does not broadcast to the normalized shape", k ? "B" : "Scale");
    }
  IrValue *in[3] = {x, sb[0], sb[1]};
  IrNode *m = ir_add_node(im->g, ox_opdef("layernorm"), in, 3, NULL, 1, im->loc);
  ir_set_int(im->g, m, "axis", axis);
  ir_set_float(im->g, m, "epsilon", eps);
  ox_set_out(a, 0, ox_fin(im, m));
  if (ox_has_out(a, 1) || ox_has_out(a, 2)) { /* Mean and InvStdDev, keepdims shape */
    IrNode *st = ir_add_node(im->g, ox_opdef("norm_stats"), &x, 1, NULL, 2, im->loc);
    ir_set_int(im->g, st, "axis", axis);
    ir_set_float(im->g, st, "epsilon", eps);
    if (!ox_fin(im, st)) return false;
    ox_set_out(a, 1, st->out[0]);
    ox_set_out(a, 2, st->out[1]);
  }
  return true;
}

static bool lower_groupnorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool inst = !strcmp(n->op_type, "InstanceNormalization");
  IrValue *x = ox_in_val(im, a, 0), *sc = ox_in_val(im, a, 1), *b = ox_in_val(im, a, 2);
  if (!x || !sc || !b) return im->failed ? false : ox_fail(im, "%s needs 3 inputs", n->op_type);
  if (x->type.rank < (inst ? 3 : 2)) return ox_fail(im, "input must be [N, C, ...] with rank at least %d", inst ? 3 : 2);
  int64_t C = x->type.dims[1], G = inst ? C : ox_aint(n, "num_groups", 0);
  if (G < 1 || C % G) return ox_fail(im, "num_groups %lld must be positive and divide the %lld channels", (long long)G, (long long)C);
  IrValue *sb[2] = {sc, b};
  for (int k = 0; k < 2; k++) {
    int64_t cnt = ir_type_numel(&sb[k]->type);
    if (sb[k]->type.rank != 1 || (cnt != C && cnt != G))
      return ox_fail(im, "%s must be [%lld] (per channel) or [%lld] (per group, opset 18)", k ? "bias" : "scale",
                  (long long)C, (long long)G);
    if (cnt != C) { /* per group (opset 18-20): repeat over each group's channels */
      int64_t g1[2] = {G, 1}, gc[2] = {G, C / G};
      IrValue *col = ox_reshape_to(im, sb[k], 2, g1);
      if (!col) return false;
      IrNode *e = ox_mk(im, "expand", &col, 1);
      ir_set_ints(im->g, e, "shape", gc, 2);
      sb[k] = ox_reshape_to(im, ox_fin(im, e), 1, &C);
      if (!sb[k]) return false;
    }
  }
  IrValue *in[3] = {x, sb[0], sb[1]};
  IrNode *m = ir_add_node(im->g, ox_opdef(inst ? "instancenorm" : "groupnorm"), in, 3, NULL, 1, im->loc);
  if (!inst) ir_set_int(im->g, m, "groups", G);
  ir_set_float(im->g, m, "epsilon", ox_afloat(n, "epsilon", 1e-5));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

/* ---- Erf: no erf op in the IR; Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
 * erf(x) = s(x) * (1 - t*(a1 + t*(a2 + t*(a3 + t*(a4 + t*a5)))) * e^(-x^2)),
 * t = 1 / (1 + p|x|), s(x) = clip(x * 1e30, -1, 1) the sign. ---- */
static bool lower_erf(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  if (!ir_dtype_is_float(x->type.dtype)) return ox_fail(im, "Erf of %s is not supported", ir_dtype_name(x->type.dtype));
  IrDType dt = x->type.dtype;
  static const double c[5] = {0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429};
  IrValue *ax = ox_op1(im, "abs", x);
  IrValue *t = ox_op1(im, "reciprocal", ox_op2(im, "add", ox_op2(im, "mul", ax, ox_scalar(im, dt, 0.3275911)), ox_scalar(im, dt, 1)));
  IrValue *poly = ox_op2(im, "mul", t, ox_scalar(im, dt, c[4]));
  for (int k = 3; k >= 0; k--) poly = ox_op2(im, "mul", t, ox_op2(im, "add", poly, ox_scalar(im, dt, c[k])));
  IrValue *ex = ox_op1(im, "exp", ox_op1(im, "neg", ox_op2(im, "mul", ax, ax)));
  IrValue *e = ox_op2(im, "sub", ox_scalar(im, dt, 1), ox_op2(im, "mul", poly, ex));
  IrValue *big = ox_op2(im, "mul", x, ox_scalar(im, dt, 1e30));
  if (!big || !e) return false;
  IrNode *m = ox_mk(im, "clip", &big, 1);
  ir_set_float(im->g, m, "min", -1);
  ir_set_float(im->g, m, "max", 1);
  ox_set_out(a, 0, ox_op2(im, "mul", e, ox_fin(im, m)));
  return true;
}

/* ReduceProd: the reduced dims moved last and flattened, then a product of
 * slices (exact; at most 1024 reduced elements). */
static bool lower_reduce_prod(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!ox_axes_arg(im, n, a, 18, 1, axes, &cnt)) return false;
  bool keep = ox_aint(n, "keepdims", 1) != 0;
  if (cnt <= 0 && ox_aint(n, "noop_with_empty_axes", 0)) {
    ox_set_out(a, 0, x);
    return true;
  }
  bool red[IR_MAX_RANK] = {0};
  if (cnt <= 0)
    for (int i = 0; i < r; i++) red[i] = true;
  for (int i = 0; i < cnt; i++) {
    int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
    if (ax < 0 || ax >= r) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axes[i], r);
    red[ax] = true;
  }
  int64_t perm[IR_MAX_RANK], kd[IR_MAX_RANK], od[IR_MAX_RANK + 1], K = 1;
  int np = 0, nk = 0, no = 0;
  for (int i = 0; i < r; i++)
    if (!red[i]) perm[np++] = i, od[no++] = x->type.dims[i];
  for (int i = 0; i < r; i++)
    if (red[i]) perm[np++] = i, K *= x->type.dims[i];
  for (int i = 0; i < r; i++) kd[nk++] = red[i] ? 1 : x->type.dims[i];
  if (K < 1 || K > 1024) return ox_fail(im, "ReduceProd over %lld elements is not supported (1 to 1024)", (long long)K);
  od[no++] = K;
  IrValue *f = ox_reshape_to(im, ox_transpose_to(im, x, perm), no, od);
  IrValue *p = ox_slice_axis(im, f, no - 1, 0, 1, 1);
  for (int64_t k = 1; k < K && p; k++) p = ox_op2(im, "mul", p, ox_slice_axis(im, f, no - 1, k, k + 1, 1));
  if (!p) return false;
  if (keep) {
    ox_set_out(a, 0, ox_reshape_to(im, p, nk, kd));
  } else {
    ox_set_out(a, 0, ox_reshape_to(im, p, no - 1, od));
  }
  return true;
}

/* ArgMax / ArgMin (select_last_index from opset 12) */
static bool lower_arg(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return im->failed ? false : ox_fail(im, "%s needs an input", n->op_type);
  IrNode *m = ox_mk(im, !strcmp(n->op_type, "ArgMax") ? "argmax" : "argmin", &x, 1);
  ir_set_int(im->g, m, "axis", ox_aint(n, "axis", 0));
  ir_set_int(im->g, m, "keepdims", ox_aint(n, "keepdims", 1));
  ir_set_int(im->g, m, "select_last_index", im->opset >= 12 ? ox_aint(n, "select_last_index", 0) : 0);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

static const OnnxOp onnx_ops[] = {
    {"Relu", lower_unary, 1, 1, 1, "relu"},
    {"Sigmoid", lower_unary, 1, 1, 1, "sigmoid"},
    {"Tanh", lower_unary, 1, 1, 1, "tanh"},
    {"Exp", lower_unary, 1, 1, 1, "exp"},
    {"Log", lower_unary, 1, 1, 1, "log"},
    {"Sqrt", lower_unary, 1, 1, 1, "sqrt"},
    {"Abs", lower_unary, 1, 1, 1, "abs"},
    {"Neg", lower_unary, 1, 1, 1, "neg"},
    {"Reciprocal", lower_unary, 1, 1, 1, "reciprocal"},
    {"Softplus", lower_unary, 1, 1, 1, "softplus"},
    {"LeakyRelu", lower_alpha, 1, 1, 1, NULL},
    {"Elu", lower_alpha, 1, 1, 1, NULL},
    {"Selu", lower_selu, 1, 1, 1, NULL},
    {"HardSigmoid", lower_hard, 1, 1, 1, NULL},
    {"HardSwish", lower_hard, 1, 1, 1, NULL},
    {"Softsign", lower_softsign, 1, 1, 1, NULL},
    {"PRelu", lower_prelu, 2, 2, 1, NULL},
    {"Gelu", lower_gelu, 1, 1, 1, NULL},
    {"Clip", lower_clip, 1, 3, 1, NULL}, /* min, max: inputs since opset 11 */
    {"Add", lower_binary, 2, 2, 1, "add"},
    {"Sub", lower_binary, 2, 2, 1, "sub"},
    {"Mul", lower_binary, 2, 2, 1, "mul"},
    {"Div", lower_binary, 2, 2, 1, "div"},
    {"Pow", lower_binary, 2, 2, 1, "pow"},
    {"Sum", lower_variadic, 1, ANY, 1, "add"},
    {"Mean", lower_variadic, 1, ANY, 1, "add"},
    {"Min", lower_variadic, 1, ANY, 1, "min"},
    {"Max", lower_variadic, 1, ANY, 1, "max"},
    {"Identity", lower_identity, 1, 1, 1, NULL},
    {"Dropout", lower_dropout, 1, 3, 2, NULL}, /* ratio, training_mode since 12; mask */
    {"Conv", ox_lower_conv, 2, 3, 1, NULL},
    {"MaxPool", ox_lower_pool, 1, 1, 2, NULL}, /* Indices: refused */
    {"AveragePool", ox_lower_pool, 1, 1, 1, NULL},
    {"GlobalAveragePool", ox_lower_global_pool, 1, 1, 1, NULL},
    {"GlobalMaxPool", ox_lower_global_pool, 1, 1, 1, NULL},
    {"BatchNormalization", ox_lower_batchnorm, 5, 5, 5, NULL}, /* training outputs: refused */
    {"Gemm", lower_gemm, 2, 3, 1, NULL},
    {"MatMul", lower_matmul, 2, 2, 1, NULL},
    {"Softmax", lower_softmax, 1, 1, 1, NULL},
    {"LogSoftmax", lower_softmax, 1, 1, 1, NULL},
    {"Flatten", ox_lower_flatten, 1, 1, 1, NULL},
    {"Reshape", ox_lower_reshape, 2, 2, 1, NULL},
    {"Squeeze", ox_lower_squeeze, 1, 2, 1, NULL},
    {"Unsqueeze", ox_lower_squeeze, 1, 2, 1, NULL},
    {"Transpose", ox_lower_transpose, 1, 1, 1, NULL},
    {"Concat", ox_lower_concat, 1, ANY, 1, NULL},
    {"Slice", ox_lower_slice, 1, 5, 1, NULL},
    {"Pad", ox_lower_pad, 1, 4, 1, NULL},
    {"Expand", ox_lower_expand, 2, 2, 1, NULL},
    {"ReduceSum", lower_reduce, 1, 2, 1, NULL},
    {"ReduceMean", lower_reduce, 1, 2, 1, NULL},
    {"ReduceMax", lower_reduce, 1, 2, 1, NULL},
    {"ReduceMin", lower_reduce, 1, 2, 1, NULL},
    {"ReduceSumSquare", lower_reduce, 1, 2, 1, NULL},
    {"ReduceL1", lower_reduce, 1, 2, 1, NULL},
    {"ReduceL2", lower_reduce, 1, 2, 1, NULL},
    {"ReduceLogSum", lower_reduce, 1, 2, 1, NULL},
    {"ReduceLogSumExp", lower_reduce, 1, 2, 1, NULL},
    {"Shape", ox_lower_shape, 1, 1, 1, NULL},
    {"Size", ox_lower_size, 1, 1, 1, NULL},
    {"Gather", ox_lower_gather, 2, 2, 1, NULL},
    {"Cast", ox_lower_cast, 1, 1, 1, NULL},
    {"Range", ox_lower_range, 3, 3, 1, NULL},
    {"ConstantOfShape", ox_lower_constant_of_shape, 1, 1, 1, NULL},
    {"Constant", ox_lower_constant, 0, 0, 1, NULL},
    {"Equal", ox_lower_logic, 2, 2, 1, "equal"},
    {"Less", ox_lower_logic, 2, 2, 1, "less"},
    {"LessOrEqual", ox_lower_logic, 2, 2, 1, "less_equal"},
    {"Greater", ox_lower_logic, 2, 2, 1, "greater"},
    {"GreaterOrEqual", ox_lower_logic, 2, 2, 1, "greater_equal"},
    {"And", ox_lower_logic, 2, 2, 1, "and"},
    {"Or", ox_lower_logic, 2, 2, 1, "or"},
    {"Xor", ox_lower_logic, 2, 2, 1, "xor"},
    {"Not", ox_lower_logic, 1, 1, 1, "not"},
    {"Where", ox_lower_where, 3, 3, 1, NULL},
    {"CastLike", ox_lower_cast, 2, 2, 1, NULL},
    {"ArgMax", lower_arg, 1, 1, 1, NULL},
    {"ArgMin", lower_arg, 1, 1, 1, NULL},
    {"Floor", ox_lower_const_ew, 1, 1, 1, NULL},
    {"Ceil", ox_lower_const_ew, 1, 1, 1, NULL},
    {"RNN", ox_lower_recurrent, 3, 6, 2, NULL},
    {"GRU", ox_lower_recurrent, 3, 6, 2, NULL},
    {"LSTM", ox_lower_recurrent, 3, 8, 3, NULL},
    {"Erf", lower_erf, 1, 1, 1, NULL},
    {"Split", ox_lower_split, 1, 2, ANY, NULL},
    {"Tile", ox_lower_tile, 2, 2, 1, NULL},
    {"ReduceProd", lower_reduce_prod, 1, 2, 1, NULL},
    {"ConvTranspose", ox_lower_conv_transpose, 2, 3, 1, NULL},
    {"LayerNormalization", lower_layernorm, 2, 3, 3, NULL},
    {"InstanceNormalization", lower_groupnorm, 3, 3, 1, NULL},
    {"GroupNormalization", lower_groupnorm, 3, 3, 1, NULL},
};

const OnnxOp *ox_find_op(const Onnx__NodeProto *n) {
  const char *dom = n->domain ? n->domain : "";
  if (*dom && strcmp(dom, "ai.onnx")) return NULL;
  for (int i = 0; i < SM_COUNT(onnx_ops); i++)
    if (n->op_type && !strcmp(onnx_ops[i].name, n->op_type)) return &onnx_ops[i];
  return NULL;
}

const OnnxOp *ox_op_table(int *count) {
  *count = SM_COUNT(onnx_ops);
  return onnx_ops;
}

const char *const *fe_onnx_ops(void) {
  static const char *names[SM_COUNT(onnx_ops) + 1];
  for (int i = 0; i < SM_COUNT(onnx_ops); i++) names[i] = onnx_ops[i].name;
  return names;
}
