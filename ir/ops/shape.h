/* Op semantics of shape.c that its C kernels (codegen/kernels/shape.c) read. */
#ifndef SM_OPS_SHAPE_H
#define SM_OPS_SHAPE_H

#include "ops.h"

typedef struct SliceDims {
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK];
} SliceDims;

/* perm from the attribute, or reversed dims; false if not a permutation */
bool get_perm(const IrNode *n, int *perm, SmDiag *d);
int concat_axis(const IrNode *n);
bool slice_dims(const IrNode *n, SliceDims *sd, SmDiag *d);

int attr_count(const IrAttr *a);
double attr_num(const IrAttr *a, int i);

/* C kernels (codegen/kernels/shape.c) */
extern const struct CgOpKernel cgk_flatten;
extern const struct CgOpKernel cgk_reshape;
extern const struct CgOpKernel cgk_transpose;
extern const struct CgOpKernel cgk_concat;
extern const struct CgOpKernel cgk_slice;
extern const struct CgOpKernel cgk_pad;
extern const struct CgOpKernel cgk_constant;

#endif
