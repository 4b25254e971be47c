/* The training loop of compiled programs (`PROG train`, `PROG eval`):
 * options, learning-rate schedules, shuffled mini-batches, validation,
 * early stopping, checkpoints and resume, the final report. Every epoch's
 * shuffle is a pure function of (seed, epoch) and the step counter is part
 * of the checkpoint, so a resumed run repeats an uninterrupted one. */
#include "rt_model.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- schedules ---- */

double rt_schedule_lr(const RtSchedule *s, int epoch, int64_t step, double plateau_scale) {
  double lr = s->lr;
  int e = epoch < 0 ? 0 : epoch;
  switch (s->kind) {
  case RT_SCHED_STEP:
    if (s->step_size > 0) lr *= pow(s->gamma, (double)(e / s->step_size));
    break;
  case RT_SCHED_MULTISTEP: {
    int k = 0;
    for (int i = 0; i < s->nmilestones && i < 8; i++) k += s->milestones[i] <= e;
    lr *= pow(s->gamma, k);
    break;
  }
  case RT_SCHED_EXPONENTIAL: lr *= pow(s->gamma, e); break;
  case RT_SCHED_COSINE:
    if (s->t_max > 0)
      lr = s->eta_min + (s->lr - s->eta_min) * (1 + cos(3.14159265358979323846 * e / s->t_max)) / 2;
    break;
  case RT_SCHED_PLATEAU: lr *= plateau_scale; break;
  default: break;
  }
  if (s->warmup_steps > 0 && step >= 0 && step < s->warmup_steps)
    lr *= (double)step / s->warmup_steps;
  return lr;
}

void rt_plateau_init(RtPlateau *p) {
  p->best = INFINITY;
  p->bad = 0;
  p->scale = 1;
}

int rt_plateau_step(RtPlateau *p, double loss, double gamma, int patience) {
  if (loss < p->best * (1 - 1e-4)) {
    p->best = loss;
    p->bad = 0;
    return 0;
  }
  if (++p->bad > patience) {
    p->scale *= gamma;
    p->bad = 0;
    return 1;
  }
  return 0;
}

/* ---- options ---- */

static const char *const sched_names[] = {"constant", "step",   "multistep",
                                          "exponential", "cosine", "plateau"};
static const char *const norm_names[] = {"none", "unit", "standard"};

typedef struct Opts {
  const char *data_dir, *train_x, *train_y, *val_x, *val_y, *csv, *val_csv, *train_csv;
  int target_col;
  double val_split;
  int64_t limit, val_limit;
  int norm; /* -1: by dtype (u8 -> unit) or from the checkpoint */
  int epochs, patience, threads;
  int64_t seed;
  int seed_set;
  RtSchedule sched;
  const char *metrics, *save, *checkpoint, *resume, *init_weights, *weights, *export_onnx;
} Opts;

static void usage_data(FILE *f, int eval) {
  fprintf(f,
          "data (one source):\n"
          "  --data DIR          MNIST-layout IDX directory: %s\n"
          "                      (.gz or not)%s\n",
          eval ? "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
               : "train-images-idx3-ubyte, train-labels-idx1-ubyte",
          eval ? "; the train-* files give --normalize standard\n"
                 "                      statistics when there is no checkpoint"
               : "; t10k-* files, when present,\n"
                 "                      are the validation set");
  if (eval)
    fprintf(f, "  --x F --y F         features and labels: .npy, .csv[.gz] or IDX[.gz]\n"
               "  --csv F             numeric CSV (a non-numeric first line is a header);\n"
               "                      the last column is the label unless --target-col\n"
               "  --target-col K      label column of --csv files (0-based; -1 = last)\n"
               "  --train-x F, --train-csv F\n"
               "                      training features, only for --normalize statistics\n"
               "  --limit N           evaluate only the first N samples\n");
  else
    fprintf(f, "  --train-x F --train-y F [--val-x F --val-y F]\n"
               "                      features and labels: .npy, .csv[.gz] or IDX[.gz]\n"
               "  --csv F [--val-csv F]\n"
               "                      numeric CSV (a non-numeric first line is a header);\n"
               "                      the last column is the label unless --target-col\n"
               "  --target-col K      label column of --csv files (0-based; -1 = last)\n"
               "  --val-split FRAC    without a validation set, hold out the LAST FRAC of\n"
               "                      the training samples (after --limit; not shuffled)\n"
               "  --limit N           use only the first N training samples\n"
               "  --val-limit N       use only the first N validation samples\n");
  fprintf(f,
          "  --normalize none|unit|standard\n"
          "                      unit: u8 features / 255 (other dtypes: per-feature\n"
          "                      min-max); standard: per-feature (x - mean) / std;\n"
          "                      statistics from the training set, applied to every\n"
          "                      set. Default: unit for u8 data, else none%s\n"
          "Samples are rows along the first dimension; per-sample element counts\n"
          "must match the model's x and y. Labels of classifiers are class ids\n"
          "(or one-hot rows); u8 targets of a float y (images) are scaled to [0,1].\n",
          eval ? " (or the\n                      checkpoint's)" : "");
}

