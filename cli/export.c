/* smelt export MODEL.onnx --weights W.safetensors -o OUT.onnx
 *
 * The original ONNX graph with its initializers replaced by trained values
 * (matched by name; see fe_onnx_export). Compiled programs do not link
 * protobuf-c, so the route from a trained program is
 *   ./prog train ... --save w.safetensors
 *   smelt export model.onnx --weights w.safetensors -o trained.onnx */
#include "export.h"

#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "rt.h"

static void export_usage(FILE *f) {
  fputs("usage: smelt export MODEL.onnx --weights W.safetensors -o OUT.onnx [-q]\n"
        "  writes MODEL.onnx with each initializer replaced by the same-named tensor of W\n"
        "  (dtype and shape must match); other initializers keep their values\n",
        f);
}

int cmd_export(int argc, char **argv) {
  const char *model = NULL, *weights = NULL, *out = NULL;
  bool quiet = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--weights") && has) weights = argv[++i];
    else if (!strcmp(a, "-o") && has) out = argv[++i];
    else if (!strcmp(a, "-q")) quiet = true;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      export_usage(stdout);
      return 0;
    } else if (a[0] != '-' && !model) model = a;
    else {
      fprintf(stderr, "smelt export: error: unexpected argument '%s'\n", a);
      export_usage(stderr);
      return 2;
    }
  }
  if (!model || !weights || !out) {
    fprintf(stderr, "smelt export: error: need MODEL.onnx, --weights W.safetensors and -o OUT.onnx\n");
    export_usage(stderr);
    return 2;
  }
  if (!fe_is_onnx(model)) {
    fprintf(stderr, "smelt export: error: %s is not an .onnx file (export writes ONNX models)\n", model);
    return 2;
  }
  RtErr e = {{0}};
  if (rt_out_check(out, &e)) {
    fprintf(stderr, "smelt export: error: -o %s\n", e.msg);
    return 1;
  }
  SmDiag d;
  sm_diag_init(&d);
  FeExportStats st;
  SmStatus s = fe_onnx_export(model, weights, out, &st, &d);
  if (!quiet || s != SM_OK) fputs(sm_diag_text(&d), stderr);
  sm_diag_free(&d);
  if (s != SM_OK) return s == SM_ERR_PARSE ? 2 : 1;
  if (!quiet)
    printf("%s: %d initializer%s from %s, %d unchanged\n", out, st.replaced,
           st.replaced == 1 ? "" : "s", weights, st.kept);
  return 0;
}
