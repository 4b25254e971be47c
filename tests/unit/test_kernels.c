/* The blocked GEMM kernels (codegen/kernels/gemm.h) behind gemm, matmul and
 * conv2d/conv1d: generated code against the reference interpreter on shapes
 * that reach every path of the emitter: edge tiles in M, N and K (sizes 1,
 * 7, 8, 9, 15, 16, 17, 63, 65, 127, 257 in every position, around the 6/8
 * row and 16/32 column tiles of both vector variants), every transpose
 * combination, split K blocks (K > 1024, accumulating into C), alpha, beta
 * and every bias form, A packed and read in place, batched and broadcast
 * matmul, the OpenMP task grids of several core counts with more and fewer
 * threads than workspace slices,
 * and convolutions with strides, pads, dilations, groups, 1x1 and 1-D,
 * forward and backward (data and weight gradients).
 * Many products share one model text so each test compiles once.
 *
 * Tolerance: inputs are U[-1,1), so each product term is below 1 in
 * magnitude and an f32 sum of K terms (FMA or not, any order) is within
 * K * 2^-24 * (sum of |terms|) <= K^2 * 6e-8 of the double reference in the
 * worst case, and ~sqrt(K) * 6e-8 * sqrt(K) typically. With K <= 1100 here we
 * use atol 1e-4 + rtol 1e-5: a wrong index, a dropped tile or a missing K block
 * is an error of order 0.1 or more. */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/opcheck.h"

static OpcheckOpts kernel_opts(void) {
  OpcheckOpts o = opcheck_defaults();
  o.lo = -1;
  o.hi = 1;
  o.atol = 1e-4;
  o.rtol = 1e-5;
  return o;
}

typedef struct Text {
  char s[16384];
  size_t n;
} Text;

static void add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
  va_end(ap);
  assert_true(k >= 0 && (size_t)k < sizeof t->s - t->n);
  t->n += (size_t)k;
}

/* (M, K, N): each of the edge sizes appears once as M, as K and as N */
static const int shapes[][3] = {
    {1, 65, 17},  {7, 9, 257},  {8, 16, 8},   {9, 257, 7},   {15, 7, 63}, {16, 1, 127},
    {17, 63, 9},  {63, 8, 65},  {65, 127, 15}, {127, 17, 16}, {257, 15, 1},
};

/* One gemm per shape with the given transposes; every third gets a bias
 * (cycling through [N], [M,1] and [M,N]), some an alpha or beta. */
static void gemm_edges(bool ta, bool tb) {
  Text t = {.n = 0};
  Text outs = {.n = 0};
  for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
    int M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
    add(&t, "input a%d: f32[%d,%d]\n", s, ta ? K : M, ta ? M : K);
    add(&t, "input b%d: f32[%d,%d]\n", s, tb ? N : K, tb ? K : N);
    const char *bias = "";
    char bb[64] = "";
    if (s % 3 == 1) {
      static const char *forms[] = {"[%d]", "[%d,1]", "[%d,%d]"};
      int f = s / 3 % 3;
      char dims[32];
      if (f == 0) snprintf(dims, sizeof dims, forms[0], N);
      else if (f == 1) snprintf(dims, sizeof dims, forms[1], M);
      else snprintf(dims, sizeof dims, forms[2], M, N);
      add(&t, "input c%d: f32%s\n", s, dims);
      snprintf(bb, sizeof bb, ", c%d", s);
      bias = s % 2 ? ", beta=0.5" : "";
    }
    const char *alpha = s % 4 == 3 ? ", alpha=-1.5" : "";
    add(&t, "y%d: f32[%d,%d] = gemm(a%d, b%d%s, transA=%d, transB=%d%s%s)\n", s, M, N, s, s, bb,
        ta, tb, alpha, bias);
    add(&outs, "%sy%d", s ? ", " : "", s);
  }
  add(&t, "output %s\n", outs.s);
  OpcheckOpts o = kernel_opts();
  opcheck_opts(t.s, &o);
}

static void gemm_edges_nn(void **state) {
  (void)state;
  gemm_edges(false, false);
}
static void gemm_edges_tn(void **state) {
  (void)state;
  gemm_edges(true, false);
}
static void gemm_edges_nt(void **state) {
  (void)state;
  gemm_edges(false, true);
}
static void gemm_edges_tt(void **state) {
  (void)state;
  gemm_edges(true, true);
}