static void usage_train(const RtModelDesc *d, FILE *f) {
  const RtTrainDesc *t = d->train;
  fprintf(f, "usage: %s train DATA [options]\n\nTrains '%s' (%s).\n\n", d->name, d->name,
          t->task == RT_TASK_CLASSIFY ? "classifier" : "regression");
  usage_data(f, 0);
  fprintf(f,
          "\ntraining:\n"
          "  --epochs N          total epochs (default %d; with --resume, the total\n"
          "                      including the epochs already done)\n"
          "  --seed N            shuffling seed (default %llu); each epoch's order is a\n"
          "                      function of (seed, epoch)\n"
          "  --lr F              base learning rate (default %g)\n"
          "  --schedule constant|step|multistep|exponential|cosine|plateau (default %s)\n"
          "                      PyTorch's formulas on the 0-based epoch e:\n"
          "                      step: lr*gamma^floor(e/step_size); multistep:\n"
          "                      lr*gamma^(milestones <= e); exponential: lr*gamma^e;\n"
          "                      cosine: eta_min+(lr-eta_min)(1+cos(pi*e/t_max))/2;\n"
          "                      plateau: lr*gamma after more than --lr-patience epochs\n"
          "                      without a 1e-4 relative improvement of the val loss\n"
          "  --gamma F           decay factor (default 0.1 when the model sets none)\n"
          "  --step-size N       epochs per step decay\n"
          "  --milestones A,B,.. epochs of multistep decays (up to 8, ascending)\n"
          "  --t-max N           cosine period in epochs (default: --epochs)\n"
          "  --eta-min F         cosine floor\n"
          "  --lr-patience N     plateau patience in epochs\n"
          "  --warmup-steps N    linear warmup: lr * step / N for global steps < N\n"
          "  --patience N        early stopping after N epochs without a lower val loss\n"
          "                      (default %d; 0: off); --save then gets the best weights\n"
          "  --threads N         OpenMP threads, 1 to max(64, 8 x CPUs)\n"
          "\nfiles:\n"
          "  --init-weights W    start from the weights in W.safetensors whose names\n"
          "                      match (fine-tuning); others keep their initializers\n"
          "  --save W            final weights (.safetensors; weights only)\n"
          "%s"
          "  --checkpoint C      after every epoch, atomically: all parameters, optimizer\n"
          "                      state and the loop state (.safetensors)\n"
          "  --resume C          continue from checkpoint C with the next epoch\n"
          "  --metrics F.csv     one row per epoch: epoch,step,lr,train_loss,\n"
          "                      train_metric,val_loss,val_metric,seconds (metric:\n"
          "                      accuracy, or MAE for regression); with --resume, rows\n"
          "                      after the checkpoint's epoch are dropped\n"
          "Output paths are checked before training starts. --checkpoint and --metrics\n"
          "are locked for the whole run (an advisory lock on C.lock / F.csv.lock beside\n"
          "them, removed at exit, void once its process dies): a second run naming the\n"
          "same file is refused. A checkpoint's loop state is validated on --resume.\n"
          "\nBatches: the batch size is the model's (%lld). Training drops the last\n"
          "partial batch of each epoch's shuffle (drop_last); evaluation covers every\n"
          "sample: the last partial batch is filled by wrapping around to the start\n"
          "and only its real samples are counted. A NaN or infinite training loss\n"
          "stops at once, and so do parameters or optimizer state that become NaN or\n"
          "infinite (checked after every epoch): exit 1, the checkpoint keeps the last\n"
          "good epoch and nothing non-finite is saved.\n"
          "Progress: a live line on a terminal, log lines otherwise. Exit status:\n"
          "0 ok, 1 failure, 2 usage error.\n",
          t->epochs, (unsigned long long)d->seed, t->schedule.lr,
          t->schedule.kind >= 0 && t->schedule.kind < 6 ? sched_names[t->schedule.kind] : "?",
          t->patience,
          d->onnx ? "  --export-onnx F     the trained model as ONNX (the model this program\n"
                    "                      was compiled from, with the final weights)\n" : "",
          (long long)d->funcs[t->train_fn].inputs[t->in_x].dims[0]);
}

static void usage_eval(const RtModelDesc *d, FILE *f) {
  fprintf(f,
          "usage: %s eval (--weights W | --checkpoint C) DATA [options]\n\n"
          "Evaluates '%s' on a labelled set: loss, accuracy, per-class precision,\n"
          "recall and F1 and the confusion matrix (classifiers), or MSE and MAE\n"
          "(regression). Every sample counts once: the last partial batch wraps\n"
          "around and only its real samples are counted.\n\n"
          "  --weights W         weights (.safetensors, e.g. from train --save)\n"
          "  --checkpoint C      a training checkpoint (also gives its normalization)\n"
          "  --threads N         OpenMP threads, 1 to max(64, 8 x CPUs)\n",
          d->name, d->name);
  usage_data(f, 1);
  fprintf(f, "Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

/* An int64_t flag (rt_flag_int); errors into *e. */
static int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out,
                     RtErr *e) {
  long long v;
  if (rt_flag_int(flag, s, lo, hi, &v, e)) return -1;
  *out = v;
  return 0;
}

static int pick_name(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

static int parse_milestones(const char *s, RtSchedule *sc) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end = NULL;
    long v = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
    if (v < 0 || v > 1000000000 || n == 8 || (n && v <= sc->milestones[n - 1]))
      return -1;
    sc->milestones[n++] = (int)v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  sc->nmilestones = n;
  return n ? 0 : -1;
}

static int is_float(int dtype) { return dtype == RT_F32 || dtype == RT_F64; }

/* 0: run; 1: --help printed; 2: usage error (printed). */
static int parse_args(const RtModelDesc *d, int eval, int argc, char **argv, Opts *o) {
  const RtTrainDesc *t = d->train;
  memset(o, 0, sizeof *o);
  o->target_col = -1;
  o->limit = o->val_limit = -1;
  o->norm = -1;
  o->epochs = t->epochs;
  o->patience = t->patience;
  o->seed = (int64_t)d->seed;
  o->sched = t->schedule;
  const char *prog = d->name, *cmd = eval ? "eval" : "train";
  int t_max_set = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    char name[64];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      (eval ? usage_eval : usage_train)(d, stdout);
      return 1;
    }
    const char *eq = strchr(a, '=');
    if (strncmp(a, "--", 2) || (eq ? (size_t)(eq - a) : strlen(a)) >= sizeof name) {
      fprintf(stderr, "%s %s: error: unexpected argument '%s' (see --help)\n", prog, cmd, a);
      return 2;
    }
    if (eq) {
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      v = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", a);
      v = i + 1 < argc ? argv[++i] : NULL;
    }
    /* options of both subcommands, then per subcommand */
    int bad = 0, known = 1;
    RtErr fe = {{0}};
    if (!v) {
      fprintf(stderr, "%s %s: error: option '%s' needs a value (see --help)\n", prog, cmd, name);
      return 2;
    }
    if (!strcmp(name, "--data")) o->data_dir = v;
    else if (!strcmp(name, "--csv")) o->csv = v;
    else if (!strcmp(name, "--target-col")) bad = rt_flag_int32(name, v, -1000000, 1000000, &o->target_col, &fe);
    else if (!strcmp(name, "--limit")) bad = parse_i64(name, v, 1, INT64_MAX, &o->limit, &fe);
    else if (!strcmp(name, "--normalize")) bad = (o->norm = pick_name(v, norm_names, 3)) < 0;
    else if (!strcmp(name, "--threads")) bad = rt_flag_threads(name, v, &o->threads, &fe);
    else if (!strcmp(name, "--checkpoint")) o->checkpoint = v;
    else if (!strcmp(name, "--train-x")) o->train_x = v;
    else known = 0;
    if (!known && eval) {
      known = 1;
      if (!strcmp(name, "--weights")) o->weights = v;
      else if (!strcmp(name, "--x")) o->val_x = v;
      else if (!strcmp(name, "--y")) o->val_y = v;
      else if (!strcmp(name, "--train-csv")) o->train_csv = v;
      else known = 0;
    } else if (!known) {
      known = 1;
      if (!strcmp(name, "--train-y")) o->train_y = v;
      else if (!strcmp(name, "--val-x")) o->val_x = v;
      else if (!strcmp(name, "--val-y")) o->val_y = v;
      else if (!strcmp(name, "--val-csv")) o->val_csv = v;
      else if (!strcmp(name, "--val-split")) bad = rt_flag_double(name, v, 1e-9, 1 - 1e-9, &o->val_split, &fe);
      else if (!strcmp(name, "--val-limit")) bad = parse_i64(name, v, 1, INT64_MAX, &o->val_limit, &fe);
      else if (!strcmp(name, "--epochs")) bad = rt_flag_int32(name, v, 0, RT_MAX_EPOCHS, &o->epochs, &fe);
      else if (!strcmp(name, "--seed")) bad = parse_i64(name, v, 0, INT64_MAX, &o->seed, &fe), o->seed_set = 1;
      else if (!strcmp(name, "--lr")) bad = rt_flag_double(name, v, 0, 1e30, &o->sched.lr, &fe);
      else if (!strcmp(name, "--schedule")) bad = (o->sched.kind = pick_name(v, sched_names, 6)) < 0;
      else if (!strcmp(name, "--gamma")) bad = rt_flag_double(name, v, 0, 1e30, &o->sched.gamma, &fe);
      else if (!strcmp(name, "--step-size")) bad = rt_flag_int32(name, v, 1, 1000000000, &o->sched.step_size, &fe);
      else if (!strcmp(name, "--milestones")) bad = parse_milestones(v, &o->sched);
      else if (!strcmp(name, "--t-max")) bad = rt_flag_int32(name, v, 1, 1000000000, &o->sched.t_max, &fe), t_max_set = 1;
      else if (!strcmp(name, "--eta-min")) bad = rt_flag_double(name, v, 0, 1e30, &o->sched.eta_min, &fe);
      else if (!strcmp(name, "--warmup-steps")) bad = rt_flag_int32(name, v, 0, 2000000000, &o->sched.warmup_steps, &fe);
      else if (!strcmp(name, "--lr-patience")) bad = rt_flag_int32(name, v, 0, 1000000000, &o->sched.patience, &fe);
      else if (!strcmp(name, "--patience")) bad = rt_flag_int32(name, v, 0, 1000000000, &o->patience, &fe);
      else if (!strcmp(name, "--metrics")) o->metrics = v;
      else if (!strcmp(name, "--save")) o->save = v;
      else if (!strcmp(name, "--export-onnx") && d->onnx) o->export_onnx = v;
      else if (!strcmp(name, "--resume")) o->resume = v;
      else if (!strcmp(name, "--init-weights")) o->init_weights = v;
      else known = 0;
    }
    if (!known) {
      fprintf(stderr, "%s %s: error: unknown option '%s' (see --help)\n", prog, cmd, name);
      return 2;
    }
    if (bad && fe.msg[0]) {
      fprintf(stderr, "%s %s: error: %s (see --help)\n", prog, cmd, fe.msg);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "%s %s: error: invalid value '%s' for %s (see --help)\n", prog, cmd, v, name);
      return 2;
    }
  }
  const char *err = NULL;
  int sources = !!o->data_dir + !!o->csv + !!(eval ? o->val_x || o->val_y : o->train_x || o->train_y);
  if (sources != 1)
    err = eval ? "give one data source: --data DIR, --x F --y F or --csv F"
               : "give one data source: --data DIR, --train-x F --train-y F or --csv F";
  else if (!eval && (!o->train_x) != (!o->train_y))
    err = "--train-x and --train-y go together";
  else if ((!o->val_x) != (!o->val_y))
    err = eval ? "--x and --y go together" : "--val-x and --val-y go together";
  else if (!eval && o->val_x && !o->train_x)
    err = "--val-x/--val-y need --train-x/--train-y";
  else if (o->val_csv && !o->csv)
    err = "--val-csv needs --csv";
  else if (eval && (!o->weights) == (!o->checkpoint))
    err = "give exactly one of --weights and --checkpoint";
  else if (o->resume && o->init_weights)
    err = "--resume and --init-weights exclude each other";
  else if (o->norm > 0 && !is_float(d->funcs[t->train_fn].inputs[t->in_x].dtype))
    err = "--normalize needs a model whose x is floating point";
  else if (o->sched.kind == RT_SCHED_STEP && o->sched.step_size < 1)
    err = "--schedule step needs --step-size N";
  else if (o->sched.kind == RT_SCHED_MULTISTEP && o->sched.nmilestones < 1)
    err = "--schedule multistep needs --milestones A,B,...";
  if (err) {
    fprintf(stderr, "%s %s: error: %s (see --help)\n", prog, cmd, err);
    return 2;
  }
  if (o->sched.kind == RT_SCHED_COSINE && (!t_max_set && o->sched.t_max < 1))
    o->sched.t_max = o->epochs > 0 ? o->epochs : 1;
  if (o->sched.gamma <= 0) o->sched.gamma = 0.1;
  return 0;
}

