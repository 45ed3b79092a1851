/* .npy save/load, hand-made .npy images of every supported dtype and header
 * version, refusals, and .npz archives built here with zlib. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/npy.h"

#define TMP "test_npy_tmp.npy"
#define TMPZ "test_npy_tmp.npz"

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

/* An .npy image in out (malloc'd): version 1 or 2, the given dict text. */
static size_t make_npy(unsigned char **out, int version, const char *dict, const void *data,
                       size_t n_data) {
  char header[512];
  size_t pre = version == 1 ? 10 : 12;
  int hl = snprintf(header, sizeof header, "%s", dict);
  while ((pre + (size_t)hl + 1) % 64) header[hl++] = ' ';
  header[hl++] = '\n';
  unsigned char *b = malloc(pre + (size_t)hl + n_data + 1);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)version;
  b[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)((unsigned)hl >> (8 * i));
  memcpy(b + pre, header, (size_t)hl);
  if (n_data) memcpy(b + pre + hl, data, n_data);
  *out = b;
  return pre + (size_t)hl + n_data;
}

static lm_tensor *load_image(lm_ctx *ctx, int version, const char *dict, const void *data,
                             size_t n_data) {
  unsigned char *img;
  size_t len = make_npy(&img, version, dict, data, n_data);
  spit(TMP, img, len);
  free(img);
  return lm_tensor_load_npy(ctx, TMP);
}

static void test_save_load_round_trip(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  int64_t s2[2] = {2, 3}, s1[1] = {5}, s3[3] = {2, 0, 3};
  float v2[6] = {1, -2, 3.5f, 1e-30f, 1e30f, -0.0f};
  int32_t v1[5] = {INT32_MIN, -1, 0, 1, INT32_MAX};
  float sc = 7.25f;
  lm_tensor *ts[4] = {lm_tensor_from(ctx, LM_FLOAT32, 2, s2, v2),
                      lm_tensor_from(ctx, LM_INT32, 1, s1, v1),
                      lm_tensor_from(ctx, LM_FLOAT32, 0, NULL, &sc),
                      lm_tensor_new(ctx, LM_FLOAT32, 3, s3)};
  const char *dicts[4] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                          "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0, 3), }"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(lm_tensor_save_npy(ts[i], TMP), LM_OK);
    size_t len;
    unsigned char *bytes = slurp(TMP, &len);
    assert_memory_equal(bytes, "\x93NUMPY\x01\x00", 8);
    size_t hl = bytes[8] | (size_t)bytes[9] << 8;
    assert_int_equal((10 + hl) % 64, 0); /* numpy's alignment */
    assert_int_equal(bytes[10 + hl - 1], '\n');
    assert_memory_equal(bytes + 10, dicts[i], strlen(dicts[i]));
    assert_int_equal(len, 10 + hl + (size_t)lm_tensor_size(ts[i]) * 4);
    free(bytes);
    lm_tensor *r = lm_tensor_load_npy(ctx, TMP);
    assert_non_null(r);
    assert_int_equal(lm_tensor_dtype(r), lm_tensor_dtype(ts[i]));
    assert_int_equal(lm_tensor_ndim(r), lm_tensor_ndim(ts[i]));
    for (int d = 0; d < lm_tensor_ndim(r); d++)
      assert_int_equal(lm_tensor_dim(r, d), lm_tensor_dim(ts[i], d));
    assert_memory_equal(lm_tensor_data(r), lm_tensor_data(ts[i]),
                        (size_t)lm_tensor_size(r) * 4);
    lm_tensor_free(r);
  }
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void test_dtypes_converted(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  double f8[3] = {1.5, -2.25, 1e-3};
  lm_tensor *t = load_image(ctx, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                            f8, sizeof f8);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dtype(t), LM_FLOAT32);
  assert_true(lm_tensor_f32(t)[0] == 1.5f && lm_tensor_f32(t)[1] == -2.25f &&
              lm_tensor_f32(t)[2] == 1e-3f);

  int64_t i8[3] = {-5, 7, INT32_MAX};
  t = load_image(ctx, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }", i8,
                 sizeof i8);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dtype(t), LM_INT32);
  assert_int_equal(lm_tensor_dim(t, 0), 3);
  assert_int_equal(lm_tensor_i32(t)[0], -5);
  assert_int_equal(lm_tensor_i32(t)[2], INT32_MAX);

  unsigned char u1[4] = {0, 255, 128, 1};
  t = load_image(ctx, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u1, 4);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dtype(t), LM_FLOAT32);
  assert_true(lm_tensor_f32(t)[1] == 255.0f && lm_tensor_f32(t)[2] == 128.0f);
  t = load_image(ctx, 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (4,), }", u1, 4);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[3] == 1.0f);

  unsigned char b1[3] = {0, 1, 2};
  t = load_image(ctx, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b1, 3);
  assert_non_null(t);
  assert_int_equal(lm_tensor_dtype(t), LM_INT32);
  assert_int_equal(lm_tensor_i32(t)[0], 0);
  assert_int_equal(lm_tensor_i32(t)[2], 1);

  int32_t i4[2] = {11, -12};
  t = load_image(ctx, 2, "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2,)}", i4,
                 sizeof i4);
  assert_non_null(t);
  assert_int_equal(lm_tensor_i32(t)[1], -12);

  unsigned char be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x00, 0, 0}; /* 1.0f, -2.0f big-endian */
  t = load_image(ctx, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, 8);
  assert_non_null(t);
  assert_true(lm_tensor_f32(t)[0] == 1.0f && lm_tensor_f32(t)[1] == -2.0f);

  int16_t i2[2] = {-300, 300};
  t = load_image(ctx, 1, "{'shape': (2,), 'fortran_order': False, 'descr': '<i2'}", i2, 4);
  assert_non_null(t);
  assert_int_equal(lm_tensor_i32(t)[0], -300);

  /* a longer file than the data needs is fine, as for numpy */
  float extra[3] = {1, 2, 3};
  t = load_image(ctx, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", extra, 12);
  assert_non_null(t);
  unlink(TMP);
  lm_ctx_free(ctx);
}

