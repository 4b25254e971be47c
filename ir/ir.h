/* smelt IR: tensor types, values, nodes, graphs and the op registry.
 *
 * A graph is a list of named inputs, parameters (with initializer specs),
 * nodes in topological order (SSA: every value is defined once) and outputs.
 * All IR memory lives in the graph's arena and is freed with the graph. */
#ifndef SM_IR_H
#define SM_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define IR_MAX_RANK 8
#define IR_MAX_NUMEL ((int64_t)1 << 40)

/* bool is one byte holding 0 or 1 (C type uint8_t in generated code, "|b1"
 * in .npy files, "BOOL" in safetensors); ops that read bools treat any
 * nonzero byte as true. */
typedef enum IrDType { IR_F32, IR_F64, IR_I64, IR_I32, IR_U8, IR_BOOL, IR_NDTYPE } IrDType;

typedef struct IrType {
  IrDType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
} IrType;

const char *ir_dtype_name(IrDType t);   /* "f32" */
const char *ir_dtype_ctype(IrDType t);  /* "float" */
size_t ir_dtype_size(IrDType t);
bool ir_dtype_parse(const char *s, size_t n, IrDType *out);
bool ir_dtype_is_float(IrDType t);

/* Element count; -1 if it overflows IR_MAX_NUMEL or a dim is negative. */
int64_t ir_type_numel(const IrType *t);
bool ir_type_eq(const IrType *a, const IrType *b);
IrType ir_type_make(IrDType dt, int rank, const int64_t *dims);
/* "f32[64,1,28,28]" (scalars print as "f32[]"). Returns a static-free
 * string written into buf. */
const char *ir_type_str(const IrType *t, char *buf, size_t n);
#define IR_TYPE_STRLEN 160

/* ---- attributes ---- */
typedef enum IrAttrKind {
  IR_ATTR_INT,
  IR_ATTR_FLOAT,
  IR_ATTR_INTS,
  IR_ATTR_FLOATS,
  IR_ATTR_STR,
} IrAttrKind;

typedef struct IrAttr {
  const char *name;
  IrAttrKind kind;
  int n; /* element count for INTS/FLOATS */
  int64_t i;
  double f;
  int64_t *ints;
  double *floats;
  const char *s;
  SmLoc loc;
} IrAttr;

/* ---- values ---- */
typedef enum IrValKind { IR_VAL_INPUT, IR_VAL_PARAM, IR_VAL_NODE } IrValKind;

typedef enum IrInitKind {
  IR_INIT_ZEROS,
  IR_INIT_ONES,
  IR_INIT_CONSTANT,       /* a */
  IR_INIT_NORMAL,         /* std a (mean 0) */
  IR_INIT_UNIFORM,        /* [a, b) */
  IR_INIT_XAVIER_UNIFORM,
  IR_INIT_XAVIER_NORMAL,
  IR_INIT_HE_UNIFORM,
  IR_INIT_HE_NORMAL,
  IR_NINIT
} IrInitKind;

typedef struct IrInit {
  IrInitKind kind;
  double a, b;
} IrInit;

const char *ir_init_name(IrInitKind k);

typedef struct IrNode IrNode;

typedef struct IrValue {
  const char *name;
  IrType type;
  IrValKind kind;
  int id;       /* dense index over all values of the graph */
  IrNode *def;  /* producing node (IR_VAL_NODE) */
  int def_out;  /* output index within def */
  IrInit init;  /* IR_VAL_PARAM */
  /* IR_VAL_PARAM with literal values (e.g. ONNX initializers): numel
   * elements of type.dtype, C order, in the graph's arena; NULL: use init */
  const void *data;
  int index;    /* position in g->inputs / g->params */
  SmLoc loc;
} IrValue;

typedef struct IrOpDef IrOpDef;

struct IrNode {
  const IrOpDef *op;
  int id;
  IrValue **in;
  int nin;
  IrValue **out;
  int nout;
  IrAttr *attrs;
  int nattr, capattr;
  SmLoc loc;
  /* set by pass_fuse: the node whose kernel computes this one (the last
   * member of its fused group); NULL: the node is its own kernel */
  IrNode *anchor;
};

