/* Counter-based RNG: every value is a pure function of (seed, stream, i), so
 * initialization is reproducible and independent of thread count. Parameter
 * initializers follow PyTorch's formulas (gain 1 for xavier, sqrt(2) for
 * he/kaiming). */
#include "rt.h"

#include <math.h>

/* splitmix64 */
uint64_t rt_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Chained, so (seed, stream, i) is hashed as an ordered triple. */
uint64_t rt_hash_prefix(uint64_t seed, uint64_t stream) {
  uint64_t h = rt_mix64(seed ^ 0x243f6a8885a308d3ull);
  return rt_mix64(h ^ rt_mix64(stream + 0x13198a2e03707344ull));
}

static uint64_t hash3(uint64_t seed, uint64_t stream, uint64_t i) {
  return rt_mix64(rt_hash_prefix(seed, stream) ^ rt_mix64(i + RT_HASH_I));
}

double rt_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return (double)(hash3(seed, stream, i) >> 11) * 0x1.0p-53;
}

double rt_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  double u1 = rt_uniform(seed, stream, 2 * i);
  double u2 = rt_uniform(seed, stream, 2 * i + 1);
  /* 1 - u1 is in (0, 1]: log never sees 0 */
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

void rt_fans(int rank, const int64_t *dims, int64_t *fan_in,
             int64_t *fan_out) {
  int64_t in = 1, out = 1;
  if (rank == 1) {
    in = out = dims[0];
  } else if (rank >= 2) {
    int64_t rf = 1;
    for (int i = 2; i < rank; i++)
      rf *= dims[i];
    in = dims[1] * rf;
    out = dims[0] * rf;
  }
  if (fan_in)
    *fan_in = in;
  if (fan_out)
    *fan_out = out;
}

/* Unknown kinds give NaN so a mismatch with the compiler shows up at once. */
double rt_init_value(int kind, double a, double b, int64_t fan_in,
                     int64_t fan_out, uint64_t seed, uint64_t stream,
                     uint64_t i) {
  double fi = fan_in > 0 ? (double)fan_in : 1.0;
  double fo = fan_out > 0 ? (double)fan_out : 1.0;
  double s;
  switch (kind) {
  case RT_INIT_ZEROS:
    return 0.0;
  case RT_INIT_ONES:
    return 1.0;
  case RT_INIT_CONSTANT:
    return a;
  case RT_INIT_NORMAL:
    return a * rt_normal(seed, stream, i);
  case RT_INIT_UNIFORM:
    return a + (b - a) * rt_uniform(seed, stream, i);
  case RT_INIT_XAVIER_UNIFORM:
    s = sqrt(6.0 / (fi + fo));
    return s * (2.0 * rt_uniform(seed, stream, i) - 1.0);
  case RT_INIT_XAVIER_NORMAL:
    return sqrt(2.0 / (fi + fo)) * rt_normal(seed, stream, i);
  case RT_INIT_HE_UNIFORM:
    s = sqrt(6.0 / fi);
    return s * (2.0 * rt_uniform(seed, stream, i) - 1.0);
  case RT_INIT_HE_NORMAL:
    return sqrt(2.0 / fi) * rt_normal(seed, stream, i);
  default:
    return NAN;
  }
}

void rt_init_f32(float *dst, int64_t n, int kind, double a, double b,
                 int64_t fan_in, int64_t fan_out, uint64_t seed,
                 uint64_t stream) {
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; i++)
    dst[i] = (float)rt_init_value(kind, a, b, fan_in, fan_out, seed, stream,
                                  (uint64_t)i);
}
