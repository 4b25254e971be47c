/* Reductions (reduce_sum, reduce_mean, reduce_max over a set of axes), the
 * normalizations along one axis (softmax, log_softmax; ONNX opset-13
 * semantics, numerically stable by subtracting the max), expand (the
 * broadcast that undoes a reduction), the norm statistics (norm_stats:
 * mean and inverse standard deviation of each row in one kernel, what
 * layernorm, groupnorm and instancenorm lower to), and their backward
 * kernels (reduce_max_grad, softmax_grad, log_softmax_grad,
 * norm_stats_grad) and gradient rules.
 *
 * Emitted reductions view the input as [outer..., reduced..., inner] where
 * `inner` is the contiguous block of kept dims after the last reduced axis:
 * each outer index accumulates a row of `inner` values in double, so the
 * innermost loop is contiguous in both input and output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"


RedKind red_kind(const IrNode *n) {
  const char *s = n->op->name;
  return strcmp(s, "reduce_sum") == 0 ? RED_SUM
         : strcmp(s, "reduce_mean") == 0 ? RED_MEAN
                                          : RED_MAX;
}

/* The raw `axes` list (a single INT counts as a list of one). Returns the
 * count, or -1 when absent. */
static int axes_list(const IrNode *n, const int64_t **v) {
  const IrAttr *a = ir_attr(n, "axes");
  if (!a) return -1;
  if (a->kind == IR_ATTR_INT) {
    *v = &a->i;
    return 1;
  }
  *v = a->ints;
  return a->n;
}

/* Marks reduced axes of a validated node; absent or empty axes: all. */
void red_axes(const IrNode *n, bool *red) {
  int r = n->in[0]->type.rank;
  const int64_t *v;
  int cnt = axes_list(n, &v);
  for (int i = 0; i < r; i++) red[i] = cnt <= 0;
  for (int i = 0; i < cnt; i++) red[v[i] < 0 ? v[i] + r : v[i]] = true;
}

static bool reduce_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_float(n, 0, d)) return false;
  const IrType *x = &n->in[0]->type;
  char s[IR_TYPE_STRLEN];
  int64_t keep = ir_attr_int(n, "keepdims", 1);
  if (keep != 0 && keep != 1)
    return op_err(n, d, "keepdims must be 0 or 1, got %lld", (long long)keep);
  const int64_t *v;
  int cnt = axes_list(n, &v);
  int seen[IR_MAX_RANK];
  for (int i = 0; i < IR_MAX_RANK; i++) seen[i] = -1;
  for (int i = 0; i < cnt; i++) {
    if (v[i] < -x->rank || v[i] >= x->rank)
      return op_err(n, d, "axis %lld is out of range for %s (rank %d)",
                    (long long)v[i], OP_TSTR(x, s), x->rank);
    int ax = (int)(v[i] < 0 ? v[i] + x->rank : v[i]);
    if (seen[ax] >= 0)
      return op_err(n, d, "axes lists axis %d twice (as %lld and %lld) for %s", ax,
                    (long long)v[seen[ax]], (long long)v[i], OP_TSTR(x, s));
    seen[ax] = i;
  }
  bool red[IR_MAX_RANK];
  red_axes(n, red);
  IrType t = {.dtype = x->dtype};
  for (int i = 0; i < x->rank; i++)
    if (!red[i]) t.dims[t.rank++] = x->dims[i];
    else if (keep) t.dims[t.rank++] = 1;
  out[0] = t;
  return true;
}

static void reduce_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  RedKind k = red_kind(n);
  const IrType *xt = &in[0].type;
  bool red[IR_MAX_RANK];
  red_axes(n, red);
  int64_t count = 1;
  for (int i = 0; i < xt->rank; i++)
    if (red[i]) count *= xt->dims[i];
  for (int64_t o = 0; o < out[0].numel; o++) out[0].d[o] = k == RED_MAX ? -INFINITY : 0;
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < in[0].numel; i++) {
    ref_unravel(xt, i, idx);
    int64_t o = 0;
    for (int a = 0; a < xt->rank; a++)
      if (!red[a]) o = o * xt->dims[a] + idx[a];
    double x = in[0].d[i];
    if (k == RED_MAX) {
      if (x > out[0].d[o]) out[0].d[o] = x;
    } else {
      out[0].d[o] += x;
    }
  }
  if (k == RED_MEAN)
    for (int64_t o = 0; o < out[0].numel; o++) out[0].d[o] /= (double)count;
}

/* ======================================================================
 * softmax, log_softmax: along one axis; the input is viewed as
 * [outer, L, inner] and each of the outer*inner rows has stride inner.
 * ====================================================================== */

