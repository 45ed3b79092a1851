/* Numeric CSV loading: plain and gzip, headers, CRLF, quotes, blank
 * separators, errors with file:line:column, the digits data set. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/csv.h"

#define TMP "test_csv_tmp.csv"
#define TMPGZ "test_csv_tmp.csv.gz"

static void spit(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_digits_style_gz(void **state) {
  (void)state;
  /* 20 rows of 64 pixels 0..16 and a label, like sklearn's digits.csv.gz */
  gzFile gz = gzopen(TMPGZ, "wb");
  assert_non_null(gz);
  for (int r = 0; r < 20; r++) {
    for (int c = 0; c < 64; c++) gzprintf(gz, "%d,", (r * 7 + c * 3) % 17);
    gzprintf(gz, "%d\n", r % 10);
  }
  assert_int_equal(gzclose(gz), Z_OK);
  lm_ctx *ctx = tu_ctx();
  lm_tensor *t = lmd_load_csv(ctx, TMPGZ, ',', 0);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dtype(t), LM_FLOAT32);
  assert_int_equal(lm_tensor_ndim(t), 2);
  assert_int_equal(lm_tensor_dim(t, 0), 20);
  assert_int_equal(lm_tensor_dim(t, 1), 65);
  const float *v = lm_tensor_f32(t);
  for (int r = 0; r < 20; r++) {
    for (int c = 0; c < 64; c++) assert_true(v[r * 65 + c] == (float)((r * 7 + c * 3) % 17));
    assert_true(v[r * 65 + 64] == (float)(r % 10));
  }
  lm_tensor_free(t);
  unlink(TMPGZ);
  lm_ctx_free(ctx);
}

static void test_plain_variants(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  spit(TMP, "\xEF\xBB\xBFx,y,label\r\n1.5, -2e3 ,\"7\"\r\n\r\n  \n0,.25,1e-2\r\n");
  lm_tensor *t = lmd_load_csv(ctx, TMP, 0, 1);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dim(t, 0), 2);
  assert_int_equal(lm_tensor_dim(t, 1), 3);
  const float *v = lm_tensor_f32(t);
  float expect[6] = {1.5f, -2e3f, 7, 0, 0.25f, 1e-2f};
  for (int i = 0; i < 6; i++) assert_true(v[i] == expect[i]);

  spit(TMP, "1;2\n3;4");
  t = lmd_load_csv(ctx, TMP, ';', 0);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[3] == 4.0f);

  spit(TMP, "  1   2\t3 \n4 5  6\n");
  t = lmd_load_csv(ctx, TMP, ' ', 0);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dim(t, 0), 2);
  assert_int_equal(lm_tensor_dim(t, 1), 3);
  assert_true(lm_tensor_f32(t)[5] == 6.0f);

  spit(TMP, "5\n");
  t = lmd_load_csv(ctx, TMP, ',', 0);
  assert_non_null(t);
  assert_int_equal(lm_tensor_size(t), 1);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void expect_error(const char *text, char delim, int skip, lm_status code,
                         const char *message) {
  spit(TMP, text);
  lm_ctx *ctx = tu_ctx();
  assert_null(lmd_load_csv(ctx, TMP, delim, skip));
  assert_int_equal(lm_errcode(ctx), code);
  if (strcmp(lm_errmsg(ctx), message) != 0)
    fail_msg("for '%s'\n  got      %s\n  expected %s", text, lm_errmsg(ctx), message);
  lm_ctx_free(ctx);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("1,2,3\n4,abc,6\n", ',', 0, LM_ERR_FORMAT,
               TMP ":2:3: expected a number but found 'abc'");
  expect_error("h\n1,2,3\n4,5\n", ',', 1, LM_ERR_FORMAT,
               TMP ":3:4: row has 2 values, expected 3 (as in line 2)");
  expect_error("1,2\n3,4,5,6\n", ',', 0, LM_ERR_FORMAT,
               TMP ":2:5: row has 4 values, expected 2 (as in line 1)");
  expect_error("1,,2\n", ',', 0, LM_ERR_FORMAT, TMP ":1:3: empty value");
  expect_error("1,2,\n", ',', 0, LM_ERR_FORMAT, TMP ":1:5: empty value");
  expect_error("1,2x\n", ',', 0, LM_ERR_FORMAT, TMP ":1:3: expected a number but found '2x'");
  expect_error("1 2,3\n", ',', 0, LM_ERR_FORMAT, TMP ":1:1: expected a number but found '1 2'");
  expect_error("\"1,2\n", ',', 0, LM_ERR_FORMAT, TMP ":1:1: expected a number but found '\"1'");
  expect_error("a,b\n", ',', 1, LM_ERR_FORMAT, TMP ": no rows of data");
  expect_error("", ',', 0, LM_ERR_FORMAT, TMP ": no rows of data");
  expect_error("1\n", '.', 0, LM_ERR_ARG, "load_csv: the delimiter '.' can be part of a number");
  expect_error("1\n", ',', -1, LM_ERR_ARG, "load_csv: skip_rows is negative (-1)");
  lm_ctx *ctx = tu_ctx();
  assert_null(lmd_load_csv(ctx, "no_such_file.csv", ',', 0));
  assert_int_equal(lm_errcode(ctx), LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), "no_such_file.csv"));
  /* a .gz name on plain text is refused, not misread */
  spit(TMPGZ, "1,2\n");
  assert_null(lmd_load_csv(ctx, TMPGZ, ',', 0));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  unlink(TMPGZ);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_alloc_failure_sweep(void **state) {
  (void)state;
  gzFile gz = gzopen(TMPGZ, "wb");
  for (int r = 0; r < 300; r++) gzprintf(gz, "%d,%d,%d.5\n", r, -r, r * 2);
  gzclose(gz);
  bool done = false;
  for (int n = 0; n < 1000 && !done; n++) {
    tu_failalloc fa = {-1, 0, 0};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    lm_ctx_set_log(ctx, NULL, NULL);
    fa.countdown = n;
    lm_tensor *t = lmd_load_csv(ctx, TMPGZ, ',', 0);
    if (t) {
      done = true;
      assert_int_equal(lm_tensor_dim(t, 0), 300);
      assert_true(lm_tensor_f32(t)[3 * 299 + 2] == 598.5f);
    } else {
      assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
    }
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(done);
  unlink(TMPGZ);
}

static void test_digits_data_set(void **state) {
  (void)state;
  const char *path = tu_shared("data/digits/digits.csv.gz");
  if (!path) skip();
  lm_ctx *ctx = tu_ctx();
  lm_tensor *t = lmd_load_csv(ctx, path, ',', 0);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dim(t, 0), 1797);
  assert_int_equal(lm_tensor_dim(t, 1), 65);
  const float *v = lm_tensor_f32(t);
  float first[8] = {0, 0, 5, 13, 9, 1, 0, 0};
  for (int i = 0; i < 8; i++) assert_true(v[i] == first[i]);
  int counts[10] = {0};
  for (int r = 0; r < 1797; r++) {
    for (int c = 0; c < 64; c++) assert_true(v[r * 65 + c] >= 0 && v[r * 65 + c] <= 16);
    float label = v[r * 65 + 64];
    assert_true(label >= 0 && label <= 9 && label == (float)(int)label);
    counts[(int)label]++;
  }
  assert_int_equal(counts[0], 178);
  assert_int_equal(counts[9], 180);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digits_style_gz),
      cmocka_unit_test(test_plain_variants),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_alloc_failure_sweep),
      cmocka_unit_test(test_digits_data_set),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
