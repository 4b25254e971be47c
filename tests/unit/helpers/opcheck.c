/* Generated code vs the reference interpreter, on one model text. */
#include "opcheck.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "plancheck.h"
#include "progload.h"
#include "testfile.h"
#include "rt.h"

OpcheckOpts opcheck_defaults(void) {
  return (OpcheckOpts){.rtol = 1e-5, .atol = 1e-6, .lo = -2, .hi = 2, .ilo = 0, .ihi = 9, .seed = 1,
                       .opt_level = 1};
}

double opcheck(const char *text) {
  OpcheckOpts o = opcheck_defaults();
  return opcheck_opts(text, &o);
}

OpcheckOpts opcheck_range(double lo, double hi) {
  OpcheckOpts o = opcheck_defaults();
  o.lo = lo;
  o.hi = hi;
  return o;
}

OpcheckOpts opcheck_ints(int64_t lo, int64_t hi) {
  OpcheckOpts o = opcheck_defaults();
  o.ilo = lo;
  o.ihi = hi;
  return o;
}

OpcheckOpts opcheck_tol(double rtol, double atol) {
  OpcheckOpts o = opcheck_defaults();
  o.rtol = rtol;
  o.atol = atol;
  return o;
}

IrTensor *random_inputs(const IrGraph *g, double lo, double hi, int64_t ilo, int64_t ihi,
                        uint64_t seed, bool rounded) {
  IrTensor *ins = calloc((size_t)g->ninputs + 1, sizeof *ins);
  for (int i = 0; i < g->ninputs; i++) {
    IrDType dt = g->inputs[i]->type.dtype;
    ins[i] = ir_tensor_new(g->inputs[i]->type);
    for (int64_t k = 0; k < ins[i].numel; k++) {
      double u = rt_uniform(seed, (uint64_t)i, (uint64_t)k);
      double v = ir_dtype_is_float(dt) ? lo + (hi - lo) * u
                 : dt == IR_BOOL       ? (double)(u < 0.5)
                                       : (double)(ilo + (int64_t)floor(u * (double)(ihi - ilo + 1)));
      /* round to the input dtype exactly as a program will see it */
      if (rounded) switch (dt) {
        case IR_F32: v = (float)v; break;
        case IR_I32: v = (double)(int32_t)v; break;
        case IR_U8: v = (double)(uint8_t)(int64_t)v; break;
        default: break;
        }
      ins[i].d[k] = v;
    }
  }
  return ins;
}

IrGraph *opcheck_parse(const char *text) { return test_parse("test.smelt", text); }

IrGraph *interpret_text(const char *text, double *const *ins, double *const *prm, IrTensor *out) {
  IrGraph *g = opcheck_parse(text);
  SmDiag d;
  sm_diag_init(&d);
  IrTensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
  IrTensor *pr = prm ? calloc((size_t)g->nparams + 1, sizeof *pr) : NULL;
  for (int i = 0; i < g->ninputs; i++) {
    in[i] = ir_tensor_new(g->inputs[i]->type);
    memcpy(in[i].d, ins[i], sizeof(double) * (size_t)in[i].numel);
  }
  for (int i = 0; pr && i < g->nparams; i++) {
    pr[i] = ir_tensor_new(g->params[i]->type);
    memcpy(pr[i].d, prm[i], sizeof(double) * (size_t)pr[i].numel);
  }
  if (ir_interpret(g, in, pr, out, &d) != SM_OK) {
    print_error("%s", sm_diag_text(&d));
    fail();
  }
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&in[i]);
  for (int i = 0; pr && i < g->nparams; i++) ir_tensor_free(&pr[i]);
  free(in);
  free(pr);
  sm_diag_free(&d);
  return g;
}

void expect_ref_values(const char *text, int dt, double tol, bool compiled, const double *want,
                       int64_t n) {
  IrGraph *g = opcheck_parse(text);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_equal(g->ninputs, 0);
  assert_int_equal(g->noutputs, 1);
  if (dt >= 0) assert_int_equal(g->outputs[0]->type.dtype, dt);
  IrTensor out;
  assert_int_equal(ir_interpret(g, NULL, NULL, &out, &d), SM_OK);
  assert_int_equal(out.numel, n);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    bool ok = tol == 0 ? out.d[i] == want[i] : fabs(out.d[i] - want[i]) <= tol;
    if (!ok && bad++ < 5)
      print_error("[%lld]: reference %.17g, expected %.17g\n", (long long)i, out.d[i], want[i]);
  }
  ir_tensor_free(&out);
  ir_graph_free(g);
  sm_diag_free(&d);
  if (bad) {
    print_error("%d wrong values for:\n%s\n", bad, text);
    fail();
  }
  if (compiled) opcheck(text);
}

