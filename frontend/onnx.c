/* ONNX models (protobuf, decoded with protobuf-c from Debian's onnx.proto)
 * into IR.
 *
 * Import walks the nodes in dependency order. Each ONNX name maps to an
 * entry holding either an IR value or a constant known at import time
 * (initializers, Constant nodes, and everything computed only from them, such
 * as the Shape -> Gather -> Concat -> Reshape chains exporters emit). Nodes
 * whose inputs are all constant are evaluated at once with the IR's reference
 * kernels or, for ops smelt has no kernel for (Shape, Gather, Cast, Range,
 * ...), by the small folders in onnx_lower_shape.c; their results never
 * reach the graph.
 * Initializers that a runtime op needs become parameters carrying their
 * values (IrValue.data). Every unsupported node is reported in one message.
 *
 * This file decodes and walks the model; the op table and the lowerings
 * live in onnx_ops.c and onnx_lower_*.c (see onnx_internal.h). */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx_internal.h"
#include "rt.h"

const char *ox_onnx_dtype_name(int t) {
  static const char *const names[] = {
      "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
      "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
      "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
      "float4e2m1", "float8e8m0", "uint2", "int2"};
  return t >= 0 && t < SM_COUNT(names) ? names[t] : "an unknown type";
}

/* smelt dtype of an ONNX element type. */
bool ox_map_dtype(int t, IrDType *out) {
  switch (t) {
  case OT_FLOAT: *out = IR_F32; return true;
  case OT_DOUBLE: *out = IR_F64; return true;
  case OT_INT64: *out = IR_I64; return true;
  case OT_INT32: *out = IR_I32; return true;
  case OT_UINT8: *out = IR_U8; return true;
  case OT_BOOL: *out = IR_BOOL; return true;
  default: return false;
  }
}

/* ---- name table ---- */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static Ent *lookup(Im *im, const char *name) {
  if (!im->cap) return NULL;
  for (size_t i = hash_str(name) & (im->cap - 1);; i = (i + 1) & (im->cap - 1)) {
    if (!im->tab[i]) return NULL;
    if (!strcmp(im->tab[i]->name, name)) return im->tab[i];
  }
}

static Ent *define(Im *im, const char *name) {
  Ent *e = lookup(im, name);
  if (e) {
    *e = (Ent){.name = e->name};
    return e;
  }
  if (2 * (im->n + 1) > im->cap) {
    size_t nc = im->cap ? 2 * im->cap : 64;
    Ent **nt = sm_xcalloc(nc, sizeof *nt);
    for (size_t i = 0; i < im->cap; i++) {
      if (!im->tab[i]) continue;
      size_t j = hash_str(im->tab[i]->name) & (nc - 1);
      while (nt[j]) j = (j + 1) & (nc - 1);
      nt[j] = im->tab[i];
    }
    free(im->tab);
    im->tab = nt;
    im->cap = nc;
  }
  e = sm_arena_alloc(&im->g->arena, sizeof *e);
  e->name = sm_arena_strdup(&im->g->arena, name);
  size_t j = hash_str(name) & (im->cap - 1);
  while (im->tab[j]) j = (j + 1) & (im->cap - 1);
  im->tab[j] = e;
  im->n++;
  return e;
}

/* ---- constants ---- */
IrTensor *ox_new_const(Im *im, IrType t) {
  IrTensor *c = sm_xcalloc(1, sizeof *c);
  *c = ir_tensor_new(t);
  SM_VEC_PUSH(&im->g->arena, im->owned, im->nowned, im->capowned, c);
  return c;
}

/* double -> int64 without undefined behaviour: saturates, NaN is 0 */
int64_t ox_d2i(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

/* double -> float, overflow to +-inf without undefined behaviour */
static float d2f(double v) {
  if (v > FLT_MAX) return INFINITY;
  if (v < -FLT_MAX) return -INFINITY;
  return (float)v;
}

double ox_round_to(IrDType t, double v) {
  switch (t) {
  case IR_F32: return d2f(v);
  case IR_I64: return isfinite(v) ? (double)ox_d2i(v) : 0;
  case IR_I32: return isfinite(v) ? (double)(int32_t)(uint32_t)(uint64_t)ox_d2i(v) : 0;
  case IR_U8: return isfinite(v) ? (double)(uint8_t)(uint64_t)ox_d2i(v) : 0;
  case IR_BOOL: return v != 0;
  default: return v;
  }
}

static void track_consts(Im *im) {
  if (im->nconsts >= im->g->nvalues + 1) return;
  int nc = 2 * im->g->nvalues + 64;
  im->consts = sm_xrealloc(im->consts, sizeof *im->consts * (size_t)nc);
  im->cparam = sm_xrealloc(im->cparam, (size_t)nc);
  for (int i = im->nconsts; i < nc; i++) {
    im->consts[i] = NULL;
    im->cparam[i] = false;
  }
  im->nconsts = nc;
}

static IrTensor *const_of_value(Im *im, const IrValue *v) {
  return v->id < im->nconsts ? im->consts[v->id] : NULL;
}

/* ---- errors ---- */
__attribute__((format(printf, 2, 3))) bool ox_fail(Im *im, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_verror(im->d, im->loc, fmt, ap);
  va_end(ap);
  im->failed = true;
  return false;
}

/* A constant computed at import (not read from the file) must stay small. */
bool ox_fold_size_ok(Im *im, const IrType *t) {
  int64_t n = ir_type_numel(t);
  if (n >= 0 && n <= ONNX_MAX_FOLD) return true;
  char s[IR_TYPE_STRLEN];
  return ox_fail(im, "a tensor computed at import time, %s, has more than 2^24 elements",
              ir_type_str(t, s, sizeof s));
}

/* ---- tensors from TensorProto ---- */
/* A non-negative decimal integer of external_data (offset, length). */
static bool ext_int(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno || v < 0 || *s == '-' || *s == '+' || *s == ' ') return false;
  *out = v;
  return true;
}

