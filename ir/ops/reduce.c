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

#include "ops.h"

static const char *ctype(const IrNode *n) {
  return ir_dtype_ctype(n->out[0]->type.dtype);
}

/* math function name for the node's dtype: expf for f32, exp for f64 */
static const char *mathfn(const IrNode *n, const char *base, char *buf, size_t sz) {
  return op_mathfn(n->out[0]->type.dtype, base, buf, sz);
}

static bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
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

/* The emitters' view of a reduction over x: [outer..., reduced..., inner],
 * `last` the last reduced axis. Output element o*inner + b collects the
 * `count` values at x[base(o) + off(r...) + b]. */
typedef struct RedGeo {
  bool red[IR_MAX_RANK];
  int64_t st[IR_MAX_RANK]; /* strides of x */
  int last;
  int64_t count, inner, nouter;
} RedGeo;

static RedGeo red_geo(const IrNode *n) {
  const IrType *xt = &n->in[0]->type;
  RedGeo g = {.last = -1, .count = 1, .inner = 1, .nouter = 1};
  red_axes(n, g.red);
  ir_strides(xt, g.st);
  for (int i = 0; i < xt->rank; i++)
    if (g.red[i]) {
      g.last = i;
      g.count *= xt->dims[i];
    }
  for (int i = g.last + 1; i < xt->rank; i++) g.inner *= xt->dims[i];
  for (int i = 0; i < g.last; i++)
    if (!g.red[i]) g.nouter *= xt->dims[i];
  return g;
}

/* base offset of outer index o: unravel o over the kept dims before
 * `last` */
static void red_base(SmBuf *base, const IrType *xt, const RedGeo *g) {
  int64_t trail = g->nouter;
  for (int i = 0; i < g->last; i++) {
    if (g->red[i] || xt->dims[i] == 1) continue;
    trail /= xt->dims[i];
    char v[96];
    bool first = trail * xt->dims[i] == g->nouter;
    if (first && trail == 1) snprintf(v, sizeof v, "o");
    else if (first) snprintf(v, sizeof v, "(o / %lld)", (long long)trail);
    else if (trail == 1) snprintf(v, sizeof v, "(o %% %lld)", (long long)xt->dims[i]);
    else snprintf(v, sizeof v, "(o / %lld %% %lld)", (long long)trail, (long long)xt->dims[i]);
    term(base, g->st[i], v);
  }
}

/* Opens one loop per run of reduced dims contiguous in x (size-1 dims
 * need none; LeNet's bias gradient sums [64, 16, 10, 10] over 0, 2, 3 in
 * two loops, the inner one 100 long) at indent `ind` and appends their
 * offset into x to `off`; returns the nesting depth.
 * simd (or NULL): the clauses of an `omp simd` on the innermost loop. */
static int red_loops(SmBuf *b, const IrType *xt, const RedGeo *g, int ind, SmBuf *off,
                     const char *simd) {
  int64_t len[IR_MAX_RANK], st[IR_MAX_RANK];
  int var[IR_MAX_RANK], nl = 0;
  for (int i = 0; i <= g->last; i++) {
    if (!g->red[i] || xt->dims[i] == 1) continue;
    if (nl > 0 && var[nl - 1] == i - 1 && st[nl - 1] == xt->dims[i] * g->st[i]) {
      len[nl - 1] *= xt->dims[i];
      st[nl - 1] = g->st[i];
      var[nl - 1] = i;
      continue;
    }
    len[nl] = xt->dims[i], st[nl] = g->st[i], var[nl] = i, nl++;
  }
  for (int k = 0; k < nl; k++) {
    if (simd && k == nl - 1) sm_buf_printf(b, "#pragma omp simd %s\n", simd);
    int i = var[k];
    sm_buf_printf(b, "%*sfor (int64_t r%d = 0; r%d < %lld; r%d++)\n", ind + 2 * k, "", i, i,
                  (long long)len[k], i);
    char v[16];
    snprintf(v, sizeof v, "r%d", i);
    term(off, st[k], v);
  }
  return nl;
}

