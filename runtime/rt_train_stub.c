/* Temporary weak stand-ins until rt_train.c lands (deleted then). */
#include <stdio.h>

#include "rt_model.h"

__attribute__((weak)) int rt_train_main(const RtModelDesc *d, int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "%s: training is not available in this build\n", d->name);
  return 2;
}

__attribute__((weak)) int rt_eval_main(const RtModelDesc *d, int argc, char **argv) {
  return rt_train_main(d, argc, argv);
}

__attribute__((weak)) double rt_schedule_lr(const RtSchedule *s, int epoch, int64_t step,
                                            double plateau_scale) {
  (void)epoch;
  (void)step;
  return s->lr * plateau_scale;
}
