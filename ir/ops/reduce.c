/* Reductions (reduce_sum, reduce_mean, reduce_max over a set of axes) and
 * the normalizations along one axis (softmax, log_softmax; ONNX opset-13
 * semantics, numerically stable by subtracting the max).
 *
 * Emitted reductions view the input as [outer..., reduced..., inner] where
 * `inner` is the contiguous block of kept dims after the last reduced axis:
 * each outer index accumulates a row of `inner` values in double, so the
 * innermost loop is contiguous in both input and output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

static const char *ctype(const IrNode *n) {
  return ir_dtype_ctype(n->out[0]->type.dtype);
}

/* math function name for the node's dtype: expf for f32, exp for f64 */
static const char *mathfn(const IrNode *n, const char *base, char *buf, size_t sz) {
  snprintf(buf, sz, "%s%s", base, n->out[0]->type.dtype == IR_F32 ? "f" : "");
  return buf;
}

static bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n  (void)in0;\n");
  return true;
}

/* Appends " + c*v" to a sum expression (skipping zero terms). */
static void term(SmBuf *e, int64_t c, const char *v) {
  if (c == 0) return;
  if (e->len) sm_buf_puts(e, " + ");
  if (c == 1) sm_buf_puts(e, v);
  else sm_buf_printf(e, "%lld*%s", (long long)c, v);
}

/* ======================================================================
 * reduce_sum, reduce_mean, reduce_max
 * ====================================================================== */

typedef enum { RED_SUM, RED_MEAN, RED_MAX } RedKind;

