/* Lexer and recursive-descent parser for the script subset of Python 3.
 * Statements are top-level only: an indented line, a block statement (def,
 * class, for, while, if, with, try) or any construct outside the subset is an
 * error naming it. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "script/interp.h"

#define MAX_NEST 100

typedef struct P {
  lms_interp *I;
  const char *s;
  size_t len, pos;
  int line, col; /* of pos */
  int brackets;  /* open ( [ { */
  int open_line[MAX_NEST + 1], open_col[MAX_NEST + 1]; /* where each open bracket is */
  char open_ch[MAX_NEST + 1];
  bool bol;      /* at the beginning of a logical line */
  lms_tok tok;   /* current token */
  int nest;
} P;

static _Noreturn void perr(P *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static _Noreturn void perr(P *p, int line, int col, const char *fmt, ...) {
  lms_interp *I = p->I;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(I->msg, sizeof I->msg, fmt, ap);
  va_end(ap);
  I->err_line = line;
  I->err_col = col;
  I->status = LMS_SCRIPT_ERROR;
  longjmp(I->jmp, 1);
}

/* ---- lexer ---------------------------------------------------------------- */

static int peekc(P *p, size_t k) { return p->pos + k < p->len ? (unsigned char)p->s[p->pos + k] : -1; }

static void adv(P *p, size_t k) {
  while (k-- && p->pos < p->len) {
    if (p->s[p->pos] == '\n') {
      p->line++;
      p->col = 1;
    } else {
      p->col++;
    }
    p->pos++;
  }
}

static const char *const keywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", NULL};

static bool tok_is(const lms_tok *t, lms_tok_kind k, const char *s) {
  return t->kind == k && strlen(s) == t->len && memcmp(t->s, s, t->len) == 0;
}
static bool is_op(P *p, const char *s) { return tok_is(&p->tok, T_OP, s); }
static bool is_kw(P *p, const char *s) { return tok_is(&p->tok, T_NAME, s); }
static bool is_keyword(const lms_tok *t) {
  if (t->kind != T_NAME) return false;
  for (int i = 0; keywords[i]; i++)
    if (tok_is(t, T_NAME, keywords[i])) return true;
  return false;
}

static void put_utf8(char *out, size_t *k, unsigned long cp) {
  if (cp < 0x80) {
    out[(*k)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*k)++] = (char)(0xC0 | (cp >> 6));
    out[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*k)++] = (char)(0xE0 | (cp >> 12));
    out[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*k)++] = (char)(0xF0 | (cp >> 18));
    out[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*k)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void lex_string(P *p, lms_tok *t, bool raw) {
  int q = peekc(p, 0);
  bool triple = peekc(p, 1) == q && peekc(p, 2) == q;
  adv(p, triple ? 3 : 1);
  size_t start = p->pos;
  /* find the end first, so the decoded text fits in len bytes */
  for (;;) {
    int c = peekc(p, 0);
    if (c < 0 || (!triple && c == '\n'))
      perr(p, t->line, t->col, "unterminated string literal");
    if (c == '\\' && peekc(p, 1) >= 0) {
      adv(p, 2);
      continue;
    }
    if (c == q && (!triple || (peekc(p, 1) == q && peekc(p, 2) == q))) break;
    adv(p, 1);
  }
  size_t end = p->pos;
  adv(p, triple ? 3 : 1);
  char *out = lms_alloc(p->I, end - start + 1);
  size_t k = 0;
  for (size_t i = start; i < end; i++) {
    char c = p->s[i];
    if (c != '\\' || raw || i + 1 >= end) {
      out[k++] = c;
      continue;
    }
    char e = p->s[++i];
    switch (e) {
    case 'n': out[k++] = '\n'; break;
    case 't': out[k++] = '\t'; break;
    case 'r': out[k++] = '\r'; break;
    case '0': out[k++] = '\0'; break;
    case 'a': out[k++] = '\a'; break;
    case 'b': out[k++] = '\b'; break;
    case 'f': out[k++] = '\f'; break;
    case 'v': out[k++] = '\v'; break;
    case '\\': out[k++] = '\\'; break;
    case '\'': out[k++] = '\''; break;
    case '"': out[k++] = '"'; break;
    case '\n': break; /* line continuation inside a string */
    case 'x':
      if (i + 2 < end && hexval(p->s[i + 1]) >= 0 && hexval(p->s[i + 2]) >= 0) {
        put_utf8(out, &k, (unsigned long)(hexval(p->s[i + 1]) * 16 + hexval(p->s[i + 2])));
        i += 2;
      } else {
        perr(p, t->line, t->col, "invalid \\x escape in string literal");
      }
      break;
    case 'u': {
      unsigned long cp = 0;
      int j = 1;
      for (; j <= 4 && i + (size_t)j < end && hexval(p->s[i + (size_t)j]) >= 0; j++)
        cp = cp * 16 + (unsigned long)hexval(p->s[i + (size_t)j]);
      if (j != 5) perr(p, t->line, t->col, "invalid \\u escape in string literal");
      if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
      put_utf8(out, &k, cp); /* 3 bytes at most for 6 source bytes */
      i += 4;
      break;
    }
    default: out[k++] = '\\'; out[k++] = e; break;
    }
  }
  out[k] = 0;
  t->kind = T_STR;
  t->s = out;
  t->len = k;
}

