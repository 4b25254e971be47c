/* Text format: parse/print round trips, every diagnostic class with its
 * message and line:col, and error recovery (all errors reported). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "helpers/opcheck.h"

static char *print_graph(const IrGraph *g) {
  SmBuf b = {0};
  ir_print(&b, g);
  return b.s;
}

/* parse -> print -> parse -> print gives the same text, and the graphs agree
 * structurally */
static void roundtrip(const char *name, const char *text) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g1 = NULL, *g2 = NULL;
  if (fe_parse_text(name, text, &g1, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  assert_true(ir_verify(g1, &d));
  char *p1 = print_graph(g1);
  if (fe_parse_text(name, p1, &g2, &d) != SM_OK) {
    print_error("printed form did not parse:\n%s\n%s", p1, sm_diag_text(&d));
    fail();
  }
  char *p2 = print_graph(g2);
  assert_string_equal(p1, p2);
  assert_int_equal(g1->nnodes, g2->nnodes);
  assert_int_equal(g1->nparams, g2->nparams);
  assert_int_equal(g1->ninputs, g2->ninputs);
  assert_int_equal(g1->noutputs, g2->noutputs);
  assert_int_equal((int)g1->seed, (int)g2->seed);
  assert_string_equal(g1->name, g2->name);
  for (int k = 0; k < g1->nnodes; k++) {
    const IrNode *a = g1->nodes[k], *b = g2->nodes[k];
    assert_ptr_equal(a->op, b->op);
    assert_int_equal(a->nin, b->nin);
    assert_int_equal(a->nattr, b->nattr);
    for (int i = 0; i < a->nin; i++) assert_string_equal(a->in[i]->name, b->in[i]->name);
    for (int i = 0; i < a->nout; i++) assert_true(ir_type_eq(&a->out[i]->type, &b->out[i]->type));
    for (int i = 0; i < a->nattr; i++) {
      const IrAttr *x = &a->attrs[i], *y = ir_attr(b, x->name);
      assert_non_null(y);
      assert_int_equal(x->kind, y->kind);
      if (x->kind == IR_ATTR_FLOAT) assert_true(x->f == y->f);
      if (x->kind == IR_ATTR_INT) assert_int_equal(x->i, y->i);
      if (x->kind == IR_ATTR_FLOATS)
        for (int j = 0; j < x->n; j++) assert_true(x->floats[j] == y->floats[j]);
    }
  }
  for (int i = 0; i < g1->nparams; i++) {
    assert_int_equal(g1->params[i]->init.kind, g2->params[i]->init.kind);
    assert_true(g1->params[i]->init.a == g2->params[i]->init.a);
    assert_true(g1->params[i]->init.b == g2->params[i]->init.b);
  }
  free(p1);
  free(p2);
  ir_graph_free(g1);
  ir_graph_free(g2);
  sm_diag_free(&d);
}

static void test_roundtrip_basic(void **state) {
  (void)state;
  roundtrip("t.smelt",
            "model tiny\nseed 7\n"
            "input x: f32[2,3]   # comment\n"
            "input \"odd name/1\": f32[3]\n"
            "param w: f32[2,3] = uniform(-0.25, 0.125)\n"
            "param s: f32[3] = constant(0.1)\n"
            "param n: f32[3] = normal(0.02)\n"
            "a = add(x, \"odd name/1\")\n"
            "b: f32[2,3] = mul(a, w)\n"
            "c = leaky_relu(b, alpha=0.2)\n"
            "e = clip(c, min=-1, max=inf)\n"
            "f = gelu(e, approximate=\"tanh\")\n"
            "output f, c\n");
}

/* bool types, bool parameters and constants, and the ops that make and
 * take them */
static void test_roundtrip_bool(void **state) {
  (void)state;
  roundtrip("b.smelt",
            "model logic\n"
            "input x: f32[4,3]\n"
            "input m: bool[4,3]\n"
            "input s: bool[]\n"
            "param k: bool[3] = ones\n"
            "c = constant(shape=[2], value=[1, 0], dtype=\"bool\")\n"
            "h = constant(shape=[], value=0.5)\n"
            "l: bool[4,3] = less(x, h)\n"
            "a = and(l, m)\n"
            "o = or(a, k)\n"
            "t = not(o)\n"
            "n = xor(t, s)\n"
            "w: f32[4,3] = where(n, x, h)\n"
            "i: i64[4] = argmax(w, axis=1, keepdims=0)\n"
            "b: bool[4] = cast(i, to=\"bool\")\n"
            "output w, b, c\n");
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("b.smelt", "input m: bool[4,3]\noutput m\n", &g, &d), SM_OK);
  char *p = print_graph(g);
  assert_non_null(strstr(p, "input m: bool[4,3]\n"));
  free(p);
  ir_graph_free(g);
  sm_diag_free(&d);
}