/* ---- the model's training description ---- */

static const RtFuncDesc *func(const RtModelDesc *d, int which) {
  return &d->funcs[which ? d->train->eval_fn : d->train->train_fn];
}

static int check_desc(const RtModelDesc *d, RtErr *e) {
  const RtTrainDesc *t = d->train;
  if (!t) return rt_fail(e, "'%s' is not a training program", d->name);
  if (t->train_fn < 0 || t->train_fn >= d->nfuncs || t->eval_fn < 0 || t->eval_fn >= d->nfuncs)
    return rt_fail(e, "bad training description: function index out of range");
  for (int w = 0; w < 2; w++) {
    const RtFuncDesc *f = func(d, w);
#define IN_RANGE(i, n) ((i) >= 0 && (i) < (n))
    if (!IN_RANGE(t->in_x, f->ninputs) || !IN_RANGE(t->in_y, f->ninputs) ||
        (!w && (!IN_RANGE(t->in_lr, f->ninputs) || !IN_RANGE(t->in_step, f->ninputs))) ||
        !IN_RANGE(t->out_loss, f->noutputs) || !IN_RANGE(t->out_pred, f->noutputs))
      return rt_fail(e, "bad training description: tensor index out of range in '%s'", f->name);
    const RtTensorDesc *x = &f->inputs[t->in_x], *y = &f->inputs[t->in_y];
    const RtTensorDesc *p = &f->outputs[t->out_pred];
    if (x->rank < 1 || x->dims[0] < 1 || y->rank < 1 || y->dims[0] != x->dims[0] ||
        p->rank < 1 || p->dims[0] != x->dims[0])
      return rt_fail(e, "bad training description: '%s' x, y and pred need a batch dimension",
                     f->name);
  }
  if (func(d, 0)->inputs[t->in_x].dims[0] != func(d, 1)->inputs[t->in_x].dims[0] ||
      func(d, 0)->inputs[t->in_x].numel != func(d, 1)->inputs[t->in_x].numel)
    return rt_fail(e, "bad training description: train and eval take different x shapes");
  return 0;
}

/* classes: the last dim of the predictions (2 for a single logit) */
/* predictions per sample the metrics count (several for a sequence
 * classifier's positions, else 1) */
static int64_t positions(const RtMetrics *mt, const RtTensorDesc *pt) {
  return mt->task == RT_TASK_CLASSIFY ? rt_pred_positions(pt, mt->nclass) : 1;
}

static int64_t model_nclass(const RtModelDesc *d) {
  const RtTensorDesc *p = &func(d, 1)->outputs[d->train->out_pred];
  int64_t per = p->numel / p->dims[0];
  return per == 1 ? 2 : p->rank > 1 ? p->dims[p->rank - 1] : per;
}

