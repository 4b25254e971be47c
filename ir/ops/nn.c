/* Neural-network ops (NCHW, ONNX semantics): conv2d, conv1d, maxpool2d,
 * avgpool2d, global_avgpool, batchnorm; their gradient rules and backward
 * ops (conv*_grad_input/_weight, *pool*_grad, batchnorm_grad); and the
 * training forms batchnorm_train (batch statistics, running statistics
 * updated in place) and dropout_train (counter-based mask) with their
 * backward.
 *
 * Convolutions and pools share one sliding-window geometry (Win), decoded
 * from the attributes and validated by the shape rules; 1-D is stored as
 * 2-D with height 1. Reference kernels are naive loops in double that test
 * every tap against the input bounds. Emitters bake shapes into the loops:
 * conv accumulates whole output rows (innermost loop over output width)
 * with the valid output range for each kernel tap precomputed, pools
 * compute each window's valid kernel range once per output position. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_emit.h"
#include "ops.h"
#include "rt.h"

/* ---- sliding-window geometry ---- */

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

static int64_t ceil_div(int64_t a, int64_t b) { /* b > 0 */
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

static const char *dim_name(const Win *w, int slot) {
  return w->nsp == 1 ? "length" : slot == 0 ? "height" : "width";
}

static const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < cnt && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)v[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

/* "x is f32[2,3,8,8], w is f32[4,3,3,3]": operands 0..cnt-1 for messages */
static const char *operands_str(const IrNode *n, int cnt, char *buf, size_t sz) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < cnt && i < n->nin && k < sz; i++) {
    char t[IR_TYPE_STRLEN];
    k += (size_t)snprintf(buf + k, sz - k, "%s%s is %s", i ? ", " : "",
                          n->in[i]->name, OP_TSTR(&n->in[i]->type, t));
  }
  return buf;
}

/* Report through d, or just fail when d is NULL (decoding a node the shape
 * rule already accepted). */
#define FAIL(...) (d ? op_err(n, d, __VA_ARGS__) : false)

/* Reads an ints attribute holding one value per spatial dim (a single
 * value applies to all). Returns false (reporting) on a bad count or a
 * value outside [lo, IR_MAX_NUMEL]. */
static bool win_ints(const IrNode *n, const char *name, int nsp, int64_t lo,
                     int64_t *dst, SmDiag *d) {
  int64_t v[8];
  char s[128];
  int cnt = ir_attr_ints(n, name, v, 8);
  if (cnt < 0) return true;
  if (cnt != 1 && cnt != nsp)
    return FAIL("%s needs %s, got %d", name, nsp == 1 ? "1 value" : "1 or 2 values", cnt);
  for (int j = 0; j < cnt; j++)
    if (v[j] < lo || v[j] > IR_MAX_NUMEL)
      return FAIL("%s must be %s, got %s", name,
                  v[j] > IR_MAX_NUMEL ? "at most 2^40" : lo > 0 ? "positive" : "non-negative",
                  ints_str(v, cnt, s, sizeof s));
  for (int j = 0; j < nsp; j++) dst[2 - nsp + j] = v[cnt == 1 ? 0 : j];
  return true;
}

/* Decodes and (when d is given) validates the window attributes of n for
 * input spatial sizes in[nsp] and kernel k[nsp]. Pools default strides to
 * the kernel and need pads smaller than the kernel. `shapes` names the
 * operands in size errors. With d NULL the node must already be valid. */
static bool win_decode(const IrNode *n, int nsp, const int64_t *in,
                       const int64_t *k, bool pool, Win *w, SmDiag *d,
                       const char *shapes) {
  *w = (Win){.nsp = nsp, .in = {1, 1}, .k = {1, 1}, .s = {1, 1}, .d = {1, 1}};
  int off = 2 - nsp;
  for (int j = 0; j < nsp; j++) {
    w->in[off + j] = in[j];
    w->k[off + j] = k[j];
    if (pool) w->s[off + j] = k[j];
  }
  if (!win_ints(n, "strides", nsp, 1, w->s, d)) return false;
  if (!win_ints(n, "dilations", nsp, 1, w->d, d)) return false;
  int64_t p[8];
  char s[128];
  int cnt = ir_attr_ints(n, "pads", p, 8);
  if (cnt >= 0) {
    if (cnt != 1 && cnt != nsp && cnt != 2 * nsp)
      return FAIL("pads needs %s, got %d",
                  nsp == 1 ? "1 or 2 values ([begin,end])"
                           : "1, 2 or 4 values ([top,left,bottom,right])",
                  cnt);
    for (int j = 0; j < cnt; j++)
      if (p[j] < 0 || p[j] > IR_MAX_NUMEL)
        return FAIL("pads must be %s, got %s", p[j] < 0 ? "non-negative" : "at most 2^40",
                    ints_str(p, cnt, s, sizeof s));
    for (int j = 0; j < nsp; j++) {
      w->pb[off + j] = p[cnt == 1 ? 0 : j];
      w->pe[off + j] = p[cnt == 1 ? 0 : cnt == nsp ? j : nsp + j];
    }
  }
  bool ceil_mode = ir_attr_int(n, "ceil_mode", 0) != 0;
  for (int j = off; j < 2; j++) {
    const char *dn = dim_name(w, j);
    if (w->in[j] < 1) return FAIL("input %s is 0: %s", dn, shapes);
    if (w->k[j] < 1) return FAIL("kernel %s is 0: %s", dn, shapes);
    if (pool && (w->pb[j] >= w->k[j] || w->pe[j] >= w->k[j]))
      return FAIL("pads must be smaller than the kernel, got %lld and %lld for kernel %s %lld",
                  (long long)w->pb[j], (long long)w->pe[j], dn, (long long)w->k[j]);
    int64_t padded = w->in[j] + w->pb[j] + w->pe[j];
    /* dilated extent d*(k-1)+1 <= padded, without overflow */
    if (w->k[j] - 1 > (padded - 1) / w->d[j]) {
      char dil[64] = "";
      if (w->d[j] > 1) snprintf(dil, sizeof dil, " with dilation %lld", (long long)w->d[j]);
      return FAIL("kernel %s %lld%s exceeds padded input %s %lld: %s", dn, (long long)w->k[j],
                  dil, dn, (long long)padded, shapes);
    }
    int64_t span = padded - (w->d[j] * (w->k[j] - 1) + 1);
    w->out[j] = span / w->s[j] + 1;
    if (ceil_mode) {
      /* ONNX: the last window must start inside the input or left padding */
      int64_t o = ceil_div(span, w->s[j]) + 1;
      if ((o - 1) * w->s[j] >= w->in[j] + w->pb[j]) o--;
      w->out[j] = o;
    }
  }
  for (int j = 0; j < off; j++) w->out[j] = 1;
  return true;
}
#undef FAIL

/* ---- emission helpers ---- */

static const char *ctype(const IrNode *n) { return ir_dtype_ctype(n->out[0]->type.dtype); }

/* C literal of the node's dtype: "0.5f" for f32, "0.5" for f64. */
static void lit(SmBuf *b, const IrNode *n, double v) {
  if (n->out[0]->type.dtype == IR_F32 || isinf(v)) {
    emit_float(b, v);
    return;
  }
  char s[64];
  snprintf(s, sizeof s, "%.17g", v);
  bool plain = strpbrk(s, ".eEn") == NULL;
  sm_buf_printf(b, "%s%s%s%s", v < 0 ? "(" : "", s, plain ? ".0" : "", v < 0 ? ")" : "");
}

/* Affine index "a*x + c*y + k" with zero terms dropped; writes into buf. */
static const char *affine(char *buf, size_t n, int64_t a, const char *x, int64_t c,
                          const char *y, int64_t k) {
  size_t len = 0;
  buf[0] = 0;
  const char *vars[2] = {x, y};
  int64_t coef[2] = {a, c};
  for (int i = 0; i < 2; i++) {
    if (coef[i] == 0) continue;
    const char *sep = len ? " + " : "";
    if (coef[i] == 1)
      len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, vars[i]);
    else
      len += (size_t)snprintf(buf + len, n - len, "%s%lld * %s", sep, (long long)coef[i], vars[i]);
  }
  if (k != 0 || len == 0)
    snprintf(buf + len, n - len, "%s%lld", len ? (k < 0 ? " - " : " + ") : "",
             (long long)(len && k < 0 ? -k : k));
  return buf;
}

/* Empty results: reference every parameter so the body compiles
 * warning-free, and do nothing. */
static bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
  return true;
}

/* One comment line with the window attributes as written (1-D shows only
 * its length dim; dilations only when used); `lead` starts it. */
static void attrs_comment(SmBuf *b, const char *lead, const Win *w) {
  int off = 2 - w->nsp;
  char s[128], p[128], d[128];
  int64_t pads[4];
  for (int j = 0; j < w->nsp; j++) {
    pads[j] = w->pb[off + j];
    pads[w->nsp + j] = w->pe[off + j];
  }
  sm_buf_printf(b, "  /* %sstrides %s, pads %s", lead, ints_str(w->s + off, w->nsp, s, sizeof s),
                ints_str(pads, 2 * w->nsp, p, sizeof p));
  if (w->d[0] != 1 || w->d[1] != 1)
    sm_buf_printf(b, ", dilations %s", ints_str(w->d + off, w->nsp, d, sizeof d));
  sm_buf_puts(b, " */\n");
}

/* a*b (non-negative) saturating at INT64_MAX: work estimates, messages */
static int64_t sat_mul(int64_t a, int64_t b) {
  return (double)a * (double)b >= 9e18 ? INT64_MAX : a * b;
}

/* ======================================================================
 * conv2d, conv1d
 * ====================================================================== */

static const IrAttrSpec conv_attrs[] = {
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"dilations", IR_ATTR_INTS, false},
    {"group", IR_ATTR_INT, false},
    {NULL, 0, false}};

static int conv_nsp(const IrNode *n) { return n->in[0]->type.rank - 2; }

static void conv_win(const IrNode *n, Win *w) {
  int nsp = conv_nsp(n);
  bool ok = win_decode(n, nsp, n->in[0]->type.dims + 2, n->in[1]->type.dims + 2, false,
                       w, NULL, NULL);
  SM_ASSERT(ok);
}

/* Channel, group and window checks of a convolution of x by w (operand
 * types, or in gradient ops types rebuilt from shape attributes); `sh`
 * shows both in messages. On success *y is the output type. */
static bool conv_check(const IrNode *n, int nsp, const IrType *x, const IrType *w,
                       const char *sh, IrType *y, SmDiag *d) {
  int64_t group = ir_attr_int(n, "group", 1);
  int64_t C = x->dims[1], M = w->dims[0];
  if (group < 1) return op_err(n, d, "group must be positive, got %lld", (long long)group);
  if (C < 1 || M < 1)
    return op_err(n, d, "needs at least one %s channel: %s", C < 1 ? "input" : "output", sh);
  if (C % group)
    return op_err(n, d, "group %lld does not divide the %lld input channels: %s",
                  (long long)group, (long long)C, sh);
  if (M % group)
    return op_err(n, d, "group %lld does not divide the %lld output channels: %s",
                  (long long)group, (long long)M, sh);
  if (w->dims[1] != C / group)
    return op_err(n, d, "input has %lld channels but weight expects %lld (group %lld): %s",
                  (long long)C, (long long)sat_mul(w->dims[1], group), (long long)group, sh);
  Win g;
  if (!win_decode(n, nsp, x->dims + 2, w->dims + 2, false, &g, d, sh)) return false;
  int64_t dims[4] = {x->dims[0], M, g.out[0], g.out[1]};
  if (nsp == 1) dims[2] = g.out[1];
  *y = ir_type_make(x->dtype, nsp + 2, dims);
  return true;
}

static bool conv_infer_nd(const IrNode *n, IrType *out, SmDiag *d, int nsp) {
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  if (!op_same_dtype(n, d)) return false;
  if (!op_want_rank(n, 0, nsp + 2, d) || !op_want_rank(n, 1, nsp + 2, d)) return false;
  if (n->nin == 3 && !op_want_rank(n, 2, 1, d)) return false;
  char sh[3 * IR_TYPE_STRLEN + 64];
  operands_str(n, 2, sh, sizeof sh);
  int64_t M = n->in[1]->type.dims[0];
  if (n->nin == 3 && n->in[2]->type.dims[0] != M) {
    char t[IR_TYPE_STRLEN];
    return op_err(n, d, "bias '%s' must have %lld elements (one per output channel), got %s",
                  n->in[2]->name, (long long)M, OP_TSTR(&n->in[2]->type, t));
  }
  return conv_check(n, nsp, &n->in[0]->type, &n->in[1]->type, sh, out, d);
}

static bool conv2d_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return conv_infer_nd(n, out, d, 2);
}
static bool conv1d_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return conv_infer_nd(n, out, d, 1);
}

static void conv_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  Win g;
  conv_win(n, &g);
  const double *x = in[0].d, *w = in[1].d, *bias = n->nin == 3 ? in[2].d : NULL;
  double *y = out[0].d;
  int64_t N = in[0].type.dims[0], C = in[0].type.dims[1];
  int64_t M = in[1].type.dims[0], Cg = in[1].type.dims[1], Mg = M / (C / Cg);
  int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  for (int64_t b = 0; b < N; b++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double acc = bias ? bias[m] : 0;
          int64_t c0 = m / Mg * Cg; /* first input channel of m's group */
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t kh = 0; kh < KH; kh++)
              for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = oh * g.s[0] - g.pb[0] + kh * g.d[0];
                int64_t iw = ow * g.s[1] - g.pb[1] + kw * g.d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[((b * C + c0 + c) * H + ih) * W + iw] *
                       w[((m * Cg + c) * KH + kh) * KW + kw];
              }
          y[((b * M + m) * OH + oh) * OW + ow] = acc;
        }
}

/* Valid output range [lo[k], hi[k]) for kernel tap k along one dim: the
 * outputs whose input index o*s - p + k*d falls inside [0, in). Returns
 * whether some tap is clipped (otherwise every range is [0, out)). */
static bool tap_ranges(const Win *g, int j, int64_t *lo, int64_t *hi) {
  bool clipped = false;
  for (int64_t k = 0; k < g->k[j]; k++) {
    int64_t a = ceil_div(g->pb[j] - k * g->d[j], g->s[j]);
    int64_t z = ceil_div(g->in[j] + g->pb[j] - k * g->d[j], g->s[j]);
    lo[k] = a < 0 ? 0 : a > g->out[j] ? g->out[j] : a;
    hi[k] = z > g->out[j] ? g->out[j] : z < lo[k] ? lo[k] : z;
    clipped |= lo[k] != 0 || hi[k] != g->out[j];
  }
  return clipped;
}

/* `static const int64_t lo[K] = {..}, hi[K] = {..};` */
static void emit_tables(SmBuf *b, const char *lo_name, const char *hi_name,
                        const int64_t *lo, const int64_t *hi, int64_t k) {
  sm_buf_printf(b, "  static const int64_t %s[%lld] = {", lo_name, (long long)k);
  for (int64_t i = 0; i < k; i++) sm_buf_printf(b, "%s%lld", i ? ", " : "", (long long)lo[i]);
  sm_buf_printf(b, "}, %s[%lld] = {", hi_name, (long long)k);
  for (int64_t i = 0; i < k; i++) sm_buf_printf(b, "%s%lld", i ? ", " : "", (long long)hi[i]);
  sm_buf_puts(b, "};\n");
}

/* Convolution as GEMM per (image, group): y[Mg, OH*OW] = w[Mg, Cg*KH*KW] x
 * col[Cg*KH*KW, OH*OW], where the packing of the GEMM's B panel gathers
 * col straight from x (implicit im2col: no column buffer). */
/* Packers gather convolution operands run by run: a run is a stretch of
 * consecutive output positions in one output row (or input positions in
 * one input row), along which the source index moves by a constant
 * stride. emit_run_copy writes, for r in [0, len):
 *   dst[r * ds] = 0 <= a0 + r * S < lim ? row[a0 + r * S] : 0
 * with the bounds solved once per run (two zero fills around one copy,
 * which is a plain vectorizable copy when S = ds = 1); a0, len, row and
 * dst are C expressions in scope. */
static void emit_run_copy(SmBuf *b, int ind, const char *dst, long long ds, const char *row,
                          const char *a0, long long S, long long lim, const char *len) {
  const char *sp = "";
  sm_buf_printf(b, "%*s{\n", ind, sp);
  sm_buf_printf(b, "%*s  const int64_t a_ = %s, n_ = %s;\n", ind, sp, a0, len);
  sm_buf_printf(b, "%*s  int64_t lo_ = a_ >= 0 ? 0 : (-a_ + %lld) / %lld;\n", ind, sp, S - 1, S);
  sm_buf_printf(b, "%*s  int64_t hi_ = a_ < %lld ? (%lld - a_ + %lld) / %lld : 0;\n", ind, sp, lim,
                lim, S - 1, S);
  sm_buf_printf(b, "%*s  if (hi_ > n_) hi_ = n_;\n%*s  if (lo_ > hi_) lo_ = hi_;\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s  float *d_ = %s;\n%*s  const float *s_ = %s;\n", ind, sp, dst, ind, sp, row);
  sm_buf_printf(b, "%*s  for (int64_t r = 0; r < lo_; r++) d_[r * %lld] = 0.0f;\n", ind, sp, ds);
  sm_buf_printf(b, "%*s  for (int64_t r = lo_; r < hi_; r++) d_[r * %lld] = s_[a_ + r * %lld];\n",
                ind, sp, ds, S);
  sm_buf_printf(b, "%*s  for (int64_t r = hi_; r < n_; r++) d_[r * %lld] = 0.0f;\n", ind, sp, ds);
  sm_buf_printf(b, "%*s}\n", ind, sp);
}

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

