/* The training runtime (rt_train.c, rt_data.c, rt_metrics.c) against a fake
 * compiled model written here in C: softmax regression (or linear regression)
 * with momentum SGD whose train function updates its parameters in place and
 * drops samples by a hash of the step input, like dropout. Runs the `train`
 * and `eval` subcommands in-process with stdout/stderr captured to files
 * (not a TTY), on data written to a mkdtemp directory. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_model.h"
#include "rt_tmpdir.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- the fake model ---- */

enum { NB = 8, MAXD = 784, MAXC = 10 };
/* arena (bytes): train x f32[8,D], y, lr f32[], step i64[], loss f32[],
 * pred f32[8,C]; eval x, y, loss f32[8], pred f32[8,C] at other offsets */
enum {
  A_TX = 0, A_TY = 32768, A_LR = 32896, A_STEP = 32960, A_TLOSS = 33024, A_TPRED = 33088,
  A_EX = 33536, A_EY = 66304, A_ELOSS = 66432, A_EPRED = 66496, ARENA = 67072
};
/* params: W f32[C,D], b f32[C] (weights); vW, vb (momentum state) */
enum { P_W = 0, P_B = 32768, P_VW = 32832, P_VB = 65600, PARAMS = 65664 };

static int keep_sample(int64_t step, int i) { return rt_mix64((uint64_t)step * 131 + (uint64_t)i) % 8 != 0; }

/* Forward for one batch: z = W x + b (C outputs); per-sample loss and dz. */
static void forward(const float *W, const float *b, const float *x, const unsigned char *y,
                    int D, int C, int regress, float *z, float *loss, float *dz) {
  for (int i = 0; i < NB; i++) {
    for (int c = 0; c < C; c++) {
      double s = b[c];
      for (int j = 0; j < D; j++) s += (double)W[c * D + j] * x[i * D + j];
      z[i * C + c] = (float)s;
    }
    if (regress) {
      double t = ((const float *)y)[i], d = z[i] - t;
      loss[i] = (float)(d * d);
      dz[i] = (float)(2 * d);
      continue;
    }
    int64_t t = ((const int64_t *)y)[i];
    double mx = z[i * C];
    for (int c = 1; c < C; c++) mx = z[i * C + c] > mx ? z[i * C + c] : mx;
    double se = 0;
    for (int c = 0; c < C; c++) se += exp(z[i * C + c] - mx);
    loss[i] = (float)(mx + log(se) - z[i * C + t]);
    for (int c = 0; c < C; c++) dz[i * C + c] = (float)(exp(z[i * C + c] - mx) / se - (c == t));
  }
}

static void fake_train(unsigned char *p, unsigned char *a, int D, int C, int regress,
                       int64_t nan_from) {
  float *W = (float *)(p + P_W), *b = (float *)(p + P_B);
  float *vW = (float *)(p + P_VW), *vb = (float *)(p + P_VB);
  float lr = *(float *)(a + A_LR);
  int64_t step = *(int64_t *)(a + A_STEP);
  float loss[NB], dz[NB * MAXC];
  forward(W, b, (float *)(a + A_TX), a + A_TY, D, C, regress, (float *)(a + A_TPRED), loss, dz);
  double mean = 0;
  for (int i = 0; i < NB; i++) mean += loss[i] / NB;
  *(float *)(a + A_TLOSS) = nan_from >= 0 && step >= nan_from ? NAN : (float)mean;
  const float *x = (float *)(a + A_TX);
  for (int c = 0; c < C; c++) {
    double gb = 0;
    for (int i = 0; i < NB; i++) gb += keep_sample(step, i) ? dz[i * C + c] : 0;
    vb[c] = 0.5f * vb[c] + (float)(gb / NB);
    b[c] -= lr * vb[c];
    for (int j = 0; j < D; j++) {
      double g = 0;
      for (int i = 0; i < NB; i++) g += keep_sample(step, i) ? dz[i * C + c] * x[i * D + j] : 0;
      vW[c * D + j] = 0.5f * vW[c * D + j] + (float)(g / NB);
      W[c * D + j] -= lr * vW[c * D + j];
    }
  }
}

static void fake_eval(unsigned char *p, unsigned char *a, int D, int C, int regress) {
  float dz[NB * MAXC];
  forward((float *)(p + P_W), (float *)(p + P_B), (float *)(a + A_EX), a + A_EY, D, C, regress,
          (float *)(a + A_EPRED), (float *)(a + A_ELOSS), dz);
}

static void train_cls(unsigned char *p, unsigned char *a) { fake_train(p, a, 2, 3, 0, -1); }
static void eval_cls(unsigned char *p, unsigned char *a) { fake_eval(p, a, 2, 3, 0); }
static void train_nan(unsigned char *p, unsigned char *a) { fake_train(p, a, 2, 3, 0, 30); }
static void train_reg(unsigned char *p, unsigned char *a) { fake_train(p, a, 2, 1, 1, -1); }
static void eval_reg(unsigned char *p, unsigned char *a) { fake_eval(p, a, 2, 1, 1); }
static void train_784(unsigned char *p, unsigned char *a) { fake_train(p, a, 784, 10, 0, -1); }
static void eval_784(unsigned char *p, unsigned char *a) { fake_eval(p, a, 784, 10, 0); }

typedef struct Fake {
  RtTensorDesc tin[4], tout[2], ein[2], eout[2], params[4];
  RtFuncDesc funcs[2];
  RtTrainDesc train;
  RtModelDesc desc;
} Fake;

static RtTensorDesc td(const char *name, int dtype, int rank, int64_t d0, int64_t d1, int region,
                       size_t off) {
  RtTensorDesc t = {.name = name, .dtype = dtype, .rank = rank, .dims = {d0, d1},
                    .numel = (rank > 0 ? d0 : 1) * (rank > 1 ? d1 : 1), .region = region,
                    .offset = off};
  return t;
}

typedef void (*RunFn)(unsigned char *, unsigned char *);

