/* C kernels: fused kernels (a producer with an elementwise epilogue), elementwise loop nests, and literal/OpenMP helpers. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

const char *op_mathfn(IrDType t, const char *base, char *buf, size_t sz) {
  bool f32 = t == IR_F32;
  bool fast = f32 && (!strcmp(base, "exp") || !strcmp(base, "tanh"));
  snprintf(buf, sz, "%s%s%s", fast ? "rt_" : "", base, f32 ? "f" : "");
  return buf;
}


/* A thread team's fork and join cost microseconds (far more on a loaded
 * machine, where a barrier waits for a descheduled thread): loops with
 * less work than ~10^5 simple operations stay serial. */
void emit_omp_for(SmBuf *b, int64_t work, const char *extra) {
  if (work >= 131072)
    sm_buf_printf(b, "  #pragma omp parallel for%s%s\n", extra ? " " : "",
                  extra ? extra : "");
}

static bool same_shape(const IrType *a, const IrType *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

/* Whether text[0, n) uses identifier `name` other than where it is
 * declared (`name = `). */
static bool name_used(const char *text, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i + len <= n; i++) {
    if (strncmp(text + i, name, len) != 0) continue;
    if (i > 0 && (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '_')) continue;
    char c = i + len < n ? text[i + len] : 0;
    if (isalnum((unsigned char)c) || c == '_') continue;
    if (i + len + 3 <= n && strncmp(text + i + len, " = ", 3) == 0) continue;
    return true;
  }
  return false;
}

/* Drops the `(void)NAME;` lines written to b since offset `from` whose
 * NAME is used there anyway (they only silence unused-variable warnings);
 * only the NAMEs starting with `prefix` (NULL: all). */
static void drop_used_voids(SmBuf *b, size_t from, const char *prefix) {
  size_t n = b->len - from;
  char *t = sm_xmalloc(n + 1);
  memcpy(t, b->s + from, n + 1);
  b->len = from;
  b->s[from] = 0;
  for (size_t r = 0; r < n;) {
    size_t e = r;
    while (e < n && t[e] != '\n') e++;
    if (e < n) e++; /* the line t[r, e) with its newline */
    size_t p = r;
    while (p < e && t[p] == ' ') p++;
    bool drop = false;
    char name[64];
    size_t nl = e - p > 8 ? e - p - 8 : 0; /* "(void)" NAME ";\n" */
    if (nl && nl < sizeof name && !strncmp(t + p, "(void)", 6) && !strncmp(t + e - 2, ";\n", 2) &&
        (!prefix || !strncmp(t + p + 6, prefix, strlen(prefix)))) {
      memcpy(name, t + p + 6, nl);
      name[nl] = 0;
      drop = name_used(t, r, name) || name_used(t + e, n - e, name);
    }
    if (!drop) sm_buf_printf(b, "%.*s", (int)(e - r), t + r);
    r = e;
  }
  free(t);
}

/* Elementwise loop nest for one op or a fused chain of them (all members
 * share the output shape). Operands from outside the group are loaded once
 * per element (broadcast operands through their own strides), members are
 * computed into locals, and only escaping results are stored. When every
 * operand is output-shaped (or a single element) one flat loop suffices. */
