/* Runtime readers given hostile files (issue 13): non-finite training and
 * evaluation data and weights are rejected at load with the file, sample and
 * feature (or tensor and element); header sizes are checked before the data
 * is read; a CSV's memory follows its real data and its width is capped; a
 * FIFO given as any input fails at once. Files live in a mkdtemp directory
 * under /tmp and are built here, small. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "rt.h"
#include "rt_tmpdir.h"
#include "rt_model.h"


static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static void write_gz(const char *path, const void *p, size_t n) {
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  assert_int_equal(gzwrite(gz, p, (unsigned)n), (int)n);
  assert_int_equal(gzclose(gz), Z_OK);
}

/* An IDX header (big-endian dims) followed by n data bytes; returns its size. */
static size_t idx_bytes(unsigned char *b, int type, int rank, const uint32_t *dims,
                        const void *data, size_t n) {
  b[0] = b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)rank;
  for (int i = 0; i < rank; i++)
    for (int k = 0; k < 4; k++) b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
  if (n) memcpy(b + 4 + 4 * rank, data, n);
  return 4 + 4 * (size_t)rank + n;
}

/* Checks that an error message contains every needle. */
#define MSG_HAS(e, ...) msg_has(__LINE__, &(e), (const char *[]){__VA_ARGS__, NULL})
static void msg_has(int line, const RtErr *e, const char **needles) {
  for (; *needles; needles++)
    if (!strstr(e->msg, *needles))
      fail_msg("line %d: error message \"%s\" lacks \"%s\"", line, e->msg, *needles);
}
#define MSG_LACKS(e, needle)                                                             \
  do {                                                                                   \
    if (strstr((e).msg, needle)) fail_msg("error message \"%s\" has \"%s\"", (e).msg, needle); \
  } while (0)

/* ---- issue 13 item 3: non-finite data and weights ---- */

