/* The flags of `PROG train` and `PROG eval`, for programs with one train
 * step and for programs with several steps per batch: one table gives
 * every flag's kind, range, destination, the commands that accept it and
 * its usage text; the parser and the usage texts both read it. */
#include "rt_loop.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *const rt_norm_names[3] = {"none", "unit", "standard"};
static const char *const sched_names[] = {"constant", "step",   "multistep",
                                          "exponential", "cosine", "plateau"};

static int parse_milestones(const char *s, void *dst) {
  RtSchedule *sc = dst;
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end = NULL;
    long v = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
    if (v < 0 || v > 1000000000 || n == 8 || (n && v <= sc->milestones[n - 1])) return -1;
    sc->milestones[n++] = (int)v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  sc->nmilestones = n;
  return n ? 0 : -1;
}

enum { T = RT_CMD_TRAIN, E = RT_CMD_EVAL, S = RT_CMD_STEPS, ALL = T | E | S };
enum { LABELS = RT_FEAT_LABELS, ONNX = RT_FEAT_ONNX };

#define OFF(f) offsetof(RtTrainOpts, f)
#define SET(f) ((int)offsetof(RtTrainOpts, f) + 1)
#define TEXT(w, s) {.help = (s), .kind = RT_FLAG_TEXT, .where = (w)}
#define STR(n, sy, h, f, w) {n, sy, h, RT_FLAG_STR, OFF(f), .where = (w)}
#define INT(n, sy, h, f, a, b, w) {n, sy, h, RT_FLAG_INT, OFF(f), .ilo = (a), .ihi = (b), .where = (w)}
#define I64(n, sy, h, f, a, b, w) {n, sy, h, RT_FLAG_I64, OFF(f), .ilo = (a), .ihi = (b), .where = (w)}
#define DBL(n, sy, h, f, a, b, w) {n, sy, h, RT_FLAG_DOUBLE, OFF(f), .lo = (a), .hi = (b), .where = (w)}

/* help texts of flags listed in two places */
#define H_CSV "numeric CSV (a non-numeric first line is a header);\n" \
              "the last column is the label unless --target-col"
#define H_THREADS "OpenMP threads, 1 to max(64, 8 x CPUs)"
#define H_XY "features and labels: .npy, .csv[.gz] or IDX[.gz]"
#define THREADS(w) {"--threads", "--threads N", H_THREADS, RT_FLAG_THREADS, OFF(threads), .where = (w)}
#define NORMALIZE(w)                                                                          \
  {"--normalize", "--normalize none|unit|standard",                                           \
   "unit: u8 features / 255 (other dtypes: per-feature\n"                                     \
   "min-max); standard: per-feature (x - mean) / std;\n"                                      \
   "statistics from the training set, applied to every\n"                                     \
   "set. Default: unit for u8 data, else none{norm_ckpt}",                                    \
   RT_FLAG_CHOICE, OFF(norm), .choices = rt_norm_names, .nchoices = 3, .where = (w)}

