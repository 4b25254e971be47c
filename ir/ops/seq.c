/* Sequence-model ops: embedding (a dedicated gather kernel with a
 * scatter-add backward op), and composites lowered by ir_decompose into
 * primitive ops right after parsing, so their reference, C code and
 * gradients are those of the primitives:
 *
 *   layernorm, groupnorm, instancenorm    norm_stats (mean and 1/sqrt(var + eps)
 *                                         in one kernel), then (x - mean) * rstd *
 *                                         scale + bias, a chain fusion makes one
 *                                         loop
 *   rnn, lstm, gru                        the time loop unrolled (static T):
 *                                         one gemm for the input projection of
 *                                         all steps, then per step a gemm with
 *                                         the hidden state, slices for the
 *                                         gates, activations and products;
 *                                         backpropagation through time is
 *                                         autodiff of that graph
 *   attention, multihead_attention        matmul / transpose / softmax
 *   stack, positional_encoding            reshape + concat, add of a constant
 *
 * Recurrent layers follow PyTorch (torch.nn.RNN/LSTM/GRU) in weight layout,
 * gate order and equations:
 *   w_ih [G*H, I], w_hh [G*H, H], b_ih [G*H], b_hh [G*H] with G = 1 (rnn),
 *   4 (lstm: gates i, f, g, o) or 3 (gru: r, z, n, with
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); with
 *   linear_before_reset=0, ONNX's default form,
 *   n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)).
 * Bidirectional layers stack the two directions' weights on a leading dim
 * of 2 (w_ih [2, G*H, I], ..., b_hh [2, G*H]: index 0 forward, 1 reverse);
 * unidirectional layers take either form (leading dim 1). Inputs
 * x [T, N, I] ([N, T, I] with batch_first=1) and optional initial states
 * h0 (and c0 for lstm) [D, N, H], zeros when absent; results
 * y [T, N, D*H] ([N, T, D*H] batch_first; the reverse direction's output
 * in the upper half, aligned with the input positions), h_n [D, N, H]
 * (and c_n [D, N, H]), never batch-first, as in PyTorch. Stacked layers are
 * several ops in the model text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seq.h"

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};

/* Input i must be exactly `want` (dtype and dims); `role` names it. */
static bool want_type(const IrNode *n, int i, const char *role, const IrType *want,
                      SmDiag *d) {
  if (ir_type_eq(&n->in[i]->type, want)) return true;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  return op_err(n, d, "%s '%s' must be %s, got %s", role, n->in[i]->name, OP_TSTR(want, a),
                OP_TSTR(&n->in[i]->type, b));
}

static bool all_float_same(const IrNode *n, int cnt, SmDiag *d) {
  for (int i = 0; i < cnt; i++)
    if (!op_want_float(n, i, d)) return false;
  for (int i = 1; i < cnt; i++)
    if (n->in[i]->type.dtype != n->in[0]->type.dtype)
      return op_err(n, d, "operand dtypes differ: '%s' is %s, '%s' is %s", n->in[0]->name,
                    ir_dtype_name(n->in[0]->type.dtype), n->in[i]->name,
                    ir_dtype_name(n->in[i]->type.dtype));
  return true;
}

/* ======================================================================
 * Expansion builder: nodes appended through the gradient-context helpers,
 * results named "<first result>.<tag><k>" so generated code and dumps show
 * where they came from and never collide with the user's names.
 * ====================================================================== */

typedef struct Ex {
  IrGradCtx *cx;
  const char *base;
  int k;
} Ex;

static IrValue *nm(Ex *e, IrValue *v, const char *tag) {
  ir_value_rename(e->cx->g, v, sm_arena_printf(&e->cx->g->arena, "%s.%s%d", e->base, tag, e->k++));
  return v;
}

static IrValue *x_op1(Ex *e, const char *op, IrValue *a, const char *tag) {
  return nm(e, ir_grad_op(e->cx, op, &a, 1), tag);
}

static IrValue *x_op2(Ex *e, const char *op, IrValue *a, IrValue *b, const char *tag) {
  IrValue *in[2] = {a, b};
  return nm(e, ir_grad_op(e->cx, op, in, 2), tag);
}

static IrValue *x_slice(Ex *e, IrValue *v, int axis, int64_t start, int64_t end,
                        const char *tag) {
  IrNode *s = ir_grad_node(e->cx, "slice", &v, 1, 1);
  int64_t ax = axis;
  ir_set_ints(e->cx->g, s, "starts", &start, 1);
  ir_set_ints(e->cx->g, s, "ends", &end, 1);
  ir_set_ints(e->cx->g, s, "axes", &ax, 1);
  return nm(e, ir_grad_finish(e->cx, s), tag);
}

static IrValue *x_reshape(Ex *e, IrValue *v, int rank, const int64_t *dims) {
  IrNode *r = ir_grad_node(e->cx, "reshape", &v, 1, 1);
  ir_set_ints(e->cx->g, r, "shape", dims, rank);
  return nm(e, ir_grad_finish(e->cx, r), "r");
}

static IrValue *x_transpose(Ex *e, IrValue *v, const int64_t *perm, const char *tag) {
  IrNode *t = ir_grad_node(e->cx, "transpose", &v, 1, 1);
  ir_set_ints(e->cx->g, t, "perm", perm, v->type.rank);
  return nm(e, ir_grad_finish(e->cx, t), tag);
}

/* swap the last two dims */
static IrValue *x_transpose_last(Ex *e, IrValue *v, const char *tag) {
  int64_t perm[IR_MAX_RANK];
  int r = v->type.rank;
  for (int i = 0; i < r; i++) perm[i] = i;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return x_transpose(e, v, perm, tag);
}

/* concat of any number of values (concat takes at most 16: a tree) */
static IrValue *x_concat(Ex *e, IrValue **vs, int cnt, int axis, const char *tag) {
  if (cnt == 1) return vs[0];
  IrValue *buf[16];
  if (cnt > 16) {
    int groups = (cnt + 15) / 16;
    IrValue *part[16 * 16];
    SM_ASSERT(groups <= 16 * 16);
    for (int gi = 0; gi < groups; gi++) {
      int lo = gi * 16, hi = lo + 16 < cnt ? lo + 16 : cnt;
      part[gi] = x_concat(e, vs + lo, hi - lo, axis, tag);
    }
    return x_concat(e, part, groups, axis, tag);
  }
  memcpy(buf, vs, sizeof(IrValue *) * (size_t)cnt);
  IrNode *c = ir_grad_node(e->cx, "concat", buf, cnt, 1);
  ir_set_int(e->cx->g, c, "axis", axis);
  return nm(e, ir_grad_finish(e->cx, c), tag);
}

