/* C kernels: shape ops (copies for views, transpose, concat, slice, pad, constant). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "ir/ops/shape.h"

/* ---- emission helpers ---- */

/* C literal of type t */
static void emit_lit(SmBuf *b, IrDType t, double v) { cg_literal(b, t, v, false); }

/* "base + i0 * c0 - i1 * c1" without zero terms */
static void emit_index(SmBuf *b, int64_t base, const int64_t *c, int rank) {
  bool any = base != 0;
  if (any) sm_buf_printf(b, "%lld", (long long)base);
  for (int d = 0; d < rank; d++) {
    if (c[d] == 0) continue;
    if (any) sm_buf_puts(b, c[d] < 0 ? " - " : " + ");
    else if (c[d] < 0) sm_buf_putc(b, '-');
    sm_buf_printf(b, "i%d", d);
    if (c[d] != 1 && c[d] != -1)
      sm_buf_printf(b, " * %lld", (long long)(c[d] < 0 ? -c[d] : c[d]));
    any = true;
  }
  if (!any) sm_buf_putc(b, '0');
}

/* "p + index", or just "p" at offset 0 */
static void emit_ptr(SmBuf *b, const char *p, int64_t base, const int64_t *c, int rank) {
  sm_buf_puts(b, p);
  bool zero = base == 0;
  for (int d = 0; d < rank; d++) zero = zero && c[d] == 0;
  if (zero) return;
  sm_buf_puts(b, " + ");
  emit_index(b, base, c, rank);
}

/* Copy a strided block: for every index i over dims L[0..rank),
 *   out0[obase + sum i*oc] = <src>[ibase + sum i*ic].
 * Size-1 dims are dropped and dims that address both sides linearly are
 * merged, so contiguous runs become a single memcpy. */
static void emit_block_copy(SmBuf *b, const char *src, int rank, const int64_t *L,
                            const int64_t *oc, int64_t obase, const int64_t *ic,
                            int64_t ibase) {
  int64_t l[IR_MAX_RANK], o[IR_MAX_RANK], c[IR_MAX_RANK];
  int k = 0;
  int64_t numel = 1;
  for (int d = 0; d < rank; d++) {
    numel *= L[d];
    if (L[d] == 1) continue;
    if (k > 0 && o[k - 1] == L[d] * oc[d] && c[k - 1] == L[d] * ic[d]) {
      l[k - 1] *= L[d];
      o[k - 1] = oc[d];
      c[k - 1] = ic[d];
      continue;
    }
    l[k] = L[d];
    o[k] = oc[d];
    c[k] = ic[d];
    k++;
  }
  if (numel == 0) return;
  bool run = k > 0 && o[k - 1] == 1 && c[k - 1] == 1;
  int loops = run ? k - 1 : k;
  if (loops > 0) emit_omp_for(b, numel, NULL);
  for (int d = 0; d < loops; d++)
    sm_buf_printf(b, "%*sfor (int64_t i%d = 0; i%d < %lld; i%d++)\n", 2 + 2 * d, "", d, d,
                  (long long)l[d], d);
  sm_buf_printf(b, "%*s", 2 + 2 * loops, "");
  if (run) {
    sm_buf_puts(b, "memcpy(");
    emit_ptr(b, "out0", obase, o, loops);
    sm_buf_puts(b, ", ");
    emit_ptr(b, src, ibase, c, loops);
    sm_buf_printf(b, ", %lld * sizeof *out0);\n", (long long)l[k - 1]);
  } else {
    sm_buf_puts(b, "out0[");
    emit_index(b, obase, o, loops);
    sm_buf_printf(b, "] = %s[", src);
    emit_index(b, ibase, c, loops);
    sm_buf_puts(b, "];\n");
  }
}

/* Keeps -Wunused-parameter quiet for kernels with nothing to do. */
static void emit_void_params(SmBuf *b, const IrNode *n) {
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
}

static void copy_emit(SmBuf *b, const IrNode *n) {
  int64_t numel = ir_numel(&n->out[0]->type);
  if (numel == 0) emit_void_params(b, n);
  else sm_buf_printf(b, "  memcpy(out0, in0, %lld * sizeof *out0);\n", (long long)numel);
}

static void transpose_emit(SmBuf *b, const IrNode *n) {
  const IrType *it = &n->in[0]->type, *ot = &n->out[0]->type;
  if (ir_numel(ot) == 0) {
    emit_void_params(b, n);
    return;
  }
  int perm[IR_MAX_RANK];
  SM_ASSERT(get_perm(n, perm, NULL));
  int64_t ist[IR_MAX_RANK], ost[IR_MAX_RANK], ic[IR_MAX_RANK];
  ir_strides(it, ist);
  ir_strides(ot, ost);
  for (int k = 0; k < ot->rank; k++) ic[k] = ist[perm[k]];
  emit_block_copy(b, "in0", ot->rank, ot->dims, ost, 0, ic, 0);
}

