/* Sequence ops (ir/ops/seq.c): embedding, layernorm, groupnorm,
 * instancenorm, rnn, lstm, gru, attention, multihead_attention, stack,
 * positional_encoding.
 *
 * The oracle for the composites is an independent implementation in this
 * file: plain C loops written from the PyTorch documentation's equations
 * (torch.nn.RNN/LSTM/GRU, LayerNorm, GroupNorm, scaled_dot_product_attention,
 * MultiheadAttention), run on the same numbers as the reference interpreter
 * (which executes the expansion, f64 so the comparison is tight). Then the
 * generated code against the interpreter on odd shapes (opcheck), and
 * shape-rule diagnostics with line:col. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/opcheck.h"

#include "frontend/frontend.h"

/* ---- running the interpreter on chosen numbers ---- */


static void free_run(IrGraph *g, IrTensor *out) {
  for (int i = 0; i < g->noutputs; i++) ir_tensor_free(&out[i]);
  ir_graph_free(g);
}

static void expect_near(const char *what, const IrTensor *got, const double *want, int64_t n,
                        double tol) {
  assert_int_equal(got->numel, n);
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got->d[i] - want[i]) <= tol * (1 + fabs(want[i])))) {
      print_error("%s[%lld]: got %.17g, want %.17g\n", what, (long long)i, got->d[i], want[i]);
      fail();
    }
}

/* deterministic values in [lo, hi) */
static double *vals(int64_t n, uint64_t seed, double lo, double hi) {
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = lo + (hi - lo) * (double)(s >> 11) / 9007199254740992.0;
  }
  return v;
}

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* ======================================================================
 * embedding
 * ====================================================================== */

static void embedding_values(void **state) {
  (void)state;
  /* table rows r = [10r, 10r+1, 10r+2]; ids include -1 and 4 (= V): zeros */
  double ids[6] = {2, 0, -1, 3, 4, 2}, table[12];
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < 3; j++) table[r * 3 + j] = 10 * r + j;
  double *ins[] = {ids}, *prm[] = {table};
  IrTensor out[1];
  IrGraph *g = interpret_text("input ids: i64[2,3]\nparam t: f64[4,3] = zeros\n"
                   "y: f64[2,3,3] = embedding(ids, t)\noutput y\n",
                   ins, prm, out);
  double want[18] = {20, 21, 22, 0, 1, 2, 0, 0, 0, 30, 31, 32, 0, 0, 0, 20, 21, 22};
  expect_near("embedding", &out[0], want, 18, 0);
  free_run(g, out);
  /* the backward op: repeated ids accumulate, out-of-range ids are dropped */
  double dy[18];
  for (int i = 0; i < 18; i++) dy[i] = i + 1;
  double *ins2[] = {ids, dy};
  g = interpret_text("input ids: i64[2,3]\ninput dy: f64[2,3,3]\n"
          "dt: f64[4,3] = embedding_grad(ids, dy, vocab=4)\noutput dt\n",
          ins2, NULL, out);
  /* row 0 <- position 1; row 2 <- positions 0 and 5; row 3 <- position 3 */
  double wantg[12] = {4, 5, 6, 0, 0, 0, 1 + 16, 2 + 17, 3 + 18, 10, 11, 12};
  expect_near("embedding_grad", &out[0], wantg, 12, 0);
  free_run(g, out);
}

static void opcheck_embedding(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_ints(-2, 9); /* some ids out of range on both sides */
  opcheck_opts("input a: i64[5]\nparam ta: f32[7,3] = normal(1)\n"
               "ya: f32[5,3] = embedding(a, ta)\n"
               "input b: i32[3,7]\nparam tb: f32[9,5] = normal(1)\n"
               "yb: f32[3,7,5] = embedding(b, tb)\n"
               "input c: i64[2,3,4]\nparam tc: f64[8,33] = normal(1)\n"
               "yc: f64[2,3,4,33] = embedding(c, tc)\n"
               "input d: i64[64,40]\nparam td: f32[10,24] = normal(1)\n" /* parallel */
               "yd = embedding(d, td)\n"
               "input e: i64[5]\ninput dye: f32[5,3]\n"
               "ge: f32[7,3] = embedding_grad(e, dye, vocab=7)\n"
               "input f: i32[3,7]\ninput dyf: f32[3,7,37]\n"
               "gf: f32[6,37] = embedding_grad(f, dyf, vocab=6)\n"
               "output ya, yb, yc, yd, ge, gf\n",
               &o);
  /* 2560 lookups into 10 rows: each result is an f32 sum of ~256 terms in
   * [-2, 2) (magnitude ~30), so rounding alone reaches ~1e-5 absolute */
  o.atol = 5e-5;
  opcheck_opts("input h: i64[64,40]\ninput dyh: f32[64,40,40]\n"
               "gh: f32[10,40] = embedding_grad(h, dyh, vocab=10)\noutput gh\n",
               &o);
}

/* ======================================================================
 * layernorm, groupnorm, instancenorm
 * ====================================================================== */

/* normalize rows of `inner` elements; scale/bias indexed by position in
 * the row (layernorm) */
static void ln_oracle(const double *x, int64_t outer, int64_t inner, const double *sc,
                      const double *bi, double eps, double *y) {
  for (int64_t r = 0; r < outer; r++) {
    const double *row = x + r * inner;
    double m = 0, v = 0;
    for (int64_t i = 0; i < inner; i++) m += row[i];
    m /= (double)inner;
    for (int64_t i = 0; i < inner; i++) v += (row[i] - m) * (row[i] - m);
    v /= (double)inner;
    for (int64_t i = 0; i < inner; i++)
      y[r * inner + i] = (row[i] - m) / sqrt(v + eps) * sc[i] + bi[i];
  }
}

static void layernorm_values(void **state) {
  (void)state;
  /* axis -1 on [3,5] and axis 1 on [2,3,4] (normalized shape [3,4]) */
  double *x = vals(15, 1, -3, 3), *s = vals(5, 2, 0.5, 2), *b = vals(5, 3, -1, 1), want[24];
  double *ins[] = {x}, *prm[] = {s, b};
  IrTensor out[1];
  IrGraph *g = interpret_text("input x: f64[3,5]\nparam s: f64[5] = ones\nparam b: f64[5] = zeros\n"
                   "y: f64[3,5] = layernorm(x, s, b)\noutput y\n",
                   ins, prm, out);
  ln_oracle(x, 3, 5, s, b, 1e-5, want);
  expect_near("layernorm", &out[0], want, 15, 1e-12);
  free_run(g, out);
  free(x), free(s), free(b);
  x = vals(24, 4, -2, 5), s = vals(12, 5, 0.5, 2), b = vals(12, 6, -1, 1);
  double *ins2[] = {x}, *prm2[] = {s, b};
  g = interpret_text("input x: f64[2,3,4]\nparam s: f64[3,4] = ones\nparam b: f64[3,4] = zeros\n"
          "y = layernorm(x, s, b, axis=1, epsilon=0.1)\noutput y\n",
          ins2, prm2, out);
  ln_oracle(x, 2, 12, s, b, 0.1, want);
  expect_near("layernorm axis=1", &out[0], want, 24, 1e-12);
  free_run(g, out);
  free(x), free(s), free(b);
}

