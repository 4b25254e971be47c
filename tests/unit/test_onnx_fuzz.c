/* Regression run of the ONNX importer's fuzz corpus (tests/fuzz/onnx_corpus,
 * kept from libFuzzer runs of tests/fuzz/fuzz_onnx.c): every file is
 * imported from disk; the importer returns either a graph or errors that
 * say why, and never crashes (this suite also runs under ASan+UBSan). */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frontend/frontend.h"

#define CORPUS SMELT_SOURCE_DIR "/tests/fuzz/onnx_corpus"

static void test_corpus(void **state) {
  (void)state;
  DIR *dir = opendir(CORPUS);
  assert_non_null(dir);
  struct dirent *de;
  int n = 0, ok = 0, bad = 0;
  const FeOptions fo = {.input_shapes = {"batch=2", "N=2", "T=3"}, .ninput_shapes = 3};
  while ((de = readdir(dir))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", CORPUS, de->d_name);
    SmDiag d;
    sm_diag_init(&d);
    IrGraph *g = NULL;
    SmStatus s = fe_load_onnx(path, &fo, &g, &d);
    n++;
    if (s == SM_OK) {
      ok++;
      if (!g) {
        print_error("%s: status OK without a graph\n", de->d_name);
        bad++;
      }
    } else if (g || d.nerrors == 0 || !*sm_diag_text(&d)) {
      print_error("%s: status %d, graph %p, %d errors\n", de->d_name, (int)s, (void *)g, d.nerrors);
      bad++;
    }
    ir_graph_free(g);
    sm_diag_free(&d);
  }
  closedir(dir);
  printf("onnx fuzz corpus: %d files, %d imported, %d rejected with an error\n", n, ok, n - ok);
  assert_true(n >= 20);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