static bool softmax_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_float(n, 0, d)) return false;
  const IrType *x = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", -1);
  if (axis < -x->rank || axis >= x->rank) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "axis %lld is out of range for %s (rank %d)", (long long)axis,
                  OP_TSTR(x, s), x->rank);
  }
  out[0] = *x;
  return true;
}


SmxGeo smx_geo(const IrNode *n) {
  const IrType *x = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", -1);
  int ax = (int)(axis < 0 ? axis + x->rank : axis);
  SmxGeo g = {1, x->dims[ax], 1};
  for (int i = 0; i < ax; i++) g.outer *= x->dims[i];
  for (int i = ax + 1; i < x->rank; i++) g.inner *= x->dims[i];
  return g;
}

bool is_log(const IrNode *n) { return strcmp(n->op->name, "log_softmax") == 0; }

static void softmax_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  SmxGeo g = smx_geo(n);
  bool lg = is_log(n);
  for (int64_t a = 0; a < g.outer; a++)
    for (int64_t c = 0; c < g.inner; c++) {
      const double *x = in[0].d + a * g.len * g.inner + c;
      double *y = out[0].d + a * g.len * g.inner + c;
      double m = -INFINITY, s = 0;
      for (int64_t l = 0; l < g.len; l++)
        if (x[l * g.inner] > m) m = x[l * g.inner];
      for (int64_t l = 0; l < g.len; l++) s += exp(x[l * g.inner] - m);
      for (int64_t l = 0; l < g.len; l++)
        y[l * g.inner] = lg ? x[l * g.inner] - m - log(s) : exp(x[l * g.inner] - m) / s;
    }
}

/* ======================================================================
 * expand: numpy broadcast_to (ONNX Expand, bidirectional: the result is
 * broadcast(x.shape, shape), so a 1 in `shape` keeps x's dim)
 * ====================================================================== */

/* "[2,-1]" */
static const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < cnt && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)v[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

static bool expand_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  const IrAttr *a = ir_attr(n, "shape");
  int64_t sh[IR_MAX_RANK];
  int cnt = ir_attr_ints(n, "shape", sh, IR_MAX_RANK);
  char ss[256], s[IR_TYPE_STRLEN];
  const int64_t *all = a->kind == IR_ATTR_INTS ? a->ints : &a->i;
  ints_str(all, cnt, ss, sizeof ss);
  if (cnt > IR_MAX_RANK)
    return op_err(n, d, "shape %s has rank %d (at most %d)", ss, cnt, IR_MAX_RANK);
  for (int i = 0; i < cnt; i++)
    if (sh[i] < 0) return op_err(n, d, "shape %s has a negative dim", ss);
  IrType t = ir_type_make(x->dtype, cnt, sh);
  if (!ir_broadcast(x, &t, out))
    return op_err(n, d, "cannot broadcast %s to shape %s", OP_TSTR(x, s), ss);
  return true;
}

static void expand_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  (void)n;
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < out[0].numel; i++) {
    ref_unravel(&out[0].type, i, idx);
    out[0].d[i] = in[0].d[ref_bcast_offset(&in[0].type, idx, out[0].type.rank)];
  }
}

/* reduce_max_grad(x, y, dy; axes, keepdims): dx = dy at the positions where
 * x equals its reduction's max y, split evenly among ties (as PyTorch's
 * amax), 0 elsewhere. y and dy have the reduce_max result's shape. */
static bool reduce_max_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrType r;
  if (!reduce_infer(n, &r, d)) return false;
  char s[IR_TYPE_STRLEN], s2[IR_TYPE_STRLEN];
  for (int i = 1; i < 3; i++)
    if (!ir_type_eq(&n->in[i]->type, &r))
      return op_err(n, d, "'%s' is %s, but the reduction of %s is %s", n->in[i]->name,
                    OP_TSTR(&n->in[i]->type, s), n->in[0]->name, OP_TSTR(&r, s2));
  out[0] = n->in[0]->type;
  return true;
}

static void reduce_max_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  const IrType *xt = &in[0].type;
  bool red[IR_MAX_RANK];
  red_axes(n, red);
  double *ties = sm_xcalloc((size_t)in[1].numel + 1, sizeof *ties);
  int64_t idx[IR_MAX_RANK];
  for (int pass = 0; pass < 2; pass++)
    for (int64_t i = 0; i < in[0].numel; i++) {
      ref_unravel(xt, i, idx);
      int64_t o = 0;
      for (int a = 0; a < xt->rank; a++)
        if (!red[a]) o = o * xt->dims[a] + idx[a];
      if (in[0].d[i] != in[1].d[o]) continue;
      if (pass == 0) ties[o] += 1;
      else out[0].d[i] = in[2].d[o] / ties[o];
    }
  free(ties);
}

