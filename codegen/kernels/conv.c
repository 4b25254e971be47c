/* C kernels: forward convolutions: im2col GEMM, direct correlation, plain loops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rt.h"

/* Valid output range [lo[k], hi[k]) for kernel tap k along one dim: the
 * outputs whose input index o*s - p + k*d falls inside [0, in). Returns
 * whether some tap is clipped (otherwise every range is [0, out)). */
bool tap_ranges(const Win *g, int j, int64_t *lo, int64_t *hi) {
  bool clipped = false;
  for (int64_t k = 0; k < g->k[j]; k++) {
    int64_t a = ceil_div(g->pb[j] - k * g->d[j], g->s[j]);
    int64_t z = ceil_div(g->in[j] + g->pb[j] - k * g->d[j], g->s[j]);
    lo[k] = a < 0 ? 0 : a > g->out[j] ? g->out[j] : a;
    hi[k] = z > g->out[j] ? g->out[j] : z < lo[k] ? lo[k] : z;
    clipped |= lo[k] != 0 || hi[k] != g->out[j];
  }
  return clipped;
}

/* `static const int64_t lo[K] = {..}, hi[K] = {..};` */
void emit_tables(SmBuf *b, const char *lo_name, const char *hi_name,
                 const int64_t *lo, const int64_t *hi, int64_t k) {
  sm_buf_printf(b, "  static const int64_t %s[%lld] = {", lo_name, (long long)k);
  for (int64_t i = 0; i < k; i++) sm_buf_printf(b, "%s%lld", i ? ", " : "", (long long)lo[i]);
  sm_buf_printf(b, "}, %s[%lld] = {", hi_name, (long long)k);
  for (int64_t i = 0; i < k; i++) sm_buf_printf(b, "%s%lld", i ? ", " : "", (long long)hi[i]);
  sm_buf_puts(b, "};\n");
}

/* Convolution as GEMM per (image, group): y[Mg, OH*OW] = w[Mg, Cg*KH*KW] x
 * col[Cg*KH*KW, OH*OW], where the packing of the GEMM's B panel gathers
 * col straight from x (implicit im2col: no column buffer). */
/* Packers gather convolution operands run by run: a run is a stretch of
 * consecutive output positions in one output row (or input positions in
 * one input row), along which the source index moves by a constant
 * stride. emit_run_copy writes, for r in [0, len):
 *   dst[r * ds] = 0 <= a0 + r * S < lim ? row[a0 + r * S] : 0
 * with the bounds solved once per run (two zero fills around one copy,
 * which is a plain vectorizable copy when S = ds = 1); a0, len, row and
 * dst are C expressions in scope. */
void emit_run_copy(SmBuf *b, int ind, const char *dst, long long ds, const char *row,
                   const char *a0, long long S, long long lim, const char *len) {
  const char *sp = "";
  sm_buf_printf(b, "%*s{\n", ind, sp);
  sm_buf_printf(b, "%*s  const int64_t a_ = %s, n_ = %s;\n", ind, sp, a0, len);
  sm_buf_printf(b, "%*s  int64_t lo_ = a_ >= 0 ? 0 : (-a_ + %lld) / %lld;\n", ind, sp, S - 1, S);
  sm_buf_printf(b, "%*s  int64_t hi_ = a_ < %lld ? (%lld - a_ + %lld) / %lld : 0;\n", ind, sp, lim,
                lim, S - 1, S);
  sm_buf_printf(b, "%*s  if (hi_ > n_) hi_ = n_;\n%*s  if (lo_ > hi_) lo_ = hi_;\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s  float *d_ = %s;\n%*s  const float *s_ = %s;\n", ind, sp, dst, ind, sp, row);
  sm_buf_printf(b, "%*s  for (int64_t r = 0; r < lo_; r++) d_[r * %lld] = 0.0f;\n", ind, sp, ds);
  sm_buf_printf(b, "%*s  for (int64_t r = lo_; r < hi_; r++) d_[r * %lld] = s_[a_ + r * %lld];\n",
                ind, sp, ds, S);
  sm_buf_printf(b, "%*s  for (int64_t r = hi_; r < n_; r++) d_[r * %lld] = 0.0f;\n", ind, sp, ds);
  sm_buf_printf(b, "%*s}\n", ind, sp);
}