/* One NaN pixel in .npy training data, an infinite regression target. */
static void test_npy_nonfinite_data(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtData d;
  enum { N = 20, F = 400 };
  float *x = calloc(N * F, sizeof *x);
  assert_non_null(x);
  for (int i = 0; i < N * F; i++) x[i] = (float)(i % 255) / 255.0f;
  int64_t labels[N] = {0}, xd[2] = {N, F}, yd[1] = {N}, rd[2] = {N, 1};
  assert_int_equal(rt_npy_write(P("y.npy"), RT_I64, 1, yd, labels, &e), 0);
  x[12 * F + 301] = NAN;
  assert_int_equal(rt_npy_write(P("x.npy"), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_data_load(&d, P("x.npy"), P("y.npy"), &e), -1);
  MSG_HAS(e, P("x.npy"), "sample 12, feature 301: NaN", "must be finite");
  assert_null(d.x.data);
  assert_int_equal(rt_data_load(&d, P("x.npy"), NULL, &e), -1); /* features only */
  MSG_HAS(e, P("x.npy"), "sample 12, feature 301: NaN");
  x[12 * F + 301] = 0.5f;
  x[19 * F + 399] = -INFINITY; /* the very last element */
  assert_int_equal(rt_npy_write(P("x.npy"), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_data_load(&d, P("x.npy"), P("y.npy"), &e), -1);
  MSG_HAS(e, P("x.npy"), "sample 19, feature 399: -infinity");
  x[19 * F + 399] = 0;
  assert_int_equal(rt_npy_write(P("x.npy"), RT_F32, 2, xd, x, &e), 0);
  /* float labels (regression targets) are data too */
  double y[N] = {0};
  y[3] = INFINITY;
  assert_int_equal(rt_npy_write(P("r.npy"), RT_F64, 2, rd, y, &e), 0);
  assert_int_equal(rt_data_load(&d, P("x.npy"), P("r.npy"), &e), -1);
  MSG_HAS(e, P("r.npy"), "sample 3, feature 0: infinity");
  assert_int_equal(rt_npy_write(P("r.npy"), RT_F64, 1, yd, y, &e), 0);
  assert_int_equal(rt_data_load(&d, P("x.npy"), P("r.npy"), &e), -1);
  MSG_HAS(e, P("r.npy"), "sample 3: infinity");
  y[3] = 1e300; /* large is fine */
  assert_int_equal(rt_npy_write(P("r.npy"), RT_F64, 1, yd, y, &e), 0);
  if (rt_data_load(&d, P("x.npy"), P("r.npy"), &e)) fail_msg("%s", e.msg);
  assert_int_equal(d.n, N);
  rt_data_free(&d);
  free(x);
}

static void test_csv_nonfinite_data(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtArray a;
  RtData d;
  static const struct {
    const char *text, *where, *what;
  } cases[] = {
      {"a,b,c\n1,2,3\n4,nan,6\n", "nf.csv:3:3: sample 1, column 2", "NaN"},
      {"1,2\n\n3, inf\n", "nf.csv:3:4: sample 1, column 2", "infinity"},
      {"1,2\n-Infinity,0\n", "nf.csv:2:1: sample 1, column 1", "infinity"},
      {"x,y\n\"NAN\",1\n", "nf.csv:2:2: sample 0, column 1", "NaN"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_text(P("nf.csv"), cases[i].text);
    assert_int_equal(rt_csv_read(P("nf.csv"), &a, &e), -1);
    assert_null(a.data);
    MSG_HAS(e, cases[i].where, cases[i].what, "must be finite");
    assert_int_equal(rt_data_load_csv(&d, P("nf.csv"), -1, &e), -1);
    MSG_HAS(e, cases[i].where);
    assert_int_equal(rt_data_load(&d, P("nf.csv"), NULL, &e), -1);
    MSG_HAS(e, cases[i].where);
  }
  write_text(P("big.csv"), "a,b\n1,1e999\n");
  assert_int_equal(rt_csv_read(P("big.csv"), &a, &e), -1);
  MSG_HAS(e, "big.csv:2:3: not a number");
}

static void test_idx_nonfinite_data(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtData d;
  unsigned char b[64], be[16];
  float v[4] = {1, 2, -INFINITY, 4};
  for (int i = 0; i < 4; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; k++) be[4 * i + k] = (unsigned char)(u >> (24 - 8 * k));
  }
  uint32_t dims[2] = {2, 2};
  size_t n = idx_bytes(b, 0x0D, 2, dims, be, 16);
  write_gz(P("f-images-idx3-ubyte.gz"), b, n);
  assert_int_equal(rt_data_load(&d, P("f-images-idx3-ubyte.gz"), NULL, &e), -1);
  MSG_HAS(e, "f-images-idx3-ubyte.gz: sample 1, feature 0: -infinity", "must be finite");
}

/* Inference inputs may hold NaN and infinities (an ONNX Cast or IsNaN test
 * feeds them on purpose; they reach only their own outputs), but a CSV's
 * values must be finite whatever the file is for. */
static void test_infer_input_nonfinite(void **state) {
  (void)state;
  RtErr e = {{0}};
  float x[6] = {1, 2, 3, 4, 5, NAN}, dst[6] = {0};
  int64_t dims[2] = {2, 3};
  RtTensorDesc t = {.name = "x", .dtype = RT_F32, .rank = 2, .dims = {2, 3}, .numel = 6};
  assert_int_equal(rt_npy_write(P("in.npy"), RT_F32, 2, dims, x, &e), 0);
  if (rt_load_tensor_file(P("in.npy"), &t, dst, &e)) fail_msg("%s", e.msg);
  assert_true(isnan(dst[5]) && dst[4] == 5);
  write_text(P("in.csv"), "1,2,3\n4,5,inf\n");
  assert_int_equal(rt_load_tensor_file(P("in.csv"), &t, dst, &e), -1);
  MSG_HAS(e, "in.csv:2:5", "infinity");
}

/* Weights from a stranger (--weights, --init-weights, checkpoints). */
static void test_st_nonfinite_weights(void **state) {
  (void)state;
  RtErr e = {{0}};
  float w[6] = {1, 2, 3, 4, NAN, 6}, got[6];
  double b[2] = {0.5, -INFINITY}, gb[2];
  int64_t wd[2] = {2, 3}, bd[1] = {2};
  RtStEntry t[2] = {{"w", RT_F32, 2, wd, w}, {"b", RT_F64, 1, bd, b}};
  assert_int_equal(rt_st_write(P("nf.safetensors"), t, 2, &e), 0);
  RtStFile *f;
  assert_int_equal(rt_st_open(P("nf.safetensors"), &f, &e), 0);
  for (int i = 0; i < 6; i++) got[i] = 42;
  assert_int_equal(rt_st_read(f, "w", RT_F32, 2, wd, got, &e), -1);
  MSG_HAS(e, P("nf.safetensors"), "tensor 'w' element 4: NaN", "must be finite");
  for (int i = 0; i < 6; i++) assert_true(got[i] == 42); /* untouched */
  assert_int_equal(rt_st_read(f, "b", RT_F64, 1, bd, gb, &e), -1);
  MSG_HAS(e, "tensor 'b' element 1: -infinity");
  rt_st_close(f);
  w[4] = 5;
  b[1] = 1e-310; /* subnormal: finite */
  assert_int_equal(rt_st_write(P("nf.safetensors"), t, 2, &e), 0);
  assert_int_equal(rt_st_open(P("nf.safetensors"), &f, &e), 0);
  assert_int_equal(rt_st_read(f, "w", RT_F32, 2, wd, got, &e), 0);
  assert_memory_equal(got, w, sizeof w);
  assert_int_equal(rt_st_read(f, "b", RT_F64, 1, bd, gb, &e), 0);
  rt_st_close(f);
}

/* ---- issue 13 item 13: sizes checked before allocating ---- */

/* The sample counts of x and y are compared from the headers, before
 * either file's data is read: a mismatch is what gets reported, even when
 * x's data would also be truncated (and reading it would have cost memory
 * and time). */
static void test_sample_counts_before_data(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtData d;
  unsigned char b[64], zeros[32] = {0};
  uint32_t xd[3] = {300000, 28, 28}, yd[1] = {10};
  size_t n = idx_bytes(b, 0x08, 3, xd, zeros, sizeof zeros);
  write_gz(P("big-images.gz"), b, n);
  n = idx_bytes(b, 0x08, 1, yd, zeros, 10);
  write_file(P("ten-labels"), b, n);
  assert_int_equal(rt_data_load(&d, P("big-images.gz"), P("ten-labels"), &e), -1);
  MSG_HAS(e, P("big-images.gz"), "has 300000 samples", P("ten-labels"), "has 10");
  MSG_LACKS(e, "truncated");
  /* .npy: the same */
  char hdr[128];
  int h = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 784), }");
  while ((10 + h + 1) % 64) hdr[h++] = ' ';
  hdr[h++] = '\n';
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)h, 0};
  FILE *f = fopen(P("big.npy"), "wb");
  assert_non_null(f);
  fwrite(pre, 1, 10, f);
  fwrite(hdr, 1, (size_t)h, f);
  fwrite(zeros, 1, sizeof zeros, f);
  fclose(f);
  int64_t ten[1] = {10};
  int64_t lab[10] = {0};
  assert_int_equal(rt_npy_write(P("ten.npy"), RT_I64, 1, ten, lab, &e), 0);
  assert_int_equal(rt_data_load(&d, P("big.npy"), P("ten.npy"), &e), -1);
  MSG_HAS(e, P("big.npy"), "has 100000 samples", "has 10");
  MSG_LACKS(e, "truncated");
  /* a plain IDX file shorter than its header says */
  n = idx_bytes(b, 0x08, 3, xd, zeros, sizeof zeros);
  write_file(P("short.idx"), b, n);
  RtArray a;
  assert_int_equal(rt_idx_read(P("short.idx"), &a, &e), -1);
  MSG_HAS(e, P("short.idx"), "truncated IDX file: 32 of 235200000 data bytes");
}

