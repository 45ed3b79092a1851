/* Numeric CSV reading into a float32 (rows, cols) tensor. */
#include "data/csv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_reader {
  lm_ctx *ctx;
  const char *path;
  char delim;
  bool ws_delim; /* delim ' ': runs of blanks separate values */
  const char *p, *end, *line_start;
  long line;
  float *vals;
  size_t n_vals, cap_vals;
} csv_reader;

static lm_status csv_bad(const csv_reader *r, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lm_status csv_bad(const csv_reader *r, const char *at, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lm_fail(r->ctx, LM_ERR_FORMAT, "%s:%ld:%ld: %s", r->path, r->line,
                 (long)(at - r->line_start) + 1, msg);
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_eol(const csv_reader *r, const char *p) {
  return p >= r->end || *p == '\n' || (*p == '\r' && (p + 1 >= r->end || p[1] == '\n'));
}
static void skip_blanks(csv_reader *r) {
  while (r->p < r->end && is_blank(*r->p)) r->p++;
}

static const char *next_line(const csv_reader *r, const char *p) {
  const char *nl = memchr(p, '\n', (size_t)(r->end - p));
  return nl ? nl + 1 : r->end;
}

static lm_status push(csv_reader *r, float v) {
  if (r->n_vals == r->cap_vals) {
    size_t cap = r->cap_vals ? r->cap_vals * 2 : 1024;
    if (cap > SIZE_MAX / sizeof(float)) return lm_fail(r->ctx, LM_ERR_NOMEM, "CSV too large");
    float *p = lm_realloc(r->ctx, r->vals, cap * sizeof *p);
    if (!p) return LM_ERR_NOMEM;
    r->vals = p;
    r->cap_vals = cap;
  }
  r->vals[r->n_vals++] = v;
  return LM_OK;
}

/* One value at r->p (blanks already skipped). */
static lm_status read_value(csv_reader *r) {
  const char *start = r->p;
  bool quoted = *r->p == '"';
  if (quoted) r->p++;
  if (is_eol(r, r->p) || *r->p == r->delim || is_blank(*r->p) || (quoted && *r->p == '"'))
    return csv_bad(r, start, "empty value");
  char *stop = (char *)r->p;
  double v = 0;
  if (!isspace((unsigned char)*r->p)) /* strtod would skip it, across lines too */
    v = strtod(r->p, &stop); /* the buffer is NUL-terminated; stops at delim or EOL */
  if (stop != r->p && quoted) {
    if (*stop == '"')
      stop++;
    else
      stop = (char *)r->p; /* unterminated quote: report the field */
  }
  const char *after = stop;
  while (after < r->end && is_blank(*after)) after++;
  if (stop == r->p || !(is_eol(r, after) || *after == r->delim || (r->ws_delim && after > stop))) {
    const char *e = start;
    while (!is_eol(r, e) && *e != r->delim && (!r->ws_delim || !is_blank(*e))) e++;
    int n = (int)(e - start > 40 ? 40 : e - start);
    return csv_bad(r, start, "expected a number but found '%.*s'", n, start);
  }
  r->p = stop;
  return push(r, (float)v);
}

/* Reads one non-blank line; *n_fields gets its count, *extra where the value
 * past expect starts (if any). */
static lm_status read_row(csv_reader *r, long expect, long *n_fields, const char **extra) {
  long n = 0;
  *extra = NULL;
  for (;;) {
    skip_blanks(r);
    if (r->ws_delim && is_eol(r, r->p)) break;
    if (n == expect && !*extra) *extra = r->p;
    lm_status st = read_value(r);
    if (st) return st;
    n++;
    skip_blanks(r);
    if (is_eol(r, r->p)) break;
    if (!r->ws_delim) r->p++; /* the delimiter */
  }
  *n_fields = n;
  return LM_OK;
}

static bool blank_line(const csv_reader *r, const char *p) {
  while (p < r->end && (is_blank(*p) || *p == '\r')) p++;
  return p >= r->end || *p == '\n';
}

static lm_status parse(csv_reader *r, int skip_rows, long *rows, long *cols) {
  long n_rows = 0, n_cols = -1, first_line = 0;
  for (; r->p < r->end; r->line++, r->p = next_line(r, r->p)) {
    r->line_start = r->p;
    if (r->line <= skip_rows || blank_line(r, r->p)) continue;
    long n;
    const char *extra;
    lm_status st = read_row(r, n_cols, &n, &extra);
    if (st) return st;
    if (n_cols < 0) {
      n_cols = n;
      first_line = r->line;
    } else if (n != n_cols) {
      return csv_bad(r, n > n_cols ? extra : r->p, "row has %ld values, expected %ld (as in line %ld)",
                     n, n_cols, first_line);
    }
    n_rows++;
  }
  if (n_rows == 0) return lm_fail(r->ctx, LM_ERR_FORMAT, "%s: no rows of data", r->path);
  *rows = n_rows;
  *cols = n_cols;
  return LM_OK;
}

lm_tensor *lmd_load_csv(lm_ctx *ctx, const char *path, char delim, int skip_rows) {
  if (!ctx) return NULL;
  if (!delim) delim = ',';
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "load_csv: no file name given");
    return NULL;
  }
  if (skip_rows < 0) {
    lm_fail(ctx, LM_ERR_ARG, "load_csv: skip_rows is negative (%d)", skip_rows);
    return NULL;
  }
  if (isalnum((unsigned char)delim) || strchr(".+-\"\r\n", delim)) {
    lm_fail(ctx, LM_ERR_ARG, "load_csv: the delimiter '%c' can be part of a number", delim);
    return NULL;
  }
  char *data;
  size_t len;
  if (lm_read_file(ctx, path, &data, &len)) return NULL;
  csv_reader r = {ctx, path, delim, delim == ' ', data, data + len, data, 1, NULL, 0, 0};
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) r.p += 3; /* UTF-8 byte order mark */
  long rows = 0, cols = 0;
  lm_tensor *t = NULL;
  if (!parse(&r, skip_rows, &rows, &cols)) {
    int64_t shape[2] = {rows, cols};
    t = lm_tensor_new(ctx, LM_FLOAT32, 2, shape);
    if (t) memcpy(t->data, r.vals, r.n_vals * sizeof(float));
  }
  lm_dealloc(ctx, r.vals);
  lm_dealloc(ctx, data);
  return t;
}