/* x [N, C, L]: groups of C/G channels */
static void gn_oracle(const double *x, int64_t N, int64_t C, int64_t L, int64_t G,
                      const double *sc, const double *bi, double eps, double *y) {
  int64_t cg = C / G;
  for (int64_t n = 0; n < N; n++)
    for (int64_t gi = 0; gi < G; gi++) {
      const double *p = x + (n * C + gi * cg) * L;
      int64_t cnt = cg * L;
      double m = 0, v = 0;
      for (int64_t i = 0; i < cnt; i++) m += p[i];
      m /= (double)cnt;
      for (int64_t i = 0; i < cnt; i++) v += (p[i] - m) * (p[i] - m);
      v /= (double)cnt;
      for (int64_t i = 0; i < cnt; i++) {
        int64_t c = gi * cg + i / L;
        y[(n * C + gi * cg) * L + i] = (p[i] - m) / sqrt(v + eps) * sc[c] + bi[c];
      }
    }
}

static void groupnorm_values(void **state) {
  (void)state;
  /* [2,6,2,3] in 3 groups (L = 6 spatial positions), and instancenorm */
  double *x = vals(72, 7, -2, 4), *s = vals(6, 8, 0.5, 2), *b = vals(6, 9, -1, 1), want[72];
  double *ins[] = {x}, *prm[] = {s, b};
  IrTensor out[1];
  IrGraph *g = interpret_text("input x: f64[2,6,2,3]\nparam s: f64[6] = ones\nparam b: f64[6] = zeros\n"
                   "y: f64[2,6,2,3] = groupnorm(x, s, b, groups=3)\noutput y\n",
                   ins, prm, out);
  gn_oracle(x, 2, 6, 6, 3, s, b, 1e-5, want);
  expect_near("groupnorm", &out[0], want, 72, 1e-12);
  free_run(g, out);
  g = interpret_text("input x: f64[2,6,6]\nparam s: f64[6] = ones\nparam b: f64[6] = zeros\n"
          "y: f64[2,6,6] = instancenorm(x, s, b, epsilon=0.01)\noutput y\n",
          ins, prm, out);
  gn_oracle(x, 2, 6, 6, 6, s, b, 0.01, want);
  expect_near("instancenorm", &out[0], want, 72, 1e-12);
  free_run(g, out);
  /* groupnorm on [N, C] (no spatial dims), one group: layernorm over C */
  g = interpret_text("input x: f64[12,6]\nparam s: f64[6] = ones\nparam b: f64[6] = zeros\n"
          "y = groupnorm(x, s, b, groups=1)\noutput y\n",
          ins, prm, out);
  ln_oracle(x, 12, 6, s, b, 1e-5, want);
  expect_near("groupnorm 2-D", &out[0], want, 72, 1e-12);
  free_run(g, out);
  free(x), free(s), free(b);
}

static void opcheck_norms(void **state) {
  (void)state;
  opcheck("input a: f32[3,7]\nparam sa: f32[7] = uniform(0.5, 1.5)\n"
          "param ba: f32[7] = uniform(-1, 1)\nya = layernorm(a, sa, ba)\n"
          "input b: f32[2,5,3,3]\nparam sb: f32[3,3] = uniform(0.5, 1.5)\n"
          "param bb: f32[3,3] = uniform(-1, 1)\nyb = layernorm(b, sb, bb, axis=2)\n"
          "input c: f32[1,1,33]\nparam sc: f32[33] = ones\nparam bc: f32[33] = zeros\n"
          "yc = layernorm(c, sc, bc, epsilon=0.001)\n"
          "input d: f32[2,6,5]\nparam sd: f32[6] = uniform(0.5, 1.5)\n"
          "param bd: f32[6] = uniform(-1, 1)\nyd = groupnorm(d, sd, bd, groups=2)\n"
          "input e: f32[3,9,3,5]\nparam se: f32[9] = uniform(0.5, 1.5)\n"
          "param be: f32[9] = uniform(-1, 1)\nye = groupnorm(e, se, be, groups=3)\n"
          "input f: f32[1,4,7]\nparam sf: f32[4] = ones\nparam bf: f32[4] = zeros\n"
          "yf = groupnorm(f, sf, bf, groups=4)\n"
          "input h: f32[2,3,7]\nparam sh: f32[3] = uniform(0.5, 1.5)\n"
          "param bh: f32[3] = uniform(-1, 1)\nyh = instancenorm(h, sh, bh)\n"
          "input k: f32[3,5,4,3]\nparam sk: f32[5] = uniform(0.5, 1.5)\n"
          "param bk: f32[5] = uniform(-1, 1)\nyk = instancenorm(k, sk, bk)\n"
          "input m: f32[1,1,2,2]\nparam sm: f32[1] = ones\nparam bm: f32[1] = zeros\n"
          "ym = instancenorm(m, sm, bm)\n"
          /* 2-D groupnorm (groups of 2 channels, and of one: y = bias),
           * layernorm over rows of one value, a row count of 64 x 300 */
          "input n: f32[5,6]\nparam sn: f32[6] = uniform(0.5, 1.5)\n"
          "param bn: f32[6] = uniform(-1, 1)\nyn = groupnorm(n, sn, bn, groups=3)\n"
          "yo = groupnorm(n, sn, bn, groups=6)\n"
          "input p: f32[4,1]\nparam sp: f32[1] = ones\nparam bp: f32[1] = zeros\n"
          "yp = layernorm(p, sp, bp)\n"
          "input q: f32[64,300]\nparam sq: f32[300] = uniform(0.5, 1.5)\n"
          "param bq: f32[300] = uniform(-1, 1)\nyq = layernorm(q, sq, bq)\n"
          "output ya, yb, yc, yd, ye, yf, yh, yk, ym, yn, yo, yp, yq\n");
}

/* ======================================================================
 * rnn, lstm, gru
 * ====================================================================== */

enum { RNN, LSTM, GRU };

