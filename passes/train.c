/* Builds the functions of a training program from a forward model.
 * requires: a verified graph with a `train loss=NAME` directive;
 * produces: new graphs (infer, eval, train); the model is not modified.
 *
 *   infer  the declared outputs except the loss (inputs: features)
 *   eval   per-sample loss and predictions, inference-mode ops
 *   train  training-mode forward (dropout_train, batchnorm_train), the
 *          backward pass from pass_grad, optional gradient clipping and one
 *          in-place optimizer update per trainable parameter
 *
 * Directives read here (all optional but `train loss=`):
 *   train loss=L pred=P data=X label=Y epochs=N task=classify|regress
 *         clip_norm=F clip_value=F patience=N
 *   optimizer sgd|adam|adamw|rmsprop|adagrad lr=F momentum=F nesterov=0|1
 *         dampening=F beta1=F beta2=F eps=F alpha=F weight_decay=F l1=F
 *   schedule constant|step|multistep|exponential|cosine|plateau gamma=F
 *         step_size=N milestones=[..] t_max=N eta_min=F patience=N warmup=N
 *   param_group "GLOB" freeze=1 lr_mult=F weight_decay=F l1=F */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static const IrAttr *dattr(const IrDirective *dv, const char *key) {
  return dv ? ir_attr(dv->attrs, key) : NULL;
}

static double dnum(const IrDirective *dv, const char *key, double dflt) {
  return dv ? ir_attr_float(dv->attrs, key, dflt) : dflt;
}

static const char *dstr(const IrDirective *dv, const char *key, const char *dflt) {
  return dv ? ir_attr_str(dv->attrs, key, dflt) : dflt;
}

static SmLoc dloc(const IrDirective *dv, const char *key) {
  const IrAttr *a = dattr(dv, key);
  return a ? a->loc : dv ? dv->loc : (SmLoc){0};
}

static IrValue *named(IrGraph *g, const IrDirective *dv, const char *key, SmDiag *d) {
  const char *name = dstr(dv, key, NULL);
  if (!name) return NULL;
  IrValue *v = ir_graph_find(g, name);
  if (!v) sm_error(d, dloc(dv, key), "train: %s='%s' names no value of the model", key, name);
  return v;
}

/* Per-parameter settings from param_group directives (later groups win). */
typedef struct {
  bool freeze;
  double lr_mult, weight_decay, l1;
} ParamCfg;

static ParamCfg param_cfg(const IrGraph *g, const char *name, double wd, double l1) {
  ParamCfg c = {false, 1.0, wd, l1};
  for (int i = 0; i < g->ndirs; i++) {
    const IrDirective *dv = &g->dirs[i];
    if (strcmp(dv->kind, "param_group") != 0 || !dv->arg) continue;
    if (fnmatch(dv->arg, name, 0) != 0) continue;
    c.freeze = ir_attr_int(dv->attrs, "freeze", c.freeze) != 0;
    c.lr_mult = ir_attr_float(dv->attrs, "lr_mult", c.lr_mult);
    c.weight_decay = ir_attr_float(dv->attrs, "weight_decay", c.weight_decay);
    c.l1 = ir_attr_float(dv->attrs, "l1", c.l1);
  }
  return c;
}

static IrNode *add(IrGraph *g, const char *op, IrValue **in, int nin, int nout, SmLoc loc) {
  const IrOpDef *def = ir_op_find(op);
  SM_ASSERT(def != NULL);
  return ir_add_node(g, def, in, nin, NULL, nout, loc);
}

static bool infer(IrNode *n, SmDiag *d) {
  if (ir_infer_node(n, d)) return true;
  sm_error(d, n->loc, "internal error: the training pass built an invalid %s node", n->op->name);
  return false;
}

/* dead[k] for the first n0 nodes; nodes appended later are kept */
static void remove_nodes(IrGraph *g, const bool *dead, int n0) {
  int m = 0;
  for (int k = 0; k < g->nnodes; k++)
    if (k >= n0 || !dead[k]) g->nodes[m++] = g->nodes[k];
  g->nnodes = m;
  for (int k = 0; k < g->nnodes; k++) g->nodes[k]->id = k;
}

/* inputs become [x, y]; any other input is unsupported for now */
static bool order_inputs(IrGraph *g, IrValue *vx, IrValue *vy, SmDiag *d, SmLoc loc) {
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] != vx && g->inputs[i] != vy) {
      sm_error(d, loc, "train: input '%s' is neither the data nor the label input; "
               "training programs take exactly those two", g->inputs[i]->name);
      return false;
    }
  g->inputs[0] = vx;
  g->inputs[1] = vy;
  g->ninputs = 2;
  vx->index = 0;
  vy->index = 1;
  return true;
}

