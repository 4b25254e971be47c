/* safetensors: u64 LE header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {...}}, then the data section the offsets index into.
 * The whole file is read and validated up front. */
#include "rt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_MAX_HEADER (100 << 20)
#define ST_MAX_INT 9007199254740992.0 /* 2^53: exact in a JSON double */

static const char *const st_dtypes[RT_NDTYPE] = {
    [RT_F32] = "F32", [RT_F64] = "F64", [RT_I64] = "I64",
    [RT_I32] = "I32", [RT_U8] = "U8", [RT_BOOL] = "BOOL",
};

typedef struct StTensor {
  char *name;
  int dtype, rank;
  int64_t dims[RT_MAX_RANK];
  int64_t begin, end; /* byte range in the data section */
} StTensor;

struct RtStFile {
  char *path;
  int n;
  StTensor *t; /* [n], in header order */
  unsigned char *data;
  int64_t data_size;
};

void rt_st_close(RtStFile *f) {
  if (!f)
    return;
  for (int i = 0; i < f->n; i++)
    free(f->t[i].name);
  free(f->t);
  rt_free(f->data);
  free(f->path);
  free(f);
}

int rt_st_count(const RtStFile *f) { return f ? f->n : 0; }

const char *rt_st_name(const RtStFile *f, int i) {
  return f && i >= 0 && i < f->n ? f->t[i].name : NULL;
}

/* A non-negative integer a double represents exactly. */
static int json_int(const cJSON *j, int64_t *v) {
  if (!cJSON_IsNumber(j))
    return -1;
  double d = j->valuedouble;
  if (!(d >= 0 && d <= ST_MAX_INT) || d != (double)(int64_t)d)
    return -1;
  *v = (int64_t)d;
  return 0;
}

static int parse_entry(const char *path, const cJSON *j, StTensor *t,
                       int64_t data_size, RtErr *e) {
  const char *nm = j->string;
  if (!cJSON_IsObject(j))
    return rt_fail(e, "%s: tensor '%s': entry is not an object", path, nm);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
    return rt_fail(e,
                   "%s: tensor '%s': needs string 'dtype', array 'shape' and "
                   "array 'data_offsets'",
                   path, nm);
  t->dtype = -1;
  for (int k = 0; k < RT_NDTYPE; k++)
    if (!strcmp(dt->valuestring, st_dtypes[k]))
      t->dtype = k;
  if (t->dtype < 0)
    return rt_fail(e,
                   "%s: tensor '%s': unsupported dtype '%s' (want F32 F64 I64 "
                   "I32 U8 BOOL)",
                   path, nm, dt->valuestring);
  int rank = cJSON_GetArraySize(sh);
  if (rank > RT_MAX_RANK)
    return rt_fail(e, "%s: tensor '%s': rank %d exceeds %d", path, nm, rank,
                   RT_MAX_RANK);
  t->rank = 0;
  for (const cJSON *d = sh->child; d; d = d->next)
    if (json_int(d, &t->dims[t->rank++]))
      return rt_fail(e,
                     "%s: tensor '%s': shape must hold non-negative integers",
                     path, nm);
  int64_t numel = rt_numel(t->rank, t->dims);
  if (numel < 0)
    return rt_fail(e, "%s: tensor '%s': shape overflows", path, nm);
  if (cJSON_GetArraySize(off) != 2 || json_int(off->child, &t->begin) ||
      json_int(off->child->next, &t->end))
    return rt_fail(e,
                   "%s: tensor '%s': data_offsets must be [begin, end] "
                   "non-negative integers",
                   path, nm);
  if (t->begin > t->end || t->end > data_size)
    return rt_fail(e,
                   "%s: tensor '%s': data_offsets [%lld, %lld] out of range "
                   "(data section has %lld bytes)",
                   path, nm, (long long)t->begin, (long long)t->end,
                   (long long)data_size);
  int64_t bytes = numel * (int64_t)rt_dtype_size(t->dtype);
  char sb[256];
  if (t->end - t->begin != bytes)
    return rt_fail(e,
                   "%s: tensor '%s': %s needs %lld bytes, data_offsets span "
                   "%lld",
                   path, nm, rt_shape_str(t->dtype, t->rank, t->dims, sb,
                                          sizeof sb),
                   (long long)bytes, (long long)(t->end - t->begin));
  t->name = strdup(nm);
  if (!t->name)
    return rt_fail(e, "%s: out of memory", path);
  return 0;
}

