/* Hostile names (issue 13, items 1, 9 and 14): the escaper's guarantees on
 * arbitrary bytes; a corpus of models (text and ONNX, and in hostile
 * directories) whose names try to inject code into the generated C, compiled
 * with the CLI and run: no injected constructor runs (it would create the
 * file `pwn`) and the outputs match the interpreter; model names that are C
 * keywords or library/runtime names; and print -> parse of any name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "frontend/frontend.h"
#include "helpers/shell.h"
#include "ir/escape.h"
#include "ir/ir.h"
#include <cjson/cJSON.h>
#include "onnx.pb-c.h"
#include "rt.h"

static char tmp[] = "/tmp/smelt-names-XXXXXX";
static const char *smelt;

static int setup(void **state) {
  (void)state;
  smelt = getenv("SMELT_BIN");
  if (!smelt) {
    fprintf(stderr, "SMELT_BIN is not set (run through ctest)\n");
    return -1;
  }
  return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sh("rm -rf '%s'", tmp);
  return 0;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

static bool exists(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

/* ---- the escaper on arbitrary bytes ---- */

/* A random string over the characters that matter to C and the text format. */
static void tricky(char *s, int n, unsigned *seed) {
  static const char alpha[] = "*/?\\\"\n\r\t#'a=(){};%0x\x01\x7f\x80\xff";
  for (int i = 0; i < n; i++) {
    *seed = *seed * 1103515245u + 12345u;
    s[i] = alpha[(*seed >> 16) % (sizeof alpha - 1)];
  }
  s[n] = 0;
}

/* Decodes a C string literal as emitted (simple and octal escapes). */
static size_t c_decode(const char *lit, char *out) {
  size_t k = 0;
  assert_int_equal(lit[0], '"');
  const char *p = lit + 1;
  for (; *p != '"'; p++) {
    assert_true(*p != 0);
    if (*p != '\\') {
      out[k++] = *p;
      continue;
    }
    p++;
    if (*p >= '0' && *p <= '7') {
      out[k++] = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
      p += 2;
    } else {
      assert_non_null(strchr("\"\\?", *p));
      out[k++] = *p;
    }
  }
  assert_int_equal(p[1], 0);
  out[k] = 0;
  return k;
}

static void test_escaper_properties(void **state) {
  (void)state;
  unsigned seed = 7;
  char s[64], dec[256];
  for (int it = 0; it < 20000; it++) {
    tricky(s, 1 + it % 40, &seed);
    /* comment: printable ASCII; nothing that ends or opens a comment, forms
     * a trigraph or splices a line, even next to the surrounding text */
    SmBuf b = {0};
    sm_buf_puts(&b, "/* ");
    sm_esc_comment(&b, s);
    sm_buf_puts(&b, " */");
    const char *c = sm_buf_str(&b);
    for (const char *p = c; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);
    const char *end = strstr(c, "*/");
    assert_ptr_equal(end, c + b.len - 2);
    assert_null(strstr(c + 1, "/*"));
    assert_null(strstr(c, "?\?"));
    sm_buf_free(&b);
    /* C string literal: decodes back to the bytes */
    sm_esc_cstring(&b, s);
    assert_null(strstr(sm_buf_str(&b), "?\?"));
    for (const char *p = sm_buf_str(&b); *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);
    c_decode(sm_buf_str(&b), dec);
    assert_string_equal(dec, s);
    sm_buf_free(&b);
    /* text format: one line, decodes back to the bytes */
    sm_esc_text(&b, s);
    const char *t = sm_buf_str(&b);
    assert_null(strchr(t, '\n'));
    size_t bad;
    const char *why;
    assert_int_equal(sm_unesc_text(t + 1, b.len - 2, dec, &bad, &why), (int)strlen(s));
    assert_string_equal(dec, s);
    sm_buf_free(&b);
  }
}