typedef struct RecCase {
  int cell, D;
  bool bf, states, stacked, relu;
  bool lbr0; /* gru: linear_before_reset=0 (ONNX's default form) */
  int64_t T, N, I, H;
} RecCase;

static int gates_of(int cell) { return cell == LSTM ? 4 : cell == GRU ? 3 : 1; }

/* The PyTorch equations, one batch row and one direction at a time.
 * Weights [D, G*H, I] etc. (D = 1 is the unstacked layout too). */
static void rec_oracle(const RecCase *c, const double *x, const double *wih, const double *whh,
                       const double *bih, const double *bhh, const double *h0, const double *c0,
                       double *y, double *hn, double *cn) {
  int64_t T = c->T, N = c->N, I = c->I, H = c->H, GH = gates_of(c->cell) * H;
  double *gi = malloc(sizeof(double) * (size_t)GH), *gh = malloc(sizeof(double) * (size_t)GH);
  double *h = malloc(sizeof(double) * (size_t)H), *cc = malloc(sizeof(double) * (size_t)H);
  double *nh = malloc(sizeof(double) * (size_t)H);
  for (int d = 0; d < c->D; d++)
    for (int64_t b = 0; b < N; b++) {
      for (int64_t j = 0; j < H; j++) {
        h[j] = h0 ? h0[(d * N + b) * H + j] : 0;
        cc[j] = c0 ? c0[(d * N + b) * H + j] : 0;
      }
      for (int64_t s = 0; s < T; s++) {
        int64_t t = d == 0 ? s : T - 1 - s;
        const double *xt = x + (c->bf ? b * T + t : t * N + b) * I;
        for (int64_t r = 0; r < GH; r++) {
          gi[r] = bih[d * GH + r];
          gh[r] = bhh[d * GH + r];
          for (int64_t k = 0; k < I; k++) gi[r] += wih[(d * GH + r) * I + k] * xt[k];
          for (int64_t k = 0; k < H; k++) gh[r] += whh[(d * GH + r) * H + k] * h[k];
        }
        for (int64_t j = 0; j < H; j++) {
          if (c->cell == RNN) {
            double a = gi[j] + gh[j];
            nh[j] = c->relu ? (a > 0 ? a : 0) : tanh(a);
          } else if (c->cell == LSTM) {
            double ig = sigm(gi[j] + gh[j]), fg = sigm(gi[H + j] + gh[H + j]);
            double gg = tanh(gi[2 * H + j] + gh[2 * H + j]);
            double og = sigm(gi[3 * H + j] + gh[3 * H + j]);
            cc[j] = fg * cc[j] + ig * gg;
            nh[j] = og * tanh(cc[j]);
          } else if (!c->lbr0) {
            double rg = sigm(gi[j] + gh[j]), zg = sigm(gi[H + j] + gh[H + j]);
            double ng = tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
            nh[j] = (1 - zg) * ng + zg * h[j];
          } else {
            /* n = tanh(W_in x + b_in + W_hn (r * h) + b_hn) */
            double zg = sigm(gi[H + j] + gh[H + j]), a = gi[2 * H + j] + bhh[d * GH + 2 * H + j];
            for (int64_t k = 0; k < H; k++)
              a += whh[(d * GH + 2 * H + j) * H + k] * sigm(gi[k] + gh[k]) * h[k];
            nh[j] = (1 - zg) * tanh(a) + zg * h[j];
          }
        }
        memcpy(h, nh, sizeof(double) * (size_t)H);
        for (int64_t j = 0; j < H; j++)
          y[(c->bf ? b * T + t : t * N + b) * c->D * H + d * H + j] = h[j];
      }
      for (int64_t j = 0; j < H; j++) {
        hn[(d * N + b) * H + j] = h[j];
        if (cn) cn[(d * N + b) * H + j] = cc[j];
      }
    }
  free(gi), free(gh), free(h), free(cc), free(nh);
}

static void rec_case(const RecCase *c) {
  static const char *const names[] = {"rnn", "lstm", "gru"};
  int64_t T = c->T, N = c->N, I = c->I, H = c->H, D = c->D, GH = gates_of(c->cell) * H;
  char text[2048], lead[32] = "";
  if (c->stacked) snprintf(lead, sizeof lead, "%lld,", (long long)D);
  int len = snprintf(text, sizeof text, "input x: f64[%lld,%lld,%lld]\n",
                     (long long)(c->bf ? N : T), (long long)(c->bf ? T : N), (long long)I);
  if (c->states) {
    len += snprintf(text + len, sizeof text - (size_t)len, "input h0: f64[%lld,%lld,%lld]\n",
                    (long long)D, (long long)N, (long long)H);
    if (c->cell == LSTM)
      len += snprintf(text + len, sizeof text - (size_t)len, "input c0: f64[%lld,%lld,%lld]\n",
                      (long long)D, (long long)N, (long long)H);
  }
  len += snprintf(text + len, sizeof text - (size_t)len,
                  "param wih: f64[%s%lld,%lld] = zeros\nparam whh: f64[%s%lld,%lld] = zeros\n"
                  "param bih: f64[%s%lld] = zeros\nparam bhh: f64[%s%lld] = zeros\n"
                  "y: f64[%lld,%lld,%lld], hn: f64[%lld,%lld,%lld]%s = %s(x, wih, whh, bih, bhh%s%s"
                  ", batch_first=%d, direction=\"%s\"%s%s)\noutput y, hn%s\n",
                  lead, (long long)GH, (long long)I, lead, (long long)GH, (long long)H, lead,
                  (long long)GH, lead, (long long)GH, (long long)(c->bf ? N : T),
                  (long long)(c->bf ? T : N), (long long)(D * H), (long long)D, (long long)N,
                  (long long)H, c->cell == LSTM ? ", cn" : "", names[c->cell],
                  c->states ? ", h0" : "", c->states && c->cell == LSTM ? ", c0" : "", c->bf,
                  D == 2 ? "bidirectional" : "forward", c->relu ? ", activation=\"relu\"" : "",
                  c->lbr0 ? ", linear_before_reset=0" : "", c->cell == LSTM ? ", cn" : "");
  assert_true(len < (int)sizeof text);
  double *x = vals(T * N * I, 11, -1, 1), *h0 = vals(D * N * H, 12, -1, 1);
  double *c0 = vals(D * N * H, 13, -1, 1);
  double *wih = vals(D * GH * I, 14, -0.8, 0.8), *whh = vals(D * GH * H, 15, -0.8, 0.8);
  double *bih = vals(D * GH, 16, -0.5, 0.5), *bhh = vals(D * GH, 17, -0.5, 0.5);
  double *ins[3] = {x, h0, c0}, *prm[4] = {wih, whh, bih, bhh};
  IrTensor out[3];
  IrGraph *g = interpret_text(text, ins, prm, out);
  double *y = calloc((size_t)(T * N * D * H), sizeof *y);
  double *hn = calloc((size_t)(D * N * H), sizeof *hn), *cn = calloc((size_t)(D * N * H), sizeof *cn);
  rec_oracle(c, x, wih, whh, bih, bhh, c->states ? h0 : NULL, c->states ? c0 : NULL, y, hn,
             c->cell == LSTM ? cn : NULL);
  expect_near("y", &out[0], y, T * N * D * H, 1e-12);
  expect_near("h_n", &out[1], hn, D * N * H, 1e-12);
  if (c->cell == LSTM) expect_near("c_n", &out[2], cn, D * N * H, 1e-12);
  free_run(g, out);
  free(x), free(h0), free(c0), free(wih), free(whh), free(bih), free(bhh);
  free(y), free(hn), free(cn);
}

