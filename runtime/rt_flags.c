/* Command-line numbers, flag tables and run locks shared by generated programs and the
 * smelt CLI.
 *
 * Numbers: the whole argument must be one decimal integer (or one finite
 * floating-point number) within the flag's range: no empty string, no
 * leading blanks, no trailing characters ("2x"), no overflow, no NaN or
 * infinity. Errors name the flag, the value and the accepted range.
 *
 * Locks: a run that writes a checkpoint or metrics file holds an advisory
 * lock (flock) on PATH.lock beside it for its whole life, so a second run
 * naming the same file is refused instead of interleaving its writes. The
 * kernel drops the lock when the process exits, however it exits; the
 * lock file is removed on release and, when a killed run left it, is
 * simply locked again by the next run. Rows appended to a locked metrics
 * file go through rt_append_open (rt_file.c): regular files only. */
#include "rt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int rt_flag_int(const char *flag, const char *v, long long lo, long long hi, long long *out,
                RtErr *e) {
  if (!v || !*v)
    return rt_fail(e, "%s: empty value (want an integer in [%lld, %lld])", flag, lo, hi);
  char *end;
  errno = 0;
  long long x = isspace((unsigned char)*v) ? 0 : strtoll(v, &end, 10);
  if (isspace((unsigned char)*v) || end == v || *end)
    return rt_fail(e, "%s: '%s' is not an integer (want one in [%lld, %lld])", flag, v, lo, hi);
  if (errno == ERANGE || x < lo || x > hi)
    return rt_fail(e, "%s: %s is out of range (want an integer in [%lld, %lld])", flag, v, lo, hi);
  *out = x;
  return 0;
}

int rt_flag_int32(const char *flag, const char *v, int lo, int hi, int *out, RtErr *e) {
  long long x;
  if (rt_flag_int(flag, v, lo, hi, &x, e)) return -1;
  *out = (int)x;
  return 0;
}

int rt_flag_double(const char *flag, const char *v, double lo, double hi, double *out, RtErr *e) {
  char want[96] = "a finite number";
  if (lo > -1e300 || hi < 1e300) snprintf(want, sizeof want, "a finite number in [%g, %g]", lo, hi);
  if (!v || !*v) return rt_fail(e, "%s: empty value (want %s)", flag, want);
  char *end;
  double x = isspace((unsigned char)*v) ? 0 : strtod(v, &end);
  if (isspace((unsigned char)*v) || end == v || *end)
    return rt_fail(e, "%s: '%s' is not a number (want %s)", flag, v, want);
  if (!isfinite(x) || x < lo || x > hi)
    return rt_fail(e, "%s: %s is out of range (want %s)", flag, v, want);
  *out = x;
  return 0;
}

int rt_max_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  long m = 8 * n > 64 ? 8 * n : 64;
  return m > 4096 ? 4096 : (int)m;
}

int rt_flag_threads(const char *flag, const char *v, int *out, RtErr *e) {
  return rt_flag_int32(flag, v, 1, rt_max_threads(), out, e);
}

/* ---- flag tables ---- */

static int row_on(const RtFlag *r, unsigned cmd, unsigned feats) {
  return (r->where & cmd) && (r->needs & feats) == r->needs && !(r->unless & feats);
}

/* One value into dst per the row; -1 with e set (or e empty: "invalid
 * value") when it is refused. */
static int flag_value(const RtFlag *r, const char *v, char *dst, RtErr *e) {
  void *p = dst + r->off;
  long long x;
  switch (r->kind) {
  case RT_FLAG_STR: *(const char **)p = v; return 0;
  case RT_FLAG_INT: return rt_flag_int32(r->name, v, (int)r->ilo, (int)r->ihi, p, e);
  case RT_FLAG_I64:
    if (rt_flag_int(r->name, v, r->ilo, r->ihi, &x, e)) return -1;
    *(int64_t *)p = x;
    return 0;
  case RT_FLAG_DOUBLE: return rt_flag_double(r->name, v, r->lo, r->hi, p, e);
  case RT_FLAG_THREADS: return rt_flag_threads(r->name, v, p, e);
  case RT_FLAG_CHOICE:
    for (int i = 0; i < r->nchoices; i++)
      if (!strcmp(v, r->choices[i])) return *(int *)p = i, 0;
    return -1;
  case RT_FLAG_CUSTOM: return r->parse(v, p);
  default: return -1;
  }
}

