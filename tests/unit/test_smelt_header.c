/* include/smelt/smelt.h stands alone (included first, nothing before it)
 * and every function it declares is defined in the library. */
#include "smelt/smelt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_status_names(void **state) {
  (void)state;
  const char *seen[SM_ERR_INTERNAL + 1];
  for (int s = SM_OK; s <= SM_ERR_INTERNAL; s++) {
    seen[s] = sm_status_str((SmStatus)s);
    assert_non_null(seen[s]);
    assert_string_not_equal(seen[s], "unknown status");
    for (int k = 0; k < s; k++) assert_string_not_equal(seen[k], seen[s]);
  }
  assert_string_equal(sm_status_str(SM_OK), "ok");
  assert_string_equal(sm_status_str((SmStatus)(SM_ERR_INTERNAL + 1)), "unknown status");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_status_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
