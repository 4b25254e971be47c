/* Reading the repository's files and parsing model texts from tests. */
#ifndef SM_TESTFILE_H
#define SM_TESTFILE_H

#include <stdbool.h>

#include "ir/ir.h"

/* The whole file (NUL-terminated, free() it); on failure prints the
 * diagnostic and fails the current cmocka test. */
char *test_read_file(const char *path);
/* test_read_file of examples/FILE in the source tree. */
char *test_read_example(const char *file);
/* `text` parsed as file `file` and verified; on any diagnostic prints the
 * file, the text and the diagnostics and fails the current cmocka test. */
IrGraph *test_parse(const char *file, const char *text);
/* test_parse with the diagnostics (warnings too) kept in d. */
IrGraph *test_parse_into(const char *file, const char *text, SmDiag *d);
/* ir_tensor_free of t[0..n), then free(t) when `array`. */
void tensors_free(IrTensor *t, int n, bool array);

struct TrainProgram;
/* pass_training_program of g into tp; on failure prints the diagnostics
 * and fails the current cmocka test. */
void test_training_program(IrGraph *g, struct TrainProgram *tp);
/* `text` (as test_parse_into) must parse, and building its training
 * program must fail with `needle` in the diagnostics. */
void expect_training_error(const char *file, const char *text, const char *needle);
/* test_parse of examples/FILE (named FILE in diagnostics). */
IrGraph *test_load_example(const char *file);

#endif
