/* Whole-graph transformations shared by passes: clone, use replacement,
 * stable topological order, pruning of dead nodes. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

IrGraph *ir_graph_clone(const IrGraph *g) {
  IrGraph *c = ir_graph_new(g->name);
  c->seed = g->seed;
  IrValue **map = sm_xcalloc((size_t)g->nvalues + 1, sizeof *map);
  /* recreate values in id order so names and ids match */
  for (int i = 0; i < g->ninputs; i++) {
    const IrValue *v = g->inputs[i];
    map[v->id] = ir_add_input(c, v->name, v->type, v->loc);
  }
  for (int i = 0; i < g->nparams; i++) {
    const IrValue *v = g->params[i];
    map[v->id] = ir_add_param(c, v->name, v->type, v->init, v->loc);
    if (v->data) { /* literal values (ONNX initializers) */
      size_t bytes = (size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype);
      map[v->id]->data = sm_arena_memdup(&c->arena, v->data, bytes ? bytes : 1);
    }
  }
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    IrValue *in[32];
    SM_ASSERT(n->nin <= 32);
    for (int i = 0; i < n->nin; i++) in[i] = map[n->in[i]->id];
    const char *names[16];
    SM_ASSERT(n->nout <= 16);
    for (int o = 0; o < n->nout; o++) names[o] = n->out[o]->name;
    IrNode *m = ir_add_node(c, n->op, in, n->nin, names, n->nout, n->loc);
    ir_copy_attrs(c, m, n);
    for (int i = 0; i < n->nattr; i++) m->attrs[i].loc = n->attrs[i].loc;
    for (int o = 0; o < n->nout; o++) {
      m->out[o]->type = n->out[o]->type;
      m->out[o]->loc = n->out[o]->loc;
      map[n->out[o]->id] = m->out[o];
    }
  }
  for (int i = 0; i < g->noutputs; i++) ir_add_output(c, map[g->outputs[i]->id]);
  for (int i = 0; i < g->ndirs; i++) {
    const IrDirective *d = &g->dirs[i];
    IrDirective *e = ir_add_directive(c, d->kind, d->arg, d->loc);
    ir_copy_attrs(c, e->attrs, d->attrs);
  }
  free(map);
  return c;
}

/* ---- node builders shared by gradient rules and expansions ---- */
bool ir_grad_needed(const IrGradCtx *cx, const IrNode *n, int i) {
  return cx->requires[n->in[i]->id];
}

IrNode *ir_grad_node(IrGradCtx *cx, const char *opname, IrValue *const *in,
                     int nin, int nout) {
  const IrOpDef *op = ir_op_find(opname);
  SM_ASSERT(op != NULL);
  IrNode *n = ir_add_node(cx->g, op, (IrValue **)in, nin, NULL, nout, cx->loc);
  /* infer now so rules can look at shapes; attributes may still change */
  SmDiag quiet;
  sm_diag_init(&quiet);
  ir_infer_node(n, &quiet);
  sm_diag_free(&quiet);
  return n;
}

IrValue *ir_grad_finish(IrGradCtx *cx, IrNode *n) {
  if (!ir_infer_node(n, cx->d)) {
    sm_error(cx->d, n->loc, "internal error: gradient rule built an invalid %s node",
             n->op->name);
    SM_ASSERT(!"invalid gradient node");
  }
  return n->out[0];
}

IrValue *ir_grad_op(IrGradCtx *cx, const char *op, IrValue *const *in, int nin) {
  return ir_grad_finish(cx, ir_grad_node(cx, op, in, nin, 1));
}

IrValue *ir_grad_fill(IrGradCtx *cx, const IrType *t, double v) {
  IrNode *n = ir_grad_node(cx, "constant", NULL, 0, 1);
  ir_set_ints(cx->g, n, "shape", t->dims, t->rank);
  ir_set_floats(cx->g, n, "value", &v, 1);
  ir_set_str(cx->g, n, "dtype", ir_dtype_name(t->dtype));
  return ir_grad_finish(cx, n);
}

IrValue *ir_grad_unbroadcast(IrGradCtx *cx, IrValue *g, const IrType *target) {
  if (ir_type_eq(&g->type, target)) return g;
  int r = g->type.rank, tr = target->rank;
  int64_t axes[IR_MAX_RANK];
  int na = 0;
  for (int i = 0; i < r; i++) {
    int ti = i - (r - tr);
    if (ti < 0 || (target->dims[ti] == 1 && g->type.dims[i] != 1)) axes[na++] = i;
  }
  IrValue *s = g;
  if (na) {
    IrNode *n = ir_grad_node(cx, "reduce_sum", &g, 1, 1);
    ir_set_ints(cx->g, n, "axes", axes, na);
    ir_set_int(cx->g, n, "keepdims", 1);
    s = ir_grad_finish(cx, n);
  }
  if (ir_type_eq(&s->type, target)) return s;
  IrNode *n = ir_grad_node(cx, "reshape", &s, 1, 1);
  ir_set_ints(cx->g, n, "shape", target->dims, target->rank);
  return ir_grad_finish(cx, n);
}

