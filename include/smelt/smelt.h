/* smelt's one public header: the status codes the compiler library's
 * functions return (ir/, frontend/, passes/, codegen/: internal headers,
 * no stable API yet) and their names. Nothing else is promised here.
 *
 * A compiled model has its own C API, generated beside it: MODEL.h
 * declares MODEL_create, MODEL_load_weights, MODEL_input, MODEL_run,
 * MODEL_output, ... (see `smelt compile --emit lib`); those call the
 * runtime's RtModel API (runtime/rt_model.h), which programs may also use
 * directly. */
#ifndef SMELT_H
#define SMELT_H

typedef enum SmStatus {
  SM_OK = 0,
  SM_ERR_PARSE,       /* malformed user input (model text, ONNX, data) */
  SM_ERR_INVALID,     /* well-formed but invalid (shapes, types, attrs) */
  SM_ERR_IO,          /* file system or external tool failure */
  SM_ERR_UNSUPPORTED, /* valid input smelt cannot handle yet */
  SM_ERR_NOMEM,
  SM_ERR_INTERNAL,
} SmStatus;

/* "ok", "parse error", ...: a short lower-case name of s (defined in
 * ir/util.c; "unknown status" for a value outside the enum). */
const char *sm_status_str(SmStatus s);

#endif