/* ---- evaluation ---- */

int rt_evaluate(RtModel *m, const RtData *d, const RtNorm *nm, RtMetrics *mt, RtErr *e) {
  const RtModelDesc *md = m->desc;
  const RtTrainDesc *t = md->train;
  int fn = t->eval_fn;
  const RtFuncDesc *f = &md->funcs[fn];
  const RtTensorDesc *xt = &f->inputs[t->in_x], *yt = &f->inputs[t->in_y];
  const RtTensorDesc *lt = &f->outputs[t->out_loss], *pt = &f->outputs[t->out_pred];
  int64_t N = xt->dims[0];
  int64_t *idx = malloc(sizeof *idx * (size_t)N);
  if (!idx) return rt_fail(e, "out of memory");
  rt_metrics_reset(mt);
  void *x = rt_model_func_input(m, fn, t->in_x), *y = rt_model_func_input(m, fn, t->in_y);
  const void *loss = rt_model_func_output(m, fn, t->out_loss);
  const void *pred = rt_model_func_output(m, fn, t->out_pred);
  const int64_t P = positions(mt, pt), k = lt->numel / N;
  for (int64_t start = 0; start < d->n; start += N) {
    int64_t real = d->n - start < N ? d->n - start : N;
    for (int64_t i = 0; i < N; i++) idx[i] = (start + i) % d->n;
    rt_data_fill(d, nm, idx, N, xt, x, yt, y);
    rt_model_run_func(m, fn);
    /* the loss sum over the batch's real predictions: P per sample */
    if (k >= 1) /* per-sample (k = 1) or per-position (k = P) losses */
      for (int64_t i = 0; i < real * k; i++)
        mt->loss_sum += rt_elem_get(lt->dtype, loss, i) * (double)P / (double)k;
    else /* a batch mean: exact for full batches only */
      mt->loss_sum += rt_elem_get(lt->dtype, loss, 0) * (double)(real * P);
    rt_metrics_add(mt, pt, pred, d, idx, real);
  }
  free(idx);
  return 0;
}

/* ---- data sets ---- */

typedef struct Sets {
  RtData train, val; /* eval: val is the evaluated set, train only for statistics */
  int has_train;
} Sets;

static void sets_free(Sets *s) {
  rt_data_free(&s->train);
  rt_data_free(&s->val);
}

static int load_sets(const Opts *o, int eval, Sets *s, RtErr *e) {
  char xp[4096], yp[4096];
  memset(s, 0, sizeof *s);
  if (o->data_dir) {
    int have_train = !rt_data_find_dir(o->data_dir, "train", xp, yp, sizeof xp);
    if (!eval && !have_train)
      return rt_fail(e, "%s: no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]",
                     o->data_dir);
    if (have_train && (!eval || o->norm > 0)) {
      if (rt_data_load(&s->train, xp, yp, e)) return -1;
      s->has_train = 1;
    }
    if (!rt_data_find_dir(o->data_dir, "t10k", xp, yp, sizeof xp)) {
      if (rt_data_load(&s->val, xp, yp, e)) return -1;
    } else if (eval) {
      return rt_fail(e, "%s: no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]",
                     o->data_dir);
    }
  } else if (o->csv) {
    if (eval) {
      if (rt_data_load_csv(&s->val, o->csv, o->target_col, e)) return -1;
      if (o->train_csv) {
        if (rt_data_load_csv(&s->train, o->train_csv, o->target_col, e)) return -1;
        s->has_train = 1;
      }
    } else {
      if (rt_data_load_csv(&s->train, o->csv, o->target_col, e)) return -1;
      s->has_train = 1;
      if (o->val_csv && rt_data_load_csv(&s->val, o->val_csv, o->target_col, e)) return -1;
    }
  } else {
    if (!eval || o->train_x) {
      if (rt_data_load(&s->train, o->train_x, eval ? NULL : o->train_y, e)) return -1;
      s->has_train = 1;
    }
    if (o->val_x && rt_data_load(&s->val, o->val_x, o->val_y, e)) return -1;
  }
  if (eval) {
    rt_data_limit(&s->val, o->limit);
    return 0;
  }
  rt_data_limit(&s->train, o->limit);
  rt_data_limit(&s->val, o->val_limit);
  if (o->val_split > 0) {
    if (s->val.n)
      printf("note: a validation set is given; ignoring --val-split\n");
    else if (rt_data_split(&s->train, o->val_split, &s->val, e))
      return -1;
  }
  return 0;
}

static int default_norm(const RtData *d, const RtTensorDesc *xt) {
  return d->x.dtype == RT_U8 && is_float(xt->dtype) ? RT_NORM_UNIT : RT_NORM_NONE;
}

/* ---- checkpoints ---- */

typedef struct Loop {
  int64_t epoch; /* epochs done */
  int64_t step;  /* global steps done */
  int64_t seed, bad, best_epoch, has_best, norm_kind;
  double best_val;
  RtPlateau plat;
} Loop;

static int st_has(const RtStFile *f, const char *name) {
  for (int i = 0; i < rt_st_count(f); i++)
    if (!strcmp(rt_st_name(f, i), name)) return 1;
  return 0;
}

static const int64_t one_dim[1] = {1};

/* The loop state in a checkpoint: i64[1] and f64[1] tensors. */
static const char *const state_i64[] = {"__epoch",      "__step",       "__seed",
                                        "__bad_epochs", "__best_epoch", "__has_best",
                                        "__norm_kind",  "__plateau_bad"};
static const char *const state_f64[] = {"__best_val", "__plateau_best", "__plateau_scale"};
enum { NSTATE_I64 = 8, NSTATE_F64 = 3 };

static void state_fields(Loop *L, int64_t *iv[NSTATE_I64], double *fv[NSTATE_F64]) {
  int64_t *i[NSTATE_I64] = {&L->epoch,      &L->step,     &L->seed,      &L->bad,
                            &L->best_epoch, &L->has_best, &L->norm_kind, &L->plat.bad};
  double *f[NSTATE_F64] = {&L->best_val, &L->plat.best, &L->plat.scale};
  memcpy(iv, i, sizeof i);
  memcpy(fv, f, sizeof f);
}

/* All parameters, the loop state, the best weights (as __best/NAME) and the
 * normalization statistics. */
