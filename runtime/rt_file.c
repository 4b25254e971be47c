/* Files named by users: readers open regular files only (a FIFO never
 * blocks them, a device is never read), writers replace regular files
 * only, atomically, and leave no temporary file behind.
 *
 * Symbolic links: a write through a link replaces the regular file it
 * resolves to (the link stays); a dangling link, or one resolving to
 * anything but a regular file, is refused. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
  return S_ISDIR(m)    ? "a directory"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISSOCK(m) ? "a socket"
                       : "not a regular file";
}

/* Opens path with `flags` if it is a regular file: the descriptor, or -1
 * with errno set (the open or fstat failed) or *mode set to what the path
 * is instead (errno 0). O_NONBLOCK: opening a FIFO returns at once
 * instead of waiting for the other end; it is refused here. */
static int open_regular(const char *path, int flags, mode_t *mode) {
  int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *mode = st.st_mode;
    close(fd);
    errno = 0;
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

int rt_in_open_fd(const char *path, RtErr *e) {
  if (!path || !*path) return rt_fail(e, "(null): no input path");
  mode_t mode = 0;
  int fd = open_regular(path, O_RDONLY, &mode);
  if (fd < 0 && errno) return rt_fail(e, "%s: cannot open: %s", path, strerror(errno));
  if (fd < 0) return rt_fail(e, "%s: is %s, not a regular file", path, kind_of(mode));
  return fd;
}

FILE *rt_append_open(const char *path, RtErr *e) {
  mode_t mode = 0;
  int fd = open_regular(path, O_WRONLY | O_APPEND, &mode);
  if (fd < 0 && errno)
    return rt_fail(e, "%s: cannot open for appending: %s", path, strerror(errno)), NULL;
  if (fd < 0) return rt_fail(e, "%s: no longer a regular file; not appending to it", path), NULL;
  FILE *f = fdopen(fd, "a");
  if (!f) {
    rt_fail(e, "%s: cannot open for appending: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

FILE *rt_in_open(const char *path, RtErr *e) {
  int fd = rt_in_open_fd(path, e);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    rt_fail(e, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

/* The directory of path: everything before its last slash. */
static void dir_of(const char *path, char *dir, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, n, ".");
  else if (slash == path) snprintf(dir, n, "/");
  else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* The regular file a write to `path` replaces (`target`), or where a new
 * one is created; its directory must exist and be writable. */
static int out_resolve(const char *path, char *target, size_t n, RtErr *e) {
  if (!path || !*path) return rt_fail(e, "(null): no output path");
  if (strlen(path) >= n - 32) return rt_fail(e, "%s: path too long", path);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      char *r = realpath(path, NULL);
      if (!r)
        return rt_fail(e, "%s: symbolic link to a missing or unreachable file: %s", path,
                       strerror(errno));
      int bad = strlen(r) >= n - 32 || stat(r, &st) != 0;
      if (!bad) strcpy(target, r);
      free(r);
      if (bad) return rt_fail(e, "%s: cannot resolve the symbolic link", path);
    } else {
      strcpy(target, path);
    }
    if (!S_ISREG(st.st_mode))
      return rt_fail(e, "%s: is %s; refusing to replace it", path, kind_of(st.st_mode));
  } else if (errno == ENOENT) {
    strcpy(target, path);
  } else {
    return rt_fail(e, "%s: %s", path, strerror(errno));
  }
  char dir[PATH_MAX];
  dir_of(target, dir, sizeof dir);
  if (stat(dir, &st) != 0)
    return rt_fail(e, "%s: directory %s does not exist", path, dir);
  if (!S_ISDIR(st.st_mode)) return rt_fail(e, "%s: %s is not a directory", path, dir);
  if (access(dir, W_OK) != 0)
    return rt_fail(e, "%s: directory %s is not writable: %s", path, dir, strerror(errno));
  return 0;
}

int rt_out_check(const char *path, RtErr *e) {
  char target[PATH_MAX];
  return out_resolve(path, target, sizeof target, e);
}

int rt_out_open(RtOut *o, const char *path, RtErr *e) {
  memset(o, 0, sizeof *o);
  o->path = path;
  if (out_resolve(path, o->target, sizeof o->target, e)) return -1;
  char dir[PATH_MAX];
  dir_of(o->target, dir, sizeof dir);
  /* an unnamed file in the target's directory: nothing is left behind if
   * the process dies before the commit names it */
  int fd = -1;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#endif
  if (fd < 0) {
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", o->target) >= (int)sizeof o->tmp)
      return rt_fail(e, "%s: path too long", path);
    fd = mkstemp(o->tmp);
    if (fd < 0)
      return rt_fail(e, "%s: cannot create a temporary file: %s", path, strerror(errno));
    fchmod(fd, 0644); /* mkstemp makes 0600; best effort */
  }
  o->f = fdopen(fd, "wb");
  if (!o->f) {
    rt_fail(e, "%s: cannot open a temporary file: %s", path, strerror(errno));
    close(fd);
    if (o->tmp[0]) unlink(o->tmp);
    return -1;
  }
  return 0;
}

/* Gives the unnamed file of o a unique temporary name beside its target. */
static int name_tmpfile(RtOut *o) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(o->f));
  for (int attempt = 0; attempt < 100; attempt++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld.%ld.%d", o->target, (long)getpid(),
                 (long)ts.tv_nsec, attempt) >= (int)sizeof o->tmp)
      break;
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno != EEXIST) break;
  }
  o->tmp[0] = 0;
  return -1;
}

int rt_out_commit(RtOut *o, int ok, RtErr *e) {
  const char *failed = NULL;
  int err = 0;
  if (ok && fflush(o->f) != 0) failed = "write", err = errno;
  else if (ok && fsync(fileno(o->f)) != 0 && errno != EINVAL) failed = "fsync", err = errno;
  if (ok && !failed && !o->tmp[0] && name_tmpfile(o) != 0) failed = "link", err = errno;
  if (fclose(o->f) != 0 && ok && !failed) failed = "close", err = errno;
  o->f = NULL;
  if (ok && !failed && rename(o->tmp, o->target) != 0) failed = "rename into place", err = errno;
  if (ok && !failed) return 0;
  if (o->tmp[0]) unlink(o->tmp);
  return failed ? rt_fail(e, "%s: %s failed: %s", o->path, failed, strerror(err)) : -1;
}

void rt_out_abort(RtOut *o) {
  if (o->f) fclose(o->f);
  o->f = NULL;
  if (o->tmp[0]) unlink(o->tmp);
}
