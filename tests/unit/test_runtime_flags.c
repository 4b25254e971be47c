/* Runtime hardening (issue 13): the strict numeric-flag parser, writes
 * killed half-way leave no temporary file and the old target intact
 * (item 11), and run locks on checkpoint/metrics paths (item 12). Files
 * live in a mkdtemp directory under /tmp; killed writers are forked
 * children. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt.h"

static char tmpdir[] = "/tmp/smelt_rtflags_XXXXXX";

static int group_setup(void **state) {
  (void)state;
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)))
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
      }
    closedir(d);
  }
  rmdir(tmpdir);
  return 0;
}

/* ---- numeric flags ---- */

static void expect_int_error(const char *v, const char *want) {
  long long x = 42;
  RtErr e = {{0}};
  assert_int_equal(rt_flag_int("--repeat", v, 1, 1000, &x, &e), -1);
  assert_int_equal(x, 42);
  if (!strstr(e.msg, "--repeat") || !strstr(e.msg, want) || !strstr(e.msg, "[1, 1000]")) {
    print_error("value '%s': message '%s' lacks '--repeat', '%s' or the range\n", v ? v : "(null)",
                e.msg, want);
    fail();
  }
}

static void test_flag_int(void **state) {
  (void)state;
  long long x = 0;
  RtErr e = {{0}};
  assert_int_equal(rt_flag_int("--repeat", "17", 1, 1000, &x, &e), 0);
  assert_int_equal(x, 17);
  assert_int_equal(rt_flag_int("--repeat", "+1000", 1, 1000, &x, &e), 0);
  assert_int_equal(x, 1000);
  assert_int_equal(rt_flag_int("--seed", "-9223372036854775808", INT64_MIN, INT64_MAX, &x, &e), 0);
  assert_true(x == INT64_MIN);
  expect_int_error("2x", "not an integer");
  expect_int_error("abc", "not an integer");
  expect_int_error("", "empty");
  expect_int_error(NULL, "empty");
  expect_int_error(" 3", "not an integer");
  expect_int_error("3 ", "not an integer");
  expect_int_error("1.5", "not an integer");
  expect_int_error("0x10", "not an integer");
  expect_int_error("-1", "out of range");
  expect_int_error("0", "out of range");
  expect_int_error("1001", "out of range");
  expect_int_error("99999999999999999999999", "out of range");
  int n = 0;
  assert_int_equal(rt_flag_int32("--epochs", "7", 0, 10, &n, &e), 0);
  assert_int_equal(n, 7);
  assert_int_equal(rt_flag_int32("--epochs", "4294967297", 0, 10, &n, &e), -1);
  assert_int_equal(n, 7);
}

static void test_flag_double(void **state) {
  (void)state;
  double x = 0;
  RtErr e = {{0}};
  assert_int_equal(rt_flag_double("--lr", "1e-3", 0, 1e30, &x, &e), 0);
  assert_true(x == 1e-3);
  assert_int_equal(rt_flag_double("--lr", "0", 0, 1e30, &x, &e), 0);
  assert_true(x == 0);
  const char *bad[] = {"nan", "inf", "-inf", "1e999", "-1", "0.1x", "", " 1", "x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    x = 7;
    memset(&e, 0, sizeof e);
    if (rt_flag_double("--lr", bad[i], 0, 1e30, &x, &e) != -1 || x != 7 || !strstr(e.msg, "--lr")) {
      print_error("--lr '%s' accepted or unnamed: '%s'\n", bad[i], e.msg);
      fail();
    }
  }
}

