/* C kernels: argmax/argmin (the logic ops' expressions are in elementwise.c). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/logic.h"

#define EXPR(name) static void name##_expr(SmBuf *b, const IrNode *n, const char *const *a)

EXPR(equal) { (void)n; sm_buf_printf(b, "(%s == %s)", a[0], a[1]); }
EXPR(less) { (void)n; sm_buf_printf(b, "(%s < %s)", a[0], a[1]); }
EXPR(greater) { (void)n; sm_buf_printf(b, "(%s > %s)", a[0], a[1]); }
EXPR(less_equal) { (void)n; sm_buf_printf(b, "(%s <= %s)", a[0], a[1]); }
EXPR(greater_equal) { (void)n; sm_buf_printf(b, "(%s >= %s)", a[0], a[1]); }
EXPR(not) { (void)n; sm_buf_printf(b, "(%s == 0)", a[0]); }
EXPR(and) { (void)n; sm_buf_printf(b, "(%s != 0 && %s != 0)", a[0], a[1]); }
EXPR(or) { (void)n; sm_buf_printf(b, "(%s != 0 || %s != 0)", a[0], a[1]); }
EXPR(xor) { (void)n; sm_buf_printf(b, "((%s != 0) != (%s != 0))", a[0], a[1]); }
EXPR(where) { (void)n; sm_buf_printf(b, "(%s != 0 ? %s : %s)", a[0], a[1], a[2]); }
EXPR(cast) {
  IrDType t = n->out[0]->type.dtype;
  if (t == IR_BOOL) sm_buf_printf(b, "(%s != 0)", a[0]);
  else if (n->in[0]->type.dtype == IR_BOOL) sm_buf_printf(b, "(%s)(%s != 0)", ir_dtype_ctype(t), a[0]);
  else sm_buf_printf(b, "(%s)%s", ir_dtype_ctype(t), a[0]);
}

/* dy routed to the selected side; args = cond, x, y, out, dy */
static void where_dexpr(SmBuf *b, const IrNode *n, const char *const *a, int wrt) {
  (void)n;
  if (wrt == 0) sm_buf_puts(b, "0");
  else sm_buf_printf(b, wrt == 1 ? "(%s != 0 ? %s : 0)" : "(%s != 0 ? 0 : %s)", a[0], a[4]);
}

static void arg_emit(SmBuf *b, const IrNode *n) {
  int64_t outer, dim, inner;
  arg_geo(n, &outer, &dim, &inner);
  if (outer * inner == 0) {
    sm_buf_puts(b, "  (void)in0;\n  (void)out0;\n");
    return;
  }
  const char *ct = ir_dtype_ctype(n->in[0]->type.dtype);
  const char *cmp = argmax_kind(n) ? ">" : "<";
  bool last = ir_attr_int(n, "select_last_index", 0) != 0;
  emit_omp_for(b, outer * inner * dim, NULL);
  sm_buf_printf(b, "  for (int64_t j = 0; j < %lld; j++) {\n", (long long)(outer * inner));
  if (inner == 1)
    sm_buf_printf(b, "    const %s *p = in0 + j * %lld;\n", ct, (long long)dim);
  else
    sm_buf_printf(b, "    const %s *p = in0 + j / %lld * %lld + j %% %lld;\n", ct, (long long)inner,
                  (long long)(dim * inner), (long long)inner);
  sm_buf_printf(b, "    %s best = p[0];\n    int64_t at = 0;\n", ct);
  sm_buf_printf(b, "    for (int64_t k = 1; k < %lld; k++) {\n", (long long)dim);
  sm_buf_printf(b, "      const %s v = p[k * %lld];\n", ct, (long long)inner);
  sm_buf_printf(b, "      if (v %s%s best) {\n        best = v;\n        at = k;\n      }\n", cmp,
                last ? "=" : "");
  sm_buf_puts(b, "    }\n    out0[j] = at;\n  }\n");
}
/* ---- the kernel generators of logic ---- */

const CgOpKernel cgk_equal = {.emit = ew_emit, .expr = equal_expr};
const CgOpKernel cgk_less = {.emit = ew_emit, .expr = less_expr};
const CgOpKernel cgk_greater = {.emit = ew_emit, .expr = greater_expr};
const CgOpKernel cgk_less_equal = {.emit = ew_emit, .expr = less_equal_expr};
const CgOpKernel cgk_greater_equal = {.emit = ew_emit, .expr = greater_equal_expr};
const CgOpKernel cgk_not = {.emit = ew_emit, .expr = not_expr};
const CgOpKernel cgk_and = {.emit = ew_emit, .expr = and_expr};
const CgOpKernel cgk_or = {.emit = ew_emit, .expr = or_expr};
const CgOpKernel cgk_xor = {.emit = ew_emit, .expr = xor_expr};
const CgOpKernel cgk_where = {.emit = ew_emit, .expr = where_expr, .dexpr = where_dexpr};
const CgOpKernel cgk_cast = {.emit = ew_emit, .expr = cast_expr};
const CgOpKernel cgk_argmax = {.emit = arg_emit};
const CgOpKernel cgk_argmin = {.emit = arg_emit};
