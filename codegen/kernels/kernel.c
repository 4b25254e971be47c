/* A kernel's plan and body: the unfused op's generator, a producer with an
 * elementwise epilogue, or a loop nest over elementwise members. */
#include <stdio.h>

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