static void fake_init(Fake *f, int D, int C, int regress, RunFn tr, RunFn ev) {
  memset(f, 0, sizeof *f);
  int ydt = regress ? RT_F32 : RT_I64, pr = C == 1 ? 1 : 2;
  f->tin[0] = td("x", RT_F32, 2, NB, D, RT_REGION_ARENA, A_TX);
  f->tin[1] = td("y", ydt, 1, NB, 0, RT_REGION_ARENA, A_TY);
  f->tin[2] = td("lr", RT_F32, 0, 0, 0, RT_REGION_ARENA, A_LR);
  f->tin[3] = td("step", RT_I64, 0, 0, 0, RT_REGION_ARENA, A_STEP);
  f->tout[0] = td("loss", RT_F32, 0, 0, 0, RT_REGION_ARENA, A_TLOSS);
  f->tout[1] = td("pred", RT_F32, pr, NB, C, RT_REGION_ARENA, A_TPRED);
  f->ein[0] = td("x", RT_F32, 2, NB, D, RT_REGION_ARENA, A_EX);
  f->ein[1] = td("y", ydt, 1, NB, 0, RT_REGION_ARENA, A_EY);
  f->eout[0] = td("loss", RT_F32, 1, NB, 0, RT_REGION_ARENA, A_ELOSS);
  f->eout[1] = td("pred", RT_F32, pr, NB, C, RT_REGION_ARENA, A_EPRED);
  f->params[0] = td("W", RT_F32, 2, C, D, RT_REGION_PARAMS, P_W);
  f->params[0].init = RT_INIT_NORMAL;
  f->params[0].init_a = 0.01;
  f->params[1] = td("b", RT_F32, 1, C, 0, RT_REGION_PARAMS, P_B);
  f->params[2] = td("W.m", RT_F32, 2, C, D, RT_REGION_PARAMS, P_VW);
  f->params[3] = td("b.m", RT_F32, 1, C, 0, RT_REGION_PARAMS, P_VB);
  f->funcs[0] = (RtFuncDesc){"train", 4, 2, f->tin, f->tout, tr, NULL, 0, NULL};
  f->funcs[1] = (RtFuncDesc){"eval", 2, 2, f->ein, f->eout, ev, NULL, 0, NULL};
  f->train = (RtTrainDesc){.train_fn = 0, .eval_fn = 1, .in_x = 0, .in_y = 1, .in_lr = 2,
                           .in_step = 3, .out_loss = 0, .out_pred = 1,
                           .task = regress ? RT_TASK_REGRESS : RT_TASK_CLASSIFY, .epochs = 3,
                           .schedule = {.kind = RT_SCHED_CONSTANT, .lr = 0.5}, .patience = 0};
  f->desc = (RtModelDesc){.name = "fake", .seed = 7, .ninputs = 2, .noutputs = 2, .nparams = 4,
                          .inputs = f->ein, .outputs = f->eout, .params = f->params,
                          .param_bytes = PARAMS, .arena_bytes = ARENA, .run = ev, .nfuncs = 2,
                          .funcs = f->funcs, .train = &f->train, .nweights = 2};
}

/* ---- files ---- */


static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = 0;
  fclose(f);
  return s;
}

static int files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb, ca, cb;
  while (same && ((ca = getc(fa)) != EOF) | ((cb = getc(fb)) != EOF)) same = ca == cb;
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

static void write_text(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* No temporary files left behind by atomic writes. */
static int tmp_files_left(void) {
  DIR *d = opendir(tmpdir);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d))) n += strstr(de->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

/* Separable 3-class data in 2-D: class c around angle 2*pi*c/3, radius 3. */
static void make_blobs(const char *xname, const char *yname, int n, uint64_t seed, int random_labels) {
  float *x = malloc(sizeof(float) * 2 * (size_t)n);
  int64_t *y = malloc(sizeof(int64_t) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int c = (int)(rt_uniform(seed, 1, (uint64_t)i) * 3);
    x[2 * i] = (float)(3 * cos(2.0943951 * c) + 2 * rt_uniform(seed, 2, (uint64_t)i) - 1);
    x[2 * i + 1] = (float)(3 * sin(2.0943951 * c) + 2 * rt_uniform(seed, 3, (uint64_t)i) - 1);
    y[i] = random_labels ? (int64_t)(rt_uniform(seed, 4, (uint64_t)i) * 3) : c;
  }
  RtErr e;
  int64_t xd[2] = {n, 2}, yd[1] = {n};
  assert_int_equal(rt_npy_write(P(xname), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_npy_write(P(yname), RT_I64, 1, yd, y, &e), 0);
  free(x);
  free(y);
}

/* ---- running the subcommands with captured output ---- */

static char *out_text; /* captured stdout + stderr of the last run */

static int run(const Fake *f, const char *cmd, ...) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)cmd;
  va_list ap;
  va_start(ap, cmd);
  const char *a;
  while ((a = va_arg(ap, const char *)) && argc < 63) argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  fflush(stdout);
  fflush(stderr);
  int so = dup(1), se = dup(2);
  int fd = open(P("out.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  int rc = !strcmp(cmd, "train") ? rt_train_main(&f->desc, argc, argv)
                                 : rt_eval_main(&f->desc, argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  free(out_text);
  out_text = slurp(P("out.txt"));
  if (getenv("SMELT_SHOW_OUTPUT")) /* for debugging the tests */
    fprintf(stderr, "---- %s (exit %d)\n%s", cmd, rc, out_text);
  return rc;
}

#define assert_output_has(s)                                                                \
  do {                                                                                      \
    if (!strstr(out_text, (s))) {                                                           \
      fprintf(stderr, "expected output to contain \"%s\"; output:\n%s\n", (s), out_text);   \
      fail();                                                                               \
    }                                                                                       \
  } while (0)

/* Metrics CSV rows (header skipped); columns as numbers. */
static int read_metrics(const char *path, double rows[][8], int max) {
  char *s = slurp(path), *line = s;
  int n = 0;
  assert_true(!strncmp(s, "epoch,step,lr,train_loss,train_metric,val_loss,val_metric,seconds\n", 66));
  line = strchr(s, '\n') + 1;
  while (*line && n < max) {
    char *p = line;
    for (int c = 0; c < 8; c++) {
      rows[n][c] = strtod(p, &p);
      if (*p == ',') p++;
    }
    n++;
    line = strchr(line, '\n');
    if (!line) break;
    line++;
  }
  free(s);
  return n;
}

/* The CSV text without the seconds column. */
static char *strip_seconds(const char *path) {
  char *s = slurp(path), *o = malloc(strlen(s) + 1), *q = o;
  for (char *line = s; *line;) {
    char *nl = strchr(line, '\n'), *comma = line;
    for (int c = 0; c < 7 && comma; c++) comma = strchr(comma + 1, ',');
    size_t n = comma && comma < nl ? (size_t)(comma - line) : (size_t)(nl - line);
    memcpy(q, line, n);
    q += n;
    *q++ = '\n';
    line = nl + 1;
  }
  *q = 0;
  free(s);
  return o;
}

static int64_t ck_i64(const char *path, const char *name) {
  RtStFile *f;
  RtErr e;
  assert_int_equal(rt_st_open(path, &f, &e), 0);
  int64_t v = -1, one = 1;
  assert_int_equal(rt_st_read(f, name, RT_I64, 1, &one, &v, &e), 0);
  rt_st_close(f);
  return v;
}

/* ---- schedules ---- */

static void test_schedules(void **state) {
  (void)state;
  RtSchedule s = {.kind = RT_SCHED_CONSTANT, .lr = 0.1};
  assert_float_equal(rt_schedule_lr(&s, 7, 100, 1), 0.1, 1e-15);
  s = (RtSchedule){.kind = RT_SCHED_STEP, .lr = 0.1, .gamma = 0.5, .step_size = 2};
  const double step_want[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
  for (int e = 0; e < 6; e++) assert_float_equal(rt_schedule_lr(&s, e, 0, 1), step_want[e], 1e-15);
  s = (RtSchedule){.kind = RT_SCHED_MULTISTEP, .lr = 1, .gamma = 0.1, .milestones = {3, 6},
                   .nmilestones = 2};
  const double ms_want[] = {1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01};
  for (int e = 0; e < 8; e++) assert_float_equal(rt_schedule_lr(&s, e, 0, 1), ms_want[e], 1e-15);
  s = (RtSchedule){.kind = RT_SCHED_EXPONENTIAL, .lr = 0.1, .gamma = 0.9};
  assert_float_equal(rt_schedule_lr(&s, 0, 0, 1), 0.1, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 3, 0, 1), 0.1 * 0.729, 1e-15);
  s = (RtSchedule){.kind = RT_SCHED_COSINE, .lr = 0.1, .t_max = 10, .eta_min = 0.001};
  assert_float_equal(rt_schedule_lr(&s, 0, 0, 1), 0.1, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 5, 0, 1), 0.001 + 0.099 / 2, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 10, 0, 1), 0.001, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 2, 0, 1), 0.001 + 0.099 * (1 + cos(M_PI * 0.2)) / 2, 1e-15);
  /* warmup: lr * step / warmup_steps for the first steps, any kind */
  s = (RtSchedule){.kind = RT_SCHED_STEP, .lr = 0.2, .gamma = 0.5, .step_size = 1, .warmup_steps = 4};
  assert_float_equal(rt_schedule_lr(&s, 0, 0, 1), 0, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 0, 1, 1), 0.05, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 0, 3, 1), 0.15, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 0, 4, 1), 0.2, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 1, 2, 1), 0.05, 1e-15);
  assert_float_equal(rt_schedule_lr(&s, 2, 40, 1), 0.05, 1e-15);
  /* plateau: lr * the caller's scale */
  s = (RtSchedule){.kind = RT_SCHED_PLATEAU, .lr = 0.1, .gamma = 0.5, .patience = 1};
  assert_float_equal(rt_schedule_lr(&s, 9, 9, 0.25), 0.025, 1e-15);
}