/* Packs B by rows k, each by runs of j within one grid row. */
void emit_pack_runs(SmBuf *b, const char *src, const RunPack *rp, int nr, int ind) {
  const char *sp = "";
  char ia[160], aa[160];
  sm_buf_printf(b, "%*sconst float *xb = %s;\n", ind, sp, src);
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, sp);
  sm_buf_printf(b, "%*s  const int64_t j0 = jc + jr, jn = %lld - j0 < %d ? %lld - j0 : %d;\n", ind, sp,
                rp->jn, nr, rp->jn, nr);
  sm_buf_printf(b, "%*s  int64_t c = pc / %lld, kh = pc / %lld %% %lld, kw = pc %% %lld;\n", ind, sp,
                rp->KH * rp->KW, rp->KW, rp->KH, rp->KW);
  sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++) {\n", ind, sp);
  sm_buf_printf(b, "%*s    float *dk = d + k * %d;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    for (int64_t q = jn; q < %d; q++) dk[q] = 0.0f;\n", ind, sp, nr);
  sm_buf_printf(b, "%*s    for (int64_t q = 0; q < jn;) {\n", ind, sp);
  sm_buf_printf(b, "%*s      const int64_t jrow = (j0 + q) / %lld, jcol = (j0 + q) %% %lld;\n", ind, sp,
                rp->jw, rp->jw);
  sm_buf_printf(b, "%*s      const int64_t len = %lld - jcol < jn - q ? %lld - jcol : jn - q;\n", ind,
                sp, rp->jw, rp->jw);
  sm_buf_printf(b, "%*s      const int64_t i = %s;\n", ind, sp,
                affine(ia, sizeof ia, rp->rs, "jrow", rp->rd, "kh", rp->rc));
  sm_buf_printf(b, "%*s      if (i < 0 || i >= %lld) {\n", ind, sp, rp->rlim);
  sm_buf_printf(b, "%*s        for (int64_t r = 0; r < len; r++) dk[q + r] = 0.0f;\n", ind, sp);
  sm_buf_printf(b, "%*s      } else\n", ind, sp);
  affine(aa, sizeof aa, rp->cs, "jcol", rp->cd, "kw", rp->cc);
  char row[96];
  snprintf(row, sizeof row, "xb + c * %lld + i * %lld", rp->plane, rp->clim);
  emit_run_copy(b, ind + 8, "dk + q", 1, row, aa, rp->cs, rp->clim, "len");
  sm_buf_printf(b, "%*s      q += len;\n%*s    }\n", ind, sp, ind, sp);
  sm_buf_printf(b, "%*s    if (++kw == %lld) {\n%*s      kw = 0;\n", ind, sp, rp->KW, ind, sp);
  sm_buf_printf(b, "%*s      if (++kh == %lld) kh = 0, c++;\n%*s    }\n", ind, sp, rp->KH, ind, sp);
  sm_buf_printf(b, "%*s  }\n%*s}\n", ind, sp, ind, sp);
}

/* B(k, j) = col((ci,kh,kw), (oh,ow)) = x[ci, oh*s - p + kh*d, ow*s - p + kw*d]
 * (zero outside x). */
static void conv_pack_im2col(SmBuf *b, const GemmCore *gc, int nr, int ind) {
  const ConvSz *z = gc->user;
  const Win *g = &z->g;
  RunPack rp = {.jw = z->OW, .jn = z->OH * z->OW, .KH = z->KH, .KW = z->KW, .plane = z->H * z->W,
                .rs = g->s[0], .rd = g->d[0], .rc = -g->pb[0], .rlim = z->H,
                .cs = g->s[1], .cd = g->d[1], .cc = -g->pb[1], .clim = z->W};
  emit_pack_runs(b, gc->b, &rp, nr, ind);
}


int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }
/* output positions computed per plane: whole vectors of 16 (or 8) lanes */
static int64_t corr_pv(const Corr *c) { return round16(c->OHo * c->OWo); }
/* staged floats per shifted copy: every read of the last vector included */
static int64_t corr_plane(const Corr *c) { return round16(corr_pv(c) + (c->KH - 1) * c->OWo); }
/* source channels per block: their copies within 24 KiB */
static int64_t corr_ib(const Corr *c) {
  int64_t ib = 6144 / (c->KW * corr_plane(c));
  return ib < 1 ? 1 : ib > c->Ci ? c->Ci : ib;
}
/* output channels per register block (sharing each load): the largest
 * divisor of Co up to maxob, or maxob and a remainder block when that is
 * small. Wide blocks of few vectors measured fastest (LeNet: 16 x 1
 * vector for Co = 16, 6 x 4 for Co = 6). */
static int corr_ob(const Corr *c, int maxob) {
  int ob = 1;
  for (int d = maxob; d > 1 && ob == 1; d--)
    if (c->Co % d == 0) ob = d;
  if (c->Co > maxob && ob < maxob / 2) ob = maxob;
  return ob < c->Co ? ob : (int)c->Co;
}
/* the stack buffers of one thread, in floats */
static int64_t corr_stack(const Corr *c) {
  return corr_ib(c) * c->KW * corr_plane(c) + c->Co * corr_pv(c) +
         (c->OHo + c->KH - 1) * (c->OWo + c->KW - 1);
}

/* "pad + " the start of source row r in a plane padded with pt rows
 * above and pl columns to the left, Wp wide. */
