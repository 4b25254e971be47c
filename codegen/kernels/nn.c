/* C kernels: helpers shared by the convolution, pooling and normalization kernels; the fused-form dispatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

const char *ctype(const IrNode *n) { return ir_dtype_ctype(n->out[0]->type.dtype); }

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

/* C literal of the node's dtype: "0.5f" for f32, "0.5" for f64. */
void lit(SmBuf *b, const IrNode *n, double v) { emit_value(b, n->out[0]->type.dtype, v); }

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

void emit_zero(SmBuf *b, int ind, const char *p, int64_t cnt) {
  sm_buf_printf(b, "%*sfor (int64_t i = 0; i < %lld; i++) %s[i] = 0;\n", ind, "",
                (long long)cnt, p);
}

double conv_flops_of(const IrType *y, const IrType *w) {
  return 2 * (double)ir_type_numel(y) * (double)(ir_type_numel(w) / w->dims[0]);
}

/* ---- the kernel generators of nn ---- */

