/* Parses generated C with libclang before it is compiled. Generated code
 * must be diagnostic-free under -Wall -Wextra; any diagnostic is a compiler
 * bug and is reported with the kernel and IR node it came from. */
#include <clang-c/Index.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

/* Whether the line at p is a kernel banner: "/" "* k3: ..." (a kernel of
 * the first function) or "/" "* train.k3: ..." (function names are C
 * identifiers, written as they are). Sets *k and *fn. A kernel shared by
 * several functions is reported against its first use, whose banner it
 * carries. */
static bool banner_at(const CgProgram *prog, const char *p, int *k, int *fn) {
  if (strncmp(p, "/* ", 3) != 0) return false;
  p += 3;
  int f = 0;
  for (int i = 1; i < prog->nfuncs && !f; i++) {
    size_t n = strlen(prog->fnames[i]);
    if (!strncmp(p, prog->fnames[i], n) && p[n] == '.') {
      f = i;
      p += n + 1;
    }
  }
  if (p[0] != 'k' || !isdigit((unsigned char)p[1])) return false;
  char *end;
  long v = strtol(p + 1, &end, 10);
  if (*end != ':' || v > INT_MAX) return false;
  *k = (int)v;
  *fn = f;
  return true;
}

/* The kernel whose banner precedes `line` in the generated text; -1 past
 * a step function's opening line. */
static int kernel_at_line(const CgProgram *prog, const char *text, unsigned line,
                          int *fn) {
  int kernel = -1;
  unsigned l = 1;
  *fn = 0;
  for (const char *p = text; *p && l <= line; p++) {
    if (p == text || p[-1] == '\n') {
      int k, f;
      if (banner_at(prog, p, &k, &f)) {
        kernel = k;
        *fn = f;
      } else if (strncmp(p, "static void", 11) == 0) {
        for (const char *q = p; *q && *q != '\n'; q++)
          if (!strncmp(q, "unsigned char *restrict P", 25)) kernel = -1; /* a step function */
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
