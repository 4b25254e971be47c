/* Convolution and GEMM shapes through OpenBLAS (-DHAVE_OPENBLAS: im2col +
 * cblas_sgemm, as a BLAS-based framework runs them) and oneDNN (-DHAVE_DNNL:
 * convolution forward and matmul primitives). Benchmark only, never linked into generated programs; see
 * vs_blas.py, which builds and runs it on a model's kernels.
 *
 * usage: vs_blas [--threads T] [--repeat R] [--warmup W] [--lib both|openblas|dnnl]
 *                [--dnnl-act any|nchw] [--flush MB] [FILE]
 *
 * One shape per line of FILE (default stdin); '#' starts a comment:
 *   conv N C H W M KH KW SH SW PH PW [OPTION...]
 *   gemm M N K TRANSA TRANSB [OPTION...]
 * options: g=G (groups), d=DH,DW (dilations), pe=PB,PR (bottom/right pads when
 * they differ from PH,PW), b=B (a batch of B gemms, each with its own A and B), bias (per output channel), sum (adds a residual of
 * the output's shape), relu, id=TEXT (echoed back).
 * conv: x[N,C,H,W], w[M,C/G,KH,KW] -> y[N,M,OH,OW]; gemm: C[M,N] = op(A) op(B)
 * with A [M,K] ([K,M] if TRANSA) and B [K,N] ([N,K] if TRANSB), row-major
 * (with b=B: A [B,M,K], B [B,K,N], C [B,M,N]).
 * The epilogue y = relu(y + bias + residual) runs in every library: oneDNN
 * as bias + post-ops, OpenBLAS as one pass over the output after the sgemm.
 *
 * Each shape runs W warm-up times, then R timed times; the output has one row
 * per shape: the minimum and mean ms of each library, and the largest
 * difference of the results to a direct double-precision computation at
 * sampled outputs, relative to the largest |value| there (exit status 1 when
 * above 1e-4 or not finite, 2 on bad input). Threads are OpenMP's for both
 * libraries (oneDNN's runtime; OpenBLAS called single-threaded from them). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif
#ifdef HAVE_DNNL
#include <dnnl.h>
#endif

typedef struct Shape {
  int conv;                               /* 1: conv, 0: gemm */
  int64_t n, c, h, w, m, kh, kw, sh, sw;  /* conv */
  int64_t pt, pl, pb, pr, g, dh, dw, oh, ow;
  int64_t gm, gn, gk, gb;                 /* gemm; gb: batch */
  int ta, tb;
  int bias, sum, relu;
  char id[64];
} Shape;

typedef struct Timing {
  double min, mean; /* seconds; min < 0: not run */
  char impl[48];
} Timing;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "vs_blas: error: out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

/* --flush MB: caches evicted (a buffer of MB megabytes rewritten) before each
 * run, untimed, so that weights come from memory as in a whole network */
static float *flush_buf;
static size_t flush_n;

static void flush(void) {
  for (size_t i = 0; i < flush_n; i++) flush_buf[i] += 1.0f;
}

/* min and mean seconds of `repeat` calls run(ctx) after `warmup` untimed ones */
static void time_runs(void (*run)(void *), void *ctx, int warmup, int repeat, Timing *t) {
  double sum = 0;
  t->min = 1e30;
  for (int r = 0; r < warmup + repeat; r++) {
    flush();
    double t0 = now();
    run(ctx);
    double dt = now() - t0;
    if (r >= warmup) {
      sum += dt;
      if (dt < t->min) t->min = dt;
    }
  }
  t->mean = sum / repeat;
}

/* deterministic values in [-scale, scale): splitmix64 of (stream, index) */
static void fill(float *p, int64_t n, uint64_t stream, float scale) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t z = stream * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = scale * (float)((double)(z >> 11) / 9007199254740992.0 * 2 - 1);
  }
}

/* ---- shape lines ---- */

static int parse_pair(const char *s, int64_t *a, int64_t *b) {
  char *e;
  *a = strtoll(s, &e, 10);
  if (*e != ',') return 0;
  *b = strtoll(e + 1, &e, 10);
  return *e == 0;
}

static int parse_int(const char *s, int64_t *v) {
  char *e;
  *v = strtoll(s, &e, 10);
  return e != s && *e == 0;
}

