/* Convolution gradients conv{1,2}d_grad_input and conv{1,2}d_grad_weight:
 * shape rules and reference kernels (C kernels: codegen/kernels/conv_grad.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"
#include "nn.h"
#include "rt.h"

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
ConvSz conv_sz(const IrNode *n) {
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

bool conv_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
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

/* ====================================================================== */

const IrOpDef op_conv2d_grad_input = {
    .name = "conv2d_grad_input", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gi_attrs,
    .infer = conv2d_grad_infer, .ref = conv_gi_ref, .c = &cgk_conv2d_grad_input,
    .doc = "conv2d backward to the input (dy, w; conv attrs, xshape)"};
const IrOpDef op_conv2d_grad_weight = {
    .name = "conv2d_grad_weight", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gw_attrs,
    .infer = conv2d_grad_infer, .ref = conv_gw_ref, .c = &cgk_conv2d_grad_weight,
    .doc = "conv2d backward to the weight (dy, x; conv attrs, wshape)"};
const IrOpDef op_conv1d_grad_input = {
    .name = "conv1d_grad_input", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gi_attrs,
    .infer = conv1d_grad_infer, .ref = conv_gi_ref, .c = &cgk_conv1d_grad_input,
    .doc = "conv1d backward to the input (dy, w; conv attrs, xshape)"};
const IrOpDef op_conv1d_grad_weight = {
    .name = "conv1d_grad_weight", .min_in = 2, .max_in = 2, .nout = 1, .attrs = conv_gw_attrs,
    .infer = conv1d_grad_infer, .ref = conv_gw_ref, .c = &cgk_conv1d_grad_weight,
    .doc = "conv1d backward to the weight (dy, x; conv attrs, wshape)"};
