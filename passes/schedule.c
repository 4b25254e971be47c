/* Node order (the kernel schedule) chosen for memory: the given order and
 * a memory-greedy list schedule are each fused (pass_fuse) and measured by
 * the peak of simultaneously live activation bytes over their kernels
 * (what the planner packs); the order with the smaller peak is kept, the
 * given one on a tie.
 * requires: shapes, dead nodes removed; invalidates: node order, node ids,
 * fusion groups (the fuse pass runs after it).
 *
 * Both orders respect every data dependency and every anti-dependency of
 * an in-place node (it runs after every other reader of what it
 * overwrites), so the verifier's in-place rule holds for either. The
 * greedy schedule repeatedly runs, among the ready nodes, the one that
 * adds the fewest bytes (its results minus the operands it is the last
 * reader of), ties in the given order. */
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/gemm.h"
#include "passes.h"

static int64_t value_bytes(const IrValue *v) {
  return ir_type_numel(&v->type) * (int64_t)ir_dtype_size(v->type.dtype);
}

static bool inplace_out(const IrNode *n, int o) { return n->op->inplace && n->op->inplace[o] >= 0; }

/* by value id: the value whose storage it names (ir_view_alias) */
static int *alias_roots(const IrGraph *g) {
  int *root = sm_xcalloc((size_t)g->nvalues + 1, sizeof *root);
  bool *is_out = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->noutputs; i++) is_out[g->outputs[i]->id] = true;
  for (int i = 0; i < g->nvalues; i++) root[i] = i;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *x = g->nodes[k];
    if (x->nout == 1 && ir_view_alias(x, is_out[x->out[0]->id]))
      root[x->out[0]->id] = root[x->in[0]->id];
  }
  free(is_out);
  return root;
}

/* The planner's in-place reuse (codegen/plan.c reuse_operand), kernel by
 * kernel: a result of an elementwise kernel, or of the epilogue of a
 * producer keeping the product in registers, takes the storage of an
 * operand of its type and size that dies in that kernel (not read by the
 * producer, not already taken by another result there). host[v]: the
 * value whose interval holds v (-1: its own, -2: not placed); the host's
 * interval grows to v's end. */
static void reuse_operands(const IrGraph *g, const int *run, const int *pos, const int *root,
                           const int *birth, int *end, int *host) {
  int n = g->nnodes;
  const IrNode **mem = sm_xcalloc((size_t)n + 1, sizeof *mem);
  const IrValue **ins = sm_xcalloc((size_t)g->nvalues + 1, sizeof *ins);
  /* by kernel position: its members in node order (a linked list) */
  int *first = sm_xcalloc((size_t)n + 1, sizeof *first);
  int *lastm = sm_xcalloc((size_t)n + 1, sizeof *lastm);
  int *nxt = sm_xcalloc((size_t)n + 1, sizeof *nxt);
  for (int k = 0; k < n; k++) first[k] = lastm[k] = nxt[k] = -1;
  for (int j = 0; j < n; j++) {
    int r = run[j];
    if (r < j) continue; /* as the scan up to the kernel's position */
    if (lastm[r] < 0) first[r] = j;
    else nxt[lastm[r]] = j;
    lastm[r] = j;
  }
  /* taken[h]: the birth of the last result given h's storage (results are
   * placed kernel by kernel, each born in its kernel) */
  int *taken = sm_xcalloc((size_t)g->nvalues + 1, sizeof *taken);
  for (int i = 0; i < g->nvalues; i++) taken[i] = -1;
  bool irregular = false;
  for (int k = 0; k < n; k++) {
    const IrNode *x = g->nodes[k];
    if (run[k] != k || ((x->op->flags & IR_OPF_VIEW) && root[x->out[0]->id] != x->out[0]->id))
      continue; /* fused, or a view naming its operand's storage */
    /* members: the producer first, then the others in node order */
    int nm = 0;
    const IrNode *prod = NULL;
    bool ok = true;
    for (int j = first[k]; j >= 0; j = nxt[j])
      if (!(g->nodes[j]->op->flags & IR_OPF_ELEMENTWISE)) {
        ok &= prod == NULL;
        prod = mem[nm++] = g->nodes[j];
      }
    for (int j = first[k]; j >= 0; j = nxt[j])
      if (g->nodes[j] != prod) mem[nm++] = g->nodes[j];
    if (!ok || (prod && (nm == 1 || !op_epilogue_in_registers(prod)))) continue;
    /* operands from outside the kernel, the producer's first */
    int nin = 0;
    for (int m = 0; m < nm; m++)
      for (int i = 0; i < mem[m]->nin; i++) {
        const IrValue *v = mem[m]->in[i];
        if (v->def && run[pos[v->def->id]] == k) continue;
        bool seen = false;
        for (int q = 0; q < nin && !seen; q++) seen = ins[q] == v;
        if (!seen) ins[nin++] = v;
      }
    for (int o = 0; o < x->nout; o++) {
      const IrValue *v = x->out[o];
      if (host[v->id] != -1 || (prod && v == prod->out[0])) continue;
      for (int i = 0; i < nin; i++) {
        const IrValue *u = g->values[root[ins[i]->id]];
        if (host[u->id] == -2 || !ir_type_eq(&u->type, &v->type)) continue;
        int hu = host[u->id] >= 0 ? host[u->id] : u->id;
        if (end[hu] != k || value_bytes(g->values[hu]) != value_bytes(v)) continue;
        bool fits = true;
        for (int j = 0; j < nin && fits; j++)
          if (root[ins[j]->id] == u->id) fits = ir_type_eq(&ins[j]->type, &v->type);
        for (int j = 0; prod && j < prod->nin && fits; j++) fits = root[prod->in[j]->id] != u->id;
        if (!irregular && fits) fits = taken[hu] != k;
        for (int q = 0; irregular && q < g->nvalues && fits; q++)
          fits = !(host[q] == hu && birth[q] == k);
        if (!fits) continue;
        end[hu] = end[v->id];
        host[v->id] = hu;
        taken[hu] = birth[v->id];
        irregular |= birth[v->id] != k;
        break;
      }
    }
  }
  free(first);
  free(lastm);
  free(nxt);
  free(taken);
  free(mem);
  free(ins);
}

