/* Hardening of compiled programs and of the smelt CLI against hostile
 * flags and files (issue 13): two tiny training programs (one supervised
 * step, and two steps per batch) are compiled once with `smelt compile`
 * and run through their command lines:
 *  - item 6: numeric flags parsed strictly (--threads 100000 crashed
 *    libgomp), bad training directives refused with file:line:col, and
 *    hand-edited checkpoint loop state refused naming the field;
 *  - item 10: output paths checked before any work;
 *  - item 12: a checkpoint or metrics file in use by a running process is
 *    refused; a killed run leaves nothing that blocks the next;
 *  - item 3 (training half): parameters or optimizer state gone
 *    non-finite stop training, the last good checkpoint kept. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frontend/frontend.h"
#include "helpers/testfile.h"
#include "helpers/shell.h"
#include "passes/passes.h"
#include "rt_model.h"

/* Regression on 3 features with an L1 loss and Adam: one huge feature
 * value (1e22) makes Adam's second moment g^2 overflow to +inf while the
 * loss and the weights stay finite. */
static const char *reg_text =
    "model reg\n"
    "input x: f32[4,3]\n"
    "input y: f32[4,1]\n"
    "param w: f32[1,3] = ones\n"
    "param b: f32[1] = zeros\n"
    "pred = gemm(x, w, b, transB=1)\n"
    "loss = l1(pred, y)\n"
    "output pred\n"
    "train loss=loss epochs=2\n"
    "optimizer adam lr=0.01\n";

/* Two steps per batch, each updating one parameter. */
static const char *two_text =
    "model two\n"
    "input x: f32[4,3]\n"
    "param a: f32[1,3] = ones\n"
    "param c: f32[1,3] = ones\n"
    "pa = gemm(x, a, transB=1)\n"
    "pc = gemm(x, c, transB=1)\n"
    "z = constant(shape=[4,1], value=[0])\n"
    "la = l1(pa, z)\n"
    "lc = l1(pc, z)\n"
    "output pa\n"
    "train data=x epochs=2\n"
    "step sa loss=la params=\"a\"\n"
    "step sc loss=lc params=\"c\"\n"
    "optimizer adam lr=0.01\n";

static char dir[] = "/tmp/smelt-hard-XXXXXX";
static const char *bin;

static void write_text(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void write_npy(const char *name, int rank, int64_t d0, int64_t d1, double big) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int64_t dims[2] = {d0, d1};
  float *v = malloc(sizeof *v * (size_t)(d0 * d1));
  assert_non_null(v);
  for (int64_t i = 0; i < d0 * d1; i++) v[i] = (float)(0.1 * (double)((i * 7) % 11) - 0.4);
  if (big != 0) v[0] = (float)big;
  RtErr e;
  assert_int_equal(rt_npy_write(path, RT_F32, rank, dims, v, &e), 0);
  free(v);
}

static int group_setup(void **state) {
  (void)state;
  bin = getenv("SMELT_BIN");
  if (!bin || !mkdtemp(dir)) {
    fprintf(stderr, "SMELT_BIN is not set (run through ctest) or mkdtemp failed\n");
    return -1;
  }
  write_text("reg.smelt", reg_text);
  write_text("two.smelt", two_text);
  if (sh("cd %s && %s compile reg.smelt --train -o reg --opt -O1 && "
         "%s compile two.smelt --train -o two --opt -O1", dir, bin, bin) != 0)
    return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  sh("rm -rf %s", dir);
  return 0;
}

static void data(void) {
  write_npy("x.npy", 2, 16, 3, 0);
  write_npy("y.npy", 2, 16, 1, 0);
  write_npy("x1.npy", 2, 4, 3, 0);
  write_npy("big.npy", 2, 16, 3, 1e22);
}

/* `cd dir && CMD`, stdout and stderr to out.txt and err.txt; its exit
 * status. */
static int run(const char *cmd) {
  return sh("cd %s && %s > out.txt 2> err.txt", dir, cmd);
}

static bool file_has(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *s = slurp(path, NULL);
  bool has = s && strstr(s, text);
  if (!has) print_error("%s lacks '%s'; it holds:\n%s\n", name, text, s ? s : "(missing)");
  free(s);
  return has;
}

