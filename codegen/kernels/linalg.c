/* C kernels: matmul and gemm (on the blocked GEMM engine, gemm.c, when big enough). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"
#include "ir/ops/linalg.h"

/* ---- emission helpers (local) ---- */

/* C literal of the node's dtype: "0.5f" for f32, "0.5" for f64. */
static void lit(SmBuf *b, const IrNode *n, double v) { emit_value(b, n->out[0]->type.dtype, v); }

static const char *ctype(const IrNode *n) {
  return ir_dtype_ctype(n->out[0]->type.dtype);
}

/* Offset expression (in elements) of the batch matrix of operand type bt
 * (matrices of `mat` elements) for flat output batch index `t`. */
static void batch_offset(SmBuf *e, const IrType *bt, const IrType *obt,
                         int64_t mat) {
  int64_t nb = ir_numel(obt), na = ir_numel(bt);
  if (na == 1) return;
  if (na == nb) { /* same layout as the output batch */
    emit_sum_term(e, mat, "t");
    return;
  }
  int64_t ost[IR_MAX_RANK], st[IR_MAX_RANK];
  ir_strides(obt, ost);
  ir_strides(bt, st);
  for (int d = 0; d < obt->rank; d++) {
    int bd = d - (obt->rank - bt->rank);
    if (bd < 0 || bt->dims[bd] == 1) continue;
    char v[96];
    if (d == 0) snprintf(v, sizeof v, "(t / %lld)", (long long)ost[d]);
    else if (ost[d] == 1) snprintf(v, sizeof v, "(t %% %lld)", (long long)obt->dims[d]);
    else
      snprintf(v, sizeof v, "(t / %lld %% %lld)", (long long)ost[d],
               (long long)obt->dims[d]);
    emit_sum_term(e, st[bd] * mat, v);
  }
}

/* The blocked form (f32, big enough), with an optional epilogue; false
 * (nothing emitted) otherwise. */
static bool matmul_core(const IrNode *n, const OpEpilogue *epi, MatGeo *gp, GemmCore *c) {
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  int64_t nb = ir_numel(&g.obt);
  *gp = g;
  *c = (GemmCore){.M = g.M, .N = g.N, .K = g.K, .nbatch = nb, .as_i = g.K, .as_k = 1,
                  .bs_k = g.N, .bs_j = 1, .ldc = g.N, .alpha = 1, .beta = 0, .epi = epi};
  return true;
}

static bool matmul_blocked(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  MatGeo g;
  GemmCore c;
  if (!matmul_core(n, epi, &g, &c)) return false;
  int64_t nb = c.nbatch;
  SmBuf ao = {0}, bo = {0}, co = {0};
  sm_buf_puts(&ao, "in0");
  sm_buf_puts(&bo, "in1");
  sm_buf_puts(&co, "out0");
  SmBuf e = {0};
  batch_offset(&e, &g.abt, &g.obt, g.M * g.K);
  if (e.len) sm_buf_printf(&ao, " + %s", e.s);
  sm_buf_free(&e);
  batch_offset(&e, &g.bbt, &g.obt, g.K * g.N);
  if (e.len) sm_buf_printf(&bo, " + %s", e.s);
  sm_buf_free(&e);
  SmBuf coff = {0};
  sm_buf_printf(&coff, "t * %lld", (long long)(g.M * g.N));
  if (nb > 1) sm_buf_printf(&co, " + %s", coff.s);
  sm_buf_printf(b, "  /* matmul: batch %lld, [%lld,%lld] x [%lld,%lld], blocked */\n",
                (long long)nb, (long long)g.M, (long long)g.K, (long long)g.K, (long long)g.N);
  c.a = sm_buf_str(&ao);
  c.b = sm_buf_str(&bo);
  c.c = sm_buf_str(&co);
  c.c_off = nb > 1 ? sm_buf_str(&coff) : "0";
  gemm_core_write(b, &c);
  sm_buf_free(&ao);
  sm_buf_free(&bo);
  sm_buf_free(&co);
  sm_buf_free(&coff);
  return true;
}

/*   for t (batch), i:  y[i,:] = sum_k a[i,k] * b[k,:]      (N > 1)
 *                      y[i]   = sum_k a[i,k] * b[k]        (N == 1) */
