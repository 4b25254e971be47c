/* Parser for the smelt text model format.
 *
 *   file    = { line }
 *   line    = [ stmt ] [ "#" comment ] NEWLINE
 *   stmt    = "model" IDENT
 *           | "seed" INT
 *           | "input" name ":" type
 *           | "param" name ":" type [ "=" init ]
 *           | "output" name { "," name }
 *           | result { "," result } "=" IDENT "(" [ args ] ")"
 *   result  = name [ ":" type ]
 *   args    = arg { "," arg }
 *   arg     = name | IDENT "=" value
 *   value   = number | STRING | "[" [ number { "," number } ] "]"
 *   type    = DTYPE "[" [ INT { "," INT } ] "]"
 *   init    = IDENT [ "(" number { "," number } ")" ]
 *   name    = IDENT | STRING          (quoted names allow any characters)
 *
 * STRING is double-quoted on one line; inside it \" \\ \n \t \r and \xHH
 * stand for a quote, a backslash, a newline, a tab, a carriage return and
 * any byte but NUL, so every name the printer writes reads back.
 *
 * Errors are collected for the whole file; a bad line is skipped and names
 * it would have defined are marked poisoned so they cause no further
 * errors downstream. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "ir/escape.h"

typedef enum { T_EOF, T_NL, T_IDENT, T_INT, T_FLOAT, T_STR, T_PUNCT } TokKind;

typedef struct {
  TokKind kind;
  const char *p;
  int len;
  int line, col;
  int64_t i;
  double f;
} Tok;

typedef struct {
  const char *file, *src, *p;
  int line;
  const char *line_start;
  Tok tok;
  IrGraph *g;
  SmDiag *d;
  bool *poison; /* by value id */
  int npoison;
  bool *output; /* by value id: named by an `output` line */
  int noutput;
} Parser;

static SmLoc loc_of(Parser *ps, const Tok *t) {
  return (SmLoc){ps->file, t->line, t->col};
}

static void next(Parser *ps) {
  const char *p = ps->p;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    if (*p == '#')
      while (*p && *p != '\n') p++;
    break;
  }
  Tok t = {.p = p, .line = ps->line, .col = (int)(p - ps->line_start) + 1};
  if (!*p) {
    t.kind = T_EOF;
  } else if (*p == '\n') {
    t.kind = T_NL;
    t.len = 1;
    p++;
    ps->line++;
    ps->line_start = p;
  } else if (isalpha((unsigned char)*p) || *p == '_') {
    while (isalnum((unsigned char)*p) || *p == '_' || *p == '.') p++;
    t.kind = T_IDENT;
    t.len = (int)(p - t.p);
    if (t.len == 3 && memcmp(t.p, "inf", 3) == 0) {
      t.kind = T_FLOAT;
      t.f = INFINITY;
    }
  } else if (isdigit((unsigned char)*p) ||
             ((*p == '-' || *p == '+' || *p == '.') &&
              (isdigit((unsigned char)p[1]) || (p[1] == '.' && isdigit((unsigned char)p[2])) ||
               strncmp(p + 1, "inf", 3) == 0))) {
    char *end;
    errno = 0;
    double f = strtod(p, &end);
    if (end == p) { /* "..5", "+.inf": no number after all, one character */
      t.kind = T_PUNCT;
      t.len = 1;
      ps->p = p + 1;
      ps->tok = t;
      return;
    }
    const char *q = p + (*p == '-' || *p == '+');
    bool isint = true;
    for (const char *c = q; c < end; c++)
      if (!isdigit((unsigned char)*c)) isint = false;
    t.kind = isint ? T_INT : T_FLOAT;
    t.f = f;
    if (isint) t.i = strtoll(p, NULL, 10);
    if (isint && errno == ERANGE) t.kind = T_FLOAT;
    p = end;
    t.len = (int)(p - t.p);
  } else if (*p == '"') {
    p++;
    while (*p && *p != '"' && *p != '\n') p += *p == '\\' && p[1] && p[1] != '\n' ? 2 : 1;
    t.kind = T_STR;
    t.len = (int)(p - t.p) + 1;
    if (*p == '"') p++;
    else t.len = -1; /* unterminated */
  } else {
    t.kind = T_PUNCT;
    t.len = 1;
    p++;
  }
  ps->p = p;
  ps->tok = t;
}

