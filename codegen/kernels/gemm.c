/* The blocked f32 GEMM engine (gemm.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"

/* ======================================================================
 * blocked f32 GEMM core (see gemm.h)
 *
 * Generated structure, per variant (AVX-512: 16 lanes, 8x32 tile; other
 * targets: 8 lanes, 6x16 tile), chosen by the preprocessor:
 *   for task (batch t, row range [i0,i1), column range [j0,j1))   [omp]
 *     for jc (NC columns): for pc (KC of K): pack B panel
 *       for ic (MC rows): pack alpha*A block
 *         for jr, ir: MR x NR tile of accumulators over kc, then store
 *         (first K block: + beta*bias, later blocks: +=)
 * ====================================================================== */

/* The vectors are the preamble's vf, their FMAs SM_FMA (kernel.c). */
typedef struct CoreVar {
  int vw, mr, nv; /* lanes, tile rows, vectors per tile row */
} CoreVar;

typedef struct CoreGrid {
  int64_t tm, tn;      /* tasks along rows and columns per batch entry */
  int64_t mc, nc, kc;  /* block sizes */
  int64_t nthr;        /* threads with a workspace slice (1: serial) */
  bool par;
} CoreGrid;

static int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

bool gemm_core_fits(int64_t M, int64_t N, int64_t K) {
  return M >= 2 && N >= 4 && K >= 1 && M * N * K >= 1024;
}

/* K block: K in equal blocks of at most 1024. Long K blocks keep each
 * accumulator tile in registers longest and C is read back least; with
 * 256 the 1024^3 product ran at 73-80 GFLOP/s on one thread, with 1024 at
 * 101-104 (bench/sgemm.sh, A/B in one process). */
static int64_t core_kc(int64_t K) { return ceil_div64(K, ceil_div64(K, 1024)); }

bool gemm_core_one_k_block(int64_t K) { return core_kc(K) >= K; }

enum { CORE_MC = 64 };

/* Column block: 512 for long K blocks (1024^3: 101-104 GFLOP/s against
 * 96 with 256), 256 for short ones, where a tile is little work between
 * its stores (the MLP's 784 x 256 x 64 weight gradient with its fused
 * momentum update: 0.30-0.33 ms against 0.34-0.35 with 512). */
static int64_t core_nc(int64_t K) { return core_kc(K) >= 512 ? 512 : 256; }

/* Whether the micro-kernel broadcasts A straight from its rows instead of
 * a packed block, for tasks of `cols` columns: rows contiguous along k, no
 * scaling, and few column slivers per task to amortize a packing over
 * (ResNet-18's layer-4 convolutions, 512 x 49 x 4608: the weights are read
 * once, and packing them cost as much as the product). Row strides of a
 * multiple of 4 KiB would put all of a tile's rows in the same L1 sets
 * (1024^3: 73 GFLOP/s so, 103 packed): packed then. */
static bool core_direct_a(const GemmCore *g, int nr, int64_t cols) {
  if (g->pack_a || g->alpha != 1 || g->as_k != 1 || (g->as_i * 4) % 4096 == 0) return false;
  return ceil_div64(cols, nr) <= 4;
}

/* Phase planes per channel of a wide-row B, along each axis: the phases
 * a tap reaches, a % sy < min(sy, KH) */
static int64_t wide_ny(const GemmWide *w) { return w->sy < w->KH ? w->sy : w->KH; }
static int64_t wide_nx(const GemmWide *w) { return w->sx < w->KW ? w->sx : w->KW; }

/* The staged plane stride of a wide-row B (floats): the padded plane, and
 * every vector read of the last 32-column sliver */
static int64_t wide_stride(const GemmCore *g) {
  const GemmWide *w = g->wide;
  int64_t reads = ceil_div64(g->N, 32) * 32 + (w->KH - 1) / w->sy * w->Wp + (w->KW - 1) / w->sx + 1;
  return round16(reads > w->Hp * w->Wp ? reads : w->Hp * w->Wp);
}

/* Per-thread cost of a task grid, in FLOP-equivalents: the padded tiles a
 * thread multiplies, plus the panels it packs (B once per row task, A once
 * per column block of NC), a packed element counted as 32 FLOPs. */
static double grid_cost(const GemmCore *g, int mr, int nr, int64_t tm, int64_t tn, int64_t T) {
  int64_t mt = ceil_div64(g->M, mr), nt = ceil_div64(g->N, nr);
  int64_t rows = ceil_div64(mt, tm) * mr, cols = ceil_div64(nt, tn) * nr;
  double per_thread = (double)ceil_div64(tm * tn * g->nbatch, T);
  double mul = 2.0 * (double)rows * (double)cols * (double)g->K;
  double pack = g->wide ? 0 : (double)g->K * (double)cols; /* wide: staged once, shared */
  if (!core_direct_a(g, nr, cols))
    pack += (double)rows * (double)g->K * (double)ceil_div64(cols, core_nc(g->K));
  return per_thread * (mul + 32.0 * pack);
}

/* Tasks: for a big enough product, the grid of (row, column) tasks of
 * least per-thread cost among 1, 2 and 4 tasks per core of the compiling
 * machine (the code is built for it, as with -march=native); many batch
 * entries are tasks of their own. Each thread packs into its own slice
 * of the kernel's workspace. */
