/* Elementwise ops with numpy broadcasting. Each entry gives its scalar math
 * twice: as a C expression for generated code (expr) and as a double
 * function for the reference interpreter (scalar). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* math function name for the node's dtype: expf for f32, exp for f64 */
static const char *fn(const IrNode *n, const char *base) {
  /* a small ring: one printf may call fn() several times */
  static _Thread_local char ring[8][32];
  static _Thread_local int next;
  return op_mathfn(n->out[0]->type.dtype, base, ring[next++ % 8], sizeof ring[0]);
}

/* a float literal of the node's dtype */
static void lit(SmBuf *b, const IrNode *n, double v) { emit_value(b, n->out[0]->type.dtype, v); }

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
/* a select, not fmax: GCC vectorizes it (fmaxf stays a libm call without
 * -ffast-math), and it is the reference's expression, NaN -> 0 included */
EXPR(relu) { sm_buf_printf(b, "(%s > 0 ? %s : 0.0%s)", a[0], a[0], lit_suffix(n)); }
SCALAR(relu) { (void)n; return x[0] > 0 ? x[0] : 0; }

EXPR(leaky_relu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  lit(b, n, ir_attr_float(n, "alpha", 0.01));
  sm_buf_printf(b, " * %s)", a[0]);
}
SCALAR(leaky_relu) { return x[0] > 0 ? x[0] : ir_attr_float(n, "alpha", 0.01) * x[0]; }

EXPR(elu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  lit(b, n, ir_attr_float(n, "alpha", 1.0));
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
  lit(b, n, ir_attr_float(n, "min", -INFINITY));
  sm_buf_puts(b, "), ");
  lit(b, n, ir_attr_float(n, "max", INFINITY));
  sm_buf_puts(b, ")");
}
SCALAR(clip) {
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  return x[0] < lo ? lo : x[0] > hi ? hi : x[0];
}

/* identity-like: dropout is the identity at inference */
EXPR(identity) { (void)n; sm_buf_printf(b, "%s", a[0]); }
SCALAR(identity) { (void)n; return x[0]; }


/* ---- derivatives: dy * d f / d in[wrt]; args = inputs..., y, dy ---- */
#define DEXPR(name) static void name##_dexpr(SmBuf *b, const IrNode *n, const char *const *a, int wrt)
#define DSCALAR(name) static double name##_dscalar(const IrNode *n, const double *x, int wrt)
/* unary: a[0] = x, a[1] = y, a[2] = dy */
DEXPR(add) { (void)n; (void)wrt; sm_buf_printf(b, "%s", a[3]); }
DSCALAR(add) { (void)n; (void)wrt; return x[3]; }
DEXPR(sub) { (void)n; sm_buf_printf(b, wrt ? "-%s" : "%s", a[3]); }
DSCALAR(sub) { (void)n; return wrt ? -x[3] : x[3]; }
DEXPR(mul) { (void)n; sm_buf_printf(b, "%s * %s", a[3], a[1 - wrt]); }
DSCALAR(mul) { (void)n; return x[3] * x[1 - wrt]; }
DEXPR(div) {
  (void)n;
  if (wrt == 0) sm_buf_printf(b, "%s / %s", a[3], a[1]);
  else sm_buf_printf(b, "-%s * %s / (%s * %s)", a[3], a[0], a[1], a[1]);
}
DSCALAR(div) { (void)n; return wrt == 0 ? x[3] / x[1] : -x[3] * x[0] / (x[1] * x[1]); }
DEXPR(pow) {
  if (wrt == 0)
    sm_buf_printf(b, "%s * %s * %s(%s, %s - 1)", a[3], a[1], fn(n, "pow"), a[0], a[1]);
  else
    sm_buf_printf(b, "%s * %s * %s(%s)", a[3], a[2], fn(n, "log"), a[0]);
}
DSCALAR(pow) {
  (void)n;
  return wrt == 0 ? x[3] * x[1] * pow(x[0], x[1] - 1) : x[3] * x[2] * log(x[0]);
}
/* ties go to the first operand */
DEXPR(min) {
  (void)n;
  sm_buf_printf(b, wrt == 0 ? "(%s <= %s ? %s : 0)" : "(%s <= %s ? 0 : %s)", a[0], a[1], a[3]);
}
DSCALAR(min) { (void)n; bool first = x[0] <= x[1]; return (wrt == 0) == first ? x[3] : 0; }
DEXPR(max) {
  (void)n;
  sm_buf_printf(b, wrt == 0 ? "(%s >= %s ? %s : 0)" : "(%s >= %s ? 0 : %s)", a[0], a[1], a[3]);
}
DSCALAR(max) { (void)n; bool first = x[0] >= x[1]; return (wrt == 0) == first ? x[3] : 0; }

