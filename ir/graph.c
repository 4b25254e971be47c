/* Tensor types, graph construction and attribute access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static const struct {
  const char *name, *ctype;
  size_t size;
} dtypes[IR_NDTYPE] = {
    [IR_F32] = {"f32", "float", 4},      [IR_F64] = {"f64", "double", 8},
    [IR_I64] = {"i64", "int64_t", 8},    [IR_I32] = {"i32", "int32_t", 4},
    [IR_U8] = {"u8", "uint8_t", 1},      [IR_BOOL] = {"bool", "uint8_t", 1},
};

const char *ir_dtype_name(IrDType t) { return t < IR_NDTYPE ? dtypes[t].name : "?"; }
const char *ir_dtype_ctype(IrDType t) { return t < IR_NDTYPE ? dtypes[t].ctype : "?"; }
size_t ir_dtype_size(IrDType t) { return t < IR_NDTYPE ? dtypes[t].size : 0; }
bool ir_dtype_is_float(IrDType t) { return t == IR_F32 || t == IR_F64; }

bool ir_dtype_parse(const char *s, size_t n, IrDType *out) {
  for (int i = 0; i < IR_NDTYPE; i++)
    if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0) {
      *out = (IrDType)i;
      return true;
    }
  return false;
}

int64_t ir_type_numel(const IrType *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) {
    /* every dim is bounded too, so products of any subset of dims (strides
     * of empty tensors included) stay far from overflow */
    if (t->dims[i] < 0 || t->dims[i] > IR_MAX_NUMEL) return -1;
    if (t->dims[i] != 0 && n > IR_MAX_NUMEL / t->dims[i]) return -1;
    n *= t->dims[i];
  }
  return n;
}

int64_t ir_numel(const IrType *t) { return ir_type_numel(t); }

void ir_strides(const IrType *t, int64_t *strides) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= t->dims[i];
  }
}

bool ir_type_eq(const IrType *a, const IrType *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

IrType ir_type_make(IrDType dt, int rank, const int64_t *dims) {
  IrType t = {.dtype = dt, .rank = rank};
  SM_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
  for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
  return t;
}

const char *ir_type_str(const IrType *t, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "%s[", ir_dtype_name(t->dtype));
  for (int i = 0; i < t->rank && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "",
                          (long long)t->dims[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

bool ir_broadcast(const IrType *a, const IrType *b, IrType *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  IrType t = {.dtype = a->dtype, .rank = r};
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) return false;
    t.dims[i] = da == 1 ? db : da;
  }
  *out = t;
  return true;
}

bool ir_norm_axis(int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank) return false;
  *out = (int)(axis < 0 ? axis + rank : axis);
  return true;
}

static const char *init_names[IR_NINIT] = {
    "zeros",         "ones",           "constant",
    "normal",        "uniform",        "xavier_uniform",
    "xavier_normal", "he_uniform",     "he_normal",
};
const char *ir_init_name(IrInitKind k) { return k < IR_NINIT ? init_names[k] : "?"; }

/* ---- graph ---- */
IrGraph *ir_graph_new(const char *name) {
  IrGraph *g = sm_xcalloc(1, sizeof *g);
  sm_arena_init(&g->arena);
  g->name = sm_arena_strdup(&g->arena, name ? name : "model");
  g->seed = 42;
  return g;
}

void ir_graph_free(IrGraph *g) {
  if (!g) return;
  free(g->vindex);
  sm_arena_free(&g->arena);
  free(g);
}

/* ---- the name index: linear probing, every value once (duplicate names
 * included, so a rename can uncover the next value of the same name) ---- */
static size_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)(h ^ (h >> 29));
}

static void index_put(IrValue **tab, size_t cap, IrValue *v) {
  size_t i = name_hash(v->name) & (cap - 1);
  while (tab[i]) i = (i + 1) & (cap - 1);
  tab[i] = v;
}

static void index_insert(IrGraph *g, IrValue *v) {
  if (2 * (size_t)g->nvalues > g->vindexcap) { /* v is counted already */
    size_t cap = g->vindexcap ? 2 * g->vindexcap : 64;
    while (2 * (size_t)g->nvalues > cap) cap *= 2;
    IrValue **tab = sm_xcalloc(cap, sizeof *tab);
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i] != v) index_put(tab, cap, g->values[i]);
    free(g->vindex);
    g->vindex = tab;
    g->vindexcap = cap;
  }
  index_put(g->vindex, g->vindexcap, v);
}

/* Removes v, moving later entries of its run back into the gap so every
 * entry stays reachable from its home slot. */