/* a @ b^T (+ c) */
static IrValue *x_gemm_bt(Ex *e, IrValue *a, IrValue *b, IrValue *c, const char *tag) {
  IrValue *in[3] = {a, b, c};
  IrNode *m = ir_grad_node(e->cx, "gemm", in, c ? 3 : 2, 1);
  ir_set_int(e->cx->g, m, "transB", 1);
  return nm(e, ir_grad_finish(e->cx, m), tag);
}

static IrValue *x_const(Ex *e, IrDType dt, int rank, const int64_t *dims, const double *vals,
                        int nvals, const char *tag) {
  IrNode *c = ir_grad_node(e->cx, "constant", NULL, 0, 1);
  ir_set_ints(e->cx->g, c, "shape", dims, rank);
  ir_set_floats(e->cx->g, c, "value", vals, nvals);
  ir_set_str(e->cx->g, c, "dtype", ir_dtype_name(dt));
  return nm(e, ir_grad_finish(e->cx, c), tag);
}

static IrValue *x_scalar(Ex *e, IrDType dt, double v, const char *tag) {
  int64_t one = 1;
  return x_const(e, dt, 1, &one, &v, 1, tag);
}

static Ex ex_begin(IrGradCtx *cx, const IrNode *n) {
  return (Ex){.cx = cx, .base = n->out[0]->name};
}

/* ======================================================================
 * embedding(ids, table) -> table[ids]
 *
 * ids of any integer dtype and shape [...]; table [V, D]; result [..., D].
 * An id outside [0, V) yields a row of zeros and receives no gradient
 * (never an out-of-bounds read or write).
 * ====================================================================== */

static bool emb_ids_ok(const IrNode *n, int i, SmDiag *d) {
  const IrType *t = &n->in[i]->type;
  if (t->dtype != IR_I64 && t->dtype != IR_I32 && t->dtype != IR_U8) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "ids '%s' must be an integer tensor (i64, i32 or u8), got %s",
                  n->in[i]->name, OP_TSTR(t, s));
  }
  if (t->rank + 1 > IR_MAX_RANK)
    return op_err(n, d, "ids '%s' has rank %d; the result would exceed rank %d",
                  n->in[i]->name, t->rank, IR_MAX_RANK);
  return true;
}

static bool emb_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!emb_ids_ok(n, 0, d) || !op_want_float(n, 1, d)) return false;
  const IrType *tt = &n->in[1]->type;
  if (tt->rank != 2) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "table '%s' must be 2-D [vocab, dim], got %s", n->in[1]->name,
                  OP_TSTR(tt, s));
  }
  if (tt->dims[0] < 1 || tt->dims[1] < 1) {
    char s[IR_TYPE_STRLEN];
    return op_err(n, d, "table '%s' must have at least one row and column, got %s",
                  n->in[1]->name, OP_TSTR(tt, s));
  }
  const IrType *it = &n->in[0]->type;
  IrType r = *it;
  r.dtype = tt->dtype;
  r.dims[r.rank++] = tt->dims[1];
  out[0] = r;
  return true;
}

static void emb_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  (void)n;
  int64_t V = in[1].type.dims[0], D = in[1].type.dims[1];
  for (int64_t i = 0; i < in[0].numel; i++) {
    double id = in[0].d[i];
    if (!(id >= 0 && id < (double)V)) continue; /* zeros */
    int64_t r = (int64_t)id;
    for (int64_t j = 0; j < D; j++) out[0].d[i * D + j] = in[1].d[r * D + j];
  }
}

static bool emb_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din) {
  if (!dout[0] || !ir_grad_needed(cx, n, 1)) return true;
  IrValue *in[2] = {n->in[0], dout[0]};
  IrNode *g = ir_grad_node(cx, "embedding_grad", in, 2, 1);
  ir_set_int(cx->g, g, "vocab", n->in[1]->type.dims[0]);
  din[1] = ir_grad_finish(cx, g);
  return true;
}

/* embedding_grad(ids, dy; vocab) -> dtable [vocab, D]: row r is the sum of
 * dy over the positions whose id is r. */
static const IrAttrSpec emb_grad_attrs[] = {{"vocab", IR_ATTR_INT, true}, {NULL, 0, false}};

static bool emb_grad_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!emb_ids_ok(n, 0, d) || !op_want_float(n, 1, d)) return false;
  int64_t V = ir_attr_int(n, "vocab", 0);
  if (V < 1 || V > IR_MAX_NUMEL)
    return op_err(n, d, "vocab must be in [1, 2^40], got %lld", (long long)V);
  const IrType *it = &n->in[0]->type, *gt = &n->in[1]->type;
  bool ok = gt->rank == it->rank + 1 && gt->dims[gt->rank - 1] >= 1;
  for (int i = 0; ok && i < it->rank; i++) ok = gt->dims[i] == it->dims[i];
  if (!ok) {
    char a[IR_TYPE_STRLEN], s[IR_TYPE_STRLEN];
    return op_err(n, d, "dy '%s' must be the ids' shape plus a row dim: ids %s, dy %s",
                  n->in[1]->name, OP_TSTR(it, a), OP_TSTR(gt, s));
  }
  int64_t dims[2] = {V, gt->dims[gt->rank - 1]};
  out[0] = ir_type_make(gt->dtype, 2, dims);
  return true;
}

static void emb_grad_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  int64_t V = ir_attr_int(n, "vocab", 0), D = out[0].type.dims[1];
  for (int64_t i = 0; i < in[0].numel; i++) {
    double id = in[0].d[i];
    if (!(id >= 0 && id < (double)V)) continue;
    int64_t r = (int64_t)id;
    for (int64_t j = 0; j < D; j++) out[0].d[r * D + j] += in[1].d[i * D + j];
  }
}

/* ======================================================================
 * layernorm(x, scale, bias; axis=-1, epsilon=1e-5): normalize over dims
 * [axis:] (biased variance, as PyTorch), then scale and shift; scale and
 * bias have the normalized shape x.dims[axis:].
 * groupnorm(x, scale, bias; groups, epsilon): x [N, C, ...] split into
 * `groups` groups of C/groups channels, each normalized over its channels
 * and spatial positions; per-channel scale and bias [C].
 * instancenorm(x, scale, bias; epsilon): groupnorm with one group per
 * channel (x [N, C, L...], at least one spatial dim). The same in training
 * and evaluation (no running statistics).
 * ====================================================================== */

