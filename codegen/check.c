/* Parses generated C with libclang before it is compiled. Generated code
 * must be diagnostic-free under -Wall -Wextra; any diagnostic is a compiler
 * bug and is reported with the kernel and IR node it came from. */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

/* The kernel whose banner precedes `line` in the generated text. */
static int kernel_at_line(const char *text, unsigned line) {
  int kernel = -1;
  unsigned l = 1;
  for (const char *p = text; *p && l <= line; p++) {
    if (p == text || p[-1] == '\n') {
      int k;
      if (sscanf(p, "/* k%d:", &k) == 1) kernel = k;
      if (strncmp(p, "static void", 11) == 0 && strstr(p, "_step(") &&
          strstr(p, "_step(") < strchr(p, '\n'))
        kernel = -1;
    }
    if (*p == '\n') l++;
  }
  return kernel;
}

SmStatus cg_check(const IrGraph *g, const char *c_path, const char *c_text,
                  SmDiag *d) {
  char inc[4096];
  snprintf(inc, sizeof inc, "-I%s", cg_rt_include());
  const char *dir_end = strrchr(c_path, '/');
  char inc2[4096];
  if (dir_end)
    snprintf(inc2, sizeof inc2, "-I%.*s", (int)(dir_end - c_path), c_path);
  else
    snprintf(inc2, sizeof inc2, "-I.");
  const char *args[] = {"-std=c11", "-Wall", "-Wextra", "-fopenmp", "-DSMELT_MAIN",
                        inc, inc2};
  CXIndex idx = clang_createIndex(0, 0);
  CXTranslationUnit tu = NULL;
  enum CXErrorCode ec = clang_parseTranslationUnit2(
      idx, c_path, args, SM_COUNT(args), NULL, 0, CXTranslationUnit_None, &tu);
  if (ec != CXError_Success || !tu) {
    sm_error(d, (SmLoc){c_path, 0, 0}, "internal error: libclang could not parse the generated file (code %d)", (int)ec);
    clang_disposeIndex(idx);
    return SM_ERR_INTERNAL;
  }
  SmStatus st = SM_OK;
  unsigned nd = clang_getNumDiagnostics(tu);
  for (unsigned i = 0; i < nd; i++) {
    CXDiagnostic diag = clang_getDiagnostic(tu, i);
    enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(diag);
    if (sev >= CXDiagnostic_Warning) {
      CXSourceLocation loc = clang_getDiagnosticLocation(diag);
      CXFile file;
      unsigned line, col;
      clang_getSpellingLocation(loc, &file, &line, &col, NULL);
      CXString msg = clang_formatDiagnostic(diag, CXDiagnostic_DisplaySourceLocation |
                                                      CXDiagnostic_DisplayOption);
      int k = kernel_at_line(c_text, line);
      if (k >= 0 && k < g->nnodes) {
        const IrNode *n = g->nodes[k];
        sm_error(d, n->loc, "internal compiler error: generated code for %s (kernel k%d) is not clean: %s",
                 n->op->name, k, clang_getCString(msg));
      } else {
        sm_error(d, (SmLoc){c_path, (int)line, (int)col},
                 "internal compiler error: generated code is not clean: %s",
                 clang_getCString(msg));
      }
      clang_disposeString(msg);
      st = SM_ERR_INTERNAL;
    }
    clang_disposeDiagnostic(diag);
  }
  clang_disposeTranslationUnit(tu);
  clang_disposeIndex(idx);
  return st;
}
