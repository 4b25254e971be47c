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
#include "optim.h"



static const OptDef opt_defs[] = {
    {"sgd_update", OPT_SGD, 0},
    {"momentum_update", OPT_MOMENTUM, 1},
    {"adam_update", OPT_ADAM, 2},
    {"rmsprop_update", OPT_RMSPROP, 1},
    {"adagrad_update", OPT_ADAGRAD, 1},
};
_Static_assert(SM_COUNT(opt_defs) == OPT_ADAGRAD + 1, "one opt_defs row per OptKind");

const OptDef *opt_def(const IrNode *n) {
  for (int i = 0; i < SM_COUNT(opt_defs); i++)
    if (strcmp(n->op->name, opt_defs[i].name) == 0) return &opt_defs[i];
  SM_ASSERT(!"not an optimizer update");
  return NULL;
}

/* operand positions */
int in_g(const IrNode *n) { return 1 + opt_def(n)->nstate; }
int in_lr(const IrNode *n) { return 2 + opt_def(n)->nstate; }
bool has_step(const IrNode *n) { return n->nin > in_lr(n) + 1; }


OptHp opt_hp(const IrNode *n) {
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

/* ---- what fusion asks of an update (its C kernels: codegen/kernels/optim.c) ---- */

/* the OPT ops, which the capability marks (test_registry: one opt_defs
 * row each) */
bool opt_is_update(const IrNode *n) { return (n->op->caps & IR_CAP_UPDATE) != 0; }

int opt_grad_operand(const IrNode *n) { return in_g(n); }

int opt_state_count(const IrNode *n) { return opt_def(n)->nstate; }

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
      .ref = opt_ref, .c = &cgk_opt_update, .inplace = inplace_ids, .doc = doc_,    \
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
    .flags = IR_OPF_NOGRAD, .infer = clip_infer, .ref = clip_ref, .c = &cgk_grad_clip_scale,
    .doc = "min(1, max_norm / (sqrt(sumsq) + 1e-6)), the clip_grad_norm_ factor"};

const IrOpDef *const ir_ops_optim[] = {&op_sgd_update,     &op_momentum_update,
                                       &op_adam_update,    &op_rmsprop_update,
                                       &op_adagrad_update, &op_grad_clip_scale,
                                       NULL};
