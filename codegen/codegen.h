/* C/OpenMP code generator and compiler driver. */
#ifndef SM_CODEGEN_H
#define SM_CODEGEN_H

#include "ir/ir.h"

/* Where a value lives in the generated program. */
typedef struct CgSlot {
  int region;    /* RT_REGION_ARENA or RT_REGION_PARAMS */
  size_t offset; /* bytes */
  size_t bytes;
} CgSlot;

typedef struct CgPlan {
  CgSlot *slots; /* by value id */
  size_t arena_bytes, param_bytes;
  size_t naive_bytes; /* every activation in its own buffer */
} CgPlan;

/* Simple liveness-based reuse plan: inputs and outputs get dedicated
 * buffers; intermediates share arena space once dead (greedy by size). */
void cg_plan(const IrGraph *g, CgPlan *p);
void cg_plan_free(CgPlan *p);

typedef struct CgOptions {
  const char *cc;        /* default $CC or "cc" */
  const char *opt;       /* default "-O3 -march=native" */
  bool embed_weights;    /* bake parameters into the C source */
  const IrTensor *params; /* values to embed; NULL: the declared initializers */
  bool check;            /* libclang check of the generated file (default on) */
} CgOptions;

/* Emit `name.h` and `name.c` text for graph g. */
void cg_emit(const IrGraph *g, const CgPlan *p, const CgOptions *o, SmBuf *c,
             SmBuf *h);

/* Parse a generated C file with libclang (-Wall -Wextra); every diagnostic
 * is reported as an internal compiler error naming the kernel and IR node
 * it came from. */
SmStatus cg_check(const IrGraph *g, const char *c_path, const char *c_text,
                  SmDiag *d);

typedef enum CgEmitKind { CG_EXE, CG_C, CG_LIB, CG_SHARED } CgEmitKind;

/* Generate, check and build. out: executable path (CG_EXE, CG_SHARED) or
 * output prefix (CG_C, CG_LIB: writes out.c/out.h [+ libNAME.a]). */
SmStatus cg_compile(const IrGraph *g, CgEmitKind kind, const char *out,
                    const CgOptions *o, SmDiag *d);

/* Runtime locations (env SMELT_RT_INCLUDE / SMELT_RT_LIB override). */
const char *cg_rt_include(void);
const char *cg_rt_lib(void);

#endif
