/* What training knows about the IR, in one place: the optimizers (each
 * with its update op and hyper-parameters, every default written once),
 * the hyper-parameters an `optimizer` directive may hold, and the names
 * of the ops a capability marks (the loss list of messages).
 *
 * Adding an optimizer: its update op (ir/ops/optim.c, IR_CAP_UPDATE) and
 * one row of ir_optimizers (ir/training.c); a new hyper-parameter also
 * takes a row of ir_opt_hparams (its range) and, for the command line, a
 * flag in cli/main.c. */
#ifndef SM_IR_TRAINING_H
#define SM_IR_TRAINING_H

#include "ir.h"

/* Hyper-parameter defaults: the optimizer rows and the update ops'
 * attribute defaults (ir/ops/optim.c) both read these. */
#define IR_OPT_LR_SGD 0.01      /* learning rate of sgd */
#define IR_OPT_LR 0.001         /* learning rate of every other optimizer */
#define IR_OPT_MOMENTUM 0.9     /* momentum_update's momentum= when absent */
#define IR_OPT_BETA1 0.9
#define IR_OPT_BETA2 0.999
#define IR_OPT_EPS 1e-8         /* adam, rmsprop */
#define IR_OPT_EPS_ADAGRAD 1e-10
#define IR_OPT_ALPHA 0.99       /* rmsprop's smoothing constant */
/* a default as the op docs print it: IR_OPT_STR(IR_OPT_BETA2) is "0.999" */
#define IR_OPT_STR(x) IR_OPT_STR_(x)
#define IR_OPT_STR_(x) #x

/* How a hyper-parameter of the directive reaches the update op. */
typedef enum IrHpSet {
  IR_HP_ALWAYS,    /* set to the directive's value, or the default */
  IR_HP_IF_GIVEN,  /* set only when the directive gives it */
  IR_HP_IF_NONZERO /* set only when its value is not 0 */
} IrHpSet;

typedef struct IrOptHp {
  const char *name; /* the directive's key and the update op's attribute */
  double dflt;      /* when the directive does not give it */
  IrHpSet set;
  bool integer;     /* an INT attribute (otherwise FLOAT) */
} IrOptHp;

#define IR_OPT_MAX_STATE 3
#define IR_OPT_MAX_HP 4

typedef struct IrOptimizer {
  const char *name;   /* `optimizer NAME`, `--optimizer NAME` */
  const char *update; /* its update op: (w, state..., g, lr [, step]) -> (w', state'...) */
  /* suffixes of the zero-started state parameters `W.SUFFIX`, in operand
   * order (NULL-ended) */
  const char *state[IR_OPT_MAX_STATE + 1];
  bool step;          /* the update reads the step counter */
  double lr;          /* default learning rate */
  IrOptHp hp[IR_OPT_MAX_HP + 1]; /* from the directive, in order; {NULL}-ended */
  const char *flag;   /* an INT attribute set to 1 (adamw: decoupled), or NULL */
  /* a variant row used instead when the directive gives one of these keys
   * a nonzero value (sgd with momentum); hidden rows are listed under the
   * name of the row leading to them only */
  const char *unless[2];
  int variant;
  bool hidden;
} IrOptimizer;

extern const IrOptimizer ir_optimizers[];
extern const int ir_noptimizers;

/* The visible row named `name`, or NULL. */
const IrOptimizer *ir_optimizer_find(const char *name);

/* Every key of an `optimizer` directive besides the optimizer's own
 * choice of them (lr, weight_decay and l1 apply to all): its range and
 * whether an integer. In the order the checks report. */
typedef struct IrOptHparam {
  const char *name;
  double lo, hi;
  bool integer;
} IrOptHparam;
extern const IrOptHparam ir_opt_hparams[];
extern const int ir_nopt_hparams;

/* "sgd, adam, adamw, rmsprop, adagrad" into buf. */
const char *ir_optimizer_names(char *buf, size_t n);

#endif