/* Bytes of physical memory (UINT64_MAX when unknown). */
static uint64_t phys_mem(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

/* Whether resolved path `file` lies inside resolved directory `dir`. */
static bool path_inside(const char *file, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return file[0] == '/';
  return !strncmp(file, dir, n) && file[n] == '/';
}

/* The tensor's bytes from its external data file, which must be a regular
 * file inside the model's directory once symbolic links are resolved. */
static bool read_external(Im *im, const Onnx__TensorProto *t, size_t want, uint8_t **out) {
  const char *nm = t->name ? t->name : "";
  const char *loc = NULL;
  int64_t off = 0, len = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = t->external_data[i];
    if (!kv->key || !kv->value) continue;
    if (!strcmp(kv->key, "location")) loc = kv->value;
    else if ((!strcmp(kv->key, "offset") && !ext_int(kv->value, &off)) ||
             (!strcmp(kv->key, "length") && !ext_int(kv->value, &len)))
      return ox_fail(im, "tensor '%s': external data %s \"%s\" is not a non-negative integer", nm,
                  kv->key, kv->value);
  }
  if (!loc || !*loc) return ox_fail(im, "tensor '%s': external data without a location", nm);
  if (loc[0] == '/' || strstr(loc, ".."))
    return ox_fail(im, "tensor '%s': external data location '%s' must be a relative path inside "
                    "the model's directory", nm, loc);
  if (len >= 0 && (uint64_t)len != want)
    return ox_fail(im, "tensor '%s': external data length %lld, but the tensor needs %zu bytes", nm,
                (long long)len, want);
  char *file = sm_arena_printf(&im->g->arena, "%s/%s", im->dir, loc);
  char *rdir = realpath(im->dir, NULL), *rfile = rdir ? realpath(file, NULL) : NULL;
  if (!rfile) {
    int err = errno;
    free(rdir);
    return ox_fail(im, "tensor '%s': cannot open external data file %s: %s", nm, file, strerror(err));
  }
  if (!path_inside(rfile, rdir)) {
    ox_fail(im, "tensor '%s': external data location '%s' resolves to %s, outside the model's "
             "directory %s", nm, loc, rfile, rdir);
    free(rdir);
    free(rfile);
    return false;
  }
  free(rdir);
  RtErr re;
  FILE *f = rt_in_open(rfile, &re); /* regular files only; a FIFO is refused at once */
  free(rfile);
  if (!f) return ox_fail(im, "tensor '%s': external data location '%s': %s", nm, loc, re.msg);
  struct stat st;
  memset(&st, 0, sizeof st);
  if (fstat(fileno(f), &st) != 0 || st.st_size < off || (uint64_t)(st.st_size - off) < want) {
    fclose(f);
    return ox_fail(im, "tensor '%s': external data file %s is too short (%lld bytes; needs %zu "
                    "at offset %lld)", nm, file, (long long)st.st_size, want, (long long)off);
  }
  uint8_t *buf = sm_xmalloc(want ? want : 1);
  bool ok = fseeko(f, off, SEEK_SET) == 0 && fread(buf, 1, want, f) == want;
  fclose(f);
  if (!ok) {
    free(buf);
    return ox_fail(im, "tensor '%s': cannot read external data file %s", nm, file);
  }
  *out = buf;
  return true;
}

static double raw_elem(const uint8_t *p, int ot, int64_t i) {
  switch (ot) {
  case OT_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); return v; }
  case OT_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
  case OT_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
  case OT_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
  case OT_BOOL: return p[i] != 0;
  default: return p[i];
  }
}

/* Decode a TensorProto into a constant; raw (optional) gets the bytes in
 * the smelt dtype, allocated in the graph arena (NULL for bool). */
IrTensor *ox_decode_tensor(Im *im, const Onnx__TensorProto *t, void **raw) {
  const char *nm = t->name && *t->name ? t->name : "(unnamed)";
  IrDType dt;
  int ot = t->has_data_type ? t->data_type : 0;
  if (!ox_map_dtype(ot, &dt)) {
    ox_fail(im, "tensor '%s' has element type %s (smelt supports float, double, int64, int32, "
             "uint8 and bool)", nm, ox_onnx_dtype_name(ot));
    return NULL;
  }
  if (t->n_dims > IR_MAX_RANK) {
    ox_fail(im, "tensor '%s' has rank %zu (at most %d)", nm, t->n_dims, IR_MAX_RANK);
    return NULL;
  }
  IrType ty = {.dtype = dt, .rank = (int)t->n_dims};
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0) {
      ox_fail(im, "tensor '%s' has a negative dim %lld", nm, (long long)t->dims[i]);
      return NULL;
    }
    ty.dims[i] = t->dims[i];
  }
  int64_t numel = ir_type_numel(&ty);
  if (numel < 0) {
    char s[IR_TYPE_STRLEN];
    ox_fail(im, "tensor '%s': dims %s have more than 2^40 elements", nm, ir_type_str(&ty, s, sizeof s));
    return NULL;
  }
  size_t esz = ot == OT_BOOL ? 1 : ir_dtype_size(dt);
  size_t want = (size_t)numel * esz;
  uint8_t *ext = NULL;
  const uint8_t *bytes = NULL;
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    /* the only source not bounded by the model file's size (a sparse file
     * can claim terabytes): the bytes and their doubles must fit in memory */
    if ((uint64_t)numel * sizeof(double) + want > phys_mem()) {
      ox_fail(im, "tensor '%s': %lld elements of external data do not fit in this machine's memory",
           nm, (long long)numel);
      return NULL;
    }
    if (!read_external(im, t, want, &ext)) return NULL;
    bytes = ext;
  } else if (t->has_raw_data) {
    bytes = t->raw_data.data;
    if (t->raw_data.len != want) {
      ox_fail(im, "tensor '%s': raw_data has %zu bytes, but %lld %s elements need %zu", nm,
           t->raw_data.len, (long long)numel, ox_onnx_dtype_name(ot), want);
      return NULL;
    }
  }
  if (!bytes) { /* typed fields: check the count before allocating */
    size_t cnt;
    switch (ot) {
    case OT_FLOAT: cnt = t->n_float_data; break;
    case OT_DOUBLE: cnt = t->n_double_data; break;
    case OT_INT64: cnt = t->n_int64_data; break;
    default: cnt = t->n_int32_data; break;
    }
    if (cnt != (size_t)numel) {
      ox_fail(im, "tensor '%s' holds %zu values, but its dims need %lld", nm, cnt, (long long)numel);
      free(ext);
      return NULL;
    }
  }
  IrTensor *c = ox_new_const(im, ty);
  if (bytes) {
    for (int64_t i = 0; i < numel; i++) c->d[i] = raw_elem(bytes, ot, i);
  } else {
    for (int64_t i = 0; i < numel; i++)
      c->d[i] = ot == OT_FLOAT ? t->float_data[i] : ot == OT_DOUBLE ? t->double_data[i]
              : ot == OT_INT64 ? (double)t->int64_data[i] : ot == OT_BOOL ? t->int32_data[i] != 0
              : (double)t->int32_data[i];
  }
  if (raw) *raw = bytes && ot != OT_BOOL ? sm_arena_memdup(&im->g->arena, bytes, want ? want : 1) : NULL;
  free(ext);
  return c;
}