static const RtFlag flags[] = {
    TEXT(T | S, "usage: {prog} train DATA [options]\n\n"),
    TEXT(T, "Trains '{prog}' ({kind}).\n\n"),
    TEXT(S, "Trains '{prog}': every batch runs the steps{steps} in turn,\n"
            "each updating its own parameters.\n\n"),
    TEXT(E, "usage: {prog} eval (--weights W | --checkpoint C) DATA [options]\n\n"
            "Evaluates '{prog}' on a labelled set: loss, accuracy, per-class precision,\n"
            "recall and F1 and the confusion matrix (classifiers), or MSE and MAE\n"
            "(regression). Every sample counts once: the last partial batch wraps\n"
            "around and only its real samples are counted.\n\n"),
    STR("--weights", "--weights W", "weights (.safetensors, e.g. from train --save)", weights, E),
    STR("--checkpoint", "--checkpoint C", "a training checkpoint (also gives its normalization)",
        checkpoint, E),
    THREADS(E),
    TEXT(ALL, "data (one source):\n"),
    STR("--data", "--data DIR",
        "MNIST-layout IDX directory: train-images-idx3-ubyte, train-labels-idx1-ubyte\n"
        "(.gz or not); t10k-* files, when present,\n"
        "are the validation set", data_dir, T),
    STR("--data", "--data DIR",
        "MNIST-layout IDX directory: t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte\n"
        "(.gz or not); the train-* files give --normalize standard\n"
        "statistics when there is no checkpoint", data_dir, E),
    {"--data", "--data DIR", "MNIST-layout IDX directory: train-images-idx3-ubyte[.gz] and\n"
     "train-labels-idx1-ubyte[.gz]", RT_FLAG_STR, OFF(data_dir), .where = S, .needs = LABELS},
    {"--data", "--data DIR", "MNIST-layout IDX directory: train-images-idx3-ubyte[.gz] (labels "
     "unused)", RT_FLAG_STR, OFF(data_dir), .where = S, .unless = LABELS},
    STR("--x", "--x F --y F", H_XY, val_x, E),
    STR("--y", NULL, NULL, val_y, E),
    STR("--train-x", "--train-x F --train-y F [--val-x F --val-y F]", H_XY, train_x, T),
    STR("--train-y", NULL, NULL, train_y, T),
    STR("--val-x", NULL, NULL, val_x, T),
    STR("--val-y", NULL, NULL, val_y, T),
    {"--train-x", "--train-x F --train-y F", H_XY, RT_FLAG_STR, OFF(train_x), .where = S,
     .needs = LABELS},
    {"--train-y", NULL, NULL, RT_FLAG_STR, OFF(train_y), .where = S, .needs = LABELS},
    {"--train-x", "--train-x F", "features: .npy, .csv[.gz] or IDX[.gz]", RT_FLAG_STR,
     OFF(train_x), .where = S, .unless = LABELS},
    STR("--csv", "--csv F [--val-csv F]", H_CSV, csv, T),
    STR("--val-csv", NULL, NULL, val_csv, T),
    STR("--csv", "--csv F", H_CSV, csv, E),
    {"--csv", "--csv F", "numeric CSV; the last column is the label", RT_FLAG_STR, OFF(csv),
     .where = S, .needs = LABELS},
    {"--csv", "--csv F", "numeric CSV (every column a feature)", RT_FLAG_STR, OFF(csv),
     .where = S, .unless = LABELS},
    INT("--target-col", "--target-col K", "label column of --csv files (0-based; -1 = last)",
        target_col, -1000000, 1000000, T | E),
    STR("--train-x", "--train-x F, --train-csv F",
        "training features, only for --normalize statistics", train_x, E),
    STR("--train-csv", NULL, NULL, train_csv, E),
    DBL("--val-split", "--val-split FRAC",
        "without a validation set, hold out the LAST FRAC of\n"
        "the training samples (after --limit; not shuffled)", val_split, 1e-9, 1 - 1e-9, T),
    I64("--limit", "--limit N", "use only the first N training samples", limit, 1, INT64_MAX,
        T | S),
    I64("--limit", "--limit N", "evaluate only the first N samples", limit, 1, INT64_MAX, E),
    I64("--val-limit", "--val-limit N", "use only the first N validation samples", val_limit, 1,
        INT64_MAX, T),
    NORMALIZE(ALL),
    TEXT(T | E, "Samples are rows along the first dimension; per-sample element counts\n"
                "must match the model's x and y. Labels of classifiers are class ids\n"
                "(or one-hot rows); u8 targets of a float y (images) are scaled to [0,1].\n"),
    TEXT(E, "Exit status: 0 ok, 1 failure, 2 usage error.\n"),
    TEXT(T | S, "\ntraining:\n"),
    {"--epochs", "--epochs N",
     "total epochs (default {epochs}; with --resume, the total\n"
     "including the epochs already done)",
     RT_FLAG_INT, OFF(epochs), .ilo = 0, .ihi = RT_MAX_EPOCHS, .where = T | S},
    {"--seed", "--seed N",
     "shuffling seed (default {seed}); each epoch's order is a\n"
     "function of (seed, epoch)",
     RT_FLAG_I64, OFF(seed), SET(seed_set), .ilo = 0, .ihi = INT64_MAX, .where = T | S},
    DBL("--lr", "--lr F", "base learning rate (default {lr})", sched.lr, 0, 1e30, T | S),
    {"--schedule", "--schedule constant|step|multistep|exponential|cosine|plateau (default {schedule})",
     "PyTorch's formulas on the 0-based epoch e:\n"
     "step: lr*gamma^floor(e/step_size); multistep:\n"
     "lr*gamma^(milestones <= e); exponential: lr*gamma^e;\n"
     "cosine: eta_min+(lr-eta_min)(1+cos(pi*e/t_max))/2;\n"
     "plateau: lr*gamma after more than --lr-patience epochs\n"
     "without a 1e-4 relative improvement of the val loss",
     RT_FLAG_CHOICE, OFF(sched.kind), .choices = sched_names, .nchoices = 6, .where = T},
    DBL("--gamma", "--gamma F", "decay factor (default 0.1 when the model sets none)", sched.gamma,
        0, 1e30, T),
    INT("--step-size", "--step-size N", "epochs per step decay", sched.step_size, 1, 1000000000, T),
    {"--milestones", "--milestones A,B,..", "epochs of multistep decays (up to 8, ascending)",
     RT_FLAG_CUSTOM, OFF(sched), .parse = parse_milestones, .where = T},
    {"--t-max", "--t-max N", "cosine period in epochs (default: --epochs)", RT_FLAG_INT,
     OFF(sched.t_max), SET(t_max_set), .ilo = 1, .ihi = 1000000000, .where = T},
    DBL("--eta-min", "--eta-min F", "cosine floor", sched.eta_min, 0, 1e30, T),
    INT("--lr-patience", "--lr-patience N", "plateau patience in epochs", sched.patience, 0,
        1000000000, T),
    INT("--warmup-steps", "--warmup-steps N", "linear warmup: lr * step / N for global steps < N",
        sched.warmup_steps, 0, 2000000000, T),
    INT("--patience", "--patience N",
        "early stopping after N epochs without a lower val loss\n"
        "(default {patience}; 0: off); --save then gets the best weights",
        patience, 0, 1000000000, T),
    THREADS(T | S),
    TEXT(T | S, "\nfiles:\n"),
    STR("--init-weights", "--init-weights W",
        "start from the weights in W.safetensors whose names\n"
        "match (fine-tuning); others keep their initializers", init_weights, T),
    STR("--save", "--save W", "final weights (.safetensors; weights only)", save, T | S),
    {"--export-onnx", "--export-onnx F",
     "the trained model as ONNX (the model this program\n"
     "was compiled from, with the final weights)",
     RT_FLAG_STR, OFF(export_onnx), .where = T, .needs = ONNX},
    STR("--checkpoint", "--checkpoint C",
        "after every epoch, atomically: all parameters, optimizer\n"
        "state and the loop state (.safetensors)", checkpoint, T | S),
    STR("--resume", "--resume C", "continue from checkpoint C with the next epoch", resume, T | S),
    STR("--metrics", "--metrics F.csv",
        "one row per epoch: epoch,step,lr,train_loss,\n"
        "train_metric,val_loss,val_metric,seconds (metric:\n"
        "accuracy, or MAE for regression); with --resume, rows\n"
        "after the checkpoint's epoch are dropped", metrics, T),
    STR("--metrics", "--metrics F.csv",
        "one row per epoch: epoch,step,lr,<step>_loss...,seconds;\n"
        "with --resume, rows after the checkpoint's epoch are dropped", metrics, S),
    STR("--samples", "--samples F.pgm",
        "after every epoch, the inference output (e.g. generated\n"
        "images, pixel units 0..255) as an image grid", samples, S),
    TEXT(T, "Output paths are checked before training starts. --checkpoint and --metrics\n"
            "are locked for the whole run (an advisory lock on C.lock / F.csv.lock beside\n"
            "them, removed at exit, void once its process dies): a second run naming the\n"
            "same file is refused. A checkpoint's loop state is validated on --resume.\n"
            "\nBatches: the batch size is the model's ({batch}). Training drops the last\n"
            "partial batch of each epoch's shuffle (drop_last); evaluation covers every\n"
            "sample: the last partial batch is filled by wrapping around to the start\n"
            "and only its real samples are counted. A NaN or infinite training loss\n"
            "stops at once, and so do parameters or optimizer state that become NaN or\n"
            "infinite (checked after every epoch): exit 1, the checkpoint keeps the last\n"
            "good epoch and nothing non-finite is saved.\n"
            "Progress: a live line on a terminal, log lines otherwise. Exit status:\n"
            "0 ok, 1 failure, 2 usage error.\n"),
    TEXT(S, "Output paths are checked before training starts; --checkpoint and --metrics\n"
            "are locked for the run (C.lock / F.csv.lock): a second run on them is refused.\n"
            "\nBatches: the model's batch size ({batch}); the last partial batch of each\n"
            "epoch's shuffle is dropped. A NaN or infinite loss stops at once (exit 1),\n"
            "and so do parameters or optimizer state that become NaN or infinite (checked\n"
            "after every epoch; the checkpoint keeps the last good epoch).\n"
            "Exit status: 0 ok, 1 failure, 2 usage error.\n"),
};
enum { NFLAGS = sizeof flags / sizeof flags[0] };

