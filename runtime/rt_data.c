/* Training data: loading features and labels from .npy, IDX and CSV files,
 * limits and validation splits, checks against the model's tensors,
 * normalization, batch filling and the per-epoch shuffle. Data stays in the
 * files' dtypes; rt_data_fill converts one batch at a time. */
#include "rt_model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

double rt_elem_get(int dtype, const void *p, int64_t i) {
  switch (dtype) {
  case RT_F32: return ((const float *)p)[i];
  case RT_F64: return ((const double *)p)[i];
  case RT_I64: return (double)((const int64_t *)p)[i];
  case RT_I32: return ((const int32_t *)p)[i];
  case RT_U8: return ((const uint8_t *)p)[i];
  case RT_BOOL: return ((const uint8_t *)p)[i] != 0;
  }
  return 0;
}

void rt_elem_put(int dtype, void *p, int64_t i, double v) {
  switch (dtype) {
  case RT_F32: ((float *)p)[i] = (float)v; break;
  case RT_F64: ((double *)p)[i] = v; break;
  case RT_I64: ((int64_t *)p)[i] = (int64_t)v; break;
  case RT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
  case RT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
  case RT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
  }
}

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

void rt_data_free(RtData *d) {
  if (!d) return;
  rt_array_free(&d->x);
  rt_array_free(&d->y);
  memset(d, 0, sizeof *d);
}

/* ---- CSV ---- */

