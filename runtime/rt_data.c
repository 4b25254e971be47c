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

/* v truncated toward zero and clamped to [lo, hi] (NaN: 0): converting a
 * double the integer type cannot hold is undefined behaviour in C. */
static double clamp_int(double v, double lo, double hi) {
  return v != v ? 0 : v < lo ? lo : v > hi ? hi : v;
}

#define TWO63 9223372036854775808.0

void rt_elem_put(int dtype, void *p, int64_t i, double v) {
  switch (dtype) {
  case RT_F32: ((float *)p)[i] = (float)v; break;
  case RT_F64: ((double *)p)[i] = v; break;
  case RT_I64: ((int64_t *)p)[i] = (int64_t)clamp_int(v, -TWO63, 0x1.fffffffffffffp62); break;
  case RT_I32: ((int32_t *)p)[i] = (int32_t)clamp_int(v, INT32_MIN, INT32_MAX); break;
  case RT_U8: ((uint8_t *)p)[i] = (uint8_t)clamp_int(v, 0, 255); break;
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

/* Limits that keep a small hostile file from asking for huge amounts of
 * memory; memory otherwise grows only with the data actually read. */
#define CSV_MAX_COLS 1000000
#define CSV_MAX_LINE ((size_t)256 << 20)
#define CSV_CHUNK ((size_t)1 << 16) /* bytes read at a time */

/* A text file (gzip or plain) read line by line. */
typedef struct Lines {
  gzFile gz;
  const char *path;
  char *chunk; /* [CSV_CHUNK] */
  size_t pos, len;
  char *line; /* the current line, NUL-terminated, without "\n" or "\r\n" */
  size_t cap;
  int64_t lineno;
} Lines;

static int lines_open(Lines *L, const char *path, RtErr *e) {
  memset(L, 0, sizeof *L);
  L->path = path;
  int fd = rt_in_open_fd(path, e);
  if (fd < 0) return -1;
  L->gz = gzdopen(fd, "rb");
  if (!L->gz) {
    close(fd);
    return rt_fail(e, "%s: cannot open: out of memory", path);
  }
  L->chunk = malloc(CSV_CHUNK);
  if (!L->chunk) return rt_fail(e, "%s: out of memory", path);
  return 0;
}

static void lines_close(Lines *L) {
  if (L->gz) gzclose_r(L->gz);
  free(L->chunk);
  free(L->line);
  memset(L, 0, sizeof *L);
}

/* Appends n bytes to the current line (of length *k). */
static int line_append(Lines *L, size_t *k, const char *p, size_t n, RtErr *e) {
  if (memchr(p, 0, n))
    return rt_fail(e, "%s:%lld: not a text file (NUL byte)", L->path, (long long)L->lineno);
  if (n > CSV_MAX_LINE - *k)
    return rt_fail(e, "%s:%lld: line longer than %zu MiB", L->path, (long long)L->lineno,
                   CSV_MAX_LINE >> 20);
  if (*k + n + 1 > L->cap) {
    size_t cap = L->cap ? L->cap : 256;
    while (cap < *k + n + 1) cap *= 2;
    char *nl = realloc(L->line, cap);
    if (!nl) return rt_fail(e, "%s:%lld: out of memory", L->path, (long long)L->lineno);
    L->line = nl;
    L->cap = cap;
  }
  memcpy(L->line + *k, p, n);
  *k += n;
  L->line[*k] = 0;
  return 0;
}

/* The next line into L->line: 1, or 0 at the end of the file, or -1. */
static int lines_next(Lines *L, RtErr *e) {
  size_t k = 0;
  int any = 0;
  L->lineno++;
  if (line_append(L, &k, "", 0, e)) return -1;
  for (;;) {
    if (L->pos == L->len) {
      int r = gzread(L->gz, L->chunk, (unsigned)CSV_CHUNK);
      if (r < 0) {
        int zerr;
        const char *msg = gzerror(L->gz, &zerr);
        return rt_fail(e, "%s: read error: %s", L->path,
                       zerr == Z_ERRNO ? strerror(errno) : msg);
      }
      if (r == 0) break;
      L->pos = 0;
      L->len = (size_t)r;
    }
    any = 1;
    const char *p = L->chunk + L->pos;
    const char *nl = memchr(p, '\n', L->len - L->pos);
    size_t n = nl ? (size_t)(nl - p) : L->len - L->pos;
    if (line_append(L, &k, p, n, e)) return -1;
    L->pos += n + (nl != NULL);
    if (nl) break;
  }
  if (k && L->line[k - 1] == '\r') L->line[--k] = 0;
  return any;
}

/* Splits line (modified in place) at commas into trimmed, unquoted fields;
 * f has room for every field. */
static void split_fields(char *line, char **f) {
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
    f[n++] = p;
    if (!end) break;
    p = end + 1;
  }
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
  Lines L;
  int rc = lines_open(&L, path, e);
  int64_t cols = -1, rows = 0;
  size_t nvals = 0, cap = 0;
  double *vals = NULL;
  char **f = NULL;
  int r = 0;
  while (!rc && (r = lines_next(&L, e)) > 0) {
    char *line = L.line, *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) continue; /* blank */
    int64_t nf = 1;
    for (const char *c = line; *c; c++) nf += *c == ',';
    if (cols < 0) { /* the first line sets the number of columns */
      if (nf > CSV_MAX_COLS) {
        rc = rt_fail(e, "%s:%lld: %lld fields; at most %d columns are supported", path,
                     (long long)L.lineno, (long long)nf, CSV_MAX_COLS);
        break;
      }
      cols = nf;
      if (!(f = malloc(sizeof *f * (size_t)cols))) {
        rc = rt_fail(e, "%s: out of memory", path);
        break;
      }
      split_fields(line, f);
      int header = 0;
      double v;
      for (int64_t j = 0; j < cols && !header; j++) header = parse_num(f[j], &v) != 0;
      if (header) continue;
    } else if (nf != cols) {
      rc = rt_fail(e, "%s:%lld: %lld fields, expected %lld like the first line", path,
                   (long long)L.lineno, (long long)nf, (long long)cols);
      break;
    } else {
      split_fields(line, f);
    }
    if (nvals + (size_t)cols > cap) {
      size_t ncap = cap ? cap : 4096;
      while (ncap < nvals + (size_t)cols) ncap *= 2;
      double *nv = ncap <= SIZE_MAX / 2 / sizeof *vals ? realloc(vals, sizeof *vals * ncap) : NULL;
      if (!nv) {
        rc = rt_fail(e, "%s:%lld: out of memory", path, (long long)L.lineno);
        break;
      }
      vals = nv;
      cap = ncap;
    }
    for (int64_t j = 0; j < cols && !rc; j++) {
      double *v = &vals[nvals + (size_t)j];
      long long col = (long long)(f[j] - line) + 1;
      if (parse_num(f[j], v))
        rc = rt_fail(e, "%s:%lld:%lld: not a number: '%.64s'", path, (long long)L.lineno, col,
                     f[j]);
      else if (!isfinite(*v))
        rc = rt_fail(e, "%s:%lld:%lld: sample %lld, column %lld: %s; data must be finite", path,
                     (long long)L.lineno, col, (long long)rows, (long long)j + 1,
                     isnan(*v) ? "NaN" : "infinity");
    }
    nvals += (size_t)cols;
    rows++;
  }
  if (r < 0) rc = -1;
  free(f);
  lines_close(&L);
  if (!rc && rows == 0) rc = rt_fail(e, "%s: no data rows", path);
  if (!rc) {
    out->dtype = RT_F64;
    out->rank = 2;
    out->dims[0] = rows;
    out->dims[1] = cols;
    out->numel = (int64_t)nvals;
    out->data = rt_alloc(sizeof(double) * nvals);
    if (!out->data) rc = rt_fail(e, "%s: out of memory", path);
    else memcpy(out->data, vals, sizeof(double) * nvals);
  }
  free(vals);
  if (rc) rt_array_free(out);
  return rc;
}

