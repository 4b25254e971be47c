/* One way from a model file to the optimized functions of its program,
 * shared by compile, inspect, run and bench (see pipeline.h). */
#include "pipeline.h"

#include <string.h>

IrGraph *cli_load(const char *path, const FeOptions *fo, char **src, SmDiag *d) {
  IrGraph *g = NULL;
  *src = NULL;
  SmStatus st = fe_is_onnx(path) ? fe_load_onnx(path, fo, &g, d) : fe_load(path, &g, src, d);
  if (st != SM_OK) return NULL;
  if (!ir_verify(g, d)) {
    ir_graph_free(g);
    return NULL;
  }
  return g;
}

SmStatus cli_build(IrGraph *g, const CliBuildOptions *o, CliBuilt *b, SmDiag *d) {
  memset(b, 0, sizeof *b);
  b->train = o->train;
  if (!o->train) {
    /* a model that also declares training drops what only training needs
     * (the loss and the label input) */
    if (ir_directive(g, "train")) ir_prune(g, true);
    b->prog = cg_program_single(g);
  } else {
    if (pass_training_program(g, &b->tp, d) != SM_OK) return SM_ERR_INVALID;
    b->prog = b->tp.eval ? cg_program_train(b->tp.infer, b->tp.eval, b->tp.train, b->tp.nweights,
                                            &b->tp.desc)
                         : cg_program_steps(b->tp.infer, b->tp.steps, b->tp.step_names,
                                            b->tp.nsteps, b->tp.nweights, &b->tp.desc);
  }
  for (int f = 0; f < b->prog.nfuncs && !o->skip_pipeline; f++) {
    if (o->log) sm_buf_printf(o->log, "# function %s\n", b->prog.fnames[f]);
    PassOptions po = {.opt_level = o->opt_level, .inference = cg_program_is_inference(&b->prog, f),
                      .shared_params = o->train, .remat = o->remat,
                      .stop_after = o->stop_after, .log = o->log};
    SmStatus st = pass_run_pipeline(b->prog.funcs[f], &po, d);
    if (st != SM_OK) return st;
  }
  return SM_OK;
}

void cli_built_free(CliBuilt *b) {
  if (b->train) train_program_free(&b->tp);
}
