/* Rematerialization (--remat): a cheap value the backward reads long
 * after the forward produced it is recomputed right before its first late
 * use, from operands that stay alive anyway, so its buffer dies early and
 * the copy usually fuses into its late consumer's kernel.
 * requires: final node order (after schedule), shapes; invalidates: node
 * order, node ids, fusion groups (the fuse pass runs after it).
 *
 * Cheap: an elementwise op (the registry's fusion class; none draws random
 * numbers: dropout_train and random_normal are not elementwise, so random
 * masks are never recomputed), a view, and the normalized output of
 * batchnorm_train, recomputed from its input and the saved statistics as
 * the elementwise chain y = x * a + sh with a = scale * invstd and
 * sh = bias - mean * a (the arithmetic batchnorm_train's kernel does, so
 * the copy is bit for bit the original).
 *
 * For each cheap value V (largest first, at least 1/64 of the peak), its
 * readers after the largest gap in its read positions are the late ones;
 * the copy of V goes right before the first of them, built from operands
 * live there anyway (parameters not yet overwritten, inputs, values read
 * at or after that position) or from copies of cheap operands, at most
 * MAX_CHAIN ops deep. Each candidate is tried: the graph is fused and its
 * peak of live activation bytes measured (pass_plan_peak: what the planner
 * packs, in-place reuse included); the copy is kept only if the peak
 * drops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define MAX_CHAIN 4 /* forward ops recomputed for one value, counted along a path */
#define MAX_NEW 64  /* nodes one copy may add */

typedef struct Remat {
  IrGraph *g;
  SmDiag *d;
  int *last;        /* by value id: last reading position of its storage (n: an output) */
  int *root;        /* by value id: the value whose storage it names */
  int *first_write; /* by value id: first position overwriting the parameter in place */
  IrValue **copy;   /* by value id: the copy made for the current candidate */
  IrNode *added[MAX_NEW];
  int nadded;
} Remat;

static int64_t value_bytes(const IrValue *v) {
  return ir_type_numel(&v->type) * (int64_t)ir_dtype_size(v->type.dtype);
}

/* result 0 of an IR_CAP_BN_SAVED op (batchnorm_train) */
static bool is_bn_train_y(const IrValue *v) {
  return v->kind == IR_VAL_NODE && v->def_out == 0 && (v->def->op->caps & IR_CAP_BN_SAVED);
}

/* whether v's defining op may be recomputed */
static bool cheap(const IrValue *v) {
  if (v->kind != IR_VAL_NODE) return false;
  const IrNode *n = v->def;
  if (n->nout != 1) return is_bn_train_y(v);
  if (n->op->inplace) return false;
  return (n->op->flags & (IR_OPF_ELEMENTWISE | IR_OPF_VIEW)) != 0;
}

static void analyze(Remat *r) {
  IrGraph *g = r->g;
  int n = g->nnodes;
  for (int k = 0; k < n; k++) g->nodes[k]->id = k;
  for (int i = 0; i < g->nvalues; i++) {
    r->root[i] = i;
    r->last[i] = -1;
    r->first_write[i] = n;
  }
  for (int k = 0; k < n; k++) {
    const IrNode *x = g->nodes[k];
    if ((x->op->flags & IR_OPF_VIEW) && x->nout == 1 && x->in[0]->kind != IR_VAL_PARAM)
      r->root[x->out[0]->id] = r->root[x->in[0]->id];
    for (int i = 0; i < x->nin; i++) {
      int v = r->root[x->in[i]->id];
      if (r->last[v] < k) r->last[v] = k;
    }
    for (int o = 0; x->op->inplace && o < x->nout; o++)
      if (x->op->inplace[o] >= 0) {
        int p = x->in[x->op->inplace[o]]->id;
        if (r->first_write[p] > k) r->first_write[p] = k;
      }
  }
  for (int i = 0; i < g->noutputs; i++) r->last[r->root[g->outputs[i]->id]] = n;
}

/* u can be read at position p without extending anything's life */
static bool available(const Remat *r, const IrValue *u, int p) {
  if (u->kind == IR_VAL_INPUT) return true;
  if (u->kind == IR_VAL_PARAM) return r->first_write[u->id] >= p;
  if (u->kind != IR_VAL_NODE) return false;
  return r->last[r->root[u->id]] >= p;
}

static IrValue *add_op(Remat *r, const IrOpDef *op, IrValue **in, int nin, const char *name,
                       SmLoc loc) {
  if (r->nadded == MAX_NEW) return NULL;
  const char *names[1] = {name && !ir_graph_find(r->g, name) ? name : NULL};
  IrNode *x = ir_add_node(r->g, op, in, nin, names, 1, loc);
  r->added[r->nadded++] = x;
  return x->out[0];
}

