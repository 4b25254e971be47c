/* Linear algebra ops: matmul (numpy semantics: 1-D operands promoted, batch
 * dims broadcast) and gemm (ONNX Gemm: Y = alpha*op(A)*op(B) + beta*C), with
 * their gradient rules (built from gemm, matmul, transpose and reshape).
 *
 * Reference kernels are naive loops in double. f32 products big enough
 * take the blocked GEMM core below (gemm_emit.h), which also applies fused
 * elementwise epilogues; the rest use plain loops: i-k-j with the
 * contiguous index j innermost, or i-j-k dot products for transB=1. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gemm_emit.h"

/* ---- emission helpers (local) ---- */

/* C literal of the node's dtype: "0.5f" for f32, "0.5" for f64. */
static void lit(SmBuf *b, const IrNode *n, double v) {
  if (n->out[0]->type.dtype == IR_F32 || isinf(v)) {
    emit_float(b, v);
    return;
  }
  char s[64];
  snprintf(s, sizeof s, "%.17g", v);
  bool plain = strpbrk(s, ".eEn") == NULL;
  sm_buf_printf(b, "%s%s%s%s", v < 0 ? "(" : "", s, plain ? ".0" : "",
                v < 0 ? ")" : "");
}

static const char *ctype(const IrNode *n) {
  return ir_dtype_ctype(n->out[0]->type.dtype);
}

/* For empty results: reference every parameter so the body compiles
 * warning-free, and do nothing. */
static bool emit_if_empty(SmBuf *b, const IrNode *n) {
  if (ir_numel(&n->out[0]->type) != 0) return false;
  sm_buf_puts(b, "  (void)out0;\n");
  for (int i = 0; i < n->nin; i++) sm_buf_printf(b, "  (void)in%d;\n", i);
  return true;
}

/* Appends " + c*v" to a sum expression (skipping zero terms). */
static void term(SmBuf *e, int64_t c, const char *v) {
  if (c == 0) return;
  if (e->len) sm_buf_puts(e, " + ");
  if (c == 1) sm_buf_puts(e, v);
  else sm_buf_printf(e, "%lld*%s", (long long)c, v);
}

/* ======================================================================
 * blocked f32 GEMM core (see gemm_emit.h)
 *
 * Generated structure, per variant (AVX-512: 16 lanes, 8x32 tile; other
 * targets: 8 lanes, 6x16 tile), chosen by the preprocessor:
 *   for task (batch t, row range [i0,i1), column range [j0,j1))   [omp]
 *     for jc (NC columns): for pc (KC of K): pack B panel
 *       for ic (MC rows): pack alpha*A block
 *         for jr, ir: MR x NR tile of accumulators over kc, then store
 *         (first K block: + beta*bias, later blocks: +=)
 * ====================================================================== */

typedef struct CoreVar {
  int vw, mr, nv; /* lanes, tile rows, vectors per tile row */
  const char *fma_cond, *fma; /* builtin FMA under GCC */
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

/* The workspace the kernel being emitted needs so far (floats); the
 * compiler is single-threaded and emits one kernel at a time. */
static int64_t ws_floats;

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
  sm_buf_printf(e, "bias[%s * %lld + %s * %lld]", i, (long long)g->bias_si, j,
                (long long)g->bias_sj);
}

/* Declares `float tile[MR*NR]` (at indentation `sp`) holding the
 * accumulator registers c<r>_<q>, row-major. */