static bool quiet_has(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *s = slurp(path, NULL);
  bool has = s && strstr(s, text);
  free(s);
  return has;
}

static bool exists(const char *name) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* ---- item 6: numeric flags ---- */

static void expect_usage_error(const char *cmd, const char *flag) {
  int rc = run(cmd);
  if (rc != 2 || !file_has("err.txt", flag) || !file_has("err.txt", "want")) {
    print_error("`%s`: exit %d, want 2 and an error naming %s and its range\n", cmd, rc, flag);
    fail();
  }
}

static void test_numeric_flags(void **state) {
  (void)state;
  data();
  expect_usage_error("./reg --input x1.npy --threads 100000", "--threads");
  expect_usage_error("./reg infer --input x1.npy --threads 65536", "--threads");
  expect_usage_error("./reg --input x1.npy --threads 2x", "--threads");
  expect_usage_error("./reg --input x1.npy --threads 0", "--threads");
  expect_usage_error("./reg --input x1.npy --repeat -1", "--repeat");
  expect_usage_error("./reg --input x1.npy --repeat abc", "--repeat");
  expect_usage_error("./reg --input x1.npy --repeat ''", "--repeat");
  expect_usage_error("./reg train --train-x x.npy --train-y y.npy --threads 100000", "--threads");
  expect_usage_error("./reg train --train-x x.npy --train-y y.npy --epochs 2x", "--epochs");
  expect_usage_error("./reg train --train-x x.npy --train-y y.npy --lr nan", "--lr");
  expect_usage_error("./reg eval --x x.npy --y y.npy --weights w --threads 100000", "--threads");
  expect_usage_error("./reg generate --threads 100000", "--threads");
  expect_usage_error("./reg generate --length 5x", "--length");
  expect_usage_error("./reg bench --threads 100000", "--threads");
  expect_usage_error("./reg bench --repeat 0", "--repeat");
  expect_usage_error("./two train --train-x x.npy --threads 100000", "--threads");
  expect_usage_error("./two train --train-x x.npy --seed 1.5", "--seed");
  /* the smelt CLI */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s compile reg.smelt --train -o r2 --epochs 2x", bin);
  expect_usage_error(cmd, "--epochs");
  snprintf(cmd, sizeof cmd, "%s bench reg.smelt --threads 100000", bin);
  expect_usage_error(cmd, "--threads");
  snprintf(cmd, sizeof cmd, "%s diff x.npy x.npy --rtol abc", bin);
  expect_usage_error(cmd, "--rtol");
  /* still fine */
  assert_int_equal(run("./reg --input x1.npy --threads 2 --repeat 2"), 0);
  assert_true(file_has("out.txt", "pred f32[4,1]"));
}

/* ---- item 6: the training directives ---- */

static void expect_directive_error(const char *text, const char *want) {
  expect_training_error("m.smelt", text, want);
}

static char *with_line(const char *line) {
  static char buf[1024];
  snprintf(buf, sizeof buf, "%s%s\n", reg_text, line);
  return buf;
}

static void test_directive_errors(void **state) {
  (void)state;
  char text[1024];
  snprintf(text, sizeof text, "%s", reg_text);
  char *p = strstr(text, "epochs=2");
  snprintf(p, sizeof text - (size_t)(p - text), "task=\"bogus\"\noptimizer adam\n");
  expect_directive_error(text, "m.smelt:9:17: error: train: unknown task 'bogus' (classify or regress)");
  expect_directive_error(with_line("param_group \"conv*\" freeze=1"),
                         "m.smelt:11:1: error: param_group: \"conv*\" matches no parameter");
  expect_directive_error(with_line("schedule step step_size=0"),
                         "m.smelt:11:15: error: schedule: step_size=0 is out of range");
  expect_directive_error(with_line("schedule cosine t_max=1e300"), "m.smelt:11:17: error:");
  snprintf(text, sizeof text, "%s", reg_text);
  p = strstr(text, "epochs=2");
  snprintf(p, sizeof text - (size_t)(p - text), "epochs=\"ten\"\noptimizer adam\n");
  expect_directive_error(text, "m.smelt:9:17: error: train: epochs must be a number");
  /* a matching glob is fine */
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("m.smelt", with_line("param_group \"w\" lr_mult=0.5"), &g, &d), SM_OK);
  TrainProgram tp;
  assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
  train_program_free(&tp);
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* ---- item 6: checkpoint loop state ---- */

