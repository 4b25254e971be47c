/* The training-loop core of compiled programs, for one train step per
 * batch and for several: flags, outputs checked and locked, data sets,
 * normalization, model, resume from a checkpoint, the metrics file, then
 * per epoch a shuffle that is a pure function of (seed, epoch), the
 * batches with the schedule's learning rate and the global step counter,
 * the checks for non-finite losses and parameters, a metrics row and a
 * checkpoint; finally the weights. A resumed run repeats an uninterrupted
 * one: the step counter and the loop state are part of the checkpoint.
 * What differs between the two kinds of program is an RtLoopPolicy
 * (rt_train.c, rt_steps.c). */
#include "rt_loop.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rt_loop_default_norm(const RtData *d, const RtTensorDesc *xt) {
  return d->x.dtype == RT_U8 && (xt->dtype == RT_F32 || xt->dtype == RT_F64) ? RT_NORM_UNIT
                                                                             : RT_NORM_NONE;
}

void rt_loop_fmt_time(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
  else if (s < 60) snprintf(buf, n, "%.0fs", s);
  else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* ---- data sets ---- */

static int load_dir(RtRun *r, int eval, int labels, RtErr *e) {
  const RtTrainOpts *o = &r->o;
  char xp[4096], yp[4096];
  int have_train = !rt_data_find_dir(o->data_dir, "train", xp, yp, sizeof xp);
  if (!eval && !have_train)
    return rt_fail(e, "%s: no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]",
                   o->data_dir);
  if (have_train && (!eval || o->norm > 0)) {
    if (rt_data_load(&r->train, xp, labels ? yp : NULL, e)) return -1;
    r->has_train = 1;
  }
  if (r->cmd == RT_CMD_STEPS) return 0; /* no validation */
  if (!rt_data_find_dir(o->data_dir, "t10k", xp, yp, sizeof xp)) {
    if (rt_data_load(&r->val, xp, yp, e)) return -1;
  } else if (eval) {
    return rt_fail(e, "%s: no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]",
                   o->data_dir);
  }
  return 0;
}

int rt_loop_load_sets(RtRun *r) {
  const RtTrainOpts *o = &r->o;
  RtErr *e = &r->e;
  int eval = r->cmd == RT_CMD_EVAL, labels = r->d->train->in_y >= 0;
  if (o->data_dir) {
    if (load_dir(r, eval, labels, e)) return -1;
  } else if (o->csv) {
    if (eval) {
      if (rt_data_load_csv(&r->val, o->csv, o->target_col, e)) return -1;
      if (o->train_csv) {
        if (rt_data_load_csv(&r->train, o->train_csv, o->target_col, e)) return -1;
        r->has_train = 1;
      }
    } else {
      /* without labels every column is a feature */
      if (labels ? rt_data_load_csv(&r->train, o->csv, o->target_col, e)
                 : rt_data_load(&r->train, o->csv, NULL, e))
        return -1;
      r->has_train = 1;
      if (o->val_csv && rt_data_load_csv(&r->val, o->val_csv, o->target_col, e)) return -1;
    }
  } else {
    if (!eval || o->train_x) {
      if (rt_data_load(&r->train, o->train_x, eval || !labels ? NULL : o->train_y, e)) return -1;
      r->has_train = 1;
    }
    if (o->val_x && rt_data_load(&r->val, o->val_x, o->val_y, e)) return -1;
  }
  if (eval) {
    rt_data_limit(&r->val, o->limit);
    return 0;
  }
  rt_data_limit(&r->train, o->limit);
  rt_data_limit(&r->val, o->val_limit);
  if (o->val_split > 0) {
    if (r->val.n)
      printf("note: a validation set is given; ignoring --val-split\n");
    else if (rt_data_split(&r->train, o->val_split, &r->val, e))
      return -1;
  }
  return 0;
}

/* ---- the run ---- */

static void run_free(RtRun *r) {
  rt_data_free(&r->train);
  rt_data_free(&r->val);
  rt_norm_free(&r->norm);
  rt_model_free(r->m);
  rt_metrics_free(&r->tm);
  rt_metrics_free(&r->vm);
  free(r->perm);
  rt_free(r->best);
  if (r->best_names)
    for (int p = 0; p < r->d->nweights; p++) free(r->best_names[p]);
  free(r->best_names);
}

int64_t rt_loop_nclass(const RtModelDesc *d) {
  const RtTensorDesc *p = &d->funcs[d->train->eval_fn].outputs[d->train->out_pred];
  int64_t per = p->numel / p->dims[0];
  return per == 1 ? 2 : p->rank > 1 ? p->dims[p->rank - 1] : per;
}

/* The training set against the model (and the validation set against its
 * eval function); several steps take any targets, or none. */
static int check_sets(RtRun *r) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  const RtFuncDesc *tf = &d->funcs[t->train_fn];
  const RtTensorDesc *yt = t->in_y >= 0 ? &tf->inputs[t->in_y] : NULL;
  if (r->cmd == RT_CMD_STEPS)
    return rt_data_check(&r->train, "training", &tf->inputs[t->in_x], yt, RT_TASK_REGRESS, 0,
                         &r->e);
  const RtFuncDesc *ef = &d->funcs[t->eval_fn];
  int64_t nclass = rt_loop_nclass(d);
  if (rt_data_check(&r->train, "training", &tf->inputs[t->in_x], yt, t->task, nclass, &r->e))
    return -1;
  if (r->val.n && rt_data_check(&r->val, "validation", &ef->inputs[t->in_x],
                                &ef->inputs[t->in_y], t->task, nclass, &r->e))
    return -1;
  if (r->val.n && r->val.x.dtype != r->train.x.dtype)
    printf("note: training features are %s, validation features %s\n",
           rt_dtype_name(r->train.x.dtype), rt_dtype_name(r->val.x.dtype));
  return rt_metrics_init(&r->tm, t->task, nclass, &r->e) ||
                 rt_metrics_init(&r->vm, t->task, nclass, &r->e)
             ? -1 : 0;
}

