/* Training programs: the train function built by passes/train.c, compiled,
 * agrees with the reference interpreter over several full steps (forward,
 * backward, in-place update): every parameter and optimizer state after
 * the steps matches within a stated tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/opcheck.h"
#include "helpers/testfile.h"
#include "helpers/plancheck.h"
#include "helpers/progload.h"
#include "passes/passes.h"
#include "rt_model.h"

static void fill(IrTensor *t, uint64_t stream, double lo, double hi, bool integer) {
  for (int64_t k = 0; k < t->numel; k++) {
    double u = rt_uniform(77, stream, (uint64_t)k);
    t->d[k] = integer ? floor(lo + (hi - lo + 1) * u) : (double)(float)(lo + (hi - lo) * u);
  }
}

static double load1(const void *p, IrDType t, int64_t i) {
  return t == IR_F32 ? ((const float *)p)[i] : t == IR_F64 ? ((const double *)p)[i] : 0;
}

/* The pass pipeline on the compiled functions (as `smelt compile --train`),
 * the interpreter keeping the unoptimized graph; 0: none. */
static int opt_level = 0;
/* fused kernels holding an optimizer update in the last compiled train
 * function (with opt_level 1) */
static int fused_updates = 0;

static void count_fused_updates(const IrGraph *t) {
  CgKernel *ks;
  int nk = cg_kernels(t, &ks);
  fused_updates = 0;
  for (int k = 0; k < nk; k++)
    if (ks[k].nm > 1 && strstr(ks[k].anchor->op->name, "_update") &&
        !strstr(ks[k].mem[0]->op->name, "_update"))
      fused_updates++;
  cg_kernels_free(ks, nk);
}

/* `steps` training steps of `text` (a model with a train directive),
 * compiled vs interpreted; returns the worst relative parameter error. */
static double check_steps(const char *text, int steps, double nclasses, double lr0, double rtol,
                          double atol) {
  IrGraph *g = test_parse("train.smelt", text);
  SmDiag d;
  sm_diag_init(&d);
  TrainProgram tp;
  test_training_program(g, &tp);
  /* the interpreter runs the unoptimized train function */
  IrGraph *ref = ir_graph_clone(tp.train);
  CgProgram prog = cg_program_train(tp.infer, tp.eval, tp.train, tp.nweights, &tp.desc);
  if (opt_level) {
    for (int f = 0; f < 3; f++) {
      PassOptions po = {.opt_level = opt_level, .inference = f < 2, .shared_params = true,
                        .verify = true};
      if (pass_run_pipeline(prog.funcs[f], &po, &d) != SM_OK) {
        print_error("%s", sm_diag_text(&d));
        fail();
      }
    }
    count_fused_updates(tp.train);
  }
  for (int f = 0; f < 3; f++) plancheck(prog.funcs[f]);
  LoadedProgram lp;
  program_load(&prog, "-O2 -march=native", &lp);
  const RtModelDesc *desc = lp.desc;
  RtModel *m = rt_model_create(desc);
  assert_non_null(m);

  IrGraph *t = ref;
  IrTensor *params = calloc((size_t)t->nparams + 1, sizeof *params);
  ir_init_params(t, params);
  IrTensor ins[4];
  ins[0] = ir_tensor_new(t->inputs[0]->type);
  ins[1] = ir_tensor_new(t->inputs[1]->type);
  ins[2] = ir_tensor_new(t->inputs[2]->type);
  ins[3] = ir_tensor_new(t->inputs[3]->type);
  bool int_labels = !ir_dtype_is_float(t->inputs[1]->type.dtype);
  IrTensor outs[2];
  const RtFuncDesc *tf = &desc->funcs[desc->train->train_fn];
  for (int s = 1; s <= steps; s++) {
    fill(&ins[0], (uint64_t)(10 * s), 0, 1, false);
    fill(&ins[1], (uint64_t)(10 * s + 1), int_labels ? 0 : -1, int_labels ? nclasses - 1 : 1, int_labels);
    ins[2].d[0] = (float)(lr0 / s);
    ins[3].d[0] = s;
    assert_int_equal(ir_interpret(t, ins, params, outs, &d), SM_OK);
    for (int i = 0; i < 4; i++)
      program_store(rt_model_tensor(m, &tf->inputs[i]), t->inputs[i]->type.dtype, ins[i].numel, ins[i].d);
    rt_model_run_func(m, desc->train->train_fn);
    double gl = load1(rt_model_tensor(m, &tf->outputs[0]), IR_F32, 0);
    if (!(fabs(gl - outs[0].d[0]) <= 1e-4 + 1e-4 * fabs(outs[0].d[0]))) {
      print_error("step %d: loss generated %.9g, reference %.9g\n", s, gl, outs[0].d[0]);
      fail();
    }
    ir_tensor_free(&outs[0]);
    ir_tensor_free(&outs[1]);
  }
  /* every parameter and state tensor */
  double worst = 0;
  int bad = 0;
  for (int p = 0; p < t->nparams; p++) {
    const RtTensorDesc *pd = &desc->params[p];
    assert_string_equal(pd->name, t->params[p]->name);
    const void *gp = rt_model_tensor(m, pd);
    for (int64_t k = 0; k < params[p].numel; k++) {
      double got = load1(gp, t->params[p]->type.dtype, k), want = params[p].d[k];
      double err = fabs(got - want);
      if (fabs(want) > 1e-3 && err / fabs(want) > worst) worst = err / fabs(want);
      if (!(err <= atol + rtol * fabs(want)) && bad++ < 5)
        print_error("param %s[%lld]: generated %.9g, reference %.9g\n", pd->name, (long long)k, got, want);
    }
  }
  if (bad) fail();
  tensors_free(ins, 4, false);
  tensors_free(params, t->nparams, true);
  rt_model_free(m);
  program_unload(&lp);
  train_program_free(&tp);
  ir_graph_free(ref);
  ir_graph_free(g);
  sm_diag_free(&d);
  return worst;
}


