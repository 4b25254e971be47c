/* Shape inference and the whole-graph verifier: unique names, SSA and
 * topological order, operand counts, attribute schemas, shape rules. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static bool attr_kind_ok(IrAttrKind want, IrAttrKind got) {
  if (want == got) return true;
  switch (want) {
  case IR_ATTR_FLOAT: return got == IR_ATTR_INT;
  case IR_ATTR_INTS: return got == IR_ATTR_INT;
  case IR_ATTR_FLOATS:
    return got == IR_ATTR_INT || got == IR_ATTR_FLOAT || got == IR_ATTR_INTS;
  default: return false;
  }
}

static const char *attr_kind_name(IrAttrKind k) {
  switch (k) {
  case IR_ATTR_INT: return "an integer";
  case IR_ATTR_FLOAT: return "a number";
  case IR_ATTR_INTS: return "a list of integers";
  case IR_ATTR_FLOATS: return "a list of numbers";
  case IR_ATTR_STR: return "a string";
  }
  return "?";
}

static bool check_attrs(const IrNode *n, SmDiag *d) {
  bool ok = true;
  const IrAttrSpec *spec = n->op->attrs;
  for (int i = 0; i < n->nattr; i++) {
    const IrAttr *a = &n->attrs[i];
    const IrAttrSpec *s = NULL;
    for (int k = 0; spec && spec[k].name; k++)
      if (strcmp(spec[k].name, a->name) == 0) s = &spec[k];
    if (!s) {
      SmBuf known = {0};
      for (int k = 0; spec && spec[k].name; k++)
        sm_buf_printf(&known, "%s%s", k ? ", " : "", spec[k].name);
      sm_error(d, a->loc, "%s: unknown attribute '%s' (%s%s)", n->op->name,
               a->name, known.len ? "known: " : "it takes no attributes",
               sm_buf_str(&known));
      sm_buf_free(&known);
      ok = false;
    } else if (!attr_kind_ok(s->kind, a->kind)) {
      sm_error(d, a->loc, "%s: attribute '%s' must be %s", n->op->name, a->name,
               attr_kind_name(s->kind));
      ok = false;
    }
  }
  for (int k = 0; spec && spec[k].name; k++)
    if (spec[k].required && !ir_attr(n, spec[k].name)) {
      sm_error(d, n->loc, "%s: missing required attribute '%s'", n->op->name,
               spec[k].name);
      ok = false;
    }
  return ok;
}

bool ir_infer_node(IrNode *n, SmDiag *d) {
  const IrOpDef *op = n->op;
  if (n->nin < op->min_in || n->nin > op->max_in) {
    if (op->min_in == op->max_in)
      sm_error(d, n->loc, "%s: expects %d operand%s, got %d", op->name,
               op->min_in, op->min_in == 1 ? "" : "s", n->nin);
    else
      sm_error(d, n->loc, "%s: expects %d to %d operands, got %d", op->name,
               op->min_in, op->max_in, n->nin);
    return false;
  }
  if (n->nout != op->nout) {
    sm_error(d, n->loc, "%s: produces %d result%s, %d named", op->name,
             op->nout, op->nout == 1 ? "" : "s", n->nout);
    return false;
  }
  if (!(op->flags & IR_OPF_ANY_ATTRS) && !check_attrs(n, d)) return false;
  IrType out[8];
  SM_ASSERT(n->nout <= 8);
  memset(out, 0, sizeof out);
  if (!op->infer(n, out, d)) return false;
  for (int i = 0; i < n->nout; i++) {
    if (ir_type_numel(&out[i]) < 0) {
      sm_error(d, n->loc, "%s: result '%s' has too many elements", op->name,
               n->out[i]->name);
      return false;
    }
    n->out[i]->type = out[i];
  }
  return true;
}

bool ir_verify(const IrGraph *g, SmDiag *d) {
  int before = d->nerrors;
  /* defined[v->id]: value is available at this point of the node list */
  bool *defined = sm_xcalloc((size_t)g->nvalues + 1, 1);
  if (!ir_graph_index_ok(g))
    sm_error(d, (SmLoc){0}, "internal error: a value was renamed behind the name index's back");
  for (int i = 0; i < g->nvalues; i++) {
    IrValue *v = g->values[i];
    SM_ASSERT(v->id == i);
    if (ir_graph_find(g, v->name) != v) /* the first of that name comes earlier */
      sm_error(d, v->loc, "duplicate name '%s'", v->name);
    if (ir_type_numel(&v->type) < 0)
      sm_error(d, v->loc, "'%s' has too many elements or a negative dim", v->name);
  }
  for (int i = 0; i < g->ninputs; i++) defined[g->inputs[i]->id] = true;
  for (int i = 0; i < g->nparams; i++) {
    defined[g->params[i]->id] = true;
    if (!ir_dtype_is_float(g->params[i]->type.dtype) &&
        g->params[i]->init.kind > IR_INIT_CONSTANT)
      sm_error(d, g->params[i]->loc, "parameter '%s': random initializer on %s",
               g->params[i]->name, ir_dtype_name(g->params[i]->type.dtype));
  }
  for (int k = 0; k < g->nnodes; k++) {
    IrNode *n = g->nodes[k];
    bool ok = true;
    for (int i = 0; i < n->nin; i++)
      if (!defined[n->in[i]->id]) {
        sm_error(d, n->loc, "%s: operand '%s' is used before it is defined",
                 n->op->name, n->in[i]->name);
        ok = false;
      }
    if (ok) ir_infer_node(n, d);
    for (int i = 0; i < n->nout; i++) {
      if (defined[n->out[i]->id])
        sm_error(d, n->loc, "'%s' is defined twice", n->out[i]->name);
      defined[n->out[i]->id] = true;
    }
  }
  /* an input overwritten in place must be a parameter that nothing reads
   * afterwards (the schedule is the node order) */
  int *last_read = sm_xcalloc((size_t)g->nvalues + 1, sizeof *last_read);
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) last_read[g->nodes[k]->in[i]->id] = k;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    if (!n->op->inplace) continue;
    for (int o = 0; o < n->nout; o++) {
      int src = n->op->inplace[o];
      if (src < 0 || src >= n->nin) continue;
      const IrValue *v = n->in[src];
      if (v->kind != IR_VAL_PARAM)
        sm_error(d, n->loc, "%s: operand '%s' is updated in place but is not a parameter",
                 n->op->name, v->name);
      for (int j = k + 1; last_read[v->id] > k && j < g->nnodes; j++)
        for (int i = 0; i < g->nodes[j]->nin; i++)
          if (g->nodes[j]->in[i] == v)
            sm_error(d, g->nodes[j]->loc, "%s reads '%s' after %s updated it in place",
                     g->nodes[j]->op->name, v->name, n->op->name);
      for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
          sm_error(d, n->loc, "'%s' is both an output and updated in place", v->name);
    }
  }
  for (int i = 0; i < g->noutputs; i++)
    if (!defined[g->outputs[i]->id])
      sm_error(d, g->outputs[i]->loc, "output '%s' is never defined",
               g->outputs[i]->name);
  if (g->noutputs == 0) sm_error(d, (SmLoc){0}, "graph '%s' has no outputs", g->name);
  free(last_read);
  free(defined);
  return d->nerrors == before;
}
