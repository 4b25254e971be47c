/* Batchnorm folding (inference only): y = conv(x, W, b); z = batchnorm(y,
 * scale, bias, mean, var) becomes z = conv(x, W', b') with, per output
 * channel m and s[m] = scale[m] / sqrt(var[m] + epsilon),
 *   W'[m,...] = s[m] * W[m,...],   b'[m] = s[m] * (b[m] - mean[m]) + bias[m]
 * for conv2d and conv1d (b absent: 0), and the same per output column for
 * gemm(a, W, c, transB=1) with c of shape [M] or [1,M] or absent (b' then
 * takes beta*c and the gemm gets beta=1).
 * requires: shapes; parameter values known at compile time;
 * invalidates: the parameter list (folded parameters replace the originals).
 *
 * W' and b' are new parameters holding literal values (IrValue.data), so
 * folding happens only when every parameter involved carries its values:
 * models imported with their initializers (ONNX), or programs compiled with
 * --embed-weights, whose parameters pass_bind_params() fills in. A program
 * that loads its weights at run time keeps its batchnorms. Further
 * conditions: W and b are used by that conv/gemm only, y only by the
 * batchnorm. The batchnorm's result name moves to the conv/gemm, so graph
 * outputs keep their names; parameters left unused are dropped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static double load(const IrValue *v, int64_t i) {
  const char *q = v->data;
  switch (v->type.dtype) {
  case IR_F32: { float x; memcpy(&x, q + 4 * i, 4); return x; }
  case IR_F64: { double x; memcpy(&x, q + 8 * i, 8); return x; }
  case IR_I64: { int64_t x; memcpy(&x, q + 8 * i, 8); return (double)x; }
  case IR_I32: { int32_t x; memcpy(&x, q + 4 * i, 4); return x; }
  default: return ((const uint8_t *)q)[i];
  }
}

static void store(void *p, IrDType t, int64_t i, double v) {
  switch (t) {
  case IR_F32: { float x = (float)v; memcpy((char *)p + 4 * i, &x, 4); } break;
  case IR_F64: memcpy((char *)p + 8 * i, &v, 8); break;
  case IR_I64: { int64_t x = (int64_t)v; memcpy((char *)p + 8 * i, &x, 8); } break;
  case IR_I32: { int32_t x = (int32_t)v; memcpy((char *)p + 4 * i, &x, 4); } break;
  default: ((uint8_t *)p)[i] = (uint8_t)v; break;
  }
}

void pass_bind_params(IrGraph *g, const IrTensor *values) {
  IrTensor *own = NULL;
  if (!values) {
    own = sm_xcalloc((size_t)g->nparams + 1, sizeof *own);
    ir_init_params(g, own);
    values = own;
  }
  for (int p = 0; p < g->nparams; p++) {
    IrValue *v = g->params[p];
    int64_t n = ir_type_numel(&v->type);
    void *data = sm_arena_alloc(&g->arena, (size_t)(n ? n : 1) * ir_dtype_size(v->type.dtype));
    for (int64_t i = 0; i < n; i++) store(data, v->type.dtype, i, values[p].d[i]);
    v->data = data;
  }
  if (own) {
    for (int p = 0; p < g->nparams; p++) ir_tensor_free(&own[p]);
    free(own);
  }
}

static bool known(const IrValue *v, int64_t numel) {
  return v->kind == IR_VAL_PARAM && v->data && ir_dtype_is_float(v->type.dtype) &&
         ir_type_numel(&v->type) == numel;
}

static const char *fresh_name(IrGraph *g, const char *base, const char *suffix) {
  const char *name = sm_arena_printf(&g->arena, "%s.%s", base, suffix);
  for (int k = 2; ir_graph_find(g, name); k++)
    name = sm_arena_printf(&g->arena, "%s.%s%d", base, suffix, k);
  return name;
}

static IrValue *new_param(IrGraph *g, const char *name, IrType t, SmLoc loc, void *data) {
  IrValue *p = ir_add_param(g, name, t, (IrInit){IR_INIT_ZEROS, 0, 0}, loc);
  p->data = data;
  return p;
}

/* Folds bn into the node computing its operand; false when a condition
 * does not hold. uses counts operand uses (graph outputs count too). */
