/* Gradients of the sequence ops against central finite differences (and the
 * compiled backward code against the interpreter): embedding through its
 * scatter-add backward op; for the composites (norms, rnn/lstm/gru,
 * attention, multihead_attention, stack, positional_encoding) this checks
 * the expansion's gradients end to end, i.e. backpropagation through time
 * for the recurrent layers. Sequences stay short (T <= 4) so the suite is
 * quick under ASan.
 *
 * Then the example models (examples/lstm_classifier.smelt,
 * gru_classifier.smelt, transformer_encoder.smelt): each builds a training
 * program, whose compiled train step matches the interpreter over a few
 * steps, and whose loss falls when training repeatedly on one batch. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "helpers/gradcheck.h"
#include "helpers/testfile.h"
#include "helpers/opcheck.h"
#include "helpers/progload.h"
#include "passes/passes.h"
#include "rt.h"
#include "rt_model.h"

/* inputs in [-1, 1): keeps the f32 backward sums of the compiled check
 * within its atol */
static GradcheckOpts seq_opts(void) {
  return gradcheck_range(-1, 1);
}

static void grad_embedding(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  o.ilo = -1; /* out-of-range ids: no gradient, no out-of-bounds access */
  o.ihi = 6;
  /* repeated ids in a 4x5 batch over 6 rows: rows accumulate */
  gradcheck_opts("input ids: i64[4,5]\nparam t: f32[6,3] = normal(1)\n"
                 "y = embedding(ids, t)\nz = tanh(y)\noutput z\n",
                 &o);
  gradcheck_opts("input ids: i32[7]\nparam t: f64[5,17] = normal(1)\n"
                 "y = embedding(ids, t)\noutput y\n",
                 &o);
}

static void grad_norms(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input x: f32[3,5]\nparam s: f32[5] = uniform(0.5, 1.5)\n"
                 "param b: f32[5] = uniform(-1, 1)\ny = layernorm(x, s, b)\noutput y\n",
                 &o);
  gradcheck_opts("input x: f32[2,3,4]\nparam s: f32[3,4] = uniform(0.5, 1.5)\n"
                 "param b: f32[3,4] = uniform(-1, 1)\ny = layernorm(x, s, b, axis=1, "
                 "epsilon=0.01)\noutput y\n",
                 &o);
  gradcheck_opts("input x: f32[2,6,3]\nparam s: f32[6] = uniform(0.5, 1.5)\n"
                 "param b: f32[6] = uniform(-1, 1)\ny = groupnorm(x, s, b, groups=3)\noutput y\n",
                 &o);
  gradcheck_opts("input x: f32[2,3,2,3]\nparam s: f32[3] = uniform(0.5, 1.5)\n"
                 "param b: f32[3] = uniform(-1, 1)\ny = instancenorm(x, s, b)\noutput y\n",
                 &o);
  /* 2-D groupnorm, one group per channel on [N, C, L], a norm feeding a
   * norm (x - mean shared by forward and backward, twice) */
  gradcheck_opts("input x: f32[3,4]\nparam s: f32[4] = uniform(0.5, 1.5)\n"
                 "param b: f32[4] = uniform(-1, 1)\ny = groupnorm(x, s, b, groups=2)\noutput y\n",
                 &o);
  gradcheck_opts("input x: f32[2,4,3]\nparam s: f32[4] = uniform(0.5, 1.5)\n"
                 "param b: f32[4] = uniform(-1, 1)\ny = groupnorm(x, s, b, groups=4)\n"
                 "param t: f32[3] = uniform(0.5, 1.5)\nparam c: f32[3] = uniform(-1, 1)\n"
                 "z = layernorm(y, t, c)\noutput z\n",
                 &o);
}

static void grad_rnn(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input x: f32[3,2,3]\ninput h0: f32[1,2,4]\n"
                 "param a: f32[4,3] = uniform(-0.5, 0.5)\nparam b: f32[4,4] = uniform(-0.5, 0.5)\n"
                 "param c: f32[4] = uniform(-0.5, 0.5)\nparam d: f32[4] = uniform(-0.5, 0.5)\n"
                 "y, h = rnn(x, a, b, c, d, h0)\noutput y, h\n",
                 &o);
  /* relu away from its kink: inputs positive, weights positive */
  GradcheckOpts p = o;
  p.lo = 0.1;
  gradcheck_opts("input x: f32[2,3,2]\n"
                 "param a: f32[2,3,2] = uniform(0.1, 0.5)\nparam b: f32[2,3,3] = uniform(0.1, 0.5)\n"
                 "param c: f32[2,3] = uniform(0.1, 0.5)\nparam d: f32[2,3] = uniform(0.1, 0.5)\n"
                 "y, h = rnn(x, a, b, c, d, activation=\"relu\", batch_first=1, "
                 "direction=\"bidirectional\")\noutput y, h\n",
                 &p);
}

