/* C kernels: optimizer updates and gradient clipping. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/optim.h"

static void lit(SmBuf *b, double v) { emit_value(b, IR_F64, v); }

/* names of the constants: "<pfx>lr", ... */
#define PN(buf, name) (snprintf(buf, sizeof buf, "%s%s", pfx, name), buf)

void opt_emit_prelude(SmBuf *b, int ind, const IrNode *n, const char *pfx,
                      const char *const *opnd) {
  const OptDef *o = opt_def(n);
  OptHp h = opt_hp(n);
  int ilr = in_lr(n);
  bool decoupled = o->kind == OPT_ADAM && h.decoupled;
  char v[64];
  sm_buf_printf(b, "%*sconst double %s = (double)%s", ind, "", PN(v, "lr"), opnd[ilr]);
  if (h.lr_mult != 1) {
    sm_buf_puts(b, " * ");
    lit(b, h.lr_mult);
  }
  sm_buf_printf(b, ";\n%*s(void)%s;\n", ind, "", v);
  if (o->kind == OPT_MOMENTUM && has_step(n))
    sm_buf_printf(b, "%*sconst int %s = %s <= 1;\n%*s(void)%s;\n", ind, "", PN(v, "first"),
                  opnd[ilr + 1], ind, "", v);
  if (o->kind == OPT_ADAM) {
    char lr[64];
    PN(lr, "lr");
    sm_buf_printf(b, "%*sconst double %s = (double)%s;\n", ind, "", PN(v, "t"), opnd[ilr + 1]);
    sm_buf_printf(b, "%*sconst double %sstep_size = %s / (1.0 - pow(", ind, "", pfx, lr);
    lit(b, h.beta1);
    sm_buf_printf(b, ", %s));\n%*sconst double %sbc2_sqrt = sqrt(1.0 - pow(", v, ind, "", pfx);
    lit(b, h.beta2);
    sm_buf_printf(b, ", %s));\n", v);
    sm_buf_printf(b, "%*s(void)%sstep_size;\n%*s(void)%sbc2_sqrt;\n", ind, "", pfx, ind, "", pfx);
    if (decoupled && h.wd != 0) {
      sm_buf_printf(b, "%*sconst double %sdecay = 1.0 - %s * ", ind, "", pfx, lr);
      lit(b, h.wd);
      sm_buf_printf(b, ";\n%*s(void)%sdecay;\n", ind, "", pfx);
    }
  }
}

