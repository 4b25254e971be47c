/* IDX files (the MNIST format), plain or gzip-compressed: bytes 0 0 type
 * ndim, ndim big-endian u32 dims, then big-endian data. u8 stays u8, i8 and
 * i16 widen to i32, i32/f32/f64 are byte-swapped in place.
 *
 * Sizes: a plain file must be exactly as long as its header says before
 * anything is allocated; a gzip file's uncompressed size is not known up
 * front (its trailer holds it only modulo 2^32, and only for the last
 * member), so its data is read into a buffer that grows with the bytes
 * actually decompressed, never beyond what the header declares. */
#include "rt.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_CHUNK ((size_t)1 << 20)

/* Reads exactly n bytes into a fresh rt_alloc'd block. The block grows as
 * data arrives (unless the size is already known to be there), so a header
 * claiming huge dims in a small file fails on truncation instead of
 * allocating (and zeroing) what it claims. */
static int read_exact(gzFile gz, const char *path, size_t n, int known,
                      unsigned char **out, RtErr *e) {
  size_t cap = known || n < IDX_CHUNK ? n : IDX_CHUNK, have = 0;
  unsigned char *buf = rt_alloc(cap);
  if (!buf)
    return rt_fail(e, "%s: out of memory (%zu bytes)", path, cap);
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

typedef struct IdxHead {
  int dtype, esize, rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel;
  size_t hbytes; /* header bytes */
} IdxHead;

static int read_head(gzFile gz, const char *path, IdxHead *h, RtErr *e) {
  unsigned char hdr[4 + 4 * RT_MAX_RANK];
  if (gzread(gz, hdr, 4) != 4)
    return rt_fail(e, "%s: truncated IDX header", path);
  if (hdr[0] != 0 || hdr[1] != 0)
    return rt_fail(e, "%s: not an IDX file (bad magic)", path);
  int type = hdr[2], rank = hdr[3];
  switch (type) {
  case 0x08: h->dtype = RT_U8, h->esize = 1; break;
  case 0x09: h->dtype = RT_I32, h->esize = 1; break;
  case 0x0B: h->dtype = RT_I32, h->esize = 2; break;
  case 0x0C: h->dtype = RT_I32, h->esize = 4; break;
  case 0x0D: h->dtype = RT_F32, h->esize = 4; break;
  case 0x0E: h->dtype = RT_F64, h->esize = 8; break;
  default:
    return rt_fail(e, "%s: unsupported IDX type 0x%02x", path, type);
  }
  if (rank < 1 || rank > RT_MAX_RANK)
    return rt_fail(e, "%s: IDX rank %d not in 1..%d", path, rank,
                   RT_MAX_RANK);
  if (gzread(gz, hdr + 4, 4 * (unsigned)rank) != 4 * rank)
    return rt_fail(e, "%s: truncated IDX header", path);
  for (int i = 0; i < rank; i++) {
    const unsigned char *d = hdr + 4 + 4 * i;
    h->dims[i] = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                           (uint32_t)d[2] << 8 | d[3]);
  }
  h->rank = rank;
  h->numel = rt_numel(rank, h->dims);
  if (h->numel < 0)
    return rt_fail(e, "%s: IDX shape overflows", path);
  h->hbytes = 4 + 4 * (size_t)rank;
  return 0;
}

static int read_idx(gzFile gz, const char *path, int64_t plain_size,
                    RtArray *out, RtErr *e) {
  IdxHead h;
  if (read_head(gz, path, &h, e))
    return -1;
  size_t n = (size_t)h.numel, bytes = n * (size_t)h.esize;
  if (plain_size >= 0) { /* the whole file is there: check before allocating */
    int64_t have = plain_size - (int64_t)h.hbytes;
    if (have < (int64_t)bytes)
      return rt_fail(e, "%s: truncated IDX file: %lld of %zu data bytes",
                     path, (long long)have, bytes);
    if (have > (int64_t)bytes)
      return rt_fail(e, "%s: unexpected data after %lld IDX elements", path,
                     (long long)h.numel);
  }
  unsigned char *raw = NULL;
  if (read_exact(gz, path, bytes, plain_size >= 0, &raw, e))
    return -1;
  unsigned char extra;
  if (gzread(gz, &extra, 1) != 0) {
    rt_free(raw);
    return rt_fail(e, "%s: unexpected data after %lld IDX elements", path,
                   (long long)h.numel);
  }

  void *data = raw;
  if (h.esize < 4 && h.dtype == RT_I32) {
    int32_t *w = rt_alloc(n * 4);
    if (!w) {
      rt_free(raw);
      return rt_fail(e, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++)
      w[i] = h.esize == 1 ? (int8_t)raw[i]
                          : (int16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
    rt_free(raw);
    data = w;
  } else {
    for (unsigned char *p = raw; p < raw + bytes; p += h.esize)
      for (int a = 0, b = h.esize - 1; a < b; a++, b--) { /* big -> little */
        unsigned char t = p[a];
        p[a] = p[b];
        p[b] = t;
      }
  }
  out->dtype = h.dtype;
  out->rank = h.rank;
  memcpy(out->dims, h.dims, sizeof(int64_t) * (size_t)h.rank);
  out->numel = h.numel;
  out->data = data;
  return 0;
}

/* Opens path for gzread (which reads plain files as they are); *plain_size
 * is the file's size when it is not gzip-compressed, else -1. */
static gzFile idx_open(const char *path, int64_t *plain_size, RtErr *e) {
  int fd = rt_in_open_fd(path, e);
  if (fd < 0)
    return NULL;
  struct stat st;
  unsigned char magic[2] = {0, 0};
  if (fstat(fd, &st) != 0) {
    rt_fail(e, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  ssize_t got = pread(fd, magic, 2, 0);
  *plain_size = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? -1 : st.st_size;
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    rt_fail(e, "%s: cannot open: out of memory", path);
  }
  return gz;
}

int rt_idx_read(const char *path, RtArray *out, RtErr *e) {
  memset(out, 0, sizeof *out);
  int64_t plain;
  gzFile gz = idx_open(path, &plain, e);
  if (!gz)
    return -1;
  int rc = read_idx(gz, path, plain, out, e);
  gzclose_r(gz);
  return rc;
}

int rt_idx_peek(const char *path, int *dtype, int *rank, int64_t *dims,
                RtErr *e) {
  int64_t plain;
  gzFile gz = idx_open(path, &plain, e);
  if (!gz)
    return -1;
  IdxHead h;
  int rc = read_head(gz, path, &h, e);
  gzclose_r(gz);
  if (rc)
    return -1;
  *dtype = h.dtype;
  *rank = h.rank;
  memcpy(dims, h.dims, sizeof(int64_t) * (size_t)h.rank);
  return 0;
}
