/* `PROG train` for programs with several training steps per batch (the
 * model's `step` directives), e.g. a GAN: on every shuffled batch each
 * step function runs in turn (the discriminator's update, then the
 * generator's), each with its own loss. There is no evaluation function:
 * the loop reports each step's mean loss per epoch and can draw the
 * inference function's output (a generator's samples) as an image grid
 * after every epoch. Shuffles are a pure function of (seed, epoch) and the
 * step counter is checkpointed, so a resumed run repeats an
 * uninterrupted one. */
#include "rt_model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct StepOpts {
  const char *data_dir, *train_x, *train_y, *csv;
  int target_col, norm, epochs, threads;
  int64_t limit, seed;
  double lr;
  int lr_set;
  const char *save, *checkpoint, *resume, *metrics, *samples;
} StepOpts;

static const char *const norm_names[] = {"none", "unit", "standard"};

static void usage(const RtModelDesc *d, FILE *f) {
  const RtTrainDesc *t = d->train;
  fprintf(f, "usage: %s train DATA [options]\n\nTrains '%s': every batch runs the steps", d->name,
          d->name);
  for (int s = 0; s < t->nsteps; s++)
    fprintf(f, "%s%s", s ? (s + 1 == t->nsteps ? " and " : ", ") : " ", d->funcs[t->step_fn[s]].name);
  fprintf(f,
          " in turn,\neach updating its own parameters.\n\n"
          "data (one source):\n"
          "  --data DIR          MNIST-layout IDX directory: train-images-idx3-ubyte[.gz]%s\n"
          "  --train-x F%s   features: .npy, .csv[.gz] or IDX[.gz]\n"
          "  --csv F             numeric CSV%s\n"
          "  --limit N           use only the first N samples\n"
          "  --normalize none|unit|standard\n"
          "                      default: unit (/ 255) for u8 data, else none\n"
          "\ntraining:\n"
          "  --epochs N          total epochs (default %d; with --resume, including those done)\n"
          "  --seed N            shuffling seed (default %llu)\n"
          "  --lr F              base learning rate of every step (default %g; the model's\n"
          "                      schedule applies)\n"
          "  --threads N         OpenMP threads, 1 to max(64, 8 x CPUs)\n"
          "\nfiles:\n"
          "  --save W            final weights (.safetensors)\n"
          "  --checkpoint C      after every epoch, atomically: all parameters, optimizer\n"
          "                      state, epoch and step\n"
          "  --resume C          continue from checkpoint C\n"
          "  --metrics F.csv     one row per epoch: epoch,step,lr,<step>_loss...,seconds\n"
          "  --samples F.pgm     after every epoch, the inference output (e.g. generated\n"
          "                      images, pixel units 0..255) as an image grid\n"
          "Output paths are checked before training starts; --checkpoint and --metrics\n"
          "are locked for the run (C.lock / F.csv.lock): a second run on them is refused.\n"
          "\nBatches: the model's batch size (%lld); the last partial batch of each\n"
          "epoch's shuffle is dropped. A NaN or infinite loss stops at once (exit 1),\n"
          "and so do parameters or optimizer state that become NaN or infinite (checked\n"
          "after every epoch; the checkpoint keeps the last good epoch).\n"
          "Exit status: 0 ok, 1 failure, 2 usage error.\n",
          t->in_y >= 0 ? " and\n                      train-labels-idx1-ubyte[.gz]" : " (labels unused)",
          t->in_y >= 0 ? " --train-y F" : "           ", t->in_y >= 0 ? "; the last column is the label" : " (every column a feature)",
          t->epochs, (unsigned long long)d->seed, t->schedule.lr,
          (long long)d->funcs[t->train_fn].inputs[t->in_x].dims[0]);
}