static int64_t peak_of(const IrGraph *g, bool inplace) {
  int n = g->nnodes;
  int *root = alias_roots(g);
  bool *is_out = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->noutputs; i++) is_out[g->outputs[i]->id] = true;
  int *run = sm_xcalloc((size_t)n + 1, sizeof *run); /* by position */
  int *members = sm_xcalloc((size_t)n + 1, sizeof *members);
  int *pos = sm_xcalloc((size_t)n + 1, sizeof *pos); /* by node id */
  for (int k = 0; k < n; k++) pos[g->nodes[k]->id] = k;
  for (int k = 0; k < n; k++) {
    const IrNode *x = g->nodes[k];
    run[k] = x->anchor ? pos[x->anchor->id] : k;
    members[run[k]]++;
  }
  int *death = sm_xcalloc((size_t)g->nvalues + 1, sizeof *death);
  bool *stored = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->nvalues; i++) death[i] = -1;
  for (int k = 0; k < n; k++) {
    const IrNode *u = g->nodes[k];
    if ((u->op->flags & IR_OPF_VIEW) && root[u->out[0]->id] != u->out[0]->id) continue;
    if (members[run[k]] == 1)
      for (int o = 0; o < u->nout; o++) {
        stored[u->out[o]->id] = true;
        if (death[u->out[o]->id] < run[k]) death[u->out[o]->id] = run[k];
      }
    for (int i = 0; i < u->nin; i++) {
      const IrValue *v = g->values[root[u->in[i]->id]];
      if (v->kind != IR_VAL_NODE) continue;
      if (run[pos[v->def->id]] == run[k] && v == u->in[i]) continue; /* inside the kernel */
      stored[v->id] = true;
      if (death[v->id] < run[k]) death[v->id] = run[k];
    }
  }
  /* live intervals [birth, end] of the stored values the planner places */
  int *birth = sm_xcalloc((size_t)g->nvalues + 1, sizeof *birth);
  int *host = sm_xcalloc((size_t)g->nvalues + 1, sizeof *host);
  for (int i = 0; i < g->nvalues; i++) {
    const IrValue *v = g->values[i];
    host[i] = -2; /* not placed */
    if (!stored[i] || v->kind != IR_VAL_NODE || root[i] != i || is_out[i] ||
        inplace_out(v->def, v->def_out))
      continue;
    host[i] = -1;
    birth[i] = run[pos[v->def->id]];
    if (death[i] < birth[i]) death[i] = birth[i];
  }
  if (inplace) reuse_operands(g, run, pos, root, birth, death, host);
  int64_t *delta = sm_xcalloc((size_t)n + 2, sizeof *delta);
  for (int i = 0; i < g->nvalues; i++) {
    if (host[i] != -1) continue;
    delta[birth[i]] += value_bytes(g->values[i]);
    delta[death[i] + 1] -= value_bytes(g->values[i]);
  }
  int64_t live = 0, best = 0;
  for (int k = 0; k <= n; k++) {
    live += delta[k];
    if (live > best) best = live;
  }
  free(birth);
  free(host);
  free(root);
  free(is_out);
  free(run);
  free(members);
  free(pos);
  free(death);
  free(stored);
  free(delta);
  return best;
}

int64_t pass_schedule_peak(const IrGraph *g) { return peak_of(g, false); }

