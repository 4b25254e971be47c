/* Reverse-mode automatic differentiation on the IR.
 * requires: shapes; invalidates: schedule, memory plan.
 *
 * Walks the nodes between the wrt values and the loss in reverse order,
 * asking each op's registry entry for its gradient rule. Rules emit ordinary
 * IR ops, so every later pass (fusion, planning, codegen) treats forward and
 * backward alike. Gradients of values with several users are summed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/kernel.h"
#include "passes.h"

/* Which of (inputs..., y, dy) the derivative w.r.t. input `wrt` reads:
 * found by rendering the expression with marker names. */
static int64_t ew_needed(const IrNode *n, int wrt) {
  char names[8][16];
  const char *args[8];
  int full = n->nin + 2;
  for (int i = 0; i < full; i++) {
    snprintf(names[i], sizeof names[i], "@%d@", i);
    args[i] = names[i];
  }
  SmBuf b = {0};
  n->op->c->dexpr(&b, n, args, wrt);
  int64_t need = (int64_t)1 << (full - 1); /* dy, always */
  for (int i = 0; i < full; i++)
    if (strstr(sm_buf_str(&b), names[i])) need |= (int64_t)1 << i;
  sm_buf_free(&b);
  return need;
}

bool ir_ew_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                IrValue **din) {
  if (!dout[0]) return true;
  IrValue *all[8];
  SM_ASSERT(n->nin + 2 <= 8);
  for (int i = 0; i < n->nin; i++) all[i] = n->in[i];
  all[n->nin] = n->out[0];
  all[n->nin + 1] = dout[0];
  for (int i = 0; i < n->nin; i++) {
    if (!ir_grad_needed(cx, n, i)) continue;
    int64_t need = ew_needed(n, i);
    IrValue *in[8];
    int nin = 0;
    for (int k = 0; k < n->nin + 2; k++)
      if (need >> k & 1) in[nin++] = all[k];
    IrNode *g = ir_grad_node(cx, "ew_grad", in, nin, 1);
    ir_copy_attrs(cx->g, g, n);
    ir_set_str(cx->g, g, "op", n->op->name);
    ir_set_int(cx->g, g, "wrt", i);
    ir_set_int(cx->g, g, "need", need);
    din[i] = ir_grad_unbroadcast(cx, ir_grad_finish(cx, g), &n->in[i]->type);
  }
  return true;
}

/* values reachable forward from wrt (restricted to float dtypes) */
static void mark_requires(const IrGraph *g, IrValue *const *wrt, int nwrt, bool *req) {
  for (int i = 0; i < nwrt; i++) req[wrt[i]->id] = true;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    bool any = false;
    for (int i = 0; i < n->nin; i++) any |= req[n->in[i]->id];
    if (!any || (n->op->flags & IR_OPF_NOGRAD)) continue;
    for (int o = 0; o < n->nout; o++)
      if (ir_dtype_is_float(n->out[o]->type.dtype)) req[n->out[o]->id] = true;
  }
}

/* values the loss depends on */
static void mark_needed(const IrGraph *g, int last, const IrValue *loss, bool *need) {
  need[loss->id] = true;
  for (int k = last - 1; k >= 0; k--) {
    const IrNode *n = g->nodes[k];
    bool any = false;
    for (int o = 0; o < n->nout; o++) any |= need[n->out[o]->id];
    if (any)
      for (int i = 0; i < n->nin; i++) need[n->in[i]->id] = true;
  }
}

SmStatus pass_grad(IrGraph *g, IrValue *loss, IrValue *const *wrt, int nwrt,
                   IrValue **grads, SmDiag *d) {
  if (ir_type_numel(&loss->type) != 1 || !ir_dtype_is_float(loss->type.dtype)) {
    char s[IR_TYPE_STRLEN];
    sm_error(d, loss->loc, "loss '%s' must be a float scalar, got %s", loss->name,
             ir_type_str(&loss->type, s, sizeof s));
    return SM_ERR_INVALID;
  }
  int nfwd = g->nnodes;
  /* arrays sized generously: backward nodes add values as we go */
  size_t cap = (size_t)g->nvalues + 1;
  bool *req = sm_xcalloc(cap, 1), *need = sm_xcalloc(cap, 1);
  mark_requires(g, wrt, nwrt, req);
  mark_needed(g, nfwd, loss, need);
  IrValue **gr = sm_xcalloc(cap, sizeof *gr);
  IrGradCtx cx = {.g = g, .d = d, .requires = req, .loc = loss->loc};
  gr[loss->id] = ir_grad_fill(&cx, &loss->type, 1.0);
  SmStatus st = SM_OK;
  for (int k = nfwd - 1; k >= 0; k--) {
    IrNode *n = g->nodes[k];
    IrValue *dout[8] = {0}, *din[16] = {0};
    bool any_out = false, any_in = false;
    for (int o = 0; o < n->nout; o++) {
      dout[o] = need[n->out[o]->id] ? gr[n->out[o]->id] : NULL;
      any_out |= dout[o] != NULL;
    }
    for (int i = 0; i < n->nin; i++) any_in |= req[n->in[i]->id];
    if (!any_out || !any_in) continue;
    if (!n->op->grad) {
      for (int i = 0; i < n->nin; i++)
        if (req[n->in[i]->id]) {
          sm_error(d, n->loc, "%s is not differentiable, but the gradient of the loss "
                   "'%s' flows through its operand '%s'", n->op->name, loss->name,
                   n->in[i]->name);
          break;
        }
      st = SM_ERR_UNSUPPORTED;
      continue;
    }
    cx.loc = n->loc;
    cx.failed = false;
    if (!n->op->grad(&cx, n, dout, din) || cx.failed) {
      st = SM_ERR_UNSUPPORTED;
      continue;
    }
    for (int i = 0; i < n->nin; i++) {
      IrValue *v = n->in[i];
      if (!din[i] || !req[v->id]) continue;
      SM_ASSERT(ir_type_eq(&din[i]->type, &v->type));
      if (!gr[v->id]) {
        gr[v->id] = din[i];
      } else {
        IrValue *two[2] = {gr[v->id], din[i]};
        gr[v->id] = ir_grad_op(&cx, "add", two, 2);
      }
    }
  }
  for (int i = 0; i < nwrt && st == SM_OK; i++) {
    cx.loc = wrt[i]->loc;
    grads[i] = gr[wrt[i]->id] ? gr[wrt[i]->id] : ir_grad_fill(&cx, &wrt[i]->type, 0.0);
  }
  free(req);
  free(need);
  free(gr);
  return st;
}
