/* Neural-network ops (NCHW, ONNX semantics), one file per concern:
 * conv.c (conv2d, conv1d), conv_grad.c (their backward ops), pool.c
 * (max/avg/global pooling and backward), norm.c (batchnorm, batchnorm_train
 * and backward), random.c (dropout_train, random_normal). This file holds
 * their shared helpers (nn.h), the op table and the fused-kernel dispatch.
 *
 * Convolutions and pools share one sliding-window geometry (Win), decoded
 * from the attributes and validated by the shape rules; 1-D is stored as
 * 2-D with height 1. Reference kernels are naive loops in double that test
 * every tap against the input bounds. Emitters bake shapes into the loops:
 * conv accumulates whole output rows (innermost loop over output width)
 * with the valid output range for each kernel tap precomputed, pools
 * compute each window's valid kernel range once per output position. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_emit.h"
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

/* ---- emission helpers ---- */

const char *ctype(const IrNode *n) { return ir_dtype_ctype(n->out[0]->type.dtype); }

/* C literal of the node's dtype: "0.5f" for f32, "0.5" for f64. */
void lit(SmBuf *b, const IrNode *n, double v) {
  if (n->out[0]->type.dtype == IR_F32 || isinf(v)) {
    emit_float(b, v);
    return;
  }
  char s[64];
  snprintf(s, sizeof s, "%.17g", v);
  bool plain = strpbrk(s, ".eEn") == NULL;
  sm_buf_printf(b, "%s%s%s%s", v < 0 ? "(" : "", s, plain ? ".0" : "", v < 0 ? ")" : "");
}

/* Affine index "a*x + c*y + k" with zero terms dropped; writes into buf. */
const char *affine(char *buf, size_t n, int64_t a, const char *x, int64_t c,
                   const char *y, int64_t k) {
  size_t len = 0;
  buf[0] = 0;
  const char *vars[2] = {x, y};
  int64_t coef[2] = {a, c};
  for (int i = 0; i < 2; i++) {
    if (coef[i] == 0) continue;
    const char *sep = len ? " + " : "";
    if (coef[i] == 1)
      len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, vars[i]);
    else
      len += (size_t)snprintf(buf + len, n - len, "%s%lld * %s", sep, (long long)coef[i], vars[i]);
  }
  if (k != 0 || len == 0)
    snprintf(buf + len, n - len, "%s%lld", len ? (k < 0 ? " - " : " + ") : "",
             (long long)(len && k < 0 ? -k : k));
  return buf;
}

/* Empty results: reference every parameter so the body compiles
 * warning-free, and do nothing. */
bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
  return true;
}

/* One comment line with the window attributes as written (1-D shows only
 * its length dim; dilations only when used); `lead` starts it. */
void attrs_comment(SmBuf *b, const char *lead, const Win *w) {
  int off = 2 - w->nsp;
  char s[128], p[128], d[128];
  int64_t pads[4];
  for (int j = 0; j < w->nsp; j++) {
    pads[j] = w->pb[off + j];
    pads[w->nsp + j] = w->pe[off + j];
  }
  sm_buf_printf(b, "  /* %sstrides %s, pads %s", lead, ints_str(w->s + off, w->nsp, s, sizeof s),
                ints_str(pads, 2 * w->nsp, p, sizeof p));
  if (w->d[0] != 1 || w->d[1] != 1)
    sm_buf_printf(b, ", dilations %s", ints_str(w->d + off, w->nsp, d, sizeof d));
  sm_buf_puts(b, " */\n");
}

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

void emit_zero(SmBuf *b, int ind, const char *p, int64_t cnt) {
  sm_buf_printf(b, "%*sfor (int64_t i = 0; i < %lld; i++) %s[i] = 0;\n", ind, "",
                (long long)cnt, p);
}

#undef FAIL

/* ====================================================================== */

const IrOpDef *const ir_ops_nn[] = {
    &op_conv2d, &op_conv1d, &op_maxpool2d, &op_avgpool2d, &op_global_avgpool, &op_batchnorm,
    &op_batchnorm_train, &op_dropout_train, &op_random_normal, &op_conv2d_grad_input, &op_conv2d_grad_weight,
    &op_conv1d_grad_input, &op_conv1d_grad_weight, &op_maxpool2d_grad, &op_avgpool2d_grad,
    &op_global_avgpool_grad, &op_batchnorm_grad, &op_batchnorm_train_grad, NULL};

bool nn_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  Corr corr;
  if (!strcmp(n->op->name, "conv2d") || !strcmp(n->op->name, "conv1d")) {
    Win g;
    conv_win(n, &g);
    if (conv_fwd_corr(n, &g, &corr)) {
      emit_corr(b, &corr, e);
      return true;
    }
    return conv_emit_gemm(b, n, &g, e);
  }
  if (strstr(n->op->name, "_grad_input")) {
    if (conv_gi_gemm(b, n, e)) return true;
    ConvSz z = conv_sz(n);
    if (n->out[0]->type.dtype != IR_F32 || z.g.nsp != 2 || !conv_corr(&z, true, false, &corr))
      return false;
    emit_corr(b, &corr, e);
    return true;
  }
  if (strstr(n->op->name, "_grad_weight")) return conv_gw_gemm(b, n, e);
  if (!strcmp(n->op->name, "maxpool2d_grad")) {
    Win g;
    pool_grad_win(n, &g);
    return g.nsp == 2 && maxpool_grad_2x2(b, n, &g, e);
  }
  return false;
}