/* whole examples: f32 programs vs the double interpreter over 3 steps at
 * lr 1e-3; Adam's normalized first steps turn rounding noise in tiny
 * gradients into full-size updates, hence rtol 1e-3 */
static void test_examples_three_steps(void **state) {
  (void)state;
  const char *ex[] = {"mlp.smelt", "lenet.smelt", "cnn_bn.smelt"};
  for (int i = 0; i < 3; i++) {
    char *src = test_read_example(ex[i]);
    double w = check_steps(src, 3, 10, 1e-3, 1e-3, 1e-5);
    printf("# %s: 3 training steps, worst relative parameter error %.3g\n", ex[i], w);
    free(src);
  }
}

static const char *tiny = "model tiny\nseed 5\n"
                          "input x: f32[6,5]\ninput y: i64[6]\n"
                          "param w: f32[4,5] = xavier_uniform\nparam b: f32[4] = uniform(-0.1, 0.1)\n"
                          "param w2: f32[3,4] = he_normal\n"
                          "h = gemm(x, w, b, transB=1)\na = tanh(h)\nd = dropout(a, ratio=0.25)\n"
                          "z = gemm(d, w2, transB=1)\nloss = cross_entropy(z, y)\noutput z\n"
                          "train loss=loss\n";

static void with_optimizer(const char *opt_line, const char *extra) {
  char text[2048];
  snprintf(text, sizeof text, "%s%s\n%s", tiny, opt_line, extra ? extra : "");
  check_steps(text, 4, 3, 0.05, 1e-4, 1e-6);
}