static void core_spill_tile(SmBuf *b, const CoreVar *v, const char *sp) {
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  sm_buf_printf(b, "%sfloat tile[%d] __attribute__((aligned(64)));\n", sp, mr * nr);
  for (int r = 0; r < mr; r++)
    for (int q = 0; q < nv; q++)
      sm_buf_printf(b, "%smemcpy(tile + %d, &c%d_%d, sizeof c%d_%d);\n", sp, r * nr + q * vw, r, q,
                    r, q);
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
    for (int r = 0; r < mr; r++)
      for (int q = 0; q < nv; q++) {
        sm_buf_printf(b, "%s{ vf y = c%d_%d", in, r, q);
        if (pass == 1) {
          sm_buf_printf(b, ", o; memcpy(&o, cp + %lld, sizeof o); y += o;",
                        (long long)(r * g->ldc + q * vw));
        } else if (has_bias) {
          sm_buf_puts(b, ", o; ");
          if (g->bias_sj)
            sm_buf_printf(b, "memcpy(&o, bias + (i + %d) * %lld + j + %d, sizeof o);", r,
                          (long long)g->bias_si, q * vw);
          else
            sm_buf_printf(b, "o = bias[(i + %d) * %lld] + (vf){0};", r, (long long)g->bias_si);
          if (g->beta != 1) {
            sm_buf_puts(b, " y += ");
            emit_float(b, g->beta);
            sm_buf_puts(b, " * o;");
          } else {
            sm_buf_puts(b, " y += o;");
          }
        } else {
          sm_buf_puts(b, ";");
        }
        sm_buf_printf(b, " memcpy(cp + %lld, &y, sizeof y); }\n", (long long)(r * g->ldc + q * vw));
      }
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
    sm_buf_printf(b, "%s        const int64_t o = %s + (i + r) * %lld + j + q;\n", s2,
                  g->c_off ? g->c_off : "0", (long long)g->ldc);
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
    sm_buf_printf(b, "%s  const int64_t o = %s + (i + r) * %lld + base + q;\n", s3,
                  g->c_off ? g->c_off : "0", ldc);
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

static void core_variant(SmBuf *b, const GemmCore *g, const CoreVar *v) {
  int mr = v->mr, nv = v->nv, vw = v->vw, nr = vw * nv;
  CoreGrid G = core_grid(g, mr, nr);
  long long M = g->M, N = g->N, K = g->K, nb = g->nbatch;
  int64_t mt = ceil_div64(g->M, mr), nt = ceil_div64(g->N, nr);
  bool split_k = G.kc < g->K, has_bias = g->bias && g->beta != 0;
  bool direct_a = core_direct_a(g, nr, G.nc);
  sm_buf_printf(b, "  {\n    /* %d x %d register tile (%d-lane vectors); blocks mc %lld, nc %lld, kc %lld;"
                   " %lld x %lld tasks per product */\n",
                mr, nr, vw, (long long)G.mc, (long long)G.nc, (long long)G.kc,
                (long long)G.tm, (long long)G.tn);
  sm_buf_printf(b, "    typedef float vf __attribute__((vector_size(%d)));\n", vw * 4);
  sm_buf_printf(b, "#if defined(__GNUC__) && !defined(__clang__) && %s\n", v->fma_cond);
  sm_buf_printf(b, "#define SM_FMA(x, y, z) %s\n#else\n", v->fma);
  sm_buf_puts(b, "#define SM_FMA(x, y, z) ((x) * (y) + (z))\n#endif\n");
  int64_t ntask = g->nbatch * G.tm * G.tn, slice_a = core_slice_a(&G, direct_a);
  int64_t slice = slice_a + (g->wide ? 0 : round16(G.nc * G.kc));
  /* a wide-row B: the staged planes and the offsets koff(k), shared, first */
  const GemmWide *w = g->wide;
  int64_t S = w ? wide_stride(g) : 0;
  int64_t shared = w ? w->C * wide_ny(w) * wide_nx(w) * S + round16(g->K) : 0;
  if (shared + G.nthr * slice > ws_floats) ws_floats = shared + G.nthr * slice;
  /* each thread packs into its own slice of the workspace `ws`: at most
   * nthr threads (more would share a slice) */
  if (G.par) {
    sm_buf_printf(b, "    int sm_nt = 1;\n#ifdef _OPENMP\n    sm_nt = omp_get_max_threads() < %lld ? omp_get_max_threads() : %lld;\n#endif\n",
                  (long long)G.nthr, (long long)G.nthr);
    sm_buf_puts(b, "    #pragma omp parallel num_threads(sm_nt)\n    {\n");
    sm_buf_printf(b, "#ifdef _OPENMP\n    float *const ap = ws + %lld + (int64_t)omp_get_thread_num() * %lld;\n"
                     "#else\n    float *const ap = ws + %lld;\n#endif\n",
                  (long long)shared, (long long)slice, (long long)shared);
  } else {
    sm_buf_printf(b, "    {\n    float *const ap = ws + %lld;\n", (long long)shared);
  }
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
    sm_buf_printf(b, "    float *const bp = ap + %lld;\n", (long long)slice_a);
  }
  if (G.par) sm_buf_puts(b, "    #pragma omp for schedule(static)\n");
  sm_buf_printf(b, "    for (int64_t task = 0; task < %lld; task++) {\n", (long long)ntask);
  const char *sp = "      ";
  if (nb > 1) sm_buf_printf(b, "%sconst int64_t t = task / %lld;\n", sp, (long long)(G.tm * G.tn));
  sm_buf_printf(b, "%sconst int64_t tr = task / %lld %% %lld, tc = task %% %lld;\n", sp,
                (long long)G.tn, (long long)G.tm, (long long)G.tn);
  sm_buf_printf(b, "%sconst int64_t i0 = tr * %lld / %lld * %d, j0 = tc * %lld / %lld * %d;\n", sp,
                (long long)mt, (long long)G.tm, mr, (long long)nt, (long long)G.tn, nr);
  sm_buf_printf(b, "%sconst int64_t i1 = (tr + 1) * %lld / %lld * %d < %lld ? (tr + 1) * %lld / %lld * %d : %lld;\n",
                sp, (long long)mt, (long long)G.tm, mr, M, (long long)mt, (long long)G.tm, mr, M);
  sm_buf_printf(b, "%sconst int64_t j1 = (tc + 1) * %lld / %lld * %d < %lld ? (tc + 1) * %lld / %lld * %d : %lld;\n",
                sp, (long long)nt, (long long)G.tn, nr, N, (long long)nt, (long long)G.tn, nr, N);
  sm_buf_printf(b, "%sconst float *a = %s;\n", sp, g->a);
  if (!g->pack_b && !w) sm_buf_printf(b, "%sconst float *bm = %s;\n", sp, g->b);
  sm_buf_printf(b, "%sfloat *c = %s;\n", sp, g->c);
  if (has_bias) sm_buf_printf(b, "%sconst float *bias = %s;\n", sp, g->bias);
  sm_buf_printf(b, "%sfor (int64_t jc = j0; jc < j1; jc += %lld) {\n", sp, (long long)G.nc);
  sm_buf_printf(b, "%s  const int64_t nc = j1 - jc < %lld ? j1 - jc : %lld;\n", sp,
                (long long)G.nc, (long long)G.nc);
  sm_buf_printf(b, "%s  for (int64_t pc = 0; pc < %lld; pc += %lld) {\n", sp, K, (long long)G.kc);
  sm_buf_printf(b, "%s    const int64_t kc = %lld - pc < %lld ? %lld - pc : %lld;\n", sp, K,
                (long long)G.kc, K, (long long)G.kc);
  if (w) sm_buf_printf(b, "%s    const int32_t *ko = koff + pc;\n", sp);
  else if (g->pack_b) g->pack_b(b, g, nr, 10);
  else core_pack_b(b, g, nr, 10);
  sm_buf_printf(b, "%s    for (int64_t ic = i0; ic < i1; ic += %lld) {\n", sp, (long long)G.mc);
  sm_buf_printf(b, "%s      const int64_t mc = i1 - ic < %lld ? i1 - ic : %lld;\n", sp,
                (long long)G.mc, (long long)G.mc);
  if (direct_a) sm_buf_printf(b, "%s      (void)ap;\n", sp);
  else if (g->pack_a) g->pack_a(b, g, mr, 12);
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
    for (int r = 0; r < mr; r++)
      sm_buf_printf(b, "%sconst float *pa%d = a + (ic + ir + %d < %lld ? ic + ir + %d : %lld) * %lld + pc;\n",
                    s2, r, r, M, r, M - 1, (long long)g->as_i);
  } else if (w) {
    sm_buf_printf(b, "%sconst float *pa = ap + ir * kc;\n", s2);
  } else {
    sm_buf_printf(b, "%sconst float *pa = ap + ir * kc, *pb = bp + jr * kc;\n", s2);
  }
  sm_buf_printf(b, "%svf ", s2);
  for (int r = 0; r < mr; r++)
    for (int q = 0; q < nv; q++) sm_buf_printf(b, "%sc%d_%d = {0}", r || q ? ", " : "", r, q);
  sm_buf_puts(b, ";\n");
  sm_buf_printf(b, "%sfor (int64_t k = 0; k < kc; k++) {\n", s2);
  if (w) {
    sm_buf_printf(b, "%s  const float *pk = pb + ko[k];\n", s2);
    for (int q = 0; q < nv; q++)
      sm_buf_printf(b, "%s  vf b%d; memcpy(&b%d, pk + %d, sizeof b%d);\n", s2, q, q, q * vw, q);
  } else {
    for (int q = 0; q < nv; q++)
      sm_buf_printf(b, "%s  const vf b%d = *(const vf *)(pb + k * %d + %d);\n", s2, q, nr, q * vw);
  }
  for (int r = 0; r < mr; r++) {
    /* x - 0 is exact, so the compiler folds it to a plain broadcast load */
    if (direct_a) sm_buf_printf(b, "%s  { const vf x = pa%d[k] - (vf){0};", s2, r);
    else sm_buf_printf(b, "%s  { const vf x = pa[k * %d + %d] - (vf){0};", s2, mr, r);
    for (int q = 0; q < nv; q++) sm_buf_printf(b, " c%d_%d = SM_FMA(x, b%d, c%d_%d);", r, q, q, r, q);
    sm_buf_puts(b, " }\n");
  }
  sm_buf_printf(b, "%s}\n", s2);
  /* store */
  sm_buf_printf(b, "%sconst int64_t i = ic + ir, j = jc + jr;\n", s2);
  if (w) {
    core_store_wide(b, g, v, split_k, has_bias);
  } else {
  sm_buf_printf(b, "%sfloat *cp = c + i * %lld + j;\n", s2, (long long)g->ldc);
  if (!g->epi) {
    core_store_plain(b, g, v, split_k, has_bias);
  } else if (!split_k) {
    sm_buf_printf(b, "%s(void)cp;\n", s2);
    core_store_epilogue(b, g, v, split_k, has_bias);
  } else {
    sm_buf_printf(b, "%sif (pc + kc < %lld) {\n", s2, K);
    core_store_plain(b, g, v, split_k, has_bias);
    sm_buf_printf(b, "%s} else\n", s2);
    core_store_epilogue(b, g, v, split_k, has_bias);
  }
  }
  sm_buf_printf(b, "%s      }\n%s    }\n%s  }\n%s}\n", sp, sp, sp, sp);
  sm_buf_puts(b, "    }\n    }\n#undef SM_FMA\n  }\n");
}

