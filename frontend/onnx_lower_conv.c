/* ONNX import: Conv, pooling, BatchNormalization and ConvTranspose, with
 * 3-D convolution and pooling lowered onto smelt's 2-D ops. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx_internal.h"
#include "rt.h"

/* auto_pad SAME_*: explicit pads for spatial dims */
static bool auto_pads(Im *im, const Onnx__NodeProto *n, int nsp, const int64_t *in, const int64_t *k,
                      const int64_t *s, const int64_t *dil, int64_t *pads) {
  const char *ap = ox_astr(im, n, "auto_pad", "NOTSET");
  if (!strcmp(ap, "NOTSET")) return true;
  for (int j = 0; j < nsp; j++) pads[j] = pads[nsp + j] = 0;
  if (!strcmp(ap, "VALID")) return true;
  bool upper = !strcmp(ap, "SAME_UPPER");
  if (!upper && strcmp(ap, "SAME_LOWER")) return ox_fail(im, "unknown auto_pad \"%s\"", ap);
  for (int j = 0; j < nsp; j++) {
    int64_t out = (in[j] + s[j] - 1) / s[j];
    int64_t total = (out - 1) * s[j] + (k[j] - 1) * dil[j] + 1 - in[j];
    if (total < 0) total = 0;
    pads[j] = upper ? total / 2 : total - total / 2;
    pads[nsp + j] = total - pads[j];
  }
  return true;
}

/* Window attributes common to Conv and the pools. */
typedef struct Window {
  int nsp;
  int64_t k[3], s[3], dil[3], pads[6];
} Window;

static bool window(Im *im, const Onnx__NodeProto *n, const IrType *x, const int64_t *k, int nsp, Window *w) {
  *w = (Window){.nsp = nsp};
  for (int j = 0; j < nsp; j++) {
    w->k[j] = k[j];
    w->s[j] = w->dil[j] = 1;
  }
  int c;
  if ((c = ox_aints(im, n, "strides", w->s, 3)) >= 0 && c != nsp) return ox_fail(im, "strides needs %d values, got %d", nsp, c);
  if ((c = ox_aints(im, n, "dilations", w->dil, 3)) >= 0 && c != nsp) return ox_fail(im, "dilations needs %d values, got %d", nsp, c);
  if ((c = ox_aints(im, n, "pads", w->pads, 6)) >= 0 && c != 2 * nsp) return ox_fail(im, "pads needs %d values, got %d", 2 * nsp, c);
  if (im->failed) return false;
  for (int j = 0; j < nsp; j++) {
    if (w->s[j] < 1 || w->dil[j] < 1 || w->s[j] > ONNX_MAX_STRIDE || w->dil[j] > ONNX_MAX_STRIDE)
      return ox_fail(im, "strides and dilations must be between 1 and 2^20");
    if (w->k[j] < 0 || w->k[j] > IR_MAX_NUMEL) /* (k - 1) * dil then fits in int64 */
      return ox_fail(im, "kernel size %lld is out of range", (long long)w->k[j]);
  }
  return auto_pads(im, n, nsp, x->dims + 2, w->k, w->s, w->dil, w->pads);
}

static void set_window(Im *im, IrNode *m, const Window *w, bool dil) {
  ir_set_ints(im->g, m, "strides", w->s, w->nsp);
  ir_set_ints(im->g, m, "pads", w->pads, 2 * w->nsp);
  if (dil) ir_set_ints(im->g, m, "dilations", w->dil, w->nsp);
}

/* ---- 3-D Conv and pools ----
 * As 2-D ones over [N*D', C, H, W] (the depth, padded, merged into the
 * batch), combined along depth: for each kernel depth tap k the 2-D
 * results at depths k*dil + o*stride (o over the output depths) are sliced
 * out, then summed (Conv; AveragePool, divided by the depth taps counted,
 * since a box window's count is depth count times plane count) or maxed
 * (MaxPool, the depth padded with -inf). The 2-D work covers every padded
 * depth once per tap: about `stride` times what a 3-D kernel would do. */
