/* Graph size: front end, passes and code generation take time about
 * linear in the node count (bench/compile_scale.sh measures it; tests
 * never assert times). These build graphs of 20k-40k nodes and check the
 * structure every stage produces (20k identities canonicalize away), and
 * the name index that makes lookups constant time: first-by-id on
 * duplicate names, renames, truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

static const IrType vec = {.dtype = IR_F32, .rank = 2, .dims = {4, 8}};
static const IrType row = {.dtype = IR_F32, .rank = 1, .dims = {8}};

static IrNode *node(IrGraph *g, const char *op, IrValue *a, IrValue *b, const char *name) {
  IrValue *in[2] = {a, b};
  const char *names[1] = {name};
  IrNode *n = ir_add_node(g, ir_op_find(op), in, b ? 2 : 1, name ? names : NULL, 1, (SmLoc){0});
  SmDiag d;
  sm_diag_init(&d);
  assert_true(ir_infer_node(n, &d));
  sm_diag_free(&d);
  return n;
}

/* x -> add c -> mul c -> relu -> sigmoid -> add c ... (n nodes) */
static IrGraph *chain(int n) {
  IrGraph *g = ir_graph_new("chain");
  IrValue *v = ir_add_input(g, "x", vec, (SmLoc){0});
  IrValue *c = ir_add_param(g, "c", row, (IrInit){IR_INIT_ONES, 0, 0}, (SmLoc){0});
  static const char *const ops[] = {"add", "mul", "relu", "sigmoid"};
  char name[32];
  for (int k = 0; k < n; k++) {
    snprintf(name, sizeof name, "v%d", k);
    v = node(g, ops[k % 4], v, k % 4 < 2 ? c : NULL, name)->out[0];
  }
  ir_add_output(g, v);
  return g;
}

static void run_pipeline(IrGraph *g) {
  SmDiag d;
  sm_diag_init(&d);
  assert_true(ir_verify(g, &d));
  PassOptions po = {.opt_level = 1, .inference = true, .verify = true};
  SmStatus st = pass_run_pipeline(g, &po, &d);
  if (st != SM_OK) print_error("%s", sm_diag_text(&d));
  assert_int_equal(st, SM_OK);
  sm_diag_free(&d);
}

static void test_chain_fuses_into_one_kernel(void **state) {
  (void)state;
  enum { N = 20000 };
  IrGraph *g = chain(N);
  assert_int_equal(ir_graph_find(g, "v12345")->def->id, 12345);
  run_pipeline(g);
  assert_int_equal(g->nnodes, N);
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  assert_int_equal(nk, 1);
  assert_int_equal(ks[0].nm, N);
  assert_int_equal(ks[0].nin, 2); /* x and c */
  assert_int_equal(ks[0].nout, 1);
  assert_ptr_equal(ks[0].outs[0], g->outputs[0]);
  cg_kernels_free(ks, nk);
  CgPlan p;
  cg_plan(g, NULL, &p);
  assert_int_equal(p.arena_bytes, 2 * 4 * 8 * sizeof(float)); /* the input and the output */
  cg_plan_free(&p);
  CgProgram prog = cg_program_single(g);
  CgOptions co = {0};
  SmBuf c = {0}, h = {0};
  cg_emit(&prog, &co, &c, &h);
  assert_non_null(strstr(sm_buf_str(&c), "k19999_add_sigmoid("));
  assert_non_null(strstr(sm_buf_str(&c), "const float t19999 = "));
  sm_buf_free(&c);
  sm_buf_free(&h);
  ir_graph_free(g);
}

/* v_k = v_{k-1} op v_{k-2}: every value but the last has two readers,
 * so almost every node is a kernel and the planner packs n intervals. */
static void test_ladder_keeps_every_kernel(void **state) {
  (void)state;
  enum { N = 20000 };
  IrGraph *g = ir_graph_new("ladder");
  IrValue *x = ir_add_input(g, "x", vec, (SmLoc){0});
  IrValue *a = node(g, "relu", x, NULL, NULL)->out[0], *b = node(g, "sigmoid", x, NULL, NULL)->out[0];
  for (int k = 2; k < N; k++) {
    IrValue *v = node(g, k % 2 ? "add" : "mul", b, a, NULL)->out[0];
    a = b;
    b = v;
  }
  ir_add_output(g, b);
  run_pipeline(g);
  assert_int_equal(g->nnodes, N);
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  assert_true(nk > N - 10); /* only the last steps, read once, fuse */
  cg_kernels_free(ks, nk);
  CgPlan p;
  cg_plan(g, NULL, &p);
  /* input, output and at most three live intermediates at a time */
  assert_true(p.arena_bytes <= 5 * 128);
  assert_true(p.naive_bytes >= (size_t)(N - 10) * 128);
  cg_plan_free(&p);
  ir_graph_free(g);
}

