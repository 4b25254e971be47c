/* Model instances and the standalone program around a generated model. */
#include "rt_model.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t tensor_bytes(const RtTensorDesc *t) {
  return (size_t)t->numel * rt_dtype_size(t->dtype);
}

void *rt_model_tensor(const RtModel *m, const RtTensorDesc *t) {
  return (t->region == RT_REGION_PARAMS ? m->params : m->arena) + t->offset;
}

static void init_params(RtModel *m) {
  const RtModelDesc *d = m->desc;
  for (int p = 0; p < d->nparams; p++) {
    const RtTensorDesc *t = &d->params[p];
    void *dst = rt_model_tensor(m, t);
    if (t->embedded) {
      memcpy(dst, t->embedded, tensor_bytes(t));
      continue;
    }
    int64_t fi, fo;
    rt_fans(t->rank, t->dims, &fi, &fo);
    if (t->dtype == RT_F32) {
      rt_init_f32(dst, t->numel, t->init, t->init_a, t->init_b, fi, fo, d->seed,
                  (uint64_t)p);
      continue;
    }
    for (int64_t i = 0; i < t->numel; i++) {
      double v = rt_init_value(t->init, t->init_a, t->init_b, fi, fo, d->seed,
                               (uint64_t)p, (uint64_t)i);
      switch (t->dtype) {
      case RT_F64: ((double *)dst)[i] = v; break;
      case RT_I64: ((int64_t *)dst)[i] = (int64_t)v; break;
      case RT_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
      case RT_U8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
      case RT_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
      default: break;
      }
    }
  }
}

RtModel *rt_model_create(const RtModelDesc *d) {
  RtModel *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->desc = d;
  m->params = rt_alloc(d->param_bytes);
  m->arena = rt_alloc(d->arena_bytes);
  if (!m->params || !m->arena) {
    rt_model_free(m);
    return NULL;
  }
  init_params(m);
  return m;
}

void rt_model_free(RtModel *m) {
  if (!m) return;
  rt_free(m->params);
  rt_free(m->arena);
  free(m);
}

int rt_model_load_weights(RtModel *m, const char *path) {
  RtStFile *f;
  if (rt_st_open(path, &f, &m->err)) return -1;
  const RtModelDesc *d = m->desc;
  int rc = 0;
  for (int p = 0; p < d->nparams && rc == 0; p++) {
    const RtTensorDesc *t = &d->params[p];
    /* weights are required; state (optimizer moments...) is optional */
    if (p >= d->nweights) {
      int found = 0;
      for (int i = 0; i < rt_st_count(f) && !found; i++) found = !strcmp(rt_st_name(f, i), t->name);
      if (!found) continue;
    }
    rc = rt_st_read(f, t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t),
                    &m->err);
  }
  rt_st_close(f);
  return rc;
}

int rt_model_save_weights(RtModel *m, const char *path) {
  const RtModelDesc *d = m->desc;
  RtStEntry *e = calloc((size_t)d->nparams + 1, sizeof *e);
  if (!e) return rt_fail(&m->err, "%s: out of memory", path);
  for (int p = 0; p < d->nweights; p++) {
    const RtTensorDesc *t = &d->params[p];
    e[p] = (RtStEntry){t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t)};
  }
  int rc = rt_st_write(path, e, d->nweights, &m->err);
  free(e);
  return rc;
}

