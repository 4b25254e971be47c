/* Hostile ONNX files (issue 13, items 4 and 8): each model is written byte
 * by byte with the small protobuf encoder below (no Python needed), so the
 * suite is fast and runs under ASan+UBSan. The importer must answer every
 * one with an error naming what is wrong: no stack overflow from nested
 * subgraphs or types, no quadratic merging of repeated singular fields, no
 * decoded size far beyond the file's, no assertion from a node's output
 * count, no integer overflow from attributes near 2^63, no name given
 * twice, and external data only from regular files inside the model's
 * directory (no symbolic link out of it, no FIFO that blocks, no sparse
 * file claiming terabytes). `test_onnx_hostile NAME` runs one test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "frontend/frontend.h"
#include "helpers/shell.h"

/* ---- a protobuf encoder, just enough for ONNX models ---- */
typedef struct Pb {
  uint8_t *p;
  size_t n, cap;
} Pb;

static void pb_put(Pb *b, const void *s, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void pb_varint(Pb *b, uint64_t v) {
  uint8_t t[10];
  int n = 0;
  while (v >= 0x80) t[n++] = (uint8_t)(v | 0x80), v >>= 7;
  t[n++] = (uint8_t)v;
  pb_put(b, t, (size_t)n);
}

static void pb_int(Pb *b, int field, uint64_t v) {
  pb_varint(b, (uint64_t)field << 3);
  pb_varint(b, v);
}

static void pb_bytes(Pb *b, int field, const void *s, size_t n) {
  pb_varint(b, (uint64_t)field << 3 | 2);
  pb_varint(b, n);
  pb_put(b, s, n);
}

static void pb_str(Pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* sub as a message field of b; sub is freed */
static void pb_msg(Pb *b, int field, Pb *sub) {
  pb_bytes(b, field, sub->p, sub->n);
  free(sub->p);
  *sub = (Pb){0};
}

/* ValueInfoProto: a float tensor [2, 3] */
static void pb_value_info(Pb *g, int field, const char *name) {
  Pb dim2 = {0}, dim3 = {0}, shape = {0}, tensor = {0}, type = {0}, vi = {0};
  pb_int(&dim2, 1, 2);
  pb_int(&dim3, 1, 3);
  pb_msg(&shape, 1, &dim2);
  pb_msg(&shape, 1, &dim3);
  pb_int(&tensor, 1, 1); /* elem_type FLOAT */
  pb_msg(&tensor, 2, &shape);
  pb_msg(&type, 1, &tensor);
  pb_str(&vi, 1, name);
  pb_msg(&vi, 2, &type);
  pb_msg(g, field, &vi);
}

/* NodeProto: op (inputs; outputs), names NULL-terminated */
static void pb_node(Pb *g, const char *op, const char *const *in, const char *const *out) {
  Pb nd = {0};
  for (; in && *in; in++) pb_str(&nd, 1, *in);
  for (; out && *out; out++) pb_str(&nd, 2, *out);
  pb_str(&nd, 4, op);
  pb_msg(g, 1, &nd);
}

/* ModelProto: IR 8, opset 13, graph g (freed) */
static Pb pb_model(Pb *g) {
  Pb m = {0}, ops = {0};
  pb_int(&m, 1, 8);
  pb_str(&ops, 1, "");
  pb_int(&ops, 2, 13);
  pb_msg(&m, 8, &ops);
  pb_msg(&m, 7, g);
  return m;
}

/* Import bytes; the status, the diagnostics in text[] (which must be
 * non-empty on failure, with no graph). */
static SmStatus import(const Pb *m, const char *name, char *text, size_t n) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  SmStatus s = fe_load_onnx_mem(name, m->p, m->n, NULL, &g, &d);
  snprintf(text, n, "%s", sm_diag_text(&d));
  if (s != SM_OK) {
    assert_null(g);
    assert_true(d.nerrors > 0);
  }
  ir_graph_free(g);
  sm_diag_free(&d);
  return s;
}

static void expect_error(const Pb *m, const char *name, const char *msg) {
  char text[4096];
  SmStatus s = import(m, name, text, sizeof text);
  if (s == SM_OK || !strstr(text, msg)) {
    print_error("%s: expected an error with \"%s\", got status %d:\n%s\n", name, msg, (int)s, text);
    fail();
  }
}

/* ---- 4a: nesting, merging, decoded size ---- */

/* If nodes whose then_branch holds the next If, `depth` graphs deep. */
static Pb nested_ifs(int depth) {
  Pb g = {0};
  for (int i = 0; i < depth; i++) {
    Pb at = {0}, nd = {0}, outer = {0};
    pb_str(&at, 1, "then_branch");
    pb_int(&at, 20, 5); /* type GRAPH */
    pb_msg(&at, 6, &g);
    pb_str(&nd, 1, "x");
    pb_str(&nd, 2, "y");
    pb_str(&nd, 4, "If");
    pb_msg(&nd, 5, &at);
    pb_msg(&outer, 1, &nd);
    g = outer;
  }
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 12, "y");
  return pb_model(&g);
}

