/* Pieces shared by the C kernels of the convolutions, pools and batch
 * norms (codegen/kernels/conv.c, conv_grad.c, pool.c, norm.c, random.c;
 * defined in nn.c and conv.c). */
#ifndef SM_CG_NN_H
#define SM_CG_NN_H

#include "gemm.h"
#include "ir/ops/nn.h"

/* A B operand gathered from channel planes: with row k = (c, kh, kw) and
 * column j = (jrow, jcol) on a grid jw wide,
 *   B(k, j) = src[c * plane + i * clim + a]  for 0 <= i < rlim, 0 <= a < clim
 *   i = rs * jrow + rd * kh + rc,  a = cs * jcol + cd * kw + cc
 * and zero otherwise (or for j >= jn). */
typedef struct RunPack {
  long long jw, jn, KH, KW, plane;
  long long rs, rd, rc, rlim;
  long long cs, cd, cc, clim;
} RunPack;

/* ---- direct stride-1 correlation on shifted planes ----
 *
 * out[n, o, r, s] = bias[o] + sum_i sum_{a<KH, b<KW} wt(o, i, a, b) * P[i, r + a, s + b]
 * where P is the source plane i of image n zero-padded to Hp = OHo + KH - 1
 * rows (the source at row pt, column pl). Each source plane is staged KW
 * times, copy b holding the columns b .. b + OWo - 1 of every padded row,
 * OWo wide: on that flattened copy the sum for output position
 * q = r * OWo + s reads D_b[q + a * OWo], so the output plane is computed
 * dense (no padding columns) with one contiguous vector load per tap and
 * the accumulators in registers; only the last vector of a plane runs
 * past it. Source channels go in blocks whose copies stay in L1, staged
 * just before use, the sums kept per image in `sum` between blocks.
 * Register blocks: ob output channels sharing each load times nv vectors
 * sharing each weight. For small channel counts this beats the GEMM
 * forms, whose packing then costs more than the product (LeNet's
 * second-layer input gradient: Cg = 6). Serves the forward convolution
 * and, with the kernel flipped, its input gradient. */
typedef struct Corr {
  int64_t N, Ci, Co;         /* images, source channels summed, output channels */
  int64_t Hs, Ws, pt, pl;    /* source plane and where it sits in the padded one */
  int64_t OHo, OWo, KH, KW;
  int64_t wo, wi, wa, wb, w0; /* wt(o,i,a,b) = w[o*wo + i*wi + a*wa + b*wb + w0] */
  bool bias;                 /* in2[o] */
  /* KWo > 0: an input gradient by columns (see conv_corr), dx [H, W] from
   * the forward's pads fpt, fpl; w is then the staged `wt` */
  int64_t KWo, H, W, fpt, fpl;
} Corr;

const char *ctype(const IrNode *n);
void lit(SmBuf *b, const IrNode *n, double v);
const char *affine(char *buf, size_t n, int64_t a, const char *x, int64_t c, const char *y,
                   int64_t k);
void attrs_comment(SmBuf *b, const char *lead, const Win *w);
void emit_zero(SmBuf *b, int ind, const char *p, int64_t cnt);
bool tap_ranges(const Win *g, int j, int64_t *lo, int64_t *hi);
void emit_tables(SmBuf *b, const char *lo_name, const char *hi_name, const int64_t *lo,
                 const int64_t *hi, int64_t k);
void emit_run_copy(SmBuf *b, int ind, const char *dst, long long ds, const char *row,
                   const char *a0, long long S, long long lim, const char *len);
void emit_pack_runs(SmBuf *b, const char *src, const RunPack *rp, int nr, int ind);
int64_t round16(int64_t v);
void emit_pad_row(SmBuf *b, long long pt, long long Wp, long long pl);
void emit_corr(SmBuf *b, const Corr *c, const OpEpilogue *epi);
bool conv_corr(const ConvSz *z, bool grad, bool bias, Corr *c);
bool conv_fwd_corr(const IrNode *n, const Win *g, Corr *c);
bool conv_emit_gemm(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi);
bool conv_gi_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi);
bool conv_gw_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi);
bool maxpool_grad_2x2(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi);

/* FLOPs of a convolution (forward or gradient): 2 x (forward output
 * positions, y) x (weight elements per output channel, w). */
double conv_flops_of(const IrType *y, const IrType *w);

#endif