typedef struct UsageCtx {
  const RtModelDesc *d;
  unsigned cmd;
} UsageCtx;

static void fill(const void *ctx, const char *key, char *buf, size_t n) {
  const UsageCtx *u = ctx;
  const RtModelDesc *d = u->d;
  const RtTrainDesc *t = d->train;
  if (!strcmp(key, "prog")) snprintf(buf, n, "%s", d->name);
  else if (!strcmp(key, "kind"))
    snprintf(buf, n, "%s", t->task == RT_TASK_CLASSIFY ? "classifier" : "regression");
  else if (!strcmp(key, "epochs")) snprintf(buf, n, "%d", t->epochs);
  else if (!strcmp(key, "seed")) snprintf(buf, n, "%llu", (unsigned long long)d->seed);
  else if (!strcmp(key, "lr")) snprintf(buf, n, "%g", t->schedule.lr);
  else if (!strcmp(key, "schedule"))
    snprintf(buf, n, "%s", t->schedule.kind >= 0 && t->schedule.kind < 6
                               ? sched_names[t->schedule.kind] : "?");
  else if (!strcmp(key, "patience")) snprintf(buf, n, "%d", t->patience);
  else if (!strcmp(key, "batch"))
    snprintf(buf, n, "%lld", (long long)d->funcs[t->train_fn].inputs[t->in_x].dims[0]);
  else if (!strcmp(key, "norm_ckpt"))
    snprintf(buf, n, "%s", u->cmd == RT_CMD_EVAL ? " (or the\n                      checkpoint's)" : "");
  else if (!strcmp(key, "steps")) {
    size_t k = 0;
    for (int s = 0; s < t->nsteps && k < n; s++)
      k += (size_t)snprintf(buf + k, n - k, "%s%s", s ? (s + 1 == t->nsteps ? " and " : ", ") : " ",
                            d->funcs[t->step_fn[s]].name);
  }
}

