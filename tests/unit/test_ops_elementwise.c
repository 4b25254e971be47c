/* Elementwise ops (ir/ops/elementwise.c): generated code against the
 * reference interpreter on broadcasting shapes (including rank 0, [1] and
 * size-1 dims), f32, f64 and integer dtypes; result types through `y: T =`
 * annotations; and diagnostics with their line:col. */
#include <stdio.h>
#include <string.h>

#include "helpers/opcheck.h"

/* Every binary op on the same set of shapes:
 *   [3,1,5] op [4,1] and its mirror, equal shapes, [1] and rank-0 operands
 *   on either side, rank growth [2,1,1] op [2,3], and a broadcast big enough
 *   for an OpenMP loop. */
static void check_binary(const char *op, const char *t, const OpcheckOpts *o) {
  char text[2048];
  snprintf(text, sizeof text,
           "input a: %s[3,1,5]\n"
           "input b: %s[4,1]\n"
           "input c: %s[2,3]\n"
           "input d: %s[2,3]\n"
           "input s: %s[1]\n"
           "input r: %s[]\n"
           "input e: %s[2,1,1]\n"
           "input p: %s[40,1,33]\n"
           "input q: %s[30,1]\n"
           "y1: %s[3,4,5] = %s(a, b)\n"
           "y2: %s[3,4,5] = %s(b, a)\n"
           "y3: %s[2,3] = %s(c, d)\n"
           "y4: %s[2,3] = %s(s, c)\n"
           "y5: %s[2,3] = %s(c, r)\n"
           "y6: %s[] = %s(r, r)\n"
           "y7: %s[1] = %s(s, r)\n"
           "y8: %s[2,2,3] = %s(e, c)\n"
           "y9: %s[40,30,33] = %s(p, q)\n"
           "output y1, y2, y3, y4, y5, y6, y7, y8, y9\n",
           t, t, t, t, t, t, t, t, t, t, op, t, op, t, op, t, op, t, op, t, op, t, op, t, op,
           t, op);
  opcheck_opts(text, o);
}

/* A unary op (attrs: ", alpha=0.2" or "") on four shapes, size-1 and rank-0
 * among them. */
static void check_unary(const char *op, const char *attrs, const char *t,
                        const OpcheckOpts *o) {
  char text[1024];
  snprintf(text, sizeof text,
           "input a: %s[3,1,5]\n"
           "input b: %s[7]\n"
           "input c: %s[]\n"
           "input e: %s[1,1,1]\n"
           "ya: %s[3,1,5] = %s(a%s)\n"
           "yb: %s[7] = %s(b%s)\n"
           "yc: %s[] = %s(c%s)\n"
           "ye: %s[1,1,1] = %s(e%s)\n"
           "output ya, yb, yc, ye\n",
           t, t, t, t, t, op, attrs, t, op, attrs, t, op, attrs, t, op, attrs);
  opcheck_opts(text, o);
}

/* f64 kernels must be accurate to double precision, not just to float */
static OpcheckOpts f64_opts(double lo, double hi) {
  OpcheckOpts o = opcheck_range(lo, hi);
  o.rtol = 1e-10;
  o.atol = 1e-12;
  return o;
}

/* ---- binary ---- */

static void test_add_sub_mul(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2), i = opcheck_ints(-1000, 1000);
  static const char *ops[] = {"add", "sub", "mul"};
  for (int k = 0; k < 3; k++) {
    check_binary(ops[k], "f32", &o);
    check_binary(ops[k], "f64", &d);
    check_binary(ops[k], "i64", &i);
  }
  check_binary("add", "i32", &i);
}

static void test_div(void **state) {
  (void)state;
  /* division is well conditioned; only 0 must be kept out of divisors */
  OpcheckOpts o = opcheck_range(0.25, 4), d = f64_opts(0.25, 4), n = opcheck_range(-4, -0.25);
  check_binary("div", "f32", &o);
  check_binary("div", "f32", &n);
  check_binary("div", "f64", &d);
  /* integer division truncates toward zero, also for negative numerators */
  OpcheckOpts i = opcheck_ints(1, 1000);
  opcheck_opts("input a: i64[3,1,5]\n"
               "input b: i64[4,1]\n"
               "input c: i64[2,3]\n"
               "input s: i64[]\n"
               "na = neg(a)\n"
               "y1: i64[3,4,5] = div(a, b)\n"
               "y2: i64[3,4,5] = div(na, b)\n"
               "y3: i64[2,3] = div(c, s)\n"
               "y4: i64[2,3] = div(s, c)\n"
               "output y1, y2, y3, y4\n",
               &i);
}