/* ReduceLROnPlateau: reduce after more than `patience` bad epochs; an
 * improvement must beat best * (1 - 1e-4). */
static void test_plateau(void **state) {
  (void)state;
  RtPlateau p;
  rt_plateau_init(&p);
  /* 0.89995 is within the 1e-4 threshold of 0.9, 0.8999 beats it */
  const double loss[] = {1.0, 0.9, 0.95, 0.96, 0.89995, 0.8999, 0.95, 0.95, 0.5};
  const double scale[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25};
  const int reduced[] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  for (int i = 0; i < 9; i++) {
    assert_int_equal(rt_plateau_step(&p, loss[i], 0.5, 1), reduced[i]);
    assert_float_equal(p.scale, scale[i], 1e-15);
  }
  assert_float_equal(p.best, 0.5, 1e-15);
  rt_plateau_init(&p); /* patience 0: every bad epoch reduces */
  assert_int_equal(rt_plateau_step(&p, 1, 0.1, 0), 0);
  assert_int_equal(rt_plateau_step(&p, 1, 0.1, 0), 1);
  assert_int_equal(rt_plateau_step(&p, NAN, 0.1, 0), 1);
  assert_float_equal(p.scale, 0.01, 1e-15);
}

/* ---- data pieces ---- */

static void test_shuffle(void **state) {
  (void)state;
  int64_t a[100], b[100], c[100];
  rt_shuffle(5, 0, 100, a);
  rt_shuffle(5, 0, 100, b);
  rt_shuffle(5, 1, 100, c);
  assert_memory_equal(a, b, sizeof a);
  assert_memory_not_equal(a, c, sizeof a);
  int seen[100] = {0}, moved = 0;
  for (int i = 0; i < 100; i++) {
    assert_true(a[i] >= 0 && a[i] < 100);
    seen[a[i]]++;
    moved += a[i] != i;
  }
  for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
  assert_true(moved > 80);
  rt_shuffle(6, 0, 100, c);
  assert_memory_not_equal(a, c, sizeof a);
}

static void test_csv_read(void **state) {
  (void)state;
  RtArray a;
  RtErr e;
  write_text(P("h.csv"), "width, \"height\",label\r\n1.5,2,0\n\n  -3 , 4e1 ,1\n5,6,2\n");
  assert_int_equal(rt_csv_read(P("h.csv"), &a, &e), 0);
  assert_int_equal(a.dtype, RT_F64);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.dims[0], 3);
  assert_int_equal(a.dims[1], 3);
  const double want[] = {1.5, 2, 0, -3, 40, 1, 5, 6, 2};
  assert_memory_equal(a.data, want, sizeof want);
  rt_array_free(&a);
  write_text(P("n.csv"), "1,2\n3,4\n"); /* no header */
  assert_int_equal(rt_csv_read(P("n.csv"), &a, &e), 0);
  assert_int_equal(a.dims[0], 2);
  rt_array_free(&a);
  write_text(P("bad.csv"), "a,b\n1,2\n3,x7\n");
  assert_int_equal(rt_csv_read(P("bad.csv"), &a, &e), -1);
  assert_non_null(strstr(e.msg, "bad.csv:3:3: not a number: 'x7'"));
  write_text(P("ragged.csv"), "1,2,3\n4,5\n");
  assert_int_equal(rt_csv_read(P("ragged.csv"), &a, &e), -1);
  assert_non_null(strstr(e.msg, "ragged.csv:2: 2 fields, expected 3"));
  write_text(P("empty.csv"), "a,b\n");
  assert_int_equal(rt_csv_read(P("empty.csv"), &a, &e), -1);
  assert_non_null(strstr(e.msg, "no data rows"));
  /* label column choice */
  RtData d;
  write_text(P("t.csv"), "label,f1,f2\n2,0.5,1\n0,1.5,2\n");
  assert_int_equal(rt_data_load_csv(&d, P("t.csv"), 0, &e), 0);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.xper, 2);
  assert_int_equal(d.yper, 1);
  assert_float_equal(((double *)d.y.data)[0], 2, 0);
  assert_float_equal(((double *)d.x.data)[2], 1.5, 0);
  rt_data_free(&d);
  assert_int_equal(rt_data_load_csv(&d, P("t.csv"), 3, &e), -1);
  assert_non_null(strstr(e.msg, "target column 3 does not exist"));
}

