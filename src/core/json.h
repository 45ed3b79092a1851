/* A small JSON reader and writer (safetensors headers, saved architectures). */
#ifndef LM_JSON_H
#define LM_JSON_H

#include "core/core.h"

typedef enum lmj_type { LMJ_NULL, LMJ_BOOL, LMJ_NUM, LMJ_STR, LMJ_ARR, LMJ_OBJ } lmj_type;

typedef struct lmj_value {
  lmj_type type;
  bool b;
  double num;
  char *str;               /* LMJ_STR */
  int n;                   /* items in an array or object */
  struct lmj_value *items; /* LMJ_ARR, LMJ_OBJ values */
  char **keys;             /* LMJ_OBJ keys */
} lmj_value;

/* Parse len bytes. On error returns NULL with LM_ERR_FORMAT and a message
 * naming what (what = file name or "header") and the byte offset. */
lmj_value *lmj_parse(lm_ctx *ctx, const char *text, size_t len, const char *what);
void lmj_free(lm_ctx *ctx, lmj_value *v);
const lmj_value *lmj_get(const lmj_value *obj, const char *key); /* NULL if absent */
/* Conveniences with defaults when the key is absent or of another type. */
double lmj_get_num(const lmj_value *obj, const char *key, double dflt);
const char *lmj_get_str(const lmj_value *obj, const char *key, const char *dflt);
bool lmj_get_bool(const lmj_value *obj, const char *key, bool dflt);

/* Writer helpers: a JSON string literal with escapes, and a number that
 * reads back to the same float/double. */
void lmj_write_str(lm_buf *b, const char *s);
void lmj_write_num(lm_buf *b, double v);

#endif