void ir_replace_uses(IrGraph *g, IrValue *from, IrValue *to) {
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++)
      if (g->nodes[k]->in[i] == from) g->nodes[k]->in[i] = to;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}

static void renumber(IrGraph *g) {
  for (int k = 0; k < g->nnodes; k++) g->nodes[k]->id = k;
}

void ir_toposort(IrGraph *g) {
  int n = g->nnodes;
  bool *ready = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->ninputs; i++) ready[g->inputs[i]->id] = true;
  for (int i = 0; i < g->nparams; i++) ready[g->params[i]->id] = true;
  /* operands not yet available per node, and the readers of each value
   * that is not available from the start */
  int *waiting = sm_xcalloc((size_t)n + 1, sizeof *waiting);
  int *ustart = sm_xcalloc((size_t)g->nvalues + 2, sizeof *ustart);
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++)
      if (!ready[g->nodes[k]->in[i]->id]) {
        waiting[k]++;
        ustart[g->nodes[k]->in[i]->id + 1]++;
      }
  for (int i = 0; i < g->nvalues; i++) ustart[i + 1] += ustart[i];
  int *users = sm_xcalloc((size_t)ustart[g->nvalues] + 1, sizeof *users);
  int *fill = sm_xcalloc((size_t)g->nvalues + 1, sizeof *fill);
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) {
      int v = g->nodes[k]->in[i]->id;
      if (!ready[v]) users[ustart[v] + fill[v]++] = k;
    }
  /* always the first node (in the current order) whose operands exist */
  SmHeap h = {0};
  for (int k = 0; k < n; k++)
    if (!waiting[k]) sm_heap_push(&h, k, k);
  IrNode **order = sm_xcalloc((size_t)n + 1, sizeof *order);
  int placed = 0;
  SmHeapItem it;
  while (sm_heap_pop(&h, &it)) {
    const IrNode *x = g->nodes[it.idx];
    order[placed++] = g->nodes[it.idx];
    for (int o = 0; o < x->nout; o++) {
      int v = x->out[o]->id;
      if (ready[v]) continue;
      ready[v] = true;
      for (int u = ustart[v]; u < ustart[v + 1]; u++)
        if (--waiting[users[u]] == 0) sm_heap_push(&h, users[u], users[u]);
    }
  }
  SM_ASSERT(placed == n && "graph has a cycle");
  if (n) memcpy(g->nodes, order, sizeof(IrNode *) * (size_t)n); /* no nodes: g->nodes may be NULL */
  renumber(g);
  sm_heap_free(&h);
  free(order);
  free(ready);
  free(waiting);
  free(ustart);
  free(users);
  free(fill);
}

void ir_prune(IrGraph *g, bool drop_inputs) {
  bool *live = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]->id] = true;
  bool *keep = sm_xcalloc((size_t)g->nnodes + 1, 1);
  for (int k = g->nnodes - 1; k >= 0; k--) {
    const IrNode *n = g->nodes[k];
    bool any = n->op->inplace != NULL; /* updates are side effects */
    for (int o = 0; o < n->nout; o++) any |= live[n->out[o]->id];
    if (!any) continue;
    keep[k] = true;
    for (int i = 0; i < n->nin; i++) live[n->in[i]->id] = true;
  }
  int m = 0;
  for (int k = 0; k < g->nnodes; k++)
    if (keep[k]) g->nodes[m++] = g->nodes[k];
  g->nnodes = m;
  renumber(g);
  if (drop_inputs) {
    int j = 0;
    for (int i = 0; i < g->ninputs; i++)
      if (live[g->inputs[i]->id]) {
        g->inputs[j] = g->inputs[i];
        g->inputs[j]->index = j;
        j++;
      }
    g->ninputs = j;
  }
  free(live);
  free(keep);
}

bool ir_decompose(IrGraph *g, SmDiag *d) {
  int before = d->nerrors;
  for (int round = 0; round < 8; round++) {
    bool any = false;
    int n0 = g->nnodes;
    bool *dead = sm_xcalloc((size_t)n0 + 1, 1);
    for (int k = 0; k < n0; k++) {
      IrNode *n = g->nodes[k];
      if (!n->op->expand) continue;
      any = true;
      IrGradCtx cx = {.g = g, .d = d, .loc = n->loc};
      IrValue *outs[16] = {0};
      SM_ASSERT(n->nout <= 16);
      if (!n->op->expand(&cx, n, outs) || cx.failed) continue;
      for (int o = 0; o < n->nout; o++) {
        SM_ASSERT(outs[o] && ir_type_eq(&outs[o]->type, &n->out[o]->type));
        ir_replace_uses(g, n->out[o], outs[o]);
        const char *name = n->out[o]->name;
        ir_value_rename(g, n->out[o], sm_arena_printf(&g->arena, "%s.composite", name));
        ir_value_rename(g, outs[o], name);
        outs[o]->loc = n->out[o]->loc;
      }
      dead[k] = true;
    }
    int m = 0;
    for (int k = 0; k < g->nnodes; k++)
      if (k >= n0 || !dead[k]) g->nodes[m++] = g->nodes[k];
    g->nnodes = m;
    free(dead);
    ir_toposort(g);
    if (!any || d->nerrors != before) break;
  }
  return d->nerrors == before;
}
