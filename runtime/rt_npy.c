/* NumPy .npy files: read v1/v2/v3, write v1. Little-endian, C order only.
 * Layout: "\x93NUMPY" major minor, header length (u16 LE for v1, u32 LE
 * for v2/v3), a Python dict literal padded with spaces and '\n', data. */
#include "rt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_HEADER (1 << 20)

static const char *const descrs[RT_NDTYPE] = {
    [RT_F32] = "<f4", [RT_F64] = "<f8", [RT_I64] = "<i8",
    [RT_I32] = "<i4", [RT_U8] = "|u1", [RT_BOOL] = "|b1",
};

typedef struct Hdr {
  const char *p, *end, *path;
  RtErr *e;
} Hdr;

static int bad(Hdr *h, const char *what) {
  return rt_fail(h->e, "%s: malformed .npy header: %s", h->path, what);
}

static void ws(Hdr *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' ||
                           *h->p == '\r'))
    h->p++;
}

static int eat(Hdr *h, char c) {
  ws(h);
  if (h->p < h->end && *h->p == c) {
    h->p++;
    return 1;
  }
  return 0;
}

static int eat_word(Hdr *h, const char *w) {
  size_t n = strlen(w);
  ws(h);
  if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
    h->p += n;
    return 1;
  }
  return 0;
}

/* str = "'" chars "'" | '"' chars '"'  (no escapes) */
static int str(Hdr *h, char *buf, size_t n) {
  ws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
    return bad(h, "expected a quoted string");
  char q = *h->p++;
  size_t k = 0;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\' || k + 1 >= n)
      return bad(h, "unexpected string");
    buf[k++] = *h->p++;
  }
  if (h->p >= h->end)
    return bad(h, "unterminated string");
  h->p++;
  buf[k] = 0;
  return 0;
}

/* dim = digits ["L"] */
static int dim(Hdr *h, int64_t *v) {
  ws(h);
  if (h->p < h->end && *h->p == '-')
    return rt_fail(h->e, "%s: negative dimension in .npy shape", h->path);
  if (h->p >= h->end || *h->p < '0' || *h->p > '9')
    return bad(h, "expected a dimension in 'shape'");
  int64_t x = 0;
  while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
    int d = *h->p++ - '0';
    if (x > (INT64_MAX - d) / 10)
      return rt_fail(h->e, "%s: .npy shape dimension too large", h->path);
    x = x * 10 + d;
  }
  if (h->p < h->end && *h->p == 'L')
    h->p++;
  *v = x;
  return 0;
}

/* header = "{" (key ":" value ",")* [key ":" value] "}"
 * keys: 'descr': str, 'fortran_order': True|False, 'shape': "(" dims ")" */
static int parse_header(Hdr *h, char *descr, size_t ndescr, int *fortran,
                        int *rank, int64_t *dims) {
  int seen[3] = {0, 0, 0};
  if (!eat(h, '{'))
    return bad(h, "expected '{'");
  while (!eat(h, '}')) {
    char key[32];
    if (str(h, key, sizeof key))
      return -1;
    if (!eat(h, ':'))
      return bad(h, "expected ':'");
    int k = !strcmp(key, "descr")           ? 0
            : !strcmp(key, "fortran_order") ? 1
            : !strcmp(key, "shape")         ? 2
                                            : -1;
    if (k < 0)
      return rt_fail(h->e, "%s: malformed .npy header: unknown key '%s'",
                     h->path, key);
    if (seen[k]++)
      return rt_fail(h->e, "%s: malformed .npy header: duplicate key '%s'",
                     h->path, key);
    if (k == 0) {
      ws(h);
      if (h->p < h->end && *h->p == '[')
        return rt_fail(h->e, "%s: structured dtypes are not supported",
                       h->path);
      if (str(h, descr, ndescr))
        return -1;
    } else if (k == 1) {
      if (eat_word(h, "True"))
        *fortran = 1;
      else if (eat_word(h, "False"))
        *fortran = 0;
      else
        return bad(h, "'fortran_order' must be True or False");
    } else {
      if (!eat(h, '('))
        return bad(h, "'shape' must be a tuple");
      *rank = 0;
      while (!eat(h, ')')) {
        if (*rank == RT_MAX_RANK)
          return rt_fail(h->e, "%s: .npy rank exceeds %d", h->path,
                         RT_MAX_RANK);
        if (dim(h, &dims[(*rank)++]))
          return -1;
        if (eat(h, ','))
          continue;
        if (eat(h, ')'))
          break;
        return bad(h, "expected ',' or ')' in 'shape'");
      }
    }
    if (!eat(h, ',')) {
      if (!eat(h, '}'))
        return bad(h, "expected ',' or '}'");
      break;
    }
  }
  ws(h);
  if (h->p != h->end)
    return bad(h, "trailing characters after '}'");
  static const char *const names[3] = {"descr", "fortran_order", "shape"};
  for (int k = 0; k < 3; k++)
    if (!seen[k])
      return rt_fail(h->e, "%s: malformed .npy header: missing key '%s'",
                     h->path, names[k]);
  return 0;
}