/* ---- loading ---- */

int rt_array_check_finite(const RtArray *a, const char *path, RtErr *e) {
  double v = 0;
  int64_t bad = rt_first_nonfinite(a->dtype, a->data, a->numel, &v);
  if (bad < 0) return 0;
  const char *what = isnan(v) ? "NaN" : v > 0 ? "infinity" : "-infinity";
  if (a->rank == 0) return rt_fail(e, "%s: %s; data must be finite", path, what);
  int64_t per = a->numel / a->dims[0];
  if (a->rank == 1)
    return rt_fail(e, "%s: sample %lld: %s; data must be finite", path, (long long)bad, what);
  return rt_fail(e, "%s: sample %lld, feature %lld: %s; data must be finite", path,
                 (long long)(bad / per), (long long)(bad % per), what);
}

static int is_csv(const char *path) {
  return has_suffix(path, ".csv") || has_suffix(path, ".csv.gz");
}

int rt_array_load(const char *path, RtArray *out, RtErr *e) {
  int rc = has_suffix(path, ".npy") ? rt_npy_read(path, out, e)
           : is_csv(path)           ? rt_csv_read(path, out, e) /* checks as it parses */
                                    : rt_idx_read(path, out, e);
  if (!rc && rt_array_check_finite(out, path, e)) {
    rt_array_free(out);
    rc = -1;
  }
  return rc;
}

/* The shape an array file declares in its header (1), or 0 when only
 * reading all of it would tell (CSV). */
static int array_peek(const char *path, int *dtype, int *rank, int64_t *dims, RtErr *e) {
  if (is_csv(path)) return 0;
  int rc = has_suffix(path, ".npy") ? rt_npy_peek(path, dtype, rank, dims, e)
                                    : rt_idx_peek(path, dtype, rank, dims, e);
  return rc ? -1 : 1;
}

static int64_t per_sample(const RtArray *a) {
  return a->rank == 0 ? 1 : a->dims[0] ? a->numel / a->dims[0] : 0;
}

