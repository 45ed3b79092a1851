/* `lamina plot LOG.csv -o curves.png`: one panel per metric (loss, acc, ...),
 * the training curve and its val_ twin, with axes, ticks, labels and a legend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"

#define MAX_COLS 32
#define PANEL_W 360
#define PANEL_H 280
#define BG 0xFFFFFF
#define FG 0x202020
#define GRID 0xE4E4E4
#define TRAIN_RGB 0x1F77B4
#define VAL_RGB 0xFF7F0E

typedef struct table {
  int n_cols, n_rows, cap;
  char names[MAX_COLS][96];
  double *v; /* n_rows * MAX_COLS */
} table;

static char detect_sep(const char *line) {
  for (const char *p = line; *p && *p != '\n'; p++)
    if (*p == ',' || *p == ';' || *p == '\t') return *p;
  return ',';
}

/* Split one line in place; returns the field count. */
static int split(char *line, char sep, char **out, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    out[n++] = p;
    char *q = strchr(p, sep);
    if (!q) break;
    *q = '\0';
    p = q + 1;
  }
  for (int i = 0; i < n; i++) {
    size_t len = strlen(out[i]);
    while (len && (out[i][len - 1] == '\r' || out[i][len - 1] == ' ')) out[i][--len] = '\0';
    if (len >= 2 && out[i][0] == '"' && out[i][len - 1] == '"') out[i][len - 1] = '\0', out[i]++;
  }
  return n;
}

static lm_status read_table(lm_ctx *ctx, const char *path, table *t) {
  char *text = NULL;
  size_t len = 0;
  lm_status st = lm_read_file(ctx, path, &text, &len);
  if (st) return st;
  char sep = detect_sep(text);
  int line_no = 0;
  char *save = text, *line;
  while (!st && (line = save) && *line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    save = nl ? nl + 1 : line + strlen(line);
    line_no++;
    if (!*line || (*line == '\r' && !line[1])) continue;
    char *f[MAX_COLS + 1];
    int n = split(line, sep, f, MAX_COLS + 1);
    if (t->n_cols == 0) {
      if (n > MAX_COLS) {
        st = lm_fail(ctx, LM_ERR_FORMAT, "%s: more than %d columns", path, MAX_COLS);
        break;
      }
      for (int i = 0; i < n; i++) snprintf(t->names[i], sizeof t->names[i], "%s", f[i]);
      t->n_cols = n;
      if (strcmp(t->names[0], "epoch") != 0)
        st = lm_fail(ctx, LM_ERR_FORMAT,
                     "%s:1: the first column is \"%s\", expected \"epoch\" (a CSVLogger file)",
                     path, t->names[0]);
      continue;
    }
    if (n != t->n_cols) {
      st = lm_fail(ctx, LM_ERR_FORMAT, "%s:%d: %d fields, the header has %d", path, line_no, n,
                   t->n_cols);
      break;
    }
    if (t->n_rows == t->cap) {
      int cap = t->cap ? t->cap * 2 : 64;
      double *v = lm_realloc(ctx, t->v, sizeof(double) * MAX_COLS * (size_t)cap);
      if (!v) {
        st = LM_ERR_NOMEM;
        break;
      }
      t->v = v;
      t->cap = cap;
    }
    for (int i = 0; i < n; i++) {
      char *end;
      double v = strtod(f[i], &end);
      if (strcmp(f[i], "NA") == 0 || strcmp(f[i], "") == 0)
        v = NAN;
      else if (*end) {
        st = lm_fail(ctx, LM_ERR_FORMAT, "%s:%d: column %s: \"%s\" is not a number", path, line_no,
                     t->names[i], f[i]);
        break;
      }
      t->v[(size_t)t->n_rows * MAX_COLS + (size_t)i] = v;
    }
    t->n_rows++;
  }
  lm_dealloc(ctx, text);
  if (!st && (t->n_cols < 2 || t->n_rows == 0))
    st = lm_fail(ctx, LM_ERR_FORMAT, "%s: no data to plot (need a header and at least one row)",
                 path);
  return st;
}