void emit_pad_row(SmBuf *b, long long pt, long long Wp, long long pl) {
  if (pt) sm_buf_printf(b, "pad + (r + %lld) * %lld", pt, Wp);
  else sm_buf_printf(b, "pad + r * %lld", Wp);
  if (pl) sm_buf_printf(b, " + %lld", pl);
}

/* One register block: ob output channels from o, nv vectors from q0,
 * source channels i0 .. ie - 1 added to the sums in `sum`. The
 * accumulators av[ob][nv] and weights w[ob]: loops over the channels
 * unrolled, so that each is a register. */
static void emit_corr_block(SmBuf *b, const Corr *c, int ob, int nv, int ind) {
  long long SD = corr_plane(c), PV = corr_pv(c);
  bool one_block = corr_ib(c) >= c->Ci; /* i0 is 0: no partial sums to reload */
  const char *sp = "";
  sm_buf_printf(b, "%*svf av[%d][%d] = {{{0}}};\n", ind, sp, ob, nv);
  if (!one_block) {
    sm_buf_printf(b, "%*sif (i0 > 0)\n#pragma GCC unroll %d\n", ind, sp, ob);
    sm_buf_printf(b, "%*s  for (int j = 0; j < %d; j++) memcpy(av[j], sum + (o + j) * %lld + q0, sizeof av[j]);\n",
                  ind, sp, ob, PV);
  }
  sm_buf_printf(b, "%*sfor (int64_t i = i0; i < ie; i++) {\n", ind, sp);
  sm_buf_printf(b, "%*s  const float *sp = st + (i - i0) * %lld + q0;\n", ind, sp,
                (long long)(c->KW * SD));
  sm_buf_printf(b, "%*s  const float *wk = %s + o * %lld + i * %lld", ind, sp,
                c->KWo ? "wt" : "in1", (long long)c->wo, (long long)c->wi);
  if (c->w0) sm_buf_printf(b, " + %lld", (long long)c->w0);
  sm_buf_puts(b, ";\n");
  sm_buf_printf(b, "%*s  for (int64_t a = 0; a < %lld; a++)\n", ind, sp, (long long)c->KH);
  sm_buf_printf(b, "%*s    for (int64_t bb = 0; bb < %lld; bb++) {\n", ind, sp, (long long)c->KW);
  sm_buf_printf(b, "%*s      const float *x = sp + bb * %lld + a * %lld;\n", ind, sp, SD,
                (long long)c->OWo);
  sm_buf_printf(b, "%*s      vf w[%d];\n#pragma GCC unroll %d\n", ind, sp, ob, ob);
  sm_buf_printf(b, "%*s      for (int j = 0; j < %d; j++) w[j] = wk[j * %lld + a * %lld + bb", ind, sp,
                ob, (long long)c->wo, (long long)c->wa);
  if (c->wb != 1) sm_buf_printf(b, " * %lld", (long long)c->wb);
  sm_buf_puts(b, "] - (vf){0};\n");
  sm_buf_printf(b, "%*s      for (int v = 0; v < %d; v++) {\n", ind, sp, nv);
  sm_buf_printf(b, "%*s        vf xv;\n%*s        memcpy(&xv, x + v * SM_L, sizeof xv);\n", ind, sp,
                ind, sp);
  sm_buf_printf(b, "#pragma GCC unroll %d\n%*s        for (int j = 0; j < %d; j++) av[j][v] += w[j] * xv;\n",
                ob, ind, sp, ob);
  sm_buf_printf(b, "%*s      }\n%*s    }\n%*s}\n", ind, sp, ind, sp, ind, sp);
  sm_buf_printf(b, "#pragma GCC unroll %d\n%*sfor (int j = 0; j < %d; j++) memcpy(sum + (o + j) * %lld + q0, av[j], sizeof av[j]);\n",
                ob, ind, sp, ob, PV);
}

/* The output channels from o in blocks of ob, for vectors of `lanes`
 * floats and `regs` accumulator registers: the plane's vectors split into
 * near-equal chunks of at most regs / ob. */
static void emit_corr_channels(SmBuf *b, const Corr *c, int ob, int lanes, int regs) {
  int64_t NVt = corr_pv(c) / lanes;
  int nvmax = regs / ob < 1 ? 1 : regs / ob;
  int64_t nch = (NVt + nvmax - 1) / nvmax, base = NVt / nch, extra = NVt % nch;
  /* extra chunks of base + 1 vectors, then the rest of base */
  int64_t qs[2] = {0, extra * (base + 1) * lanes}, qe[2] = {qs[1], NVt * lanes};
  int nvs[2] = {(int)base + 1, (int)base};
  for (int k = 0; k < 2; k++) {
    if (qe[k] <= qs[k]) continue;
    sm_buf_printf(b, "      for (int64_t q0 = %lld; q0 < %lld; q0 += %lld) {\n", (long long)qs[k],
                  (long long)qe[k], (long long)nvs[k] * lanes);
    emit_corr_block(b, c, ob, nvs[k], 8);
    sm_buf_puts(b, "      }\n");
  }
}

