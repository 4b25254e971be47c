/* C emitter: one function per distinct kernel of a program (banner naming
 * its IR node, source location, shapes and the other calls of it), a step
 * function per program function calling them in order over the planned
 * arena with its buffers named after their values, the descriptor tables
 * the runtime reads, and the public C API prefixed with the model name. */
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

static const char *rt_dtype_enum(IrDType t) {
  static const char *const names[IR_NDTYPE] = {"RT_F32", "RT_F64", "RT_I64", "RT_I32", "RT_U8",
                                               "RT_BOOL"};
  return names[t];
}

static const char *rt_init_enum(IrInitKind k) {
  static const char *const names[] = {
      "RT_INIT_ZEROS",          "RT_INIT_ONES",          "RT_INIT_CONSTANT",
      "RT_INIT_NORMAL",         "RT_INIT_UNIFORM",       "RT_INIT_XAVIER_UNIFORM",
      "RT_INIT_XAVIER_NORMAL",  "RT_INIT_HE_UNIFORM",    "RT_INIT_HE_NORMAL"};
  _Static_assert(sizeof names / sizeof *names == IR_NINIT, "one name per IrInitKind");
  return names[k];
}

static const char *rt_region_enum(int region) {
  return region == RT_REGION_PARAMS ? "RT_REGION_PARAMS" : "RT_REGION_ARENA";
}

/* A table of tensor descriptors, one designated initializer a line;
 * parameters add their initializer and embedded values. */
