/* Gradients of gemm and matmul (ir/ops/linalg.c) against central finite
 * differences in the double interpreter, with the compiled backward code
 * (gemm, matmul, transpose, reshape, reduce_sum kernels) checked against the
 * interpreter. Each configuration has inputs of its own, so a wrong rule
 * shows up on the operand it gets wrong. */
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"

/* f32 backward products of a few dozen terms compared at rtol 1e-4: inputs
 * and loss weights in [-1, 1) keep partial sums small. */
static GradcheckOpts unit_opts(void) {
  return gradcheck_range(-1, 1);
}

static void grad_gemm_transposes(void **state) {
  (void)state;
  gradcheck("input a00: f32[5,7]\ninput b00: f32[7,3]\ny00 = gemm(a00, b00)\n"
            "input a10: f32[7,5]\ninput b10: f32[7,3]\ny10 = gemm(a10, b10, transA=1)\n"
            "input a01: f32[5,7]\ninput b01: f32[3,7]\ny01 = gemm(a01, b01, transB=1)\n"
            "input a11: f32[7,5]\ninput b11: f32[3,7]\n"
            "y11 = gemm(a11, b11, transA=1, transB=1)\n"
            "output y00, y10, y01, y11\n");
}

/* alpha != 1 reaches dA and dB; beta scales dC; beta = 0 cuts dC off */
static void grad_gemm_alpha_beta(void **state) {
  (void)state;
  gradcheck("input a: f32[4,3]\ninput b: f32[3,5]\ninput c: f32[4,5]\n"
            "y = gemm(a, b, c, alpha=0.75, beta=-1.5)\n"
            "input at: f32[3,4]\ninput bt: f32[5,3]\ninput ct: f32[5]\n"
            "yt = gemm(at, bt, ct, transA=1, transB=1, alpha=-2, beta=0.5)\n"
            "input a0: f32[2,3]\ninput b0: f32[3,2]\ninput c0: f32[2,2]\n"
            "y0 = gemm(a0, b0, c0, beta=0)\n"
            "input a1: f32[2,6]\ninput b1: f32[2,6]\ninput c1: f32[1]\n"
            "y1 = gemm(a1, b1, c1, transB=1, alpha=1, beta=1)\n"
            "output y, yt, y0, y1\n");
}

/* every broadcast form of c: dC sums dY over the broadcast dims */
static void grad_gemm_bias_forms(void **state) {
  (void)state;
  gradcheck("input a: f32[4,3]\ninput b: f32[3,5]\n"
            "input c0: f32[]\ny0 = gemm(a, b, c0)\n"
            "input c1: f32[1]\ny1 = gemm(a, b, c1, beta=2)\n"
            "input c2: f32[5]\ny2 = gemm(a, b, c2)\n"
            "input c3: f32[1,5]\ny3 = gemm(a, b, c3, transA=0, beta=-0.5)\n"
            "input c4: f32[4,1]\ny4 = gemm(a, b, c4)\n"
            "input c5: f32[1,1]\ny5 = gemm(a, b, c5, beta=3)\n"
            "input c6: f32[4,5]\ny6 = gemm(a, b, c6)\n"
            "output y0, y1, y2, y3, y4, y5, y6\n");
}

/* size-1 M, K, N; params (xavier weights as in a linear layer) */
static void grad_gemm_small_dims(void **state) {
  (void)state;
  gradcheck("input a: f32[1,4]\ninput b: f32[4,3]\nya = gemm(a, b)\n"
            "input c: f32[5,1]\ninput d: f32[1,3]\nyc = gemm(c, d, transA=0)\n"
            "input e: f32[4,6]\ninput f: f32[1,4]\nye = gemm(e, f, transA=1, transB=1)\n"
            "input x: f32[3,6]\nparam w: f32[2,6] = xavier_uniform\n"
            "param bias: f32[2] = uniform(-1, 1)\n"
            "yx = gemm(x, w, bias, transB=1)\n"
            "output ya, yc, ye, yx\n");
}

/* M*K*N >= 32768: forward and backward gemms carry OpenMP pragmas; f64 */
static void grad_gemm_large_and_f64(void **state) {
  (void)state;
  GradcheckOpts o = unit_opts();
  gradcheck_opts("input a: f32[40,33]\ninput b: f32[33,30]\ninput c: f32[30]\n"
                 "y = gemm(a, b, c)\n"
                 "input at: f32[33,40]\ninput bt: f32[30,33]\n"
                 "yt = gemm(at, bt, transA=1, transB=1, alpha=0.5)\n"
                 "output y, yt\n",
                 &o);
  gradcheck("input a: f64[3,5]\ninput b: f64[4,5]\ninput c: f64[3,1]\n"
            "y = gemm(a, b, c, transB=1, alpha=1.25, beta=0.5)\n"
            "output y\n");
}