static void lex_number(P *p, lms_tok *t) {
  char buf[128];
  size_t k = 0;
  bool is_float = false;
  int base = 10;
  if (peekc(p, 0) == '0' && strchr("xXoObB", peekc(p, 1) > 0 ? peekc(p, 1) : ' ')) {
    int c = tolower(peekc(p, 1));
    base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
    adv(p, 2);
  }
  for (;;) {
    int c = peekc(p, 0);
    if (c == '_') {
      adv(p, 1);
      continue;
    }
    bool ok = base == 16 ? isxdigit(c) : isdigit(c);
    if (!ok && base == 10) {
      if (c == '.' && !is_float) {
        is_float = true;
        ok = true;
      } else if ((c == 'e' || c == 'E') &&
                 (isdigit(peekc(p, 1)) ||
                  ((peekc(p, 1) == '+' || peekc(p, 1) == '-') && isdigit(peekc(p, 2))))) {
        is_float = true;
        if (k + 2 < sizeof buf) buf[k++] = (char)c;
        adv(p, 1);
        c = peekc(p, 0);
        ok = true;
      }
    }
    if (!ok) break;
    if (k + 1 >= sizeof buf) perr(p, t->line, t->col, "numeric literal too long");
    buf[k++] = (char)c;
    adv(p, 1);
  }
  buf[k] = 0;
  int c = peekc(p, 0);
  if (c == 'j' || c == 'J') perr(p, t->line, t->col, "complex numbers are not supported");
  if (c >= 0 && (isalnum(c) || c == '_')) perr(p, t->line, t->col, "invalid numeric literal");
  if (k == 0) perr(p, t->line, t->col, "invalid numeric literal");
  errno = 0;
  if (is_float) {
    t->kind = T_FLOAT;
    t->f = strtod(buf, NULL);
  } else {
    if (base == 10 && k > 1 && buf[0] == '0') {
      for (size_t i = 0; i < k; i++)
        if (buf[i] != '0')
          perr(p, t->line, t->col, "leading zeros in decimal integer literals are not permitted");
    }
    t->kind = T_INT;
    unsigned long long v = strtoull(buf, NULL, base);
    if (errno || v > (unsigned long long)INT64_MAX)
      perr(p, t->line, t->col, "integer literal too large (lamina integers are 64-bit)");
    t->i = (int64_t)v;
  }
}

static const char *const ops3[] = {"**=", "//=", ">>=", "<<=", "...", NULL};
static const char *const ops2[] = {"**", "//", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=",
                                   "/=", "%=", "@=", "&=", "|=", "^=", ":=", "<<", ">>", NULL};