static CoreGrid core_grid(const GemmCore *g, int mr, int nr) {
  CoreGrid r = {.tm = 1, .tn = 1, .nthr = 1};
  double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K * (double)g->nbatch;
  int64_t T = sm_ncpu();
  r.par = flops >= 2e6 && T > 1;
  int64_t mt = ceil_div64(g->M, mr), nt = ceil_div64(g->N, nr);
  if (r.par && g->nbatch < 16) {
    double best = -1;
    for (int64_t f = 1; f <= 4; f *= 2) {
      int64_t want = T * f, per = ceil_div64(want, g->nbatch);
      for (int64_t tm = 1; tm <= per; tm++) {
        if (per % tm) continue;
        int64_t tn = per / tm;
        if (tm > mt || tn > nt) continue;
        double cost = grid_cost(g, mr, nr, tm, tn, T);
        if (best < 0 || cost < best) best = cost, r.tm = tm, r.tn = tn;
      }
    }
  }
  int64_t ntask = g->nbatch * r.tm * r.tn;
  if (ntask < 2) r.par = false;
  if (r.par) r.nthr = min64(T, ntask);
  int64_t rows = ceil_div64(mt, r.tm) * mr, cols = ceil_div64(nt, r.tn) * nr;
  r.mc = min64(rows, (CORE_MC / mr) * mr);
  r.nc = min64(cols, (core_nc(g->K) / nr) * nr);
  r.kc = core_kc(g->K);
  return r;
}

/* floats of one thread's slice: the packed A block (none when A is read
 * in place), then the B panel */
static int64_t core_slice_a(const CoreGrid *G, bool direct_a) {
  return direct_a ? 0 : round16(G->mc * G->kc);
}

/* Default B packer: strided B(k,j) = b[k*bs_k + j*bs_j]. */
static void core_pack_b(SmBuf *b, const GemmCore *g, int nr, int ind) {
  const char *sp = "";
  long long N = g->N, sk = g->bs_k, sj = g->bs_j;
  sm_buf_printf(b, "%*sfor (int64_t jr = 0; jr < nc; jr += %d) {\n", ind, sp, nr);
  sm_buf_printf(b, "%*s  float *d = bp + jr * kc;\n", ind, sp);
  if (sj == 1) { /* a whole sliver inside B: plain row copies */
    sm_buf_printf(b, "%*s  if (jc + jr + %d <= %lld) {\n", ind, sp, nr, N);
    sm_buf_printf(b, "%*s    for (int64_t k = 0; k < kc; k++)\n", ind, sp);
    sm_buf_printf(b, "%*s      for (int64_t q = 0; q < %d; q++) d[k * %d + q] = bm[(pc + k) * %lld + jc + jr + q];\n",
                  ind, sp, nr, nr, sk);
    sm_buf_printf(b, "%*s    continue;\n%*s  }\n", ind, sp, ind, sp);
  }
  if (sj == 1 || sk != 1) { /* rows of B contiguous along j: copy them */
    sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++)\n", ind, sp);
    sm_buf_printf(b, "%*s    for (int64_t q = 0; q < %d; q++) {\n", ind, sp, nr);
    sm_buf_printf(b, "%*s      const int64_t j = jc + jr + q;\n", ind, sp);
    sm_buf_printf(b, "%*s      d[k * %d + q] = j < %lld ? bm[(pc + k) * %lld + j * %lld] : 0.0f;\n",
                  ind, sp, nr, N, sk, sj);
    sm_buf_printf(b, "%*s    }\n", ind, sp);
  } else { /* columns of B contiguous along k (transposed): read them */
    sm_buf_printf(b, "%*s  for (int64_t q = 0; q < %d; q++) {\n", ind, sp, nr);
    sm_buf_printf(b, "%*s    const int64_t j = jc + jr + q;\n", ind, sp);
    sm_buf_printf(b, "%*s    if (j < %lld) {\n", ind, sp, N);
    sm_buf_printf(b, "%*s      const float *s = bm + j * %lld + pc;\n", ind, sp, sj);
    sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) d[k * %d + q] = s[k];\n", ind, sp, nr);
    sm_buf_printf(b, "%*s    } else {\n", ind, sp);
    sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) d[k * %d + q] = 0.0f;\n", ind, sp, nr);
    sm_buf_printf(b, "%*s    }\n", ind, sp);
    sm_buf_printf(b, "%*s  }\n", ind, sp);
  }
  sm_buf_printf(b, "%*s}\n", ind, sp);
}

