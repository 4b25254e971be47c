/* IR: types, attributes, registry, verifier (each class of bad graph),
 * reference interpreter basics. Graphs here are built through the API, not
 * parsed, so the verifier is exercised on its own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/opcheck.h"
#include "ir/ir.h"

static IrType f32(int rank, ...) {
  va_list ap;
  va_start(ap, rank);
  IrType t = {.dtype = IR_F32, .rank = rank};
  for (int i = 0; i < rank; i++) t.dims[i] = va_arg(ap, int);
  va_end(ap);
  return t;
}

static const SmLoc here = {"g.smelt", 3, 5};

static void expect_verify_error(IrGraph *g, const char *needle) {
  SmDiag d;
  sm_diag_init(&d);
  bool ok = ir_verify(g, &d);
  if (ok || !strstr(sm_diag_text(&d), needle)) {
    print_error("verify %s; wanted \"%s\"; got:\n%s", ok ? "passed" : "failed", needle,
                sm_diag_text(&d));
    sm_diag_free(&d);
    ir_graph_free(g);
    fail();
  }
  sm_diag_free(&d);
  ir_graph_free(g);
}

static void test_types(void **state) {
  (void)state;
  char s[IR_TYPE_STRLEN];
  IrType t = f32(4, 64, 1, 28, 28);
  assert_string_equal(ir_type_str(&t, s, sizeof s), "f32[64,1,28,28]");
  assert_int_equal(ir_type_numel(&t), 64 * 28 * 28);
  IrType scalar = {.dtype = IR_I64};
  assert_string_equal(ir_type_str(&scalar, s, sizeof s), "i64[]");
  assert_int_equal(ir_type_numel(&scalar), 1);
  IrType big = {.dtype = IR_F32, .rank = 3, .dims = {1 << 20, 1 << 20, 1 << 20}};
  assert_int_equal(ir_type_numel(&big), -1);
  IrType neg = {.dtype = IR_F32, .rank = 1, .dims = {-3}};
  assert_int_equal(ir_type_numel(&neg), -1);
  IrDType dt;
  assert_true(ir_dtype_parse("u8", 2, &dt));
  assert_int_equal(dt, IR_U8);
  assert_false(ir_dtype_parse("f16", 3, &dt));
  IrType a = f32(3, 3, 1, 5), b = f32(2, 4, 1), r;
  assert_true(ir_broadcast(&a, &b, &r));
  assert_string_equal(ir_type_str(&r, s, sizeof s), "f32[3,4,5]");
  IrType c = f32(1, 4), d2 = f32(1, 3);
  assert_false(ir_broadcast(&c, &d2, &r));
  int ax;
  assert_true(ir_norm_axis(-1, 3, &ax));
  assert_int_equal(ax, 2);
  assert_false(ir_norm_axis(3, 3, &ax));
  assert_false(ir_norm_axis(-4, 3, &ax));
}

static void test_registry(void **state) {
  (void)state;
  const IrOpDef *const *all = ir_op_all();
  int n = 0;
  for (; all[n]; n++) {
    assert_non_null(all[n]->infer);
    if (!all[n]->expand) {
      assert_non_null(all[n]->ref);
      assert_non_null(all[n]->c);
    }
    assert_ptr_equal(ir_op_find(all[n]->name), all[n]);
    for (int k = 0; k < n; k++) assert_string_not_equal(all[k]->name, all[n]->name);
  }
  assert_true(n >= 20);
  assert_null(ir_op_find("no_such_op"));
}

static void test_verify_use_before_def(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  IrValue *x = ir_add_input(g, "x", f32(1, 4), here);
  IrNode *n1 = ir_add_node(g, ir_op_find("relu"), &x, 1, (const char *[]){"a"}, 1, here);
  IrValue *a = n1->out[0];
  IrNode *n2 = ir_add_node(g, ir_op_find("relu"), &a, 1, (const char *[]){"b"}, 1, here);
  /* swap the nodes: b's producer now runs first */
  g->nodes[0] = n2;
  g->nodes[1] = n1;
  ir_add_output(g, n2->out[0]);
  expect_verify_error(g, "g.smelt:3:5: error: relu: operand 'a' is used before it is defined");
}

static void test_verify_duplicate(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  IrValue *x = ir_add_input(g, "x", f32(1, 4), here);
  ir_add_param(g, "x", f32(1, 4), (IrInit){IR_INIT_ZEROS, 0, 0}, here);
  ir_add_output(g, x);
  expect_verify_error(g, "duplicate name 'x'");
}