static void test_nested_subgraphs(void **state) {
  (void)state;
  Pb m = nested_ifs(3000); /* about 100 KB: overflowed the stack in protobuf-c */
  expect_error(&m, "deep.onnx", "nests graphs more than 64 deep");
  free(m.p);
  /* a few levels pass the check: the message is about If itself */
  m = nested_ifs(8);
  expect_error(&m, "if.onnx", "operators smelt does not support");
  free(m.p);
}

/* the export path decodes the model with protobuf-c too */
static void test_nested_export(void **state) {
  (void)state;
  char dir[] = "/tmp/smelt-hostile-XXXXXX", path[256], out[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/deep.onnx", dir);
  snprintf(out, sizeof out, "%s/out.onnx", dir);
  Pb m = nested_ifs(3000);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(m.p, 1, m.n, f), m.n);
  fclose(f);
  free(m.p);
  SmDiag d;
  sm_diag_init(&d);
  assert_int_not_equal(fe_onnx_export(path, "/nonexistent.safetensors", out, NULL, &d), SM_OK);
  assert_non_null(strstr(sm_diag_text(&d), "nests graphs more than 64 deep"));
  sm_diag_free(&d);
  assert_int_equal(access(out, F_OK), -1);
  sh("rm -rf %s", dir);
}

/* sequence(sequence(...(float))) 20000 deep as a graph input's type */
static void test_nested_types(void **state) {
  (void)state;
  Pb t = {0};
  pb_int(&t, 1, 1);
  Pb tt = {0};
  pb_msg(&tt, 1, &t);
  for (int i = 0; i < 20000; i++) {
    Pb seq = {0}, outer = {0};
    pb_msg(&seq, 1, &tt); /* Sequence.elem_type */
    pb_msg(&outer, 4, &seq); /* TypeProto.sequence_type */
    tt = outer;
  }
  Pb g = {0}, vi = {0};
  pb_str(&vi, 1, "x");
  pb_msg(&vi, 2, &tt);
  pb_msg(&g, 11, &vi);
  pb_value_info(&g, 12, "x");
  Pb m = pb_model(&g);
  expect_error(&m, "types.onnx", "nests messages more than 256 deep");
  free(m.p);
}

/* ModelProto.graph given 20000 times: protobuf-c merges each repeat into a
 * copy of the ones before (quadratic; seconds here, minutes at 400k) */
