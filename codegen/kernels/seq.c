/* C kernels: embedding and its gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/seq.h"

static const char *ctype(const IrNode *n) { return ir_dtype_ctype(n->out[0]->type.dtype); }

static void emb_emit(SmBuf *b, const IrNode *n) {
  int64_t NI = ir_numel(&n->in[0]->type);
  int64_t V = n->in[1]->type.dims[0], D = n->in[1]->type.dims[1];
  const char *T = ctype(n);
  sm_buf_printf(b, "  /* %lld lookups of rows of %lld; ids outside [0, %lld) give zeros */\n",
                (long long)NI, (long long)D, (long long)V);
  if (NI == 0) {
    sm_buf_puts(b, "  (void)out0;\n  (void)in0;\n  (void)in1;\n");
    return;
  }
  emit_omp_for(b, NI * D, NULL);
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", (long long)NI);
  sm_buf_puts(b, "    const int64_t id = (int64_t)in0[i];\n");
  sm_buf_printf(b, "    %s *restrict dst = out0 + i * %lld;\n", T, (long long)D);
  sm_buf_printf(b, "    if (id < 0 || id >= %lld) {\n", (long long)V);
  sm_buf_printf(b, "      for (int64_t j = 0; j < %lld; j++) dst[j] = 0;\n", (long long)D);
  sm_buf_puts(b, "      continue;\n    }\n");
  sm_buf_printf(b, "    const %s *restrict src = in1 + id * %lld;\n", T, (long long)D);
  sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) dst[j] = src[j];\n  }\n",
                (long long)D);
}

/* Race-free scatter-add: threads own disjoint blocks of 16 columns and each
 * walks every lookup in order, so the sums are also deterministic. */
static void emb_grad_emit(SmBuf *b, const IrNode *n) {
  int64_t NI = ir_numel(&n->in[0]->type);
  int64_t V = ir_attr_int(n, "vocab", 0), D = n->out[0]->type.dims[1];
  int64_t nblk = (D + 15) / 16;
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) out0[i] = 0;\n", (long long)(V * D));
  if (NI == 0) {
    sm_buf_puts(b, "  (void)in0;\n  (void)in1;\n");
    return;
  }
  sm_buf_printf(b, "  /* scatter-add of %lld rows; ids outside [0, %lld) are skipped */\n",
                (long long)NI, (long long)V);
  if (nblk > 1) emit_omp_for(b, NI * D, NULL);
  sm_buf_printf(b, "  for (int64_t blk = 0; blk < %lld; blk++) {\n", (long long)nblk);
  sm_buf_printf(b, "    const int64_t j0 = blk * 16, j1 = j0 + 16 < %lld ? j0 + 16 : %lld;\n",
                (long long)D, (long long)D);
  sm_buf_printf(b, "    for (int64_t i = 0; i < %lld; i++) {\n", (long long)NI);
  sm_buf_puts(b, "      const int64_t id = (int64_t)in0[i];\n");
  sm_buf_printf(b, "      if (id < 0 || id >= %lld) continue;\n", (long long)V);
  sm_buf_printf(b, "      for (int64_t j = j0; j < j1; j++) out0[id * %lld + j] += in1[i * %lld + j];\n",
                (long long)D, (long long)D);
  sm_buf_puts(b, "    }\n  }\n");
}

/* ---- the kernel generators of seq ---- */

const CgOpKernel cgk_embedding = {.emit = emb_emit};
const CgOpKernel cgk_embedding_grad = {.emit = emb_grad_emit};