/* K > 1024 splits into blocks that accumulate into C (first block adds the
 * bias); enough work for the OpenMP task grid; the MLP's skinny shapes. */
static void gemm_split_k_parallel(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input a: f32[130,1100]\n"
               "input b: f32[1100,300]\n"
               "input c: f32[300]\n"
               "y: f32[130,300] = gemm(a, b, c, alpha=0.5, beta=2)\n"
               "input at: f32[1100,130]\n"
               "input bt: f32[300,1100]\n"
               "input cm: f32[130,1]\n"
               "yt: f32[130,300] = gemm(at, bt, cm, transA=1, transB=1)\n"
               "input x: f32[64,784]\n"
               "input w: f32[256,784]\n"
               "input bias: f32[256]\n"
               "h: f32[64,256] = gemm(x, w, bias, transB=1)\n"
               "input dy: f32[64,256]\n"
               "dx: f32[64,784] = gemm(dy, w)\n"
               "dw: f32[256,784] = gemm(dy, x, transA=1)\n"
               "output y, yt, h, dx, dw\n",
               &o);
}

/* every C form through the blocked path, with one K block and with two */
static void gemm_bias_forms_blocked(void **state) {
  (void)state;
  Text t = {.n = 0};
  static const char *forms[] = {"[]", "[1]", "[37]", "[1,37]", "[9,1]", "[1,1]", "[9,37]"};
  static const int ks[] = {20, 1100};
  Text outs = {.n = 0};
  for (int k = 0; k < 2; k++) {
    add(&t, "input a%d: f32[9,%d]\ninput b%d: f32[%d,37]\n", k, ks[k], k, ks[k]);
    for (int f = 0; f < 7; f++) {
      add(&t, "input c%d_%d: f32%s\n", k, f, forms[f]);
      add(&t, "y%d_%d: f32[9,37] = gemm(a%d, b%d, c%d_%d%s)\n", k, f, k, k, k, f,
          f % 2 ? ", beta=-0.5" : "");
      add(&outs, "%sy%d_%d", outs.n ? ", " : "", k, f);
    }
    add(&t, "z%d: f32[9,37] = gemm(a%d, b%d, c%d_6, beta=0)\n", k, k, k, k);
    add(&outs, ", z%d", k);
  }
  add(&t, "output %s\n", outs.s);
  OpcheckOpts o = kernel_opts();
  opcheck_opts(t.s, &o);
}

/* Task grids and workspace slices: the grid is chosen for the compiling
 * machine's core count (SMELT_NCPU here), each thread packs into its own
 * slice, and a run with more threads than slices must use no more (ASan
 * sees a slice past the arena's end). Products with A read in place (row
 * major, few column slivers, odd M so rows past M are clamped), packed
 * (alpha, transposed, a 4 KiB row stride), and split K. */
static void gemm_task_grids(void **state) {
  (void)state;
  static const struct { const char *ncpu; int threads; } runs[] = {{"1", 2}, {"3", 5}, {"4", 1}, {"2", 3}};
  const char *text = "input a: f32[203,700]\ninput b: f32[700,45]\ninput bias: f32[45]\n"
                     "y1: f32[203,45] = gemm(a, b, bias)\n"
                     "y2: f32[203,45] = gemm(a, b, alpha=2)\n"
                     "input at: f32[700,203]\n"
                     "y3: f32[203,45] = gemm(at, b, transA=1)\n"
                     "input p: f32[77,1024]\ninput q: f32[1024,130]\n"
                     "y4: f32[77,130] = gemm(p, q)\n"
                     "input u: f32[97,1300]\ninput v: f32[1300,70]\n"
                     "y5: f32[97,70] = gemm(u, v)\n"
                     "output y1, y2, y3, y4, y5\n";
  const char *old = getenv("SMELT_NCPU");
  char *keep = old ? strdup(old) : NULL;
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    setenv("SMELT_NCPU", runs[r].ncpu, 1);
    omp_set_num_threads(runs[r].threads);
    OpcheckOpts o = kernel_opts();
    opcheck_opts(text, &o);
  }
  omp_set_num_threads(2);
  if (keep) setenv("SMELT_NCPU", keep, 1);
  else unsetenv("SMELT_NCPU");
  free(keep);
}