typedef struct {
  const char *name;
  int dtype, rank;
  int64_t dims[2];
} Tensor;

/* Copies checkpoint `from` to `to` with scalar `field` set to v. */
static void edit_checkpoint(const char *from, const char *to, const Tensor *ts, int n,
                            const char *field, double v) {
  char src[256], dst[256];
  snprintf(src, sizeof src, "%s/%s", dir, from);
  snprintf(dst, sizeof dst, "%s/%s", dir, to);
  RtStFile *f;
  RtErr e;
  assert_int_equal(rt_st_open(src, &f, &e), 0);
  RtStEntry es[32];
  double buf[32][4];
  int k = 0;
  for (int i = 0; i < n; i++) {
    int found = 0;
    for (int j = 0; j < rt_st_count(f) && !found; j++) found = !strcmp(rt_st_name(f, j), ts[i].name);
    if (!found) continue;
    /* raw: loop state holds +inf (__best_val) and the edits may be NaN */
    assert_int_equal(rt_st_read_state(f, ts[i].name, ts[i].dtype, ts[i].rank, ts[i].dims, buf[k], &e), 0);
    if (!strcmp(ts[i].name, field)) rt_elem_put(ts[i].dtype, buf[k], 0, v);
    es[k] = (RtStEntry){ts[i].name, ts[i].dtype, ts[i].rank, ts[i].dims, buf[k]};
    k++;
  }
  rt_st_close(f);
  assert_int_equal(rt_st_write(dst, es, k, &e), 0);
}

static void expect_bad_checkpoint(const char *prog, const Tensor *ts, int n, const char *field,
                                  double v) {
  edit_checkpoint("c.ckpt", "bad.ckpt", ts, n, field, v);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s --resume bad.ckpt --epochs 4", prog);
  int rc = run(cmd);
  if (rc != 1 || !file_has("err.txt", field) || !file_has("err.txt", "bad.ckpt")) {
    print_error("resume with %s = %g: exit %d, want 1 naming the field\n", field, v, rc);
    fail();
  }
  assert_false(quiet_has("out.txt", "epoch 3/"));
}

#define SC(n, t) {n, t, 1, {1}}
static const Tensor reg_ckpt[] = {
    {"w", RT_F32, 2, {1, 3}}, {"b", RT_F32, 1, {1}}, {"w.m", RT_F32, 2, {1, 3}},
    {"w.v", RT_F32, 2, {1, 3}}, {"b.m", RT_F32, 1, {1}}, {"b.v", RT_F32, 1, {1}},
    {"__best/w", RT_F32, 2, {1, 3}}, {"__best/b", RT_F32, 1, {1}},
    SC("__epoch", RT_I64), SC("__step", RT_I64), SC("__seed", RT_I64),
    SC("__bad_epochs", RT_I64), SC("__best_epoch", RT_I64), SC("__has_best", RT_I64),
    SC("__norm_kind", RT_I64), SC("__plateau_bad", RT_I64), SC("__best_val", RT_F64),
    SC("__plateau_best", RT_F64), SC("__plateau_scale", RT_F64),
};
static const Tensor two_ckpt[] = {
    {"a", RT_F32, 2, {1, 3}}, {"c", RT_F32, 2, {1, 3}}, {"a.m", RT_F32, 2, {1, 3}},
    {"a.v", RT_F32, 2, {1, 3}}, {"c.m", RT_F32, 2, {1, 3}}, {"c.v", RT_F32, 2, {1, 3}},
    SC("__epoch", RT_I64), SC("__step", RT_I64), SC("__seed", RT_I64),
    /* one checkpoint format for every training program: the loop state too */
    SC("__bad_epochs", RT_I64), SC("__best_epoch", RT_I64), SC("__has_best", RT_I64),
    SC("__norm_kind", RT_I64), SC("__plateau_bad", RT_I64), SC("__best_val", RT_F64),
    SC("__plateau_best", RT_F64), SC("__plateau_scale", RT_F64),
};
/* a multi-step checkpoint of the previous release: parameters, __epoch,
 * __step and __seed alone */