static void test_repeated_singular_field(void **state) {
  (void)state;
  Pb m = {0}, ops = {0};
  pb_int(&m, 1, 8);
  pb_str(&ops, 1, "");
  pb_int(&ops, 2, 13);
  pb_msg(&m, 8, &ops);
  for (int i = 0; i < 20000; i++) {
    Pb g = {0};
    pb_node(&g, "Relu", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    pb_msg(&m, 7, &g);
  }
  expect_error(&m, "merge.onnx", "field graph of onnx.ModelProto appears twice");
  free(m.p);
}

/* one node with 500k empty attributes: 1 MB of file, 128 MB of structs */
static void test_decode_blowup(void **state) {
  (void)state;
  Pb nd = {0};
  pb_str(&nd, 4, "Relu");
  for (int i = 0; i < 500000; i++) pb_bytes(&nd, 5, NULL, 0);
  Pb g = {0};
  pb_msg(&g, 1, &nd);
  Pb m = pb_model(&g);
  expect_error(&m, "blowup.onnx", "the protobuf would decode to over");
  free(m.p);
}

/* truncated and malformed wire data still gets one clear error */
static void test_bad_wire(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t n;
    const char *msg;
  } cases[] = {
      {"\x3a\x05\x0a", 3, "runs past its end"},       /* graph longer than the file */
      {"\x08\xff\xff\xff", 4, "truncated varint"},      /* ir_version cut short */
      {"\x00\x01", 2, "bad field tag"},                /* field number 0 */
      {"\x0b\x0c", 2, "wire type 3"},                     /* start-group wire type */
      {"\x09\x01\x02", 3, "truncated field"},          /* fixed64 cut short */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    Pb m = {0};
    pb_put(&m, cases[i].bytes, cases[i].n);
    expect_error(&m, "wire.onnx", cases[i].msg);
    free(m.p);
  }
}

/* ---- 4b: nodes with more inputs or outputs than their op has ---- */

/* x -> op -> (outs...); `use` is the graph output (and, with `consume`, a
 * Relu reads it first) */
static Pb one_node(const char *op, const char *const *in, const char *const *out, const char *use,
                   bool consume) {
  Pb g = {0};
  pb_node(&g, op, in, out);
  if (consume) pb_node(&g, "Relu", (const char *[]){use, NULL}, (const char *[]){"r", NULL});
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 12, consume ? "r" : use);
  return pb_model(&g);
}

static void test_extra_outputs(void **state) {
  (void)state;
  static const char *const ops[] = {"Relu", "Mean", "Identity", "Sigmoid", "MatMul", "Add"};
  for (int i = 0; i < 6; i++) {
    const char *op = ops[i];
    bool two = !strcmp(op, "MatMul") || !strcmp(op, "Add");
    const char *const *in = two ? (const char *[]){"x", "x", NULL} : (const char *[]){"x", NULL};
    char msg[128];
    snprintf(msg, sizeof msg, "node 0 '' (%s): error: has 2 outputs; %s has 1", op, op);
    for (int consume = 0; consume < 2; consume++) {
      Pb m = one_node(op, in, (const char *[]){"y", "z", NULL}, "z", consume);
      expect_error(&m, "outs.onnx", msg);
      free(m.p);
    }
  }
  /* an op with optional outputs may declare them */
  Pb m = one_node("Dropout", (const char *[]){"x", NULL}, (const char *[]){"y", "mask", NULL}, "y", false);
  char text[4096];
  assert_int_equal(import(&m, "dropout.onnx", text, sizeof text), SM_OK);
  free(m.p);
  m = one_node("Dropout", (const char *[]){"x", NULL}, (const char *[]){"y", "mask", "z", NULL}, "y", false);
  expect_error(&m, "dropout3.onnx", "has 3 outputs; Dropout has 1 to 2");
  free(m.p);
}

static void test_input_counts(void **state) {
  (void)state;
  Pb m = one_node("Add", (const char *[]){"x", NULL}, (const char *[]){"y", NULL}, "y", false);
  expect_error(&m, "add1.onnx", "has 1 inputs; Add takes 2");
  free(m.p);
  m = one_node("Relu", (const char *[]){"x", "x", NULL}, (const char *[]){"y", NULL}, "y", false);
  expect_error(&m, "relu2.onnx", "has 2 inputs; Relu takes 1");
  free(m.p);
  m = one_node("Relu", (const char *[]){"", NULL}, (const char *[]){"y", NULL}, "y", false);
  expect_error(&m, "relu0.onnx", "input 0 is empty; Relu needs its first 1 input");
  free(m.p);
  m = one_node("Relu", (const char *[]){"x", NULL}, NULL, "x", false);
  expect_error(&m, "noout.onnx", "has 0 outputs; Relu has 1");
  free(m.p);
  m = one_node("Clip", (const char *[]){"x", "", "", "x", NULL}, (const char *[]){"y", NULL}, "y", false);
  expect_error(&m, "clip4.onnx", "has 4 inputs; Clip takes 1 to 3");
  free(m.p);
}

