/* Batch normalization: inference batchnorm, the training form
 * batchnorm_train (batch statistics, running statistics updated in place)
 * and their backward ops batchnorm_grad and batchnorm_train_grad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"
#include "nn.h"
#include "rt.h"

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

/* ======================================================================
 * batchnorm (inference)
 * ====================================================================== */

static const IrAttrSpec bn_attrs[] = {
    {"epsilon", IR_ATTR_FLOAT, false},
    {"momentum", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const char *const bn_roles[] = {"x", "scale", "bias", "mean", "var"};

static bool bn_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  char s[IR_TYPE_STRLEN], t[IR_TYPE_STRLEN];
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  if (!op_same_dtype(n, d)) return false;
  if (x->rank < 2)
    return op_err(n, d, "expects input 0 ('%s') of rank >= 2 ([N,C,...]), got %s",
                  n->in[0]->name, OP_TSTR(x, s));
  for (int i = 1; i < 5; i++) {
    const IrType *p = &n->in[i]->type;
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return op_err(n, d, "%s '%s' must be [%lld] (one per channel of %s), got %s",
                    bn_roles[i], n->in[i]->name, (long long)x->dims[1], OP_TSTR(x, s),
                    OP_TSTR(p, t));
  }
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  double mom = ir_attr_float(n, "momentum", 0.9);
  if (!(eps >= 0 && eps < INFINITY))
    return op_err(n, d, "epsilon must be non-negative, got %g", eps);
  if (!(mom >= 0 && mom <= 1)) return op_err(n, d, "momentum must be in [0, 1], got %g", mom);
  out[0] = *x;
  return true;
}

int64_t bn_inner(const IrNode *n) {
  const IrType *x = &n->in[0]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void bn_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t C = in[0].type.dims[1], inner = bn_inner(n);
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t c = i / inner % C;
    out[0].d[i] = in[1].d[c] * (in[0].d[i] - in[3].d[c]) / sqrt(in[4].d[c] + eps) + in[2].d[c];
  }
}


/* ======================================================================
 * batchnorm_grad: backward of inference batchnorm
 *
 * y = scale * (x - mean) * r + bias with r = 1/sqrt(var + eps), so per
 * channel c (sums over n and the inner dims):
 *   dx = dy * scale * r          dscale = sum dy * (x - mean) * r
 *   dbias = sum dy               dmean = -scale * r * sum dy
 *   dvar = -scale * r^3 / 2 * sum dy * (x - mean)
 * ====================================================================== */

static const IrAttrSpec eps_attrs[] = {{"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};

/* x [N,C,...] with `nvec` per-channel vectors from operand `first` on */
static bool bn_check(const IrNode *n, int xi, int first, int nvec, const char *const *roles,
                     SmDiag *d) {
  const IrType *x = &n->in[xi]->type;
  char s[IR_TYPE_STRLEN], t[IR_TYPE_STRLEN];
  if (!want_float_same(n, d)) return false;
  if (x->rank < 2)
    return op_err(n, d, "expects input %d ('%s') of rank >= 2 ([N,C,...]), got %s", xi,
                  n->in[xi]->name, OP_TSTR(x, s));
  for (int i = first; i < first + nvec; i++) {
    const IrType *p = &n->in[i]->type;
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return op_err(n, d, "%s '%s' must be [%lld] (one per channel of %s), got %s", roles[i],
                    n->in[i]->name, (long long)x->dims[1], OP_TSTR(x, s), OP_TSTR(p, t));
  }
  return true;
}

static bool want_eps(const IrNode *n, SmDiag *d) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  if (!(eps >= 0 && eps < INFINITY))
    return op_err(n, d, "epsilon must be non-negative, got %g", eps);
  return true;
}

/* (dy, x, scale, mean, var) -> (dx, dscale, dbias, dmean, dvar) */
static const char *const bn_grad_roles[] = {"dy", "x", "scale", "mean", "var"};

static bool bn_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 1, 2, 3, bn_grad_roles, d) || !want_eps(n, d)) return false;
  if (!want_type(n, 0, &n->in[1]->type, "x", d)) return false;
  out[0] = n->in[1]->type;
  for (int i = 1; i < 5; i++) out[i] = n->in[i < 3 ? 2 : i]->type;
  return true;
}