int rt_flags_parse(const RtFlag *t, int n, unsigned cmd, unsigned feats, const char *prog,
                   const char *cmdname, int argc, char **argv, void *dst) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    char name[64];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
    const char *eq = strchr(a, '=');
    if (strncmp(a, "--", 2) || (eq ? (size_t)(eq - a) : strlen(a)) >= sizeof name) {
      fprintf(stderr, "%s %s: error: unexpected argument '%s' (see --help)\n", prog, cmdname, a);
      return 2;
    }
    if (eq) {
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      v = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", a);
      v = i + 1 < argc ? argv[++i] : NULL;
    }
    if (!v) {
      fprintf(stderr, "%s %s: error: option '%s' needs a value (see --help)\n", prog, cmdname,
              name);
      return 2;
    }
    const RtFlag *r = NULL;
    for (int k = 0; k < n && !r; k++)
      if (t[k].name && !strcmp(t[k].name, name) && row_on(&t[k], cmd, feats)) r = &t[k];
    if (!r) {
      fprintf(stderr, "%s %s: error: unknown option '%s' (see --help)\n", prog, cmdname, name);
      return 2;
    }
    RtErr fe = {{0}};
    if (flag_value(r, v, dst, &fe)) {
      if (fe.msg[0])
        fprintf(stderr, "%s %s: error: %s (see --help)\n", prog, cmdname, fe.msg);
      else
        fprintf(stderr, "%s %s: error: invalid value '%s' for %s (see --help)\n", prog, cmdname,
                v, name);
      return 2;
    }
    if (r->set_off) *(int *)((char *)dst + r->set_off - 1) = 1;
  }
  return 0;
}

/* s[0..len) with {key} expanded, into f; the number of bytes written. */
static size_t put_text(FILE *f, const char *s, size_t len, RtFlagFill fill, const void *ctx) {
  size_t out = 0;
  for (size_t i = 0; i < len; i++) {
    const char *close = s[i] == '{' && fill ? memchr(s + i, '}', len - i) : NULL;
    if (!close) {
      fputc(s[i], f);
      out++;
      continue;
    }
    char key[32], buf[1024] = "";
    snprintf(key, sizeof key, "%.*s", (int)(close - s - i - 1), s + i + 1);
    fill(ctx, key, buf, sizeof buf);
    fputs(buf, f);
    out += strlen(buf);
    i = (size_t)(close - s);
  }
  return out;
}

enum { HELP_COL = 22 };

void rt_flags_usage(const RtFlag *t, int n, unsigned cmd, unsigned feats, RtFlagFill fill,
                    const void *ctx, FILE *f) {
  for (int k = 0; k < n; k++) {
    const RtFlag *r = &t[k];
    if (!row_on(r, cmd, feats) || (r->kind != RT_FLAG_TEXT && !r->syn)) continue;
    if (r->kind == RT_FLAG_TEXT) {
      put_text(f, r->help, strlen(r->help), fill, ctx);
      continue;
    }
    /* "  SYN" padded to the help column, or SYN alone on its line */
    fputs("  ", f);
    size_t w = 2 + put_text(f, r->syn, strlen(r->syn), fill, ctx);
    const char *h = r->help ? r->help : "";
    int first = 1;
    while (*h) {
      const char *nl = strchr(h, '\n');
      size_t len = nl ? (size_t)(nl - h) : strlen(h);
      if (first && w < HELP_COL) fprintf(f, "%*s", (int)(HELP_COL - w), "");
      else fprintf(f, "%s%*s", first ? "\n" : "", HELP_COL, "");
      put_text(f, h, len, fill, ctx);
      fputc('\n', f);
      first = 0;
      h += len + (nl != NULL);
    }
    if (first) fputc('\n', f);
  }
}

