/* Shared pieces of the neural-network ops (conv.c, conv_grad.c, pool.c,
 * norm.c, random.c; the helpers are defined in nn.c) and read by their C
 * kernels (codegen/kernels): sliding-window geometry, attribute checks for
 * backward ops. */
#ifndef SM_OPS_NN_H
#define SM_OPS_NN_H

#include "ops.h"

typedef struct Win {
  int nsp; /* spatial dims as written (1 or 2); slot 0 is height, 1 width */
  int64_t in[2], k[2], s[2], d[2];
  int64_t pb[2], pe[2]; /* padding at the start (top/left) and end */
  int64_t out[2];
} Win;

/* A 2-D convolution's sizes: N images of C channels, M output channels,
 * groups of Cg input and Mg output channels. */
typedef struct ConvSz {
  Win g;
  int64_t N, C, M, Cg, Mg, group, H, W, KH, KW, OH, OW;
} ConvSz;


/* ---- helpers (nn.c) ---- */
int64_t ceil_div(int64_t a, int64_t b);
const char *ints_str(const int64_t *v, int cnt, char *buf, size_t n);
const char *operands_str(const IrNode *n, int cnt, char *buf, size_t sz);
bool win_ints(const IrNode *n, const char *name, int nsp, int64_t lo, int64_t *dst, SmDiag *d);
bool win_decode(const IrNode *n, int nsp, const int64_t *in, const int64_t *k, bool pool, Win *w,
                SmDiag *d, const char *shapes);
int64_t sat_mul(int64_t a, int64_t b);
/* backward ops' attribute and operand checks */
bool attr_shape(const IrNode *n, const char *key, int rank, IrType *t, SmDiag *d);
bool want_type(const IrNode *n, int i, const IrType *want, const char *why, SmDiag *d);
bool want_float_same(const IrNode *n, SmDiag *d);
void set_shape(IrGradCtx *cx, IrNode *g, const char *key, const IrValue *v);

/* ---- forward convolution pieces shared with the gradients (conv.c) ---- */
int conv_nsp(const IrNode *n);
bool conv_check(const IrNode *n, int nsp, const IrType *x, const IrType *w, const char *sh,
                IrType *y, SmDiag *d);

/* ---- conv_grad.c: the forward convolutions' gradient rule ---- */
bool conv_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout, IrValue **din);

/* ---- geometry their C kernels (codegen/kernels) read ---- */
void conv_win(const IrNode *n, Win *w);         /* conv.c */
ConvSz conv_sz(const IrNode *n);                /* conv_grad.c */
void pool_win(const IrNode *n, Win *w);         /* pool.c */
int64_t gap_plane(const IrNode *n);
void pool_grad_win(const IrNode *n, Win *w);
int64_t gap_grad_plane(const IrNode *n);
int64_t bn_inner(const IrNode *n);              /* norm.c */
int64_t bn_inner_of(const IrNode *n, int xi);

/* the ops' C kernels (codegen/kernels/conv.c, conv_grad.c, pool.c, norm.c,
 * random.c) */
extern const struct CgOpKernel cgk_conv2d, cgk_conv1d;
extern const struct CgOpKernel cgk_conv2d_grad_input, cgk_conv2d_grad_weight;
extern const struct CgOpKernel cgk_conv1d_grad_input, cgk_conv1d_grad_weight;
extern const struct CgOpKernel cgk_maxpool2d, cgk_avgpool2d, cgk_global_avgpool;
extern const struct CgOpKernel cgk_maxpool2d_grad, cgk_avgpool2d_grad, cgk_global_avgpool_grad;
extern const struct CgOpKernel cgk_batchnorm, cgk_batchnorm_train, cgk_batchnorm_grad;
extern const struct CgOpKernel cgk_batchnorm_train_grad;
extern const struct CgOpKernel cgk_random_normal, cgk_dropout_train;

/* op definitions, listed by ir_ops_nn in nn.c */
extern const IrOpDef op_conv2d;
extern const IrOpDef op_conv1d;
extern const IrOpDef op_maxpool2d;
extern const IrOpDef op_avgpool2d;
extern const IrOpDef op_global_avgpool;
extern const IrOpDef op_batchnorm;
extern const IrOpDef op_batchnorm_train;
extern const IrOpDef op_random_normal;
extern const IrOpDef op_dropout_train;
extern const IrOpDef op_conv2d_grad_input;
extern const IrOpDef op_conv2d_grad_weight;
extern const IrOpDef op_conv1d_grad_input;
extern const IrOpDef op_conv1d_grad_weight;
extern const IrOpDef op_maxpool2d_grad;
extern const IrOpDef op_avgpool2d_grad;
extern const IrOpDef op_global_avgpool_grad;
extern const IrOpDef op_batchnorm_grad;
extern const IrOpDef op_batchnorm_train_grad;

#endif
