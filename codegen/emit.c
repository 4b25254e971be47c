/* C emitter: one function per kernel (banner naming its IR node, source
 * location and shapes), a step function calling them in order over the
 * planned arena, the descriptor tables the runtime reads, and the public
 * C API prefixed with the model name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "ir/escape.h"
#include "rt_model.h"

static void type_str(SmBuf *b, const IrType *t) {
  char s[IR_TYPE_STRLEN];
  sm_buf_puts(b, ir_type_str(t, s, sizeof s));
}

/* Whether the plan gives an output of K storage that overlaps an input's
 * (in-place reuse by the planner): then no pointer may be restrict. */
static bool shares_storage(const CgPlan *p, const CgKernel *K) {
  for (int o = 0; o < K->nout; o++)
    for (int i = 0; i < K->nin; i++) {
      const CgSlot *a = &p->slots[K->outs[o]->id], *b = &p->slots[K->ins[i]->id];
      if (a->region == b->region && a->offset < b->offset + b->bytes &&
          b->offset < a->offset + a->bytes)
        return true;
    }
  return false;
}

/* The statements of kernel K (as its plan says); returns the workspace
 * (floats) they use. */
static int64_t emit_kernel_body(SmBuf *body, const CgKernel *K) {
  CgKernelPlan kp;
  cg_kernel_plan(K, &kp);
  cg_kernel_body(body, K);
  return kp.ws_floats;
}

size_t cg_workspace_bytes(const IrGraph *g) {
  CgKernel *ks;
  int nk = cg_kernels(g, &ks);
  int64_t most = 0;
  for (int k = 0; k < nk; k++) {
    CgKernelPlan kp;
    cg_kernel_plan(&ks[k], &kp);
    if (kp.ws_floats > most) most = kp.ws_floats;
  }
  cg_kernels_free(ks, nk);
  return (size_t)most * sizeof(float);
}

/* Emits kernel K; *ws_floats: the workspace its body uses (0: none, and
 * no `ws` parameter). */
static void emit_kernel(SmBuf *c, const char *fn, const char *kpre, const CgKernel *K,
                        const CgPlan *p, int64_t *ws_floats) {
  const IrNode *n = K->anchor;
  SmBuf body = {0};
  *ws_floats = emit_kernel_body(&body, K);
  if (fn) sm_buf_printf(c, "/* %s.k%d: ", fn, n->id);
  else sm_buf_printf(c, "/* k%d: ", n->id);
  if (K->nm > 1) sm_buf_puts(c, "fused ");
  for (int m = 0; m < K->nm; m++) {
    const IrNode *x = K->mem[m];
    sm_buf_printf(c, "%s%s n%d", m ? " + " : "", x->op->name, x->id);
    if (x->loc.file && (m == 0 || x->loc.line != K->mem[m - 1]->loc.line)) {
      sm_buf_puts(c, " (");
      sm_esc_comment(c, x->loc.file);
      sm_buf_printf(c, ":%d)", x->loc.line);
    }
  }
  sm_buf_puts(c, "\n * ");
  for (int i = 0; i < K->nin; i++) {
    if (i) sm_buf_puts(c, ", ");
    sm_esc_comment(c, K->ins[i]->name);
    sm_buf_putc(c, ' ');
    type_str(c, &K->ins[i]->type);
  }
  sm_buf_puts(c, K->nin ? " -> " : "-> ");
  for (int i = 0; i < K->nout; i++) {
    if (i) sm_buf_puts(c, ", ");
    sm_esc_comment(c, K->outs[i]->name);
    sm_buf_putc(c, ' ');
    type_str(c, &K->outs[i]->type);
  }
  sm_buf_puts(c, " */\nstatic void ");
  cg_kernel_name(c, kpre, K);
  sm_buf_putc(c, '(');
  /* in-place outputs (an op's, or the planner's reuse of a dying
   * operand) share storage with an input: no restrict at all */
  const char *rq = n->op->inplace || shares_storage(p, K) ? "" : "restrict ";
  for (int i = 0; i < K->nout; i++)
    sm_buf_printf(c, "%s%s *%sout%d", i ? ", " : "",
                  ir_dtype_ctype(K->outs[i]->type.dtype), rq, i);
  for (int i = 0; i < K->nin; i++)
    sm_buf_printf(c, "%sconst %s *%sin%d", i || K->nout ? ", " : "",
                  ir_dtype_ctype(K->ins[i]->type.dtype), rq, i);
  if (*ws_floats) sm_buf_puts(c, ", float *restrict ws");
  sm_buf_puts(c, ") {\n");
  sm_buf_puts(c, sm_buf_str(&body));
  sm_buf_free(&body);
  sm_buf_puts(c, "}\n\n");
}