/* ---- building IR ---- */
const IrOpDef *ox_opdef(const char *name) {
  const IrOpDef *op = ir_op_find(name);
  SM_ASSERT(op);
  return op;
}

static void store_elem(void *p, IrDType t, int64_t i, double v) {
  switch (t) {
  case IR_F32: ((float *)p)[i] = d2f(v); break;
  case IR_F64: ((double *)p)[i] = v; break;
  case IR_I64: ((int64_t *)p)[i] = ox_d2i(v); break;
  case IR_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)ox_d2i(v); break;
  case IR_BOOL: ((uint8_t *)p)[i] = v != 0; break;
  default: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)ox_d2i(v); break;
  }
}

/* The IR value of an entry, materializing constants: parameter-derived ones
 * become parameters with their values, the rest `constant` nodes. */
IrValue *ox_val(Im *im, Ent *e) {
  if (e->v) return e->v;
  if (e->bad) {
    im->failed = true;
    return NULL;
  }
  if (e->init && !e->c) {
    void *raw = NULL;
    e->c = ox_decode_tensor(im, e->init, &raw);
    if (!e->c) {
      e->bad = true;
      return NULL;
    }
    e->param = true;
    if (raw) {
      IrValue *p = ir_add_param(im->g, e->name, e->c->type, (IrInit){IR_INIT_ZEROS, 0, 0}, im->loc);
      p->data = raw;
      e->v = p;
      track_consts(im);
      im->consts[p->id] = e->c;
      im->cparam[p->id] = true;
      return p;
    }
  }
  if (!e->c) {
    ox_fail(im, "'%s' has no value", e->name);
    return NULL;
  }
  IrTensor *c = e->c;
  int64_t numel = c->numel;
  if (e->param) {
    IrValue *p = ir_add_param(im->g, e->name, c->type, (IrInit){IR_INIT_ZEROS, 0, 0}, im->loc);
    void *data = sm_arena_alloc(&im->g->arena, (size_t)(numel ? numel : 1) * ir_dtype_size(c->type.dtype));
    for (int64_t i = 0; i < numel; i++) store_elem(data, c->type.dtype, i, c->d[i]);
    p->data = data;
    e->v = p;
  } else {
    IrNode *n = ir_add_node(im->g, ox_opdef("constant"), NULL, 0, (const char *[]){e->name}, 1, im->loc);
    ir_set_ints(im->g, n, "shape", c->type.dims, c->type.rank);
    ir_set_floats(im->g, n, "value", c->d, (int)numel);
    ir_set_str(im->g, n, "dtype", ir_dtype_name(c->type.dtype));
    if (!ir_infer_node(n, im->d)) {
      im->failed = true;
      return NULL;
    }
    e->v = n->out[0];
  }
  track_consts(im);
  im->consts[e->v->id] = c;
  im->cparam[e->v->id] = e->param;
  return e->v;
}

IrNode *ox_mk(Im *im, const char *op, IrValue *const *in, int nin) {
  return ir_add_node(im->g, ox_opdef(op), (IrValue **)in, nin, NULL, 1, im->loc);
}

/* Infer n's types; evaluate it now when every input is known. */
IrValue *ox_fin(Im *im, IrNode *n) {
  if (!ir_infer_node(n, im->d)) {
    im->failed = true;
    return NULL;
  }
  track_consts(im);
  bool all = true, fromp = false;
  for (int i = 0; i < n->nin && all; i++) {
    all = const_of_value(im, n->in[i]) != NULL;
    fromp |= all && im->cparam[n->in[i]->id];
  }
  /* float results derived from parameters (weights) stay at run time, so
   * the parameters remain the initializers themselves (trained and
   * exported under their ONNX names); shape arithmetic on them folds */
  bool float_out = false;
  for (int o = 0; o < n->nout; o++) float_out |= ir_dtype_is_float(n->out[o]->type.dtype);
  for (int o = 0; o < n->nout && all; o++) all = ir_type_numel(&n->out[o]->type) <= ONNX_MAX_FOLD;
  if (all && n->op->ref && (!fromp || (im->fold_params && !float_out))) { /* composites have no ref */
    IrTensor in[16], out[8];
    IrTensor *res[8];
    SM_ASSERT(n->nin <= 16 && n->nout <= 8);
    for (int i = 0; i < n->nin; i++) in[i] = *const_of_value(im, n->in[i]);
    for (int o = 0; o < n->nout; o++) {
      res[o] = ox_new_const(im, n->out[o]->type);
      out[o] = *res[o];
    }
    n->op->ref(n, in, out);
    for (int o = 0; o < n->nout; o++) {
      im->consts[n->out[o]->id] = res[o];
      im->cparam[n->out[o]->id] = fromp;
    }
  }
  return n->out[0];
}

