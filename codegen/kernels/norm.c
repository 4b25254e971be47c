/* C kernels: batch normalization forms and backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"

static void bn_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1], I = bn_inner(n);
  emit_omp_for(b, N * C * I, "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)N);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "      const %s a = in1[c] / %s(in4[c] + ", T,
                n->out[0]->type.dtype == IR_F32 ? "sqrtf" : "sqrt");
  lit(b, n, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  sm_buf_printf(b, "      const %s *x = in0 + (n * %lld + c) * %lld;\n", T, (long long)C,
                (long long)I);
  sm_buf_printf(b, "      %s *y = out0 + (n * %lld + c) * %lld;\n", T, (long long)C,
                (long long)I);
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++)\n", (long long)I);
  sm_buf_puts(b, "        y[i] = (x[i] - in3[c]) * a + in2[c];\n    }\n");
}

static const char *sqrt_fn(const IrNode *n) {
  return n->out[0]->type.dtype == IR_F32 ? "sqrtf" : "sqrt";
}

/* `for (n) { const T *<p> = in<k> + (n*C + c)*I; ... ` opener over the
 * batch at channel c, for each name=operand pair; closed by the caller. */
static void emit_batch_loop(SmBuf *b, const IrNode *n, int xi, const char *const *names,
                            const char *const *ptrs, int cnt) {
  int64_t N = n->in[xi]->type.dims[0], C = n->in[xi]->type.dims[1], I = bn_inner_of(n, xi);
  const char *T = ctype(n);
  sm_buf_printf(b, "    for (int64_t n = 0; n < %lld; n++) {\n", (long long)N);
  for (int k = 0; k < cnt; k++)
    sm_buf_printf(b, "      %s%s *%s = %s + (n * %lld + c) * %lld;\n",
                  ptrs[k][0] == 'o' ? "" : "const ", T, names[k], ptrs[k], (long long)C,
                  (long long)I);
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++) {\n", (long long)I);
}

/* One thread per channel: one pass over (dy, x) writes dx and both sums. */
static void bn_grad_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  int64_t C = n->in[1]->type.dims[1];
  emit_omp_for(b, ir_numel(&n->in[1]->type) * 4, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "    const %s r = 1 / %s(in4[c] + ", T, sqrt_fn(n));
  lit(b, n, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  sm_buf_printf(b, "    const %s a = in2[c] * r, mu = in3[c];\n", T);
  sm_buf_puts(b, "    double sdy = 0.0, sdyx = 0.0;\n");
  static const char *const nm[] = {"dy", "x", "dx"}, *const pt[] = {"in0", "in1", "out0"};
  emit_batch_loop(b, n, 1, nm, pt, 3);
  sm_buf_puts(b, "        dx[i] = dy[i] * a;\n");
  sm_buf_puts(b, "        sdy += dy[i];\n");
  sm_buf_puts(b, "        sdyx += dy[i] * (x[i] - mu);\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)(sdyx * r);\n", T);
  sm_buf_printf(b, "    out2[c] = (%s)sdy;\n", T);
  sm_buf_printf(b, "    out3[c] = (%s)(-sdy * a);\n", T);
  sm_buf_printf(b, "    out4[c] = (%s)(-0.5 * sdyx * a * r * r);\n  }\n", T);
}

/* One thread per channel: mean, then squared deviations (two passes, in
 * double), then y = x * a + sh from the saved statistics. Outputs 1 and 2 alias inputs 3 and 4; each channel
 * reads its running statistic before overwriting it. */