/* a single step by hand: LSTM with H = 1, I = 1, T = 1, N = 1 */
static void lstm_single_step_by_hand(void **state) {
  (void)state;
  /* gates i f g o: w_ih = [0.5, -0.25, 1, 2], w_hh = [0.1, 0.2, 0.3, 0.4],
   * b_ih = [0, 0.5, 0, -1], b_hh = [0.25, 0, -0.5, 0], x = 0.8, h0 = -0.5,
   * c0 = 2 */
  double x = 0.8, h0 = -0.5, c0 = 2;
  double wih[4] = {0.5, -0.25, 1, 2}, whh[4] = {0.1, 0.2, 0.3, 0.4};
  double bih[4] = {0, 0.5, 0, -1}, bhh[4] = {0.25, 0, -0.5, 0};
  double i = sigm(0.5 * 0.8 + 0.1 * -0.5 + 0.25), f = sigm(-0.25 * 0.8 + 0.2 * -0.5 + 0.5);
  double gg = tanh(1 * 0.8 + 0.3 * -0.5 - 0.5), o = sigm(2 * 0.8 + 0.4 * -0.5 - 1);
  double c = f * 2 + i * gg, h = o * tanh(c);
  double *ins[] = {&x, &h0, &c0}, *prm[] = {wih, whh, bih, bhh};
  IrTensor out[3];
  IrGraph *g = interpret_text("input x: f64[1,1,1]\ninput h0: f64[1,1,1]\ninput c0: f64[1,1,1]\n"
                   "param wih: f64[4,1] = zeros\nparam whh: f64[4,1] = zeros\n"
                   "param bih: f64[4] = zeros\nparam bhh: f64[4] = zeros\n"
                   "y, hn, cn = lstm(x, wih, whh, bih, bhh, h0, c0)\noutput y, hn, cn\n",
                   ins, prm, out);
  expect_near("y", &out[0], &h, 1, 1e-15);
  expect_near("h_n", &out[1], &h, 1, 1e-15);
  expect_near("c_n", &out[2], &c, 1, 1e-15);
  free_run(g, out);
  /* GRU, same numbers with gates r z n (first 3 rows) */
  double r = sigm(0.5 * 0.8 + 0 + 0.1 * -0.5 + 0.25), z = sigm(-0.25 * 0.8 + 0.5 + 0.2 * -0.5);
  double n = tanh(1 * 0.8 + 0 + r * (0.3 * -0.5 - 0.5)), hg = (1 - z) * n + z * -0.5;
  g = interpret_text("input x: f64[1,1,1]\ninput h0: f64[1,1,1]\n"
          "param wih: f64[3,1] = zeros\nparam whh: f64[3,1] = zeros\n"
          "param bih: f64[3] = zeros\nparam bhh: f64[3] = zeros\n"
          "y, hn = gru(x, wih, whh, bih, bhh, h0)\noutput y, hn\n",
          ins, prm, out);
  expect_near("gru y", &out[0], &hg, 1, 1e-15);
  free_run(g, out);
  /* RNN relu: max(0, 0.5*0.8 + 0.1*-0.5 + 0 + 0.25) */
  double hr = 0.5 * 0.8 + 0.1 * -0.5 + 0.25;
  g = interpret_text("input x: f64[1,1,1]\ninput h0: f64[1,1,1]\n"
          "param wih: f64[1,1] = zeros\nparam whh: f64[1,1] = zeros\n"
          "param bih: f64[1] = zeros\nparam bhh: f64[1] = zeros\n"
          "y, hn = rnn(x, wih, whh, bih, bhh, h0, activation=\"relu\")\noutput y, hn\n",
          ins, prm, out);
  expect_near("rnn y", &out[0], &hr, 1, 1e-15);
  free_run(g, out);
}

static void rnn_values(void **state) {
  (void)state;
  rec_case(&(RecCase){.cell = RNN, .D = 1, .T = 4, .N = 2, .I = 3, .H = 5});
  rec_case(&(RecCase){.cell = RNN, .D = 1, .T = 3, .N = 3, .I = 2, .H = 4, .relu = true,
                      .states = true, .bf = true});
  rec_case(&(RecCase){.cell = RNN, .D = 2, .T = 5, .N = 1, .I = 3, .H = 2, .stacked = true});
}

static void lstm_values(void **state) {
  (void)state;
  rec_case(&(RecCase){.cell = LSTM, .D = 1, .T = 4, .N = 2, .I = 3, .H = 5});
  rec_case(&(RecCase){.cell = LSTM, .D = 1, .T = 3, .N = 3, .I = 2, .H = 4, .states = true,
                      .stacked = true});
  rec_case(&(RecCase){.cell = LSTM, .D = 2, .T = 5, .N = 2, .I = 3, .H = 3, .stacked = true,
                      .bf = true, .states = true});
  rec_case(&(RecCase){.cell = LSTM, .D = 2, .T = 1, .N = 1, .I = 1, .H = 1, .stacked = true});
}

static void gru_values(void **state) {
  (void)state;
  rec_case(&(RecCase){.cell = GRU, .D = 1, .T = 4, .N = 2, .I = 3, .H = 5});
  rec_case(&(RecCase){.cell = GRU, .D = 1, .T = 3, .N = 3, .I = 2, .H = 4, .states = true,
                      .bf = true});
  rec_case(&(RecCase){.cell = GRU, .D = 2, .T = 5, .N = 2, .I = 4, .H = 3, .stacked = true,
                      .states = true});
  rec_case(&(RecCase){.cell = GRU, .D = 1, .T = 4, .N = 2, .I = 3, .H = 5, .lbr0 = true});
  rec_case(&(RecCase){.cell = GRU, .D = 2, .T = 3, .N = 3, .I = 2, .H = 4, .stacked = true,
                      .states = true, .bf = true, .lbr0 = true});
}

