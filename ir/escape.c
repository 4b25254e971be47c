/* Escaping of user strings for generated C and the text format (escape.h). */
#include <stdio.h>
#include <string.h>

#include "escape.h"

static bool printable(unsigned char c) { return c >= 0x20 && c < 0x7f; }

void sm_esc_comment(SmBuf *b, const char *s) {
  for (size_t i = 0; s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    bool star_near = (i > 0 && s[i - 1] == '*') || s[i + 1] == '*';
    if (c == '\\') sm_buf_puts(b, "\\\\");
    else if (c == '?') sm_buf_puts(b, "\\?");
    else if (c == '/' && star_near) sm_buf_puts(b, "\\x2f");
    else if (printable(c)) sm_buf_putc(b, (char)c);
    else sm_buf_printf(b, "\\x%02x", c);
  }
}

void sm_esc_cstring(SmBuf *b, const char *s) {
  sm_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\' || *p == '?') sm_buf_printf(b, "\\%c", *p);
    else if (printable(*p)) sm_buf_putc(b, (char)*p);
    else sm_buf_printf(b, "\\%03o", *p);
  }
  sm_buf_putc(b, '"');
}

void sm_esc_dot(SmBuf *b, const char *s) {
  sm_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') sm_buf_printf(b, "\\%c", *p);
    else if (*p == '\n') sm_buf_puts(b, "\\n");
    else if (*p < 0x20 || *p == 0x7f) sm_buf_putc(b, ' ');
    else sm_buf_putc(b, (char)*p);
  }
  sm_buf_putc(b, '"');
}

void sm_esc_text(SmBuf *b, const char *s) {
  sm_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': sm_buf_puts(b, "\\\""); break;
    case '\\': sm_buf_puts(b, "\\\\"); break;
    case '\n': sm_buf_puts(b, "\\n"); break;
    case '\t': sm_buf_puts(b, "\\t"); break;
    case '\r': sm_buf_puts(b, "\\r"); break;
    default:
      if (*p < 0x20 || *p == 0x7f) sm_buf_printf(b, "\\x%02x", *p);
      else sm_buf_putc(b, (char)*p);
    }
  }
  sm_buf_putc(b, '"');
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int sm_unesc_text(const char *s, size_t len, char *out, size_t *bad, const char **why) {
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '\\') {
      out[k++] = s[i];
      continue;
    }
    *bad = i;
    if (i + 1 >= len) {
      *why = "a backslash ends the string (write \\\\ for a backslash)";
      return -1;
    }
    char e = s[++i];
    switch (e) {
    case '"': out[k++] = '"'; break;
    case '\\': out[k++] = '\\'; break;
    case 'n': out[k++] = '\n'; break;
    case 't': out[k++] = '\t'; break;
    case 'r': out[k++] = '\r'; break;
    case 'x': {
      int hi = i + 1 < len ? hex_digit(s[i + 1]) : -1;
      int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        *why = "\\x needs two hex digits";
        return -1;
      }
      if (hi == 0 && lo == 0) {
        *why = "\\x00: a string cannot hold a NUL byte";
        return -1;
      }
      out[k++] = (char)(hi * 16 + lo);
      i += 2;
      break;
    }
    default:
      *why = "unknown escape (the text format knows \\\" \\\\ \\n \\t \\r \\xHH)";
      return -1;
    }
  }
  out[k] = 0;
  return (int)k;
}

/* Identifiers a generated program or its header cannot declare at file
 * scope: C keywords (C11, C23 and GNU), main, and the names of the headers
 * the generated C includes (math.h, string.h, stdint.h, stddef.h, stdio.h
 * through rt.h) or that a program using the API commonly does (stdlib.h,
 * stdbool.h), POSIX additions included. */