static void test_norm_split_fill(void **state) {
  (void)state;
  RtErr e;
  /* 4 samples of 2 u8 features; labels 0..3 */
  uint8_t xs[8] = {0, 10, 255, 30, 51, 50, 102, 70};
  int64_t ys[4] = {0, 1, 2, 3}, xd[2] = {4, 2}, yd[1] = {4};
  assert_int_equal(rt_npy_write(P("nx.npy"), RT_U8, 2, xd, xs, &e), 0);
  assert_int_equal(rt_npy_write(P("ny.npy"), RT_I64, 1, yd, ys, &e), 0);
  RtData d, v;
  assert_int_equal(rt_data_load(&d, P("nx.npy"), P("ny.npy"), &e), 0);
  assert_int_equal(rt_data_split(&d, 0.25, &v, &e), 0); /* the last sample */
  assert_int_equal(d.n, 3);
  assert_int_equal(v.n, 1);
  assert_int_equal(((uint8_t *)v.x.data)[0], 102);
  assert_int_equal(((int64_t *)v.y.data)[0], 3);
  RtNorm nm;
  assert_int_equal(rt_norm_fit(&nm, RT_NORM_STANDARD, &d, &e), 0);
  /* feature 0 over {0, 255, 51}: mean 102, population std */
  double sd0 = sqrt((102.0 * 102 + 153.0 * 153 + 51.0 * 51) / 3);
  assert_float_equal(nm.shift[0], 102, 1e-12);
  assert_float_equal(nm.scale[0], 1 / sd0, 1e-12);
  assert_float_equal(nm.shift[1], 30, 1e-12);
  RtTensorDesc xt = td("x", RT_F32, 2, 2, 2, 0, 0), yt = td("y", RT_F64, 1, 2, 0, 0, 0);
  float xb[4];
  double yb[2];
  int64_t idx[2] = {0, 0};
  rt_data_fill(&v, &nm, idx, 2, &xt, xb, &yt, yb); /* val uses the training statistics */
  assert_float_equal(xb[0], (102 - 102) / sd0, 1e-6);
  assert_float_equal(xb[1], (70 - 30) * nm.scale[1], 1e-6);
  assert_float_equal(yb[1], 3, 0);
  rt_norm_free(&nm);
  assert_int_equal(rt_norm_fit(&nm, RT_NORM_UNIT, &d, &e), 0);
  idx[0] = 1;
  rt_data_fill(&d, &nm, idx, 1, &xt, xb, NULL, NULL);
  assert_float_equal(xb[0], 1, 1e-7);
  assert_float_equal(xb[1], 30 / 255.0, 1e-7);
  rt_norm_free(&nm);
  rt_data_free(&v);
  assert_int_equal(rt_data_split(&d, 0.01, &v, &e), -1); /* would be empty */
  assert_non_null(strstr(e.msg, "leaves the validation set empty"));
  rt_data_free(&d);
}

static void test_metrics(void **state) {
  (void)state;
  RtErr e;
  RtMetrics mt;
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, 3, &e), 0);
  /* labels 0 0 1 1 1 2; predictions 0 1 1 1 2 2 (via argmax of one-hot logits) */
  int64_t ys[6] = {0, 0, 1, 1, 1, 2}, xd[2] = {6, 1}, yd[1] = {6};
  float xs[6] = {0};
  assert_int_equal(rt_npy_write(P("mx.npy"), RT_F32, 2, xd, xs, &e), 0);
  assert_int_equal(rt_npy_write(P("my.npy"), RT_I64, 1, yd, ys, &e), 0);
  RtData d;
  assert_int_equal(rt_data_load(&d, P("mx.npy"), P("my.npy"), &e), 0);
  const int pc[6] = {0, 1, 1, 1, 2, 2};
  float pred[18] = {0};
  for (int i = 0; i < 6; i++) pred[i * 3 + pc[i]] = 1;
  RtTensorDesc pt = td("pred", RT_F32, 2, 6, 3, 0, 0);
  int64_t idx[6] = {0, 1, 2, 3, 4, 5};
  rt_metrics_add(&mt, &pt, pred, &d, idx, 6);
  assert_int_equal(mt.n, 6);
  assert_float_equal(rt_metrics_accuracy(&mt), 4.0 / 6, 1e-12);
  double p, r, f1;
  assert_int_equal(rt_metrics_prf(&mt, 1, &p, &r, &f1), 3);
  assert_float_equal(p, 2.0 / 3, 1e-12);
  assert_float_equal(r, 2.0 / 3, 1e-12);
  assert_int_equal(rt_metrics_prf(&mt, 0, &p, &r, &f1), 2);
  assert_float_equal(p, 1, 1e-12);
  assert_float_equal(r, 0.5, 1e-12);
  assert_float_equal(f1, 2 * 0.5 / 1.5, 1e-12);
  rt_metrics_prf(&mt, 2, &p, &r, &f1);
  assert_float_equal(f1, 2 * 0.5 / 1.5, 1e-12);
  assert_float_equal(rt_metrics_macro_f1(&mt), (2.0 / 3 + 2 * (1.0 / 1.5)) / 3, 1e-12);
  assert_int_equal(mt.confusion[1 * 3 + 2], 1);
  assert_int_equal(mt.confusion[0 * 3 + 1], 1);
  rt_metrics_free(&mt);
  rt_data_free(&d);
}

/* a sequence classifier: pred [2,3,4] (3 positions of 4 classes) against
 * 3 class ids per sample, then against the same labels one-hot */
static void test_metrics_positions(void **state) {
  (void)state;
  RtErr e;
  RtMetrics mt;
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, 4, &e), 0);
  int64_t ys[6] = {0, 3, 2, 1, 1, 0}, xd[2] = {2, 1}, yd[2] = {2, 3}, hd[2] = {2, 12};
  float xs[2] = {0}, onehot[24] = {0};
  for (int i = 0; i < 6; i++) onehot[i * 4 + ys[i]] = 1;
  assert_int_equal(rt_npy_write(P("sx.npy"), RT_F32, 2, xd, xs, &e), 0);
  assert_int_equal(rt_npy_write(P("sy.npy"), RT_I64, 2, yd, ys, &e), 0);
  assert_int_equal(rt_npy_write(P("sh.npy"), RT_F32, 2, hd, onehot, &e), 0);
  /* predicted classes 0 3 1 | 1 2 0: 4 of 6 right */
  const int pc[6] = {0, 3, 1, 1, 2, 0};
  float pred[24] = {0};
  for (int i = 0; i < 6; i++) pred[i * 4 + pc[i]] = 1;
  RtTensorDesc pt = {.name = "pred", .dtype = RT_F32, .rank = 3, .dims = {2, 3, 4}, .numel = 24};
  assert_int_equal(rt_pred_positions(&pt, 4), 3);
  int64_t idx[2] = {0, 1};
  const char *labels[2] = {"sy.npy", "sh.npy"};
  for (int k = 0; k < 2; k++) {
    RtData d;
    assert_int_equal(rt_data_load(&d, P("sx.npy"), P(labels[k]), &e), 0);
    rt_metrics_reset(&mt);
    rt_metrics_add(&mt, &pt, pred, &d, idx, 2);
    assert_int_equal(mt.n, 6);
    assert_int_equal(mt.positions, 3);
    assert_float_equal(rt_metrics_accuracy(&mt), 4.0 / 6, 1e-12);
    assert_int_equal(mt.confusion[2 * 4 + 1], 1); /* true 2, predicted 1 */
    assert_int_equal(mt.confusion[1 * 4 + 2], 1);
    rt_data_free(&d);
  }
  /* class ids are checked at every position */
  RtData d;
  int64_t bad[6] = {0, 3, 2, 1, 4, 0};
  assert_int_equal(rt_npy_write(P("sb.npy"), RT_I64, 2, yd, bad, &e), 0);
  assert_int_equal(rt_data_load(&d, P("sx.npy"), P("sb.npy"), &e), 0);
  RtTensorDesc xt = td("x", RT_F32, 2, 2, 1, 0, 0), yt = td("y", RT_I64, 2, 2, 3, 0, 0);
  assert_int_not_equal(rt_data_check(&d, "training", &xt, &yt, RT_TASK_CLASSIFY, 4, &e), 0);
  assert_non_null(strstr(e.msg, "label 4 of sample 1 is not a class id in [0, 4)"));
  rt_data_free(&d);
  rt_metrics_free(&mt);
}

/* u8 targets (image files) reach float targets and the regression
 * metrics as [0,1], like u8 features; integer targets stay as they are */