static void expect_refused(int version, const char *dict, const void *data, size_t n,
                           const char *needle) {
  lm_ctx *ctx = tu_ctx();
  lm_tensor *t = load_image(ctx, version, dict, data, n);
  if (t) fail_msg("accepted %s", dict);
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  if (!strstr(lm_errmsg(ctx), needle) || !strstr(lm_errmsg(ctx), TMP))
    fail_msg("for %s: message '%s' lacks '%s' or the file", dict, lm_errmsg(ctx), needle);
  lm_ctx_free(ctx);
}

static void test_refusals(void **state) {
  (void)state;
  unsigned char data[64] = {0};
  int64_t big[1] = {(int64_t)1 << 31};
  expect_refused(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", big, 8,
                 "value 2147483648 at index 0 does not fit in int32");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data, 16,
                 "fortran_order=True");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 20,
                 "truncated: the shape needs 24 bytes of data, the file has 20");
  expect_refused(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data, 16,
                 "dtype '<c8' is not supported");
  expect_refused(1, "{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", data, 32,
                 "dtype '<U4' is not supported");
  expect_refused(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data,
                 8, "structured dtypes");
  expect_refused(1, "{'descr': '<f4', 'shape': (2,), }", data, 8, "lacks 'fortran_order'");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
                 data, 4, "'shape' is not a tuple");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data, 4,
                 "'shape' is not a tuple");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data, 8,
                 "unknown header key 'x'");
  expect_refused(1, "['descr']", data, 8, "not a Python dict");
  expect_refused(1, "{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,), }", data, 8,
                 "'fortran_order' is not True or False");

  lm_ctx *ctx = tu_ctx();
  spit(TMP, "PK\x03\x04 not npy", 12);
  assert_null(lm_tensor_load_npy(ctx, TMP));
  assert_non_null(strstr(lm_errmsg(ctx), "no \\x93NUMPY magic"));
  spit(TMP, "\x93NUMPY\x09\x00\x10\x00\x00\x00", 12);
  assert_null(lm_tensor_load_npy(ctx, TMP));
  assert_non_null(strstr(lm_errmsg(ctx), "version 9.0 is not supported"));
  spit(TMP, "\x93NUMPY\x01\x00\xff\x00{", 11);
  assert_null(lm_tensor_load_npy(ctx, TMP));
  assert_non_null(strstr(lm_errmsg(ctx), "truncated: the header needs 255 bytes"));
  unlink(TMP);
  assert_null(lm_tensor_load_npy(ctx, TMP));
  assert_int_equal(lm_errcode(ctx), LM_ERR_IO);
  assert_null(lm_tensor_load_npy(ctx, NULL));
  assert_int_equal(lm_errcode(ctx), LM_ERR_ARG);
  int64_t s[1] = {2};
  lm_tensor *t = lm_tensor_new(ctx, LM_FLOAT32, 1, s);
  assert_int_equal(lm_tensor_save_npy(t, "no/such/dir/a.npy"), LM_ERR_IO);
  assert_non_null(strstr(lm_errmsg(ctx), "no/such/dir/a.npy"));
  lm_ctx_free(ctx);
}