/* alpha*A packed into MR-tall slivers: ap[ir*kc + k*MR + r] */
static void core_pack_a(SmBuf *b, const GemmCore *g, int mr, int ind) {
  const char *sp = "";
  long long M = g->M, si = g->as_i, sk = g->as_k;
  SmBuf sc = {0};
  if (g->alpha != 1) {
    emit_float(&sc, g->alpha);
    sm_buf_puts(&sc, " * ");
  }
  sm_buf_printf(b, "%*sfor (int64_t ir = 0; ir < mc; ir += %d) {\n", ind, sp, mr);
  sm_buf_printf(b, "%*s  float *d = ap + ir * kc;\n", ind, sp);
  if (sk == 1 && si != 1) { /* rows of A contiguous along k */
    sm_buf_printf(b, "%*s  for (int64_t r = 0; r < %d; r++) {\n", ind, sp, mr);
    sm_buf_printf(b, "%*s    const int64_t i = ic + ir + r;\n", ind, sp);
    sm_buf_printf(b, "%*s    if (i < %lld) {\n", ind, sp, M);
    sm_buf_printf(b, "%*s      const float *s = a + i * %lld + pc;\n", ind, sp, si);
    sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) d[k * %d + r] = %ss[k];\n", ind, sp,
                  mr, sm_buf_str(&sc));
    sm_buf_printf(b, "%*s    } else {\n", ind, sp);
    sm_buf_printf(b, "%*s      for (int64_t k = 0; k < kc; k++) d[k * %d + r] = 0.0f;\n", ind, sp, mr);
    sm_buf_printf(b, "%*s    }\n", ind, sp);
    sm_buf_printf(b, "%*s  }\n", ind, sp);
  } else {
    sm_buf_printf(b, "%*s  for (int64_t k = 0; k < kc; k++)\n", ind, sp);
    sm_buf_printf(b, "%*s    for (int64_t r = 0; r < %d; r++) {\n", ind, sp, mr);
    sm_buf_printf(b, "%*s      const int64_t i = ic + ir + r;\n", ind, sp);
    sm_buf_printf(b, "%*s      d[k * %d + r] = i < %lld ? %sa[i * %lld + (pc + k) * %lld] : 0.0f;\n",
                  ind, sp, mr, M, sm_buf_str(&sc), si, sk);
    sm_buf_printf(b, "%*s    }\n", ind, sp);
  }
  sm_buf_printf(b, "%*s}\n", ind, sp);
  sm_buf_free(&sc);
}

/* beta*bias(i, j) as a scalar expression ("" when there is no bias) */
static void core_bias_scalar(SmBuf *e, const GemmCore *g, const char *i, const char *j) {
  if (!g->bias || g->beta == 0) return;
  sm_buf_puts(e, " + ");
  if (g->beta != 1) {
    emit_float(e, g->beta);
    sm_buf_puts(e, " * ");
  }
  /* bias_si and bias_sj are 0 (broadcast) or a stride */
  sm_buf_puts(e, "bias[");
  if (g->bias_si) sm_buf_printf(e, "%s * %lld", i, (long long)g->bias_si);
  if (g->bias_si && g->bias_sj) sm_buf_puts(e, " + ");
  if (g->bias_sj == 1) sm_buf_puts(e, j);
  else if (g->bias_sj) sm_buf_printf(e, "%s * %lld", j, (long long)g->bias_sj);
  if (!g->bias_si && !g->bias_sj) sm_buf_puts(e, "0");
  sm_buf_puts(e, "]");
}

/* "c_off + " before an element's index in the product ("" for none). */
static const char *c_off_plus(const GemmCore *g) {
  static char buf[256];
  if (!g->c_off || !strcmp(g->c_off, "0")) return "";
  snprintf(buf, sizeof buf, "%s + ", g->c_off);
  return buf;
}

/* Declares `float tile[MR*NR]` (at indentation `sp`) holding the
 * accumulators cv[MR][NV], row-major (their own layout). */
static void core_spill_tile(SmBuf *b, const CoreVar *v, const char *sp) {
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  sm_buf_printf(b, "%sfloat tile[%d] __attribute__((aligned(64)));\n", sp, mr * nr);
  sm_buf_printf(b, "%smemcpy(tile, cv, sizeof cv);\n", sp);
}

/* Stores the accumulator tile into C: the first K block assigns (adding
 * beta*bias), later blocks accumulate. */
static void core_store_plain(SmBuf *b, const GemmCore *g, const CoreVar *v, bool split_k,
                             bool has_bias) {
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  const char *s2 = "                ";
  sm_buf_printf(b, "%sif (i + %d <= i1 && j + %d <= j1) {\n", s2, mr, nr);
  for (int pass = 0; pass < (split_k ? 2 : 1); pass++) {
    /* pass 0: first K block (assign + bias); pass 1: accumulate */
    const char *in = "                    ";
    if (split_k) sm_buf_printf(b, "%s  %s {\n", s2, pass == 0 ? "if (pc == 0)" : "else");
    /* the loops over the tile, unrolled as registers are named */
    sm_buf_printf(b, "#pragma GCC unroll %d\n%sfor (int r = 0; r < %d; r++)\n", mr, in, mr);
    sm_buf_printf(b, "#pragma GCC unroll %d\n%s  for (int q = 0; q < %d; q++) {\n", nv, in, nv);
    sm_buf_printf(b, "%s    vf y = cv[r][q]", in);
    if (pass == 1) {
      sm_buf_printf(b, ", o;\n%s    memcpy(&o, cp + r * %lld + q * %d, sizeof o);\n%s    y += o;\n", in,
                    (long long)g->ldc, vw, in);
    } else if (has_bias) {
      sm_buf_printf(b, ", o;\n%s    ", in);
      long long si = g->bias_si;
      if (g->bias_sj && si)
        sm_buf_printf(b, "memcpy(&o, bias + (i + r) * %lld + j + q * %d, sizeof o);\n", si, vw);
      else if (g->bias_sj)
        sm_buf_printf(b, "memcpy(&o, bias + j + q * %d, sizeof o);\n", vw);
      else if (si)
        sm_buf_printf(b, "o = bias[(i + r) * %lld] + (vf){0};\n", si);
      else
        sm_buf_puts(b, "o = bias[0] + (vf){0};\n");
      if (g->beta != 1) {
        sm_buf_printf(b, "%s    y += ", in);
        emit_float(b, g->beta);
        sm_buf_puts(b, " * o;\n");
      } else {
        sm_buf_printf(b, "%s    y += o;\n", in);
      }
    } else {
      sm_buf_puts(b, ";\n");
    }
    sm_buf_printf(b, "%s    memcpy(cp + r * %lld + q * %d, &y, sizeof y);\n%s  }\n", in,
                  (long long)g->ldc, vw, in);
    if (split_k) sm_buf_printf(b, "%s  }\n", s2);
  }
  sm_buf_printf(b, "%s} else {\n", s2);
  core_spill_tile(b, v, "                  ");
  sm_buf_printf(b, "%s  for (int64_t r = 0; r < %d && i + r < i1; r++)\n", s2, mr);
  sm_buf_printf(b, "%s    for (int64_t q = 0; q < %d && j + q < j1; q++)\n", s2, nr);
  SmBuf be = {0};
  core_bias_scalar(&be, g, "(i + r)", "(j + q)");
  if (split_k)
    sm_buf_printf(b, "%s      cp[r * %lld + q] = (pc == 0 ? 0.0f%s : cp[r * %lld + q]) + tile[r * %d + q];\n",
                  s2, (long long)g->ldc, sm_buf_str(&be), (long long)g->ldc, nr);
  else
    sm_buf_printf(b, "%s      cp[r * %lld + q] = tile[r * %d + q]%s;\n", s2, (long long)g->ldc, nr,
                  sm_buf_str(&be));
  sm_buf_free(&be);
  sm_buf_printf(b, "%s}\n", s2);
}