static void test_u8_targets(void **state) {
  (void)state;
  RtErr e;
  uint8_t ys[4] = {0, 51, 255, 102};
  float xs[2] = {0};
  int64_t xd[2] = {2, 1}, yd[2] = {2, 2};
  assert_int_equal(rt_npy_write(P("ux.npy"), RT_F32, 2, xd, xs, &e), 0);
  assert_int_equal(rt_npy_write(P("uy.npy"), RT_U8, 2, yd, ys, &e), 0);
  RtData d;
  assert_int_equal(rt_data_load(&d, P("ux.npy"), P("uy.npy"), &e), 0);
  RtNorm nm = {0};
  RtTensorDesc xt = td("x", RT_F32, 2, 2, 1, 0, 0), yf = td("y", RT_F32, 2, 2, 2, 0, 0);
  RtTensorDesc yi = td("y", RT_I64, 2, 2, 2, 0, 0);
  float x[2], y[4];
  int64_t yint[4], idx[2] = {1, 0};
  rt_data_fill(&d, &nm, idx, 2, &xt, x, &yf, y);
  assert_float_equal(y[0], 1.0f, 1e-7);
  assert_float_equal(y[1], 0.4f, 1e-7);
  assert_float_equal(y[2], 0.0f, 1e-7);
  assert_float_equal(y[3], 0.2f, 1e-7);
  rt_data_fill(&d, &nm, idx, 2, &xt, x, &yi, yint);
  assert_int_equal(yint[0], 255);
  assert_int_equal(yint[3], 51);
  RtMetrics mt;
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_REGRESS, 0, &e), 0);
  float pred[4] = {0.5f, 0.2f, 1.0f, 0.4f}; /* errors 0.5 0 0 0 against rows 0, 1 */
  int64_t in_order[2] = {0, 1};
  rt_metrics_add(&mt, &yf, pred, &d, in_order, 2);
  assert_float_equal(rt_metrics_mse(&mt), 0.25 / 4, 1e-7);
  assert_float_equal(rt_metrics_mae(&mt), 0.5 / 4, 1e-7);
  rt_metrics_free(&mt);
  rt_data_free(&d);
}

/* ---- training ---- */

static void test_train_converges(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("tx.npy", "ty.npy", 200, 1, 0);
  make_blobs("vx.npy", "vy.npy", 60, 2, 0);
  int rc = run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--val-x",
               P("vx.npy"), "--val-y", P("vy.npy"), "--epochs", "5", "--lr", "0.2", "--metrics",
               P("m.csv"), "--save", P("w.safetensors"), NULL);
  assert_int_equal(rc, 0);
  double rows[8][8];
  assert_int_equal(read_metrics(P("m.csv"), rows, 8), 5);
  for (int i = 0; i < 5; i++) {
    assert_float_equal(rows[i][0], i + 1, 0);
    assert_float_equal(rows[i][1], 25.0 * (i + 1), 0);
    assert_float_equal(rows[i][2], 0.2, 1e-7);
  }
  assert_true(rows[4][3] < rows[0][3] * 0.5);
  assert_true(rows[0][3] < 1.0986); /* below log(3) on average already */
  assert_true(rows[4][6] > 0.9);
  assert_true(rows[4][4] > 0.9);
  assert_output_has("epoch 5/5  train loss");
  assert_output_has("validation set: 60 samples");
  assert_output_has("confusion matrix");
  assert_output_has("macro");
  assert_null(strstr(out_text, "\r"));
  /* eval of the saved weights agrees with the last epoch's val accuracy */
  rc = run(&f, "eval", "--weights", P("w.safetensors"), "--x", P("vx.npy"), "--y", P("vy.npy"), NULL);
  assert_int_equal(rc, 0);
  char want[64];
  snprintf(want, sizeof want, "accuracy %.2f%%", 100 * rows[4][6]);
  assert_output_has(want);
  assert_int_equal(tmp_files_left(), 0);
}

/* A 4-epoch run equals 2 epochs + resume to 4: same metrics (but seconds),
 * same final weights. Warmup, step decay, momentum state and the step-driven
 * sample dropping all have to be restored for this to hold. */
static void test_resume_reproduces(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("rx.npy", "ry.npy", 203, 3, 0);
#define SCHED "--schedule", "step", "--step-size", "1", "--gamma", "0.7", "--warmup-steps", "30", \
                "--lr", "0.3", "--seed", "11", "--val-split", "0.2"
  assert_int_equal(run(&f, "train", "--train-x", P("rx.npy"), "--train-y", P("ry.npy"), SCHED,
                       "--epochs", "4", "--checkpoint", P("a.ck"), "--metrics", P("a.csv"),
                       "--save", P("a.w"), NULL), 0);
  assert_int_equal(run(&f, "train", "--train-x", P("rx.npy"), "--train-y", P("ry.npy"), SCHED,
                       "--epochs", "2", "--checkpoint", P("b.ck"), "--metrics", P("b.csv"), NULL), 0);
  assert_int_equal(ck_i64(P("b.ck"), "__epoch"), 2);
  assert_int_equal(ck_i64(P("b.ck"), "__step"), 2 * 20);
  /* an extra stale row (as if a run died after writing it) is dropped */
  FILE *fp = fopen(P("b.csv"), "a");
  fputs("3,999,1,1,1,1,1,1\n", fp);
  fclose(fp);
  assert_int_equal(run(&f, "train", "--train-x", P("rx.npy"), "--train-y", P("ry.npy"), SCHED,
                       "--epochs", "4", "--resume", P("b.ck"), "--checkpoint", P("b.ck"),
                       "--metrics", P("b.csv"), "--save", P("b.w"), NULL), 0);
  assert_output_has("resumed from");
  char *a = strip_seconds(P("a.csv")), *b = strip_seconds(P("b.csv"));
  assert_string_equal(a, b);
  free(a);
  free(b);
  assert_true(files_equal(P("a.w"), P("b.w")));
  RtStFile *fa;
  RtErr e;
  assert_int_equal(rt_st_open(P("a.w"), &fa, &e), 0);
  assert_int_equal(rt_st_count(fa), 2); /* weights only: no optimizer state */
  rt_st_close(fa);
  assert_int_equal(ck_i64(P("b.ck"), "__epoch"), 4);
  /* the uninterrupted run's checkpoint equals the resumed one's, byte for byte */
  assert_true(files_equal(P("a.ck"), P("b.ck")));
  /* eval from a checkpoint */
  assert_int_equal(run(&f, "eval", "--checkpoint", P("b.ck"), "--x", P("rx.npy"), "--y", P("ry.npy"),
                       NULL), 0);
  assert_output_has("203 samples");
  assert_int_equal(tmp_files_left(), 0);
#undef SCHED
}

static void test_nan_stops(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_nan, eval_cls);
  make_blobs("tx.npy", "ty.npy", 200, 1, 0);
  int rc = run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--epochs", "4",
               "--checkpoint", P("nan.ck"), "--metrics", P("nan.csv"), "--save", P("nan.w"), NULL);
  assert_int_equal(rc, 1);
  /* steps count from 1: global step 30 is the 5th step of epoch 2 (25
   * steps per epoch) */
  assert_output_has("the training loss is NaN at epoch 2, step 5 of 25 (global step 30)");
  assert_output_has("nan.ck is untouched (last written after epoch 1)");
  assert_int_equal(ck_i64(P("nan.ck"), "__epoch"), 1);
  assert_int_equal(ck_i64(P("nan.ck"), "__step"), 25);
  double rows[4][8];
  assert_int_equal(read_metrics(P("nan.csv"), rows, 4), 1);
  assert_false(file_exists(P("nan.w")));
  assert_int_equal(tmp_files_left(), 0);
  /* the checkpoint is usable */
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--epochs",
                       "2", "--resume", P("nan.ck"), NULL), 0);
  assert_output_has("epoch 2/2");
}

