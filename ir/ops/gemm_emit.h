/* The blocked f32 GEMM emitter shared by linalg.c (gemm, matmul) and nn.c
 * (convolutions as GEMM): packed panels, a register-tiled FMA micro-kernel
 * written with GCC/Clang vector extensions (16 lanes with AVX-512, else 8),
 * OpenMP over independent (batch, row block, column block) tasks.
 *
 * Per batch entry t in [0, nbatch):
 *   C(i,j) = [first K block: beta*bias(i,j)] + sum_k alpha*A(i,k) * B(k,j)
 * with A(i,k) = a[i*as_i + k*as_k], B(k,j) = b[k*bs_k + j*bs_j] and
 * C(i,j) = c[i*ldc + j]; a, b, c and bias are C pointer expressions that
 * may use the batch index `t` (an int64_t). */
#ifndef SM_GEMM_EMIT_H
#define SM_GEMM_EMIT_H

#include "ops.h"

typedef struct GemmCore GemmCore;

/* Emits code filling the packed B panel: `float *bp` (nc columns starting at
 * column jc, padded with zeros to NR-wide slivers: bp[jr*kc + k*NR + q] =
 * B(pc+k, jc+jr+q), zero when jc+jr+q >= N), for k in [0, kc). Variables
 * in scope: t, jc, nc, pc, kc, bp; `nr` is NR, `ind` the indentation. */
typedef void (*GemmPackFn)(SmBuf *b, const GemmCore *g, int nr, int ind);

struct GemmCore {
  int64_t M, N, K, nbatch;
  const char *a, *b, *c;
  int64_t as_i, as_k, bs_k, bs_j, ldc;
  double alpha;
  const char *bias; /* NULL: none */
  int64_t bias_si, bias_sj; /* 0 (broadcast) or a stride; bias_sj is 0 or 1 */
  double beta;
  GemmPackFn pack_b; /* NULL: strided B as above */
  const void *user;  /* for pack_b */
};

/* Whether the blocked kernel is worth it for an f32 product of this size. */
bool gemm_core_fits(int64_t M, int64_t N, int64_t K);
/* Writes the statements (a block) computing the product. */
void gemm_core_emit(SmBuf *b, const GemmCore *g);

#endif
