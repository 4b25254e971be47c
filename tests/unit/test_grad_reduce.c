/* Gradients of the reductions, softmax/log_softmax and expand (ir/ops/reduce.c)
 * against central finite differences in the double interpreter, with the
 * compiled backward code checked against the interpreter (gradcheck); the
 * backward ops themselves (expand, reduce_max_grad, softmax_grad,
 * log_softmax_grad): hand-computed values, generated code vs the
 * interpreter, and shape-rule diagnostics with line:col. */
#include <math.h>
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"

/* the text's only output by the interpreter must match the values to 1e-12;
 * then the generated code must agree */
#define EXPECT_VALUES(text, ...) EXPECT_REF_VALUES(text, -1, 1e-12, true, __VA_ARGS__)

/* ---- gradients ---- */

/* one input per configuration, so a wrong rule shows up on its own input */
#define REDUCE_CONFIGS(op)                                                     \
  "input a: f32[3,5,7]\n"                                                      \
  "ya = " op "(a, axes=[1])\n"                                                 \
  "input b: f32[3,5,7]\n"                                                      \
  "yb = " op "(b, axes=[0,2], keepdims=0)\n"                                   \
  "input c: f32[3,5,7]\n"                                                      \
  "yc = " op "(c, keepdims=0)\n"                                               \
  "input d: f32[3,5,7]\n"                                                      \
  "yd = " op "(d, axes=[-1])\n"                                                \
  "input e: f32[2,1,4,3]\n"                                                    \
  "ye = " op "(e, axes=[1,3], keepdims=0)\n"                                   \
  "input f: f32[2,1,4,3]\n"                                                    \
  "yf = " op "(f, axes=[0])\n"                                                 \
  "input g: f32[5]\n"                                                          \
  "yg = " op "(g, axes=[0], keepdims=0)\n"                                     \
  "input h: f32[]\n"                                                           \
  "yh = " op "(h)\n"                                                           \
  "input k: f32[4,1]\n"                                                        \
  "yk = " op "(k, axes=[1], keepdims=0)\n"                                     \
  "output ya, yb, yc, yd, ye, yf, yg, yh, yk\n"

static void grad_reduce_sum(void **state) {
  (void)state;
  gradcheck(REDUCE_CONFIGS("reduce_sum"));
}

static void grad_reduce_mean(void **state) {
  (void)state;
  gradcheck(REDUCE_CONFIGS("reduce_mean"));
}

/* random inputs have no ties, so finite differences see a smooth max */
static void grad_reduce_max(void **state) {
  (void)state;
  gradcheck(REDUCE_CONFIGS("reduce_max"));
  /* all-negative values; long rows (the column-blocked emitter path, 300 =
   * 256 + 44 columns) */
  GradcheckOpts o = gradcheck_range(-5, -1);
  gradcheck_opts("input x: f32[3,4,300]\n"
                 "y = reduce_max(x, axes=[1])\n"
                 "input z: f32[2,3,5]\n"
                 "w = reduce_max(z, axes=[0,1], keepdims=0)\n"
                 "output y, w\n",
                 &o);
}

/* (gradcheck sums all outputs into one loss, so one dtype per text) */
static void grad_reduce_f64_and_long_rows(void **state) {
  (void)state;
  gradcheck("input a: f64[4,3,5]\n"
            "s = reduce_sum(a, axes=[1], keepdims=0)\n"
            "input b: f64[4,3,5]\n"
            "m = reduce_mean(b, axes=[0,2])\n"
            "input c: f64[4,3,5]\n"
            "x = reduce_max(c, axes=[2], keepdims=0)\n"
            "output s, m, x\n");
  gradcheck("input b: f32[2,1100]\n"
            "t = reduce_mean(b, axes=[0], keepdims=0)\n"
            "input c: f32[2,1100]\n"
            "u = reduce_sum(c, axes=[1])\n"
            "output t, u\n");
}