static void concat_emit(SmBuf *b, const IrNode *n) {
  const IrType *ot = &n->out[0]->type;
  if (ir_numel(ot) == 0) {
    emit_void_params(b, n);
    return;
  }
  int a = concat_axis(n);
  int64_t ost[IR_MAX_RANK], off = 0;
  ir_strides(ot, ost);
  for (int k = 0; k < n->nin; k++) {
    const IrType *t = &n->in[k]->type;
    char src[16];
    snprintf(src, sizeof src, "in%d", k);
    if (ir_numel(t) == 0) {
      sm_buf_printf(b, "  (void)%s;\n", src);
      continue;
    }
    int64_t ist[IR_MAX_RANK];
    ir_strides(t, ist);
    emit_block_copy(b, src, t->rank, t->dims, ost, off * ost[a], ist, 0);
    off += t->dims[a];
  }
}

static void slice_emit(SmBuf *b, const IrNode *n) {
  const IrType *it = &n->in[0]->type, *ot = &n->out[0]->type;
  if (ir_numel(ot) == 0) {
    emit_void_params(b, n);
    return;
  }
  SliceDims sd;
  SM_ASSERT(slice_dims(n, &sd, NULL));
  int64_t ist[IR_MAX_RANK], ost[IR_MAX_RANK], ic[IR_MAX_RANK], base = 0;
  ir_strides(it, ist);
  ir_strides(ot, ost);
  for (int k = 0; k < it->rank; k++) {
    ic[k] = sd.len[k] > 1 ? sd.step[k] * ist[k] : 0; /* |step| may be huge if len 1 */
    base += sd.start[k] * ist[k];
  }
  emit_block_copy(b, "in0", ot->rank, ot->dims, ost, 0, ic, base);
}

static void pad_emit(SmBuf *b, const IrNode *n) {
  const IrType *it = &n->in[0]->type, *ot = &n->out[0]->type;
  int64_t numel = ir_numel(ot);
  if (numel == 0) {
    emit_void_params(b, n);
    return;
  }
  int64_t pads[2 * IR_MAX_RANK], ist[IR_MAX_RANK], ost[IR_MAX_RANK], obase = 0;
  ir_attr_ints(n, "pads", pads, 2 * IR_MAX_RANK);
  ir_strides(it, ist);
  ir_strides(ot, ost);
  for (int k = 0; k < it->rank; k++) obase += pads[k] * ost[k];
  if (numel != ir_numel(it)) {
    emit_omp_for(b, numel, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n    out0[i] = ", (long long)numel);
    emit_lit(b, ot->dtype, ir_attr_float(n, "value", 0));
    sm_buf_puts(b, ";\n");
  }
  if (ir_numel(it) == 0) sm_buf_puts(b, "  (void)in0;\n");
  else emit_block_copy(b, "in0", it->rank, it->dims, ost, obase, ist, 0);
}

static void constant_emit(SmBuf *b, const IrNode *n) {
  const IrType *ot = &n->out[0]->type;
  const IrAttr *va = ir_attr(n, "value");
  int64_t numel = ir_numel(ot);
  if (numel == 0) {
    sm_buf_puts(b, "  (void)out0;\n");
  } else if (attr_count(va) == 1) {
    emit_omp_for(b, numel, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++)\n    out0[i] = ", (long long)numel);
    emit_lit(b, ot->dtype, attr_num(va, 0));
    sm_buf_puts(b, ";\n");
  } else {
    sm_buf_printf(b, "  static const %s v[%lld] = {", ir_dtype_ctype(ot->dtype),
                  (long long)numel);
    for (int64_t i = 0; i < numel; i++) {
      sm_buf_puts(b, i % 8 ? ", " : i ? ",\n      " : "\n      ");
      emit_lit(b, ot->dtype, attr_num(va, (int)i));
    }
    sm_buf_puts(b, "};\n  memcpy(out0, v, sizeof v);\n");
  }
}

/* ---- the kernel generators of shape ---- */

const CgOpKernel cgk_flatten = {.emit = copy_emit};
const CgOpKernel cgk_reshape = {.emit = copy_emit};
const CgOpKernel cgk_transpose = {.emit = transpose_emit};
const CgOpKernel cgk_concat = {.emit = concat_emit};
const CgOpKernel cgk_slice = {.emit = slice_emit};
const CgOpKernel cgk_pad = {.emit = pad_emit};
const CgOpKernel cgk_constant = {.emit = constant_emit};
