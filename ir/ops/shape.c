/* Shape ops (ONNX semantics, forward): flatten, reshape, transpose, concat,
 * slice, pad, constant. They move data without arithmetic, so every dtype is
 * accepted. Reference kernels index element by element; emitters reduce each
 * op to strided block copies (memcpy of contiguous runs where they exist). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shape.h"

/* "[5,-1]" */
static const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < cnt && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)v[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}
#define INTS_STRLEN 256

/* Whether v can be stored exactly in dtype t (f32: finite values must stay
 * finite; i64 is limited to 2^53 because the IR carries numbers as double). */
static bool value_fits(IrDType t, double v) {
  switch (t) {
  case IR_F32: return !isnan(v) && (isinf(v) || !isinf((float)v));
  case IR_F64: return !isnan(v);
  case IR_I64: return v == trunc(v) && fabs(v) <= 9007199254740992.0;
  case IR_I32: return v == trunc(v) && v >= INT32_MIN && v <= INT32_MAX;
  case IR_U8: return v == trunc(v) && v >= 0 && v <= 255;
  case IR_BOOL: return v == 0 || v == 1;
  default: return false;
  }
}

/* value as the stored dtype rounds it */
static double value_round(IrDType t, double v) { return t == IR_F32 ? (double)(float)v : v; }

/* ---- flatten / reshape: same elements, new shape ---- */

static bool flatten_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", 1);
  if (axis < -t->rank || axis > t->rank) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "axis %lld is out of range for %s (expects %d..%d)", (long long)axis,
                  OP_TSTR(t, s), -t->rank, t->rank);
  }
  int a = (int)(axis < 0 ? axis + t->rank : axis);
  IrType rows = {.dtype = t->dtype, .rank = a}, cols = {.dtype = t->dtype, .rank = t->rank - a};
  memcpy(rows.dims, t->dims, sizeof(int64_t) * (size_t)a);
  memcpy(cols.dims, t->dims + a, sizeof(int64_t) * (size_t)(t->rank - a));
  /* each side on its own may overflow when the other holds a 0 dim */
  int64_t nr = ir_type_numel(&rows), nc = ir_type_numel(&cols);
  if (nr < 0 || nc < 0) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "%s flattens to too many elements", OP_TSTR(t, s));
  }
  out[0] = ir_type_make(t->dtype, 2, (int64_t[]){nr, nc});
  return true;
}

static bool reshape_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  int64_t shape[IR_MAX_RANK];
  int cnt = ir_attr_ints(n, "shape", shape, IR_MAX_RANK);
  char s[IR_TYPE_STRLEN], sh[INTS_STRLEN];
  if (cnt > IR_MAX_RANK) {
    const IrAttr *a = ir_attr(n, "shape");
    return op_err(n, d, "shape %s has rank %d (at most %d)",
                  ints_str(a->ints, a->n, sh, sizeof sh), cnt, IR_MAX_RANK);
  }
  ints_str(shape, cnt, sh, sizeof sh);
  IrType r = {.dtype = t->dtype, .rank = cnt};
  int infer_at = -1;
  for (int i = 0; i < cnt; i++) {
    if (shape[i] == -1) {
      if (infer_at >= 0) return op_err(n, d, "shape %s has more than one -1", sh);
      infer_at = i;
      r.dims[i] = 1;
    } else if (shape[i] == 0) {
      if (i >= t->rank)
        return op_err(n, d, "shape %s copies dim %d (0), but the input %s has rank %d", sh, i,
                      OP_TSTR(t, s), t->rank);
      r.dims[i] = t->dims[i];
    } else if (shape[i] < 0) {
      return op_err(n, d, "shape %s has invalid dim %lld (dims are >= 0, or -1 to infer)", sh,
                    (long long)shape[i]);
    } else {
      r.dims[i] = shape[i];
    }
  }
  int64_t numel = ir_numel(t), known = ir_type_numel(&r);
  bool ok = known >= 0;
  if (ok && infer_at >= 0) {
    ok = known > 0 && numel % known == 0;
    if (ok) r.dims[infer_at] = numel / known;
  } else if (ok) {
    ok = known == numel;
  }
  if (!ok)
    return op_err(n, d, "cannot reshape %s (%lld elements) to %s", OP_TSTR(t, s),
                  (long long)numel, sh);
  out[0] = r;
  return true;
}