/* One very wide line: capped, named by line, without allocating rows for it. */
static void test_csv_wide_and_ragged(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtArray a;
  size_t cols = 1000001;
  char *s = malloc(2 * cols + 8);
  assert_non_null(s);
  size_t k = 0;
  s[k++] = '\n'; /* a blank first line */
  for (size_t i = 0; i < cols; i++) s[k++] = '0', s[k++] = ',';
  s[k - 1] = '\n';
  s[k] = 0;
  write_text(P("wide.csv"), s);
  assert_int_equal(rt_csv_read(P("wide.csv"), &a, &e), -1);
  MSG_HAS(e, "wide.csv:2: 1000001 fields", "at most 1000000 columns");
  /* 200,000 columns are fine and cost what they hold */
  s[2 * 200000] = '\n';
  s[2 * 200000 + 1] = 0;
  write_text(P("wide.csv"), s);
  if (rt_csv_read(P("wide.csv"), &a, &e)) fail_msg("%s", e.msg);
  assert_int_equal(a.dims[0], 1);
  assert_int_equal(a.dims[1], 200000);
  rt_array_free(&a);
  free(s);
  write_text(P("ragged.csv"), "a,b,c\n1,2,3\n\n4,5,6\n7,8\n");
  assert_int_equal(rt_csv_read(P("ragged.csv"), &a, &e), -1);
  MSG_HAS(e, "ragged.csv:5: 2 fields, expected 3 like the first line");
  write_file(P("nul.csv"), "1,2\n3,\0004\n", 10);
  assert_int_equal(rt_csv_read(P("nul.csv"), &a, &e), -1);
  MSG_HAS(e, "nul.csv:2: not a text file (NUL byte)");
  /* last line without a newline, CRLF */
  write_text(P("crlf.csv"), "1,2\r\n3,4");
  if (rt_csv_read(P("crlf.csv"), &a, &e)) fail_msg("%s", e.msg);
  assert_int_equal(a.dims[0], 2);
  assert_true(((double *)a.data)[3] == 4);
  rt_array_free(&a);
}