static void lex(P *p) {
  lms_tok *t = &p->tok;
  memset(t, 0, sizeof *t);
  for (;;) {
    if (p->bol && p->brackets == 0) {
      /* indentation of a new logical line */
      size_t k = 0;
      while (peekc(p, k) == ' ' || peekc(p, k) == '\t' || peekc(p, k) == '\f') k++;
      int c = peekc(p, k);
      if (k > 0 && c != '\n' && c != '\r' && c != '#' && c >= 0) {
        adv(p, k);
        perr(p, p->line, p->col,
             "unexpected indent (lamina scripts have top-level statements only)");
      }
      p->bol = false;
    }
    int c = peekc(p, 0);
    if (c == ' ' || c == '\t' || c == '\f' || c == '\r') {
      adv(p, 1);
    } else if (c == '#') {
      while (peekc(p, 0) >= 0 && peekc(p, 0) != '\n') adv(p, 1);
    } else if (c == '\\' && (peekc(p, 1) == '\n' || (peekc(p, 1) == '\r' && peekc(p, 2) == '\n'))) {
      adv(p, peekc(p, 1) == '\n' ? 2 : 3);
    } else if (c == '\n') {
      t->line = p->line;
      t->col = p->col;
      adv(p, 1);
      if (p->brackets == 0) {
        p->bol = true;
        t->kind = T_NEWLINE;
        return;
      }
    } else {
      break;
    }
  }
  t->line = p->line;
  t->col = p->col;
  int c = peekc(p, 0);
  if (c < 0) {
    if (p->brackets > 0) {
      int k = p->brackets - 1;
      perr(p, p->open_line[k], p->open_col[k], "'%c' was never closed", p->open_ch[k]);
    }
    t->kind = T_EOF;
    return;
  }
  if (isalpha(c) || c == '_') {
    size_t k = 0;
    while (peekc(p, k) >= 0 && (isalnum(peekc(p, k)) || peekc(p, k) == '_')) k++;
    int q = peekc(p, k);
    if ((q == '\'' || q == '"') && k <= 2) {
      /* string prefix */
      bool raw = false, fstr = false, bytes = false;
      for (size_t i = 0; i < k; i++) {
        int pc = tolower((unsigned char)p->s[p->pos + i]);
        if (pc == 'r') raw = true;
        else if (pc == 'f') fstr = true;
        else if (pc == 'b') bytes = true;
        else if (pc != 'u') goto name;
      }
      if (fstr)
        perr(p, t->line, t->col,
             "f-strings are not supported; use '%%' formatting or str.format()");
      if (bytes) perr(p, t->line, t->col, "bytes literals are not supported");
      adv(p, k);
      lex_string(p, t, raw);
      return;
    }
  name:
    t->kind = T_NAME;
    t->s = p->s + p->pos;
    t->len = k;
    adv(p, k);
    return;
  }
  if (isdigit(c) || (c == '.' && isdigit(peekc(p, 1)))) {
    lex_number(p, t);
    return;
  }
  if (c == '\'' || c == '"') {
    lex_string(p, t, false);
    return;
  }
  t->kind = T_OP;
  t->s = p->s + p->pos;
  for (int i = 0; ops3[i]; i++)
    if (p->pos + 3 <= p->len && memcmp(p->s + p->pos, ops3[i], 3) == 0) {
      t->len = 3;
      adv(p, 3);
      return;
    }
  for (int i = 0; ops2[i]; i++)
    if (p->pos + 2 <= p->len && memcmp(p->s + p->pos, ops2[i], 2) == 0) {
      t->len = 2;
      adv(p, 2);
      return;
    }
  if (strchr("+-*/%@<>=()[]{},:.;~&|^", c)) {
    t->len = 1;
    if (c == '(' || c == '[' || c == '{') {
      if (p->brackets >= MAX_NEST) perr(p, t->line, t->col, "too many nested brackets");
      p->open_line[p->brackets] = t->line;
      p->open_col[p->brackets] = t->col;
      p->open_ch[p->brackets++] = (char)c;
    }
    if ((c == ')' || c == ']' || c == '}') && p->brackets > 0) p->brackets--;
    adv(p, 1);
    return;
  }
  if (c >= 0x80) perr(p, t->line, t->col, "invalid character (non-ASCII) outside a string");
  perr(p, t->line, t->col, "invalid character '%c'", c);
}

/* ---- parser ---------------------------------------------------------------- */

static lms_node *node(P *p, lms_node_kind k, int line, int col) {
  lms_node *n = lms_alloc(p->I, sizeof *n);
  n->kind = k;
  n->line = line;
  n->col = col;
  return n;
}

static const char *tok_text(P *p) {
  lms_tok *t = &p->tok;
  switch (t->kind) {
  case T_EOF: return "end of file";
  case T_NEWLINE: return "end of line";
  case T_STR: return "string";
  case T_INT:
  case T_FLOAT: return "number";
  default: {
    char *s = lms_alloc(p->I, t->len + 3);
    s[0] = '\'';
    memcpy(s + 1, t->s, t->len);
    s[t->len + 1] = '\'';
    return s;
  }
  }
}

static _Noreturn void unexpected(P *p, const char *wanted) {
  if (wanted)
    perr(p, p->tok.line, p->tok.col, "invalid syntax: expected %s, got %s", wanted, tok_text(p));
  perr(p, p->tok.line, p->tok.col, "invalid syntax: unexpected %s", tok_text(p));
}

static void expect_op(P *p, const char *op) {
  if (!is_op(p, op)) {
    char w[16];
    snprintf(w, sizeof w, "'%s'", op);
    unexpected(p, w);
  }
  lex(p);
}

typedef struct vec {
  lms_node **v;
  int n, cap;
} vec;

static void vpush(P *p, vec *v, lms_node *n) {
  if (v->n == v->cap) {
    int cap = v->cap ? v->cap * 2 : 4;
    lms_node **nv = lms_alloc(p->I, (size_t)cap * sizeof *nv);
    if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
    v->v = nv;
    v->cap = cap;
  }
  v->v[v->n++] = n;
}

static lms_node *parse_test(P *p);
static lms_node *parse_or(P *p);

static void enter(P *p) {
  if (++p->nest > MAX_NEST) perr(p, p->tok.line, p->tok.col, "expression nested too deeply");
}