/* The final K block through the epilogue, element by element: the product
 * (plus bias, or plus the partial sums of earlier K blocks) goes through
 * the elementwise chain and every result is stored. */
static void core_store_epilogue(SmBuf *b, const GemmCore *g, const CoreVar *v, bool split_k,
                                bool has_bias) {
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  const char *s2 = "                ";
  sm_buf_printf(b, "%s{\n", s2);
  core_spill_tile(b, v, "                  ");
  sm_buf_printf(b, "%s  const int64_t rn = i1 - i < %d ? i1 - i : %d, qn = j1 - j < %d ? j1 - j : %d;\n",
                s2, mr, mr, nr, nr);
  /* elements are independent (each read, then written, at its own index,
   * also when a result overwrites an operand in place): one SIMD loop per
   * tile row, of constant length for a full row */
  for (int full = 1; full >= 0; full--) {
    if (full) sm_buf_printf(b, "%s  if (qn == %d) {\n", s2, nr);
    else sm_buf_printf(b, "%s  } else {\n", s2);
    sm_buf_printf(b, "%s    for (int64_t r = 0; r < rn; r++)\n", s2);
    sm_buf_puts(b, "#pragma omp simd\n");
    if (full) sm_buf_printf(b, "%s      for (int64_t q = 0; q < %d; q++) {\n", s2, nr);
    else sm_buf_printf(b, "%s      for (int64_t q = 0; q < qn; q++) {\n", s2);
    SmBuf be = {0};
    if (!split_k && has_bias) core_bias_scalar(&be, g, "(i + r)", "(j + q)");
    if (split_k)
      sm_buf_printf(b, "%s        const float acc = tile[r * %d + q] + cp[r * %lld + q];\n", s2, nr,
                    (long long)g->ldc);
    else
      sm_buf_printf(b, "%s        const float acc = tile[r * %d + q]%s;\n", s2, nr, sm_buf_str(&be));
    sm_buf_free(&be);
    sm_buf_printf(b, "%s        const int64_t o = %s(i + r) * %lld + j + q;\n", s2, c_off_plus(g),
                  (long long)g->ldc);
    ew_emit_epilogue_elem(b, 24, g->epi, "acc", "o", true);
    sm_buf_printf(b, "%s      }\n", s2);
  }
  sm_buf_printf(b, "%s  }\n%s}\n", s2, s2);
}

/* The tile of a wide-row product: wide column j' is kept when its
 * ow < OW and lands at column oh*OW + ow, so the tile's columns fall in
 * runs of consecutive kept columns (at most two output rows per run
 * boundary); each run is stored row by row in SIMD loops. The first K
 * block adds the bias, later ones the partial sums; the last applies the
 * epilogue (if any). Elements are independent, as in core_store_epilogue. */