/* A non-graph statement of the text format that configures compilation,
 * e.g. `train loss=loss` or `optimizer adam lr=0.001`: a kind, an optional
 * argument and attributes (held by a detached node). */
typedef struct IrDirective {
  const char *kind;
  const char *arg; /* NULL when absent */
  IrNode *attrs;   /* only its attrs/nattr are used */
  SmLoc loc;
} IrDirective;

typedef struct IrGraph {
  SmArena arena;
  const char *name;
  uint64_t seed;
  IrValue **inputs;
  int ninputs, capinputs;
  IrValue **params;
  int nparams, capparams;
  IrNode **nodes;
  int nnodes, capnodes;
  IrValue **outputs;
  int noutputs, capoutputs;
  IrValue **values; /* every value by id */
  int nvalues, capvalues;
  IrDirective *dirs;
  int ndirs, capdirs;
  /* ir_graph_find's index: every value once, open addressing on the hash
   * of its name (NULL: empty slot). Values are renamed with
   * ir_value_rename and dropped with ir_truncate_values only, which keep
   * it in step; ir_verify checks it. */
  IrValue **vindex;
  size_t vindexcap;
} IrGraph;

IrGraph *ir_graph_new(const char *name);
void ir_graph_free(IrGraph *g);
/* The value named `name` (the first one, by id, if there are several),
 * or NULL; a hash lookup. */
IrValue *ir_graph_find(const IrGraph *g, const char *name);
/* Give v a new name (a string the graph's arena holds or that outlives
 * the graph); the only way to change IrValue.name after creation. */
void ir_value_rename(IrGraph *g, IrValue *v, const char *name);
/* Forget the values created after the first n (undo of a tentative
 * rewrite: nothing may refer to them any more). */
void ir_truncate_values(IrGraph *g, int n);
/* Whether the name index is in step with every value's name. */
bool ir_graph_index_ok(const IrGraph *g);
IrValue *ir_add_input(IrGraph *g, const char *name, IrType t, SmLoc loc);
IrValue *ir_add_param(IrGraph *g, const char *name, IrType t, IrInit init,
                      SmLoc loc);
/* Appends a node; its outputs get the given names (NULL: fresh "tN") and
 * types left empty until ir_infer_node runs. */
IrNode *ir_add_node(IrGraph *g, const IrOpDef *op, IrValue **in, int nin,
                    const char **out_names, int nout, SmLoc loc);
void ir_add_output(IrGraph *g, IrValue *v);
IrDirective *ir_add_directive(IrGraph *g, const char *kind, const char *arg, SmLoc loc);
/* First directive of a kind, or NULL. */
IrDirective *ir_directive(const IrGraph *g, const char *kind);

/* ---- whole-graph transformations (ir/transform.c) ---- */
/* Deep copy (values keep names, ids and order; directives included). */
IrGraph *ir_graph_clone(const IrGraph *g);
/* Make every use of `from` (operands and outputs) use `to` instead. */
void ir_replace_uses(IrGraph *g, IrValue *from, IrValue *to);
/* Reorder nodes so every value is defined before use, otherwise keeping
 * the current order (stable). */
void ir_toposort(IrGraph *g);
/* Replace every composite node by its expansion (repeatedly), keeping
 * result names; then reorder topologically. */
bool ir_decompose(IrGraph *g, SmDiag *d);
/* Drop nodes whose results reach no output and inputs no node uses
 * (outputs and parameters are kept). Renumbers node ids. */
void ir_prune(IrGraph *g, bool drop_inputs);

/* Attribute setters/getters (getters return the default when absent). */
IrAttr *ir_set_int(IrGraph *g, IrNode *n, const char *name, int64_t v);
IrAttr *ir_set_float(IrGraph *g, IrNode *n, const char *name, double v);
IrAttr *ir_set_ints(IrGraph *g, IrNode *n, const char *name, const int64_t *v,
                    int cnt);
IrAttr *ir_set_floats(IrGraph *g, IrNode *n, const char *name, const double *v,
                      int cnt);