/* Packs B by rows k, each by runs of j within one grid row. */
static void emit_pack_runs(SmBuf *b, const char *src, const RunPack *rp, int nr, int ind) {
  const char *sp = "";
  char ia[160], aa[160];
  sm_buf_printf(b, "%*sconst float *xb = %s;\n", ind, sp, src);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, sp);
  sm_buf_printf(b, "%*s  const int64_t j0 = jc + jr, jn = %lld - j0 < %d ? %lld - j0 : %d;\n", ind, sp,
                rp->jn, nr, rp->jn, nr);
  sm_buf_printf(b, "%*s  int64_t c = pc / %lld, kh = pc / %lld %% %lld, kw = pc %% %lld;\n", ind, sp,
                rp->KH * rp->KW, rp->KW, rp->KH, rp->KW);
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, sp);
  sm_buf_printf(b, "%*s    float *dk = d + k * %d;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    for (int64_t q = jn; q < %d; q++) dk[q] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    for (int64_t q = 0; q < jn;) {\n", ind, sp);
  sm_buf_printf(b, "%*s      const int64_t jrow = (j0 + q) / %lld, jcol = (j0 + q) %% %lld;\n", ind, sp,
                rp->jw, rp->jw);
  sm_buf_printf(b, "%*s      const int64_t len = %lld - jcol < jn - q ? %lld - jcol : jn - q;\n", ind,
                sp, rp->jw, rp->jw);
  sm_buf_printf(b, "%*s      const int64_t i = %s;\n", ind, sp,
                affine(ia, sizeof ia, rp->rs, "jrow", rp->rd, "kh", rp->rc));
  sm_buf_printf(b, "%*s      if (i < 0 || i >= %lld) {\n", ind, sp, rp->rlim);
  sm_buf_printf(b, "%*s        for (int64_t r = 0; r < len; r++) dk[q + r] = 0.0f;\n", ind, sp);
  sm_buf_printf(b, "%*s      } else\n", ind, sp);
  affine(aa, sizeof aa, rp->cs, "jcol", rp->cd, "kw", rp->cc);
  char row[96];
  snprintf(row, sizeof row, "xb + c * %lld + i * %lld", rp->plane, rp->clim);
  emit_run_copy(b, ind + 8, "dk + q", 1, row, aa, rp->cs, rp->clim, "len");
  sm_buf_printf(b, "%*s      q += len;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s    if (++kw == %lld) {\n%*s      kw = 0;\n", ind, sp, rp->KW, ind, sp);
  sm_buf_printf(b, "%*s      if (++kh == %lld) kh = 0, c++;\n%*s    }\n", ind, sp, rp->KH, ind, sp);
  sm_buf_printf(b, "%*s  }\n%*s}\n", ind, sp, ind, sp);
}

/* B(k, j) = col((ci,kh,kw), (oh,ow)) = x[ci, oh*s - p + kh*d, ow*s - p + kw*d]
 * (zero outside x). */
static void conv_pack_im2col(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  RunPack rp = {.jw = z->OW, .jn = z->OH * z->OW, .KH = z->KH, .KW = z->KW, .plane = z->H * z->W,
                .rs = g->s[0], .rd = g->d[0], .rc = -g->pb[0], .rlim = z->H,
                .cs = g->s[1], .cd = g->d[1], .cc = -g->pb[1], .clim = z->W};
  emit_pack_runs(b, gc->b, &rp, nr, ind);
}

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

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }
/* output positions computed per plane: whole vectors of 16 (or 8) lanes */
static int64_t corr_pv(const Corr *c) { return round16(c->OHo * c->OWo); }
/* staged floats per shifted copy: every read of the last vector included */
static int64_t corr_plane(const Corr *c) { return round16(corr_pv(c) + (c->KH - 1) * c->OWo); }
/* source channels per block: their copies within 24 KiB */
static int64_t corr_ib(const Corr *c) {
  int64_t ib = 6144 / (c->KW * corr_plane(c));
  return ib < 1 ? 1 : ib > c->Ci ? c->Ci : ib;
}
/* output channels per register block (sharing each load): the largest
 * divisor of Co up to maxob, or maxob and a remainder block when that is
 * small. Wide blocks of few vectors measured fastest (LeNet: 16 x 1
 * vector for Co = 16, 6 x 4 for Co = 6). */
static int corr_ob(const Corr *c, int maxob) {
  int ob = 1;
  for (int d = maxob; d > 1 && ob == 1; d--)
    if (c->Co % d == 0) ob = d;
  if (c->Co > maxob && ob < maxob / 2) ob = maxob;
  return ob < c->Co ? ob : (int)c->Co;
}
/* the stack buffers of one thread, in floats */
static int64_t corr_stack(const Corr *c) {
  return corr_ib(c) * c->KW * corr_plane(c) + c->Co * corr_pv(c) +
         (c->OHo + c->KH - 1) * (c->OWo + c->KW - 1);
}

/* One register block: ob output channels from o, nv vectors from q0,
 * source channels i0 .. ie - 1 added to the sums in `sum`. */
static void emit_corr_block(SmBuf *b, const Corr *c, int ob, int nv, int ind) {
  long long SD = corr_plane(c), PV = corr_pv(c);
  const char *sp = "";
  sm_buf_printf(b, "%*svf ", ind, sp);
  for (int j = 0; j < ob; j++) sm_buf_printf(b, "%sa%d[%d]", j ? ", " : "", j, nv);
  sm_buf_printf(b, ";\n%*sif (i0 == 0) {\n%*s  for (int v = 0; v < %d; v++) {", ind, sp, ind, sp, nv);
  for (int j = 0; j < ob; j++) sm_buf_printf(b, " a%d[v] = (vf){0};", j);
  sm_buf_printf(b, " }\n%*s} else {\n", ind, sp);
  for (int j = 0; j < ob; j++)
    sm_buf_printf(b, "%*s  memcpy(a%d, sum + (o + %d) * %lld + q0, sizeof a%d);\n", ind, sp, j, j, PV, j);
  sm_buf_printf(b, "%*s}\n%*sfor (int64_t i = i0; i < ie; i++) {\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s  const float *sp = st + (i - i0) * %lld + q0;\n", ind, sp,
                (long long)(c->KW * SD));
  sm_buf_printf(b, "%*s  const float *wk = %s + o * %lld + i * %lld + %lld;\n", ind, sp,
                c->KWo ? "wt" : "in1",
                (long long)c->wo, (long long)c->wi, (long long)c->w0);
  sm_buf_printf(b, "%*s  for (int64_t a = 0; a < %lld; a++)\n", ind, sp, (long long)c->KH);
  sm_buf_printf(b, "%*s    for (int64_t bb = 0; bb < %lld; bb++) {\n", ind, sp, (long long)c->KW);
  sm_buf_printf(b, "%*s      const float *x = sp + bb * %lld + a * %lld;\n", ind, sp, SD,
                (long long)c->OWo);
  for (int j = 0; j < ob; j++)
    sm_buf_printf(b, "%*s      const vf w%d = wk[%lld + a * %lld + bb * %lld] - (vf){0};\n", ind, sp,
                  j, (long long)(j * c->wo), (long long)c->wa, (long long)c->wb);
  sm_buf_printf(b, "%*s      for (int v = 0; v < %d; v++) {\n", ind, sp, nv);
  sm_buf_printf(b, "%*s        vf xv;\n%*s        memcpy(&xv, x + v * SM_L, sizeof xv);\n", ind, sp,
                ind, sp);
  for (int j = 0; j < ob; j++) sm_buf_printf(b, "%*s        a%d[v] += w%d * xv;\n", ind, sp, j, j);
  sm_buf_printf(b, "%*s      }\n%*s    }\n%*s}\n", ind, sp, ind, sp, ind, sp);
  for (int j = 0; j < ob; j++)
    sm_buf_printf(b, "%*smemcpy(sum + (o + %d) * %lld + q0, a%d, sizeof a%d);\n", ind, sp, j, PV, j, j);
}

/* The output channels from o in blocks of ob, for vectors of `lanes`
 * floats and `regs` accumulator registers: the plane's vectors split into
 * near-equal chunks of at most regs / ob. */
static void emit_corr_channels(SmBuf *b, const Corr *c, int ob, int lanes, int regs) {
  int64_t NVt = corr_pv(c) / lanes;
  int nvmax = regs / ob < 1 ? 1 : regs / ob;
  int64_t nch = (NVt + nvmax - 1) / nvmax, base = NVt / nch, extra = NVt % nch;
  /* extra chunks of base + 1 vectors, then the rest of base */
  int64_t qs[2] = {0, extra * (base + 1) * lanes}, qe[2] = {qs[1], NVt * lanes};
  int nvs[2] = {(int)base + 1, (int)base};
  for (int k = 0; k < 2; k++) {
    if (qe[k] <= qs[k]) continue;
    sm_buf_printf(b, "      for (int64_t q0 = %lld; q0 < %lld; q0 += %lld) {\n", (long long)qs[k],
                  (long long)qe[k], (long long)nvs[k] * lanes);
    emit_corr_block(b, c, ob, nvs[k], 8);
    sm_buf_puts(b, "      }\n");
  }
}

/* One vector variant of the compute: lanes and accumulator registers. */
static void emit_corr_compute(SmBuf *b, const Corr *c, int lanes, int regs, int maxob) {
  int ob = corr_ob(c, maxob);
  int64_t Cm = c->Co / ob * ob;
  sm_buf_printf(b, "    for (int64_t o = 0; o < %lld; o += %d) {\n", (long long)Cm, ob);
  emit_corr_channels(b, c, ob, lanes, regs);
  sm_buf_puts(b, "    }\n");
  if (Cm < c->Co) {
    sm_buf_printf(b, "    {\n      const int64_t o = %lld;\n", (long long)Cm);
    emit_corr_channels(b, c, (int)(c->Co - Cm), lanes, regs);
    sm_buf_puts(b, "    }\n");
  }
}

/* The input gradient by columns: dx[c, h, w] = sum_b Y[c * KWo + b, h + fpt, w - b + fpl]
 * (OWo wide rows of Y, terms outside them zero), a row at a time. */
static void emit_corr_columns(SmBuf *b, const Corr *c, const OpEpilogue *epi) {
  long long Cd = c->Co / c->KWo, H = c->H, W = c->W, OW = c->OWo, PV = corr_pv(c);
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++)\n", Cd);
  sm_buf_printf(b, "      for (int64_t h = 0; h < %lld; h++) {\n", H);
  sm_buf_printf(b, "        const float *yr = sum + m * %lld + (h + %lld) * %lld;\n",
                c->KWo * PV, (long long)c->fpt, OW);
  sm_buf_printf(b, "        float row[%lld];\n        memset(row, 0, sizeof row);\n", W);
  for (long long bb = 0; bb < c->KWo; bb++) {
    long long s0 = c->fpl - bb > 0 ? c->fpl - bb : 0;
    long long s1 = W + c->fpl - bb < OW ? W + c->fpl - bb : OW;
    if (s1 <= s0) continue;
    sm_buf_printf(b, "        for (int64_t s = %lld; s < %lld; s++) row[s + %lld] += yr[%lld + s];\n", s0,
                  s1, bb - c->fpl, bb * PV);
  }
  sm_buf_printf(b, "        for (int64_t w = 0; w < %lld; w++) {\n", W);
  sm_buf_printf(b, "          const int64_t o = ((n * %lld + m) * %lld + h) * %lld + w;\n", Cd, H, W);
  sm_buf_puts(b, "          const float acc = row[w];\n");
  if (epi) ew_emit_epilogue_elem(b, 10, epi, "acc", "o", true);
  else sm_buf_puts(b, "          out0[o] = acc;\n");
  sm_buf_puts(b, "        }\n      }\n  }\n#undef SM_L\n");
}

/* The direct kernels' vector type `vf` (16 lanes with AVX-512, else 8)
 * and SM_L, its lane count. */
static void emit_vf_prelude(SmBuf *b) {
  sm_buf_puts(b, "#if defined(__AVX512F__)\n  typedef float vf __attribute__((vector_size(64)));\n"
                 "#else\n  typedef float vf __attribute__((vector_size(32)));\n#endif\n"
                 "#define SM_L ((int64_t)(sizeof(vf) / sizeof(float)))\n");
}

/* With epi, the fused kernel: the chain applied as the sums are stored. */
static void emit_corr(SmBuf *b, const Corr *c, const OpEpilogue *epi) {
  int64_t Hp = c->OHo + c->KH - 1, OWo = c->OWo, Wp = OWo + c->KW - 1, SD = corr_plane(c);
  int64_t ib = corr_ib(c), PV = corr_pv(c), P = c->OHo * OWo;
  sm_buf_printf(b, "  /* direct correlation on %lld shifted copies of each padded %lld x %lld plane,"
                   " %lld source channels at a time: %lld of %lld positions kept */\n",
                (long long)c->KW, (long long)Hp, (long long)Wp, (long long)ib,
                (long long)P, (long long)PV);
  emit_vf_prelude(b);
  if (c->KWo) {
    /* wt[m][c * KWo + b][a] = w[m][c][KH - 1 - a][b] */
    long long Cd = c->Co / c->KWo, KH = c->KH, KWo = c->KWo;
    sm_buf_printf(b, "  float wt[%lld];\n", (long long)(c->Ci * c->Co * KH));
    sm_buf_printf(b, "  for (int64_t m = 0; m < %lld; m++)\n", (long long)c->Ci);
    sm_buf_printf(b, "    for (int64_t o = 0; o < %lld; o++)\n", (long long)c->Co);
    sm_buf_printf(b, "      for (int64_t a = 0; a < %lld; a++)\n", KH);
    sm_buf_printf(b, "        wt[(m * %lld + o) * %lld + a] = in1[((m * %lld + o / %lld) * %lld + %lld - a) * %lld + o %% %lld];\n",
                  (long long)c->Co, KH, Cd, KWo, KH, KH - 1, KWo, KWo);
  }
  emit_omp_for(b, sat_mul(c->N * c->Co * P, c->Ci * c->KH * c->KW), "schedule(static)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++) {\n", (long long)c->N);
  sm_buf_printf(b, "    float st[%lld] __attribute__((aligned(64)));\n", (long long)(ib * c->KW * SD));
  sm_buf_printf(b, "    float sum[%lld] __attribute__((aligned(64)));\n", (long long)(c->Co * PV));
  sm_buf_printf(b, "    float pad[%lld];\n    memset(pad, 0, sizeof pad);\n", (long long)(Hp * Wp));
  sm_buf_printf(b, "    for (int64_t i0 = 0; i0 < %lld; i0 += %lld) {\n", (long long)c->Ci, (long long)ib);
  sm_buf_printf(b, "    const int64_t ie = i0 + %lld < %lld ? i0 + %lld : %lld;\n", (long long)ib,
                (long long)c->Ci, (long long)ib, (long long)c->Ci);
  /* plane i zero-padded in pad (the borders stay zero), then copy bb of
   * it: row r holds the padded columns bb .. bb + OWo - 1 */
  sm_buf_printf(b, "    for (int64_t i = i0; i < ie; i++) {\n");
  sm_buf_printf(b, "      for (int64_t r = 0; r < %lld; r++)\n", (long long)c->Hs);
  sm_buf_printf(b, "        memcpy(pad + (r + %lld) * %lld + %lld, in0 + ((n * %lld + i) * %lld + r) * %lld,"
                   " %lld * sizeof(float));\n",
                (long long)c->pt, (long long)Wp, (long long)c->pl, (long long)c->Ci,
                (long long)c->Hs, (long long)c->Ws, (long long)c->Ws);
  sm_buf_printf(b, "      for (int64_t bb = 0; bb < %lld; bb++) {\n", (long long)c->KW);
  sm_buf_printf(b, "        float *dp = st + ((i - i0) * %lld + bb) * %lld;\n", (long long)c->KW,
                (long long)SD);
  sm_buf_printf(b, "        for (int64_t r = 0; r < %lld; r++)\n", (long long)Hp);
  sm_buf_printf(b, "          memcpy(dp + r * %lld, pad + r * %lld + bb, %lld * sizeof(float));\n",
                (long long)OWo, (long long)Wp, (long long)OWo);
  sm_buf_printf(b, "        memset(dp + %lld, 0, %lld * sizeof(float));\n      }\n    }\n",
                (long long)(Hp * OWo), (long long)(SD - Hp * OWo));
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  emit_corr_compute(b, c, 16, 24, 16);
  sm_buf_puts(b, "#else\n");
  emit_corr_compute(b, c, 8, 12, 8);
  sm_buf_puts(b, "#endif\n    }\n");
  if (c->KWo) {
    emit_corr_columns(b, c, epi);
    return;
  }
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++) {\n", (long long)c->Co);
  sm_buf_printf(b, "      const float bv = %s;\n", c->bias ? "in2[m]" : "0.0f");
  sm_buf_puts(b, "#pragma omp simd\n");
  sm_buf_printf(b, "      for (int64_t q = 0; q < %lld; q++) {\n", (long long)P);
  sm_buf_printf(b, "        const int64_t o = (n * %lld + m) * %lld + q;\n", (long long)c->Co,
                (long long)P);
  sm_buf_printf(b, "        const float acc = sum[m * %lld + q] + bv;\n", (long long)PV);
  if (epi) ew_emit_epilogue_elem(b, 8, epi, "acc", "o", true);
  else sm_buf_puts(b, "        out0[o] = acc;\n");
  sm_buf_puts(b, "      }\n    }\n  }\n#undef SM_L\n");
}

/* The direct correlation of a stride-1, undilated, ungrouped convolution
 * (forward, or its input gradient with grad) with few channels, when its
 * stack buffers stay small; false otherwise. */
static bool conv_corr(const ConvSz *z, bool grad, bool bias, Corr *c) {
  const Win *g = &z->g;
  if (z->group != 1 || g->s[0] != 1 || g->s[1] != 1 || g->d[0] != 1 || g->d[1] != 1) return false;
  if (grad) {
    /* dx = full correlation of dy with the flipped kernel: o = c, i = m */
    if (g->pb[0] > z->KH - 1 || g->pe[0] > z->KH - 1 || g->pb[1] > z->KW - 1 ||
        g->pe[1] > z->KW - 1 || z->Cg >= 12)
      return false;
    *c = (Corr){.N = z->N, .Ci = z->M, .Co = z->C, .Hs = z->OH, .Ws = z->OW,
                .pt = z->KH - 1 - g->pb[0], .pl = z->KW - 1 - g->pb[1], .OHo = z->H,
                .OWo = z->W, .KH = z->KH, .KW = z->KW, .wo = z->KH * z->KW,
                .wi = z->C * z->KH * z->KW, .wa = -z->KW, .wb = -1,
                .w0 = z->KH * z->KW - 1, .bias = false};
    /* By columns when that computes a tenth fewer positions: Y[c * KW + b]
     * = the correlation of dy (zero-padded by KH - 1 rows) with the
     * flipped kernel column b, OW wide, summed into dx shifted by b: no
     * products with padding columns (LeNet conv2: 144 positions x 5
     * columns x 5 rows per channel pair against 208 x 25 taps). */
    if (round16((z->OH + z->KH - 1) * z->OW) * 10 < round16(z->H * z->W) * 9)
      *c = (Corr){.N = z->N, .Ci = z->M, .Co = z->C * z->KW, .Hs = z->OH, .Ws = z->OW,
                  .pt = z->KH - 1, .pl = 0, .OHo = z->OH + z->KH - 1, .OWo = z->OW, .KH = z->KH,
                  .KW = 1, .wo = z->KH, .wi = z->C * z->KW * z->KH, .wa = 1, .wb = 0, .w0 = 0,
                  .bias = false, .KWo = z->KW, .H = z->H, .W = z->W, .fpt = g->pb[0],
                  .fpl = g->pb[1]};
  } else {
    if (z->M >= 32 && z->C * z->KH * z->KW >= 64) return false; /* the GEMM form */
    *c = (Corr){.N = z->N, .Ci = z->C, .Co = z->M, .Hs = z->H, .Ws = z->W, .pt = g->pb[0],
                .pl = g->pb[1], .OHo = z->OH, .OWo = z->OW, .KH = z->KH, .KW = z->KW,
                .wo = z->C * z->KH * z->KW, .wi = z->KH * z->KW, .wa = z->KW, .wb = 1,
                .w0 = 0, .bias = bias};
  }
  return c->OWo >= 8 && corr_stack(c) <= 32768;
}