/* Data, model and loop state; returns an exit status (0: go on). */
static int setup(RtRun *r) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  const RtTrainOpts *o = &r->o;
  RtErr *e = &r->e;
  const RtTensorDesc *xt = &d->funcs[t->train_fn].inputs[t->in_x];
  if (rt_loop_load_sets(r) || check_sets(r)) return 1;
  int64_t N = xt->dims[0];
  if (r->train.n < N)
    return rt_fail(e, "%s: %lld training samples, fewer than one batch of %lld", r->train.xname,
                   (long long)r->train.n, (long long)N),
           1;
  r->m = rt_model_create(d);
  r->perm = malloc(sizeof *r->perm * (size_t)r->train.n);
  r->best = rt_alloc(d->param_bytes);
  r->best_names = calloc((size_t)d->nweights + 1, sizeof *r->best_names);
  if (!r->m || !r->perm || !r->best || !r->best_names) return rt_fail(e, "out of memory"), 1;
  for (int p = 0; p < d->nweights; p++) {
    size_t n = strlen(d->params[p].name) + 8;
    if (!(r->best_names[p] = malloc(n))) return rt_fail(e, "out of memory"), 1;
    snprintf(r->best_names[p], n, "__best/%s", d->params[p].name);
  }
  RtLoopState *L = &r->L;
  L->seed = o->seed;
  L->best_val = INFINITY;
  rt_plateau_init(&L->plat);
  L->norm_kind = o->norm >= 0 ? o->norm : rt_loop_default_norm(&r->train, xt);
  if (o->resume) {
    RtNorm stored = {0};
    if (rt_ckpt_load(o->resume, r->m, L, r->best, r->best_names, &stored, r->train.xper, e))
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
  } else if (o->init_weights && rt_ckpt_init_weights(r->m, o->init_weights, e)) {
    return 1;
  }
  if (!r->norm.kind && L->norm_kind && rt_norm_fit(&r->norm, (int)L->norm_kind, &r->train, e))
    return 1;
  if (o->metrics) {
    char header[4096];
    r->p->metrics_header(r, header, sizeof header);
    if (rt_metrics_file_start(o->metrics, header, !!o->resume, L->epoch, e)) return 1;
  }
  return 0;
}

int rt_loop_check_loss(RtRun *r, int fn, double l, int64_t b, int64_t nb) {
  if (isfinite(l)) return 0;
  const RtModelDesc *d = r->d;
  const RtLoopState *L = &r->L;
  if (r->tty) printf("\r\033[K");
  fflush(stdout);
  if (r->cmd == RT_CMD_STEPS) {
    fprintf(stderr, "%s train: error: the %s loss is %s at epoch %lld, batch %lld; stopping. "
            "Try a lower --lr.\n", d->name, d->funcs[fn].name, isnan(l) ? "NaN" : "infinite",
            (long long)L->epoch + 1, (long long)b + 1);
    return -1;
  }
  fprintf(stderr,
          "%s train: error: the training loss is %s at epoch %lld, step %lld of %lld "
          "(global step %lld); stopping.",
          d->name, isnan(l) ? "NaN" : "infinite", (long long)L->epoch + 1, (long long)b + 1,
          (long long)nb, (long long)L->step + 1);
  if (r->o.checkpoint)
    fprintf(stderr, " %s is untouched (last written after epoch %lld).", r->o.checkpoint,
            (long long)L->epoch);
  fprintf(stderr, " Try a lower --lr.\n");
  return -1;
}