/* ---- ONNX node attributes and inputs ---- */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
  return NULL;
}

int64_t ox_aint(const Onnx__NodeProto *n, const char *name, int64_t dflt) {
  const Onnx__AttributeProto *a = ox_attr(n, name);
  return a && a->has_i ? a->i : dflt;
}

double ox_afloat(const Onnx__NodeProto *n, const char *name, double dflt) {
  const Onnx__AttributeProto *a = ox_attr(n, name);
  return a && a->has_f ? a->f : dflt;
}

const char *ox_astr(Im *im, const Onnx__NodeProto *n, const char *name, const char *dflt) {
  const Onnx__AttributeProto *a = ox_attr(n, name);
  if (!a || !a->has_s) return dflt;
  return sm_arena_strndup(&im->g->arena, (const char *)a->s.data, a->s.len);
}

/* INTS attribute into out[max]: count, -1 when absent, -2 after an error. */
int ox_aints(Im *im, const Onnx__NodeProto *n, const char *name, int64_t *out, int max) {
  const Onnx__AttributeProto *a = ox_attr(n, name);
  if (!a) return -1;
  if (a->n_ints > (size_t)max) {
    ox_fail(im, "attribute %s has %zu values (at most %d)", name, a->n_ints, max);
    return -2;
  }
  for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
  return (int)a->n_ints;
}

IrTensor *ox_ent_const(Im *im, Ent *e) {
  if (e->bad) {
    im->failed = true;
    return NULL;
  }
  if (!e->c && e->init) {
    e->c = ox_decode_tensor(im, e->init, NULL);
    e->param = true;
    e->bad = !e->c;
  }
  if (!e->c && e->v) {
    track_consts(im);
    return const_of_value(im, e->v);
  }
  return e->c;
}

const IrType *ox_ent_type(Im *im, Ent *e) {
  if (e->v) return &e->v->type;
  IrTensor *c = ox_ent_const(im, e);
  return c ? &c->type : NULL;
}

/* Input k as a constant, with an error when it is computed at run time. */
IrTensor *ox_in_const(Im *im, Args *a, int k, const char *what) {
  IrTensor *c = ox_has_in(a, k) ? ox_ent_const(im, a->in[k]) : NULL;
  if (!c && !im->failed)
    ox_fail(im, "input %d (%s, '%s') must be known at import time: smelt compiles static shapes "
             "and this value depends on a graph input", k, what, ox_has_in(a, k) ? a->in[k]->name : "");
  return c;
}

int ox_const_ints(Im *im, Args *a, int k, const char *what, int64_t *out, int max) {
  IrTensor *c = ox_in_const(im, a, k, what);
  if (!c) return -1;
  if (c->numel > max) {
    ox_fail(im, "input %d (%s) has %lld values (at most %d)", k, what, (long long)c->numel, max);
    return -1;
  }
  for (int64_t i = 0; i < c->numel; i++) out[i] = ox_d2i(c->d[i]);
  return (int)c->numel;
}

void ox_set_out(Args *a, int k, IrValue *v) {
  if (ox_has_out(a, k) && v) a->out[k]->v = v;
}

void ox_set_const(Args *a, int k, IrTensor *c, bool param) {
  if (!ox_has_out(a, k)) return;
  a->out[k]->c = c;
  a->out[k]->param = param;
}

/* Float math on parameters stays at run time (it is part of the model);
 * only shape arithmetic on them is folded. */
IrValue *ox_keep_float_params(Im *im, IrValue *r) {
  if (r && const_of_value(im, r) && im->cparam[r->id] && ir_dtype_is_float(r->type.dtype))
    im->consts[r->id] = NULL;
  return r;
}

/* ---- graph inputs ---- */
/* "1x3x224x224" (also "1,3,224,224"; "" is a scalar) */
static bool parse_shape_arg(const char *s, int64_t *dims, int *rank) {
  *rank = 0;
  while (*s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || errno || *rank == IR_MAX_RANK) return false;
    dims[(*rank)++] = v;
    s = end;
    if (*s == 'x' || *s == 'X' || *s == ',') s++;
    else if (*s) return false;
  }
  return true;
}

/* The value of --input-shape KEY=..., or NULL. */
static const char *shape_opt(const FeOptions *fo, const char *key) {
  size_t n = strlen(key);
  for (int k = 0; fo && k < fo->ninput_shapes; k++) {
    const char *a = fo->input_shapes[k];
    if (!strncmp(a, key, n) && a[n] == '=') return a + n + 1;
  }
  return NULL;
}

