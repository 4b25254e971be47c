/* Neural-network ops (NCHW, ONNX semantics), one file per concern:
 * conv.c (conv2d, conv1d), conv_grad.c (their backward ops), pool.c
 * (max/avg/global pooling and backward), norm.c (batchnorm, batchnorm_train
 * and backward), random.c (dropout_train, random_normal). This file holds
 * their shared helpers (nn.h) and the op table; their C kernels are in
 * codegen/kernels.
 *
 * Convolutions and pools share one sliding-window geometry (Win), decoded
 * from the attributes and validated by the shape rules; 1-D is stored as
 * 2-D with height 1. Reference kernels are naive loops in double that test
 * every tap against the input bounds. C kernels bake shapes into the loops:
 * conv accumulates whole output rows (innermost loop over output width)
 * with the valid output range for each kernel tap precomputed, pools
 * compute each window's valid kernel range once per output position. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn.h"

/* ---- sliding-window geometry ---- */


int64_t ceil_div(int64_t a, int64_t b) { /* b > 0 */
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

static const char *dim_name(const Win *w, int slot) {
  return w->nsp == 1 ? "length" : slot == 0 ? "height" : "width";
}

const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < cnt && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)v[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

/* "x is f32[2,3,8,8], w is f32[4,3,3,3]": operands 0..cnt-1 for messages */
const char *operands_str(const IrNode *n, int cnt, char *buf, size_t sz) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < cnt && i < n->nin && k < sz; i++) {
    char t[IR_TYPE_STRLEN];
    k += (size_t)snprintf(buf + k, sz - k, "%s%s is %s", i ? ", " : "",
                          n->in[i]->name, OP_TSTR(&n->in[i]->type, t));
  }
  return buf;
}

/* Report through d, or just fail when d is NULL (decoding a node the shape
 * rule already accepted). */
#define FAIL(...) (d ? op_err(n, d, __VA_ARGS__) : false)

/* Reads an ints attribute holding one value per spatial dim (a single
 * value applies to all). Returns false (reporting) on a bad count or a
 * value outside [lo, IR_MAX_NUMEL]. */
bool win_ints(const IrNode *n, const char *name, int nsp, int64_t lo,
              int64_t *dst, SmDiag *d) {
  int64_t v[8];
  char s[128];
  int cnt = ir_attr_ints(n, name, v, 8);
  if (cnt < 0) return true;
  if (cnt != 1 && cnt != nsp)
    return FAIL("%s needs %s, got %d", name, nsp == 1 ? "1 value" : "1 or 2 values", cnt);
  for (int j = 0; j < cnt; j++)
    if (v[j] < lo || v[j] > IR_MAX_NUMEL)
      return FAIL("%s must be %s, got %s", name,
                  v[j] > IR_MAX_NUMEL ? "at most 2^40" : lo > 0 ? "positive" : "non-negative",
                  ints_str(v, cnt, s, sizeof s));
  for (int j = 0; j < nsp; j++) dst[2 - nsp + j] = v[cnt == 1 ? 0 : j];
  return true;
}

/* Decodes and (when d is given) validates the window attributes of n for
 * input spatial sizes in[nsp] and kernel k[nsp]. Pools default strides to
 * the kernel and need pads smaller than the kernel. `shapes` names the
 * operands in size errors. With d NULL the node must already be valid. */
bool win_decode(const IrNode *n, int nsp, const int64_t *in,
                const int64_t *k, bool pool, Win *w, SmDiag *d,
                const char *shapes) {
  *w = (Win){.nsp = nsp, .in = {1, 1}, .k = {1, 1}, .s = {1, 1}, .d = {1, 1}};
  int off = 2 - nsp;
  for (int j = 0; j < nsp; j++) {
    w->in[off + j] = in[j];
    w->k[off + j] = k[j];
    if (pool) w->s[off + j] = k[j];
  }
  if (!win_ints(n, "strides", nsp, 1, w->s, d)) return false;
  if (!win_ints(n, "dilations", nsp, 1, w->d, d)) return false;
  int64_t p[8];
  char s[128];
  int cnt = ir_attr_ints(n, "pads", p, 8);
  if (cnt >= 0) {
    if (cnt != 1 && cnt != nsp && cnt != 2 * nsp)
      return FAIL("pads needs %s, got %d",
                  nsp == 1 ? "1 or 2 values ([begin,end])"
                           : "1, 2 or 4 values ([top,left,bottom,right])",
                  cnt);
    for (int j = 0; j < cnt; j++)
      if (p[j] < 0 || p[j] > IR_MAX_NUMEL)
        return FAIL("pads must be %s, got %s", p[j] < 0 ? "non-negative" : "at most 2^40",
                    ints_str(p, cnt, s, sizeof s));
    for (int j = 0; j < nsp; j++) {
      w->pb[off + j] = p[cnt == 1 ? 0 : j];
      w->pe[off + j] = p[cnt == 1 ? 0 : cnt == nsp ? j : nsp + j];
    }
  }
  bool ceil_mode = ir_attr_int(n, "ceil_mode", 0) != 0;
  for (int j = off; j < 2; j++) {
    const char *dn = dim_name(w, j);
    if (w->in[j] < 1) return FAIL("input %s is 0: %s", dn, shapes);
    if (w->k[j] < 1) return FAIL("kernel %s is 0: %s", dn, shapes);
    if (pool && (w->pb[j] >= w->k[j] || w->pe[j] >= w->k[j]))
      return FAIL("pads must be smaller than the kernel, got %lld and %lld for kernel %s %lld",
                  (long long)w->pb[j], (long long)w->pe[j], dn, (long long)w->k[j]);
    int64_t padded = w->in[j] + w->pb[j] + w->pe[j];
    /* dilated extent d*(k-1)+1 <= padded, without overflow */
    if (w->k[j] - 1 > (padded - 1) / w->d[j]) {
      char dil[64] = "";
      if (w->d[j] > 1) snprintf(dil, sizeof dil, " with dilation %lld", (long long)w->d[j]);
      return FAIL("kernel %s %lld%s exceeds padded input %s %lld: %s", dn, (long long)w->k[j],
                  dil, dn, (long long)padded, shapes);
    }
    int64_t span = padded - (w->d[j] * (w->k[j] - 1) + 1);
    w->out[j] = span / w->s[j] + 1;
    if (ceil_mode) {
      /* ONNX: the last window must start inside the input or left padding */
      int64_t o = ceil_div(span, w->s[j]) + 1;
      if ((o - 1) * w->s[j] >= w->in[j] + w->pb[j]) o--;
      w->out[j] = o;
    }
  }
  for (int j = 0; j < off; j++) w->out[j] = 1;
  return true;
}
#undef FAIL

