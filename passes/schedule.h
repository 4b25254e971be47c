/* The schedule pass (passes/schedule.c). Declared here rather than in
 * passes.h while that header is being edited elsewhere. */
#ifndef SM_SCHEDULE_H
#define SM_SCHEDULE_H

#include "passes.h"

/* Keeps the node order (given, or memory-greedy) whose fused kernel
 * schedule has the smaller peak of live activation bytes. */
SmStatus pass_schedule(IrGraph *g, SmDiag *d);
/* The same, writing both peaks and the choice to log (when not NULL). */
SmStatus pass_schedule_log(IrGraph *g, SmDiag *d, SmBuf *log);
/* Peak of simultaneously live activation bytes over g's kernel schedule
 * (fused groups as IrNode.anchor says): what the planner packs. */
int64_t pass_schedule_peak(const IrGraph *g);

#endif