static bool add_input(Im *im, const Onnx__ValueInfoProto *vi) {
  const FeOptions *fo = im->fo;
  SmLoc loc = {sm_arena_printf(&im->g->arena, "%s: input '%s'", im->path, vi->name), 0, 0};
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    sm_error(im->d, loc, "only tensor inputs are supported");
    return false;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  IrDType dt;
  if (!ox_map_dtype(tt->elem_type, &dt)) {
    sm_error(im->d, loc, "element type %s is not supported (float, double, int64, int32, uint8, bool are)",
             ox_onnx_dtype_name(tt->elem_type));
    return false;
  }
  IrType t = {.dtype = dt};
  const char *given = shape_opt(fo, vi->name);
  if (given) {
    int64_t gd[IR_MAX_RANK];
    int grank;
    if (!parse_shape_arg(given, gd, &grank)) {
      sm_error(im->d, loc, "--input-shape %s=%s: expected D1xD2x...", vi->name, given);
      return false;
    }
    if (tt->shape && (int)tt->shape->n_dim != grank) {
      sm_error(im->d, loc, "--input-shape gives rank %d, the model declares rank %zu", grank, tt->shape->n_dim);
      return false;
    }
    t.rank = grank;
    memcpy(t.dims, gd, sizeof(int64_t) * (size_t)grank);
  } else if (!tt->shape) {
    sm_error(im->d, loc, "has no shape; give one with --input-shape %s=D1xD2x...", vi->name);
    return false;
  } else {
    if (tt->shape->n_dim > IR_MAX_RANK) {
      sm_error(im->d, loc, "rank %zu exceeds %d", tt->shape->n_dim, IR_MAX_RANK);
      return false;
    }
    t.rank = (int)tt->shape->n_dim;
    for (int j = 0; j < t.rank; j++) {
      const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[j];
      if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value >= 0) {
        t.dims[j] = dm->dim_value;
        continue;
      }
      const char *sym = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                dm->dim_param && *dm->dim_param ? dm->dim_param : NULL;
      const char *b = sym ? shape_opt(fo, sym) : NULL;
      char *end = NULL;
      long long v = b ? strtoll(b, &end, 10) : -1;
      if (!b || !*b || *end || v < 0) {
        if (sym)
          sm_error(im->d, loc, "dim %d is the symbol '%s' and is not bound; give --input-shape %s=SIZE "
                               "or --input-shape %s=D1xD2x...", j, sym, sym, vi->name);
        else
          sm_error(im->d, loc, "dim %d is unknown; give the shape with --input-shape %s=D1x...", j, vi->name);
        return false;
      }
      t.dims[j] = v;
    }
  }
  if (ir_type_numel(&t) < 0) {
    char s[IR_TYPE_STRLEN];
    sm_error(im->d, loc, "shape %s has more than 2^40 elements", ir_type_str(&t, s, sizeof s));
    return false;
  }
  Ent *e = define(im, vi->name);
  e->v = ir_add_input(im->g, vi->name, t, loc);
  return true;
}

static bool add_inputs(Im *im, const Onnx__GraphProto *gp) {
  bool ok = true;
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || !*vi->name) {
      sm_error(im->d, (SmLoc){im->path, 0, 0}, "graph input %zu has no name", i);
      ok = false;
      continue;
    }
    Ent *e = lookup(im, vi->name);
    if (e && e->init) continue; /* IR < 4: initializers are listed as inputs too */
    if (e) {
      sm_error(im->d, (SmLoc){im->path, 0, 0}, "graph input '%s' is declared twice", vi->name);
      ok = false;
      continue;
    }
    ok &= add_input(im, vi);
  }
  return ok;
}

/* ---- whole model ---- */
static bool nonempty(const char *s) { return s && *s; }

typedef struct Prod {
  const char *name;
  int node;
} Prod;

static int prod_find(const Prod *tab, size_t cap, const char *nm) {
  size_t j = hash_str(nm) & (cap - 1);
  while (tab[j].name && strcmp(tab[j].name, nm)) j = (j + 1) & (cap - 1);
  return tab[j].name ? tab[j].node : -1;
}

/* Nodes in dependency order (Kahn's algorithm, stable); false on a cycle. */
static bool order_nodes(Im *im, const Onnx__GraphProto *gp, int *order) {
  size_t nn = gp->n_node, nout = 0;
  for (size_t i = 0; i < nn; i++) nout += gp->node[i]->n_output;
  size_t cap = 16;
  while (cap < 2 * (nout + 1)) cap *= 2;
  Prod *tab = sm_xcalloc(cap, sizeof *tab);
  for (size_t i = 0; i < nn; i++)
    for (size_t o = 0; o < gp->node[i]->n_output; o++) {
      const char *nm = gp->node[i]->output[o];
      if (!nonempty(nm)) continue;
      size_t j = hash_str(nm) & (cap - 1);
      while (tab[j].name && strcmp(tab[j].name, nm)) j = (j + 1) & (cap - 1);
      tab[j] = (Prod){nm, (int)i};
    }
  int *indeg = sm_xcalloc(nn + 1, sizeof *indeg);
  int *ustart = sm_xcalloc(nn + 2, sizeof *ustart);
  for (size_t i = 0; i < nn; i++)
    for (size_t k = 0; k < gp->node[i]->n_input; k++) {
      int p = nonempty(gp->node[i]->input[k]) ? prod_find(tab, cap, gp->node[i]->input[k]) : -1;
      if (p >= 0) ustart[p + 1]++;
    }
  for (size_t i = 1; i <= nn; i++) ustart[i] += ustart[i - 1];
  int *users = sm_xcalloc((size_t)ustart[nn] + 1, sizeof *users);
  int *fill = sm_xcalloc(nn + 1, sizeof *fill);
  for (size_t i = 0; i < nn; i++)
    for (size_t k = 0; k < gp->node[i]->n_input; k++) {
      int p = nonempty(gp->node[i]->input[k]) ? prod_find(tab, cap, gp->node[i]->input[k]) : -1;
      if (p < 0) continue;
      users[ustart[p] + fill[p]++] = (int)i;
      indeg[i]++;
    }
  int head = 0, tail = 0;
  for (size_t i = 0; i < nn; i++)
    if (indeg[i] == 0) order[tail++] = (int)i;
  while (head < tail) {
    int u = order[head++];
    for (int k = ustart[u]; k < ustart[u + 1]; k++)
      if (--indeg[users[k]] == 0) order[tail++] = users[k];
  }
  bool ok = (size_t)tail == nn;
  for (size_t i = 0; !ok && i < nn; i++)
    if (indeg[i] > 0) {
      const Onnx__NodeProto *n = gp->node[i];
      sm_error(im->d, (SmLoc){im->path, 0, 0},
               "the graph has a cycle through node %zu '%s' (%s)", i, n->name ? n->name : "",
               n->op_type ? n->op_type : "?");
      break;
    }
  free(tab);
  free(indeg);
  free(ustart);
  free(users);
  free(fill);
  return ok;
}