static void test_truncated_every_length(void **state) {
  (void)state;
  lm_ctx *ctx = tu_ctx();
  double f8[3] = {1, 2, 3};
  unsigned char *img;
  size_t len = make_npy(&img, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                        f8, sizeof f8);
  for (size_t n = 0; n < len; n++) {
    spit(TMP, img, n);
    assert_null(lm_tensor_load_npy(ctx, TMP));
    assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  }
  free(img);
  unlink(TMP);
  lm_ctx_free(ctx);
}

/* ---- a tiny zip writer for .npz fixtures ---- */

typedef struct zbuf {
  unsigned char *p;
  size_t n, cap;
} zbuf;

static void zput(zbuf *b, const void *d, size_t n) {
  if (n == 0) return;
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void z16(zbuf *b, unsigned v) {
  unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
  zput(b, c, 2);
}
static void z32(zbuf *b, uint32_t v) {
  z16(b, v & 0xffff);
  z16(b, v >> 16);
}

typedef struct zmember {
  const char *name;
  const unsigned char *data;
  size_t len;
  int method;     /* 0 stored, 8 deflate */
  bool zip64_ext; /* sizes 0xFFFFFFFF in the local header + zip64 extra, as np.savez writes */
} zmember;

static size_t deflate_raw(const unsigned char *in, size_t n, unsigned char **out) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&zs, (uLong)n);
  *out = malloc(cap);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = *out;
  zs.avail_out = (uInt)cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t m = zs.total_out;
  deflateEnd(&zs);
  return m;
}

static zbuf make_zip(int n, const zmember *ms) {
  zbuf z = {0}, cd = {0};
  for (int i = 0; i < n; i++) {
    const zmember *m = &ms[i];
    unsigned char *comp = NULL;
    size_t csize = m->method == 8 ? deflate_raw(m->data, m->len, &comp) : m->len;
    const unsigned char *payload = m->method == 8 ? comp : m->data;
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), m->data, (uInt)m->len);
    uint32_t offset = (uint32_t)z.n;
    size_t nl = strlen(m->name);
    z32(&z, 0x04034b50);
    z16(&z, m->zip64_ext ? 45 : 20);
    z16(&z, 0);
    z16(&z, (unsigned)m->method);
    z16(&z, 0);
    z16(&z, 0x21);
    z32(&z, crc);
    z32(&z, m->zip64_ext ? 0xFFFFFFFFu : (uint32_t)csize);
    z32(&z, m->zip64_ext ? 0xFFFFFFFFu : (uint32_t)m->len);
    z16(&z, (unsigned)nl);
    z16(&z, m->zip64_ext ? 20 : 0);
    zput(&z, m->name, nl);
    if (m->zip64_ext) {
      z16(&z, 1);
      z16(&z, 16);
      z32(&z, (uint32_t)m->len);
      z32(&z, 0);
      z32(&z, (uint32_t)csize);
      z32(&z, 0);
    }
    zput(&z, payload, csize);
    free(comp);

    z32(&cd, 0x02014b50);
    z16(&cd, 20);
    z16(&cd, 20);
    z16(&cd, 0);
    z16(&cd, (unsigned)m->method);
    z16(&cd, 0);
    z16(&cd, 0x21);
    z32(&cd, crc);
    z32(&cd, (uint32_t)csize);
    z32(&cd, (uint32_t)m->len);
    z16(&cd, (unsigned)nl);
    z16(&cd, 0);
    z16(&cd, 0);
    z16(&cd, 0);
    z16(&cd, 0);
    z32(&cd, 0);
    z32(&cd, offset);
    zput(&cd, m->name, nl);
  }
  uint32_t cd_off = (uint32_t)z.n;
  zput(&z, cd.p, cd.n);
  z32(&z, 0x06054b50);
  z16(&z, 0);
  z16(&z, 0);
  z16(&z, (unsigned)n);
  z16(&z, (unsigned)n);
  z32(&z, (uint32_t)cd.n);
  z32(&z, cd_off);
  z16(&z, 0);
  free(cd.p);
  return z;
}

