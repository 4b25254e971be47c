/* Builds the functions of a training program from a forward model.
 * requires: a verified graph with a `train loss=NAME` directive;
 * produces: new graphs (infer, eval, train, or infer and one graph per
 *           `step`); the model is not modified.
 *
 *   infer  the predictions, then the other declared outputs, those of
 *          them that need no labels (inputs: features)
 *   eval   per-sample loss and predictions, inference-mode ops
 *   train  training-mode forward (dropout_train, batchnorm_train), the
 *          backward pass from pass_grad, optional gradient clipping and one
 *          in-place optimizer update per trainable parameter
 *
 * Directives read here (all optional but `train loss=`):
 *   train loss=L pred=P data=X label=Y epochs=N task=classify|regress
 *         clip_norm=F clip_value=F patience=N
 *   optimizer NAME lr=F momentum=F nesterov=0|1 dampening=F beta1=F
 *         beta2=F eps=F alpha=F weight_decay=F l1=F
 *         (the optimizers and their hyper-parameters: ir_optimizers and
 *         ir_opt_hparams in ir/training.c)
 *   schedule constant|step|multistep|exponential|cosine|plateau gamma=F
 *         step_size=N milestones=[..] t_max=N eta_min=F patience=N warmup=N
 *   param_group "GLOB" freeze=1 lr_mult=F weight_decay=F l1=F
 *   step NAME loss=L params="GLOB" clip_norm=F clip_value=F
 *         instead of `train loss=`: one train function per step (a GAN's
 *         discriminator and generator updates), each updating the trainable
 *         parameters its glob matches; the program has infer and the steps
 *         (no eval), `train data=X [label=Y] epochs=N` gives the data. */
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/training.h"
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

/* inputs become [x, y] ([x] without labels); any other input is
 * unsupported for now */
static bool order_inputs(IrGraph *g, IrValue *vx, IrValue *vy, SmDiag *d, SmLoc loc) {
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] != vx && g->inputs[i] != vy) {
      sm_error(d, loc, "train: input '%s' is neither the data nor the label input; "
               "training programs take exactly those two", g->inputs[i]->name);
      return false;
    }
  g->inputs[0] = vx;
  vx->index = 0;
  g->ninputs = 1;
  if (vy) {
    g->inputs[1] = vy;
    vy->index = 1;
    g->ninputs = 2;
  }
  return true;
}

/* Every op with a training form (IrOpDef.train_form) into it: dropout ->
 * dropout_train, batchnorm -> batchnorm_train, random_normal ->
 * random_normal(step) (fresh noise every update) */
