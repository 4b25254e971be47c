/* Elementwise ops with numpy broadcasting. Each entry gives its scalar math
 * twice: as a C expression for generated code (expr) and as a double
 * function for the reference interpreter (scalar). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* math function name for the node's dtype: expf for f32, exp for f64 */
static const char *fn(const IrNode *n, const char *base) {
  static _Thread_local char s[32];
  bool f32 = n->out[0]->type.dtype == IR_F32;
  snprintf(s, sizeof s, "%s%s", base, f32 ? "f" : "");
  return s;
}

static const char *lit_suffix(const IrNode *n) {
  return n->out[0]->type.dtype == IR_F32 ? "f" : "";
}

#define EXPR(name) static void name##_expr(SmBuf *b, const IrNode *n, const char *const *a)
#define SCALAR(name) static double name##_scalar(const IrNode *n, const double *x)

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

/* ---- binary arithmetic ---- */
EXPR(add) { (void)n; sm_buf_printf(b, "%s + %s", a[0], a[1]); }
SCALAR(add) { (void)n; return x[0] + x[1]; }
EXPR(sub) { (void)n; sm_buf_printf(b, "%s - %s", a[0], a[1]); }
SCALAR(sub) { (void)n; return x[0] - x[1]; }
EXPR(mul) { (void)n; sm_buf_printf(b, "%s * %s", a[0], a[1]); }
SCALAR(mul) { (void)n; return x[0] * x[1]; }
EXPR(div) { (void)n; sm_buf_printf(b, "%s / %s", a[0], a[1]); }
SCALAR(div) {
  if (!ir_dtype_is_float(n->out[0]->type.dtype))
    return x[1] == 0 ? 0 : trunc(x[0] / x[1]);
  return x[0] / x[1];
}
EXPR(pow) { sm_buf_printf(b, "%s(%s, %s)", fn(n, "pow"), a[0], a[1]); }
SCALAR(pow) { (void)n; return pow(x[0], x[1]); }
EXPR(min) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s, %s)", fn(n, "fmin"), a[0], a[1]);
  else
    sm_buf_printf(b, "(%s < %s ? %s : %s)", a[0], a[1], a[0], a[1]);
}
SCALAR(min) { (void)n; return x[0] < x[1] ? x[0] : x[1]; }
EXPR(max) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s, %s)", fn(n, "fmax"), a[0], a[1]);
  else
    sm_buf_printf(b, "(%s > %s ? %s : %s)", a[0], a[1], a[0], a[1]);
}
SCALAR(max) { (void)n; return x[0] > x[1] ? x[0] : x[1]; }

/* ---- unary math ---- */
EXPR(neg) { (void)n; sm_buf_printf(b, "-%s", a[0]); }
SCALAR(neg) { (void)n; return -x[0]; }
EXPR(abs) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s)", fn(n, "fabs"), a[0]);
  else
    sm_buf_printf(b, "(%s < 0 ? -%s : %s)", a[0], a[0], a[0]);
}
SCALAR(abs) { (void)n; return fabs(x[0]); }
EXPR(exp) { sm_buf_printf(b, "%s(%s)", fn(n, "exp"), a[0]); }
SCALAR(exp) { (void)n; return exp(x[0]); }
EXPR(log) { sm_buf_printf(b, "%s(%s)", fn(n, "log"), a[0]); }
SCALAR(log) { (void)n; return log(x[0]); }
EXPR(sqrt) { sm_buf_printf(b, "%s(%s)", fn(n, "sqrt"), a[0]); }
SCALAR(sqrt) { (void)n; return sqrt(x[0]); }
EXPR(reciprocal) { sm_buf_printf(b, "1.0%s / %s", lit_suffix(n), a[0]); }
SCALAR(reciprocal) { (void)n; return 1.0 / x[0]; }

/* ---- activations ---- */
EXPR(relu) { sm_buf_printf(b, "%s(%s, 0.0%s)", fn(n, "fmax"), a[0], lit_suffix(n)); }
SCALAR(relu) { (void)n; return x[0] > 0 ? x[0] : 0; }