static bool starts_expr(P *p) {
  lms_tok *t = &p->tok;
  if (t->kind == T_NAME) {
    if (!is_keyword(t)) return true;
    return is_kw(p, "None") || is_kw(p, "True") || is_kw(p, "False") || is_kw(p, "not") ||
           is_kw(p, "lambda");
  }
  if (t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_STR) return true;
  return is_op(p, "(") || is_op(p, "[") || is_op(p, "{") || is_op(p, "-") || is_op(p, "+") ||
         is_op(p, "~");
}

static void no_comprehension(P *p) {
  if (is_kw(p, "for"))
    perr(p, p->tok.line, p->tok.col,
         "comprehensions are not supported in lamina scripts (no loops)");
}

/* (a, b) / [a, b] / {k: v}: called after the opening bracket */
static lms_node *parse_seq(P *p, lms_node_kind kind, const char *close, int line, int col) {
  lms_node *n = node(p, kind, line, col);
  vec v = {0};
  bool comma = false;
  while (!is_op(p, close)) {
    if (is_op(p, "*")) perr(p, p->tok.line, p->tok.col, "unpacking with '*' is not supported");
    if (is_op(p, "**")) perr(p, p->tok.line, p->tok.col, "unpacking with '**' is not supported");
    lms_node *e = parse_test(p);
    vpush(p, &v, e);
    if (kind == N_DICT) {
      if (!is_op(p, ":")) {
        if (is_op(p, ",") || is_op(p, "}"))
          perr(p, e->line, e->col, "set literals are not supported");
        unexpected(p, "':'");
      }
      lex(p);
      vpush(p, &v, parse_test(p));
    }
    no_comprehension(p);
    if (!is_op(p, ",")) break;
    comma = true;
    lex(p);
  }
  expect_op(p, close);
  if (kind == N_TUPLE && v.n == 1 && !comma) return v.v[0]; /* parenthesised expression */
  n->kids = v.v;
  n->n_kids = v.n;
  return n;
}

static lms_node *parse_atom(P *p) {
  lms_tok t = p->tok;
  if (t.kind == T_INT || t.kind == T_FLOAT) {
    lms_node *n = node(p, t.kind == T_INT ? N_INT : N_FLOAT, t.line, t.col);
    n->i = t.i;
    n->f = t.f;
    lex(p);
    return n;
  }
  if (t.kind == T_STR) {
    /* adjacent literals concatenate */
    lms_node *n = node(p, N_STR, t.line, t.col);
    n->str = t.s;
    n->slen = t.len;
    lex(p);
    while (p->tok.kind == T_STR) {
      char *s = lms_alloc(p->I, n->slen + p->tok.len + 1);
      memcpy(s, n->str, n->slen);
      memcpy(s + n->slen, p->tok.s, p->tok.len);
      n->str = s;
      n->slen += p->tok.len;
      lex(p);
    }
    return n;
  }
  if (t.kind == T_NAME) {
    if (is_kw(p, "None") || is_kw(p, "True") || is_kw(p, "False")) {
      lms_node *n = node(p, is_kw(p, "None") ? N_NONE : is_kw(p, "True") ? N_TRUE : N_FALSE,
                         t.line, t.col);
      lex(p);
      return n;
    }
    if (is_kw(p, "yield") || is_kw(p, "await"))
      perr(p, t.line, t.col, "'%.*s' is not supported in lamina scripts", (int)t.len, t.s);
    if (is_keyword(&t)) unexpected(p, NULL);
    lms_node *n = node(p, N_NAME, t.line, t.col);
    n->str = lms_strndup(p->I, t.s, t.len);
    lex(p);
    return n;
  }
  if (is_op(p, "(")) {
    lex(p);
    return parse_seq(p, N_TUPLE, ")", t.line, t.col);
  }
  if (is_op(p, "[")) {
    lex(p);
    return parse_seq(p, N_LIST, "]", t.line, t.col);
  }
  if (is_op(p, "{")) {
    lex(p);
    return parse_seq(p, N_DICT, "}", t.line, t.col);
  }
  if (is_op(p, "...")) perr(p, t.line, t.col, "'...' (Ellipsis) is not supported");
  unexpected(p, "an expression");
}

