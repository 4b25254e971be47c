/* Fusion (passes/fuse.c) and fused kernels: elementwise epilogues applied
 * in the GEMM micro-kernel's store (gemm, matmul, conv1d/2d: bias forms,
 * activations, residual adds, chains; split K blocks; batched products),
 * the generic producer + epilogue form (small or f64 products, pool and
 * convolution gradients), backward epilogues (ew_grad), all generated vs
 * the interpreter (opcheck runs the pipeline, and checks the memory plan);
 * and kernel counts: what fuses and what must not.
 *
 * Tolerance as in test_kernels.c: inputs U[-1,1), K <= 600, atol 1e-4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/opcheck.h"
#include "helpers/testfile.h"
#include "passes/passes.h"

static OpcheckOpts fuse_opts(void) {
  OpcheckOpts o = opcheck_range(-1, 1);
  o.atol = 1e-4;
  o.rtol = 1e-5;
  return o;
}

static void optimize(IrGraph *g, int opt, bool inference) {
  SmDiag d;
  sm_diag_init(&d);
  PassOptions po = {.opt_level = opt, .inference = inference, .shared_params = !inference,
                    .verify = true};
  if (pass_run_pipeline(g, &po, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
}

/* Kernel count of `text` (inference) after the default pipeline. */
static int kernels_of(const char *text, int opt) {
  IrGraph *g = test_parse("fuse.smelt", text);
  optimize(g, opt, true);
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  cg_kernels_free(ks, nk);
  ir_graph_free(g);
  return nk;
}

/* The kernel computing value `name`: its member count and result count. */
static void kernel_of(const char *text, const char *name, int *nm, int *nout) {
  IrGraph *g = test_parse("fuse.smelt", text);
  optimize(g, 1, true);
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  *nm = *nout = -1;
  for (int k = 0; k < nk; k++)
    for (int m = 0; m < ks[k].nm; m++)
      if (!strcmp(ks[k].mem[m]->out[0]->name, name)) *nm = ks[k].nm, *nout = ks[k].nout;
  cg_kernels_free(ks, nk);
  ir_graph_free(g);
}

/* ---- numerics ---- */

static void gemm_epilogues(void **state) {
  (void)state;
  OpcheckOpts o = fuse_opts();
  opcheck_opts("input a: f32[64,400]\n"
               "input w: f32[120,400]\n"
               "input b: f32[120]\n"
               "h = gemm(a, w, b, transB=1)\n"
               "y1 = relu(h)\n"
               /* bias as a separate broadcast add, then leaky_relu */
               "input a2: f32[33,70]\n"
               "input w2: f32[70,45]\n"
               "input b2: f32[45]\n"
               "h2 = gemm(a2, w2)\n"
               "s2 = add(h2, b2)\n"
               "y2 = leaky_relu(s2, alpha=0.1)\n"
               /* row bias [M,1], sigmoid, residual add of a [M,N] operand */
               "input a3: f32[17,600]\n"
               "input w3: f32[600,40]\n"
               "input c3: f32[17,1]\n"
               "input r3: f32[17,40]\n"
               "h3 = gemm(a3, w3, c3, beta=0.5)\n"
               "s3 = sigmoid(h3)\n"
               "y3 = add(s3, r3)\n"
               /* tanh, gelu, clip chain; the product is also an output */
               "input a4: f32[20,30]\n"
               "input w4: f32[50,30]\n"
               "h4 = gemm(a4, w4, transB=1, alpha=0.5)\n"
               "t4 = tanh(h4)\n"
               "g4 = gelu(t4)\n"
               "y4 = clip(g4, min=-0.1, max=0.2)\n"
               "output y1, y2, y3, y4, h4\n",
               &o);
}

