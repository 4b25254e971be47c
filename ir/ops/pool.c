/* Pooling ops maxpool2d, avgpool2d, global_avgpool and their backward ops:
 * shape rules, reference kernels and gradient rules (C kernels:
 * codegen/kernels/pool.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"
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

void pool_win(const IrNode *n, Win *w) {
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

int64_t gap_plane(const IrNode *n) {
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

int64_t gap_grad_plane(const IrNode *n) {
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
    .infer = pool_infer, .ref = maxpool_ref, .c = &cgk_maxpool2d, .grad = maxpool_grad,
    .doc = "2-D max pooling (kernel; strides, pads, dilations, ceil_mode)"};
const IrOpDef op_avgpool2d = {
    .name = "avgpool2d", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_attrs,
    .infer = pool_infer, .ref = avgpool_ref, .c = &cgk_avgpool2d, .grad = avgpool_grad,
    .doc = "2-D average pooling (kernel; strides, pads, ceil_mode, count_include_pad)"};
const IrOpDef op_global_avgpool = {
    .name = "global_avgpool", .min_in = 1, .max_in = 1, .nout = 1, .attrs = no_attrs,
    .infer = gap_infer, .ref = gap_ref, .c = &cgk_global_avgpool, .grad = gap_grad,
    .doc = "mean over spatial dims: [N,C,...] -> [N,C,1,...]"};
const IrOpDef op_maxpool2d_grad = {
    .name = "maxpool2d_grad", .min_in = 2, .max_in = 2, .nout = 1, .attrs = maxpool_attrs,
    .infer = pool_grad_infer, .ref = maxpool_grad_ref, .c = &cgk_maxpool2d_grad,
    .doc = "maxpool2d backward (dy, x; pool attrs): dy to each window's first maximum"};
const IrOpDef op_avgpool2d_grad = {
    .name = "avgpool2d_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = avgpool_grad_attrs,
    .infer = pool_grad_infer, .ref = avgpool_grad_ref, .c = &cgk_avgpool2d_grad,
    .doc = "avgpool2d backward (dy; pool attrs, xshape)"};
const IrOpDef op_global_avgpool_grad = {
    .name = "global_avgpool_grad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = xshape_attrs,
    .infer = gap_grad_infer, .ref = gap_grad_ref, .c = &cgk_global_avgpool_grad,
    .doc = "global_avgpool backward (dy; xshape)"};
