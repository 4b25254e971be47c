/* Loss functions with PyTorch semantics and their backward ops.
 *
 * Every loss takes `reduction` = "mean" (default) | "sum" | "none"; "mean"
 * and "sum" give a scalar of the prediction's dtype, "none" one loss per
 * sample, shape [N]. Classification losses (cross_entropy, nll) read
 * logits or log-probabilities [N,C] and integer labels [N]; element-wise
 * losses (mse, l1, bce, bce_logits, hinge) compare a prediction with a
 * target of the same shape [N, ...], and their per-sample loss is the mean
 * over the non-batch dims, while "sum" and "mean" run over every element
 * (as torch.nn.*Loss does).
 *
 * Labels equal to ignore_index or outside [0, C) are skipped: they add
 * nothing to the loss, to the weight normalizing "mean", or to the gradient
 * (PyTorch raises an error for out-of-range labels; a kernel cannot).
 *
 * Gradients use dedicated backward ops, `<loss>_grad(inputs..., dloss)`
 * with the forward attributes (plus `wrt` = 0 prediction, 1 target for the
 * element-wise losses). Generated kernels compute in double: a loss costs
 * O(N*C) next to the O(N*C*H) layer producing its input. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loss.h"


Reduction reduction(const IrNode *n) {
  const char *s = ir_attr_str(n, "reduction", "mean");
  return strcmp(s, "sum") == 0 ? RD_SUM : strcmp(s, "none") == 0 ? RD_NONE : RD_MEAN;
}

static bool check_reduction(const IrNode *n, SmDiag *d) {
  const char *s = ir_attr_str(n, "reduction", "mean");
  if (strcmp(s, "mean") && strcmp(s, "sum") && strcmp(s, "none"))
    return op_err(n, d, "reduction must be \"mean\", \"sum\" or \"none\", got \"%s\"", s);
  return true;
}

/* the loss type for prediction type p: [N] or a scalar */
static IrType loss_type(const IrNode *n, const IrType *p) {
  int64_t dims[1] = {p->dims[0]};
  return ir_type_make(p->dtype, reduction(n) == RD_NONE ? 1 : 0, dims);
}

static bool is_int_dtype(IrDType t) { return t == IR_I64 || t == IR_I32; }

/* The incoming gradient of a backward op (its last input) must have the
 * forward loss's type. */
static bool check_dloss(const IrNode *n, const IrType *want, SmDiag *d) {
  const IrType *g = &n->in[n->nin - 1]->type;
  if (!ir_type_eq(g, want)) {
    char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
    return op_err(n, d, "dloss '%s' is %s but the loss (reduction \"%s\") is %s",
                  n->in[n->nin - 1]->name, OP_TSTR(g, a),
                  ir_attr_str(n, "reduction", "mean"), OP_TSTR(want, b));
  }
  return true;
}

/* ======================================================================
 * cross_entropy(logits [N,C], labels [N] [, weight [C]]) and
 * nll(logp [N,C], labels [N] [, weight [C]])
 *
 * per sample i with label y (not skipped), lp = log_softmax(x_i) for
 * cross_entropy and x_i for nll, eps = label_smoothing:
 *   l_i = (1-eps) * w_y * -lp_y + eps/C * sum_c w_c * -lp_c
 * "mean" divides the sum of l_i by the sum of w_y over kept samples.
 * ====================================================================== */

bool is_ce(const IrNode *n) { return strncmp(n->op->name, "cross_entropy", 13) == 0; }

/* forward operand count: backward ops append dloss */
static int cls_nfwd(const IrNode *n) { return strstr(n->op->name, "_grad") ? n->nin - 1 : n->nin; }
bool cls_has_weight(const IrNode *n) { return cls_nfwd(n) == 3; }