static void test_unescape_errors(void **state) {
  (void)state;
  char out[16];
  size_t bad = 99;
  const char *why = NULL;
  assert_int_equal(sm_unesc_text("ab\\q", 4, out, &bad, &why), -1);
  assert_int_equal(bad, 2);
  assert_non_null(strstr(why, "unknown escape"));
  assert_int_equal(sm_unesc_text("\\x00", 4, out, &bad, &why), -1);
  assert_non_null(strstr(why, "NUL"));
  assert_int_equal(sm_unesc_text("\\x4", 3, out, &bad, &why), -1);
  assert_int_equal(sm_unesc_text("a\\", 2, out, &bad, &why), -1);
  assert_int_equal(sm_unesc_text("\\x41\\t", 6, out, &bad, &why), 2);
  assert_string_equal(out, "A\t");
}

static void test_c_name_problem(void **state) {
  (void)state;
  const char *bad[] = {"int", "main", "exit", "rt", "rt_model", "RtModel", "printf", "NULL",
                       "smelt_rt", "Smelt_Rt_Math", "omp_x", "_x", "3d", "a-b", "",
                       /* libm's float forms, the C library's macros, a name
                        * whose API would define pthread_create, the kernels' */
                       "expf", "sqrtl", "SIZE_MAX", "INT8_C", "EINVAL", "pthread", "timer",
                       "k3_gemm", "f1_k2_relu"};
  for (int i = 0; i < (int)(sizeof bad / sizeof *bad); i++) assert_non_null(sm_c_name_problem(bad[i]));
  const char *good[] = {"lenet", "model_int", "m", "rtx", "Net2", "char_lm", "MLP", "VGG16",
                        "ELU", "kx", "f_net", "expo"};
  for (int i = 0; i < (int)(sizeof good / sizeof *good); i++) assert_null(sm_c_name_problem(good[i]));
  char n[128];
  fe_model_name("/a/b/int.onnx", n, sizeof n);
  assert_string_equal(n, "model_int");
  fe_model_name("dir.x/rt.smelt", n, sizeof n);
  assert_string_equal(n, "model_rt");
  fe_model_name("my-net.v2.onnx", n, sizeof n);
  assert_string_equal(n, "my_net");
}

/* ---- the hostile corpus, compiled and run ---- */

/* x.npy in dir: f32[2,3] */
static void write_x(const char *dir) {
  char p[1024];
  snprintf(p, sizeof p, "%s/x.npy", dir);
  float x[6] = {0.5f, -1.25f, 2.0f, -0.75f, 1.5f, -2.5f};
  int64_t dims[2] = {2, 3};
  RtErr e;
  assert_int_equal(rt_npy_write(p, RT_F32, 2, dims, x, &e), 0);
}

/* Compiles model (a path relative to dir) into dir/prog, runs it on x.npy
 * from dir, and checks that nothing injected ran and that the output
 * matches the interpreter's. extra: flags for both (--weights W). */
static void compile_and_run(const char *dir, const char *model, const char *extra) {
  write_x(dir);
  assert_false(exists(dir, "pwn"));
  assert_int_equal(sh("cd '%s' && '%s' compile '%s' -o prog", dir, smelt, model), 0);
  assert_int_equal(sh("cd '%s' && ./prog %s --input x.npy --output y.npy >/dev/null", dir, extra), 0);
  assert_false(exists(dir, "pwn"));
  assert_int_equal(sh("cd '%s' && '%s' run '%s' %s --input x.npy --output ref.npy >/dev/null", dir,
                      smelt, model, extra),
                   0);
  assert_int_equal(sh("cd '%s' && '%s' diff y.npy ref.npy >/dev/null", dir, smelt), 0);
  assert_false(exists(dir, "pwn"));
}