/* What a header declares; data bytes follow it to the end of the file. */
typedef struct NpyHead {
  int dtype, rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel, bytes; /* of the data the shape declares */
  int64_t have;         /* data bytes in the file */
} NpyHead;

static int read_head(FILE *f, const char *path, NpyHead *hd, RtErr *e) {
  struct stat st;
  if (fstat(fileno(f), &st) != 0)
    return rt_fail(e, "%s: cannot stat: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return rt_fail(e, "%s: not a regular file", path);
  int64_t size = st.st_size;

  unsigned char pre[12];
  size_t got = fread(pre, 1, 8, f);
  if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0)
    return rt_fail(e, "%s: not a .npy file (bad magic)", path);
  if (got < 8)
    return rt_fail(e, "%s: truncated .npy header", path);
  int major = pre[6], minor = pre[7];
  size_t lenbytes = major == 1 ? 2 : major == 2 || major == 3 ? 4 : 0;
  if (!lenbytes)
    return rt_fail(e, "%s: unsupported .npy version %d.%d", path, major,
                   minor);
  if (fread(pre + 8, 1, lenbytes, f) != lenbytes)
    return rt_fail(e, "%s: truncated .npy header", path);
  uint32_t hlen = pre[8] | (uint32_t)pre[9] << 8;
  if (lenbytes == 4)
    hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
  int64_t off = 8 + (int64_t)lenbytes + hlen;
  if (off > size)
    return rt_fail(e, "%s: truncated .npy header (%u bytes declared)", path,
                   hlen);
  if (hlen > NPY_MAX_HEADER)
    return rt_fail(e, "%s: .npy header too large (%u bytes)", path, hlen);

  char *text = malloc(hlen + 1);
  if (!text)
    return rt_fail(e, "%s: out of memory", path);
  if (fread(text, 1, hlen, f) != hlen) {
    free(text);
    return rt_fail(e, "%s: read error in .npy header", path);
  }
  Hdr h = {text, text + hlen, path, e};
  char descr[16];
  int fortran = 0, rank = 0;
  int64_t dims[RT_MAX_RANK];
  int rc = parse_header(&h, descr, sizeof descr, &fortran, &rank, dims);
  free(text);
  if (rc)
    return -1;

  int dtype = -1;
  for (int t = 0; t < RT_NDTYPE; t++)
    if (!strcmp(descr, descrs[t]))
      dtype = t;
  if (!strcmp(descr, "<u1"))
    dtype = RT_U8;
  if (dtype < 0 && descr[0] == '>')
    return rt_fail(e, "%s: big-endian dtype '%s' is not supported", path,
                   descr);
  if (dtype < 0)
    return rt_fail(e,
                   "%s: unsupported dtype '%s' (want <f4 <f8 <i8 <i4 |u1 |b1)",
                   path, descr);
  if (fortran)
    return rt_fail(e, "%s: fortran_order arrays are not supported", path);
  int64_t numel = rt_numel(rank, dims);
  if (numel < 0)
    return rt_fail(e, "%s: shape overflows", path);
  hd->dtype = dtype;
  hd->rank = rank;
  memcpy(hd->dims, dims, sizeof(int64_t) * (size_t)rank);
  hd->numel = numel;
  hd->bytes = numel * (int64_t)rt_dtype_size(dtype);
  hd->have = size - off;
  return 0;
}