IrAttr *ir_set_str(IrGraph *g, IrNode *n, const char *name, const char *s);
const IrAttr *ir_attr(const IrNode *n, const char *name);
int64_t ir_attr_int(const IrNode *n, const char *name, int64_t dflt);
double ir_attr_float(const IrNode *n, const char *name, double dflt);
const char *ir_attr_str(const IrNode *n, const char *name, const char *dflt);
/* Copies INTS into out (at most max); returns the count, or -1 if absent. */
int ir_attr_ints(const IrNode *n, const char *name, int64_t *out, int max);

/* ---- reference interpreter tensors: every dtype is held as double ---- */
typedef struct IrTensor {
  IrType type;
  int64_t numel;
  double *d;
} IrTensor;

/* ---- op registry ---- */
typedef struct IrAttrSpec {
  const char *name;
  IrAttrKind kind;
  bool required;
} IrAttrSpec;

/* Shape/type rule: fill out[0..nout) from n's inputs and attributes; on error
 * report through d at n->loc (show the offending shapes) and return false.
 * Range checks on attributes belong here too. */
typedef bool (*IrInferFn)(const IrNode *n, IrType *out, SmDiag *d);
/* Reference kernel: plain loops on doubles; outputs are preallocated and
 * zeroed with the inferred types. */
typedef void (*IrRefFn)(const IrNode *n, const IrTensor *in, IrTensor *out);
/* Elementwise ops give their scalar math as a double function (and, for
 * the C backend, as a C expression: codegen/kernels/kernel.h). */
typedef double (*IrScalarFn)(const IrNode *n, const double *args);

/* Reverse-mode rule. dout[k] is d(loss)/d(out k) or NULL when no gradient
 * reaches that output; the rule sets din[i] = d(loss)/d(in i) for every
 * input with ir_grad_needed(cx, n, i), built from ordinary IR ops through
 * ir_grad_op(), or leaves it NULL (no gradient flows there). Returns false
 * after reporting an error when a needed gradient does not exist. */
typedef struct IrGradCtx IrGradCtx;
typedef bool (*IrGradFn)(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                         IrValue **din);
/* Elementwise derivative: dy * d f / d in[wrt], where args[0..nin) are the
 * forward inputs, args[nin] the forward output and args[nin+1] dy. */
typedef double (*IrDScalarFn)(const IrNode *n, const double *args, int wrt);

enum {
  IR_OPF_ELEMENTWISE = 1 << 0, /* out[i] = f(in0[i'], in1[i'']) broadcast */
  IR_OPF_NOGRAD = 1 << 1,      /* no gradient flows through (e.g. argmax) */
  IR_OPF_ANY_ATTRS = 1 << 2,   /* attributes are not checked against a schema */
  IR_OPF_VIEW = 1 << 3,        /* output = input's bytes reinterpreted (reshape) */
};

struct IrOpDef {
  const char *name;
  int min_in, max_in; /* operand count range */
  int nout;
  const IrAttrSpec *attrs; /* terminated by {NULL} */
  unsigned flags;
  IrInferFn infer;
  IrRefFn ref;
  /* The op's C kernel generator (codegen/kernels/kernel.h), opaque here;
   * NULL only for composite ops (expand). */
  const struct CgOpKernel *c;
  IrScalarFn scalar; /* IR_OPF_ELEMENTWISE only */
  IrGradFn grad;     /* NULL: not differentiable */
  IrDScalarFn dscalar; /* elementwise ops: derivative, see IrDScalarFn */
  /* Per output: index of the input whose storage it overwrites (-1: none).
   * NULL when the op writes no input in place. Used by optimizer updates
   * and running statistics; the overwritten input must be a parameter with
   * no later use. Kernels of such ops get no `restrict` qualifiers. */
  const int8_t *inplace;
  /* Composite ops (e.g. recurrent layers) are lowered to primitive ops
   * right after parsing by ir_decompose: the expansion sets outs[k] for
   * every result and needs no ref/emit/grad of its own. */
  bool (*expand)(IrGradCtx *cx, const IrNode *n, IrValue **outs);
  const char *doc;   /* one line for `smelt ops` and the README table */

