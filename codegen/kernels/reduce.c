/* C kernels: reductions, softmax, expand, normalization statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/reduce.h"

static const char *ctype(const IrNode *n) {
  return ir_dtype_ctype(n->out[0]->type.dtype);
}

/* math function name for the node's dtype: expf for f32, exp for f64 */
static const char *mathfn(const IrNode *n, const char *base, char *buf, size_t sz) {
  return op_mathfn(n->out[0]->type.dtype, base, buf, sz);
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
    emit_sum_term(base, g->st[i], v);
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
    emit_sum_term(off, st[k], v);
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
    emit_sum_term(&io, ist[k], v);
    emit_sum_term(&oo, ost, v);
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

static void nsg_expr(SmBuf *b, const IrNode *n, const char *const *a) {
  sm_buf_printf(b, "(%s - %s * %s * %s * %s * %s) * ", a[2], a[3], a[1], a[1], a[1], a[0]);
  emit_value(b, n->out[0]->type.dtype, 1.0 / (double)nsg_count(n));
}

/* ---- the kernel generators of reduce ---- */

const CgOpKernel cgk_reduce = {.emit = reduce_emit};
const CgOpKernel cgk_softmax = {.emit = softmax_emit};
const CgOpKernel cgk_smx_grad = {.emit = smx_grad_emit};
const CgOpKernel cgk_expand = {.emit = expand_emit};
const CgOpKernel cgk_reduce_max_grad = {.emit = reduce_max_grad_emit};
const CgOpKernel cgk_norm_stats = {.emit = ns_emit};
const CgOpKernel cgk_norm_stats_grad = {.emit = ew_emit, .expr = nsg_expr};