static void reduce_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  RedKind kind = red_kind(n);
  const char *T = ctype(n);
  const IrType *xt = &n->in[0]->type;
  RedGeo g = red_geo(n);
  int64_t inner = g.inner, nouter = g.nouter, count = g.count;
  SmBuf base = {0};
  red_base(&base, xt, &g);
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
  SmBuf off = {0};
  /* a sum into one double: in vector lanes (a fixed order, so still
   * deterministic), not one dependent add after another */
  const char *simd = inner == 1 && kind != RED_MAX ? "reduction(+:acc)" : NULL;
  int ind = 4 + 2 * red_loops(b, xt, &g, 4, &off, simd);
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

/* The output as loops over merged dims (size-1 dims dropped; neighbours
 * merged when the input walks them as one), each with its input stride (0
 * where x is broadcast); the innermost loop copies or splats a run. */
static void expand_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const IrType *xt = &n->in[0]->type, *ot = &n->out[0]->type;
  const char *T = ctype(n);
  int r = ot->rank, m = 0;
  int64_t xst[IR_MAX_RANK], dim[IR_MAX_RANK], ist[IR_MAX_RANK];
  ir_strides(xt, xst);
  for (int i = 0; i < r; i++) {
    if (ot->dims[i] == 1) continue;
    int xd = i - (r - xt->rank);
    int64_t s = xd < 0 || xt->dims[xd] == 1 ? 0 : xst[xd];
    if (m > 0 && ist[m - 1] == s * ot->dims[i]) {
      dim[m - 1] *= ot->dims[i];
      ist[m - 1] = s;
    } else {
      dim[m] = ot->dims[i];
      ist[m] = s;
      m++;
    }
  }
  char sx[IR_TYPE_STRLEN], so[IR_TYPE_STRLEN];
  sm_buf_printf(b, "  /* expand: %s -> %s */\n", OP_TSTR(xt, sx), OP_TSTR(ot, so));
  if (m == 0) {
    sm_buf_puts(b, "  out0[0] = in0[0];\n");
    return;
  }
  /* outer loops i0..i(m-2), then the run of dim[m-1] */
  int64_t ost = dim[m - 1];
  SmBuf io = {0}, oo = {0};
  for (int k = m - 2; k >= 0; k--) {
    char v[16];
    snprintf(v, sizeof v, "i%d", k);
    term(&io, ist[k], v);
    term(&oo, ost, v);
    ost *= dim[k];
  }
  if (m > 1) emit_omp_for(b, ir_numel(ot), m > 2 ? "collapse(2)" : NULL);
  for (int k = 0; k < m - 1; k++)
    sm_buf_printf(b, "%*sfor (int64_t i%d = 0; i%d < %lld; i%d++)\n", 2 + 2 * k, "", k, k,
                  (long long)dim[k], k);
  int ind = 2 + 2 * (m - 1);
  /* x's innermost non-1 dim has stride 1, so the run is a copy or a splat */
  long long L = dim[m - 1], s = ist[m - 1];
  SM_ASSERT(s == 0 || s == 1);
  sm_buf_printf(b, "%*s{\n", ind, "");
  sm_buf_printf(b, "%*s%s *restrict y = out0%s%s;\n", ind + 2, "", T, oo.len ? " + " : "",
                sm_buf_str(&oo));
  if (s == 0) {
    sm_buf_printf(b, "%*sconst %s v = in0[%s];\n", ind + 2, "", T, io.len ? io.s : "0");
    sm_buf_printf(b, "%*sfor (int64_t j = 0; j < %lld; j++) y[j] = v;\n", ind + 2, "", L);
  } else {
    sm_buf_printf(b, "%*sconst %s *restrict x = in0%s%s;\n", ind + 2, "", T,
                  io.len ? " + " : "", sm_buf_str(&io));
    sm_buf_printf(b, "%*sfor (int64_t j = 0; j < %lld; j++) y[j] = x[j];\n", ind + 2, "", L);
  }
  sm_buf_printf(b, "%*s}\n", ind, "");
  sm_buf_free(&io);
  sm_buf_free(&oo);
}

/* ======================================================================
 * backward kernels
 * ====================================================================== */

/* Column blocks of this many elements keep per-column partial results on
 * the stack while rows are walked contiguously. */
enum { COL_BLOCK = 256 };

