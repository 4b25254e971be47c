/* conv2d, conv1d, maxpool2d, avgpool2d, global_avgpool, batchnorm:
 * generated code against the reference interpreter on odd shapes, size-1
 * dims, strides, asymmetric pads, dilations, groups, ceil_mode and both
 * count_include_pad modes; the reference itself against hand-computed
 * values; shape-rule diagnostics with line:col. Result annotations
 * (`y: f32[...] = ...`) make the parser check the inferred shapes too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/opcheck.h"

#include "frontend/frontend.h"

/* Convolutions are f32 dot products of length Cg*kH*kW (<= 72 here) against
 * a double reference: an output that cancels to near zero can miss rtol
 * 1e-5 by rounding alone. With inputs in [-1,1) and he_normal weights the
 * absolute rounding error stays under 2e-5; a wrong tap or index is O(0.1). */
static OpcheckOpts conv_opts(void) {
  OpcheckOpts o = opcheck_range(-1, 1);
  o.atol = 2e-5;
  return o;
}

/* ---- reference kernels against hand-computed values ---- */

static void iota(double *x, int n) {
  for (int i = 0; i < n; i++) x[i] = i + 1;
}

/* Runs the interpreter on `text` (one input, one output) with input values
 * x (NULL: 1, 2, 3, ... in order) and checks every output element against
 * want. */
static void ref_values(const char *text, const double *x, const double *want, int64_t n) {
  IrGraph *g = opcheck_parse(text);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(g->ninputs, 1);
  assert_int_equal(g->noutputs, 1);
  IrTensor in = ir_tensor_new(g->inputs[0]->type), out = {0};
  if (x) memcpy(in.d, x, sizeof(double) * (size_t)in.numel);
  else iota(in.d, (int)in.numel);
  assert_int_equal(ir_interpret(g, &in, NULL, &out, &d), SM_OK);
  assert_int_equal(out.numel, n);
  for (int64_t i = 0; i < n; i++)
    if (fabs(out.d[i] - want[i]) > 1e-12) {
      print_error("element %lld: got %.17g, want %.17g\n", (long long)i, out.d[i], want[i]);
      fail();
    }
  ir_tensor_free(&in);
  ir_tensor_free(&out);
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* x = 1..9 in 3x3, all-ones 2x2 kernel, pads [top=1,left=0,bottom=0,right=1]:
 * a zero row above and a zero column to the right */
static void conv2d_ref_asymmetric_pads(void **state) {
  (void)state;
  double want[9] = {3, 5, 3, 12, 16, 9, 24, 28, 15};
  ref_values("input x: f32[1,1,3,3]\n"
             "param w: f32[1,1,2,2] = ones\n"
             "y: f32[1,1,3,3] = conv2d(x, w, pads=[1,0,0,1])\n"
             "output y\n",
             NULL, want, 9);
  /* groups 2: output channel m sees only input channel m; bias 0.5;
   * stride 2 and dilation 2 on 1..25 in 5x5 with a ones 2x2 kernel:
   * taps (r,c),(r,c+2),(r+2,c),(r+2,c+2) for r,c in {0,2} */
  double x2[50], want2[8];
  iota(x2, 50);
  for (int m = 0; m < 2; m++)
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 2; c++) {
        double s = 0.5;
        for (int dr = 0; dr < 2; dr++)
          for (int dc = 0; dc < 2; dc++) s += x2[m * 25 + (2 * r + 2 * dr) * 5 + 2 * c + 2 * dc];
        want2[m * 4 + r * 2 + c] = s;
      }
  assert_true(want2[0] == 1 + 3 + 11 + 13 + 0.5); /* the loop above is what it says */
  ref_values("input x: f32[1,2,5,5]\n"
             "param w: f32[2,1,2,2] = ones\n"
             "param b: f32[2] = constant(0.5)\n"
             "y: f32[1,2,2,2] = conv2d(x, w, b, strides=[2,2], dilations=[2,2], group=2)\n"
             "output y\n",
             x2, want2, 8);
}

static void conv1d_ref_values(void **state) {
  (void)state;
  /* 1..5, kernel [1,1,1] ones, pads [2,0] (begin only), stride 2:
   * windows [-2,0] [0,2] [2,4] */
  double want[3] = {1, 1 + 2 + 3, 3 + 4 + 5};
  ref_values("input x: f32[1,1,5]\n"
             "param w: f32[1,1,3] = ones\n"
             "y: f32[1,1,3] = conv1d(x, w, strides=2, pads=[2,0])\n"
             "output y\n",
             NULL, want, 3);
}

