/* A simple memory plan for generated programs: parameters in one block,
 * inputs and outputs in dedicated arena buffers, intermediates packed into
 * the rest of the arena by liveness (greedy by size, first fit). The real
 * planner (several strategies, in-place reuse) is a later pass. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "rt_model.h"

#define ALIGN 64

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct {
  int id;
  int start, end; /* node index interval, inclusive */
  size_t bytes;
} Live;

static int by_size_desc(const void *a, const void *b) {
  const Live *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  return x->id - y->id;
}

/* Place intervals in the given order, each at the lowest offset clear of
 * every placed interval alive at the same time. Returns the arena top. */
static size_t place(const Live *lv, int nlv, size_t base, size_t *offs) {
  size_t top = base;
  for (int a = 0; a < nlv; a++) {
    size_t cand = base;
    for (bool moved = true; moved;) {
      moved = false;
      for (int b = 0; b < a; b++) {
        if (lv[b].end < lv[a].start || lv[a].end < lv[b].start) continue;
        size_t b0 = offs[b], b1 = offs[b] + align_up(lv[b].bytes);
        if (cand < b1 && b0 < cand + align_up(lv[a].bytes)) {
          cand = b1;
          moved = true;
        }
      }
    }
    offs[a] = cand;
    if (cand + align_up(lv[a].bytes) > top) top = cand + align_up(lv[a].bytes);
  }
  return top;
}

void cg_plan(const IrGraph *g, const IrGraph *master, CgPlan *p) {
  p->slots = sm_xcalloc((size_t)g->nvalues + 1, sizeof *p->slots);
  p->naive_bytes = 0;
  if (!master) master = g;
  size_t off = 0;
  for (int i = 0; i < master->nparams; i++) {
    const IrValue *mv = master->params[i];
    size_t n = (size_t)ir_type_numel(&mv->type) * ir_dtype_size(mv->type.dtype);
    for (int j = 0; j < g->nparams; j++)
      if (strcmp(g->params[j]->name, mv->name) == 0) {
        SM_ASSERT(ir_type_eq(&g->params[j]->type, &mv->type));
        p->slots[g->params[j]->id] = (CgSlot){RT_REGION_PARAMS, off, n};
      }
    off += align_up(n);
  }
  p->param_bytes = off;

  bool *fixed = sm_xcalloc((size_t)g->nvalues + 1, 1);
  off = 0;
  for (int i = 0; i < g->ninputs; i++) {
    const IrValue *v = g->inputs[i];
    size_t n = (size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype);
    p->slots[v->id] = (CgSlot){RT_REGION_ARENA, off, n};
    fixed[v->id] = true;
    off += align_up(n);
  }
  for (int i = 0; i < g->noutputs; i++) {
    const IrValue *v = g->outputs[i];
    if (v->kind != IR_VAL_NODE || fixed[v->id]) continue;
    size_t n = (size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype);
    p->slots[v->id] = (CgSlot){RT_REGION_ARENA, off, n};
    fixed[v->id] = true;
    off += align_up(n);
  }
  size_t base = off;
  p->naive_bytes = off;

  /* in-place outputs live in the storage of the input they overwrite */
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    if (!n->op->inplace) continue;
    for (int o = 0; o < n->nout; o++) {
      int src = n->op->inplace[o];
      if (src < 0) continue;
      p->slots[n->out[o]->id] = p->slots[n->in[src]->id];
      fixed[n->out[o]->id] = true;
    }
  }

  /* liveness over the kernel schedule: a value is born when its kernel
   * runs and dies after the last kernel reading it; values computed inside
   * a fused kernel never touch memory */
  /* views share their operand's buffer: map each to its root value */
  int *root = sm_xcalloc((size_t)g->nvalues + 1, sizeof *root);
  for (int i = 0; i < g->nvalues; i++) root[i] = i;
  for (int k = 0; k < g->nnodes; k++)
    if (cg_is_alias(g, g->nodes[k])) root[g->nodes[k]->out[0]->id] = root[g->nodes[k]->in[0]->id];
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  Live *lv = sm_xcalloc((size_t)g->nvalues + 1, sizeof *lv);
  int nlv = 0;
  int *idx = sm_xcalloc((size_t)g->nvalues + 1, sizeof *idx);
  for (int k = 0; k < nk; k++)
    for (int o = 0; o < ks[k].nout; o++) {
      const IrValue *v = ks[k].outs[o];
      if (fixed[v->id]) continue;
      size_t n = (size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype);
      idx[v->id] = nlv;
      lv[nlv++] = (Live){v->id, k, k, n};
      p->naive_bytes += align_up(n);
    }
  for (int k = 0; k < nk; k++)
    for (int i = 0; i < ks[k].nin; i++) {
      const IrValue *v = g->values[root[ks[k].ins[i]->id]];
      if (v->kind == IR_VAL_NODE && !fixed[v->id]) lv[idx[v->id]].end = k;
    }
  cg_kernels_free(ks, nk);
  /* two strategies, keep the smaller arena: greedy by size (largest first)
   * and first fit in order of birth */
  size_t *offs[2], tops[2];
  Live *order[2];
  for (int s = 0; s < 2; s++) {
    order[s] = sm_xcalloc((size_t)nlv + 1, sizeof(Live));
    if (nlv) memcpy(order[s], lv, sizeof(Live) * (size_t)nlv);
    if (s == 0) qsort(order[s], (size_t)nlv, sizeof(Live), by_size_desc);
    offs[s] = sm_xcalloc((size_t)nlv + 1, sizeof(size_t));
    tops[s] = place(order[s], nlv, base, offs[s]);
  }
  int best = tops[1] < tops[0] ? 1 : 0;
  for (int a = 0; a < nlv; a++)
    p->slots[order[best][a].id] = (CgSlot){RT_REGION_ARENA, offs[best][a], order[best][a].bytes};
  p->arena_bytes = tops[best];
  for (int i = 0; i < g->nvalues; i++)
    if (root[i] != i) {
      p->slots[i] = p->slots[root[i]];
      p->slots[i].bytes = (size_t)ir_type_numel(&g->values[i]->type) *
                          ir_dtype_size(g->values[i]->type.dtype);
    }
  free(root);
  p->strategy = best ? "first-fit by birth" : "greedy by size";
  for (int s = 0; s < 2; s++) {
    free(offs[s]);
    free(order[s]);
  }
  free(lv);
  free(idx);
  free(fixed);
}

void cg_plan_free(CgPlan *p) {
  free(p->slots);
  p->slots = NULL;
}