/* One vector variant of the compute: lanes and accumulator registers. */
static void emit_corr_compute(SmBuf *b, const Corr *c, int lanes, int regs, int maxob) {
  int ob = corr_ob(c, maxob);
  int64_t Cm = c->Co / ob * ob;
  sm_buf_printf(b, "    for (int64_t o = 0; o < %lld; o += %d) {\n", (long long)Cm, ob);
  emit_corr_channels(b, c, ob, lanes, regs);
  sm_buf_puts(b, "    }\n");
  if (Cm < c->Co) {
    sm_buf_printf(b, "    {\n      const int64_t o = %lld;\n", (long long)Cm);
    emit_corr_channels(b, c, (int)(c->Co - Cm), lanes, regs);
    sm_buf_puts(b, "    }\n");
  }
}

/* The input gradient by columns: dx[c, h, w] = sum_b Y[c * KWo + b, h + fpt, w - b + fpl]
 * (OWo wide rows of Y, terms outside them zero), a row at a time. */
static void emit_corr_columns(SmBuf *b, const Corr *c, const OpEpilogue *epi) {
  long long Cd = c->Co / c->KWo, H = c->H, W = c->W, OW = c->OWo, PV = corr_pv(c);
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++)\n", Cd);
  sm_buf_printf(b, "      for (int64_t h = 0; h < %lld; h++) {\n", H);
  sm_buf_printf(b, "        const float *yr = sum + m * %lld + (h + %lld) * %lld;\n",
                c->KWo * PV, (long long)c->fpt, OW);
  sm_buf_printf(b, "        float row[%lld];\n        memset(row, 0, sizeof row);\n", W);
  for (long long bb = 0; bb < c->KWo; bb++) {
    long long s0 = c->fpl - bb > 0 ? c->fpl - bb : 0;
    long long s1 = W + c->fpl - bb < OW ? W + c->fpl - bb : OW;
    if (s1 <= s0) continue;
    sm_buf_printf(b, "        for (int64_t s = %lld; s < %lld; s++) row[s + %lld] += yr[%lld + s];\n", s0,
                  s1, bb - c->fpl, bb * PV);
  }
  sm_buf_printf(b, "        for (int64_t w = 0; w < %lld; w++) {\n", W);
  sm_buf_printf(b, "          const int64_t o = ((n * %lld + m) * %lld + h) * %lld + w;\n", Cd, H, W);
  sm_buf_puts(b, "          const float acc = row[w];\n");
  if (epi) ew_emit_epilogue_elem(b, 10, epi, "acc", "o", true);
  else sm_buf_puts(b, "          out0[o] = acc;\n");
  sm_buf_puts(b, "        }\n      }\n  }\n");
}

