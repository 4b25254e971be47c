/* Image grids: a batch of grayscale images written as one binary PGM
 * (P5) file, for looking at a generator's samples or an autoencoder's
 * reconstructions. Values are pixel intensities in [0, 255] (clamped and
 * rounded), the scale of the u8 data the images came from; a batch whose
 * values all lie in [0, 1] is taken as intensities on that scale (the
 * runtime's scaling of u8 images) and multiplied by 255. */
#include "rt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Image count and size from a batch shape: [N,1,H,W], [N,H,W], or
 * [N,P] with P a square number. */
static int grid_shape(int rank, const int64_t *dims, int64_t *n, int64_t *h, int64_t *w) {
  if (rank == 4 && dims[1] == 1) *n = dims[0], *h = dims[2], *w = dims[3];
  else if (rank == 3) *n = dims[0], *h = dims[1], *w = dims[2];
  else if (rank == 2) {
    int64_t s = (int64_t)llround(sqrt((double)dims[1]));
    if (s * s != dims[1]) return -1;
    *n = dims[0], *h = s, *w = s;
  } else {
    return -1;
  }
  return *n > 0 && *h > 0 && *w > 0 && *h <= 4096 && *w <= 4096 && *n <= 65536 ? 0 : -1;
}

int rt_pgm_write_grid(const char *path, int dtype, int rank, const int64_t *dims,
                      const void *data, RtErr *e) {
  int64_t n, h, w;
  char s[128];
  if (grid_shape(rank, dims, &n, &h, &w))
    return rt_fail(e, "%s: cannot draw %s as grayscale images (want [N,1,H,W], [N,H,W] or "
                   "[N,P] with P square)", path, rt_shape_str(dtype, rank, dims, s, sizeof s));
  int64_t cols = (int64_t)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
  const int64_t gap = 2;
  int64_t W = cols * w + (cols + 1) * gap, H = rows * h + (rows + 1) * gap;
  unsigned char *img = malloc((size_t)(W * H));
  if (!img) return rt_fail(e, "%s: out of memory", path);
  memset(img, 64, (size_t)(W * H)); /* dark gray frame */
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n * h * w; i++) {
    double v = rt_elem_get(dtype, data, i);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  double scale = lo >= 0 && hi <= 1 ? 255 : 1;
  for (int64_t k = 0; k < n; k++) {
    int64_t y0 = gap + (k / cols) * (h + gap), x0 = gap + (k % cols) * (w + gap);
    for (int64_t i = 0; i < h; i++)
      for (int64_t j = 0; j < w; j++) {
        double v = scale * rt_elem_get(dtype, data, (k * h + i) * w + j);
        v = v != v ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
        img[(y0 + i) * W + x0 + j] = (unsigned char)lround(v);
      }
  }
  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  if (!f) {
    free(img);
    return -1;
  }
  int ok = fprintf(f, "P5\n%lld %lld\n255\n", (long long)W, (long long)H) > 0 &&
           fwrite(img, 1, (size_t)(W * H), f) == (size_t)(W * H);
  free(img);
  return rt_out_commit(&out, ok, e);
}

int rt_path_is_pgm(const char *path) {
  size_t n = strlen(path);
  return n > 4 && !strcmp(path + n - 4, ".pgm");
}
