/* C kernels of the elementwise ops: each op's scalar math as a C
 * expression (expr) and its derivative (dexpr), which the loop nests of
 * fused.c wrap (ew_emit). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

#define EXPR(name) static void name##_expr(SmBuf *b, const IrNode *n, const char *const *a)
#define DEXPR(name) static void name##_dexpr(SmBuf *b, const IrNode *n, const char *const *a, int wrt)

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
EXPR(add) { (void)n; sm_buf_printf(b, "%s + %s", a[0], a[1]); }
EXPR(sub) { (void)n; sm_buf_printf(b, "%s - %s", a[0], a[1]); }
EXPR(mul) { (void)n; sm_buf_printf(b, "%s * %s", a[0], a[1]); }
EXPR(div) { (void)n; sm_buf_printf(b, "%s / %s", a[0], a[1]); }
EXPR(pow) { sm_buf_printf(b, "%s(%s, %s)", fn(n, "pow"), a[0], a[1]); }
EXPR(min) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s, %s)", fn(n, "fmin"), a[0], a[1]);
  else
    sm_buf_printf(b, "(%s < %s ? %s : %s)", a[0], a[1], a[0], a[1]);
}
EXPR(max) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s, %s)", fn(n, "fmax"), a[0], a[1]);
  else
    sm_buf_printf(b, "(%s > %s ? %s : %s)", a[0], a[1], a[0], a[1]);
}
EXPR(neg) { (void)n; sm_buf_printf(b, "-%s", a[0]); }
EXPR(abs) {
  if (ir_dtype_is_float(n->out[0]->type.dtype))
    sm_buf_printf(b, "%s(%s)", fn(n, "fabs"), a[0]);
  else
    sm_buf_printf(b, "(%s < 0 ? -%s : %s)", a[0], a[0], a[0]);
}
EXPR(exp) { sm_buf_printf(b, "%s(%s)", fn(n, "exp"), a[0]); }
EXPR(log) { sm_buf_printf(b, "%s(%s)", fn(n, "log"), a[0]); }
EXPR(sqrt) { sm_buf_printf(b, "%s(%s)", fn(n, "sqrt"), a[0]); }
EXPR(reciprocal) { sm_buf_printf(b, "1.0%s / %s", lit_suffix(n), a[0]); }
/* a select, not fmax: GCC vectorizes it (fmaxf stays a libm call without
 * -ffast-math), and it is the reference's expression, NaN -> 0 included */
EXPR(relu) { sm_buf_printf(b, "(%s > 0 ? %s : 0.0%s)", a[0], a[0], lit_suffix(n)); }
EXPR(leaky_relu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  lit(b, n, ir_attr_float(n, "alpha", 0.01));
  sm_buf_printf(b, " * %s)", a[0]);
}
EXPR(elu) {
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[0]);
  lit(b, n, ir_attr_float(n, "alpha", 1.0));
  sm_buf_printf(b, " * %s(%s))", fn(n, "expm1"), a[0]);
}
EXPR(sigmoid) {
  const char *s = lit_suffix(n);
  sm_buf_printf(b, "1.0%s / (1.0%s + %s(-%s))", s, s, fn(n, "exp"), a[0]);
}
EXPR(tanh) { sm_buf_printf(b, "%s(%s)", fn(n, "tanh"), a[0]); }
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
EXPR(softplus) {
  /* max(x,0) + log1p(exp(-|x|)) is exact and overflow-free */
  sm_buf_printf(b, "%s(%s, 0.0%s) + %s(%s(-%s(%s)))", fn(n, "fmax"), a[0],
                lit_suffix(n), fn(n, "log1p"), fn(n, "exp"), fn(n, "fabs"), a[0]);
}
EXPR(clip) {
  sm_buf_printf(b, "%s(%s(%s, ", fn(n, "fmin"), fn(n, "fmax"), a[0]);
  lit(b, n, ir_attr_float(n, "min", -INFINITY));
  sm_buf_puts(b, "), ");
  lit(b, n, ir_attr_float(n, "max", INFINITY));
  sm_buf_puts(b, ")");
}
/* identity-like: dropout is the identity at inference */
EXPR(identity) { (void)n; sm_buf_printf(b, "%s", a[0]); }
/* unary: a[0] = x, a[1] = y, a[2] = dy */
DEXPR(add) { (void)n; (void)wrt; sm_buf_printf(b, "%s", a[3]); }
DEXPR(sub) { (void)n; sm_buf_printf(b, wrt ? "-%s" : "%s", a[3]); }
DEXPR(mul) { (void)n; sm_buf_printf(b, "%s * %s", a[3], a[1 - wrt]); }
DEXPR(div) {
  (void)n;
  if (wrt == 0) sm_buf_printf(b, "%s / %s", a[3], a[1]);
  else sm_buf_printf(b, "-%s * %s / (%s * %s)", a[3], a[0], a[1], a[1]);
}
DEXPR(pow) {
  if (wrt == 0)
    sm_buf_printf(b, "%s * %s * %s(%s, %s - 1)", a[3], a[1], fn(n, "pow"), a[0], a[1]);
  else
    sm_buf_printf(b, "%s * %s * %s(%s)", a[3], a[2], fn(n, "log"), a[0]);
}
/* ties go to the first operand */
DEXPR(min) {
  (void)n;
  sm_buf_printf(b, wrt == 0 ? "(%s <= %s ? %s : 0)" : "(%s <= %s ? 0 : %s)", a[0], a[1], a[3]);
}
DEXPR(max) {
  (void)n;
  sm_buf_printf(b, wrt == 0 ? "(%s >= %s ? %s : 0)" : "(%s >= %s ? 0 : %s)", a[0], a[1], a[3]);
}
DEXPR(neg) { (void)n; (void)wrt; sm_buf_printf(b, "-%s", a[2]); }
DEXPR(abs) {
  (void)n;
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : %s < 0 ? -%s : 0)", a[0], a[2], a[0], a[2]);
}
DEXPR(exp) { (void)n; (void)wrt; sm_buf_printf(b, "%s * %s", a[2], a[1]); }
DEXPR(log) { (void)n; (void)wrt; sm_buf_printf(b, "%s / %s", a[2], a[0]); }
DEXPR(sqrt) { (void)wrt; sm_buf_printf(b, "0.5%s * %s / %s", lit_suffix(n), a[2], a[1]); }
DEXPR(reciprocal) { (void)n; (void)wrt; sm_buf_printf(b, "-%s * %s * %s", a[2], a[1], a[1]); }
/* in terms of the output (y > 0 exactly when x > 0), so the backward pass
 * keeps only one of the two tensors alive */