/* inner size of x = operand xi (product of dims 2..) */
int64_t bn_inner_of(const IrNode *n, int xi) {
  const IrType *x = &n->in[xi]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void bn_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t C = in[1].type.dims[1], I = bn_inner_of(n, 1);
  const double *dy = in[0].d, *x = in[1].d, *scale = in[2].d, *mean = in[3].d, *var = in[4].d;
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    double r = 1 / sqrt(var[c] + eps);
    out[0].d[i] = dy[i] * scale[c] * r;
    out[1].d[c] += dy[i] * (x[i] - mean[c]) * r;
    out[2].d[c] += dy[i];
    out[3].d[c] -= dy[i] * scale[c] * r;
    out[4].d[c] -= dy[i] * (x[i] - mean[c]) * scale[c] * r * r * r / 2;
  }
}

static bool bn_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  IrValue *in[5] = {dout[0], n->in[0], n->in[1], n->in[3], n->in[4]};
  IrNode *g = ir_grad_node(cx, "batchnorm_grad", in, 5, 5);
  ir_set_float(cx->g, g, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
  ir_grad_finish(cx, g);
  /* forward operand i gets backward output i */
  for (int i = 0; i < 5; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = g->out[i];
  return true;
}

/* ======================================================================
 * batchnorm_train, batchnorm_train_grad
 *
 * Training-mode batch norm with PyTorch semantics: normalize with the
 * batch mean and biased variance over every dim but 1; update the running
 * statistics in place as running = (1 - momentum) * running + momentum *
 * batch, with the unbiased variance; save mean and 1/sqrt(var + eps) for
 * the backward op:
 *   dx = scale * r * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   dscale = sum dy * xhat, dbias = sum dy, xhat = (x - mean) * r
 * ====================================================================== */

static const IrAttrSpec bn_train_attrs[] = {
    {"epsilon", IR_ATTR_FLOAT, false},
    {"momentum", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const char *const bn_train_roles[] = {"x", "scale", "bias", "running_mean",
                                             "running_var"};

static bool bn_train_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 0, 1, 4, bn_train_roles, d) || !want_eps(n, d)) return false;
  double mom = ir_attr_float(n, "momentum", 0.1);
  if (!(mom >= 0 && mom <= 1)) return op_err(n, d, "momentum must be in [0, 1], got %g", mom);
  const IrType *x = &n->in[0]->type;
  if (x->dims[1] < 1 || ir_numel(x) / x->dims[1] < 2) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "needs more than one value per channel to take batch statistics, "
                  "got x '%s' %s", n->in[0]->name, OP_TSTR(x, s));
  }
  out[0] = *x;
  for (int i = 1; i < 5; i++) out[i] = n->in[1]->type;
  return true;
}

static void bn_train_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5), mom = ir_attr_float(n, "momentum", 0.1);
  int64_t C = in[0].type.dims[1], I = bn_inner_of(n, 0);
  int64_t cnt = in[0].numel / C;
  const double *x = in[0].d;
  for (int64_t c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) sum += x[i];
    double mean = sum / (double)cnt;
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) sq += (x[i] - mean) * (x[i] - mean);
    double var = sq / (double)cnt, r = 1 / sqrt(var + eps);
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) out[0].d[i] = in[1].d[c] * (x[i] - mean) * r + in[2].d[c];
    out[1].d[c] = (1 - mom) * in[3].d[c] + mom * mean;
    out[2].d[c] = (1 - mom) * in[4].d[c] + mom * sq / (double)(cnt - 1);
    out[3].d[c] = mean;
    out[4].d[c] = r;
  }
}

/* Gradients flow through y only: the running and saved statistics are
 * state for later steps, not part of the loss. */