static void emit_ptr(SmBuf *c, const CgPlan *p, const IrValue *v, bool is_const) {
  const CgSlot *s = &p->slots[v->id];
  sm_buf_printf(c, "(%s%s *)(%s + %zu)", is_const ? "const " : "",
                ir_dtype_ctype(v->type.dtype),
                s->region == RT_REGION_PARAMS ? "P" : "A", s->offset);
}

static const char *rt_dtype_enum(IrDType t) {
  static const char *const names[IR_NDTYPE] = {"RT_F32", "RT_F64", "RT_I64", "RT_I32", "RT_U8",
                                               "RT_BOOL"};
  return names[t];
}

static void emit_desc(SmBuf *c, const char *model, const char *table,
                      IrValue *const *vs, int n, const CgPlan *p, bool params,
                      const bool *embedded) {
  if (n == 0) return;
  sm_buf_printf(c, "static const RtTensorDesc %s_%s[%d] = {\n", model, table, n);
  for (int i = 0; i < n; i++) {
    const IrValue *v = vs[i];
    const CgSlot *s = &p->slots[v->id];
    sm_buf_puts(c, "  {");
    sm_esc_cstring(c, v->name);
    sm_buf_printf(c, ", %s, %d, {", rt_dtype_enum(v->type.dtype), v->type.rank);
    for (int k = 0; k < v->type.rank; k++)
      sm_buf_printf(c, "%s%lld", k ? ", " : "", (long long)v->type.dims[k]);
    if (v->type.rank == 0) sm_buf_puts(c, "0");
    sm_buf_printf(c, "}, %lld, %s, %zu", (long long)ir_type_numel(&v->type),
                  s->region == RT_REGION_PARAMS ? "RT_REGION_PARAMS" : "RT_REGION_ARENA",
                  s->offset);
    if (params && embedded && embedded[i])
      sm_buf_printf(c, ", %d, %.17g, %.17g, %s_w%d", (int)v->init.kind, v->init.a, v->init.b,
                    model, i);
    else if (params)
      sm_buf_printf(c, ", %d, %.17g, %.17g, NULL", (int)v->init.kind, v->init.a, v->init.b);
    else
      sm_buf_puts(c, ", 0, 0, 0, NULL");
    sm_buf_puts(c, "},\n");
  }
  sm_buf_puts(c, "};\n");
}

/* Parameters baked into the program: all of them with --embed-weights
 * (given values or the initializers), otherwise only those carrying
 * literal values (imported initializers); never zero-initialized state,
 * which the runtime produces itself. */
static bool embeds(const IrGraph *g, const CgOptions *o, int i) {
  const IrValue *v = g->params[i];
  if (v->data) return true;
  if (!o->embed_weights) return false;
  return o->params || v->init.kind != IR_INIT_ZEROS;
}