static zbuf sample_npz(void) {
  unsigned char *img_a, *img_b;
  float a[6] = {1, 2, 3, 4, 5, 6};
  int32_t b[40];
  for (int i = 0; i < 40; i++) b[i] = i % 3;
  size_t la = make_npy(&img_a, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                       a, sizeof a);
  size_t lb = make_npy(&img_b, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (40,), }",
                       b, sizeof b);
  zmember ms[2] = {{"x_train.npy", img_a, la, 0, true}, {"arr_1.npy", img_b, lb, 8, false}};
  zbuf z = make_zip(2, ms);
  free(img_a);
  free(img_b);
  return z;
}

static void test_npz_load(void **state) {
  (void)state;
  zbuf z = sample_npz();
  spit(TMPZ, z.p, z.n);
  lm_ctx *ctx = tu_ctx();
  int n;
  char **names;
  lm_tensor **arrays;
  assert_int_equal(lm_npz_load(ctx, TMPZ, &n, &names, &arrays), LM_OK);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "x_train");
  assert_string_equal(names[1], "arr_1");
  assert_int_equal(lm_tensor_dtype(arrays[0]), LM_FLOAT32);
  assert_int_equal(lm_tensor_dim(arrays[0], 1), 3);
  assert_true(lm_tensor_f32(arrays[0])[5] == 6.0f);
  assert_int_equal(lm_tensor_dtype(arrays[1]), LM_INT32);
  assert_int_equal(lm_tensor_size(arrays[1]), 40);
  assert_int_equal(lm_tensor_i32(arrays[1])[38], 2);
  lm_npz_free(ctx, n, names, arrays);

  /* an empty archive */
  zbuf e = make_zip(0, NULL);
  spit(TMPZ, e.p, e.n);
  free(e.p);
  assert_int_equal(lm_npz_load(ctx, TMPZ, &n, &names, &arrays), LM_OK);
  assert_int_equal(n, 0);
  lm_npz_free(ctx, n, names, arrays);

  free(z.p);
  unlink(TMPZ);
  lm_ctx_free(ctx);
}

static void expect_npz_refused(const void *data, size_t len, const char *needle) {
  spit(TMPZ, data, len);
  lm_ctx *ctx = tu_ctx();
  int n = 5;
  char **names = (char **)1;
  lm_tensor **arrays = (lm_tensor **)1;
  assert_int_not_equal(lm_npz_load(ctx, TMPZ, &n, &names, &arrays), LM_OK);
  assert_int_equal(n, 0);
  assert_null(names);
  assert_null(arrays);
  assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  if (!strstr(lm_errmsg(ctx), needle) || !strstr(lm_errmsg(ctx), TMPZ))
    fail_msg("message '%s' lacks '%s' or the file", lm_errmsg(ctx), needle);
  lm_ctx_free(ctx);
}