/* 0: run; 1: --help printed; 2: usage error (printed). */
static int parse(const RtModelDesc *d, int argc, char **argv, StepOpts *o) {
  const RtTrainDesc *t = d->train;
  memset(o, 0, sizeof *o);
  o->target_col = -1;
  o->norm = -1;
  o->limit = -1;
  o->epochs = t->epochs;
  o->seed = (int64_t)d->seed;
  o->lr = t->schedule.lr;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(d, stdout);
      return 1;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strncmp(a, "--", 2) || !v) {
      fprintf(stderr, "%s train: error: %s '%s' (see --help)\n", d->name,
              strncmp(a, "--", 2) ? "unexpected argument" : "option needs a value:", a);
      return 2;
    }
    i++;
    int bad = 0;
    long long x = 0;
    RtErr fe = {{0}};
    if (!strcmp(a, "--data")) o->data_dir = v;
    else if (!strcmp(a, "--train-x")) o->train_x = v;
    else if (!strcmp(a, "--train-y") && t->in_y >= 0) o->train_y = v;
    else if (!strcmp(a, "--csv")) o->csv = v;
    else if (!strcmp(a, "--save")) o->save = v;
    else if (!strcmp(a, "--checkpoint")) o->checkpoint = v;
    else if (!strcmp(a, "--resume")) o->resume = v;
    else if (!strcmp(a, "--metrics")) o->metrics = v;
    else if (!strcmp(a, "--samples")) o->samples = v;
    else if (!strcmp(a, "--normalize")) {
      o->norm = -1;
      for (int k = 0; k < 3; k++)
        if (!strcmp(v, norm_names[k])) o->norm = k;
      bad = o->norm < 0;
    } else if (!strcmp(a, "--epochs")) bad = rt_flag_int32(a, v, 0, RT_MAX_EPOCHS, &o->epochs, &fe);
    else if (!strcmp(a, "--threads")) bad = rt_flag_threads(a, v, &o->threads, &fe);
    else if (!strcmp(a, "--limit")) bad = rt_flag_int(a, v, 1, INT64_MAX, &x, &fe), o->limit = x;
    else if (!strcmp(a, "--seed")) bad = rt_flag_int(a, v, 0, INT64_MAX, &x, &fe), o->seed = x;
    else if (!strcmp(a, "--lr")) bad = rt_flag_double(a, v, 0, 1e30, &o->lr, &fe), o->lr_set = 1;
    else {
      fprintf(stderr, "%s train: error: unknown option '%s' (see --help)\n", d->name, a);
      return 2;
    }
    if (bad && fe.msg[0]) {
      fprintf(stderr, "%s train: error: %s (see --help)\n", d->name, fe.msg);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "%s train: error: invalid value '%s' for %s (see --help)\n", d->name, v, a);
      return 2;
    }
  }
  const char *err = NULL;
  if (!!o->data_dir + !!o->train_x + !!o->csv != 1)
    err = "give one data source: --data DIR, --train-x F or --csv F";
  else if (t->in_y >= 0 && o->train_x && !o->train_y)
    err = "--train-x needs --train-y (the model has a label input)";
  else if (o->samples && (d->funcs[0].ninputs != 0 || d->funcs[0].noutputs < 1))
    err = "--samples needs a model whose inference function takes no inputs (a generator)";
  else if (o->samples && !rt_path_is_pgm(o->samples))
    err = "--samples writes a .pgm image";
  if (err) {
    fprintf(stderr, "%s train: error: %s (see --help)\n", d->name, err);
    return 2;
  }
  return 0;
}

static int load_data(const StepOpts *o, int labels, RtData *data, RtErr *e) {
  if (o->data_dir) {
    char xp[4096], yp[4096];
    if (rt_data_find_dir(o->data_dir, "train", xp, yp, sizeof xp))
      return rt_fail(e, "%s: no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]",
                     o->data_dir);
    if (rt_data_load(data, xp, labels ? yp : NULL, e)) return -1;
  } else if (o->csv) {
    if (labels ? rt_data_load_csv(data, o->csv, o->target_col, e)
               : rt_data_load(data, o->csv, NULL, e)) /* every column a feature */
      return -1;
  } else if (rt_data_load(data, o->train_x, labels ? o->train_y : NULL, e)) {
    return -1;
  }
  rt_data_limit(data, o->limit);
  return 0;
}