DEXPR(neg) { (void)n; (void)wrt; sm_buf_printf(b, "-%s", a[2]); }
DSCALAR(neg) { (void)n; (void)wrt; return -x[2]; }
DEXPR(abs) {
  (void)n;
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : %s < 0 ? -%s : 0)", a[0], a[2], a[0], a[2]);
}
DSCALAR(abs) { (void)n; (void)wrt; return x[0] > 0 ? x[2] : x[0] < 0 ? -x[2] : 0; }
DEXPR(exp) { (void)n; (void)wrt; sm_buf_printf(b, "%s * %s", a[2], a[1]); }
DSCALAR(exp) { (void)n; (void)wrt; return x[2] * x[1]; }
DEXPR(log) { (void)n; (void)wrt; sm_buf_printf(b, "%s / %s", a[2], a[0]); }
DSCALAR(log) { (void)n; (void)wrt; return x[2] / x[0]; }
DEXPR(sqrt) { (void)wrt; sm_buf_printf(b, "0.5%s * %s / %s", lit_suffix(n), a[2], a[1]); }
DSCALAR(sqrt) { (void)n; (void)wrt; return 0.5 * x[2] / x[1]; }
DEXPR(reciprocal) { (void)n; (void)wrt; sm_buf_printf(b, "-%s * %s * %s", a[2], a[1], a[1]); }
DSCALAR(reciprocal) { (void)n; (void)wrt; return -x[2] * x[1] * x[1]; }
/* in terms of the output (y > 0 exactly when x > 0), so the backward pass
 * keeps only one of the two tensors alive */
DEXPR(relu) { (void)n; (void)wrt; sm_buf_printf(b, "(%s > 0 ? %s : 0)", a[1], a[2]); }
DSCALAR(relu) { (void)n; (void)wrt; return x[1] > 0 ? x[2] : 0; }
DEXPR(leaky_relu) {
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[2]);
  lit(b, n, ir_attr_float(n, "alpha", 0.01));
  sm_buf_printf(b, " * %s)", a[2]);
}
DSCALAR(leaky_relu) { (void)wrt; return x[0] > 0 ? x[2] : ir_attr_float(n, "alpha", 0.01) * x[2]; }
DEXPR(elu) {
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : %s * (%s + ", a[0], a[2], a[2], a[1]);
  lit(b, n, ir_attr_float(n, "alpha", 1.0));
  sm_buf_puts(b, "))");
}
DSCALAR(elu) { (void)wrt; return x[0] > 0 ? x[2] : x[2] * (x[1] + ir_attr_float(n, "alpha", 1.0)); }
DEXPR(sigmoid) {
  (void)wrt;
  sm_buf_printf(b, "%s * %s * (1.0%s - %s)", a[2], a[1], lit_suffix(n), a[1]);
}
DSCALAR(sigmoid) { (void)n; (void)wrt; return x[2] * x[1] * (1 - x[1]); }
DEXPR(tanh) {
  (void)wrt;
  sm_buf_printf(b, "%s * (1.0%s - %s * %s)", a[2], lit_suffix(n), a[1], a[1]);
}
DSCALAR(tanh) { (void)n; (void)wrt; return x[2] * (1 - x[1] * x[1]); }
DEXPR(gelu) {
  (void)wrt;
  const char *s = lit_suffix(n);
  if (gelu_tanh(n))
    sm_buf_printf(b,
                  "%s * (0.5%s * (1.0%s + %s(0.7978845608028654%s * (%s + 0.044715%s * %s * %s * %s))) + "
                  "0.5%s * %s * (1.0%s - %s(0.7978845608028654%s * (%s + 0.044715%s * %s * %s * %s)) * "
                  "%s(0.7978845608028654%s * (%s + 0.044715%s * %s * %s * %s))) * "
                  "0.7978845608028654%s * (1.0%s + 0.134145%s * %s * %s))",
                  a[2], s, s, fn(n, "tanh"), s, a[0], s, a[0], a[0], a[0],
                  s, a[0], s, fn(n, "tanh"), s, a[0], s, a[0], a[0], a[0],
                  fn(n, "tanh"), s, a[0], s, a[0], a[0], a[0], s, s, s, a[0], a[0]);
  else
    sm_buf_printf(b,
                  "%s * (0.5%s * (1.0%s + %s(%s * 0.7071067811865476%s)) + "
                  "%s * 0.3989422804014327%s * %s(-0.5%s * %s * %s))",
                  a[2], s, s, fn(n, "erf"), a[0], s, a[0], s, fn(n, "exp"), s, a[0], a[0]);
}
DSCALAR(gelu) {
  (void)wrt;
  double v = x[0];
  if (gelu_tanh(n)) {
    double k = sqrt(2 / M_PI), u = k * (v + 0.044715 * v * v * v), t = tanh(u);
    return x[2] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v));
  }
  return x[2] * (0.5 * (1 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI));
}
DEXPR(softplus) {
  (void)wrt;
  const char *s = lit_suffix(n);
  sm_buf_printf(b, "%s / (1.0%s + %s(-%s))", a[2], s, fn(n, "exp"), a[0]);
}
DSCALAR(softplus) { (void)n; (void)wrt; return x[2] / (1 + exp(-x[0])); }
DEXPR(clip) {
  (void)wrt;
  sm_buf_printf(b, "(%s >= ", a[0]);
  lit(b, n, ir_attr_float(n, "min", -INFINITY));
  sm_buf_printf(b, " && %s <= ", a[0]);
  lit(b, n, ir_attr_float(n, "max", INFINITY));
  sm_buf_printf(b, " ? %s : 0)", a[2]);
}
DSCALAR(clip) {
  (void)wrt;
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  return x[0] >= lo && x[0] <= hi ? x[2] : 0;
}
DEXPR(identity) { (void)n; (void)wrt; sm_buf_printf(b, "%s", a[2]); }
DSCALAR(identity) { (void)n; (void)wrt; return x[2]; }