static int64_t model_opset(Im *im, const Onnx__ModelProto *m, bool *ok) {
  int64_t v = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *dom = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
    if (!*dom || !strcmp(dom, "ai.onnx")) v = m->opset_import[i]->version;
  }
  *ok = true;
  if (v < 0) {
    sm_error(im->d, (SmLoc){im->path, 0, 0}, "the model imports no version of the default ONNX opset");
    *ok = false;
  } else if (v < ONNX_MIN_OPSET || v > ONNX_MAX_OPSET) {
    sm_error(im->d, (SmLoc){im->path, 0, 0}, "opset %lld is not supported (smelt reads opsets %d to %d)",
             (long long)v, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
    *ok = false;
  }
  return v;
}

/* Unique IR value names: exporters' names may collide with generated ones. */
static void uniquify(IrGraph *g) {
  size_t cap = 64;
  while (cap < 2 * (size_t)(g->nvalues + 1)) cap *= 2;
  const char **tab = sm_xcalloc(cap, sizeof *tab);
  int nall = g->ninputs + g->nparams;
  for (int k = 0; k < g->nnodes; k++) nall += g->nodes[k]->nout;
  IrValue **all = sm_xcalloc((size_t)nall + 1, sizeof *all);
  int na = 0;
  for (int i = 0; i < g->ninputs; i++) all[na++] = g->inputs[i];
  for (int i = 0; i < g->nparams; i++) all[na++] = g->params[i];
  for (int k = 0; k < g->nnodes; k++)
    for (int o = 0; o < g->nodes[k]->nout; o++) all[na++] = g->nodes[k]->out[o];
  for (int k = 0; k < na; k++) {
    IrValue *v = all[k];
    const char *base = v->name;
    for (int suffix = 1;; suffix++) {
      size_t j = hash_str(v->name) & (cap - 1);
      while (tab[j] && strcmp(tab[j], v->name)) j = (j + 1) & (cap - 1);
      if (!tab[j]) {
        tab[j] = v->name;
        break;
      }
      ir_value_rename(g, v, sm_arena_printf(&g->arena, "%s_%d", base, suffix));
    }
  }
  free(tab);
  free(all);
}

/* Initializers materialized for a node that was then folded away. */
static void drop_unused_params(IrGraph *g) {
  bool *used = sm_xcalloc((size_t)g->nvalues + 1, 1);
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) used[g->nodes[k]->in[i]->id] = true;
  for (int i = 0; i < g->noutputs; i++) used[g->outputs[i]->id] = true;
  int j = 0;
  for (int i = 0; i < g->nparams; i++)
    if (used[g->params[i]->id]) {
      g->params[j] = g->params[i];
      g->params[j]->index = j;
      j++;
    }
  g->nparams = j;
  free(used);
}

static void node_loc(Im *im, size_t idx, const Onnx__NodeProto *n) {
  im->loc = (SmLoc){sm_arena_printf(&im->g->arena, "%s: node %zu '%s' (%s)", im->path, idx,
                                    n->name ? n->name : "", n->op_type ? n->op_type : "?"), 0, 0};
}

/* One message listing every node whose operator smelt does not map. */
static bool check_supported(Im *im, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  SmBuf un = {0};
  int nun = 0;
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    if (ox_find_op(n)) continue;
    const char *dom = nonempty(n->domain) ? n->domain : "ai.onnx";
    int64_t ver = -1;
    for (size_t k = 0; k < m->n_opset_import; k++) {
      const char *d2 = nonempty(m->opset_import[k]->domain) ? m->opset_import[k]->domain : "ai.onnx";
      if (!strcmp(d2, dom)) ver = m->opset_import[k]->version;
    }
    sm_buf_printf(&un, "\n  node %zu '%s': %s (domain %s, opset %lld)", i, n->name ? n->name : "",
                  n->op_type ? n->op_type : "?", dom, (long long)ver);
    nun++;
  }
  if (nun)
    sm_error(im->d, (SmLoc){im->path, 0, 0}, "%d node%s use%s operators smelt does not support:%s",
             nun, nun > 1 ? "s" : "", nun > 1 ? "" : "s", sm_buf_str(&un));
  sm_buf_free(&un);
  return nun == 0;
}

/* Whether the node's input and output counts are ones op's lowering
 * handles (an error at the node otherwise). */
static bool arity_ok(Im *im, const OnnxOp *op, const Onnx__NodeProto *n) {
  int lo = op->min_in, hi = op->max_in == ANY ? 64 : op->max_in;
  int ho = op->max_out == ANY ? 8 : op->max_out;
  if (n->n_input < (size_t)lo || n->n_input > (size_t)hi) {
    if (lo == hi) sm_error(im->d, im->loc, "has %zu inputs; %s takes %d", n->n_input, op->name, lo);
    else
      sm_error(im->d, im->loc, "has %zu inputs; %s takes %d to %d", n->n_input, op->name, lo, hi);
    return false;
  }
  for (int k = 0; k < lo; k++)
    if (!nonempty(n->input[k])) {
      sm_error(im->d, im->loc, "input %d is empty; %s needs its first %d input%s", k, op->name, lo,
               lo > 1 ? "s" : "");
      return false;
    }
  if (n->n_output < 1 || n->n_output > (size_t)ho) {
    sm_error(im->d, im->loc, "has %zu outputs; %s has %s%d", n->n_output, op->name,
             ho > 1 ? "1 to " : "", ho);
    return false;
  }
  return true;
}

