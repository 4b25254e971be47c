/* smelt runtime: what generated programs link. Depends only on libc, libm,
 * OpenMP, cJSON and zlib; never on the compiler. No global mutable state:
 * errors are written into a caller-provided RtErr. */
#ifndef SMELT_RT_H
#define SMELT_RT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define RT_MAX_RANK 8

/* Same order as the compiler's IrDType. */
/* RT_BOOL: one byte, 0 or 1 (any nonzero byte read from a file becomes 1). */
typedef enum RtDType { RT_F32, RT_F64, RT_I64, RT_I32, RT_U8, RT_BOOL, RT_NDTYPE } RtDType;
size_t rt_dtype_size(int dtype);
const char *rt_dtype_name(int dtype); /* "f32", ... */

/* ---- errors ---- */
typedef struct RtErr {
  char msg[1024];
} RtErr;
/* Formats into e->msg (if e is non-NULL) and returns -1. */
int rt_fail(RtErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- helpers shared by the runtime's file readers and writers ---- */
/* numel of dims[0..rank); -1 if rank is out of range, a dim is negative or
 * numel * 8 would overflow int64. */
int64_t rt_numel(int rank, const int64_t *dims);
/* ---- files named by users (runtime/rt_file.c) ---- */
/* Opens a regular file for reading; anything else (FIFO, device,
 * directory, socket) is refused without blocking. */
FILE *rt_in_open(const char *path, RtErr *e);
int rt_in_open_fd(const char *path, RtErr *e); /* -1 on error */
/* Opens an existing regular file for appending (a metrics row); anything
 * else is refused without blocking. */
FILE *rt_append_open(const char *path, RtErr *e);
/* Atomic writes. rt_out_open refuses to replace anything but a regular
 * file (a symbolic link is followed to the regular file it names; a
 * dangling one is refused) and needs the directory to exist and be
 * writable; it opens an unnamed temporary file (O_TMPFILE) beside the
 * target. rt_out_commit flushes, fsyncs and renames it over the target
 * when ok is nonzero, and otherwise (or on any failure) discards it.
 * rt_out_check makes the same checks without writing: programs call it
 * on every output path before any work starts. */
typedef struct RtOut {
  FILE *f;
  const char *path;  /* as given, for messages */
  char target[4096]; /* the file replaced (symbolic links resolved) */
  char tmp[4160];    /* the temporary's name once it has one */
} RtOut;
int rt_out_check(const char *path, RtErr *e);
int rt_out_open(RtOut *o, const char *path, RtErr *e);
int rt_out_commit(RtOut *o, int ok, RtErr *e);
void rt_out_abort(RtOut *o);

/* ---- command-line numbers and run locks (runtime/rt_flags.c) ---- */
/* Strict parsers for every numeric flag: the whole of v must be one
 * decimal integer (one finite number) in [lo, hi]; errors name the flag,
 * the value and the range. 0 on success, -1 with e set otherwise. */
int rt_flag_int(const char *flag, const char *v, long long lo, long long hi, long long *out,
                RtErr *e);
int rt_flag_int32(const char *flag, const char *v, int lo, int hi, int *out, RtErr *e);
int rt_flag_double(const char *flag, const char *v, double lo, double hi, double *out, RtErr *e);
/* --threads: 1 .. max(64, 8 x online CPUs), at most 4096. */
int rt_max_threads(void);
int rt_flag_threads(const char *flag, const char *v, int *out, RtErr *e);
/* A table of flags: one row per flag (name, kind, range, destination,
 * which commands accept it, usage text), from which rt_flags_parse reads a
 * command line and rt_flags_usage prints the usage. Rows without a name
 * are usage text only (headings, paragraphs). `where` is a mask of
 * commands (the caller's bits); a row shows and parses only when
 * (where & cmd) and every bit of `needs` and none of `unless` is among the
 * caller's features. Usage texts may hold {key} placeholders, expanded by
 * the caller's fill function. */
typedef enum RtFlagKind {
  RT_FLAG_TEXT,    /* usage text only */
  RT_FLAG_STR,     /* const char * */
  RT_FLAG_INT,     /* int in [ilo, ihi] */
  RT_FLAG_I64,     /* int64_t in [ilo, ihi] */
  RT_FLAG_DOUBLE,  /* double in [lo, hi] */
  RT_FLAG_THREADS, /* int, rt_flag_threads */
  RT_FLAG_CHOICE,  /* int: the index of the value in choices */
  RT_FLAG_CUSTOM,  /* parse(v, dst) returns 0 or -1 */
} RtFlagKind;
typedef struct RtFlag {
  const char *name; /* "--lr" */
  const char *syn;  /* usage synopsis ("--lr F"); NULL: shown by another row */
  const char *help; /* usage lines, '\n' separated; a TEXT row prints as is */
  RtFlagKind kind;
  size_t off;       /* destination: offset into the caller's struct */
  int set_off;      /* 1 + offset of an int set to 1 when given; 0: none */
  long long ilo, ihi;
  double lo, hi;
  const char *const *choices;
  int nchoices;
  int (*parse)(const char *v, void *dst);
  unsigned where, needs, unless;
} RtFlag;
/* {key} in usage texts: fill writes the expansion into buf (n bytes). */
typedef void (*RtFlagFill)(const void *ctx, const char *key, char *buf, size_t n);
/* argv[1..argc) into dst: `--name value` or `--name=value`. 0: go on;
 * 1: --help or -h (nothing printed); 2: usage error, printed to stderr as
 * "PROG CMD: error: ... (see --help)". */
int rt_flags_parse(const RtFlag *t, int n, unsigned cmd, unsigned feats, const char *prog,
                   const char *cmdname, int argc, char **argv, void *dst);
/* The usage of command cmd: rows in table order. */
void rt_flags_usage(const RtFlag *t, int n, unsigned cmd, unsigned feats, RtFlagFill fill,
                    const void *ctx, FILE *f);
/* An advisory lock (flock) on PATH.lock beside the file `path` names
 * (links and directory resolved), held until released or the process
 * ends: a second process locking the same path is refused with an error
 * naming it. Release removes the lock file. Zero-initialize before use. */
typedef struct RtLock {
  int fd, held;
  char path[4200];
} RtLock;
int rt_lock_acquire(RtLock *l, const char *path, RtErr *e);
void rt_lock_release(RtLock *l);
/* A program's output flags: every path checked with rt_out_check, then
 * those with `lock` set locked (locks[i] for f[i]), before any work
 * starts. Errors name the flag; on error nothing stays locked. */
typedef struct RtOutFlag {
  const char *flag, *path; /* path NULL: not given */
  int lock;
} RtOutFlag;
int rt_outputs_prepare(const RtOutFlag *f, int n, RtLock *locks, RtErr *e);
void rt_outputs_release(RtLock *locks, int n);

/* The index of the first NaN or infinity among the n elements of dtype at
 * p (any alignment: safetensors offsets need not be aligned), with its
 * value in *v; -1 when there is none or dtype is not a float type. */
int64_t rt_first_nonfinite(int dtype, const void *p, int64_t n, double *v);

/* ---- memory and time ---- */
void *rt_alloc(size_t n); /* 64-byte aligned, zeroed; NULL on failure */
void rt_free(void *p);
double rt_now(void); /* monotonic seconds */

/* ---- dense arrays (what .npy/IDX files hold) ---- */
typedef struct RtArray {
  int dtype; /* RtDType */
  int rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel;
  void *data; /* rt_alloc'd, C order */
} RtArray;
void rt_array_free(RtArray *a);
/* Returns a string like "f32[2,3]" in buf. */
const char *rt_shape_str(int dtype, int rank, const int64_t *dims, char *buf,
                         size_t n);

/* .npy v1/v2/v3, little-endian f32/f64/i64/i32/u8, C order only. Errors
 * (bad magic, unsupported dtype, fortran order, truncated data, shape
 * overflow) name the file. */
int rt_npy_read(const char *path, RtArray *out, RtErr *e);
/* The dtype and shape a .npy file's header declares; the data is not read. */
int rt_npy_peek(const char *path, int *dtype, int *rank, int64_t *dims,
                RtErr *e);
/* Written to path.tmp.XXXXXX then renamed: no half-written files. */
int rt_npy_write(const char *path, int dtype, int rank, const int64_t *dims,
                 const void *data, RtErr *e);

/* ---- safetensors ---- */
typedef struct RtStFile RtStFile;
/* Reads and validates the whole file: header length, JSON (via cJSON),
 * known dtypes (F32 F64 I64 I32 U8), shape products matching byte ranges,
 * offsets within the data section and not overlapping. */
int rt_st_open(const char *path, RtStFile **out, RtErr *e);
void rt_st_close(RtStFile *f);
int rt_st_count(const RtStFile *f);
const char *rt_st_name(const RtStFile *f, int i);
/* dtype, rank and dims of tensor i (header order); -1 if out of range. */
int rt_st_info(const RtStFile *f, int i, int *dtype, int *rank,
               const int64_t **dims);
/* Finds tensor `name`, checks its dtype and shape against the expected ones
 * (errors name the tensor and show both shapes) and that float values are
 * finite (an error names the tensor and the element), copies its bytes to
 * dst (left untouched on error). */
int rt_st_read(const RtStFile *f, const char *name, int dtype, int rank,
               const int64_t *dims, void *dst, RtErr *e);
/* Like rt_st_read, but NaN and infinities are accepted: for a training
 * loop's own state (a best loss that is still +inf), not for parameters. */
int rt_st_read_state(const RtStFile *f, const char *name, int dtype, int rank,
                     const int64_t *dims, void *dst, RtErr *e);
typedef struct RtStEntry {
  const char *name;
  int dtype;
  int rank;
  const int64_t *dims;
  const void *data;
} RtStEntry;
/* Atomic write (temp file + rename). */
int rt_st_write(const char *path, const RtStEntry *t, int n, RtErr *e);

/* ---- IDX (MNIST format), optionally gzip-compressed (.gz) ---- */
int rt_idx_read(const char *path, RtArray *out, RtErr *e);
/* The dtype and shape an IDX file's header declares; the data is not read. */
int rt_idx_peek(const char *path, int *dtype, int *rank, int64_t *dims,
                RtErr *e);

/* ---- deterministic counter-based RNG and parameter initializers ---- */
uint64_t rt_mix64(uint64_t x);
/* rt_uniform(seed, stream, i) = (rt_mix64(P ^ rt_mix64(i + RT_HASH_I)) >> 11) * 2^-53
 * with P = rt_hash_prefix(seed, stream): generated kernels hoist P and
 * inline the two mixes. */
#define RT_HASH_I 0xa4093822299f31d0ull
uint64_t rt_hash_prefix(uint64_t seed, uint64_t stream);
/* Uniform in [0,1) and standard normal, pure functions of (seed, stream, i). */
double rt_uniform(uint64_t seed, uint64_t stream, uint64_t i);
double rt_normal(uint64_t seed, uint64_t stream, uint64_t i);

/* Same order as the compiler's IrInitKind. */
typedef enum RtInitKind {
  RT_INIT_ZEROS,
  RT_INIT_ONES,
  RT_INIT_CONSTANT,       /* a */
  RT_INIT_NORMAL,         /* N(0, a^2) */
  RT_INIT_UNIFORM,        /* U[a, b) */
  RT_INIT_XAVIER_UNIFORM, /* U(-s, s), s = sqrt(6 / (fan_in + fan_out)) */
  RT_INIT_XAVIER_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
  RT_INIT_HE_UNIFORM,     /* U(-s, s), s = sqrt(6 / fan_in) */
  RT_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
} RtInitKind;
/* fan_in/fan_out of a weight shaped [out, in, k...] (PyTorch convention):
 * fan_in = in * prod(k), fan_out = out * prod(k); rank 1: both = dims[0];
 * rank 0: both 1. */
void rt_fans(int rank, const int64_t *dims, int64_t *fan_in, int64_t *fan_out);
/* Element i of a parameter initialized with `kind`; stream identifies the
 * parameter (its index in the model). */
double rt_init_value(int kind, double a, double b, int64_t fan_in,
                     int64_t fan_out, uint64_t seed, uint64_t stream,
                     uint64_t i);
void rt_init_f32(float *dst, int64_t n, int kind, double a, double b,
                 int64_t fan_in, int64_t fan_out, uint64_t seed,
                 uint64_t stream);

#endif