static void matmul_conv_epilogues(void **state) {
  (void)state;
  OpcheckOpts o = fuse_opts();
  opcheck_opts("input a: f32[3,20,37]\n"
               "input b: f32[37,50]\n"
               "input r: f32[3,20,50]\n"
               "m = matmul(a, b)\n"
               "s = mul(m, r)\n"
               "y1 = tanh(s)\n"
               /* conv with its own bias + relu (LeNet's first layer) */
               "input x: f32[2,1,28,28]\n"
               "input w: f32[6,1,5,5]\n"
               "input cb: f32[6]\n"
               "c = conv2d(x, w, cb, pads=[2,2])\n"
               "y2 = relu(c)\n"
               /* bias [1,C,1,1] added after the conv, residual add, relu */
               "input x3: f32[2,8,9,9]\n"
               "input w3: f32[8,8,3,3]\n"
               "input b3: f32[1,8,1,1]\n"
               "c3 = conv2d(x3, w3, pads=[1,1])\n"
               "s3 = add(c3, b3)\n"
               "t3 = add(s3, x3)\n"
               "y3 = relu(t3)\n"
               /* grouped, strided conv + elu; 1-D conv + softplus */
               "input x4: f32[2,6,11,11]\n"
               "input w4: f32[8,3,3,3]\n"
               "c4 = conv2d(x4, w4, group=2, strides=[2,2])\n"
               "y4 = elu(c4)\n"
               "input x5: f32[2,5,40]\n"
               "input w5: f32[6,5,3]\n"
               "c5 = conv1d(x5, w5, pads=[1])\n"
               "y5 = softplus(c5)\n"
               "output y1, y2, y3, y4, y5\n",
               &o);
}

/* Products that do not take the blocked GEMM: the producer writes the
 * result buffer, a second loop applies the chain in place. */
static void generic_epilogues(void **state) {
  (void)state;
  OpcheckOpts o = fuse_opts();
  opcheck_opts("input a: f32[1,3]\n"
               "input b: f32[3,2]\n"
               "h = gemm(a, b)\n"
               "y1 = relu(h)\n"
               "input a2: f64[9,12]\n"
               "input b2: f64[12,7]\n"
               "input c2: f64[7]\n"
               "h2 = matmul(a2, b2)\n"
               "s2 = add(h2, c2)\n"
               "y2 = sigmoid(s2)\n"
               "input x3: f32[1,4,6,6]\n"
               "input w3: f32[4,1,3,3]\n"
               "c3 = conv2d(x3, w3, group=4, pads=[1,1])\n"
               "y3 = relu(c3)\n"
               "output y1, y2, y3\n",
               &o);
}

/* Backward epilogues: an activation's gradient (ew_grad) applied as the
 * product holding dy is stored, and after a pool's gradient. */
static void backward_epilogues(void **state) {
  (void)state;
  OpcheckOpts o = fuse_opts();
  opcheck_opts("input dz: f32[64,10]\n"
               "input w: f32[10,84]\n"
               "input h: f32[64,84]\n"
               "a = relu(h)\n"
               "dy = gemm(dz, w)\n"
               "dh = ew_grad(h, a, dy, op=\"relu\", wrt=0)\n"
               "input dz2: f32[30,50]\n"
               "input w2: f32[50,70]\n"
               "input h2: f32[30,70]\n"
               "a2 = tanh(h2)\n"
               "dy2 = gemm(dz2, w2)\n"
               "dh2 = ew_grad(h2, a2, dy2, op=\"tanh\", wrt=0)\n"
               "input g: f32[2,4,3,3]\n"
               "input r: f32[2,4,6,6]\n"
               "input c: f32[2,4,6,6]\n"
               "gp = maxpool2d_grad(g, r, kernel=[2,2])\n"
               "dc = ew_grad(c, r, gp, op=\"relu\", wrt=0)\n"
               "output dh, dh2, dc, a, a2\n",
               &o);
}

/* ---- what fuses ---- */

static const char *conv_bias_relu = "input x: f32[2,3,10,10]\n"
                                    "param w: f32[8,3,3,3] = he_uniform\n"
                                    "param b: f32[8] = zeros\n"
                                    "c = conv2d(x, w, b)\n"
                                    "y = relu(c)\n"
                                    "output y\n";