static const IrAttrSpec ln_attrs[] = {
    {"axis", IR_ATTR_INT, false}, {"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec gn_attrs[] = {
    {"groups", IR_ATTR_INT, true}, {"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
static const IrAttrSpec in_attrs[] = {{"epsilon", IR_ATTR_FLOAT, false}, {NULL, 0, false}};

static bool ln_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!all_float_same(n, 3, d) || !op_want_eps(n, d)) return false;
  const IrType *xt = &n->in[0]->type;
  int64_t axis = ir_attr_int(n, "axis", -1);
  int ax;
  char s[IR_TYPE_STRLEN];
  if (xt->rank < 1 || !ir_norm_axis(axis, xt->rank, &ax))
    return op_err(n, d, "axis %lld is out of range for x '%s' %s", (long long)axis,
                  n->in[0]->name, OP_TSTR(xt, s));
  IrType nt = ir_type_make(xt->dtype, xt->rank - ax, xt->dims + ax);
  if (!want_type(n, 1, "scale", &nt, d) || !want_type(n, 2, "bias", &nt, d)) return false;
  if (ir_numel(&nt) == 0)
    return op_err(n, d, "normalizes over no elements: x '%s' is %s", n->in[0]->name,
                  OP_TSTR(xt, s));
  out[0] = *xt;
  return true;
}

/* norm_stats over dims [ax:] of x: mean and rstd, dims [ax:] kept as 1 */
static void x_norm_stats(Ex *e, IrValue *x, int ax, double eps, IrValue **mean,
                         IrValue **rstd) {
  IrNode *s = ir_grad_node(e->cx, "norm_stats", &x, 1, 2);
  ir_set_int(e->cx->g, s, "axis", ax);
  ir_set_float(e->cx->g, s, "epsilon", eps);
  ir_grad_finish(e->cx, s);
  *mean = nm(e, s->out[0], "mean");
  *rstd = nm(e, s->out[1], "rstd");
}

/* (x - mean) * rstd * scale + bias: one elementwise chain (one fused loop) */
static IrValue *x_affine(Ex *e, IrValue *x, IrValue *mean, IrValue *rstd, IrValue *scale,
                         IrValue *bias) {
  IrValue *xh = x_op2(e, "mul", x_op2(e, "sub", x, mean, "xc"), rstd, "xhat");
  return x_op2(e, "add", x_op2(e, "mul", xh, scale, "sc"), bias, "y");
}

static bool ln_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  int ax;
  SM_ASSERT(ir_norm_axis(ir_attr_int(n, "axis", -1), n->in[0]->type.rank, &ax));
  IrValue *mean, *rstd;
  x_norm_stats(&e, n->in[0], ax, ir_attr_float(n, "epsilon", 1e-5), &mean, &rstd);
  outs[0] = x_affine(&e, n->in[0], mean, rstd, n->in[1], n->in[2]);
  return true;
}

static bool gn_check(const IrNode *n, int64_t groups, int min_rank, SmDiag *d) {
  if (!all_float_same(n, 3, d) || !op_want_eps(n, d)) return false;
  const IrType *xt = &n->in[0]->type;
  char s[IR_TYPE_STRLEN];
  if (xt->rank < min_rank)
    return op_err(n, d, "expects x [N, C%s] of rank at least %d, got '%s' %s",
                  min_rank > 2 ? ", L..." : ", ...", min_rank, n->in[0]->name, OP_TSTR(xt, s));
  int64_t C = xt->dims[1];
  if (groups < 1 || C % groups)
    return op_err(n, d, "groups %lld must be positive and divide the %lld channels of '%s' %s",
                  (long long)groups, (long long)C, n->in[0]->name, OP_TSTR(xt, s));
  if (ir_numel(xt) == 0)
    return op_err(n, d, "x '%s' %s is empty", n->in[0]->name, OP_TSTR(xt, s));
  IrType ct = ir_type_make(xt->dtype, 1, &C);
  return want_type(n, 1, "scale", &ct, d) && want_type(n, 2, "bias", &ct, d);
}

static bool gn_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!gn_check(n, ir_attr_int(n, "groups", 0), 2, d)) return false;
  out[0] = n->in[0]->type;
  return true;
}

static bool inorm_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *xt = &n->in[0]->type;
  if (!gn_check(n, xt->rank >= 2 ? xt->dims[1] : 1, 3, d)) return false;
  out[0] = *xt;
  return true;
}

/* One group per channel: the statistics over x's dims [2:] broadcast
 * against x itself. Otherwise x is viewed as [N, groups, C/groups, L]: the
 * statistics over its dims [2:] broadcast against that view, and the
 * result is viewed back. Either way the normalization's x - mean is the
 * same node the statistics' gradient needs (see norm_stats_grad). */
static void group_norm(Ex *e, const IrNode *n, int64_t groups, IrValue **outs) {
  IrValue *x = n->in[0], *mean, *rstd;
  const IrType *xt = &x->type;
  int64_t C = xt->dims[1], cg = C / groups;
  double eps = ir_attr_float(n, "epsilon", 1e-5);
  int64_t cd[IR_MAX_RANK] = {C}; /* scale and bias as [C, 1...] */
  for (int i = 1; i < xt->rank - 1; i++) cd[i] = 1;
  if (cg == 1 && xt->rank > 2) {
    x_norm_stats(e, x, 2, eps, &mean, &rstd);
    IrValue *sc = x_reshape(e, n->in[1], xt->rank - 1, cd);
    IrValue *bi = x_reshape(e, n->in[2], xt->rank - 1, cd);
    outs[0] = x_affine(e, x, mean, rstd, sc, bi);
    return;
  }
  int64_t gd[4] = {xt->dims[0], groups, cg, -1}, pd[3] = {groups, cg, 1};
  IrValue *xg = x_reshape(e, x, 4, gd);
  x_norm_stats(e, xg, 2, eps, &mean, &rstd);
  IrValue *sc = x_reshape(e, n->in[1], 3, pd), *bi = x_reshape(e, n->in[2], 3, pd);
  outs[0] = x_reshape(e, x_affine(e, xg, mean, rstd, sc, bi), xt->rank, xt->dims);
}

static bool gn_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  group_norm(&e, n, ir_attr_int(n, "groups", 1), outs);
  return true;
}

static bool inorm_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  group_norm(&e, n, n->in[0]->type.dims[1], outs);
  return true;
}

/* ======================================================================
 * rnn, lstm, gru (see the top of the file)
 * ====================================================================== */

enum { CELL_RNN, CELL_LSTM, CELL_GRU };
#define REC_MAX_T 1024 /* steps unrolled per layer */