void gemm_core_ws_reset(void) { ws_floats = 0; }

int64_t gemm_core_ws_floats(void) { return ws_floats; }

void gemm_core_emit(SmBuf *b, const GemmCore *g) {
  static const CoreVar wide = {16, 8, 2, "defined(__AVX512F__)",
                               "__builtin_ia32_vfmaddps512_mask((x), (y), (z), (unsigned short)-1, 4)"};
  static const CoreVar narrow = {8, 6, 2, "defined(__FMA__)",
                                 "__builtin_ia32_vfmaddps256((x), (y), (z))"};
  sm_buf_puts(b, "#if defined(__AVX512F__)\n");
  core_variant(b, g, &wide);
  sm_buf_puts(b, "#else\n");
  core_variant(b, g, &narrow);
  sm_buf_puts(b, "#endif\n");
}

/* ======================================================================
 * matmul
 * ====================================================================== */

/* Geometry of a validated matmul: out = batch x [M] x [N] where a 1-D a is
 * [1,K] (M dropped) and a 1-D b is [K,1] (N dropped). */
typedef struct MatGeo {
  int64_t M, K, N;
  IrType abt, bbt, obt; /* batch parts of a, b and the output */
} MatGeo;

static IrType batch_of(const IrType *t) {
  IrType r = {.dtype = t->dtype, .rank = t->rank > 2 ? t->rank - 2 : 0};
  for (int i = 0; i < r.rank; i++) r.dims[i] = t->dims[i];
  return r;
}