/* 1 on success; on failure *err names what is wrong */
static int parse_shape(char *line, Shape *s, const char **err) {
  memset(s, 0, sizeof *s);
  s->g = s->dh = s->dw = s->gb = 1;
  char *tok[32];
  int nt = 0;
  for (char *t = strtok(line, " \t\r\n"); t && nt < 32; t = strtok(NULL, " \t\r\n")) tok[nt++] = t;
  *err = "expected 'conv N C H W M KH KW SH SW PH PW ...' or 'gemm M N K TRANSA TRANSB ...'";
  if (!nt) return 0;
  int npos;
  int64_t v[11];
  if (!strcmp(tok[0], "conv")) {
    s->conv = 1;
    npos = 11;
  } else if (!strcmp(tok[0], "gemm")) {
    npos = 5;
  } else {
    return 0;
  }
  if (nt < 1 + npos) return 0;
  for (int i = 0; i < npos; i++)
    if (!parse_int(tok[1 + i], &v[i])) return 0;
  int pe = 0;
  for (int i = 1 + npos; i < nt; i++) {
    const char *t = tok[i];
    int ok = 1;
    if (!strncmp(t, "g=", 2)) ok = parse_int(t + 2, &s->g);
    else if (!strncmp(t, "b=", 2)) ok = parse_int(t + 2, &s->gb);
    else if (!strncmp(t, "d=", 2)) ok = parse_pair(t + 2, &s->dh, &s->dw);
    else if (!strncmp(t, "pe=", 3)) ok = pe = parse_pair(t + 3, &s->pb, &s->pr);
    else if (!strncmp(t, "id=", 3)) snprintf(s->id, sizeof s->id, "%s", t + 3);
    else if (!strcmp(t, "bias")) s->bias = 1;
    else if (!strcmp(t, "sum")) s->sum = 1;
    else if (!strcmp(t, "relu")) s->relu = 1;
    else ok = 0;
    if (!ok) {
      *err = "unknown or malformed option (g=G d=DH,DW pe=PB,PR b=B bias sum relu id=TEXT)";
      return 0;
    }
  }
  if (s->conv) {
    s->n = v[0], s->c = v[1], s->h = v[2], s->w = v[3], s->m = v[4];
    s->kh = v[5], s->kw = v[6], s->sh = v[7], s->sw = v[8], s->pt = v[9], s->pl = v[10];
    if (!pe) s->pb = s->pt, s->pr = s->pl;
    *err = "conv sizes, strides and dilations must be positive, pads >= 0, C and M divisible by g";
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1 || s->m < 1 || s->kh < 1 || s->kw < 1 ||
        s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1 || s->g < 1 || s->pt < 0 || s->pl < 0 ||
        s->pb < 0 || s->pr < 0 || s->c % s->g || s->m % s->g)
      return 0;
    s->oh = (s->h + s->pt + s->pb - s->dh * (s->kh - 1) - 1) / s->sh + 1;
    s->ow = (s->w + s->pl + s->pr - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    *err = "conv output would be empty";
    if (s->oh < 1 || s->ow < 1) return 0;
  } else {
    s->gm = v[0], s->gn = v[1], s->gk = v[2];
    *err = "gemm sizes and batch must be positive and TRANSA, TRANSB 0 or 1";
    if (s->gb < 1 || s->gm < 1 || s->gn < 1 || s->gk < 1 || (v[3] != 0 && v[3] != 1) || (v[4] != 0 && v[4] != 1))
      return 0;
    s->ta = (int)v[3], s->tb = (int)v[4];
  }
  return 1;
}

static double shape_flops(const Shape *s) {
  if (s->conv)
    return 2.0 * (double)(s->n * s->m * s->oh * s->ow) * (double)(s->c / s->g * s->kh * s->kw);
  return 2.0 * (double)s->gb * (double)s->gm * (double)s->gn * (double)s->gk;
}