/* dropout -> dropout_train, batchnorm -> batchnorm_train */
static bool to_training_mode(IrGraph *g, IrValue *step, SmDiag *d) {
  int n0 = g->nnodes;
  bool *dead = sm_xcalloc((size_t)n0 + 1, 1);
  bool ok = true;
  for (int k = 0; k < n0 && ok; k++) {
    IrNode *n = g->nodes[k];
    if (!strcmp(n->op->name, "dropout")) {
      IrValue *in[2] = {n->in[0], step};
      IrNode *t = add(g, "dropout_train", in, 2, 2, n->loc);
      ir_set_float(g, t, "ratio", ir_attr_float(n, "ratio", 0.5));
      ir_set_int(g, t, "seed", (int64_t)g->seed);
      ir_set_int(g, t, "stream", 1000003 + k);
      ok = infer(t, d);
      ir_replace_uses(g, n->out[0], t->out[0]);
      dead[k] = true;
    } else if (!strcmp(n->op->name, "batchnorm")) {
      for (int i = 3; i <= 4; i++)
        if (n->in[i]->kind != IR_VAL_PARAM) {
          sm_error(d, n->loc, "batchnorm: running statistic '%s' must be a parameter to "
                   "be updated in training", n->in[i]->name);
          ok = false;
        }
      if (!ok) break;
      IrNode *t = add(g, "batchnorm_train", n->in, 5, 5, n->loc);
      ir_set_float(g, t, "epsilon", ir_attr_float(n, "epsilon", 1e-5));
      /* ONNX/inference momentum weighs the old statistic; PyTorch's (the
       * training op's) weighs the new one */
      ir_set_float(g, t, "momentum", 1.0 - ir_attr_float(n, "momentum", 0.9));
      ok = infer(t, d);
      ir_replace_uses(g, n->out[0], t->out[0]);
      dead[k] = true;
    }
  }
  remove_nodes(g, dead, n0);
  free(dead);
  ir_toposort(g);
  return ok;
}

static IrValue *state_param(IrGraph *g, const IrValue *w, const char *suffix) {
  char name[512];
  snprintf(name, sizeof name, "%s.%s", w->name, suffix);
  return ir_add_param(g, name, w->type, (IrInit){IR_INIT_ZEROS, 0, 0}, w->loc);
}

static void set_common(IrGraph *g, IrNode *u, const ParamCfg *c) {
  if (c->weight_decay != 0) ir_set_float(g, u, "weight_decay", c->weight_decay);
  if (c->l1 != 0) ir_set_float(g, u, "l1", c->l1);
  if (c->lr_mult != 1) ir_set_float(g, u, "lr_mult", c->lr_mult);
}

/* one in-place update of w with gradient gw */
static bool add_update(IrGraph *g, const IrDirective *opt, IrValue *w, IrValue *gw,
                       IrValue *lr, IrValue *step, const ParamCfg *c, SmDiag *d) {
  const char *name = opt && opt->arg ? opt->arg : "sgd";
  SmLoc loc = opt ? opt->loc : w->loc;
  IrNode *u;
  if (!strcmp(name, "sgd")) {
    double mom = dnum(opt, "momentum", 0);
    bool nesterov = dnum(opt, "nesterov", 0) != 0;
    if (mom == 0 && !nesterov) {
      IrValue *in[3] = {w, gw, lr};
      u = add(g, "sgd_update", in, 3, 1, loc);
    } else {
      IrValue *in[5] = {w, state_param(g, w, "momentum"), gw, lr, step};
      u = add(g, "momentum_update", in, 5, 2, loc);
      ir_set_float(g, u, "momentum", mom);
      if (nesterov) ir_set_int(g, u, "nesterov", 1);
      if (dattr(opt, "dampening")) ir_set_float(g, u, "dampening", dnum(opt, "dampening", 0));
    }
  } else if (!strcmp(name, "adam") || !strcmp(name, "adamw")) {
    IrValue *in[6] = {w, state_param(g, w, "m"), state_param(g, w, "v"), gw, lr, step};
    u = add(g, "adam_update", in, 6, 3, loc);
    ir_set_float(g, u, "beta1", dnum(opt, "beta1", 0.9));
    ir_set_float(g, u, "beta2", dnum(opt, "beta2", 0.999));
    ir_set_float(g, u, "eps", dnum(opt, "eps", 1e-8));
    if (!strcmp(name, "adamw")) ir_set_int(g, u, "decoupled", 1);
  } else if (!strcmp(name, "rmsprop")) {
    IrValue *in[4] = {w, state_param(g, w, "sq"), gw, lr};
    u = add(g, "rmsprop_update", in, 4, 2, loc);
    ir_set_float(g, u, "alpha", dnum(opt, "alpha", 0.99));
    ir_set_float(g, u, "eps", dnum(opt, "eps", 1e-8));
  } else if (!strcmp(name, "adagrad")) {
    IrValue *in[4] = {w, state_param(g, w, "sum"), gw, lr};
    u = add(g, "adagrad_update", in, 4, 2, loc);
    ir_set_float(g, u, "eps", dnum(opt, "eps", 1e-10));
  } else {
    sm_error(d, loc, "unknown optimizer '%s' (sgd, adam, adamw, rmsprop, adagrad)", name);
    return false;
  }
  set_common(g, u, c);
  return infer(u, d);
}