/* A forward convolution's sizes. */
static ConvSz conv_fwd_sz(const IrNode *n, const Win *g) {
  int64_t C = n->in[0]->type.dims[1], M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  return (ConvSz){.g = *g, .N = n->in[0]->type.dims[0], .C = C, .M = M, .Cg = Cg,
                  .Mg = M / (C / Cg), .group = C / Cg, .H = g->in[0], .W = g->in[1],
                  .KH = g->k[0], .KW = g->k[1], .OH = g->out[0], .OW = g->out[1]};
}

/* Whether a forward convolution takes the direct correlation (c filled). */
static bool conv_fwd_corr(const IrNode *n, const Win *g, Corr *c) {
  if (n->out[0]->type.dtype != IR_F32 || g->nsp != 2) return false;
  ConvSz z = conv_fwd_sz(n, g);
  return conv_corr(&z, false, n->nin == 3, c);
}

/* Whether a forward convolution's GEMM reads B in place on wide rows
 * (w filled): one image, one group, undilated, not 1x1 (plain at stride 1,
 * a cheap gather else: staging its phase planes measured slower), a
 * staged copy of at most 4M floats. It saves
 * the im2col packing of every column task; strides go through phase
 * planes. */
static bool conv_wide(const ConvSz *z, bool one, GemmWide *w) {
  const Win *g = &z->g;
  if (one || z->N != 1 || z->group != 1 || g->d[0] != 1 || g->d[1] != 1 || z->OW < 8 ||
      z->KH * z->KW == 1)
    return false;
  int64_t sy = g->s[0], sx = g->s[1];
  int64_t Hp = z->OH + (z->KH - 1) / sy, Wp = z->OW + (z->KW - 1) / sx;
  *w = (GemmWide){.x = "in0", .C = z->C, .H = z->H, .W = z->W, .pt = g->pb[0], .pl = g->pb[1],
                  .sy = sy, .sx = sx, .Hp = Hp, .Wp = Wp, .OW = z->OW, .KH = z->KH, .KW = z->KW};
  int64_t ny = sy < z->KH ? sy : z->KH, nx = sx < z->KW ? sx : z->KW;
  return z->C * ny * nx * (Hp * Wp + 2 * Wp + 64) <= (4 << 20);
}

/* The GEMM form, when the products are big enough; false otherwise. */
static bool conv_emit_gemm(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  Corr corr;
  if (conv_fwd_corr(n, g, &corr)) return false;
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  int64_t M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  int64_t group = C / Cg, Mg = M / group;
  int64_t P = g->out[0] * g->out[1], Kc = Cg * g->k[0] * g->k[1], HW = g->in[0] * g->in[1];
  if (Mg < 4 || Kc < 4 || !gemm_core_fits(Mg, P, Kc)) return false;
  bool one = g->k[0] == 1 && g->k[1] == 1 && g->s[0] == 1 && g->s[1] == 1 && g->pb[0] == 0 &&
             g->pb[1] == 0 && g->pe[0] == 0 && g->pe[1] == 0;
  char a[96], x[96], y[96], bias[96], coff[64];
  bool batched = N * group > 1;
  if (group > 1) snprintf(a, sizeof a, "in1 + t %% %lld * %lld", (long long)group, (long long)(Mg * Kc));
  else snprintf(a, sizeof a, "in1");
  snprintf(x, sizeof x, batched ? "in0 + t * %lld" : "in0", (long long)(Cg * HW));
  snprintf(y, sizeof y, batched ? "out0 + t * %lld" : "out0", (long long)(Mg * P));
  snprintf(coff, sizeof coff, batched ? "t * %lld" : "0", (long long)(Mg * P));
  if (group > 1) snprintf(bias, sizeof bias, "in2 + t %% %lld * %lld", (long long)group, (long long)Mg);
  else snprintf(bias, sizeof bias, "in2");
  ConvSz cg = conv_fwd_sz(n, g);
  char lead[256];
  snprintf(lead, sizeof lead, "as GEMM per image%s: [%lld,%lld] x [%lld,%lld]%s; ",
           group > 1 ? " and group" : "", (long long)Mg, (long long)Kc, (long long)Kc,
           (long long)P, one ? " (1x1)" : " (implicit im2col)");
  attrs_comment(b, lead, g);
  GemmCore gc = {.M = Mg, .N = P, .K = Kc, .nbatch = N * group, .a = a, .b = x, .c = y,
                 .as_i = Kc, .as_k = 1, .bs_k = HW, .bs_j = 1, .ldc = P, .alpha = 1,
                 .beta = 1, .bias = n->nin == 3 ? bias : NULL, .bias_si = 1, .bias_sj = 0,
                 .pack_b = one ? NULL : conv_pack_im2col, .user = &cg, .epi = epi,
                 .c_off = coff};
  GemmWide wide;
  if (conv_wide(&cg, one, &wide)) {
    gc.wide = &wide;
    gc.N = g->out[0] * wide.Wp;
    gc.pack_b = NULL;
    sm_buf_puts(b, "  /* B read in place on wide rows (one image) */\n");
  }
  gemm_core_emit(b, &gc);
  return true;
}

/* Per output plane (n, m): initialize with the bias, then for each input
 * channel and kernel tap add wv * (shifted input row) into the output rows
 * the tap reaches, so the innermost loop runs along output width. */
static void conv_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  Win g;
  conv_win(n, &g);
  Corr corr;
  if (conv_fwd_corr(n, &g, &corr)) {
    emit_corr(b, &corr, NULL);
    return;
  }
  if (conv_emit_gemm(b, n, &g, NULL)) return;
  const char *T = ctype(n);
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  int64_t M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  int64_t group = C / Cg, Mg = M / group;
  int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  /* a 1-D conv (or height 1 everywhere) needs no row loops */
  bool flat = H == 1 && KH == 1 && OH == 1 && g.pb[0] == 0;
  int64_t *lo = sm_xmalloc(sizeof(int64_t) * (size_t)(KH + KW) * 2);
  int64_t *hi = lo + KH + KW, *wlo = lo + KH, *whi = hi + KH;
  bool hclip = !flat && tap_ranges(&g, 0, lo, hi);
  bool wclip = tap_ranges(&g, 1, wlo, whi);
  char lead[64];
  snprintf(lead, sizeof lead, "group %lld, ", (long long)group);
  attrs_comment(b, lead, &g);
  if (hclip) emit_tables(b, "oh0", "oh1", lo, hi, KH);
  if (wclip) emit_tables(b, "ow0", "ow1", wlo, whi, KW);
  free(lo);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->out[0]->type), Cg * KH * KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)N);
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++) {\n", (long long)M);
  sm_buf_printf(b, "      %s *y = out0 + (n * %lld + m) * %lld;\n", T, (long long)M,
                (long long)(OH * OW));
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++) y[i] = ", (long long)(OH * OW));
  if (n->nin == 3) {
    sm_buf_puts(b, "in2[m];\n");
  } else {
    lit(b, n, 0);
    sm_buf_puts(b, ";\n");
  }
  sm_buf_printf(b, "      for (int64_t c = 0; c < %lld; c++) {\n", (long long)Cg);
  if (group == 1)
    sm_buf_printf(b, "        const %s *xc = in0 + (n * %lld + c) * %lld;\n", T,
                  (long long)C, (long long)(H * W));
  else
    sm_buf_printf(b, "        const %s *xc = in0 + (n * %lld + m / %lld * %lld + c) * %lld;\n",
                  T, (long long)C, (long long)Mg, (long long)Cg, (long long)(H * W));
  sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c) * %lld;\n", T, (long long)Cg,
                (long long)(KH * KW));
  int ind = 8;
  const char *yr = "y", *xr = "xc", *wix = "kw";
  char wbuf[64];
  if (!flat) {
    sm_buf_printf(b, "        for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)KH);
    if (hclip)
      sm_buf_puts(b, "          for (int64_t oh = oh0[kh]; oh < oh1[kh]; oh++) {\n");
    else
      sm_buf_printf(b, "          for (int64_t oh = 0; oh < %lld; oh++) {\n", (long long)OH);
    sm_buf_printf(b, "            %s *yr = y + oh * %lld;\n", T, (long long)OW);
    sm_buf_printf(b, "            const %s *xr = xc + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g.s[0], "oh", g.d[0], "kh", -g.pb[0]), (long long)W);
    yr = "yr", xr = "xr";
    snprintf(wbuf, sizeof wbuf, "kh * %lld + kw", (long long)KW);
    wix = wbuf;
    ind = 12;
  }
  sm_buf_printf(b, "%*sfor (int64_t kw = 0; kw < %lld; kw++) {\n", ind, "", (long long)KW);
  sm_buf_printf(b, "%*sconst %s wv = wc[%s];\n", ind + 2, "", T, wix);
  if (wclip)
    sm_buf_printf(b, "%*sfor (int64_t ow = ow0[kw]; ow < ow1[kw]; ow++)\n", ind + 2, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t ow = 0; ow < %lld; ow++)\n", ind + 2, "", (long long)OW);
  sm_buf_printf(b, "%*s%s[ow] += wv * %s[%s];\n", ind + 4, "", yr, xr,
                affine(ix, sizeof ix, g.s[1], "ow", g.d[1], "kw", -g.pb[1]));
  sm_buf_printf(b, "%*s}\n", ind, "");
  if (!flat) sm_buf_puts(b, "          }\n");
  sm_buf_puts(b, "      }\n    }\n");
}

/* ======================================================================
 * maxpool2d, avgpool2d
 * ====================================================================== */

static const IrAttrSpec maxpool_attrs[] = {
    {"kernel", IR_ATTR_INTS, true},
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"dilations", IR_ATTR_INTS, false},
    {"ceil_mode", IR_ATTR_INT, false},
    {NULL, 0, false}};

static const IrAttrSpec avgpool_attrs[] = {
    {"kernel", IR_ATTR_INTS, true},
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"ceil_mode", IR_ATTR_INT, false},
    {"count_include_pad", IR_ATTR_INT, false},
    {NULL, 0, false}};

static bool pool_kernel(const IrNode *n, int64_t *k, SmDiag *d) {
  k[0] = k[1] = 0;
  return win_ints(n, "kernel", 2, 1, k, d);
}

static void pool_win(const IrNode *n, Win *w) {
  int64_t k[2];
  bool ok = pool_kernel(n, k, NULL) &&
            win_decode(n, 2, n->in[0]->type.dims + 2, k, true, w, NULL, NULL);
  SM_ASSERT(ok);
}

static bool want_flag(const IrNode *n, const char *name, SmDiag *d) {
  int64_t v = ir_attr_int(n, name, 0);
  if (v != 0 && v != 1) return op_err(n, d, "%s must be 0 or 1, got %lld", name, (long long)v);
  return true;
}

static bool pool_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_float(n, 0, d) || !op_want_rank(n, 0, 4, d)) return false;
  if (!want_flag(n, "ceil_mode", d) || !want_flag(n, "count_include_pad", d)) return false;
  int64_t k[2];
  if (!pool_kernel(n, k, d)) return false;
  char sh[IR_TYPE_STRLEN + 64];
  operands_str(n, 1, sh, sizeof sh);
  Win g;
  const IrType *x = &n->in[0]->type;
  if (!win_decode(n, 2, x->dims + 2, k, true, &g, d, sh)) return false;
  int64_t dims[4] = {x->dims[0], x->dims[1], g.out[0], g.out[1]};
  out[0] = ir_type_make(x->dtype, 4, dims);
  return true;
}

static void maxpool_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  Win g;
  pool_win(n, &g);
  int64_t planes = in[0].type.dims[0] * in[0].type.dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double m = -INFINITY;
        for (int64_t kh = 0; kh < g.k[0]; kh++)
          for (int64_t kw = 0; kw < g.k[1]; kw++) {
            int64_t ih = oh * g.s[0] - g.pb[0] + kh * g.d[0];
            int64_t iw = ow * g.s[1] - g.pb[1] + kw * g.d[1];
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            double v = in[0].d[(p * H + ih) * W + iw];
            if (v > m) m = v;
          }
        out[0].d[(p * OH + oh) * OW + ow] = m;
      }
}

static void avgpool_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  Win g;
  pool_win(n, &g);
  bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  int64_t planes = in[0].type.dims[0] * in[0].type.dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double sum = 0;
        int64_t real = 0, padded = 0; /* taps inside the input / padded input */
        for (int64_t kh = 0; kh < g.k[0]; kh++)
          for (int64_t kw = 0; kw < g.k[1]; kw++) {
            int64_t ih = oh * g.s[0] - g.pb[0] + kh;
            int64_t iw = ow * g.s[1] - g.pb[1] + kw;
            if (ih >= -g.pb[0] && ih < H + g.pe[0] && iw >= -g.pb[1] && iw < W + g.pe[1])
              padded++;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            sum += in[0].d[(p * H + ih) * W + iw];
            real++;
          }
        out[0].d[(p * OH + oh) * OW + ow] = sum / (double)(include_pad ? padded : real);
      }
}

/* Declares `j0` (window start in the input along one dim) and the valid
 * kernel range [k0, k1) of the window whose taps j0 + k*d lie in [0, in). */
static void emit_window(SmBuf *b, int ind, const Win *g, int j, const char *o,
                        const char *j0, const char *k0, const char *k1) {
  char ix[128];
  int64_t in = g->in[j], k = g->k[j], d = g->d[j];
  sm_buf_printf(b, "%*sconst int64_t %s = %s;\n", ind, "", j0,
                affine(ix, sizeof ix, g->s[j], o, 0, NULL, -g->pb[j]));
  if (d == 1) {
    sm_buf_printf(b, "%*sconst int64_t %s = %s < 0 ? -%s : 0;\n", ind, "", k0, j0, j0);
    sm_buf_printf(b, "%*sconst int64_t %s = %lld - %s < %lld ? %lld - %s : %lld;\n", ind, "", k1,
                  (long long)in, j0, (long long)k, (long long)in, j0, (long long)k);
  } else {
    sm_buf_printf(b, "%*sconst int64_t %s = %s < 0 ? (%lld - %s) / %lld : 0;\n", ind, "", k0,
                  j0, (long long)(d - 1), j0, (long long)d);
    sm_buf_printf(b, "%*sconst int64_t %s = (%lld - %s) / %lld < %lld ? (%lld - %s) / %lld : %lld;\n",
                  ind, "", k1, (long long)(in + d - 1), j0, (long long)d, (long long)k,
                  (long long)(in + d - 1), j0, (long long)d, (long long)k);
  }
}

/* The divisor of the average over the window at (h0, w0) as a C
 * expression of type T, given emit_window's kh0..kw1: the taps inside the
 * input or, with count_include_pad, inside the padded input (windows are
 * clipped to it only where one can hang past it: ceil_mode). */
static const char *avg_count(char *buf, size_t n, const Win *g, bool include_pad,
                             const char *T) {
  if (!include_pad) {
    snprintf(buf, n, "(%s)((kh1 - kh0) * (kw1 - kw0))", T);
    return buf;
  }
  char cbuf[2][160];
  const char *o[2] = {"h0", "w0"};
  for (int j = 0; j < 2; j++) {
    int64_t last_end = (g->out[j] - 1) * g->s[j] - g->pb[j] + g->k[j];
    int64_t lim = g->in[j] + g->pe[j];
    if (last_end <= lim)
      snprintf(cbuf[j], sizeof cbuf[j], "%lld", (long long)g->k[j]);
    else
      snprintf(cbuf[j], sizeof cbuf[j], "(%s < %lld ? %lld : %lld - %s)", o[j],
               (long long)(lim - g->k[j]), (long long)g->k[j], (long long)lim, o[j]);
  }
  snprintf(buf, n, "(%s)(%s * %s)", T, cbuf[0], cbuf[1]);
  return buf;
}

static void pool_emit(SmBuf *b, const IrNode *n, bool is_max) {
  if (emit_if_empty(b, n)) return;
  Win g;
  pool_win(n, &g);
  const char *T = ctype(n);
  int64_t planes = n->in[0]->type.dims[0] * n->in[0]->type.dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  char ix[128];
  char lead[96];
  snprintf(lead, sizeof lead, "kernel [%lld,%lld], %s", (long long)g.k[0], (long long)g.k[1],
           is_max ? "" : include_pad ? "count_include_pad 1, " : "count_include_pad 0, ");
  attrs_comment(b, lead, &g);
  emit_omp_for(b, sat_mul(sat_mul(ir_numel(&n->out[0]->type), g.k[0]), g.k[1]), NULL);
  sm_buf_printf(b, "  for (int64_t p = 0; p < %lld; p++) {\n", (long long)planes);
  sm_buf_printf(b, "    const %s *x = in0 + p * %lld;\n", T, (long long)(H * W));
  sm_buf_printf(b, "    %s *y = out0 + p * %lld;\n", T, (long long)(OH * OW));
  sm_buf_printf(b, "    for (int64_t oh = 0; oh < %lld; oh++) {\n", (long long)OH);
  emit_window(b, 6, &g, 0, "oh", "h0", "kh0", "kh1");
  sm_buf_printf(b, "      for (int64_t ow = 0; ow < %lld; ow++) {\n", (long long)OW);
  emit_window(b, 8, &g, 1, "ow", "w0", "kw0", "kw1");
  sm_buf_printf(b, "        %s acc = ", T);
  lit(b, n, is_max ? -INFINITY : 0);
  sm_buf_puts(b, ";\n");
  sm_buf_puts(b, "        for (int64_t kh = kh0; kh < kh1; kh++)\n");
  sm_buf_puts(b, "          for (int64_t kw = kw0; kw < kw1; kw++) {\n");
  sm_buf_printf(b, "            const %s v = x[(%s) * %lld + ", T,
                affine(ix, sizeof ix, 1, "h0", g.d[0], "kh", 0), (long long)W);
  sm_buf_printf(b, "%s];\n", affine(ix, sizeof ix, 1, "w0", g.d[1], "kw", 0));
  if (is_max) {
    sm_buf_puts(b, "            acc = v > acc ? v : acc;\n          }\n");
    sm_buf_puts(b, "        y[oh * ");
    sm_buf_printf(b, "%lld + ow] = acc;\n", (long long)OW);
  } else {
    sm_buf_puts(b, "            acc += v;\n          }\n");
    char cnt[400];
    sm_buf_printf(b, "        y[oh * %lld + ow] = acc / %s;\n", (long long)OW,
                  avg_count(cnt, sizeof cnt, &g, include_pad, T));
  }
  sm_buf_puts(b, "      }\n    }\n  }\n");
}