static void index_remove(IrGraph *g, const IrValue *v) {
  size_t mask = g->vindexcap - 1, i = name_hash(v->name) & mask;
  while (g->vindex[i] != v) {
    SM_ASSERT(g->vindex[i] && "value missing from the name index");
    i = (i + 1) & mask;
  }
  g->vindex[i] = NULL;
  for (size_t j = (i + 1) & mask; g->vindex[j]; j = (j + 1) & mask) {
    size_t h = name_hash(g->vindex[j]->name) & mask;
    /* stays when its home lies cyclically in (i, j] */
    bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (stays) continue;
    g->vindex[i] = g->vindex[j];
    g->vindex[j] = NULL;
    i = j;
  }
}

IrValue *ir_graph_find(const IrGraph *g, const char *name) {
  if (!g->vindexcap) return NULL;
  IrValue *best = NULL;
  size_t mask = g->vindexcap - 1;
  for (size_t i = name_hash(name) & mask; g->vindex[i]; i = (i + 1) & mask)
    if ((!best || g->vindex[i]->id < best->id) && strcmp(g->vindex[i]->name, name) == 0)
      best = g->vindex[i];
  return best;
}

void ir_value_rename(IrGraph *g, IrValue *v, const char *name) {
  index_remove(g, v);
  v->name = name;
  index_put(g->vindex, g->vindexcap, v);
}

void ir_truncate_values(IrGraph *g, int n) {
  SM_ASSERT(n >= 0 && n <= g->nvalues);
  while (g->nvalues > n) index_remove(g, g->values[--g->nvalues]);
}

bool ir_graph_index_ok(const IrGraph *g) {
  size_t count = 0;
  for (size_t i = 0; i < g->vindexcap; i++) count += g->vindex[i] != NULL;
  if (count != (size_t)g->nvalues) return false;
  for (int k = 0; k < g->nvalues; k++) {
    const IrValue *v = g->values[k];
    size_t mask = g->vindexcap - 1, i = name_hash(v->name) & mask;
    while (g->vindex[i] && g->vindex[i] != v) i = (i + 1) & mask;
    if (!g->vindex[i]) return false;
  }
  return true;
}

static IrValue *new_value(IrGraph *g, const char *name, IrValKind kind,
                          SmLoc loc) {
  IrValue *v = sm_arena_alloc(&g->arena, sizeof *v);
  v->id = g->nvalues;
  v->name = name ? sm_arena_strdup(&g->arena, name)
                 : sm_arena_printf(&g->arena, "t%d", g->nvalues);
  v->kind = kind;
  v->loc = loc;
  SM_VEC_PUSH(&g->arena, g->values, g->nvalues, g->capvalues, v);
  index_insert(g, v);
  return v;
}

IrValue *ir_add_input(IrGraph *g, const char *name, IrType t, SmLoc loc) {
  IrValue *v = new_value(g, name, IR_VAL_INPUT, loc);
  v->type = t;
  v->index = g->ninputs;
  SM_VEC_PUSH(&g->arena, g->inputs, g->ninputs, g->capinputs, v);
  return v;
}

IrValue *ir_add_param(IrGraph *g, const char *name, IrType t, IrInit init,
                      SmLoc loc) {
  IrValue *v = new_value(g, name, IR_VAL_PARAM, loc);
  v->type = t;
  v->init = init;
  v->index = g->nparams;
  SM_VEC_PUSH(&g->arena, g->params, g->nparams, g->capparams, v);
  return v;
}

IrNode *ir_add_node(IrGraph *g, const IrOpDef *op, IrValue **in, int nin,
                    const char **out_names, int nout, SmLoc loc) {
  IrNode *n = sm_arena_alloc(&g->arena, sizeof *n);
  n->op = op;
  n->id = g->nnodes;
  n->loc = loc;
  n->nin = nin;
  n->in = sm_arena_alloc(&g->arena, sizeof(IrValue *) * (size_t)(nin ? nin : 1));
  for (int i = 0; i < nin; i++) n->in[i] = in[i];
  n->nout = nout;
  n->out = sm_arena_alloc(&g->arena, sizeof(IrValue *) * (size_t)(nout ? nout : 1));
  for (int i = 0; i < nout; i++) {
    IrValue *v = new_value(g, out_names ? out_names[i] : NULL, IR_VAL_NODE, loc);
    v->def = n;
    v->def_out = i;
    n->out[i] = v;
  }
  SM_VEC_PUSH(&g->arena, g->nodes, g->nnodes, g->capnodes, n);
  return n;
}

void ir_add_output(IrGraph *g, IrValue *v) {
  SM_VEC_PUSH(&g->arena, g->outputs, g->noutputs, g->capoutputs, v);
}

/* ---- attributes ---- */
static IrAttr *attr_slot(IrGraph *g, IrNode *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) {
      IrAttr *a = &n->attrs[i];
      SmLoc loc = a->loc;
      memset(a, 0, sizeof *a);
      a->name = sm_arena_strdup(&g->arena, name);
      a->loc = loc;
      return a;
    }
  IrAttr a = {.name = sm_arena_strdup(&g->arena, name), .loc = n->loc};
  SM_VEC_PUSH(&g->arena, n->attrs, n->nattr, n->capattr, a);
  return &n->attrs[n->nattr - 1];
}

