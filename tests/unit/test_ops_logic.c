/* Comparisons, boolean logic, where, cast, argmax/argmin (ir/ops/logic.c):
 * hand-computed values in the reference interpreter, generated code
 * against the interpreter on broadcasting and odd shapes (rank 0, [1],
 * size-1 dims, a loop big enough for OpenMP), every dtype pair of cast,
 * mixed-dtype fusion (kernel counts), and diagnostics with line:col. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/opcheck.h"
#include "passes/passes.h"

#define EXPECT_VALUES(text, dt, ...) EXPECT_REF_VALUES(text, (int)(dt), 0, false, __VA_ARGS__)

/* a binary op over dtype t on broadcasting shapes; result dtype rt */
static void check_binary(const char *op, const char *t, const char *rt, const OpcheckOpts *o) {
  char text[2048];
  snprintf(text, sizeof text,
           "input a: %s[3,1,5]\n"
           "input b: %s[4,1]\n"
           "input c: %s[2,3]\n"
           "input d: %s[2,3]\n"
           "input s: %s[1]\n"
           "input r: %s[]\n"
           "input p: %s[40,1,33]\n"
           "input q: %s[30,1]\n"
           "y1: %s[3,4,5] = %s(a, b)\n"
           "y2: %s[3,4,5] = %s(b, a)\n"
           "y3: %s[2,3] = %s(c, d)\n"
           "y4: %s[2,3] = %s(s, c)\n"
           "y5: %s[2,3] = %s(c, r)\n"
           "y6: %s[] = %s(r, r)\n"
           "y7: %s[40,30,33] = %s(p, q)\n"
           "output y1, y2, y3, y4, y5, y6, y7\n",
           t, t, t, t, t, t, t, t, rt, op, rt, op, rt, op, rt, op, rt, op, rt, op, rt, op);
  opcheck_opts(text, o);
}

/* ---- comparisons ---- */

static void test_compare_values(void **state) {
  (void)state;
  /* [1, 2, 3] against [[2], [0]] */
  const char *fmt = "a = constant(shape=[3], value=[1, 2, 3])\n"
                    "b = constant(shape=[2,1], value=[2, 0])\n"
                    "y = %s(a, b)\n"
                    "output y\n";
  char text[512];
  snprintf(text, sizeof text, fmt, "equal");
  EXPECT_VALUES(text, IR_BOOL, 0, 1, 0, 0, 0, 0);
  snprintf(text, sizeof text, fmt, "less");
  EXPECT_VALUES(text, IR_BOOL, 1, 0, 0, 0, 0, 0);
  snprintf(text, sizeof text, fmt, "less_equal");
  EXPECT_VALUES(text, IR_BOOL, 1, 1, 0, 0, 0, 0);
  snprintf(text, sizeof text, fmt, "greater");
  EXPECT_VALUES(text, IR_BOOL, 0, 0, 1, 1, 1, 1);
  snprintf(text, sizeof text, fmt, "greater_equal");
  EXPECT_VALUES(text, IR_BOOL, 0, 1, 1, 1, 1, 1);
}

static void test_compare(void **state) {
  (void)state;
  static const char *ops[] = {"equal", "less", "greater", "less_equal", "greater_equal"};
  /* small integer ranges give many ties */
  OpcheckOpts f = opcheck_defaults(), i = opcheck_ints(-2, 2), u = opcheck_ints(0, 3);
  for (int k = 0; k < 5; k++) {
    check_binary(ops[k], "f32", "bool", &f);
    check_binary(ops[k], "i64", "bool", &i);
    check_binary(ops[k], "i32", "bool", &i);
    check_binary(ops[k], "u8", "bool", &u);
  }
  check_binary("equal", "bool", "bool", &f);
  check_binary("less", "f64", "bool", &f);
  /* float ties through a cast of small integers */
  opcheck("input a: i64[5,7]\n"
          "input b: i64[7]\n"
          "fa = cast(a, to=\"f32\")\n"
          "fb = cast(b, to=\"f32\")\n"
          "e = equal(fa, fb)\n"
          "g = greater_equal(fa, fb)\n"
          "output e, g\n");
}

/* ---- logic ---- */