static void test_early_stopping(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("tx.npy", "ty.npy", 200, 1, 0);
  make_blobs("rvx.npy", "rvy.npy", 40, 9, 1); /* random labels: cannot be fitted */
  int rc = run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--val-x",
               P("rvx.npy"), "--val-y", P("rvy.npy"), "--epochs", "30", "--patience", "1",
               "--metrics", P("es.csv"), "--checkpoint", P("es.ck"), "--save", P("es.w"), NULL);
  assert_int_equal(rc, 0);
  assert_output_has("early stopping: no lower val loss for 1 epochs");
  double rows[30][8];
  int n = read_metrics(P("es.csv"), rows, 30);
  assert_true(n >= 2 && n < 30);
  /* the last epoch did not improve on the best, every earlier one did */
  for (int i = 1; i < n - 1; i++) assert_true(rows[i][5] < rows[i - 1][5]);
  assert_true(rows[n - 1][5] >= rows[n - 2][5]);
  assert_int_equal(ck_i64(P("es.ck"), "__best_epoch"), n - 1);
  /* --save holds the best epoch's weights, as kept in the checkpoint */
  RtStFile *fw, *fc;
  RtErr e;
  float w1[6], w2[6], w3[6];
  int64_t dims[2] = {3, 2};
  assert_int_equal(rt_st_open(P("es.w"), &fw, &e), 0);
  assert_int_equal(rt_st_open(P("es.ck"), &fc, &e), 0);
  assert_int_equal(rt_st_read(fw, "W", RT_F32, 2, dims, w1, &e), 0);
  assert_int_equal(rt_st_read(fc, "__best/W", RT_F32, 2, dims, w2, &e), 0);
  assert_int_equal(rt_st_read(fc, "W", RT_F32, 2, dims, w3, &e), 0);
  assert_memory_equal(w1, w2, sizeof w1);
  assert_memory_not_equal(w1, w3, sizeof w1);
  rt_st_close(fw);
  rt_st_close(fc);
  /* resuming a stopped run does not train further */
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--val-x",
                       P("rvx.npy"), "--val-y", P("rvy.npy"), "--epochs", "30", "--patience", "1",
                       "--resume", P("es.ck"), NULL), 0);
  assert_output_has("early stopping already triggered");
  /* plateau on the same set: lr halves after each bad epoch */
  rc = run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--val-x", P("rvx.npy"),
           "--val-y", P("rvy.npy"), "--epochs", "8", "--schedule", "plateau", "--gamma", "0.5",
           "--lr-patience", "0", "--lr", "0.4", "--metrics", P("pl.csv"), NULL);
  assert_int_equal(rc, 0);
  n = read_metrics(P("pl.csv"), rows, 30);
  assert_int_equal(n, 8);
  double best = INFINITY, scale = 1;
  int cuts = 0;
  for (int i = 0; i < n; i++) {
    assert_float_equal(rows[i][2], 0.4 * scale, 1e-7);
    if (rows[i][5] < best * (1 - 1e-4)) best = rows[i][5];
    else scale *= 0.5, cuts++;
  }
  assert_true(cuts >= 1);
}

static void test_drop_last(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("dx.npy", "dy.npy", 203, 4, 0);
  assert_int_equal(run(&f, "train", "--train-x", P("dx.npy"), "--train-y", P("dy.npy"), "--epochs",
                       "2", "--metrics", P("d.csv"), NULL), 0);
  assert_output_has("203 samples, batch 8, 25 steps per epoch; the last partial batch (3 samples");
  double rows[2][8];
  assert_int_equal(read_metrics(P("d.csv"), rows, 2), 2);
  assert_float_equal(rows[0][1], 25, 0);
  assert_float_equal(rows[1][1], 50, 0);
  /* no validation set: the final report covers all 203 training samples */
  assert_output_has("training set: 203 samples");
  /* --limit and --val-split: first 100 samples, the last 30 of them held out */
  assert_int_equal(run(&f, "train", "--train-x", P("dx.npy"), "--train-y", P("dy.npy"), "--epochs",
                       "1", "--limit", "100", "--val-split", "0.3", NULL), 0);
  assert_output_has("70 samples, batch 8, 8 steps per epoch; the last partial batch (6 samples");
  assert_output_has("validation: 30 samples");
}

/* 13 samples with batch 8: the second batch wraps around (8..12, 0, 1, 2)
 * and counts 5 samples; the loss equals an independent sum over 13. */
static void test_eval_counts(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("ex.npy", "ey.npy", 13, 5, 0);
  const float W[6] = {0.3f, -0.2f, -0.5f, 0.4f, 0.1f, 0.7f}, b[3] = {0.1f, -0.3f, 0.2f};
  int64_t wd[2] = {3, 2}, bd[1] = {3};
  RtStEntry ents[2] = {{"W", RT_F32, 2, wd, W}, {"b", RT_F32, 1, bd, b}};
  RtErr e;
  assert_int_equal(rt_st_write(P("ew.safetensors"), ents, 2, &e), 0);
  RtModel *m = rt_model_create(&f.desc);
  assert_non_null(m);
  assert_int_equal(rt_model_load_weights(m, P("ew.safetensors")), 0);
  RtData d;
  assert_int_equal(rt_data_load(&d, P("ex.npy"), P("ey.npy"), &e), 0);
  RtNorm nm = {0};
  RtMetrics mt;
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, 3, &e), 0);
  assert_int_equal(rt_evaluate(m, &d, &nm, &mt, &e), 0);
  assert_int_equal(mt.n, 13);
  int64_t total = 0, correct = 0;
  for (int i = 0; i < 9; i++) total += mt.confusion[i];
  assert_int_equal(total, 13);
  double want = 0;
  const float *x = d.x.data;
  const int64_t *y = d.y.data;
  for (int i = 0; i < 13; i++) {
    double z[3], mx = -INFINITY, se = 0;
    int arg = 0;
    for (int c = 0; c < 3; c++) {
      z[c] = (double)b[c] + (double)W[2 * c] * x[2 * i] + (double)W[2 * c + 1] * x[2 * i + 1];
      if (z[c] > mx) mx = z[c], arg = c;
    }
    for (int c = 0; c < 3; c++) se += exp(z[c] - mx);
    want += mx + log(se) - z[y[i]];
    correct += arg == y[i];
  }
  assert_float_equal(mt.loss_sum, want, 1e-4);
  assert_float_equal(rt_metrics_accuracy(&mt), (double)correct / 13, 1e-12);
  rt_metrics_free(&mt);
  rt_data_free(&d);
  rt_model_free(m);
  assert_int_equal(run(&f, "eval", "--weights", P("ew.safetensors"), "--x", P("ex.npy"), "--y",
                       P("ey.npy"), NULL), 0);
  char s[128];
  snprintf(s, sizeof s, "13 samples, loss %.6g", want / 13);
  assert_output_has(s);
  assert_int_equal(run(&f, "eval", "--weights", P("ew.safetensors"), "--x", P("ex.npy"), "--y",
                       P("ey.npy"), "--limit", "3", NULL), 0);
  assert_output_has("3 samples");
}