static void copy_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  (void)n;
  for (int64_t i = 0; i < out[0].numel; i++) out[0].d[i] = in[0].d[i];
}

/* ---- transpose ---- */

/* perm from the attribute, or reversed dims; false if not a permutation */
bool get_perm(const IrNode *n, int *perm, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  int64_t p[IR_MAX_RANK];
  int cnt = ir_attr_ints(n, "perm", p, IR_MAX_RANK);
  if (cnt < 0) {
    for (int i = 0; i < t->rank; i++) perm[i] = t->rank - 1 - i;
    return true;
  }
  bool seen[IR_MAX_RANK] = {false};
  bool ok = cnt == t->rank;
  for (int i = 0; ok && i < cnt; i++) {
    ok = p[i] >= 0 && p[i] < t->rank && !seen[p[i]];
    if (ok) {
      seen[p[i]] = true;
      perm[i] = (int)p[i];
    }
  }
  if (!ok && d) {
    const IrAttr *a = ir_attr(n, "perm");
    char s[IR_TYPE_STRLEN], ps[INTS_STRLEN];
    if (a->kind == IR_ATTR_INTS) ints_str(a->ints, a->n, ps, sizeof ps);
    else ints_str(&a->i, 1, ps, sizeof ps);
    op_err(n, d, "perm %s is not a permutation of 0..%d for %s", ps, t->rank - 1,
           OP_TSTR(t, s));
  }
  return ok;
}

static bool transpose_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  int perm[IR_MAX_RANK];
  if (!get_perm(n, perm, d)) return false;
  IrType r = {.dtype = t->dtype, .rank = t->rank};
  for (int i = 0; i < t->rank; i++) r.dims[i] = t->dims[perm[i]];
  out[0] = r;
  return true;
}

static void transpose_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int perm[IR_MAX_RANK];
  SM_ASSERT(get_perm(n, perm, NULL));
  const IrType *it = &in[0].type;
  int64_t oi[IR_MAX_RANK], ii[IR_MAX_RANK];
  for (int64_t j = 0; j < out[0].numel; j++) {
    ref_unravel(&out[0].type, j, oi);
    for (int k = 0; k < it->rank; k++) ii[perm[k]] = oi[k];
    int64_t src = 0;
    for (int k = 0; k < it->rank; k++) src = src * it->dims[k] + ii[k];
    out[0].d[j] = in[0].d[src];
  }
}

/* ---- concat ---- */

static bool concat_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_same_dtype(n, d)) return false;
  const IrType *t0 = &n->in[0]->type;
  char s[IR_TYPE_STRLEN], s2[IR_TYPE_STRLEN];
  if (t0->rank == 0)
    return op_err(n, d, "cannot concatenate scalars ('%s' is %s)", n->in[0]->name,
                  OP_TSTR(t0, s));
  int64_t axis = ir_attr_int(n, "axis", 0);
  if (axis < -t0->rank || axis >= t0->rank)
    return op_err(n, d, "axis %lld is out of range for %s (expects %d..%d)", (long long)axis,
                  OP_TSTR(t0, s), -t0->rank, t0->rank - 1);
  int a = (int)(axis < 0 ? axis + t0->rank : axis);
  IrType r = *t0;
  for (int i = 1; i < n->nin; i++) {
    const IrType *t = &n->in[i]->type;
    bool ok = t->rank == t0->rank;
    for (int k = 0; ok && k < t->rank; k++) ok = k == a || t->dims[k] == t0->dims[k];
    if (!ok)
      return op_err(n, d, "'%s' is %s but '%s' is %s: all dims except axis %d must match",
                    n->in[i]->name, OP_TSTR(t, s), n->in[0]->name, OP_TSTR(t0, s2), a);
    if (r.dims[a] > IR_MAX_NUMEL - t->dims[a])
      return op_err(n, d, "result has too many elements along axis %d", a);
    r.dims[a] += t->dims[a];
  }
  out[0] = r;
  return true;
}

int concat_axis(const IrNode *n) {
  int64_t axis = ir_attr_int(n, "axis", 0);
  return (int)(axis < 0 ? axis + n->in[0]->type.rank : axis);
}

