/* Loss ops: generated code against the reference interpreter for every loss
 * and reduction (odd N and C, skipped labels, a shape big enough for the
 * parallel loop), values computed by hand (Python, from the PyTorch
 * formulas) through the interpreter, gradients against finite differences,
 * and shape-rule diagnostics with line:col. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"
#include "passes/passes.h"

/* Runs `text` (one input per array in `ins`, in declaration order) through
 * the interpreter; returns output `k`'s tensor (caller frees all). */
static void interpret(const char *text, double *const *ins, IrTensor *outs) {
  ir_graph_free(interpret_text(text, ins, NULL, outs));
}

static void near(double got, double want, int line) {
  if (!(fabs(got - want) <= 1e-7 * (1 + fabs(want)))) {
    print_error("line %d: got %.9g, want %.9g\n", line, got, want);
    fail();
  }
}
#define NEAR(got, want) near((got), (want), __LINE__)

/* ---- generated vs interpreter ---- */

/* labels in [-1, C]: -1 and C are out of range and must be skipped (no
 * out-of-bounds read in the kernel: ASan builds check that too) */
static void ce_opcheck(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_ints(-1, 5);
  opcheck_opts("input x: f32[7,5]\n"
               "input y: i64[7]\n"
               "input w0: f32[5]\n"
               "w = exp(w0)\n"
               "a: f32[] = cross_entropy(x, y)\n"
               "b: f32[] = cross_entropy(x, y, reduction=\"sum\")\n"
               "c: f32[7] = cross_entropy(x, y, reduction=\"none\")\n"
               "d: f32[] = cross_entropy(x, y, w, label_smoothing=0.1)\n"
               "e: f32[7] = cross_entropy(x, y, w, label_smoothing=0.25, reduction=\"none\", "
               "ignore_index=2)\n"
               "f: f32[] = cross_entropy(x, y, w, reduction=\"sum\", ignore_index=0)\n"
               "g: f32[] = cross_entropy(x, y, label_smoothing=0.3, ignore_index=4)\n"
               "input x1: f32[1,3]\n"
               "input y1: i32[1]\n"
               "h: f32[1] = cross_entropy(x1, y1, reduction=\"none\", label_smoothing=1)\n"
               "input x2: f32[3,1]\n"
               "input y2: i64[3]\n"
               "i: f32[] = cross_entropy(x2, y2)\n"
               "input x3: f32[33,1001]\n"
               "input y3: i64[33]\n"
               "j: f32[] = cross_entropy(x3, y3, label_smoothing=0.05)\n"
               "k: f32[33] = cross_entropy(x3, y3, reduction=\"none\")\n"
               "input x4: f64[5,3]\n"
               "input y4: i64[5]\n"
               "l: f64[] = cross_entropy(x4, y4, label_smoothing=0.2)\n"
               "output a, b, c, d, e, f, g, h, i, j, k, l\n",
               &o);
}

static void nll_opcheck(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_ints(-1, 5);
  opcheck_opts("input x: f32[9,5]\n"
               "input y: i64[9]\n"
               "input w0: f32[5]\n"
               "w = exp(w0)\n"
               "a: f32[] = nll(x, y)\n"
               "b: f32[] = nll(x, y, w, reduction=\"sum\")\n"
               "c: f32[9] = nll(x, y, w, reduction=\"none\", ignore_index=3)\n"
               "d: f32[] = nll(x, y, w, ignore_index=1)\n"
               "input x3: f32[41,997]\n"
               "input y3: i32[41]\n"
               "e: f32[] = nll(x3, y3)\n"
               "output a, b, c, d, e\n",
               &o);
}

#define EL_SET(op, p, x, t, n)                                                 \
  p "a: f32[] = " op "(" x ", " t ")\n"                                        \
  p "b: f32[] = " op "(" x ", " t ", reduction=\"sum\")\n"                     \
  p "c: f32[" n "] = " op "(" x ", " t ", reduction=\"none\")\n"

