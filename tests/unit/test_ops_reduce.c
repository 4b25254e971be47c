/* reduce_sum / reduce_mean / reduce_max and softmax / log_softmax: generated
 * code against the reference interpreter over many axes sets, keepdims 0/1,
 * size-1 dims and every emitter path; shape-rule diagnostics with line:col.
 * norm_stats (mean and rstd of rows) and its elementwise backward op
 * norm_stats_grad the same way. Result annotations make the parser check
 * the inferred shapes too.
 * Reductions accumulate in double, so the default tolerance applies. */
#include "helpers/opcheck.h"

/* one sub-graph per axes set on x: f32[3,5,7] */
#define AXES_SETS(op, p)                                                       \
  p "a: f32[3,1,7] = " op "(x, axes=[1])\n"                                    \
  p "b: f32[5] = " op "(x, axes=[0,2], keepdims=0)\n"                          \
  p "c: f32[3,5,1] = " op "(x, axes=[-1])\n"                                   \
  p "d: f32[1,1,1] = " op "(x)\n"                                              \
  p "e: f32[] = " op "(x, keepdims=0)\n"                                       \
  p "f: f32[] = " op "(x, axes=[2,0,1], keepdims=0)\n"                         \
  p "g: f32[1,5,7] = " op "(x, axes=0)\n"                                      \
  p "h: f32[1,1,7] = " op "(x, axes=[-3,1])\n"                                 \
  p "i: f32[1,1,1] = " op "(x, axes=[])\n"                                     \
  p "j: f32[3,7] = " op "(x, axes=[1], keepdims=0)\n"

static const char *axes_model =
    "input x: f32[3,5,7]\n"
    AXES_SETS("reduce_sum", "s")
    AXES_SETS("reduce_mean", "m")
    AXES_SETS("reduce_max", "x")
    "output sa, sb, sc, sd, se, sf, sg, sh, si, sj\n"
    "output ma, mb, mc, md, me, mf, mg, mh, mi, mj\n"
    "output xa, xb, xc, xd, xe, xf, xg, xh, xi, xj\n";

static void reduce_axes_sets(void **state) {
  (void)state;
  opcheck(axes_model);
}

/* all-negative inputs: a max that starts from 0 instead of -inf fails */
static void reduce_max_negative(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-5, -1);
  opcheck_opts("input x: f32[3,5,7]\n"
               "a: f32[3,1,7] = reduce_max(x, axes=[1])\n"
               "b: f32[3,5] = reduce_max(x, axes=[2], keepdims=0)\n"
               "c: f32[] = reduce_max(x, keepdims=0)\n"
               "input w: f32[3,1100]\n"
               "d: f32[1100] = reduce_max(w, axes=[0], keepdims=0)\n"
               "output a, b, c, d\n",
               &o);
}

/* size-1 dims (reduced and kept), interleaved kept/reduced axes, a rank-0
 * input, and inner rows longer than the on-stack accumulator (1100) */
static void reduce_odd_shapes(void **state) {
  (void)state;
  opcheck("input p: f32[1,9,1,4]\n"
          "p0: f32[9,1,4] = reduce_sum(p, axes=[0], keepdims=0)\n"
          "p1: f32[1,1,1,1] = reduce_mean(p, axes=[1,3])\n"
          "p2: f32[1,9,4] = reduce_max(p, axes=[2], keepdims=0)\n"
          "p3: f32[9] = reduce_sum(p, axes=[0,2,3], keepdims=0)\n"
          "input q: f32[2,3,4,5]\n"
          "q0: f32[3,5] = reduce_sum(q, axes=[0,2], keepdims=0)\n"
          "q1: f32[2,1,4,1] = reduce_mean(q, axes=[1,3])\n"
          "q2: f32[2,1,4,5] = reduce_max(q, axes=[1])\n"
          "q3: f32[1,3,4,1] = reduce_sum(q, axes=[3,0])\n"
          "input s: f32[]\n"
          "s0: f32[] = reduce_sum(s)\n"
          "s1: f32[] = reduce_max(s, keepdims=0)\n"
          "input w: f32[3,1100]\n"
          "w0: f32[1100] = reduce_sum(w, axes=[0], keepdims=0)\n"
          "w1: f32[1,1100] = reduce_mean(w, axes=[-2])\n"
          "w2: f32[1,1100] = reduce_max(w, axes=[0])\n"
          "w3: f32[3] = reduce_mean(w, axes=[1], keepdims=0)\n"
          "input v: f32[2,3,1030]\n"
          "v0: f32[2,1,1030] = reduce_mean(v, axes=[1])\n"
          "output p0, p1, p2, p3, q0, q1, q2, q3, s0, s1, w0, w1, w2, w3, v0\n");
}

