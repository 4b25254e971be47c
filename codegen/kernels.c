/* The kernel schedule: one kernel per unfused node, one per fused group
 * (members in node order, the anchor last; a producer taking an
 * elementwise epilogue first; a group of optimizer updates has no
 * producer, its first update stands in that place). Codegen, the memory planner and
 * `smelt inspect --kernels` all work on this list. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "kernels/kernel.h"

/* Appends v unless seen[v->id] == stamp (then marks it). */
static void push_unique(IrValue ***items, int *n, int *cap, IrValue *v, int *seen, int stamp) {
  if (seen[v->id] == stamp) return;
  seen[v->id] = stamp;
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    *items = sm_xrealloc(*items, sizeof(IrValue *) * (size_t)*cap);
  }
  (*items)[(*n)++] = v;
}

/* The whole-graph facts is_alias needs, by value id and by node id. */
typedef struct Facts {
  bool *is_out;   /* by value id: a graph output */
  int *nanchored; /* by node id: nodes whose anchor it is */
  int maxid;
} Facts;

static Facts facts_of(const IrGraph *g) {
  Facts f = {.maxid = 0};
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->id > f.maxid) f.maxid = g->nodes[k]->id;
  f.is_out = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.is_out);
  f.nanchored = sm_xcalloc((size_t)f.maxid + 2, sizeof *f.nanchored);
  for (int i = 0; i < g->noutputs; i++) f.is_out[g->outputs[i]->id] = true;
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->anchor && g->nodes[k]->anchor->id >= 0 && g->nodes[k]->anchor->id <= f.maxid)
      f.nanchored[g->nodes[k]->anchor->id]++;
  return f;
}

static void facts_free(Facts *f) {
  free(f->is_out);
  free(f->nanchored);
}

/* A view op (reshape, flatten) whose result simply names its operand's
 * buffer (ir_view_alias), anchoring no fused group: no kernel, no memory
 * of its own. */
static bool is_alias(const Facts *f, const IrNode *n) {
  return n->nout == 1 && ir_view_alias(n, f->is_out[n->out[0]->id]) && f->nanchored[n->id] == 0;
}

void cg_alias_roots(const IrGraph *g, int *root) {
  Facts f = facts_of(g);
  for (int i = 0; i < g->nvalues; i++) root[i] = i;
  for (int k = 0; k < g->nnodes; k++)
    if (is_alias(&f, g->nodes[k])) root[g->nodes[k]->out[0]->id] = root[g->nodes[k]->in[0]->id];
  facts_free(&f);
}