static void shape_text(const Shape *s, char *buf, size_t n) {
  if (s->conv) {
    int k = snprintf(buf, n, "%lldx%lldx%lldx%lld*%lldx%lldx%lld s%lld p%lld", (long long)s->n,
                     (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->m,
                     (long long)s->kh, (long long)s->kw, (long long)s->sh, (long long)s->pt);
    if (s->g > 1 && k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, " g%lld", (long long)s->g);
  } else {
    int k = s->gb > 1 ? snprintf(buf, n, "%lld*", (long long)s->gb) : 0;
    if (k > 0 && (size_t)k >= n) return;
    snprintf(buf + k, n - (size_t)k, "%lldx%lldx%lld%s%s", (long long)s->gm, (long long)s->gn,
             (long long)s->gk, s->ta ? " tA" : "", s->tb ? " tB" : "");
  }
}

/* ---- the operands, shared by every library ---- */

typedef struct Data {
  float *x, *w, *b, *res; /* conv: x, w; gemm: A, B; bias [M] or [N]; residual like y */
  int64_t nx, nw, nb, ny;
} Data;

static void data_init(Data *d, const Shape *s) {
  if (s->conv) {
    d->nx = s->n * s->c * s->h * s->w;
    d->nw = s->m * (s->c / s->g) * s->kh * s->kw;
    d->nb = s->m;
    d->ny = s->n * s->m * s->oh * s->ow;
  } else {
    d->nx = s->gb * s->gm * s->gk;
    d->nw = s->gb * s->gk * s->gn;
    d->nb = s->gn;
    d->ny = s->gb * s->gm * s->gn;
  }
  int64_t fan = s->conv ? s->c / s->g * s->kh * s->kw : s->gk;
  d->x = xmalloc(sizeof(float) * (size_t)d->nx);
  d->w = xmalloc(sizeof(float) * (size_t)d->nw);
  d->b = xmalloc(sizeof(float) * (size_t)d->nb);
  d->res = xmalloc(sizeof(float) * (size_t)d->ny);
  fill(d->x, d->nx, 1, 1.0f);
  fill(d->w, d->nw, 2, (float)(1.0 / sqrt((double)fan)));
  fill(d->b, d->nb, 3, 0.5f);
  fill(d->res, d->ny, 4, 1.0f);
}

static void data_free(Data *d) {
  free(d->x);
  free(d->w);
  free(d->b);
  free(d->res);
}

/* ---- OpenBLAS: im2col + sgemm, then the epilogue ----
 *
 * Single-threaded sgemm calls on OpenMP threads, each on its own part of
 * the output (samples and groups, else column blocks of a convolution;
 * rows or columns of a gemm), with its im2col and epilogue: PyTorch's CPU
 * convolution splits its batch this way. OpenBLAS's own pthreads would
 * share the cores with OpenMP's (im2col, epilogue), and under chrt -f the
 * two pools' spinning threads starved each other (a 3 ms convolution took
 * 20-600 ms). */

#ifdef HAVE_OPENBLAS
static int nthreads = 1;

/* col[r][j - j0] = x[c][oh*SH - PT + kh*DH][ow*SW - PL + kw*DW] or 0 for the
 * output columns j = oh*OW + ow in [j0, j1), rows r = (c*KH + kh)*KW + kw;
 * each output row's run of valid ow is copied, the padding zeroed */
static void im2col(const float *x, float *col, const Shape *s, int64_t cg, int64_t j0, int64_t j1) {
  int64_t w = j1 - j0;
  for (int64_t r = 0; r < cg * s->kh * s->kw; r++) {
    int64_t c = r / (s->kh * s->kw), kh = r / s->kw % s->kh, kw = r % s->kw;
    int64_t off = kw * s->dw - s->pl; /* iw = ow*SW + off */
    int64_t lo = off >= 0 ? 0 : (-off + s->sw - 1) / s->sw;           /* first ow with iw >= 0 */
    int64_t hi = s->w - 1 - off < 0 ? 0 : (s->w - 1 - off) / s->sw + 1; /* first ow with iw >= W */
    const float *xc = x + c * s->h * s->w;
    float *o = col + r * w - j0;
    for (int64_t j = j0; j < j1;) {
      int64_t oh = j / s->ow, ow0 = j % s->ow, ow1 = s->ow < ow0 + j1 - j ? s->ow : ow0 + j1 - j;
      int64_t ih = oh * s->sh - s->pt + kh * s->dh, a = lo > ow0 ? lo : ow0, b = hi < ow1 ? hi : ow1;
      float *oo = o + j - ow0;
      if (ih < 0 || ih >= s->h || a >= b) {
        memset(oo + ow0, 0, sizeof(float) * (size_t)(ow1 - ow0));
      } else {
        const float *xr = xc + ih * s->w + off;
        memset(oo + ow0, 0, sizeof(float) * (size_t)(a - ow0));
        if (s->sw == 1) memcpy(oo + a, xr + a, sizeof(float) * (size_t)(b - a));
        else
          for (int64_t ow = a; ow < b; ow++) oo[ow] = xr[ow * s->sw];
        memset(oo + b, 0, sizeof(float) * (size_t)(ow1 - b));
      }
      j += ow1 - ow0;
    }
  }
}

/* y[r][j] = relu(y[r][j] + bias[ch(r, j)] + res[r][j]) for rows [0, rows) of
 * `ld` elements, columns [j0, j1); the channel is the row (conv) or column (gemm) */
static void epilogue(const Shape *s, const Data *d, float *y, int64_t off, int64_t rows,
                     int64_t ld, int64_t j0, int64_t j1, int64_t ch0, int bias_per_row) {
  if (!s->bias && !s->sum && !s->relu) return;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = j0; j < j1; j++) {
      int64_t k = off + r * ld + j;
      float v = y[k] + (s->bias ? d->b[bias_per_row ? ch0 + r : j] : 0.0f) + (s->sum ? d->res[k] : 0.0f);
      y[k] = s->relu && v < 0 ? 0.0f : v;
    }
}

