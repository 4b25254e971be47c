#include "testfile.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "ir/util.h"

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
