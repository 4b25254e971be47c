/* Compile a program to a shared object and load it (see progload.h). */
#include "progload.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

typedef const RtModelDesc *(*DescFn)(void);

void program_fns(void *lib, const char *name, ProgramFns *f) {
  static const char *const suffix[] = {"create", "input", "output", "run", "free"};
  void **slot[] = {(void **)&f->create, (void **)&f->input, (void **)&f->output, (void **)&f->run,
                   (void **)&f->destroy};
  for (int i = 0; i < 5; i++) {
    char sym[256];
    snprintf(sym, sizeof sym, "%s_%s", name, suffix[i]);
    *slot[i] = dlsym(lib, sym);
    assert_non_null(*slot[i]);
  }
}

void program_store(void *p, IrDType t, int64_t n, const double *v) {
  for (int64_t i = 0; i < n; i++) {
    if (t == IR_F32) ((float *)p)[i] = (float)v[i];
    else if (t == IR_I64) ((int64_t *)p)[i] = (int64_t)v[i];
    else if (t == IR_F64) ((double *)p)[i] = v[i];
    else if (t == IR_I32) ((int32_t *)p)[i] = (int32_t)v[i];
  }
}

void program_load(const CgProgram *prog, const char *opt, LoadedProgram *lp) {
  memset(lp, 0, sizeof *lp);
  snprintf(lp->dir, sizeof lp->dir, "/tmp/smelt-prog-XXXXXX");
  assert_non_null(mkdtemp(lp->dir));
  snprintf(lp->so, sizeof lp->so, "%s/%s.so", lp->dir, prog->name);
  SmDiag d;
  sm_diag_init(&d);
  CgOptions co = {.check = true, .opt = opt};
  if (cg_compile_program(prog, CG_SHARED, lp->so, &co, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    sm_diag_free(&d);
    fail();
  }
  sm_diag_free(&d);
  lp->lib = dlopen(lp->so, RTLD_NOW | RTLD_LOCAL);
  if (!lp->lib) {
    print_error("dlopen: %s\n", dlerror());
    fail();
  }
  char sym[160];
  snprintf(sym, sizeof sym, "%s_desc", prog->name);
  DescFn descfn;
  *(void **)&descfn = dlsym(lp->lib, sym);
  assert_non_null(*(void **)&descfn);
  lp->desc = descfn();
}

void program_unload(LoadedProgram *lp) {
  if (lp->lib) dlclose(lp->lib);
  unlink(lp->so);
  rmdir(lp->dir);
  memset(lp, 0, sizeof *lp);
}
