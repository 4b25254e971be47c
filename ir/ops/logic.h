/* Op semantics of logic.c that its C kernels (codegen/kernels/logic.c) read. */
#ifndef SM_OPS_LOGIC_H
#define SM_OPS_LOGIC_H

#include "ops.h"

bool argmax_kind(const IrNode *n);
void arg_geo(const IrNode *n, int64_t *outer, int64_t *dim, int64_t *inner);

/* C kernels (codegen/kernels/logic.c) */
extern const struct CgOpKernel cgk_where;
extern const struct CgOpKernel cgk_cast;
extern const struct CgOpKernel cgk_argmax;
extern const struct CgOpKernel cgk_argmin;

#endif
