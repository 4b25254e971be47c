/* Gradient checks: autodiff vs central finite differences on the
 * interpreter (double precision), and the generated backward kernels vs the
 * interpreter's. */
#ifndef SM_GRADCHECK_H
#define SM_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct GradcheckOpts {
  double lo, hi;    /* float inputs from U[lo, hi) */
  int64_t ilo, ihi; /* integer inputs from [ilo, ihi] */
  double eps;       /* finite-difference step */
  double rtol, atol;
  int max_elems;    /* finite differences on at most this many elements per tensor */
  bool compile;     /* also compare generated backward code with the interpreter */
  uint64_t seed;
} GradcheckOpts;

/* lo -2, hi 2, ints [0, 9], eps 1e-6, rtol 1e-4, atol 1e-6, 24 elements,
 * compile on, seed 3. */
GradcheckOpts gradcheck_defaults(void);
/* The defaults with float inputs from U[lo, hi). */
GradcheckOpts gradcheck_range(double lo, double hi);
/* The defaults with integer inputs from [lo, hi]. */
GradcheckOpts gradcheck_ints(int64_t lo, int64_t hi);

/* `text` is a forward model (test.smelt). The check builds
 * L = sum_k sum(output_k * R_k) with random R_k, differentiates L w.r.t.
 * every float input and parameter, and compares each gradient with central
 * differences of L. */
void gradcheck(const char *text);
void gradcheck_opts(const char *text, const GradcheckOpts *o);

#endif
