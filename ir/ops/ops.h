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

/* ---- elementwise machinery (common.c) ---- */
/* Broadcast all inputs; output dtype = input 0 dtype. */
bool ew_infer(const IrNode *n, IrType *out, SmDiag *d);
/* The same without requiring equal dtypes (operands of mixed dtypes, e.g.
 * where's bool condition): out[0] gets the broadcast shape, input 0's dtype. */
bool ew_broadcast(const IrNode *n, IrType *out, SmDiag *d);
/* Broadcast loop calling n->op->scalar. */
void ew_ref(const IrNode *n, const IrTensor *in, IrTensor *out);

/* Index helper for reference kernels: offset of the broadcast source of
 * output multi-index idx (of rank `rank`) in tensor t. */
int64_t ref_bcast_offset(const IrType *t, const int64_t *idx, int rank);
/* Unravel a flat index into a multi-index for type t. */
void ref_unravel(const IrType *t, int64_t flat, int64_t *idx);

/* ew_grad (elementwise.c): the forward op it differentiates and the mask
 * of the forward arguments that are its operands. */
const IrOpDef *ew_grad_fwd(const IrNode *n);
int64_t ew_grad_need(const IrNode *n, const IrOpDef *op);

/* gelu with approximate="tanh" (elementwise.c). */
bool gelu_tanh(const IrNode *n);

/* Optimizer updates (optim.c): whether n is one, its gradient operand and
 * how many state tensors it keeps. */
bool opt_is_update(const IrNode *n);
int opt_grad_operand(const IrNode *n);
int opt_state_count(const IrNode *n);

#endif
