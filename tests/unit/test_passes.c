/* The optimization pipeline (passes/pipeline.c and its passes).
 *
 * Golden tests: every tests/passes/NAME.smelt holds a model, then a line
 * `# >>> after PASS` and the IR expected after the pipeline ran up to and
 * including PASS (opt_level 1, inference, verifier after every pass), each
 * line prefixed with "# ". A line `# option: embed-weights` in the model
 * part binds every parameter to its initializer values first (as `smelt
 * compile --embed-weights` does), so fold-bn can fold; `# option: remat`
 * runs the remat pass (as --remat). SMELT_UPDATE_GOLDEN=1
 * rewrites the expectations from the current output (review the diff).
 *
 * Equivalence: for every example (examples/NAME.smelt), the default pipeline and -O0
 * agree
 *  - in the interpreter (double precision), inference with declared and
 *    with embedded weights, and 2 training steps (every parameter and
 *    optimizer state): |a - b| <= 1e-7 + 1e-6*|b| (folding rounds constants
 *    and folded weights to f32 once);
 *  - compiled (f32): inference of every example, and 2 training steps of
 *    the examples that compile quickly: |a - b| <= 1e-5 + 1e-4*|b|. */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/opcheck.h"
#include "helpers/testfile.h"
#include "helpers/plancheck.h"
#include "passes/passes.h"
#include "rt.h"
#include "rt_model.h"

static void run_pipeline_remat(IrGraph *g, int opt, bool inference, bool shared, bool remat,
                               const char *stop) {
  SmDiag d;
  sm_diag_init(&d);
  PassOptions po = {.opt_level = opt, .inference = inference, .shared_params = shared,
                    .verify = true, .remat = remat, .stop_after = stop};
  if (pass_run_pipeline(g, &po, &d) != SM_OK) {
    print_error("pipeline failed on %s:\n%s", g->name, sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
}

static void run_pipeline(IrGraph *g, int opt, bool inference, bool shared, const char *stop) {
  run_pipeline_remat(g, opt, inference, shared, false, stop);
}

static void fill_inputs(const IrGraph *g, IrTensor *ins, uint64_t stream);
static int compare(const char *what, const char *name, const IrTensor *a, const IrTensor *b,
                   double rtol, double atol, double *worst);

/* The graph after the passes computes what it did before (interpreter,
 * random inputs; outputs matched by position, names must not change). */
static bool same_results(const IrGraph *before, const IrGraph *after, const char *file) {
  IrTensor ins[8], ra[8], rb[8];
  SM_ASSERT(before->ninputs <= 8 && before->noutputs <= 8);
  fill_inputs(before, ins, 3);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(ir_interpret(after, ins, NULL, ra, &d), SM_OK);
  assert_int_equal(ir_interpret(before, ins, NULL, rb, &d), SM_OK);
  int bad = 0;
  double worst = 0;
  for (int i = 0; i < before->noutputs; i++) {
    if (strcmp(after->outputs[i]->name, before->outputs[i]->name)) {
      print_error("%s: output %d is now '%s', was '%s'\n", file, i, after->outputs[i]->name,
                  before->outputs[i]->name);
      bad++;
    }
    bad += compare(file, before->outputs[i]->name, &ra[i], &rb[i], 1e-6, 1e-7, &worst);
    ir_tensor_free(&ra[i]);
    ir_tensor_free(&rb[i]);
  }
  for (int i = 0; i < before->ninputs; i++) ir_tensor_free(&ins[i]);
  sm_diag_free(&d);
  return bad == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- golden tests ---- */

typedef struct Lines {
  char **v;
  int n;
} Lines;

static Lines split_lines(char *s) {
  Lines l = {0};
  int cap = 0;
  for (char *p = s; *p;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    if (l.n == cap) l.v = realloc(l.v, sizeof *l.v * (size_t)(cap = cap ? 2 * cap : 64));
    l.v[l.n++] = p;
    if (!e) break;
    p = e + 1;
  }
  return l;
}

/* A line diff (longest common subsequence): "-" expected, "+" got. */
static void print_diff(const Lines *a, const Lines *b) {
  int n = a->n, m = b->n;
  int *t = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof *t);
#define T(i, j) t[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
  for (int i = n - 1; i >= 0; i--)
    for (int j = m - 1; j >= 0; j--)
      T(i, j) = !strcmp(a->v[i], b->v[j]) ? T(i + 1, j + 1) + 1
                : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
  int i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && !strcmp(a->v[i], b->v[j])) {
      print_message("   %s\n", a->v[i]);
      i++, j++;
    } else if (j < m && (i == n || T(i, j + 1) >= T(i + 1, j))) {
      print_message("  +%s\n", b->v[j++]);
    } else {
      print_message("  -%s\n", a->v[i++]);
    }
  }
#undef T
  free(t);
}

