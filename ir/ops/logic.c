/* Comparisons, boolean logic, selection, dtype conversion and
 * arg-reductions: the ops that produce or consume bool tensors.
 *
 * bool values are one byte holding 0 or 1 (uint8_t in generated code).
 * Comparisons always store 0 or 1; ops that read bools (not, and, or, xor,
 * where) treat any nonzero byte as true. The elementwise ops here broadcast
 * like add and fuse like it (ew_emit_group declares every member's local
 * with its own dtype, so a chain may mix dtypes). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "logic.h"

#define SCALAR(name) static double name##_scalar(const IrNode *n, const double *x)

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

/* ---- comparisons: any dtype, equal on both sides; bool result ---- */
static bool cmp_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!ew_infer(n, out, d)) return false;
  out[0].dtype = IR_BOOL;
  return true;
}

SCALAR(equal) { (void)n; return x[0] == x[1]; }
SCALAR(less) { (void)n; return x[0] < x[1]; }
SCALAR(greater) { (void)n; return x[0] > x[1]; }
SCALAR(less_equal) { (void)n; return x[0] <= x[1]; }
SCALAR(greater_equal) { (void)n; return x[0] >= x[1]; }

/* ---- boolean logic: bool operands only ---- */
static bool logic_infer(const IrNode *n, IrType *out, SmDiag *d) {
  for (int i = 0; i < n->nin; i++)
    if (n->in[i]->type.dtype != IR_BOOL) {
      char s[IR_TYPE_STRLEN];
      return op_err(n, d, "expects bool operands, operand %d ('%s') is %s (compare or cast first)",
                    i, n->in[i]->name, OP_TSTR(&n->in[i]->type, s));
    }
  return ew_infer(n, out, d);
}

SCALAR(not) { (void)n; return x[0] == 0; }
SCALAR(and) { (void)n; return x[0] != 0 && x[1] != 0; }
SCALAR(or) { (void)n; return x[0] != 0 || x[1] != 0; }
SCALAR(xor) { (void)n; return (x[0] != 0) != (x[1] != 0); }

/* ---- where(cond, x, y): x where cond, else y (all three broadcast) ---- */
static bool where_infer(const IrNode *n, IrType *out, SmDiag *d) {
  char s[IR_TYPE_STRLEN];
  if (n->in[0]->type.dtype != IR_BOOL)
    return op_err(n, d, "condition '%s' must be bool, got %s", n->in[0]->name,
                  OP_TSTR(&n->in[0]->type, s));
  if (n->in[1]->type.dtype != n->in[2]->type.dtype)
    return op_err(n, d, "operand dtypes differ: '%s' is %s, '%s' is %s", n->in[1]->name,
                  ir_dtype_name(n->in[1]->type.dtype), n->in[2]->name,
                  ir_dtype_name(n->in[2]->type.dtype));
  if (!ew_broadcast(n, out, d)) return false;
  out[0].dtype = n->in[1]->type.dtype;
  return true;
}

SCALAR(where) { (void)n; return x[0] != 0 ? x[1] : x[2]; }
static double where_dscalar(const IrNode *n, const double *x, int wrt) {
  (void)n;
  if (wrt == 0) return 0;
  return (x[0] != 0) == (wrt == 1) ? x[4] : 0;
}

/* ---- cast(x, to="f64"): numeric conversion ----
 * float -> int truncates toward zero (values outside the target's range
 * are unspecified, as in C and ONNX); int -> narrower int wraps modulo
 * 2^bits; anything -> bool is x != 0; bool -> number is 0 or 1. */
static bool cast_to(const IrNode *n, IrDType *t) {
  const char *s = ir_attr_str(n, "to", "");
  return ir_dtype_parse(s, strlen(s), t);
}

static bool cast_infer(const IrNode *n, IrType *out, SmDiag *d) {
  IrDType t;
  if (!cast_to(n, &t))
    return op_err(n, d, "to=\"%s\" is not a dtype (f32, f64, i64, i32, u8, bool)",
                  ir_attr_str(n, "to", ""));
  out[0] = n->in[0]->type;
  out[0].dtype = t;
  return true;
}