/* 1..25 in 5x5, 2x2 windows at stride 2 with ceil_mode: windows of the last
 * row/column hang past the input and keep only their first row/column */
static void maxpool_ref_ceil_mode(void **state) {
  (void)state;
  double want[9] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
  ref_values("input x: f32[1,1,5,5]\n"
             "y: f32[1,1,3,3] = maxpool2d(x, kernel=[2,2], ceil_mode=1)\n"
             "output y\n",
             NULL, want, 9);
  /* negative input: padding is -inf, not 0 */
  double xn[4] = {-4, -3, -2, -1}, wantn[4] = {-4, -3, -2, -1};
  ref_values("input x: f32[1,1,2,2]\n"
             "y: f32[1,1,2,2] = maxpool2d(x, kernel=[2,2], strides=[1,1], pads=[1,1,0,0])\n"
             "output y\n",
             xn, wantn, 4);
}

/* 1..16 in 4x4, 3x3 kernel, stride 2, pads 1, ceil_mode: window rows (and
 * columns) [-1,2) [1,4) [3,6), the last clipped to the padded input [-1,5).
 * Real taps per dim 2,3,1; taps inside the padded input 3,3,2. */
static void avgpool_ref_count_include_pad(void **state) {
  (void)state;
  double x[16];
  iota(x, 16);
  static const int lo[3] = {0, 1, 3}, hi[3] = {2, 4, 4}, padn[3] = {3, 3, 2};
  double sum[9], excl[9], incl[9];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double s = 0;
      for (int r = lo[i]; r < hi[i]; r++)
        for (int c = lo[j]; c < hi[j]; c++) s += x[r * 4 + c];
      sum[i * 3 + j] = s;
      excl[i * 3 + j] = s / ((hi[i] - lo[i]) * (hi[j] - lo[j]));
      incl[i * 3 + j] = s / (padn[i] * padn[j]);
    }
  assert_true(sum[0] == 1 + 2 + 5 + 6 && sum[8] == 16);
  ref_values("input x: f32[1,1,4,4]\n"
             "y: f32[1,1,3,3] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1], "
             "ceil_mode=1)\n"
             "output y\n",
             x, excl, 9);
  ref_values("input x: f32[1,1,4,4]\n"
             "y: f32[1,1,3,3] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1], "
             "ceil_mode=1, count_include_pad=1)\n"
             "output y\n",
             x, incl, 9);
}

static void global_avgpool_and_batchnorm_ref(void **state) {
  (void)state;
  double want[2] = {2, 5};
  ref_values("input x: f32[1,2,3]\n"
             "y: f32[1,2,1] = global_avgpool(x)\n"
             "output y\n",
             NULL, want, 2);
  /* 2*(x-1)/sqrt(3+1) + 0.5 = x - 0.5 */
  double want_bn[6] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
  ref_values("input x: f32[3,2]\n"
             "param s: f32[2] = constant(2)\n"
             "param b: f32[2] = constant(0.5)\n"
             "param mu: f32[2] = ones\n"
             "param v: f32[2] = constant(3)\n"
             "y = batchnorm(x, s, b, mu, v, epsilon=1)\n"
             "output y\n",
             NULL, want_bn, 6);
}

/* ---- generated code against the reference ---- */

static void conv2d_strides_pads_bias(void **state) {
  (void)state;
  OpcheckOpts o = conv_opts();
  opcheck_opts("input x: f32[2,3,9,7]\n"
               "param w: f32[4,3,3,3] = he_normal\n"
               "param b: f32[4] = uniform(-0.5, 0.5)\n"
               "y: f32[2,4,5,3] = conv2d(x, w, b, strides=[2,2], pads=[1,0,2,1])\n"
               /* same shapes without bias, symmetric [ph,pw] pads */
               "input x2: f32[2,3,9,7]\n"
               "param w2: f32[4,3,3,3] = he_normal\n"
               "y2: f32[2,4,9,7] = conv2d(x2, w2, pads=[1,1])\n"
               /* non-square kernel, stride only in height, dilation only in width */
               "input x3: f32[2,2,8,15]\n"
               "param w3: f32[3,2,2,4] = he_normal\n"
               "y3: f32[2,3,3,10] = conv2d(x3, w3, strides=[3,1], pads=[0,2], dilations=[1,3])\n"
               /* kernel exactly covers the padded input: one output */
               "input x4: f32[1,2,3,3]\n"
               "param w4: f32[1,2,5,5] = he_normal\n"
               "y4: f32[1,1,1,1] = conv2d(x4, w4, pads=1)\n"
               /* stride larger than the kernel skips input */
               "input x5: f32[1,1,10,11]\n"
               "param w5: f32[2,1,2,2] = he_normal\n"
               "param b5: f32[2] = uniform(-1, 1)\n"
               "y5: f32[1,2,3,4] = conv2d(x5, w5, b5, strides=[4,3])\n"
               "output y, y2, y3, y4, y5\n",
               &o);
}