/* ---- issue 13 item 8: a FIFO given as an input fails at once ---- */

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "a reader blocked on a FIFO\n";
  if (write(2, m, sizeof m - 1)) {}
  _exit(1);
}

static void test_fifo_inputs(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtArray a;
  RtData d;
  RtStFile *f;
  float dst[4];
  RtTensorDesc t = {.name = "x", .dtype = RT_F32, .rank = 1, .dims = {4}, .numel = 4};
  const char *names[] = {"q.npy", "q.csv", "q.idx", "q.safetensors"};
  for (int i = 0; i < 4; i++) assert_int_equal(mkfifo(P(names[i]), 0644), 0);
  signal(SIGALRM, on_alarm);
  alarm(10); /* a hang fails the test instead of blocking the suite */
  assert_int_equal(rt_npy_read(P("q.npy"), &a, &e), -1);
  MSG_HAS(e, P("q.npy"), "a FIFO");
  assert_int_equal(rt_csv_read(P("q.csv"), &a, &e), -1);
  MSG_HAS(e, P("q.csv"), "a FIFO");
  assert_int_equal(rt_idx_read(P("q.idx"), &a, &e), -1);
  MSG_HAS(e, P("q.idx"), "a FIFO");
  assert_int_equal(rt_st_open(P("q.safetensors"), &f, &e), -1);
  MSG_HAS(e, P("q.safetensors"), "a FIFO");
  assert_int_equal(rt_data_load(&d, P("q.idx"), P("q.npy"), &e), -1);
  MSG_HAS(e, P("q.idx"), "a FIFO");
  assert_int_equal(rt_data_load_csv(&d, P("q.csv"), -1, &e), -1);
  MSG_HAS(e, P("q.csv"), "a FIFO");
  assert_int_equal(rt_load_tensor_file(P("q.npy"), &t, dst, &e), -1);
  MSG_HAS(e, P("q.npy"), "a FIFO");
  assert_int_equal(rt_load_tensor_file(P("q.idx"), &t, dst, &e), -1);
  MSG_HAS(e, P("q.idx"), "a FIFO");
  alarm(0);
  signal(SIGALRM, SIG_DFL);
}

/* ---- metrics: memory linear in the classes, labels never cast blindly ---- */

/* A 50,257-class classifier (a GPT-2 vocabulary) used to ask for a 20 GB
 * confusion matrix (and memset it on every reset). */
static void test_metrics_many_classes(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtMetrics mt;
  enum { C = 50257 };
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, C, &e), 0);
  assert_null(mt.confusion);
  rt_metrics_reset(&mt);
  /* 3 samples, labels 7 C-1 7, predictions 7 7 7 */
  float x[3] = {0};
  double y[3] = {7, C - 1, 7};
  int64_t xd[2] = {3, 1}, yd[1] = {3};
  assert_int_equal(rt_npy_write(P("mcx.npy"), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_npy_write(P("mcy.npy"), RT_F64, 1, yd, y, &e), 0);
  RtData d;
  assert_int_equal(rt_data_load(&d, P("mcx.npy"), P("mcy.npy"), &e), 0);
  float *pred = calloc(3 * (size_t)C, sizeof *pred);
  assert_non_null(pred);
  for (int i = 0; i < 3; i++) pred[(size_t)i * C + 7] = 1;
  RtTensorDesc pt = {.name = "p", .dtype = RT_F32, .rank = 2, .dims = {3, C}, .numel = 3 * C};
  int64_t idx[3] = {0, 1, 2};
  rt_metrics_add(&mt, &pt, pred, &d, idx, 3);
  assert_float_equal(rt_metrics_accuracy(&mt), 2.0 / 3, 1e-12);
  double p, r, f1;
  assert_int_equal(rt_metrics_prf(&mt, 7, &p, &r, &f1), 2);
  assert_float_equal(p, 2.0 / 3, 1e-12);
  assert_float_equal(r, 1, 1e-12);
  assert_int_equal(rt_metrics_prf(&mt, C - 1, &p, &r, &f1), 1);
  assert_float_equal(r, 0, 0);
  assert_float_equal(rt_metrics_macro_f1(&mt), (2 * (2.0 / 3) / (5.0 / 3) + 0) / 2, 1e-12);
  free(pred);
  rt_data_free(&d);
  rt_metrics_free(&mt);
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, (int64_t)1 << 40, &e), -1);
  MSG_HAS(e, "classes: unsupported");
}