static int save_checkpoint(const char *path, RtModel *m, const Loop *L, const unsigned char *best,
                           char **best_names, const RtNorm *nm, RtErr *e) {
  const RtModelDesc *d = m->desc;
  Loop copy = *L;
  int64_t *iv[NSTATE_I64];
  double *fv[NSTATE_F64];
  state_fields(&copy, iv, fv);
  RtStEntry *es =
      calloc((size_t)(d->nparams + d->nweights + NSTATE_I64 + NSTATE_F64 + 2), sizeof *es);
  if (!es) return rt_fail(e, "%s: out of memory", path);
  int n = 0;
  for (int p = 0; p < d->nparams; p++) {
    const RtTensorDesc *t = &d->params[p];
    es[n++] = (RtStEntry){t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t)};
  }
  for (int i = 0; i < NSTATE_I64; i++) es[n++] = (RtStEntry){state_i64[i], RT_I64, 1, one_dim, iv[i]};
  for (int i = 0; i < NSTATE_F64; i++) es[n++] = (RtStEntry){state_f64[i], RT_F64, 1, one_dim, fv[i]};
  if (L->has_best)
    for (int p = 0; p < d->nweights; p++) {
      const RtTensorDesc *t = &d->params[p];
      es[n++] = (RtStEntry){best_names[p], t->dtype, t->rank, t->dims, best + t->offset};
    }
  if (nm->shift) {
    es[n++] = (RtStEntry){"__norm_shift", RT_F64, 1, &nm->n, nm->shift};
    es[n++] = (RtStEntry){"__norm_scale", RT_F64, 1, &nm->n, nm->scale};
  }
  int rc = rt_st_write(path, es, n, e);
  free(es);
  return rc;
}

/* A checkpoint's loop state is trusted no more than any file: each field
 * within its range and consistent with the others. */
static int check_loop(const char *path, const Loop *L, RtErr *e) {
  struct {
    const char *name;
    int64_t v, lo, hi;
  } iv[] = {
      {"__epoch", L->epoch, 0, RT_MAX_EPOCHS},
      /* every epoch takes at least one step */
      {"__step", L->step, L->epoch, RT_MAX_GLOBAL_STEP},
      {"__seed", L->seed, 0, INT64_MAX},
      {"__has_best", L->has_best, 0, 1},
      {"__bad_epochs", L->bad, 0, L->epoch},
      {"__best_epoch", L->best_epoch, L->has_best ? 1 : 0, L->has_best ? L->epoch : 0},
      {"__norm_kind", L->norm_kind, RT_NORM_NONE, RT_NORM_STANDARD},
      {"__plateau_bad", L->plat.bad, 0, L->epoch},
  };
  for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
    if (iv[i].v < iv[i].lo || iv[i].v > iv[i].hi)
      return rt_fail(e, "%s: invalid checkpoint: %s is %lld (want %lld..%lld)", path, iv[i].name,
                     (long long)iv[i].v, (long long)iv[i].lo, (long long)iv[i].hi);
  /* the best loss: finite once there are best weights, else untouched */
  if (L->has_best ? !isfinite(L->best_val) : L->best_val != INFINITY)
    return rt_fail(e, "%s: invalid checkpoint: __best_val is %g (want %s)", path, L->best_val,
                   L->has_best ? "a finite loss" : "inf: __has_best is 0");
  if (isnan(L->plat.best) || L->plat.best == -INFINITY)
    return rt_fail(e, "%s: invalid checkpoint: __plateau_best is %g (want a loss or inf)", path,
                   L->plat.best);
  if (!isfinite(L->plat.scale) || L->plat.scale < 0)
    return rt_fail(e, "%s: invalid checkpoint: __plateau_scale is %g (want a finite scale >= 0)",
                   path, L->plat.scale);
  return 0;
}

/* loop state: __best_val is +inf until a validation pass */
static int read_scalar(const RtStFile *f, const char *name, int dtype, void *dst, RtErr *e) {
  return rt_st_read_state(f, name, dtype, 1, one_dim, dst, e);
}

/* Reads every parameter; with L, the loop state and best weights too; with
 * nm (xper features), stored normalization statistics when present. */
static int load_checkpoint(const char *path, RtModel *m, Loop *L, unsigned char *best,
                           char **best_names, RtNorm *nm, int64_t xper, RtErr *e) {
  const RtModelDesc *d = m->desc;
  RtStFile *f;
  if (rt_st_open(path, &f, e)) return -1;
  int rc = st_has(f, "__epoch")
               ? 0
               : rt_fail(e, "%s: not a training checkpoint (no '__epoch' tensor)", path);
  for (int p = 0; p < d->nparams && !rc; p++) {
    const RtTensorDesc *t = &d->params[p];
    rc = rt_st_read(f, t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t), e);
  }
  if (!rc && L) {
    int64_t *iv[NSTATE_I64];
    double *fv[NSTATE_F64];
    state_fields(L, iv, fv);
    for (int i = 0; i < NSTATE_I64 && !rc; i++) rc = read_scalar(f, state_i64[i], RT_I64, iv[i], e);
    for (int i = 0; i < NSTATE_F64 && !rc; i++) rc = read_scalar(f, state_f64[i], RT_F64, fv[i], e);
    if (!rc) rc = check_loop(path, L, e);
    for (int p = 0; p < d->nweights && !rc && L->has_best; p++) {
      const RtTensorDesc *t = &d->params[p];
      rc = rt_st_read(f, best_names[p], t->dtype, t->rank, t->dims, best + t->offset, e);
    }
  }
  if (!rc && nm && st_has(f, "__norm_kind")) {
    int64_t kind = 0;
    rc = read_scalar(f, "__norm_kind", RT_I64, &kind, e);
    if (!rc && (kind < RT_NORM_NONE || kind > RT_NORM_STANDARD))
      rc = rt_fail(e, "%s: invalid checkpoint: __norm_kind is %lld (want %d..%d)", path,
                   (long long)kind, RT_NORM_NONE, RT_NORM_STANDARD);
    if (!rc) nm->kind = (int)kind;
    if (!rc && kind > RT_NORM_NONE && kind <= RT_NORM_STANDARD && st_has(f, "__norm_shift")) {
      nm->kind = (int)kind;
      nm->n = xper;
      nm->shift = calloc((size_t)xper + 1, sizeof(double));
      nm->scale = calloc((size_t)xper + 1, sizeof(double));
      if (!nm->shift || !nm->scale) rc = rt_fail(e, "%s: out of memory", path);
      if (!rc) rc = rt_st_read(f, "__norm_shift", RT_F64, 1, &nm->n, nm->shift, e);
      if (!rc) rc = rt_st_read(f, "__norm_scale", RT_F64, 1, &nm->n, nm->scale, e);
      for (int64_t i = 0; i < xper && !rc; i++)
        if (!isfinite(nm->shift[i]) || !isfinite(nm->scale[i]))
          rc = rt_fail(e, "%s: invalid checkpoint: __norm_%s[%lld] is not finite", path,
                       isfinite(nm->shift[i]) ? "scale" : "shift", (long long)i);
      if (rc) rt_norm_free(nm);
    }
  }
  rt_st_close(f);
  return rc;
}