static double load(const void *p, IrDType t, int64_t i) {
  switch (t) {
  case IR_F32: return ((const float *)p)[i];
  case IR_F64: return ((const double *)p)[i];
  case IR_I64: return (double)((const int64_t *)p)[i];
  case IR_I32: return ((const int32_t *)p)[i];
  case IR_U8: return ((const uint8_t *)p)[i];
  case IR_BOOL: return ((const uint8_t *)p)[i];
  default: return NAN;
  }
}

double opcheck_opts(const char *text, const OpcheckOpts *o) {
  IrGraph *g = opcheck_parse(text);
  /* inputs, drawn once, fed to both sides (rounded to the input dtype) */
  IrTensor *ins = random_inputs(g, o->lo, o->hi, o->ilo, o->ihi, o->seed, true);
  IrTensor *ref = calloc((size_t)g->noutputs + 1, sizeof *ref);
  SmDiag d;
  sm_diag_init(&d);
  if (ir_interpret(g, ins, NULL, ref, &d) != SM_OK) {
    print_error("interpreter failed: %s\n", sm_diag_text(&d));
    fail();
  }

  char dir[] = "/tmp/smelt-opcheck-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char so[256];
  snprintf(so, sizeof so, "%s/%s.so", dir, g->name);
  CgOptions co = {.check = true, .opt = "-O2 -march=native"};
  /* the compiled side goes through the optimization pipeline (fusion...),
   * so every numeric test also checks the optimized kernels */
  IrGraph *opt = ir_graph_clone(g);
  PassOptions po = {.opt_level = o->opt_level, .inference = true, .verify = true};
  if (pass_run_pipeline(opt, &po, &d) != SM_OK) {
    print_error("pipeline failed:\n%s\n%s\n", text, sm_diag_text(&d));
    fail();
  }
  plancheck(opt);
  SmStatus cst = cg_compile(opt, CG_SHARED, so, &co, &d);
  ir_graph_free(opt);
  if (cst != SM_OK) {
    print_error("compile failed:\n%s\n%s\n", text, sm_diag_text(&d));
    fail();
  }
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    print_error("dlopen: %s\n", dlerror());
    fail();
  }
  ProgramFns f;
  program_fns(lib, g->name, &f);
  void *m = f.create();
  assert_non_null(m);
  for (int i = 0; i < g->ninputs; i++) {
    void *p = f.input(m, i);
    for (int64_t k = 0; k < ins[i].numel; k++)
      rt_elem_put((int)g->inputs[i]->type.dtype, p, k, ins[i].d[k]);
  }
  f.run(m);
  double worst = 0;
  int bad = 0;
  for (int i = 0; i < g->noutputs; i++) {
    const IrValue *v = g->outputs[i];
    const void *p = f.output(m, i);
    for (int64_t k = 0; k < ref[i].numel; k++) {
      double got = load(p, v->type.dtype, k), want = ref[i].d[k];
      if (!ir_dtype_is_float(v->type.dtype)) want = (double)(int64_t)want;
      double err = fabs(got - want);
      double rel = err / (fabs(want) > 1e-30 ? fabs(want) : 1e-30);
      bool ok = err <= o->atol + o->rtol * fabs(want) || (isnan(got) && isnan(want)) ||
                (isinf(got) && isinf(want) && (got > 0) == (want > 0));
      if (fabs(want) >= 1e-3 && rel > worst) worst = rel;
      if (!ok && bad++ < 5)
        print_error("output '%s'[%lld]: generated %.9g, reference %.9g (|diff| %.3g)\n",
                    v->name, (long long)k, got, want, err);
    }
  }
  f.destroy(m);
  dlclose(lib);
  unlink(so);
  rmdir(dir);
  for (int i = 0; i < g->ninputs; i++) ir_tensor_free(&ins[i]);
  for (int i = 0; i < g->noutputs; i++) ir_tensor_free(&ref[i]);
  free(ins);
  free(ref);
  sm_diag_free(&d);
  if (bad) {
    print_error("%d mismatches (rtol %g, atol %g) for:\n%s\n", bad, o->rtol, o->atol, text);
    ir_graph_free(g);
    fail();
  }
  ir_graph_free(g);
  return worst;
}

void expect_parse_error(const char *text, ...) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  bool ok = fe_parse_text("test.smelt", text, &g, &d) == SM_OK && ir_verify(g, &d);
  ir_graph_free(g);
  if (ok) {
    print_error("expected an error, but this parsed:\n%s\n", text);
    sm_diag_free(&d);
    fail();
  }
  va_list ap;
  va_start(ap, text);
  bool missing = false;
  for (const char *needle; (needle = va_arg(ap, const char *));)
    if (!strstr(sm_diag_text(&d), needle)) {
      print_error("diagnostics lack \"%s\"\n", needle);
      missing = true;
    }
  va_end(ap);
  if (missing) {
    print_error("model:\n%s\ndiagnostics:\n%s", text, sm_diag_text(&d));
    sm_diag_free(&d);
    fail();
  }
  sm_diag_free(&d);
}