static void lower_node(Im *im, size_t idx, const Onnx__NodeProto *n) {
  node_loc(im, idx, n);
  Args a = {0};
  const OnnxOp *op = ox_find_op(n);
  im->op = op;
  bool poisoned = !arity_ok(im, op, n);
  for (size_t k = 0; !poisoned && k < n->n_input; k++) {
    a.in[a.nin++] = nonempty(n->input[k]) ? lookup(im, n->input[k]) : NULL;
    if (a.in[k] && a.in[k]->poison) {
      if (a.in[k]->unmade)
        sm_error(im->d, im->loc, "input '%s' is %s, which smelt does not compute", a.in[k]->name,
                 a.in[k]->unmade);
      poisoned = true;
    }
  }
  for (size_t k = 0; !poisoned && k < n->n_output; k++)
    a.out[a.nout++] = nonempty(n->output[k]) ? define(im, n->output[k]) : NULL;
  int nvals_before = im->g->nvalues;
  im->failed = false;
  im->fold_params = false;
  if (!poisoned && !op->lower(im, n, &a) && !im->failed) ox_fail(im, "cannot import this node");
  for (size_t k = 0; k < n->n_output; k++) {
    if (!nonempty(n->output[k])) continue;
    Ent *e = lookup(im, n->output[k]);
    if (poisoned || im->failed || (!e->v && !e->c)) {
      if (!poisoned && !im->failed && k == 0) ox_fail(im, "produced no result");
      bool silent = !poisoned && !im->failed;
      *e = (Ent){.name = e->name, .poison = true};
      if (silent)
        e->unmade = sm_arena_printf(&im->g->arena, "output %zu of node %zu '%s' (%s)", k, idx,
                                    n->name ? n->name : "", n->op_type);
      continue;
    }
    if (!e->v || e->v->kind != IR_VAL_NODE) continue;
    IrTensor *c = const_of_value(im, e->v);
    if (c) { /* folded: consumers get a fresh constant; the chain is pruned */
      e->param = im->cparam[e->v->id];
      e->c = c;
      e->v = NULL;
    } else if (e->v->id >= nvals_before) {
      ir_value_rename(im->g, e->v, e->name); /* the node's result carries the ONNX name */
    }
  }
}

static SmStatus import_graph(Im *im, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  SmLoc floc = {im->path, 0, 0};
  int before = im->d->nerrors;
  if (!gp) {
    sm_error(im->d, floc, "the model has no graph");
    return SM_ERR_PARSE;
  }
  bool ok;
  im->opset = model_opset(im, m, &ok);
  if (!ok) return SM_ERR_UNSUPPORTED;
  if (!check_supported(im, m)) return SM_ERR_UNSUPPORTED;
  /* initializers: constants until something needs them at run time */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    if (!nonempty(t->name)) {
      sm_error(im->d, floc, "initializer %zu has no name", i);
      continue;
    }
    if (lookup(im, t->name)) {
      sm_error(im->d, floc, "initializer '%s' is given twice", t->name);
      continue;
    }
    Ent *e = define(im, t->name);
    e->init = t;
    e->param = true;
  }
  if (gp->n_sparse_initializer) sm_error(im->d, floc, "sparse initializers are not supported");
  if (!add_inputs(im, gp) || im->d->nerrors != before) return SM_ERR_INVALID;
  /* single assignment: a node output is no other name */
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t o = 0; o < gp->node[i]->n_output; o++) {
      const char *nm = gp->node[i]->output[o];
      if (!nonempty(nm)) continue;
      if (lookup(im, nm)) {
        node_loc(im, i, gp->node[i]);
        sm_error(im->d, im->loc, "output '%s' is already defined (by a graph input, an initializer or "
                                 "another output): ONNX names are assigned once", nm);
        continue;
      }
      define(im, nm);
    }
  /* every name a node reads must be defined somewhere */
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    for (size_t k = 0; k < n->n_input; k++)
      if (nonempty(n->input[k]) && !lookup(im, n->input[k])) {
        node_loc(im, i, n);
        sm_error(im->d, im->loc, "input '%s' is not an initializer, a graph input or any node's output",
                 n->input[k]);
      }
  }
  for (size_t i = 0; i < gp->n_output; i++)
    if (!nonempty(gp->output[i]->name) || !lookup(im, gp->output[i]->name))
      sm_error(im->d, floc, "graph output '%s' is not produced by anything",
               gp->output[i]->name ? gp->output[i]->name : "");
  if (!gp->n_output) sm_error(im->d, floc, "the graph has no outputs");
  if (im->d->nerrors != before) return SM_ERR_INVALID;
  int *order = sm_xcalloc(gp->n_node + 1, sizeof *order);
  if (!order_nodes(im, gp, order)) {
    free(order);
    return SM_ERR_INVALID;
  }
  for (size_t oi = 0; oi < gp->n_node; oi++) lower_node(im, (size_t)order[oi], gp->node[order[oi]]);
  free(order);
  if (im->d->nerrors != before) return SM_ERR_INVALID;
  /* outputs, named as in the model */
  for (size_t i = 0; i < gp->n_output; i++) {
    Ent *e = lookup(im, gp->output[i]->name);
    im->loc = (SmLoc){sm_arena_printf(&im->g->arena, "%s: output '%s'", im->path, e->name), 0, 0};
    if (e->poison) {
      sm_error(im->d, im->loc, "is %s, which smelt does not compute",
               e->unmade ? e->unmade : "a failed node's result");
      continue;
    }
    IrValue *v = ox_val(im, e);
    if (!v) return SM_ERR_INVALID;
    if (v->kind != IR_VAL_NODE || strcmp(v->name, e->name)) {
      IrNode *idn = ir_add_node(im->g, ox_opdef("identity"), &v, 1, (const char *[]){e->name}, 1, im->loc);
      if (!ir_infer_node(idn, im->d)) return SM_ERR_INVALID;
      v = idn->out[0];
    }
    ir_add_output(im->g, v);
  }
  if (im->d->nerrors != before) return SM_ERR_INVALID;
  ir_prune(im->g, false);
  drop_unused_params(im->g);
  uniquify(im->g);
  return im->d->nerrors != before ? SM_ERR_INVALID : SM_OK;
}

