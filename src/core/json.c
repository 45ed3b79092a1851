/* A small JSON reader and writer: recursive descent with a depth limit.
 * Every byte of memory comes from the context, so allocation-failure sweeps
 * reach each path; a failed parse frees whatever it had built. */
#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than any header or architecture needs; stops stack exhaustion. */
#define LMJ_MAX_DEPTH 200

typedef struct lmj_parser {
  lm_ctx *ctx;
  const char *s;
  size_t len, pos;
  const char *what;
  int depth;
} lmj_parser;

static lm_status parse_value(lmj_parser *p, lmj_value *out);

/* Frees what v points to, not v itself. */
static void free_contents(lm_ctx *ctx, lmj_value *v) {
  lm_dealloc(ctx, v->str);
  for (int i = 0; i < v->n; i++) {
    free_contents(ctx, &v->items[i]);
    if (v->keys) lm_dealloc(ctx, v->keys[i]);
  }
  lm_dealloc(ctx, v->items);
  lm_dealloc(ctx, v->keys);
  memset(v, 0, sizeof *v);
}

void lmj_free(lm_ctx *ctx, lmj_value *v) {
  if (!v) return;
  free_contents(ctx, v);
  lm_dealloc(ctx, v);
}

static lm_status expected(lmj_parser *p, const char *what_expected) {
  return lm_fail(p->ctx, LM_ERR_FORMAT, "%s: invalid JSON at byte %zu: expected %s", p->what,
                 p->pos, what_expected);
}

static void skip_ws(lmj_parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static bool match_word(lmj_parser *p, const char *w) {
  size_t n = strlen(w);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) return false;
  p->pos += n;
  return true;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at p->pos; advances past them. */
static lm_status read_hex4(lmj_parser *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int d = p->pos < p->len ? hex_digit(p->s[p->pos]) : -1;
    if (d < 0) return expected(p, "four hex digits after \\u");
    v = v * 16 + (unsigned)d;
    p->pos++;
  }
  *out = v;
  return LM_OK;
}

