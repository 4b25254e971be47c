/* Gradients through where and cast (ir/ops/logic.c) against central finite
 * differences, with the compiled backward code checked against the
 * interpreter (gradcheck); comparisons, int/bool casts and argmax pass no
 * gradient (their paths are piecewise constant) but may sit in a
 * differentiated graph; hand-checked masked gradients of where. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"
#include "passes/passes.h"

static void test_where_grad(void **state) {
  (void)state;
  /* x and y broadcast to the result: their gradients are summed back */
  gradcheck("input c: bool[3,1,5]\n"
            "input x: f32[4,1]\n"
            "input y: f32[5]\n"
            "w = where(c, x, y)\n"
            "output w\n");
  gradcheck("input c: bool[2,3]\n"
            "input x: f64[2,3]\n"
            "input y: f64[]\n"
            "w = where(c, x, y)\n"
            "output w\n");
  /* a condition computed from the operands themselves (a masked relu),
   * chained with other elementwise ops */
  gradcheck("input a: f32[4,6]\n"
            "input t: f32[6]\n"
            "m = greater(a, t)\n"
            "s = mul(a, a)\n"
            "n = neg(t)\n"
            "w = where(m, s, n)\n"
            "e = exp(w)\n"
            "output e\n");
  /* where applied to a gemm's product, fused into its epilogue */
  gradcheck("input x: f32[3,5]\n"
            "param wt: f32[5,4] = he_normal\n"
            "input m: bool[3,4]\n"
            "input z: f32[4]\n"
            "y = gemm(x, wt)\n"
            "s = where(m, y, z)\n"
            "output s\n");
}

/* d/dx and d/dy of sum(where(c, x, y) * r) are r masked by c and !c */
static void test_where_grad_values(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("test.smelt",
                                  "c = constant(shape=[4], value=[1, 0, 0, 1], dtype=\"bool\")\n"
                                  "input x: f64[4]\n"
                                  "input y: f64[4]\n"
                                  "w = where(c, x, y)\n"
                                  "l = reduce_sum(w, keepdims=0)\n"
                                  "output l\n",
                                  &g, &d),
                   SM_OK);
  IrValue *wrt[2] = {g->inputs[0], g->inputs[1]}, *grads[2];
  assert_int_equal(pass_grad(g, g->outputs[0], wrt, 2, grads, &d), SM_OK);
  ir_add_output(g, grads[0]);
  ir_add_output(g, grads[1]);
  assert_true(ir_verify(g, &d));
  IrTensor in[2] = {ir_tensor_new(g->inputs[0]->type), ir_tensor_new(g->inputs[1]->type)};
  for (int i = 0; i < 4; i++) in[0].d[i] = NAN, in[1].d[i] = INFINITY; /* values never matter */
  IrTensor out[3];
  assert_int_equal(ir_interpret(g, in, NULL, out, &d), SM_OK);
  const double dx[4] = {1, 0, 0, 1}, dy[4] = {0, 1, 1, 0};
  for (int i = 0; i < 4; i++) {
    assert_true(out[1].d[i] == dx[i]);
    assert_true(out[2].d[i] == dy[i]);
  }
  for (int i = 0; i < 3; i++) ir_tensor_free(&out[i]);
  ir_tensor_free(&in[0]);
  ir_tensor_free(&in[1]);
  ir_graph_free(g);
  sm_diag_free(&d);
}

static void test_cast_grad(void **state) {
  (void)state;
  /* f32 -> f64: the gradient comes back as f32 */
  gradcheck("input x: f32[3,4]\n"
            "h = cast(x, to=\"f64\")\n"
            "e = exp(h)\n"
            "s = mul(e, h)\n"
            "output s\n");
  /* f64 -> f32 rounds in the forward pass: finite differences need a
   * large step, and the loss is linear in the cast's result */
  GradcheckOpts o = gradcheck_defaults();
  o.eps = 1e-2;
  gradcheck_opts("input x: f64[7]\n"
                 "param w: f64[7] = uniform(-1, 1)\n"
                 "p = mul(x, w)\n"
                 "y = cast(p, to=\"f32\")\n"
                 "output y\n",
                 &o);
  /* float -> int -> float is piecewise constant: only the direct path
   * carries a gradient; argmax and comparisons pass none */
  gradcheck("input x: f32[5,6]\n"
            "i = cast(x, to=\"i64\")\n"
            "f = cast(i, to=\"f32\")\n"
            "b = cast(x, to=\"bool\")\n"
            "g = cast(b, to=\"f32\")\n"
            "a = argmax(x, axis=1, keepdims=1)\n"
            "af = cast(a, to=\"f32\")\n"
            "p = mul(f, x)\n"
            "q = mul(p, g)\n"
            "r = add(q, af)\n"
            "output r\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_where_grad),
      cmocka_unit_test(test_where_grad_values),
      cmocka_unit_test(test_cast_grad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
