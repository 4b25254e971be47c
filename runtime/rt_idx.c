/* IDX files (the MNIST format), plain or gzip-compressed: bytes 0 0 type
 * ndim, ndim big-endian u32 dims, then big-endian data. u8 stays u8, i8 and
 * i16 widen to i32, i32/f32/f64 are byte-swapped in place. */
#include "rt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_CHUNK ((size_t)1 << 20)

/* Reads exactly n bytes into a fresh rt_alloc'd block. The block grows as
 * data arrives, so a header claiming huge dims in a small file fails on
 * truncation instead of allocating (and zeroing) what it claims. */
static int read_exact(gzFile gz, const char *path, size_t n,
                      unsigned char **out, RtErr *e) {
  size_t cap = n < IDX_CHUNK ? n : IDX_CHUNK, have = 0;
  unsigned char *buf = rt_alloc(cap);
  if (!buf)
    return rt_fail(e, "%s: out of memory", path);
  while (have < n) {
    if (have == cap) {
      size_t ncap = cap > n / 2 ? n : cap * 2;
      unsigned char *nb = rt_alloc(ncap);
      if (!nb) {
        rt_free(buf);
        return rt_fail(e, "%s: out of memory (%zu bytes)", path, ncap);
      }
      memcpy(nb, buf, have);
      rt_free(buf);
      buf = nb;
      cap = ncap;
    }
    size_t want = cap - have < (1u << 30) ? cap - have : (1u << 30);
    int r = gzread(gz, buf + have, (unsigned)want);
    if (r <= 0) {
      int zerr = 0;
      const char *msg = gzerror(gz, &zerr);
      rt_free(buf);
      if (zerr != Z_OK && zerr != Z_BUF_ERROR) /* BUF: gzip stream cut */
        return rt_fail(e, "%s: read error: %s", path,
                       zerr == Z_ERRNO ? strerror(errno) : msg);
      return rt_fail(e, "%s: truncated IDX file: %zu of %zu data bytes",
                     path, have, n);
    }
    have += (size_t)r;
  }
  *out = buf;
  return 0;
}

static int read_idx(gzFile gz, const char *path, RtArray *out, RtErr *e) {
  unsigned char hdr[4 + 4 * RT_MAX_RANK];
  if (gzread(gz, hdr, 4) != 4)
    return rt_fail(e, "%s: truncated IDX header", path);
  if (hdr[0] != 0 || hdr[1] != 0)
    return rt_fail(e, "%s: not an IDX file (bad magic)", path);
  int type = hdr[2], rank = hdr[3];
  int dtype, esize;
  switch (type) {
  case 0x08: dtype = RT_U8, esize = 1; break;
  case 0x09: dtype = RT_I32, esize = 1; break;
  case 0x0B: dtype = RT_I32, esize = 2; break;
  case 0x0C: dtype = RT_I32, esize = 4; break;
  case 0x0D: dtype = RT_F32, esize = 4; break;
  case 0x0E: dtype = RT_F64, esize = 8; break;
  default:
    return rt_fail(e, "%s: unsupported IDX type 0x%02x", path, type);
  }
  if (rank < 1 || rank > RT_MAX_RANK)
    return rt_fail(e, "%s: IDX rank %d not in 1..%d", path, rank,
                   RT_MAX_RANK);
  if (gzread(gz, hdr + 4, 4 * (unsigned)rank) != 4 * rank)
    return rt_fail(e, "%s: truncated IDX header", path);
  int64_t dims[RT_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    const unsigned char *d = hdr + 4 + 4 * i;
    dims[i] = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                        (uint32_t)d[2] << 8 | d[3]);
  }
  int64_t numel = rt_numel(rank, dims);
  if (numel < 0)
    return rt_fail(e, "%s: IDX shape overflows", path);

  unsigned char *raw = NULL;
  if (read_exact(gz, path, (size_t)numel * (size_t)esize, &raw, e))
    return -1;
  unsigned char extra;
  if (gzread(gz, &extra, 1) != 0) {
    rt_free(raw);
    return rt_fail(e, "%s: unexpected data after %lld IDX elements", path,
                   (long long)numel);
  }

  void *data = raw;
  size_t n = (size_t)numel;
  if (esize < 4 && dtype == RT_I32) {
    int32_t *w = rt_alloc(n * 4);
    if (!w) {
      rt_free(raw);
      return rt_fail(e, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++)
      w[i] = esize == 1 ? (int8_t)raw[i]
                        : (int16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
    rt_free(raw);
    data = w;
  } else {
    for (unsigned char *p = raw; p < raw + n * (size_t)esize; p += esize)
      for (int a = 0, b = esize - 1; a < b; a++, b--) { /* big -> little */
        unsigned char t = p[a];
        p[a] = p[b];
        p[b] = t;
      }
  }
  out->dtype = dtype;
  out->rank = rank;
  memcpy(out->dims, dims, sizeof(int64_t) * (size_t)rank);
  out->numel = numel;
  out->data = data;
  return 0;
}

int rt_idx_read(const char *path, RtArray *out, RtErr *e) {
  memset(out, 0, sizeof *out);
  int fd = rt_in_open_fd(path, e);
  if (fd < 0)
    return -1;
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return rt_fail(e, "%s: cannot open: out of memory", path);
  }
  int rc = read_idx(gz, path, out, e);
  gzclose_r(gz);
  return rc;
}