static void conv2d_dilation_groups(void **state) {
  (void)state;
  OpcheckOpts o = conv_opts();
  opcheck_opts("input x: f32[1,4,11,10]\n"
               "param w: f32[6,2,3,3] = he_normal\n"
               "y: f32[1,6,9,8] = conv2d(x, w, dilations=[2,2], group=2, pads=1)\n"
               /* depthwise with bias */
               "input x2: f32[3,5,6,6]\n"
               "param w2: f32[5,1,3,3] = he_normal\n"
               "param b2: f32[5] = uniform(-0.5, 0.5)\n"
               "y2: f32[3,5,6,6] = conv2d(x2, w2, b2, group=5, pads=[1,1])\n"
               /* depthwise multiplier 2, stride 2, asymmetric pads */
               "input x3: f32[2,3,7,9]\n"
               "param w3: f32[6,1,3,3] = he_normal\n"
               "y3: f32[2,6,3,4] = conv2d(x3, w3, group=3, strides=[2,2], pads=[1,1,0,0])\n"
               /* groups 3 of 2 channels, dilation + stride + pads together */
               "input x4: f32[1,6,13,12]\n"
               "param w4: f32[9,2,3,2] = he_normal\n"
               "param b4: f32[9] = uniform(-1, 1)\n"
               "y4: f32[1,9,5,6] = conv2d(x4, w4, b4, group=3, strides=[2,2], "
               "dilations=[3,2], pads=[2,0,0,1])\n"
               "output y, y2, y3, y4\n",
               &o);
}

static void conv2d_1x1_and_size_one(void **state) {
  (void)state;
  OpcheckOpts o = conv_opts();
  opcheck_opts("input x: f32[1,7,5,13]\n"
               "param w: f32[3,7,1,1] = he_normal\n"
               "y: f32[1,3,5,13] = conv2d(x, w)\n"
               "input x2: f32[1,1,1,1]\n"
               "param w2: f32[1,1,1,1] = uniform(-1, 1)\n"
               "param b2: f32[1] = uniform(-1, 1)\n"
               "y2: f32[1,1,1,1] = conv2d(x2, w2, b2)\n"
               /* height 1 everywhere: the emitter drops the row loops */
               "input x3: f32[2,3,1,10]\n"
               "param w3: f32[2,3,1,3] = he_normal\n"
               "y3: f32[2,2,1,8] = conv2d(x3, w3)\n"
               /* height 1 input padded to 3 rows */
               "input x4: f32[2,3,1,10]\n"
               "param w4: f32[2,3,3,3] = he_normal\n"
               "y4: f32[2,2,1,10] = conv2d(x4, w4, pads=1)\n"
               /* 1x1 with stride 2 and padding: border outputs are bias only */
               "input x5: f32[2,4,5,6]\n"
               "param w5: f32[3,4,1,1] = he_normal\n"
               "param b5: f32[3] = uniform(-1, 1)\n"
               "y5: f32[2,3,4,4] = conv2d(x5, w5, b5, strides=2, pads=1)\n"
               "output y, y2, y3, y4, y5\n",
               &o);
}

/* work >= 32768: the emitted loops carry an OpenMP pragma */
static void conv2d_large_parallel(void **state) {
  (void)state;
  OpcheckOpts o = conv_opts();
  opcheck_opts("input x: f32[2,8,16,17]\n"
               "param w: f32[8,8,3,3] = he_normal\n"
               "param b: f32[8] = uniform(-0.5, 0.5)\n"
               "y: f32[2,8,16,17] = conv2d(x, w, b, pads=1)\n"
               "input x2: f32[2,16,20,20]\n"
               "param w2: f32[16,1,3,3] = he_normal\n"
               "y2: f32[2,16,10,10] = conv2d(x2, w2, group=16, strides=2, pads=[1,1,0,0])\n"
               "output y, y2\n",
               &o);
}

