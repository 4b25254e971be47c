/* Internals of the ONNX importer, shared by its files:
 *   onnx.c             decoding (model, graph, initializers, attributes) and the node loop;
 *   onnx_ops.c         the op table (ONNX name -> lowering, IR op, arity), IR-building
 *                      shorthands and the one-node lowerings;
 *   onnx_lower_conv.c  convolution, pooling, batchnorm, 3-D convolution, ConvTranspose;
 *   onnx_lower_rnn.c   RNN, GRU, LSTM;
 *   onnx_lower_shape.c shape and layout ops, import-time constants, comparisons, logic.
 * Nothing here is used outside frontend/. */
#ifndef SM_ONNX_INTERNAL_H
#define SM_ONNX_INTERNAL_H

#include "frontend/frontend.h"
#include "ir/ops/ops.h"
#include "onnx.pb-c.h"

#define ONNX_MAX_FILE ((int64_t)2 << 30) /* protobuf's 2 GiB message limit */
#define ONNX_MIN_OPSET 7
#define ONNX_MAX_OPSET 28
#define ONNX_MAX_FOLD ((int64_t)1 << 24) /* elements of a tensor computed at import */
#define ONNX_MAX_STRIDE ((int64_t)1 << 20) /* strides and dilations: window arithmetic fits int64 */
#define ONNX_MIN_IR 3
#define ONNX_MAX_IR 14

enum { OT_FLOAT = 1, OT_UINT8 = 2, OT_INT8 = 3, OT_UINT16 = 4, OT_INT16 = 5, OT_INT32 = 6,
       OT_INT64 = 7, OT_STRING = 8, OT_BOOL = 9, OT_FLOAT16 = 10, OT_DOUBLE = 11,
       OT_UINT32 = 12, OT_UINT64 = 13, OT_BFLOAT16 = 16 };

/* A name's meaning during import. */
typedef struct Ent {
  const char *name;
  IrValue *v;          /* run-time value (NULL while only a constant) */
  IrTensor *c;         /* value known at import time */
  bool param;          /* c derives from initializers: materialize as a parameter */
  bool poison;         /* its producer failed; consumers stay silent */
  bool bad;            /* the initializer failed to decode (reported once) */
  const char *unmade;  /* poison without an error: "output K of node ...", which its
                          producer declares but does not compute (reported at use) */
  const Onnx__TensorProto *init; /* undecoded initializer */
} Ent;

typedef struct OnnxOp OnnxOp;

typedef struct Im {
  IrGraph *g;
  SmDiag *d;
  const char *path, *dir;
  const FeOptions *fo;
  int64_t opset;
  Ent **tab;
  size_t cap, n;
  IrTensor **consts; /* by IR value id: its value if known at import */
  bool *cparam;      /* by IR value id: that constant derives from parameters */
  int nconsts;
  IrTensor **owned;
  int nowned, capowned;
  bool fold_params; /* the node being lowered computes shapes: fold parameters too */
  SmLoc loc;        /* of the node being lowered */
  bool failed;      /* the current node reported an error */
  const OnnxOp *op; /* the op table's entry for that node */
} Im;

typedef struct Args {
  Ent *in[64];
  int nin;
  Ent *out[8];
  int nout;
} Args;

/* A lowering: one function per ONNX op family (onnx_ops.c, onnx_lower_*.c). */
typedef bool (*LowerFn)(Im *im, const Onnx__NodeProto *n, Args *a);

/* Each op with the inputs and outputs its lowering handles (over every
 * opset it reads): inputs min_in..max_in, the first min_in named; at most
 * max_out outputs; ANY: as many as a node may have (Args). `ir` names the
 * IR op of ops that map onto one (elementwise, comparisons, logic); the
 * lowering reads it as im->op->ir, so the table is the only ONNX -> IR map. */
#define ANY (-1)
struct OnnxOp {
  const char *name;
  LowerFn lower;
  int min_in, max_in, max_out;
  const char *ir;
};