static void counts_epilogue(void **state) {
  (void)state;
  assert_int_equal(kernels_of(conv_bias_relu, 1), 1);
  assert_int_equal(kernels_of(conv_bias_relu, 0), 2);
  /* bias add, activation, residual add: one kernel */
  const char *chain = "input x: f32[16,32]\n"
                      "input w: f32[32,24]\n"
                      "input b: f32[24]\n"
                      "input r: f32[16,24]\n"
                      "h = gemm(x, w)\n"
                      "s = add(h, b)\n"
                      "t = relu(s)\n"
                      "y = add(t, r)\n"
                      "output y\n";
  assert_int_equal(kernels_of(chain, 1), 1);
  assert_int_equal(kernels_of(chain, 0), 4);
  int nm, nout;
  kernel_of(chain, "h", &nm, &nout);
  assert_int_equal(nm, 4);
  assert_int_equal(nout, 1); /* h, s, t never reach memory */
  /* the product is also an output: stored by the same kernel */
  const char *both = "input x: f32[16,32]\n"
                     "input w: f32[32,24]\n"
                     "h = gemm(x, w)\n"
                     "y = relu(h)\n"
                     "output y, h\n";
  assert_int_equal(kernels_of(both, 1), 1);
  kernel_of(both, "h", &nm, &nout);
  assert_int_equal(nout, 2);
}

static void counts_not_fused(void **state) {
  (void)state;
  /* an elementwise value with two users is not fused into either */
  const char *two = "input x: f32[16,32]\n"
                    "input w: f32[32,24]\n"
                    "h = gemm(x, w)\n"
                    "a = relu(h)\n"
                    "p = mul(a, a)\n"
                    "q = sigmoid(a)\n"
                    "output p, q\n";
  assert_int_equal(kernels_of(two, 1), 3); /* gemm+relu, mul, sigmoid */
  int nm, nout;
  kernel_of(two, "p", &nm, &nout);
  assert_int_equal(nm, 1);
  kernel_of(two, "q", &nm, &nout);
  assert_int_equal(nm, 1);
  /* two products never share a kernel; the second one's consumer... */
  const char *pair = "input x: f32[16,32]\n"
                     "input w: f32[32,24]\n"
                     "input v: f32[32,24]\n"
                     "h = gemm(x, w)\n"
                     "k = gemm(x, v)\n"
                     "y = add(h, k)\n"
                     "output y\n";
  assert_int_equal(kernels_of(pair, 1), 2);
  /* an elementwise op that broadcasts to a larger shape does not fuse */
  const char *grow = "input x: f32[1,32]\n"
                     "input w: f32[32,24]\n"
                     "input r: f32[5,24]\n"
                     "h = gemm(x, w)\n"
                     "y = add(h, r)\n"
                     "output y\n";
  assert_int_equal(kernels_of(grow, 1), 2);
  /* a product read by an op that runs before the epilogue's kernel
   * would: the consumer's position decides, so keep them apart */
  const char *early = "input x: f32[16,32]\n"
                      "input w: f32[32,24]\n"
                      "h = gemm(x, w)\n"
                      "s = reduce_sum(h, axes=[1], keepdims=1)\n"
                      "t = add(h, s)\n"
                      "output t\n";
  /* t reads s, which reads h: h runs before s, so t cannot absorb h */
  assert_int_equal(kernels_of(early, 1), 3);
}

/* A norm's forward is two kernels: norm_stats (mean and rstd in one pass
 * over the rows) and one loop normalizing, scaling and shifting (and
 * applying a following activation). The lowering to reduce_mean / sub /
 * mul / sqrt / div took 7. */
