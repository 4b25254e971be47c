/* Optimizer updates: three steps of each optimizer through the reference
 * interpreter against the torch.optim formulas written out here, one step
 * of generated code (updating in place) against the interpreter, the
 * clip_grad_norm_ factor, and shape-rule diagnostics with line:col.
 *
 * The step tests feed the state in as inputs and compare the op's outputs,
 * so they do not depend on how the interpreter writes parameters back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "helpers/opcheck.h"

enum { NE = 6, NSTEPS = 3 };

static const double w0[NE] = {0.5, -0.25, 0, 1.5, -2, 0.75};

/* gradient of step k (1-based) */
static double grad_at(int k, int i) { return sin(1.0 + i + 3.0 * k) * 1.5; }

static double sgn(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

/* Runs one step: inputs w, state[0..ns), g, lr [, step], all [2,3] except
 * the scalars; returns the outputs (w', state'...) in out[0..1+ns). */
typedef struct Stepper {
  IrGraph *g;
} Stepper;

static Stepper stepper(const char *text) {
  SmDiag d;
  sm_diag_init(&d);
  Stepper s = {0};
  if (fe_parse_text("test.smelt", text, &s.g, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  sm_diag_free(&d);
  return s;
}

static void step_once(Stepper *s, double *w, double *const *st, int ns, int k, double lr,
                      bool with_step) {
  IrGraph *g = s->g;
  IrTensor in[8], out[4];
  int ni = 0;
  in[ni] = ir_tensor_new(g->inputs[ni]->type);
  memcpy(in[ni++].d, w, sizeof(double) * NE);
  for (int j = 0; j < ns; j++) {
    in[ni] = ir_tensor_new(g->inputs[ni]->type);
    memcpy(in[ni++].d, st[j], sizeof(double) * NE);
  }
  in[ni] = ir_tensor_new(g->inputs[ni]->type);
  for (int i = 0; i < NE; i++) in[ni].d[i] = grad_at(k, i);
  ni++;
  in[ni] = ir_tensor_new(g->inputs[ni]->type);
  in[ni++].d[0] = lr;
  if (with_step) {
    in[ni] = ir_tensor_new(g->inputs[ni]->type);
    in[ni++].d[0] = k;
  }
  assert_int_equal(g->ninputs, ni);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(ir_interpret(g, in, NULL, out, &d), SM_OK);
  sm_diag_free(&d);
  memcpy(w, out[0].d, sizeof(double) * NE);
  for (int j = 0; j < ns; j++) memcpy(st[j], out[1 + j].d, sizeof(double) * NE);
  for (int i = 0; i < ni; i++) ir_tensor_free(&in[i]);
  for (int i = 0; i <= ns; i++) ir_tensor_free(&out[i]);
}

static void expect_close(const double *got, const double *want, const char *what, int k) {
  for (int i = 0; i < NE; i++)
    if (!(fabs(got[i] - want[i]) <= 1e-12 * (1 + fabs(want[i])))) {
      print_error("%s after step %d, element %d: op %.17g, formula %.17g\n", what, k, i,
                  got[i], want[i]);
      fail();
    }
}

#define HEAD(extra)                                                                      \
  "input w: f32[2,3]\n" extra "input g: f32[2,3]\ninput lr: f32[]\n"

/* ---- sgd: w -= lr*lr_mult*(g + wd*w + l1*sign(w)) ---- */
static void sgd_steps(void **state) {
  (void)state;
  Stepper s = stepper(HEAD("") "w2 = sgd_update(w, g, lr, weight_decay=0.1, l1=0.01, "
                               "lr_mult=0.5)\noutput w2\n");
  double w[NE], ref[NE];
  memcpy(w, w0, sizeof w);
  memcpy(ref, w0, sizeof ref);
  for (int k = 1; k <= NSTEPS; k++) {
    step_once(&s, w, NULL, 0, k, 0.2, false);
    for (int i = 0; i < NE; i++) {
      double gi = grad_at(k, i) + 0.1 * ref[i] + 0.01 * sgn(ref[i]);
      ref[i] -= 0.2 * 0.5 * gi;
    }
    expect_close(w, ref, "w", k);
  }
  ir_graph_free(s.g);
}

/* ---- SGD with momentum (torch.optim.SGD) ---- */
static void momentum_case(const char *attrs, double mom, double damp, bool nesterov,
                          double wd, bool with_step) {
  char text[512];
  snprintf(text, sizeof text,
           "input w: f32[2,3]\ninput b: f32[2,3]\ninput g: f32[2,3]\ninput lr: f32[]\n%s"
           "w2, b2 = momentum_update(w, b, g, lr%s%s)\noutput w2, b2\n",
           with_step ? "input step: i64[]\n" : "", with_step ? ", step" : "", attrs);
  Stepper s = stepper(text);
  double w[NE], buf[NE] = {0}, ref[NE], rbuf[NE] = {0};
  double *st[1] = {buf};
  memcpy(w, w0, sizeof w);
  memcpy(ref, w0, sizeof ref);
  for (int k = 1; k <= NSTEPS; k++) {
    step_once(&s, w, st, 1, k, 0.1, with_step);
    for (int i = 0; i < NE; i++) {
      double gi = grad_at(k, i);
      if (wd != 0) gi += wd * ref[i];
      /* without a step input the zero-initialized buffer takes the
       * general formula from the first step on */
      if (k > 1 || !with_step) rbuf[i] = mom * rbuf[i] + (1 - damp) * gi;
      else rbuf[i] = gi;
      gi = nesterov ? gi + mom * rbuf[i] : rbuf[i];
      ref[i] -= 0.1 * gi;
    }
    expect_close(w, ref, "w", k);
    expect_close(buf, rbuf, "buf", k);
  }
  ir_graph_free(s.g);
}

static void momentum_steps(void **state) {
  (void)state;
  momentum_case(", momentum=0.8, dampening=0.25, weight_decay=0.05", 0.8, 0.25, false, 0.05,
                true);
  momentum_case("", 0.9, 0, false, 0, true);
  momentum_case(", momentum=0.7, nesterov=1", 0.7, 0, true, 0, true);
  momentum_case(", dampening=0.5", 0.9, 0.5, false, 0, false);
}

/* ---- Adam / AdamW (torch.optim.Adam, torch.optim.AdamW) ---- */
static void adam_case(const char *attrs, double b1, double b2, double eps, double wd,
                      bool decoupled, double lr_mult) {
  char text[512];
  snprintf(text, sizeof text,
           HEAD("input m: f32[2,3]\ninput v: f32[2,3]\n") "input step: i64[]\n"
                                                          "w2, m2, v2 = adam_update(w, m, v, "
                                                          "g, lr, step%s)\noutput w2, m2, v2\n",
           attrs);
  Stepper s = stepper(text);
  double w[NE], m[NE] = {0}, v[NE] = {0}, ref[NE], rm[NE] = {0}, rv[NE] = {0};
  double *st[2] = {m, v};
  memcpy(w, w0, sizeof w);
  memcpy(ref, w0, sizeof ref);
  double lr = 0.05 * lr_mult;
  for (int k = 1; k <= NSTEPS; k++) {
    step_once(&s, w, st, 2, k, 0.05, true);
    for (int i = 0; i < NE; i++) {
      double gi = grad_at(k, i);
      if (decoupled) ref[i] -= lr * wd * ref[i];
      else gi += wd * ref[i];
      rm[i] = b1 * rm[i] + (1 - b1) * gi;
      rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
      double mhat = rm[i] / (1 - pow(b1, k)), vhat = rv[i] / (1 - pow(b2, k));
      ref[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
    expect_close(w, ref, "w", k);
    expect_close(m, rm, "m", k);
    expect_close(v, rv, "v", k);
  }
  ir_graph_free(s.g);
}

static void adam_steps(void **state) {
  (void)state;
  adam_case("", 0.9, 0.999, 1e-8, 0, false, 1);
  adam_case(", beta1=0.8, beta2=0.95, eps=0.001, weight_decay=0.1", 0.8, 0.95, 1e-3, 0.1,
            false, 1);
  adam_case(", weight_decay=0.2, decoupled=1, lr_mult=2", 0.9, 0.999, 1e-8, 0.2, true, 2);
}

/* ---- RMSprop (no momentum, not centered) ---- */
static void rmsprop_steps(void **state) {
  (void)state;
  Stepper s = stepper(HEAD("input sq: f32[2,3]\n") "w2, s2 = rmsprop_update(w, sq, g, lr, "
                                                   "alpha=0.9, eps=0.01, weight_decay=0.05)\n"
                                                   "output w2, s2\n");
  double w[NE], sq[NE] = {0}, ref[NE], rsq[NE] = {0};
  double *st[1] = {sq};
  memcpy(w, w0, sizeof w);
  memcpy(ref, w0, sizeof ref);
  for (int k = 1; k <= NSTEPS; k++) {
    step_once(&s, w, st, 1, k, 0.01, false);
    for (int i = 0; i < NE; i++) {
      double gi = grad_at(k, i) + 0.05 * ref[i];
      rsq[i] = 0.9 * rsq[i] + 0.1 * gi * gi;
      ref[i] -= 0.01 * gi / (sqrt(rsq[i]) + 0.01);
    }
    expect_close(w, ref, "w", k);
    expect_close(sq, rsq, "sq", k);
  }
  ir_graph_free(s.g);
}

/* ---- Adagrad: torch starts its sum at initial_accumulator_value; the op
 * starts at zero and adds the initial value in the denominator ---- */
static void adagrad_steps(void **state) {
  (void)state;
  Stepper s = stepper(HEAD("input acc: f32[2,3]\n") "w2, a2 = adagrad_update(w, acc, g, lr, "
                                                    "initial_accumulator=0.1, l1=0.02)\n"
                                                    "output w2, a2\n");
  double w[NE], acc[NE] = {0}, ref[NE], rsum[NE];
  double *st[1] = {acc};
  memcpy(w, w0, sizeof w);
  memcpy(ref, w0, sizeof ref);
  for (int i = 0; i < NE; i++) rsum[i] = 0.1;
  for (int k = 1; k <= NSTEPS; k++) {
    step_once(&s, w, st, 1, k, 0.3, false);
    double want_acc[NE];
    for (int i = 0; i < NE; i++) {
      double gi = grad_at(k, i) + 0.02 * sgn(ref[i]);
      rsum[i] += gi * gi;
      ref[i] -= 0.3 * gi / (sqrt(rsum[i]) + 1e-10);
      want_acc[i] = rsum[i] - 0.1;
    }
    expect_close(w, ref, "w", k);
    expect_close(acc, want_acc, "sum", k);
  }
  ir_graph_free(s.g);
}

static void clip_scale_values(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("test.smelt",
                                 "input s: f32[]\nc = grad_clip_scale(s, max_norm=2)\noutput c\n",
                                 &g, &d),
                   SM_OK);
  const double sumsq[] = {0, 16, 1, 4}, want[] = {1, 2 / (4 + 1e-6), 1, 2 / (2 + 1e-6)};
  for (int i = 0; i < 4; i++) {
    IrTensor in = ir_tensor_new(g->inputs[0]->type), out;
    in.d[0] = sumsq[i];
    assert_int_equal(ir_interpret(g, &in, NULL, &out, &d), SM_OK);
    assert_true(fabs(out.d[0] - want[i]) < 1e-15);
    ir_tensor_free(&in);
    ir_tensor_free(&out);
  }
  ir_graph_free(g);
  sm_diag_free(&d);
}

/* ---- generated code (in place) vs interpreter, one step ---- */

typedef struct OptCase {
  const char *op;
  int nstate;
  const char *step;  /* dtype of the step input, NULL: none */
  const char *dtype; /* of the parameter */
  const char *shape;
  const char *attrs;
} OptCase;

static const OptCase cases[] = {
    {"sgd_update", 0, NULL, "f32", "3,5", ""},
    {"sgd_update", 0, NULL, "f32", "3,5", ", weight_decay=0.1, l1=0.01, lr_mult=0.5"},
    {"momentum_update", 1, "i64", "f32", "3,5", ", dampening=0.1, weight_decay=0.01"},
    {"momentum_update", 1, "i32", "f32", "7", ", momentum=0.5, nesterov=1"},
    {"momentum_update", 1, NULL, "f32", "3,5", ""},
    {"adam_update", 2, "i64", "f32", "3,5", ", beta1=0.8, eps=0.001"},
    {"adam_update", 2, "i32", "f32", "3,5", ", weight_decay=0.1, decoupled=1, l1=0.001"},
    {"adam_update", 2, "i64", "f32", "200,200", ""},
    {"adam_update", 2, "i64", "f64", "7", ", weight_decay=0.5, lr_mult=3"},
    {"rmsprop_update", 1, NULL, "f32", "3,5", ", alpha=0.9, weight_decay=0.01"},
    {"adagrad_update", 1, NULL, "f32", "2,3,4", ", initial_accumulator=0.1"},
    {"adagrad_update", 1, NULL, "f32", "1", ", eps=0.5, l1=0.1"},
};

/* Every case gets its own parameters: an update overwrites its parameter
 * and state (the planner gives out k the storage of in k, which the
 * verifier only allows for parameters), so the generated kernel only
 * matches the interpreter if it reads each element before it writes it. */
static void optim_opcheck(void **state) {
  (void)state;
  SmBuf b = {0}, outs = {0};
  for (int c = 0; c < SM_COUNT(cases); c++) {
    const OptCase *k = &cases[c];
    sm_buf_printf(&b, "param w%d: %s[%s] = uniform(-2, 2)\n", c, k->dtype, k->shape);
    for (int j = 0; j < k->nstate; j++) /* second moments and sums are >= 0 */
      sm_buf_printf(&b, "param s%d_%d: %s[%s] = uniform(0, 2)\n", c, j, k->dtype, k->shape);
    sm_buf_printf(&b, "input g%d: %s[%s]\ninput lr%d: %s[]\n", c, k->dtype, k->shape, c,
                  k->dtype);
    if (k->step) sm_buf_printf(&b, "input t%d: %s[]\n", c, k->step);
    for (int j = 0; j <= k->nstate; j++) {
      sm_buf_printf(&b, "%so%d_%d", j ? ", " : "", c, j);
      sm_buf_printf(&outs, "%so%d_%d", outs.len ? ", " : "", c, j);
    }
    sm_buf_printf(&b, " = %s(w%d", k->op, c);
    for (int j = 0; j < k->nstate; j++) sm_buf_printf(&b, ", s%d_%d", c, j);
    sm_buf_printf(&b, ", g%d, lr%d", c, c);
    if (k->step) sm_buf_printf(&b, ", t%d", c);
    sm_buf_printf(&b, "%s)\n", k->attrs);
  }
  sm_buf_printf(&b, "input s: f32[]\nj = grad_clip_scale(s, max_norm=0.5)\n"
                    "output %s, j\n", sm_buf_str(&outs));
  OpcheckOpts o = opcheck_ints(1, 4); /* steps */
  opcheck_opts(sm_buf_str(&b), &o);
  /* sumsq below max_norm^2: the scale saturates at 1 */
  o.lo = 0;
  o.hi = 0.1;
  opcheck_opts("input s: f32[]\nj = grad_clip_scale(s, max_norm=0.5)\noutput j\n", &o);
  sm_buf_free(&b);
  sm_buf_free(&outs);
}

/* ---- shape rules ---- */

static void shape_errors(void **state) {
  (void)state;
  expect_parse_error(HEAD("input m: f32[3,2]\ninput v: f32[2,3]\ninput step: i64[]\n")
                     "w2, m2, v2 = adam_update(w, m, v, g, lr, step)\noutput w2\n",
                     "test.smelt:7:14: error: adam_update: state 'm' must match the parameter "
                     "f32[2,3], got f32[3,2]",
                     NULL);
  expect_parse_error(HEAD("") "w2 = sgd_update(w, lr, g)\noutput w2\n",
                     "test.smelt:4:6: error: sgd_update: gradient 'lr' must match the "
                     "parameter f32[2,3], got f32[]",
                     NULL);
  expect_parse_error("input w: f32[2,3]\ninput g: f32[2,3]\ninput lr: f32[1]\n"
                     "w2 = sgd_update(w, g, lr)\noutput w2\n",
                     "test.smelt:4:6: error: sgd_update: learning rate 'lr' must be a float "
                     "scalar, got f32[1]",
                     NULL);
  expect_parse_error(HEAD("input b: f32[2,3]\ninput step: f32[]\n")
                     "w2, b2 = momentum_update(w, b, g, lr, step)\noutput w2\n",
                     "test.smelt:6:10: error: momentum_update: step 'step' must be an i64 "
                     "scalar, got f32[]",
                     NULL);
  expect_parse_error(HEAD("input b: f32[2,3]\n")
                     "w2, b2 = momentum_update(w, b, g, lr, nesterov=1, dampening=0.1)\n"
                     "output w2\n",
                     "test.smelt:5:10: error: momentum_update: nesterov needs momentum > 0 and "
                     "dampening = 0, got momentum 0.9, dampening 0.1",
                     NULL);
  expect_parse_error(HEAD("input m: f32[2,3]\ninput v: f32[2,3]\ninput step: i64[]\n")
                     "w2, m2, v2 = adam_update(w, m, v, g, lr, step, beta2=1)\noutput w2\n",
                     "test.smelt:7:14: error: adam_update: beta1 and beta2 must be in [0, 1), "
                     "got 0.9 and 1",
                     NULL);
  expect_parse_error(HEAD("input m: f32[2,3]\ninput v: f32[2,3]\n")
                     "w2, m2, v2 = adam_update(w, m, v, g, lr)\noutput w2\n",
                     "test.smelt:6:14: error: adam_update: expects 6 operands, got 5", NULL);
  expect_parse_error(HEAD("input s: f32[2,3]\n")
                     "w2, s2 = rmsprop_update(w, s, g, lr, alpha=1.5)\noutput w2\n",
                     "test.smelt:5:10: error: rmsprop_update: alpha must be in [0, 1], got 1.5",
                     NULL);
  expect_parse_error(HEAD("") "w2 = sgd_update(w, g, lr, weight_decay=-1)\noutput w2\n",
                     "test.smelt:4:6: error: sgd_update: weight_decay must be >= 0, got -1",
                     NULL);
  expect_parse_error("input w: i64[3]\ninput g: i64[3]\ninput lr: f32[]\n"
                     "w2 = sgd_update(w, g, lr)\noutput w2\n",
                     "test.smelt:4:6: error: sgd_update: parameter 'w' must be float, got i64[3]",
                     NULL);
  expect_parse_error("input s: f32[]\nc = grad_clip_scale(s)\noutput c\n",
                     "test.smelt:2:5: error: grad_clip_scale: missing required attribute "
                     "'max_norm'",
                     NULL);
  expect_parse_error("input s: f32[3]\nc = grad_clip_scale(s, max_norm=1)\noutput c\n",
                     "test.smelt:2:5: error: grad_clip_scale: expects the float scalar sum of "
                     "squared gradients, got f32[3]",
                     NULL);
  expect_parse_error("input s: f32[]\nc = grad_clip_scale(s, max_norm=0)\noutput c\n",
                     "test.smelt:2:5: error: grad_clip_scale: max_norm must be > 0, got 0",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sgd_steps),          cmocka_unit_test(momentum_steps),
      cmocka_unit_test(adam_steps),         cmocka_unit_test(rmsprop_steps),
      cmocka_unit_test(adagrad_steps),      cmocka_unit_test(clip_scale_values),
      cmocka_unit_test(optim_opcheck),      cmocka_unit_test(shape_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
