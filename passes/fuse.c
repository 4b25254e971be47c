/* Fusion: vertical elementwise chains into one loop nest, elementwise
 * epilogues into the kernel of the gemm, matmul or convolution (or
 * convolution/pool gradient) producing their operand, optimizer updates
 * into the kernel computing their gradient, and the remaining updates
 * side by side in one kernel.
 * requires: final node order (runs last, just before code generation);
 * produces: IrNode.anchor for fused members; invalidates: memory plan.
 *
 * A group runs as one kernel at the position of its last member (the
 * anchor). Rules (documented in README):
 *  - an elementwise consumer takes in its operand's producer when the
 *    producer is elementwise, the value has that one use and is no graph
 *    output, and both results have the same shape (other operands may
 *    broadcast): an elementwise value used twice is never fused, so no
 *    elementwise work is duplicated. Dtypes may change along the chain
 *    (a comparison feeding where, a cast): every member computes into a
 *    local of its own dtype;
 *  - an elementwise consumer takes in a producer that accepts an epilogue
 *    (op_epilogue_root: gemm, matmul, conv1d/2d, their backward ops, pool
 *    gradients) when the results have the same type: bias adds,
 *    activations, residual adds, activation gradients (ew_grad) are then
 *    applied as the product is stored. The product may have other users:
 *    then the kernel stores it too, it is never recomputed. One producer
 *    per group, and none of its operands may come from the group. Such a
 *    group keeps one type throughout (the GEMM keeps partial sums in the
 *    result buffer), so it never holds a dtype-changing chain;
 *  - an optimizer update (in place: parameter and state) becomes the last
 *    member of the group whose result is its gradient when that group's
 *    producer keeps each product element in registers until the final K
 *    block (op_epilogue_in_registers: the blocked GEMM in one K block), so
 *    the update reads and writes each parameter element once, after the
 *    full reduction, and the weight gradient never reaches memory; the
 *    producer must not read the parameter or state it overwrites. With
 *    clip_norm every update waits for the global norm, which reads every
 *    gradient first: the rule below keeps them apart;
 *  - optimizer updates left alone run side by side in one kernel (a loop
 *    each) at the position of the last one;
 *  - every value a group stores must be read only after the group's
 *    kernel runs, and no member that moves past an in-place node (an
 *    update, batchnorm's running statistics) may read what that node
 *    overwrites;
 *  - memory: candidates are tried in node order and one is kept only if
 *    the peak of simultaneously live activation bytes over the kernel
 *    schedule (what the planner packs) stays at or below the unfused
 *    schedule's. Fusion removes buffers but delays its members' reads, so
 *    this is checked, not assumed. */
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/gemm.h"
#include "ir/ops/ops.h"
#include "passes.h"

/* Positions of nodes, a growable array. */
typedef struct PosVec {
  int *p;
  int n, cap;
} PosVec;

static void posvec_push(PosVec *v, int x) {
  if (v->n == v->cap) {
    v->cap = v->cap ? 2 * v->cap : 4;
    v->p = sm_xrealloc(v->p, sizeof(int) * (size_t)v->cap);
  }
  v->p[v->n++] = x;
}

typedef struct Fuse {
  const IrGraph *g;
  int n;            /* nodes */
  int *pos;         /* by node id: position in g->nodes */
  /* groups as disjoint sets of positions: parent links (union by size,
   * so a member is O(log n) links from its set's root), and by root the
   * set's size and its group representative (a position); grp() reads it */
  int *par, *size, *label;
  int *top, *lo;    /* by representative: last and first member position */
  bool *has_root;   /* by representative */
  bool *mixed;      /* by representative: some member's result dtype differs */
  int *ninplace;    /* prefix count of in-place nodes: [0, k) */
  bool *is_out;     /* by value id: graph output */
  bool *alias;      /* by position: a view node that only names its operand */
  int *root;        /* by value id: the value whose buffer it names */
  /* by representative: positions of the nodes outside the group that read
   * a member's result (entries that have joined the group since are
   * dropped when next seen). Every one lies after the group's last member
   * (can_merge keeps it so), which lets can_merge look at one side only. */
  PosVec *ext;
  /* by representative: a member that is neither elementwise nor an update
   * (a producer; -1: none) and how many there are */
  int *prod, *nprod;
  /* by representative: the member operands that can make the peak grow
   * when the group runs later: value id * 2 + (read directly, not through
   * a view), for values the peak counts; entries read inside the group
   * are dropped when next seen */
  PosVec *rd;
  /* by value id: the position of the last node (not a view) reading it,
   * and whether that node reads it through a view */
  int *lastpos;
  bool *lastvia;
  /* scratch for peak() */
  int64_t *delta;
  int *death;
  bool *stored;
} Fuse;