typedef struct Depth {
  int64_t D, k, s, dil, pb, pe; /* input depth and the window along it */
  int64_t out, tail;            /* output depth; padding ceil_mode windows need past pe */
} Depth;

#define DEPTH_MAX_TAPS 128 /* one 2-D op per kernel depth tap */

static bool depth_geom(Im *im, Depth *g, bool pool, bool ceil_mode) {
  if (g->k < 1 || g->s < 1 || g->dil < 1 || g->pb < 0 || g->pe < 0 || g->pb > IR_MAX_NUMEL ||
      g->pe > IR_MAX_NUMEL)
    return ox_fail(im, "kernel, strides and dilations must be positive, pads non-negative");
  if (g->k > DEPTH_MAX_TAPS)
    return ox_fail(im, "kernel depth %lld: at most %d is supported (3-D windows run as one 2-D "
                    "window per depth tap)", (long long)g->k, DEPTH_MAX_TAPS);
  if (pool && (g->pb >= g->k || g->pe >= g->k))
    return ox_fail(im, "depth pads must be smaller than the kernel depth %lld", (long long)g->k);
  int64_t padded = g->D + g->pb + g->pe;
  if (g->D < 1 || g->k - 1 > (padded - 1) / g->dil)
    return ox_fail(im, "kernel depth %lld (dilation %lld) exceeds the padded input depth %lld",
                (long long)g->k, (long long)g->dil, (long long)padded);
  int64_t ext = g->dil * (g->k - 1) + 1;
  int64_t span = padded - ext;
  g->out = span / g->s + 1;
  if (pool && ceil_mode) { /* the last window starts inside the input or the front padding */
    int64_t o = (span + g->s - 1) / g->s + 1;
    if ((o - 1) * g->s >= g->D + g->pb) o--;
    g->out = o;
  }
  int64_t need = (g->out - 1) * g->s + ext;
  g->tail = need > padded ? need - padded : 0;
  return true;
}

/* x [N, C, D, H, W], depth padded with v, as [N*D', C, H, W] */
static IrValue *depth_merge(Im *im, IrValue *x, const Depth *g, double v) {
  if (!x) return NULL;
  if (g->pb || g->pe + g->tail) {
    int64_t p[10] = {0, 0, g->pb, 0, 0, 0, 0, g->pe + g->tail, 0, 0};
    IrNode *m = ox_mk(im, "pad", &x, 1);
    ir_set_ints(im->g, m, "pads", p, 10);
    if (v != 0) ir_set_float(im->g, m, "value", v);
    if (!(x = ox_fin(im, m))) return NULL;
  }
  static const int64_t p01[5] = {0, 2, 1, 3, 4};
  IrValue *t = ox_transpose_to(im, x, p01);
  if (!t) return NULL;
  int64_t d4[4] = {t->type.dims[0] * t->type.dims[1], t->type.dims[2], t->type.dims[3], t->type.dims[4]};
  return ox_reshape_to(im, t, 4, d4);
}

/* depth tap k of a 2-D result y [N*D', C', H', W']: [N, out, C', H', W'] */
static IrValue *depth_tap(Im *im, IrValue *y, int64_t N, const Depth *g, int64_t k) {
  if (!y) return NULL;
  int64_t d5[5] = {N, y->type.dims[0] / N, y->type.dims[1], y->type.dims[2], y->type.dims[3]};
  int64_t st = k * g->dil;
  return ox_slice_axis(im, ox_reshape_to(im, y, 5, d5), 1, st, st + (g->out - 1) * g->s + 1, g->s);
}

static IrValue *depth_unmerge(Im *im, IrValue *y) {
  static const int64_t p01[5] = {0, 2, 1, 3, 4};
  return ox_transpose_to(im, y, p01);
}