static int by_begin(const void *a, const void *b) {
  const StTensor *x = *(const StTensor *const *)a,
                 *y = *(const StTensor *const *)b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const StTensor *const *)a)->name,
                (*(const StTensor *const *)b)->name);
}

/* Rejects duplicate names and overlapping (non-empty) byte ranges. */
static int check_overlaps(RtStFile *f, RtErr *e) {
  if (f->n < 2)
    return 0;
  StTensor **s = malloc(sizeof *s * (size_t)f->n);
  if (!s)
    return rt_fail(e, "%s: out of memory", f->path);
  int rc = 0;
  for (int i = 0; i < f->n; i++)
    s[i] = &f->t[i];
  qsort(s, (size_t)f->n, sizeof *s, by_name);
  for (int i = 1; i < f->n && !rc; i++)
    if (!strcmp(s[i - 1]->name, s[i]->name))
      rc = rt_fail(e, "%s: tensor '%s' appears twice", f->path, s[i]->name);
  qsort(s, (size_t)f->n, sizeof *s, by_begin);
  const StTensor *prev = NULL;
  for (int i = 0; i < f->n && !rc; i++) {
    if (s[i]->begin == s[i]->end)
      continue;
    if (prev && s[i]->begin < prev->end)
      rc = rt_fail(e,
                   "%s: tensors '%s' [%lld, %lld] and '%s' [%lld, %lld] "
                   "overlap",
                   f->path, prev->name, (long long)prev->begin,
                   (long long)prev->end, s[i]->name, (long long)s[i]->begin,
                   (long long)s[i]->end);
    prev = s[i];
  }
  free(s);
  return rc;
}

static int parse_header(RtStFile *f, const char *text, size_t n, RtErr *e) {
  cJSON *root = cJSON_ParseWithLength(text, n);
  if (!root)
    return rt_fail(e, "%s: safetensors header is not valid JSON", f->path);
  int rc = 0;
  if (!cJSON_IsObject(root))
    rc = rt_fail(e, "%s: safetensors header is not a JSON object", f->path);
  /* the table grows with the entries that parse: a header of a million
   * non-entries does not reserve a million tensors */
  int cap = 0;
  for (const cJSON *j = rc ? NULL : root->child; j && !rc; j = j->next) {
    if (!strcmp(j->string, "__metadata__")) {
      if (!cJSON_IsObject(j))
        rc = rt_fail(e, "%s: __metadata__ is not an object", f->path);
      continue;
    }
    if (f->n == cap) {
      StTensor *t = cap < (1 << 28) ? realloc(f->t, sizeof *t * (size_t)(cap ? 2 * cap : 16)) : NULL;
      if (!t) {
        rc = rt_fail(e, "%s: out of memory", f->path);
        break;
      }
      f->t = t;
      cap = cap ? 2 * cap : 16;
    }
    memset(&f->t[f->n], 0, sizeof *f->t);
    rc = parse_entry(f->path, j, &f->t[f->n], f->data_size, e);
    if (!rc)
      f->n++;
  }
  cJSON_Delete(root);
  return rc ? rc : check_overlaps(f, e);
}