/* With epi, the fused kernel: the chain applied as the sums are stored. */
void emit_corr(SmBuf *b, const Corr *c, const OpEpilogue *epi) {
  int64_t Hp = c->OHo + c->KH - 1, OWo = c->OWo, Wp = OWo + c->KW - 1, SD = corr_plane(c);
  int64_t ib = corr_ib(c), PV = corr_pv(c), P = c->OHo * OWo;
  sm_buf_printf(b, "  /* direct correlation on %lld shifted copies of each padded %lld x %lld plane,"
                   " %lld source channels at a time: %lld of %lld positions kept */\n",
                (long long)c->KW, (long long)Hp, (long long)Wp, (long long)ib,
                (long long)P, (long long)PV);
  if (c->KWo) {
    /* wt[m][c * KWo + b][a] = w[m][c][KH - 1 - a][b] */
    long long Cd = c->Co / c->KWo, KH = c->KH, KWo = c->KWo;
    sm_buf_printf(b, "  float wt[%lld];\n", (long long)(c->Ci * c->Co * KH));
    sm_buf_printf(b, "  for (int64_t m = 0; m < %lld; m++)\n", (long long)c->Ci);
    sm_buf_printf(b, "    for (int64_t o = 0; o < %lld; o++)\n", (long long)c->Co);
    sm_buf_printf(b, "      for (int64_t a = 0; a < %lld; a++)\n", KH);
    sm_buf_printf(b, "        wt[(m * %lld + o) * %lld + a] = in1[((m * %lld + o / %lld) * %lld + %lld - a) * %lld + o %% %lld];\n",
                  (long long)c->Co, KH, Cd, KWo, KH, KH - 1, KWo, KWo);
  }
  emit_omp_for(b, sat_mul(c->N * c->Co * P, c->Ci * c->KH * c->KW), "schedule(static)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++) {\n", (long long)c->N);
  sm_buf_printf(b, "    float st[%lld] __attribute__((aligned(64)));\n", (long long)(ib * c->KW * SD));
  sm_buf_printf(b, "    float sum[%lld] __attribute__((aligned(64)));\n", (long long)(c->Co * PV));
  sm_buf_printf(b, "    float pad[%lld];\n    memset(pad, 0, sizeof pad);\n", (long long)(Hp * Wp));
  bool one_block = ib >= c->Ci;
  if (one_block) {
    sm_buf_printf(b, "    const int64_t i0 = 0, ie = %lld;\n", (long long)c->Ci);
  } else {
    sm_buf_printf(b, "    for (int64_t i0 = 0; i0 < %lld; i0 += %lld) {\n", (long long)c->Ci, (long long)ib);
    sm_buf_printf(b, "    const int64_t ie = i0 + %lld < %lld ? i0 + %lld : %lld;\n", (long long)ib,
                  (long long)c->Ci, (long long)ib, (long long)c->Ci);
  }
  /* plane i zero-padded in pad (the borders stay zero), then copy bb of
   * it: row r holds the padded columns bb .. bb + OWo - 1 */
  sm_buf_printf(b, "    for (int64_t i = i0; i < ie; i++) {\n");
  sm_buf_printf(b, "      for (int64_t r = 0; r < %lld; r++)\n", (long long)c->Hs);
  sm_buf_puts(b, "        memcpy(");
  emit_pad_row(b, c->pt, Wp, c->pl);
  if (c->Ci == 1) sm_buf_puts(b, ", in0 + ((n + i)");
  else sm_buf_printf(b, ", in0 + ((n * %lld + i)", (long long)c->Ci);
  sm_buf_printf(b, " * %lld + r) * %lld, %lld * sizeof(float));\n", (long long)c->Hs,
                (long long)c->Ws, (long long)c->Ws);
  sm_buf_printf(b, "      for (int64_t bb = 0; bb < %lld; bb++) {\n", (long long)c->KW);
  sm_buf_printf(b, "        float *dp = st + ((i - i0) * %lld + bb) * %lld;\n", (long long)c->KW,
                (long long)SD);
  sm_buf_printf(b, "        for (int64_t r = 0; r < %lld; r++)\n", (long long)Hp);
  sm_buf_printf(b, "          memcpy(dp + r * %lld, pad + r * %lld + bb, %lld * sizeof(float));\n",
                (long long)OWo, (long long)Wp, (long long)OWo);
  if (SD > Hp * OWo)
    sm_buf_printf(b, "        memset(dp + %lld, 0, %lld * sizeof(float));\n",
                  (long long)(Hp * OWo), (long long)(SD - Hp * OWo));
  sm_buf_puts(b, "      }\n    }\n");
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  emit_corr_compute(b, c, 16, 24, 16);
  sm_buf_puts(b, "#else\n");
  emit_corr_compute(b, c, 8, 12, 8);
  sm_buf_puts(b, one_block ? "#endif\n" : "#endif\n    }\n");
  if (c->KWo) {
    emit_corr_columns(b, c, epi);
    return;
  }
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++) {\n", (long long)c->Co);
  sm_buf_printf(b, "      const float bv = %s;\n", c->bias ? "in2[m]" : "0.0f");
  sm_buf_puts(b, "#pragma omp simd\n");
  sm_buf_printf(b, "      for (int64_t q = 0; q < %lld; q++) {\n", (long long)P);
  sm_buf_printf(b, "        const int64_t o = (n * %lld + m) * %lld + q;\n", (long long)c->Co,
                (long long)P);
  sm_buf_printf(b, "        const float acc = sum[m * %lld + q] + bv;\n", (long long)PV);
  if (epi) ew_emit_epilogue_elem(b, 8, epi, "acc", "o", true);
  else sm_buf_puts(b, "        out0[o] = acc;\n");
  sm_buf_puts(b, "      }\n    }\n  }\n");
}

/* The direct correlation of a stride-1, undilated, ungrouped convolution
 * (forward, or its input gradient with grad) with few channels, when its
 * stack buffers stay small; false otherwise. */
