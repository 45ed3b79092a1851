/* JSON reader and writer: values, escapes, nesting, error offsets, number
 * round trips, and an allocation-failure sweep. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static lmj_value *parse(lm_ctx *ctx, const char *text) {
  return lmj_parse(ctx, text, strlen(text), "header");
}

static void test_scalars(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lmj_value *v = parse(ctx, " 42 ");
  assert_non_null(v);
  assert_int_equal(v->type, LMJ_NUM);
  assert_true(v->num == 42.0);
  lmj_free(ctx, v);

  v = parse(ctx, "-1.5e-3");
  assert_non_null(v);
  assert_true(v->num == -1.5e-3);
  lmj_free(ctx, v);

  v = parse(ctx, "true");
  assert_int_equal(v->type, LMJ_BOOL);
  assert_true(v->b);
  lmj_free(ctx, v);
  v = parse(ctx, "false");
  assert_false(v->b);
  lmj_free(ctx, v);
  v = parse(ctx, "null");
  assert_int_equal(v->type, LMJ_NULL);
  lmj_free(ctx, v);
  v = parse(ctx, "\"hi\"");
  assert_int_equal(v->type, LMJ_STR);
  assert_string_equal(v->str, "hi");
  lmj_free(ctx, v);
  lm_ctx_free(ctx);
}

static void test_nesting_and_get(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const char *text = "{\"name\": \"dense_1\", \"units\": 64, \"use_bias\": true,\n"
                     " \"shape\": [null, 28, [1, 2, {}]], \"cfg\": {\"a\": {\"b\": []}}}";
  lmj_value *v = parse(ctx, text);
  assert_non_null(v);
  assert_int_equal(v->type, LMJ_OBJ);
  assert_int_equal(v->n, 5);
  assert_string_equal(v->keys[0], "name");
  assert_string_equal(lmj_get_str(v, "name", NULL), "dense_1");
  assert_true(lmj_get_num(v, "units", 0) == 64);
  assert_true(lmj_get_bool(v, "use_bias", false));
  assert_true(lmj_get_num(v, "missing", 7.5) == 7.5);
  assert_true(lmj_get_num(v, "name", -1) == -1); /* wrong type: default */
  assert_string_equal(lmj_get_str(v, "units", "d"), "d");
  assert_false(lmj_get_bool(v, "units", false));
  const lmj_value *shape = lmj_get(v, "shape");
  assert_non_null(shape);
  assert_int_equal(shape->type, LMJ_ARR);
  assert_int_equal(shape->n, 3);
  assert_int_equal(shape->items[0].type, LMJ_NULL);
  assert_int_equal(shape->items[2].n, 3);
  assert_int_equal(shape->items[2].items[2].type, LMJ_OBJ);
  assert_int_equal(shape->items[2].items[2].n, 0);
  const lmj_value *b = lmj_get(lmj_get(lmj_get(v, "cfg"), "a"), "b");
  assert_non_null(b);
  assert_int_equal(b->type, LMJ_ARR);
  assert_int_equal(b->n, 0);
  assert_null(lmj_get(shape, "x")); /* not an object */
  assert_null(lmj_get(NULL, "x"));
  lmj_free(ctx, v);
  lmj_free(ctx, NULL);
  lm_ctx_free(ctx);
}

