/* C kernels: convolution gradients: GEMM forms, direct weight gradient, plain loops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"

/* Tap tables of a conv gradient kernel; returns whether rows are looped
 * (false for 1-D: height 1 everywhere). */
typedef struct ConvTabs {
  bool rows, hclip, wclip;
} ConvTabs;

static ConvTabs conv_tables(SmBuf *b, const ConvSz *z) {
  const Win *g = &z->g;
  ConvTabs t = {.rows = !(z->H == 1 && z->KH == 1 && z->OH == 1 && g->pb[0] == 0)};
  int64_t *lo = sm_xmalloc(sizeof(int64_t) * (size_t)(z->KH + z->KW) * 2);
  int64_t *hi = lo + z->KH + z->KW, *wlo = lo + z->KH, *whi = hi + z->KH;
  t.hclip = t.rows && tap_ranges(g, 0, lo, hi);
  t.wclip = tap_ranges(g, 1, wlo, whi);
  char lead[64];
  snprintf(lead, sizeof lead, "group %lld, ", (long long)z->group);
  attrs_comment(b, lead, g);
  if (t.hclip) emit_tables(b, "oh0", "oh1", lo, hi, z->KH);
  if (t.wclip) emit_tables(b, "ow0", "ow1", wlo, whi, z->KW);
  free(lo);
  return t;
}

/* `for (oh ...)` over the outputs tap kh reaches, at indent ind */
static void emit_oh_loop(SmBuf *b, int ind, const ConvSz *z, const ConvTabs *t) {
  if (t->hclip)
    sm_buf_printf(b, "%*sfor (int64_t oh = oh0[kh]; oh < oh1[kh]; oh++) {\n", ind, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t oh = 0; oh < %lld; oh++) {\n", ind, "", (long long)z->OH);
}
static void emit_ow_loop(SmBuf *b, int ind, const ConvSz *z, const ConvTabs *t) {
  if (t->wclip)
    sm_buf_printf(b, "%*sfor (int64_t ow = ow0[kw]; ow < ow1[kw]; ow++)\n", ind, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t ow = 0; ow < %lld; ow++)\n", ind, "", (long long)z->OW);
}

/* ---- backward convolutions as GEMM ----
 *
 * grad_input per (image, group): dx[Cg, H*W] = w^T[Cg, Mg*KH*KW] x
 * dcol[Mg*KH*KW, H*W], where dcol((m,kh,kw), (ih,iw)) = dy[m, oh, ow] for
 * the output the tap reads from (ih = oh*s - p + kh*d), zero when there is
 * none: the packing of B gathers it from dy (no column buffer, no scatter,
 * no races). A stride s leaves (s-1)/s of dcol zero, so strides above 2
 * keep the direct form, as do groups of fewer than 12 input channels.
 *
 * grad_weight per group: dw[Mg, Cg*KH*KW] = dy[Mg, (n,oh,ow)] x
 * col[(n,oh,ow), Cg*KH*KW], K running over every image and output
 * position; col gathers x (implicit im2col of each image). When that leaves
 * too few tasks for the threads, the images are split into S chunks whose
 * partial products go to a stack buffer and are summed. */

/* Packs A(i, k) = a[(k / q) * blk + (k % q) + i * q] (rows i < M, zero
 * beyond): the layout of both convolution gradients' A operand, q taps
 * (kernel positions or output positions) per block of blk. */
static void conv_pack_a_strided(SmBuf *b, const GemmCore *gc, int mr, int ind, long long q,
                                long long blk) {
  sm_buf_printf(b, "%*sfor (int64_t ir = 0; ir < mc; ir += %d) {\n", ind, "", mr);
  sm_buf_printf(b, "%*s  float *d = ap + ir * kc;\n", ind, "");
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, "");
  sm_buf_printf(b, "%*s    const float *s = a + (pc + k) / %lld * %lld + (pc + k) %% %lld;\n", ind, "",
                q, blk, q);
  sm_buf_printf(b, "%*s    for (int64_t r = 0; r < %d; r++) {\n", ind, "", mr);
  sm_buf_printf(b, "%*s      const int64_t i = ic + ir + r;\n", ind, "");
  sm_buf_printf(b, "%*s      d[k * %d + r] = i < %lld ? s[i * %lld] : 0.0f;\n", ind, "", mr,
                (long long)gc->M, q);
  sm_buf_printf(b, "%*s    }\n%*s  }\n%*s}\n", ind, "", ind, "", ind, "");
}

static void conv_gi_pack_a(SmBuf *b, const GemmCore *gc, int mr, int ind) {
  const ConvSz *z = gc->user;
  long long khw = z->KH * z->KW;
  conv_pack_a_strided(b, gc, mr, ind, khw, (long long)z->Cg * khw);
}