static bool mm_geo(const IrNode *n, MatGeo *g) {
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  g->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
  g->K = a->dims[a->rank - 1];
  g->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
  g->abt = batch_of(a);
  g->bbt = batch_of(b);
  return ir_broadcast(&g->abt, &g->bbt, &g->obt);
}

static bool matmul_infer(const IrNode *n, IrType *out, SmDiag *d) {
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  char sa[IR_TYPE_STRLEN], sb[IR_TYPE_STRLEN];
  if (!op_want_float(n, 0, d) || !op_same_dtype(n, d)) return false;
  if (a->rank == 0 || b->rank == 0)
    return op_err(n, d, "operands must be at least 1-D: a is %s, b is %s",
                  OP_TSTR(a, sa), OP_TSTR(b, sb));
  int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (a->dims[a->rank - 1] != kb)
    return op_err(n, d, "inner dimensions differ: a is %s (K=%lld), b is %s (K=%lld)",
                  OP_TSTR(a, sa), (long long)a->dims[a->rank - 1], OP_TSTR(b, sb),
                  (long long)kb);
  MatGeo g;
  if (!mm_geo(n, &g))
    return op_err(n, d, "batch dimensions do not broadcast: a is %s, b is %s",
                  OP_TSTR(a, sa), OP_TSTR(b, sb));
  IrType t = g.obt;
  if (a->rank > 1) t.dims[t.rank++] = g.M;
  if (b->rank > 1) t.dims[t.rank++] = g.N;
  out[0] = t;
  return true;
}

static void matmul_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  int64_t M = g.M, K = g.K, N = g.N, nb = ir_numel(&g.obt);
  int64_t idx[IR_MAX_RANK];
  for (int64_t t = 0; t < nb; t++) {
    ref_unravel(&g.obt, t, idx);
    const double *A = in[0].d + ref_bcast_offset(&g.abt, idx, g.obt.rank) * M * K;
    const double *B = in[1].d + ref_bcast_offset(&g.bbt, idx, g.obt.rank) * K * N;
    double *Y = out[0].d + t * M * N;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
        Y[i * N + j] = s;
      }
  }
}

/* Offset expression (in elements) of the batch matrix of operand type bt
 * (matrices of `mat` elements) for flat output batch index `t`. */
static void batch_offset(SmBuf *e, const IrType *bt, const IrType *obt,
                         int64_t mat) {
  int64_t nb = ir_numel(obt), na = ir_numel(bt);
  if (na == 1) return;
  if (na == nb) { /* same layout as the output batch */
    term(e, mat, "t");
    return;
  }
  int64_t ost[IR_MAX_RANK], st[IR_MAX_RANK];
  ir_strides(obt, ost);
  ir_strides(bt, st);
  for (int d = 0; d < obt->rank; d++) {
    int bd = d - (obt->rank - bt->rank);
    if (bd < 0 || bt->dims[bd] == 1) continue;
    char v[96];
    if (d == 0) snprintf(v, sizeof v, "(t / %lld)", (long long)ost[d]);
    else if (ost[d] == 1) snprintf(v, sizeof v, "(t %% %lld)", (long long)obt->dims[d]);
    else
      snprintf(v, sizeof v, "(t / %lld %% %lld)", (long long)ost[d],
               (long long)obt->dims[d]);
    term(e, st[bd] * mat, v);
  }
}

/* The blocked form (f32, big enough), with an optional epilogue; false
 * (nothing emitted) otherwise. */
static bool matmul_blocked(SmBuf *b, const IrNode *n, const OpEpilogue *epi) {
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  int64_t nb = ir_numel(&g.obt);
  SmBuf ao = {0}, bo = {0}, co = {0};
  sm_buf_puts(&ao, "in0");
  sm_buf_puts(&bo, "in1");
  sm_buf_puts(&co, "out0");
  SmBuf e = {0};
  batch_offset(&e, &g.abt, &g.obt, g.M * g.K);
  if (e.len) sm_buf_printf(&ao, " + %s", e.s);
  sm_buf_free(&e);
  batch_offset(&e, &g.bbt, &g.obt, g.K * g.N);
  if (e.len) sm_buf_printf(&bo, " + %s", e.s);
  sm_buf_free(&e);
  SmBuf coff = {0};
  sm_buf_printf(&coff, "t * %lld", (long long)(g.M * g.N));
  if (nb > 1) sm_buf_printf(&co, " + %s", coff.s);
  sm_buf_printf(b, "  /* matmul: batch %lld, [%lld,%lld] x [%lld,%lld], blocked */\n",
                (long long)nb, (long long)g.M, (long long)g.K, (long long)g.K, (long long)g.N);
  GemmCore c = {.M = g.M, .N = g.N, .K = g.K, .nbatch = nb, .a = sm_buf_str(&ao),
                .b = sm_buf_str(&bo), .c = sm_buf_str(&co), .as_i = g.K, .as_k = 1,
                .bs_k = g.N, .bs_j = 1, .ldc = g.N, .alpha = 1, .beta = 0,
                .epi = epi, .c_off = nb > 1 ? sm_buf_str(&coff) : "0"};
  gemm_core_emit(b, &c);
  sm_buf_free(&ao);
  sm_buf_free(&bo);
  sm_buf_free(&co);
  sm_buf_free(&coff);
  return true;
}