static void core_store_wide(SmBuf *b, const GemmCore *g, const CoreVar *v, bool split_k,
                            bool has_bias) {
  const GemmWide *w = g->wide;
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  const char *s2 = "                ";
  long long ldc = g->ldc, K = g->K, Wp = w->Wp, OW = w->OW;
  sm_buf_printf(b, "%s{\n", s2);
  core_spill_tile(b, v, "                  ");
  sm_buf_printf(b, "%s  const int64_t rn = i1 - i < %d ? i1 - i : %d, qe = j1 - j < %d ? j1 - j : %d;\n",
                s2, mr, mr, nr, nr);
  sm_buf_printf(b, "%s  int64_t oh = j / %lld, ow = j %% %lld;\n", s2, Wp, Wp);
  sm_buf_printf(b, "%s  for (int64_t q0 = 0; q0 < qe;) {\n", s2);
  sm_buf_printf(b, "%s    if (ow >= %lld) { q0 += %lld - ow; ow = 0; oh++; continue; }\n", s2, OW, Wp);
  sm_buf_printf(b, "%s    const int64_t q1 = q0 + %lld - ow < qe ? q0 + %lld - ow : qe;\n", s2, OW, OW);
  /* the product's index of tile column q is base + q on tile row 0 */
  sm_buf_printf(b, "%s    const int64_t base = oh * %lld + ow - q0;\n", s2, OW);
  sm_buf_printf(b, "%s    for (int64_t r = 0; r < rn; r++) {\n", s2);
  sm_buf_printf(b, "%s      float *cr = c + (i + r) * %lld + base;\n", s2, ldc);
  sm_buf_printf(b, "%s      const float *tr = tile + r * %d;\n", s2, nr);
  SmBuf be = {0};
  if (has_bias) core_bias_scalar(&be, g, "(i + r)", "(base + q)");
  const char *bias = sm_buf_str(&be), *s3 = "                      ";
  if (split_k) {
    /* earlier K blocks: partial sums (the first with the bias) */
    if (g->epi) sm_buf_printf(b, "%sif (pc + kc < %lld) {\n", s3, K);
    sm_buf_puts(b, "#pragma omp simd\n");
    sm_buf_printf(b, "%sfor (int64_t q = q0; q < q1; q++) cr[q] = pc == 0 ? tr[q]%s : tr[q] + cr[q];\n",
                  s3, bias);
    if (g->epi) sm_buf_printf(b, "%s} else {\n", s3);
  }
  if (g->epi) {
    sm_buf_puts(b, "#pragma omp simd\n");
    sm_buf_printf(b, "%sfor (int64_t q = q0; q < q1; q++) {\n", s3);
    if (split_k) sm_buf_printf(b, "%s  const float acc = tr[q] + cr[q];\n", s3);
    else sm_buf_printf(b, "%s  const float acc = tr[q]%s;\n", s3, bias);
    sm_buf_printf(b, "%s  const int64_t o = %s(i + r) * %lld + base + q;\n", s3, c_off_plus(g), ldc);
    ew_emit_epilogue_elem(b, 24, g->epi, "acc", "o", true);
    sm_buf_printf(b, "%s}\n", s3);
    if (split_k) sm_buf_printf(b, "%s}\n", s3);
    sm_buf_printf(b, "%s(void)cr;\n", s3);
  } else if (!split_k) {
    sm_buf_puts(b, "#pragma omp simd\n");
    sm_buf_printf(b, "%sfor (int64_t q = q0; q < q1; q++) cr[q] = tr[q]%s;\n", s3, bias);
  }
  sm_buf_free(&be);
  sm_buf_printf(b, "%s    }\n", s2);
  sm_buf_printf(b, "%s    ow += q1 - q0;\n%s    q0 = q1;\n", s2, s2);
  sm_buf_printf(b, "%s  }\n%s}\n", s2, s2);
}

/* The two target variants: AVX-512 (plan var[0]), else AVX2/FMA (var[1]). */
static const CoreVar core_vars[2] = {{16, 8, 2}, {8, 6, 2}};

void gemm_core_plan(const GemmCore *g, GemmPlan *p) {
  *p = (GemmPlan){0};
  for (int k = 0; k < 2; k++) {
    const CoreVar *v = &core_vars[k];
    GemmVarPlan *q = &p->var[k];
    int nr = v->vw * v->nv;
    CoreGrid G = core_grid(g, v->mr, nr);
    bool direct_a = core_direct_a(g, nr, G.nc);
    const GemmWide *w = g->wide;
    *q = (GemmVarPlan){.vw = v->vw, .mr = v->mr, .nr = nr, .tm = G.tm, .tn = G.tn, .mc = G.mc,
                       .nc = G.nc, .kc = G.kc, .nthr = G.nthr, .par = G.par,
                       .direct_a = direct_a, .slice_a = core_slice_a(&G, direct_a)};
    q->slice = q->slice_a + (w ? 0 : round16(G.nc * G.kc));
    /* a wide-row B: the staged planes and the offsets koff(k), shared, first */
    q->S = w ? wide_stride(g) : 0;
    q->shared = w ? w->C * wide_ny(w) * wide_nx(w) * q->S + round16(g->K) : 0;
    if (q->shared + G.nthr * q->slice > p->ws_floats) p->ws_floats = q->shared + G.nthr * q->slice;
  }
}

