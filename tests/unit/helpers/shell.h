/* Test helpers for suites that run programs: a printf-style shell command,
 * and whole-file reads. */
#ifndef SM_SHELL_H
#define SM_SHELL_H

#include <stdbool.h>
#include <stddef.h>

/* Runs the formatted command with system(); its exit status, -1 if it did
 * not exit normally. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The file's bytes with a NUL appended (length in *len when len is not
 * NULL); NULL when it cannot be read. free() the result. */
char *slurp(const char *path, size_t *len);
/* Whether two files exist and hold the same bytes. */
bool same_file(const char *a, const char *b);

#endif
