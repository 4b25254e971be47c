/* The optimizer table, the directive's hyper-parameters, capability name
 * lists and the training-mode hooks of IrOpDef.to_train (see training.h
 * and ir.h). */
#include <stdio.h>
#include <string.h>

#include "training.h"

const IrOptimizer ir_optimizers[] = {
    {.name = "sgd", .update = "sgd_update", .lr = IR_OPT_LR_SGD,
     .unless = {"momentum", "nesterov"}, .variant = 1},
    /* sgd with momentum= or nesterov=1 (the directive's momentum defaults
     * to 0: plain SGD) */
    {.name = "sgd", .update = "momentum_update", .state = {"momentum"}, .step = true,
     .lr = IR_OPT_LR_SGD, .hidden = true,
     .hp = {{"momentum", 0, IR_HP_ALWAYS, false},
            {"nesterov", 0, IR_HP_IF_NONZERO, true},
            {"dampening", 0, IR_HP_IF_GIVEN, false}}},
    {.name = "adam", .update = "adam_update", .state = {"m", "v"}, .step = true, .lr = IR_OPT_LR,
     .hp = {{"beta1", IR_OPT_BETA1, IR_HP_ALWAYS, false},
            {"beta2", IR_OPT_BETA2, IR_HP_ALWAYS, false},
            {"eps", IR_OPT_EPS, IR_HP_ALWAYS, false}}},
    {.name = "adamw", .update = "adam_update", .state = {"m", "v"}, .step = true, .lr = IR_OPT_LR,
     .hp = {{"beta1", IR_OPT_BETA1, IR_HP_ALWAYS, false},
            {"beta2", IR_OPT_BETA2, IR_HP_ALWAYS, false},
            {"eps", IR_OPT_EPS, IR_HP_ALWAYS, false}},
     .flag = "decoupled"},
    {.name = "rmsprop", .update = "rmsprop_update", .state = {"sq"}, .lr = IR_OPT_LR,
     .hp = {{"alpha", IR_OPT_ALPHA, IR_HP_ALWAYS, false},
            {"eps", IR_OPT_EPS, IR_HP_ALWAYS, false}}},
    {.name = "adagrad", .update = "adagrad_update", .state = {"sum"}, .lr = IR_OPT_LR,
     .hp = {{"eps", IR_OPT_EPS_ADAGRAD, IR_HP_ALWAYS, false}}},
};
const int ir_noptimizers = SM_COUNT(ir_optimizers);

const IrOptHparam ir_opt_hparams[] = {
    {"lr", 0, 1e30, false},           {"momentum", 0, 1, false},
    {"nesterov", 0, 1, true},         {"dampening", 0, 1, false},
    {"beta1", 0, 1, false},           {"beta2", 0, 1, false},
    {"eps", 0, 1e30, false},          {"alpha", 0, 1, false},
    {"weight_decay", 0, 1e30, false}, {"l1", 0, 1e30, false},
};
const int ir_nopt_hparams = SM_COUNT(ir_opt_hparams);

const IrOptimizer *ir_optimizer_find(const char *name) {
  for (int i = 0; i < ir_noptimizers; i++)
    if (!ir_optimizers[i].hidden && !strcmp(ir_optimizers[i].name, name)) return &ir_optimizers[i];
  return NULL;
}

static void append(char *buf, size_t n, size_t *len, const char *s) {
  int w = snprintf(buf + *len, n - *len, "%s%s", *len ? ", " : "", s);
  if (w > 0) *len = *len + (size_t)w < n ? *len + (size_t)w : n - 1;
}

const char *ir_optimizer_names(char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < ir_noptimizers; i++)
    if (!ir_optimizers[i].hidden) append(buf, n, &len, ir_optimizers[i].name);
  return buf;
}

const char *ir_op_names(unsigned caps, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (const IrOpDef *const *op = ir_op_all(); *op; op++)
    if (((*op)->caps & caps) == caps) append(buf, n, &len, (*op)->name);
  return buf;
}

/* ---- IrOpDef.to_train hooks ---- */

static int infer(IrNode *t, SmDiag *d) {
  if (ir_infer_node(t, d)) return 1;
  sm_error(d, t->loc, "internal error: the training pass built an invalid %s node", t->op->name);
  return -1;
}

/* dropout -> dropout_train(x, step): a fresh mask every step, one random
 * stream per dropout */
int ir_train_dropout(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                     SmDiag *d) {
  IrValue *in[2] = {n->in[0], step};
  IrNode *t = ir_add_node(g, form, in, 2, NULL, form->nout, n->loc);
  ir_set_float(g, t, "ratio", ir_attr_float(n, "ratio", 0.5));
  ir_set_int(g, t, "seed", (int64_t)g->seed);
  ir_set_int(g, t, "stream", 1000003 + k);
  int r = infer(t, d);
  ir_replace_uses(g, n->out[0], t->out[0]);
  return r;
}

/* batchnorm -> batchnorm_train: batch statistics, running statistics
 * (parameters) updated in place */
int ir_train_batchnorm(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                       SmDiag *d) {
  (void)step;
  (void)k;
  bool ok = true;
  for (int i = 3; i <= 4; i++)
    if (n->in[i]->kind != IR_VAL_PARAM) {
      sm_error(d, n->loc, "batchnorm: running statistic '%s' must be a parameter to "
               "be updated in training", n->in[i]->name);
      ok = false;
    }
  if (!ok) return -1;
  IrNode *t = ir_add_node(g, form, n->in, 5, NULL, form->nout, n->loc);
  ir_set_float(g, t, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
  /* ONNX/inference momentum weighs the old statistic; PyTorch's (the
   * training op's) weighs the new one */
  ir_set_float(g, t, "momentum", 1.0 - ir_attr_float(n, "momentum", 0.9));
  int r = infer(t, d);
  ir_replace_uses(g, n->out[0], t->out[0]);
  return r;
}

/* random_normal() -> random_normal(step): fresh noise every update */
int ir_train_step_operand(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                          SmDiag *d) {
  (void)form;
  (void)k;
  (void)d;
  if (n->nin != 0) return 0;
  n->in = sm_arena_alloc(&g->arena, sizeof *n->in);
  n->in[0] = step;
  n->nin = 1;
  return 0;
}
