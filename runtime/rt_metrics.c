/* Metrics of a training or evaluation pass: accuracy, per-class precision,
 * recall and F1 and a confusion matrix for classifiers; MSE and MAE for
 * regression. */
#include "rt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Above this many classes the [nclass, nclass] confusion matrix is not
 * kept (8 MB at the limit; a 50k-token vocabulary would need 20 GB): the
 * per-class counts give every metric. */
#define RT_CONFUSION_MAX 1024
#define RT_MAX_CLASSES (1 << 21)

int rt_metrics_init(RtMetrics *mt, int task, int64_t nclass, RtErr *e) {
  memset(mt, 0, sizeof *mt);
  mt->task = task;
  if (task != RT_TASK_CLASSIFY) return 0;
  if (nclass < 1 || nclass > RT_MAX_CLASSES)
    return rt_fail(e, "%lld classes: unsupported (at most %d)", (long long)nclass, RT_MAX_CLASSES);
  mt->nclass = nclass;
  mt->tp = calloc((size_t)nclass, sizeof *mt->tp);
  mt->support = calloc((size_t)nclass, sizeof *mt->support);
  mt->predicted = calloc((size_t)nclass, sizeof *mt->predicted);
  if (nclass <= RT_CONFUSION_MAX)
    mt->confusion = calloc((size_t)(nclass * nclass), sizeof *mt->confusion);
  if (!mt->tp || !mt->support || !mt->predicted || (nclass <= RT_CONFUSION_MAX && !mt->confusion)) {
    rt_metrics_free(mt);
    return rt_fail(e, "out of memory (metrics of %lld classes)", (long long)nclass);
  }
  return 0;
}

void rt_metrics_reset(RtMetrics *mt) {
  mt->n = mt->nelem = 0;
  mt->loss_sum = mt->se = mt->ae = 0;
  size_t k = (size_t)mt->nclass;
  if (mt->confusion) memset(mt->confusion, 0, sizeof *mt->confusion * k * k);
  if (mt->tp) memset(mt->tp, 0, sizeof *mt->tp * k);
  if (mt->support) memset(mt->support, 0, sizeof *mt->support * k);
  if (mt->predicted) memset(mt->predicted, 0, sizeof *mt->predicted * k);
}

void rt_metrics_free(RtMetrics *mt) {
  if (!mt) return;
  free(mt->confusion);
  free(mt->tp);
  free(mt->support);
  free(mt->predicted);
  memset(mt, 0, sizeof *mt);
}

/* A label value as a class id, or -1 (NaN, fractions and values out of
 * range never reach an integer conversion). */
static int64_t class_id(double v, int64_t nclass) {
  return v >= 0 && v < (double)nclass && v == floor(v) ? (int64_t)v : -1;
}

static int64_t argmax(int dtype, const void *p, int64_t off, int64_t n) {
  int64_t best = 0;
  double bv = rt_elem_get(dtype, p, off);
  for (int64_t j = 1; j < n; j++) {
    double v = rt_elem_get(dtype, p, off + j);
    if (v > bv || (bv != bv && v == v)) bv = v, best = j; /* NaN never wins */
  }
  return best;
}

int64_t rt_pred_positions(const RtTensorDesc *pt, int64_t nclass) {
  int64_t pper = pt->rank && pt->dims[0] ? pt->numel / pt->dims[0] : 1;
  return pper > 1 && nclass > 0 && pper % nclass == 0 ? pper / nclass : 1;
}

void rt_metrics_add(RtMetrics *mt, const RtTensorDesc *pt, const void *pred, const RtData *d,
                    const int64_t *idx, int64_t count) {
  int64_t pper = pt->rank && pt->dims[0] ? pt->numel / pt->dims[0] : 1, yper = d->yper;
  /* classifiers: P predictions per sample (a sequence model's positions),
   * each nc wide; labels hold P class ids or P one-hot rows */
  int64_t P = mt->task == RT_TASK_CLASSIFY ? rt_pred_positions(pt, mt->nclass) : 1;
  int64_t nc = pper / P;
  for (int64_t i = 0; i < count; i++) {
    int64_t r = idx[i];
    if (mt->task == RT_TASK_CLASSIFY) {
      for (int64_t j = 0; j < P; j++) {
        int64_t t = yper == P ? class_id(rt_elem_get(d->y.dtype, d->y.data, r * yper + j), mt->nclass)
                              : argmax(d->y.dtype, d->y.data, r * yper + j * nc, nc);
        int64_t p = pper == 1 ? rt_elem_get(pt->dtype, pred, i) > 0
                              : argmax(pt->dtype, pred, i * pper + j * nc, nc);
        if (t >= 0 && t < mt->nclass && p >= 0 && p < mt->nclass) {
          if (mt->confusion) mt->confusion[t * mt->nclass + p]++;
          mt->tp[t] += t == p;
          mt->support[t]++;
          mt->predicted[p]++;
        }
      }
    } else {
      int64_t k = pper < yper ? pper : yper;
      for (int64_t j = 0; j < k; j++) {
        double diff = rt_elem_get(pt->dtype, pred, i * pper + j) -
                      rt_data_target(d, r * yper + j, pt->dtype);
        mt->se += diff * diff;
        mt->ae += fabs(diff);
      }
      mt->nelem += k;
    }
  }
  mt->n += count * P;
  mt->positions = P;
}