EXPR(leaky_relu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  emit_float(b, ir_attr_float(n, "alpha", 0.01));
  sm_buf_printf(b, " * %s)", a[0]);
}
SCALAR(leaky_relu) { return x[0] > 0 ? x[0] : ir_attr_float(n, "alpha", 0.01) * x[0]; }

EXPR(elu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  emit_float(b, ir_attr_float(n, "alpha", 1.0));
  sm_buf_printf(b, " * %s(%s))", fn(n, "expm1"), a[0]);
}
SCALAR(elu) { return x[0] > 0 ? x[0] : ir_attr_float(n, "alpha", 1.0) * (exp(x[0]) - 1); }

EXPR(sigmoid) {
  const char *s = lit_suffix(n);
  sm_buf_printf(b, "1.0%s / (1.0%s + %s(-%s))", s, s, fn(n, "exp"), a[0]);
}
SCALAR(sigmoid) { (void)n; return 1 / (1 + exp(-x[0])); }

EXPR(tanh) { sm_buf_printf(b, "%s(%s)", fn(n, "tanh"), a[0]); }
SCALAR(tanh) { (void)n; return tanh(x[0]); }

static bool gelu_tanh(const IrNode *n) {
  const char *m = ir_attr_str(n, "approximate", "none");
  return m[0] == 't';
}
EXPR(gelu) {
  const char *s = lit_suffix(n);
  if (gelu_tanh(n))
    sm_buf_printf(b,
                  "0.5%s * %s * (1.0%s + %s(0.7978845608028654%s * (%s + "
                  "0.044715%s * %s * %s * %s)))",
                  s, a[0], s, fn(n, "tanh"), s, a[0], s, a[0], a[0], a[0]);
  else
    sm_buf_printf(b, "0.5%s * %s * (1.0%s + %s(%s * 0.7071067811865476%s))", s,
                  a[0], s, fn(n, "erf"), a[0], s);
}
SCALAR(gelu) {
  double v = x[0];
  if (gelu_tanh(n))
    return 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1 + erf(v / sqrt(2.0)));
}

EXPR(softplus) {
  /* max(x,0) + log1p(exp(-|x|)) is exact and overflow-free */
  sm_buf_printf(b, "%s(%s, 0.0%s) + %s(%s(-%s(%s)))", fn(n, "fmax"), a[0],
                lit_suffix(n), fn(n, "log1p"), fn(n, "exp"), fn(n, "fabs"), a[0]);
}
SCALAR(softplus) { (void)n; return log(1 + exp(x[0])); }

EXPR(clip) {
  sm_buf_printf(b, "%s(%s(%s, ", fn(n, "fmin"), fn(n, "fmax"), a[0]);
  emit_float(b, ir_attr_float(n, "min", -INFINITY));
  sm_buf_puts(b, "), ");
  emit_float(b, ir_attr_float(n, "max", INFINITY));
  sm_buf_puts(b, ")");
}
SCALAR(clip) {
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  return x[0] < lo ? lo : x[0] > hi ? hi : x[0];
}

/* identity-like: dropout is the identity at inference */
EXPR(identity) { (void)n; sm_buf_printf(b, "%s", a[0]); }
SCALAR(identity) { (void)n; return x[0]; }

static bool float_ew_infer(const IrNode *n, IrType *out, SmDiag *d) {
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  return ew_infer(n, out, d);
}

static bool clip_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (ir_attr_float(n, "min", -INFINITY) > ir_attr_float(n, "max", INFINITY))
    return op_err(n, d, "min %g is greater than max %g",
                  ir_attr_float(n, "min", -INFINITY),
                  ir_attr_float(n, "max", INFINITY));
  return float_ew_infer(n, out, d);
}

static bool dropout_infer(const IrNode *n, IrType *out, SmDiag *d) {
  double r = ir_attr_float(n, "ratio", 0.5);
  if (!(r >= 0 && r < 1)) return op_err(n, d, "ratio must be in [0, 1), got %g", r);
  return ew_infer(n, out, d);
}

