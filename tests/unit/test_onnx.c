/* ONNX import: models built with onnx.helper by tests/onnx/make_models.py,
 * imported, run on the interpreter and compiled (shared library, dlopen),
 * both compared with onnxruntime's outputs; malformed models (one clear
 * error each, exit code 2 from the CLI); --input-shape; external data; and
 * the ONNX backend node-test conformance run (tests/onnx/conformance.py). */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "rt.h"

static char tmpdir[] = "/tmp/smelt-onnx-XXXXXX";
static char models[256];
static const char *python;

static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int setup(void **state) {
  (void)state;
  python = getenv("SMELT_PYTHON");
  if (!python || access(python, X_OK) != 0) return 0;
  if (!mkdtemp(tmpdir)) return -1;
  snprintf(models, sizeof models, "%s/models", tmpdir);
  return sh("%s %s/tests/onnx/make_models.py %s", python, SMELT_SOURCE_DIR, models) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  if (models[0]) sh("rm -rf %s", tmpdir);
  return 0;
}

#define NEED_PYTHON()                                                          \
  do {                                                                         \
    if (!models[0]) {                                                          \
      printf("skipped: SMELT_PYTHON is not set (make venv creates it)\n");     \
      skip();                                                                  \
    }                                                                          \
  } while (0)

static double elem(const void *p, int dtype, int64_t i) {
  switch (dtype) {
  case RT_F32: return ((const float *)p)[i];
  case RT_F64: return ((const double *)p)[i];
  case RT_I64: return (double)((const int64_t *)p)[i];
  case RT_I32: return ((const int32_t *)p)[i];
  default: return ((const uint8_t *)p)[i];
  }
}

static void put(void *p, int dtype, int64_t i, double v) {
  switch (dtype) {
  case RT_F32: ((float *)p)[i] = (float)v; break;
  case RT_F64: ((double *)p)[i] = v; break;
  case RT_I64: ((int64_t *)p)[i] = (int64_t)v; break;
  case RT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
  default: ((uint8_t *)p)[i] = (uint8_t)v; break;
  }
}

/* got[] (as doubles) against the expected array; rtol 1e-3, atol 1e-5. */
static int compare(const char *what, const IrType *t, const double *got, const RtArray *want) {
  bool shape_ok = t->rank == want->rank && (int)t->dtype == want->dtype;
  for (int i = 0; shape_ok && i < t->rank; i++) shape_ok = t->dims[i] == want->dims[i];
  if (!shape_ok) {
    char a[IR_TYPE_STRLEN], b[128];
    rt_shape_str(want->dtype, want->rank, want->dims, b, sizeof b);
    print_error("%s: smelt gives %s, onnxruntime %s\n", what, ir_type_str(t, a, sizeof a), b);
    return 1;
  }
  int bad = 0;
  for (int64_t i = 0; i < want->numel; i++) {
    double g = got[i], w = elem(want->data, want->dtype, i);
    bool ok = fabs(g - w) <= 1e-5 + 1e-3 * fabs(w) || (isnan(g) && isnan(w)) || g == w;
    if (!ok && bad++ < 3) print_error("%s[%lld]: smelt %.9g, onnxruntime %.9g\n", what, (long long)i, g, w);
  }
  return bad;
}

typedef void *(*CreateFn)(void);
typedef void *(*InputFn)(void *, int);
typedef const void *(*OutputFn)(const void *, int);
typedef void (*VoidFn)(void *);

/* Import, interpret and compile one case; returns the number of failures. */
static int run_case(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/model.onnx", models, name);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  if (fe_load_onnx(path, NULL, &g, &d) != SM_OK) {
    print_error("%s: import failed:\n%s", name, sm_diag_text(&d));
    sm_diag_free(&d);
    return 1;
  }
  int fails = 0;
  IrTensor ins[16], outs[16];
  RtArray want[16];
  memset(ins, 0, sizeof ins);
  memset(outs, 0, sizeof outs);
  memset(want, 0, sizeof want);
  RtErr e = {{0}};
  SM_ASSERT(g->ninputs <= 16 && g->noutputs <= 16);
  for (int i = 0; i < g->ninputs; i++) {
    RtArray a;
    snprintf(path, sizeof path, "%s/%s/in_%d.npy", models, name, i);
    if (rt_npy_read(path, &a, &e)) {
      print_error("%s: %s\n", name, e.msg);
      fails++;
      goto done;
    }
    ins[i] = ir_tensor_new(g->inputs[i]->type);
    assert_int_equal(a.numel, ins[i].numel);
    for (int64_t k = 0; k < a.numel; k++) ins[i].d[k] = elem(a.data, a.dtype, k);
    rt_array_free(&a);
  }
  for (int i = 0; i < g->noutputs; i++) {
    snprintf(path, sizeof path, "%s/%s/out_%d.npy", models, name, i);
    if (rt_npy_read(path, &want[i], &e)) {
      print_error("%s: %s\n", name, e.msg);
      fails++;
      goto done;
    }
  }
  /* the reference interpreter */
  if (ir_interpret(g, ins, NULL, outs, &d) != SM_OK) {
    print_error("%s: interpreter: %s\n", name, sm_diag_text(&d));
    fails++;
    goto done;
  }
  for (int i = 0; i < g->noutputs; i++) {
    char what[1024];
    snprintf(what, sizeof what, "%s: interpreter output '%s'", name, g->outputs[i]->name);
    fails += compare(what, &g->outputs[i]->type, outs[i].d, &want[i]) != 0;
  }
  /* the generated program, weights embedded from the initializers */
  char so[1024];
  snprintf(so, sizeof so, "%s/%s/%s.so", models, name, g->name);
  CgOptions co = {.check = true, .opt = "-O1", .embed_weights = true};
  if (cg_compile(g, CG_SHARED, so, &co, &d) != SM_OK) {
    print_error("%s: compile failed:\n%s\n", name, sm_diag_text(&d));
    fails++;
    goto done;
  }
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(lib);
  char sym[256];