static void counts_norms(void **state) {
  (void)state;
  const char *ln = "input x: f32[32,24,64]\n"
                   "param s: f32[64] = ones\n"
                   "param b: f32[64] = zeros\n"
                   "y = layernorm(x, s, b)\n"
                   "output y\n";
  assert_int_equal(kernels_of(ln, 1), 2);
  int nm, nout;
  kernel_of(ln, "y", &nm, &nout);
  assert_int_equal(nm, 4); /* sub, mul, mul, add */
  assert_int_equal(nout, 1);
  kernel_of(ln, "y.mean0", &nm, &nout);
  assert_int_equal(nm, 1);
  assert_int_equal(nout, 2); /* mean and rstd */
  const char *ln_relu = "input x: f32[4,8,5,5]\n"
                        "param s: f32[8,5,5] = ones\n"
                        "param b: f32[8,5,5] = zeros\n"
                        "n = layernorm(x, s, b, axis=1)\n"
                        "y = relu(n)\n"
                        "output y\n";
  assert_int_equal(kernels_of(ln_relu, 1), 2);
  /* scale and bias as inputs: their reshapes are views. groupnorm
   * normalizes the view [N, groups, C/groups, L] of x; viewing the result
   * back is a copy here only because it is the graph's output */
  const char *gn = "input x: f32[4,6,5,5]\n"
                   "input s: f32[6]\n"
                   "input b: f32[6]\n"
                   "y = groupnorm(x, s, b, groups=3)\n"
                   "output y\n";
  assert_int_equal(kernels_of(gn, 1), 3);
  kernel_of(gn, "y.y8", &nm, &nout);
  assert_int_equal(nm, 4);
  const char *in = "input x: f32[4,6,7]\n"
                   "input s: f32[6]\n"
                   "input b: f32[6]\n"
                   "n = instancenorm(x, s, b)\n"
                   "y = relu(n)\n"
                   "output y\n";
  assert_int_equal(kernels_of(in, 1), 2);
}

static char *read_example(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s", SMELT_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  return text;
}

static void counts_lenet(void **state) {
  (void)state;
  const char *text = read_example("lenet.smelt");
  /* one kernel per conv/gemm/pool, every elementwise op fused */
  assert_int_equal(kernels_of(text, 1), 7);
  assert_int_equal(kernels_of(text, 0), 12); /* -O0 also keeps the unused loss */
  /* the training step: forward activations, backward ew_grads fused */
  int counts[2];
  for (int opt = 0; opt < 2; opt++) {
    IrGraph *g = test_parse("fuse.smelt", text);
    SmDiag d;
    sm_diag_init(&d);
    TrainProgram tp;
    assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
    optimize(tp.train, opt, false);
    CgKernel *ks;
    counts[opt] = cg_kernels(tp.train, &ks);
    cg_kernels_free(ks, counts[opt]);
    train_program_free(&tp);
    ir_graph_free(g);
    sm_diag_free(&d);
  }
  /* conv+relu x2, gemm+relu x2, maxpool_grad+ew_grad x2, the three gemm
   * weights' updates in their gradient's gemm, the other updates in one
   * kernel; a gemm reading a weight whose update runs before the gemm's
   * ew_grad consumer stays apart (it would read the updated weight) */
  assert_int_equal(counts[0], 44);
  assert_true(counts[1] <= 29);
}

/* The MLP's training step: each weight's update runs in the epilogue of
 * the gemm computing its gradient, so dW1 (800 KB) has no buffer and the
 * arena drops to at most half the unfused no-reuse total; the bias
 * updates share one kernel. */
static void training_updates(void **state) {
  (void)state;
  size_t arena[2], naive[2];
  int nk[2];
  for (int opt = 0; opt < 2; opt++) {
    IrGraph *g = test_parse("fuse.smelt", read_example("mlp.smelt"));
    SmDiag d;
    sm_diag_init(&d);
    TrainProgram tp;
    assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
    optimize(tp.train, opt, false);
    CgPlan p;
    cg_plan(tp.train, NULL, &p);
    arena[opt] = p.arena_bytes;
    naive[opt] = p.naive_bytes;
    CgKernel *ks;
    nk[opt] = cg_kernels(tp.train, &ks);
    int fused = 0, side = 0;
    for (int k = 0; k < nk[opt]; k++) {
      const CgKernel *K = &ks[k];
      if (K->nm == 1 || !strstr(K->anchor->op->name, "_update")) continue;
      if (!strcmp(K->mem[0]->op->name, "gemm")) {
        fused++;
        /* the gradient is computed in registers: no result of its own */
        for (int o = 0; o < K->nout; o++) assert_ptr_not_equal(K->outs[o], K->mem[0]->out[0]);
        assert_int_equal(p.slots[K->mem[0]->out[0]->id].bytes, 0);
      } else {
        side++;
        for (int m = 0; m < K->nm; m++) assert_non_null(strstr(K->mem[m]->op->name, "_update"));
      }
    }
    assert_int_equal(fused, opt ? 3 : 0);
    assert_int_equal(side, opt ? 1 : 0);
    cg_kernels_free(ks, nk[opt]);
    cg_plan_free(&p);
    train_program_free(&tp);
    ir_graph_free(g);
    sm_diag_free(&d);
  }
  print_message("# mlp training step: arena %zu of %zu (-O0, no reuse) = %.1f%%, kernels %d -> %d\n",
                arena[1], naive[0], 100.0 * (double)arena[1] / (double)naive[0], nk[0], nk[1]);
  assert_true(2 * arena[1] <= naive[0]);
  assert_true(nk[1] <= 19);
}

