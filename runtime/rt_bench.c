/* Measuring compiled steps: the FMA peak probe, per-kernel profiles and
 * `PROG bench` (also used by `smelt bench`, which loads the program as a
 * shared object).
 *
 * The probe runs 12 independent vector FMA chains (hiding the FMA latency
 * on two ports) at the widest width the CPU has, 16 lanes with AVX-512F,
 * else 8 with AVX2+FMA, on 1 and on N threads. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "rt_model.h"


#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PROBE_X86 1
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* 12 independent chains hide the FMA latency (4 cycles) on two ports */
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* probeN: `iters` rounds of the chains on vector type VT (N lanes) with
 * STEP(i) (one FMA per chain); returns two lanes of the sum so the work
 * is kept. */
#define PROBE(N, TARGET, VT)                                                 \
  __attribute__((target(TARGET), noinline)) static float probe##N(int64_t iters) { \
    VT b, c;                                                                 \
    for (int i = 0; i < N; i++) b[i] = 0.999f, c[i] = 1e-3f;                 \
    CHAINS(DECL)                                                             \
    for (int64_t n = 0; n < iters; n++) {                                    \
      CHAINS(STEP)                                                           \
      __asm__ volatile("" ::: "memory");                                     \
    }                                                                        \
    VT s = {0};                                                              \
    CHAINS(SUM)                                                              \
    return s[0] + s[N - 1];                                                  \
  }
#define SUM(i) s += a##i;
#define DECL(i) v8f a##i = c * (float)(i + 1);
#define STEP(i) a##i = __builtin_ia32_vfmaddps256(a##i, b, c);
PROBE(8, "avx2,fma", v8f)
#undef DECL
#undef STEP
#define DECL(i) v16f a##i = c * (float)(i + 1);
#define STEP(i) a##i = __builtin_ia32_vfmaddps512_mask(a##i, b, c, (unsigned short)-1, 4);
PROBE(16, "avx512f", v16f)
#undef DECL
#undef STEP
#undef SUM
#undef PROBE
#undef CHAINS
#endif

static volatile float probe_sink;

/* GFLOP/s of `threads` threads each running the widest FMA loop. */
static double probe_run(int lanes, int threads) {
#ifdef PROBE_X86
  const int64_t iters = 20 * 1000 * 1000;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = rt_now();
#pragma omp parallel num_threads(threads)
    {
      float r = lanes == 16 ? probe16(iters) : probe8(iters);
      probe_sink = r;
    }
    double dt = rt_now() - t0;
    double gf = (double)iters * 12 * lanes * 2 * threads / dt / 1e9;
    if (gf > best) best = gf;
  }
  return best;
#else
  (void)lanes;
  (void)threads;
  return 0;
#endif
}

RtPeak rt_fma_peak(int threads) {
  RtPeak p = {0};
#ifdef PROBE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) p.lanes = 16;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) p.lanes = 8;
#endif
  if (!p.lanes) return p;
  p.gf1 = probe_run(p.lanes, 1);
  p.gfn = threads > 1 ? probe_run(p.lanes, threads) : p.gf1;
  return p;
}


/* ---- per-kernel profiles ---- */

typedef struct KRow {
  int k;
  double t;
} KRow;

static int krow_cmp(const void *a, const void *b) {
  double x = ((const KRow *)a)->t, y = ((const KRow *)b)->t;
  return x < y ? 1 : x > y ? -1 : 0;
}

void rt_profile_print(FILE *o, const RtFuncDesc *f, const double *t, int steps, double peak,
                      int top) {
  if (!f->nkernels || steps < 1) return;
  KRow *r = malloc(sizeof *r * (size_t)f->nkernels);
  if (!r) return;
  double total = 0;
  for (int k = 0; k < f->nkernels; k++) {
    r[k].k = k;
    r[k].t = t[k] / steps;
    total += r[k].t;
  }
  qsort(r, (size_t)f->nkernels, sizeof *r, krow_cmp);
  fprintf(o, "per kernel (%s, %d kernels, mean of %d profiled steps; %.3f ms/step in kernels):\n",
          f->name, f->nkernels, steps, total * 1e3);
  fprintf(o, "  %9s %6s %6s %9s %7s %8s  %s\n", "ms", "%", "cum%", "GFLOP/s", "%peak", "GB/s",
          "kernel");
  double cum = 0;
  int shown = top > 0 && top < f->nkernels ? top : f->nkernels;
  for (int i = 0; i < shown; i++) {
    const RtKernelDesc *K = &f->kernels[r[i].k];
    double s = r[i].t > 0 ? r[i].t : 1e-12;
    cum += r[i].t;
    fprintf(o, "  %9.4f %6.1f %6.1f ", r[i].t * 1e3, 100 * r[i].t / total, 100 * cum / total);
    if (K->gemm_flops > 0) {
      fprintf(o, "%9.1f ", K->gemm_flops / s / 1e9);
      if (peak > 0) fprintf(o, "%7.1f ", 100 * K->gemm_flops / s / 1e9 / peak);
      else fprintf(o, "%7s ", "-");
    } else {
      fprintf(o, "%9s %7s ", "-", "-");
    }
    fprintf(o, "%8.2f  %s\n", K->bytes / s / 1e9, K->name);
  }
  if (shown < f->nkernels)
    fprintf(o, "  %9.4f %6.1f %6s %9s %7s %8s  (%d more kernels)\n", (total - cum) * 1e3,
            100 * (total - cum) / total, "100.0", "", "", "", f->nkernels - shown);
  free(r);
}