static const IrAttrSpec rnn_attrs[] = {{"activation", IR_ATTR_STR, false},
                                       {"batch_first", IR_ATTR_INT, false},
                                       {"direction", IR_ATTR_STR, false},
                                       {NULL, 0, false}};
static const IrAttrSpec rec_attrs[] = {
    {"batch_first", IR_ATTR_INT, false}, {"direction", IR_ATTR_STR, false}, {NULL, 0, false}};
static const IrAttrSpec gru_attrs[] = {{"batch_first", IR_ATTR_INT, false},
                                       {"direction", IR_ATTR_STR, false},
                                       {"linear_before_reset", IR_ATTR_INT, false},
                                       {NULL, 0, false}};

typedef struct Rec {
  int cell, G, D;
  bool bf, stacked; /* batch_first; weights carry the direction dim */
  int64_t T, N, I, H;
  int nstate; /* initial states given: 0, 1 (h0) or 2 (h0, c0) */
} Rec;

static int cell_of(const IrNode *n) {
  const char *s = n->op->name;
  return strcmp(s, "lstm") == 0 ? CELL_LSTM : strcmp(s, "gru") == 0 ? CELL_GRU : CELL_RNN;
}

static const char *const rec_roles[] = {"x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"};

static bool rec_geom(const IrNode *n, Rec *r, SmDiag *d) {
  *r = (Rec){.cell = cell_of(n)};
  r->G = r->cell == CELL_LSTM ? 4 : r->cell == CELL_GRU ? 3 : 1;
  if (!all_float_same(n, n->nin, d)) return false;
  const char *dir = ir_attr_str(n, "direction", "forward");
  if (strcmp(dir, "forward") == 0) r->D = 1;
  else if (strcmp(dir, "bidirectional") == 0) r->D = 2;
  else
    return op_err(n, d, "direction must be \"forward\" or \"bidirectional\", got \"%s\"", dir);
  int64_t bf = ir_attr_int(n, "batch_first", 0);
  if (bf != 0 && bf != 1) return op_err(n, d, "batch_first must be 0 or 1, got %lld", (long long)bf);
  r->bf = bf == 1;
  if (r->cell == CELL_RNN) {
    const char *act = ir_attr_str(n, "activation", "tanh");
    if (strcmp(act, "tanh") != 0 && strcmp(act, "relu") != 0)
      return op_err(n, d, "activation must be \"tanh\" or \"relu\", got \"%s\"", act);
  }
  if (r->cell == CELL_GRU) {
    int64_t lbr = ir_attr_int(n, "linear_before_reset", 1);
    if (lbr != 0 && lbr != 1)
      return op_err(n, d, "linear_before_reset must be 0 or 1, got %lld", (long long)lbr);
  }
  if (r->cell == CELL_LSTM && n->nin == 6)
    return op_err(n, d, "give both initial states h0 and c0, or neither");
  r->nstate = n->nin - 5;
  char s[IR_TYPE_STRLEN];
  const IrType *xt = &n->in[0]->type;
  if (xt->rank != 3)
    return op_err(n, d, "expects x [%s, I], got '%s' %s", r->bf ? "N, T" : "T, N",
                  n->in[0]->name, OP_TSTR(xt, s));
  r->T = xt->dims[r->bf ? 1 : 0];
  r->N = xt->dims[r->bf ? 0 : 1];
  r->I = xt->dims[2];
  if (r->T < 1 || r->N < 1 || r->I < 1)
    return op_err(n, d, "x '%s' %s has an empty dim", n->in[0]->name, OP_TSTR(xt, s));
  if (r->T > REC_MAX_T)
    return op_err(n, d, "sequence length %lld exceeds %d steps (the time loop is unrolled)",
                  (long long)r->T, REC_MAX_T);
  const IrType *wt = &n->in[1]->type;
  if (wt->rank != 2 && wt->rank != 3)
    return op_err(n, d, "w_ih '%s' must be [%d*H, I] or [D, %d*H, I], got %s", n->in[1]->name,
                  r->G, r->G, OP_TSTR(wt, s));
  r->stacked = wt->rank == 3;
  if (!r->stacked && r->D == 2)
    return op_err(n, d, "bidirectional weights need a leading direction dim of 2: w_ih '%s' "
                  "must be [2, %d*H, I], got %s", n->in[1]->name, r->G, OP_TSTR(wt, s));
  int64_t GH = wt->dims[wt->rank - 2];
  if (GH < r->G || GH % r->G)
    return op_err(n, d, "w_ih '%s' %s: dim %d must be %d*H for a hidden size H >= 1 (%s)",
                  n->in[1]->name, OP_TSTR(wt, s), wt->rank - 2, r->G,
                  r->cell == CELL_LSTM ? "gates i, f, g, o" : r->cell == CELL_GRU ? "gates r, z, n"
                                                                                 : "one gate");
  r->H = GH / r->G;
  /* expected shapes of every operand */
  int lead = r->stacked ? 1 : 0;
  IrDType dt = xt->dtype;
  int64_t dims[4];
  IrType want[7];
  dims[0] = r->D;
  dims[lead] = GH;
  dims[lead + 1] = r->I;
  want[1] = ir_type_make(dt, lead + 2, dims);
  dims[lead + 1] = r->H;
  want[2] = ir_type_make(dt, lead + 2, dims);
  want[3] = want[4] = ir_type_make(dt, lead + 1, dims);
  int64_t sd[3] = {r->D, r->N, r->H};
  want[5] = want[6] = ir_type_make(dt, 3, sd);
  for (int i = 1; i < n->nin; i++) {
    if (ir_type_eq(&n->in[i]->type, &want[i])) continue;
    char a[IR_TYPE_STRLEN], op[IR_TYPE_STRLEN + 64];
    return op_err(n, d, "%s '%s' must be %s (H = %lld, I = %lld, D = %d), got %s", rec_roles[i],
                  n->in[i]->name, OP_TSTR(&want[i], a), (long long)r->H, (long long)r->I, r->D,
                  OP_TSTR(&n->in[i]->type, op));
  }
  return true;
}

static bool rec_infer(const IrNode *n, IrType *out, SmDiag *d) {
  Rec r;
  if (!rec_geom(n, &r, d)) return false;
  IrDType dt = n->in[0]->type.dtype;
  int64_t yd[3] = {r.T, r.N, r.D * r.H};
  if (r.bf) {
    yd[0] = r.N;
    yd[1] = r.T;
  }
  out[0] = ir_type_make(dt, 3, yd);
  int64_t hd[3] = {r.D, r.N, r.H};
  out[1] = ir_type_make(dt, 3, hd);
  if (r.cell == CELL_LSTM) out[2] = out[1];
  return true;
}

