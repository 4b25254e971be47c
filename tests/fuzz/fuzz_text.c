/* libFuzzer target for the text model format: every input is a .smelt
 * file's bytes. It goes the way `smelt inspect` and `smelt compile --emit c`
 * take it: parse, verify, then (when both succeed) the inference pipeline,
 * the training program of a model that declares one, and C emission into
 * memory; nothing is written and no compiler runs. Parsing must return a
 * graph or an error that says why, and nothing may crash, leak or read out
 * of bounds. Build and run with tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS
 * text (see docs/testing.md). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optimize every function of prog and emit its C (then drop the text). */
static void compile(CgProgram *prog, bool train, SmDiag *d) {
  for (int f = 0; f < prog->nfuncs; f++) {
    PassOptions po = {.opt_level = 1, .inference = cg_program_is_inference(prog, f),
                      .shared_params = train, .verify = true};
    if (pass_run_pipeline(prog->funcs[f], &po, d) != SM_OK) return;
  }
  CgOptions co = {0};
  SmBuf c = {0}, h = {0};
  cg_emit(prog, &co, &c, &h);
  sm_buf_free(&c);
  sm_buf_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1); /* the parser reads NUL-terminated text */
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  SmStatus s = fe_parse_text("fuzz.smelt", text, &g, &d);
  if ((s == SM_OK) != (g != NULL)) __builtin_trap();
  if (s != SM_OK && d.nerrors == 0) __builtin_trap(); /* a failure always says why */
  if (g && ir_verify(g, &d)) {
    if (ir_directive(g, "train") || ir_directive(g, "step")) {
      TrainProgram tp = {0};
      if (pass_training_program(g, &tp, &d) == SM_OK) {
        CgProgram prog = tp.eval ? cg_program_train(tp.infer, tp.eval, tp.train, tp.nweights,
                                                    &tp.desc)
                                 : cg_program_steps(tp.infer, tp.steps, tp.step_names,
                                                    tp.nsteps, tp.nweights, &tp.desc);
        compile(&prog, true, &d);
      }
      train_program_free(&tp);
      ir_prune(g, true); /* the inference view, as `smelt compile` takes it */
    }
    CgProgram prog = cg_program_single(g);
    compile(&prog, false, &d);
  }
  ir_graph_free(g);
  sm_diag_free(&d);
  free(text);
  return 0;
}
