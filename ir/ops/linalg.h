/* Op semantics of linalg.c that its C kernels (codegen/kernels/linalg.c) read. */
#ifndef SM_OPS_LINALG_H
#define SM_OPS_LINALG_H

#include "ops.h"

/* Geometry of a validated matmul: out = batch x [M] x [N] where a 1-D a is
 * [1,K] (M dropped) and a 1-D b is [K,1] (N dropped). */
typedef struct MatGeo {
  int64_t M, K, N;
  IrType abt, bbt, obt; /* batch parts of a, b and the output */
} MatGeo;

typedef struct GemmGeo {
  int64_t M, K, N;
  bool ta, tb;
  double alpha, beta;
} GemmGeo;

bool mm_geo(const IrNode *n, MatGeo *g);
GemmGeo gemm_geo(const IrNode *n);

/* C kernels (codegen/kernels/linalg.c) */
extern const struct CgOpKernel cgk_matmul;
extern const struct CgOpKernel cgk_gemm;

#endif