/* direction d's slice of a (possibly stacked) weight, without the dim */
static IrValue *dir_weight(Ex *e, const Rec *r, IrValue *w, int d) {
  if (!r->stacked) return w;
  IrValue *s = x_slice(e, w, 0, d, d + 1, "w");
  return x_reshape(e, s, w->type.rank - 1, w->type.dims + 1);
}

/* initial state `which` (h0 or c0) of direction d as [N, H] */
static IrValue *init_state(Ex *e, const IrNode *n, const Rec *r, int which, int d) {
  int64_t nh[2] = {r->N, r->H};
  if (which >= r->nstate) {
    double z = 0;
    return x_const(e, n->in[0]->type.dtype, 2, nh, &z, 1, which ? "c0_" : "h0_");
  }
  IrValue *s = x_slice(e, n->in[5 + which], 0, d, d + 1, which ? "c0_" : "h0_");
  return x_reshape(e, s, 2, nh);
}

static bool rec_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Rec r;
  SmDiag quiet;
  sm_diag_init(&quiet);
  bool ok = rec_geom(n, &r, &quiet); /* the shape rule accepted n */
  sm_diag_free(&quiet);
  SM_ASSERT(ok);
  Ex e = ex_begin(cx, n);
  const int64_t T = r.T, N = r.N, H = r.H;
  bool relu = r.cell == CELL_RNN && strcmp(ir_attr_str(n, "activation", "tanh"), "relu") == 0;
  bool lbr = r.cell != CELL_GRU || ir_attr_int(n, "linear_before_reset", 1) != 0;
  IrValue *x = n->in[0];
  if (r.bf) {
    static const int64_t p[3] = {1, 0, 2};
    x = x_transpose(&e, x, p, "xt");
  }
  int64_t xd[2] = {T * N, r.I};
  IrValue *x2 = x_reshape(&e, x, 2, xd);
  IrValue *ys[2], *hn[2], *cn[2];
  IrValue **hs = sm_xcalloc((size_t)T, sizeof *hs);
  int64_t nh1[3] = {1, N, H}, tnh[3] = {T, N, H};
  for (int d = 0; d < r.D; d++) {
    IrValue *wih = dir_weight(&e, &r, n->in[1], d), *whh = dir_weight(&e, &r, n->in[2], d);
    IrValue *bih = dir_weight(&e, &r, n->in[3], d), *bhh = dir_weight(&e, &r, n->in[4], d);
    /* input projections of every step at once: [T*N, G*H] */
    IrValue *xp;
    if (r.cell == CELL_GRU) xp = x_gemm_bt(&e, x2, wih, bih, "xp");
    else xp = x_gemm_bt(&e, x2, wih, x_op2(&e, "add", bih, bhh, "b"), "xp");
    IrValue *h = init_state(&e, n, &r, 0, d);
    IrValue *c = r.cell == CELL_LSTM ? init_state(&e, n, &r, 1, d) : NULL;
    /* gru, linear_before_reset=0: the recurrent weights of r, z and of n
     * apart (n's multiplies r * h) */
    IrValue *whh_rz = NULL, *whh_n = NULL, *bhh_rz = NULL, *bhh_n = NULL;
    if (!lbr) {
      whh_rz = x_slice(&e, whh, 0, 0, 2 * H, "whrz");
      whh_n = x_slice(&e, whh, 0, 2 * H, 3 * H, "whn");
      bhh_rz = x_slice(&e, bhh, 0, 0, 2 * H, "bhrz");
      bhh_n = x_slice(&e, bhh, 0, 2 * H, 3 * H, "bhn");
    }
    for (int64_t s = 0; s < T; s++) {
      int64_t t = d == 0 ? s : T - 1 - s;
      IrValue *xt = x_slice(&e, xp, 0, t * N, (t + 1) * N, "x");
      if (r.cell == CELL_RNN) {
        h = x_op1(&e, relu ? "relu" : "tanh", x_gemm_bt(&e, h, whh, xt, "a"), "h");
      } else if (r.cell == CELL_LSTM) {
        IrValue *gates = x_gemm_bt(&e, h, whh, xt, "gates");
        IrValue *i = x_op1(&e, "sigmoid", x_slice(&e, gates, 1, 0, H, "gi"), "i");
        IrValue *f = x_op1(&e, "sigmoid", x_slice(&e, gates, 1, H, 2 * H, "gf"), "f");
        IrValue *g = x_op1(&e, "tanh", x_slice(&e, gates, 1, 2 * H, 3 * H, "gg"), "g");
        IrValue *o = x_op1(&e, "sigmoid", x_slice(&e, gates, 1, 3 * H, 4 * H, "go"), "o");
        c = x_op2(&e, "add", x_op2(&e, "mul", f, c, "fc"), x_op2(&e, "mul", i, g, "ig"), "c");
        h = x_op2(&e, "mul", o, x_op1(&e, "tanh", c, "tc"), "h");
      } else if (!lbr) {
        IrValue *rz = x_op1(&e, "sigmoid",
                            x_op2(&e, "add", x_slice(&e, xt, 1, 0, 2 * H, "xrz"),
                                  x_gemm_bt(&e, h, whh_rz, bhh_rz, "hrz"), "arz"),
                            "rz");
        IrValue *rg = x_slice(&e, rz, 1, 0, H, "r");
        IrValue *zg = x_slice(&e, rz, 1, H, 2 * H, "z");
        IrValue *hn_ = x_gemm_bt(&e, x_op2(&e, "mul", rg, h, "rh"), whh_n, bhh_n, "hn");
        IrValue *ng = x_op1(&e, "tanh",
                            x_op2(&e, "add", x_slice(&e, xt, 1, 2 * H, 3 * H, "xn"), hn_, "an"),
                            "n");
        h = x_op2(&e, "add", ng, x_op2(&e, "mul", zg, x_op2(&e, "sub", h, ng, "hmn"), "zd"), "h");
      } else {
        IrValue *hp = x_gemm_bt(&e, h, whh, bhh, "hp");
        IrValue *rz = x_op1(&e, "sigmoid",
                            x_op2(&e, "add", x_slice(&e, xt, 1, 0, 2 * H, "xrz"),
                                  x_slice(&e, hp, 1, 0, 2 * H, "hrz"), "arz"),
                            "rz");
        IrValue *rg = x_slice(&e, rz, 1, 0, H, "r");
        IrValue *zg = x_slice(&e, rz, 1, H, 2 * H, "z");
        IrValue *hn_ = x_op2(&e, "mul", rg, x_slice(&e, hp, 1, 2 * H, 3 * H, "hn"), "rhn");
        IrValue *ng = x_op1(&e, "tanh",
                            x_op2(&e, "add", x_slice(&e, xt, 1, 2 * H, 3 * H, "xn"), hn_, "an"),
                            "n");
        /* h' = (1 - z) * n + z * h = n + z * (h - n) */
        h = x_op2(&e, "add", ng, x_op2(&e, "mul", zg, x_op2(&e, "sub", h, ng, "hmn"), "zd"), "h");
      }
      hs[t] = h;
    }
    ys[d] = x_reshape(&e, x_concat(&e, hs, (int)T, 0, "ycat"), 3, tnh);
    hn[d] = x_reshape(&e, h, 3, nh1);
    if (c) cn[d] = x_reshape(&e, c, 3, nh1);
  }
  free(hs);
  IrValue *y = x_concat(&e, ys, r.D, 2, "y");
  if (r.bf) {
    static const int64_t p[3] = {1, 0, 2};
    y = x_transpose(&e, y, p, "y");
  }
  outs[0] = y;
  outs[1] = x_concat(&e, hn, r.D, 0, "hn");
  if (r.cell == CELL_LSTM) outs[2] = x_concat(&e, cn, r.D, 0, "cn");
  return true;
}