/* --init-weights: weights whose names match; shape mismatches are errors. */
static int init_weights(RtModel *m, const char *path, RtErr *e) {
  const RtModelDesc *d = m->desc;
  RtStFile *f;
  if (rt_st_open(path, &f, e)) return -1;
  int loaded = 0, rc = 0;
  for (int p = 0; p < d->nweights && !rc; p++) {
    const RtTensorDesc *t = &d->params[p];
    if (!st_has(f, t->name)) continue;
    rc = rt_st_read(f, t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t), e);
    loaded += !rc;
  }
  if (!rc) {
    printf("init-weights: loaded %d of %d weights from %s\n", loaded, d->nweights, path);
    if (loaded < d->nweights) {
      printf("init-weights: kept their initializers:");
      for (int p = 0; p < d->nweights; p++)
        if (!st_has(f, d->params[p].name)) printf(" %s", d->params[p].name);
      printf("\n");
    }
    int unused = 0;
    for (int i = 0; i < rt_st_count(f); i++) {
      int match = 0;
      for (int p = 0; p < d->nweights && !match; p++) match = !strcmp(rt_st_name(f, i), d->params[p].name);
      if (!match) printf("%s %s", unused++ ? "," : "init-weights: unused tensors in file:", rt_st_name(f, i));
    }
    if (unused) printf("\n");
  }
  rt_st_close(f);
  return rc;
}

/* ---- the metrics file ---- */

static const char metrics_header[] =
    "epoch,step,lr,train_loss,train_metric,val_loss,val_metric,seconds\n";

/* Fresh run: the header alone. Resume: the rows up to `epoch` (what the
 * checkpoint has seen) survive; a missing file gets the header. */
static int metrics_start(const char *path, int resume, int64_t epoch, RtErr *e) {
  char *old = NULL;
  size_t len = 0;
  FILE *in = resume ? fopen(path, "rb") : NULL;
  if (in) {
    long sz = fseek(in, 0, SEEK_END) == 0 ? ftell(in) : -1;
    old = sz >= 0 && fseek(in, 0, SEEK_SET) == 0 ? malloc((size_t)sz + 1) : NULL;
    len = old ? fread(old, 1, (size_t)sz, in) : 0;
    fclose(in);
    if (!old) return rt_fail(e, "%s: cannot read", path);
    old[len] = 0;
  }
  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  if (!f) {
    free(old);
    return -1;
  }
  int ok = fputs(metrics_header, f) >= 0;
  if (old) {
    const char *line = strchr(old, '\n'); /* skip the old header */
    line = line ? line + 1 : old + len;
    while (*line && ok) {
      const char *nl = strchr(line, '\n');
      size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
      if (atoll(line) >= 1 && atoll(line) <= epoch) ok = fwrite(line, 1, n, f) == n;
      line += n;
    }
  }
  free(old);
  return rt_out_commit(&out, ok, e);
}

static int metrics_row(const char *path, int64_t epoch, int64_t step, double lr, double tl,
                       double tm, double vl, double vm, double secs, RtErr *e) {
  FILE *f = rt_append_open(path, e);
  if (!f) return -1;
  int ok = fprintf(f, "%lld,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f\n", (long long)epoch,
                   (long long)step, lr, tl, tm, vl, vm, secs) > 0;
  ok = (fclose(f) == 0) && ok;
  return ok ? 0 : rt_fail(e, "%s: write failed", path);
}

/* ---- train ---- */

typedef struct Run {
  const RtModelDesc *d;
  Opts o;
  Sets s;
  RtNorm norm;
  RtModel *m;
  RtMetrics tm, vm;
  Loop L;
  int64_t *perm, *idx;
  unsigned char *best;
  char **best_names;
  RtErr e;
} Run;

static void run_free(Run *r) {
  sets_free(&r->s);
  rt_norm_free(&r->norm);
  rt_model_free(r->m);
  rt_metrics_free(&r->tm);
  rt_metrics_free(&r->vm);
  free(r->perm);
  free(r->idx);
  rt_free(r->best);
  if (r->best_names)
    for (int p = 0; p < r->d->nweights; p++) free(r->best_names[p]);
  free(r->best_names);
}

static void fmt_time(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
  else if (s < 60) snprintf(buf, n, "%.0fs", s);
  else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static double metric_value(const RtMetrics *mt) {
  return mt->task == RT_TASK_CLASSIFY ? rt_metrics_accuracy(mt) : rt_metrics_mae(mt);
}

static void fmt_metric(const RtMetrics *mt, char *buf, size_t n) {
  if (mt->task == RT_TASK_CLASSIFY) snprintf(buf, n, "acc %.2f%%", 100 * rt_metrics_accuracy(mt));
  else snprintf(buf, n, "mae %.4g", rt_metrics_mae(mt));
}

/* Sets up data, model and state; returns an exit status (0: go on). */
static int train_setup(Run *r) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  const Opts *o = &r->o;
  RtErr *e = &r->e;
  const RtFuncDesc *tf = func(d, 0), *ef = func(d, 1);
  int64_t nclass = model_nclass(d);
  if (load_sets(o, 0, &r->s, e)) return 1;
  if (rt_data_check(&r->s.train, "training", &tf->inputs[t->in_x], &tf->inputs[t->in_y], t->task,
                    nclass, e))
    return 1;
  if (r->s.val.n && rt_data_check(&r->s.val, "validation", &ef->inputs[t->in_x],
                                  &ef->inputs[t->in_y], t->task, nclass, e))
    return 1;
  if (r->s.val.n && r->s.val.x.dtype != r->s.train.x.dtype)
    printf("note: training features are %s, validation features %s\n",
           rt_dtype_name(r->s.train.x.dtype), rt_dtype_name(r->s.val.x.dtype));
  int64_t N = tf->inputs[t->in_x].dims[0];
  if (r->s.train.n < N)
    return rt_fail(e, "%s: %lld training samples, fewer than one batch of %lld", r->s.train.xname,
                   (long long)r->s.train.n, (long long)N),
           1;
  if (rt_metrics_init(&r->tm, t->task, nclass, e) || rt_metrics_init(&r->vm, t->task, nclass, e))
    return 1;
  r->m = rt_model_create(d);
  r->perm = malloc(sizeof *r->perm * (size_t)r->s.train.n);
  r->idx = malloc(sizeof *r->idx * (size_t)N);
  r->best = rt_alloc(d->param_bytes);
  r->best_names = calloc((size_t)d->nweights + 1, sizeof *r->best_names);
  if (!r->m || !r->perm || !r->idx || !r->best || !r->best_names)
    return rt_fail(e, "out of memory"), 1;
  for (int p = 0; p < d->nweights; p++) {
    size_t n = strlen(d->params[p].name) + 8;
    if (!(r->best_names[p] = malloc(n))) return rt_fail(e, "out of memory"), 1;
    snprintf(r->best_names[p], n, "__best/%s", d->params[p].name);
  }
  Loop *L = &r->L;
  L->seed = o->seed;
  L->best_val = INFINITY;
  rt_plateau_init(&L->plat);
  L->norm_kind = o->norm >= 0 ? o->norm : default_norm(&r->s.train, &tf->inputs[t->in_x]);
  if (o->resume) {
    RtNorm stored = {0};
    if (load_checkpoint(o->resume, r->m, L, r->best, r->best_names, &stored,
                        r->s.train.xper, &r->e))
      return 1;
    if (o->seed_set && o->seed != L->seed)
      printf("note: resuming with the checkpoint's seed %lld, not --seed %lld\n",
             (long long)L->seed, (long long)o->seed);
    /* the checkpoint's normalization, unless another kind is asked for */
    if (o->norm >= 0) L->norm_kind = o->norm;
    if (stored.shift && stored.kind == L->norm_kind) r->norm = stored;
    else rt_norm_free(&stored);
    printf("resumed from %s: %lld epochs, %lld steps done\n", o->resume, (long long)L->epoch,
           (long long)L->step);
  } else if (o->init_weights && init_weights(r->m, o->init_weights, e)) {
    return 1;
  }
  if (!r->norm.kind && L->norm_kind && rt_norm_fit(&r->norm, (int)L->norm_kind, &r->s.train, e))
    return 1;
  if (o->metrics && metrics_start(o->metrics, !!o->resume, L->epoch, e)) return 1;
  return 0;
}

