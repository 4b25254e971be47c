/* C kernels: losses and their gradients. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/loss.h"

/* A double literal in generated code. */
static void lit(SmBuf *b, double v) { emit_value(b, IR_F64, v); }

/* Emits `const int64_t y = ...;` and the skip test for row i. */
static void emit_label(SmBuf *b, const IrNode *n, const char *skip) {
  int64_t C = n->in[0]->type.dims[1], ign = ir_attr_int(n, "ignore_index", -100);
  sm_buf_puts(b, "    const int64_t y = (int64_t)in1[i];\n    if (");
  if (ign >= 0 && ign < C) sm_buf_printf(b, "y == %lld || ", (long long)ign);
  sm_buf_printf(b, "y < 0 || y >= %lld) {\n%s      continue;\n    }\n", (long long)C, skip);
}

/* Emits lse (cross_entropy) for row x of C values. */
static void emit_lse(SmBuf *b, int64_t C) {
  sm_buf_puts(b, "    double m = x[0];\n");
  sm_buf_printf(b, "    for (int64_t c = 1; c < %lld; c++) m = x[c] > m ? x[c] : m;\n", (long long)C);
  sm_buf_puts(b, "    double s = 0;\n");
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) s += exp(x[c] - m);\n", (long long)C);
  sm_buf_puts(b, "    const double lse = m + log(s);\n");
}

static void cls_emit(SmBuf *b, const IrNode *n) {
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  double eps = ir_attr_float(n, "label_smoothing", 0.0);
  bool ce = is_ce(n), w = cls_has_weight(n);
  Reduction r = reduction(n);
  const char *T = ir_dtype_ctype(n->out[0]->type.dtype);
  sm_buf_printf(b, "  /* %s: %lld samples, %lld classes */\n", n->op->name, (long long)N,
                (long long)C);
  if (r == RD_SUM) sm_buf_puts(b, "  double total = 0;\n");
  if (r == RD_MEAN) sm_buf_puts(b, "  double total = 0, wsum = 0;\n");
  emit_omp_for(b, N * C * 8,
               r == RD_SUM ? "reduction(+:total)" : r == RD_MEAN ? "reduction(+:total, wsum)" : NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)N);
  emit_label(b, n, r == RD_NONE ? "      out0[i] = 0;\n" : "");
  sm_buf_printf(b, "    const %s *x = in0 + i*%lld;\n", ir_dtype_ctype(n->in[0]->type.dtype),
                (long long)C);
  if (ce) emit_lse(b, C);
  const char *lse = ce ? "lse" : "0.0";
  sm_buf_printf(b, "    const double wy = %s;\n", w ? "in2[y]" : "1.0");
  sm_buf_puts(b, "    double l = ");
  if (eps != 0) {
    lit(b, 1 - eps);
    sm_buf_puts(b, " * ");
  }
  sm_buf_printf(b, "wy * (%s - x[y]);\n", lse);
  if (eps != 0) {
    sm_buf_puts(b, "    double sm = 0;\n");
    sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) sm += %s(%s - x[c]);\n",
                  (long long)C, w ? "in2[c] * " : "", lse);
    sm_buf_puts(b, "    l += ");
    lit(b, eps / (double)C);
    sm_buf_puts(b, " * sm;\n");
  }
  if (r == RD_NONE) {
    sm_buf_printf(b, "    out0[i] = (%s)l;\n  }\n", T);
    return;
  }
  sm_buf_printf(b, "    total += l;\n%s  }\n", r == RD_MEAN ? "    wsum += wy;\n" : "");
  sm_buf_printf(b, "  out0[0] = (%s)(%s);\n", T, r == RD_SUM ? "total" : "total / wsum");
}

static void cls_grad_emit(SmBuf *b, const IrNode *n) {
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  double eps = ir_attr_float(n, "label_smoothing", 0.0);
  bool ce = is_ce(n), w = cls_has_weight(n);
  Reduction r = reduction(n);
  int dl = n->nin - 1;
  const char *T = ir_dtype_ctype(n->out[0]->type.dtype);
  sm_buf_printf(b, "  /* %s: %lld samples, %lld classes */\n", n->op->name, (long long)N,
                (long long)C);
  if (r == RD_MEAN) {
    sm_buf_puts(b, "  double wsum = 0;\n");
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)N);
    emit_label(b, n, "");
    sm_buf_printf(b, "    wsum += %s;\n  }\n", w ? "in2[y]" : "1.0");
    sm_buf_printf(b, "  const double gs = in%d[0] / wsum;\n", dl);
  } else if (r == RD_SUM) {
    sm_buf_printf(b, "  const double gs = in%d[0];\n", dl);
  }
  if (eps != 0 && w) {
    sm_buf_puts(b, "  double wall = 0;\n");
    sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) wall += in2[c];\n", (long long)C);
  }
  emit_omp_for(b, N * C * 8, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)N);
  sm_buf_printf(b, "    %s *dx = out0 + i*%lld;\n", T, (long long)C);
  char skip[96];
  snprintf(skip, sizeof skip, "      for (int64_t c = 0; c < %lld; c++) dx[c] = 0;\n", (long long)C);
  emit_label(b, n, skip);
  if (ce)
    sm_buf_printf(b, "    const %s *x = in0 + i*%lld;\n", ir_dtype_ctype(n->in[0]->type.dtype),
                  (long long)C);
  if (r == RD_NONE) sm_buf_printf(b, "    const double gi = in%d[i];\n", dl);
  else sm_buf_puts(b, "    const double gi = gs;\n");
  sm_buf_printf(b, "    const double wy = %s;\n", w ? "in2[y]" : "1.0");
  if (ce) emit_lse(b, C);
  /* v = a*p_c - eps/C*w_c - [c=y]*(1-eps)*wy, a = (1-eps)*wy + eps/C*sum w */
  if (ce) {
    sm_buf_puts(b, "    const double a = ");
    lit(b, 1 - eps);
    sm_buf_puts(b, " * wy");
    if (eps != 0) {
      sm_buf_puts(b, " + ");
      lit(b, eps / (double)C);
      if (w) sm_buf_puts(b, " * wall");
      else sm_buf_printf(b, " * %lld.0", (long long)C);
    }
    sm_buf_puts(b, ";\n");
  }
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "      double v = %s", ce ? "a * exp(x[c] - lse)" : "0.0");
  if (eps != 0) {
    sm_buf_puts(b, " - ");
    lit(b, eps / (double)C);
    if (w) sm_buf_puts(b, " * in2[c]");
  }
  sm_buf_puts(b, ";\n      if (c == y) v -= ");
  if (eps != 0) {
    lit(b, 1 - eps);
    sm_buf_puts(b, " * ");
  }
  sm_buf_printf(b, "wy;\n      dx[c] = (%s)(gi * v);\n    }\n  }\n", T);
  if (!ce) sm_buf_puts(b, "  (void)in0;\n");
}

