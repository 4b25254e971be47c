/* Test helpers: compare generated code against the reference interpreter,
 * and check diagnostics. Used by every tests/unit/test_ops_*.c suite. */
#ifndef SM_OPCHECK_H
#define SM_OPCHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

typedef struct OpcheckOpts {
  double rtol, atol; /* pass if |gen - ref| <= atol + rtol * |ref| */
  double lo, hi;     /* float inputs drawn from U[lo, hi) */
  int64_t ilo, ihi;  /* integer inputs drawn from [ilo, ihi] */
  uint64_t seed;
  int opt_level; /* pipeline for the compiled side: 1 (default) or 0 */
} OpcheckOpts;

/* Defaults: rtol 1e-5, atol 1e-6, floats U[-2,2), ints [0,9], seed 1. */
OpcheckOpts opcheck_defaults(void);

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
