#include "testfile.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frontend/frontend.h"
#include "ir/util.h"
#include "passes/passes.h"

/* noinline: inlined, GCC 12 -O3 suspects the result may point to the
 * local `src` whose address sm_read_file receives (-Wdangling-pointer) */
__attribute__((noinline)) char *test_read_file(const char *path) {
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  if (sm_read_file(path, &src, NULL, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
  return src;
}

char *test_read_example(const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s", SMELT_SOURCE_DIR, file);
  return test_read_file(path);
}

IrGraph *test_parse_into(const char *file, const char *text, SmDiag *d) {
  IrGraph *g = NULL;
  if (fe_parse_text(file, text, &g, d) != SM_OK || !ir_verify(g, d)) {
    print_error("%s did not parse:\n%s\n%s", file, text, sm_diag_text(d));
    ir_graph_free(g);
    fail();
  }
  return g;
}

IrGraph *test_parse(const char *file, const char *text) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = test_parse_into(file, text, &d);
  sm_diag_free(&d);
  return g;
}

void tensors_free(IrTensor *t, int n, bool array) {
  for (int i = 0; i < n; i++) ir_tensor_free(&t[i]);
  if (array) free(t);
}

void test_training_program(IrGraph *g, TrainProgram *tp) {
  SmDiag d;
  sm_diag_init(&d);
  if (pass_training_program(g, tp, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    sm_diag_free(&d);
    fail();
  }
  sm_diag_free(&d);
}

void expect_training_error(const char *file, const char *text, const char *needle) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = test_parse_into(file, text, &d);
  TrainProgram tp;
  SmStatus st = pass_training_program(g, &tp, &d);
  if (st == SM_OK || !strstr(sm_diag_text(&d), needle)) {
    print_error("want an error '%s', got status %d and:\n%s\n", needle, st, sm_diag_text(&d));
    if (st == SM_OK) train_program_free(&tp);
    fail();
  }
  ir_graph_free(g);
  sm_diag_free(&d);
}

IrGraph *test_load_example(const char *file) {
  char *src = test_read_example(file);
  IrGraph *g = test_parse(file, src);
  free(src);
  return g;
}
