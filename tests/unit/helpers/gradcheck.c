/* Gradient checks against central finite differences. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "opcheck.h"
#include "passes/passes.h"
#include "rt.h"

GradcheckOpts gradcheck_defaults(void) {
  return (GradcheckOpts){.lo = -2, .hi = 2, .ilo = 0, .ihi = 9, .eps = 1e-6, .rtol = 1e-4,
                         .atol = 1e-6, .max_elems = 24, .compile = true, .seed = 3};
}

GradcheckOpts gradcheck_range(double lo, double hi) {
  GradcheckOpts o = gradcheck_defaults();
  o.lo = lo;
  o.hi = hi;
  return o;
}

GradcheckOpts gradcheck_ints(int64_t lo, int64_t hi) {
  GradcheckOpts o = gradcheck_defaults();
  o.ilo = lo;
  o.ihi = hi;
  return o;
}

void gradcheck(const char *text) {
  GradcheckOpts o = gradcheck_defaults();
  gradcheck_opts(text, &o);
}

/* Parse and append L = sum_k sum(out_k * R_k); R_k become extra inputs.
 * Returns the graph with L as its only output. */
static IrGraph *with_loss(const char *text, int *nr) {
  IrGraph *g = opcheck_parse(text);
  SmDiag d;
  sm_diag_init(&d);
  SmLoc loc = {0};
  IrValue *total = NULL;
  int nouts = g->noutputs;
  *nr = 0;
  for (int k = 0; k < nouts; k++) {
    IrValue *o = g->outputs[k];
    if (!ir_dtype_is_float(o->type.dtype)) continue;
    char name[32];
    snprintf(name, sizeof name, "__r%d", k);
    IrValue *r = ir_add_input(g, name, o->type, loc);
    (*nr)++;
    IrValue *mi[2] = {o, r};
    IrNode *m = ir_add_node(g, ir_op_find("mul"), mi, 2, NULL, 1, loc);
    assert_true(ir_infer_node(m, &d));
    IrNode *s = ir_add_node(g, ir_op_find("reduce_sum"), &m->out[0], 1, NULL, 1, loc);
    ir_set_int(g, s, "keepdims", 0);
    assert_true(ir_infer_node(s, &d));
    if (!total) {
      total = s->out[0];
    } else {
      IrValue *ai[2] = {total, s->out[0]};
      IrNode *a = ir_add_node(g, ir_op_find("add"), ai, 2, NULL, 1, loc);
      assert_true(ir_infer_node(a, &d));
      total = a->out[0];
    }
  }
  assert_non_null(total);
  g->noutputs = 0;
  ir_add_output(g, total);
  sm_diag_free(&d);
  return g;
}

static double eval_loss(const IrGraph *g, const IrTensor *ins, IrTensor *params) {
  IrTensor out;
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(ir_interpret(g, ins, params, &out, &d), SM_OK);
  double v = out.d[0];
  ir_tensor_free(&out);
  sm_diag_free(&d);
  return v;
}

void gradcheck_opts(const char *text, const GradcheckOpts *o) {
  int nr;
  IrGraph *fwd = with_loss(text, &nr);
  IrGraph *g = with_loss(text, &nr);
  /* wrt: float inputs (not the R's) and float params */
  IrValue *wrt[64];
  int nwrt = 0;
  for (int i = 0; i < g->ninputs - nr; i++)
    if (ir_dtype_is_float(g->inputs[i]->type.dtype)) wrt[nwrt++] = g->inputs[i];
  for (int i = 0; i < g->nparams; i++)
    if (ir_dtype_is_float(g->params[i]->type.dtype)) wrt[nwrt++] = g->params[i];
  assert_true(nwrt > 0 && nwrt < 64);
  IrValue *grads[64];
  SmDiag d;
  sm_diag_init(&d);
  if (pass_grad(g, g->outputs[0], wrt, nwrt, grads, &d) != SM_OK) {
    print_error("autodiff failed:\n%s", sm_diag_text(&d));
    fail();
  }
  for (int i = 0; i < nwrt; i++) ir_add_output(g, grads[i]);
  if (!ir_verify(g, &d)) {
    print_error("gradient graph does not verify:\n%s", sm_diag_text(&d));
    fail();
  }

  /* inputs (shared by both graphs: same input list and order) */
  IrTensor *ins = random_inputs(g, o->lo, o->hi, o->ilo, o->ihi, o->seed, false);
  IrTensor *params = calloc((size_t)g->nparams + 1, sizeof *params);
  ir_init_params(g, params);
  IrTensor *outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
  assert_int_equal(ir_interpret(g, ins, params, outs, &d), SM_OK);

  int bad = 0;
  for (int w = 0; w < nwrt; w++) {
    IrValue *v = wrt[w];
    IrTensor *t = v->kind == IR_VAL_INPUT ? &ins[v->index] : &params[v->index];
    int64_t n = t->numel, step = n <= o->max_elems ? 1 : n / o->max_elems;
    for (int64_t k = 0; k < n; k += step) {
      double saved = t->d[k];
      t->d[k] = saved + o->eps;
      double lp = eval_loss(fwd, ins, params);
      t->d[k] = saved - o->eps;
      double lm = eval_loss(fwd, ins, params);
      t->d[k] = saved;
      double num = (lp - lm) / (2 * o->eps), ana = outs[1 + w].d[k];
      double scale = fabs(num) > fabs(ana) ? fabs(num) : fabs(ana);
      if (!(fabs(num - ana) <= o->atol + o->rtol * scale) && bad++ < 8)
        print_error("d/d %s[%lld]: autodiff %.9g, finite difference %.9g\n", v->name,
                    (long long)k, ana, num);
    }
  }
  if (bad) {
    SmBuf b = {0};
    ir_print(&b, g);
    print_error("%d gradient mismatches for:\n%s\ngradient graph:\n%s", bad, text, sm_buf_str(&b));
    sm_buf_free(&b);
    fail();
  }
  if (o->compile) {
    /* the printed gradient graph, compiled, agrees with the interpreter */
    SmBuf b = {0};
    ir_print(&b, g);
    OpcheckOpts oo = opcheck_defaults();
    oo.lo = o->lo;
    oo.hi = o->hi;
    oo.ilo = o->ilo;
    oo.ihi = o->ihi;
    oo.rtol = 1e-4;
    oo.atol = 1e-5;
    opcheck_opts(sm_buf_str(&b), &oo);
    sm_buf_free(&b);
  }
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&ins[i]);
  for (int i = 0; i < g->nparams; i++) ir_tensor_free(&params[i]);
  for (int i = 0; i < g->noutputs; i++) ir_tensor_free(&outs[i]);
  free(ins);
  free(params);
  free(outs);
  sm_diag_free(&d);
  ir_graph_free(fwd);
  ir_graph_free(g);
}
