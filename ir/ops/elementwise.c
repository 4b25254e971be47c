/* Elementwise ops with numpy broadcasting. Each entry gives its scalar math
 * twice: as a C expression for generated code (expr) and as a double
 * function for the reference interpreter (scalar). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* C kernels (codegen/kernels/elementwise.c) */
extern const struct CgOpKernel cgk_ew_grad, cgk_dropout;




#define SCALAR(name) static double name##_scalar(const IrNode *n, const double *x)

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

/* ---- binary arithmetic ---- */
SCALAR(add) { (void)n; return x[0] + x[1]; }
SCALAR(sub) { (void)n; return x[0] - x[1]; }
SCALAR(mul) { (void)n; return x[0] * x[1]; }
SCALAR(div) {
  if (!ir_dtype_is_float(n->out[0]->type.dtype))
    return x[1] == 0 ? 0 : trunc(x[0] / x[1]);
  return x[0] / x[1];
}
SCALAR(pow) { (void)n; return pow(x[0], x[1]); }
SCALAR(min) { (void)n; return x[0] < x[1] ? x[0] : x[1]; }
SCALAR(max) { (void)n; return x[0] > x[1] ? x[0] : x[1]; }

/* ---- unary math ---- */
SCALAR(neg) { (void)n; return -x[0]; }
SCALAR(abs) { (void)n; return fabs(x[0]); }
SCALAR(exp) { (void)n; return exp(x[0]); }
SCALAR(log) { (void)n; return log(x[0]); }
SCALAR(sqrt) { (void)n; return sqrt(x[0]); }
SCALAR(reciprocal) { (void)n; return 1.0 / x[0]; }

/* ---- activations ---- */
SCALAR(relu) { (void)n; return x[0] > 0 ? x[0] : 0; }

SCALAR(leaky_relu) { return x[0] > 0 ? x[0] : ir_attr_float(n, "alpha", 0.01) * x[0]; }

SCALAR(elu) { return x[0] > 0 ? x[0] : ir_attr_float(n, "alpha", 1.0) * (exp(x[0]) - 1); }

SCALAR(sigmoid) { (void)n; return 1 / (1 + exp(-x[0])); }

SCALAR(tanh) { (void)n; return tanh(x[0]); }

bool gelu_tanh(const IrNode *n) {
  const char *m = ir_attr_str(n, "approximate", "none");
  return m[0] == 't';
}
SCALAR(gelu) {
  double v = x[0];
  if (gelu_tanh(n))
    return 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1 + erf(v / sqrt(2.0)));
}

SCALAR(softplus) { (void)n; return log(1 + exp(x[0])); }

SCALAR(clip) {
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  return x[0] < lo ? lo : x[0] > hi ? hi : x[0];
}

SCALAR(identity) { (void)n; return x[0]; }


/* ---- derivatives: dy * d f / d in[wrt]; args = inputs..., y, dy ---- */
#define DSCALAR(name) static double name##_dscalar(const IrNode *n, const double *x, int wrt)
DSCALAR(add) { (void)n; (void)wrt; return x[3]; }
DSCALAR(sub) { (void)n; return wrt ? -x[3] : x[3]; }
DSCALAR(mul) { (void)n; return x[3] * x[1 - wrt]; }
DSCALAR(div) { (void)n; return wrt == 0 ? x[3] / x[1] : -x[3] * x[0] / (x[1] * x[1]); }
DSCALAR(pow) {
  (void)n;
  return wrt == 0 ? x[3] * x[1] * pow(x[0], x[1] - 1) : x[3] * x[2] * log(x[0]);
}
DSCALAR(min) { (void)n; bool first = x[0] <= x[1]; return (wrt == 0) == first ? x[3] : 0; }
DSCALAR(max) { (void)n; bool first = x[0] >= x[1]; return (wrt == 0) == first ? x[3] : 0; }

