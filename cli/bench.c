/* smelt bench MODEL [--train] [--threads N] [--repeat N] [--interp-repeat N] [-O0]
 *
 * Compiles the model as `smelt compile` would (the training step with
 * --train; every function through the pass pipeline, none with -O0) into
 * a shared object, loads it, and times whole steps of the
 * generated code and of the reference interpreter on the same random
 * inputs, in one process. Reports GFLOP/s of the step (multiply-adds of
 * gemm, matmul and convolutions, forward and backward, count 2) and the
 * percent of this machine's FMA peak, measured by a probe: a loop of
 * independent vector FMA chains, 8 lanes (AVX2+FMA) and, when the CPU has
 * it, 16 lanes (AVX-512F), on 1 and on N threads. */
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "rt_model.h"

/* ---- FMA peak probe ---- */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PROBE_X86 1
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* 12 independent chains hide the FMA latency (4 cycles) on two ports */
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx2,fma"), noinline)) static float probe8(int64_t iters) {
  v8f b = {0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f};
  v8f c = {1e-3f, 1e-3f, 1e-3f, 1e-3f, 1e-3f, 1e-3f, 1e-3f, 1e-3f};
#define DECL(i) v8f a##i = c * (float)(i + 1);
  CHAINS(DECL)
#undef DECL
  for (int64_t n = 0; n < iters; n++) {
#define STEP(i) a##i = __builtin_ia32_vfmaddps256(a##i, b, c);
    CHAINS(STEP)
#undef STEP
    __asm__ volatile("" ::: "memory");
  }
  v8f s = {0};
#define SUM(i) s += a##i;
  CHAINS(SUM)
#undef SUM
  return s[0] + s[7];
}

__attribute__((target("avx512f"), noinline)) static float probe16(int64_t iters) {
  v16f b, c;
  for (int i = 0; i < 16; i++) b[i] = 0.999f, c[i] = 1e-3f;
#define DECL(i) v16f a##i = c * (float)(i + 1);
  CHAINS(DECL)
#undef DECL
  for (int64_t n = 0; n < iters; n++) {
#define STEP(i) a##i = __builtin_ia32_vfmaddps512_mask(a##i, b, c, (unsigned short)-1, 4);
    CHAINS(STEP)
#undef STEP
    __asm__ volatile("" ::: "memory");
  }
  v16f s = {0};
#define SUM(i) s += a##i;
  CHAINS(SUM)
#undef SUM
  return s[0] + s[15];
}
#undef CHAINS
#endif

typedef struct Peak {
  int lanes;         /* widest vector probed (0: no probe on this target) */
  double gf1, gfn;   /* GFLOP/s on 1 and on nthreads threads */
} Peak;

static volatile float probe_sink;

/* GFLOP/s of `threads` threads each running the widest FMA loop. */
static double probe_run(int lanes, int threads) {
#ifdef PROBE_X86
  const int64_t iters = 20 * 1000 * 1000;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = rt_now();
#pragma omp parallel num_threads(threads)
    {
      float r = lanes == 16 ? probe16(iters) : probe8(iters);
      probe_sink = r;
    }
    double dt = rt_now() - t0;
    double gf = (double)iters * 12 * lanes * 2 * threads / dt / 1e9;
    if (gf > best) best = gf;
  }
  return best;
#else
  (void)lanes;
  (void)threads;
  return 0;
#endif
}

static Peak probe_peak(int threads) {
  Peak p = {0};
#ifdef PROBE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) p.lanes = 16;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) p.lanes = 8;
#endif
  if (!p.lanes) return p;
  p.gf1 = probe_run(p.lanes, 1);
  p.gfn = threads > 1 ? probe_run(p.lanes, threads) : p.gf1;
  return p;
}

/* ---- FLOPs of a step: gemm, matmul and convolutions ---- */

static double node_flops(const IrNode *n) {
  const char *op = n->op->name;
  double out = (double)ir_numel(&n->out[0]->type);
  if (!strcmp(op, "gemm")) {
    const IrType *a = &n->in[0]->type;
    int64_t K = a->dims[ir_attr_int(n, "transA", 0) ? 0 : 1];
    return 2 * out * (double)K;
  }
  if (!strcmp(op, "matmul")) {
    const IrType *a = &n->in[0]->type;
    return 2 * out * (double)a->dims[a->rank - 1];
  }
  if (!strncmp(op, "conv", 4)) {
    /* per element of the forward output: 2 * (in channels/group * taps) */
    bool gw = strstr(op, "grad_weight") != NULL, grad = strstr(op, "grad") != NULL;
    const IrType *w = gw ? &n->out[0]->type : &n->in[1]->type;
    const IrType *y = grad ? &n->in[0]->type : &n->out[0]->type;
    return 2 * (double)ir_numel(y) * (double)(ir_numel(w) / w->dims[0]);
  }
  return 0;
}

