/* Gradients of conv2d, conv1d, maxpool2d, avgpool2d, global_avgpool and
 * batchnorm against finite differences (and the compiled backward code
 * against the interpreter); the backward ops and the training forms
 * (batchnorm_train, dropout_train) as generated code against the
 * reference; hand-computed running statistics, maxpool tie-breaking and
 * dropout masks; shape-rule diagnostics of the new ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"

/* f32 sums of up to ~100 products of values in [-2,2) in the compiled
 * backward kernels: the compile step's atol 1e-5 is tight but holds with
 * inputs in [-1,1). */
static GradcheckOpts conv_opts(void) {
  return gradcheck_range(-1, 1);
}

/* ---- interpreter runs with chosen inputs ---- */

typedef struct Run {
  IrGraph *g;
  IrTensor *params; /* after the run: in-place updates applied */
  IrTensor out[8];
} Run;

/* Interprets `text` with input i set from ins[i] (NULL: zeros). */
static Run run_interp(const char *text, const double *const *ins) {
  SmDiag d;
  sm_diag_init(&d);
  Run r = {0};
  if (fe_parse_text("test.smelt", text, &r.g, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  assert_true(r.g->noutputs <= 8);
  IrTensor in[8];
  assert_true(r.g->ninputs <= 8);
  for (int i = 0; i < r.g->ninputs; i++) {
    in[i] = ir_tensor_new(r.g->inputs[i]->type);
    if (ins[i]) memcpy(in[i].d, ins[i], sizeof(double) * (size_t)in[i].numel);
  }
  r.params = calloc((size_t)r.g->nparams + 1, sizeof *r.params);
  ir_init_params(r.g, r.params);
  assert_int_equal(ir_interpret(r.g, in, r.params, r.out, &d), SM_OK);
  for (int i = 0; i < r.g->ninputs; i++) ir_tensor_free(&in[i]);
  sm_diag_free(&d);
  return r;
}

static void run_free(Run *r) {
  for (int i = 0; i < r->g->noutputs; i++) ir_tensor_free(&r->out[i]);
  for (int i = 0; i < r->g->nparams; i++) ir_tensor_free(&r->params[i]);
  free(r->params);
  ir_graph_free(r->g);
}

static void expect_values(const char *what, const double *got, const double *want, int64_t n,
                          double tol) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol)) {
      print_error("%s[%lld]: got %.17g, want %.17g\n", what, (long long)i, got[i], want[i]);
      fail();
    }
}

/* ---- gradients against finite differences ---- */

static void grad_conv2d_stride_pads_bias(void **state) {
  (void)state;
  GradcheckOpts o = conv_opts();
  /* stride 2, asymmetric pads [top,left,bottom,right], bias */
  gradcheck_opts("input x: f32[2,3,7,6]\n"
                 "param w: f32[4,3,3,3] = he_normal\n"
                 "param b: f32[4] = uniform(-0.5, 0.5)\n"
                 "y: f32[2,4,4,3] = conv2d(x, w, b, strides=[2,2], pads=[1,0,2,1])\n"
                 "output y\n",
                 &o);
  /* 1x1, no bias, stride 2 with padding: border outputs see only padding */
  gradcheck_opts("input x: f32[2,4,5,6]\n"
                 "param w: f32[3,4,1,1] = he_normal\n"
                 "y: f32[2,3,4,4] = conv2d(x, w, strides=2, pads=1)\n"
                 "output y\n",
                 &o);
  /* stride larger than the kernel (skipped input gets zero gradient),
   * non-square kernel, stride only in height */
  gradcheck_opts("input x: f32[1,2,10,9]\n"
                 "param w: f32[2,2,2,3] = he_normal\n"
                 "param b: f32[2] = uniform(-1, 1)\n"
                 "y: f32[1,2,3,7] = conv2d(x, w, b, strides=[4,1])\n"
                 "output y\n",
                 &o);
}

static void grad_conv2d_dilation_groups(void **state) {
  (void)state;
  GradcheckOpts o = conv_opts();
  /* dilation, groups 2, pads */
  gradcheck_opts("input x: f32[1,4,9,8]\n"
                 "param w: f32[6,2,3,3] = he_normal\n"
                 "y: f32[1,6,7,6] = conv2d(x, w, dilations=[2,2], group=2, pads=1)\n"
                 "output y\n",
                 &o);
  /* depthwise with bias and asymmetric pads */
  gradcheck_opts("input x: f32[2,3,6,5]\n"
                 "param w: f32[3,1,3,3] = he_normal\n"
                 "param b: f32[3] = uniform(-0.5, 0.5)\n"
                 "y: f32[2,3,5,4] = conv2d(x, w, b, group=3, pads=[1,0,0,1])\n"
                 "output y\n",
                 &o);
  /* depthwise multiplier 2, stride 2, dilation in one dim, groups of 2 */
  gradcheck_opts("input x: f32[1,4,9,8]\n"
                 "param w: f32[8,2,3,2] = he_normal\n"
                 "y: f32[1,8,3,4] = conv2d(x, w, group=2, strides=[2,2], dilations=[2,1], "
                 "pads=[1,0,0,1])\n"
                 "output y\n",
                 &o);
  /* the same x through two convolutions: gradients accumulate */
  gradcheck_opts("input x: f32[1,2,5,5]\n"
                 "param w: f32[2,2,3,3] = he_normal\n"
                 "param w2: f32[2,1,3,3] = he_normal\n"
                 "y = conv2d(x, w, pads=1)\n"
                 "z = conv2d(x, w2, group=2)\n"
                 "output y, z\n",
                 &o);
}