static void test_logic_values(void **state) {
  (void)state;
  const char *fmt = "a = constant(shape=[4], value=[0, 1, 0, 1], dtype=\"bool\")\n"
                    "b = constant(shape=[4], value=[0, 0, 1, 1], dtype=\"bool\")\n"
                    "y = %s\n"
                    "output y\n";
  char text[512];
  snprintf(text, sizeof text, fmt, "and(a, b)");
  EXPECT_VALUES(text, IR_BOOL, 0, 0, 0, 1);
  snprintf(text, sizeof text, fmt, "or(a, b)");
  EXPECT_VALUES(text, IR_BOOL, 0, 1, 1, 1);
  snprintf(text, sizeof text, fmt, "xor(a, b)");
  EXPECT_VALUES(text, IR_BOOL, 0, 1, 1, 0);
  snprintf(text, sizeof text, fmt, "not(b)");
  EXPECT_VALUES(text, IR_BOOL, 1, 1, 0, 0);
}

static void test_logic(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_defaults();
  check_binary("and", "bool", "bool", &o);
  check_binary("or", "bool", "bool", &o);
  check_binary("xor", "bool", "bool", &o);
  opcheck("input a: bool[3,1,5]\n"
          "input b: bool[7]\n"
          "input c: bool[]\n"
          "input e: bool[1,1,1]\n"
          "input p: bool[300,500]\n"
          "ya = not(a)\n"
          "yb = not(b)\n"
          "yc = not(c)\n"
          "ye = not(e)\n"
          "yp = not(p)\n"
          "output ya, yb, yc, ye, yp\n");
}

/* ---- where ---- */

static void test_where_values(void **state) {
  (void)state;
  EXPECT_VALUES("c = constant(shape=[2,1], value=[1, 0], dtype=\"bool\")\n"
                "x = constant(shape=[3], value=[1, 2, 3])\n"
                "y = constant(shape=[], value=[-1])\n"
                "w = where(c, x, y)\n"
                "output w\n",
                IR_F32, 1, 2, 3, -1, -1, -1);
  /* the unselected side never leaks, not even inf or nan */
  EXPECT_VALUES("c = constant(shape=[3], value=[1, 0, 1], dtype=\"bool\")\n"
                "x = constant(shape=[3], value=[5, inf, 7], dtype=\"f64\")\n"
                "y = constant(shape=[3], value=[-inf, 8, -inf], dtype=\"f64\")\n"
                "w = where(c, x, y)\n"
                "output w\n",
                IR_F64, 5, 8, 7);
}

static void test_where(void **state) {
  (void)state;
  static const char *types[] = {"f32", "f64", "i64", "i32", "u8", "bool"};
  for (int k = 0; k < 6; k++) {
    const char *t = types[k];
    char text[2048];
    snprintf(text, sizeof text,
             "input c1: bool[3,1,5]\n"
             "input x1: %s[4,1]\n"
             "input y1: %s[5]\n"
             "w1: %s[3,4,5] = where(c1, x1, y1)\n"
             "input c2: bool[]\n"
             "input x2: %s[2,3]\n"
             "input y2: %s[1]\n"
             "w2: %s[2,3] = where(c2, x2, y2)\n"
             "input c3: bool[2,1]\n"
             "input x3: %s[]\n"
             "input y3: %s[]\n"
             "w3: %s[2,1] = where(c3, x3, y3)\n"
             "input c4: bool[40,30,1]\n"
             "input x4: %s[40,1,33]\n"
             "input y4: %s[30,33]\n"
             "w4: %s[40,30,33] = where(c4, x4, y4)\n"
             "output w1, w2, w3, w4\n",
             t, t, t, t, t, t, t, t, t, t, t, t);
    OpcheckOpts o = opcheck_ints(-100, 100);
    if (!strcmp(t, "u8")) o = opcheck_ints(0, 255);
    opcheck_opts(text, &o);
  }
}

/* ---- cast ---- */