static bool gelu_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const char *m = ir_attr_str(n, "approximate", "none");
  if (strcmp(m, "none") != 0 && strcmp(m, "tanh") != 0)
    return op_err(n, d, "approximate must be \"none\" or \"tanh\", got \"%s\"", m);
  return float_ew_infer(n, out, d);
}

static const IrAttrSpec alpha_attr[] = {{"alpha", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec clip_attrs[] = {
    {"min", IR_ATTR_FLOAT, false}, {"max", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec gelu_attrs[] = {{"approximate", IR_ATTR_STR, false}, {NULL, 0, false}};
static const IrAttrSpec dropout_attrs[] = {{"ratio", IR_ATTR_FLOAT, false}, {NULL, 0, false}};

#define EW(nm, arity, attrs_, infer_, doc_)                                   \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = arity, .max_in = arity, .nout = 1,               \
      .attrs = attrs_, .flags = IR_OPF_ELEMENTWISE, .infer = infer_,          \
      .ref = ew_ref, .emit = ew_emit, .expr = nm##_expr,                      \
      .scalar = nm##_scalar, .doc = doc_}

EW(add, 2, no_attrs, ew_infer, "a + b (broadcasting)");
EW(sub, 2, no_attrs, ew_infer, "a - b (broadcasting)");
EW(mul, 2, no_attrs, ew_infer, "a * b (broadcasting)");
EW(div, 2, no_attrs, ew_infer, "a / b (broadcasting)");
EW(pow, 2, no_attrs, float_ew_infer, "a ^ b (broadcasting)");
EW(min, 2, no_attrs, ew_infer, "elementwise minimum (broadcasting)");
EW(max, 2, no_attrs, ew_infer, "elementwise maximum (broadcasting)");
EW(neg, 1, no_attrs, ew_infer, "-x");
EW(abs, 1, no_attrs, ew_infer, "|x|");
EW(exp, 1, no_attrs, float_ew_infer, "e^x");
EW(log, 1, no_attrs, float_ew_infer, "natural logarithm");
EW(sqrt, 1, no_attrs, float_ew_infer, "square root");
EW(reciprocal, 1, no_attrs, float_ew_infer, "1 / x");
EW(relu, 1, no_attrs, float_ew_infer, "max(x, 0)");
EW(leaky_relu, 1, alpha_attr, float_ew_infer, "x > 0 ? x : alpha*x (alpha=0.01)");
EW(elu, 1, alpha_attr, float_ew_infer, "x > 0 ? x : alpha*(e^x - 1) (alpha=1)");
EW(sigmoid, 1, no_attrs, float_ew_infer, "1 / (1 + e^-x)");
EW(tanh, 1, no_attrs, float_ew_infer, "hyperbolic tangent");
EW(gelu, 1, gelu_attrs, gelu_infer, "GELU, exact (erf) or approximate=\"tanh\"");
EW(softplus, 1, no_attrs, float_ew_infer, "log(1 + e^x)");
EW(clip, 1, clip_attrs, clip_infer, "clamp to [min, max]");
EW(identity, 1, no_attrs, ew_infer, "copy");

/* dropout at inference is the identity; the training form arrives with
 * autodiff */
static const IrOpDef op_dropout = {
    .name = "dropout", .min_in = 1, .max_in = 1, .nout = 1,
    .attrs = dropout_attrs, .flags = IR_OPF_ELEMENTWISE, .infer = dropout_infer,
    .ref = ew_ref, .emit = ew_emit, .expr = identity_expr,
    .scalar = identity_scalar, .doc = "identity at inference (ratio=0.5)"};

const IrOpDef *const ir_ops_elementwise[] = {
    &op_add,  &op_sub,        &op_mul,     &op_div,  &op_pow,        &op_min,
    &op_max,  &op_neg,        &op_abs,     &op_exp,  &op_log,        &op_sqrt,
    &op_reciprocal, &op_relu, &op_leaky_relu, &op_elu, &op_sigmoid,  &op_tanh,
    &op_gelu, &op_softplus,   &op_clip,    &op_identity, &op_dropout, NULL};