static void elementwise_opcheck(void **state) {
  (void)state;
  opcheck("input p: f32[5,3,4]\n"
          "input t: f32[5,3,4]\n"
          "input q: f32[7]\n"
          "input u: f32[7]\n"
          "input r: f32[129,301]\n"
          "input v: f32[129,301]\n"
          "sp = sigmoid(p)\nst = sigmoid(t)\nsq = sigmoid(q)\nsu = sigmoid(u)\n"
          EL_SET("mse", "m", "p", "t", "5")
          EL_SET("l1", "l", "p", "t", "5")
          EL_SET("bce", "b", "sp", "st", "5")
          EL_SET("bce_logits", "z", "p", "st", "5")
          EL_SET("mse", "M", "q", "u", "7")
          EL_SET("l1", "L", "q", "u", "7")
          EL_SET("bce", "B", "sq", "su", "7")
          EL_SET("bce_logits", "Z", "q", "su", "7")
          EL_SET("hinge", "h", "q", "u", "7")
          "hd: f32[7] = hinge(q, u, margin=0.5, reduction=\"none\")\n"
          EL_SET("mse", "R", "r", "v", "129")
          EL_SET("bce_logits", "Q", "r", "v", "129")
          "output ma, mb, mc, la, lb, lc, ba, bb, bc, za, zb, zc\n"
          "output Ma, Mb, Mc, La, Lb, Lc, Ba, Bb, Bc, Za, Zb, Zc, ha, hb, hc, hd\n"
          "output Ra, Rb, Rc, Qa, Qb, Qc\n");
}

/* probabilities at exactly 0 and 1 hit the -100 clamp on both sides */
static void bce_clamp_opcheck(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(0, 1);
  opcheck_opts("input t: f32[4]\n"
               "p = constant(shape=[4], value=[0, 1, 0, 1])\n"
               "a: f32[4] = bce(p, t, reduction=\"none\")\n"
               "b: f32[] = bce(p, t)\n"
               "z = constant(shape=[4], value=[-200, 200, 90, -90])\n"
               "c: f32[4] = bce_logits(z, t, reduction=\"none\")\n"
               "output a, b, c\n",
               &o);
}

/* backward ops directly, including "none" dloss vectors and skipped labels */
static void backward_opcheck(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_ints(-1, 4);
  opcheck_opts("input x: f32[6,4]\n"
               "input y: i64[6]\n"
               "input w0: f32[4]\n"
               "input g: f32[]\n"
               "input gn: f32[6]\n"
               "w = exp(w0)\n"
               "a: f32[6,4] = cross_entropy_grad(x, y, g)\n"
               "b: f32[6,4] = cross_entropy_grad(x, y, w, gn, reduction=\"none\", "
               "label_smoothing=0.2, ignore_index=0)\n"
               "c: f32[6,4] = cross_entropy_grad(x, y, w, g, label_smoothing=0.1)\n"
               "d: f32[6,4] = nll_grad(x, y, w, g, reduction=\"sum\")\n"
               "e: f32[6,4] = nll_grad(x, y, gn, reduction=\"none\")\n"
               "input p: f32[6,2]\n"
               "input t: f32[6,2]\n"
               "sp = sigmoid(p)\n"
               "f: f32[6,2] = mse_grad(p, t, g)\n"
               "h: f32[6,2] = l1_grad(p, t, gn, reduction=\"none\", wrt=1)\n"
               "i: f32[6,2] = bce_grad(sp, t, g, reduction=\"sum\", wrt=1)\n"
               "j: f32[6,2] = bce_logits_grad(p, t, gn, reduction=\"none\")\n"
               "input s: f32[6]\n"
               "k: f32[6] = hinge_grad(s, gn, g, margin=0.7, wrt=1)\n"
               "input X: f32[33,1001]\n"
               "input Y: i64[33]\n"
               "input GN: f32[33]\n"
               "l: f32[33,1001] = cross_entropy_grad(X, Y, GN, reduction=\"none\", "
               "label_smoothing=0.1)\n"
               "input P: f32[129,301]\n"
               "input T: f32[129,301]\n"
               "input GN2: f32[129]\n"
               "q: f32[129,301] = mse_grad(P, T, g)\n"
               "u: f32[129,301] = l1_grad(P, T, GN2, reduction=\"none\")\n"
               "output a, b, c, d, e, f, h, i, j, k, l, q, u\n",
               &o);
}

