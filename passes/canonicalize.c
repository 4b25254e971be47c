/* Canonicalization: constant folding, common-subexpression elimination,
 * algebraic identities and no-op removal, repeated to a fixed point.
 * requires: shapes; invalidates: nothing (dead nodes remain for dce).
 *
 *  - folding: a node whose operands are all `constant` nodes is evaluated
 *    with its reference kernel and becomes a `constant` node itself (same
 *    result value, so names and uses stay). A result whose elements are all
 *    equal is stored as one splatted value; any other result is folded only
 *    up to FOLD_MAX_ELEMS elements, so big tensors are not written into the
 *    generated source. Values are rounded to the result dtype (folding an
 *    f32 expression rounds once instead of after every op);
 *  - CSE: a node with the same op, operands and attributes as an earlier one
 *    is replaced by it; constants only up to CSE_MAX_CONSTANT elements (a
 *    bigger one is cheaper to fill again than to keep alive in the arena);
 *  - identities: x*1, 1*x, x+0, 0+x, x-0, x/1 (when the constant does not
 *    broadcast x to a larger shape), identity(x), reshape/flatten to x's own
 *    shape, reshape∘reshape (one reshape of the original), transpose∘
 *    transpose (one transpose, or nothing when the perms cancel), identity
 *    perms, expand to x's own shape, one-operand concat, all-zero pads, and
 *    slices that keep everything. Each op says which apply in its registry
 *    entry: IrOpDef.neutral (x*1), IR_CAP_NOOP with noop_attr (pads all 0),
 *    IR_OPF_VIEW (reshape chains), IR_CAP_PERMUTE (transpose chains).
 *
 * What never changes: graph outputs keep their names (a node defining an
 * output is never replaced by another value), in-place updates are never
 * touched, and no use of a value moves across an in-place update of it
 * (values written in place are neither CSE operands nor substitutes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define FOLD_MAX_ELEMS 1024       /* non-uniform folded results */
#define FOLD_MAX_WORK (1 << 20)   /* elements a folded node may read or write */
#define CSE_MAX_CONSTANT 16       /* bigger constants are refilled, not kept alive */

typedef struct Canon {
  IrGraph *g;
  const IrOpDef *constant, *reshape;
  bool *output;  /* by value id: a graph output */
  bool *written; /* by value id: overwritten in place by some node */
  bool *dead;    /* by node index: every result was replaced */
  /* by value id: the value replacing it (NULL: none). Uses are rewritten
   * lazily: a node's operands when it is visited (node order is
   * topological, so only later nodes read a replaced result), every node's
   * at the end of the round. */
  IrValue **fwd;
  int nfwd;
  bool changed;
} Canon;

static IrValue *resolve(const Canon *c, IrValue *v) {
  while (v->id < c->nfwd && c->fwd[v->id]) v = c->fwd[v->id];
  return v;
}

/* Every later use of y reads x (graph outputs are never replaced). */
static void forward(Canon *c, IrValue *y, IrValue *x) {
  if (y->id >= c->nfwd) {
    int n = y->id * 2 + 16;
    c->fwd = sm_xrealloc(c->fwd, sizeof *c->fwd * (size_t)n);
    memset(c->fwd + c->nfwd, 0, sizeof *c->fwd * (size_t)(n - c->nfwd));
    c->nfwd = n;
  }
  c->fwd[y->id] = x;
}

static bool is_constant_op(const IrOpDef *op) { return (op->caps & IR_CAP_CONSTANT) != 0; }

static bool is_constant(const Canon *c, const IrValue *v) {
  (void)c;
  return v->kind == IR_VAL_NODE && is_constant_op(v->def->op);
}

/* The element value of a constant all of whose elements are equal. */
static bool splat_value(const Canon *c, const IrValue *v, double *out) {
  if (!is_constant(c, v)) return false;
  const IrAttr *a = ir_attr(v->def, "value");
  if (!a) return false;
  switch (a->kind) {
  case IR_ATTR_INT: *out = (double)a->i; return true;
  case IR_ATTR_FLOAT: *out = a->f; return true;
  case IR_ATTR_INTS:
    for (int i = 1; i < a->n; i++)
      if (a->ints[i] != a->ints[0]) return false;
    *out = (double)a->ints[0];
    return a->n > 0;
  case IR_ATTR_FLOATS:
    for (int i = 1; i < a->n; i++)
      if (a->floats[i] != a->floats[0]) return false;
    *out = a->floats[0];
    return a->n > 0;
  default: return false;
  }
}