static void test_pow(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(0.5, 2), d = f64_opts(0.5, 2);
  check_binary("pow", "f32", &o);
  check_binary("pow", "f64", &d);
}

static void test_min_max(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2), i = opcheck_ints(-1000, 1000);
  check_binary("min", "f32", &o);
  check_binary("max", "f32", &o);
  check_binary("min", "f64", &d);
  check_binary("max", "f64", &d);
  check_binary("min", "i64", &i);
  check_binary("max", "i64", &i);
  check_binary("max", "i32", &i);
}

/* ---- unary ---- */

static void test_neg_abs(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2), i = opcheck_ints(-1000, 1000);
  check_unary("neg", "", "f32", &o);
  check_unary("abs", "", "f32", &o);
  check_unary("neg", "", "f64", &d);
  check_unary("abs", "", "f64", &d);
  check_unary("neg", "", "i64", &i);
  check_unary("abs", "", "i64", &i);
  check_unary("abs", "", "i32", &i);
}

static void test_exp_log_sqrt_reciprocal(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2);
  check_unary("exp", "", "f32", &o);
  check_unary("exp", "", "f64", &d);
  OpcheckOpts p = opcheck_range(0.5, 4), pd = f64_opts(0.5, 4);
  check_unary("log", "", "f32", &p);
  check_unary("log", "", "f64", &pd);
  check_unary("sqrt", "", "f32", &p);
  check_unary("sqrt", "", "f64", &pd);
  check_unary("reciprocal", "", "f32", &p);
  check_unary("reciprocal", "", "f64", &pd);
  OpcheckOpts n = opcheck_range(-4, -0.5);
  check_unary("reciprocal", "", "f32", &n);
}

static void test_relu_family(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2);
  check_unary("relu", "", "f32", &o);
  check_unary("relu", "", "f64", &d);
  check_unary("leaky_relu", "", "f32", &o);
  check_unary("leaky_relu", ", alpha=0.2", "f32", &o);
  check_unary("leaky_relu", ", alpha=-1.5", "f32", &o);
  check_unary("leaky_relu", "", "f64", &d);
  check_unary("leaky_relu", ", alpha=0.3", "f64", &d);
  check_unary("elu", "", "f32", &o);
  check_unary("elu", ", alpha=0.5", "f32", &o);
  check_unary("elu", ", alpha=0.1", "f64", &d);
}

static void test_sigmoid_tanh_softplus(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-6, 6), d = f64_opts(-6, 6);
  check_unary("sigmoid", "", "f32", &o);
  check_unary("sigmoid", "", "f64", &d);
  check_unary("tanh", "", "f32", &o);
  check_unary("tanh", "", "f64", &d);
  check_unary("softplus", "", "f32", &o);
  check_unary("softplus", "", "f64", &d);
}

static void test_gelu(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-4, 4), d = f64_opts(-4, 4);
  check_unary("gelu", "", "f32", &o);
  check_unary("gelu", ", approximate=\"none\"", "f32", &o);
  check_unary("gelu", ", approximate=\"tanh\"", "f32", &o);
  check_unary("gelu", "", "f64", &d);
  check_unary("gelu", ", approximate=\"tanh\"", "f64", &d);
}

static void test_clip(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2);
  check_unary("clip", ", min=-0.5, max=0.75", "f32", &o);
  check_unary("clip", ", min=0", "f32", &o);
  check_unary("clip", ", max=-1", "f32", &o);
  check_unary("clip", "", "f32", &o);
  check_unary("clip", ", min=1, max=1", "f32", &o);
  check_unary("clip", ", min=-0.3, max=0.3", "f64", &d);
}

static void test_identity_dropout(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults(), d = f64_opts(-2, 2), i = opcheck_ints(-1000, 1000);
  check_unary("identity", "", "f32", &o);
  check_unary("identity", "", "f64", &d);
  check_unary("identity", "", "i64", &i);
  check_unary("dropout", "", "f32", &o);
  check_unary("dropout", ", ratio=0.25", "f32", &o);
  check_unary("dropout", ", ratio=0", "i64", &i);
}