static lms_node *parse_call(P *p, lms_node *callee, int line, int col) {
  lms_node *n = node(p, N_CALL, line, col);
  n->a = callee;
  vec args = {0};
  const char **names = NULL;
  lms_node **kw_at = NULL;
  int cap = 0;
  bool seen_kw = false;
  while (!is_op(p, ")")) {
    if (is_op(p, "*") || is_op(p, "**"))
      perr(p, p->tok.line, p->tok.col, "argument unpacking with '%.*s' is not supported",
           (int)p->tok.len, p->tok.s);
    const char *kw = NULL;
    lms_tok save = p->tok;
    lms_node *e = parse_test(p);
    if (is_op(p, "=")) {
      if (e->kind != N_NAME) perr(p, save.line, save.col, "expression cannot be a keyword argument name");
      kw = e->str;
      lex(p);
      for (int i = 0; i < args.n; i++)
        if (names[i] && strcmp(names[i], kw) == 0)
          perr(p, save.line, save.col, "keyword argument repeated: %s", kw);
      e = parse_test(p);
      seen_kw = true;
    } else if (seen_kw) {
      perr(p, e->line, e->col, "positional argument follows keyword argument");
    }
    no_comprehension(p);
    if (args.n == cap) {
      int nc = cap ? cap * 2 : 4;
      const char **nn = lms_alloc(p->I, (size_t)nc * sizeof *nn);
      lms_node **nk = lms_alloc(p->I, (size_t)nc * sizeof *nk);
      if (args.n) {
        memcpy(nn, names, (size_t)args.n * sizeof *nn);
        memcpy(nk, kw_at, (size_t)args.n * sizeof *nk);
      }
      names = nn;
      kw_at = nk;
      cap = nc;
    }
    names[args.n] = kw;
    kw_at[args.n] = kw ? node(p, N_NAME, save.line, save.col) : NULL;
    vpush(p, &args, e);
    if (!is_op(p, ",")) break;
    lex(p);
  }
  expect_op(p, ")");
  n->kids = args.v;
  n->n_kids = args.n;
  n->names = names;
  n->n_names = args.n;
  n->kw_at = kw_at;
  return n;
}

static lms_node *parse_subscript_item(P *p) {
  lms_tok t = p->tok;
  lms_node *lo = NULL, *hi = NULL, *st = NULL;
  if (!is_op(p, ":")) {
    lo = parse_test(p);
    if (!is_op(p, ":")) return lo;
  }
  lex(p); /* ':' */
  if (!is_op(p, "]") && !is_op(p, ",") && !is_op(p, ":")) hi = parse_test(p);
  if (is_op(p, ":")) {
    lex(p);
    if (!is_op(p, "]") && !is_op(p, ",")) st = parse_test(p);
  }
  lms_node *n = node(p, N_SLICE, t.line, t.col);
  n->a = lo;
  n->b = hi;
  n->c = st;
  return n;
}

static lms_node *parse_primary(P *p) {
  int line = p->tok.line, col = p->tok.col; /* a call is reported at the start of its expression */
  lms_node *n = parse_atom(p);
  for (;;) {
    lms_tok t = p->tok;
    if (is_op(p, "(")) {
      lex(p);
      n = parse_call(p, n, line, col);
    } else if (is_op(p, "[")) {
      lex(p);
      lms_node *s = node(p, N_SUBSCRIPT, t.line, t.col);
      s->a = n;
      lms_node *item = parse_subscript_item(p);
      if (is_op(p, ",")) {
        lms_node *tup = node(p, N_TUPLE, item->line, item->col);
        vec v = {0};
        vpush(p, &v, item);
        while (is_op(p, ",")) {
          lex(p);
          if (is_op(p, "]")) break;
          vpush(p, &v, parse_subscript_item(p));
        }
        tup->kids = v.v;
        tup->n_kids = v.n;
        item = tup;
      }
      expect_op(p, "]");
      s->b = item;
      n = s;
    } else if (is_op(p, ".")) {
      lex(p);
      if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "an attribute name");
      lms_node *a = node(p, N_ATTR, p->tok.line, p->tok.col);
      a->a = n;
      a->str = lms_strndup(p->I, p->tok.s, p->tok.len);
      lex(p);
      n = a;
    } else {
      return n;
    }
  }
}

static lms_node *parse_factor(P *p);

static lms_node *parse_power(P *p) {
  lms_node *n = parse_primary(p);
  if (is_op(p, "**")) {
    lms_node *b = node(p, N_BINOP, n->line, n->col);
    lex(p);
    enter(p);
    b->op = OP_POW;
    b->a = n;
    b->b = parse_factor(p);
    p->nest--;
    return b;
  }
  return n;
}

static lms_node *parse_factor(P *p) {
  lms_tok t = p->tok;
  if (is_op(p, "-") || is_op(p, "+")) {
    lms_node *n = node(p, N_UNARY, t.line, t.col);
    n->op = is_op(p, "-") ? OP_NEG : OP_POS;
    lex(p);
    enter(p);
    n->a = parse_factor(p);
    p->nest--;
    return n;
  }
  if (is_op(p, "~")) perr(p, t.line, t.col, "bitwise operator '~' is not supported");
  return parse_power(p);
}