static bool is_splat(const Canon *c, const IrValue *v, double want) {
  double x;
  return splat_value(c, v, &x) && x == want;
}

/* Every use of y becomes x, unless that would rename a graph output or
 * move a read of x across an in-place update of x. */
static bool replace(Canon *c, IrNode *n, IrValue *y, IrValue *x) {
  if (c->output[y->id] || c->written[x->id] || !ir_type_eq(&y->type, &x->type)) return false;
  forward(c, y, x);
  c->dead[n->id] = true; /* single-result nodes only */
  c->changed = true;
  return true;
}

/* ---- constant folding ---- */

static IrTensor eval_constant(const IrValue *v) {
  IrTensor t = ir_tensor_new(v->type);
  v->def->op->ref(v->def, NULL, &t);
  return t;
}

static bool fold(Canon *c, IrNode *n) {
  if (is_constant_op(n->op) || n->nout != 1 || n->nin == 0 || n->op->inplace || !n->op->ref)
    return false;
  int64_t work = ir_numel(&n->out[0]->type);
  for (int i = 0; i < n->nin; i++) {
    if (!is_constant(c, n->in[i])) return false;
    work += ir_numel(&n->in[i]->type);
  }
  if (work > FOLD_MAX_WORK) return false;
  IrTensor in[32], out;
  SM_ASSERT(n->nin <= 32);
  for (int i = 0; i < n->nin; i++) in[i] = eval_constant(n->in[i]);
  out = ir_tensor_new(n->out[0]->type);
  n->op->ref(n, in, &out);
  for (int i = 0; i < n->nin; i++) ir_tensor_free(&in[i]);
  if (out.type.dtype == IR_F32) /* as the program stores it */
    for (int64_t i = 0; i < out.numel; i++) out.d[i] = (double)(float)out.d[i];
  bool uniform = true;
  for (int64_t i = 1; i < out.numel && uniform; i++) uniform = out.d[i] == out.d[0];
  bool ok = uniform || out.numel <= FOLD_MAX_ELEMS;
  if (ok) {
    /* turn n itself into the constant; keep what it was in case the values
     * are not representable (NaN, out of range) */
    IrNode saved = *n; /* its attrs array is left untouched */
    const IrType t = n->out[0]->type;
    n->op = c->constant;
    n->nin = 0;
    n->attrs = NULL;
    n->nattr = n->capattr = 0;
    ir_set_ints(c->g, n, "shape", t.dims, t.rank);
    ir_set_floats(c->g, n, "value", out.d, uniform ? (out.numel ? 1 : 0) : (int)out.numel);
    ir_set_str(c->g, n, "dtype", ir_dtype_name(t.dtype));
    SmDiag quiet;
    sm_diag_init(&quiet);
    ok = out.numel > 0 && ir_infer_node(n, &quiet) && ir_type_eq(&n->out[0]->type, &t);
    sm_diag_free(&quiet);
    if (!ok) {
      *n = saved;
      n->out[0]->type = t;
    }
  }
  ir_tensor_free(&out);
  if (ok) c->changed = true;
  return ok;
}

/* ---- identities ---- */

static int perm_of(const IrNode *n, int64_t *perm) {
  int r = n->in[0]->type.rank;
  if (ir_attr_ints(n, "perm", perm, IR_MAX_RANK) < 0)
    for (int k = 0; k < r; k++) perm[k] = r - 1 - k;
  return r;
}

/* a view: its result is its operand's elements in order, reshaped */
static bool is_reshape_like(const IrNode *n) { return (n->op->flags & IR_OPF_VIEW) != 0; }

/* n = reshape(x, shape=its own result dims): the explicit form, with no 0
 * or -1 that refers to the operand */
