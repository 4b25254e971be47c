/* ONNX models (protobuf, decoded with protobuf-c from Debian's onnx.proto)
 * into IR.
 *
 * Import walks the nodes in dependency order. Each ONNX name maps to an
 * entry holding either an IR value or a constant known at import time
 * (initializers, Constant nodes, and everything computed only from them, such
 * as the Shape -> Gather -> Concat -> Reshape chains exporters emit). Nodes
 * whose inputs are all constant are evaluated at once with the IR's reference
 * kernels or, for ops smelt has no kernel for (Shape, Gather, Cast, Range,
 * ...), by the small folders here; their results never reach the graph.
 * Initializers that a runtime op needs become parameters carrying their
 * values (IrValue.data). Every unsupported node is reported in one message. */
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

#include "frontend/frontend.h"
#include "ir/ops/ops.h"
#include "onnx.pb-c.h"
#include "rt.h"

#define ONNX_MAX_FILE ((int64_t)2 << 30) /* protobuf's 2 GiB message limit */
#define ONNX_MIN_OPSET 7
#define ONNX_MAX_OPSET 28
#define ONNX_MAX_FOLD ((int64_t)1 << 24) /* elements of a tensor computed at import */
#define ONNX_MAX_STRIDE ((int64_t)1 << 20) /* strides and dilations: window arithmetic fits int64 */
#define ONNX_MIN_IR 3
#define ONNX_MAX_IR 14

enum { OT_FLOAT = 1, OT_UINT8 = 2, OT_INT8 = 3, OT_UINT16 = 4, OT_INT16 = 5, OT_INT32 = 6,
       OT_INT64 = 7, OT_STRING = 8, OT_BOOL = 9, OT_FLOAT16 = 10, OT_DOUBLE = 11,
       OT_UINT32 = 12, OT_UINT64 = 13, OT_BFLOAT16 = 16 };

static const char *onnx_dtype_name(int t) {
  static const char *const names[] = {
      "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
      "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
      "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
      "float4e2m1", "float8e8m0", "uint2", "int2"};
  return t >= 0 && t < SM_COUNT(names) ? names[t] : "an unknown type";
}