#define NTWO_OLD 9
#define NREG (int)(sizeof reg_ckpt / sizeof reg_ckpt[0])
#define NTWO (int)(sizeof two_ckpt / sizeof two_ckpt[0])

static void test_checkpoint_state(void **state) {
  (void)state;
  data();
  const char *reg = "./reg train --train-x x.npy --train-y y.npy";
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s --epochs 2 --patience 5 --checkpoint c.ckpt", reg);
  assert_int_equal(run(cmd), 0);
  /* unedited, it resumes */
  edit_checkpoint("c.ckpt", "ok.ckpt", reg_ckpt, NREG, "", 0);
  snprintf(cmd, sizeof cmd, "%s --resume ok.ckpt --epochs 3", reg);
  assert_int_equal(run(cmd), 0);
  assert_true(file_has("out.txt", "resumed from ok.ckpt: 2 epochs, 8 steps done"));
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__epoch", -5);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__epoch", 1e12);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__step", -1);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__step", 1e17);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__seed", -3);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__bad_epochs", 99);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__best_epoch", 99);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__has_best", 2);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__norm_kind", 7);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__plateau_bad", -1);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__best_val", NAN);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__plateau_best", NAN);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "__plateau_scale", INFINITY);
  /* non-finite weights or state in a checkpoint are refused too */
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "w", NAN);
  expect_bad_checkpoint(reg, reg_ckpt, NREG, "w.v", INFINITY);
  /* eval reads the normalization kind */
  edit_checkpoint("c.ckpt", "bad.ckpt", reg_ckpt, NREG, "__norm_kind", -2);
  assert_int_equal(run("./reg eval --x x.npy --y y.npy --checkpoint bad.ckpt"), 1);
  assert_true(file_has("err.txt", "__norm_kind"));

  const char *two = "./two train --train-x x.npy";
  snprintf(cmd, sizeof cmd, "%s --epochs 2 --checkpoint c.ckpt", two);
  assert_int_equal(run(cmd), 0);
  edit_checkpoint("c.ckpt", "ok.ckpt", two_ckpt, NTWO, "", 0);
  snprintf(cmd, sizeof cmd, "%s --resume ok.ckpt --epochs 3", two);
  assert_int_equal(run(cmd), 0);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__epoch", -1);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__epoch", 1e12);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__step", 1);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__seed", -1);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "c.m", NAN);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__norm_kind", 7);
  expect_bad_checkpoint(two, two_ckpt, NTWO, "__plateau_scale", INFINITY);
  /* the previous release's multi-step format is refused, saying so */
  edit_checkpoint("c.ckpt", "old.ckpt", two_ckpt, NTWO_OLD, "", 0);
  snprintf(cmd, sizeof cmd, "%s --resume old.ckpt --epochs 3", two);
  assert_int_equal(run(cmd), 1);
  assert_true(file_has("err.txt", "old.ckpt: a checkpoint of an earlier smelt release"));
}

/* ---- item 10: outputs checked before any work ---- */

static void expect_refused_first(const char *cmd, const char *flag) {
  int rc = run(cmd);
  if (rc != 1 || !file_has("err.txt", flag) || !file_has("err.txt", "does not exist")) {
    print_error("`%s`: exit %d, want 1 and an error naming %s\n", cmd, rc, flag);
    fail();
  }
  /* nothing ran: no epoch, no timing line */
  char path[256];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  char *s = slurp(path, NULL);
  bool quiet = s && !strstr(s, "epoch") && !strstr(s, "per run");
  if (!quiet) print_error("`%s` worked before failing:\n%s\n", cmd, s ? s : "");
  free(s);
  assert_true(quiet);
}

