/* ---- recurrent layers: ONNX RNN / GRU / LSTM onto smelt's rnn / gru / lstm
 * (PyTorch layout). ONNX stacks gates as LSTM i,o,f,c and GRU z,r,h; the
 * seq ops take PyTorch's i,f,g,o and r,z,n. The reordering is slices and a
 * concat of the ONNX tensors at run time, so the ONNX initializers W, R, B
 * themselves stay the model's parameters (trained under their own names and
 * exported unchanged in layout). ---- */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx_internal.h"
#include "rt.h"

enum { RC_RNN, RC_GRU, RC_LSTM };

/* blocks of H rows of v (along axis) in PyTorch's gate order */
static IrValue *gate_reorder(Im *im, IrValue *v, int axis, int cell, int64_t H, int64_t off) {
  static const int lstm_perm[4] = {0, 2, 3, 1}, gru_perm[3] = {1, 0, 2}, rnn_perm[1] = {0};
  const int *perm = cell == RC_LSTM ? lstm_perm : cell == RC_GRU ? gru_perm : rnn_perm;
  int G = cell == RC_LSTM ? 4 : cell == RC_GRU ? 3 : 1;
  IrValue *parts[4];
  for (int k = 0; k < G; k++) {
    int64_t st = off + perm[k] * H;
    parts[k] = ox_slice_axis(im, v, axis, st, st + H, 1);
  }
  if (G == 1 && off == 0 && v && v->type.dims[axis] == H) return v;
  return ox_concat_n(im, parts, G, axis);
}

static bool act_is(const char *got, const char *want) { return !strcasecmp(got, want); }