static IrValue *add(Remat *r, const char *op, IrValue **in, int nin, const char *name, SmLoc loc) {
  return add_op(r, ir_op_find(op), in, nin, name, loc);
}

/* the copies' shapes are those of the originals: a failure is a bug */
static bool infer(Remat *r, IrValue *v) {
  if (!v) return false;
  SM_ASSERT(ir_infer_node(v->def, r->d));
  return true;
}

/* batchnorm_train's y from x, scale, bias and the saved statistics */
static IrValue *copy_bn(Remat *r, const IrNode *bn, IrValue *const *in, const char *name) {
  IrValue *x = in[0], *scale = in[1], *bias = in[2], *mean = bn->out[3], *invstd = bn->out[4];
  SmLoc loc = bn->loc;
  IrValue *a = add(r, "mul", (IrValue *[]){scale, invstd}, 2, NULL, loc);
  if (!infer(r, a)) return NULL;
  IrValue *ma = add(r, "mul", (IrValue *[]){mean, a}, 2, NULL, loc);
  if (!infer(r, ma)) return NULL;
  IrValue *sh = add(r, "sub", (IrValue *[]){bias, ma}, 2, NULL, loc);
  if (!infer(r, sh)) return NULL;
  /* [C] -> [C,1,...]: broadcast over dim 1 of x */
  int64_t dims[IR_MAX_RANK];
  dims[0] = x->type.dims[1];
  for (int i = 1; i < x->type.rank - 1; i++) dims[i] = 1;
  IrValue *bc[2] = {a, sh};
  for (int j = 0; j < 2; j++) {
    bc[j] = add(r, "reshape", (IrValue *[]){bc[j]}, 1, NULL, loc);
    if (!bc[j]) return NULL;
    ir_set_ints(r->g, bc[j]->def, "shape", dims, x->type.rank - 1);
    if (!infer(r, bc[j])) return NULL;
  }
  IrValue *xa = add(r, "mul", (IrValue *[]){x, bc[0]}, 2, NULL, loc);
  if (!infer(r, xa)) return NULL;
  IrValue *y = add(r, "add", (IrValue *[]){xa, bc[1]}, 2, name, loc);
  return infer(r, y) ? y : NULL;
}

/* The copy of v readable at position p (v itself when available there),
 * or NULL when it needs more than `depth` more recomputed ops. */
static IrValue *copy_of(Remat *r, IrValue *v, int p, int depth, bool top) {
  if (!top && available(r, v, p)) return v;
  if (r->copy[v->id]) return r->copy[v->id];
  if (depth == 0 || !cheap(v)) return NULL;
  const IrNode *n = v->def;
  IrValue *in[8];
  if (n->nin > 8) return NULL;
  int nbn = is_bn_train_y(v) ? 3 : n->nin; /* y reads x, scale, bias and the saved statistics */
  for (int i = 0; i < nbn; i++)
    if (!(in[i] = copy_of(r, n->in[i], p, depth - 1, false))) return NULL;
  if (is_bn_train_y(v) && (!available(r, n->out[3], p) || !available(r, n->out[4], p)))
    return NULL;
  char name[256];
  snprintf(name, sizeof name, "%s_remat", v->name);
  IrValue *c;
  if (is_bn_train_y(v)) {
    c = copy_bn(r, n, in, name);
  } else {
    c = add_op(r, n->op, in, n->nin, name, n->loc);
    if (c) ir_copy_attrs(r->g, c->def, n);
    if (!infer(r, c)) c = NULL;
  }
  if (c) r->copy[v->id] = c;
  return c;
}

typedef struct Use {
  IrNode *node;
  int slot;
} Use;

/* Copies v before its late readers; returns false (graph unchanged but for
 * dead values past nvalues0) when there is nothing to do. */