static double graph_flops(const IrGraph *g) {
  double f = 0;
  for (int i = 0; i < g->nnodes; i++) f += node_flops(g->nodes[i]);
  return f;
}

/* ---- inputs ---- */

/* Deterministic inputs: floats U[-1,1), integers k % 2 (valid class
 * labels for any classifier); the learning rate 0.01 and step 1. */
static double input_value(const IrValue *v, int i, int64_t k, const RtTrainDesc *t, bool train) {
  if (train && t && i == t->in_lr) return 0.01;
  if (train && t && i == t->in_step) return 1;
  if (ir_dtype_is_float(v->type.dtype)) return (float)(2 * rt_uniform(7, (uint64_t)i, (uint64_t)k) - 1);
  return (double)(k % 2);
}

static void put(void *p, IrDType t, int64_t i, double v) {
  switch (t) {
  case IR_F32: ((float *)p)[i] = (float)v; break;
  case IR_F64: ((double *)p)[i] = v; break;
  case IR_I64: ((int64_t *)p)[i] = (int64_t)v; break;
  case IR_I32: ((int32_t *)p)[i] = (int32_t)v; break;
  default: ((uint8_t *)p)[i] = (uint8_t)v; break;
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fputs("usage: smelt bench MODEL [--train] [--threads N] [--repeat N] [--interp-repeat N] [-O0]\n"
        "  times the generated step (inference, or the training step with --train)\n"
        "  against the reference interpreter and the probed FMA peak\n",
        stderr);
}

int cmd_bench(int argc, char **argv) {
  const char *model = NULL;
  bool train = false;
  int threads = 0, repeat = 50, irepeat = 2, opt = 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--train")) train = true;
    else if (!strcmp(a, "--threads") && has) threads = atoi(argv[++i]);
    else if (!strcmp(a, "--repeat") && has) repeat = atoi(argv[++i]);
    else if (!strcmp(a, "--interp-repeat") && has) irepeat = atoi(argv[++i]);
    else if (!strcmp(a, "-O0") || !strcmp(a, "-O1")) opt = a[2] - '0';
    else if (a[0] != '-' && !model) model = a;
    else {
      fprintf(stderr, "smelt bench: error: unexpected argument '%s'\n", a);
      usage();
      return 2;
    }
  }
  if (!model || repeat < 1 || irepeat < 0) {
    usage();
    return 2;
  }
#ifdef _OPENMP
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  char *src = NULL;
  int rc = 1;
  TrainProgram tp = {0};
  void *lib = NULL;
  char dir[] = "/tmp/smelt-bench-XXXXXX", so[256] = "";
  if (fe_load(model, &g, &src, &d) != SM_OK || !ir_verify(g, &d)) goto done;
  CgProgram prog;
  int fn = 0;
  if (train) {
    if (pass_training_program(g, &tp, &d) != SM_OK) goto done;
    prog = tp.eval ? cg_program_train(tp.infer, tp.eval, tp.train, tp.nweights, &tp.desc)
                   : cg_program_steps(tp.infer, tp.steps, tp.step_names, tp.nsteps, tp.nweights,
                                      &tp.desc);
    fn = tp.desc.train_fn; /* the (first) training step */
  } else {
    if (ir_directive(g, "train")) ir_prune(g, true);
    prog = cg_program_single(g);
  }
  for (int k = 0; k < prog.nfuncs; k++) {
    PassOptions po = {.opt_level = opt, .inference = cg_program_is_inference(&prog, k),
                      .shared_params = train};
    if (pass_run_pipeline(prog.funcs[k], &po, &d) != SM_OK) goto done;
  }
  CgKernel *ks;
  int nkernels = cg_kernels(prog.funcs[fn], &ks);
  cg_kernels_free(ks, nkernels);
  const IrGraph *fg = prog.funcs[fn];
  if (!mkdtemp(dir)) {
    fprintf(stderr, "smelt bench: error: cannot create a temporary directory\n");
    goto done;
  }
  snprintf(so, sizeof so, "%s/%s.so", dir, g->name);
  CgOptions co = {.check = true};
  double tc0 = rt_now();
  if (cg_compile_program(&prog, CG_SHARED, so, &co, &d) != SM_OK) goto done;
  double tcomp = rt_now() - tc0;
  lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "smelt bench: error: dlopen: %s\n", dlerror());
    goto done;
  }
  char sym[300];
  snprintf(sym, sizeof sym, "%s_desc", g->name);
  const RtModelDesc *(*descf)(void);
  *(void **)&descf = dlsym(lib, sym);
  snprintf(sym, sizeof sym, "%s_create", g->name);
  RtModel *(*createf)(void);
  *(void **)&createf = dlsym(lib, sym);
  snprintf(sym, sizeof sym, "%s_free", g->name);
  void (*freef)(RtModel *);
  *(void **)&freef = dlsym(lib, sym);
  if (!descf || !createf || !freef) {
    fprintf(stderr, "smelt bench: error: %s lacks the model API\n", so);
    goto done;
  }
  const RtModelDesc *desc = descf();
  RtModel *m = createf();
  if (!m) {
    fprintf(stderr, "smelt bench: error: cannot create the model\n");
    goto done;
  }
  const RtFuncDesc *f = &desc->funcs[fn];
  const RtTrainDesc *td = desc->train;
  IrTensor *ins = sm_xcalloc((size_t)fg->ninputs + 1, sizeof *ins);
  for (int i = 0; i < fg->ninputs; i++) {
    const IrValue *v = fg->inputs[i];
    void *p = rt_model_tensor(m, &f->inputs[i]);
    ins[i] = ir_tensor_new(v->type);
    for (int64_t k = 0; k < ins[i].numel; k++) {
      ins[i].d[k] = input_value(v, i, k, td, train);
      put(p, v->type.dtype, k, ins[i].d[k]);
    }
  }
  /* generated: warm up, then time each step */
  for (int i = 0; i < 3; i++) f->run(m->params, m->arena);
  double *ts = sm_xmalloc(sizeof(double) * (size_t)repeat);
  for (int i = 0; i < repeat; i++) {
    double t0 = rt_now();
    f->run(m->params, m->arena);
    ts[i] = rt_now() - t0;
  }
  qsort(ts, (size_t)repeat, sizeof *ts, cmp_double);
  double gmed = ts[repeat / 2], gmin = ts[0];
  free(ts);
  freef(m);
  /* interpreter */
  double imin = 0;
  for (int i = 0; i < irepeat; i++) {
    IrTensor *outs = sm_xcalloc((size_t)fg->noutputs + 1, sizeof *outs);
    double t0 = rt_now();
    SmStatus st = ir_interpret(fg, ins, NULL, outs, &d);
    double dt = rt_now() - t0;
    for (int k = 0; k < fg->noutputs; k++) ir_tensor_free(&outs[k]);
    free(outs);
    if (st != SM_OK) break;
    if (i == 0 || dt < imin) imin = dt;
  }
  for (int i = 0; i < fg->ninputs; i++) ir_tensor_free(&ins[i]);
  free(ins);

  Peak pk = probe_peak(threads);
  double flops = graph_flops(fg);
  printf("model %s, %s step (%d kernels, %d nodes, -O%d), %d thread%s; compiled in %.2f s\n",
         g->name, train ? "training" : "inference", nkernels, fg->nnodes, opt, threads,
         threads == 1 ? "" : "s", tcomp);
  if (pk.lanes)
    printf("FMA peak probe (%d-lane FMA chains): %.1f GFLOP/s on 1 thread, %.1f on %d\n",
           pk.lanes, pk.gf1, pk.gfn, threads);
  else
    printf("FMA peak probe: not available on this target\n");
  printf("step FLOPs (gemm/matmul/conv multiply-adds x2): %.2f M\n", flops / 1e6);
  printf("generated:   %10.3f ms/step median, %.3f min", gmed * 1e3, gmin * 1e3);
  if (flops > 0) {
    double gf = flops / gmin / 1e9;
    printf("  ->  %.1f GFLOP/s", gf);
    if (pk.lanes) printf(", %.1f%% of probed peak", 100 * gf / pk.gfn);
  }
  if (fg->ninputs && fg->inputs[0]->type.rank > 0)
    printf(", %.0f samples/s", (double)fg->inputs[0]->type.dims[0] / gmin);
  printf("\n");
  if (irepeat > 0 && imin > 0) {
    printf("interpreter: %10.3f ms/step min of %d\n", imin * 1e3, irepeat);
    printf("ratio: generated is %.1fx faster than the interpreter\n", imin / gmin);
  }
  rc = 0;
done:
  if (d.nerrors || rc) fputs(sm_diag_text(&d), stderr);
  if (lib) dlclose(lib);
  if (so[0]) unlink(so);
  rmdir(dir);
  if (train) {
    train_program_free(&tp);
  }
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}