static void grad_conv1d(void **state) {
  (void)state;
  GradcheckOpts o = conv_opts();
  gradcheck_opts("input x: f32[2,3,11]\n"
                 "param w: f32[4,3,3] = he_normal\n"
                 "param b: f32[4] = uniform(-0.5, 0.5)\n"
                 "y: f32[2,4,6] = conv1d(x, w, b, strides=2, pads=[1,2])\n"
                 "output y\n",
                 &o);
  gradcheck_opts("input x: f32[1,6,14]\n"
                 "param w: f32[6,2,3] = he_normal\n"
                 "y: f32[1,6,8] = conv1d(x, w, dilations=3, group=3)\n"
                 "output y\n",
                 &o);
  gradcheck_opts("input x: f32[3,4,5]\n"
                 "param w: f32[4,1,5] = he_normal\n"
                 "param b: f32[4] = uniform(-1, 1)\n"
                 "y: f32[3,4,5] = conv1d(x, w, b, group=4, pads=2)\n"
                 "output y\n",
                 &o);
}

/* Random inputs in [-2,2) are far apart relative to the 1e-6 step, so no
 * window's maximum changes under the finite differences. */
static void grad_maxpool(void **state) {
  (void)state;
  /* overlapping windows (stride < kernel) with padding */
  gradcheck("input x: f32[2,2,6,5]\n"
            "y: f32[2,2,3,3] = maxpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1])\n"
            "output y\n");
  /* ceil_mode, asymmetric pads, dilation */
  gradcheck("input x: f32[1,3,8,9]\n"
            "y: f32[1,3,4,5] = maxpool2d(x, kernel=[3,2], strides=[2,2], pads=[1,1], "
            "dilations=[2,3], ceil_mode=1)\n"
            "output y\n");
  /* stride 1: every element in up to four windows */
  gradcheck("input x: f32[1,1,5,5]\n"
            "y: f32[1,1,4,4] = maxpool2d(x, kernel=2, strides=1)\n"
            "output y\n");
  /* default strides (non-overlapping) and a pad at the end only */
  gradcheck("input x: f32[2,1,4,7]\n"
            "y: f32[2,1,2,4] = maxpool2d(x, kernel=2, pads=[0,0,0,1])\n"
            "output y\n");
}

static void grad_avgpool(void **state) {
  (void)state;
  gradcheck("input x: f32[2,2,7,9]\n"
            "y: f32[2,2,4,5] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1])\n"
            "y2: f32[2,2,4,5] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1], "
            "count_include_pad=1)\n"
            "output y, y2\n");
  /* ceil_mode windows hanging past the padded input, both counts */
  gradcheck("input x: f32[1,2,6,8]\n"
            "y: f32[1,2,4,5] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1], "
            "ceil_mode=1)\n"
            "y2: f32[1,2,4,5] = avgpool2d(x, kernel=[3,3], strides=[2,2], pads=[1,1], "
            "ceil_mode=1, count_include_pad=1)\n"
            "output y, y2\n");
  /* asymmetric pads + ceil_mode, stride 1 overlap, default strides */
  gradcheck("input x: f32[1,1,6,8]\n"
            "y: f32[1,1,3,5] = avgpool2d(x, kernel=3, strides=2, pads=[1,2,0,0], ceil_mode=1, "
            "count_include_pad=1)\n"
            "y2: f32[1,1,5,7] = avgpool2d(x, kernel=2, strides=1)\n"
            "y3: f32[1,1,3,4] = avgpool2d(x, kernel=2)\n"
            "output y, y2, y3\n");
}

static void grad_global_avgpool(void **state) {
  (void)state;
  gradcheck("input x: f32[2,3,5,4]\n"
            "y: f32[2,3,1,1] = global_avgpool(x)\n"
            "output y\n");
  gradcheck("input x: f32[3,2,7]\n"
            "input z: f32[1,2,2,3,2]\n"
            "y: f32[3,2,1] = global_avgpool(x)\n"
            "y2: f32[1,2,1,1,1] = global_avgpool(z)\n"
            "output y, y2\n");
  gradcheck("input x: f32[1,1,1,1]\n"
            "y = global_avgpool(x)\n"
            "output y\n");
}

/* every operand differentiated: x an input, the rest parameters */
static void grad_batchnorm(void **state) {
  (void)state;
  gradcheck("input x: f32[2,3,4,5]\n"
            "param s: f32[3] = uniform(0.5, 1.5)\n"
            "param b: f32[3] = uniform(-0.5, 0.5)\n"
            "param mu: f32[3] = uniform(-0.5, 0.5)\n"
            "param v: f32[3] = uniform(0.5, 1.5)\n"
            "y = batchnorm(x, s, b, mu, v)\n"
            "output y\n");
  gradcheck("input x: f32[5,4]\n"
            "param s: f32[4] = uniform(-1.5, 1.5)\n"
            "param b: f32[4] = uniform(-0.5, 0.5)\n"
            "param mu: f32[4] = uniform(-0.5, 0.5)\n"
            "param v: f32[4] = uniform(0.2, 1.5)\n"
            "y = batchnorm(x, s, b, mu, v, epsilon=0.01)\n"
            "output y\n");
  /* all five as inputs, mean and var used elsewhere too */
  GradcheckOpts o = gradcheck_range(0.5, 1.5);
  gradcheck_opts("input x: f32[2,2,3]\n"
                 "input s: f32[2]\ninput b: f32[2]\ninput mu: f32[2]\ninput v: f32[2]\n"
                 "y = batchnorm(x, s, b, mu, v, epsilon=0.1)\n"
                 "z = mul(mu, v)\n"
                 "output y, z\n",
                 &o);
}