static void test_parse_40k_lines(void **state) {
  (void)state;
  enum { N = 40000 };
  SmBuf b = {0};
  sm_buf_puts(&b, "model lines\ninput x: f32[4,8]\nparam c: f32[8] = ones\n");
  static const char *const ops[] = {"add", "mul", "relu", "sigmoid"};
  sm_buf_puts(&b, "v0 = add(x, c)\n");
  for (int k = 1; k < N; k++)
    sm_buf_printf(&b, "v%d = %s(v%d%s)\n", k, ops[k % 4], k - 1, k % 4 < 2 ? ", c" : "");
  sm_buf_printf(&b, "output v%d, v0, v%d\n", N - 1, N / 2);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("lines.smelt", sm_buf_str(&b), &g, &d), SM_OK);
  assert_int_equal(g->nnodes, N);
  assert_int_equal(g->noutputs, 3);
  assert_int_equal(ir_graph_find(g, "v39999")->def->id, N - 1);
  assert_true(ir_verify(g, &d));
  ir_graph_free(g);
  sm_diag_free(&d);
  /* a repeated output is still reported where it stands */
  sm_buf_puts(&b, "output v0\n");
  sm_diag_init(&d);
  assert_int_not_equal(fe_parse_text("lines.smelt", sm_buf_str(&b), &g, &d), SM_OK);
  assert_non_null(strstr(sm_diag_text(&d), "lines.smelt:40005:8: error: 'v0' is already an output"));
  sm_diag_free(&d);
  sm_buf_free(&b);
}

static void test_name_index(void **state) {
  (void)state;
  IrGraph *g = chain(3000);
  /* every name resolves to its value */
  char name[32];
  for (int k = 0; k < 3000; k++) {
    snprintf(name, sizeof name, "v%d", k);
    assert_ptr_equal(ir_graph_find(g, name), g->nodes[k]->out[0]);
  }
  assert_null(ir_graph_find(g, "v3000"));
  assert_null(ir_graph_find(g, ""));
  /* duplicates: the first by id wins, the next one shows after a rename */
  IrValue *first = g->nodes[10]->out[0];
  IrValue *dup = node(g, "relu", g->nodes[2999]->out[0], NULL, "v10")->out[0];
  assert_ptr_equal(ir_graph_find(g, "v10"), first);
  ir_value_rename(g, first, "v10.old");
  assert_ptr_equal(ir_graph_find(g, "v10"), dup);
  assert_ptr_equal(ir_graph_find(g, "v10.old"), first);
  ir_value_rename(g, dup, "v10.new");
  ir_value_rename(g, first, "v10");
  assert_ptr_equal(ir_graph_find(g, "v10"), first);
  assert_true(ir_graph_index_ok(g));
  /* truncation forgets the newest values */
  int nv = g->nvalues;
  for (int k = 0; k < 500; k++) node(g, "relu", first, NULL, NULL);
  snprintf(name, sizeof name, "t%d", nv + 100);
  assert_non_null(ir_graph_find(g, name));
  g->nnodes -= 500;
  ir_truncate_values(g, nv);
  assert_null(ir_graph_find(g, name));
  assert_ptr_equal(ir_graph_find(g, "v10.new"), dup);
  assert_true(ir_graph_index_ok(g));
  /* a rename behind the index's back is an internal error of ir_verify */
  g->values[5]->name = "renamed";
  assert_false(ir_graph_index_ok(g));
  SmDiag d;
  sm_diag_init(&d);
  assert_false(ir_verify(g, &d));
  assert_non_null(strstr(sm_diag_text(&d), "renamed behind the name index"));
  sm_diag_free(&d);
  ir_graph_free(g);
}

/* 20k identities (x + 0) in a row: canonicalize removes them all */
static void test_identity_chain(void **state) {
  (void)state;
  enum { N = 20000 };
  SmBuf b = {0};
  sm_buf_puts(&b, "model ids\ninput x: f32[4,8]\n"
                  "z = constant(shape=[8], value=[0], dtype=\"f32\")\nv0 = relu(x)\n");
  for (int k = 1; k < N; k++) sm_buf_printf(&b, "v%d = add(v%d, z)\n", k, k - 1);
  sm_buf_printf(&b, "y = sigmoid(v%d)\noutput y\n", N - 1);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("ids.smelt", sm_buf_str(&b), &g, &d), SM_OK);
  sm_diag_free(&d);
  run_pipeline(g);
  assert_int_equal(g->nnodes, 2); /* relu, sigmoid */
  assert_ptr_equal(g->nodes[1]->in[0], g->nodes[0]->out[0]);
  ir_graph_free(g);
  sm_buf_free(&b);
}

/* ir_toposort keeps the order it can and always takes the first ready node */
static void test_toposort_large(void **state) {
  (void)state;
  enum { N = 20000 };
  IrGraph *g = chain(N);
  for (int k = 0; k < N / 2; k++) { /* reverse the node list */
    IrNode *t = g->nodes[k];
    g->nodes[k] = g->nodes[N - 1 - k];
    g->nodes[N - 1 - k] = t;
  }
  ir_toposort(g);
  for (int k = 0; k < N; k++) {
    char name[32];
    snprintf(name, sizeof name, "v%d", k);
    assert_string_equal(g->nodes[k]->out[0]->name, name);
    assert_int_equal(g->nodes[k]->id, k);
  }
  ir_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_fuses_into_one_kernel),
      cmocka_unit_test(test_ladder_keeps_every_kernel),
      cmocka_unit_test(test_parse_40k_lines),
      cmocka_unit_test(test_name_index),
      cmocka_unit_test(test_identity_chain),
      cmocka_unit_test(test_toposort_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