static int direct_1x1(const Shape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && !s->pt && !s->pl && !s->pb &&
         !s->pr;
}

/* columns per task: the whole output plane when samples x groups give every
 * thread work, else one block per thread */
static int64_t conv_block(const Shape *s) {
  int64_t ohw = s->oh * s->ow;
  if (s->n * s->g >= nthreads) return ohw;
  int64_t b = (ohw + nthreads - 1) / nthreads;
  return (b + 15) / 16 * 16;
}

static void blas_conv(const Shape *s, const Data *d, float *y, float *cols) {
  int64_t cg = s->c / s->g, mg = s->m / s->g, kdim = cg * s->kh * s->kw, ohw = s->oh * s->ow;
  int64_t cb = conv_block(s), nb = (ohw + cb - 1) / cb, ntask = s->n * s->g * nb;
  int direct = direct_1x1(s);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < ntask; t++) {
    int64_t n = t / (s->g * nb), g = t / nb % s->g, j0 = t % nb * cb;
    int64_t j1 = j0 + cb < ohw ? j0 + cb : ohw;
    const float *xg = d->x + (n * s->c + g * cg) * s->h * s->w;
    float *col = cols + (int64_t)omp_get_thread_num() * kdim * cb;
    if (!direct) im2col(xg, col, s, cg, j0, j1);
    int64_t yoff = (n * s->m + g * mg) * ohw;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)mg, (blasint)(j1 - j0),
                (blasint)kdim, 1.0f, d->w + g * mg * kdim, (blasint)kdim, direct ? xg + j0 : col,
                (blasint)(direct ? ohw : j1 - j0), 0.0f, y + yoff + j0, (blasint)ohw);
    epilogue(s, d, y, yoff, mg, ohw, j0, j1, g * mg, 1);
  }
}

/* tasks: every batch entry split into nthreads blocks of rows (M >= N) or columns */
static void blas_gemm(const Shape *s, const Data *d, float *y) {
  int64_t M = s->gm, N = s->gn, K = s->gk, by_rows = M >= N, len = by_rows ? M : N;
  int64_t bl = (len + nthreads - 1) / nthreads, nb = (len + bl - 1) / bl;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < s->gb * nb; t++) {
    int64_t b = t / nb, i0 = t % nb * bl, i1 = i0 + bl < len ? i0 + bl : len;
    const float *A = d->x + b * M * K, *B = d->w + b * K * N;
    float *C = y + b * M * N;
    int64_t m = by_rows ? i1 - i0 : M, n = by_rows ? N : i1 - i0;
    if (by_rows) {
      A += s->ta ? i0 : i0 * K;
      C += i0 * N;
    } else {
      B += s->tb ? i0 * K : i0;
      C += i0;
    }
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)K, 1.0f, A, (blasint)(s->ta ? M : K), B,
                (blasint)(s->tb ? K : N), 0.0f, C, (blasint)N);
    int64_t r0 = by_rows ? i0 : 0, c0 = by_rows ? 0 : i0;
    epilogue(s, d, y, b * M * N + r0 * N, m, N, c0, c0 + n, 0, 0);
  }
}

typedef struct BlasRun {
  const Shape *s;
  const Data *d;
  float *out, *cols;
} BlasRun;

static void blas_run(void *ctx) {
  BlasRun *b = ctx;
  if (b->s->conv) blas_conv(b->s, b->d, b->out, b->cols);
  else blas_gemm(b->s, b->d, b->out);
}

static Timing run_blas(const Shape *s, const Data *d, float *out, int warmup, int repeat) {
  Timing t;
  snprintf(t.impl, sizeof t.impl, "%s", s->conv ? "im2col+sgemm" : "sgemm");
  BlasRun b = {s, d, out, NULL};
  if (s->conv && !direct_1x1(s))
    b.cols = xmalloc(sizeof(float) * (size_t)(nthreads * s->c / s->g * s->kh * s->kw * conv_block(s)));
  time_runs(blas_run, &b, warmup, repeat, &t);
  free(b.cols);
  return t;
}
#endif