/* Only y is an output: the running statistics are not differentiable.
 * Gradients w.r.t. the running-stat parameters come out as zeros. */
static void grad_batchnorm_train(void **state) {
  (void)state;
  gradcheck("input x: f32[4,3,2,3]\n"
            "param s: f32[3] = uniform(0.5, 1.5)\n"
            "param b: f32[3] = uniform(-0.5, 0.5)\n"
            "param rm: f32[3] = zeros\n"
            "param rv: f32[3] = ones\n"
            "y, rm2, rv2, sm, si = batchnorm_train(x, s, b, rm, rv)\n"
            "output y\n");
  gradcheck("input x: f32[6,4]\n"
            "param s: f32[4] = uniform(-1.5, 1.5)\n"
            "param b: f32[4] = uniform(-0.5, 0.5)\n"
            "param rm: f32[4] = zeros\n"
            "param rv: f32[4] = ones\n"
            "y, rm2, rv2, sm, si = batchnorm_train(x, s, b, rm, rv, epsilon=0.001, "
            "momentum=0.3)\n"
            "output y\n");
  /* a nonlinearity after the norm, so the loss is not linear in y; and
   * a batch of 1 with spatial dims */
  gradcheck("input x: f32[1,2,3,3]\n"
            "param s: f32[2] = uniform(0.5, 1.5)\n"
            "param b: f32[2] = uniform(-0.5, 0.5)\n"
            "param rm: f32[2] = zeros\n"
            "param rv: f32[2] = ones\n"
            "y, rm2, rv2, sm, si = batchnorm_train(x, s, b, rm, rv)\n"
            "t = tanh(y)\n"
            "output t\n");
}

static void grad_dropout_train(void **state) {
  (void)state;
  /* mask is an output too: constant in x, it contributes no gradient */
  gradcheck("input x: f32[4,25]\n"
            "input step: i64[]\n"
            "y, m = dropout_train(x, step, ratio=0.3, seed=11)\n"
            "output y, m\n");
  gradcheck("input x: f32[3,7]\n"
            "input step: i64[]\n"
            "param w: f32[7] = uniform(-1, 1)\n"
            "h = mul(x, w)\n"
            "y, m = dropout_train(h, step, ratio=0.5, stream=3, seed=2)\n"
            "output y\n");
  gradcheck("input x: f32[2,5]\n"
            "input step: i64[1]\n"
            "y, m = dropout_train(x, step, ratio=0, seed=0)\n"
            "output y\n");
}

/* a small network end to end: conv, batchnorm_train, relu, maxpool,
 * avgpool, global_avgpool, dropout */
static void grad_small_cnn(void **state) {
  (void)state;
  GradcheckOpts o = conv_opts();
  o.rtol = 2e-4;
  gradcheck_opts("input x: f32[2,2,8,8]\n"
                 "input step: i64[]\n"
                 "param w: f32[3,2,3,3] = he_normal\n"
                 "param b: f32[3] = uniform(-0.1, 0.1)\n"
                 "param s: f32[3] = ones\n"
                 "param sb: f32[3] = zeros\n"
                 "param rm: f32[3] = zeros\n"
                 "param rv: f32[3] = ones\n"
                 "c = conv2d(x, w, b, pads=1)\n"
                 "n, rm2, rv2, sm, si = batchnorm_train(c, s, sb, rm, rv)\n"
                 "t = tanh(n)\n"
                 "p = maxpool2d(t, kernel=2)\n"
                 "a = avgpool2d(p, kernel=2, strides=1, pads=1, count_include_pad=1)\n"
                 "d, mask = dropout_train(a, step, ratio=0.25, seed=5)\n"
                 "g = global_avgpool(d)\n"
                 "output g\n",
                 &o);
}

/* ---- backward ops and training forms: generated code vs reference ---- */

static void opcheck_conv_grad_ops(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-1, 1);
  o.atol = 5e-5;
  opcheck_opts("input dy: f32[2,4,4,3]\n"
               "param w: f32[4,3,3,3] = he_normal\n"
               "dx: f32[2,3,7,6] = conv2d_grad_input(dy, w, strides=[2,2], pads=[1,0,2,1], "
               "xshape=[2,3,7,6])\n"
               "input x: f32[2,3,7,6]\n"
               "dw: f32[4,3,3,3] = conv2d_grad_weight(dy, x, strides=[2,2], pads=[1,0,2,1], "
               "wshape=[4,3,3,3])\n"
               /* groups, dilation */
               "input dy2: f32[1,6,7,6]\n"
               "param w2: f32[6,2,3,3] = he_normal\n"
               "dx2: f32[1,4,9,8] = conv2d_grad_input(dy2, w2, dilations=[2,2], group=2, pads=1, "
               "xshape=[1,4,9,8])\n"
               "input x2: f32[1,4,9,8]\n"
               "dw2: f32[6,2,3,3] = conv2d_grad_weight(dy2, x2, dilations=[2,2], group=2, "
               "pads=1, wshape=[6,2,3,3])\n"
               /* 1x1, height 1 (no row loops), conv1d forms */
               "input dy3: f32[2,3,1,8]\n"
               "param w3: f32[3,2,1,3] = he_normal\n"
               "dx3: f32[2,2,1,10] = conv2d_grad_input(dy3, w3, xshape=[2,2,1,10])\n"
               "input dy4: f32[2,4,6]\n"
               "param w4: f32[4,3,3] = he_normal\n"
               "dx4: f32[2,3,11] = conv1d_grad_input(dy4, w4, strides=2, pads=[1,2], "
               "xshape=[2,3,11])\n"
               "input x4: f32[2,3,11]\n"
               "dw4: f32[4,3,3] = conv1d_grad_weight(dy4, x4, strides=2, pads=[1,2], "
               "wshape=[4,3,3])\n"
               "input x5: f32[1,6,14]\n"
               "input dy5: f32[1,6,8]\n"
               "dw5: f32[6,2,3] = conv1d_grad_weight(dy5, x5, dilations=3, group=3, "
               "wshape=[6,2,3])\n"
               /* work >= 32768: parallel loops */
               "input dy6: f32[2,8,16,17]\n"
               "param w6: f32[8,8,3,3] = he_normal\n"
               "dx6: f32[2,8,16,17] = conv2d_grad_input(dy6, w6, pads=1, xshape=[2,8,16,17])\n"
               "input x6: f32[2,8,16,17]\n"
               "dw6: f32[8,8,3,3] = conv2d_grad_weight(dy6, x6, pads=1, wshape=[8,8,3,3])\n"
               "input dy7: f32[2,16,10,10]\n"
               "param w7: f32[16,1,3,3] = he_normal\n"
               "dx7: f32[2,16,20,20] = conv2d_grad_input(dy7, w7, group=16, strides=2, "
               "pads=[1,1,0,0], xshape=[2,16,20,20])\n"
               "output dx, dw, dx2, dw2, dx3, dx4, dw4, dw5, dx6, dw6, dx7\n",
               &o);
}

