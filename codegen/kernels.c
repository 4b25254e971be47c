/* The kernel schedule: one kernel per unfused node, one per fused group
 * (members in node order, the anchor last; a producer taking an
 * elementwise epilogue first; a group of optimizer updates has no
 * producer, its first update stands in that place). Codegen, the memory planner and
 * `smelt inspect --kernels` all work on this list. */
#include <stdlib.h>

#include "codegen.h"

static void push_unique(IrValue ***items, int *n, int *cap, IrValue *v) {
  for (int i = 0; i < *n; i++)
    if ((*items)[i] == v) return;
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    *items = sm_xrealloc(*items, sizeof(IrValue *) * (size_t)*cap);
  }
  (*items)[(*n)++] = v;
}

bool cg_is_alias(const IrGraph *g, const IrNode *n) {
  if (!(n->op->flags & IR_OPF_VIEW) || n->nout != 1 || n->anchor) return false;
  if (n->in[0]->kind == IR_VAL_PARAM) return false; /* params may be updated in place */
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == n->out[0]) return false; /* outputs get their own buffer */
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->anchor == n) return false;
  return true;
}

/* Whether v is read outside kernel K's members or is a graph output. */
static bool escapes(const IrGraph *g, const CgKernel *K, const IrValue *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    bool member = false;
    for (int m = 0; m < K->nm && !member; m++) member = K->mem[m] == n;
    if (member) continue;
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] == v) return true;
  }
  return false;
}

int cg_kernels(const IrGraph *g, CgKernel **out) {
  CgKernel *ks = sm_xcalloc((size_t)g->nnodes + 1, sizeof *ks);
  int nk = 0;
  for (int k = 0; k < g->nnodes; k++) {
    IrNode *n = g->nodes[k];
    if (n->anchor || cg_is_alias(g, n)) continue;
    CgKernel *K = &ks[nk++];
    K->anchor = n;
    /* members: nodes anchored here, in order, then the anchor; a producer
     * with an elementwise epilogue (the one member that is not
     * elementwise) comes first */
    int cap = 0;
    for (int j = 0; j < k; j++)
      if (g->nodes[j]->anchor == n) cap++;
    K->mem = sm_xcalloc((size_t)cap + 1, sizeof *K->mem);
    IrNode *root = NULL;
    for (int j = 0; j < k && !root; j++)
      if (g->nodes[j]->anchor == n && !(g->nodes[j]->op->flags & IR_OPF_ELEMENTWISE))
        root = K->mem[K->nm++] = g->nodes[j];
    for (int j = 0; j < k; j++)
      if (g->nodes[j]->anchor == n && g->nodes[j] != root) K->mem[K->nm++] = g->nodes[j];
    K->mem[K->nm++] = n;
    int icap = 0, ocap = 0;
    if (root) /* the producer's operands verbatim: its emitter reads in0.. */
      for (int i = 0; i < root->nin; i++) {
        if (K->nin == icap) {
          icap = icap ? icap * 2 : 8;
          K->ins = sm_xrealloc(K->ins, sizeof(IrValue *) * (size_t)icap);
        }
        K->ins[K->nin++] = root->in[i];
      }
    for (int m = root ? 1 : 0; m < K->nm; m++)
      for (int i = 0; i < K->mem[m]->nin; i++) {
        IrValue *v = K->mem[m]->in[i];
        bool inside = false;
        for (int q = 0; q < K->nm && !inside; q++)
          for (int o = 0; o < K->mem[q]->nout; o++) inside |= K->mem[q]->out[o] == v;
        if (!inside || K->nm == 1) push_unique(&K->ins, &K->nin, &icap, v);
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
       * read elsewhere too, else the chain's result */
      if (root && escapes(g, K, root->out[0])) push_unique(&K->outs, &K->nout, &ocap, root->out[0]);
      /* in-place members (optimizer updates) store all their results */
      for (int m = 0; m < K->nm; m++)
        if (K->mem[m]->op->inplace)
          for (int o = 0; o < K->mem[m]->nout; o++)
            push_unique(&K->outs, &K->nout, &ocap, K->mem[m]->out[o]);
      push_unique(&K->outs, &K->nout, &ocap, n->out[0]);
    }
  }
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
