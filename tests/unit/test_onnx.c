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
#include "frontend/onnx_internal.h"
#include "helpers/progload.h"
#include "helpers/shell.h"
#include "rt.h"

static char tmpdir[] = "/tmp/smelt-onnx-XXXXXX";
static char models[256];
static const char *python;


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
    double g = got[i], w = rt_elem_get(want->dtype, want->data, i);
    bool ok = fabs(g - w) <= 1e-5 + 1e-3 * fabs(w) || (isnan(g) && isnan(w)) || g == w;
    if (!ok && bad++ < 3) print_error("%s[%lld]: smelt %.9g, onnxruntime %.9g\n", what, (long long)i, g, w);
  }
  return bad;
}

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
    for (int64_t k = 0; k < a.numel; k++) ins[i].d[k] = rt_elem_get(a.dtype, a.data, k);
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
  ProgramFns f;
  program_fns(lib, g->name, &f);
  void *m = f.create();
  for (int i = 0; i < g->ninputs; i++) {
    void *p = f.input(m, i);
    for (int64_t k = 0; k < ins[i].numel; k++) rt_elem_put((int)g->inputs[i]->type.dtype, p, k, ins[i].d[k]);
  }
  f.run(m);
  for (int i = 0; i < g->noutputs; i++) {
    const IrValue *v = g->outputs[i];
    int64_t n = ir_type_numel(&v->type);
    double *got = calloc((size_t)n + 1, sizeof *got);
    for (int64_t k = 0; k < n; k++) got[k] = rt_elem_get((int)v->type.dtype, f.output(m, i), k);
    char what[1024];
    snprintf(what, sizeof what, "%s: compiled output '%s'", name, v->name);
    fails += compare(what, &v->type, got, &want[i]) != 0;
    free(got);
  }
  f.destroy(m);
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

/* The op table is the only ONNX -> IR map: every name once, and each IR op
 * an entry names exists and takes the inputs the lowering gives it (the
 * node's inputs one for one; variadic ops fold pairwise). */