/* Checks the forward operands of n and sets *loss to the forward type. */
static bool cls_check(const IrNode *n, IrType *loss, SmDiag *d) {
  const IrType *x = &n->in[0]->type, *y = &n->in[1]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  const char *what = is_ce(n) ? "logits" : "log-probabilities";
  if (x->rank != 2 || !ir_dtype_is_float(x->dtype))
    return op_err(n, d, "expects float %s [N,C], got %s", what, OP_TSTR(x, a));
  if (x->dims[0] < 1 || x->dims[1] < 1)
    return op_err(n, d, "expects at least one sample and one class, got %s %s", what,
                  OP_TSTR(x, a));
  if (!is_int_dtype(y->dtype) || y->rank != 1 || y->dims[0] != x->dims[0])
    return op_err(n, d, "labels must be i64[%lld] or i32[%lld] for %s %s, got %s",
                  (long long)x->dims[0], (long long)x->dims[0], what, OP_TSTR(x, a),
                  OP_TSTR(y, b));
  if (cls_has_weight(n)) {
    const IrType *w = &n->in[2]->type;
    if (w->dtype != x->dtype || w->rank != 1 || w->dims[0] != x->dims[1])
      return op_err(n, d, "class weights must be %s[%lld] for %s %s, got %s",
                    ir_dtype_name(x->dtype), (long long)x->dims[1], what, OP_TSTR(x, a),
                    OP_TSTR(w, b));
  }
  if (!check_reduction(n, d)) return false;
  double eps = ir_attr_float(n, "label_smoothing", 0.0);
  if (!(eps >= 0 && eps <= 1))
    return op_err(n, d, "label_smoothing must be in [0, 1], got %g", eps);
  *loss = loss_type(n, x);
  return true;
}

static bool cls_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return cls_check(n, &out[0], d);
}

static bool cls_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrType loss;
  if (!cls_check(n, &loss, d) || !check_dloss(n, &loss, d)) return false;
  out[0] = n->in[0]->type;
  return true;
}

typedef struct ClsGeo {
  int64_t N, C, ignore;
  double eps;
  const double *w; /* NULL: all ones */
} ClsGeo;

static ClsGeo cls_geo(const IrNode *n, const IrTensor *in) {
  const IrType *x = &n->in[0]->type;
  return (ClsGeo){x->dims[0], x->dims[1], ir_attr_int(n, "ignore_index", -100),
                  ir_attr_float(n, "label_smoothing", 0.0),
                  cls_has_weight(n) ? in[2].d : NULL};
}

/* label of sample i, or -1 when skipped */
static int64_t ref_label(const ClsGeo *g, const IrTensor *labels, int64_t i) {
  int64_t y = (int64_t)labels->d[i];
  return y == g->ignore || y < 0 || y >= g->C ? -1 : y;
}

static double ref_lse(const double *x, int64_t C) {
  double m = -INFINITY, s = 0;
  for (int64_t c = 0; c < C; c++)
    if (x[c] > m) m = x[c];
  for (int64_t c = 0; c < C; c++) s += exp(x[c] - m);
  return m + log(s);
}

static void cls_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ClsGeo g = cls_geo(n, in);
  bool ce = is_ce(n);
  double total = 0, wsum = 0;
  for (int64_t i = 0; i < g.N; i++) {
    int64_t y = ref_label(&g, &in[1], i);
    if (y < 0) continue;
    const double *x = in[0].d + i * g.C;
    double lse = ce ? ref_lse(x, g.C) : 0;
    double wy = g.w ? g.w[y] : 1;
    double l = (1 - g.eps) * wy * (lse - x[y]);
    if (g.eps > 0) {
      double sm = 0;
      for (int64_t c = 0; c < g.C; c++) sm += (g.w ? g.w[c] : 1) * (lse - x[c]);
      l += g.eps / (double)g.C * sm;
    }
    if (reduction(n) == RD_NONE) out[0].d[i] = l;
    total += l;
    wsum += wy;
  }
  if (reduction(n) == RD_SUM) out[0].d[0] = total;
  if (reduction(n) == RD_MEAN) out[0].d[0] = total / wsum;
}

/* d l_i / d x_ic = (1-eps) w_y (p_c - [c=y]) + eps/C sum_k w_k (p_c - [c=k])
 * with p = softmax(x_i) for cross_entropy and 0 for nll */
static void cls_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ClsGeo g = cls_geo(n, in);
  bool ce = is_ce(n);
  Reduction r = reduction(n);
  const double *dl = in[n->nin - 1].d;
  double wsum = 0, wall = 0;
  for (int64_t i = 0; i < g.N; i++) {
    int64_t y = ref_label(&g, &in[1], i);
    if (y >= 0) wsum += g.w ? g.w[y] : 1;
  }
  for (int64_t c = 0; c < g.C; c++) wall += g.w ? g.w[c] : 1;
  for (int64_t i = 0; i < g.N; i++) {
    int64_t y = ref_label(&g, &in[1], i);
    if (y < 0) continue;
    double gi = r == RD_NONE ? dl[i] : r == RD_SUM ? dl[0] : dl[0] / wsum;
    const double *x = in[0].d + i * g.C;
    double *dx = out[0].d + i * g.C;
    double lse = ce ? ref_lse(x, g.C) : 0;
    double wy = g.w ? g.w[y] : 1;
    for (int64_t c = 0; c < g.C; c++) {
      double p = ce ? exp(x[c] - lse) : 0;
      double v = (1 - g.eps) * wy * (p - (c == y)) +
                 g.eps / (double)g.C * (wall * p - (g.w ? g.w[c] : 1));
      dx[c] = gi * v;
    }
  }
}