static void test_string_escapes(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lmj_value *v = parse(ctx, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"");
  assert_non_null(v);
  assert_string_equal(v->str, "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  lmj_free(ctx, v);
  /* raw UTF-8 passes through */
  v = parse(ctx, "\"caf\xC3\xA9\"");
  assert_string_equal(v->str, "caf\xC3\xA9");
  lmj_free(ctx, v);
  lm_ctx_free(ctx);
}

static void expect_error(const char *text, const char *message) {
  lm_ctx *ctx = tu_ctx();
  lmj_value *v = parse(ctx, text);
  assert_null(v);
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  if (strcmp(lm_errmsg(ctx), message) != 0)
    fail_msg("for %s\n  got      %s\n  expected %s", text, lm_errmsg(ctx), message);
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("", "header: invalid JSON at byte 0: expected a value");
  expect_error("[1, 2", "header: invalid JSON at byte 5: expected ',' or ']'");
  expect_error("[1 2]", "header: invalid JSON at byte 3: expected ',' or ']'");
  expect_error("{\"a\" 1}", "header: invalid JSON at byte 5: expected ':'");
  expect_error("{\"a\": 1,}", "header: invalid JSON at byte 8: expected a string key");
  expect_error("{1: 2}", "header: invalid JSON at byte 1: expected a string key");
  expect_error("{\"a\": 1 \"b\": 2}", "header: invalid JSON at byte 8: expected ',' or '}'");
  expect_error("[1,]", "header: invalid JSON at byte 3: expected a value");
  expect_error("tru", "header: invalid JSON at byte 0: expected a value");
  expect_error("nul", "header: invalid JSON at byte 0: expected a value");
  expect_error("01", "header: invalid JSON at byte 1: expected the end of the text");
  expect_error("1.", "header: invalid JSON at byte 2: expected a digit after the decimal point");
  expect_error("1e+", "header: invalid JSON at byte 3: expected a digit in the exponent");
  expect_error("-", "header: invalid JSON at byte 1: expected a digit");
  expect_error("+1", "header: invalid JSON at byte 0: expected a value");
  expect_error("1e999", "header: invalid JSON at byte 0: expected a number within the range of a double");
  expect_error("\"abc", "header: invalid JSON at byte 4: expected '\"' to close the string");
  expect_error("\"a\\qb\"", "header: invalid JSON at byte 2: expected a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
  expect_error("\"a\nb\"", "header: invalid JSON at byte 2: expected an escape instead of a control character in a string");
  expect_error("\"\\u12G4\"", "header: invalid JSON at byte 5: expected four hex digits after \\u");
  expect_error("\"\\ud83d\"", "header: invalid JSON at byte 7: expected a \\u low surrogate after a high surrogate");
  expect_error("\"\\ud83d\\u0041\"", "header: invalid JSON at byte 9: expected a low surrogate (\\uDC00-\\uDFFF)");
  expect_error("\"\\ude00\"", "header: invalid JSON at byte 3: expected a high surrogate before a low surrogate");
  expect_error("\"\\u0000\"", "header: invalid JSON at byte 3: expected a character other than \\u0000");
  expect_error("{} x", "header: invalid JSON at byte 3: expected the end of the text");
  expect_error("NaN", "header: invalid JSON at byte 0: expected a value");
}

static void test_error_names_what(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  assert_null(lmj_parse(ctx, "[", 1, "model.safetensors"));
  assert_string_equal(lm_errmsg(ctx),
                      "model.safetensors: invalid JSON at byte 1: expected a value");
  /* len is honoured: the text need not be NUL-terminated */
  lmj_value *v = lmj_parse(ctx, "[1]garbage", 3, "x");
  assert_non_null(v);
  assert_int_equal(v->n, 1);
  lmj_free(ctx, v);
  lm_ctx_free(ctx);
}

static void test_depth_limit(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  char text[2001];
  for (int i = 0; i < 1000; i++) {
    text[i] = '[';
    text[1999 - i] = ']';
  }
  text[2000] = 0;
  assert_null(parse(ctx, text));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), "levels deep"));
  /* 100 levels are fine */
  memset(text, 0, sizeof text);
  for (int i = 0; i < 100; i++) {
    text[i] = '[';
    text[199 - i] = ']';
  }
  lmj_value *v = parse(ctx, text);
  assert_non_null(v);
  lmj_free(ctx, v);
  lm_ctx_free(ctx);
}

static char *write_str(lm_ctx *ctx, const char *s) {
  lm_buf b;
  lm_buf_init(&b, ctx);
  lmj_write_str(&b, s);
  assert_false(b.oom);
  return b.data;
}

static void test_write_str(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  char *out = write_str(ctx, "a\"b\\c\n\t\x01/\xC3\xA9");
  assert_string_equal(out, "\"a\\\"b\\\\c\\n\\t\\u0001/\xC3\xA9\"");
  lm_dealloc(ctx, out);
  out = write_str(ctx, "");
  assert_string_equal(out, "\"\"");
  lm_dealloc(ctx, out);

  /* every byte 1..255 survives a round trip */
  char all[256];
  for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
  all[255] = 0;
  out = write_str(ctx, all);
  lmj_value *v = parse(ctx, out);
  assert_non_null(v);
  assert_string_equal(v->str, all);
  lmj_free(ctx, v);
  lm_dealloc(ctx, out);
  lm_ctx_free(ctx);
}

