/* Training curves as PNG [issue 6]: a tiny raster canvas with a built-in
 * 5x8 bitmap font, a PNG encoder (zlib deflate + crc32), and the plot of a
 * CSVLogger file (one panel per metric, train and val_ curves). */
#ifndef LM_PLOT_H
#define LM_PLOT_H

#include "core/core.h"

typedef struct lmp_canvas {
  lm_ctx *ctx;
  int w, h;
  uint8_t *rgb; /* w * h * 3 */
} lmp_canvas;

lm_status lmp_canvas_init(lmp_canvas *c, lm_ctx *ctx, int w, int h, uint32_t bg);
void lmp_canvas_free(lmp_canvas *c);
void lmp_pixel(lmp_canvas *c, int x, int y, uint32_t rgb);
void lmp_rect(lmp_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb); /* filled */
void lmp_line(lmp_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb, int width);
/* Text with its top-left at (x, y); scale 1 = 6 px per character. */
void lmp_text(lmp_canvas *c, int x, int y, const char *s, uint32_t rgb, int scale);
int lmp_text_width(const char *s, int scale);

/* 8-bit RGB PNG, written atomically. */
lm_status lmp_write_png(lm_ctx *ctx, const char *path, int w, int h, const uint8_t *rgb);

/* Plot a CSV of training logs (CSVLogger: epoch column + keys; separator
 * ',', ';' or tab; NA = missing) into a PNG. */
lm_status lmp_plot_csv(lm_ctx *ctx, const char *csv_path, const char *png_path);

#endif
