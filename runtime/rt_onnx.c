/* `PROG train --export-onnx F`: the ONNX model a program was compiled from,
 * with its trained weights, written without protobuf-c. The compiler
 * embedded the model's bytes without its graph and the graph's bytes
 * without the trained initializers (RtOnnxTemplate); protobuf merges
 * repeated fields, so model + graph field (7) holding the graph bytes
 * followed by fresh initializer fields (5) is the original model with new
 * initializers. Each initializer is a TensorProto of dims (1), data_type
 * (2), name (8) and little-endian raw_data (9). */
#include "rt_model.h"

#include <stdlib.h>
#include <string.h>

typedef struct Out {
  unsigned char *p;
  size_t n, cap;
  int oom;
} Out;

static void put(Out *o, const void *src, size_t n) {
  if (o->oom) return;
  if (o->n + n > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->n + n) cap *= 2;
    unsigned char *q = realloc(o->p, cap);
    if (!q) {
      o->oom = 1;
      return;
    }
    o->p = q;
    o->cap = cap;
  }
  memcpy(o->p + o->n, src, n);
  o->n += n;
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

static void varint(Out *o, uint64_t v) {
  unsigned char b[10];
  size_t n = 0;
  while (v >= 0x80) b[n++] = (unsigned char)(v | 0x80), v >>= 7;
  b[n++] = (unsigned char)v;
  put(o, b, n);
}

/* tag of field f with wire type w (0 varint, 2 length-delimited) */
static void tag(Out *o, int f, int w) { varint(o, (uint64_t)(f << 3 | w)); }

/* the TensorProto of parameter t (its body's length first, then its bytes) */
static size_t tensor_len(const RtTensorDesc *t, int type) {
  size_t n = 0, name = strlen(t->name), raw = (size_t)t->numel * rt_dtype_size(t->dtype);
  for (int i = 0; i < t->rank; i++) n += 1 + varint_len((uint64_t)t->dims[i]);
  return n + 1 + varint_len((uint64_t)type) + 1 + varint_len(name) + name + 1 + varint_len(raw) + raw;
}

static void tensor(Out *o, const RtTensorDesc *t, int type, const void *data) {
  size_t name = strlen(t->name), raw = (size_t)t->numel * rt_dtype_size(t->dtype);
  for (int i = 0; i < t->rank; i++) tag(o, 1, 0), varint(o, (uint64_t)t->dims[i]);
  tag(o, 2, 0), varint(o, (uint64_t)type);
  tag(o, 8, 2), varint(o, name), put(o, t->name, name);
  tag(o, 9, 2), varint(o, raw), put(o, data, raw); /* this machine is little-endian, as ONNX */
}

int rt_onnx_write(const char *path, const RtModel *m, RtErr *e) {
  const RtModelDesc *d = m->desc;
  const RtOnnxTemplate *x = d->onnx;
  if (!x) return rt_fail(e, "'%s' was not compiled from an ONNX model", d->name);
  size_t inits = 0;
  for (int i = 0; i < x->n; i++) {
    if (x->param[i] < 0 || x->param[i] >= d->nweights)
      return rt_fail(e, "bad ONNX template: parameter %d out of range", x->param[i]);
    size_t tl = tensor_len(&d->params[x->param[i]], x->onnx_type[i]);
    inits += 1 + varint_len(tl) + tl;
  }
  Out o = {0};
  put(&o, x->model, x->model_len);
  tag(&o, 7, 2);
  varint(&o, x->graph_len + inits);
  put(&o, x->graph, x->graph_len);
  for (int i = 0; i < x->n; i++) {
    const RtTensorDesc *t = &d->params[x->param[i]];
    tag(&o, 5, 2);
    varint(&o, tensor_len(t, x->onnx_type[i]));
    tensor(&o, t, x->onnx_type[i], rt_model_tensor(m, t));
  }
  if (o.oom) {
    free(o.p);
    return rt_fail(e, "%s: out of memory", path);
  }
  RtOut out;
  FILE *f = rt_out_open(&out, path, e) ? NULL : out.f;
  if (!f) {
    free(o.p);
    return -1;
  }
  int ok = fwrite(o.p, 1, o.n, f) == o.n;
  free(o.p);
  return rt_out_commit(&out, ok, e);
}