/* elementwise ops chained through broadcasts in one graph */
static void test_chain(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(0.5, 2);
  opcheck_opts("input x: f32[3,1,5]\n"
               "input w: f32[4,1]\n"
               "input s: f32[]\n"
               "h = mul(x, w)\n"
               "l = log(h)\n"
               "g = gelu(l, approximate=\"tanh\")\n"
               "q = sqrt(h)\n"
               "y: f32[3,4,5] = sub(g, q)\n"
               "z: f32[3,4,5] = clip(y, min=-0.5, max=0.5)\n"
               "u: f32[3,4,5] = pow(h, s)\n"
               "output y, z, u\n",
               &o);
}

/* ---- diagnostics ---- */

static void test_errors(void **state) {
  (void)state;
  expect_parse_error("input a: f32[3,4]\n"
                     "input b: f32[2,4]\n"
                     "y = add(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: add: shapes f32[3,4] and f32[2,4] do not broadcast",
                     NULL);
  expect_parse_error("input a: f32[3,1,5]\n"
                     "input b: f32[4,2]\n"
                     "\n"
                     "   y = mul(a, b)  # trailing comment\n"
                     "output y\n",
                     "test.smelt:4:8: error: mul: shapes f32[3,1,5] and f32[4,2] do not broadcast",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = relu(x, alpha=0.1)\n"
                     "output y\n",
                     "test.smelt:2:13: error: relu: unknown attribute 'alpha' (it takes no "
                     "attributes)",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = leaky_relu(x, beta=0.1)\n"
                     "output y\n",
                     "test.smelt:2:19: error: leaky_relu: unknown attribute 'beta' (known: alpha)",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = leaky_relu(x, alpha=\"big\")\n"
                     "output y\n",
                     "test.smelt:2:19: error: leaky_relu: attribute 'alpha' must be a number",
                     NULL);
  expect_parse_error("input x: f32[3]\n"
                     "y = clip(x, min=2, max=1)\n"
                     "output y\n",
                     "test.smelt:2:5: error: clip: min 2 is greater than max 1", NULL);
  expect_parse_error("input x: i64[3]\n"
                     "y = exp(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: exp: expects a float input 0 ('x'), got i64[3]", NULL);
  expect_parse_error("input x: f32[2]\n"
                     "input n: i32[2]\n"
                     "y = pow(x, n)\n"
                     "output y\n",
                     "test.smelt:3:5: error: pow: expects a float input 1 ('n'), got i32[2]", NULL);
  expect_parse_error("input a: f32[2]\n"
                     "input b: f64[2]\n"
                     "y = add(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: add: operand dtypes differ: 'a' is f32, 'b' is f64",
                     NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = gelu(x, approximate=\"fast\")\n"
                     "output y\n",
                     "test.smelt:2:5: error: gelu: approximate must be \"none\" or \"tanh\", got "
                     "\"fast\"",
                     NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = dropout(x, ratio=1)\n"
                     "output y\n",
                     "test.smelt:2:5: error: dropout: ratio must be in [0, 1), got 1", NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = add(x)\n"
                     "z = relu(x, x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: add: expects 2 operands, got 1",
                     "test.smelt:3:5: error: relu: expects 1 operand, got 2", NULL);
  /* all errors of a file are reported; a bad line does not cascade */
  expect_parse_error("input x: f32[2]\n"
                     "input w: f32[3]\n"
                     "y = sub(x, w)\n"
                     "z = relu(y)\n"
                     "v = sqrt(w, w)\n"
                     "output z, v\n",
                     "test.smelt:3:5: error: sub: shapes f32[2] and f32[3] do not broadcast",
                     "test.smelt:5:5: error: sqrt: expects 1 operand, got 2", NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y: f32[3] = tanh(x)\n"
                     "output y\n",
                     "test.smelt:2:1: error: 'y' is declared f32[3] but tanh produces f32[2]",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_sub_mul),
      cmocka_unit_test(test_div),
      cmocka_unit_test(test_pow),
      cmocka_unit_test(test_min_max),
      cmocka_unit_test(test_neg_abs),
      cmocka_unit_test(test_exp_log_sqrt_reciprocal),
      cmocka_unit_test(test_relu_family),
      cmocka_unit_test(test_sigmoid_tanh_softplus),
      cmocka_unit_test(test_gelu),
      cmocka_unit_test(test_clip),
      cmocka_unit_test(test_identity_dropout),
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