/* onnx.c: decoding, the name table, constants, building IR nodes, attributes */
double ox_afloat(const Onnx__NodeProto *n, const char *name, double dflt);
int64_t ox_aint(const Onnx__NodeProto *n, const char *name, int64_t dflt);
int ox_aints(Im *im, const Onnx__NodeProto *n, const char *name, int64_t *out, int max);
const char *ox_astr(Im *im, const Onnx__NodeProto *n, const char *name, const char *dflt);
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name);
int ox_const_ints(Im *im, Args *a, int k, const char *what, int64_t *out, int max);
int64_t ox_d2i(double v);
IrTensor *ox_decode_tensor(Im *im, const Onnx__TensorProto *t, void **raw);
IrTensor *ox_ent_const(Im *im, Ent *e);
const IrType *ox_ent_type(Im *im, Ent *e);
__attribute__((format(printf, 2, 3))) bool ox_fail(Im *im, const char *fmt, ...);
IrValue *ox_fin(Im *im, IrNode *n);
bool ox_fold_size_ok(Im *im, const IrType *t);
IrTensor *ox_in_const(Im *im, Args *a, int k, const char *what);
IrValue *ox_keep_float_params(Im *im, IrValue *r);
bool ox_map_dtype(int t, IrDType *out);
IrNode *ox_mk(Im *im, const char *op, IrValue *const *in, int nin);
IrTensor *ox_new_const(Im *im, IrType t);
const char *ox_onnx_dtype_name(int t);
const IrOpDef *ox_opdef(const char *name);
double ox_round_to(IrDType t, double v);
void ox_set_const(Args *a, int k, IrTensor *c, bool param);
void ox_set_out(Args *a, int k, IrValue *v);
IrValue *ox_val(Im *im, Ent *e);

/* onnx_ops.c: IR-building shorthands, the op table */
IrValue *ox_cast_value(Im *im, IrValue *v, IrDType t);
IrValue *ox_concat_n(Im *im, IrValue *const *vs, int cnt, int axis);
IrValue *ox_const_value(Im *im, IrTensor *c, const char *tag);
IrValue *ox_filled(Im *im, IrDType dt, int rank, const int64_t *dims, double v);
const OnnxOp *ox_find_op(const Onnx__NodeProto *n);
const OnnxOp *ox_op_table(int *count); /* for tests */
IrValue *ox_flip_axis(Im *im, IrValue *x, int axis);
IrValue *ox_op1(Im *im, const char *op, IrValue *a);
IrValue *ox_op2(Im *im, const char *op, IrValue *a, IrValue *b);
IrValue *ox_reshape_to(Im *im, IrValue *x, int rank, const int64_t *dims);
IrValue *ox_scalar(Im *im, IrDType t, double v);
IrValue *ox_slice_axis(Im *im, IrValue *x, int axis, int64_t start, int64_t end, int64_t step);
IrValue *ox_transpose_to(Im *im, IrValue *x, const int64_t *perm);

/* lowerings the op table names, by file: onnx_lower_conv.c */
bool ox_lower_batchnorm(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_conv(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_conv_transpose(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_global_pool(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_pool(Im *im, const Onnx__NodeProto *n, Args *a);

/* onnx_lower_shape.c (ox_axes_arg: a reduction's axes, also for onnx_ops.c) */
bool ox_axes_arg(Im *im, const Onnx__NodeProto *n, Args *a, int since, int k, int64_t *axes, int *cnt);
bool ox_lower_cast(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_concat(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_const_ew(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_constant(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_constant_of_shape(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_expand(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_flatten(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_gather(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_logic(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_pad(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_range(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_reshape(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_shape(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_size(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_slice(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_split(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_squeeze(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_tile(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_transpose(Im *im, const Onnx__NodeProto *n, Args *a);
bool ox_lower_where(Im *im, const Onnx__NodeProto *n, Args *a);

/* onnx_lower_rnn.c */
bool ox_lower_recurrent(Im *im, const Onnx__NodeProto *n, Args *a);

/* input k of a node given and named; output k wanted */
static inline bool ox_has_in(const Args *a, int k) { return k < a->nin && a->in[k]; }
static inline bool ox_has_out(const Args *a, int k) { return k < a->nout && a->out[k]; }
static inline IrValue *ox_in_val(Im *im, Args *a, int k) { return ox_has_in(a, k) ? ox_val(im, a->in[k]) : NULL; }

#endif
