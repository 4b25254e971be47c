/* Autodiff: gradients of elementwise ops (with broadcasting) against finite
 * differences, accumulation over several uses, error reporting. Other op
 * groups check their own gradients in their test_grad_* suites. */
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/opcheck.h"
#include "passes/passes.h"

static void test_binary(void **state) {
  (void)state;
  gradcheck("input a: f32[3,1,5]\ninput b: f32[4,1]\n"
            "s = add(a, b)\nd = sub(a, b)\nm = mul(a, b)\nx = max(a, b)\nn = min(a, b)\n"
            "output s, d, m, x, n\n");
  GradcheckOpts o = gradcheck_range(0.5, 2); /* keep div and pow away from poles */
  gradcheck_opts("input a: f32[2,3]\ninput b: f32[3]\nq = div(a, b)\np = pow(a, b)\noutput q, p\n", &o);
}

static void test_unary(void **state) {
  (void)state;
  gradcheck("input x: f32[2,7]\n"
            "a = neg(x)\nb = abs(x)\nc = exp(x)\nd = relu(x)\ne = leaky_relu(x, alpha=0.2)\n"
            "f = elu(x, alpha=0.7)\ng = sigmoid(x)\nh = tanh(x)\ni = gelu(x)\n"
            "j = gelu(x, approximate=\"tanh\")\nk = softplus(x)\nl = clip(x, min=-0.5, max=1)\n"
            "m = identity(x)\nn = dropout(x)\n"
            "output a, b, c, d, e, f, g, h, i, j, k, l, m, n\n");
  GradcheckOpts o = gradcheck_range(0.3, 3);
  gradcheck_opts("input x: f32[3,5]\na = log(x)\nb = sqrt(x)\nc = reciprocal(x)\noutput a, b, c\n", &o);
}

/* a value used several times gets the sum of its gradients; params too */
static void test_accumulate_and_params(void **state) {
  (void)state;
  gradcheck("input x: f32[4,3]\nparam w: f32[3] = normal(1)\nparam s: f32[] = constant(0.5)\n"
            "a = mul(x, w)\nb = tanh(a)\nc = mul(b, x)\nd = add(c, a)\ne = mul(d, s)\nf = sigmoid(w)\n"
            "output e, f\n");
}

/* shape ops route gradients back to where elements came from */
static void test_shape_ops(void **state) {
  (void)state;
  gradcheck("input x: f32[2,3,4]\n"
            "a = flatten(x, axis=2)\nb = reshape(x, shape=[4,-1])\nc = transpose(x, perm=[2,0,1])\n"
            "d = slice(x, starts=[1,-3], ends=[3,100], axes=[1,2])\n"
            "e = pad(x, pads=[0,1,2,1,0,0])\nf = concat(x, x, axis=1)\n"
            "output a, b, c, d, e, f\n");
  gradcheck("input x: f32[5]\ninput y: f32[3]\nz = concat(y, x, y, axis=0)\n"
            "t = transpose(z)\nw = slice(t, starts=[2], ends=[-1])\noutput w\n");
}

static void test_strided_slice_grad_unsupported(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("t.smelt",
                                 "input x: f32[6]\ny = slice(x, starts=[0], ends=[6], steps=[2])\n"
                                 "l: f32[] = reduce_sum(y, keepdims=0)\noutput l\n", &g, &d), SM_OK);
  IrValue *wrt = g->inputs[0], *grad;
  assert_int_equal(pass_grad(g, g->outputs[0], &wrt, 1, &grad, &d), SM_ERR_UNSUPPORTED);
  assert_non_null(strstr(sm_diag_text(&d), "t.smelt:2:5: error: slice: the gradient of a slice with step 2 is not supported yet"));
  ir_graph_free(g);
  sm_diag_free(&d);
}

static void test_not_differentiable(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("t.smelt",
                                 "input x: f32[4]\ninput y: f32[4]\nl: f32[] = reduce_sum(x, keepdims=0)\noutput l\n",
                                 &g, &d), SM_OK);
  IrValue *wrt[2] = {g->inputs[0], g->inputs[1]}, *grads[2];
  assert_int_equal(pass_grad(g, g->outputs[0], wrt, 2, grads, &d), SM_OK);
  /* y does not reach the loss: its gradient is zero */
  assert_true(ir_type_eq(&grads[1]->type, &g->inputs[1]->type));
  assert_string_equal(grads[1]->def->op->name, "constant");
  ir_graph_free(g);
  /* a non-scalar loss is rejected */
  assert_int_equal(fe_parse_text("t.smelt", "input x: f32[4]\ny = relu(x)\noutput y\n", &g, &d), SM_OK);
  assert_int_equal(pass_grad(g, g->outputs[0], wrt, 0, grads, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "loss 'y' must be a float scalar, got f32[4]"));
  ir_graph_free(g);
  sm_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary),
      cmocka_unit_test(test_unary),
      cmocka_unit_test(test_accumulate_and_params),
      cmocka_unit_test(test_shape_ops),
      cmocka_unit_test(test_strided_slice_grad_unsupported),
      cmocka_unit_test(test_not_differentiable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