/* The whole file (gzip or plain) as a NUL-terminated string. */
static int slurp(const char *path, char **out, size_t *len, RtErr *e) {
  int fd = rt_in_open_fd(path, e);
  if (fd < 0)
    return -1;
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return rt_fail(e, "%s: cannot open: out of memory", path);
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  int rc = buf ? 0 : rt_fail(e, "%s: out of memory", path);
  while (!rc) {
    if (cap - n < 2) {
      char *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        rc = rt_fail(e, "%s: out of memory", path);
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t want = cap - n - 1 < (1u << 30) ? cap - n - 1 : (1u << 30);
    int r = gzread(gz, buf + n, (unsigned)want);
    if (r < 0) {
      int zerr;
      const char *msg = gzerror(gz, &zerr);
      rc = rt_fail(e, "%s: read error: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
    }
    if (r <= 0) break;
    n += (size_t)r;
  }
  gzclose_r(gz);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  if (memchr(buf, 0, n)) {
    free(buf);
    return rt_fail(e, "%s: not a text file (NUL byte)", path);
  }
  *out = buf;
  *len = n;
  return 0;
}

/* Splits line (modified in place) at commas into trimmed, unquoted fields. */
static int split_fields(char *line, char **f, int max) {
  int n = 0;
  for (char *p = line;;) {
    char *end = strchr(p, ',');
    if (end) *end = 0;
    while (isspace((unsigned char)*p)) p++;
    char *q = p + strlen(p);
    while (q > p && isspace((unsigned char)q[-1])) *--q = 0;
    if (q - p >= 2 && *p == '"' && q[-1] == '"') {
      q[-1] = 0;
      p++;
    }
    if (n < max) f[n] = p;
    n++;
    if (!end) break;
    p = end + 1;
  }
  return n;
}

static int parse_num(const char *s, double *v) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end || errno == ERANGE ? -1 : 0;
}

int rt_csv_read(const char *path, RtArray *out, RtErr *e) {
  memset(out, 0, sizeof *out);
  char *text = NULL;
  size_t len = 0;
  if (slurp(path, &text, &len, e)) return -1;
  int rc = 0, cols = -1, lineno = 0;
  int64_t rows = 0, cap = 0;
  double *vals = NULL;
  char **f = NULL;
  for (char *line = text; line && !rc;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    lineno++;
    size_t ll = strlen(line);
    if (ll && line[ll - 1] == '\r') line[ll - 1] = 0;
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    char *next = nl ? nl + 1 : NULL;
    if (!*p) {
      line = next;
      continue;
    }
    if (cols < 0) { /* first line: count fields */
      int k = 1;
      for (const char *c = line; *c; c++) k += *c == ',';
      cols = k;
      f = malloc(sizeof *f * (size_t)cols);
      if (!f) {
        rc = rt_fail(e, "%s: out of memory", path);
        break;
      }
      int nf = split_fields(line, f, cols), header = 0;
      double v;
      for (int j = 0; j < nf && !header; j++) header = parse_num(f[j], &v) != 0;
      if (header) {
        line = next;
        continue;
      }
      /* fields were split in place: reparse from the array below */
      if (rows + 1 > cap) {
        cap = 1024;
        vals = malloc(sizeof *vals * (size_t)cap * (size_t)cols);
        if (!vals) {
          rc = rt_fail(e, "%s: out of memory", path);
          break;
        }
      }
      for (int j = 0; j < cols; j++) parse_num(f[j], &vals[j]);
      rows = 1;
      line = next;
      continue;
    }
    int nf = split_fields(line, f, cols);
    if (nf != cols) {
      rc = rt_fail(e, "%s:%d: %d fields, expected %d like the first line", path, lineno, nf,
                   cols);
      break;
    }
    if (rows + 1 > cap) {
      int64_t ncap = cap ? cap * 2 : 1024;
      double *nv = realloc(vals, sizeof *vals * (size_t)ncap * (size_t)cols);
      if (!nv) {
        rc = rt_fail(e, "%s: out of memory", path);
        break;
      }
      vals = nv;
      cap = ncap;
    }
    for (int j = 0; j < cols && !rc; j++)
      if (parse_num(f[j], &vals[rows * cols + j]))
        rc = rt_fail(e, "%s:%d:%d: not a number: '%s'", path, lineno,
                     (int)(f[j] - line) + 1, f[j]);
    rows++;
    line = next;
  }
  free(f);
  free(text);
  if (!rc && (rows == 0 || !vals)) rc = rt_fail(e, "%s: no data rows", path);
  if (!rc) {
    out->dtype = RT_F64;
    out->rank = 2;
    out->dims[0] = rows;
    out->dims[1] = cols;
    out->numel = rows * cols;
    out->data = rt_alloc(sizeof(double) * (size_t)out->numel);
    if (!out->data) rc = rt_fail(e, "%s: out of memory", path);
    else memcpy(out->data, vals, sizeof(double) * (size_t)out->numel);
  }
  free(vals);
  if (rc) rt_array_free(out);
  return rc;
}

/* ---- loading ---- */

int rt_array_load(const char *path, RtArray *out, RtErr *e) {
  if (has_suffix(path, ".npy")) return rt_npy_read(path, out, e);
  if (has_suffix(path, ".csv") || has_suffix(path, ".csv.gz")) return rt_csv_read(path, out, e);
  return rt_idx_read(path, out, e);
}

static int64_t per_sample(const RtArray *a) {
  return a->rank == 0 ? 1 : a->dims[0] ? a->numel / a->dims[0] : 0;
}

static int adopt(RtData *d, RtErr *e) {
  char s[128];
  if (d->x.rank == 0)
    return rt_fail(e, "%s: features hold a scalar %s, not samples", d->xname,
                   rt_shape_str(d->x.dtype, d->x.rank, d->x.dims, s, sizeof s));
  d->n = d->x.dims[0];
  d->xper = per_sample(&d->x);
  if (d->y.data || d->y.rank) {
    char t[128];
    if (d->y.rank == 0)
      return rt_fail(e, "%s: labels hold a scalar, not samples", d->yname);
    if (d->y.dims[0] != d->n)
      return rt_fail(e, "%s has %lld samples (%s) but %s has %lld (%s)", d->xname,
                     (long long)d->n, rt_shape_str(d->x.dtype, d->x.rank, d->x.dims, s, sizeof s),
                     d->yname, (long long)d->y.dims[0],
                     rt_shape_str(d->y.dtype, d->y.rank, d->y.dims, t, sizeof t));
    d->yper = per_sample(&d->y);
  }
  if (d->n == 0) return rt_fail(e, "%s: no samples", d->xname);
  return 0;
}

int rt_data_load(RtData *d, const char *xpath, const char *ypath, RtErr *e) {
  memset(d, 0, sizeof *d);
  snprintf(d->xname, sizeof d->xname, "%s", xpath);
  snprintf(d->yname, sizeof d->yname, "%s", ypath ? ypath : "(no labels)");
  int rc = rt_array_load(xpath, &d->x, e);
  if (!rc && ypath) rc = rt_array_load(ypath, &d->y, e);
  if (!rc) rc = adopt(d, e);
  if (rc) rt_data_free(d);
  return rc;
}

int rt_data_load_csv(RtData *d, const char *path, int target_col, RtErr *e) {
  memset(d, 0, sizeof *d);
  RtArray a;
  if (rt_csv_read(path, &a, e)) return -1;
  int64_t rows = a.dims[0], cols = a.dims[1];
  int64_t k = target_col < 0 ? cols + target_col : target_col;
  if (cols < 2 || k < 0 || k >= cols) {
    rt_array_free(&a);
    return rt_fail(e, "%s: target column %d does not exist (%lld columns; need at least 2)",
                   path, target_col, (long long)cols);
  }
  snprintf(d->xname, sizeof d->xname, "%s (features)", path);
  snprintf(d->yname, sizeof d->yname, "%s (column %lld)", path, (long long)k);
  d->x = (RtArray){.dtype = RT_F64, .rank = 2, .dims = {rows, cols - 1}, .numel = rows * (cols - 1)};
  d->y = (RtArray){.dtype = RT_F64, .rank = 1, .dims = {rows}, .numel = rows};
  d->x.data = rt_alloc(sizeof(double) * (size_t)d->x.numel);
  d->y.data = rt_alloc(sizeof(double) * (size_t)rows);
  if (!d->x.data || !d->y.data) {
    rt_array_free(&a);
    rt_data_free(d);
    return rt_fail(e, "%s: out of memory", path);
  }
  const double *src = a.data;
  double *x = d->x.data, *y = d->y.data;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0, j = 0; c < cols; c++) {
      if (c == k) y[r] = src[r * cols + c];
      else x[r * (cols - 1) + j++] = src[r * cols + c];
    }
  rt_array_free(&a);
  int rc = adopt(d, e);
  if (rc) rt_data_free(d);
  return rc;
}