/* ---- oneDNN: convolution forward / matmul primitives ---- */

#ifdef HAVE_DNNL
static dnnl_engine_t eng;
static dnnl_stream_t strm;

static void dnnl_check(dnnl_status_t st, const char *what) {
  if (st != dnnl_success) {
    fprintf(stderr, "vs_blas: error: oneDNN %s failed (status %d)\n", what, (int)st);
    exit(2);
  }
}

/* copies memory `from` into memory `to`, converting the layout */
static void reorder_mem(dnnl_memory_t from, dnnl_memory_t to) {
  const dnnl_memory_desc_t *fmd, *tmd;
  dnnl_check(dnnl_memory_get_memory_desc(from, &fmd), "get_memory_desc");
  dnnl_check(dnnl_memory_get_memory_desc(to, &tmd), "get_memory_desc");
  dnnl_primitive_desc_t rpd;
  dnnl_primitive_t r;
  dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, fmd, eng, tmd, eng, NULL), "reorder");
  dnnl_check(dnnl_primitive_create(&r, rpd), "reorder create");
  dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  dnnl_check(dnnl_primitive_execute(r, strm, 2, a), "reorder execute");
  dnnl_check(dnnl_stream_wait(strm), "stream_wait");
  dnnl_primitive_destroy(r);
  dnnl_primitive_desc_destroy(rpd);
}

/* a memory of descriptor `want` holding `src` (a plain-layout user buffer):
 * reordered when the layouts differ or `copy` (not timed, as a framework
 * would cache reordered weights) */
static dnnl_memory_t dnnl_from_user(const dnnl_memory_desc_t *user_md, float *src,
                                    const dnnl_memory_desc_t *want, int copy) {
  dnnl_memory_t um, m;
  dnnl_check(dnnl_memory_create(&um, user_md, eng, src), "memory_create");
  if (!copy && dnnl_memory_desc_equal(user_md, want)) return um;
  dnnl_check(dnnl_memory_create(&m, want, eng, DNNL_MEMORY_ALLOCATE), "memory_create");
  reorder_mem(um, m);
  dnnl_memory_destroy(um);
  return m;
}

/* copies memory m (any layout) into the plain-layout buffer dst */
static void dnnl_to_user(dnnl_memory_t m, const dnnl_memory_desc_t *user_md, float *dst) {
  dnnl_memory_t um;
  dnnl_check(dnnl_memory_create(&um, user_md, eng, dst), "memory_create");
  reorder_mem(m, um);
  dnnl_memory_destroy(um);
}

typedef struct DnnlRun {
  dnnl_primitive_t p;
  int nargs;
  const dnnl_exec_arg_t *args;
} DnnlRun;

static void dnnl_run(void *ctx) {
  DnnlRun *r = ctx;
  dnnl_primitive_execute(r->p, strm, r->nargs, r->args);
  dnnl_stream_wait(strm);
}

