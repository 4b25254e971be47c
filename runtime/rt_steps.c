/* `PROG train` for programs with several training steps per batch (the
 * model's `step` directives), e.g. a GAN: on every shuffled batch each
 * step function runs in turn (the discriminator's update, then the
 * generator's), each with its own loss. There is no evaluation function:
 * the loop reports each step's mean loss per epoch and can draw the
 * inference function's output (a generator's samples) as an image grid
 * after every epoch. The loop itself, checkpoints included, is the core of
 * rt_loop.c; this file is its policy. */
#include "rt_loop.h"

#include <stdio.h>
#include <string.h>

static int write_samples(RtModel *m, const char *path, RtErr *e) {
  rt_model_run_func(m, 0);
  const RtTensorDesc *t = &m->desc->funcs[0].outputs[0];
  return rt_pgm_write_grid(path, t->dtype, t->rank, t->dims, rt_model_func_output(m, 0, 0), e);
}

static int steps_intro(RtRun *r, int64_t nb) {
  const RtModelDesc *d = r->d;
  int64_t N = d->funcs[d->train->train_fn].inputs[d->train->in_x].dims[0];
  printf("training %s: %lld samples, batch %lld, %lld batches per epoch, %d steps per batch\n",
         d->name, (long long)r->train.n, (long long)N, (long long)nb, d->train->nsteps);
  return 0;
}

static void steps_epoch_begin(RtRun *r) { memset(r->step_loss, 0, sizeof r->step_loss); }

static int steps_batch(RtRun *r, const int64_t *idx, double lr, int64_t b, int64_t nb) {
  const RtTrainDesc *t = r->d->train;
  RtModel *m = r->m;
  for (int s = 0; s < t->nsteps; s++) {
    int fn = t->step_fn[s];
    const RtFuncDesc *f = &r->d->funcs[fn];
    const RtTensorDesc *xt = &f->inputs[t->in_x];
    int y = t->in_y >= 0;
    rt_data_fill(&r->train, &r->norm, idx, xt->dims[0], xt, rt_model_func_input(m, fn, t->in_x),
                 y ? &f->inputs[t->in_y] : NULL, y ? rt_model_func_input(m, fn, t->in_y) : NULL);
    rt_elem_put(f->inputs[t->in_lr].dtype, rt_model_func_input(m, fn, t->in_lr), 0, lr);
    rt_elem_put(f->inputs[t->in_step].dtype, rt_model_func_input(m, fn, t->in_step), 0,
                (double)(r->L.step + 1));
    rt_model_run_func(m, fn);
    double l = rt_elem_get(f->outputs[t->out_loss].dtype, rt_model_func_output(m, fn, t->out_loss), 0);
    if (rt_loop_check_loss(r, fn, l, b, nb)) return -1;
    r->step_loss[s] += l;
  }
  return 0;
}

static void steps_progress(RtRun *r, int64_t b, int64_t nb, double el, int tty) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  int64_t N = d->funcs[t->train_fn].inputs[t->in_x].dims[0];
  printf("%sepoch %lld/%d  batch %lld/%lld", tty ? "\r\033[K" : "", (long long)r->L.epoch + 1,
         r->o.epochs, (long long)b + 1, (long long)nb);
  for (int s = 0; s < t->nsteps; s++)
    printf("  %s %.4f", d->funcs[t->step_fn[s]].name, r->step_loss[s] / (double)(b + 1));
  printf("  %.0f samples/s%s", (double)((b + 1) * N) / (el + 1e-9), tty ? "" : "\n");
}

static int steps_report(RtRun *r, double lr, double secs, double *row, int *nrow) {
  const RtModelDesc *d = r->d;
  const RtTrainDesc *t = d->train;
  int64_t nb = r->train.n / d->funcs[t->train_fn].inputs[t->in_x].dims[0];
  printf("epoch %lld/%d", (long long)r->L.epoch, r->o.epochs);
  for (int s = 0; s < t->nsteps; s++)
    printf("  %s loss %.4f", d->funcs[t->step_fn[s]].name, r->step_loss[s] / (double)nb);
  printf("  lr %.4g  %.2fs\n", lr, secs);
  for (int s = 0; s < t->nsteps; s++) row[(*nrow)++] = r->step_loss[s] / (double)nb;
  return r->o.samples ? write_samples(r->m, r->o.samples, &r->e) : 0;
}

static int steps_finish(RtRun *r) {
  if (!r->o.samples) return 0;
  if (write_samples(r->m, r->o.samples, &r->e)) return -1;
  printf("wrote samples to %s\n", r->o.samples);
  return 0;
}

static void steps_metrics_header(const RtRun *r, char *buf, size_t n) {
  const RtModelDesc *d = r->d;
  size_t k = (size_t)snprintf(buf, n, "epoch,step,lr");
  for (int s = 0; s < d->train->nsteps && k < n; s++)
    k += (size_t)snprintf(buf + k, n - k, ",%s_loss", d->funcs[d->train->step_fn[s]].name);
  if (k < n) snprintf(buf + k, n - k, ",seconds");
}

static const RtLoopPolicy several_steps = {
    .intro = steps_intro,
    .epoch_begin = steps_epoch_begin,
    .batch = steps_batch,
    .progress = steps_progress,
    .report = steps_report,
    .finish = steps_finish,
    .metrics_header = steps_metrics_header,
};

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
  return rt_loop_main(d, &several_steps, RT_CMD_STEPS, argc, argv);
}
