/* The one writer of C literals in generated code (codegen.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"

void cg_literal(SmBuf *b, IrDType t, double v, bool bare) {
  if (!ir_dtype_is_float(t)) {
    sm_buf_printf(b, "%lld", (long long)v);
    return;
  }
  bool f32 = t == IR_F32;
  if (!bare && isinf(v)) {
    sm_buf_puts(b, v > 0 ? "INFINITY" : "(-INFINITY)");
    return;
  }
  /* %.9g (f32) and %.17g (f64) read back exactly; %g writes no 'E' */
  char s[64];
  snprintf(s, sizeof s, f32 ? "%.9g" : "%.17g", v);
  bool plain = strpbrk(s, ".en") == NULL;
  bool paren = !bare && v < 0;
  sm_buf_printf(b, "%s%s%s%s%s", paren ? "(" : "", s, plain ? ".0" : "", f32 ? "f" : "",
                paren ? ")" : "");
}