static void matmul_blocked(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input a: f32[3,37,45]\n"
               "input b: f32[45,70]\n"
               "y: f32[3,37,70] = matmul(a, b)\n"
               "input p: f32[2,1,20,33]\n"
               "input q: f32[4,33,19]\n"
               "pq: f32[2,4,20,19] = matmul(p, q)\n"
               "input u: f32[16,33,65]\n"
               "input v: f32[16,65,40]\n"
               "uv: f32[16,33,40] = matmul(u, v)\n"
               "input m: f32[257,17]\n"
               "input n: f32[17,63]\n"
               "mn: f32[257,63] = matmul(m, n)\n"
               "input e: f32[2,300,9]\n"
               "input f: f32[9,300]\n"
               "ef: f32[2,300,300] = matmul(e, f)\n"
               "output y, pq, uv, mn, ef\n",
               &o);
}

static void conv_gemm_paths(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x1: f32[2,3,11,13]\n"
               "input w1: f32[8,3,3,3]\n"
               "input b1: f32[8]\n"
               "y1 = conv2d(x1, w1, b1, pads=[1,1])\n"
               "input x2: f32[2,4,15,12]\n"
               "input w2: f32[5,4,3,2]\n"
               "y2 = conv2d(x2, w2, strides=[2,1], pads=[1,2,0,1], dilations=[2,2])\n"
               "input x3: f32[2,6,9,9]\n"
               "input w3: f32[8,3,3,3]\n"
               "input b3: f32[8]\n"
               "y3 = conv2d(x3, w3, b3, group=2, pads=[1,1])\n"
               "input x4: f32[2,16,7,9]\n"
               "input w4: f32[20,16,1,1]\n"
               "input b4: f32[20]\n"
               "y4 = conv2d(x4, w4, b4)\n"
               "input x5: f32[1,8,9,9]\n"
               "input w5: f32[12,8,1,1]\n"
               "y5 = conv2d(x5, w5, strides=[2,2])\n"
               "input x6: f32[2,5,40]\n"
               "input w6: f32[6,5,3]\n"
               "input b6: f32[6]\n"
               "y6 = conv1d(x6, w6, b6, pads=[1])\n"
               "input x7: f32[1,8,10,10]\n"
               "input w7: f32[8,1,3,3]\n"
               "y7 = conv2d(x7, w7, group=8, pads=[1,1])\n"
               "input x8: f32[4,16,20,20]\n"
               "input w8: f32[32,16,3,3]\n"
               "input b8: f32[32]\n"
               "y8 = conv2d(x8, w8, b8, pads=[1,1])\n"
               "input x9: f32[1,1,28,28]\n"
               "input w9: f32[6,1,5,5]\n"
               "y9 = conv2d(x9, w9, pads=[2,2])\n"
               "output y1, y2, y3, y4, y5, y6, y7, y8, y9\n",
               &o);
}

/* One image: the GEMM reads B in place from zero-padded planes staged on
 * wide rows (no im2col; strides through phase planes), only the real
 * columns stored: with a bias, asymmetric pads and a 3x5 kernel, K > 1024
 * (split K), a fused residual add and relu, 1-D, a 2x2 kernel without
 * pads, strides 2 (3x3, 7x7 as ResNet's stem) and (3, 2); a 1x1 at
 * stride 2 stays with the im2col panel. */
static void conv_wide_rows(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x1: f32[1,16,23,21]\n"
               "input w1: f32[40,16,3,3]\n"
               "input b1: f32[40]\n"
               "y1 = conv2d(x1, w1, b1, pads=[1,1])\n"
               "input x2: f32[1,8,17,19]\n"
               "input w2: f32[33,8,3,5]\n"
               "y2 = conv2d(x2, w2, pads=[0,2,1,0])\n"
               "input x3: f32[1,130,9,10]\n"
               "input w3: f32[36,130,3,3]\n"
               "input b3: f32[36]\n"
               "y3 = conv2d(x3, w3, b3, pads=[1,1])\n"
               "input x4: f32[1,32,14,14]\n"
               "input w4: f32[64,32,3,3]\n"
               "input r4: f32[1,64,14,14]\n"
               "c4 = conv2d(x4, w4, pads=[1,1])\n"
               "s4 = add(c4, r4)\n"
               "y4 = relu(s4)\n"
               "input x5: f32[1,40,50]\n"
               "input w5: f32[48,40,3]\n"
               "y5 = conv1d(x5, w5, pads=[1])\n"
               "input x6: f32[1,20,12,9]\n"
               "input w6: f32[32,20,2,2]\n"
               "y6 = conv2d(x6, w6)\n"
               "input x7: f32[1,12,21,19]\n"
               "input w7: f32[40,12,3,3]\n"
               "input b7: f32[40]\n"
               "y7 = conv2d(x7, w7, b7, strides=[2,2], pads=[1,1])\n"
               "input x8: f32[1,3,37,35]\n"
               "input w8: f32[64,3,7,7]\n"
               "y8 = conv2d(x8, w8, strides=[2,2], pads=[3,3])\n"
               "input x9: f32[1,40,15,17]\n"
               "input w9: f32[48,40,1,1]\n"
               "y9 = conv2d(x9, w9, strides=[2,2])\n"
               "input x10: f32[1,10,20,26]\n"
               "input w10: f32[36,10,5,3]\n"
               "y10 = conv2d(x10, w10, strides=[3,2], pads=[2,1,1,0])\n"
               "output y1, y2, y3, y4, y5, y6, y7, y8, y9, y10\n",
               &o);
}

