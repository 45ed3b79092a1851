/* Python's string formatting for int, float, bool and str values:
 * str.format's format-spec mini-language
 *     [[fill]align][sign][z][#][0][width][grouping][.precision][type]
 * (types b c d e E f F g G n o s x X %, and none) and printf-style
 * 'fmt' % args (flags - + space # 0, width, precision, * for either,
 * conversions d i u o x X e E f F g G c s r a %). The output follows
 * CPython 3.11 (tests/fixtures/format/ holds a table python3 printed). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/interp.h"

#define MAX_WIDTH 100000 /* wider fields are refused (CPython's limit is memory) */
#define MAX_PREC 400

typedef struct fspec {
  char fill[5]; /* fill character (UTF-8) */
  char align; /* '<' '>' '^' '=' or 0 (the type's default) */
  char sign;  /* '+' '-' ' ' or 0 */
  bool z, alt, zero;
  long width; /* -1: none */
  char group; /* ',' '_' or 0 */
  long prec;  /* -1: none */
  char type;  /* 0: none */
} fspec;

/* Parses a format spec; returns NULL or CPython's message for a bad one. */
static const char *parse_spec(const char *s, size_t n, fspec *f) {
  *f = (fspec){.fill = " ", .width = -1, .prec = -1};
  size_t i = 0;
  unsigned char c0 = n ? (unsigned char)s[0] : 0;
  size_t fl = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : c0 >= 0xC0 ? 2 : 1; /* the fill may be any character */
  if (n >= fl + 1 && s[fl] && strchr("<>=^", s[fl])) {
    memcpy(f->fill, s, fl);
    f->fill[fl] = 0;
    f->align = s[fl];
    i = fl + 1;
  } else if (n >= 1 && strchr("<>=^", s[0])) {
    f->align = s[0];
    i = 1;
  }
  if (i < n && strchr("+- ", s[i])) f->sign = s[i++];
  if (i < n && s[i] == 'z') {
    f->z = true;
    i++;
  }
  if (i < n && s[i] == '#') {
    f->alt = true;
    i++;
  }
  if (i < n && s[i] == '0') {
    f->zero = true;
    i++;
  }
  if (i < n && isdigit((unsigned char)s[i])) {
    f->width = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
      f->width = f->width * 10 + (s[i++] - '0');
      if (f->width > MAX_WIDTH) return "format width too big";
    }
  }
  if (i < n && (s[i] == ',' || s[i] == '_')) {
    f->group = s[i++];
    if (i < n && (s[i] == ',' || s[i] == '_')) return "Cannot specify both ',' and '_'.";
  }
  if (i < n && s[i] == '.') {
    i++;
    if (i >= n || !isdigit((unsigned char)s[i])) return "Format specifier missing precision";
    f->prec = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
      f->prec = f->prec * 10 + (s[i++] - '0');
      if (f->prec > MAX_PREC) return "format precision too big";
    }
  }
  if (i < n) f->type = s[i++];
  if (i < n) return "";
  return NULL;
}

/* The number's digits (no sign) with grouping inserted into the integer part
 * (the leading run of digits), zero-padded to at least min_len characters
 * when zero-fill applies. Writes to out (size outn). */
static void group_digits(const char *body, char sep, int every, long min_len, char *out, size_t outn) {
  size_t nd = 0;
  while (isdigit((unsigned char)body[nd]) || (every == 4 && isxdigit((unsigned char)body[nd]))) nd++;
  const char *rest = body + nd;
  char digits[1200];
  size_t k = nd < sizeof digits - 1 ? nd : sizeof digits - 1;
  memcpy(digits, body, k);
  digits[k] = 0;
  for (;;) {
    size_t d = strlen(digits);
    size_t grouped = sep ? d + (d - 1) / (size_t)every : d;
    if ((long)(grouped + strlen(rest)) >= min_len || d + 1 >= sizeof digits) break;
    memmove(digits + 1, digits, d + 1);
    digits[0] = '0';
  }
  size_t d = strlen(digits), o = 0;
  for (size_t j = 0; j < d && o + 2 < outn; j++) {
    out[o++] = digits[j];
    if (sep && (d - j - 1) % (size_t)every == 0 && j + 1 < d) out[o++] = sep;
  }
  for (size_t j = 0; rest[j] && o + 1 < outn; j++) out[o++] = rest[j];
  out[o] = 0;
}