/*   for t (batch), i:  y[i,:] = sum_k a[i,k] * b[k,:]      (N > 1)
 *                      y[i]   = sum_k a[i,k] * b[k]        (N == 1) */
static void matmul_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  if (matmul_blocked(b, n, NULL)) return;
  const char *T = ctype(n);
  long long M = g.M, K = g.K, N = g.N;
  int64_t nb = ir_numel(&g.obt);
  SmBuf ao = {0}, bo = {0};
  batch_offset(&ao, &g.abt, &g.obt, g.M * g.K);
  batch_offset(&bo, &g.bbt, &g.obt, g.K * g.N);
  term(&ao, g.K, "i");
  sm_buf_printf(b, "  /* matmul: batch %lld, [%lld,%lld] x [%lld,%lld] */\n",
                (long long)nb, M, K, K, N);
  int64_t work = nb * g.M * g.K * g.N;
  const char *ind = "    ";
  if (nb > 1) {
    emit_omp_for(b, work, "collapse(2)");
    sm_buf_printf(b, "  for (int64_t t = 0; t < %lld; t++)\n", (long long)nb);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  } else {
    emit_omp_for(b, work, NULL);
    sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  }
  sm_buf_printf(b, "%sconst %s *restrict a = in0%s%s;\n", ind, T,
                ao.len ? " + " : "", sm_buf_str(&ao));
  sm_buf_printf(b, "%sconst %s *restrict bm = in1%s%s;\n", ind, T,
                bo.len ? " + " : "", sm_buf_str(&bo));
  SmBuf yo = {0};
  if (nb > 1) term(&yo, g.M * g.N, "t");
  term(&yo, g.N, "i");
  if (N == 1) {
    sm_buf_printf(b, "%s%s acc = 0;\n", ind, T);
    sm_buf_printf(b, "%sfor (int64_t k = 0; k < %lld; k++) acc += a[k] * bm[k];\n",
                  ind, K);
    sm_buf_printf(b, "%sout0[%s] = acc;\n", ind, yo.len ? yo.s : "0");
  } else {
    sm_buf_printf(b, "%s%s *restrict y = out0%s%s;\n", ind, T, yo.len ? " + " : "",
                  sm_buf_str(&yo));
    sm_buf_printf(b, "%sfor (int64_t j = 0; j < %lld; j++) y[j] = 0;\n", ind, N);
    sm_buf_printf(b, "%sfor (int64_t k = 0; k < %lld; k++) {\n", ind, K);
    sm_buf_printf(b, "%s  const %s av = a[k];\n", ind, T);
    sm_buf_printf(b, "%s  const %s *restrict br = bm + k*%lld;\n", ind, T, N);
    sm_buf_printf(b, "%s  for (int64_t j = 0; j < %lld; j++) y[j] += av * br[j];\n",
                  ind, N);
    sm_buf_printf(b, "%s}\n", ind);
  }
  sm_buf_puts(b, "  }\n");
  sm_buf_free(&ao);
  sm_buf_free(&bo);
  sm_buf_free(&yo);
}

/* ======================================================================
 * gemm
 * ====================================================================== */

typedef struct GemmGeo {
  int64_t M, K, N;
  bool ta, tb;
  double alpha, beta;
} GemmGeo;

static GemmGeo gemm_geo(const IrNode *n) {
  GemmGeo g;
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  g.ta = ir_attr_int(n, "transA", 0) != 0;
  g.tb = ir_attr_int(n, "transB", 0) != 0;
  g.M = a->dims[g.ta ? 1 : 0];
  g.K = a->dims[g.ta ? 0 : 1];
  g.N = b->dims[g.tb ? 0 : 1];
  g.alpha = ir_attr_float(n, "alpha", 1.0);
  g.beta = ir_attr_float(n, "beta", 1.0);
  return g;
}

