/* Internal helpers shared by op definitions (the files in ir/ops) and the group
 * tables the registry stitches together. */
#ifndef SM_OPS_H
#define SM_OPS_H

#include "../ir.h"

extern const IrOpDef *const ir_ops_elementwise[];
extern const IrOpDef *const ir_ops_linalg[];
extern const IrOpDef *const ir_ops_logic[];
extern const IrOpDef *const ir_ops_loss[];
extern const IrOpDef *const ir_ops_nn[];
extern const IrOpDef *const ir_ops_optim[];
extern const IrOpDef *const ir_ops_reduce[];
extern const IrOpDef *const ir_ops_seq[];
extern const IrOpDef *const ir_ops_shape[];

/* Report `op: msg` at the node's location; returns false. */
bool op_err(const IrNode *n, SmDiag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Input i must have the given rank (-1: any) and a float dtype. */
bool op_want_rank(const IrNode *n, int i, int rank, SmDiag *d);
bool op_want_float(const IrNode *n, int i, SmDiag *d);
/* Attribute epsilon (default 1e-5) is finite and non-negative. */
bool op_want_eps(const IrNode *n, SmDiag *d);
/* All inputs share input 0's dtype. */
bool op_same_dtype(const IrNode *n, SmDiag *d);
/* Type string for messages (static per call site buffer supplied). */
#define OP_TSTR(t, buf) ir_type_str((t), (buf), sizeof(buf))

/* The C math function `base` (exp, tanh, log, ...) for dtype t: exp for
 * f64, expf for f32, except the f32 functions runtime/rt_math.h provides
 * in vectorizable form (rt_expf, rt_tanhf). common.c. */
const char *op_mathfn(IrDType t, const char *base, char *buf, size_t sz);

/* ---- elementwise machinery (common.c) ---- */
/* Broadcast all inputs; output dtype = input 0 dtype. */
bool ew_infer(const IrNode *n, IrType *out, SmDiag *d);
/* The same without requiring equal dtypes (operands of mixed dtypes, e.g.
 * where's bool condition): out[0] gets the broadcast shape, input 0's dtype. */
bool ew_broadcast(const IrNode *n, IrType *out, SmDiag *d);
/* Broadcast loop calling n->op->scalar. */
void ew_ref(const IrNode *n, const IrTensor *in, IrTensor *out);
/* Broadcast loop nest around n->op->expr. */
void ew_emit(SmBuf *b, const IrNode *n);

/* Index helper for reference kernels: offset of the broadcast source of
 * output multi-index idx (of rank `rank`) in tensor t. */
int64_t ref_bcast_offset(const IrType *t, const int64_t *idx, int rank);
/* Unravel a flat index into a multi-index for type t. */
void ref_unravel(const IrType *t, int64_t flat, int64_t *idx);

/* ---- emission helpers ---- */
/* "%.9g" literal that is valid C float syntax (always has '.', 'e' or is
 * inf/nan-free): writes e.g. "0.5f". */
void emit_float(SmBuf *b, double v);
/* A literal of dtype t: "0.5f" for f32, full precision "0.5" for f64. */
void emit_value(SmBuf *b, IrDType t, double v);
/* `#pragma omp parallel for` if the trip work is worth a thread team. */
void emit_omp_for(SmBuf *b, int64_t work, const char *extra);

/* ---- optimizer updates (optim.c), also emitted inside fused kernels ----
 * An update's operands are (w, state..., g, lr [, step]) and its results
 * (w', state'...), result k overwriting operand k. `opnd[i]` is a C
 * expression for operand i: the element's value for w, the states and g,
 * the scalar for lr and step; `dst[o]` an lvalue for result o. Constants
 * are locals named with the prefix `pfx`. */
bool opt_is_update(const IrNode *n);
int opt_grad_operand(const IrNode *n);
int opt_state_count(const IrNode *n);
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