static void conv_gi_pack_b(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  if (g->s[0] == 1 && g->s[1] == 1) {
    /* dcol((m,kh,kw), (ih,iw)) = dy[m, ih + p - kh*d, iw + p - kw*d] */
    RunPack rp = {.jw = z->W, .jn = z->H * z->W, .KH = z->KH, .KW = z->KW,
                  .plane = z->OH * z->OW, .rs = 1, .rd = -g->d[0], .rc = g->pb[0],
                  .rlim = z->OH, .cs = 1, .cd = -g->d[1], .cc = g->pb[1], .clim = z->OW};
    emit_pack_runs(b, gc->b, &rp, nr, ind);
    return;
  }
  long long KH = z->KH, KW = z->KW, W = z->W, OH = z->OH, OW = z->OW;
  sm_buf_printf(b, "%*sconst float *bm = %s;\n", ind, "", gc->b);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, "", nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, "");
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, "");
  sm_buf_printf(b, "%*s    const int64_t m = (pc + k) / %lld, kh = (pc + k) / %lld %% %lld, kw = (pc + k) %% %lld;\n",
                ind, "", KH * KW, KW, KH, KW);
  sm_buf_printf(b, "%*s    const float *dyc = bm + m * %lld;\n", ind, "", OH * OW);
  sm_buf_printf(b, "%*s    for (int64_t q = 0; q < %d; q++) {\n", ind, "", nr);
  sm_buf_printf(b, "%*s      const int64_t j = jc + jr + q;\n", ind, "");
  sm_buf_printf(b, "%*s      const int64_t th = j / %lld + %lld - kh * %lld, tw = j %% %lld + %lld - kw * %lld;\n",
                ind, "", W, (long long)g->pb[0], (long long)g->d[0], W, (long long)g->pb[1],
                (long long)g->d[1]);
  SmBuf cond = {0};
  sm_buf_printf(&cond, "j < %lld && th >= 0 && tw >= 0", (long long)gc->N);
  if (g->s[0] > 1) sm_buf_printf(&cond, " && th %% %lld == 0", (long long)g->s[0]);
  if (g->s[1] > 1) sm_buf_printf(&cond, " && tw %% %lld == 0", (long long)g->s[1]);
  sm_buf_printf(&cond, " && th < %lld && tw < %lld", OH * g->s[0], OW * g->s[1]);
  sm_buf_printf(b, "%*s      d[k * %d + q] = %s ? dyc[th / %lld * %lld + tw / %lld] : 0.0f;\n", ind, "",
                nr, cond.s, (long long)g->s[0], OW, (long long)g->s[1]);
  sm_buf_free(&cond);
  sm_buf_printf(b, "%*s    }\n%*s  }\n%*s}\n", ind, "", ind, "", ind, "");
}

/* A GEMM form of a convolution gradient, planned: the product, its
 * operand expressions and the sizes its packers read. */
typedef struct GradGemm {
  GemmCore gc;
  ConvSz z;
  int64_t S; /* images in chunks (weight gradient; 1: none) */
  char a[128], x[128], y[128], coff[64], lead[256];
} GradGemm;

/* The input gradient's GEMM form (d filled), or false. */
static bool conv_gi_core(const IrNode *n, const OpEpilogue *epi, GradGemm *d) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  d->z = conv_sz(n);
  const ConvSz z = d->z;
  int64_t HW = z.H * z.W, P = z.OH * z.OW, Kd = z.Mg * z.KH * z.KW;
  /* each gathered dcol element serves Cg rows: below ~12 the gather costs
   * more than the product saves (measured: 2.5x slower at Cg 6, 3x faster
   * at 16, 9x at 64 than the direct scatter) */
  if (z.Cg < 12 || Kd < 4 || z.g.s[0] * z.g.s[1] > 4 || !gemm_core_fits(z.Cg, HW, Kd)) return false;
  char *a = d->a, *x = d->x, *y = d->y, *coff = d->coff;
  bool batched = z.N * z.group > 1;
  if (z.group > 1)
    snprintf(a, sizeof d->a, "in1 + t %% %lld * %lld", (long long)z.group, (long long)(z.Mg * z.Cg * z.KH * z.KW));
  else snprintf(a, sizeof d->a, "in1");
  snprintf(x, sizeof d->x, batched ? "in0 + t * %lld" : "in0", (long long)(z.Mg * P));
  snprintf(y, sizeof d->y, batched ? "out0 + t * %lld" : "out0", (long long)(z.Cg * HW));
  snprintf(coff, sizeof d->coff, batched ? "t * %lld" : "0", (long long)(z.Cg * HW));
  snprintf(d->lead, sizeof d->lead, "as GEMM per image%s: w^T [%lld,%lld] x dcol [%lld,%lld] (gathered from dy); ",
           z.group > 1 ? " and group" : "", (long long)z.Cg, (long long)Kd, (long long)Kd,
           (long long)HW);
  d->S = 1;
  d->gc = (GemmCore){.M = z.Cg, .N = HW, .K = Kd, .nbatch = z.N * z.group, .a = a, .b = x,
                      .c = y, .ldc = HW, .alpha = 1, .beta = 0, .pack_a = conv_gi_pack_a,
                      .pack_b = conv_gi_pack_b, .user = &d->z, .epi = epi, .c_off = coff};
  return true;
}

