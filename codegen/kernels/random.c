/* C kernels: dropout_train and random_normal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"

/* Statements applying rt_mix64 to the uint64_t variable v in place. */
static void emit_mix64(SmBuf *b, int ind, const char *v) {
  sm_buf_printf(b, "%*s%s += 0x9e3779b97f4a7c15ull;\n", ind, "", v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 30)) * 0xbf58476d1ce4e5b9ull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s = (%s ^ (%s >> 27)) * 0x94d049bb133111ebull;\n", ind, "", v, v, v);
  sm_buf_printf(b, "%*s%s ^= %s >> 31;\n", ind, "", v, v);
}

/* The draw inlined: the (seed, stream) prefix of the hash is a constant,
 * and u >= ratio for u = k * 2^-53 is k >= ceil(ratio * 2^53) on the
 * integer k (exact: scaling by a power of two), so the loop vectorizes and
 * keeps exactly the reference's mask. */
static void dropout_train_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  const char *T = ctype(n);
  int64_t numel = ir_numel(&n->in[0]->type);
  double ratio = ir_attr_float(n, "ratio", 0.5);
  uint64_t pre = rt_hash_prefix((uint64_t)ir_attr_int(n, "seed", 0),
                                (uint64_t)ir_attr_int(n, "stream", 0));
  uint64_t thr = (uint64_t)ceil(ratio * 0x1.0p53);
  sm_buf_printf(b, "  const uint64_t base = (uint64_t)in1[0] * %lluu;\n",
                (unsigned long long)numel);
  emit_omp_for(b, numel * 4, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)numel);
  sm_buf_printf(b, "    uint64_t z = base + (uint64_t)i + %lluull;\n", (unsigned long long)RT_HASH_I);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    z ^= %lluull;\n", (unsigned long long)pre);
  emit_mix64(b, 4, "z");
  sm_buf_printf(b, "    const %s m = (z >> 11) >= %lluull ? ", T, (unsigned long long)thr);
  emit_value(b, n->out[0]->type.dtype, 1 / (1 - ratio));
  sm_buf_puts(b, " : 0;\n");
  sm_buf_puts(b, "    out1[i] = m;\n    out0[i] = in0[i] * m;\n  }\n");
}

static void random_normal_emit(SmBuf *b, const IrNode *n) {
  int64_t numel = ir_numel(&n->out[0]->type);
  if (numel == 0) return;
  if (n->nin) sm_buf_printf(b, "  const uint64_t base = (uint64_t)in0[0] * %lluu;\n",
                            (unsigned long long)numel);
  else sm_buf_puts(b, "  const uint64_t base = 0;\n");
  emit_omp_for(b, numel * 32, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n    out0[i] = (%s)(", (long long)numel,
                ctype(n));
  emit_value(b, IR_F64, ir_attr_float(n, "mean", 0));
  sm_buf_puts(b, " + ");
  emit_value(b, IR_F64, ir_attr_float(n, "scale", 1));
  sm_buf_printf(b, " * rt_normal(%lluu, %lluu, base + (uint64_t)i));\n",
                (unsigned long long)ir_attr_int(n, "seed", 0),
                (unsigned long long)ir_attr_int(n, "stream", 0));
}

/* ---- the kernel generators of random ---- */

const CgOpKernel cgk_random_normal = {.emit = random_normal_emit};
const CgOpKernel cgk_dropout_train = {.emit = dropout_train_emit};