DSCALAR(neg) { (void)n; (void)wrt; return -x[2]; }
DSCALAR(abs) { (void)n; (void)wrt; return x[0] > 0 ? x[2] : x[0] < 0 ? -x[2] : 0; }
DSCALAR(exp) { (void)n; (void)wrt; return x[2] * x[1]; }
DSCALAR(log) { (void)n; (void)wrt; return x[2] / x[0]; }
DSCALAR(sqrt) { (void)n; (void)wrt; return 0.5 * x[2] / x[1]; }
DSCALAR(reciprocal) { (void)n; (void)wrt; return -x[2] * x[1] * x[1]; }
DSCALAR(relu) { (void)n; (void)wrt; return x[1] > 0 ? x[2] : 0; }
DSCALAR(leaky_relu) { (void)wrt; return x[0] > 0 ? x[2] : ir_attr_float(n, "alpha", 0.01) * x[2]; }
DSCALAR(elu) { (void)wrt; return x[0] > 0 ? x[2] : x[2] * (x[1] + ir_attr_float(n, "alpha", 1.0)); }
DSCALAR(sigmoid) { (void)n; (void)wrt; return x[2] * x[1] * (1 - x[1]); }
DSCALAR(tanh) { (void)n; (void)wrt; return x[2] * (1 - x[1] * x[1]); }
DSCALAR(gelu) {
  (void)wrt;
  double v = x[0];
  if (gelu_tanh(n)) {
    double k = sqrt(2 / M_PI), u = k * (v + 0.044715 * v * v * v), t = tanh(u);
    return x[2] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v));
  }
  return x[2] * (0.5 * (1 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI));
}
DSCALAR(softplus) { (void)n; (void)wrt; return x[2] / (1 + exp(-x[0])); }
DSCALAR(clip) {
  (void)wrt;
  double lo = ir_attr_float(n, "min", -INFINITY), hi = ir_attr_float(n, "max", INFINITY);
  return x[0] >= lo && x[0] <= hi ? x[2] : 0;
}
DSCALAR(identity) { (void)n; (void)wrt; return x[2]; }

/* ew_grad(operands...; op=NAME, wrt=K, need=MASK, forward attrs...): the
 * derivative of elementwise op NAME w.r.t. its input K, times dy, at the
 * broadcast shape. Of the full argument list (NAME's inputs, its output y,
 * dy), only those whose bit is set in `need` are operands, so values the
 * derivative never reads are not kept alive for the backward pass. Built by
 * ir_ew_grad. */
const IrOpDef *ew_grad_fwd(const IrNode *n) {
  const IrOpDef *op = ir_op_find(ir_attr_str(n, "op", ""));
  SM_ASSERT(op && op->dscalar);
  return op;
}
int64_t ew_grad_need(const IrNode *n, const IrOpDef *op) {
  return ir_attr_int(n, "need", ((int64_t)1 << (op->min_in + 2)) - 1);
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
  if (!op || !op->dscalar) return op_err(n, d, "op=\"%s\" is not an elementwise op with a derivative", ir_attr_str(n, "op", ""));
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
    .ref = ew_ref, .c = &cgk_ew_grad, .scalar = ew_grad_scalar,
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
  extern const struct CgOpKernel cgk_##nm;                                  \
  static const IrOpDef op_##nm = {                                            \
      .name = #nm, .min_in = arity, .max_in = arity, .nout = 1,               \
      .attrs = attrs_, .flags = IR_OPF_ELEMENTWISE, .infer = infer_,          \
      .ref = ew_ref, .c = &cgk_##nm,                                          \
      .scalar = nm##_scalar, .grad = ir_ew_grad,                              \
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
    .ref = ew_ref, .c = &cgk_dropout,
    .scalar = identity_scalar, .grad = ir_ew_grad,
    .dscalar = identity_dscalar, .doc = "identity at inference (ratio=0.5)",
    .caps = IR_CAP_INFER_IDENTITY, .train_form = "dropout_train", .to_train = ir_train_dropout};

const IrOpDef *const ir_ops_elementwise[] = {
    &op_add,  &op_sub,        &op_mul,     &op_div,  &op_pow,        &op_min,
    &op_max,  &op_neg,        &op_abs,     &op_exp,  &op_log,        &op_sqrt,
    &op_reciprocal, &op_relu, &op_leaky_relu, &op_elu, &op_sigmoid,  &op_tanh,
    &op_gelu, &op_softplus,   &op_clip,    &op_identity, &op_dropout,
    &op_ew_grad, NULL};