static void concat_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int a = concat_axis(n);
  int64_t idx[IR_MAX_RANK];
  for (int64_t j = 0; j < out[0].numel; j++) {
    ref_unravel(&out[0].type, j, idx);
    int k = 0;
    while (idx[a] >= in[k].type.dims[a]) idx[a] -= in[k++].type.dims[a];
    int64_t src = 0;
    for (int m = 0; m < in[k].type.rank; m++) src = src * in[k].type.dims[m] + idx[m];
    out[0].d[j] = in[k].d[src];
  }
}


/* ONNX Slice: normalize starts/ends/axes/steps into a start, step and length
 * per input dim (untouched dims: 0, 1, dim). */
bool slice_dims(const IrNode *n, SliceDims *sd, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  int r = t->rank;
  int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
  char s[IR_TYPE_STRLEN];
  int ns = ir_attr_ints(n, "starts", starts, IR_MAX_RANK);
  int ne = ir_attr_ints(n, "ends", ends, IR_MAX_RANK);
  int na = ir_attr_ints(n, "axes", axes, IR_MAX_RANK);
  int nt = ir_attr_ints(n, "steps", steps, IR_MAX_RANK);
  if (ns != ne)
    return op_err(n, d, "starts has %d entries but ends has %d", ns, ne);
  if (na >= 0 && na != ns)
    return op_err(n, d, "axes has %d entries but starts has %d", na, ns);
  if (nt >= 0 && nt != ns)
    return op_err(n, d, "steps has %d entries but starts has %d", nt, ns);
  if (ns > r)
    return op_err(n, d, "%d axes sliced but the input %s has rank %d", ns, OP_TSTR(t, s), r);
  for (int k = 0; k < r; k++) {
    sd->start[k] = 0;
    sd->step[k] = 1;
    sd->len[k] = t->dims[k];
  }
  bool seen[IR_MAX_RANK] = {false};
  for (int i = 0; i < ns; i++) {
    int64_t ax = na >= 0 ? axes[i] : i;
    if (ax < -r || ax >= r)
      return op_err(n, d, "axis %lld is out of range for %s (expects %d..%d)", (long long)ax,
                    OP_TSTR(t, s), -r, r - 1);
    int k = (int)(ax < 0 ? ax + r : ax);
    if (seen[k]) return op_err(n, d, "axis %d is sliced twice", k);
    seen[k] = true;
    int64_t step = nt >= 0 ? steps[i] : 1, dim = t->dims[k];
    if (step == 0) return op_err(n, d, "steps[%d] is 0", i);
    int64_t st = starts[i], en = ends[i];
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    int64_t len;
    if (step > 0) {
      st = st < 0 ? 0 : st > dim ? dim : st;
      en = en < 0 ? 0 : en > dim ? dim : en;
      len = en > st ? 1 + (en - st - 1) / step : 0;
    } else {
      st = st < 0 ? 0 : st;
      st = st > dim - 1 ? dim - 1 : st;
      en = en < -1 ? -1 : en > dim - 1 ? dim - 1 : en;
      len = st > en ? 1 + (en - st + 1) / step : 0; /* no -step: INT64_MIN */
    }
    sd->start[k] = st;
    sd->step[k] = step;
    sd->len[k] = len;
  }
  return true;
}

static bool slice_infer(const IrNode *n, IrType *out, SmDiag *d) {
  SliceDims sd;
  if (!slice_dims(n, &sd, d)) return false;
  IrType r = n->in[0]->type;
  for (int k = 0; k < r.rank; k++) r.dims[k] = sd.len[k];
  out[0] = r;
  return true;
}

static void slice_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  SliceDims sd;
  SM_ASSERT(slice_dims(n, &sd, NULL));
  const IrType *it = &in[0].type;
  int64_t idx[IR_MAX_RANK];
  for (int64_t j = 0; j < out[0].numel; j++) {
    ref_unravel(&out[0].type, j, idx);
    int64_t src = 0;
    for (int k = 0; k < it->rank; k++) src = src * it->dims[k] + sd.start[k] + idx[k] * sd.step[k];
    out[0].d[j] = in[0].d[src];
  }
}

/* ---- pad (constant mode) ---- */

