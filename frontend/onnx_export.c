/* ONNX export of trained weights: the original model file, unchanged except
 * that every initializer with a same-named tensor in a safetensors file
 * (what `smelt run --weights`, `./prog train --save` and checkpoints hold:
 * parameters keep their ONNX initializer names at import) gets those
 * values. The graph, opsets, metadata and any fields this schema does not
 * know (protobuf-c keeps unknown fields) pass through as they were.
 *
 * Replaced initializers are written inline as raw_data (an initializer
 * that was external data becomes inline), the rest keep their encoding.
 * The output is written atomically (temp file + rename). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/frontend.h"
#include "onnx.pb-c.h"
#include "rt.h"

#define EXPORT_MAX_FILE ((int64_t)2 << 30)

/* ONNX element type -> runtime dtype; -1 when smelt holds no such tensor */
static int rt_dtype_of(int onnx_type) {
  switch (onnx_type) {
  case 1: return RT_F32;  /* FLOAT */
  case 11: return RT_F64; /* DOUBLE */
  case 7: return RT_I64;  /* INT64 */
  case 6: return RT_I32;  /* INT32 */
  case 2: return RT_U8;   /* UINT8 */
  case 9: return RT_BOOL; /* BOOL */
  default: return -1;
  }
}

/* What a replaced initializer held before, restored before freeing. */
typedef struct Saved {
  Onnx__TensorProto *t;
  ProtobufCBinaryData raw;
  protobuf_c_boolean has_raw, has_loc;
  Onnx__TensorProto__DataLocation loc;
  size_t n_float, n_double, n_int32, n_int64, n_uint64, n_ext;
  void *fresh; /* our bytes */
} Saved;

static void restore(Saved *s) {
  Onnx__TensorProto *t = s->t;
  t->raw_data = s->raw;
  t->has_raw_data = s->has_raw;
  t->has_data_location = s->has_loc;
  t->data_location = s->loc;
  t->n_float_data = s->n_float;
  t->n_double_data = s->n_double;
  t->n_int32_data = s->n_int32;
  t->n_int64_data = s->n_int64;
  t->n_uint64_data = s->n_uint64;
  t->n_external_data = s->n_ext;
  free(s->fresh);
}

static bool in_weights(const RtStFile *st, const char *name) {
  for (int i = 0; i < rt_st_count(st); i++)
    if (!strcmp(rt_st_name(st, i), name)) return true;
  return false;
}

/* The model of an ONNX file (with a graph), or an error at the file. */
static SmStatus read_model(const char *path, Onnx__ModelProto **out, SmDiag *d) {
  SmLoc floc = {path, 0, 0};
  struct stat sb;
  *out = NULL;
  if (stat(path, &sb) != 0) {
    sm_error(d, floc, "cannot open: %s", strerror(errno));
    return SM_ERR_IO;
  }
  if ((int64_t)sb.st_size > EXPORT_MAX_FILE) {
    sm_error(d, floc, "file is %lld bytes, over protobuf's 2 GiB limit", (long long)sb.st_size);
    return SM_ERR_PARSE;
  }
  char *buf;
  size_t len;
  SmStatus s = sm_read_file(path, &buf, &len, d);
  if (s) return s;
  Onnx__ModelProto *m = NULL;
  if (!fe_onnx_wire_check(path, buf, len, d)) {
    free(buf);
    return SM_ERR_PARSE;
  }
  m = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
  free(buf);
  if (!m || !m->graph) {
    sm_error(d, floc, "not a valid ONNX model: the protobuf is truncated or corrupt%s",
             m ? " (no graph)" : "");
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    return SM_ERR_PARSE;
  }
  *out = m;
  return SM_OK;
}