/* every optimizer, with weight decay, L1, clipping, freezing, lr_mult */
static void test_optimizers(void **state) {
  (void)state;
  with_optimizer("optimizer sgd lr=0.1", NULL);
  with_optimizer("optimizer sgd lr=0.1 momentum=0.9 weight_decay=0.01", NULL);
  with_optimizer("optimizer sgd lr=0.1 momentum=0.8 nesterov=1 l1=0.001", NULL);
  with_optimizer("optimizer adam lr=0.01 weight_decay=0.001", NULL);
  with_optimizer("optimizer adamw lr=0.01 weight_decay=0.1", NULL);
  with_optimizer("optimizer rmsprop lr=0.01", NULL);
  with_optimizer("optimizer adagrad lr=0.1", NULL);
  with_optimizer("optimizer sgd lr=0.5", "param_group w2 freeze=1\nparam_group b lr_mult=10\n");
  char text[2048];
  snprintf(text, sizeof text, "%s", tiny);
  char *p = strstr(text, "train loss=loss");
  snprintf(p, sizeof text - (size_t)(p - text), "train loss=loss clip_norm=0.05\noptimizer sgd lr=1\n");
  check_steps(text, 3, 3, 0.05, 1e-4, 1e-6);
  snprintf(p, sizeof text - (size_t)(p - text), "train loss=loss clip_value=0.01\noptimizer sgd lr=1\n");
  check_steps(text, 3, 3, 0.05, 1e-4, 1e-6);
}

/* Weight gradients of a conv, a gemm and a matmul, each small enough for
 * one K block: with the pipeline, every weight's optimizer update runs in
 * the epilogue of the GEMM computing its gradient (the gradient never
 * reaches memory); compiled and optimized vs the unoptimized graph in the
 * interpreter, every optimizer. */
static const char *mid = "model mid\nseed 7\n"
                         "input x: f32[8,3,6,6]\ninput y: i64[8]\n"
                         "param cw: f32[4,3,3,3] = he_uniform\nparam cb: f32[4] = zeros\n"
                         "param w: f32[24,64] = xavier_uniform\nparam b: f32[24] = uniform(-0.1, 0.1)\n"
                         "param w2: f32[24,10] = he_normal\n"
                         "c = conv2d(x, cw, cb)\nr = relu(c)\nf = flatten(r)\n"
                         "h = gemm(f, w, b, transB=1)\na = tanh(h)\nz = matmul(a, w2)\n"
                         "loss = cross_entropy(z, y)\noutput z\n";

static void fused_with(const char *train_line, const char *opt_line, int want_fused) {
  char text[4096];
  snprintf(text, sizeof text, "%s%s\n%s\n", mid, train_line, opt_line);
  opt_level = 1;
  fused_updates = -1;
  double w = check_steps(text, 4, 10, 0.05, 1e-4, 1e-6);
  opt_level = 0;
  printf("# %s, %s: %d fused updates, worst rel %.3g\n", train_line, opt_line, fused_updates, w);
  assert_int_equal(fused_updates, want_fused);
}

static void test_fused_updates(void **state) {
  (void)state;
  const char *opts[] = {
      "optimizer sgd lr=0.1",
      "optimizer sgd lr=0.1 momentum=0.9 weight_decay=0.01",
      "optimizer sgd lr=0.1 momentum=0.8 nesterov=1 l1=0.001 dampening=0",
      "optimizer adam lr=0.01 weight_decay=0.001",
      "optimizer adamw lr=0.01 weight_decay=0.1",
      "optimizer rmsprop lr=0.01",
      "optimizer adagrad lr=0.1",
  };
  for (int i = 0; i < (int)(sizeof opts / sizeof *opts); i++)
    fused_with("train loss=loss", opts[i], 3);
  /* clip_value: the clip joins the epilogue before the update */
  fused_with("train loss=loss clip_value=0.01", "optimizer adam lr=0.01", 3);
  /* clip_norm needs every gradient before any update: nothing fuses */
  fused_with("train loss=loss clip_norm=0.05", "optimizer sgd lr=1 momentum=0.9", 0);
  /* frozen weights have no update; lr_mult reaches the fused form */
  fused_with("train loss=loss", "optimizer sgd lr=0.5\nparam_group w2 freeze=1\n"
             "param_group cw lr_mult=10", 2);
}

