/* Runtime library tests: .npy, safetensors and IDX readers/writers (round
 * trips, hand-built files, malformed inputs), atomic writes, the RNG and the
 * parameter initializers. Files live in a mkdtemp directory under /tmp. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "rt.h"
#include "rt_tmpdir.h"
#include "rt_model.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"


static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)sz + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
  fclose(f);
  *n = (size_t)sz;
  return p;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int count_tmp_files(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    n += strstr(de->d_name, ".tmp.") != NULL;
  closedir(d);
  return n;
}

/* Checks that an error message contains every needle. */
#define MSG_HAS(e, ...) msg_has(__LINE__, &(e), (const char *[]){__VA_ARGS__, NULL})
static void msg_has(int line, const RtErr *e, const char **needles) {
  for (; *needles; needles++)
    if (!strstr(e->msg, *needles))
      fail_msg("line %d: error message \"%s\" lacks \"%s\"", line, e->msg,
               *needles);
}

/* Deterministic byte pattern for a buffer. */
static void fill(void *p, size_t n, unsigned seed) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(i * 37u + seed * 101u + (i >> 8));
}

/* ---- util ---- */

static void test_util(void **state) {
  (void)state;
  char buf[64];
  int64_t d[3] = {2, 3, 40};
  assert_string_equal(rt_shape_str(RT_F32, 2, d, buf, sizeof buf), "f32[2,3]");
  assert_string_equal(rt_shape_str(RT_U8, 0, NULL, buf, sizeof buf), "u8[]");
  assert_string_equal(rt_shape_str(RT_I64, 3, d, buf, 8), "i64[2,3");
  assert_int_equal(rt_dtype_size(RT_F64), 8);
  assert_int_equal(rt_dtype_size(RT_U8), 1);
  assert_int_equal(rt_dtype_size(RT_NDTYPE), 0);
  assert_string_equal(rt_dtype_name(RT_I32), "i32");

  unsigned char *a = rt_alloc(1000), *z1 = rt_alloc(0), *z2 = rt_alloc(0);
  assert_non_null(a);
  assert_non_null(z1);
  assert_non_null(z2);
  assert_ptr_not_equal(z1, z2);
  assert_int_equal((uintptr_t)a % 64, 0);
  assert_int_equal((uintptr_t)z1 % 64, 0);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(a[i], 0);
  rt_free(a);
  rt_free(z1);
  rt_free(z2);

  int64_t big[3] = {1LL << 30, 1LL << 30, 1LL << 30}, neg[2] = {3, -1};
  assert_int_equal(rt_numel(3, d), 240);
  assert_int_equal(rt_numel(0, NULL), 1);
  assert_int_equal(rt_numel(3, big), -1);
  assert_int_equal(rt_numel(2, neg), -1);
  assert_int_equal(rt_numel(RT_MAX_RANK + 1, d), -1);

  double t0 = rt_now(), t1 = rt_now();
  assert_true(t0 > 0 && t1 >= t0);

  RtErr e;
  assert_int_equal(rt_fail(&e, "x%d", 7), -1);
  assert_string_equal(e.msg, "x7");
  assert_int_equal(rt_fail(NULL, "ignored"), -1);
}

/* ---- .npy ---- */