static void test_bad_data(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  RtErr e;
  make_blobs("tx.npy", "ty.npy", 50, 1, 0);
  float x3[150] = {0};
  int64_t d3[2] = {50, 3}, yd[1] = {40}, yv[50] = {0};
  assert_int_equal(rt_npy_write(P("x3.npy"), RT_F32, 2, d3, x3, &e), 0);
  assert_int_equal(rt_npy_write(P("y40.npy"), RT_I64, 1, yd, yv, &e), 0);
  yv[17] = 5;
  yd[0] = 50;
  assert_int_equal(rt_npy_write(P("y5.npy"), RT_I64, 1, yd, yv, &e), 0);

  assert_int_equal(run(&f, "train", "--train-x", P("x3.npy"), "--train-y", P("ty.npy"), NULL), 1);
  assert_output_has("x3.npy: training features have 3 elements per sample (file: f32[50,3]), but "
                    "the model's input 'x' f32[8,2] takes 2");
  assert_int_equal(run(&f, "train", "--train-x", P("nope.npy"), "--train-y", P("ty.npy"), NULL), 1);
  assert_output_has("nope.npy: cannot open: No such file");
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("y5.npy"), NULL), 1);
  assert_output_has("y5.npy: training label 5 of sample 17 is not a class id in [0, 3)");
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("y40.npy"), NULL), 1);
  assert_output_has("has 50 samples (f32[50,2]) but");
  assert_output_has("y40.npy has 40");
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--limit",
                       "5", NULL), 1);
  assert_output_has("5 training samples, fewer than one batch of 8");
  assert_int_equal(run(&f, "eval", "--weights", P("none.safetensors"), "--x", P("tx.npy"), "--y",
                       P("y5.npy"), NULL), 1);
  assert_output_has("evaluation label 5");
  /* usage errors: exit 2 */
  assert_int_equal(run(&f, "train", "--epochs", "2", NULL), 2);
  assert_output_has("give one data source");
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), NULL), 2);
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--bogus", "1", NULL), 2);
  assert_output_has("unknown option '--bogus'");
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--schedule", "linear", NULL), 2);
  assert_output_has("invalid value 'linear' for --schedule");
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--epochs", "x", NULL), 2);
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--milestones", "5,3", NULL), 2);
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--schedule", "step", NULL), 2);
  assert_output_has("--step-size");
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--lr", NULL), 2);
  assert_int_equal(run(&f, "eval", "--csv", "a.csv", NULL), 2);
  assert_output_has("--weights");
  assert_int_equal(run(&f, "train", "--csv", "a.csv", "--val-split=1.5", NULL), 2);
  assert_int_equal(run(&f, "train", "--help", NULL), 0);
  assert_output_has("--val-split FRAC");
  assert_output_has("drop_last");
  assert_output_has("wrapping around");
  assert_int_equal(run(&f, "eval", "--help", NULL), 0);
  assert_output_has("--checkpoint C");
}

static void test_csv_train(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  char *s = malloc(1 << 16), *q = s;
  q += sprintf(q, "x0,x1,class\n");
  for (int i = 0; i < 120; i++) {
    int c = (int)(rt_uniform(3, 1, (uint64_t)i) * 3);
    q += sprintf(q, "%.4f,%.4f,%d\n", 30 + 30 * cos(2.0943951 * c) + rt_uniform(3, 2, (uint64_t)i),
                 100 * sin(2.0943951 * c) + 5 * rt_uniform(3, 3, (uint64_t)i), c);
  }
  write_text(P("d.csv"), s);
  free(s);
  assert_int_equal(run(&f, "train", "--csv", P("d.csv"), "--val-split", "0.25", "--normalize",
                       "standard", "--epochs", "6", "--metrics", P("c.csv"), "--checkpoint",
                       P("c.ck"), "--patience", "3", NULL), 0);
  assert_output_has("90 samples, batch 8, 11 steps per epoch");
  assert_output_has("validation: 30 samples");
  double rows[6][8];
  assert_int_equal(read_metrics(P("c.csv"), rows, 6), 6);
  assert_true(rows[5][6] > 0.9);
  /* eval from the checkpoint reuses its standardization */
  assert_int_equal(run(&f, "eval", "--checkpoint", P("c.ck"), "--csv", P("d.csv"), NULL), 0);
  assert_output_has("120 samples");
  assert_int_equal(run(&f, "eval", "--checkpoint", P("c.ck"), "--csv", P("d.csv"), "--normalize",
                       "none", NULL), 0);
  /* unnormalized features of this scale ruin the accuracy: the kind matters */
  char *raw = strdup(out_text);
  assert_int_equal(run(&f, "eval", "--checkpoint", P("c.ck"), "--csv", P("d.csv"), NULL), 0);
  assert_string_not_equal(raw, out_text);
  free(raw);
  assert_int_equal(run(&f, "train", "--csv", P("d.csv"), "--val-csv", P("d.csv"), "--epochs", "1",
                       "--normalize", "standard", NULL), 0);
  assert_output_has("validation: 120 samples");
  /* --weights needs statistics for standard */
  assert_int_equal(run(&f, "train", "--csv", P("d.csv"), "--epochs", "1", "--save", P("c.w"),
                       "--normalize", "standard", NULL), 0);
  assert_int_equal(run(&f, "eval", "--weights", P("c.w"), "--csv", P("d.csv"), "--normalize",
                       "standard", NULL), 1);
  assert_output_has("needs the training statistics");
  assert_int_equal(run(&f, "eval", "--weights", P("c.w"), "--csv", P("d.csv"), "--normalize",
                       "standard", "--train-csv", P("d.csv"), NULL), 0);
}

static void test_regression(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 1, 1, train_reg, eval_reg);
  float x[400], y[200];
  for (int i = 0; i < 200; i++) {
    x[2 * i] = (float)(2 * rt_uniform(8, 1, (uint64_t)i) - 1);
    x[2 * i + 1] = (float)(2 * rt_uniform(8, 2, (uint64_t)i) - 1);
    y[i] = 2 * x[2 * i] - x[2 * i + 1] + 0.5f;
  }
  RtErr e;
  int64_t xd[2] = {200, 2}, yd[1] = {200};
  assert_int_equal(rt_npy_write(P("gx.npy"), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_npy_write(P("gy.npy"), RT_F32, 1, yd, y, &e), 0);
  assert_int_equal(run(&f, "train", "--train-x", P("gx.npy"), "--train-y", P("gy.npy"),
                       "--val-split", "0.2", "--epochs", "8", "--lr", "0.1", "--metrics",
                       P("g.csv"), NULL), 0);
  double rows[8][8];
  assert_int_equal(read_metrics(P("g.csv"), rows, 8), 8);
  assert_true(rows[7][6] < 0.05);        /* val MAE */
  assert_true(rows[7][5] < rows[0][5]);  /* val loss (MSE) falls */
  assert_output_has("validation set: 40 samples, loss");
  assert_output_has(", MSE ");
  assert_output_has(", MAE ");
}