static lms_node *parse_term(P *p) {
  lms_node *n = parse_factor(p);
  for (;;) {
    int op = is_op(p, "*") ? OP_MUL : is_op(p, "/") ? OP_DIV : is_op(p, "//") ? OP_FLOORDIV
           : is_op(p, "%") ? OP_MOD : is_op(p, "@") ? OP_MATMUL : 0;
    if (!op) return n;
    lms_node *b = node(p, N_BINOP, p->tok.line, p->tok.col);
    lex(p);
    b->op = op;
    b->a = n;
    b->b = parse_factor(p);
    n = b;
  }
}

static lms_node *parse_arith(P *p) {
  lms_node *n = parse_term(p);
  for (;;) {
    int op = is_op(p, "+") ? OP_ADD : is_op(p, "-") ? OP_SUB : 0;
    if (!op) break;
    lms_node *b = node(p, N_BINOP, p->tok.line, p->tok.col);
    lex(p);
    b->op = op;
    b->a = n;
    b->b = parse_term(p);
    n = b;
  }
  if (is_op(p, "|") || is_op(p, "&") || is_op(p, "^") || is_op(p, "<<") || is_op(p, ">>"))
    perr(p, p->tok.line, p->tok.col, "bitwise operator '%.*s' is not supported",
         (int)p->tok.len, p->tok.s);
  return n;
}

static int cmp_op(P *p) {
  if (is_op(p, "==")) return OP_EQ;
  if (is_op(p, "!=")) return OP_NE;
  if (is_op(p, "<")) return OP_LT;
  if (is_op(p, "<=")) return OP_LE;
  if (is_op(p, ">")) return OP_GT;
  if (is_op(p, ">=")) return OP_GE;
  if (is_kw(p, "in")) return OP_IN;
  if (is_kw(p, "is")) return OP_IS;
  if (is_kw(p, "not")) return OP_NOTIN;
  return 0;
}

static lms_node *parse_comparison(P *p) {
  lms_node *first = parse_arith(p);
  int op = cmp_op(p);
  if (!op) return first;
  lms_node *n = node(p, N_CMP, first->line, first->col);
  vec v = {0};
  vpush(p, &v, first);
  int *ops = NULL, n_ops = 0, cap = 0;
  while ((op = cmp_op(p)) != 0) {
    lex(p);
    if (op == OP_NOTIN) {
      if (!is_kw(p, "in")) unexpected(p, "'in'");
      lex(p);
    } else if (op == OP_IS && is_kw(p, "not")) {
      op = OP_ISNOT;
      lex(p);
    }
    if (n_ops == cap) {
      int nc = cap ? cap * 2 : 4;
      int *no = lms_alloc(p->I, (size_t)nc * sizeof *no);
      if (n_ops) memcpy(no, ops, (size_t)n_ops * sizeof *no);
      ops = no;
      cap = nc;
    }
    ops[n_ops++] = op;
    vpush(p, &v, parse_arith(p));
  }
  n->kids = v.v;
  n->n_kids = v.n;
  n->ops = ops;
  return n;
}

static lms_node *parse_not(P *p) {
  if (is_kw(p, "not")) {
    lms_node *n = node(p, N_NOT, p->tok.line, p->tok.col);
    lex(p);
    enter(p);
    n->a = parse_not(p);
    p->nest--;
    return n;
  }
  return parse_comparison(p);
}

static lms_node *parse_and(P *p) {
  lms_node *n = parse_not(p);
  while (is_kw(p, "and")) {
    lms_node *b = node(p, N_AND, n->line, n->col);
    lex(p);
    b->a = n;
    b->b = parse_not(p);
    n = b;
  }
  return n;
}

static lms_node *parse_or(P *p) {
  lms_node *n = parse_and(p);
  while (is_kw(p, "or")) {
    lms_node *b = node(p, N_OR, n->line, n->col);
    lex(p);
    b->a = n;
    b->b = parse_and(p);
    n = b;
  }
  return n;
}

static lms_node *parse_lambda(P *p) {
  lms_node *n = node(p, N_LAMBDA, p->tok.line, p->tok.col);
  lex(p);
  const char **names = lms_alloc(p->I, 16 * sizeof *names);
  int k = 0;
  while (!is_op(p, ":")) {
    if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "a parameter name");
    if (k == 16) perr(p, p->tok.line, p->tok.col, "too many lambda parameters (16 at most)");
    names[k++] = lms_strndup(p->I, p->tok.s, p->tok.len);
    lex(p);
    if (is_op(p, "="))
      perr(p, p->tok.line, p->tok.col, "default parameter values are not supported");
    if (!is_op(p, ",")) break;
    lex(p);
  }
  expect_op(p, ":");
  n->names = names;
  n->n_names = k;
  n->a = parse_test(p);
  return n;
}

