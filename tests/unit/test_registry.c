/* Op capabilities and the tables derived from the registry: every loss op
 * flagged (and the list the messages print), the optimizer table against
 * its update ops' operand counts and attribute schemas, training forms
 * that exist and build, the canonicalization fields against the schemas
 * they name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/training.h"
#include "passes/passes.h"

static const IrAttrSpec *spec(const IrOpDef *op, const char *name) {
  for (const IrAttrSpec *a = op->attrs; a && a->name; a++)
    if (!strcmp(a->name, name)) return a;
  return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* every op taking reduction= is a loss or a loss's backward */
static void test_losses(void **state) {
  (void)state;
  char names[256];
  /* the order and text of --loss and train loss= messages */
  assert_string_equal(ir_op_names(IR_CAP_LOSS, names, sizeof names),
                      "cross_entropy, nll, mse, l1, bce, bce_logits, hinge");
  assert_string_equal(ir_op_names(IR_CAP_LOSS | IR_CAP_CLASS_TARGET, names, sizeof names),
                      "cross_entropy, nll");
  for (const IrOpDef *const *p = ir_op_all(); *p; p++) {
    const IrOpDef *op = *p;
    if (op->caps & IR_CAP_CLASS_TARGET) assert_true(op->caps & IR_CAP_LOSS);
    if (op->caps & IR_CAP_LOSS) {
      assert_non_null(spec(op, "reduction"));
      assert_true(op->min_in == 2 && op->grad);
      continue;
    }
    if (!spec(op, "reduction")) continue;
    char fwd[64];
    assert_true(ends_with(op->name, "_grad"));
    snprintf(fwd, sizeof fwd, "%.*s", (int)(strlen(op->name) - 5), op->name);
    const IrOpDef *f = ir_op_find(fwd);
    assert_non_null(f);
    assert_true(f->caps & IR_CAP_LOSS);
  }
}

/* every row's update op takes (w, state..., g, lr [, step]) and the
 * attributes the row sets; every update op has a row */
static void test_optimizers(void **state) {
  (void)state;
  char names[256];
  assert_string_equal(ir_optimizer_names(names, sizeof names), "sgd, adam, adamw, rmsprop, adagrad");
  assert_true(ir_optimizer_find("sgd")->lr == 0.01);
  assert_true(ir_optimizer_find("adam")->lr == 0.001);
  assert_null(ir_optimizer_find("nadam"));
  for (int i = 0; i < ir_noptimizers; i++) {
    const IrOptimizer *o = &ir_optimizers[i];
    const IrOpDef *u = ir_op_find(o->update);
    assert_non_null(u);
    assert_true(u->caps & IR_CAP_UPDATE);
    int ns = 0;
    while (o->state[ns]) ns++;
    int nin = 3 + ns + o->step;
    assert_true(nin >= u->min_in && nin <= u->max_in);
    assert_int_equal(u->nout, 1 + ns);
    assert_non_null(u->inplace);
    for (int k = 0; k < u->nout; k++) assert_int_equal(u->inplace[k], k);
    for (const IrOptHp *h = o->hp; h->name; h++) {
      const IrAttrSpec *a = spec(u, h->name);
      assert_non_null(a);
      assert_int_equal(a->kind, h->integer ? IR_ATTR_INT : IR_ATTR_FLOAT);
      bool ranged = false;
      for (int k = 0; k < ir_nopt_hparams; k++) ranged |= !strcmp(ir_opt_hparams[k].name, h->name);
      assert_true(ranged);
    }
    if (o->flag) assert_int_equal(spec(u, o->flag)->kind, IR_ATTR_INT);
    for (int k = 0; k < SM_COUNT(o->unless); k++)
      if (o->unless[k]) {
        assert_true(o->variant > i && o->variant < ir_noptimizers);
        assert_true(ir_optimizers[o->variant].hidden);
        assert_string_equal(ir_optimizers[o->variant].name, o->name);
      }
    if (!o->hidden) assert_ptr_equal(ir_optimizer_find(o->name), o);
  }
  for (const IrOpDef *const *p = ir_op_all(); *p; p++) {
    if (!((*p)->caps & IR_CAP_UPDATE)) continue;
    bool row = false;
    for (int i = 0; i < ir_noptimizers; i++) row |= !strcmp(ir_optimizers[i].update, (*p)->name);
    assert_true(row);
    /* the common attributes every optimizer directive may set */
    assert_non_null(spec(*p, "weight_decay"));
    assert_non_null(spec(*p, "l1"));
    assert_non_null(spec(*p, "lr_mult"));
  }
}