int64_t pass_plan_peak(const IrGraph *g) { return peak_of(g, true); }

/* The memory-greedy list schedule of g's nodes into order[]. */
static void greedy_order(const IrGraph *g, IrNode **order) {
  int n = g->nnodes;
  int *root = alias_roots(g);
  int *pos = sm_xcalloc((size_t)n + 1, sizeof *pos);
  for (int k = 0; k < n; k++) pos[g->nodes[k]->id] = k;
  /* predecessors left per node: defining nodes of its operands, and for
   * an in-place node every other reader of what it overwrites */
  int *left = sm_xcalloc((size_t)n + 1, sizeof *left);
  int *nsucc = sm_xcalloc((size_t)n + 1, sizeof *nsucc);
  int **succ = sm_xcalloc((size_t)n + 1, sizeof *succ);
  int *cap = sm_xcalloc((size_t)n + 1, sizeof *cap);
#define EDGE(a, b)                                                                 \
  do {                                                                             \
    if (nsucc[a] == cap[a]) {                                                      \
      cap[a] = cap[a] ? 2 * cap[a] : 4;                                            \
      succ[a] = sm_xrealloc(succ[a], sizeof(int) * (size_t)cap[a]);                \
    }                                                                              \
    succ[a][nsucc[a]++] = (b);                                                     \
    left[b]++;                                                                     \
  } while (0)
  /* by value id: the nodes reading it (each once, in node order) */
  int *dstart = sm_xcalloc((size_t)g->nvalues + 2, sizeof *dstart);
  int *dlast = sm_xcalloc((size_t)g->nvalues + 1, sizeof *dlast);
  for (int i = 0; i < g->nvalues; i++) dlast[i] = -1;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) {
      int v = g->nodes[k]->in[i]->id;
      if (dlast[v] != k) dstart[v + 1]++;
      dlast[v] = k;
    }
  for (int i = 0; i < g->nvalues; i++) dstart[i + 1] += dstart[i];
  int *dreaders = sm_xcalloc((size_t)dstart[g->nvalues] + 1, sizeof *dreaders);
  for (int i = 0; i < g->nvalues; i++) dlast[i] = -1;
  {
    int *fill = sm_xcalloc((size_t)g->nvalues + 1, sizeof *fill);
    for (int k = 0; k < n; k++)
      for (int i = 0; i < g->nodes[k]->nin; i++) {
        int v = g->nodes[k]->in[i]->id;
        if (dlast[v] != k) dreaders[dstart[v] + fill[v]++] = k;
        dlast[v] = k;
      }
    free(fill);
  }
  free(dlast);
  for (int k = 0; k < n; k++) {
    const IrNode *x = g->nodes[k];
    for (int i = 0; i < x->nin; i++)
      if (x->in[i]->def) EDGE(pos[x->in[i]->def->id], k);
    if (!x->op->inplace) continue;
    for (int o = 0; o < x->nout; o++) {
      if (x->op->inplace[o] < 0) continue;
      const IrValue *over = x->in[x->op->inplace[o]];
      for (int r = dstart[over->id]; r < dstart[over->id + 1]; r++)
        if (dreaders[r] != k) EDGE(dreaders[r], k);
    }
  }
#undef EDGE
  free(dstart);
  free(dreaders);
  /* readers left per (root) value, and the distinct nodes among them */
  int *readers = sm_xcalloc((size_t)g->nvalues + 1, sizeof *readers);
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) readers[root[g->nodes[k]->in[i]->id]]++;
  int *rstart = sm_xcalloc((size_t)g->nvalues + 2, sizeof *rstart);
  int *rlast = sm_xcalloc((size_t)g->nvalues + 1, sizeof *rlast);
  int *nodes_left = sm_xcalloc((size_t)g->nvalues + 1, sizeof *nodes_left);
  for (int i = 0; i < g->nvalues; i++) rlast[i] = -1;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) {
      int v = root[g->nodes[k]->in[i]->id];
      if (rlast[v] != k) rstart[v + 1]++, nodes_left[v]++;
      rlast[v] = k;
    }
  for (int i = 0; i < g->nvalues; i++) rstart[i + 1] += rstart[i];
  int *rnodes = sm_xcalloc((size_t)rstart[g->nvalues] + 1, sizeof *rnodes);
  int *rfill = sm_xcalloc((size_t)g->nvalues + 1, sizeof *rfill);
  for (int i = 0; i < g->nvalues; i++) rlast[i] = -1;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) {
      int v = root[g->nodes[k]->in[i]->id];
      if (rlast[v] != k) rnodes[rstart[v] + rfill[v]++] = k;
      rlast[v] = k;
    }
  bool *is_out = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->noutputs; i++) is_out[g->outputs[i]->id] = true;
  /* The ready nodes by score (bytes added), ties in node order. A score
   * only drops, when the node becomes the last reader of an operand; the
   * heap then holds a stale entry too, skipped when popped. */
  bool *done = sm_xcalloc((size_t)n + 1, 1);
  int64_t *score = sm_xcalloc((size_t)n + 1, sizeof *score);
  SmHeap ready = {0};
