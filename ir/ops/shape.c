/* placeholder: replaced by the shape op group */
#include "ops.h"
const IrOpDef *const ir_ops_shape[] = {NULL};
