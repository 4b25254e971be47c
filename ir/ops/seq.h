/* Op semantics of seq.c that its C kernels (codegen/kernels/seq.c) read. */
#ifndef SM_OPS_SEQ_H
#define SM_OPS_SEQ_H

#include "ops.h"

/* C kernels (codegen/kernels/seq.c) */
extern const struct CgOpKernel cgk_embedding;
extern const struct CgOpKernel cgk_embedding_grad;

#endif