/* v (already an integer) modulo 2^bits, as a signed or unsigned value */
static double wrap_int(double v, int bits, bool is_signed) {
  double m = ldexp(1.0, bits);
  double r = fmod(v, m);
  if (r < 0) r += m;
  if (is_signed && r >= m / 2) r -= m;
  return r;
}

SCALAR(cast) {
  IrDType from = n->in[0]->type.dtype, to = n->out[0]->type.dtype;
  double v = x[0];
  if (to == IR_BOOL || from == IR_BOOL) return v != 0;
  if (to == IR_F64) return v;
  if (to == IR_F32) { /* as IEEE rounds beyond float's range, without C's undefined cast */
    double a = fabs(v), half_ulp_past = 0x1.ffffffp127;
    if (a > FLT_MAX) return copysign(a < half_ulp_past ? FLT_MAX : (double)INFINITY, v);
    return (double)(float)v;
  }
  if (!isfinite(v)) return 0; /* unspecified; the reference gives 0 */
  if (ir_dtype_is_float(from)) v = trunc(v);
  switch (to) {
  case IR_I32: return wrap_int(v, 32, true);
  case IR_U8: return wrap_int(v, 8, false);
  default: return fabs(v) < 9223372036854775808.0 ? v : 0; /* i64 */
  }
}

/* float -> float: the gradient converted back; no gradient through
 * integer or bool values */
static bool cast_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  IrDType from = n->in[0]->type.dtype;
  if (!dout[0] || !ir_grad_needed(cx, n, 0) || !ir_dtype_is_float(from) ||
      !ir_dtype_is_float(n->out[0]->type.dtype))
    return true;
  if (dout[0]->type.dtype == from) {
    din[0] = dout[0];
    return true;
  }
  IrNode *c = ir_grad_node(cx, "cast", &dout[0], 1, 1);
  ir_set_str(cx->g, c, "to", ir_dtype_name(from));
  din[0] = ir_grad_finish(cx, c);
  return true;
}

/* ---- argmax / argmin along one axis: i64 indices ----
 * ONNX semantics: axis (default 0), keepdims (default 1), the first
 * extreme unless select_last_index=1. NaNs are not ordered: an element
 * replaces the current best only when it compares greater (less). */
bool argmax_kind(const IrNode *n) { return !strcmp(n->op->name, "argmax"); }

static bool arg_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *x = &n->in[0]->type;
  char s[IR_TYPE_STRLEN];
  int64_t ax = ir_attr_int(n, "axis", 0), keep = ir_attr_int(n, "keepdims", 1),
          last = ir_attr_int(n, "select_last_index", 0);
  int a;
  if (x->rank == 0) return op_err(n, d, "expects a tensor of rank >= 1, got %s", OP_TSTR(x, s));
  if (!ir_norm_axis(ax, x->rank, &a))
    return op_err(n, d, "axis %lld is out of range for %s", (long long)ax, OP_TSTR(x, s));
  if (keep != 0 && keep != 1) return op_err(n, d, "keepdims must be 0 or 1, got %lld", (long long)keep);
  if (last != 0 && last != 1)
    return op_err(n, d, "select_last_index must be 0 or 1, got %lld", (long long)last);
  if (x->dims[a] == 0) return op_err(n, d, "axis %d of %s is empty", a, OP_TSTR(x, s));
  IrType t = {.dtype = IR_I64};
  for (int i = 0; i < x->rank; i++)
    if (i != a) t.dims[t.rank++] = x->dims[i];
    else if (keep) t.dims[t.rank++] = 1;
  out[0] = t;
  return true;
}

/* x viewed as [outer, dim, inner] around the axis */
void arg_geo(const IrNode *n, int64_t *outer, int64_t *dim, int64_t *inner) {
  const IrType *x = &n->in[0]->type;
  int a;
  ir_norm_axis(ir_attr_int(n, "axis", 0), x->rank, &a);
  *outer = *inner = 1;
  for (int i = 0; i < a; i++) *outer *= x->dims[i];
  for (int i = a + 1; i < x->rank; i++) *inner *= x->dims[i];
  *dim = x->dims[a];
}