static void test_roundtrip_examples(void **state) {
  (void)state;
  const char *dir = SMELT_SOURCE_DIR "/examples";
  DIR *dp = opendir(dir);
  assert_non_null(dp);
  int count = 0;
  for (struct dirent *e; (e = readdir(dp));) {
    size_t n = strlen(e->d_name);
    if (n < 7 || strcmp(e->d_name + n - 6, ".smelt") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    SmDiag d;
    sm_diag_init(&d);
    char *src = NULL;
    assert_int_equal(sm_read_file(path, &src, NULL, &d), SM_OK);
    roundtrip(path, src);
    free(src);
    sm_diag_free(&d);
    count++;
  }
  closedir(dp);
  assert_true(count >= 3);
}

static void test_diag_unknown_op(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2]\ny = frobnicate(x)\noutput y\n",
                     "test.smelt:2:5: error: unknown op 'frobnicate'",
                     "  y = frobnicate(x)\n      ^\n", NULL);
}

static void test_diag_arity(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2]\ny = add(x)\noutput y\n",
                     "test.smelt:2:5: error: add: expects 2 operands, got 1", NULL);
}

static void test_diag_undefined_and_duplicate(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2]\n"
                     "y = relu(q)\n"
                     "x = relu(x)\n"
                     "param x: f32[2]\n"
                     "output y\n",
                     "test.smelt:2:10: error: undefined name 'q'",
                     "test.smelt:3:1: error: duplicate name 'x'",
                     "test.smelt:4:7: error: duplicate name 'x'", NULL);
}

static void test_diag_bad_attr(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2]\ny = leaky_relu(x, beta=2)\nz = leaky_relu(x, alpha=\"a\")\noutput y\n",
                     "test.smelt:2:19: error: leaky_relu: unknown attribute 'beta' (known: alpha)",
                     "test.smelt:3:19: error: leaky_relu: attribute 'alpha' must be a number", NULL);
}

static void test_diag_shape_mismatch(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3]\ninput y: f32[4]\nz = add(x, y)\noutput z\n",
                     "test.smelt:3:5: error: add: shapes f32[2,3] and f32[4] do not broadcast", NULL);
}

static void test_diag_annotation_mismatch(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3]\nz: f32[3,2] = relu(x)\noutput z\n",
                     "test.smelt:2:1: error: 'z' is declared f32[3,2] but relu produces f32[2,3]", NULL);
}

/* one bad line does not hide the next; names it defines cause no cascade */
static void test_diag_reports_all(void **state) {
  (void)state;
  const char *text = "input x: f32[2]\n"
                     "a = nope(x)\n"
                     "b = relu(a)\n"
                     "c = relu(zz)\n"
                     "d = add(x x)\n"
                     "output b\n";
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("test.smelt", text, &g, &d), SM_ERR_PARSE);
  assert_null(g);
  assert_int_equal(d.nerrors, 3);
  assert_non_null(strstr(sm_diag_text(&d), "test.smelt:2:5: error: unknown op 'nope'"));
  assert_non_null(strstr(sm_diag_text(&d), "test.smelt:4:10: error: undefined name 'zz'"));
  assert_non_null(strstr(sm_diag_text(&d), "test.smelt:5:11: error: expected ',' or ')', got 'x'"));
  sm_diag_free(&d);
}