static lms_node *parse_test(P *p) {
  enter(p);
  lms_node *n;
  if (is_kw(p, "lambda")) {
    n = parse_lambda(p);
  } else {
    n = parse_or(p);
    if (is_kw(p, "if")) {
      lms_node *c = node(p, N_IFEXP, n->line, n->col);
      lex(p);
      c->a = n;
      c->b = parse_or(p);
      if (!is_kw(p, "else")) unexpected(p, "'else'");
      lex(p);
      c->c = parse_test(p);
      n = c;
    }
  }
  if (is_op(p, ":="))
    perr(p, p->tok.line, p->tok.col, "assignment expressions (':=') are not supported");
  p->nest--;
  return n;
}

/* a, b, c (a tuple without brackets) or a single expression */
static lms_node *parse_testlist(P *p) {
  lms_node *first = parse_test(p);
  if (!is_op(p, ",")) return first;
  lms_node *n = node(p, N_TUPLE, first->line, first->col);
  vec v = {0};
  vpush(p, &v, first);
  while (is_op(p, ",")) {
    lex(p);
    if (!starts_expr(p)) break;
    vpush(p, &v, parse_test(p));
  }
  n->kids = v.v;
  n->n_kids = v.n;
  return n;
}

static void check_target(P *p, lms_node *t) {
  switch (t->kind) {
  case N_NAME:
  case N_ATTR:
  case N_SUBSCRIPT: return;
  case N_TUPLE:
  case N_LIST:
    if (t->n_kids == 0) perr(p, t->line, t->col, "cannot assign to ()");
    for (int i = 0; i < t->n_kids; i++) check_target(p, t->kids[i]);
    return;
  case N_CALL: perr(p, t->line, t->col, "cannot assign to a function call");
  default: perr(p, t->line, t->col, "cannot assign to an expression");
  }
}

/* a.b.c: built in the arena, so an error inside lex() (which unwinds) leaks nothing */
static const char *dotted(P *p) {
  if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "a module name");
  char *s = lms_strndup(p->I, p->tok.s, p->tok.len);
  size_t n = p->tok.len;
  for (;;) {
    lex(p);
    if (!is_op(p, ".")) break;
    lex(p);
    if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "a module name");
    char *t = lms_alloc(p->I, n + p->tok.len + 2);
    memcpy(t, s, n);
    t[n] = '.';
    memcpy(t + n + 1, p->tok.s, p->tok.len);
    n += p->tok.len + 1;
    t[n] = 0;
    s = t;
  }
  return s;
}

static const char *opt_alias(P *p) {
  if (!is_kw(p, "as")) return NULL;
  lex(p);
  if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "a name after 'as'");
  const char *s = lms_strndup(p->I, p->tok.s, p->tok.len);
  lex(p);
  return s;
}

static void push_name(P *p, lms_node *n, int *cap, const char *a, const char *b) {
  if (n->n_names + 2 > *cap) {
    int nc = *cap ? *cap * 2 : 8;
    const char **nn = lms_alloc(p->I, (size_t)nc * sizeof *nn);
    if (n->n_names) memcpy(nn, n->names, (size_t)n->n_names * sizeof *nn);
    n->names = nn;
    *cap = nc;
  }
  n->names[n->n_names++] = a;
  n->names[n->n_names++] = b;
}

static lms_node *parse_import(P *p) {
  lms_node *n = node(p, N_IMPORT, p->tok.line, p->tok.col);
  lex(p);
  int cap = 0;
  for (;;) {
    const char *m = dotted(p);
    push_name(p, n, &cap, m, opt_alias(p));
    if (!is_op(p, ",")) break;
    lex(p);
  }
  return n;
}

static lms_node *parse_from(P *p) {
  lms_node *n = node(p, N_FROM, p->tok.line, p->tok.col);
  lex(p);
  if (is_op(p, ".")) perr(p, p->tok.line, p->tok.col, "relative imports are not supported");
  n->str = dotted(p);
  if (!is_kw(p, "import")) unexpected(p, "'import'");
  lex(p);
  if (is_op(p, "*"))
    perr(p, p->tok.line, p->tok.col,
         "'from %s import *' is not supported; import the names you use", n->str);
  bool paren = is_op(p, "(");
  if (paren) lex(p);
  int cap = 0;
  for (;;) {
    if (p->tok.kind != T_NAME || is_keyword(&p->tok)) unexpected(p, "a name to import");
    const char *name = lms_strndup(p->I, p->tok.s, p->tok.len);
    lex(p);
    push_name(p, n, &cap, name, opt_alias(p));
    if (!is_op(p, ",")) break;
    lex(p);
    if (paren && is_op(p, ")")) break;
  }
  if (paren) expect_op(p, ")");
  return n;
}

