/* matmul and gemm: generated code against the reference interpreter on odd
 * shapes, size-1 dims, every transpose combination and bias form; shape-rule
 * diagnostics with line:col. Result annotations (`y: f32[...] = ...`) make
 * the parser check the inferred shapes too. */
#include "helpers/opcheck.h"

/* f32 dot products of length K against a double reference: rounding error
 * grows ~ sqrt(K) * eps * |partial sums|, so an element that cancels to near
 * zero can miss rtol 1e-5. With inputs in [-1,1) and K <= 65 the absolute
 * error stays well under 2e-5; a wrong index or missing term is O(0.1). */
static OpcheckOpts f32_dot_opts(void) {
  OpcheckOpts o = opcheck_range(-1, 1);
  o.atol = 2e-5;
  return o;
}

static void gemm_transpose_combos(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a00: f32[5,7]\n"
               "input b00: f32[7,3]\n"
               "y00: f32[5,3] = gemm(a00, b00)\n"
               "input a10: f32[7,5]\n"
               "input b10: f32[7,3]\n"
               "y10: f32[5,3] = gemm(a10, b10, transA=1)\n"
               "input a01: f32[5,7]\n"
               "input b01: f32[3,7]\n"
               "y01: f32[5,3] = gemm(a01, b01, transB=1)\n"
               "input a11: f32[7,5]\n"
               "input b11: f32[3,7]\n"
               "y11: f32[5,3] = gemm(a11, b11, transA=1, transB=1)\n"
               "input a00z: f32[5,7]\n"
               "input b00z: f32[7,3]\n"
               "y00z: f32[5,3] = gemm(a00z, b00z, transA=0, transB=0)\n"
               "output y00, y10, y01, y11, y00z\n",
               &o);
}

/* M*K*N >= 32768: the emitted loops carry an OpenMP pragma */
static void gemm_large_parallel(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[33,65]\n"
               "param w: f32[65,17] = xavier_uniform\n"
               "param c: f32[17] = uniform(-1, 1)\n"
               "y: f32[33,17] = gemm(a, w, c)\n"
               "input at: f32[65,33]\n"
               "param wt: f32[19,65] = uniform(-1, 1)\n"
               "yt: f32[33,19] = gemm(at, wt, transA=1, transB=1, alpha=0.75)\n"
               "input a2: f32[31,65]\n"
               "input b2: f32[23,65]\n"
               "y2: f32[31,23] = gemm(a2, b2, transB=1)\n"
               "output y, yt, y2\n",
               &o);
}

/* C broadcast forms: scalar, [1], [N], [1,N], [M,1], [1,1], [M,N] */
static void gemm_bias_forms(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[5,7]\n"
               "input b: f32[7,3]\n"
               "input cs: f32[]\n"
               "input c1: f32[1]\n"
               "input cn: f32[3]\n"
               "input c1n: f32[1,3]\n"
               "input cm1: f32[5,1]\n"
               "input c11: f32[1,1]\n"
               "input cmn: f32[5,3]\n"
               "ys: f32[5,3] = gemm(a, b, cs)\n"
               "y1: f32[5,3] = gemm(a, b, c1)\n"
               "yn: f32[5,3] = gemm(a, b, cn)\n"
               "y1n: f32[5,3] = gemm(a, b, c1n)\n"
               "ym1: f32[5,3] = gemm(a, b, cm1)\n"
               "y11: f32[5,3] = gemm(a, b, c11)\n"
               "ymn: f32[5,3] = gemm(a, b, cmn)\n"
               /* the same forms through the transB (dot product) path */
               "input bt: f32[3,7]\n"
               "zn: f32[5,3] = gemm(a, bt, cn, transB=1)\n"
               "zm1: f32[5,3] = gemm(a, bt, cm1, transB=1)\n"
               "zmn: f32[5,3] = gemm(a, bt, cmn, transB=1)\n"
               "zs: f32[5,3] = gemm(a, bt, cs, transB=1)\n"
               "output ys, y1, yn, y1n, ym1, y11, ymn, zn, zm1, zmn, zs\n",
               &o);
}

static void gemm_alpha_beta(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[6,9]\n"
               "input b: f32[9,11]\n"
               "param c: f32[6,11] = uniform(-1, 1)\n"
               "y1: f32[6,11] = gemm(a, b, c, alpha=0.5, beta=-2)\n"
               "y2: f32[6,11] = gemm(a, b, c, beta=0)\n"
               "y3: f32[6,11] = gemm(a, b, alpha=-1.25)\n"
               "y4: f32[6,11] = gemm(a, b, c, alpha=3, beta=0.25)\n"
               "input at: f32[9,6]\n"
               "input bt: f32[11,9]\n"
               "y5: f32[6,11] = gemm(at, bt, c, transA=1, transB=1, alpha=0.5, beta=-2)\n"
               "y6: f32[6,11] = gemm(at, bt, c, transA=1, transB=1, beta=0)\n"
               "y7: f32[6,11] = gemm(at, b, c, transA=1, alpha=2, beta=0.5)\n"
               "output y1, y2, y3, y4, y5, y6, y7\n",
               &o);
}