/* The C text outside comments and string and character literals. */
static void code_only(const char *c, SmBuf *out) {
  for (const char *p = c; *p; p++) {
    if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      assert_non_null(e);
      p = e + 1;
      sm_buf_putc(out, ' ');
    } else if (p[0] == '/' && p[1] == '/') {
      while (p[1] && p[1] != '\n') p++;
    } else if (*p == '"' || *p == '\'') {
      char q = *p;
      for (p++; *p != q; p++) {
        assert_true(*p && *p != '\n');
        if (*p == '\\') p++;
      }
      sm_buf_puts(out, "\"\"");
    } else {
      sm_buf_putc(out, *p);
    }
  }
}

/* In the C the compiler emits for dir/model (named m) with --emit c, the
 * names stay inside comments and string literals: the code outside them
 * never mentions the injected `creat` or `system`, nor holds a trigraph. */
static void check_emitted_c(const char *dir, const char *model) {
  assert_int_equal(sh("cd '%s' && '%s' compile '%s' --emit c -o m", dir, smelt, model), 0);
  const char *files[] = {"m.c", "m.h"};
  for (int i = 0; i < 2; i++) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    char *c = slurp(path, NULL);
    assert_non_null(c);
    assert_null(strstr(c, "?\?"));
    SmBuf code = {0};
    code_only(c, &code);
    assert_non_null(strstr(sm_buf_str(&code), "m_create"));
    assert_null(strstr(sm_buf_str(&code), "creat("));
    assert_null(strstr(sm_buf_str(&code), "system("));
    assert_null(strstr(sm_buf_str(&code), "pwn"));
    sm_buf_free(&code);
    free(c);
  }
}

/* a name that closes the banner comment and declares a constructor which
 * creates the file `pwn` in the working directory */
#define INJECT                                                                                 \
  "*/ int creat(const char *, unsigned); __attribute__((constructor)) static void pwn(void) " \
  "{ creat(__func__, 420); } /*"

static void test_text_comment_injection(void **state) {
  (void)state;
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/text", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.smelt", dir);
  /* the reproducer: the parameter's name lands in k0's banner */
  write_text(path, "input x: f32[2,3]\n"
                   "param \"w" INJECT "\": f32[4,3] = uniform(-1, 1)\n"
                   "h = gemm(x, \"w" INJECT "\", transB=1)\n"
                   "y = relu(h)\n"
                   "output y\n");
  /* the program's parameters are the interpreter's: both from the seed */
  compile_and_run(dir, "m.smelt", "");
  check_emitted_c(dir, "m.smelt");
}

/* Trigraphs (-std=c11 turns them on): '??/' is a backslash, so it ended
 * string literals early; '??=' is '#'. And a '*' '/' pair beside the
 * delimiters the emitter writes. */
static void test_trigraph_names(void **state) {
  (void)state;
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/trigraph", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.smelt", dir);
  write_text(path, "input \"*x/\": f32[2,3]\n"
                   "param \"b?\?/\": f32[4] = uniform(-1, 1)\n"
                   "param \"/w*\": f32[4,3] = uniform(-1, 1)\n"
                   "h = gemm(\"*x/\", \"/w*\", \"b?\?/\", transB=1)\n"
                   "\"y?\?=*/\" = relu(h)\n"
                   "output \"y?\?=*/\"\n");
  compile_and_run(dir, "m.smelt", "");
  check_emitted_c(dir, "m.smelt");
}

/* A directory named `models*` (and one named `*x` inside it): the model's
 * path goes into every kernel banner. */
static void test_hostile_directory(void **state) {
  (void)state;
  char dir[512], sub[600], path[700];
  snprintf(dir, sizeof dir, "%s/dirs", tmp);
  snprintf(sub, sizeof sub, "%s/models*/*x?\?", dir);
  assert_int_equal(sh("mkdir -p '%s'", sub), 0);
  snprintf(path, sizeof path, "%s/m.smelt", sub);
  write_text(path, "input x: f32[2,3]\nparam w: f32[4,3] = normal(0.5)\n"
                   "h = gemm(x, w, transB=1)\ny = tanh(h)\noutput y\n");
  compile_and_run(dir, "models*/*x?\?/m.smelt", "");
}

