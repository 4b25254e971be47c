/* The training loop of compiled programs, inside the runtime: options
 * (rt_train_cli.c), checkpoints and the metrics file (rt_checkpoint.c),
 * the loop core (rt_loop.c) and its two policies: one train step and an
 * eval function per batch (rt_train.c), or several step functions per
 * batch without evaluation (rt_steps.c). */
#ifndef SMELT_RT_LOOP_H
#define SMELT_RT_LOOP_H

#include "rt_model.h"

/* The commands of the flag table (RtFlag.where) */
enum { RT_CMD_TRAIN = 1, RT_CMD_EVAL = 2, RT_CMD_STEPS = 4 };
/* ... and the program's features (RtFlag.needs, .unless) */
enum { RT_FEAT_ONNX = 1, RT_FEAT_LABELS = 2 };

extern const char *const rt_norm_names[3];

typedef struct RtTrainOpts {
  const char *data_dir, *train_x, *train_y, *val_x, *val_y, *csv, *val_csv, *train_csv;
  int target_col;
  double val_split;
  int64_t limit, val_limit;
  int norm; /* -1: by dtype (u8 -> unit) or from the checkpoint */
  int epochs, patience, threads;
  int64_t seed;
  int seed_set, t_max_set;
  RtSchedule sched; /* the model's, with the flags applied */
  const char *metrics, *save, *checkpoint, *resume, *init_weights, *weights, *export_onnx,
      *samples;
} RtTrainOpts;

/* The command `cmd` (RT_CMD_*) of d: flags into o, usage on --help.
 * 0: run; 1: --help printed; 2: usage error (printed). */
int rt_train_parse(const RtModelDesc *d, unsigned cmd, int argc, char **argv, RtTrainOpts *o);

/* The loop's state: what a checkpoint holds beside the parameters. */
typedef struct RtLoopState {
  int64_t epoch; /* epochs done */
  int64_t step;  /* global steps done */
  int64_t seed, bad, best_epoch, has_best, norm_kind;
  double best_val;
  RtPlateau plat;
} RtLoopState;

/* ---- checkpoints and the metrics file (rt_checkpoint.c) ---- */

/* All parameters (weights and optimizer states of every step), the loop
 * state, the best weights (as best_names[p], when L->has_best) and the
 * normalization statistics, atomically. */
int rt_ckpt_save(const char *path, const RtModel *m, const RtLoopState *L,
                 const unsigned char *best, char **best_names, const RtNorm *nm, RtErr *e);
/* Reads every parameter; with L, the loop state (validated) and best
 * weights too; with nm (xper features), the stored normalization when
 * present. */
int rt_ckpt_load(const char *path, RtModel *m, RtLoopState *L, unsigned char *best,
                 char **best_names, RtNorm *nm, int64_t xper, RtErr *e);
/* --init-weights: weights whose names match; shape mismatches are errors. */
int rt_ckpt_init_weights(RtModel *m, const char *path, RtErr *e);
/* A fresh run: the header alone. Resume: the rows up to `epoch` survive
 * under the header; a missing file gets the header. */
int rt_metrics_file_start(const char *path, const char *header, int resume, int64_t epoch,
                          RtErr *e);
/* "epoch,step,v[0],...,v[n-1],seconds" (%.9g values, %.3f seconds). */
int rt_metrics_file_row(const char *path, int64_t epoch, int64_t step, const double *v, int n,
                        double secs, RtErr *e);

/* ---- the loop core (rt_loop.c) ---- */

typedef struct RtRun RtRun;

/* What differs between one train step with evaluation and several step
 * functions per batch. Hooks left NULL do nothing. */
typedef struct RtLoopPolicy {
  /* The first lines; 1: stop before the first epoch (exit 0). */
  int (*intro)(RtRun *r, int64_t nb);
  void (*epoch_begin)(RtRun *r);
  /* Runs the batch idx[0..N) with learning rate lr; -1: stop (printed). */
  int (*batch)(RtRun *r, const int64_t *idx, double lr, int64_t b, int64_t nb);
  /* The live progress line after batch b (counted from 0). */
  void (*progress)(RtRun *r, int64_t b, int64_t nb, double elapsed, int tty);
  /* After the epoch's batches, before the epoch is counted. */
  int (*evaluate)(RtRun *r);
  /* The epoch is done (r->L.epoch counts it): report it, put its metrics
   * row's values into row (*nrow of them); -1: failure (r->e). */
  int (*report)(RtRun *r, double lr, double secs, double *row, int *nrow);
  /* 1: stop training (early stopping). */
  int (*stop)(RtRun *r);
  /* After the loop, before the weights are saved; -1: failure. */
  int (*finish)(RtRun *r);
  /* The metrics file's header line. */
  void (*metrics_header)(const RtRun *r, char *buf, size_t n);
} RtLoopPolicy;

struct RtRun {
  const RtModelDesc *d;
  const RtLoopPolicy *p;
  unsigned cmd;
  RtTrainOpts o;
  RtData train, val; /* eval: val is the evaluated set, train only for statistics */
  int has_train;
  RtNorm norm;
  RtModel *m;
  RtLoopState L;
  int64_t *perm;
  unsigned char *best; /* early stopping: the best epoch's weights */
  char **best_names;
  RtMetrics tm, vm;                /* one step: training and validation metrics */
  double step_loss[RT_MAX_STEPS]; /* several steps: loss sums of the epoch */
  int tty; /* stdout is a terminal */
  RtErr e;
};

/* `PROG train` with a policy: flags, outputs locked, data, model, resume,
 * the epochs, final weights; the exit status. */
int rt_loop_main(const RtModelDesc *d, const RtLoopPolicy *p, unsigned cmd, int argc,
                 char **argv);
/* The data sets of r->o for r->cmd (training and validation sets, or
 * the evaluated set and training statistics; see RtRun). */
int rt_loop_load_sets(RtRun *r);
/* The default normalization of data set d for the model input xt. */
int rt_loop_default_norm(const RtData *d, const RtTensorDesc *xt);
/* The loss l of step function fn: 0 when finite, else prints why training
 * stops (batch b of nb) and returns -1. */
int rt_loop_check_loss(RtRun *r, int fn, double l, int64_t b, int64_t nb);
/* The classes of a classifier: the last dim of the eval function's
 * predictions (2 for a single logit). */
int64_t rt_loop_nclass(const RtModelDesc *d);
void rt_loop_fmt_time(double s, char *buf, size_t n);

#endif