static Timing run_dnnl(const Shape *s, const Data *d, float *out, int warmup, int repeat,
                       int act_any) {
  Timing t = {.min = -1};
  dnnl_memory_desc_t xu, wu, bu, yu, xa, wa, ya;
  dnnl_data_type_t f32 = dnnl_f32;
  dnnl_format_tag_t any = dnnl_format_tag_any;
  dnnl_op_desc_t op;
  dnnl_convolution_desc_t cd;
  dnnl_matmul_desc_t md;
  if (s->conv) {
    dnnl_dims_t xd = {s->n, s->c, s->h, s->w}, yd = {s->n, s->m, s->oh, s->ow}, bd = {s->m};
    dnnl_dims_t wd5 = {s->g, s->m / s->g, s->c / s->g, s->kh, s->kw};
    dnnl_dims_t wd4 = {s->m, s->c, s->kh, s->kw};
    int gr = s->g > 1;
    dnnl_memory_desc_init_by_tag(&xu, 4, xd, f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&yu, 4, yd, f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&wu, gr ? 5 : 4, gr ? wd5 : wd4, f32, gr ? dnnl_goihw : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&bu, 1, bd, f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&xa, 4, xd, f32, act_any ? any : dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&ya, 4, yd, f32, act_any ? any : dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&wa, gr ? 5 : 4, gr ? wd5 : wd4, f32, any);
    dnnl_dims_t st = {s->sh, s->sw}, dl = {s->dh - 1, s->dw - 1}, pl = {s->pt, s->pl},
                pr = {s->pb, s->pr};
    dnnl_check(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                          dnnl_convolution_direct, &xa, &wa,
                                                          s->bias ? &bu : NULL, &ya, st, dl, pl, pr),
               "convolution_forward_desc_init");
    op = &cd;
  } else {
    /* [batch,] rows, columns: a batch of one is 2-D */
    int nd = s->gb > 1 ? 3 : 2, o = nd - 2;
    dnnl_dims_t xd = {s->gb}, wd = {s->gb}, yd = {s->gb}, bd = {1, 1, 1};
    xd[o] = s->gm, xd[o + 1] = s->gk, wd[o] = s->gk, wd[o + 1] = s->gn;
    yd[o] = s->gm, yd[o + 1] = s->gn, bd[o + 1] = s->gn;
    dnnl_format_tag_t plain = nd == 3 ? dnnl_abc : dnnl_ab, tr = nd == 3 ? dnnl_acb : dnnl_ba;
    dnnl_memory_desc_init_by_tag(&xu, nd, xd, f32, s->ta ? tr : plain);
    dnnl_memory_desc_init_by_tag(&wu, nd, wd, f32, s->tb ? tr : plain);
    dnnl_memory_desc_init_by_tag(&yu, nd, yd, f32, plain);
    dnnl_memory_desc_init_by_tag(&bu, nd, bd, f32, plain);
    dnnl_memory_desc_init_by_tag(&wa, nd, wd, f32, any); /* packed weights */
    dnnl_check(dnnl_matmul_desc_init(&md, &xu, &wa, s->bias ? &bu : NULL, &yu), "matmul_desc_init");
    op = &md;
  }
  dnnl_post_ops_t po;
  dnnl_primitive_attr_t attr;
  dnnl_check(dnnl_post_ops_create(&po), "post_ops_create");
  if (s->sum) dnnl_check(dnnl_post_ops_append_sum(po, 1.0f), "post_ops_append_sum");
  if (s->relu)
    dnnl_check(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f),
               "post_ops_append_eltwise");
  dnnl_check(dnnl_primitive_attr_create(&attr), "primitive_attr_create");
  dnnl_check(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
  dnnl_primitive_desc_t pd;
  dnnl_check(dnnl_primitive_desc_create(&pd, op, attr, eng, NULL), "primitive_desc_create");
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  snprintf(t.impl, sizeof t.impl, "%s", impl ? impl : "?");
  const dnnl_memory_desc_t *pxs = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *pws = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *pys = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
  dnnl_memory_t mx = dnnl_from_user(&xu, d->x, pxs, 0), mw = dnnl_from_user(&wu, d->w, pws, 0);
  dnnl_memory_t my = dnnl_from_user(&yu, d->res, pys, 1); /* the residual, for a sum post-op */
  dnnl_memory_t mb = NULL;
  if (s->bias) dnnl_check(dnnl_memory_create(&mb, &bu, eng, d->b), "memory_create");
  dnnl_primitive_t p;
  dnnl_check(dnnl_primitive_create(&p, pd), "primitive_create");
  dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my},
                          {DNNL_ARG_BIAS, mb}};
  int na = s->bias ? 4 : 3;
  /* the checked result: one run on the residual (a sum post-op accumulates
   * into dst, so the timed runs afterwards see growing values) */
  dnnl_check(dnnl_primitive_execute(p, strm, na, a), "execute");
  dnnl_check(dnnl_stream_wait(strm), "stream_wait");
  dnnl_to_user(my, &yu, out);
  DnnlRun run = {p, na, a};
  time_runs(dnnl_run, &run, warmup, repeat, &t);
  dnnl_primitive_destroy(p);
  dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_attr_destroy(attr);
  dnnl_post_ops_destroy(po);
  dnnl_memory_destroy(mx);
  dnnl_memory_destroy(mw);
  dnnl_memory_destroy(my);
  if (mb) dnnl_memory_destroy(mb);
  return t;
}
#endif

/* ---- checking: a direct double-precision result at sampled outputs ---- */

