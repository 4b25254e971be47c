/* libFuzzer target for the runtime's file readers (.npy, safetensors, IDX
 * plain and gzip, CSV plain and gzip, and the data loaders on top of them).
 * The first input byte picks the reader, the rest is the file: written to a
 * per-process temporary directory and read back by path, as programs do.
 * A reader must return data or an error that says why, never crash, leak,
 * read out of bounds or allocate far more than the file holds. Build and
 * run with tests/fuzz/run_fuzz_readers.sh; tests/unit/test_runtime_readers.c
 * replays the corpus through fuzz_readers_one() in `make test`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rt.h"
#include "rt_model.h"

enum {
  FZ_NPY,
  FZ_ST,
  FZ_IDX,
  FZ_IDX_GZ,     /* the rest gzip-compressed by the harness */
  FZ_IDX_RAWGZ,  /* the rest is the .gz file itself */
  FZ_CSV,
  FZ_CSV_GZ,     /* the rest gzip-compressed by the harness */
  FZ_DATA_CSV,   /* rt_data_load_csv, last column the target */
  FZ_DATA_NPY,   /* rt_data_load of x.npy with y.idx: the rest split at its middle */
  FZ_NREADERS
};

static int put_file(const char *path, const uint8_t *p, size_t n, int gz) {
  if (gz) {
    gzFile z = gzopen(path, "wb");
    if (!z) return -1;
    int ok = n == 0 || gzwrite(z, p, (unsigned)n) == (int)n;
    return gzclose(z) == Z_OK && ok ? 0 : -1;
  }
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = n == 0 || fwrite(p, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* A successful read must describe what it returns. */
static int array_ok(const RtArray *a) {
  return a->numel == rt_numel(a->rank, a->dims) && a->data &&
         rt_dtype_size(a->dtype) > 0;
}

/* Runs the reader that data[0] selects on a file holding data[1..) in dir.
 * Returns 0 on success, -1 on an error with a message in e, and 1 on a
 * broken contract (a failure without a message, a success without data):
 * the fuzzer traps on 1, the replay test fails. */
int fuzz_readers_one(const uint8_t *data, size_t size, const char *dir, RtErr *e);
int fuzz_readers_one(const uint8_t *data, size_t size, const char *dir, RtErr *e) {
  if (size < 1) return 0;
  int which = data[0] % FZ_NREADERS;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  static const char *const names[FZ_NREADERS] = {"f.npy", "f.safetensors", "f.idx",
                                                 "f.idx.gz", "f.idx.gz", "f.csv",
                                                 "f.csv.gz", "f.csv", "x.npy"};
  char path[4096], ypath[4096];
  snprintf(path, sizeof path, "%s/%s", dir, names[which]);
  snprintf(ypath, sizeof ypath, "%s/y.idx", dir);
  int gz = which == FZ_IDX_GZ || which == FZ_CSV_GZ;
  size_t xn = which == FZ_DATA_NPY ? n / 2 : n;
  if (put_file(path, p, xn, gz)) return 0; /* not the reader's fault */
  if (which == FZ_DATA_NPY && put_file(ypath, p + xn, n - xn, 0)) return 0;
  e->msg[0] = 0;
  int rc = 0;
  RtArray a = {0};
  switch (which) {
  case FZ_NPY:
    rc = rt_npy_read(path, &a, e);
    if (!rc && !array_ok(&a)) rc = 2;
    if (!rc && a.numel && rt_array_check_finite(&a, path, e)) rc = -1;
    rt_array_free(&a);
    break;
  case FZ_ST: {
    RtStFile *f = NULL;
    rc = rt_st_open(path, &f, e);
    if (!rc && !f) rc = 2;
    for (int i = 0; !rc && i < rt_st_count(f); i++) {
      int dt, rank;
      const int64_t *dims;
      if (rt_st_info(f, i, &dt, &rank, &dims)) {
        rc = 2;
        break;
      }
      int64_t numel = rt_numel(rank, dims);
      void *dst = numel >= 0 ? malloc((size_t)numel * rt_dtype_size(dt) + 1) : NULL;
      if (!dst) {
        rc = 2;
        break;
      }
      int r = rt_st_read(f, rt_st_name(f, i), dt, rank, dims, dst, e);
      if (r && !e->msg[0]) rc = 2;
      if (!r && rt_st_read_state(f, rt_st_name(f, i), dt, rank, dims, dst, e)) rc = 2;
      free(dst);
      e->msg[0] = 0;
    }
    rt_st_close(f);
    break;
  }
  case FZ_IDX:
  case FZ_IDX_GZ:
  case FZ_IDX_RAWGZ:
    rc = rt_idx_read(path, &a, e);
    if (!rc && !array_ok(&a)) rc = 2;
    rt_array_free(&a);
    break;
  case FZ_CSV:
  case FZ_CSV_GZ:
    rc = rt_csv_read(path, &a, e);
    if (!rc && (!array_ok(&a) || a.rank != 2)) rc = 2;
    rt_array_free(&a);
    break;
  case FZ_DATA_CSV:
  case FZ_DATA_NPY: {
    RtData d;
    rc = which == FZ_DATA_CSV ? rt_data_load_csv(&d, path, -1, e)
                              : rt_data_load(&d, path, ypath, e);
    if (!rc && (d.n < 1 || !array_ok(&d.x) || !array_ok(&d.y))) rc = 2;
    rt_data_free(&d);
    break;
  }
  }
  if (rc == 2 || (rc && !e->msg[0])) return 1;
  return rc ? -1 : 0;
}

#ifndef FUZZ_READERS_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void remove_dir(void) {
  const char *names[] = {"f.npy", "f.safetensors", "f.idx", "f.idx.gz", "f.csv", "f.csv.gz",
                         "x.npy", "y.idx"};
  char p[128];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", fuzz_dir, names[i]);
    unlink(p);
  }
  rmdir(fuzz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fuzz_dir[0]) {
    /* tmpfs when there is one: the files are rewritten for every input */
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz_readers_XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(fuzz_dir)) abort();
    atexit(remove_dir);
  }
  RtErr e;
  if (fuzz_readers_one(data, size, fuzz_dir, &e) > 0) __builtin_trap();
  return 0;
}
#endif