/* Opens `for o < outer` and, when inner > COL_BLOCK, `for c` over column
 * blocks, then a block declaring the block's first column c and width w. */
static void emit_rows_cols(SmBuf *b, int64_t outer, int64_t inner, int64_t work) {
  long long I = inner;
  bool blocked = inner > COL_BLOCK;
  if (outer > 1 || blocked) emit_omp_for(b, work, blocked ? "collapse(2)" : NULL);
  sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++)\n", (long long)outer);
  if (blocked) {
    sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c += %d) {\n", I, COL_BLOCK);
    sm_buf_printf(b, "    const int64_t w = %lld - c < %d ? %lld - c : %d;\n", I, COL_BLOCK, I,
                  COL_BLOCK);
  } else {
    sm_buf_printf(b, "  {\n    const int64_t c = 0, w = %lld;\n", I);
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

/* per row block: count the ties, then write dx in a second sweep */
static void reduce_max_grad_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  const IrType *xt = &n->in[0]->type;
  RedGeo g = red_geo(n);
  long long I = g.inner;
  SmBuf base = {0}, off = {0}, again = {0};
  red_base(&base, xt, &g);
  sm_buf_printf(b, "  /* reduce_max_grad: %lld rows of %lld elements, %lld values each; "
                "dy is split evenly among ties */\n",
                (long long)g.nouter, I, (long long)g.count);
  if (g.inner == 1) {
    if (g.nouter > 1) emit_omp_for(b, ir_numel(xt), NULL);
    sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++) {\n", (long long)g.nouter);
  } else {
    emit_rows_cols(b, g.nouter, g.inner, ir_numel(xt));
  }
  const char *bs = base.len ? " + " : "";
  sm_buf_printf(b, "    const %s *restrict x = in0%s%s;\n", T, bs, sm_buf_str(&base));
  sm_buf_printf(b, "    %s *restrict dx = out0%s%s;\n", T, bs, sm_buf_str(&base));
  if (g.inner == 1) {
    sm_buf_printf(b, "    const %s y = in1[o];\n    int64_t ties = 0;\n", T);
    int ind = 4 + 2 * red_loops(b, xt, &g, 4, &off, NULL);
    const char *o = off.len ? off.s : "0";
    sm_buf_printf(b, "%*sties += x[%s] == y;\n", ind, "", o);
    sm_buf_printf(b, "    const %s gy = in2[o] / (%s)ties;\n", T, T);
    red_loops(b, xt, &g, 4, &again, NULL);
    sm_buf_printf(b, "%*sdx[%s] = x[%s] == y ? gy : 0;\n", ind, "", o, o);
  } else {
    sm_buf_printf(b, "    const %s *restrict y = in1 + o*%lld + c;\n", T, I);
    sm_buf_printf(b, "    const %s *restrict dy = in2 + o*%lld + c;\n", T, I);
    sm_buf_printf(b, "    int64_t ties[%lld];\n    %s gy[%lld];\n",
                  I < COL_BLOCK ? I : COL_BLOCK, T, I < COL_BLOCK ? I : COL_BLOCK);
    sm_buf_puts(b, "    for (int64_t b = 0; b < w; b++) ties[b] = 0;\n");
    int ind = 4 + 2 * red_loops(b, xt, &g, 4, &off, NULL);
    const char *o = off.len ? off.s : "0";
    sm_buf_printf(b, "%*sfor (int64_t b = 0; b < w; b++) ties[b] += x[%s + c + b] == y[b];\n",
                  ind, "", o);
    sm_buf_printf(b, "    for (int64_t b = 0; b < w; b++) gy[b] = dy[b] / (%s)ties[b];\n", T);
    red_loops(b, xt, &g, 4, &again, NULL);
    sm_buf_printf(b, "%*sfor (int64_t b = 0; b < w; b++)\n", ind, "");
    sm_buf_printf(b, "%*s  dx[%s + c + b] = x[%s + c + b] == y[b] ? gy[b] : 0;\n", ind, "", o, o);
  }
  sm_buf_puts(b, "  }\n");
  sm_buf_free(&base);
  sm_buf_free(&off);
  sm_buf_free(&again);
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

static bool is_log_grad(const IrNode *n) { return strcmp(n->op->name, "log_softmax_grad") == 0; }

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

/* rows along the axis; with inner > 1, a block of columns at a time so
 * every loop runs contiguously over the columns */
static void smx_grad_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  SmxGeo g = smx_geo(n);
  const char *T = ctype(n);
  bool lg = is_log_grad(n);
  char fexp[16];
  mathfn(n, "exp", fexp, sizeof fexp);
  long long L = g.len, I = g.inner;
  sm_buf_printf(b, "  /* %s: %lld x %lld rows of %lld, stride %lld */\n", n->op->name,
                (long long)g.outer, I, L, I);
  if (g.inner == 1) {
    if (g.outer > 1) emit_omp_for(b, g.outer * g.len * 4, NULL);
    sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++) {\n", (long long)g.outer);
    sm_buf_printf(b, "    const %s *restrict y = in0 + o*%lld;\n", T, L);
    sm_buf_printf(b, "    const %s *restrict dy = in1 + o*%lld;\n", T, L);
    sm_buf_printf(b, "    %s *restrict dx = out0 + o*%lld;\n", T, L);
    sm_buf_puts(b, "    double s = 0;\n");
    if (lg) {
      sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) s += dy[l];\n", L);
      sm_buf_printf(b, "    const %s sv = (%s)s;\n", T, T);
      sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) dx[l] = dy[l] - %s(y[l]) * sv;\n",
                    L, fexp);
    } else {
      sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) s += (double)dy[l] * y[l];\n", L);
      sm_buf_printf(b, "    const %s sv = (%s)s;\n", T, T);
      sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++) dx[l] = y[l] * (dy[l] - sv);\n", L);
    }
    sm_buf_puts(b, "  }\n");
    return;
  }
  long long B = I < COL_BLOCK ? I : COL_BLOCK;
  emit_rows_cols(b, g.outer, g.inner, g.outer * g.len * g.inner * 4);
  sm_buf_printf(b, "    const int64_t at = o*%lld + c;\n", L * I);
  sm_buf_printf(b, "    const %s *restrict y = in0 + at;\n", T);
  sm_buf_printf(b, "    const %s *restrict dy = in1 + at;\n", T);
  sm_buf_printf(b, "    %s *restrict dx = out0 + at;\n", T);
  sm_buf_printf(b, "    double s[%lld];\n", B);
  sm_buf_puts(b, "    for (int64_t b = 0; b < w; b++) s[b] = 0;\n");
  sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++)\n", L);
  if (lg)
    sm_buf_printf(b, "      for (int64_t b = 0; b < w; b++) s[b] += dy[l*%lld + b];\n", I);
  else
    sm_buf_printf(b, "      for (int64_t b = 0; b < w; b++) s[b] += (double)dy[l*%lld + b] * y[l*%lld + b];\n",
                  I, I);
  sm_buf_printf(b, "    for (int64_t l = 0; l < %lld; l++)\n", L);
  sm_buf_puts(b, "      for (int64_t b = 0; b < w; b++) {\n");
  sm_buf_printf(b, "        const int64_t k = l*%lld + b;\n", I);
  if (lg)
    sm_buf_printf(b, "        dx[k] = dy[k] - %s(y[k]) * (%s)s[b];\n", fexp, T);
  else
    sm_buf_printf(b, "        dx[k] = y[k] * (dy[k] - (%s)s[b]);\n", T);
  sm_buf_puts(b, "      }\n  }\n");
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