static void emit_embedded(SmBuf *c, const IrGraph *g, const CgOptions *o) {
  IrTensor *vals = NULL;
  const IrTensor *src = o->params;
  if (!src) {
    vals = sm_xcalloc((size_t)g->nparams + 1, sizeof *vals);
    ir_init_params(g, vals);
    src = vals;
  }
  for (int i = 0; i < g->nparams; i++) {
    const IrValue *v = g->params[i];
    if (!embeds(g, o, i)) continue;
    int64_t n = ir_type_numel(&v->type);
    sm_buf_printf(c, "static const %s %s_w%d[%lld] = {", ir_dtype_ctype(v->type.dtype),
                  g->name, i, (long long)(n ? n : 1));
    for (int64_t k = 0; k < n; k++) {
      if (k % 8 == 0) sm_buf_puts(c, "\n ");
      /* a literal C reads back exactly: "0.5f", "1.0f", "1e-05f" */
      double x = src[i].d[k];
      sm_buf_putc(c, ' ');
      cg_literal(c, v->type.dtype, v->type.dtype == IR_F32 ? (double)(float)x : x, true);
      sm_buf_putc(c, ',');
    }
    if (n == 0) sm_buf_puts(c, "0");
    sm_buf_puts(c, "\n};\n");
  }
  if (vals) {
    for (int i = 0; i < g->nparams; i++) ir_tensor_free(&vals[i]);
    free(vals);
  }
}

static void emit_header(SmBuf *h, const IrGraph *g) {
  const char *m = g->name;
  char up[128];
  size_t k = 0;
  for (; m[k] && k + 1 < sizeof up; k++) up[k] = (char)toupper((unsigned char)m[k]);
  up[k] = 0;
  sm_buf_printf(h,
                "/* %s.h: C API of the model '%s', generated by smelt.\n"
                " *\n"
                " *   %s *m = %s_create();         parameters from the declared initializers\n"
                " *   %s_load_weights(m, \"w.safetensors\");   0 on success, else see %s_error(m)\n"
                " *   memcpy(%s_input(m, 0), x, bytes);  fill inputs (C order)\n"
                " *   %s_run(m);\n"
                " *   const float *y = %s_output(m, 0);\n"
                " *   %s_free(m);\n"
                " *\n"
                " * Instances are independent (no global state). Link the static library\n"
                " * with -lcjson -lz -lm -fopenmp.\n",
                m, m, m, m, m, m, m, m, m, m);
  sm_buf_puts(h, " *\n * inputs:\n");
  for (int i = 0; i < g->ninputs; i++) {
    sm_buf_printf(h, " *   %d ", i);
    sm_esc_comment(h, g->inputs[i]->name);
    sm_buf_putc(h, ' ');
    type_str(h, &g->inputs[i]->type);
    sm_buf_putc(h, '\n');
  }
  sm_buf_puts(h, " * outputs:\n");
  for (int i = 0; i < g->noutputs; i++) {
    sm_buf_printf(h, " *   %d ", i);
    sm_esc_comment(h, g->outputs[i]->name);
    sm_buf_putc(h, ' ');
    type_str(h, &g->outputs[i]->type);
    sm_buf_putc(h, '\n');
  }
  sm_buf_printf(h,
                " */\n#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n\n"
                "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n"
                "#define %s_NUM_PARAMS %d\n\n"
                "typedef struct RtModel %s;\n"
                "struct RtModelDesc;\n\n"
                "%s *%s_create(void);\n"
                "void %s_free(%s *m);\n"
                "int %s_load_weights(%s *m, const char *path);\n"
                "int %s_save_weights(%s *m, const char *path);\n"
                "const char *%s_error(const %s *m);\n"
                "void *%s_input(%s *m, int i);\n"
                "const void *%s_output(const %s *m, int i);\n"
                "void %s_run(%s *m);\n"
                "const struct RtModelDesc *%s_desc(void);\n\n#endif\n",
                up, up, up, g->ninputs, up, g->noutputs, up, g->nparams, m, m, m,
                m, m, m, m, m, m, m, m, m, m, m, m, m, m, m);
}

/* The step function: the kernels in order. The profiled variant (prof)
 * adds each kernel's seconds into t[k] (`smelt bench`, `./model bench`). */
/* The step function: its kernels in order; those with a workspace get
 * the arena from byte ws_off on. */