/* Writes sign + prefix + body padded to the spec's width and alignment. */
static void emit(lm_buf *b, const fspec *f, char def_align, const char *sign, const char *prefix,
                 const char *body, bool numeric) {
  char align = f->align ? f->align : def_align;
  long len = (long)(strlen(sign) + strlen(prefix) + strlen(body));
  long pad = f->width > len ? f->width - len : 0;
  const char *fc = f->fill;
  if (align == '=' && numeric) {
    lm_buf_puts(b, sign);
    lm_buf_puts(b, prefix);
    for (long i = 0; i < pad; i++) lm_buf_puts(b, fc);
    lm_buf_puts(b, body);
    return;
  }
  long left = align == '>' || align == '=' ? pad : align == '^' ? pad / 2 : 0;
  for (long i = 0; i < left; i++) lm_buf_puts(b, fc);
  lm_buf_puts(b, sign);
  lm_buf_puts(b, prefix);
  lm_buf_puts(b, body);
  for (long i = left; i < pad; i++) lm_buf_puts(b, fc);
}

static const char *sign_of(const fspec *f, bool negative) {
  if (negative) return "-";
  return f->sign == '+' ? "+" : f->sign == ' ' ? " " : "";
}

/* An integer in base 2, 8, 10 or 16 (upper for X). */
static void format_int(lm_buf *b, const fspec *f, int64_t x, char type, long min_digits) {
  int base = type == 'b' ? 2 : type == 'o' ? 8 : type == 'x' || type == 'X' ? 16 : 10;
  uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
  char rev[80], digits[80];
  int n = 0;
  do {
    int d = (int)(u % (uint64_t)base);
    rev[n++] = (char)(d < 10 ? '0' + d : (type == 'X' ? 'A' : 'a') + d - 10);
    u /= (uint64_t)base;
  } while (u);
  while (n < min_digits && n < 70) rev[n++] = '0';
  for (int i = 0; i < n; i++) digits[i] = rev[n - 1 - i];
  digits[n] = 0;
  const char *prefix = "";
  if (f->alt) prefix = type == 'b' ? "0b" : type == 'o' ? "0o" : type == 'x' ? "0x" : type == 'X' ? "0X" : "";
  const char *sign = sign_of(f, x < 0);
  char body[400];
  bool zfill = strcmp(f->fill, "0") == 0 && (f->align == '=' || (!f->align && f->zero));
  long min_len = zfill && f->group ? f->width - (long)(strlen(sign) + strlen(prefix)) : 0;
  group_digits(digits, f->group, base == 10 ? 3 : 4, min_len, body, sizeof body);
  emit(b, f, '>', sign, prefix, body, true);
}


/* Removes the trailing zeros of the fraction (and a bare point) of s,
 * keeping any exponent. */
static void strip_zeros(char *s) {
  char *dot = strchr(s, '.');
  if (!dot) return;
  char *e = strchr(s, 'e');
  char exp[16] = "";
  if (e) {
    snprintf(exp, sizeof exp, "%s", e);
    *e = 0;
  }
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '0') s[--n] = 0;
  if (n > 0 && s[n - 1] == '.') s[--n] = 0;
  strcat(s, exp);
}

/* |x| in the float presentation type (e E f F g G % or 0 with or without
 * precision, 'r' for repr); no sign. */
static void float_body(double x, const fspec *f, char type, char *out, size_t outn) {
  bool upper = type == 'E' || type == 'F' || type == 'G';
  if (isnan(x) || isinf(x)) {
    snprintf(out, outn, "%s%s", isnan(x) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"),
             type == '%' ? "%" : "");
    return;
  }
  x = fabs(x);
  long p = f->prec;
  char fmt[32];
  switch (type) {
  case 'e':
  case 'E':
  case 'f':
  case 'F':
    snprintf(fmt, sizeof fmt, "%%%s.%ld%c", f->alt ? "#" : "", p < 0 ? 6 : p, type);
    snprintf(out, outn, fmt, x);
    return;
  case '%':
    snprintf(fmt, sizeof fmt, "%%%s.%ldf%%%%", f->alt ? "#" : "", p < 0 ? 6 : p);
    snprintf(out, outn, fmt, x * 100);
    return;
  case 'g':
  case 'G':
  case 'n':
    snprintf(fmt, sizeof fmt, "%%%s.%ld%c", f->alt ? "#" : "", p < 0 ? 6 : p, type == 'G' ? 'G' : 'g');
    snprintf(out, outn, fmt, x);
    return;
  default: break;
  }
  /* no type: without precision repr(x) (shortest round-trip digits, fixed
   * for 1e-4 <= x < 1e16); with one, 'g' plus ".0" when the result looks
   * like an integer (CPython: type 'r' / 'g' with Py_DTSF_ADD_DOT_0) */
  if (p < 0) {
    char t[64];
    int q = 0;
    for (; q < 17; q++) {
      snprintf(t, sizeof t, "%.*e", q, x);
      if (strtod(t, NULL) == x) break;
    }
    int ex = atoi(strchr(t, 'e') + 1);
    if (ex >= -4 && ex < 16) {
      int places = q - ex > 0 ? q - ex : 0;
      snprintf(out, outn, "%.*f%s", places, x, places == 0 ? ".0" : "");
    } else {
      snprintf(out, outn, "%s", t);
    }
    return;
  }
  /* CPython format_float_short, 'g' with add_dot_0: exponent notation when
   * exp < -4 or exp >= p - 1 (plain 'g': exp >= p) */
  if (p == 0) p = 1;
  char sci[1100];
  snprintf(sci, sizeof sci, "%.*e", (int)(p - 1), x);
  int exp = atoi(strchr(sci, 'e') + 1);
  if (exp >= -4 && exp < p - 1) {
    snprintf(out, outn, "%.*f", (int)(p - 1 - exp), x);
    if (!f->alt) strip_zeros(out);
    if (!strchr(out, '.')) strncat(out, ".0", outn - strlen(out) - 1);
  } else {
    snprintf(out, outn, "%s", sci);
    if (!f->alt) strip_zeros(out);
  }
}

