/* The smelt command line: compile, inspect, run (reference interpreter),
 * ops. Library code returns statuses; this is the one place that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "export.h"
#include "pipeline.h"
#include "ir/escape.h"
#include "ir/ir.h"
#include "ir/training.h"
#include "rt_model.h"

static void usage(FILE *f) {
  fputs("usage: smelt <command> [options]\n\n"
        "commands:\n"
        "  compile MODEL -o OUT [--emit exe|c|lib] [--embed-weights] [--weights W]\n"
        "                [--cc CC] [--opt FLAGS] [--no-check] [-O0] [--remat]\n"
        "                [--train [TRAINING FLAGS]]\n"
        "      compile a model to a standalone program (default), C sources\n"
        "      (OUT.c, OUT.h) or a static library (OUT.c, OUT.h, libOUT.a);\n"
        "      --train adds the training step: `OUT train ...`, `OUT eval ...`;\n"
        "      --remat recomputes cheap values the backward reads late when that\n"
        "      lowers peak memory\n"
        "  training flags (override the model's train/optimizer/schedule lines):\n",
        f);
  /* the optimizers as ir/training.c lists them */
  fputs("      --loss NAME --optimizer ", f);
  for (int i = 0, k = 0; i < ir_noptimizers; i++)
    if (!ir_optimizers[i].hidden) fprintf(f, "%s%s", k++ ? "|" : "", ir_optimizers[i].name);
  fputs(" --lr F --momentum F\n"
        "      --nesterov 0|1 --weight-decay F --l1 F --beta1 F --beta2 F --eps F\n"
        "      --epochs N --clip-norm F --clip-value F --patience N --freeze GLOB\n"
        "      --schedule constant|step|multistep|exponential|cosine|plateau\n"
        "      --gamma F --step-size N --t-max N --warmup STEPS\n"
        "  inspect MODEL [--train] [--after PASS|autodiff|all] [--passes] [--memory]\n"
        "                [--kernels] [--format text|json|dot] [-O0] [--embed-weights] [--remat]\n"
        "  inspect MODEL.onnx --format smelt [-o PREFIX]\n"
        "      convert to the text format (PREFIX.smelt + PREFIX.safetensors)\n"
        "      print the graph (or the training step) in the text format, with types;\n"
        "      the pipeline, the memory plan or the kernel list\n"
        "  run MODEL --input [NAME=]FILE ... [--weights W] [--output [NAME=]FILE.npy ...]\n"
        "                [--remat]\n"
        "      execute on the reference interpreter (--remat: the graph after the\n"
        "      pipeline with remat)\n"
        "  MODEL is a .smelt text model or an .onnx file; for ONNX, compile/inspect/run take\n"
        "      --input-shape NAME=D1xD2x... (an input's shape) or SYMBOL=N (a symbolic dim)\n"
        "  diff A.npy B.npy [--rtol R] [--atol A]\n"
        "      compare two arrays elementwise (exit 1 when outside tolerance)\n"
        "  export MODEL.onnx --weights W.safetensors -o OUT.onnx\n"
        "      the ONNX model with its initializers replaced by trained weights\n"
        "  bench MODEL [--train] [--threads N] [--repeat N]\n"
        "      time the compiled step against the interpreter, GFLOP/s, % of probed peak\n"
        "  ops                      list supported ops\n",
        f);
}

/* The exit status when MODEL did not load: 2 for a bad or unsupported ONNX
 * input, 1 for a text model with errors. */
static int load_failed(const char *model) {
  return fe_is_onnx(model) ? 2 : 1;
}

/* Command-line overrides of the model's training directives. */
typedef struct TrainFlags {
  const char *loss, *optimizer, *schedule, *freeze[16];
  int nfreeze;
  struct {
    const char *kind, *key, *value;
  } set[32];
  int nset;
} TrainFlags;

static IrDirective *directive(IrGraph *g, const char *kind) {
  IrDirective *dv = ir_directive(g, kind);
  return dv ? dv : ir_add_directive(g, kind, NULL, (SmLoc){"<command line>", 0, 0});
}

/* v parsed by train_flag (a finite number); the attribute's location
 * becomes the command line. */
static void set_value(IrGraph *g, IrNode *n, const char *key, const char *v) {
  double f = strtod(v, NULL);
  IrAttr *a = strpbrk(v, ".eE") || !(f > -9e15 && f < 9e15) || f != (double)(int64_t)f
                  ? ir_set_float(g, n, key, f)
                  : ir_set_int(g, n, key, (int64_t)f);
  a->loc = (SmLoc){"<command line>", 0, 0};
}