static void conv1d_shapes(void **state) {
  (void)state;
  OpcheckOpts o = conv_opts();
  opcheck_opts("input x: f32[2,3,17]\n"
               "param w: f32[4,3,3] = he_normal\n"
               "param b: f32[4] = uniform(-0.5, 0.5)\n"
               "y: f32[2,4,9] = conv1d(x, w, b, strides=2, pads=[1,2])\n"
               "input x2: f32[1,6,20]\n"
               "param w2: f32[9,2,4] = he_normal\n"
               "y2: f32[1,9,11] = conv1d(x2, w2, dilations=3, group=3)\n"
               "input x3: f32[3,4,5]\n"
               "param w3: f32[4,1,5] = he_normal\n"
               "y3: f32[3,4,5] = conv1d(x3, w3, group=4, pads=2)\n"
               "input x4: f32[1,5,1]\n"
               "param w4: f32[2,5,1] = he_normal\n"
               "param b4: f32[2] = uniform(-1, 1)\n"
               "y4: f32[1,2,1] = conv1d(x4, w4, b4)\n"
               "input x5: f32[4,32,64]\n"
               "param w5: f32[16,32,3] = he_normal\n"
               "y5: f32[4,16,32] = conv1d(x5, w5, strides=[2], pads=[1])\n"
               "output y, y2, y3, y4, y5\n",
               &o);
}

static void maxpool_shapes(void **state) {
  (void)state;
  opcheck("input x: f32[2,3,9,9]\n"
          "y: f32[2,3,4,4] = maxpool2d(x, kernel=[3,3], strides=[2,2])\n"
          /* ceil_mode adds a partial last window */
          "input x2: f32[1,2,10,7]\n"
          "y2: f32[1,2,5,3] = maxpool2d(x2, kernel=[3,3], strides=[2,2], ceil_mode=1)\n"
          /* ceil_mode whose extra window would start in the right padding:
           * dropped (3 without the rule) */
          "input x3: f32[1,1,5,5]\n"
          "y3: f32[1,1,2,2] = maxpool2d(x3, kernel=[3,3], strides=[3,3], pads=[1,1], "
          "ceil_mode=1)\n"
          /* asymmetric pads, dilation in height, stride in width */
          "input x4: f32[2,2,8,11]\n"
          "y4: f32[2,2,7,6] = maxpool2d(x4, kernel=[2,3], strides=[1,2], pads=[1,0,0,2], "
          "dilations=[2,1])\n"
          /* default strides = kernel; size-1 dims */
          "input x5: f32[1,1,1,1]\n"
          "y5: f32[1,1,1,1] = maxpool2d(x5, kernel=[1,1])\n"
          "input x6: f32[3,1,7,1]\n"
          "y6: f32[3,1,3,1] = maxpool2d(x6, kernel=[2,1])\n"
          /* work >= 32768: parallel */
          "input x7: f32[4,16,32,33]\n"
          "y7: f32[4,16,16,17] = maxpool2d(x7, kernel=2, strides=2, ceil_mode=1)\n"
          /* dilation 2 with ceil_mode and pads */
          "input x8: f32[1,3,9,8]\n"
          "y8: f32[1,3,4,4] = maxpool2d(x8, kernel=[3,2], strides=[2,2], pads=[1,1], "
          "dilations=[2,3], ceil_mode=1)\n"
          "output y, y2, y3, y4, y5, y6, y7, y8\n");
}