static void maxpool_emit(SmBuf *b, const IrNode *n) { pool_emit(b, n, true); }
static void avgpool_emit(SmBuf *b, const IrNode *n) { pool_emit(b, n, false); }

/* ======================================================================
 * global_avgpool
 * ====================================================================== */

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

static bool gap_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  char s[IR_TYPE_STRLEN];
  if (!op_want_float(n, 0, d)) return false;
  if (x->rank < 3)
    return op_err(n, d, "expects input 0 ('%s') of rank >= 3 ([N,C,spatial...]), got %s",
                  n->in[0]->name, OP_TSTR(x, s));
  IrType t = *x;
  for (int i = 2; i < t.rank; i++) {
    if (x->dims[i] == 0)
      return op_err(n, d, "spatial dims of input 0 ('%s') are empty: %s", n->in[0]->name,
                    OP_TSTR(x, s));
    t.dims[i] = 1;
  }
  out[0] = t;
  return true;
}

static int64_t gap_plane(const IrNode *n) {
  const IrType *x = &n->in[0]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void gap_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t S = gap_plane(n);
  for (int64_t p = 0; p < out[0].numel; p++) {
    double sum = 0;
    for (int64_t i = 0; i < S; i++) sum += in[0].d[p * S + i];
    out[0].d[p] = sum / (double)S;
  }
}

/* One plane per output element, summed in double (planes can be long). */
static void gap_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t S = gap_plane(n), planes = ir_numel(&n->out[0]->type);
  emit_omp_for(b, planes * S, NULL);
  sm_buf_printf(b, "  for (int64_t p = 0; p < %lld; p++) {\n", (long long)planes);
  sm_buf_printf(b, "    const %s *x = in0 + p * %lld;\n", T, (long long)S);
  sm_buf_puts(b, "    double sum = 0.0;\n");
  sm_buf_printf(b, "    for (int64_t i = 0; i < %lld; i++) sum += x[i];\n", (long long)S);
  sm_buf_printf(b, "    out0[p] = (%s)(sum / %lld.0);\n  }\n", T, (long long)S);
}

/* ======================================================================
 * batchnorm (inference)
 * ====================================================================== */

static const IrAttrSpec bn_attrs[] = {
    {"epsilon", IR_ATTR_FLOAT, false},
    {"momentum", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const char *const bn_roles[] = {"x", "scale", "bias", "mean", "var"};

static bool bn_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  char s[IR_TYPE_STRLEN], t[IR_TYPE_STRLEN];
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  if (!op_same_dtype(n, d)) return false;
  if (x->rank < 2)
    return op_err(n, d, "expects input 0 ('%s') of rank >= 2 ([N,C,...]), got %s",
                  n->in[0]->name, OP_TSTR(x, s));
  for (int i = 1; i < 5; i++) {
    const IrType *p = &n->in[i]->type;
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return op_err(n, d, "%s '%s' must be [%lld] (one per channel of %s), got %s",
                    bn_roles[i], n->in[i]->name, (long long)x->dims[1], OP_TSTR(x, s),
                    OP_TSTR(p, t));
  }
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  double mom = ir_attr_float(n, "momentum", 0.9);
  if (!(eps >= 0 && eps < INFINITY))
    return op_err(n, d, "epsilon must be non-negative, got %g", eps);
  if (!(mom >= 0 && mom <= 1)) return op_err(n, d, "momentum must be in [0, 1], got %g", mom);
  out[0] = *x;
  return true;
}

static int64_t bn_inner(const IrNode *n) {
  const IrType *x = &n->in[0]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void bn_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t C = in[0].type.dims[1], inner = bn_inner(n);
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t c = i / inner % C;
    out[0].d[i] = in[1].d[c] * (in[0].d[i] - in[3].d[c]) / sqrt(in[4].d[c] + eps) + in[2].d[c];
  }
}

static void bn_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1], I = bn_inner(n);
  emit_omp_for(b, N * C * I, "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)N);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "      const %s a = in1[c] / %s(in4[c] + ", T,
                n->out[0]->type.dtype == IR_F32 ? "sqrtf" : "sqrt");
  lit(b, n, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  sm_buf_printf(b, "      const %s *x = in0 + (n * %lld + c) * %lld;\n", T, (long long)C,
                (long long)I);
  sm_buf_printf(b, "      %s *y = out0 + (n * %lld + c) * %lld;\n", T, (long long)C,
                (long long)I);
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++)\n", (long long)I);
  sm_buf_puts(b, "        y[i] = (x[i] - in3[c]) * a + in2[c];\n    }\n");
}

/* ======================================================================
 * gradients: shared pieces
 *
 * Backward ops get the forward operand shapes they no longer see as ints
 * attributes (xshape, wshape) and the forward window attributes as is.
 * Each emitter gives every thread whole planes (or channels) of its
 * result, so scatters stay race-free.
 * ====================================================================== */

#define FAIL(...) (d ? op_err(n, d, __VA_ARGS__) : false)

/* The type held by the ints attribute `key` of a gradient op: `rank`
 * values (rank -1: 3 to IR_MAX_RANK), dtype of operand 0. With d NULL the
 * node must already be valid. */
static bool attr_shape(const IrNode *n, const char *key, int rank, IrType *t, SmDiag *d) {
  int64_t v[IR_MAX_RANK + 1];
  char s[256];
  int cnt = ir_attr_ints(n, key, v, IR_MAX_RANK + 1);
  if (rank >= 0 ? cnt != rank : cnt < 3 || cnt > IR_MAX_RANK) {
    if (rank >= 0) return FAIL("%s needs %d values, got %d", key, rank, cnt < 0 ? 0 : cnt);
    return FAIL("%s needs 3 to %d values ([N,C,spatial...]), got %d", key, IR_MAX_RANK,
                cnt < 0 ? 0 : cnt);
  }
  for (int i = 0; i < cnt; i++)
    if (v[i] < 0) return FAIL("%s must be non-negative, got %s", key, ints_str(v, cnt, s, sizeof s));
  *t = ir_type_make(n->in[0]->type.dtype, cnt, v);
  if (ir_type_numel(t) < 0) return FAIL("%s %s has too many elements", key, ints_str(v, cnt, s, sizeof s));
  return true;
}

/* Operand i must be `want`: what the forward op produced (dy) or took. */
static bool want_type(const IrNode *n, int i, const IrType *want, const char *why, SmDiag *d) {
  if (ir_type_eq(&n->in[i]->type, want)) return true;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  return op_err(n, d, "'%s' is %s, but %s is %s", n->in[i]->name, OP_TSTR(&n->in[i]->type, a),
                why, OP_TSTR(want, b));
}

static bool want_float_same(const IrNode *n, SmDiag *d) {
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  return op_same_dtype(n, d);
}

/* Sets an ints attribute holding v's dims. */
static void set_shape(IrGradCtx *cx, IrNode *g, const char *key, const IrValue *v) {
  ir_set_ints(cx->g, g, key, v->type.dims, v->type.rank);
}

static void emit_zero(SmBuf *b, int ind, const char *p, int64_t cnt) {
  sm_buf_printf(b, "%*sfor (int64_t i = 0; i < %lld; i++) %s[i] = 0;\n", ind, "",
                (long long)cnt, p);
}

/* ======================================================================
 * conv2d_grad_input, conv2d_grad_weight (and the conv1d forms)
 *
 * grad_input(dy, w; ..., xshape) -> dx, grad_weight(dy, x; ..., wshape)
 * -> dw; the bias gradient is a reduce_sum of dy.
 * ====================================================================== */

static const IrAttrSpec conv_gi_attrs[] = {
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"dilations", IR_ATTR_INTS, false},
    {"group", IR_ATTR_INT, false},
    {"xshape", IR_ATTR_INTS, true},
    {NULL, 0, false}};

static const IrAttrSpec conv_gw_attrs[] = {
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"dilations", IR_ATTR_INTS, false},
    {"group", IR_ATTR_INT, false},
    {"wshape", IR_ATTR_INTS, true},
    {NULL, 0, false}};

static bool is_grad_weight(const IrNode *n) { return strstr(n->op->name, "weight") != NULL; }

/* Forward x and w of a conv gradient op: operand 1 and the shape attribute.
 * With d NULL the node must already be valid. */
static bool conv_grad_fwd(const IrNode *n, int nsp, IrType *x, IrType *w, SmDiag *d) {
  if (is_grad_weight(n)) {
    *x = n->in[1]->type;
    return attr_shape(n, "wshape", nsp + 2, w, d);
  }
  *w = n->in[1]->type;
  return attr_shape(n, "xshape", nsp + 2, x, d);
}

static bool conv_grad_infer_nd(const IrNode *n, IrType *out, SmDiag *d, int nsp) {
  if (!want_float_same(n, d)) return false;
  if (!op_want_rank(n, 0, nsp + 2, d) || !op_want_rank(n, 1, nsp + 2, d)) return false;
  IrType x, w, y;
  if (!conv_grad_fwd(n, nsp, &x, &w, d)) return false;
  char sx[IR_TYPE_STRLEN], sw[IR_TYPE_STRLEN], sh[3 * IR_TYPE_STRLEN + 64];
  snprintf(sh, sizeof sh, "x is %s, w is %s", OP_TSTR(&x, sx), OP_TSTR(&w, sw));
  if (!conv_check(n, nsp, &x, &w, sh, &y, d)) return false;
  char why[2 * IR_TYPE_STRLEN + 64];
  snprintf(why, sizeof why, "the convolution of x %s by w %s", sx, sw);
  if (!want_type(n, 0, &y, why, d)) return false;
  out[0] = is_grad_weight(n) ? w : x;
  return true;
}

static bool conv2d_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return conv_grad_infer_nd(n, out, d, 2);
}
static bool conv1d_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return conv_grad_infer_nd(n, out, d, 1);
}

/* Sizes of a validated conv gradient op. */
static ConvSz conv_sz(const IrNode *n) {
  int nsp = n->in[0]->type.rank - 2;
  IrType x, w;
  ConvSz z;
  bool ok = conv_grad_fwd(n, nsp, &x, &w, NULL) &&
            win_decode(n, nsp, x.dims + 2, w.dims + 2, false, &z.g, NULL, NULL);
  SM_ASSERT(ok);
  z.N = x.dims[0], z.C = x.dims[1], z.M = w.dims[0], z.Cg = w.dims[1];
  z.group = z.C / z.Cg, z.Mg = z.M / z.group;
  z.H = z.g.in[0], z.W = z.g.in[1], z.KH = z.g.k[0], z.KW = z.g.k[1];
  z.OH = z.g.out[0], z.OW = z.g.out[1];
  return z;
}

/* dx[b, c0+c, ih, iw] += dy[b, m, oh, ow] * w[m, c, kh, kw] */
static void conv_gi_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  const double *dy = in[0].d, *w = in[1].d;
  double *dx = out[0].d;
  for (int64_t b = 0; b < z.N; b++)
    for (int64_t m = 0; m < z.M; m++)
      for (int64_t oh = 0; oh < z.OH; oh++)
        for (int64_t ow = 0; ow < z.OW; ow++) {
          double gy = dy[((b * z.M + m) * z.OH + oh) * z.OW + ow];
          int64_t c0 = m / z.Mg * z.Cg;
          for (int64_t c = 0; c < z.Cg; c++)
            for (int64_t kh = 0; kh < z.KH; kh++)
              for (int64_t kw = 0; kw < z.KW; kw++) {
                int64_t ih = oh * g->s[0] - g->pb[0] + kh * g->d[0];
                int64_t iw = ow * g->s[1] - g->pb[1] + kw * g->d[1];
                if (ih < 0 || ih >= z.H || iw < 0 || iw >= z.W) continue;
                dx[((b * z.C + c0 + c) * z.H + ih) * z.W + iw] +=
                    gy * w[((m * z.Cg + c) * z.KH + kh) * z.KW + kw];
              }
        }
}

/* dw[m, c, kh, kw] += dy[b, m, oh, ow] * x[b, c0+c, ih, iw] */
static void conv_gw_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  const double *dy = in[0].d, *x = in[1].d;
  double *dw = out[0].d;
  for (int64_t b = 0; b < z.N; b++)
    for (int64_t m = 0; m < z.M; m++)
      for (int64_t oh = 0; oh < z.OH; oh++)
        for (int64_t ow = 0; ow < z.OW; ow++) {
          double gy = dy[((b * z.M + m) * z.OH + oh) * z.OW + ow];
          int64_t c0 = m / z.Mg * z.Cg;
          for (int64_t c = 0; c < z.Cg; c++)
            for (int64_t kh = 0; kh < z.KH; kh++)
              for (int64_t kw = 0; kw < z.KW; kw++) {
                int64_t ih = oh * g->s[0] - g->pb[0] + kh * g->d[0];
                int64_t iw = ow * g->s[1] - g->pb[1] + kw * g->d[1];
                if (ih < 0 || ih >= z.H || iw < 0 || iw >= z.W) continue;
                dw[((m * z.Cg + c) * z.KH + kh) * z.KW + kw] +=
                    gy * x[((b * z.C + c0 + c) * z.H + ih) * z.W + iw];
              }
        }
}

/* Tap tables of a conv gradient kernel; returns whether rows are looped
 * (false for 1-D: height 1 everywhere). */
typedef struct ConvTabs {
  bool rows, hclip, wclip;
} ConvTabs;

static ConvTabs conv_tables(SmBuf *b, const ConvSz *z) {
  const Win *g = &z->g;
  ConvTabs t = {.rows = !(z->H == 1 && z->KH == 1 && z->OH == 1 && g->pb[0] == 0)};
  int64_t *lo = sm_xmalloc(sizeof(int64_t) * (size_t)(z->KH + z->KW) * 2);
  int64_t *hi = lo + z->KH + z->KW, *wlo = lo + z->KH, *whi = hi + z->KH;
  t.hclip = t.rows && tap_ranges(g, 0, lo, hi);
  t.wclip = tap_ranges(g, 1, wlo, whi);
  char lead[64];
  snprintf(lead, sizeof lead, "group %lld, ", (long long)z->group);
  attrs_comment(b, lead, g);
  if (t.hclip) emit_tables(b, "oh0", "oh1", lo, hi, z->KH);
  if (t.wclip) emit_tables(b, "ow0", "ow1", wlo, whi, z->KW);
  free(lo);
  return t;
}

/* `for (oh ...)` over the outputs tap kh reaches, at indent ind */
static void emit_oh_loop(SmBuf *b, int ind, const ConvSz *z, const ConvTabs *t) {
  if (t->hclip)
    sm_buf_printf(b, "%*sfor (int64_t oh = oh0[kh]; oh < oh1[kh]; oh++) {\n", ind, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t oh = 0; oh < %lld; oh++) {\n", ind, "", (long long)z->OH);
}
static void emit_ow_loop(SmBuf *b, int ind, const ConvSz *z, const ConvTabs *t) {
  if (t->wclip)
    sm_buf_printf(b, "%*sfor (int64_t ow = ow0[kw]; ow < ow1[kw]; ow++)\n", ind, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t ow = 0; ow < %lld; ow++)\n", ind, "", (long long)z->OW);
}

/* ---- backward convolutions as GEMM ----
 *
 * grad_input per (image, group): dx[Cg, H*W] = w^T[Cg, Mg*KH*KW] x
 * dcol[Mg*KH*KW, H*W], where dcol((m,kh,kw), (ih,iw)) = dy[m, oh, ow] for
 * the output the tap reads from (ih = oh*s - p + kh*d), zero when there is
 * none: the packing of B gathers it from dy (no column buffer, no scatter,
 * no races). A stride s leaves (s-1)/s of dcol zero, so strides above 2
 * keep the direct form, as do groups of fewer than 12 input channels.
 *
 * grad_weight per group: dw[Mg, Cg*KH*KW] = dy[Mg, (n,oh,ow)] x
 * col[(n,oh,ow), Cg*KH*KW], K running over every image and output
 * position; col gathers x (implicit im2col of each image). When that leaves
 * too few tasks for the threads, the images are split into S chunks whose
 * partial products go to a stack buffer and are summed. */

/* Packs A(i, k) = a[(k / q) * blk + (k % q) + i * q] (rows i < M, zero
 * beyond): the layout of both convolution gradients' A operand, q taps
 * (kernel positions or output positions) per block of blk. */
static void conv_pack_a_strided(SmBuf *b, const GemmCore *gc, int mr, int ind, long long q,
                                long long blk) {
  sm_buf_printf(b, "%*sfor (int64_t ir = 0; ir < mc; ir += %d) {\n", ind, "", mr);
  sm_buf_printf(b, "%*s  float *d = ap + ir * kc;\n", ind, "");
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, "");
  sm_buf_printf(b, "%*s    const float *s = a + (pc + k) / %lld * %lld + (pc + k) %% %lld;\n", ind, "",
                q, blk, q);
  sm_buf_printf(b, "%*s    for (int64_t r = 0; r < %d; r++) {\n", ind, "", mr);
  sm_buf_printf(b, "%*s      const int64_t i = ic + ir + r;\n", ind, "");
  sm_buf_printf(b, "%*s      d[k * %d + r] = i < %lld ? s[i * %lld] : 0.0f;\n", ind, "", mr,
                (long long)gc->M, q);
  sm_buf_printf(b, "%*s    }\n%*s  }\n%*s}\n", ind, "", ind, "", ind, "");
}

static void conv_gi_pack_a(SmBuf *b, const GemmCore *gc, int mr, int ind) {
  const ConvSz *z = gc->user;
  long long khw = z->KH * z->KW;
  conv_pack_a_strided(b, gc, mr, ind, khw, (long long)z->Cg * khw);
}