void opt_emit_elem(SmBuf *b, int ind, const IrNode *n, const char *pfx, const char *const *opnd,
                   const char *const *dst) {
  const OptDef *o = opt_def(n);
  OptHp h = opt_hp(n);
  const char *T = ir_dtype_ctype(n->out[0]->type.dtype);
  int ig = in_g(n);
  bool decoupled = o->kind == OPT_ADAM && h.decoupled;
  const char *sp = "";
  sm_buf_printf(b, "%*s{\n", ind, sp);
  ind += 2;
  sm_buf_printf(b, "%*sconst double w = %s;\n", ind, sp, opnd[0]);
  for (int s = 1; s <= o->nstate; s++)
    sm_buf_printf(b, "%*sconst double s%d = %s;\n", ind, sp, s, opnd[s]);
  sm_buf_printf(b, "%*sdouble g = %s;\n", ind, sp, opnd[ig]);
  if (h.l1 != 0) {
    sm_buf_printf(b, "%*sg += ", ind, sp);
    lit(b, h.l1);
    sm_buf_puts(b, " * (double)((w > 0) - (w < 0));\n");
  }
  if (h.wd != 0 && !decoupled) {
    sm_buf_printf(b, "%*sg += ", ind, sp);
    lit(b, h.wd);
    sm_buf_puts(b, " * w;\n");
  }
  switch (o->kind) {
  case OPT_SGD:
    sm_buf_printf(b, "%*s%s = (%s)(w - %slr * g);\n", ind, sp, dst[0], T, pfx);
    break;
  case OPT_MOMENTUM:
    sm_buf_printf(b, "%*sconst double buf = ", ind, sp);
    if (has_step(n)) sm_buf_printf(b, "%sfirst ? g : ", pfx);
    lit(b, h.momentum);
    sm_buf_puts(b, " * s1 + ");
    lit(b, 1 - h.dampening);
    sm_buf_puts(b, " * g;\n");
    if (h.nesterov) {
      sm_buf_printf(b, "%*sconst double d = g + ", ind, sp);
      lit(b, h.momentum);
      sm_buf_puts(b, " * buf;\n");
    }
    sm_buf_printf(b, "%*s%s = (%s)(w - %slr * %s);\n", ind, sp, dst[0], T, pfx,
                  h.nesterov ? "d" : "buf");
    sm_buf_printf(b, "%*s%s = (%s)buf;\n", ind, sp, dst[1], T);
    break;
  case OPT_ADAM:
    sm_buf_printf(b, "%*sconst double m = ", ind, sp);
    lit(b, h.beta1);
    sm_buf_puts(b, " * s1 + ");
    lit(b, 1 - h.beta1);
    sm_buf_printf(b, " * g;\n%*sconst double v = ", ind, sp);
    lit(b, h.beta2);
    sm_buf_puts(b, " * s2 + ");
    lit(b, 1 - h.beta2);
    sm_buf_puts(b, " * g * g;\n");
    sm_buf_printf(b, "%*s%s = (%s)(", ind, sp, dst[0], T);
    if (decoupled && h.wd != 0) sm_buf_printf(b, "w * %sdecay", pfx);
    else sm_buf_puts(b, "w");
    sm_buf_printf(b, " - %sstep_size * m / (sqrt(v) / %sbc2_sqrt + ", pfx, pfx);
    lit(b, h.eps);
    sm_buf_puts(b, "));\n");
    sm_buf_printf(b, "%*s%s = (%s)m;\n%*s%s = (%s)v;\n", ind, sp, dst[1], T, ind, sp, dst[2], T);
    break;
  case OPT_RMSPROP:
    sm_buf_printf(b, "%*sconst double sq = ", ind, sp);
    lit(b, h.alpha);
    sm_buf_puts(b, " * s1 + ");
    lit(b, 1 - h.alpha);
    sm_buf_puts(b, " * g * g;\n");
    sm_buf_printf(b, "%*s%s = (%s)(w - %slr * g / (sqrt(sq) + ", ind, sp, dst[0], T, pfx);
    lit(b, h.eps);
    sm_buf_printf(b, "));\n%*s%s = (%s)sq;\n", ind, sp, dst[1], T);
    break;
  case OPT_ADAGRAD:
    sm_buf_printf(b, "%*sconst double sum = s1 + g * g;\n", ind, sp);
    sm_buf_printf(b, "%*s%s = (%s)(w - %slr * g / (sqrt(sum", ind, sp, dst[0], T, pfx);
    if (h.init_acc != 0) {
      sm_buf_puts(b, " + ");
      lit(b, h.init_acc);
    }
    sm_buf_puts(b, ") + ");
    lit(b, h.eps);
    sm_buf_printf(b, "));\n%*s%s = (%s)sum;\n", ind, sp, dst[1], T);
    break;
  }
  sm_buf_printf(b, "%*s}\n", ind - 2, sp);
}

void opt_emit_loop(SmBuf *b, const IrNode *n, const char *pfx, const int *in_idx,
                   const int *out_idx) {
  int64_t numel = ir_numel(&n->out[0]->type);
  char ob[8][32], db[3][32];
  const char *opnd[8], *dst[3];
  SM_ASSERT(n->nin <= 8 && n->nout <= 3);
  for (int i = 0; i < n->nin; i++) {
    bool scalar = i >= in_lr(n);
    snprintf(ob[i], sizeof ob[i], "in%d[%s]", in_idx[i], scalar ? "0" : "i");
    opnd[i] = ob[i];
  }
  for (int o = 0; o < n->nout; o++) {
    snprintf(db[o], sizeof db[o], "out%d[i]", out_idx[o]);
    dst[o] = db[o];
  }
  sm_buf_printf(b, "  /* %s: %lld elements, in place */\n", opt_def(n)->name, (long long)numel);
  opt_emit_prelude(b, 2, n, pfx, opnd);
  if (numel == 0) {
    for (int o = 0; o < n->nout; o++) sm_buf_printf(b, "  (void)out%d;\n", out_idx[o]);
    for (int i = 0; i <= in_g(n); i++) sm_buf_printf(b, "  (void)in%d;\n", in_idx[i]);
    return;
  }
  emit_omp_for(b, numel, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n", (long long)numel);
  opt_emit_elem(b, 4, n, pfx, opnd, dst);
}

static void opt_emit(SmBuf *b, const IrNode *n) {
  static const int ids[] = {0, 1, 2, 3, 4, 5, 6, 7};
  opt_emit_loop(b, n, "", ids, ids);
}

static void clip_emit(SmBuf *b, const IrNode *n) {
  sm_buf_puts(b, "  const double c = ");
  lit(b, ir_attr_float(n, "max_norm", 0));
  sm_buf_printf(b, " / (sqrt((double)in0[0]) + 1e-6);\n  out0[0] = (%s)(c < 1.0 ? c : 1.0);\n",
                ir_dtype_ctype(n->out[0]->type.dtype));
}

/* ---- the kernel generators of optim ---- */

const CgOpKernel cgk_opt_update = {.emit = opt_emit};
const CgOpKernel cgk_grad_clip_scale = {.emit = clip_emit};