/* Backward op name for node n: "<op>_grad". */
static const char *grad_name(const IrNode *n, char *buf, size_t sz) {
  snprintf(buf, sz, "%s_grad", n->op->name);
  return buf;
}

static bool cls_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  if (n->nin == 3 && ir_grad_needed(cx, n, 2)) {
    sm_error(cx->d, n->loc, "%s: no gradient w.r.t. the class weights '%s' (make them a "
             "constant or an input the loss does not differentiate)", n->op->name,
             n->in[2]->name);
    return false;
  }
  if (!ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[4];
  for (int i = 0; i < n->nin; i++) in[i] = n->in[i];
  in[n->nin] = dout[0];
  char nm[64];
  IrNode *g = ir_grad_node(cx, grad_name(n, nm, sizeof nm), in, n->nin + 1, 1);
  ir_copy_attrs(cx->g, g, n);
  din[0] = ir_grad_finish(cx, g);
  return true;
}

/* ======================================================================
 * Element-wise losses: pred and target [N, ...] of the same type.
 * Each gives its per-element loss and derivatives twice: in double for the
 * reference, as C over `const double p, t` (and `m`, the margin) for
 * generated code.
 * ====================================================================== */



static const ElDef el_defs[] = {
    {"mse", EL_MSE, {"(p - t) * (p - t)", "2.0 * (p - t)", "-2.0 * (p - t)"}, {3, 3, 3}},
    {"l1", EL_L1,
     {"fabs(p - t)", "(p > t ? 1.0 : p < t ? -1.0 : 0.0)", "(p > t ? -1.0 : p < t ? 1.0 : 0.0)"},
     {3, 3, 3}},
    {"bce", EL_BCE,
     {"-(t * fmax(log(p), -100.0) + (1.0 - t) * fmax(log1p(-p), -100.0))",
      "(p - t) / fmax((1.0 - p) * p, 1e-12)", "fmax(log1p(-p), -100.0) - fmax(log(p), -100.0)"},
     {3, 3, 1}},
    {"bce_logits", EL_BCE_LOGITS,
     {"fmax(p, 0.0) - p * t + log1p(exp(-fabs(p)))", "1.0 / (1.0 + exp(-p)) - t", "-p"},
     {3, 3, 1}},
    {"hinge", EL_HINGE,
     {"fmax(m - t * p, 0.0)", "(m - t * p > 0.0 ? -t : 0.0)", "(m - t * p > 0.0 ? -p : 0.0)"},
     {3, 3, 3}},
};

const ElDef *el_def(const IrNode *n) {
  for (int i = 0; i < SM_COUNT(el_defs); i++)
    if (strncmp(n->op->name, el_defs[i].name, strlen(el_defs[i].name)) == 0 &&
        (n->op->name[strlen(el_defs[i].name)] == 0 ||
         strcmp(n->op->name + strlen(el_defs[i].name), "_grad") == 0))
      return &el_defs[i];
  SM_ASSERT(!"not an element-wise loss");
  return NULL;
}

/* what: 0 loss, 1 d/dp, 2 d/dt */
static double el_scalar(ElKind k, double m, double p, double t, int what) {
  switch (k) {
  case EL_MSE: return what == 0 ? (p - t) * (p - t) : (what == 1 ? 2 : -2) * (p - t);
  case EL_L1: {
    double s = p > t ? 1 : p < t ? -1 : 0;
    return what == 0 ? fabs(p - t) : what == 1 ? s : -s;
  }
  case EL_BCE: {
    double lp = log(p) > -100 ? log(p) : -100, lq = log1p(-p) > -100 ? log1p(-p) : -100;
    if (what == 0) return -(t * lp + (1 - t) * lq);
    if (what == 1) return (p - t) / ((1 - p) * p > 1e-12 ? (1 - p) * p : 1e-12);
    return lq - lp;
  }
  case EL_BCE_LOGITS:
    if (what == 0) return (p > 0 ? p : 0) - p * t + log1p(exp(-fabs(p)));
    return what == 1 ? 1 / (1 + exp(-p)) - t : -p;
  case EL_HINGE:
    if (what == 0) return m - t * p > 0 ? m - t * p : 0;
    if (m - t * p <= 0) return 0;
    return what == 1 ? -t : -p;
  }
  return NAN;
}