/* runs of adjacent reduced axes looped as one (the bias gradient's
 * [N, C, H, W] over 0, 2, 3 in two loops), a run ending before a kept
 * inner axis, a run broken by a kept axis, odd sizes */
static void reduce_merged_runs(void **state) {
  (void)state;
  opcheck("input x: f32[3,5,7,9]\n"
          "a: f32[5] = reduce_sum(x, axes=[0,2,3], keepdims=0)\n"
          "b: f32[3,1,1,9] = reduce_max(x, axes=[1,2])\n"
          "c: f32[7,9] = reduce_mean(x, axes=[0,1], keepdims=0)\n"
          "d: f32[7] = reduce_sum(x, axes=[0,1,3], keepdims=0)\n"
          "input y: f32[6,4,5,5]\n"
          "e: f32[4] = reduce_sum(y, axes=[0,2,3], keepdims=0)\n"
          "output a, b, c, d, e\n");
}

/* big enough for the parallel outer loop; long rows (1200 values each) */
static void reduce_large(void **state) {
  (void)state;
  opcheck("input x: f32[64,1200]\n"
          "a: f32[64] = reduce_sum(x, axes=[1], keepdims=0)\n"
          "b: f32[64,1] = reduce_mean(x, axes=[1])\n"
          "c: f32[64,1] = reduce_max(x, axes=[-1])\n"
          "input y: f32[40,30,33]\n"
          "d: f32[40,33] = reduce_sum(y, axes=[1], keepdims=0)\n"
          "e: f32[] = reduce_mean(y, keepdims=0)\n"
          "output a, b, c, d, e\n");
}

static void reduce_f64(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_tol(1e-12, 1e-12);
  opcheck_opts("input x: f64[4,3,5]\n"
               "a: f64[4,5] = reduce_sum(x, axes=[1], keepdims=0)\n"
               "b: f64[1,3,1] = reduce_mean(x, axes=[0,2])\n"
               "c: f64[4,3] = reduce_max(x, axes=[2], keepdims=0)\n"
               "output a, b, c\n",
               &o);
}

/* softmax and log_softmax on axis 0, middle and last; 1-D; length-1 axes */
#define SOFTMAX_SETS(op, p)                                                    \
  p "0: f32[4,5,6] = " op "(x, axis=0)\n"                                      \
  p "1: f32[4,5,6] = " op "(x, axis=1)\n"                                      \
  p "2: f32[4,5,6] = " op "(x)\n"                                              \
  p "3: f32[4,5,6] = " op "(x, axis=-2)\n"                                     \
  p "4: f32[4,5,6] = " op "(x, axis=2)\n"                                      \
  p "5: f32[7] = " op "(v)\n"                                                  \
  p "6: f32[1,9] = " op "(u, axis=0)\n"                                        \
  p "7: f32[3,1,5] = " op "(w, axis=1)\n"                                      \
  p "8: f32[3,1,5] = " op "(w, axis=-3)\n"

static const char *softmax_model =
    "input x: f32[4,5,6]\n"
    "input v: f32[7]\n"
    "input u: f32[1,9]\n"
    "input w: f32[3,1,5]\n"
    SOFTMAX_SETS("softmax", "s")
    SOFTMAX_SETS("log_softmax", "l")
    "output s0, s1, s2, s3, s4, s5, s6, s7, s8\n"
    "output l0, l1, l2, l3, l4, l5, l6, l7, l8\n";

static void softmax_axes(void **state) {
  (void)state;
  opcheck(softmax_model);
}

/* inputs in [-50, 50): differences of up to 100 */
static void softmax_wide_inputs(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-50, 50);
  opcheck_opts(softmax_model, &o);
}

/* inputs in [-200, 200): exp(200) overflows float, so an implementation
 * that does not subtract the max produces inf/nan here */
static void softmax_stable(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-200, 200);
  opcheck_opts(softmax_model, &o);
}

static void softmax_large(void **state) {
  (void)state;
  opcheck("input x: f32[64,130]\n"
          "a: f32[64,130] = softmax(x)\n"
          "b: f32[64,130] = log_softmax(x)\n"
          "c: f32[64,130] = softmax(x, axis=0)\n"
          "input y: f64[3,17,11]\n"
          "d: f64[3,17,11] = softmax(y, axis=1)\n"
          "e: f64[3,17,11] = log_softmax(y, axis=1)\n"
          "output a, b, c, d, e\n");
}