static void emit_step(SmBuf *c, const char *stem, const char *kpre, const CgKernel *ks,
                      int nk, const CgPlan *p, const int64_t *kws, size_t ws_off, bool prof) {
  sm_buf_printf(c, "static void %s%s(unsigned char *restrict P, unsigned char *restrict A%s) {\n",
                stem, prof ? "_prof" : "", prof ? ", double *restrict t" : "");
  bool uses_p = false, uses_a = false;
  for (int k = 0; k < nk; k++) {
    for (int i = 0; i < ks[k].nin; i++)
      *(p->slots[ks[k].ins[i]->id].region == RT_REGION_PARAMS ? &uses_p : &uses_a) = true;
    for (int i = 0; i < ks[k].nout; i++)
      *(p->slots[ks[k].outs[i]->id].region == RT_REGION_PARAMS ? &uses_p : &uses_a) = true;
    uses_a |= kws[k] > 0;
  }
  if (!uses_p) sm_buf_puts(c, "  (void)P;\n");
  if (!uses_a) sm_buf_puts(c, "  (void)A;\n");
  if (prof && !nk) sm_buf_puts(c, "  (void)t;\n");
  if (prof && nk) sm_buf_puts(c, "  double c0 = rt_now(), c1;\n");
  for (int k = 0; k < nk; k++) {
    const CgKernel *K = &ks[k];
    sm_buf_puts(c, "  ");
    cg_kernel_name(c, kpre, K);
    sm_buf_putc(c, '(');
    for (int i = 0; i < K->nout; i++) {
      if (i) sm_buf_puts(c, ", ");
      emit_ptr(c, p, K->outs[i], false);
    }
    for (int i = 0; i < K->nin; i++) {
      if (i || K->nout) sm_buf_puts(c, ", ");
      emit_ptr(c, p, K->ins[i], true);
    }
    if (kws[k]) sm_buf_printf(c, "%s(float *)(A + %zu)", K->nin || K->nout ? ", " : "", ws_off);
    sm_buf_puts(c, ");\n");
    if (prof) sm_buf_printf(c, "  c1 = rt_now(); t[%d] += c1 - c0; c0 = c1;\n", k);
  }
  sm_buf_puts(c, "}\n\n");
}

/* The kernel table of a function: names (as `smelt inspect --kernels`
 * lists them, with their members), FLOPs and bytes, for profiles. */
static void emit_kernel_table(SmBuf *c, const char *stem, const CgKernel *ks, int nk) {
  if (!nk) return;
  sm_buf_printf(c, "static const RtKernelDesc %s_kernels[%d] = {\n", stem, nk);
  for (int k = 0; k < nk; k++) {
    const CgKernel *K = &ks[k];
    SmBuf nm = {0};
    sm_buf_printf(&nm, "k%d ", K->anchor->id);
    for (int m = 0; m < K->nm; m++)
      sm_buf_printf(&nm, "%s%s", m ? "+" : "", K->mem[m]->op->name);
    sm_buf_puts(c, "  {");
    sm_esc_cstring(c, sm_buf_str(&nm));
    sm_buf_printf(c, ", %.17g, %.17g, %.17g},\n", cg_kernel_flops(K), cg_kernel_gemm_flops(K),
                  cg_kernel_bytes(K));
    sm_buf_free(&nm);
  }
  sm_buf_puts(c, "};\n\n");
}

CgProgram cg_program_single(IrGraph *g) {
  CgProgram p = {.name = g->name, .seed = g->seed, .nfuncs = 1, .master = 0,
                 .nweights = g->nparams};
  p.funcs[0] = g;
  p.fnames[0] = "infer";
  return p;
}

CgProgram cg_program_train(IrGraph *infer, IrGraph *eval, IrGraph *train, int nweights,
                           const RtTrainDesc *t) {
  CgProgram p = {.name = train->name, .seed = train->seed, .nfuncs = 3, .master = 2,
                 .nweights = nweights, .has_train = true, .train = *t};
  p.funcs[0] = infer;
  p.funcs[1] = eval;
  p.funcs[2] = train;
  p.fnames[0] = "infer";
  p.fnames[1] = "eval";
  p.fnames[2] = "train";
  return p;
}

/* bytes as a C string literal, 32 per line, octal escapes */
static void emit_bytes(SmBuf *c, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i % 32 == 0) sm_buf_puts(c, i ? "\"\n  \"" : "  \"");
    sm_buf_printf(c, "\\%o", p[i]);
  }
  sm_buf_puts(c, n ? "\"" : "  \"\"");
}