static int find_file(const char *dir, const char *name, char *out, size_t n) {
  struct stat st;
  snprintf(out, n, "%s/%s", dir, name);
  if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
  snprintf(out, n, "%s/%s.gz", dir, name);
  return stat(out, &st) == 0 && S_ISREG(st.st_mode) ? 0 : 1;
}

int rt_data_find_dir(const char *dir, const char *prefix, char *xpath, char *ypath, size_t n) {
  char name[64];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
  if (find_file(dir, name, xpath, n)) return 1;
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
  return find_file(dir, name, ypath, n);
}

void rt_data_limit(RtData *d, int64_t n) {
  if (n >= 0 && n < d->n) d->n = n;
}

static int copy_rows(const RtArray *a, int64_t from, int64_t count, RtArray *out) {
  *out = *a;
  out->data = NULL;
  if (a->rank == 0 && !a->data) return 0;
  int64_t per = per_sample(a);
  size_t es = rt_dtype_size(a->dtype);
  out->dims[0] = count;
  out->numel = count * per;
  out->data = rt_alloc((size_t)out->numel * es);
  if (!out->data) return -1;
  memcpy(out->data, (const unsigned char *)a->data + (size_t)(from * per) * es,
         (size_t)out->numel * es);
  return 0;
}

int rt_data_split(RtData *d, double frac, RtData *val, RtErr *e) {
  memset(val, 0, sizeof *val);
  if (!(frac > 0 && frac < 1)) return rt_fail(e, "validation fraction %g not in (0, 1)", frac);
  int64_t k = (int64_t)floor(frac * (double)d->n + 0.5);
  if (k < 1 || k >= d->n)
    return rt_fail(e, "%s: holding out %g of %lld samples leaves %s empty", d->xname, frac,
                   (long long)d->n, k < 1 ? "the validation set" : "the training set");
  snprintf(val->xname, sizeof val->xname, "%s", d->xname);
  snprintf(val->yname, sizeof val->yname, "%s", d->yname);
  if (copy_rows(&d->x, d->n - k, k, &val->x) || copy_rows(&d->y, d->n - k, k, &val->y)) {
    rt_data_free(val);
    return rt_fail(e, "%s: out of memory", d->xname);
  }
  val->n = k;
  val->xper = d->xper;
  val->yper = d->yper;
  d->n -= k;
  return 0;
}

/* ---- checks ---- */

static int64_t desc_per_sample(const RtTensorDesc *t) {
  return t->rank == 0 ? 1 : t->dims[0] ? t->numel / t->dims[0] : 0;
}

int rt_data_check(const RtData *d, const char *what, const RtTensorDesc *x, const RtTensorDesc *y,
                  int task, int64_t nclass, RtErr *e) {
  char a[128], b[128];
  if (d->xper != desc_per_sample(x))
    return rt_fail(e,
                   "%s: %s features have %lld elements per sample (file: %s), but the "
                   "model's input '%s' %s takes %lld",
                   d->xname, what, (long long)d->xper,
                   rt_shape_str(d->x.dtype, d->x.rank, d->x.dims, a, sizeof a), x->name,
                   rt_shape_str(x->dtype, x->rank, x->dims, b, sizeof b),
                   (long long)desc_per_sample(x));
  if (!y) return 0;
  if (!d->y.data)
    return rt_fail(e, "%s: %s set has no labels", d->xname, what);
  if (d->yper != desc_per_sample(y))
    return rt_fail(e,
                   "%s: %s labels have %lld elements per sample (file: %s), but the "
                   "model's input '%s' %s takes %lld",
                   d->yname, what, (long long)d->yper,
                   rt_shape_str(d->y.dtype, d->y.rank, d->y.dims, a, sizeof a), y->name,
                   rt_shape_str(y->dtype, y->rank, y->dims, b, sizeof b),
                   (long long)desc_per_sample(y));
  /* class ids: one per sample, or several (a sequence) in an integer label */
  if (task == RT_TASK_CLASSIFY && (d->yper == 1 || y->dtype == RT_I64 || y->dtype == RT_I32))
    for (int64_t i = 0; i < d->n * d->yper; i++) {
      double v = rt_elem_get(d->y.dtype, d->y.data, i);
      if (!(v >= 0 && v < (double)nclass && v == floor(v)))
        return rt_fail(e, "%s: %s label %g of sample %lld is not a class id in [0, %lld)",
                       d->yname, what, v, (long long)(i / d->yper), (long long)nclass);
    }
  return 0;
}

