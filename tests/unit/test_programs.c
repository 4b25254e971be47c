/* Programs beyond one supervised train step: several training steps
 * (`step` directives, e.g. a GAN) with the random_normal op they draw
 * their noise from, and text generation from next-token models:
 *  - random_normal: generated vs reference, its distribution, fresh per step;
 *  - the training pass: each step updates only its parameters, errors;
 *  - compiled, optimized steps vs the reference interpreter running the
 *    unoptimized steps, over alternating batches;
 *  - the compiled program's `train` loop (rt_steps.c) through the CLI:
 *    metrics, samples as a PGM grid, resume, usage errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/testfile.h"
#include "helpers/opcheck.h"
#include "helpers/progload.h"
#include "helpers/shell.h"
#include "passes/passes.h"
#include "rt_model.h"

/* A tiny GAN: G maps 4 noise values to 16 "pixels" (batch norm, leaky
 * ReLU, tanh); D maps 16 pixels to one logit. */
static const char *tiny_gan =
    "model tgan\n"
    "input x: f32[8,16]\n"
    "param g_w1: f32[12,4] = he_uniform\n"
    "param g_s1: f32[12] = ones\n"
    "param g_o1: f32[12] = zeros\n"
    "param g_m1: f32[12] = zeros\n"
    "param g_v1: f32[12] = ones\n"
    "param g_w2: f32[16,12] = xavier_uniform\n"
    "param g_b2: f32[16] = zeros\n"
    "param d_w1: f32[10,16] = he_uniform\n"
    "param d_b1: f32[10] = zeros\n"
    "param d_w2: f32[1,10] = xavier_uniform\n"
    "param d_b2: f32[1] = zeros\n"
    "z = random_normal(shape=[8,4], stream=5)\n"
    "h1 = gemm(z, g_w1, transB=1)\n"
    "n1 = batchnorm(h1, g_s1, g_o1, g_m1, g_v1)\n"
    "a1 = leaky_relu(n1, alpha=0.2)\n"
    "h2 = gemm(a1, g_w2, g_b2, transB=1)\n"
    "fake = tanh(h2)\n"
    "r1 = gemm(x, d_w1, d_b1, transB=1)\n"
    "ra = leaky_relu(r1, alpha=0.2)\n"
    "rl = gemm(ra, d_w2, d_b2, transB=1)\n"
    "f1 = gemm(fake, d_w1, d_b1, transB=1)\n"
    "fa = leaky_relu(f1, alpha=0.2)\n"
    "fl = gemm(fa, d_w2, d_b2, transB=1)\n"
    "ones = constant(shape=[8,1], value=[1])\n"
    "zeros = constant(shape=[8,1], value=[0])\n"
    "dr = bce_logits(rl, ones)\n"
    "df = bce_logits(fl, zeros)\n"
    "d_loss = add(dr, df)\n"
    "g_loss = bce_logits(fl, ones)\n"
    "k = constant(value=[100])\n"
    "img = mul(fake, k)\n"
    "output img\n"
    "train data=x epochs=2\n"
    "step disc loss=d_loss params=\"d_*\"\n"
    "step gen loss=g_loss params=\"g_*\"\n"
    "optimizer %s\n";

static char *gan_text(const char *optimizer) {
  size_t n = strlen(tiny_gan) + strlen(optimizer) + 1;
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, tiny_gan, optimizer);
  return s;
}

/* ---- random_normal ---- */

static void test_random_normal_generated(void **state) {
  (void)state;
  opcheck("model rn\ninput step: i64[]\n"
          "a = random_normal(step, shape=[3,5,7], seed=3, stream=2)\n"
          "b = random_normal(shape=[33], mean=2, scale=0.5)\n"
          "c = random_normal(step, shape=[1000], dtype=\"f64\", stream=9)\n"
          "output a\noutput b\noutput c\n");
  expect_parse_error("model rn\nz = random_normal(shape=[3], dtype=\"i64\")\noutput z\n",
                     "dtype must be f32 or f64", NULL);
  expect_parse_error("model rn\ninput s: f32[]\nz = random_normal(s, shape=[3])\noutput z\n",
                     "must be an i64 scalar", NULL);
  expect_parse_error("model rn\nz = random_normal(shape=[-3])\noutput z\n", "negative dim", NULL);
}