static void avgpool_shapes(void **state) {
  (void)state;
  opcheck("input x: f32[2,3,7,9]\n"
          "y: f32[2,3,4,5] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1])\n"
          "input x2: f32[2,3,7,9]\n"
          "y2: f32[2,3,4,5] = avgpool2d(x2, kernel=[3,3], strides=[2,2], pads=[1,1], "
          "count_include_pad=1)\n"
          /* ceil_mode windows hanging past the padded input, both counts */
          "input x3: f32[1,2,6,8]\n"
          "y3: f32[1,2,4,5] = avgpool2d(x3, kernel=[3,3], strides=[2,2], pads=[1,1], "
          "ceil_mode=1)\n"
          "input x4: f32[1,2,6,8]\n"
          "y4: f32[1,2,4,5] = avgpool2d(x4, kernel=[3,3], strides=[2,2], pads=[1,1], "
          "ceil_mode=1, count_include_pad=1)\n"
          /* ceil_mode without pads, clipped only in width */
          "input x5: f32[2,1,5,8]\n"
          "y5: f32[2,1,2,3] = avgpool2d(x5, kernel=[2,3], strides=[3,3], ceil_mode=1, "
          "count_include_pad=1)\n"
          /* asymmetric pads */
          "input x6: f32[2,1,5,10]\n"
          "y6: f32[2,1,5,4] = avgpool2d(x6, kernel=[3,2], strides=[1,3], pads=[0,1,2,0], "
          "count_include_pad=1)\n"
          "input x7: f32[2,1,5,10]\n"
          "y7: f32[2,1,5,4] = avgpool2d(x7, kernel=[3,2], strides=[1,3], pads=[0,1,2,0])\n"
          /* whole-plane window, size-1 dims */
          "input x8: f32[1,3,4,4]\n"
          "y8: f32[1,3,1,1] = avgpool2d(x8, kernel=[4,4])\n"
          "input x9: f32[1,1,1,1]\n"
          "y9: f32[1,1,1,1] = avgpool2d(x9, kernel=1)\n"
          /* work >= 32768: parallel */
          "input x10: f32[4,16,31,32]\n"
          "y10: f32[4,16,16,17] = avgpool2d(x10, kernel=3, strides=2, pads=1, ceil_mode=1)\n"
          /* asymmetric pads + ceil_mode: the last window is clipped at the
           * end of the padded input (right pad 0), not at width + left pad */
          "input x11: f32[1,1,6,8]\n"
          "y11: f32[1,1,3,5] = avgpool2d(x11, kernel=3, strides=2, pads=[1,2,0,0], "
          "ceil_mode=1, count_include_pad=1)\n"
          "output y, y2, y3, y4, y5, y6, y7, y8, y9, y10, y11\n");
}

static void global_avgpool_shapes(void **state) {
  (void)state;
  opcheck("input x: f32[2,3,7,5]\n"
          "y: f32[2,3,1,1] = global_avgpool(x)\n"
          "input x2: f32[1,1,1,1]\n"
          "y2: f32[1,1,1,1] = global_avgpool(x2)\n"
          "input x3: f32[3,4,13]\n"
          "y3: f32[3,4,1] = global_avgpool(x3)\n"
          "input x4: f32[2,2,3,4,5]\n"
          "y4: f32[2,2,1,1,1] = global_avgpool(x4)\n"
          /* long planes (summed in double), parallel */
          "input x5: f32[2,8,56,57]\n"
          "y5: f32[2,8,1,1] = global_avgpool(x5)\n"
          "output y, y2, y3, y4, y5\n");
}

static void batchnorm_shapes(void **state) {
  (void)state;
  opcheck("input x: f32[2,3,5,7]\n"
          "param s: f32[3] = uniform(0.5, 1.5)\n"
          "param b: f32[3] = uniform(-0.5, 0.5)\n"
          "param mu: f32[3] = uniform(-0.5, 0.5)\n"
          "param v: f32[3] = uniform(0.5, 1.5)\n"
          "y: f32[2,3,5,7] = batchnorm(x, s, b, mu, v)\n"
          "input x2: f32[4,6]\n"
          "param s2: f32[6] = uniform(-1.5, 1.5)\n"
          "param b2: f32[6] = uniform(-0.5, 0.5)\n"
          "param mu2: f32[6] = uniform(-0.5, 0.5)\n"
          "param v2: f32[6] = uniform(0.5, 1.5)\n"
          "y2: f32[4,6] = batchnorm(x2, s2, b2, mu2, v2, epsilon=0.001)\n"
          "input x3: f32[1,1,1,1]\n"
          "param s3: f32[1] = uniform(0.5, 1.5)\n"
          "param b3: f32[1] = uniform(-0.5, 0.5)\n"
          "param mu3: f32[1] = uniform(-0.5, 0.5)\n"
          "param v3: f32[1] = uniform(0.5, 1.5)\n"
          "y3: f32[1,1,1,1] = batchnorm(x3, s3, b3, mu3, v3, momentum=0.99)\n"
          "input x4: f32[2,5,9]\n"
          "param s4: f32[5] = uniform(0.5, 1.5)\n"
          "param b4: f32[5] = uniform(-0.5, 0.5)\n"
          "param mu4: f32[5] = uniform(-0.5, 0.5)\n"
          "param v4: f32[5] = uniform(0.5, 1.5)\n"
          "y4: f32[2,5,9] = batchnorm(x4, s4, b4, mu4, v4, epsilon=0.1, momentum=0)\n"
          /* parallel */
          "input x5: f32[4,16,23,29]\n"
          "param s5: f32[16] = uniform(0.5, 1.5)\n"
          "param b5: f32[16] = uniform(-0.5, 0.5)\n"
          "param mu5: f32[16] = uniform(-0.5, 0.5)\n"
          "param v5: f32[16] = uniform(0.5, 1.5)\n"
          "y5: f32[4,16,23,29] = batchnorm(x5, s5, b5, mu5, v5)\n"
          "output y, y2, y3, y4, y5\n");
}