bool ox_lower_recurrent(Im *im, const Onnx__NodeProto *n, Args *a) {
  const char *t = n->op_type;
  int cell = !strcmp(t, "LSTM") ? RC_LSTM : !strcmp(t, "GRU") ? RC_GRU : RC_RNN;
  int G = cell == RC_LSTM ? 4 : cell == RC_GRU ? 3 : 1;
  IrValue *x = ox_in_val(im, a, 0), *W = ox_in_val(im, a, 1), *R = ox_in_val(im, a, 2);
  if (!x || !W || !R) return im->failed ? false : ox_fail(im, "%s needs X, W and R", t);
  int64_t layout = im->opset >= 14 ? ox_aint(n, "layout", 0) : 0;
  if (layout != 0 && layout != 1) return ox_fail(im, "layout must be 0 or 1, got %lld", (long long)layout);
  const char *dir = ox_astr(im, n, "direction", "forward");
  bool rev = !strcmp(dir, "reverse"), bidi = !strcmp(dir, "bidirectional");
  if (!rev && !bidi && strcmp(dir, "forward"))
    return ox_fail(im, "direction must be forward, reverse or bidirectional, got \"%s\"", dir);
  int64_t D = bidi ? 2 : 1;
  char s1[IR_TYPE_STRLEN], s2[IR_TYPE_STRLEN];
  if (x->type.rank != 3 || W->type.rank != 3 || R->type.rank != 3)
    return ox_fail(im, "X, W and R must be 3-D, got %s, %s and %s", ir_type_str(&x->type, s1, sizeof s1),
                ir_type_str(&W->type, s2, sizeof s2), ir_type_str(&R->type, s2, sizeof s2));
  int64_t H = ox_aint(n, "hidden_size", R->type.dims[2]);
  int64_t T = x->type.dims[layout ? 1 : 0], N = x->type.dims[layout ? 0 : 1], I = x->type.dims[2];
  if (H < 1 || H > IR_MAX_NUMEL || W->type.dims[0] != D || W->type.dims[1] != G * H || W->type.dims[2] != I ||
      R->type.dims[0] != D || R->type.dims[1] != G * H || R->type.dims[2] != H)
    return ox_fail(im, "W %s and R %s do not match hidden_size %lld, %lld direction%s and input size %lld "
                    "(W [D, %d*H, I], R [D, %d*H, H])", ir_type_str(&W->type, s1, sizeof s1),
                ir_type_str(&R->type, s2, sizeof s2), (long long)H, (long long)D, D > 1 ? "s" : "",
                (long long)I, G, G);
  /* what the seq ops do not compute: a clear message each */
  if (ox_attr(n, "clip")) return ox_fail(im, "%s with clip is not supported (smelt's %s cell does not clip)", t, t);
  if (cell == RC_LSTM && ox_aint(n, "input_forget", 0))
    return ox_fail(im, "LSTM with input_forget=1 (coupled input and forget gates) is not supported");
  int64_t lbr = cell == RC_GRU ? ox_aint(n, "linear_before_reset", 0) : 1;
  static const char *const defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  int nact = cell == RC_LSTM ? 3 : cell == RC_GRU ? 2 : 1;
  const Onnx__AttributeProto *acts = ox_attr(n, "activations");
  bool relu = false;
  if (acts) {
    if (acts->n_strings != (size_t)(nact * D))
      return ox_fail(im, "activations has %zu entries, expected %d", acts->n_strings, (int)(nact * D));
    for (size_t k = 0; k < acts->n_strings; k++) {
      char buf[64];
      snprintf(buf, sizeof buf, "%.*s", (int)acts->strings[k].len, (const char *)acts->strings[k].data);
      const char *want = defaults[cell][k % nact];
      if (cell == RC_RNN && act_is(buf, "Relu") && (k == 0 || relu)) {
        relu = true;
        continue;
      }
      if (!act_is(buf, want) || (cell == RC_RNN && relu))
        return ox_fail(im, "%s activation %zu is %s: smelt's %s computes %s only", t, k, buf, t,
                    cell == RC_LSTM ? "Sigmoid, Tanh, Tanh" : cell == RC_GRU ? "Sigmoid, Tanh"
                                                                            : "Tanh or Relu (the same for both directions)");
    }
  }
  if (ox_has_in(a, 4)) { /* sequence_lens: only full length */
    IrTensor *sl = ox_ent_const(im, a->in[4]);
    if (!sl) return im->failed ? false : ox_fail(im, "sequence_lens computed at run time is not supported");
    for (int64_t i = 0; i < sl->numel; i++)
      if (ox_d2i(sl->d[i]) != T)
        return ox_fail(im, "sequence_lens[%lld] = %lld: sequences shorter than the input's %lld steps "
                        "are not supported", (long long)i, (long long)ox_d2i(sl->d[i]), (long long)T);
  }
  if (cell == RC_LSTM && ox_has_in(a, 7)) {
    IrTensor *p = ox_ent_const(im, a->in[7]);
    bool zero = p != NULL;
    for (int64_t i = 0; p && i < p->numel; i++) zero &= p->d[i] == 0;
    if (!zero) return im->failed ? false : ox_fail(im, "LSTM peepholes (input P) are not supported (PyTorch's LSTM has none)");
  }
  IrDType dt = x->type.dtype;
  IrValue *wih = gate_reorder(im, W, 1, cell, H, 0), *whh = gate_reorder(im, R, 1, cell, H, 0);
  IrValue *bih, *bhh;
  if (ox_has_in(a, 3)) {
    IrValue *B = ox_in_val(im, a, 3);
    if (!B) return false;
    if (B->type.rank != 2 || B->type.dims[0] != D || B->type.dims[1] != 2 * G * H)
      return ox_fail(im, "B must be [%lld, %lld], got %s", (long long)D, (long long)(2 * G * H),
                  ir_type_str(&B->type, s1, sizeof s1));
    bih = gate_reorder(im, B, 1, cell, H, 0);
    bhh = gate_reorder(im, B, 1, cell, H, G * H);
  } else {
    int64_t bd[2] = {D, G * H};
    bih = bhh = ox_filled(im, dt, 2, bd, 0);
  }
  int64_t taxis = layout ? 1 : 0;
  IrValue *xs = rev ? ox_flip_axis(im, x, (int)taxis) : x;
  IrValue *in[7] = {xs, wih, whh, bih, bhh, NULL, NULL};
  int nin = 5;
  static const int64_t swap01[3] = {1, 0, 2};
  int64_t sd[3] = {D, N, H};
  for (int k = 0; k < (cell == RC_LSTM ? 2 : 1); k++) {
    IrValue *s0 = NULL;
    if (ox_has_in(a, 5 + k)) {
      if (!(s0 = ox_in_val(im, a, 5 + k))) return false;
      if (layout) s0 = ox_transpose_to(im, s0, swap01);
    } else if (cell == RC_LSTM && (ox_has_in(a, 5) || ox_has_in(a, 6))) {
      s0 = ox_filled(im, dt, 3, sd, 0);
    }
    if (s0) in[nin++] = s0;
  }
  for (int i = 0; i < nin; i++)
    if (!in[i]) return false;
  const char *opn = cell == RC_LSTM ? "lstm" : cell == RC_GRU ? "gru" : "rnn";
  IrNode *m = ir_add_node(im->g, ox_opdef(opn), in, nin, NULL, cell == RC_LSTM ? 3 : 2, im->loc);
  ir_set_int(im->g, m, "batch_first", layout);
  ir_set_str(im->g, m, "direction", bidi ? "bidirectional" : "forward");
  if (cell == RC_RNN && relu) ir_set_str(im->g, m, "activation", "relu");
  if (cell == RC_GRU && lbr != 1) ir_set_int(im->g, m, "linear_before_reset", lbr);
  if (!ox_fin(im, m)) return false;
  IrValue *y = m->out[0]; /* [T, N, D*H] or [N, T, D*H] */
  if (rev) y = ox_flip_axis(im, y, (int)taxis);
  if (ox_has_out(a, 0)) {
    int64_t yd[4] = {T, N, D, H};
    static const int64_t p0213[4] = {0, 2, 1, 3};
    if (layout) {
      yd[0] = N;
      yd[1] = T;
      ox_set_out(a, 0, ox_reshape_to(im, y, 4, yd));
    } else {
      ox_set_out(a, 0, ox_transpose_to(im, ox_reshape_to(im, y, 4, yd), p0213));
    }
  }
  for (int k = 1; k < (cell == RC_LSTM ? 3 : 2); k++)
    if (ox_has_out(a, k)) ox_set_out(a, k, layout ? ox_transpose_to(im, m->out[k], swap01) : m->out[k]);
  return true;
}