static RedKind red_kind(const IrNode *n) {
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
static void red_axes(const IrNode *n, bool *red) {
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

/* Rows longer than this accumulate in the output itself instead of a
 * double array on the stack. */
enum { RED_STACK_MAX = 1024 };

static void reduce_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  RedKind kind = red_kind(n);
  const char *T = ctype(n);
  const IrType *xt = &n->in[0]->type;
  int r = xt->rank;
  bool red[IR_MAX_RANK];
  red_axes(n, red);
  int64_t st[IR_MAX_RANK];
  ir_strides(xt, st);
  int last = -1;
  int64_t count = 1;
  for (int i = 0; i < r; i++)
    if (red[i]) {
      last = i;
      count *= xt->dims[i];
    }
  int64_t inner = 1, nouter = 1;
  for (int i = last + 1; i < r; i++) inner *= xt->dims[i];
  for (int i = 0; i < last; i++)
    if (!red[i]) nouter *= xt->dims[i];
  /* base offset of outer index o: unravel o over the kept dims before
   * `last` */
  SmBuf base = {0};
  int64_t trail = nouter;
  for (int i = 0; i < last; i++) {
    if (red[i] || xt->dims[i] == 1) continue;
    trail /= xt->dims[i];
    char v[96];
    bool first = trail * xt->dims[i] == nouter;
    if (first && trail == 1) snprintf(v, sizeof v, "o");
    else if (first) snprintf(v, sizeof v, "(o / %lld)", (long long)trail);
    else if (trail == 1) snprintf(v, sizeof v, "(o %% %lld)", (long long)xt->dims[i]);
    else snprintf(v, sizeof v, "(o / %lld %% %lld)", (long long)trail, (long long)xt->dims[i]);
    term(&base, st[i], v);
  }
  bool in_place = inner > RED_STACK_MAX;
  const char *init = kind == RED_MAX ? "-INFINITY" : "0";
  sm_buf_printf(b, "  /* %s: %lld rows of %lld elements, %lld values each */\n",
                n->op->name, (long long)nouter, (long long)inner, (long long)count);
  if (nouter > 1) emit_omp_for(b, ir_numel(xt), NULL);
  sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++) {\n", (long long)nouter);
  sm_buf_printf(b, "    const %s *restrict x = in0%s%s;\n", T, base.len ? " + " : "",
                sm_buf_str(&base));
  if (inner == 1) sm_buf_printf(b, "    double acc = %s;\n", init);
  else if (in_place) sm_buf_printf(b, "    %s *restrict acc = out0 + o*%lld;\n", T, (long long)inner);
  else sm_buf_printf(b, "    double acc[%lld];\n", (long long)inner);
  if (inner > 1)
    sm_buf_printf(b, "    for (int64_t b = 0; b < %lld; b++) acc[b] = %s;\n",
                  (long long)inner, init);
  /* one loop per reduced dim (size-1 dims need none) */
  SmBuf off = {0};
  int depth = 0;
  for (int i = 0; i <= last; i++) {
    if (!red[i] || xt->dims[i] == 1) continue;
    sm_buf_printf(b, "%*sfor (int64_t r%d = 0; r%d < %lld; r%d++)\n", 4 + 2 * depth, "",
                  i, i, (long long)xt->dims[i], i);
    char v[16];
    snprintf(v, sizeof v, "r%d", i);
    term(&off, st[i], v);
    depth++;
  }
  int ind = 4 + 2 * depth;
  const char *o = off.len ? off.s : "0";
  if (inner == 1) {
    if (kind == RED_MAX)
      sm_buf_printf(b, "%*s{ const double v = x[%s]; acc = v > acc ? v : acc; }\n", ind, "", o);
    else
      sm_buf_printf(b, "%*sacc += x[%s];\n", ind, "", o);
  } else {
    sm_buf_printf(b, "%*sfor (int64_t b = 0; b < %lld; b++) {\n", ind, "", (long long)inner);
    if (kind == RED_MAX)
      sm_buf_printf(b, "%*s  const %s v = x[%s + b]; acc[b] = v > acc[b] ? v : acc[b];\n",
                    ind, "", in_place ? T : "double", o);
    else
      sm_buf_printf(b, "%*s  acc[b] += x[%s + b];\n", ind, "", o);
    sm_buf_printf(b, "%*s}\n", ind, "");
  }
  char scale[64] = "";
  if (kind == RED_MEAN) snprintf(scale, sizeof scale, " / %lld.0", (long long)count);
  if (inner == 1)
    sm_buf_printf(b, "    out0[o] = (%s)(acc%s);\n", T, scale);
  else if (!in_place)
    sm_buf_printf(b, "    for (int64_t b = 0; b < %lld; b++) out0[o*%lld + b] = (%s)(acc[b]%s);\n",
                  (long long)inner, (long long)inner, T, scale);
  else if (kind == RED_MEAN)
    sm_buf_printf(b, "    for (int64_t b = 0; b < %lld; b++) acc[b] = acc[b]%s;\n",
                  (long long)inner, scale);
  sm_buf_puts(b, "  }\n");
  sm_buf_free(&base);
  sm_buf_free(&off);
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

typedef struct SmxGeo {
  int64_t outer, len, inner;
} SmxGeo;

static SmxGeo smx_geo(const IrNode *n) {
  const IrType *x = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", -1);
  int ax = (int)(axis < 0 ? axis + x->rank : axis);
  SmxGeo g = {1, x->dims[ax], 1};
  for (int i = 0; i < ax; i++) g.outer *= x->dims[i];
  for (int i = ax + 1; i < x->rank; i++) g.inner *= x->dims[i];
  return g;
}

static bool is_log(const IrNode *n) { return strcmp(n->op->name, "log_softmax") == 0; }

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

static void softmax_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  SmxGeo g = smx_geo(n);
  const char *T = ctype(n);
  char fexp[16];
  mathfn(n, "exp", fexp, sizeof fexp);
  long long L = g.len, B = g.inner, rows = g.outer * g.inner;
  char at[32]; /* element l of the row */
  if (B == 1) snprintf(at, sizeof at, "[l]");
  else snprintf(at, sizeof at, "[l*%lld]", B);
  sm_buf_printf(b, "  /* %s: %lld rows of %lld, stride %lld */\n", n->op->name, rows, L, B);
  emit_omp_for(b, rows * g.len * 8, NULL);
  sm_buf_printf(b, "  for (int64_t r = 0; r < %lld; r++) {\n", rows);
  if (B == 1) sm_buf_printf(b, "    const int64_t base = r*%lld;\n", L);
  else sm_buf_printf(b, "    const int64_t base = r / %lld * %lld + r %% %lld;\n", B, L * B, B);
  sm_buf_printf(b, "    const %s *restrict x = in0 + base;\n", T);
  sm_buf_printf(b, "    %s *restrict y = out0 + base;\n", T);
  sm_buf_printf(b, "    %s m = x[0];\n", T);
  sm_buf_printf(b, "    for (int64_t l = 1; l < %lld; l++) m = x%s > m ? x%s : m;\n", L, at, at);
  sm_buf_puts(b, "    double s = 0;\n");
  if (is_log(n)) {
    sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) s += %s(x%s - m);\n", L, fexp, at);
    sm_buf_printf(b, "    const %s ls = (%s)log(s);\n", T, T);
    sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) y%s = x%s - m - ls;\n", L, at, at);
  } else {
    sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) {\n", L);
    sm_buf_printf(b, "      const %s e = %s(x%s - m);\n", T, fexp, at);
    sm_buf_printf(b, "      y%s = e;\n      s += e;\n    }\n", at);
    sm_buf_printf(b, "    const %s inv = (%s)(1.0 / s);\n", T, T);
    sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) y%s *= inv;\n", L, at);
  }
  sm_buf_puts(b, "  }\n");
}

static const IrAttrSpec reduce_attrs[] = {
    {"axes", IR_ATTR_INTS, false}, {"keepdims", IR_ATTR_INT, false}, {NULL, 0, false}};
static const IrAttrSpec softmax_attrs[] = {{"axis", IR_ATTR_INT, false}, {NULL, 0, false}};

#define REDUCE(nm, doc_)                                                      \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 1, .max_in = 1, .nout = 1, .attrs = reduce_attrs, \
      .infer = reduce_infer, .ref = reduce_ref, .emit = reduce_emit, .doc = doc_}
#define SOFTMAX(nm, doc_)                                                     \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 1, .max_in = 1, .nout = 1, .attrs = softmax_attrs, \
      .infer = softmax_infer, .ref = softmax_ref, .emit = softmax_emit, .doc = doc_}

REDUCE(reduce_sum, "sum over axes (default all; keepdims=1)");
REDUCE(reduce_mean, "mean over axes (default all; keepdims=1)");
REDUCE(reduce_max, "maximum over axes (default all; keepdims=1)");
SOFTMAX(softmax, "e^x / sum e^x along axis (default -1), stable");
SOFTMAX(log_softmax, "x - log(sum e^x) along axis (default -1), stable");

const IrOpDef *const ir_ops_reduce[] = {&op_reduce_sum, &op_reduce_mean, &op_reduce_max,
                                        &op_softmax, &op_log_softmax, NULL};
