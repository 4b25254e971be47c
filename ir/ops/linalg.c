/* Linear algebra ops: matmul (numpy semantics: 1-D operands promoted, batch
 * dims broadcast) and gemm (ONNX Gemm: Y = alpha*op(A)*op(B) + beta*C), with
 * their gradient rules (built from gemm, matmul, transpose and reshape).
 *
 * Reference kernels are naive loops in double. f32 products big enough
 * take the blocked GEMM engine (codegen/kernels/gemm.h), which also
 * applies fused elementwise epilogues; the rest use plain loops: i-k-j with the
 * contiguous index j innermost, or i-j-k dot products for transB=1. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "linalg.h"

static IrType batch_of(const IrType *t) {
  IrType r = {.dtype = t->dtype, .rank = t->rank > 2 ? t->rank - 2 : 0};
  for (int i = 0; i < r.rank; i++) r.dims[i] = t->dims[i];
  return r;
}

bool mm_geo(const IrNode *n, MatGeo *g) {
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  g->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
  g->K = a->dims[a->rank - 1];
  g->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
  g->abt = batch_of(a);
  g->bbt = batch_of(b);
  return ir_broadcast(&g->abt, &g->bbt, &g->obt);
}

static bool matmul_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  char sa[IR_TYPE_STRLEN], sb[IR_TYPE_STRLEN];
  if (!op_want_float(n, 0, d) || !op_same_dtype(n, d)) return false;
  if (a->rank == 0 || b->rank == 0)
    return op_err(n, d, "operands must be at least 1-D: a is %s, b is %s",
                  OP_TSTR(a, sa), OP_TSTR(b, sb));
  int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (a->dims[a->rank - 1] != kb)
    return op_err(n, d, "inner dimensions differ: a is %s (K=%lld), b is %s (K=%lld)",
                  OP_TSTR(a, sa), (long long)a->dims[a->rank - 1], OP_TSTR(b, sb),
                  (long long)kb);
  MatGeo g;
  if (!mm_geo(n, &g))
    return op_err(n, d, "batch dimensions do not broadcast: a is %s, b is %s",
                  OP_TSTR(a, sa), OP_TSTR(b, sb));
  IrType t = g.obt;
  if (a->rank > 1) t.dims[t.rank++] = g.M;
  if (b->rank > 1) t.dims[t.rank++] = g.N;
  out[0] = t;
  return true;
}

static void matmul_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  int64_t M = g.M, K = g.K, N = g.N, nb = ir_numel(&g.obt);
  int64_t idx[IR_MAX_RANK];
  for (int64_t t = 0; t < nb; t++) {
    ref_unravel(&g.obt, t, idx);
    const double *A = in[0].d + ref_bcast_offset(&g.abt, idx, g.obt.rank) * M * K;
    const double *B = in[1].d + ref_bcast_offset(&g.bbt, idx, g.obt.rank) * K * N;
    double *Y = out[0].d + t * M * N;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
        Y[i * N + j] = s;
      }
  }
}


GemmGeo gemm_geo(const IrNode *n) {
  GemmGeo g;
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  g.ta = ir_attr_int(n, "transA", 0) != 0;
  g.tb = ir_attr_int(n, "transB", 0) != 0;
  g.M = a->dims[g.ta ? 1 : 0];
  g.K = a->dims[g.ta ? 0 : 1];
  g.N = b->dims[g.tb ? 0 : 1];
  g.alpha = ir_attr_float(n, "alpha", 1.0);
  g.beta = ir_attr_float(n, "beta", 1.0);
  return g;
}

static bool gemm_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_rank(n, 0, 2, d) || !op_want_rank(n, 1, 2, d) ||
      !op_want_float(n, 0, d) || !op_same_dtype(n, d))
    return false;
  const char *tn[2] = {"transA", "transB"};
  for (int i = 0; i < 2; i++) {
    int64_t v = ir_attr_int(n, tn[i], 0);
    if (v != 0 && v != 1) return op_err(n, d, "%s must be 0 or 1, got %lld", tn[i], (long long)v);
  }
  GemmGeo g = gemm_geo(n);
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  int64_t kb = b->dims[g.tb ? 1 : 0];
  char sa[IR_TYPE_STRLEN], sb[IR_TYPE_STRLEN];
  if (g.K != kb)
    return op_err(n, d, "inner dimensions differ: a is %s (%sK=%lld), b is %s (%sK=%lld)",
                  OP_TSTR(a, sa), g.ta ? "transA=1, " : "", (long long)g.K,
                  OP_TSTR(b, sb), g.tb ? "transB=1, " : "", (long long)kb);
  if (n->nin == 3) {
    const IrType *c = &n->in[2]->type;
    int64_t mn[2] = {g.M, g.N};
    bool ok = c->rank <= 2;
    for (int i = 0; ok && i < c->rank; i++) {
      int64_t want = mn[2 - c->rank + i];
      ok = c->dims[i] == want || c->dims[i] == 1;
    }
    if (!ok)
      return op_err(n, d, "c is %s, which does not broadcast to [M,N] = [%lld,%lld]",
                    OP_TSTR(c, sa), (long long)g.M, (long long)g.N);
  }
  out[0] = ir_type_make(a->dtype, 2, (int64_t[]){g.M, g.N});
  return true;
}

static void gemm_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  GemmGeo g = gemm_geo(n);
  int64_t M = g.M, K = g.K, N = g.N;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = g.ta ? in[0].d[k * M + i] : in[0].d[i * K + k];
        double b = g.tb ? in[1].d[j * K + k] : in[1].d[k * N + j];
        s += a * b;
      }
      double y = g.alpha * s;
      if (n->nin == 3) {
        int64_t idx[2] = {i, j};
        y += g.beta * in[2].d[ref_bcast_offset(&in[2].type, idx, 2)];
      }
      out[0].d[i * N + j] = y;
    }
}

/* ======================================================================
 * gradients
 * ====================================================================== */