/* smelt dtype of an ONNX element type. */
static bool map_dtype(int t, IrDType *out) {
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

/* A name's meaning during import. */
typedef struct Ent {
  const char *name;
  IrValue *v;          /* run-time value (NULL while only a constant) */
  IrTensor *c;         /* value known at import time */
  bool param;          /* c derives from initializers: materialize as a parameter */
  bool poison;         /* its producer failed; consumers stay silent */
  bool bad;            /* the initializer failed to decode (reported once) */
  const char *unmade;  /* poison without an error: "output K of node ...", which its
                          producer declares but does not compute (reported at use) */
  const Onnx__TensorProto *init; /* undecoded initializer */
} Ent;

typedef struct Im {
  IrGraph *g;
  SmDiag *d;
  const char *path, *dir;
  const FeOptions *fo;
  int64_t opset;
  Ent **tab;
  size_t cap, n;
  IrTensor **consts; /* by IR value id: its value if known at import */
  bool *cparam;      /* by IR value id: that constant derives from parameters */
  int nconsts;
  IrTensor **owned;
  int nowned, capowned;
  bool fold_params; /* the node being lowered computes shapes: fold parameters too */
  SmLoc loc;        /* of the node being lowered */
  bool failed;      /* the current node reported an error */
} Im;

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
static IrTensor *new_const(Im *im, IrType t) {
  IrTensor *c = sm_xcalloc(1, sizeof *c);
  *c = ir_tensor_new(t);
  SM_VEC_PUSH(&im->g->arena, im->owned, im->nowned, im->capowned, c);
  return c;
}

/* double -> int64 without undefined behaviour: saturates, NaN is 0 */
static int64_t d2i(double v) {
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

static double round_to(IrDType t, double v) {
  switch (t) {
  case IR_F32: return d2f(v);
  case IR_I64: return isfinite(v) ? (double)d2i(v) : 0;
  case IR_I32: return isfinite(v) ? (double)(int32_t)(uint32_t)(uint64_t)d2i(v) : 0;
  case IR_U8: return isfinite(v) ? (double)(uint8_t)(uint64_t)d2i(v) : 0;
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
__attribute__((format(printf, 2, 3))) static bool fail(Im *im, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_verror(im->d, im->loc, fmt, ap);
  va_end(ap);
  im->failed = true;
  return false;
}

/* A constant computed at import (not read from the file) must stay small. */
static bool fold_size_ok(Im *im, const IrType *t) {
  int64_t n = ir_type_numel(t);
  if (n >= 0 && n <= ONNX_MAX_FOLD) return true;
  char s[IR_TYPE_STRLEN];
  return fail(im, "a tensor computed at import time, %s, has more than 2^24 elements",
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
      return fail(im, "tensor '%s': external data %s \"%s\" is not a non-negative integer", nm,
                  kv->key, kv->value);
  }
  if (!loc || !*loc) return fail(im, "tensor '%s': external data without a location", nm);
  if (loc[0] == '/' || strstr(loc, ".."))
    return fail(im, "tensor '%s': external data location '%s' must be a relative path inside "
                    "the model's directory", nm, loc);
  if (len >= 0 && (uint64_t)len != want)
    return fail(im, "tensor '%s': external data length %lld, but the tensor needs %zu bytes", nm,
                (long long)len, want);
  char *file = sm_arena_printf(&im->g->arena, "%s/%s", im->dir, loc);
  char *rdir = realpath(im->dir, NULL), *rfile = rdir ? realpath(file, NULL) : NULL;
  if (!rfile) {
    int err = errno;
    free(rdir);
    return fail(im, "tensor '%s': cannot open external data file %s: %s", nm, file, strerror(err));
  }
  if (!path_inside(rfile, rdir)) {
    fail(im, "tensor '%s': external data location '%s' resolves to %s, outside the model's "
             "directory %s", nm, loc, rfile, rdir);
    free(rdir);
    free(rfile);
    return false;
  }
  free(rdir);
  RtErr re;
  FILE *f = rt_in_open(rfile, &re); /* regular files only; a FIFO is refused at once */
  free(rfile);
  if (!f) return fail(im, "tensor '%s': external data location '%s': %s", nm, loc, re.msg);
  struct stat st;
  memset(&st, 0, sizeof st);
  if (fstat(fileno(f), &st) != 0 || st.st_size < off || (uint64_t)(st.st_size - off) < want) {
    fclose(f);
    return fail(im, "tensor '%s': external data file %s is too short (%lld bytes; needs %zu "
                    "at offset %lld)", nm, file, (long long)st.st_size, want, (long long)off);
  }
  uint8_t *buf = sm_xmalloc(want ? want : 1);
  bool ok = fseeko(f, off, SEEK_SET) == 0 && fread(buf, 1, want, f) == want;
  fclose(f);
  if (!ok) {
    free(buf);
    return fail(im, "tensor '%s': cannot read external data file %s", nm, file);
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
static IrTensor *decode_tensor(Im *im, const Onnx__TensorProto *t, void **raw) {
  const char *nm = t->name && *t->name ? t->name : "(unnamed)";
  IrDType dt;
  int ot = t->has_data_type ? t->data_type : 0;
  if (!map_dtype(ot, &dt)) {
    fail(im, "tensor '%s' has element type %s (smelt supports float, double, int64, int32, "
             "uint8 and bool)", nm, onnx_dtype_name(ot));
    return NULL;
  }
  if (t->n_dims > IR_MAX_RANK) {
    fail(im, "tensor '%s' has rank %zu (at most %d)", nm, t->n_dims, IR_MAX_RANK);
    return NULL;
  }
  IrType ty = {.dtype = dt, .rank = (int)t->n_dims};
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0) {
      fail(im, "tensor '%s' has a negative dim %lld", nm, (long long)t->dims[i]);
      return NULL;
    }
    ty.dims[i] = t->dims[i];
  }
  int64_t numel = ir_type_numel(&ty);
  if (numel < 0) {
    char s[IR_TYPE_STRLEN];
    fail(im, "tensor '%s': dims %s have more than 2^40 elements", nm, ir_type_str(&ty, s, sizeof s));
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
      fail(im, "tensor '%s': %lld elements of external data do not fit in this machine's memory",
           nm, (long long)numel);
      return NULL;
    }
    if (!read_external(im, t, want, &ext)) return NULL;
    bytes = ext;
  } else if (t->has_raw_data) {
    bytes = t->raw_data.data;
    if (t->raw_data.len != want) {
      fail(im, "tensor '%s': raw_data has %zu bytes, but %lld %s elements need %zu", nm,
           t->raw_data.len, (long long)numel, onnx_dtype_name(ot), want);
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
      fail(im, "tensor '%s' holds %zu values, but its dims need %lld", nm, cnt, (long long)numel);
      free(ext);
      return NULL;
    }
  }
  IrTensor *c = new_const(im, ty);
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
static const IrOpDef *opdef(const char *name) {
  const IrOpDef *op = ir_op_find(name);
  SM_ASSERT(op);
  return op;
}

static void store_elem(void *p, IrDType t, int64_t i, double v) {
  switch (t) {
  case IR_F32: ((float *)p)[i] = d2f(v); break;
  case IR_F64: ((double *)p)[i] = v; break;
  case IR_I64: ((int64_t *)p)[i] = d2i(v); break;
  case IR_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)d2i(v); break;
  case IR_BOOL: ((uint8_t *)p)[i] = v != 0; break;
  default: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)d2i(v); break;
  }
}

/* The IR value of an entry, materializing constants: parameter-derived ones
 * become parameters with their values, the rest `constant` nodes. */
static IrValue *val(Im *im, Ent *e) {
  if (e->v) return e->v;
  if (e->bad) {
    im->failed = true;
    return NULL;
  }
  if (e->init && !e->c) {
    void *raw = NULL;
    e->c = decode_tensor(im, e->init, &raw);
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
    fail(im, "'%s' has no value", e->name);
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
    IrNode *n = ir_add_node(im->g, opdef("constant"), NULL, 0, (const char *[]){e->name}, 1, im->loc);
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

static IrNode *mk(Im *im, const char *op, IrValue *const *in, int nin) {
  return ir_add_node(im->g, opdef(op), (IrValue **)in, nin, NULL, 1, im->loc);
}

/* Infer n's types; evaluate it now when every input is known. */
static IrValue *fin(Im *im, IrNode *n) {
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
      res[o] = new_const(im, n->out[o]->type);
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

/* v converted to dtype t (v itself when it has it) */
static IrValue *cast_value(Im *im, IrValue *v, IrDType t) {
  if (!v || v->type.dtype == t) return v;
  IrNode *m = mk(im, "cast", &v, 1);
  ir_set_str(im->g, m, "to", ir_dtype_name(t));
  return fin(im, m);
}

static IrValue *op1(Im *im, const char *op, IrValue *a) {
  if (!a) return NULL;
  return fin(im, mk(im, op, &a, 1));
}

static IrValue *op2(Im *im, const char *op, IrValue *a, IrValue *b) {
  if (!a || !b) return NULL;
  IrValue *in[2] = {a, b};
  return fin(im, mk(im, op, in, 2));
}

static IrValue *scalar(Im *im, IrDType t, double v) {
  double x = round_to(t, v);
  IrNode *n = ir_add_node(im->g, opdef("constant"), NULL, 0, NULL, 1, im->loc);
  ir_set_ints(im->g, n, "shape", NULL, 0);
  ir_set_floats(im->g, n, "value", &x, 1);
  ir_set_str(im->g, n, "dtype", ir_dtype_name(t));
  return fin(im, n);
}

static IrValue *reshape_to(Im *im, IrValue *x, int rank, const int64_t *dims) {
  if (!x) return NULL;
  if (x->type.rank == rank && !memcmp(x->type.dims, dims, sizeof(int64_t) * (size_t)rank)) return x;
  IrNode *n = mk(im, "reshape", &x, 1);
  ir_set_ints(im->g, n, "shape", dims, rank);
  return fin(im, n);
}

/* ---- small builders over IR values ---- */
static IrValue *slice_axis(Im *im, IrValue *x, int axis, int64_t start, int64_t end, int64_t step) {
  if (!x) return NULL;
  IrNode *m = mk(im, "slice", &x, 1);
  int64_t ax = axis;
  ir_set_ints(im->g, m, "starts", &start, 1);
  ir_set_ints(im->g, m, "ends", &end, 1);
  ir_set_ints(im->g, m, "axes", &ax, 1);
  if (step != 1) ir_set_ints(im->g, m, "steps", &step, 1);
  return fin(im, m);
}

/* x reversed along axis */
static IrValue *flip_axis(Im *im, IrValue *x, int axis) {
  if (!x) return NULL;
  return slice_axis(im, x, axis, -1, INT64_MIN / 2, -1);
}

static IrValue *transpose_to(Im *im, IrValue *x, const int64_t *perm) {
  if (!x) return NULL;
  bool id = true;
  for (int i = 0; i < x->type.rank; i++) id &= perm[i] == i;
  if (id) return x;
  IrNode *m = mk(im, "transpose", &x, 1);
  ir_set_ints(im->g, m, "perm", perm, x->type.rank);
  return fin(im, m);
}

/* concat of any number of values along axis (the op takes 16: a tree) */
static IrValue *concat_n(Im *im, IrValue *const *vs, int cnt, int axis) {
  for (int i = 0; i < cnt; i++)
    if (!vs[i]) return NULL;
  if (cnt == 1) return vs[0];
  if (cnt > 16) {
    int groups = (cnt + 15) / 16;
    IrValue **part = sm_xcalloc((size_t)groups, sizeof *part);
    for (int gi = 0; gi < groups; gi++) {
      int lo = gi * 16, hi = lo + 16 < cnt ? lo + 16 : cnt;
      part[gi] = concat_n(im, vs + lo, hi - lo, axis);
    }
    IrValue *r = concat_n(im, part, groups, axis);
    free(part);
    return r;
  }
  IrNode *m = ir_add_node(im->g, opdef("concat"), (IrValue **)vs, cnt, NULL, 1, im->loc);
  ir_set_int(im->g, m, "axis", axis);
  return fin(im, m);
}

/* A constant tensor as an IR value (a `constant` node). */
static IrValue *const_value(Im *im, IrTensor *c, const char *tag) {
  Ent tmp = {.name = sm_arena_printf(&im->g->arena, "%s", tag), .c = c};
  return val(im, &tmp);
}

static IrValue *filled(Im *im, IrDType dt, int rank, const int64_t *dims, double v) {
  IrTensor *c = new_const(im, ir_type_make(dt, rank, dims));
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = v;
  return const_value(im, c, "fill");
}

/* ---- ONNX node attributes and inputs ---- */
static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
  return NULL;
}

static int64_t aint(const Onnx__NodeProto *n, const char *name, int64_t dflt) {
  const Onnx__AttributeProto *a = attr(n, name);
  return a && a->has_i ? a->i : dflt;
}

static double afloat(const Onnx__NodeProto *n, const char *name, double dflt) {
  const Onnx__AttributeProto *a = attr(n, name);
  return a && a->has_f ? a->f : dflt;
}

static const char *astr(Im *im, const Onnx__NodeProto *n, const char *name, const char *dflt) {
  const Onnx__AttributeProto *a = attr(n, name);
  if (!a || !a->has_s) return dflt;
  return sm_arena_strndup(&im->g->arena, (const char *)a->s.data, a->s.len);
}

/* INTS attribute into out[max]: count, -1 when absent, -2 after an error. */
static int aints(Im *im, const Onnx__NodeProto *n, const char *name, int64_t *out, int max) {
  const Onnx__AttributeProto *a = attr(n, name);
  if (!a) return -1;
  if (a->n_ints > (size_t)max) {
    fail(im, "attribute %s has %zu values (at most %d)", name, a->n_ints, max);
    return -2;
  }
  for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
  return (int)a->n_ints;
}

typedef struct Args {
  Ent *in[64];
  int nin;
  Ent *out[8];
  int nout;
} Args;

static bool has_in(const Args *a, int k) { return k < a->nin && a->in[k]; }
static bool has_out(const Args *a, int k) { return k < a->nout && a->out[k]; }

static IrValue *in_val(Im *im, Args *a, int k) { return has_in(a, k) ? val(im, a->in[k]) : NULL; }

static IrTensor *ent_const(Im *im, Ent *e) {
  if (e->bad) {
    im->failed = true;
    return NULL;
  }
  if (!e->c && e->init) {
    e->c = decode_tensor(im, e->init, NULL);
    e->param = true;
    e->bad = !e->c;
  }
  if (!e->c && e->v) {
    track_consts(im);
    return const_of_value(im, e->v);
  }
  return e->c;
}

static const IrType *ent_type(Im *im, Ent *e) {
  if (e->v) return &e->v->type;
  IrTensor *c = ent_const(im, e);
  return c ? &c->type : NULL;
}

/* Input k as a constant, with an error when it is computed at run time. */
static IrTensor *in_const(Im *im, Args *a, int k, const char *what) {
  IrTensor *c = has_in(a, k) ? ent_const(im, a->in[k]) : NULL;
  if (!c && !im->failed)
    fail(im, "input %d (%s, '%s') must be known at import time: smelt compiles static shapes "
             "and this value depends on a graph input", k, what, has_in(a, k) ? a->in[k]->name : "");
  return c;
}

static int const_ints(Im *im, Args *a, int k, const char *what, int64_t *out, int max) {
  IrTensor *c = in_const(im, a, k, what);
  if (!c) return -1;
  if (c->numel > max) {
    fail(im, "input %d (%s) has %lld values (at most %d)", k, what, (long long)c->numel, max);
    return -1;
  }
  for (int64_t i = 0; i < c->numel; i++) out[i] = d2i(c->d[i]);
  return (int)c->numel;
}

static void set_out(Args *a, int k, IrValue *v) {
  if (has_out(a, k) && v) a->out[k]->v = v;
}

static void set_const(Args *a, int k, IrTensor *c, bool param) {
  if (!has_out(a, k)) return;
  a->out[k]->c = c;
  a->out[k]->param = param;
}

/* Float math on parameters stays at run time (it is part of the model);
 * only shape arithmetic on them is folded. */
static IrValue *keep_float_params(Im *im, IrValue *r) {
  if (r && const_of_value(im, r) && im->cparam[r->id] && ir_dtype_is_float(r->type.dtype))
    im->consts[r->id] = NULL;
  return r;
}

/* ---- lowering, one function per ONNX op family ---- */
typedef bool (*LowerFn)(Im *im, const Onnx__NodeProto *n, Args *a);

static const char *unary_ir(const char *t) {
  static const char *const map[][2] = {
      {"Relu", "relu"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Exp", "exp"},
      {"Log", "log"}, {"Sqrt", "sqrt"}, {"Abs", "abs"}, {"Neg", "neg"},
      {"Reciprocal", "reciprocal"}, {"Softplus", "softplus"}};
  for (int i = 0; i < SM_COUNT(map); i++)
    if (!strcmp(map[i][0], t)) return map[i][1];
  return NULL;
}

static bool lower_unary(Im *im, const Onnx__NodeProto *n, Args *a) {
  set_out(a, 0, op1(im, unary_ir(n->op_type), in_val(im, a, 0)));
  return true;
}

static bool lower_alpha(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool leaky = !strcmp(n->op_type, "LeakyRelu");
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = mk(im, leaky ? "leaky_relu" : "elu", &x, 1);
  ir_set_float(im->g, m, "alpha", afloat(n, "alpha", leaky ? 0.01 : 1.0));
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_selu(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = mk(im, "elu", &x, 1);
  ir_set_float(im->g, m, "alpha", afloat(n, "alpha", 1.67326319217681884765625));
  IrValue *e = fin(im, m);
  set_out(a, 0, op2(im, "mul", e, scalar(im, x->type.dtype, afloat(n, "gamma", 1.05070102214813232421875))));
  return true;
}

static IrValue *hard_sigmoid(Im *im, IrValue *x, double alpha, double beta) {
  if (!x) return NULL;
  IrValue *t = op2(im, "add", op2(im, "mul", x, scalar(im, x->type.dtype, alpha)),
                   scalar(im, x->type.dtype, beta));
  if (!t) return NULL;
  IrNode *m = mk(im, "clip", &t, 1);
  ir_set_float(im->g, m, "min", 0);
  ir_set_float(im->g, m, "max", 1);
  return fin(im, m);
}

static bool lower_hard(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!strcmp(n->op_type, "HardSigmoid"))
    set_out(a, 0, hard_sigmoid(im, x, afloat(n, "alpha", 0.2), afloat(n, "beta", 0.5)));
  else
    set_out(a, 0, op2(im, "mul", x, hard_sigmoid(im, x, 1.0 / 6, 0.5)));
  return true;
}

static bool lower_softsign(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  set_out(a, 0, op2(im, "div", x, op2(im, "add", op1(im, "abs", x), scalar(im, x->type.dtype, 1))));
  return true;
}

static bool lower_prelu(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = in_val(im, a, 0), *s = in_val(im, a, 1);
  if (!x || !s) return false;
  IrValue *neg = op2(im, "mul", s, op2(im, "min", x, scalar(im, x->type.dtype, 0)));
  set_out(a, 0, op2(im, "add", op1(im, "relu", x), neg));
  return true;
}

static bool lower_gelu(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = mk(im, "gelu", &x, 1);
  ir_set_str(im->g, m, "approximate", astr(im, n, "approximate", "none"));
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_clip(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  double lo = -INFINITY, hi = INFINITY;
  if (im->opset < 11) {
    lo = afloat(n, "min", lo);
    hi = afloat(n, "max", hi);
  } else {
    if (has_in(a, 1)) {
      IrTensor *c = in_const(im, a, 1, "min");
      if (!c) return false;
      lo = c->d[0];
    }
    if (has_in(a, 2)) {
      IrTensor *c = in_const(im, a, 2, "max");
      if (!c) return false;
      hi = c->d[0];
    }
  }
  if (lo > hi) lo = hi; /* ONNX: every element becomes max */
  IrNode *m = mk(im, "clip", &x, 1);
  if (isfinite(lo)) ir_set_float(im->g, m, "min", lo);
  if (isfinite(hi)) ir_set_float(im->g, m, "max", hi);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_binary(Im *im, const Onnx__NodeProto *n, Args *a) {
  static const char *const map[][2] = {{"Add", "add"}, {"Sub", "sub"}, {"Mul", "mul"},
                                       {"Div", "div"}, {"Pow", "pow"}};
  const char *op = NULL;
  for (int i = 0; i < SM_COUNT(map); i++)
    if (!strcmp(map[i][0], n->op_type)) op = map[i][1];
  im->fold_params = true; /* exporters compute shapes with these, too */
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  IrValue *y;
  /* Pow computes in float: an integer base goes through f64 and back (exact
   * while results stay below 2^53); an exponent of another dtype is
   * converted (a constant one at import) */
  bool pow = !strcmp(op, "pow"), int_base = pow && !ir_dtype_is_float(x->type.dtype);
  IrDType xt = x->type.dtype, ct = int_base ? IR_F64 : xt;
  if (int_base) x = cast_value(im, x, ct);
  IrTensor *yc = has_in(a, 1) ? ent_const(im, a->in[1]) : NULL;
  const IrType *yt = has_in(a, 1) ? ent_type(im, a->in[1]) : NULL;
  if (pow && yt && yt->dtype != ct && yc) {
    IrTensor *c = new_const(im, ir_type_make(ct, yc->type.rank, yc->type.dims));
    for (int64_t i = 0; i < c->numel; i++) c->d[i] = round_to(ct, yc->d[i]);
    Ent tmp = {.name = sm_arena_printf(&im->g->arena, "%s_as_%s", a->in[1]->name,
                                       ir_dtype_name(ct)), .c = c};
    y = val(im, &tmp);
  } else {
    y = in_val(im, a, 1);
    if (pow) y = cast_value(im, y, ct);
  }
  IrValue *r = op2(im, op, x, y);
  if (int_base) r = cast_value(im, r, xt);
  set_out(a, 0, keep_float_params(im, r));
  return true;
}

static bool lower_variadic(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  const char *op = !strcmp(t, "Min") ? "min" : !strcmp(t, "Max") ? "max" : "add";
  IrValue *acc = in_val(im, a, 0);
  for (int i = 1; i < a->nin && acc; i++) acc = op2(im, op, acc, in_val(im, a, i));
  if (acc && !strcmp(t, "Mean") && a->nin > 1)
    acc = op2(im, "div", acc, scalar(im, acc->type.dtype, a->nin));
  set_out(a, 0, acc);
  return true;
}

static bool lower_identity(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  Ent *x = a->nin ? a->in[0] : NULL;
  if (!x) return fail(im, "missing input");
  if (x->v) set_out(a, 0, x->v);
  else {
    IrTensor *c = ent_const(im, x);
    if (!c) return false;
    if (x->param && ir_dtype_is_float(c->type.dtype)) /* a weight: the same parameter, same name */
      set_out(a, 0, val(im, x));
    else
      set_const(a, 0, c, x->param);
  }
  return true;
}

static bool lower_dropout(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool training = false;
  if (im->opset >= 12 && has_in(a, 2)) {
    IrTensor *c = in_const(im, a, 2, "training_mode");
    if (!c) return false;
    training = c->d[0] != 0;
  }
  if (training) return fail(im, "Dropout with training_mode=true is not supported at import");
  if (has_out(a, 1)) { /* at inference nothing is dropped: all true */
    const IrType *t = a->nin && a->in[0] ? ent_type(im, a->in[0]) : NULL;
    if (!t) return im->failed ? false : fail(im, "missing input");
    IrType mt = ir_type_make(IR_BOOL, t->rank, t->dims);
    if (!fold_size_ok(im, &mt)) return false;
    IrTensor *c = new_const(im, mt);
    for (int64_t i = 0; i < c->numel; i++) c->d[i] = 1;
    set_const(a, 1, c, false);
  }
  return lower_identity(im, n, a);
}

/* auto_pad SAME_*: explicit pads for spatial dims */
static bool auto_pads(Im *im, const Onnx__NodeProto *n, int nsp, const int64_t *in, const int64_t *k,
                      const int64_t *s, const int64_t *dil, int64_t *pads) {
  const char *ap = astr(im, n, "auto_pad", "NOTSET");
  if (!strcmp(ap, "NOTSET")) return true;
  for (int j = 0; j < nsp; j++) pads[j] = pads[nsp + j] = 0;
  if (!strcmp(ap, "VALID")) return true;
  bool upper = !strcmp(ap, "SAME_UPPER");
  if (!upper && strcmp(ap, "SAME_LOWER")) return fail(im, "unknown auto_pad \"%s\"", ap);
  for (int j = 0; j < nsp; j++) {
    int64_t out = (in[j] + s[j] - 1) / s[j];
    int64_t total = (out - 1) * s[j] + (k[j] - 1) * dil[j] + 1 - in[j];
    if (total < 0) total = 0;
    pads[j] = upper ? total / 2 : total - total / 2;
    pads[nsp + j] = total - pads[j];
  }
  return true;
}

/* Window attributes common to Conv and the pools. */
typedef struct Window {
  int nsp;
  int64_t k[3], s[3], dil[3], pads[6];
} Window;

static bool window(Im *im, const Onnx__NodeProto *n, const IrType *x, const int64_t *k, int nsp, Window *w) {
  *w = (Window){.nsp = nsp};
  for (int j = 0; j < nsp; j++) {
    w->k[j] = k[j];
    w->s[j] = w->dil[j] = 1;
  }
  int c;
  if ((c = aints(im, n, "strides", w->s, 3)) >= 0 && c != nsp) return fail(im, "strides needs %d values, got %d", nsp, c);
  if ((c = aints(im, n, "dilations", w->dil, 3)) >= 0 && c != nsp) return fail(im, "dilations needs %d values, got %d", nsp, c);
  if ((c = aints(im, n, "pads", w->pads, 6)) >= 0 && c != 2 * nsp) return fail(im, "pads needs %d values, got %d", 2 * nsp, c);
  if (im->failed) return false;
  for (int j = 0; j < nsp; j++) {
    if (w->s[j] < 1 || w->dil[j] < 1 || w->s[j] > ONNX_MAX_STRIDE || w->dil[j] > ONNX_MAX_STRIDE)
      return fail(im, "strides and dilations must be between 1 and 2^20");
    if (w->k[j] < 0 || w->k[j] > IR_MAX_NUMEL) /* (k - 1) * dil then fits in int64 */
      return fail(im, "kernel size %lld is out of range", (long long)w->k[j]);
  }
  return auto_pads(im, n, nsp, x->dims + 2, w->k, w->s, w->dil, w->pads);
}

static void set_window(Im *im, IrNode *m, const Window *w, bool dil) {
  ir_set_ints(im->g, m, "strides", w->s, w->nsp);
  ir_set_ints(im->g, m, "pads", w->pads, 2 * w->nsp);
  if (dil) ir_set_ints(im->g, m, "dilations", w->dil, w->nsp);
}

/* ---- 3-D Conv and pools ----
 * As 2-D ones over [N*D', C, H, W] (the depth, padded, merged into the
 * batch), combined along depth: for each kernel depth tap k the 2-D
 * results at depths k*dil + o*stride (o over the output depths) are sliced
 * out, then summed (Conv; AveragePool, divided by the depth taps counted,
 * since a box window's count is depth count times plane count) or maxed
 * (MaxPool, the depth padded with -inf). The 2-D work covers every padded
 * depth once per tap: about `stride` times what a 3-D kernel would do. */
typedef struct Depth {
  int64_t D, k, s, dil, pb, pe; /* input depth and the window along it */
  int64_t out, tail;            /* output depth; padding ceil_mode windows need past pe */
} Depth;

#define DEPTH_MAX_TAPS 128 /* one 2-D op per kernel depth tap */

static bool depth_geom(Im *im, Depth *g, bool pool, bool ceil_mode) {
  if (g->k < 1 || g->s < 1 || g->dil < 1 || g->pb < 0 || g->pe < 0 || g->pb > IR_MAX_NUMEL ||
      g->pe > IR_MAX_NUMEL)
    return fail(im, "kernel, strides and dilations must be positive, pads non-negative");
  if (g->k > DEPTH_MAX_TAPS)
    return fail(im, "kernel depth %lld: at most %d is supported (3-D windows run as one 2-D "
                    "window per depth tap)", (long long)g->k, DEPTH_MAX_TAPS);
  if (pool && (g->pb >= g->k || g->pe >= g->k))
    return fail(im, "depth pads must be smaller than the kernel depth %lld", (long long)g->k);
  int64_t padded = g->D + g->pb + g->pe;
  if (g->D < 1 || g->k - 1 > (padded - 1) / g->dil)
    return fail(im, "kernel depth %lld (dilation %lld) exceeds the padded input depth %lld",
                (long long)g->k, (long long)g->dil, (long long)padded);
  int64_t ext = g->dil * (g->k - 1) + 1;
  int64_t span = padded - ext;
  g->out = span / g->s + 1;
  if (pool && ceil_mode) { /* the last window starts inside the input or the front padding */
    int64_t o = (span + g->s - 1) / g->s + 1;
    if ((o - 1) * g->s >= g->D + g->pb) o--;
    g->out = o;
  }
  int64_t need = (g->out - 1) * g->s + ext;
  g->tail = need > padded ? need - padded : 0;
  return true;
}

/* x [N, C, D, H, W], depth padded with v, as [N*D', C, H, W] */
static IrValue *depth_merge(Im *im, IrValue *x, const Depth *g, double v) {
  if (!x) return NULL;
  if (g->pb || g->pe + g->tail) {
    int64_t p[10] = {0, 0, g->pb, 0, 0, 0, 0, g->pe + g->tail, 0, 0};
    IrNode *m = mk(im, "pad", &x, 1);
    ir_set_ints(im->g, m, "pads", p, 10);
    if (v != 0) ir_set_float(im->g, m, "value", v);
    if (!(x = fin(im, m))) return NULL;
  }
  static const int64_t p01[5] = {0, 2, 1, 3, 4};
  IrValue *t = transpose_to(im, x, p01);
  if (!t) return NULL;
  int64_t d4[4] = {t->type.dims[0] * t->type.dims[1], t->type.dims[2], t->type.dims[3], t->type.dims[4]};
  return reshape_to(im, t, 4, d4);
}

/* depth tap k of a 2-D result y [N*D', C', H', W']: [N, out, C', H', W'] */
static IrValue *depth_tap(Im *im, IrValue *y, int64_t N, const Depth *g, int64_t k) {
  if (!y) return NULL;
  int64_t d5[5] = {N, y->type.dims[0] / N, y->type.dims[1], y->type.dims[2], y->type.dims[3]};
  int64_t st = k * g->dil;
  return slice_axis(im, reshape_to(im, y, 5, d5), 1, st, st + (g->out - 1) * g->s + 1, g->s);
}

static IrValue *depth_unmerge(Im *im, IrValue *y) {
  static const int64_t p01[5] = {0, 2, 1, 3, 4};
  return transpose_to(im, y, p01);
}

static Window plane_window(const Window *w) {
  return (Window){.nsp = 2, .k = {w->k[1], w->k[2]}, .s = {w->s[1], w->s[2]},
                  .dil = {w->dil[1], w->dil[2]}, .pads = {w->pads[1], w->pads[2], w->pads[4], w->pads[5]}};
}

/* 3-D convolution of x [N, C, D, H, W] with wt [M, C/group, kD, kH, kW]
 * (and bias b [M] or NULL) over window w */
static IrValue *conv3d_values(Im *im, IrValue *x, IrValue *wt, IrValue *b, const Window *wp,
                              int64_t group) {
  Window w = *wp;
  if (ir_type_numel(&x->type) < 1 || ir_type_numel(&wt->type) < 1) {
    fail(im, "Conv of an empty tensor");
    return NULL;
  }
  Depth g = {.D = x->type.dims[2], .k = w.k[0], .s = w.s[0], .dil = w.dil[0], .pb = w.pads[0],
             .pe = w.pads[3]};
  if (!depth_geom(im, &g, false, false)) return NULL;
  IrValue *xm = depth_merge(im, x, &g, 0);
  Window w2 = plane_window(&w);
  int64_t N = x->type.dims[0], M = wt->type.dims[0];
  int64_t wd[4] = {M, wt->type.dims[1], w.k[1], w.k[2]};
  IrValue *acc = NULL;
  for (int64_t k = 0; k < g.k && xm; k++) {
    IrValue *in2[2] = {xm, reshape_to(im, slice_axis(im, wt, 2, k, k + 1, 1), 4, wd)};
    if (!in2[1]) return NULL;
    IrNode *m = ir_add_node(im->g, opdef("conv2d"), in2, 2, NULL, 1, im->loc);
    set_window(im, m, &w2, true);
    ir_set_int(im->g, m, "group", group);
    IrValue *t = depth_tap(im, fin(im, m), N, &g, k);
    acc = acc ? op2(im, "add", acc, t) : t;
  }
  IrValue *y = depth_unmerge(im, acc);
  if (b && y) {
    int64_t bd[4] = {M, 1, 1, 1};
    y = op2(im, "add", y, reshape_to(im, b, 4, bd));
  }
  return y;
}

static bool lower_conv3d(Im *im, const Onnx__NodeProto *n, Args *a, IrValue *x, IrValue *wt, IrValue *b) {
  Window w;
  if (!window(im, n, &x->type, wt->type.dims + 2, 3, &w)) return false;
  IrValue *y = conv3d_values(im, x, wt, b, &w, aint(n, "group", 1));
  set_out(a, 0, y);
  return y != NULL;
}

static bool lower_pool3d(Im *im, const Onnx__NodeProto *n, Args *a, IrValue *x, const int64_t *k,
                         bool max) {
  if (ir_type_numel(&x->type) < 1) return fail(im, "%s of an empty tensor", n->op_type);
  Window w;
  if (!window(im, n, &x->type, k, 3, &w)) return false;
  bool ceil_mode = im->opset >= 10 && aint(n, "ceil_mode", 0) != 0;
  bool incl = aint(n, "count_include_pad", 0) != 0;
  Depth g = {.D = x->type.dims[2], .k = w.k[0], .s = w.s[0], .dil = w.dil[0], .pb = w.pads[0],
             .pe = w.pads[3]};
  if (!depth_geom(im, &g, true, ceil_mode)) return false;
  IrValue *xm = depth_merge(im, x, &g, max ? -INFINITY : 0);
  if (!xm) return false;
  Window w2 = plane_window(&w);
  IrNode *m = mk(im, max ? "maxpool2d" : "avgpool2d", &xm, 1);
  ir_set_ints(im->g, m, "kernel", w2.k, 2);
  set_window(im, m, &w2, max);
  ir_set_int(im->g, m, "ceil_mode", ceil_mode);
  if (!max) ir_set_int(im->g, m, "count_include_pad", incl);
  IrValue *p = fin(im, m), *acc = NULL;
  for (int64_t t = 0; t < g.k && p; t++) {
    IrValue *v = depth_tap(im, p, x->type.dims[0], &g, t);
    acc = acc ? op2(im, max ? "max" : "add", acc, v) : v;
  }
  if (!max && acc) { /* divide by the depth taps inside the input (or its padding) */
    int64_t cd[5] = {1, g.out, 1, 1, 1};
    IrTensor *c = new_const(im, ir_type_make(x->type.dtype, 5, cd));
    for (int64_t o = 0; o < g.out; o++) {
      int64_t cnt = 0;
      for (int64_t t = 0; t < g.k; t++) {
        int64_t pos = o * g.s + t * g.dil - g.pb;
        cnt += incl ? pos >= -g.pb && pos < g.D + g.pe : pos >= 0 && pos < g.D;
      }
      c->d[o] = 1.0 / (double)(cnt ? cnt : 1);
    }
    acc = op2(im, "mul", acc, const_value(im, c, "depth_count"));
  }
  IrValue *y = depth_unmerge(im, acc);
  set_out(a, 0, y);
  return y != NULL;
}

static bool lower_conv(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0), *wt = in_val(im, a, 1), *b = has_in(a, 2) ? in_val(im, a, 2) : NULL;
  if (!x || !wt || (has_in(a, 2) && !b)) return false;
  int nsp = wt->type.rank - 2;
  if (nsp < 1 || nsp > 3) return fail(im, "Conv with %d spatial dims is not supported (1-D, 2-D and 3-D are)", nsp);
  if (x->type.rank != nsp + 2) return fail(im, "Conv input has rank %d, weight rank %d", x->type.rank, wt->type.rank);
  if (nsp == 3) return lower_conv3d(im, n, a, x, wt, b);
  Window w;
  if (!window(im, n, &x->type, wt->type.dims + 2, nsp, &w)) return false;
  IrValue *in[3] = {x, wt, b};
  IrNode *m = ir_add_node(im->g, opdef(nsp == 2 ? "conv2d" : "conv1d"), in, b ? 3 : 2, NULL, 1, im->loc);
  set_window(im, m, &w, true);
  ir_set_int(im->g, m, "group", aint(n, "group", 1));
  set_out(a, 0, fin(im, m));
  return true;
}

/* 1-D pools run as 2-D over [N,C,1,L] */
static bool lower_pool(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool max = !strcmp(n->op_type, "MaxPool");
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  if (has_out(a, 1)) return fail(im, "MaxPool's Indices output is not supported");
  int64_t k[3];
  int nsp = x->type.rank - 2;
  if (nsp < 1 || nsp > 3) return fail(im, "%s over %d spatial dims is not supported (1-D, 2-D and 3-D are)", n->op_type, nsp);
  int nk = aints(im, n, "kernel_shape", k, 3);
  if (nk != nsp) return im->failed ? false : fail(im, "kernel_shape needs %d values", nsp);
  Window w;
  if (!window(im, n, &x->type, k, nsp, &w)) return false;
  if (!max)
    for (int j = 0; j < nsp; j++)
      if (w.dil[j] != 1) return fail(im, "AveragePool with dilations is not supported");
  if (nsp == 3) return lower_pool3d(im, n, a, x, k, max);
  IrValue *xx = x;
  Window w2 = w;
  if (nsp == 1) {
    int64_t dims[4] = {x->type.dims[0], x->type.dims[1], 1, x->type.dims[2]};
    xx = reshape_to(im, x, 4, dims);
    w2 = (Window){.nsp = 2, .k = {1, w.k[0]}, .s = {1, w.s[0]}, .dil = {1, w.dil[0]},
                  .pads = {0, w.pads[0], 0, w.pads[1]}};
  }
  if (!xx) return false;
  IrNode *m = mk(im, max ? "maxpool2d" : "avgpool2d", &xx, 1);
  ir_set_ints(im->g, m, "kernel", w2.k, 2);
  set_window(im, m, &w2, max);
  if (im->opset >= 10) ir_set_int(im->g, m, "ceil_mode", aint(n, "ceil_mode", 0));
  if (!max) ir_set_int(im->g, m, "count_include_pad", aint(n, "count_include_pad", 0));
  IrValue *y = fin(im, m);
  if (y && nsp == 1) {
    int64_t dims[3] = {y->type.dims[0], y->type.dims[1], y->type.dims[3]};
    y = reshape_to(im, y, 3, dims);
  }
  set_out(a, 0, y);
  return true;
}

static bool lower_global_pool(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  if (!strcmp(n->op_type, "GlobalAveragePool")) {
    set_out(a, 0, op1(im, "global_avgpool", x));
    return true;
  }
  if (x->type.rank < 3) return fail(im, "GlobalMaxPool needs an input [N, C, D1, ...], got rank %d", x->type.rank);
  int64_t axes[IR_MAX_RANK];
  for (int i = 2; i < x->type.rank; i++) axes[i - 2] = i;
  IrNode *m = mk(im, "reduce_max", &x, 1);
  ir_set_ints(im->g, m, "axes", axes, x->type.rank - 2);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_batchnorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  if (im->opset < 9 && aint(n, "spatial", 1) != 1) return fail(im, "BatchNormalization with spatial=0 is not supported");
  if (aint(n, "training_mode", 0)) return fail(im, "BatchNormalization with training_mode=1 is not supported at import");
  for (int k = 1; k < a->nout; k++)
    if (has_out(a, k)) return fail(im, "BatchNormalization's training outputs are not supported");
  IrValue *in[5];
  for (int i = 0; i < 5; i++)
    if (!(in[i] = in_val(im, a, i))) return im->failed ? false : fail(im, "BatchNormalization needs 5 inputs");
  IrNode *m = ir_add_node(im->g, opdef("batchnorm"), in, 5, NULL, 1, im->loc);
  ir_set_float(im->g, m, "epsilon", afloat(n, "epsilon", 1e-5));
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_gemm(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *in[3] = {in_val(im, a, 0), in_val(im, a, 1), has_in(a, 2) ? in_val(im, a, 2) : NULL};
  if (!in[0] || !in[1] || (has_in(a, 2) && !in[2])) return false;
  IrNode *m = ir_add_node(im->g, opdef("gemm"), in, in[2] ? 3 : 2, NULL, 1, im->loc);
  ir_set_int(im->g, m, "transA", aint(n, "transA", 0));
  ir_set_int(im->g, m, "transB", aint(n, "transB", 0));
  ir_set_float(im->g, m, "alpha", afloat(n, "alpha", 1));
  ir_set_float(im->g, m, "beta", afloat(n, "beta", 1));
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_matmul(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  set_out(a, 0, op2(im, "matmul", in_val(im, a, 0), in_val(im, a, 1)));
  return true;
}

static bool lower_softmax(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *op = !strcmp(n->op_type, "Softmax") ? "softmax" : "log_softmax";
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axis = aint(n, "axis", im->opset < 13 ? 1 : -1);
  if (axis < -r || axis >= (r ? r : 1)) return fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  if (im->opset >= 13 || r == 0) {
    IrNode *m = mk(im, op, &x, 1);
    ir_set_int(im->g, m, "axis", axis);
    set_out(a, 0, fin(im, m));
    return true;
  }
  /* opset < 13: over the flattened trailing block [prod(:axis), prod(axis:)] */
  int64_t rows = 1, cols = 1;
  for (int i = 0; i < r; i++) {
    if (i < axis) rows *= x->type.dims[i];
    else cols *= x->type.dims[i];
  }
  int64_t d2[2] = {rows, cols};
  IrValue *f = reshape_to(im, x, 2, d2);
  if (!f) return false;
  IrNode *m = mk(im, op, &f, 1);
  ir_set_int(im->g, m, "axis", 1);
  set_out(a, 0, reshape_to(im, fin(im, m), r, x->type.dims));
  return true;
}

static bool lower_flatten(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = mk(im, "flatten", &x, 1);
  ir_set_int(im->g, m, "axis", aint(n, "axis", 1));
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_reshape(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  const IrType *xt = has_in(a, 0) ? ent_type(im, a->in[0]) : NULL;
  if (!xt) return false;
  int64_t s[IR_MAX_RANK + 1];
  int cnt = const_ints(im, a, 1, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  bool allowzero = im->opset >= 14 && aint(n, "allowzero", 0);
  int minus = -1;
  int64_t known = 1;
  for (int i = 0; i < cnt; i++) {
    if (s[i] == 0 && !allowzero) {
      if (i >= xt->rank) return fail(im, "shape has 0 at position %d, beyond the input's rank %d", i, xt->rank);
      s[i] = xt->dims[i];
    }
    if (s[i] == -1) {
      if (minus >= 0) return fail(im, "shape has more than one -1");
      minus = i;
    } else if (s[i] < 0) {
      return fail(im, "shape has a negative dim %lld", (long long)s[i]);
    } else {
      if (s[i] > IR_MAX_NUMEL || (s[i] && known > IR_MAX_NUMEL / s[i]))
        return fail(im, "shape has more than 2^40 elements");
      known *= s[i];
    }
  }
  int64_t numel = ir_type_numel(xt);
  if (minus >= 0) {
    if (known == 0 || numel % known) return fail(im, "cannot infer the -1 in the shape from %lld elements", (long long)numel);
    s[minus] = numel / known;
  }
  set_out(a, 0, reshape_to(im, val(im, a->in[0]), cnt, s));
  return true;
}

/* axes as an attribute before opset `since`, as optional input k after */
static bool axes_arg(Im *im, const Onnx__NodeProto *n, Args *a, int since, int k, int64_t *axes, int *cnt) {
  if (im->opset < since) {
    *cnt = aints(im, n, "axes", axes, IR_MAX_RANK);
    return *cnt != -2;
  }
  *cnt = -1;
  if (!has_in(a, k)) return true;
  *cnt = const_ints(im, a, k, "axes", axes, IR_MAX_RANK);
  return *cnt >= 0;
}

static bool lower_squeeze(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  bool sq = !strcmp(n->op_type, "Squeeze");
  const IrType *xt = has_in(a, 0) ? ent_type(im, a->in[0]) : NULL;
  if (!xt) return false;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!axes_arg(im, n, a, 13, 1, axes, &cnt)) return false;
  int64_t out[IR_MAX_RANK];
  int r = 0;
  if (sq) {
    bool drop[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + xt->rank : axes[i];
      if (ax < 0 || ax >= xt->rank) return fail(im, "axis %lld is out of range for rank %d", (long long)axes[i], xt->rank);
      if (xt->dims[ax] != 1) return fail(im, "cannot squeeze axis %lld of size %lld", (long long)axes[i], (long long)xt->dims[ax]);
      drop[ax] = true;
    }
    for (int i = 0; i < xt->rank; i++)
      if (!(cnt < 0 ? xt->dims[i] == 1 : drop[i])) out[r++] = xt->dims[i];
  } else {
    if (cnt < 0) return fail(im, "Unsqueeze needs axes");
    int orank = xt->rank + cnt;
    if (orank > IR_MAX_RANK) return fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
    bool ins[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + orank : axes[i];
      if (ax < 0 || ax >= orank || ins[ax]) return fail(im, "bad axis %lld for result rank %d", (long long)axes[i], orank);
      ins[ax] = true;
    }
    for (int i = 0, j = 0; i < orank; i++) out[r++] = ins[i] ? 1 : xt->dims[j++];
  }
  set_out(a, 0, reshape_to(im, val(im, a->in[0]), r, out));
  return true;
}

static bool lower_transpose(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int64_t perm[IR_MAX_RANK];
  int cnt = aints(im, n, "perm", perm, IR_MAX_RANK);
  if (cnt == -2) return false;
  IrNode *m = mk(im, "transpose", &x, 1);
  if (cnt >= 0) ir_set_ints(im->g, m, "perm", perm, cnt);
  set_out(a, 0, keep_float_params(im, fin(im, m)));
  return true;
}

static bool lower_concat(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  int64_t axis = aint(n, "axis", INT64_MIN);
  if (axis == INT64_MIN) return fail(im, "Concat needs an axis");
  IrValue *acc = NULL;
  for (int i = 0; i < a->nin;) {
    IrValue *in[16];
    int k = 0;
    if (acc) in[k++] = acc;
    for (; k < 16 && i < a->nin; i++) {
      const IrType *t = has_in(a, i) ? ent_type(im, a->in[i]) : NULL;
      if (!t) return im->failed ? false : fail(im, "Concat input %d is missing", i);
      if (ir_type_numel(t) == 0 && a->nin > 1) continue; /* ONNX allows empty pieces */
      if (!(in[k++] = in_val(im, a, i))) return false;
    }
    if (k == 0 && !(in[k++] = in_val(im, a, 0))) return false;
    IrNode *m = ir_add_node(im->g, opdef("concat"), in, k, NULL, 1, im->loc);
    ir_set_int(im->g, m, "axis", axis);
    if (!(acc = fin(im, m))) return false;
  }
  set_out(a, 0, acc);
  return true;
}

static bool lower_slice(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
  int ns, ne, na = -1, np = -1;
  if (im->opset < 10) {
    ns = aints(im, n, "starts", st, IR_MAX_RANK);
    ne = aints(im, n, "ends", en, IR_MAX_RANK);
    na = aints(im, n, "axes", ax, IR_MAX_RANK);
  } else {
    ns = const_ints(im, a, 1, "starts", st, IR_MAX_RANK);
    ne = const_ints(im, a, 2, "ends", en, IR_MAX_RANK);
    if (has_in(a, 3) && (na = const_ints(im, a, 3, "axes", ax, IR_MAX_RANK)) < 0) return false;
    if (has_in(a, 4) && (np = const_ints(im, a, 4, "steps", sp, IR_MAX_RANK)) < 0) return false;
  }
  if (ns < 0 || ne < 0 || im->failed) return im->failed ? false : fail(im, "Slice needs starts and ends");
  IrNode *m = mk(im, "slice", &x, 1);
  ir_set_ints(im->g, m, "starts", st, ns);
  ir_set_ints(im->g, m, "ends", en, ne);
  if (na >= 0) ir_set_ints(im->g, m, "axes", ax, na);
  if (np >= 0) ir_set_ints(im->g, m, "steps", sp, np);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_pad(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t pads[2 * IR_MAX_RANK], p[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
  double value = 0;
  int cnt, na = -1;
  const char *mode = astr(im, n, "mode", "constant");
  if (im->opset < 11) {
    cnt = aints(im, n, "pads", p, 2 * IR_MAX_RANK);
    value = afloat(n, "value", 0);
  } else {
    cnt = const_ints(im, a, 1, "pads", p, 2 * IR_MAX_RANK);
    if (has_in(a, 2)) {
      IrTensor *c = in_const(im, a, 2, "constant_value");
      if (!c) return false;
      value = c->numel ? c->d[0] : 0;
    }
    if (has_in(a, 3) && (na = const_ints(im, a, 3, "axes", axes, IR_MAX_RANK)) < 0) return false;
  }
  if (cnt < 0) return im->failed ? false : fail(im, "Pad needs pads");
  if (strcmp(mode, "constant")) return fail(im, "Pad mode \"%s\" is not supported (only \"constant\")", mode);
  if (na < 0) {
    if (cnt != 2 * r) return fail(im, "pads has %d values, expected %d", cnt, 2 * r);
    memcpy(pads, p, sizeof(int64_t) * (size_t)cnt);
  } else {
    if (cnt != 2 * na) return fail(im, "pads has %d values for %d axes", cnt, na);
    memset(pads, 0, sizeof pads);
    for (int i = 0; i < na; i++) {
      int64_t ax2 = axes[i] < 0 ? axes[i] + r : axes[i];
      if (ax2 < 0 || ax2 >= r) return fail(im, "axis %lld is out of range", (long long)axes[i]);
      pads[ax2] = p[i];
      pads[r + ax2] = p[na + i];
    }
  }
  IrNode *m = mk(im, "pad", &x, 1);
  ir_set_ints(im->g, m, "pads", pads, 2 * r);
  ir_set_float(im->g, m, "value", value);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_expand(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  im->fold_params = true;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int64_t s[IR_MAX_RANK];
  int cnt = const_ints(im, a, 1, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  IrNode *m = mk(im, "expand", &x, 1);
  ir_set_ints(im->g, m, "shape", s, cnt);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_reduce(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!axes_arg(im, n, a, !strcmp(t, "ReduceSum") ? 13 : 18, 1, axes, &cnt)) return false;
  bool noop = aint(n, "noop_with_empty_axes", 0) != 0;
  if (cnt <= 0 && noop) {
    set_out(a, 0, x);
    return true;
  }
  const char *op = "reduce_sum";
  IrValue *src = x;
  bool negate = false, root = false, logr = false;
  if (!strcmp(t, "ReduceMean")) op = "reduce_mean";
  else if (!strcmp(t, "ReduceMax")) op = "reduce_max";
  else if (!strcmp(t, "ReduceMin")) op = "reduce_max", negate = true, src = op1(im, "neg", x);
  else if (!strcmp(t, "ReduceSumSquare")) src = op2(im, "mul", x, x);
  else if (!strcmp(t, "ReduceL2")) src = op2(im, "mul", x, x), root = true;
  else if (!strcmp(t, "ReduceL1")) src = op1(im, "abs", x);
  else if (!strcmp(t, "ReduceLogSum")) logr = true;
  else if (!strcmp(t, "ReduceLogSumExp")) src = op1(im, "exp", x), logr = true;
  if (!src) return false;
  IrNode *m = mk(im, op, &src, 1);
  if (cnt > 0) ir_set_ints(im->g, m, "axes", axes, cnt);
  ir_set_int(im->g, m, "keepdims", aint(n, "keepdims", 1));
  IrValue *y = fin(im, m);
  if (negate) y = op1(im, "neg", y);
  if (root) y = op1(im, "sqrt", y);
  if (logr) y = op1(im, "log", y);
  set_out(a, 0, y);
  return true;
}

/* ---- recurrent layers: ONNX RNN / GRU / LSTM onto smelt's rnn / gru / lstm
 * (PyTorch layout). ONNX stacks gates as LSTM i,o,f,c and GRU z,r,h; the
 * seq ops take PyTorch's i,f,g,o and r,z,n. The reordering is slices and a
 * concat of the ONNX tensors at run time, so the ONNX initializers W, R, B
 * themselves stay the model's parameters (trained under their own names and
 * exported unchanged in layout). ---- */
enum { RC_RNN, RC_GRU, RC_LSTM };

/* blocks of H rows of v (along axis) in PyTorch's gate order */
static IrValue *gate_reorder(Im *im, IrValue *v, int axis, int cell, int64_t H, int64_t off) {
  static const int lstm_perm[4] = {0, 2, 3, 1}, gru_perm[3] = {1, 0, 2}, rnn_perm[1] = {0};
  const int *perm = cell == RC_LSTM ? lstm_perm : cell == RC_GRU ? gru_perm : rnn_perm;
  int G = cell == RC_LSTM ? 4 : cell == RC_GRU ? 3 : 1;
  IrValue *parts[4];
  for (int k = 0; k < G; k++) {
    int64_t st = off + perm[k] * H;
    parts[k] = slice_axis(im, v, axis, st, st + H, 1);
  }
  if (G == 1 && off == 0 && v && v->type.dims[axis] == H) return v;
  return concat_n(im, parts, G, axis);
}

static bool act_is(const char *got, const char *want) { return !strcasecmp(got, want); }

static bool lower_recurrent(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  int cell = !strcmp(t, "LSTM") ? RC_LSTM : !strcmp(t, "GRU") ? RC_GRU : RC_RNN;
  int G = cell == RC_LSTM ? 4 : cell == RC_GRU ? 3 : 1;
  IrValue *x = in_val(im, a, 0), *W = in_val(im, a, 1), *R = in_val(im, a, 2);
  if (!x || !W || !R) return im->failed ? false : fail(im, "%s needs X, W and R", t);
  int64_t layout = im->opset >= 14 ? aint(n, "layout", 0) : 0;
  if (layout != 0 && layout != 1) return fail(im, "layout must be 0 or 1, got %lld", (long long)layout);
  const char *dir = astr(im, n, "direction", "forward");
  bool rev = !strcmp(dir, "reverse"), bidi = !strcmp(dir, "bidirectional");
  if (!rev && !bidi && strcmp(dir, "forward"))
    return fail(im, "direction must be forward, reverse or bidirectional, got \"%s\"", dir);
  int64_t D = bidi ? 2 : 1;
  char s1[IR_TYPE_STRLEN], s2[IR_TYPE_STRLEN];
  if (x->type.rank != 3 || W->type.rank != 3 || R->type.rank != 3)
    return fail(im, "X, W and R must be 3-D, got %s, %s and %s", ir_type_str(&x->type, s1, sizeof s1),
                ir_type_str(&W->type, s2, sizeof s2), ir_type_str(&R->type, s2, sizeof s2));
  int64_t H = aint(n, "hidden_size", R->type.dims[2]);
  int64_t T = x->type.dims[layout ? 1 : 0], N = x->type.dims[layout ? 0 : 1], I = x->type.dims[2];
  if (H < 1 || H > IR_MAX_NUMEL || W->type.dims[0] != D || W->type.dims[1] != G * H || W->type.dims[2] != I ||
      R->type.dims[0] != D || R->type.dims[1] != G * H || R->type.dims[2] != H)
    return fail(im, "W %s and R %s do not match hidden_size %lld, %lld direction%s and input size %lld "
                    "(W [D, %d*H, I], R [D, %d*H, H])", ir_type_str(&W->type, s1, sizeof s1),
                ir_type_str(&R->type, s2, sizeof s2), (long long)H, (long long)D, D > 1 ? "s" : "",
                (long long)I, G, G);
  /* what the seq ops do not compute: a clear message each */
  if (attr(n, "clip")) return fail(im, "%s with clip is not supported (smelt's %s cell does not clip)", t, t);
  if (cell == RC_LSTM && aint(n, "input_forget", 0))
    return fail(im, "LSTM with input_forget=1 (coupled input and forget gates) is not supported");
  int64_t lbr = cell == RC_GRU ? aint(n, "linear_before_reset", 0) : 1;
  static const char *const defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  int nact = cell == RC_LSTM ? 3 : cell == RC_GRU ? 2 : 1;
  const Onnx__AttributeProto *acts = attr(n, "activations");
  bool relu = false;
  if (acts) {
    if (acts->n_strings != (size_t)(nact * D))
      return fail(im, "activations has %zu entries, expected %d", acts->n_strings, (int)(nact * D));
    for (size_t k = 0; k < acts->n_strings; k++) {
      char buf[64];
      snprintf(buf, sizeof buf, "%.*s", (int)acts->strings[k].len, (const char *)acts->strings[k].data);
      const char *want = defaults[cell][k % nact];
      if (cell == RC_RNN && act_is(buf, "Relu") && (k == 0 || relu)) {
        relu = true;
        continue;
      }
      if (!act_is(buf, want) || (cell == RC_RNN && relu))
        return fail(im, "%s activation %zu is %s: smelt's %s computes %s only", t, k, buf, t,
                    cell == RC_LSTM ? "Sigmoid, Tanh, Tanh" : cell == RC_GRU ? "Sigmoid, Tanh"
                                                                            : "Tanh or Relu (the same for both directions)");
    }
  }
  if (has_in(a, 4)) { /* sequence_lens: only full length */
    IrTensor *sl = ent_const(im, a->in[4]);
    if (!sl) return im->failed ? false : fail(im, "sequence_lens computed at run time is not supported");
    for (int64_t i = 0; i < sl->numel; i++)
      if (d2i(sl->d[i]) != T)
        return fail(im, "sequence_lens[%lld] = %lld: sequences shorter than the input's %lld steps "
                        "are not supported", (long long)i, (long long)d2i(sl->d[i]), (long long)T);
  }
  if (cell == RC_LSTM && has_in(a, 7)) {
    IrTensor *p = ent_const(im, a->in[7]);
    bool zero = p != NULL;
    for (int64_t i = 0; p && i < p->numel; i++) zero &= p->d[i] == 0;
    if (!zero) return im->failed ? false : fail(im, "LSTM peepholes (input P) are not supported (PyTorch's LSTM has none)");
  }
  IrDType dt = x->type.dtype;
  IrValue *wih = gate_reorder(im, W, 1, cell, H, 0), *whh = gate_reorder(im, R, 1, cell, H, 0);
  IrValue *bih, *bhh;
  if (has_in(a, 3)) {
    IrValue *B = in_val(im, a, 3);
    if (!B) return false;
    if (B->type.rank != 2 || B->type.dims[0] != D || B->type.dims[1] != 2 * G * H)
      return fail(im, "B must be [%lld, %lld], got %s", (long long)D, (long long)(2 * G * H),
                  ir_type_str(&B->type, s1, sizeof s1));
    bih = gate_reorder(im, B, 1, cell, H, 0);
    bhh = gate_reorder(im, B, 1, cell, H, G * H);
  } else {
    int64_t bd[2] = {D, G * H};
    bih = bhh = filled(im, dt, 2, bd, 0);
  }
  int64_t taxis = layout ? 1 : 0;
  IrValue *xs = rev ? flip_axis(im, x, (int)taxis) : x;
  IrValue *in[7] = {xs, wih, whh, bih, bhh, NULL, NULL};
  int nin = 5;
  static const int64_t swap01[3] = {1, 0, 2};
  int64_t sd[3] = {D, N, H};
  for (int k = 0; k < (cell == RC_LSTM ? 2 : 1); k++) {
    IrValue *s0 = NULL;
    if (has_in(a, 5 + k)) {
      if (!(s0 = in_val(im, a, 5 + k))) return false;
      if (layout) s0 = transpose_to(im, s0, swap01);
    } else if (cell == RC_LSTM && (has_in(a, 5) || has_in(a, 6))) {
      s0 = filled(im, dt, 3, sd, 0);
    }
    if (s0) in[nin++] = s0;
  }
  for (int i = 0; i < nin; i++)
    if (!in[i]) return false;
  const char *opn = cell == RC_LSTM ? "lstm" : cell == RC_GRU ? "gru" : "rnn";
  IrNode *m = ir_add_node(im->g, opdef(opn), in, nin, NULL, cell == RC_LSTM ? 3 : 2, im->loc);
  ir_set_int(im->g, m, "batch_first", layout);
  ir_set_str(im->g, m, "direction", bidi ? "bidirectional" : "forward");
  if (cell == RC_RNN && relu) ir_set_str(im->g, m, "activation", "relu");
  if (cell == RC_GRU && lbr != 1) ir_set_int(im->g, m, "linear_before_reset", lbr);
  if (!fin(im, m)) return false;
  IrValue *y = m->out[0]; /* [T, N, D*H] or [N, T, D*H] */
  if (rev) y = flip_axis(im, y, (int)taxis);
  if (has_out(a, 0)) {
    int64_t yd[4] = {T, N, D, H};
    static const int64_t p0213[4] = {0, 2, 1, 3};
    if (layout) {
      yd[0] = N;
      yd[1] = T;
      set_out(a, 0, reshape_to(im, y, 4, yd));
    } else {
      set_out(a, 0, transpose_to(im, reshape_to(im, y, 4, yd), p0213));
    }
  }
  for (int k = 1; k < (cell == RC_LSTM ? 3 : 2); k++)
    if (has_out(a, k)) set_out(a, k, layout ? transpose_to(im, m->out[k], swap01) : m->out[k]);
  return true;
}

/* ---- normalization layers onto the seq ops ---- */
static bool lower_layernorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0), *sc = in_val(im, a, 1);
  if (!x || !sc) return im->failed ? false : fail(im, "LayerNormalization needs X and Scale");
  int r = x->type.rank;
  int64_t axis = aint(n, "axis", -1);
  if (axis < -r || axis >= r) return fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  double eps = afloat(n, "epsilon", 1e-5);
  IrType nt = ir_type_make(x->type.dtype, r - (int)axis, x->type.dims + axis);
  IrValue *b = has_in(a, 2) ? in_val(im, a, 2) : filled(im, x->type.dtype, nt.rank, nt.dims, 0);
  if (!b) return false;
  IrValue *sb[2] = {sc, b};
  for (int k = 0; k < 2; k++)
    if (!ir_type_eq(&sb[k]->type, &nt)) { /* broadcastable to the normalized shape */
      IrNode *e = mk(im, "expand", &sb[k], 1);
      ir_set_ints(im->g, e, "shape", nt.dims, nt.rank);
      if (!(sb[k] = fin(im, e))) return false;
      if (!ir_type_eq(&sb[k]->type, &nt))
        return fail(im, "%s does not broadcast to the normalized shape", k ? "B" : "Scale");
    }
  IrValue *in[3] = {x, sb[0], sb[1]};
  IrNode *m = ir_add_node(im->g, opdef("layernorm"), in, 3, NULL, 1, im->loc);
  ir_set_int(im->g, m, "axis", axis);
  ir_set_float(im->g, m, "epsilon", eps);
  set_out(a, 0, fin(im, m));
  if (has_out(a, 1) || has_out(a, 2)) { /* Mean and InvStdDev, keepdims shape */
    IrNode *st = ir_add_node(im->g, opdef("norm_stats"), &x, 1, NULL, 2, im->loc);
    ir_set_int(im->g, st, "axis", axis);
    ir_set_float(im->g, st, "epsilon", eps);
    if (!fin(im, st)) return false;
    set_out(a, 1, st->out[0]);
    set_out(a, 2, st->out[1]);
  }
  return true;
}

static bool lower_groupnorm(Im *im, const Onnx__NodeProto *n, Args *a) {
  bool inst = !strcmp(n->op_type, "InstanceNormalization");
  IrValue *x = in_val(im, a, 0), *sc = in_val(im, a, 1), *b = in_val(im, a, 2);
  if (!x || !sc || !b) return im->failed ? false : fail(im, "%s needs 3 inputs", n->op_type);
  if (x->type.rank < (inst ? 3 : 2)) return fail(im, "input must be [N, C, ...] with rank at least %d", inst ? 3 : 2);
  int64_t C = x->type.dims[1], G = inst ? C : aint(n, "num_groups", 0);
  if (G < 1 || C % G) return fail(im, "num_groups %lld must be positive and divide the %lld channels", (long long)G, (long long)C);
  IrValue *sb[2] = {sc, b};
  for (int k = 0; k < 2; k++) {
    int64_t cnt = ir_type_numel(&sb[k]->type);
    if (sb[k]->type.rank != 1 || (cnt != C && cnt != G))
      return fail(im, "%s must be [%lld] (per channel) or [%lld] (per group, opset 18)", k ? "bias" : "scale",
                  (long long)C, (long long)G);
    if (cnt != C) { /* per group (opset 18-20): repeat over each group's channels */
      int64_t g1[2] = {G, 1}, gc[2] = {G, C / G};
      IrValue *col = reshape_to(im, sb[k], 2, g1);
      if (!col) return false;
      IrNode *e = mk(im, "expand", &col, 1);
      ir_set_ints(im->g, e, "shape", gc, 2);
      sb[k] = reshape_to(im, fin(im, e), 1, &C);
      if (!sb[k]) return false;
    }
  }
  IrValue *in[3] = {x, sb[0], sb[1]};
  IrNode *m = ir_add_node(im->g, opdef(inst ? "instancenorm" : "groupnorm"), in, 3, NULL, 1, im->loc);
  if (!inst) ir_set_int(im->g, m, "groups", G);
  ir_set_float(im->g, m, "epsilon", afloat(n, "epsilon", 1e-5));
  set_out(a, 0, fin(im, m));
  return true;
}

/* ---- Erf: no erf op in the IR; Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
 * erf(x) = s(x) * (1 - t*(a1 + t*(a2 + t*(a3 + t*(a4 + t*a5)))) * e^(-x^2)),
 * t = 1 / (1 + p|x|), s(x) = clip(x * 1e30, -1, 1) the sign. ---- */
static bool lower_erf(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  if (!ir_dtype_is_float(x->type.dtype)) return fail(im, "Erf of %s is not supported", ir_dtype_name(x->type.dtype));
  IrDType dt = x->type.dtype;
  static const double c[5] = {0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429};
  IrValue *ax = op1(im, "abs", x);
  IrValue *t = op1(im, "reciprocal", op2(im, "add", op2(im, "mul", ax, scalar(im, dt, 0.3275911)), scalar(im, dt, 1)));
  IrValue *poly = op2(im, "mul", t, scalar(im, dt, c[4]));
  for (int k = 3; k >= 0; k--) poly = op2(im, "mul", t, op2(im, "add", poly, scalar(im, dt, c[k])));
  IrValue *ex = op1(im, "exp", op1(im, "neg", op2(im, "mul", ax, ax)));
  IrValue *e = op2(im, "sub", scalar(im, dt, 1), op2(im, "mul", poly, ex));
  IrValue *big = op2(im, "mul", x, scalar(im, dt, 1e30));
  if (!big || !e) return false;
  IrNode *m = mk(im, "clip", &big, 1);
  ir_set_float(im->g, m, "min", -1);
  ir_set_float(im->g, m, "max", 1);
  set_out(a, 0, op2(im, "mul", e, fin(im, m)));
  return true;
}

static bool lower_split(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axis = aint(n, "axis", 0);
  if (axis < -r || axis >= r) return fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  int64_t dim = x->type.dims[axis], sp[64];
  int cnt = -1, nout = a->nout;
  if (im->opset < 13) cnt = aints(im, n, "split", sp, 64);
  else if (has_in(a, 1)) cnt = const_ints(im, a, 1, "split", sp, 64);
  if (cnt == -2 || im->failed) return false;
  if (cnt >= 0) {
    if (cnt != nout) return fail(im, "split has %d sizes for %d outputs", cnt, nout);
    int64_t tot = 0;
    for (int i = 0; i < cnt; i++) {
      if (sp[i] < 0) return fail(im, "split has a negative size");
      if (sp[i] > dim - tot) /* also keeps the sum from overflowing */
        return fail(im, "split sizes sum to more than the axis's %lld", (long long)dim);
      tot += sp[i];
    }
    if (tot != dim) return fail(im, "split sizes sum to %lld, the axis has %lld", (long long)tot, (long long)dim);
  } else {
    int64_t parts = im->opset >= 18 && attr(n, "num_outputs") ? aint(n, "num_outputs", nout) : nout;
    if (parts < 1 || parts != nout) return fail(im, "num_outputs %lld does not match the %d outputs", (long long)parts, nout);
    int64_t chunk = (dim + parts - 1) / parts;
    if (im->opset < 18 && dim % parts) return fail(im, "axis of %lld does not split into %lld equal parts", (long long)dim, (long long)parts);
    for (int i = 0; i < nout; i++) {
      int64_t lo = i * chunk < dim ? i * chunk : dim;
      sp[i] = lo + chunk < dim ? chunk : dim - lo;
    }
  }
  int64_t off = 0;
  for (int i = 0; i < nout; i++) {
    if (has_out(a, i)) set_out(a, i, keep_float_params(im, slice_axis(im, x, (int)axis, off, off + sp[i], 1)));
    off += sp[i];
  }
  return !im->failed;
}

static bool lower_const_ew(Im *im, const Onnx__NodeProto *n, Args *a);

/* Operand k where an initializer need not become a parameter: integer and
 * bool initializers (never trained) and, with `fill`, a float scalar (a
 * fill value such as Where's -inf) become constant nodes, so they fold;
 * float tensors stay the parameters every other use of them sees. */
static IrValue *const_operand(Im *im, Args *a, int k, bool fill) {
  Ent *e = has_in(a, k) ? a->in[k] : NULL;
  IrTensor *c = e ? ent_const(im, e) : NULL;
  if (im->failed) return NULL;
  if (c && e->param && !e->v && (!ir_dtype_is_float(c->type.dtype) || (fill && c->numel == 1))) {
    /* a constant node of its own (fresh name: the entry keeps its meaning) */
    IrNode *m = ir_add_node(im->g, opdef("constant"), NULL, 0, NULL, 1, im->loc);
    ir_set_ints(im->g, m, "shape", c->type.dims, c->type.rank);
    ir_set_floats(im->g, m, "value", c->d, (int)c->numel);
    ir_set_str(im->g, m, "dtype", ir_dtype_name(c->type.dtype));
    return fin(im, m);
  }
  return in_val(im, a, k);
}

/* Comparisons and logic (Equal, Less, ..., And, Or, Xor, Not): folded
 * when every input is known at import, else smelt's ops at run time. */
static bool lower_logic(Im *im, const Onnx__NodeProto *n, Args *a) {
  static const char *const map[][2] = {
      {"Equal", "equal"}, {"Less", "less"}, {"Greater", "greater"},
      {"LessOrEqual", "less_equal"}, {"GreaterOrEqual", "greater_equal"},
      {"And", "and"}, {"Or", "or"}, {"Xor", "xor"}, {"Not", "not"}};
  const char *t = n->op_type, *op = NULL;
  for (int i = 0; i < SM_COUNT(map); i++)
    if (!strcmp(map[i][0], t)) op = map[i][1];
  int k = !strcmp(t, "Not") ? 1 : 2;
  bool all = true;
  for (int i = 0; i < k; i++) {
    if (!has_in(a, i)) return fail(im, "%s needs %d input%s", t, k, k > 1 ? "s" : "");
    all &= ent_const(im, a->in[i]) != NULL;
    if (im->failed) return false;
  }
  if (all) return lower_const_ew(im, n, a);
  if (k == 1) set_out(a, 0, op1(im, op, in_val(im, a, 0)));
  else set_out(a, 0, op2(im, op, const_operand(im, a, 0, false), const_operand(im, a, 1, false)));
  return true;
}

/* Where: folded when everything is known at import (and no side is a
 * weight), else smelt's where (a constant condition stays a constant). */
static bool lower_where(Im *im, const Onnx__NodeProto *n, Args *a) {
  for (int i = 0; i < 3; i++)
    if (!has_in(a, i)) return fail(im, "Where needs 3 inputs");
  IrTensor *cc = ent_const(im, a->in[0]), *xc = ent_const(im, a->in[1]), *yc = ent_const(im, a->in[2]);
  if (im->failed) return false;
  if (cc && xc && yc && !a->in[1]->param && !a->in[2]->param) return lower_const_ew(im, n, a);
  IrValue *in[3] = {const_operand(im, a, 0, false), const_operand(im, a, 1, true),
                    const_operand(im, a, 2, true)};
  if (!in[0] || !in[1] || !in[2]) return false;
  set_out(a, 0, fin(im, mk(im, "where", in, 3)));
  return true;
}

static bool lower_tile(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  im->fold_params = true;
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int64_t rep[IR_MAX_RANK];
  int cnt = const_ints(im, a, 1, "repeats", rep, IR_MAX_RANK);
  if (cnt < 0) return false;
  if (cnt != x->type.rank) return fail(im, "repeats has %d values for rank %d", cnt, x->type.rank);
  IrValue *y = x;
  for (int i = 0; i < cnt && y; i++) {
    if (rep[i] < 0 || rep[i] > 4096) return fail(im, "repeats[%d] = %lld is out of range", i, (long long)rep[i]);
    if (rep[i] == 1) continue;
    if (rep[i] == 0) return fail(im, "Tile with a zero repeat is not supported (empty result)");
    IrValue **cp = sm_xcalloc((size_t)rep[i], sizeof *cp);
    for (int64_t k = 0; k < rep[i]; k++) cp[k] = y;
    y = concat_n(im, cp, (int)rep[i], i);
    free(cp);
  }
  set_out(a, 0, keep_float_params(im, y));
  return true;
}

/* ReduceProd: the reduced dims moved last and flattened, then a product of
 * slices (exact; at most 1024 reduced elements). */
static bool lower_reduce_prod(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!axes_arg(im, n, a, 18, 1, axes, &cnt)) return false;
  bool keep = aint(n, "keepdims", 1) != 0;
  if (cnt <= 0 && aint(n, "noop_with_empty_axes", 0)) {
    set_out(a, 0, x);
    return true;
  }
  bool red[IR_MAX_RANK] = {0};
  if (cnt <= 0)
    for (int i = 0; i < r; i++) red[i] = true;
  for (int i = 0; i < cnt; i++) {
    int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
    if (ax < 0 || ax >= r) return fail(im, "axis %lld is out of range for rank %d", (long long)axes[i], r);
    red[ax] = true;
  }
  int64_t perm[IR_MAX_RANK], kd[IR_MAX_RANK], od[IR_MAX_RANK + 1], K = 1;
  int np = 0, nk = 0, no = 0;
  for (int i = 0; i < r; i++)
    if (!red[i]) perm[np++] = i, od[no++] = x->type.dims[i];
  for (int i = 0; i < r; i++)
    if (red[i]) perm[np++] = i, K *= x->type.dims[i];
  for (int i = 0; i < r; i++) kd[nk++] = red[i] ? 1 : x->type.dims[i];
  if (K < 1 || K > 1024) return fail(im, "ReduceProd over %lld elements is not supported (1 to 1024)", (long long)K);
  od[no++] = K;
  IrValue *f = reshape_to(im, transpose_to(im, x, perm), no, od);
  IrValue *p = slice_axis(im, f, no - 1, 0, 1, 1);
  for (int64_t k = 1; k < K && p; k++) p = op2(im, "mul", p, slice_axis(im, f, no - 1, k, k + 1, 1));
  if (!p) return false;
  if (keep) {
    set_out(a, 0, reshape_to(im, p, nk, kd));
  } else {
    set_out(a, 0, reshape_to(im, p, no - 1, od));
  }
  return true;
}

/* 3-D ConvTranspose as lower_conv_transpose does 2-D: zeros inserted
 * between the input's elements (stride), pads/crops, then a stride-1
 * convolution (conv3d_values) with the regrouped, flipped weight. */
static bool convt3d(Im *im, Args *a, IrValue *x, IrValue *w, IrValue *b, int64_t g, const int64_t *k,
                    const int64_t *s, const int64_t *dil, const int64_t *pads, const int64_t *opad) {
  int64_t N = x->type.dims[0], Cin = x->type.dims[1], Cog = w->type.dims[1], Cout = Cog * g;
  const int64_t *in = x->type.dims + 2;
  for (int j = 0; j < 3; j++)
    if (in[j] < 1 || in[j] > IR_MAX_NUMEL / s[j] || k[j] > IR_MAX_NUMEL / dil[j] ||
        pads[j] < -IR_MAX_NUMEL || pads[j] > IR_MAX_NUMEL || pads[3 + j] < -IR_MAX_NUMEL ||
        pads[3 + j] > IR_MAX_NUMEL || opad[j] < 0 || opad[j] > IR_MAX_NUMEL)
      return fail(im, "input, strides, dilations, pads or output_padding out of range");
  /* [N, Cin, D, 1, H, 1, W, 1], padded to [.., D, S0, H, S1, W, S2]: the
   * upsampled input plus S-1 trailing zeros per dim */
  int64_t x8[8] = {N, Cin, in[0], 1, in[1], 1, in[2], 1};
  IrValue *u = reshape_to(im, x, 8, x8);
  if (s[0] > 1 || s[1] > 1 || s[2] > 1) {
    int64_t p8[16] = {0};
    for (int j = 0; j < 3; j++) p8[8 + 3 + 2 * j] = s[j] - 1;
    if (!u) return false;
    IrNode *pm = mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p8, 16);
    u = fin(im, pm);
  }
  int64_t x5[5] = {N, Cin, in[0] * s[0], in[1] * s[1], in[2] * s[2]};
  u = reshape_to(im, u, 5, x5);
  int64_t p5[10] = {0};
  for (int j = 0; j < 3 && u; j++) {
    int64_t beg = dil[j] * (k[j] - 1) - pads[j];
    int64_t end = dil[j] * (k[j] - 1) - pads[3 + j] + opad[j] - (s[j] - 1);
    int64_t len = u->type.dims[2 + j];
    int64_t st = beg < 0 ? -beg : 0, en = end < 0 ? len + end : len;
    if (en <= st) return fail(im, "pads leave an empty output");
    if (st || en != len) u = slice_axis(im, u, 2 + j, st, en, 1);
    p5[2 + j] = beg > 0 ? beg : 0;
    p5[7 + j] = end > 0 ? end : 0;
  }
  if (!u) return false;
  if (p5[2] || p5[3] || p5[4] || p5[7] || p5[8] || p5[9]) {
    IrNode *pm = mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p5, 10);
    u = fin(im, pm);
  }
  /* weight [Cin, Cout/g, k..] -> [Cout, Cin/g, kD, kH, kW], flipped */
  int64_t w6[6] = {g, Cin / g, Cog, k[0], k[1], k[2]}, pw[6] = {0, 2, 1, 3, 4, 5};
  int64_t w5[5] = {Cout, Cin / g, k[0], k[1], k[2]};
  IrValue *wt = reshape_to(im, transpose_to(im, reshape_to(im, w, 6, w6), pw), 5, w5);
  for (int j = 0; j < 3; j++)
    if (k[j] > 1) wt = flip_axis(im, wt, 2 + j);
  if (!wt || !u) return false;
  Window cw = {.nsp = 3, .k = {k[0], k[1], k[2]}, .s = {1, 1, 1}, .dil = {dil[0], dil[1], dil[2]}};
  IrValue *y = conv3d_values(im, u, wt, b, &cw, g);
  set_out(a, 0, y);
  return y != NULL;
}

/* ConvTranspose as a convolution: the input with strides-1 zeros inserted
 * between elements (reshape, pad, reshape), padded by dilation*(k-1) - pads
 * (cropped where negative), convolved with the spatially flipped weight
 * whose in/out channel dims are swapped per group. 1-D runs as 2-D. */
static bool lower_conv_transpose(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0), *w = in_val(im, a, 1), *b = has_in(a, 2) ? in_val(im, a, 2) : NULL;
  if (!x || !w || (has_in(a, 2) && !b)) return false;
  int nsp = w->type.rank - 2;
  if (nsp < 1 || nsp > 3) return fail(im, "ConvTranspose with %d spatial dims is not supported (1-D, 2-D and 3-D are)", nsp);
  if (x->type.rank != nsp + 2) return fail(im, "input rank %d does not match weight rank %d", x->type.rank, w->type.rank);
  int64_t g = aint(n, "group", 1), Cin = x->type.dims[1];
  if (g < 1 || g > Cin || Cin % g || w->type.dims[0] != Cin)
    return fail(im, "weight %lld input channels for %lld channels and group %lld", (long long)w->type.dims[0],
                (long long)Cin, (long long)g);
  int64_t Cog = w->type.dims[1], Cout = Cog * g;
  int64_t k[3], s[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pads[6] = {0}, opad[3] = {0, 0, 0}, oshape[3], in[3];
  for (int j = 0; j < nsp; j++) k[j] = w->type.dims[2 + j], in[j] = x->type.dims[2 + j];
  int c;
  if ((c = aints(im, n, "kernel_shape", oshape, 3)) >= 0)
    for (int j = 0; j < nsp && c == nsp; j++)
      if (oshape[j] != k[j]) return fail(im, "kernel_shape does not match the weight");
  if ((c = aints(im, n, "strides", s, 3)) >= 0 && c != nsp) return fail(im, "strides needs %d values", nsp);
  if ((c = aints(im, n, "dilations", dil, 3)) >= 0 && c != nsp) return fail(im, "dilations needs %d values", nsp);
  if ((c = aints(im, n, "pads", pads, 6)) >= 0 && c != 2 * nsp) return fail(im, "pads needs %d values", 2 * nsp);
  if ((c = aints(im, n, "output_padding", opad, 3)) >= 0 && c != nsp) return fail(im, "output_padding needs %d values", nsp);
  if (im->failed) return false;
  for (int j = 0; j < nsp; j++)
    if (s[j] < 1 || dil[j] < 1 || k[j] < 1) return fail(im, "strides, dilations and kernel must be positive");
  int nos = aints(im, n, "output_shape", oshape, 3);
  if (nos == -2) return false;
  if (nos >= 0 && nos < nsp) return fail(im, "output_shape needs %d values, got %d", nsp, nos);
  /* bounds under which the output arithmetic below fits in int64 */
  for (int j = 0; j < nsp; j++) {
    if (s[j] > ONNX_MAX_STRIDE || dil[j] > ONNX_MAX_STRIDE)
      return fail(im, "strides and dilations must be at most 2^20");
    if (opad[j] < 0 || opad[j] > IR_MAX_NUMEL || pads[j] < -IR_MAX_NUMEL || pads[j] > IR_MAX_NUMEL ||
        pads[nsp + j] < -IR_MAX_NUMEL || pads[nsp + j] > IR_MAX_NUMEL ||
        (nos >= 0 && (oshape[nos - nsp + j] < 0 || oshape[nos - nsp + j] > IR_MAX_NUMEL)))
      return fail(im, "pads, output_padding or output_shape out of range");
  }
  const char *ap = astr(im, n, "auto_pad", "NOTSET");
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
  if (nos >= 0 || same) {
    for (int j = 0; j < nsp; j++) {
      int64_t want = nos >= 0 ? oshape[nos - nsp + j] : in[j] * s[j];
      int64_t total = s[j] * (in[j] - 1) + opad[j] + ((k[j] - 1) * dil[j] + 1) - want;
      if (total < 0) { /* larger than the full output: zeros at the end (as onnxruntime) */
        pads[j] = 0;
        pads[nsp + j] = total;
        continue;
      }
      bool upper = !strcmp(ap, "SAME_UPPER"); /* NOTSET distributes as SAME_LOWER */
      pads[j] = upper ? total / 2 : total - total / 2;
      pads[nsp + j] = total - pads[j];
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int j = 0; j < 2 * nsp; j++) pads[j] = 0;
  } else if (strcmp(ap, "NOTSET")) {
    return fail(im, "unknown auto_pad \"%s\"", ap);
  }
  if (nsp == 3) return convt3d(im, a, x, w, b, g, k, s, dil, pads, opad);
  /* as 2-D */
  int64_t N = x->type.dims[0];
  int64_t H = nsp == 2 ? in[0] : 1, Wd = nsp == 2 ? in[1] : in[0];
  int64_t K0 = nsp == 2 ? k[0] : 1, K1 = nsp == 2 ? k[1] : k[0];
  int64_t S0 = nsp == 2 ? s[0] : 1, S1 = nsp == 2 ? s[1] : s[0];
  int64_t D0 = nsp == 2 ? dil[0] : 1, D1 = nsp == 2 ? dil[1] : dil[0];
  int64_t pb0 = nsp == 2 ? pads[0] : 0, pb1 = nsp == 2 ? pads[1] : pads[0];
  int64_t pe0 = nsp == 2 ? pads[2] : 0, pe1 = nsp == 2 ? pads[3] : pads[1];
  int64_t op0 = nsp == 2 ? opad[0] : 0, op1_ = nsp == 2 ? opad[1] : opad[0];
  int64_t x6[6] = {N, Cin, H, 1, Wd, 1};
  IrValue *u = reshape_to(im, x, 6, x6);
  if (S0 > 1 || S1 > 1) {
    int64_t p6[12] = {0};
    p6[6 + 3] = S0 - 1;
    p6[6 + 5] = S1 - 1;
    IrNode *pm = mk(im, "pad", &u, 1);
    if (!u) return false;
    ir_set_ints(im->g, pm, "pads", p6, 12);
    u = fin(im, pm);
  }
  /* [N, Cin, H*S0, W*S1]: the upsampled input plus S-1 trailing zeros */
  int64_t x4[4] = {N, Cin, H * S0, Wd * S1};
  u = reshape_to(im, u, 4, x4);
  int64_t beg[2] = {D0 * (K0 - 1) - pb0, D1 * (K1 - 1) - pb1};
  int64_t end[2] = {D0 * (K0 - 1) - pe0 + op0 - (S0 - 1), D1 * (K1 - 1) - pe1 + op1_ - (S1 - 1)};
  for (int j = 0; j < 2 && u; j++) { /* crop negative pads */
    int64_t len = u->type.dims[2 + j];
    int64_t st = beg[j] < 0 ? -beg[j] : 0, en = end[j] < 0 ? len + end[j] : len;
    if (en <= st) return fail(im, "pads leave an empty output");
    if (st || en != len) u = slice_axis(im, u, 2 + j, st, en, 1);
  }
  if (!u) return false;
  int64_t p4[8] = {0, 0, beg[0] > 0 ? beg[0] : 0, beg[1] > 0 ? beg[1] : 0,
                   0, 0, end[0] > 0 ? end[0] : 0, end[1] > 0 ? end[1] : 0};
  if (p4[2] || p4[3] || p4[6] || p4[7]) {
    IrNode *pm = mk(im, "pad", &u, 1);
    ir_set_ints(im->g, pm, "pads", p4, 8);
    u = fin(im, pm);
  }
  /* weight [Cin, Cout/g, k..] -> [Cout, Cin/g, kH, kW], flipped */
  int64_t w5[5] = {g, Cin / g, Cog, K0, K1}, pw[5] = {0, 2, 1, 3, 4}, w4[4] = {Cout, Cin / g, K0, K1};
  IrValue *wt = reshape_to(im, transpose_to(im, reshape_to(im, w, 5, w5), pw), 4, w4);
  if (K0 > 1) wt = flip_axis(im, wt, 2);
  if (K1 > 1) wt = flip_axis(im, wt, 3);
  if (!wt || !u) return false;
  IrValue *cin[3] = {u, wt, b};
  IrNode *m = ir_add_node(im->g, opdef("conv2d"), cin, b ? 3 : 2, NULL, 1, im->loc);
  int64_t one[2] = {1, 1}, zero[4] = {0}, dd[2] = {D0, D1};
  ir_set_ints(im->g, m, "strides", one, 2);
  ir_set_ints(im->g, m, "pads", zero, 4);
  ir_set_ints(im->g, m, "dilations", dd, 2);
  ir_set_int(im->g, m, "group", g);
  IrValue *y = fin(im, m);
  if (y && nsp == 1) {
    int64_t y3[3] = {y->type.dims[0], y->type.dims[1], y->type.dims[3]};
    y = reshape_to(im, y, 3, y3);
  }
  set_out(a, 0, y);
  return true;
}

/* ---- import-time only ops: shape computations ---- */
static bool lower_shape(Im *im, const Onnx__NodeProto *n, Args *a) {
  const IrType *t = has_in(a, 0) ? ent_type(im, a->in[0]) : NULL;
  if (!t) return false;
  int64_t r = t->rank, s = im->opset >= 15 ? aint(n, "start", 0) : 0, e = im->opset >= 15 ? aint(n, "end", r) : r;
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < 0 ? 0 : e > r ? r : e;
  int64_t len = e > s ? e - s : 0;
  IrTensor *c = new_const(im, ir_type_make(IR_I64, 1, &len));
  for (int64_t i = 0; i < len; i++) c->d[i] = (double)t->dims[s + i];
  set_const(a, 0, c, false);
  return true;
}

static bool lower_size(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  const IrType *t = has_in(a, 0) ? ent_type(im, a->in[0]) : NULL;
  if (!t) return false;
  IrTensor *c = new_const(im, ir_type_make(IR_I64, 0, NULL));
  c->d[0] = (double)ir_type_numel(t);
  set_const(a, 0, c, false);
  return true;
}

/* Gather of run-time data: slices for a few constant indices, otherwise
 * smelt's embedding over the data viewed as [dims[axis], rest]. Negative
 * ids count from the end; ids outside [-dim, dim) give zeros (ONNX calls
 * them an error). */
static bool gather_runtime(Im *im, IrValue *x, int64_t axis, Args *a) {
  int r = x->type.rank;
  const IrType *it = has_in(a, 1) ? ent_type(im, a->in[1]) : NULL;
  if (!it) return im->failed ? false : fail(im, "Gather needs indices");
  if (it->dtype != IR_I64 && it->dtype != IR_I32) return fail(im, "Gather indices must be int64 or int32");
  int orank = r - 1 + it->rank;
  if (orank > IR_MAX_RANK) return fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
  int64_t dim = x->type.dims[axis];
  IrTensor *ic = ent_const(im, a->in[1]);
  IrType ot = {.dtype = x->type.dtype, .rank = orank};
  int k = 0;
  for (int i = 0; i < axis; i++) ot.dims[k++] = x->type.dims[i];
  for (int i = 0; i < it->rank; i++) ot.dims[k++] = it->dims[i];
  for (int i = (int)axis + 1; i < r; i++) ot.dims[k++] = x->type.dims[i];
  if (ic) {
    for (int64_t j = 0; j < ic->numel; j++) {
      int64_t ix = d2i(ic->d[j]);
      if (ix < -dim || ix >= dim)
        return fail(im, "index %lld is out of range for dim %lld", (long long)ix, (long long)dim);
    }
    if (ic->numel >= 1 && ic->numel <= 16) {
      IrValue *parts[16];
      for (int64_t j = 0; j < ic->numel; j++) {
        int64_t ix = d2i(ic->d[j]);
        if (ix < 0) ix += dim;
        parts[j] = slice_axis(im, x, (int)axis, ix, ix + 1, 1);
      }
      set_out(a, 0, reshape_to(im, concat_n(im, parts, (int)ic->numel, (int)axis), ot.rank, ot.dims));
      return true;
    }
  }
  if (!ir_dtype_is_float(x->type.dtype))
    return fail(im, "Gather of a run-time %s tensor with run-time or many indices is not supported "
                    "(smelt's embedding gathers float rows)", ir_dtype_name(x->type.dtype));
  if (dim < 1) return fail(im, "Gather from an empty dim");
  IrValue *ids;
  if (ic) {
    IrTensor *c = new_const(im, ir_type_make(IR_I64, ic->type.rank, ic->type.dims));
    for (int64_t j = 0; j < c->numel; j++) c->d[j] = ic->d[j] < 0 ? ic->d[j] + (double)dim : ic->d[j];
    ids = const_value(im, c, "gather_ids");
  } else { /* negative ids count from the end: ids + dim * min(-min(ids, 0), 1) */
    ids = val(im, a->in[1]);
    IrDType it2 = ids ? ids->type.dtype : IR_I64;
    IrValue *neg = op2(im, "min", op1(im, "neg", op2(im, "min", ids, scalar(im, it2, 0))), scalar(im, it2, 1));
    ids = op2(im, "add", ids, op2(im, "mul", neg, scalar(im, it2, (double)dim)));
  }
  int64_t perm[IR_MAX_RANK], rest = 1;
  perm[0] = axis;
  for (int i = 0, j = 1; i < r; i++)
    if (i != axis) {
      perm[j++] = i;
      rest *= x->type.dims[i];
    }
  int64_t td[2] = {dim, rest};
  IrValue *table = reshape_to(im, transpose_to(im, x, perm), 2, td);
  IrValue *in2[2] = {ids, table};
  if (!ids || !table) return false;
  IrValue *e = fin(im, mk(im, "embedding", in2, 2));
  /* [ids..., dims before axis..., dims after axis...] -> the ONNX order */
  int64_t ed[IR_MAX_RANK], p2[IR_MAX_RANK];
  int q = it->rank, m = 0;
  for (int i = 0; i < q; i++) ed[m++] = it->dims[i];
  for (int i = 0; i < r; i++)
    if (i != axis) ed[m++] = x->type.dims[i];
  for (int i = 0; i < axis; i++) p2[i] = q + i;
  for (int i = 0; i < q; i++) p2[axis + i] = i;
  for (int i = (int)axis + q; i < orank; i++) p2[i] = i;
  set_out(a, 0, transpose_to(im, reshape_to(im, e, orank, ed), p2));
  return true;
}

static bool lower_gather(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrTensor *x = has_in(a, 0) ? ent_const(im, a->in[0]) : NULL;
  if (!x || (a->in[0]->param && ir_dtype_is_float(x->type.dtype))) {
    /* run-time data, or a float initializer (a weight, e.g. an embedding table): kept whole */
    IrValue *xv = in_val(im, a, 0);
    if (!xv) return false;
    int r = xv->type.rank;
    int64_t axis = aint(n, "axis", 0);
    if (axis < -r || axis >= r) return fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
    return gather_runtime(im, xv, axis < 0 ? axis + r : axis, a);
  }
  IrTensor *idx = in_const(im, a, 1, "indices");
  if (!idx) return false;
  int r = x->type.rank;
  int64_t axis = aint(n, "axis", 0);
  if (axis < -r || axis >= r) return fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  int orank = r - 1 + idx->type.rank;
  if (orank > IR_MAX_RANK) return fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
  IrType ot = {.dtype = x->type.dtype, .rank = orank};
  int k = 0;
  for (int i = 0; i < axis; i++) ot.dims[k++] = x->type.dims[i];
  for (int i = 0; i < idx->type.rank; i++) ot.dims[k++] = idx->type.dims[i];
  for (int i = (int)axis + 1; i < r; i++) ot.dims[k++] = x->type.dims[i];
  if (!fold_size_ok(im, &ot)) return false;
  int64_t outer = 1, inner = 1, dim = x->type.dims[axis];
  for (int i = 0; i < axis; i++) outer *= x->type.dims[i];
  for (int i = (int)axis + 1; i < r; i++) inner *= x->type.dims[i];
  IrTensor *c = new_const(im, ot);
  for (int64_t o = 0, w = 0; o < outer; o++)
    for (int64_t j = 0; j < idx->numel; j++) {
      int64_t ix = d2i(idx->d[j]);
      if (ix < 0) ix += dim;
      if (ix < 0 || ix >= dim) return fail(im, "index %lld is out of range for dim %lld", (long long)d2i(idx->d[j]), (long long)dim);
      for (int64_t i = 0; i < inner; i++) c->d[w++] = x->d[(o * dim + ix) * inner + i];
    }
  set_const(a, 0, c, a->in[0]->param);
  return true;
}

/* Cast and CastLike (the dtype of input 1): folded for constants, smelt's
 * cast at run time (a same-dtype cast vanishes). */
static bool lower_cast(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrDType dt;
  if (!strcmp(n->op_type, "CastLike")) {
    const IrType *t = has_in(a, 1) ? ent_type(im, a->in[1]) : NULL;
    if (!t) return im->failed ? false : fail(im, "CastLike needs 2 inputs");
    dt = t->dtype;
  } else {
    int to = (int)aint(n, "to", 0);
    if (!map_dtype(to, &dt)) return fail(im, "Cast to %s is not supported", onnx_dtype_name(to));
  }
  if (!has_in(a, 0)) return fail(im, "%s needs an input", n->op_type);
  IrTensor *x = ent_const(im, a->in[0]);
  if (im->failed) return false;
  if (!x || (a->in[0]->param && ir_dtype_is_float(x->type.dtype) && ir_dtype_is_float(dt))) {
    /* run-time data, or a weight cast to another float type (it stays
     * the trained parameter) */
    IrValue *v = val(im, a->in[0]);
    if (!v) return false;
    set_out(a, 0, keep_float_params(im, cast_value(im, v, dt)));
    return true;
  }
  IrTensor *c = new_const(im, ir_type_make(dt, x->type.rank, x->type.dims));
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = round_to(dt, x->d[i]);
  set_const(a, 0, c, a->in[0]->param);
  return true;
}

/* ArgMax / ArgMin (select_last_index from opset 12) */
static bool lower_arg(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = in_val(im, a, 0);
  if (!x) return im->failed ? false : fail(im, "%s needs an input", n->op_type);
  IrNode *m = mk(im, !strcmp(n->op_type, "ArgMax") ? "argmax" : "argmin", &x, 1);
  ir_set_int(im->g, m, "axis", aint(n, "axis", 0));
  ir_set_int(im->g, m, "keepdims", aint(n, "keepdims", 1));
  ir_set_int(im->g, m, "select_last_index", im->opset >= 12 ? aint(n, "select_last_index", 0) : 0);
  set_out(a, 0, fin(im, m));
  return true;
}

static bool lower_range(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrTensor *s = in_const(im, a, 0, "start"), *l = s ? in_const(im, a, 1, "limit") : NULL;
  IrTensor *dl = l ? in_const(im, a, 2, "delta") : NULL;
  if (!s || !l || !dl) return false;
  if (s->numel != 1 || l->numel != 1 || dl->numel != 1) return fail(im, "Range takes scalars");
  if (dl->d[0] == 0) return fail(im, "Range with delta 0");
  double cnt = ceil((l->d[0] - s->d[0]) / dl->d[0]);
  if (!(cnt <= (double)ONNX_MAX_FOLD)) return fail(im, "Range has more than 2^24 elements");
  int64_t len = cnt > 0 ? (int64_t)cnt : 0;
  IrTensor *c = new_const(im, ir_type_make(s->type.dtype, 1, &len));
  for (int64_t i = 0; i < len; i++) c->d[i] = round_to(s->type.dtype, s->d[0] + (double)i * dl->d[0]);
  set_const(a, 0, c, false);
  return true;
}

static bool lower_constant_of_shape(Im *im, const Onnx__NodeProto *n, Args *a) {
  int64_t s[IR_MAX_RANK];
  int cnt = const_ints(im, a, 0, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  IrDType dt = IR_F32;
  double v = 0;
  const Onnx__AttributeProto *va = attr(n, "value");
  if (va && va->t) {
    IrTensor *t = decode_tensor(im, va->t, NULL);
    if (!t) return false;
    if (t->numel != 1) return fail(im, "value must hold one element");
    dt = t->type.dtype;
    v = t->d[0];
  }
  for (int i = 0; i < cnt; i++)
    if (s[i] < 0) return fail(im, "shape has a negative dim");
  IrType ty = ir_type_make(dt, cnt, s);
  if (!fold_size_ok(im, &ty)) return false;
  IrTensor *c = new_const(im, ty);
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = v;
  set_const(a, 0, c, false);
  return true;
}

static bool lower_constant(Im *im, const Onnx__NodeProto *n, Args *a) {
  const Onnx__AttributeProto *at;
  IrTensor *c = NULL;
  if ((at = attr(n, "value")) && at->t) {
    c = decode_tensor(im, at->t, NULL);
  } else if ((at = attr(n, "value_float"))) {
    c = new_const(im, ir_type_make(IR_F32, 0, NULL));
    c->d[0] = at->f;
  } else if ((at = attr(n, "value_int"))) {
    c = new_const(im, ir_type_make(IR_I64, 0, NULL));
    c->d[0] = (double)at->i;
  } else if ((at = attr(n, "value_floats")) || (at = attr(n, "value_ints"))) {
    bool f = !strcmp(at->name, "value_floats");
    int64_t len = (int64_t)(f ? at->n_floats : at->n_ints);
    c = new_const(im, ir_type_make(f ? IR_F32 : IR_I64, 1, &len));
    for (int64_t i = 0; i < len; i++) c->d[i] = f ? at->floats[i] : (double)at->ints[i];
  } else {
    return fail(im, "Constant with %s is not supported (value, value_float(s), value_int(s) are)",
                n->n_attribute && n->attribute[0]->name ? n->attribute[0]->name : "no value");
  }
  if (!c) return false;
  set_const(a, 0, c, false);
  return true;
}

/* Comparison and logic on import-time constants. */
static bool lower_const_ew(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  IrTensor *x[3] = {0};
  int k = !strcmp(t, "Where") ? 3 : !strcmp(t, "Not") || !strcmp(t, "Floor") || !strcmp(t, "Ceil") ? 1 : 2;
  for (int i = 0; i < k; i++) {
    x[i] = has_in(a, i) ? ent_const(im, a->in[i]) : NULL;
    if (!x[i]) return fail(im, "%s on run-time tensors is not supported (only import-time constants are folded)", t);
  }
  IrType ty = x[0]->type;
  for (int i = 1; i < k; i++)
    if (!ir_broadcast(&ty, &x[i]->type, &ty)) return fail(im, "operand shapes do not broadcast");
  if (!fold_size_ok(im, &ty)) return false;
  bool logic = strcmp(t, "Where") && strcmp(t, "Floor") && strcmp(t, "Ceil");
  ty.dtype = logic ? IR_BOOL : !strcmp(t, "Where") ? x[1]->type.dtype : x[0]->type.dtype;
  IrTensor *c = new_const(im, ty);
  int64_t idx[IR_MAX_RANK];
  for (int64_t j = 0; j < c->numel; j++) {
    ref_unravel(&ty, j, idx);
    double v[3];
    for (int i = 0; i < k; i++) v[i] = x[i]->d[ref_bcast_offset(&x[i]->type, idx, ty.rank)];
    double r;
    if (!strcmp(t, "Equal")) r = v[0] == v[1];
    else if (!strcmp(t, "Less")) r = v[0] < v[1];
    else if (!strcmp(t, "LessOrEqual")) r = v[0] <= v[1];
    else if (!strcmp(t, "Greater")) r = v[0] > v[1];
    else if (!strcmp(t, "GreaterOrEqual")) r = v[0] >= v[1];
    else if (!strcmp(t, "And")) r = v[0] != 0 && v[1] != 0;
    else if (!strcmp(t, "Or")) r = v[0] != 0 || v[1] != 0;
    else if (!strcmp(t, "Xor")) r = (v[0] != 0) != (v[1] != 0);
    else if (!strcmp(t, "Not")) r = v[0] == 0;
    else if (!strcmp(t, "Floor")) r = floor(v[0]);
    else if (!strcmp(t, "Ceil")) r = ceil(v[0]);
    else r = v[0] != 0 ? v[1] : v[2];
    c->d[j] = r;
  }
  bool p = false;
  for (int i = 0; i < k; i++) p |= a->in[i]->param;
  set_const(a, 0, c, p);
  return true;
}

/* ---- the op table ---- */
/* Each op with the inputs and outputs its lowering handles (over every
 * opset it reads): inputs min_in..max_in, the first min_in named; at most
 * max_out outputs; ANY: as many as a node may have (Args). */
#define ANY (-1)
typedef struct OnnxOp {
  const char *name;
  LowerFn lower;
  int min_in, max_in, max_out;
} OnnxOp;

static const OnnxOp onnx_ops[] = {
    {"Relu", lower_unary, 1, 1, 1}, {"Sigmoid", lower_unary, 1, 1, 1},
    {"Tanh", lower_unary, 1, 1, 1}, {"Exp", lower_unary, 1, 1, 1},
    {"Log", lower_unary, 1, 1, 1}, {"Sqrt", lower_unary, 1, 1, 1},
    {"Abs", lower_unary, 1, 1, 1}, {"Neg", lower_unary, 1, 1, 1},
    {"Reciprocal", lower_unary, 1, 1, 1}, {"Softplus", lower_unary, 1, 1, 1},
    {"LeakyRelu", lower_alpha, 1, 1, 1}, {"Elu", lower_alpha, 1, 1, 1},
    {"Selu", lower_selu, 1, 1, 1}, {"HardSigmoid", lower_hard, 1, 1, 1},
    {"HardSwish", lower_hard, 1, 1, 1}, {"Softsign", lower_softsign, 1, 1, 1},
    {"PRelu", lower_prelu, 2, 2, 1}, {"Gelu", lower_gelu, 1, 1, 1},
    {"Clip", lower_clip, 1, 3, 1}, /* min, max: inputs since opset 11 */
    {"Add", lower_binary, 2, 2, 1}, {"Sub", lower_binary, 2, 2, 1},
    {"Mul", lower_binary, 2, 2, 1}, {"Div", lower_binary, 2, 2, 1},
    {"Pow", lower_binary, 2, 2, 1}, {"Sum", lower_variadic, 1, ANY, 1},
    {"Mean", lower_variadic, 1, ANY, 1}, {"Min", lower_variadic, 1, ANY, 1},
    {"Max", lower_variadic, 1, ANY, 1}, {"Identity", lower_identity, 1, 1, 1},
    {"Dropout", lower_dropout, 1, 3, 2}, /* ratio, training_mode since 12; mask */
    {"Conv", lower_conv, 2, 3, 1}, {"MaxPool", lower_pool, 1, 1, 2}, /* Indices: refused */
    {"AveragePool", lower_pool, 1, 1, 1}, {"GlobalAveragePool", lower_global_pool, 1, 1, 1},
    {"GlobalMaxPool", lower_global_pool, 1, 1, 1},
    {"BatchNormalization", lower_batchnorm, 5, 5, 5}, /* training outputs: refused */
    {"Gemm", lower_gemm, 2, 3, 1}, {"MatMul", lower_matmul, 2, 2, 1},
    {"Softmax", lower_softmax, 1, 1, 1}, {"LogSoftmax", lower_softmax, 1, 1, 1},
    {"Flatten", lower_flatten, 1, 1, 1}, {"Reshape", lower_reshape, 2, 2, 1},
    {"Squeeze", lower_squeeze, 1, 2, 1}, {"Unsqueeze", lower_squeeze, 1, 2, 1},
    {"Transpose", lower_transpose, 1, 1, 1}, {"Concat", lower_concat, 1, ANY, 1},
    {"Slice", lower_slice, 1, 5, 1}, {"Pad", lower_pad, 1, 4, 1},
    {"Expand", lower_expand, 2, 2, 1}, {"ReduceSum", lower_reduce, 1, 2, 1},
    {"ReduceMean", lower_reduce, 1, 2, 1}, {"ReduceMax", lower_reduce, 1, 2, 1},
    {"ReduceMin", lower_reduce, 1, 2, 1}, {"ReduceSumSquare", lower_reduce, 1, 2, 1},
    {"ReduceL1", lower_reduce, 1, 2, 1}, {"ReduceL2", lower_reduce, 1, 2, 1},
    {"ReduceLogSum", lower_reduce, 1, 2, 1}, {"ReduceLogSumExp", lower_reduce, 1, 2, 1},
    {"Shape", lower_shape, 1, 1, 1}, {"Size", lower_size, 1, 1, 1},
    {"Gather", lower_gather, 2, 2, 1}, {"Cast", lower_cast, 1, 1, 1},
    {"Range", lower_range, 3, 3, 1}, {"ConstantOfShape", lower_constant_of_shape, 1, 1, 1},
    {"Constant", lower_constant, 0, 0, 1}, {"Equal", lower_logic, 2, 2, 1},
    {"Less", lower_logic, 2, 2, 1}, {"LessOrEqual", lower_logic, 2, 2, 1},
    {"Greater", lower_logic, 2, 2, 1}, {"GreaterOrEqual", lower_logic, 2, 2, 1},
    {"And", lower_logic, 2, 2, 1}, {"Or", lower_logic, 2, 2, 1},
    {"Xor", lower_logic, 2, 2, 1}, {"Not", lower_logic, 1, 1, 1},
    {"Where", lower_where, 3, 3, 1}, {"CastLike", lower_cast, 2, 2, 1},
    {"ArgMax", lower_arg, 1, 1, 1}, {"ArgMin", lower_arg, 1, 1, 1},
    {"Floor", lower_const_ew, 1, 1, 1}, {"Ceil", lower_const_ew, 1, 1, 1},
    {"RNN", lower_recurrent, 3, 6, 2}, {"GRU", lower_recurrent, 3, 6, 2},
    {"LSTM", lower_recurrent, 3, 8, 3}, {"Erf", lower_erf, 1, 1, 1},
    {"Split", lower_split, 1, 2, ANY}, {"Tile", lower_tile, 2, 2, 1},
    {"ReduceProd", lower_reduce_prod, 1, 2, 1}, {"ConvTranspose", lower_conv_transpose, 2, 3, 1},
    {"LayerNormalization", lower_layernorm, 2, 3, 3},
    {"InstanceNormalization", lower_groupnorm, 3, 3, 1},
    {"GroupNormalization", lower_groupnorm, 3, 3, 1},
};

static const OnnxOp *find_op(const Onnx__NodeProto *n) {
  const char *dom = n->domain ? n->domain : "";
  if (*dom && strcmp(dom, "ai.onnx")) return NULL;
  for (int i = 0; i < SM_COUNT(onnx_ops); i++)
    if (n->op_type && !strcmp(onnx_ops[i].name, n->op_type)) return &onnx_ops[i];
  return NULL;
}

const char *const *fe_onnx_ops(void) {
  static const char *names[SM_COUNT(onnx_ops) + 1];
  for (int i = 0; i < SM_COUNT(onnx_ops); i++) names[i] = onnx_ops[i].name;
  return names;
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
  if (!map_dtype(tt->elem_type, &dt)) {
    sm_error(im->d, loc, "element type %s is not supported (float, double, int64, int32, uint8, bool are)",
             onnx_dtype_name(tt->elem_type));
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
    if (find_op(n)) continue;
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
  const OnnxOp *op = find_op(n);
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
  if (!poisoned && !op->lower(im, n, &a) && !im->failed) fail(im, "cannot import this node");
  for (size_t k = 0; k < n->n_output; k++) {
    if (!nonempty(n->output[k])) continue;
    Ent *e = lookup(im, n->output[k]);
    if (poisoned || im->failed || (!e->v && !e->c)) {
      if (!poisoned && !im->failed && k == 0) fail(im, "produced no result");
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
    IrValue *v = val(im, e);
    if (!v) return SM_ERR_INVALID;
    if (v->kind != IR_VAL_NODE || strcmp(v->name, e->name)) {
      IrNode *idn = ir_add_node(im->g, opdef("identity"), &v, 1, (const char *[]){e->name}, 1, im->loc);
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