/* Per-position class ids in a float label that are no class ids (huge,
 * fractional) count as wrong instead of being converted to integers (UB). */
static void test_metrics_float_positions(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtMetrics mt;
  assert_int_equal(rt_metrics_init(&mt, RT_TASK_CLASSIFY, 4, &e), 0);
  float x[2] = {0}, y[6] = {0, 1e30f, 2, 1.5f, -3, 3};
  int64_t xd[2] = {2, 1}, yd[2] = {2, 3};
  assert_int_equal(rt_npy_write(P("fpx.npy"), RT_F32, 2, xd, x, &e), 0);
  assert_int_equal(rt_npy_write(P("fpy.npy"), RT_F32, 2, yd, y, &e), 0);
  RtData d;
  assert_int_equal(rt_data_load(&d, P("fpx.npy"), P("fpy.npy"), &e), 0);
  float pred[24] = {0};
  const int pc[6] = {0, 1, 2, 3, 0, 3};
  for (int i = 0; i < 6; i++) pred[i * 4 + pc[i]] = 1;
  RtTensorDesc pt = {.name = "p", .dtype = RT_F32, .rank = 3, .dims = {2, 3, 4}, .numel = 24};
  int64_t idx[2] = {0, 1};
  rt_metrics_add(&mt, &pt, pred, &d, idx, 2);
  assert_int_equal(mt.n, 6);
  assert_float_equal(rt_metrics_accuracy(&mt), 3.0 / 6, 1e-12); /* 0, 2 and 3 */
  rt_data_free(&d);
  rt_metrics_free(&mt);
}

/* Float data for an integer model input (token ids from a CSV, which is
 * always f64): fractions and values out of range are errors, not silent
 * (and undefined) conversions. */
static void test_int_inputs_from_float_data(void **state) {
  (void)state;
  RtErr e = {{0}};
  RtData d;
  RtTensorDesc xt = {.name = "tokens", .dtype = RT_I64, .rank = 2, .dims = {2, 3}, .numel = 6};
  RtTensorDesc x8 = {.name = "pix", .dtype = RT_U8, .rank = 2, .dims = {2, 3}, .numel = 6};
  write_text(P("tok.csv"), "1,2,3\n4,5,6\n7,8,9\n");
  assert_int_equal(rt_data_load(&d, P("tok.csv"), NULL, &e), 0);
  assert_int_equal(rt_data_check(&d, "training", &xt, NULL, RT_TASK_REGRESS, 0, &e), 0);
  assert_int_equal(rt_data_check(&d, "training", &x8, NULL, RT_TASK_REGRESS, 0, &e), 0);
  rt_data_free(&d);
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"1,2,3\n4,5.5,6\n", "sample 1, element 1: 5.5 is not a valid i64 for the model's input 'tokens'"},
      {"1,2,3\n4,5,1e30\n", "sample 1, element 2: 1e+30 is not a valid i64"},
      {"-1e19,2,3\n", "sample 0, element 0: -1e+19 is not a valid i64"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    write_text(P("tok.csv"), bad[i].text);
    assert_int_equal(rt_data_load(&d, P("tok.csv"), NULL, &e), 0);
    assert_int_equal(rt_data_check(&d, "training", &xt, NULL, RT_TASK_REGRESS, 0, &e), -1);
    MSG_HAS(e, "tok.csv: training features, ", bad[i].want);
    rt_data_free(&d);
  }
  /* inference inputs: the same check */
  write_text(P("tok.csv"), "1,2,3\n4,5.5,6\n");
  int64_t got[6];
  assert_int_equal(rt_load_tensor_file(P("tok.csv"), &xt, got, &e), -1);
  MSG_HAS(e, "tok.csv: input, sample 1, element 1: 5.5 is not a valid i64");
  write_text(P("tok.csv"), "1,2,3\n4,5,6\n");
  if (rt_load_tensor_file(P("tok.csv"), &xt, got, &e)) fail_msg("%s", e.msg);
  assert_true(got[4] == 5);
  write_text(P("tok.csv"), "1,2,3\n4,256,6\n");
  assert_int_equal(rt_data_load(&d, P("tok.csv"), NULL, &e), 0);
  assert_int_equal(rt_data_check(&d, "training", &x8, NULL, RT_TASK_REGRESS, 0, &e), -1);
  MSG_HAS(e, "sample 1, element 1: 256 is not a valid u8 for the model's input 'pix'");
  rt_data_free(&d);
  /* the conversion itself saturates instead of being undefined */
  int64_t i64;
  int32_t i32;
  uint8_t u8;
  rt_elem_put(RT_I64, &i64, 0, 1e30);
  assert_true(i64 == INT64_MAX - 1023);
  rt_elem_put(RT_I64, &i64, 0, -1e30);
  assert_true(i64 == INT64_MIN);
  rt_elem_put(RT_I64, &i64, 0, NAN);
  assert_true(i64 == 0);
  rt_elem_put(RT_I32, &i32, 0, 3e9);
  assert_true(i32 == INT32_MAX);
  rt_elem_put(RT_U8, &u8, 0, -7);
  assert_true(u8 == 0);
  rt_elem_put(RT_U8, &u8, 0, 255.9);
  assert_true(u8 == 255);
}