static void test_diag_syntax(void **state) {
  (void)state;
  expect_parse_error("input x f32[2]\noutput x\n", "test.smelt:1:9: error: expected ':', got 'f32'", NULL);
  expect_parse_error("input x: f33[2]\noutput x\n", "test.smelt:1:10: error: expected a type such as f32[2,3], got 'f33'", NULL);
  expect_parse_error("input x: f32[2,-1]\noutput x\n", "test.smelt:1:16: error: expected a non-negative dimension", NULL);
  expect_parse_error("input x: f32[2]\n", "error: model declares no outputs", NULL);
  expect_parse_error("param w: f32[2] = gaussian\ninput x: f32[2]\noutput x\n",
                     "test.smelt:1:19: error: unknown initializer 'gaussian'", NULL);
  expect_parse_error("param w: f32[2] = uniform(1)\ninput x: f32[2]\noutput x\n",
                     "test.smelt:1:19: error: initializer 'uniform' takes 2 arguments, got 1", NULL);
  expect_parse_error("input x: f32[2]\ny = relu(x) junk\noutput y\n",
                     "test.smelt:2:13: error: expected end of line, got 'junk'", NULL);
  expect_parse_error("input x: f32[1099511627776,1024]\noutput x\n", "test.smelt:1:32: error: shape has too many elements", NULL);
  expect_parse_error("input x: f32[2]\ny = relu(x, alpha=1, alpha=2)\noutput y\n",
                     "test.smelt:2:22: error: attribute 'alpha' given twice", NULL);
  expect_parse_error("input x: f32[2]\noutput y\n", "test.smelt:2:8: error: undefined name 'y'", NULL);
}

/* a number that is no number ("..5", ".inf") is one punctuation token:
 * the lexer always advances (issue 13: it looped forever on these; the
 * alarm turns a hang into a failure) */
static void test_diag_lexer_advances(void **state) {
  (void)state;
  alarm(30);
  expect_parse_error("input x: f32[2]\ny = clip(x, max=..5)\noutput y\n",
                     "test.smelt:2:17: error: expected an attribute value, got '.'", NULL);
  expect_parse_error("..1", "test.smelt:1:1: error: expected a name, got '.'", NULL);
  expect_parse_error(".inf\n", "test.smelt:1:1: error: expected a name, got '.'", NULL);
  expect_parse_error("input x: f32[2]\ny = clip(x, max=+.inf)\noutput y\n",
                     "test.smelt:2:17: error: expected an attribute value, got '+'", NULL);
  alarm(0);
}

/* a name holding terminal escape sequences or a carriage return is
 * reported with '?' in their place: a stranger's model cannot drive the
 * terminal through smelt's messages */
static void test_diag_no_control_chars(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  const char *text = "input x: f32[2]\ny = relu(\"\\x1b[2J\\rz\")\noutput y\n";
  assert_int_not_equal(fe_parse_text("test.smelt", text, &g, &d), SM_OK);
  const char *msg = sm_diag_text(&d);
  assert_non_null(strstr(msg, "undefined name '?[2J?z'"));
  for (const char *p = msg; *p; p++)
    assert_true((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t');
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* truncated and garbled input never crashes and always reports an error */
static void test_garbled_inputs(void **state) {
  (void)state;
  const char *good = "model g\ninput x: f32[2,3]\nparam w: f32[2,3] = he_normal\n"
                     "a = mul(x, w)\nb = softplus(a)\noutput b\n";
  size_t n = strlen(good);
  for (size_t cut = 0; cut < n; cut++) {
    char *t = strndup(good, cut);
    SmDiag d;
    sm_diag_init(&d);
    IrGraph *g = NULL;
    SmStatus st = fe_parse_text("cut.smelt", t, &g, &d);
    if (st == SM_OK) {
      assert_true(ir_verify(g, &d));
    } else {
      assert_true(d.nerrors > 0);
    }
    ir_graph_free(g);
    sm_diag_free(&d);
    free(t);
  }
  /* flip characters */
  for (size_t i = 0; i < n; i++) {
    char *t = strdup(good);
    t[i] = "#=(),:[]\"x9"[i % 11];
    SmDiag d;
    sm_diag_init(&d);
    IrGraph *g = NULL;
    if (fe_parse_text("flip.smelt", t, &g, &d) == SM_OK) ir_verify(g, &d);
    ir_graph_free(g);
    sm_diag_free(&d);
    free(t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_basic),
      cmocka_unit_test(test_roundtrip_examples),
      cmocka_unit_test(test_roundtrip_bool),
      cmocka_unit_test(test_diag_unknown_op),
      cmocka_unit_test(test_diag_arity),
      cmocka_unit_test(test_diag_undefined_and_duplicate),
      cmocka_unit_test(test_diag_bad_attr),
      cmocka_unit_test(test_diag_shape_mismatch),
      cmocka_unit_test(test_diag_annotation_mismatch),
      cmocka_unit_test(test_diag_reports_all),
      cmocka_unit_test(test_diag_syntax),
      cmocka_unit_test(test_diag_lexer_advances),
    cmocka_unit_test(test_diag_no_control_chars),
    cmocka_unit_test(test_garbled_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