static void test_cast_values(void **state) {
  (void)state;
  /* float -> int truncates toward zero; -> bool is x != 0 */
  EXPECT_VALUES("x = constant(shape=[5], value=[-2.75, -0.5, 0, 0.5, 300.25], dtype=\"f64\")\n"
                "y = cast(x, to=\"i32\")\n"
                "output y\n",
                IR_I32, -2, 0, 0, 0, 300);
  EXPECT_VALUES("x = constant(shape=[4], value=[-0.5, 0, 2, -inf])\n"
                "y = cast(x, to=\"bool\")\n"
                "output y\n",
                IR_BOOL, 1, 0, 1, 1);
  /* int -> narrower int wraps */
  EXPECT_VALUES("x = constant(shape=[4], value=[-1, 256, 257, 4294967297], dtype=\"i64\")\n"
                "y = cast(x, to=\"u8\")\n"
                "z = cast(x, to=\"i32\")\n"
                "s = cast(y, to=\"i64\")\n"
                "t = cast(z, to=\"i64\")\n"
                "u = add(s, t)\n"
                "output u\n",
                IR_I64, 255 - 1, 0 + 256, 1 + 257, 1 + 1);
  /* f64 -> f32 rounds to nearest (and overflows to inf) */
  EXPECT_VALUES("x = constant(shape=[4], value=[0.1, 1e300, -3.4028235e38, 3.40282357e38], dtype=\"f64\")\n"
                "y = cast(x, to=\"f32\")\n"
                "output y\n",
                IR_F32, (double)0.1f, INFINITY, -(double)FLT_MAX, INFINITY);
}

static void test_cast(void **state) {
  (void)state;
  static const char *types[] = {"f32", "f64", "i64", "i32", "u8", "bool"};
  for (int a = 0; a < 6; a++) {
    char text[4096];
    int len = 0;
    for (int b = 0; b < 6; b++)
      len += snprintf(text + len, sizeof text - (size_t)len,
                      "input x%d: %s[3,1,5]\n"
                      "y%d: %s[3,1,5] = cast(x%d, to=\"%s\")\n"
                      "input s%d: %s[]\n"
                      "z%d: %s[] = cast(s%d, to=\"%s\")\n"
                      "input p%d: %s[300,700]\n"
                      "q%d: %s[300,700] = cast(p%d, to=\"%s\")\n",
                      b, types[a], b, types[b], b, types[b], b, types[a], b, types[b], b,
                      types[b], b, types[a], b, types[b], b, types[b]);
    len += snprintf(text + len, sizeof text - (size_t)len, "output");
    for (int b = 0; b < 6; b++)
      len += snprintf(text + len, sizeof text - (size_t)len, "%s y%d, z%d, q%d", b ? "," : "",
                      b, b, b);
    snprintf(text + len, sizeof text - (size_t)len, "\n");
    /* values every target holds: floats in [0, 250) (u8 too), ints
     * [-300, 300] (wrapping into u8 and i32) */
    OpcheckOpts o = opcheck_range(0, 250);
    o.ilo = -300;
    o.ihi = 300;
    if (!strcmp(types[a], "u8")) o.ilo = 0, o.ihi = 255;
    opcheck_opts(text, &o);
  }
  /* negative floats to signed ints; i64 beyond i32's range wraps */
  OpcheckOpts n = opcheck_range(-1000, 1000);
  n.ilo = -5000000000;
  n.ihi = 5000000000;
  opcheck_opts("input a: f32[7,9]\n"
               "y: i64[7,9] = cast(a, to=\"i64\")\n"
               "z: i32[7,9] = cast(a, to=\"i32\")\n"
               "input b: i64[11]\n"
               "w: i32[11] = cast(b, to=\"i32\")\n"
               "output y, z, w\n",
               &n);
}

/* ---- argmax / argmin ---- */

static void test_arg_values(void **state) {
  (void)state;
  const char *fmt = "x = constant(shape=[2,3], value=[1, 5, 5, 7, -1, 7])\n"
                    "y = %s\n"
                    "output y\n";
  char text[512];
  snprintf(text, sizeof text, fmt, "argmax(x, axis=1)");
  EXPECT_VALUES(text, IR_I64, 1, 0);
  snprintf(text, sizeof text, fmt, "argmax(x, axis=-1, select_last_index=1)");
  EXPECT_VALUES(text, IR_I64, 2, 2);
  snprintf(text, sizeof text, fmt, "argmin(x, axis=1, keepdims=0)");
  EXPECT_VALUES(text, IR_I64, 0, 1);
  snprintf(text, sizeof text, fmt, "argmax(x)");
  EXPECT_VALUES(text, IR_I64, 1, 0, 1);
  snprintf(text, sizeof text, fmt, "argmin(x, axis=0, keepdims=0, select_last_index=1)");
  EXPECT_VALUES(text, IR_I64, 0, 1, 0);
  IrGraph *g = opcheck_parse("input x: f32[2,3,4]\n"
                        "a = argmax(x, axis=1)\n"
                        "b = argmin(x, axis=-1, keepdims=0)\n"
                        "output a, b\n");
  char s[IR_TYPE_STRLEN];
  assert_string_equal(ir_type_str(&g->outputs[0]->type, s, sizeof s), "i64[2,1,4]");
  assert_string_equal(ir_type_str(&g->outputs[1]->type, s, sizeof s), "i64[2,3]");
  ir_graph_free(g);
}