static int sched_kind(const char *s) {
  static const char *const names[] = {"constant", "step", "multistep", "exponential", "cosine", "plateau"};
  for (int i = 0; i < SM_COUNT(names); i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

static bool read_schedule(const IrGraph *g, RtTrainDesc *t, SmDiag *d) {
  const IrDirective *opt = ir_directive(g, "optimizer");
  const IrDirective *sc = ir_directive(g, "schedule");
  RtSchedule *s = &t->schedule;
  memset(s, 0, sizeof *s);
  const char *oname = opt && opt->arg ? opt->arg : "sgd";
  s->lr = dnum(opt, "lr", !strcmp(oname, "sgd") ? 0.01 : 0.001);
  s->kind = sched_kind(sc && sc->arg ? sc->arg : "constant");
  if (s->kind < 0) {
    sm_error(d, sc->loc, "unknown schedule '%s' (constant, step, multistep, exponential, "
             "cosine, plateau)", sc->arg);
    return false;
  }
  s->gamma = dnum(sc, "gamma", 0.1);
  s->step_size = (int)dnum(sc, "step_size", 10);
  s->t_max = (int)dnum(sc, "t_max", t->epochs);
  s->eta_min = dnum(sc, "eta_min", 0);
  s->patience = (int)dnum(sc, "patience", 2);
  s->warmup_steps = (int)dnum(sc, "warmup", 0);
  if (sc) {
    int64_t ms[8];
    int nm = ir_attr_ints(sc->attrs, "milestones", ms, 8);
    for (int i = 0; i < nm && i < 8; i++) s->milestones[i] = (int)ms[i];
    s->nmilestones = nm < 0 ? 0 : nm > 8 ? 8 : nm;
  }
  return true;
}

/* Move every in-place update as early as it may run: right after its
 * operands exist and after the last other reader of what it overwrites.
 * Each parameter gradient then dies as soon as it is applied instead of
 * waiting for the whole backward pass, which lowers peak memory. */
static void schedule_updates(IrGraph *g) {
  int n = g->nnodes;
  IrNode **rest = sm_xcalloc((size_t)n + 1, sizeof *rest), **upd = sm_xcalloc((size_t)n + 1, sizeof *upd);
  int nr = 0, nu = 0;
  for (int k = 0; k < n; k++) {
    IrNode *x = g->nodes[k];
    if (x->op->inplace && strstr(x->op->name, "_update")) upd[nu++] = x;
    else rest[nr++] = x;
  }
  /* earliest slot in `rest` after which each update may run */
  int *after = sm_xcalloc((size_t)nu + 1, sizeof *after);
  for (int u = 0; u < nu; u++) {
    int pos = -1;
    for (int k = 0; k < nr; k++) {
      const IrNode *x = rest[k];
      for (int i = 0; i < upd[u]->nin; i++) {
        for (int o = 0; o < x->nout; o++)
          if (x->out[o] == upd[u]->in[i]) pos = k > pos ? k : pos;
        for (int j = 0; j < x->nin; j++)
          if (x->in[j] == upd[u]->in[i] && upd[u]->in[i]->kind == IR_VAL_PARAM) pos = k > pos ? k : pos;
      }
    }
    after[u] = pos;
  }
  int m = 0;
  for (int u = 0; u < nu; u++)
    if (after[u] < 0) g->nodes[m++] = upd[u];
  for (int k = 0; k < nr; k++) {
    g->nodes[m++] = rest[k];
    for (int u = 0; u < nu; u++)
      if (after[u] == k) g->nodes[m++] = upd[u];
  }
  SM_ASSERT(m == n);
  for (int k = 0; k < n; k++) g->nodes[k]->id = k;
  free(rest);
  free(upd);
  free(after);
}

SmStatus pass_training_program(const IrGraph *model, TrainProgram *tp, SmDiag *d) {
  memset(tp, 0, sizeof *tp);
  const IrDirective *tr = ir_directive(model, "train");
  if (!tr || !dattr(tr, "loss")) {
    sm_error(d, tr ? tr->loc : (SmLoc){0},
             "model '%s' has no `train loss=NAME` directive (or pass --loss NAME)", model->name);
    return SM_ERR_INVALID;
  }
  int before = d->nerrors;
  IrGraph *base = ir_graph_clone(model);
  IrValue *loss = named(base, tr, "loss", d);
  if (!loss) goto fail;
  if (loss->kind != IR_VAL_NODE || ir_type_numel(&loss->type) != 1 ||
      !ir_dtype_is_float(loss->type.dtype)) {
    char s[IR_TYPE_STRLEN];
    sm_error(d, dloc(tr, "loss"), "train: loss '%s' must be a float scalar computed by the "
             "model, got %s", loss->name, ir_type_str(&loss->type, s, sizeof s));
    goto fail;
  }
  if (!ir_attr(loss->def, "reduction") && !ir_op_find(loss->def->op->name)->attrs) {
    sm_error(d, dloc(tr, "loss"), "train: loss '%s' must come from a loss op "
             "(cross_entropy, nll, mse, l1, bce, bce_logits, hinge)", loss->name);
    goto fail;
  }
  /* roles */
  IrValue *pred = named(base, tr, "pred", d);
  if (!pred)
    for (int i = 0; i < base->noutputs && !pred; i++)
      if (base->outputs[i] != loss) pred = base->outputs[i];
  if (!pred) {
    sm_error(d, tr->loc, "train: no prediction output (declare `output` for the model's "
             "predictions, or train pred=NAME)");
    goto fail;
  }
  IrValue *x = named(base, tr, "data", d), *y = named(base, tr, "label", d);
  if (!x && base->ninputs) x = base->inputs[0];
  if (!y)
    for (int i = 0; i < loss->def->nin; i++)
      if (loss->def->in[i]->kind == IR_VAL_INPUT && loss->def->in[i] != x) y = loss->def->in[i];
  if (!x || !y || x->kind != IR_VAL_INPUT || y->kind != IR_VAL_INPUT) {
    sm_error(d, tr->loc, "train: cannot tell the data and label inputs apart; name them "
             "with train data=X label=Y");
    goto fail;
  }
  RtTrainDesc *t = &tp->desc;
  t->train_fn = 2;
  t->eval_fn = 1;
  t->in_x = 0;
  t->in_y = 1;
  t->in_lr = 2;
  t->in_step = 3;
  t->out_loss = 0;
  t->out_pred = 1;
  const char *task = dstr(tr, "task", ir_dtype_is_float(y->type.dtype) ? "regress" : "classify");
  t->task = !strcmp(task, "regress") ? RT_TASK_REGRESS : RT_TASK_CLASSIFY;
  t->epochs = (int)dnum(tr, "epochs", 10);
  t->patience = (int)dnum(tr, "patience", 0);
  if (!read_schedule(model, t, d)) goto fail;

  /* infer: predictions only */
  tp->infer = ir_graph_clone(base);
  tp->infer->noutputs = 0;
  ir_add_output(tp->infer, ir_graph_find(tp->infer, pred->name));
  ir_prune(tp->infer, true);
  tp->infer->ndirs = 0;

  /* eval: per-sample loss and predictions */
  tp->eval = ir_graph_clone(base);
  {
    IrGraph *g = tp->eval;
    IrValue *l = ir_graph_find(g, loss->name);
    ir_set_str(g, l->def, "reduction", "none");
    if (!infer(l->def, d)) goto fail;
    g->noutputs = 0;
    ir_add_output(g, l);
    ir_add_output(g, ir_graph_find(g, pred->name));
    if (!order_inputs(g, ir_graph_find(g, x->name), ir_graph_find(g, y->name), d, tr->loc))
      goto fail;
    /* shapes downstream of the loss may change with reduction=none */
    ir_prune(g, false);
    g->ndirs = 0;
  }

  /* train */
  tp->train = ir_graph_clone(base);
  IrGraph *g = tp->train;
  g->ndirs = 0;
  if (!order_inputs(g, ir_graph_find(g, x->name), ir_graph_find(g, y->name), d, tr->loc))
    goto fail;
  IrType lr_t = {.dtype = IR_F32, .rank = 0}, step_t = {.dtype = IR_I64, .rank = 0};
  IrValue *lr = ir_add_input(g, "__lr", lr_t, tr->loc);
  IrValue *step = ir_add_input(g, "__step", step_t, tr->loc);
  if (!to_training_mode(g, step, d)) goto fail;
  IrValue *gl = ir_graph_find(g, loss->name);
  g->noutputs = 0;
  ir_add_output(g, gl);
  ir_add_output(g, ir_graph_find(g, pred->name));
  ir_prune(g, false);

  /* trainable parameters */
  const IrDirective *opt = ir_directive(model, "optimizer");
  double wd = dnum(opt, "weight_decay", 0), l1 = dnum(opt, "l1", 0);
  int np = g->nparams;
  tp->nweights = np;
  IrValue **wrt = sm_xcalloc((size_t)np + 1, sizeof *wrt);
  IrValue **grads = sm_xcalloc((size_t)np + 1, sizeof *grads);
  ParamCfg *cfg = sm_xcalloc((size_t)np + 1, sizeof *cfg);
  int nw = 0;
  for (int i = 0; i < np; i++) {
    IrValue *p = g->params[i];
    ParamCfg c = param_cfg(model, p->name, wd, l1);
    if (c.freeze || !ir_dtype_is_float(p->type.dtype)) continue;
    cfg[nw] = c;
    wrt[nw++] = p;
  }
  SmStatus st = pass_grad(g, gl, wrt, nw, grads, d);
  if (st != SM_OK) {
    free(wrt);
    free(grads);
    free(cfg);
    goto fail;
  }
  /* parameters whose gradient is structurally zero (running statistics,
   * unused weights) are not trained */
  int nt = 0;
  for (int i = 0; i < nw; i++)
    if (!(grads[i]->def && !strcmp(grads[i]->def->op->name, "constant"))) {
      wrt[nt] = wrt[i];
      grads[nt] = grads[i];
      cfg[nt] = cfg[i];
      nt++;
    }
  SmLoc loc = tr->loc;
  double clip_value = dnum(tr, "clip_value", 0), clip_norm = dnum(tr, "clip_norm", 0);
  for (int i = 0; i < nt && clip_value > 0; i++) {
    IrNode *c = add(g, "clip", &grads[i], 1, 1, loc);
    ir_set_float(g, c, "min", -clip_value);
    ir_set_float(g, c, "max", clip_value);
    if (!infer(c, d)) goto fail_free;
    grads[i] = c->out[0];
  }
  if (clip_norm > 0 && nt > 0) {
    IrValue *total = NULL;
    for (int i = 0; i < nt; i++) {
      IrValue *sq_in[2] = {grads[i], grads[i]};
      IrNode *sq = add(g, "mul", sq_in, 2, 1, loc);
      if (!infer(sq, d)) goto fail_free;
      IrNode *s = add(g, "reduce_sum", &sq->out[0], 1, 1, loc);
      ir_set_int(g, s, "keepdims", 0);
      if (!infer(s, d)) goto fail_free;
      if (!total) {
        total = s->out[0];
      } else {
        IrValue *a_in[2] = {total, s->out[0]};
        IrNode *a = add(g, "add", a_in, 2, 1, loc);
        if (!infer(a, d)) goto fail_free;
        total = a->out[0];
      }
    }
    IrNode *sc = add(g, "grad_clip_scale", &total, 1, 1, loc);
    ir_set_float(g, sc, "max_norm", clip_norm);
    if (!infer(sc, d)) goto fail_free;
    for (int i = 0; i < nt; i++) {
      IrValue *m_in[2] = {grads[i], sc->out[0]};
      IrNode *m = add(g, "mul", m_in, 2, 1, loc);
      if (!infer(m, d)) goto fail_free;
      grads[i] = m->out[0];
    }
  }
  for (int i = 0; i < nt; i++)
    if (!add_update(g, opt, wrt[i], grads[i], lr, step, &cfg[i], d)) goto fail_free;
  free(wrt);
  free(grads);
  free(cfg);
  ir_prune(g, false);
  ir_toposort(g);
  schedule_updates(g);
  if (!ir_verify(tp->infer, d) || !ir_verify(tp->eval, d) || !ir_verify(g, d)) goto fail;
  ir_graph_free(base);
  return d->nerrors == before ? SM_OK : SM_ERR_INVALID;

fail_free:
  free(wrt);
  free(grads);
  free(cfg);
fail:
  ir_graph_free(base);
  ir_graph_free(tp->infer);
  ir_graph_free(tp->eval);
  ir_graph_free(tp->train);
  memset(tp, 0, sizeof *tp);
  return SM_ERR_INVALID;
}
