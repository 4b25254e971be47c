/* Compile a program to a shared object and load it into the test process. */
#ifndef SM_PROGLOAD_H
#define SM_PROGLOAD_H

#include "codegen/codegen.h"
#include "rt_model.h"

typedef struct LoadedProgram {
  void *lib;
  const RtModelDesc *desc;
  char dir[64];
  char so[320];
} LoadedProgram;

/* Compiles (libclang-checked, with `opt` as optimization flags) into a
 * fresh temporary directory, dlopens it and finds NAME_desc; fails the
 * current cmocka test on any error. */
void program_load(const CgProgram *prog, const char *opt, LoadedProgram *lp);
/* dlclose and remove the files. */
void program_unload(LoadedProgram *lp);

#endif