static void conv_gi_pack_b(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  if (g->s[0] == 1 && g->s[1] == 1) {
    /* dcol((m,kh,kw), (ih,iw)) = dy[m, ih + p - kh*d, iw + p - kw*d] */
    RunPack rp = {.jw = z->W, .jn = z->H * z->W, .KH = z->KH, .KW = z->KW,
                  .plane = z->OH * z->OW, .rs = 1, .rd = -g->d[0], .rc = g->pb[0],
                  .rlim = z->OH, .cs = 1, .cd = -g->d[1], .cc = g->pb[1], .clim = z->OW};
    emit_pack_runs(b, gc->b, &rp, nr, ind);
    return;
  }
  long long KH = z->KH, KW = z->KW, W = z->W, OH = z->OH, OW = z->OW;
  sm_buf_printf(b, "%*sconst float *bm = %s;\n", ind, "", gc->b);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, "", nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, "");
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, "");
  sm_buf_printf(b, "%*s    const int64_t m = (pc + k) / %lld, kh = (pc + k) / %lld %% %lld, kw = (pc + k) %% %lld;\n",
                ind, "", KH * KW, KW, KH, KW);
  sm_buf_printf(b, "%*s    const float *dyc = bm + m * %lld;\n", ind, "", OH * OW);
  sm_buf_printf(b, "%*s    for (int64_t q = 0; q < %d; q++) {\n", ind, "", nr);
  sm_buf_printf(b, "%*s      const int64_t j = jc + jr + q;\n", ind, "");
  sm_buf_printf(b, "%*s      const int64_t th = j / %lld + %lld - kh * %lld, tw = j %% %lld + %lld - kw * %lld;\n",
                ind, "", W, (long long)g->pb[0], (long long)g->d[0], W, (long long)g->pb[1],
                (long long)g->d[1]);
  SmBuf cond = {0};
  sm_buf_printf(&cond, "j < %lld && th >= 0 && tw >= 0", (long long)gc->N);
  if (g->s[0] > 1) sm_buf_printf(&cond, " && th %% %lld == 0", (long long)g->s[0]);
  if (g->s[1] > 1) sm_buf_printf(&cond, " && tw %% %lld == 0", (long long)g->s[1]);
  sm_buf_printf(&cond, " && th < %lld && tw < %lld", OH * g->s[0], OW * g->s[1]);
  sm_buf_printf(b, "%*s      d[k * %d + q] = %s ? dyc[th / %lld * %lld + tw / %lld] : 0.0f;\n", ind, "",
                nr, cond.s, (long long)g->s[0], OW, (long long)g->s[1]);
  sm_buf_free(&cond);
  sm_buf_printf(b, "%*s    }\n%*s  }\n%*s}\n", ind, "", ind, "", ind, "");
}

static bool conv_gi_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  ConvSz z = conv_sz(n);
  int64_t HW = z.H * z.W, P = z.OH * z.OW, Kd = z.Mg * z.KH * z.KW;
  /* each gathered dcol element serves Cg rows: below ~12 the gather costs
   * more than the product saves (measured: 2.5x slower at Cg 6, 3x faster
   * at 16, 9x at 64 than the direct scatter) */
  if (z.Cg < 12 || Kd < 4 || z.g.s[0] * z.g.s[1] > 4 || !gemm_core_fits(z.Cg, HW, Kd)) return false;
  char a[96], x[96], y[96], coff[64];
  bool batched = z.N * z.group > 1;
  if (z.group > 1)
    snprintf(a, sizeof a, "in1 + t %% %lld * %lld", (long long)z.group, (long long)(z.Mg * z.Cg * z.KH * z.KW));
  else snprintf(a, sizeof a, "in1");
  snprintf(x, sizeof x, batched ? "in0 + t * %lld" : "in0", (long long)(z.Mg * P));
  snprintf(y, sizeof y, batched ? "out0 + t * %lld" : "out0", (long long)(z.Cg * HW));
  snprintf(coff, sizeof coff, batched ? "t * %lld" : "0", (long long)(z.Cg * HW));
  char lead[256];
  snprintf(lead, sizeof lead, "as GEMM per image%s: w^T [%lld,%lld] x dcol [%lld,%lld] (gathered from dy); ",
           z.group > 1 ? " and group" : "", (long long)z.Cg, (long long)Kd, (long long)Kd,
           (long long)HW);
  attrs_comment(b, lead, &z.g);
  GemmCore gc = {.M = z.Cg, .N = HW, .K = Kd, .nbatch = z.N * z.group, .a = a, .b = x, .c = y,
                 .ldc = HW, .alpha = 1, .beta = 0, .pack_a = conv_gi_pack_a,
                 .pack_b = conv_gi_pack_b, .user = &z, .epi = epi, .c_off = coff};
  gemm_core_emit(b, &gc);
  return true;
}

static void conv_gw_pack_a(SmBuf *b, const GemmCore *gc, int mr, int ind) {
  const ConvSz *z = gc->user;
  long long P = z->OH * z->OW;
  conv_pack_a_strided(b, gc, mr, ind, P, (long long)z->M * P);
}

/* B(k, j) = col((n,oh,ow), (c,kh,kw)) = x[n, c, oh*s - p + kh*d, ow*s - p + kw*d]
 * per sliver column j, by runs of k in one output row of one image. */
static void conv_gw_pack_b(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  long long KH = z->KH, KW = z->KW, H = z->H, W = z->W, OW = z->OW, P = z->OH * z->OW;
  const char *sp = "";
  char ih[128], a0[128];
  sm_buf_printf(b, "%*sconst float *bm = %s;\n", ind, sp, gc->b);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, sp);
  sm_buf_printf(b, "%*s  for (int64_t q = 0; q < %d; q++) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    const int64_t j = jc + jr + q;\n", ind, sp);
  sm_buf_printf(b, "%*s    float *dq = d + q;\n", ind, sp);
  sm_buf_printf(b, "%*s    if (j >= %lld) {\n", ind, sp, (long long)gc->N);
  sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) dq[k * %d] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s      continue;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s    const int64_t c = j / %lld, kh = j / %lld %% %lld, kw = j %% %lld;\n", ind,
                sp, KH * KW, KW, KH, KW);
  sm_buf_printf(b, "%*s    for (int64_t k = 0; k < kc;) {\n", ind, sp);
  sm_buf_printf(b, "%*s      const int64_t e = pc + k, p = e %% %lld, oh = p / %lld, ow = p %% %lld;\n",
                ind, sp, P, OW, OW);
  sm_buf_printf(b, "%*s      const int64_t len = %lld - ow < kc - k ? %lld - ow : kc - k;\n", ind, sp, OW, OW);
  sm_buf_printf(b, "%*s      const int64_t ih = %s;\n", ind, sp,
                affine(ih, sizeof ih, g->s[0], "oh", g->d[0], "kh", -g->pb[0]));
  sm_buf_printf(b, "%*s      if (ih < 0 || ih >= %lld) {\n", ind, sp, H);
  sm_buf_printf(b, "%*s        for (int64_t r = 0; r < len; r++) dq[(k + r) * %d] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s      } else\n", ind, sp);
  char row[128], dst[32];
  snprintf(row, sizeof row, "bm + e / %lld * %lld + c * %lld + ih * %lld", P, (long long)z->C * H * W,
           H * W, W);
  snprintf(dst, sizeof dst, "dq + k * %d", nr);
  affine(a0, sizeof a0, g->s[1], "ow", g->d[1], "kw", -g->pb[1]);
  emit_run_copy(b, ind + 8, dst, nr, row, a0, (long long)g->s[1], W, "len");
  sm_buf_printf(b, "%*s      k += len;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s  }\n%*s}\n", ind, sp, ind, sp);
}

/* ---- direct weight gradient on shifted planes ----
 *
 * dw[m, c, a, b] = sum_n sum_{r,s} dy[n, m, r, s] * P[n, c, r + a, s + b],
 * P the zero-padded input (stride 1, undilated, ungrouped). As in the
 * direct correlation, each padded input plane is staged KW times (copy b
 * holds columns b .. b + OW - 1 of every row, OW wide), so with the dy
 * plane dense (q = r * OW + s, zeros past it to whole vectors) the sum
 * over (r, s) is a dot product over q of dy[q] with D_b[q + a * OW].
 * Register tiles of mb output channels by nb kernel columns (one row a of
 * one input channel c): mb + nb vector loads feed mb * nb FMAs; the tile
 * sums go to one accumulator vector per gradient element, whose lanes are
 * added once per chunk. Images go in a fixed number of chunks (not per
 * thread, so the sums do not depend on the thread count) whose partial
 * gradients are added in order. */
typedef struct GwDirect {
  ConvSz z;
  int64_t PV, SD, nch; /* dense plane rounded to vectors, shifted copy, chunks */
} GwDirect;

static bool conv_gw_direct(const IrNode *n, GwDirect *o) {
  if (n->out[0]->type.dtype != IR_F32 || n->in[0]->type.rank != 4) return false;
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  if (z.group != 1 || g->s[0] != 1 || g->s[1] != 1 || g->d[0] != 1 || g->d[1] != 1) return false;
  if (z.OW < 8 || z.M * z.C > 512 || z.KH * z.KW > 49) return false;
  o->z = z;
  o->PV = round16(z.OH * z.OW);
  o->SD = round16(o->PV + (z.KH - 1) * z.OW);
  o->nch = z.N < 8 ? z.N : 8;
  int64_t kk = z.M * z.C * z.KH * z.KW, pad = (z.OH + z.KH - 1) * (z.OW + z.KW - 1);
  /* per thread: staged planes, and one vector per gradient element */
  return z.C * z.KW * o->SD + z.M * o->PV + pad + 16 * kk <= 65536 && o->nch * kk <= 32768;
}

/* The tiles for `regs` accumulator registers: mb channels (a divisor of
 * M) by nb kernel columns, the columns in blocks of nb (the last maybe
 * fewer), every bound a constant. */
static void emit_gw_tiles(SmBuf *b, const GwDirect *o, int regs) {
  const ConvSz *z = &o->z;
  long long M = z->M, C = z->C, KW = z->KW, KK = z->KH * z->KW, OW = z->OW;
  long long PV = o->PV, SD = o->SD;
  int nb = (int)(KW < regs ? KW : regs), mb = 1;
  for (int d = regs / nb; d > 1 && mb == 1; d--)
    if (M % d == 0) mb = d;
  sm_buf_printf(b, "      for (int64_t m0 = 0; m0 < %lld; m0 += %d)\n", M, mb);
  sm_buf_printf(b, "        for (int64_t c = 0; c < %lld; c++)\n", C);
  sm_buf_printf(b, "          for (int64_t a = 0; a < %lld; a++) {\n", (long long)z->KH);
  sm_buf_printf(b, "            const float *d = dq + m0 * %lld, *p = st + c * %lld + a * %lld;\n",
                PV, KW * SD, OW);
  sm_buf_printf(b, "            vf *e = acc + (m0 * %lld + c) * %lld + a * %lld;\n", C, KK, KW);
  for (int b0 = 0; b0 < KW; b0 += nb) {
    int nt = (int)(KW - b0 < nb ? KW - b0 : nb);
    sm_buf_puts(b, "            {\n              vf ");
    for (int i = 0; i < mb; i++)
      for (int j = 0; j < nt; j++)
        sm_buf_printf(b, "%st%d_%d = e[%lld]", i || j ? ", " : "", i, j, i * C * KK + b0 + j);
    sm_buf_puts(b, ";\n");
    sm_buf_printf(b, "              for (int64_t q = 0; q < %lld; q += SM_L) {\n", PV);
    sm_buf_puts(b, "                vf ");
    for (int i = 0; i < mb; i++) sm_buf_printf(b, "%sd%d", i ? ", " : "", i);
    for (int j = 0; j < nt; j++) sm_buf_printf(b, ", x%d", j);
    sm_buf_puts(b, ";\n");
    for (int i = 0; i < mb; i++)
      sm_buf_printf(b, "                memcpy(&d%d, d + %lld + q, sizeof d%d);\n                SM_REG(d%d);\n",
                    i, i * PV, i, i);
    for (int j = 0; j < nt; j++)
      sm_buf_printf(b, "                memcpy(&x%d, p + %lld + q, sizeof x%d);\n                SM_REG(x%d);\n",
                    j, (b0 + j) * SD, j, j);
    for (int i = 0; i < mb; i++) {
      sm_buf_puts(b, "               ");
      for (int j = 0; j < nt; j++) sm_buf_printf(b, " t%d_%d += d%d * x%d;", i, j, i, j);
      sm_buf_puts(b, "\n");
    }
    sm_buf_puts(b, "              }\n");
    for (int i = 0; i < mb; i++) {
      sm_buf_puts(b, "             ");
      for (int j = 0; j < nt; j++) sm_buf_printf(b, " e[%lld] = t%d_%d;", i * C * KK + b0 + j, i, j);
      sm_buf_puts(b, "\n");
    }
    sm_buf_puts(b, "            }\n");
  }
  sm_buf_puts(b, "          }\n");
}

static void emit_gw_direct(SmBuf *b, const GwDirect *o) {
  const ConvSz *z = &o->z;
  const Win *g = &z->g;
  long long M = z->M, C = z->C, KW = z->KW, KK = z->KH * z->KW, OW = z->OW, P = z->OH * z->OW;
  long long PV = o->PV, SD = o->SD, Hp = z->OH + z->KH - 1, Wp = OW + KW - 1;
  long long nch = o->nch, E = M * C * KK;
  sm_buf_printf(b, "  /* direct on %lld shifted copies of each padded %lld x %lld plane: %lld of %lld"
                   " positions kept, images in %lld chunks */\n",
                KW, Hp, Wp, P, PV, nch);
  emit_vf_prelude(b);
  /* each loaded vector held in a register for all its FMAs: compilers
   * otherwise fold the load into every FMA that uses it (measured 1.6x
   * slower for LeNet's second layer) */
  sm_buf_puts(b, "#if defined(__GNUC__) && defined(__AVX__)\n"
                 "#define SM_REG(v) __asm__(\"\" : \"+v\"(v))\n#else\n#define SM_REG(v) (void)0\n#endif\n");
  /* on the stack: static storage would be shared by instances */
  sm_buf_printf(b, "  float part[%lld][%lld] __attribute__((aligned(64)));\n", nch, E);
  emit_omp_for(b, sat_mul(z->N * M * C * P, KK), "schedule(static)");
  sm_buf_printf(b, "  for (int64_t ch = 0; ch < %lld; ch++) {\n", nch);
  sm_buf_printf(b, "    float *pw = part[ch];\n    vf acc[%lld];\n", E);
  sm_buf_printf(b, "    for (int64_t e = 0; e < %lld; e++) acc[e] = (vf){0};\n", E);
  sm_buf_printf(b, "    float st[%lld] __attribute__((aligned(64))), dq[%lld] __attribute__((aligned(64)));\n",
                C * KW * SD, M * PV);
  sm_buf_printf(b, "    float pad[%lld];\n", Hp * Wp);
  /* the zeros past each plane and in the padding are never overwritten */
  sm_buf_puts(b, "    memset(st, 0, sizeof st);\n    memset(dq, 0, sizeof dq);\n"
                 "    memset(pad, 0, sizeof pad);\n");
  sm_buf_printf(b, "    for (int64_t n = ch * %lld / %lld; n < (ch + 1) * %lld / %lld; n++) {\n",
                (long long)z->N, nch, (long long)z->N, nch);
  sm_buf_printf(b, "      for (int64_t c = 0; c < %lld; c++) {\n", C);
  sm_buf_printf(b, "        for (int64_t r = 0; r < %lld; r++)\n", (long long)z->H);
  sm_buf_printf(b, "          memcpy(pad + (r + %lld) * %lld + %lld, in1 + ((n * %lld + c) * %lld + r) * %lld,"
                   " %lld * sizeof(float));\n",
                (long long)g->pb[0], Wp, (long long)g->pb[1], C, (long long)z->H, (long long)z->W,
                (long long)z->W);
  sm_buf_printf(b, "        for (int64_t bb = 0; bb < %lld; bb++)\n", KW);
  sm_buf_printf(b, "          for (int64_t r = 0; r < %lld; r++)\n", Hp);
  sm_buf_printf(b, "            memcpy(st + (c * %lld + bb) * %lld + r * %lld, pad + r * %lld + bb,"
                   " %lld * sizeof(float));\n      }\n",
                KW, SD, OW, Wp, OW);
  sm_buf_printf(b, "      for (int64_t m = 0; m < %lld; m++)\n", M);
  sm_buf_printf(b, "        memcpy(dq + m * %lld, in0 + (n * %lld + m) * %lld, %lld * sizeof(float));\n",
                PV, M, P, P);
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  emit_gw_tiles(b, o, 24);
  sm_buf_puts(b, "#else\n");
  emit_gw_tiles(b, o, 12);
  sm_buf_puts(b, "#endif\n    }\n");
  /* the lanes summed once per chunk */
  sm_buf_printf(b, "    for (int64_t e = 0; e < %lld; e++) {\n      float h = 0;\n", E);
  sm_buf_puts(b, "      for (int l = 0; l < (int)SM_L; l++) h += acc[e][l];\n");
  sm_buf_puts(b, "      pw[e] = h;\n    }\n  }\n");
  sm_buf_printf(b, "  for (int64_t e = 0; e < %lld; e++) {\n    float s = part[0][e];\n", E);
  sm_buf_printf(b, "    for (int64_t ch = 1; ch < %lld; ch++) s += part[ch][e];\n", nch);
  sm_buf_puts(b, "    out0[e] = s;\n  }\n#undef SM_L\n#undef SM_REG\n");
}

/* Whether the weight gradient takes the GEMM form. */
static bool conv_gw_blocked(const IrNode *n) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  ConvSz z = conv_sz(n);
  int64_t P = z.OH * z.OW, Kc = z.Cg * z.KH * z.KW;
  return z.Mg >= 2 && Kc >= 4 && P >= 1 && gemm_core_fits(z.Mg, Kc, z.N * P);
}