/* whole examples through the pipeline (fused updates in the gemms'
 * weight gradients), with the optimizers that keep state */
static void test_examples_fused(void **state) {
  (void)state;
  const char *ex[] = {"mlp.smelt", "lenet.smelt"};
  const char *opts[] = {"optimizer adam lr=0.001", "optimizer sgd lr=0.05 momentum=0.9"};
  for (int i = 0; i < 2; i++)
    for (int o = 0; o < 2; o++) {
      char *src = test_read_example(ex[i]);
      /* the example's optimizer line replaced */
      char *line = strstr(src, "\noptimizer ");
      assert_non_null(line);
      char *rest = strchr(line + 1, '\n');
      line[1] = 0;
      size_t n = strlen(src) + strlen(opts[o]) + (rest ? strlen(rest) : 0) + 2;
      char *text = malloc(n);
      snprintf(text, n, "%s%s%s", src, opts[o], rest ? rest : "\n");
      opt_level = 1;
      double w = check_steps(text, 3, 10, 1e-3, 1e-3, 1e-5);
      opt_level = 0;
      printf("# %s with %s, optimized: %d fused updates, worst rel %.3g\n", ex[i], opts[o],
             fused_updates, w);
      assert_int_equal(fused_updates, 3); /* the three gemm weights */
      free(text);
      free(src);
    }
}

/* frozen parameters never change; trained ones do */
static void test_freeze_structure(void **state) {
  (void)state;
  char text[2048];
  snprintf(text, sizeof text, "%soptimizer sgd lr=0.5\nparam_group \"w*\" freeze=1\n", tiny);
  IrGraph *g = test_parse("train.smelt", text);
  SmDiag d;
  sm_diag_init(&d);
  TrainProgram tp;
  assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
  int updates = 0;
  for (int k = 0; k < tp.train->nnodes; k++) {
    const IrNode *n = tp.train->nodes[k];
    if (strstr(n->op->name, "_update")) {
      updates++;
      assert_string_equal(n->in[0]->name, "b");
    }
  }
  assert_int_equal(updates, 1);
  /* eval gives per-sample losses; infer drops the labels */
  assert_int_equal(tp.eval->outputs[0]->type.rank, 1);
  assert_int_equal(tp.eval->outputs[0]->type.dims[0], 6);
  assert_int_equal(tp.infer->ninputs, 1);
  assert_int_equal(tp.train->ninputs, 4);
  train_program_free(&tp);
  ir_graph_free(g);
  sm_diag_free(&d);
}

static void test_errors(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  TrainProgram tp;
  IrGraph *g = test_parse("train.smelt", "input x: f32[2,3]\ny = relu(x)\noutput y\n");
  assert_int_equal(pass_training_program(g, &tp, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "has no `train loss=NAME` directive"));
  ir_graph_free(g);
  g = test_parse("train.smelt", "input x: f32[2,3]\ny = relu(x)\noutput y\ntrain loss=nope\n");
  assert_int_equal(pass_training_program(g, &tp, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "train.smelt:4:7: error: train: loss='nope' names no value"));
  ir_graph_free(g);
  g = test_parse("train.smelt", "input x: f32[2,3]\ny = relu(x)\noutput y\ntrain loss=y\n");
  assert_int_equal(pass_training_program(g, &tp, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "loss 'y' must be a float scalar"));
  ir_graph_free(g);
  char text[2048];
  snprintf(text, sizeof text, "%soptimizer lbfgs\n", tiny);
  g = test_parse("train.smelt", text);
  assert_int_equal(pass_training_program(g, &tp, &d), SM_ERR_INVALID);
  assert_non_null(strstr(sm_diag_text(&d), "unknown optimizer 'lbfgs'"));
  ir_graph_free(g);
  sm_diag_free(&d);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* the compiler driver forks */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_freeze_structure),
      cmocka_unit_test(test_optimizers),
      cmocka_unit_test(test_examples_three_steps),
      cmocka_unit_test(test_fused_updates),
      cmocka_unit_test(test_examples_fused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