/* One row at a time (a thread team over rows when the work pays): the sum,
 * then the squared deviations from the mean, both in double while the row
 * is in cache; the inner loops are simd reductions. */
static void ns_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  int64_t rows = ir_numel(&n->out[0]->type);
  if (rows == 0) {
    sm_buf_puts(b, "  (void)out0;\n  (void)out1;\n  (void)in0;\n");
    return;
  }
  int64_t R = ir_numel(&n->in[0]->type) / rows;
  sm_buf_printf(b, "  /* norm_stats: %lld rows of %lld; mean and 1/sqrt(biased var + eps) */\n",
                (long long)rows, (long long)R);
  if (rows > 1) emit_omp_for(b, rows * R * 3, NULL);
  sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++) {\n", (long long)rows);
  sm_buf_printf(b, "    const %s *restrict x = in0 + o*%lld;\n", T, (long long)R);
  sm_buf_puts(b, "    double s = 0, q = 0;\n    #pragma omp simd reduction(+:s)\n");
  sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) s += x[j];\n", (long long)R);
  sm_buf_printf(b, "    const double m = s / %lld.0;\n", (long long)R);
  sm_buf_puts(b, "    #pragma omp simd reduction(+:q)\n");
  sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) {\n", (long long)R);
  sm_buf_puts(b, "      const double c = x[j] - m;\n      q += c * c;\n    }\n");
  sm_buf_printf(b, "    out0[o] = (%s)m;\n", T);
  sm_buf_printf(b, "    out1[o] = (%s)(1.0 / sqrt(q / %lld.0 + ", T, (long long)R);
  emit_value(b, IR_F64, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, "));\n  }\n");
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

static int64_t nsg_count(const IrNode *n) {
  return ir_numel(&n->in[0]->type) / ir_numel(&n->in[1]->type);
}

static void nsg_expr(SmBuf *b, const IrNode *n, const char *const *a) {
  sm_buf_printf(b, "(%s - %s * %s * %s * %s * %s) * ", a[2], a[3], a[1], a[1], a[1], a[0]);
  emit_value(b, n->out[0]->type.dtype, 1.0 / (double)nsg_count(n));
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
      .infer = reduce_infer, .ref = reduce_ref, .emit = reduce_emit,          \
      .grad = grad_, .doc = doc_}
#define SOFTMAX(nm, doc_)                                                     \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 1, .max_in = 1, .nout = 1, .attrs = softmax_attrs, \
      .infer = softmax_infer, .ref = softmax_ref, .emit = softmax_emit,       \
      .grad = softmax_grad_rule, .doc = doc_}