static Window plane_window(const Window *w) {
  return (Window){.nsp = 2, .k = {w->k[1], w->k[2]}, .s = {w->s[1], w->s[2]},
                  .dil = {w->dil[1], w->dil[2]}, .pads = {w->pads[1], w->pads[2], w->pads[4], w->pads[5]}};
}

/* 3-D convolution of x [N, C, D, H, W] with wt [M, C/group, kD, kH, kW]
 * (and bias b [M] or NULL) over window w */
static IrValue *conv3d_values(Im *im, IrValue *x, IrValue *wt, IrValue *b, const Window *wp,
                              int64_t group) {
  Window w = *wp;
  if (ir_type_numel(&x->type) < 1 || ir_type_numel(&wt->type) < 1) {
    ox_fail(im, "Conv of an empty tensor");
    return NULL;
  }
  Depth g = {.D = x->type.dims[2], .k = w.k[0], .s = w.s[0], .dil = w.dil[0], .pb = w.pads[0],
             .pe = w.pads[3]};
  if (!depth_geom(im, &g, false, false)) return NULL;
  IrValue *xm = depth_merge(im, x, &g, 0);
  Window w2 = plane_window(&w);
  int64_t N = x->type.dims[0], M = wt->type.dims[0];
  int64_t wd[4] = {M, wt->type.dims[1], w.k[1], w.k[2]};
  IrValue *acc = NULL;
  for (int64_t k = 0; k < g.k && xm; k++) {
    IrValue *in2[2] = {xm, ox_reshape_to(im, ox_slice_axis(im, wt, 2, k, k + 1, 1), 4, wd)};
    if (!in2[1]) return NULL;
    IrNode *m = ir_add_node(im->g, ox_opdef("conv2d"), in2, 2, NULL, 1, im->loc);
    set_window(im, m, &w2, true);
    ir_set_int(im->g, m, "group", group);
    IrValue *t = depth_tap(im, ox_fin(im, m), N, &g, k);
    acc = acc ? ox_op2(im, "add", acc, t) : t;
  }
  IrValue *y = depth_unmerge(im, acc);
  if (b && y) {
    int64_t bd[4] = {M, 1, 1, 1};
    y = ox_op2(im, "add", y, ox_reshape_to(im, b, 4, bd));
  }
  return y;
}

static bool lower_conv3d(Im *im, const Onnx__NodeProto *n, Args *a, IrValue *x, IrValue *wt, IrValue *b) {
  Window w;
  if (!window(im, n, &x->type, wt->type.dims + 2, 3, &w)) return false;
  IrValue *y = conv3d_values(im, x, wt, b, &w, ox_aint(n, "group", 1));
  ox_set_out(a, 0, y);
  return y != NULL;
}

static bool lower_pool3d(Im *im, const Onnx__NodeProto *n, Args *a, IrValue *x, const int64_t *k,
                         bool max) {
  if (ir_type_numel(&x->type) < 1) return ox_fail(im, "%s of an empty tensor", n->op_type);
  Window w;
  if (!window(im, n, &x->type, k, 3, &w)) return false;
  bool ceil_mode = im->opset >= 10 && ox_aint(n, "ceil_mode", 0) != 0;
  bool incl = ox_aint(n, "count_include_pad", 0) != 0;
  Depth g = {.D = x->type.dims[2], .k = w.k[0], .s = w.s[0], .dil = w.dil[0], .pb = w.pads[0],
             .pe = w.pads[3]};
  if (!depth_geom(im, &g, true, ceil_mode)) return false;
  IrValue *xm = depth_merge(im, x, &g, max ? -INFINITY : 0);
  if (!xm) return false;
  Window w2 = plane_window(&w);
  IrNode *m = ox_mk(im, max ? "maxpool2d" : "avgpool2d", &xm, 1);
  ir_set_ints(im->g, m, "kernel", w2.k, 2);
  set_window(im, m, &w2, max);
  ir_set_int(im->g, m, "ceil_mode", ceil_mode);
  if (!max) ir_set_int(im->g, m, "count_include_pad", incl);
  IrValue *p = ox_fin(im, m), *acc = NULL;
  for (int64_t t = 0; t < g.k && p; t++) {
    IrValue *v = depth_tap(im, p, x->type.dims[0], &g, t);
    acc = acc ? ox_op2(im, max ? "max" : "add", acc, v) : v;
  }
  if (!max && acc) { /* divide by the depth taps inside the input (or its padding) */
    int64_t cd[5] = {1, g.out, 1, 1, 1};
    IrTensor *c = ox_new_const(im, ir_type_make(x->type.dtype, 5, cd));
    for (int64_t o = 0; o < g.out; o++) {
      int64_t cnt = 0;
      for (int64_t t = 0; t < g.k; t++) {
        int64_t pos = o * g.s + t * g.dil - g.pb;
        cnt += incl ? pos >= -g.pb && pos < g.D + g.pe : pos >= 0 && pos < g.D;
      }
      c->d[o] = 1.0 / (double)(cnt ? cnt : 1);
    }
    acc = ox_op2(im, "mul", acc, ox_const_value(im, c, "depth_count"));
  }
  IrValue *y = depth_unmerge(im, acc);
  ox_set_out(a, 0, y);
  return y != NULL;
}

