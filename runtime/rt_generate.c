/* `PROG generate`: text from a next-token model. The inference function
 * must take one integer window x[B,T] of token ids and give logits[B,V]
 * for the token that follows it (examples/char_lm.smelt). Each of the
 * first --count rows of the batch holds one sample: its window starts as
 * the prompt (left-padded with token 0), and every round runs the model
 * once, draws the next token of every row from softmax(logits / T) (or
 * takes the argmax at temperature 0), prints it and shifts it into the
 * window. Draws come from rt_uniform(seed, row, round): a run is a pure
 * function of (weights, prompt, seed, temperature). */
#include "rt_model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Vocabularies: ascii96 is id 0 = newline, id k = the printable ASCII
 * character 31 + k (k = 1..95), as examples/data/fortunes.sh writes it;
 * ids prints token ids. */
enum { VOCAB_ASCII96, VOCAB_IDS };

static int char_id(int c) { return c == '\n' ? 0 : c >= 32 && c <= 126 ? c - 31 : -1; }

static void put_token(int vocab, int64_t id) {
  if (vocab == VOCAB_IDS) printf("%lld ", (long long)id);
  else putchar(id == 0 ? '\n' : (int)(31 + id));
}

static void usage(const RtModelDesc *d, FILE *f) {
  fprintf(f,
          "usage: %s generate [--weights W] [options]\n\n"
          "Generates tokens with '%s': the model reads a window of token ids and\n"
          "predicts the next; each new token is drawn, printed and shifted into the\n"
          "window.\n\n"
          "  --weights W         weights (.safetensors; default: the initializers)\n"
          "  --checkpoint C      a training checkpoint instead of --weights\n"
          "  --prompt TEXT       the start of the text (default: a newline); with\n"
          "                      --vocab ids, space-separated token ids\n"
          "  --length N          tokens to generate per sample (default 200)\n"
          "  --temperature T     softmax temperature; 0 takes the most likely token\n"
          "                      (default 0.8)\n"
          "  --count K           independent samples, one per batch row (default 1)\n"
          "  --seed N            sampling seed (default %llu)\n"
          "  --vocab ascii96|ids ascii96: id 0 is a newline, id k the ASCII character\n"
          "                      31+k (examples/data/fortunes.sh); ids: print numbers.\n"
          "                      Default: ascii96 when the model has 96 classes\n"
          "  --threads N         OpenMP threads, 1 to max(64, 8 x CPUs)\n",
          d->name, d->name, (unsigned long long)d->seed);
}

static int load_params(RtModel *m, const char *weights, const char *ckpt, RtErr *e) {
  if (weights && rt_model_load_weights(m, weights)) return *e = m->err, -1;
  if (ckpt) {
    RtStFile *f;
    if (rt_st_open(ckpt, &f, e)) return -1;
    int rc = 0;
    for (int p = 0; p < m->desc->nweights && !rc; p++) {
      const RtTensorDesc *t = &m->desc->params[p];
      rc = rt_st_read(f, t->name, t->dtype, t->rank, t->dims, rt_model_tensor(m, t), e);
    }
    rt_st_close(f);
    return rc;
  }
  return 0;
}