void ew_emit_group(SmBuf *b, IrNode *const *mem, int nm, IrValue *const *ext, int next,
                   IrValue *const *outs, int nouts) {
  const IrType *ot = &mem[nm - 1]->out[0]->type;
  int64_t numel = ir_numel(ot);
  int r = ot->rank;
  bool flat = true;
  for (int k = 0; k < next; k++)
    if (!same_shape(&ext[k]->type, ot) && ir_numel(&ext[k]->type) != 1) flat = false;
  if (r == 0) flat = true;
  size_t from = b->len;
  /* a derivative expression may not read every operand */
  for (int k = 0; k < next; k++) sm_buf_printf(b, "  (void)in%d;\n", k);
  int ind;
  SmBuf idx = {0};
  if (flat) {
    emit_omp_for(b, numel, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)numel);
    ind = 4;
    sm_buf_puts(&idx, "i");
  } else {
    int64_t ost[IR_MAX_RANK];
    ir_strides(ot, ost);
    emit_omp_for(b, numel, r > 1 ? "collapse(2)" : NULL);
    for (int dim = 0; dim < r; dim++)
      sm_buf_printf(b, "%*sfor (int64_t i%d = 0; i%d < %lld; i%d++)\n", 2 + 2 * dim, "", dim,
                    dim, (long long)ot->dims[dim], dim);
    sm_buf_printf(b, "%*s{\n", 2 + 2 * r, "");
    ind = 4 + 2 * r;
    for (int dim = 0; dim < r; dim++)
      sm_buf_printf(&idx, "%s%lld*i%d", dim ? " + " : "", (long long)ost[dim], dim);
  }
  /* loads of outside operands */
  for (int k = 0; k < next; k++) {
    const IrType *t = &ext[k]->type;
    sm_buf_printf(b, "%*sconst %s v%d = in%d[", ind, "", ir_dtype_ctype(t->dtype), k, k);
    if (ir_numel(t) == 1) sm_buf_puts(b, "0");
    else if (flat || same_shape(t, ot)) sm_buf_puts(b, idx.s);
    else {
      int64_t st[IR_MAX_RANK];
      ir_strides(t, st);
      bool any = false;
      for (int dim = 0; dim < r; dim++) {
        int td = dim - (r - t->rank);
        if (td < 0 || t->dims[td] == 1) continue;
        sm_buf_printf(b, "%s%lld*i%d", any ? " + " : "", (long long)st[td], dim);
        any = true;
      }
      if (!any) sm_buf_puts(b, "0");
    }
    sm_buf_printf(b, "];\n%*s(void)v%d;\n", ind, "", k);
  }
  /* members in order; arguments name loads (vK) or earlier members (tJ).
   * By value id: the member computing it (tJ) and the first load (vK). */
  int maxid = 0;
  for (int j = 0; j < nm; j++) {
    if (mem[j]->out[0]->id > maxid) maxid = mem[j]->out[0]->id;
    for (int a = 0; a < mem[j]->nin; a++)
      if (mem[j]->in[a]->id > maxid) maxid = mem[j]->in[a]->id;
  }
  for (int k = 0; k < next; k++)
    if (ext[k]->id > maxid) maxid = ext[k]->id;
  int *tnum = sm_xmalloc(sizeof(int) * (size_t)(maxid + 1) * 2), *vnum = tnum + maxid + 1;
  for (int i = 0; i <= maxid; i++) tnum[i] = vnum[i] = -1;
  for (int k = next - 1; k >= 0; k--)
    if (ext[k]->id >= 0) vnum[ext[k]->id] = k;
  char names[8][24];
  const char *args[8];
  for (int j = 0; j < nm; j++) {
    const IrNode *n = mem[j];
    SM_ASSERT(n->nin <= 8);
    for (int a = 0; a < n->nin; a++) {
      int id = n->in[a]->id, found = id >= 0 ? tnum[id] : -1;
      if (found >= 0) snprintf(names[a], sizeof names[a], "t%d", found);
      else if (nm == 1) snprintf(names[a], sizeof names[a], "v%d", a); /* ext = operands */
      else {
        int k = id >= 0 ? vnum[id] : -1;
        SM_ASSERT(k >= 0 && ext[k] == n->in[a]);
        snprintf(names[a], sizeof names[a], "v%d", k);
      }
      args[a] = names[a];
    }
    sm_buf_printf(b, "%*sconst %s t%d = ", ind, "", ir_dtype_ctype(n->out[0]->type.dtype), j);
    n->op->c->expr(b, n, args);
    sm_buf_printf(b, ";\n%*s(void)t%d;\n", ind, "", j);
    int oid = n->out[0]->id;
    if (oid >= 0 && tnum[oid] < 0) tnum[oid] = j;
  }
  for (int o = 0; o < nouts; o++) {
    int j = outs[o]->id >= 0 && outs[o]->id <= maxid ? tnum[outs[o]->id] : -1;
    SM_ASSERT(j >= 0 && mem[j]->out[0] == outs[o]);
    sm_buf_printf(b, "%*sout%d[%s] = t%d;\n", ind, "", o, idx.s, j);
  }
  free(tnum);
  sm_buf_printf(b, "%*s}\n", ind - 2, "");
  sm_buf_free(&idx);
  drop_used_voids(b, from, NULL);
}

void ew_emit(SmBuf *b, const IrNode *n) {
  IrNode *mem[1] = {(IrNode *)n};
  ew_emit_group(b, mem, 1, n->in, n->nin, n->out, 1);
}


/* ---- fused kernels: producer + elementwise epilogue (kernel.h) ---- */

bool op_epilogue_root(const IrNode *n) {
  if (n->nout != 1 || n->op->inplace || !ir_dtype_is_float(n->out[0]->type.dtype)) return false;
  return n->op->c && n->op->c->epilogue;
}

bool op_epilogue_in_registers(const IrNode *n) {
  return op_epilogue_root(n) && n->op->c->in_registers && n->op->c->in_registers(n);
}

static int epi_in_index(const OpEpilogue *e, const IrValue *v) {
  for (int i = 0; i < e->nin; i++)
    if (e->ins[i] == v) return i;
  SM_ASSERT(!"epilogue operand not among the kernel's inputs");
  return -1;
}

