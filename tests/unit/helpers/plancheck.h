/* An independent check of the memory plan: no two buffers that are alive
 * at the same time overlap, everything fits its region. */
#ifndef SM_PLANCHECK_H
#define SM_PLANCHECK_H

#include "ir/ir.h"

/* Plans g (as codegen would) and fails the current cmocka test on any
 * overlap of simultaneously live buffers. */
void plancheck(const IrGraph *g);

#endif