static int open_file(FILE *fp, RtStFile *f, RtErr *e) {
  struct stat st;
  if (fstat(fileno(fp), &st) != 0)
    return rt_fail(e, "%s: cannot stat: %s", f->path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return rt_fail(e, "%s: not a regular file", f->path);
  int64_t size = st.st_size;
  unsigned char lenb[8];
  if (size < 8 || fread(lenb, 1, 8, fp) != 8)
    return rt_fail(e, "%s: truncated safetensors file (%lld bytes)", f->path,
                   (long long)size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | lenb[i];
  if (hlen > (uint64_t)(size - 8))
    return rt_fail(e,
                   "%s: header length %llu larger than the file (%lld bytes)",
                   f->path, (unsigned long long)hlen, (long long)size);
  if (hlen > ST_MAX_HEADER)
    return rt_fail(e, "%s: header length %llu too large", f->path,
                   (unsigned long long)hlen);
  f->data_size = size - 8 - (int64_t)hlen;

  char *text = malloc(hlen + 1);
  if (!text)
    return rt_fail(e, "%s: out of memory", f->path);
  if (fread(text, 1, hlen, fp) != hlen) {
    free(text);
    return rt_fail(e, "%s: read error in header", f->path);
  }
  text[hlen] = 0;
  int rc = parse_header(f, text, hlen, e);
  free(text);
  if (rc)
    return rc;
  f->data = rt_alloc((size_t)f->data_size);
  if (!f->data)
    return rt_fail(e, "%s: out of memory (%lld bytes)", f->path,
                   (long long)f->data_size);
  if (fread(f->data, 1, (size_t)f->data_size, fp) != (size_t)f->data_size)
    return rt_fail(e, "%s: read error in data", f->path);
  return 0;
}

int rt_st_open(const char *path, RtStFile **out, RtErr *e) {
  *out = NULL;
  RtStFile *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return rt_fail(e, "%s: out of memory", path);
  }
  FILE *fp = rt_in_open(path, e);
  if (!fp) {
    rt_st_close(f);
    return -1;
  }
  int rc = open_file(fp, f, e);
  fclose(fp);
  if (rc) {
    rt_st_close(f);
    return -1;
  }
  *out = f;
  return 0;
}

static int same_shape(int rank, const int64_t *dims, const StTensor *t) {
  if (rank != t->rank)
    return 0;
  for (int i = 0; i < rank; i++)
    if (dims[i] != t->dims[i])
      return 0;
  return 1;
}

int rt_st_info(const RtStFile *f, int i, int *dtype, int *rank,
               const int64_t **dims) {
  if (!f || i < 0 || i >= f->n)
    return -1;
  *dtype = f->t[i].dtype;
  *rank = f->t[i].rank;
  *dims = f->t[i].dims;
  return 0;
}

static int read_tensor(const RtStFile *f, const char *name, int dtype,
                       int rank, const int64_t *dims, void *dst, int finite,
                       RtErr *e) {
  const StTensor *t = NULL;
  for (int i = 0; i < f->n && !t; i++)
    if (!strcmp(f->t[i].name, name))
      t = &f->t[i];
  if (!t)
    return rt_fail(e, "%s: tensor '%s' not found", f->path, name);
  if (dtype != t->dtype || !same_shape(rank, dims, t)) {
    char want[256], have[256];
    return rt_fail(e, "%s: tensor '%s': %s %s expected, file has %s", f->path,
                   name, dtype != t->dtype ? "dtype" : "shape",
                   rt_shape_str(dtype, rank, dims, want, sizeof want),
                   rt_shape_str(t->dtype, t->rank, t->dims, have, sizeof have));
  }
  int64_t bytes = t->end - t->begin;
  double v = 0;
  int64_t bad = finite ? rt_first_nonfinite(dtype, f->data + t->begin,
                                            bytes / (int64_t)rt_dtype_size(dtype), &v)
                       : -1;
  if (bad >= 0) /* checked before dst is touched */
    return rt_fail(e, "%s: tensor '%s' element %lld: %s; weights must be finite",
                   f->path, name, (long long)bad,
                   isnan(v) ? "NaN" : v > 0 ? "infinity" : "-infinity");
  if (bytes > 0)
    memcpy(dst, f->data + t->begin, (size_t)bytes);
  if (dtype == RT_BOOL)
    for (int64_t i = 0; i < bytes; i++)
      ((uint8_t *)dst)[i] = ((uint8_t *)dst)[i] != 0;
  return 0;
}

int rt_st_read(const RtStFile *f, const char *name, int dtype, int rank,
               const int64_t *dims, void *dst, RtErr *e) {
  return read_tensor(f, name, dtype, rank, dims, dst, 1, e);
}

int rt_st_read_state(const RtStFile *f, const char *name, int dtype, int rank,
                     const int64_t *dims, void *dst, RtErr *e) {
  return read_tensor(f, name, dtype, rank, dims, dst, 0, e);
}

/* ---- writing ---- */

typedef struct Buf {
  char *p;
  size_t n, cap;
} Buf;

static int put(Buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->n + n + 1 > cap)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
      return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

static int puts_(Buf *b, const char *s) { return put(b, s, strlen(s)); }

static int put_json_string(Buf *b, const char *s) {
  int rc = put(b, "\"", 1);
  for (; *s && !rc; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\')
      snprintf(esc, sizeof esc, "\\%c", c);
    else if (c < 0x20)
      snprintf(esc, sizeof esc, "\\u%04x", c);
    else
      esc[0] = (char)c, esc[1] = 0;
    rc = puts_(b, esc);
  }
  return rc ? rc : put(b, "\"", 1);
}

static int build_header(Buf *b, const RtStEntry *t, int n, int64_t *sizes) {
  int64_t off = 0;
  int rc = put(b, "{", 1);
  for (int i = 0; i < n && !rc; i++) {
    char num[64];
    rc = (i && put(b, ",", 1)) || put_json_string(b, t[i].name) ||
         puts_(b, ":{\"dtype\":\"") || puts_(b, st_dtypes[t[i].dtype]) ||
         puts_(b, "\",\"shape\":[");
    for (int d = 0; d < t[i].rank && !rc; d++) {
      snprintf(num, sizeof num, "%s%lld", d ? "," : "",
               (long long)t[i].dims[d]);
      rc = puts_(b, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%lld,%lld]}",
             (long long)off, (long long)(off + sizes[i]));
    rc = rc || puts_(b, num);
    off += sizes[i];
  }
  rc = rc || put(b, "}", 1);
  while (!rc && b->n % 8)
    rc = put(b, " ", 1);
  return rc;
}