/* ---- attribute values that overflowed the importer's own arithmetic ---- */

/* AttributeProto INTS name=v[0..n) */
static void pb_ints_attr(Pb *nd, const char *name, const int64_t *v, int n) {
  Pb at = {0};
  pb_str(&at, 1, name);
  pb_int(&at, 20, 7); /* INTS */
  for (int i = 0; i < n; i++) pb_int(&at, 8, (uint64_t)v[i]);
  pb_msg(nd, 5, &at);
}

/* window attributes near INT64_MAX overflowed the importer's own output
 * size arithmetic (UBSan: signed integer overflow) */
static void test_window_overflow(void **state) {
  (void)state;
  static const struct {
    const char *op, *attr, *msg;
    int64_t v;
    bool same;
  } cases[] = {
      {"Conv", "strides", "strides and dilations must be between 1 and 2^20", INT64_MAX, true},
      {"Conv", "dilations", "strides and dilations must be between 1 and 2^20", INT64_MAX, true},
      {"MaxPool", "kernel_shape", "kernel size -9223372036854775807 is out of range", -INT64_MAX, true},
      {"ConvTranspose", "strides", "strides and dilations must be at most 2^20", INT64_MAX, true},
      {"ConvTranspose", "output_padding", "output_padding or output_shape out of range", INT64_MAX, false},
      {"ConvTranspose", "output_shape", "output_padding or output_shape out of range", -INT64_MAX, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    bool pool = !strcmp(cases[i].op, "MaxPool");
    Pb nd = {0}, g = {0}, t = {0}, ap = {0};
    pb_str(&nd, 1, "x");
    if (!pool) pb_str(&nd, 1, "w");
    pb_str(&nd, 2, "y");
    pb_str(&nd, 4, cases[i].op);
    int64_t v2[2] = {cases[i].v, cases[i].v}, k[2] = {3, 3};
    pb_ints_attr(&nd, cases[i].attr, v2, 2);
    if (pool && strcmp(cases[i].attr, "kernel_shape")) pb_ints_attr(&nd, "kernel_shape", k, 2);
    if (cases[i].same) {
      pb_str(&ap, 1, "auto_pad");
      pb_int(&ap, 20, 3); /* STRING */
      pb_str(&ap, 4, "SAME_UPPER");
      pb_msg(&nd, 5, &ap);
    }
    pb_msg(&g, 1, &nd);
    static const float w[9] = {0};
    for (int d = 0; d < 4; d++) pb_int(&t, 1, d < 2 ? 1 : 3); /* w [1, 1, 3, 3] */
    pb_int(&t, 2, 1);
    pb_str(&t, 8, "w");
    pb_bytes(&t, 9, w, sizeof w);
    if (!pool) pb_msg(&g, 5, &t);
    else free(t.p);
    Pb dim = {0}, shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int d = 0; d < 4; d++) { /* x [1, 1, 8, 8] */
      pb_int(&dim, 1, d < 2 ? 1 : 8);
      pb_msg(&shape, 1, &dim);
    }
    pb_int(&tensor, 1, 1);
    pb_msg(&tensor, 2, &shape);
    pb_msg(&type, 1, &tensor);
    pb_str(&vi, 1, "x");
    pb_msg(&vi, 2, &type);
    pb_msg(&g, 11, &vi);
    pb_str(&vi, 1, "y");
    pb_msg(&g, 12, &vi);
    Pb m = pb_model(&g);
    char name[64];
    snprintf(name, sizeof name, "%s-%s.onnx", cases[i].op, cases[i].attr);
    expect_error(&m, name, cases[i].msg);
    free(m.p);
  }
}

/* ValueInfoProto: a float tensor of the given dims */
static void pb_value_info_dims(Pb *g, int field, const char *name, const int64_t *dims, int rank) {
  Pb dim = {0}, shape = {0}, tensor = {0}, type = {0}, vi = {0};
  for (int d = 0; d < rank; d++) {
    pb_int(&dim, 1, (uint64_t)dims[d]);
    pb_msg(&shape, 1, &dim);
  }
  pb_int(&tensor, 1, 1);
  pb_msg(&tensor, 2, &shape);
  pb_msg(&type, 1, &tensor);
  pb_str(&vi, 1, name);
  pb_msg(&vi, 2, &type);
  pb_msg(g, field, &vi);
}