/* a*b (non-negative) saturating at INT64_MAX: work estimates, messages */
int64_t sat_mul(int64_t a, int64_t b) {
  return (double)a * (double)b >= 9e18 ? INT64_MAX : a * b;
}

/* ======================================================================
 * gradients: shared pieces
 *
 * Backward ops get the forward operand shapes they no longer see as ints
 * attributes (xshape, wshape) and the forward window attributes as is.
 * Each emitter gives every thread whole planes (or channels) of its
 * result, so scatters stay race-free.
 * ====================================================================== */

#define FAIL(...) (d ? op_err(n, d, __VA_ARGS__) : false)

/* The type held by the ints attribute `key` of a gradient op: `rank`
 * values (rank -1: 3 to IR_MAX_RANK), dtype of operand 0. With d NULL the
 * node must already be valid. */
bool attr_shape(const IrNode *n, const char *key, int rank, IrType *t, SmDiag *d) {
  int64_t v[IR_MAX_RANK + 1];
  char s[256];
  int cnt = ir_attr_ints(n, key, v, IR_MAX_RANK + 1);
  if (rank >= 0 ? cnt != rank : cnt < 3 || cnt > IR_MAX_RANK) {
    if (rank >= 0) return FAIL("%s needs %d values, got %d", key, rank, cnt < 0 ? 0 : cnt);
    return FAIL("%s needs 3 to %d values ([N,C,spatial...]), got %d", key, IR_MAX_RANK,
                cnt < 0 ? 0 : cnt);
  }
  for (int i = 0; i < cnt; i++)
    if (v[i] < 0) return FAIL("%s must be non-negative, got %s", key, ints_str(v, cnt, s, sizeof s));
  *t = ir_type_make(n->in[0]->type.dtype, cnt, v);
  if (ir_type_numel(t) < 0) return FAIL("%s %s has too many elements", key, ints_str(v, cnt, s, sizeof s));
  return true;
}

/* Operand i must be `want`: what the forward op produced (dy) or took. */
bool want_type(const IrNode *n, int i, const IrType *want, const char *why, SmDiag *d) {
  if (ir_type_eq(&n->in[i]->type, want)) return true;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  return op_err(n, d, "'%s' is %s, but %s is %s", n->in[i]->name, OP_TSTR(&n->in[i]->type, a),
                why, OP_TSTR(want, b));
}

bool want_float_same(const IrNode *n, SmDiag *d) {
  for (int i = 0; i < n->nin; i++)
    if (!op_want_float(n, i, d)) return false;
  return op_same_dtype(n, d);
}

/* Sets an ints attribute holding v's dims. */
void set_shape(IrGradCtx *cx, IrNode *g, const char *key, const IrValue *v) {
  ir_set_ints(cx->g, g, key, v->type.dims, v->type.rank);
}

#undef FAIL

/* ====================================================================== */

const IrOpDef *const ir_ops_nn[] = {
    &op_conv2d, &op_conv1d, &op_maxpool2d, &op_avgpool2d, &op_global_avgpool, &op_batchnorm,
    &op_batchnorm_train, &op_dropout_train, &op_random_normal, &op_conv2d_grad_input, &op_conv2d_grad_weight,
    &op_conv1d_grad_input, &op_conv1d_grad_weight, &op_maxpool2d_grad, &op_avgpool2d_grad,
    &op_global_avgpool_grad, &op_batchnorm_grad, &op_batchnorm_train_grad, NULL};