#define MARK "# >>> after "

/* Returns true when the file's expectation matches (or was rewritten). */
static bool golden_file(const char *dir, const char *file) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  char *src = test_read_file(path);
  char *mark = strstr(src, MARK);
  if (!mark || (mark != src && mark[-1] != '\n')) {
    print_error("%s: no line `" MARK "PASS`\n", file);
    free(src);
    return false;
  }
  char pass[64] = {0};
  sscanf(mark + strlen(MARK), "%63s", pass);
  size_t model_len = (size_t)(mark - src);
  char *model = strndup(src, model_len);
  IrGraph *g = test_parse(file, model);
  if (strstr(model, "\n# option: embed-weights\n")) pass_bind_params(g, NULL);
  IrGraph *g0 = ir_graph_clone(g);
  run_pipeline_remat(g, 1, true, false, strstr(model, "\n# option: remat\n") != NULL, pass);
  bool same = same_results(g0, g, file);
  ir_graph_free(g0);
  SmBuf got = {0};
  ir_print(&got, g);
  /* the expectation: "# "-prefixed lines after the mark */
  SmBuf want = {0};
  char *body = strchr(mark, '\n');
  for (char *p = body ? body + 1 : mark + strlen(mark); p && *p;) {
    char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len >= 2 && p[0] == '#' && p[1] == ' ') sm_buf_printf(&want, "%.*s\n", (int)len - 2, p + 2);
    else if (len == 1 && p[0] == '#') sm_buf_puts(&want, "\n");
    p = e ? e + 1 : NULL;
  }
  bool ok = !strcmp(sm_buf_str(&got), sm_buf_str(&want));
  if (!ok && getenv("SMELT_UPDATE_GOLDEN")) {
    SmBuf out = {0};
    sm_buf_printf(&out, "%.*s" MARK "%s\n", (int)model_len, src, pass);
    char *g2 = strdup(sm_buf_str(&got));
    Lines l = split_lines(g2);
    for (int i = 0; i < l.n; i++) sm_buf_printf(&out, "# %s\n", l.v[i]);
    SmDiag d;
    sm_diag_init(&d);
    assert_int_equal(sm_write_file_atomic(path, sm_buf_str(&out), strlen(sm_buf_str(&out)), &d), SM_OK);
    sm_diag_free(&d);
    print_message("# %s: expectation rewritten\n", file);
    free(l.v);
    free(g2);
    sm_buf_free(&out);
    ok = true;
  } else if (!ok) {
    print_error("%s: IR after %s differs (-expected +got):\n", file, pass);
    char *a = strdup(sm_buf_str(&want)), *b = strdup(sm_buf_str(&got));
    Lines la = split_lines(a), lb = split_lines(b);
    print_diff(&la, &lb);
    free(la.v);
    free(lb.v);
    free(a);
    free(b);
  }
  sm_buf_free(&got);
  sm_buf_free(&want);
  ir_graph_free(g);
  free(model);
  free(src);
  return ok && same;
}

static void test_golden(void **state) {
  (void)state;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tests/passes", SMELT_SOURCE_DIR);
  DIR *dp = opendir(dir);
  assert_non_null(dp);
  char *names[256];
  int n = 0;
  for (struct dirent *e; (e = readdir(dp)) && n < 256;) {
    size_t len = strlen(e->d_name);
    if (len > 6 && !strcmp(e->d_name + len - 6, ".smelt")) names[n++] = strdup(e->d_name);
  }
  closedir(dp);
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  int bad = 0;
  int per_pass[16] = {0};
  int np;
  const PassInfo *pt = pass_table(&np);
  for (int i = 0; i < n; i++) {
    bad += !golden_file(dir, names[i]);
    for (int p = 0; p < np && p < 16; p++) {
      size_t l = strlen(pt[p].name);
      per_pass[p] += !strncmp(names[i], pt[p].name, l) && names[i][l] == '_';
    }
    free(names[i]);
  }
  printf("# %d golden files, %d mismatched\n", n, bad);
  /* at least two per optimization pass (files are named PASS_*.smelt) */
  for (int p = 0; p < np && p < 16; p++) {
    if (!strcmp(pt[p].name, "drop-dropout")) continue;
    if (per_pass[p] < 2) {
      print_error("pass %s has %d golden files (want 2)\n", pt[p].name, per_pass[p]);
      bad++;
    }
  }
  assert_int_equal(bad, 0);
}