bool conv_gi_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  GradGemm d;
  if (!conv_gi_core(n, epi, &d)) return false;
  attrs_comment(b, d.lead, &d.z.g);
  gemm_core_write(b, &d.gc);
  return true;
}

static void conv_gw_pack_a(SmBuf *b, const GemmCore *gc, int mr, int ind) {
  const ConvSz *z = gc->user;
  long long P = z->OH * z->OW;
  conv_pack_a_strided(b, gc, mr, ind, P, (long long)z->M * P);
}

/* B(k, j) = col((n,oh,ow), (c,kh,kw)) = x[n, c, oh*s - p + kh*d, ow*s - p + kw*d]
 * per sliver column j, by runs of k in one output row of one image. */
static void conv_gw_pack_b(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  long long KH = z->KH, KW = z->KW, H = z->H, W = z->W, OW = z->OW, P = z->OH * z->OW;
  const char *sp = "";
  char ih[128], a0[128];
  sm_buf_printf(b, "%*sconst float *bm = %s;\n", ind, sp, gc->b);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, sp);
  sm_buf_printf(b, "%*s  for (int64_t q = 0; q < %d; q++) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    const int64_t j = jc + jr + q;\n", ind, sp);
  sm_buf_printf(b, "%*s    float *dq = d + q;\n", ind, sp);
  sm_buf_printf(b, "%*s    if (j >= %lld) {\n", ind, sp, (long long)gc->N);
  sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) dq[k * %d] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s      continue;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s    const int64_t c = j / %lld, kh = j / %lld %% %lld, kw = j %% %lld;\n", ind,
                sp, KH * KW, KW, KH, KW);
  sm_buf_printf(b, "%*s    for (int64_t k = 0; k < kc;) {\n", ind, sp);
  sm_buf_printf(b, "%*s      const int64_t e = pc + k, p = e %% %lld, oh = p / %lld, ow = p %% %lld;\n",
                ind, sp, P, OW, OW);
  sm_buf_printf(b, "%*s      const int64_t len = %lld - ow < kc - k ? %lld - ow : kc - k;\n", ind, sp, OW, OW);
  sm_buf_printf(b, "%*s      const int64_t ih = %s;\n", ind, sp,
                affine(ih, sizeof ih, g->s[0], "oh", g->d[0], "kh", -g->pb[0]));
  sm_buf_printf(b, "%*s      if (ih < 0 || ih >= %lld) {\n", ind, sp, H);
  sm_buf_printf(b, "%*s        for (int64_t r = 0; r < len; r++) dq[(k + r) * %d] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s      } else\n", ind, sp);
  char row[128], dst[32];
  snprintf(row, sizeof row, "bm + e / %lld * %lld + c * %lld + ih * %lld", P, (long long)z->C * H * W,
           H * W, W);
  snprintf(dst, sizeof dst, "dq + k * %d", nr);
  affine(a0, sizeof a0, g->s[1], "ow", g->d[1], "kw", -g->pb[1]);
  emit_run_copy(b, ind + 8, dst, nr, row, a0, (long long)g->s[1], W, "len");
  sm_buf_printf(b, "%*s      k += len;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s  }\n%*s}\n", ind, sp, ind, sp);
}

/* ---- direct weight gradient on shifted planes ----
 *
 * dw[m, c, a, b] = sum_n sum_{r,s} dy[n, m, r, s] * P[n, c, r + a, s + b],
 * P the zero-padded input (stride 1, undilated, ungrouped). As in the
 * direct correlation, each padded input plane is staged KW times (copy b
 * holds columns b .. b + OW - 1 of every row, OW wide), so with the dy
 * plane dense (q = r * OW + s, zeros past it to whole vectors) the sum
 * over (r, s) is a dot product over q of dy[q] with D_b[q + a * OW].
 * Register tiles of mb output channels by nb kernel columns (one row a of
 * one input channel c): mb + nb vector loads feed mb * nb FMAs; the tile
 * sums go to one accumulator vector per gradient element, whose lanes are
 * added once per chunk. Images go in a fixed number of chunks (not per
 * thread, so the sums do not depend on the thread count) whose partial
 * gradients are added in order. */
