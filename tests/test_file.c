/* Whole-file reads (plain, gzip, multi-member gzip, corrupt gzip) and atomic writes. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"

#define TMP "test_file_tmp.bin"
#define TMPGZ "test_file_tmp.bin.gz"

static void test_atomic_write_and_read(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const void *parts[3] = {"hello ", "", "world"};
  size_t lens[3] = {6, 0, 5};
  assert_int_equal(lm_write_file_atomic(ctx, TMP, parts, lens, 3), LM_OK);
  char *data;
  size_t len;
  assert_int_equal(lm_read_file(ctx, TMP, &data, &len), LM_OK);
  assert_int_equal(len, 11);
  assert_string_equal(data, "hello world"); /* NUL-terminated, not counted */
  lm_dealloc(ctx, data);
  /* overwrite in place, nothing left behind */
  const void *p2[1] = {"x"};
  size_t l2[1] = {1};
  assert_int_equal(lm_write_file_atomic(ctx, TMP, p2, l2, 1), LM_OK);
  assert_int_equal(lm_read_file(ctx, TMP, &data, &len), LM_OK);
  assert_int_equal(len, 1);
  lm_dealloc(ctx, data);
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", TMP, (long)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0);
  /* an empty file */
  assert_int_equal(lm_write_file_atomic(ctx, TMP, NULL, NULL, 0), LM_OK);
  assert_int_equal(lm_read_file(ctx, TMP, &data, &len), LM_OK);
  assert_int_equal(len, 0);
  assert_int_equal(data[0], 0);
  lm_dealloc(ctx, data);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_write_failures(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  const void *parts[1] = {"abc"};
  size_t lens[1] = {3};
  assert_int_equal(lm_write_file_atomic(ctx, "no_such_dir/x.bin", parts, lens, 1), LM_ERR_IO);
  assert_string_equal(lm_errmsg(ctx), "cannot write 'no_such_dir/x.bin': No such file or directory");
  /* renaming over a directory fails after the data was written: the tmp file goes */
  assert_int_equal(mkdir("test_file_tmp_dir", 0755), 0);
  assert_int_equal(lm_write_file_atomic(ctx, "test_file_tmp_dir", parts, lens, 1), LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), "cannot write 'test_file_tmp_dir': "));
  char tmp[256];
  snprintf(tmp, sizeof tmp, "test_file_tmp_dir.tmp.%ld", (long)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0);
  /* reading a directory or a missing file is an I/O error naming it */
  char *data;
  size_t len;
  assert_int_equal(lm_read_file(ctx, "test_file_tmp_dir", &data, &len), LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), "test_file_tmp_dir"));
  assert_int_equal(rmdir("test_file_tmp_dir"), 0);
  assert_int_equal(lm_read_file(ctx, "no_such_file", &data, &len), LM_ERR_IO);
  assert_string_equal(lm_errmsg(ctx), "cannot open 'no_such_file': No such file or directory");
  assert_null(data);
  lm_ctx_free(ctx);
}

static void write_gz(const char *path, const char *text, const char *mode) {
  gzFile gz = gzopen(path, mode);
  assert_non_null(gz);
  gzputs(gz, text);
  assert_int_equal(gzclose(gz), Z_OK);
}

static void test_gzip(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  /* large enough to need the output buffer to grow past a wrong size hint */
  size_t n = 300000;
  char *text = malloc(n + 1);
  for (size_t i = 0; i < n; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
  text[n] = 0;
  write_gz(TMPGZ, text, "wb");
  write_gz(TMPGZ, "tail", "ab"); /* a second gzip member */
  char *data;
  size_t len;
  assert_int_equal(lm_read_file(ctx, TMPGZ, &data, &len), LM_OK);
  assert_int_equal(len, n + 4);
  assert_memory_equal(data, text, n);
  assert_string_equal(data + n, "tail");
  lm_dealloc(ctx, data);

  /* truncated and corrupt gzip data are refused */
  FILE *f = fopen(TMPGZ, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *raw = malloc((size_t)size);
  assert_int_equal(fread(raw, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  f = fopen(TMPGZ, "wb");
  fwrite(raw, 1, (size_t)size / 2, f);
  fclose(f);
  assert_int_equal(lm_read_file(ctx, TMPGZ, &data, &len), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), TMPGZ));
  raw[size / 3] ^= 0xff;
  raw[size / 3 + 1] ^= 0xff;
  f = fopen(TMPGZ, "wb");
  fwrite(raw, 1, (size_t)size, f);
  fclose(f);
  assert_int_equal(lm_read_file(ctx, TMPGZ, &data, &len), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), TMPGZ));
  free(raw);
  free(text);
  unlink(TMPGZ);
  lm_ctx_free(ctx);
}

static void test_alloc_failure_sweep(void **state) {
  (void)state;
  write_gz(TMPGZ, "some text that zlib will inflate for us", "wb");
  for (int which = 0; which < 2; which++) {
    bool done = false;
    for (int n = 0; n < 1000 && !done; n++) {
      tu_failalloc fa = {-1, 0, 0};
      lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
      lm_ctx_set_log(ctx, NULL, NULL);
      fa.countdown = n;
      lm_status st;
      if (which == 0) {
        const void *parts[1] = {"abc"};
        size_t lens[1] = {3};
        st = lm_write_file_atomic(ctx, TMP, parts, lens, 1);
      } else {
        char *data;
        size_t len;
        st = lm_read_file(ctx, TMPGZ, &data, &len);
        if (!st) lm_dealloc(ctx, data);
      }
      if (st == LM_OK)
        done = true;
      else
        assert_int_equal(st, LM_ERR_NOMEM);
      lm_ctx_free(ctx);
      assert_int_equal(fa.live, 0);
    }
    assert_true(done);
  }
  unlink(TMP);
  unlink(TMPGZ);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_atomic_write_and_read),
      cmocka_unit_test(test_write_failures),
      cmocka_unit_test(test_gzip),
      cmocka_unit_test(test_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