static const int64_t one[1] = {1};

static int save_ckpt(const char *path, RtModel *m, int64_t epoch, int64_t step, int64_t seed,
                     RtErr *e) {
  const RtModelDesc *d = m->desc;
  RtStEntry *es = calloc((size_t)d->nparams + 3, sizeof *es);
  if (!es) return rt_fail(e, "%s: out of memory", path);
  int n = 0;
  for (int p = 0; p < d->nparams; p++) {
    const RtTensorDesc *t = &d->params[p];
    es[n++] = (RtStEntry){t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t)};
  }
  es[n++] = (RtStEntry){"__epoch", RT_I64, 1, one, &epoch};
  es[n++] = (RtStEntry){"__step", RT_I64, 1, one, &step};
  es[n++] = (RtStEntry){"__seed", RT_I64, 1, one, &seed};
  int rc = rt_st_write(path, es, n, e);
  free(es);
  return rc;
}

static int load_ckpt(const char *path, RtModel *m, int64_t *epoch, int64_t *step, int64_t *seed,
                     RtErr *e) {
  const RtModelDesc *d = m->desc;
  RtStFile *f;
  if (rt_st_open(path, &f, e)) return -1;
  int rc = 0;
  for (int p = 0; p < d->nparams && !rc; p++) {
    const RtTensorDesc *t = &d->params[p];
    rc = rt_st_read(f, t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t), e);
  }
  if (!rc) rc = rt_st_read(f, "__epoch", RT_I64, 1, one, epoch, e);
  if (!rc) rc = rt_st_read(f, "__step", RT_I64, 1, one, step, e);
  if (!rc) rc = rt_st_read(f, "__seed", RT_I64, 1, one, seed, e);
  rt_st_close(f);
  /* the loop state within its ranges: every epoch takes at least one step */
  if (!rc && (*epoch < 0 || *epoch > RT_MAX_EPOCHS))
    rc = rt_fail(e, "%s: invalid checkpoint: __epoch is %lld (want 0..%d)", path,
                 (long long)*epoch, RT_MAX_EPOCHS);
  if (!rc && (*step < *epoch || *step > RT_MAX_GLOBAL_STEP))
    rc = rt_fail(e, "%s: invalid checkpoint: __step is %lld (want %lld..%lld)", path,
                 (long long)*step, (long long)*epoch, (long long)RT_MAX_GLOBAL_STEP);
  if (!rc && *seed < 0)
    rc = rt_fail(e, "%s: invalid checkpoint: __seed is %lld (want >= 0)", path, (long long)*seed);
  return rc;
}

static int write_samples(RtModel *m, const char *path, RtErr *e) {
  rt_model_run_func(m, 0);
  const RtTensorDesc *t = &m->desc->funcs[0].outputs[0];
  return rt_pgm_write_grid(path, t->dtype, t->rank, t->dims, rt_model_func_output(m, 0, 0), e);
}

static int metrics_header(const char *path, const RtModelDesc *d, RtErr *e) {
  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  if (!f) return -1;
  int ok = fputs("epoch,step,lr", f) >= 0;
  for (int s = 0; s < d->train->nsteps; s++)
    ok = ok && fprintf(f, ",%s_loss", d->funcs[d->train->step_fn[s]].name) > 0;
  ok = ok && fputs(",seconds\n", f) >= 0;
  return rt_out_commit(&out, ok, e);
}

typedef struct StepRun {
  const RtModelDesc *d;
  StepOpts o;
  RtData data;
  RtNorm norm;
  RtModel *m;
  int64_t *perm;
  RtErr e;
} StepRun;

