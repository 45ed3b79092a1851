/* Internals of the script language: tokens, syntax tree, values, the
 * interpreter state. Errors unwind with longjmp to lms_run_source: every
 * allocation of a run comes from one arena (syntax tree, values, scratch) or
 * is a tensor/layer/model owned by the context, so unwinding leaks nothing. */
#ifndef LMS_INTERP_H
#define LMS_INTERP_H

#include <setjmp.h>
#include <stdarg.h>

#include "core/core.h"
#include "script/script.h"

/* ---- lexer ---------------------------------------------------------------- */

typedef enum lms_tok_kind {
  T_EOF,
  T_NEWLINE,
  T_NAME,
  T_INT,
  T_FLOAT,
  T_STR,
  T_OP /* punctuation and operators, text in tok.s */
} lms_tok_kind;

typedef struct lms_tok {
  lms_tok_kind kind;
  int line, col;
  const char *s; /* T_NAME, T_OP: points into the source; T_STR: decoded (arena) */
  size_t len;
  int64_t i;
  double f;
} lms_tok;

typedef struct lms_src {
  const char *name;
  const char *text;
  size_t len;
} lms_src;

/* ---- syntax tree ------------------------------------------------------------ */

typedef enum lms_node_kind {
  N_NAME, N_INT, N_FLOAT, N_STR, N_NONE, N_TRUE, N_FALSE,
  N_TUPLE, N_LIST, N_DICT,     /* kids (dict: key, value, key, value ...) */
  N_BINOP, N_UNARY,            /* op; a, b */
  N_CMP,                       /* kids operands, ops[] */
  N_AND, N_OR, N_NOT, N_IFEXP, /* a if b else c: a=value, b=cond, c=else */
  N_LAMBDA,                    /* names params, a body */
  N_CALL,                      /* a callee, kids args, names[i] keyword or NULL */
  N_ATTR,                      /* a.str */
  N_SUBSCRIPT,                 /* a[b] */
  N_SLICE,                     /* a:b:c (each may be NULL) */
  /* statements */
  N_EXPR, N_ASSIGN, N_AUGASSIGN, /* assign: kids targets..., a value; aug: a target, op, b */
  N_IMPORT, N_FROM, N_PASS       /* names[2i] module/name, names[2i+1] alias or NULL; str module */
} lms_node_kind;

typedef struct lms_node lms_node;
struct lms_node {
  lms_node_kind kind;
  int line, col;
  int op; /* operator character code, see OP_* */
  lms_node *a, *b, *c;
  lms_node **kids;
  int n_kids;
  const char **names;
  int n_names;
  int *ops;
  lms_node **kw_at; /* N_CALL: where each keyword argument starts (NULL for positional) */
  const char *str;
  size_t slen;
  int64_t i;
  double f;
};

enum {
  OP_ADD = '+', OP_SUB = '-', OP_MUL = '*', OP_DIV = '/', OP_MOD = '%',
  OP_FLOORDIV = 'F', OP_POW = 'P', OP_NEG = 'n', OP_POS = 'p', OP_MATMUL = '@',
  OP_EQ = 'e', OP_NE = 'N', OP_LT = '<', OP_LE = 'l', OP_GT = '>', OP_GE = 'g',
  OP_IN = 'i', OP_NOTIN = 'I', OP_IS = 's', OP_ISNOT = 'S'
};

typedef struct lms_program {
  lms_node **stmts;
  int n;
} lms_program;

/* ---- values -------------------------------------------------------------- */

typedef enum lms_kind {
  V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT,
  V_ARRAY, V_LAYER, V_SYM, V_MODEL, V_OPTIMIZER, V_HISTORY, V_CALLBACK,
  V_MODULE, V_BUILTIN, V_LAMBDA
} lms_kind;

typedef struct lms_value lms_value;
typedef struct lms_interp lms_interp;
typedef struct lms_args lms_args;

/* A built-in function or method: self is the bound object (NULL for functions). */
typedef lms_value *(*lms_fn)(lms_interp *I, lms_value *self, lms_args *a);

typedef struct lms_builtin {
  const char *name; /* shown in messages: "Dense", "np.zeros", "fit" */
  lms_fn fn;
  const char *spec; /* argument spec, see args.c; NULL: the function checks itself */
  const void *data; /* e.g. the registry entry */
} lms_builtin;