typedef struct GwDirect {
  ConvSz z;
  int64_t PV, SD, nch; /* dense plane rounded to vectors, shifted copy, chunks */
} GwDirect;

static bool conv_gw_direct(const IrNode *n, GwDirect *o) {
  if (n->out[0]->type.dtype != IR_F32 || n->in[0]->type.rank != 4) return false;
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  if (z.group != 1 || g->s[0] != 1 || g->s[1] != 1 || g->d[0] != 1 || g->d[1] != 1) return false;
  if (z.OW < 8 || z.M * z.C > 512 || z.KH * z.KW > 49) return false;
  o->z = z;
  o->PV = round16(z.OH * z.OW);
  o->SD = round16(o->PV + (z.KH - 1) * z.OW);
  o->nch = z.N < 8 ? z.N : 8;
  int64_t kk = z.M * z.C * z.KH * z.KW, pad = (z.OH + z.KH - 1) * (z.OW + z.KW - 1);
  /* per thread: staged planes, and one vector per gradient element */
  return z.C * z.KW * o->SD + z.M * o->PV + pad + 16 * kk <= 65536 && o->nch * kk <= 32768;
}

/* The tiles for `regs` accumulator registers: mb channels (a divisor of
 * M) by nb kernel columns, the columns in blocks of nb (the last maybe
 * fewer), every bound a constant. */
static void emit_gw_tiles(SmBuf *b, const GwDirect *o, int regs) {
  const ConvSz *z = &o->z;
  long long M = z->M, C = z->C, KW = z->KW, KK = z->KH * z->KW, OW = z->OW;
  long long PV = o->PV, SD = o->SD;
  int nb = (int)(KW < regs ? KW : regs), mb = 1;
  for (int d = regs / nb; d > 1 && mb == 1; d--)
    if (M % d == 0) mb = d;
  sm_buf_printf(b, "      for (int64_t m0 = 0; m0 < %lld; m0 += %d)\n", M, mb);
  sm_buf_printf(b, "        for (int64_t c = 0; c < %lld; c++)\n", C);
  sm_buf_printf(b, "          for (int64_t a = 0; a < %lld; a++) {\n", (long long)z->KH);
  sm_buf_printf(b, "            const float *d = dq + m0 * %lld, *p = st + c * %lld + a * %lld;\n",
                PV, KW * SD, OW);
  sm_buf_printf(b, "            vf *e = acc + (m0 * %lld + c) * %lld + a * %lld;\n", C, KK, KW);
  for (int b0 = 0; b0 < KW; b0 += nb) {
    int nt = (int)(KW - b0 < nb ? KW - b0 : nb);
    sm_buf_puts(b, "            {\n              vf ");
    for (int i = 0; i < mb; i++)
      for (int j = 0; j < nt; j++)
        sm_buf_printf(b, "%st%d_%d = e[%lld]", i || j ? ", " : "", i, j, i * C * KK + b0 + j);
    sm_buf_puts(b, ";\n");
    sm_buf_printf(b, "              for (int64_t q = 0; q < %lld; q += SM_L) {\n", PV);
    sm_buf_puts(b, "                vf ");
    for (int i = 0; i < mb; i++) sm_buf_printf(b, "%sd%d", i ? ", " : "", i);
    for (int j = 0; j < nt; j++) sm_buf_printf(b, ", x%d", j);
    sm_buf_puts(b, ";\n");
    for (int i = 0; i < mb; i++)
      sm_buf_printf(b, "                memcpy(&d%d, d + %lld + q, sizeof d%d);\n                SM_REG(d%d);\n",
                    i, i * PV, i, i);
    for (int j = 0; j < nt; j++)
      sm_buf_printf(b, "                memcpy(&x%d, p + %lld + q, sizeof x%d);\n                SM_REG(x%d);\n",
                    j, (b0 + j) * SD, j, j);
    for (int i = 0; i < mb; i++) {
      sm_buf_puts(b, "               ");
      for (int j = 0; j < nt; j++) sm_buf_printf(b, " t%d_%d += d%d * x%d;", i, j, i, j);
      sm_buf_puts(b, "\n");
    }
    sm_buf_puts(b, "              }\n");
    for (int i = 0; i < mb; i++) {
      sm_buf_puts(b, "             ");
      for (int j = 0; j < nt; j++) sm_buf_printf(b, " e[%lld] = t%d_%d;", i * C * KK + b0 + j, i, j);
      sm_buf_puts(b, "\n");
    }
    sm_buf_puts(b, "            }\n");
  }
  sm_buf_puts(b, "          }\n");
}