static int run(StepRun *r) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  const StepOpts *o = &r->o;
  RtErr *e = &r->e;
  const RtFuncDesc *f0 = &d->funcs[t->train_fn];
  const RtTensorDesc *xt = &f0->inputs[t->in_x];
  const RtTensorDesc *yt = t->in_y >= 0 ? &f0->inputs[t->in_y] : NULL;
  if (load_data(o, t->in_y >= 0, &r->data, e)) return 1;
  if (rt_data_check(&r->data, "training", xt, yt, RT_TASK_REGRESS, 0, e)) return 1;
  int64_t N = xt->dims[0], nb = r->data.n / N;
  if (nb < 1)
    return rt_fail(e, "%s: %lld samples, fewer than one batch of %lld", r->data.xname,
                   (long long)r->data.n, (long long)N), 1;
  int norm = o->norm >= 0 ? o->norm
                          : r->data.x.dtype == RT_U8 && (xt->dtype == RT_F32 || xt->dtype == RT_F64)
                                ? RT_NORM_UNIT : RT_NORM_NONE;
  if (norm && rt_norm_fit(&r->norm, norm, &r->data, e)) return 1;
  if (!(r->m = rt_model_create(d)) || !(r->perm = malloc(sizeof *r->perm * (size_t)r->data.n)))
    return rt_fail(e, "out of memory"), 1;
  RtModel *m = r->m;
  int64_t epoch = 0, step = 0, seed = o->seed;
  if (o->resume) {
    if (load_ckpt(o->resume, m, &epoch, &step, &seed, e)) return 1;
    printf("resumed from %s: %lld epochs, %lld steps done\n", o->resume, (long long)epoch,
           (long long)step);
  }
  if (o->metrics && (o->resume ? access(o->metrics, F_OK) != 0 : 1) &&
      metrics_header(o->metrics, d, e))
    return 1;
  RtSchedule sched = t->schedule;
  sched.lr = o->lr;
  if (sched.kind == RT_SCHED_COSINE && sched.t_max < 1) sched.t_max = o->epochs > 0 ? o->epochs : 1;
  int ns = t->nsteps, tty = isatty(fileno(stdout));
  printf("training %s: %lld samples, batch %lld, %lld batches per epoch, %d steps per batch\n",
         d->name, (long long)r->data.n, (long long)N, (long long)nb, ns);
  while (epoch < o->epochs) {
    double t0 = rt_now(), last = t0, lr = 0, sum[RT_MAX_STEPS] = {0};
    rt_shuffle((uint64_t)seed, epoch, r->data.n, r->perm);
    for (int64_t b = 0; b < nb; b++) {
      const int64_t *idx = r->perm + b * N;
      lr = rt_schedule_lr(&sched, (int)epoch, step, 1.0);
      for (int s = 0; s < ns; s++) {
        int fn = t->step_fn[s];
        const RtFuncDesc *f = &d->funcs[fn];
        rt_data_fill(&r->data, &r->norm, idx, N, &f->inputs[t->in_x], rt_model_func_input(m, fn, t->in_x),
                     yt ? &f->inputs[t->in_y] : NULL, yt ? rt_model_func_input(m, fn, t->in_y) : NULL);
        rt_elem_put(f->inputs[t->in_lr].dtype, rt_model_func_input(m, fn, t->in_lr), 0, lr);
        rt_elem_put(f->inputs[t->in_step].dtype, rt_model_func_input(m, fn, t->in_step), 0,
                    (double)(step + 1));
        rt_model_run_func(m, fn);
        double l = rt_elem_get(f->outputs[t->out_loss].dtype, rt_model_func_output(m, fn, t->out_loss), 0);
        if (!isfinite(l)) {
          if (tty) printf("\r\033[K");
          fflush(stdout);
          fprintf(stderr, "%s train: error: the %s loss is %s at epoch %lld, batch %lld; stopping. "
                  "Try a lower --lr.\n", d->name, f->name, isnan(l) ? "NaN" : "infinite",
                  (long long)epoch + 1, (long long)b + 1);
          return 1;
        }
        sum[s] += l;
      }
      step++;
      double now = rt_now();
      if (tty ? b + 1 == nb || now - last >= 0.1 : now - last >= 10.0) {
        printf("%sepoch %lld/%d  batch %lld/%lld", tty ? "\r\033[K" : "", (long long)epoch + 1,
               o->epochs, (long long)b + 1, (long long)nb);
        for (int s = 0; s < ns; s++)
          printf("  %s %.4f", d->funcs[t->step_fn[s]].name, sum[s] / (double)(b + 1));
        printf("  %.0f samples/s%s", (double)((b + 1) * N) / (now - t0 + 1e-9), tty ? "" : "\n");
        fflush(stdout);
        last = now;
      }
    }
    if (tty) printf("\r\033[K");
    /* weights or optimizer state gone non-finite stop like a NaN loss */
    if (rt_train_stop_nonfinite(m, epoch + 1, step, o->checkpoint, epoch)) return 1;
    epoch++;
    double secs = rt_now() - t0;
    printf("epoch %lld/%d", (long long)epoch, o->epochs);
    for (int s = 0; s < ns; s++)
      printf("  %s loss %.4f", d->funcs[t->step_fn[s]].name, sum[s] / (double)nb);
    printf("  lr %.4g  %.2fs\n", lr, secs);
    if (o->samples) {
      if (write_samples(m, o->samples, e)) return 1;
    }
    if (o->metrics) {
      FILE *f = rt_append_open(o->metrics, e);
      if (!f) return 1;
      int ok = fprintf(f, "%lld,%lld,%.9g", (long long)epoch, (long long)step, lr) > 0;
      for (int s = 0; s < ns && ok; s++) ok = fprintf(f, ",%.9g", sum[s] / (double)nb) > 0;
      ok = ok && fprintf(f, ",%.3f\n", secs) > 0;
      if (f) ok = (fclose(f) == 0) && ok;
      if (!ok) return rt_fail(e, "%s: write failed", o->metrics), 1;
    }
    if (o->checkpoint && save_ckpt(o->checkpoint, m, epoch, step, seed, e)) return 1;
    fflush(stdout);
  }
  if (o->samples) {
    if (write_samples(m, o->samples, e)) return 1;
    printf("wrote samples to %s\n", o->samples);
  }
  if (o->save) {
    if (rt_params_check_finite(m, d->nweights, e)) return 1;
    if (rt_model_save_weights(m, o->save)) return *e = m->err, 1;
    printf("saved weights to %s\n", o->save);
  }
  return 0;
}