/* ew_grad(operands...; op=NAME, wrt=K, need=MASK, forward attrs...): the
 * derivative of elementwise op NAME w.r.t. its input K, times dy, at the
 * broadcast shape. Of the full argument list (NAME's inputs, its output y,
 * dy), only those whose bit is set in `need` are operands, so values the
 * derivative never reads are not kept alive for the backward pass. Built by
 * ir_ew_grad. */
static const IrOpDef *ew_grad_fwd(const IrNode *n) {
  const IrOpDef *op = ir_op_find(ir_attr_str(n, "op", ""));
  SM_ASSERT(op && op->dexpr);
  return op;
}
static int64_t ew_grad_need(const IrNode *n, const IrOpDef *op) {
  return ir_attr_int(n, "need", ((int64_t)1 << (op->min_in + 2)) - 1);
}
static void ew_grad_expr(SmBuf *b, const IrNode *n, const char *const *a) {
  const IrOpDef *op = ew_grad_fwd(n);
  int64_t need = ew_grad_need(n, op);
  const char *full[8];
  for (int i = 0, k = 0; i < op->min_in + 2; i++) full[i] = need >> i & 1 ? a[k++] : "0";
  op->dexpr(b, n, full, (int)ir_attr_int(n, "wrt", 0));
}
static double ew_grad_scalar(const IrNode *n, const double *x) {
  const IrOpDef *op = ew_grad_fwd(n);
  int64_t need = ew_grad_need(n, op);
  double full[8];
  for (int i = 0, k = 0; i < op->min_in + 2; i++) full[i] = need >> i & 1 ? x[k++] : 0;
  return op->dscalar(n, full, (int)ir_attr_int(n, "wrt", 0));
}
static bool ew_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrOpDef *op = ir_op_find(ir_attr_str(n, "op", ""));
  if (!op || !op->dexpr) return op_err(n, d, "op=\"%s\" is not an elementwise op with a derivative", ir_attr_str(n, "op", ""));
  int64_t wrt = ir_attr_int(n, "wrt", -1), need = ew_grad_need(n, op);
  int full = op->min_in + 2, count = 0;
  for (int i = 0; i < full; i++) count += (int)(need >> i & 1);
  if (wrt < 0 || wrt >= op->min_in || need <= 0 || need >= ((int64_t)1 << full) ||
      !(need >> (full - 1) & 1) || n->nin != count)
    return op_err(n, d, "needs 0 <= wrt < %d, dy among the operands and one operand per bit "
                  "of need (of %s's inputs, its output and dy)", op->min_in, op->name);
  /* operands may differ in dtype (where's bool condition); the gradient
   * has dy's, the last operand */
  if (!ew_broadcast(n, out, d)) return false;
  out[0].dtype = n->in[n->nin - 1]->type.dtype;
  return true;
}
static const IrOpDef op_ew_grad = {
    .name = "ew_grad", .min_in = 1, .max_in = 4, .nout = 1,
    .flags = IR_OPF_ELEMENTWISE | IR_OPF_ANY_ATTRS, .infer = ew_grad_infer,
    .ref = ew_ref, .emit = ew_emit, .expr = ew_grad_expr, .scalar = ew_grad_scalar,
    .doc = "dy * d op / d input[wrt] for elementwise op (backward of elementwise ops)"};

