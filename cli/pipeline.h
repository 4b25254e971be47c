/* The program every command that optimizes a model works on (compile,
 * inspect, run --remat, bench): the model loaded (text or ONNX), the
 * functions to compile derived from it (the inference graph, or a training
 * program's infer/eval/train or its steps), each optimized by the pass
 * pipeline. */
#ifndef SM_CLI_PIPELINE_H
#define SM_CLI_PIPELINE_H

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"

typedef struct CliBuildOptions {
  bool train;             /* the training program; else the inference view of the model */
  int opt_level;          /* -O0, -O1 */
  bool remat;             /* --remat */
  bool skip_pipeline;     /* the functions as derived, no pass run (run without --remat) */
  const char *stop_after; /* inspect --after PASS: each function's pipeline stops there */
  SmBuf *log;             /* inspect --passes: "# function F" and each pass's counts */
} CliBuildOptions;

typedef struct CliBuilt {
  CgProgram prog;  /* the functions; with train, tp owns all but the model */
  TrainProgram tp; /* train only */
  bool train;
} CliBuilt;

/* The model at path (fo: ONNX import options, may be NULL), verified; NULL
 * with the errors in d. *src keeps the text diagnostics quote (free it). */
IrGraph *cli_load(const char *path, const FeOptions *fo, char **src, SmDiag *d);

/* The functions of g as o asks. b is set even on failure: free it with
 * cli_built_free either way. With train, g must carry its training
 * directives (as edited by the command line) already. */
SmStatus cli_build(IrGraph *g, const CliBuildOptions *o, CliBuilt *b, SmDiag *d);
void cli_built_free(CliBuilt *b);

#endif