/* the fields canonicalize, fold_bn, remat and train read name what exists */
static void test_capability_fields(void **state) {
  (void)state;
  int forms = 0, consts = 0, bns = 0;
  for (const IrOpDef *const *p = ir_op_all(); *p; p++) {
    const IrOpDef *op = *p;
    if (op->train_form) {
      const IrOpDef *f = ir_op_find(op->train_form);
      assert_non_null(f);
      assert_non_null(op->to_train);
      assert_true(f->max_in >= op->min_in);
      forms++;
    }
    assert_true(!op->to_train || op->train_form);
    if (op->neutral_side) {
      assert_true(op->flags & IR_OPF_ELEMENTWISE);
      assert_int_equal(op->min_in, 2);
    }
    if (op->noop_attr) {
      assert_true(op->caps & IR_CAP_NOOP);
      assert_int_equal(spec(op, op->noop_attr)->kind, IR_ATTR_INTS);
    }
    if (op->caps & IR_CAP_PERMUTE) assert_int_equal(spec(op, "perm")->kind, IR_ATTR_INTS);
    if (op->caps & IR_CAP_CONSTANT) {
      assert_int_equal(op->max_in, 0);
      assert_non_null(spec(op, "value"));
      consts++;
    }
    if (op->caps & IR_CAP_BATCHNORM) {
      assert_int_equal(op->min_in, 5);
      assert_non_null(spec(op, "epsilon"));
      bns++;
    }
    if (op->caps & IR_CAP_BN_SAVED) assert_true(op->nout >= 5 && op->min_in >= 3);
    if (op->bn_fold) assert_true(op->min_in >= 2 && op->max_in >= 3);
    if (op->bn_fold == IR_BN_FOLD_GEMM) assert_non_null(spec(op, "transB"));
  }
  assert_int_equal(forms, 3); /* dropout, batchnorm, random_normal */
  assert_int_equal(consts, 1);
  assert_int_equal(bns, 1);
}

/* the train function holds the training forms, none of the inference ops */
static void test_training_forms(void **state) {
  (void)state;
  const char *text = "model t\n"
                     "input x: f32[4,2,3,3]\ninput y: i64[4]\n"
                     "param s: f32[2] = ones\nparam b: f32[2] = zeros\n"
                     "param m: f32[2] = zeros\nparam v: f32[2] = ones\n"
                     "param w: f32[3,18] = xavier_uniform\n"
                     "h = batchnorm(x, s, b, m, v)\nd = dropout(h, ratio=0.25)\n"
                     "n = random_normal(shape=[4,2,3,3])\ne = add(d, n)\n"
                     "f = flatten(e)\nz = gemm(f, w, transB=1)\n"
                     "loss = cross_entropy(z, y)\noutput z\noutput loss\n"
                     "train loss=loss\noptimizer adamw\n";
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("test.smelt", text, &g, &d), SM_OK);
  TrainProgram tp;
  if (pass_training_program(g, &tp, &d) != SM_OK) fail_msg("%s", sm_diag_text(&d));
  int train_forms = 0, updates = 0;
  for (int k = 0; k < tp.train->nnodes; k++) {
    const IrNode *n = tp.train->nodes[k];
    if (n->op->train_form) { /* only random_normal, now random_normal(step) */
      assert_ptr_equal(ir_op_find(n->op->train_form), n->op);
      assert_int_equal(n->nin, 1);
    }
    for (const IrOpDef *const *p = ir_op_all(); *p; p++)
      if ((*p)->train_form && (*p)->to_train && ir_op_find((*p)->train_form) == n->op) train_forms++;
    if (n->op->caps & IR_CAP_UPDATE) {
      updates++;
      assert_int_equal(ir_attr_int(n, "decoupled", 0), 1);
      assert_true(ir_attr_float(n, "beta2", 0) == IR_OPT_BETA2);
      assert_int_equal(n->nin, 6);
    }
  }
  assert_int_equal(train_forms, 3);
  assert_int_equal(updates, 3); /* s, b, w */
  train_program_free(&tp);
  ir_graph_free(g);
  sm_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_losses),
      cmocka_unit_test(test_optimizers),
      cmocka_unit_test(test_capability_fields),
      cmocka_unit_test(test_training_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