/* ---- hand-computed values (Python from the PyTorch formulas) ---- */

static void ce_values(void **state) {
  (void)state;
  double x[] = {1, 2, 0.5, 0.1, -1, 2, 0.3, -0.7, 0.9}, y[] = {2, 0, 1}, w[] = {0.2, 1, 3};
  double *ins[] = {x, y, w};
  IrTensor out[4];
  interpret("input x: f32[3,3]\ninput y: i64[3]\ninput w: f32[3]\n"
            "a = cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=1)\n"
            "b = cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=1, reduction=\"sum\")\n"
            "c = cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=1, reduction=\"none\")\n"
            "d = cross_entropy(x, y)\n"
            "output a, b, c, d\n",
            ins, out);
  NEAR(out[0].d[0], 1.88697241);
  NEAR(out[1].d[0], 6.03831172);
  NEAR(out[2].d[0], 5.52547401);
  NEAR(out[2].d[1], 0.512837702);
  NEAR(out[2].d[2], 0);
  NEAR(out[3].d[0], 2.06872455);
  for (int i = 0; i < 4; i++) ir_tensor_free(&out[i]);
}

static void bce_values(void **state) {
  (void)state;
  double p[] = {0.2, 0.9, 0, 1}, t[] = {1, 0.3, 1, 1};
  double z[] = {100, -100, 100, 0}, zt[] = {0, 0, 1, 1};
  double s[] = {0.5, -2, 3}, st[] = {1, 1, -1};
  double *ins[] = {p, t, z, zt, s, st};
  IrTensor out[4];
  interpret("input p: f32[4]\ninput t: f32[4]\ninput z: f32[4]\ninput zt: f32[4]\n"
            "input s: f32[3]\ninput st: f32[3]\n"
            "a = bce(p, t, reduction=\"none\")\nb = bce(p, t)\n"
            "c = bce_logits(z, zt, reduction=\"none\")\n"
            "d = hinge(s, st, reduction=\"none\")\n"
            "output a, b, c, d\n",
            ins, out);
  NEAR(out[0].d[0], 1.60943791);
  NEAR(out[0].d[1], 1.64341772);
  NEAR(out[0].d[2], 100);
  NEAR(out[0].d[3], 0);
  NEAR(out[1].d[0], 25.8132139);
  NEAR(out[2].d[0], 100);
  NEAR(out[2].d[1], 3.72007598e-44);
  NEAR(out[2].d[2], 3.72007598e-44);
  NEAR(out[2].d[3], 0.693147181);
  NEAR(out[3].d[0], 0.5);
  NEAR(out[3].d[1], 3);
  NEAR(out[3].d[2], 4);
  for (int i = 0; i < 4; i++) ir_tensor_free(&out[i]);
}

/* "none" of an element-wise loss is the per-sample mean; "sum" sums all */
static void regression_values(void **state) {
  (void)state;
  double p[] = {1, 2, 3, 4, 5, 6}, t[] = {0, 0, 3, 6, 5, 5};
  double *ins[] = {p, t};
  IrTensor out[4];
  interpret("input p: f32[2,3]\ninput t: f32[2,3]\n"
            "a = mse(p, t, reduction=\"none\")\nb = mse(p, t, reduction=\"sum\")\n"
            "c = l1(p, t, reduction=\"none\")\nd = l1(p, t)\n"
            "output a, b, c, d\n",
            ins, out);
  assert_int_equal(out[0].numel, 2);
  NEAR(out[0].d[0], 5.0 / 3);
  NEAR(out[0].d[1], 5.0 / 3);
  NEAR(out[1].d[0], 10);
  NEAR(out[2].d[0], 1);
  NEAR(out[2].d[1], 1);
  NEAR(out[3].d[0], 1);
  for (int i = 0; i < 4; i++) ir_tensor_free(&out[i]);
}