static void grad_lstm(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input x: f32[4,2,3]\n"
                 "param a: f32[12,3] = uniform(-0.5, 0.5)\nparam b: f32[12,3] = uniform(-0.5, 0.5)\n"
                 "param c: f32[12] = uniform(-0.5, 0.5)\nparam d: f32[12] = uniform(-0.5, 0.5)\n"
                 "y, h, cn = lstm(x, a, b, c, d)\noutput y, h, cn\n",
                 &o);
  gradcheck_opts("input x: f32[2,3,2]\ninput h0: f32[2,2,2]\ninput c0: f32[2,2,2]\n"
                 "param a: f32[2,8,2] = uniform(-0.5, 0.5)\nparam b: f32[2,8,2] = uniform(-0.5, 0.5)\n"
                 "param c: f32[2,8] = uniform(-0.5, 0.5)\nparam d: f32[2,8] = uniform(-0.5, 0.5)\n"
                 "y, h, cn = lstm(x, a, b, c, d, h0, c0, batch_first=1, "
                 "direction=\"bidirectional\")\noutput y, cn\n",
                 &o);
}

static void grad_gru(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input x: f32[4,2,3]\n"
                 "param a: f32[9,3] = uniform(-0.5, 0.5)\nparam b: f32[9,3] = uniform(-0.5, 0.5)\n"
                 "param c: f32[9] = uniform(-0.5, 0.5)\nparam d: f32[9] = uniform(-0.5, 0.5)\n"
                 "y, h = gru(x, a, b, c, d)\noutput y, h\n",
                 &o);
  gradcheck_opts("input x: f32[3,2,2]\ninput h0: f32[2,2,2]\n"
                 "param a: f32[2,6,2] = uniform(-0.5, 0.5)\nparam b: f32[2,6,2] = uniform(-0.5, 0.5)\n"
                 "param c: f32[2,6] = uniform(-0.5, 0.5)\nparam d: f32[2,6] = uniform(-0.5, 0.5)\n"
                 "y, h = gru(x, a, b, c, d, h0, direction=\"bidirectional\")\noutput h\n",
                 &o);
  /* ONNX's default form: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn) */
  gradcheck_opts("input x: f32[3,2,3]\ninput h0: f32[2,2,2]\n"
                 "param a: f32[2,6,3] = uniform(-0.5, 0.5)\nparam b: f32[2,6,2] = uniform(-0.5, 0.5)\n"
                 "param c: f32[2,6] = uniform(-0.5, 0.5)\nparam d: f32[2,6] = uniform(-0.5, 0.5)\n"
                 "y, h = gru(x, a, b, c, d, h0, direction=\"bidirectional\", linear_before_reset=0)\n"
                 "output y, h\n",
                 &o);
}

/* stacked layers and a loss: gradients flow through both recurrences */
static void grad_stacked_lstm(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input ids: i64[2,3]\nparam emb: f32[5,3] = normal(1)\n"
                 "param a1: f32[8,3] = uniform(-0.5, 0.5)\nparam b1: f32[8,2] = uniform(-0.5, 0.5)\n"
                 "param c1: f32[8] = uniform(-0.5, 0.5)\n"
                 "param a2: f32[8,2] = uniform(-0.5, 0.5)\nparam b2: f32[8,2] = uniform(-0.5, 0.5)\n"
                 "e = embedding(ids, emb)\n"
                 "y1, h1, k1 = lstm(e, a1, b1, c1, c1, batch_first=1)\n"
                 "y2, h2, k2 = lstm(y1, a2, b2, c1, c1, batch_first=1)\noutput y2, k2\n",
                 &o);
}

static void grad_attention(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input q: f32[2,3,4]\ninput k: f32[2,5,4]\ninput v: f32[2,5,3]\n"
                 "input m: f32[3,5]\ny = attention(q, k, v, m)\noutput y\n",
                 &o);
  gradcheck_opts("input q: f32[1,2,4,3]\ninput k: f32[1,2,4,3]\ninput v: f32[1,2,4,2]\n"
                 "y = attention(q, k, v, causal=1, scale=0.8)\noutput y\n",
                 &o);
  gradcheck_opts("input x: f32[2,3,4]\nparam w: f32[12,4] = xavier_uniform\n"
                 "param b: f32[12] = uniform(-0.2, 0.2)\nparam wo: f32[4,4] = xavier_uniform\n"
                 "param bo: f32[4] = uniform(-0.2, 0.2)\n"
                 "y = multihead_attention(x, w, b, wo, bo, heads=2, causal=1)\noutput y\n",
                 &o);
}

