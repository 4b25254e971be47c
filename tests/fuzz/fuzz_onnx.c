/* libFuzzer target for the ONNX importer: every input is a model file's
 * bytes; the importer must return a graph or an error, never crash, leak
 * or read out of bounds. Build and run with tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const FeOptions fo = {.input_shapes = {"batch=2", "N=2", "T=3"}, .ninput_shapes = 3};
  SmDiag d;
  sm_diag_init(&d);
  IrGraph *g = NULL;
  SmStatus s = fe_load_onnx_mem("fuzz.onnx", data, size, &fo, &g, &d);
  if ((s == SM_OK) != (g != NULL)) __builtin_trap();
  if (s != SM_OK && d.nerrors == 0) __builtin_trap(); /* a failure always says why */
  ir_graph_free(g);
  sm_diag_free(&d);
  return 0;
}