struct lms_value {
  lms_kind kind;
  union {
    bool b;
    int64_t i;
    double f;
    struct { const char *s; size_t len; } str;
    struct { lms_value **items; int n, cap; } seq;   /* tuple, list */
    struct { lms_value **keys, **vals; int n, cap; } dict;
    lm_tensor *arr;
    struct { lm_layer *l; } layer;
    lm_sym *sym;
    struct { lm_model *m; bool sequential, compiled; int index; } model;
    lm_optimizer *opt;
    struct { lm_history *h; lms_value *model; } hist;
    struct { const char *cls; lms_value *cfg; struct lm_callback *cb; } cb; /* class, keywords, the C callback */
    const char *module; /* "keras.layers" */
    struct { const lms_builtin *b; lms_value *self; } fn;
    struct { const lms_node *node; } lambda;
  } u;
};

/* Arguments of one call, as written. */
struct lms_args {
  const lms_node *call; /* for positions */
  const lms_builtin *callee; /* the builtin being called (its data) */
  int n_pos;
  lms_value **pos;
  const lms_node **pos_nodes;
  int n_kw;
  const char **kw_names;
  lms_value **kw;
  const lms_node **kw_nodes;
  /* filled by lms_bind from a spec: slots in spec order, NULL when absent */
  int n_slots;
  lms_value *slot[24];
  char slot_names[24][48];
  const lms_node *slot_node[24];
  const char *fname;
};

typedef struct lms_var {
  const char *name;
  lms_value *v;
} lms_var;

struct lms_interp {
  lm_ctx *ctx;
  lm_arena arena;
  lms_src src;
  lms_opts opts;
  jmp_buf jmp;
  int status;          /* LMS_SCRIPT_ERROR or LMS_RUNTIME once failed */
  char msg[2048];
  int err_line, err_col;
  lms_var *vars;
  int n_vars, cap_vars;
  lms_var *locals; /* lambda parameters while a lambda runs */
  int n_locals;
  int depth; /* lambda call depth */
  lms_value **models; /* every model made, in order (lamina summary) */
  int n_models, cap_models;
  const lms_node *cur; /* statement being run (positions of last resort) */
  lm_buf *bufs[8]; /* open text buffers (freed when an error unwinds) */
  int n_bufs;
  bool pending;
  int n_fits; /* fit() calls run so far (--resume applies to the first) */
  const lms_value *slice_marker; /* the (start, stop, step) list passed for x[a:b:c] */        /* an error was caught inside a library callback (msg, position kept) */
};

/* ---- shared helpers -------------------------------------------------------- */

