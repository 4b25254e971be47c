/* Forward convolutions conv2d and conv1d (NCHW, ONNX semantics): shape rule,
 * reference kernel and gradient rule (C kernels: codegen/kernels/conv.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"
#include "nn.h"
#include "rt.h"

/* ======================================================================
 * conv2d, conv1d
 * ====================================================================== */

static const IrAttrSpec conv_attrs[] = {
    {"strides", IR_ATTR_INTS, false},
    {"pads", IR_ATTR_INTS, false},
    {"dilations", IR_ATTR_INTS, false},
    {"group", IR_ATTR_INT, false},
    {NULL, 0, false}};

int conv_nsp(const IrNode *n) { return n->in[0]->type.rank - 2; }

void conv_win(const IrNode *n, Win *w) {
  int nsp = conv_nsp(n);
  bool ok = win_decode(n, nsp, n->in[0]->type.dims + 2, n->in[1]->type.dims + 2, false,
                       w, NULL, NULL);
  SM_ASSERT(ok);
}

/* Channel, group and window checks of a convolution of x by w (operand
 * types, or in gradient ops types rebuilt from shape attributes); `sh`
 * shows both in messages. On success *y is the output type. */
bool conv_check(const IrNode *n, int nsp, const IrType *x, const IrType *w,
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


/* ====================================================================== */

const IrOpDef op_conv2d = {
    .name = "conv2d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv2d_infer, .ref = conv_ref, .c = &cgk_conv2d, .grad = conv_grad,
    .bn_fold = IR_BN_FOLD_CONV,
    .doc = "2-D convolution (x[N,C,H,W], w[M,C/group,kH,kW], b[M]; strides, pads, dilations, group)"};
const IrOpDef op_conv1d = {
    .name = "conv1d", .min_in = 2, .max_in = 3, .nout = 1, .attrs = conv_attrs,
    .infer = conv1d_infer, .ref = conv_ref, .c = &cgk_conv1d, .grad = conv_grad,
    .bn_fold = IR_BN_FOLD_CONV,
    .doc = "1-D convolution (x[N,C,L], w[M,C/group,k], b[M]; strides, pads, dilations, group)"};