static int read_file(FILE *f, const char *path, RtArray *out, RtErr *e) {
  NpyHead hd;
  if (read_head(f, path, &hd, e))
    return -1;
  char sb[256];
  if (hd.have < hd.bytes)
    return rt_fail(e,
                   "%s: truncated data: %s needs %lld bytes, file has %lld",
                   path, rt_shape_str(hd.dtype, hd.rank, hd.dims, sb, sizeof sb),
                   (long long)hd.bytes, (long long)hd.have);
  if (hd.have > hd.bytes)
    return rt_fail(e, "%s: %lld unexpected bytes after the data", path,
                   (long long)(hd.have - hd.bytes));

  out->data = rt_alloc((size_t)hd.bytes);
  if (!out->data)
    return rt_fail(e, "%s: out of memory (%lld bytes)", path,
                   (long long)hd.bytes);
  if (fread(out->data, 1, (size_t)hd.bytes, f) != (size_t)hd.bytes)
    return rt_fail(e, "%s: read error in data", path);
  if (hd.dtype == RT_BOOL)
    for (int64_t i = 0; i < hd.numel; i++)
      ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
  out->dtype = hd.dtype;
  out->rank = hd.rank;
  memcpy(out->dims, hd.dims, sizeof(int64_t) * (size_t)hd.rank);
  out->numel = hd.numel;
  return 0;
}

int rt_npy_read(const char *path, RtArray *out, RtErr *e) {
  memset(out, 0, sizeof *out);
  FILE *f = rt_in_open(path, e);
  if (!f)
    return -1;
  int rc = read_file(f, path, out, e);
  fclose(f);
  if (rc)
    rt_array_free(out);
  return rc;
}

int rt_npy_peek(const char *path, int *dtype, int *rank, int64_t *dims,
                RtErr *e) {
  FILE *f = rt_in_open(path, e);
  if (!f)
    return -1;
  NpyHead hd;
  int rc = read_head(f, path, &hd, e);
  fclose(f);
  if (rc)
    return -1;
  *dtype = hd.dtype;
  *rank = hd.rank;
  memcpy(dims, hd.dims, sizeof(int64_t) * (size_t)hd.rank);
  return 0;
}

int rt_npy_write(const char *path, int dtype, int rank, const int64_t *dims,
                 const void *data, RtErr *e) {
  if (rt_dtype_size(dtype) == 0)
    return rt_fail(e, "%s: unsupported dtype %d", path, dtype);
  int64_t numel = rt_numel(rank, dims);
  if (numel < 0)
    return rt_fail(e, "%s: invalid shape (rank %d)", path, rank);
  size_t bytes = (size_t)numel * rt_dtype_size(dtype);
  if (bytes && !data)
    return rt_fail(e, "%s: no data", path);

  char h[512];
  int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, "
                   "'shape': (", descrs[dtype]);
  for (int i = 0; i < rank; i++)
    n += snprintf(h + n, sizeof h - (size_t)n, "%s%lld", i ? ", " : "",
                  (long long)dims[i]);
  n += snprintf(h + n, sizeof h - (size_t)n, "%s), }", rank == 1 ? "," : "");
  while ((10 + n + 1) % 64)
    h[n++] = ' ';
  h[n++] = '\n';
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                           (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};

  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  if (!f)
    return -1;
  int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
           fwrite(h, 1, (size_t)n, f) == (size_t)n &&
           (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
  if (!ok)
    rt_fail(e, "%s: write failed: %s", path, strerror(errno));
  return rt_out_commit(&out, ok, e);
}
