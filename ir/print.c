/* Printer for the text model format. Every value is printed with its type;
 * parsing the output gives back an identical graph. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "ir.h"

static void put_name(SmBuf *b, const char *s) {
  bool plain = isalpha((unsigned char)s[0]) || s[0] == '_';
  for (const char *p = s; *p && plain; p++)
    plain = isalnum((unsigned char)*p) || *p == '_' || *p == '.';
  static const char *const keywords[] = {"model", "seed", "input", "param", "output",
                                         "train", "optimizer", "schedule", "param_group", "inf"};
  for (int i = 0; i < SM_COUNT(keywords) && plain; i++)
    if (strcmp(s, keywords[i]) == 0) plain = false;
  if (plain) sm_buf_puts(b, s);
  else sm_esc_text(b, s);
}

static void put_type(SmBuf *b, const IrType *t) {
  char s[IR_TYPE_STRLEN];
  sm_buf_puts(b, ir_type_str(t, s, sizeof s));
}

/* A float that re-parses to the same double and is never read back as an
 * integer. */
static void put_float(SmBuf *b, double v) {
  if (isinf(v)) {
    sm_buf_puts(b, v > 0 ? "inf" : "-inf");
    return;
  }
  char s[64];
  snprintf(s, sizeof s, "%.17g", v);
  /* shortest representation that round-trips */
  for (int prec = 1; prec < 17; prec++) {
    char t[64];
    snprintf(t, sizeof t, "%.*g", prec, v);
    if (strtod(t, NULL) == v) {
      memcpy(s, t, sizeof t);
      break;
    }
  }
  sm_buf_puts(b, s);
  if (!strpbrk(s, ".eEn")) sm_buf_puts(b, ".0");
}

static void put_attr(SmBuf *b, const IrAttr *a) {
  sm_buf_printf(b, "%s=", a->name);
  switch (a->kind) {
  case IR_ATTR_INT: sm_buf_printf(b, "%lld", (long long)a->i); break;
  case IR_ATTR_FLOAT: put_float(b, a->f); break;
  case IR_ATTR_STR: sm_esc_text(b, a->s); break;
  case IR_ATTR_INTS:
    sm_buf_putc(b, '[');
    for (int i = 0; i < a->n; i++)
      sm_buf_printf(b, "%s%lld", i ? "," : "", (long long)a->ints[i]);
    sm_buf_putc(b, ']');
    break;
  case IR_ATTR_FLOATS:
    sm_buf_putc(b, '[');
    for (int i = 0; i < a->n; i++) {
      if (i) sm_buf_putc(b, ',');
      put_float(b, a->floats[i]);
    }
    sm_buf_putc(b, ']');
    break;
  }
}

void ir_print_node(SmBuf *b, const IrNode *n) {
  for (int i = 0; i < n->nout; i++) {
    if (i) sm_buf_puts(b, ", ");
    put_name(b, n->out[i]->name);
    sm_buf_puts(b, ": ");
    put_type(b, &n->out[i]->type);
  }
  sm_buf_printf(b, " = %s(", n->op->name);
  for (int i = 0; i < n->nin; i++) {
    if (i) sm_buf_puts(b, ", ");
    put_name(b, n->in[i]->name);
  }
  for (int i = 0; i < n->nattr; i++) {
    if (i || n->nin) sm_buf_puts(b, ", ");
    put_attr(b, &n->attrs[i]);
  }
  sm_buf_puts(b, ")");
}

void ir_print(SmBuf *b, const IrGraph *g) {
  sm_buf_printf(b, "model %s\nseed %llu\n", g->name, (unsigned long long)g->seed);
  for (int i = 0; i < g->ninputs; i++) {
    sm_buf_puts(b, "input ");
    put_name(b, g->inputs[i]->name);
    sm_buf_puts(b, ": ");
    put_type(b, &g->inputs[i]->type);
    sm_buf_putc(b, '\n');
  }
  for (int i = 0; i < g->nparams; i++) {
    const IrValue *p = g->params[i];
    sm_buf_puts(b, "param ");
    put_name(b, p->name);
    sm_buf_puts(b, ": ");
    put_type(b, &p->type);
    sm_buf_printf(b, " = %s", ir_init_name(p->init.kind));
    if (p->init.kind == IR_INIT_CONSTANT || p->init.kind == IR_INIT_NORMAL) {
      sm_buf_putc(b, '(');
      put_float(b, p->init.a);
      sm_buf_putc(b, ')');
    } else if (p->init.kind == IR_INIT_UNIFORM) {
      sm_buf_putc(b, '(');
      put_float(b, p->init.a);
      sm_buf_puts(b, ", ");
      put_float(b, p->init.b);
      sm_buf_putc(b, ')');
    }
    if (p->data) sm_buf_puts(b, "  # literal values");
    sm_buf_putc(b, '\n');
  }
  for (int k = 0; k < g->nnodes; k++) {
    const IrNode *n = g->nodes[k];
    /* a fused kernel is announced before its first member */
    const IrNode *anchor = n->anchor;
    bool first = anchor != NULL;
    for (int j = 0; j < k && first; j++) first = g->nodes[j]->anchor != anchor;
    if (first) {
      sm_buf_printf(b, "# kernel k%d fuses:", anchor->id);
      for (int j = k; j < g->nnodes; j++)
        if (g->nodes[j]->anchor == anchor || g->nodes[j] == anchor)
          sm_buf_printf(b, " %s(n%d)", g->nodes[j]->op->name, g->nodes[j]->id);
      sm_buf_putc(b, '\n');
    }
    ir_print_node(b, n);
    sm_buf_putc(b, '\n');
  }
  sm_buf_puts(b, "output ");
  for (int i = 0; i < g->noutputs; i++) {
    if (i) sm_buf_puts(b, ", ");
    put_name(b, g->outputs[i]->name);
  }
  sm_buf_putc(b, '\n');
  for (int i = 0; i < g->ndirs; i++) {
    const IrDirective *dv = &g->dirs[i];
    sm_buf_puts(b, dv->kind);
    if (dv->arg) {
      sm_buf_putc(b, ' ');
      put_name(b, dv->arg);
    }
    for (int k = 0; k < dv->attrs->nattr; k++) {
      sm_buf_putc(b, ' ');
      put_attr(b, &dv->attrs->attrs[k]);
    }
    sm_buf_putc(b, '\n');
  }
}
