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
/* A generated kernel, for profiles: "k12 conv2d+relu", FLOPs (gemm-like
 * multiply-adds x2 plus one per elementwise result; gemm_flops: the
 * former alone) and bytes of its operands and results. */
typedef struct RtKernelDesc {
  const char *name;
  double flops, gemm_flops, bytes;
} RtKernelDesc;

typedef struct RtFuncDesc {
  const char *name; /* "infer", "eval", "train" */
  int ninputs, noutputs;
  const RtTensorDesc *inputs, *outputs;
  void (*run)(unsigned char *params, unsigned char *arena);
  /* run, adding each kernel's seconds into t[k] */
  void (*run_prof)(unsigned char *params, unsigned char *arena, double *t);
  int nkernels;
  const RtKernelDesc *kernels;
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
#define RT_MAX_STEPS 4
/* Bounds of the loop state: --epochs, and a checkpoint's epoch and step
 * counters (steps stay exact as doubles) */
#define RT_MAX_EPOCHS 100000000
#define RT_MAX_GLOBAL_STEP 1000000000000000LL

/* What a training program's loop needs to know about its functions.
 * A supervised program has one train step and an eval function; a program
 * with several steps (a GAN's discriminator and generator updates) runs
 * each step function in turn on every batch, has no eval function
 * (eval_fn -1), may have no labels (in_y -1) and no predictions
 * (out_pred -1); each step's loss is its output out_loss. */
typedef struct RtTrainDesc {
  int train_fn, eval_fn; /* indices into RtModelDesc.funcs; train_fn: the first step */
  /* input indices, valid in both functions: features, labels/targets;
   * and in the train function: learning rate f32[] and step i64[] (the
   * number of this update, counting from 1) */
  int in_x, in_y, in_lr, in_step;
  /* output indices in both functions: loss (train: scalar mean; eval:
   * per-sample f32[N]) and predictions (e.g. logits f32[N,C]) */
  int out_loss, out_pred;
  int task;              /* RtTaskKind */
  int epochs;            /* default for `train` */
  RtSchedule schedule;   /* default schedule; flags override */
  int patience;          /* early stopping on val loss; 0: off */
  int nsteps;            /* step functions per batch (1: train_fn alone) */
  int step_fn[RT_MAX_STEPS];
} RtTrainDesc;

/* An ONNX model's bytes without the initializers a training program
 * trains (codegen embeds it; runtime/rt_onnx.c writes the model back with
 * the current weights). */
typedef struct RtOnnxTemplate {
  const unsigned char *model, *graph; /* packed ModelProto (no graph), GraphProto */
  size_t model_len, graph_len;
  int n;                              /* initializers to write */
  const int *param;                   /* their indices into params (weights) */
  const int *onnx_type;               /* their ONNX element types */
} RtOnnxTemplate;

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
  const RtOnnxTemplate *onnx; /* ONNX-imported training programs, else NULL */
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
/* 0 when every float element of parameters [0, n) is finite; otherwise
 * -1 with e naming the first parameter ("parameter" below nweights, else
 * "optimizer state"), its element and value. */
int rt_params_check_finite(const RtModel *m, int n, RtErr *e);
/* After an epoch of training: 0 while every parameter and optimizer state
 * is finite; otherwise prints why training stops (after `epoch`, at global
 * step `step`; the checkpoint, if any, keeps epoch `ckpt_epoch`) and
 * returns 1. ReLU and max-pool can hide such values from the loss. */
int rt_train_stop_nonfinite(const RtModel *m, long long epoch, long long step,
                            const char *checkpoint, long long ckpt_epoch);
int rt_model_find_input(const RtModel *m, const char *name);
void rt_model_run(RtModel *m);
int rt_model_find_func(const RtModel *m, const char *name);
void rt_model_run_func(RtModel *m, int fn);
void *rt_model_func_input(const RtModel *m, int fn, int i);
const void *rt_model_func_output(const RtModel *m, int fn, int i);

/* Load an input tensor from a file into dst (dtype/shape of t):
 *  .npy  - must match t's dtype and shape exactly;
 *  IDX (.gz or not, e.g. Fashion-MNIST images) or numeric CSV (.csv[.gz],
 *          one sample per row) - the first dims[0] samples whose
 *          per-sample element count matches t's, u8 scaled to [0,1] when t
 *          is float. */
int rt_load_tensor_file(const char *path, const RtTensorDesc *t, void *dst,
                        RtErr *e);

/* The standalone program: --weights, --input, --output, --threads, --help;
 * training programs add the subcommands train, eval and infer. */
int rt_main(const RtModelDesc *d, int argc, char **argv);
/* `PROG train ...` and `PROG eval ...` (runtime/rt_train.c); argv[0] is the
 * subcommand. */
int rt_train_main(const RtModelDesc *d, int argc, char **argv);
int rt_eval_main(const RtModelDesc *d, int argc, char **argv);
/* `PROG train ...` of a program with several steps per batch (a GAN),
 * runtime/rt_steps.c. */
int rt_steps_train_main(const RtModelDesc *d, int argc, char **argv);
/* The model as ONNX with the current weights (d->onnx must be set),
 * written atomically. */
int rt_onnx_write(const char *path, const RtModel *m, RtErr *e);
/* `PROG generate ...`: sampling text from a next-token model
 * (runtime/rt_generate.c). */
int rt_generate_main(const RtModelDesc *d, int argc, char **argv);
/* A batch of grayscale images ([N,1,H,W], [N,H,W] or [N,P], P square) in
 * pixel units (clamped to [0,255]; a batch entirely within [0,1] is scaled
 * by 255) as one PGM grid, atomically (runtime/rt_image.c). */
int rt_pgm_write_grid(const char *path, int dtype, int rank, const int64_t *dims,
                      const void *data, RtErr *e);
int rt_path_is_pgm(const char *path);
/* ---- measuring (runtime/rt_bench.c) ---- */
typedef struct RtPeak {
  int lanes;       /* widest vector probed (0: no probe on this target) */
  double gf1, gfn; /* GFLOP/s of FMA chains on 1 and on N threads */
} RtPeak;
RtPeak rt_fma_peak(int threads);
/* Deterministic inputs of function fn: floats U[-1,1), integers k % 2
 * (valid labels of any classifier), lr 0.01 and step 1 in training steps. */
void rt_bench_fill_inputs(const RtModel *m, int fn);
typedef struct RtStepTimes {
  double median, min; /* seconds per step */
} RtStepTimes;
/* 3 warm-up steps, `repeat` timed steps; then prof_steps profiled steps
 * adding each kernel's seconds into kt[k] (kt NULL: none). */
RtStepTimes rt_bench_func(RtModel *m, int fn, int repeat, int prof_steps, double *kt);
/* The kernels of f by time (t: seconds summed over `steps` steps), the
 * `top` slowest (0: all) with GFLOP/s, % of `peak` GFLOP/s (0: unknown)
 * and GB/s of the bytes they touch. */
void rt_profile_print(FILE *o, const RtFuncDesc *f, const double *t, int steps, double peak,
                      int top);
/* `PROG bench ...` */
int rt_bench_main(const RtModelDesc *d, int argc, char **argv);

/* Learning rate at (epoch, global step) for a schedule; `plateau_scale` is
 * the accumulated reduce-on-plateau factor kept by the caller. */
double rt_schedule_lr(const RtSchedule *s, int epoch, int64_t step, double plateau_scale);

/* ---- the training runtime's pieces (rt_data.c, rt_metrics.c, rt_train.c),
 * declared here for tests ---- */

/* Element i of a buffer of `dtype`, as a double, and back. */
double rt_elem_get(int dtype, const void *p, int64_t i);
void rt_elem_put(int dtype, void *p, int64_t i, double v);

/* A dataset: samples along dims[0] of x (features) and y (labels or
 * targets), kept in the files' dtypes and converted batch by batch. */
typedef struct RtData {
  RtArray x, y;
  int64_t n;          /* samples in use (<= x.dims[0] after a limit) */
  int64_t xper, yper; /* elements per sample */
  char xname[256], yname[256]; /* for messages */
} RtData;
void rt_data_free(RtData *d);
/* Numeric CSV to f64[rows, cols]. Fields are separated by commas (spaces and
 * double quotes around a field are ignored); a first line with a
 * non-numeric field is a header and skipped; blank lines are skipped; every
 * row needs the same number of fields (at most 1,000,000; lines at most
 * 256 MiB); values must be finite. Errors name file:line:column. */
int rt_csv_read(const char *path, RtArray *out, RtErr *e);
/* 0 if every element of a float array is finite; otherwise an error naming
 * path and the first NaN or infinity by sample (index along dims[0]) and
 * feature (flat index within the sample). Integer arrays always pass. */
int rt_array_check_finite(const RtArray *a, const char *path, RtErr *e);
/* 0 if every value of a fits the model's tensor t when t has an integer
 * dtype (an integer in its range: float files, and CSV is always f64, may
 * hold fractions or huge values); otherwise an error naming path, `what`
 * ("training features"), the sample and the element. */
int rt_array_check_ints(const RtArray *a, const char *path, const char *what,
                        const RtTensorDesc *t, RtErr *e);
/* Any array file: .npy, .csv[.gz], otherwise IDX (plain or .gz). Data
 * must be finite (rt_array_check_finite). */
int rt_array_load(const char *path, RtArray *out, RtErr *e);
/* x and y from two files (same number of samples, compared from their
 * headers before the data is read where the formats allow); ypath may be
 * NULL (features only, y left empty). */
int rt_data_load(RtData *d, const char *xpath, const char *ypath, RtErr *e);
/* One CSV: column target_col is y (negative: counted from the end, -1 is the
 * last), the others x. */
int rt_data_load_csv(RtData *d, const char *path, int target_col, RtErr *e);
/* DIR/PREFIX-images-idx3-ubyte[.gz] and DIR/PREFIX-labels-idx1-ubyte[.gz]
 * (PREFIX "train" or "t10k", the MNIST layout); 1 if either is absent. */
int rt_data_find_dir(const char *dir, const char *prefix, char *xpath,
                     char *ypath, size_t n);
void rt_data_limit(RtData *d, int64_t n);
/* Moves the last round(frac * n) samples of d into val (a copy). */
int rt_data_split(RtData *d, double frac, RtData *val, RtErr *e);
/* Checks per-sample element counts against the model's x and y (of one
 * function) and, for classifiers with one label per sample, that labels are
 * integers in [0, nclass). `what` names the set ("training", ...). */
int rt_data_check(const RtData *d, const char *what, const RtTensorDesc *x,
                  const RtTensorDesc *y, int task, int64_t nclass, RtErr *e);

typedef enum RtNormKind {
  RT_NORM_NONE,
  RT_NORM_UNIT,     /* u8: x / 255; other dtypes: per-feature min-max */
  RT_NORM_STANDARD, /* per-feature (x - mean) / std */
} RtNormKind;
/* x' = (x - shift[j]) * scale[j] per feature j; NULL arrays: identity. */
typedef struct RtNorm {
  int kind;
  int64_t n;
  double *shift, *scale;
} RtNorm;
/* Statistics from the first d->n samples of d. */
int rt_norm_fit(RtNorm *nm, int kind, const RtData *d, RtErr *e);
void rt_norm_free(RtNorm *nm);
/* Writes samples idx[0..count) of d into x and y (the model's tensors xt,
 * yt; y may be NULL), converting dtypes and normalizing x. u8 targets
 * (image files) become [0,1] in float tensors, like u8 inputs. */
/* Target element k of d as a tensor of `dtype` sees it (u8 / 255 when
 * dtype is float). */
double rt_data_target(const RtData *d, int64_t k, int dtype);
void rt_data_fill(const RtData *d, const RtNorm *nm, const int64_t *idx,
                  int64_t count, const RtTensorDesc *xt, void *x,
                  const RtTensorDesc *yt, void *y);
/* perm = a permutation of 0..n-1, a pure function of (seed, epoch):
 * Fisher-Yates driven by rt_uniform. */
void rt_shuffle(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

/* Running metrics over samples: loss sum, a confusion matrix for
 * classifiers, squared and absolute errors for regression. */
typedef struct RtMetrics {
  int task;
  int64_t nclass;     /* classifiers: prediction columns (2 for one logit) */
  int64_t n;          /* predictions counted: samples x positions */
  int64_t positions;  /* classifier predictions per sample (sequence models: T) */
  double loss_sum;    /* kept by the caller */
  int64_t *confusion; /* [nclass, nclass], rows: true class; NULL above 1024 classes */
  int64_t *tp, *support, *predicted; /* [nclass]: right, labelled, predicted as c */
  double se, ae;      /* regression: summed over nelem elements */
  int64_t nelem;
} RtMetrics;
int rt_metrics_init(RtMetrics *mt, int task, int64_t nclass, RtErr *e);
void rt_metrics_reset(RtMetrics *mt);
void rt_metrics_free(RtMetrics *mt);
/* Counts rows [0, count) of pred (tensor pt) against the labels of samples
 * idx[0..count) of d. One pred column is a logit (class 1 iff > 0); labels
 * with several columns (one-hot) count as their argmax. A classifier's
 * sample may hold P = rt_pred_positions predictions (logits [N,T,C] of a
 * sequence model: P = T) against P class ids or P one-hot rows; each
 * counts once (n += count * P). */
void rt_metrics_add(RtMetrics *mt, const RtTensorDesc *pt, const void *pred,
                    const RtData *d, const int64_t *idx, int64_t count);
double rt_metrics_loss(const RtMetrics *mt);
/* Predictions per sample of a classifier with nclass classes: the pred
 * tensor's per-sample size / nclass (1 for one logit or one row). */
int64_t rt_pred_positions(const RtTensorDesc *pt, int64_t nclass);
double rt_metrics_accuracy(const RtMetrics *mt);
double rt_metrics_mse(const RtMetrics *mt);
double rt_metrics_mae(const RtMetrics *mt);
/* Precision, recall, F1 of class c (0 when undefined); support returned. */
int64_t rt_metrics_prf(const RtMetrics *mt, int64_t c, double *p, double *r,
                       double *f1);
/* Mean F1 over the classes that occur as label or prediction. */
double rt_metrics_macro_f1(const RtMetrics *mt);
/* The final report: loss and accuracy, per-class P/R/F1, macro F1 and the
 * confusion matrix (classifiers); loss, MSE and MAE (regression). */
void rt_metrics_print(const RtMetrics *mt, const char *title, FILE *f);

/* ReduceLROnPlateau (PyTorch, mode min, relative threshold 1e-4): after
 * more than `patience` epochs without improvement scale *= gamma and the
 * count restarts. Returns 1 when it reduced. */
typedef struct RtPlateau {
  double best;
  int64_t bad;
  double scale;
} RtPlateau;
void rt_plateau_init(RtPlateau *p);
int rt_plateau_step(RtPlateau *p, double loss, double gamma, int patience);

/* Runs the eval function over all d->n samples of d in batches; the last
 * partial batch wraps around to the start and only its real samples count.
 * mt must be initialized (it is reset first). */
int rt_evaluate(RtModel *m, const RtData *d, const RtNorm *nm, RtMetrics *mt,
                RtErr *e);

#endif