static void opcheck_pool_grad_ops(void **state) {
  (void)state;
  opcheck("input dy: f32[2,3,4,4]\n"
          "input x: f32[2,3,9,9]\n"
          "dx: f32[2,3,9,9] = maxpool2d_grad(dy, x, kernel=[3,3], strides=[2,2])\n"
          "input dy2: f32[1,3,4,4]\n"
          "input x2: f32[1,3,9,8]\n"
          "dx2 = maxpool2d_grad(dy2, x2, kernel=[3,2], strides=[2,2], pads=[1,1], "
          "dilations=[2,3], ceil_mode=1)\n"
          "input dy3: f32[4,16,16,17]\n"
          "input x3: f32[4,16,32,33]\n"
          "dx3 = maxpool2d_grad(dy3, x3, kernel=2, strides=2, ceil_mode=1)\n"
          "input dy4: f32[2,3,4,5]\n"
          "dx4: f32[2,3,7,9] = avgpool2d_grad(dy4, kernel=[3,3], strides=[2,2], pads=[1,1], "
          "xshape=[2,3,7,9])\n"
          "dx5: f32[2,3,7,9] = avgpool2d_grad(dy4, kernel=[3,3], strides=[2,2], pads=[1,1], "
          "count_include_pad=1, xshape=[2,3,7,9])\n"
          "input dy6: f32[1,2,4,5]\n"
          "dx6 = avgpool2d_grad(dy6, kernel=3, strides=2, pads=1, ceil_mode=1, "
          "count_include_pad=1, xshape=[1,2,6,8])\n"
          "dx7 = avgpool2d_grad(dy6, kernel=3, strides=2, pads=1, ceil_mode=1, "
          "xshape=[1,2,6,8])\n"
          "input dy8: f32[4,16,16,17]\n"
          "dx8 = avgpool2d_grad(dy8, kernel=3, strides=2, pads=1, ceil_mode=1, "
          "xshape=[4,16,31,32])\n"
          "input dy9: f32[2,3,1,1]\n"
          "dx9: f32[2,3,7,5] = global_avgpool_grad(dy9, xshape=[2,3,7,5])\n"
          "input dy10: f32[3,4,1]\n"
          "dx10: f32[3,4,13] = global_avgpool_grad(dy10, xshape=[3,4,13])\n"
          "input dy11: f32[2,8,1,1]\n"
          "dx11 = global_avgpool_grad(dy11, xshape=[2,8,56,57])\n"
          "output dx, dx2, dx3, dx4, dx5, dx6, dx7, dx8, dx9, dx10, dx11\n");
}

