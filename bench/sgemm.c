/* The generated 1024^3 GEMM (bench/sgemm.smelt, built with --emit lib)
 * against OpenBLAS cblas_sgemm when built with -DHAVE_OPENBLAS, on 1 and 2
 * threads: best of `reps` runs each, GFLOP/s and the ratio. See sgemm.sh. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgemm.h"
#ifdef HAVE_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

enum { N = 1024 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 10;
  sgemm *m = sgemm_create();
  float *a = sgemm_input(m, 0), *b = sgemm_input(m, 1);
  for (int i = 0; i < N * N; i++) {
    a[i] = (float)((i * 7919L) % 2001 - 1000) / 1000.0f;
    b[i] = (float)((i * 104729L) % 1999 - 999) / 1000.0f;
  }
  const float *c = sgemm_output(m, 0);
  double flops = 2.0 * N * N * N;
#ifdef HAVE_OPENBLAS
  float *ref = malloc(sizeof(float) * N * N);
#endif
  for (int th = 1; th <= 2; th++) {
    omp_set_num_threads(th);
    double best = 1e30;
    for (int r = 0; r < reps + 2; r++) {
      double t0 = now();
      sgemm_run(m);
      double dt = now() - t0;
      if (r >= 2 && dt < best) best = dt;
    }
    printf("%d thread%s: smelt    %7.1f GFLOP/s (%.2f ms)\n", th, th > 1 ? "s" : " ",
           flops / best / 1e9, best * 1e3);
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(th);
    double bbest = 1e30;
    for (int r = 0; r < reps + 2; r++) {
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f,
                  ref, N);
      double dt = now() - t0;
      if (r >= 2 && dt < bbest) bbest = dt;
    }
    double maxd = 0;
    for (int i = 0; i < N * N; i++) maxd = fmax(maxd, fabs((double)c[i] - ref[i]));
    printf("%d thread%s: OpenBLAS %7.1f GFLOP/s (%.2f ms)  ratio smelt/OpenBLAS %.2f  max|diff| %.2g\n",
           th, th > 1 ? "s" : " ", flops / bbest / 1e9, bbest * 1e3, bbest / best, maxd);
#endif
  }
#ifdef HAVE_OPENBLAS
  free(ref);
#endif
  sgemm_free(m);
  return 0;
}