IrAttr *ir_set_int(IrGraph *g, IrNode *n, const char *name, int64_t v) {
  IrAttr *a = attr_slot(g, n, name);
  a->kind = IR_ATTR_INT;
  a->i = v;
  return a;
}

IrAttr *ir_set_float(IrGraph *g, IrNode *n, const char *name, double v) {
  IrAttr *a = attr_slot(g, n, name);
  a->kind = IR_ATTR_FLOAT;
  a->f = v;
  return a;
}

/* the slot of a list attribute of `cnt` elements (values set by the caller) */
static IrAttr *attr_list(IrGraph *g, IrNode *n, const char *name, IrAttrKind kind, int cnt) {
  IrAttr *a = attr_slot(g, n, name);
  a->kind = kind;
  a->n = cnt;
  return a;
}

IrAttr *ir_set_ints(IrGraph *g, IrNode *n, const char *name, const int64_t *v,
                    int cnt) {
  IrAttr *a = attr_list(g, n, name, IR_ATTR_INTS, cnt);
  a->ints = sm_arena_memdup(&g->arena, v, sizeof(int64_t) * (size_t)cnt);
  return a;
}

IrAttr *ir_set_floats(IrGraph *g, IrNode *n, const char *name, const double *v,
                      int cnt) {
  IrAttr *a = attr_list(g, n, name, IR_ATTR_FLOATS, cnt);
  a->floats = sm_arena_memdup(&g->arena, v, sizeof(double) * (size_t)cnt);
  return a;
}

IrAttr *ir_set_str(IrGraph *g, IrNode *n, const char *name, const char *s) {
  IrAttr *a = attr_slot(g, n, name);
  a->kind = IR_ATTR_STR;
  a->s = sm_arena_strdup(&g->arena, s);
  return a;
}

const IrAttr *ir_attr(const IrNode *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t ir_attr_int(const IrNode *n, const char *name, int64_t dflt) {
  const IrAttr *a = ir_attr(n, name);
  if (!a) return dflt;
  if (a->kind == IR_ATTR_FLOAT) return (int64_t)a->f;
  return a->kind == IR_ATTR_INT ? a->i : dflt;
}

double ir_attr_float(const IrNode *n, const char *name, double dflt) {
  const IrAttr *a = ir_attr(n, name);
  if (!a) return dflt;
  if (a->kind == IR_ATTR_INT) return (double)a->i;
  return a->kind == IR_ATTR_FLOAT ? a->f : dflt;
}

const char *ir_attr_str(const IrNode *n, const char *name, const char *dflt) {
  const IrAttr *a = ir_attr(n, name);
  return a && a->kind == IR_ATTR_STR ? a->s : dflt;
}

int ir_attr_ints(const IrNode *n, const char *name, int64_t *out, int max) {
  const IrAttr *a = ir_attr(n, name);
  if (!a) return -1;
  if (a->kind == IR_ATTR_INT) {
    if (max > 0) out[0] = a->i;
    return 1;
  }
  if (a->kind != IR_ATTR_INTS) return -1;
  for (int i = 0; i < a->n && i < max; i++) out[i] = a->ints[i];
  return a->n;
}

void ir_copy_attrs(IrGraph *g, IrNode *to, const IrNode *from) {
  for (int i = 0; i < from->nattr; i++) {
    const IrAttr *a = &from->attrs[i];
    switch (a->kind) {
    case IR_ATTR_INT: ir_set_int(g, to, a->name, a->i); break;
    case IR_ATTR_FLOAT: ir_set_float(g, to, a->name, a->f); break;
    case IR_ATTR_INTS: ir_set_ints(g, to, a->name, a->ints, a->n); break;
    case IR_ATTR_FLOATS: ir_set_floats(g, to, a->name, a->floats, a->n); break;
    case IR_ATTR_STR: ir_set_str(g, to, a->name, a->s); break;
    }
  }
}

IrDirective *ir_add_directive(IrGraph *g, const char *kind, const char *arg, SmLoc loc) {
  IrDirective dv = {.kind = sm_arena_strdup(&g->arena, kind),
                    .arg = arg ? sm_arena_strdup(&g->arena, arg) : NULL,
                    .attrs = sm_arena_alloc(&g->arena, sizeof(IrNode)),
                    .loc = loc};
  dv.attrs->loc = loc;
  SM_VEC_PUSH(&g->arena, g->dirs, g->ndirs, g->capdirs, dv);
  return &g->dirs[g->ndirs - 1];
}

IrDirective *ir_directive(const IrGraph *g, const char *kind) {
  for (int i = 0; i < g->ndirs; i++)
    if (strcmp(g->dirs[i].kind, kind) == 0) return &g->dirs[i];
  return NULL;
}