#define SOFTMAX_GRAD(nm, doc_)                                                \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = 2, .max_in = 2, .nout = 1, .attrs = softmax_attrs, \
      .infer = smx_grad_infer, .ref = smx_grad_ref, .emit = smx_grad_emit, .doc = doc_}

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
    .infer = expand_infer, .ref = expand_ref, .emit = expand_emit, .grad = expand_grad,
    .caps = IR_CAP_NOOP,
    .doc = "broadcast x to shape (numpy broadcast_to, bidirectional as ONNX Expand)"};

static const IrOpDef op_reduce_max_grad = {
    .name = "reduce_max_grad", .min_in = 3, .max_in = 3, .nout = 1, .attrs = reduce_attrs,
    .infer = reduce_max_grad_infer, .ref = reduce_max_grad_ref, .emit = reduce_max_grad_emit,
    .doc = "dy routed to the maxima of x (ties share evenly): backward of reduce_max (x, y, dy)"};

static const IrOpDef op_norm_stats = {
    .name = "norm_stats", .min_in = 1, .max_in = 1, .nout = 2, .attrs = ns_attrs,
    .infer = ns_infer, .ref = ns_ref, .emit = ns_emit, .grad = ns_grad,
    .doc = "mean and 1/sqrt(biased var + epsilon) over dims [axis:], kept as 1 (x; axis=-1, "
           "epsilon=1e-5) -> mean, rstd"};
static const IrOpDef op_norm_stats_grad = {
    .name = "norm_stats_grad", .min_in = 4, .max_in = 4, .nout = 1, .attrs = softmax_attrs,
    .flags = IR_OPF_ELEMENTWISE, .infer = nsg_infer, .ref = ew_ref, .emit = ew_emit,
    .expr = nsg_expr, .scalar = nsg_scalar,
    .doc = "(dmean - drstd * rstd^3 * xc) / R, elementwise: backward of norm_stats "
           "(xc = x - mean, rstd, dmean, drstd; axis)"};

const IrOpDef *const ir_ops_reduce[] = {
    &op_reduce_sum,   &op_reduce_mean,   &op_reduce_max,  &op_softmax,
    &op_log_softmax,  &op_expand,        &op_reduce_max_grad, &op_softmax_grad,
    &op_log_softmax_grad, &op_norm_stats, &op_norm_stats_grad, NULL};
