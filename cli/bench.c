/* smelt bench MODEL [--train] [--threads N] [--repeat N] [--interp-repeat N] [-O0]
 *
 * Compiles the model as `smelt compile` would (the training step with
 * --train; every function through the pass pipeline, none with -O0) into
 * a shared object, loads it, and times whole steps of the
 * generated code and of the reference interpreter on the same random
 * inputs, in one process. Reports GFLOP/s of the step (multiply-adds of
 * gemm, matmul and convolutions, forward and backward, count 2) and the
 * percent of this machine's FMA peak, measured by a probe
 * (runtime/rt_bench.c), then every kernel's time over as many profiled
 * steps (the program's profiled step function). */
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ir/ir.h"
#include "pipeline.h"
#include "rt_model.h"

static void usage(void) {
  fputs("usage: smelt bench MODEL [--train] [--threads N] [--repeat N] [--interp-repeat N] [-O0]\n"
        "                   [--remat] [--top N] [--no-profile]\n"
        "  times the generated step (inference, or the training step with --train)\n"
        "  against the reference interpreter and the probed FMA peak, then each kernel\n"
        "  (the --top N slowest, default 15, 0: all) over as many profiled steps\n",
        stderr);
}

int cmd_bench(int argc, char **argv) {
  const char *model = NULL;
  bool train = false;
  int threads = 0, repeat = 50, irepeat = 2, opt = 1, top = 15;
  bool profile = true, remat = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--train")) train = true;
    else if (!strcmp(a, "--remat")) remat = true;
    else if (has && (!strcmp(a, "--threads") || !strcmp(a, "--repeat") ||
                     !strcmp(a, "--interp-repeat") || !strcmp(a, "--top"))) {
      RtErr e = {{0}};
      const char *v = argv[++i];
      int bad = !strcmp(a, "--threads")  ? rt_flag_threads(a, v, &threads, &e)
                : !strcmp(a, "--repeat") ? rt_flag_int32(a, v, 1, 1000000, &repeat, &e)
                : !strcmp(a, "--top")    ? rt_flag_int32(a, v, 0, 1000000, &top, &e)
                                         : rt_flag_int32(a, v, 0, 1000000, &irepeat, &e);
      if (bad) {
        fprintf(stderr, "smelt bench: error: %s\n", e.msg);
        return 2;
      }
    } else if (!strcmp(a, "--no-profile")) profile = false;
    else if (!strcmp(a, "-O0") || !strcmp(a, "-O1")) opt = a[2] - '0';
    else if (a[0] != '-' && !model) model = a;
    else {
      fprintf(stderr, "smelt bench: error: unexpected argument '%s'\n", a);
      usage();
      return 2;
    }
  }
  if (!model || repeat < 1 || irepeat < 0 || top < 0) {
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
  CliBuilt b = {0};
  void *lib = NULL;
  char dir[] = "/tmp/smelt-bench-XXXXXX", so[256] = "";
  if (!(g = cli_load(model, NULL, &src, &d))) goto done;
  CliBuildOptions bo = {.train = train, .opt_level = opt, .remat = remat};
  if (cli_build(g, &bo, &b, &d) != SM_OK) goto done;
  const CgProgram *prog = &b.prog;
  int fn = train ? b.tp.desc.train_fn : 0; /* the (first) training step */
  CgKernel *ks;
  int nkernels = cg_kernels(prog->funcs[fn], &ks);
  cg_kernels_free(ks, nkernels);
  const IrGraph *fg = prog->funcs[fn];
  if (!mkdtemp(dir)) {
    fprintf(stderr, "smelt bench: error: cannot create a temporary directory\n");
    goto done;
  }
  snprintf(so, sizeof so, "%s/%s.so", dir, g->name);
  CgOptions co = {.check = true};
  double tc0 = rt_now();
  if (cg_compile_program(prog, CG_SHARED, so, &co, &d) != SM_OK) goto done;
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
  /* the interpreter gets the same inputs */
  rt_bench_fill_inputs(m, fn);
  IrTensor *ins = sm_xcalloc((size_t)fg->ninputs + 1, sizeof *ins);
  for (int i = 0; i < fg->ninputs; i++) {
    const IrValue *v = fg->inputs[i];
    const void *p = rt_model_tensor(m, &f->inputs[i]);
    ins[i] = ir_tensor_new(v->type);
    for (int64_t k = 0; k < ins[i].numel; k++) ins[i].d[k] = rt_elem_get((int)v->type.dtype, p, k);
  }
  double *kt = sm_xcalloc((size_t)f->nkernels + 1, sizeof *kt);
  int psteps = profile ? repeat : 0;
  RtStepTimes st = rt_bench_func(m, fn, repeat, psteps, kt);
  double gmed = st.median, gmin = st.min;
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

  RtPeak pk = rt_fma_peak(threads);
  double flops = 0;
  for (int i = 0; i < fg->nnodes; i++) flops += cg_node_gemm_flops(fg->nodes[i]);
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
  if (psteps) rt_profile_print(stdout, f, kt, psteps, pk.lanes ? pk.gfn : 0, top);
  free(kt);
  rc = 0;
done:
  if (d.nerrors || rc) fputs(sm_diag_text(&d), stderr);
  if (lib) dlclose(lib);
  if (so[0]) unlink(so);
  rmdir(dir);
  cli_built_free(&b);
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}