static const char *const reserved[] = {
    /* keywords */
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "alignas", "alignof", "bool", "true",
    "false", "nullptr", "static_assert", "thread_local", "typeof", "typeof_unqual", "constexpr",
    "asm", "complex", "imaginary", "noreturn", "main",
    /* stddef.h, stdint.h, stdbool.h */
    "size_t", "ptrdiff_t", "wchar_t", "max_align_t", "NULL", "offsetof", "int8_t", "int16_t",
    "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intptr_t",
    "uintptr_t", "intmax_t", "uintmax_t",
    /* math.h */
    "acos", "asin", "atan", "atan2", "cos", "sin", "tan", "acosh", "asinh", "atanh", "cosh",
    "sinh", "tanh", "exp", "exp2", "expm1", "frexp", "ilogb", "ldexp", "log", "log10", "log1p",
    "log2", "logb", "modf", "scalbn", "scalbln", "cbrt", "fabs", "hypot", "pow", "sqrt", "erf",
    "erfc", "lgamma", "tgamma", "ceil", "floor", "nearbyint", "rint", "lrint", "llrint",
    "round", "lround", "llround", "trunc", "fmod", "remainder", "remquo", "copysign", "nan",
    "nextafter", "nexttoward", "fdim", "fmax", "fmin", "fma", "fpclassify", "isfinite",
    "isinf", "isnan", "isnormal", "signbit", "isgreater", "isgreaterequal", "isless",
    "islessequal", "islessgreater", "isunordered", "float_t", "double_t", "gamma", "j0", "j1",
    "jn", "y0", "y1", "yn", "drem", "finite", "significand", "scalb", "exp10", "pow10",
    "sincos", "INFINITY", "NAN", "HUGE_VAL", "HUGE_VALF", "HUGE_VALL", "FP_NAN",
    "FP_INFINITE", "FP_ZERO", "FP_SUBNORMAL", "FP_NORMAL", "M_E", "M_PI", "M_LN2", "M_LN10",
    "M_SQRT2", "M_PI_2", "M_PI_4", "M_1_PI", "M_2_PI", "M_LOG2E", "M_LOG10E", "M_2_SQRTPI",
    "M_SQRT1_2", "MATH_ERRNO", "MATH_ERREXCEPT", "math_errhandling", "signgam",
    /* string.h */
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strcpy", "strncpy", "strcat",
    "strncat", "strcmp", "strncmp", "strcoll", "strxfrm", "strchr", "strrchr", "strspn",
    "strcspn", "strpbrk", "strstr", "strtok", "strlen", "strerror", "strdup", "strndup",
    "strnlen", "stpcpy", "stpncpy", "strtok_r", "strerror_r", "memccpy", "strsignal",
    "strcasecmp", "strncasecmp", "bzero", "bcopy", "bcmp", "index", "rindex", "ffs",
    /* stdio.h */
    "FILE", "fpos_t", "EOF", "BUFSIZ", "FILENAME_MAX", "FOPEN_MAX", "L_tmpnam", "TMP_MAX",
    "SEEK_SET", "SEEK_CUR", "SEEK_END", "stdin", "stdout", "stderr", "remove", "rename",
    "tmpfile", "tmpnam", "fclose", "fflush", "fopen", "freopen", "setbuf", "setvbuf",
    "fprintf", "fscanf", "printf", "scanf", "snprintf", "sprintf", "sscanf", "vfprintf",
    "vfscanf", "vprintf", "vscanf", "vsnprintf", "vsprintf", "vsscanf", "fgetc", "fgets",
    "fputc", "fputs", "getc", "getchar", "gets", "putc", "putchar", "puts", "ungetc", "fread",
    "fwrite", "fgetpos", "fseek", "fsetpos", "ftell", "rewind", "clearerr", "feof", "ferror",
    "perror", "fdopen", "fileno", "popen", "pclose", "getline", "getdelim", "dprintf",
    "fmemopen", "open_memstream", "flockfile", "funlockfile", "ftrylockfile", "fseeko",
    "ftello", "ctermid", "tempnam", "renameat", "off_t", "ssize_t", "va_list",
    /* stdlib.h */
    "atof", "atoi", "atol", "atoll", "strtod", "strtof", "strtold", "strtol", "strtoll",
    "strtoul", "strtoull", "rand", "srand", "aligned_alloc", "calloc", "free", "malloc",
    "realloc", "abort", "atexit", "at_quick_exit", "exit", "_Exit", "quick_exit", "getenv",
    "system", "bsearch", "qsort", "abs", "labs", "llabs", "div", "ldiv", "lldiv", "div_t",
    "ldiv_t", "lldiv_t", "mblen", "mbtowc", "wctomb", "mbstowcs", "wcstombs", "RAND_MAX",
    "EXIT_SUCCESS", "EXIT_FAILURE", "MB_CUR_MAX", "setenv", "unsetenv", "putenv", "mkstemp",
    "mkdtemp", "realpath", "random", "srandom", "drand48", "erand48", "lrand48", "mrand48",
    "srand48", "posix_memalign", "alloca", "environ", "errno", "assert"};

const char *sm_c_name_problem(const char *s) {
  static const char *const runtime = "it is in the namespace of the smelt runtime or a library it uses";
  size_t n = strlen(s);
  if (n == 0) return "it is empty";
  if (n > SM_C_NAME_MAX) return "it is longer than 64 characters";
  if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
    return "it does not start with a letter";
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return "it holds characters other than letters, digits and '_'";
  }
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
    size_t k = strlen(reserved[i]);
    /* also the float and long double forms: expf, sqrtl, ... */
    if (strncmp(s, reserved[i], k) == 0 && (!s[k] || ((s[k] == 'f' || s[k] == 'l') && !s[k + 1])))
      return "it is a C keyword or a C library name";
  }
  /* the C library's macros: SIZE_MAX, INT8_C, M_PI, EINVAL, ... */
  bool caps = true, under = false;
  for (size_t i = 0; i < n; i++) {
    caps &= !(s[i] >= 'a' && s[i] <= 'z');
    under |= s[i] == '_';
  }
  if (caps && (under || (s[0] == 'E' && n >= 4)))
    return "in capitals it is in the namespace of the C library's macros";
  /* NAME_create, NAME_error, ... would define a C library function */
  static const char *const api_clash[] = {"pthread", "thrd", "tss", "timer", "aio"};
  for (size_t i = 0; i < sizeof api_clash / sizeof *api_clash; i++)
    if (strcmp(s, api_clash[i]) == 0) return "its C API (NAME_create, ...) would define C library functions";
  /* the generated kernels: kN_op, fF_kN_op */
  if ((s[0] == 'k' || s[0] == 'f') && s[1] >= '0' && s[1] <= '9')
    return "names of a letter f or k and a digit are the generated kernels'";
  static const char *const prefixes[] = {"rt_", "Rt", "RT_", "SM_", "SMELT_", "omp_", "cJSON"};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0) return runtime;
  if (strcmp(s, "rt") == 0 || strcmp(s, "omp") == 0) return runtime;
  /* the header's guard and macros are NAME in capitals: NAME_H, ... */
  static const char *const upper[] = {"SMELT_", "SM_", "RT_"};
  for (size_t i = 0; i < sizeof upper / sizeof *upper; i++) {
    size_t k = 0;
    while (upper[i][k] && s[k] && (s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]) == upper[i][k])
      k++;
    if (!upper[i][k]) return "in capitals it is in the namespace of the smelt runtime";
  }
  return NULL;
}