/* Offset in operand t (broadcast to ot) of the element at flat index o of ot. */
static void bcast_index(SmBuf *b, const IrType *t, const IrType *ot, const char *o) {
  if (ir_numel(t) == 1) {
    sm_buf_puts(b, "0");
    return;
  }
  if (ir_type_eq(t, ot) || ir_numel(t) == ir_numel(ot)) {
    sm_buf_puts(b, o);
    return;
  }
  int64_t ost[IR_MAX_RANK], st[IR_MAX_RANK];
  ir_strides(ot, ost);
  ir_strides(t, st);
  int r = ot->rank;
  bool any = false;
  for (int d = 0; d < r; d++) {
    int td = d - (r - t->rank);
    if (td < 0 || t->dims[td] == 1) continue;
    if (any) sm_buf_puts(b, " + ");
    any = true;
    if (d == 0) sm_buf_printf(b, "(%s) / %lld", o, (long long)ost[d]);
    else if (ost[d] == 1) sm_buf_printf(b, "(%s) %% %lld", o, (long long)ot->dims[d]);
    else sm_buf_printf(b, "(%s) / %lld %% %lld", o, (long long)ost[d], (long long)ot->dims[d]);
    if (st[td] != 1) sm_buf_printf(b, " * %lld", (long long)st[td]);
  }
  if (!any) sm_buf_puts(b, "0");
}

static int epi_out_index(const OpEpilogue *e, const IrValue *v) {
  for (int k = 0; k < e->nouts; k++)
    if (e->outs[k] == v) return k;
  SM_ASSERT(!"epilogue result not among the kernel's results");
  return -1;
}

/* whether v is a result of an optimizer update among the members */
static bool update_result(const OpEpilogue *e, const IrValue *v) {
  for (int j = 0; j < e->nm; j++)
    if (opt_is_update(e->mem[j]))
      for (int o = 0; o < e->mem[j]->nout; o++)
        if (e->mem[j]->out[o] == v) return true;
  return false;
}

void ew_emit_epilogue_elem(SmBuf *b, int ind, const OpEpilogue *e, const char *acc,
                           const char *o, bool store_prod) {
  const IrValue *pv = e->prod->out[0];
  const IrType *ot = &pv->type;
  size_t from = b->len;
  /* loads of the members' outside operands (each once) */
  int nin = 0;
  int loaded[64];
  char names[8][24];
  const char *args[8];
  for (int j = 0; j < e->nm; j++) {
    const IrNode *n = e->mem[j];
    SM_ASSERT(n->nin <= 8);
    for (int a = 0; a < n->nin; a++) {
      const IrValue *v = n->in[a];
      int found = -1;
      for (int q = 0; q < j && found < 0; q++)
        if (e->mem[q]->out[0] == v) found = q;
      if (v == pv || found >= 0) continue;
      /* an update's scalars after its gradient (lr, step): its prelude
       * reads them, once per kernel */
      if (opt_is_update(n) && a > opt_grad_operand(n)) continue;
      int k = epi_in_index(e, v);
      bool have = false;
      for (int q = 0; q < nin; q++) have |= loaded[q] == k;
      if (have) continue;
      SM_ASSERT(nin < 64);
      loaded[nin++] = k;
      sm_buf_printf(b, "%*sconst %s v%d = in%d[", ind, "", ir_dtype_ctype(v->type.dtype), k, k);
      bcast_index(b, &v->type, ot, o);
      sm_buf_printf(b, "];\n%*s(void)v%d;\n", ind, "", k);
    }
  }
  for (int j = 0; j < e->nm; j++) {
    const IrNode *n = e->mem[j];
    for (int a = 0; a < n->nin; a++) {
      const IrValue *v = n->in[a];
      int found = -1;
      for (int q = 0; q < j && found < 0; q++)
        if (e->mem[q]->out[0] == v) found = q;
      if (found >= 0) snprintf(names[a], sizeof names[a], "t%d", found);
      else if (v == pv) snprintf(names[a], sizeof names[a], "(%s)", acc);
      else snprintf(names[a], sizeof names[a], "v%d", epi_in_index(e, v));
      args[a] = names[a];
    }
    if (opt_is_update(n)) {
      /* an in-place optimizer update (the last member): it stores its
       * results itself, over the operands it has just read */
      char dn[3][48], pfx[16];
      const char *dst[3];
      SM_ASSERT(n->nout <= 3 && j == e->nm - 1);
      for (int r = 0; r < n->nout; r++) {
        snprintf(dn[r], sizeof dn[r], "out%d[%s]", epi_out_index(e, n->out[r]), o);
        dst[r] = dn[r];
      }
      snprintf(pfx, sizeof pfx, "u%d_", j);
      opt_emit_elem(b, ind, n, pfx, args, dst);
      continue;
    }
    sm_buf_printf(b, "%*sconst %s t%d = ", ind, "", ir_dtype_ctype(n->out[0]->type.dtype), j);
    n->op->c->expr(b, n, args);
    sm_buf_printf(b, ";\n%*s(void)t%d;\n", ind, "", j);
  }
  for (int k = 0; k < e->nouts; k++) {
    if (e->outs[k] == pv) {
      if (store_prod) sm_buf_printf(b, "%*sout%d[%s] = %s;\n", ind, "", k, o, acc);
      continue;
    }
    if (update_result(e, e->outs[k])) continue;
    int j = 0;
    while (j < e->nm && e->mem[j]->out[0] != e->outs[k]) j++;
    SM_ASSERT(j < e->nm);
    sm_buf_printf(b, "%*sout%d[%s] = t%d;\n", ind, "", k, o, j);
  }
  drop_used_voids(b, from, NULL);
}

