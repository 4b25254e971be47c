/* Code generator and driver: memory-plan safety (checked independently of
 * the planner), embedded weights, static libraries of two models linked
 * into one program, and the `smelt` CLI end to end including bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "helpers/opcheck.h"
#include "helpers/testfile.h"
#include "helpers/plancheck.h"
#include "helpers/progload.h"
#include "helpers/shell.h"
#include "rt_model.h"

static IrGraph *load_example(const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s", SMELT_SOURCE_DIR, file);
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = NULL;
  if (fe_load(path, &g, &src, &d) != SM_OK || !ir_verify(g, &d)) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  free(src); /* diagnostics are done with it */
  sm_diag_free(&d);
  return g;
}

static void test_plan_examples(void **state) {
  (void)state;
  const char *ex[] = {"lenet.smelt", "mlp.smelt", "cnn_bn.smelt"};
  for (int i = 0; i < 3; i++) {
    IrGraph *g = load_example(ex[i]);
    plancheck(g);
    ir_graph_free(g);
  }
}

static void test_plan_reuses(void **state) {
  (void)state;
  IrGraph *g = test_parse("chain.smelt",
                     "input x: f32[1000]\n"
                     "a = relu(x)\nb = exp(a)\nc = tanh(b)\nd = neg(c)\ne = abs(d)\n"
                     "output e\n");
  plancheck(g);
  CgPlan p;
  cg_plan(g, NULL, &p);
  /* x and e dedicated, a..d need only two buffers in turn */
  assert_true(p.arena_bytes <= 4 * 4032);
  assert_true(p.naive_bytes >= 6 * 4000);
  cg_plan_free(&p);
  ir_graph_free(g);
}

static char tmpdir[64];

static int setup(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/smelt-cgtest-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}