/* next non-blank character after the current token */
static char peek_char(Parser *ps) {
  const char *p = ps->p;
  while (*p == ' ' || *p == '\t') p++;
  return *p;
}

static bool is_punct(Parser *ps, char c) {
  return ps->tok.kind == T_PUNCT && ps->tok.p[0] == c;
}

static bool is_word(Parser *ps, const char *w) {
  return ps->tok.kind == T_IDENT && (int)strlen(w) == ps->tok.len &&
         memcmp(ps->tok.p, w, (size_t)ps->tok.len) == 0;
}

static const char *tok_desc(const Tok *t, char *buf, size_t n) {
  switch (t->kind) {
  case T_EOF: return "end of file";
  case T_NL: return "end of line";
  default: snprintf(buf, n, "'%.*s'", t->len < 0 ? 1 : (t->len > 40 ? 40 : t->len), t->p);
  }
  return buf;
}

static bool fail(Parser *ps, const char *what) {
  char b[64];
  sm_error(ps->d, loc_of(ps, &ps->tok), "expected %s, got %s", what,
           tok_desc(&ps->tok, b, sizeof b));
  return false;
}

static bool expect(Parser *ps, char c) {
  char what[8] = {'\'', c, '\'', 0};
  if (!is_punct(ps, c)) return fail(ps, what);
  next(ps);
  return true;
}

static void skip_line(Parser *ps) {
  while (ps->tok.kind != T_NL && ps->tok.kind != T_EOF) next(ps);
}

static bool poisoned(Parser *ps, const IrValue *v) {
  return v->id < ps->npoison && ps->poison[v->id];
}

/* flags[id] = true, the array grown (new entries false) as needed */
static void set_flag(bool **flags, int *n, int id) {
  if (id >= *n) {
    int m = id * 2 + 16;
    *flags = sm_xrealloc(*flags, (size_t)m);
    memset(*flags + *n, 0, (size_t)(m - *n));
    *n = m;
  }
  (*flags)[id] = true;
}

static void set_poison(Parser *ps, const IrValue *v) { set_flag(&ps->poison, &ps->npoison, v->id); }

/* The text of the current STRING token, escapes decoded, in the graph's
 * arena; NULL (reported at the bad escape) when it does not decode. */
static char *tok_string(Parser *ps) {
  const Tok *t = &ps->tok;
  size_t len = (size_t)t->len - 2, bad = 0;
  char *out = sm_arena_alloc(&ps->g->arena, len + 1);
  const char *why = NULL;
  if (sm_unesc_text(t->p + 1, len, out, &bad, &why) < 0) {
    SmLoc at = loc_of(ps, t);
    at.col += (int)bad + 1;
    sm_error(ps->d, at, "bad string: %s", why);
    return NULL;
  }
  return out;
}

/* name = IDENT | STRING; the name in the graph's arena, or NULL (reported). */
static const char *parse_name(Parser *ps, Tok *at) {
  *at = ps->tok;
  char *name = NULL;
  if (ps->tok.kind == T_IDENT) {
    name = sm_arena_strndup(&ps->g->arena, ps->tok.p, (size_t)ps->tok.len);
  } else if (ps->tok.kind == T_STR && ps->tok.len > 2) {
    name = tok_string(ps);
    if (!name) return NULL;
    if (!*name) {
      fail(ps, "a name");
      return NULL;
    }
  } else {
    fail(ps, "a name");
    return NULL;
  }
  next(ps);
  return name;
}

/* type = DTYPE "[" [ INT { "," INT } ] "]" */
static bool parse_type(Parser *ps, IrType *t) {
  memset(t, 0, sizeof *t);
  if (ps->tok.kind != T_IDENT || !ir_dtype_parse(ps->tok.p, (size_t)ps->tok.len, &t->dtype))
    return fail(ps, "a type such as f32[2,3]");
  next(ps);
  if (!expect(ps, '[')) return false;
  while (!is_punct(ps, ']')) {
    if (t->rank == IR_MAX_RANK) {
      sm_error(ps->d, loc_of(ps, &ps->tok), "rank exceeds %d", IR_MAX_RANK);
      return false;
    }
    if (ps->tok.kind != T_INT || ps->tok.i < 0) return fail(ps, "a non-negative dimension");
    t->dims[t->rank++] = ps->tok.i;
    next(ps);
    if (is_punct(ps, ',')) next(ps);
    else if (!is_punct(ps, ']')) return fail(ps, "',' or ']'");
  }
  Tok close = ps->tok;
  next(ps);
  if (ir_type_numel(t) < 0) {
    sm_error(ps->d, loc_of(ps, &close), "shape has too many elements");
    return false;
  }
  return true;
}