static bool pad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *t = &n->in[0]->type;
  char s[IR_TYPE_STRLEN], ps[INTS_STRLEN];
  const char *mode = ir_attr_str(n, "mode", "constant");
  if (strcmp(mode, "constant") != 0)
    return op_err(n, d, "mode \"%s\" is not supported (only \"constant\")", mode);
  int64_t pads[2 * IR_MAX_RANK];
  int cnt = ir_attr_ints(n, "pads", pads, 2 * IR_MAX_RANK);
  if (cnt != 2 * t->rank)
    return op_err(n, d, "pads needs 2*rank = %d entries for %s, got %d", 2 * t->rank,
                  OP_TSTR(t, s), cnt);
  ints_str(pads, cnt, ps, sizeof ps);
  for (int i = 0; i < cnt; i++)
    if (pads[i] < 0)
      return op_err(n, d, "negative pads are not supported yet (pads %s)", ps);
  double v = ir_attr_float(n, "value", 0);
  if (!value_fits(t->dtype, v))
    return op_err(n, d, "value %g is not representable in %s", v, ir_dtype_name(t->dtype));
  IrType r = *t;
  for (int k = 0; k < t->rank; k++) {
    if (pads[k] > IR_MAX_NUMEL || pads[t->rank + k] > IR_MAX_NUMEL || r.dims[k] > IR_MAX_NUMEL)
      return op_err(n, d, "pads %s give too many elements for %s", ps, OP_TSTR(t, s));
    r.dims[k] += pads[k] + pads[t->rank + k];
  }
  out[0] = r;
  return true;
}

static void pad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  const IrType *it = &in[0].type;
  int64_t pads[2 * IR_MAX_RANK], idx[IR_MAX_RANK];
  ir_attr_ints(n, "pads", pads, 2 * IR_MAX_RANK);
  double v = value_round(it->dtype, ir_attr_float(n, "value", 0));
  for (int64_t j = 0; j < out[0].numel; j++) {
    ref_unravel(&out[0].type, j, idx);
    int64_t src = 0;
    bool inside = true;
    for (int k = 0; k < it->rank; k++) {
      int64_t i = idx[k] - pads[k];
      inside = inside && i >= 0 && i < it->dims[k];
      src = src * it->dims[k] + i;
    }
    out[0].d[j] = inside ? in[0].d[src] : v;
  }
}

/* ---- constant ---- */

int attr_count(const IrAttr *a) {
  return a->kind == IR_ATTR_INTS || a->kind == IR_ATTR_FLOATS ? a->n : 1;
}

double attr_num(const IrAttr *a, int i) {
  switch (a->kind) {
  case IR_ATTR_INT: return (double)a->i;
  case IR_ATTR_FLOAT: return a->f;
  case IR_ATTR_INTS: return (double)a->ints[i];
  case IR_ATTR_FLOATS: return a->floats[i];
  default: return 0;
  }
}

static bool constant_dtype(const IrNode *n, IrDType *t) {
  const char *s = ir_attr_str(n, "dtype", "f32");
  return ir_dtype_parse(s, strlen(s), t);
}

static bool constant_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrDType dt;
  if (!constant_dtype(n, &dt))
    return op_err(n, d, "unknown dtype \"%s\" (f32, f64, i64, i32, u8, bool)",
                  ir_attr_str(n, "dtype", "f32"));
  const IrAttr *sa = ir_attr(n, "shape");
  int64_t shape[IR_MAX_RANK];
  int rank = sa ? ir_attr_ints(n, "shape", shape, IR_MAX_RANK) : 0;
  char sh[INTS_STRLEN];
  if (rank > IR_MAX_RANK)
    return op_err(n, d, "shape %s has rank %d (at most %d)",
                  ints_str(sa->ints, sa->n, sh, sizeof sh), rank, IR_MAX_RANK);
  ints_str(shape, rank, sh, sizeof sh);
  for (int i = 0; i < rank; i++)
    if (shape[i] < 0) return op_err(n, d, "shape %s has a negative dim", sh);
  IrType r = ir_type_make(dt, rank, shape);
  int64_t numel = ir_type_numel(&r);
  if (numel < 0) return op_err(n, d, "shape %s has too many elements", sh);
  const IrAttr *va = ir_attr(n, "value");
  int cnt = attr_count(va);
  if (cnt != 1 && cnt != numel)
    return op_err(n, d, "value has %d elements but shape %s needs 1 or %lld", cnt, sh,
                  (long long)numel);
  for (int i = 0; i < cnt; i++)
    if (!value_fits(dt, attr_num(va, i)))
      return op_err(n, d, "value %g is not representable in %s", attr_num(va, i),
                    ir_dtype_name(dt));
  out[0] = r;
  return true;
}