static void grad_stack_pe(void **state) {
  (void)state;
  GradcheckOpts o = seq_opts();
  gradcheck_opts("input a: f32[2,3]\ninput b: f32[2,3]\ns = stack(a, b, axis=1)\n"
                 "p = positional_encoding(s)\noutput p\n",
                 &o);
}

/* ======================================================================
 * the example models: compiled training steps vs the interpreter, and a
 * falling loss on a fixed batch
 * ====================================================================== */

/* data: token ids in [0, vocab) (or floats in [0, 1)), labels in
 * [0, classes) */
static void fill_input(IrTensor *t, uint64_t stream, int64_t hi) {
  bool isf = ir_dtype_is_float(t->type.dtype);
  for (int64_t k = 0; k < t->numel; k++) {
    double u = rt_uniform(91, stream, (uint64_t)k);
    t->d[k] = isf ? (double)(float)u : floor(u * (double)hi);
  }
}

/* Builds the training program of examples/`file`, compiles it, runs
 * `check` steps on both the interpreter and the compiled code (loss and
 * every parameter agree), then `more` compiled steps on the same batch;
 * asserts the loss fell. vocab: token-id range of input 0 (0: floats). */
static void train_example(const char *file, int64_t vocab, int64_t classes, double lr, int check,
                          int more) {
  IrGraph *g = test_load_example(file);
  SmDiag d;
  sm_diag_init(&d);
  TrainProgram tp;
  test_training_program(g, &tp);
  CgProgram prog = cg_program_train(tp.infer, tp.eval, tp.train, tp.nweights, &tp.desc);
  LoadedProgram lp;
  program_load(&prog, "-O2", &lp);
  const RtModelDesc *desc = lp.desc;
  RtModel *m = rt_model_create(desc);
  assert_non_null(m);

  IrGraph *t = tp.train;
  assert_int_equal(t->ninputs, 4);
  IrTensor *params = calloc((size_t)t->nparams + 1, sizeof *params);
  ir_init_params(t, params);
  IrTensor ins[4];
  for (int i = 0; i < 4; i++) ins[i] = ir_tensor_new(t->inputs[i]->type);
  fill_input(&ins[0], 1, vocab);
  fill_input(&ins[1], 2, classes);
  ins[2].d[0] = (float)lr;
  const RtFuncDesc *tf = &desc->funcs[desc->train->train_fn];
  double first = 0, last = 0;
  for (int s = 1; s <= check + more; s++) {
    ins[3].d[0] = s;
    for (int i = 0; i < 4; i++)
      program_store(rt_model_tensor(m, &tf->inputs[i]), t->inputs[i]->type.dtype, ins[i].numel, ins[i].d);
    rt_model_run_func(m, desc->train->train_fn);
    double gl = ((const float *)rt_model_tensor(m, &tf->outputs[0]))[0];
    if (s == 1) first = gl;
    last = gl;
    if (s > check) continue;
    IrTensor outs[2];
    assert_int_equal(ir_interpret(t, ins, params, outs, &d), SM_OK);
    if (!(fabs(gl - outs[0].d[0]) <= 1e-4 + 1e-4 * fabs(outs[0].d[0]))) {
      print_error("%s step %d: loss generated %.9g, reference %.9g\n", file, s, gl, outs[0].d[0]);
      fail();
    }
    for (int o = 0; o < t->noutputs && o < 2; o++) ir_tensor_free(&outs[o]);
  }
  /* parameters after the checked steps were compared through the loss of
   * each next step; the final loss must have fallen clearly */
  printf("# %s: loss %.4f -> %.4f after %d steps on one batch\n", file, first, last, check + more);
  assert_true(isfinite(last) && last < 0.7 * first);
  tensors_free(ins, 4, false);
  tensors_free(params, t->nparams, true);
  rt_model_free(m);
  program_unload(&lp);
  train_program_free(&tp);
  ir_graph_free(g);
  sm_diag_free(&d);
}

static void train_lstm_classifier(void **state) {
  (void)state;
  train_example("lstm_classifier.smelt", 64, 4, 0.01, 3, 40);
}

static void train_gru_classifier(void **state) {
  (void)state;
  train_example("gru_classifier.smelt", 64, 4, 0.01, 3, 40);
}

static void train_transformer_encoder(void **state) {
  (void)state;
  train_example("transformer_encoder.smelt", 64, 4, 0.003, 3, 40);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(grad_embedding),
      cmocka_unit_test(grad_norms),
      cmocka_unit_test(grad_rnn),
      cmocka_unit_test(grad_lstm),
      cmocka_unit_test(grad_gru),
      cmocka_unit_test(grad_stacked_lstm),
      cmocka_unit_test(grad_attention),
      cmocka_unit_test(grad_stack_pe),
      cmocka_unit_test(train_lstm_classifier),
      cmocka_unit_test(train_gru_classifier),
      cmocka_unit_test(train_transformer_encoder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