/* size-1 M, K and N in every position */
static void gemm_size_one_dims(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[1,9]\n"
               "input b: f32[9,5]\n"
               "y1: f32[1,5] = gemm(a, b)\n"
               "input a2: f32[7,1]\n"
               "input b2: f32[1,5]\n"
               "input c2: f32[5]\n"
               "y2: f32[7,5] = gemm(a2, b2, c2, beta=0.5)\n"
               "input a3: f32[7,9]\n"
               "input b3: f32[9,1]\n"
               "input c3: f32[7,1]\n"
               "y3: f32[7,1] = gemm(a3, b3, c3)\n"
               "input a4: f32[1,1]\n"
               "input b4: f32[1,1]\n"
               "y4: f32[1,1] = gemm(a4, b4, transA=1, transB=1)\n"
               "input b5: f32[1,9]\n"
               "y5: f32[7,1] = gemm(a3, b5, c3, transB=1, alpha=2)\n"
               "output y1, y2, y3, y4, y5\n",
               &o);
}

static void matmul_2d_and_1d(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[5,7]\n"
               "input b: f32[7,3]\n"
               "y: f32[5,3] = matmul(a, b)\n"
               "input v: f32[7]\n"
               "input u: f32[7]\n"
               "dot: f32[] = matmul(v, u)\n"
               "vb: f32[3] = matmul(v, b)\n"
               "av: f32[5] = matmul(a, u)\n"
               "input m1: f32[1,7]\n"
               "input n1: f32[7,1]\n"
               "outer: f32[7,7] = matmul(n1, m1)\n"
               "inner: f32[1,1] = matmul(m1, n1)\n"
               "output y, dot, vb, av, outer, inner\n",
               &o);
}

static void matmul_batched_broadcast(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[3,5,7]\n"
               "input b: f32[3,7,4]\n"
               "y: f32[3,5,4] = matmul(a, b)\n"
               "input p: f32[2,1,5,3]\n"
               "input q: f32[4,3,6]\n"
               "pq: f32[2,4,5,6] = matmul(p, q)\n"
               "input r: f32[1,5,3]\n"
               "input s: f32[4,3,2]\n"
               "rs: f32[4,5,2] = matmul(r, s)\n"
               "input w: f32[7,3]\n"
               "aw: f32[3,5,3] = matmul(a, w)\n"
               "input x: f32[5,7]\n"
               "xb: f32[3,5,4] = matmul(x, b)\n"
               "input e: f32[2,3,1,4,7]\n"
               "input f: f32[3,5,7,1]\n"
               "ef: f32[2,3,5,4,1] = matmul(e, f)\n"
               "output y, pq, rs, aw, xb, ef\n",
               &o);
}

static void matmul_batched_vectors(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input v: f32[3]\n"
               "input b: f32[2,3,5]\n"
               "vb: f32[2,5] = matmul(v, b)\n"
               "input a: f32[2,4,3]\n"
               "av: f32[2,4] = matmul(a, v)\n"
               "input c: f32[1,4,3]\n"
               "input d: f32[6,3,1]\n"
               "cd: f32[6,4,1] = matmul(c, d)\n"
               "output vb, av, cd\n",
               &o);
}

/* enough work for the parallel (collapse(2)) batch loop */
static void matmul_large_parallel(void **state) {
  (void)state;
  OpcheckOpts o = f32_dot_opts();
  opcheck_opts("input a: f32[4,33,17]\n"
               "param w: f32[17,65] = he_uniform\n"
               "y: f32[4,33,65] = matmul(a, w)\n"
               "input x: f32[45,61]\n"
               "input z: f32[61,13]\n"
               "xz: f32[45,13] = matmul(x, z)\n"
               "input m: f32[300,61]\n"
               "input u: f32[61]\n"
               "mu: f32[300] = matmul(m, u)\n"
               "output y, xz, mu\n",
               &o);
}

/* f64 kernels: double element type, double literals for alpha/beta (a float
 * literal 0.1f would be off by ~1e-9 relative, caught by rtol 1e-12) */
static void linalg_f64(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_tol(1e-12, 1e-12);
  opcheck_opts("input a: f64[5,7]\n"
               "input b: f64[7,3]\n"
               "input c: f64[3]\n"
               "y: f64[5,3] = gemm(a, b, c, alpha=0.1, beta=0.3)\n"
               "input bt: f64[3,7]\n"
               "yt: f64[5,3] = gemm(a, bt, c, transB=1, alpha=0.1, beta=0.3)\n"
               "input p: f64[2,5,7]\n"
               "pb: f64[2,5,3] = matmul(p, b)\n"
               "output y, yt, pb\n",
               &o);
}

/* ---- diagnostics: message and line:col of the op name ---- */