/* gemm(a, b) with the given flags; alpha only when it is not 1 */
static IrValue *grad_gemm(IrGradCtx *cx, IrValue *a, IrValue *b, bool ta, bool tb,
                          double alpha) {
  IrValue *in[2] = {a, b};
  IrNode *m = ir_grad_node(cx, "gemm", in, 2, 1);
  if (ta) ir_set_int(cx->g, m, "transA", 1);
  if (tb) ir_set_int(cx->g, m, "transB", 1);
  if (alpha != 1) ir_set_float(cx->g, m, "alpha", alpha);
  return ir_grad_finish(cx, m);
}

/* With opA = transA ? A^T : A (same for B) and Y = alpha*opA*opB + beta*C:
 *   d opA = alpha * dY opB^T,  d opB = alpha * opA^T dY,  dC = beta * dY
 * summed over C's broadcast dims. A transposed operand takes the transpose
 * of its gradient, so each case is one gemm with the flags chosen below. */
static bool gemm_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                      IrValue **din) {
  IrValue *dy = dout[0];
  if (!dy) return true;
  GemmGeo g = gemm_geo(n);
  IrValue *a = n->in[0], *b = n->in[1];
  if (ir_grad_needed(cx, n, 0))
    din[0] = g.ta ? grad_gemm(cx, b, dy, g.tb, true, g.alpha)   /* alpha opB dY^T */
                  : grad_gemm(cx, dy, b, false, !g.tb, g.alpha); /* alpha dY opB^T */
  if (ir_grad_needed(cx, n, 1))
    din[1] = g.tb ? grad_gemm(cx, dy, a, true, g.ta, g.alpha)   /* alpha dY^T opA */
                  : grad_gemm(cx, a, dy, !g.ta, false, g.alpha); /* alpha opA^T dY */
  if (n->nin == 3 && ir_grad_needed(cx, n, 2) && g.beta != 0) {
    IrValue *dc = ir_grad_unbroadcast(cx, dy, &n->in[2]->type);
    if (g.beta != 1) {
      IrType st = {.dtype = dy->type.dtype, .rank = 0};
      IrValue *in[2] = {dc, ir_grad_fill(cx, &st, g.beta)};
      dc = ir_grad_op(cx, "mul", in, 2);
    }
    din[2] = dc;
  }
  return true;
}

static IrValue *grad_reshape(IrGradCtx *cx, IrValue *v, int rank, const int64_t *dims) {
  IrNode *r = ir_grad_node(cx, "reshape", &v, 1, 1);
  ir_set_ints(cx->g, r, "shape", dims, rank);
  return ir_grad_finish(cx, r);
}