bool ox_lower_conv(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0), *wt = ox_in_val(im, a, 1), *b = ox_has_in(a, 2) ? ox_in_val(im, a, 2) : NULL;
  if (!x || !wt || (ox_has_in(a, 2) && !b)) return false;
  int nsp = wt->type.rank - 2;
  if (nsp < 1 || nsp > 3) return ox_fail(im, "Conv with %d spatial dims is not supported (1-D, 2-D and 3-D are)", nsp);
  if (x->type.rank != nsp + 2) return ox_fail(im, "Conv input has rank %d, weight rank %d", x->type.rank, wt->type.rank);
  if (nsp == 3) return lower_conv3d(im, n, a, x, wt, b);
  Window w;
  if (!window(im, n, &x->type, wt->type.dims + 2, nsp, &w)) return false;
  IrValue *in[3] = {x, wt, b};
  IrNode *m = ir_add_node(im->g, ox_opdef(nsp == 2 ? "conv2d" : "conv1d"), in, b ? 3 : 2, NULL, 1, im->loc);
  set_window(im, m, &w, true);
  ir_set_int(im->g, m, "group", ox_aint(n, "group", 1));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

/* 1-D pools run as 2-D over [N,C,1,L] */
bool ox_lower_pool(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool max = !strcmp(n->op_type, "MaxPool");
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  if (ox_has_out(a, 1)) return ox_fail(im, "MaxPool's Indices output is not supported");
  int64_t k[3];
  int nsp = x->type.rank - 2;
  if (nsp < 1 || nsp > 3) return ox_fail(im, "%s over %d spatial dims is not supported (1-D, 2-D and 3-D are)", n->op_type, nsp);
  int nk = ox_aints(im, n, "kernel_shape", k, 3);
  if (nk != nsp) return im->failed ? false : ox_fail(im, "kernel_shape needs %d values", nsp);
  Window w;
  if (!window(im, n, &x->type, k, nsp, &w)) return false;
  if (!max)
    for (int j = 0; j < nsp; j++)
      if (w.dil[j] != 1) return ox_fail(im, "AveragePool with dilations is not supported");
  if (nsp == 3) return lower_pool3d(im, n, a, x, k, max);
  IrValue *xx = x;
  Window w2 = w;
  if (nsp == 1) {
    int64_t dims[4] = {x->type.dims[0], x->type.dims[1], 1, x->type.dims[2]};
    xx = ox_reshape_to(im, x, 4, dims);
    w2 = (Window){.nsp = 2, .k = {1, w.k[0]}, .s = {1, w.s[0]}, .dil = {1, w.dil[0]},
                  .pads = {0, w.pads[0], 0, w.pads[1]}};
  }
  if (!xx) return false;
  IrNode *m = ox_mk(im, max ? "maxpool2d" : "avgpool2d", &xx, 1);
  ir_set_ints(im->g, m, "kernel", w2.k, 2);
  set_window(im, m, &w2, max);
  if (im->opset >= 10) ir_set_int(im->g, m, "ceil_mode", ox_aint(n, "ceil_mode", 0));
  if (!max) ir_set_int(im->g, m, "count_include_pad", ox_aint(n, "count_include_pad", 0));
  IrValue *y = ox_fin(im, m);
  if (y && nsp == 1) {
    int64_t dims[3] = {y->type.dims[0], y->type.dims[1], y->type.dims[3]};
    y = ox_reshape_to(im, y, 3, dims);
  }
  ox_set_out(a, 0, y);
  return true;
}