/* more than 16 steps: the outputs are concatenated by a tree of concats */
static void lstm_long_sequence(void **state) {
  (void)state;
  rec_case(&(RecCase){.cell = LSTM, .D = 2, .T = 37, .N = 2, .I = 2, .H = 2, .stacked = true});
}

static void opcheck_recurrent(void **state) {
  (void)state;
  OpcheckOpts o = opcheck_range(-1, 1);
  opcheck_opts(
      "input xa: f32[5,3,4]\nparam a1: f32[7,4] = uniform(-0.5, 0.5)\n"
      "param a2: f32[7,7] = uniform(-0.5, 0.5)\nparam a3: f32[7] = uniform(-0.5, 0.5)\n"
      "param a4: f32[7] = uniform(-0.5, 0.5)\nya, ha = rnn(xa, a1, a2, a3, a4)\n"
      "input xb: f32[2,3,3]\ninput hb: f32[2,2,5]\nparam b1: f32[2,5,3] = uniform(-0.5, 0.5)\n"
      "param b2: f32[2,5,5] = uniform(-0.5, 0.5)\nparam b3: f32[2,5] = uniform(-0.5, 0.5)\n"
      "param b4: f32[2,5] = uniform(-0.5, 0.5)\n"
      "yb, hbn = rnn(xb, b1, b2, b3, b4, hb, activation=\"relu\", batch_first=1, "
      "direction=\"bidirectional\")\n"
      "input xc: f32[4,3,5]\nparam c1: f32[12,5] = uniform(-0.5, 0.5)\n"
      "param c2: f32[12,3] = uniform(-0.5, 0.5)\nparam c3: f32[12] = uniform(-0.5, 0.5)\n"
      "param c4: f32[12] = uniform(-0.5, 0.5)\nyc, hc, cc = lstm(xc, c1, c2, c3, c4)\n"
      "input xd: f32[1,3,2]\ninput hd: f32[2,1,5]\ninput cd: f32[2,1,5]\n"
      "param d1: f32[2,20,2] = uniform(-0.5, 0.5)\nparam d2: f32[2,20,5] = uniform(-0.5, 0.5)\n"
      "param d3: f32[2,20] = uniform(-0.5, 0.5)\nparam d4: f32[2,20] = uniform(-0.5, 0.5)\n"
      "yd, hdn, cdn = lstm(xd, d1, d2, d3, d4, hd, cd, batch_first=1, "
      "direction=\"bidirectional\")\n"
      "input xe: f32[3,7,3]\nparam e1: f32[33,3] = uniform(-0.5, 0.5)\n"
      "param e2: f32[33,11] = uniform(-0.5, 0.5)\nparam e3: f32[33] = uniform(-0.5, 0.5)\n"
      "param e4: f32[33] = uniform(-0.5, 0.5)\nye, he = gru(xe, e1, e2, e3, e4)\n"
      "input xf: f32[2,5,4]\ninput hf: f32[2,2,3]\nparam f1: f32[2,9,4] = uniform(-0.5, 0.5)\n"
      "param f2: f32[2,9,3] = uniform(-0.5, 0.5)\nparam f3: f32[2,9] = uniform(-0.5, 0.5)\n"
      "param f4: f32[2,9] = uniform(-0.5, 0.5)\n"
      "yf, hfn = gru(xf, f1, f2, f3, f4, hf, batch_first=1, direction=\"bidirectional\")\n"
      "yg, hgn = gru(xf, f1, f2, f3, f4, hf, batch_first=1, direction=\"bidirectional\", "
      "linear_before_reset=0)\n"
      "output ya, ha, yb, hbn, yc, hc, cc, yd, hdn, cdn, ye, he, yf, hfn, yg, hgn\n",
      &o);
}

/* ======================================================================
 * attention, multihead_attention
 * ====================================================================== */

/* q [BH, T, dk], k [BH, S, dk], v [BH, S, dv], mask [T, S] or NULL */
static void att_oracle(const double *q, const double *k, const double *v, const double *mask,
                       bool causal, double scale, int64_t BH, int64_t T, int64_t S, int64_t dk,
                       int64_t dv, double *o) {
  double *p = malloc(sizeof(double) * (size_t)S);
  for (int64_t b = 0; b < BH; b++)
    for (int64_t i = 0; i < T; i++) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < S; j++) {
        double s = 0;
        for (int64_t c = 0; c < dk; c++) s += q[(b * T + i) * dk + c] * k[(b * S + j) * dk + c];
        s *= scale;
        if (mask) s += mask[i * S + j];
        if (causal && j > i) s += -1e9;
        p[j] = s;
        if (s > mx) mx = s;
      }
      for (int64_t j = 0; j < S; j++) sum += p[j] = exp(p[j] - mx);
      for (int64_t c = 0; c < dv; c++) {
        double acc = 0;
        for (int64_t j = 0; j < S; j++) acc += p[j] / sum * v[(b * S + j) * dv + c];
        o[(b * T + i) * dv + c] = acc;
      }
    }
  free(p);
}

static void attention_values(void **state) {
  (void)state;
  /* [B=2, T=3, d=4] with a [3,5] additive mask against S=5 keys, dv=2 */
  double *q = vals(24, 21, -1, 1), *k = vals(40, 22, -1, 1), *v = vals(20, 23, -2, 2);
  double *m = vals(15, 24, -3, 0), want[64];
  m[3] = -1e9; /* query 0 never sees key 3 */
  double *ins[] = {q, k, v, m};
  IrTensor out[1];
  IrGraph *g = interpret_text("input q: f64[2,3,4]\ninput k: f64[2,5,4]\ninput v: f64[2,5,2]\n"
                   "input m: f64[3,5]\ny: f64[2,3,2] = attention(q, k, v, m)\noutput y\n",
                   ins, NULL, out);
  att_oracle(q, k, v, m, false, 0.5, 2, 3, 5, 4, 2, want);
  expect_near("attention", &out[0], want, 12, 1e-12);
  free_run(g, out);
  /* [B=1, H=2, T=4, d=3], causal, explicit scale */
  double *ins2[] = {q, k, v};
  g = interpret_text("input q: f64[1,2,4,3]\ninput k: f64[1,2,4,3]\ninput v: f64[1,2,4,2]\n"
          "y: f64[1,2,4,2] = attention(q, k, v, causal=1, scale=0.7)\noutput y\n",
          ins2, NULL, out);
  att_oracle(q, k, v, NULL, true, 0.7, 2, 4, 4, 3, 2, want);
  expect_near("causal attention", &out[0], want, 16, 1e-12);
  /* causal: the first query attends to the first key only */
  assert_true(fabs(out[0].d[0] - v[0]) < 1e-12 && fabs(out[0].d[1] - v[1]) < 1e-12);
  free_run(g, out);
  free(q), free(k), free(v), free(m);
}