bool conv_corr(const ConvSz *z, bool grad, bool bias, Corr *c) {
  const Win *g = &z->g;
  if (z->group != 1 || g->s[0] != 1 || g->s[1] != 1 || g->d[0] != 1 || g->d[1] != 1) return false;
  if (grad) {
    /* dx = full correlation of dy with the flipped kernel: o = c, i = m */
    if (g->pb[0] > z->KH - 1 || g->pe[0] > z->KH - 1 || g->pb[1] > z->KW - 1 ||
        g->pe[1] > z->KW - 1 || z->Cg >= 12)
      return false;
    *c = (Corr){.N = z->N, .Ci = z->M, .Co = z->C, .Hs = z->OH, .Ws = z->OW,
                .pt = z->KH - 1 - g->pb[0], .pl = z->KW - 1 - g->pb[1], .OHo = z->H,
                .OWo = z->W, .KH = z->KH, .KW = z->KW, .wo = z->KH * z->KW,
                .wi = z->C * z->KH * z->KW, .wa = -z->KW, .wb = -1,
                .w0 = z->KH * z->KW - 1, .bias = false};
    /* By columns when that computes a tenth fewer positions: Y[c * KW + b]
     * = the correlation of dy (zero-padded by KH - 1 rows) with the
     * flipped kernel column b, OW wide, summed into dx shifted by b: no
     * products with padding columns (LeNet conv2: 144 positions x 5
     * columns x 5 rows per channel pair against 208 x 25 taps). */
    if (round16((z->OH + z->KH - 1) * z->OW) * 10 < round16(z->H * z->W) * 9)
      *c = (Corr){.N = z->N, .Ci = z->M, .Co = z->C * z->KW, .Hs = z->OH, .Ws = z->OW,
                  .pt = z->KH - 1, .pl = 0, .OHo = z->OH + z->KH - 1, .OWo = z->OW, .KH = z->KH,
                  .KW = 1, .wo = z->KH, .wi = z->C * z->KW * z->KH, .wa = 1, .wb = 0, .w0 = 0,
                  .bias = false, .KWo = z->KW, .H = z->H, .W = z->W, .fpt = g->pb[0],
                  .fpl = g->pb[1]};
  } else {
    if (z->M >= 32 && z->C * z->KH * z->KW >= 64) return false; /* the GEMM form */
    *c = (Corr){.N = z->N, .Ci = z->C, .Co = z->M, .Hs = z->H, .Ws = z->W, .pt = g->pb[0],
                .pl = g->pb[1], .OHo = z->OH, .OWo = z->OW, .KH = z->KH, .KW = z->KW,
                .wo = z->C * z->KH * z->KW, .wi = z->KH * z->KW, .wa = z->KW, .wb = 1,
                .w0 = 0, .bias = bias};
  }
  return c->OWo >= 8 && corr_stack(c) <= 32768;
}

/* A forward convolution's sizes. */
static ConvSz conv_fwd_sz(const IrNode *n, const Win *g) {
  int64_t C = n->in[0]->type.dims[1], M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  return (ConvSz){.g = *g, .N = n->in[0]->type.dims[0], .C = C, .M = M, .Cg = Cg,
                  .Mg = M / (C / Cg), .group = C / Cg, .H = g->in[0], .W = g->in[1],
                  .KH = g->k[0], .KW = g->k[1], .OH = g->out[0], .OW = g->out[1]};
}

/* Whether a forward convolution takes the direct correlation (c filled). */
bool conv_fwd_corr(const IrNode *n, const Win *g, Corr *c) {
  if (n->out[0]->type.dtype != IR_F32 || g->nsp != 2) return false;
  ConvSz z = conv_fwd_sz(n, g);
  return conv_corr(&z, false, n->nin == 3, c);
}

/* Whether a forward convolution's GEMM reads B in place on wide rows
 * (w filled): one image, one group, undilated, not 1x1 (plain at stride 1,
 * a cheap gather else: staging its phase planes measured slower), a
 * staged copy of at most 4M floats. It saves
 * the im2col packing of every column task; strides go through phase
 * planes. */
static bool conv_wide(const ConvSz *z, bool one, GemmWide *w) {
  const Win *g = &z->g;
  if (one || z->N != 1 || z->group != 1 || g->d[0] != 1 || g->d[1] != 1 || z->OW < 8 ||
      z->KH * z->KW == 1)
    return false;
  int64_t sy = g->s[0], sx = g->s[1];
  int64_t Hp = z->OH + (z->KH - 1) / sy, Wp = z->OW + (z->KW - 1) / sx;
  *w = (GemmWide){.x = "in0", .C = z->C, .H = z->H, .W = z->W, .pt = g->pb[0], .pl = g->pb[1],
                  .sy = sy, .sx = sx, .Hp = Hp, .Wp = Wp, .OW = z->OW, .KH = z->KH, .KW = z->KW};
  int64_t ny = sy < z->KH ? sy : z->KH, nx = sx < z->KW ? sx : z->KW;
  return z->C * ny * nx * (Hp * Wp + 2 * Wp + 64) <= (4 << 20);
}

/* The GEMM form of a forward convolution, planned: the product, its
 * operand expressions and B's layout. */
typedef struct ConvGemm {
  GemmCore gc;
  GemmWide wide;
  ConvSz cg;
  char a[96], x[96], y[96], bias[96], coff[64], lead[256];
} ConvGemm;

/* The GEMM form, when the products are big enough (d filled); false
 * otherwise. */
