/* Arenas, string buffers, diagnostics and checked file I/O for the compiler. */
#include "util.h"
#include "rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void sm_assert_fail(const char *file, int line, const char *cond) {
  fprintf(stderr, "%s:%d: internal error: assertion failed: %s\n", file, line,
          cond);
  abort();
}

const char *sm_status_str(SmStatus s) {
  switch (s) {
  case SM_OK: return "ok";
  case SM_ERR_PARSE: return "parse error";
  case SM_ERR_INVALID: return "invalid model";
  case SM_ERR_IO: return "I/O error";
  case SM_ERR_UNSUPPORTED: return "unsupported";
  case SM_ERR_NOMEM: return "out of memory";
  case SM_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

static _Noreturn void oom(size_t n) {
  fprintf(stderr, "smelt: error: out of memory allocating %zu bytes\n", n);
  abort();
}

void *sm_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom(n);
  return p;
}

void *sm_xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) oom(n * sz);
  return p;
}

void *sm_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom(n);
  return q;
}

char *sm_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(sm_xmalloc(n), s, n);
}

/* ---- arena ---- */
struct SmArenaBlock {
  SmArenaBlock *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void sm_arena_init(SmArena *a) { a->head = NULL; }

void sm_arena_free(SmArena *a) {
  SmArenaBlock *b = a->head;
  while (b) {
    SmArenaBlock *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
}

void *sm_arena_alloc(SmArena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  SmArenaBlock *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    b = sm_xmalloc(sizeof(SmArenaBlock) + cap);
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *sm_arena_strndup(SmArena *a, const char *s, size_t n) {
  char *p = sm_arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *sm_arena_strdup(SmArena *a, const char *s) {
  return sm_arena_strndup(a, s, strlen(s));
}

char *sm_arena_printf(SmArena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  SmBuf b = {0};
  sm_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  char *p = sm_arena_strndup(a, sm_buf_str(&b), b.len);
  sm_buf_free(&b);
  return p;
}

void *sm_arena_memdup(SmArena *a, const void *p, size_t n) {
  void *q = sm_arena_alloc(a, n);
  if (n) memcpy(q, p, n);
  return q;
}

void *sm_arena_grow(SmArena *a, void *items, int n, int *cap, size_t elem) {
  int ncap = *cap ? *cap * 2 : 8;
  void *p = sm_arena_alloc(a, (size_t)ncap * elem);
  if (n) memcpy(p, items, (size_t)n * elem);
  *cap = ncap;
  return p;
}

/* ---- buffers ---- */
void sm_buf_free(SmBuf *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

static void buf_reserve(SmBuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  b->s = sm_xrealloc(b->s, cap);
  b->cap = cap;
}

void sm_buf_putc(SmBuf *b, char c) {
  buf_reserve(b, 1);
  b->s[b->len++] = c;
  b->s[b->len] = 0;
}

void sm_buf_puts(SmBuf *b, const char *s) {
  size_t n = strlen(s);
  buf_reserve(b, n);
  memcpy(b->s + b->len, s, n + 1);
  b->len += n;
}

void sm_buf_vprintf(SmBuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  buf_reserve(b, (size_t)n);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sm_buf_printf(SmBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

const char *sm_buf_str(SmBuf *b) { return b->s ? b->s : ""; }

/* ---- diagnostics ---- */
void sm_diag_init(SmDiag *d) { memset(d, 0, sizeof *d); }
void sm_diag_free(SmDiag *d) { sm_buf_free(&d->out); }

void sm_diag_add_source(SmDiag *d, const char *name, const char *text) {
  if (d->nsrcs == SM_COUNT(d->srcs)) return;
  d->srcs[d->nsrcs].name = name;
  d->srcs[d->nsrcs].text = text;
  d->nsrcs++;
}

static const char *find_source(SmDiag *d, const char *name) {
  if (!name) return NULL;
  for (int i = 0; i < d->nsrcs; i++)
    if (strcmp(d->srcs[i].name, name) == 0) return d->srcs[i].text;
  return NULL;
}

static void report(SmDiag *d, SmLoc loc, const char *kind, const char *fmt,
                   va_list ap) {
  size_t start = d->out.len;
  if (loc.file && loc.line > 0)
    sm_buf_printf(&d->out, "%s:%d:%d: %s: ", loc.file, loc.line,
                  loc.col > 0 ? loc.col : 1, kind);
  else if (loc.file)
    sm_buf_printf(&d->out, "%s: %s: ", loc.file, kind);
  else
    sm_buf_printf(&d->out, "smelt: %s: ", kind);
  sm_buf_vprintf(&d->out, fmt, ap);
  sm_buf_putc(&d->out, '\n');
  const char *text = find_source(d, loc.file);
  if (text && loc.line > 0) {
    const char *p = text;
    for (int l = 1; l < loc.line && *p; p++)
      if (*p == '\n') l++;
    const char *e = p;
    while (*e && *e != '\n') e++;
    sm_buf_printf(&d->out, "  %.*s\n  ", (int)(e - p), p);
    for (int c = 1; c < loc.col && p + c - 1 < e; c++)
      sm_buf_putc(&d->out, p[c - 1] == '\t' ? '\t' : ' ');
    sm_buf_puts(&d->out, "^\n");
  }
  /* names and source lines come from strangers: no control character
   * (an escape sequence, a carriage return) reaches the terminal */
  for (size_t i = start; i < d->out.len; i++) {
    unsigned char c = (unsigned char)d->out.s[i];
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) d->out.s[i] = '?';
  }
  if (d->echo) fputs(d->out.s + start, stderr);
}

void sm_verror(SmDiag *d, SmLoc loc, const char *fmt, va_list ap) {
  d->nerrors++;
  report(d, loc, "error", fmt, ap);
}

void sm_error(SmDiag *d, SmLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_verror(d, loc, fmt, ap);
  va_end(ap);
}

void sm_note(SmDiag *d, SmLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, "note", fmt, ap);
  va_end(ap);
}

const char *sm_diag_text(SmDiag *d) { return sm_buf_str(&d->out); }

/* ---- files ---- */
SmStatus sm_read_file(const char *path, char **out, size_t *len, SmDiag *d) {
  SmLoc loc = {path, 0, 0};
  RtErr re;
  FILE *f = rt_in_open(path, &re);
  if (!f) {
    /* rt_in_open's message starts with the path, which loc gives */
    const char *m = re.msg, *c = strstr(m, ": ");
    sm_error(d, loc, "%s", c && !strncmp(m, path, (size_t)(c - m)) ? c + 2 : m);
    return SM_ERR_IO;
  }
  SmBuf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    buf_reserve(&b, n);
    memcpy(b.s + b.len, chunk, n);
    b.len += n;
    b.s[b.len] = 0;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    sm_error(d, loc, "read failed");
    sm_buf_free(&b);
    return SM_ERR_IO;
  }
  if (!b.s) b.s = sm_xcalloc(1, 1);
  *out = b.s;
  if (len) *len = b.len;
  return SM_OK;
}

SmStatus sm_write_file_atomic(const char *path, const void *data, size_t len,
                              SmDiag *d) {
  RtOut o;
  RtErr re;
  if (rt_out_open(&o, path, &re) ||
      rt_out_commit(&o, fwrite(data, 1, len, o.f) == len, &re)) {
    const char *m = re.msg, *c = strstr(m, ": ");
    sm_error(d, (SmLoc){path, 0, 0}, "%s", c && !strncmp(m, path, (size_t)(c - m)) ? c + 2 : m);
    return SM_ERR_IO;
  }
  return SM_OK;
}

int sm_ncpu(void) {
  const char *e = getenv("SMELT_NCPU");
  long n = e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/* ---- binary min-heap ---- */
static bool heap_less(SmHeapItem a, SmHeapItem b) {
  return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

void sm_heap_push(SmHeap *h, int64_t key, int idx) {
  if (h->n == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 16;
    h->items = sm_xrealloc(h->items, sizeof *h->items * (size_t)h->cap);
  }
  int i = h->n++;
  SmHeapItem it = {key, idx};
  while (i > 0 && heap_less(it, h->items[(i - 1) / 2])) {
    h->items[i] = h->items[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->items[i] = it;
}

bool sm_heap_pop(SmHeap *h, SmHeapItem *out) {
  if (!h->n) return false;
  *out = h->items[0];
  SmHeapItem last = h->items[--h->n];
  int i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && heap_less(h->items[c + 1], h->items[c])) c++;
    if (!heap_less(h->items[c], last)) break;
    h->items[i] = h->items[c];
    i = c;
  }
  if (h->n) h->items[i] = last;
  return true;
}

void sm_heap_free(SmHeap *h) {
  free(h->items);
  *h = (SmHeap){0};
}
