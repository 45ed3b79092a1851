/* safetensors: round trips, the exact byte layout, every corruption refused,
 * truncation at every length, F64/I64 conversion, allocation failures. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/safetensors.h"

#define TMP "test_safetensors_tmp.safetensors"

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* A file with the given header text (no padding added) and data. */
static void write_raw(const char *path, const char *header, const void *data, size_t n_data) {
  size_t hl = strlen(header);
  unsigned char *buf = malloc(8 + hl + n_data + 1);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, header, hl);
  if (n_data) memcpy(buf + 8 + hl, data, n_data);
  spit(path, buf, 8 + hl + n_data);
  free(buf);
}

static void test_round_trip(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t sa[2] = {2, 3}, sb[1] = {4}, sd[2] = {0, 5};
  float va[6] = {1, -2.5f, 3e-8f, 4e20f, 0, -0.0f};
  int32_t vb[4] = {-2147483647 - 1, -1, 0, 2147483647};
  float vc = 42.0f;
  lm_tensor *a = lm_tensor_from(ctx, LM_FLOAT32, 2, sa, va);
  lm_tensor *b = lm_tensor_from(ctx, LM_INT32, 1, sb, vb);
  lm_tensor *c = lm_tensor_from(ctx, LM_FLOAT32, 0, NULL, &vc);
  lm_tensor *d = lm_tensor_new(ctx, LM_FLOAT32, 2, sd);
  const char *names[4] = {"dense_1/kernel:0", "ids \"quoted\"\n", "scalar", "empty"};
  lm_tensor *ts[4] = {a, b, c, d};
  const char *mk[2] = {"format", "model_config"};
  const char *mv[2] = {"lamina", "{\"class_name\": \"Model\", \"x\": [1, 2]}\n\t\xC3\xA9"};
  assert_int_equal(lms_write(ctx, TMP, 4, names, ts, 2, mk, mv), LM_OK);

  lms_file *f = lms_read(ctx, TMP);
  assert_non_null(f);
  assert_int_equal(f->n, 4);
  for (int i = 0; i < 4; i++) assert_string_equal(f->names[i], names[i]);
  assert_int_equal(f->n_meta, 2);
  assert_string_equal(lms_meta(f, "format"), "lamina");
  assert_string_equal(lms_meta(f, "model_config"), mv[1]);
  assert_null(lms_meta(f, "nope"));

  lm_tensor *ra = lms_get(f, "dense_1/kernel:0");
  assert_non_null(ra);
  assert_int_equal(lm_tensor_dtype(ra), LM_FLOAT32);
  assert_int_equal(lm_tensor_ndim(ra), 2);
  assert_int_equal(lm_tensor_dim(ra, 0), 2);
  assert_int_equal(lm_tensor_dim(ra, 1), 3);
  assert_memory_equal(lm_tensor_data(ra), va, sizeof va);
  lm_tensor *rb = lms_get(f, names[1]);
  assert_int_equal(lm_tensor_dtype(rb), LM_INT32);
  assert_memory_equal(lm_tensor_data(rb), vb, sizeof vb);
  lm_tensor *rc = lms_get(f, "scalar");
  assert_int_equal(lm_tensor_ndim(rc), 0);
  assert_true(lm_tensor_f32(rc)[0] == 42.0f);
  lm_tensor *rd = lms_get(f, "empty");
  assert_int_equal(lm_tensor_size(rd), 0);
  assert_int_equal(lm_tensor_dim(rd, 1), 5);
  assert_null(lms_get(f, "missing"));
  lms_free(ctx, f);
  lms_free(ctx, NULL);

  /* no metadata, no tensors */
  assert_int_equal(lms_write(ctx, TMP, 0, NULL, NULL, 0, NULL, NULL), LM_OK);
  size_t len;
  unsigned char *bytes = slurp(TMP, &len);
  assert_int_equal(len, 16);
  assert_memory_equal(bytes, "\x08\0\0\0\0\0\0\0{}      ", 16);
  free(bytes);
  f = lms_read(ctx, TMP);
  assert_non_null(f);
  assert_int_equal(f->n, 0);
  assert_int_equal(f->n_meta, 0);
  lms_free(ctx, f);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_byte_layout(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t s1[1] = {2}, s2[2] = {1, 1};
  float v1[2] = {1.0f, 2.0f};
  int32_t v2[1] = {7};
  lm_tensor *t1 = lm_tensor_from(ctx, LM_FLOAT32, 1, s1, v1);
  lm_tensor *t2 = lm_tensor_from(ctx, LM_INT32, 2, s2, v2);
  const char *names[2] = {"w", "n"};
  lm_tensor *ts[2] = {t1, t2};
  const char *mk[1] = {"k"}, *mv[1] = {"v"};
  assert_int_equal(lms_write(ctx, TMP, 2, names, ts, 1, mk, mv), LM_OK);

  const char *header = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"n\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
  size_t hl = strlen(header), padded = (hl + 7) / 8 * 8;
  unsigned char expect[512];
  memset(expect, ' ', sizeof expect);
  for (int i = 0; i < 8; i++) expect[i] = (unsigned char)(padded >> (8 * i));
  memcpy(expect + 8, header, hl);
  memcpy(expect + 8 + padded, "\x00\x00\x80\x3f\x00\x00\x00\x40\x07\x00\x00\x00", 12);
  size_t len;
  unsigned char *bytes = slurp(TMP, &len);
  assert_int_equal(len, 8 + padded + 12);
  assert_int_equal(padded % 8, 0);
  assert_memory_equal(bytes, expect, len);
  free(bytes);
  /* no temporary file is left behind */
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", TMP, (long)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void expect_refused(const char *header, const void *data, size_t n_data,
                           const char *needle) {
  write_raw(TMP, header, data, n_data);
  lm_ctx *ctx = tu_ctx();
  lms_file *f = lms_read(ctx, TMP);
  if (f) fail_msg("accepted a corrupt file: %s", header);
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  const char *msg = lm_errmsg(ctx);
  if (!strstr(msg, TMP) || !strstr(msg, needle))
    fail_msg("for %s\n  message '%s'\n  lacks '%s' or the file name", header, msg, needle);
  lm_ctx_free(ctx);
}

static void test_corruption_refused(void **state) {
  (void)state;
  unsigned char data[64];
  for (int i = 0; i < 64; i++) data[i] = (unsigned char)i;
  /* fewer than 8 bytes */
  spit(TMP, "\x02\0\0", 3);
  lm_ctx *ctx = tu_ctx();
  assert_null(lms_read(ctx, TMP));
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), "shorter than the 8-byte header length"));
  /* header length beyond the file */
  spit(TMP, "\xff\0\0\0\0\0\0\0{}", 10);
  assert_null(lms_read(ctx, TMP));
  assert_non_null(strstr(lm_errmsg(ctx), "header length is 255 bytes"));
  spit(TMP, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
  assert_null(lms_read(ctx, TMP));
  assert_non_null(strstr(lm_errmsg(ctx), "header length"));
  /* a missing file is an I/O error */
  unlink(TMP);
  assert_null(lms_read(ctx, TMP));
  assert_int_equal(lm_errcode(ctx), LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), TMP));
  lm_ctx_free(ctx);

  expect_refused("{\"a\":", data, 0, "invalid JSON at byte 5");
  expect_refused("[]", data, 0, "not a JSON object");
  expect_refused("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", data, 4,
                 "dtype 'F16'");
  expect_refused("{\"a\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8,
                 "dtype 'Q9'");
  expect_refused("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8, "no \"dtype\"");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data, 8, "\"shape\"");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data, 8,
                 "non-negative integer");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", data, 8,
                 "non-negative integer");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
                 data, 8, "more than 8 dimensions");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                 "\"data_offsets\":[0,8]}}", data, 8, "too large");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data, 8, "data_offsets");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", data, 8,
                 "data_offsets");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data, 8,
                 "begin > end");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,100]}}", data, 8,
                 "past the end");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data, 8,
                 "do not match its shape");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 data, 12, "overlap");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                 data, 8, "overlap");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 12,
                 "bytes after tensor 'a'");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 12,
                 "bytes before tensor 'a'");
  expect_refused("{}", data, 4, "belong to no tensor");
  expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 data, 8, "names 'a' twice");
  expect_refused("{\"a\":[1]}", data, 0, "not described by an object");
  expect_refused("{\"__metadata__\":{\"epoch\":3}}", data, 0, "is not a string");
  expect_refused("{\"__metadata__\":[]}", data, 0, "not an object");
  expect_refused("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", data, 0, "duplicate");
  int64_t big[2] = {1, (int64_t)1 << 40};
  expect_refused("{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", big, 16,
                 "holds 1099511627776 at index 1, outside the int32 range");
  unlink(TMP);
}

