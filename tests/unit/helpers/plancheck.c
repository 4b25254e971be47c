/* Memory-plan checker, independent of the planner: recomputes liveness
 * from the graph (fused nodes run at their anchor) and proves that no two
 * buffers alive at the same time overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "codegen/kernels/gemm.h"
#include "plancheck.h"

/* Whether buffers a and b may share storage although both are alive at
 * one kernel: b is written in place over a, which dies in b's kernel. Then
 * both are exactly the same bytes, and every member of that kernel reading
 * a is elementwise and reads it with b's type (the same element index);
 * a producer in the kernel must keep its product in registers until the
 * final store and must not read a. */
static bool in_place(const IrGraph *g, const int *first, const int *last, const int *root,
                     const CgPlan *p, int a, int b) {
  const CgSlot *sa = &p->slots[a], *sb = &p->slots[b];
  if (sa->offset != sb->offset || sa->bytes != sb->bytes || last[a] != first[b]) return false;
  const IrValue *vb = g->values[root[b]]; /* a view's storage is its root's */
  if (vb->kind != IR_VAL_NODE) return false;
  int pos = first[b];
  bool reads = false;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    if ((n->anchor ? n->anchor->id : k) != pos) continue;
    bool ew = n->op->flags & IR_OPF_ELEMENTWISE;
    /* a producer: fused, in registers, not computing b itself */
    if (!ew && (!n->anchor || !op_epilogue_in_registers(n) || n == vb->def)) return false;
    for (int i = 0; i < n->nin; i++) {
      if (root[n->in[i]->id] != root[a]) continue;
      if (!ew || !ir_type_eq(&n->in[i]->type, &vb->type)) return false;
      reads = true;
    }
  }
  return reads;
}

/* Independent plan checker: recompute liveness from the graph and prove
 * that no two arena buffers that are alive at the same time overlap
 * (unless one is written in place over the other as its kernel allows),
 * and that every buffer fits in the arena. */
void plancheck(const IrGraph *g) {
  CgPlan p;
  cg_plan(g, NULL, &p);
  int nv = g->nvalues;
  int *first = malloc(sizeof(int) * (size_t)nv), *last = malloc(sizeof(int) * (size_t)nv);
  for (int i = 0; i < nv; i++) first[i] = last[i] = -2;
  for (int i = 0; i < g->ninputs; i++) {
    first[g->inputs[i]->id] = -1;
    last[g->inputs[i]->id] = g->nnodes;
  }
  /* a fused node runs at its anchor's position */
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    int pos = n->anchor ? n->anchor->id : k;
    for (int o = 0; o < n->nout; o++) first[n->out[o]->id] = last[n->out[o]->id] = pos;
    for (int i = 0; i < n->nin; i++)
      if (last[n->in[i]->id] < pos) last[n->in[i]->id] = pos;
  }
  for (int i = 0; i < g->noutputs; i++) last[g->outputs[i]->id] = g->nnodes;
  /* a view (reshape/flatten) placed exactly on its operand shares that
   * storage on purpose: merge their live ranges into the operand's */
  int *root = malloc(sizeof(int) * (size_t)nv);
  for (int i = 0; i < nv; i++) root[i] = i;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    if (!(n->op->flags & IR_OPF_VIEW)) continue;
    const CgSlot *so = &p.slots[n->out[0]->id], *si = &p.slots[n->in[0]->id];
    if (so->region == si->region && so->offset == si->offset) root[n->out[0]->id] = root[n->in[0]->id];
  }
  for (int i = 0; i < nv; i++)
    if (root[i] != i && first[i] != -2) {
      if (first[root[i]] == -2 || first[i] < first[root[i]]) first[root[i]] = first[i];
      if (last[i] > last[root[i]]) last[root[i]] = last[i];
    }
  for (int i = 0; i < nv; i++)
    if (root[i] != i) {
      first[i] = first[root[i]];
      last[i] = last[root[i]];
    }
  for (int a = 0; a < nv; a++) {
    const CgSlot *sa = &p.slots[a];
    const IrValue *va = g->values[a];
    size_t bytes = (size_t)ir_type_numel(&va->type) * ir_dtype_size(va->type.dtype);
    /* values computed inside a fused kernel have no storage */
    if (va->kind == IR_VAL_NODE && va->def->anchor && sa->bytes == 0) {
      first[a] = -2;
      continue;
    }
    if (va->kind == IR_VAL_NODE && first[a] == -2) continue; /* pruned */
    /* inputs and parameters dropped from the graph's lists (pruned
     * inputs, parameters replaced by fold-bn) */
    if (va->kind == IR_VAL_INPUT && !(va->index < g->ninputs && g->inputs[va->index] == va)) continue;
    if (va->kind == IR_VAL_PARAM && !(va->index < g->nparams && g->params[va->index] == va)) continue;
    assert_true(sa->bytes == bytes);
    if (sa->region == RT_REGION_PARAMS) {
      assert_true(sa->offset + sa->bytes <= p.param_bytes);
      continue;
    }
    assert_true(sa->offset + sa->bytes <= p.arena_bytes);
    assert_true(sa->offset % 64 == 0);
    for (int b = a + 1; b < nv; b++) {
      const CgSlot *sb = &p.slots[b];
      if (sb->region != RT_REGION_ARENA || first[a] == -2 || first[b] == -2) continue;
      if (root[a] == root[b]) continue;
      bool live_together = !(last[a] < first[b] || last[b] < first[a]);
      bool overlap = sa->offset < sb->offset + sb->bytes && sb->offset < sa->offset + sa->bytes;
      if (live_together && overlap && sa->bytes && sb->bytes &&
          !in_place(g, first, last, root, &p, a, b) && !in_place(g, first, last, root, &p, b, a)) {
        print_error("'%s' and '%s' overlap while both alive\n", va->name, g->values[b]->name);
        fail();
      }
    }
  }
  assert_true(p.arena_bytes <= p.naive_bytes);
  free(root);
  free(first);
  free(last);
  cg_plan_free(&p);
}

