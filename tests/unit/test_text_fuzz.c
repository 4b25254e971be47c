/* Regression run of the text format's fuzz corpus (tests/fuzz/text_corpus:
 * the seeds, examples and pass tests without comments, plus inputs kept
 * from libFuzzer runs of tests/fuzz/fuzz_text.c). Every file goes through
 * the fuzz target itself (parse, verify, the pass pipeline with the
 * verifier after each pass, the training program, C emission): it must
 * neither crash nor trap (this suite also runs under ASan+UBSan). */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../fuzz/fuzz_text.c"

#define CORPUS SMELT_SOURCE_DIR "/tests/fuzz/text_corpus"

static void test_corpus(void **state) {
  (void)state;
  DIR *dir = opendir(CORPUS);
  assert_non_null(dir);
  struct dirent *de;
  int n = 0, parsed = 0;
  while ((de = readdir(dir))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", CORPUS, de->d_name);
    char *text = NULL;
    size_t len = 0;
    SmDiag d;
    sm_diag_init(&d);
    assert_int_equal(sm_read_file(path, &text, &len, &d), SM_OK);
    LLVMFuzzerTestOneInput((const uint8_t *)text, len);
    /* count the files that parse (the rest are rejected with errors) */
    SmDiag q;
    sm_diag_init(&q);
    IrGraph *g = NULL;
    if (strlen(text) == len && fe_parse_text(de->d_name, text, &g, &q) == SM_OK) parsed++;
    ir_graph_free(g);
    sm_diag_free(&q);
    sm_diag_free(&d);
    free(text);
    n++;
  }
  closedir(dir);
  printf("text fuzz corpus: %d files, %d parse\n", n, parsed);
  assert_true(n >= 20);
  assert_true(parsed >= 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