static void matmul_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  if (matmul_blocked(b, n, NULL)) return;
  const char *T = ctype(n);
  long long M = g.M, K = g.K, N = g.N;
  int64_t nb = ir_numel(&g.obt);
  SmBuf ao = {0}, bo = {0};
  batch_offset(&ao, &g.abt, &g.obt, g.M * g.K);
  batch_offset(&bo, &g.bbt, &g.obt, g.K * g.N);
  emit_sum_term(&ao, g.K, "i");
  sm_buf_printf(b, "  /* matmul: batch %lld, [%lld,%lld] x [%lld,%lld] */\n",
                (long long)nb, M, K, K, N);
  int64_t work = nb * g.M * g.K * g.N;
  const char *ind = "    ";
  if (nb > 1) {
    emit_omp_for(b, work, "collapse(2)");
    sm_buf_printf(b, "  for (int64_t t = 0; t < %lld; t++)\n", (long long)nb);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  } else {
    emit_omp_for(b, work, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  }
  sm_buf_printf(b, "%sconst %s *restrict a = in0%s%s;\n", ind, T,
                ao.len ? " + " : "", sm_buf_str(&ao));
  sm_buf_printf(b, "%sconst %s *restrict bm = in1%s%s;\n", ind, T,
                bo.len ? " + " : "", sm_buf_str(&bo));
  SmBuf yo = {0};
  if (nb > 1) emit_sum_term(&yo, g.M * g.N, "t");
  emit_sum_term(&yo, g.N, "i");
  if (N == 1) {
    sm_buf_printf(b, "%s%s acc = 0;\n", ind, T);
    sm_buf_printf(b, "%sfor (int64_t k = 0; k < %lld; k++) acc += a[k] * bm[k];\n",
                  ind, K);
    sm_buf_printf(b, "%sout0[%s] = acc;\n", ind, yo.len ? yo.s : "0");
  } else {
    sm_buf_printf(b, "%s%s *restrict y = out0%s%s;\n", ind, T, yo.len ? " + " : "",
                  sm_buf_str(&yo));
    sm_buf_printf(b, "%sfor (int64_t j = 0; j < %lld; j++) y[j] = 0;\n", ind, N);
    sm_buf_printf(b, "%sfor (int64_t k = 0; k < %lld; k++) {\n", ind, K);
    sm_buf_printf(b, "%s  const %s av = a[k];\n", ind, T);
    sm_buf_printf(b, "%s  const %s *restrict br = bm + k*%lld;\n", ind, T, N);
    sm_buf_printf(b, "%s  for (int64_t j = 0; j < %lld; j++) y[j] += av * br[j];\n",
                  ind, N);
    sm_buf_printf(b, "%s}\n", ind);
  }
  sm_buf_puts(b, "  }\n");
  sm_buf_free(&ao);
  sm_buf_free(&bo);
  sm_buf_free(&yo);
}

/* alpha*ACC + beta*C(i,j), leaving out factors of 1 and a zero bias */
static void gemm_epilogue(SmBuf *b, const IrNode *n, const GemmGeo *g,
                          const char *acc) {
  if (g->alpha != 1) {
    lit(b, n, g->alpha);
    sm_buf_puts(b, " * ");
  }
  sm_buf_puts(b, acc);
  if (n->nin < 3 || g->beta == 0) return;
  const IrType *c = &n->in[2]->type;
  int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  int64_t cm = c->rank == 2 ? c->dims[0] : 1;
  SmBuf e = {0};
  emit_sum_term(&e, cm == 1 ? 0 : cn, "i");
  emit_sum_term(&e, cn == 1 ? 0 : 1, "j");
  sm_buf_puts(b, " + ");
  if (g->beta != 1) {
    lit(b, n, g->beta);
    sm_buf_puts(b, " * ");
  }
  sm_buf_printf(b, "in2[%s]", e.len ? e.s : "0");
  sm_buf_free(&e);
}

/* The blocked form (f32, big enough), with an optional epilogue; false
 * (nothing emitted) otherwise. */
static bool gemm_core_of(const IrNode *n, const OpEpilogue *e, GemmCore *cp) {
  GemmGeo g = gemm_geo(n);
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  GemmCore c = {.M = g.M, .N = g.N, .K = g.K, .nbatch = 1, .a = "in0", .b = "in1",
                .c = "out0", .as_i = g.ta ? 1 : g.K, .as_k = g.ta ? g.M : 1,
                .bs_k = g.tb ? 1 : g.N, .bs_j = g.tb ? g.K : 1, .ldc = g.N,
                .alpha = g.alpha, .beta = g.beta, .epi = e, .c_off = "0"};
  if (n->nin == 3 && g.beta != 0) {
    const IrType *ct = &n->in[2]->type;
    int64_t cn = ct->rank >= 1 ? ct->dims[ct->rank - 1] : 1;
    int64_t cm = ct->rank == 2 ? ct->dims[0] : 1;
    c.bias = "in2";
    c.bias_sj = cn > 1 ? 1 : 0;
    c.bias_si = cm > 1 ? cn : 0;
  }
  *cp = c;
  return true;
}

static bool gemm_blocked(SmBuf *b, const IrNode *n, const OpEpilogue *e) {
  GemmCore c;
  if (!gemm_core_of(n, e, &c)) return false;
  gemm_core_write(b, &c);
  return true;
}

/* The plans of matmul and gemm, alone or with an epilogue. */
static void matmul_plan(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p) {
  MatGeo g;
  GemmCore c;
  if (matmul_core(n, e, &g, &c)) gemm_plan_kernel(p, &c, "GEMM");
}

static void gemm_plan(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p) {
  GemmCore c;
  if (gemm_core_of(n, e, &c)) gemm_plan_kernel(p, &c, "GEMM");
}

