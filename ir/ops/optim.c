/* Optimizer updates (torch.optim semantics) and the gradient-clipping scale.
 *
 * One fused update per parameter: inputs (w, state..., g, lr [, step]),
 * outputs (w', state'...), output k overwriting input k in place. The
 * emitted loop reads every input element into locals before it stores the
 * outputs, so it is correct when out k and in k are the same pointer.
 * Element math runs in double; results are rounded once on store.
 *
 * Common attributes: lr_mult (scales lr), weight_decay (L2: g += wd*w, or
 * for adam with decoupled=1 the AdamW decay w -= lr*wd*w), l1
 * (g += l1*sign(w)). Gradient terms use w before any decay. `step` is the
 * 1-based number of the update being made. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../training.h"
#include "ops.h"

typedef enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD } OptKind;

typedef struct OptDef {
  const char *name;
  OptKind kind;
  int nstate;
} OptDef;

static const OptDef opt_defs[] = {
    {"sgd_update", OPT_SGD, 0},
    {"momentum_update", OPT_MOMENTUM, 1},
    {"adam_update", OPT_ADAM, 2},
    {"rmsprop_update", OPT_RMSPROP, 1},
    {"adagrad_update", OPT_ADAGRAD, 1},
};
_Static_assert(SM_COUNT(opt_defs) == OPT_ADAGRAD + 1, "one opt_defs row per OptKind");

static const OptDef *opt_def(const IrNode *n) {
  for (int i = 0; i < SM_COUNT(opt_defs); i++)
    if (strcmp(n->op->name, opt_defs[i].name) == 0) return &opt_defs[i];
  SM_ASSERT(!"not an optimizer update");
  return NULL;
}

/* operand positions */
static int in_g(const IrNode *n) { return 1 + opt_def(n)->nstate; }
static int in_lr(const IrNode *n) { return 2 + opt_def(n)->nstate; }
static bool has_step(const IrNode *n) { return n->nin > in_lr(n) + 1; }

/* Attribute values, defaults applied. */
typedef struct OptHp {
  double wd, l1, lr_mult;
  double momentum, dampening;
  int64_t nesterov;
  double beta1, beta2, eps;
  int64_t decoupled;
  double alpha, init_acc;
} OptHp;

static OptHp opt_hp(const IrNode *n) {
  OptKind k = opt_def(n)->kind;
  double eps_dflt = k == OPT_ADAGRAD ? IR_OPT_EPS_ADAGRAD : IR_OPT_EPS;
  return (OptHp){
      .wd = ir_attr_float(n, "weight_decay", 0),
      .l1 = ir_attr_float(n, "l1", 0),
      .lr_mult = ir_attr_float(n, "lr_mult", 1),
      .momentum = ir_attr_float(n, "momentum", IR_OPT_MOMENTUM),
      .dampening = ir_attr_float(n, "dampening", 0),
      .nesterov = ir_attr_int(n, "nesterov", 0),
      .beta1 = ir_attr_float(n, "beta1", IR_OPT_BETA1),
      .beta2 = ir_attr_float(n, "beta2", IR_OPT_BETA2),
      .eps = ir_attr_float(n, "eps", eps_dflt),
      .decoupled = ir_attr_int(n, "decoupled", 0),
      .alpha = ir_attr_float(n, "alpha", IR_OPT_ALPHA),
      .init_acc = ir_attr_float(n, "initial_accumulator", 0),
  };
}

static bool check_hp(const IrNode *n, SmDiag *d) {
  OptHp h = opt_hp(n);
  OptKind k = opt_def(n)->kind;
  if (!(h.wd >= 0)) return op_err(n, d, "weight_decay must be >= 0, got %g", h.wd);
  if (!(h.l1 >= 0)) return op_err(n, d, "l1 must be >= 0, got %g", h.l1);
  if (!isfinite(h.lr_mult)) return op_err(n, d, "lr_mult must be finite, got %g", h.lr_mult);
  if (!(h.eps >= 0)) return op_err(n, d, "eps must be >= 0, got %g", h.eps);
  switch (k) {
  case OPT_MOMENTUM:
    if (!(h.momentum >= 0)) return op_err(n, d, "momentum must be >= 0, got %g", h.momentum);
    if (h.nesterov != 0 && h.nesterov != 1)
      return op_err(n, d, "nesterov must be 0 or 1, got %lld", (long long)h.nesterov);
    if (h.nesterov && (h.momentum <= 0 || h.dampening != 0))
      return op_err(n, d, "nesterov needs momentum > 0 and dampening = 0, got momentum %g, "
                    "dampening %g", h.momentum, h.dampening);
    break;
  case OPT_ADAM:
    if (!(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1))
      return op_err(n, d, "beta1 and beta2 must be in [0, 1), got %g and %g", h.beta1, h.beta2);
    if (h.decoupled != 0 && h.decoupled != 1)
      return op_err(n, d, "decoupled must be 0 or 1, got %lld", (long long)h.decoupled);
    break;
  case OPT_RMSPROP:
    if (!(h.alpha >= 0 && h.alpha <= 1))
      return op_err(n, d, "alpha must be in [0, 1], got %g", h.alpha);
    break;
  case OPT_ADAGRAD:
    if (!(h.init_acc >= 0))
      return op_err(n, d, "initial_accumulator must be >= 0, got %g", h.init_acc);
    break;
  case OPT_SGD: break;
  }
  return true;
}