static bool conv_gw_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  GwDirect gd;
  if (!conv_gw_blocked(n) || conv_gw_direct(n, &gd)) return false;
  ConvSz z = conv_sz(n);
  int64_t HW = z.H * z.W, P = z.OH * z.OW, Kc = z.Cg * z.KH * z.KW;
  /* images per chunk: split when the product has fewer tiles than 4 and
   * the partial results fit a small stack buffer */
  int64_t S = 1, tiles = z.group * ((z.Mg + 7) / 8) * ((Kc + 31) / 32);
  double flops = 2.0 * (double)z.M * (double)Kc * (double)(z.N * P);
  if (tiles < 4 && flops >= 4e6 && !epi)
    for (int64_t s = 8; s > 1; s--)
      if (z.N % s == 0 && s * z.M * Kc <= 32768 && tiles * s <= 8) {
        S = s;
        break;
      }
  int64_t Ns = z.N / S;
  char a[128], x[128], y[128], coff[64];
  bool batched = z.group * S > 1;
  /* t = s * group + g */
  snprintf(a, sizeof a, "in0 + t / %lld * %lld + t %% %lld * %lld", (long long)z.group,
           (long long)(Ns * z.M * P), (long long)z.group, (long long)(z.Mg * P));
  snprintf(x, sizeof x, "in1 + t / %lld * %lld + t %% %lld * %lld", (long long)z.group,
           (long long)(Ns * z.C * HW), (long long)z.group, (long long)(z.Cg * HW));
  if (!batched) snprintf(a, sizeof a, "in0"), snprintf(x, sizeof x, "in1");
  const char *base = S > 1 ? "part" : "out0";
  snprintf(y, sizeof y, batched ? "%s + t * %lld" : "%s", base, (long long)(z.Mg * Kc));
  snprintf(coff, sizeof coff, batched ? "t * %lld" : "0", (long long)(z.Mg * Kc));
  char lead[256];
  snprintf(lead, sizeof lead, "as GEMM per group: dy [%lld,%lld] x col [%lld,%lld] (gathered from x)%s; ",
           (long long)z.Mg, (long long)(z.N * P), (long long)(z.N * P), (long long)Kc,
           S > 1 ? ", images in chunks summed after" : "");
  attrs_comment(b, lead, &z.g);
  if (S > 1) sm_buf_printf(b, "  float part[%lld] __attribute__((aligned(64)));\n", (long long)(S * z.M * Kc));
  GemmCore gc = {.M = z.Mg, .N = Kc, .K = Ns * P, .nbatch = z.group * S, .a = a, .b = x, .c = y,
                 .ldc = Kc, .alpha = 1, .beta = 0, .pack_a = conv_gw_pack_a,
                 .pack_b = conv_gw_pack_b, .user = &z, .epi = epi, .c_off = coff};
  gemm_core_emit(b, &gc);
  if (S > 1) {
    sm_buf_printf(b, "  for (int64_t e = 0; e < %lld; e++) {\n", (long long)(z.M * Kc));
    sm_buf_puts(b, "    float s = part[e];\n");
    sm_buf_printf(b, "    for (int64_t c = 1; c < %lld; c++) s += part[c * %lld + e];\n", (long long)S,
                  (long long)(z.M * Kc));
    sm_buf_puts(b, "    out0[e] = s;\n  }\n");
  }
  return true;
}

/* One thread per input plane (n, c): zero it, then for every output
 * channel m of c's group and every tap scatter wv * (dy row) into the
 * input row the tap reads (innermost loop along output width). */
static void conv_gi_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  if (conv_gi_gemm(b, n, NULL)) return;
  ConvSz z = conv_sz(n);
  Corr corr;
  if (n->out[0]->type.dtype == IR_F32 && z.g.nsp == 2 && conv_corr(&z, true, false, &corr)) {
    emit_corr(b, &corr, NULL);
    return;
  }
  const Win *g = &z.g;
  const char *T = ctype(n);
  ConvTabs t = conv_tables(b, &z);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->in[0]->type), z.Cg * z.KH * z.KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)z.N);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)z.C);
  sm_buf_printf(b, "      %s *dx = out0 + (n * %lld + c) * %lld;\n", T, (long long)z.C,
                (long long)(z.H * z.W));
  emit_zero(b, 6, "dx", z.H * z.W);
  if (z.group == 1) {
    sm_buf_printf(b, "      for (int64_t m = 0; m < %lld; m++) {\n", (long long)z.M);
    sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c) * %lld;\n", T,
                  (long long)z.Cg, (long long)(z.KH * z.KW));
  } else {
    sm_buf_printf(b, "      for (int64_t m = c / %lld * %lld; m < (c / %lld + 1) * %lld; m++) {\n",
                  (long long)z.Cg, (long long)z.Mg, (long long)z.Cg, (long long)z.Mg);
    sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c %% %lld) * %lld;\n", T,
                  (long long)z.Cg, (long long)z.Cg, (long long)(z.KH * z.KW));
  }
  sm_buf_printf(b, "        const %s *dyp = in0 + (n * %lld + m) * %lld;\n", T, (long long)z.M,
                (long long)(z.OH * z.OW));
  int ind = 8;
  const char *dxr = "dx", *dyr = "dyp", *wix = "kw";
  char wbuf[64];
  if (t.rows) {
    sm_buf_printf(b, "        for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)z.KH);
    emit_oh_loop(b, 10, &z, &t);
    sm_buf_printf(b, "            %s *dxr = dx + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g->s[0], "oh", g->d[0], "kh", -g->pb[0]), (long long)z.W);
    sm_buf_printf(b, "            const %s *dyr = dyp + oh * %lld;\n", T, (long long)z.OW);
    dxr = "dxr", dyr = "dyr";
    snprintf(wbuf, sizeof wbuf, "kh * %lld + kw", (long long)z.KW);
    wix = wbuf;
    ind = 12;
  }
  sm_buf_printf(b, "%*sfor (int64_t kw = 0; kw < %lld; kw++) {\n", ind, "", (long long)z.KW);
  sm_buf_printf(b, "%*sconst %s wv = wc[%s];\n", ind + 2, "", T, wix);
  emit_ow_loop(b, ind + 2, &z, &t);
  sm_buf_printf(b, "%*s%s[%s] += wv * %s[ow];\n", ind + 4, "", dxr,
                affine(ix, sizeof ix, g->s[1], "ow", g->d[1], "kw", -g->pb[1]), dyr);
  sm_buf_printf(b, "%*s}\n", ind, "");
  if (t.rows) sm_buf_puts(b, "          }\n");
  sm_buf_puts(b, "      }\n    }\n");
}

/* One thread per filter slice (m, c): each tap's weight gradient is a dot
 * product of dy rows with shifted x rows over the batch, summed in double
 * across rows. */
static void conv_gw_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  GwDirect gd;
  if (conv_gw_direct(n, &gd)) {
    emit_gw_direct(b, &gd);
    return;
  }
  if (conv_gw_gemm(b, n, NULL)) return;
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  const char *T = ctype(n);
  ConvTabs t = conv_tables(b, &z);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->in[0]->type), z.Cg * z.KH * z.KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t m = 0; m < %lld; m++)\n", (long long)z.M);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)z.Cg);
  sm_buf_printf(b, "      %s *dw = out0 + (m * %lld + c) * %lld;\n", T, (long long)z.Cg,
                (long long)(z.KH * z.KW));
  sm_buf_printf(b, "      for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)z.KH);
  sm_buf_printf(b, "        for (int64_t kw = 0; kw < %lld; kw++) {\n", (long long)z.KW);
  sm_buf_puts(b, "          double acc = 0.0;\n");
  sm_buf_printf(b, "          for (int64_t n = 0; n < %lld; n++) {\n", (long long)z.N);
  sm_buf_printf(b, "            const %s *dyp = in0 + (n * %lld + m) * %lld;\n", T,
                (long long)z.M, (long long)(z.OH * z.OW));
  if (z.group == 1)
    sm_buf_printf(b, "            const %s *xc = in1 + (n * %lld + c) * %lld;\n", T,
                  (long long)z.C, (long long)(z.H * z.W));
  else
    sm_buf_printf(b, "            const %s *xc = in1 + (n * %lld + m / %lld * %lld + c) * %lld;\n",
                  T, (long long)z.C, (long long)z.Mg, (long long)z.Cg, (long long)(z.H * z.W));
  int ind = 12;
  const char *dyr = "dyp", *xr = "xc";
  if (t.rows) {
    emit_oh_loop(b, 12, &z, &t);
    sm_buf_printf(b, "              const %s *dyr = dyp + oh * %lld;\n", T, (long long)z.OW);
    sm_buf_printf(b, "              const %s *xr = xc + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g->s[0], "oh", g->d[0], "kh", -g->pb[0]), (long long)z.W);
    dyr = "dyr", xr = "xr";
    ind = 14;
  }
  sm_buf_printf(b, "%*s%s r = 0;\n", ind, "", T);
  emit_ow_loop(b, ind, &z, &t);
  sm_buf_printf(b, "%*sr += %s[ow] * %s[%s];\n", ind + 2, "", dyr, xr,
                affine(ix, sizeof ix, g->s[1], "ow", g->d[1], "kw", -g->pb[1]));
  sm_buf_printf(b, "%*sacc += r;\n", ind, "");
  if (t.rows) sm_buf_puts(b, "            }\n");
  sm_buf_puts(b, "          }\n");
  sm_buf_printf(b, "          dw[kh * %lld + kw] = (%s)acc;\n", (long long)z.KW, T);
  sm_buf_puts(b, "        }\n    }\n");
}

static bool conv_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  bool two = conv_nsp(n) == 2;
  if (ir_grad_needed(cx, n, 0)) {
    IrValue *in[2] = {dout[0], n->in[1]};
    IrNode *g = ir_grad_node(cx, two ? "conv2d_grad_input" : "conv1d_grad_input", in, 2, 1);
    ir_copy_attrs(cx->g, g, n);
    set_shape(cx, g, "xshape", n->in[0]);
    din[0] = ir_grad_finish(cx, g);
  }
  if (ir_grad_needed(cx, n, 1)) {
    IrValue *in[2] = {dout[0], n->in[0]};
    IrNode *g = ir_grad_node(cx, two ? "conv2d_grad_weight" : "conv1d_grad_weight", in, 2, 1);
    ir_copy_attrs(cx->g, g, n);
    set_shape(cx, g, "wshape", n->in[1]);
    din[1] = ir_grad_finish(cx, g);
  }
  if (n->nin == 3 && ir_grad_needed(cx, n, 2)) {
    static const int64_t axes[] = {0, 2, 3};
    IrNode *g = ir_grad_node(cx, "reduce_sum", &dout[0], 1, 1);
    ir_set_ints(cx->g, g, "axes", axes, two ? 3 : 2);
    ir_set_int(cx->g, g, "keepdims", 0);
    din[2] = ir_grad_finish(cx, g);
  }
  return true;
}

/* ======================================================================
 * maxpool2d_grad, avgpool2d_grad, global_avgpool_grad
 * ====================================================================== */

static const IrAttrSpec avgpool_grad_attrs[] = {
    {"kernel", IR_ATTR_INTS, true},
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"ceil_mode", IR_ATTR_INT, false},
    {"count_include_pad", IR_ATTR_INT, false},
    {"xshape", IR_ATTR_INTS, true},
    {NULL, 0, false}};

static const IrAttrSpec xshape_attrs[] = {{"xshape", IR_ATTR_INTS, true}, {NULL, 0, false}};

/* The forward input of a pool gradient op: operand 1 (maxpool) or xshape. */
static bool pool_grad_x(const IrNode *n, IrType *x, SmDiag *d) {
  if (n->nin == 2) {
    *x = n->in[1]->type;
    return true;
  }
  return attr_shape(n, "xshape", 4, x, d);
}

/* maxpool2d_grad(dy, x), avgpool2d_grad(dy; xshape): dy must be what the
 * pool of x gives; the result has x's shape. */
static bool pool_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!want_float_same(n, d)) return false;
  if (!op_want_rank(n, 0, 4, d) || (n->nin == 2 && !op_want_rank(n, 1, 4, d))) return false;
  if (!want_flag(n, "ceil_mode", d) || !want_flag(n, "count_include_pad", d)) return false;
  IrType x;
  int64_t k[2];
  if (!pool_grad_x(n, &x, d) || !pool_kernel(n, k, d)) return false;
  char sx[IR_TYPE_STRLEN], sh[IR_TYPE_STRLEN + 16];
  snprintf(sh, sizeof sh, "x is %s", OP_TSTR(&x, sx));
  Win g;
  if (!win_decode(n, 2, x.dims + 2, k, true, &g, d, sh)) return false;
  int64_t dims[4] = {x.dims[0], x.dims[1], g.out[0], g.out[1]};
  IrType y = ir_type_make(x.dtype, 4, dims);
  char why[IR_TYPE_STRLEN + 48];
  snprintf(why, sizeof why, "the pool of x %s", sx);
  if (!want_type(n, 0, &y, why, d)) return false;
  out[0] = x;
  return true;
}

static void pool_grad_win(const IrNode *n, Win *w) {
  IrType x;
  int64_t k[2];
  bool ok = pool_grad_x(n, &x, NULL) && pool_kernel(n, k, NULL) &&
            win_decode(n, 2, x.dims + 2, k, true, w, NULL, NULL);
  SM_ASSERT(ok);
}

/* Each window's dy goes to its first maximal tap (in kernel row-major
 * order); overlapping windows accumulate. */
static void maxpool_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  Win g;
  pool_grad_win(n, &g);
  int64_t planes = in[1].type.dims[0] * in[1].type.dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t arg = -1;
        double best = 0;
        for (int64_t kh = 0; kh < g.k[0]; kh++)
          for (int64_t kw = 0; kw < g.k[1]; kw++) {
            int64_t ih = oh * g.s[0] - g.pb[0] + kh * g.d[0];
            int64_t iw = ow * g.s[1] - g.pb[1] + kw * g.d[1];
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            int64_t i = (p * H + ih) * W + iw;
            if (arg < 0 || in[1].d[i] > best) {
              arg = i;
              best = in[1].d[i];
            }
          }
        if (arg >= 0) out[0].d[arg] += in[0].d[(p * OH + oh) * OW + ow];
      }
}

static void avgpool_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  Win g;
  pool_grad_win(n, &g);
  bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  int64_t planes = out[0].type.dims[0] * out[0].type.dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t real = 0, padded = 0;
        for (int64_t kh = 0; kh < g.k[0]; kh++)
          for (int64_t kw = 0; kw < g.k[1]; kw++) {
            int64_t ih = oh * g.s[0] - g.pb[0] + kh, iw = ow * g.s[1] - g.pb[1] + kw;
            if (ih >= -g.pb[0] && ih < H + g.pe[0] && iw >= -g.pb[1] && iw < W + g.pe[1])
              padded++;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) real++;
          }
        double gy = in[0].d[(p * OH + oh) * OW + ow] / (double)(include_pad ? padded : real);
        for (int64_t kh = 0; kh < g.k[0]; kh++)
          for (int64_t kw = 0; kw < g.k[1]; kw++) {
            int64_t ih = oh * g.s[0] - g.pb[0] + kh, iw = ow * g.s[1] - g.pb[1] + kw;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) out[0].d[(p * H + ih) * W + iw] += gy;
          }
      }
}

/* The fused chain over plane p of the result (holding the product), at
 * indentation ind. */
static void emit_chain_run(SmBuf *b, int ind, const char *T, const OpEpilogue *epi, long long plane) {
  sm_buf_printf(b, "%*s#pragma omp simd\n%*sfor (int64_t w = 0; w < %lld; w++) {\n", ind, "", ind, "", plane);
  sm_buf_printf(b, "%*s  const int64_t o = p * %lld + w;\n", ind, "", plane);
  sm_buf_printf(b, "%*s  const %s acc = out0[o];\n", ind, "", T);
  ew_emit_epilogue_elem(b, ind + 2, epi, "acc", "o", false);
  sm_buf_printf(b, "%*s}\n", ind, "");
}

/* Max pooling's gradient over 2x2 windows of stride 2 without padding
 * (every input element in at most one window): each window writes its
 * gradient to its first maximum and zeros to the other three, row pairs
 * at a time, with no zeroing pass and no scatter; with epi, the fused
 * chain then runs over each plane while it is in L1 (applied within the
 * window loop it kept the compiler from vectorizing it). */
static bool maxpool_grad_2x2(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi) {
  for (int j = 0; j < 2; j++)
    if (g->k[j] != 2 || g->s[j] != 2 || g->d[j] != 1 || g->pb[j] != 0 || 2 * g->out[j] > g->in[j])
      return false;
  const char *T = ctype(n);
  const IrType *x = &n->out[0]->type;
  long long planes = x->dims[0] * x->dims[1], H = g->in[0], W = g->in[1], OH = g->out[0],
            OW = g->out[1];
  sm_buf_puts(b, "  /* 2x2 windows, stride 2, no padding: each input element in one window */\n");
  emit_omp_for(b, sat_mul(ir_numel(&n->out[0]->type), 2), NULL);
  sm_buf_printf(b, "  for (int64_t p = 0; p < %lld; p++) {\n", planes);
  sm_buf_printf(b, "    const %s *dy = in0 + p * %lld, *x = in1 + p * %lld;\n", T, OH * OW, H * W);
  sm_buf_printf(b, "    %s *dx = out0 + p * %lld;\n", T, H * W);
  sm_buf_printf(b, "    for (int64_t oh = 0; oh < %lld; oh++) {\n", OH);
  sm_buf_printf(b, "      const %s *x0 = x + oh * %lld, *x1 = x0 + %lld;\n", T, 2 * W, W);
  sm_buf_printf(b, "      %s *d0 = dx + oh * %lld, *d1 = d0 + %lld;\n", T, 2 * W, W);
  sm_buf_printf(b, "      const %s *g = dy + oh * %lld;\n", T, OW);
  sm_buf_puts(b, "#pragma omp simd\n");
  sm_buf_printf(b, "      for (int64_t ow = 0; ow < %lld; ow++) {\n", OW);
  sm_buf_printf(b, "        const %s a = x0[2 * ow], c = x0[2 * ow + 1], e = x1[2 * ow], f = x1[2 * ow + 1];\n", T);
  sm_buf_puts(b, "        /* the first maximum in window order, as the reference */\n");
  sm_buf_printf(b, "        const %s m1 = c > a ? c : a, m2 = e > m1 ? e : m1;\n", T);
  sm_buf_puts(b, "        const int t = f > m2 ? 3 : e > m1 ? 2 : c > a ? 1 : 0;\n");
  sm_buf_printf(b, "        const %s gy = g[ow];\n", T);
  sm_buf_puts(b, "        d0[2 * ow] = t == 0 ? gy : 0;\n        d0[2 * ow + 1] = t == 1 ? gy : 0;\n");
  sm_buf_puts(b, "        d1[2 * ow] = t == 2 ? gy : 0;\n        d1[2 * ow + 1] = t == 3 ? gy : 0;\n      }\n");
  if (2 * OW < W)
    sm_buf_printf(b, "      for (int64_t w = %lld; w < %lld; w++) d0[w] = d1[w] = 0;\n", 2 * OW, W);
  sm_buf_puts(b, "    }\n");
  if (2 * OH < H) sm_buf_printf(b, "    for (int64_t i = %lld; i < %lld; i++) dx[i] = 0;\n", 2 * OH * W, H * W);
  if (epi) emit_chain_run(b, 4, T, epi, H * W);
  sm_buf_puts(b, "  }\n");
  return true;
}

/* One thread per plane: zero dx, then walk the windows as the forward
 * kernel does and scatter into the plane. */