/* softmax_grad(y, dy; axis):     dx = y * (dy - sum(dy * y))
 * log_softmax_grad(y, dy; axis): dx = dy - exp(y) * sum(dy)
 * with y the forward result and sums along axis (in double). */
static bool smx_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!softmax_infer(n, out, d)) return false;
  char s[IR_TYPE_STRLEN], s2[IR_TYPE_STRLEN];
  if (!ir_type_eq(&n->in[1]->type, &n->in[0]->type))
    return op_err(n, d, "dy '%s' is %s, but y '%s' is %s", n->in[1]->name,
                  OP_TSTR(&n->in[1]->type, s), n->in[0]->name, OP_TSTR(&n->in[0]->type, s2));
  return true;
}

bool is_log_grad(const IrNode *n) { return strcmp(n->op->name, "log_softmax_grad") == 0; }

static void smx_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  SmxGeo g = smx_geo(n);
  bool lg = is_log_grad(n);
  for (int64_t a = 0; a < g.outer; a++)
    for (int64_t c = 0; c < g.inner; c++) {
      int64_t at = a * g.len * g.inner + c;
      const double *y = in[0].d + at, *dy = in[1].d + at;
      double *dx = out[0].d + at, s = 0;
      for (int64_t l = 0; l < g.len; l++) s += lg ? dy[l * g.inner] : dy[l * g.inner] * y[l * g.inner];
      for (int64_t l = 0; l < g.len; l++) {
        double yl = y[l * g.inner], gl = dy[l * g.inner];
        dx[l * g.inner] = lg ? gl - exp(yl) * s : yl * (gl - s);
      }
    }
}

/* ======================================================================
 * norm_stats(x; axis=-1, epsilon=1e-5) -> mean, rstd
 *
 * The statistics of layer, group and instance norm in one kernel: x is
 * viewed as [rows, R] with R the product of dims [axis:]; per row the mean
 * and rstd = 1/sqrt(var + epsilon) with the biased variance (as PyTorch
 * and ONNX), both shaped as x with dims [axis:] kept as 1 so they
 * broadcast against it. Backward: norm_stats_grad, elementwise:
 *   dx = (dmean - drstd * rstd^3 * (x - mean)) / R
 * (d var / d x_i = 2 (x_i - mean) / R, the mean's own term summing to 0).
 * ====================================================================== */

/* the statistics' type for x and the node's axis; R: values per row */
static bool ns_stat_type(const IrNode *n, IrType *st, int64_t *R, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", -1);
  int ax;
  char s[IR_TYPE_STRLEN];
  if (x->rank < 1 || !ir_norm_axis(axis, x->rank, &ax))
    return op_err(n, d, "axis %lld is out of range for x '%s' %s", (long long)axis,
                  n->in[0]->name, OP_TSTR(x, s));
  *st = *x;
  *R = 1;
  for (int i = ax; i < x->rank; i++) {
    *R *= x->dims[i];
    st->dims[i] = 1;
  }
  if (*R == 0)
    return op_err(n, d, "normalizes over no elements: x '%s' is %s", n->in[0]->name,
                  OP_TSTR(x, s));
  return true;
}

static bool ns_infer(const IrNode *n, IrType *out, SmDiag *d) {
  int64_t R;
  if (!op_want_float(n, 0, d) || !op_want_eps(n, d) || !ns_stat_type(n, &out[0], &R, d))
    return false;
  out[1] = out[0];
  return true;
}

static void ns_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t rows = out[0].numel, R = in[0].numel / (rows ? rows : 1);
  for (int64_t o = 0; o < rows; o++) {
    const double *x = in[0].d + o * R;
    double sum = 0, sq = 0;
    for (int64_t j = 0; j < R; j++) sum += x[j];
    double mean = sum / (double)R;
    for (int64_t j = 0; j < R; j++) sq += (x[j] - mean) * (x[j] - mean);
    out[0].d[o] = mean;
    out[1].d[o] = 1 / sqrt(sq / (double)R + eps);
  }
}

/* x - mean is a node of its own, the same as layernorm's forward x - mean,
 * so common-subexpression elimination shares it and the backward keeps no
 * copy of x for this rule */