static bool opt_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const OptDef *o = opt_def(n);
  const IrType *w = &n->in[0]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  if (!ir_dtype_is_float(w->dtype))
    return op_err(n, d, "parameter '%s' must be float, got %s", n->in[0]->name, OP_TSTR(w, a));
  for (int i = 1; i <= in_g(n); i++)
    if (!ir_type_eq(&n->in[i]->type, w))
      return op_err(n, d, "%s '%s' must match the parameter %s, got %s",
                    i == in_g(n) ? "gradient" : "state", n->in[i]->name, OP_TSTR(w, a),
                    OP_TSTR(&n->in[i]->type, b));
  const IrType *lr = &n->in[in_lr(n)]->type;
  if (!ir_dtype_is_float(lr->dtype) || lr->rank != 0)
    return op_err(n, d, "learning rate '%s' must be a float scalar, got %s",
                  n->in[in_lr(n)]->name, OP_TSTR(lr, a));
  if (has_step(n)) {
    const IrType *st = &n->in[in_lr(n) + 1]->type;
    if ((st->dtype != IR_I64 && st->dtype != IR_I32) || st->rank != 0)
      return op_err(n, d, "step '%s' must be an i64 scalar, got %s", n->in[in_lr(n) + 1]->name,
                    OP_TSTR(st, a));
  }
  if (!check_hp(n, d)) return false;
  for (int i = 0; i <= o->nstate; i++) out[i] = *w;
  return true;
}

static double sgn(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

static void opt_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  OptKind k = opt_def(n)->kind;
  OptHp h = opt_hp(n);
  const double *g = in[in_g(n)].d;
  double lr = in[in_lr(n)].d[0] * h.lr_mult;
  double t = has_step(n) ? in[in_lr(n) + 1].d[0] : 0;
  for (int64_t i = 0; i < out[0].numel; i++) {
    double w = in[0].d[i];
    double gi = g[i] + h.l1 * sgn(w);
    if (!(k == OPT_ADAM && h.decoupled)) gi += h.wd * w;
    switch (k) {
    case OPT_SGD: out[0].d[i] = w - lr * gi; break;
    case OPT_MOMENTUM: {
      double buf = has_step(n) && t <= 1
                       ? gi
                       : h.momentum * in[1].d[i] + (1 - h.dampening) * gi;
      double step = h.nesterov ? gi + h.momentum * buf : buf;
      out[0].d[i] = w - lr * step;
      out[1].d[i] = buf;
      break;
    }
    case OPT_ADAM: {
      if (h.decoupled) w *= 1 - lr * h.wd;
      double m = h.beta1 * in[1].d[i] + (1 - h.beta1) * gi;
      double v = h.beta2 * in[2].d[i] + (1 - h.beta2) * gi * gi;
      double mhat = m / (1 - pow(h.beta1, t)), vhat = v / (1 - pow(h.beta2, t));
      out[0].d[i] = w - lr * mhat / (sqrt(vhat) + h.eps);
      out[1].d[i] = m;
      out[2].d[i] = v;
      break;
    }
    case OPT_RMSPROP: {
      double sq = h.alpha * in[1].d[i] + (1 - h.alpha) * gi * gi;
      out[0].d[i] = w - lr * gi / (sqrt(sq) + h.eps);
      out[1].d[i] = sq;
      break;
    }
    case OPT_ADAGRAD: {
      double s = in[1].d[i] + gi * gi;
      out[0].d[i] = w - lr * gi / (sqrt(s + h.init_acc) + h.eps);
      out[1].d[i] = s;
      break;
    }
    }
  }
}

static void lit(SmBuf *b, double v) { emit_value(b, IR_F64, v); }

/* ---- emission: the per-update constants and the per-element math, shared
 * by the update's own kernel and the fused forms (gemm_emit.h) ---- */

bool opt_is_update(const IrNode *n) {
  for (int i = 0; i < SM_COUNT(opt_defs); i++)
    if (!strcmp(n->op->name, opt_defs[i].name)) return true;
  return false;
}

int opt_grad_operand(const IrNode *n) { return in_g(n); }

int opt_state_count(const IrNode *n) { return opt_def(n)->nstate; }

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

/* ---- grad_clip_scale(sumsq f32[]; max_norm) ---- */

static bool clip_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *s = &n->in[0]->type;
  char a[IR_TYPE_STRLEN];
  if (!ir_dtype_is_float(s->dtype) || s->rank != 0)
    return op_err(n, d, "expects the float scalar sum of squared gradients, got %s",
                  OP_TSTR(s, a));
  double mx = ir_attr_float(n, "max_norm", 0);
  if (!(mx > 0)) return op_err(n, d, "max_norm must be > 0, got %g", mx);
  out[0] = *s;
  return true;
}