/* ---- run locks ---- */

/* PATH.lock for the file PATH names: symbolic links and the directory
 * resolved, so two spellings of one file share one lock. */
static int lock_path(const char *path, char *out, size_t n, RtErr *e) {
  char buf[PATH_MAX], *r = realpath(path, NULL);
  if (!r) {
    /* not there yet: its directory resolved, plus the last component */
    const char *slash = strrchr(path, '/');
    if (slash && slash - path >= (long)sizeof buf) return rt_fail(e, "%s: path too long", path);
    if (slash == path) snprintf(buf, sizeof buf, "/");
    else if (slash) snprintf(buf, sizeof buf, "%.*s", (int)(slash - path), path);
    else snprintf(buf, sizeof buf, ".");
    char *dir = realpath(buf, NULL);
    if (!dir) return rt_fail(e, "%s: directory %s: %s", path, buf, strerror(errno));
    int len = snprintf(out, n, "%s/%s.lock", strcmp(dir, "/") ? dir : "",
                       slash ? slash + 1 : path);
    free(dir);
    if (len < 0 || (size_t)len >= n) return rt_fail(e, "%s: path too long", path);
    return 0;
  }
  int len = snprintf(out, n, "%s.lock", r);
  free(r);
  if (len < 0 || (size_t)len >= n) return rt_fail(e, "%s: path too long", path);
  return 0;
}

int rt_lock_acquire(RtLock *l, const char *path, RtErr *e) {
  memset(l, 0, sizeof *l);
  if (lock_path(path, l->path, sizeof l->path, e)) return -1;
  /* a run releasing its lock unlinks the file: retry until the locked
   * file is the one the name still points to */
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd < 0) return rt_fail(e, "%s: cannot open the lock file %s: %s", path, l->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(fd);
      if (err == EWOULDBLOCK)
        return rt_fail(e, "%s is in use by another running process (it holds %s); "
                       "give each run its own file", path, l->path);
      return rt_fail(e, "%s: cannot lock %s: %s", path, l->path, strerror(err));
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && lstat(l->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
      if (!S_ISREG(a.st_mode)) {
        close(fd);
        return rt_fail(e, "%s: the lock file %s is not a regular file", path, l->path);
      }
      l->fd = fd;
      l->held = 1;
      return 0;
    }
    close(fd);
  }
  return rt_fail(e, "%s: cannot lock %s: it keeps changing", path, l->path);
}

void rt_lock_release(RtLock *l) {
  if (!l->held) return;
  unlink(l->path);
  close(l->fd);
  l->held = 0;
}

int rt_outputs_prepare(const RtOutFlag *f, int n, RtLock *locks, RtErr *e) {
  for (int i = 0; i < n; i++) {
    RtErr oe = {{0}};
    if (f[i].path && rt_out_check(f[i].path, &oe)) return rt_fail(e, "%s %s", f[i].flag, oe.msg);
  }
  for (int i = 0; i < n; i++) {
    if (!f[i].path || !f[i].lock) continue;
    char lp[sizeof locks[i].path];
    RtErr le = {{0}};
    int bad = lock_path(f[i].path, lp, sizeof lp, &le);
    for (int j = 0; j < i && !bad; j++)
      if (locks[j].held && !strcmp(locks[j].path, lp)) {
        rt_outputs_release(locks, n);
        return rt_fail(e, "%s and %s name the same file %s", f[j].flag, f[i].flag, f[i].path);
      }
    if (bad || rt_lock_acquire(&locks[i], f[i].path, &le)) {
      rt_outputs_release(locks, n);
      return rt_fail(e, "%s %s", f[i].flag, le.msg);
    }
  }
  return 0;
}

void rt_outputs_release(RtLock *locks, int n) {
  for (int i = 0; i < n; i++) rt_lock_release(&locks[i]);
}