static bool is_number(const Tok *t) { return t->kind == T_INT || t->kind == T_FLOAT; }

static bool define_ok(Parser *ps, const char *name, const Tok *at) {
  IrValue *v = ir_graph_find(ps->g, name);
  if (!v) return true;
  sm_error(ps->d, loc_of(ps, at), "duplicate name '%s'", name);
  if (v->loc.line) sm_note(ps->d, v->loc, "'%s' was first defined here", name);
  return false;
}

/* "input" name ":" type | "param" name ":" type [ "=" init ] */
static bool parse_decl(Parser *ps, bool is_param) {
  next(ps);
  Tok at;
  const char *name = parse_name(ps, &at);
  if (!name) return false;
  if (!expect(ps, ':')) return false;
  IrType t;
  if (!parse_type(ps, &t)) return false;
  IrInit init = {IR_INIT_ZEROS, 0, 0};
  if (is_param && is_punct(ps, '=')) {
    next(ps);
    Tok it = ps->tok;
    if (ps->tok.kind != T_IDENT) return fail(ps, "an initializer such as he_normal");
    int k;
    for (k = 0; k < IR_NINIT; k++)
      if ((int)strlen(ir_init_name((IrInitKind)k)) == it.len &&
          memcmp(ir_init_name((IrInitKind)k), it.p, (size_t)it.len) == 0)
        break;
    if (k == IR_NINIT) {
      sm_error(ps->d, loc_of(ps, &it),
               "unknown initializer '%.*s' (zeros, ones, constant(v), normal(std), "
               "uniform(a,b), xavier_uniform, xavier_normal, he_uniform, he_normal)",
               it.len, it.p);
      return false;
    }
    next(ps);
    init.kind = (IrInitKind)k;
    double args[2] = {0, 0};
    int nargs = 0;
    if (is_punct(ps, '(')) {
      next(ps);
      while (!is_punct(ps, ')')) {
        if (!is_number(&ps->tok) || nargs == 2) return fail(ps, "a number or ')'");
        args[nargs++] = ps->tok.f;
        next(ps);
        if (is_punct(ps, ',')) next(ps);
      }
      next(ps);
    }
    int want = k == IR_INIT_CONSTANT || k == IR_INIT_NORMAL ? 1 : k == IR_INIT_UNIFORM ? 2 : 0;
    if (nargs != want) {
      sm_error(ps->d, loc_of(ps, &it), "initializer '%s' takes %d argument%s, got %d",
               ir_init_name(init.kind), want, want == 1 ? "" : "s", nargs);
      return false;
    }
    if (k == IR_INIT_NORMAL && !(args[0] >= 0)) {
      sm_error(ps->d, loc_of(ps, &it), "normal(std) needs std >= 0");
      return false;
    }
    if (k == IR_INIT_UNIFORM && !(args[0] <= args[1])) {
      sm_error(ps->d, loc_of(ps, &it), "uniform(a, b) needs a <= b");
      return false;
    }
    init.a = args[0];
    init.b = args[1];
  }
  if (!define_ok(ps, name, &at)) return false;
  SmLoc loc = loc_of(ps, &at);
  if (is_param) ir_add_param(ps->g, name, t, init, loc);
  else ir_add_input(ps->g, name, t, loc);
  return true;
}

