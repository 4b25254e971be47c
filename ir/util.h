/* Shared compiler utilities: arenas, growable string buffers, diagnostics
 * with source locations, internal assertions. Nothing here is linked into
 * generated programs (that is runtime/). */
#ifndef SM_UTIL_H
#define SM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smelt/smelt.h"

#define SM_ASSERT(c)                                                          \
  do {                                                                        \
    if (!(c)) sm_assert_fail(__FILE__, __LINE__, #c);                         \
  } while (0)
_Noreturn void sm_assert_fail(const char *file, int line, const char *cond);

#define SM_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Checked allocation: aborts with a message on exhaustion (compiler side). */
void *sm_xmalloc(size_t n);
void *sm_xcalloc(size_t n, size_t sz);
void *sm_xrealloc(void *p, size_t n);
char *sm_xstrdup(const char *s);
/* Online processors of this machine (at least 1); SMELT_NCPU overrides. */
int sm_ncpu(void);

/* ---- arena: bump allocator freed as a whole ---- */
typedef struct SmArenaBlock SmArenaBlock;
typedef struct SmArena {
  SmArenaBlock *head;
} SmArena;

void sm_arena_init(SmArena *a);
void sm_arena_free(SmArena *a);
void *sm_arena_alloc(SmArena *a, size_t n); /* zeroed, 16-byte aligned */
char *sm_arena_strdup(SmArena *a, const char *s);
char *sm_arena_strndup(SmArena *a, const char *s, size_t n);
char *sm_arena_printf(SmArena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void *sm_arena_memdup(SmArena *a, const void *p, size_t n);

/* Growable array stored in an arena: SM_VEC_PUSH(arena, items, n, cap, x). */
void *sm_arena_grow(SmArena *a, void *items, int n, int *cap, size_t elem);
#define SM_VEC_PUSH(arena, items, n, cap, x)                                  \
  do {                                                                        \
    if ((n) >= (cap))                                                         \
      (items) = sm_arena_grow((arena), (items), (n), &(cap), sizeof(*(items))); \
    (items)[(n)++] = (x);                                                     \
  } while (0)

/* ---- binary min-heap of (key, index) pairs, ordered by key then index ---- */
typedef struct SmHeapItem {
  int64_t key;
  int idx;
} SmHeapItem;
typedef struct SmHeap {
  SmHeapItem *items;
  int n, cap;
} SmHeap;
void sm_heap_push(SmHeap *h, int64_t key, int idx);
/* Removes the smallest item into *out; false when empty. */
bool sm_heap_pop(SmHeap *h, SmHeapItem *out);
void sm_heap_free(SmHeap *h);

/* ---- string buffer (heap) ---- */
typedef struct SmBuf {
  char *s;
  size_t len, cap;
} SmBuf;

void sm_buf_free(SmBuf *b);
void sm_buf_putc(SmBuf *b, char c);
void sm_buf_puts(SmBuf *b, const char *s);
void sm_buf_printf(SmBuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sm_buf_vprintf(SmBuf *b, const char *fmt, va_list ap);
const char *sm_buf_str(SmBuf *b); /* never NULL */

/* ---- source locations and diagnostics ---- */
typedef struct SmLoc {
  const char *file; /* NULL when the value was built programmatically */
  int line, col;    /* 1-based; 0 when unknown */
} SmLoc;

typedef struct SmSource {
  const char *name;
  const char *text;
} SmSource;

/* Collects every error so a whole file can be reported at once.
 * Messages read `file:line:col: error: msg` followed by the source line and
 * a caret when the source text is known. */
typedef struct SmDiag {
  SmBuf out;
  int nerrors;
  SmSource srcs[8];
  int nsrcs;
  bool echo; /* also write each message to stderr as it is reported */
} SmDiag;

void sm_diag_init(SmDiag *d);
void sm_diag_free(SmDiag *d);
void sm_diag_add_source(SmDiag *d, const char *name, const char *text);
void sm_error(SmDiag *d, SmLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sm_verror(SmDiag *d, SmLoc loc, const char *fmt, va_list ap);
void sm_note(SmDiag *d, SmLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *sm_diag_text(SmDiag *d);

/* Read a whole file into a NUL-terminated heap string. */
SmStatus sm_read_file(const char *path, char **out, size_t *len, SmDiag *d);
/* Write atomically: temp file in the same directory, then rename. */
SmStatus sm_write_file_atomic(const char *path, const void *data, size_t len,
                              SmDiag *d);

#endif