SmStatus fe_onnx_export(const char *onnx_in, const char *weights, const char *out,
                        FeExportStats *stats, SmDiag *d) {
  SmLoc floc = {onnx_in, 0, 0}, wloc = {weights, 0, 0};
  FeExportStats zs = {0};
  if (!stats) stats = &zs;
  *stats = zs;
  Onnx__ModelProto *m;
  SmStatus s = read_model(onnx_in, &m, d);
  if (s) return s;
  RtErr e = {{0}};
  RtStFile *st = NULL;
  if (rt_st_open(weights, &st, &e)) {
    sm_error(d, wloc, "%s", e.msg);
    onnx__model_proto__free_unpacked(m, NULL);
    return SM_ERR_IO;
  }
  Onnx__GraphProto *g = m->graph;
  Saved *sv = calloc(g->n_initializer + 1, sizeof *sv);
  size_t nsv = 0;
  int before = d->nerrors;
  for (size_t i = 0; i < g->n_initializer; i++) {
    Onnx__TensorProto *t = g->initializer[i];
    if (!t->name || !in_weights(st, t->name)) {
      stats->kept++;
      continue;
    }
    int dt = rt_dtype_of(t->has_data_type ? t->data_type : 0);
    if (dt < 0) {
      sm_error(d, floc, "initializer '%s' has an element type smelt does not train; the weights "
                        "file holds a tensor of that name", t->name);
      continue;
    }
    if (t->n_dims > RT_MAX_RANK) {
      sm_error(d, floc, "initializer '%s' has rank %zu (at most %d)", t->name, t->n_dims, RT_MAX_RANK);
      continue;
    }
    int64_t numel = rt_numel((int)t->n_dims, t->dims);
    if (numel < 0) {
      sm_error(d, floc, "initializer '%s' has bad dims", t->name);
      continue;
    }
    size_t nb = (size_t)numel * rt_dtype_size(dt);
    void *data = malloc(nb ? nb : 1);
    if (!data || rt_st_read(st, t->name, dt, (int)t->n_dims, t->dims, data, &e)) {
      sm_error(d, wloc, "%s", data ? e.msg : "out of memory");
      free(data);
      continue;
    }
    Saved *v = &sv[nsv++];
    *v = (Saved){.t = t, .raw = t->raw_data, .has_raw = t->has_raw_data,
                 .has_loc = t->has_data_location, .loc = t->data_location,
                 .n_float = t->n_float_data, .n_double = t->n_double_data,
                 .n_int32 = t->n_int32_data, .n_int64 = t->n_int64_data,
                 .n_uint64 = t->n_uint64_data, .n_ext = t->n_external_data, .fresh = data};
    /* little-endian raw bytes, as ONNX specifies (this machine is little-endian) */
    t->raw_data = (ProtobufCBinaryData){nb, data};
    t->has_raw_data = 1;
    t->n_float_data = t->n_double_data = t->n_int32_data = t->n_int64_data = t->n_uint64_data = 0;
    t->n_external_data = 0;
    t->has_data_location = 0;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
    stats->replaced++;
  }
  /* tensors of the weights file that name no initializer (e.g. values
   * folded at import): say so, they are not in the exported model */
  for (int i = 0; i < rt_st_count(st); i++) {
    const char *nm = rt_st_name(st, i);
    bool found = false;
    for (size_t k = 0; k < g->n_initializer && !found; k++)
      found = g->initializer[k]->name && !strcmp(g->initializer[k]->name, nm);
    if (!found) {
      stats->unmatched++;
      sm_note(d, wloc, "tensor '%s' names no initializer of %s: not exported", nm, onnx_in);
    }
  }
  s = d->nerrors != before ? SM_ERR_INVALID : SM_OK;
  if (s == SM_OK) {
    size_t sz = onnx__model_proto__get_packed_size(m);
    if ((int64_t)sz > EXPORT_MAX_FILE) {
      sm_error(d, (SmLoc){out, 0, 0}, "the exported model would be %zu bytes, over protobuf's 2 GiB "
                                      "limit", sz);
      s = SM_ERR_INVALID;
    } else {
      uint8_t *pb = malloc(sz ? sz : 1);
      if (!pb) {
        sm_error(d, (SmLoc){out, 0, 0}, "out of memory");
        s = SM_ERR_IO;
      } else {
        onnx__model_proto__pack(m, pb);
        s = sm_write_file_atomic(out, pb, sz, d);
        free(pb);
      }
    }
  }
  for (size_t i = 0; i < nsv; i++) restore(&sv[i]);
  free(sv);
  rt_st_close(st);
  onnx__model_proto__free_unpacked(m, NULL);
  return s;
}

/* ---- the template of `./prog train --export-onnx` ---- */

void fe_onnx_template_free(FeOnnxTemplate *t) {
  free(t->model);
  free(t->graph);
  free(t->param);
  free(t->onnx_type);
  memset(t, 0, sizeof *t);
}

/* msg packed into a new buffer (one spare byte); NULL when out of memory */
static unsigned char *pack_message(const ProtobufCMessage *msg, size_t *len) {
  *len = protobuf_c_message_get_packed_size(msg);
  unsigned char *p = malloc(*len + 1);
  if (p) protobuf_c_message_pack(msg, p);
  return p;
}

SmStatus fe_onnx_template(const char *onnx_in, const char *const *names, const int *ranks,
                          const int64_t (*dims)[8], int n, FeOnnxTemplate *t, SmDiag *d) {
  memset(t, 0, sizeof *t);
  SmLoc floc = {onnx_in, 0, 0};
  Onnx__ModelProto *m;
  SmStatus s = read_model(onnx_in, &m, d);
  if (s) return s;
  Onnx__GraphProto *g = m->graph;
  size_t ninit = g->n_initializer;
  Onnx__TensorProto **all = g->initializer, **keep = calloc(ninit + 1, sizeof *keep);
  t->param = calloc(ninit + 1, sizeof *t->param);
  t->onnx_type = calloc(ninit + 1, sizeof *t->onnx_type);
  size_t nk = 0;
  for (size_t i = 0; i < ninit; i++) {
    Onnx__TensorProto *x = all[i];
    int p = -1;
    for (int k = 0; x->name && k < n && p < 0; k++)
      if (!strcmp(names[k], x->name)) p = k;
    bool same = p >= 0 && x->has_data_type && rt_dtype_of(x->data_type) >= 0 &&
                (size_t)ranks[p] == x->n_dims;
    for (size_t j = 0; same && j < x->n_dims; j++) same = dims[p][j] == x->dims[j];
    if (!same) {
      keep[nk++] = x;
      continue;
    }
    t->param[t->n] = p;
    t->onnx_type[t->n] = x->data_type;
    t->n++;
  }
  /* pack the graph without them, then the model without the graph */
  g->initializer = keep;
  g->n_initializer = nk;
  t->graph = pack_message(&g->base, &t->graph_len);
  g->initializer = all;
  g->n_initializer = ninit;
  m->graph = NULL;
  t->model = pack_message(&m->base, &t->model_len);
  m->graph = g;
  free(keep);
  onnx__model_proto__free_unpacked(m, NULL);
  if (!t->graph || !t->model || !t->param || !t->onnx_type) {
    fe_onnx_template_free(t);
    sm_error(d, floc, "out of memory");
    return SM_ERR_IO;
  }
  return SM_OK;
}
