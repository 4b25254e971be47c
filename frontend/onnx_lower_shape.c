/* ONNX import: shape and layout ops (Reshape, Squeeze, Transpose, Concat,
 * Slice, Pad, Expand, Split, Tile, Gather, ...), import-time shape
 * computations and constants, comparisons and logic. */
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

bool ox_lower_flatten(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  IrNode *m = ox_mk(im, "flatten", &x, 1);
  ir_set_int(im->g, m, "axis", ox_aint(n, "axis", 1));
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

bool ox_lower_reshape(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  const IrType *xt = ox_has_in(a, 0) ? ox_ent_type(im, a->in[0]) : NULL;
  if (!xt) return false;
  int64_t s[IR_MAX_RANK + 1];
  int cnt = ox_const_ints(im, a, 1, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  bool allowzero = im->opset >= 14 && ox_aint(n, "allowzero", 0);
  int minus = -1;
  int64_t known = 1;
  for (int i = 0; i < cnt; i++) {
    if (s[i] == 0 && !allowzero) {
      if (i >= xt->rank) return ox_fail(im, "shape has 0 at position %d, beyond the input's rank %d", i, xt->rank);
      s[i] = xt->dims[i];
    }
    if (s[i] == -1) {
      if (minus >= 0) return ox_fail(im, "shape has more than one -1");
      minus = i;
    } else if (s[i] < 0) {
      return ox_fail(im, "shape has a negative dim %lld", (long long)s[i]);
    } else {
      if (s[i] > IR_MAX_NUMEL || (s[i] && known > IR_MAX_NUMEL / s[i]))
        return ox_fail(im, "shape has more than 2^40 elements");
      known *= s[i];
    }
  }
  int64_t numel = ir_type_numel(xt);
  if (minus >= 0) {
    if (known == 0 || numel % known) return ox_fail(im, "cannot infer the -1 in the shape from %lld elements", (long long)numel);
    s[minus] = numel / known;
  }
  ox_set_out(a, 0, ox_reshape_to(im, ox_val(im, a->in[0]), cnt, s));
  return true;
}

/* axes as an attribute before opset `since`, as optional input k after */
bool ox_axes_arg(Im *im, const Onnx__NodeProto *n, Args *a, int since, int k, int64_t *axes, int *cnt) {
  if (im->opset < since) {
    *cnt = ox_aints(im, n, "axes", axes, IR_MAX_RANK);
    return *cnt != -2;
  }
  *cnt = -1;
  if (!ox_has_in(a, k)) return true;
  *cnt = ox_const_ints(im, a, k, "axes", axes, IR_MAX_RANK);
  return *cnt >= 0;
}

bool ox_lower_squeeze(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  bool sq = !strcmp(n->op_type, "Squeeze");
  const IrType *xt = ox_has_in(a, 0) ? ox_ent_type(im, a->in[0]) : NULL;
  if (!xt) return false;
  int64_t axes[IR_MAX_RANK];
  int cnt;
  if (!ox_axes_arg(im, n, a, 13, 1, axes, &cnt)) return false;
  int64_t out[IR_MAX_RANK];
  int r = 0;
  if (sq) {
    bool drop[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + xt->rank : axes[i];
      if (ax < 0 || ax >= xt->rank) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axes[i], xt->rank);
      if (xt->dims[ax] != 1) return ox_fail(im, "cannot squeeze axis %lld of size %lld", (long long)axes[i], (long long)xt->dims[ax]);
      drop[ax] = true;
    }
    for (int i = 0; i < xt->rank; i++)
      if (!(cnt < 0 ? xt->dims[i] == 1 : drop[i])) out[r++] = xt->dims[i];
  } else {
    if (cnt < 0) return ox_fail(im, "Unsqueeze needs axes");
    int orank = xt->rank + cnt;
    if (orank > IR_MAX_RANK) return ox_fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
    bool ins[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + orank : axes[i];
      if (ax < 0 || ax >= orank || ins[ax]) return ox_fail(im, "bad axis %lld for result rank %d", (long long)axes[i], orank);
      ins[ax] = true;
    }
    for (int i = 0, j = 0; i < orank; i++) out[r++] = ins[i] ? 1 : xt->dims[j++];
  }
  ox_set_out(a, 0, ox_reshape_to(im, ox_val(im, a->in[0]), r, out));
  return true;
}

bool ox_lower_transpose(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int64_t perm[IR_MAX_RANK];
  int cnt = ox_aints(im, n, "perm", perm, IR_MAX_RANK);
  if (cnt == -2) return false;
  IrNode *m = ox_mk(im, "transpose", &x, 1);
  if (cnt >= 0) ir_set_ints(im->g, m, "perm", perm, cnt);
  ox_set_out(a, 0, ox_keep_float_params(im, ox_fin(im, m)));
  return true;
}

bool ox_lower_concat(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  int64_t axis = ox_aint(n, "axis", INT64_MIN);
  if (axis == INT64_MIN) return ox_fail(im, "Concat needs an axis");
  IrValue *acc = NULL;
  for (int i = 0; i < a->nin;) {
    IrValue *in[16];
    int k = 0;
    if (acc) in[k++] = acc;
    for (; k < 16 && i < a->nin; i++) {
      const IrType *t = ox_has_in(a, i) ? ox_ent_type(im, a->in[i]) : NULL;
      if (!t) return im->failed ? false : ox_fail(im, "Concat input %d is missing", i);
      if (ir_type_numel(t) == 0 && a->nin > 1) continue; /* ONNX allows empty pieces */
      if (!(in[k++] = ox_in_val(im, a, i))) return false;
    }
    if (k == 0 && !(in[k++] = ox_in_val(im, a, 0))) return false;
    IrNode *m = ir_add_node(im->g, ox_opdef("concat"), in, k, NULL, 1, im->loc);
    ir_set_int(im->g, m, "axis", axis);
    if (!(acc = ox_fin(im, m))) return false;
  }
  ox_set_out(a, 0, acc);
  return true;
}

bool ox_lower_slice(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
  int ns, ne, na = -1, np = -1;
  if (im->opset < 10) {
    ns = ox_aints(im, n, "starts", st, IR_MAX_RANK);
    ne = ox_aints(im, n, "ends", en, IR_MAX_RANK);
    na = ox_aints(im, n, "axes", ax, IR_MAX_RANK);
  } else {
    ns = ox_const_ints(im, a, 1, "starts", st, IR_MAX_RANK);
    ne = ox_const_ints(im, a, 2, "ends", en, IR_MAX_RANK);
    if (ox_has_in(a, 3) && (na = ox_const_ints(im, a, 3, "axes", ax, IR_MAX_RANK)) < 0) return false;
    if (ox_has_in(a, 4) && (np = ox_const_ints(im, a, 4, "steps", sp, IR_MAX_RANK)) < 0) return false;
  }
  if (ns < 0 || ne < 0 || im->failed) return im->failed ? false : ox_fail(im, "Slice needs starts and ends");
  IrNode *m = ox_mk(im, "slice", &x, 1);
  ir_set_ints(im->g, m, "starts", st, ns);
  ir_set_ints(im->g, m, "ends", en, ne);
  if (na >= 0) ir_set_ints(im->g, m, "axes", ax, na);
  if (np >= 0) ir_set_ints(im->g, m, "steps", sp, np);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

bool ox_lower_pad(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t pads[2 * IR_MAX_RANK], p[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
  double value = 0;
  int cnt, na = -1;
  const char *mode = ox_astr(im, n, "mode", "constant");
  if (im->opset < 11) {
    cnt = ox_aints(im, n, "pads", p, 2 * IR_MAX_RANK);
    value = ox_afloat(n, "value", 0);
  } else {
    cnt = ox_const_ints(im, a, 1, "pads", p, 2 * IR_MAX_RANK);
    if (ox_has_in(a, 2)) {
      IrTensor *c = ox_in_const(im, a, 2, "constant_value");
      if (!c) return false;
      value = c->numel ? c->d[0] : 0;
    }
    if (ox_has_in(a, 3) && (na = ox_const_ints(im, a, 3, "axes", axes, IR_MAX_RANK)) < 0) return false;
  }
  if (cnt < 0) return im->failed ? false : ox_fail(im, "Pad needs pads");
  if (strcmp(mode, "constant")) return ox_fail(im, "Pad mode \"%s\" is not supported (only \"constant\")", mode);
  if (na < 0) {
    if (cnt != 2 * r) return ox_fail(im, "pads has %d values, expected %d", cnt, 2 * r);
    memcpy(pads, p, sizeof(int64_t) * (size_t)cnt);
  } else {
    if (cnt != 2 * na) return ox_fail(im, "pads has %d values for %d axes", cnt, na);
    memset(pads, 0, sizeof pads);
    for (int i = 0; i < na; i++) {
      int64_t ax2 = axes[i] < 0 ? axes[i] + r : axes[i];
      if (ax2 < 0 || ax2 >= r) return ox_fail(im, "axis %lld is out of range", (long long)axes[i]);
      pads[ax2] = p[i];
      pads[r + ax2] = p[na + i];
    }
  }
  IrNode *m = ox_mk(im, "pad", &x, 1);
  ir_set_ints(im->g, m, "pads", pads, 2 * r);
  ir_set_float(im->g, m, "value", value);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

bool ox_lower_expand(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  im->fold_params = true;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int64_t s[IR_MAX_RANK];
  int cnt = ox_const_ints(im, a, 1, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  IrNode *m = ox_mk(im, "expand", &x, 1);
  ir_set_ints(im->g, m, "shape", s, cnt);
  ox_set_out(a, 0, ox_fin(im, m));
  return true;
}

bool ox_lower_split(Im *im, const Onnx__NodeProto *n, Args *a) {
  im->fold_params = true;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int r = x->type.rank;
  int64_t axis = ox_aint(n, "axis", 0);
  if (axis < -r || axis >= r) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  int64_t dim = x->type.dims[axis], sp[64];
  int cnt = -1, nout = a->nout;
  if (im->opset < 13) cnt = ox_aints(im, n, "split", sp, 64);
  else if (ox_has_in(a, 1)) cnt = ox_const_ints(im, a, 1, "split", sp, 64);
  if (cnt == -2 || im->failed) return false;
  if (cnt >= 0) {
    if (cnt != nout) return ox_fail(im, "split has %d sizes for %d outputs", cnt, nout);
    int64_t tot = 0;
    for (int i = 0; i < cnt; i++) {
      if (sp[i] < 0) return ox_fail(im, "split has a negative size");
      if (sp[i] > dim - tot) /* also keeps the sum from overflowing */
        return ox_fail(im, "split sizes sum to more than the axis's %lld", (long long)dim);
      tot += sp[i];
    }
    if (tot != dim) return ox_fail(im, "split sizes sum to %lld, the axis has %lld", (long long)tot, (long long)dim);
  } else {
    int64_t parts = im->opset >= 18 && ox_attr(n, "num_outputs") ? ox_aint(n, "num_outputs", nout) : nout;
    if (parts < 1 || parts != nout) return ox_fail(im, "num_outputs %lld does not match the %d outputs", (long long)parts, nout);
    int64_t chunk = (dim + parts - 1) / parts;
    if (im->opset < 18 && dim % parts) return ox_fail(im, "axis of %lld does not split into %lld equal parts", (long long)dim, (long long)parts);
    for (int i = 0; i < nout; i++) {
      int64_t lo = i * chunk < dim ? i * chunk : dim;
      sp[i] = lo + chunk < dim ? chunk : dim - lo;
    }
  }
  int64_t off = 0;
  for (int i = 0; i < nout; i++) {
    if (ox_has_out(a, i)) ox_set_out(a, i, ox_keep_float_params(im, ox_slice_axis(im, x, (int)axis, off, off + sp[i], 1)));
    off += sp[i];
  }
  return !im->failed;
}

/* Operand k where an initializer need not become a parameter: integer and
 * bool initializers (never trained) and, with `fill`, a float scalar (a
 * fill value such as Where's -inf) become constant nodes, so they fold;
 * float tensors stay the parameters every other use of them sees. */
static IrValue *const_operand(Im *im, Args *a, int k, bool fill) {
  Ent *e = ox_has_in(a, k) ? a->in[k] : NULL;
  IrTensor *c = e ? ox_ent_const(im, e) : NULL;
  if (im->failed) return NULL;
  if (c && e->param && !e->v && (!ir_dtype_is_float(c->type.dtype) || (fill && c->numel == 1))) {
    /* a constant node of its own (fresh name: the entry keeps its meaning) */
    IrNode *m = ir_add_node(im->g, ox_opdef("constant"), NULL, 0, NULL, 1, im->loc);
    ir_set_ints(im->g, m, "shape", c->type.dims, c->type.rank);
    ir_set_floats(im->g, m, "value", c->d, (int)c->numel);
    ir_set_str(im->g, m, "dtype", ir_dtype_name(c->type.dtype));
    return ox_fin(im, m);
  }
  return ox_in_val(im, a, k);
}

/* Comparisons and logic (Equal, Less, ..., And, Or, Xor, Not): folded
 * when every input is known at import, else smelt's ops at run time. */
bool ox_lower_logic(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type, *op = im->op->ir;
  int k = im->op->min_in;
  bool all = true;
  for (int i = 0; i < k; i++) {
    if (!ox_has_in(a, i)) return ox_fail(im, "%s needs %d input%s", t, k, k > 1 ? "s" : "");
    all &= ox_ent_const(im, a->in[i]) != NULL;
    if (im->failed) return false;
  }
  if (all) return ox_lower_const_ew(im, n, a);
  if (k == 1) ox_set_out(a, 0, ox_op1(im, op, ox_in_val(im, a, 0)));
  else ox_set_out(a, 0, ox_op2(im, op, const_operand(im, a, 0, false), const_operand(im, a, 1, false)));
  return true;
}

/* Where: folded when everything is known at import (and no side is a
 * weight), else smelt's where (a constant condition stays a constant). */
bool ox_lower_where(Im *im, const Onnx__NodeProto *n, Args *a) {
  for (int i = 0; i < 3; i++)
    if (!ox_has_in(a, i)) return ox_fail(im, "Where needs 3 inputs");
  IrTensor *cc = ox_ent_const(im, a->in[0]), *xc = ox_ent_const(im, a->in[1]), *yc = ox_ent_const(im, a->in[2]);
  if (im->failed) return false;
  if (cc && xc && yc && !a->in[1]->param && !a->in[2]->param) return ox_lower_const_ew(im, n, a);
  IrValue *in[3] = {const_operand(im, a, 0, false), const_operand(im, a, 1, true),
                    const_operand(im, a, 2, true)};
  if (!in[0] || !in[1] || !in[2]) return false;
  ox_set_out(a, 0, ox_fin(im, ox_mk(im, "where", in, 3)));
  return true;
}

bool ox_lower_tile(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  im->fold_params = true;
  IrValue *x = ox_in_val(im, a, 0);
  if (!x) return false;
  int64_t rep[IR_MAX_RANK];
  int cnt = ox_const_ints(im, a, 1, "repeats", rep, IR_MAX_RANK);
  if (cnt < 0) return false;
  if (cnt != x->type.rank) return ox_fail(im, "repeats has %d values for rank %d", cnt, x->type.rank);
  IrValue *y = x;
  for (int i = 0; i < cnt && y; i++) {
    if (rep[i] < 0 || rep[i] > 4096) return ox_fail(im, "repeats[%d] = %lld is out of range", i, (long long)rep[i]);
    if (rep[i] == 1) continue;
    if (rep[i] == 0) return ox_fail(im, "Tile with a zero repeat is not supported (empty result)");
    IrValue **cp = sm_xcalloc((size_t)rep[i], sizeof *cp);
    for (int64_t k = 0; k < rep[i]; k++) cp[k] = y;
    y = ox_concat_n(im, cp, (int)rep[i], i);
    free(cp);
  }
  ox_set_out(a, 0, ox_keep_float_params(im, y));
  return true;
}

/* ---- import-time only ops: shape computations ---- */
bool ox_lower_shape(Im *im, const Onnx__NodeProto *n, Args *a) {
  const IrType *t = ox_has_in(a, 0) ? ox_ent_type(im, a->in[0]) : NULL;
  if (!t) return false;
  int64_t r = t->rank, s = im->opset >= 15 ? ox_aint(n, "start", 0) : 0, e = im->opset >= 15 ? ox_aint(n, "end", r) : r;
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < 0 ? 0 : e > r ? r : e;
  int64_t len = e > s ? e - s : 0;
  IrTensor *c = ox_new_const(im, ir_type_make(IR_I64, 1, &len));
  for (int64_t i = 0; i < len; i++) c->d[i] = (double)t->dims[s + i];
  ox_set_const(a, 0, c, false);
  return true;
}

bool ox_lower_size(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  const IrType *t = ox_has_in(a, 0) ? ox_ent_type(im, a->in[0]) : NULL;
  if (!t) return false;
  IrTensor *c = ox_new_const(im, ir_type_make(IR_I64, 0, NULL));
  c->d[0] = (double)ir_type_numel(t);
  ox_set_const(a, 0, c, false);
  return true;
}

/* Gather of run-time data: slices for a few constant indices, otherwise
 * smelt's embedding over the data viewed as [dims[axis], rest]. Negative
 * ids count from the end; ids outside [-dim, dim) give zeros (ONNX calls
 * them an error). */
static bool gather_runtime(Im *im, IrValue *x, int64_t axis, Args *a) {
  int r = x->type.rank;
  const IrType *it = ox_has_in(a, 1) ? ox_ent_type(im, a->in[1]) : NULL;
  if (!it) return im->failed ? false : ox_fail(im, "Gather needs indices");
  if (it->dtype != IR_I64 && it->dtype != IR_I32) return ox_fail(im, "Gather indices must be int64 or int32");
  int orank = r - 1 + it->rank;
  if (orank > IR_MAX_RANK) return ox_fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
  int64_t dim = x->type.dims[axis];
  IrTensor *ic = ox_ent_const(im, a->in[1]);
  IrType ot = {.dtype = x->type.dtype, .rank = orank};
  int k = 0;
  for (int i = 0; i < axis; i++) ot.dims[k++] = x->type.dims[i];
  for (int i = 0; i < it->rank; i++) ot.dims[k++] = it->dims[i];
  for (int i = (int)axis + 1; i < r; i++) ot.dims[k++] = x->type.dims[i];
  if (ic) {
    for (int64_t j = 0; j < ic->numel; j++) {
      int64_t ix = ox_d2i(ic->d[j]);
      if (ix < -dim || ix >= dim)
        return ox_fail(im, "index %lld is out of range for dim %lld", (long long)ix, (long long)dim);
    }
    if (ic->numel >= 1 && ic->numel <= 16) {
      IrValue *parts[16];
      for (int64_t j = 0; j < ic->numel; j++) {
        int64_t ix = ox_d2i(ic->d[j]);
        if (ix < 0) ix += dim;
        parts[j] = ox_slice_axis(im, x, (int)axis, ix, ix + 1, 1);
      }
      ox_set_out(a, 0, ox_reshape_to(im, ox_concat_n(im, parts, (int)ic->numel, (int)axis), ot.rank, ot.dims));
      return true;
    }
  }
  if (!ir_dtype_is_float(x->type.dtype))
    return ox_fail(im, "Gather of a run-time %s tensor with run-time or many indices is not supported "
                    "(smelt's embedding gathers float rows)", ir_dtype_name(x->type.dtype));
  if (dim < 1) return ox_fail(im, "Gather from an empty dim");
  IrValue *ids;
  if (ic) {
    IrTensor *c = ox_new_const(im, ir_type_make(IR_I64, ic->type.rank, ic->type.dims));
    for (int64_t j = 0; j < c->numel; j++) c->d[j] = ic->d[j] < 0 ? ic->d[j] + (double)dim : ic->d[j];
    ids = ox_const_value(im, c, "gather_ids");
  } else { /* negative ids count from the end: ids + dim * min(-min(ids, 0), 1) */
    ids = ox_val(im, a->in[1]);
    IrDType it2 = ids ? ids->type.dtype : IR_I64;
    IrValue *neg = ox_op2(im, "min", ox_op1(im, "neg", ox_op2(im, "min", ids, ox_scalar(im, it2, 0))), ox_scalar(im, it2, 1));
    ids = ox_op2(im, "add", ids, ox_op2(im, "mul", neg, ox_scalar(im, it2, (double)dim)));
  }
  int64_t perm[IR_MAX_RANK], rest = 1;
  perm[0] = axis;
  for (int i = 0, j = 1; i < r; i++)
    if (i != axis) {
      perm[j++] = i;
      rest *= x->type.dims[i];
    }
  int64_t td[2] = {dim, rest};
  IrValue *table = ox_reshape_to(im, ox_transpose_to(im, x, perm), 2, td);
  IrValue *in2[2] = {ids, table};
  if (!ids || !table) return false;
  IrValue *e = ox_fin(im, ox_mk(im, "embedding", in2, 2));
  /* [ids..., dims before axis..., dims after axis...] -> the ONNX order */
  int64_t ed[IR_MAX_RANK], p2[IR_MAX_RANK];
  int q = it->rank, m = 0;
  for (int i = 0; i < q; i++) ed[m++] = it->dims[i];
  for (int i = 0; i < r; i++)
    if (i != axis) ed[m++] = x->type.dims[i];
  for (int i = 0; i < axis; i++) p2[i] = q + i;
  for (int i = 0; i < q; i++) p2[axis + i] = i;
  for (int i = (int)axis + q; i < orank; i++) p2[i] = i;
  ox_set_out(a, 0, ox_transpose_to(im, ox_reshape_to(im, e, orank, ed), p2));
  return true;
}

bool ox_lower_gather(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrTensor *x = ox_has_in(a, 0) ? ox_ent_const(im, a->in[0]) : NULL;
  if (!x || (a->in[0]->param && ir_dtype_is_float(x->type.dtype))) {
    /* run-time data, or a float initializer (a weight, e.g. an embedding table): kept whole */
    IrValue *xv = ox_in_val(im, a, 0);
    if (!xv) return false;
    int r = xv->type.rank;
    int64_t axis = ox_aint(n, "axis", 0);
    if (axis < -r || axis >= r) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
    return gather_runtime(im, xv, axis < 0 ? axis + r : axis, a);
  }
  IrTensor *idx = ox_in_const(im, a, 1, "indices");
  if (!idx) return false;
  int r = x->type.rank;
  int64_t axis = ox_aint(n, "axis", 0);
  if (axis < -r || axis >= r) return ox_fail(im, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  int orank = r - 1 + idx->type.rank;
  if (orank > IR_MAX_RANK) return ox_fail(im, "result rank %d exceeds %d", orank, IR_MAX_RANK);
  IrType ot = {.dtype = x->type.dtype, .rank = orank};
  int k = 0;
  for (int i = 0; i < axis; i++) ot.dims[k++] = x->type.dims[i];
  for (int i = 0; i < idx->type.rank; i++) ot.dims[k++] = idx->type.dims[i];
  for (int i = (int)axis + 1; i < r; i++) ot.dims[k++] = x->type.dims[i];
  if (!ox_fold_size_ok(im, &ot)) return false;
  int64_t outer = 1, inner = 1, dim = x->type.dims[axis];
  for (int i = 0; i < axis; i++) outer *= x->type.dims[i];
  for (int i = (int)axis + 1; i < r; i++) inner *= x->type.dims[i];
  IrTensor *c = ox_new_const(im, ot);
  for (int64_t o = 0, w = 0; o < outer; o++)
    for (int64_t j = 0; j < idx->numel; j++) {
      int64_t ix = ox_d2i(idx->d[j]);
      if (ix < 0) ix += dim;
      if (ix < 0 || ix >= dim) return ox_fail(im, "index %lld is out of range for dim %lld", (long long)ox_d2i(idx->d[j]), (long long)dim);
      for (int64_t i = 0; i < inner; i++) c->d[w++] = x->d[(o * dim + ix) * inner + i];
    }
  ox_set_const(a, 0, c, a->in[0]->param);
  return true;
}

/* Cast and CastLike (the dtype of input 1): folded for constants, smelt's
 * cast at run time (a same-dtype cast vanishes). */
bool ox_lower_cast(Im *im, const Onnx__NodeProto *n, Args *a) {
  IrDType dt;
  if (!strcmp(n->op_type, "CastLike")) {
    const IrType *t = ox_has_in(a, 1) ? ox_ent_type(im, a->in[1]) : NULL;
    if (!t) return im->failed ? false : ox_fail(im, "CastLike needs 2 inputs");
    dt = t->dtype;
  } else {
    int to = (int)ox_aint(n, "to", 0);
    if (!ox_map_dtype(to, &dt)) return ox_fail(im, "Cast to %s is not supported", ox_onnx_dtype_name(to));
  }
  if (!ox_has_in(a, 0)) return ox_fail(im, "%s needs an input", n->op_type);
  IrTensor *x = ox_ent_const(im, a->in[0]);
  if (im->failed) return false;
  if (!x || (a->in[0]->param && ir_dtype_is_float(x->type.dtype) && ir_dtype_is_float(dt))) {
    /* run-time data, or a weight cast to another float type (it stays
     * the trained parameter) */
    IrValue *v = ox_val(im, a->in[0]);
    if (!v) return false;
    ox_set_out(a, 0, ox_keep_float_params(im, ox_cast_value(im, v, dt)));
    return true;
  }
  IrTensor *c = ox_new_const(im, ir_type_make(dt, x->type.rank, x->type.dims));
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = ox_round_to(dt, x->d[i]);
  ox_set_const(a, 0, c, a->in[0]->param);
  return true;
}

bool ox_lower_range(Im *im, const Onnx__NodeProto *n, Args *a) {
  (void)n;
  IrTensor *s = ox_in_const(im, a, 0, "start"), *l = s ? ox_in_const(im, a, 1, "limit") : NULL;
  IrTensor *dl = l ? ox_in_const(im, a, 2, "delta") : NULL;
  if (!s || !l || !dl) return false;
  if (s->numel != 1 || l->numel != 1 || dl->numel != 1) return ox_fail(im, "Range takes scalars");
  if (dl->d[0] == 0) return ox_fail(im, "Range with delta 0");
  double cnt = ceil((l->d[0] - s->d[0]) / dl->d[0]);
  if (!(cnt <= (double)ONNX_MAX_FOLD)) return ox_fail(im, "Range has more than 2^24 elements");
  int64_t len = cnt > 0 ? (int64_t)cnt : 0;
  IrTensor *c = ox_new_const(im, ir_type_make(s->type.dtype, 1, &len));
  for (int64_t i = 0; i < len; i++) c->d[i] = ox_round_to(s->type.dtype, s->d[0] + (double)i * dl->d[0]);
  ox_set_const(a, 0, c, false);
  return true;
}

bool ox_lower_constant_of_shape(Im *im, const Onnx__NodeProto *n, Args *a) {
  int64_t s[IR_MAX_RANK];
  int cnt = ox_const_ints(im, a, 0, "shape", s, IR_MAX_RANK);
  if (cnt < 0) return false;
  IrDType dt = IR_F32;
  double v = 0;
  const Onnx__AttributeProto *va = ox_attr(n, "value");
  if (va && va->t) {
    IrTensor *t = ox_decode_tensor(im, va->t, NULL);
    if (!t) return false;
    if (t->numel != 1) return ox_fail(im, "value must hold one element");
    dt = t->type.dtype;
    v = t->d[0];
  }
  for (int i = 0; i < cnt; i++)
    if (s[i] < 0) return ox_fail(im, "shape has a negative dim");
  IrType ty = ir_type_make(dt, cnt, s);
  if (!ox_fold_size_ok(im, &ty)) return false;
  IrTensor *c = ox_new_const(im, ty);
  for (int64_t i = 0; i < c->numel; i++) c->d[i] = v;
  ox_set_const(a, 0, c, false);
  return true;
}

bool ox_lower_constant(Im *im, const Onnx__NodeProto *n, Args *a) {
  const Onnx__AttributeProto *at;
  IrTensor *c = NULL;
  if ((at = ox_attr(n, "value")) && at->t) {
    c = ox_decode_tensor(im, at->t, NULL);
  } else if ((at = ox_attr(n, "value_float"))) {
    c = ox_new_const(im, ir_type_make(IR_F32, 0, NULL));
    c->d[0] = at->f;
  } else if ((at = ox_attr(n, "value_int"))) {
    c = ox_new_const(im, ir_type_make(IR_I64, 0, NULL));
    c->d[0] = (double)at->i;
  } else if ((at = ox_attr(n, "value_floats")) || (at = ox_attr(n, "value_ints"))) {
    bool f = !strcmp(at->name, "value_floats");
    int64_t len = (int64_t)(f ? at->n_floats : at->n_ints);
    c = ox_new_const(im, ir_type_make(f ? IR_F32 : IR_I64, 1, &len));
    for (int64_t i = 0; i < len; i++) c->d[i] = f ? at->floats[i] : (double)at->ints[i];
  } else {
    return ox_fail(im, "Constant with %s is not supported (value, value_float(s), value_int(s) are)",
                n->n_attribute && n->attribute[0]->name ? n->attribute[0]->name : "no value");
  }
  if (!c) return false;
  ox_set_const(a, 0, c, false);
  return true;
}

/* Comparison and logic on import-time constants. */
bool ox_lower_const_ew(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  IrTensor *x[3] = {0};
  int k = im->op->min_in; /* Where 3, Not, Floor, Ceil 1, the rest 2 */
  for (int i = 0; i < k; i++) {
    x[i] = ox_has_in(a, i) ? ox_ent_const(im, a->in[i]) : NULL;
    if (!x[i]) return ox_fail(im, "%s on run-time tensors is not supported (only import-time constants are folded)", t);
  }
  IrType ty = x[0]->type;
  for (int i = 1; i < k; i++)
    if (!ir_broadcast(&ty, &x[i]->type, &ty)) return ox_fail(im, "operand shapes do not broadcast");
  if (!ox_fold_size_ok(im, &ty)) return false;
  bool logic = strcmp(t, "Where") && strcmp(t, "Floor") && strcmp(t, "Ceil");
  ty.dtype = logic ? IR_BOOL : !strcmp(t, "Where") ? x[1]->type.dtype : x[0]->type.dtype;
  IrTensor *c = ox_new_const(im, ty);
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
  ox_set_const(a, 0, c, p);
  return true;
}
