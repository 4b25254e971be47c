/* Helpers shared by op definitions: diagnostics, the generic broadcasting
 * elementwise shape rule and reference loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

bool op_err(const IrNode *n, SmDiag *d, const char *fmt, ...) {
  SmBuf b = {0};
  sm_buf_printf(&b, "%s: ", n->op->name);
  va_list ap;
  va_start(ap, fmt);
  sm_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  sm_error(d, n->loc, "%s", sm_buf_str(&b));
  sm_buf_free(&b);
  return false;
}

bool op_want_rank(const IrNode *n, int i, int rank, SmDiag *d) {
  const IrType *t = &n->in[i]->type;
  if (rank >= 0 && t->rank != rank) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "expects %d-D input %d ('%s'), got %s", rank, i,
                  n->in[i]->name, OP_TSTR(t, s));
  }
  return true;
}

bool op_want_float(const IrNode *n, int i, SmDiag *d) {
  const IrType *t = &n->in[i]->type;
  if (!ir_dtype_is_float(t->dtype)) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "expects a float input %d ('%s'), got %s", i,
                  n->in[i]->name, OP_TSTR(t, s));
  }
  return true;
}

bool op_want_eps(const IrNode *n, SmDiag *d) {
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  if (!(eps >= 0 && isfinite(eps)))
    return op_err(n, d, "epsilon must be finite and non-negative, got %g", eps);
  return true;
}

bool op_same_dtype(const IrNode *n, SmDiag *d) {
  for (int i = 1; i < n->nin; i++)
    if (n->in[i]->type.dtype != n->in[0]->type.dtype)
      return op_err(n, d, "operand dtypes differ: '%s' is %s, '%s' is %s",
                    n->in[0]->name, ir_dtype_name(n->in[0]->type.dtype),
                    n->in[i]->name, ir_dtype_name(n->in[i]->type.dtype));
  return true;
}

bool ew_infer(const IrNode *n, IrType *out, SmDiag *d) {
  return op_same_dtype(n, d) && ew_broadcast(n, out, d);
}

bool ew_broadcast(const IrNode *n, IrType *out, SmDiag *d) {
  IrType t = n->in[0]->type;
  for (int i = 1; i < n->nin; i++) {
    IrType r;
    if (!ir_broadcast(&t, &n->in[i]->type, &r)) {
      char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
      return op_err(n, d, "shapes %s and %s do not broadcast",
                    OP_TSTR(&t, a), OP_TSTR(&n->in[i]->type, b));
    }
    t = r;
  }
  out[0] = t;
  return true;
}

void ref_unravel(const IrType *t, int64_t flat, int64_t *idx) {
  for (int i = t->rank - 1; i >= 0; i--) {
    idx[i] = flat % t->dims[i];
    flat /= t->dims[i];
  }
}

int64_t ref_bcast_offset(const IrType *t, const int64_t *idx, int rank) {
  int64_t off = 0;
  for (int i = 0; i < t->rank; i++) {
    int64_t j = idx[rank - t->rank + i];
    off = off * t->dims[i] + (t->dims[i] == 1 ? 0 : j);
  }
  return off;
}

void ew_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t idx[IR_MAX_RANK];
  double args[4];
  SM_ASSERT(n->nin <= 4);
  for (int64_t i = 0; i < out[0].numel; i++) {
    ref_unravel(&out[0].type, i, idx);
    for (int k = 0; k < n->nin; k++)
      args[k] = in[k].d[ref_bcast_offset(&in[k].type, idx, out[0].type.rank)];
    out[0].d[i] = n->op->scalar(n, args);
  }
}

bool ir_view_alias(const IrNode *n, bool result_is_output) {
  return (n->op->flags & IR_OPF_VIEW) && n->nout == 1 && !n->anchor &&
         n->in[0]->kind != IR_VAL_PARAM && !result_is_output;
}