/* ---- gradients against finite differences ---- */

static void ce_gradcheck(void **state) {
  (void)state;
  GradcheckOpts o = gradcheck_ints(-1, 4);
  gradcheck_opts("input x: f32[5,4]\n"
                 "input y: i64[5]\n"
                 "cw = constant(shape=[4], value=[0.5, 1, 2, 1.5])\n"
                 "a = cross_entropy(x, y)\n"
                 "b = cross_entropy(x, y, cw, label_smoothing=0.2, reduction=\"sum\")\n"
                 "c = cross_entropy(x, y, cw, label_smoothing=0.1, ignore_index=1, "
                 "reduction=\"none\")\n"
                 "d = cross_entropy(x, y, cw, ignore_index=3)\n"
                 "e = nll(x, y)\n"
                 "f = nll(x, y, cw, reduction=\"sum\", ignore_index=2)\n"
                 "h = nll(x, y, cw, reduction=\"none\")\n"
                 "output a, b, c, d, e, f, h\n",
                 &o);
}

static void elementwise_gradcheck(void **state) {
  (void)state;
  gradcheck("input p: f32[3,2,2]\ninput t: f32[3,2,2]\n"
            EL_SET("mse", "m", "p", "t", "3")
            EL_SET("l1", "l", "p", "t", "3")
            EL_SET("bce_logits", "z", "p", "t", "3")
            "input s: f32[5]\ninput u: f32[5]\n"
            EL_SET("hinge", "h", "s", "u", "5")
            "hm = hinge(s, u, margin=0.3)\n"
            "output ma, mb, mc, la, lb, lc, za, zb, zc, ha, hb, hc, hm\n");
  GradcheckOpts o = gradcheck_range(0.05, 0.95); /* probabilities away from 0 and 1 */
  gradcheck_opts("input p: f32[4,3]\ninput t: f32[4,3]\n"
                 EL_SET("bce", "b", "p", "t", "4")
                 "output ba, bb, bc\n",
                 &o);
}

/* gradients through a composed model: loss of a softmax-free linear layer */
static void loss_in_model_gradcheck(void **state) {
  (void)state;
  GradcheckOpts o = gradcheck_ints(0, 2);
  gradcheck_opts("input x: f32[4,3]\ninput y: i64[4]\nparam b: f32[3] = normal(1)\n"
                 "z = add(x, b)\nh = tanh(z)\n"
                 "l = cross_entropy(h, y, label_smoothing=0.1)\n"
                 "output l\n",
                 &o);
}

/* a trainable class-weight vector is reported, not silently ignored */
static void weight_grad_error(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("t.smelt",
                                 "input x: f32[2,3]\ninput y: i64[2]\ninput w: f32[3]\n"
                                 "l = cross_entropy(x, y, w)\noutput l\n",
                                 &g, &d),
                   SM_OK);
  IrValue *wrt[2] = {g->inputs[0], g->inputs[2]}, *grads[2];
  assert_int_equal(pass_grad(g, g->outputs[0], wrt, 2, grads, &d), SM_ERR_UNSUPPORTED);
  assert_non_null(strstr(sm_diag_text(&d), "t.smelt:4:5: error: cross_entropy: no gradient "
                                           "w.r.t. the class weights 'w'"));
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* ---- shape rules ---- */