static bool gemm_infer(const IrNode *n, IrType *out, SmDiag *d) {
  if (!op_want_rank(n, 0, 2, d) || !op_want_rank(n, 1, 2, d) ||
      !op_want_float(n, 0, d) || !op_same_dtype(n, d))
    return false;
  const char *tn[2] = {"transA", "transB"};
  for (int i = 0; i < 2; i++) {
    int64_t v = ir_attr_int(n, tn[i], 0);
    if (v != 0 && v != 1) return op_err(n, d, "%s must be 0 or 1, got %lld", tn[i], (long long)v);
  }
  GemmGeo g = gemm_geo(n);
  const IrType *a = &n->in[0]->type, *b = &n->in[1]->type;
  int64_t kb = b->dims[g.tb ? 1 : 0];
  char sa[IR_TYPE_STRLEN], sb[IR_TYPE_STRLEN];
  if (g.K != kb)
    return op_err(n, d, "inner dimensions differ: a is %s (%sK=%lld), b is %s (%sK=%lld)",
                  OP_TSTR(a, sa), g.ta ? "transA=1, " : "", (long long)g.K,
                  OP_TSTR(b, sb), g.tb ? "transB=1, " : "", (long long)kb);
  if (n->nin == 3) {
    const IrType *c = &n->in[2]->type;
    int64_t mn[2] = {g.M, g.N};
    bool ok = c->rank <= 2;
    for (int i = 0; ok && i < c->rank; i++) {
      int64_t want = mn[2 - c->rank + i];
      ok = c->dims[i] == want || c->dims[i] == 1;
    }
    if (!ok)
      return op_err(n, d, "c is %s, which does not broadcast to [M,N] = [%lld,%lld]",
                    OP_TSTR(c, sa), (long long)g.M, (long long)g.N);
  }
  out[0] = ir_type_make(a->dtype, 2, (int64_t[]){g.M, g.N});
  return true;
}

static void gemm_ref(const IrNode *n, const IrTensor *in, IrTensor *out) {
  GemmGeo g = gemm_geo(n);
  int64_t M = g.M, K = g.K, N = g.N;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = g.ta ? in[0].d[k * M + i] : in[0].d[i * K + k];
        double b = g.tb ? in[1].d[j * K + k] : in[1].d[k * N + j];
        s += a * b;
      }
      double y = g.alpha * s;
      if (n->nin == 3) {
        int64_t idx[2] = {i, j};
        y += g.beta * in[2].d[ref_bcast_offset(&in[2].type, idx, 2)];
      }
      out[0].d[i * N + j] = y;
    }
}

/* alpha*ACC + beta*C(i,j), leaving out factors of 1 and a zero bias */
static void gemm_epilogue(SmBuf *b, const IrNode *n, const GemmGeo *g,
                          const char *acc) {
  if (g->alpha != 1) {
    lit(b, n, g->alpha);
    sm_buf_puts(b, " * ");
  }
  sm_buf_puts(b, acc);
  if (n->nin < 3 || g->beta == 0) return;
  const IrType *c = &n->in[2]->type;
  int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  int64_t cm = c->rank == 2 ? c->dims[0] : 1;
  SmBuf e = {0};
  term(&e, cm == 1 ? 0 : cn, "i");
  term(&e, cn == 1 ? 0 : 1, "j");
  sm_buf_puts(b, " + ");
  if (g->beta != 1) {
    lit(b, n, g->beta);
    sm_buf_puts(b, " * ");
  }
  sm_buf_printf(b, "in2[%s]", e.len ? e.s : "0");
  sm_buf_free(&e);
}

/* The blocked form (f32, big enough), with an optional epilogue; false
 * (nothing emitted) otherwise. */
static bool gemm_blocked(SmBuf *b, const IrNode *n, const OpEpilogue *e) {
  GemmGeo g = gemm_geo(n);
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  GemmCore c = {.M = g.M, .N = g.N, .K = g.K, .nbatch = 1, .a = "in0", .b = "in1",
                .c = "out0", .as_i = g.ta ? 1 : g.K, .as_k = g.ta ? g.M : 1,
                .bs_k = g.tb ? 1 : g.N, .bs_j = g.tb ? g.K : 1, .ldc = g.N,
                .alpha = g.alpha, .beta = g.beta, .epi = e, .c_off = "0"};
  if (n->nin == 3 && g.beta != 0) {
    const IrType *ct = &n->in[2]->type;
    int64_t cn = ct->rank >= 1 ? ct->dims[ct->rank - 1] : 1;
    int64_t cm = ct->rank == 2 ? ct->dims[0] : 1;
    c.bias = "in2";
    c.bias_sj = cn > 1 ? 1 : 0;
    c.bias_si = cm > 1 ? cn : 0;
  }
  gemm_core_emit(b, &c);
  return true;
}

/* transB=0:  for i, k: y[i,:] += a(i,k) * b[k,:]      (then the epilogue)
 * transB=1:  for i, j: y[i,j] = dot(a(i,:), b[j,:])   */
