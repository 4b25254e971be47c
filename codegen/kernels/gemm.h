/* The blocked f32 GEMM emitter shared by linalg.c (gemm, matmul) and the
 * convolutions (conv.c, conv_grad.c: and their backward ops as GEMM): packed panels, a
 * register-tiled FMA micro-kernel written with GCC/Clang vector extensions
 * (16 lanes with AVX-512, else 8), OpenMP over independent (batch, row
 * block, column block) tasks; and fused kernels: a producer with an
 * elementwise epilogue applied as the product is stored.
 *
 * Per batch entry t in [0, nbatch):
 *   C(i,j) = [first K block: beta*bias(i,j)] + sum_k alpha*A(i,k) * B(k,j)
 * with A(i,k) = a[i*as_i + k*as_k], B(k,j) = b[k*bs_k + j*bs_j] and
 * C(i,j) = c[i*ldc + j]; a, b, c and bias are C pointer expressions that
 * may use the batch index `t` (an int64_t). */
#ifndef SM_CG_GEMM_H
#define SM_CG_GEMM_H

#include "kernel.h"

typedef struct GemmCore GemmCore;
/* B read in place (a convolution of one image on wide rows): each of the
 * C source planes, zero-padded with the plane at (pt, pl), is staged in
 * the workspace as ny x nx phase planes of Hp x Wp (ny = min(sy, KH),
 * nx = min(sx, KW); phase (py, px) holds the padded rows py, py+sy, ...
 * and columns px, px+sx, ...), each at a stride S that covers every read;
 * the product's columns are the positions j' = oh*Wp + ow of the wide
 * output (N = OH*Wp) and B(k, j') = stage[koff(k) + j'] with
 * k = (c*KH + a)*KW + b and
 * koff(k) = ((c*ny + a%sy)*nx + b%sx)*S + (a/sy)*Wp + b/sx. Only the
 * columns with ow < OW are stored, at C(i, oh*OW + ow) (ldc = OH*OW). */
typedef struct GemmWide {
  const char *x; /* the source image: C planes of H x W */
  int64_t C, H, W, pt, pl, sy, sx, Hp, Wp, OW, KH, KW;
} GemmWide;

/* Emits code filling the packed B panel: `float *bp` (nc columns starting at
 * column jc, padded with zeros to NR-wide slivers: bp[jr*kc + k*NR + q] =
 * B(pc+k, jc+jr+q), zero when jc+jr+q >= N), for k in [0, kc). Variables
 * in scope: t, jc, nc, pc, kc, bp (the packer reads B through g->b itself);
 * `nr` is NR, `ind` the indentation. */
typedef void (*GemmPackFn)(SmBuf *b, const GemmCore *g, int nr, int ind);
/* Emits code filling the packed A block: `float *ap` (mc rows starting at
 * row ic, padded with zeros to MR-tall slivers: ap[ir*kc + k*MR + r] =
 * alpha*A(ic+ir+r, pc+k), zero when ic+ir+r >= M), for k in [0, kc).
 * Variables in scope: t, ic, mc, pc, kc, ap, and `a` = the a expression. */
typedef void (*GemmPackAFn)(SmBuf *b, const GemmCore *g, int mr, int ind);

struct GemmCore {
  int64_t M, N, K, nbatch;
  const char *a, *b, *c;
  int64_t as_i, as_k, bs_k, bs_j, ldc;
  double alpha;
  const char *bias; /* NULL: none */
  int64_t bias_si, bias_sj; /* 0 (broadcast) or a stride; bias_sj is 0 or 1 */
  double beta;
  GemmPackFn pack_b;  /* NULL: strided B as above */
  GemmPackAFn pack_a; /* NULL: strided A as above */
  const void *user;   /* for the packers */
  /* Fused epilogue (NULL: none): applied on the final K block to every
   * element; c must then be out0 + c_off, c_off an element offset
   * expression in t ("0" when unbatched), so the element (i, j) of batch
   * entry t has flat index c_off + i*ldc + j in the product. */
  const OpEpilogue *epi;
  const char *c_off;
  const GemmWide *wide; /* NULL: B through pack_b; else nbatch 1, no bias_sj */
};

/* Whether the blocked kernel is worth it for an f32 product of this size. */
bool gemm_core_fits(int64_t M, int64_t N, int64_t K);
/* Whether the blocked kernel reduces K in a single block (no partial sums
 * stored between blocks). */
bool gemm_core_one_k_block(int64_t K);
/* The plan of a product on one target variant: register tile, task grid,
 * block sizes and its workspace layout (floats): `shared` first (a
 * wide-row B's staged planes and offsets), then one slice per thread
 * (`slice_a` for the packed A block, the rest for the B panel). */
typedef struct GemmVarPlan {
  int vw, mr, nr;     /* lanes, tile rows and columns */
  int64_t tm, tn;     /* tasks along rows and columns per batch entry */
  int64_t mc, nc, kc; /* block sizes */
  int64_t nthr;       /* threads with a workspace slice (1: serial) */
  bool par, direct_a; /* OpenMP team; A read in place (no packed block) */
  int64_t shared, slice_a, slice, S; /* S: a wide-row B's staged plane stride */
} GemmVarPlan;
/* The plan of a product: both variants the generated code chooses between
 * (var[0] with AVX-512, var[1] otherwise) and the workspace the larger
 * needs. */
typedef struct GemmPlan {
  GemmVarPlan var[2];
  int64_t ws_floats;
} GemmPlan;
void gemm_core_plan(const GemmCore *g, GemmPlan *p);
/* Writes the statements (a block) computing the product as planned (p
 * from gemm_core_plan of the same g). They pack into `ws`, a float pointer
 * the kernel receives (64-byte aligned, p->ws_floats long): one slice per
 * thread for the A block and the B panel. */
void gemm_core_emit(SmBuf *b, const GemmCore *g, const GemmPlan *p);
/* Plans g, then writes it as planned. */
void gemm_core_write(SmBuf *b, const GemmCore *g);
/* A kernel plan for a body that is the product g (form: how B or A is
 * gathered): its workspace, product and the AVX-512 variant's grid. */
void gemm_plan_kernel(CgKernelPlan *p, const GemmCore *g, const char *form);

#endif