static void pool_grad_emit(SmBuf *b, const IrNode *n, bool is_max) {
  if (emit_if_empty(b, n)) return;
  Win g;
  pool_grad_win(n, &g);
  if (is_max && g.nsp == 2 && maxpool_grad_2x2(b, n, &g, NULL)) return;
  const char *T = ctype(n);
  const IrType *x = &n->out[0]->type;
  int64_t planes = x->dims[0] * x->dims[1];
  int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  bool include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  char ix[128], lead[96];
  snprintf(lead, sizeof lead, "kernel [%lld,%lld], %s", (long long)g.k[0], (long long)g.k[1],
           is_max ? "" : include_pad ? "count_include_pad 1, " : "count_include_pad 0, ");
  attrs_comment(b, lead, &g);
  emit_omp_for(b, sat_mul(sat_mul(ir_numel(&n->in[0]->type), g.k[0]), g.k[1]), NULL);
  sm_buf_printf(b, "  for (int64_t p = 0; p < %lld; p++) {\n", (long long)planes);
  sm_buf_printf(b, "    const %s *dy = in0 + p * %lld;\n", T, (long long)(OH * OW));
  if (is_max) sm_buf_printf(b, "    const %s *x = in1 + p * %lld;\n", T, (long long)(H * W));
  sm_buf_printf(b, "    %s *dx = out0 + p * %lld;\n", T, (long long)(H * W));
  emit_zero(b, 4, "dx", H * W);
  sm_buf_printf(b, "    for (int64_t oh = 0; oh < %lld; oh++) {\n", (long long)OH);
  emit_window(b, 6, &g, 0, "oh", "h0", "kh0", "kh1");
  sm_buf_printf(b, "      for (int64_t ow = 0; ow < %lld; ow++) {\n", (long long)OW);
  emit_window(b, 8, &g, 1, "ow", "w0", "kw0", "kw1");
  char tap[300];
  snprintf(tap, sizeof tap, "(%s) * %lld + ", affine(ix, sizeof ix, 1, "h0", g.d[0], "kh", 0),
           (long long)W);
  strcat(tap, affine(ix, sizeof ix, 1, "w0", g.d[1], "kw", 0));
  if (is_max) {
    sm_buf_puts(b, "        int64_t arg = -1;\n");
    sm_buf_printf(b, "        %s best = 0;\n", T);
    sm_buf_puts(b, "        for (int64_t kh = kh0; kh < kh1; kh++)\n");
    sm_buf_puts(b, "          for (int64_t kw = kw0; kw < kw1; kw++) {\n");
    sm_buf_printf(b, "            const int64_t i = %s;\n", tap);
    sm_buf_puts(b, "            if (arg < 0 || x[i] > best) {\n");
    sm_buf_puts(b, "              arg = i;\n              best = x[i];\n            }\n");
    sm_buf_puts(b, "          }\n");
    sm_buf_printf(b, "        if (arg >= 0) dx[arg] += dy[oh * %lld + ow];\n", (long long)OW);
  } else {
    char cnt[400];
    sm_buf_printf(b, "        const %s gy = dy[oh * %lld + ow] / %s;\n", T, (long long)OW,
                  avg_count(cnt, sizeof cnt, &g, include_pad, T));
    sm_buf_puts(b, "        for (int64_t kh = kh0; kh < kh1; kh++)\n");
    sm_buf_puts(b, "          for (int64_t kw = kw0; kw < kw1; kw++)\n");
    sm_buf_printf(b, "            dx[%s] += gy;\n", tap);
  }
  sm_buf_puts(b, "      }\n    }\n  }\n");
}

static void maxpool_grad_emit(SmBuf *b, const IrNode *n) { pool_grad_emit(b, n, true); }
static void avgpool_grad_emit(SmBuf *b, const IrNode *n) { pool_grad_emit(b, n, false); }

static bool maxpool_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[2] = {dout[0], n->in[0]};
  IrNode *g = ir_grad_node(cx, "maxpool2d_grad", in, 2, 1);
  ir_copy_attrs(cx->g, g, n);
  din[0] = ir_grad_finish(cx, g);
  return true;
}

static bool avgpool_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrNode *g = ir_grad_node(cx, "avgpool2d_grad", &dout[0], 1, 1);
  ir_copy_attrs(cx->g, g, n);
  set_shape(cx, g, "xshape", n->in[0]);
  din[0] = ir_grad_finish(cx, g);
  return true;
}

/* global_avgpool_grad(dy; xshape): dx = dy / (spatial size), broadcast */
static bool gap_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_float(n, 0, d)) return false;
  IrType x;
  if (!attr_shape(n, "xshape", -1, &x, d)) return false;
  IrType y = x;
  for (int i = 2; i < x.rank; i++) {
    if (x.dims[i] == 0) {
      char s[IR_TYPE_STRLEN];
      return op_err(n, d, "spatial dims of xshape are empty: %s", OP_TSTR(&x, s));
    }
    y.dims[i] = 1;
  }
  char sx[IR_TYPE_STRLEN], why[IR_TYPE_STRLEN + 48];
  snprintf(why, sizeof why, "the global pool of x %s", OP_TSTR(&x, sx));
  if (!want_type(n, 0, &y, why, d)) return false;
  out[0] = x;
  return true;
}

static int64_t gap_grad_plane(const IrNode *n) {
  const IrType *x = &n->out[0]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void gap_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t S = gap_grad_plane(n);
  for (int64_t p = 0; p < in[0].numel; p++)
    for (int64_t i = 0; i < S; i++) out[0].d[p * S + i] = in[0].d[p] / (double)S;
}

static void gap_grad_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t S = gap_grad_plane(n), planes = ir_numel(&n->in[0]->type);
  emit_omp_for(b, planes * S, NULL);
  sm_buf_printf(b, "  for (int64_t p = 0; p < %lld; p++) {\n", (long long)planes);
  sm_buf_printf(b, "    const %s g = in0[p] / (%s)%lld;\n", T, T, (long long)S);
  sm_buf_printf(b, "    %s *dx = out0 + p * %lld;\n", T, (long long)S);
  sm_buf_printf(b, "    for (int64_t i = 0; i < %lld; i++) dx[i] = g;\n  }\n", (long long)S);
}

static bool gap_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrNode *g = ir_grad_node(cx, "global_avgpool_grad", &dout[0], 1, 1);
  set_shape(cx, g, "xshape", n->in[0]);
  din[0] = ir_grad_finish(cx, g);
  return true;
}

/* ======================================================================
 * batchnorm_grad: backward of inference batchnorm
 *
 * y = scale * (x - mean) * r + bias with r = 1/sqrt(var + eps), so per
 * channel c (sums over n and the inner dims):
 *   dx = dy * scale * r          dscale = sum dy * (x - mean) * r
 *   dbias = sum dy               dmean = -scale * r * sum dy
 *   dvar = -scale * r^3 / 2 * sum dy * (x - mean)
 * ====================================================================== */

static const IrAttrSpec eps_attrs[] = {{"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};

/* x [N,C,...] with `nvec` per-channel vectors from operand `first` on */
static bool bn_check(const IrNode *n, int xi, int first, int nvec, const char *const *roles,
                     SmDiag *d) {
  const IrType *x = &n->in[xi]->type;
  char s[IR_TYPE_STRLEN], t[IR_TYPE_STRLEN];
  if (!want_float_same(n, d)) return false;
  if (x->rank < 2)
    return op_err(n, d, "expects input %d ('%s') of rank >= 2 ([N,C,...]), got %s", xi,
                  n->in[xi]->name, OP_TSTR(x, s));
  for (int i = first; i < first + nvec; i++) {
    const IrType *p = &n->in[i]->type;
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return op_err(n, d, "%s '%s' must be [%lld] (one per channel of %s), got %s", roles[i],
                    n->in[i]->name, (long long)x->dims[1], OP_TSTR(x, s), OP_TSTR(p, t));
  }
  return true;
}

static bool want_eps(const IrNode *n, SmDiag *d) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  if (!(eps >= 0 && eps < INFINITY))
    return op_err(n, d, "epsilon must be non-negative, got %g", eps);
  return true;
}

/* (dy, x, scale, mean, var) -> (dx, dscale, dbias, dmean, dvar) */
static const char *const bn_grad_roles[] = {"dy", "x", "scale", "mean", "var"};

static bool bn_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 1, 2, 3, bn_grad_roles, d) || !want_eps(n, d)) return false;
  if (!want_type(n, 0, &n->in[1]->type, "x", d)) return false;
  out[0] = n->in[1]->type;
  for (int i = 1; i < 5; i++) out[i] = n->in[i < 3 ? 2 : i]->type;
  return true;
}

/* inner size of x = operand xi (product of dims 2..) */
static int64_t bn_inner_of(const IrNode *n, int xi) {
  const IrType *x = &n->in[xi]->type;
  int64_t s = 1;
  for (int i = 2; i < x->rank; i++) s *= x->dims[i];
  return s;
}

static void bn_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t C = in[1].type.dims[1], I = bn_inner_of(n, 1);
  const double *dy = in[0].d, *x = in[1].d, *scale = in[2].d, *mean = in[3].d, *var = in[4].d;
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    double r = 1 / sqrt(var[c] + eps);
    out[0].d[i] = dy[i] * scale[c] * r;
    out[1].d[c] += dy[i] * (x[i] - mean[c]) * r;
    out[2].d[c] += dy[i];
    out[3].d[c] -= dy[i] * scale[c] * r;
    out[4].d[c] -= dy[i] * (x[i] - mean[c]) * scale[c] * r * r * r / 2;
  }
}

static const char *sqrt_fn(const IrNode *n) {
  return n->out[0]->type.dtype == IR_F32 ? "sqrtf" : "sqrt";
}

/* `for (n) { const T *<p> = in<k> + (n*C + c)*I; ... ` opener over the
 * batch at channel c, for each name=operand pair; closed by the caller. */
static void emit_batch_loop(SmBuf *b, const IrNode *n, int xi, const char *const *names,
                            const char *const *ptrs, int cnt) {
  int64_t N = n->in[xi]->type.dims[0], C = n->in[xi]->type.dims[1], I = bn_inner_of(n, xi);
  const char *T = ctype(n);
  sm_buf_printf(b, "    for (int64_t n = 0; n < %lld; n++) {\n", (long long)N);
  for (int k = 0; k < cnt; k++)
    sm_buf_printf(b, "      %s%s *%s = %s + (n * %lld + c) * %lld;\n",
                  ptrs[k][0] == 'o' ? "" : "const ", T, names[k], ptrs[k], (long long)C,
                  (long long)I);
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++) {\n", (long long)I);
}

/* One thread per channel: one pass over (dy, x) writes dx and both sums. */
static void bn_grad_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  int64_t C = n->in[1]->type.dims[1];
  emit_omp_for(b, ir_numel(&n->in[1]->type) * 4, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "    const %s r = 1 / %s(in4[c] + ", T, sqrt_fn(n));
  lit(b, n, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  sm_buf_printf(b, "    const %s a = in2[c] * r, mu = in3[c];\n", T);
  sm_buf_puts(b, "    double sdy = 0.0, sdyx = 0.0;\n");
  static const char *const nm[] = {"dy", "x", "dx"}, *const pt[] = {"in0", "in1", "out0"};
  emit_batch_loop(b, n, 1, nm, pt, 3);
  sm_buf_puts(b, "        dx[i] = dy[i] * a;\n");
  sm_buf_puts(b, "        sdy += dy[i];\n");
  sm_buf_puts(b, "        sdyx += dy[i] * (x[i] - mu);\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)(sdyx * r);\n", T);
  sm_buf_printf(b, "    out2[c] = (%s)sdy;\n", T);
  sm_buf_printf(b, "    out3[c] = (%s)(-sdy * a);\n", T);
  sm_buf_printf(b, "    out4[c] = (%s)(-0.5 * sdyx * a * r * r);\n  }\n", T);
}

static bool bn_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  IrValue *in[5] = {dout[0], n->in[0], n->in[1], n->in[3], n->in[4]};
  IrNode *g = ir_grad_node(cx, "batchnorm_grad", in, 5, 5);
  ir_set_float(cx->g, g, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
  ir_grad_finish(cx, g);
  /* forward operand i gets backward output i */
  for (int i = 0; i < 5; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = g->out[i];
  return true;
}

/* ======================================================================
 * batchnorm_train, batchnorm_train_grad
 *
 * Training-mode batch norm with PyTorch semantics: normalize with the
 * batch mean and biased variance over every dim but 1; update the running
 * statistics in place as running = (1 - momentum) * running + momentum *
 * batch, with the unbiased variance; save mean and 1/sqrt(var + eps) for
 * the backward op:
 *   dx = scale * r * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   dscale = sum dy * xhat, dbias = sum dy, xhat = (x - mean) * r
 * ====================================================================== */

static const IrAttrSpec bn_train_attrs[] = {
    {"epsilon", IR_ATTR_FLOAT, false},
    {"momentum", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const char *const bn_train_roles[] = {"x", "scale", "bias", "running_mean",
                                             "running_var"};

static bool bn_train_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 0, 1, 4, bn_train_roles, d) || !want_eps(n, d)) return false;
  double mom = ir_attr_float(n, "momentum", 0.1);
  if (!(mom >= 0 && mom <= 1)) return op_err(n, d, "momentum must be in [0, 1], got %g", mom);
  const IrType *x = &n->in[0]->type;
  if (x->dims[1] < 1 || ir_numel(x) / x->dims[1] < 2) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "needs more than one value per channel to take batch statistics, "
                  "got x '%s' %s", n->in[0]->name, OP_TSTR(x, s));
  }
  out[0] = *x;
  for (int i = 1; i < 5; i++) out[i] = n->in[1]->type;
  return true;
}

static void bn_train_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double eps = ir_attr_float(n, "epsilon", 1e-5), mom = ir_attr_float(n, "momentum", 0.1);
  int64_t C = in[0].type.dims[1], I = bn_inner_of(n, 0);
  int64_t cnt = in[0].numel / C;
  const double *x = in[0].d;
  for (int64_t c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) sum += x[i];
    double mean = sum / (double)cnt;
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) sq += (x[i] - mean) * (x[i] - mean);
    double var = sq / (double)cnt, r = 1 / sqrt(var + eps);
    for (int64_t i = 0; i < in[0].numel; i++)
      if (i / I % C == c) out[0].d[i] = in[1].d[c] * (x[i] - mean) * r + in[2].d[c];
    out[1].d[c] = (1 - mom) * in[3].d[c] + mom * mean;
    out[2].d[c] = (1 - mom) * in[4].d[c] + mom * sq / (double)(cnt - 1);
    out[3].d[c] = mean;
    out[4].d[c] = r;
  }
}

/* One thread per channel: mean, then squared deviations (two passes, in
 * double), then y = x * a + sh from the saved statistics. Outputs 1 and 2 alias inputs 3 and 4; each channel
 * reads its running statistic before overwriting it. */
static void bn_train_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  const IrType *x = &n->in[0]->type;
  int64_t C = x->dims[1], cnt = ir_numel(x) / C;
  double mom = ir_attr_float(n, "momentum", 0.1);
  static const char *const nx[] = {"x"}, *const px[] = {"in0"};
  static const char *const nxy[] = {"x", "y"}, *const pxy[] = {"in0", "out0"};
  sm_buf_printf(b, "  /* %lld values per channel; momentum %g (PyTorch convention) */\n",
                (long long)cnt, mom);
  emit_omp_for(b, ir_numel(x) * 3, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_puts(b, "    double sum = 0.0, sq = 0.0;\n");
  emit_batch_loop(b, n, 0, nx, px, 1);
  sm_buf_puts(b, "        sum += x[i];\n      }\n    }\n");
  sm_buf_printf(b, "    const double mean = sum / %lld.0;\n", (long long)cnt);
  emit_batch_loop(b, n, 0, nx, px, 1);
  sm_buf_puts(b, "        sq += (x[i] - mean) * (x[i] - mean);\n      }\n    }\n");
  sm_buf_puts(b, "    const double r = 1.0 / sqrt(sq / ");
  sm_buf_printf(b, "%lld.0 + ", (long long)cnt);
  emit_value(b, IR_F64, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  /* y from the saved (rounded) statistics in T: the arithmetic of the
   * elementwise chain passes/remat.c recomputes y with */
  sm_buf_printf(b, "    const %s mf = (%s)mean, rf = (%s)r;\n", T, T, T);
  sm_buf_printf(b, "    const %s a = in1[c] * rf, sh = in2[c] - mf * a;\n", T);
  emit_batch_loop(b, n, 0, nxy, pxy, 2);
  sm_buf_puts(b, "        y[i] = x[i] * a + sh;\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)(", T);
  emit_value(b, IR_F64, 1 - mom);
  sm_buf_puts(b, " * in3[c] + ");
  emit_value(b, IR_F64, mom);
  sm_buf_puts(b, " * mean);\n");
  sm_buf_printf(b, "    out2[c] = (%s)(", T);
  emit_value(b, IR_F64, 1 - mom);
  sm_buf_puts(b, " * in4[c] + ");
  emit_value(b, IR_F64, mom);
  sm_buf_printf(b, " * (sq / %lld.0));\n", (long long)(cnt - 1));
  sm_buf_puts(b, "    out3[c] = mf;\n");
  sm_buf_puts(b, "    out4[c] = rf;\n  }\n");
}

/* Gradients flow through y only: the running and saved statistics are
 * state for later steps, not part of the loss. */
static bool bn_train_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                          IrValue **din) {
  for (int o = 1; o < 5; o++)
    if (dout[o]) {
      sm_error(cx->d, n->loc, "batchnorm_train: output %d ('%s') holds batch statistics "
               "and is not differentiable, but the loss depends on it", o, n->out[o]->name);
      return false;
    }
  if (!dout[0]) return true;
  IrValue *in[5] = {dout[0], n->in[0], n->in[1], n->out[3], n->out[4]};
  IrNode *g = ir_grad_node(cx, "batchnorm_train_grad", in, 5, 3);
  ir_grad_finish(cx, g);
  for (int i = 0; i < 3; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = g->out[i];
  return true;
}

/* (dy, x, scale, saved_mean, saved_invstd) -> (dx, dscale, dbias) */
static const char *const bn_tgrad_roles[] = {"dy", "x", "scale", "saved_mean", "saved_invstd"};

static bool bn_tgrad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!bn_check(n, 1, 2, 3, bn_tgrad_roles, d)) return false;
  if (!want_type(n, 0, &n->in[1]->type, "x", d)) return false;
  out[0] = n->in[1]->type;
  out[1] = out[2] = n->in[2]->type;
  return true;
}