/* --threads: 1 .. max(64, 8 x CPUs); 100000 crashed libgomp */
static void test_flag_threads(void **state) {
  (void)state;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int hi = rt_max_threads(), n = 0;
  assert_true(hi >= 64 && hi >= 8 * ncpu && hi <= 4096);
  RtErr e = {{0}};
  assert_int_equal(rt_flag_threads("--threads", "2", &n, &e), 0);
  assert_int_equal(n, 2);
  char s[32];
  snprintf(s, sizeof s, "%d", hi);
  assert_int_equal(rt_flag_threads("--threads", s, &n, &e), 0);
  assert_int_equal(n, hi);
  snprintf(s, sizeof s, "%d", hi + 1);
  assert_int_equal(rt_flag_threads("--threads", s, &n, &e), -1);
  assert_int_equal(rt_flag_threads("--threads", "100000", &n, &e), -1);
  assert_non_null(strstr(e.msg, "--threads"));
  assert_int_equal(rt_flag_threads("--threads", "65536", &n, &e), -1);
  assert_int_equal(rt_flag_threads("--threads", "0", &n, &e), -1);
  assert_int_equal(rt_flag_threads("--threads", "2x", &n, &e), -1);
  assert_int_equal(n, hi);
}

/* ---- killed writers (item 11) ---- */

/* Names in tmpdir other than `keep`, joined in out. */
static int stray_files(const char *keep, char *out, size_t n) {
  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  struct dirent *de;
  int count = 0;
  out[0] = 0;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, keep)) {
      count++;
      strncat(out, de->d_name, n - strlen(out) - 2);
      strncat(out, " ", n - strlen(out) - 1);
    }
  closedir(d);
  return count;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* ---- flag tables (rt_flags_parse, rt_flags_usage) ---- */

typedef struct TOpts {
  const char *out;
  int n, n_set, mode;
  int64_t big;
  double lr;
} TOpts;

static const char *const modes[] = {"fast", "slow"};

static int parse_even(const char *v, void *dst) {
  int x = atoi(v);
  if (x % 2) return -1;
  *(int *)dst = x;
  return 0;
}

enum { CA = 1, CB = 2, FX = 1 };
static const RtFlag ttab[] = {
    {.help = "usage: {prog} [options]\n", .kind = RT_FLAG_TEXT, .where = CA | CB},
    {"--out", "--out F", "the output", RT_FLAG_STR, offsetof(TOpts, out), .where = CA | CB},
    {"--n", "--n N", "a count (default {n})\nsecond line", RT_FLAG_INT, offsetof(TOpts, n),
     (int)offsetof(TOpts, n_set) + 1, .ilo = 1, .ihi = 9, .where = CA},
    {"--big", "--big N --and-a-very-long-synopsis", "on the next line", RT_FLAG_I64,
     offsetof(TOpts, big), .ilo = 0, .ihi = INT64_MAX, .where = CA},
    {"--lr", "--lr F", "rate", RT_FLAG_DOUBLE, offsetof(TOpts, lr), .lo = 0, .hi = 1,
     .where = CB},
    {"--mode", "--mode fast|slow", NULL, RT_FLAG_CHOICE, offsetof(TOpts, mode), .choices = modes,
     .nchoices = 2, .where = CA, .needs = FX},
    {"--even", NULL, NULL, RT_FLAG_CUSTOM, offsetof(TOpts, n), .parse = parse_even, .where = CB},
};
enum { NT = sizeof ttab / sizeof ttab[0] };

static void tfill(const void *ctx, const char *key, char *buf, size_t n) {
  snprintf(buf, n, "%s:%s", (const char *)ctx, key);
}

/* rt_flags_parse on "prog" and the words of line (at most 8); stderr in err */
static int tparse(unsigned cmd, unsigned feats, const char *line, TOpts *o, char *err, size_t n) {
  static char buf[256]; /* the parsed strings point into it */
  char *argv[10] = {"prog"};
  int argc = 1;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *w = strtok(buf, " "); w && argc < 9; w = strtok(NULL, " ")) argv[argc++] = w;
  memset(o, 0, sizeof *o);
  char path[600];
  snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
  fflush(stderr);
  int saved = dup(2);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  dup2(fileno(f), 2);
  int rc = rt_flags_parse(ttab, NT, cmd, feats, "prog", "cmd", argc, argv, o);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fclose(f);
  f = fopen(path, "r");
  size_t k = fread(err, 1, n - 1, f);
  err[k] = 0;
  fclose(f);
  return rc;
}