bool ox_lower_global_pool(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  if (!strcmp(n->op_type, "GlobalAveragePool")) {
    ox_set_out(a, 0, ox_op1(im, "global_avgpool", x));
    return true;
  }
  if (x->type.rank < 3) return ox_fail(im, "GlobalMaxPool needs an input [N, C, D1, ...], got rank %d", x->type.rank);
  int64_t axes[IR_MAX_RANK];
  for (int i = 2; i < x->type.rank; i++) axes[i - 2] = i;
  IrNode *m = ox_mk(im, "reduce_max", &x, 1);
  ir_set_ints(im->g, m, "axes", axes, x->type.rank - 2);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

bool ox_lower_batchnorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  if (im->opset < 9 && ox_aint(n, "spatial", 1) != 1) return ox_fail(im, "BatchNormalization with spatial=0 is not supported");
  if (ox_aint(n, "training_mode", 0)) return ox_fail(im, "BatchNormalization with training_mode=1 is not supported at import");
  for (int k = 1; k < a->nout; k++)
    if (ox_has_out(a, k)) return ox_fail(im, "BatchNormalization's training outputs are not supported");
  IrValue *in[5];
  for (int i = 0; i < 5; i++)
    if (!(in[i] = ox_in_val(im, a, i))) return im->failed ? false : ox_fail(im, "BatchNormalization needs 5 inputs");
  IrNode *m = ir_add_node(im->g, ox_opdef("batchnorm"), in, 5, NULL, 1, im->loc);
  ir_set_float(im->g, m, "epsilon", ox_afloat(n, "epsilon", 1e-5));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

/* 3-D ConvTranspose as lower_conv_transpose does 2-D: zeros inserted
 * between the input's elements (stride), pads/crops, then a stride-1
 * convolution (conv3d_values) with the regrouped, flipped weight. */
static bool convt3d(Im *im, Args *a, IrValue *x, IrValue *w, IrValue *b, int64_t g, const int64_t *k,
                    const int64_t *s, const int64_t *dil, const int64_t *pads, const int64_t *opad) {
  int64_t N = x->type.dims[0], Cin = x->type.dims[1], Cog = w->type.dims[1], Cout = Cog * g;
  const int64_t *in = x->type.dims + 2;
  for (int j = 0; j < 3; j++)
    if (in[j] < 1 || in[j] > IR_MAX_NUMEL / s[j] || k[j] > IR_MAX_NUMEL / dil[j] ||
        pads[j] < -IR_MAX_NUMEL || pads[j] > IR_MAX_NUMEL || pads[3 + j] < -IR_MAX_NUMEL ||
        pads[3 + j] > IR_MAX_NUMEL || opad[j] < 0 || opad[j] > IR_MAX_NUMEL)
      return ox_fail(im, "input, strides, dilations, pads or output_padding out of range");
  /* [N, Cin, D, 1, H, 1, W, 1], padded to [.., D, S0, H, S1, W, S2]: the
   * upsampled input plus S-1 trailing zeros per dim */
  int64_t x8[8] = {N, Cin, in[0], 1, in[1], 1, in[2], 1};
  IrValue *u = ox_reshape_to(im, x, 8, x8);
  if (s[0] > 1 || s[1] > 1 || s[2] > 1) {
    int64_t p8[16] = {0};
    for (int j = 0; j < 3; j++) p8[8 + 3 + 2 * j] = s[j] - 1;
    if (!u) return false;
    IrNode *pm = ox_mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p8, 16);
    u = ox_fin(im, pm);
  }
  int64_t x5[5] = {N, Cin, in[0] * s[0], in[1] * s[1], in[2] * s[2]};
  u = ox_reshape_to(im, u, 5, x5);
  int64_t p5[10] = {0};
  for (int j = 0; j < 3 && u; j++) {
    int64_t beg = dil[j] * (k[j] - 1) - pads[j];
    int64_t end = dil[j] * (k[j] - 1) - pads[3 + j] + opad[j] - (s[j] - 1);
    int64_t len = u->type.dims[2 + j];
    int64_t st = beg < 0 ? -beg : 0, en = end < 0 ? len + end : len;
    if (en <= st) return ox_fail(im, "pads leave an empty output");
    if (st || en != len) u = ox_slice_axis(im, u, 2 + j, st, en, 1);
    p5[2 + j] = beg > 0 ? beg : 0;
    p5[7 + j] = end > 0 ? end : 0;
  }
  if (!u) return false;
  if (p5[2] || p5[3] || p5[4] || p5[7] || p5[8] || p5[9]) {
    IrNode *pm = ox_mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p5, 10);
    u = ox_fin(im, pm);
  }
  /* weight [Cin, Cout/g, k..] -> [Cout, Cin/g, kD, kH, kW], flipped */
  int64_t w6[6] = {g, Cin / g, Cog, k[0], k[1], k[2]}, pw[6] = {0, 2, 1, 3, 4, 5};
  int64_t w5[5] = {Cout, Cin / g, k[0], k[1], k[2]};
  IrValue *wt = ox_reshape_to(im, ox_transpose_to(im, ox_reshape_to(im, w, 6, w6), pw), 5, w5);
  for (int j = 0; j < 3; j++)
    if (k[j] > 1) wt = ox_flip_axis(im, wt, 2 + j);
  if (!wt || !u) return false;
  Window cw = {.nsp = 3, .k = {k[0], k[1], k[2]}, .s = {1, 1, 1}, .dil = {dil[0], dil[1], dil[2]}};
  IrValue *y = conv3d_values(im, u, wt, b, &cw, g);
  ox_set_out(a, 0, y);
  return y != NULL;
}