/* f64 end to end: double literals and math in the emitted kernels */
static void nn_f64(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_tol(1e-12, 1e-12);
  opcheck_opts("input x: f64[2,3,9,7]\n"
               "param w: f64[4,3,3,3] = he_normal\n"
               "param b: f64[4] = uniform(-0.5, 0.5)\n"
               "y: f64[2,4,5,3] = conv2d(x, w, b, strides=[2,2], pads=[1,0,2,1])\n"
               "input x1: f64[2,4,9]\n"
               "param w1: f64[4,2,3] = he_normal\n"
               "y1: f64[2,4,5] = conv1d(x1, w1, group=2, strides=2, pads=1)\n"
               "p: f64[2,3,5,4] = maxpool2d(x, kernel=3, strides=2, pads=1, ceil_mode=1)\n"
               "a: f64[2,3,5,4] = avgpool2d(x, kernel=3, strides=2, pads=1, ceil_mode=1)\n"
               "a2: f64[2,3,5,4] = avgpool2d(x, kernel=3, strides=2, pads=1, ceil_mode=1, "
               "count_include_pad=1)\n"
               "g: f64[2,3,1,1] = global_avgpool(x)\n"
               "param s: f64[3] = uniform(0.5, 1.5)\n"
               "param mu: f64[3] = uniform(-0.5, 0.5)\n"
               "param v: f64[3] = uniform(0.5, 1.5)\n"
               "bn = batchnorm(x, s, mu, mu, v, epsilon=0.1)\n"
               "output y, y1, p, a, a2, g, bn\n",
               &o);
}

/* ---- shape-rule diagnostics (message and line:col) ---- */

#define CONV_HEAD "input x: f32[2,3,8,8]\nparam w: f32[4,3,3,3] = he_normal\n"