  /* ---- capabilities: what the passes ask of an op. Passes decide by
   * these fields only, never by comparing op names; zero/NULL: none.
   * The IR_CAP_* bits and the hooks' implementations follow the struct;
   * the optimizers and the training-mode rules are in ir/training.h. ---- */
  unsigned caps; /* IR_CAP_* */
  /* Training mode (passes/train.c): the op computing this one in a train
   * function (the op's own name when only its operands change) and the
   * hook rewriting node n, the k-th of g, into it; `step` is the train
   * function's i64 step counter. Returns 1 when it added a node that
   * replaces every use of n (n is then removed), 0 when it changed n in
   * place, -1 after reporting an error. */
  const char *train_form;
  int (*to_train)(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                  SmDiag *d);
  /* passes/fold_bn.c: how this producer absorbs an IR_CAP_BATCHNORM that
   * reads its result, per output channel (dim 1 of the result, which is
   * dim 0 of its weight operand 1; operand 2 the optional bias): IR_BN_FOLD_*. */
  uint8_t bn_fold;
  /* passes/canonicalize.c: `x op e` (IR_SIDE_RIGHT) or `e op x`
   * (IR_SIDE_LEFT) is x for the neutral element e, e.g. x * 1. */
  uint8_t neutral_side;
  int8_t neutral;
  /* passes/canonicalize.c, with IR_CAP_NOOP: the result is operand 0 when
   * both have the same type and every element of the INTS attribute
   * noop_attr (if given and present) equals noop_unit. */
  const char *noop_attr;
  int8_t noop_unit;
};

/* IrOpDef.caps */
enum {
  IR_CAP_LOSS = 1 << 0,         /* a loss: (prediction, target [, weight]; reduction=) */
  IR_CAP_CLASS_TARGET = 1 << 1, /* a loss whose target holds class ids (i64 [N]) */
  IR_CAP_UPDATE = 1 << 2,       /* an in-place optimizer update of operand 0 */
  IR_CAP_CONSTANT = 1 << 3,     /* a compile-time constant (shape, value, dtype) */
  IR_CAP_INFER_IDENTITY = 1 << 4, /* the identity of operand 0 in inference (dropout) */
  /* inference batch normalization over dim 1: (x, scale, bias, mean, var;
   * epsilon=1e-5) -> x * a + (bias - mean * a), a = scale / sqrt(var + eps) */
  IR_CAP_BATCHNORM = 1 << 5,
  /* training batch normalization whose result 0 is recomputable from x,
   * scale, bias (operands 0-2) and the saved mean and inverse standard
   * deviation (results 3 and 4) as x * a + (bias - mean * a), a = scale *
   * invstd: the arithmetic its kernel does, bit for bit */
  IR_CAP_BN_SAVED = 1 << 6,
  IR_CAP_NOOP = 1 << 7,         /* see IrOpDef.noop_attr */
  IR_CAP_NOOP_UNARY = 1 << 8,   /* IR_CAP_NOOP only with a single operand */
  IR_CAP_PERMUTE = 1 << 9,      /* transposes by INTS perm (absent: reversed dims) */
};

/* IrOpDef.bn_fold */
enum {
  IR_BN_FOLD_NONE,
  IR_BN_FOLD_CONV, /* y = conv(x, W[M,...], b[M]) */
  /* y = gemm(a, W[M,K], c; transB=1), c of shape [M] or [1,M] or absent;
   * beta scales the folded bias */
  IR_BN_FOLD_GEMM,
};

/* IrOpDef.neutral_side */
enum { IR_SIDE_LEFT = 1, IR_SIDE_RIGHT = 2, IR_SIDE_BOTH = 3 };

/* The names of the registered ops with every bit of `caps` set, in
 * registry order, comma-separated ("cross_entropy, nll, ..." for
 * IR_CAP_LOSS) into buf (ir/training.c). */
const char *ir_op_names(unsigned caps, char *buf, size_t n);

/* IrOpDef.to_train hooks (ir/training.c) */
int ir_train_dropout(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                     SmDiag *d);
int ir_train_batchnorm(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                       SmDiag *d);
int ir_train_step_operand(IrGraph *g, IrNode *n, const IrOpDef *form, IrValue *step, int k,
                          SmDiag *d);