static void bn_train_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  const IrType *x = &n->in[0]->type;
  int64_t C = x->dims[1], cnt = ir_numel(x) / C;
  double mom = ir_attr_float(n, "momentum", 0.1);
  static const char *const nx[] = {"x"}, *const px[] = {"in0"};
  static const char *const nxy[] = {"x", "y"}, *const pxy[] = {"in0", "out0"};
  sm_buf_printf(b, "  /* %lld values per channel; momentum %g (PyTorch convention) */\n",
                (long long)cnt, mom);
  emit_omp_for(b, ir_numel(x) * 3, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_puts(b, "    double sum = 0.0, sq = 0.0;\n");
  emit_batch_loop(b, n, 0, nx, px, 1);
  sm_buf_puts(b, "        sum += x[i];\n      }\n    }\n");
  sm_buf_printf(b, "    const double mean = sum / %lld.0;\n", (long long)cnt);
  emit_batch_loop(b, n, 0, nx, px, 1);
  sm_buf_puts(b, "        sq += (x[i] - mean) * (x[i] - mean);\n      }\n    }\n");
  sm_buf_puts(b, "    const double r = 1.0 / sqrt(sq / ");
  sm_buf_printf(b, "%lld.0 + ", (long long)cnt);
  emit_value(b, IR_F64, ir_attr_float(n, "epsilon", 1e-5));
  sm_buf_puts(b, ");\n");
  /* y from the saved (rounded) statistics in T: the arithmetic of the
   * elementwise chain passes/remat.c recomputes y with */
  sm_buf_printf(b, "    const %s mf = (%s)mean, rf = (%s)r;\n", T, T, T);
  sm_buf_printf(b, "    const %s a = in1[c] * rf, sh = in2[c] - mf * a;\n", T);
  emit_batch_loop(b, n, 0, nxy, pxy, 2);
  sm_buf_puts(b, "        y[i] = x[i] * a + sh;\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)(", T);
  emit_value(b, IR_F64, 1 - mom);
  sm_buf_puts(b, " * in3[c] + ");
  emit_value(b, IR_F64, mom);
  sm_buf_puts(b, " * mean);\n");
  sm_buf_printf(b, "    out2[c] = (%s)(", T);
  emit_value(b, IR_F64, 1 - mom);
  sm_buf_puts(b, " * in4[c] + ");
  emit_value(b, IR_F64, mom);
  sm_buf_printf(b, " * (sq / %lld.0));\n", (long long)(cnt - 1));
  sm_buf_puts(b, "    out3[c] = mf;\n");
  sm_buf_puts(b, "    out4[c] = rf;\n  }\n");
}

/* One thread per channel: sums in one pass, dx in a second. */
static void bn_tgrad_emit(SmBuf *b, const IrNode *n) {
  const char *T = ctype(n);
  const IrType *x = &n->in[1]->type;
  int64_t C = x->dims[1], cnt = C ? ir_numel(x) / C : 0;
  static const char *const n2[] = {"dy", "x"}, *const p2[] = {"in0", "in1"};
  static const char *const n3[] = {"dy", "x", "dx"}, *const p3[] = {"in0", "in1", "out0"};
  emit_omp_for(b, ir_numel(x) * 3, NULL);
  sm_buf_printf(b, "  for (int64_t c = 0; c < %lld; c++) {\n", (long long)C);
  sm_buf_printf(b, "    const %s mu = in3[c], r = in4[c];\n", T);
  sm_buf_puts(b, "    double sdy = 0.0, sdyx = 0.0;\n");
  emit_batch_loop(b, n, 1, n2, p2, 2);
  sm_buf_puts(b, "        sdy += dy[i];\n");
  sm_buf_puts(b, "        sdyx += dy[i] * (x[i] - mu);\n      }\n    }\n");
  sm_buf_puts(b, "    sdyx *= r;\n");
  sm_buf_printf(b, "    const %s a = in2[c] * r, m1 = (%s)(sdy / %lld.0), m2 = (%s)(sdyx / %lld.0);\n",
                T, T, (long long)cnt, T, (long long)cnt);
  emit_batch_loop(b, n, 1, n3, p3, 3);
  sm_buf_puts(b, "        dx[i] = a * (dy[i] - m1 - (x[i] - mu) * r * m2);\n      }\n    }\n");
  sm_buf_printf(b, "    out1[c] = (%s)sdyx;\n", T);
  sm_buf_printf(b, "    out2[c] = (%s)sdy;\n  }\n", T);
}

/* ---- the kernel generators of norm ---- */

const CgOpKernel cgk_batchnorm = {.emit = bn_emit};
const CgOpKernel cgk_batchnorm_train = {.emit = bn_train_emit};
const CgOpKernel cgk_batchnorm_grad = {.emit = bn_grad_emit};
const CgOpKernel cgk_batchnorm_train_grad = {.emit = bn_tgrad_emit};