/* value = number | STRING | "[" [ number { "," number } ] "]" */
static bool parse_attr(Parser *ps, IrNode *n) {
  Tok at = ps->tok;
  char name[128];
  if ((size_t)at.len >= sizeof name) return fail(ps, "a shorter attribute name");
  memcpy(name, at.p, (size_t)at.len);
  name[at.len] = 0;
  next(ps); /* name */
  next(ps); /* '=' */
  if (ir_attr(n, name)) {
    sm_error(ps->d, loc_of(ps, &at), "attribute '%s' given twice", name);
    return false;
  }
  IrAttr *a;
  if (ps->tok.kind == T_INT) {
    a = ir_set_int(ps->g, n, name, ps->tok.i);
    next(ps);
  } else if (ps->tok.kind == T_FLOAT) {
    a = ir_set_float(ps->g, n, name, ps->tok.f);
    next(ps);
  } else if (ps->tok.kind == T_STR && ps->tok.len >= 2) {
    char *s = tok_string(ps);
    if (!s) return false;
    a = ir_set_str(ps->g, n, name, s);
    next(ps);
  } else if (ps->tok.kind == T_IDENT) { /* bare word: a string */
    char *s = sm_arena_strndup(&ps->g->arena, ps->tok.p, (size_t)ps->tok.len);
    a = ir_set_str(ps->g, n, name, s);
    next(ps);
  } else if (is_punct(ps, '[')) {
    next(ps);
    int cnt = 0, cap = 16;
    double *fv = sm_xmalloc(sizeof(double) * (size_t)cap);
    int64_t *iv = sm_xmalloc(sizeof(int64_t) * (size_t)cap);
    bool all_int = true;
    while (!is_punct(ps, ']')) {
      if (!is_number(&ps->tok)) {
        free(fv);
        free(iv);
        return fail(ps, "a number or ']'");
      }
      if (cnt == cap) {
        cap *= 2;
        fv = sm_xrealloc(fv, sizeof(double) * (size_t)cap);
        iv = sm_xrealloc(iv, sizeof(int64_t) * (size_t)cap);
      }
      all_int &= ps->tok.kind == T_INT;
      fv[cnt] = ps->tok.f;
      iv[cnt] = ps->tok.i;
      cnt++;
      next(ps);
      if (is_punct(ps, ',')) next(ps);
      else if (!is_punct(ps, ']')) {
        free(fv);
        free(iv);
        return fail(ps, "',' or ']'");
      }
    }
    next(ps);
    a = all_int ? ir_set_ints(ps->g, n, name, iv, cnt) : ir_set_floats(ps->g, n, name, fv, cnt);
    free(fv);
    free(iv);
  } else {
    return fail(ps, "an attribute value");
  }
  a->loc = loc_of(ps, &at);
  return true;
}