static bool remat_value(Remat *r, IrValue *v, Use **uses, int *nuses) {
  IrGraph *g = r->g;
  int n = g->nnodes, d = v->def->id;
  *nuses = 0;
  /* reading positions, in order: the late ones follow the largest gap */
  int gap = 1, from = -1, prev = d, first = -1;
  for (int k = d + 1; k < n; k++) {
    const IrNode *x = g->nodes[k];
    bool reads = false;
    for (int i = 0; i < x->nin; i++) reads |= x->in[i] == v;
    if (!reads) continue;
    if (first < 0) first = k;
    if (k - prev > gap) gap = k - prev, from = k;
    prev = k;
  }
  if (from < 0 || from == first) return false; /* some reader stays early */
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return false;
  memset(r->copy, 0, sizeof(IrValue *) * (size_t)g->nvalues);
  r->nadded = 0;
  IrValue *c = copy_of(r, v, from, MAX_CHAIN, true);
  if (!c) return false;
  /* the copies go right before the first late reader, in creation order */
  IrNode **order = sm_xcalloc((size_t)(n + r->nadded) + 1, sizeof *order);
  memcpy(order, g->nodes, sizeof *order * (size_t)from);
  memcpy(order + from, r->added, sizeof *order * (size_t)r->nadded);
  memcpy(order + from + r->nadded, g->nodes + from, sizeof *order * (size_t)(n - from));
  memcpy(g->nodes, order, sizeof *order * (size_t)(n + r->nadded));
  free(order);
  for (int k = 0; k < g->nnodes; k++) g->nodes[k]->id = k;
  *uses = sm_xcalloc((size_t)g->nnodes + 1, sizeof **uses);
  for (int k = from + r->nadded; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++)
      if (g->nodes[k]->in[i] == v) {
        g->nodes[k]->in[i] = c;
        (*uses)[(*nuses)++] = (Use){g->nodes[k], i};
      }
  return true;
}

static int by_bytes_desc(const void *a, const void *b) {
  const IrValue *x = *(IrValue *const *)a, *y = *(IrValue *const *)b;
  int64_t bx = value_bytes(x), by = value_bytes(y);
  if (bx != by) return bx < by ? 1 : -1;
  return x->id - y->id;
}

SmStatus pass_remat_log(IrGraph *g, SmDiag *d, SmBuf *log) {
  Remat r = {.g = g, .d = d};
  SmStatus st = pass_fuse(g, d);
  if (st != SM_OK) return st;
  int64_t base = pass_plan_peak(g), best = base;
  /* candidates: cheap values of the graph as given */
  int nc = 0;
  IrValue **cand = sm_xcalloc((size_t)g->nvalues + 1, sizeof *cand);
  for (int i = 0; i < g->nvalues; i++) {
    IrValue *v = g->values[i];
    if (cheap(v) && !(v->def->op->flags & IR_OPF_VIEW) && value_bytes(v) * 64 >= base)
      cand[nc++] = v;
  }
  qsort(cand, (size_t)nc, sizeof *cand, by_bytes_desc);
  int kept = 0, tried = 0;
  for (int c = 0; c < nc; c++) {
    int n0 = g->nnodes, nv0 = g->nvalues;
    size_t cap = (size_t)nv0 + 1;
    r.last = sm_xcalloc(cap, sizeof *r.last);
    r.root = sm_xcalloc(cap, sizeof *r.root);
    r.first_write = sm_xcalloc(cap, sizeof *r.first_write);
    r.copy = sm_xcalloc(cap + MAX_NEW, sizeof *r.copy);
    analyze(&r);
    IrNode **save = sm_xcalloc((size_t)n0 + 1, sizeof *save);
    memcpy(save, g->nodes, sizeof *save * (size_t)n0);
    Use *uses = NULL;
    int nuses = 0;
    bool changed = remat_value(&r, cand[c], &uses, &nuses);
    int64_t peak = best;
    if (changed) {
      tried++;
      st = pass_fuse(g, d);
      peak = pass_plan_peak(g);
    }
    if (changed && st == SM_OK && peak < best) {
      best = peak;
      kept++;
    } else {
      /* undo: the late readers read v again, the copies leave the graph */
      for (int u = 0; u < nuses; u++) uses[u].node->in[uses[u].slot] = cand[c];
      memcpy(g->nodes, save, sizeof *save * (size_t)n0);
      g->nnodes = n0;
      ir_truncate_values(g, nv0);
      for (int k = 0; k < n0; k++) g->nodes[k]->id = k;
    }
    free(uses);
    free(save);
    free(r.last);
    free(r.root);
    free(r.first_write);
    free(r.copy);
    if (st != SM_OK) break;
  }
  free(cand);
  for (int k = 0; k < g->nnodes; k++) g->nodes[k]->anchor = NULL;
  if (log && st == SM_OK)
    sm_buf_printf(log, "  remat: peak %lld -> %lld bytes, %d of %d values recomputed\n",
                  (long long)base, (long long)best, kept, tried);
  return st;
}

SmStatus pass_remat(IrGraph *g, SmDiag *d) { return pass_remat_log(g, d, NULL); }
