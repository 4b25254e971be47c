/* Batchnorm as a per-channel affine map (inference only): a batchnorm that
 * fold-bn left in place (its parameters load at run time) becomes
 *   a = scale / sqrt(var + epsilon),  c = bias - mean * a     (per channel)
 *   y = x * a[C,1,...] + c[C,1,...]
 * so the two per-channel vectors cost one small kernel each and the map
 * itself is an elementwise chain, which fusion then puts into the epilogue
 * of the convolution or gemm before it, with the activation after it (a
 * ResNet block's conv -> batchnorm -> relu becomes one kernel).
 * requires: shapes; invalidates: node order (the new nodes are sorted
 * in), node ids. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

static IrValue *op(IrGraph *g, const char *name, IrValue **in, int nin, const char *out,
                   SmLoc loc, SmDiag *d) {
  const char *names[1] = {out};
  IrNode *n = ir_add_node(g, ir_op_find(name), in, nin, names, 1, loc);
  SM_ASSERT(ir_infer_node(n, d)); /* operand shapes are those batchnorm checked */
  return n->out[0];
}

static IrValue *fresh(IrGraph *g, const IrNode *bn, const char *op_name, IrValue **in, int nin,
                      const char *tag, SmDiag *d) {
  char nm[256];
  snprintf(nm, sizeof nm, "%s.%s", bn->out[0]->name, tag);
  return op(g, op_name, in, nin, ir_graph_find(g, nm) ? NULL : nm, bn->loc, d);
}

static void rewrite(IrGraph *g, IrNode *bn, SmDiag *d) {
  IrValue *x = bn->in[0], *scale = bn->in[1], *bias = bn->in[2], *mean = bn->in[3],
          *var = bn->in[4];
  IrDType dt = x->type.dtype;
  /* epsilon as a one-element constant of x's dtype, broadcast */
  char en[256];
  snprintf(en, sizeof en, "%s.eps", bn->out[0]->name);
  const char *enames[1] = {ir_graph_find(g, en) ? NULL : en};
  IrNode *e = ir_add_node(g, ir_op_find("constant"), NULL, 0, enames, 1, bn->loc);
  int64_t one = 1;
  double eps = ir_attr_float(bn, "epsilon", 1e-5);
  ir_set_ints(g, e, "shape", &one, 1);
  ir_set_floats(g, e, "value", &eps, 1);
  ir_set_str(g, e, "dtype", ir_dtype_name(dt));
  SM_ASSERT(ir_infer_node(e, d));
  IrValue *ve = fresh(g, bn, "add", (IrValue *[]){var, e->out[0]}, 2, "ve", d);
  IrValue *sd = fresh(g, bn, "sqrt", (IrValue *[]){ve}, 1, "sd", d);
  IrValue *a = fresh(g, bn, "div", (IrValue *[]){scale, sd}, 2, "a", d);
  IrValue *ma = fresh(g, bn, "mul", (IrValue *[]){mean, a}, 2, "ma", d);
  IrValue *c = fresh(g, bn, "sub", (IrValue *[]){bias, ma}, 2, "c", d);
  /* [C] -> [C,1,...]: broadcasts over dim 1 of x */
  int64_t dims[IR_MAX_RANK];
  dims[0] = x->type.dims[1];
  for (int i = 1; i < x->type.rank - 1; i++) dims[i] = 1;
  IrValue *bc[2] = {a, c};
  const char *tags[2] = {"a3", "c3"};
  for (int j = 0; j < 2; j++) {
    char nm[256];
    snprintf(nm, sizeof nm, "%s.%s", bn->out[0]->name, tags[j]);
    const char *names[1] = {ir_graph_find(g, nm) ? NULL : nm};
    IrNode *r = ir_add_node(g, ir_op_find("reshape"), &bc[j], 1, names, 1, bn->loc);
    ir_set_ints(g, r, "shape", dims, x->type.rank - 1);
    SM_ASSERT(ir_infer_node(r, d));
    bc[j] = r->out[0];
  }
  IrValue *xa = fresh(g, bn, "mul", (IrValue *[]){x, bc[0]}, 2, "xa", d);
  /* the result takes the batchnorm's name (graph outputs keep theirs) */
  IrValue *old = bn->out[0];
  const char *name = old->name;
  ir_value_rename(g, old, sm_arena_printf(&g->arena, "%s.bn", name));
  IrValue *y = op(g, "add", (IrValue *[]){xa, bc[1]}, 2, name, bn->loc, d);
  ir_replace_uses(g, old, y);
}

SmStatus pass_bn_affine(IrGraph *g, SmDiag *d) {
  int n0 = g->nnodes;
  for (int k = 0; k < n0; k++) {
    IrNode *n = g->nodes[k];
    if (!(n->op->caps & IR_CAP_BATCHNORM) || n->in[0]->type.rank < 2) continue;
    if (!ir_dtype_is_float(n->in[0]->type.dtype)) continue;
    rewrite(g, n, d);
  }
  if (g->nnodes != n0) {
    ir_toposort(g);
    ir_prune(g, false);
  }
  return SM_OK;
}
