/* One train step per batch with an eval function (`PROG train`, `PROG
 * eval`): learning-rate schedules, evaluation, the loop policy (training
 * metrics, validation, reduce-on-plateau, early stopping with the best
 * weights, the final report) on the loop core of rt_loop.c. */
#include "rt_loop.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

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

/* predictions per sample the metrics count (several for a sequence
 * classifier's positions, else 1) */
static int64_t positions(const RtMetrics *mt, const RtTensorDesc *pt) {
  return mt->task == RT_TASK_CLASSIFY ? rt_pred_positions(pt, mt->nclass) : 1;
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

/* ---- the policy: one train step, validation, early stopping ---- */

static double metric_value(const RtMetrics *mt) {
  return mt->task == RT_TASK_CLASSIFY ? rt_metrics_accuracy(mt) : rt_metrics_mae(mt);
}

static void fmt_metric(const RtMetrics *mt, char *buf, size_t n) {
  if (mt->task == RT_TASK_CLASSIFY) snprintf(buf, n, "acc %.2f%%", 100 * rt_metrics_accuracy(mt));
  else snprintf(buf, n, "mae %.4g", rt_metrics_mae(mt));
}

static const char *monitor(const RtRun *r) { return r->val.n ? "val" : "train"; }

static int one_intro(RtRun *r, int64_t nb) {
  const RtTrainOpts *o = &r->o;
  const RtLoopState *L = &r->L;
  int64_t N = func(r->d, 0)->inputs[r->d->train->in_x].dims[0], dropped = r->train.n - nb * N;
  printf("training %s: %lld samples, batch %lld, %lld steps per epoch", r->d->name,
         (long long)r->train.n, (long long)N, (long long)nb);
  if (dropped)
    printf("; the last partial batch (%lld samples of each epoch's shuffle) is dropped",
           (long long)dropped);
  if (r->val.n) printf("\nvalidation: %lld samples\n", (long long)r->val.n);
  else
    printf("\nvalidation: none%s\n", o->patience || o->sched.kind == RT_SCHED_PLATEAU
                                          ? " (early stopping and plateau watch the training loss)"
                                          : "");
  if (L->epoch >= o->epochs)
    printf("nothing to train: %lld of %d epochs done\n", (long long)L->epoch, o->epochs);
  if (o->patience && L->bad >= o->patience && L->epoch < o->epochs) {
    printf("early stopping already triggered at epoch %lld\n", (long long)L->epoch);
    return 1;
  }
  return 0;
}

static void one_epoch_begin(RtRun *r) { rt_metrics_reset(&r->tm); }

static int one_batch(RtRun *r, const int64_t *idx, double lr, int64_t b, int64_t nb) {
  const RtTrainDesc *t = r->d->train;
  RtModel *m = r->m;
  int fn = t->train_fn;
  const RtFuncDesc *tf = func(r->d, 0);
  const RtTensorDesc *xt = &tf->inputs[t->in_x], *pt = &tf->outputs[t->out_pred];
  int64_t N = xt->dims[0];
  rt_data_fill(&r->train, &r->norm, idx, N, xt, rt_model_func_input(m, fn, t->in_x),
               &tf->inputs[t->in_y], rt_model_func_input(m, fn, t->in_y));
  rt_elem_put(tf->inputs[t->in_lr].dtype, rt_model_func_input(m, fn, t->in_lr), 0, lr);
  /* the step input counts updates from 1 (Adam's bias correction,
   * momentum's first step); L.step counts completed steps */
  rt_elem_put(tf->inputs[t->in_step].dtype, rt_model_func_input(m, fn, t->in_step), 0,
              (double)(r->L.step + 1));
  rt_model_run_func(m, fn);
  double l = rt_elem_get(tf->outputs[t->out_loss].dtype, rt_model_func_output(m, fn, t->out_loss), 0);
  if (rt_loop_check_loss(r, fn, l, b, nb)) return -1;
  r->tm.loss_sum += l * (double)(N * positions(&r->tm, pt));
  rt_metrics_add(&r->tm, pt, rt_model_func_output(m, fn, t->out_pred), &r->train, idx, N);
  return 0;
}

static void one_progress(RtRun *r, int64_t b, int64_t nb, double el, int tty) {
  int64_t N = func(r->d, 0)->inputs[r->d->train->in_x].dims[0];
  char eta[32];
  rt_loop_fmt_time(el / (double)(b + 1) * (double)(nb - b - 1), eta, sizeof eta);
  printf("%sepoch %lld/%d  step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s%s",
         tty ? "\r\033[K" : "", (long long)r->L.epoch + 1, r->o.epochs, (long long)b + 1,
         (long long)nb, rt_metrics_loss(&r->tm), el > 0 ? (double)((b + 1) * N) / el : 0.0, eta,
         tty ? "" : "\n");
}

static int one_evaluate(RtRun *r) {
  return r->val.n ? rt_evaluate(r->m, &r->val, &r->norm, &r->vm, &r->e) : 0;
}

static int one_report(RtRun *r, double lr, double secs, double *row, int *nrow) {
  const RtTrainOpts *o = &r->o;
  RtLoopState *L = &r->L;
  int val = r->val.n > 0;
  double tl = rt_metrics_loss(&r->tm), vl = val ? rt_metrics_loss(&r->vm) : NAN;
  double mon = val ? vl : tl;
  char tms[64], vms[64] = "";
  fmt_metric(&r->tm, tms, sizeof tms);
  if (val) fmt_metric(&r->vm, vms, sizeof vms);
  printf("epoch %lld/%d  train loss %.4f %s", (long long)L->epoch, o->epochs, tl, tms);
  if (val) printf("  val loss %.4f %s", vl, vms);
  printf("  lr %.4g  %.2fs\n", lr, secs);
  if (o->sched.kind == RT_SCHED_PLATEAU &&
      rt_plateau_step(&L->plat, mon, o->sched.gamma, o->sched.patience))
    printf("plateau: %s loss stalled for more than %d epochs; lr scale now %.4g\n", monitor(r),
           o->sched.patience, L->plat.scale);
  if (o->patience) {
    if (mon < L->best_val) {
      L->best_val = mon;
      L->bad = 0;
      L->best_epoch = L->epoch;
      L->has_best = 1;
      memcpy(r->best, r->m->params, r->d->param_bytes);
    } else {
      L->bad++;
    }
  }
  row[(*nrow)++] = tl;
  row[(*nrow)++] = metric_value(&r->tm);
  row[(*nrow)++] = vl;
  row[(*nrow)++] = val ? metric_value(&r->vm) : NAN;
  return 0;
}

static int one_stop(RtRun *r) {
  const RtLoopState *L = &r->L;
  if (!r->o.patience || L->bad < r->o.patience) return 0;
  printf("early stopping: no lower %s loss for %lld epochs (best %.6g after epoch %lld)\n",
         monitor(r), (long long)L->bad, L->best_val, (long long)L->best_epoch);
  return 1;
}

static int one_finish(RtRun *r) {
  const RtModelDesc *d = r->d;
  if (r->o.patience && r->L.has_best && r->L.best_epoch < r->L.epoch) {
    for (int p = 0; p < d->nweights; p++) {
      const RtTensorDesc *t = &d->params[p];
      memcpy(r->m->params + t->offset, r->best + t->offset,
             (size_t)t->numel * rt_dtype_size(t->dtype));
    }
    printf("using the weights of epoch %lld (best %s loss %.6g)\n", (long long)r->L.best_epoch,
           monitor(r), r->L.best_val);
  }
  const RtData *set = r->val.n ? &r->val : &r->train;
  if (rt_evaluate(r->m, set, &r->norm, &r->vm, &r->e)) return -1;
  rt_metrics_print(&r->vm, r->val.n ? "validation set" : "training set", stdout);
  return 0;
}

static void one_metrics_header(const RtRun *r, char *buf, size_t n) {
  (void)r;
  snprintf(buf, n, "epoch,step,lr,train_loss,train_metric,val_loss,val_metric,seconds");
}

static const RtLoopPolicy one_step = {
    .intro = one_intro,
    .epoch_begin = one_epoch_begin,
    .batch = one_batch,
    .progress = one_progress,
    .evaluate = one_evaluate,
    .report = one_report,
    .stop = one_stop,
    .finish = one_finish,
    .metrics_header = one_metrics_header,
};

int rt_train_main(const RtModelDesc *d, int argc, char **argv) {
  RtErr e = {{0}};
  if (check_desc(d, &e)) {
    fprintf(stderr, "%s train: error: %s\n", d->name, e.msg);
    return 2;
  }
  return rt_loop_main(d, &one_step, RT_CMD_TRAIN, argc, argv);
}

/* ---- eval ---- */

int rt_eval_main(const RtModelDesc *d, int argc, char **argv) {
  RtRun r;
  memset(&r, 0, sizeof r);
  r.d = d;
  r.cmd = RT_CMD_EVAL;
  RtErr *e = &r.e;
  if (check_desc(d, e)) {
    fprintf(stderr, "%s eval: error: %s\n", d->name, e->msg);
    return 2;
  }
  const RtTrainOpts *o = &r.o;
  int rc = rt_train_parse(d, RT_CMD_EVAL, argc, argv, &r.o);
  if (rc) return rc == 1 ? 0 : 2;
  if (o->threads) omp_set_dynamic(0), omp_set_num_threads(o->threads);
  const RtTrainDesc *t = d->train;
  const RtFuncDesc *ef = func(d, 1);
  const RtTensorDesc *xt = &ef->inputs[t->in_x];
  RtNorm norm = {0};
  RtMetrics mt = {0};
  RtModel *m = NULL;
  rc = rt_loop_load_sets(&r) ||
       rt_data_check(&r.val, "evaluation", xt, &ef->inputs[t->in_y], t->task, rt_loop_nclass(d), e) ||
       rt_metrics_init(&mt, t->task, rt_loop_nclass(d), e);
  if (!rc && !(m = rt_model_create(d))) rc = rt_fail(e, "out of memory");
  if (!rc && o->weights && rt_model_load_weights(m, o->weights)) rc = -1, *e = m->err;
  norm.kind = -1; /* set from the checkpoint, if it says */
  if (!rc && o->checkpoint)
    rc = rt_ckpt_load(o->checkpoint, m, NULL, NULL, NULL, &norm, r.val.xper, e);
  int kind = o->norm >= 0 ? o->norm : norm.kind >= 0 ? norm.kind : rt_loop_default_norm(&r.val, xt);
  if (norm.shift && norm.kind != kind) rt_norm_free(&norm);
  norm.kind = norm.shift ? norm.kind : RT_NORM_NONE;
  if (!rc && !norm.shift) {
    if (kind == RT_NORM_UNIT && r.val.x.dtype == RT_U8) {
      rc = rt_norm_fit(&norm, kind, &r.val, e);
    } else if (kind != RT_NORM_NONE) {
      if (!r.has_train)
        rc = rt_fail(e, "--normalize %s needs the training statistics: --checkpoint, or the "
                        "training features (--train-x, --train-csv, or --data with train files)",
                     rt_norm_names[kind]);
      else if (r.train.xper != r.val.xper)
        rc = rt_fail(e, "%s: %lld features per sample, but the evaluated set has %lld",
                     r.train.xname, (long long)r.train.xper, (long long)r.val.xper);
      else
        rc = rt_norm_fit(&norm, kind, &r.train, e);
    }
  }
  if (!rc) rc = rt_evaluate(m, &r.val, &norm, &mt, e);
  if (!rc) rt_metrics_print(&mt, r.val.xname, stdout);
  if (rc) {
    fflush(stdout);
    fprintf(stderr, "%s eval: error: %s\n", d->name, e->msg);
  }
  rt_data_free(&r.train);
  rt_data_free(&r.val);
  rt_norm_free(&norm);
  rt_metrics_free(&mt);
  rt_model_free(m);
  fflush(stdout);
  return rc ? 1 : 0;
}
