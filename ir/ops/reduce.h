/* Op semantics of reduce.c that its C kernels (codegen/kernels/reduce.c) read. */
#ifndef SM_OPS_REDUCE_H
#define SM_OPS_REDUCE_H

#include "ops.h"

typedef enum { RED_SUM, RED_MEAN, RED_MAX } RedKind;

typedef struct SmxGeo {
  int64_t outer, len, inner;
} SmxGeo;

RedKind red_kind(const IrNode *n);
void red_axes(const IrNode *n, bool *red);
SmxGeo smx_geo(const IrNode *n);
bool is_log(const IrNode *n);
bool is_log_grad(const IrNode *n);
int64_t nsg_count(const IrNode *n);

/* C kernels (codegen/kernels/reduce.c) */
extern const struct CgOpKernel cgk_reduce, cgk_softmax, cgk_smx_grad;
extern const struct CgOpKernel cgk_expand;
extern const struct CgOpKernel cgk_reduce_max_grad;
extern const struct CgOpKernel cgk_norm_stats;
extern const struct CgOpKernel cgk_norm_stats_grad;

#endif