/* Backward convolutions as GEMM (dx = w^T x dcol gathered from dy; dw = dy x
 * col summed over images): pads, strides 2 (the zero-gathering limit),
 * dilations, groups, odd sizes, 1-D; depthwise, stride 3 and few input
 * channels per group (dx7, LeNet's dx2 below) take the direct path. */
static void conv_backward_gemm_paths(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input dy1: f32[2,8,11,13]\n"
               "input w1: f32[8,13,3,3]\n"
               "input x1: f32[2,13,11,13]\n"
               "dx1 = conv2d_grad_input(dy1, w1, pads=[1,1], xshape=[2,13,11,13])\n"
               "dw1 = conv2d_grad_weight(dy1, x1, pads=[1,1], wshape=[8,13,3,3])\n"
               "input dy2: f32[2,5,6,13]\n"
               "input w2: f32[5,12,3,2]\n"
               "input x2: f32[2,12,15,12]\n"
               "dx2 = conv2d_grad_input(dy2, w2, strides=[2,1], pads=[1,2,0,1], dilations=[2,2], xshape=[2,12,15,12])\n"
               "dw2 = conv2d_grad_weight(dy2, x2, strides=[2,1], pads=[1,2,0,1], dilations=[2,2], wshape=[5,12,3,2])\n"
               "input dy3: f32[2,8,9,9]\n"
               "input w3: f32[8,12,3,3]\n"
               "input x3: f32[2,24,9,9]\n"
               "dx3 = conv2d_grad_input(dy3, w3, group=2, pads=[1,1], xshape=[2,24,9,9])\n"
               "dw3 = conv2d_grad_weight(dy3, x3, group=2, pads=[1,1], wshape=[8,12,3,3])\n"
               "input dy4: f32[3,12,5,5]\n"
               "input w4: f32[12,14,1,1]\n"
               "input x4: f32[3,14,9,9]\n"
               "dx4 = conv2d_grad_input(dy4, w4, strides=[2,2], xshape=[3,14,9,9])\n"
               "dw4 = conv2d_grad_weight(dy4, x4, strides=[2,2], wshape=[12,14,1,1])\n"
               "input dy5: f32[2,6,40]\n"
               "input w5: f32[6,13,3]\n"
               "input x5: f32[2,13,40]\n"
               "dx5 = conv1d_grad_input(dy5, w5, pads=[1], xshape=[2,13,40])\n"
               "dw5 = conv1d_grad_weight(dy5, x5, pads=[1], wshape=[6,13,3])\n"
               "input dy6: f32[1,8,10,10]\n"
               "input w6: f32[8,1,3,3]\n"
               "input x6: f32[1,8,10,10]\n"
               "dx6 = conv2d_grad_input(dy6, w6, group=8, pads=[1,1], xshape=[1,8,10,10])\n"
               "dw6 = conv2d_grad_weight(dy6, x6, group=8, pads=[1,1], wshape=[8,1,3,3])\n"
               "input dy7: f32[2,6,4,4]\n"
               "input w7: f32[6,5,3,3]\n"
               "input x7: f32[2,5,12,12]\n"
               "dx7 = conv2d_grad_input(dy7, w7, strides=[3,3], xshape=[2,5,12,12])\n"
               "output dx1, dw1, dx2, dw2, dx3, dw3, dx4, dw4, dx5, dw5, dx6, dw6, dx7\n",
               &o);
}

/* LeNet's first layer backward at batch 64: dw's K runs over 64*784
 * positions for a 6x25 product, so the images are split into chunks
 * summed afterwards. Sums of 50176 terms: atol 2e-3. */