static void mha_values(void **state) {
  (void)state;
  enum { B = 2, T = 3, E = 6, NH = 3, DH = 2 };
  double *x = vals(B * T * E, 31, -1, 1), *w = vals(3 * E * E, 32, -0.5, 0.5);
  double *bq = vals(3 * E, 33, -0.5, 0.5), *wo = vals(E * E, 34, -0.5, 0.5);
  double *bo = vals(E, 35, -0.5, 0.5);
  double *ins[] = {x}, *prm[] = {w, bq, wo, bo};
  IrTensor out[1];
  IrGraph *g = interpret_text("input x: f64[2,3,6]\nparam w: f64[18,6] = zeros\nparam bq: f64[18] = zeros\n"
                   "param wo: f64[6,6] = zeros\nparam bo: f64[6] = zeros\n"
                   "y: f64[2,3,6] = multihead_attention(x, w, bq, wo, bo, heads=3, causal=1)\n"
                   "output y\n",
                   ins, prm, out);
  /* projections, heads split as [B, NH, T, DH], attention, merge, out_proj */
  double qkv[B * T * 3 * E], hq[3][B * NH * T * DH], att[B * NH * T * DH], mrg[B * T * E];
  double want[B * T * E];
  for (int r = 0; r < B * T; r++)
    for (int o = 0; o < 3 * E; o++) {
      double s = bq[o];
      for (int c = 0; c < E; c++) s += x[r * E + c] * w[o * E + c];
      qkv[r * 3 * E + o] = s;
    }
  for (int j = 0; j < 3; j++)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < NH; h++)
        for (int t = 0; t < T; t++)
          for (int c = 0; c < DH; c++)
            hq[j][((b * NH + h) * T + t) * DH + c] = qkv[(b * T + t) * 3 * E + j * E + h * DH + c];
  att_oracle(hq[0], hq[1], hq[2], NULL, true, 1 / sqrt(DH), B * NH, T, T, DH, DH, att);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++)
        for (int c = 0; c < DH; c++)
          mrg[(b * T + t) * E + h * DH + c] = att[((b * NH + h) * T + t) * DH + c];
  for (int r = 0; r < B * T; r++)
    for (int o = 0; o < E; o++) {
      double s = bo[o];
      for (int c = 0; c < E; c++) s += mrg[r * E + c] * wo[o * E + c];
      want[r * E + o] = s;
    }
  expect_near("multihead_attention", &out[0], want, B * T * E, 1e-12);
  free_run(g, out);
  free(x), free(w), free(bq), free(wo), free(bo);
}

static void opcheck_attention(void **state) {
  (void)state;
  opcheck("input qa: f32[2,3,4]\ninput ka: f32[2,5,4]\ninput va: f32[2,5,3]\n"
          "ya = attention(qa, ka, va)\n"
          "input qb: f32[1,3,7,5]\ninput kb: f32[1,3,7,5]\ninput vb: f32[1,3,7,2]\n"
          "yb = attention(qb, kb, vb, causal=1)\n"
          "input qc: f32[3,1,9]\ninput kc: f32[3,2,9]\ninput vc: f32[3,2,9]\n"
          "input mc: f32[3,1,2]\nyc = attention(qc, kc, vc, mc, scale=0.25)\n"
          "input xd: f32[2,5,6]\nparam wd: f32[18,6] = xavier_uniform\n"
          "param bd: f32[18] = uniform(-0.1, 0.1)\nparam od: f32[6,6] = xavier_uniform\n"
          "param pd: f32[6] = uniform(-0.1, 0.1)\ninput md: f32[5,5]\n"
          "yd = multihead_attention(xd, wd, bd, od, pd, md, heads=2)\n"
          "input xe: f32[3,4,9]\nparam we: f32[27,9] = xavier_uniform\n"
          "param be: f32[27] = zeros\nparam oe: f32[9,9] = xavier_uniform\n"
          "param pe: f32[9] = zeros\nye = multihead_attention(xe, we, be, oe, pe, heads=3, causal=1)\n"
          "output ya, yb, yc, yd, ye\n");
}

/* ======================================================================
 * stack, positional_encoding
 * ====================================================================== */