static const char *smelt_bin(void) {
  const char *b = getenv("SMELT_BIN");
  if (!b) {
    print_error("SMELT_BIN is not set (run through ctest)\n");
    fail();
  }
  return b;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static const char *tiny = "model tiny\n"
                          "input x: f32[3,5]\n"
                          "param w: f32[5] = normal(1)\n"
                          "param b: f32[3,1] = uniform(-1, 1)\n"
                          "y = mul(x, w)\n"
                          "z = add(y, b)\n"
                          "t = tanh(z)\n"
                          "output t\n";

static void write_npy_f32(const char *path, int rank, const int64_t *dims, int64_t n, float v0) {
  float *x = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = v0 + 0.25f * (float)i;
  RtErr e;
  assert_int_equal(rt_npy_write(path, RT_F32, rank, dims, x, &e), 0);
  free(x);
}

/* compile -> run, interpreter -> run, outputs agree; weights round trip */
static void test_cli_end_to_end(void **state) {
  (void)state;
  const char *smelt = smelt_bin();
  char m[256];
  snprintf(m, sizeof m, "%s/tiny.smelt", tmpdir);
  write_text(m, tiny);
  int64_t dims[2] = {3, 5};
  char x[256];
  snprintf(x, sizeof x, "%s/x.npy", tmpdir);
  write_npy_f32(x, 2, dims, 15, -1.5f);
  assert_int_equal(sh("%s compile %s -o %s/tiny", smelt, m, tmpdir), 0);
  assert_int_equal(sh("%s/tiny --input %s --output %s/y1.npy --save-weights %s/w.safetensors", tmpdir, x, tmpdir, tmpdir), 0);
  assert_int_equal(sh("%s run %s --input x=%s --output %s/y2.npy", smelt, m, x, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/y1.npy %s/y2.npy --rtol 1e-5 --atol 1e-6 >/dev/null", smelt, tmpdir, tmpdir), 0);
  /* weights saved by the program reload in both the program and `run` */
  assert_int_equal(sh("%s/tiny --weights %s/w.safetensors --input %s --output %s/y3.npy", tmpdir, tmpdir, x, tmpdir), 0);
  assert_int_equal(sh("%s run %s --weights %s/w.safetensors --input %s --output %s/y4.npy", smelt, m, tmpdir, x, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/y3.npy %s/y1.npy --rtol 0 --atol 0 >/dev/null", smelt, tmpdir, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/y4.npy %s/y1.npy --rtol 1e-5 --atol 1e-6 >/dev/null", smelt, tmpdir, tmpdir), 0);
  /* the diff tool can fail: a different input gives different outputs */
  char x2[256];
  snprintf(x2, sizeof x2, "%s/x2.npy", tmpdir);
  write_npy_f32(x2, 2, dims, 15, 0.5f);
  assert_int_equal(sh("%s/tiny --input %s --output %s/y5.npy", tmpdir, x2, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/y5.npy %s/y1.npy >/dev/null", smelt, tmpdir, tmpdir), 1);
  /* --embed-weights with the saved weights: no file needed at run time */
  assert_int_equal(sh("%s compile %s --embed-weights --weights %s/w.safetensors -o %s/tiny_e", smelt, m, tmpdir, tmpdir), 0);
  assert_int_equal(sh("%s/tiny_e --input %s --output %s/y6.npy", tmpdir, x, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/y6.npy %s/y1.npy --rtol 0 --atol 0 >/dev/null", smelt, tmpdir, tmpdir), 0);
  /* --emit c writes both files */
  assert_int_equal(sh("%s compile %s --emit c -o %s/tiny", smelt, m, tmpdir), 0);
  char c[256];
  snprintf(c, sizeof c, "%s/tiny.c", tmpdir);
  assert_true(exists(c));
  /* the elementwise chain is one fused kernel; -O0 keeps one per node */
  assert_int_equal(sh("grep -q '/\\* k2: fused mul n0 (.*tiny.smelt:5) + add n1 (.*tiny.smelt:6) + tanh n2' %s", c), 0);
  assert_int_equal(sh("grep -c '^static void k' %s | grep -qx 1", c), 0);
  assert_int_equal(sh("%s compile %s --emit c -O0 -o %s/tiny", smelt, m, tmpdir), 0);
  assert_int_equal(sh("grep -c '^static void k' %s | grep -qx 3", c), 0);
}

/* The profiled step runs the same kernels as the step (same results) and
 * times each one; `PROG bench` prints the per-kernel table and rejects bad
 * options. */
static void test_profile(void **state) {
  (void)state;
  const char *text = "model prof\n"
                     "input x: f32[17,33]\n"
                     "param w: f32[33,19] = normal(0.3)\n"
                     "param b: f32[19] = uniform(-1, 1)\n"
                     "h = matmul(x, w)\n"
                     "z = add(h, b)\n"
                     "r = relu(z)\n"
                     "s = reduce_sum(r, axes=[1])\n"
                     "output r, s\n";
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("prof.smelt", text, &g, &d), SM_OK);
  PassOptions po = {.opt_level = 1, .inference = true, .verify = true};
  assert_int_equal(pass_run_pipeline(g, &po, &d), SM_OK);
  CgProgram prog = cg_program_single(g);
  LoadedProgram lp;
  program_load(&prog, "-O2", &lp);
  const RtFuncDesc *f = &lp.desc->funcs[0];
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  assert_int_equal(f->nkernels, nk);
  assert_true(nk >= 2);
  for (int k = 0; k < nk; k++) {
    char want[32];
    snprintf(want, sizeof want, "k%d ", ks[k].anchor->id);
    assert_memory_equal(f->kernels[k].name, want, strlen(want));
    assert_true(f->kernels[k].bytes > 0);
  }
  assert_true(f->kernels[0].gemm_flops == 2.0 * 17 * 19 * 33); /* matmul + add + relu */
  cg_kernels_free(ks, nk);
  RtModel *m = rt_model_create(lp.desc);
  assert_non_null(m);
  rt_bench_fill_inputs(m, 0);
  f->run(m->params, m->arena);
  float r1[17 * 19], s1[17];
  memcpy(r1, rt_model_tensor(m, &f->outputs[0]), sizeof r1);
  memcpy(s1, rt_model_tensor(m, &f->outputs[1]), sizeof s1);
  memset(rt_model_tensor(m, &f->outputs[0]), 0, sizeof r1);
  double t[8] = {0};
  f->run_prof(m->params, m->arena, t);
  assert_memory_equal(rt_model_tensor(m, &f->outputs[0]), r1, sizeof r1);
  assert_memory_equal(rt_model_tensor(m, &f->outputs[1]), s1, sizeof s1);
  double sum = 0;
  for (int k = 0; k < nk; k++) {
    assert_true(t[k] >= 0);
    sum += t[k];
  }
  assert_true(sum > 0);
  rt_model_free(m);
  program_unload(&lp);
  ir_graph_free(g);
  sm_diag_free(&d);
  /* the standalone program's bench subcommand */
  const char *smelt = smelt_bin();
  char path[256];
  snprintf(path, sizeof path, "%s/prof.smelt", tmpdir);
  write_text(path, text);
  assert_int_equal(sh("%s compile %s -o %s/prof", smelt, path, tmpdir), 0);
  assert_int_equal(sh("%s/prof bench --repeat 3 --top 1 > %s/bench.txt", tmpdir, tmpdir), 0);
  char out[256];
  snprintf(out, sizeof out, "%s/bench.txt", tmpdir);
  char *txt = slurp(out, NULL);
  assert_non_null(txt);
  assert_non_null(strstr(txt, "per kernel (infer, "));
  assert_non_null(strstr(txt, " matmul+add+relu\n"));
  assert_non_null(strstr(txt, "(1 more kernels)"));
  free(txt);
  assert_int_equal(sh("%s/prof bench --repeat 0 2>/dev/null", tmpdir), 2);
  assert_int_equal(sh("%s/prof bench --fn train 2>/dev/null", tmpdir), 2);
  assert_int_equal(sh("%s/prof bench --bogus 1 2>/dev/null", tmpdir), 2);
}

/* bad inputs: clear error, non-zero exit, no output file */
static void test_cli_bad_input(void **state) {
  (void)state;
  const char *smelt = smelt_bin();
  char m[256], out[256];
  snprintf(m, sizeof m, "%s/tiny.smelt", tmpdir);
  write_text(m, tiny);
  snprintf(out, sizeof out, "%s/never.npy", tmpdir);
  assert_int_equal(sh("%s compile %s -o %s/tiny", smelt, m, tmpdir), 0);
  int64_t wrong[2] = {5, 3};
  char x[256];
  snprintf(x, sizeof x, "%s/wrong.npy", tmpdir);
  write_npy_f32(x, 2, wrong, 15, 0);
  assert_int_not_equal(sh("%s/tiny --input %s --output %s 2>%s/err.txt", tmpdir, x, out, tmpdir), 0);
  assert_int_equal(sh("grep -q \"input 'x' expects f32\\[3,5\\], file has f32\\[5,3\\]\" %s/err.txt", tmpdir), 0);
  assert_false(exists(out));
  assert_int_not_equal(sh("%s run %s --input %s --output %s 2>/dev/null", smelt, m, x, out), 0);
  assert_false(exists(out));
  /* garbage .npy */
  snprintf(x, sizeof x, "%s/garbage.npy", tmpdir);
  write_text(x, "this is not numpy");
  assert_int_not_equal(sh("%s/tiny --input %s --output %s 2>%s/err.txt", tmpdir, x, out, tmpdir), 0);
  assert_int_equal(sh("grep -q garbage.npy %s/err.txt", tmpdir), 0);
  assert_false(exists(out));
  /* weights missing a tensor */
  char w[256];
  snprintf(w, sizeof w, "%s/partial.safetensors", tmpdir);
  int64_t d5[1] = {5};
  float five[5] = {1, 2, 3, 4, 5};
  RtStEntry e = {"w", RT_F32, 1, d5, five};
  RtErr err;
  assert_int_equal(rt_st_write(w, &e, 1, &err), 0);
  int64_t dims[2] = {3, 5};
  snprintf(x, sizeof x, "%s/x.npy", tmpdir);
  write_npy_f32(x, 2, dims, 15, 0);
  assert_int_not_equal(sh("%s/tiny --weights %s --input %s --output %s 2>%s/err.txt", tmpdir, w, x, out, tmpdir), 0);
  assert_int_equal(sh("grep -q \"'b'\" %s/err.txt", tmpdir), 0);
  assert_false(exists(out));
  /* a broken model: compile fails, nothing written */
  write_text(m, "input x: f32[2]\ny = relu(x, 3)\noutput y\n");
  char exe[256];
  snprintf(exe, sizeof exe, "%s/broken", tmpdir);
  assert_int_not_equal(sh("%s compile %s -o %s 2>%s/err.txt", smelt, m, exe, tmpdir), 0);
  assert_false(exists(exe));
  /* unknown option and missing input */
  assert_int_equal(sh("%s/tiny --bogus 1 2>/dev/null", tmpdir), 2);
  assert_int_equal(sh("%s/tiny 2>/dev/null", tmpdir), 2);
  /* no temp files left behind anywhere in the directory */
  assert_int_not_equal(sh("ls %s | grep -q '\\.tmp\\.'", tmpdir), 0);
}

/* two models as static libraries linked into one C program */
static void test_two_libs_one_program(void **state) {
  (void)state;
  const char *smelt = smelt_bin();
  char m1[256], m2[256], prog[256];
  snprintf(m1, sizeof m1, "%s/alpha.smelt", tmpdir);
  snprintf(m2, sizeof m2, "%s/beta.smelt", tmpdir);
  write_text(m1, "model alpha\ninput x: f32[4]\ny = relu(x)\noutput y\n");
  write_text(m2, "model beta\ninput x: f32[4]\nparam s: f32[4] = constant(2)\ny = mul(x, s)\noutput y\n");
  assert_int_equal(sh("%s compile %s --emit lib -o %s/alpha", smelt, m1, tmpdir), 0);
  assert_int_equal(sh("%s compile %s --emit lib -o %s/beta", smelt, m2, tmpdir), 0);
  snprintf(prog, sizeof prog, "%s/prog.c", tmpdir);
  write_text(prog,
             "#include <stdio.h>\n#include <string.h>\n#include \"alpha.h\"\n#include \"beta.h\"\n"
             "int main(void) {\n"
             "  alpha *a = alpha_create(); beta *b = beta_create();\n"
             "  float x[4] = {-1, 2, -3, 4};\n"
             "  memcpy(alpha_input(a, 0), x, sizeof x); memcpy(beta_input(b, 0), x, sizeof x);\n"
             "  alpha_run(a); beta_run(b);\n"
             "  const float *ya = alpha_output(a, 0), *yb = beta_output(b, 0);\n"
             "  int ok = ya[0] == 0 && ya[1] == 2 && ya[3] == 4 && yb[0] == -2 && yb[2] == -6;\n"
             "  ok = ok && alpha_output(a, 1) == NULL && ALPHA_NUM_INPUTS == 1;\n"
             "  alpha_free(a); beta_free(b);\n"
             "  puts(ok ? \"ok\" : \"wrong\"); return ok ? 0 : 1;\n}\n");
  assert_int_equal(sh("cc -std=c11 -Wall -Wextra -Werror -I%s %s -o %s/prog -L%s -lalpha -lbeta -lcjson -lz -lm -fopenmp",
                      tmpdir, prog, tmpdir, tmpdir), 0);
  assert_int_equal(sh("%s/prog >/dev/null", tmpdir), 0);
}

/* a diagnostic in generated code is reported against the IR node whose
 * kernel contains it */
static void test_libclang_reports_node(void **state) {
  (void)state;
  IrGraph *g = test_parse("m.smelt", "input x: f32[4]\ny = relu(x)\nz = exp(y)\noutput z\n");
  char path[256];
  snprintf(path, sizeof path, "%s/bad.c", tmpdir);
  const char *text = "#include <stdint.h>\n"
                     "/* k0: relu n0 */\n"
                     "static void k0_relu(float *restrict out0, const float *restrict in0) {\n"
                     "  for (int64_t i = 0; i < 4; i++) out0[i] = in0[i];\n}\n"
                     "/* k1: exp n1 */\n"
                     "static void k1_exp(float *restrict out0, const float *restrict in0) {\n"
                     "  int unused = 3;\n"
                     "  for (int64_t i = 0; i < 4; i++) out0[i] = in0[i];\n}\n"
                     "void run(float *a, float *b) { k0_relu(a, b); k1_exp(b, a); }\n";
  write_text(path, text);
  SmDiag d;
  sm_diag_init(&d);
  CgProgram prog = cg_program_single(g);
  assert_int_equal(cg_check(&prog, path, text, &d), SM_ERR_INTERNAL);
  const char *msg = sm_diag_text(&d);
  if (!strstr(msg, "m.smelt:3:5: error: internal compiler error: generated code for exp (kernel k1)") ||
      !strstr(msg, "unused variable 'unused'")) {
    print_error("%s", msg);
    fail();
  }
  /* in a program of several functions, a kernel is found by its first
   * use's banner, whatever the step's name (a C identifier) */
  sm_diag_free(&d);
  sm_diag_init(&d);
  IrGraph *steps[] = {g, g};
  const char *names[] = {"disc", "D2"};
  RtTrainDesc td = {0};
  CgProgram multi = cg_program_steps(g, steps, names, 2, 0, &td);
  const char *shared = "#include <stdint.h>\n"
                       "/* D2.k1: exp n1\n * also called as k1 */\n"
                       "static void f2_k1_exp(float *restrict out0, const float *restrict in0) {\n"
                       "  int unused = 3;\n"
                       "  for (int64_t i = 0; i < 4; i++) out0[i] = in0[i];\n}\n"
                       "void run(float *a, float *b) { f2_k1_exp(b, a); }\n";
  write_text(path, shared);
  assert_int_equal(cg_check(&multi, path, shared, &d), SM_ERR_INTERNAL);
  msg = sm_diag_text(&d);
  if (!strstr(msg, "m.smelt:3:5: error: internal compiler error: generated code for exp (kernel D2.k1)")) {
    print_error("%s", msg);
    fail();
  }
  /* and a clean file passes */
  sm_diag_free(&d);
  sm_diag_init(&d);
  const char *clean = "#include <stdint.h>\nint f(int a);\nint f(int a) { return a + 1; }\n";
  write_text(path, clean);
  assert_int_equal(cg_check(&prog, path, clean, &d), SM_OK);
  sm_diag_free(&d);
  ir_graph_free(g);
}

/* The kernel definitions of generated C (not the step functions): each
 * one's text from its '(' to its closing "\n}\n". Returns the count. */
static int kernel_defs(const char *c, const char **at, size_t *len, int max) {
  int n = 0;
  for (const char *p = strstr(c, "\nstatic void "); p; p = strstr(p + 1, "\nstatic void ")) {
    const char *open = strchr(p, '('), *eol = strchr(p + 1, '\n');
    assert_non_null(open);
    if (strstr(open, "unsigned char *restrict P") < eol) continue;
    const char *end = strstr(open, "\n}\n");
    assert_non_null(end);
    assert_true(n < max);
    at[n] = open;
    len[n++] = (size_t)(end - open);
  }
  return n;
}

/* A training program's functions (infer, eval, train) share their
 * kernels: no kernel body is emitted twice, the forward kernels carry the
 * banner of their first use naming the other calls, every call of the
 * kernel tables is kept, and step functions pass buffers named after their
 * values rather than offsets. */
static void test_shared_kernels(void **state) {
  (void)state;
  const char *smelt = smelt_bin();
  char m[256], c[256];
  snprintf(m, sizeof m, "%s/net.smelt", tmpdir);
  snprintf(c, sizeof c, "%s/net.c", tmpdir);
  write_text(m, "model net\n"
                "input x: f32[8,12]\n"
                "input y: i64[8]\n"
                "param w1: f32[16,12] = he_uniform\n"
                "param b1: f32[16] = zeros\n"
                "param w2: f32[3,16] = xavier_uniform\n"
                "h = gemm(x, w1, b1, transB=1)\n"
                "a = relu(h)\n"
                "logits = gemm(a, w2, transB=1)\n"
                "loss = cross_entropy(logits, y)\n"
                "output logits\n"
                "train loss=loss pred=logits epochs=1\n"
                "optimizer adam lr=0.01\n");
  assert_int_equal(sh("%s compile %s --train --emit c -o %s/net", smelt, m, tmpdir), 0);
  /* clean C11 for the C compiler too, not only for libclang's check */
  assert_int_equal(sh("cc -std=c11 -Wall -Wextra -Werror -fopenmp -I%s -I%s -c %s -o %s/net.o",
                      cg_rt_include(), tmpdir, c, tmpdir), 0);
  char *text = slurp(c, NULL);
  assert_non_null(text);
  const char *at[256];
  size_t len[256];
  int n = kernel_defs(text, at, len, 256);
  assert_true(n >= 4);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      assert_false(len[i] == len[j] && !memcmp(at[i], at[j], len[i]));
  /* the forward kernels are the first function's, called by all three */
  assert_non_null(strstr(text, "also called as eval.k1, train.k"));
  const char *def = strstr(text, "gemm_relu(float");
  assert_non_null(def);
  assert_null(strstr(def + 1, "gemm_relu(float"));
  /* named buffers, no raw offsets at the calls */
  assert_non_null(strstr(text, "  float *x = (float *)(A + "));
  assert_non_null(strstr(text, "  float *w1 = (float *)(P + "));
  assert_non_null(strstr(text, "  int64_t *y = (int64_t *)(A + "));
  assert_null(strstr(text, "(const float *)("));
  /* designated initializers in the tables */
  assert_non_null(strstr(text, "{.name = \"w1\", .dtype = RT_F32, .rank = 2, .dims = {16, 12}"));
  assert_non_null(strstr(text, "  .train = &net_train_desc,\n"));
  /* the kernel tables keep one row per call, shared kernels included */
  const char *stems[] = {"net_f0_infer", "net_f1_eval", "net_f2_train"};
  for (int f = 0; f < 3; f++) {
    char key[128];
    snprintf(key, sizeof key, "static void %s_prof(", stems[f]);
    const char *b = strstr(text, key), *e = b ? strstr(b, "\n}\n") : NULL;
    assert_non_null(e);
    int calls = 0, rows = -1;
    for (const char *q = strstr(b, "if (t) {"); q && q < e; q = strstr(q + 1, "if (t) {")) calls++;
    snprintf(key, sizeof key, "static const RtKernelDesc %s_kernels[", stems[f]);
    const char *t = strstr(text, key);
    assert_non_null(t);
    assert_int_equal(sscanf(t + strlen(key), "%d]", &rows), 1);
    assert_int_equal(calls, rows);
    const char *v = strstr(b, "(void)");
    assert_true(!v || v > e);
    /* train runs the forward kernels of infer */
    assert_non_null(strstr(b, "\n  k1_gemm_relu(a, x, w1, b1, ws);\n"));
  }
  free(text);
}

/* Value names that are no C identifiers of their own (keywords, the step
 * function's own names, the model's prefix, a kernel's shape, names alike
 * once sanitized or cut) become distinct locals; the program computes
 * what the interpreter does. */
static void test_step_local_names(void **state) {
  (void)state;
  const char *smelt = smelt_bin();
  char m[256], c[256], x[256];
  snprintf(m, sizeof m, "%s/m.smelt", tmpdir);
  snprintf(c, sizeof c, "%s/m.c", tmpdir);
  snprintf(x, sizeof x, "%s/mx.npy", tmpdir);
  write_text(m, "model m\n"
                "input \"P\": f32[2,3]\n"
                "param \"A\": f32[2,3] = uniform(-1, 1)\n"
                "\"int\" = add(\"P\", \"A\")\n"
                "\"3x\" = relu(\"int\")\n"
                "\"a.b\" = mul(\"3x\", \"P\")\n"
                "\"a_b\" = tanh(\"a.b\")\n"
                "\"k1_relu\" = exp(\"a_b\")\n"
                "\"t\" = neg(\"k1_relu\")\n"
                "\"ws\" = abs(\"t\")\n"
                "\"c0\" = sigmoid(\"ws\")\n"
                "\"m_run\" = relu(\"c0\")\n"
                "\"M_H\" = neg(\"m_run\")\n"
                "\"f1w\" = abs(\"M_H\")\n"
                "\"m\" = tanh(\"f1w\")\n"
                "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1\" = neg(\"m\")\n"
                "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx2\" = "
                "abs(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1\")\n"
                "output \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx2\"\n");
  /* -O0: one kernel per node, every value a buffer */
  assert_int_equal(sh("%s compile %s -O0 --emit c -o %s/m", smelt, m, tmpdir), 0);
  assert_int_equal(sh("cc -std=c11 -Wall -Wextra -Werror -fopenmp -I%s -I%s -c %s -o %s/m.o",
                      cg_rt_include(), tmpdir, c, tmpdir), 0);
  char *text = slurp(c, NULL);
  assert_non_null(text);
  /* P and A are the step's parameters; "P_2" would be a macro's name */
  const char *want[] = {"float *v_P = ", "float *v_A = ", "float *v_int = ", "float *v_3x = ",
                        "float *a_b = ", "float *a_b_2 = ", "float *v_k1_relu = ",
                        "float *t_2 = ", "float *ws_2 = ", "float *c0_2 = ",
                        "float *v_m_run = ", "float *v_M_H = ", "float *f1w = ", "float *v_m = ",
                        "float *xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = ",
                        "float *xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_2 = "};
  for (int i = 0; i < (int)(sizeof want / sizeof *want); i++)
    if (!strstr(text, want[i])) {
      print_error("no local '%s' in\n%s\n", want[i], text);
      fail();
    }
  free(text);
  int64_t dims[2] = {2, 3};
  write_npy_f32(x, 2, dims, 6, -0.75f);
  assert_int_equal(sh("%s compile %s -O0 -o %s/m", smelt, m, tmpdir), 0);
  assert_int_equal(sh("%s/m --input %s --output %s/my1.npy", tmpdir, x, tmpdir), 0);
  assert_int_equal(sh("%s run %s --input P=%s --output %s/my2.npy", smelt, m, x, tmpdir), 0);
  assert_int_equal(sh("%s diff %s/my1.npy %s/my2.npy --rtol 1e-5 --atol 1e-6 >/dev/null", smelt,
                      tmpdir, tmpdir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_examples),
      cmocka_unit_test(test_plan_reuses),
      cmocka_unit_test(test_cli_end_to_end),
      cmocka_unit_test(test_cli_bad_input),
      cmocka_unit_test(test_profile),
      cmocka_unit_test(test_two_libs_one_program),
      cmocka_unit_test(test_libclang_reports_node),
      cmocka_unit_test(test_shared_kernels),
      cmocka_unit_test(test_step_local_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