static void emit_gw_direct(SmBuf *b, const GwDirect *o) {
  const ConvSz *z = &o->z;
  const Win *g = &z->g;
  long long M = z->M, C = z->C, KW = z->KW, KK = z->KH * z->KW, OW = z->OW, P = z->OH * z->OW;
  long long PV = o->PV, SD = o->SD, Hp = z->OH + z->KH - 1, Wp = OW + KW - 1;
  long long nch = o->nch, E = M * C * KK;
  sm_buf_printf(b, "  /* direct on %lld shifted copies of each padded %lld x %lld plane: %lld of %lld"
                   " positions kept, images in %lld chunks */\n",
                KW, Hp, Wp, P, PV, nch);
  /* on the stack: static storage would be shared by instances */
  sm_buf_printf(b, "  float part[%lld][%lld] __attribute__((aligned(64)));\n", nch, E);
  emit_omp_for(b, sat_mul(z->N * M * C * P, KK), "schedule(static)");
  sm_buf_printf(b, "  for (int64_t ch = 0; ch < %lld; ch++) {\n", nch);
  sm_buf_printf(b, "    float *pw = part[ch];\n    vf acc[%lld];\n", E);
  sm_buf_printf(b, "    for (int64_t e = 0; e < %lld; e++) acc[e] = (vf){0};\n", E);
  sm_buf_printf(b, "    float st[%lld] __attribute__((aligned(64))), dq[%lld] __attribute__((aligned(64)));\n",
                C * KW * SD, M * PV);
  sm_buf_printf(b, "    float pad[%lld];\n", Hp * Wp);
  /* the zeros past each plane and in the padding are never overwritten */
  sm_buf_puts(b, "    memset(st, 0, sizeof st);\n    memset(dq, 0, sizeof dq);\n"
                 "    memset(pad, 0, sizeof pad);\n");
  sm_buf_printf(b, "    for (int64_t n = ch * %lld / %lld; n < (ch + 1) * %lld / %lld; n++) {\n",
                (long long)z->N, nch, (long long)z->N, nch);
  sm_buf_printf(b, "      for (int64_t c = 0; c < %lld; c++) {\n", C);
  sm_buf_printf(b, "        for (int64_t r = 0; r < %lld; r++)\n", (long long)z->H);
  sm_buf_puts(b, "          memcpy(");
  emit_pad_row(b, g->pb[0], Wp, g->pb[1]);
  sm_buf_printf(b, ", in1 + ((n * %lld + c) * %lld + r) * %lld, %lld * sizeof(float));\n", C,
                (long long)z->H, (long long)z->W, (long long)z->W);
  sm_buf_printf(b, "        for (int64_t bb = 0; bb < %lld; bb++)\n", KW);
  sm_buf_printf(b, "          for (int64_t r = 0; r < %lld; r++)\n", Hp);
  sm_buf_printf(b, "            memcpy(st + (c * %lld + bb) * %lld + r * %lld, pad + r * %lld + bb,"
                   " %lld * sizeof(float));\n      }\n",
                KW, SD, OW, Wp, OW);
  sm_buf_printf(b, "      for (int64_t m = 0; m < %lld; m++)\n", M);
  sm_buf_printf(b, "        memcpy(dq + m * %lld, in0 + (n * %lld + m) * %lld, %lld * sizeof(float));\n",
                PV, M, P, P);
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  emit_gw_tiles(b, o, 24);
  sm_buf_puts(b, "#else\n");
  emit_gw_tiles(b, o, 12);
  sm_buf_puts(b, "#endif\n    }\n");
  /* the lanes summed once per chunk */
  sm_buf_printf(b, "    for (int64_t e = 0; e < %lld; e++) {\n      float h = 0;\n", E);
  sm_buf_puts(b, "      for (int l = 0; l < (int)SM_L; l++) h += acc[e][l];\n");
  sm_buf_puts(b, "      pw[e] = h;\n    }\n  }\n");
  sm_buf_printf(b, "  for (int64_t e = 0; e < %lld; e++) {\n    float s = part[0][e];\n", E);
  sm_buf_printf(b, "    for (int64_t ch = 1; ch < %lld; ch++) s += part[ch][e];\n", nch);
  sm_buf_puts(b, "    out0[e] = s;\n  }\n");
}

/* Whether the weight gradient takes the GEMM form. */
static bool conv_gw_blocked(const IrNode *n) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  ConvSz z = conv_sz(n);
  int64_t P = z.OH * z.OW, Kc = z.Cg * z.KH * z.KW;
  return z.Mg >= 2 && Kc >= 4 && P >= 1 && gemm_core_fits(z.Mg, Kc, z.N * P);
}

