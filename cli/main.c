/* The smelt command line: compile, inspect, run (reference interpreter),
 * ops. Library code returns statuses; this is the one place that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"
#include "rt_model.h"

static void usage(FILE *f) {
  fputs("usage: smelt <command> [options]\n\n"
        "commands:\n"
        "  compile MODEL -o OUT [--emit exe|c|lib] [--embed-weights] [--weights W]\n"
        "                [--cc CC] [--opt FLAGS] [--no-check]\n"
        "      compile a model to a standalone program (default), C sources\n"
        "      (OUT.c, OUT.h) or a static library (OUT.c, OUT.h, libOUT.a)\n"
        "  inspect MODEL            print the graph in the text format, with types\n"
        "  run MODEL --input [NAME=]FILE ... [--weights W] [--output [NAME=]FILE.npy ...]\n"
        "      execute on the reference interpreter\n"
        "  diff A.npy B.npy [--rtol R] [--atol A]\n"
        "      compare two arrays elementwise (exit 1 when outside tolerance)\n"
        "  ops                      list supported ops\n",
        f);
}

static IrGraph *load(const char *path, char **src, SmDiag *d) {
  IrGraph *g = NULL;
  if (fe_load(path, &g, src, d) != SM_OK) return NULL;
  if (!ir_verify(g, d)) {
    ir_graph_free(g);
    return NULL;
  }
  return g;
}

static RtTensorDesc desc_of(const IrValue *v) {
  RtTensorDesc t = {.name = v->name, .dtype = (int)v->type.dtype, .rank = v->type.rank,
                    .numel = ir_type_numel(&v->type)};
  for (int i = 0; i < v->type.rank; i++) t.dims[i] = v->type.dims[i];
  return t;
}

static double elem(const void *p, int dtype, int64_t i) {
  switch (dtype) {
  case RT_F32: return ((const float *)p)[i];
  case RT_F64: return ((const double *)p)[i];
  case RT_I64: return (double)((const int64_t *)p)[i];
  case RT_I32: return ((const int32_t *)p)[i];
  default: return ((const uint8_t *)p)[i];
  }
}

static void set_elem(void *p, int dtype, int64_t i, double v) {
  switch (dtype) {
  case RT_F32: ((float *)p)[i] = (float)v; break;
  case RT_F64: ((double *)p)[i] = v; break;
  case RT_I64: ((int64_t *)p)[i] = (int64_t)v; break;
  case RT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
  default: ((uint8_t *)p)[i] = (uint8_t)v; break;
  }
}

/* Load a file into an interpreter tensor via the runtime's loaders. */
static int load_tensor(const char *path, const IrValue *v, IrTensor *t, RtErr *e) {
  RtTensorDesc td = desc_of(v);
  size_t bytes = (size_t)td.numel * ir_dtype_size(v->type.dtype);
  void *buf = rt_alloc(bytes);
  if (!buf) return rt_fail(e, "out of memory");
  if (rt_load_tensor_file(path, &td, buf, e)) {
    rt_free(buf);
    return -1;
  }
  *t = ir_tensor_new(v->type);
  for (int64_t i = 0; i < td.numel; i++) t->d[i] = elem(buf, td.dtype, i);
  rt_free(buf);
  return 0;
}

static int load_weights(const IrGraph *g, const char *path, IrTensor *params, RtErr *e) {
  RtStFile *f;
  if (rt_st_open(path, &f, e)) return -1;
  int rc = 0;
  for (int p = 0; p < g->nparams && rc == 0; p++) {
    RtTensorDesc td = desc_of(g->params[p]);
    void *buf = rt_alloc((size_t)td.numel * ir_dtype_size(g->params[p]->type.dtype));
    rc = buf ? rt_st_read(f, td.name, td.dtype, td.rank, td.dims, buf, e)
             : rt_fail(e, "out of memory");
    for (int64_t i = 0; rc == 0 && i < td.numel; i++) params[p].d[i] = elem(buf, td.dtype, i);
    rt_free(buf);
  }
  rt_st_close(f);
  return rc;
}

static int find_named(IrValue *const *vs, int n, const char *arg, int *next,
                      const char **path) {
  const char *eq = strchr(arg, '=');
  if (eq) {
    *path = eq + 1;
    for (int i = 0; i < n; i++)
      if (strlen(vs[i]->name) == (size_t)(eq - arg) &&
          strncmp(vs[i]->name, arg, (size_t)(eq - arg)) == 0)
        return i;
    return -1;
  }
  *path = arg;
  return *next < n ? (*next)++ : -1;
}

