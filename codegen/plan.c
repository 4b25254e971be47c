/* The memory plan of generated programs: parameters in one block, inputs
 * and outputs in dedicated arena buffers, intermediates packed into the
 * rest of the arena by liveness over the kernel schedule: results written
 * in place over a dying operand where the kernel allows it, then four
 * placement orders (by size, birth, lifetime, size x lifetime), the
 * smallest arena kept. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "codegen/kernels/gemm.h"
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

static int by_length_desc(const void *a, const void *b) {
  const Live *x = a, *y = b;
  if (x->end - x->start != y->end - y->start) return (y->end - y->start) - (x->end - x->start);
  return by_size_desc(a, b);
}

static int by_area_desc(const void *a, const void *b) {
  const Live *x = a, *y = b;
  double ax = (double)x->bytes * (x->end - x->start + 1), ay = (double)y->bytes * (y->end - y->start + 1);
  if (ax != ay) return ax < ay ? 1 : -1;
  return by_size_desc(a, b);
}

/* placement orders tried (in this order; the first smallest arena wins) */
static const struct {
  const char *name;
  int (*cmp)(const void *, const void *); /* NULL: order of birth */
} strategies[] = {
    {"greedy by size", by_size_desc},
    {"first-fit by birth", NULL},
    {"greedy by lifetime", by_length_desc},
    {"greedy by size x lifetime", by_area_desc},
};
#define NSTRAT ((int)(sizeof strategies / sizeof *strategies))

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

/* In-place reuse for kernel K (the k-th): a result may be written over an
 * operand whose last reader is K when every element of the result is
 * computed from the operand's element at the same index only, read before
 * it is stored: elementwise kernels (operands loaded, then results
 * stored, per element), and epilogues of a producer that keeps the
 * product in registers (op_epilogue_in_registers), the operand read by the
 * epilogue only. Same type, so the same index. codegen/emit.c declares
 * no pointer of such a kernel restrict (its storage overlaps).
 * host[v] is then the value whose interval (extended to v's death) holds
 * v's storage; idx maps a value to its interval. */
static void reuse_operand(const IrGraph *g, const CgKernel *K, int k, const int *root,
                          const bool *fixed, const int *idx, int *host, Live *lv, int *taken,
                          bool *irregular) {
  const IrNode *prod = NULL;
  for (int m = 0; m < K->nm; m++)
    if (!(K->mem[m]->op->flags & IR_OPF_ELEMENTWISE)) {
      if (prod || m != 0 || K->nm == 1 || !op_epilogue_in_registers(K->mem[m])) return;
      prod = K->mem[m];
    }
  for (int o = 0; o < K->nout; o++) {
    const IrValue *v = K->outs[o];
    if (fixed[v->id] || (prod && v == prod->out[0])) continue;
    for (int i = 0; i < K->nin; i++) {
      const IrValue *u = g->values[root[K->ins[i]->id]];
      if (u->kind != IR_VAL_NODE || fixed[u->id] || !ir_type_eq(&u->type, &v->type)) continue;
      int hu = host[u->id] >= 0 ? host[u->id] : u->id;
      Live *L = &lv[idx[hu]];
      if (L->end != k || L->bytes != lv[idx[v->id]].bytes) continue;
      /* every read of u's storage here: same type, not by the producer,
       * and not the storage of another result already */
      bool ok = true;
      for (int j = 0; j < K->nin && ok; j++)
        if (root[K->ins[j]->id] == u->id) ok = ir_type_eq(&K->ins[j]->type, &v->type);
      for (int j = 0; prod && j < prod->nin && ok; j++) ok = root[prod->in[j]->id] != u->id;
      /* taken[h]: the birth of the last result given h's storage (results
       * are placed kernel by kernel, each born in its kernel) */
      if (!*irregular && ok) ok = taken[hu] != k;
      for (int q = 0; *irregular && q < g->nvalues && ok; q++)
        ok = !(host[q] == hu && lv[idx[q]].start == k);
      if (!ok) continue;
      L->end = lv[idx[v->id]].end;
      host[v->id] = hu;
      taken[hu] = lv[idx[v->id]].start;
      *irregular |= taken[hu] != k;
      break;
    }
  }
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
  cg_alias_roots(g, root);
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
  /* in-place reuse: a result takes the storage of an operand that dies in
   * its kernel (host[v]: the interval holding v's storage, -1: its own) */
  int *host = sm_xcalloc((size_t)g->nvalues + 1, sizeof *host);
  for (int i = 0; i < g->nvalues; i++) host[i] = -1;
  int *taken = sm_xcalloc((size_t)g->nvalues + 1, sizeof *taken);
  for (int i = 0; i < g->nvalues; i++) taken[i] = -1;
  bool irregular = false;
  for (int k = 0; k < nk; k++)
    reuse_operand(g, &ks[k], k, root, fixed, idx, host, lv, taken, &irregular);
  free(taken);
  cg_kernels_free(ks, nk);
  int nown = 0;
  for (int a = 0; a < nlv; a++)
    if (host[lv[a].id] < 0) lv[nown++] = lv[a];
  nlv = nown;
  /* placement orders (largest first, by birth, longest-lived first,
   * largest size x lifetime first), each placed at the lowest offset clear
   * of every interval alive at the same time; the smallest arena kept */
  size_t *offs[NSTRAT], tops[NSTRAT];
  Live *order[NSTRAT];
  int best = 0;
  for (int s = 0; s < NSTRAT; s++) {
    order[s] = sm_xcalloc((size_t)nlv + 1, sizeof(Live));
    if (nlv) memcpy(order[s], lv, sizeof(Live) * (size_t)nlv);
    if (strategies[s].cmp) qsort(order[s], (size_t)nlv, sizeof(Live), strategies[s].cmp);
    offs[s] = sm_xcalloc((size_t)nlv + 1, sizeof(size_t));
    tops[s] = place(order[s], nlv, base, offs[s]);
    if (tops[s] < tops[best]) best = s;
  }
  for (int a = 0; a < nlv; a++)
    p->slots[order[best][a].id] = (CgSlot){RT_REGION_ARENA, offs[best][a], order[best][a].bytes};
  p->arena_bytes = tops[best];
  for (int i = 0; i < g->nvalues; i++)
    if (host[i] >= 0) p->slots[i] = p->slots[host[i]];
  free(host);
  for (int i = 0; i < g->nvalues; i++)
    if (root[i] != i) {
      p->slots[i] = p->slots[root[i]];
      p->slots[i].bytes = (size_t)ir_type_numel(&g->values[i]->type) *
                          ir_dtype_size(g->values[i]->type.dtype);
    }
  free(root);
  p->strategy = strategies[best].name;
  for (int s = 0; s < NSTRAT; s++) {
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