/* ---- PROG bench ---- */

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void rt_bench_fill_inputs(const RtModel *m, int fn) {
  const RtFuncDesc *f = &m->desc->funcs[fn];
  const RtTrainDesc *td = m->desc->train;
  int train = td && fn != 0 && strcmp(f->name, "eval") != 0;
  for (int i = 0; i < f->ninputs; i++) {
    const RtTensorDesc *t = &f->inputs[i];
    void *p = rt_model_tensor(m, t);
    for (int64_t k = 0; k < t->numel; k++) {
      double v;
      if (train && i == td->in_lr) v = 0.01;
      else if (train && i == td->in_step) v = 1;
      else if (t->dtype == RT_F32 || t->dtype == RT_F64) v = (float)(2 * rt_uniform(7, (uint64_t)i, (uint64_t)k) - 1);
      else v = (double)(k % 2);
      rt_elem_put(t->dtype, p, k, v);
    }
  }
}

RtStepTimes rt_bench_func(RtModel *m, int fn, int repeat, int prof_steps, double *kt) {
  const RtFuncDesc *f = &m->desc->funcs[fn];
  RtStepTimes r = {0};
  for (int i = 0; i < 3; i++) f->run(m->params, m->arena);
  double *ts = malloc(sizeof(double) * (size_t)(repeat > 0 ? repeat : 1));
  if (!ts) return r;
  for (int i = 0; i < repeat; i++) {
    double t0 = rt_now();
    f->run(m->params, m->arena);
    ts[i] = rt_now() - t0;
  }
  qsort(ts, (size_t)repeat, sizeof *ts, dcmp);
  r.median = ts[repeat / 2];
  r.min = ts[0];
  free(ts);
  if (kt && f->run_prof)
    for (int i = 0; i < prof_steps; i++) f->run_prof(m->params, m->arena, kt);
  return r;
}

static void bench_usage(const RtModelDesc *d, FILE *o) {
  fprintf(o,
          "usage: %s bench [--fn NAME] [--repeat N] [--threads N] [--weights W] [--top N]\n"
          "  times the step function NAME (default: train for a training program, else infer)\n"
          "  on deterministic inputs (floats U[-1,1), integers k %% 2, lr 0.01): whole steps\n"
          "  (median, minimum), then each kernel over as many profiled steps, against the\n"
          "  probed FMA peak. Functions:",
          d->name);
  for (int i = 0; i < d->nfuncs; i++) fprintf(o, " %s", d->funcs[i].name);
  fputc('\n', o);
}

int rt_bench_main(const RtModelDesc *d, int argc, char **argv) {
  const char *fname = NULL, *weights = NULL;
  int repeat = 50, top = 15;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      bench_usage(d, stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "%s: error: unknown or incomplete option '%s' (see bench --help)\n", d->name, a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--fn")) fname = v;
    else if (!strcmp(a, "--weights")) weights = v;
    else if (!strcmp(a, "--repeat") || !strcmp(a, "--threads") || !strcmp(a, "--top")) {
      RtErr fe = {{0}};
      int n = 0;
      if (!strcmp(a, "--threads") ? rt_flag_threads(a, v, &n, &fe)
                                  : rt_flag_int32(a, v, 1, 1000000, &n, &fe)) {
        fprintf(stderr, "%s: error: %s (see bench --help)\n", d->name, fe.msg);
        return 2;
      }
      if (!strcmp(a, "--repeat")) repeat = n;
      else if (!strcmp(a, "--top")) top = n;
      else {
#ifdef _OPENMP
        omp_set_dynamic(0);
        omp_set_num_threads(n);
#endif
      }
    } else {
      fprintf(stderr, "%s: error: unknown option '%s' (see bench --help)\n", d->name, a);
      return 2;
    }
  }
  int fn = 0;
  if (fname) {
    fn = -1;
    for (int i = 0; i < d->nfuncs; i++)
      if (!strcmp(d->funcs[i].name, fname)) fn = i;
    if (fn < 0) {
      fprintf(stderr, "%s: error: --fn %s: no such function\n", d->name, fname);
      bench_usage(d, stderr);
      return 2;
    }
  } else if (d->train) {
    fn = d->train->train_fn;
  }
  RtModel *m = rt_model_create(d);
  if (!m) {
    fprintf(stderr, "%s: error: out of memory\n", d->name);
    return 1;
  }
  if (weights && rt_model_load_weights(m, weights)) {
    fprintf(stderr, "%s: error: %s\n", d->name, m->err.msg);
    rt_model_free(m);
    return 1;
  }
  const RtFuncDesc *f = &d->funcs[fn];
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  rt_bench_fill_inputs(m, fn);
  double *kt = calloc((size_t)f->nkernels + 1, sizeof *kt);
  if (!kt) {
    rt_model_free(m);
    return 1;
  }
  RtStepTimes st = rt_bench_func(m, fn, repeat, repeat, kt);
  RtPeak pk = rt_fma_peak(threads);
  double flops = 0;
  for (int k = 0; k < f->nkernels; k++) flops += f->kernels[k].gemm_flops;
  printf("%s %s: %d kernels, %d thread%s, %d steps\n", d->name, f->name, f->nkernels, threads,
         threads == 1 ? "" : "s", repeat);
  if (pk.lanes)
    printf("FMA peak probe (%d-lane FMA chains): %.1f GFLOP/s on 1 thread, %.1f on %d\n", pk.lanes,
           pk.gf1, pk.gfn, threads);
  printf("step: %.3f ms median, %.3f min", st.median * 1e3, st.min * 1e3);
  if (flops > 0) {
    printf("  ->  %.1f GFLOP/s (gemm/matmul/conv)", flops / st.min / 1e9);
    if (pk.lanes) printf(", %.1f%% of probed peak", 100 * flops / st.min / 1e9 / pk.gfn);
  }
  printf("\n");
  rt_profile_print(stdout, f, kt, repeat, pk.gfn, top);
  free(kt);
  rt_model_free(m);
  return 0;
}