static void emit_desc(SmBuf *c, const char *model, const char *table,
                      IrValue *const *vs, int n, const CgPlan *p, bool params,
                      const bool *embedded) {
  if (n == 0) return;
  sm_buf_printf(c, "static const RtTensorDesc %s_%s[%d] = {\n", model, table, n);
  for (int i = 0; i < n; i++) {
    const IrValue *v = vs[i];
    const CgSlot *s = &p->slots[v->id];
    sm_buf_puts(c, "  {.name = ");
    sm_esc_cstring(c, v->name);
    sm_buf_printf(c, ", .dtype = %s, .rank = %d, .dims = {", rt_dtype_enum(v->type.dtype),
                  v->type.rank);
    for (int k = 0; k < v->type.rank; k++)
      sm_buf_printf(c, "%s%lld", k ? ", " : "", (long long)v->type.dims[k]);
    if (v->type.rank == 0) sm_buf_puts(c, "0");
    sm_buf_printf(c, "}, .numel = %lld, .region = %s, .offset = %zu",
                  (long long)ir_type_numel(&v->type), rt_region_enum(s->region), s->offset);
    if (params)
      sm_buf_printf(c, ", .init = %s, .init_a = %.17g, .init_b = %.17g",
                    rt_init_enum(v->init.kind), v->init.a, v->init.b);
    if (params && embedded && embedded[i])
      sm_buf_printf(c, ", .embedded = %s_w%d", model, i);
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

/* ---- kernels shared by the functions of a program ---- */

/* One distinct kernel: the text emit_kernel gave its first use (banner,
 * `static void NAME(...) {...}`), where its banner ends and its name
 * starts and ends, and the other calls of it (", eval.k1, train.k1"). */
typedef struct CgShared {
  SmBuf text;
  size_t banner_end, name_at, name_end;
  uint64_t hash; /* of the text but its banner and name */
  SmBuf users;
} CgShared;

typedef struct CgShares {
  CgShared *v;
  int n, cap;
} CgShares;

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* Whether kernel texts a and b differ only in banner and name. */
static bool same_kernel(const CgShared *a, const CgShared *b) {
  const char *x = a->text.s, *y = b->text.s;
  size_t xn = a->name_at - a->banner_end, yn = b->name_at - b->banner_end;
  size_t xr = a->text.len - a->name_end, yr = b->text.len - b->name_end;
  return a->hash == b->hash && xn == yn && xr == yr &&
         !memcmp(x + a->banner_end, y + b->banner_end, xn) &&
         !memcmp(x + a->name_end, y + b->name_end, xr);
}

/* Adds kernel `node` of function `user` (NULL: the first function),
 * emitted into *text, to the program's kernels: a new one keeps the text,
 * a kernel already there (same signature and body) notes one more call.
 * Returns its index; *text is taken. */
static int share_kernel(CgShares *sh, SmBuf *text, const char *user, int node) {
  CgShared k = {.text = *text};
  *text = (SmBuf){0};
  const char *t = sm_buf_str(&k.text);
  /* names in the banner are escaped: its first end of comment is its own */
  const char *be = strstr(t, "*/"), *nm = be ? strstr(be, "\nstatic void ") : NULL;
  SM_ASSERT(nm);
  k.banner_end = (size_t)(be - t) - (be > t && be[-1] == ' ');
  k.name_at = (size_t)(nm - t) + strlen("\nstatic void ");
  k.name_end = (size_t)(strchr(t + k.name_at, '(') - t);
  k.hash = hash_bytes(hash_bytes(14695981039346656037ull, t + k.banner_end,
                                 k.name_at - k.banner_end),
                      t + k.name_end, k.text.len - k.name_end);
  for (int i = 0; i < sh->n; i++)
    if (same_kernel(&sh->v[i], &k)) {
      SmBuf *u = &sh->v[i].users;
      const char *nl = u->len ? strrchr(u->s, '\n') : NULL;
      sm_buf_puts(u, u->len - (size_t)(nl ? nl - u->s : 0) > 64 ? ",\n *   " : ", ");
      if (user) {
        sm_esc_comment(u, user);
        sm_buf_putc(u, '.');
      }
      sm_buf_printf(u, "k%d", node);
      sm_buf_free(&k.text);
      return i;
    }
  if (sh->n == sh->cap) {
    sh->cap = sh->cap ? 2 * sh->cap : 32;
    sh->v = sm_xrealloc(sh->v, (size_t)sh->cap * sizeof *sh->v);
  }
  sh->v[sh->n] = k;
  return sh->n++;
}

/* Every distinct kernel once; a banner names the other calls of it. */
static void emit_shared(SmBuf *c, const CgShares *sh) {
  for (int i = 0; i < sh->n; i++) {
    const CgShared *k = &sh->v[i];
    const char *t = k->text.s;
    sm_buf_printf(c, "%.*s", (int)k->banner_end, t);
    if (k->users.len) sm_buf_printf(c, "\n * also called as %s", k->users.s + 2);
    sm_buf_puts(c, t + k->banner_end);
  }
}

static void shares_free(CgShares *sh) {
  for (int i = 0; i < sh->n; i++) {
    sm_buf_free(&sh->v[i].text);
    sm_buf_free(&sh->v[i].users);
  }
  free(sh->v);
}

/* ---- step functions ---- */

/* A buffer of a step function: a local pointer named after its value. */
typedef struct CgLocal {
  const IrValue *v;
  char name[SM_C_NAME_MAX + 1];
} CgLocal;

/* Whether s, case aside, is the model's name or starts with it and '_':
 * the model's typedef, API, tables and header macros. */
static bool model_clash(const char *s, const char *model) {
  size_t n = strlen(model);
  for (size_t i = 0; i < n; i++)
    if (tolower((unsigned char)s[i]) != tolower((unsigned char)model[i])) return false;
  return !s[n] || s[n] == '_';
}

static bool local_taken(const CgLocal *ls, int n, const char *s) {
  static const char *const fixed[] = {"P", "A", "t", "c0", "c1", "ws"};
  for (int i = 0; i < SM_COUNT(fixed); i++)
    if (!strcmp(fixed[i], s)) return true;
  for (int i = 0; i < n; i++)
    if (!strcmp(ls[i].name, s)) return true;
  return false;
}

/* Why s cannot name a local: sm_c_name_problem's reasons, except that of
 * the names starting with k or f and a digit only the kernels' own shape
 * (`k12_...`, `f2_...`) is taken: "f1w" is free. */
static const char *local_problem(const char *s) {
  if ((s[0] == 'k' || s[0] == 'f') && isdigit((unsigned char)s[1])) {
    size_t i = 1;
    while (isdigit((unsigned char)s[i])) i++;
    if (s[i] == '_') return "a kernel's name";
    char x[SM_C_NAME_MAX + 2];
    snprintf(x, sizeof x, "x%s", s + 1); /* nothing else starts so */
    return sm_c_name_problem(x);
  }
  return sm_c_name_problem(s);
}

/* The C name of value v among the locals ls[0, n): its name with every
 * byte outside [A-Za-z0-9_] as '_', cut to 48 bytes, and prefixed "v_"
 * ("vv_" in a model named v) if that is no identifier of its own (a
 * keyword, a C library or runtime name, a kernel's, the model's); then
 * "_2", "_3", ... until no other local has it. */
static void local_name(CgLocal *l, const CgLocal *ls, int n, const char *model) {
  char base[49];
  size_t k = 0;
  for (const char *s = l->v->name; *s && k + 1 < sizeof base; s++)
    base[k++] = isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80) ? *s : '_';
  base[k] = 0;
  static const char *const prefixes[] = {"", "v_", "vv_"};
  for (int p = 0; p < SM_COUNT(prefixes); p++)
    for (int i = 1;; i++) {
      if (i == 1) snprintf(l->name, sizeof l->name, "%s%s", prefixes[p], base);
      else snprintf(l->name, sizeof l->name, "%s%s_%d", prefixes[p], base, i);
      if (local_problem(l->name) || model_clash(l->name, model)) break;
      if (!local_taken(ls, n, l->name)) return;
    }
  SM_ASSERT(!"a local name is always found");
}

/* The locals of a step function: the buffers its kernels use, in the
 * order of their first use. Returns the count. */
static int step_locals(const CgKernel *ks, int nk, const char *model, CgLocal **out) {
  int cap = 1, n = 0;
  for (int k = 0; k < nk; k++) cap += ks[k].nin + ks[k].nout;
  CgLocal *ls = sm_xcalloc((size_t)cap, sizeof *ls);
  for (int k = 0; k < nk; k++)
    for (int i = 0; i < ks[k].nout + ks[k].nin; i++) {
      const IrValue *v = i < ks[k].nout ? ks[k].outs[i] : ks[k].ins[i - ks[k].nout];
      bool seen = false;
      for (int j = 0; j < n && !seen; j++) seen = ls[j].v == v;
      if (seen) continue;
      ls[n].v = v;
      local_name(&ls[n], ls, n, model);
      n++;
    }
  *out = ls;
  return n;
}

static const char *local_of(const CgLocal *ls, int n, const IrValue *v) {
  for (int i = 0; i < n; i++)
    if (ls[i].v == v) return ls[i].name;
  SM_ASSERT(!"every buffer has a local");
  return NULL;
}

/* The step function of one program function: its buffers as locals over
 * the parameter block P and the arena A, then its kernels in order; those
 * with a workspace get the arena from byte ws_off on. `STEM_prof` adds
 * each kernel's seconds into t[k] unless t is NULL (`smelt bench`,
 * `./model bench`); `STEM` runs it without timing. */
typedef struct CgStep {
  const char *stem;
  const CgKernel *ks;
  int nk;
  const CgPlan *plan;
  const int64_t *kws;
  size_t ws_off;
  const CgShares *sh;
  const int *kern; /* the shared kernel each of ks runs */
  const CgLocal *ls;
  int nl;
} CgStep;

static void emit_step(SmBuf *c, const CgStep *s) {
  sm_buf_printf(c, "static void %s_prof(unsigned char *restrict P, unsigned char *restrict A, "
                "double *restrict t) {\n", s->stem);
  bool uses_p = false, uses_a = false, uses_ws = false;
  for (int i = 0; i < s->nl; i++) {
    const IrValue *v = s->ls[i].v;
    const CgSlot *sl = &s->plan->slots[v->id];
    bool par = sl->region == RT_REGION_PARAMS;
    *(par ? &uses_p : &uses_a) = true;
    const char *ct = ir_dtype_ctype(v->type.dtype);
    sm_buf_printf(c, "  %s *%s = (%s *)(%s + %zu);", ct, s->ls[i].name, ct, par ? "P" : "A",
                  sl->offset);
    if (strcmp(s->ls[i].name, v->name)) {
      sm_buf_puts(c, " /* ");
      sm_esc_comment(c, v->name);
      sm_buf_puts(c, " */");
    }
    sm_buf_putc(c, '\n');
  }
  for (int k = 0; k < s->nk; k++) uses_ws |= s->kws[k] > 0;
  if (uses_ws) sm_buf_printf(c, "  float *ws = (float *)(A + %zu);\n", s->ws_off);
  /* C11 names every parameter: a function without parameters (or
   * without kernels) says it leaves them alone */
  if (!uses_p) sm_buf_puts(c, "  (void)P;\n");
  if (!uses_a && !uses_ws) sm_buf_puts(c, "  (void)A;\n");
  if (!s->nk) sm_buf_puts(c, "  (void)t;\n");
  else sm_buf_puts(c, "  double c0 = t ? rt_now() : 0, c1;\n");
  for (int k = 0; k < s->nk; k++) {
    const CgKernel *K = &s->ks[k];
    const CgShared *sk = &s->sh->v[s->kern[k]];
    sm_buf_printf(c, "  %.*s(", (int)(sk->name_end - sk->name_at), sk->text.s + sk->name_at);
    for (int i = 0; i < K->nout + K->nin; i++) {
      const IrValue *v = i < K->nout ? K->outs[i] : K->ins[i - K->nout];
      sm_buf_printf(c, "%s%s", i ? ", " : "", local_of(s->ls, s->nl, v));
    }
    if (s->kws[k]) sm_buf_puts(c, K->nin || K->nout ? ", ws" : "ws");
    sm_buf_printf(c, ");\n  if (t) { c1 = rt_now(); t[%d] += c1 - c0; c0 = c1; }\n", k);
  }
  sm_buf_printf(c, "}\n\nstatic void %s(unsigned char *restrict P, unsigned char *restrict A) {\n"
                "  %s_prof(P, A, NULL);\n}\n\n", s->stem, s->stem);
}

/* The kernel table of a function, one row per call: names (as `smelt
 * inspect --kernels` lists them, with their members), FLOPs and bytes,
 * for profiles. */
static void emit_kernel_table(SmBuf *c, const char *stem, const CgKernel *ks, int nk) {
  if (!nk) return;
  sm_buf_printf(c, "static const RtKernelDesc %s_kernels[%d] = {\n", stem, nk);
  for (int k = 0; k < nk; k++) {
    const CgKernel *K = &ks[k];
    SmBuf nm = {0};
    sm_buf_printf(&nm, "k%d ", K->anchor->id);
    for (int m = 0; m < K->nm; m++)
      sm_buf_printf(&nm, "%s%s", m ? "+" : "", K->mem[m]->op->name);
    sm_buf_puts(c, "  {.name = ");
    sm_esc_cstring(c, sm_buf_str(&nm));
    sm_buf_printf(c, ", .flops = %.17g, .gemm_flops = %.17g, .bytes = %.17g},\n",
                  cg_kernel_flops(K), cg_kernel_gemm_flops(K), cg_kernel_bytes(K));
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
  sm_buf_printf(c,
                "%s};\nstatic const RtOnnxTemplate %s_onnx = {\n"
                "  .model = %s_onnx_model,\n  .graph = %s_onnx_graph,\n"
                "  .model_len = %zu,\n  .graph_len = %zu,\n"
                "  .n = %d,\n  .param = %s_onnx_param,\n  .onnx_type = %s_onnx_type,\n};\n",
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

static const char *rt_sched_enum(int kind) {
  static const char *const names[] = {"RT_SCHED_CONSTANT",    "RT_SCHED_STEP",
                                      "RT_SCHED_MULTISTEP",   "RT_SCHED_EXPONENTIAL",
                                      "RT_SCHED_COSINE",      "RT_SCHED_PLATEAU"};
  _Static_assert(sizeof names / sizeof *names == RT_SCHED_PLATEAU + 1, "one name per RtSchedKind");
  SM_ASSERT(kind >= 0 && kind < SM_COUNT(names));
  return names[kind];
}

static void emit_ints(SmBuf *c, const int *v, int n) {
  sm_buf_putc(c, '{');
  for (int i = 0; i < n; i++) sm_buf_printf(c, "%s%d", i ? ", " : "", v[i]);
  sm_buf_putc(c, '}');
}

static void emit_train_desc(SmBuf *c, const char *m, const RtTrainDesc *t) {
  const RtSchedule *s = &t->schedule;
  sm_buf_printf(c,
                "\nstatic const RtTrainDesc %s_train_desc = {\n"
                "  .train_fn = %d,\n  .eval_fn = %d,\n"
                "  .in_x = %d,\n  .in_y = %d,\n  .in_lr = %d,\n  .in_step = %d,\n"
                "  .out_loss = %d,\n  .out_pred = %d,\n"
                "  .task = %s,\n  .epochs = %d,\n"
                "  .schedule = {.kind = %s, .lr = %.17g, .gamma = %.17g, .step_size = %d,\n"
                "               .milestones = ",
                m, t->train_fn, t->eval_fn, t->in_x, t->in_y, t->in_lr, t->in_step, t->out_loss,
                t->out_pred, t->task == RT_TASK_REGRESS ? "RT_TASK_REGRESS" : "RT_TASK_CLASSIFY",
                t->epochs, rt_sched_enum(s->kind), s->lr, s->gamma, s->step_size);
  SM_ASSERT(t->task == RT_TASK_REGRESS || t->task == RT_TASK_CLASSIFY);
  emit_ints(c, s->milestones, SM_COUNT(s->milestones));
  sm_buf_printf(c,
                ", .nmilestones = %d, .t_max = %d,\n"
                "               .eta_min = %.17g, .patience = %d, .warmup_steps = %d},\n"
                "  .patience = %d,\n  .nsteps = %d,\n  .step_fn = ",
                s->nmilestones, s->t_max, s->eta_min, s->patience, s->warmup_steps, t->patience,
                t->nsteps);
  emit_ints(c, t->step_fn, RT_MAX_STEPS);
  sm_buf_puts(c, ",\n};\n");
}

/* The kernels, step functions and kernel tables of every function of a
 * program: each function's kernels are emitted after its plan (their
 * workspace, GEMM packing panels shared by the kernels of a function as
 * they run one at a time, follows the planned activations of the function
 * in the arena), and kernels identical to one already emitted are called
 * under its name. *arena grows to hold each workspace; returns the
 * largest workspace in bytes. */
static size_t emit_functions(SmBuf *c, const CgProgram *prog, CgPlan *plans, size_t *arena,
                             int *nks, int *nshared) {
  const char *m = prog->name;
  CgShares sh = {0};
  CgKernel *ks[CG_MAX_FUNCS];
  int *kern[CG_MAX_FUNCS];
  int64_t *kws[CG_MAX_FUNCS];
  size_t ws_off[CG_MAX_FUNCS], ws_bytes = 0;
  for (int f = 0; f < prog->nfuncs; f++) {
    const char *fn = f ? prog->fnames[f] : NULL;
    char kpre[16];
    snprintf(kpre, sizeof kpre, "f%d", f);
    int nk = nks[f] = cg_kernels(prog->funcs[f], &ks[f]);
    kws[f] = sm_xcalloc((size_t)nk + 1, sizeof *kws[f]);
    kern[f] = sm_xcalloc((size_t)nk + 1, sizeof *kern[f]);
    int64_t ws_max = 0;
    for (int k = 0; k < nk; k++) {
      SmBuf text = {0};
      emit_kernel(&text, fn, f ? kpre : NULL, &ks[f][k], &plans[f], &kws[f][k]);
      kern[f][k] = share_kernel(&sh, &text, fn, ks[f][k].anchor->id);
      if (kws[f][k] > ws_max) ws_max = kws[f][k];
    }
    ws_off[f] = (plans[f].arena_bytes + 63) / 64 * 64;
    size_t wsb = (size_t)ws_max * sizeof(float);
    if (wsb && ws_off[f] + wsb > *arena) *arena = ws_off[f] + wsb;
    if (wsb > ws_bytes) ws_bytes = wsb;
  }
  emit_shared(c, &sh);
  for (int f = 0; f < prog->nfuncs; f++) {
    char stem[160];
    fn_stem(stem, sizeof stem, m, prog, f);
    CgLocal *ls;
    int nl = step_locals(ks[f], nks[f], m, &ls);
    CgStep s = {.stem = stem, .ks = ks[f], .nk = nks[f], .plan = &plans[f], .kws = kws[f],
                .ws_off = ws_off[f], .sh = &sh, .kern = kern[f], .ls = ls, .nl = nl};
    emit_step(c, &s);
    emit_kernel_table(c, stem, ks[f], nks[f]);
    free(ls);
    free(kws[f]);
    free(kern[f]);
    cg_kernels_free(ks[f], nks[f]);
  }
  *nshared = sh.n;
  shares_free(&sh);
  return ws_bytes;
}

void cg_emit(const CgProgram *prog, const CgOptions *o, SmBuf *c, SmBuf *h) {
  const char *m = prog->name;
  const IrGraph *g0 = prog->funcs[0], *master = prog->funcs[prog->master];
  emit_header(h, g0);
  CgPlan plans[CG_MAX_FUNCS];
  size_t arena = 0, naive = 0;
  for (int f = 0; f < prog->nfuncs; f++) {
    cg_plan(prog->funcs[f], master, &plans[f]);
    if (plans[f].arena_bytes > arena) arena = plans[f].arena_bytes;
    if (plans[f].naive_bytes > naive) naive = plans[f].naive_bytes;
    for (int i = 0; i < prog->funcs[f]->nparams; i++)
      SM_ASSERT(ir_graph_find(master, prog->funcs[f]->params[i]->name));
  }
  /* kernels first: the file's opening comment gives the sizes */
  SmBuf kbuf = {0};
  int nks[CG_MAX_FUNCS], nshared = 0, ncalls = 0;
  size_t ws_bytes = emit_functions(&kbuf, prog, plans, &arena, nks, &nshared);
  for (int f = 0; f < prog->nfuncs; f++) ncalls += nks[f];
  int64_t nparam_elems = 0;
  for (int i = 0; i < master->nparams; i++) nparam_elems += ir_type_numel(&master->params[i]->type);
  sm_buf_printf(c,
                "/* %s.c: generated by smelt. Do not edit.\n"
                " * %d function%s, %d kernel calls of %d kernels; %lld parameter elements "
                "(%zu bytes); arena %zu bytes (activations, %zu without reuse, then a %zu-byte "
                "GEMM workspace). */\n"
                "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n"
                "#ifdef _OPENMP\n#include <omp.h>\n#endif\n\n"
                "#include \"rt_math.h\"\n#include \"rt_model.h\"\n#include \"%s.h\"\n\n",
                m, prog->nfuncs, prog->nfuncs == 1 ? "" : "s", ncalls, nshared,
                (long long)nparam_elems, plans[0].param_bytes, arena, naive, ws_bytes, m);
  cg_kernel_preamble(c, sm_buf_str(&kbuf));
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
    char stem[160];
    fn_stem(stem, sizeof stem, m, prog, f);
    sm_buf_puts(c, "  {.name = ");
    sm_esc_cstring(c, prog->fnames[f]);
    sm_buf_printf(c, ", .ninputs = %d, .noutputs = %d,\n", g->ninputs, g->noutputs);
    if (g->ninputs) sm_buf_printf(c, "   .inputs = %s_inputs,", stem);
    else sm_buf_puts(c, "   .inputs = NULL,");
    sm_buf_printf(c, " .outputs = %s_outputs,\n   .run = %s, .run_prof = %s_prof,\n", stem,
                  stem, stem);
    sm_buf_printf(c, "   .nkernels = %d, .kernels = ", nks[f]);
    if (nks[f]) sm_buf_printf(c, "%s_kernels},\n", stem);
    else sm_buf_puts(c, "NULL},\n");
  }
  sm_buf_puts(c, "};\n");
  if (prog->has_train) emit_train_desc(c, m, &prog->train);
  bool onnx = o->onnx.model_len > 0;
  if (onnx) emit_onnx_template(c, m, o);
  sm_buf_printf(c, "\nstatic const RtModelDesc %s_model = {\n  .name = \"%s\",\n", m, m);
  sm_buf_printf(c, "  .seed = %lluull,\n  .ninputs = %d,\n  .noutputs = %d,\n  .nparams = %d,\n",
                (unsigned long long)prog->seed, g0->ninputs, g0->noutputs, master->nparams);
  if (g0->ninputs) sm_buf_printf(c, "  .inputs = %s_f0_infer_inputs,\n", m);
  else sm_buf_puts(c, "  .inputs = NULL,\n");
  sm_buf_printf(c, "  .outputs = %s_f0_infer_outputs,\n", m);
  if (master->nparams) sm_buf_printf(c, "  .params = %s_params,\n", m);
  else sm_buf_puts(c, "  .params = NULL,\n");
  sm_buf_printf(c, "  .param_bytes = %zu,\n  .arena_bytes = %zu,\n  .run = %s_f0_infer,\n"
                "  .nfuncs = %d,\n  .funcs = %s_funcs,\n",
                plans[0].param_bytes, arena, m, prog->nfuncs, m);
  if (prog->has_train) sm_buf_printf(c, "  .train = &%s_train_desc,\n", m);
  else sm_buf_puts(c, "  .train = NULL,\n");
  sm_buf_printf(c, "  .nweights = %d,\n", prog->nweights);
  if (onnx) sm_buf_printf(c, "  .onnx = &%s_onnx,\n};\n\n", m);
  else sm_buf_puts(c, "  .onnx = NULL,\n};\n\n");
  for (int f = 0; f < prog->nfuncs; f++) cg_plan_free(&plans[f]);
  sm_buf_printf(c,
                "const struct RtModelDesc *%s_desc(void) { return &%s_model; }\n"
                "%s *%s_create(void) { return rt_model_create(&%s_model); }\n"
                "void %s_free(%s *m) { rt_model_free(m); }\n"
                "int %s_load_weights(%s *m, const char *path) { return rt_model_load_weights(m, path); }\n"
                "int %s_save_weights(%s *m, const char *path) { return rt_model_save_weights(m, path); }\n"
                "const char *%s_error(const %s *m) { return m->err.msg; }\n"
                "void *%s_input(%s *m, int i) {\n"
                "  return (unsigned)i < (unsigned)m->desc->ninputs ? rt_model_tensor(m, &m->desc->inputs[i]) : NULL;\n}\n"
                "const void *%s_output(const %s *m, int i) {\n"
                "  return (unsigned)i < (unsigned)m->desc->noutputs ? rt_model_tensor(m, &m->desc->outputs[i]) : NULL;\n}\n"
                "void %s_run(%s *m) { rt_model_run(m); }\n\n"
                "#ifdef SMELT_MAIN\n"
                "int main(int argc, char **argv) { return rt_main(&%s_model, argc, argv); }\n"
                "#endif\n",
                m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m);
}
