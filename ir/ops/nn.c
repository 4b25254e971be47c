/* placeholder: replaced by the nn op group */
#include "ops.h"
const IrOpDef *const ir_ops_nn[] = {NULL};