/* result { "," result } "=" IDENT "(" [ args ] ")" */
static bool parse_node(Parser *ps) {
  enum { MAXR = 8, MAXA = 16 };
  const char *names[MAXR];
  Tok name_at[MAXR];
  IrType ann[MAXR];
  bool has_ann[MAXR];
  int nres = 0;
  for (;;) {
    if (nres == MAXR) return fail(ps, "at most 8 results");
    if (!(names[nres] = parse_name(ps, &name_at[nres]))) return false;
    has_ann[nres] = false;
    if (is_punct(ps, ':')) {
      next(ps);
      if (!parse_type(ps, &ann[nres])) return false;
      has_ann[nres] = true;
    }
    nres++;
    if (!is_punct(ps, ',')) break;
    next(ps);
  }
  if (!expect(ps, '=')) return false;
  Tok op_at = ps->tok;
  if (ps->tok.kind != T_IDENT) return fail(ps, "an op name");
  char opname[64];
  snprintf(opname, sizeof opname, "%.*s", op_at.len > 63 ? 63 : op_at.len, op_at.p);
  next(ps);
  if (!expect(ps, '(')) return false;
  const IrOpDef *op = ir_op_find(opname);
  IrValue *ins[MAXA];
  int nin = 0;
  bool bad = false;
  /* operands first, then attributes; collect attributes into a scratch
   * node so they can be attached once the node exists */
  bool has_attrs = false;
  while (!is_punct(ps, ')')) {
    if (ps->tok.kind == T_IDENT && peek_char(ps) == '=') {
      /* attributes follow the operands */
      has_attrs = true;
      break;
    }
    Tok at;
    const char *vname = parse_name(ps, &at);
    if (!vname) return false;
    IrValue *v = ir_graph_find(ps->g, vname);
    if (!v) {
      sm_error(ps->d, loc_of(ps, &at), "undefined name '%s'", vname);
      bad = true;
    } else if (poisoned(ps, v)) {
      bad = true;
    }
    if (nin == MAXA) return fail(ps, "at most 16 operands");
    ins[nin++] = v;
    if (is_punct(ps, ',')) next(ps);
    else if (!is_punct(ps, ')')) return fail(ps, "',' or ')'");
  }
  if (!op) {
    sm_error(ps->d, loc_of(ps, &op_at), "unknown op '%s'", opname);
    bad = true;
  }
  for (int i = 0; i < nres; i++) {
    if (!define_ok(ps, names[i], &name_at[i])) bad = true;
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0) {
        sm_error(ps->d, loc_of(ps, &name_at[i]), "duplicate name '%s'", names[i]);
        bad = true;
      }
  }
  /* the node is created even when bad, so attributes can be parsed and the
   * names exist (poisoned) for later lines */
  static const IrOpDef poison_op = {.name = "<error>"};
  const char *onames[MAXR];
  for (int i = 0; i < nres; i++) onames[i] = names[i];
  IrValue *ins_ok[MAXA];
  int nin_ok = 0;
  for (int i = 0; i < nin; i++)
    if (ins[i]) ins_ok[nin_ok++] = ins[i];
  IrNode *n = NULL;
  if (bad) {
    /* keep poisoned names out of the real graph: use a throwaway node that
     * still registers the result names */
    n = ir_add_node(ps->g, &poison_op, ins_ok, nin_ok, onames, nres, loc_of(ps, &op_at));
  } else {
    n = ir_add_node(ps->g, op, ins, nin, onames, nres, loc_of(ps, &op_at));
  }
  for (int i = 0; i < nres; i++) n->out[i]->loc = loc_of(ps, &name_at[i]);
  if (has_attrs) {
    while (!is_punct(ps, ')')) {
      if (ps->tok.kind != T_IDENT || peek_char(ps) != '=') {
        fail(ps, "an attribute 'name=value' (operands come first)");
        bad = true;
        break;
      }
      if (!parse_attr(ps, n)) {
        bad = true;
        break;
      }
      if (is_punct(ps, ',')) next(ps);
      else if (!is_punct(ps, ')')) {
        fail(ps, "',' or ')'");
        bad = true;
        break;
      }
    }
  }
  if (!bad) {
    next(ps); /* ')' */
    if (ps->tok.kind != T_NL && ps->tok.kind != T_EOF) {
      fail(ps, "end of line");
      bad = true;
    }
  }
  if (!bad && !ir_infer_node(n, ps->d)) bad = true;
  if (!bad)
    for (int i = 0; i < nres; i++)
      if (has_ann[i] && !ir_type_eq(&ann[i], &n->out[i]->type)) {
        char a[IR_TYPE_STRLEN], b[IR_TYPE_STRLEN];
        sm_error(ps->d, loc_of(ps, &name_at[i]),
                 "'%s' is declared %s but %s produces %s", names[i],
                 ir_type_str(&ann[i], a, sizeof a), opname,
                 ir_type_str(&n->out[i]->type, b, sizeof b));
        bad = true;
      }
  if (bad) {
    n->op = &poison_op;
    for (int i = 0; i < nres; i++) set_poison(ps, n->out[i]);
  }
  return !bad;
}

static bool parse_output(Parser *ps) {
  next(ps);
  for (;;) {
    Tok at;
    const char *name = parse_name(ps, &at);
    if (!name) return false;
    IrValue *v = ir_graph_find(ps->g, name);
    if (!v) {
      sm_error(ps->d, loc_of(ps, &at), "undefined name '%s'", name);
    } else {
      if (v->id < ps->noutput && ps->output[v->id]) {
        sm_error(ps->d, loc_of(ps, &at), "'%s' is already an output", name);
        return false;
      }
      set_flag(&ps->output, &ps->noutput, v->id);
      ir_add_output(ps->g, v);
    }
    if (!is_punct(ps, ',')) break;
    next(ps);
  }
  return true;
}

/* directive = KIND [ name ] { IDENT "=" value [","] }
 * KIND is one of train, optimizer, schedule, param_group, step */
static const char *const directive_kinds[] = {"train", "optimizer", "schedule", "param_group", "step"};

static bool parse_directive(Parser *ps, const char *kind) {
  Tok at = ps->tok;
  next(ps);
  const char *arg = NULL;
  if ((ps->tok.kind == T_IDENT || ps->tok.kind == T_STR) && peek_char(ps) != '=') {
    Tok t;
    if (!(arg = parse_name(ps, &t))) return false;
  }
  IrDirective *dv = ir_add_directive(ps->g, kind, arg, loc_of(ps, &at));
  while (ps->tok.kind != T_NL && ps->tok.kind != T_EOF) {
    if (ps->tok.kind != T_IDENT || peek_char(ps) != '=') return fail(ps, "'key=value'");
    if (!parse_attr(ps, dv->attrs)) return false;
    if (is_punct(ps, ',')) next(ps);
  }
  return true;
}