/* LSTM hidden_size near 2^62: the gate count times it overflowed */
static void test_recurrent_hidden_size(void **state) {
  (void)state;
  Pb nd = {0}, g = {0}, at = {0};
  const char *in[] = {"x", "w", "r"};
  for (int i = 0; i < 3; i++) pb_str(&nd, 1, in[i]);
  pb_str(&nd, 2, "y");
  pb_str(&nd, 4, "LSTM");
  pb_str(&at, 1, "hidden_size");
  pb_int(&at, 20, 2); /* INT */
  pb_int(&at, 3, (uint64_t)1 << 62);
  pb_msg(&nd, 5, &at);
  pb_msg(&g, 1, &nd);
  static const int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 8, 3}, rd[3] = {1, 8, 2};
  pb_value_info_dims(&g, 11, "x", xd, 3);
  pb_value_info_dims(&g, 11, "w", wd, 3);
  pb_value_info_dims(&g, 11, "r", rd, 3);
  pb_value_info_dims(&g, 12, "y", NULL, 0);
  Pb m = pb_model(&g);
  expect_error(&m, "lstm.onnx", "do not match hidden_size 4611686018427387904");
  free(m.p);
}

/* a float index of +-1e30 is named in the message saturated, without a
 * float to integer conversion out of range (undefined; x86 gave -2^63) */
static void test_gather_float_index(void **state) {
  (void)state;
  static const float bad[2] = {1e30f, -1e30f};
  static const char *const msg[2] = {"index 9223372036854775807 is out of range for dim 3",
                                     "index -9223372036854775808 is out of range for dim 3"};
  for (int k = 0; k < 2; k++) {
    Pb g = {0}, x = {0}, ix = {0};
    pb_node(&g, "Gather", (const char *[]){"c", "i", NULL}, (const char *[]){"y", NULL});
    static const int64_t cv[3] = {1, 2, 3};
    pb_int(&x, 1, 3);
    pb_int(&x, 2, 7); /* INT64 */
    pb_str(&x, 8, "c");
    pb_bytes(&x, 9, cv, sizeof cv);
    pb_msg(&g, 5, &x);
    pb_int(&ix, 1, 1);
    pb_int(&ix, 2, 1); /* FLOAT */
    pb_str(&ix, 8, "i");
    pb_bytes(&ix, 9, &bad[k], sizeof bad[k]);
    pb_msg(&g, 5, &ix);
    pb_value_info_dims(&g, 12, "y", NULL, 0);
    Pb m = pb_model(&g);
    expect_error(&m, "gather.onnx", msg[k]);
    free(m.p);
  }
}

/* ---- names given twice ---- */

/* names given twice: an input would become two program inputs (x, x_1),
 * an initializer silently the second of its values */
static void test_duplicate_names(void **state) {
  (void)state;
  Pb g = {0};
  pb_node(&g, "Relu", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 12, "y");
  Pb m = pb_model(&g);
  expect_error(&m, "dupin.onnx", "graph input 'x' is declared twice");
  free(m.p);
  static const float w[6] = {0, 1, 2, 3, 4, 5};
  pb_node(&g, "Add", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
  for (int k = 0; k < 2; k++) {
    Pb t = {0};
    pb_int(&t, 1, 2);
    pb_int(&t, 1, 3);
    pb_int(&t, 2, 1);
    pb_str(&t, 8, "w");
    pb_bytes(&t, 9, w, sizeof w);
    pb_msg(&g, 5, &t);
  }
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 12, "y");
  m = pb_model(&g);
  expect_error(&m, "dupinit.onnx", "initializer 'w' is given twice");
  free(m.p);
}

