/* The pass pipeline: one table, run in order. Every entry names what it
 * needs and what it invalidates; with `verify` set (tests, or
 * SMELT_VERIFY_PASSES=1) the verifier runs after every pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes.h"

/* inference only: dropout (IR_CAP_INFER_IDENTITY) is the identity (a
 * dropout defining a graph output becomes an `identity`, so the output
 * keeps its name) */
static SmStatus pass_drop_dropout(IrGraph *g, SmDiag *d) {
  (void)d;
  const IrOpDef *identity = ir_op_find("identity");
  SM_ASSERT(identity);
  for (int k = 0; k < g->nnodes; k++) {
    IrNode *n = g->nodes[k];
    if (!(n->op->caps & IR_CAP_INFER_IDENTITY)) continue;
    bool output = false;
    for (int i = 0; i < g->noutputs; i++) output |= g->outputs[i] == n->out[0];
    if (output) {
      n->op = identity;
      n->nattr = 0;
    } else {
      ir_replace_uses(g, n->out[0], n->in[0]);
    }
  }
  return SM_OK;
}

static SmStatus pass_dce(IrGraph *g, SmDiag *d) {
  (void)d;
  ir_prune(g, false);
  return SM_OK;
}

/* drop-dropout first: it exposes identities to canonicalize; fold-bn
 * after canonicalize, which may fold what feeds a batchnorm; bn-affine
 * turns the batchnorms fold-bn could not fold into elementwise maps; dce removes
 * what the others left dead; schedule picks the node order (trying fusion
 * on each candidate); remat (on request) recomputes cheap values on that
 * order, trying fusion on each candidate; fuse last, on the final node
 * order. */
static const PassInfo pipeline[] = {
    {"drop-dropout", pass_drop_dropout, "inference graph", "nothing (dead nodes remain)", true,
     false, false},
    {"canonicalize", pass_canonicalize, "shapes", "nothing (dead nodes remain)", false, false, false},
    {"fold-bn", pass_fold_bn, "inference graph, parameter values", "parameter list", true, true, false},
    {"bn-affine", pass_bn_affine, "inference graph, shapes", "node order, node ids", true, false,
     false},
    {"dce", pass_dce, "outputs", "node ids", false, false, false},
    {"schedule", pass_schedule, "shapes, dead nodes removed", "node order, node ids", false,
     false, false},
    {"remat", pass_remat, "final node order, shapes", "node order, node ids, fusion groups", false,
     false, true},
    {"fuse", pass_fuse, "final node order", "memory plan", false, false, false},
};

const PassInfo *pass_table(int *n) {
  *n = SM_COUNT(pipeline);
  return pipeline;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int count_kernels(const IrGraph *g) {
  int n = 0;
  for (int k = 0; k < g->nnodes; k++) n += g->nodes[k]->anchor == NULL;
  return n;
}

SmStatus pass_run_pipeline(IrGraph *g, const PassOptions *o, SmDiag *d) {
  bool verify = o->verify || getenv("SMELT_VERIFY_PASSES");
  for (int i = 0; i < SM_COUNT(pipeline); i++) {
    const PassInfo *p = &pipeline[i];
    bool last = o->stop_after && !strcmp(o->stop_after, p->name);
    if (o->opt_level == 0) break;
    if ((p->inference_only && !o->inference) || (p->rewrites_params && o->shared_params) ||
        (p->on_request && !o->remat)) {
      if (last) break;
      continue;
    }
    double t0 = now();
    SmBuf note = {0};
    SmBuf *nl = o->log ? &note : NULL;
    SmStatus st = p->run == pass_schedule ? pass_schedule_log(g, d, nl)
                  : p->run == pass_remat  ? pass_remat_log(g, d, nl)
                                          : p->run(g, d);
    double dt = now() - t0;
    if (o->log) {
      sm_buf_printf(o->log, "%-14s %6d nodes %6d kernels %8.3f ms\n", p->name, g->nnodes,
                    count_kernels(g), dt * 1e3);
      if (note.len) sm_buf_puts(o->log, sm_buf_str(&note));
    }
    sm_buf_free(&note);
    if (st != SM_OK) return st;
    if (verify && !ir_verify(g, d)) {
      sm_error(d, (SmLoc){0}, "internal error: the graph does not verify after pass '%s'", p->name);
      return SM_ERR_INTERNAL;
    }
    if (last) break;
  }
  return SM_OK;
}