/* In-place reuse (codegen/plan.c): a kernel's result takes the storage of
 * an operand that dies in that kernel, for an elementwise kernel and for
 * a GEMM epilogue reading the operand element by element; generated vs
 * interpreter (opcheck also runs the plan checker, which accepts the
 * shared storage only under these conditions). */
static const char *reuse_text = "input x: f32[1024]\n"
                                "a = exp(x)\n"
                                "p = reduce_sum(a, keepdims=1)\n"
                                "b = mul(a, p)\n"
                                "o1 = reduce_sum(b, keepdims=0)\n"
                                "input x2: f32[16,32]\n"
                                "input w2: f32[32,24]\n"
                                "input q2: f32[16,24]\n"
                                "r = exp(q2)\n"
                                "s = reduce_sum(r, axes=[1], keepdims=1)\n"
                                "h = gemm(x2, w2)\n"
                                "y = add(h, r)\n"
                                "z = mul(y, s)\n"
                                "o2 = reduce_sum(z, keepdims=0)\n"
                                /* a gemm reads all of e for each result
                                 * element: never in place */
                                "input x3: f32[24,24]\n"
                                "input w3: f32[24,24]\n"
                                "e = exp(x3)\n"
                                "h3 = gemm(e, w3)\n"
                                "o3 = reduce_sum(h3, keepdims=0)\n"
                                "output o1, o2, o3\n";

static void inplace_reuse(void **state) {
  (void)state;
  OpcheckOpts o = fuse_opts();
  opcheck_opts(reuse_text, &o);
  IrGraph *g = test_parse("fuse.smelt", reuse_text);
  optimize(g, 1, true);
  CgPlan p;
  cg_plan(g, NULL, &p);
  const char *pairs[2][2] = {{"a", "b"}, {"r", "z"}};
  for (int i = 0; i < 2; i++) {
    const IrValue *u = ir_graph_find(g, pairs[i][0]), *v = ir_graph_find(g, pairs[i][1]);
    assert_non_null(u);
    assert_non_null(v);
    assert_int_equal(p.slots[u->id].offset, p.slots[v->id].offset);
    assert_int_equal(p.slots[v->id].bytes, p.slots[u->id].bytes);
  }
  /* a's reduction reads it before b's kernel: b may not take p's storage
   * (other size), and exp(x) never writes over the input x */
  assert_true(p.slots[ir_graph_find(g, "x")->id].offset != p.slots[ir_graph_find(g, "a")->id].offset);
  assert_true(p.slots[ir_graph_find(g, "e")->id].offset != p.slots[ir_graph_find(g, "h3")->id].offset);
  cg_plan_free(&p);
  ir_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gemm_epilogues),   cmocka_unit_test(matmul_conv_epilogues),
      cmocka_unit_test(generic_epilogues), cmocka_unit_test(backward_epilogues),
      cmocka_unit_test(counts_epilogue),  cmocka_unit_test(counts_not_fused),
      cmocka_unit_test(counts_lenet),     cmocka_unit_test(counts_norms),
      cmocka_unit_test(training_updates),
      cmocka_unit_test(inplace_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