static void clip_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  double c = ir_attr_float(n, "max_norm", 0) / (sqrt(in[0].d[0]) + 1e-6);
  out[0].d[0] = c < 1 ? c : 1;
}

static void clip_emit(SmBuf *b, const IrNode *n) {
  sm_buf_puts(b, "  const double c = ");
  lit(b, ir_attr_float(n, "max_norm", 0));
  sm_buf_printf(b, " / (sqrt((double)in0[0]) + 1e-6);\n  out0[0] = (%s)(c < 1.0 ? c : 1.0);\n",
                ir_dtype_ctype(n->out[0]->type.dtype));
}

/* ---- registry entries ---- */

#define COMMON_ATTRS                                                                   \
  {"weight_decay", IR_ATTR_FLOAT, false}, {"l1", IR_ATTR_FLOAT, false},                \
      {"lr_mult", IR_ATTR_FLOAT, false}
static const IrAttrSpec sgd_attrs[] = {COMMON_ATTRS, {NULL, 0, false}};
static const IrAttrSpec momentum_attrs[] = {COMMON_ATTRS,
                                            {"momentum", IR_ATTR_FLOAT, false},
                                            {"dampening", IR_ATTR_FLOAT, false},
                                            {"nesterov", IR_ATTR_INT, false},
                                            {NULL, 0, false}};
static const IrAttrSpec adam_attrs[] = {COMMON_ATTRS,
                                        {"beta1", IR_ATTR_FLOAT, false},
                                        {"beta2", IR_ATTR_FLOAT, false},
                                        {"eps", IR_ATTR_FLOAT, false},
                                        {"decoupled", IR_ATTR_INT, false},
                                        {NULL, 0, false}};
static const IrAttrSpec rmsprop_attrs[] = {
    COMMON_ATTRS, {"alpha", IR_ATTR_FLOAT, false}, {"eps", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec adagrad_attrs[] = {COMMON_ATTRS,
                                           {"eps", IR_ATTR_FLOAT, false},
                                           {"initial_accumulator", IR_ATTR_FLOAT, false},
                                           {NULL, 0, false}};
static const IrAttrSpec clip_attrs[] = {{"max_norm", IR_ATTR_FLOAT, true}, {NULL, 0, false}};

static const int8_t inplace_ids[] = {0, 1, 2};

#define OPT(nm, nin_lo, nin_hi, nout_, doc_)                                         \
  static const IrOpDef op_##nm = {                                                   \
      .name = #nm, .min_in = nin_lo, .max_in = nin_hi, .nout = nout_,                \
      .attrs = nm##_attrs_, .flags = IR_OPF_NOGRAD, .infer = opt_infer,              \
      .ref = opt_ref, .emit = opt_emit, .inplace = inplace_ids, .doc = doc_,        \
      .caps = IR_CAP_UPDATE}

#define sgd_update_attrs_ sgd_attrs
#define momentum_update_attrs_ momentum_attrs
#define adam_update_attrs_ adam_attrs
#define rmsprop_update_attrs_ rmsprop_attrs
#define adagrad_update_attrs_ adagrad_attrs

OPT(sgd_update, 3, 3, 1, "w' = w - lr*g (w, g, lr; weight_decay, l1, lr_mult), in place");
OPT(momentum_update, 4, 5, 2,
    "SGD with momentum (w, buf, g, lr [, step]; momentum=" IR_OPT_STR(IR_OPT_MOMENTUM)
    ", dampening=0, nesterov=0): "
    "buf = g at step 1, torch.optim.SGD; in place");
OPT(adam_update, 6, 6, 3,
    "Adam (w, m, v, g, lr, step; beta1=" IR_OPT_STR(IR_OPT_BETA1) ", beta2=" IR_OPT_STR(
        IR_OPT_BETA2) ", eps=" IR_OPT_STR(IR_OPT_EPS) "), decoupled=1 is AdamW; "
    "in place");
OPT(rmsprop_update, 4, 4, 2,
    "RMSprop without momentum, not centered (w, sq, g, lr; alpha=" IR_OPT_STR(IR_OPT_ALPHA)
    ", eps=" IR_OPT_STR(IR_OPT_EPS) "); in place");
OPT(adagrad_update, 4, 4, 2,
    "Adagrad (w, sum, g, lr; eps=" IR_OPT_STR(IR_OPT_EPS_ADAGRAD)
    ", initial_accumulator=0 added to the zero-started "
    "sum); in place");

static const IrOpDef op_grad_clip_scale = {
    .name = "grad_clip_scale", .min_in = 1, .max_in = 1, .nout = 1, .attrs = clip_attrs,
    .flags = IR_OPF_NOGRAD, .infer = clip_infer, .ref = clip_ref, .emit = clip_emit,
    .doc = "min(1, max_norm / (sqrt(sumsq) + 1e-6)), the clip_grad_norm_ factor"};

const IrOpDef *const ir_ops_optim[] = {&op_sgd_update,     &op_momentum_update,
                                       &op_adam_update,    &op_rmsprop_update,
                                       &op_adagrad_update, &op_grad_clip_scale,
                                       NULL};
