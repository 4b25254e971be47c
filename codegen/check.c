/* Parses generated C with libclang before it is compiled. Generated code
 * must be diagnostic-free under -Wall -Wextra; any diagnostic is a compiler
 * bug and is reported with the kernel and IR node it came from. */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

/* The kernel whose banner precedes `line` in the generated text: banners
 * read "/" "* k3: ..." (first function) or "/" "* train.k3: ...". */
static int kernel_at_line(const CgProgram *prog, const char *text, unsigned line,
                          int *fn) {
  int kernel = -1;
  unsigned l = 1;
  *fn = 0;
  for (const char *p = text; *p && l <= line; p++) {
    if (p == text || p[-1] == '\n') {
      int k;
      char name[32];
      if (sscanf(p, "/* k%d:", &k) == 1) {
        kernel = k;
        *fn = 0;
      } else if (sscanf(p, "/* %31[a-z_].k%d:", name, &k) == 2) {
        kernel = k;
        for (int f = 0; f < prog->nfuncs; f++)
          if (!strcmp(prog->fnames[f], name)) *fn = f;
      } else if (strncmp(p, "static void", 11) == 0 && strchr(p, '(') &&
                 strstr(p, "unsigned char *restrict P") &&
                 strstr(p, "unsigned char *restrict P") < strchr(p, '\n')) {
        kernel = -1; /* a step function */
      }
    }
    if (*p == '\n') l++;
  }
  return kernel;
}

SmStatus cg_check(const CgProgram *prog, const char *c_path, const char *c_text,
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
      int fn;
      int k = kernel_at_line(prog, c_text, line, &fn);
      const IrGraph *g = prog->funcs[fn];
      if (k >= 0 && k < g->nnodes) {
        const IrNode *n = g->nodes[k];
        sm_error(d, n->loc, "internal compiler error: generated code for %s (kernel %s%sk%d) is not clean: %s",
                 n->op->name, fn ? prog->fnames[fn] : "", fn ? "." : "", k, clang_getCString(msg));
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
