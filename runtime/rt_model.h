/* The contract between generated code and the runtime: a generated model
 * fills one RtModelDesc (tensor tables, buffer sizes, the step function);
 * the runtime owns instances, weights I/O and the standalone CLI. */
#ifndef SMELT_RT_MODEL_H
#define SMELT_RT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

enum { RT_REGION_ARENA = 0, RT_REGION_PARAMS = 1 };

typedef struct RtTensorDesc {
  const char *name;
  int dtype; /* RtDType */
  int rank;
  int64_t dims[RT_MAX_RANK];
  int64_t numel;
  int region;    /* where the tensor lives */
  size_t offset; /* bytes from the region's start */
  /* parameters only */
  int init;      /* RtInitKind */
  double init_a, init_b;
  const void *embedded; /* baked-in weights (--embed-weights) or NULL */
} RtTensorDesc;

typedef struct RtModelDesc {
  const char *name;
  uint64_t seed;
  int ninputs, noutputs, nparams;
  const RtTensorDesc *inputs, *outputs, *params;
  size_t param_bytes, arena_bytes;
  void (*run)(unsigned char *params, unsigned char *arena);
} RtModelDesc;

typedef struct RtModel {
  const RtModelDesc *desc;
  unsigned char *params; /* one block for every parameter */
  unsigned char *arena;  /* inputs, outputs and activations */
  RtErr err;
} RtModel;

/* Parameters start from the declared initializers (or embedded weights). */
RtModel *rt_model_create(const RtModelDesc *d);
void rt_model_free(RtModel *m);
int rt_model_load_weights(RtModel *m, const char *path);
int rt_model_save_weights(RtModel *m, const char *path);
void *rt_model_tensor(const RtModel *m, const RtTensorDesc *t);
int rt_model_find_input(const RtModel *m, const char *name);
void rt_model_run(RtModel *m);

/* Load an input tensor from a file into dst (dtype/shape of t):
 *  .npy  - must match t's dtype and shape exactly;
 *  IDX (.gz or not, e.g. Fashion-MNIST images) - the first dims[0] samples
 *          whose per-sample element count matches t's, u8 scaled to [0,1]
 *          when t is float. */
int rt_load_tensor_file(const char *path, const RtTensorDesc *t, void *dst,
                        RtErr *e);

/* The standalone program: --weights, --input, --output, --threads, --help. */
int rt_main(const RtModelDesc *d, int argc, char **argv);

#endif