/* Report an error at node (NULL: current statement) and unwind. */
_Noreturn void lms_fail(lms_interp *I, const lms_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, exit status 1 (a runtime failure: I/O, data). */
_Noreturn void lms_fail_rt(lms_interp *I, const lms_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A library call failed: report lm_errmsg(ctx) at node and unwind. */
_Noreturn void lms_fail_lib(lms_interp *I, const lms_node *at);
void *lms_alloc(lms_interp *I, size_t n); /* zeroed; unwinds on failure */
char *lms_strndup(lms_interp *I, const char *s, size_t n);

/* Parser: parses src into prog using I's arena; on error fills I->msg and
 * position and longjmps to I->jmp. */
void lms_parse(lms_interp *I, lms_program *prog);

/* Values */
lms_value *lms_new(lms_interp *I, lms_kind k);
lms_value *lms_none(lms_interp *I);
lms_value *lms_bool(lms_interp *I, bool b);
lms_value *lms_int(lms_interp *I, int64_t i);
lms_value *lms_float(lms_interp *I, double f);
lms_value *lms_str(lms_interp *I, const char *s, size_t len);
lms_value *lms_cstr(lms_interp *I, const char *s);
lms_value *lms_seq(lms_interp *I, lms_kind k, int n); /* tuple or list with n NULL items */
void lms_list_append(lms_interp *I, lms_value *list, lms_value *v);
lms_value *lms_dict(lms_interp *I);
void lms_dict_set(lms_interp *I, lms_value *d, lms_value *k, lms_value *v);
lms_value *lms_dict_get(lms_value *d, lms_value *k); /* NULL if absent */
lms_value *lms_dict_gets(lms_value *d, const char *k);
lms_value *lms_array(lms_interp *I, lm_tensor *t, const lms_node *at); /* t NULL: library error */
lms_value *lms_builtin_value(lms_interp *I, const lms_builtin *b, lms_value *self);
const char *lms_type_name(const lms_value *v);
bool lms_truthy(const lms_value *v);
bool lms_equal(const lms_value *a, const lms_value *b);
/* str() and repr() into a buffer */
void lms_to_str(lms_interp *I, lm_buf *b, const lms_value *v, bool repr);
bool lms_is_number(const lms_value *v); /* bool, int, float */
double lms_num(const lms_value *v);

/* Arguments: bind a call to a spec such as "units:i, activation:s?=None".
 * Types: i int, f float, b bool, s str, S shape (int or tuple of int/None),
 * x anything; '?' also accepts None. A parameter after '*' is keyword-only.
 * Unknown keywords, too many positionals, missing required ones and wrong
 * types are errors naming the function and the argument. */
void lms_bind(lms_interp *I, lms_args *a, const char *fname, const char *spec);
lms_value *lms_arg(lms_args *a, int slot); /* NULL when absent or None */
int lms_slot(const lms_args *a, const char *name); /* index of a parameter, -1 if none */
int64_t lms_arg_int(lms_args *a, int slot, int64_t def);
double lms_arg_float(lms_args *a, int slot, double def);
bool lms_arg_bool(lms_args *a, int slot, bool def);
const char *lms_arg_str(lms_args *a, int slot, const char *def);
const lms_node *lms_arg_node(lms_args *a, int slot);
/* A shape argument into dims (LM_NONE for None); returns the rank. */
int lms_arg_shape(lms_interp *I, lms_args *a, int slot, int64_t *dims);
int lms_shape_of(lms_interp *I, lms_value *v, const lms_node *at, int64_t *dims, bool allow_none);

/* Text buffers that an error unwinding past them frees (eval.c);
 * lms_buf_value closes b and returns its text, failing if it ran out of memory. */
lm_buf *lms_buf_open(lms_interp *I);
void lms_buf_close(lms_interp *I, lm_buf *b);
lms_value *lms_buf_value(lms_interp *I, lm_buf *b, const lms_node *at);
/* Python string formatting (format.c): format(v, spec) appended to b, and 'fmt' % args. */
void lms_format_value(lms_interp *I, lm_buf *b, lms_value *v, const char *spec, size_t n, const lms_node *at);
lms_value *lms_percent_format(lms_interp *I, lms_value *fmt, lms_value *args, const lms_node *at);

/* Evaluation */
lms_value *lms_eval(lms_interp *I, const lms_node *n);
lms_value *lms_call(lms_interp *I, lms_value *f, lms_args *a);
lms_value *lms_getattr(lms_interp *I, lms_value *obj, const char *name, const lms_node *at);

/* Modules and names (names.c): the value of "keras.layers" . "Dense". */
lms_value *lms_module_attr(lms_interp *I, const char *module, const char *name,
                           const lms_node *at);
bool lms_module_known(const char *path);
const char *lms_canonical_module(lms_interp *I, const char *path); /* tensorflow.keras -> keras */

/* Keras objects (keras.c) */
lms_value *lms_model_attr(lms_interp *I, lms_value *m, const char *name, const lms_node *at);
lms_value *lms_layer_attr(lms_interp *I, lms_value *l, const char *name, const lms_node *at);
lms_value *lms_history_attr(lms_interp *I, lms_value *h, const char *name, const lms_node *at);
lms_value *lms_optimizer_attr(lms_interp *I, lms_value *o, const char *name, const lms_node *at);
lms_value *lms_call_layer(lms_interp *I, lms_value *layer, lms_args *a);
lms_value *lms_layer_value(lms_interp *I, lm_layer *l);
lms_value *lms_model_value(lms_interp *I, lm_model *m, bool sequential);
void lms_set_layer_attr(lms_interp *I, lms_value *l, const char *name, lms_value *v,
                        const lms_node *at);

/* Arrays (array.c) */
lms_value *lms_array_attr(lms_interp *I, lms_value *arr, const char *name, const lms_node *at);
lms_value *lms_array_binop(lms_interp *I, int op, lms_value *a, lms_value *b, const lms_node *at);
lms_value *lms_array_index(lms_interp *I, lms_value *arr, lms_value *idx, const lms_node *at);
lms_value *lms_array_neg(lms_interp *I, lms_value *a, const lms_node *at);
/* Nested lists of numbers -> tensor */
lm_tensor *lms_to_tensor(lms_interp *I, lms_value *v, const lms_node *at, int want_dtype);

/* Registry (registry.c): the Keras names */
typedef struct lms_layer_entry {
  const char *name;      /* Keras class name: "Dense" */
  const char *spec;      /* its own arguments (common ones are added) */
  lm_layer *(*ctor)(lms_interp *I, lms_args *a, const char *layer_name);
} lms_layer_entry;
const lms_layer_entry *lms_find_layer(const char *name);
const lms_builtin *lms_find_builtin(const char *module, const char *name);
extern const char *const lms_modules[]; /* NULL-terminated */

#endif