static void npy_roundtrip_one(int dtype, int rank, const int64_t *dims) {
  char name[64], sb[128];
  snprintf(name, sizeof name, "rt_%s_%d.npy", rt_dtype_name(dtype), rank);
  const char *path = P(name);
  int64_t numel = rt_numel(rank, dims);
  size_t bytes = (size_t)numel * rt_dtype_size(dtype);
  void *src = malloc(bytes ? bytes : 1);
  assert_non_null(src);
  fill(src, bytes, (unsigned)dtype);
  if (dtype == RT_BOOL) /* bools are 0 or 1 */
    for (size_t i = 0; i < bytes; i++)
      ((unsigned char *)src)[i] &= 1;
  RtErr e = {{0}};
  if (rt_npy_write(path, dtype, rank, dims, src, &e))
    fail_msg("%s", e.msg);

  size_t n;
  unsigned char *raw = slurp(path, &n);
  unsigned hlen = raw[8] | raw[9] << 8;
  assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
  assert_int_equal((10 + hlen) % 64, 0);
  assert_int_equal(raw[10 + hlen - 1], '\n');
  assert_int_equal(n, 10 + hlen + bytes);
  free(raw);

  RtArray a;
  if (rt_npy_read(path, &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, dtype);
  assert_int_equal(a.rank, rank);
  assert_int_equal(a.numel, numel);
  assert_string_equal(rt_shape_str(a.dtype, a.rank, a.dims, sb, sizeof sb),
                      rt_shape_str(dtype, rank, dims, name, sizeof name));
  assert_int_equal((uintptr_t)a.data % 64, 0);
  assert_memory_equal(a.data, src, bytes);
  rt_array_free(&a);
  assert_null(a.data);
  free(src);
}

static void test_npy_roundtrip(void **state) {
  (void)state;
  int64_t d1[1] = {7}, d3[3] = {3, 1, 5}, dz[3] = {2, 0, 3};
  for (int t = 0; t < RT_NDTYPE; t++) {
    npy_roundtrip_one(t, 0, NULL);
    npy_roundtrip_one(t, 1, d1);
    npy_roundtrip_one(t, 3, d3);
  }
  npy_roundtrip_one(RT_F32, 3, dz);
  int64_t d8[8] = {1, 2, 1, 3, 1, 1, 2, 1};
  npy_roundtrip_one(RT_F64, 8, d8);
}

/* A .npy file as numpy writes it: preamble, dict padded to 64, '\n'. */
static void make_npy(const char *path, int major, const char *dict,
                     const void *data, size_t n) {
  size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
  size_t hlen = len + 1;
  while ((pre + hlen) % 64)
    hlen++;
  unsigned char *b = calloc(1, pre + hlen + n);
  assert_non_null(b);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)major;
  for (size_t i = 0; i < pre - 8; i++)
    b[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(b + pre, dict, len);
  memset(b + pre + len, ' ', hlen - len - 1);
  b[pre + hlen - 1] = '\n';
  if (n)
    memcpy(b + pre + hlen, data, n);
  write_file(path, b, pre + hlen + n);
  free(b);
}

static void test_npy_handmade(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtArray a;

  float f[6] = {1, -2, 3.5f, 0, 1e-3f, 42};
  make_npy(P("h1.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f,
           sizeof f);
  if (rt_npy_read(P("h1.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, RT_F32);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.dims[0], 2);
  assert_int_equal(a.dims[1], 3);
  assert_memory_equal(a.data, f, sizeof f);
  rt_array_free(&a);

  /* v2.0, double quotes, other key order, no trailing comma */
  int64_t l[4] = {-1, 0, 1LL << 40, 5};
  make_npy(P("h2.npy"), 2,
           "{\"shape\":(4,),\"fortran_order\":False,\"descr\":\"<i8\"}", l,
           sizeof l);
  if (rt_npy_read(P("h2.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, RT_I64);
  assert_int_equal(a.rank, 1);
  assert_int_equal(a.dims[0], 4);
  assert_memory_equal(a.data, l, sizeof l);
  rt_array_free(&a);

  /* v3.0, '<u1', Python 2 long dims, fortran_order of a 1-D array False */
  unsigned char u[3] = {0, 128, 255};
  make_npy(P("h3.npy"), 3,
           "{'descr': '<u1', 'fortran_order': False, 'shape': (1L, 3L), }", u,
           3);
  if (rt_npy_read(P("h3.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, RT_U8);
  assert_int_equal(a.numel, 3);
  assert_memory_equal(a.data, u, 3);
  rt_array_free(&a);

  /* scalar */
  double s = 2.25;
  make_npy(P("h4.npy"), 1,
           "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &s, 8);
  if (rt_npy_read(P("h4.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.rank, 0);
  assert_int_equal(a.numel, 1);
  assert_true(*(double *)a.data == 2.25);
  rt_array_free(&a);
}

static void npy_rejects(const char *name, const char *phrase) {
  RtErr e = {{0}};
  RtArray a;
  const char *path = P(name);
  assert_int_equal(rt_npy_read(path, &a, &e), -1);
  assert_null(a.data);
  MSG_HAS(e, path, phrase);
}

static void test_npy_rejects(void **state) {
  (void)state;
  float f[6] = {0};
  const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

  make_npy(P("magic.npy"), 1, ok, f, sizeof f);
  FILE *fp = fopen(P("magic.npy"), "r+b");
  assert_non_null(fp);
  fputc('X', fp);
  fclose(fp);
  npy_rejects("magic.npy", "bad magic");
  write_file(P("empty.npy"), "", 0);
  npy_rejects("empty.npy", "bad magic");
  write_file(P("short.npy"), "\x93NUMPY\x01", 7);
  npy_rejects("short.npy", "truncated");

  make_npy(P("trunc.npy"), 1, ok, f, sizeof f - 4);
  npy_rejects("trunc.npy", "truncated data");
  make_npy(P("extra.npy"), 1, ok, f, 4);
  npy_rejects("extra.npy", "truncated data");
  float g[7] = {0};
  make_npy(P("trail.npy"), 1, ok, g, sizeof g);
  npy_rejects("trail.npy", "unexpected bytes");

  make_npy(P("fortran.npy"), 1,
           "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f,
           sizeof f);
  npy_rejects("fortran.npy", "fortran_order");
  make_npy(P("be.npy"), 1,
           "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f,
           sizeof f);
  npy_rejects("be.npy", "big-endian");
  make_npy(P("c8.npy"), 1,
           "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", f,
           24);
  npy_rejects("c8.npy", "unsupported dtype '<c8'");
  make_npy(P("rec.npy"), 1,
           "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
           f, 24);
  npy_rejects("rec.npy", "structured");

  make_npy(P("garbage.npy"), 1, "hello, world", f, 0);
  npy_rejects("garbage.npy", "malformed .npy header");
  make_npy(P("maybe.npy"), 1,
           "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", f,
           sizeof f);
  npy_rejects("maybe.npy", "malformed .npy header");
  make_npy(P("open.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'sh",
           f, 0);
  npy_rejects("open.npy", "malformed .npy header");
  make_npy(P("nokey.npy"), 1, "{'descr': '<f4', 'shape': (2, 3)}", f,
           sizeof f);
  npy_rejects("nokey.npy", "missing key 'fortran_order'");
  make_npy(P("dup.npy"), 1,
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
           "'shape': (6,)}",
           f, sizeof f);
  npy_rejects("dup.npy", "duplicate key");
  make_npy(P("tail.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", f,
           sizeof f);
  npy_rejects("tail.npy", "trailing");
  make_npy(P("neg.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", f,
           sizeof f);
  npy_rejects("neg.npy", "negative dimension");
  make_npy(P("ovf.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, "
           "'shape': (4294967296, 4294967296), }",
           f, sizeof f);
  npy_rejects("ovf.npy", "overflow");
  make_npy(P("huge.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, "
           "'shape': (99999999999999999999,), }",
           f, sizeof f);
  npy_rejects("huge.npy", "too large");
  make_npy(P("rank9.npy"), 1,
           "{'descr': '<f4', 'fortran_order': False, "
           "'shape': (1,1,1,1,1,1,1,1,1), }",
           f, 4);
  npy_rejects("rank9.npy", "rank");
  make_npy(P("v9.npy"), 1, ok, f, sizeof f);
  fp = fopen(P("v9.npy"), "r+b");
  assert_non_null(fp);
  fseek(fp, 6, SEEK_SET);
  fputc(9, fp);
  fclose(fp);
  npy_rejects("v9.npy", "version 9.0");

  /* header length pointing far past the end of the file */
  unsigned char hl[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0,
                          0xff, 0xff, 0xff, 0xff, '{', '}', '\n', 0};
  write_file(P("hlen.npy"), hl, sizeof hl);
  npy_rejects("hlen.npy", "truncated .npy header");

  npy_rejects("missing.npy", "cannot open");

  /* writer input validation */
  RtErr e = {{0}};
  int64_t bad[2] = {2, -3};
  assert_int_equal(rt_npy_write(P("w.npy"), RT_F32, 2, bad, f, &e), -1);
  MSG_HAS(e, P("w.npy"), "invalid shape");
  assert_int_equal(rt_npy_write(P("w.npy"), 17, 0, NULL, f, &e), -1);
  MSG_HAS(e, P("w.npy"), "unsupported dtype");
  assert_false(exists(P("w.npy")));
}

/* ---- safetensors ---- */

static void test_st_roundtrip(void **state) {
  (void)state;
  int64_t dw[4] = {6, 1, 5, 5}, db[1] = {3}, di[2] = {2, 2}, du[1] = {5},
          de[2] = {0, 4};
  float w[150];
  double b[3] = {0.5, -1, 1e300};
  int64_t idx[4] = {1, -2, 3, INT64_MAX};
  int32_t s = -7;
  unsigned char u[5] = {1, 2, 3, 4, 255};
  fill(w, sizeof w, 9);
  RtStEntry t[6] = {
      {"c1w", RT_F32, 4, dw, w}, {"b", RT_F64, 1, db, b},
      {"idx", RT_I64, 2, di, idx}, {"scalar", RT_I32, 0, NULL, &s},
      {"u\"q\\", RT_U8, 1, du, u}, {"empty", RT_F32, 2, de, NULL},
  };
  const char *path = P("w.safetensors");
  RtErr e = {{0}};
  if (rt_st_write(path, t, 6, &e))
    fail_msg("%s", e.msg);

  size_t n;
  unsigned char *raw = slurp(path, &n);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | raw[i];
  assert_int_equal(hlen % 8, 0);
  assert_int_equal(n, 8 + hlen + sizeof w + sizeof b + sizeof idx + 4 + 5);
  char *hdr = strndup((char *)raw + 8, hlen);
  assert_non_null(hdr);
  const char *prev = hdr;
  for (int i = 0; i < 6; i++) { /* keys in the given order */
    char key[32];
    snprintf(key, sizeof key, "\"%s\":",
             i == 4 ? "u\\\"q\\\\" : t[i].name);
    const char *at = strstr(prev, key);
    if (!at)
      fail_msg("header %s: '%s' missing or out of order", hdr, key);
    prev = at;
  }
  assert_non_null(strstr(hdr, "\"data_offsets\":[0,600]"));
  free(hdr);
  /* contiguous in order: c1w first, then b */
  assert_memory_equal(raw + 8 + hlen, w, sizeof w);
  assert_memory_equal(raw + 8 + hlen + sizeof w, b, sizeof b);
  free(raw);

  RtStFile *f;
  if (rt_st_open(path, &f, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(rt_st_count(f), 6);
  for (int i = 0; i < 6; i++)
    assert_string_equal(rt_st_name(f, i), t[i].name);
  assert_null(rt_st_name(f, 6));
  float w2[150];
  double b2[3];
  int64_t idx2[4];
  int32_t s2;
  unsigned char u2[5];
  assert_int_equal(rt_st_read(f, "c1w", RT_F32, 4, dw, w2, &e), 0);
  assert_memory_equal(w2, w, sizeof w);
  assert_int_equal(rt_st_read(f, "b", RT_F64, 1, db, b2, &e), 0);
  assert_memory_equal(b2, b, sizeof b);
  assert_int_equal(rt_st_read(f, "idx", RT_I64, 2, di, idx2, &e), 0);
  assert_memory_equal(idx2, idx, sizeof idx);
  assert_int_equal(rt_st_read(f, "scalar", RT_I32, 0, NULL, &s2, &e), 0);
  assert_int_equal(s2, -7);
  assert_int_equal(rt_st_read(f, "u\"q\\", RT_U8, 1, du, u2, &e), 0);
  assert_memory_equal(u2, u, 5);
  assert_int_equal(rt_st_read(f, "empty", RT_F32, 2, de, NULL, &e), 0);
  rt_st_close(f);
  assert_int_equal(count_tmp_files(tmpdir), 0);
}

/* bool tensors: '|b1' in .npy, "BOOL" in safetensors, one byte each; any
 * nonzero byte read from a file becomes 1 */
static void test_bool_files(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtArray a;
  unsigned char v[4] = {0, 1, 1, 0};
  int64_t d4[1] = {4};
  if (rt_npy_write(P("b.npy"), RT_BOOL, 1, d4, v, &e))
    fail_msg("%s", e.msg);
  size_t n;
  unsigned char *raw = slurp(P("b.npy"), &n);
  char *hdr = strndup((char *)raw + 10, n - 10 - 4);
  assert_non_null(strstr(hdr, "'descr': '|b1'"));
  free(hdr);
  free(raw);
  if (rt_npy_read(P("b.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, RT_BOOL);
  assert_memory_equal(a.data, v, 4);
  rt_array_free(&a);

  unsigned char odd[3] = {0, 2, 255};
  make_npy(P("b2.npy"), 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", odd, 3);
  if (rt_npy_read(P("b2.npy"), &a, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(a.dtype, RT_BOOL);
  const unsigned char want[3] = {0, 1, 1};
  assert_memory_equal(a.data, want, 3);
  assert_int_equal(rt_elem_get(RT_BOOL, a.data, 2), 1);
  rt_elem_put(RT_BOOL, a.data, 0, -0.5);
  assert_int_equal(((unsigned char *)a.data)[0], 1);
  rt_array_free(&a);

  unsigned char odd4[4] = {0, 2, 255, 0};
  RtStEntry t[1] = {{"mask", RT_BOOL, 1, d4, odd4}};
  if (rt_st_write(P("b.safetensors"), t, 1, &e))
    fail_msg("%s", e.msg);
  raw = slurp(P("b.safetensors"), &n);
  hdr = strndup((char *)raw + 8, n - 8);
  assert_non_null(strstr(hdr, "\"dtype\":\"BOOL\""));
  free(hdr);
  free(raw);
  RtStFile *f;
  if (rt_st_open(P("b.safetensors"), &f, &e))
    fail_msg("%s", e.msg);
  unsigned char got[4];
  assert_int_equal(rt_st_read(f, "mask", RT_U8, 1, d4, got, &e), -1);
  assert_non_null(strstr(e.msg, "dtype"));
  assert_int_equal(rt_st_read(f, "mask", RT_BOOL, 1, d4, got, &e), 0);
  rt_st_close(f);
  const unsigned char want4[4] = {0, 1, 1, 0};
  assert_memory_equal(got, want4, 4);
  assert_string_equal(rt_dtype_name(RT_BOOL), "bool");
  assert_int_equal(rt_dtype_size(RT_BOOL), 1);
}

/* A safetensors file from a JSON header and `ndata` bytes of data. */
static void make_st(const char *path, const char *json, size_t ndata) {
  size_t len = strlen(json);
  unsigned char *b = calloc(1, 8 + len + ndata);
  assert_non_null(b);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)len >> (8 * i));
  memcpy(b + 8, json, len);
  fill(b + 8 + len, ndata, 3);
  write_file(path, b, 8 + len + ndata);
  free(b);
}

static void test_st_handmade(void **state) {
  (void)state;
  const char *path = P("hand.safetensors");
  make_st(path,
          "{\"__metadata__\":{\"format\":\"pt\"},"
          " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [8, 10]},"
          " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
          10);
  RtErr e = {{0}};
  RtStFile *f;
  if (rt_st_open(path, &f, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(rt_st_count(f), 2);
  assert_string_equal(rt_st_name(f, 0), "b");
  unsigned char want[10], got[8];
  fill(want, 10, 3);
  int64_t d2[1] = {2};
  assert_int_equal(rt_st_read(f, "a", RT_F32, 1, d2, got, &e), 0);
  assert_memory_equal(got, want, 8);
  assert_int_equal(rt_st_read(f, "b", RT_U8, 1, d2, got, &e), 0);
  assert_memory_equal(got, want + 8, 2);
  rt_st_close(f);
}

static void st_rejects(const char *path, const char *phrase) {
  RtErr e = {{0}};
  RtStFile *f = (RtStFile *)&e;
  assert_int_equal(rt_st_open(path, &f, &e), -1);
  assert_null(f);
  MSG_HAS(e, path, phrase);
}

#define ENTRY(name, dt, shape, b, e)                                           \
  "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape                        \
  ",\"data_offsets\":[" #b "," #e "]}"

static void test_st_rejects(void **state) {
  (void)state;
  RtErr e = {{0}};
  const char *path = P("w.safetensors");
  int64_t have[4] = {6, 1, 3, 3}, want[4] = {6, 1, 5, 5};
  float w[54] = {0}, dst[150];
  RtStEntry t = {"c1w", RT_F32, 4, have, w};
  assert_int_equal(rt_st_write(path, &t, 1, &e), 0);
  RtStFile *f;
  assert_int_equal(rt_st_open(path, &f, &e), 0);
  assert_int_equal(rt_st_read(f, "nope", RT_F32, 4, want, dst, &e), -1);
  MSG_HAS(e, path, "tensor 'nope' not found");
  assert_int_equal(rt_st_read(f, "c1w", RT_F32, 4, want, dst, &e), -1);
  MSG_HAS(e, "w.safetensors: tensor 'c1w': shape f32[6,1,5,5] expected, "
             "file has f32[6,1,3,3]");
  assert_int_equal(rt_st_read(f, "c1w", RT_F32, 3, want, dst, &e), -1);
  MSG_HAS(e, path, "f32[6,1,5] expected, file has f32[6,1,3,3]");
  assert_int_equal(rt_st_read(f, "c1w", RT_F64, 4, have, dst, &e), -1);
  MSG_HAS(e, path, "'c1w': dtype f64[6,1,3,3] expected, file has f32[6,1,3,3]");
  rt_st_close(f);

  /* truncated copies of the valid file */
  size_t n;
  unsigned char *raw = slurp(path, &n);
  write_file(P("cut.safetensors"), raw, n - 4);
  st_rejects(P("cut.safetensors"), "out of range");
  write_file(P("cut2.safetensors"), raw, 20);
  st_rejects(P("cut2.safetensors"), "larger than the file");
  write_file(P("cut3.safetensors"), raw, 5);
  st_rejects(P("cut3.safetensors"), "truncated");
  raw[7] = 0x80; /* header length ~2^63 */
  write_file(P("hl.safetensors"), raw, n);
  st_rejects(P("hl.safetensors"), "larger than the file");
  free(raw);
  write_file(P("zero.safetensors"), "", 0);
  st_rejects(P("zero.safetensors"), "truncated");
  st_rejects(P("missing.safetensors"), "cannot open");

  const char *p = P("bad.safetensors");
  make_st(p, "{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 4, 12) "}", 12);
  st_rejects(p, "overlap");
  make_st(p, "{" ENTRY("a", "F32", "[4]", 0, 16) "}", 8);
  st_rejects(p, "out of range");
  make_st(p, "{" ENTRY("a", "F32", "[2]", 8, 4) "}", 8);
  st_rejects(p, "out of range");
  make_st(p, "{" ENTRY("a", "F32", "[3]", 0, 8) "}", 8);
  st_rejects(p, "needs 12 bytes");
  make_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], ", 8);
  st_rejects(p, "not valid JSON");
  make_st(p, "\xff\xfe garbage", 8);
  st_rejects(p, "not valid JSON");
  make_st(p, "[1, 2, 3]", 8);
  st_rejects(p, "not a JSON object");
  make_st(p, "{\"a\": 5}", 8);
  st_rejects(p, "tensor 'a': entry is not an object");
  make_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8);
  st_rejects(p, "data_offsets");
  make_st(p, "{" ENTRY("a", "BF16", "[4]", 0, 8) "}", 8);
  st_rejects(p, "unsupported dtype 'BF16'");
  make_st(p, "{" ENTRY("a", "F32", "[-2]", 0, 8) "}", 8);
  st_rejects(p, "non-negative");
  make_st(p, "{" ENTRY("a", "F32", "[2.5]", 0, 8) "}", 8);
  st_rejects(p, "non-negative");
  make_st(p, "{" ENTRY("a", "F32", "[2]", -8, 0) "}", 8);
  st_rejects(p, "data_offsets");
  make_st(p, "{" ENTRY("a", "F32", "[4294967296,4294967296,4294967296]", 0, 8) "}", 8);
  st_rejects(p, "overflows");
  make_st(p, "{" ENTRY("a", "F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}", 8);
  st_rejects(p, "rank");
  make_st(p, "{" ENTRY("a", "F32", "[1]", 0, 4) "," ENTRY("a", "F32", "[1]", 4, 8) "}", 8);
  st_rejects(p, "'a' appears twice");
  make_st(p, "{\"__metadata__\": 3}", 8);
  st_rejects(p, "__metadata__");

  /* empty tensors may sit anywhere, even inside another's range */
  make_st(p, "{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("z", "F32", "[0]", 4, 4) "}", 8);
  assert_int_equal(rt_st_open(p, &f, &e), 0);
  rt_st_close(f);

  /* writer validation */
  RtStEntry dup[2] = {t, t};
  assert_int_equal(rt_st_write(P("v.safetensors"), dup, 2, &e), -1);
  MSG_HAS(e, P("v.safetensors"), "appears twice");
  RtStEntry nodata = {"x", RT_F32, 4, have, NULL};
  assert_int_equal(rt_st_write(P("v.safetensors"), &nodata, 1, &e), -1);
  MSG_HAS(e, P("v.safetensors"), "'x': no data");
  assert_false(exists(P("v.safetensors")));
}

static void test_atomic_writes(void **state) {
  (void)state;
  RtErr e = {{0}};
  float w[4] = {1, 2, 3, 4};
  int64_t d[1] = {4};
  RtStEntry t = {"w", RT_F32, 1, d, w};
  char dir[1024], path[1200];
  snprintf(dir, sizeof dir, "%s/no/such/dir", tmpdir);
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
  assert_int_equal(rt_st_write(path, &t, 1, &e), -1);
  MSG_HAS(e, path);
  assert_false(exists(dir));
  snprintf(path, sizeof path, "%s/w.npy", dir);
  assert_int_equal(rt_npy_write(path, RT_F32, 1, d, w, &e), -1);
  MSG_HAS(e, path);
  assert_false(exists(dir));

  /* overwrite replaces the old contents; no temp files remain */
  const char *p = P("atomic.npy");
  assert_int_equal(rt_npy_write(p, RT_F32, 1, d, w, &e), 0);
  w[0] = 9;
  assert_int_equal(rt_npy_write(p, RT_F32, 1, d, w, &e), 0);
  RtArray a;
  assert_int_equal(rt_npy_read(p, &a, &e), 0);
  assert_true(((float *)a.data)[0] == 9);
  rt_array_free(&a);
  assert_int_equal(rt_st_write(P("atomic.safetensors"), &t, 1, &e), 0);
  assert_int_equal(rt_st_write(P("atomic.safetensors"), &t, 1, &e), 0);
  assert_int_equal(count_tmp_files(tmpdir), 0);

  /* a directory, a FIFO or a device is never replaced; no temp file
   * is left */
  assert_int_equal(mkdir(P("isdir.npy"), 0755), 0);
  assert_int_equal(rt_npy_write(P("isdir.npy"), RT_F32, 1, d, w, &e), -1);
  MSG_HAS(e, P("isdir.npy"), "a directory", "refusing");
  assert_int_equal(rt_st_write(P("isdir.npy"), &t, 1, &e), -1);
  MSG_HAS(e, P("isdir.npy"), "a directory");
  assert_int_equal(mkfifo(P("fifo.npy"), 0644), 0);
  assert_int_equal(rt_npy_write(P("fifo.npy"), RT_F32, 1, d, w, &e), -1);
  MSG_HAS(e, P("fifo.npy"), "a FIFO", "refusing");
  struct stat sb;
  assert_int_equal(lstat(P("fifo.npy"), &sb), 0);
  assert_true(S_ISFIFO(sb.st_mode));
  /* reading a FIFO fails at once instead of waiting for a writer */
  assert_int_equal(rt_npy_read(P("fifo.npy"), &a, &e), -1);
  MSG_HAS(e, P("fifo.npy"), "not a regular file");
  if (geteuid() == 0) { /* a character device node (the same as /dev/null) */
    assert_int_equal(mknod(P("null.npy"), S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(rt_npy_write(P("null.npy"), RT_F32, 1, d, w, &e), -1);
    MSG_HAS(e, P("null.npy"), "a character device", "refusing");
    assert_int_equal(lstat(P("null.npy"), &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    assert_int_equal(unlink(P("null.npy")), 0);
  }
  /* a symbolic link: the regular file it names is replaced, the link
   * stays; a dangling link or one to a directory is refused */
  assert_int_equal(symlink(P("atomic.npy"), P("link.npy")), 0);
  w[0] = 7;
  assert_int_equal(rt_npy_write(P("link.npy"), RT_F32, 1, d, w, &e), 0);
  assert_int_equal(lstat(P("link.npy"), &sb), 0);
  assert_true(S_ISLNK(sb.st_mode));
  assert_int_equal(rt_npy_read(P("atomic.npy"), &a, &e), 0);
  assert_true(((float *)a.data)[0] == 7);
  rt_array_free(&a);
  assert_int_equal(symlink(P("missing.npy"), P("dangling.npy")), 0);
  assert_int_equal(rt_npy_write(P("dangling.npy"), RT_F32, 1, d, w, &e), -1);
  MSG_HAS(e, P("dangling.npy"), "symbolic link");
  assert_int_equal(symlink(P("isdir.npy"), P("dirlink.npy")), 0);
  assert_int_equal(rt_npy_write(P("dirlink.npy"), RT_F32, 1, d, w, &e), -1);
  MSG_HAS(e, P("dirlink.npy"), "a directory");
  assert_int_equal(rt_out_check(P("nodir/x.npy"), &e), -1);
  MSG_HAS(e, P("nodir"), "does not exist");
  assert_int_equal(count_tmp_files(tmpdir), 0);
  unlink(P("link.npy"));
  unlink(P("dangling.npy"));
  unlink(P("dirlink.npy"));
  unlink(P("fifo.npy"));

  /* a read-only directory: mkstemp fails, the old file survives */
  if (geteuid() != 0) {
    char ro[1024];
    snprintf(ro, sizeof ro, "%s/ro", tmpdir);
    assert_int_equal(mkdir(ro, 0755), 0);
    snprintf(path, sizeof path, "%s/x.npy", ro);
    assert_int_equal(rt_npy_write(path, RT_F32, 1, d, w, &e), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    assert_int_equal(rt_npy_write(path, RT_F32, 1, d, w, &e), -1);
    assert_int_equal(chmod(ro, 0755), 0);
    assert_int_equal(count_tmp_files(ro), 0);
    assert_int_equal(rt_npy_read(path, &a, &e), 0);
    rt_array_free(&a);
  }
}

/* ---- IDX ---- */

static size_t idx_bytes(unsigned char *b, int type, int rank,
                        const uint32_t *dims, const void *be, size_t n) {
  b[0] = b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)rank;
  for (int i = 0; i < rank; i++)
    for (int k = 0; k < 4; k++)
      b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
  memcpy(b + 4 + 4 * rank, be, n);
  return 4 + 4 * (size_t)rank + n;
}

static void write_gz(const char *path, const void *p, size_t n) {
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  assert_int_equal(gzwrite(gz, p, (unsigned)n), (int)n);
  assert_int_equal(gzclose(gz), Z_OK);
}

/* Writes `name` both plain and as name.gz, and reads both back. */
static void idx_check(const char *name, int type, int rank,
                      const uint32_t *dims, const void *be, size_t n,
                      int dtype, const void *want, size_t wantn) {
  unsigned char b[256];
  size_t len = idx_bytes(b, type, rank, dims, be, n);
  char gzname[64];
  snprintf(gzname, sizeof gzname, "%s.gz", name);
  write_file(P(name), b, len);
  write_gz(P(gzname), b, len);
  for (int z = 0; z < 2; z++) {
    RtErr e = {{0}};
    RtArray a;
    if (rt_idx_read(P(z ? gzname : name), &a, &e))
      fail_msg("%s", e.msg);
    assert_int_equal(a.dtype, dtype);
    assert_int_equal(a.rank, rank);
    for (int i = 0; i < rank; i++)
      assert_int_equal(a.dims[i], dims[i]);
    assert_int_equal(a.numel * (int64_t)rt_dtype_size(dtype), wantn);
    assert_memory_equal(a.data, want, wantn);
    rt_array_free(&a);
  }
}

static void test_idx_roundtrip(void **state) {
  (void)state;
  uint32_t d23[2] = {2, 3}, d3[1] = {3}, d22[2] = {2, 2}, d1[1] = {1};
  unsigned char u[6] = {0, 1, 2, 127, 128, 255};
  idx_check("u8.idx", 0x08, 2, d23, u, 6, RT_U8, u, 6);

  int32_t iw[3] = {1, -2, 0x01020304};
  unsigned char ib[12] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4};
  idx_check("i32.idx", 0x0C, 1, d3, ib, 12, RT_I32, iw, sizeof iw);

  float fw[4] = {1.0f, -2.5f, 0.0f, 3e8f};
  unsigned char fb[16];
  for (int i = 0; i < 4; i++) {
    uint32_t x;
    memcpy(&x, &fw[i], 4);
    for (int k = 0; k < 4; k++)
      fb[4 * i + k] = (unsigned char)(x >> (24 - 8 * k));
  }
  idx_check("f32.idx", 0x0D, 2, d22, fb, 16, RT_F32, fw, sizeof fw);

  double dw = -0.1;
  unsigned char dbe[8];
  uint64_t y;
  memcpy(&y, &dw, 8);
  for (int k = 0; k < 8; k++)
    dbe[k] = (unsigned char)(y >> (56 - 8 * k));
  idx_check("f64.idx", 0x0E, 1, d1, dbe, 8, RT_F64, &dw, 8);

  unsigned char i8[3] = {0x80, 0x7f, 0xff};
  int32_t i8w[3] = {-128, 127, -1};
  idx_check("i8.idx", 0x09, 1, d3, i8, 3, RT_I32, i8w, sizeof i8w);
  unsigned char i16[6] = {0x80, 0x00, 0x12, 0x34, 0xff, 0xfe};
  int32_t i16w[3] = {-32768, 0x1234, -2};
  idx_check("i16.idx", 0x0B, 1, d3, i16, 6, RT_I32, i16w, sizeof i16w);
}

static void idx_rejects(const char *name, const char *phrase) {
  RtErr e = {{0}};
  RtArray a;
  assert_int_equal(rt_idx_read(P(name), &a, &e), -1);
  assert_null(a.data);
  MSG_HAS(e, P(name), phrase);
}

static void test_idx_rejects(void **state) {
  (void)state;
  unsigned char b[256], u[6] = {1, 2, 3, 4, 5, 6};
  uint32_t d23[2] = {2, 3};
  size_t len = idx_bytes(b, 0x08, 2, d23, u, 6);
  write_file(P("t.idx"), b, len - 1);
  idx_rejects("t.idx", "truncated");
  write_gz(P("t.idx.gz"), b, len - 1);
  idx_rejects("t.idx.gz", "truncated");
  write_file(P("th.idx"), b, 6);
  idx_rejects("th.idx", "truncated IDX header");
  write_file(P("tail.idx"), b, len);
  FILE *fp = fopen(P("tail.idx"), "ab");
  assert_non_null(fp);
  fputc(7, fp);
  fclose(fp);
  idx_rejects("tail.idx", "unexpected data");

  /* a gzip stream cut in the middle */
  unsigned char big[4096 + 12];
  uint32_t dbig[2] = {64, 64};
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (unsigned char)(rt_mix64(i) & 0xff);
  size_t blen = idx_bytes(big, 0x08, 2, dbig, big + 12, 4096);
  write_gz(P("cut.idx.gz"), big, blen);
  size_t n;
  unsigned char *gz = slurp(P("cut.idx.gz"), &n);
  write_file(P("cut.idx.gz"), gz, n / 2);
  free(gz);
  idx_rejects("cut.idx.gz", "truncated");

  b[1] = 8;
  write_file(P("magic.idx"), b, len);
  idx_rejects("magic.idx", "bad magic");
  idx_bytes(b, 0x0A, 2, d23, u, 6);
  write_file(P("type.idx"), b, len);
  idx_rejects("type.idx", "unsupported IDX type 0x0a");
  idx_bytes(b, 0x08, 0, d23, u, 6);
  write_file(P("rank.idx"), b, 10);
  idx_rejects("rank.idx", "rank 0");

  /* dims whose product overflows, and huge dims in a tiny file */
  uint32_t dh[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
  len = idx_bytes(b, 0x0E, 3, dh, u, 6);
  write_file(P("ovf.idx"), b, len);
  idx_rejects("ovf.idx", "overflows");
  uint32_t dl[2] = {0x7fffffffu, 16};
  len = idx_bytes(b, 0x08, 2, dl, u, 6);
  write_gz(P("lie.idx.gz"), b, len);
  idx_rejects("lie.idx.gz", "truncated");

  idx_rejects("missing.idx", "cannot open");
}

static void test_fashion_mnist(void **state) {
  (void)state;
  if (!exists(FMNIST_DIR)) {
    print_message("skipping: %s not found\n", FMNIST_DIR);
    skip();
  }
  RtErr e = {{0}};
  RtArray x, y;
  if (rt_idx_read(FMNIST_DIR "/t10k-images-idx3-ubyte.gz", &x, &e))
    fail_msg("%s", e.msg);
  if (rt_idx_read(FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", &y, &e))
    fail_msg("%s", e.msg);
  assert_int_equal(x.dtype, RT_U8);
  assert_int_equal(x.rank, 3);
  assert_int_equal(x.dims[0], 10000);
  assert_int_equal(x.dims[1], 28);
  assert_int_equal(x.dims[2], 28);
  assert_int_equal(y.dtype, RT_U8);
  assert_int_equal(y.rank, 1);
  assert_int_equal(y.dims[0], 10000);
  int count[10] = {0};
  const unsigned char *l = y.data;
  for (int i = 0; i < 10000; i++) {
    assert_true(l[i] < 10);
    count[l[i]]++;
  }
  for (int c = 0; c < 10; c++) /* the test set is balanced */
    assert_int_equal(count[c], 1000);
  const unsigned char *px = x.data;
  int maxv = 0;
  double mean = 0;
  for (int64_t i = 0; i < x.numel; i++) {
    maxv = px[i] > maxv ? px[i] : maxv;
    mean += px[i];
  }
  mean /= (double)x.numel;
  assert_int_equal(maxv, 255);
  assert_true(mean > 60 && mean < 80); /* Fashion-MNIST mean pixel ~73 */
  rt_array_free(&x);
  rt_array_free(&y);
}

/* ---- RNG and initializers ---- */

static void test_rng_determinism(void **state) {
  (void)state;
  assert_true(rt_uniform(1, 2, 3) == rt_uniform(1, 2, 3));
  assert_true(rt_normal(1, 2, 3) == rt_normal(1, 2, 3));
  assert_int_not_equal(rt_mix64(0), 0);
  assert_int_not_equal(rt_mix64(1), rt_mix64(2));

  /* streams, seeds and the order of the triple all matter */
  const int n = 20000;
  double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  int same = 0;
  for (int i = 0; i < n; i++) {
    double a = rt_uniform(7, 0, (uint64_t)i), b = rt_uniform(7, 1, (uint64_t)i);
    same += a == b;
    same += a == rt_uniform(8, 0, (uint64_t)i);
    same += rt_uniform(7, (uint64_t)i, 1) == rt_uniform(7, 1, (uint64_t)i) &&
            i != 1;
    sx += a, sy += b, sxy += a * b, sxx += a * a, syy += b * b;
  }
  assert_int_equal(same, 0);
  double cov = sxy / n - (sx / n) * (sy / n);
  double corr = cov / sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
  assert_true(fabs(corr) < 0.05);

  /* rt_init_f32 (parallel for big n) equals the serial definition */
  int64_t big = 200000;
  float *p = malloc(sizeof *p * (size_t)big);
  assert_non_null(p);
  rt_init_f32(p, big, RT_INIT_HE_NORMAL, 0, 0, 288, 576, 42, 3);
  for (int64_t i = 0; i < big; i++)
    if (p[i] != (float)rt_init_value(RT_INIT_HE_NORMAL, 0, 0, 288, 576, 42, 3,
                                     (uint64_t)i))
      fail_msg("element %lld differs", (long long)i);
  free(p);
}

static void test_rng_stats(void **state) {
  (void)state;
  const int n = 100000;
  double s = 0, ss = 0, ns = 0, nss = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; i++) {
    double u = rt_uniform(123, 5, (uint64_t)i);
    assert_true(u >= 0 && u < 1);
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
    s += u, ss += u * u;
    double z = rt_normal(123, 5, (uint64_t)i);
    assert_true(isfinite(z));
    ns += z, nss += z * z;
  }
  double mean = s / n, var = ss / n - mean * mean;
  assert_true(fabs(mean - 0.5) < 0.01);
  assert_true(fabs(var - 1.0 / 12) < 0.003);
  assert_true(lo < 1e-3 && hi > 1 - 1e-3);
  double nmean = ns / n, nstd = sqrt(nss / n - nmean * nmean);
  assert_true(fabs(nmean) < 0.02);
  assert_true(fabs(nstd - 1) < 0.02);
}

static void stats_f32(const float *p, int64_t n, double *mean, double *std,
                      double *amax) {
  double s = 0, ss = 0, m = 0;
  for (int64_t i = 0; i < n; i++) {
    s += p[i], ss += (double)p[i] * p[i];
    m = fabs(p[i]) > m ? fabs(p[i]) : m;
  }
  *mean = s / (double)n;
  *std = sqrt(ss / (double)n - *mean * *mean);
  *amax = m;
}

static void test_initializers(void **state) {
  (void)state;
  int64_t dw[4] = {64, 32, 3, 3}, fi, fo;
  rt_fans(4, dw, &fi, &fo);
  assert_int_equal(fi, 288);
  assert_int_equal(fo, 576);
  int64_t n = 64 * 32 * 3 * 3;
  float *p = malloc(sizeof *p * (size_t)n);
  assert_non_null(p);
  double mean, std, amax;

  rt_init_f32(p, n, RT_INIT_HE_NORMAL, 0, 0, fi, fo, 1, 0);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(fabs(std / sqrt(2.0 / 288) - 1) < 0.03);
  assert_true(fabs(mean) < 0.003);

  rt_init_f32(p, n, RT_INIT_XAVIER_NORMAL, 0, 0, fi, fo, 1, 1);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(fabs(std / sqrt(2.0 / (288 + 576)) - 1) < 0.03);

  double xb = sqrt(6.0 / (288 + 576));
  rt_init_f32(p, n, RT_INIT_XAVIER_UNIFORM, 0, 0, fi, fo, 1, 2);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(amax <= xb);
  assert_true(amax > 0.99 * xb);
  assert_true(fabs(std / (xb / sqrt(3)) - 1) < 0.03);

  double hb = sqrt(6.0 / 288);
  rt_init_f32(p, n, RT_INIT_HE_UNIFORM, 0, 0, fi, fo, 1, 3);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(amax <= hb && amax > 0.99 * hb);

  rt_init_f32(p, n, RT_INIT_UNIFORM, 2, 5, fi, fo, 1, 4);
  for (int64_t i = 0; i < n; i++)
    assert_true(p[i] >= 2 && p[i] <= 5);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(fabs(mean - 3.5) < 0.05);

  rt_init_f32(p, n, RT_INIT_NORMAL, 0.1, 0, fi, fo, 1, 5);
  stats_f32(p, n, &mean, &std, &amax);
  assert_true(fabs(std / 0.1 - 1) < 0.03);

  rt_init_f32(p, n, RT_INIT_CONSTANT, 0.25, 0, fi, fo, 1, 6);
  assert_true(p[0] == 0.25f && p[n - 1] == 0.25f);
  rt_init_f32(p, n, RT_INIT_ONES, 0, 0, fi, fo, 1, 7);
  assert_true(p[17] == 1.0f);
  rt_init_f32(p, n, RT_INIT_ZEROS, 0, 0, fi, fo, 1, 8);
  assert_true(p[17] == 0.0f);
  assert_true(isnan(rt_init_value(99, 0, 0, 1, 1, 0, 0, 0)));

  /* different streams give different parameters */
  float q[16], r[16];
  rt_init_f32(q, 16, RT_INIT_HE_NORMAL, 0, 0, fi, fo, 1, 10);
  rt_init_f32(r, 16, RT_INIT_HE_NORMAL, 0, 0, fi, fo, 1, 11);
  assert_memory_not_equal(q, r, sizeof q);
  free(p);
}

static void test_fans(void **state) {
  (void)state;
  int64_t fi = -1, fo = -1;
  rt_fans(0, NULL, &fi, &fo);
  assert_int_equal(fi, 1);
  assert_int_equal(fo, 1);
  int64_t d1[1] = {7};
  rt_fans(1, d1, &fi, &fo);
  assert_int_equal(fi, 7);
  assert_int_equal(fo, 7);
  int64_t d2[2] = {10, 20}; /* Linear(20 -> 10) weight */
  rt_fans(2, d2, &fi, &fo);
  assert_int_equal(fi, 20);
  assert_int_equal(fo, 10);
  int64_t d3[3] = {4, 3, 5}; /* Conv1d(3 -> 4, k=5) */
  rt_fans(3, d3, &fi, &fo);
  assert_int_equal(fi, 15);
  assert_int_equal(fo, 20);
  int64_t d4[4] = {6, 1, 5, 5}; /* Conv2d(1 -> 6, k=5) */
  rt_fans(4, d4, &fi, &fo);
  assert_int_equal(fi, 25);
  assert_int_equal(fo, 150);
}

/* error texts name tensors and files from strangers: control characters
 * become '?' (no terminal escape sequences), newlines and tabs stay */
static void test_error_text_sanitized(void **state) {
  (void)state;
  RtErr e;
  assert_int_equal(rt_fail(&e, "tensor '%s': %s", "a\x1b[31mb\rc\x7f", "x\ty\n"), -1);
  assert_string_equal(e.msg, "tensor 'a?[31mb?c?': x\ty\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_util),
      cmocka_unit_test(test_npy_roundtrip),
      cmocka_unit_test(test_npy_handmade),
      cmocka_unit_test(test_npy_rejects),
      cmocka_unit_test(test_st_roundtrip),
      cmocka_unit_test(test_bool_files),
      cmocka_unit_test(test_st_handmade),
      cmocka_unit_test(test_st_rejects),
      cmocka_unit_test(test_atomic_writes),
      cmocka_unit_test(test_error_text_sanitized),
      cmocka_unit_test(test_idx_roundtrip),
      cmocka_unit_test(test_idx_rejects),
      cmocka_unit_test(test_fashion_mnist),
      cmocka_unit_test(test_rng_determinism),
      cmocka_unit_test(test_rng_stats),
      cmocka_unit_test(test_initializers),
      cmocka_unit_test(test_fans),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
