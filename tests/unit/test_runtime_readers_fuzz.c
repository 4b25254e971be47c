/* Regression run of the runtime readers' fuzz corpus (tests/fuzz/readers_corpus,
 * seeds from tests/fuzz/readers_seeds.py plus inputs kept from libFuzzer runs
 * of tests/fuzz/fuzz_readers.c): every file goes through the reader its first
 * byte selects, exactly as in the fuzzer; each returns data or an error with a
 * message, never crashes (this suite also runs under ASan+UBSan). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define FUZZ_READERS_NO_MAIN
#include "../fuzz/fuzz_readers.c"

static char tmpdir[] = "/tmp/smelt_rdfz_XXXXXX";

/* tests/fuzz/readers_corpus beside this file's tests/unit */
static void corpus_dir(char *out, size_t n) {
  const char *src = __FILE__, *cut = strstr(src, "tests/unit/");
  snprintf(out, n, "%.*stests/fuzz/readers_corpus", cut ? (int)(cut - src) : 0, src);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *p = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long sz = ftell(f);
    if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)sz + 1)) &&
        fread(p, 1, (size_t)sz, f) != (size_t)sz) {
      free(p);
      p = NULL;
    }
    *n = (size_t)sz;
  }
  fclose(f);
  return p;
}

static void test_corpus(void **state) {
  (void)state;
  assert_non_null(mkdtemp(tmpdir));
  char dirpath[4096];
  corpus_dir(dirpath, sizeof dirpath);
  DIR *dir = opendir(dirpath);
  if (!dir) fail_msg("cannot open %s", dirpath);
  struct dirent *de;
  int n = 0, ok = 0, bad = 0, per[FZ_NREADERS] = {0};
  while ((de = readdir(dir))) {
    if (de->d_name[0] == '.') continue;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
    size_t size = 0;
    unsigned char *data = slurp(path, &size);
    if (!data) fail_msg("cannot read %s", path);
    RtErr e;
    int rc = fuzz_readers_one(data, size, tmpdir, &e);
    n++;
    ok += rc == 0;
    if (size) per[data[0] % FZ_NREADERS]++;
    if (rc > 0) {
      print_error("%s: reader %d broke its contract (rc without a message or data)\n",
                  de->d_name, size ? data[0] % FZ_NREADERS : -1);
      bad++;
    }
    free(data);
  }
  closedir(dir);
  const char *names[] = {"f.npy", "f.safetensors", "f.idx", "f.idx.gz", "f.csv", "f.csv.gz",
                         "x.npy", "y.idx"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(dirpath, sizeof dirpath, "%s/%s", tmpdir, names[i]);
    unlink(dirpath);
  }
  rmdir(tmpdir);
  printf("readers fuzz corpus: %d files, %d read, %d rejected with an error\n", n, ok, n - ok);
  assert_true(n >= 30);
  for (int k = 0; k < FZ_NREADERS; k++)
    if (!per[k]) fail_msg("no corpus file exercises reader %d", k);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