/* ---- ONNX models built here with protobuf-c ---- */

static Onnx__ValueInfoProto *value_info(const char *name, int rank, const int64_t *dims) {
  Onnx__TensorShapeProto__Dimension **dd = calloc((size_t)rank, sizeof *dd);
  for (int i = 0; i < rank; i++) {
    dd[i] = malloc(sizeof **dd);
    onnx__tensor_shape_proto__dimension__init(dd[i]);
    dd[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dd[i]->dim_value = dims[i];
  }
  Onnx__TensorShapeProto *sh_ = malloc(sizeof *sh_);
  onnx__tensor_shape_proto__init(sh_);
  sh_->n_dim = (size_t)rank;
  sh_->dim = dd;
  Onnx__TypeProto__Tensor *tt = malloc(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sh_;
  Onnx__TypeProto *tp = malloc(sizeof *tp);
  onnx__type_proto__init(tp);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  Onnx__ValueInfoProto *v = malloc(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = (char *)name;
  v->type = tp;
  return v;
}

static void value_info_free(Onnx__ValueInfoProto *v) {
  Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
  for (size_t i = 0; i < s->n_dim; i++) free(s->dim[i]);
  free(s->dim);
  free(s);
  free(v->type->tensor_type);
  free(v->type);
  free(v);
}

static Onnx__NodeProto *node(const char *op, int nin, char **in, char *out, Onnx__AttributeProto *a) {
  Onnx__NodeProto *n = malloc(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->n_input = (size_t)nin;
  n->input = in;
  n->n_output = 1;
  n->output = malloc(sizeof(char *));
  n->output[0] = out;
  if (a) {
    n->n_attribute = 1;
    n->attribute = malloc(sizeof(Onnx__AttributeProto *));
    n->attribute[0] = a;
  }
  return n;
}

/* x: f32[2,3] -> Gemm(x, w[4,3], transB=1) -> Relu -> y, with the given
 * names, written to path. */
static void write_onnx(const char *path, const char *x, const char *w, const char *h,
                       const char *y) {
  static float wdata[12] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, -0.7f, 0.8f, 0.9f, 1.0f, -1.1f, 1.2f};
  int64_t xd[2] = {2, 3}, wd[2] = {4, 3}, yd[2] = {2, 4};
  Onnx__TensorProto wt;
  onnx__tensor_proto__init(&wt);
  wt.name = (char *)w;
  wt.n_dims = 2;
  wt.dims = wd;
  wt.has_data_type = 1;
  wt.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  wt.n_float_data = 12;
  wt.float_data = wdata;
  Onnx__TensorProto *inits[1] = {&wt};
  Onnx__AttributeProto tb;
  onnx__attribute_proto__init(&tb);
  tb.name = "transB";
  tb.has_type = 1;
  tb.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  tb.has_i = 1;
  tb.i = 1;
  char *gin[2] = {(char *)x, (char *)w}, *rin[1] = {(char *)h};
  Onnx__NodeProto *nodes[2] = {node("Gemm", 2, gin, (char *)h, &tb),
                               node("Relu", 1, rin, (char *)y, NULL)};
  Onnx__ValueInfoProto *ins[1] = {value_info(x, 2, xd)}, *outs[1] = {value_info(y, 2, yd)};
  Onnx__GraphProto g;
  onnx__graph_proto__init(&g);
  g.name = "g";
  g.n_node = 2;
  g.node = nodes;
  g.n_initializer = 1;
  g.initializer = inits;
  g.n_input = 1;
  g.input = ins;
  g.n_output = 1;
  g.output = outs;
  Onnx__OperatorSetIdProto op;
  onnx__operator_set_id_proto__init(&op);
  op.domain = "";
  op.has_version = 1;
  op.version = 13;
  Onnx__OperatorSetIdProto *ops[1] = {&op};
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  m.has_ir_version = 1;
  m.ir_version = 7;
  m.n_opset_import = 1;
  m.opset_import = ops;
  m.graph = &g;
  size_t n = onnx__model_proto__get_packed_size(&m);
  uint8_t *buf = malloc(n);
  assert_int_equal(onnx__model_proto__pack(&m, buf), n);
  write_file(path, buf, n);
  free(buf);
  for (int i = 0; i < 2; i++) {
    free(nodes[i]->output);
    free(nodes[i]->attribute);
    free(nodes[i]);
  }
  value_info_free(ins[0]);
  value_info_free(outs[0]);
}

/* ONNX names may hold newlines: a preprocessor line after a closed comment */
#define INJECT_NL                                                                     \
  "*/\n#include <stdlib.h>\n__attribute__((constructor)) static void pwn(void) "    \
  "{ if (system(\"touch pwn\")) {} }\n/*"

static void test_onnx_injection(void **state) {
  (void)state;
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/onnx", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  write_onnx(path, "x", "w" INJECT_NL, "h", "y");
  compile_and_run(dir, "m.onnx", "");
  check_emitted_c(dir, "m.onnx");
  /* every name hostile (on the old code, the several copies of the
   * injected function would collide) */
  write_onnx(path, "x" INJECT_NL, "w" INJECT_NL, "h\n" INJECT, "y" INJECT_NL);
  compile_and_run(dir, "m.onnx", "");
  check_emitted_c(dir, "m.onnx");
  /* quotes, backslashes and a trigraph in the names of the literal tables */
  write_onnx(path, "x\"", "w\"?\?/\\\"" INJECT_NL, "h\\", "y*/\\\n?\?/");
  compile_and_run(dir, "m.onnx", "");
  check_emitted_c(dir, "m.onnx");
}

/* `inspect --format smelt` of names holding quotes, backslashes and
 * newlines writes a file that parses back to the same names and runs. */
static void test_onnx_to_text(void **state) {
  (void)state;
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/conv", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  const char *w = "w \"quoted\" \\back\\ \x01\t#not a comment";
  write_onnx(path, "x\"", w, "h\nnext line", "y\\");
  assert_int_equal(sh("cd '%s' && '%s' inspect m.onnx --format smelt -o t >/dev/null", dir, smelt), 0);
  snprintf(path, sizeof path, "%s/t.smelt", dir);
  char *text = slurp(path, NULL);
  assert_non_null(text);
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text(path, text, &g, &d), SM_OK);
  assert_non_null(ir_graph_find(g, w));
  assert_non_null(ir_graph_find(g, "x\""));
  assert_non_null(ir_graph_find(g, "h\nnext line"));
  assert_string_equal(g->outputs[0]->name, "y\\");
  ir_graph_free(g);
  sm_diag_free(&d);
  free(text);
  compile_and_run(dir, "t.smelt", "--weights t.safetensors");
  /* the converted model's output is the ONNX model's */
  assert_int_equal(sh("cd '%s' && '%s' run m.onnx --input x.npy --output ref_onnx.npy >/dev/null && "
                      "'%s' diff y.npy ref_onnx.npy >/dev/null",
                      dir, smelt, smelt),
                   0);
}

/* ---- model names (item 9) ---- */

static void test_reserved_model_names(void **state) {
  (void)state;
  static const char *const names[] = {"int",  "main",     "exit",    "rt",     "printf",
                                      "smelt_rt", "free", "expf", "SIZE_MAX", "k3_sigmoid"};
  char dir[512], path[700];
  for (int i = 0; i < (int)(sizeof names / sizeof *names); i++) {
    snprintf(dir, sizeof dir, "%s/name_%s", tmp, names[i]);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/%s.smelt", dir, names[i]);
    write_text(path, "input x: f32[2,3]\ny = sigmoid(x)\noutput y\n");
    snprintf(path, sizeof path, "%s.smelt", names[i]);
    compile_and_run(dir, path, "");
  }
  /* an ONNX file named after a keyword, and its C sources and library */
  snprintf(dir, sizeof dir, "%s/name_onnx", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/int.onnx", dir);
  write_onnx(path, "x", "w", "h", "y");
  compile_and_run(dir, "int.onnx", "");
  assert_int_equal(sh("cd '%s' && '%s' compile int.onnx --emit lib -o model_int", dir, smelt), 0);
  assert_true(exists(dir, "libmodel_int.a"));
  snprintf(path, sizeof path, "%s/model_int.h", dir);
  char *h = slurp(path, NULL);
  assert_non_null(h);
  assert_non_null(strstr(h, "model_int *model_int_create(void);"));
  free(h);
}

/* Step names are the user's too: steps named like the C API's functions
 * (`run`, `input`) or like each other's tables get symbols of their own
 * (they were static redefinitions of MODEL_run and MODEL_input). */
static void test_step_names(void **state) {
  (void)state;
  char dir[512], path[700];
  snprintf(dir, sizeof dir, "%s/steps", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/gan.smelt", dir);
  write_text(path, "input x: f32[2,3]\n"
                   "param g_w: f32[3,3] = he_normal\n"
                   "param d_w: f32[1,3] = he_normal\n"
                   "fake = gemm(x, g_w)\n"
                   "real_logit = gemm(x, d_w, transB=1)\n"
                   "fake_logit = gemm(fake, d_w, transB=1)\n"
                   "ones = constant(shape=[2,1], value=[1])\n"
                   "zeros = constant(shape=[2,1], value=[0])\n"
                   "d_real = bce_logits(real_logit, ones)\n"
                   "d_fake = bce_logits(fake_logit, zeros)\n"
                   "d_loss = add(d_real, d_fake)\n"
                   "g_loss = bce_logits(fake_logit, ones)\n"
                   "output fake\n"
                   "train data=x epochs=1\n"
                   "step run loss=d_loss params=\"d_*\"\n"
                   "step input loss=g_loss params=\"g_*\"\n"
                   "step run_prof loss=g_loss params=\"g_*\"\n"
                   "optimizer sgd lr=0.1\n");
  assert_int_equal(sh("cd '%s' && '%s' compile gan.smelt --train -o prog", dir, smelt), 0);
  write_x(dir);
  assert_int_equal(sh("cd '%s' && ./prog infer --input x.npy --output y.npy >/dev/null", dir), 0);
}

/* `model int` is refused where it is written, with a reason */
static void test_reserved_model_declaration(void **state) {
  (void)state;
  char dir[512], path[700];
  snprintf(dir, sizeof dir, "%s/decl", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.smelt", dir);
  write_text(path, "model int\ninput x: f32[2]\ny = relu(x)\noutput y\n");
  int rc = sh("cd '%s' && '%s' compile m.smelt -o prog 2>err.txt", dir, smelt);
  assert_true(rc != 0 && rc != -1);
  assert_false(exists(dir, "prog"));
  snprintf(path, sizeof path, "%s/err.txt", dir);
  char *err = slurp(path, NULL);
  assert_non_null(err);
  assert_non_null(strstr(err, "m.smelt:1:7: error: model name 'int' cannot prefix"));
  assert_non_null(strstr(err, "C keyword"));
  assert_null(strstr(err, "internal"));
  free(err);
}

/* ---- print -> parse of any name (item 14) ---- */

static void test_print_parse_round_trip(void **state) {
  (void)state;
  char longname[1200];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  const char *names[] = {"a\"b", "back\\slash", "new\nline", "tab\tcr\r", "\x01\x7f", "input",
                         "inf", "x.y", "_z", "# hash", "\xc3\xa9t\xc3\xa9", longname};
  int n = (int)(sizeof names / sizeof *names);
  IrGraph *g = ir_graph_new("m");
  int64_t dims[1] = {3};
  IrValue *v = ir_add_input(g, names[0], ir_type_make(IR_F32, 1, dims), (SmLoc){0});
  SmDiag d;
  sm_diag_init(&d);
  for (int i = 1; i < n; i++) {
    const char *out[1] = {names[i]};
    IrNode *nd = ir_add_node(g, ir_op_find("relu"), &v, 1, out, 1, (SmLoc){0});
    assert_true(ir_infer_node(nd, &d));
    v = nd->out[0];
  }
  ir_add_output(g, v);
  ir_add_directive(g, "step", "d\"q", (SmLoc){0});
  SmBuf b = {0};
  ir_print(&b, g);
  IrGraph *back = NULL;
  assert_int_equal(fe_parse_text("rt.smelt", sm_buf_str(&b), &back, &d), SM_OK);
  for (int i = 0; i < n; i++) assert_non_null(ir_graph_find(back, names[i]));
  assert_string_equal(back->outputs[0]->name, longname);
  assert_string_equal(back->dirs[0].arg, "d\"q");
  SmBuf b2 = {0};
  ir_print(&b2, back);
  assert_string_equal(sm_buf_str(&b2), sm_buf_str(&b));
  sm_buf_free(&b);
  sm_buf_free(&b2);
  ir_graph_free(g);
  ir_graph_free(back);
  sm_diag_free(&d);
}

/* inspect's DOT graph keeps hostile names inside its labels, and its JSON
 * parses back to the names */
static void test_inspect_formats(void **state) {
  (void)state;
  char dir[512], path[700];
  snprintf(dir, sizeof dir, "%s/inspect", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  const char *x = "x\"];\n  evil -> x [color=\"red", *h = "h\\\"\n\t";
  write_onnx(path, x, "w", h, "y");
  assert_int_equal(sh("cd '%s' && '%s' inspect m.onnx --format dot > g.dot", dir, smelt), 0);
  snprintf(path, sizeof path, "%s/g.dot", dir);
  char *dot = slurp(path, NULL);
  assert_non_null(dot);
  assert_null(strstr(dot, "\n  evil"));
  /* every line holds an even number of unescaped quotes */
  int quotes = 0;
  for (const char *p = dot; *p; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') quotes++;
    else if (*p == '\n') assert_int_equal(quotes % 2, 0);
  }
  free(dot);
  assert_int_equal(sh("cd '%s' && '%s' inspect m.onnx --memory --format json > m.json", dir, smelt), 0);
  snprintf(path, sizeof path, "%s/m.json", dir);
  char *json = slurp(path, NULL);
  assert_non_null(json);
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  const cJSON *bufs = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "functions"), 0), "buffers");
  bool seen = false;
  for (int i = 0; i < cJSON_GetArraySize(bufs); i++)
    seen |= strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(bufs, i), "name")), x) == 0;
  assert_true(seen);
  cJSON_Delete(j);
  free(json);
}

/* a bad escape is reported at its column */
static void test_bad_escape(void **state) {
  (void)state;
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  assert_int_equal(fe_parse_text("e.smelt", "input \"a\\qb\": f32[2]\ny = relu(\"a\\qb\")\noutput y\n", &g, &d),
                   SM_ERR_PARSE);
  assert_null(g);
  assert_true(d.nerrors >= 1);
  assert_non_null(strstr(sm_diag_text(&d), "e.smelt:1:9: error: bad string: unknown escape"));
  sm_diag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escaper_properties),
      cmocka_unit_test(test_unescape_errors),
      cmocka_unit_test(test_c_name_problem),
      cmocka_unit_test(test_text_comment_injection),
      cmocka_unit_test(test_trigraph_names),
      cmocka_unit_test(test_hostile_directory),
      cmocka_unit_test(test_onnx_injection),
      cmocka_unit_test(test_onnx_to_text),
      cmocka_unit_test(test_reserved_model_names),
      cmocka_unit_test(test_reserved_model_declaration),
      cmocka_unit_test(test_step_names),
      cmocka_unit_test(test_print_parse_round_trip),
      cmocka_unit_test(test_bad_escape),
      cmocka_unit_test(test_inspect_formats),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