static void make_reshape(Canon *c, IrNode *n, IrValue *x) {
  IrType t = n->out[0]->type;
  n->op = c->reshape;
  n->in[0] = x;
  n->nattr = 0;
  ir_set_ints(c->g, n, "shape", t.dims, t.rank);
  SmDiag quiet;
  sm_diag_init(&quiet);
  SM_ASSERT(ir_infer_node(n, &quiet) && ir_type_eq(&n->out[0]->type, &t));
  sm_diag_free(&quiet);
  c->changed = true;
}

static bool simplify(Canon *c, IrNode *n) {
  if (n->nout != 1 || n->nin < 1) return false;
  IrValue *y = n->out[0], *a = n->in[0], *b = n->nin > 1 ? n->in[1] : NULL;
  const IrOpDef *op = n->op;
  /* x op e, e op x (IrOpDef.neutral) */
  if (b && (op->neutral_side & IR_SIDE_RIGHT) && is_splat(c, b, op->neutral) &&
      ir_type_eq(&a->type, &y->type))
    return replace(c, n, y, a);
  if (b && (op->neutral_side & IR_SIDE_LEFT) && is_splat(c, a, op->neutral) &&
      ir_type_eq(&b->type, &y->type))
    return replace(c, n, y, b);
  /* ops that may leave their operand as it is (IrOpDef.noop_attr) */
  if (op->caps & IR_CAP_NOOP) {
    if (!ir_type_eq(&a->type, &y->type)) goto chains;
    if ((op->caps & IR_CAP_NOOP_UNARY) && n->nin != 1) return false;
    if (op->noop_attr) {
      int64_t v[2 * IR_MAX_RANK];
      int cnt = ir_attr_ints(n, op->noop_attr, v, 2 * IR_MAX_RANK);
      for (int i = 0; i < cnt && i < 2 * IR_MAX_RANK; i++)
        if (v[i] != op->noop_unit) return false;
    }
    return replace(c, n, y, a);
  }
chains:
  if (is_reshape_like(n) && a->kind == IR_VAL_NODE && is_reshape_like(a->def) &&
      !c->written[a->def->in[0]->id]) {
    make_reshape(c, n, a->def->in[0]);
    return true;
  }
  if (op->caps & IR_CAP_PERMUTE) {
    int64_t p[IR_MAX_RANK], q[IR_MAX_RANK];
    int r = perm_of(n, p);
    IrValue *x = a;
    if (a->kind == IR_VAL_NODE && a->def->op == op && !c->written[a->def->in[0]->id]) {
      /* y[j] = a[p[j]] = x[q[p[j]]] */
      perm_of(a->def, q);
      int64_t pq[IR_MAX_RANK];
      for (int j = 0; j < r; j++) pq[j] = q[p[j]];
      memcpy(p, pq, sizeof pq);
      x = a->def->in[0];
    }
    bool ident = true;
    for (int j = 0; j < r; j++) ident &= p[j] == j;
    if (ident) return replace(c, n, y, x);
    if (x != a) {
      n->in[0] = x;
      ir_set_ints(c->g, n, "perm", p, r);
      c->changed = true;
      return true;
    }
  }
  return false;
}

/* ---- common subexpressions ---- */

static bool attr_eq(const IrAttr *a, const IrAttr *b) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case IR_ATTR_INT: return a->i == b->i;
  case IR_ATTR_FLOAT: return a->f == b->f;
  case IR_ATTR_STR: return !strcmp(a->s, b->s);
  case IR_ATTR_INTS:
    return a->n == b->n && (a->n == 0 || !memcmp(a->ints, b->ints, sizeof *a->ints * (size_t)a->n));
  case IR_ATTR_FLOATS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (a->floats[i] != b->floats[i]) return false;
    return true;
  }
  return false;
}

static bool same_node(const IrNode *a, const IrNode *b) {
  if (a->op != b->op || a->nin != b->nin || a->nout != b->nout || a->nattr != b->nattr) return false;
  for (int i = 0; i < a->nin; i++)
    if (a->in[i] != b->in[i]) return false;
  for (int i = 0; i < a->nattr; i++) {
    const IrAttr *o = ir_attr(b, a->attrs[i].name);
    if (!o || !attr_eq(&a->attrs[i], o)) return false;
  }
  for (int o = 0; o < a->nout; o++)
    if (!ir_type_eq(&a->out[o]->type, &b->out[o]->type)) return false;
  return true;
}

