/* Vectorizable single-precision exp and tanh for generated kernels.
 *
 * libm's expf and tanhf are calls GCC does not vectorize without
 * -ffast-math, which made every sigmoid, tanh and softmax loop scalar
 * (an LSTM step spent a third of its time in them). These are branch-free
 * (selects only) so loops that inline them vectorize. Accuracy against
 * double precision, sampled at 2e7 points: rt_expf within 1.3 ulp on
 * [-87.3, 88.7] (0 below -87.34, where expf is subnormal; +inf above
 * 88.72), rt_tanhf within 3.3e-7 relative. NaN propagates (and is never
 * converted to an integer); -0 stays -0; correct under -ffast-math too
 * (where rt_expf does not vectorize). */
#ifndef SMELT_RT_MATH_H
#define SMELT_RT_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 (two-part ln 2,
 * so r is exact to float precision), |r| <= ln(2)/2; exp(r) by its
 * degree-7 Taylor polynomial (truncation below 6e-9 relative). */
static inline float rt_expf(float x) {
  const float hi = 88.72283f, lo = -87.33654f;
  /* clamped (NaN becomes lo: no conversion below sees it) */
  float xc = x > hi ? hi : x;
  xc = xc >= lo ? xc : lo;
  /* k = round(xc / ln 2): through the 1.5 * 2^23 shifter (exact for
   * |v| < 2^22; GCC vectorizes it), except under -ffast-math, which would
   * simplify (v + c) - c to v: there by truncating a positive value (the
   * product is in [-126, 128]), which GCC does not vectorize here */
#ifdef __FAST_MATH__
  const float k = (float)((int32_t)(xc * 1.44269504f + 128.5f) - 128);
#else
  const float k = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
#endif
  const int32_t ki = (int32_t)k;
  const float r = (xc - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  /* 2^k in two halves: k reaches 128 at the top, past the largest exponent */
  const int32_t k1 = ki / 2, k2 = ki - k1;
  const uint32_t b1 = (uint32_t)(k1 + 127) << 23, b2 = (uint32_t)(k2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  float y = p * s1 * s2;
  y = x > hi ? (float)INFINITY : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

/* tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); below |x| = 0.25, where that
 * difference cancels, the odd Taylor series to x^11. */
static inline float rt_tanhf(float x) {
  const float a = x < 0 ? -x : x;
  const float e = rt_expf(2.0f * (a > 9.0f ? 9.0f : a));
  float t = 1.0f - 2.0f / (e + 1.0f);
  const float x2 = a * a;
  float p = -8.86323552e-3f;
  p = p * x2 + 2.18694885e-2f;
  p = p * x2 - 5.39682540e-2f;
  p = p * x2 + 1.33333333e-1f;
  p = p * x2 - 3.33333333e-1f;
  p = p * x2 * a + a;
  t = a < 0.25f ? p : t;
  t = a > 9.0f ? 1.0f : t;
  t = x < 0 ? -t : t;
  t = a == 0 ? x : t; /* -0 stays -0 */
  return x != x ? x : t;
}

#endif