/* Constants of the optimizer updates among the members, at the top of the
 * kernel (named as ew_emit_epilogue_elem uses them). */
static void emit_update_preludes(SmBuf *b, const OpEpilogue *e) {
  for (int j = 0; j < e->nm; j++) {
    const IrNode *n = e->mem[j];
    if (!opt_is_update(n)) continue;
    char names[8][24], pfx[16];
    const char *opnd[8];
    for (int a = 0; a < n->nin; a++) {
      /* the prelude reads the scalars (lr, step) after the gradient */
      if (a > opt_grad_operand(n)) snprintf(names[a], sizeof names[a], "in%d[0]", epi_in_index(e, n->in[a]));
      else snprintf(names[a], sizeof names[a], "0");
      opnd[a] = names[a];
    }
    snprintf(pfx, sizeof pfx, "u%d_", j);
    opt_emit_prelude(b, 2, n, pfx, opnd);
  }
}

/* Horizontal fusion: independent optimizer updates, one loop each, in one
 * kernel (its operands and results are the updates' own). */
static void emit_updates(SmBuf *b, const OpEpilogue *e) {
  size_t from = b->len;
  for (int j = -1; j < e->nm; j++) {
    const IrNode *n = j < 0 ? e->prod : e->mem[j];
    SM_ASSERT(opt_is_update(n) && n->nin <= 8 && n->nout <= 3);
    int in_idx[8], out_idx[3];
    for (int a = 0; a < n->nin; a++) in_idx[a] = epi_in_index(e, n->in[a]);
    for (int r = 0; r < n->nout; r++) out_idx[r] = epi_out_index(e, n->out[r]);
    char pfx[16];
    snprintf(pfx, sizeof pfx, "u%d_", j + 1);
    sm_buf_puts(b, "  {\n");
    opt_emit_loop(b, n, pfx, in_idx, out_idx);
    sm_buf_puts(b, "  }\n");
  }
  drop_used_voids(b, from, "u"); /* the updates' constants (u<j>_...) */
}

void op_emit_fused(SmBuf *b, const OpEpilogue *e) {
  if (opt_is_update(e->prod)) {
    emit_updates(b, e);
    return;
  }
  size_t from = b->len;
  emit_update_preludes(b, e);
  if (e->prod->op->c->emit_fused && e->prod->op->c->emit_fused(b, e)) {
    drop_used_voids(b, from, "u"); /* the updates' constants (u<j>_...) */
    return;
  }
  /* generic: the producer writes out0, then one pass applies the chain;
   * an in-place update among the members needs the product in a buffer
   * of its own (passes/fuse.c fuses it only into the blocked GEMM form) */
  const IrNode *p = e->prod;
  SM_ASSERT(e->outs[0] == p->out[0] || !update_result(e, e->outs[0]));
  for (int i = p->nin; i < e->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
  for (int i = 1; i < e->nouts; i++) sm_buf_printf(b, "  (void)out%d;\n", i);
  sm_buf_puts(b, "  {\n");
  p->op->c->emit(b, p);
  sm_buf_puts(b, "  }\n");
  int64_t numel = ir_numel(&p->out[0]->type);
  if (numel == 0) return;
  sm_buf_printf(b, "  /* epilogue: %d elementwise op%s */\n", e->nm, e->nm > 1 ? "s" : "");
  emit_omp_for(b, numel * (e->nm + 1), NULL);
  sm_buf_printf(b, "  for (int64_t o = 0; o < %lld; o++) {\n", (long long)numel);
  sm_buf_printf(b, "    const %s acc = out0[o];\n", ir_dtype_ctype(p->out[0]->type.dtype));
  ew_emit_epilogue_elem(b, 4, e, "acc", "o", false);
  sm_buf_puts(b, "  }\n");
}

/* ---- the kernel generators of common ---- */

void emit_float(SmBuf *b, double v) { cg_literal(b, IR_F32, v, false); }

void emit_value(SmBuf *b, IrDType t, double v) {
  cg_literal(b, t == IR_F32 ? IR_F32 : IR_F64, v, false);
}
