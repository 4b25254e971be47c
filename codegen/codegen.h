/* C/OpenMP code generator and compiler driver. */
#ifndef SM_CODEGEN_H
#define SM_CODEGEN_H

#include "ir/ir.h"
#include "rt_model.h"

/* Where a value lives in the generated program. */
typedef struct CgSlot {
  int region;    /* RT_REGION_ARENA or RT_REGION_PARAMS */
  size_t offset; /* bytes */
  size_t bytes;
} CgSlot;

/* One generated function: an unfused node, or a fused group of nodes. */
typedef struct CgKernel {
  IrNode *anchor; /* the last member; the kernel runs at its position */
  IrNode **mem;   /* members in order (anchor last) */
  int nm;
  IrValue **ins;  /* operands read from buffers (in0..) */
  int nin;
  IrValue **outs; /* results written to buffers (out0..) */
  int nout;
} CgKernel;

/* root[v] for every value id: the value whose buffer v names (itself
 * unless v is the result of an alias: a view op (reshape, flatten) whose
 * result simply names its operand's buffer, with no kernel and no memory
 * of its own), in one pass. */
void cg_alias_roots(const IrGraph *g, int *root);

/* Bytes of the GEMM workspace g's kernels pack into (the largest any one
 * needs; it follows the planned activations in the arena). */
size_t cg_workspace_bytes(const IrGraph *g);
/* The kernel schedule of g (after pass_fuse). Returns the count. */
int cg_kernels(const IrGraph *g, CgKernel **out);
void cg_kernels_free(CgKernel *ks, int nk);
/* The kernel's C function name (fn: the function's name, NULL for the
 * first function, whose kernels are unprefixed). */
void cg_kernel_name(SmBuf *b, const char *fn, const CgKernel *K);
/* Floating-point operations of gemm, matmul and convolutions (forward and
 * gradient ops; multiply-add = 2); 0 for every other op. */
double cg_node_gemm_flops(const IrNode *n);
/* A kernel's FLOPs: its members' gemm FLOPs, one per result element for
 * the others (_gemm_: the gemm FLOPs alone); bytes its operands and
 * results occupy. */
double cg_kernel_flops(const CgKernel *K);
double cg_kernel_gemm_flops(const CgKernel *K);
double cg_kernel_bytes(const CgKernel *K);

/* A kernel's plan, decided before any text is written (codegen/kernels):
 * how its body computes, the workspace it packs into, and for the GEMM
 * forms the product and the grid of its AVX-512 variant. */
typedef struct CgKernelPlan {
  const char *form;        /* "loops", "elementwise", "GEMM, ...", ... */
  int64_t ws_floats;       /* workspace (floats; 0: none, no `ws` parameter) */
  int64_t M, N, K, nbatch; /* the GEMM product (0: none) */
  int64_t tasks, mc, nc, kc; /* its parallel tasks and blocks */
} CgKernelPlan;
void cg_kernel_plan(const CgKernel *K, CgKernelPlan *p);
/* One line summing up the plan (for `smelt inspect --kernels`). */
void cg_kernel_plan_str(SmBuf *b, const CgKernel *K);
/* Writes the statements of K's body as planned. */
void cg_kernel_body(SmBuf *b, const CgKernel *K);
/* The definitions the kernel text `kernels` uses (vector type, FMA and
 * register macros, thread helpers), written once before the kernels. */
void cg_kernel_preamble(SmBuf *b, const char *kernels);

/* The C literal of v as dtype t: "0.5f" (f32, %.9g), "0.5" (f64, %.17g),
 * "3" (integers); in an expression (bare false) negatives are
 * parenthesized and infinities written INFINITY; bare: an initializer
 * element as is. codegen/kernels/literal.c, the only writer. */
void cg_literal(SmBuf *b, IrDType t, double v, bool bare);

typedef struct CgPlan {
  CgSlot *slots; /* by value id */
  size_t arena_bytes, param_bytes;
  size_t naive_bytes; /* every activation in its own buffer */
  const char *strategy; /* the placement that gave the smaller arena */
} CgPlan;

/* Simple liveness-based reuse plan: inputs and outputs get dedicated
 * buffers; intermediates share arena space once dead (greedy by size).
 * Parameters are laid out in `master`'s order (NULL: g's own) and matched
 * by name, so several functions of one program share one parameter block. */
void cg_plan(const IrGraph *g, const IrGraph *master, CgPlan *p);
void cg_plan_free(CgPlan *p);

/* A compiled program: one or more functions sharing parameters. funcs[0]
 * is "infer"; a training program adds "eval" and "train". */
#define CG_MAX_FUNCS 8
typedef struct CgProgram {
  const char *name;
  uint64_t seed;
  IrGraph *funcs[CG_MAX_FUNCS];
  const char *fnames[CG_MAX_FUNCS];
  int nfuncs;
  int master;   /* the function holding every parameter */
  int nweights; /* master params [0, nweights) are weights, the rest state */
  bool has_train;
  RtTrainDesc train;
} CgProgram;

/* A one-function program for an inference graph. */
CgProgram cg_program_single(IrGraph *g);
/* The three-function program of a training build (passes/train.c):
 * infer, eval and train, the last holding every parameter. */
CgProgram cg_program_train(IrGraph *infer, IrGraph *eval, IrGraph *train, int nweights,
                           const RtTrainDesc *t);

/* A training program with several steps run in turn on every batch
 * (passes/train.c `step` directives): infer, then the steps; the first
 * step holds every parameter. */
CgProgram cg_program_steps(IrGraph *infer, IrGraph *const *steps, const char *const *names,
                           int nsteps, int nweights, const RtTrainDesc *t);
/* Whether function f runs in inference mode (infer, eval). */
bool cg_program_is_inference(const CgProgram *p, int f);

typedef struct CgOptions {
  const char *cc;        /* default $CC or "cc" */
  const char *opt;       /* default "-O3 -march=native" */
  bool embed_weights;    /* bake parameters into the C source */
  const IrTensor *params; /* values to embed; NULL: the declared initializers */
  bool check;            /* libclang check of the generated file (default on) */
  /* training programs of ONNX models: the template `train --export-onnx`
   * writes the trained weights into (frontend's FeOnnxTemplate; model_len
   * 0: none) */
  struct {
    const unsigned char *model, *graph;
    size_t model_len, graph_len;
    int n;
    const int *param, *onnx_type;
  } onnx;
} CgOptions;

/* Emit `name.h` and `name.c` text for a program. */
void cg_emit(const CgProgram *prog, const CgOptions *o, SmBuf *c, SmBuf *h);

/* Parse a generated C file with libclang (-Wall -Wextra); every diagnostic
 * is reported as an internal compiler error naming the kernel and IR node
 * it came from. */
SmStatus cg_check(const CgProgram *prog, const char *c_path, const char *c_text,
                  SmDiag *d);

typedef enum CgEmitKind { CG_EXE, CG_C, CG_LIB, CG_SHARED } CgEmitKind;

/* Generate, check and build. out: executable path (CG_EXE, CG_SHARED) or
 * output prefix (CG_C, CG_LIB: writes out.c/out.h [+ libNAME.a]). */
SmStatus cg_compile_program(const CgProgram *prog, CgEmitKind kind,
                            const char *out, const CgOptions *o, SmDiag *d);
/* cg_compile_program of a one-function program. */
SmStatus cg_compile(IrGraph *g, CgEmitKind kind, const char *out,
                    const CgOptions *o, SmDiag *d);

/* Runtime locations (env SMELT_RT_INCLUDE / SMELT_RT_LIB override). */
const char *cg_rt_include(void);
const char *cg_rt_lib(void);

#endif