static void shape_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[4]\ninput y: i64[4]\nl = cross_entropy(x, y)\noutput l\n",
                     "test.smelt:3:5: error: cross_entropy: expects float logits [N,C], "
                     "got f32[4]",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[5]\nl = cross_entropy(x, y)\noutput l\n",
                     "test.smelt:3:5: error: cross_entropy: labels must be i64[4] or i32[4] "
                     "for logits f32[4,3], got i64[5]",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: f32[4]\nl = nll(x, y)\noutput l\n",
                     "test.smelt:3:5: error: nll: labels must be i64[4] or i32[4] for "
                     "log-probabilities f32[4,3], got f32[4]",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[4]\ninput w: f32[4]\n"
                     "  l = cross_entropy(x, y, w)\noutput l\n",
                     "test.smelt:4:7: error: cross_entropy: class weights must be f32[3] for "
                     "logits f32[4,3], got f32[4]",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[4]\n"
                     "l = cross_entropy(x, y, reduction=\"avg\")\noutput l\n",
                     "test.smelt:3:5: error: cross_entropy: reduction must be \"mean\", "
                     "\"sum\" or \"none\", got \"avg\"",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[4]\n"
                     "l = cross_entropy(x, y, label_smoothing=1.5)\noutput l\n",
                     "test.smelt:3:5: error: cross_entropy: label_smoothing must be in "
                     "[0, 1], got 1.5",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[4]\n"
                     "l = nll(x, y, label_smoothing=0.1)\noutput l\n",
                     "test.smelt:3:15: error: nll: unknown attribute 'label_smoothing'",
                     NULL);
  expect_parse_error("input x: f32[4,3]\ninput y: i64[4]\nl: f32[4] = cross_entropy(x, y)\n"
                     "output l\n",
                     "test.smelt:3", "f32[]", NULL);
  expect_parse_error("input p: f32[4,3]\ninput t: f32[4,2]\nl = mse(p, t)\noutput l\n",
                     "test.smelt:3:5: error: mse: target must match the prediction f32[4,3], "
                     "got f32[4,2]",
                     NULL);
  expect_parse_error("input p: f32[]\ninput t: f32[]\nl = l1(p, t)\noutput l\n",
                     "test.smelt:3:5: error: l1: expects a float prediction [N, ...] with a "
                     "batch dim, got f32[]",
                     NULL);
  expect_parse_error("input p: i64[4]\ninput t: i64[4]\nl = bce(p, t)\noutput l\n",
                     "test.smelt:3:5: error: bce: expects a float prediction [N, ...] with a "
                     "batch dim, got i64[4]",
                     NULL);
  expect_parse_error("input p: f32[4,2]\ninput t: f32[4,2]\nl = hinge(p, t)\noutput l\n",
                     "test.smelt:3:5: error: hinge: expects a float score vector [N], got "
                     "f32[4,2]",
                     NULL);
  expect_parse_error("input p: f32[4]\ninput t: f32[4]\ninput g: f32[4]\n"
                     "l = mse_grad(p, t, g)\noutput l\n",
                     "test.smelt:4:5: error: mse_grad: dloss 'g' is f32[4] but the loss "
                     "(reduction \"mean\") is f32[]",
                     NULL);
  expect_parse_error("input p: f32[4]\ninput t: f32[4]\ninput g: f32[]\n"
                     "l = bce_grad(p, t, g, wrt=2)\noutput l\n",
                     "test.smelt:4:5: error: bce_grad: wrt must be 0 (prediction) or 1 "
                     "(target), got 2",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ce_opcheck),
      cmocka_unit_test(nll_opcheck),
      cmocka_unit_test(elementwise_opcheck),
      cmocka_unit_test(bce_clamp_opcheck),
      cmocka_unit_test(backward_opcheck),
      cmocka_unit_test(ce_values),
      cmocka_unit_test(bce_values),
      cmocka_unit_test(regression_values),
      cmocka_unit_test(ce_gradcheck),
      cmocka_unit_test(elementwise_gradcheck),
      cmocka_unit_test(loss_in_model_gradcheck),
      cmocka_unit_test(weight_grad_error),
      cmocka_unit_test(shape_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