/* ---- normalization ---- */

void rt_norm_free(RtNorm *nm) {
  if (!nm) return;
  free(nm->shift);
  free(nm->scale);
  memset(nm, 0, sizeof *nm);
}

int rt_norm_fit(RtNorm *nm, int kind, const RtData *d, RtErr *e) {
  memset(nm, 0, sizeof *nm);
  nm->kind = kind;
  if (kind == RT_NORM_NONE) return 0;
  int64_t f = d->xper;
  nm->n = f;
  nm->shift = calloc((size_t)f + 1, sizeof(double));
  nm->scale = calloc((size_t)f + 1, sizeof(double));
  if (!nm->shift || !nm->scale) {
    rt_norm_free(nm);
    return rt_fail(e, "%s: out of memory", d->xname);
  }
  const void *x = d->x.data;
  int dt = d->x.dtype;
  if (kind == RT_NORM_UNIT && dt == RT_U8) {
    for (int64_t j = 0; j < f; j++) nm->scale[j] = 1.0 / 255.0;
    return 0;
  }
  if (kind == RT_NORM_UNIT) {
    for (int64_t j = 0; j < f; j++) {
      double lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < d->n; i++) {
        double v = rt_elem_get(dt, x, i * f + j);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      nm->shift[j] = lo;
      nm->scale[j] = hi > lo ? 1.0 / (hi - lo) : 1.0;
    }
    return 0;
  }
  /* standard: two passes, population std (like scikit-learn) */
  double *sum = nm->shift, *sq = nm->scale;
  for (int64_t i = 0; i < d->n; i++)
    for (int64_t j = 0; j < f; j++) sum[j] += rt_elem_get(dt, x, i * f + j);
  for (int64_t j = 0; j < f; j++) sum[j] /= (double)d->n;
  for (int64_t i = 0; i < d->n; i++)
    for (int64_t j = 0; j < f; j++) {
      double v = rt_elem_get(dt, x, i * f + j) - sum[j];
      sq[j] += v * v;
    }
  for (int64_t j = 0; j < f; j++) {
    double sd = sqrt(sq[j] / (double)d->n);
    sq[j] = sd > 1e-12 ? 1.0 / sd : 1.0;
  }
  return 0;
}

/* ---- batches ---- */

void rt_data_fill(const RtData *d, const RtNorm *nm, const int64_t *idx, int64_t count,
                  const RtTensorDesc *xt, void *x, const RtTensorDesc *yt, void *y) {
  int64_t f = d->xper;
  size_t es = rt_dtype_size(xt->dtype);
  int plain = nm->kind == RT_NORM_NONE || !nm->shift;
  for (int64_t i = 0; i < count; i++) {
    int64_t r = idx[i];
    if (plain && d->x.dtype == xt->dtype) {
      memcpy((unsigned char *)x + (size_t)(i * f) * es,
             (const unsigned char *)d->x.data + (size_t)(r * f) * es, (size_t)f * es);
      continue;
    }
    for (int64_t j = 0; j < f; j++) {
      double v = rt_elem_get(d->x.dtype, d->x.data, r * f + j);
      if (!plain) v = (v - nm->shift[j]) * nm->scale[j];
      rt_elem_put(xt->dtype, x, i * f + j, v);
    }
  }
  if (!y || !yt) return;
  for (int64_t i = 0; i < count; i++)
    for (int64_t j = 0; j < d->yper; j++)
      rt_elem_put(yt->dtype, y, i * d->yper + j, rt_data_target(d, idx[i] * d->yper + j, yt->dtype));
}

double rt_data_target(const RtData *d, int64_t k, int dtype) {
  double v = rt_elem_get(d->y.dtype, d->y.data, k);
  return d->y.dtype == RT_U8 && (dtype == RT_F32 || dtype == RT_F64) ? v / 255.0 : v;
}

void rt_shuffle(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm) {
  uint64_t stream = 0x5348554646000000ull ^ (uint64_t)epoch;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(rt_uniform(seed, stream, (uint64_t)i) * (double)(i + 1));
    if (j > i) j = i;
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