static void constant_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  (void)in;
  const IrAttr *va = ir_attr(n, "value");
  bool splat = attr_count(va) == 1;
  for (int64_t i = 0; i < out[0].numel; i++)
    out[0].d[i] = value_round(out[0].type.dtype, attr_num(va, splat ? 0 : (int)i));
}

/* ---- gradients ---- */

static IrValue *reshape_to(IrGradCtx *cx, IrValue *v, const IrType *t) {
  IrNode *r = ir_grad_node(cx, "reshape", &v, 1, 1);
  ir_set_ints(cx->g, r, "shape", t->dims, t->rank);
  return ir_grad_finish(cx, r);
}

/* flatten, reshape: the gradient is dy in the input's shape */
static bool reshape_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (dout[0] && ir_grad_needed(cx, n, 0)) din[0] = reshape_to(cx, dout[0], &n->in[0]->type);
  return true;
}

static bool transpose_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  int r = n->in[0]->type.rank;
  int64_t perm[IR_MAX_RANK], inv[IR_MAX_RANK];
  if (ir_attr_ints(n, "perm", perm, IR_MAX_RANK) < 0)
    for (int k = 0; k < r; k++) perm[k] = r - 1 - k;
  for (int k = 0; k < r; k++) inv[perm[k]] = k;
  IrNode *t = ir_grad_node(cx, "transpose", &dout[0], 1, 1);
  ir_set_ints(cx->g, t, "perm", inv, r);
  din[0] = ir_grad_finish(cx, t);
  return true;
}

static IrValue *slice_axis(IrGradCtx *cx, IrValue *v, int axis, int64_t start, int64_t end) {
  IrNode *s = ir_grad_node(cx, "slice", &v, 1, 1);
  ir_set_ints(cx->g, s, "starts", &start, 1);
  ir_set_ints(cx->g, s, "ends", &end, 1);
  int64_t ax = axis;
  ir_set_ints(cx->g, s, "axes", &ax, 1);
  return ir_grad_finish(cx, s);
}

static bool concat_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0]) return true;
  int axis;
  SM_ASSERT(ir_norm_axis(ir_attr_int(n, "axis", 0), n->out[0]->type.rank, &axis));
  int64_t off = 0;
  for (int i = 0; i < n->nin; i++) {
    int64_t len = n->in[i]->type.dims[axis];
    if (ir_grad_needed(cx, n, i)) din[i] = slice_axis(cx, dout[0], axis, off, off + len);
    off += len;
  }
  return true;
}

/* unit-step slices scatter back by zero padding */
static bool slice_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  SliceDims sd;
  SM_ASSERT(slice_dims(n, &sd, NULL));
  const IrType *t = &n->in[0]->type;
  int64_t pads[2 * IR_MAX_RANK];
  for (int k = 0; k < t->rank; k++) {
    if (sd.step[k] != 1 && sd.len[k] > 1) {
      sm_error(cx->d, n->loc, "slice: the gradient of a slice with step %lld is not supported yet",
               (long long)sd.step[k]);
      return false;
    }
    pads[k] = sd.start[k];
    pads[t->rank + k] = t->dims[k] - sd.start[k] - sd.len[k];
  }
  IrNode *p = ir_grad_node(cx, "pad", &dout[0], 1, 1);
  ir_set_ints(cx->g, p, "pads", pads, 2 * t->rank);
  din[0] = ir_grad_finish(cx, p);
  return true;
}

static bool pad_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 0)) return true;
  const IrType *t = &n->in[0]->type;
  int64_t pads[2 * IR_MAX_RANK], starts[IR_MAX_RANK], ends[IR_MAX_RANK];
  ir_attr_ints(n, "pads", pads, 2 * IR_MAX_RANK);
  for (int k = 0; k < t->rank; k++) {
    starts[k] = pads[k];
    ends[k] = pads[k] + t->dims[k];
  }
  IrNode *s = ir_grad_node(cx, "slice", &dout[0], 1, 1);
  ir_set_ints(cx->g, s, "starts", starts, t->rank);
  ir_set_ints(cx->g, s, "ends", ends, t->rank);
  din[0] = ir_grad_finish(cx, s);
  return true;
}

/* ---- table ---- */