/* samples and elements per sample */
void el_geo(const IrNode *n, int64_t *N, int64_t *K) {
  const IrType *p = &n->in[0]->type;
  *N = p->dims[0];
  *K = ir_numel(p) / *N;
}

static bool el_check(const IrNode *n, IrType *loss, SmDiag *d) {
  const IrType *p = &n->in[0]->type, *t = &n->in[1]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  bool hinge = el_def(n)->kind == EL_HINGE;
  if (!ir_dtype_is_float(p->dtype) || p->rank < 1 || (hinge && p->rank != 1))
    return op_err(n, d, "expects a float %s, got %s",
                  hinge ? "score vector [N]" : "prediction [N, ...] with a batch dim",
                  OP_TSTR(p, a));
  if (ir_numel(p) < 1)
    return op_err(n, d, "expects a non-empty prediction, got %s", OP_TSTR(p, a));
  if (!ir_type_eq(p, t))
    return op_err(n, d, "target must match the prediction %s, got %s", OP_TSTR(p, a),
                  OP_TSTR(t, b));
  if (!check_reduction(n, d)) return false;
  *loss = loss_type(n, p);
  return true;
}

static bool el_infer(const IrNode *n, IrType *out, SmDiag *d) { return el_check(n, &out[0], d); }

static bool el_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrType loss;
  if (!el_check(n, &loss, d) || !check_dloss(n, &loss, d)) return false;
  int64_t wrt = ir_attr_int(n, "wrt", 0);
  if (wrt != 0 && wrt != 1)
    return op_err(n, d, "wrt must be 0 (prediction) or 1 (target), got %lld", (long long)wrt);
  out[0] = n->in[0]->type;
  return true;
}

static void el_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ElKind k = el_def(n)->kind;
  double m = ir_attr_float(n, "margin", 1.0), total = 0;
  int64_t N, K;
  el_geo(n, &N, &K);
  for (int64_t i = 0; i < N; i++) {
    double s = 0;
    for (int64_t j = i * K; j < (i + 1) * K; j++) s += el_scalar(k, m, in[0].d[j], in[1].d[j], 0);
    if (reduction(n) == RD_NONE) out[0].d[i] = s / (double)K;
    total += s;
  }
  if (reduction(n) == RD_SUM) out[0].d[0] = total;
  if (reduction(n) == RD_MEAN) out[0].d[0] = total / (double)(N * K);
}

static void el_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ElKind k = el_def(n)->kind;
  double m = ir_attr_float(n, "margin", 1.0);
  int what = 1 + (int)ir_attr_int(n, "wrt", 0);
  Reduction r = reduction(n);
  const double *dl = in[2].d;
  int64_t N, K;
  el_geo(n, &N, &K);
  for (int64_t i = 0; i < N; i++) {
    double g = r == RD_NONE ? dl[i] / (double)K : r == RD_SUM ? dl[0] : dl[0] / (double)(N * K);
    for (int64_t j = i * K; j < (i + 1) * K; j++)
      out[0].d[j] = g * el_scalar(k, m, in[0].d[j], in[1].d[j], what);
  }
}

static bool el_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  IrValue *in[3] = {n->in[0], n->in[1], dout[0]};
  char nm[64];
  for (int wrt = 0; wrt < 2; wrt++) {
    if (!ir_grad_needed(cx, n, wrt)) continue;
    IrNode *g = ir_grad_node(cx, grad_name(n, nm, sizeof nm), in, 3, 1);
    ir_copy_attrs(cx->g, g, n);
    ir_set_int(cx->g, g, "wrt", wrt);
    din[wrt] = ir_grad_finish(cx, g);
  }
  return true;
}

/* ---- registry entries ---- */

static const IrAttrSpec ce_attrs[] = {{"reduction", IR_ATTR_STR, false},
                                      {"ignore_index", IR_ATTR_INT, false},
                                      {"label_smoothing", IR_ATTR_FLOAT, false},
                                      {NULL, 0, false}};