static bool parse_stmt(Parser *ps) {
  for (int i = 0; i < SM_COUNT(directive_kinds); i++)
    if (is_word(ps, directive_kinds[i]) && peek_char(ps) != '=' && peek_char(ps) != ',' &&
        peek_char(ps) != ':')
      return parse_directive(ps, directive_kinds[i]);
  if (is_word(ps, "model")) {
    next(ps);
    Tok at = ps->tok;
    if (ps->tok.kind != T_IDENT) return fail(ps, "a model name");
    char *name = sm_arena_strndup(&ps->g->arena, at.p, (size_t)at.len);
    const char *why = sm_c_name_problem(name);
    if (why) {
      sm_error(ps->d, loc_of(ps, &at),
               "model name '%s' cannot prefix the program's C API (%s_create, ...): %s", name,
               name, why);
      return false;
    }
    ps->g->name = name;
    next(ps);
    return true;
  }
  if (is_word(ps, "seed")) {
    next(ps);
    if (ps->tok.kind != T_INT || ps->tok.i < 0) return fail(ps, "a non-negative integer seed");
    ps->g->seed = (uint64_t)ps->tok.i;
    next(ps);
    return true;
  }
  if (is_word(ps, "input") && peek_char(ps) != '=') return parse_decl(ps, false);
  if (is_word(ps, "param") && peek_char(ps) != '=') return parse_decl(ps, true);
  if (is_word(ps, "output") && peek_char(ps) != '=') return parse_output(ps);
  return parse_node(ps);
}

SmStatus fe_parse_text(const char *file, const char *text, IrGraph **out,
                       SmDiag *d) {
  *out = NULL;
  char name[128];
  fe_model_name(file, name, sizeof name);
  Parser ps = {.file = file, .src = text, .p = text, .line = 1, .line_start = text,
               .g = ir_graph_new(name), .d = d};
  sm_diag_add_source(d, file, text);
  int before = d->nerrors;
  next(&ps);
  while (ps.tok.kind != T_EOF) {
    if (ps.tok.kind == T_NL) {
      next(&ps);
      continue;
    }
    if (!parse_stmt(&ps)) {
      skip_line(&ps);
      continue;
    }
    if (ps.tok.kind != T_NL && ps.tok.kind != T_EOF) {
      fail(&ps, "end of line");
      skip_line(&ps);
    }
  }
  if (d->nerrors == before && ps.g->noutputs == 0)
    sm_error(d, (SmLoc){file, ps.line, 1}, "model declares no outputs (add 'output NAME')");
  free(ps.poison);
  free(ps.output);
  if (d->nerrors == before) ir_decompose(ps.g, d);
  if (d->nerrors != before) {
    ir_graph_free(ps.g);
    return SM_ERR_PARSE;
  }
  *out = ps.g;
  return SM_OK;
}

/* The file's base name up to its first '.', other characters than ASCII
 * letters, digits and '_' made '_'; a name that cannot prefix a C API (a
 * keyword, a C library or runtime name, one not starting with a letter)
 * gets "model_" in front: int.onnx -> model_int, 3d.onnx -> model_3d. */
void fe_model_name(const char *path, char *buf, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char s[SM_C_NAME_MAX + 1];
  size_t k = 0;
  for (const char *p = base; *p && *p != '.' && k < SM_C_NAME_MAX; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    s[k++] = ok ? c : '_';
  }
  s[k] = 0;
  if (k == 0) snprintf(buf, n, "model");
  else if (sm_c_name_problem(s)) snprintf(buf, n, "model_%.*s", SM_C_NAME_MAX - 6, s);
  else snprintf(buf, n, "%s", s);
}

SmStatus fe_load(const char *path, IrGraph **out, char **src, SmDiag *d) {
  *out = NULL;
  *src = NULL;
  if (fe_is_onnx(path)) return fe_load_onnx(path, NULL, out, d);
  size_t len;
  SmStatus st = sm_read_file(path, src, &len, d);
  if (st) return st;
  if (strlen(*src) != len) {
    sm_error(d, (SmLoc){path, 0, 0}, "file contains NUL bytes (is it a binary file?)");
    return SM_ERR_PARSE;
  }
  return fe_parse_text(path, *src, out, d);
}