static void stack_and_pe_values(void **state) {
  (void)state;
  double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
  double *ins[] = {a, b};
  IrTensor out[3];
  IrGraph *g = interpret_text("input a: f64[2,3]\ninput b: f64[2,3]\n"
                   "s0: f64[2,2,3] = stack(a, b)\ns1: f64[2,2,3] = stack(a, b, axis=1)\n"
                   "s2: f64[2,3,2] = stack(a, b, axis=-1)\noutput s0, s1, s2\n",
                   ins, NULL, out);
  double w0[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  double w1[12] = {1, 2, 3, 7, 8, 9, 4, 5, 6, 10, 11, 12};
  double w2[12] = {1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12};
  expect_near("stack axis 0", &out[0], w0, 12, 0);
  expect_near("stack axis 1", &out[1], w1, 12, 0);
  expect_near("stack axis -1", &out[2], w2, 12, 0);
  free_run(g, out);
  /* PE[t, 2i] = sin(t / 10000^(2i/E)), PE[t, 2i+1] = cos(same), E = 5 */
  double z[2 * 3 * 5] = {0}, want[30];
  double *ins2[] = {z};
  g = interpret_text("input z: f64[2,3,5]\ny = positional_encoding(z)\noutput y\n", ins2, NULL, out);
  for (int n = 0; n < 2; n++)
    for (int t = 0; t < 3; t++)
      for (int j = 0; j < 5; j++) {
        double f = pow(10000.0, -(double)(j / 2 * 2) / 5.0);
        want[(n * 3 + t) * 5 + j] = j % 2 ? cos(t * f) : sin(t * f);
      }
  expect_near("positional_encoding", &out[0], want, 30, 1e-12);
  assert_true(out[0].d[1] == 1 && out[0].d[5 + 0] == sin(1.0));
  free_run(g, out);
}

static void opcheck_stack_pe(void **state) {
  (void)state;
  opcheck("input a: f32[3,5]\ninput b: f32[3,5]\ninput c: f32[3,5]\n"
          "s0 = stack(a, b, c, axis=1)\ns1 = stack(a, axis=2)\n"
          "input x: f32[2,7,6]\ny = positional_encoding(x)\n"
          "input w: f32[9,3]\nyw = positional_encoding(w)\n"
          "output s0, s1, y, yw\n");
}

/* ======================================================================
 * diagnostics
 * ====================================================================== */

#define REC_HEAD                                                                                 \
  "input x: f32[5,2,3]\nparam wi: f32[16,3] = zeros\nparam wh: f32[16,4] = zeros\n"              \
  "param bi: f32[16] = zeros\nparam bh: f32[16] = zeros\n"

static void recurrent_errors(void **state) {
  (void)state;
  expect_parse_error(REC_HEAD "y, h, c = lstm(x, wi, wh, bi, bh, direction=\"both\")\noutput y\n",
                     "test.smelt:6:11: error: lstm: direction must be \"forward\" or "
                     "\"bidirectional\", got \"both\"",
                     NULL);
  expect_parse_error(REC_HEAD "y, h, c = lstm(x, wi, wh, bi, bh, direction=\"bidirectional\")\n"
                              "output y\n",
                     "test.smelt:6:11: error: lstm: bidirectional weights need a leading "
                     "direction dim of 2: w_ih 'wi' must be [2, 4*H, I], got f32[16,3]",
                     NULL);
  expect_parse_error(REC_HEAD "y, h = gru(x, wi, wh, bi, bh)\noutput y\n",
                     "test.smelt:6:8: error: gru: w_ih 'wi' f32[16,3]: dim 0 must be 3*H for a "
                     "hidden size H >= 1 (gates r, z, n)",
                     NULL);
  expect_parse_error("input x: f32[5,2,3]\nparam wi: f32[12,3] = zeros\nparam wh: f32[12,4] = zeros\n"
                     "param bi: f32[12] = zeros\nparam bh: f32[12] = zeros\n"
                     "y, h = gru(x, wi, wh, bi, bh, linear_before_reset=2)\noutput y\n",
                     "test.smelt:6:8: error: gru: linear_before_reset must be 0 or 1, got 2", NULL);
  expect_parse_error(REC_HEAD "y, h, c = lstm(x, wi, wh, bi, bh, linear_before_reset=0)\noutput y\n",
                     "test.smelt:6:35: error: lstm: unknown attribute 'linear_before_reset'", NULL);
  expect_parse_error(REC_HEAD "y, h = rnn(x, wi, wh, bi, bh)\noutput y\n",
                     "test.smelt:6:8: error: rnn: w_hh 'wh' must be f32[16,16] (H = 16, I = 3, "
                     "D = 1), got f32[16,4]",
                     NULL);
  expect_parse_error(REC_HEAD "input h0: f32[1,2,4]\ny, h, c = lstm(x, wi, wh, bi, bh, h0)\n"
                              "output y\n",
                     "test.smelt:7:11: error: lstm: give both initial states h0 and c0, or "
                     "neither",
                     NULL);
  expect_parse_error(REC_HEAD "input h0: f32[1,3,4]\ninput c0: f32[1,2,4]\n"
                              "y, h, c = lstm(x, wi, wh, bi, bh, h0, c0)\noutput y\n",
                     "test.smelt:8:11: error: lstm: h0 'h0' must be f32[1,2,4] (H = 4, I = 3, "
                     "D = 1), got f32[1,3,4]",
                     NULL);
  expect_parse_error(REC_HEAD "y, h, c = lstm(wi, wi, wh, bi, bh)\noutput y\n",
                     "test.smelt:6:11: error: lstm: expects x [T, N, I], got 'wi' f32[16,3]",
                     NULL);
  expect_parse_error(REC_HEAD "y, h = lstm(x, wi, wh, bi, bh)\noutput y\n",
                     "test.smelt:6:8: error: lstm: produces 3 results, 2 named", NULL);
  expect_parse_error(REC_HEAD "y, h = rnn(x, wi, wh, bi, bh, activation=\"gelu\")\noutput y\n",
                     "test.smelt:6:8: error: rnn: activation must be \"tanh\" or \"relu\", got "
                     "\"gelu\"",
                     NULL);
  expect_parse_error(REC_HEAD "y, h, c = lstm(x, wi, wh, bi, bh, batch_first=2)\noutput y\n",
                     "test.smelt:6:11: error: lstm: batch_first must be 0 or 1, got 2", NULL);
  expect_parse_error("input x: f32[2000,1,1]\nparam a: f32[1,1] = zeros\nparam b: f32[1] = zeros\n"
                     "y, h = rnn(x, a, a, b, b)\noutput y\n",
                     "test.smelt:4:8: error: rnn: sequence length 2000 exceeds 1024 steps (the "
                     "time loop is unrolled)",
                     NULL);
  expect_parse_error("input x: f64[3,2,1]\nparam a: f32[1,1] = zeros\nparam b: f32[1] = zeros\n"
                     "y, h = rnn(x, a, a, b, b)\noutput y\n",
                     "test.smelt:4:8: error: rnn: operand dtypes differ: 'x' is f64, 'a' is f32",
                     NULL);
}

static void other_errors(void **state) {
  (void)state;
  expect_parse_error("input ids: f32[4]\nparam t: f32[5,3] = zeros\ny = embedding(ids, t)\n"
                     "output y\n",
                     "test.smelt:3:5: error: embedding: ids 'ids' must be an integer tensor "
                     "(i64, i32 or u8), got f32[4]",
                     NULL);
  expect_parse_error("input ids: i64[4]\nparam t: f32[15] = zeros\ny = embedding(ids, t)\n"
                     "output y\n",
                     "test.smelt:3:5: error: embedding: table 't' must be 2-D [vocab, dim], "
                     "got f32[15]",
                     NULL);
  expect_parse_error("input ids: i64[4]\ninput dy: f32[4,3]\ny = embedding_grad(ids, dy, "
                     "vocab=0)\noutput y\n",
                     "test.smelt:3:5: error: embedding_grad: vocab must be in [1, 2^40], got 0",
                     NULL);
  expect_parse_error("input ids: i64[4]\ninput dy: f32[5,3]\ny = embedding_grad(ids, dy, "
                     "vocab=3)\noutput y\n",
                     "test.smelt:3:5: error: embedding_grad: dy 'dy' must be the ids' shape plus "
                     "a row dim: ids i64[4], dy f32[5,3]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\nparam s: f32[4] = ones\nparam b: f32[4] = zeros\n"
                     "y = layernorm(x, s, b, axis=1)\noutput y\n",
                     "test.smelt:4:5: error: layernorm: scale 's' must be f32[3,4], got f32[4]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\nparam s: f32[4] = ones\nparam b: f32[4] = zeros\n"
                     "y = layernorm(x, s, b, axis=3)\noutput y\n",
                     "test.smelt:4:5: error: layernorm: axis 3 is out of range for x 'x' "
                     "f32[2,3,4]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\nparam s: f32[4] = ones\nparam b: f32[4] = zeros\n"
                     "y = layernorm(x, s, b, epsilon=-1)\noutput y\n",
                     "test.smelt:4:5: error: layernorm: epsilon must be finite and "
                     "non-negative, got -1",
                     NULL);
  expect_parse_error("input x: f32[2,6,4]\nparam s: f32[6] = ones\nparam b: f32[6] = zeros\n"
                     "y = groupnorm(x, s, b, groups=4)\noutput y\n",
                     "test.smelt:4:5: error: groupnorm: groups 4 must be positive and divide "
                     "the 6 channels of 'x' f32[2,6,4]",
                     NULL);
  expect_parse_error("input x: f32[2,6,4]\nparam s: f32[6] = ones\nparam b: f32[6] = zeros\n"
                     "y = groupnorm(x, s, b)\noutput y\n",
                     "test.smelt:4:5: error: groupnorm: missing required attribute 'groups'",
                     NULL);
  expect_parse_error("input x: f32[2,6]\nparam s: f32[6] = ones\nparam b: f32[6] = zeros\n"
                     "y = instancenorm(x, s, b)\noutput y\n",
                     "test.smelt:4:5: error: instancenorm: expects x [N, C, L...] of rank at "
                     "least 3, got 'x' f32[2,6]",
                     NULL);
  expect_parse_error("input x: f32[2,6,3]\nparam s: f32[5] = ones\nparam b: f32[6] = zeros\n"
                     "y = instancenorm(x, s, b)\noutput y\n",
                     "test.smelt:4:5: error: instancenorm: scale 's' must be f32[6], got f32[5]",
                     NULL);
  expect_parse_error("input q: f32[2,3,4]\ninput k: f32[2,5,3]\ny = attention(q, k, k)\n"
                     "output y\n",
                     "test.smelt:3:5: error: attention: q [..., T, d], k [..., S, d] and v [..., "
                     "S, dv] must agree: q is f32[2,3,4], k is f32[2,5,3], v is f32[2,5,3]",
                     NULL);
  expect_parse_error("input q: f32[2,3,4]\ninput m: f32[3,4]\ny = attention(q, q, q, m)\n"
                     "output y\n",
                     "test.smelt:3:5: error: attention: mask 'm' f32[3,4] does not broadcast to "
                     "the scores f32[2,3,3]",
                     NULL);
  expect_parse_error("input q: f32[3,4]\ny = attention(q, q, q, causal=2)\noutput y\n",
                     "test.smelt:2:5: error: attention: causal must be 0 or 1, got 2", NULL);
  expect_parse_error("input q: f32[3,4]\ny = attention(q, q, q)\noutput y\n",
                     "test.smelt:2:5: error: attention: expects q, k, v all [B, T, d] or all "
                     "[B, H, T, d], got f32[3,4], f32[3,4], f32[3,4]",
                     NULL);
  expect_parse_error("input x: f32[2,3,6]\nparam w: f32[18,6] = zeros\nparam b: f32[18] = zeros\n"
                     "param o: f32[6,6] = zeros\ny = multihead_attention(x, w, b, o, b, heads=4)\n"
                     "output y\n",
                     "test.smelt:5:5: error: multihead_attention: heads 4 must be positive and "
                     "divide the embedding size 6",
                     NULL);
  expect_parse_error("input x: f32[2,3,6]\nparam w: f32[18,6] = zeros\nparam b: f32[18] = zeros\n"
                     "param o: f32[6,6] = zeros\ny = multihead_attention(x, w, b, o, b, heads=3)\n"
                     "output y\n",
                     "test.smelt:5:5: error: multihead_attention: b_o 'b' must be f32[6], got "
                     "f32[18]",
                     NULL);
  expect_parse_error("input a: f32[2,3]\ninput b: f32[3,2]\ny = stack(a, b)\noutput y\n",
                     "test.smelt:3:5: error: stack: operands must have equal shapes: 'a' is "
                     "f32[2,3], 'b' is f32[3,2]",
                     NULL);
  expect_parse_error("input a: f32[2,3]\ny = stack(a, axis=3)\noutput y\n",
                     "test.smelt:2:5: error: stack: axis 3 is out of range for a result of rank 3",
                     NULL);
  expect_parse_error("input a: f32[7]\ny = positional_encoding(a)\noutput y\n",
                     "test.smelt:2:5: error: positional_encoding: expects x [..., T, E], got 'a' "
                     "f32[7]",
                     NULL);
}

/* composites leave no trace: the parsed graph holds primitive ops only, and
 * the results keep the names written in the model */
static void composites_are_expanded(void **state) {
  (void)state;
  IrGraph *g = opcheck_parse("input x: f32[3,2,4]\nparam a: f32[2,6,4] = zeros\n"
                        "param b: f32[2,6,2] = zeros\nparam c: f32[2,6] = zeros\n"
                        "y, h = gru(x, a, b, c, c, direction=\"bidirectional\")\n"
                        "param s: f32[4] = ones\nz = layernorm(y, s, s)\n"
                        "q = attention(z, z, z, causal=1)\noutput q, h\n");
  for (int k = 0; k < g->nnodes; k++) assert_null(g->nodes[k]->op->expand);
  assert_string_equal(g->outputs[0]->name, "q");
  assert_string_equal(g->outputs[1]->name, "h");
  assert_non_null(ir_graph_find(g, "y"));
  assert_non_null(ir_graph_find(g, "z"));
  ir_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(embedding_values),
      cmocka_unit_test(layernorm_values),
      cmocka_unit_test(groupnorm_values),
      cmocka_unit_test(lstm_single_step_by_hand),
      cmocka_unit_test(rnn_values),
      cmocka_unit_test(lstm_values),
      cmocka_unit_test(gru_values),
      cmocka_unit_test(lstm_long_sequence),
      cmocka_unit_test(attention_values),
      cmocka_unit_test(mha_values),
      cmocka_unit_test(stack_and_pe_values),
      cmocka_unit_test(composites_are_expanded),
      cmocka_unit_test(recurrent_errors),
      cmocka_unit_test(other_errors),
      cmocka_unit_test(opcheck_embedding),
      cmocka_unit_test(opcheck_norms),
      cmocka_unit_test(opcheck_recurrent),
      cmocka_unit_test(opcheck_attention),
      cmocka_unit_test(opcheck_stack_pe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