static const IrAttrSpec nll_attrs[] = {{"reduction", IR_ATTR_STR, false},
                                       {"ignore_index", IR_ATTR_INT, false},
                                       {NULL, 0, false}};
static const IrAttrSpec el_attrs[] = {{"reduction", IR_ATTR_STR, false}, {NULL, 0, false}};
static const IrAttrSpec el_grad_attrs[] = {
    {"reduction", IR_ATTR_STR, false}, {"wrt", IR_ATTR_INT, false}, {NULL, 0, false}};
static const IrAttrSpec hinge_attrs[] = {
    {"reduction", IR_ATTR_STR, false}, {"margin", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec hinge_grad_attrs[] = {{"reduction", IR_ATTR_STR, false},
                                              {"margin", IR_ATTR_FLOAT, false},
                                              {"wrt", IR_ATTR_INT, false},
                                              {NULL, 0, false}};

#define CLS(nm, attrs_, doc_, gdoc_)                                               \
  static const IrOpDef op_##nm = {                                                 \
      .name = #nm, .min_in = 2, .max_in = 3, .nout = 1, .attrs = attrs_,           \
      .infer = cls_infer, .ref = cls_ref, .c = &cgk_cls, .grad = cls_grad,         \
      .doc = doc_, .caps = IR_CAP_LOSS | IR_CAP_CLASS_TARGET};                     \
  static const IrOpDef op_##nm##_grad = {                                          \
      .name = #nm "_grad", .min_in = 3, .max_in = 4, .nout = 1, .attrs = attrs_,   \
      .infer = cls_grad_infer, .ref = cls_grad_ref, .c = &cgk_cls_grad,            \
      .doc = gdoc_}

#define EL(nm, attrs_, gattrs_, doc_)                                               \
  static const IrOpDef op_##nm = {                                                 \
      .name = #nm, .min_in = 2, .max_in = 2, .nout = 1, .attrs = attrs_,           \
      .infer = el_infer, .ref = el_ref, .c = &cgk_el, .grad = el_grad,             \
      .doc = doc_, .caps = IR_CAP_LOSS};                                           \
  static const IrOpDef op_##nm##_grad = {                                          \
      .name = #nm "_grad", .min_in = 3, .max_in = 3, .nout = 1, .attrs = gattrs_,  \
      .infer = el_grad_infer, .ref = el_grad_ref, .c = &cgk_el_grad,               \
      .doc = "backward of " #nm " w.r.t. prediction (wrt=0) or target (wrt=1)"}

CLS(cross_entropy, ce_attrs,
    "softmax cross-entropy (logits [N,C], labels [N] [, weight [C]]; reduction=\"mean\", "
    "label_smoothing=0, ignore_index=-100; out-of-range labels skipped)",
    "backward of cross_entropy w.r.t. logits (logits, labels [, weight], dloss)");
CLS(nll, nll_attrs,
    "negative log-likelihood (logp [N,C], labels [N] [, weight [C]]; reduction=\"mean\", "
    "ignore_index=-100; out-of-range labels skipped)",
    "backward of nll w.r.t. logp (logp, labels [, weight], dloss)");
EL(mse, el_attrs, el_grad_attrs, "mean squared error (pred, target [N,...]; reduction=\"mean\")");
EL(l1, el_attrs, el_grad_attrs, "mean absolute error (pred, target [N,...]; reduction=\"mean\")");
EL(bce, el_attrs, el_grad_attrs,
   "binary cross-entropy on probabilities, logs clamped at -100 (reduction=\"mean\")");
EL(bce_logits, el_attrs, el_grad_attrs,
   "binary cross-entropy on logits, stable form (reduction=\"mean\")");
EL(hinge, hinge_attrs, hinge_grad_attrs,
   "max(0, margin - t*s) for scores [N], targets in {-1,+1} (margin=1, reduction=\"mean\")");

const IrOpDef *const ir_ops_loss[] = {
    &op_cross_entropy, &op_cross_entropy_grad, &op_nll,        &op_nll_grad,
    &op_mse,           &op_mse_grad,           &op_l1,         &op_l1_grad,
    &op_bce,           &op_bce_grad,           &op_bce_logits, &op_bce_logits_grad,
    &op_hinge,         &op_hinge_grad,         NULL};