static void emit_onnx_template(SmBuf *c, const char *m, const CgOptions *o) {
  sm_buf_printf(c, "\nstatic const unsigned char %s_onnx_model[] =\n", m);
  emit_bytes(c, o->onnx.model, o->onnx.model_len);
  sm_buf_printf(c, ";\nstatic const unsigned char %s_onnx_graph[] =\n", m);
  emit_bytes(c, o->onnx.graph, o->onnx.graph_len);
  sm_buf_printf(c, ";\nstatic const int %s_onnx_param[%d] = {", m, o->onnx.n + 1);
  for (int i = 0; i < o->onnx.n; i++) sm_buf_printf(c, "%s%d", i ? ", " : "", o->onnx.param[i]);
  sm_buf_printf(c, "%s};\nstatic const int %s_onnx_type[%d] = {", o->onnx.n ? "" : "0", m, o->onnx.n + 1);
  for (int i = 0; i < o->onnx.n; i++) sm_buf_printf(c, "%s%d", i ? ", " : "", o->onnx.onnx_type[i]);
  sm_buf_printf(c, "%s};\nstatic const RtOnnxTemplate %s_onnx = {%s_onnx_model, %s_onnx_graph, "
                "%zu, %zu, %d, %s_onnx_param, %s_onnx_type};\n",
                o->onnx.n ? "" : "0", m, m, m, o->onnx.model_len, o->onnx.graph_len, o->onnx.n, m, m);
}

CgProgram cg_program_steps(IrGraph *infer, IrGraph *const *steps, const char *const *names,
                           int nsteps, int nweights, const RtTrainDesc *t) {
  SM_ASSERT(nsteps >= 1 && nsteps < CG_MAX_FUNCS);
  CgProgram p = {.name = steps[0]->name, .seed = steps[0]->seed, .nfuncs = 1 + nsteps,
                 .master = 1, .nweights = nweights, .has_train = true, .train = *t};
  p.funcs[0] = infer;
  p.fnames[0] = "infer";
  for (int i = 0; i < nsteps; i++) {
    p.funcs[1 + i] = steps[i];
    p.fnames[1 + i] = names[i];
  }
  return p;
}

/* The C names of function f's step, tables and kernels: `MODEL_fF_NAME`
 * (`lenet_f2_train`, `lenet_f2_train_prof`, ...) and kernels `fF_kN_op`
 * (the first function's `kN_op`). The index keeps every family apart
 * whatever the (user-chosen) step names are: no step name can produce
 * another function's symbol or the API's (`MODEL_run`, ...), and kernels
 * cannot meet them because a model name never starts with f or k and a
 * digit (sm_c_name_problem). */
static void fn_stem(char *buf, size_t n, const char *model, const CgProgram *prog, int f) {
  snprintf(buf, n, "%s_f%d_%s", model, f, prog->fnames[f]);
}

bool cg_program_is_inference(const CgProgram *p, int f) {
  return !strcmp(p->fnames[f], "infer") || !strcmp(p->fnames[f], "eval");
}