/* The weight gradient's GEMM form (d filled), or false. */
static bool conv_gw_core(const IrNode *n, const OpEpilogue *epi, GradGemm *d) {
  GwDirect gd;
  if (!conv_gw_blocked(n) || conv_gw_direct(n, &gd)) return false;
  d->z = conv_sz(n);
  const ConvSz z = d->z;
  int64_t HW = z.H * z.W, P = z.OH * z.OW, Kc = z.Cg * z.KH * z.KW;
  /* images per chunk: split when the product has fewer tiles than 4 and
   * the partial results fit a small stack buffer */
  int64_t S = 1, tiles = z.group * ((z.Mg + 7) / 8) * ((Kc + 31) / 32);
  double flops = 2.0 * (double)z.M * (double)Kc * (double)(z.N * P);
  if (tiles < 4 && flops >= 4e6 && !epi)
    for (int64_t s = 8; s > 1; s--)
      if (z.N % s == 0 && s * z.M * Kc <= 32768 && tiles * s <= 8) {
        S = s;
        break;
      }
  int64_t Ns = z.N / S;
  char *a = d->a, *x = d->x, *y = d->y, *coff = d->coff;
  bool batched = z.group * S > 1;
  /* t = s * group + g */
  snprintf(a, sizeof d->a, "in0 + t / %lld * %lld + t %% %lld * %lld", (long long)z.group,
           (long long)(Ns * z.M * P), (long long)z.group, (long long)(z.Mg * P));
  snprintf(x, sizeof d->x, "in1 + t / %lld * %lld + t %% %lld * %lld", (long long)z.group,
           (long long)(Ns * z.C * HW), (long long)z.group, (long long)(z.Cg * HW));
  if (!batched) snprintf(a, sizeof d->a, "in0"), snprintf(x, sizeof d->x, "in1");
  const char *base = S > 1 ? "part" : "out0";
  snprintf(y, sizeof d->y, batched ? "%s + t * %lld" : "%s", base, (long long)(z.Mg * Kc));
  snprintf(coff, sizeof d->coff, batched ? "t * %lld" : "0", (long long)(z.Mg * Kc));
  snprintf(d->lead, sizeof d->lead, "as GEMM per group: dy [%lld,%lld] x col [%lld,%lld] (gathered from x)%s; ",
           (long long)z.Mg, (long long)(z.N * P), (long long)(z.N * P), (long long)Kc,
           S > 1 ? ", images in chunks summed after" : "");
  d->S = S;
  d->gc = (GemmCore){.M = z.Mg, .N = Kc, .K = Ns * P, .nbatch = z.group * S, .a = a, .b = x,
                      .c = y, .ldc = Kc, .alpha = 1, .beta = 0, .pack_a = conv_gw_pack_a,
                      .pack_b = conv_gw_pack_b, .user = &d->z, .epi = epi, .c_off = coff};
  return true;
}

bool conv_gw_gemm(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  GradGemm d;
  if (!conv_gw_core(n, epi, &d)) return false;
  const ConvSz z = d.z;
  int64_t S = d.S, Kc = z.Cg * z.KH * z.KW;
  attrs_comment(b, d.lead, &z.g);
  if (S > 1) sm_buf_printf(b, "  float part[%lld] __attribute__((aligned(64)));\n", (long long)(S * z.M * Kc));
  gemm_core_write(b, &d.gc);
  if (S > 1) {
    sm_buf_printf(b, "  for (int64_t e = 0; e < %lld; e++) {\n", (long long)(z.M * Kc));
    sm_buf_puts(b, "    float s = part[e];\n");
    sm_buf_printf(b, "    for (int64_t c = 1; c < %lld; c++) s += part[c * %lld + e];\n", (long long)S,
                  (long long)(z.M * Kc));
    sm_buf_puts(b, "    out0[e] = s;\n  }\n");
  }
  return true;
}

/* One thread per input plane (n, c): zero it, then for every output
 * channel m of c's group and every tap scatter wv * (dy row) into the
 * input row the tap reads (innermost loop along output width). */