/* ======================================================================
 * attention(q, k, v [, mask]; causal=0, scale=1/sqrt(d)):
 *   softmax(scale * q @ k^T + mask [+ causal mask]) @ v
 * q [..., T, d], k [..., S, d], v [..., S, dv] with equal leading (batch,
 * head) dims, rank 3 ([B, T, d]) or 4 ([B, heads, T, d]); result
 * [..., T, dv]. mask is additive (0 keeps, a large negative such as -1e9
 * drops) and broadcasts to the scores [..., T, S]. causal=1 lets query i
 * see keys j <= i (PyTorch's is_causal, top-left aligned) by adding -1e9
 * elsewhere: a large finite value, so no inf - inf NaN can appear.
 * ====================================================================== */

static const IrAttrSpec att_attrs[] = {
    {"causal", IR_ATTR_INT, false}, {"scale", IR_ATTR_FLOAT, false}, {NULL, 0, false}};
#define ATT_NEG (-1e9)

static bool att_flags_ok(const IrNode *n, SmDiag *d) {
  int64_t c = ir_attr_int(n, "causal", 0);
  if (c != 0 && c != 1) return op_err(n, d, "causal must be 0 or 1, got %lld", (long long)c);
  const IrAttr *sa = ir_attr(n, "scale");
  if (sa && !(isfinite(ir_attr_float(n, "scale", 1)) && ir_attr_float(n, "scale", 1) > 0))
    return op_err(n, d, "scale must be positive and finite, got %g", ir_attr_float(n, "scale", 1));
  return true;
}

/* scores type [..., T, S] of q and k */
static bool att_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!all_float_same(n, n->nin, d) || !att_flags_ok(n, d)) return false;
  const IrType *q = &n->in[0]->type, *k = &n->in[1]->type, *v = &n->in[2]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN], c[IR_TYPE_STRLEN];
  int r = q->rank;
  if ((r != 3 && r != 4) || k->rank != r || v->rank != r)
    return op_err(n, d, "expects q, k, v all [B, T, d] or all [B, H, T, d], got %s, %s, %s",
                  OP_TSTR(q, a), OP_TSTR(k, b), OP_TSTR(v, c));
  bool ok = q->dims[r - 1] == k->dims[r - 1] && k->dims[r - 2] == v->dims[r - 2];
  for (int i = 0; i < r - 2; i++) ok = ok && q->dims[i] == k->dims[i] && q->dims[i] == v->dims[i];
  if (!ok)
    return op_err(n, d, "q [..., T, d], k [..., S, d] and v [..., S, dv] must agree: "
                  "q is %s, k is %s, v is %s", OP_TSTR(q, a), OP_TSTR(k, b), OP_TSTR(v, c));
  for (int i = 0; i < r; i++)
    if (q->dims[i] < 1 || k->dims[i] < 1 || v->dims[i] < 1)
      return op_err(n, d, "q, k and v must not be empty: q is %s, k is %s, v is %s",
                    OP_TSTR(q, a), OP_TSTR(k, b), OP_TSTR(v, c));
  if (n->nin == 4) {
    IrType st = *q, bt;
    st.dims[r - 1] = k->dims[r - 2];
    if (!ir_broadcast(&st, &n->in[3]->type, &bt) || !ir_type_eq(&bt, &st))
      return op_err(n, d, "mask '%s' %s does not broadcast to the scores %s", n->in[3]->name,
                    OP_TSTR(&n->in[3]->type, a), OP_TSTR(&st, b));
  }
  IrType o = *q;
  o.dims[r - 1] = v->dims[r - 1];
  out[0] = o;
  return true;
}

static IrValue *x_causal_mask(Ex *e, IrDType dt, int64_t T, int64_t S) {
  double *m = sm_xcalloc((size_t)(T * S), sizeof *m);
  for (int64_t i = 0; i < T; i++)
    for (int64_t j = i + 1; j < S; j++) m[i * S + j] = ATT_NEG;
  int64_t dims[2] = {T, S};
  IrValue *c = x_const(e, dt, 2, dims, m, (int)(T * S), "causal");
  free(m);
  return c;
}

/* the attention core on values; shapes already checked */
static IrValue *x_attention(Ex *e, IrValue *q, IrValue *k, IrValue *v, IrValue *mask,
                            bool causal, double scale) {
  IrDType dt = q->type.dtype;
  int r = q->type.rank;
  IrValue *qs = x_op2(e, "mul", q, x_scalar(e, dt, scale, "scale"), "qs");
  IrValue *s = x_op2(e, "matmul", qs, x_transpose_last(e, k, "kt"), "scores");
  if (mask) s = x_op2(e, "add", s, mask, "masked");
  if (causal)
    s = x_op2(e, "add", s, x_causal_mask(e, dt, q->type.dims[r - 2], k->type.dims[r - 2]),
              "causal");
  IrNode *sm = ir_grad_node(e->cx, "softmax", &s, 1, 1);
  ir_set_int(e->cx->g, sm, "axis", -1);
  IrValue *p = nm(e, ir_grad_finish(e->cx, sm), "p");
  return x_op2(e, "matmul", p, v, "att");
}