static bool fold(IrGraph *g, IrNode *bn, const int *uses, bool *touched) {
  IrValue *y = bn->in[0];
  if (y->kind != IR_VAL_NODE || uses[y->id] != 1) return false;
  IrNode *p = y->def;
  bool gemm = p->op->bn_fold == IR_BN_FOLD_GEMM;
  if (!gemm && p->op->bn_fold != IR_BN_FOLD_CONV) return false;
  if (gemm && ir_attr_int(p, "transB", 0) != 1) return false;
  int64_t M = y->type.dims[1];
  IrValue *W = p->in[1], *B = p->nin > 2 ? p->in[2] : NULL;
  if (!known(W, ir_type_numel(&W->type)) || W->type.dims[0] != M || uses[W->id] != 1 ||
      W->type.dtype != y->type.dtype)
    return false;
  if (B && (!known(B, M) || uses[B->id] != 1 || B->type.rank < 1 || B->type.dims[B->type.rank - 1] != M ||
            B->type.dtype != y->type.dtype))
    return false;
  for (int i = 1; i < 5; i++)
    if (!known(bn->in[i], M)) return false;
  double eps = ir_attr_float(bn, "epsilon", 1e-5);
  double beta = gemm ? ir_attr_float(p, "beta", 1.0) : 1.0;
  IrDType dt = y->type.dtype;
  int64_t nw = ir_type_numel(&W->type), per = M ? nw / M : 0;
  void *wd = sm_arena_alloc(&g->arena, (size_t)(nw ? nw : 1) * ir_dtype_size(dt));
  void *bd = sm_arena_alloc(&g->arena, (size_t)(M ? M : 1) * ir_dtype_size(dt));
  for (int64_t m = 0; m < M; m++) {
    double s = load(bn->in[1], m) / sqrt(load(bn->in[4], m) + eps);
    for (int64_t i = m * per; i < (m + 1) * per; i++) store(wd, dt, i, s * load(W, i));
    double b = B ? beta * load(B, m) : 0;
    store(bd, dt, m, s * (b - load(bn->in[3], m)) + load(bn->in[2], m));
  }
  IrValue *nwv = new_param(g, fresh_name(g, W->name, "fold"), W->type, W->loc, wd);
  IrType bt = ir_type_make(dt, 1, &M);
  IrValue *nbv = new_param(g, fresh_name(g, B ? B->name : bn->out[0]->name, B ? "fold" : "bias"),
                           bt, B ? B->loc : bn->loc, bd);
  if (p->nin < 3) {
    IrValue **in = sm_arena_alloc(&g->arena, 3 * sizeof *in);
    in[0] = p->in[0];
    p->in = in;
    p->nin = 3;
  }
  p->in[1] = nwv;
  p->in[2] = nbv;
  if (gemm && ir_attr(p, "beta")) ir_set_float(g, p, "beta", 1.0);
  SmDiag quiet;
  sm_diag_init(&quiet);
  IrType before = y->type;
  SM_ASSERT(ir_infer_node(p, &quiet) && ir_type_eq(&y->type, &before));
  sm_diag_free(&quiet);
  /* the conv/gemm now computes the normalized value: it takes the name */
  touched[W->id] = true;
  if (B) touched[B->id] = true;
  for (int i = 1; i < 5; i++) touched[bn->in[i]->id] = true;
  IrValue *z = bn->out[0];
  ir_replace_uses(g, z, y);
  const char *name = y->name;
  SmLoc loc = y->loc;
  ir_value_rename(g, y, z->name);
  y->loc = z->loc;
  ir_value_rename(g, z, name);
  z->loc = loc;
  return true;
}

SmStatus pass_fold_bn(IrGraph *g, SmDiag *d) {
  (void)d;
  int *uses = sm_xcalloc((size_t)g->nvalues + 1, sizeof *uses);
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) uses[g->nodes[k]->in[i]->id]++;
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]->id]++;
  bool *dead = sm_xcalloc((size_t)g->nnodes + 1, 1);
  int ntouched = g->nvalues;
  bool *touched = sm_xcalloc((size_t)ntouched + 1, 1); /* parameters read by folds */
  int folded = 0;
  for (int k = 0; k < g->nnodes; k++) {
    IrNode *n = g->nodes[k];
    if (!(n->op->caps & IR_CAP_BATCHNORM) || !fold(g, n, uses, touched)) continue;
    dead[k] = true;
    folded++;
  }
  if (folded) {
    int m = 0;
    for (int k = 0; k < g->nnodes; k++)
      if (!dead[k]) g->nodes[m++] = g->nodes[k];
    g->nnodes = m;
    for (int k = 0; k < m; k++) g->nodes[k]->id = k;
    /* drop the parameters nothing reads any more (the originals of folded
     * weights, the batchnorm statistics) */
    free(uses);
    uses = sm_xcalloc((size_t)g->nvalues + 1, sizeof *uses);
    for (int k = 0; k < g->nnodes; k++)
      for (int i = 0; i < g->nodes[k]->nin; i++) uses[g->nodes[k]->in[i]->id]++;
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]->id]++;
    int j = 0;
    for (int i = 0; i < g->nparams; i++) {
      IrValue *v = g->params[i];
      if (v->id < ntouched && touched[v->id] && !uses[v->id]) continue;
      v->index = j;
      g->params[j++] = v;
    }
    g->nparams = j;
  }
  free(uses);
  free(dead);
  free(touched);
  return SM_OK;
}