static uint64_t node_hash(const IrNode *n) {
  uint64_t h = (uint64_t)(uintptr_t)n->op * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < n->nin; i++) h = (h ^ (uint64_t)n->in[i]->id) * 0x100000001B3ull;
  h ^= (uint64_t)n->nattr << 7;
  /* constants differ only by attributes: mix in the first value */
  const IrAttr *v = ir_attr(n, "value");
  if (v && v->kind == IR_ATTR_FLOATS && v->n > 0) {
    double f = v->floats[0];
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    h = (h ^ bits) * 0x100000001B3ull;
  }
  return h ^ (h >> 29);
}

/* Replaces n by an equal earlier node from the table, or adds it. */
static void cse(Canon *c, IrNode *n, IrNode **table, uint64_t mask) {
  if (n->op->inplace) return;
  if (is_constant_op(n->op) && ir_numel(&n->out[0]->type) > CSE_MAX_CONSTANT) return;
  for (int i = 0; i < n->nin; i++)
    if (c->written[n->in[i]->id]) return;
  for (uint64_t s = node_hash(n) & mask;; s = (s + 1) & mask) {
    IrNode *m = table[s];
    if (!m) {
      table[s] = n;
      return;
    }
    if (!same_node(m, n)) continue;
    bool outputs = false;
    for (int o = 0; o < n->nout; o++) outputs |= c->output[n->out[o]->id];
    if (outputs) return;
    for (int o = 0; o < n->nout; o++) forward(c, n->out[o], m->out[o]);
    c->dead[n->id] = true;
    c->changed = true;
    return;
  }
}

SmStatus pass_canonicalize(IrGraph *g, SmDiag *d) {
  (void)d;
  Canon c = {.g = g, .constant = ir_op_find("constant"), .reshape = ir_op_find("reshape")};
  SM_ASSERT(c.constant && c.reshape);
  for (int round = 0; round < 16; round++) {
    for (int k = 0; k < g->nnodes; k++) g->nodes[k]->id = k;
    c.output = sm_xcalloc((size_t)g->nvalues + 1, 1);
    c.written = sm_xcalloc((size_t)g->nvalues + 1, 1);
    c.dead = sm_xcalloc((size_t)g->nnodes + 1, 1);
    for (int i = 0; i < g->noutputs; i++) c.output[g->outputs[i]->id] = true;
    for (int k = 0; k < g->nnodes; k++) {
      const IrNode *n = g->nodes[k];
      for (int o = 0; n->op->inplace && o < n->nout; o++)
        if (n->op->inplace[o] >= 0) c.written[n->in[n->op->inplace[o]]->id] = true;
    }
    uint64_t size = 16;
    while (size < 2 * (uint64_t)g->nnodes) size *= 2;
    IrNode **table = sm_xcalloc(size, sizeof *table);
    c.changed = false;
    int n0 = g->nnodes;
    for (int k = 0; k < n0; k++) {
      IrNode *n = g->nodes[k];
      for (int i = 0; i < n->nin; i++) n->in[i] = resolve(&c, n->in[i]);
      if (n->op->inplace) continue;
      if (simplify(&c, n) && c.dead[k]) continue;
      fold(&c, n);
      cse(&c, n, table, size - 1);
    }
    for (int k = 0; k < g->nnodes; k++)
      for (int i = 0; i < g->nodes[k]->nin; i++)
        g->nodes[k]->in[i] = resolve(&c, g->nodes[k]->in[i]);
    for (int i = 0; i < g->noutputs; i++) g->outputs[i] = resolve(&c, g->outputs[i]);
    free(c.fwd);
    c.fwd = NULL;
    c.nfwd = 0;
    free(table);
    free(c.output);
    free(c.written);
    free(c.dead);
    if (!c.changed) break;
  }
  return SM_OK;
}