/* transB=0:  for i, k: y[i,:] += a(i,k) * b[k,:]      (then the epilogue)
 * transB=1:  for i, j: y[i,j] = dot(a(i,:), b[j,:])   */
static void gemm_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  GemmGeo g = gemm_geo(n);
  const char *T = ctype(n);
  long long M = g.M, K = g.K, N = g.N;
  if (n->nin == 3 && g.beta == 0) sm_buf_puts(b, "  (void)in2; /* beta = 0 */\n");
  sm_buf_printf(b, "  /* gemm: [%lld,%lld]%s x [%lld,%lld]%s */\n", M, K,
                g.ta ? " (a transposed)" : "", K, N, g.tb ? " (b transposed)" : "");
  if (gemm_blocked(b, n, NULL)) return;
  if (g.M > 1) emit_omp_for(b, g.M * g.K * g.N, NULL); /* rows are the only parallel loop */
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  char aik[64];
  if (g.ta) snprintf(aik, sizeof aik, "in0[k*%lld + i]", M);
  else snprintf(aik, sizeof aik, "a[k]");
  if (!g.ta) sm_buf_printf(b, "    const %s *restrict a = in0 + i*%lld;\n", T, K);
  if (!g.tb) {
    sm_buf_printf(b, "    %s *restrict y = out0 + i*%lld;\n", T, N);
    sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) y[j] = 0;\n", N);
    sm_buf_printf(b, "    for (int64_t k = 0; k < %lld; k++) {\n", K);
    sm_buf_printf(b, "      const %s av = %s;\n", T, aik);
    sm_buf_printf(b, "      const %s *restrict br = in1 + k*%lld;\n", T, N);
    sm_buf_printf(b, "      for (int64_t j = 0; j < %lld; j++) y[j] += av * br[j];\n", N);
    sm_buf_puts(b, "    }\n");
    if (g.alpha != 1 || (n->nin == 3 && g.beta != 0)) {
      sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) y[j] = ", N);
      gemm_epilogue(b, n, &g, "y[j]");
      sm_buf_puts(b, ";\n");
    }
  } else {
    sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) {\n", N);
    sm_buf_printf(b, "      const %s *restrict br = in1 + j*%lld;\n", T, K);
    sm_buf_printf(b, "      %s acc = 0;\n", T);
    sm_buf_printf(b, "      for (int64_t k = 0; k < %lld; k++) acc += %s * br[k];\n", K, aik);
    sm_buf_printf(b, "      out0[i*%lld + j] = ", N);
    gemm_epilogue(b, n, &g, "acc");
    sm_buf_puts(b, ";\n    }\n");
  }
  sm_buf_puts(b, "  }\n");
}

static bool matmul_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  return matmul_blocked(b, n, e);
}

static bool gemm_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  GemmGeo g = gemm_geo(n);
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  if (n->nin == 3 && g.beta == 0) sm_buf_puts(b, "  (void)in2; /* beta = 0 */\n");
  sm_buf_printf(b, "  /* gemm: [%lld,%lld]%s x [%lld,%lld]%s, fused epilogue */\n", (long long)g.M,
                (long long)g.K, g.ta ? " (a transposed)" : "", (long long)g.K, (long long)g.N,
                g.tb ? " (b transposed)" : "");
  return gemm_blocked(b, n, e);
}

static bool matmul_in_registers(const IrNode *n) {
  if (ir_numel(&n->out[0]->type) == 0 || n->out[0]->type.dtype != IR_F32) return false;
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  return gemm_core_fits(g.M, g.N, g.K) && gemm_core_one_k_block(g.K);
}

static bool gemm_in_registers(const IrNode *n) {
  if (ir_numel(&n->out[0]->type) == 0 || n->out[0]->type.dtype != IR_F32) return false;
  GemmGeo g = gemm_geo(n);
  return gemm_core_fits(g.M, g.N, g.K) && gemm_core_one_k_block(g.K);
}

static double matmul_flops(const IrNode *n) {
  const IrType *a = &n->in[0]->type;
  return 2 * (double)ir_type_numel(&n->out[0]->type) * (double)a->dims[a->rank - 1];
}

static double gemm_flops(const IrNode *n) {
  const IrType *a = &n->in[0]->type;
  return 2 * (double)ir_type_numel(&n->out[0]->type) *
         (double)a->dims[ir_attr_int(n, "transA", 0) ? 0 : 1];
}

/* ---- the kernel generators of linalg ---- */

const CgOpKernel cgk_matmul = {.emit = matmul_emit, .plan = matmul_plan, .epilogue = true,
                                .emit_fused = matmul_emit_fused,
                                .in_registers = matmul_in_registers, .flops = matmul_flops};
const CgOpKernel cgk_gemm = {.emit = gemm_emit, .plan = gemm_plan, .epilogue = true,
                              .emit_fused = gemm_emit_fused, .in_registers = gemm_in_registers,
                              .flops = gemm_flops};