static void gemm_errors(void **state) {
  (void)state;
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[6,3]\n"
                     "y = gemm(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: inner dimensions differ: "
                     "a is f32[4,5] (K=5), b is f32[6,3] (K=6)",
                     NULL);
  expect_parse_error("input a: f32[5,4]\n"
                     "input b: f32[3,6]\n"
                     "  yy = gemm(a, b, transA=1, transB=1)\n"
                     "output yy\n",
                     "test.smelt:3:8: error: gemm: inner dimensions differ: "
                     "a is f32[5,4] (transA=1, K=5), b is f32[3,6] (transB=1, K=6)",
                     NULL);
  expect_parse_error("input a: f32[4]\n"
                     "input b: f32[4,3]\n"
                     "y = gemm(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: expects 2-D input 0 ('a'), got f32[4]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3,1]\n"
                     "y = gemm(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: expects 2-D input 1 ('b'), got f32[5,3,1]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "input c: f32[4]\n"
                     "y = gemm(a, b, c)\n"
                     "output y\n",
                     "test.smelt:4:5: error: gemm: c is f32[4], which does not "
                     "broadcast to [M,N] = [4,3]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "input c: f32[3,3]\n"
                     "y = gemm(a, b, c)\n"
                     "output y\n",
                     "test.smelt:4:5: error: gemm: c is f32[3,3], which does not "
                     "broadcast to [M,N] = [4,3]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "input c: f32[1,4,3]\n"
                     "y = gemm(a, b, c)\n"
                     "output y\n",
                     "test.smelt:4:5: error: gemm: c is f32[1,4,3], which does not "
                     "broadcast to [M,N] = [4,3]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "y = gemm(a, b, transA=2)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: transA must be 0 or 1, got 2", NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "y = gemm(a, b, transB=-1)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: transB must be 0 or 1, got -1", NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f64[5,3]\n"
                     "y = gemm(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: operand dtypes differ: 'a' is f32, "
                     "'b' is f64",
                     NULL);
  expect_parse_error("input a: i32[4,5]\n"
                     "input b: i32[5,3]\n"
                     "y = gemm(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: expects a float input 0 ('a'), got i32[4,5]",
                     NULL);
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[5,3]\n"
                     "y = gemm(a)\n"
                     "output y\n",
                     "test.smelt:3:5: error: gemm: expects 2 to 3 operands, got 1", NULL);
  /* every bad node is reported, not just the first */
  expect_parse_error("input a: f32[4,5]\n"
                     "input b: f32[6,3]\n"
                     "y = gemm(a, b)\n"
                     "z = gemm(b, a, transB=1)\n"
                     "output y, z\n",
                     "test.smelt:3:5: error: gemm: inner dimensions differ",
                     "test.smelt:4:5: error: gemm: inner dimensions differ: "
                     "a is f32[6,3] (K=3), b is f32[4,5] (transB=1, K=5)",
                     NULL);
}

static void matmul_errors(void **state) {
  (void)state;
  expect_parse_error("input a: f32[2,5,3]\n"
                     "input b: f32[4,6]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: inner dimensions differ: "
                     "a is f32[2,5,3] (K=3), b is f32[4,6] (K=4)",
                     NULL);
  expect_parse_error("input a: f32[3]\n"
                     "input b: f32[4]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: inner dimensions differ: "
                     "a is f32[3] (K=3), b is f32[4] (K=4)",
                     NULL);
  expect_parse_error("input a: f32[5,3]\n"
                     "input b: f32[2,4,6]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: inner dimensions differ: "
                     "a is f32[5,3] (K=3), b is f32[2,4,6] (K=4)",
                     NULL);
  expect_parse_error("input a: f32[2,5,3]\n"
                     "input b: f32[3,3,6]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: batch dimensions do not broadcast: "
                     "a is f32[2,5,3], b is f32[3,3,6]",
                     NULL);
  expect_parse_error("input a: f32[]\n"
                     "input b: f32[3]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: operands must be at least 1-D: "
                     "a is f32[], b is f32[3]",
                     NULL);
  expect_parse_error("input a: f32[2,3]\n"
                     "input b: f64[3,2]\n"
                     "y = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:5: error: matmul: operand dtypes differ", NULL);
  expect_parse_error("input a: f32[2,3]\n"
                     "input b: f32[3,2]\n"
                     "y = matmul(a, b, transA=1)\n"
                     "output y\n",
                     "test.smelt:3:18: error: matmul: unknown attribute 'transA'", NULL);
  /* the declared result type is checked against the shape rule */
  expect_parse_error("input a: f32[2,1,5,3]\n"
                     "input b: f32[4,3,6]\n"
                     "y: f32[2,5,6] = matmul(a, b)\n"
                     "output y\n",
                     "test.smelt:3:1: error: 'y' is declared f32[2,5,6] but matmul "
                     "produces f32[2,4,5,6]",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gemm_transpose_combos),
      cmocka_unit_test(gemm_large_parallel),
      cmocka_unit_test(gemm_bias_forms),
      cmocka_unit_test(gemm_alpha_beta),
      cmocka_unit_test(gemm_size_one_dims),
      cmocka_unit_test(matmul_2d_and_1d),
      cmocka_unit_test(matmul_batched_broadcast),
      cmocka_unit_test(matmul_batched_vectors),
      cmocka_unit_test(matmul_large_parallel),
      cmocka_unit_test(linalg_f64),
      cmocka_unit_test(gemm_errors),
      cmocka_unit_test(matmul_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
