/* The op registry: every op group file (in ir/ops) exports a NULL-terminated
 * table of IrOpDef; this file only stitches the groups together. */
#include <string.h>

#include "ir.h"
#include "ops/ops.h"

static const IrOpDef *const *const groups[] = {
    ir_ops_elementwise, ir_ops_logic, ir_ops_linalg, ir_ops_nn, ir_ops_reduce,
    ir_ops_shape, ir_ops_loss, ir_ops_optim, ir_ops_seq,
};

static const IrOpDef **all_ops;

static void build_all(void) {
  int n = 0;
  for (int g = 0; g < SM_COUNT(groups); g++)
    for (int i = 0; groups[g][i]; i++) n++;
  const IrOpDef **all = sm_xcalloc((size_t)n + 1, sizeof *all);
  n = 0;
  for (int g = 0; g < SM_COUNT(groups); g++)
    for (int i = 0; groups[g][i]; i++) all[n++] = groups[g][i];
  all_ops = all;
}

const IrOpDef *const *ir_op_all(void) {
  if (!all_ops) build_all();
  return all_ops;
}

const IrOpDef *ir_op_find(const char *name) {
  const IrOpDef *const *all = ir_op_all();
  for (int i = 0; all[i]; i++)
    if (strcmp(all[i]->name, name) == 0) return all[i];
  return NULL;
}
