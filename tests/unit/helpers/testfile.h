/* Reading the repository's files from tests. */
#ifndef SM_TESTFILE_H
#define SM_TESTFILE_H

/* The whole file (NUL-terminated, free() it); on failure prints the
 * diagnostic and fails the current cmocka test. */
char *test_read_file(const char *path);
/* test_read_file of examples/FILE in the source tree. */
char *test_read_example(const char *file);

#endif