void cg_emit(const CgProgram *prog, const CgOptions *o, SmBuf *c, SmBuf *h) {
  const char *m = prog->name;
  const IrGraph *g0 = prog->funcs[0], *master = prog->funcs[prog->master];
  emit_header(h, g0);
  CgPlan plans[CG_MAX_FUNCS];
  size_t arena = 0, naive = 0;
  int nkernels = 0, nks[CG_MAX_FUNCS]; /* kernels per function */
  /* kernels first, each function's after its plan: their workspace (GEMM
   * packing panels, shared by the kernels of a function as they run one
   * at a time) follows the planned activations of the function in the
   * arena, and the file's opening comment gives the sizes */
  SmBuf kbuf = {0};
  size_t ws_bytes = 0;
  for (int f = 0; f < prog->nfuncs; f++) {
    cg_plan(prog->funcs[f], master, &plans[f]);
    if (plans[f].arena_bytes > arena) arena = plans[f].arena_bytes;
    if (plans[f].naive_bytes > naive) naive = plans[f].naive_bytes;
    for (int i = 0; i < prog->funcs[f]->nparams; i++)
      SM_ASSERT(ir_graph_find(master, prog->funcs[f]->params[i]->name));
    const char *fn = f ? prog->fnames[f] : NULL;
    char stem[160], kpre[16];
    fn_stem(stem, sizeof stem, m, prog, f);
    snprintf(kpre, sizeof kpre, "f%d", f);
    CgKernel *ks;
    int nk = nks[f] = cg_kernels(prog->funcs[f], &ks);
    nkernels += nk;
    int64_t *kws = sm_xcalloc((size_t)nk + 1, sizeof *kws), ws_max = 0;
    for (int k = 0; k < nk; k++) {
      emit_kernel(&kbuf, fn, f ? kpre : NULL, &ks[k], &plans[f], &kws[k]);
      if (kws[k] > ws_max) ws_max = kws[k];
    }
    size_t ws_off = (plans[f].arena_bytes + 63) / 64 * 64, wsb = (size_t)ws_max * sizeof(float);
    if (wsb && ws_off + wsb > arena) arena = ws_off + wsb;
    if (wsb > ws_bytes) ws_bytes = wsb;
    emit_step(&kbuf, stem, f ? kpre : NULL, ks, nk, &plans[f], kws, ws_off, false);
    emit_step(&kbuf, stem, f ? kpre : NULL, ks, nk, &plans[f], kws, ws_off, true);
    emit_kernel_table(&kbuf, stem, ks, nk);
    free(kws);
    cg_kernels_free(ks, nk);
  }
  int64_t nparam_elems = 0;
  for (int i = 0; i < master->nparams; i++) nparam_elems += ir_type_numel(&master->params[i]->type);
  sm_buf_printf(c,
                "/* %s.c: generated by smelt. Do not edit.\n"
                " * %d function%s, %d kernels; %lld parameter elements (%zu bytes); "
                "arena %zu bytes (activations, %zu without reuse, then a %zu-byte GEMM workspace). */\n"
                "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n"
                "#ifdef _OPENMP\n#include <omp.h>\n#endif\n\n"
                "#include \"rt_math.h\"\n#include \"rt_model.h\"\n#include \"%s.h\"\n\n",
                m, prog->nfuncs, prog->nfuncs == 1 ? "" : "s", nkernels,
                (long long)nparam_elems, plans[0].param_bytes, arena, naive, ws_bytes, m);
  sm_buf_puts(c, sm_buf_str(&kbuf));
  sm_buf_free(&kbuf);
  bool *emb = sm_xcalloc((size_t)master->nparams + 1, 1);
  bool any_emb = false;
  for (int i = 0; i < master->nparams; i++) any_emb |= emb[i] = embeds(master, o, i);
  if (any_emb) emit_embedded(c, master, o);
  for (int f = 0; f < prog->nfuncs; f++) {
    const IrGraph *g = prog->funcs[f];
    char tin[128], tout[128];
    snprintf(tin, sizeof tin, "f%d_%s_inputs", f, prog->fnames[f]);
    snprintf(tout, sizeof tout, "f%d_%s_outputs", f, prog->fnames[f]);
    emit_desc(c, m, tin, g->inputs, g->ninputs, &plans[f], false, NULL);
    emit_desc(c, m, tout, g->outputs, g->noutputs, &plans[f], false, NULL);
  }
  CgPlan mp;
  cg_plan(master, NULL, &mp);
  emit_desc(c, m, "params", master->params, master->nparams, &mp, true, emb);
  free(emb);
  cg_plan_free(&mp);
  sm_buf_printf(c, "\nstatic const RtFuncDesc %s_funcs[%d] = {\n", m, prog->nfuncs);
  for (int f = 0; f < prog->nfuncs; f++) {
    const IrGraph *g = prog->funcs[f];
    sm_buf_puts(c, "  {");
    sm_esc_cstring(c, prog->fnames[f]);
    sm_buf_printf(c, ", %d, %d, ", g->ninputs, g->noutputs);
    char stem[160];
    fn_stem(stem, sizeof stem, m, prog, f);
    if (g->ninputs) sm_buf_printf(c, "%s_inputs, ", stem);
    else sm_buf_puts(c, "NULL, ");
    sm_buf_printf(c, "%s_outputs, %s, %s_prof, %d, ", stem, stem, stem, nks[f]);
    if (nks[f]) sm_buf_printf(c, "%s_kernels},\n", stem);
    else sm_buf_puts(c, "NULL},\n");
  }
  sm_buf_puts(c, "};\n");
  if (prog->has_train) {
    const RtTrainDesc *t = &prog->train;
    const RtSchedule *s = &t->schedule;
    sm_buf_printf(c,
                  "\nstatic const RtTrainDesc %s_train_desc = {\n"
                  "  %d, %d, %d, %d, %d, %d, %d, %d, %d, %d,\n"
                  "  {%d, %.17g, %.17g, %d, {",
                  m, t->train_fn, t->eval_fn, t->in_x, t->in_y, t->in_lr, t->in_step,
                  t->out_loss, t->out_pred, t->task, t->epochs, s->kind, s->lr, s->gamma,
                  s->step_size);
    for (int i = 0; i < 8; i++) sm_buf_printf(c, "%s%d", i ? ", " : "", s->milestones[i]);
    sm_buf_printf(c, "}, %d, %d, %.17g, %d, %d},\n  %d, %d, {", s->nmilestones, s->t_max,
                  s->eta_min, s->patience, s->warmup_steps, t->patience, t->nsteps);
    for (int i = 0; i < RT_MAX_STEPS; i++) sm_buf_printf(c, "%s%d", i ? ", " : "", t->step_fn[i]);
    sm_buf_puts(c, "},\n};\n");
  }
  bool onnx = o->onnx.model_len > 0;
  if (onnx) emit_onnx_template(c, m, o);
  sm_buf_printf(c,
                "\nstatic const RtModelDesc %s_model = {\n"
                "  \"%s\", %lluull, %d, %d, %d,\n  %s%s, %s_f0_infer_outputs, %s%s,\n"
                "  %zu, %zu, %s_f0_infer,\n  %d, %s_funcs, %s%s%s, %d, %s%s%s,\n};\n\n",
                m, m, (unsigned long long)prog->seed, g0->ninputs, g0->noutputs,
                master->nparams, g0->ninputs ? m : "NULL", g0->ninputs ? "_f0_infer_inputs" : "",
                m, master->nparams ? m : "NULL", master->nparams ? "_params" : "",
                plans[0].param_bytes, arena, m, prog->nfuncs, m,
                prog->has_train ? "&" : "NULL", prog->has_train ? m : "",
                prog->has_train ? "_train_desc" : "", prog->nweights, onnx ? "&" : "NULL",
                onnx ? m : "", onnx ? "_onnx" : "");
  for (int f = 0; f < prog->nfuncs; f++) cg_plan_free(&plans[f]);
  sm_buf_printf(c,
                "const struct RtModelDesc *%s_desc(void) { return &%s_model; }\n"
                "%s *%s_create(void) { return rt_model_create(&%s_model); }\n"
                "void %s_free(%s *m) { rt_model_free(m); }\n"
                "int %s_load_weights(%s *m, const char *path) { return rt_model_load_weights(m, path); }\n"
                "int %s_save_weights(%s *m, const char *path) { return rt_model_save_weights(m, path); }\n"
                "const char *%s_error(const %s *m) { return m->err.msg; }\n"
                "void *%s_input(%s *m, int i) {\n"
                "  return (unsigned)i < %du ? rt_model_tensor(m, &m->desc->inputs[i]) : NULL;\n}\n"
                "const void *%s_output(const %s *m, int i) {\n"
                "  return (unsigned)i < %du ? rt_model_tensor(m, &m->desc->outputs[i]) : NULL;\n}\n"
                "void %s_run(%s *m) { rt_model_run(m); }\n\n"
                "#ifdef SMELT_MAIN\n"
                "int main(int argc, char **argv) { return rt_main(&%s_model, argc, argv); }\n"
                "#endif\n",
                m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, g0->ninputs, m, m,
                g0->noutputs, m, m, m);
}