static size_t utf8_encode(unsigned cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The code point of a \u escape (p->pos just past "\u"), joining surrogate pairs. */
static lm_status read_unicode_escape(lmj_parser *p, unsigned *cp) {
  unsigned hi;
  if (read_hex4(p, &hi)) return LM_ERR_FORMAT;
  if (hi >= 0xDC00 && hi <= 0xDFFF) {
    p->pos -= 4;
    return expected(p, "a high surrogate before a low surrogate");
  }
  if (hi >= 0xD800 && hi <= 0xDBFF) {
    unsigned lo;
    if (!match_word(p, "\\u")) return expected(p, "a \\u low surrogate after a high surrogate");
    if (read_hex4(p, &lo)) return LM_ERR_FORMAT;
    if (lo < 0xDC00 || lo > 0xDFFF) {
      p->pos -= 4;
      return expected(p, "a low surrogate (\\uDC00-\\uDFFF)");
    }
    hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (hi == 0) {
    p->pos -= 4;
    return expected(p, "a character other than \\u0000");
  }
  *cp = hi;
  return LM_OK;
}

/* A string at p->pos (on the opening quote) into a NUL-terminated copy. The
 * decoded text is never longer than the source, so one allocation suffices. */
static lm_status parse_string(lmj_parser *p, char **out) {
  if (p->pos >= p->len || p->s[p->pos] != '"') return expected(p, "'\"'");
  p->pos++;
  size_t end = p->pos;
  while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->len) {
    p->pos = p->len;
    return expected(p, "'\"' to close the string");
  }
  char *buf = lm_alloc(p->ctx, end - p->pos + 1);
  if (!buf) return LM_ERR_NOMEM;
  size_t k = 0;
  while (p->s[p->pos] != '"') {
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c < 0x20) {
      lm_dealloc(p->ctx, buf);
      return expected(p, "an escape instead of a control character in a string");
    }
    if (c != '\\') {
      buf[k++] = (char)c;
      p->pos++;
      continue;
    }
    p->pos++;
    char e = p->s[p->pos++];
    switch (e) {
      case '"': buf[k++] = '"'; break;
      case '\\': buf[k++] = '\\'; break;
      case '/': buf[k++] = '/'; break;
      case 'b': buf[k++] = '\b'; break;
      case 'f': buf[k++] = '\f'; break;
      case 'n': buf[k++] = '\n'; break;
      case 'r': buf[k++] = '\r'; break;
      case 't': buf[k++] = '\t'; break;
      case 'u': {
        unsigned cp = 0;
        if (read_unicode_escape(p, &cp)) {
          lm_dealloc(p->ctx, buf);
          return LM_ERR_FORMAT;
        }
        k += utf8_encode(cp, buf + k); /* at most 4 bytes for 6 (or 12) of source */
        break;
      }
      default:
        p->pos -= 2;
        lm_dealloc(p->ctx, buf);
        return expected(p, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    }
  }
  buf[k] = 0;
  p->pos++;
  *out = buf;
  return LM_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? checked strictly, converted by strtod. */
static lm_status parse_number(lmj_parser *p, double *out) {
  size_t start = p->pos, i = p->pos;
  const char *s = p->s;
  if (i < p->len && s[i] == '-') i++;
  if (i < p->len && s[i] == '0') {
    i++;
  } else if (i < p->len && is_digit(s[i])) {
    while (i < p->len && is_digit(s[i])) i++;
  } else {
    p->pos = i;
    return expected(p, "a digit");
  }
  if (i < p->len && s[i] == '.') {
    i++;
    if (i >= p->len || !is_digit(s[i])) {
      p->pos = i;
      return expected(p, "a digit after the decimal point");
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= p->len || !is_digit(s[i])) {
      p->pos = i;
      return expected(p, "a digit in the exponent");
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  size_t n = i - start;
  char small[64];
  char *tmp = small;
  if (n >= sizeof small) {
    tmp = lm_alloc(p->ctx, n + 1);
    if (!tmp) return LM_ERR_NOMEM;
  }
  memcpy(tmp, s + start, n);
  tmp[n] = 0;
  double v = strtod(tmp, NULL);
  if (tmp != small) lm_dealloc(p->ctx, tmp);
  if (!isfinite(v)) return expected(p, "a number within the range of a double");
  *out = v;
  p->pos = i;
  return LM_OK;
}

static lm_status parse_array(lmj_parser *p, lmj_value *out) {
  int cap = 0;
  out->type = LMJ_ARR;
  p->pos++; /* '[' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    return LM_OK;
  }
  for (;;) {
    if (lm_grow(p->ctx, (void **)&out->items, &cap, out->n + 1, sizeof *out->items))
      return LM_ERR_NOMEM;
    lm_status st = parse_value(p, &out->items[out->n]);
    if (st) return st; /* the failed item freed its own contents */
    out->n++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == ']') {
      p->pos++;
      return LM_OK;
    }
    return expected(p, "',' or ']'");
  }
}

/* keys and items grow together; keys[i] is set before items[i] counts. */
static lm_status parse_object(lmj_parser *p, lmj_value *out) {
  int cap_items = 0, cap_keys = 0;
  out->type = LMJ_OBJ;
  p->pos++; /* '{' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    return LM_OK;
  }
  for (;;) {
    if (lm_grow(p->ctx, (void **)&out->items, &cap_items, out->n + 1, sizeof *out->items) ||
        lm_grow(p->ctx, (void **)&out->keys, &cap_keys, out->n + 1, sizeof *out->keys))
      return LM_ERR_NOMEM;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"') return expected(p, "a string key");
    char *key;
    lm_status st = parse_string(p, &key);
    if (st) return st;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') {
      lm_dealloc(p->ctx, key);
      return expected(p, "':'");
    }
    p->pos++;
    st = parse_value(p, &out->items[out->n]);
    if (st) {
      lm_dealloc(p->ctx, key);
      return st;
    }
    out->keys[out->n++] = key;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == '}') {
      p->pos++;
      return LM_OK;
    }
    return expected(p, "',' or '}'");
  }
}

/* out is zeroed by the caller. On failure out's contents are freed and zeroed. */
static lm_status parse_value(lmj_parser *p, lmj_value *out) {
  skip_ws(p);
  if (p->pos >= p->len) return expected(p, "a value");
  lm_status st = LM_OK;
  char c = p->s[p->pos];
  switch (c) {
    case '{':
    case '[':
      if (p->depth >= LMJ_MAX_DEPTH) {
        lm_fail(p->ctx, LM_ERR_FORMAT,
                "%s: invalid JSON at byte %zu: expected nesting at most %d levels deep", p->what,
                p->pos, LMJ_MAX_DEPTH);
        return LM_ERR_FORMAT;
      }
      p->depth++;
      st = c == '{' ? parse_object(p, out) : parse_array(p, out);
      p->depth--;
      break;
    case '"':
      out->type = LMJ_STR;
      st = parse_string(p, &out->str);
      break;
    case 't':
    case 'f':
      out->type = LMJ_BOOL;
      out->b = c == 't';
      if (!match_word(p, c == 't' ? "true" : "false")) st = expected(p, "a value");
      break;
    case 'n':
      out->type = LMJ_NULL;
      if (!match_word(p, "null")) st = expected(p, "a value");
      break;
    default:
      out->type = LMJ_NUM;
      if (c == '-' || is_digit(c))
        st = parse_number(p, &out->num);
      else
        st = expected(p, "a value");
  }
  if (st) free_contents(p->ctx, out);
  return st;
}

lmj_value *lmj_parse(lm_ctx *ctx, const char *text, size_t len, const char *what) {
  lmj_parser p = {ctx, text, len, 0, what ? what : "JSON", 0};
  lmj_value *v = lm_alloc(ctx, sizeof *v);
  if (!v) return NULL;
  if (parse_value(&p, v)) {
    lm_dealloc(ctx, v);
    return NULL;
  }
  skip_ws(&p);
  if (p.pos != len) {
    expected(&p, "the end of the text");
    lmj_free(ctx, v);
    return NULL;
  }
  return v;
}

const lmj_value *lmj_get(const lmj_value *obj, const char *key) {
  if (!obj || obj->type != LMJ_OBJ || !key) return NULL;
  for (int i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

double lmj_get_num(const lmj_value *obj, const char *key, double dflt) {
  const lmj_value *v = lmj_get(obj, key);
  return v && v->type == LMJ_NUM ? v->num : dflt;
}

const char *lmj_get_str(const lmj_value *obj, const char *key, const char *dflt) {
  const lmj_value *v = lmj_get(obj, key);
  return v && v->type == LMJ_STR ? v->str : dflt;
}

bool lmj_get_bool(const lmj_value *obj, const char *key, bool dflt) {
  const lmj_value *v = lmj_get(obj, key);
  return v && v->type == LMJ_BOOL ? v->b : dflt;
}

/* ---- writer ---- */

void lmj_write_str(lm_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  lm_buf_putn(b, "\"", 1);
  const char *run = s; /* bytes that need no escape are copied in runs */
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    const char *esc = NULL;
    char u[7];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default:
        if (c < 0x20) {
          memcpy(u, "\\u00", 4);
          u[4] = hex[c >> 4];
          u[5] = hex[c & 15];
          u[6] = 0;
          esc = u;
        }
    }
    if (!esc) continue;
    lm_buf_putn(b, run, (size_t)(s - run));
    lm_buf_puts(b, esc);
    run = s + 1;
  }
  lm_buf_putn(b, run, (size_t)(s - run));
  lm_buf_putn(b, "\"", 1);
}

/* Integers print without an exponent or fraction. A value that is exactly a
 * float prints with the fewest digits (<= 9) that read back to that float, so a
 * learning rate of 0.001f stays "0.001"; any other double gets the fewest
 * digits (<= 17) that read back to the same double. JSON has no NaN or
 * infinity: those print as null. */
void lmj_write_num(lm_buf *b, double v) {
  char s[40];
  if (!isfinite(v)) {
    lm_buf_puts(b, "null");
    return;
  }
  if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* 2^53 */
    snprintf(s, sizeof s, "%.0f", v);
    lm_buf_puts(b, s);
    return;
  }
  bool is_float = fabs(v) <= 3.4028234663852886e38 && (double)(float)v == v;
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, v);
    double r = strtod(s, NULL);
    if (is_float ? (float)r == (float)v : r == v) break;
  }
  lm_buf_puts(b, s);
}
