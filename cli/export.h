/* `smelt export`: trained weights back into an ONNX model (cli/export.c). */
#ifndef SMELT_CLI_EXPORT_H
#define SMELT_CLI_EXPORT_H

/* smelt export MODEL.onnx --weights W.safetensors -o OUT.onnx
 * argv holds the arguments after "export". Exit status: 0 written, 1 I/O or
 * weights mismatch, 2 usage or an unreadable model. */
int cmd_export(int argc, char **argv);

#endif