static void format_float(lm_buf *b, const fspec *f, double x, char type) {
  char body[1200], grouped[1600];
  float_body(x, f, type, body, sizeof body);
  bool neg = !isnan(x) && signbit(x);
  if (neg && f->z && isfinite(x)) { /* 'z': a negative zero after rounding shows as zero */
    bool all_zero = true;
    for (const char *c = body; *c && *c != 'e' && *c != 'E' && *c != '%'; c++)
      if (isdigit((unsigned char)*c) && *c != '0') all_zero = false;
    if (all_zero) neg = false;
  }
  const char *sign = sign_of(f, neg);
  bool zfill = strcmp(f->fill, "0") == 0 && (f->align == '=' || (!f->align && f->zero));
  long min_len = zfill && f->group && isfinite(x) ? f->width - (long)strlen(sign) : 0;
  if (isfinite(x)) group_digits(body, f->group, 3, min_len, grouped, sizeof grouped);
  else snprintf(grouped, sizeof grouped, "%s", body);
  emit(b, f, '>', sign, "", grouped, true);
}

static void format_str(lm_buf *b, const fspec *f, const char *s) {
  size_t n = strlen(s);
  if (f->prec >= 0) { /* precision: the first characters (UTF-8 aware) */
    size_t bytes = 0;
    long chars = 0;
    while (bytes < n && chars < f->prec) {
      bytes++;
      while (bytes < n && ((unsigned char)s[bytes] & 0xC0) == 0x80) bytes++;
      chars++;
    }
    n = bytes;
  }
  long chars = 0;
  for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
  char align = f->align ? f->align : '<';
  long pad = f->width > chars ? f->width - chars : 0;
  long left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
  const char *fc = f->fill;
  for (long i = 0; i < left; i++) lm_buf_puts(b, fc);
  lm_buf_putn(b, s, n);
  for (long i = left; i < pad; i++) lm_buf_puts(b, fc);
}