/* axis first, middle, last (default), negative; 1-D; a length-1 axis; a
 * middle axis with more than 256 columns after it (blocked emitter path) */
#define SOFTMAX_CONFIGS(op)                                                    \
  "input a: f32[4,5,6]\n"                                                      \
  "ya = " op "(a, axis=0)\n"                                                   \
  "input b: f32[4,5,6]\n"                                                      \
  "yb = " op "(b, axis=1)\n"                                                   \
  "input c: f32[4,5,6]\n"                                                      \
  "yc = " op "(c)\n"                                                           \
  "input d: f32[3,7,2]\n"                                                      \
  "yd = " op "(d, axis=-2)\n"                                                  \
  "input e: f32[9]\n"                                                          \
  "ye = " op "(e)\n"                                                           \
  "input f: f32[3,1,5]\n"                                                      \
  "yf = " op "(f, axis=1)\n"                                                   \
  "input g: f32[2,3,300]\n"                                                    \
  "yg = " op "(g, axis=1)\n"                                                   \
  "output ya, yb, yc, yd, ye, yf, yg\n"

static void grad_softmax(void **state) {
  (void)state;
  gradcheck(SOFTMAX_CONFIGS("softmax"));
}

static void grad_log_softmax(void **state) {
  (void)state;
  gradcheck(SOFTMAX_CONFIGS("log_softmax"));
}

/* large logits: exp(x) would overflow f32, the backward uses y only */
static void grad_softmax_wide(void **state) {
  (void)state;
  GradcheckOpts o = gradcheck_range(-100, 100);
  o.eps = 1e-5;
  gradcheck_opts("input x: f32[3,8]\ns = softmax(x)\n"
                 "input y: f32[3,8]\nl = log_softmax(y, axis=0)\n"
                 "output s, l\n",
                 &o);
  gradcheck_opts("input z: f64[2,5,3]\nt = softmax(z, axis=1)\n"
                 "input w: f64[2,5,3]\nu = log_softmax(w, axis=-1)\n"
                 "output t, u\n",
                 &o);
}

static void grad_expand(void **state) {
  (void)state;
  gradcheck("input a: f32[3,1,5]\nya = expand(a, shape=[2,3,4,5])\n"
            "input b: f32[5]\nyb = expand(b, shape=[2,1])\n"
            "input c: f32[3,1]\nyc = expand(c, shape=[1,4])\n"
            "input d: f32[]\nyd = expand(d, shape=[2,3])\n"
            "input e: f32[2,3]\nye = expand(e, shape=[2,3])\n"
            "input f: f32[4,1]\nyf = expand(f, shape=[1])\n"
            "output ya, yb, yc, yd, ye, yf\n");
}

/* a reduction feeding other ops: gradients flow through several rules */
static void grad_chain(void **state) {
  (void)state;
  gradcheck("input x: f32[4,6]\nparam w: f32[6] = normal(1)\n"
            "a = mul(x, w)\nm = reduce_max(a, axes=[1])\nb = sub(a, m)\n"
            "s = log_softmax(b)\nt = reduce_mean(s, axes=[0], keepdims=0)\n"
            "u = softmax(x, axis=0)\nv = reduce_sum(u, axes=[1])\n"
            "e = expand(v, shape=[4,6])\nf = mul(e, x)\n"
            "output t, f\n");
}

/* norm_stats through norm_stats_grad: both results used, only one (the
 * other's gradient is zero), rows of one value, f64; then the statistics
 * feeding the normalization as the norms use them */
static void grad_norm_stats(void **state) {
  (void)state;
  gradcheck("input a: f32[3,7]\nam, ar = norm_stats(a)\n"
            "input b: f32[2,3,5]\nbm, br = norm_stats(b, axis=1, epsilon=0.01)\n"
            "input c: f32[4,5]\ncm, cr = norm_stats(c)\n"
            "input d: f32[3,5]\ndm, dr = norm_stats(d, axis=0)\n"
            "input e: f32[5,1]\nem, er = norm_stats(e)\n"
            "output am, ar, bm, br, cr, dm\n");
  gradcheck("input x: f64[2,9]\nm, r = norm_stats(x)\noutput m, r\n");
  gradcheck("input x: f32[3,6]\nm, r = norm_stats(x)\nc = sub(x, m)\nh = mul(c, r)\n"
            "output h\n");
}