static bool att_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  const IrType *q = &n->in[0]->type;
  double scale = ir_attr_float(n, "scale", 1 / sqrt((double)q->dims[q->rank - 1]));
  outs[0] = x_attention(&e, n->in[0], n->in[1], n->in[2], n->nin == 4 ? n->in[3] : NULL,
                        ir_attr_int(n, "causal", 0) == 1, scale);
  return true;
}

/* ======================================================================
 * multihead_attention(x, w_qkv, b_qkv, w_o, b_o [, mask]; heads, causal=0)
 * Self-attention in PyTorch's nn.MultiheadAttention layout (batch_first):
 * x [B, T, E]; w_qkv [3E, E] and b_qkv [3E] stack the q, k, v input
 * projections (in_proj_weight/bias); w_o [E, E], b_o [E] (out_proj).
 * Each of `heads` heads attends with d = E/heads and scale 1/sqrt(d);
 * mask (additive) broadcasts to [B, heads, T, T]. Result [B, T, E].
 * ====================================================================== */

static const IrAttrSpec mha_attrs[] = {
    {"heads", IR_ATTR_INT, true}, {"causal", IR_ATTR_INT, false}, {NULL, 0, false}};

static bool mha_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!all_float_same(n, n->nin, d) || !att_flags_ok(n, d)) return false;
  const IrType *x = &n->in[0]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  if (x->rank != 3 || x->dims[0] < 1 || x->dims[1] < 1 || x->dims[2] < 1)
    return op_err(n, d, "expects x [B, T, E], got '%s' %s", n->in[0]->name, OP_TSTR(x, a));
  int64_t E = x->dims[2], heads = ir_attr_int(n, "heads", 0);
  if (heads < 1 || E % heads)
    return op_err(n, d, "heads %lld must be positive and divide the embedding size %lld",
                  (long long)heads, (long long)E);
  int64_t w3[2] = {3 * E, E}, ww[2] = {E, E};
  IrType t3 = ir_type_make(x->dtype, 2, w3), b3 = ir_type_make(x->dtype, 1, w3);
  IrType to = ir_type_make(x->dtype, 2, ww), bo = ir_type_make(x->dtype, 1, ww);
  if (!want_type(n, 1, "w_qkv", &t3, d) || !want_type(n, 2, "b_qkv", &b3, d) ||
      !want_type(n, 3, "w_o", &to, d) || !want_type(n, 4, "b_o", &bo, d))
    return false;
  if (n->nin == 6) {
    int64_t sd[4] = {x->dims[0], heads, x->dims[1], x->dims[1]};
    IrType st = ir_type_make(x->dtype, 4, sd), bt;
    if (!ir_broadcast(&st, &n->in[5]->type, &bt) || !ir_type_eq(&bt, &st))
      return op_err(n, d, "mask '%s' %s does not broadcast to the scores %s", n->in[5]->name,
                    OP_TSTR(&n->in[5]->type, a), OP_TSTR(&st, b));
  }
  out[0] = *x;
  return true;
}

static bool mha_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  const IrType *xt = &n->in[0]->type;
  int64_t B = xt->dims[0], T = xt->dims[1], E = xt->dims[2];
  int64_t Hh = ir_attr_int(n, "heads", 1), dh = E / Hh;
  int64_t flat[2] = {B * T, E};
  IrValue *x2 = x_reshape(&e, n->in[0], 2, flat);
  IrValue *qkv = x_gemm_bt(&e, x2, n->in[1], n->in[2], "qkv"); /* [B*T, 3E] */
  IrValue *hd[3];
  static const int64_t perm[4] = {0, 2, 1, 3};
  for (int j = 0; j < 3; j++) {
    int64_t sh[4] = {B, T, Hh, dh};
    IrValue *p = x_reshape(&e, x_slice(&e, qkv, 1, j * E, (j + 1) * E, "proj"), 4, sh);
    hd[j] = x_transpose(&e, p, perm, j == 0 ? "q" : j == 1 ? "k" : "v"); /* [B, heads, T, dh] */
  }
  IrValue *a = x_attention(&e, hd[0], hd[1], hd[2], n->nin == 6 ? n->in[5] : NULL,
                           ir_attr_int(n, "causal", 0) == 1, 1 / sqrt((double)dh));
  IrValue *m = x_reshape(&e, x_transpose(&e, a, perm, "merge"), 2, flat);
  IrValue *o = x_gemm_bt(&e, m, n->in[3], n->in[4], "out");
  outs[0] = x_reshape(&e, o, 3, xt->dims);
  return true;
}

/* ======================================================================
 * stack(x0, x1, ...; axis=0): join equal-shaped tensors along a new dim.
 * ====================================================================== */

static const IrAttrSpec stack_attrs[] = {{"axis", IR_ATTR_INT, false}, {NULL, 0, false}};

static bool stack_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_same_dtype(n, d)) return false;
  const IrType *t = &n->in[0]->type;
  char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
  for (int i = 1; i < n->nin; i++)
    if (!ir_type_eq(&n->in[i]->type, t))
      return op_err(n, d, "operands must have equal shapes: '%s' is %s, '%s' is %s",
                    n->in[0]->name, OP_TSTR(t, a), n->in[i]->name, OP_TSTR(&n->in[i]->type, b));
  if (t->rank + 1 > IR_MAX_RANK)
    return op_err(n, d, "result would exceed rank %d", IR_MAX_RANK);
  int64_t axis = ir_attr_int(n, "axis", 0);
  int ax;
  if (!ir_norm_axis(axis, t->rank + 1, &ax))
    return op_err(n, d, "axis %lld is out of range for a result of rank %d", (long long)axis,
                  t->rank + 1);
  IrType o = *t;
  for (int i = t->rank; i > ax; i--) o.dims[i] = o.dims[i - 1];
  o.dims[ax] = n->nin;
  o.rank++;
  out[0] = o;
  return true;
}

static bool stack_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  const IrType *ot = &n->out[0]->type;
  int ax;
  SM_ASSERT(ir_norm_axis(ir_attr_int(n, "axis", 0), ot->rank, &ax));
  IrType one = *ot;
  one.dims[ax] = 1;
  IrValue *parts[16];
  for (int i = 0; i < n->nin; i++) parts[i] = x_reshape(&e, n->in[i], one.rank, one.dims);
  outs[0] = x_concat(&e, parts, n->nin, ax, "stack");
  return true;
}

