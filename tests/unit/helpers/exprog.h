/* An example's training program built as `smelt compile --train` builds
 * it (training program, then the -O1 pass pipeline of each function),
 * compiled to a shared object and loaded, with one model instance. For
 * suites that run examples in child processes: any failure prints what
 * failed and ends the process with _exit(1). */
#ifndef SM_EXPROG_H
#define SM_EXPROG_H

#include <stdbool.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "rt_model.h"

typedef struct ExProg {
  const char *file; /* examples/FILE */
  char *src;
  IrGraph *g;       /* the model as parsed */
  TrainProgram tp;
  CgProgram prog;
  void *lib;
  const RtModelDesc *desc;
  RtModel *m;
  char dir[64], so[256];
} ExProg;

/* verify: ir_verify around the pipeline, the verifier after every pass
 * and the independent memory-plan check of every function. opt: gcc
 * flags for the program. */
void exprog_build(ExProg *e, const char *file, const char *opt, bool verify);
void exprog_free(ExProg *e);
/* Whether examples/FILE is among SMELT_EXAMPLES=a,b,... (file stems; all
 * when unset or empty). */
bool exprog_selected(const char *file);
/* Prints `file: what[:\n detail]` and _exit(1)s. */
void exprog_die(const char *file, const char *what, const char *detail);

#endif
