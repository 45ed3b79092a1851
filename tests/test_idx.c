/* IDX reader (src/data/idx.c): synthetic headers of every element type,
 * malformed files, and the Fashion-MNIST test files from shared/data
 * (skipped when absent). */
#include "testutil.h"

#include <string.h>

#include "data/idx.h"

static void test_types(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const unsigned char u8[] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 253, 254, 255};
  lm_tensor *t = lmd_idx_parse(ctx, u8, sizeof u8, "u8", 0);
  assert_non_null(t);
  assert_int_equal(lm_tensor_ndim(t), 2);
  assert_int_equal(lm_tensor_dim(t, 0), 2);
  assert_int_equal(lm_tensor_dim(t, 1), 3);
  assert_true(lm_tensor_f32(t)[5] == 255.0f && lm_tensor_f32(t)[1] == 1.0f);
  lm_tensor_free(t);
  t = lmd_idx_parse(ctx, u8, sizeof u8, "u8", 1); /* first item only */
  assert_non_null(t);
  assert_int_equal(lm_tensor_size(t), 3);
  lm_tensor_free(t);
  const unsigned char i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x00};
  t = lmd_idx_parse(ctx, i16, sizeof i16, "i16", 0);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[0] == -2.0f && lm_tensor_f32(t)[1] == 256.0f);
  lm_tensor_free(t);
  const unsigned char f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0}; /* 1.5 */
  t = lmd_idx_parse(ctx, f32, sizeof f32, "f32", 0);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[0] == 1.5f);
  lm_tensor_free(t);
  const unsigned char i32[] = {0, 0, 0x0C, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFD};
  t = lmd_idx_parse(ctx, i32, sizeof i32, "i32", 0);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[0] == -3.0f);
  lm_tensor_free(t);
  lm_ctx_free(ctx);
}

static void test_malformed(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const unsigned char bad_magic[] = {1, 0, 0x08, 1, 0, 0, 0, 1, 7};
  assert_null(lmd_idx_parse(ctx, bad_magic, sizeof bad_magic, "a.idx", 0));
  assert_non_null(strstr(lm_errmsg(ctx), "a.idx: not an IDX file"));
  const unsigned char bad_type[] = {0, 0, 0x07, 1, 0, 0, 0, 1, 7};
  assert_null(lmd_idx_parse(ctx, bad_type, sizeof bad_type, "b.idx", 0));
  assert_non_null(strstr(lm_errmsg(ctx), "b.idx: unknown IDX element type 0x07"));
  const unsigned char short_hdr[] = {0, 0, 0x08, 3, 0, 0, 0, 1};
  assert_null(lmd_idx_parse(ctx, short_hdr, sizeof short_hdr, "c.idx", 0));
  assert_non_null(strstr(lm_errmsg(ctx), "c.idx: truncated IDX header"));
  const unsigned char short_data[] = {0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2};
  assert_null(lmd_idx_parse(ctx, short_data, sizeof short_data, "d.idx", 0));
  assert_non_null(strstr(lm_errmsg(ctx), "d.idx: truncated IDX data"));
  const unsigned char rank0[] = {0, 0, 0x08, 0};
  assert_null(lmd_idx_parse(ctx, rank0, sizeof rank0, "e.idx", 0));
  assert_null(lm_tensor_load_idx(ctx, "/nonexistent/x-idx1-ubyte.gz", 0));
  assert_non_null(strstr(lm_errmsg(ctx), "/nonexistent/x-idx1-ubyte.gz"));
  lm_ctx_free(ctx);
}

static void test_fashion_mnist(void **state) {
  (void)state;
  const char *labels = tu_shared("data/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  if (!labels) {
    print_message("shared/data/fashion-mnist absent: skipped\n");
    skip();
  }
  lm_ctx *ctx = tu_ctx();
  lm_tensor *y = lm_tensor_load_idx(ctx, labels, 0);
  assert_non_null(y);
  assert_int_equal(lm_tensor_ndim(y), 1);
  assert_int_equal(lm_tensor_dim(y, 0), 10000);
  const float first[5] = {9, 2, 1, 1, 6}; /* the official test set's first labels */
  for (int i = 0; i < 5; i++) assert_true(lm_tensor_f32(y)[i] == first[i]);
  int counts[10] = {0};
  for (int64_t i = 0; i < 10000; i++) counts[(int)lm_tensor_f32(y)[i]]++;
  for (int k = 0; k < 10; k++) assert_int_equal(counts[k], 1000);
  char images[4096];
  snprintf(images, sizeof images, "%s", tu_shared("data/fashion-mnist/t10k-images-idx3-ubyte.gz"));
  lm_tensor *x = lm_tensor_load_idx(ctx, images, 100);
  assert_non_null(x);
  assert_int_equal(lm_tensor_ndim(x), 3);
  assert_int_equal(lm_tensor_dim(x, 0), 100);
  assert_int_equal(lm_tensor_dim(x, 1), 28);
  assert_int_equal(lm_tensor_dim(x, 2), 28);
  float lo = 1e9f, hi = -1e9f;
  for (int64_t i = 0; i < lm_tensor_size(x); i++) {
    float v = lm_tensor_f32(x)[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  assert_true(lo == 0.0f && hi == 255.0f);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_fashion_mnist),
  };
  return cmocka_run_group_tests_name("idx", tests, NULL, NULL);
}