static void conv_backward_chunked(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  o.atol = 2e-3;
  o.rtol = 1e-4;
  opcheck_opts("input dy: f32[64,6,28,28]\n"
               "input x: f32[64,1,28,28]\n"
               "dw = conv2d_grad_weight(dy, x, pads=[2,2], wshape=[6,1,5,5])\n"
               "input dy2: f32[64,16,10,10]\n"
               "input w2: f32[16,6,5,5]\n"
               "input x2: f32[64,6,14,14]\n"
               "dx2 = conv2d_grad_input(dy2, w2, xshape=[64,6,14,14])\n"
               "dw2 = conv2d_grad_weight(dy2, x2, wshape=[16,6,5,5])\n"
               "output dw, dx2, dw2\n",
               &o);
}

/* The run-by-run packers: K split into blocks that start mid-kernel
 * (37 channels x 9 taps in blocks of 167), pads wider than the kernel
 * reaches (whole rows and columns of zeros), width dilation at stride 1
 * (the gathered gradient), rows shorter and longer than a register tile. */
static void conv_pack_runs(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x1: f32[2,37,9,7]\n"
               "input w1: f32[8,37,3,3]\n"
               "input b1: f32[8]\n"
               "y1 = conv2d(x1, w1, b1, pads=[3,4,1,0])\n"
               "input dy2: f32[2,8,9,7]\n"
               "input w2: f32[8,37,3,3]\n"
               "input x2: f32[2,37,9,9]\n"
               "dx2 = conv2d_grad_input(dy2, w2, pads=[1,1], dilations=[1,2], xshape=[2,37,9,9])\n"
               "dw2 = conv2d_grad_weight(dy2, x2, pads=[1,1], dilations=[1,2], wshape=[8,37,3,3])\n"
               "input x3: f32[3,13,5,41]\n"
               "input w3: f32[9,13,2,3]\n"
               "y3 = conv2d(x3, w3, strides=[1,3], pads=[0,2])\n"
               "input dy4: f32[3,16,5,19]\n"
               "input x4: f32[3,13,5,37]\n"
               "dw4 = conv2d_grad_weight(dy4, x4, strides=[1,2], pads=[1,1], wshape=[16,13,3,3])\n"
               "output y1, dx2, dw2, y3, dw4\n",
               &o);
}

/* The direct correlation on shifted planes (stride 1, few channels):
 * forward with odd and even output channel counts, asymmetric pads, a
 * bias, a fused relu; the input gradient (flipped kernel, the staged dy
 * padded by K-1-pad, or by kernel columns) with pads up to K-1, wide
 * kernels, output widths around the vector width; the weight gradient
 * with image counts below and not dividing the chunk count and 49 taps. */
static void conv_direct(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x1: f32[3,5,9,17]\n"
               "input w1: f32[7,5,3,3]\n"
               "input b1: f32[7]\n"
               "c1 = conv2d(x1, w1, b1, pads=[1,2,0,1])\n"
               "y1 = relu(c1)\n"
               "input x2: f32[2,3,12,8]\n"
               "input w2: f32[10,3,2,4]\n"
               "y2 = conv2d(x2, w2, pads=[1,3])\n"
               "input dy3: f32[2,9,9,10]\n"
               "input w3: f32[9,5,3,3]\n"
               "dx3 = conv2d_grad_input(dy3, w3, pads=[1,2,1,0], xshape=[2,5,9,10])\n"
               "input dy4: f32[3,4,7,16]\n"
               "input w4: f32[4,7,2,5]\n"
               "dx4 = conv2d_grad_input(dy4, w4, xshape=[3,7,8,20])\n"
               "input dy5: f32[10,3,9,10]\n"
               "input x5: f32[10,4,9,10]\n"
               "dw5 = conv2d_grad_weight(dy5, x5, pads=[1,2,1,2], wshape=[3,4,3,5])\n"
               "input dy6: f32[3,2,8,9]\n"
               "input x6: f32[3,5,10,11]\n"
               "dw6 = conv2d_grad_weight(dy6, x6, pads=[2,2], wshape=[2,5,7,7])\n"
               "output y1, y2, dx3, dx4, dw5, dw6\n",
               &o);
}