static int train_loop(Run *r) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  const Opts *o = &r->o;
  Loop *L = &r->L;
  RtModel *m = r->m;
  const RtData *tr = &r->s.train, *va = &r->s.val;
  int tfn = t->train_fn;
  const RtFuncDesc *tf = func(d, 0);
  const RtTensorDesc *xt = &tf->inputs[t->in_x], *yt = &tf->inputs[t->in_y];
  const RtTensorDesc *lrt = &tf->inputs[t->in_lr], *stt = &tf->inputs[t->in_step];
  const RtTensorDesc *lt = &tf->outputs[t->out_loss], *pt = &tf->outputs[t->out_pred];
  void *x = rt_model_func_input(m, tfn, t->in_x), *y = rt_model_func_input(m, tfn, t->in_y);
  void *lrp = rt_model_func_input(m, tfn, t->in_lr), *stp = rt_model_func_input(m, tfn, t->in_step);
  const void *loss = rt_model_func_output(m, tfn, t->out_loss);
  const void *pred = rt_model_func_output(m, tfn, t->out_pred);
  int64_t N = xt->dims[0], nb = tr->n / N, dropped = tr->n - nb * N, P = positions(&r->tm, pt);
  int tty = isatty(fileno(stdout));
  const char *monitor = va->n ? "val" : "train";

  printf("training %s: %lld samples, batch %lld, %lld steps per epoch", d->name,
         (long long)tr->n, (long long)N, (long long)nb);
  if (dropped)
    printf("; the last partial batch (%lld samples of each epoch's shuffle) is dropped",
           (long long)dropped);
  if (va->n) printf("\nvalidation: %lld samples\n", (long long)va->n);
  else
    printf("\nvalidation: none%s\n", o->patience || o->sched.kind == RT_SCHED_PLATEAU
                                          ? " (early stopping and plateau watch the training loss)"
                                          : "");
  if (L->epoch >= o->epochs)
    printf("nothing to train: %lld of %d epochs done\n", (long long)L->epoch, o->epochs);
  if (o->patience && L->bad >= o->patience && L->epoch < o->epochs) {
    printf("early stopping already triggered at epoch %lld\n", (long long)L->epoch);
    return 0;
  }
  while (L->epoch < o->epochs) {
    int ep = (int)L->epoch;
    double t0 = rt_now(), last = t0, lr = 0;
    rt_shuffle((uint64_t)L->seed, ep, tr->n, r->perm);
    rt_metrics_reset(&r->tm);
    for (int64_t b = 0; b < nb; b++) {
      const int64_t *idx = r->perm + b * N;
      rt_data_fill(tr, &r->norm, idx, N, xt, x, yt, y);
      lr = rt_schedule_lr(&o->sched, ep, L->step, L->plat.scale);
      rt_elem_put(lrt->dtype, lrp, 0, lr);
      /* the step input counts updates from 1 (Adam's bias correction,
       * momentum's first step); L->step counts completed steps */
      rt_elem_put(stt->dtype, stp, 0, (double)(L->step + 1));
      rt_model_run_func(m, tfn);
      double l = rt_elem_get(lt->dtype, loss, 0);
      if (!isfinite(l)) {
        if (tty) printf("\r\033[K");
        fflush(stdout);
        fprintf(stderr,
                "%s train: error: the training loss is %s at epoch %d, step %lld of %lld "
                "(global step %lld); stopping.",
                d->name, isnan(l) ? "NaN" : "infinite", ep + 1, (long long)b + 1, (long long)nb,
                (long long)L->step + 1);
        if (o->checkpoint)
          fprintf(stderr, " %s is untouched (last written after epoch %lld).", o->checkpoint,
                  (long long)L->epoch);
        fprintf(stderr, " Try a lower --lr.\n");
        return 1;
      }
      r->tm.loss_sum += l * (double)(N * P);
      rt_metrics_add(&r->tm, pt, pred, tr, idx, N);
      L->step++;
      double now = rt_now();
      if (tty ? b + 1 == nb || now - last >= 0.1 : now - last >= 10.0) {
        char eta[32];
        double el = now - t0;
        fmt_time(el / (double)(b + 1) * (double)(nb - b - 1), eta, sizeof eta);
        printf("%sepoch %d/%d  step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s%s",
               tty ? "\r\033[K" : "", ep + 1, o->epochs, (long long)b + 1, (long long)nb,
               rt_metrics_loss(&r->tm), el > 0 ? (double)((b + 1) * N) / el : 0.0, eta,
               tty ? "" : "\n");
        fflush(stdout);
        last = now;
      }
    }
    if (tty) printf("\r\033[K");
    /* weights or optimizer state gone non-finite stop like a NaN loss */
    if (rt_train_stop_nonfinite(m, ep + 1, L->step, o->checkpoint, L->epoch)) return 1;
    if (va->n && rt_evaluate(m, va, &r->norm, &r->vm, &r->e)) return 1;
    double tl = rt_metrics_loss(&r->tm), vl = va->n ? rt_metrics_loss(&r->vm) : NAN;
    double mon = va->n ? vl : tl;
    L->epoch++;
    double secs = rt_now() - t0;
    char tms[64], vms[64] = "";
    fmt_metric(&r->tm, tms, sizeof tms);
    if (va->n) fmt_metric(&r->vm, vms, sizeof vms);
    printf("epoch %lld/%d  train loss %.4f %s", (long long)L->epoch, o->epochs, tl, tms);
    if (va->n) printf("  val loss %.4f %s", vl, vms);
    printf("  lr %.4g  %.2fs\n", lr, secs);
    if (o->sched.kind == RT_SCHED_PLATEAU &&
        rt_plateau_step(&L->plat, mon, o->sched.gamma, o->sched.patience))
      printf("plateau: %s loss stalled for more than %d epochs; lr scale now %.4g\n", monitor,
             o->sched.patience, L->plat.scale);
    if (o->patience) {
      if (mon < L->best_val) {
        L->best_val = mon;
        L->bad = 0;
        L->best_epoch = L->epoch;
        L->has_best = 1;
        memcpy(r->best, m->params, d->param_bytes);
      } else {
        L->bad++;
      }
    }
    if (o->metrics &&
        metrics_row(o->metrics, L->epoch, L->step, lr, tl, metric_value(&r->tm), vl,
                    va->n ? metric_value(&r->vm) : NAN, secs, &r->e))
      return 1;
    if (o->checkpoint &&
        save_checkpoint(o->checkpoint, m, L, r->best, r->best_names, &r->norm, &r->e))
      return 1;
    fflush(stdout);
    if (o->patience && L->bad >= o->patience) {
      printf("early stopping: no lower %s loss for %lld epochs (best %.6g after epoch %lld)\n",
             monitor, (long long)L->bad, L->best_val, (long long)L->best_epoch);
      break;
    }
  }
  return 0;
}