static void test_f64_i64_accepted(void **state) {
  (void)state;
  double d[3] = {0.5, -1e10, 3.141592653589793};
  int64_t q[2] = {-2147483648LL, 2147483647LL};
  unsigned char data[40];
  memcpy(data, d, 24);
  memcpy(data + 24, q, 16);
  write_raw(TMP,
            "{\"q\":{\"dtype\":\"I64\",\"shape\":[2,1],\"data_offsets\":[24,40]},"
            "\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}}   ",
            data, 40);
  lm_ctx *ctx = tu_ctx();
  lms_file *f = lms_read(ctx, TMP);
  assert_non_null(f);
  assert_string_equal(f->names[0], "q");
  lm_tensor *td = lms_get(f, "d"), *tq = lms_get(f, "q");
  assert_int_equal(lm_tensor_dtype(td), LM_FLOAT32);
  assert_int_equal(lm_tensor_dtype(tq), LM_INT32);
  assert_true(lm_tensor_f32(td)[0] == 0.5f);
  assert_true(lm_tensor_f32(td)[1] == -1e10f);
  assert_true(lm_tensor_f32(td)[2] == 3.14159265f);
  assert_int_equal(lm_tensor_i32(tq)[0], INT32_MIN);
  assert_int_equal(lm_tensor_i32(tq)[1], INT32_MAX);
  lms_free(ctx, f);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_truncated_every_length(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t sa[2] = {3, 2}, sb[1] = {3};
  float va[6] = {1, 2, 3, 4, 5, 6};
  int32_t vb[3] = {7, 8, 9};
  lm_tensor *ts[2] = {lm_tensor_from(ctx, LM_FLOAT32, 2, sa, va),
                      lm_tensor_from(ctx, LM_INT32, 1, sb, vb)};
  const char *names[2] = {"a", "b"};
  const char *mk[1] = {"m"}, *mv[1] = {"x"};
  assert_int_equal(lms_write(ctx, TMP, 2, names, ts, 1, mk, mv), LM_OK);
  size_t len;
  unsigned char *full = slurp(TMP, &len);
  for (size_t n = 0; n < len; n++) {
    spit(TMP, full, n);
    lms_file *f = lms_read(ctx, TMP);
    if (f) fail_msg("accepted a file truncated to %zu of %zu bytes", n, len);
    assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
    assert_non_null(strstr(lm_errmsg(ctx), TMP));
  }
  /* and one extra byte is refused too */
  unsigned char *longer = malloc(len + 1);
  memcpy(longer, full, len);
  longer[len] = 0;
  spit(TMP, longer, len + 1);
  assert_null(lms_read(ctx, TMP));
  free(longer);
  spit(TMP, full, len);
  lms_file *f = lms_read(ctx, TMP);
  assert_non_null(f);
  lms_free(ctx, f);
  free(full);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_write_errors(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t s[1] = {1};
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, 1, s);
  lm_tensor *ts[2] = {t, t};
  const char *dup[2] = {"x", "x"};
  assert_int_equal(lms_write(ctx, TMP, 2, dup, ts, 0, NULL, NULL), LM_ERR_ARG);
  assert_non_null(strstr(lm_errmsg(ctx), "duplicate tensor name 'x'"));
  const char *meta[1] = {"__metadata__"};
  assert_int_equal(lms_write(ctx, TMP, 1, meta, ts, 0, NULL, NULL), LM_ERR_ARG);
  const char *mk[2] = {"k", "k"}, *mv[2] = {"1", "2"};
  assert_int_equal(lms_write(ctx, TMP, 1, dup, ts, 2, mk, mv), LM_ERR_ARG);
  assert_non_null(strstr(lm_errmsg(ctx), "duplicate metadata key 'k'"));
  assert_int_equal(lms_write(ctx, "no/such/dir/x.safetensors", 1, dup, ts, 0, NULL, NULL),
                   LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), "no/such/dir/x.safetensors"));
  assert_non_null(strstr(lm_errmsg(ctx), "No such file or directory"));
  lm_ctx_free(ctx);
}