static void opcheck_batchnorm_ops(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_tol(2e-5, 1e-5);
  opcheck_opts("input dy: f32[2,3,5,7]\n"
               "input x: f32[2,3,5,7]\n"
               "param s: f32[3] = uniform(0.5, 1.5)\n"
               "param mu: f32[3] = uniform(-0.5, 0.5)\n"
               "param v: f32[3] = uniform(0.5, 1.5)\n"
               "dx, ds, db, dm, dv = batchnorm_grad(dy, x, s, mu, v)\n"
               "input dy2: f32[4,6]\n"
               "input x2: f32[4,6]\n"
               "param s2: f32[6] = uniform(-1.5, 1.5)\n"
               "param mu2: f32[6] = uniform(-0.5, 0.5)\n"
               "param v2: f32[6] = uniform(0.5, 1.5)\n"
               "dx2, ds2, db2, dm2, dv2 = batchnorm_grad(dy2, x2, s2, mu2, v2, epsilon=0.1)\n"
               /* training forward: every output, running stats included */
               "param b: f32[3] = uniform(-0.5, 0.5)\n"
               "param rm: f32[3] = uniform(-0.5, 0.5)\n"
               "param rv: f32[3] = uniform(0.5, 1.5)\n"
               "y, rm1, rv1, sm, si = batchnorm_train(x, s, b, rm, rv)\n"
               "param b2: f32[6] = uniform(-0.5, 0.5)\n"
               "param rm2: f32[6] = uniform(-0.5, 0.5)\n"
               "param rv2: f32[6] = uniform(0.5, 1.5)\n"
               "y2, rm3, rv3, sm2, si2 = batchnorm_train(x2, s2, b2, rm2, rv2, epsilon=0.001, "
               "momentum=0.5)\n"
               "input x3: f32[4,16,23,29]\n"
               "param s3: f32[16] = ones\n"
               "param b3: f32[16] = zeros\n"
               "param rm4: f32[16] = zeros\n"
               "param rv4: f32[16] = ones\n"
               "y3, rm5, rv5, sm3, si3 = batchnorm_train(x3, s3, b3, rm4, rv4, momentum=1)\n"
               "input x4: f32[2,5,9]\n"
               "param s4: f32[5] = uniform(0.5, 1.5)\n"
               "param b4: f32[5] = uniform(-0.5, 0.5)\n"
               "param rm6: f32[5] = uniform(-0.5, 0.5)\n"
               "param rv6: f32[5] = uniform(0.5, 1.5)\n"
               "y4, rm7, rv7, sm4, si4 = batchnorm_train(x4, s4, b4, rm6, rv6, momentum=0)\n"
               /* training backward */
               "dx3, ds3, db3 = batchnorm_train_grad(dy, x, s, sm, si)\n"
               "dx4, ds4, db4 = batchnorm_train_grad(dy2, x2, s2, sm2, si2)\n"
               "input dy5: f32[4,16,23,29]\n"
               "dx5, ds5, db5 = batchnorm_train_grad(dy5, x3, s3, sm3, si3)\n"
               "output dx, ds, db, dm, dv, dx2, ds2, db2, dm2, dv2, y, rm1, rv1, sm, si, y2, "
               "rm3, rv3, sm2, si2, y3, rm5, rv5, sm3, si3, y4, rm7, rv7, dx3, ds3, db3, dx4, "
               "ds4, db4, dx5, ds5, db5\n",
               &o);
}

static void opcheck_dropout_train(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_ints(0, 1000000);
  opcheck_opts("input x: f32[4,25]\n"
               "input step: i64[]\n"
               "y, m = dropout_train(x, step, ratio=0.3, seed=11)\n"
               "input x2: f64[3,5,7]\n"
               "y2, m2 = dropout_train(x2, step, stream=4, seed=123456789)\n"
               "input x3: f32[64,1024]\n"
               "input step3: i64[1]\n"
               "y3, m3 = dropout_train(x3, step3, ratio=0.9, stream=1, seed=9)\n"
               "y4, m4 = dropout_train(x, step, ratio=0, seed=1)\n"
               "output y, m, y2, m2, y3, m3, y4, m4\n",
               &o);
}

/* f64 end to end: gradients of every op in one double-precision model */
static void grad_f64(void **state) {
  (void)state;
  gradcheck("input x: f64[2,2,6,6]\n"
            "param w: f64[4,1,3,3] = he_normal\n"
            "param s: f64[4] = uniform(0.5, 1.5)\n"
            "param b: f64[4] = uniform(-0.5, 0.5)\n"
            "param v: f64[4] = uniform(0.5, 1.5)\n"
            "param rm: f64[4] = zeros\n"
            "param rv: f64[4] = ones\n"
            "c = conv2d(x, w, b, strides=2, pads=[1,1,0,0], group=2)\n"
            "n = batchnorm(c, s, b, b, v)\n"
            "t, rm2, rv2, sm, si = batchnorm_train(c, s, b, rm, rv)\n"
            "p = maxpool2d(n, kernel=2, strides=1)\n"
            "a = avgpool2d(t, kernel=2, ceil_mode=1, pads=1)\n"
            "g = global_avgpool(c)\n"
            "output p, a, g\n");
}

/* ---- hand-computed values ---- */

/* Channel 0 holds 1,3,5 (mean 3, biased var 8/3, unbiased 4), channel 1
 * holds 2,2,8 (mean 4, biased var 8, unbiased 12). With running mean 1,
 * running var 2 and momentum 0.1: mean' = 0.9*1 + 0.1*mean, var' =
 * 0.9*2 + 0.1*unbiased. */
static void batchnorm_train_running_stats(void **state) {
  (void)state;
  const double x[6] = {1, 2, 3, 2, 5, 8};
  const double *ins[] = {x};
  Run r = run_interp("input x: f32[3,2]\n"
                     "param s: f32[2] = constant(2)\n"
                     "param b: f32[2] = constant(0.5)\n"
                     "param rm: f32[2] = ones\n"
                     "param rv: f32[2] = constant(2)\n"
                     "y, rm2, rv2, sm, si = batchnorm_train(x, s, b, rm, rv, epsilon=0)\n"
                     "output y, rm2, rv2, sm, si\n",
                     ins);
  const double a0 = sqrt(3.0 / 8), a1 = 1 / sqrt(8.0);
  const double y[6] = {2 * (1 - 3) * a0 + 0.5, 2 * (2 - 4) * a1 + 0.5,
                       2 * (3 - 3) * a0 + 0.5, 2 * (2 - 4) * a1 + 0.5,
                       2 * (5 - 3) * a0 + 0.5, 2 * (8 - 4) * a1 + 0.5};
  const double rm[2] = {1.2, 1.3}, rv[2] = {0.9 * 2 + 0.4, 0.9 * 2 + 1.2};
  const double sm[2] = {3, 4}, si[2] = {a0, a1};
  expect_values("y", r.out[0].d, y, 6, 1e-12);
  expect_values("running_mean'", r.out[1].d, rm, 2, 1e-12);
  expect_values("running_var'", r.out[2].d, rv, 2, 1e-12);
  expect_values("saved_mean", r.out[3].d, sm, 2, 1e-12);
  expect_values("saved_invstd", r.out[4].d, si, 2, 1e-12);
  /* written back into the parameters (outputs 1, 2 overwrite inputs 3, 4) */
  expect_values("param rm", r.params[2].d, rm, 2, 1e-12);
  expect_values("param rv", r.params[3].d, rv, 2, 1e-12);
  run_free(&r);
  /* the generated kernel reads each running statistic before overwriting
   * it in place: same values */
  opcheck("input x: f32[3,2]\n"
          "param s: f32[2] = constant(2)\n"
          "param b: f32[2] = constant(0.5)\n"
          "param rm: f32[2] = ones\n"
          "param rv: f32[2] = constant(2)\n"
          "y, rm2, rv2, sm, si = batchnorm_train(x, s, b, rm, rv, epsilon=0)\n"
          "output y, rm2, rv2, sm, si\n");
}