static int cmd_run(int argc, char **argv) {
  const char *model = NULL, *weights = NULL;
  const char *in_path[64] = {0}, *out_path[64] = {0};
  const char *in_args[64], *out_args[64];
  int nin_args = 0, nout_args = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--input") && i + 1 < argc && nin_args < 64) in_args[nin_args++] = argv[++i];
    else if (!strcmp(argv[i], "--output") && i + 1 < argc && nout_args < 64) out_args[nout_args++] = argv[++i];
    else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
    else if (argv[i][0] != '-' && !model) model = argv[i];
    else {
      fprintf(stderr, "smelt run: error: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!model) {
    fprintf(stderr, "smelt run: error: no model given\n");
    return 2;
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = load(model, &src, &d);
  int rc = 0;
  IrTensor *ins = NULL, *params = NULL, *outs = NULL;
  RtErr e = {{0}};
  if (!g) {
    fputs(sm_diag_text(&d), stderr);
    rc = 1;
    goto done;
  }
  int next = 0;
  for (int i = 0; i < nin_args; i++) {
    const char *path;
    int k = find_named(g->inputs, g->ninputs, in_args[i], &next, &path);
    if (k < 0 || k >= 64) {
      fprintf(stderr, "smelt run: error: --input %s: no such input\n", in_args[i]);
      rc = 2;
      goto done;
    }
    in_path[k] = path;
  }
  next = 0;
  for (int i = 0; i < nout_args; i++) {
    const char *path;
    int k = find_named(g->outputs, g->noutputs, out_args[i], &next, &path);
    if (k < 0 || k >= 64) {
      fprintf(stderr, "smelt run: error: --output %s: no such output\n", out_args[i]);
      rc = 2;
      goto done;
    }
    out_path[k] = path;
  }
  ins = sm_xcalloc((size_t)g->ninputs + 1, sizeof *ins);
  for (int i = 0; i < g->ninputs; i++) {
    if (!in_path[i]) {
      fprintf(stderr, "smelt run: error: missing --input for '%s'\n", g->inputs[i]->name);
      rc = 2;
      goto done;
    }
    if (load_tensor(in_path[i], g->inputs[i], &ins[i], &e)) {
      fprintf(stderr, "smelt run: error: %s\n", e.msg);
      rc = 1;
      goto done;
    }
  }
  params = sm_xcalloc((size_t)g->nparams + 1, sizeof *params);
  ir_init_params(g, params);
  if (weights && load_weights(g, weights, params, &e)) {
    fprintf(stderr, "smelt run: error: %s\n", e.msg);
    rc = 1;
    goto done;
  }
  outs = sm_xcalloc((size_t)g->noutputs + 1, sizeof *outs);
  if (ir_interpret(g, ins, params, outs, &d) != SM_OK) {
    fputs(sm_diag_text(&d), stderr);
    rc = 1;
    goto done;
  }
  for (int i = 0; i < g->noutputs && rc == 0; i++) {
    const IrValue *v = g->outputs[i];
    RtTensorDesc td = desc_of(v);
    if (out_path[i]) {
      void *buf = rt_alloc((size_t)td.numel * ir_dtype_size(v->type.dtype));
      for (int64_t k = 0; k < td.numel; k++) set_elem(buf, td.dtype, k, outs[i].d[k]);
      if (rt_npy_write(out_path[i], td.dtype, td.rank, td.dims, buf, &e)) {
        fprintf(stderr, "smelt run: error: %s\n", e.msg);
        rc = 1;
      }
      rt_free(buf);
      continue;
    }
    char s[128];
    printf("%s %s\n", v->name, ir_type_str(&v->type, s, sizeof s));
    if (v->type.rank == 2 && v->type.dims[1] > 1) {
      int64_t rows = v->type.dims[0] < 8 ? v->type.dims[0] : 8, k = v->type.dims[1];
      for (int64_t r = 0; r < rows; r++) {
        int64_t best = 0;
        for (int64_t j = 1; j < k; j++)
          if (outs[i].d[r * k + j] > outs[i].d[r * k + best]) best = j;
        printf("  row %lld: argmax %lld  [", (long long)r, (long long)best);
        for (int64_t j = 0; j < k && j < 10; j++)
          printf("%s%.4g", j ? " " : "", outs[i].d[r * k + j]);
        printf("%s]\n", k > 10 ? " ..." : "");
      }
      if (v->type.dims[0] > rows)
        printf("  ... %lld more rows\n", (long long)(v->type.dims[0] - rows));
    } else {
      printf("  [");
      for (int64_t k = 0; k < td.numel && k < 10; k++) printf("%s%.6g", k ? " " : "", outs[i].d[k]);
      printf("%s]\n", td.numel > 10 ? " ..." : "");
    }
  }
done:
  if (g) {
    for (int i = 0; ins && i < g->ninputs; i++) ir_tensor_free(&ins[i]);
    for (int i = 0; params && i < g->nparams; i++) ir_tensor_free(&params[i]);
    for (int i = 0; outs && i < g->noutputs; i++) ir_tensor_free(&outs[i]);
  }
  free(ins);
  free(params);
  free(outs);
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}

static int cmd_compile(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *emit = "exe", *weights = NULL;
  CgOptions o = {.check = true};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "-o") && has) out = argv[++i];
    else if (!strcmp(a, "--emit") && has) emit = argv[++i];
    else if (!strcmp(a, "--cc") && has) o.cc = argv[++i];
    else if (!strcmp(a, "--opt") && has) o.opt = argv[++i];
    else if (!strcmp(a, "--weights") && has) weights = argv[++i];
    else if (!strcmp(a, "--embed-weights")) o.embed_weights = true;
    else if (!strcmp(a, "--no-check")) o.check = false;
    else if (a[0] != '-' && !model) model = a;
    else {
      fprintf(stderr, "smelt compile: error: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  CgEmitKind kind;
  if (!strcmp(emit, "exe")) kind = CG_EXE;
  else if (!strcmp(emit, "c")) kind = CG_C;
  else if (!strcmp(emit, "lib")) kind = CG_LIB;
  else {
    fprintf(stderr, "smelt compile: error: --emit must be exe, c or lib\n");
    return 2;
  }
  if (!model || !out) {
    fprintf(stderr, "smelt compile: error: need a model and -o OUT\n");
    return 2;
  }
  if (weights && !o.embed_weights) {
    fprintf(stderr, "smelt compile: error: --weights is only used with --embed-weights "
                    "(otherwise pass --weights to the compiled program)\n");
    return 2;
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = load(model, &src, &d);
  int rc = 0;
  IrTensor *params = NULL;
  if (!g) rc = 1;
  if (g && weights) {
    RtErr e = {{0}};
    params = sm_xcalloc((size_t)g->nparams + 1, sizeof *params);
    ir_init_params(g, params);
    if (load_weights(g, weights, params, &e)) {
      fprintf(stderr, "smelt compile: error: %s\n", e.msg);
      rc = 1;
    }
    o.params = params;
  }
  if (rc == 0 && cg_compile(g, kind, out, &o, &d) != SM_OK) rc = 1;
  fputs(sm_diag_text(&d), stderr);
  if (params)
    for (int i = 0; i < g->nparams; i++) ir_tensor_free(&params[i]);
  free(params);
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}

static int cmd_inspect(int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "smelt inspect: error: expected one model file\n");
    return 2;
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = load(argv[0], &src, &d);
  int rc = 0;
  if (!g) {
    fputs(sm_diag_text(&d), stderr);
    rc = 1;
  } else {
    SmBuf b = {0};
    ir_print(&b, g);
    fputs(sm_buf_str(&b), stdout);
    sm_buf_free(&b);
  }
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}

/* smelt diff A.npy B.npy [--rtol R] [--atol A]: elementwise comparison */
static int cmd_diff(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL;
  double rtol = 1e-4, atol = 1e-5;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--atol") && i + 1 < argc) atol = atof(argv[++i]);
    else if (!pa) pa = argv[i];
    else if (!pb) pb = argv[i];
    else {
      fprintf(stderr, "smelt diff: error: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!pb) {
    fprintf(stderr, "smelt diff: error: need two .npy files\n");
    return 2;
  }
  RtArray a, b;
  RtErr e = {{0}};
  if (rt_npy_read(pa, &a, &e)) {
    fprintf(stderr, "smelt diff: error: %s\n", e.msg);
    return 1;
  }
  if (rt_npy_read(pb, &b, &e)) {
    fprintf(stderr, "smelt diff: error: %s\n", e.msg);
    rt_array_free(&a);
    return 1;
  }
  int rc = 0;
  char sa[128], sb[128];
  rt_shape_str(a.dtype, a.rank, a.dims, sa, sizeof sa);
  rt_shape_str(b.dtype, b.rank, b.dims, sb, sizeof sb);
  if (strcmp(sa, sb) != 0) {
    fprintf(stderr, "smelt diff: error: %s is %s but %s is %s\n", pa, sa, pb, sb);
    rc = 1;
  } else {
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < a.numel; i++) {
      double x = elem(a.data, a.dtype, i), y = elem(b.data, b.dtype, i);
      double d = x > y ? x - y : y - x, m = y < 0 ? -y : y;
      if (d > max_abs) max_abs = d;
      if (m > 0 && d / m > max_rel) max_rel = d / m;
      if (!(d <= atol + rtol * m)) bad++;
    }
    printf("%s %lld elements: max |a-b| %.3g, max relative %.3g; %lld outside rtol %g atol %g\n",
           sa, (long long)a.numel, max_abs, max_rel, (long long)bad, rtol, atol);
    rc = bad ? 1 : 0;
  }
  rt_array_free(&a);
  rt_array_free(&b);
  return rc;
}

static int cmd_ops(void) {
  const IrOpDef *const *ops = ir_op_all();
  for (int i = 0; ops[i]; i++)
    printf("%-16s %s\n", ops[i]->name, ops[i]->doc ? ops[i]->doc : "");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "compile")) return cmd_compile(argc - 2, argv + 2);
  if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 2, argv + 2);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "ops")) return cmd_ops();
  if (!strcmp(cmd, "diff")) return cmd_diff(argc - 2, argv + 2);
  fprintf(stderr, "smelt: error: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
