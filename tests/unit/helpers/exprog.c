#include "exprog.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "frontend/frontend.h"
#include "plancheck.h"

void exprog_die(const char *file, const char *what, const char *detail) {
  fprintf(stderr, "%s: %s%s%s\n", file, what, detail ? ":\n" : "", detail ? detail : "");
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

static void check_ok(SmStatus st, SmDiag *d, const char *what, const char *file) {
  if (st != SM_OK) exprog_die(file, what, sm_diag_text(d));
}

void exprog_build(ExProg *e, const char *file, const char *opt, bool verify) {
  memset(e, 0, sizeof *e);
  e->file = file;
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s", SMELT_SOURCE_DIR, file);
  SmDiag d;
  sm_diag_init(&d);
  check_ok(sm_read_file(path, &e->src, NULL, &d), &d, "read", file);
  check_ok(fe_parse_text(file, e->src, &e->g, &d), &d, "parse", file);
  if (verify && !ir_verify(e->g, &d)) check_ok(SM_ERR_INVALID, &d, "verify", file);
  TrainProgram *tp = &e->tp;
  check_ok(pass_training_program(e->g, tp, &d), &d, "pass_training_program", file);
  e->prog = tp->eval ? cg_program_train(tp->infer, tp->eval, tp->train, tp->nweights, &tp->desc)
                     : cg_program_steps(tp->infer, tp->steps, tp->step_names, tp->nsteps,
                                        tp->nweights, &tp->desc);
  CgProgram *prog = &e->prog;
  for (int f = 0; f < prog->nfuncs; f++) {
    if (verify && !ir_verify(prog->funcs[f], &d))
      check_ok(SM_ERR_INVALID, &d, prog->fnames[f], file);
    PassOptions po = {.opt_level = 1, .inference = cg_program_is_inference(prog, f),
                      .shared_params = true, .verify = verify};
    check_ok(pass_run_pipeline(prog->funcs[f], &po, &d), &d, "pass pipeline", file);
    if (verify) {
      if (!ir_verify(prog->funcs[f], &d)) check_ok(SM_ERR_INVALID, &d, prog->fnames[f], file);
      plancheck(prog->funcs[f]); /* fused updates, in-place reuse, chosen order */
    }
  }
  snprintf(e->dir, sizeof e->dir, "/tmp/smelt-exprog-XXXXXX");
  if (!mkdtemp(e->dir)) exprog_die(file, "mkdtemp", NULL);
  snprintf(e->so, sizeof e->so, "%s/%s.so", e->dir, e->g->name);
  CgOptions co = {.check = false, .opt = opt};
  check_ok(cg_compile_program(prog, CG_SHARED, e->so, &co, &d), &d, "cg_compile_program", file);
  e->lib = dlopen(e->so, RTLD_NOW | RTLD_LOCAL);
  if (!e->lib) exprog_die(file, "dlopen", dlerror());
  char sym[160];
  snprintf(sym, sizeof sym, "%s_desc", e->g->name);
  const RtModelDesc *(*descfn)(void);
  *(void **)&descfn = dlsym(e->lib, sym);
  if (!*(void **)&descfn) exprog_die(file, "dlsym", sym);
  e->desc = descfn();
  if (!e->desc->train) exprog_die(file, "no training function", NULL);
  e->m = rt_model_create(e->desc);
  if (!e->m) exprog_die(file, "rt_model_create", NULL);
  sm_diag_free(&d);
}

void exprog_free(ExProg *e) {
  rt_model_free(e->m);
  if (e->lib) dlclose(e->lib);
  unlink(e->so);
  rmdir(e->dir);
  train_program_free(&e->tp);
  ir_graph_free(e->g);
  free(e->src);
  memset(e, 0, sizeof *e);
}

bool exprog_selected(const char *file) {
  const char *sel = getenv("SMELT_EXAMPLES");
  if (!sel || !*sel) return true;
  size_t n = strcspn(file, ".");
  for (const char *p = sel; *p;) {
    size_t k = strcspn(p, ",");
    if (k == n && !strncmp(p, file, n)) return true;
    p += k + (p[k] == ',');
  }
  return false;
}