/* ---- the pass table ---- */

static void test_table(void **state) {
  (void)state;
  int n;
  const PassInfo *pt = pass_table(&n);
  const char *want[] = {"drop-dropout", "canonicalize", "fold-bn", "bn-affine", "dce",
                        "schedule",     "remat",        "fuse"};
  assert_int_equal(n, SM_COUNT(want));
  for (int i = 0; i < n; i++) {
    assert_string_equal(pt[i].name, want[i]);
    assert_non_null(pt[i].requires);
    assert_non_null(pt[i].invalidates);
  }
}

/* stop_after names a pass that does not run for this graph (fold-bn in a
 * training function): the pipeline still stops there */
static void test_stop_at_skipped_pass(void **state) {
  (void)state;
  IrGraph *g = test_parse("t.smelt", "model t\ninput x: f32[4]\ny = relu(x)\nz = neg(y)\noutput z\n");
  run_pipeline(g, 1, false, true, "fold-bn");
  for (int k = 0; k < g->nnodes; k++) assert_null(g->nodes[k]->anchor); /* fuse did not run */
  ir_graph_free(g);
}

/* fold-bn leaves the parameters of training programs alone */
static void test_fold_bn_shared(void **state) {
  (void)state;
  char *src = test_read_file(SMELT_SOURCE_DIR "/examples/cnn_bn.smelt");
  IrGraph *g = test_parse("cnn_bn.smelt", src);
  ir_prune(g, true);
  pass_bind_params(g, NULL);
  int np = g->nparams;
  IrGraph *h = ir_graph_clone(g);
  run_pipeline(g, 1, true, true, NULL);
  assert_int_equal(g->nparams, np);
  run_pipeline(h, 1, true, false, NULL);
  assert_true(h->nparams < np);
  int bn = 0;
  for (int k = 0; k < h->nnodes; k++) bn += !strcmp(h->nodes[k]->op->name, "batchnorm");
  assert_int_equal(bn, 0);
  ir_graph_free(g);
  ir_graph_free(h);
  free(src);
}

/* ---- equivalence ---- */

/* every examples/NAME.smelt, sorted */
static char *examples[64];
static int nexamples;

static int cmp_str(const void *a, const void *b);

static void find_examples(void) {
  if (nexamples) return;
  DIR *dp = opendir(SMELT_SOURCE_DIR "/examples");
  assert_non_null(dp);
  for (struct dirent *e; (e = readdir(dp)) && nexamples < 64;) {
    size_t len = strlen(e->d_name);
    if (len > 6 && !strcmp(e->d_name + len - 6, ".smelt")) examples[nexamples++] = strdup(e->d_name);
  }
  closedir(dp);
  qsort(examples, (size_t)nexamples, sizeof *examples, cmp_str);
}

/* Training steps are compiled both ways where that takes seconds; unrolled
 * sequence models (~1000-node training graphs, ~15 s per compile) have
 * their training steps compared in the interpreter only. */
#define COMPILE_TRAIN_MAX_NODES 400

static void fill_inputs(const IrGraph *g, IrTensor *ins, uint64_t stream) {
  for (int i = 0; i < g->ninputs; i++) {
    ins[i] = ir_tensor_new(g->inputs[i]->type);
    bool f = ir_dtype_is_float(g->inputs[i]->type.dtype);
    for (int64_t k = 0; k < ins[i].numel; k++) {
      double u = rt_uniform(99, stream + (uint64_t)i, (uint64_t)k);
      /* ids/labels in [0, 4): valid for every example's vocabulary and classes */
      ins[i].d[k] = f ? (double)(float)u : floor(4 * u);
    }
  }
}

static int compare(const char *what, const char *name, const IrTensor *a, const IrTensor *b,
                   double rtol, double atol, double *worst) {
  int bad = 0;
  assert_int_equal(a->numel, b->numel);
  for (int64_t k = 0; k < a->numel; k++) {
    double x = a->d[k], y = b->d[k], err = fabs(x - y);
    if ((isnan(x) && isnan(y)) || x == y) continue;
    if (fabs(y) > 1e-3 && err / fabs(y) > *worst) *worst = err / fabs(y);
    if (!(err <= atol + rtol * fabs(y)) && bad++ < 3)
      print_error("%s '%s'[%lld]: optimized %.9g, -O0 %.9g\n", what, name, (long long)k, x, y);
  }
  return bad;
}