static void test_op_table(void **state) {
  (void)state;
  int n;
  const OnnxOp *t = ox_op_table(&n);
  int nir = 0;
  for (int i = 0; i < n; i++) {
    assert_true(t[i].lower && t[i].min_in >= 0 && (t[i].max_in == ANY || t[i].min_in <= t[i].max_in));
    for (int j = 0; j < i; j++) assert_string_not_equal(t[i].name, t[j].name);
    if (!t[i].ir) continue;
    nir++;
    const IrOpDef *op = ir_op_find(t[i].ir);
    if (!op) fail_msg("%s maps to unknown IR op %s", t[i].name, t[i].ir);
    int k = t[i].max_in == ANY ? 2 : t[i].min_in;
    if (t[i].max_in != ANY) assert_int_equal(t[i].min_in, t[i].max_in);
    if (k < op->min_in || k > op->max_in) fail_msg("%s: IR op %s does not take %d inputs", t[i].name, t[i].ir, k);
  }
  assert_int_equal(nir, 28); /* unary 10, binary 5, variadic 4, comparisons and logic 9 */
  int m = 0;
  for (const char *const *o = fe_onnx_ops(); *o; o++) m++;
  assert_int_equal(m, n);
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

/* smelt's output with weights W (interpreter) against onnxruntime on the
 * exported model: 0 when they agree within rtol 1e-3 / atol 1e-5 */
static int compare_exported(const char *smelt, const char *model, const char *w, const char *exported,
                            const char *in_arg, const char *in_file, const char *dir) {
  if (sh("%s run %s --weights %s --input %s --output %s/smelt.npy >/dev/null", smelt, model, w, in_arg, dir)) return -1;
  if (sh("%s %s/tests/onnx/ort_run.py %s %s/ort.npy %s", python, SMELT_SOURCE_DIR, exported, dir, in_file)) return -2;
  return sh("%s diff %s/smelt.npy %s/ort.npy --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, dir, dir);
}

/* trained weights back into ONNX: train a compiled program, export, and
 * onnxruntime on the exported model matches smelt with the trained weights */
static void test_export(void **state) {
  (void)state;
  NEED_PYTHON();
  const char *smelt = getenv("SMELT_BIN");
  if (!smelt) skip();
  char dir[512], m[1024], w[1024], out[1024], in[1024];
  snprintf(dir, sizeof dir, "%s/export", tmpdir);
  assert_int_equal(sh("mkdir -p %s", dir), 0);
  /* 1. the training route: ./prog train --save, then export */
  snprintf(m, sizeof m, "%s/arch_gru_classifier_b4/model.onnx", models);
  snprintf(in, sizeof in, "%s/arch_gru_classifier_b4/in_0.npy", models);
  assert_int_equal(sh("%s -c \"import numpy as np; r = np.random.RandomState(3); "
                      "np.save('%s/x.npy', r.randn(16, 7, 5).astype(np.float32)); "
                      "np.save('%s/y.npy', r.randint(0, 4, 16).astype(np.int64))\"", python, dir, dir), 0);
  assert_int_equal(sh("%s compile %s --train --loss cross_entropy -o %s/prog", smelt, m, dir), 0);
  assert_int_equal(sh("%s/prog train --train-x %s/x.npy --train-y %s/y.npy --epochs 2 --lr 0.2 "
                      "--save %s/w.safetensors --export-onnx %s/prog.onnx >/dev/null", dir, dir, dir,
                      dir, dir), 0);
  snprintf(w, sizeof w, "%s/w.safetensors", dir);
  snprintf(out, sizeof out, "%s/trained.onnx", dir);
  SmDiag d;
  sm_diag_init(&d);
  FeExportStats st;
  assert_int_equal(fe_onnx_export(m, w, out, &st, &d), SM_OK);
  assert_int_equal(st.replaced, 5); /* gru W, R, B, fc weight, bias */
  assert_int_equal(st.kept, 1);     /* a scalar constant the model does not use */
  assert_int_equal(st.unmatched, 0);
  sm_diag_free(&d);
  assert_int_equal(compare_exported(smelt, m, w, out, in, in, dir), 0);
  /* the program's own export (no protobuf-c in the program) loads in
   * onnxruntime and agrees too */
  char own[1024];
  snprintf(own, sizeof own, "%s/prog.onnx", dir);
  assert_int_equal(compare_exported(smelt, m, w, own, in, in, dir), 0);
  /* the weights did change */
  char orig[1024];
  snprintf(orig, sizeof orig, "%s/arch_gru_classifier_b4/out_0.npy", models);
  assert_int_equal(sh("%s diff %s/ort.npy %s --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, dir, orig), 1);
  /* the CLI subcommand, when the dispatcher has it */
  if (sh("%s export --help >/dev/null 2>&1", smelt) == 0) {
    assert_int_equal(sh("%s export %s --weights %s -o %s/cli.onnx >/dev/null", smelt, m, w, dir), 0);
    assert_int_equal(sh("cmp -s %s %s/cli.onnx", out, dir), 0);
    assert_int_equal(sh("%s export %s -o %s/x.onnx 2>/dev/null", smelt, m, dir), 2);
  }

  /* 2. perturbed weights of the LSTM classifier (embedding, 2 LSTM layers) */
  snprintf(m, sizeof m, "%s/arch_lstm_classifier_b4/model.onnx", models);
  snprintf(in, sizeof in, "%s/arch_lstm_classifier_b4/in_0.npy", models);
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_load_onnx(m, NULL, &g, &d), SM_OK);
  IrTensor *p = calloc((size_t)g->nparams, sizeof *p);
  ir_init_params(g, p);
  RtStEntry *ents = calloc((size_t)g->nparams, sizeof *ents);
  float **bufs = calloc((size_t)g->nparams, sizeof *bufs);
  for (int i = 0; i < g->nparams; i++) {
    bufs[i] = calloc((size_t)p[i].numel + 1, sizeof(float));
    for (int64_t k = 0; k < p[i].numel; k++) bufs[i][k] = (float)(p[i].d[k] * 1.5 + 0.01 * (double)(k % 7));
    ents[i] = (RtStEntry){g->params[i]->name, RT_F32, g->params[i]->type.rank, g->params[i]->type.dims, bufs[i]};
  }
  snprintf(w, sizeof w, "%s/w2.safetensors", dir);
  RtErr e = {{0}};
  assert_int_equal(rt_st_write(w, ents, g->nparams, &e), 0);
  snprintf(out, sizeof out, "%s/perturbed.onnx", dir);
  assert_int_equal(fe_onnx_export(m, w, out, &st, &d), SM_OK);
  assert_int_equal(st.replaced, g->nparams);
  assert_int_equal(st.unmatched, 0);
  char in_arg[1100];
  snprintf(in_arg, sizeof in_arg, "ids=%s", in);
  assert_int_equal(compare_exported(smelt, m, w, out, in_arg, in, dir), 0);
  snprintf(orig, sizeof orig, "%s/arch_lstm_classifier_b4/out_0.npy", models);
  assert_int_equal(sh("%s diff %s/ort.npy %s --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, dir, orig), 1);
  sm_diag_free(&d);

  /* 3. errors: a tensor of the wrong shape names itself; nothing is written */
  int64_t bad_dims[2] = {3, 3};
  RtStEntry bad = {g->params[0]->name, RT_F32, 2, bad_dims, bufs[0]};
  snprintf(w, sizeof w, "%s/bad.safetensors", dir);
  assert_int_equal(rt_st_write(w, &bad, 1, &e), 0);
  snprintf(out, sizeof out, "%s/never.onnx", dir);
  sm_diag_init(&d);
  assert_int_not_equal(fe_onnx_export(m, w, out, &st, &d), SM_OK);
  assert_non_null(strstr(sm_diag_text(&d), g->params[0]->name));
  assert_int_not_equal(access(out, F_OK), 0);
  sm_diag_free(&d);
  snprintf(m, sizeof m, "%s/bad/truncated.onnx", models);
  sm_diag_init(&d);
  assert_int_equal(fe_onnx_export(m, w, out, &st, &d), SM_ERR_PARSE);
  assert_non_null(strstr(sm_diag_text(&d), "truncated or corrupt"));
  sm_diag_free(&d);
  for (int i = 0; i < g->nparams; i++) {
    ir_tensor_free(&p[i]);
    free(bufs[i]);
  }
  free(p);
  free(bufs);
  free(ents);
  ir_graph_free(g);
}

/* ONNX -> text model + safetensors: the text model (composites kept, e.g.
 * lstm) with the weights reproduces onnxruntime's outputs */
static void test_to_smelt(void **state) {
  (void)state;
  NEED_PYTHON();
  const char *smelt = getenv("SMELT_BIN");
  static const char *const arch[] = {"arch_lstm_classifier_b4", "arch_transformer_b1", "arch_resnet_b4",
                                     "tiny_cnn", "convtranspose_group"};
  for (int k = 0; k < SM_COUNT(arch); k++) {
    char m[1024], prefix[1024];
    snprintf(m, sizeof m, "%s/%s/model.onnx", models, arch[k]);
    snprintf(prefix, sizeof prefix, "%s/%s/as_text", models, arch[k]);
    SmDiag d;
    sm_diag_init(&d);
    if (fe_onnx_to_smelt(m, NULL, prefix, &d) != SM_OK) print_error("%s\n", sm_diag_text(&d));
    sm_diag_free(&d);
    char path[1100];
    snprintf(path, sizeof path, "%s.smelt", prefix);
    assert_int_equal(access(path, R_OK), 0);
    if (k == 0) assert_int_equal(sh("grep -q '= lstm(' %s", path), 0);
    if (!smelt) continue;
    assert_int_equal(sh("%s run %s.smelt --weights %s.safetensors --input %s/%s/in_0.npy --output %s.npy >/dev/null",
                        smelt, prefix, prefix, models, arch[k], prefix), 0);
    assert_int_equal(sh("%s diff %s.npy %s/%s/out_0.npy --rtol 1e-3 --atol 1e-5 >/dev/null", smelt, prefix,
                        models, arch[k]), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_op_table),
      cmocka_unit_test(test_bad_models),
      cmocka_unit_test(test_unsupported_list),
      cmocka_unit_test(test_input_shape),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_cli),
      cmocka_unit_test(test_export),
      cmocka_unit_test(test_to_smelt),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_conformance),
  };
  const char *only = getenv("SMELT_TEST_FILTER"); /* e.g. "test_export" while iterating */
  if (only) cmocka_set_test_filter(only);
  return cmocka_run_group_tests(tests, setup, teardown);
}
