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

/* "lenet" from "examples/lenet.smelt"; non-identifier chars become '_'. */
void fe_model_name(const char *path, char *buf, size_t n);

#endif