int rt_st_write(const char *path, const RtStEntry *t, int n, RtErr *e) {
  if (n < 0 || (n > 0 && !t))
    return rt_fail(e, "%s: invalid tensor list", path);
  int64_t *sizes = malloc(sizeof *sizes * (size_t)(n ? n : 1));
  if (!sizes)
    return rt_fail(e, "%s: out of memory", path);
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const char *nm = t[i].name ? t[i].name : "(null)";
    int64_t numel = rt_numel(t[i].rank, t[i].dims);
    int rc = 0;
    if (!t[i].name || !*t[i].name || !strcmp(t[i].name, "__metadata__"))
      rc = rt_fail(e, "%s: tensor %d: invalid name '%s'", path, i, nm);
    else if (rt_dtype_size(t[i].dtype) == 0)
      rc = rt_fail(e, "%s: tensor '%s': unsupported dtype %d", path, nm,
                   t[i].dtype);
    else if (numel < 0)
      rc = rt_fail(e, "%s: tensor '%s': invalid shape", path, nm);
    else if ((sizes[i] = numel * (int64_t)rt_dtype_size(t[i].dtype)) > 0 &&
             !t[i].data)
      rc = rt_fail(e, "%s: tensor '%s': no data", path, nm);
    else if (total > INT64_MAX - sizes[i])
      rc = rt_fail(e, "%s: total size overflows", path);
    for (int j = 0; j < i && !rc; j++)
      if (!strcmp(t[j].name, t[i].name))
        rc = rt_fail(e, "%s: tensor '%s' appears twice", path, nm);
    if (rc) {
      free(sizes);
      return rc;
    }
    total += sizes[i];
  }

  Buf b = {0};
  if (build_header(&b, t, n, sizes)) {
    free(b.p);
    free(sizes);
    return rt_fail(e, "%s: out of memory", path);
  }
  unsigned char lenb[8];
  for (int i = 0; i < 8; i++)
    lenb[i] = (unsigned char)((uint64_t)b.n >> (8 * i));

  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  int ok = f && fwrite(lenb, 1, 8, f) == 8 && fwrite(b.p, 1, b.n, f) == b.n;
  for (int i = 0; i < n && ok; i++)
    ok = sizes[i] == 0 ||
         fwrite(t[i].data, 1, (size_t)sizes[i], f) == (size_t)sizes[i];
  free(b.p);
  free(sizes);
  if (!f)
    return -1;
  if (!ok)
    rt_fail(e, "%s: write failed: %s", path, strerror(errno));
  return rt_out_commit(&out, ok, e);
}