static bool bn_train_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                          IrValue **din) {
  for (int o = 1; o < 5; o++)
    if (dout[o]) {
      sm_error(cx->d, n->loc, "batchnorm_train: output %d ('%s') holds batch statistics "
               "and is not differentiable, but the loss depends on it", o, n->out[o]->name);
      return false;
    }
  if (!dout[0]) return true;
  IrValue *in[5] = {dout[0], n->in[0], n->in[1], n->out[3], n->out[4]};
  IrNode *g = ir_grad_node(cx, "batchnorm_train_grad", in, 5, 3);
  ir_grad_finish(cx, g);
  for (int i = 0; i < 3; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = g->out[i];
  return true;
}

/* (dy, x, scale, saved_mean, saved_invstd) -> (dx, dscale, dbias) */
static const char *const bn_tgrad_roles[] = {"dy", "x", "scale", "saved_mean", "saved_invstd"};

static bool bn_tgrad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 1, 2, 3, bn_tgrad_roles, d)) return false;
  if (!want_type(n, 0, &n->in[1]->type, "x", d)) return false;
  out[0] = n->in[1]->type;
  out[1] = out[2] = n->in[2]->type;
  return true;
}

static void bn_tgrad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t C = in[1].type.dims[1], I = bn_inner_of(n, 1);
  double cnt = (double)(in[1].numel / (C ? C : 1));
  const double *dy = in[0].d, *x = in[1].d, *scale = in[2].d, *mean = in[3].d, *r = in[4].d;
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    out[1].d[c] += dy[i] * (x[i] - mean[c]) * r[c];
    out[2].d[c] += dy[i];
  }
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    double xhat = (x[i] - mean[c]) * r[c];
    out[0].d[i] = scale[c] * r[c] * (dy[i] - out[2].d[c] / cnt - xhat * out[1].d[c] / cnt);
  }
}


/* ====================================================================== */

static const int8_t bn_train_inplace[] = {-1, 3, 4, -1, -1};

const IrOpDef op_batchnorm = {
    .name = "batchnorm", .min_in = 5, .max_in = 5, .nout = 1, .attrs = bn_attrs,
    .infer = bn_infer, .ref = bn_ref, .c = &cgk_batchnorm, .grad = bn_grad,
    .caps = IR_CAP_BATCHNORM, .train_form = "batchnorm_train", .to_train = ir_train_batchnorm,
    .doc = "inference batch norm over dim 1 (x, scale, bias, mean, var; epsilon=1e-5)"};
const IrOpDef op_batchnorm_train = {
    .name = "batchnorm_train", .min_in = 5, .max_in = 5, .nout = 5, .attrs = bn_train_attrs,
    .infer = bn_train_infer, .ref = bn_train_ref, .c = &cgk_batchnorm_train, .grad = bn_train_grad,
    .inplace = bn_train_inplace,
    .caps = IR_CAP_BN_SAVED,
    .doc = "training batch norm (x, scale, bias, running_mean, running_var; epsilon=1e-5, "
           "momentum=0.1 PyTorch-style) -> y, running_mean', running_var' (in place), "
           "saved_mean, saved_invstd"};
const IrOpDef op_batchnorm_grad = {
    .name = "batchnorm_grad", .min_in = 5, .max_in = 5, .nout = 5, .attrs = eps_attrs,
    .infer = bn_grad_infer, .ref = bn_grad_ref, .c = &cgk_batchnorm_grad,
    .doc = "batchnorm backward (dy, x, scale, mean, var; epsilon) -> dx, dscale, dbias, dmean, dvar"};
const IrOpDef op_batchnorm_train_grad = {
    .name = "batchnorm_train_grad", .min_in = 5, .max_in = 5, .nout = 3, .attrs = no_attrs,
    .infer = bn_tgrad_infer, .ref = bn_tgrad_ref, .c = &cgk_batchnorm_train_grad,
    .doc = "batchnorm_train backward (dy, x, scale, saved_mean, saved_invstd) -> dx, dscale, dbias"};
