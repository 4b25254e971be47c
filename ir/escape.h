/* The one way out for user strings (value, parameter, node and model names,
 * file paths): into generated C (comments, string literals, identifiers) and
 * into the text model format. Model files come from strangers, so nothing a
 * name holds may end a comment or a literal, splice a line, form a trigraph
 * or produce a reserved identifier. */
#ifndef SM_ESCAPE_H
#define SM_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* s as text inside a C block comment: printable ASCII stays, except that
 * '\\' is written "\\\\", '?' "\\?" (no trigraph can form) and a '/' next to
 * a '*' "\\x2f" (no comment can end or open); every other byte is "\\xHH". */
void sm_esc_comment(SmBuf *b, const char *s);

/* s as a C string literal, quotes included: '"', '\\' and '?' escaped,
 * bytes outside printable ASCII as three-digit octal escapes. */
void sm_esc_cstring(SmBuf *b, const char *s);

/* s as a Graphviz double-quoted label, quotes included: '"' and '\\'
 * escaped, a newline as \n, other control bytes as spaces. */
void sm_esc_dot(SmBuf *b, const char *s);

/* s as a quoted string of the text model format: '"' and '\\' escaped,
 * newline, tab and carriage return as \n \t \r, other control bytes and
 * DEL as \xHH; bytes from 0x80 on stay as they are (UTF-8). */
void sm_esc_text(SmBuf *b, const char *s);

/* Decodes the inside of a text-format string (the bytes between the
 * quotes, len of them) into out (room for len + 1 bytes; the result is
 * never longer). Returns the decoded length, or -1 with *bad pointing at
 * the offending backslash and *why saying what is wrong (an unknown
 * escape, a short \x escape, or \x00: names are C strings). */
int sm_unesc_text(const char *s, size_t len, char *out, size_t *bad, const char **why);

/* Why s cannot be the name of a generated C API (the `NAME_create`,
 * `typedef struct RtModel NAME` prefix): NULL when it can. A name must be
 * [A-Za-z][A-Za-z0-9_]*, at most SM_C_NAME_MAX bytes, and neither a C
 * keyword nor `main`, a name of the C library headers the generated code
 * includes, nor in the runtime's namespaces (rt_, Rt, RT_, SM_, omp_). */
#define SM_C_NAME_MAX 64
const char *sm_c_name_problem(const char *s);

#endif