static void test_outputs_checked_first(void **state) {
  (void)state;
  data();
  const char *reg = "./reg train --train-x x.npy --train-y y.npy --epochs 3";
  const char *two = "./two train --train-x x.npy --epochs 3";
  char cmd[512];
  const char *flags[] = {"--save", "--checkpoint", "--metrics"};
  for (int i = 0; i < 3; i++) {
    snprintf(cmd, sizeof cmd, "%s %s /nonexistent-dir/f", reg, flags[i]);
    expect_refused_first(cmd, flags[i]);
    snprintf(cmd, sizeof cmd, "%s %s /nonexistent-dir/f", two, flags[i]);
    expect_refused_first(cmd, flags[i]);
  }
  expect_refused_first("./reg --input x1.npy --repeat 3 --output /nonexistent-dir/y.npy",
                       "--output");
  expect_refused_first("./reg --input x1.npy --repeat 3 --save-weights /nonexistent-dir/w",
                       "--save-weights");
  /* a device, a FIFO or a directory is never replaced: a device node of
   * the test's own (the same as /dev/null), so a regression cannot destroy
   * the machine's /dev/null */
  char node[300];
  struct stat st;
  snprintf(node, sizeof node, "%s/cdev", dir);
  if (geteuid() == 0) {
    assert_int_equal(mknod(node, S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(run("./reg --input x1.npy --repeat 3 --output cdev"), 1);
    assert_true(file_has("err.txt", "character device"));
    assert_int_equal(lstat(node, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    snprintf(cmd, sizeof cmd, "%s compile reg.smelt -o cdev", bin);
    assert_int_equal(run(cmd), 1);
    assert_true(file_has("err.txt", "character device"));
    assert_int_equal(lstat(node, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
  }
  snprintf(node, sizeof node, "%s/fifo", dir);
  assert_int_equal(mkfifo(node, 0644), 0);
  assert_int_equal(run("./reg --input x1.npy --output fifo"), 1);
  assert_true(file_has("err.txt", "a FIFO"));
  assert_int_equal(run("./reg --input fifo --output y.npy"), 1); /* never blocks */
  assert_true(file_has("err.txt", "a FIFO"));
  assert_int_equal(lstat(node, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  /* smelt -o: refused before the C compiler runs (--cc false would fail) */
  snprintf(cmd, sizeof cmd, "%s compile reg.smelt --cc false -o /nonexistent-dir/reg", bin);
  expect_refused_first(cmd, "-o /nonexistent-dir/reg");
  snprintf(cmd, sizeof cmd, "%s compile reg.smelt --cc false --emit c -o /nonexistent-dir/reg", bin);
  expect_refused_first(cmd, "-o /nonexistent-dir/reg.c");
  snprintf(cmd, sizeof cmd, "%s run reg.smelt --input x1.npy --output /nonexistent-dir/y.npy", bin);
  expect_refused_first(cmd, "--output /nonexistent-dir/y.npy");
  /* before the model is even read (none.onnx does not exist) */
  snprintf(cmd, sizeof cmd, "%s export none.onnx --weights w -o /nonexistent-dir/m.onnx", bin);
  expect_refused_first(cmd, "-o /nonexistent-dir/m.onnx");
  snprintf(cmd, sizeof cmd, "%s inspect none.onnx --format smelt -o /nonexistent-dir/m", bin);
  expect_refused_first(cmd, "-o /nonexistent-dir/m.smelt");
}

/* ---- item 12: one checkpoint or metrics file per running process ---- */

/* Starts `./reg train ...` in dir (output discarded); its pid. */
static pid_t start_run(const char *prog, char *const args[]) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (chdir(dir) != 0 || null < 0) _exit(127);
    dup2(null, 1);
    dup2(null, 2);
    execv(prog, args);
    _exit(127);
  }
  return pid;
}

static void wait_for(const char *name) {
  for (int i = 0; i < 1000 && !exists(name); i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_true(exists(name));
}

static void test_run_locks(void **state) {
  (void)state;
  data();
  char *const long_run[] = {"./reg", "train", "--train-x", "x.npy", "--train-y", "y.npy",
                            "--epochs", "100000000", "--checkpoint", "c1.ckpt", "--metrics",
                            "m1.csv", NULL};
  char path[256];
  snprintf(path, sizeof path, "%s/m1.csv", dir);
  unlink(path);
  pid_t pid = start_run("./reg", long_run);
  wait_for("m1.csv"); /* written after both locks are held */
  int rc1 = run("./reg train --train-x x.npy --train-y y.npy --epochs 2 --checkpoint c1.ckpt");
  bool named1 = file_has("err.txt", "--checkpoint c1.ckpt is in use by another running process");
  int rc2 = run("./reg train --train-x x.npy --train-y y.npy --epochs 2 --metrics ./m1.csv");
  bool named2 = file_has("err.txt", "--metrics ./m1.csv is in use by another running process");
  int rc3 = run("./two train --train-x x.npy --epochs 2 --metrics m1.csv");
  /* the first run was not disturbed */
  int st;
  assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
  kill(pid, SIGKILL);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(rc1, 1);
  assert_true(named1);
  assert_int_equal(rc2, 1);
  assert_true(named2);
  assert_int_equal(rc3, 1);
  /* the killed run leaves nothing that blocks the next one */
  assert_int_equal(run("./reg train --train-x x.npy --train-y y.npy --epochs 2 "
                       "--checkpoint c1.ckpt --metrics m1.csv"), 0);
  assert_false(exists("c1.ckpt.lock"));
  assert_false(exists("m1.csv.lock"));
  assert_true(file_has("m1.csv", "\n2,8,"));
  /* one run naming one file twice */
  assert_int_equal(run("./reg train --train-x x.npy --train-y y.npy --epochs 1 "
                       "--checkpoint m1.csv --metrics m1.csv"), 1);
  assert_true(file_has("err.txt", "--checkpoint and --metrics name the same file"));
}

/* ---- item 3: non-finite parameters or optimizer state stop training ---- */

static void test_nonfinite_state(void **state) {
  (void)state;
  data();
  assert_int_equal(run("./reg train --train-x x.npy --train-y y.npy --epochs 1 "
                       "--checkpoint good.ckpt"), 0);
  assert_int_equal(sh("cp %s/good.ckpt %s/keep.ckpt", dir, dir), 0);
  /* big.npy: one feature of 1e22 makes Adam's v = g^2 overflow to +inf;
   * the loss stays finite */
  int rc = run("./reg train --train-x big.npy --train-y y.npy --epochs 3 --resume good.ckpt "
               "--checkpoint good.ckpt --save w.safetensors");
  assert_int_equal(rc, 1);
  assert_true(file_has("err.txt", "after epoch 2"));
  assert_true(file_has("err.txt", "optimizer state 'w.v' holds +inf"));
  assert_true(file_has("err.txt", "good.ckpt is untouched (last written after epoch 1)"));
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/good.ckpt", dir);
  snprintf(b, sizeof b, "%s/keep.ckpt", dir);
  assert_true(same_file(a, b));
  assert_false(exists("w.safetensors"));

  rc = run("./two train --train-x big.npy --epochs 2 --checkpoint t.ckpt --save t.safetensors");
  assert_int_equal(rc, 1);
  assert_true(file_has("err.txt", "after epoch 1"));
  assert_true(file_has("err.txt", "optimizer state '"));
  assert_true(file_has("err.txt", ".v' holds +inf"));
  assert_false(exists("t.ckpt"));
  assert_false(exists("t.safetensors"));

  /* --init-weights with a NaN weight is refused */
  edit_checkpoint("good.ckpt", "nan.safetensors", reg_ckpt, 2, "w", NAN);
  assert_int_equal(run("./reg train --train-x x.npy --train-y y.npy --epochs 1 "
                       "--init-weights nan.safetensors"), 1);
  assert_true(file_has("err.txt", "nan.safetensors: tensor 'w' element 0: NaN"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numeric_flags),
      cmocka_unit_test(test_directive_errors),
      cmocka_unit_test(test_checkpoint_state),
      cmocka_unit_test(test_outputs_checked_first),
      cmocka_unit_test(test_run_locks),
      cmocka_unit_test(test_nonfinite_state),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