static int loop(RtRun *r) {
  const RtModelDesc *d = r->d;
  const RtLoopPolicy *p = r->p;
  const RtTrainOpts *o = &r->o;
  RtLoopState *L = &r->L;
  int64_t N = d->funcs[d->train->train_fn].inputs[d->train->in_x].dims[0], nb = r->train.n / N;
  int tty = r->tty = isatty(fileno(stdout));
  if (p->intro && p->intro(r, nb)) return 0;
  while (L->epoch < o->epochs) {
    double t0 = rt_now(), last = t0, lr = 0;
    rt_shuffle((uint64_t)L->seed, L->epoch, r->train.n, r->perm);
    if (p->epoch_begin) p->epoch_begin(r);
    for (int64_t b = 0; b < nb; b++) {
      lr = rt_schedule_lr(&o->sched, (int)L->epoch, L->step, L->plat.scale);
      if (p->batch(r, r->perm + b * N, lr, b, nb)) return 1;
      L->step++;
      double now = rt_now();
      if (tty ? b + 1 == nb || now - last >= 0.1 : now - last >= 10.0) {
        p->progress(r, b, nb, now - t0, tty);
        fflush(stdout);
        last = now;
      }
    }
    if (tty) printf("\r\033[K");
    /* weights or optimizer state gone non-finite stop like a NaN loss */
    if (rt_train_stop_nonfinite(r->m, L->epoch + 1, L->step, o->checkpoint, L->epoch)) return 1;
    if (p->evaluate && p->evaluate(r)) return 1;
    L->epoch++;
    double secs = rt_now() - t0, row[2 + RT_MAX_STEPS + 4];
    int nrow = 0;
    row[nrow++] = lr;
    if (p->report(r, lr, secs, row, &nrow)) return 1;
    if (o->metrics &&
        rt_metrics_file_row(o->metrics, L->epoch, L->step, row, nrow, secs, &r->e))
      return 1;
    if (o->checkpoint &&
        rt_ckpt_save(o->checkpoint, r->m, L, r->best, r->best_names, &r->norm, &r->e))
      return 1;
    fflush(stdout);
    if (p->stop && p->stop(r)) break;
  }
  return 0;
}

static int finish(RtRun *r) {
  const RtTrainOpts *o = &r->o;
  if (r->p->finish && r->p->finish(r)) return 1;
  if ((o->save || o->export_onnx) && rt_params_check_finite(r->m, r->d->nweights, &r->e))
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

int rt_loop_main(const RtModelDesc *d, const RtLoopPolicy *p, unsigned cmd, int argc,
                 char **argv) {
  RtRun *r = calloc(1, sizeof *r);
  if (!r) return fprintf(stderr, "%s train: error: out of memory\n", d->name), 1;
  r->d = d;
  r->p = p;
  r->cmd = cmd;
  int rc = rt_train_parse(d, cmd, argc, argv, &r->o);
  if (rc) {
    free(r);
    return rc == 1 ? 0 : 2;
  }
  const RtTrainOpts *o = &r->o;
  if (o->threads) omp_set_dynamic(0), omp_set_num_threads(o->threads);
  /* every destination checked, checkpoint and metrics locked for the
   * whole run, before any work */
  const RtOutFlag outs[5] = {{"--checkpoint", o->checkpoint, 1},
                             {"--metrics", o->metrics, 1},
                             {"--save", o->save, 0},
                             {"--export-onnx", o->export_onnx, 0},
                             {"--samples", o->samples, 0}};
  RtLock locks[5];
  memset(locks, 0, sizeof locks);
  rc = rt_outputs_prepare(outs, 5, locks, &r->e) ? 1 : 0;
  if (!rc) rc = setup(r);
  if (!rc) rc = loop(r);
  if (!rc) rc = finish(r);
  rt_outputs_release(locks, 5);
  if (rc && r->e.msg[0]) {
    fflush(stdout);
    fprintf(stderr, "%s train: error: %s\n", d->name, r->e.msg);
  }
  run_free(r);
  free(r);
  fflush(stdout);
  return rc;
}