static void conv_gi_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  if (conv_gi_gemm(b, n, NULL)) return;
  ConvSz z = conv_sz(n);
  Corr corr;
  if (n->out[0]->type.dtype == IR_F32 && z.g.nsp == 2 && conv_corr(&z, true, false, &corr)) {
    emit_corr(b, &corr, NULL);
    return;
  }
  const Win *g = &z.g;
  const char *T = ctype(n);
  ConvTabs t = conv_tables(b, &z);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->in[0]->type), z.Cg * z.KH * z.KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)z.N);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)z.C);
  sm_buf_printf(b, "      %s *dx = out0 + (n * %lld + c) * %lld;\n", T, (long long)z.C,
                (long long)(z.H * z.W));
  emit_zero(b, 6, "dx", z.H * z.W);
  if (z.group == 1) {
    sm_buf_printf(b, "      for (int64_t m = 0; m < %lld; m++) {\n", (long long)z.M);
    sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c) * %lld;\n", T,
                  (long long)z.Cg, (long long)(z.KH * z.KW));
  } else {
    sm_buf_printf(b, "      for (int64_t m = c / %lld * %lld; m < (c / %lld + 1) * %lld; m++) {\n",
                  (long long)z.Cg, (long long)z.Mg, (long long)z.Cg, (long long)z.Mg);
    sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c %% %lld) * %lld;\n", T,
                  (long long)z.Cg, (long long)z.Cg, (long long)(z.KH * z.KW));
  }
  sm_buf_printf(b, "        const %s *dyp = in0 + (n * %lld + m) * %lld;\n", T, (long long)z.M,
                (long long)(z.OH * z.OW));
  int ind = 8;
  const char *dxr = "dx", *dyr = "dyp", *wix = "kw";
  char wbuf[64];
  if (t.rows) {
    sm_buf_printf(b, "        for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)z.KH);
    emit_oh_loop(b, 10, &z, &t);
    sm_buf_printf(b, "            %s *dxr = dx + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g->s[0], "oh", g->d[0], "kh", -g->pb[0]), (long long)z.W);
    sm_buf_printf(b, "            const %s *dyr = dyp + oh * %lld;\n", T, (long long)z.OW);
    dxr = "dxr", dyr = "dyr";
    snprintf(wbuf, sizeof wbuf, "kh * %lld + kw", (long long)z.KW);
    wix = wbuf;
    ind = 12;
  }
  sm_buf_printf(b, "%*sfor (int64_t kw = 0; kw < %lld; kw++) {\n", ind, "", (long long)z.KW);
  sm_buf_printf(b, "%*sconst %s wv = wc[%s];\n", ind + 2, "", T, wix);
  emit_ow_loop(b, ind + 2, &z, &t);
  sm_buf_printf(b, "%*s%s[%s] += wv * %s[ow];\n", ind + 4, "", dxr,
                affine(ix, sizeof ix, g->s[1], "ow", g->d[1], "kw", -g->pb[1]), dyr);
  sm_buf_printf(b, "%*s}\n", ind, "");
  if (t.rows) sm_buf_puts(b, "          }\n");
  sm_buf_puts(b, "      }\n    }\n");
}

/* One thread per filter slice (m, c): each tap's weight gradient is a dot
 * product of dy rows with shifted x rows over the batch, summed in double
 * across rows. */
static void conv_gw_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  GwDirect gd;
  if (conv_gw_direct(n, &gd)) {
    emit_gw_direct(b, &gd);
    return;
  }
  if (conv_gw_gemm(b, n, NULL)) return;
  ConvSz z = conv_sz(n);
  const Win *g = &z.g;
  const char *T = ctype(n);
  ConvTabs t = conv_tables(b, &z);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->in[0]->type), z.Cg * z.KH * z.KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t m = 0; m < %lld; m++)\n", (long long)z.M);
  sm_buf_printf(b, "    for (int64_t c = 0; c < %lld; c++) {\n", (long long)z.Cg);
  sm_buf_printf(b, "      %s *dw = out0 + (m * %lld + c) * %lld;\n", T, (long long)z.Cg,
                (long long)(z.KH * z.KW));
  sm_buf_printf(b, "      for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)z.KH);
  sm_buf_printf(b, "        for (int64_t kw = 0; kw < %lld; kw++) {\n", (long long)z.KW);
  sm_buf_puts(b, "          double acc = 0.0;\n");
  sm_buf_printf(b, "          for (int64_t n = 0; n < %lld; n++) {\n", (long long)z.N);
  sm_buf_printf(b, "            const %s *dyp = in0 + (n * %lld + m) * %lld;\n", T,
                (long long)z.M, (long long)(z.OH * z.OW));
  if (z.group == 1)
    sm_buf_printf(b, "            const %s *xc = in1 + (n * %lld + c) * %lld;\n", T,
                  (long long)z.C, (long long)(z.H * z.W));
  else
    sm_buf_printf(b, "            const %s *xc = in1 + (n * %lld + m / %lld * %lld + c) * %lld;\n",
                  T, (long long)z.C, (long long)z.Mg, (long long)z.Cg, (long long)(z.H * z.W));
  int ind = 12;
  const char *dyr = "dyp", *xr = "xc";
  if (t.rows) {
    emit_oh_loop(b, 12, &z, &t);
    sm_buf_printf(b, "              const %s *dyr = dyp + oh * %lld;\n", T, (long long)z.OW);
    sm_buf_printf(b, "              const %s *xr = xc + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g->s[0], "oh", g->d[0], "kh", -g->pb[0]), (long long)z.W);
    dyr = "dyr", xr = "xr";
    ind = 14;
  }
  sm_buf_printf(b, "%*s%s r = 0;\n", ind, "", T);
  emit_ow_loop(b, ind, &z, &t);
  sm_buf_printf(b, "%*sr += %s[ow] * %s[%s];\n", ind + 2, "", dyr, xr,
                affine(ix, sizeof ix, g->s[1], "ow", g->d[1], "kw", -g->pb[1]));
  sm_buf_printf(b, "%*sacc += r;\n", ind, "");
  if (t.rows) sm_buf_puts(b, "            }\n");
  sm_buf_puts(b, "          }\n");
  sm_buf_printf(b, "          dw[kh * %lld + kw] = (%s)acc;\n", (long long)z.KW, T);
  sm_buf_puts(b, "        }\n    }\n");
}


static bool conv_gw_in_registers(const IrNode *n) {
  if (ir_numel(&n->out[0]->type) == 0) return false;
  /* fused, the images are not chunked: K = N*OH*OW */
  ConvSz z = conv_sz(n);
  GwDirect gd;
  return conv_gw_blocked(n) && !conv_gw_direct(n, &gd) && gemm_core_one_k_block(z.N * z.OH * z.OW);
}

/* The input gradient's plan, alone or with an epilogue. */
static void conv_gi_plan(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p) {
  if (ir_numel(&n->out[0]->type) == 0) return;
  GradGemm d;
  ConvSz z = conv_sz(n);
  Corr corr;
  if (conv_gi_core(n, e, &d)) gemm_plan_kernel(p, &d.gc, "GEMM, dcol gathered from dy");
  else if (n->out[0]->type.dtype == IR_F32 && z.g.nsp == 2 && conv_corr(&z, true, false, &corr))
    p->form = "direct correlation on shifted planes";
}

/* The weight gradient's plan, alone or with an epilogue. */
static void conv_gw_plan(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p) {
  if (ir_numel(&n->out[0]->type) == 0) return;
  GradGemm d;
  GwDirect gd;
  if (conv_gw_direct(n, &gd)) p->form = "direct weight gradient on shifted planes";
  else if (conv_gw_core(n, e, &d))
    gemm_plan_kernel(p, &d.gc, d.S > 1 ? "GEMM, images in chunks" : "GEMM, col gathered from x");
}

static bool conv_gi_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  Corr corr;
  if (conv_gi_gemm(b, n, e)) return true;
  ConvSz z = conv_sz(n);
  if (n->out[0]->type.dtype != IR_F32 || z.g.nsp != 2 || !conv_corr(&z, true, false, &corr))
    return false;
  emit_corr(b, &corr, e);
  return true;
}