int rt_generate_main(const RtModelDesc *d, int argc, char **argv) {
  const char *weights = NULL, *ckpt = NULL, *prompt = "\n", *vocab_s = NULL;
  double temp = 0.8;
  int64_t length = 200, count = 1, seed = (int64_t)d->seed;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(d, stdout);
      return 0;
    }
    const char *v = i + 1 < argc ? argv[++i] : NULL;
    RtErr fe = {{0}};
    long long n = 0;
    int bad = !v;
    if (bad) {
    } else if (!strcmp(a, "--weights")) weights = v;
    else if (!strcmp(a, "--checkpoint")) ckpt = v;
    else if (!strcmp(a, "--prompt")) prompt = v;
    else if (!strcmp(a, "--vocab")) vocab_s = v, bad = strcmp(v, "ascii96") && strcmp(v, "ids");
    else if (!strcmp(a, "--temperature")) bad = rt_flag_double(a, v, 0, 100, &temp, &fe);
    else if (!strcmp(a, "--length")) bad = rt_flag_int(a, v, 0, 100000000, &n, &fe), length = n;
    else if (!strcmp(a, "--count")) bad = rt_flag_int(a, v, 1, 1000000000, &n, &fe), count = n;
    else if (!strcmp(a, "--seed")) bad = rt_flag_int(a, v, 0, INT64_MAX, &n, &fe), seed = n;
    else if (!strcmp(a, "--threads")) {
      int k = 0;
      bad = rt_flag_threads(a, v, &k, &fe);
      if (!bad) omp_set_dynamic(0), omp_set_num_threads(k);
    } else {
      fprintf(stderr, "%s generate: error: unknown option '%s' (see --help)\n", d->name, a);
      return 2;
    }
    if (bad && fe.msg[0]) {
      fprintf(stderr, "%s generate: error: %s (see --help)\n", d->name, fe.msg);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "%s generate: error: %s '%s' (see --help)\n", d->name,
              v ? "invalid value for" : "missing value for", a);
      return 2;
    }
  }
  const RtFuncDesc *f = &d->funcs[0];
  const RtTensorDesc *xt = f->ninputs == 1 ? &f->inputs[0] : NULL;
  const RtTensorDesc *lt = f->noutputs >= 1 ? &f->outputs[0] : NULL;
  if (!xt || (xt->dtype != RT_I64 && xt->dtype != RT_I32) || xt->rank != 2 || !lt ||
      lt->rank != 2 || lt->dims[0] != xt->dims[0] || (lt->dtype != RT_F32 && lt->dtype != RT_F64)) {
    fprintf(stderr, "%s generate: error: needs a model that maps one integer window "
            "x[B,T] to next-token logits [B,V]\n", d->name);
    return 2;
  }
  if (weights && ckpt) {
    fprintf(stderr, "%s generate: error: give --weights or --checkpoint, not both\n", d->name);
    return 2;
  }
  int64_t B = xt->dims[0], T = xt->dims[1], V = lt->dims[1];
  if (count > B) {
    fprintf(stderr, "%s generate: error: --count %lld exceeds the batch size %lld\n", d->name,
            (long long)count, (long long)B);
    return 2;
  }
  int vocab = vocab_s ? (!strcmp(vocab_s, "ids") ? VOCAB_IDS : VOCAB_ASCII96)
                      : V == 96 ? VOCAB_ASCII96 : VOCAB_IDS;
  if (vocab == VOCAB_ASCII96 && V != 96) {
    fprintf(stderr, "%s generate: error: --vocab ascii96 needs 96 classes; the model has %lld\n",
            d->name, (long long)V);
    return 2;
  }
  /* the prompt as ids */
  int64_t *ids = malloc(sizeof *ids * (strlen(prompt) + 1));
  int64_t np = 0;
  if (!ids) {
    fprintf(stderr, "%s generate: error: out of memory\n", d->name);
    return 1;
  }
  if (vocab == VOCAB_ASCII96) {
    for (const char *p = prompt; *p; p++) {
      int id = char_id((unsigned char)*p);
      if (id < 0) {
        fprintf(stderr, "%s generate: error: --prompt: character 0x%02x at offset %lld is not "
                "in the ascii96 vocabulary\n", d->name, (unsigned char)*p, (long long)(p - prompt));
        free(ids);
        return 2;
      }
      ids[np++] = id;
    }
  } else {
    for (const char *p = prompt; *p;) {
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end == p || v < 0 || v >= V) {
        if (end == p && (*p == ' ' || *p == '\n')) {
          p++;
          continue;
        }
        fprintf(stderr, "%s generate: error: --prompt: want token ids in [0, %lld)\n", d->name,
                (long long)V);
        free(ids);
        return 2;
      }
      ids[np++] = v;
      p = end;
    }
  }
  RtModel *m = rt_model_create(d);
  RtErr e = {{0}};
  double *prob = malloc(sizeof *prob * (size_t)V);
  int rc = !m || !prob ? (rt_fail(&e, "out of memory"), 1) : 0;
  if (!rc && load_params(m, weights, ckpt, &e)) rc = 1;
  if (rc) {
    fprintf(stderr, "%s generate: error: %s\n", d->name, e.msg);
    rt_model_free(m);
    free(prob);
    free(ids);
    return rc;
  }
  void *x = rt_model_tensor(m, xt);
  const void *logits = rt_model_tensor(m, lt);
  /* every row's window: the last T prompt ids, left-padded with 0 */
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < T; j++) {
      int64_t k = np - T + j;
      rt_elem_put(xt->dtype, x, r * T + j, k >= 0 ? (double)ids[k] : 0);
    }
  /* samples are printed one after another, each after the prompt */
  int64_t *out = malloc(sizeof *out * (size_t)(count * (length + 1)));
  if (!out) {
    fprintf(stderr, "%s generate: error: out of memory for %lld x %lld tokens\n", d->name,
            (long long)count, (long long)length);
    rt_model_free(m);
    free(prob);
    free(ids);
    return 1;
  }
  for (int64_t t = 0; t < length; t++) {
    rt_model_run(m);
    for (int64_t r = 0; r < count; r++) {
      double mx = -INFINITY;
      int64_t best = 0;
      for (int64_t c = 0; c < V; c++) {
        double z = rt_elem_get(lt->dtype, logits, r * V + c);
        if (z > mx) mx = z, best = c;
      }
      int64_t next = best;
      if (temp > 0) {
        double s = 0;
        for (int64_t c = 0; c < V; c++)
          s += prob[c] = exp((rt_elem_get(lt->dtype, logits, r * V + c) - mx) / temp);
        double u = rt_uniform((uint64_t)seed, (uint64_t)r, (uint64_t)t) * s, acc = 0;
        next = V - 1;
        for (int64_t c = 0; c < V; c++)
          if ((acc += prob[c]) > u) {
            next = c;
            break;
          }
      }
      out[r * length + t] = next;
      /* shift the window left and append */
      for (int64_t j = 0; j + 1 < T; j++)
        rt_elem_put(xt->dtype, x, r * T + j, rt_elem_get(xt->dtype, x, r * T + j + 1));
      rt_elem_put(xt->dtype, x, r * T + T - 1, (double)next);
    }
  }
  for (int64_t r = 0; r < count; r++) {
    if (count > 1) printf("%s--- sample %lld ---\n", r ? "\n" : "", (long long)r + 1);
    for (int64_t k = 0; k < np; k++) put_token(vocab, ids[k]);
    for (int64_t t = 0; t < length; t++) put_token(vocab, out[r * length + t]);
  }
  printf("\n");
  fflush(stdout);
  free(out);
  free(prob);
  free(ids);
  rt_model_free(m);
  return 0;
}