DEXPR(relu) { (void)n; (void)wrt; sm_buf_printf(b, "(%s > 0 ? %s : 0)", a[1], a[2]); }
DEXPR(leaky_relu) {
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : ", a[0], a[2]);
  lit(b, n, ir_attr_float(n, "alpha", 0.01));
  sm_buf_printf(b, " * %s)", a[2]);
}
DEXPR(elu) {
  (void)wrt;
  sm_buf_printf(b, "(%s > 0 ? %s : %s * (%s + ", a[0], a[2], a[2], a[1]);
  lit(b, n, ir_attr_float(n, "alpha", 1.0));
  sm_buf_puts(b, "))");
}
DEXPR(sigmoid) {
  (void)wrt;
  sm_buf_printf(b, "%s * %s * (1.0%s - %s)", a[2], a[1], lit_suffix(n), a[1]);
}
DEXPR(tanh) {
  (void)wrt;
  sm_buf_printf(b, "%s * (1.0%s - %s * %s)", a[2], lit_suffix(n), a[1], a[1]);
}
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
DEXPR(softplus) {
  (void)wrt;
  const char *s = lit_suffix(n);
  sm_buf_printf(b, "%s / (1.0%s + %s(-%s))", a[2], s, fn(n, "exp"), a[0]);
}
DEXPR(clip) {
  (void)wrt;
  sm_buf_printf(b, "(%s >= ", a[0]);
  lit(b, n, ir_attr_float(n, "min", -INFINITY));
  sm_buf_printf(b, " && %s <= ", a[0]);
  lit(b, n, ir_attr_float(n, "max", INFINITY));
  sm_buf_printf(b, " ? %s : 0)", a[2]);
}
DEXPR(identity) { (void)n; (void)wrt; sm_buf_printf(b, "%s", a[2]); }
static void ew_grad_expr(SmBuf *b, const IrNode *n, const char *const *a) {
  const IrOpDef *op = ew_grad_fwd(n);
  int64_t need = ew_grad_need(n, op);
  const char *full[8];
  for (int i = 0, k = 0; i < op->min_in + 2; i++) full[i] = need >> i & 1 ? a[k++] : "0";
  op->c->dexpr(b, n, full, (int)ir_attr_int(n, "wrt", 0));
}

/* ---- the kernel generators ---- */

#define EWK(nm) const CgOpKernel cgk_##nm = {.emit = ew_emit, .expr = nm##_expr, .dexpr = nm##_dexpr}
EWK(add);
EWK(sub);
EWK(mul);
EWK(div);
EWK(pow);
EWK(min);
EWK(max);
EWK(neg);
EWK(abs);
EWK(exp);
EWK(log);
EWK(sqrt);
EWK(reciprocal);
EWK(relu);
EWK(leaky_relu);
EWK(elu);
EWK(sigmoid);
EWK(tanh);
EWK(gelu);
EWK(softplus);
EWK(clip);
EWK(identity);
const CgOpKernel cgk_dropout = {.emit = ew_emit, .expr = identity_expr, .dexpr = identity_dexpr};
const CgOpKernel cgk_ew_grad = {.emit = ew_emit, .expr = ew_grad_expr};
