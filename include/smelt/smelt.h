/* smelt public API: load a model (text format), inspect it, run it on the
 * reference interpreter, or compile it to C. Opaque handles only. */
#ifndef SMELT_H
#define SMELT_H

#include <stddef.h>
#include <stdint.h>

typedef enum SmStatus {
  SM_OK = 0,
  SM_ERR_PARSE,       /* malformed user input (model text, ONNX, data) */
  SM_ERR_INVALID,     /* well-formed but invalid (shapes, types, attrs) */
  SM_ERR_IO,          /* file system or external tool failure */
  SM_ERR_UNSUPPORTED, /* valid input smelt cannot handle yet */
  SM_ERR_NOMEM,
  SM_ERR_INTERNAL,
} SmStatus;

const char *sm_status_str(SmStatus s);

#endif