static unsigned features(const RtModelDesc *d) {
  return (d->onnx ? RT_FEAT_ONNX : 0u) | (d->train->in_y >= 0 ? RT_FEAT_LABELS : 0u);
}

static int is_float(int dtype) { return dtype == RT_F32 || dtype == RT_F64; }

/* The checks across flags: an error message, or NULL. */
static const char *check_train(const RtModelDesc *d, const RtTrainOpts *o, int eval) {
  const RtTrainDesc *t = d->train;
  int sources = !!o->data_dir + !!o->csv + !!(eval ? o->val_x || o->val_y : o->train_x || o->train_y);
  if (sources != 1)
    return eval ? "give one data source: --data DIR, --x F --y F or --csv F"
                : "give one data source: --data DIR, --train-x F --train-y F or --csv F";
  if (!eval && (!o->train_x) != (!o->train_y)) return "--train-x and --train-y go together";
  if ((!o->val_x) != (!o->val_y))
    return eval ? "--x and --y go together" : "--val-x and --val-y go together";
  if (!eval && o->val_x && !o->train_x) return "--val-x/--val-y need --train-x/--train-y";
  if (o->val_csv && !o->csv) return "--val-csv needs --csv";
  if (eval && (!o->weights) == (!o->checkpoint))
    return "give exactly one of --weights and --checkpoint";
  if (o->resume && o->init_weights) return "--resume and --init-weights exclude each other";
  if (o->norm > 0 && !is_float(d->funcs[t->train_fn].inputs[t->in_x].dtype))
    return "--normalize needs a model whose x is floating point";
  if (o->sched.kind == RT_SCHED_STEP && o->sched.step_size < 1)
    return "--schedule step needs --step-size N";
  if (o->sched.kind == RT_SCHED_MULTISTEP && o->sched.nmilestones < 1)
    return "--schedule multistep needs --milestones A,B,...";
  return NULL;
}