static int mismatch(const RtData *d, int xdt, int xr, const int64_t *xd, int ydt, int yr,
                    const int64_t *yd, RtErr *e) {
  char s[128], t[128];
  return rt_fail(e, "%s has %lld samples (%s) but %s has %lld (%s)", d->xname, (long long)xd[0],
                 rt_shape_str(xdt, xr, xd, s, sizeof s), d->yname, (long long)yd[0],
                 rt_shape_str(ydt, yr, yd, t, sizeof t));
}

static int adopt(RtData *d, RtErr *e) {
  char s[128];
  if (d->x.rank == 0)
    return rt_fail(e, "%s: features hold a scalar %s, not samples", d->xname,
                   rt_shape_str(d->x.dtype, d->x.rank, d->x.dims, s, sizeof s));
  d->n = d->x.dims[0];
  d->xper = per_sample(&d->x);
  if (d->y.data || d->y.rank) {
    if (d->y.rank == 0)
      return rt_fail(e, "%s: labels hold a scalar, not samples", d->yname);
    if (d->y.dims[0] != d->n)
      return mismatch(d, d->x.dtype, d->x.rank, d->x.dims, d->y.dtype, d->y.rank, d->y.dims, e);
    d->yper = per_sample(&d->y);
  }
  if (d->n == 0) return rt_fail(e, "%s: no samples", d->xname);
  return 0;
}

int rt_data_load(RtData *d, const char *xpath, const char *ypath, RtErr *e) {
  memset(d, 0, sizeof *d);
  snprintf(d->xname, sizeof d->xname, "%s", xpath);
  snprintf(d->yname, sizeof d->yname, "%s", ypath ? ypath : "(no labels)");
  /* sample counts from the headers first: a mismatch is reported before
   * either file's data is read */
  int xdt, xr, ydt, yr, rc = 0;
  int64_t xd[RT_MAX_RANK], yd[RT_MAX_RANK];
  if (ypath) {
    int kx = array_peek(xpath, &xdt, &xr, xd, e);
    int ky = kx < 0 ? 0 : array_peek(ypath, &ydt, &yr, yd, e);
    if (kx < 0 || ky < 0) return -1;
    if (kx && ky && xr && yr && xd[0] != yd[0])
      return mismatch(d, xdt, xr, xd, ydt, yr, yd, e);
  }
  rc = rt_array_load(xpath, &d->x, e);
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

int rt_array_check_ints(const RtArray *a, const char *path, const char *what,
                        const RtTensorDesc *t, RtErr *e) {
  double lo, hi; /* [lo, hi) */
  switch (t->dtype) {
  case RT_I64: lo = -TWO63, hi = TWO63; break;
  case RT_I32: lo = INT32_MIN, hi = 2147483648.0; break;
  case RT_U8: lo = 0, hi = 256; break;
  default: return 0;
  }
  if (a->dtype == t->dtype || a->dtype == RT_U8 || a->dtype == RT_BOOL ||
      (a->dtype == RT_I32 && t->dtype == RT_I64))
    return 0;
  int64_t per = per_sample(a);
  for (int64_t i = 0; i < a->numel; i++) {
    double v = rt_elem_get(a->dtype, a->data, i);
    if (!(v >= lo && v < hi && v == floor(v)))
      return rt_fail(e, "%s: %s, sample %lld, element %lld: %.17g is not a valid %s for the "
                     "model's input '%s'",
                     path, what, (long long)(i / per), (long long)(i % per), v,
                     rt_dtype_name(t->dtype), t->name);
  }
  return 0;
}

/* One part (features or labels) of a data set against the model input
 * `t` it feeds: elements per sample, then integer values. */
static int check_part(const RtArray *arr, int64_t per, const char *path, const char *what,
                      const char *part, const RtTensorDesc *t, RtErr *e) {
  char a[128], b[128];
  if (per != desc_per_sample(t))
    return rt_fail(e,
                   "%s: %s %s have %lld elements per sample (file: %s), but the "
                   "model's input '%s' %s takes %lld",
                   path, what, part, (long long)per,
                   rt_shape_str(arr->dtype, arr->rank, arr->dims, a, sizeof a), t->name,
                   rt_shape_str(t->dtype, t->rank, t->dims, b, sizeof b),
                   (long long)desc_per_sample(t));
  char role[64];
  snprintf(role, sizeof role, "%s %s", what, part);
  return rt_array_check_ints(arr, path, role, t, e);
}

int rt_data_check(const RtData *d, const char *what, const RtTensorDesc *x, const RtTensorDesc *y,
                  int task, int64_t nclass, RtErr *e) {
  if (check_part(&d->x, d->xper, d->xname, what, "features", x, e)) return -1;
  if (!y) return 0;
  if (!d->y.data)
    return rt_fail(e, "%s: %s set has no labels", d->xname, what);
  if (check_part(&d->y, d->yper, d->yname, what, "labels", y, e)) return -1;
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