/* Declares p, t (as used by expression `what`) and m at index j. */
static void el_locals(SmBuf *b, const IrNode *n, int what, const char *ind) {
  const ElDef *e = el_def(n);
  if (e->uses[what] & 1) sm_buf_printf(b, "%sconst double p = in0[j];\n", ind);
  if (e->uses[what] & 2) sm_buf_printf(b, "%sconst double t = in1[j];\n", ind);
  if (e->kind == EL_HINGE) {
    sm_buf_printf(b, "%sconst double m = ", ind);
    lit(b, ir_attr_float(n, "margin", 1.0));
    sm_buf_puts(b, ";\n");
  }
}

static void el_emit(SmBuf *b, const IrNode *n) {
  const ElDef *e = el_def(n);
  Reduction r = reduction(n);
  const char *T = ir_dtype_ctype(n->out[0]->type.dtype);
  int64_t N, K;
  el_geo(n, &N, &K);
  sm_buf_printf(b, "  /* %s: %lld samples of %lld elements */\n", e->name, (long long)N,
                (long long)K);
  if (r != RD_NONE) sm_buf_puts(b, "  double total = 0;\n");
  emit_omp_for(b, N * K, r != RD_NONE ? "reduction(+:total)" : NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)N);
  sm_buf_puts(b, "    double s = 0;\n");
  sm_buf_printf(b, "    for (int64_t j = i*%lld; j < (i + 1)*%lld; j++) {\n", (long long)K,
                (long long)K);
  el_locals(b, n, 0, "      ");
  sm_buf_printf(b, "      s += %s;\n    }\n", e->c[0]);
  if (r == RD_NONE) {
    sm_buf_printf(b, "    out0[i] = (%s)(s / %lld.0);\n  }\n", T, (long long)K);
    return;
  }
  sm_buf_puts(b, "    total += s;\n  }\n");
  if (r == RD_SUM) sm_buf_printf(b, "  out0[0] = (%s)total;\n", T);
  else sm_buf_printf(b, "  out0[0] = (%s)(total / %lld.0);\n", T, (long long)(N * K));
}

static void el_grad_emit(SmBuf *b, const IrNode *n) {
  const ElDef *e = el_def(n);
  Reduction r = reduction(n);
  int what = 1 + (int)ir_attr_int(n, "wrt", 0);
  const char *T = ir_dtype_ctype(n->out[0]->type.dtype);
  int64_t N, K;
  el_geo(n, &N, &K);
  sm_buf_printf(b, "  /* %s: %lld samples of %lld elements, d/d %s */\n", n->op->name,
                (long long)N, (long long)K, what == 1 ? "prediction" : "target");
  if (!(e->uses[what] & 1)) sm_buf_puts(b, "  (void)in0;\n");
  if (!(e->uses[what] & 2)) sm_buf_puts(b, "  (void)in1;\n");
  if (r == RD_NONE) {
    emit_omp_for(b, N * K, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)N);
    sm_buf_printf(b, "    const double g = in2[i] / %lld.0;\n", (long long)K);
    sm_buf_printf(b, "    for (int64_t j = i*%lld; j < (i + 1)*%lld; j++) {\n", (long long)K,
                  (long long)K);
    el_locals(b, n, what, "      ");
    sm_buf_printf(b, "      out0[j] = (%s)(g * (%s));\n    }\n  }\n", T, e->c[what]);
    return;
  }
  if (r == RD_SUM) sm_buf_puts(b, "  const double g = in2[0];\n");
  else sm_buf_printf(b, "  const double g = in2[0] / %lld.0;\n", (long long)(N * K));
  emit_omp_for(b, N * K, NULL);
  sm_buf_printf(b, "  for (int64_t j = 0; j < %lld; j++) {\n", (long long)(N * K));
  el_locals(b, n, what, "    ");
  sm_buf_printf(b, "    out0[j] = (%s)(g * (%s));\n  }\n", T, e->c[what]);
}

/* ---- the kernel generators of loss ---- */

const CgOpKernel cgk_cls = {.emit = cls_emit};
const CgOpKernel cgk_cls_grad = {.emit = cls_grad_emit};
const CgOpKernel cgk_el = {.emit = el_emit};
const CgOpKernel cgk_el_grad = {.emit = el_grad_emit};