static void core_variant(SmBuf *b, const GemmCore *g, const CoreVar *v, const GemmVarPlan *q) {
  int mr = q->mr, vw = q->vw, nr = q->nr, nv = v->nv;
  CoreGrid G = {.tm = q->tm, .tn = q->tn, .mc = q->mc, .nc = q->nc, .kc = q->kc,
                .nthr = q->nthr, .par = q->par};
  long long M = g->M, N = g->N, K = g->K, nb = g->nbatch;
  int64_t mt = ceil_div64(g->M, mr), nt = ceil_div64(g->N, nr);
  bool split_k = G.kc < g->K, has_bias = g->bias && g->beta != 0;
  bool direct_a = q->direct_a;
  sm_buf_printf(b, "  {\n    /* %d x %d register tile (%d-lane vectors); blocks mc %lld, nc %lld, kc %lld;"
                   " %lld x %lld tasks per product */\n",
                mr, nr, vw, (long long)G.mc, (long long)G.nc, (long long)G.kc,
                (long long)G.tm, (long long)G.tn);
  int64_t ntask = g->nbatch * G.tm * G.tn, slice_a = q->slice_a, slice = q->slice;
  const GemmWide *w = g->wide;
  int64_t S = q->S, shared = q->shared;
  /* each thread packs into its own slice of the workspace `ws`: at most
   * nthr threads (more would share a slice) */
  SmBuf at = {0}; /* the thread's slice */
  sm_buf_puts(&at, "ws");
  if (shared) sm_buf_printf(&at, " + %lld", (long long)shared);
  if (G.par) {
    sm_buf_printf(b, "    #pragma omp parallel num_threads(sm_threads(%lld))\n    {\n", (long long)G.nthr);
    sm_buf_printf(b, "    float *const ap = %s + sm_thread() * %lld;\n", sm_buf_str(&at), (long long)slice);
  } else {
    sm_buf_printf(b, "    {\n    float *const ap = %s;\n", sm_buf_str(&at));
  }
  sm_buf_free(&at);
  if (w) {
    long long sy = w->sy, sx = w->sx, Wp = w->Wp, ny = wide_ny(w), nx = wide_nx(w);
    sm_buf_printf(b, "    float *const stage = ws;\n    int32_t *const koff = (int32_t *)(ws + %lld);\n",
                  (long long)(w->C * ny * nx * S));
    sm_buf_puts(b, "    (void)ap;\n");
    if (G.par) sm_buf_puts(b, "    #pragma omp for schedule(static)\n");
    sm_buf_printf(b, "    for (int64_t ch = 0; ch < %lld; ch++) {\n", (long long)w->C);
    sm_buf_printf(b, "      const float *x = %s + ch * %lld;\n", w->x, (long long)(w->H * w->W));
    if (sy == 1 && sx == 1) {
      sm_buf_printf(b, "      float *d = stage + ch * %lld;\n", (long long)S);
      sm_buf_printf(b, "      memset(d, 0, %lld * sizeof(float));\n", (long long)S);
      sm_buf_printf(b, "      for (int64_t r = 0; r < %lld; r++)\n", (long long)w->H);
      sm_buf_printf(b, "        memcpy(d + (r + %lld) * %lld + %lld, x + r * %lld, %lld * sizeof(float));\n",
                    (long long)w->pt, Wp, (long long)w->pl, (long long)w->W, (long long)w->W);
    } else {
      /* phase plane (py, px) holds the padded input's rows py, py+sy, ...
       * and columns px, px+sx, ...: a strided tap becomes a shifted one */
      sm_buf_printf(b, "      for (int64_t py = 0; py < %lld; py++)\n", ny);
      sm_buf_printf(b, "        for (int64_t px = 0; px < %lld; px++) {\n", nx);
      sm_buf_printf(b, "          float *d = stage + ((ch * %lld + py) * %lld + px) * %lld;\n", ny, nx,
                    (long long)S);
      sm_buf_printf(b, "          memset(d, 0, %lld * sizeof(float));\n", (long long)S);
      sm_buf_printf(b, "          for (int64_t r = 0; r < %lld; r++) {\n", (long long)w->Hp);
      sm_buf_printf(b, "            const int64_t y = r * %lld + py - %lld;\n", sy, (long long)w->pt);
      sm_buf_printf(b, "            if (y < 0 || y >= %lld) continue;\n", (long long)w->H);
      sm_buf_printf(b, "            for (int64_t q = 0; q < %lld; q++) {\n", Wp);
      sm_buf_printf(b, "              const int64_t u = q * %lld + px - %lld;\n", sx, (long long)w->pl);
      sm_buf_printf(b, "              if (u >= 0 && u < %lld) d[r * %lld + q] = x[y * %lld + u];\n",
                    (long long)w->W, Wp, (long long)w->W);
      sm_buf_puts(b, "            }\n          }\n        }\n");
    }
    sm_buf_printf(b, "      for (int64_t a = 0; a < %lld; a++)\n", (long long)w->KH);
    sm_buf_printf(b, "        for (int64_t q = 0; q < %lld; q++)\n", (long long)w->KW);
    sm_buf_printf(b, "          koff[(ch * %lld + a) * %lld + q] = (int32_t)(((ch * %lld + a %% %lld) * %lld + q %% %lld) * %lld"
                     " + a / %lld * %lld + q / %lld);\n",
                  (long long)w->KH, (long long)w->KW, ny, sy, nx, sx, (long long)S, sy, Wp, sx);
    sm_buf_puts(b, "    }\n");
  } else {
    if (slice_a) sm_buf_printf(b, "    float *const bp = ap + %lld;\n", (long long)slice_a);
    else sm_buf_puts(b, "    float *const bp = ap;\n");
  }
  if (G.par) sm_buf_puts(b, "    #pragma omp for schedule(static)\n");
  /* a single task, block or K block: its bounds as constants, no loop */
  bool one_task = ntask == 1, one_jc = G.tn == 1 && G.nc >= N, one_ic = G.tm == 1 && G.mc >= M;
  bool one_pc = !split_k;
  if (one_task) sm_buf_puts(b, "    {\n");
  else sm_buf_printf(b, "    for (int64_t task = 0; task < %lld; task++) {\n", (long long)ntask);
  const char *sp = "      ";
  if (nb > 1) sm_buf_printf(b, "%sconst int64_t t = task / %lld;\n", sp, (long long)(G.tm * G.tn));
  /* task = (t * tm + tr) * tn + tc */
  if (G.tm > 1 && nb > 1)
    sm_buf_printf(b, "%sconst int64_t tr = task / %lld %% %lld;\n", sp, (long long)G.tn, (long long)G.tm);
  else if (G.tm > 1 && G.tn > 1)
    sm_buf_printf(b, "%sconst int64_t tr = task / %lld;\n", sp, (long long)G.tn);
  else if (G.tm > 1)
    sm_buf_printf(b, "%sconst int64_t tr = task;\n", sp);
  if (G.tn > 1 && (nb > 1 || G.tm > 1))
    sm_buf_printf(b, "%sconst int64_t tc = task %% %lld;\n", sp, (long long)G.tn);
  else if (G.tn > 1)
    sm_buf_printf(b, "%sconst int64_t tc = task;\n", sp);
  if (G.tm == 1) {
    sm_buf_printf(b, one_ic ? "%sconst int64_t i1 = %lld;\n" : "%sconst int64_t i0 = 0, i1 = %lld;\n", sp, M);
  } else {
    sm_buf_printf(b, "%sconst int64_t i0 = tr * %lld / %lld * %d;\n", sp, (long long)mt, (long long)G.tm, mr);
    sm_buf_printf(b, "%sconst int64_t i1 = (tr + 1) * %lld / %lld * %d < %lld ? (tr + 1) * %lld / %lld * %d : %lld;\n",
                  sp, (long long)mt, (long long)G.tm, mr, M, (long long)mt, (long long)G.tm, mr, M);
  }
  if (G.tn == 1) {
    sm_buf_printf(b, one_jc ? "%sconst int64_t j1 = %lld;\n" : "%sconst int64_t j0 = 0, j1 = %lld;\n", sp, N);
  } else {
    sm_buf_printf(b, "%sconst int64_t j0 = tc * %lld / %lld * %d;\n", sp, (long long)nt, (long long)G.tn, nr);
    sm_buf_printf(b, "%sconst int64_t j1 = (tc + 1) * %lld / %lld * %d < %lld ? (tc + 1) * %lld / %lld * %d : %lld;\n",
                  sp, (long long)nt, (long long)G.tn, nr, N, (long long)nt, (long long)G.tn, nr, N);
  }
  sm_buf_printf(b, "%sconst float *a = %s;\n", sp, g->a);
  if (!g->pack_b && !w) sm_buf_printf(b, "%sconst float *bm = %s;\n", sp, g->b);
  bool store_c = w || !g->epi || split_k; /* else the epilogue stores */
  if (store_c) sm_buf_printf(b, "%sfloat *c = %s;\n", sp, g->c);
  if (has_bias) sm_buf_printf(b, "%sconst float *bias = %s;\n", sp, g->bias);
  if (one_jc) {
    sm_buf_printf(b, "%s  const int64_t jc = 0, nc = %lld;\n", sp, N);
  } else {
    sm_buf_printf(b, "%sfor (int64_t jc = j0; jc < j1; jc += %lld) {\n", sp, (long long)G.nc);
    sm_buf_printf(b, "%s  const int64_t nc = j1 - jc < %lld ? j1 - jc : %lld;\n", sp,
                  (long long)G.nc, (long long)G.nc);
  }
  if (one_pc) {
    sm_buf_printf(b, "%s    const int64_t pc = 0, kc = %lld;\n", sp, K);
  } else {
    sm_buf_printf(b, "%s  for (int64_t pc = 0; pc < %lld; pc += %lld) {\n", sp, K, (long long)G.kc);
    sm_buf_printf(b, "%s    const int64_t kc = %lld - pc < %lld ? %lld - pc : %lld;\n", sp, K,
                  (long long)G.kc, K, (long long)G.kc);
  }
  if (w) sm_buf_printf(b, "%s    const int32_t *ko = koff + pc;\n", sp);
  else if (g->pack_b) g->pack_b(b, g, nr, 10);
  else core_pack_b(b, g, nr, 10);
  if (one_ic) {
    sm_buf_printf(b, "%s      const int64_t ic = 0, mc = %lld;\n", sp, M);
  } else {
    sm_buf_printf(b, "%s    for (int64_t ic = i0; ic < i1; ic += %lld) {\n", sp, (long long)G.mc);
    sm_buf_printf(b, "%s      const int64_t mc = i1 - ic < %lld ? i1 - ic : %lld;\n", sp,
                  (long long)G.mc, (long long)G.mc);
  }
  if (direct_a) {
    /* nothing to pack */
  } else if (g->pack_a) g->pack_a(b, g, mr, 12);
  else core_pack_a(b, g, mr, 12);
  /* an epilogue updating a parameter in place reads and writes it (and
   * its state) at every element: tiles along rows then, so those accesses
   * run along the parameter's rows as prefetchers expect (measured on the
   * MLP training step: 0.75 ms with column-major tiles, 0.70 ms so, 0.68
   * ms with the update in a loop of its own) */
  bool rows = false;
  for (int m = 0; g->epi && m < g->epi->nm; m++) rows |= opt_is_update(g->epi->mem[m]);
  if (rows) {
    sm_buf_printf(b, "%s      for (int64_t ir = 0; ir < mc; ir += %d)\n", sp, mr);
    sm_buf_printf(b, "%s        for (int64_t jr = 0; jr < nc; jr += %d) {\n", sp, nr);
  } else {
    sm_buf_printf(b, "%s      for (int64_t jr = 0; jr < nc; jr += %d)\n", sp, nr);
    sm_buf_printf(b, "%s        for (int64_t ir = 0; ir < mc; ir += %d) {\n", sp, mr);
  }
  const char *s2 = "                ";
  if (w) sm_buf_printf(b, "%sconst float *pb = stage + jc + jr;\n", s2);
  if (direct_a) {
    /* rows past M repeat row M-1: computed, never stored */
    if (!w) sm_buf_printf(b, "%sconst float *pb = bp + jr * kc;\n", s2);
    sm_buf_printf(b, "%sconst float *pa[%d];\n", s2, mr);
    sm_buf_printf(b, "#pragma GCC unroll %d\n%sfor (int r = 0; r < %d; r++)\n", mr, s2, mr);
    sm_buf_printf(b, "%s  pa[r] = a + (ic + ir + r < %lld ? ic + ir + r : %lld) * %lld + pc;\n", s2, M,
                  M - 1, (long long)g->as_i);
  } else if (w) {
    sm_buf_printf(b, "%sconst float *pa = ap + ir * kc;\n", s2);
  } else {
    sm_buf_printf(b, "%sconst float *pa = ap + ir * kc, *pb = bp + jr * kc;\n", s2);
  }
  /* the accumulators cv: MR x NV vectors, the loops over them unrolled
   * (each one a register) */
  sm_buf_printf(b, "%svf cv[%d][%d] = {{{0}}};\n", s2, mr, nv);
  sm_buf_printf(b, "%sfor (int64_t k = 0; k < kc; k++) {\n", s2);
  sm_buf_printf(b, "%s  vf bk[%d];\n", s2, nv);
  if (w) sm_buf_printf(b, "%s  const float *pk = pb + ko[k];\n", s2);
  sm_buf_printf(b, "#pragma GCC unroll %d\n", nv);
  if (w)
    sm_buf_printf(b, "%s  for (int q = 0; q < %d; q++) memcpy(&bk[q], pk + q * %d, sizeof bk[q]);\n", s2,
                  nv, vw);
  else
    sm_buf_printf(b, "%s  for (int q = 0; q < %d; q++) bk[q] = *(const vf *)(pb + k * %d + q * %d);\n", s2,
                  nv, nr, vw);
  sm_buf_printf(b, "#pragma GCC unroll %d\n%s  for (int r = 0; r < %d; r++) {\n", mr, s2, mr);
  /* x - 0 is exact, so the compiler folds it to a plain broadcast load */
  if (direct_a) sm_buf_printf(b, "%s    const vf x = pa[r][k] - (vf){0};\n", s2);
  else sm_buf_printf(b, "%s    const vf x = pa[k * %d + r] - (vf){0};\n", s2, mr);
  sm_buf_printf(b, "#pragma GCC unroll %d\n", nv);
  sm_buf_printf(b, "%s    for (int q = 0; q < %d; q++) cv[r][q] = SM_FMA(x, bk[q], cv[r][q]);\n", s2, nv);
  sm_buf_printf(b, "%s  }\n", s2);
  sm_buf_printf(b, "%s}\n", s2);
  /* store */
  sm_buf_printf(b, "%sconst int64_t i = ic + ir, j = jc + jr;\n", s2);
  if (w) {
    core_store_wide(b, g, v, split_k, has_bias);
  } else {
  /* the tile's corner in C (the epilogue indexes the product itself) */
  if (store_c) sm_buf_printf(b, "%sfloat *cp = c + i * %lld + j;\n", s2, (long long)g->ldc);
  if (!g->epi) {
    core_store_plain(b, g, v, split_k, has_bias);
  } else if (!split_k) {
    core_store_epilogue(b, g, v, split_k, has_bias);
  } else {
    sm_buf_printf(b, "%sif (pc + kc < %lld) {\n", s2, K);
    core_store_plain(b, g, v, split_k, has_bias);
    sm_buf_printf(b, "%s} else\n", s2);
    core_store_epilogue(b, g, v, split_k, has_bias);
  }
  }
  sm_buf_printf(b, "%s      }\n", sp);
  if (!one_ic) sm_buf_printf(b, "%s    }\n", sp);
  if (!one_pc) sm_buf_printf(b, "%s  }\n", sp);
  if (!one_jc) sm_buf_printf(b, "%s}\n", sp);
  sm_buf_puts(b, "    }\n    }\n  }\n");
}

void gemm_core_write(SmBuf *b, const GemmCore *g) {
  GemmPlan p;
  gemm_core_plan(g, &p);
  gemm_core_emit(b, g, &p);
}

void gemm_plan_kernel(CgKernelPlan *p, const GemmCore *g, const char *form) {
  GemmPlan gp;
  gemm_core_plan(g, &gp);
  const GemmVarPlan *v = &gp.var[0];
  p->form = form;
  p->ws_floats = gp.ws_floats;
  p->M = g->M, p->N = g->N, p->K = g->K, p->nbatch = g->nbatch;
  p->tasks = g->nbatch * v->tm * v->tn;
  p->mc = v->mc, p->nc = v->nc, p->kc = v->kc;
}

void gemm_core_emit(SmBuf *b, const GemmCore *g, const GemmPlan *p) {
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  core_variant(b, g, &core_vars[0], &p->var[0]);
  sm_buf_puts(b, "#else\n");
  core_variant(b, g, &core_vars[1], &p->var[1]);
  sm_buf_puts(b, "#endif\n");
}