static bool ns_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if ((!dout[0] && !dout[1]) || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *xm[2] = {n->in[0], n->out[0]};
  IrValue *in[4] = {ir_grad_op(cx, "sub", xm, 2), n->out[1], dout[0], dout[1]};
  for (int k = 0; k < 2; k++)
    if (!dout[k]) in[2 + k] = ir_grad_fill(cx, &n->out[k]->type, 0);
  IrNode *g = ir_grad_node(cx, "norm_stats_grad", in, 4, 1);
  ir_set_int(cx->g, g, "axis", ir_attr_int(n, "axis", -1));
  din[0] = ir_grad_finish(cx, g);
  return true;
}

/* norm_stats_grad(xc, rstd, dmean, drstd; axis) with xc = x - mean:
 * elementwise, the statistics shaped as norm_stats' results for axis */
static const char *const nsg_roles[] = {"xc", "rstd", "dmean", "drstd"};

static bool nsg_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrType st;
  int64_t R;
  if (!op_want_float(n, 0, d) || !ns_stat_type(n, &st, &R, d)) return false;
  for (int i = 1; i < 4; i++)
    if (!ir_type_eq(&n->in[i]->type, &st)) {
      char a[IR_TYPE_STRLEN], s[IR_TYPE_STRLEN];
      return op_err(n, d, "%s '%s' must be %s (the statistics of xc), got %s", nsg_roles[i],
                    n->in[i]->name, OP_TSTR(&st, s), OP_TSTR(&n->in[i]->type, a));
    }
  out[0] = n->in[0]->type;
  return true;
}

int64_t nsg_count(const IrNode *n) {
  return ir_numel(&n->in[0]->type) / ir_numel(&n->in[1]->type);
}

static double nsg_scalar(const IrNode *n, const double *x) {
  double r = x[1];
  return (x[2] - x[3] * r * r * r * x[0]) / (double)nsg_count(n);
}

/* ======================================================================
 * gradient rules
 * ====================================================================== */

static IrValue *grad_reshape(IrGradCtx *cx, IrValue *v, const IrType *t) {
  if (ir_type_eq(&v->type, t)) return v;
  IrNode *r = ir_grad_node(cx, "reshape", &v, 1, 1);
  ir_set_ints(cx->g, r, "shape", t->dims, t->rank);
  return ir_grad_finish(cx, r);
}

static IrValue *grad_expand(IrGradCtx *cx, IrValue *v, const IrType *t) {
  if (ir_type_eq(&v->type, t)) return v;
  IrNode *e = ir_grad_node(cx, "expand", &v, 1, 1);
  ir_set_ints(cx->g, e, "shape", t->dims, t->rank);
  return ir_grad_finish(cx, e);
}

/* the reduction's result shape with keepdims=1 */
static IrType kept_type(const IrNode *n, int64_t *count) {
  IrType t = n->in[0]->type;
  bool red[IR_MAX_RANK];
  red_axes(n, red);
  *count = 1;
  for (int i = 0; i < t.rank; i++)
    if (red[i]) {
      *count *= t.dims[i];
      t.dims[i] = 1;
    }
  return t;
}

/* sum: dx = expand(reshape(dy, kept shape), x.shape); mean: dy / count too
 * (applied before the expand, on the small tensor) */
static bool reduce_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                        IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  const IrType *xt = &n->in[0]->type;
  if (ir_numel(xt) == 0) { /* nothing to route; reshape can't express 0-dims */
    din[0] = ir_grad_fill(cx, xt, 0);
    return true;
  }
  int64_t count;
  IrType kt = kept_type(n, &count);
  IrValue *g = grad_reshape(cx, dout[0], &kt);
  if (red_kind(n) == RED_MEAN && count != 1) {
    IrType st = {.dtype = xt->dtype, .rank = 0};
    IrValue *in[2] = {g, ir_grad_fill(cx, &st, 1.0 / (double)count)};
    g = ir_grad_op(cx, "mul", in, 2);
  }
  din[0] = grad_expand(cx, g, xt);
  return true;
}

static bool reduce_max_grad_rule(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                                 IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[3] = {n->in[0], n->out[0], dout[0]};
  IrNode *m = ir_grad_node(cx, "reduce_max_grad", in, 3, 1);
  ir_copy_attrs(cx->g, m, n);
  din[0] = ir_grad_finish(cx, m);
  return true;
}

static bool softmax_grad_rule(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                              IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[2] = {n->out[0], dout[0]};
  IrNode *m = ir_grad_node(cx, is_log(n) ? "log_softmax_grad" : "softmax_grad", in, 2, 1);
  ir_copy_attrs(cx->g, m, n);
  din[0] = ir_grad_finish(cx, m);
  return true;
}

