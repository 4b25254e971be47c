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
/* The entry points NAME_create, _input, _output, _run and _free of a
 * single-function program in lib; fails the current test if one is
 * missing. */
typedef struct ProgramFns {
  void *(*create)(void);
  void *(*input)(void *, int);
  const void *(*output)(const void *, int);
  void (*run)(void *);
  void (*destroy)(void *);
} ProgramFns;
void program_fns(void *lib, const char *name, ProgramFns *f);

/* v[0..n) into a program's f32, f64, i64 or i32 buffer p of dtype t
 * (other dtypes: left as they are). */
void program_store(void *p, IrDType t, int64_t n, const double *v);

/* dlclose and remove the files. */
void program_unload(LoadedProgram *lp);

#endif