/* arithmetic: every dtype but bool */
static bool num_ew_infer(const IrNode *n, IrType *out, SmDiag *d) {
  for (int i = 0; i < n->nin; i++)
    if (n->in[i]->type.dtype == IR_BOOL)
      return op_err(n, d, "expects numbers, operand %d ('%s') is bool", i, n->in[i]->name);
  return ew_infer(n, out, d);
}

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

#define EW(nm, arity, attrs_, infer_, ...) /* doc, then capability fields */ \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = arity, .max_in = arity, .nout = 1,               \
      .attrs = attrs_, .flags = IR_OPF_ELEMENTWISE, .infer = infer_,          \
      .ref = ew_ref, .emit = ew_emit, .expr = nm##_expr,                      \
      .scalar = nm##_scalar, .grad = ir_ew_grad, .dexpr = nm##_dexpr,         \
      .dscalar = nm##_dscalar, .doc = __VA_ARGS__}

EW(add, 2, no_attrs, num_ew_infer, "a + b (broadcasting)", .neutral_side = IR_SIDE_BOTH, .neutral = 0);
EW(sub, 2, no_attrs, num_ew_infer, "a - b (broadcasting)", .neutral_side = IR_SIDE_RIGHT, .neutral = 0);
EW(mul, 2, no_attrs, num_ew_infer, "a * b (broadcasting)", .neutral_side = IR_SIDE_BOTH, .neutral = 1);
EW(div, 2, no_attrs, num_ew_infer, "a / b (broadcasting)", .neutral_side = IR_SIDE_RIGHT, .neutral = 1);
EW(pow, 2, no_attrs, float_ew_infer, "a ^ b (broadcasting)");
EW(min, 2, no_attrs, num_ew_infer, "elementwise minimum (broadcasting)");
EW(max, 2, no_attrs, num_ew_infer, "elementwise maximum (broadcasting)");
EW(neg, 1, no_attrs, num_ew_infer, "-x");
EW(abs, 1, no_attrs, num_ew_infer, "|x|");
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
EW(identity, 1, no_attrs, ew_infer, "copy", .caps = IR_CAP_NOOP);

/* dropout at inference is the identity; the training form arrives with
 * autodiff */
static const IrOpDef op_dropout = {
    .name = "dropout", .min_in = 1, .max_in = 1, .nout = 1,
    .attrs = dropout_attrs, .flags = IR_OPF_ELEMENTWISE, .infer = dropout_infer,
    .ref = ew_ref, .emit = ew_emit, .expr = identity_expr,
    .scalar = identity_scalar, .grad = ir_ew_grad, .dexpr = identity_dexpr,
    .dscalar = identity_dscalar, .doc = "identity at inference (ratio=0.5)",
    .caps = IR_CAP_INFER_IDENTITY, .train_form = "dropout_train", .to_train = ir_train_dropout};

const IrOpDef *const ir_ops_elementwise[] = {
    &op_add,  &op_sub,        &op_mul,     &op_div,  &op_pow,        &op_min,
    &op_max,  &op_neg,        &op_abs,     &op_exp,  &op_log,        &op_sqrt,
    &op_reciprocal, &op_relu, &op_leaky_relu, &op_elu, &op_sigmoid,  &op_tanh,
    &op_gelu, &op_softplus,   &op_clip,    &op_identity, &op_dropout,
    &op_ew_grad, NULL};
