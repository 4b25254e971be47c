/* A kernel's plan and body: the unfused op's generator, a producer with an
 * elementwise epilogue, or a loop nest over elementwise members. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

/* A fused group whose first member is a producer (gemm, conv, ...) taking
 * the elementwise members as its epilogue. */
static bool has_producer(const CgKernel *K) {
  return K->nm > 1 && !(K->mem[0]->op->flags & IR_OPF_ELEMENTWISE);
}

static OpEpilogue epilogue_of(const CgKernel *K) {
  return (OpEpilogue){.prod = K->mem[0], .mem = K->mem + 1, .nm = K->nm - 1, .ins = K->ins,
                      .nin = K->nin, .outs = K->outs, .nouts = K->nout};
}

void cg_kernel_plan(const CgKernel *K, CgKernelPlan *p) {
  *p = (CgKernelPlan){.form = "loops"};
  if (K->nm == 1) {
    const IrNode *n = K->anchor;
    if (n->op->flags & IR_OPF_ELEMENTWISE) p->form = "elementwise";
    if (n->op->c->plan) n->op->c->plan(n, NULL, p);
  } else if (has_producer(K)) {
    OpEpilogue e = epilogue_of(K);
    if (e.prod->op->c->plan) e.prod->op->c->plan(e.prod, &e, p);
  } else {
    p->form = "elementwise";
  }
}

void cg_kernel_plan_str(SmBuf *b, const CgKernel *K) {
  CgKernelPlan p;
  cg_kernel_plan(K, &p);
  sm_buf_puts(b, p.form);
  if (p.M)
    sm_buf_printf(b, " [%lld,%lld]x[%lld,%lld] x%lld: %lld tasks, blocks mc %lld nc %lld kc %lld",
                  (long long)p.M, (long long)p.K, (long long)p.K, (long long)p.N,
                  (long long)p.nbatch, (long long)p.tasks, (long long)p.mc, (long long)p.nc,
                  (long long)p.kc);
  if (p.ws_floats) sm_buf_printf(b, ", workspace %lld floats", (long long)p.ws_floats);
}

void cg_kernel_body(SmBuf *b, const CgKernel *K) {
  const IrNode *n = K->anchor;
  if (K->nm == 1) {
    n->op->c->emit(b, n);
  } else if (has_producer(K)) {
    OpEpilogue e = epilogue_of(K);
    op_emit_fused(b, &e);
  } else {
    ew_emit_group(b, K->mem, K->nm, K->ins, K->nin, K->outs, K->nout);
  }
}

/* Whether `name` occurs in text as an identifier (not inside a longer one). */
static bool uses(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
    bool before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
    bool after = isalnum((unsigned char)p[n]) || p[n] == '_';
    if (!before && !after) return true;
  }
  return false;
}

void cg_kernel_preamble(SmBuf *b, const char *kernels) {
  size_t n0 = b->len;
  if (uses(kernels, "vf") || uses(kernels, "SM_L"))
    sm_buf_puts(b, "/* vf: the widest float vector of the target (16 lanes with AVX-512, else 8);"
                   " SM_L its lanes */\n"
                   "#if defined(__AVX512F__)\ntypedef float vf __attribute__((vector_size(64)));\n"
                   "#else\ntypedef float vf __attribute__((vector_size(32)));\n#endif\n"
                   "#define SM_L ((int64_t)(sizeof(vf) / sizeof(float)))\n");
  if (uses(kernels, "SM_FMA"))
    sm_buf_puts(b, "/* SM_FMA(x, y, z): x * y + z on vf, one fused multiply-add under GCC */\n"
                   "#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)\n"
                   "#define SM_FMA(x, y, z) __builtin_ia32_vfmaddps512_mask((x), (y), (z), (unsigned short)-1, 4)\n"
                   "#elif defined(__GNUC__) && !defined(__clang__) && defined(__FMA__)\n"
                   "#define SM_FMA(x, y, z) __builtin_ia32_vfmaddps256((x), (y), (z))\n"
                   "#else\n#define SM_FMA(x, y, z) ((x) * (y) + (z))\n#endif\n");
  if (uses(kernels, "SM_REG"))
    /* each loaded vector held in a register for all its FMAs: compilers
     * otherwise fold the load into every FMA that uses it (measured 1.6x
     * slower for LeNet's second layer) */
    sm_buf_puts(b, "/* SM_REG(v): keeps vector v in a register for all its uses */\n"
                   "#if defined(__GNUC__) && defined(__AVX__)\n"
                   "#define SM_REG(v) __asm__(\"\" : \"+v\"(v))\n#else\n#define SM_REG(v) (void)0\n#endif\n");
  if (uses(kernels, "sm_threads"))
    sm_buf_puts(b, "/* the threads of a team of at most n */\n"
                   "static inline int sm_threads(int n) {\n#ifdef _OPENMP\n"
                   "  return omp_get_max_threads() < n ? omp_get_max_threads() : n;\n#else\n"
                   "  (void)n;\n  return 1;\n#endif\n}\n");
  if (uses(kernels, "sm_thread"))
    sm_buf_puts(b, "/* the calling thread's number in its team */\n"
                   "static inline int64_t sm_thread(void) {\n#ifdef _OPENMP\n"
                   "  return omp_get_thread_num();\n#else\n  return 0;\n#endif\n}\n");
  if (b->len > n0) sm_buf_puts(b, "\n");
}

/* Empty results: reference every parameter so the body compiles
 * warning-free, and do nothing. */
bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
  return true;
}

void emit_sum_term(SmBuf *e, int64_t c, const char *v) {
  if (c == 0) return;
  if (e->len) sm_buf_puts(e, " + ");
  if (c == 1) sm_buf_puts(e, v);
  else sm_buf_printf(e, "%lld*%s", (long long)c, v);
}