static void arg_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t outer, dim, inner;
  arg_geo(n, &outer, &dim, &inner);
  bool mx = argmax_kind(n), last = ir_attr_int(n, "select_last_index", 0) != 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const double *p = in[0].d + o * dim * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < dim; k++) {
        double v = p[k * inner], bv = p[best * inner];
        bool better = mx ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
        if (better) best = k;
      }
      out[0].d[o * inner + i] = (double)best;
    }
}

static const IrAttrSpec cast_attrs[] = {{"to", IR_ATTR_STR, true}, {NULL, 0, false}};
static const IrAttrSpec arg_attrs[] = {{"axis", IR_ATTR_INT, false},
                                       {"keepdims", IR_ATTR_INT, false},
                                       {"select_last_index", IR_ATTR_INT, false},
                                       {NULL, 0, false}};

/* elementwise ops without a gradient (bool results) */
#define EW_NOGRAD(nm, arity, infer_, doc_)                                    \
  extern const struct CgOpKernel cgk_##nm;                                  \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = arity, .max_in = arity, .nout = 1,               \
      .attrs = no_attrs, .flags = IR_OPF_ELEMENTWISE | IR_OPF_NOGRAD,         \
      .infer = infer_, .ref = ew_ref, .c = &cgk_##nm,                         \
      .scalar = nm##_scalar, .doc = doc_}

EW_NOGRAD(equal, 2, cmp_infer, "a == b -> bool (broadcasting)");
EW_NOGRAD(less, 2, cmp_infer, "a < b -> bool (broadcasting)");
EW_NOGRAD(greater, 2, cmp_infer, "a > b -> bool (broadcasting)");
EW_NOGRAD(less_equal, 2, cmp_infer, "a <= b -> bool (broadcasting)");
EW_NOGRAD(greater_equal, 2, cmp_infer, "a >= b -> bool (broadcasting)");
EW_NOGRAD(not, 1, logic_infer, "logical not of a bool tensor");
EW_NOGRAD(and, 2, logic_infer, "logical and of bool tensors (broadcasting)");
EW_NOGRAD(or, 2, logic_infer, "logical or of bool tensors (broadcasting)");
EW_NOGRAD(xor, 2, logic_infer, "logical exclusive or of bool tensors (broadcasting)");

static const IrOpDef op_where = {
    .name = "where", .min_in = 3, .max_in = 3, .nout = 1, .attrs = no_attrs,
    .flags = IR_OPF_ELEMENTWISE, .infer = where_infer, .ref = ew_ref, .c = &cgk_where, .scalar = where_scalar, .grad = ir_ew_grad,
    .dscalar = where_dscalar,
    .doc = "cond ? x : y (cond bool; broadcasting); gradient to x and y, masked"};

static const IrOpDef op_cast = {
    .name = "cast", .min_in = 1, .max_in = 1, .nout = 1, .attrs = cast_attrs,
    .flags = IR_OPF_ELEMENTWISE, .infer = cast_infer, .ref = ew_ref, .c = &cgk_cast, .scalar = cast_scalar, .grad = cast_grad,
    .doc = "convert to dtype to=\"f32\"|\"f64\"|\"i64\"|\"i32\"|\"u8\"|\"bool\" (float->int "
           "truncates; gradient only float->float)"};

static const IrOpDef op_argmax = {
    .name = "argmax", .min_in = 1, .max_in = 1, .nout = 1, .attrs = arg_attrs,
    .flags = IR_OPF_NOGRAD, .infer = arg_infer, .ref = arg_ref, .c = &cgk_argmax,
    .doc = "index of the maximum along axis -> i64 (axis=0, keepdims=1, select_last_index=0)"};

static const IrOpDef op_argmin = {
    .name = "argmin", .min_in = 1, .max_in = 1, .nout = 1, .attrs = arg_attrs,
    .flags = IR_OPF_NOGRAD, .infer = arg_infer, .ref = arg_ref, .c = &cgk_argmin,
    .doc = "index of the minimum along axis -> i64 (axis=0, keepdims=1, select_last_index=0)"};

const IrOpDef *const ir_ops_logic[] = {
    &op_equal, &op_less, &op_greater, &op_less_equal, &op_greater_equal, &op_not, &op_and,
    &op_or, &op_xor, &op_where, &op_cast, &op_argmax, &op_argmin, NULL};