#define SYM(var, type, suffix)                                                 \
  snprintf(sym, sizeof sym, "%s_" suffix, g->name);                            \
  type var;                                                                    \
  *(void **)&var = dlsym(lib, sym);                                            \
  assert_non_null(*(void **)&var)
  SYM(create, CreateFn, "create");
  SYM(input, InputFn, "input");
  SYM(output, OutputFn, "output");
  SYM(run, VoidFn, "run");
  SYM(destroy, VoidFn, "free");
#undef SYM
  void *m = create();
  for (int i = 0; i < g->ninputs; i++) {
    void *p = input(m, i);
    for (int64_t k = 0; k < ins[i].numel; k++) put(p, (int)g->inputs[i]->type.dtype, k, ins[i].d[k]);
  }
  run(m);
  for (int i = 0; i < g->noutputs; i++) {
    const IrValue *v = g->outputs[i];
    int64_t n = ir_type_numel(&v->type);
    double *got = calloc((size_t)n + 1, sizeof *got);
    for (int64_t k = 0; k < n; k++) got[k] = elem(output(m, i), (int)v->type.dtype, k);
    char what[1024];
    snprintf(what, sizeof what, "%s: compiled output '%s'", name, v->name);
    fails += compare(what, &v->type, got, &want[i]) != 0;
    free(got);
  }
  destroy(m);
  dlclose(lib);
done:
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&ins[i]);
  for (int i = 0; i < g->noutputs; i++) {
    ir_tensor_free(&outs[i]);
    if (want[i].data) rt_array_free(&want[i]);
  }
  ir_graph_free(g);
  sm_diag_free(&d);
  return fails;
}

/* every model in cases.txt matches onnxruntime, interpreted and compiled */
static void test_models(void **state) {
  (void)state;
  NEED_PYTHON();
  char path[1024], line[256];
  snprintf(path, sizeof path, "%s/cases.txt", models);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int n = 0, failed = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line) continue;
    n++;
    if (run_case(line)) {
      print_error("case %s failed\n", line);
      failed++;
    }
  }
  fclose(f);
  printf("onnx models: %d cases, %d failed\n", n, failed);
  assert_true(n > 50);
  assert_int_equal(failed, 0);
}

/* malformed models: import fails with the expected message, CLI exits 2 */
static void test_bad_models(void **state) {
  (void)state;
  NEED_PYTHON();
  char path[1024], line[512];
  snprintf(path, sizeof path, "%s/bad.txt", models);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int n = 0, failed = 0;
  const char *smelt = getenv("SMELT_BIN");
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = 0;
    const char *msg = tab + 1;
    n++;
    snprintf(path, sizeof path, "%s/bad/%s", models, line);
    SmDiag d;
    sm_diag_init(&d);
    IrGraph *g = NULL;
    SmStatus st = fe_load_onnx(path, NULL, &g, &d);
    if (st == SM_OK || g || !strstr(sm_diag_text(&d), msg) || d.nerrors != 1) {
      print_error("%s: expected one error with \"%s\", got status %d:\n%s\n", line, msg, (int)st,
                  sm_diag_text(&d));
      failed++;
    }
    ir_graph_free(g);
    sm_diag_free(&d);
    if (smelt) {
      int rc = sh("%s inspect %s >/dev/null 2>&1", smelt, path);
      if (rc != 2) {
        print_error("%s: smelt inspect exited %d, expected 2\n", line, rc);
        failed++;
      }
    }
  }
  fclose(f);
  assert_true(n >= 15);
  assert_int_equal(failed, 0);
}