static void test_flag_table(void **state) {
  (void)state;
  TOpts o;
  char err[512];
  assert_int_equal(tparse(CA, FX, "--out a --n 3 --big=12 --mode slow", &o, err, sizeof err), 0);
  assert_string_equal(o.out, "a");
  assert_int_equal(o.n, 3);
  assert_int_equal(o.n_set, 1);
  assert_int_equal(o.big, 12);
  assert_int_equal(o.mode, 1);
  assert_int_equal(tparse(CB, 0, "--lr 0.5 --even 4", &o, err, sizeof err), 0);
  assert_true(o.lr == 0.5 && o.n == 4 && o.n_set == 0);
  assert_int_equal(tparse(CA, 0, "--out a -h", &o, err, sizeof err), 1);
  /* errors: exit 2, one message each */
  struct {
    unsigned cmd, feats;
    const char *line, *msg;
  } bad[] = {
      {CA, FX, "--n 10", "prog cmd: error: --n: 10 is out of range (want an integer in [1, 9]) (see --help)\n"},
      {CA, FX, "--n", "prog cmd: error: option '--n' needs a value (see --help)\n"},
      {CA, FX, "n 1", "prog cmd: error: unexpected argument 'n' (see --help)\n"},
      {CB, FX, "--n 1", "prog cmd: error: unknown option '--n' (see --help)\n"},
      {CA, 0, "--mode fast", "prog cmd: error: unknown option '--mode' (see --help)\n"},
      {CA, FX, "--mode medium", "prog cmd: error: invalid value 'medium' for --mode (see --help)\n"},
      {CB, 0, "--even 3", "prog cmd: error: invalid value '3' for --even (see --help)\n"},
      {CB, 0, "--lr nan", "prog cmd: error: --lr: nan is out of range (want a finite number in [0, 1]) (see --help)\n"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(tparse(bad[i].cmd, bad[i].feats, bad[i].line, &o, err, sizeof err), 2);
    assert_string_equal(err, bad[i].msg);
  }
  /* usage: rows of the command, synopses padded to column 22 or alone */
  char path[600];
  snprintf(path, sizeof path, "%s/usage.txt", tmpdir);
  FILE *f = fopen(path, "w+");
  assert_non_null(f);
  rt_flags_usage(ttab, NT, CA, FX, tfill, "x", f);
  rewind(f);
  char text[1024];
  size_t k = fread(text, 1, sizeof text - 1, f);
  text[k] = 0;
  fclose(f);
  assert_string_equal(text, "usage: x:prog [options]\n"
                            "  --out F             the output\n"
                            "  --n N               a count (default x:n)\n"
                            "                      second line\n"
                            "  --big N --and-a-very-long-synopsis\n"
                            "                      on the next line\n"
                            "  --mode fast|slow\n");
  unlink(path);
  snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
  unlink(path);
}


/* A child opens an atomic write of `target`, writes, tells the parent
 * and waits; SIGKILL before the commit leaves the old target and no
 * temporary file. */
static void test_killed_during_write(void **state) {
  (void)state;
  char target[256], stray[1024];
  snprintf(target, sizeof target, "%s/w.ckpt", tmpdir);
  write_file(target, "old checkpoint");
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    RtOut o;
    RtErr e;
    char buf[65536];
    memset(buf, 'x', sizeof buf);
    if (rt_out_open(&o, target, &e) != 0) _exit(3);
    for (int i = 0; i < 16; i++) fwrite(buf, 1, sizeof buf, o.f);
    fflush(o.f);
    if (write(fds[1], "w", 1) != 1) _exit(4);
    for (;;) pause();
  }
  close(fds[1]);
  char c = 0;
  assert_int_equal(read(fds[0], &c, 1), 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  if (stray_files("w.ckpt", stray, sizeof stray)) {
    print_error("left behind: %s\n", stray);
    fail();
  }
  FILE *f = fopen(target, "rb");
  assert_non_null(f);
  char got[64] = {0};
  assert_true(fread(got, 1, sizeof got - 1, f) > 0);
  fclose(f);
  assert_string_equal(got, "old checkpoint");
  unlink(target);
}

/* A checkpoint writer (rt_st_write) killed by the kernel half-way (a
 * file-size limit: SIGXFSZ on the write past it) leaves no temporary
 * file either. */
static void test_killed_checkpoint_writer(void **state) {
  (void)state;
  char target[256], stray[1024];
  snprintf(target, sizeof target, "%s/c.safetensors", tmpdir);
  write_file(target, "old");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {65536, 65536};
    signal(SIGXFSZ, SIG_DFL);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
    static float w[1 << 18]; /* 1 MiB */
    int64_t dims[1] = {1 << 18};
    RtStEntry t = {"w", RT_F32, 1, dims, w};
    RtErr e;
    rt_st_write(target, &t, 1, &e);
    _exit(0); /* not reached: the write past the limit kills */
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ);
  if (stray_files("c.safetensors", stray, sizeof stray)) {
    print_error("left behind: %s\n", stray);
    fail();
  }
  FILE *f = fopen(target, "rb");
  assert_non_null(f);
  char got[16] = {0};
  assert_int_equal(fread(got, 1, sizeof got - 1, f), 3);
  fclose(f);
  assert_string_equal(got, "old");
  unlink(target);
}