/* zero-size tensors: empty gradients, or zeros where the input is not empty */
static void grad_empty(void **state) {
  (void)state;
  gradcheck("input a: f32[0,3]\nya = reduce_sum(a, axes=[0])\n"
            "input b: f32[2,0]\nyb = reduce_mean(b, axes=[0], keepdims=0)\n"
            "input c: f32[0,4]\nyc = reduce_max(c, axes=[1])\n"
            "input d: f32[0,5]\nyd = softmax(d)\nye = log_softmax(d, axis=0)\n"
            "input f: f32[0]\nyf = expand(f, shape=[2,1])\n"
            "input g: f32[3,1]\nyg = expand(g, shape=[0])\n"
            "input h: f32[4]\nyh = reduce_sum(h)\n"
            "output ya, yb, yc, yd, ye, yf, yg, yh\n");
}

/* ---- backward ops: values and generated code ---- */

static void expand_values(void **state) {
  (void)state;
  EXPECT_VALUES("c = constant(shape=[3,1], value=[1,2,3])\n"
                "y: f32[3,2] = expand(c, shape=[2])\noutput y\n",
                1, 1, 2, 2, 3, 3);
  EXPECT_VALUES("c = constant(shape=[2], value=[1,2])\n"
                "y: f32[3,1,2] = expand(c, shape=[3,1,1])\noutput y\n",
                1, 2, 1, 2, 1, 2);
  /* bidirectional: [2,1] with [1,3] */
  EXPECT_VALUES("c = constant(shape=[2,1], value=[5,7])\n"
                "y: f32[2,3] = expand(c, shape=[1,3])\noutput y\n",
                5, 5, 5, 7, 7, 7);
  EXPECT_VALUES("c = constant(shape=[1,2,1], value=[4,6], dtype=\"i64\")\n"
                "y: i64[2,2,2] = expand(c, shape=[2,1,2])\noutput y\n",
                4, 4, 6, 6, 4, 4, 6, 6);
}

static void expand_generated(void **state) {
  (void)state;
  opcheck("input a: f32[3,1,5]\nya: f32[2,3,4,5] = expand(a, shape=[2,3,4,5])\n"
          "input b: f32[2,1,3,1]\nyb: f32[2,5,3,4] = expand(b, shape=[2,5,3,4])\n"
          "input c: f32[]\nyc: f32[2,3] = expand(c, shape=[2,3])\n"
          "input d: f32[1]\nyd: f32[1] = expand(d, shape=[])\n"
          "input e: f32[4,6]\nye: f32[4,6] = expand(e, shape=[1,1])\n"
          "input f: f32[1,300]\nyf: f32[200,300] = expand(f, shape=[200,1])\n"
          "input g: f64[7,1]\nyg: f64[3,7,9] = expand(g, shape=[3,1,9])\n"
          "input h: i32[2,1]\nyh: i32[2,0] = expand(h, shape=[0])\n"
          "input k: f32[1,1]\nyk: f32[1,1] = expand(k, shape=[1])\n"
          "output ya, yb, yc, yd, ye, yf, yg, yh, yk\n");
}

/* ties share dy evenly: three maxima of 2 get dy/3 each */
static void reduce_max_grad_ties(void **state) {
  (void)state;
  EXPECT_VALUES("x = constant(shape=[2,4], value=[2,1,2,2, 0,5,-1,5])\n"
                "y = reduce_max(x, axes=[1])\n"
                "g = constant(shape=[2,1], value=[3,4])\n"
                "dx: f32[2,4] = reduce_max_grad(x, y, g, axes=[1])\noutput dx\n",
                1, 0, 1, 1, 0, 2, 0, 2);
  EXPECT_VALUES("x = constant(shape=[2,3], value=[1,7,3, 4,7,6])\n"
                "y = reduce_max(x, axes=[0], keepdims=0)\n"
                "g = constant(shape=[3], value=[1,2,3])\n"
                "dx: f32[2,3] = reduce_max_grad(x, y, g, axes=[0], keepdims=0)\noutput dx\n",
                0, 1, 0, 1, 1, 3);
}

