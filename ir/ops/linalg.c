/* placeholder: replaced by the linalg op group */
#include "ops.h"
const IrOpDef *const ir_ops_linalg[] = {NULL};