static const IrAttrSpec flatten_attrs[] = {{"axis", IR_ATTR_INT, false}, {NULL, 0, false}};
static const IrAttrSpec reshape_attrs[] = {{"shape", IR_ATTR_INTS, true}, {NULL, 0, false}};
static const IrAttrSpec transpose_attrs[] = {{"perm", IR_ATTR_INTS, false}, {NULL, 0, false}};
static const IrAttrSpec concat_attrs[] = {{"axis", IR_ATTR_INT, true}, {NULL, 0, false}};
static const IrAttrSpec slice_attrs[] = {{"starts", IR_ATTR_INTS, true},
                                         {"ends", IR_ATTR_INTS, true},
                                         {"axes", IR_ATTR_INTS, false},
                                         {"steps", IR_ATTR_INTS, false},
                                         {NULL, 0, false}};
static const IrAttrSpec pad_attrs[] = {{"pads", IR_ATTR_INTS, true},
                                       {"value", IR_ATTR_FLOAT, false},
                                       {"mode", IR_ATTR_STR, false},
                                       {NULL, 0, false}};
static const IrAttrSpec constant_attrs[] = {{"shape", IR_ATTR_INTS, false},
                                            {"value", IR_ATTR_FLOATS, true},
                                            {"dtype", IR_ATTR_STR, false},
                                            {NULL, 0, false}};

static const IrOpDef op_flatten = {
    .name = "flatten", .min_in = 1, .max_in = 1, .nout = 1, .attrs = flatten_attrs,
    .flags = IR_OPF_VIEW,
    .infer = flatten_infer, .ref = copy_ref, .c = &cgk_flatten, .grad = reshape_grad,
    .caps = IR_CAP_NOOP,
    .doc = "2-D [prod(dims[:axis]), prod(dims[axis:])] (axis=1)"};
static const IrOpDef op_reshape = {
    .name = "reshape", .min_in = 1, .max_in = 1, .nout = 1, .attrs = reshape_attrs,
    .flags = IR_OPF_VIEW,
    .infer = reshape_infer, .ref = copy_ref, .c = &cgk_reshape, .grad = reshape_grad,
    .caps = IR_CAP_NOOP,
    .doc = "new shape, same elements (one -1 inferred, 0 copies the input dim)"};
static const IrOpDef op_transpose = {
    .name = "transpose", .min_in = 1, .max_in = 1, .nout = 1, .attrs = transpose_attrs,
    .infer = transpose_infer, .ref = transpose_ref, .c = &cgk_transpose, .grad = transpose_grad,
    .caps = IR_CAP_PERMUTE,
    .doc = "permute dims by perm (default: reverse)"};
static const IrOpDef op_concat = {
    .name = "concat", .min_in = 1, .max_in = 16, .nout = 1, .attrs = concat_attrs,
    .infer = concat_infer, .ref = concat_ref, .c = &cgk_concat, .grad = concat_grad,
    .caps = IR_CAP_NOOP | IR_CAP_NOOP_UNARY,
    .doc = "join up to 16 tensors along axis"};
static const IrOpDef op_slice = {
    .name = "slice", .min_in = 1, .max_in = 1, .nout = 1, .attrs = slice_attrs,
    .infer = slice_infer, .ref = slice_ref, .c = &cgk_slice, .grad = slice_grad,
    .caps = IR_CAP_NOOP, .noop_attr = "steps", .noop_unit = 1,
    .doc = "ONNX Slice: starts, ends, axes, steps (negative steps allowed)"};
static const IrOpDef op_pad = {
    .name = "pad", .min_in = 1, .max_in = 1, .nout = 1, .attrs = pad_attrs,
    .infer = pad_infer, .ref = pad_ref, .c = &cgk_pad, .grad = pad_grad,
    .caps = IR_CAP_NOOP, .noop_attr = "pads", .noop_unit = 0,
    .doc = "constant padding, pads = [x1_begin, ..., x1_end, ...] (value=0)"};
static const IrOpDef op_constant = {
    .name = "constant", .min_in = 0, .max_in = 0, .nout = 1, .attrs = constant_attrs,
    .infer = constant_infer, .ref = constant_ref, .c = &cgk_constant,
    .caps = IR_CAP_CONSTANT,
    .doc = "tensor of the given shape and dtype from value (1 value splats)"};

const IrOpDef *const ir_ops_shape[] = {&op_flatten, &op_slice, &op_reshape, &op_transpose,
                                       &op_concat, &op_pad, &op_constant, NULL};