/* ---- 8: external data stays inside the model's directory ---- */
static char tmp[] = "/tmp/smelt-hostile-XXXXXX";

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(tmp)) return -1;
  if (sh("mkdir -p %s/model/sub %s/outside && printf 'abcdefghijklmnopqrstuvwx' > %s/outside/secret.bin",
         tmp, tmp, tmp))
    return -1;
  char path[512];
  snprintf(path, sizeof path, "%s/model/sub/w.bin", tmp);
  FILE *f = fopen(path, "wb");
  const float w[6] = {0, 1, 2, 3, 4, 5};
  if (!f || fwrite(w, sizeof w, 1, f) != 1) return -1;
  return fclose(f);
}

static int teardown(void **state) {
  (void)state;
  sh("rm -rf %s", tmp);
  return 0;
}

/* model/NAME.onnx: y = x + w, w f32 [rows, 3] in external file `loc` */
static void ext_model_rows(const char *name, const char *loc, const char *offset, int64_t rows,
                           char *path, size_t n) {
  Pb t = {0}, kv = {0}, g = {0};
  pb_int(&t, 1, (uint64_t)rows);
  pb_int(&t, 1, 3);
  pb_int(&t, 2, 1);
  pb_str(&t, 8, "w");
  pb_str(&kv, 1, "location");
  pb_str(&kv, 2, loc);
  pb_msg(&t, 13, &kv);
  if (offset) {
    pb_str(&kv, 1, "offset");
    pb_str(&kv, 2, offset);
    pb_msg(&t, 13, &kv);
  }
  pb_int(&t, 14, 1); /* EXTERNAL */
  pb_node(&g, "Add", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
  pb_msg(&g, 5, &t);
  pb_value_info(&g, 11, "x");
  pb_value_info(&g, 12, "y");
  Pb m = pb_model(&g);
  snprintf(path, n, "%s/model/%s.onnx", tmp, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(m.p, 1, m.n, f), m.n);
  fclose(f);
  free(m.p);
}

/* the same with w [2, 3] */
static void ext_model(const char *name, const char *loc, const char *offset, char *path, size_t n) {
  ext_model_rows(name, loc, offset, 2, path, n);
}

/* Import path; the diagnostics in text[]. An imported w must hold 0..5
 * (the bytes of sub/w.bin), else the status is SM_ERR_INTERNAL. */
static SmStatus load(const char *path, char *text, size_t n) {
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  SmStatus s = fe_load_onnx(path, NULL, &g, &d);
  snprintf(text, n, "%s", sm_diag_text(&d));
  if (s == SM_OK) {
    const float *w = g->nparams == 1 ? g->params[0]->data : NULL;
    for (int i = 0; i < 6; i++)
      if (!w || w[i] != (float)i) s = SM_ERR_INTERNAL;
  } else {
    assert_null(g);
  }
  ir_graph_free(g);
  sm_diag_free(&d);
  return s;
}

static void test_external_symlink_out(void **state) {
  (void)state;
  char path[512], text[4096], link[512];
  /* a symbolic link next to the model, to a file outside its directory */
  snprintf(link, sizeof link, "%s/model/leak.bin", tmp);
  assert_int_equal(sh("ln -s ../outside/secret.bin %s", link), 0);
  ext_model("leak", "leak.bin", NULL, path, sizeof path);
  assert_int_equal(load(path, text, sizeof text), SM_ERR_INVALID); /* not read as weights */
  assert_non_null(strstr(text, "tensor 'w': external data location 'leak.bin' resolves to "));
  assert_non_null(strstr(text, "/outside/secret.bin, outside the model's directory"));
  /* a link to a directory that leads out */
  assert_int_equal(sh("ln -s ../outside %s/model/out", tmp), 0);
  ext_model("leakdir", "out/secret.bin", NULL, path, sizeof path);
  assert_int_equal(load(path, text, sizeof text), SM_ERR_INVALID);
  assert_non_null(strstr(text, "external data location 'out/secret.bin' resolves to "));
  /* and inspect --format smelt writes nothing */
  const char *smelt = getenv("SMELT_BIN");
  if (smelt) {
    ext_model("leak", "leak.bin", NULL, path, sizeof path);
    assert_int_equal(sh("cd %s && %s inspect %s --format smelt -o leak 2>/dev/null", tmp, smelt, path), 2);
    char st[512];
    snprintf(st, sizeof st, "%s/leak.safetensors", tmp);
    assert_int_equal(access(st, F_OK), -1);
  }
}

static void test_external_inside(void **state) {
  (void)state;
  char path[512], text[4096];
  ext_model("good", "sub/w.bin", NULL, path, sizeof path);
  assert_int_equal(load(path, text, sizeof text), SM_OK);
  /* a link that stays inside the directory is fine */
  assert_int_equal(sh("ln -sf sub/w.bin %s/model/alias.bin", tmp), 0);
  ext_model("alias", "alias.bin", NULL, path, sizeof path);
  assert_int_equal(load(path, text, sizeof text), SM_OK);
  /* offsets are numbers */
  ext_model("badoff", "sub/w.bin", "12abc", path, sizeof path);
  assert_int_not_equal(load(path, text, sizeof text), SM_OK);
  assert_non_null(strstr(text, "tensor 'w': external data offset \"12abc\" is not a non-negative integer"));
  ext_model("negoff", "sub/w.bin", "-4", path, sizeof path);
  assert_int_not_equal(load(path, text, sizeof text), SM_OK);
  assert_non_null(strstr(text, "external data offset \"-4\""));
  /* a directory is not a weights file */
  ext_model("dir", "sub", NULL, path, sizeof path);
  assert_int_not_equal(load(path, text, sizeof text), SM_OK);
  assert_non_null(strstr(text, "tensor 'w': external data location 'sub': "));
  assert_non_null(strstr(text, "not a regular file"));
}

/* a sparse file claiming 3 TB: refused before anything is allocated
 * (sm_xmalloc aborted on the failed allocation) */
static void test_external_sparse(void **state) {
  (void)state;
  char path[512], big[512], text[4096];
  snprintf(big, sizeof big, "%s/model/huge.bin", tmp);
  int64_t rows = (int64_t)1 << 38; /* [2^38, 3] f32: 3 TB of data, 6 TB as doubles */
  FILE *f = fopen(big, "wb");
  assert_non_null(f);
  fclose(f);
  if (truncate(big, rows * 12) != 0) {
    printf("skipped: the file system has no sparse files\n");
    unlink(big);
    return;
  }
  ext_model_rows("huge", "huge.bin", NULL, rows, path, sizeof path);
  SmStatus s = load(path, text, sizeof text);
  unlink(big);
  assert_int_not_equal(s, SM_OK);
  assert_non_null(strstr(text, "tensor 'w': 824633720832 elements of external data do not fit in this "
                               "machine's memory"));
}

/* a FIFO as the location is refused at once (it blocked in fopen) */
static void test_external_fifo(void **state) {
  (void)state;
  char path[512], fifo[512], text[4096];
  snprintf(fifo, sizeof fifo, "%s/model/pipe.bin", tmp);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  ext_model("fifo", "pipe.bin", NULL, path, sizeof path);
  alarm(20); /* a hang fails the suite instead of stalling it */
  assert_int_not_equal(load(path, text, sizeof text), SM_OK);
  alarm(0);
  assert_non_null(strstr(text, "tensor 'w': external data location 'pipe.bin': "));
  assert_non_null(strstr(text, "not a regular file"));
}

/* an argument runs the tests whose names match it (a cmocka pattern) */
int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nested_subgraphs),    cmocka_unit_test(test_nested_export),
      cmocka_unit_test(test_nested_types),        cmocka_unit_test(test_repeated_singular_field),
      cmocka_unit_test(test_decode_blowup),       cmocka_unit_test(test_bad_wire),
      cmocka_unit_test(test_extra_outputs),       cmocka_unit_test(test_input_counts),
      cmocka_unit_test(test_duplicate_names),     cmocka_unit_test(test_window_overflow),
      cmocka_unit_test(test_recurrent_hidden_size), cmocka_unit_test(test_gather_float_index),
      cmocka_unit_test(test_external_symlink_out), cmocka_unit_test(test_external_inside),
      cmocka_unit_test(test_external_fifo),       cmocka_unit_test(test_external_sparse),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