static double nice_step(double range, int target) {
  double raw = range / target, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void tick_label(double v, double step, char *out, size_t len) {
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (dec > 6 || fabs(v) >= 1e6)
    snprintf(out, len, "%.2g", v);
  else
    snprintf(out, len, "%.*f", dec, fabs(v) < step * 1e-6 ? 0.0 : v);
}

typedef struct panel {
  const char *name; /* the training key, e.g. "loss" */
  int train_col, val_col;
} panel;

static void draw_panel(lmp_canvas *c, const table *t, const panel *p, int ox) {
  const int left = ox + 58, right = ox + PANEL_W - 14, top = 30, bottom = PANEL_H - 42;
  double lo = INFINITY, hi = -INFINITY, e_lo = INFINITY, e_hi = -INFINITY;
  for (int r = 0; r < t->n_rows; r++) {
    double e = t->v[(size_t)r * MAX_COLS] + 1; /* epochs shown 1-based, like the progress bar */
    e_lo = fmin(e_lo, e);
    e_hi = fmax(e_hi, e);
    int cols[2] = {p->train_col, p->val_col};
    for (int k = 0; k < 2; k++) {
      if (cols[k] < 0) continue;
      double v = t->v[(size_t)r * MAX_COLS + (size_t)cols[k]];
      if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
    }
  }
  if (!isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) lo -= 0.5 * (fabs(lo) + 1e-3), hi += 0.5 * (fabs(hi) + 1e-3);
  if (e_hi - e_lo < 1) e_hi = e_lo + 1;
  double ys = nice_step(hi - lo, 5), xs = fmax(1, nice_step(e_hi - e_lo, 6));
  lo = floor(lo / ys) * ys;
  hi = ceil(hi / ys) * ys;
#define PX(e) (left + (int)lround(((e)-e_lo) / (e_hi - e_lo) * (right - left)))
#define PY(v) (bottom - (int)lround(((v)-lo) / (hi - lo) * (bottom - top)))
  char s[64];
  for (double v = lo; v <= hi + ys * 1e-6; v += ys) { /* y grid and ticks */
    int y = PY(v);
    lmp_line(c, left, y, right, y, GRID, 1);
    lmp_line(c, left - 4, y, left, y, FG, 1);
    tick_label(v, ys, s, sizeof s);
    lmp_text(c, left - 7 - lmp_text_width(s, 1), y - 4, s, FG, 1);
  }
  for (double e = ceil(e_lo / xs) * xs; e <= e_hi + 1e-9; e += xs) { /* x grid and ticks */
    int x = PX(e);
    lmp_line(c, x, top, x, bottom, GRID, 1);
    lmp_line(c, x, bottom, x, bottom + 4, FG, 1);
    snprintf(s, sizeof s, "%.0f", e);
    lmp_text(c, x - lmp_text_width(s, 1) / 2, bottom + 8, s, FG, 1);
  }
  lmp_line(c, left, top, left, bottom, FG, 1); /* axes box */
  lmp_line(c, left, bottom, right, bottom, FG, 1);
  lmp_line(c, left, top, right, top, FG, 1);
  lmp_line(c, right, top, right, bottom, FG, 1);
  lmp_text(c, (left + right - lmp_text_width("epoch", 1)) / 2, bottom + 22, "epoch", FG, 1);
  lmp_text(c, (left + right - lmp_text_width(p->name, 2)) / 2, 8, p->name, FG, 2);
  int cols[2] = {p->train_col, p->val_col};
  uint32_t colors[2] = {TRAIN_RGB, VAL_RGB};
  for (int k = 0; k < 2; k++) { /* curves; NA breaks the line */
    if (cols[k] < 0) continue;
    int px = 0, py = 0;
    bool have = false;
    for (int r = 0; r < t->n_rows; r++) {
      double v = t->v[(size_t)r * MAX_COLS + (size_t)cols[k]];
      if (!isfinite(v)) {
        have = false;
        continue;
      }
      int x = PX(t->v[(size_t)r * MAX_COLS] + 1), y = PY(v);
      if (have) lmp_line(c, px, py, x, y, colors[k], 2);
      if (t->n_rows <= 40) lmp_rect(c, x - 2, y - 2, x + 2, y + 2, colors[k]);
      px = x, py = y, have = true;
    }
  }
  /* legend, top right */
  int lw = 0;
  for (int k = 0; k < 2; k++)
    if (cols[k] >= 0)
      lw = lw > lmp_text_width(t->names[cols[k]], 1) ? lw : lmp_text_width(t->names[cols[k]], 1);
  int n_items = (cols[0] >= 0) + (cols[1] >= 0), bx1 = right - 6, bx0 = bx1 - lw - 34,
      by0 = top + 6;
  lmp_rect(c, bx0, by0, bx1, by0 + 6 + 14 * n_items, BG);
  lmp_line(c, bx0, by0, bx1, by0, 0xA0A0A0, 1);
  lmp_line(c, bx0, by0 + 6 + 14 * n_items, bx1, by0 + 6 + 14 * n_items, 0xA0A0A0, 1);
  lmp_line(c, bx0, by0, bx0, by0 + 6 + 14 * n_items, 0xA0A0A0, 1);
  lmp_line(c, bx1, by0, bx1, by0 + 6 + 14 * n_items, 0xA0A0A0, 1);
  int item = 0;
  for (int k = 0; k < 2; k++) {
    if (cols[k] < 0) continue;
    int y = by0 + 7 + 14 * item++;
    lmp_line(c, bx0 + 5, y + 4, bx0 + 23, y + 4, colors[k], 2);
    lmp_text(c, bx0 + 28, y, t->names[cols[k]], FG, 1);
  }
#undef PX
#undef PY
}

lm_status lmp_plot_csv(lm_ctx *ctx, const char *csv_path, const char *png_path) {
  if (!ctx) return LM_ERR_ARG;
  if (!csv_path || !png_path)
    return lm_fail(ctx, LM_ERR_ARG, "plot: a CSV path and a PNG path are needed");
  table t;
  memset(&t, 0, sizeof t);
  lm_status st = read_table(ctx, csv_path, &t);
  panel panels[MAX_COLS];
  int n_panels = 0;
  for (int i = 1; !st && i < t.n_cols; i++) {
    const char *name = t.names[i];
    bool is_val = strncmp(name, "val_", 4) == 0;
    const char *base = is_val ? name + 4 : name;
    int k = 0;
    while (k < n_panels && strcmp(panels[k].name, base) != 0) k++;
    if (k == n_panels) panels[n_panels++] = (panel){base, -1, -1};
    if (is_val)
      panels[k].val_col = i;
    else
      panels[k].train_col = i, panels[k].name = name;
  }
  /* loss first, then the rest in column order */
  for (int k = 1; k < n_panels; k++)
    if (strcmp(panels[k].name, "loss") == 0) {
      panel p = panels[k];
      memmove(panels + 1, panels, sizeof *panels * (size_t)k);
      panels[0] = p;
    }
  if (n_panels > 6) n_panels = 6;
  lmp_canvas c = {0};
  if (!st)
    st = lmp_canvas_init(&c, ctx, PANEL_W * (n_panels < 3 ? n_panels : 3),
                         PANEL_H * ((n_panels + 2) / 3), BG);
  for (int k = 0; !st && k < n_panels; k++) {
    lmp_canvas sub = c; /* panels in a grid of 3 per row: draw through an offset view */
    int row = k / 3;
    sub.rgb = c.rgb + (size_t)row * PANEL_H * (size_t)c.w * 3;
    sub.h = PANEL_H;
    draw_panel(&sub, &t, &panels[k], (k % 3) * PANEL_W);
  }
  if (!st) st = lmp_write_png(ctx, png_path, c.w, c.h, c.rgb);
  lmp_canvas_free(&c);
  lm_dealloc(ctx, t.v);
  return st;
}