/* norm_stats over the last dim, several trailing dims, every dim, rows of
 * one value (R = 1: var 0, rstd 1/sqrt(eps)), a row count of one, odd sizes,
 * and f64 */
static void norm_stats_shapes(void **state) {
  (void)state;
  opcheck("input a: f32[3,7]\n"
          "am: f32[3,1], ar: f32[3,1] = norm_stats(a)\n"
          "input b: f32[2,3,5]\n"
          "bm: f32[2,1,1], br: f32[2,1,1] = norm_stats(b, axis=1, epsilon=0.01)\n"
          "cm: f32[1,1,1], cr: f32[1,1,1] = norm_stats(b, axis=-3)\n"
          "input d: f32[5,1]\n"
          "dm: f32[5,1], dr: f32[5,1] = norm_stats(d)\n"
          "input e: f32[1,13]\n"
          "em: f32[1,1], er: f32[1,1] = norm_stats(e, epsilon=0)\n"
          "input f: f32[9]\n"
          "fm: f32[1], fr: f32[1] = norm_stats(f)\n"
          "input g: f64[4,3,3]\n"
          "gm: f64[4,1,1], gr: f64[4,1,1] = norm_stats(g, axis=1)\n"
          "output am, ar, bm, br, cm, cr, dm, dr, em, er, fm, fr, gm, gr\n");
}

/* inputs far from 0 (mean 1000, spread 1): a one-pass E[x^2] - E[x]^2 in
 * float loses the variance here; rows long enough for the thread team */
static void norm_stats_offset_large(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(999, 1001);
  opcheck_opts("input x: f32[5,301]\n"
               "m, r = norm_stats(x)\n"
               "input y: f32[256,2,300]\n"
               "ym, yr = norm_stats(y, axis=1)\n"
               "output m, r, ym, yr\n",
               &o);
}

/* the backward op directly: statistics of the right shape, any values */
static void norm_stats_grad_generated(void **state) {
  (void)state;
  opcheck("input xa: f32[3,7]\ninput ra: f32[3,1]\ninput ma: f32[3,1]\ninput sa: f32[3,1]\n"
          "ga: f32[3,7] = norm_stats_grad(xa, ra, ma, sa)\n"
          "input xb: f32[2,3,5]\ninput rb: f32[2,1,1]\ninput mb: f32[2,1,1]\n"
          "input sb: f32[2,1,1]\n"
          "gb: f32[2,3,5] = norm_stats_grad(xb, rb, mb, sb, axis=1)\n"
          "input xc: f64[4,1]\ninput rc: f64[4,1]\n"
          "gc: f64[4,1] = norm_stats_grad(xc, rc, rc, rc)\n"
          "output ga, gb, gc\n");
}

/* ---- diagnostics: message and line:col of the op name ---- */

static void reduce_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_sum(x, axes=[2])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_sum: axis 2 is out of range for "
                     "f32[3,4] (rank 2)",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_mean(x, axes=[0,-3])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_mean: axis -3 is out of range for "
                     "f32[3,4] (rank 2)",
                     NULL);
  expect_parse_error("input x: f32[]\n"
                     "y = reduce_max(x, axes=[0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_max: axis 0 is out of range for "
                     "f32[] (rank 0)",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "\n"
                     "   y = reduce_sum(x, axes=[1,-1])\n"
                     "output y\n",
                     "test.smelt:3:8: error: reduce_sum: axes lists axis 1 twice (as 1 "
                     "and -1) for f32[3,4]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_max(x, axes=[0,0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_max: axes lists axis 0 twice (as 0 "
                     "and 0) for f32[3,4]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_sum(x, keepdims=2)\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_sum: keepdims must be 0 or 1, got 2",
                     NULL);
  expect_parse_error("input x: i64[3,4]\n"
                     "y = reduce_sum(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: reduce_sum: expects a float input 0 ('x'), "
                     "got i64[3,4]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_sum(x, axes=[0.5])\n"
                     "output y\n",
                     "test.smelt:2:19: error: reduce_sum: attribute 'axes' must be a list "
                     "of integers",
                     NULL);
  /* each bad node is reported */
  expect_parse_error("input x: f32[3,4]\n"
                     "y = reduce_sum(x, axes=[5])\n"
                     "z = reduce_mean(x, keepdims=-1)\n"
                     "output y, z\n",
                     "test.smelt:2:5: error: reduce_sum: axis 5 is out of range",
                     "test.smelt:3:5: error: reduce_mean: keepdims must be 0 or 1, got -1",
                     NULL);
}