int rt_params_check_finite(const RtModel *m, int n, RtErr *e) {
  const RtModelDesc *d = m->desc;
  for (int p = 0; p < n && p < d->nparams; p++) {
    const RtTensorDesc *t = &d->params[p];
    double v = 0;
    int64_t bad = rt_first_nonfinite(t->dtype, m->params + t->offset, t->numel, &v);
    if (bad >= 0) {
      return rt_fail(e, "%s '%s' holds %s at element %lld",
                     p < d->nweights ? "parameter" : "optimizer state", t->name,
                     isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf", (long long)bad);
    }
  }
  return 0;
}

int rt_train_stop_nonfinite(const RtModel *m, long long epoch, long long step,
                            const char *checkpoint, long long ckpt_epoch) {
  RtErr e = {{0}};
  if (!rt_params_check_finite(m, m->desc->nparams, &e)) return 0;
  fflush(stdout);
  fprintf(stderr, "%s train: error: after epoch %lld (global step %lld), %s; stopping.",
          m->desc->name, epoch, step, e.msg);
  if (checkpoint)
    fprintf(stderr, " %s is untouched (last written after epoch %lld).", checkpoint, ckpt_epoch);
  fprintf(stderr, " Try a lower --lr.\n");
  return 1;
}

int rt_model_find_input(const RtModel *m, const char *name) {
  for (int i = 0; i < m->desc->ninputs; i++)
    if (strcmp(m->desc->inputs[i].name, name) == 0) return i;
  return -1;
}

void rt_model_run(RtModel *m) { m->desc->run(m->params, m->arena); }

int rt_model_find_func(const RtModel *m, const char *name) {
  for (int i = 0; i < m->desc->nfuncs; i++)
    if (strcmp(m->desc->funcs[i].name, name) == 0) return i;
  return -1;
}

void rt_model_run_func(RtModel *m, int fn) { m->desc->funcs[fn].run(m->params, m->arena); }

void *rt_model_func_input(const RtModel *m, int fn, int i) {
  return rt_model_tensor(m, &m->desc->funcs[fn].inputs[i]);
}

const void *rt_model_func_output(const RtModel *m, int fn, int i) {
  return rt_model_tensor(m, &m->desc->funcs[fn].outputs[i]);
}

/* ---- input files ---- */
static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

int rt_load_tensor_file(const char *path, const RtTensorDesc *t, void *dst,
                        RtErr *e) {
  RtArray a;
  char want[128], got[128];
  rt_shape_str(t->dtype, t->rank, t->dims, want, sizeof want);
  if (has_suffix(path, ".npy")) {
    if (rt_npy_read(path, &a, e)) return -1;
    int same = a.dtype == t->dtype && a.rank == t->rank;
    for (int i = 0; same && i < a.rank; i++) same = a.dims[i] == t->dims[i];
    if (!same) {
      rt_shape_str(a.dtype, a.rank, a.dims, got, sizeof got);
      rt_array_free(&a);
      return rt_fail(e, "%s: input '%s' expects %s, file has %s", path, t->name,
                     want, got);
    }
    memcpy(dst, a.data, tensor_bytes(t));
    rt_array_free(&a);
    return 0;
  }
  if (has_suffix(path, ".csv") || has_suffix(path, ".csv.gz") ? rt_csv_read(path, &a, e)
                                                               : rt_idx_read(path, &a, e))
    return -1;
  int64_t per_file = a.rank ? a.numel / (a.dims[0] ? a.dims[0] : 1) : a.numel;
  int64_t batch = t->rank ? t->dims[0] : 1;
  int64_t per_tensor = batch ? t->numel / batch : 0;
  rt_shape_str(a.dtype, a.rank, a.dims, got, sizeof got);
  if (a.rank == 0 || per_file != per_tensor || a.dims[0] < batch) {
    rt_array_free(&a);
    return rt_fail(e,
                   "%s: input '%s' expects %s (%lld samples of %lld elements); "
                   "file has %s",
                   path, t->name, want, (long long)batch, (long long)per_tensor,
                   got);
  }
  if (rt_array_check_ints(&a, path, "input", t, e)) {
    rt_array_free(&a);
    return -1;
  }
  int scale = a.dtype == RT_U8 && (t->dtype == RT_F32 || t->dtype == RT_F64);
  for (int64_t i = 0; i < t->numel; i++)
    rt_elem_put(t->dtype, dst, i, scale ? rt_elem_get(a.dtype, a.data, i) / 255.0 : rt_elem_get(a.dtype, a.data, i));
  rt_array_free(&a);
  return 0;
}

/* ---- standalone program ---- */
static void usage(const RtModelDesc *d, FILE *f) {
  fprintf(f,
          "usage: %s [--weights W.safetensors] --input [NAME=]FILE ... "
          "[--output [NAME=]FILE.npy|.pgm ...]\n"
          "       [--threads N] [--repeat N] [--save-weights W.safetensors]\n"
          "       %s generate --help        (text from a next-token model)\n"
          "       %s bench --help           (step and per-kernel times)\n"
          "%s%s%s"
          "\n"
          "Runs the compiled model '%s'. Without --weights the parameters come "
          "from\nthe declared initializers (seed %llu). Input files: .npy with "
          "the exact dtype\nand shape, or IDX (.gz) and CSV files whose first samples "
          "(rows) fill the batch\n(u8 scaled to [0,1]). Without --output, a summary of "
          "each output is printed. A .pgm output\nis drawn as a grid of grayscale "
          "images (pixel values 0..255, clamped).\nOutput paths are checked before the model runs; "
          "--threads takes 1 to\nmax(64, 8 x CPUs), --repeat at least 1.\n\ninputs:\n",
          d->name, d->name, d->name, d->train ? "       " : "", d->train ? d->name : "",
          !d->train ? "" : d->train->eval_fn >= 0 ? " train|eval --help   (training)\n"
                                                  : " train --help        (training)\n",
          d->name, (unsigned long long)d->seed);
  char s[128];
  for (int i = 0; i < d->ninputs; i++)
    fprintf(f, "  %s %s\n", d->inputs[i].name,
            rt_shape_str(d->inputs[i].dtype, d->inputs[i].rank, d->inputs[i].dims, s, sizeof s));
  fprintf(f, "outputs:\n");
  for (int i = 0; i < d->noutputs; i++)
    fprintf(f, "  %s %s\n", d->outputs[i].name,
            rt_shape_str(d->outputs[i].dtype, d->outputs[i].rank, d->outputs[i].dims, s, sizeof s));
}

/* "name=path" or "path" (then the i-th tensor). Returns the index or -1. */
static int pick(const RtTensorDesc *ts, int n, const char *arg, int *next,
                const char **path) {
  const char *eq = strchr(arg, '=');
  if (eq) {
    *path = eq + 1;
    for (int i = 0; i < n; i++)
      if (strlen(ts[i].name) == (size_t)(eq - arg) &&
          strncmp(ts[i].name, arg, (size_t)(eq - arg)) == 0)
        return i;
    return -1;
  }
  *path = arg;
  return *next < n ? (*next)++ : -1;
}

/* --input/--output V: records the path in paths[] (64 slots) at the
 * tensor V names; prints the error and returns -1 when it names none. */
static int pick_path(const RtModelDesc *d, const RtTensorDesc *ts, int n, const char *kind,
                     const char *v, int *next, const char **paths) {
  const char *path;
  int k = pick(ts, n, v, next, &path);
  if (k < 0 || k >= 64) {
    fprintf(stderr, "%s: error: --%s %s: no such %s (see --help)\n", d->name, kind, v, kind);
    return -1;
  }
  paths[k] = path;
  return 0;
}

static void summarize(const RtModel *m, const RtTensorDesc *t) {
  char s[128];
  printf("%s %s\n", t->name, rt_shape_str(t->dtype, t->rank, t->dims, s, sizeof s));
  if (t->dtype != RT_F32) return;
  const float *x = rt_model_tensor(m, t);
  if (t->rank == 2 && t->dims[1] > 1) {
    int64_t rows = t->dims[0] < 8 ? t->dims[0] : 8, k = t->dims[1];
    for (int64_t r = 0; r < rows; r++) {
      int64_t best = 0;
      for (int64_t j = 1; j < k; j++)
        if (x[r * k + j] > x[r * k + best]) best = j;
      printf("  row %lld: argmax %lld  [", (long long)r, (long long)best);
      for (int64_t j = 0; j < k && j < 10; j++) printf("%s%.4g", j ? " " : "", x[r * k + j]);
      printf("%s]\n", k > 10 ? " ..." : "");
    }
    if (t->dims[0] > rows) printf("  ... %lld more rows\n", (long long)(t->dims[0] - rows));
    return;
  }
  printf("  [");
  for (int64_t i = 0; i < t->numel && i < 10; i++) printf("%s%.6g", i ? " " : "", x[i]);
  printf("%s]\n", t->numel > 10 ? " ..." : "");
}

int rt_main(const RtModelDesc *d, int argc, char **argv) {
  /* Without --threads (or OMP_DYNAMIC), OpenMP may use fewer threads than
   * cores while other processes load the machine: with every core busy, a
   * parallel region waits for descheduled threads at each barrier, which
   * made training steps up to 10x slower on a shared 2-core machine.
   * (Kernels split work by output element, so the thread count changes at
   * most the last bits of parallel loss sums.) */
  if (!getenv("OMP_DYNAMIC")) omp_set_dynamic(1);
  if (d->train && argc > 1 && !strcmp(argv[1], "train"))
    return (d->train->eval_fn < 0 ? rt_steps_train_main : rt_train_main)(d, argc - 1, argv + 1);
  if (d->train && argc > 1 && !strcmp(argv[1], "eval")) {
    if (d->train->eval_fn < 0) {
      fprintf(stderr, "%s: error: '%s' has no eval function (its training steps report their "
              "losses; `infer` runs the model)\n", d->name, d->name);
      return 2;
    }
    return rt_eval_main(d, argc - 1, argv + 1);
  }
  if (argc > 1 && !strcmp(argv[1], "generate")) return rt_generate_main(d, argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "bench")) return rt_bench_main(d, argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "infer")) {
    argv[1] = argv[0];
    argc--;
    argv++;
  }
  const char *weights = NULL, *save = NULL;
  const char *in_path[64] = {0}, *out_path[64] = {0};
  int next_in = 0, next_out = 0, repeat = 1;
  RtErr e = {{0}};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(d, stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "%s: error: unknown or incomplete option '%s' (see --help)\n", d->name, a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--weights")) weights = v;
    else if (!strcmp(a, "--save-weights")) save = v;
    else if (!strcmp(a, "--threads")) {
      int n;
      if (rt_flag_threads(a, v, &n, &e)) {
        fprintf(stderr, "%s: error: %s\n", d->name, e.msg);
        return 2;
      }
      omp_set_dynamic(0);
      omp_set_num_threads(n);
    } else if (!strcmp(a, "--repeat")) {
      if (rt_flag_int32(a, v, 1, 1000000000, &repeat, &e)) {
        fprintf(stderr, "%s: error: %s\n", d->name, e.msg);
        return 2;
      }
    } else if (!strcmp(a, "--input")) {
      if (pick_path(d, d->inputs, d->ninputs, "input", v, &next_in, in_path)) return 2;
    } else if (!strcmp(a, "--output")) {
      if (pick_path(d, d->outputs, d->noutputs, "output", v, &next_out, out_path)) return 2;
    } else {
      fprintf(stderr, "%s: error: unknown option '%s' (see --help)\n", d->name, a);
      return 2;
    }
  }
  for (int i = 0; i < d->ninputs && i < 64; i++)
    if (!in_path[i]) {
      fprintf(stderr, "%s: error: missing --input for '%s' (see --help)\n", d->name,
              d->inputs[i].name);
      return 2;
    }
  /* every destination is checked before any work */
  for (int i = 0; i < d->noutputs && i < 64; i++)
    if (out_path[i] && rt_out_check(out_path[i], &e)) {
      fprintf(stderr, "%s: error: --output %s\n", d->name, e.msg);
      return 1;
    }
  if (save && rt_out_check(save, &e)) {
    fprintf(stderr, "%s: error: --save-weights %s\n", d->name, e.msg);
    return 1;
  }
  RtModel *m = rt_model_create(d);
  if (!m) {
    fprintf(stderr, "%s: error: out of memory\n", d->name);
    return 1;
  }
  int rc = 0;
  if (weights && rt_model_load_weights(m, weights)) {
    fprintf(stderr, "%s: error: %s\n", d->name, m->err.msg);
    rc = 1;
  }
  for (int i = 0; i < d->ninputs && rc == 0; i++)
    if (rt_load_tensor_file(in_path[i], &d->inputs[i], rt_model_tensor(m, &d->inputs[i]), &e)) {
      fprintf(stderr, "%s: error: %s\n", d->name, e.msg);
      rc = 1;
    }
  if (rc == 0) {
    double t0 = rt_now();
    for (int r = 0; r < repeat; r++) rt_model_run(m);
    double dt = (rt_now() - t0) / repeat;
    if (repeat > 1) printf("%s: %.3f ms per run (%d runs)\n", d->name, dt * 1e3, repeat);
    for (int i = 0; i < d->noutputs && rc == 0; i++) {
      const RtTensorDesc *t = &d->outputs[i];
      if (out_path[i]) {
        if (rt_path_is_pgm(out_path[i])
                ? rt_pgm_write_grid(out_path[i], t->dtype, t->rank, t->dims, rt_model_tensor(m, t), &e)
                : rt_npy_write(out_path[i], t->dtype, t->rank, t->dims, rt_model_tensor(m, t), &e)) {
          fprintf(stderr, "%s: error: %s\n", d->name, e.msg);
          rc = 1;
        }
      } else {
        summarize(m, t);
      }
    }
  }
  if (rc == 0 && save && rt_model_save_weights(m, save)) {
    fprintf(stderr, "%s: error: %s\n", d->name, m->err.msg);
    rc = 1;
  }
  rt_model_free(m);
  return rc;
}