static void bn_tgrad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t C = in[1].type.dims[1], I = bn_inner_of(n, 1);
  double cnt = (double)(in[1].numel / (C ? C : 1));
  const double *dy = in[0].d, *x = in[1].d, *scale = in[2].d, *mean = in[3].d, *r = in[4].d;
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    out[1].d[c] += dy[i] * (x[i] - mean[c]) * r[c];
    out[2].d[c] += dy[i];
  }
  for (int64_t i = 0; i < in[1].numel; i++) {
    int64_t c = i / I % C;
    double xhat = (x[i] - mean[c]) * r[c];
    out[0].d[i] = scale[c] * r[c] * (dy[i] - out[2].d[c] / cnt - xhat * out[1].d[c] / cnt);
  }
}

/* One thread per channel: sums in one pass, dx in a second. */
static void bn_tgrad_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  const IrType *x = &n->in[1]->type;
  int64_t C = x->dims[1], cnt = C ? ir_numel(x) / C : 0;
  static const char *const n2[] = {"dy", "x"}, *const p2[] = {"in0", "in1"};
  static const char *const n3[] = {"dy", "x", "dx"}, *const p3[] = {"in0", "in1", "out0"};
  emit_omp_for(b, ir_numel(x) * 3, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "    const %s mu = in3[c], r = in4[c];\n", T);
  sm_buf_puts(b, "    double sdy = 0.0, sdyx = 0.0;\n");
  emit_batch_loop(b, n, 1, n2, p2, 2);
  sm_buf_puts(b, "        sdy += dy[i];\n");
  sm_buf_puts(b, "        sdyx += dy[i] * (x[i] - mu);\n      }\n    }\n");
  sm_buf_puts(b, "    sdyx *= r;\n");
  sm_buf_printf(b, "    const %s a = in2[c] * r, m1 = (%s)(sdy / %lld.0), m2 = (%s)(sdyx / %lld.0);\n",
                T, T, (long long)cnt, T, (long long)cnt);
  emit_batch_loop(b, n, 1, n3, p3, 3);
  sm_buf_puts(b, "        dx[i] = a * (dy[i] - m1 - (x[i] - mu) * r * m2);\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)sdyx;\n", T);
  sm_buf_printf(b, "    out2[c] = (%s)sdy;\n  }\n", T);
}

/* ======================================================================
 * dropout_train(x, step; ratio, stream, seed) -> (y, mask)
 *
 * Element i of step `step` is kept iff rt_uniform(seed, stream,
 * step * numel + i) >= ratio: a pure function, so the reference and the
 * generated code draw the same mask, independent of thread count. Kept
 * elements are scaled by 1/(1 - ratio); mask holds that factor or 0.
 * ====================================================================== */

static const IrAttrSpec dropout_train_attrs[] = {
    {"ratio", IR_ATTR_FLOAT, false},
    {"stream", IR_ATTR_INT, false},
    {"seed", IR_ATTR_INT, true},
    {NULL, 0, false}};

static bool dropout_train_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *st = &n->in[1]->type;
  char s[IR_TYPE_STRLEN];
  if (!op_want_float(n, 0, d)) return false;
  if (st->dtype != IR_I64 || ir_numel(st) != 1)
    return op_err(n, d, "step '%s' must be an i64 scalar, got %s", n->in[1]->name,
                  OP_TSTR(st, s));
  double r = ir_attr_float(n, "ratio", 0.5);
  if (!(r >= 0 && r < 1)) return op_err(n, d, "ratio must be in [0, 1), got %g", r);
  if (ir_attr_int(n, "stream", 0) < 0)
    return op_err(n, d, "stream must be non-negative, got %lld",
                  (long long)ir_attr_int(n, "stream", 0));
  out[0] = out[1] = n->in[0]->type;
  return true;
}

static void dropout_train_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0);
  uint64_t stream = (uint64_t)ir_attr_int(n, "stream", 0);
  uint64_t base = (uint64_t)(int64_t)in[1].d[0] * (uint64_t)in[0].numel;
  for (int64_t i = 0; i < in[0].numel; i++) {
    bool keep = rt_uniform(seed, stream, base + (uint64_t)i) >= ratio;
    out[1].d[i] = keep ? 1 / (1 - ratio) : 0;
    out[0].d[i] = in[0].d[i] * out[1].d[i];
  }
}

/* Statements applying rt_mix64 to the uint64_t variable v in place. */
static void emit_mix64(SmBuf *b, int ind, const char *v) {
  sm_buf_printf(b, "%*s%s += 0x9e3779b97f4a7c15ull;\n", ind, "", v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 30)) * 0xbf58476d1ce4e5b9ull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 27)) * 0x94d049bb133111ebull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s ^= %s >> 31;\n", ind, "", v, v);
}

/* The draw inlined: the (seed, stream) prefix of the hash is a constant,
 * and u >= ratio for u = k * 2^-53 is k >= ceil(ratio * 2^53) on the
 * integer k (exact: scaling by a power of two), so the loop vectorizes and
 * keeps exactly the reference's mask. */
static void dropout_train_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t numel = ir_numel(&n->in[0]->type);
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t pre = rt_hash_prefix((uint64_t)ir_attr_int(n, "seed", 0),
                                (uint64_t)ir_attr_int(n, "stream", 0));
  uint64_t thr = (uint64_t)ceil(ratio * 0x1.0p53);
  sm_buf_printf(b, "  const uint64_t base = (uint64_t)in1[0] * %lluu;\n",
                (unsigned long long)numel);
  emit_omp_for(b, numel * 4, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)numel);
  sm_buf_printf(b, "    uint64_t z = base + (uint64_t)i + %lluull;\n", (unsigned long long)RT_HASH_I);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    z ^= %lluull;\n", (unsigned long long)pre);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    const %s m = (z >> 11) >= %lluull ? ", T, (unsigned long long)thr);
  emit_value(b, n->out[0]->type.dtype, 1 / (1 - ratio));
  sm_buf_puts(b, " : 0;\n");
  sm_buf_puts(b, "    out1[i] = m;\n    out0[i] = in0[i] * m;\n  }\n");
}

static bool dropout_train_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                               IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  IrValue *in[2] = {dout[0], n->out[1]};
  din[0] = ir_grad_op(cx, "mul", in, 2);
  return true;
}
#undef FAIL

/* ======================================================================
 * random_normal([step]; shape, mean=0, scale=1, seed=0, stream=0)
 *
 * Element i is mean + scale * rt_normal(seed, stream, step * numel + i):
 * a pure function of its counter, so the reference and generated code
 * agree bit for bit on any thread count. Without a step input the step is
 * 0 (fixed noise, e.g. a GAN's sample grid); the training pass gives the
 * node the step input so that every update draws fresh noise. Distinct
 * noise sources need distinct streams (equal attributes mean equal values).
 * ====================================================================== */

static const IrAttrSpec random_normal_attrs[] = {
    {"shape", IR_ATTR_INTS, true},  {"mean", IR_ATTR_FLOAT, false},
    {"scale", IR_ATTR_FLOAT, false}, {"seed", IR_ATTR_INT, false},
    {"stream", IR_ATTR_INT, false},  {"dtype", IR_ATTR_STR, false},
    {NULL, 0, false}};

static bool random_normal_infer(const IrNode *n, IrType *out, SmDiag *d) {
  char s[IR_TYPE_STRLEN];
  if (n->nin == 1) {
    const IrType *st = &n->in[0]->type;
    if (st->dtype != IR_I64 || ir_numel(st) != 1)
      return op_err(n, d, "step '%s' must be an i64 scalar, got %s", n->in[0]->name,
                    OP_TSTR(st, s));
  }
  const char *dt = ir_attr_str(n, "dtype", "f32");
  if (strcmp(dt, "f32") && strcmp(dt, "f64"))
    return op_err(n, d, "dtype must be f32 or f64, got \"%s\"", dt);
  int64_t shape[IR_MAX_RANK + 1];
  int rank = ir_attr_ints(n, "shape", shape, IR_MAX_RANK + 1);
  if (rank < 0 || rank > IR_MAX_RANK)
    return op_err(n, d, "shape must have 0 to %d dims", IR_MAX_RANK);
  for (int i = 0; i < rank; i++)
    if (shape[i] < 0) return op_err(n, d, "shape has a negative dim %lld", (long long)shape[i]);
  if (ir_attr_int(n, "stream", 0) < 0 || ir_attr_int(n, "seed", 0) < 0)
    return op_err(n, d, "seed and stream must be non-negative");
  out[0] = ir_type_make(strcmp(dt, "f64") ? IR_F32 : IR_F64, rank, shape);
  if (ir_type_numel(&out[0]) < 0) return op_err(n, d, "shape has too many elements");
  return true;
}

static void random_normal_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0);
  uint64_t stream = (uint64_t)ir_attr_int(n, "stream", 0);
  double mean = ir_attr_float(n, "mean", 0), scale = ir_attr_float(n, "scale", 1);
  uint64_t base = n->nin ? (uint64_t)(int64_t)in[0].d[0] * (uint64_t)out[0].numel : 0;
  for (int64_t i = 0; i < out[0].numel; i++)
    out[0].d[i] = mean + scale * rt_normal(seed, stream, base + (uint64_t)i);
}

static void random_normal_emit(SmBuf *b, const IrNode *n) {
  int64_t numel = ir_numel(&n->out[0]->type);
  if (numel == 0) return;
  if (n->nin) sm_buf_printf(b, "  const uint64_t base = (uint64_t)in0[0] * %lluu;\n",
                            (unsigned long long)numel);
  else sm_buf_puts(b, "  const uint64_t base = 0;\n");
  emit_omp_for(b, numel * 32, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n    out0[i] = (%s)(", (long long)numel,
                ctype(n));
  emit_value(b, IR_F64, ir_attr_float(n, "mean", 0));
  sm_buf_puts(b, " + ");
  emit_value(b, IR_F64, ir_attr_float(n, "scale", 1));
  sm_buf_printf(b, " * rt_normal(%lluu, %lluu, base + (uint64_t)i));\n",
                (unsigned long long)ir_attr_int(n, "seed", 0),
                (unsigned long long)ir_attr_int(n, "stream", 0));
}

/* ====================================================================== */

static const int8_t bn_train_inplace[] = {-1, 3, 4, -1, -1};

static const IrOpDef op_conv2d = {
    .name = "conv2d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv2d_infer, .ref = conv_ref, .emit = conv_emit, .grad = conv_grad,
    .bn_fold = IR_BN_FOLD_CONV,
    .doc = "2-D convolution (x[N,C,H,W], w[M,C/group,kH,kW], b[M]; strides, pads, dilations, group)"};
static const IrOpDef op_conv1d = {
    .name = "conv1d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv1d_infer, .ref = conv_ref, .emit = conv_emit, .grad = conv_grad,
    .bn_fold = IR_BN_FOLD_CONV,
    .doc = "1-D convolution (x[N,C,L], w[M,C/group,k], b[M]; strides, pads, dilations, group)"};
static const IrOpDef op_maxpool2d = {
    .name = "maxpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_infer, .ref = maxpool_ref, .emit = maxpool_emit, .grad = maxpool_grad,
    .doc = "2-D max pooling (kernel; strides, pads, dilations, ceil_mode)"};
static const IrOpDef op_avgpool2d = {
    .name = "avgpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_attrs,
    .infer = pool_infer, .ref = avgpool_ref, .emit = avgpool_emit, .grad = avgpool_grad,
    .doc = "2-D average pooling (kernel; strides, pads, ceil_mode, count_include_pad)"};
static const IrOpDef op_global_avgpool = {
    .name = "global_avgpool", .min_in = 1, .max_in = 1, .nout = 1, .attrs = no_attrs,
    .infer = gap_infer, .ref = gap_ref, .emit = gap_emit, .grad = gap_grad,
    .doc = "mean over spatial dims: [N,C,...] -> [N,C,1,...]"};
static const IrOpDef op_batchnorm = {
    .name = "batchnorm", .min_in = 5, .max_in = 5, .nout = 1, .attrs = bn_attrs,
    .infer = bn_infer, .ref = bn_ref, .emit = bn_emit, .grad = bn_grad,
    .caps = IR_CAP_BATCHNORM, .train_form = "batchnorm_train", .to_train = ir_train_batchnorm,
    .doc = "inference batch norm over dim 1 (x, scale, bias, mean, var; epsilon=1e-5)"};
static const IrOpDef op_batchnorm_train = {
    .name = "batchnorm_train", .min_in = 5, .max_in = 5, .nout = 5, .attrs = bn_train_attrs,
    .infer = bn_train_infer, .ref = bn_train_ref, .emit = bn_train_emit, .grad = bn_train_grad,
    .inplace = bn_train_inplace,
    .caps = IR_CAP_BN_SAVED,
    .doc = "training batch norm (x, scale, bias, running_mean, running_var; epsilon=1e-5, "
           "momentum=0.1 PyTorch-style) -> y, running_mean', running_var' (in place), "
           "saved_mean, saved_invstd"};
static const IrOpDef op_random_normal = {
    .name = "random_normal", .min_in = 0, .max_in = 1, .nout = 1, .attrs = random_normal_attrs,
    .flags = IR_OPF_NOGRAD, .infer = random_normal_infer, .ref = random_normal_ref,
    .emit = random_normal_emit,
    .train_form = "random_normal", .to_train = ir_train_step_operand,
    .doc = "normal noise ([step: i64 scalar]; shape, mean=0, scale=1, seed=0, stream=0, "
           "dtype=f32): counter-based, fresh per training step, fixed (step 0) in inference"};
static const IrOpDef op_dropout_train = {
    .name = "dropout_train", .min_in = 2, .max_in = 2, .nout = 2, .attrs = dropout_train_attrs,
    .infer = dropout_train_infer, .ref = dropout_train_ref, .emit = dropout_train_emit,
    .grad = dropout_train_grad,
    .doc = "training dropout (x, step: i64 scalar; ratio=0.5, stream=0, seed) -> y, mask"};

/* backward ops, built by the gradient rules above */
static const IrOpDef op_conv2d_grad_input = {
    .name = "conv2d_grad_input", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gi_attrs,
    .infer = conv2d_grad_infer, .ref = conv_gi_ref, .emit = conv_gi_emit,
    .doc = "conv2d backward to the input (dy, w; conv attrs, xshape)"};
static const IrOpDef op_conv2d_grad_weight = {
    .name = "conv2d_grad_weight", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gw_attrs,
    .infer = conv2d_grad_infer, .ref = conv_gw_ref, .emit = conv_gw_emit,
    .doc = "conv2d backward to the weight (dy, x; conv attrs, wshape)"};
static const IrOpDef op_conv1d_grad_input = {
    .name = "conv1d_grad_input", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gi_attrs,
    .infer = conv1d_grad_infer, .ref = conv_gi_ref, .emit = conv_gi_emit,
    .doc = "conv1d backward to the input (dy, w; conv attrs, xshape)"};
static const IrOpDef op_conv1d_grad_weight = {
    .name = "conv1d_grad_weight", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gw_attrs,
    .infer = conv1d_grad_infer, .ref = conv_gw_ref, .emit = conv_gw_emit,
    .doc = "conv1d backward to the weight (dy, x; conv attrs, wshape)"};
static const IrOpDef op_maxpool2d_grad = {
    .name = "maxpool2d_grad", .min_in = 2, .max_in = 2, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_grad_infer, .ref = maxpool_grad_ref, .emit = maxpool_grad_emit,
    .doc = "maxpool2d backward (dy, x; pool attrs): dy to each window's first maximum"};
static const IrOpDef op_avgpool2d_grad = {
    .name = "avgpool2d_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_grad_attrs,
    .infer = pool_grad_infer, .ref = avgpool_grad_ref, .emit = avgpool_grad_emit,
    .doc = "avgpool2d backward (dy; pool attrs, xshape)"};
static const IrOpDef op_global_avgpool_grad = {
    .name = "global_avgpool_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = xshape_attrs,
    .infer = gap_grad_infer, .ref = gap_grad_ref, .emit = gap_grad_emit,
    .doc = "global_avgpool backward (dy; xshape)"};
static const IrOpDef op_batchnorm_grad = {
    .name = "batchnorm_grad", .min_in = 5, .max_in = 5, .nout = 5, .attrs = eps_attrs,
    .infer = bn_grad_infer, .ref = bn_grad_ref, .emit = bn_grad_emit,
    .doc = "batchnorm backward (dy, x, scale, mean, var; epsilon) -> dx, dscale, dbias, dmean, dvar"};
static const IrOpDef op_batchnorm_train_grad = {
    .name = "batchnorm_train_grad", .min_in = 5, .max_in = 5, .nout = 3, .attrs = no_attrs,
    .infer = bn_tgrad_infer, .ref = bn_tgrad_ref, .emit = bn_tgrad_emit,
    .doc = "batchnorm_train backward (dy, x, scale, saved_mean, saved_invstd) -> dx, dscale, dbias"};

const IrOpDef *const ir_ops_nn[] = {
    &op_conv2d, &op_conv1d, &op_maxpool2d, &op_avgpool2d, &op_global_avgpool, &op_batchnorm,
    &op_batchnorm_train, &op_dropout_train, &op_random_normal, &op_conv2d_grad_input, &op_conv2d_grad_weight,
    &op_conv1d_grad_input, &op_conv1d_grad_weight, &op_maxpool2d_grad, &op_avgpool2d_grad,
    &op_global_avgpool_grad, &op_batchnorm_grad, &op_batchnorm_train_grad, NULL};

bool nn_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  Corr corr;
  if (!strcmp(n->op->name, "conv2d") || !strcmp(n->op->name, "conv1d")) {
    Win g;
    conv_win(n, &g);
    if (conv_fwd_corr(n, &g, &corr)) {
      emit_corr(b, &corr, e);
      return true;
    }
    return conv_emit_gemm(b, n, &g, e);
  }
  if (strstr(n->op->name, "_grad_input")) {
    if (conv_gi_gemm(b, n, e)) return true;
    ConvSz z = conv_sz(n);
    if (n->out[0]->type.dtype != IR_F32 || z.g.nsp != 2 || !conv_corr(&z, true, false, &corr))
      return false;
    emit_corr(b, &corr, e);
    return true;
  }
  if (strstr(n->op->name, "_grad_weight")) return conv_gw_gemm(b, n, e);
  if (!strcmp(n->op->name, "maxpool2d_grad")) {
    Win g;
    pool_grad_win(n, &g);
    return g.nsp == 2 && maxpool_grad_2x2(b, n, &g, e);
  }
  return false;
}

bool nn_epilogue_in_registers(const IrNode *n) {
  if (ir_numel(&n->out[0]->type) == 0 || !strstr(n->op->name, "_grad_weight")) return false;
  /* fused, the images are not chunked: K = N*OH*OW */
  ConvSz z = conv_sz(n);
  GwDirect gd;
  return conv_gw_blocked(n) && !conv_gw_direct(n, &gd) && gemm_core_one_k_block(z.N * z.OH * z.OW);
}