static void gemm_emit(SmBuf *b, const IrNode *n) {
  if (emit_if_empty(b, n)) return;
  GemmGeo g = gemm_geo(n);
  const char *T = ctype(n);
  long long M = g.M, K = g.K, N = g.N;
  if (n->nin == 3 && g.beta == 0) sm_buf_puts(b, "  (void)in2; /* beta = 0 */\n");
  sm_buf_printf(b, "  /* gemm: [%lld,%lld]%s x [%lld,%lld]%s */\n", M, K,
                g.ta ? " (a transposed)" : "", K, N, g.tb ? " (b transposed)" : "");
  if (gemm_blocked(b, n, NULL)) return;
  if (g.M > 1) emit_omp_for(b, g.M * g.K * g.N, NULL); /* rows are the only parallel loop */
  sm_buf_printf(b, "  for (int64_t i = 0; i < %lld; i++) {\n", M);
  char aik[64];
  if (g.ta) snprintf(aik, sizeof aik, "in0[k*%lld + i]", M);
  else snprintf(aik, sizeof aik, "a[k]");
  if (!g.ta) sm_buf_printf(b, "    const %s *restrict a = in0 + i*%lld;\n", T, K);
  if (!g.tb) {
    sm_buf_printf(b, "    %s *restrict y = out0 + i*%lld;\n", T, N);
    sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) y[j] = 0;\n", N);
    sm_buf_printf(b, "    for (int64_t k = 0; k < %lld; k++) {\n", K);
    sm_buf_printf(b, "      const %s av = %s;\n", T, aik);
    sm_buf_printf(b, "      const %s *restrict br = in1 + k*%lld;\n", T, N);
    sm_buf_printf(b, "      for (int64_t j = 0; j < %lld; j++) y[j] += av * br[j];\n", N);
    sm_buf_puts(b, "    }\n");
    if (g.alpha != 1 || (n->nin == 3 && g.beta != 0)) {
      sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) y[j] = ", N);
      gemm_epilogue(b, n, &g, "y[j]");
      sm_buf_puts(b, ";\n");
    }
  } else {
    sm_buf_printf(b, "    for (int64_t j = 0; j < %lld; j++) {\n", N);
    sm_buf_printf(b, "      const %s *restrict br = in1 + j*%lld;\n", T, K);
    sm_buf_printf(b, "      %s acc = 0;\n", T);
    sm_buf_printf(b, "      for (int64_t k = 0; k < %lld; k++) acc += %s * br[k];\n", K, aik);
    sm_buf_printf(b, "      out0[i*%lld + j] = ", N);
    gemm_epilogue(b, n, &g, "acc");
    sm_buf_puts(b, ";\n    }\n");
  }
  sm_buf_puts(b, "  }\n");
}

/* ======================================================================
 * gradients
 * ====================================================================== */

/* gemm(a, b) with the given flags; alpha only when it is not 1 */
static IrValue *grad_gemm(IrGradCtx *cx, IrValue *a, IrValue *b, bool ta, bool tb,
                          double alpha) {
  IrValue *in[2] = {a, b};
  IrNode *m = ir_grad_node(cx, "gemm", in, 2, 1);
  if (ta) ir_set_int(cx->g, m, "transA", 1);
  if (tb) ir_set_int(cx->g, m, "transB", 1);
  if (alpha != 1) ir_set_float(cx->g, m, "alpha", alpha);
  return ir_grad_finish(cx, m);
}

/* With opA = transA ? A^T : A (same for B) and Y = alpha*opA*opB + beta*C:
 *   d opA = alpha * dY opB^T,  d opB = alpha * opA^T dY,  dC = beta * dY
 * summed over C's broadcast dims. A transposed operand takes the transpose
 * of its gradient, so each case is one gemm with the flags chosen below. */
static bool gemm_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                      IrValue **din) {
  IrValue *dy = dout[0];
  if (!dy) return true;
  GemmGeo g = gemm_geo(n);
  IrValue *a = n->in[0], *b = n->in[1];
  if (ir_grad_needed(cx, n, 0))
    din[0] = g.ta ? grad_gemm(cx, b, dy, g.tb, true, g.alpha)   /* alpha opB dY^T */
                  : grad_gemm(cx, dy, b, false, !g.tb, g.alpha); /* alpha dY opB^T */
  if (ir_grad_needed(cx, n, 1))
    din[1] = g.tb ? grad_gemm(cx, dy, a, true, g.ta, g.alpha)   /* alpha dY^T opA */
                  : grad_gemm(cx, a, dy, !g.ta, false, g.alpha); /* alpha opA^T dY */
  if (n->nin == 3 && ir_grad_needed(cx, n, 2) && g.beta != 0) {
    IrValue *dc = ir_grad_unbroadcast(cx, dy, &n->in[2]->type);
    if (g.beta != 1) {
      IrType st = {.dtype = dy->type.dtype, .rank = 0};
      IrValue *in[2] = {dc, ir_grad_fill(cx, &st, g.beta)};
      dc = ir_grad_op(cx, "mul", in, 2);
    }
    din[2] = dc;
  }
  return true;
}

static IrValue *grad_reshape(IrGradCtx *cx, IrValue *v, int rank, const int64_t *dims) {
  IrNode *r = ir_grad_node(cx, "reshape", &v, 1, 1);
  ir_set_ints(cx->g, r, "shape", dims, rank);
  return ir_grad_finish(cx, r);
}

/* swap the last two dims */
static IrValue *grad_transpose(IrGradCtx *cx, IrValue *v) {
  int r = v->type.rank;
  int64_t perm[IR_MAX_RANK];
  for (int i = 0; i < r; i++) perm[i] = i;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  IrNode *t = ir_grad_node(cx, "transpose", &v, 1, 1);
  ir_set_ints(cx->g, t, "perm", perm, r);
  return ir_grad_finish(cx, t);
}

/* Empty operands or result of a product: the operands' gradients are zero
 * (sums over nothing, or empty). Checked first because reshape cannot
 * always express zero-size dims. */
static bool matmul_grad_empty(IrGradCtx *cx, const IrNode *n, const IrValue *dy, IrValue **din) {
  bool empty = ir_numel(&dy->type) == 0;
  for (int i = 0; i < n->nin; i++) empty |= ir_numel(&n->in[i]->type) == 0;
  if (!empty) return false;
  for (int i = 0; i < n->nin; i++)
    if (ir_grad_needed(cx, n, i)) din[i] = ir_grad_fill(cx, &n->in[i]->type, 0);
  return true;
}