/* ties go to the first maximum of a window (row-major); a maximum shared by
 * overlapping windows collects all their gradients */
static void maxpool_grad_ties_and_overlap(void **state) {
  (void)state;
  const double dy[4] = {1, 2, 3, 4};
  const double ties[9] = {1, 1, 0, 1, 1, 0, 0, 0, 0};
  const double *ins[] = {dy, ties};
  const char *text = "input dy: f32[1,1,2,2]\n"
                     "input x: f32[1,1,3,3]\n"
                     "dx = maxpool2d_grad(dy, x, kernel=2, strides=1)\n"
                     "output dx\n";
  Run r = run_interp(text, ins);
  const double want[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
  expect_values("dx (ties)", r.out[0].d, want, 9, 0);
  run_free(&r);
  const double peak[9] = {1, 2, 3, 4, 100, 6, 7, 8, 9};
  const double *ins2[] = {dy, peak};
  r = run_interp(text, ins2);
  const double want2[9] = {0, 0, 0, 0, 10, 0, 0, 0, 0};
  expect_values("dx (overlap)", r.out[0].d, want2, 9, 0);
  run_free(&r);
  /* padding never wins, even over negative values */
  const double neg[9] = {-5, -4, -3, -2, -1, -6, -7, -8, -9};
  const double dy9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  const double *ins3[] = {dy9, neg};
  r = run_interp("input dy: f32[1,1,3,3]\n"
                 "input x: f32[1,1,3,3]\n"
                 "dx = maxpool2d_grad(dy, x, kernel=3, strides=1, pads=1)\n"
                 "output dx\n",
                 ins3);
  /* every 3x3 window centred on an element holds the -1 at the centre */
  const double want3[9] = {0, 0, 0, 0, 9, 0, 0, 0, 0};
  expect_values("dx (pads)", r.out[0].d, want3, 9, 0);
  run_free(&r);
  /* the generated kernel breaks ties the same way */
  /* (relu makes many windows all zeros) */
  opcheck("input x: f32[2,3,7,6]\n"
          "input dy: f32[2,3,6,5]\n"
          "r = relu(x)\n"
          "dx = maxpool2d_grad(dy, r, kernel=2, strides=1)\n"
          "input dy2: f32[2,3,4,4]\n"
          "dx2 = maxpool2d_grad(dy2, r, kernel=3, strides=2, pads=1, ceil_mode=1)\n"
          "output dx, dx2\n");
}

/* avgpool2d_grad spreads dy over each window with the forward divisor */
static void avgpool_grad_values(void **state) {
  (void)state;
  /* 1-D-like: 1x4 input, kernel [1,3], stride 1, pads 1 on both sides:
   * windows [-1,2) [0,3) [1,4) [2,5); real taps 2,3,3,2; padded taps 3 */
  const double dy[4] = {6, 6, 6, 6};
  const double *ins[] = {dy};
  Run r = run_interp("input dy: f32[1,1,1,4]\n"
                     "dx = avgpool2d_grad(dy, kernel=[1,3], strides=1, pads=[0,1,0,1], "
                     "xshape=[1,1,1,4])\n"
                     "dx2 = avgpool2d_grad(dy, kernel=[1,3], strides=1, pads=[0,1,0,1], "
                     "count_include_pad=1, xshape=[1,1,1,4])\n"
                     "output dx, dx2\n",
                     ins);
  const double excl[4] = {3 + 2, 3 + 2 + 2, 2 + 2 + 3, 2 + 3};
  const double incl[4] = {4, 6, 6, 4};
  expect_values("dx (exclude pad)", r.out[0].d, excl, 4, 1e-12);
  expect_values("dx (include pad)", r.out[1].d, incl, 4, 1e-12);
  run_free(&r);
}

/* Keep fraction ~ 1 - ratio over 10^4 elements (4 sigma), mask exactly 0
 * or 1/(1 - ratio), y = x * mask, reproducible for a (seed, step) and
 * different across steps and seeds. */
static void dropout_train_mask(void **state) {
  (void)state;
  enum { N = 10000 };
  static double x[N];
  for (int i = 0; i < N; i++) x[i] = 1 + i % 7;
  const char *text = "input x: f32[100,100]\n"
                     "input step: i64[]\n"
                     "y, m = dropout_train(x, step, ratio=0.3, seed=42)\n"
                     "y2, m2 = dropout_train(x, step, ratio=0.3, seed=43)\n"
                     "output y, m, m2\n";
  double s0 = 0, s1 = 1;
  const double *ins0[] = {x, &s0}, *ins1[] = {x, &s1};
  Run a = run_interp(text, ins0), b = run_interp(text, ins0), c = run_interp(text, ins1);
  const double keep = 1 / (1 - 0.3);
  int kept = 0, diff_step = 0, diff_seed = 0;
  for (int i = 0; i < N; i++) {
    double m = a.out[1].d[i];
    if (m != 0 && m != keep) {
      print_error("mask[%d] = %.17g, want 0 or %.17g\n", i, m, keep);
      fail();
    }
    assert_true(a.out[0].d[i] == x[i] * m);
    kept += m != 0;
    assert_true(b.out[1].d[i] == m);
    diff_step += c.out[1].d[i] != m;
    diff_seed += a.out[2].d[i] != m;
  }
  double frac = (double)kept / N, sigma = sqrt(0.3 * 0.7 / N);
  if (fabs(frac - 0.7) > 4 * sigma) {
    print_error("kept %d of %d (%.4f), want 0.7 +- %.4f\n", kept, N, frac, 4 * sigma);
    fail();
  }
  /* independent masks differ in 2 * 0.3 * 0.7 = 42% of places */
  assert_true(diff_step > 3500 && diff_step < 4900);
  assert_true(diff_seed > 3500 && diff_seed < 4900);
  run_free(&a);
  run_free(&b);
  run_free(&c);
  /* ratio 0 keeps everything with factor 1 */
  const double *ins2[] = {x, &s1};
  Run z = run_interp("input x: f32[10,10]\ninput step: i64[]\n"
                     "y, m = dropout_train(x, step, ratio=0, seed=1)\noutput y, m\n",
                     ins2);
  for (int i = 0; i < 100; i++) assert_true(z.out[1].d[i] == 1 && z.out[0].d[i] == x[i]);
  run_free(&z);
}

/* ---- shape-rule diagnostics ---- */

static void conv_grad_errors(void **state) {
  (void)state;
  expect_parse_error("input dy: f32[2,4,6,6]\n"
                     "param w: f32[4,3,3,3] = he_normal\n"
                     "dx = conv2d_grad_input(dy, w, xshape=[2,3,8])\n"
                     "dx2 = conv2d_grad_input(dy, w)\n"
                     "dx3 = conv2d_grad_input(dy, w, xshape=[2,3,9,8])\n"
                     "dx4 = conv2d_grad_input(dy, w, xshape=[2,4,8,8])\n"
                     "dx5 = conv2d_grad_input(dy, w, xshape=[2,3,-8,8])\n"
                     "output dx\n",
                     "test.smelt:3:6: error: conv2d_grad_input: xshape needs 4 values, got 3",
                     "test.smelt:4:7: error: conv2d_grad_input: missing required attribute "
                     "'xshape'",
                     "test.smelt:5:7: error: conv2d_grad_input: 'dy' is f32[2,4,6,6], but the "
                     "convolution of x f32[2,3,9,8] by w f32[4,3,3,3] is f32[2,4,7,6]",
                     "test.smelt:6:7: error: conv2d_grad_input: input has 4 channels but weight "
                     "expects 3 (group 1): x is f32[2,4,8,8], w is f32[4,3,3,3]",
                     "test.smelt:7:7: error: conv2d_grad_input: xshape must be non-negative, "
                     "got [2,3,-8,8]",
                     NULL);
  expect_parse_error("input dy: f32[2,4,6,6]\n"
                     "input x: f32[2,3,8,8]\n"
                     "dw = conv2d_grad_weight(dy, x, wshape=[4,3,3,3], group=3)\n"
                     "dw2 = conv2d_grad_weight(dy, x, wshape=[4,3,5,5])\n"
                     "dw3 = conv1d_grad_weight(dy, x, wshape=[4,3,3])\n"
                     "output dw\n",
                     "test.smelt:3:6: error: conv2d_grad_weight: group 3 does not divide the 4 "
                     "output channels",
                     "test.smelt:4:7: error: conv2d_grad_weight: 'dy' is f32[2,4,6,6], but the "
                     "convolution of x f32[2,3,8,8] by w f32[4,3,5,5] is f32[2,4,4,4]",
                     "test.smelt:5:7: error: conv1d_grad_weight: expects 3-D input 0 ('dy'), got "
                     "f32[2,4,6,6]",
                     NULL);
}

static void pool_grad_errors(void **state) {
  (void)state;
  expect_parse_error("input dy: f32[2,3,4,4]\n"
                     "input x: f32[2,3,9,9]\n"
                     "dx = maxpool2d_grad(dy, x, kernel=3)\n"
                     "dx2 = maxpool2d_grad(dy, dy, kernel=[5,5], strides=2)\n"
                     "dx3 = avgpool2d_grad(dy, kernel=3, strides=2, xshape=[2,3,9])\n"
                     "dx4 = avgpool2d_grad(dy, kernel=3, strides=2, pads=3, xshape=[2,3,9,9])\n"
                     "dx5 = global_avgpool_grad(dy, xshape=[2,3,4,4])\n"
                     "dx6 = global_avgpool_grad(dy, xshape=[2,3])\n"
                     "output dx\n",
                     "test.smelt:3:6: error: maxpool2d_grad: 'dy' is f32[2,3,4,4], but the pool "
                     "of x f32[2,3,9,9] is f32[2,3,3,3]",
                     "test.smelt:4:7: error: maxpool2d_grad: kernel height 5 exceeds padded "
                     "input height 4: x is f32[2,3,4,4]",
                     "test.smelt:5:7: error: avgpool2d_grad: xshape needs 4 values, got 3",
                     "test.smelt:6:7: error: avgpool2d_grad: pads must be smaller than the "
                     "kernel, got 3 and 3 for kernel height 3",
                     "test.smelt:7:7: error: global_avgpool_grad: 'dy' is f32[2,3,4,4], but the "
                     "global pool of x f32[2,3,4,4] is f32[2,3,1,1]",
                     "test.smelt:8:7: error: global_avgpool_grad: xshape needs 3 to 8 values "
                     "([N,C,spatial...]), got 2",
                     NULL);
}

static void batchnorm_grad_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3,4]\n"
                     "input one: f32[1,3]\n"
                     "param s: f32[3] = ones\n"
                     "param b: f32[3] = zeros\n"
                     "param rm: f32[4] = zeros\n"
                     "param rv: f32[3] = ones\n"
                     "y, a, c, e, f = batchnorm_train(x, s, b, rm, rv)\n"
                     "y2, a2, c2, e2, f2 = batchnorm_train(one, s, b, rv, rv)\n"
                     "y3, a3, c3, e3, f3 = batchnorm_train(x, s, b, rv, rv, momentum=1.5)\n"
                     "d1, d2, d3 = batchnorm_train_grad(one, x, s, s, s)\n"
                     "g1, g2, g3, g4, g5 = batchnorm_grad(x, x, s, s, s, epsilon=-1)\n"
                     "output y\n",
                     "test.smelt:7:17: error: batchnorm_train: running_mean 'rm' must be [3] "
                     "(one per channel of f32[2,3,4]), got f32[4]",
                     "test.smelt:8:22: error: batchnorm_train: needs more than one value per "
                     "channel to take batch statistics, got x 'one' f32[1,3]",
                     "test.smelt:9:22: error: batchnorm_train: momentum must be in [0, 1], "
                     "got 1.5",
                     "test.smelt:10:14: error: batchnorm_train_grad: 'one' is f32[1,3], but x is "
                     "f32[2,3,4]",
                     "test.smelt:11:22: error: batchnorm_grad: epsilon must be non-negative, "
                     "got -1",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "param s: f32[3] = ones\n"
                     "param rv: f32[3] = ones\n"
                     "input xi: f32[3]\n"
                     "y, a, c, e, f = batchnorm_train(x, s, s, xi, rv)\n"
                     "output y\n",
                     "test.smelt:5:17: error: batchnorm_train: operand 'xi' is updated in "
                     "place but is not a parameter",
                     NULL);
  /* a running statistic read after the in-place update */
  expect_parse_error("input x: f32[2,3]\n"
                     "param s: f32[3] = ones\n"
                     "param rm: f32[3] = zeros\n"
                     "param rv: f32[3] = ones\n"
                     "y, a, c, e, f = batchnorm_train(x, s, s, rm, rv)\n"
                     "z = add(rm, a)\n"
                     "output z\n",
                     "test.smelt:6:5: error: add reads 'rm' after batchnorm_train updated it "
                     "in place",
                     NULL);
}

