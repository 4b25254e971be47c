/* Training checkpoints and the metrics file of compiled programs. One
 * checkpoint format for every training program (one train step or several
 * steps per batch): a safetensors file holding every parameter (weights
 * and the optimizer state of every step), the loop state as i64[1] and
 * f64[1] tensors named __epoch, __step, ..., the best weights of early
 * stopping as __best/NAME and the normalization statistics
 * (__norm_shift, __norm_scale). */
#include "rt_loop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void state_fields(RtLoopState *L, int64_t *iv[NSTATE_I64], double *fv[NSTATE_F64]) {
  int64_t *i[NSTATE_I64] = {&L->epoch,      &L->step,     &L->seed,      &L->bad,
                            &L->best_epoch, &L->has_best, &L->norm_kind, &L->plat.bad};
  double *f[NSTATE_F64] = {&L->best_val, &L->plat.best, &L->plat.scale};
  memcpy(iv, i, sizeof i);
  memcpy(fv, f, sizeof f);
}

int rt_ckpt_save(const char *path, const RtModel *m, const RtLoopState *L,
                 const unsigned char *best, char **best_names, const RtNorm *nm, RtErr *e) {
  const RtModelDesc *d = m->desc;
  RtLoopState copy = *L;
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
static int check_loop(const char *path, const RtLoopState *L, RtErr *e) {
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

int rt_ckpt_load(const char *path, RtModel *m, RtLoopState *L, unsigned char *best,
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
  /* multi-step programs of earlier releases kept __epoch, __step and
   * __seed alone */
  if (!rc && L && !st_has(f, "__bad_epochs"))
    rc = rt_fail(e, "%s: a checkpoint of an earlier smelt release (no '__bad_epochs' and the "
                 "rest of today's loop state); it cannot be resumed: train from the start", path);
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

int rt_ckpt_init_weights(RtModel *m, const char *path, RtErr *e) {
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

int rt_metrics_file_start(const char *path, const char *header, int resume, int64_t epoch,
                          RtErr *e) {
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
  int ok = fputs(header, f) >= 0 && fputc('\n', f) >= 0;
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

int rt_metrics_file_row(const char *path, int64_t epoch, int64_t step, const double *v, int n,
                        double secs, RtErr *e) {
  FILE *f = rt_append_open(path, e);
  if (!f) return -1;
  int ok = fprintf(f, "%lld,%lld", (long long)epoch, (long long)step) > 0;
  for (int i = 0; i < n && ok; i++) ok = fprintf(f, ",%.9g", v[i]) > 0;
  ok = ok && fprintf(f, ",%.3f\n", secs) > 0;
  ok = (fclose(f) == 0) && ok;
  return ok ? 0 : rt_fail(e, "%s: write failed", path);
}