static void test_arg(void **state) {
  (void)state;
  const char *text = "input a: %s[3,5,7]\n"
                     "y0 = %s(a, axis=0)\n"
                     "y1 = %s(a, axis=1, keepdims=0)\n"
                     "y2 = %s(a, axis=-1, select_last_index=%d)\n"
                     "input b: %s[1]\n"
                     "y3 = %s(b)\n"
                     "input c: %s[600,700]\n"
                     "y4 = %s(c, axis=1, select_last_index=%d)\n"
                     "y5 = %s(c, axis=0, keepdims=0)\n"
                     "output y0, y1, y2, y3, y4, y5\n";
  static const char *ops[] = {"argmax", "argmin"};
  static const char *types[] = {"f32", "f64", "i64", "i32", "u8"};
  for (int k = 0; k < 2; k++)
    for (int t = 0; t < 5; t++)
      for (int last = 0; last < 2; last++) {
        char m[2048];
        const char *o = ops[k], *ty = types[t];
        snprintf(m, sizeof m, text, ty, o, o, o, last, ty, o, ty, o, last, o);
        OpcheckOpts opt = opcheck_ints(0, 3); /* ties for the integer dtypes */
        opcheck_opts(m, &opt);
      }
}

/* ---- fusion across dtypes ---- */

static int kernels_of(const char *text) {
  IrGraph *g = opcheck_parse(text);
  SmDiag d;
  sm_diag_init(&d);
  PassOptions po = {.opt_level = 1, .inference = true, .verify = true};
  assert_int_equal(pass_run_pipeline(g, &po, &d), SM_OK);
  sm_diag_free(&d);
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  cg_kernels_free(ks, nk);
  ir_graph_free(g);
  return nk;
}

static void test_mixed_fusion(void **state) {
  (void)state;
  /* compare -> logic -> where -> cast: one loop nest, bool and f32 locals */
  const char *chain = "input a: f32[6,7]\n"
                      "input b: f32[7]\n"
                      "input m: bool[6,1]\n"
                      "c = less(a, b)\n"
                      "n = not(c)\n"
                      "k = and(n, m)\n"
                      "r = relu(a)\n"
                      "w = where(k, r, b)\n"
                      "h = cast(w, to=\"f64\")\n"
                      "e = exp(h)\n"
                      "output e\n";
  assert_int_equal(kernels_of(chain), 1);
  opcheck(chain);
  /* a gemm's epilogue keeps the product's type: the comparison after it
   * runs in a kernel of its own, the where takes the product directly */
  const char *gemm = "input x: f32[5,9]\n"
                     "param w: f32[9,4] = he_normal\n"
                     "input t: f32[4]\n"
                     "y = gemm(x, w)\n"
                     "c = greater(y, t)\n"
                     "output c\n";
  assert_int_equal(kernels_of(gemm), 2);
  opcheck(gemm);
  const char *sel = "input x: f32[5,9]\n"
                    "param w: f32[9,4] = he_normal\n"
                    "input m: bool[5,4]\n"
                    "input z: f32[4]\n"
                    "y = gemm(x, w)\n"
                    "s = where(m, y, z)\n"
                    "output s\n";
  assert_int_equal(kernels_of(sel), 1);
  opcheck(sel);
  /* a mixed chain feeding a gemm epilogue stays apart */
  const char *mix = "input x: f32[5,9]\n"
                    "param w: f32[9,4] = he_normal\n"
                    "input a: f32[5,4]\n"
                    "input z: f32[4]\n"
                    "c = less(a, z)\n"
                    "y = gemm(x, w)\n"
                    "s = where(c, y, z)\n"
                    "output s\n";
  opcheck(mix);
  assert_int_equal(kernels_of(mix), 2);
}