static bool conv_gemm_core(const IrNode *n, const Win *g, const OpEpilogue *epi, ConvGemm *d) {
  if (n->out[0]->type.dtype != IR_F32) return false;
  Corr corr;
  if (conv_fwd_corr(n, g, &corr)) return false;
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  int64_t M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  int64_t group = C / Cg, Mg = M / group;
  int64_t P = g->out[0] * g->out[1], Kc = Cg * g->k[0] * g->k[1], HW = g->in[0] * g->in[1];
  if (Mg < 4 || Kc < 4 || !gemm_core_fits(Mg, P, Kc)) return false;
  bool one = g->k[0] == 1 && g->k[1] == 1 && g->s[0] == 1 && g->s[1] == 1 && g->pb[0] == 0 &&
             g->pb[1] == 0 && g->pe[0] == 0 && g->pe[1] == 0;
  char *a = d->a, *x = d->x, *y = d->y, *bias = d->bias, *coff = d->coff;
  bool batched = N * group > 1;
  if (group > 1) snprintf(a, sizeof d->a, "in1 + t %% %lld * %lld", (long long)group, (long long)(Mg * Kc));
  else snprintf(a, sizeof d->a, "in1");
  snprintf(x, sizeof d->x, batched ? "in0 + t * %lld" : "in0", (long long)(Cg * HW));
  snprintf(y, sizeof d->y, batched ? "out0 + t * %lld" : "out0", (long long)(Mg * P));
  snprintf(coff, sizeof d->coff, batched ? "t * %lld" : "0", (long long)(Mg * P));
  if (group > 1) snprintf(bias, sizeof d->bias, "in2 + t %% %lld * %lld", (long long)group, (long long)Mg);
  else snprintf(bias, sizeof d->bias, "in2");
  d->cg = conv_fwd_sz(n, g);
  snprintf(d->lead, sizeof d->lead, "as GEMM per image%s: [%lld,%lld] x [%lld,%lld]%s; ",
           group > 1 ? " and group" : "", (long long)Mg, (long long)Kc, (long long)Kc,
           (long long)P, one ? " (1x1)" : " (implicit im2col)");
  d->gc = (GemmCore){.M = Mg, .N = P, .K = Kc, .nbatch = N * group, .a = a, .b = x, .c = y,
                      .as_i = Kc, .as_k = 1, .bs_k = HW, .bs_j = 1, .ldc = P, .alpha = 1,
                      .beta = 1, .bias = n->nin == 3 ? bias : NULL, .bias_si = 1, .bias_sj = 0,
                      .pack_b = one ? NULL : conv_pack_im2col, .user = &d->cg, .epi = epi,
                      .c_off = coff};
  if (conv_wide(&d->cg, one, &d->wide)) {
    d->gc.wide = &d->wide;
    d->gc.N = g->out[0] * d->wide.Wp;
    d->gc.pack_b = NULL;
  }
  return true;
}

bool conv_emit_gemm(SmBuf *b, const IrNode *n, const Win *g, const OpEpilogue *epi) {
  ConvGemm d;
  if (!conv_gemm_core(n, g, epi, &d)) return false;
  attrs_comment(b, d.lead, g);
  if (d.gc.wide) sm_buf_puts(b, "  /* B read in place on wide rows (one image) */\n");
  gemm_core_write(b, &d.gc);
  return true;
}

/* The forward convolution's plan, alone or with an epilogue. */
static void conv_plan(const IrNode *n, const OpEpilogue *e, CgKernelPlan *p) {
  if (ir_numel(&n->out[0]->type) == 0) return;
  Win g;
  conv_win(n, &g);
  Corr corr;
  ConvGemm d;
  if (conv_fwd_corr(n, &g, &corr)) p->form = "direct correlation on shifted planes";
  else if (conv_gemm_core(n, &g, e, &d))
    gemm_plan_kernel(p, &d.gc, d.gc.wide ? "GEMM, B on wide rows" : "GEMM, implicit im2col");
}

/* Per output plane (n, m): initialize with the bias, then for each input
 * channel and kernel tap add wv * (shifted input row) into the output rows
 * the tap reaches, so the innermost loop runs along output width. */