static void dropout_train_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3]\n"
                     "input fstep: f32[]\n"
                     "input step: i64[]\n"
                     "input steps: i64[2]\n"
                     "input xi: i64[2,3]\n"
                     "y, m = dropout_train(x, fstep, seed=1)\n"
                     "y2, m2 = dropout_train(x, steps, seed=1)\n"
                     "y3, m3 = dropout_train(x, step, ratio=1, seed=1)\n"
                     "y4, m4 = dropout_train(x, step)\n"
                     "y5, m5 = dropout_train(xi, step, seed=1)\n"
                     "y6, m6 = dropout_train(x, step, seed=1, stream=-1)\n"
                     "output y\n",
                     "test.smelt:6:8: error: dropout_train: step 'fstep' must be an i64 scalar, "
                     "got f32[]",
                     "test.smelt:7:10: error: dropout_train: step 'steps' must be an i64 scalar, "
                     "got i64[2]",
                     "test.smelt:8:10: error: dropout_train: ratio must be in [0, 1), got 1",
                     "test.smelt:9:10: error: dropout_train: missing required attribute 'seed'",
                     "test.smelt:10:10: error: dropout_train: expects a float input 0 ('xi'), "
                     "got i64[2,3]",
                     "test.smelt:11:10: error: dropout_train: stream must be non-negative, got -1",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(batchnorm_train_running_stats),
      cmocka_unit_test(maxpool_grad_ties_and_overlap),
      cmocka_unit_test(avgpool_grad_values),
      cmocka_unit_test(dropout_train_mask),
      cmocka_unit_test(opcheck_conv_grad_ops),
      cmocka_unit_test(opcheck_pool_grad_ops),
      cmocka_unit_test(opcheck_batchnorm_ops),
      cmocka_unit_test(opcheck_dropout_train),
      cmocka_unit_test(conv_grad_errors),
      cmocka_unit_test(pool_grad_errors),
      cmocka_unit_test(batchnorm_grad_errors),
      cmocka_unit_test(dropout_train_errors),
      cmocka_unit_test(grad_conv2d_stride_pads_bias),
      cmocka_unit_test(grad_conv2d_dilation_groups),
      cmocka_unit_test(grad_conv1d),
      cmocka_unit_test(grad_maxpool),
      cmocka_unit_test(grad_avgpool),
      cmocka_unit_test(grad_global_avgpool),
      cmocka_unit_test(grad_batchnorm),
      cmocka_unit_test(grad_batchnorm_train),
      cmocka_unit_test(grad_dropout_train),
      cmocka_unit_test(grad_small_cnn),
      cmocka_unit_test(grad_f64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