/* y at flat output index k, from the definitions (x, w, bias, residual) */
static double direct(const Shape *s, const Data *d, int64_t k) {
  double v = 0;
  int64_t ch;
  if (s->conv) {
    int64_t ow = k % s->ow, oh = k / s->ow % s->oh, m = k / (s->ow * s->oh) % s->m;
    int64_t n = k / (s->ow * s->oh * s->m), cg = s->c / s->g, g = m / (s->m / s->g);
    for (int64_t c = 0; c < cg; c++)
      for (int64_t kh = 0; kh < s->kh; kh++)
        for (int64_t kw = 0; kw < s->kw; kw++) {
          int64_t ih = oh * s->sh - s->pt + kh * s->dh, iw = ow * s->sw - s->pl + kw * s->dw;
          if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
          v += (double)d->x[((n * s->c + g * cg + c) * s->h + ih) * s->w + iw] *
               d->w[((m * cg + c) * s->kh + kh) * s->kw + kw];
        }
    ch = m;
  } else {
    int64_t i = k / s->gn % s->gm, j = k % s->gn, b = k / (s->gm * s->gn);
    const float *a = d->x + b * s->gm * s->gk, *bb = d->w + b * s->gk * s->gn;
    for (int64_t p = 0; p < s->gk; p++)
      v += (double)a[s->ta ? p * s->gm + i : i * s->gk + p] * bb[s->tb ? j * s->gk + p : p * s->gn + j];
    ch = j;
  }
  if (s->bias) v += d->b[ch];
  if (s->sum) v += d->res[k];
  return s->relu && v < 0 ? 0 : v;
}

/* largest |y - direct| over up to 997 sampled outputs, relative to the
 * largest |direct| among them; infinity when y has a NaN or Inf */
static double check(const Shape *s, const Data *d, const float *y) {
  for (int64_t k = 0; k < d->ny; k++)
    if (!isfinite(y[k])) return INFINITY;
  int64_t step = d->ny / 997 + 1;
  double md = 0, mv = 0;
  for (int64_t k = 0; k < d->ny; k += step) {
    double r = direct(s, d, k);
    md = fmax(md, fabs(y[k] - r));
    mv = fmax(mv, fabs(r));
  }
  return md / (mv > 0 ? mv : 1);
}

/* ---- driver ---- */

static void put_ms(const Timing *t) {
  if (t->min < 0) printf(" %9s %9s", "-", "-");
  else printf(" %9.4f %9.4f", t->min * 1e3, t->mean * 1e3);
}

static void usage(FILE *o) {
  fputs("usage: vs_blas [--threads T] [--repeat R] [--warmup W] [--lib both|openblas|dnnl]\n"
        "               [--dnnl-act any|nchw] [--flush MB] [FILE]\n"
        "  shapes, one a line (FILE or stdin):\n"
        "    conv N C H W M KH KW SH SW PH PW [g=G] [d=DH,DW] [pe=PB,PR] [bias] [sum] [relu] [id=TEXT]\n"
        "    gemm M N K TRANSA TRANSB [b=B] [bias] [sum] [relu] [id=TEXT]\n",
        o);
}

