/* Shared pieces of the neural-network ops (conv.c, conv_grad.c, pool.c,
 * norm.c, random.c; the helpers are defined in nn.c): sliding-window
 * geometry, attribute checks for backward ops, and emission helpers. */
#ifndef SM_OPS_NN_H
#define SM_OPS_NN_H

#include "gemm_emit.h"
#include "ops.h"

typedef struct Win {
  int nsp; /* spatial dims as written (1 or 2); slot 0 is height, 1 width */
  int64_t in[2], k[2], s[2], d[2];
  int64_t pb[2], pe[2]; /* padding at the start (top/left) and end */
  int64_t out[2];
} Win;

/* A 2-D convolution's sizes: N images of C channels, M output channels,
 * groups of Cg input and Mg output channels. */
typedef struct ConvSz {
  Win g;
  int64_t N, C, M, Cg, Mg, group, H, W, KH, KW, OH, OW;
} ConvSz;

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

/* ---- helpers (nn.c) ---- */
int64_t ceil_div(int64_t a, int64_t b);
const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n);
const char *operands_str(const IrNode *n, int cnt, char *buf, size_t sz);
bool win_ints(const IrNode *n, const char *name, int nsp, int64_t lo, int64_t *dst, SmDiag *d);
bool win_decode(const IrNode *n, int nsp, const int64_t *in, const int64_t *k, bool pool, Win *w,
                SmDiag *d, const char *shapes);
const char *ctype(const IrNode *n);
void lit(SmBuf *b, const IrNode *n, double v);
const char *affine(char *buf, size_t n, int64_t a, const char *x, int64_t c, const char *y,
                   int64_t k);
bool emit_if_empty(SmBuf *b, const IrNode *n);
void attrs_comment(SmBuf *b, const char *lead, const Win *w);
int64_t sat_mul(int64_t a, int64_t b);
/* backward ops' attribute and operand checks */
bool attr_shape(const IrNode *n, const char *key, int rank, IrType *t, SmDiag *d);
bool want_type(const IrNode *n, int i, const IrType *want, const char *why, SmDiag *d);
bool want_float_same(const IrNode *n, SmDiag *d);
void set_shape(IrGradCtx *cx, IrNode *g, const char *key, const IrValue *v);
void emit_zero(SmBuf *b, int ind, const char *p, int64_t cnt);

/* ---- forward convolution pieces shared with the gradients (conv.c) ---- */
int conv_nsp(const IrNode *n);
void conv_win(const IrNode *n, Win *w);
bool conv_check(const IrNode *n, int nsp, const IrType *x, const IrType *w, const char *sh,
                IrType *y, SmDiag *d);
bool tap_ranges(const Win *g, int j, int64_t *lo, int64_t *hi);
void emit_tables(SmBuf *b, const char *lo_name, const char *hi_name, const int64_t *lo,
                 const int64_t *hi, int64_t k);
void emit_run_copy(SmBuf *b, int ind, const char *dst, long long ds, const char *row,
                   const char *a0, long long S, long long lim, const char *len);
void emit_pack_runs(SmBuf *b, const char *src, const RunPack *rp, int nr, int ind);
int64_t round16(int64_t v);
void emit_vf_prelude(SmBuf *b);
void emit_corr(SmBuf *b, const Corr *c, const OpEpilogue *epi);
bool conv_corr(const ConvSz *z, bool grad, bool bias, Corr *c);
bool conv_fwd_corr(const IrNode *n, const Win *g, Corr *c);
bool conv_emit_gemm(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi);

/* ---- conv_grad.c: the forward convolutions' gradient rule; fused forms
 * (with pool.c's) dispatched by nn_emit_fused ---- */
bool conv_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din);
ConvSz conv_sz(const IrNode *n);
bool conv_gi_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi);
bool conv_gw_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi);
void pool_grad_win(const IrNode *n, Win *w);
bool maxpool_grad_2x2(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi);

/* op definitions, listed by ir_ops_nn in nn.c */
extern const IrOpDef op_conv2d;
extern const IrOpDef op_conv1d;
extern const IrOpDef op_maxpool2d;
extern const IrOpDef op_avgpool2d;
extern const IrOpDef op_global_avgpool;
extern const IrOpDef op_batchnorm;
extern const IrOpDef op_batchnorm_train;
extern const IrOpDef op_random_normal;
extern const IrOpDef op_dropout_train;
extern const IrOpDef op_conv2d_grad_input;
extern const IrOpDef op_conv2d_grad_weight;
extern const IrOpDef op_conv1d_grad_input;
extern const IrOpDef op_conv1d_grad_weight;
extern const IrOpDef op_maxpool2d_grad;
extern const IrOpDef op_avgpool2d_grad;
extern const IrOpDef op_global_avgpool_grad;
extern const IrOpDef op_batchnorm_grad;
extern const IrOpDef op_batchnorm_train_grad;

#endif
