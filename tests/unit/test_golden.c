/* Pinned results: every example's compiled program must compute exactly
 * the bits it computed when tests/golden/examples.txt was written. For
 * each examples/ *.smelt file the training program is built (infer, eval and
 * train, or infer and the steps), compiled with portable flags (-O1, no
 * -march: the same instructions on every x86-64 CPU; libm's own
 * CPU-dispatched variants are the one assumption), loaded, and
 * run on one thread on fixed inputs:
 *   infer  the inference function on the declared initializers;
 *   train  3 training steps (every step function in turn, for programs of
 *          several steps) on one fixed batch: each step's outputs (loss,
 *          predictions), then every parameter and optimizer state, then
 *          eval's outputs when there is an eval function.
 * Each line of the file is `EXAMPLE infer|train FNV-1a-64 of those bytes`.
 * Refactors that must not change behaviour are held to it; a change that
 * is meant to alter numbers rewrites the file with SMELT_GOLDEN_UPDATE=1
 * (and says why in its commit).
 *
 * SMELT_EXAMPLES=a,b limits the run to the named examples. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/exprog.h"
#include "helpers/opcheck.h"
#include "helpers/testfile.h"

#define MAX_EXAMPLES 64
#define GOLDEN SMELT_SOURCE_DIR "/tests/golden/examples.txt"

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static uint64_t hash_tensor(uint64_t h, const RtModel *m, const RtTensorDesc *t) {
  return fnv(h, rt_model_tensor(m, t), (size_t)t->numel * rt_dtype_size(t->dtype));
}

/* Fixed inputs for function fn: floats in [-1, 1), integers 0 or 1 (valid
 * class ids and token ids for every example), lr and step as given. */
static void fill(RtModel *m, int fn, double lr, int64_t step) {
  const RtFuncDesc *f = &m->desc->funcs[fn];
  const RtTrainDesc *td = m->desc->train;
  bool train = td && fn != 0 && strcmp(f->name, "eval") != 0;
  for (int i = 0; i < f->ninputs; i++) {
    const RtTensorDesc *t = &f->inputs[i];
    void *p = rt_model_tensor(m, t);
    for (int64_t k = 0; k < t->numel; k++) {
      double u = rt_uniform(4242, (uint64_t)i, (uint64_t)k), v;
      if (train && i == td->in_lr) v = lr;
      else if (train && i == td->in_step) v = (double)step;
      else if (t->dtype == RT_F32 || t->dtype == RT_F64) v = 2 * u - 1;
      else v = floor(2 * u);
      rt_elem_put(t->dtype, p, k, v);
    }
  }
}

static uint64_t hash_outputs(uint64_t h, const RtModel *m, int fn) {
  const RtFuncDesc *f = &m->desc->funcs[fn];
  for (int i = 0; i < f->noutputs; i++) h = hash_tensor(h, m, &f->outputs[i]);
  return h;
}