#define SCORE(k)                                                                          \
  do {                                                                                    \
    const IrNode *x = g->nodes[k];                                                        \
    int64_t sc = 0;                                                                       \
    for (int o = 0; o < x->nout; o++)                                                     \
      if (!inplace_out(x, o) && root[x->out[o]->id] == x->out[o]->id)                     \
        sc += value_bytes(x->out[o]);                                                     \
    for (int i = 0; i < x->nin; i++) {                                                    \
      const IrValue *v = g->values[root[x->in[i]->id]];                                   \
      if (v->kind != IR_VAL_NODE || is_out[v->id]) continue;                              \
      int mine = 0; /* x may read v more than once */                                     \
      for (int j = 0; j < x->nin; j++) mine += root[x->in[j]->id] == v->id;               \
      bool first = true;                                                                  \
      for (int j = 0; j < i; j++) first &= root[x->in[j]->id] != v->id;                   \
      if (first && readers[v->id] == mine) sc -= value_bytes(v);                          \
    }                                                                                     \
    score[k] = sc;                                                                        \
    sm_heap_push(&ready, sc, k);                                                          \
  } while (0)
  for (int k = 0; k < n; k++)
    if (!left[k]) SCORE(k);
  for (int placed = 0; placed < n; placed++) {
    SmHeapItem it;
    int pick = -1;
    while (pick < 0 && sm_heap_pop(&ready, &it))
      if (!done[it.idx] && it.key == score[it.idx]) pick = it.idx;
    SM_ASSERT(pick >= 0 && "schedule: dependency cycle");
    done[pick] = true;
    order[placed] = g->nodes[pick];
    const IrNode *p = g->nodes[pick];
    for (int i = 0; i < p->nin; i++) readers[root[p->in[i]->id]]--;
    for (int i = 0; i < p->nin; i++) {
      int v = root[p->in[i]->id];
      bool first = true;
      for (int j = 0; j < i; j++) first &= root[p->in[j]->id] != v;
      /* one reader left: its score may drop (it is re-scored when ready) */
      if (first && --nodes_left[v] == 1)
        for (int r = rstart[v]; r < rstart[v + 1]; r++)
          if (!done[rnodes[r]] && !left[rnodes[r]]) SCORE(rnodes[r]);
    }
    for (int s = 0; s < nsucc[pick]; s++)
      if (--left[succ[pick][s]] == 0) SCORE(succ[pick][s]);
  }
#undef SCORE
  sm_heap_free(&ready);
  free(score);
  free(rstart);
  free(rlast);
  free(nodes_left);
  free(rnodes);
  free(rfill);
  free(is_out);
  for (int k = 0; k < n; k++) free(succ[k]);
  free(succ);
  free(nsucc);
  free(cap);
  free(left);
  free(readers);
  free(done);
  free(pos);
  free(root);
}

static void set_order(IrGraph *g, IrNode *const *order) {
  memcpy(g->nodes, order, sizeof(IrNode *) * (size_t)g->nnodes);
  for (int k = 0; k < g->nnodes; k++) {
    g->nodes[k]->id = k;
    g->nodes[k]->anchor = NULL;
  }
}

SmStatus pass_schedule_log(IrGraph *g, SmDiag *d, SmBuf *log) {
  int n = g->nnodes;
  static const char *const names[] = {"node order", "memory-greedy"};
  IrNode **orders[2];
  int64_t peaks[2];
  for (int s = 0; s < 2; s++) orders[s] = sm_xcalloc((size_t)n + 1, sizeof **orders);
  memcpy(orders[0], g->nodes, sizeof(IrNode *) * (size_t)n);
  greedy_order(g, orders[1]);
  for (int s = 0; s < 2; s++) {
    set_order(g, orders[s]);
    SmStatus st = pass_fuse(g, d);
    if (st != SM_OK) {
      set_order(g, orders[0]);
      free(orders[0]);
      free(orders[1]);
      return st;
    }
    peaks[s] = pass_schedule_peak(g);
  }
  int best = peaks[1] < peaks[0] ? 1 : 0;
  set_order(g, orders[best]);
  if (log)
    sm_buf_printf(log, "  schedule: peak %lld bytes in node order, %lld memory-greedy: %s kept\n",
                  (long long)peaks[0], (long long)peaks[1], names[best]);
  free(orders[0]);
  free(orders[1]);
  return SM_OK;
}

SmStatus pass_schedule(IrGraph *g, SmDiag *d) { return pass_schedule_log(g, d, NULL); }