/* The group representative of the node at position k. */
static int grp(const Fuse *f, int k) {
  while (f->par[k] != k) k = f->par[k];
  return f->label[k];
}

static int set_root(const Fuse *f, int k) {
  while (f->par[k] != k) k = f->par[k];
  return k;
}

static int64_t value_bytes(const IrValue *v) {
  return ir_type_numel(&v->type) * (int64_t)ir_dtype_size(v->type.dtype);
}

static bool same_shape(const IrType *a, const IrType *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

static bool inplace_out(const IrNode *n, int o) { return n->op->inplace && n->op->inplace[o] >= 0; }

/* Peak of simultaneously live activation bytes with the grouping in
 * grp(): a value is stored when read outside its group (or when its node
 * is a kernel of its own), born when its kernel runs and dead after the
 * last kernel reading it. Inputs, outputs and parameters have fixed
 * storage and are left out. */
static int64_t peak(Fuse *f) {
  const IrGraph *g = f->g;
  int n = f->n;
  memset(f->delta, 0, sizeof(int64_t) * (size_t)(n + 2));
  for (int i = 0; i < g->nvalues; i++) {
    f->death[i] = -1;
    f->stored[i] = false;
  }
  for (int k = 0; k < n; k++) {
    const IrNode *u = g->nodes[k];
    if (f->alias[k]) continue;
    int run = f->top[grp(f, k)];
    bool single = f->top[grp(f, k)] == k && f->lo[grp(f, k)] == k;
    if (single)
      for (int o = 0; o < u->nout; o++) {
        f->stored[u->out[o]->id] = true;
        if (f->death[u->out[o]->id] < run) f->death[u->out[o]->id] = run;
      }
    for (int i = 0; i < u->nin; i++) {
      const IrValue *v = g->values[f->root[u->in[i]->id]];
      if (v->kind != IR_VAL_NODE) continue;
      int dk = f->pos[v->def->id];
      if (grp(f, dk) == grp(f, k) && v == u->in[i]) continue; /* inside the kernel */
      f->stored[v->id] = true;
      if (f->death[v->id] < run) f->death[v->id] = run;
    }
  }
  for (int i = 0; i < g->nvalues; i++) {
    const IrValue *v = g->values[i];
    if (!f->stored[i] || v->kind != IR_VAL_NODE || f->is_out[i] || f->root[i] != i) continue;
    if (inplace_out(v->def, v->def_out)) continue;
    int dk = f->pos[v->def->id];
    int birth = f->top[grp(f, dk)];
    int death = f->death[i] < birth ? birth : f->death[i];
    f->delta[birth] += value_bytes(v);
    f->delta[death + 1] -= value_bytes(v);
  }
  int64_t live = 0, best = 0;
  for (int k = 0; k <= n; k++) {
    live += f->delta[k];
    if (live > best) best = live;
  }
  return best;
}

/* Whether merging group b into group a (a's consumer reads b's anchor or
 * producer) keeps every rule but the memory one. */
static bool can_merge(Fuse *f, int ra, int rb) {
  const IrGraph *g = f->g;
  int T = f->top[ra] > f->top[rb] ? f->top[ra] : f->top[rb];
  int lo = f->lo[ra] < f->lo[rb] ? f->lo[ra] : f->lo[rb];
  if (f->ninplace[T + 1] - f->ninplace[lo] > 0)
    for (int j = lo; j <= T; j++) {
      const IrNode *x = g->nodes[j];
      if (!x->op->inplace) continue;
      bool member = grp(f, j) == ra || grp(f, j) == rb;
      /* an in-place member: only an optimizer update ending the group */
      if (member) {
        if (j != T || !opt_is_update(x)) return false;
        continue;
      }
      /* an in-place node the group's members move across: none of them
       * may read what it overwrites */
      for (int o = 0; o < x->nout; o++) {
        if (x->op->inplace[o] < 0) continue;
        int over = f->root[x->in[x->op->inplace[o]]->id];
        for (int k = lo; k <= T; k++) {
          if (grp(f, k) != ra && grp(f, k) != rb) continue;
          for (int i = 0; i < g->nodes[k]->nin; i++)
            if (f->root[g->nodes[k]->in[i]->id] == over) return false;
        }
      }
    }
  /* a producer's operands come from outside the group (an update's
   * gradient is the group's result) */
  if (f->nprod[ra] + f->nprod[rb] <= 1) {
    int pk = f->prod[ra] >= 0 ? f->prod[ra] : f->prod[rb];
    const IrNode *m = pk >= 0 ? g->nodes[pk] : NULL;
    for (int i = 0; m && i < m->nin; i++) {
      const IrNode *d = m->in[i]->def;
      if (d && (grp(f, f->pos[d->id]) == ra || grp(f, f->pos[d->id]) == rb)) return false;
    }
  } else {
    for (int k = lo; k <= T; k++) {
      int r = grp(f, k);
      const IrNode *m = g->nodes[k];
      if ((r != ra && r != rb) || (m->op->flags & IR_OPF_ELEMENTWISE) || opt_is_update(m))
        continue;
      for (int i = 0; i < m->nin; i++) {
        const IrNode *d = m->in[i]->def;
        if (d && (grp(f, f->pos[d->id]) == ra || grp(f, f->pos[d->id]) == rb)) return false;
      }
    }
  }
  /* stored results are read only after the kernel runs: the readers
   * outside the group ending last all come after T; those of the other
   * group that lie before T must belong to the first */
  int rl = f->top[ra] < f->top[rb] ? ra : rb, rh = rl == ra ? rb : ra;
  PosVec *e = &f->ext[rl];
  bool ok = true;
  int w = 0;
  for (int i = 0; i < e->n; i++) {
    int p = e->p[i];
    if (grp(f, p) == rl) continue;
    e->p[w++] = p;
    if (p <= T && grp(f, p) != rh) ok = false;
  }
  e->n = w;
  return ok;
}

/* Joins rb's members to group ra (the smaller set linked under the
 * larger's root, which takes the label ra); returns the linked root (the
 * link merge_undo removes) and the old label of the root above it. */
static int merge(Fuse *f, int ra, int rb, int *old_label) {
  int xa = set_root(f, ra), xb = set_root(f, rb);
  if (f->size[xa] < f->size[xb]) {
    int t = xa;
    xa = xb;
    xb = t;
  }
  f->par[xb] = xa;
  f->size[xa] += f->size[xb];
  *old_label = f->label[xa];
  f->label[xa] = ra;
  if (f->top[rb] > f->top[ra]) f->top[ra] = f->top[rb];
  if (f->lo[rb] < f->lo[ra]) f->lo[ra] = f->lo[rb];
  f->has_root[ra] |= f->has_root[rb];
  f->mixed[ra] |= f->mixed[rb];
  if (f->prod[ra] < 0) f->prod[ra] = f->prod[rb];
  f->nprod[ra] += f->nprod[rb];
  return xb;
}

/* Splits the sets merge() joined (xb: the linked root). */
static void merge_undo(Fuse *f, int xb, int old_label) {
  int xa = f->par[xb];
  f->par[xb] = xb;
  f->size[xa] -= f->size[xb];
  f->label[xa] = old_label;
}



/* Whether running group rl at T, the last position of rh, with rh (a
 * merge) cannot raise the live bytes anywhere, so the peak need not be
 * recomputed. Merging only ends lifetimes early or starts them late,
 * except for the values rl's members read from outside the merged group
 * (or through a view): those now live until T. That is harmless when a
 * reader outside their producer's group (or through a view) already comes
 * at T or later. */
static bool no_increase(Fuse *f, int rl, int rh, int T) {
  PosVec *e = &f->rd[rl];
  bool ok = true;
  int w = 0;
  for (int i = 0; i < e->n; i++) {
    int v = e->p[i] >> 1;
    bool direct = e->p[i] & 1;
    int gd = grp(f, f->pos[f->g->values[v]->def->id]);
    if (direct && gd == rl) continue; /* read inside rl: never counts again */
    e->p[w++] = e->p[i];
    if (direct && gd == rh) continue;
    if (f->lastpos[v] >= T && (f->lastvia[v] || grp(f, f->lastpos[v]) != gd)) continue;
    ok = false;
  }
  e->n = w;
  return ok;
}

/* Appends b's entries to a's (the shorter to the longer; a keeps both). */
static void posvec_merge(PosVec *a, PosVec *b) {
  if (b->n > a->n) {
    PosVec t = *a;
    *a = *b;
    *b = t;
  }
  for (int i = 0; i < b->n; i++) posvec_push(a, b->p[i]);
  free(b->p);
  *b = (PosVec){0};
}

/* Merges group rb into ra tentatively and keeps the merge only when the
 * peak stays within the limit. has_root: the merged group has a producer. */
static bool try_merge(Fuse *f, int ra, int rb, bool has_root, bool retype, int64_t limit) {
  /* merge() links two sets and changes ra's bounds and flags only */
  int top_a = f->top[ra], lo_a = f->lo[ra], prod_a = f->prod[ra], nprod_a = f->nprod[ra];
  bool root_a = f->has_root[ra], root_b = f->has_root[rb], mixed_a = f->mixed[ra];
  /* every kept merge stayed within the limit, so one that raises no live
   * byte count does too */
  bool lower = f->top[ra] < f->top[rb];
  bool quick = no_increase(f, lower ? ra : rb, lower ? rb : ra, lower ? f->top[rb] : f->top[ra]);
  f->has_root[rb] |= has_root;
  int old_label;
  int linked = merge(f, ra, rb, &old_label);
  f->mixed[ra] |= retype;
  bool ok = quick || peak(f) <= limit;
  if (!ok) {
    merge_undo(f, linked, old_label);
    f->top[ra] = top_a;
    f->lo[ra] = lo_a;
    f->prod[ra] = prod_a;
    f->nprod[ra] = nprod_a;
    f->has_root[ra] = root_a;
    f->has_root[rb] = root_b;
    f->mixed[ra] = mixed_a;
  } else {
    posvec_merge(&f->ext[ra], &f->ext[rb]);
    posvec_merge(&f->rd[ra], &f->rd[rb]);
  }
  return ok;
}

/* An optimizer update (at position k) as the epilogue of the group whose
 * result is its gradient: that group's producer must keep the product in
 * registers until the final K block (the update then writes the parameter
 * and its state in place, element by element, and the gradient never
 * reaches memory) and must not read what the update overwrites. */
static void fuse_update(Fuse *f, int k, const int *uses, int64_t limit) {
  const IrGraph *g = f->g;
  IrNode *u = g->nodes[k];
  IrValue *gv = u->in[opt_grad_operand(u)];
  IrNode *p = gv->def;
  if (!p || grp(f, k) != k || f->lo[k] != k) return;
  int pk = f->pos[p->id], rb = grp(f, pk);
  if (f->top[rb] != pk) return;
  int rk = -1;
  for (int q = f->lo[rb]; q <= pk; q++)
    if (grp(f, q) == rb && !(g->nodes[q]->op->flags & IR_OPF_ELEMENTWISE)) rk = q;
  if (rk < 0 || !op_epilogue_in_registers(g->nodes[rk])) return;
  /* an elementwise member's result is stored only as the group's result */
  if (rk != pk && (uses[gv->id] != 1 || f->is_out[gv->id])) return;
  const IrNode *r = g->nodes[rk];
  for (int i = 0; i < r->nin; i++)
    for (int s = 0; s <= opt_state_count(u); s++)
      if (f->root[r->in[i]->id] == f->root[u->in[s]->id]) return;
  if (!can_merge(f, k, rb)) return;
  try_merge(f, k, rb, true, false, limit);
}

/* Horizontal fusion: optimizer updates left on their own become one kernel
 * (each keeps its loop), in node order, while the peak stays within the
 * limit. Moving an update later is safe: it runs after every reader of the
 * parameter it overwrites (passes/train.c), nothing reads its results, and
 * its operands are SSA values or parameters no other node writes. */
static void fuse_updates_horizontally(Fuse *f, const int *uses, int64_t limit) {
  const IrGraph *g = f->g;
  int cur = -1;
  for (int k = 0; k < f->n; k++) {
    const IrNode *u = g->nodes[k];
    if (!opt_is_update(u) || grp(f, k) != k || f->lo[k] != k || f->top[k] != k) continue;
    bool read = false;
    /* readers come after k (node order is topological) */
    for (int o = 0; o < u->nout; o++) read |= f->is_out[u->out[o]->id] || uses[u->out[o]->id];
    if (read) continue;
    if (cur >= 0) try_merge(f, k, cur, false, false, limit);
    cur = k; /* the group's representative either way */
  }
}

SmStatus pass_fuse(IrGraph *g, SmDiag *d) {
  (void)d;
  int n = g->nnodes;
  Fuse f = {.g = g, .n = n};
  int maxid = 0;
  for (int k = 0; k < n; k++)
    if (g->nodes[k]->id > maxid) maxid = g->nodes[k]->id;
  f.pos = sm_xcalloc((size_t)maxid + 2, sizeof *f.pos);
  f.par = sm_xcalloc((size_t)n + 1, sizeof *f.par);
  f.size = sm_xcalloc((size_t)n + 1, sizeof *f.size);
  f.label = sm_xcalloc((size_t)n + 1, sizeof *f.label);
  f.top = sm_xcalloc((size_t)n + 1, sizeof *f.top);
  f.lo = sm_xcalloc((size_t)n + 1, sizeof *f.lo);
  f.has_root = sm_xcalloc((size_t)n + 1, sizeof *f.has_root);
  f.mixed = sm_xcalloc((size_t)n + 1, sizeof *f.mixed);
  f.ninplace = sm_xcalloc((size_t)n + 2, sizeof *f.ninplace);
  f.is_out = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.is_out);
  f.alias = sm_xcalloc((size_t)n + 1, sizeof *f.alias);
  f.root = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.root);
  f.delta = sm_xcalloc((size_t)n + 2, sizeof *f.delta);
  f.death = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.death);
  f.stored = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.stored);
  int *uses = sm_xcalloc((size_t)g->nvalues + 1, sizeof *uses);
  f.ext = sm_xcalloc((size_t)n + 1, sizeof *f.ext);
  f.prod = sm_xcalloc((size_t)n + 1, sizeof *f.prod);
  f.nprod = sm_xcalloc((size_t)n + 1, sizeof *f.nprod);
  f.rd = sm_xcalloc((size_t)n + 1, sizeof *f.rd);
  f.lastpos = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.lastpos);
  f.lastvia = sm_xcalloc((size_t)g->nvalues + 1, sizeof *f.lastvia);
  for (int i = 0; i < g->noutputs; i++) f.is_out[g->outputs[i]->id] = true;
  for (int i = 0; i < g->nvalues; i++) f.root[i] = i;
  for (int k = 0; k < n; k++) {
    IrNode *x = g->nodes[k];
    x->anchor = NULL;
    f.pos[x->id] = k;
    f.par[k] = f.label[k] = f.top[k] = f.lo[k] = k;
    f.size[k] = 1;
    f.ninplace[k + 1] = f.ninplace[k] + (x->op->inplace != NULL);
    for (int i = 0; i < x->nin; i++) {
      uses[x->in[i]->id]++;
      if (x->in[i]->def) posvec_push(&f.ext[f.pos[x->in[i]->def->id]], k);
    }
    bool prod = !(x->op->flags & IR_OPF_ELEMENTWISE) && !opt_is_update(x);
    f.prod[k] = prod ? k : -1;
    f.nprod[k] = prod;
    if (x->nout == 1 && ir_view_alias(x, f.is_out[x->out[0]->id])) {
      f.alias[k] = true;
      f.root[x->out[0]->id] = f.root[x->in[0]->id];
    }
  }
  for (int i = 0; i < g->nvalues; i++) f.lastpos[i] = -1;
  for (int k = 0; k < n; k++) {
    const IrNode *x = g->nodes[k];
    if (f.alias[k]) continue; /* as peak() counts readers */
    for (int i = 0; i < x->nin; i++) {
      int v = f.root[x->in[i]->id];
      const IrValue *w = g->values[v];
      if (w->kind != IR_VAL_NODE || f.is_out[v] || inplace_out(w->def, w->def_out)) continue;
      bool direct = x->in[i] == w;
      if (f.lastpos[v] < k) f.lastvia[v] = false;
      f.lastpos[v] = k;
      f.lastvia[v] |= !direct;
      posvec_push(&f.rd[k], 2 * v + direct);
    }
  }
  int64_t limit = peak(&f);
  for (int k = 0; k < n; k++) {
    IrNode *c = g->nodes[k];
    if (opt_is_update(c)) fuse_update(&f, k, uses, limit);
    if (!(c->op->flags & IR_OPF_ELEMENTWISE) || c->nout != 1) continue;
    for (int i = 0; i < c->nin; i++) {
      IrValue *v = c->in[i];
      IrNode *p = v->def;
      if (!p || !same_shape(&v->type, &c->out[0]->type)) continue;
      int pk = f.pos[p->id], ra = grp(&f, k), rb = grp(&f, pk);
      if (ra == rb) continue;
      bool ew = (p->op->flags & IR_OPF_ELEMENTWISE) && p->nout == 1;
      bool retype = v->type.dtype != c->out[0]->type.dtype;
      if (ew) {
        if (uses[v->id] != 1 || f.is_out[v->id] || (f.has_root[ra] && f.has_root[rb])) continue;
        if ((f.has_root[ra] || f.has_root[rb]) && (retype || f.mixed[ra] || f.mixed[rb])) continue;
      } else {
        if (!op_epilogue_root(p) || f.has_root[ra] || f.top[rb] != pk || f.lo[rb] != pk) continue;
        if (retype || f.mixed[ra]) continue;
      }
      if (!can_merge(&f, ra, rb)) continue;
      /* tentative merge, kept only within the memory limit */
      try_merge(&f, ra, rb, !ew, retype, limit);
      ra = grp(&f, k);
    }
  }
  fuse_updates_horizontally(&f, uses, limit);
  for (int k = 0; k < n; k++) {
    int t = f.top[grp(&f, k)];
    if (t != k) g->nodes[k]->anchor = g->nodes[t];
  }
  for (int k = 0; k < n; k++) {
    free(f.ext[k].p);
    free(f.rd[k].p);
  }
  free(f.ext);
  free(f.rd);
  free(f.lastpos);
  free(f.lastvia);
  free(f.prod);
  free(f.nprod);
  free(uses);
  free(f.pos);
  free(f.par);
  free(f.size);
  free(f.label);
  free(f.top);
  free(f.lo);
  free(f.has_root);
  free(f.mixed);
  free(f.ninplace);
  free(f.is_out);
  free(f.alias);
  free(f.root);
  free(f.delta);
  free(f.death);
  free(f.stored);
  return SM_OK;
}