/* Builds, runs and hashes one example; writes its two lines to out. */
static void golden_example(const char *file, FILE *out) {
  ExProg e;
  exprog_build(&e, file, "-O1", false);
  const RtModelDesc *desc = e.desc;
  const RtTrainDesc *td = desc->train;
  RtModel *m = e.m;

  uint64_t h = 1469598103934665603ull;
  fill(m, 0, 0, 0);
  rt_model_run_func(m, 0);
  h = hash_outputs(h, m, 0);
  fprintf(out, "%.*s infer %016llx\n", (int)strcspn(file, "."), file, (unsigned long long)h);

  h = 1469598103934665603ull;
  int nsteps = td->nsteps > 0 ? td->nsteps : 1;
  for (int step = 1; step <= 3; step++)
    for (int s = 0; s < nsteps; s++) {
      int fn = td->nsteps > 0 ? td->step_fn[s] : td->train_fn;
      fill(m, fn, td->schedule.lr, step);
      rt_model_run_func(m, fn);
      h = hash_outputs(h, m, fn);
    }
  for (int i = 0; i < desc->nparams; i++) h = hash_tensor(h, m, &desc->params[i]);
  if (td->eval_fn >= 0) {
    fill(m, td->eval_fn, 0, 0);
    rt_model_run_func(m, td->eval_fn);
    h = hash_outputs(h, m, td->eval_fn);
  }
  fprintf(out, "%.*s train %016llx\n", (int)strcspn(file, "."), file, (unsigned long long)h);

  exprog_free(&e);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The line of `key` ("lenet infer") in text, or NULL. */
static const char *find_line(const char *text, const char *key) {
  size_t n = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (!strncmp(p, key, n) && p[n] == ' ') return p;
  return NULL;
}

static void test_golden(void **state) {
  (void)state;
  char *files[MAX_EXAMPLES];
  int nf = 0;
  DIR *dp = opendir(SMELT_SOURCE_DIR "/examples");
  assert_non_null(dp);
  for (struct dirent *e; (e = readdir(dp));) {
    size_t n = strlen(e->d_name);
    if (n > 6 && !strcmp(e->d_name + n - 6, ".smelt") && exprog_selected(e->d_name)) {
      assert_true(nf < MAX_EXAMPLES);
      files[nf++] = strdup(e->d_name);
    }
  }
  closedir(dp);
  qsort(files, (size_t)nf, sizeof *files, by_name);
  assert_true(nf > 0);

  /* two children at a time, each writing its lines to a file of its own */
  char dir[] = "/tmp/smelt-goldenrun-XXXXXX";
  assert_non_null(mkdtemp(dir));
  pid_t pid[MAX_EXAMPLES] = {0};
  int running = 0, bad = 0;
  fflush(stdout);
  fflush(stderr);
  for (int i = 0; i <= nf; i++) {
    while (running > 0 && (running >= 2 || i == nf)) {
      int st;
      pid_t w = wait(&st);
      if (w < 0) break;
      running--;
      for (int k = 0; k < nf; k++)
        if (pid[k] == w && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
          print_error("%s: failed\n", files[k]);
          bad++;
        }
    }
    if (i == nf) break;
    pid[i] = fork();
    assert_true(pid[i] >= 0);
    if (pid[i] == 0) {
      char p[512];
      snprintf(p, sizeof p, "%s/%d", dir, i);
      FILE *o = fopen(p, "w");
      if (!o) _exit(1);
      golden_example(files[i], o);
      _exit(fclose(o) == 0 ? 0 : 1);
    }
    running++;
  }
  assert_int_equal(bad, 0);

  SmBuf got = {0};
  for (int i = 0; i < nf; i++) {
    char p[512], line[256];
    snprintf(p, sizeof p, "%s/%d", dir, i);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) sm_buf_puts(&got, line);
    fclose(f);
    unlink(p);
  }
  rmdir(dir);

  const char *upd = getenv("SMELT_GOLDEN_UPDATE");
  if (upd && *upd && strcmp(upd, "0") != 0) {
    assert_null(getenv("SMELT_EXAMPLES")); /* the file lists every example */
    FILE *f = fopen(GOLDEN, "w");
    assert_non_null(f);
    fputs(sm_buf_str(&got), f);
    assert_int_equal(fclose(f), 0);
    printf("# wrote %s\n", GOLDEN);
  } else {
    char *want = test_read_file(GOLDEN);
    int mismatches = 0;
    for (const char *p = sm_buf_str(&got); *p; p = strchr(p, '\n') + 1) {
      char key[160];
      size_t n = strcspn(p, "\n");
      const char *sp = memchr(p, ' ', n), *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p)) : NULL;
      assert_non_null(sp2);
      snprintf(key, sizeof key, "%.*s", (int)(sp2 - p), p);
      const char *w = find_line(want, key);
      size_t wn = w ? strcspn(w, "\n") : 0;
      if (!w || wn != n || memcmp(w, p, n)) {
        print_error("%s: got %.*s, pinned %.*s\n", key, (int)(n - (size_t)(sp2 + 1 - p)), sp2 + 1,
                    w ? (int)(wn - (size_t)(sp2 + 1 - p)) : 4, w ? w + (sp2 + 1 - p) : "none");
        mismatches++;
      } else {
        printf("# %s ok\n", key);
      }
    }
    free(want);
    assert_int_equal(mismatches, 0);
  }
  sm_buf_free(&got);
  for (int i = 0; i < nf; i++) free(files[i]);
}

int main(void) {
  /* the same bits on every machine: one thread, the task grids of a
   * 2-processor machine */
  setenv("OMP_NUM_THREADS", "1", 1);
  setenv("SMELT_NCPU", "2", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