/* Fail the n-th allocation of a write and of a read, for every n. */
static void test_alloc_failure_sweep(void **state) {
  (void)state;
  bool write_done = false, read_done = false;
  for (int n = 0; n < 10000 && !(write_done && read_done); n++) {
    tu_failalloc fa = {-1, 0, 0};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    assert_non_null(ctx);
    lm_ctx_set_log(ctx, NULL, NULL);
    int64_t sa[2] = {2, 2}, sb[1] = {3};
    lm_tensor *a = lm_tensor_new(ctx, LM_FLOAT32, 2, sa);
    lm_tensor *b = lm_tensor_new(ctx, LM_INT32, 1, sb);
    assert_non_null(a);
    assert_non_null(b);
    lm_tensor *ts[2] = {a, b};
    const char *names[2] = {"a", "b"};
    const char *mk[2] = {"k1", "k2"}, *mv[2] = {"v1", "v2"};
    fa.countdown = n;
    if (!write_done) {
      lm_status st = lms_write(ctx, TMP, 2, names, ts, 2, mk, mv);
      if (st == LM_OK) {
        write_done = true;
        assert_int_equal(fa.failed, 0);
      } else {
        assert_int_equal(st, LM_ERR_NOMEM);
      }
    } else {
      lms_file *f = lms_read(ctx, TMP);
      if (f) {
        read_done = true;
        assert_int_equal(f->n, 2);
        lms_free(ctx, f);
      } else {
        assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
      }
    }
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_true(write_done && read_done);
  unlink(TMP);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_byte_layout),
      cmocka_unit_test(test_corruption_refused),
      cmocka_unit_test(test_f64_i64_accepted),
      cmocka_unit_test(test_truncated_every_length),
      cmocka_unit_test(test_write_errors),
      cmocka_unit_test(test_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