/* ---- the helpers added for the above ---- */

static void test_check_finite_and_state(void **state) {
  (void)state;
  RtErr e = {{0}};
  double v[3] = {1, 2, NAN};
  RtArray a = {.dtype = RT_F64, .rank = 0, .numel = 1, .data = v + 2};
  assert_int_equal(rt_array_check_finite(&a, "s.npy", &e), -1);
  MSG_HAS(e, "s.npy: NaN; data must be finite");
  a = (RtArray){.dtype = RT_F64, .rank = 1, .dims = {3}, .numel = 3, .data = v};
  assert_int_equal(rt_array_check_finite(&a, "v.npy", &e), -1);
  MSG_HAS(e, "v.npy: sample 2: NaN");
  a.numel = 2, a.dims[0] = 2;
  assert_int_equal(rt_array_check_finite(&a, "v.npy", &e), 0);
  int64_t iv[2] = {INT64_MIN, INT64_MAX};
  a = (RtArray){.dtype = RT_I64, .rank = 1, .dims = {2}, .numel = 2, .data = iv};
  assert_int_equal(rt_array_check_finite(&a, "i.npy", &e), 0);
  /* a checkpoint's loop state may hold +inf (no best loss yet) */
  double best = INFINITY, got = 0;
  int64_t one[1] = {1};
  RtStEntry t = {"__best_val", RT_F64, 1, one, &best};
  assert_int_equal(rt_st_write(P("ck.safetensors"), &t, 1, &e), 0);
  RtStFile *f;
  assert_int_equal(rt_st_open(P("ck.safetensors"), &f, &e), 0);
  assert_int_equal(rt_st_read(f, "__best_val", RT_F64, 1, one, &got, &e), -1);
  assert_int_equal(rt_st_read_state(f, "__best_val", RT_F64, 1, one, &got, &e), 0);
  assert_true(isinf(got) && got > 0);
  int dt, rank;
  const int64_t *dims;
  assert_int_equal(rt_st_info(f, 0, &dt, &rank, &dims), 0);
  assert_int_equal(dt, RT_F64);
  assert_int_equal(rank, 1);
  assert_int_equal(dims[0], 1);
  assert_int_equal(rt_st_info(f, 1, &dt, &rank, &dims), -1);
  rt_st_close(f);
  /* header peeks */
  int64_t d3[3];
  assert_int_equal(rt_npy_peek(P("ck.safetensors"), &dt, &rank, d3, &e), -1);
  MSG_HAS(e, "bad magic");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_npy_nonfinite_data),
      cmocka_unit_test(test_csv_nonfinite_data),
      cmocka_unit_test(test_idx_nonfinite_data),
      cmocka_unit_test(test_infer_input_nonfinite),
      cmocka_unit_test(test_st_nonfinite_weights),
      cmocka_unit_test(test_sample_counts_before_data),
      cmocka_unit_test(test_csv_wide_and_ragged),
      cmocka_unit_test(test_fifo_inputs),
      cmocka_unit_test(test_metrics_many_classes),
      cmocka_unit_test(test_metrics_float_positions),
      cmocka_unit_test(test_int_inputs_from_float_data),
      cmocka_unit_test(test_check_finite_and_state),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