/* swap the last two dims */
static IrValue *grad_transpose(IrGradCtx *cx, IrValue *v) {
  int r = v->type.rank;
  int64_t perm[IR_MAX_RANK];
  for (int i = 0; i < r; i++) perm[i] = i;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  IrNode *t = ir_grad_node(cx, "transpose", &v, 1, 1);
  ir_set_ints(cx->g, t, "perm", perm, r);
  return ir_grad_finish(cx, t);
}

/* Empty operands or result of a product: the operands' gradients are zero
 * (sums over nothing, or empty). Checked first because reshape cannot
 * always express zero-size dims. */
static bool matmul_grad_empty(IrGradCtx *cx, const IrNode *n, const IrValue *dy, IrValue **din) {
  bool empty = ir_numel(&dy->type) == 0;
  for (int i = 0; i < n->nin; i++) empty |= ir_numel(&n->in[i]->type) == 0;
  if (!empty) return false;
  for (int i = 0; i < n->nin; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = ir_grad_fill(cx, &n->in[i]->type, 0);
  return true;
}

/* A 1-D a is the row [1,K] and a 1-D b the column [K,1]; with dY viewed as
 * batch x [M,N]:  dA = dY B^T,  dB = A^T dY,  each summed over the batch
 * dims its operand was broadcast along, then reshaped back to 1-D. The
 * transpose of a 1-D operand is a reshape. */
static bool matmul_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                        IrValue **din) {
  IrValue *dy = dout[0];
  if (!dy || matmul_grad_empty(cx, n, dy, din)) return true;
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  IrValue *a = n->in[0], *b = n->in[1];
  bool a1 = a->type.rank == 1, b1 = b->type.rank == 1;
  if (a1 || b1) { /* dY as batch x [M,N] */
    IrType t = g.obt;
    t.dims[t.rank++] = g.M;
    t.dims[t.rank++] = g.N;
    dy = grad_reshape(cx, dy, t.rank, t.dims);
  }
  if (ir_grad_needed(cx, n, 0)) {
    IrValue *bt = b1 ? grad_reshape(cx, b, 2, (int64_t[]){1, g.K}) : grad_transpose(cx, b);
    IrValue *in[2] = {dy, bt};
    IrValue *da = ir_grad_op(cx, "matmul", in, 2); /* obt x [M,K] */
    IrType at = a->type;
    if (a1) at = ir_type_make(at.dtype, 2, (int64_t[]){1, g.K});
    da = ir_grad_unbroadcast(cx, da, &at);
    if (a1) da = grad_reshape(cx, da, 1, a->type.dims);
    din[0] = da;
  }
  if (ir_grad_needed(cx, n, 1)) {
    IrValue *at = a1 ? grad_reshape(cx, a, 2, (int64_t[]){g.K, 1}) : grad_transpose(cx, a);
    IrValue *in[2] = {at, dy};
    IrValue *db = ir_grad_op(cx, "matmul", in, 2); /* obt x [K,N] */
    IrType bt = b->type;
    if (b1) bt = ir_type_make(bt.dtype, 2, (int64_t[]){g.K, 1});
    db = ir_grad_unbroadcast(cx, db, &bt);
    if (b1) db = grad_reshape(cx, db, 1, b->type.dims);
    din[1] = db;
  }
  return true;
}

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};
static const IrAttrSpec gemm_attrs[] = {
    {"transA", IR_ATTR_INT, false}, {"transB", IR_ATTR_INT, false},
    {"alpha", IR_ATTR_FLOAT, false}, {"beta", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const IrOpDef op_matmul = {
    .name = "matmul", .min_in = 2, .max_in = 2, .nout = 1, .attrs = no_attrs,
    .infer = matmul_infer, .ref = matmul_ref, .c = &cgk_matmul, .grad = matmul_grad,
    .doc = "matrix product, numpy semantics (1-D promotion, batch broadcasting)"};

static const IrOpDef op_gemm = {
    .name = "gemm", .min_in = 2, .max_in = 3, .nout = 1, .attrs = gemm_attrs,
    .infer = gemm_infer, .ref = gemm_ref, .c = &cgk_gemm, .grad = gemm_grad,
    .bn_fold = IR_BN_FOLD_GEMM,
    .doc = "alpha*op(a)*op(b) + beta*c (transA, transB, alpha=1, beta=1)"};

const IrOpDef *const ir_ops_linalg[] = {&op_matmul, &op_gemm, NULL};