/* Inference in the interpreter: the optimized graph vs the graph as parsed. */
static void interp_inference(const char *file, bool embed) {
  IrGraph *g = test_load_example(file);
  if (ir_directive(g, "train")) ir_prune(g, true);
  if (embed) pass_bind_params(g, NULL);
  IrGraph *o = ir_graph_clone(g);
  run_pipeline(o, 1, true, false, NULL);
  IrTensor ins[8], ra[8], rb[8];
  SM_ASSERT(g->ninputs <= 8 && g->noutputs <= 8);
  fill_inputs(g, ins, 1);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(ir_interpret(o, ins, NULL, ra, &d), SM_OK);
  assert_int_equal(ir_interpret(g, ins, NULL, rb, &d), SM_OK);
  double worst = 0;
  int bad = 0;
  for (int i = 0; i < g->noutputs; i++) {
    assert_string_equal(o->outputs[i]->name, g->outputs[i]->name);
    bad += compare("output", g->outputs[i]->name, &ra[i], &rb[i], 1e-6, 1e-7, &worst);
    ir_tensor_free(&ra[i]);
    ir_tensor_free(&rb[i]);
  }
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&ins[i]);
  printf("# %s inference (%s weights, interpreter): %d -> %d nodes, %d -> %d params, worst rel %.3g\n",
         file, embed ? "embedded" : "declared", g->nnodes, o->nnodes, g->nparams, o->nparams, worst);
  sm_diag_free(&d);
  ir_graph_free(o);
  ir_graph_free(g);
  assert_int_equal(bad, 0);
}

static void test_interp_inference(void **state) {
  (void)state;
  find_examples();
  for (int i = 0; i < nexamples; i++) {
    interp_inference(examples[i], false);
    /* embedded weights change only what fold-bn does */
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s", SMELT_SOURCE_DIR, examples[i]);
    char *src = test_read_file(path);
    if (strstr(src, "batchnorm(")) interp_inference(examples[i], true);
    free(src);
  }
}

/* Training program optimized at opt_level, as `smelt compile --train
 * [--remat]`. */