static bool expand_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                        IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  const IrType *xt = &n->in[0]->type;
  if (ir_numel(xt) == 0) din[0] = ir_grad_fill(cx, xt, 0); /* as in reduce_grad */
  else din[0] = ir_grad_unbroadcast(cx, dout[0], xt);
  return true;
}

static const IrAttrSpec reduce_attrs[] = {
    {"axes", IR_ATTR_INTS, false}, {"keepdims", IR_ATTR_INT, false}, {NULL, 0, false}};
static const IrAttrSpec softmax_attrs[] = {{"axis", IR_ATTR_INT, false}, {NULL, 0, false}};
static const IrAttrSpec expand_attrs[] = {{"shape", IR_ATTR_INTS, true}, {NULL, 0, false}};
static const IrAttrSpec ns_attrs[] = {
    {"axis", IR_ATTR_INT, false}, {"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};

#define REDUCE(nm, grad_, doc_)                                               \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 1, .max_in = 1, .nout = 1, .attrs = reduce_attrs, \
      .infer = reduce_infer, .ref = reduce_ref, .c = &cgk_reduce,          \
      .grad = grad_, .doc = doc_}
#define SOFTMAX(nm, doc_)                                                     \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 1, .max_in = 1, .nout = 1, .attrs = softmax_attrs, \
      .infer = softmax_infer, .ref = softmax_ref, .c = &cgk_softmax,       \
      .grad = softmax_grad_rule, .doc = doc_}
#define SOFTMAX_GRAD(nm, doc_)                                                \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 2, .max_in = 2, .nout = 1, .attrs = softmax_attrs, \
      .infer = smx_grad_infer, .ref = smx_grad_ref, .c = &cgk_smx_grad, .doc = doc_}

REDUCE(reduce_sum, reduce_grad, "sum over axes (default all; keepdims=1)");
REDUCE(reduce_mean, reduce_grad, "mean over axes (default all; keepdims=1)");
REDUCE(reduce_max, reduce_max_grad_rule, "maximum over axes (default all; keepdims=1)");
SOFTMAX(softmax, "e^x / sum e^x along axis (default -1), stable");
SOFTMAX(log_softmax, "x - log(sum e^x) along axis (default -1), stable");
SOFTMAX_GRAD(softmax_grad, "y * (dy - sum(dy * y)) along axis: backward of softmax (y, dy)");
SOFTMAX_GRAD(log_softmax_grad,
             "dy - e^y * sum(dy) along axis: backward of log_softmax (y, dy)");

static const IrOpDef op_expand = {
    .name = "expand", .min_in = 1, .max_in = 1, .nout = 1, .attrs = expand_attrs,
    .infer = expand_infer, .ref = expand_ref, .c = &cgk_expand, .grad = expand_grad,
    .caps = IR_CAP_NOOP,
    .doc = "broadcast x to shape (numpy broadcast_to, bidirectional as ONNX Expand)"};

static const IrOpDef op_reduce_max_grad = {
    .name = "reduce_max_grad", .min_in = 3, .max_in = 3, .nout = 1, .attrs = reduce_attrs,
    .infer = reduce_max_grad_infer, .ref = reduce_max_grad_ref, .c = &cgk_reduce_max_grad,
    .doc = "dy routed to the maxima of x (ties share evenly): backward of reduce_max (x, y, dy)"};

static const IrOpDef op_norm_stats = {
    .name = "norm_stats", .min_in = 1, .max_in = 1, .nout = 2, .attrs = ns_attrs,
    .infer = ns_infer, .ref = ns_ref, .c = &cgk_norm_stats, .grad = ns_grad,
    .doc = "mean and 1/sqrt(biased var + epsilon) over dims [axis:], kept as 1 (x; axis=-1, "
           "epsilon=1e-5) -> mean, rstd"};
static const IrOpDef op_norm_stats_grad = {
    .name = "norm_stats_grad", .min_in = 4, .max_in = 4, .nout = 1, .attrs = softmax_attrs,
    .flags = IR_OPF_ELEMENTWISE, .infer = nsg_infer, .ref = ew_ref, .c = &cgk_norm_stats_grad, .scalar = nsg_scalar,
    .doc = "(dmean - drstd * rstd^3 * xc) / R, elementwise: backward of norm_stats "
           "(xc = x - mean, rstd, dmean, drstd; axis)"};

const IrOpDef *const ir_ops_reduce[] = {
    &op_reduce_sum,   &op_reduce_mean,   &op_reduce_max,  &op_softmax,
    &op_log_softmax,  &op_expand,        &op_reduce_max_grad, &op_softmax_grad,
    &op_log_softmax_grad, &op_norm_stats, &op_norm_stats_grad, NULL};