static char *num_text(lm_ctx *ctx, double x) {
  lm_buf b;
  lm_buf_init(&b, ctx);
  lmj_write_num(&b, x);
  return b.data;
}

static void check_num(lm_ctx *ctx, double x, const char *expect) {
  char *s = num_text(ctx, x);
  assert_string_equal(s, expect);
  lm_dealloc(ctx, s);
}

static void test_write_num(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  check_num(ctx, 0, "0");
  check_num(ctx, 3, "3");
  check_num(ctx, -42, "-42");
  check_num(ctx, 1e15, "1000000000000000");
  check_num(ctx, 9007199254740991.0, "9007199254740991");
  check_num(ctx, 0.5, "0.5");
  check_num(ctx, 0.1, "0.1");
  check_num(ctx, (double)0.001f, "0.001"); /* a float keeps its short form */
  check_num(ctx, (double)0.1f, "0.1");
  check_num(ctx, (double)1e-7f, "1e-07");
  check_num(ctx, 1.0 / 3.0, "0.3333333333333333");
  check_num(ctx, 1e300, "1e+300");
  check_num(ctx, NAN, "null");
  check_num(ctx, INFINITY, "null");

  /* random doubles and floats read back exactly */
  uint64_t rng[4];
  lm_rng_seed(rng, 99);
  for (int i = 0; i < 2000; i++) {
    double d = (lm_rng_uniform(rng) - 0.5) * pow(10, (int)(lm_rng_uniform(rng) * 40) - 20);
    float f = (float)d;
    char *s = num_text(ctx, d);
    assert_true(strtod(s, NULL) == d);
    lm_dealloc(ctx, s);
    s = num_text(ctx, f);
    assert_true((float)strtod(s, NULL) == f);
    assert_true(strlen(s) <= 22); /* 9 digits, sign, point, exponent; or a whole number */
    lmj_value *v = parse(ctx, s);
    assert_non_null(v);
    assert_true((float)v->num == f);
    lmj_free(ctx, v);
    lm_dealloc(ctx, s);
  }
  lm_ctx_free(ctx);
}

static void test_write_then_parse_document(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_buf_puts(&b, "{");
  lmj_write_str(&b, "lr");
  lm_buf_puts(&b, ":");
  lmj_write_num(&b, (double)0.01f);
  lm_buf_puts(&b, ",");
  lmj_write_str(&b, "name\"q");
  lm_buf_puts(&b, ":");
  lmj_write_str(&b, "line1\nline2");
  lm_buf_puts(&b, "}");
  assert_string_equal(b.data, "{\"lr\":0.01,\"name\\\"q\":\"line1\\nline2\"}");
  lmj_value *v = parse(ctx, b.data);
  assert_non_null(v);
  assert_true((float)lmj_get_num(v, "lr", 0) == 0.01f);
  assert_string_equal(lmj_get_str(v, "name\"q", ""), "line1\nline2");
  lmj_free(ctx, v);
  lm_buf_free(&b);
  lm_ctx_free(ctx);
}

static void test_alloc_failure_sweep(void **state) {
  (void)state;
  const char *text = "{\"__metadata__\": {\"format\": \"pt\", \"long\": \"" 
                     "0123456789012345678901234567890123456789012345678901234567890123456789\"},"
                     " \"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
                     " \"list\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, [\"x\", {\"y\": null}]],"
                     " \"big\": 1234567890123456789012345678901234567890123456789012345678901234567890.5}";
  bool done = false;
  int n;
  for (n = 0; !done && n < 10000; n++) {
    tu_failalloc fa = {-1, 0, 0};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    assert_non_null(ctx);
    lm_ctx_set_log(ctx, NULL, NULL);
    fa.countdown = n;
    lmj_value *v = parse(ctx, text);
    if (v) {
      done = true;
      assert_int_equal(fa.failed, 0);
      assert_string_equal(lmj_get_str(lmj_get(v, "__metadata__"), "format", ""), "pt");
      lmj_free(ctx, v);
    } else {
      assert_int_equal(fa.failed, 1);
      assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
    }
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(done);
  assert_true(n > 20); /* the sweep did reach many allocations */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_nesting_and_get),
      cmocka_unit_test(test_string_escapes),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_error_names_what),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_write_str),
      cmocka_unit_test(test_write_num),
      cmocka_unit_test(test_write_then_parse_document),
      cmocka_unit_test(test_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