static bool to_training_mode(IrGraph *g, IrValue *step, SmDiag *d) {
  int n0 = g->nnodes;
  bool *dead = sm_xcalloc((size_t)n0 + 1, 1);
  bool ok = true;
  for (int k = 0; k < n0 && ok; k++) {
    IrNode *n = g->nodes[k];
    if (!n->op->train_form) continue;
    const IrOpDef *form = ir_op_find(n->op->train_form);
    SM_ASSERT(form && n->op->to_train);
    int r = n->op->to_train(g, n, form, step, k, d);
    dead[k] = r > 0;
    ok = r >= 0;
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

/* one in-place update of w with gradient gw, as the optimizer's row of
 * ir_optimizers says */
static bool add_update(IrGraph *g, const IrDirective *opt, IrValue *w, IrValue *gw,
                       IrValue *lr, IrValue *step, const ParamCfg *c, SmDiag *d) {
  const char *name = opt && opt->arg ? opt->arg : "sgd";
  SmLoc loc = opt ? opt->loc : w->loc;
  const IrOptimizer *o = ir_optimizer_find(name);
  if (!o) {
    char names[256];
    sm_error(d, loc, "unknown optimizer '%s' (%s)", name, ir_optimizer_names(names, sizeof names));
    return false;
  }
  for (int i = 0; i < SM_COUNT(o->unless); i++)
    if (o->unless[i] && dnum(opt, o->unless[i], 0) != 0) {
      o = &ir_optimizers[o->variant];
      break;
    }
  IrValue *in[IR_OPT_MAX_STATE + 4];
  int nin = 0, nstate = 0;
  in[nin++] = w;
  while (o->state[nstate]) in[nin++] = state_param(g, w, o->state[nstate++]);
  in[nin++] = gw;
  in[nin++] = lr;
  if (o->step) in[nin++] = step;
  IrNode *u = add(g, o->update, in, nin, 1 + nstate, loc);
  for (const IrOptHp *h = o->hp; h->name; h++) {
    double v = dnum(opt, h->name, h->dflt);
    if ((h->set == IR_HP_IF_GIVEN && !dattr(opt, h->name)) ||
        (h->set == IR_HP_IF_NONZERO && v == 0))
      continue;
    if (h->integer) ir_set_int(g, u, h->name, (int64_t)v);
    else ir_set_float(g, u, h->name, v);
  }
  if (o->flag) ir_set_int(g, u, o->flag, 1);
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
  const IrOptimizer *o = ir_optimizer_find(opt && opt->arg ? opt->arg : "sgd");
  s->lr = dnum(opt, "lr", o ? o->lr : IR_OPT_LR);
  s->kind = sched_kind(sc && sc->arg ? sc->arg : "constant");
  if (s->kind < 0) {
    sm_error(d, sc->loc, "unknown schedule '%s' (constant, step, multistep, exponential, "
             "cosine, plateau)", sc->arg);
    return false;
  }
  s->gamma = dnum(sc, "gamma", 0.1);
  s->step_size = (int)dnum(sc, "step_size", 10);
  s->t_max = (int)dnum(sc, "t_max", 0); /* 0: the run's epochs (--epochs) */
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
    if (x->op->caps & IR_CAP_UPDATE) upd[nu++] = x;
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


/* The loss value a directive names: a float scalar computed by the model;
 * with `loss_op`, by a loss op (the eval function asks it for per-sample
 * losses). */
static IrValue *loss_value(IrGraph *g, const IrDirective *dv, bool loss_op, SmDiag *d) {
  IrValue *loss = named(g, dv, "loss", d);
  if (!loss) return NULL;
  if (loss->kind != IR_VAL_NODE || ir_type_numel(&loss->type) != 1 ||
      !ir_dtype_is_float(loss->type.dtype)) {
    char s[IR_TYPE_STRLEN];
    sm_error(d, dloc(dv, "loss"), "train: loss '%s' must be a float scalar computed by the "
             "model, got %s", loss->name, ir_type_str(&loss->type, s, sizeof s));
    return NULL;
  }
  if (loss_op && !ir_attr(loss->def, "reduction") && !loss->def->op->attrs) {
    char names[256];
    sm_error(d, dloc(dv, "loss"), "train: loss '%s' must come from a loss op (%s)", loss->name,
             ir_op_names(IR_CAP_LOSS, names, sizeof names));
    return NULL;
  }
  return loss;
}

/* One training step: the training-mode forward to `loss`, its gradients
 * with respect to the trainable parameters matching `glob` (NULL: all),
 * clipping, and one in-place optimizer update per parameter. Inputs
 * become [x, (y), __lr, __step]; outputs [loss, (pred)]. `cfgdv` holds
 * the clipping attributes (the step or train directive). */
static IrGraph *build_step(const IrGraph *model, const IrGraph *base, const char *loss_name,
                           const char *pred_name, const char *x_name, const char *y_name,
                           const char *glob, const IrDirective *cfgdv, SmLoc loc, SmDiag *d) {
  IrGraph *g = ir_graph_clone(base);
  g->ndirs = 0;
  IrValue **wrt = NULL, **grads = NULL;
  ParamCfg *cfg = NULL;
  if (!order_inputs(g, ir_graph_find(g, x_name), y_name ? ir_graph_find(g, y_name) : NULL, d, loc))
    goto fail;
  IrType lr_t = {.dtype = IR_F32, .rank = 0}, step_t = {.dtype = IR_I64, .rank = 0};
  IrValue *lr = ir_add_input(g, "__lr", lr_t, loc);
  IrValue *step = ir_add_input(g, "__step", step_t, loc);
  if (!to_training_mode(g, step, d)) goto fail;
  IrValue *gl = ir_graph_find(g, loss_name);
  g->noutputs = 0;
  ir_add_output(g, gl);
  if (pred_name) ir_add_output(g, ir_graph_find(g, pred_name));
  ir_prune(g, false);

  /* trainable parameters */
  const IrDirective *opt = ir_directive(model, "optimizer");
  double wd = dnum(opt, "weight_decay", 0), l1 = dnum(opt, "l1", 0);
  int np = g->nparams;
  wrt = sm_xcalloc((size_t)np + 1, sizeof *wrt);
  grads = sm_xcalloc((size_t)np + 1, sizeof *grads);
  cfg = sm_xcalloc((size_t)np + 1, sizeof *cfg);
  int nw = 0;
  for (int i = 0; i < np; i++) {
    IrValue *p = g->params[i];
    ParamCfg c = param_cfg(model, p->name, wd, l1);
    if (c.freeze || !ir_dtype_is_float(p->type.dtype)) continue;
    if (glob && fnmatch(glob, p->name, 0) != 0) continue;
    cfg[nw] = c;
    wrt[nw++] = p;
  }
  if (pass_grad(g, gl, wrt, nw, grads, d) != SM_OK) goto fail;
  /* parameters whose gradient is structurally zero (running statistics,
   * unused weights) are not trained */
  int nt = 0;
  for (int i = 0; i < nw; i++)
    if (!(grads[i]->def && (grads[i]->def->op->caps & IR_CAP_CONSTANT))) {
      wrt[nt] = wrt[i];
      grads[nt] = grads[i];
      cfg[nt] = cfg[i];
      nt++;
    }
  if (nt == 0) {
    sm_error(d, loc, "train: no trainable parameter%s%s%s reaches loss '%s'",
             glob ? " matching \"" : "", glob ? glob : "", glob ? "\"" : "", loss_name);
    goto fail;
  }
  double clip_value = dnum(cfgdv, "clip_value", 0), clip_norm = dnum(cfgdv, "clip_norm", 0);
  for (int i = 0; i < nt && clip_value > 0; i++) {
    IrNode *c = add(g, "clip", &grads[i], 1, 1, loc);
    ir_set_float(g, c, "min", -clip_value);
    ir_set_float(g, c, "max", clip_value);
    if (!infer(c, d)) goto fail;
    grads[i] = c->out[0];
  }
  if (clip_norm > 0) {
    IrValue *total = NULL;
    for (int i = 0; i < nt; i++) {
      IrValue *sq_in[2] = {grads[i], grads[i]};
      IrNode *sq = add(g, "mul", sq_in, 2, 1, loc);
      if (!infer(sq, d)) goto fail;
      IrNode *s = add(g, "reduce_sum", &sq->out[0], 1, 1, loc);
      ir_set_int(g, s, "keepdims", 0);
      if (!infer(s, d)) goto fail;
      if (!total) {
        total = s->out[0];
      } else {
        IrValue *a_in[2] = {total, s->out[0]};
        IrNode *a = add(g, "add", a_in, 2, 1, loc);
        if (!infer(a, d)) goto fail;
        total = a->out[0];
      }
    }
    IrNode *sc = add(g, "grad_clip_scale", &total, 1, 1, loc);
    ir_set_float(g, sc, "max_norm", clip_norm);
    if (!infer(sc, d)) goto fail;
    for (int i = 0; i < nt; i++) {
      IrValue *m_in[2] = {grads[i], sc->out[0]};
      IrNode *m = add(g, "mul", m_in, 2, 1, loc);
      if (!infer(m, d)) goto fail;
      grads[i] = m->out[0];
    }
  }
  for (int i = 0; i < nt; i++)
    if (!add_update(g, opt, wrt[i], grads[i], lr, step, &cfg[i], d)) goto fail;
  free(wrt);
  free(grads);
  free(cfg);
  ir_prune(g, false);
  ir_toposort(g);
  schedule_updates(g);
  return g;

fail:
  free(wrt);
  free(grads);
  free(cfg);
  ir_graph_free(g);
  return NULL;
}

void train_program_free(TrainProgram *tp) {
  ir_graph_free(tp->infer);
  ir_graph_free(tp->eval);
  for (int i = 0; i < tp->nsteps; i++) ir_graph_free(tp->steps[i]);
  memset(tp, 0, sizeof *tp);
}

/* Several `step NAME loss=L params=GLOB` directives: one function per
 * step, run in turn on every batch (a GAN's discriminator and generator
 * updates). No eval function; labels are optional. */
static bool build_steps(const IrGraph *model, IrGraph *base, const IrDirective *tr,
                        TrainProgram *tp, SmDiag *d) {
  RtTrainDesc *t = &tp->desc;
  const IrDirective *sv[RT_MAX_STEPS];
  int ns = 0;
  for (int i = 0; i < model->ndirs; i++) {
    const IrDirective *dv = &model->dirs[i];
    if (strcmp(dv->kind, "step") != 0) continue;
    if (ns == RT_MAX_STEPS) {
      sm_error(d, dv->loc, "train: at most %d step directives", RT_MAX_STEPS);
      return false;
    }
    if (!dv->arg) {
      sm_error(d, dv->loc, "step: needs a name, e.g. `step disc loss=d_loss params=\"d_*\"`");
      return false;
    }
    bool ident = isalpha((unsigned char)dv->arg[0]) || dv->arg[0] == '_';
    for (const char *c = dv->arg; *c && ident; c++) ident = isalnum((unsigned char)*c) || *c == '_';
    if (!ident || strlen(dv->arg) > 32) {
      sm_error(d, dv->loc, "step: the name '%s' must be a C identifier of at most 32 "
               "characters", dv->arg);
      return false;
    }
    bool taken = !strcmp(dv->arg, "infer") || !strcmp(dv->arg, "eval");
    for (int j = 0; j < ns; j++) taken |= !strcmp(sv[j]->arg, dv->arg);
    if (taken) {
      sm_error(d, dv->loc, "step: the name '%s' is taken", dv->arg);
      return false;
    }
    sv[ns++] = dv;
  }
  SmLoc loc = tr ? tr->loc : sv[0]->loc;
  IrValue *x = named(base, tr, "data", d), *y = named(base, tr, "label", d);
  if (!x && base->ninputs) x = base->inputs[0];
  if (!x || x->kind != IR_VAL_INPUT || (y && y->kind != IR_VAL_INPUT)) {
    sm_error(d, loc, "train: name the data input (and the label input, if any) with "
             "train data=X label=Y");
    return false;
  }
  IrValue *losses[RT_MAX_STEPS];
  for (int i = 0; i < ns; i++)
    if (!(losses[i] = loss_value(base, sv[i], false, d))) return false;
  t->train_fn = 1;
  t->eval_fn = -1;
  t->in_x = 0;
  t->in_y = y ? 1 : -1;
  t->in_lr = y ? 2 : 1;
  t->in_step = t->in_lr + 1;
  t->out_loss = 0;
  t->out_pred = -1;
  t->task = RT_TASK_REGRESS;
  t->nsteps = ns;

  /* infer: the declared outputs that are no step's loss */
  tp->infer = ir_graph_clone(base);
  IrGraph *ig = tp->infer;
  ig->noutputs = 0;
  for (int i = 0; i < base->noutputs; i++) {
    bool is_loss = false;
    for (int j = 0; j < ns; j++) is_loss |= base->outputs[i] == losses[j];
    if (!is_loss) ir_add_output(ig, ir_graph_find(ig, base->outputs[i]->name));
  }
  if (ig->noutputs == 0) {
    sm_error(d, loc, "train: the model declares no output besides its losses "
             "(e.g. `output samples` for a generator)");
    return false;
  }
  ir_prune(ig, true);
  ig->ndirs = 0;

  for (int i = 0; i < ns; i++) {
    tp->steps[i] = build_step(model, base, losses[i]->name, NULL, x->name, y ? y->name : NULL,
                              dstr(sv[i], "params", NULL), dattr(sv[i], "clip_norm") ||
                              dattr(sv[i], "clip_value") ? sv[i] : tr, sv[i]->loc, d);
    if (!tp->steps[i]) return false;
    tp->step_names[i] = sv[i]->arg;
    tp->nsteps = i + 1;
    t->step_fn[i] = 1 + i;
  }
  /* the first step holds every parameter: the others' optimizer state too */
  IrGraph *m = tp->steps[0];
  for (int i = 1; i < ns; i++)
    for (int p = 0; p < tp->steps[i]->nparams; p++) {
      const IrValue *v = tp->steps[i]->params[p];
      if (!ir_graph_find(m, v->name)) ir_add_param(m, v->name, v->type, v->init, v->loc);
    }
  tp->train = m;
  return true;
}

/* The numbers a training directive may hold: kind, key, range, whether
 * an integer (the runtime keeps those in ints; values beyond them were
 * undefined behaviour). The optimizer's are ir_opt_hparams. */
static const struct {
  const char *kind, *key;
  double lo, hi;
  bool integer;
} dir_numbers[] = {
    {"train", "epochs", 0, RT_MAX_EPOCHS, true},
    {"train", "patience", 0, 1e9, true},
    {"train", "clip_norm", 0, 1e30, false},
    {"train", "clip_value", 0, 1e30, false},
    {"step", "clip_norm", 0, 1e30, false},
    {"step", "clip_value", 0, 1e30, false},
    {"schedule", "gamma", 0, 1e30, false},
    {"schedule", "step_size", 1, 1e9, true},
    {"schedule", "t_max", 0, 1e9, true},
    {"schedule", "eta_min", 0, 1e30, false},
    {"schedule", "patience", 0, 1e9, true},
    {"schedule", "warmup", 0, 2e9, true},
    {"param_group", "freeze", 0, 1, true},
    {"param_group", "lr_mult", 0, 1e30, false},
    {"param_group", "weight_decay", 0, 1e30, false},
    {"param_group", "l1", 0, 1e30, false},
};

/* dv's attribute `key`, if present, a number in [lo, hi] */
static void check_number(const IrDirective *dv, const char *key, double lo, double hi,
                         bool integer, SmDiag *d) {
  const IrAttr *a = ir_attr(dv->attrs, key);
  if (!a) return;
  double v = a->kind == IR_ATTR_INT ? (double)a->i : a->f;
  if (a->kind != IR_ATTR_INT && a->kind != IR_ATTR_FLOAT)
    sm_error(d, a->loc, "%s: %s must be a number", dv->kind, a->name);
  else if (!(v >= lo && v <= hi) || (integer && v != floor(v)))
    sm_error(d, a->loc, "%s: %s=%g is out of range (want %s in [%.*g, %.*g])", dv->kind,
             a->name, v, integer ? "an integer" : "a number", integer ? 12 : 6, lo,
             integer ? 12 : 6, hi);
}

/* Every numeric attribute of the training directives within its range,
 * `task` a known kind, milestones in range, each param_group glob matching
 * a parameter of the model. Reports all it finds. */
static bool check_directives(const IrGraph *model, SmDiag *d) {
  int before = d->nerrors;
  for (int i = 0; i < model->ndirs; i++) {
    const IrDirective *dv = &model->dirs[i];
    for (int k = 0; k < SM_COUNT(dir_numbers); k++)
      if (!strcmp(dv->kind, dir_numbers[k].kind))
        check_number(dv, dir_numbers[k].key, dir_numbers[k].lo, dir_numbers[k].hi,
                     dir_numbers[k].integer, d);
    for (int k = 0; k < ir_nopt_hparams && !strcmp(dv->kind, "optimizer"); k++)
      check_number(dv, ir_opt_hparams[k].name, ir_opt_hparams[k].lo, ir_opt_hparams[k].hi,
                   ir_opt_hparams[k].integer, d);
    if (!strcmp(dv->kind, "schedule")) {
      const IrAttr *a = ir_attr(dv->attrs, "milestones");
      int64_t ms[8];
      int nm = a ? ir_attr_ints(dv->attrs, "milestones", ms, 8) : 0;
      if (a && (a->kind != IR_ATTR_INTS || a->n > 8))
        sm_error(d, a->loc, "schedule: milestones must be a list of at most 8 epochs");
      for (int j = 0; a && j < nm && j < 8; j++)
        if (ms[j] < 0 || ms[j] > 1000000000) {
          sm_error(d, a->loc, "schedule: milestone %lld is out of range (want [0, 1000000000])",
                   (long long)ms[j]);
          break;
        }
    }
    if (!strcmp(dv->kind, "train")) {
      const IrAttr *a = ir_attr(dv->attrs, "task");
      if (a && (a->kind != IR_ATTR_STR || (strcmp(a->s, "classify") && strcmp(a->s, "regress"))))
        sm_error(d, a->loc, "train: unknown task%s%s%s (classify or regress)",
                 a->kind == IR_ATTR_STR ? " '" : "", a->kind == IR_ATTR_STR ? a->s : "",
                 a->kind == IR_ATTR_STR ? "'" : "");
    }
    if (!strcmp(dv->kind, "param_group")) {
      if (!dv->arg) {
        sm_error(d, dv->loc, "param_group: needs a glob of parameter names, e.g. "
                 "`param_group \"conv*\" freeze=1`");
        continue;
      }
      bool any = false;
      for (int p = 0; p < model->nparams && !any; p++) any = fnmatch(dv->arg, model->params[p]->name, 0) == 0;
      if (!any)
        sm_error(d, dv->loc, "param_group: \"%s\" matches no parameter of the model", dv->arg);
    }
  }
  return d->nerrors == before;
}

SmStatus pass_training_program(const IrGraph *model, TrainProgram *tp, SmDiag *d) {
  memset(tp, 0, sizeof *tp);
  const IrDirective *tr = ir_directive(model, "train");
  bool steps = ir_directive(model, "step") != NULL;
  if (!steps && (!tr || !dattr(tr, "loss"))) {
    sm_error(d, tr ? tr->loc : (SmLoc){0},
             "model '%s' has no `train loss=NAME` directive (or pass --loss NAME)", model->name);
    return SM_ERR_INVALID;
  }
  if (steps && dattr(tr, "loss")) {
    sm_error(d, dloc(tr, "loss"), "train: loss= goes on each `step` directive when the "
             "model has several steps");
    return SM_ERR_INVALID;
  }
  if (!check_directives(model, d)) return SM_ERR_INVALID;
  int before = d->nerrors;
  IrGraph *base = ir_graph_clone(model);
  RtTrainDesc *t = &tp->desc;
  t->epochs = (int)dnum(tr, "epochs", 10);
  t->patience = (int)dnum(tr, "patience", 0);
  if (!read_schedule(model, t, d)) goto fail;
  if (steps) {
    if (!build_steps(model, base, tr, tp, d)) goto fail;
    goto done;
  }
  IrValue *loss = loss_value(base, tr, true, d);
  if (!loss) goto fail;
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
  t->train_fn = 2;
  t->eval_fn = 1;
  t->in_x = 0;
  t->in_y = 1;
  t->in_lr = 2;
  t->in_step = 3;
  t->out_loss = 0;
  t->out_pred = 1;
  t->nsteps = 1;
  t->step_fn[0] = 2;
  const char *task = dstr(tr, "task", ir_dtype_is_float(y->type.dtype) ? "regress" : "classify");
  t->task = !strcmp(task, "regress") ? RT_TASK_REGRESS : RT_TASK_CLASSIFY;

  /* infer: the predictions, then the other declared outputs, those that
   * need no labels (a seq2seq model's infer gives its greedy decoding, not
   * its teacher-forced logits) */
  tp->infer = ir_graph_clone(base);
  {
    IrGraph *ig = tp->infer;
    bool *needs_y = sm_xcalloc((size_t)ig->nvalues + 1, 1);
    needs_y[ir_graph_find(ig, y->name)->id] = true;
    for (int k = 0; k < ig->nnodes; k++) {
      const IrNode *n = ig->nodes[k];
      bool any = false;
      for (int i = 0; i < n->nin; i++) any |= needs_y[n->in[i]->id];
      for (int o = 0; o < n->nout; o++) needs_y[n->out[o]->id] = any;
    }
    IrValue *ipred = ir_graph_find(ig, pred->name);
    int nout = ig->noutputs;
    IrValue **outs = sm_xcalloc((size_t)nout + 1, sizeof *outs);
    memcpy(outs, ig->outputs, sizeof *outs * (size_t)nout);
    ig->noutputs = 0;
    if (!needs_y[ipred->id]) ir_add_output(ig, ipred);
    for (int i = 0; i < nout; i++)
      if (outs[i] != ipred && !needs_y[outs[i]->id]) ir_add_output(ig, outs[i]);
    free(outs);
    free(needs_y);
    if (ig->noutputs == 0) {
      sm_error(d, tr->loc, "train: every output needs the labels '%s'; declare an output "
               "that infer can compute from '%s' alone", y->name, x->name);
      goto fail;
    }
    ir_prune(ig, true);
    ig->ndirs = 0;
  }

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
  tp->train = build_step(model, base, loss->name, pred->name, x->name, y->name, NULL, tr,
                         tr->loc, d);
  if (!tp->train) goto fail;
  tp->steps[0] = tp->train;
  tp->step_names[0] = "train";
  tp->nsteps = 1;

done:
  tp->nweights = model->nparams;
  if (!ir_verify(tp->infer, d) || (tp->eval && !ir_verify(tp->eval, d))) goto fail;
  for (int i = 0; i < tp->nsteps; i++)
    if (!ir_verify(tp->steps[i], d)) goto fail;
  ir_graph_free(base);
  if (d->nerrors == before) return SM_OK;
  train_program_free(tp);
  return SM_ERR_INVALID;

fail:
  ir_graph_free(base);
  train_program_free(tp);
  return SM_ERR_INVALID;
}