static void build_train_remat(IrGraph *g, int opt, bool remat, TrainProgram *tp) {
  SmDiag d;
  sm_diag_init(&d);
  if (pass_training_program(g, tp, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
  run_pipeline_remat(tp->infer, opt, true, true, remat, NULL);
  run_pipeline_remat(tp->eval, opt, true, true, remat, NULL);
  run_pipeline_remat(tp->train, opt, false, true, remat, NULL);
}

static void build_train(IrGraph *g, int opt, TrainProgram *tp) { build_train_remat(g, opt, false, tp); }

/* examples with one supervised train step (several-step programs are
 * checked in test_programs.c) */
static bool one_train_step(const IrGraph *g) {
  return ir_directive(g, "train") && !ir_directive(g, "step");
}

/* train-function inputs of step s: features, labels, lr, step */
static void step_inputs(const IrGraph *t, IrTensor *ins, int s) {
  fill_inputs(t, ins, (uint64_t)(10 * s));
  ins[2].d[0] = (float)(1e-2 / s);
  ins[3].d[0] = s;
}

static void test_interp_training(void **state) {
  (void)state;
  find_examples();
  for (int e = 0; e < nexamples; e++) {
    IrGraph *g = test_load_example(examples[e]);
    if (!one_train_step(g)) {
      ir_graph_free(g);
      continue;
    }
    TrainProgram a, b;
    build_train(g, 1, &a);
    build_train(g, 0, &b);
    IrGraph *ta = a.train, *tb = b.train;
    assert_int_equal(ta->nparams, tb->nparams);
    assert_int_equal(ta->ninputs, 4);
    IrTensor *pa = calloc((size_t)ta->nparams + 1, sizeof *pa);
    IrTensor *pb = calloc((size_t)tb->nparams + 1, sizeof *pb);
    ir_init_params(ta, pa);
    ir_init_params(tb, pb);
    SmDiag d;
    sm_diag_init(&d);
    double worst = 0;
    int bad = 0;
    for (int s = 1; s <= 2; s++) {
      IrTensor ins[4], oa[4], ob[4];
      step_inputs(ta, ins, s);
      assert_int_equal(ir_interpret(ta, ins, pa, oa, &d), SM_OK);
      assert_int_equal(ir_interpret(tb, ins, pb, ob, &d), SM_OK);
      for (int i = 0; i < ta->noutputs; i++) {
        bad += compare("train output", ta->outputs[i]->name, &oa[i], &ob[i], 1e-6, 1e-7, &worst);
        ir_tensor_free(&oa[i]);
        ir_tensor_free(&ob[i]);
      }
      for (int i = 0; i < 4; i++) ir_tensor_free(&ins[i]);
    }
    for (int p = 0; p < ta->nparams; p++) {
      assert_string_equal(ta->params[p]->name, tb->params[p]->name);
      bad += compare("parameter", ta->params[p]->name, &pa[p], &pb[p], 1e-6, 1e-7, &worst);
    }
    /* eval and infer with the trained parameters (matched by name) */
    IrGraph *fa[2] = {a.eval, a.infer}, *fb[2] = {b.eval, b.infer};
    for (int f = 0; f < 2; f++) {
      IrTensor ins[4], oa[4], ob[4], qa[64], qb[64];
      SM_ASSERT(fa[f]->nparams <= 64 && fa[f]->ninputs <= 4);
      for (int p = 0; p < fa[f]->nparams; p++) {
        IrValue *v = ir_graph_find(ta, fa[f]->params[p]->name);
        assert_non_null(v);
        qa[p] = pa[v->index];
        qb[p] = pb[v->index];
      }
      fill_inputs(fa[f], ins, 500);
      assert_int_equal(ir_interpret(fa[f], ins, qa, oa, &d), SM_OK);
      assert_int_equal(ir_interpret(fb[f], ins, qb, ob, &d), SM_OK);
      for (int i = 0; i < fa[f]->noutputs; i++) {
        bad += compare(f ? "infer output" : "eval output", fa[f]->outputs[i]->name, &oa[i], &ob[i],
                       1e-6, 1e-7, &worst);
        ir_tensor_free(&oa[i]);
        ir_tensor_free(&ob[i]);
      }
      for (int i = 0; i < fa[f]->ninputs; i++) ir_tensor_free(&ins[i]);
    }
    printf("# %s: 2 training steps (interpreter): train %d -> %d nodes, worst rel %.3g\n",
           examples[e], tb->nnodes, ta->nnodes, worst);
    for (int p = 0; p < ta->nparams; p++) {
      ir_tensor_free(&pa[p]);
      ir_tensor_free(&pb[p]);
    }
    free(pa);
    free(pb);
    sm_diag_free(&d);
    train_program_free(&a);
    train_program_free(&b);
    ir_graph_free(g);
    assert_int_equal(bad, 0);
  }
}

/* ---- compiled ---- */

typedef const RtModelDesc *(*DescFn)(void);

typedef struct Lib {
  char dir[64], so[256];
  void *h;
  RtModel *m;
  const RtModelDesc *desc;
} Lib;

static void lib_open(Lib *l, const CgProgram *prog, const CgOptions *co) {
  snprintf(l->dir, sizeof l->dir, "/tmp/smelt-passes-XXXXXX");
  assert_non_null(mkdtemp(l->dir));
  snprintf(l->so, sizeof l->so, "%s/%s.so", l->dir, prog->name);
  SmDiag d;
  sm_diag_init(&d);
  if (cg_compile_program(prog, CG_SHARED, l->so, co, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
  l->h = dlopen(l->so, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(l->h);
  char sym[160];
  snprintf(sym, sizeof sym, "%s_desc", prog->name);
  DescFn fn;
  *(void **)&fn = dlsym(l->h, sym);
  assert_non_null(*(void **)&fn);
  l->desc = fn();
  l->m = rt_model_create(l->desc);
  assert_non_null(l->m);
}

static void lib_close(Lib *l) {
  rt_model_free(l->m);
  dlclose(l->h);
  unlink(l->so);
  rmdir(l->dir);
}

static void store(void *p, IrDType t, const IrTensor *x) {
  for (int64_t i = 0; i < x->numel; i++) {
    if (t == IR_F32) ((float *)p)[i] = (float)x->d[i];
    else if (t == IR_F64) ((double *)p)[i] = x->d[i];
    else if (t == IR_I64) ((int64_t *)p)[i] = (int64_t)x->d[i];
    else if (t == IR_I32) ((int32_t *)p)[i] = (int32_t)x->d[i];
    else ((uint8_t *)p)[i] = (uint8_t)x->d[i];
  }
}

static IrTensor fetch(const void *p, const RtTensorDesc *td, IrType t) {
  IrTensor x = ir_tensor_new(t);
  for (int64_t i = 0; i < x.numel; i++)
    x.d[i] = t.dtype == IR_F32 ? ((const float *)p)[i] : t.dtype == IR_F64 ? ((const double *)p)[i]
           : t.dtype == IR_I64 ? (double)((const int64_t *)p)[i] : t.dtype == IR_I32 ? ((const int32_t *)p)[i]
                               : ((const uint8_t *)p)[i];
  (void)td;
  return x;
}

/* the libclang check of generated code is covered by other suites */
static const CgOptions copts = {.check = false, .opt = "-O1"};

/* every parameter of two programs (same order and names; types from g) */
static int compare_params(Lib *a, Lib *b, const IrGraph *g, double rtol, double atol,
                          double *worst) {
  int bad = 0;
  for (int p = 0; p < a->desc->nparams; p++) {
    const RtTensorDesc *da = &a->desc->params[p], *db = &b->desc->params[p];
    assert_string_equal(da->name, db->name);
    IrValue *v = ir_graph_find(g, da->name);
    assert_non_null(v);
    IrTensor x = fetch(rt_model_tensor(a->m, da), da, v->type);
    IrTensor y = fetch(rt_model_tensor(b->m, db), db, v->type);
    bad += compare("compiled parameter", da->name, &x, &y, rtol, atol, worst);
    ir_tensor_free(&x);
    ir_tensor_free(&y);
  }
  return bad;
}

/* runs function fn of both programs on the same inputs, compares outputs */
static int run_both_tol(Lib *a, Lib *b, int fn, const IrGraph *g, const IrTensor *ins,
                        double rtol, double atol, double *worst) {
  for (int i = 0; i < g->ninputs; i++) {
    store(rt_model_func_input(a->m, fn, i), g->inputs[i]->type.dtype, &ins[i]);
    store(rt_model_func_input(b->m, fn, i), g->inputs[i]->type.dtype, &ins[i]);
  }
  rt_model_run_func(a->m, fn);
  rt_model_run_func(b->m, fn);
  int bad = 0;
  const RtFuncDesc *fd = &a->desc->funcs[fn];
  for (int i = 0; i < g->noutputs; i++) {
    IrTensor x = fetch(rt_model_func_output(a->m, fn, i), &fd->outputs[i], g->outputs[i]->type);
    IrTensor y = fetch(rt_model_func_output(b->m, fn, i), &fd->outputs[i], g->outputs[i]->type);
    bad += compare("compiled output", g->outputs[i]->name, &x, &y, rtol, atol, worst);
    ir_tensor_free(&x);
    ir_tensor_free(&y);
  }
  return bad;
}

static int run_both(Lib *a, Lib *b, int fn, const IrGraph *g, const IrTensor *ins, double *worst) {
  return run_both_tol(a, b, fn, g, ins, 1e-4, 1e-5, worst);
}

static void compiled_inference(const char *file, bool embed) {
  IrGraph *g = test_load_example(file);
  if (ir_directive(g, "train")) ir_prune(g, true);
  if (embed) pass_bind_params(g, NULL);
  IrGraph *o = ir_graph_clone(g);
  run_pipeline(o, 1, true, false, NULL);
  run_pipeline(g, 0, true, false, NULL);
  plancheck(o);
  plancheck(g);
  CgOptions co = copts, co0 = copts;
  co.embed_weights = co0.embed_weights = embed;
  co0.check = false; /* the libclang check once per example is enough */
  Lib a, b;
  CgProgram pa = cg_program_single(o), pb = cg_program_single(g);
  lib_open(&a, &pa, &co);
  lib_open(&b, &pb, &co0);
  IrTensor ins[8];
  fill_inputs(g, ins, 7);
  double worst = 0;
  int bad = run_both(&a, &b, 0, g, ins, &worst);
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&ins[i]);
  printf("# %s inference (%s weights, compiled): worst rel %.3g\n", file,
         embed ? "embedded" : "declared", worst);
  lib_close(&a);
  lib_close(&b);
  ir_graph_free(o);
  ir_graph_free(g);
  assert_int_equal(bad, 0);
}

static void test_compiled_inference(void **state) {
  (void)state;
  find_examples();
  for (int i = 0; i < nexamples; i++) compiled_inference(examples[i], false);
  compiled_inference("cnn_bn.smelt", true); /* fold-bn folds here */
}

static void test_compiled_training(void **state) {
  (void)state;
  find_examples();
  for (int e = 0; e < nexamples; e++) {
    IrGraph *g = test_load_example(examples[e]);
    if (!one_train_step(g)) {
      ir_graph_free(g);
      continue;
    }
    TrainProgram ta, tb;
    build_train(g, 1, &ta);
    build_train(g, 0, &tb);
    if (tb.train->nnodes > COMPILE_TRAIN_MAX_NODES) {
      printf("# %s: %d-node training step compared in the interpreter only (compile time)\n",
             examples[e], tb.train->nnodes);
      train_program_free(&ta);
      train_program_free(&tb);
      ir_graph_free(g);
      continue;
    }
    CgProgram pa = cg_program_train(ta.infer, ta.eval, ta.train, ta.nweights, &ta.desc),
              pb = cg_program_train(tb.infer, tb.eval, tb.train, tb.nweights, &tb.desc);
    Lib a, b;
    CgOptions co0 = copts;
    co0.check = false;
    lib_open(&a, &pa, &copts);
    lib_open(&b, &pb, &co0);
    int fn = a.desc->train->train_fn;
    double worst = 0;
    int bad = 0;
    for (int s = 1; s <= 2; s++) {
      IrTensor ins[4];
      step_inputs(ta.train, ins, s);
      bad += run_both(&a, &b, fn, ta.train, ins, &worst);
      for (int i = 0; i < 4; i++) ir_tensor_free(&ins[i]);
    }
    bad += compare_params(&a, &b, ta.train, 1e-4, 1e-5, &worst);
    printf("# %s: 2 training steps (compiled): worst rel %.3g\n", examples[e], worst);
    lib_close(&a);
    lib_close(&b);
    train_program_free(&ta);
    train_program_free(&tb);
    ir_graph_free(g);
    assert_int_equal(bad, 0);
  }
}

/* ---- rematerialization (--remat) ---- */

static size_t arena_of(const IrGraph *g) {
  CgPlan p;
  cg_plan(g, NULL, &p);
  size_t a = p.arena_bytes;
  cg_plan_free(&p);
  return a;
}

/* Bytes of g's inputs and outputs (their own arena buffers, 64-aligned)
 * plus pass_plan_peak: the least arena the planner can pack, so a lower
 * bound that fails if pass_plan_peak misses reuse the planner does. */
static size_t buffer_bytes(const IrValue *v) {
  return ((size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype) + 63) / 64 * 64;
}

static size_t least_arena(const IrGraph *g) {
  size_t fixed = 0;
  for (int i = 0; i < g->ninputs; i++) fixed += buffer_bytes(g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) {
    bool dup = g->outputs[i]->kind != IR_VAL_NODE;
    for (int j = 0; j < i; j++) dup |= g->outputs[j] == g->outputs[i];
    if (!dup) fixed += buffer_bytes(g->outputs[i]);
  }
  return fixed + (size_t)pass_plan_peak(g);
}

/* With --remat, no training step's arena grows, and every remat plan
 * passes the plan checker; where BN -> ReLU chains and residual adds are
 * live into the backward, the arena shrinks. Both arenas are at least
 * least_arena (the measure remat decides by is the planner's). */
static void test_remat_arena(void **state) {
  (void)state;
  static const char *const shrinks[] = {"cnn_norms.smelt", "resnet_preact.smelt",
                                        "resnet_small.smelt"};
  find_examples();
  int bad = 0;
  for (int e = 0; e < nexamples; e++) {
    IrGraph *g = test_load_example(examples[e]);
    if (!one_train_step(g)) {
      ir_graph_free(g);
      continue;
    }
    TrainProgram a, b;
    build_train_remat(g, 1, false, &a);
    build_train_remat(g, 1, true, &b);
    size_t x = arena_of(a.train), y = arena_of(b.train);
    plancheck(b.train);
    if (x < least_arena(a.train) || y < least_arena(b.train)) {
      print_error("%s: arena %zu / %zu below inputs, outputs and plan peak %zu / %zu\n",
                  examples[e], x, y, least_arena(a.train), least_arena(b.train));
      bad++;
    }
    bool shrink = false;
    for (int i = 0; i < SM_COUNT(shrinks); i++) shrink |= !strcmp(examples[e], shrinks[i]);
    printf("# %s: training step arena %zu -> %zu bytes with remat (%d -> %d nodes)\n", examples[e],
           x, y, a.train->nnodes, b.train->nnodes);
    if (y > x || (shrink && y >= x)) {
      print_error("%s: arena %zu with remat, %zu without\n", examples[e], y, x);
      bad++;
    }
    train_program_free(&a);
    train_program_free(&b);
    ir_graph_free(g);
  }
  assert_int_equal(bad, 0);
}

/* Three training steps of resnet_small with remat: in the interpreter as
 * without it (double precision), and compiled bit for bit as without it
 * (the recomputed values are the same f32 operations). */
static void test_remat_training(void **state) {
  (void)state;
  IrGraph *g = test_load_example("resnet_small.smelt");
  TrainProgram ta, tb;
  build_train_remat(g, 1, true, &ta);
  build_train_remat(g, 1, false, &tb);
  int copies = 0;
  for (int k = 0; k < ta.train->nnodes; k++)
    copies += strstr(ta.train->nodes[k]->out[0]->name, "_remat") != NULL;
  assert_true(copies > 0);
  /* interpreter */
  IrTensor *pa = calloc((size_t)ta.train->nparams + 1, sizeof *pa);
  IrTensor *pb = calloc((size_t)tb.train->nparams + 1, sizeof *pb);
  ir_init_params(ta.train, pa);
  ir_init_params(tb.train, pb);
  SmDiag d;
  sm_diag_init(&d);
  double worst = 0;
  int bad = 0;
  for (int s = 1; s <= 3; s++) {
    IrTensor ins[4], oa[4], ob[4];
    step_inputs(ta.train, ins, s);
    assert_int_equal(ir_interpret(ta.train, ins, pa, oa, &d), SM_OK);
    assert_int_equal(ir_interpret(tb.train, ins, pb, ob, &d), SM_OK);
    for (int i = 0; i < ta.train->noutputs; i++) {
      bad += compare("train output", ta.train->outputs[i]->name, &oa[i], &ob[i], 1e-6, 1e-7, &worst);
      ir_tensor_free(&oa[i]);
      ir_tensor_free(&ob[i]);
    }
    for (int i = 0; i < 4; i++) ir_tensor_free(&ins[i]);
  }
  for (int p = 0; p < ta.train->nparams; p++) {
    bad += compare("parameter", ta.train->params[p]->name, &pa[p], &pb[p], 1e-6, 1e-7, &worst);
    ir_tensor_free(&pa[p]);
    ir_tensor_free(&pb[p]);
  }
  free(pa);
  free(pb);
  sm_diag_free(&d);
  printf("# resnet_small: 3 training steps with remat (interpreter, %d copies): worst rel %.3g\n",
         copies, worst);
  /* compiled: exactly the program without remat */
  CgProgram qa = cg_program_train(ta.infer, ta.eval, ta.train, ta.nweights, &ta.desc),
            qb = cg_program_train(tb.infer, tb.eval, tb.train, tb.nweights, &tb.desc);
  Lib a, b;
  CgOptions co = copts;
  co.check = false;
  lib_open(&a, &qa, &co);
  lib_open(&b, &qb, &co);
  int fn = a.desc->train->train_fn;
  worst = 0;
  for (int s = 1; s <= 3; s++) {
    IrTensor ins[4];
    step_inputs(ta.train, ins, s);
    bad += run_both_tol(&a, &b, fn, ta.train, ins, 0, 0, &worst);
    for (int i = 0; i < 4; i++) ir_tensor_free(&ins[i]);
  }
  bad += compare_params(&a, &b, ta.train, 0, 0, &worst);
  printf("# resnet_small: 3 training steps with remat (compiled): worst rel %.3g\n", worst);
  lib_close(&a);
  lib_close(&b);
  train_program_free(&ta);
  train_program_free(&tb);
  ir_graph_free(g);
  assert_int_equal(bad, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* the compiler driver forks */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_golden),
      cmocka_unit_test(test_stop_at_skipped_pass),
      cmocka_unit_test(test_fold_bn_shared),
      cmocka_unit_test(test_interp_inference),
      cmocka_unit_test(test_interp_training),
      cmocka_unit_test(test_compiled_inference),
      cmocka_unit_test(test_compiled_training),
      cmocka_unit_test(test_remat_arena),
      cmocka_unit_test(test_remat_training),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  for (int i = 0; i < nexamples; i++) free(examples[i]);
  return rc;
}
