/* Test helpers: compare generated code against the reference interpreter,
 * and check diagnostics. Used by every tests/unit/test_ops_*.c suite. */
#ifndef SM_OPCHECK_H
#define SM_OPCHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir/ir.h"

typedef struct OpcheckOpts {
  double rtol, atol; /* pass if |gen - ref| <= atol + rtol * |ref| */
  double lo, hi;     /* float inputs drawn from U[lo, hi) */
  int64_t ilo, ihi;  /* integer inputs drawn from [ilo, ihi] */
  uint64_t seed;
  int opt_level; /* pipeline for the compiled side: 1 (default) or 0 */
} OpcheckOpts;

/* Defaults: rtol 1e-5, atol 1e-6, floats U[-2,2), ints [0,9], seed 1. */
OpcheckOpts opcheck_defaults(void);
/* The defaults with float inputs from U[lo, hi). */
OpcheckOpts opcheck_range(double lo, double hi);
/* The defaults with integer inputs from [lo, hi]. */
OpcheckOpts opcheck_ints(int64_t lo, int64_t hi);
/* The defaults with tolerances rtol, atol. */
OpcheckOpts opcheck_tol(double rtol, double atol);

/* Random inputs for every input of g: floats from U[lo, hi), integers
 * from [ilo, ihi], bools u < 0.5, u = rt_uniform(seed, input, element).
 * When `rounded`, each value as the input's dtype holds it (f32, i32, u8).
 * The array has one spare element; free each tensor and the array. */
IrTensor *random_inputs(const IrGraph *g, double lo, double hi, int64_t ilo, int64_t ihi,
                        uint64_t seed, bool rounded);

/* Parses `text` as test.smelt and verifies it; on any diagnostic prints
 * the text and the diagnostics and fails the current test. */
IrGraph *opcheck_parse(const char *text);

/* Interprets `text` (as opcheck_parse) with input i from ins[i] and, when
 * prm is not NULL, parameter i from prm[i] (else the declared
 * initializers); out[] receives the outputs. Free them and the graph. */
IrGraph *interpret_text(const char *text, double *const *ins, double *const *prm, IrTensor *out);

/* The text's only output (the text has no inputs), computed by the
 * reference interpreter, must equal want[0..n): exactly when tol is 0,
 * else to within tol. dt >= 0: the output's dtype must be dt. Then, when
 * `compiled`, the generated code must agree (opcheck). */
void expect_ref_values(const char *text, int dt, double tol, bool compiled, const double *want,
                       int64_t n);
#define EXPECT_REF_VALUES(text, dt, tol, compiled, ...)                                    \
  do {                                                                                     \
    static const double want_[] = {__VA_ARGS__};                                           \
    expect_ref_values(text, dt, tol, compiled, want_, (int64_t)(sizeof want_ / sizeof want_[0])); \
  } while (0)

/* Parses `text` (smelt text format; the parse must succeed; file name in
 * diagnostics is "test.smelt"), runs the reference interpreter and the
 * generated C (checked by libclang, compiled to a shared library and
 * loaded) on the same random inputs and the declared parameter
 * initializers, and asserts every element of every output agrees. A text
 * may hold several independent sub-graphs (one per shape under test) so
 * one compile covers them all. Returns the worst relative error seen over
 * elements whose reference magnitude is at least 1e-3. */
double opcheck(const char *text);
double opcheck_opts(const char *text, const OpcheckOpts *o);

/* Parses `text` expecting failure; asserts the diagnostics contain every
 * needle given (NULL-terminated), e.g. "test.smelt:3:7: error: conv2d:". */
void expect_parse_error(const char *text, ...);

#endif