/* ---- run locks (item 12) ---- */

static void test_run_lock(void **state) {
  (void)state;
  char path[256], lockfile[300], other[300];
  snprintf(path, sizeof path, "%s/m.csv", tmpdir);
  snprintf(lockfile, sizeof lockfile, "%s.lock", path);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    RtLock l = {0};
    RtErr e;
    if (rt_lock_acquire(&l, path, &e) != 0) _exit(3);
    if (write(fds[1], "l", 1) != 1) _exit(4);
    for (;;) pause();
  }
  close(fds[1]);
  char c = 0;
  assert_int_equal(read(fds[0], &c, 1), 1);
  close(fds[0]);
  /* held by a running process: refused, under any spelling of the path */
  RtLock l = {0};
  RtErr e = {{0}};
  assert_int_equal(rt_lock_acquire(&l, path, &e), -1);
  assert_non_null(strstr(e.msg, "in use by another running process"));
  assert_non_null(strstr(e.msg, "m.csv"));
  snprintf(other, sizeof other, "%s/./m.csv", tmpdir);
  assert_int_equal(rt_lock_acquire(&l, other, &e), -1);
  /* the holder dies without cleaning up: its lock dies with it */
  kill(pid, SIGKILL);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(access(lockfile, F_OK), 0);
  assert_int_equal(rt_lock_acquire(&l, path, &e), 0);
  assert_true(l.held);
  rt_lock_release(&l);
  assert_false(l.held);
  assert_int_equal(access(lockfile, F_OK), -1);
  rt_lock_release(&l); /* twice: harmless */
  /* one run naming one file twice */
  RtOutFlag outs[2] = {{"--checkpoint", path, 1}, {"--metrics", other, 1}};
  RtLock locks[2];
  memset(locks, 0, sizeof locks);
  assert_int_equal(rt_outputs_prepare(outs, 2, locks, &e), -1);
  assert_non_null(strstr(e.msg, "--checkpoint and --metrics name the same file"));
  assert_false(locks[0].held || locks[1].held);
  assert_int_equal(access(lockfile, F_OK), -1);
  /* a destination that cannot be written is refused before any lock */
  RtOutFlag bad[2] = {{"--metrics", path, 1}, {"--save", "/nonexistent-dir/w.safetensors", 0}};
  assert_int_equal(rt_outputs_prepare(bad, 2, locks, &e), -1);
  assert_non_null(strstr(e.msg, "--save /nonexistent-dir/w.safetensors"));
  assert_false(locks[0].held);
  RtOutFlag good[2] = {{"--metrics", path, 1}, {"--save", NULL, 0}};
  assert_int_equal(rt_outputs_prepare(good, 2, locks, &e), 0);
  assert_true(locks[0].held);
  assert_int_equal(access(lockfile, F_OK), 0);
  rt_outputs_release(locks, 2);
  assert_int_equal(access(lockfile, F_OK), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flag_int),
      cmocka_unit_test(test_flag_double),
      cmocka_unit_test(test_flag_threads),
      cmocka_unit_test(test_flag_table),
      cmocka_unit_test(test_killed_during_write),
      cmocka_unit_test(test_killed_checkpoint_writer),
      cmocka_unit_test(test_run_lock),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