/* 1-D operands: vector . vector, vector x matrix, matrix x vector, and a
 * vector against a batch on either side */
static void grad_matmul_vectors(void **state) {
  (void)state;
  gradcheck("input a: f32[5]\ninput b: f32[5]\nya = matmul(a, b)\n"
            "input c: f32[4]\ninput d: f32[4,3]\nyc = matmul(c, d)\n"
            "input e: f32[3,4]\ninput f: f32[4]\nye = matmul(e, f)\n"
            "input g: f32[3]\ninput h: f32[2,3,5]\nyg = matmul(g, h)\n"
            "input k: f32[2,4,3]\ninput l: f32[3]\nyk = matmul(k, l)\n"
            "input m: f32[1]\ninput n: f32[1,6]\nym = matmul(m, n)\n"
            "output ya, yc, ye, yg, yk, ym\n");
}

static void grad_matmul_2d(void **state) {
  (void)state;
  gradcheck("input a: f32[5,7]\ninput b: f32[7,3]\nya = matmul(a, b)\n"
            "input c: f32[1,4]\ninput d: f32[4,1]\nyc = matmul(c, d)\n"
            "input e: f32[3,1]\ninput f: f32[1,6]\nye = matmul(e, f)\n"
            "output ya, yc, ye\n");
}

/* batch dims equal, broadcast (missing or size 1) on either side */
static void grad_matmul_batched(void **state) {
  (void)state;
  gradcheck("input a: f32[2,3,4]\ninput b: f32[2,4,5]\nya = matmul(a, b)\n"
            "input c: f32[3,4]\ninput d: f32[2,4,5]\nyc = matmul(c, d)\n"
            "input e: f32[2,3,4]\ninput f: f32[4,5]\nye = matmul(e, f)\n"
            "input g: f32[2,1,3,4]\ninput h: f32[3,4,2]\nyg = matmul(g, h)\n"
            "input k: f32[1,3,2]\ninput l: f32[4,2,3]\nyk = matmul(k, l)\n"
            "input m: f32[3,1,2,5]\ninput n: f32[1,2,5,1]\nym = matmul(m, n)\n"
            "output ya, yc, ye, yg, yk, ym\n");
}

/* a large batched product (parallel loops in every backward kernel); f64 */
static void grad_matmul_large_and_f64(void **state) {
  (void)state;
  GradcheckOpts o = unit_opts();
  gradcheck_opts("input a: f32[4,20,33]\ninput b: f32[33,25]\ny = matmul(a, b)\n"
                 "output y\n",
                 &o);
  gradcheck("input a: f64[2,1,3,4]\ninput b: f64[5,4,2]\ny = matmul(a, b)\n"
            "input v: f64[4]\nz = matmul(v, b)\n"
            "output y, z\n");
}

/* zero-size dims: the gradients are empty or zero */
static void grad_empty(void **state) {
  (void)state;
  gradcheck("input a: f32[0,3]\ninput b: f32[3,4]\nya = matmul(a, b)\n"
            "input c: f32[2,0]\ninput d: f32[0,4]\nyc = matmul(c, d)\n"
            "input e: f32[0]\ninput f: f32[2,0,3]\nye = matmul(e, f)\n"
            "input g: f32[2,0]\ninput h: f32[0,3]\ninput k: f32[3]\n"
            "yg = gemm(g, h, k, beta=0.5)\n"
            "input l: f32[0,3]\ninput m: f32[4,3]\nyl = gemm(l, m, transB=1)\n"
            "input p: f32[2]\nyp = reduce_sum(p)\n"
            "output ya, yc, ye, yg, yl, yp\n");
}

/* a two-layer MLP: gemm and matmul gradients flowing into each other and
 * through softmax / reductions */
static void grad_mlp(void **state) {
  (void)state;
  gradcheck("input x: f32[6,5]\n"
            "param w1: f32[8,5] = xavier_uniform\nparam b1: f32[8] = uniform(-0.5, 0.5)\n"
            "param w2: f32[8,3] = xavier_uniform\n"
            "h = gemm(x, w1, b1, transB=1)\nr = tanh(h)\no = matmul(r, w2)\n"
            "p = log_softmax(o)\nl = reduce_mean(p, keepdims=0)\n"
            "output l, o\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(grad_gemm_transposes),
      cmocka_unit_test(grad_gemm_alpha_beta),
      cmocka_unit_test(grad_gemm_bias_forms),
      cmocka_unit_test(grad_gemm_small_dims),
      cmocka_unit_test(grad_gemm_large_and_f64),
      cmocka_unit_test(grad_matmul_vectors),
      cmocka_unit_test(grad_matmul_2d),
      cmocka_unit_test(grad_matmul_batched),
      cmocka_unit_test(grad_matmul_large_and_f64),
      cmocka_unit_test(grad_empty),
      cmocka_unit_test(grad_mlp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