int cg_kernels(const IrGraph *g, CgKernel **out) {
  CgKernel *ks = sm_xcalloc((size_t)g->nnodes + 1, sizeof *ks);
  int nk = 0;
  Facts f = facts_of(g);
  /* by node id: its position; the nodes anchored at it, in order (those
   * placed before it count: a group runs at its last member) */
  int *pos = sm_xcalloc((size_t)f.maxid + 2, sizeof *pos);
  for (int k = 0; k < g->nnodes; k++) pos[g->nodes[k]->id] = k;
  int *first = sm_xcalloc((size_t)f.maxid + 2, sizeof *first);
  int *last = sm_xcalloc((size_t)f.maxid + 2, sizeof *last);
  int *nxt = sm_xcalloc((size_t)g->nnodes + 1, sizeof *nxt);
  for (int i = 0; i <= f.maxid; i++) first[i] = last[i] = -1;
  for (int j = 0; j < g->nnodes; j++) {
    const IrNode *a = g->nodes[j]->anchor;
    nxt[j] = -1;
    if (!a || a->id < 0 || a->id > f.maxid || g->nodes[pos[a->id]] != a || pos[a->id] <= j)
      continue;
    if (last[a->id] < 0) first[a->id] = j;
    else nxt[last[a->id]] = j;
    last[a->id] = j;
  }
  /* by node id: the kernel (+1) it is a member of; by value id: operand
   * and result already listed for the kernel (+1); reads of each value */
  int *member = sm_xcalloc((size_t)f.maxid + 2, sizeof *member);
  int *seen_in = sm_xcalloc((size_t)g->nvalues + 1, sizeof *seen_in);
  int *seen_out = sm_xcalloc((size_t)g->nvalues + 1, sizeof *seen_out);
  int *reads = sm_xcalloc((size_t)g->nvalues + 1, sizeof *reads);
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) reads[g->nodes[k]->in[i]->id]++;
  for (int k = 0; k < g->nnodes; k++) {
    IrNode *n = g->nodes[k];
    if (n->anchor || is_alias(&f, n)) continue;
    CgKernel *K = &ks[nk++];
    int stamp = nk;
    K->anchor = n;
    /* members: nodes anchored here, in order, then the anchor; a producer
     * with an elementwise epilogue (the one member that is not
     * elementwise) comes first */
    int cap = 0;
    for (int j = first[n->id]; j >= 0; j = nxt[j]) cap++;
    K->mem = sm_xcalloc((size_t)cap + 1, sizeof *K->mem);
    IrNode *root = NULL;
    for (int j = first[n->id]; j >= 0 && !root; j = nxt[j])
      if (!(g->nodes[j]->op->flags & IR_OPF_ELEMENTWISE)) root = K->mem[K->nm++] = g->nodes[j];
    for (int j = first[n->id]; j >= 0; j = nxt[j])
      if (g->nodes[j] != root) K->mem[K->nm++] = g->nodes[j];
    K->mem[K->nm++] = n;
    for (int m = 0; m < K->nm; m++) member[K->mem[m]->id] = stamp;
    int icap = 0, ocap = 0;
    if (root) /* the producer's operands verbatim: its emitter reads in0.. */
      for (int i = 0; i < root->nin; i++) {
        if (K->nin == icap) {
          icap = icap ? icap * 2 : 8;
          K->ins = sm_xrealloc(K->ins, sizeof(IrValue *) * (size_t)icap);
        }
        K->ins[K->nin++] = root->in[i];
        seen_in[root->in[i]->id] = stamp;
      }
    for (int m = root ? 1 : 0; m < K->nm; m++)
      for (int i = 0; i < K->mem[m]->nin; i++) {
        IrValue *v = K->mem[m]->in[i];
        const IrNode *d = v->def;
        bool inside = d && d->id >= 0 && d->id <= f.maxid && member[d->id] == stamp &&
                      g->nodes[pos[d->id]] == d;
        if (!inside || K->nm == 1) push_unique(&K->ins, &K->nin, &icap, v, seen_in, stamp);
      }
    if (K->nm == 1) {
      /* unfused: exactly the node's operands, duplicates included */
      free(K->ins);
      K->ins = sm_xcalloc((size_t)n->nin + 1, sizeof *K->ins);
      for (int i = 0; i < n->nin; i++) K->ins[i] = n->in[i];
      K->nin = n->nin;
      K->outs = sm_xcalloc((size_t)n->nout + 1, sizeof *K->outs);
      for (int o = 0; o < n->nout; o++) K->outs[o] = n->out[o];
      K->nout = n->nout;
    } else {
      /* out0 is where a producer computes: its own result when that is
       * read elsewhere too (outside the members, or a graph output), else
       * the chain's result */
      if (root) {
        const IrValue *v = root->out[0];
        int inner = 0;
        for (int m = 0; m < K->nm; m++)
          for (int i = 0; i < K->mem[m]->nin; i++) inner += K->mem[m]->in[i] == v;
        if (f.is_out[v->id] || reads[v->id] > inner)
          push_unique(&K->outs, &K->nout, &ocap, root->out[0], seen_out, stamp);
      }
      /* in-place members (optimizer updates) store all their results */
      for (int m = 0; m < K->nm; m++)
        if (K->mem[m]->op->inplace)
          for (int o = 0; o < K->mem[m]->nout; o++)
            push_unique(&K->outs, &K->nout, &ocap, K->mem[m]->out[o], seen_out, stamp);
      push_unique(&K->outs, &K->nout, &ocap, n->out[0], seen_out, stamp);
    }
  }
  free(pos);
  free(first);
  free(last);
  free(nxt);
  free(member);
  free(seen_in);
  free(seen_out);
  free(reads);
  facts_free(&f);
  *out = ks;
  return nk;
}

void cg_kernels_free(CgKernel *ks, int nk) {
  for (int i = 0; i < nk; i++) {
    free(ks[i].mem);
    free(ks[i].ins);
    free(ks[i].outs);
  }
  free(ks);
}

void cg_kernel_name(SmBuf *b, const char *fn, const CgKernel *K) {
  if (fn) sm_buf_printf(b, "%s_", fn);
  sm_buf_printf(b, "k%d_", K->anchor->id);
  if (K->nm > 1 && K->mem[0] != K->anchor) sm_buf_printf(b, "%s_", K->mem[0]->op->name);
  sm_buf_puts(b, K->anchor->op->name);
}

double cg_node_gemm_flops(const IrNode *n) {
  const CgOpKernel *c = n->op->c;
  return c && c->flops ? c->flops(n) : 0;
}

double cg_kernel_flops(const CgKernel *K) {
  double f = 0;
  for (int m = 0; m < K->nm; m++) {
    double g = cg_node_gemm_flops(K->mem[m]);
    f += g > 0 ? g : (double)ir_type_numel(&K->mem[m]->out[0]->type);
  }
  return f;
}

double cg_kernel_gemm_flops(const CgKernel *K) {
  double f = 0;
  for (int m = 0; m < K->nm; m++) f += cg_node_gemm_flops(K->mem[m]);
  return f;
}

double cg_kernel_bytes(const CgKernel *K) {
  double by = 0;
  for (int i = 0; i < K->nin; i++)
    by += (double)ir_type_numel(&K->ins[i]->type) * (double)ir_dtype_size(K->ins[i]->type.dtype);
  for (int i = 0; i < K->nout; i++)
    by += (double)ir_type_numel(&K->outs[i]->type) * (double)ir_dtype_size(K->outs[i]->type.dtype);
  return by;
}
