/* Op semantics of optim.c that its C kernels (codegen/kernels/optim.c) read. */
#ifndef SM_OPS_OPTIM_H
#define SM_OPS_OPTIM_H

#include "ops.h"

typedef enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD } OptKind;

typedef struct OptDef {
  const char *name;
  OptKind kind;
  int nstate;
} OptDef;

/* Attribute values, defaults applied. */
typedef struct OptHp {
  double wd, l1, lr_mult;
  double momentum, dampening;
  int64_t nesterov;
  double beta1, beta2, eps;
  int64_t decoupled;
  double alpha, init_acc;
} OptHp;

const OptDef *opt_def(const IrNode *n);
int in_g(const IrNode *n);
int in_lr(const IrNode *n);
bool has_step(const IrNode *n);
OptHp opt_hp(const IrNode *n);

/* C kernels (codegen/kernels/optim.c) */
extern const struct CgOpKernel cgk_opt_update;
extern const struct CgOpKernel cgk_grad_clip_scale;

#endif