bool fe_is_onnx(const char *path) {
  size_t n = strlen(path);
  return n >= 5 && !strcmp(path + n - 5, ".onnx");
}

static SmStatus load_onnx_bytes(const char *path, const void *buf, size_t len, const FeOptions *fo,
                                bool decompose, IrGraph **out, SmDiag *d);

static SmStatus load_onnx(const char *path, const FeOptions *fo, bool decompose, IrGraph **out,
                          SmDiag *d) {
  *out = NULL;
  SmLoc floc = {path, 0, 0};
  struct stat st;
  if (stat(path, &st) != 0) {
    sm_error(d, floc, "cannot open: %s", strerror(errno));
    return SM_ERR_IO;
  }
  if ((int64_t)st.st_size > ONNX_MAX_FILE) {
    sm_error(d, floc, "file is %lld bytes, over protobuf's 2 GiB limit (store the weights as "
                      "external data)", (long long)st.st_size);
    return SM_ERR_PARSE;
  }
  char *buf;
  size_t len;
  SmStatus s = sm_read_file(path, &buf, &len, d);
  if (s) return s;
  s = load_onnx_bytes(path, buf, len, fo, decompose, out, d);
  free(buf);
  return s;
}

static SmStatus load_onnx_bytes(const char *path, const void *buf, size_t len, const FeOptions *fo,
                                bool decompose, IrGraph **out, SmDiag *d) {
  *out = NULL;
  SmLoc floc = {path, 0, 0};
  SmStatus s;
  if (!fe_onnx_wire_check(path, buf, len, d)) return SM_ERR_PARSE;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
  if (!m) {
    sm_error(d, floc, "not a valid ONNX model: the protobuf is truncated or corrupt");
    return SM_ERR_PARSE;
  }
  if (!m->has_ir_version || m->ir_version < ONNX_MIN_IR || m->ir_version > ONNX_MAX_IR) {
    sm_error(d, floc, "unknown ONNX IR version %lld (smelt reads %d to %d)",
             (long long)(m->has_ir_version ? m->ir_version : 0), ONNX_MIN_IR, ONNX_MAX_IR);
    onnx__model_proto__free_unpacked(m, NULL);
    return SM_ERR_UNSUPPORTED;
  }
  char name[128];
  fe_model_name(path, name, sizeof name);
  Im im = {.g = ir_graph_new(name), .d = d, .path = path, .fo = fo};
  const char *slash = strrchr(path, '/');
  im.dir = slash == path ? "/" : slash ? sm_arena_strndup(&im.g->arena, path, (size_t)(slash - path)) : ".";
  s = import_graph(&im, m);
  for (int i = 0; i < im.nowned; i++) {
    ir_tensor_free(im.owned[i]);
    free(im.owned[i]);
  }
  free(im.tab);
  free(im.consts);
  free(im.cparam);
  onnx__model_proto__free_unpacked(m, NULL);
  if (s == SM_OK && decompose && !ir_decompose(im.g, d)) s = SM_ERR_INVALID;
  if (s == SM_OK && !ir_verify(im.g, d)) s = SM_ERR_INTERNAL;
  if (s != SM_OK) {
    ir_graph_free(im.g);
    return s;
  }
  *out = im.g;
  return SM_OK;
}

SmStatus fe_load_onnx(const char *path, const FeOptions *fo, IrGraph **out, SmDiag *d) {
  return load_onnx(path, fo, true, out, d);
}

SmStatus fe_load_onnx_mem(const char *name, const void *data, size_t len, const FeOptions *fo,
                          IrGraph **out, SmDiag *d) {
  if ((int64_t)len > ONNX_MAX_FILE) {
    *out = NULL;
    sm_error(d, (SmLoc){name, 0, 0}, "model is %zu bytes, over protobuf's 2 GiB limit", len);
    return SM_ERR_PARSE;
  }
  return load_onnx_bytes(name, data, len, fo, true, out, d);
}

SmStatus fe_onnx_to_smelt(const char *onnx, const FeOptions *fo, const char *out_prefix, SmDiag *d) {
  IrGraph *g = NULL;
  SmStatus s = load_onnx(onnx, fo, false, &g, d);
  if (s != SM_OK) return s;
  SmBuf text = {0};
  if (out_prefix)
    sm_buf_printf(&text, "# imported from %s; run with --weights %s.safetensors\n", onnx, out_prefix);
  else
    sm_buf_printf(&text, "# imported from %s\n", onnx);
  ir_print(&text, g);
  if (!out_prefix) {
    fputs(sm_buf_str(&text), stdout);
  } else {
    char *path = sm_arena_printf(&g->arena, "%s.smelt", out_prefix);
    s = sm_write_file_atomic(path, sm_buf_str(&text), strlen(sm_buf_str(&text)), d);
    if (s == SM_OK) {
      RtStEntry *ents = sm_xcalloc((size_t)g->nparams + 1, sizeof *ents);
      int n = 0;
      for (int i = 0; i < g->nparams; i++) {
        const IrValue *p = g->params[i];
        if (!p->data) continue;
        ents[n++] = (RtStEntry){p->name, (int)p->type.dtype, p->type.rank, p->type.dims, p->data};
      }
      RtErr e = {{0}};
      char *wpath = sm_arena_printf(&g->arena, "%s.safetensors", out_prefix);
      if (rt_st_write(wpath, ents, n, &e)) {
        sm_error(d, (SmLoc){wpath, 0, 0}, "%s", e.msg);
        s = SM_ERR_IO;
      }
      free(ents);
    }
  }
  sm_buf_free(&text);
  ir_graph_free(g);
  return s;
}
