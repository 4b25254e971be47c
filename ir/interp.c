/* Reference interpreter: runs a graph node by node on double-precision
 * tensors with each op's reference kernel. It is the oracle for tests and
 * the baseline for benchmarks, so it stays simple. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "rt.h"

_Static_assert((int)IR_INIT_HE_NORMAL == (int)RT_INIT_HE_NORMAL,
               "initializer kinds must match the runtime's");
_Static_assert((int)IR_BOOL == (int)RT_BOOL && (int)IR_NDTYPE == (int)RT_NDTYPE,
               "dtypes must match the runtime's");

IrTensor ir_tensor_new(IrType t) {
  IrTensor x = {.type = t, .numel = ir_type_numel(&t)};
  SM_ASSERT(x.numel >= 0);
  x.d = sm_xcalloc((size_t)(x.numel ? x.numel : 1), sizeof(double));
  return x;
}

void ir_tensor_free(IrTensor *t) {
  free(t->d);
  t->d = NULL;
}

void ir_init_params(const IrGraph *g, IrTensor *params) {
  for (int p = 0; p < g->nparams; p++) {
    const IrValue *v = g->params[p];
    int64_t fi, fo;
    rt_fans(v->type.rank, v->type.dims, &fi, &fo);
    params[p] = ir_tensor_new(v->type);
    if (v->data) {
      const char *q = (const char *)v->data;
      for (int64_t i = 0; i < params[p].numel; i++) {
        switch (v->type.dtype) {
        case IR_F32: { float x; memcpy(&x, q + 4 * i, 4); params[p].d[i] = x; } break;
        case IR_F64: { double x; memcpy(&x, q + 8 * i, 8); params[p].d[i] = x; } break;
        case IR_I64: { int64_t x; memcpy(&x, q + 8 * i, 8); params[p].d[i] = (double)x; } break;
        case IR_I32: { int32_t x; memcpy(&x, q + 4 * i, 4); params[p].d[i] = x; } break;
        case IR_BOOL: params[p].d[i] = ((const uint8_t *)q)[i] != 0; break;
        default: params[p].d[i] = ((const uint8_t *)q)[i]; break;
        }
      }
      continue;
    }
    for (int64_t i = 0; i < params[p].numel; i++) {
      double x = rt_init_value((int)v->init.kind, v->init.a, v->init.b, fi, fo,
                               g->seed, (uint64_t)p, (uint64_t)i);
      /* parameters are stored in their dtype; round like the program does */
      if (v->type.dtype == IR_F32) x = (float)x;
      if (v->type.dtype == IR_BOOL) x = x != 0;
      params[p].d[i] = x;
    }
  }
}

SmStatus ir_interpret(const IrGraph *g, const IrTensor *inputs,
                      IrTensor *params, IrTensor *outputs, SmDiag *d) {
  IrTensor *vals = sm_xcalloc((size_t)g->nvalues + 1, sizeof *vals);
  bool *owned = sm_xcalloc((size_t)g->nvalues + 1, 1);
  IrTensor *own_params = NULL;
  if (!params) {
    own_params = sm_xcalloc((size_t)g->nparams + 1, sizeof *own_params);
    ir_init_params(g, own_params);
    params = own_params;
  }
  SmStatus st = SM_OK;
  for (int i = 0; i < g->ninputs; i++) {
    if (!ir_type_eq(&inputs[i].type, &g->inputs[i]->type)) {
      char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
      sm_error(d, (SmLoc){0}, "input '%s': expected %s, got %s",
               g->inputs[i]->name, ir_type_str(&g->inputs[i]->type, a, sizeof a),
               ir_type_str(&inputs[i].type, b, sizeof b));
      st = SM_ERR_INVALID;
      goto done;
    }
    vals[g->inputs[i]->id] = inputs[i];
  }
  for (int i = 0; i < g->nparams; i++) vals[g->params[i]->id] = params[i];
  /* free each intermediate after its last use */
  int *last = sm_xcalloc((size_t)g->nvalues + 1, sizeof *last);
  for (int i = 0; i < g->nvalues; i++) last[i] = -1;
  for (int k = 0; k < g->nnodes; k++)
    for (int i = 0; i < g->nodes[k]->nin; i++) last[g->nodes[k]->in[i]->id] = k;
  for (int i = 0; i < g->noutputs; i++) last[g->outputs[i]->id] = g->nnodes;
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    IrTensor in[16], out[8];
    SM_ASSERT(n->nin <= 16 && n->nout <= 8);
    for (int i = 0; i < n->nin; i++) in[i] = vals[n->in[i]->id];
    for (int i = 0; i < n->nout; i++) out[i] = ir_tensor_new(n->out[i]->type);
    n->op->ref(n, in, out);
    /* in-place updates of parameters (optimizer steps, running stats) */
    for (int i = 0; n->op->inplace && i < n->nout; i++) {
      int src = n->op->inplace[i];
      if (src < 0 || n->in[src]->kind != IR_VAL_PARAM) continue;
      IrTensor *p = &params[n->in[src]->index];
      memcpy(p->d, out[i].d, sizeof(double) * (size_t)p->numel);
    }
    for (int i = 0; i < n->nout; i++) {
      vals[n->out[i]->id] = out[i];
      owned[n->out[i]->id] = true;
      if (last[n->out[i]->id] <= k) { /* never used */
        ir_tensor_free(&vals[n->out[i]->id]);
        owned[n->out[i]->id] = false;
      }
    }
    for (int i = 0; i < n->nin; i++) {
      int id = n->in[i]->id;
      if (owned[id] && last[id] == k) {
        ir_tensor_free(&vals[id]);
        owned[id] = false;
      }
    }
  }
  free(last);
  for (int i = 0; i < g->noutputs; i++) {
    const IrValue *v = g->outputs[i];
    outputs[i] = ir_tensor_new(v->type);
    memcpy(outputs[i].d, vals[v->id].d, sizeof(double) * (size_t)outputs[i].numel);
  }
done:
  for (int i = 0; i < g->nvalues; i++)
    if (owned[i]) ir_tensor_free(&vals[i]);
  if (own_params) {
    for (int i = 0; i < g->nparams; i++) ir_tensor_free(&own_params[i]);
    free(own_params);
  }
  free(vals);
  free(owned);
  return st;
}