/* `--loss OP` on a model without a loss (e.g. an ONNX export): append
 * `loss = OP(prediction, labels)` with a new labels input. */
static const char *append_loss(IrGraph *g, const char *op, SmDiag *d) {
  const IrOpDef *def = ir_op_find(op);
  if (!def || !(def->caps & IR_CAP_LOSS) || g->noutputs == 0) {
    char names[256];
    sm_error(d, (SmLoc){"<command line>", 0, 0},
             "--loss %s: not a value of the model nor a loss op (%s)", op,
             ir_op_names(IR_CAP_LOSS, names, sizeof names));
    return NULL;
  }
  IrValue *pred = g->outputs[0];
  IrType lt = pred->type;
  if (def->caps & IR_CAP_CLASS_TARGET) {
    lt.dtype = IR_I64;
    lt.rank = 1;
  }
  SmLoc loc = {"<command line>", 0, 0};
  IrValue *in[2] = {pred, ir_add_input(g, "labels", lt, loc)};
  const char *names[1] = {"loss"};
  IrNode *n = ir_add_node(g, def, in, 2, names, 1, loc);
  if (!ir_infer_node(n, d)) return NULL;
  return n->out[0]->name;
}

static bool apply_train_flags(IrGraph *g, const TrainFlags *f, SmDiag *d) {
  if (f->loss) {
    const char *loss = f->loss;
    if (!ir_graph_find(g, loss) && !(loss = append_loss(g, f->loss, d))) return false;
    ir_set_str(g, directive(g, "train")->attrs, "loss", loss);
  }
  if (f->optimizer) directive(g, "optimizer")->arg = sm_arena_strdup(&g->arena, f->optimizer);
  if (f->schedule) directive(g, "schedule")->arg = sm_arena_strdup(&g->arena, f->schedule);
  for (int i = 0; i < f->nset; i++) set_value(g, directive(g, f->set[i].kind)->attrs, f->set[i].key, f->set[i].value);
  for (int i = 0; i < f->nfreeze; i++) {
    IrDirective *dv = ir_add_directive(g, "param_group", f->freeze[i], (SmLoc){"<command line>", 0, 0});
    ir_set_int(g, dv->attrs, "freeze", 1);
  }
  return true;
}

/* Parses one training flag at argv[*i]: 1 if it is one, 0 if not, -1
 * (printed) when its number does not parse. Every number goes through
 * rt_flag_double, as in the compiled programs; --lr and --gamma, which the
 * programs' `train` also takes with the same meaning, with the programs'
 * range too. The other ranges are checked with the model's directives
 * (pass_training_program): integer flags take any integral number there
 * ("1e3"), which the programs' integer flags do not. */
static int train_flag(TrainFlags *f, int argc, char **argv, int *i, const char *cmd) {
  enum { ANY, RATE }; /* RATE: [0, 1e30], runtime/rt_train.c's --lr and --gamma */
  static const struct {
    const char *flag, *kind, *key;
    int range;
  } map[] = {
      {"--lr", "optimizer", "lr", RATE},     {"--momentum", "optimizer", "momentum", ANY},
      {"--nesterov", "optimizer", "nesterov", ANY}, {"--weight-decay", "optimizer", "weight_decay", ANY},
      {"--l1", "optimizer", "l1", ANY},      {"--beta1", "optimizer", "beta1", ANY},
      {"--beta2", "optimizer", "beta2", ANY}, {"--eps", "optimizer", "eps", ANY},
      {"--epochs", "train", "epochs", ANY},  {"--clip-norm", "train", "clip_norm", ANY},
      {"--clip-value", "train", "clip_value", ANY}, {"--patience", "train", "patience", ANY},
      {"--gamma", "schedule", "gamma", RATE}, {"--step-size", "schedule", "step_size", ANY},
      {"--t-max", "schedule", "t_max", ANY}, {"--warmup", "schedule", "warmup", ANY},
  };
  if (*i + 1 >= argc) return 0;
  const char *a = argv[*i], *v = argv[*i + 1];
  if (!strcmp(a, "--loss")) f->loss = v;
  else if (!strcmp(a, "--optimizer")) f->optimizer = v;
  else if (!strcmp(a, "--schedule")) f->schedule = v;
  else if (!strcmp(a, "--freeze") && f->nfreeze < 16) f->freeze[f->nfreeze++] = v;
  else {
    int k = 0;
    while (k < SM_COUNT(map) && strcmp(a, map[k].flag)) k++;
    if (k == SM_COUNT(map) || f->nset == 32) return 0;
    RtErr e = {{0}};
    double x;
    bool rate = map[k].range == RATE;
    if (rt_flag_double(a, v, rate ? 0 : -1e300, rate ? 1e30 : 1e300, &x, &e)) {
      fprintf(stderr, "smelt %s: error: %s\n", cmd, e.msg);
      return -1;
    }
    f->set[f->nset].kind = map[k].kind;
    f->set[f->nset].key = map[k].key;
    f->set[f->nset].value = v;
    f->nset++;
  }
  (*i)++;
  return 1;
}