static void test_verify_arity_and_attrs(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  IrValue *x = ir_add_input(g, "x", f32(1, 4), here);
  IrValue *ins[3] = {x, x, x};
  IrNode *n = ir_add_node(g, ir_op_find("add"), ins, 3, NULL, 1, here);
  ir_add_output(g, n->out[0]);
  expect_verify_error(g, "add: expects 2 operands, got 3");

  g = ir_graph_new("g");
  x = ir_add_input(g, "x", f32(1, 4), here);
  n = ir_add_node(g, ir_op_find("leaky_relu"), &x, 1, NULL, 1, here);
  ir_set_str(g, n, "alpha", "big");
  ir_add_output(g, n->out[0]);
  expect_verify_error(g, "leaky_relu: attribute 'alpha' must be a number");

  g = ir_graph_new("g");
  x = ir_add_input(g, "x", f32(1, 4), here);
  n = ir_add_node(g, ir_op_find("dropout"), &x, 1, NULL, 1, here);
  ir_set_float(g, n, "ratio", 1.5);
  ir_add_output(g, n->out[0]);
  expect_verify_error(g, "dropout: ratio must be in [0, 1), got 1.5");

  g = ir_graph_new("g");
  x = ir_add_input(g, "x", f32(1, 4), here);
  n = ir_add_node(g, ir_op_find("relu"), &x, 1, NULL, 2, here);
  ir_add_output(g, n->out[0]);
  expect_verify_error(g, "relu: produces 1 result, 2 named");
}

static void test_verify_types(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  IrValue *x = ir_add_input(g, "x", f32(2, 2, 3), here);
  IrType it = {.dtype = IR_I64, .rank = 2, .dims = {2, 3}};
  IrValue *y = ir_add_input(g, "y", it, here);
  IrValue *ins[2] = {x, y};
  IrNode *n = ir_add_node(g, ir_op_find("add"), ins, 2, NULL, 1, here);
  ir_add_output(g, n->out[0]);
  expect_verify_error(g, "add: operand dtypes differ: 'x' is f32, 'y' is i64");

  g = ir_graph_new("g");
  IrValue *w = ir_add_param(g, "w", it, (IrInit){IR_INIT_HE_NORMAL, 0, 0}, here);
  ir_add_output(g, w);
  expect_verify_error(g, "parameter 'w': random initializer on i64");

  g = ir_graph_new("g");
  IrType huge = {.dtype = IR_F32, .rank = 2, .dims = {1LL << 30, 1LL << 30}};
  x = ir_add_input(g, "x", huge, here);
  ir_add_output(g, x);
  expect_verify_error(g, "'x' has too many elements");

  g = ir_graph_new("g");
  ir_add_input(g, "x", f32(1, 2), here);
  expect_verify_error(g, "graph 'g' has no outputs");
}

/* the interpreter runs a small graph and matches hand-computed values */
static void test_interpreter_values(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  IrValue *x = ir_add_input(g, "x", f32(2, 2, 2), here);
  IrValue *c = ir_add_param(g, "c", f32(1, 2), (IrInit){IR_INIT_CONSTANT, 0.5, 0}, here);
  IrValue *ins[2] = {x, c};
  IrNode *n = ir_add_node(g, ir_op_find("mul"), ins, 2, NULL, 1, here);
  IrNode *r = ir_add_node(g, ir_op_find("relu"), &n->out[0], 1, NULL, 1, here);
  ir_add_output(g, r->out[0]);
  ir_add_output(g, n->out[0]);
  SmDiag d;
  sm_diag_init(&d);
  assert_true(ir_verify(g, &d));
  IrTensor in = ir_tensor_new(x->type);
  double vals[4] = {1, -2, 3, -4};
  memcpy(in.d, vals, sizeof vals);
  IrTensor out[2];
  assert_int_equal(ir_interpret(g, &in, NULL, out, &d), SM_OK);
  double want_r[4] = {0.5, 0, 1.5, 0}, want_m[4] = {0.5, -1, 1.5, -2};
  for (int i = 0; i < 4; i++) {
    assert_true(out[0].d[i] == want_r[i]);
    assert_true(out[1].d[i] == want_m[i]);
  }
  ir_tensor_free(&out[0]);
  ir_tensor_free(&out[1]);
  /* a wrongly shaped input is rejected with both shapes */
  IrTensor bad = ir_tensor_new(f32(1, 4));
  assert_int_equal(ir_interpret(g, &bad, NULL, out, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "input 'x': expected f32[2,2], got f32[4]"));
  ir_tensor_free(&bad);
  ir_tensor_free(&in);
  sm_diag_free(&d);
  ir_graph_free(g);
}

/* initializers are deterministic per seed and differ across seeds */
static void test_init_params(void **state) {
  (void)state;
  IrGraph *g = ir_graph_new("g");
  ir_add_param(g, "w", f32(2, 16, 9), (IrInit){IR_INIT_HE_UNIFORM, 0, 0}, here);
  IrTensor a, b, c;
  ir_init_params(g, &a);
  ir_init_params(g, &b);
  g->seed = 43;
  ir_init_params(g, &c);
  double bound = sqrt(6.0 / 9.0);
  int same = 0;
  for (int64_t i = 0; i < a.numel; i++) {
    assert_true(a.d[i] == b.d[i]);
    assert_true(fabs(a.d[i]) <= bound);
    same += a.d[i] == c.d[i];
  }
  assert_true(same < 3);
  ir_tensor_free(&a);
  ir_tensor_free(&b);
  ir_tensor_free(&c);
  ir_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_verify_use_before_def),
      cmocka_unit_test(test_verify_duplicate),
      cmocka_unit_test(test_verify_arity_and_attrs),
      cmocka_unit_test(test_verify_types),
      cmocka_unit_test(test_interpreter_values),
      cmocka_unit_test(test_init_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