int main(int argc, char **argv) {
  int threads = 1, repeat = 20, warmup = 3, act_any = 1, use_blas = 1, use_dnnl = 1;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--flush") && i + 1 < argc) {
      int64_t mb;
      if (!parse_int(argv[++i], &mb) || mb < 0 || mb > 65536) {
        fprintf(stderr, "vs_blas: error: --flush takes megabytes (0 to 65536), got '%s'\n", argv[i]);
        return 2;
      }
      flush_n = (size_t)mb << 18;
    }
    else if (!strcmp(argv[i], "--dnnl-act") && i + 1 < argc) {
      const char *v = argv[++i];
      if (strcmp(v, "any") && strcmp(v, "nchw")) {
        fprintf(stderr, "vs_blas: error: --dnnl-act takes any or nchw, got '%s'\n", v);
        return 2;
      }
      act_any = !strcmp(v, "any");
    } else if (!strcmp(argv[i], "--lib") && i + 1 < argc) {
      const char *v = argv[++i];
      use_blas = !strcmp(v, "both") || !strcmp(v, "openblas");
      use_dnnl = !strcmp(v, "both") || !strcmp(v, "dnnl");
      if (!use_blas && !use_dnnl) {
        fprintf(stderr, "vs_blas: error: --lib takes both, openblas or dnnl, got '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (argv[i][0] != '-' && !path) {
      path = argv[i];
    } else {
      fprintf(stderr, "vs_blas: error: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (threads < 1 || repeat < 1 || warmup < 0) {
    fprintf(stderr, "vs_blas: error: --threads and --repeat must be >= 1, --warmup >= 0\n");
    return 2;
  }
#ifndef HAVE_OPENBLAS
  use_blas = 0;
#endif
#ifndef HAVE_DNNL
  use_dnnl = 0;
  (void)act_any;
#endif
#if !defined(HAVE_OPENBLAS) && !defined(HAVE_DNNL)
  (void)time_runs;
  (void)check;
#endif

  if (flush_n) {
    flush_buf = xmalloc(sizeof(float) * flush_n);
    memset(flush_buf, 0, sizeof(float) * flush_n);
  }
  FILE *in = path ? fopen(path, "r") : stdin;
  if (!in) {
    fprintf(stderr, "vs_blas: error: cannot open '%s'\n", path);
    return 2;
  }
  /* read and check every line before timing anything */
  Shape *shapes = NULL;
  int ns = 0, cap = 0, bad = 0, lineno = 0;
  char line[1024];
  while (fgets(line, sizeof line, in)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    if (strspn(line, " \t\r\n") == strlen(line)) continue;
    if (ns == cap) {
      cap = cap ? 2 * cap : 16;
      shapes = realloc(shapes, sizeof *shapes * (size_t)cap);
      if (!shapes) xmalloc((size_t)-1);
    }
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", line);
    copy[strcspn(copy, "\r\n")] = 0;
    const char *err;
    if (!parse_shape(line, &shapes[ns], &err)) {
      fprintf(stderr, "%s:%d: error: %s\n  %s\n", path ? path : "<stdin>", lineno, err, copy);
      bad = 1;
      continue;
    }
    ns++;
  }
  if (path) fclose(in);
  if (bad) return 2;
  if (!ns) {
    fprintf(stderr, "vs_blas: error: no shapes in %s\n", path ? path : "<stdin>");
    return 2;
  }

  omp_set_num_threads(threads);
#ifdef HAVE_OPENBLAS
  if (use_blas) {
    openblas_set_num_threads(1); /* threads: OpenMP's, see blas_conv */
    nthreads = threads;
    const char *core = getenv("OPENBLAS_CORETYPE");
    printf("#%s(OPENBLAS_CORETYPE=%s)\n", OPENBLAS_VERSION, core ? core : "unset");
  }
#endif
#ifdef HAVE_DNNL
  if (use_dnnl) {
    dnnl_check(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine_create");
    dnnl_check(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags), "stream_create");
    const dnnl_version_t *ver = dnnl_version();
    printf("# oneDNN %d.%d.%d, activations %s\n", ver->major, ver->minor, ver->patch,
           act_any ? "in the primitive's preferred layout (format any)" : "nchw");
  }
#endif
  if (!use_blas && !use_dnnl) printf("# built without OpenBLAS and oneDNN: nothing to time\n");
  printf("# %d thread%s, %d warm-up + %d timed runs per shape%s; ms min and mean; err: largest\n"
         "# difference to a direct double-precision result at sampled outputs, relative\n",
         threads, threads > 1 ? "s" : "", warmup, repeat,
         flush_n ? ", caches flushed before each" : "");
  printf("%-8s %-4s %-26s %9s %9s %9s %9s %9s %9s  %s\n", "id", "op", "shape", "MFLOP", "blas_min",
         "blas_mean", "dnnl_min", "dnnl_mean", "err", "dnnl_impl");
  int fail = 0;
  for (int i = 0; i < ns; i++) {
    const Shape *s = &shapes[i];
    Data d;
    data_init(&d, s);
    float *y = xmalloc(sizeof(float) * (size_t)d.ny);
    Timing tb = {.min = -1}, td = {.min = -1};
    double err = 0;
#ifdef HAVE_OPENBLAS
    if (use_blas) {
      tb = run_blas(s, &d, y, warmup, repeat); /* y: the last run's result */
      err = fmax(err, check(s, &d, y));
    }
#endif
#ifdef HAVE_DNNL
    if (use_dnnl) {
      td = run_dnnl(s, &d, y, warmup, repeat, act_any); /* y: the first run's result */
      err = fmax(err, check(s, &d, y));
    }
#endif
    char shp[64], es[32] = "-";
    shape_text(s, shp, sizeof shp);
    if (use_blas || use_dnnl) snprintf(es, sizeof es, "%.1e%s", err, err > 1e-4 ? "!" : "");
    if (!(err <= 1e-4)) fail = 1;
    printf("%-8s %-4s %-26s %9.2f", s->id[0] ? s->id : "-", s->conv ? "conv" : "gemm", shp,
           shape_flops(s) / 1e6);
    put_ms(&tb);
    put_ms(&td);
    printf(" %9s  %s\n", es, td.min >= 0 ? td.impl : "-");
    fflush(stdout);
    free(y);
    data_free(&d);
  }
#ifdef HAVE_DNNL
  if (use_dnnl) {
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
  }
#endif
  free(shapes);
  free(flush_buf);
  if (fail) fprintf(stderr, "vs_blas: error: a result is not finite or off by more than 1e-4 (err column, '!')\n");
  return fail;
}