/* generated code vs interpreter, with many ties (clip to [-inf, 0]) and
 * without; inner rows below and above the 256-column block */
static void reduce_max_grad_generated(void **state) {
  (void)state;
  opcheck("input x: f32[3,5,7]\n"
          "c = clip(x, max=0)\n"
          "input r: f32[3,1,7]\n"
          "input s: f32[5]\n"
          "yc = reduce_max(c, axes=[1])\n"
          "dc: f32[3,5,7] = reduce_max_grad(c, yc, r, axes=[1])\n"
          "yx = reduce_max(x, axes=[0,2], keepdims=0)\n"
          "dx: f32[3,5,7] = reduce_max_grad(x, yx, s, axes=[0,2], keepdims=0)\n"
          "input q: f32[]\n"
          "yw = reduce_max(c, keepdims=0)\n"
          "dw: f32[3,5,7] = reduce_max_grad(c, yw, q, keepdims=0)\n"
          "input z: f32[2,3,600]\n"
          "cz = clip(z, max=0)\n"
          "input t: f32[2,600]\n"
          "yz = reduce_max(cz, axes=[1], keepdims=0)\n"
          "dz: f32[2,3,600] = reduce_max_grad(cz, yz, t, axes=[1], keepdims=0)\n"
          "input v: f64[1,4,1]\n"
          "input u: f64[1,1,1]\n"
          "yv = reduce_max(v, axes=[1])\n"
          "dv: f64[1,4,1] = reduce_max_grad(v, yv, u, axes=[1])\n"
          "output dc, dx, dw, dz, dv\n");
}

static void softmax_grad_generated(void **state) {
  (void)state;
  opcheck("input x: f32[4,5,6]\ninput g: f32[4,5,6]\n"
          "s0 = softmax(x, axis=0)\nd0: f32[4,5,6] = softmax_grad(s0, g, axis=0)\n"
          "s1 = softmax(x, axis=1)\nd1: f32[4,5,6] = softmax_grad(s1, g, axis=1)\n"
          "s2 = softmax(x)\nd2: f32[4,5,6] = softmax_grad(s2, g)\n"
          "l0 = log_softmax(x, axis=0)\ne0: f32[4,5,6] = log_softmax_grad(l0, g, axis=0)\n"
          "l1 = log_softmax(x, axis=-2)\ne1: f32[4,5,6] = log_softmax_grad(l1, g, axis=-2)\n"
          "l2 = log_softmax(x, axis=2)\ne2: f32[4,5,6] = log_softmax_grad(l2, g, axis=2)\n"
          "input z: f32[3,2,700]\ninput h: f32[3,2,700]\n"
          "sz = softmax(z, axis=1)\ndz: f32[3,2,700] = softmax_grad(sz, h, axis=1)\n"
          "lz = log_softmax(z, axis=0)\nez: f32[3,2,700] = log_softmax_grad(lz, h, axis=0)\n"
          "input w: f64[64,600]\ninput k: f64[64,600]\n"
          "sw = softmax(w)\ndw: f64[64,600] = softmax_grad(sw, k)\n"
          "lw = log_softmax(w)\new: f64[64,600] = log_softmax_grad(lw, k)\n"
          "output d0, d1, d2, e0, e1, e2, dz, ez, dw, ew\n");
}

/* ---- diagnostics ---- */

