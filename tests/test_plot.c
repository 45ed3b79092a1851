#define _DEFAULT_SOURCE
/* `lamina plot`: a CSVLogger file becomes a valid PNG (signature, chunk CRCs,
 * IHDR size, IDAT inflating to the raw rows); bad CSVs give clear errors. */
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"
#include "plot/plot.h"

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_png_from_csv(void **state) {
  lm_ctx *ctx = tu_ctx();
  char dir[] = "/tmp/lamina_plot_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char csv[64], png[64];
  snprintf(csv, sizeof csv, "%s/log.csv", dir);
  snprintf(png, sizeof png, "%s/c.png", dir);
  write_text(csv, "epoch,acc,loss,val_acc,val_loss\r\n0,0.5,0.9,0.55,0.8\r\n1,0.7,0.6,0.68,0.62\r\n"
                  "2,0.8,0.4,NA,NA\r\n");
  assert_int_equal(lmp_plot_csv(ctx, csv, png), LM_OK);
  FILE *f = fopen(png, "rb");
  assert_non_null(f);
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_memory_equal(buf, "\x89PNG\r\n\x1a\n", 8);
  size_t at = 8;
  uint32_t w = 0, h = 0;
  static unsigned char idat[1 << 20];
  size_t idat_len = 0;
  int chunks = 0;
  while (at + 12 <= n) {
    uint32_t len = rd32(buf + at);
    assert_true(at + 12 + len <= n);
    assert_int_equal(rd32(buf + at + 8 + len), (uint32_t)crc32(0L, buf + at + 4, len + 4));
    if (memcmp(buf + at + 4, "IHDR", 4) == 0) {
      w = rd32(buf + at + 8);
      h = rd32(buf + at + 12);
      assert_int_equal(buf[at + 16], 8);
      assert_int_equal(buf[at + 17], 2);
    } else if (memcmp(buf + at + 4, "IDAT", 4) == 0) {
      memcpy(idat + idat_len, buf + at + 8, len);
      idat_len += len;
    }
    chunks++;
    at += 12 + len;
  }
  assert_int_equal(at, n);
  assert_int_equal(chunks, 3);
  assert_int_equal(w, 720); /* two panels: loss, acc */
  assert_int_equal(h, 280);
  static unsigned char raw[720 * 3 * 280 + 280];
  uLongf raw_len = sizeof raw;
  assert_int_equal(uncompress(raw, &raw_len, idat, (uLong)idat_len), Z_OK);
  assert_int_equal(raw_len, (uLongf)(720 * 3 + 1) * 280);
  /* something other than the white background was drawn, in the curve colours */
  bool blue = false, orange = false;
  for (size_t y = 0; y < 280; y++)
    for (size_t x = 0; x < 720; x++) {
      const unsigned char *p = raw + y * (720 * 3 + 1) + 1 + x * 3;
      blue |= p[0] == 0x1F && p[1] == 0x77 && p[2] == 0xB4;
      orange |= p[0] == 0xFF && p[1] == 0x7F && p[2] == 0x0E;
    }
  assert_true(blue && orange);
  /* errors name the file and line */
  write_text(csv, "epoch;loss\n0;0.5\n1;abc\n");
  assert_int_equal(lmp_plot_csv(ctx, csv, png), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), "log.csv:3: column loss: \"abc\" is not a number"));
  write_text(csv, "loss\n0.5\n");
  assert_int_equal(lmp_plot_csv(ctx, csv, png), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), "expected \"epoch\""));
  write_text(csv, "epoch,loss\n");
  assert_int_equal(lmp_plot_csv(ctx, csv, png), LM_ERR_FORMAT);
  assert_non_null(strstr(lm_errmsg(ctx), "no data to plot"));
  unlink(csv);
  unlink(png);
  rmdir(dir);
  lm_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_png_from_csv)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
