/* Frontends: the smelt text model format and ONNX into IR; ONNX export. */
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
/* The same from bytes in memory (the fuzz target); `name` stands for the
 * file in messages and its directory is where external data is looked up. */
SmStatus fe_load_onnx_mem(const char *name, const void *data, size_t len, const FeOptions *o,
                          IrGraph **out, SmDiag *d);
/* ONNX op_types the importer maps, NULL-terminated. */
const char *const *fe_onnx_ops(void);
/* Whether buf may be handed to protobuf-c as an ONNX ModelProto: message
 * nesting bounded, no singular message field repeated, decoded size
 * bounded by the file's. Otherwise false with one error at path. */
bool fe_onnx_wire_check(const char *path, const void *buf, size_t len, SmDiag *d);

/* `smelt inspect MODEL.onnx --format smelt -o PREFIX`: import (composite
 * ops such as lstm kept whole, as a text model writes them) and write the
 * text model to PREFIX.smelt and every parameter's imported values to
 * PREFIX.safetensors (load them with `--weights PREFIX.safetensors`). With
 * PREFIX NULL the text goes to stdout and no weights are written. */
SmStatus fe_onnx_to_smelt(const char *onnx, const FeOptions *o, const char *out_prefix, SmDiag *d);

/* ---- ONNX export (frontend/onnx_export.c) ---- */
typedef struct FeExportStats {
  int replaced;  /* initializers given the weights file's values */
  int kept;      /* initializers the weights file does not name */
  int unmatched; /* weights-file tensors naming no initializer (noted in d) */
} FeExportStats;
/* Write ONNX model `onnx_in` to `out` (atomically) with each initializer
 * replaced by the same-named tensor of the safetensors file `weights` (dtype
 * and shape must match). Imported parameters keep their initializer names,
 * so the weights a trained program saves (`./prog train --save W`) map back
 * one to one. stats may be NULL. */
SmStatus fe_onnx_export(const char *onnx_in, const char *weights, const char *out,
                        FeExportStats *stats, SmDiag *d);

/* What a compiled training program needs to write its trained weights as
 * ONNX without protobuf-c (`./prog train --export-onnx F`): the model
 * without its graph, the graph without the initializers the program
 * trains, and for each of those the parameter and ONNX element type. The
 * program writes model + graph + fresh initializers (raw_data), which
 * protobuf merges into the original model with new weights. */
typedef struct FeOnnxTemplate {
  unsigned char *model, *graph; /* packed ModelProto (no graph), GraphProto */
  size_t model_len, graph_len;
  int n;                        /* initializers the program writes */
  int *param;                   /* their parameter indices (in `names`) */
  int *onnx_type;               /* their ONNX data_type */
} FeOnnxTemplate;
/* Builds t for the parameters names[0..n) (with rank/dims as the program
 * holds them): an initializer of the same name, element type and shape is
 * left out of the graph and written by the program. */
SmStatus fe_onnx_template(const char *onnx_in, const char *const *names, const int *ranks,
                          const int64_t (*dims)[8], int n, FeOnnxTemplate *t, SmDiag *d);
void fe_onnx_template_free(FeOnnxTemplate *t);

/* "lenet" from "examples/lenet.smelt"; non-identifier chars become '_'. */
void fe_model_name(const char *path, char *buf, size_t n);

#endif