void lms_format_value(lms_interp *I, lm_buf *b, lms_value *v, const char *spec, size_t n, const lms_node *at) {
  if (n == 0) { /* format(v, ''): str(v) */
    lms_to_str(I, b, v, false);
    return;
  }
  fspec f;
  const char *tn = lms_type_name(v);
  const char *err = parse_spec(spec, n, &f);
  if (err) {
    if (*err) lms_fail(I, at, "%s", err);
    lms_fail(I, at, "Invalid format specifier '%.*s' for object of type '%s'", (int)n, spec, tn);
  }
  if (f.zero && !f.align) { /* '0': zero padding after the sign */
    strcpy(f.fill, "0");
    if (v->kind != V_STR) f.align = '=';
  }
  if (v->kind == V_INT || v->kind == V_BOOL) {
    int64_t x = v->kind == V_INT ? v->u.i : v->u.b;
    if (f.type && strchr("eEfFgG%", f.type)) {
      format_float(b, &f, (double)x, f.type);
      return;
    }
    if (f.type && !strchr("bcdoxXn", f.type))
      lms_fail(I, at, "Unknown format code '%c' for object of type '%s'", f.type, "int");
    if (f.prec >= 0) lms_fail(I, at, "Precision not allowed in integer format specifier");
    if (f.group && f.type && strchr("cn", f.type)) lms_fail(I, at, "Cannot specify '%c' with '%c'.", f.group, f.type);
    if (f.group == ',' && f.type && strchr("boxX", f.type)) lms_fail(I, at, "Cannot specify ',' with '%c'.", f.type);
    if (f.type == 'c') {
      if (f.sign) lms_fail(I, at, "Sign not allowed with integer format specifier 'c'");
      if (f.alt) lms_fail(I, at, "Alternate form (#) not allowed with integer format specifier 'c'");
      if (x < 0 || x > 0x10FFFF) lms_fail(I, at, "%%c arg not in range(0x110000)");
      char u[8] = {0};
      if (x < 0x80) u[0] = (char)x;
      else if (x < 0x800) u[0] = (char)(0xC0 | (x >> 6)), u[1] = (char)(0x80 | (x & 0x3F));
      else if (x < 0x10000)
        u[0] = (char)(0xE0 | (x >> 12)), u[1] = (char)(0x80 | ((x >> 6) & 0x3F)), u[2] = (char)(0x80 | (x & 0x3F));
      else
        u[0] = (char)(0xF0 | (x >> 18)), u[1] = (char)(0x80 | ((x >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((x >> 6) & 0x3F)), u[3] = (char)(0x80 | (x & 0x3F));
      emit(b, &f, '>', "", "", u, false);
      return;
    }
    format_int(b, &f, x, f.type ? f.type : 'd', 0);
    return;
  }
  if (v->kind == V_FLOAT) {
    if (f.type && !strchr("eEfFgGn%", f.type))
      lms_fail(I, at, "Unknown format code '%c' for object of type '%s'", f.type, "float");
    if (f.group && f.type == 'n') lms_fail(I, at, "Cannot specify '%c' with 'n'.", f.group);
    format_float(b, &f, v->u.f, f.type);
    return;
  }
  if (v->kind == V_STR) {
    if (f.type && f.type != 's') lms_fail(I, at, "Unknown format code '%c' for object of type 'str'", f.type);
    if (f.sign) lms_fail(I, at, "Sign not allowed in string format specifier");
    if (f.alt) lms_fail(I, at, "Alternate form (#) not allowed in string format specifier");
    if (f.align == '=') lms_fail(I, at, "'=' alignment not allowed in string format specifier");
    if (f.group) lms_fail(I, at, "Cannot specify '%c' with 's'.", f.group);
    format_str(b, &f, v->u.str.s);
    return;
  }
  lms_fail(I, at, "unsupported format string passed to %s.__format__", tn);
}

/* ---- printf style ---------------------------------------------------------- */

lms_value *lms_percent_format(lms_interp *I, lms_value *fmt, lms_value *args, const lms_node *at) {
  lms_value **items = &args;
  int n = 1, used = 0;
  if (args->kind == V_TUPLE) {
    items = args->u.seq.items;
    n = args->u.seq.n;
  }
  lm_buf *b = lms_buf_open(I);
  const char *s = fmt->u.str.s, *e = s + fmt->u.str.len;
  while (s < e) {
    if (*s != '%') {
      const char *q = memchr(s, '%', (size_t)(e - s));
      size_t k = q ? (size_t)(q - s) : (size_t)(e - s);
      lm_buf_putn(b, s, k);
      s += k;
      continue;
    }
    s++;
    if (s < e && *s == '%') {
      lm_buf_puts(b, "%");
      s++;
      continue;
    }
    if (s < e && *s == '(') lms_fail(I, at, "'%%(name)' mapping keys in '%%' formatting are not supported");
    fspec f = {.fill = " ", .width = -1, .prec = -1, .align = '>'};
    bool left = false;
    for (; s < e && strchr("-+ #0", *s); s++) {
      if (*s == '-') left = true;
      else if (*s == '+') f.sign = '+';
      else if (*s == ' ' && f.sign != '+') f.sign = ' ';
      else if (*s == '#') f.alt = true;
      else f.zero = true;
    }
    if (s < e && *s == '*') {
      if (used >= n) lms_fail(I, at, "not enough arguments for format string");
      lms_value *w = items[used++];
      if (w->kind != V_INT && w->kind != V_BOOL) lms_fail(I, at, "* wants int");
      int64_t wv = w->kind == V_INT ? w->u.i : w->u.b;
      if (wv < 0) {
        left = true;
        wv = -wv;
      }
      if (wv > MAX_WIDTH) lms_fail(I, at, "format width too big");
      f.width = (long)wv;
      s++;
    } else if (s < e && isdigit((unsigned char)*s)) {
      f.width = 0;
      while (s < e && isdigit((unsigned char)*s)) {
        f.width = f.width * 10 + (*s++ - '0');
        if (f.width > MAX_WIDTH) lms_fail(I, at, "format width too big");
      }
    }
    if (s < e && *s == '.') {
      s++;
      f.prec = 0;
      if (s < e && *s == '*') {
        if (used >= n) lms_fail(I, at, "not enough arguments for format string");
        lms_value *p = items[used++];
        if (p->kind != V_INT && p->kind != V_BOOL) lms_fail(I, at, "* wants int");
        int64_t pv = p->kind == V_INT ? p->u.i : p->u.b;
        f.prec = pv < 0 ? 0 : pv > MAX_PREC ? MAX_PREC + 1 : (long)pv;
        s++;
      } else {
        while (s < e && isdigit((unsigned char)*s)) {
          f.prec = f.prec * 10 + (*s++ - '0');
          if (f.prec > MAX_PREC) break;
        }
      }
      if (f.prec > MAX_PREC) lms_fail(I, at, "format precision too big");
    }
    while (s < e && strchr("hlL", *s)) s++; /* length modifiers: ignored, as Python does */
    if (s >= e || !strchr("diuoxXeEfFgGcsra", *s)) lms_fail(I, at, "unsupported format character in '%%' formatting");
    char conv = *s++;
    if (used >= n) lms_fail(I, at, "not enough arguments for format string");
    lms_value *v = items[used++];
    if (left) f.align = '<';
    else if (f.zero && conv != 's' && conv != 'r' && conv != 'a' && conv != 'c') {
      strcpy(f.fill, "0");
      f.align = '=';
    }
    if (strchr("diu", conv)) {
      if (!lms_is_number(v)) lms_fail(I, at, "%%%c format: a real number is required, not %s", conv, lms_type_name(v));
      int64_t x;
      if (v->kind == V_FLOAT) {
        if (!isfinite(v->u.f)) lms_fail(I, at, "cannot convert float %s to integer", isnan(v->u.f) ? "NaN" : "infinity");
        if (fabs(v->u.f) >= 9.2e18) lms_fail(I, at, "integer overflow (lamina integers are 64-bit)");
        x = (int64_t)v->u.f;
      } else {
        x = v->kind == V_INT ? v->u.i : v->u.b;
      }
      format_int(b, &f, x, 'd', f.prec);
    } else if (strchr("oxX", conv)) {
      if (v->kind != V_INT && v->kind != V_BOOL)
        lms_fail(I, at, "%%%c format: an integer is required, not %s", conv, lms_type_name(v));
      format_int(b, &f, v->kind == V_INT ? v->u.i : v->u.b, conv, f.prec);
    } else if (strchr("eEfFgG", conv)) {
      if (!lms_is_number(v)) lms_fail(I, at, "must be real number, not %s", lms_type_name(v));
      if (f.prec < 0) f.prec = 6;
      format_float(b, &f, lms_num(v), conv);
    } else if (conv == 'c') {
      if (v->kind == V_STR) {
        size_t chars = 0;
        for (size_t i = 0; i < v->u.str.len; i++) chars += ((unsigned char)v->u.str.s[i] & 0xC0) != 0x80;
        if (chars != 1)
          lms_fail(I, at, "%%c requires an int or a unicode character, not a string of length %zu", chars);
        f.prec = -1;
        format_str(b, &f, v->u.str.s);
      } else if (v->kind == V_INT || v->kind == V_BOOL) {
        fspec g = f;
        g.type = 'c';
        g.sign = 0;
        g.alt = false;
        int64_t x = v->kind == V_INT ? v->u.i : v->u.b;
        if (x < 0 || x > 0x10FFFF) lms_fail(I, at, "%%c arg not in range(0x110000)");
        lms_value tmp = {.kind = V_INT, .u.i = x};
        char spec[40];
        int k = snprintf(spec, sizeof spec, "%c%ldc", g.align == '<' ? '<' : '>', g.width < 0 ? 0 : g.width);
        lms_format_value(I, b, &tmp, spec, (size_t)k, at);
      } else {
        lms_fail(I, at, "%%c requires an int or a unicode character, not %s", lms_type_name(v));
      }
    } else { /* s r a */
      lm_buf *t = lms_buf_open(I);
      lms_to_str(I, t, v, conv != 's');
      if (t->oom) {
        lms_buf_close(I, t);
        lms_fail_rt(I, at, "out of memory");
      }
      format_str(b, &f, t->data ? t->data : "");
      lms_buf_close(I, t);
    }
  }
  if (used < n && args->kind == V_TUPLE) lms_fail(I, at, "not all arguments converted during string formatting");
  if (used == 0 && args->kind != V_TUPLE && args->kind != V_DICT)
    lms_fail(I, at, "not all arguments converted during string formatting");
  return lms_buf_value(I, b, at);
}