static void reject_block(P *p) {
  static const struct { const char *kw, *what; } blocks[] = {
      {"def", "function definitions ('def')"},
      {"class", "class definitions"},
      {"for", "'for' loops"},
      {"while", "'while' loops"},
      {"if", "'if' statements (the expression 'a if c else b' is)"},
      {"elif", "'elif' clauses"},
      {"else", "'else' clauses"},
      {"with", "'with' blocks"},
      {"try", "'try' blocks"},
      {"except", "'except' clauses"},
      {"finally", "'finally' clauses"},
      {"return", "'return' statements"},
      {"del", "'del' statements"},
      {"global", "'global' statements"},
      {"nonlocal", "'nonlocal' statements"},
      {"assert", "'assert' statements"},
      {"raise", "'raise' statements"},
      {"break", "'break' statements"},
      {"continue", "'continue' statements"},
      {"async", "'async' functions and blocks"},
      {"yield", "'yield' expressions"},
  };
  for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
    if (is_kw(p, blocks[i].kw))
      perr(p, p->tok.line, p->tok.col,
           "%s are not supported in lamina scripts (top-level statements only; see "
           "docs/scripts.md)",
           blocks[i].what);
  if (is_op(p, "@")) perr(p, p->tok.line, p->tok.col, "decorators are not supported in lamina scripts");
}

static lms_node *parse_simple(P *p) {
  reject_block(p);
  if (is_kw(p, "import")) return parse_import(p);
  if (is_kw(p, "from")) return parse_from(p);
  if (is_kw(p, "pass")) {
    lms_node *n = node(p, N_PASS, p->tok.line, p->tok.col);
    lex(p);
    return n;
  }
  if (!starts_expr(p)) unexpected(p, NULL);
  lms_node *e = parse_testlist(p);
  if (is_op(p, "=")) {
    lms_node *n = node(p, N_ASSIGN, e->line, e->col);
    vec targets = {0};
    while (is_op(p, "=")) {
      check_target(p, e);
      vpush(p, &targets, e);
      lex(p);
      if (is_kw(p, "yield")) perr(p, p->tok.line, p->tok.col, "'yield' is not supported");
      e = parse_testlist(p);
    }
    n->kids = targets.v;
    n->n_kids = targets.n;
    n->a = e;
    return n;
  }
  static const char *const aug[] = {"+=", "-=", "*=", "/=", "//=", "%=", "**=", NULL};
  static const int aug_op[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW};
  for (int i = 0; aug[i]; i++)
    if (is_op(p, aug[i])) {
      if (e->kind != N_NAME && e->kind != N_ATTR && e->kind != N_SUBSCRIPT)
        perr(p, e->line, e->col, "invalid target for augmented assignment");
      lms_node *n = node(p, N_AUGASSIGN, e->line, e->col);
      n->op = aug_op[i];
      lex(p);
      n->a = e;
      n->b = parse_testlist(p);
      return n;
    }
  if (p->tok.kind == T_OP && p->tok.len >= 2 && p->tok.s[p->tok.len - 1] == '=' &&
      !is_op(p, "==") && !is_op(p, "<=") && !is_op(p, ">=") && !is_op(p, "!="))
    perr(p, p->tok.line, p->tok.col, "operator '%.*s' is not supported", (int)p->tok.len,
         p->tok.s);
  if (is_op(p, ":"))
    perr(p, p->tok.line, p->tok.col, "variable annotations are not supported");
  lms_node *n = node(p, N_EXPR, e->line, e->col);
  n->a = e;
  return n;
}

void lms_parse(lms_interp *I, lms_program *prog) {
  P p = {.I = I, .s = I->src.text, .len = I->src.len, .line = 1, .col = 1, .bol = true};
  /* a NUL byte can only be a mistake (a binary file) */
  const char *nul = memchr(p.s, 0, p.len);
  if (nul) {
    int line = 1, col = 1;
    for (const char *c = p.s; c < nul; c++) {
      if (*c == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    perr(&p, line, col, "source contains a NUL byte (not a text file?)");
  }
  vec stmts = {0};
  lex(&p);
  for (;;) {
    while (p.tok.kind == T_NEWLINE || is_op(&p, ";")) lex(&p);
    if (p.tok.kind == T_EOF) break;
    for (;;) {
      vpush(&p, &stmts, parse_simple(&p));
      if (!is_op(&p, ";")) break;
      lex(&p);
      if (p.tok.kind == T_NEWLINE || p.tok.kind == T_EOF) break;
    }
    if (p.tok.kind != T_NEWLINE && p.tok.kind != T_EOF) {
      if (is_op(&p, ":"))
        perr(&p, p.tok.line, p.tok.col, "invalid syntax: unexpected ':'");
      if (is_op(&p, ")") || is_op(&p, "]") || is_op(&p, "}"))
        perr(&p, p.tok.line, p.tok.col, "unmatched '%.*s'", (int)p.tok.len, p.tok.s);
      unexpected(&p, "end of line");
    }
  }
  prog->stmts = stmts.v;
  prog->n = stmts.n;
}
