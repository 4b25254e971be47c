/* Runtime basics: dtypes, error formatting, aligned memory, time, shape
 * strings. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
  const char *name;
  size_t size;
} dtypes[RT_NDTYPE] = {
    [RT_F32] = {"f32", 4}, [RT_F64] = {"f64", 8}, [RT_I64] = {"i64", 8},
    [RT_I32] = {"i32", 4}, [RT_U8] = {"u8", 1}, [RT_BOOL] = {"bool", 1},
};

size_t rt_dtype_size(int dtype) {
  return dtype >= 0 && dtype < RT_NDTYPE ? dtypes[dtype].size : 0;
}

const char *rt_dtype_name(int dtype) {
  return dtype >= 0 && dtype < RT_NDTYPE ? dtypes[dtype].name : "?";
}

int rt_fail(RtErr *e, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    /* tensor and file names come from strangers: no control character
     * (an escape sequence, a carriage return) reaches the terminal */
    for (char *p = e->msg; *p; p++)
      if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) *p = '?';
  }
  return -1;
}

int64_t rt_numel(int rank, const int64_t *dims) {
  if (rank < 0 || rank > RT_MAX_RANK || (rank > 0 && !dims))
    return -1;
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (dims[i] < 0)
      return -1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0)
      return 0;
    if (n > INT64_MAX / 8 / dims[i])
      return -1;
    n *= dims[i];
  }
  return n;
}

void *rt_alloc(size_t n) {
  void *p = NULL;
  if (n == 0)
    n = 64;
  if (posix_memalign(&p, 64, n) != 0)
    return NULL;
  memset(p, 0, n);
  return p;
}

void rt_free(void *p) { free(p); }

double rt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void rt_array_free(RtArray *a) {
  if (!a)
    return;
  rt_free(a->data);
  memset(a, 0, sizeof *a);
}

const char *rt_shape_str(int dtype, int rank, const int64_t *dims, char *buf,
                         size_t n) {
  if (!buf || n == 0)
    return "";
  size_t k = 0;
  int w = snprintf(buf, n, "%s[", rt_dtype_name(dtype));
  for (int i = 0; w >= 0 && (size_t)w < n - k && i < rank && dims; i++) {
    k += (size_t)w;
    w = snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)dims[i]);
  }
  if (w >= 0 && (size_t)w < n - k) {
    k += (size_t)w;
    snprintf(buf + k, n - k, "]");
  }
  return buf;
}

int64_t rt_first_nonfinite(int dtype, const void *p, int64_t n, double *v) {
  const unsigned char *b = p;
  for (int64_t i = 0; i < n && dtype == RT_F32; i++) {
    float x;
    memcpy(&x, b + 4 * i, 4);
    if (!isfinite(x)) return *v = x, i;
  }
  for (int64_t i = 0; i < n && dtype == RT_F64; i++) {
    double x;
    memcpy(&x, b + 8 * i, 8);
    if (!isfinite(x)) return *v = x, i;
  }
  return -1;
}