static void expand_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[3,4]\n"
                     "y = expand(x, shape=[2,5])\n"
                     "output y\n",
                     "test.smelt:2:5: error: expand: cannot broadcast f32[3,4] to shape [2,5]",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "  y = expand(x, shape=[2,-1])\n"
                     "output y\n",
                     "test.smelt:2:7: error: expand: shape [2,-1] has a negative dim", NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = expand(x, shape=[1,1,1,1,1,1,1,1,3])\n"
                     "output y\n",
                     "test.smelt:2:5: error: expand: shape [1,1,1,1,1,1,1,1,3] has rank 9 (at most 8)",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = expand(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: expand: missing required attribute 'shape'", NULL);
}

static void backward_op_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[3,4]\ninput y: f32[3,1]\ninput g: f32[3]\n"
                     "d = reduce_max_grad(x, y, g, axes=[1])\n"
                     "output d\n",
                     "test.smelt:4:5: error: reduce_max_grad: 'g' is f32[3], but the "
                     "reduction of x is f32[3,1]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\ninput y: f32[4]\ninput g: f32[4]\n"
                     "d = reduce_max_grad(x, y, g, axes=[1], keepdims=0)\n"
                     "output d\n",
                     "test.smelt:4:5: error: reduce_max_grad: 'y' is f32[4], but the "
                     "reduction of x is f32[3]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\ninput y: f32[3]\ninput g: f32[3]\n"
                     "d = reduce_max_grad(x, y, g, axes=[2])\n"
                     "output d\n",
                     "test.smelt:4:5: error: reduce_max_grad: axis 2 is out of range for "
                     "f32[3,4] (rank 2)",
                     NULL);
  expect_parse_error("input x: f32[3,4]\ninput y: f32[3]\n"
                     "d = reduce_max_grad(x, y)\n"
                     "output d\n",
                     "test.smelt:3:5: error: reduce_max_grad: expects 3 operands, got 2", NULL);
  expect_parse_error("input y: f32[3,4]\ninput g: f32[4,3]\n"
                     "d = softmax_grad(y, g)\n"
                     "output d\n",
                     "test.smelt:3:5: error: softmax_grad: dy 'g' is f32[4,3], but y 'y' is "
                     "f32[3,4]",
                     NULL);
  expect_parse_error("input y: f32[3,4]\ninput g: f64[3,4]\n"
                     "d = log_softmax_grad(y, g, axis=0)\n"
                     "output d\n",
                     "test.smelt:3:5: error: log_softmax_grad: dy 'g' is f64[3,4], but y 'y' "
                     "is f32[3,4]",
                     NULL);
  expect_parse_error("input y: f32[3,4]\ninput g: f32[3,4]\n"
                     "d = log_softmax_grad(y, g, axis=2)\n"
                     "output d\n",
                     "test.smelt:3:5: error: log_softmax_grad: axis 2 is out of range for "
                     "f32[3,4] (rank 2)",
                     NULL);
  expect_parse_error("input y: i64[3,4]\ninput g: i64[3,4]\n"
                     "d = softmax_grad(y, g)\n"
                     "output d\n",
                     "test.smelt:3:5: error: softmax_grad: expects a float input 0 ('y'), "
                     "got i64[3,4]",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(grad_reduce_sum),
      cmocka_unit_test(grad_reduce_mean),
      cmocka_unit_test(grad_reduce_max),
      cmocka_unit_test(grad_reduce_f64_and_long_rows),
      cmocka_unit_test(grad_softmax),
      cmocka_unit_test(grad_log_softmax),
      cmocka_unit_test(grad_softmax_wide),
      cmocka_unit_test(grad_expand),
      cmocka_unit_test(grad_chain),
      cmocka_unit_test(grad_empty),
      cmocka_unit_test(expand_values),
      cmocka_unit_test(expand_generated),
      cmocka_unit_test(reduce_max_grad_ties),
      cmocka_unit_test(reduce_max_grad_generated),
      cmocka_unit_test(grad_norm_stats),
      cmocka_unit_test(softmax_grad_generated),
      cmocka_unit_test(expand_errors),
      cmocka_unit_test(backward_op_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
