/* Op semantics of loss.c that its C kernels (codegen/kernels/loss.c) read. */
#ifndef SM_OPS_LOSS_H
#define SM_OPS_LOSS_H

#include "ops.h"

typedef enum { RD_MEAN, RD_SUM, RD_NONE } Reduction;

typedef enum { EL_MSE, EL_L1, EL_BCE, EL_BCE_LOGITS, EL_HINGE } ElKind;

typedef struct ElDef {
  const char *name;
  ElKind kind;
  /* C expressions: loss, d/dp, d/dt; `uses` bit 1: p, bit 2: t, per expr */
  const char *c[3];
  unsigned uses[3];
} ElDef;

Reduction reduction(const IrNode *n);

bool is_ce(const IrNode *n);
bool cls_has_weight(const IrNode *n);
const ElDef *el_def(const IrNode *n);
void el_geo(const IrNode *n, int64_t *N, int64_t *K);

/* C kernels (codegen/kernels/loss.c) */
extern const struct CgOpKernel cgk_cls, cgk_cls_grad, cgk_el, cgk_el_grad;

#endif