static void softmax_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[3,4]\n"
                     "y = softmax(x, axis=2)\n"
                     "output y\n",
                     "test.smelt:2:5: error: softmax: axis 2 is out of range for f32[3,4] "
                     "(rank 2)",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = log_softmax(x, axis=-3)\n"
                     "output y\n",
                     "test.smelt:2:5: error: log_softmax: axis -3 is out of range for "
                     "f32[3,4] (rank 2)",
                     NULL);
  expect_parse_error("input x: f32[]\n"
                     "y = softmax(x, axis=0)\n"
                     "output y\n",
                     "test.smelt:2:5: error: softmax: axis 0 is out of range for f32[] "
                     "(rank 0)",
                     NULL);
  expect_parse_error("input x: f32[]\n"
                     "y = log_softmax(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: log_softmax: axis -1 is out of range for f32[] "
                     "(rank 0)",
                     NULL);
  expect_parse_error("input x: i32[3,4]\n"
                     "y = softmax(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: softmax: expects a float input 0 ('x'), got "
                     "i32[3,4]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "input z: f32[3,4]\n"
                     "y = softmax(x, z)\n"
                     "output y\n",
                     "test.smelt:3:5: error: softmax: expects 1 operand, got 2", NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "y = softmax(x, axes=[1])\n"
                     "output y\n",
                     "test.smelt:2:16: error: softmax: unknown attribute 'axes' (known: axis)",
                     NULL);
}

static void norm_stats_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[3,4]\n"
                     "m, r = norm_stats(x, axis=2)\n"
                     "output m, r\n",
                     "test.smelt:2:8: error: norm_stats: axis 2 is out of range for x 'x' "
                     "f32[3,4]",
                     NULL);
  expect_parse_error("input x: f32[]\n"
                     "m, r = norm_stats(x)\n"
                     "output m, r\n",
                     "test.smelt:2:8: error: norm_stats: axis -1 is out of range for x 'x' "
                     "f32[]",
                     NULL);
  expect_parse_error("input x: f32[3,0]\n"
                     "m, r = norm_stats(x)\n"
                     "output m, r\n",
                     "test.smelt:2:8: error: norm_stats: normalizes over no elements: x 'x' "
                     "is f32[3,0]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "m, r = norm_stats(x, epsilon=-1)\n"
                     "output m, r\n",
                     "test.smelt:2:8: error: norm_stats: epsilon must be finite and "
                     "non-negative, got -1",
                     NULL);
  expect_parse_error("input x: i64[3,4]\n"
                     "m, r = norm_stats(x)\n"
                     "output m, r\n",
                     "test.smelt:2:8: error: norm_stats: expects a float input 0 ('x'), "
                     "got i64[3,4]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\n"
                     "m = norm_stats(x)\n"
                     "output m\n",
                     "test.smelt:2:5: error: norm_stats: produces 2 results, 1 named", NULL);
  expect_parse_error("input x: f32[3,4]\ninput s: f32[3]\n"
                     "g = norm_stats_grad(x, s, s, s)\n"
                     "output g\n",
                     "test.smelt:3:5: error: norm_stats_grad: rstd 's' must be f32[3,1] (the "
                     "statistics of xc), got f32[3]",
                     NULL);
  expect_parse_error("input x: f32[3,4]\ninput s: f32[3,1]\ninput t: f32[1,1]\n"
                     "g = norm_stats_grad(x, s, s, t, axis=1)\n"
                     "output g\n",
                     "test.smelt:4:5: error: norm_stats_grad: drstd 't' must be f32[3,1] (the "
                     "statistics of xc), got f32[1,1]",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reduce_axes_sets),
      cmocka_unit_test(reduce_max_negative),
      cmocka_unit_test(reduce_odd_shapes),
      cmocka_unit_test(reduce_merged_runs),
      cmocka_unit_test(reduce_large),
      cmocka_unit_test(reduce_f64),
      cmocka_unit_test(softmax_axes),
      cmocka_unit_test(softmax_wide_inputs),
      cmocka_unit_test(softmax_stable),
      cmocka_unit_test(softmax_large),
      cmocka_unit_test(reduce_errors),
      cmocka_unit_test(softmax_errors),
      cmocka_unit_test(norm_stats_shapes),
      cmocka_unit_test(norm_stats_offset_large),
      cmocka_unit_test(norm_stats_grad_generated),
      cmocka_unit_test(norm_stats_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