/* ======================================================================
 * positional_encoding(x): x + PE for x [..., T, E], with the sinusoidal
 * encoding of "Attention Is All You Need":
 *   PE[t, 2i] = sin(t / 10000^(2i/E)), PE[t, 2i+1] = cos(t / 10000^(2i/E)).
 * (A learned encoding is a parameter [T, E] added with `add`.)
 * ====================================================================== */

static bool pe_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_float(n, 0, d)) return false;
  const IrType *t = &n->in[0]->type;
  char a[IR_TYPE_STRLEN];
  if (t->rank < 2 || ir_numel(t) == 0)
    return op_err(n, d, "expects x [..., T, E], got '%s' %s", n->in[0]->name, OP_TSTR(t, a));
  if (t->dims[t->rank - 1] * t->dims[t->rank - 2] > (1 << 24))
    return op_err(n, d, "T*E of '%s' %s exceeds 2^24", n->in[0]->name, OP_TSTR(t, a));
  out[0] = *t;
  return true;
}

static bool pe_expand(IrGradCtx *cx, const IrNode *n, IrValue **outs) {
  Ex e = ex_begin(cx, n);
  const IrType *t = &n->in[0]->type;
  int64_t T = t->dims[t->rank - 2], E = t->dims[t->rank - 1];
  double *pe = sm_xcalloc((size_t)(T * E), sizeof *pe);
  for (int64_t p = 0; p < T; p++)
    for (int64_t j = 0; j < E; j++) {
      double ang = (double)p / pow(10000.0, (double)(j - j % 2) / (double)E);
      pe[p * E + j] = j % 2 ? cos(ang) : sin(ang);
    }
  int64_t dims[2] = {T, E};
  IrValue *c = x_const(&e, t->dtype, 2, dims, pe, (int)(T * E), "pe");
  free(pe);
  outs[0] = x_op2(&e, "add", n->in[0], c, "y");
  return true;
}

/* ====================================================================== */

static const IrOpDef op_embedding = {
    .name = "embedding", .min_in = 2, .max_in = 2, .nout = 1, .attrs = no_attrs,
    .infer = emb_infer, .ref = emb_ref, .c = &cgk_embedding, .grad = emb_grad,
    .doc = "table[ids]: ids int [...], table [V, D] -> [..., D]; ids outside [0, V) give zeros"};
static const IrOpDef op_embedding_grad = {
    .name = "embedding_grad", .min_in = 2, .max_in = 2, .nout = 1, .attrs = emb_grad_attrs,
    .infer = emb_grad_infer, .ref = emb_grad_ref, .c = &cgk_embedding_grad,
    .doc = "embedding backward (ids, dy; vocab) -> dtable [vocab, D], scatter-add"};
static const IrOpDef op_layernorm = {
    .name = "layernorm", .min_in = 3, .max_in = 3, .nout = 1, .attrs = ln_attrs,
    .infer = ln_infer, .expand = ln_expand,
    .doc = "layer norm over dims [axis:] (x, scale, bias; axis=-1, epsilon=1e-5), composite"};
static const IrOpDef op_groupnorm = {
    .name = "groupnorm", .min_in = 3, .max_in = 3, .nout = 1, .attrs = gn_attrs,
    .infer = gn_infer, .expand = gn_expand,
    .doc = "group norm (x[N,C,...], scale[C], bias[C]; groups, epsilon=1e-5), composite"};
static const IrOpDef op_instancenorm = {
    .name = "instancenorm", .min_in = 3, .max_in = 3, .nout = 1, .attrs = in_attrs,
    .infer = inorm_infer, .expand = inorm_expand,
    .doc = "instance norm (x[N,C,L...], scale[C], bias[C]; epsilon=1e-5), composite"};
static const IrOpDef op_rnn = {
    .name = "rnn", .min_in = 5, .max_in = 6, .nout = 2, .attrs = rnn_attrs,
    .infer = rec_infer, .expand = rec_expand,
    .doc = "Elman RNN layer, PyTorch layout (x, w_ih, w_hh, b_ih, b_hh[, h0]; activation, "
           "batch_first, direction) -> y, h_n; composite"};
static const IrOpDef op_lstm = {
    .name = "lstm", .min_in = 5, .max_in = 7, .nout = 3, .attrs = rec_attrs,
    .infer = rec_infer, .expand = rec_expand,
    .doc = "LSTM layer, PyTorch layout, gates i,f,g,o (x, w_ih, w_hh, b_ih, b_hh[, h0, c0]; "
           "batch_first, direction) -> y, h_n, c_n; composite"};
static const IrOpDef op_gru = {
    .name = "gru", .min_in = 5, .max_in = 6, .nout = 2, .attrs = gru_attrs,
    .infer = rec_infer, .expand = rec_expand,
    .doc = "GRU layer, PyTorch layout, gates r,z,n (x, w_ih, w_hh, b_ih, b_hh[, h0]; "
           "batch_first, direction, linear_before_reset=1 as PyTorch, 0 as ONNX's default) "
           "-> y, h_n; composite"};
static const IrOpDef op_attention = {
    .name = "attention", .min_in = 3, .max_in = 4, .nout = 1, .attrs = att_attrs,
    .infer = att_infer, .expand = att_expand,
    .doc = "scaled dot-product attention (q, k, v[, additive mask]; causal=0, "
           "scale=1/sqrt(d)), composite"};
static const IrOpDef op_multihead_attention = {
    .name = "multihead_attention", .min_in = 5, .max_in = 6, .nout = 1, .attrs = mha_attrs,
    .infer = mha_infer, .expand = mha_expand,
    .doc = "self-attention, PyTorch layout (x[B,T,E], w_qkv[3E,E], b_qkv, w_o[E,E], b_o"
           "[, mask]; heads, causal=0), composite"};
static const IrOpDef op_stack = {
    .name = "stack", .min_in = 1, .max_in = 16, .nout = 1, .attrs = stack_attrs,
    .infer = stack_infer, .expand = stack_expand,
    .doc = "join equal shapes along a new dim (axis=0), composite"};
static const IrOpDef op_positional_encoding = {
    .name = "positional_encoding", .min_in = 1, .max_in = 1, .nout = 1, .attrs = no_attrs,
    .infer = pe_infer, .expand = pe_expand,
    .doc = "x + sinusoidal positional encoding over the last two dims [T, E], composite"};

const IrOpDef *const ir_ops_seq[] = {
    &op_embedding, &op_embedding_grad, &op_layernorm, &op_groupnorm, &op_instancenorm,
    &op_rnn,       &op_lstm,           &op_gru,       &op_attention, &op_multihead_attention,
    &op_stack,     &op_positional_encoding, NULL};
