/* Whole examples: the compiled program agrees with the reference
 * interpreter on random inputs. Whole networks accumulate f32 rounding over
 * several layers, so the tolerance here is |gen - ref| <= 1e-5 + 1e-4*|ref|. */
#include <stdio.h>
#include <stdlib.h>

#include "helpers/opcheck.h"
#include "helpers/testfile.h"
#include "ir/util.h"

static void check_example(const char *file) {
  char *src = test_read_example(file);
  OpcheckOpts o = opcheck_tol(1e-4, 1e-5);
  o.lo = 0; /* image-like inputs */
  o.hi = 1;
  double worst = opcheck_opts(src, &o);
  printf("# %s: worst relative error %.3g\n", file, worst);
  free(src);
}

static void test_lenet(void **state) { (void)state; check_example("lenet.smelt"); }
static void test_mlp(void **state) { (void)state; check_example("mlp.smelt"); }
static void test_cnn_bn(void **state) { (void)state; check_example("cnn_bn.smelt"); }
/* the generator's samples from fixed noise (random_normal) */
static void test_gan(void **state) { (void)state; check_example("gan.smelt"); }
/* teacher-forced logits and the unrolled greedy decoding (argmax fed back):
 * the decoded ids must match exactly */
static void test_seq2seq(void **state) { (void)state; check_example("seq2seq.smelt"); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lenet),
      cmocka_unit_test(test_mlp),
      cmocka_unit_test(test_cnn_bn),
      cmocka_unit_test(test_gan),
      cmocka_unit_test(test_seq2seq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
