/* Vertical fusion of elementwise chains.
 * requires: final node order (runs last, just before code generation);
 * produces: IrNode.anchor for fused members; invalidates: memory plan.
 *
 * Rules (documented in README):
 *  - only IR_OPF_ELEMENTWISE ops fuse, into one loop nest;
 *  - a producer joins its consumer's kernel when the consumer is its only
 *    user, the value is not a graph output, and both have the same output
 *    type (outside operands may broadcast);
 *  - nothing fuses across an in-place update (the moved computation could
 *    otherwise read a parameter after it was overwritten);
 *  - fusion never duplicates work (single-user chains only) and never raises
 *    peak memory: the only buffers it changes are the ones it removes. */
#include <stdlib.h>

#include "passes.h"

static int find(int *parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

SmStatus pass_fuse(IrGraph *g, SmDiag *d) {
  (void)d;
  int n = g->nnodes;
  int *uses = sm_xcalloc((size_t)g->nvalues + 1, sizeof *uses);
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) uses[g->nodes[k]->in[i]->id]++;
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]->id] += 1000;
  /* last in-place node at or before each position */
  int *last_inplace = sm_xcalloc((size_t)n + 1, sizeof *last_inplace);
  for (int k = 0, last = -1; k < n; k++) {
    if (g->nodes[k]->op->inplace) last = k;
    last_inplace[k] = last;
  }
  int *parent = sm_xcalloc((size_t)n + 1, sizeof *parent);
  int *top = sm_xcalloc((size_t)n + 1, sizeof *top); /* the group's last member */
  for (int k = 0; k < n; k++) {
    parent[k] = k;
    top[k] = k;
    g->nodes[k]->anchor = NULL;
  }
  for (int k = 0; k < n; k++) {
    IrNode *c = g->nodes[k];
    if (!(c->op->flags & IR_OPF_ELEMENTWISE) || c->nout != 1) continue;
    for (int i = 0; i < c->nin; i++) {
      IrValue *v = c->in[i];
      IrNode *p = v->def;
      if (!p || !(p->op->flags & IR_OPF_ELEMENTWISE) || p->nout != 1) continue;
      if (uses[v->id] != 1 || !ir_type_eq(&p->out[0]->type, &c->out[0]->type)) continue;
      /* p's group runs at k now instead of at top[group of p]: no in-place
       * update may sit in between */
      int gp = find(parent, p->id);
      if (last_inplace[k] > p->id) continue;
      int gc = find(parent, k);
      if (gp == gc) continue;
      parent[gp] = gc;
      if (top[gp] > top[gc]) top[gc] = top[gp];
    }
  }
  int fused = 0;
  for (int k = 0; k < n; k++) {
    int r = find(parent, k);
    if (top[r] != k) {
      g->nodes[k]->anchor = g->nodes[top[r]];
      fused++;
    }
  }
  free(uses);
  free(last_inplace);
  free(parent);
  free(top);
  (void)fused;
  return SM_OK;
}