static void test_init_weights(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  make_blobs("tx.npy", "ty.npy", 50, 1, 0);
  const float W[6] = {1, 2, 3, 4, 5, 6};
  int64_t wd[2] = {3, 2}, bad[2] = {2, 2};
  RtStEntry ent[2] = {{"W", RT_F32, 2, wd, W}, {"extra", RT_F32, 2, bad, W}};
  RtErr e;
  assert_int_equal(rt_st_write(P("iw.safetensors"), ent, 2, &e), 0);
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"), "--epochs",
                       "0", "--init-weights", P("iw.safetensors"), "--save", P("iw.out"), NULL), 0);
  assert_output_has("init-weights: loaded 1 of 2 weights");
  assert_output_has("kept their initializers: b");
  assert_output_has("unused tensors in file: extra");
  RtStFile *fw;
  float got[6];
  assert_int_equal(rt_st_open(P("iw.out"), &fw, &e), 0);
  assert_int_equal(rt_st_read(fw, "W", RT_F32, 2, wd, got, &e), 0);
  assert_memory_equal(got, W, sizeof W);
  rt_st_close(fw);
  ent[0].dims = bad;
  assert_int_equal(rt_st_write(P("iwbad.safetensors"), ent, 1, &e), 0);
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"),
                       "--init-weights", P("iwbad.safetensors"), NULL), 1);
  assert_output_has("tensor 'W': shape f32[3,2] expected, file has f32[2,2]");
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"),
                       "--init-weights", P("iw.safetensors"), "--resume", P("x.ck"), NULL), 2);
  assert_int_equal(run(&f, "train", "--train-x", P("tx.npy"), "--train-y", P("ty.npy"),
                       "--resume", P("iw.out"), NULL), 1);
  assert_output_has("iw.out: not a training checkpoint");
}

static void write_idx(const char *path, int rank, const uint32_t *dims, const uint8_t *data,
                      size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  unsigned char h[4] = {0, 0, 0x08, (unsigned char)rank};
  fwrite(h, 1, 4, f);
  for (int i = 0; i < rank; i++) {
    unsigned char b[4] = {dims[i] >> 24, dims[i] >> 16 & 255, dims[i] >> 8 & 255, dims[i] & 255};
    fwrite(b, 1, 4, f);
  }
  fwrite(data, 1, n, f);
  fclose(f);
}

/* An MNIST-layout directory (plain IDX, u8 images [n,1,2]) without t10k
 * files: --val-split holds out the tail; u8 features are scaled to [0,1]. */
static void test_idx_dir(void **state) {
  (void)state;
  Fake f;
  fake_init(&f, 2, 3, 0, train_cls, eval_cls);
  enum { N = 96 };
  uint8_t img[2 * N], lab[N];
  for (int i = 0; i < N; i++) {
    lab[i] = (uint8_t)(i % 3);
    img[2 * i] = (uint8_t)(lab[i] == 1 ? 250 : 5 + i % 4);
    img[2 * i + 1] = (uint8_t)(lab[i] == 2 ? 250 : 5 + i % 7);
  }
  char dir[1100];
  snprintf(dir, sizeof dir, "%s", P("idx"));
  assert_int_equal(mkdir(dir, 0755), 0);
  uint32_t idims[3] = {N, 1, 2}, ldims[1] = {N};
  write_idx(P("idx/train-images-idx3-ubyte"), 3, idims, img, sizeof img);
  write_idx(P("idx/train-labels-idx1-ubyte"), 1, ldims, lab, sizeof lab);
  assert_int_equal(run(&f, "train", "--data", dir, "--val-split", "0.25", "--epochs", "4",
                       "--checkpoint", P("idx.ck"), "--save", P("idx.w"), NULL), 0);
  assert_output_has("72 samples, batch 8, 9 steps per epoch");
  assert_output_has("validation set: 24 samples");
  assert_output_has("accuracy 100.00%");
  assert_int_equal(ck_i64(P("idx.ck"), "__norm_kind"), RT_NORM_UNIT);
  /* eval needs t10k files */
  assert_int_equal(run(&f, "eval", "--weights", P("idx.w"), "--data", dir, NULL), 1);
  assert_output_has("no t10k-images-idx3-ubyte");
  write_idx(P("idx/t10k-images-idx3-ubyte"), 3, idims, img, sizeof img);
  write_idx(P("idx/t10k-labels-idx1-ubyte"), 1, ldims, lab, sizeof lab);
  assert_int_equal(run(&f, "eval", "--weights", P("idx.w"), "--data", dir, NULL), 0);
  assert_output_has("96 samples");
  assert_output_has("accuracy 100.00%");
  /* without the /255 scaling the same weights do worse */
  assert_int_equal(run(&f, "eval", "--weights", P("idx.w"), "--data", dir, "--normalize", "none",
                       NULL), 0);
  assert_null(strstr(out_text, "accuracy 100.00%"));
}

static void test_fmnist(void **state) {
  (void)state;
  char xp[1024], yp[1024];
  if (rt_data_find_dir(FMNIST_DIR, "train", xp, yp, sizeof xp)) skip();
  Fake f;
  fake_init(&f, 784, 10, 0, train_784, eval_784);
  int rc = run(&f, "train", "--data", FMNIST_DIR, "--limit", "400", "--val-limit", "200",
               "--epochs", "2", "--lr", "0.05", "--metrics", P("fm.csv"), NULL);
  assert_int_equal(rc, 0);
  assert_output_has("400 samples, batch 8, 50 steps per epoch");
  assert_output_has("validation: 200 samples");
  double rows[2][8];
  assert_int_equal(read_metrics(P("fm.csv"), rows, 2), 2);
  assert_true(rows[1][6] > 0.5); /* well above chance (0.1) */
  /* eval: the t10k split, limited */
  RtModel *m = rt_model_create(&f.desc);
  assert_int_equal(rt_model_save_weights(m, P("fm.w")), 0);
  rt_model_free(m);
  assert_int_equal(run(&f, "eval", "--weights", P("fm.w"), "--data", FMNIST_DIR, "--limit", "50",
                       NULL), 0);
  assert_output_has("t10k-images-idx3-ubyte");
  assert_output_has("50 samples");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schedules),      cmocka_unit_test(test_plateau),
      cmocka_unit_test(test_shuffle),        cmocka_unit_test(test_csv_read),
      cmocka_unit_test(test_norm_split_fill), cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_metrics_positions),
      cmocka_unit_test(test_u8_targets),
      cmocka_unit_test(test_train_converges), cmocka_unit_test(test_resume_reproduces),
      cmocka_unit_test(test_nan_stops),      cmocka_unit_test(test_early_stopping),
      cmocka_unit_test(test_drop_last),      cmocka_unit_test(test_eval_counts),
      cmocka_unit_test(test_bad_data),       cmocka_unit_test(test_csv_train),
      cmocka_unit_test(test_regression),     cmocka_unit_test(test_init_weights),
      cmocka_unit_test(test_idx_dir),        cmocka_unit_test(test_fmnist),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  free(out_text);
  return rc;
}
