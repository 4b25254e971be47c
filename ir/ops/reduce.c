/* placeholder: replaced by the reduce op group */
#include "ops.h"
const IrOpDef *const ir_ops_reduce[] = {NULL};