int rt_steps_train_main(const RtModelDesc *d, int argc, char **argv) {
  const RtTrainDesc *t = d->train;
  if (!t || t->nsteps < 1 || t->nsteps > RT_MAX_STEPS || t->in_x < 0 || t->in_lr < 0 ||
      t->in_step < 0) {
    fprintf(stderr, "%s train: error: bad training description\n", d->name);
    return 2;
  }
  for (int s = 0; s < t->nsteps; s++) {
    int fn = t->step_fn[s];
    if (fn < 1 || fn >= d->nfuncs || t->in_step >= d->funcs[fn].ninputs ||
        t->out_loss >= d->funcs[fn].noutputs) {
      fprintf(stderr, "%s train: error: bad training description (step %d)\n", d->name, s);
      return 2;
    }
  }
  StepRun r;
  memset(&r, 0, sizeof r);
  r.d = d;
  int rc = parse(d, argc, argv, &r.o);
  if (rc) return rc == 1 ? 0 : 2;
  if (r.o.threads) omp_set_dynamic(0), omp_set_num_threads(r.o.threads);
  /* every destination checked, checkpoint and metrics locked for the
   * whole run, before any work */
  const RtOutFlag outs[4] = {{"--checkpoint", r.o.checkpoint, 1},
                             {"--metrics", r.o.metrics, 1},
                             {"--save", r.o.save, 0},
                             {"--samples", r.o.samples, 0}};
  RtLock locks[4];
  memset(locks, 0, sizeof locks);
  rc = rt_outputs_prepare(outs, 4, locks, &r.e) ? 1 : run(&r);
  rt_outputs_release(locks, 4);
  if (rc && r.e.msg[0]) {
    fflush(stdout);
    fprintf(stderr, "%s train: error: %s\n", d->name, r.e.msg);
  }
  rt_data_free(&r.data);
  rt_norm_free(&r.norm);
  rt_model_free(r.m);
  free(r.perm);
  fflush(stdout);
  return rc;
}
