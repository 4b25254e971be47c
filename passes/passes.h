/* Graph passes. Each pass is one file with one entry point. */
#ifndef SM_PASSES_H
#define SM_PASSES_H

#include "ir/ir.h"
#include "rt_model.h"

/* Reverse-mode differentiation: appends to g the nodes computing
 * d(loss)/d(wrt[i]) for each i, stored in grads[i]. loss must have one
 * element. wrt values with no path to loss get a zero gradient. Errors
 * (a needed gradient through a non-differentiable op) name the node and
 * the value whose gradient needed it. */
SmStatus pass_grad(IrGraph *g, IrValue *loss, IrValue *const *wrt, int nwrt,
                   IrValue **grads, SmDiag *d);

/* Vertical fusion of elementwise chains (sets IrNode.anchor). */
SmStatus pass_fuse(IrGraph *g, SmDiag *d);

/* Constant folding, CSE, algebraic identities, no-op removal
 * (passes/canonicalize.c). */
SmStatus pass_canonicalize(IrGraph *g, SmDiag *d);

/* Folds batchnorm into the conv/gemm before it when every parameter
 * involved carries literal values (passes/fold_bn.c). */
SmStatus pass_fold_bn(IrGraph *g, SmDiag *d);
/* Rewrites the batchnorms fold-bn left (run-time parameters) as a
 * per-channel affine map, an elementwise chain fusion can put into the
 * producer's epilogue (passes/bn_affine.c). */
SmStatus pass_bn_affine(IrGraph *g, SmDiag *d);
/* Gives every parameter literal values (IrValue.data): values[i] for
 * g->params[i], or the declared initializers when values is NULL. For
 * programs whose weights are fixed at compile time (--embed-weights). */
void pass_bind_params(IrGraph *g, const IrTensor *values);

/* ---- the pipeline (passes/pipeline.c) ---- */
typedef struct PassInfo {
  const char *name;
  SmStatus (*run)(IrGraph *g, SmDiag *d);
  const char *requires, *invalidates;
  bool inference_only;
  bool rewrites_params; /* adds or drops parameters: skipped when they are shared */
  bool on_request;      /* runs only when asked for (PassOptions.remat) */
} PassInfo;

typedef struct PassOptions {
  int opt_level;          /* 0: no optimization passes */
  bool inference;         /* the graph is an inference function */
  bool shared_params;     /* a function of a training program: its parameters
                             are the trained ones, shared with the others */
  bool verify;            /* run the verifier after every pass */
  bool remat;             /* run the remat pass (--remat) */
  const char *stop_after; /* stop after this pass (inspect --after) */
  SmBuf *log;             /* per-pass node/kernel counts and times */
} PassOptions;

const PassInfo *pass_table(int *n);

/* The schedule pass (passes/schedule.c): keeps the node order (given, or
 * memory-greedy) whose fused kernel schedule has the smaller peak of live
 * activation bytes; _log writes both peaks and the choice to log (when
 * not NULL). */
SmStatus pass_schedule(IrGraph *g, SmDiag *d);
SmStatus pass_schedule_log(IrGraph *g, SmDiag *d, SmBuf *log);
/* Peak of simultaneously live activation bytes over g's kernel schedule
 * (fused groups as IrNode.anchor says): what the planner packs. */
int64_t pass_schedule_peak(const IrGraph *g);
/* The same with the planner's in-place reuse (a result written over an
 * operand dying in its kernel, codegen/plan.c): the remat pass decides by
 * it. The schedule pass keeps pass_schedule_peak (with this measure it
 * would pick other orders: some arenas shrink, cnn_bn's grows). */
int64_t pass_plan_peak(const IrGraph *g);
/* Rematerialization (passes/remat.c): cheap values the backward reads
 * late are recomputed before their late readers when that lowers the peak
 * of live activation bytes; _log writes both peaks to log (when not NULL). */
SmStatus pass_remat(IrGraph *g, SmDiag *d);
SmStatus pass_remat_log(IrGraph *g, SmDiag *d, SmBuf *log);
SmStatus pass_run_pipeline(IrGraph *g, const PassOptions *o, SmDiag *d);

/* The functions of a training program (see passes/train.c). */
typedef struct TrainProgram {
  IrGraph *infer, *eval, *train; /* eval: NULL with several steps; train = steps[0] */
  IrGraph *steps[RT_MAX_STEPS];  /* `step NAME ...` directives, or one "train" */
  const char *step_names[RT_MAX_STEPS];
  int nsteps;
  int nweights;      /* train->params[0, nweights) are the model's; train
                        holds every parameter of every step */
  RtTrainDesc desc;  /* function/input/output indices, task, schedule */
} TrainProgram;

SmStatus pass_training_program(const IrGraph *model, TrainProgram *tp, SmDiag *d);
/* Frees every graph of tp (a zeroed tp is fine). */
void train_program_free(TrainProgram *tp);

#endif