/* mean and standard deviation of 40,000 draws, and fresh values per step */
static void test_random_normal_distribution(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = test_parse_into("steps.smelt", "model rn\ninput step: i64[]\n"
                     "z = random_normal(step, shape=[40000], mean=1, scale=3)\noutput z\n", &d);
  IrTensor in = ir_tensor_new(g->inputs[0]->type), out1[1], out2[1];
  in.d[0] = 1;
  assert_int_equal(ir_interpret(g, &in, NULL, out1, &d), SM_OK);
  in.d[0] = 2;
  assert_int_equal(ir_interpret(g, &in, NULL, out2, &d), SM_OK);
  double s = 0, ss = 0;
  int64_t same = 0, n = out1[0].numel;
  for (int64_t i = 0; i < n; i++) {
    s += out1[0].d[i];
    ss += out1[0].d[i] * out1[0].d[i];
    same += out1[0].d[i] == out2[0].d[i];
  }
  double mean = s / (double)n, sd = sqrt(ss / (double)n - mean * mean);
  /* standard errors: 3/200 = 0.015 for the mean, about 0.011 for sd */
  assert_true(fabs(mean - 1) < 0.06);
  assert_true(fabs(sd - 3) < 0.05);
  assert_true(same < 10);
  ir_tensor_free(&in);
  ir_tensor_free(&out1[0]);
  ir_tensor_free(&out2[0]);
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* ---- the training pass ---- */

static bool updates(const IrGraph *g, const char *param) {
  for (int k = 0; k < g->nnodes; k++)
    if (strstr(g->nodes[k]->op->name, "_update") && !strcmp(g->nodes[k]->in[0]->name, param))
      return true;
  return false;
}

static void test_steps_program(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  char *text = gan_text("adam lr=0.001");
  IrGraph *g = test_parse_into("steps.smelt", text, &d);
  TrainProgram tp;
  assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
  assert_int_equal(tp.nsteps, 2);
  assert_null(tp.eval);
  assert_string_equal(tp.step_names[0], "disc");
  assert_string_equal(tp.step_names[1], "gen");
  /* infer: the samples from fixed noise, no inputs */
  assert_int_equal(tp.infer->ninputs, 0);
  assert_int_equal(tp.infer->noutputs, 1);
  assert_string_equal(tp.infer->outputs[0]->name, "img");
  /* each step updates exactly its own trainable parameters */
  const char *dps[] = {"d_w1", "d_b1", "d_w2", "d_b2"};
  const char *gps[] = {"g_w1", "g_s1", "g_o1", "g_w2", "g_b2"};
  for (size_t i = 0; i < 4; i++) {
    assert_true(updates(tp.steps[0], dps[i]));
    assert_false(updates(tp.steps[1], dps[i]));
  }
  for (size_t i = 0; i < 5; i++) {
    assert_false(updates(tp.steps[0], gps[i]));
    assert_true(updates(tp.steps[1], gps[i]));
  }
  assert_false(updates(tp.steps[1], "g_m1")); /* running statistics */
  /* the first step holds every parameter, the other's Adam state too */
  assert_non_null(ir_graph_find(tp.steps[0], "g_w1.m"));
  assert_non_null(ir_graph_find(tp.steps[0], "d_w1.m"));
  assert_null(ir_graph_find(tp.steps[1], "d_w1.m"));
  /* noise in the steps is keyed on the step input */
  for (int s = 0; s < 2; s++) {
    bool keyed = false;
    for (int k = 0; k < tp.steps[s]->nnodes; k++) {
      const IrNode *n = tp.steps[s]->nodes[k];
      if (!strcmp(n->op->name, "random_normal")) keyed = n->nin == 1 && !strcmp(n->in[0]->name, "__step");
    }
    assert_true(keyed);
    assert_int_equal(tp.steps[s]->ninputs, 3); /* x, __lr, __step */
  }
  assert_int_equal(tp.desc.in_y, -1);
  assert_int_equal(tp.desc.eval_fn, -1);
  assert_int_equal(tp.desc.nsteps, 2);
  train_program_free(&tp);
  ir_graph_free(g);
  free(text);
  sm_diag_free(&d);
}

static void expect_train_error(const char *text, const char *needle) {
  expect_training_error("steps.smelt", text, needle);
}

static void test_step_errors(void **state) {
  (void)state;
  const char *base = "model e\ninput x: f32[4,3]\nparam w: f32[2,3] = ones\nparam v: f32[2,3] = ones\n"
                     "y = gemm(x, w, transB=1)\nu = gemm(x, v, transB=1)\n"
                     "t = constant(shape=[4,2], value=[1])\nl = mse(y, t)\nm = mse(u, t)\n"
                     "output y\n";
  char buf[2048];
  snprintf(buf, sizeof buf, "%sstep a loss=l params=\"w\"\nstep a loss=m params=\"v\"\n", base);
  expect_train_error(buf, "the name 'a' is taken");
  snprintf(buf, sizeof buf, "%sstep loss=l\n", base);
  expect_train_error(buf, "step: needs a name");
  snprintf(buf, sizeof buf, "%sstep a loss=l params=\"q*\"\n", base);
  expect_train_error(buf, "no trainable parameter matching \"q*\" reaches loss 'l'");
  snprintf(buf, sizeof buf, "%sstep a loss=nope\n", base);
  expect_train_error(buf, "names no value");
  snprintf(buf, sizeof buf, "%strain loss=l\nstep a loss=m\n", base);
  expect_train_error(buf, "loss= goes on each `step` directive");
  snprintf(buf, sizeof buf, "%sstep infer loss=l\n", base);
  expect_train_error(buf, "the name 'infer' is taken");
  snprintf(buf, sizeof buf, "model e\ninput x: f32[4,3]\nparam w: f32[2,3] = ones\n"
                            "y = gemm(x, w, transB=1)\nt = constant(shape=[4,2], value=[1])\n"
                            "l = mse(y, t)\noutput l\nstep a loss=l\n");
  expect_train_error(buf, "declares no output besides its losses");
}

/* ---- compiled steps vs the interpreter ---- */

static void test_steps_vs_interpreter(void **state) {
  (void)state;
  const char *opts[] = {"sgd lr=0.05 momentum=0.9", "adam lr=0.01 beta1=0.5"};
  for (size_t o = 0; o < 2; o++) {
    SmDiag d;
    sm_diag_init(&d);
    char *text = gan_text(opts[o]);
    IrGraph *g = test_parse_into("steps.smelt", text, &d);
    TrainProgram tp, tq; /* compiled (optimized) and interpreted (as built) */
    assert_int_equal(pass_training_program(g, &tp, &d), SM_OK);
    assert_int_equal(pass_training_program(g, &tq, &d), SM_OK);
    CgProgram prog = cg_program_steps(tp.infer, tp.steps, tp.step_names, tp.nsteps, tp.nweights,
                                      &tp.desc);
    for (int f = 0; f < prog.nfuncs; f++) {
      PassOptions po = {.opt_level = 1, .inference = cg_program_is_inference(&prog, f),
                        .shared_params = true, .verify = true};
      assert_int_equal(pass_run_pipeline(prog.funcs[f], &po, &d), SM_OK);
    }
    LoadedProgram lp;
    program_load(&prog, "-O2", &lp);
    const RtModelDesc *desc = lp.desc;
    RtModel *m = rt_model_create(desc);
    assert_non_null(m);
    /* the interpreter's parameters: the master's (steps[0]) by name */
    IrGraph *master = tp.steps[0];
    IrTensor *mp = calloc((size_t)master->nparams + 1, sizeof *mp);
    ir_init_params(master, mp);
    IrTensor x = ir_tensor_new(master->inputs[0]->type);
    for (int64_t i = 0; i < x.numel; i++) x.d[i] = (float)(0.5 + 0.4 * sin(0.7 * (double)i));
    double worst_loss = 0;
    for (int64_t step = 1; step <= 3; step++)
      for (int s = 0; s < tp.nsteps; s++) {
        IrGraph *sg = tq.steps[s];
        IrTensor *pp = calloc((size_t)sg->nparams + 1, sizeof *pp);
        for (int p = 0; p < sg->nparams; p++)
          pp[p] = mp[ir_graph_find(master, sg->params[p]->name)->index];
        IrTensor in[3] = {x, ir_tensor_new(sg->inputs[1]->type), ir_tensor_new(sg->inputs[2]->type)};
        in[1].d[0] = (float)(o ? 0.01 : 0.05);
        in[2].d[0] = (double)step;
        IrTensor out[1];
        assert_int_equal(ir_interpret(sg, in, pp, out, &d), SM_OK);
        int fn = desc->train->step_fn[s];
        const RtFuncDesc *f = &desc->funcs[fn];
        for (int i = 0; i < 3; i++)
          for (int64_t k = 0; k < in[i].numel; k++)
            rt_elem_put(f->inputs[i].dtype, rt_model_func_input(m, fn, i), k, in[i].d[k]);
        rt_model_run_func(m, fn);
        double got = rt_elem_get(f->outputs[0].dtype, rt_model_func_output(m, fn, 0), 0);
        double err = fabs(got - out[0].d[0]) / (fabs(out[0].d[0]) + 1e-6);
        worst_loss = err > worst_loss ? err : worst_loss;
        assert_true(fabs(got - out[0].d[0]) <= 1e-4 + 1e-4 * fabs(out[0].d[0]));
        ir_tensor_free(&out[0]);
        ir_tensor_free(&in[1]);
        ir_tensor_free(&in[2]);
        free(pp);
      }
    /* every parameter and optimizer state after 3 alternating batches */
    int bad = 0;
    double worst = 0;
    for (int p = 0; p < master->nparams; p++) {
      const RtTensorDesc *pd = &desc->params[p];
      assert_string_equal(pd->name, master->params[p]->name);
      const void *gp = rt_model_tensor(m, pd);
      for (int64_t k = 0; k < mp[p].numel; k++) {
        double got = rt_elem_get(pd->dtype, gp, k), want = mp[p].d[k], err = fabs(got - want);
        if (fabs(want) > 1e-3 && err / fabs(want) > worst) worst = err / fabs(want);
        if (!(err <= 1e-5 + 1e-3 * fabs(want)) && bad++ < 5)
          print_error("%s: param %s[%lld]: generated %.9g, reference %.9g\n", opts[o], pd->name,
                      (long long)k, got, want);
      }
    }
    printf("# %s: worst relative error: losses %.2e, parameters %.2e\n", opts[o], worst_loss, worst);
    assert_int_equal(bad, 0);
    ir_tensor_free(&x);
    for (int p = 0; p < master->nparams; p++) ir_tensor_free(&mp[p]);
    free(mp);
    rt_model_free(m);
    program_unload(&lp);
    train_program_free(&tp);
    train_program_free(&tq);
    ir_graph_free(g);
    free(text);
    sm_diag_free(&d);
  }
}

/* ---- the train loop through the compiled program's CLI ---- */

static char dir[] = "/tmp/smelt-steps-XXXXXX";

static void test_steps_cli(void **state) {
  (void)state;
  const char *bin = getenv("SMELT_BIN");
  if (!bin) {
    print_error("SMELT_BIN is not set (run through ctest)\n");
    fail();
  }
  assert_non_null(mkdtemp(dir));
  char path[512];
  snprintf(path, sizeof path, "%s/tgan.smelt", dir);
  char *text = gan_text("adam lr=0.01 beta1=0.5");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  free(text);
  assert_int_equal(sh("cd %s && %s compile tgan.smelt --train -o tgan", dir, bin), 0);
  /* 40 samples of 16 features: 5 batches of 8 */
  float xs[40 * 16];
  for (int i = 0; i < 40 * 16; i++) xs[i] = (float)(0.5 + 0.5 * sin(0.37 * i));
  int64_t dims[2] = {40, 16};
  RtErr e = {{0}};
  snprintf(path, sizeof path, "%s/x.npy", dir);
  assert_int_equal(rt_npy_write(path, RT_F32, 2, dims, xs, &e), 0);

  assert_int_equal(sh("cd %s && ./tgan train --train-x x.npy --epochs 3 --metrics m.csv "
                      "--samples s.pgm --save w3.safetensors > out.txt 2>&1", dir), 0);
  snprintf(path, sizeof path, "%s/m.csv", dir);
  char *csv = slurp(path, NULL);
  assert_non_null(csv);
  assert_non_null(strstr(csv, "epoch,step,lr,disc_loss,gen_loss,seconds\n"));
  assert_non_null(strstr(csv, "\n3,15,0.01,"));
  free(csv);
  /* 8 images of 4x4 in a 3x3 grid with 2-pixel gaps: 3*4 + 4*2 = 20 */
  snprintf(path, sizeof path, "%s/s.pgm", dir);
  size_t len;
  char *pgm = slurp(path, &len);
  assert_non_null(pgm);
  assert_int_equal(strncmp(pgm, "P5\n20 20\n255\n", 13), 0);
  assert_int_equal(len, 13 + 400);
  free(pgm);
  /* infer with the saved weights draws the same samples */
  assert_int_equal(sh("cd %s && ./tgan infer --weights w3.safetensors --output s2.pgm > /dev/null", dir), 0);
  char a[600], b[600];
  snprintf(a, sizeof a, "%s/s.pgm", dir);
  snprintf(b, sizeof b, "%s/s2.pgm", dir);
  assert_true(same_file(a, b));
  /* 1 epoch + resume to 3 == 3 epochs straight */
  assert_int_equal(sh("cd %s && ./tgan train --train-x x.npy --epochs 1 --checkpoint c.st > /dev/null && "
                      "./tgan train --train-x x.npy --epochs 3 --resume c.st --save w3r.safetensors "
                      "> /dev/null", dir), 0);
  snprintf(a, sizeof a, "%s/w3.safetensors", dir);
  snprintf(b, sizeof b, "%s/w3r.safetensors", dir);
  assert_true(same_file(a, b));
  /* usage errors: exit 2 and a message */
  assert_int_equal(sh("cd %s && ./tgan eval --train-x x.npy 2> err.txt", dir), 2);
  assert_int_equal(sh("cd %s && grep -q 'has no eval function' err.txt", dir), 0);
  assert_int_equal(sh("cd %s && ./tgan train --train-x x.npy --samples s.npy 2> err.txt", dir), 2);
  assert_int_equal(sh("cd %s && ./tgan train --train-x x.npy --bogus 1 2> err.txt", dir), 2);
  assert_int_equal(sh("cd %s && ./tgan train 2> err.txt", dir), 2);
  /* wrong data: exit 1 naming the problem */
  int64_t bad_dims[2] = {40, 15};
  snprintf(path, sizeof path, "%s/bad.npy", dir);
  assert_int_equal(rt_npy_write(path, RT_F32, 2, bad_dims, xs, &e), 0);
  assert_int_equal(sh("cd %s && ./tgan train --train-x bad.npy 2> err.txt", dir), 1);
  assert_int_equal(sh("cd %s && grep -q '15 elements per sample' err.txt", dir), 0);
  sh("rm -rf %s", dir);
}

/* ---- generate ---- */

/* A next-token "model" whose logits are row id of the window's last token
 * of W: with W the shift matrix (W[i][(i+1) % 96] = scale) greedy decoding
 * continues the alphabet, whatever the prompt's other tokens. */
static const char *shift_model = "model shift\n"
                                 "input x: i64[4,3]\n"
                                 "param w: f32[96,96] = zeros\n"
                                 "e = embedding(x, w)\n"
                                 "last = slice(e, starts=[2], ends=[3], axes=[1])\n"
                                 "logits = reshape(last, shape=[4,96])\n"
                                 "output logits\n";

static void write_shift_weights(const char *path, double scale) {
  static float w[96 * 96];
  memset(w, 0, sizeof w);
  for (int i = 0; i < 96; i++) w[i * 96 + (i + 1) % 96] = (float)scale;
  int64_t dims[2] = {96, 96};
  RtStEntry e = {"w", RT_F32, 2, dims, w};
  RtErr err = {{0}};
  assert_int_equal(rt_st_write(path, &e, 1, &err), 0);
}

static void test_generate_cli(void **state) {
  (void)state;
  const char *bin = getenv("SMELT_BIN");
  assert_non_null(bin);
  char gdir[] = "/tmp/smelt-gen-XXXXXX", path[600];
  assert_non_null(mkdtemp(gdir));
  snprintf(path, sizeof path, "%s/shift.smelt", gdir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(shift_model, f);
  fclose(f);
  assert_int_equal(sh("cd %s && %s compile shift.smelt -o shift", gdir, bin), 0);
  snprintf(path, sizeof path, "%s/w.safetensors", gdir);
  write_shift_weights(path, 1);
  snprintf(path, sizeof path, "%s/w100.safetensors", gdir);
  write_shift_weights(path, 100);
  /* greedy: the prompt, then the alphabet continued; '~' wraps to newline */
  assert_int_equal(sh("cd %s && ./shift generate --weights w.safetensors --prompt xab "
                      "--length 10 --temperature 0 > g.txt", gdir), 0);
  snprintf(path, sizeof path, "%s/g.txt", gdir);
  char *g = slurp(path, NULL);
  assert_non_null(g);
  assert_string_equal(g, "xabcdefghijkl\n");
  free(g);
  assert_int_equal(sh("cd %s && ./shift generate --weights w.safetensors --prompt '|}' "
                      "--length 3 --temperature 0 > g.txt", gdir), 0);
  g = slurp(path, NULL);
  assert_string_equal(g, "|}~\n \n");
  free(g);
  /* sharp logits: sampling at temperature 1 follows them too, in every row */
  assert_int_equal(sh("cd %s && ./shift generate --weights w100.safetensors --prompt a "
                      "--length 5 --temperature 1 --count 2 > g.txt", gdir), 0);
  g = slurp(path, NULL);
  assert_string_equal(g, "--- sample 1 ---\nabcdef\n--- sample 2 ---\nabcdef\n");
  free(g);
  /* flat logits (zero weights): draws depend on the seed, deterministically */
  assert_int_equal(sh("cd %s && ./shift generate --prompt a --length 40 --seed 1 > s1.txt && "
                      "./shift generate --prompt a --length 40 --seed 1 > s1b.txt && "
                      "./shift generate --prompt a --length 40 --seed 2 > s2.txt", gdir), 0);
  char a[700], b[700];
  snprintf(a, sizeof a, "%s/s1.txt", gdir);
  snprintf(b, sizeof b, "%s/s1b.txt", gdir);
  assert_true(same_file(a, b));
  snprintf(b, sizeof b, "%s/s2.txt", gdir);
  assert_false(same_file(a, b));
  size_t n;
  char *s1 = slurp(a, &n);
  assert_int_equal(n, 1 + 40 + 1);
  for (size_t i = 0; i < n; i++) assert_true(s1[i] == '\n' || (s1[i] >= 32 && s1[i] <= 126));
  free(s1);
  /* token ids */
  assert_int_equal(sh("cd %s && ./shift generate --weights w.safetensors --vocab ids --prompt '94 95' "
                      "--length 3 --temperature 0 > g.txt", gdir), 0);
  g = slurp(path, NULL);
  assert_string_equal(g, "94 95 0 1 2 \n");
  free(g);
  /* usage errors */
  assert_int_equal(sh("cd %s && ./shift generate --prompt \"$(printf 'a\\tb')\" 2> err.txt", gdir), 2);
  assert_int_equal(sh("cd %s && grep -q 'not in the ascii96 vocabulary' err.txt", gdir), 0);
  assert_int_equal(sh("cd %s && ./shift generate --count 5 2> err.txt", gdir), 2);
  assert_int_equal(sh("cd %s && ./shift generate --temperature -1 2> err.txt", gdir), 2);
  assert_int_equal(sh("cd %s && ./shift generate --weights nope.safetensors 2> err.txt", gdir), 1);
  sh("rm -rf %s", gdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_normal_generated),
      cmocka_unit_test(test_random_normal_distribution),
      cmocka_unit_test(test_steps_program),
      cmocka_unit_test(test_step_errors),
      cmocka_unit_test(test_steps_vs_interpreter),
      cmocka_unit_test(test_steps_cli),
      cmocka_unit_test(test_generate_cli),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