static int train_finish(Run *r) {
  const RtModelDesc *d = r->d;
  const Opts *o = &r->o;
  if (o->patience && r->L.has_best && r->L.best_epoch < r->L.epoch) {
    for (int p = 0; p < d->nweights; p++) {
      const RtTensorDesc *t = &d->params[p];
      memcpy(r->m->params + t->offset, r->best + t->offset,
             (size_t)t->numel * rt_dtype_size(t->dtype));
    }
    printf("using the weights of epoch %lld (best %s loss %.6g)\n", (long long)r->L.best_epoch,
           r->s.val.n ? "val" : "train", r->L.best_val);
  }
  const RtData *set = r->s.val.n ? &r->s.val : &r->s.train;
  if (rt_evaluate(r->m, set, &r->norm, &r->vm, &r->e)) return 1;
  rt_metrics_print(&r->vm, r->s.val.n ? "validation set" : "training set", stdout);
  if ((o->save || o->export_onnx) &&
      rt_params_check_finite(r->m, d->nweights, &r->e))
    return 1;
  if (o->save) {
    if (rt_model_save_weights(r->m, o->save)) {
      r->e = r->m->err;
      return 1;
    }
    printf("saved weights to %s\n", o->save);
  }
  if (o->export_onnx) {
    if (rt_onnx_write(o->export_onnx, r->m, &r->e)) return 1;
    printf("wrote the trained model to %s (ONNX)\n", o->export_onnx);
  }
  return 0;
}

int rt_train_main(const RtModelDesc *d, int argc, char **argv) {
  Run r;
  memset(&r, 0, sizeof r);
  r.d = d;
  if (check_desc(d, &r.e)) {
    fprintf(stderr, "%s train: error: %s\n", d->name, r.e.msg);
    return 2;
  }
  int rc = parse_args(d, 0, argc, argv, &r.o);
  if (rc) return rc == 1 ? 0 : 2;
  if (r.o.threads) omp_set_dynamic(0), omp_set_num_threads(r.o.threads);
  /* every destination checked, checkpoint and metrics locked for the
   * whole run, before any work */
  const RtOutFlag outs[4] = {{"--checkpoint", r.o.checkpoint, 1},
                             {"--metrics", r.o.metrics, 1},
                             {"--save", r.o.save, 0},
                             {"--export-onnx", r.o.export_onnx, 0}};
  RtLock locks[4];
  memset(locks, 0, sizeof locks);
  rc = rt_outputs_prepare(outs, 4, locks, &r.e) ? 1 : 0;
  if (!rc) rc = train_setup(&r);
  if (!rc) rc = train_loop(&r);
  if (!rc) rc = train_finish(&r);
  rt_outputs_release(locks, 4);
  if (rc && r.e.msg[0]) {
    fflush(stdout);
    fprintf(stderr, "%s train: error: %s\n", d->name, r.e.msg);
  }
  run_free(&r);
  fflush(stdout);
  return rc;
}

/* ---- eval ---- */

int rt_eval_main(const RtModelDesc *d, int argc, char **argv) {
  Opts o;
  RtErr e = {{0}};
  if (check_desc(d, &e)) {
    fprintf(stderr, "%s eval: error: %s\n", d->name, e.msg);
    return 2;
  }
  int rc = parse_args(d, 1, argc, argv, &o);
  if (rc) return rc == 1 ? 0 : 2;
  if (o.threads) omp_set_dynamic(0), omp_set_num_threads(o.threads);
  const RtTrainDesc *t = d->train;
  const RtFuncDesc *ef = func(d, 1);
  const RtTensorDesc *xt = &ef->inputs[t->in_x];
  Sets s;
  RtNorm norm = {0};
  RtMetrics mt = {0};
  RtModel *m = NULL;
  rc = load_sets(&o, 1, &s, &e) ||
       rt_data_check(&s.val, "evaluation", xt, &ef->inputs[t->in_y], t->task, model_nclass(d), &e) ||
       rt_metrics_init(&mt, t->task, model_nclass(d), &e);
  if (!rc && !(m = rt_model_create(d))) rc = rt_fail(&e, "out of memory");
  if (!rc && o.weights && rt_model_load_weights(m, o.weights)) rc = -1, e = m->err;
  norm.kind = -1; /* set from the checkpoint, if it says */
  if (!rc && o.checkpoint)
    rc = load_checkpoint(o.checkpoint, m, NULL, NULL, NULL, &norm, s.val.xper, &e);
  int kind = o.norm >= 0 ? o.norm : norm.kind >= 0 ? norm.kind : default_norm(&s.val, xt);
  if (norm.shift && norm.kind != kind) rt_norm_free(&norm);
  norm.kind = norm.shift ? norm.kind : RT_NORM_NONE;
  if (!rc && !norm.shift) {
    if (kind == RT_NORM_UNIT && s.val.x.dtype == RT_U8) {
      rc = rt_norm_fit(&norm, kind, &s.val, &e);
    } else if (kind != RT_NORM_NONE) {
      if (!s.has_train)
        rc = rt_fail(&e, "--normalize %s needs the training statistics: --checkpoint, or the "
                         "training features (--train-x, --train-csv, or --data with train files)",
                     norm_names[kind]);
      else if (s.train.xper != s.val.xper)
        rc = rt_fail(&e, "%s: %lld features per sample, but the evaluated set has %lld",
                     s.train.xname, (long long)s.train.xper, (long long)s.val.xper);
      else
        rc = rt_norm_fit(&norm, kind, &s.train, &e);
    }
  }
  if (!rc) rc = rt_evaluate(m, &s.val, &norm, &mt, &e);
  if (!rc) rt_metrics_print(&mt, s.val.xname, stdout);
  if (rc) {
    fflush(stdout);
    fprintf(stderr, "%s eval: error: %s\n", d->name, e.msg);
  }
  sets_free(&s);
  rt_norm_free(&norm);
  rt_metrics_free(&mt);
  rt_model_free(m);
  fflush(stdout);
  return rc ? 1 : 0;
}