/* What compile and inspect both take: ONNX import options, training
 * flags, and how to build (--train, -O0/-O1, --remat). */
typedef struct BuildFlags {
  FeOptions fo;
  TrainFlags tf;
  CliBuildOptions bo;
} BuildFlags;

/* Parses one such flag at argv[*i], as train_flag (a training flag also
 * means --train). */
static int build_flag(BuildFlags *f, int argc, char **argv, int *i, const char *cmd) {
  const char *a = argv[*i];
  if (!strcmp(a, "--train")) f->bo.train = true;
  else if (!strcmp(a, "--remat")) f->bo.remat = true;
  else if (!strcmp(a, "-O0") || !strcmp(a, "-O1")) f->bo.opt_level = a[2] - '0';
  else if (!strcmp(a, "--input-shape") && *i + 1 < argc && f->fo.ninput_shapes < 32)
    f->fo.input_shapes[f->fo.ninput_shapes++] = argv[++*i];
  else {
    int t = train_flag(&f->tf, argc, argv, i, cmd);
    if (t > 0) f->bo.train = true;
    return t;
  }
  return 1;
}

static RtTensorDesc desc_of(const IrValue *v) {
  RtTensorDesc t = {.name = v->name, .dtype = (int)v->type.dtype, .rank = v->type.rank,
                    .numel = ir_type_numel(&v->type)};
  for (int i = 0; i < v->type.rank; i++) t.dims[i] = v->type.dims[i];
  return t;
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
  for (int64_t i = 0; i < td.numel; i++) t->d[i] = rt_elem_get(td.dtype, buf, i);
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
    for (int64_t i = 0; rc == 0 && i < td.numel; i++) params[p].d[i] = rt_elem_get(td.dtype, buf, i);
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

/* run's --input/--output arguments ([NAME=]FILE; unnamed ones in order)
 * onto paths[] by the values' positions; false (printed) for one that
 * names no such value. what: "input" or "output". */
static bool assign_paths(IrValue *const *vs, int n, const char *const *args, int nargs,
                         const char *what, const char **paths) {
  int next = 0;
  for (int i = 0; i < nargs; i++) {
    const char *path;
    int k = find_named(vs, n, args[i], &next, &path);
    if (k < 0 || k >= 64) {
      fprintf(stderr, "smelt run: error: --%s %s: no such %s\n", what, args[i], what);
      return false;
    }
    paths[k] = path;
  }
  return true;
}

/* cli_build, with train after the command line's training flags edited
 * the model's directives. */
static SmStatus build(IrGraph *g, const TrainFlags *tf, const CliBuildOptions *o, CliBuilt *b,
                      SmDiag *d) {
  if (o->train && !apply_train_flags(g, tf, d)) {
    *b = (CliBuilt){.train = true};
    return SM_ERR_INVALID;
  }
  return cli_build(g, o, b, d);
}

/* The files `-o OUT` names, checked before any work (rt_out_check: the
 * directory exists and is writable, nothing but a regular file is
 * replaced): OUT+ext1, OUT+ext2 when given, and with lib, DIR/libBASE.a
 * beside OUT. 1 (printed) if one cannot be written. */
static int check_outputs(const char *cmd, const char *out, const char *ext1, const char *ext2,
                         bool lib) {
  char path[3][4400];
  int n = 0;
  snprintf(path[n++], sizeof path[0], "%s%s", out, ext1);
  if (ext2) snprintf(path[n++], sizeof path[0], "%s%s", out, ext2);
  if (lib) {
    const char *slash = strrchr(out, '/');
    if (slash) snprintf(path[n++], sizeof path[0], "%.*s/lib%s.a", (int)(slash - out), out, slash + 1);
    else snprintf(path[n++], sizeof path[0], "lib%s.a", out);
  }
  for (int i = 0; i < n; i++) {
    RtErr e = {{0}};
    if (rt_out_check(path[i], &e)) {
      fprintf(stderr, "smelt %s: error: -o %s\n", cmd, e.msg);
      return 1;
    }
  }
  return 0;
}

/* A positional argument of `smelt CMD`: the model file, once; anything
 * else is reported as unexpected (returns -1). */
static int model_arg(const char *cmd, const char *arg, const char **model) {
  if (arg[0] != '-' && !*model) {
    *model = arg;
    return 0;
  }
  fprintf(stderr, "smelt %s: error: unexpected argument '%s'\n", cmd, arg);
  return -1;
}

static int cmd_run(int argc, char **argv) {
  const char *model = NULL, *weights = NULL;
  FeOptions fo = {0};
  const char *in_path[64] = {0}, *out_path[64] = {0};
  const char *in_args[64], *out_args[64];
  int nin_args = 0, nout_args = 0;
  bool remat = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--remat")) remat = true;
    else if (!strcmp(argv[i], "--input") && i + 1 < argc && nin_args < 64) in_args[nin_args++] = argv[++i];
    else if (!strcmp(argv[i], "--output") && i + 1 < argc && nout_args < 64) out_args[nout_args++] = argv[++i];
    else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
    else if (!strcmp(argv[i], "--input-shape") && i + 1 < argc && fo.ninput_shapes < 32)
      fo.input_shapes[fo.ninput_shapes++] = argv[++i];
    else if (model_arg("run", argv[i], &model)) return 2;
  }
  if (!model) {
    fprintf(stderr, "smelt run: error: no model given\n");
    return 2;
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = cli_load(model, &fo, &src, &d);
  /* the inference view; --remat: the graph as the pipeline with remat leaves it */
  CliBuilt b;
  CliBuildOptions bo = {.opt_level = 1, .remat = true, .skip_pipeline = !remat};
  if (g && cli_build(g, &bo, &b, &d) != SM_OK) {
    ir_graph_free(g);
    g = NULL;
  }
  int rc = 0;
  IrTensor *ins = NULL, *params = NULL, *outs = NULL;
  RtErr e = {{0}};
  if (!g) {
    fputs(sm_diag_text(&d), stderr);
    rc = load_failed(model);
    goto done;
  }
  if (!assign_paths(g->inputs, g->ninputs, in_args, nin_args, "input", in_path) ||
      !assign_paths(g->outputs, g->noutputs, out_args, nout_args, "output", out_path)) {
    rc = 2;
    goto done;
  }
  for (int i = 0; i < g->noutputs && i < 64; i++)
    if (out_path[i] && rt_out_check(out_path[i], &e)) {
      fprintf(stderr, "smelt run: error: --output %s\n", e.msg);
      rc = 1;
      goto done;
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
      for (int64_t k = 0; k < td.numel; k++) rt_elem_put(td.dtype, buf, k, outs[i].d[k]);
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

/* The export template for the program's weights (master params [0,
 * nweights), which keep their initializer names). */
static SmStatus onnx_template(const char *model, const CgProgram *p, FeOnnxTemplate *t, SmDiag *d) {
  const IrGraph *m = p->funcs[p->master];
  int n = p->nweights;
  const char **names = sm_xcalloc((size_t)n + 1, sizeof *names);
  int *ranks = sm_xcalloc((size_t)n + 1, sizeof *ranks);
  int64_t(*dims)[8] = sm_xcalloc((size_t)n + 1, sizeof *dims);
  for (int i = 0; i < n; i++) {
    const IrValue *v = m->params[i];
    names[i] = v->name;
    ranks[i] = v->type.rank;
    for (int k = 0; k < v->type.rank; k++) dims[i][k] = v->type.dims[k];
  }
  SmStatus s = fe_onnx_template(model, names, ranks, (const int64_t(*)[8])dims, n, t, d);
  free(names);
  free(ranks);
  free(dims);
  return s;
}

static int cmd_compile(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *emit = "exe", *weights = NULL;
  CgOptions o = {.check = true};
  BuildFlags bf = {.bo.opt_level = 1};
  int bfl;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if ((bfl = build_flag(&bf, argc, argv, &i, "compile")) != 0) {
      if (bfl < 0) return 2;
    } else if (!strcmp(a, "-o") && has) out = argv[++i];
    else if (!strcmp(a, "--emit") && has) emit = argv[++i];
    else if (!strcmp(a, "--cc") && has) o.cc = argv[++i];
    else if (!strcmp(a, "--opt") && has) o.opt = argv[++i];
    else if (!strcmp(a, "--weights") && has) weights = argv[++i];
    else if (!strcmp(a, "--embed-weights")) o.embed_weights = true;
    else if (!strcmp(a, "--no-check")) o.check = false;
    else if (model_arg("compile", a, &model)) return 2;
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
  if (check_outputs("compile", out, kind == CG_EXE ? "" : ".c", kind == CG_EXE ? NULL : ".h",
                    kind == CG_LIB))
    return 1;
  if (weights && !o.embed_weights) {
    fprintf(stderr, "smelt compile: error: --weights is only used with --embed-weights "
                    "(otherwise pass --weights to the compiled program)\n");
    return 2;
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = cli_load(model, &bf.fo, &src, &d);
  bool train = bf.bo.train;
  int rc = 0;
  IrTensor *params = NULL;
  int nparams = 0;
  if (!g) rc = load_failed(model);
  /* imported weights (ONNX initializers) are baked into the program */
  if (g && weights) {
    RtErr e = {{0}};
    nparams = g->nparams;
    params = sm_xcalloc((size_t)g->nparams + 1, sizeof *params);
    ir_init_params(g, params);
    if (load_weights(g, weights, params, &e)) {
      fprintf(stderr, "smelt compile: error: %s\n", e.msg);
      rc = 1;
    }
    o.params = params;
  }
  if (rc == 0 && train && weights) {
    fprintf(stderr, "smelt compile: error: --weights with --train: start training from a "
                    "weights file with `PROGRAM train --init-weights W` instead\n");
    rc = 2;
  }
  /* embedded weights are known at compile time: the parameters carry them
   * as literal values, so passes may fold them (fold-bn) */
  if (rc == 0 && o.embed_weights && !train) {
    pass_bind_params(g, params);
    o.params = NULL;
  }
  if (rc == 0) {
    CliBuilt b;
    FeOnnxTemplate ot = {0};
    if (build(g, &bf.tf, &bf.bo, &b, &d) != SM_OK) rc = 1;
    /* a trained ONNX model can write itself back (train --export-onnx) */
    if (rc == 0 && train && fe_is_onnx(model) && onnx_template(model, &b.prog, &ot, &d) != SM_OK)
      rc = 1;
    if (rc == 0) {
      o.onnx.model = ot.model, o.onnx.model_len = ot.model_len;
      o.onnx.graph = ot.graph, o.onnx.graph_len = ot.graph_len;
      o.onnx.n = ot.n, o.onnx.param = ot.param, o.onnx.onnx_type = ot.onnx_type;
      if (cg_compile_program(&b.prog, kind, out, &o, &d) != SM_OK) rc = 1;
    }
    fe_onnx_template_free(&ot);
    cli_built_free(&b);
  }
  fputs(sm_diag_text(&d), stderr);
  if (params) /* loaded for the parameters as declared (passes may change the list) */
    for (int i = 0; i < nparams; i++) ir_tensor_free(&params[i]);
  free(params);
  ir_graph_free(g);
  free(src);
  sm_diag_free(&d);
  return rc;
}

static void json_str(SmBuf *b, const char *s) {
  sm_buf_putc(b, '"');
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\') sm_buf_printf(b, "\\%c", *p);
    else if ((unsigned char)*p < 0x20) sm_buf_printf(b, "\\u%04x", *p);
    else sm_buf_putc(b, *p);
  }
  sm_buf_putc(b, '"');
}

static void inspect_kernels(SmBuf *b, const CgProgram *prog, bool json) {
  if (json) sm_buf_puts(b, "{\"functions\": [");
  for (int f = 0; f < prog->nfuncs; f++) {
    CgKernel *ks;
    int nk = cg_kernels(prog->funcs[f], &ks);
    if (json) {
      sm_buf_printf(b, "%s{\"name\": ", f ? ", " : "");
      json_str(b, prog->fnames[f]);
      sm_buf_puts(b, ", \"kernels\": [");
    } else {
      sm_buf_printf(b, "# function %s: %d kernels\n", prog->fnames[f], nk);
    }
    double tf = 0, tb = 0;
    for (int k = 0; k < nk; k++) {
      const CgKernel *K = &ks[k];
      double fl = cg_kernel_flops(K), by = cg_kernel_bytes(K);
      tf += fl;
      tb += by;
      if (json) {
        sm_buf_printf(b, "%s{\"kernel\": \"k%d\", \"members\": [", k ? ", " : "", K->anchor->id);
        for (int m = 0; m < K->nm; m++) {
          sm_buf_printf(b, "%s{\"op\": ", m ? ", " : "");
          json_str(b, K->mem[m]->op->name);
          sm_buf_printf(b, ", \"node\": %d}", K->mem[m]->id);
        }
        sm_buf_printf(b, "], \"flops\": %.0f, \"bytes\": %.0f}", fl, by);
      } else {
        sm_buf_printf(b, "k%-5d %-44s", K->anchor->id, "");
        b->len -= 44;
        SmBuf mem = {0};
        for (int m = 0; m < K->nm; m++)
          sm_buf_printf(&mem, "%s%s(n%d)", m ? "+" : "", K->mem[m]->op->name, K->mem[m]->id);
        sm_buf_printf(b, "%-44s %12.0f flops %12.0f bytes\n", mem.s, fl, by);
        sm_buf_free(&mem);
        sm_buf_puts(b, "       plan: ");
        cg_kernel_plan_str(b, K);
        sm_buf_putc(b, '\n');
      }
    }
    if (json) sm_buf_printf(b, "], \"total_flops\": %.0f, \"total_bytes\": %.0f}", tf, tb);
    else sm_buf_printf(b, "# total %.0f flops, %.0f bytes moved\n", tf, tb);
    cg_kernels_free(ks, nk);
  }
  if (json) sm_buf_puts(b, "]}\n");
}

static void inspect_memory(SmBuf *b, const CgProgram *prog, bool json) {
  const IrGraph *master = prog->funcs[prog->master];
  if (json) sm_buf_puts(b, "{\"functions\": [");
  for (int f = 0; f < prog->nfuncs; f++) {
    const IrGraph *g = prog->funcs[f];
    CgPlan p;
    cg_plan(g, master, &p);
    CgKernel *ks;
    int nk = cg_kernels(g, &ks);
    /* live range in kernel positions */
    int *first = sm_xcalloc((size_t)g->nvalues + 1, sizeof(int));
    int *last = sm_xcalloc((size_t)g->nvalues + 1, sizeof(int));
    for (int i = 0; i < g->nvalues; i++) first[i] = last[i] = -1;
    for (int k = 0; k < nk; k++) {
      for (int o = 0; o < ks[k].nout; o++)
        if (first[ks[k].outs[o]->id] < 0) first[ks[k].outs[o]->id] = last[ks[k].outs[o]->id] = k;
      for (int i = 0; i < ks[k].nin; i++) last[ks[k].ins[i]->id] = k;
    }
    if (json) {
      sm_buf_printf(b, "%s{\"name\": ", f ? ", " : "");
      json_str(b, prog->fnames[f]);
      sm_buf_printf(b, ", \"arena_bytes\": %zu, \"naive_bytes\": %zu, \"param_bytes\": %zu, "
                    "\"workspace_bytes\": %zu, \"strategy\": \"%s\", \"buffers\": [",
                    p.arena_bytes, p.naive_bytes, p.param_bytes, cg_workspace_bytes(g), p.strategy);
    } else {
      sm_buf_printf(b, "# function %s: arena %zu bytes (%.1f%% of %zu without reuse; %s), "
                    "parameters %zu bytes; then a %zu-byte GEMM workspace\n", prog->fnames[f],
                    p.arena_bytes,
                    p.naive_bytes ? 100.0 * (double)p.arena_bytes / (double)p.naive_bytes : 0.0,
                    p.naive_bytes, p.strategy, p.param_bytes, cg_workspace_bytes(g));
      sm_buf_printf(b, "%-24s %12s %12s %s\n", "buffer", "bytes", "offset", "live kernels");
    }
    int nb = 0;
    for (int i = 0; i < g->nvalues; i++) {
      const IrValue *v = g->values[i];
      if (v->kind == IR_VAL_PARAM || (first[v->id] < 0 && v->kind != IR_VAL_INPUT)) continue;
      if (p.slots[v->id].region != RT_REGION_ARENA || (v->kind == IR_VAL_NODE && !p.slots[v->id].bytes))
        continue;
      if (v->kind == IR_VAL_INPUT) {
        bool listed = false;
        for (int q = 0; q < g->ninputs; q++) listed |= g->inputs[q] == v;
        if (!listed) continue;
      }
      int lo = v->kind == IR_VAL_INPUT ? 0 : first[v->id], hi = last[v->id] < 0 ? lo : last[v->id];
      if (json) {
        sm_buf_printf(b, "%s{\"name\": ", nb ? ", " : "");
        json_str(b, v->name);
        sm_buf_printf(b, ", \"bytes\": %zu, \"offset\": %zu, \"first\": %d, \"last\": %d}",
                      p.slots[v->id].bytes, p.slots[v->id].offset, lo, hi);
      } else {
        sm_buf_printf(b, "%-24s %12zu %12zu %d..%d\n", v->name, p.slots[v->id].bytes,
                      p.slots[v->id].offset, lo, hi);
      }
      nb++;
    }
    if (json) sm_buf_puts(b, "]}");
    free(first);
    free(last);
    cg_kernels_free(ks, nk);
    cg_plan_free(&p);
  }
  if (json) sm_buf_puts(b, "]}\n");
}

static void inspect_dot(SmBuf *b, const CgProgram *prog) {
  sm_buf_puts(b, "digraph smelt {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
  for (int f = 0; f < prog->nfuncs; f++) {
    const IrGraph *g = prog->funcs[f];
    const char *fn = prog->fnames[f];
    sm_buf_printf(b, "  subgraph cluster_%s {\n    label=\"%s\";\n", fn, fn);
    for (int i = 0; i < g->ninputs; i++) {
      sm_buf_printf(b, "    \"%s_v%d\" [label=", fn, g->inputs[i]->id);
      sm_esc_dot(b, g->inputs[i]->name);
      sm_buf_puts(b, ", shape=ellipse];\n");
    }
    CgKernel *ks;
    int nk = cg_kernels(g, &ks);
    for (int k = 0; k < nk; k++) {
      const CgKernel *K = &ks[k];
      if (K->nm > 1) sm_buf_printf(b, "    subgraph cluster_%s_k%d {\n      label=\"k%d\"; style=dashed;\n", fn, K->anchor->id, K->anchor->id);
      for (int m = 0; m < K->nm; m++) {
        SmBuf label = {0};
        sm_buf_printf(&label, "%s\n%s", K->mem[m]->op->name, K->mem[m]->out[0]->name);
        sm_buf_printf(b, "    \"%s_n%d\" [label=", fn, K->mem[m]->id);
        sm_esc_dot(b, sm_buf_str(&label));
        sm_buf_puts(b, "];\n");
        sm_buf_free(&label);
      }
      if (K->nm > 1) sm_buf_puts(b, "    }\n");
    }
    for (int k = 0; k < g->nnodes; k++) {
      const IrNode *n = g->nodes[k];
      for (int i = 0; i < n->nin; i++) {
        const IrValue *v = n->in[i];
        if (v->kind == IR_VAL_PARAM) continue;
        if (v->kind == IR_VAL_INPUT) sm_buf_printf(b, "    \"%s_v%d\" -> \"%s_n%d\";\n", fn, v->id, fn, n->id);
        else sm_buf_printf(b, "    \"%s_n%d\" -> \"%s_n%d\";\n", fn, v->def->id, fn, n->id);
      }
    }
    cg_kernels_free(ks, nk);
    sm_buf_puts(b, "  }\n");
  }
  sm_buf_puts(b, "}\n");
}

static int cmd_inspect(int argc, char **argv) {
  const char *model = NULL, *after = NULL, *format = "text", *out_prefix = NULL;
  BuildFlags bf = {.bo.opt_level = 1};
  bool passes = false, memory = false, kernels = false, embed = false;
  int bfl;
  for (int i = 0; i < argc; i++) {
    if ((bfl = build_flag(&bf, argc, argv, &i, "inspect")) != 0) {
      if (bfl < 0) return 2;
    } else if (!strcmp(argv[i], "--after") && i + 1 < argc) after = argv[++i];
    else if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out_prefix = argv[++i];
    else if (!strcmp(argv[i], "--passes")) passes = true;
    else if (!strcmp(argv[i], "--memory")) memory = true;
    else if (!strcmp(argv[i], "--kernels")) kernels = true;
    else if (!strcmp(argv[i], "--embed-weights")) embed = true;
    else if (model_arg("inspect", argv[i], &model)) return 2;
  }
  if (!model) {
    fprintf(stderr, "smelt inspect: error: expected one model file\n");
    return 2;
  }
  bool json = !strcmp(format, "json"), dot = !strcmp(format, "dot");
  if (!strcmp(format, "smelt")) {
    /* ONNX -> text format (+ OUT.safetensors with the weights) */
    if (!fe_is_onnx(model)) {
      fprintf(stderr, "smelt inspect: error: --format smelt converts .onnx models\n");
      return 2;
    }
    if (out_prefix && check_outputs("inspect", out_prefix, ".smelt", ".safetensors", false))
      return 1;
    SmDiag d;
    sm_diag_init(&d);
    SmStatus st = fe_onnx_to_smelt(model, &bf.fo, out_prefix, &d);
    fputs(sm_diag_text(&d), stderr);
    sm_diag_free(&d);
    return st == SM_OK ? 0 : 2;
  }
  if (!json && !dot && strcmp(format, "text")) {
    fprintf(stderr, "smelt inspect: error: --format takes text, json, dot or smelt\n");
    return 2;
  }
  if (after) {
    int np;
    const PassInfo *pt = pass_table(&np);
    bool known = !strcmp(after, "parse") || !strcmp(after, "autodiff") || !strcmp(after, "all");
    for (int i = 0; i < np; i++) known |= !strcmp(after, pt[i].name);
    if (!known) {
      fprintf(stderr, "smelt inspect: error: --after takes parse, autodiff, all or a pass:");
      for (int i = 0; i < np; i++) fprintf(stderr, " %s", pt[i].name);
      fprintf(stderr, "\n");
      return 2;
    }
    if (!strcmp(after, "autodiff")) {
      bf.bo.train = true;
      bf.bo.opt_level = 0;
    } else if (strcmp(after, "parse") && strcmp(after, "all")) {
      bf.bo.stop_after = after;
    }
  }
  SmDiag d;
  sm_diag_init(&d);
  char *src = NULL;
  IrGraph *g = cli_load(model, &bf.fo, &src, &d);
  bool train = bf.bo.train;
  int rc = 0;
  SmBuf out = {0}, log = {0};
  if (g && embed && !train) pass_bind_params(g, NULL); /* as compile --embed-weights */
  if (!g) {
    rc = load_failed(model);
  } else if ((!after || !strcmp(after, "parse")) && !passes && !memory && !kernels && !dot && !train) {
    ir_print(&out, g);
  } else {
    CliBuilt b;
    bf.bo.log = &log;
    if (build(g, &bf.tf, &bf.bo, &b, &d) != SM_OK) {
      rc = 1;
    } else if (passes) {
      int np;
      const PassInfo *pt = pass_table(&np);
      sm_buf_puts(&out, "# pipeline: pass (requires; invalidates)\n");
      for (int i = 0; i < np; i++)
        sm_buf_printf(&out, "#   %-14s (%s; %s)%s\n", pt[i].name, pt[i].requires, pt[i].invalidates,
                      pt[i].inference_only ? " [inference only]"
                      : pt[i].on_request   ? " [--remat only]"
                                           : "");
      sm_buf_puts(&out, sm_buf_str(&log));
    } else if (memory) {
      inspect_memory(&out, &b.prog, json);
    } else if (kernels) {
      inspect_kernels(&out, &b.prog, json);
    } else if (dot) {
      inspect_dot(&out, &b.prog);
    } else {
      for (int f = 0; f < b.prog.nfuncs; f++) {
        if (b.prog.nfuncs > 1) sm_buf_printf(&out, "# function %s\n", b.prog.fnames[f]);
        ir_print(&out, b.prog.funcs[f]);
      }
    }
    cli_built_free(&b);
  }
  fputs(sm_diag_text(&d), stderr);
  fputs(sm_buf_str(&out), stdout);
  sm_buf_free(&out);
  sm_buf_free(&log);
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
    if ((!strcmp(argv[i], "--rtol") || !strcmp(argv[i], "--atol")) && i + 1 < argc) {
      RtErr e = {{0}};
      const char *flag = argv[i++];
      if (rt_flag_double(flag, argv[i], 0, 1e300, flag[2] == 'r' ? &rtol : &atol, &e)) {
        fprintf(stderr, "smelt diff: error: %s\n", e.msg);
        return 2;
      }
    } else if (!pa) pa = argv[i];
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
      double x = rt_elem_get(a.dtype, a.data, i), y = rt_elem_get(b.dtype, b.data, i);
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
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
  if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
  fprintf(stderr, "smelt: error: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