double rt_metrics_loss(const RtMetrics *mt) { return mt->n ? mt->loss_sum / (double)mt->n : NAN; }

double rt_metrics_accuracy(const RtMetrics *mt) {
  if (!mt->tp || !mt->n) return NAN;
  int64_t ok = 0;
  for (int64_t c = 0; c < mt->nclass; c++) ok += mt->tp[c];
  return (double)ok / (double)mt->n;
}

double rt_metrics_mse(const RtMetrics *mt) { return mt->nelem ? mt->se / (double)mt->nelem : NAN; }
double rt_metrics_mae(const RtMetrics *mt) { return mt->nelem ? mt->ae / (double)mt->nelem : NAN; }

/* scikit-learn conventions: 0 for an undefined ratio */
int64_t rt_metrics_prf(const RtMetrics *mt, int64_t c, double *p, double *r, double *f1) {
  int64_t tp = mt->tp[c], row = mt->support[c], col = mt->predicted[c];
  *p = col ? (double)tp / (double)col : 0;
  *r = row ? (double)tp / (double)row : 0;
  *f1 = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0;
  return row;
}

double rt_metrics_macro_f1(const RtMetrics *mt) {
  if (!mt->tp) return NAN;
  double sum = 0;
  int64_t n = 0;
  for (int64_t c = 0; c < mt->nclass; c++) {
    double p, r, f1;
    if (rt_metrics_prf(mt, c, &p, &r, &f1) || mt->predicted[c]) {
      sum += f1;
      n++;
    }
  }
  return n ? sum / (double)n : NAN;
}

void rt_metrics_print(const RtMetrics *mt, const char *title, FILE *f) {
  if (mt->positions > 1)
    fprintf(f, "%s: %lld samples x %lld positions, loss %.6g", title,
            (long long)(mt->n / mt->positions), (long long)mt->positions, rt_metrics_loss(mt));
  else
    fprintf(f, "%s: %lld samples, loss %.6g", title, (long long)mt->n, rt_metrics_loss(mt));
  if (mt->task != RT_TASK_CLASSIFY) {
    fprintf(f, ", MSE %.6g, MAE %.6g\n", rt_metrics_mse(mt), rt_metrics_mae(mt));
    return;
  }
  fprintf(f, ", accuracy %.2f%%\n", 100 * rt_metrics_accuracy(mt));
  fprintf(f, "  %6s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
  double sp = 0, sr = 0;
  int64_t used = 0;
  for (int64_t c = 0; c < mt->nclass; c++) {
    double p, r, f1;
    int64_t sup = rt_metrics_prf(mt, c, &p, &r, &f1);
    fprintf(f, "  %6lld %9.4f %9.4f %9.4f %8lld\n", (long long)c, p, r, f1, (long long)sup);
    if (sup || mt->predicted[c]) sp += p, sr += r, used++;
  }
  if (used)
    fprintf(f, "  %6s %9.4f %9.4f %9.4f %8lld\n", "macro", sp / (double)used,
            sr / (double)used, rt_metrics_macro_f1(mt), (long long)mt->n);
  if (mt->nclass > 32 || !mt->confusion) {
    fprintf(f, "  (confusion matrix omitted: %lld classes)\n", (long long)mt->nclass);
    return;
  }
  fprintf(f, "confusion matrix (rows: true class, columns: predicted):\n  %6s", "");
  for (int64_t c = 0; c < mt->nclass; c++) fprintf(f, " %6lld", (long long)c);
  fputc('\n', f);
  for (int64_t t = 0; t < mt->nclass; t++) {
    fprintf(f, "  %6lld", (long long)t);
    for (int64_t c = 0; c < mt->nclass; c++)
      fprintf(f, " %6lld", (long long)mt->confusion[t * mt->nclass + c]);
    fputc('\n', f);
  }
}