static void conv_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  Win g;
  conv_win(n, &g);
  Corr corr;
  if (conv_fwd_corr(n, &g, &corr)) {
    emit_corr(b, &corr, NULL);
    return;
  }
  if (conv_emit_gemm(b, n, &g, NULL)) return;
  const char *T = ctype(n);
  int64_t N = n->in[0]->type.dims[0], C = n->in[0]->type.dims[1];
  int64_t M = n->in[1]->type.dims[0], Cg = n->in[1]->type.dims[1];
  int64_t group = C / Cg, Mg = M / group;
  int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  /* a 1-D conv (or height 1 everywhere) needs no row loops */
  bool flat = H == 1 && KH == 1 && OH == 1 && g.pb[0] == 0;
  int64_t *lo = sm_xmalloc(sizeof(int64_t) * (size_t)(KH + KW) * 2);
  int64_t *hi = lo + KH + KW, *wlo = lo + KH, *whi = hi + KH;
  bool hclip = !flat && tap_ranges(&g, 0, lo, hi);
  bool wclip = tap_ranges(&g, 1, wlo, whi);
  char lead[64];
  snprintf(lead, sizeof lead, "group %lld, ", (long long)group);
  attrs_comment(b, lead, &g);
  if (hclip) emit_tables(b, "oh0", "oh1", lo, hi, KH);
  if (wclip) emit_tables(b, "ow0", "ow1", wlo, whi, KW);
  free(lo);
  char ix[128];
  emit_omp_for(b, sat_mul(ir_numel(&n->out[0]->type), Cg * KH * KW), "collapse(2)");
  sm_buf_printf(b, "  for (int64_t n = 0; n < %lld; n++)\n", (long long)N);
  sm_buf_printf(b, "    for (int64_t m = 0; m < %lld; m++) {\n", (long long)M);
  sm_buf_printf(b, "      %s *y = out0 + (n * %lld + m) * %lld;\n", T, (long long)M,
                (long long)(OH * OW));
  sm_buf_printf(b, "      for (int64_t i = 0; i < %lld; i++) y[i] = ", (long long)(OH * OW));
  if (n->nin == 3) {
    sm_buf_puts(b, "in2[m];\n");
  } else {
    lit(b, n, 0);
    sm_buf_puts(b, ";\n");
  }
  sm_buf_printf(b, "      for (int64_t c = 0; c < %lld; c++) {\n", (long long)Cg);
  if (group == 1)
    sm_buf_printf(b, "        const %s *xc = in0 + (n * %lld + c) * %lld;\n", T,
                  (long long)C, (long long)(H * W));
  else
    sm_buf_printf(b, "        const %s *xc = in0 + (n * %lld + m / %lld * %lld + c) * %lld;\n",
                  T, (long long)C, (long long)Mg, (long long)Cg, (long long)(H * W));
  sm_buf_printf(b, "        const %s *wc = in1 + (m * %lld + c) * %lld;\n", T, (long long)Cg,
                (long long)(KH * KW));
  int ind = 8;
  const char *yr = "y", *xr = "xc", *wix = "kw";
  char wbuf[64];
  if (!flat) {
    sm_buf_printf(b, "        for (int64_t kh = 0; kh < %lld; kh++)\n", (long long)KH);
    if (hclip)
      sm_buf_puts(b, "          for (int64_t oh = oh0[kh]; oh < oh1[kh]; oh++) {\n");
    else
      sm_buf_printf(b, "          for (int64_t oh = 0; oh < %lld; oh++) {\n", (long long)OH);
    sm_buf_printf(b, "            %s *yr = y + oh * %lld;\n", T, (long long)OW);
    sm_buf_printf(b, "            const %s *xr = xc + (%s) * %lld;\n", T,
                  affine(ix, sizeof ix, g.s[0], "oh", g.d[0], "kh", -g.pb[0]), (long long)W);
    yr = "yr", xr = "xr";
    snprintf(wbuf, sizeof wbuf, "kh * %lld + kw", (long long)KW);
    wix = wbuf;
    ind = 12;
  }
  sm_buf_printf(b, "%*sfor (int64_t kw = 0; kw < %lld; kw++) {\n", ind, "", (long long)KW);
  sm_buf_printf(b, "%*sconst %s wv = wc[%s];\n", ind + 2, "", T, wix);
  if (wclip)
    sm_buf_printf(b, "%*sfor (int64_t ow = ow0[kw]; ow < ow1[kw]; ow++)\n", ind + 2, "");
  else
    sm_buf_printf(b, "%*sfor (int64_t ow = 0; ow < %lld; ow++)\n", ind + 2, "", (long long)OW);
  sm_buf_printf(b, "%*s%s[ow] += wv * %s[%s];\n", ind + 4, "", yr, xr,
                affine(ix, sizeof ix, g.s[1], "ow", g.d[1], "kw", -g.pb[1]));
  sm_buf_printf(b, "%*s}\n", ind, "");
  if (!flat) sm_buf_puts(b, "          }\n");
  sm_buf_puts(b, "      }\n    }\n");
}

static bool conv_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  Corr corr;
  Win g;
  conv_win(n, &g);
  if (conv_fwd_corr(n, &g, &corr)) {
    emit_corr(b, &corr, e);
    return true;
  }
  return conv_emit_gemm(b, n, &g, e);
}

static double conv_flops(const IrNode *n) {
  return conv_flops_of(&n->out[0]->type, &n->in[1]->type);
}

/* ---- the kernel generators of conv ---- */

#define CONV_KERNEL                                                                         \
  {.emit = conv_emit, .plan = conv_plan, .epilogue = true, .emit_fused = conv_emit_fused,  \
   .flops = conv_flops}
const CgOpKernel cgk_conv2d = CONV_KERNEL;
const CgOpKernel cgk_conv1d = CONV_KERNEL;