static const char *check_steps(const RtModelDesc *d, const RtTrainOpts *o) {
  if (!!o->data_dir + !!o->train_x + !!o->csv != 1)
    return "give one data source: --data DIR, --train-x F or --csv F";
  if (d->train->in_y >= 0 && o->train_x && !o->train_y)
    return "--train-x needs --train-y (the model has a label input)";
  if (o->samples && (d->funcs[0].ninputs != 0 || d->funcs[0].noutputs < 1))
    return "--samples needs a model whose inference function takes no inputs (a generator)";
  if (o->samples && !rt_path_is_pgm(o->samples)) return "--samples writes a .pgm image";
  return NULL;
}

int rt_train_parse(const RtModelDesc *d, unsigned cmd, int argc, char **argv, RtTrainOpts *o) {
  const RtTrainDesc *t = d->train;
  memset(o, 0, sizeof *o);
  o->target_col = -1;
  o->limit = o->val_limit = -1;
  o->norm = -1;
  o->epochs = t->epochs;
  o->patience = cmd == RT_CMD_STEPS ? 0 : t->patience;
  o->seed = (int64_t)d->seed;
  o->sched = t->schedule;
  const char *cmdname = cmd == RT_CMD_EVAL ? "eval" : "train";
  int rc = rt_flags_parse(flags, NFLAGS, cmd, features(d), d->name, cmdname, argc, argv, o);
  if (rc == 1) {
    UsageCtx u = {d, cmd};
    rt_flags_usage(flags, NFLAGS, cmd, features(d), fill, &u, stdout);
  }
  if (rc) return rc;
  const char *err = cmd == RT_CMD_STEPS ? check_steps(d, o) : check_train(d, o, cmd == RT_CMD_EVAL);
  if (err) {
    fprintf(stderr, "%s %s: error: %s (see --help)\n", d->name, cmdname, err);
    return 2;
  }
  if (o->sched.kind == RT_SCHED_COSINE && !o->t_max_set && o->sched.t_max < 1)
    o->sched.t_max = o->epochs > 0 ? o->epochs : 1;
  if (cmd != RT_CMD_STEPS && o->sched.gamma <= 0) o->sched.gamma = 0.1;
  return 0;
}