static void test_npz_refusals(void **state) {
  (void)state;
  zbuf z = sample_npz();
  expect_npz_refused("hello", 5, "not a zip archive");
  expect_npz_refused("0123456789012345678901234567890", 30, "no end of central directory");

  /* a flipped byte in the stored member's data fails the CRC */
  unsigned char *bad = malloc(z.n);
  memcpy(bad, z.p, z.n);
  bad[30 + 11 + 20 + 128 + 6] ^= 1; /* local header, name, zip64 extra, npy header */
  expect_npz_refused(bad, z.n, "x_train.npy' fails its CRC check");

  /* a flipped byte in the deflated member: CRC or deflate error */
  memcpy(bad, z.p, z.n);
  size_t second = 4; /* start of the second local header */
  while (memcmp(bad + second, "PK\x03\x04", 4) != 0) second++;
  bad[second + 30 + 9 + 5] ^= 0x55;
  expect_npz_refused(bad, z.n, "arr_1.npy");
  free(bad);

  unsigned char img[16] = "not numpy at all";
  zmember notnpy[1] = {{"readme.txt", img, sizeof img, 0, false}};
  zbuf t = make_zip(1, notnpy);
  expect_npz_refused(t.p, t.n, "member 'readme.txt' is not a .npy array");
  free(t.p);
  zmember badnpy[1] = {{"a.npy", img, sizeof img, 8, false}};
  t = make_zip(1, badnpy);
  expect_npz_refused(t.p, t.n, "test_npy_tmp.npz:a.npy': not a .npy file");
  free(t.p);

  /* every truncation is refused, without reading out of bounds */
  lm_ctx *ctx = tu_ctx();
  for (size_t n = 0; n < z.n; n++) {
    spit(TMPZ, z.p, n);
    int cnt;
    char **names;
    lm_tensor **arrays;
    assert_int_not_equal(lm_npz_load(ctx, TMPZ, &cnt, &names, &arrays), LM_OK);
    assert_int_equal(lm_errcode(ctx), LM_ERR_FORMAT);
  }
  lm_ctx_free(ctx);
  free(z.p);
  unlink(TMPZ);
}

static void test_alloc_failure_sweep(void **state) {
  (void)state;
  zbuf z = sample_npz();
  spit(TMPZ, z.p, z.n);
  free(z.p);
  int stage = 0; /* 0: npz load, 1: npy save, 2: npy load */
  for (int n = 0; n < 10000 && stage < 3; n++) {
    tu_failalloc fa = {-1, 0, 0};
    lm_ctx *ctx = lm_ctx_new(tu_failalloc_fn, &fa);
    lm_ctx_set_log(ctx, NULL, NULL);
    int64_t s[2] = {3, 4};
    lm_tensor *t = lm_tensor_new(ctx, LM_INT32, 2, s);
    assert_non_null(t);
    fa.countdown = n;
    bool ok;
    if (stage == 0) {
      int cnt;
      char **names;
      lm_tensor **arrays;
      ok = lm_npz_load(ctx, TMPZ, &cnt, &names, &arrays) == LM_OK;
      if (ok) {
        assert_int_equal(cnt, 2);
        lm_npz_free(ctx, cnt, names, arrays);
      }
    } else if (stage == 1) {
      ok = lm_tensor_save_npy(t, TMP) == LM_OK;
    } else {
      lm_tensor *r = lm_tensor_load_npy(ctx, TMP);
      ok = r != NULL;
      lm_tensor_free(r);
    }
    if (ok) {
      stage++;
      n = -1;
    } else {
      assert_int_equal(lm_errcode(ctx), LM_ERR_NOMEM);
    }
    lm_ctx_free(ctx);
    assert_int_equal(fa.live, 0);
  }
  assert_int_equal(stage, 3);
  unlink(TMP);
  unlink(TMPZ);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_save_load_round_trip),
      cmocka_unit_test(test_dtypes_converted),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_truncated_every_length),
      cmocka_unit_test(test_npz_load),
      cmocka_unit_test(test_npz_refusals),
      cmocka_unit_test(test_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