/* ---- building gradient graphs (passes/autodiff.c) ---- */
struct IrGradCtx {
  IrGraph *g;
  SmDiag *d;
  const bool *requires; /* by value id: a gradient is wanted for it */
  SmLoc loc;            /* of the forward node being differentiated */
  bool failed;
};
bool ir_grad_needed(const IrGradCtx *cx, const IrNode *n, int i);
/* Append node `op`(in...) with nout results; shapes are inferred at once
 * (a failure there is a bug in the gradient rule and aborts). Attributes
 * can be set on the returned node before ir_grad_finish(). */
IrNode *ir_grad_node(IrGradCtx *cx, const char *op, IrValue *const *in, int nin,
                     int nout);
/* Re-infer after setting attributes; returns n->out[0]. */
IrValue *ir_grad_finish(IrGradCtx *cx, IrNode *n);
/* Single-result op without attributes. */
IrValue *ir_grad_op(IrGradCtx *cx, const char *op, IrValue *const *in, int nin);
/* Sum a gradient of the broadcast shape back to `target`'s shape. */
IrValue *ir_grad_unbroadcast(IrGradCtx *cx, IrValue *g, const IrType *target);
/* A constant tensor filled with v. */
IrValue *ir_grad_fill(IrGradCtx *cx, const IrType *t, double v);
/* Generic rule for IR_OPF_ELEMENTWISE ops with dexpr/dscalar: emits one
 * `ew_grad` node per needed input, then unbroadcasts. */
bool ir_ew_grad(IrGradCtx *cx, const IrNode *n, IrValue *const *dout,
                IrValue **din);
/* Copy every attribute of `from` onto `to`. */
void ir_copy_attrs(IrGraph *g, IrNode *to, const IrNode *from);

const IrOpDef *ir_op_find(const char *name);
/* Every registered op, NULL-terminated. */
const IrOpDef *const *ir_op_all(void);

/* ---- shape inference and verification ---- */
/* Checks attributes against the schema and runs the op's shape rule,
 * assigning output types. */
bool ir_infer_node(IrNode *n, SmDiag *d);
/* Whole-graph verifier: unique names, SSA/topological order, every operand
 * defined, attribute schemas, shape rules, declared output types. */
bool ir_verify(const IrGraph *g, SmDiag *d);

/* ---- printer (the text format) ---- */
void ir_print(SmBuf *b, const IrGraph *g);
void ir_print_node(SmBuf *b, const IrNode *n); /* one line, no newline */

/* ---- reference interpreter ---- */
typedef struct IrInterp IrInterp;
/* params: one tensor per g->params entry (NULL: use declared initializers
 * with g->seed); ops with in-place outputs (optimizer updates, running
 * statistics) write their results back into these tensors. Inputs in
 * g->inputs order. Outputs are allocated by the interpreter and owned by
 * the caller (free with ir_tensor_free). */
SmStatus ir_interpret(const IrGraph *g, const IrTensor *inputs,
                      IrTensor *params, IrTensor *outputs, SmDiag *d);
IrTensor ir_tensor_new(IrType t);
void ir_tensor_free(IrTensor *t);
/* Fill params[i] from the declared initializers (same numbers the compiled
 * program produces). */
void ir_init_params(const IrGraph *g, IrTensor *params);

/* Whether n is a view op (reshape, flatten) whose result simply names its
 * operand's buffer: unfused, reading no parameter (parameters may be
 * updated in place), its result no graph output (outputs get a buffer of
 * their own). codegen and the fusion and scheduling passes all decide by
 * it. ir/ops/common.c. */
bool ir_view_alias(const IrNode *n, bool result_is_output);

/* ---- helpers for op implementations (ir/ops/common.c) ---- */
int64_t ir_numel(const IrType *t);
/* Row-major strides of t, elements. */
void ir_strides(const IrType *t, int64_t *strides);
/* Numpy broadcast of a and b; false if incompatible. */
bool ir_broadcast(const IrType *a, const IrType *b, IrType *out);
/* Normalize a possibly negative axis; false if out of range. */
bool ir_norm_axis(int64_t axis, int rank, int *out);

#endif
