/* Neural-network ops (forward, inference, NCHW, ONNX semantics): conv2d,
 * conv1d, maxpool2d, avgpool2d, global_avgpool, batchnorm.
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

#include "ops.h"

/* ---- sliding-window geometry ---- */

typedef struct Win {
  int nsp; /* spatial dims as written (1 or 2); slot 0 is height, 1 width */
  int64_t in[2], k[2], s[2], d[2];
  int64_t pb[2], pe[2]; /* padding at the start (top/left) and end */
  int64_t out[2];
} Win;

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

/* Per output plane (n, m): initialize with the bias, then for each input
 * channel and kernel tap add wv * (shifted input row) into the output rows
 * the tap reaches, so the innermost loop runs along output width. */
static void conv_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  Win g;
  conv_win(n, &g);
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

/* ====================================================================== */

static const IrOpDef op_conv2d = {
    .name = "conv2d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv2d_infer, .ref = conv_ref, .emit = conv_emit,
    .doc = "2-D convolution (x[N,C,H,W], w[M,C/group,kH,kW], b[M]; strides, pads, dilations, group)"};
static const IrOpDef op_conv1d = {
    .name = "conv1d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv1d_infer, .ref = conv_ref, .emit = conv_emit,
    .doc = "1-D convolution (x[N,C,L], w[M,C/group,k], b[M]; strides, pads, dilations, group)"};
static const IrOpDef op_maxpool2d = {
    .name = "maxpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_infer, .ref = maxpool_ref, .emit = maxpool_emit,
    .doc = "2-D max pooling (kernel; strides, pads, dilations, ceil_mode)"};
static const IrOpDef op_avgpool2d = {
    .name = "avgpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_attrs,
    .infer = pool_infer, .ref = avgpool_ref, .emit = avgpool_emit,
    .doc = "2-D average pooling (kernel; strides, pads, ceil_mode, count_include_pad)"};
static const IrOpDef op_global_avgpool = {
    .name = "global_avgpool", .min_in = 1, .max_in = 1, .nout = 1, .attrs = no_attrs,
    .infer = gap_infer, .ref = gap_ref, .emit = gap_emit,
    .doc = "mean over spatial dims: [N,C,...] -> [N,C,1,...]"};
static const IrOpDef op_batchnorm = {
    .name = "batchnorm", .min_in = 5, .max_in = 5, .nout = 1, .attrs = bn_attrs,
    .infer = bn_infer, .ref = bn_ref, .emit = bn_emit,
    .doc = "inference batch norm over dim 1 (x, scale, bias, mean, var; epsilon=1e-5)"};

const IrOpDef *const ir_ops_nn[] = {
    &op_conv2d,     &op_conv1d,         &op_maxpool2d, &op_avgpool2d,
    &op_global_avgpool, &op_batchnorm, NULL};
