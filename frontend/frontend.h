/* Frontends: the smelt text model format (and, later, ONNX) into IR. */
#ifndef SM_FRONTEND_H
#define SM_FRONTEND_H

#include "ir/ir.h"

/* Parse model text. `file` names the source in diagnostics. Every error in
 * the file is reported to d; on failure *out is NULL. The text must outlive
 * d (diagnostics quote source lines). */
SmStatus fe_parse_text(const char *file, const char *text, IrGraph **out,
                       SmDiag *d);

/* Load a model file by extension (.smelt). The returned source text (for
 * diagnostics) is owned by the caller: free(*src). */
SmStatus fe_load(const char *path, IrGraph **out, char **src, SmDiag *d);

/* ---- ONNX (frontend/onnx.c) ---- */
/* Import options: --input-shape arguments, each "INPUT=D1xD2x..." (the whole
 * shape of a graph input) or "SYMBOL=N" (one symbolic dim, dim_param). */
typedef struct FeOptions {
  const char *input_shapes[32];
  int ninput_shapes;
} FeOptions;

/* True when path names an ONNX file (".onnx"). */
bool fe_is_onnx(const char *path);
/* Import an ONNX model: every error (all unsupported nodes at once) goes
 * to d; on failure *out is NULL. Initializers that the graph needs at run
 * time become parameters carrying their values (IrValue.data); external
 * data files are read relative to the model's directory. */
SmStatus fe_load_onnx(const char *path, const FeOptions *o, IrGraph **out, SmDiag *d);
/* ONNX op_types the importer maps, NULL-terminated. */
const char *const *fe_onnx_ops(void);

/* "lenet" from "examples/lenet.smelt"; non-identifier chars become '_'. */
void fe_model_name(const char *path, char *buf, size_t n);

#endif
