/* Pooling ops maxpool2d, avgpool2d, global_avgpool and their backward ops:
 * shape rules, reference kernels, gradient rules and emitters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_emit.h"
#include "nn.h"
#include "rt.h"

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

void pool_grad_win(const IrNode *n, Win *w) {
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
bool maxpool_grad_2x2(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi) {
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


/* ====================================================================== */

const IrOpDef op_maxpool2d = {
    .name = "maxpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_infer, .ref = maxpool_ref, .emit = maxpool_emit, .grad = maxpool_grad,
    .doc = "2-D max pooling (kernel; strides, pads, dilations, ceil_mode)"};
const IrOpDef op_avgpool2d = {
    .name = "avgpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_attrs,
    .infer = pool_infer, .ref = avgpool_ref, .emit = avgpool_emit, .grad = avgpool_grad,
    .doc = "2-D average pooling (kernel; strides, pads, ceil_mode, count_include_pad)"};
const IrOpDef op_global_avgpool = {
    .name = "global_avgpool", .min_in = 1, .max_in = 1, .nout = 1, .attrs = no_attrs,
    .infer = gap_infer, .ref = gap_ref, .emit = gap_emit, .grad = gap_grad,
    .doc = "mean over spatial dims: [N,C,...] -> [N,C,1,...]"};
const IrOpDef op_maxpool2d_grad = {
    .name = "maxpool2d_grad", .min_in = 2, .max_in = 2, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_grad_infer, .ref = maxpool_grad_ref, .emit = maxpool_grad_emit,
    .doc = "maxpool2d backward (dy, x; pool attrs): dy to each window's first maximum"};
const IrOpDef op_avgpool2d_grad = {
    .name = "avgpool2d_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_grad_attrs,
    .infer = pool_grad_infer, .ref = avgpool_grad_ref, .emit = avgpool_grad_emit,
    .doc = "avgpool2d backward (dy; pool attrs, xshape)"};
const IrOpDef op_global_avgpool_grad = {
    .name = "global_avgpool_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = xshape_attrs,
    .infer = gap_grad_infer, .ref = gap_grad_ref, .emit = gap_grad_emit,
    .doc = "global_avgpool backward (dy; xshape)"};