static void conv_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[64,784]\n"
                     "param w: f32[4,3,3,3] = he_normal\n"
                     "y = conv2d(x, w)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: expects 4-D input 0 ('x'), got f32[64,784]",
                     NULL);
  expect_parse_error("input x: f32[2,3,8,8]\n"
                     "param w: f32[4,6,3,3] = he_normal\n"
                     "y = conv2d(x, w)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: input has 3 channels but weight expects 6 "
                     "(group 1): x is f32[2,3,8,8], w is f32[4,6,3,3]",
                     NULL);
  expect_parse_error("input x: f32[2,4,8,8]\n"
                     "param w: f32[4,1,3,3] = he_normal\n"
                     "y = conv2d(x, w, group=2)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: input has 4 channels but weight expects 2 "
                     "(group 2)",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, group=2)\noutput y\n",
                     "test.smelt:3:5: error: conv2d: group 2 does not divide the 3 input "
                     "channels: x is f32[2,3,8,8]",
                     NULL);
  expect_parse_error("input x: f32[2,6,8,8]\n"
                     "param w: f32[5,2,3,3] = he_normal\n"
                     "y = conv2d(x, w, group=3)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: group 3 does not divide the 5 output "
                     "channels",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, group=0)\noutput y\n",
                     "test.smelt:3:5: error: conv2d: group must be positive, got 0", NULL);
  /* output size <= 0: the (dilated) kernel is larger than the padded input */
  expect_parse_error("input x: f32[1,1,2,9]\n"
                     "param w: f32[1,1,5,3] = he_normal\n"
                     "\n"
                     "  y = conv2d(x, w, pads=[1,0,1,0])\n"
                     "output y\n",
                     "test.smelt:4:7: error: conv2d: kernel height 5 exceeds padded input "
                     "height 4: x is f32[1,1,2,9], w is f32[1,1,5,3]",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, dilations=[1,4])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: kernel width 3 with dilation 4 exceeds "
                     "padded input width 8",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, strides=[2,0])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: strides must be positive, got [2,0]", NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, strides=[1,1,1])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: strides needs 1 or 2 values, got 3", NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, dilations=[-1,1])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: dilations must be positive, got [-1,1]",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, pads=[1,0,-2,1])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: pads must be non-negative, got [1,0,-2,1]",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, pads=[1,1,1])\noutput y\n",
                     "test.smelt:3:5: error: conv2d: pads needs 1, 2 or 4 values "
                     "([top,left,bottom,right]), got 3",
                     NULL);
  expect_parse_error(CONV_HEAD "param b: f32[5] = zeros\ny = conv2d(x, w, b)\noutput y\n",
                     "test.smelt:4:5: error: conv2d: bias 'b' must have 4 elements (one per "
                     "output channel), got f32[5]",
                     NULL);
  expect_parse_error(CONV_HEAD "param b: f32[4,1] = zeros\ny = conv2d(x, w, b)\noutput y\n",
                     "test.smelt:4:5: error: conv2d: expects 1-D input 2 ('b'), got f32[4,1]",
                     NULL);
  expect_parse_error("input x: i64[2,3,8,8]\n"
                     "param w: f32[4,3,3,3] = he_normal\n"
                     "y = conv2d(x, w)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: expects a float input 0 ('x'), got "
                     "i64[2,3,8,8]",
                     NULL);
  expect_parse_error("input x: f64[2,3,8,8]\n"
                     "param w: f32[4,3,3,3] = he_normal\n"
                     "y = conv2d(x, w)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: operand dtypes differ: 'x' is f64, 'w' is "
                     "f32",
                     NULL);
  expect_parse_error("input x: f32[2,0,8,8]\n"
                     "param w: f32[4,0,3,3] = zeros\n"
                     "y = conv2d(x, w)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv2d: needs at least one input channel", NULL);
  /* attribute schema errors point at the attribute */
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, stride=[2,2])\noutput y\n",
                     "test.smelt:3:18: error: conv2d: unknown attribute 'stride' (known: "
                     "strides, pads, dilations, group)",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x, w, pads=[1,1], group=[1,2])\noutput y\n",
                     "test.smelt:3:30: error: conv2d: attribute 'group' must be an integer",
                     NULL);
  expect_parse_error(CONV_HEAD "y = conv2d(x)\noutput y\n",
                     "test.smelt:3:5: error: conv2d: expects 2 to 3 operands, got 1", NULL);
  /* conv1d */
  expect_parse_error(CONV_HEAD "y = conv1d(x, w)\noutput y\n",
                     "test.smelt:3:5: error: conv1d: expects 3-D input 0 ('x'), got "
                     "f32[2,3,8,8]",
                     NULL);
  expect_parse_error("input x: f32[2,3,8]\n"
                     "param w: f32[4,3,3] = he_normal\n"
                     "y = conv1d(x, w, pads=[1,1,1,1])\n"
                     "y2 = conv1d(x, w, strides=[1,1])\n"
                     "y3 = conv1d(x, w, dilations=4)\n"
                     "output y\n",
                     "test.smelt:3:5: error: conv1d: pads needs 1 or 2 values ([begin,end]), "
                     "got 4",
                     "test.smelt:4:6: error: conv1d: strides needs 1 value, got 2",
                     "test.smelt:5:6: error: conv1d: kernel length 3 with dilation 4 exceeds "
                     "padded input length 8: x is f32[2,3,8], w is f32[4,3,3]",
                     NULL);
}

