/* `smelt bench`: times the generated code of a model against the
 * reference interpreter and against this machine's probed FMA peak. */
#ifndef SM_CLI_BENCH_H
#define SM_CLI_BENCH_H

/* argv holds the arguments after "bench"; returns the exit status. */
int cmd_bench(int argc, char **argv);

#endif