/* ConvTranspose as a convolution: the input with strides-1 zeros inserted
 * between elements (reshape, pad, reshape), padded by dilation*(k-1) - pads
 * (cropped where negative), convolved with the spatially flipped weight
 * whose in/out channel dims are swapped per group. 1-D runs as 2-D. */
bool ox_lower_conv_transpose(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0), *w = ox_in_val(im, a, 1), *b = ox_has_in(a, 2) ? ox_in_val(im, a, 2) : NULL;
  if (!x || !w || (ox_has_in(a, 2) && !b)) return false;
  int nsp = w->type.rank - 2;
  if (nsp < 1 || nsp > 3) return ox_fail(im, "ConvTranspose with %d spatial dims is not supported (1-D, 2-D and 3-D are)", nsp);
  if (x->type.rank != nsp + 2) return ox_fail(im, "input rank %d does not match weight rank %d", x->type.rank, w->type.rank);
  int64_t g = ox_aint(n, "group", 1), Cin = x->type.dims[1];
  if (g < 1 || g > Cin || Cin % g || w->type.dims[0] != Cin)
    return ox_fail(im, "weight %lld input channels for %lld channels and group %lld", (long long)w->type.dims[0],
                (long long)Cin, (long long)g);
  int64_t Cog = w->type.dims[1], Cout = Cog * g;
  int64_t k[3], s[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pads[6] = {0}, opad[3] = {0, 0, 0}, oshape[3], in[3];
  for (int j = 0; j < nsp; j++) k[j] = w->type.dims[2 + j], in[j] = x->type.dims[2 + j];
  int c;
  if ((c = ox_aints(im, n, "kernel_shape", oshape, 3)) >= 0)
    for (int j = 0; j < nsp && c == nsp; j++)
      if (oshape[j] != k[j]) return ox_fail(im, "kernel_shape does not match the weight");
  if ((c = ox_aints(im, n, "strides", s, 3)) >= 0 && c != nsp) return ox_fail(im, "strides needs %d values", nsp);
  if ((c = ox_aints(im, n, "dilations", dil, 3)) >= 0 && c != nsp) return ox_fail(im, "dilations needs %d values", nsp);
  if ((c = ox_aints(im, n, "pads", pads, 6)) >= 0 && c != 2 * nsp) return ox_fail(im, "pads needs %d values", 2 * nsp);
  if ((c = ox_aints(im, n, "output_padding", opad, 3)) >= 0 && c != nsp) return ox_fail(im, "output_padding needs %d values", nsp);
  if (im->failed) return false;
  for (int j = 0; j < nsp; j++)
    if (s[j] < 1 || dil[j] < 1 || k[j] < 1) return ox_fail(im, "strides, dilations and kernel must be positive");
  int nos = ox_aints(im, n, "output_shape", oshape, 3);
  if (nos == -2) return false;
  if (nos >= 0 && nos < nsp) return ox_fail(im, "output_shape needs %d values, got %d", nsp, nos);
  /* bounds under which the output arithmetic below fits in int64 */
  for (int j = 0; j < nsp; j++) {
    if (s[j] > ONNX_MAX_STRIDE || dil[j] > ONNX_MAX_STRIDE)
      return ox_fail(im, "strides and dilations must be at most 2^20");
    if (opad[j] < 0 || opad[j] > IR_MAX_NUMEL || pads[j] < -IR_MAX_NUMEL || pads[j] > IR_MAX_NUMEL ||
        pads[nsp + j] < -IR_MAX_NUMEL || pads[nsp + j] > IR_MAX_NUMEL ||
        (nos >= 0 && (oshape[nos - nsp + j] < 0 || oshape[nos - nsp + j] > IR_MAX_NUMEL)))
      return ox_fail(im, "pads, output_padding or output_shape out of range");
  }
  const char *ap = ox_astr(im, n, "auto_pad", "NOTSET");
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
  if (nos >= 0 || same) {
    for (int j = 0; j < nsp; j++) {
      int64_t want = nos >= 0 ? oshape[nos - nsp + j] : in[j] * s[j];
      int64_t total = s[j] * (in[j] - 1) + opad[j] + ((k[j] - 1) * dil[j] + 1) - want;
      if (total < 0) { /* larger than the full output: zeros at the end (as onnxruntime) */
        pads[j] = 0;
        pads[nsp + j] = total;
        continue;
      }
      bool upper = !strcmp(ap, "SAME_UPPER"); /* NOTSET distributes as SAME_LOWER */
      pads[j] = upper ? total / 2 : total - total / 2;
      pads[nsp + j] = total - pads[j];
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int j = 0; j < 2 * nsp; j++) pads[j] = 0;
  } else if (strcmp(ap, "NOTSET")) {
    return ox_fail(im, "unknown auto_pad \"%s\"", ap);
  }
  if (nsp == 3) return convt3d(im, a, x, w, b, g, k, s, dil, pads, opad);
  /* as 2-D */
  int64_t N = x->type.dims[0];
  int64_t H = nsp == 2 ? in[0] : 1, Wd = nsp == 2 ? in[1] : in[0];
  int64_t K0 = nsp == 2 ? k[0] : 1, K1 = nsp == 2 ? k[1] : k[0];
  int64_t S0 = nsp == 2 ? s[0] : 1, S1 = nsp == 2 ? s[1] : s[0];
  int64_t D0 = nsp == 2 ? dil[0] : 1, D1 = nsp == 2 ? dil[1] : dil[0];
  int64_t pb0 = nsp == 2 ? pads[0] : 0, pb1 = nsp == 2 ? pads[1] : pads[0];
  int64_t pe0 = nsp == 2 ? pads[2] : 0, pe1 = nsp == 2 ? pads[3] : pads[1];
  int64_t op0 = nsp == 2 ? opad[0] : 0, op1_ = nsp == 2 ? opad[1] : opad[0];
  int64_t x6[6] = {N, Cin, H, 1, Wd, 1};
  IrValue *u = ox_reshape_to(im, x, 6, x6);
  if (S0 > 1 || S1 > 1) {
    int64_t p6[12] = {0};
    p6[6 + 3] = S0 - 1;
    p6[6 + 5] = S1 - 1;
    IrNode *pm = ox_mk(im, "pad", &u, 1);
    if (!u) return false;
    ir_set_ints(im->g, pm, "pads", p6, 12);
    u = ox_fin(im, pm);
  }
  /* [N, Cin, H*S0, W*S1]: the upsampled input plus S-1 trailing zeros */
  int64_t x4[4] = {N, Cin, H * S0, Wd * S1};
  u = ox_reshape_to(im, u, 4, x4);
  int64_t beg[2] = {D0 * (K0 - 1) - pb0, D1 * (K1 - 1) - pb1};
  int64_t end[2] = {D0 * (K0 - 1) - pe0 + op0 - (S0 - 1), D1 * (K1 - 1) - pe1 + op1_ - (S1 - 1)};
  for (int j = 0; j < 2 && u; j++) { /* crop negative pads */
    int64_t len = u->type.dims[2 + j];
    int64_t st = beg[j] < 0 ? -beg[j] : 0, en = end[j] < 0 ? len + end[j] : len;
    if (en <= st) return ox_fail(im, "pads leave an empty output");
    if (st || en != len) u = ox_slice_axis(im, u, 2 + j, st, en, 1);
  }
  if (!u) return false;
  int64_t p4[8] = {0, 0, beg[0] > 0 ? beg[0] : 0, beg[1] > 0 ? beg[1] : 0,
                   0, 0, end[0] > 0 ? end[0] : 0, end[1] > 0 ? end[1] : 0};
  if (p4[2] || p4[3] || p4[6] || p4[7]) {
    IrNode *pm = ox_mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p4, 8);
    u = ox_fin(im, pm);
  }
  /* weight [Cin, Cout/g, k..] -> [Cout, Cin/g, kH, kW], flipped */
  int64_t w5[5] = {g, Cin / g, Cog, K0, K1}, pw[5] = {0, 2, 1, 3, 4}, w4[4] = {Cout, Cin / g, K0, K1};
  IrValue *wt = ox_reshape_to(im, ox_transpose_to(im, ox_reshape_to(im, w, 5, w5), pw), 4, w4);
  if (K0 > 1) wt = ox_flip_axis(im, wt, 2);
  if (K1 > 1) wt = ox_flip_axis(im, wt, 3);
  if (!wt || !u) return false;
  IrValue *cin[3] = {u, wt, b};
  IrNode *m = ir_add_node(im->g, ox_opdef("conv2d"), cin, b ? 3 : 2, NULL, 1, im->loc);
  int64_t one[2] = {1, 1}, zero[4] = {0}, dd[2] = {D0, D1};
  ir_set_ints(im->g, m, "strides", one, 2);
  ir_set_ints(im->g, m, "pads", zero, 4);
  ir_set_ints(im->g, m, "dilations", dd, 2);
  ir_set_int(im->g, m, "group", g);
  IrValue *y = ox_fin(im, m);
  if (y && nsp == 1) {
    int64_t y3[3] = {y->type.dims[0], y->type.dims[1], y->type.dims[3]};
    y = ox_reshape_to(im, y, 3, y3);
  }
  ox_set_out(a, 0, y);
  return true;
}