/* the unsupported-op message lists every such node with domain and opset */
static void test_unsupported_list(void **state) {
  (void)state;
  NEED_PYTHON();
  char path[1024];
  snprintf(path, sizeof path, "%s/bad/unsupported.onnx", models);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_load_onnx(path, NULL, &g, &d), SM_ERR_UNSUPPORTED);
  const char *t = sm_diag_text(&d);
  assert_non_null(strstr(t, "node 0 'l1': LSTMX (domain ai.onnx, opset 13)"));
  assert_non_null(strstr(t, "node 2 'f2': Foo (domain com.acme, opset -1)"));
  assert_null(strstr(t, "Relu"));
  sm_diag_free(&d);
}

/* symbolic dims: unbound is an error naming the dim; bound by symbol or by input */
static void test_input_shape(void **state) {
  (void)state;
  NEED_PYTHON();
  char path[1024];
  snprintf(path, sizeof path, "%s/bad/symbolic.onnx", models);
  const char *opts[][2] = {{"batch=2", NULL}, {"x=2x3", NULL}, {"x=5,3", NULL}};
  int64_t rows[] = {2, 2, 5};
  for (int k = 0; k < 3; k++) {
    FeOptions fo = {.input_shapes = {opts[k][0]}, .ninput_shapes = 1};
    SmDiag d;
    sm_diag_init(&d);
    IrGraph *g = NULL;
    assert_int_equal(fe_load_onnx(path, &fo, &g, &d), SM_OK);
    assert_int_equal(g->inputs[0]->type.rank, 2);
    assert_int_equal(g->inputs[0]->type.dims[0], rows[k]);
    assert_int_equal(g->outputs[0]->type.dims[0], rows[k]);
    ir_graph_free(g);
    sm_diag_free(&d);
  }
  FeOptions bad = {.input_shapes = {"x=2x3x4"}, .ninput_shapes = 1};
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_not_equal(fe_load_onnx(path, &bad, &g, &d), SM_OK);
  assert_non_null(strstr(sm_diag_text(&d), "symbolic.onnx: input 'x': error: --input-shape gives rank 3"));
  sm_diag_free(&d);
  const char *smelt = getenv("SMELT_BIN");
  if (smelt) {
    assert_int_equal(sh("%s inspect %s --input-shape batch=4 | grep -q 'input x: f32\\[4,3\\]'", smelt, path), 0);
    assert_int_equal(sh("%s inspect %s 2>/dev/null", smelt, path), 2);
  }
}

/* external data next to the model reaches the parameter */
static void test_external_data(void **state) {
  (void)state;
  NEED_PYTHON();
  char path[1024];
  snprintf(path, sizeof path, "%s/bad/ext_good.onnx", models);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_load_onnx(path, NULL, &g, &d), SM_OK);
  assert_int_equal(g->nparams, 1);
  IrTensor p;
  ir_init_params(g, &p);
  for (int i = 0; i < 6; i++) assert_true(p.d[i] == i);
  /* the parameter's values survive a clone (training programs clone) */
  IrGraph *c = ir_graph_clone(g);
  IrTensor q;
  ir_init_params(c, &q);
  assert_memory_equal(p.d, q.d, 6 * sizeof(double));
  ir_tensor_free(&p);
  ir_tensor_free(&q);
  ir_graph_free(c);
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* the CLI: compile embeds the initializers; the program matches onnxruntime */
static void test_cli(void **state) {
  (void)state;
  NEED_PYTHON();
  const char *smelt = getenv("SMELT_BIN");
  if (!smelt) skip();
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tiny_cnn", models);
  assert_int_equal(sh("%s compile %s/model.onnx -o %s/prog", smelt, dir, dir), 0);
  assert_int_equal(sh("%s/prog --input %s/in_0.npy --output %s/y.npy >/dev/null", dir, dir, dir), 0);
  assert_int_equal(sh("%s diff %s/y.npy %s/out_0.npy --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, dir, dir), 0);
  assert_int_equal(sh("%s run %s/model.onnx --input %s/in_0.npy --output %s/y2.npy", smelt, dir, dir, dir), 0);
  assert_int_equal(sh("%s diff %s/y2.npy %s/out_0.npy --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, dir, dir), 0);
}

/* ONNX's backend node tests for the ops smelt maps: failures only where
 * tests/onnx/expected_failures.txt says why */
static void test_conformance(void **state) {
  (void)state;
  NEED_PYTHON();
  const char *smelt = getenv("SMELT_BIN");
  if (!smelt) skip();
  char ops[4096] = "";
  for (const char *const *o = fe_onnx_ops(); *o; o++) {
    strcat(ops, *o);
    strcat(ops, ",");
  }
  assert_int_equal(sh("%s %s/tests/onnx/conformance.py --smelt %s --ops %s --xfail %s/tests/onnx/expected_failures.txt --work %s/conf",
                      python, SMELT_SOURCE_DIR, smelt, ops, SMELT_SOURCE_DIR, tmpdir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_models),
      cmocka_unit_test(test_unsupported_list),
      cmocka_unit_test(test_input_shape),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_cli),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_conformance),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