/* ---- diagnostics ---- */

static void test_diagnostics(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2]\ninput y: bool[2]\nz = and(x, y)\noutput z\n",
                     "test.smelt:3:5: error: and: expects bool operands, operand 0 ('x') is f32[2]",
                     NULL);
  expect_parse_error("input x: i64[2]\nz = not(x)\noutput z\n",
                     "test.smelt:2:5: error: not: expects bool operands, operand 0 ('x') is i64[2]",
                     NULL);
  expect_parse_error("input x: f32[2]\ninput y: i64[2]\nz = less(x, y)\noutput z\n",
                     "test.smelt:3:5: error: less: operand dtypes differ: 'x' is f32, 'y' is i64",
                     NULL);
  expect_parse_error("input x: f32[2]\ninput y: f32[3]\nz = equal(x, y)\noutput z\n",
                     "test.smelt:3:5: error: equal: shapes f32[2] and f32[3] do not broadcast", NULL);
  expect_parse_error("input c: f32[2]\ninput x: f32[2]\nz = where(c, x, x)\noutput z\n",
                     "test.smelt:3:5: error: where: condition 'c' must be bool, got f32[2]", NULL);
  expect_parse_error("input c: bool[2]\ninput x: f32[2]\ninput y: f64[2]\nz = where(c, x, y)\noutput z\n",
                     "test.smelt:4:5: error: where: operand dtypes differ: 'x' is f32, 'y' is f64",
                     NULL);
  expect_parse_error("input c: bool[4]\ninput x: f32[2]\nz = where(c, x, x)\noutput z\n",
                     "test.smelt:3:5: error: where: shapes bool[4] and f32[2] do not broadcast", NULL);
  expect_parse_error("input x: f32[2]\nz = cast(x, to=\"f16\")\noutput z\n",
                     "test.smelt:2:5: error: cast: to=\"f16\" is not a dtype", NULL);
  expect_parse_error("input x: f32[2]\nz = cast(x)\noutput z\n",
                     "test.smelt:2:5: error: cast: missing required attribute 'to'", NULL);
  expect_parse_error("input x: f32[2,3]\nz = argmax(x, axis=2)\noutput z\n",
                     "test.smelt:2:5: error: argmax: axis 2 is out of range for f32[2,3]", NULL);
  expect_parse_error("input x: f32[]\nz = argmin(x)\noutput z\n",
                     "test.smelt:2:5: error: argmin: expects a tensor of rank >= 1, got f32[]", NULL);
  expect_parse_error("input x: f32[2,0]\nz = argmin(x, axis=1)\noutput z\n",
                     "test.smelt:2:5: error: argmin: axis 1 of f32[2,0] is empty", NULL);
  expect_parse_error("input x: f32[2]\nz = argmax(x, keepdims=2)\noutput z\n",
                     "test.smelt:2:5: error: argmax: keepdims must be 0 or 1, got 2", NULL);
  expect_parse_error("input x: bool[2]\nz = add(x, x)\noutput z\n",
                     "test.smelt:2:5: error: add: expects numbers, operand 0 ('x') is bool", NULL);
  expect_parse_error("x = constant(shape=[2], value=[0, 2], dtype=\"bool\")\noutput x\n",
                     "test.smelt:1:5: error: constant: value 2 is not representable in bool", NULL);
  expect_parse_error("input x: f32[2]\nz: f32[2] = less(x, x)\noutput z\n",
                     "test.smelt:2:1: error: 'z' is declared f32[2] but less produces bool[2]", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_values), cmocka_unit_test(test_compare),
      cmocka_unit_test(test_logic_values),   cmocka_unit_test(test_logic),
      cmocka_unit_test(test_where_values),   cmocka_unit_test(test_where),
      cmocka_unit_test(test_cast_values),    cmocka_unit_test(test_cast),
      cmocka_unit_test(test_arg_values),     cmocka_unit_test(test_arg),
      cmocka_unit_test(test_mixed_fusion),   cmocka_unit_test(test_diagnostics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
