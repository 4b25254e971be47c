/* The contract between generated code and the runtime: a generated model
 * fills one RtModelDesc (tensor tables, buffer sizes, the step function);
 * the runtime owns instances, weights I/O and the standalone CLI. */
#ifndef SMELT_RT_MODEL_H
#define SMELT_RT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

enum { RT_REGION_ARENA = 0, RT_REGION_PARAMS = 1 };

typedef struct RtTensorDesc {
  const char *name;
  int dtype; /* RtDType */
  int rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel;
  int region;    /* where the tensor lives */
  size_t offset; /* bytes from the region's start */
  /* parameters only */
  int init;      /* RtInitKind */
  double init_a, init_b;
  const void *embedded; /* baked-in weights (--embed-weights) or NULL */
} RtTensorDesc;

/* One entry point of a compiled program. All functions of a program share
 * its parameters (and one activation arena: they never run concurrently
 * within one instance). */
typedef struct RtFuncDesc {
  const char *name; /* "infer", "eval", "train" */
  int ninputs, noutputs;
  const RtTensorDesc *inputs, *outputs;
  void (*run)(unsigned char *params, unsigned char *arena);
} RtFuncDesc;

/* Learning-rate schedules, evaluated on the host once per step. */
typedef enum RtSchedKind {
  RT_SCHED_CONSTANT,
  RT_SCHED_STEP,        /* lr * gamma^(epoch / step_size) */
  RT_SCHED_MULTISTEP,   /* lr * gamma^(number of milestones <= epoch) */
  RT_SCHED_EXPONENTIAL, /* lr * gamma^epoch */
  RT_SCHED_COSINE,      /* eta_min + (lr - eta_min)(1 + cos(pi * epoch / t_max)) / 2 */
  RT_SCHED_PLATEAU,     /* lr *= gamma after `patience` epochs without val-loss improvement */
} RtSchedKind;

typedef struct RtSchedule {
  int kind;           /* RtSchedKind */
  double lr;          /* base learning rate */
  double gamma;       /* decay factor (step, multistep, exponential, plateau) */
  int step_size;      /* epochs (step) */
  int milestones[8];  /* epochs (multistep), ascending */
  int nmilestones;
  int t_max;          /* epochs (cosine) */
  double eta_min;     /* cosine floor */
  int patience;       /* epochs (plateau) */
  int warmup_steps;   /* linear warmup from 0 over this many steps, any kind */
} RtSchedule;

enum { RT_TASK_CLASSIFY = 0, RT_TASK_REGRESS = 1 };

/* What a training program's loop needs to know about its functions. */
typedef struct RtTrainDesc {
  int train_fn, eval_fn; /* indices into RtModelDesc.funcs */
  /* input indices, valid in both functions: features, labels/targets;
   * and in the train function: learning rate f32[] and step i64[] */
  int in_x, in_y, in_lr, in_step;
  /* output indices in both functions: loss (train: scalar mean; eval:
   * per-sample f32[N]) and predictions (e.g. logits f32[N,C]) */
  int out_loss, out_pred;
  int task;              /* RtTaskKind */
  int epochs;            /* default for `train` */
  RtSchedule schedule;   /* default schedule; flags override */
  int patience;          /* early stopping on val loss; 0: off */
} RtTrainDesc;

typedef struct RtModelDesc {
  const char *name;
  uint64_t seed;
  /* function 0 ("infer"), repeated here for the simple C API */
  int ninputs, noutputs, nparams;
  const RtTensorDesc *inputs, *outputs, *params;
  size_t param_bytes, arena_bytes;
  void (*run)(unsigned char *params, unsigned char *arena);
  int nfuncs;
  const RtFuncDesc *funcs;
  const RtTrainDesc *train; /* NULL: inference-only program */
  /* parameters that are state, not weights (optimizer moments, running
   * statistics): params[i] is state iff i >= nweights; checkpoints hold
   * all, exported weights only the first nweights */
  int nweights;
} RtModelDesc;

typedef struct RtModel {
  const RtModelDesc *desc;
  unsigned char *params; /* one block for every parameter */
  unsigned char *arena;  /* inputs, outputs and activations */
  RtErr err;
} RtModel;

/* Parameters start from the declared initializers (or embedded weights). */
RtModel *rt_model_create(const RtModelDesc *d);
void rt_model_free(RtModel *m);
int rt_model_load_weights(RtModel *m, const char *path);
int rt_model_save_weights(RtModel *m, const char *path);
void *rt_model_tensor(const RtModel *m, const RtTensorDesc *t);
int rt_model_find_input(const RtModel *m, const char *name);
void rt_model_run(RtModel *m);
int rt_model_find_func(const RtModel *m, const char *name);
void rt_model_run_func(RtModel *m, int fn);
void *rt_model_func_input(const RtModel *m, int fn, int i);
const void *rt_model_func_output(const RtModel *m, int fn, int i);

/* Load an input tensor from a file into dst (dtype/shape of t):
 *  .npy  - must match t's dtype and shape exactly;
 *  IDX (.gz or not, e.g. Fashion-MNIST images) - the first dims[0] samples
 *          whose per-sample element count matches t's, u8 scaled to [0,1]
 *          when t is float. */
int rt_load_tensor_file(const char *path, const RtTensorDesc *t, void *dst,
                        RtErr *e);

/* The standalone program: --weights, --input, --output, --threads, --help;
 * training programs add the subcommands train, eval and infer. */
int rt_main(const RtModelDesc *d, int argc, char **argv);
/* `PROG train ...` and `PROG eval ...` (runtime/rt_train.c); argv[0] is the
 * subcommand. */
int rt_train_main(const RtModelDesc *d, int argc, char **argv);
int rt_eval_main(const RtModelDesc *d, int argc, char **argv);
/* Learning rate at (epoch, global step) for a schedule; `plateau_scale` is
 * the accumulated reduce-on-plateau factor kept by the caller. */
double rt_schedule_lr(const RtSchedule *s, int epoch, int64_t step, double plateau_scale);

#endif
