/* The C backend's kernel layer: for each op, a kernel generator (CgOpKernel)
 * that writes the C body of the op's kernel, alone or as the producer of a
 * fused kernel, and the helpers they share. ir/ holds op semantics only.
 *
 * Binding: every IrOpDef that is not composite (expand) names its C kernel
 * generator in its field `c` (IrOpDef.c = &cgk_<op>, the objects defined in
 * codegen/kernels/<concern>.c and declared, opaque, next to the op
 * definitions in ir/ops). A second backend would add its own pointer next
 * to `c` with a struct of its own; ir/ never looks inside. */
#ifndef SM_CG_KERNEL_H
#define SM_CG_KERNEL_H

#include "codegen/codegen.h"
#include "ir/ops/ops.h"

/* ---- fused kernels (used by passes/fuse.c and codegen/emit.c) ----
 *
 * A fused kernel computes a producer (gemm, matmul, a convolution, ...)
 * and then, per element of its result, a chain of elementwise members
 * (bias adds, activations, residual adds, activation gradients). The
 * kernel's operands are the producer's operands verbatim (in0..), then the
 * members' other operands; its results are out0.. where out0 is where the
 * product is computed: the product itself when it is also used elsewhere
 * (then stored too), otherwise the chain's result (the product never
 * reaches memory of its own). */
typedef struct OpEpilogue {
  const IrNode *prod;        /* the producer (one result) */
  IrNode *const *mem;        /* elementwise members in order, each with prod's result type */
  int nm;
  IrValue *const *ins;       /* the kernel's operands: in0.. */
  int nin;
  IrValue *const *outs;      /* the kernel's results: out0.. (outs[0] as above) */
  int nouts;
} OpEpilogue;

/* Whether n can take an elementwise epilogue into its kernel. */
bool op_epilogue_root(const IrNode *n);
/* Whether n's fused kernel keeps each product element in registers until
 * its final store (the blocked GEMM in one K block): the epilogue may then
 * write results over storage it reads, e.g. an in-place optimizer update
 * of the parameter whose gradient n computes, the product never reaching
 * memory. Otherwise the product (or partial sums) pass through out0. */
bool op_epilogue_in_registers(const IrNode *n);
/* The body of a fused kernel: the blocked GEMM applies the epilogue to the
 * accumulator tile on the final K block; other producers write out0 and a
 * second loop applies the chain in place. */
void op_emit_fused(SmBuf *b, const OpEpilogue *e);
/* Statements (at indentation ind) computing the chain for one element: the
 * product's value is the C expression `acc`, its flat index in the
 * product `o`; stores every result but the product's own buffer when
 * `store_prod` is false. ir/ops/common.c. */
void ew_emit_epilogue_elem(SmBuf *b, int ind, const OpEpilogue *e, const char *acc,
                           const char *o, bool store_prod);

/* C emitter: writes the body of
 *   static void kN(T *restrict out0, ..., const T *restrict in0, ...)
 * Shapes are compile-time constants taken from n. */
typedef void (*CgEmitFn)(SmBuf *b, const IrNode *n);
/* Elementwise ops give their scalar math as a C expression over argument
 * expressions (the double version is IrOpDef.scalar), so kernels can be
 * fused; and their derivative: dy * d f / d in[wrt], where args[0..nin)
 * are the forward inputs, args[nin] the forward output and args[nin+1] dy. */
typedef void (*CgExprFn)(SmBuf *b, const IrNode *n, const char *const *args);
typedef void (*CgDExprFn)(SmBuf *b, const IrNode *n, const char *const *args, int wrt);

/* One op's C kernel generator. */
struct CgOpKernel {
  CgEmitFn emit;   /* the unfused kernel's body */
  CgExprFn expr;   /* IR_OPF_ELEMENTWISE ops */
  CgDExprFn dexpr; /* elementwise ops with a gradient */
  /* The plan of n's kernel (e: its epilogue when fused, NULL alone), in
   * the fields of p that differ from a plain loop nest's (p arrives as
   * {.form = "loops"}); NULL: always plain loops, no workspace. The
   * emitters decide exactly as their plan does. */
  void (*plan)(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p);
  /* Fusion: the op can take an elementwise epilogue into its kernel (its
   * body writes out0 once, fully, reading no result buffer but its own);
   * see op_epilogue_root. */
  bool epilogue;
  /* The body with epilogue e computed as the product is stored: written,
   * returns true; or nothing written, false (then the generic form: the
   * op's own body, then one pass applying the chain). NULL: generic. */
  bool (*emit_fused)(SmBuf *b, const OpEpilogue *e);
  /* Whether n's fused body keeps each product element in registers until
   * its final store (op_epilogue_in_registers). NULL: never. */
  bool (*in_registers)(const IrNode *n);
  /* Floating-point operations of n's product (multiply-add = 2), for
   * products (gemm, matmul, convolutions); NULL: not a product. */
  double (*flops)(const IrNode *n);
};
typedef struct CgOpKernel CgOpKernel;

/* One loop nest computing a chain of elementwise nodes (members in order,
 * all with the output shape of the last); ext are the operands from
 * outside (in0..), outs the results stored (out0..). */
void ew_emit_group(SmBuf *b, IrNode *const *mem, int nm, IrValue *const *ext, int next,
                   IrValue *const *outs, int nouts);
/* Broadcast loop nest around the op's expr. */
void ew_emit(SmBuf *b, const IrNode *n);

/* ---- emission helpers ---- */
/* "%.9g" literal that is valid C float syntax (always has '.', 'e' or is
 * inf/nan-free): writes e.g. "0.5f". */
void emit_float(SmBuf *b, double v);
/* A literal of dtype t: "0.5f" for f32, full precision "0.5" for f64. */
void emit_value(SmBuf *b, IrDType t, double v);
/* For an empty result: `(void)` every parameter so the body compiles
 * warning-free, and return true (the body does nothing); else false. */
bool emit_if_empty(SmBuf *b, const IrNode *n);
/* Appends " + c*v" to the sum expression e (nothing when c is 0; v alone
 * when c is 1). */
void emit_sum_term(SmBuf *e, int64_t c, const char *v);
/* `#pragma omp parallel for` if the trip work is worth a thread team. */
void emit_omp_for(SmBuf *b, int64_t work, const char *extra);

/* The C math function `base` (exp, tanh, log, ...) for dtype t: exp for
 * f64, expf for f32, except the f32 functions runtime/rt_math.h provides
 * in vectorizable form (rt_expf, rt_tanhf). common.c. */
const char *op_mathfn(IrDType t, const char *base, char *buf, size_t sz);

/* ---- optimizer updates (optim.c), also emitted inside fused kernels ----
 * An update's operands are (w, state..., g, lr [, step]) and its results
 * (w', state'...), result k overwriting operand k. `opnd[i]` is a C
 * expression for operand i: the element's value for w, the states and g,
 * the scalar for lr and step; `dst[o]` an lvalue for result o. Constants
 * are locals named with the prefix `pfx`. */
/* The update's constants (learning rate, bias corrections) as locals. */
void opt_emit_prelude(SmBuf *b, int ind, const IrNode *n, const char *pfx,
                      const char *const *opnd);
/* One element: reads every operand into locals, then stores the results
 * (so a result may share storage with its operand). */
void opt_emit_elem(SmBuf *b, int ind, const IrNode *n, const char *pfx, const char *const *opnd,
                   const char *const *dst);
/* The whole update as one loop over the kernel's in<in_idx[i]>/out<out_idx[o]>. */
void opt_emit_loop(SmBuf *b, const IrNode *n, const char *pfx, const int *in_idx,
                   const int *out_idx);

#endif