/* A 1-D a is the row [1,K] and a 1-D b the column [K,1]; with dY viewed as
 * batch x [M,N]:  dA = dY B^T,  dB = A^T dY,  each summed over the batch
 * dims its operand was broadcast along, then reshaped back to 1-D. The
 * transpose of a 1-D operand is a reshape. */
static bool matmul_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                        IrValue **din) {
  IrValue *dy = dout[0];
  if (!dy || matmul_grad_empty(cx, n, dy, din)) return true;
  MatGeo g;
  SM_ASSERT(mm_geo(n, &g));
  IrValue *a = n->in[0], *b = n->in[1];
  bool a1 = a->type.rank == 1, b1 = b->type.rank == 1;
  if (a1 || b1) { /* dY as batch x [M,N] */
    IrType t = g.obt;
    t.dims[t.rank++] = g.M;
    t.dims[t.rank++] = g.N;
    dy = grad_reshape(cx, dy, t.rank, t.dims);
  }
  if (ir_grad_needed(cx, n, 0)) {
    IrValue *bt = b1 ? grad_reshape(cx, b, 2, (int64_t[]){1, g.K}) : grad_transpose(cx, b);
    IrValue *in[2] = {dy, bt};
    IrValue *da = ir_grad_op(cx, "matmul", in, 2); /* obt x [M,K] */
    IrType at = a->type;
    if (a1) at = ir_type_make(at.dtype, 2, (int64_t[]){1, g.K});
    da = ir_grad_unbroadcast(cx, da, &at);
    if (a1) da = grad_reshape(cx, da, 1, a->type.dims);
    din[0] = da;
  }
  if (ir_grad_needed(cx, n, 1)) {
    IrValue *at = a1 ? grad_reshape(cx, a, 2, (int64_t[]){g.K, 1}) : grad_transpose(cx, a);
    IrValue *in[2] = {at, dy};
    IrValue *db = ir_grad_op(cx, "matmul", in, 2); /* obt x [K,N] */
    IrType bt = b->type;
    if (b1) bt = ir_type_make(bt.dtype, 2, (int64_t[]){g.K, 1});
    db = ir_grad_unbroadcast(cx, db, &bt);
    if (b1) db = grad_reshape(cx, db, 1, b->type.dims);
    din[1] = db;
  }
  return true;
}

static const IrAttrSpec no_attrs[] = {{NULL, 0, false}};
static const IrAttrSpec gemm_attrs[] = {
    {"transA", IR_ATTR_INT, false}, {"transB", IR_ATTR_INT, false},
    {"alpha", IR_ATTR_FLOAT, false}, {"beta", IR_ATTR_FLOAT, false},
    {NULL, 0, false}};

static const IrOpDef op_matmul = {
    .name = "matmul", .min_in = 2, .max_in = 2, .nout = 1, .attrs = no_attrs,
    .infer = matmul_infer, .ref = matmul_ref, .emit = matmul_emit, .grad = matmul_grad,
    .doc = "matrix product, numpy semantics (1-D promotion, batch broadcasting)"};

static const IrOpDef op_gemm = {
    .name = "gemm", .min_in = 2, .max_in = 3, .nout = 1, .attrs = gemm_attrs,
    .infer = gemm_infer, .ref = gemm_ref, .emit = gemm_emit, .grad = gemm_grad,
    .bn_fold = IR_BN_FOLD_GEMM,
    .doc = "alpha*op(a)*op(b) + beta*c (transA, transB, alpha=1, beta=1)"};

const IrOpDef *const ir_ops_linalg[] = {&op_matmul, &op_gemm, NULL};

bool linalg_emit_fused(SmBuf *b, const OpEpilogue *e) {
  const IrNode *n = e->prod;
  if (ir_numel(&n->out[0]->type) == 0) return false;
  if (!strcmp(n->op->name, "matmul")) return matmul_blocked(b, n, e);
  if (strcmp(n->op->name, "gemm") != 0) return false;
  GemmGeo g = gemm_geo(n);
  if (n->out[0]->type.dtype != IR_F32 || !gemm_core_fits(g.M, g.N, g.K)) return false;
  if (n->nin == 3 && g.beta == 0) sm_buf_puts(b, "  (void)in2; /* beta = 0 */\n");
  sm_buf_printf(b, "  /* gemm: [%lld,%lld]%s x [%lld,%lld]%s, fused epilogue */\n", (long long)g.M,
                (long long)g.K, g.ta ? " (a transposed)" : "", (long long)g.K, (long long)g.N,
                g.tb ? " (b transposed)" : "");
  return gemm_blocked(b, n, e);
}

bool linalg_epilogue_in_registers(const IrNode *n) {
  if (ir_numel(&n->out[0]->type) == 0 || n->out[0]->type.dtype != IR_F32) return false;
  if (!strcmp(n->op->name, "matmul")) {
    MatGeo g;
    SM_ASSERT(mm_geo(n, &g));
    return gemm_core_fits(g.M, g.N, g.K) && gemm_core_one_k_block(g.K);
  }
  if (strcmp(n->op->name, "gemm") != 0) return false;
  GemmGeo g = gemm_geo(n);
  return gemm_core_fits(g.M, g.N, g.K) && gemm_core_one_k_block(g.K);
}