static bool conv_gw_emit_fused(SmBuf *b, const OpEpilogue *e) {
  if (ir_numel(&e->prod->out[0]->type) == 0) return false;
  return conv_gw_gemm(b, e->prod, e);
}

/* the gradient ops take dy (forward-output shaped) first; the weight
 * gradient's result is weight-shaped */
static double conv_gi_flops(const IrNode *n) {
  return conv_flops_of(&n->in[0]->type, &n->in[1]->type);
}

static double conv_gw_flops(const IrNode *n) {
  return conv_flops_of(&n->in[0]->type, &n->out[0]->type);
}

/* ---- the kernel generators of conv_grad ---- */

#define CONV_GI_KERNEL                                                                      \
  {.emit = conv_gi_emit, .plan = conv_gi_plan, .epilogue = true,                            \
   .emit_fused = conv_gi_emit_fused, .flops = conv_gi_flops}
#define CONV_GW_KERNEL                                                                      \
  {.emit = conv_gw_emit, .plan = conv_gw_plan, .epilogue = true,                            \
   .emit_fused = conv_gw_emit_fused, .in_registers = conv_gw_in_registers,                  \
   .flops = conv_gw_flops}
const CgOpKernel cgk_conv2d_grad_input = CONV_GI_KERNEL;
const CgOpKernel cgk_conv2d_grad_weight = CONV_GW_KERNEL;
const CgOpKernel cgk_conv1d_grad_input = CONV_GI_KERNEL;
const CgOpKernel cgk_conv1d_grad_weight = CONV_GW_KERNEL;