static void pool_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3,8,8]\n"
                     "y = maxpool2d(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: maxpool2d: missing required attribute 'kernel'",
                     NULL);
  expect_parse_error("input x: f32[2,3,8]\n"
                     "y = maxpool2d(x, kernel=2)\n"
                     "output y\n",
                     "test.smelt:2:5: error: maxpool2d: expects 4-D input 0 ('x'), got f32[2,3,8]",
                     NULL);
  expect_parse_error("input x: f32[2,3,8,8]\n"
                     "y = maxpool2d(x, kernel=[2,0])\n"
                     "y2 = avgpool2d(x, kernel=[2,2,2])\n"
                     "y3 = avgpool2d(x, kernel=[3,3], pads=[1,3])\n"
                     "y4 = maxpool2d(x, kernel=[9,3])\n"
                     "y5 = maxpool2d(x, kernel=3, ceil_mode=2)\n"
                     "y6 = avgpool2d(x, kernel=3, count_include_pad=-1)\n"
                     "y7 = avgpool2d(x, kernel=3, dilations=[2,2])\n"
                     "y8 = maxpool2d(x, kernel=3, strides=[0,1])\n"
                     "y9 = maxpool2d(x, kernel=3, dilations=[4,1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: maxpool2d: kernel must be positive, got [2,0]",
                     "test.smelt:3:6: error: avgpool2d: kernel needs 1 or 2 values, got 3",
                     "test.smelt:4:6: error: avgpool2d: pads must be smaller than the kernel, "
                     "got 3 and 3 for kernel width 3",
                     "test.smelt:5:6: error: maxpool2d: kernel height 9 exceeds padded input "
                     "height 8: x is f32[2,3,8,8]",
                     "test.smelt:6:6: error: maxpool2d: ceil_mode must be 0 or 1, got 2",
                     "test.smelt:7:6: error: avgpool2d: count_include_pad must be 0 or 1, got -1",
                     "test.smelt:8:29: error: avgpool2d: unknown attribute 'dilations'",
                     "test.smelt:9:6: error: maxpool2d: strides must be positive, got [0,1]",
                     "test.smelt:10:6: error: maxpool2d: kernel height 3 with dilation 4 "
                     "exceeds padded input height 8",
                     NULL);
  expect_parse_error("input x: i32[2,3,8,8]\n"
                     "y = avgpool2d(x, kernel=2)\n"
                     "output y\n",
                     "test.smelt:2:5: error: avgpool2d: expects a float input 0 ('x'), got "
                     "i32[2,3,8,8]",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = global_avgpool(x)\n"
                     "input z: f32[2,3,0,4]\n"
                     "y2 = global_avgpool(z)\n"
                     "output y\n",
                     "test.smelt:2:5: error: global_avgpool: expects input 0 ('x') of rank >= 3 "
                     "([N,C,spatial...]), got f32[2,3]",
                     "test.smelt:4:6: error: global_avgpool: spatial dims of input 0 ('z') are "
                     "empty: f32[2,3,0,4]",
                     NULL);
  expect_parse_error("input x: f32[2,3,0,4]\n"
                     "y = maxpool2d(x, kernel=1)\n"
                     "output y\n",
                     "test.smelt:2:5: error: maxpool2d: input height is 0: x is f32[2,3,0,4]",
                     NULL);
}

static void batchnorm_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3,4,4]\n"
                     "param s: f32[3] = ones\n"
                     "param b: f32[3] = zeros\n"
                     "param m: f32[4] = zeros\n"
                     "param v: f32[3] = ones\n"
                     "y = batchnorm(x, s, b, m, v)\n"
                     "y2 = batchnorm(x, s, b, v, v, epsilon=-1)\n"
                     "y3 = batchnorm(x, s, b, v, v, momentum=2)\n"
                     "y4 = batchnorm(x, s, b, v)\n"
                     "y5 = batchnorm(v, s, b, v, v)\n"
                     "y6 = batchnorm(x, s, b, v, v, eps=0.1)\n"
                     "output y\n",
                     "test.smelt:6:5: error: batchnorm: mean 'm' must be [3] (one per channel "
                     "of f32[2,3,4,4]), got f32[4]",
                     "test.smelt:7:6: error: batchnorm: epsilon must be non-negative, got -1",
                     "test.smelt:8:6: error: batchnorm: momentum must be in [0, 1], got 2",
                     "test.smelt:9:6: error: batchnorm: expects 5 operands, got 4",
                     "test.smelt:10:6: error: batchnorm: expects input 0 ('v') of rank >= 2 "
                     "([N,C,...]), got f32[3]",
                     "test.smelt:11:31: error: batchnorm: unknown attribute 'eps'",
                     NULL);
  expect_parse_error("input x: f64[2,3]\n"
                     "param s: f32[3] = ones\n"
                     "y = batchnorm(x, s, s, s, s)\n"
                     "output y\n",
                     "test.smelt:3:5: error: batchnorm: operand dtypes differ: 'x' is f64, 's' "
                     "is f32",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(conv2d_ref_asymmetric_pads),
      cmocka_unit_test(conv1d_ref_values),
      cmocka_unit_test(maxpool_ref_ceil_mode),
      cmocka_unit_test(avgpool_ref_count_include_pad),
      cmocka_unit_test(global_avgpool_and_batchnorm_ref),
      cmocka_unit_test(conv2d_strides_pads_bias),
      cmocka_unit_test(conv2d_dilation_groups),
      cmocka_unit_test(conv2d_1x1_and_size_one),
      cmocka_unit_test(conv2d_large_parallel),
      cmocka_unit_test(conv1d_shapes),
      cmocka_unit_test(maxpool_shapes),
      cmocka_unit_test(avgpool_shapes),
      cmocka_unit_test(global_avgpool_shapes),
      cmocka_unit_test(batchnorm_shapes),
      cmocka_unit_test(nn_f64),
      cmocka_unit_test(conv_errors),
      cmocka_unit_test(pool_errors),
      cmocka_unit_test(batchnorm_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