/* The direct correlation's blocks: 17 output channels (a block of 16 and
 * one of 1 with AVX-512, 8 + 8 + 1 with AVX2), 19 source channels in two
 * blocks (the last partial), a fused chain reading another operand while
 * the product is also stored; the input gradient with 5 channels, 20
 * summed, a 3 x 7 kernel and 10 plane vectors (chunks of 4, 3 and 3 with
 * AVX-512). The direct weight gradient's tiles: 30 kernel columns (blocks
 * of 24 + 6 with AVX-512, 12 + 12 + 6 with AVX2), 12 channels in tiles of
 * 6 (AVX-512) or 4 (AVX2) by 3 columns, with padding. The input gradient
 * by kernel columns: asymmetric pads (columns cut at both ends of the
 * shifted sums), 21 column channels (a block of 16 and one of 5), a
 * fused product stored with the chain. */
static void conv_direct_blocks(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x1: f32[2,19,9,11]\n"
               "input w1: f32[17,19,3,3]\n"
               "input b1: f32[17]\n"
               "input z1: f32[2,17,9,11]\n"
               "c1 = conv2d(x1, w1, b1, pads=[1,1])\n"
               "s1 = add(c1, z1)\n"
               "y1 = tanh(s1)\n"
               "input dy2: f32[3,20,6,13]\n"
               "input w2: f32[20,5,3,7]\n"
               "dx2 = conv2d_grad_input(dy2, w2, xshape=[3,5,8,19])\n"
               "input dy3: f32[2,4,4,11]\n"
               "input x3: f32[2,3,4,40]\n"
               "dw3 = conv2d_grad_weight(dy3, x3, wshape=[4,3,1,30])\n"
               "input dy4: f32[5,12,9,9]\n"
               "input x4: f32[5,7,9,9]\n"
               "dw4 = conv2d_grad_weight(dy4, x4, pads=[1,1], wshape=[12,7,3,3])\n"
               "input dy5: f32[2,7,5,9]\n"
               "input w5: f32[7,3,3,7]\n"
               "input z5: f32[2,3,6,12]\n"
               "dx5 = conv2d_grad_input(dy5, w5, pads=[1,1,0,2], xshape=[2,3,6,12])\n"
               "e5 = mul(dx5, z5)\n"
               "output c1, y1, dx2, dw3, dw4, dx5, e5\n",
               &o);
}

/* Max pooling's 2x2 stride-2 gradient: odd sizes (a last row and column
 * in no window), windows of ties (relu zeros: the first maximum takes the
 * gradient), a fused relu gradient after it (the product also stored), a
 * fused add (nonzero where the gradient is zero, the product not stored),
 * f64. */
static void maxpool_grad_2x2(void **state) {
  (void)state;
  OpcheckOpts o = kernel_opts();
  opcheck_opts("input x: f32[2,3,9,11]\n"
               "input dy: f32[2,3,4,5]\n"
               "r = relu(x)\n"
               "dx = maxpool2d_grad(dy, r, kernel=[2,2], strides=[2,2])\n"
               "d = ew_grad(x, r, dx, op=\"relu\", wrt=0)\n"
               "input x2: f64[1,2,8,8]\n"
               "input dy2: f64[1,2,4,4]\n"
               "r2 = relu(x2)\n"
               "dx2 = maxpool2d_grad(dy2, r2, kernel=[2,2], strides=[2,2])\n"
               "input x3: f32[1,2,7,9]\n"
               "input dy3: f32[1,2,3,4]\n"
               "input z3: f32[1,2,7,9]\n"
               "r3 = relu(x3)\n"
               "dx3 = maxpool2d_grad(dy3, r3, kernel=[2,2], strides=[2,2])\n"
               "s3 = add(dx3, z3)\n"
               "output dx, d, dx2, s3\n",
               &o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(maxpool_grad_2x2),
      cmocka_unit_test(conv_direct),
      cmocka_unit_test(conv_direct_blocks),
      cmocka_unit_test(conv_pack_runs),
      cmocka_unit_test(gemm_edges_nn),
      cmocka_unit_test(gemm_edges_tn),
      cmocka_unit_test(gemm_edges_nt),
      cmocka_unit_test(gemm_edges_tt),
      cmocka_unit_test(gemm_split_k_parallel),
      cmocka_unit_test(gemm_bias_forms_blocked),
      cmocka_unit_test(gemm_task_grids),
      cmocka_unit_test(matmul_blocked),
      cmocka_unit_test(conv_gemm_paths),
      cmocka_unit_test(conv_wide_rows),
      cmocka_unit_test(conv_backward_gemm_paths),
      cmocka_unit_test(conv_backward_chunked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
